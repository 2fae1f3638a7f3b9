#!/bin/bash
# The management socket: xcopyctl --daemon lists targets with their LUNs,
# sessions (one open by qemu-io) and stats; the socket is 0600 and
# another uid is refused, by the file mode and by SO_PEERCRED.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/xcopyd-functions.sh"
requires qemu-io
requires jq

make_images 8
xcopyd_config "$TMP/xcopyd.conf" "lun.1.serial = my-serial-1"
start_xcopyd "$TMP/xcopyd.conf"
S=$TMP/xcopyd.sock
ctl () { xcopyctl --daemon "$S" "$@"; }

out=$(ctl targets)
echo "$out"
grep -qx "target $IQN" <<<"$out" || fail "targets: no $IQN"
grep -qE "^  lun 0: images/disk0.img size=8M block_size=512 serial=XD[0-9a-f]{24} state=up$" <<<"$out" ||
  fail "targets: LUN 0"
grep -qE "^  lun 1: images/disk1.img size=8M block_size=512 serial=my-serial-1 state=up$" <<<"$out" ||
  fail "targets: LUN 1"
[[ $(ctl --json targets | jq -r '.command, .status, (.targets[0].luns | length), .targets[0].luns[1].size') == \
   $'targets\nok\n2\n8388608' ]] || fail "targets --json"

# XCOPYD_SOCKET is the default for --daemon.
XCOPYD_SOCKET=$S xcopyctl sessions | grep -qx "no sessions" || fail "sessions (none)"

mkfifo "$TMP/fifo"
qemu-io -f raw "$(iscsi_uri 0)" <"$TMP/fifo" >"$TMP/qio.log" 2>&1 &
qio_pid=$!
exec 3>"$TMP/fifo"
on_exit "exec 3>&-; stop_pid $qio_pid"
echo "read 0 65536" >&3
wait_for 30 grep -q "read 65536/65536" "$TMP/qio.log" || { cat "$TMP/qio.log"; fail "qemu-io"; }
out=$(ctl sessions)
echo "$out"
grep -qE "^session tsih=[0-9]+ initiator=.+ isid=[0-9a-f]{12} target=$IQN connections=1 commands=[1-9]" <<<"$out" ||
  fail "sessions: the qemu-io session"
(( $(ctl --json sessions | jq '.sessions[0].bytes_in + .sessions[0].bytes_out') >= 65536 )) ||
  fail "sessions: bytes"

out=$(ctl stats)
echo "$out"
grep -qE "^iscsi: logins=[1-9]" <<<"$out" || fail "stats: logins"
grep -qE "^backend images: supervised up restarts=0 pid=[1-9]" <<<"$out" || fail "stats: backend"
grep -qE "^  counter [a-z_]+: bytes=" <<<"$out" || fail "stats: plugin counters"
echo "quit" >&3

# Errors: unknown command from a raw client, no daemon.
rc=0; out=$(xcopyctl --daemon "$TMP/none.sock" stats 2>&1) || rc=$?
echo "[$rc] $out"; (( rc == 3 )) || fail "no daemon: exit $rc"
if command -v python3 >/dev/null; then
out=$(python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"{\"cmd\":\"frob\"}\nnot json\n")
f = s.makefile()
print(f.readline().strip()); print(f.readline().strip())' "$S")
echo "$out"
grep -q '"ok":false,"error":"cmd: unknown command '"'"'frob'"'"'' <<<"$out" || fail "unknown cmd"
grep -q '"error":"request is not JSON' <<<"$out" || fail "not JSON"
# A line with no end is refused once it passes the limit, without the
# daemon buffering it; the connection ends and others are still served.
out=$(python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
try:
    s.sendall(b"x" * (8 << 20))
except OSError:
    pass
print(s.makefile().readline().strip())' "$S")
echo "$out"
grep -q '"ok":false,"error":"request line longer than 4096 bytes"' <<<"$out" ||
  fail "over-long line"
ctl targets >/dev/null || fail "not served after an over-long line"
fi

# Access: 0600 and owned by us; another uid cannot connect, and with the
# file mode opened up, the credential check refuses it.
[[ $(stat -c '%a %u' "$S") == "600 0" ]] || fail "socket mode: $(stat -c '%a %u' "$S")"
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null &&
   setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
  chmod 755 "$TMP"
  nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  rc=0; out=$("${nobody[@]}" "$TOP/$BUILD/xcopyctl" --daemon "$S" stats 2>&1) || rc=$?
  echo "[$rc] $out"; (( rc == 3 )) || fail "uid 65534 connected to a 0600 socket"
  chmod 666 "$S"
  rc=0; out=$("${nobody[@]}" "$TOP/$BUILD/xcopyctl" --daemon "$S" stats 2>&1) || rc=$?
  echo "[$rc] $out"; (( rc == 1 )) && grep -q "permission denied" <<<"$out" ||
    fail "uid 65534 not refused by credentials"
  log_has "management socket: refused pid [0-9]+ uid 65534"
fi
echo OK
