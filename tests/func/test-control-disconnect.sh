#!/bin/bash
# nbdkit xcopy control=: a client killed (kill -9) during a long
# synchronous COPY (PROTOCOL.md §9.3).  The server stops the copy at the
# next piece boundary, logs the outcome as a result block, releases every
# lock (an NBD write to the range then completes) and goes on serving;
# the bytes up to the logged point are copied and nothing after it.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/control-functions.sh"
requires qemu-io

M=1048576
d=$TMP/images
mkdir "$d"
head -c 1G /dev/urandom > "$d/src.img"
pattern_file "$d/dst.img" 1024 '\063'
cp "$d/dst.img" "$TMP/orig-dst"
C=$TMP/ctl
start_nbdkit_log "$TMP/log" "$TMP/sock" "$TMP/pid" -- dir="$d" control="$C"
udst=$(nbd_uri "$TMP/sock" dst.img)

# bytes "1G+64M" -> 1140850688 (sizes as the server writes them)
bytes () {
  awk -v s="$1" 'BEGIN { n = split(s, p, "+"); t = 0
    for (i = 1; i <= n; i++) {
      u = substr(p[i], length(p[i])); v = p[i] + 0
      t += v * (u == "K" ? 2^10 : u == "M" ? 2^20 : u == "G" ? 2^30 : u == "T" ? 2^40 : 1) }
    printf "%d\n", t }'
}

"$CTL_CLIENT" -s "$C" hello 'copy src.img dst.img 0:0:1G flags=BOUNCE' > "$TMP/client.out" 2>&1 &
client=$!
for i in $(seq 100); do grep -q '^sent 2' "$TMP/client.out" && break; sleep 0.05; done
grep -q '^sent 2' "$TMP/client.out" || fail "the client did not send its COPY"
sleep 0.05
kill -9 $client
wait $client 2>/dev/null || true
grep -q 'op=COPY' "$TMP/client.out" && fail "the COPY finished before the kill: make it longer"

for i in $(seq 100); do grep -q 'hung up during' "$TMP/log" && break; sleep 0.1; done
cat "$TMP/log"
line=$(grep 'hung up during' "$TMP/log") || fail "the outcome was not logged"
expect_in "$line" "control: pid [0-9]+ hung up during COPY 'src.img' -> 'dst.img' \\(1 ranges, 1G\\): stopped: bytes_done [0-9GMK+]+, ranges_done 0, failed_index 0, failed_done [0-9GMK+]+, error ECANCELED" "the logged outcome"
n=$(bytes "$(sed -n 's/.*failed_done \([^,]*\),.*/\1/p' <<<"$line")")
echo "stopped at $n"
(( n < 1024 * M && n % (64 * M) == 0 )) || fail "stopped at $n: not a piece boundary inside the copy"
cmp -n "$n" "$d/src.img" "$d/dst.img" || fail "bytes before $n not copied"
cmp -i "$n" "$d/dst.img" "$TMP/orig-dst" || fail "bytes after $n touched"

# No lock is left: NBD writes to the copy's range complete at once.
timeout 20 qemu-io -f raw -c 'write -P 0x55 0 1M' -c 'write -P 0x56 1023M 1M' "$udst" ||
  fail "an NBD write to the range did not complete (stuck lock?)"
qio "$udst" 'read -P 0x55 0 1M' 'read -P 0x56 1023M 1M' >/dev/null
# Nor for the control socket, and the server still serves.
ctl "$C" hello 'copy src.img dst.img 0:0:1M' list >/dev/null
cmp -n $M "$d/src.img" "$d/dst.img" || fail "COPY after the disconnect"

# A client that disconnects while its copy waits for a lock: nothing is
# done, nothing stays locked.
"$CTL_CLIENT" "$C" hello 'copy src.img dst.img 0:0:1G flags=ASYNC|BOUNCE' > /dev/null
"$CTL_CLIENT" -s "$C" hello 'copy src.img dst.img 0:0:1M' > "$TMP/client2.out" 2>&1 &
client=$!
for i in $(seq 100); do grep -q '^sent 2' "$TMP/client2.out" && break; sleep 0.05; done
kill -9 $client
wait $client 2>/dev/null || true
out=$(ctl "$C" hello 'wait-job 1')
expect_in "$out" 'state=done' "the job after a waiter left"
timeout 20 qemu-io -f raw -c 'write -P 0x57 0 4K' "$udst" || fail "a lock stayed after a waiter left"
kill -0 "$(cat "$TMP/pid")" || fail "nbdkit died"
echo OK
