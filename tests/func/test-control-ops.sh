#!/bin/bash
# nbdkit xcopy control=: every operation succeeds and does what it says,
# checked through NBD (nbdcopy, qemu-io, nbdinfo --map) against a model
# of each image kept with dd: HELLO, LIST_EXPORTS, STAT, COPY (between
# exports, within one, overlapping), FILL, ZERO, UNMAP, FLUSH, EXTENTS,
# CLONE, JOB_STATUS, JOB_CANCEL; then the same in file= mode.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/control-functions.sh"
requires qemu-io
requires nbdcopy
requires nbdinfo

M=1048576
d=$TMP/images
mkdir "$d"
head -c 16M /dev/urandom > "$d/a.img"
truncate -s 16M "$d/b.img"
cp "$d/a.img" "$TMP/model-a"
cp "$d/b.img" "$TMP/model-b"
C=$TMP/ctl
start_nbdkit "$TMP/sock" "$TMP/pid" dir="$d" control="$C"
ua=$(nbd_uri "$TMP/sock" a.img)
ub=$(nbd_uri "$TMP/sock" b.img)

# model SRC SOFF DST DOFF LEN: what a copy does, on the model files
# (through a snapshot, so overlapping ranges behave like memmove).
model () {
  cp "$TMP/model-$1" "$TMP/snap"
  dd if="$TMP/snap" of="$TMP/model-$3" bs=64K skip="$2" seek="$4" \
     count="$5" iflag=skip_bytes,count_bytes oflag=seek_bytes conv=notrunc \
     status=none
}
# check EXPORT: the export reads exactly as its model.
check () {
  rm -f "$TMP/out"
  nbdcopy "$(nbd_uri "$TMP/sock" "$1.img")" "$TMP/out"
  cmp "$TMP/out" "$TMP/model-$1" || fail "export $1.img differs from its model"
}

# ---- session and discovery
out=$(ctl "$C" 'hello name=ops-test' list 'stat a.img' stat-all)
expect_in "$out" 'op=HELLO .*caps=0x7 max_payload=33554432 max_ranges=1048576 version=1 name="nbdkit-xcopy' HELLO
expect_in "$out" $'export "a.img"\n  export "b.img"' LIST_EXPORTS
expect_in "$out" 'export "a.img" size=16777216 block_size=[1-9][0-9]* flags=0' STAT
expect_in "$out" 'counter bounce bytes=' STAT
[[ $(grep -c '^  export "' <<<"$out") -eq 5 ]] || fail "STAT ALL_EXPORTS: not two exports"
out=$(ctl "$C" hello 'stat -')
expect_in "$out" 'export "a.img" size=16777216' "STAT of the default export"

# ---- COPY between exports, several ranges, and one of length 0
out=$(ctl "$C" hello 'copy a.img b.img 0:2M:1M,5M:8M:3M,1M:0:0')
expect_in "$out" 'bytes_done=4194304 ranges_done=3 failed_index=none failed_done=0 error=0' COPY
model a 0 b $((2 * M)) $M
model a $((5 * M)) b $((8 * M)) $((3 * M))
check b
qio "$ub" "read -P 0 0 2M" > /dev/null

# ---- COPY within one export, overlapping both ways (memmove)
ctl "$C" hello 'copy b.img b.img 8M:8704K:3M' 'copy b.img b.img 2M:1536K:1M' >/dev/null
model b $((8 * M)) b $((8 * M + 512 * 1024)) $((3 * M))
model b $((2 * M)) b $((3 * M / 2)) $M
check b

# ---- FILL with a 4-byte pattern, unaligned
ctl "$C" hello 'fill b.img 12289K 1M deadbeef flags=SYNC' >/dev/null
head -c $M /dev/zero | tr '\0' '\1' | sed 's/\x01\x01\x01\x01/\xde\xad\xbe\xef/g' > "$TMP/pat"
[[ $(stat -c %s "$TMP/pat") -eq $M ]] || fail "could not build the pattern"
dd if="$TMP/pat" of="$TMP/model-b" seek=$((12289 * 1024)) oflag=seek_bytes conv=notrunc status=none
check b

# ---- ZERO (allocated), ZERO with MAY_TRIM, UNMAP of two spans
ctl "$C" hello 'zero b.img 2M 512K' 'zero b.img 9M 1M flags=MAY_TRIM' \
  'unmap b.img 8M:512K,14M:1M' >/dev/null
for z in "$((2 * M)) $((M / 2))" "$((9 * M)) $M" "$((8 * M)) $((M / 2))" "$((14 * M)) $M"; do
  set -- $z
  dd if=/dev/zero of="$TMP/model-b" bs=64K seek="$1" count="$2" \
     iflag=count_bytes oflag=seek_bytes conv=notrunc status=none
done
check b
qio "$ub" "read -P 0 2M 512K" "read -P 0 14M 1M" > /dev/null
expect_kind map_kind hole "$ub" $((14 * M)) $M
expect_kind map_kind hole "$ub" $((8 * M)) $((M / 2))

# ---- EXTENTS agree with nbdinfo --map
out=$(ctl "$C" hello 'extents b.img 0 16M')
ours=$(awk '$1 == "extent" { printf "%s %s %s\n", $2, $3, $4 }' <<<"$out")
theirs=$(nbdinfo --map "$ub" | awk '{ printf "%s %s %s\n", $1, $2, ($3 == 3 ? "hole" : "data") }')
[[ $ours == "$theirs" ]] || { echo "ours:"; echo "$ours"; echo "nbdinfo:"; echo "$theirs"; fail "EXTENTS differ from nbdinfo --map"; }
out=$(ctl "$C" hello 'extents b.img 8M 1')
expect_in "$out" 'extent 8388608 1 hole' "EXTENTS of one byte"

# ---- FLUSH
ctl "$C" hello 'flush a.img' 'flush -' >/dev/null

# ---- CLONE: content, then REPLACE, then the clone is an export
ctl "$C" hello 'clone a.img c.img' >/dev/null
cmp "$d/a.img" "$d/c.img" || fail "CLONE: c.img differs from a.img"
[[ $(stat -c %a "$d/c.img") == $(stat -c %a "$d/a.img") ]] || fail "CLONE: mode not copied"
ctl "$C" hello 'clone b.img c.img expect=EEXIST' 'clone b.img c.img flags=REPLACE' >/dev/null
cmp "$d/b.img" "$d/c.img" || fail "CLONE REPLACE: c.img differs from b.img"
ls -a "$d" | grep -q xcopy && fail "CLONE left a temporary file"
out=$(ctl "$C" hello list)
expect_in "$out" 'export "c.img"' "the clone is listed"

# ---- jobs: ASYNC of each long operation, JOB_STATUS, JOB_CANCEL of a
# finished job reports it as it ended
out=$(ctl "$C" hello 'copy a.img b.img 0:0:1M flags=ASYNC' 'wait-job last' \
        'fill b.img 1M 1M 77 flags=ASYNC' 'wait-job last' \
        'zero b.img 1M 4K flags=ASYNC' 'wait-job last' \
        'unmap b.img 1M:4K flags=ASYNC' 'wait-job last' \
        'clone a.img d.img flags=ASYNC' 'wait-job last' \
        'cancel last' 'jobs' 'jobs 1')
echo "$out"
[[ $(grep -c 'job=[1-9][0-9]* total=' <<<"$out") -eq 5 ]] || fail "not five jobs started"
expect_in "$out" 'job=1 total=1048576' "COPY job total"
expect_in "$out" 'job=5 total=16777216' "CLONE job total"
for op in COPY FILL ZERO UNMAP CLONE; do
  expect_in "$out" "job id=[0-9]* op=$op state=done" "$op job done"
done
expect_in "$out" 'op=JOB_CANCEL .*status=0' "JOB_CANCEL of a finished job"
[[ $(grep -A6 'op=JOB_STATUS' <<<"$out" | grep -c 'state=done') -ge 5 ]] || fail "JOB_STATUS 0 lists fewer than 5 jobs"
model a 0 b 0 $M
head -c $M /dev/zero | tr '\0' '\167' > "$TMP/p77"
dd if="$TMP/p77" of="$TMP/model-b" seek=$M oflag=seek_bytes conv=notrunc status=none
dd if=/dev/zero of="$TMP/model-b" bs=4K seek=256 count=1 conv=notrunc status=none
check b
cmp "$d/a.img" "$d/d.img" || fail "CLONE job: d.img differs"

# ---- the counters moved
out=$(ctl "$C" hello 'stat a.img')
total=$(awk '/ counter / { sub("bytes=", "", $3); s += $3 } END { print s }' <<<"$out")
(( total > 4 * M )) || fail "STAT counters did not move ($total)"

# ---- file= mode: one export, any name; CLONE next to the file
mkdir "$TMP/f"
head -c 4M /dev/urandom > "$TMP/f/single.img"
start_nbdkit "$TMP/sock2" "$TMP/pid2" file="$TMP/f/single.img" control="$TMP/ctl2"
out=$(ctl "$TMP/ctl2" hello list 'stat -' 'stat whatever' \
        'copy - other 0:2M:1M' 'clone x clone.img' \
        'clone - single.img expect=EINVAL')
expect_in "$out" $'op=LIST_EXPORTS.*\n  export ""' "file=: LIST_EXPORTS"
expect_in "$out" 'export "whatever" size=4194304' "file=: any name"
expect_in "$out" "msg=\"clone.dst: 'single.img' is the source export itself\"" "file=: CLONE onto itself"
cmp -n $M "$TMP/f/single.img" "$TMP/f/single.img" -i 0:$((2 * M)) || fail "file=: COPY"
cmp "$TMP/f/single.img" "$TMP/f/clone.img" || fail "file=: CLONE next to the file"
echo OK
