#!/usr/bin/env python3
# xcopyd: write the seed corpora of the SCSI fuzz targets
# (tests/fuzz/corpus/scsi-cdb, scsi-unmap).  The seeds are committed; run
# this again after changing the input format of fuzz-scsi-cdb.c or
# fuzz-scsi-unmap.c.  Formats: see the comments at the top of each target.
import struct, os
D=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus') + '/'
def cmd(cdb, out=b'', lun=0, cap=5):
    flags = (lun & 3) | (cap << 2)
    return bytes([flags, len(cdb)]) + bytes(cdb) + struct.pack('>H', len(out)) + out
def c10(op, b1, lba, n): return [op, b1] + list(struct.pack('>I', lba)) + [0] + list(struct.pack('>H', n)) + [0]
def c16(op, b1, lba, n): return [op, b1] + list(struct.pack('>Q', lba)) + list(struct.pack('>I', n)) + [0, 0]
def c12(op, b1, lba, n): return [op, b1] + list(struct.pack('>I', lba)) + list(struct.pack('>I', n)) + [0, 0]
def unmap_list(descs):
    body = b''.join(struct.pack('>QI4x', l, n) for l, n in descs)
    return struct.pack('>HH4x', 6 + len(body), len(body)) + body
blk = bytes(range(256)) * 2
seeds = {
 'tur': cmd([0,0,0,0,0,0]),
 'tur-lun1-ua': cmd([0]*6, lun=1) + cmd([0]*6, lun=1),
 'no-lu': cmd([0]*6, lun=3) + cmd([0x12,0,0,0,36,0], lun=3, cap=3) + cmd([3,0,0,0,18,0], lun=3, cap=2),
 'request-sense': cmd([3,0,0,0,252,0], cap=4) + cmd([3,1,0,0,252,0], cap=4),
 'inquiry-std': cmd([0x12,0,0,0,255,0], cap=4),
 'inquiry-vpd': b''.join(cmd([0x12,1,p,0,255,0], cap=4) for p in (0,0x80,0x83,0x8f,0xb0,0xb1,0xb2)),
 'report-luns': cmd([0xa0,0,0,0,0,0,0,0,1,0,0,0], cap=5) + cmd([0xa0,0,2,0,0,0,0,0,0,16,0,0], cap=4),
 'read-capacity': cmd(c10(0x25,0,0,0), cap=1) + cmd([0x9e,0x10]+[0]*8+[0,0,0,32,0,0], cap=4),
 'get-lba-status': cmd(c10(0x2a,0,8,8), blk*4) + cmd([0x9e,0x12]+[0]*8+[0,0,1,0,0,0], cap=5),
 'mode-sense': cmd([0x1a,0,0x3f,0,255,0], cap=4) + cmd([0x5a,0x10,0x3f,0,0,0,0,1,0,0], cap=5) + cmd([0x1a,8,0x48,0,255,0], cap=4),
 'mode-select-dsense': cmd([0x15,0x10,0,0,16,0], bytes([0,0,0,0,0x0a,0x0a,6,0x10,0,0,0,0,0,0,0,0])) + cmd(c16(0x88,0,1<<40,1), cap=5),
 'mode-select10-wce': cmd([0x55,0x10,0,0,0,0,0,0,28,0], bytes([0]*8) + bytes([8,0x12,0]+[0]*17)) + cmd(c10(0x2a,0,0,1), blk),
 'rsoc': cmd([0xa3,0x0c,0,0,0,0,0,0,0x10,0,0,0], cap=6) + cmd([0xa3,0x0c,0x81,0x28,0,0,0,0,1,0,0,0], cap=4) + cmd([0xa3,0x0c,0x02,0x9e,0,0x10,0,0,1,0,0,0], cap=4),
 'rw6': cmd([0x0a,0,0,5,1,0], blk) + cmd([0x08,0,0,5,1,0], cap=5),
 'rw10': cmd(c10(0x2a,0x08,3,2), blk*2) + cmd(c10(0x28,0x10,3,2), cap=6),
 'rw12': cmd(c12(0xaa,0,3,1), blk) + cmd(c12(0xa8,0,3,1), cap=5),
 'rw16': cmd(c16(0x8a,0,3,1), blk) + cmd(c16(0x88,0,3,1), cap=5),
 'rw16-lun1': cmd(c16(0x8a,0,1,1), blk*8, lun=1) + cmd(c16(0x88,0,1,1), lun=1, cap=6),
 'read-beyond': cmd(c10(0x28,0,511,2), cap=6) + cmd(c16(0x88,0,(1<<64)-1,1), cap=5),
 'write-verify': cmd(c10(0x2e,0x02,7,1), blk) + cmd(c16(0x8e,0,7,1), blk),
 'verify': cmd(c10(0x2a,0,9,1), blk) + cmd(c10(0x2f,0x02,9,1), blk) + cmd(c16(0x8f,0x06,9,1), blk) + cmd(c12(0xaf,0,9,1)),
 'sync-prefetch': cmd(c10(0x35,2,0,0)) + cmd(c16(0x91,0,0,10)) + cmd(c10(0x34,0,0,4)) + cmd(c16(0x90,2,500,12)),
 'write-same': cmd(c10(0x41,0,0,16), blk) + cmd(c16(0x93,0x08,16,16), bytes(512)) + cmd(c16(0x93,0x09,40,0)) + cmd(c10(0x41,0x10,0,1), blk),
 'unmap': cmd(c10(0x42,0,0,8+32), unmap_list([(0,8),(100,4)])) + cmd(c10(0x42,0,0,8+16), unmap_list([(511,2)])),
 'caw': cmd(c10(0x2a,0,20,1), blk) + cmd([0x89,0]+list(struct.pack('>Q',20))+[0,0,0,1,0,0], blk+bytes(512)) + cmd([0x89,0]+list(struct.pack('>Q',20))+[0,0,0,1,0,0], blk+blk),
 'naca-sa': cmd([0,0,0,0,0,4]) + cmd([0x9e,0x1f]+[0]*14, cap=4) + cmd([0x83]+[0]*15) + cmd([0x84,3]+[0]*8+[0,0,1,0,0,0], cap=5),
}
os.makedirs(D+'scsi-cdb', exist_ok=True)
for k, v in seeds.items():
    open(D+'scsi-cdb/'+k, 'wb').write(v)
u = {
 'empty': b'',
 'header-only': struct.pack('>HH4x', 6, 0),
 'one': unmap_list([(0, 8)]),
 'two-overlap': unmap_list([(10, 20), (15, 20)]),
 'many': unmap_list([(i*4, 2) for i in range(64)]),
 'too-many': unmap_list([(i, 1) for i in range(65)]),
 'too-long-total': unmap_list([(0, 200), (300, 100)]),
 'out-of-range': unmap_list([(500, 100)]),
 'wrap': unmap_list([((1<<64)-1, 2)]),
 'inconsistent': struct.pack('>HH4x', 6, 16) + struct.pack('>QI4x', 0, 1),
 'truncated': unmap_list([(0, 1), (8, 1)])[:-4],
 'short': b'\x00\x06\x00',
 'partial-desc': struct.pack('>HH4x', 6 + 20, 20) + struct.pack('>QI4x', 4, 4) + b'\x00' * 4,
}
sel = {'empty': b'\x00\x00', 'many': b'\x03\x00', 'too-many': b'\x03\x00', 'truncated': b'\x02\x84', 'short': b'\x02\x00'}
os.makedirs(D+'scsi-unmap', exist_ok=True)
for k, v in u.items():
    open(D+'scsi-unmap/'+k, 'wb').write(sel.get(k, b'\x42\x00') + v)
print(len(seeds), "cdb seeds,", len(u), "unmap seeds")
