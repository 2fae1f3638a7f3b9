#!/bin/bash
# Service manager notices: with $NOTIFY_SOCKET (a path, and an abstract
# @name), xcopyd sends READY=1 once its portals serve - an iSCSI login
# works at that moment - and STOPPING=1 on SIGTERM.  The unit file that
# `make install` writes uses Type=notify.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/xcopyd-functions.sh"
requires python3
requires iscsi-inq

make_images 8
xcopyd_config "$TMP/xcopyd.conf"
_san_env pre                    # nbdkit's sanitizer runtime, if any

# listen SOCKET: print each datagram on SOCKET as one line (\n as |),
# until STOPPING=1 came; $TMP/listening appears once bound.
listen () {
  python3 -u - "$1" "$TMP/listening" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
addr = sys.argv[1]
s.bind('\0' + addr[1:] if addr[0] == '@' else addr)
open(sys.argv[2], 'w').close()
s.settimeout(90)
while True:
    m = s.recv(4096).decode()
    print(m.replace('\n', '|'), flush=True)
    if 'STOPPING=1' in m:
        break
PY
}

for sock in "$TMP/notify.sock" "@xcopyd-test-$$-$RANDOM"; do
  rm -f "$TMP/listening" "$TMP/notices"
  listen "$sock" >"$TMP/notices" &
  lpid=$!
  on_exit "kill $lpid 2>/dev/null"
  wait_for 20 test -e "$TMP/listening" || fail "listener did not start"
  NOTIFY_SOCKET=$sock "${pre[@]}" "$XCOPYD" --config "$TMP/xcopyd.conf" --port-file "$TMP/port" \
    >"$TMP/xcopyd.log" 2>&1 &
  pid=$!
  on_exit "stop_pid $pid"
  wait_for 60 grep -q READY=1 "$TMP/notices" ||
    { cat "$TMP/xcopyd.log"; fail "$sock: no READY=1"; }
  grep -q '^READY=1|STATUS=serving 1 target, 1 backend$' "$TMP/notices" ||
    fail "$sock: notice: $(cat "$TMP/notices")"
  port=$(awk 'NR == 1 { print $2 }' "$TMP/port")
  iscsi-inq "iscsi://127.0.0.1:$port/$IQN/0" | grep -q XCOPYD ||
    fail "$sock: not serving after READY=1"
  kill -TERM "$pid"
  rc=0; wait "$pid" || rc=$?
  (( rc == 0 )) || { cat "$TMP/xcopyd.log"; fail "$sock: exit $rc"; }
  wait "$lpid" || fail "$sock: no STOPPING=1: $(cat "$TMP/notices")"
  cat "$TMP/notices"
  rm -f "$TMP/port"
done

# Not a usable address: a warning, and xcopyd serves on.
NOTIFY_SOCKET=relative/path "${pre[@]}" "$XCOPYD" --config "$TMP/xcopyd.conf" --port-file "$TMP/port" \
  >"$TMP/xcopyd.log" 2>&1 &
pid=$!
on_exit "stop_pid $pid"
wait_for 60 test -s "$TMP/port" || { cat "$TMP/xcopyd.log"; fail "did not start"; }
# The port file is written before the notice is tried: wait for it.
wait_for 30 grep -q "NOTIFY_SOCKET 'relative/path': not an absolute path or @name" "$TMP/xcopyd.log" ||
  { cat "$TMP/xcopyd.log"; fail "no warning for a bad NOTIFY_SOCKET"; }
kill -TERM "$pid"; wait "$pid" || fail "exit after a bad NOTIFY_SOCKET"

# -o all: install what is built, never rebuild it (a sanitizer build stays one).
make -s -o all -C "$TOP" BUILD="$BUILD" install DESTDIR="$TMP/inst" PREFIX=/opt/x >/dev/null ||
  fail "make install"
unit=$TMP/inst/opt/x/lib/systemd/system/xcopyd.service
grep -qx 'Type=notify' "$unit" || fail "unit: no Type=notify"
grep -qx 'ExecStart=/opt/x/bin/xcopyd --config /etc/xcopyd/xcopyd.conf' "$unit" ||
  fail "unit: $(grep ExecStart "$unit")"
echo OK
