#!/bin/bash
# iSCSI protocol edges with a raw client: login statuses for malformed
# requests and bad keys, Reject PDUs, NOP ping, CRC32C header and data
# digests (good and corrupted), SendTargets, Logout, several sessions at
# once, and a server that keeps serving after all of it.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/iscsi-functions.sh"
requires_libiscsi
iscsi_py

truncate -s 8M "$TMP/lun0.img"
printf 'hello iscsi' | dd of="$TMP/lun0.img" conv=notrunc status=none
start_iscsi --portal 127.0.0.1:0 --iqn "$IQN" --lun 0="$TMP/lun0.img"

timeout 120 python3 - "$ISCSI_PORT" "$IQN" "$INI" <<'PY'
import sys, struct
from iscsi_raw import *
port, iqn, ini = int(sys.argv[1]), sys.argv[2], sys.argv[3]
names = [('InitiatorName', ini), ('SessionType', 'Normal'), ('TargetName', iqn)]

def refused(flags, pairs, want, **kw):
    c = Conn(port)
    st, fl, k, _ = login_once(c, flags, pairs, **kw)
    assert st == want, f'{pairs}: status {st:#06x}, want {want:#06x}'
    assert fl & 0x80 == 0 and not k, 'a refusal transits or carries keys'
    assert c.closed(), 'connection still open after a refused login'

refused(0x81, names + [('InitiatorName', 'x')], 0x0200)       # duplicate key
refused(0x81, [('TargetName', iqn), ('AuthMethod', 'None')], 0x0207)
refused(0x81, [('InitiatorName', ini), ('TargetName', 'iqn.2024-01.test:none')], 0x0203)
refused(0x81, names + [('AuthMethod', 'KRB5')], 0x0201)
refused(0x81, names, 0x0205, vmin=3)                            # version
refused(0x81, names, 0x020a, tsih=7)                            # no such session
refused(0xc1, names, 0x0200)                                    # T and C
refused(0x8d, names, 0x0200)                                    # CSG 3
# Bad values get Reject / NotUnderstood, the login goes on.
c = Conn(port)
st, fl, k, _ = login_once(c, 0x81, names + [('AuthMethod', 'None')])
assert st == 0 and fl == 0x81
st, fl, k, _ = login_once(c, 0x87, [('MaxBurstLength', 'lots'), ('HeaderDigest', 'MD5'),
                                   ('X-example.key', '1'), ('ErrorRecoveryLevel', '2')])
assert st == 0 and fl == 0x87, (st, fl)
assert k['MaxBurstLength'] == 'Reject' and k['HeaderDigest'] == 'Reject', k
assert k['X-example.key'] == 'NotUnderstood' and k['ErrorRecoveryLevel'] == '0', k
assert int(k['MaxRecvDataSegmentLength']) >= 512, k
# Full feature phase: an unknown opcode earns a Reject with our header.
bad = bytearray(48); bad[0] = 0x1c; bad[1] = 0x80; bad[16:20] = b'\0\0\0\x09'
c.send(bad)
r, d = c.recv()
assert r[0] == 0x3f and r[2] == 0x05 and d == bytes(bad), (r[:4], d)
# NOP-Out ping: the NOP-In echoes ITT and data.
nop(c, b'ping data 123', itt=0x55)
r, d = c.recv()
assert r[0] == 0x20 and r[16:20] == b'\0\0\0\x55' and d == b'ping data 123'
# READ(10) of block 0 with phase-collapsed status.
st, data = scsi_read(c, bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]), 512)
assert st == 0 and data[:11] == b'hello iscsi', (st, data[:16])
# Residual underflow: EDTL bigger than the command wants.
st, data = scsi_read(c, bytes([0x12, 0, 0, 0, 36, 0]), 100)
assert st == 0 and len(data) == 36
# Logout closes the session.
lo = bytearray(48); lo[0] = 0x46; lo[1] = 0x80; lo[16:20] = b'\0\0\0\x77'
lo[24:28] = c.cmdsn.to_bytes(4, 'big')
c.send(lo)
r, d = c.recv()
assert r[0] == 0x26 and r[2] == 0 and r[16:20] == b'\0\0\0\x77', r[:4]
assert c.closed()

# Digests on both directions.
c = Conn(port)
k = login(c, ini, iqn, [('HeaderDigest', 'CRC32C'), ('DataDigest', 'CRC32C,None')])
assert c.hd and c.dd, k
nop(c, b'digest check')
r, d = c.recv()            # recv() verifies both digests
assert r[0] == 0x20 and d == b'digest check'
st, data = scsi_read(c, bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]), 512)
assert st == 0 and data[:11] == b'hello iscsi'
nop(c, b'x')
c.s.sendall(b'')
# A corrupted header digest ends the connection (ERL 0).
bhs = bytearray(48); bhs[0] = 0x40; bhs[1] = 0x80; bhs[16:20] = b'\0\0\0\x66'
bhs[20:24] = b'\xff' * 4
c.recv()
c.send(bhs, bad_hd=True)
assert c.closed(), 'bad header digest: connection kept'

# A data segment longer than our MaxRecvDataSegmentLength ends it too.
c = Conn(port)
k = login(c, ini, iqn)
big = bytearray(48); big[0] = 0x40; big[1] = 0x80; big[16:20] = b'\0\0\0\x01'
big[20:24] = b'\xff' * 4
big[5:8] = (1 << 23).to_bytes(3, 'big')
c.s.sendall(bytes(big))
assert c.closed(), 'oversized data segment: connection kept'

# Discovery: SendTargets=All.
c = Conn(port)
login(c, ini)
t = bytearray(48); t[0] = 0x44; t[1] = 0x80; t[16:20] = b'\0\0\0\x03'
t[20:24] = b'\xff' * 4; t[24:28] = c.cmdsn.to_bytes(4, 'big')
c.send(t, keys([('SendTargets', 'All')]))
r, d = c.recv()
assert r[0] == 0x24 and r[1] & 0x80, r[:2]
assert d == keys([('TargetName', iqn), ('TargetAddress', f'127.0.0.1:{port},1')]), d
# SCSI commands in a discovery session are refused.
c.send(bytearray([0x01, 0x80] + [0] * 46))
r, d = c.recv()
assert r[0] == 0x3f and r[2] == 0x04, r[:3]

# Several sessions at once, each reading.
conns = [Conn(port) for _ in range(6)]
for i, c in enumerate(conns):
    login(c, ini, iqn, isid=bytes([0x80, 0, 0, 0, 0, 0x10 + i]))
for c in conns:
    st, data = scsi_read(c, bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]), 512)
    assert st == 0 and data[:11] == b'hello iscsi'
# Reinstating an ISID drops the old session.
old = conns[0]
new = Conn(port)
login(new, ini, iqn, isid=bytes([0x80, 0, 0, 0, 0, 0x10]))
assert old.closed(), 'session with the same ISID not reinstated'
print('raw checks passed')
PY

# The server still serves a real initiator.
timeout 60 iscsi-inq "$(iscsi_url 0)" | grep -q "Vendor:XCOPYD" || fail "server gone"
echo OK
