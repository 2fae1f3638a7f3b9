#!/bin/bash
# Keepalive: an idle connection gets a NOP-In ping (ITT 0xffffffff, a
# tag of the target's, StatSN not advanced); answering it keeps the
# connection, any other PDU counts as an answer too, and a ping left
# unanswered closes the connection after nop-timeout.  libiscsi answers
# pings by itself, so an idle iscsi-test session survives several of
# them.  The server serves on afterwards.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/iscsi-functions.sh"
requires_libiscsi
requires qemu-io
iscsi_py

truncate -s 8M "$TMP/lun0.img"
printf 'keepalive' | dd of="$TMP/lun0.img" conv=notrunc status=none
start_iscsi --portal 127.0.0.1:0 --iqn "$IQN" --lun 0="$TMP/lun0.img" \
  --nop-interval 1 --nop-timeout 2

timeout 120 python3 - "$ISCSI_PORT" "$IQN" "$INI" <<'PY'
import sys, time, socket
from iscsi_raw import *
port, iqn, ini = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def ping(c, wait=10):
    """The next PDU must be a target ping; returns (ttt, statsn)."""
    c.s.settimeout(wait)
    bhs, data = c.recv()
    assert bhs[0] == 0x20, f'opcode {bhs[0]:#x}, want NOP-In'
    assert bhs[16:20] == b'\xff\xff\xff\xff', 'ping ITT is not reserved'
    ttt = bhs[20:24]
    assert ttt != b'\xff\xff\xff\xff', 'ping wants no answer'
    return ttt, int.from_bytes(bhs[24:28], 'big')

def answer(c, ttt):
    bhs = bytearray(48)
    bhs[0] = 0x40                       # immediate NOP-Out
    bhs[1] = 0x80
    bhs[16:20] = b'\xff\xff\xff\xff'
    bhs[20:24] = ttt
    bhs[24:28] = c.cmdsn.to_bytes(4, 'big')
    c.send(bhs)

c = Conn(port)
login(c, ini, iqn)
t0 = time.monotonic()
ttt1, sn1 = ping(c)
assert time.monotonic() - t0 >= 0.5, 'pinged before the interval'
assert sn1 == c.statsn + 1, f'ping StatSN {sn1}, want {c.statsn + 1}'
answer(c, ttt1)
ttt2, sn2 = ping(c)
assert ttt2 != ttt1, 'the same tag twice'
assert sn2 == sn1, 'a ping advanced StatSN'
answer(c, ttt2)
# A command instead of an answer also shows the initiator alive.
ttt3, _ = ping(c)
st, data = scsi_read(c, bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]), 512)
assert st == 0 and data[:9] == b'keepalive', (st, data[:9])
# Unanswered: the connection closes within nop-timeout (2 s) plus slack.
ttt4, _ = ping(c)
t0 = time.monotonic()
c.s.settimeout(15)
try:
    while c.s.recv(4096):
        pass
    closed = True
except (ConnectionResetError, EOFError):
    closed = True
except socket.timeout:
    closed = False
assert closed, 'still open after an unanswered ping'
assert time.monotonic() - t0 < 10, 'closed too late'
print('raw keepalive OK')
PY
[[ $? == 0 ]] || fail "raw keepalive"

# QEMU (libiscsi) answers pings: a session idle for several intervals
# still reads.
out=$(timeout 60 qemu-io -f raw -c 'read -P 0x6b 0 1' -c 'sleep 5000' \
        -c 'read -P 0x6b 0 1' "iscsi://127.0.0.1:$ISCSI_PORT/$IQN/0" 2>&1) ||
  fail "qemu-io: $out"
echo "$out"
[[ $(grep -c '^read 1/1 bytes at offset 0' <<<"$out") == 2 ]] || fail "reads across pings: $out"
grep -qi 'fail\|error' <<<"$out" && fail "qemu-io: $out"
# Only the raw client's connection was closed by the keepalive.
n=$(cat "$TMP"/serve.*.err | grep -c 'no answer to a NOP-In ping')
(( n == 1 )) || { cat "$TMP"/serve.*.err; fail "keepalive closed $n connections, want 1"; }
out=$(iscsi-inq "iscsi://127.0.0.1:$ISCSI_PORT/$IQN/0") || fail "server gone: $out"
echo OK
