#!/bin/bash
# nbdkit xcopy: fast zero is advertised and honest.  A FAST_ZERO request
# (qemu-io write -z -n) succeeds where punching or ZERO_RANGE can do it,
# and otherwise fails with ENOTSUP without touching the image.
source "$(dirname "$0")/functions.sh"
requires nbdkit
requires qemu-io
requires nbdinfo

M=1048576
head -c 16M /dev/urandom > "$TMP/orig"

# On the scratch file system (ext4 or XFS: ZERO_RANGE works).
cp "$TMP/orig" "$TMP/img"
start_nbdkit "$TMP/sock" "$TMP/pid" --filter=log file="$TMP/img" \
  logfile="$TMP/log"
uri=$(nbd_uri "$TMP/sock")
nbdinfo "$uri" | grep -q 'can_fast_zero: true' || fail "no can_fast_zero"
qio "$uri" "write -z -n 0 $((4 * M))" "write -z -n -u $((8 * M)) $((4 * M))" \
  "read -P 0 0 $((4 * M))" "read -P 0 $((8 * M)) $((4 * M))"
grep -q 'Zero id=[0-9]* offset=0x0 count=0x400000 trim=0 fua=[01] fast=1' \
  "$TMP/log" || fail "the fast zero did not reach the plugin"
cmp -n $((4 * M)) "$TMP/img" /dev/zero || fail "fast zero left data"
cmp -i $((12 * M)) "$TMP/img" "$TMP/orig" || fail "fast zero went too far"
if grep -q 'return=-' "$TMP/log"; then fail "a request failed"; fi

# tmpfs can punch but has no ZERO_RANGE: without trim a fast zero would
# have to write, so it must fail at once and change nothing.
[[ $(id -u) -eq 0 ]] || skip "needs root to mount tmpfs (checked ext4 only)"
mount_tmpfs "$TMP/t" 64M
cp "$TMP/orig" "$TMP/t/img"
start_nbdkit "$TMP/sock2" "$TMP/pid2" --filter=log file="$TMP/t/img" \
  logfile="$TMP/log2"
uri=$(nbd_uri "$TMP/sock2")
nbdinfo "$uri" | grep -q 'can_fast_zero: true' || fail "no can_fast_zero"
qio_fails "$uri" 'not supported' "write -z -n 0 $((4 * M))"
grep -q 'Zero id=[0-9]* offset=0x0 count=0x400000 trim=0 fua=[01] fast=1' \
  "$TMP/log2" || fail "the fast zero did not reach the plugin"
grep -q 'Zero id=[0-9]* return=-1 error=ENOTSUP' "$TMP/log2" ||
  fail "the fast zero did not fail with ENOTSUP"
cmp "$TMP/t/img" "$TMP/orig" || fail "a failed fast zero changed the image"

# With trim allowed it can punch; a normal zero writes the zeroes.
qio "$uri" "write -z -n -u 0 $((4 * M))" "write -z $((8 * M)) $((4 * M))" \
  "read -P 0 0 $((4 * M))" "read -P 0 $((8 * M)) $((4 * M))"
cp "$TMP/orig" "$TMP/expected"
dd if=/dev/zero of="$TMP/expected" bs=1M count=4 conv=notrunc status=none
dd if=/dev/zero of="$TMP/expected" bs=1M seek=8 count=4 conv=notrunc status=none
cmp "$TMP/t/img" "$TMP/expected" || fail "tmpfs: zeroes went wrong"
(( $(allocated_bytes "$TMP/t/img") <= 12 * M )) || fail "tmpfs: no hole punched"
echo OK
