#!/bin/bash
# iSCSI edges a hostile or sloppy initiator reaches with a raw client:
# rejected commands still use up their CmdSN; commands beyond the
# connection's buffer budget or the immediate-command allowance end
# TASK SET FULL before anything is allocated for them; an unsolicited
# burst that ends early is solicited from where it stopped; Data-Out for
# unknown or aborted tasks is dropped; closing with commands waiting for
# data frees them.  The server must go on serving after all of it.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/iscsi-functions.sh"
requires_libiscsi
iscsi_py

truncate -s 8M "$TMP/lun0.img"
start_iscsi --portal 127.0.0.1:0 --iqn "$IQN" --lun 0="$TMP/lun0.img"

timeout 120 python3 - "$ISCSI_PORT" "$IQN" "$INI" <<'PY'
import sys, struct, os
from iscsi_raw import *
port, iqn, ini = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def cmd(c, cdb, edtl, flags, data=b'', immediate=False, itt=None):
    """A SCSI Command PDU (flags: 0x80 F, 0x40 R, 0x20 W); returns its ITT."""
    bhs = bytearray(48)
    bhs[0] = 0x01 | (0x40 if immediate else 0)
    bhs[1] = flags
    if itt is None:
        c.itt += 1
        itt = c.itt
    bhs[16:20] = itt.to_bytes(4, 'big')
    bhs[20:24] = edtl.to_bytes(4, 'big')
    bhs[24:28] = c.cmdsn.to_bytes(4, 'big')
    if not immediate:
        c.cmdsn += 1
    bhs[32:32 + len(cdb)] = cdb
    c.send(bhs, data)
    return itt

def data_out(c, itt, ttt, offset, data, datasn=0, final=True):
    bhs = bytearray(48)
    bhs[0] = 0x05
    bhs[1] = 0x80 if final else 0
    bhs[16:20] = itt.to_bytes(4, 'big')
    bhs[20:24] = ttt.to_bytes(4, 'big')
    bhs[36:40] = datasn.to_bytes(4, 'big')
    bhs[40:44] = offset.to_bytes(4, 'big')
    c.send(bhs, data)

def w10(lba, n):
    return bytes([0x2a, 0]) + struct.pack('>IBHB', lba, 0, n, 0)

def w16(lba, n):
    return bytes([0x8a, 0]) + struct.pack('>QIBB', lba, n, 0, 0)

def r10(lba, n):
    return bytes([0x28, 0]) + struct.pack('>IBHB', lba, 0, n, 0)

def ping(c, tag):
    nop(c, b'alive', itt=tag)
    r, d = c.recv()
    assert r[0] == 0x20 and r[16:20] == tag.to_bytes(4, 'big') and d == b'alive', \
        (hex(r[0]), r[16:20], d)

def expect(c, op):
    r, d = c.recv()
    assert r[0] == op, f'opcode {r[0]:#x}, want {op:#x}: {bytes(r[:4]).hex()}'
    return r, d

# 1. A rejected command (R and W both set) uses up its CmdSN: the next
#    command and a NOP with the following CmdSNs are served.
c = Conn(port)
login(c, ini, iqn)
bad = cmd(c, r10(0, 1), 512, 0xe0)
r, d = expect(c, 0x3f)
assert r[2] == 0x09 and d[16:20] == bad.to_bytes(4, 'big'), r[:4]
st, data = scsi_read(c, r10(0, 1), 512)
assert st == 0 and len(data) == 512, st
ping(c, 0x101)

# 2. The buffer budget: writes of 48 MiB waiting for data pin their
#    buffers; past 256 MiB a write ends TASK SET FULL with nothing moved,
#    and the CmdSN window goes on.
blocks = (48 << 20) // 512
pending = []
for i in range(5):
    itt = cmd(c, w16(0, blocks), blocks * 512, 0xa0)
    r, d = expect(c, 0x31)                      # R2T for the first burst
    assert r[16:20] == itt.to_bytes(4, 'big') and r[40:44] == bytes(4)
    pending.append((itt, r[20:24]))
full = cmd(c, w16(0, blocks), blocks * 512, 0xa0)
r, d = expect(c, 0x21)
assert r[16:20] == full.to_bytes(4, 'big'), r[16:20]
assert r[3] == 0x28 and r[1] & 0x02 and int.from_bytes(r[44:48], 'big') == blocks * 512, \
    (r[1], r[3], r[44:48])
ping(c, 0x102)
# A Data-Out for an unknown task is dropped quietly.
data_out(c, 0x7777, 0x1234, 0, bytes(512))
ping(c, 0x103)
# ABORT TASK for a write waiting for its data frees it; its late Data-Out
# is dropped, and its buffer is free again: a new 48 MiB write gets an R2T.
itt, ttt = pending.pop()
tmf = bytearray(48); tmf[0] = 0x42; tmf[1] = 0x81
c.itt += 1
tmf[16:20] = c.itt.to_bytes(4, 'big'); tmf[20:24] = itt.to_bytes(4, 'big')
tmf[24:28] = c.cmdsn.to_bytes(4, 'big'); tmf[32:36] = (c.cmdsn - 1).to_bytes(4, 'big')
c.send(tmf)
r, d = expect(c, 0x22)
assert r[2] == 0 and r[16:20] == c.itt.to_bytes(4, 'big'), r[:4]
data_out(c, itt, int.from_bytes(ttt, 'big'), 0, bytes(512), final=False)
ping(c, 0x104)
again = cmd(c, w16(0, blocks), blocks * 512, 0xa0)
r, d = expect(c, 0x31)
assert r[16:20] == again.to_bytes(4, 'big')
# Close with five writes waiting for data: the server frees them.
c.s.close()

# 3. Immediate commands are outside the window, but only 16 may be open.
c = Conn(port)
login(c, ini, iqn)
for i in range(16):
    itt = cmd(c, w10(i, 1), 512, 0xa0, immediate=True)
    r, d = expect(c, 0x31)
    assert r[16:20] == itt.to_bytes(4, 'big')
itt = cmd(c, w10(16, 1), 512, 0xa0, immediate=True)
r, d = expect(c, 0x21)
assert r[3] == 0x28 and r[16:20] == itt.to_bytes(4, 'big'), r[:4]
ping(c, 0x105)
c.s.close()

# 4. InitialR2T=No: an unsolicited burst that ends (F) before
#    FirstBurstLength is solicited from where it stopped.
c = Conn(port)
k = login(c, ini, iqn, [('InitialR2T', 'No'), ('ImmediateData', 'Yes'),
                        ('FirstBurstLength', '65536')])
assert k['InitialR2T'] == 'No', k
payload = os.urandom(2048)
itt = cmd(c, w10(100, 4), 4096 // 2, 0x20, data=payload[:512])
data_out(c, itt, 0xffffffff, 512, payload[512:1024])
r, d = expect(c, 0x31)
assert r[16:20] == itt.to_bytes(4, 'big')
off, want = int.from_bytes(r[40:44], 'big'), int.from_bytes(r[44:48], 'big')
assert (off, want) == (1024, 1024), (off, want)
data_out(c, itt, int.from_bytes(r[20:24], 'big'), 1024, payload[1024:])
r, d = expect(c, 0x21)
assert r[3] == 0 and r[16:20] == itt.to_bytes(4, 'big'), r[:4]
st, data = scsi_read(c, r10(100, 4), 2048)
assert st == 0 and data == payload, 'data written in three pieces differs'
print('hostile checks passed')
PY

# The server still serves a real initiator.
timeout 60 iscsi-inq "$(iscsi_url 0)" | grep -q "Vendor:XCOPYD" || fail "server gone"
echo OK
