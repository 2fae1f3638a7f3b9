#!/bin/bash
# xcopyd --check-config: a good file passes; each kind of mistake exits 2
# with a message that names the file, the group and the key.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/xcopyd-functions.sh"

mkdir -p "$TMP/img"
conf=$TMP/xcopyd.conf

xcopyd_config "$conf"
out=$("$XCOPYD" --config "$conf" --check-config 2>&1) || fail "good config: $out"
echo "$out"
[[ $out == "$conf: OK (1 target, 2 LUNs, 1 backend, 1 portal)" ]] || fail "good config: $out"
[[ ! -e $TMP/run && ! -e $TMP/xcopyd.sock ]] || fail "--check-config started something"

# bad EXPECTED-REGEX EXTRA-LINES...: the config plus the lines must exit
# 2 with a message matching the regex.
bad () {
  local re=$1 rc=0; shift
  xcopyd_config "$conf" "$@"
  out=$("$XCOPYD" --config "$conf" --check-config 2>&1) || rc=$?
  echo "[$rc] $out"
  (( rc == 2 )) || fail "exit $rc, not 2, for: $*"
  grep -qE -- "$re" <<<"$out" || fail "expected /$re/ for: $*"
  grep -q "^xcopyd: error: $conf: " <<<"$out" || fail "message does not name the file: $out"
}

T="\[target:$IQN\]"
bad "$T lun\.2: backend 'imgs' is not defined" "lun.2 = imgs/x.img"
bad "$T lun\.2: '.*': expected BACKEND/EXPORT" "lun.2 = disk.img"
bad "$T lun\.1\.serial: .*printable" "lun.1.serial = $(printf 'x%.0s' {1..65})"
bad "$T lun\.0\.naa: .*32 hex digits" "lun.0.naa = 1234"
bad "$T lun\.0\.block-size: 1024: must be 512 or 4096" "lun.0.block-size = 1024"
bad "$T lun\.7\.serial: there is no lun\.7" "lun.7.serial = abc"
bad "$T lun\.0\.colour: unknown key" "lun.0.colour = red"
bad "$T lun\.99999: expected lun\.N" "lun.99999 = images/disk0.img"
bad "$T chap-secret: missing" "chap-user = alice"
bad "$T chap-secret: must be 12 to 255 bytes" "chap-user = alice" "chap-secret = short"
bad "$T mutual-secret: must differ" "chap-user = a" "chap-secret = 0123456789abc" \
    "mutual-user = t" "mutual-secret = 0123456789abc"
bad "$T acl: initiator name 'Bad_Name'" "acl = iqn.2024-01.org.example:ok;Bad_Name"
bad "$T workers: 'many' is not a whole number" "workers = many"
bad "$T frobnicate: unknown key" "frobnicate = 1"
bad "\[target:IQN\.bad\]: target name" "[target:IQN.bad]" "lun.0 = images/disk0.img"
bad "\[target:iqn\.2024-01\.org\.example:empty\]: no LUN" "[target:iqn.2024-01.org.example:empty]"
bad "\[iscsi\] portal: '1\.2\.3:99': '1\.2\.3' is not an IP address" "[iscsi]" "portal = 1.2.3:99"
bad "\[iscsi\] portal: .*port '70000'" "[iscsi]" "portal = 127.0.0.1:70000"
bad "\[iscsi\] portal: .*brackets" "[iscsi]" "portal = ::1:3260"
bad "\[iscsi\] first-burst-length: .*larger than max-burst-length" "[iscsi]" \
    "max-burst-length = 65536" "first-burst-length = 131072"
bad "\[iscsi\] digests: 'maybe' is not true or false" "[iscsi]" "digests = maybe"
bad "\[iscsi\] nop-timeout: '0' is not a whole number from 1 to 3600" "[iscsi]" "nop-timeout = 0"
bad "\[backend:images\]: defined twice|\[backend:images\] dir: " "[backend:images]" "dir = /nonexistent"
bad "\[backend:b2\] dir: '/nonexistent' is not a directory" "[backend:b2]" "dir = /nonexistent"
bad "\[backend:b2\] nbd-socket: give either dir=" "[backend:b2]" "dir = $TMP" "nbd-socket = /x"
bad "\[backend:b2\] control-socket: missing" "[backend:b2]" "nbd-socket = /x"
bad "\[backend:b2\]: needs dir=" "[backend:b2]" "readonly = true"
bad "\[backend:b2\] connections: '0' is not a whole number from 1 to 64" \
    "[backend:b2]" "dir = $TMP" "connections = 0"
bad "\[backend:b/2\]: backend name" "[backend:b/2]" "dir = $TMP"
bad "\[daemon\] log-level: 'loud'" "[daemon]" "log-level = loud"
bad "\[daemon\] runtime-dir: 'relative' is not an absolute path" "[daemon]" "runtime-dir = relative"
bad "\[daemon\] management-group: no group 'no-such-group'" "[daemon]" "management-group = no-such-group"
bad "\[frob\]: unknown group" "[frob]"

# A file GKeyFile cannot parse, a missing file, a bad option.
printf 'not a key file\n' >"$conf"
rc=0; out=$("$XCOPYD" --config "$conf" --check-config 2>&1) || rc=$?
echo "[$rc] $out"; (( rc == 2 )) && grep -q "$conf" <<<"$out" || fail "unparsable file"
rc=0; out=$("$XCOPYD" --config "$TMP/none.conf" --check-config 2>&1) || rc=$?
echo "[$rc] $out"; (( rc == 2 )) && grep -q "none.conf" <<<"$out" || fail "missing file"
rc=0; out=$("$XCOPYD" --no-such-option 2>&1) || rc=$?
echo "[$rc] $out"; (( rc == 2 )) || fail "bad option"
rc=0; out=$("$XCOPYD" --log-level loud --version 2>&1) || rc=$?
echo "[$rc] $out"; (( rc == 2 )) && grep -q -- "--log-level: 'loud'" <<<"$out" || fail "bad --log-level"
"$XCOPYD" --version | grep -q '^xcopyd [0-9]' || fail "--version"

# The example in the sources is valid (with its directory made to exist).
sed "s|^dir = .*|dir = $TMP/img|" "$TOP/etc/xcopyd.conf.example" >"$conf"
"$XCOPYD" --config "$conf" --check-config || fail "etc/xcopyd.conf.example"
echo OK
