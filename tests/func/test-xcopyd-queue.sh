#!/bin/bash
# READ and WRITE under a deep queue (the asynchronous NBD path):
# qemu-img keeps 32 commands in flight.  A pattern written at QD32 reads
# back exactly on the host; a parallel read of a random image matches
# it.  nbdkit is killed while a queue is in flight: every command still
# ends (qemu-img exits, nothing hangs), xcopyd restarts nbdkit, and the
# queue works and matches again.  SIGTERM with a queue in flight ends
# xcopyd cleanly.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/xcopyd-functions.sh"
requires qemu-img
qemu-img --help | grep -qw iscsi || skip "qemu-img has no iSCSI driver (qemu-block-extra)"

MIB=16
make_images $MIB
xcopyd_config "$TMP/xcopyd.conf"
start_xcopyd "$TMP/xcopyd.conf"

# bench_write BYTE: 4 KiB writes of BYTE at QD32 across LUN 1.
bench_write () {
  qemu-img bench -f raw -w -c $(( MIB * 256 )) -d 32 -s 4096 -S 4096 \
    --pattern="$1" "$(iscsi_uri 1)"
}
# bench_bg BYTE LOG: a million such writes in the background; $bench is
# qemu-img itself, so killing it leaves nothing behind.
bench_bg () {
  qemu-img bench -f raw -w -c 1000000 -d 32 -s 4096 -S 4096 \
    --pattern="$1" "$(iscsi_uri 1)" >"$2" 2>&1 &
  bench=$!
  on_exit "kill -9 $bench 2>/dev/null"
}
# model BYTE: $TMP/model, the whole image of BYTE.
model () { head -c "${MIB}M" /dev/zero | tr '\0' "\\$(printf '%03o' "$1")" >"$TMP/model"; }

bench_write 0x5a || fail "QD32 writes failed"
model 0x5a
cmp "$TMP/model" "$TMP/img/disk1.img" || fail "QD32 writes: image differs"
qemu-img convert -m 16 -W -f raw -O raw "$(iscsi_uri 0)" "$TMP/back" ||
  fail "parallel read failed"
cmp "$TMP/img/disk0.img" "$TMP/back" || fail "parallel read differs"

# nbdkit dies under the queue: every command must end.
child=$(nbdkit_children)
bench_bg 0x33 "$TMP/bench.log"
sleep 1
kill -0 "$bench" 2>/dev/null || { cat "$TMP/bench.log"; fail "load ended before the kill"; }
kill -9 "$child"
wait_for 120 bash -c "! kill -0 $bench 2>/dev/null" ||
  fail "commands in flight when nbdkit died never ended"
rc=0; wait "$bench" || rc=$?
cat "$TMP/bench.log"
(( rc != 0 )) || fail "a million writes finished across a killed nbdkit"
wait_for 30 grep -q "backend images: up again after restart 1" "$TMP/xcopyd.log" ||
  { cat "$TMP/xcopyd.log"; fail "nbdkit not restarted"; }
bench_write 0x77 || fail "QD32 writes failed after the restart"
model 0x77
cmp "$TMP/model" "$TMP/img/disk1.img" || fail "after the restart: image differs"

# SIGTERM with a queue in flight.
bench_bg 0x11 /dev/null
sleep 1
kill -TERM "$XCOPYD_PID"
wait_for 30 bash -c "! kill -0 $XCOPYD_PID 2>/dev/null" ||
  fail "xcopyd did not stop on SIGTERM with a queue in flight"
rc=0; wait "$XCOPYD_PID" || rc=$?
(( rc == 0 )) || { cat "$TMP/xcopyd.log"; fail "xcopyd exit $rc on SIGTERM"; }
# qemu's iSCSI driver keeps trying to reconnect: stop it.
kill -9 "$bench" 2>/dev/null || true
echo OK
