#!/bin/bash
# nbdkit xcopy control=: JOB_STATUS shows a running job's progress and
# JOB_CANCEL stops it at a piece or range boundary with exact progress
# (PROTOCOL.md §6.12, §6.13): the data up to that point is copied and
# nothing after it is touched.  A queued job is cancelled with no
# progress.  Copies are forced through the bounce buffer so they take a
# while.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/control-functions.sh"

M=1048576
d=$TMP/images
mkdir "$d"
head -c 512M /dev/urandom > "$d/src.img"
pattern_file "$d/dst.img" 512 '\042'
cp "$d/dst.img" "$TMP/orig-dst"
C=$TMP/ctl
start_nbdkit "$TMP/sock" "$TMP/pid" dir="$d" control="$C"

# ---- one long range: stops at a 64 MiB piece boundary
out=$(ctl "$C" hello 'copy src.img dst.img 0:0:512M flags=ASYNC|BOUNCE' \
        'wait-job last min=1' 'cancel last' 'jobs last')
echo "$out"
running=$(grep -A1 'op=JOB_STATUS' <<<"$out" | grep '  job ' | head -1)
expect_in "$running" 'state=running total=536870912 bytes_done=[1-9]' "JOB_STATUS of a running job"
cancelled=$(grep -A1 'op=JOB_CANCEL' <<<"$out" | grep '  job ')
expect_in "$cancelled" 'state=cancelled total=536870912 .*ranges_done=0 failed_index=0 .*error=ECANCELED' "JOB_CANCEL"
n=$(field failed_done "$cancelled")
[[ $(field bytes_done "$cancelled") == "$n" ]] || fail "bytes_done != failed_done for one range"
(( n > 0 && n < 512 * M )) || fail "cancel did not stop mid-copy (at $n)"
(( n % (64 * M) == 0 )) || fail "stopped at $n, not at a 64 MiB piece boundary"
final=$(grep -A1 'op=JOB_STATUS' <<<"$out" | grep '  job ' | tail -1)
[[ ${final#*state=} == "${cancelled#*state=}" ]] || fail "JOB_STATUS after the cancel differs: $final"
cmp -n "$n" "$d/src.img" "$d/dst.img" || fail "bytes before $n not copied"
cmp -i "$n" "$d/dst.img" "$TMP/orig-dst" || fail "bytes after $n touched"
echo "cancelled one range at $((n / M)) MiB"

# ---- many ranges (not adjacent, so not merged): stops at a range
# boundary, failed_index = ranges_done, failed_done 0
cp "$TMP/orig-dst" "$d/dst.img"
ranges=""
for (( i = 15; i >= 0; i-- )); do ranges+="${ranges:+,}$((i * 32))M:$((i * 32))M:32M"; done
out=$(ctl "$C" hello "copy src.img dst.img $ranges flags=ASYNC|BOUNCE" \
        'wait-job last min=1' 'cancel last')
echo "$out"
cancelled=$(grep -A1 'op=JOB_CANCEL' <<<"$out" | grep '  job ')
k=$(field ranges_done "$cancelled")
expect_in "$cancelled" "state=cancelled .*ranges_done=$k failed_index=$k failed_done=0 error=ECANCELED" "cancel between ranges"
(( k > 0 && k < 16 )) || fail "cancel did not stop mid-batch (after $k ranges)"
[[ $(field bytes_done "$cancelled") == $((k * 32 * M)) ]] || fail "bytes_done is not $k ranges"
# Ranges run from the top: the last k 32 MiB blocks are copied, no other.
split=$(( (16 - k) * 32 * M ))
cmp -n "$split" "$d/dst.img" "$TMP/orig-dst" || fail "a range after the stop was touched"
cmp -i "$split" "$d/dst.img" "$d/src.img" || fail "a range before the stop is not copied"

# ---- FILL: the plugin's own pieces, whole patterns
cp "$d/dst.img" "$TMP/before-fill"
out=$(ctl "$C" hello 'fill dst.img 0 510M 0a0b0c flags=ASYNC' 'wait-job last min=1' 'cancel last')
cancelled=$(grep -A1 'op=JOB_CANCEL' <<<"$out" | grep '  job ')
expect_in "$cancelled" 'state=(cancelled|done)' "FILL cancel"
if [[ $cancelled == *cancelled* ]]; then
  n=$(field failed_done "$cancelled")
  (( n % 3 == 0 && n > 0 )) || fail "FILL stopped at $n, not after whole patterns"
  head -c "$n" /dev/zero | tr '\0' '\001' | sed 's/\x01\x01\x01/\n\v\f/g' | head -c "$n" > "$TMP/fill"
  cmp -n "$n" "$d/dst.img" "$TMP/fill" || fail "FILL: bytes before $n not filled"
  cmp -i "$n" "$d/dst.img" "$TMP/before-fill" || fail "FILL: bytes after $n touched"
fi

# ---- a queued job: cancelled with no progress
out=$(ctl "$C" hello \
  'copy src.img dst.img 0:0:512M flags=ASYNC|BOUNCE' \
  'copy src.img dst.img 0:0:512M flags=ASYNC|BOUNCE' \
  'copy src.img dst.img 0:0:512M flags=ASYNC|BOUNCE' \
  'copy src.img dst.img 0:0:512M flags=ASYNC|BOUNCE' \
  'zero dst.img 0 1M flags=ASYNC' 'cancel last' \
  jobs 'cancel 5' 'cancel 6' 'cancel 7' 'cancel 8' jobs)
echo "$out"
q=$(grep -A1 'op=JOB_CANCEL' <<<"$out" | grep '  job ' | head -1)
expect_in "$q" 'op=ZERO state=cancelled total=1048576 bytes_done=0 ranges_done=0 failed_index=0 failed_done=0 error=ECANCELED' "cancel of a queued job"
[[ $(grep -c 'state=\(cancelled\|done\)' <<<"$(tail -6 <<<"$out")") -ge 5 ]] || fail "jobs did not all end"
echo OK
