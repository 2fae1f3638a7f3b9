#!/bin/bash
# nbdkit xcopy control=: many clients at once.  Twenty clients each copy,
# fill, query and run a job on their own region of one export at the same
# time; every result is right.  Then 64 idle sessions fill the server: the
# next client is told EBUSY and disconnected, and once the idle ones go
# new clients are served again.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/control-functions.sh"

M=1048576
K=20
d=$TMP/images
mkdir "$d"
head -c $((K * M)) /dev/urandom > "$d/src.img"
truncate -s $((2 * K * M)) "$d/dst.img"
C=$TMP/ctl
start_nbdkit "$TMP/sock" "$TMP/pid" dir="$d" control="$C"

# client I: its MiB of src.img to MiB I of dst.img (in 4 ranges), a FILL
# of MiB K+I, and an ASYNC copy it waits for.
client () {
  local i=$1
  ctl "$C" "hello name=client-$i" list 'stat dst.img' \
    "copy src.img dst.img $((i * M)):$((i * M)):256K,$((i * M + 262144)):$((i * M + 262144)):768K" \
    "fill dst.img $(( (K + i) * M )) 1M $(printf '%02x' $((i + 1)))" \
    "copy src.img dst.img $((i * M)):$((i * M)):1M flags=ASYNC" 'wait-job last' \
    "extents dst.img $((i * M)) 1M" > "$TMP/client-$i.log"
}
pids=()
for (( i = 0; i < K; i++ )); do client $i & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "a client failed"; done
cat "$TMP/client-3.log"
[[ $(cat "$TMP"/client-*.log | grep -c 'state=done') -eq $K ]] || fail "not every job done"
cmp -n $((K * M)) "$d/src.img" "$d/dst.img" || fail "a copy went wrong"
for (( i = 0; i < K; i++ )); do
  head -c $M /dev/zero | tr '\0' "\\$(printf '%03o' $((i + 1)))" > "$TMP/pat"
  cmp -n $M -i $(( (K + i) * M )):0 "$d/dst.img" "$TMP/pat" || fail "FILL $i went wrong"
done

# ---- the connection limit
idle=()
for (( i = 0; i < 64; i++ )); do
  "$CTL_CLIENT" "$C" hello 'sleep 20000' > /dev/null 2>&1 & idle+=($!)
done
for (( t = 0; t < 100; t++ )); do
  (( $(ls /proc/"$(cat "$TMP/pid")"/fd | wc -l) >= 64 + 4 )) && break
  sleep 0.1
done
sleep 0.5
out=$(ctl "$C" 'hello expect=EBUSY' eof)
expect_in "$out" 'status=EBUSY closing=1 .*msg="server: too many control connections \(limit 64\)"' "the 65th client"
kill "${idle[@]}"
wait "${idle[@]}" 2>/dev/null || true
for (( t = 0; t < 50; t++ )); do
  "$CTL_CLIENT" "$C" hello list > "$TMP/after" 2>&1 && break
  sleep 0.1
done
expect_in "$(cat "$TMP/after")" 'op=LIST_EXPORTS .*status=0' "a client after the idle ones left"
echo OK
