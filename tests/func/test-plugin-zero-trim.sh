#!/bin/bash
# nbdkit xcopy: write-zeroes with and without unmap, discard, at aligned
# and unaligned offsets; the bytes (through NBD and in the file), the
# extent maps (nbdinfo --map and qemu-img map) and allocated space.
source "$(dirname "$0")/functions.sh"
requires nbdkit
requires qemu-io
requires qemu-img
requires nbdinfo

M=1048576
img=$TMP/img
head -c 64M /dev/urandom > "$img"
cp "$img" "$TMP/expected"
# zero_expected OFF LEN: the model of what the image must now hold.
zero_expected () {
  head -c "$2" /dev/zero | dd of="$TMP/expected" bs=64K seek="$1" \
    iflag=fullblock oflag=seek_bytes conv=notrunc status=none
}

start_nbdkit "$TMP/sock" "$TMP/pid" --filter=log file="$img" logfile="$TMP/log"
uri=$(nbd_uri "$TMP/sock")
expect_kind map_kind data "$uri" 0 $((64 * M))

before=$(allocated_bytes "$img")
qio "$uri" \
  "write -z $((4 * M)) $((4 * M))" \
  "write -z -u $((16 * M)) $((8 * M))" \
  "discard $((32 * M)) $((8 * M))" \
  "write -z -u $((50 * M + 100)) 1000" \
  "discard $((52 * M + 512)) $((M + 7))" \
  "write -P 0x5a $((20 * M)) $M"
zero_expected $((4 * M)) $((4 * M))
zero_expected $((16 * M)) $((8 * M))
zero_expected $((32 * M)) $((8 * M))
zero_expected $((50 * M + 100)) 1000
zero_expected $((52 * M + 512)) $((M + 7))
head -c $M /dev/zero | tr '\0' '\132' |
  dd of="$TMP/expected" bs=64K seek=$((20 * M)) iflag=fullblock \
     oflag=seek_bytes conv=notrunc status=none

qio "$uri" \
  "read -P 0 $((4 * M)) $((4 * M))" \
  "read -P 0 $((16 * M)) $((4 * M))" \
  "read -P 0x5a $((20 * M)) $M" \
  "read -P 0 $((21 * M)) $((3 * M))" \
  "read -P 0 $((32 * M)) $((8 * M))" \
  "read -P 0 $((50 * M + 100)) 1000" \
  "read -P 0 $((52 * M + 512)) $((M + 7))"
cmp "$img" "$TMP/expected" || fail "image differs from the model"

# Unmapped zeroes and discards are holes; writes are data.
for tool in map_kind qmap_kind; do
  expect_kind $tool hole "$uri" $((16 * M)) $((4 * M))
  expect_kind $tool data "$uri" $((20 * M)) $M
  expect_kind $tool hole "$uri" $((21 * M)) $((3 * M))
  expect_kind $tool hole "$uri" $((32 * M)) $((8 * M))
  expect_kind $tool data "$uri" 0 $((4 * M))
  expect_kind $tool data "$uri" $((44 * M)) $((4 * M))
done
after=$(allocated_bytes "$img")
echo "allocated: before $before, after $after"
(( before - after >= 15 * M )) || fail "trim and unmap freed too little"

# The requests really were zero (with and without trim) and trim.
grep -q "Zero id=[0-9]* offset=0x400000 count=0x400000 trim=0" "$TMP/log" ||
  fail "no zero without trim in the log"
grep -q "Zero id=[0-9]* offset=0x1000000 count=0x800000 trim=1" "$TMP/log" ||
  fail "no zero with trim in the log"
grep -q "Trim id=[0-9]* offset=0x2000000 count=0x800000" "$TMP/log" ||
  fail "no trim in the log"
if grep -q 'return=-' "$TMP/log"; then fail "a request failed"; fi
echo OK
