#!/usr/bin/env python3
# xcopyd: write the seed corpus of fuzz-scsi-xcopy.c
# (tests/fuzz/corpus/scsi-xcopy).  The seeds are committed; run this again
# after changing the target's input format (see the comment at its top):
#   u8 flags, u8 pll adjustment, then an EXTENDED COPY (LID1) parameter list.
# CSCD descriptors made by lu() are placeholders the target points at fuzz
# LU 0 (512-byte blocks, 512 of them) or LU 1 (4096-byte blocks, 64).
import os, struct
D = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'scsi-xcopy')

SUB, FIXBL, LUN1, RCR = 0x01, 0x02, 0x10, 0x20
def lim(n): return (n & 3) << 2

def lu(k, bl=None, pdt=0, dtype=0xe4):
    bl = bl if bl is not None else (512, 4096)[k]
    desig = bytes([0x01, 0x03, 0, 16, 0x60 | k]) + bytes(15)
    return bytes([dtype, pdt, 0, 0]) + desig + bytes(4) + bytes([0]) + bl.to_bytes(3, 'big')

def b2b(src, dst, n, slba, dlba, dc=0, cat=0):
    return bytes([0x02, (dc << 1) | cat]) + struct.pack('>HHH2xHQQ', 0x18, src, dst, n, slba, dlba)

def b2b_off(src, dst, nbytes, slba, dlba, soff, doff):
    return bytes([0x0a, 0]) + struct.pack('>HHHIQQHH', 0x1c, src, dst, nbytes, slba, dlba, soff, doff)

def plist(cscds, segs, list_id=1, usage=0, inline=b''):
    c, s = b''.join(cscds), b''.join(segs)
    hdr = bytes([list_id, (usage & 3) << 3]) + struct.pack('>H4xII', len(c), len(s), len(inline))
    return hdr + c + s + inline

def seed(flags, body, adj=0):
    return bytes([flags, adj]) + body

seeds = {
  'one-segment': seed(SUB | RCR, plist([lu(0)], [b2b(0, 0, 8, 0, 100)])),
  'across-lus': seed(SUB | RCR, plist([lu(0), lu(1)],
      [b2b(0, 1, 16, 0, 3), b2b(1, 0, 8, 2, 200, dc=1), b2b(1, 1, 2, 0, 40)])),
  'byte-offsets': seed(SUB, plist([lu(0), lu(1)],
      [b2b_off(0, 0, 1000, 1, 10, 100, 7), b2b_off(1, 0, 5000, 3, 50, 4000, 511),
       b2b_off(0, 1, 777, 2, 5, 3, 4095)], usage=2)),
  'overlap': seed(SUB | RCR, plist([lu(0)],
      [b2b(0, 0, 64, 0, 8), b2b(0, 0, 100, 300, 290), b2b(0, 0, 8, 500, 500)], list_id=7)),
  'many-segments': seed(SUB, plist([lu(0), lu(1)],
      [b2b(i % 2, (i + 1) % 2, 8, i % 60, (i * 3) % 60, dc=i % 2)
       for i in range(64)], usage=3, list_id=0)),
  'bad-index': seed(SUB | RCR, plist([lu(0)], [b2b(0, 0, 1, 0, 1), b2b(0, 1, 4, 0, 0)])),
  'past-end': seed(SUB | RCR, plist([lu(1)], [b2b(0, 0, 4, 62, 0)])),
  'unknown-lu': seed(RCR, plist([lu(0)], [b2b(0, 0, 4, 0, 8)])),
  'block-length': seed(SUB, plist([lu(0, bl=4096)], [b2b(0, 0, 1, 0, 8)])),
  'block-length-fixed': seed(SUB | FIXBL, plist([lu(1, bl=512)], [b2b(0, 0, 1, 0, 8)])),
  'inexact': seed(SUB, plist([lu(0), lu(1)], [b2b(0, 1, 1, 0, 0)])),
  'cscd-type': seed(SUB, plist([lu(0, dtype=0xe0)], [b2b(0, 0, 1, 0, 8)])),
  'segment-type': seed(SUB, plist([lu(0)], [bytes([0x03, 0]) + struct.pack('>HHH', 0x10, 0, 0) + bytes(14)])),
  'small-limits': seed(SUB | lim(1), plist([lu(0), lu(1), lu(0)],
      [b2b(0, 2, 1, i, 100 + i) for i in range(5)])),
  'truncated': seed(SUB | lim(2), plist([lu(0)], [b2b(0, 0, 2, 0, 4)]), adj=5),
  'longer-pll': seed(SUB | LUN1 | lim(3), plist([lu(0)], [b2b(0, 0, 2, 0, 4)]), adj=0x80 | 9),
  'inline-data': seed(SUB, plist([lu(0)], [b2b(0, 0, 2, 0, 4)], inline=b'abcd')),
  'usage-reserved': seed(SUB, plist([lu(0)], [b2b(0, 0, 2, 0, 4)], usage=1)),
  'empty': seed(RCR, b''),
}

os.makedirs(D, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(D, name), 'wb') as f:
        f.write(data)
print(f'{len(seeds)} seeds in {D}')
