#!/bin/bash
# nbdkit xcopy control=: NBD writes to a range a COPY is writing are
# serialised with it (PROTOCOL.md §9.2 (1)): each write lands entirely
# before the copy (and is overwritten by it) or entirely after it, never
# in the middle.
#
# A COPY of all-0xAA over 256 MiB of an image runs as a job, as 524288
# ranges of 512 bytes from the top down, so it takes a few seconds.
#
# 1. While it runs, one NBD write of 0xBB to the bottom MiB (which the
#    copy reaches last).  The copy holds its destination from the start,
#    so the write waits: when it returns, the job is done and the MiB
#    holds 0xBB.  (Unlocked, the write returns at once while the job is
#    still running, and the copy then overwrites it with 0xAA.)
# 2. Again, while qemu-io writes 16 MiB chunks of 0xBB from the bottom up,
#    so writes and copy sweep towards each other.  Serialised, every chunk
#    ends up all 0xAA (written before the copy took its locks) or all 0xBB
#    (written after it), the 0xAA chunks below the 0xBB ones.  Unlocked,
#    the write to the chunk the copy is crossing lands on top of the
#    copy's upper part and under its lower part: a chunk of both.
# Both checks fail when plugin/xcopy.c's lock_range() is made a no-op (the
# first always, the second about every other run).
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/control-functions.sh"
requires qemu-io

M=1048576
CH=16                           # MiB per chunk
N=16                            # chunks
d=$TMP/images
mkdir "$d"
pattern_file "$d/src.img" $((CH * N)) '\252'
pattern_file "$d/dst.img" $((CH * N)) '\021'
pattern_file "$TMP/A" $CH '\252'
pattern_file "$TMP/B" $CH '\273'
C=$TMP/ctl
start_nbdkit "$TMP/sock" "$TMP/pid" dir="$d" control="$C"
udst=$(nbd_uri "$TMP/sock" dst.img)

cmds=()
for (( i = 0; i < N; i++ )); do cmds+=(-c "write -P 0xbb $((i * CH))M ${CH}M"); done
awk -v n=$((CH * N * 2048)) 'BEGIN { for (i = n - 1; i >= 0; i--) print i * 512, i * 512, 512 }' \
  > "$TMP/ranges"

# ---- 1: one write waits for the whole copy
ctl "$C" hello "copy src.img dst.img @$TMP/ranges flags=ASYNC|BOUNCE" \
  'wait-job last min=1' | tail -1
qemu-io -f raw -c 'write -P 0xbb 0 1M' "$udst" || fail "qemu-io write failed"
out=$(ctl "$C" hello 'jobs 1')
[[ $out == *state=running* ]] && { sleep 0.2; out=$(ctl "$C" hello 'jobs 1'); }
echo "$out" | tail -1
expect_in "$out" 'state=done' "the NBD write returned while the copy was running"
qio "$udst" 'read -P 0xbb 0 1M' 'read -P 0xaa 1M 1M' >/dev/null

# ---- 2: a sweep of writes crossing the copy
ctl "$C" hello "copy src.img dst.img @$TMP/ranges flags=ASYNC|BOUNCE" \
  'wait-job last min=1' | tail -1
qemu-io -f raw "${cmds[@]}" "$udst" > "$TMP/qio.log" 2>&1 || fail "qemu-io failed"
out=$(ctl "$C" hello 'wait-job 2')
echo "$out" | tail -1
expect_in "$out" 'state=done' "the copy"

kinds=""
for (( i = 0; i < N; i++ )); do
  if cmp -s -i "$((i * CH * M)):0" -n $((CH * M)) "$d/dst.img" "$TMP/A"; then kinds+=A
  elif cmp -s -i "$((i * CH * M)):0" -n $((CH * M)) "$d/dst.img" "$TMP/B"; then kinds+=B
  else kinds+=X
  fi
done
echo "chunks from offset 0: $kinds"
[[ $kinds != *X* ]] || fail "a chunk holds parts of both the copy and a write: not serialised"
[[ $kinds =~ ^A*B*$ ]] || fail "chunks not in one serial order: $kinds"
echo OK
