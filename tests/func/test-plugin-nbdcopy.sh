#!/bin/bash
# nbdkit xcopy: nbdcopy 256 MiB of sparse random data in over an image full
# of old data, and back out, over four connections (multi-conn); compared
# with cmp.  Copying the source's holes in sends 128 MiB zero requests,
# which must really erase the old data (nbdkit 1.32's own zero fallback
# would not, past 64 MiB).
source "$(dirname "$0")/functions.sh"
requires nbdkit
requires nbdcopy
requires nbdinfo

src=$TMP/src img=$TMP/img out=$TMP/out
make_sparse_random "$src" 256
# An all-hole 128 MiB stretch guarantees at least one 128 MiB zero request.
truncate -s 128M "$src" && truncate -s 256M "$src"
head -c 256M /dev/urandom > "$img"

start_nbdkit "$TMP/sock" "$TMP/pid" --filter=log file="$img" logfile="$TMP/log"
uri=$(nbd_uri "$TMP/sock")
nbdinfo "$uri" | grep -q 'can_multi_conn: true' || fail "no multi-conn"

nbdcopy --connections=4 "$src" "$uri"
cmp "$src" "$img" || fail "image differs from the source after copying in"
nbdcopy --connections=4 "$uri" "$out"
cmp "$src" "$out" || fail "copy out differs from the source"

# Four connections were used, and zero requests over 64 MiB arrived and
# succeeded.
conns=$(grep -o 'connection=[0-9]* Connect ' "$TMP/log" | sort -u | wc -l)
(( conns >= 4 )) || fail "only $conns connections"
big=0
for c in $(sed -n 's/.* Zero id=[0-9]* offset=0x[0-9a-f]* count=\(0x[0-9a-f]*\) .*/\1/p' "$TMP/log"); do
  if (( c > 64 * 1048576 )); then big=$((big + 1)); fi
done
echo "zero requests over 64 MiB: $big"
(( big >= 1 )) || fail "no zero request over 64 MiB was sent"
if grep -q 'return=-' "$TMP/log"; then fail "a request failed"; fi

# Holes stayed holes: the copy is no more allocated than its source.
echo "allocated: src $(allocated_bytes "$src") img $(allocated_bytes "$img")"
(( $(allocated_bytes "$img") <= $(allocated_bytes "$src") + 16 * 1048576 )) ||
  fail "the copy inflated the image"
echo OK
