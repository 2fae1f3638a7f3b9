#!/usr/bin/env python3
# xcopyd: write the seed corpora of the iSCSI fuzz targets
# (tests/fuzz/corpus/iscsi-login, iscsi-text).  The seeds are committed;
# run this again after changing the input format of fuzz-iscsi-login.c or
# fuzz-iscsi-text.c.  Formats: see the comments at the top of each target.
import os, struct
D = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus') + '/'
INI, T1, TC = 'iqn.2024-01.test:init', 'iqn.2024-01.test:t1', 'iqn.2024-01.test:tc'

def keys(*pairs):
    return b''.join(f'{k}={v}'.encode() + b'\0' for k, v in pairs)

def pdu(csg, nsg, t, data, mode=0, c=False, isid=b'\x80\x12\x34\x56\x00\x01',
        tsih=0, vmin=0, itt=7, cmdsn=1, op=0x43):
    bhs = bytearray(48)
    bhs[0] = op
    bhs[1] = (0x80 if t else 0) | (0x40 if c else 0) | csg << 2 | nsg
    bhs[3] = vmin
    bhs[8:14] = isid
    bhs[14:16] = struct.pack('>H', tsih)
    bhs[16:20] = struct.pack('>I', itt)
    bhs[24:28] = struct.pack('>I', cmdsn)
    return bytes([mode]) + bytes(bhs) + struct.pack('>H', len(data)) + data

names = (('InitiatorName', INI), ('SessionType', 'Normal'), ('TargetName', T1))
names_c = (('InitiatorName', INI), ('SessionType', 'Normal'), ('TargetName', TC))
ops = (('HeaderDigest', 'CRC32C,None'), ('DataDigest', 'None'),
       ('MaxRecvDataSegmentLength', '65536'), ('MaxBurstLength', '262144'),
       ('FirstBurstLength', '65536'), ('InitialR2T', 'No'),
       ('ImmediateData', 'Yes'), ('MaxOutstandingR2T', '1'),
       ('ErrorRecoveryLevel', '0'), ('DefaultTime2Wait', '2'),
       ('DefaultTime2Retain', '0'), ('MaxConnections', '1'),
       ('DataPDUInOrder', 'Yes'), ('DataSequenceInOrder', 'Yes'),
       ('IFMarker', 'No'), ('OFMarker', 'No'))
login = {
 'none-two-stages': pdu(0, 1, 1, keys(*names, ('AuthMethod', 'None'))) +
                    pdu(1, 3, 1, keys(*ops)),
 'none-straight-to-ffp': pdu(0, 3, 1, keys(*names, ('AuthMethod', 'None'))),
 'operational-first': pdu(1, 3, 1, keys(*names, *ops)),
 'discovery': pdu(0, 1, 1, keys(('InitiatorName', INI), ('SessionType', 'Discovery'),
                               ('AuthMethod', 'None'))) +
              pdu(1, 3, 1, keys(('HeaderDigest', 'None'), ('MaxRecvDataSegmentLength', '8192'))),
 'chap': pdu(0, 0, 0, keys(*names_c, ('AuthMethod', 'CHAP,None'))) +
         pdu(0, 0, 0, keys(('CHAP_A', '5'))) +
         pdu(0, 1, 1, b'', mode=2) + pdu(1, 3, 1, keys(*ops)),
 'chap-mutual': pdu(0, 0, 0, keys(*names_c, ('AuthMethod', 'CHAP'))) +
                pdu(0, 0, 0, keys(('CHAP_A', '7,5'))) +
                pdu(0, 1, 1, b'', mode=6) + pdu(1, 3, 1, keys(('InitialR2T', 'Yes'))),
 'chap-wrong': pdu(0, 0, 0, keys(*names_c, ('AuthMethod', 'CHAP'))) +
               pdu(0, 0, 0, keys(('CHAP_A', '5'))) +
               pdu(0, 1, 1, keys(('CHAP_N', 'fuzzuser'), ('CHAP_R', '0b' + 'A' * 24))),
 'chap-skipped': pdu(0, 1, 1, keys(*names_c, ('AuthMethod', 'None'))),
 'continued': pdu(0, 1, 0, keys(*names, ('AuthMethod', 'None'))[:30], c=True) +
              pdu(0, 1, 1, keys(*names, ('AuthMethod', 'None'))[30:]) +
              pdu(1, 3, 1, keys(*ops[:4])),
 'bad-version-tsih': pdu(0, 1, 1, keys(*names), vmin=1) + pdu(0, 1, 1, keys(*names), tsih=9),
 'bad-flags': pdu(3, 0, 0, keys(*names)) + pdu(0, 2, 1, keys(*names)),
 'not-found-acl': pdu(0, 1, 1, keys(('InitiatorName', 'iqn.2024-01.test:other'),
                                   ('TargetName', TC), ('AuthMethod', 'CHAP'))),
 'bad-keys': pdu(0, 1, 1, keys(*names, ('AuthMethod', 'None'), ('X-vendor.key', 'y'))) +
             pdu(1, 3, 1, keys(('MaxBurstLength', '0x100000000'), ('HeaderDigest', 'MD5'),
                               ('FirstBurstLength', '99999999999999999'),
                               ('InitiatorAlias', 'a' * 255)) + b'junk-without-equals\0'),
 'security-in-operational': pdu(0, 1, 1, keys(*names, ('AuthMethod', 'None'))) +
                            pdu(1, 3, 1, keys(('CHAP_A', '5'))),
 'chap-hex-odd': pdu(0, 0, 0, keys(*names_c, ('AuthMethod', 'CHAP'))) +
                 pdu(0, 0, 0, keys(('CHAP_A', '5'))) +
                 pdu(0, 1, 1, keys(('CHAP_N', 'fuzzuser'), ('CHAP_R', '0x' + 'f' * 33))),
 'isid-change': pdu(0, 1, 0, keys(*names, ('AuthMethod', 'None'))) +
                pdu(0, 1, 1, b'', isid=b'\x80\0\0\0\0\x02'),
}
text = {
 'login-ops': bytes([1 | 8 | 16]) + keys(*ops),
 'login-names': bytes([1 | 4]) + keys(*names, ('InitiatorAlias', 'host')) + b'\xff' +
                keys(('MaxBurstLength', '4096')) + b'\xff' + keys(('MaxBurstLength', '8192')),
 'discovery': bytes([1 | 2]) + keys(('SessionType', 'Discovery'), ('InitialR2T', 'No'),
                                    ('MaxRecvDataSegmentLength', '4096')),
 'ffp': bytes([0]) + keys(('MaxRecvDataSegmentLength', '131072'), ('HeaderDigest', 'CRC32C'),
                         ('X-com.example', 'v'), ('InitiatorAlias', 'x')),
 'answers': bytes([1]) + keys(('MaxConnections', 'Irrelevant'), ('OFMarkInt', '1~2'),
                              ('IFMarker', 'Yes'), ('TargetAlias', 'x')),
 'numbers': bytes([1]) + keys(('MaxBurstLength', '0x00000000000000200'),
                              ('FirstBurstLength', '18446744073709551615'),
                              ('DefaultTime2Wait', '3601'), ('MaxOutstandingR2T', '0x10')),
 'chap-values': bytes([1]) + keys(('CHAP_C', '0x0a1b2'), ('CHAP_R', '0bAAECAw=='),
                                  ('CHAP_I', '0b////'), ('CHAP_N', '0x')),
 'bad-split': bytes([1]) + b'novalue\0=x\0k' + b'y' * 70 + b'=1\0dup=1\0dup=2\0',
 'empty-and-pad': bytes([1]) + b'\0\0\0' + keys(('ImmediateData', 'Maybe')) + b'\0\0',
 'long-values': bytes([1]) + keys(('InitiatorName', 'i' * 224), ('CHAP_C', '0x' + 'ab' * 1000)),
}
for sub, seeds in (('iscsi-login', login), ('iscsi-text', text)):
    os.makedirs(D + sub, exist_ok=True)
    for k, v in seeds.items():
        with open(D + sub + '/' + k, 'wb') as f:
            f.write(v)
