#!/bin/bash
# Copy offload through xcopyd: qemu-img convert -C between two LUNs of one
# target sends EXTENDED COPY; xcopyd turns it into a COPY on the plugin's
# control socket, so the plugin's engine counters grow by copy_file_range
# (or reflink) bytes, never by bounce bytes, and the bytes match.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/xcopyd-functions.sh"
requires qemu-img
requires jq
qemu-img --help | grep -qw iscsi || skip "qemu-img has no iSCSI driver (qemu-block-extra)"

make_images 32
xcopyd_config "$TMP/xcopyd.conf"
start_xcopyd "$TMP/xcopyd.conf"
ctl () { xcopyctl --daemon "$TMP/xcopyd.sock" "$@"; }

# bytes METHOD: the plugin's counter, from the daemon's stats.
bytes () {
  ctl --json stats | jq -e ".backends[0].counters[\"$1\"].bytes // 0"
}
before_cfr=$(( $(bytes copy_file_range) + $(bytes reflink) ))
before_bounce=$(bytes bounce)

qemu-img convert -C -n -f raw -O raw "$(iscsi_uri 0)" "$(iscsi_uri 1)" ||
  fail "qemu-img convert -C failed"
cmp "$TMP/img/disk0.img" "$TMP/img/disk1.img" || fail "copy differs"

after_cfr=$(( $(bytes copy_file_range) + $(bytes reflink) ))
after_bounce=$(bytes bounce)
ctl stats
echo "offloaded bytes: $before_cfr -> $after_cfr; bounce: $before_bounce -> $after_bounce"
(( after_cfr - before_cfr >= 32 * 1048576 )) || fail "the copy was not offloaded"
(( after_bounce == before_bounce )) || fail "bytes were bounced"
echo OK
