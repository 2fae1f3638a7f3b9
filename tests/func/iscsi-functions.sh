# xcopyd: helpers for the iSCSI scenarios (tests/func/test-iscsi-*.sh).
# Source after functions.sh.

ISCSI_SERVE="$TOP/$BUILD/tests/unit/prog-iscsi-serve"
IQN=iqn.2024-01.test:t1
INI=iqn.2024-01.test:init

# start_iscsi ARGS...: prog-iscsi-serve with ARGS (--portal, --lun...) in
# the background; sets ISCSI_PORT and ISCSI_PID; stopped at exit, and a
# failed clean shutdown (exit status other than 0) fails the test.
start_iscsi () {
  [[ -x $ISCSI_SERVE ]] || fail "$ISCSI_SERVE not built"
  local out="$TMP/serve.$RANDOM" pre=() i
  if [[ -n ${XCOPY_SAN_LOG_DIR:-} ]]; then
    pre=(env "ASAN_OPTIONS=${ASAN_OPTIONS:-}:log_path=$XCOPY_SAN_LOG_DIR/iscsi-serve"
         "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}:log_path=$XCOPY_SAN_LOG_DIR/iscsi-serve")
  fi
  "${pre[@]}" "$ISCSI_SERVE" "$@" >"$out" 2>"$out.err" &
  ISCSI_PID=$!
  on_exit "stop_iscsi $ISCSI_PID"
  for i in $(seq 100); do
    grep -q '^port ' "$out" && break
    kill -0 "$ISCSI_PID" 2>/dev/null || { cat "$out.err" >&2; fail "prog-iscsi-serve exited"; }
    sleep 0.1
  done
  ISCSI_PORT=$(awk '/^port /{print $2}' "$out")
  [[ -n $ISCSI_PORT ]] || fail "prog-iscsi-serve printed no port"
}

# stop_iscsi PID: SIGTERM and expect a clean exit 0.
stop_iscsi () {
  local pid=$1 rc=0 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid"
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid"
    echo "FAIL: prog-iscsi-serve did not stop on SIGTERM" >&2
    exit 1
  fi
  wait "$pid" || rc=$?
  (( rc == 0 )) || { echo "FAIL: prog-iscsi-serve exited $rc" >&2; exit 1; }
}

# iscsi_url [LUN]: the libiscsi URL of the test target.
iscsi_url () { echo "iscsi://127.0.0.1:$ISCSI_PORT/$IQN/${1:-0}"; }

requires_libiscsi () {
  requires iscsi-ls
  requires iscsi-inq
}

# iscsi_py: writes $TMP/iscsi_raw.py, a tiny raw iSCSI initiator for
# tests that need malformed PDUs, digests or exact statuses.  Scenarios
# run it with: python3 - <<EOF ... import iscsi_raw ... EOF
iscsi_py () {
  requires python3
  cat >"$TMP/iscsi_raw.py" <<'PYEOF'
import socket, struct

def crc32c(data, crc=0xffffffff):
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc

def digest(data):
    return struct.pack('<I', crc32c(data) ^ 0xffffffff)

def keys(d):
    return b''.join(f'{k}={v}'.encode() + b'\0' for k, v in d)

def parse(data):
    out = {}
    for kv in data.split(b'\0'):
        if kv:
            k, v = kv.decode().split('=', 1)
            out[k] = v
    return out

class Conn:
    def __init__(self, port, host='127.0.0.1'):
        self.s = socket.create_connection((host, port), timeout=20)
        self.hd = self.dd = False
        self.cmdsn = 1
        self.itt = 1

    def send(self, bhs, data=b'', bad_hd=False):
        bhs = bytearray(bhs)
        bhs[5:8] = len(data).to_bytes(3, 'big')
        pdu = bytes(bhs)
        if self.hd:
            d = digest(pdu)
            pdu += bytes([d[0] ^ 1]) + d[1:] if bad_hd else d
        if data:
            pad = data + bytes(-len(data) % 4)
            pdu += pad + (digest(pad) if self.dd else b'')
        self.s.sendall(pdu)

    def read(self, n):
        b = b''
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise EOFError('connection closed')
            b += c
        return b

    def recv(self):
        bhs = self.read(48)
        ahs = self.read(bhs[4] * 4)
        if self.hd:
            assert self.read(4) == digest(bhs + ahs), 'bad header digest'
        n = int.from_bytes(bhs[5:8], 'big')
        data = self.read(n + (-n % 4))
        if self.dd and n:
            assert self.read(4) == digest(data), 'bad data digest'
        return bhs, data[:n]

    def closed(self):
        try:
            self.s.settimeout(20)
            while self.s.recv(4096):
                pass
            return True
        except (ConnectionResetError, EOFError):
            return True
        except socket.timeout:
            return False

def login_pdu(flags, data, isid=b'\x80\x00\x00\x00\x00\x01', tsih=0,
              vmin=0, itt=1, cmdsn=1):
    bhs = bytearray(48)
    bhs[0] = 0x43
    bhs[1] = flags
    bhs[3] = vmin
    bhs[8:14] = isid
    bhs[14:16] = tsih.to_bytes(2, 'big')
    bhs[16:20] = itt.to_bytes(4, 'big')
    bhs[24:28] = cmdsn.to_bytes(4, 'big')
    return bhs

def login_once(c, flags, pairs, **kw):
    """One Login Request; returns (status, response flags, keys)."""
    c.send(login_pdu(flags, None, **kw), keys(pairs))
    bhs, data = c.recv()
    assert bhs[0] == 0x23, f'opcode {bhs[0]:#x}'
    return (bhs[36] << 8 | bhs[37]), bhs[1], parse(data), bhs

def login(c, initiator, target=None, ops=(), isid=b'\x80\x00\x00\x00\x00\x01'):
    """Full login without authentication; returns the operational keys."""
    names = [('InitiatorName', initiator)]
    names += [('SessionType', 'Normal'), ('TargetName', target)] if target \
        else [('SessionType', 'Discovery')]
    st, fl, k, _ = login_once(c, 0x81, names + [('AuthMethod', 'None')], isid=isid)
    assert st == 0 and fl == 0x81, f'security stage: {st:#06x} {fl:#x}'
    st, fl, k, bhs = login_once(c, 0x87, list(ops), isid=isid)
    assert st == 0 and fl == 0x87, f'operational stage: {st:#06x} {fl:#x}'
    c.tsih = int.from_bytes(bhs[14:16], 'big')
    assert c.tsih != 0
    c.statsn = int.from_bytes(bhs[24:28], 'big')
    c.hd = k.get('HeaderDigest') == 'CRC32C'
    c.dd = k.get('DataDigest') == 'CRC32C'
    return k

def nop(c, data=b'', itt=None):
    bhs = bytearray(48)
    bhs[0] = 0x40
    bhs[1] = 0x80
    c.itt += 1
    bhs[16:20] = (itt if itt is not None else c.itt).to_bytes(4, 'big')
    bhs[20:24] = b'\xff\xff\xff\xff'
    bhs[24:28] = c.cmdsn.to_bytes(4, 'big')
    c.send(bhs, data)
    return bhs

def scsi_read(c, cdb, edtl, lun=0):
    """A read command (immediate delivery off); returns (status, data)."""
    bhs = bytearray(48)
    bhs[0] = 0x01
    bhs[1] = 0xc0
    bhs[8:16] = bytes([0, lun, 0, 0, 0, 0, 0, 0])
    c.itt += 1
    bhs[16:20] = c.itt.to_bytes(4, 'big')
    bhs[20:24] = edtl.to_bytes(4, 'big')
    bhs[24:28] = c.cmdsn.to_bytes(4, 'big')
    c.cmdsn += 1
    bhs[32:32 + len(cdb)] = cdb
    c.send(bhs)
    data = b''
    while True:
        r, d = c.recv()
        if r[0] == 0x25:
            data += d
            if r[1] & 0x01:
                return r[3], data
        elif r[0] == 0x21:
            return r[3], data
        else:
            raise AssertionError(f'unexpected opcode {r[0]:#x}')
PYEOF
  export PYTHONPATH="$TMP${PYTHONPATH:+:$PYTHONPATH}"
}
