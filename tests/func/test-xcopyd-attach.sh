#!/bin/bash
# Attach mode: xcopyd serves the exports of an nbdkit xcopy it did not
# start.  While that nbdkit is stopped (SIGSTOP: its sockets accept but
# never answer), probing it must not stall xcopyd's main loop: SIGTERM
# still ends it at once.  Once nbdkit runs again xcopyd comes up, a copy
# offload through it matches, and stopping xcopyd leaves the sockets of
# the nbdkit it does not own in place.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/xcopyd-functions.sh"
requires qemu-img
qemu-img --help | grep -qw iscsi || skip "qemu-img has no iSCSI driver (qemu-block-extra)"

make_images 8
start_nbdkit "$TMP/nbd.sock" "$TMP/nbdkit.pid" dir="$TMP/img" control="$TMP/ctl.sock"
nbdkit_pid=$(cat "$TMP/nbdkit.pid")
on_exit "kill -CONT $nbdkit_pid 2>/dev/null"
cat >"$TMP/xcopyd.conf" <<CONF
[daemon]
management-socket = $TMP/xcopyd.sock
runtime-dir = $TMP/run
log-level = debug

[iscsi]
portal = 127.0.0.1:0

[backend:ext]
nbd-socket = $TMP/nbd.sock
control-socket = $TMP/ctl.sock

[target:$IQN]
lun.0 = ext/disk0.img
lun.1 = ext/disk1.img
CONF

# A wedged server: xcopyd keeps probing it, and still obeys SIGTERM.
kill -STOP "$nbdkit_pid"
"$XCOPYD" --config "$TMP/xcopyd.conf" --port-file "$TMP/port" >"$TMP/xcopyd.log" 2>&1 &
pid=$!
on_exit "stop_pid $pid"
sleep 3
kill -0 "$pid" 2>/dev/null || { cat "$TMP/xcopyd.log"; fail "xcopyd exited early"; }
[[ ! -s $TMP/port ]] || fail "xcopyd up while its backend is stopped"
kill -TERM "$pid"
wait_for 20 bash -c "! kill -0 $pid 2>/dev/null" ||
  { cat "$TMP/xcopyd.log"; fail "xcopyd ignores SIGTERM while probing a stopped nbdkit"; }
rc=0; wait "$pid" || rc=$?
cat "$TMP/xcopyd.log"
(( rc == 0 )) || fail "xcopyd stopped by SIGTERM: exit $rc"

kill -CONT "$nbdkit_pid"
start_xcopyd "$TMP/xcopyd.conf"
log_has "backend ext: attached to $TMP/nbd.sock and $TMP/ctl.sock"
qemu-img convert -C -n -f raw -O raw "$(iscsi_uri 0)" "$(iscsi_uri 1)" ||
  fail "qemu-img convert -C failed"
cmp "$TMP/img/disk0.img" "$TMP/img/disk1.img" || fail "copy differs"
stop_pid "$XCOPYD_PID"
[[ -S $TMP/nbd.sock && -S $TMP/ctl.sock ]] || fail "xcopyd removed sockets it does not own"
kill -0 "$nbdkit_pid" || fail "xcopyd stopped an nbdkit it does not own"
echo OK
