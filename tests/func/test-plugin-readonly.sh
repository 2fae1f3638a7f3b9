#!/bin/bash
# nbdkit xcopy: readonly=true (and nbdkit -r) serve reads and refuse every
# write, zero and trim; the image stays byte-for-byte the same.
source "$(dirname "$0")/functions.sh"
requires nbdkit
requires qemu-io
requires nbdinfo

head -c 8M /dev/urandom > "$TMP/img"
cp "$TMP/img" "$TMP/orig"
head -c 4096 "$TMP/img" > "$TMP/first"

# open_mode PIDFILE URI: how the server has the image open ("ro" or
# "rw") while a client is connected.
open_mode () {
  local pid fd flags i
  pid=$(cat "$1")
  qemu-io -r -f raw -c 'sleep 1500' "$2" & local q=$!
  for (( i = 0; i < 50; i++ )); do
    for fd in /proc/$pid/fd/*; do
      [[ $(readlink "$fd") == "$TMP/img" ]] || continue
      flags=$(awk '/^flags:/ { print $2 }' "/proc/$pid/fdinfo/${fd##*/}")
      kill $q 2>/dev/null; wait $q 2>/dev/null || true
      (( (8#$flags & 3) == 0 )) && echo ro || echo rw
      return
    done
    sleep 0.1
  done
  kill $q 2>/dev/null; wait $q 2>/dev/null || true
  echo none
}

check_readonly () {
  local uri=$1 pidf=$2
  # The server itself holds the image O_RDONLY.
  [[ $(open_mode "$pidf" "$uri") == ro ]] || fail "image not opened O_RDONLY"
  local info
  info=$(nbdinfo "$uri")
  for want in 'is_read_only: true' 'can_zero: false' 'can_trim: false' \
              'can_fua: false'; do
    grep -qF "$want" <<<"$info" || fail "read-only export lacks '$want'"
  done
  # qemu-io opens read-write by default: the export must refuse that
  # (QEMU sees the read-only flag and refuses writes itself).
  qio_fails "$uri" 'read-only|denied|not permitted' 'write -P 1 0 4096'
  # Opened read-only, writes must fail too.
  local c
  for c in 'write -P 1 0 4096' 'write -z 0 4096' 'discard 0 4096'; do
    out=$(qemu-io -r -f raw -c "$c" "$uri" 2>&1) || true
    echo "$out"
    grep -qiE 'read-only|denied|not permitted|failed' <<<"$out" ||
      fail "'$c' was not refused"
  done
  # Reads work and return the data.
  qemu-io -r -f raw -c 'read -v 0 16' "$uri" | head -1
  nbdcopy "$uri" "$TMP/out"
  cmp "$TMP/out" "$TMP/orig" || fail "read-only export reads wrong data"
  cmp "$TMP/img" "$TMP/orig" || fail "read-only image changed"
}

start_nbdkit "$TMP/sock" "$TMP/pid" file="$TMP/img" readonly=true
check_readonly "$(nbd_uri "$TMP/sock")" "$TMP/pid"

start_nbdkit "$TMP/sock2" "$TMP/pid2" -r file="$TMP/img"
check_readonly "$(nbd_uri "$TMP/sock2")" "$TMP/pid2"

# Without them, the same image is open read-write (the check can fail).
start_nbdkit "$TMP/sock4" "$TMP/pid4" file="$TMP/img" readonly=false
[[ $(open_mode "$TMP/pid4" "$(nbd_uri "$TMP/sock4")") == rw ]] ||
  fail "image not opened O_RDWR"
nbdinfo "$(nbd_uri "$TMP/sock4")" | grep -q 'is_read_only: false' ||
  fail "readonly=false export is read-only"

# A file the server cannot write is refused unless read-only is asked for.
if [[ $(id -u) -ne 0 ]]; then
  chmod a-w "$TMP/img"
  start_nbdkit "$TMP/sock3" "$TMP/pid3" file="$TMP/img"
  nbdinfo "$(nbd_uri "$TMP/sock3")" && fail "served a read-only file read-write"
fi
echo OK
