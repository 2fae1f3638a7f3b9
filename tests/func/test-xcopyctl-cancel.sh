#!/bin/bash
# xcopyctl and the real server: Ctrl-C during `copy --wait` cancels the
# job; xcopyctl exits 130 and reports how far it got, and the destination,
# read through NBD, holds exactly that: the pattern up to bytes_done,
# zeroes after.  `cancel` from another process does the same for an
# --async job.  (A job that outruns the signal is accepted, and checked
# the same way.)
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/xcopyctl-functions.sh"
requires nbdkit
requires qemu-io
run_nbdkit --help 2>&1 | grep -q '^control=' ||
  skip "the plugin has no control= socket yet"

G=$(( 1 << 30 ))
img=$TMP/img
mkdir "$img"
truncate -s 1G "$img/a.img"
truncate -s 3G "$img/b.img" "$img/c.img"
start_nbdkit "$TMP/nbd.sock" "$TMP/pid" dir="$img" control="$TMP/ctl.sock"
for i in $(seq 50); do [[ -S $TMP/ctl.sock ]] && break; sleep 0.1; done
export XCOPY_SOCKET=$TMP/ctl.sock

run_ctl 0 fill a.img 0 1G 5a
expect_kind map_kind hole "$(nbd_uri "$TMP/nbd.sock" b.img)" 0 $(( 3 * G ))
# 12 ranges of 256M, laid end to end in the destination, copied with
# plain read/write so that the job lasts long enough to be interrupted.
for i in $(seq 0 11); do
  echo "$(( i % 4 * 256 ))M:$(( i * 256 ))M:256M"
done >"$TMP/ranges"

# reads BYTE OFF LEN: qemu-io reads of at most 1G (its limit is 2G).
reads () {
  local off=$2 end=$(( $2 + $3 )) n
  while (( off < end )); do
    n=$(( end - off < G ? end - off : G ))
    echo "read -P $1 $off $n"
    off=$(( off + n ))
  done
}

# check EXPORT: the last JSON outcome against the export's data: the
# pattern up to bytes_done; after it, still the holes it was created with
# (any write there would have put 0x5a bytes).
check () {
  local done cmds uri
  done=$(jq -r .result.bytes_done "$TMP/out")
  uri=$(nbd_uri "$TMP/nbd.sock" "$1")
  echo "$1: $done bytes done"
  mapfile -t cmds < <(reads 0x5a 0 "$done")
  (( done == 0 )) || qio "$uri" "${cmds[@]}"
  (( done == 3 * G )) || expect_kind map_kind hole "$uri" "$done" $(( 3 * G - done ))
}

xcopyctl --json copy --wait --method=bounce a.img --to b.img -f "$TMP/ranges" \
  >"$TMP/out" 2>"$TMP/err" &
pid=$!
sleep 0.4
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
cat "$TMP/out" "$TMP/err"
if (( rc == 130 )); then
  jq_is '"\(.status) \(.result.error) \(.job.bytes_total)"' \
    "cancelled ECANCELED $(( 3 * G ))"
  jq_is '.result.failed_index == .result.ranges_done' true
  err_has "xcopyctl: copy: job "
  err_has "cancelled"
  err_has "progress: "
else
  (( rc == 0 )) || fail "copy --wait interrupted: exit $rc"
  echo "the job finished before Ctrl-C reached it"
  jq_is .status done
fi
check b.img

run_ctl 0 copy --async --method=bounce a.img --to c.img -f "$TMP/ranges"
id=$(cat "$TMP/out")
sleep 0.3
run_ctl 0 --json cancel "$id"
jq_is '.jobs[0].state | test("cancelled|done")' true
jq '.jobs[0]' "$TMP/out" >"$TMP/job"
cp "$TMP/job" "$TMP/out"
check c.img
echo OK
