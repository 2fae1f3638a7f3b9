#!/bin/bash
# xcopyctl against the real server: `nbdkit xcopy dir=... control=SOCK`.
# Every command, with the data checked through NBD (nbdcopy, qemu-io)
# against a model built with dd; refusals naming the range and field; jobs
# (--async, jobs --wait, a progress bar on a terminal); clone; --json
# parsed; exit 3 once the server is gone.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/xcopyctl-functions.sh"
requires nbdkit
requires nbdcopy
requires qemu-io
run_nbdkit --help 2>&1 | grep -q '^control=' ||
  skip "the plugin has no control= socket yet"

M=$(( 1 << 20 ))
img=$TMP/img
mkdir "$img"
make_sparse_random "$img/a.img" 64
truncate -s 64M "$img/b.img"
cp --sparse=always "$img/a.img" "$TMP/a.model"
cp --sparse=always "$img/b.img" "$TMP/b.model"

start_nbdkit "$TMP/nbd.sock" "$TMP/pid" dir="$img" control="$TMP/ctl.sock"
for i in $(seq 50); do [[ -S $TMP/ctl.sock ]] && break; sleep 0.1; done
export XCOPY_SOCKET=$TMP/ctl.sock

# model_copy FROM SRC TO DST LEN: what a copy does, through a buffer
# (memmove) — offsets and lengths in bytes.
model_copy () {
  dd if="$1" of="$TMP/piece" iflag=skip_bytes,count_bytes skip="$2" \
     count="$5" bs=1M status=none
  dd if="$TMP/piece" of="$3" oflag=seek_bytes seek="$4" conv=notrunc \
     bs=1M status=none
}
# model_fill FILE OFF LEN PATTERNFILE; model_zero FILE OFF LEN
model_fill () {
  perl -e 'local $/; my $p = <STDIN>; print substr ($p x ($ARGV[0] / length ($p) + 1), 0, $ARGV[0])' \
    "$3" <"$4" >"$TMP/piece"
  dd if="$TMP/piece" of="$1" oflag=seek_bytes seek="$2" conv=notrunc \
     bs=1M status=none
}
model_zero () {
  dd if=/dev/zero of="$1" oflag=seek_bytes seek="$2" count="$3" \
     iflag=count_bytes conv=notrunc bs=1M status=none
}
# verify EXPORT MODEL: the export, read through NBD, equals the model.
verify () {
  rm -f "$TMP/got"
  nbdcopy "$(nbd_uri "$TMP/nbd.sock" "$1")" "$TMP/got"
  cmp "$TMP/got" "$2" || fail "export $1 differs from its model"
  echo "verified $1 through NBD"
}

# ---- exports, stat ----
run_ctl 0 exports
[[ $(tr '\n' ' ' <"$TMP/out") == "a.img b.img " ]] || fail "exports"
run_ctl 0 --json stat
keep_json
jq_is '[.exports[] | "\(.name):\(.size):\(.readonly)"] | join(" ")' \
  "a.img:67108864:false b.img:67108864:false"
jq_is '[.counters[].method] | index("copy_file_range") != null' true
jq_is '.server.capabilities | join(",")' "jobs,extents,clone"
run_ctl 0 stat a.img
grep -qE '^a\.img +64M ' "$TMP/out" || fail "stat a.img"

# ---- copy between exports and within one (memmove, both directions) ----
run_ctl 0 --json copy a.img 0:0:4M 8M+4K:16M:1M+3 --to b.img
keep_json
jq_is '"\(.status) \(.result.ranges_done) \(.result.bytes_done)"' \
  "done 2 $(( 5 * M + 3 ))"
model_copy "$TMP/a.model" 0 "$TMP/b.model" 0 $(( 4 * M ))
model_copy "$TMP/a.model" $(( 8 * M + 4096 )) "$TMP/b.model" $(( 16 * M )) \
  $(( M + 3 ))
verify b.img "$TMP/b.model"

run_ctl 0 copy a.img 0:1M:4M 10M:9M+512:2M
out_has "copy: done: 2 ranges, 6M (6291456 bytes)"
model_copy "$TMP/a.model" 0 "$TMP/a.model" $M $(( 4 * M ))
model_copy "$TMP/a.model" $(( 10 * M )) "$TMP/a.model" $(( 9 * M + 512 )) \
  $(( 2 * M ))
verify a.img "$TMP/a.model"

printf '# from a ranges file\n20M:48M:1M\n\n21M:50M:64K  # comment\n' >"$TMP/list"
run_ctl 0 copy --sync a.img --to b.img -f "$TMP/list" 22M:52M:4K
out_has "copy: done: 3 ranges"
model_copy "$TMP/a.model" $(( 20 * M )) "$TMP/b.model" $(( 48 * M )) $M
model_copy "$TMP/a.model" $(( 21 * M )) "$TMP/b.model" $(( 50 * M )) 65536
model_copy "$TMP/a.model" $(( 22 * M )) "$TMP/b.model" $(( 52 * M )) 4096
run_ctl 0 copy --method=bounce --allocate a.img 30M:56M:1M --to b.img
model_copy "$TMP/a.model" $(( 30 * M )) "$TMP/b.model" $(( 56 * M )) $M
verify b.img "$TMP/b.model"

# ---- fill, zero, unmap, flush ----
run_ctl 0 fill b.img 32M 1M 5a
out_has "fill: done: 1M"
qio "$(nbd_uri "$TMP/nbd.sock" b.img)" 'read -P 0x5a 32M 1M'
printf '\x5a' >"$TMP/p1"
model_fill "$TMP/b.model" $(( 32 * M )) $M "$TMP/p1"
run_ctl 0 --json fill b.img 36M 3M de:ad:be:ef
keep_json
jq_is .result.bytes_done $(( 3 * M ))
printf '\xde\xad\xbe\xef' >"$TMP/p4"
model_fill "$TMP/b.model" $(( 36 * M )) $(( 3 * M )) "$TMP/p4"
printf 'xyz' >"$TMP/p3"
run_ctl 0 fill b.img 1M+1 30K @"$TMP/p3"
model_fill "$TMP/b.model" $(( M + 1 )) 30720 "$TMP/p3"
verify b.img "$TMP/b.model"

run_ctl 0 zero b.img 0 64K+1
model_zero "$TMP/b.model" 0 65537
run_ctl 0 zero --trim b.img 32M 1M
model_zero "$TMP/b.model" $(( 32 * M )) $M
run_ctl 0 unmap b.img 40M:1M 44M:4K
out_has "unmap: done: 2 spans, 1M+4K"
model_zero "$TMP/b.model" $(( 40 * M )) $M
model_zero "$TMP/b.model" $(( 44 * M )) 4096
run_ctl 0 flush b.img
out_has "flush: done"
verify b.img "$TMP/b.model"

# What unmap left is a hole, in xcopyctl's extents and in NBD's map.
run_ctl 0 --json extents b.img 40M 1M
keep_json
jq_is '[.extents[].type] | unique | join(",")' hole
expect_kind map_kind hole "$(nbd_uri "$TMP/nbd.sock" b.img)" $(( 40 * M )) $M
run_ctl 0 extents a.img
[[ $(awk 'NR > 1 { n++ } END { print n }' "$TMP/out") -ge 2 ]] ||
  fail "a.img (sparse) should list data and holes"

# ---- refusals name the range and field; nothing is done ----
run_ctl 1 copy a.img 0:0:1M 1M:63M+512K:1M --to b.img
err_has "xcopyctl: copy: range 1: dst end 64M+512K beyond export size 64M (ERANGE)"
err_has "nothing was done"
run_ctl 1 --json copy a.img 0:0:1 --to nope.img
keep_json
jq_is '"\(.status) \(.error.name)"' "failed ENOENT"
run_ctl 1 unmap b.img 0:1M 63M:2M
err_has "span 1"
err_has "(ERANGE)"
run_ctl 1 fill b.img 64M 1 00
err_has "(ERANGE)"
run_ctl 1 stat nope.img
err_has "(ENOENT)"
run_ctl 1 extents b.img 63M 2M
err_has "(ERANGE)"
verify b.img "$TMP/b.model"

# ---- jobs ----
run_ctl 0 copy --async a.img 0:20M:1M --to b.img
id=$(cat "$TMP/out")
[[ $id =~ ^[0-9]+$ ]] || fail "--async printed '$id'"
run_ctl 0 jobs "$id" --wait
out_has "done"
model_copy "$TMP/a.model" 0 "$TMP/b.model" $(( 20 * M )) $M
run_ctl 0 --json jobs
keep_json
jq_is "[.jobs[] | select(.id == $id)][0] | \"\(.operation) \(.state) \(.bytes_total)\"" \
  "copy done $M"
run_ctl 0 --json cancel "$id"                  # already done: reported so
keep_json
jq_is '.jobs[0].state' done
run_ctl 1 jobs 999999
err_has "(ENOENT)"

run_ctl 0 --json zero --wait b.img 2M 1M
keep_json
jq_is '"\(.status) \(.job.bytes_total) \(.result.bytes_done)"' \
  "done $M $M"
model_zero "$TMP/b.model" $(( 2 * M )) $M
on_tty "xcopyctl copy --wait a.img 0:24M:4M --to b.img"
grep -q '\[#*\.*\] *[0-9]*%' "$TMP/tty" || fail "no progress bar on a tty"
grep -q "copy: done: 1 range, 4M" "$TMP/tty" || fail "no summary on a tty"
model_copy "$TMP/a.model" 0 "$TMP/b.model" $(( 24 * M )) $(( 4 * M ))
verify b.img "$TMP/b.model"

# ---- clone ----
run_ctl 0 clone a.img a2.img
out_has "clone: done: 64M"
verify a2.img "$TMP/a.model"
run_ctl 1 clone a.img a2.img
err_has "(EEXIST)"
run_ctl 0 --json clone --wait --replace b.img a2.img
keep_json
jq_is .status done
verify a2.img "$TMP/b.model"
run_ctl 2 clone a.img ../x.img
err_has "clone.dst"

run_ctl 0 --json stat
keep_json
jq_is '[.counters[].bytes] | add > 0' true

json_keys_documented

# The server goes away: exit 3, naming the socket.
stop_pid "$(cat "$TMP/pid")"
run_ctl 3 stat
err_has "$TMP/ctl.sock"
echo OK
