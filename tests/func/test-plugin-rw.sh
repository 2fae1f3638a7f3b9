#!/bin/bash
# nbdkit xcopy: reads and writes (aligned and not), FUA writes and flush;
# checked through NBD and in the image file itself.
source "$(dirname "$0")/functions.sh"
requires nbdkit
requires qemu-io
requires nbdinfo

img=$TMP/img
truncate -s 64M "$img"
start_nbdkit "$TMP/sock" "$TMP/pid" --filter=log file="$img" logfile="$TMP/log"
uri=$(nbd_uri "$TMP/sock")

info=$(nbdinfo "$uri")
echo "$info"
for want in "export-size: 67108864" "is_read_only: false" "can_flush: true" \
            "can_fua: true" "can_cache: true" "block_size_minimum: 1" \
            "block_size_maximum: 67108864"; do
  grep -qF "$want" <<<"$info" || fail "nbdinfo lacks '$want'"
done
grep -qE 'block_size_preferred: (4096|[0-9]*)$' <<<"$info" ||
  fail "no preferred block size"

qio "$uri" \
  'write -P 0x11 0 1M' \
  'write -P 0x22 1048577 4095' \
  'write -f -P 0x33 8M 2M' \
  'write -P 0x44 63M 1M' \
  'flush'
qio "$uri" \
  'read -P 0x11 0 1M' \
  'read -P 0x00 1M 1' \
  'read -P 0x22 1048577 4095' \
  'read -P 0x00 1052672 4096' \
  'read -P 0x33 8M 2M' \
  'read -P 0x44 63M 1M'

# The same bytes must be in the file, byte for byte.
expected=$TMP/expected
truncate -s 64M "$expected"
put () { head -c "$3" /dev/zero | tr '\0' "\\$1" |
         dd of="$expected" bs=64K seek="$2" iflag=fullblock oflag=seek_bytes \
            conv=notrunc status=none; }
put 021 0 1048576
put 042 1048577 4095
put 063 8388608 2097152
put 104 66060288 1048576
cmp "$img" "$expected" || fail "image differs from what was written"

# FUA and flush reached the plugin and succeeded.
grep -q 'Write id=[0-9]* offset=0x800000 count=0x200000 fua=1' "$TMP/log" ||
  fail "no FUA write in the log"
grep -q 'Flush id=' "$TMP/log" || fail "no flush in the log"
if grep -q 'return=-' "$TMP/log"; then fail "a request failed"; fi

# A read that does not match must fail (the check above is not vacuous).
qio_fails "$uri" 'verification failed' 'read -P 0x55 0 4096'
echo OK
