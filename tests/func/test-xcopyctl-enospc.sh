#!/bin/bash
# xcopyctl and the real server on a full file system: a copy that runs
# out of space mid-way exits 4 ("partial") and reports exactly how far it
# got — the bytes it says are done are in the destination, read through
# NBD, and nothing after them was written.  The same as a job (--wait).
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/xcopyctl-functions.sh"
requires nbdkit
requires nbdcopy
run_nbdkit --help 2>&1 | grep -q '^control=' ||
  skip "the plugin has no control= socket yet"

M=$(( 1 << 20 ))
fs=$TMP/fs
mount_tmpfs "$fs" 12M
dd if=/dev/urandom of="$fs/a.img" bs=1M count=8 status=none
truncate -s 16M "$fs/b.img" "$fs/c.img"
cp "$fs/a.img" "$TMP/a.model"

start_nbdkit "$TMP/nbd.sock" "$TMP/pid" dir="$fs" control="$TMP/ctl.sock"
for i in $(seq 50); do [[ -S $TMP/ctl.sock ]] && break; sleep 0.1; done
export XCOPY_SOCKET=$TMP/ctl.sock

# check_partial EXPORT: the last JSON outcome against the export's data.
# The ranges were 0:0:4M and 4M:8M:4M, so bytes_done of the batch map to
# [0, min(done, 4M)) and [8M, 8M + done - 4M).
check_partial () {
  local done first second
  jq_is '"\(.status) \(.error.name) \(.result.error)"' "partial ENOSPC ENOSPC"
  jq_is '.result.failed_index == .result.ranges_done' true
  done=$(jq -r .result.bytes_done "$TMP/out")
  (( done > 0 && done < 8 * M )) || fail "bytes_done $done"
  first=$(( done < 4 * M ? done : 4 * M ))
  second=$(( done - first ))
  rm -f "$TMP/got" "$TMP/want"
  truncate -s 16M "$TMP/want"
  dd if="$TMP/a.model" of="$TMP/want" bs=1M count="$first" \
     iflag=count_bytes conv=notrunc status=none
  dd if="$TMP/a.model" of="$TMP/want" bs=1M skip=$(( 4 * M )) \
     seek=$(( 8 * M )) count="$second" \
     iflag=skip_bytes,count_bytes oflag=seek_bytes conv=notrunc status=none
  nbdcopy "$(nbd_uri "$TMP/nbd.sock" "$1")" "$TMP/got"
  cmp "$TMP/got" "$TMP/want" || fail "$1 is not exactly what was reported"
  echo "$1: $done bytes done, as reported"
}

# 4 MiB of tmpfs are free: 8 MiB of copies cannot all fit.
run_ctl 4 --json copy a.img 0:0:4M 4M:8M:4M --to b.img
check_partial b.img
err_has "(ENOSPC)"
err_has "xcopyctl: copy: progress: "

# Make room again, then the same as a job.
run_ctl 0 unmap b.img 0:16M
run_ctl 4 --json copy --wait a.img 0:0:4M 4M:8M:4M --to c.img
jq_is '.job.bytes_total' $(( 8 * M ))
check_partial c.img
echo OK
