#!/bin/bash
# Supervision: kill -9 the nbdkit that xcopyd started.  xcopyd logs it,
# restarts nbdkit, and a new iSCSI session reads the image intact; the
# daemon's stats count the restart.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/xcopyd-functions.sh"
requires qemu-img
requires jq
qemu-img --help | grep -qw iscsi || skip "qemu-img has no iSCSI driver (qemu-block-extra)"

make_images 8
xcopyd_config "$TMP/xcopyd.conf"
start_xcopyd "$TMP/xcopyd.conf"
ctl () { xcopyctl --daemon "$TMP/xcopyd.sock" "$@"; }

child=$(nbdkit_children)
[[ -n $child ]] || fail "no nbdkit child"
echo "nbdkit pid $child"
kill -9 "$child"
wait_for 30 grep -q "backend images: up again after restart 1" "$TMP/xcopyd.log" ||
  { cat "$TMP/xcopyd.log"; fail "nbdkit not restarted"; }
log_has "backend images: down: nbdkit \(pid $child\) was killed by signal 9"
new=$(nbdkit_children)
[[ -n $new && $new != "$child" ]] || fail "no new nbdkit (was $child, now '$new')"

ctl stats
[[ $(ctl --json stats | jq -r '.backends[0].state, .backends[0].restarts' | xargs) == "up 1" ]] ||
  fail "stats do not show the restart"
qemu-img convert -f raw -O raw "$(iscsi_uri 0)" "$TMP/back"
cmp "$TMP/img/disk0.img" "$TMP/back" || fail "bytes differ after the restart"

# Again while a write is on its way: the backend comes back once more.
kill -9 "$new"
wait_for 30 grep -q "up again after restart 2" "$TMP/xcopyd.log" || fail "second restart"
qemu-img convert -f raw -O raw "$(iscsi_uri 0)" "$TMP/back"
cmp "$TMP/img/disk0.img" "$TMP/back" || fail "bytes differ after the second restart"
echo OK
