#!/bin/bash
# SIGTERM with an iSCSI session open: xcopyd logs the session out, stops
# its nbdkit and exits 0 within a few seconds; no nbdkit is left behind
# and the runtime sockets are gone.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/xcopyd-functions.sh"
requires qemu-io

make_images 8
xcopyd_config "$TMP/xcopyd.conf"
start_xcopyd "$TMP/xcopyd.conf"
child=$(nbdkit_children)
[[ -n $child ]] || fail "no nbdkit child"

# A session held open by qemu-io reading commands from a FIFO.
mkfifo "$TMP/fifo"
qemu-io -f raw "$(iscsi_uri 0)" <"$TMP/fifo" >"$TMP/qio.log" 2>&1 &
qio_pid=$!
exec 3>"$TMP/fifo"
on_exit "exec 3>&-; stop_pid $qio_pid"
echo "read 0 4096" >&3
wait_for 30 grep -q "read 4096/4096" "$TMP/qio.log" || { cat "$TMP/qio.log"; fail "qemu-io session"; }
wait_for 10 bash -c "xcopyctl --daemon '$TMP/xcopyd.sock' sessions | grep -q 'target=$IQN'" ||
  fail "session not listed"

start=$SECONDS
kill -TERM "$XCOPYD_PID"
rc=0
for i in $(seq 150); do kill -0 "$XCOPYD_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$XCOPYD_PID" 2>/dev/null && fail "xcopyd still running after 15 s"
wait "$XCOPYD_PID" || rc=$?
echo "xcopyd exited $rc after $(( SECONDS - start )) s"
cat "$TMP/xcopyd.log" | tail -5
(( rc == 0 )) || fail "exit status $rc"
kill -0 "$child" 2>/dev/null && fail "nbdkit $child left behind"
[[ ! -e $TMP/xcopyd.sock && ! -e $TMP/run/images.nbd && ! -e $TMP/run/images.ctl ]] ||
  fail "sockets left behind: $(ls "$TMP" "$TMP/run")"
log_has "signal received; shutting down"
log_has "stopped"
echo OK
