#!/bin/bash
# xcopyctl against a fake control server (tests/unit/prog-xcopyctl-fake.c)
# that fails on cue: every command in human and JSON form, every exit code
# (0 done, 1 refused, 3 connection/protocol, 4 partial, 130 cancelled),
# messages that name the field and the progress, jobs with --async,
# --wait, Ctrl-C and cancel, and the progress bar only on a terminal.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/xcopyctl-functions.sh"

export XCOPY_SOCKET=$TMP/fake.sock
start_fake "$XCOPY_SOCKET"

# ---- exports, stat, flush, extents ----
run_ctl 0 exports
[[ $(tr '\n' ' ' <"$TMP/out") == "a b enospc ro slow " ]] || fail "exports"
run_ctl 0 --json exports
jq_is '.exports | join(",")' "a,b,enospc,ro,slow"
jq_is .status done
keep_json

run_ctl 0 stat
out_has "server: fake-xcopyd, protocol 1, capabilities jobs,extents,clone"
out_has "counters of the whole server:"
grep -qE '^ro +16M +4096 +ro$' "$TMP/out" || fail "stat: export line"
run_ctl 0 --json stat ro
jq_is '.exports | length' 1
jq_is '.exports[0] | "\(.name) \(.size) \(.block_size) \(.readonly)"' \
  "ro 16777216 4096 true"
jq_is '.server.capabilities | join(",")' "jobs,extents,clone"
jq_is .server.max_ranges 1048576
jq_is .counters_scope server
jq_is '.counters[0] | "\(.method) \(.bytes) \(.calls)"' "reflink 3145728 3"
keep_json
run_ctl 1 stat nope
err_has "xcopyctl: stat: export 'nope': no such export (ENOENT)"
run_ctl 1 --json stat nope
jq_is '"\(.status) \(.error.errno) \(.error.name) \(.error.message)"' \
  "failed 2 ENOENT export 'nope': no such export"
keep_json

run_ctl 0 flush a
out_has "flush: done"
run_ctl 0 --json flush a
jq_is .export a
keep_json
run_ctl 1 flush nope
err_has "(ENOENT)"

# The fake answers EXTENTS 3 extents at a time: xcopyctl asks again.
run_ctl 0 extents a 512K 4M
[[ $(awk 'NR > 1 { printf "%s/%s/%s ", $1, $2, $3 }' "$TMP/out") == \
   "512K/512K/data 1M/1M/hole 2M/1M/data 3M/1M/hole 4M/512K/data " ]] ||
  fail "extents table"
run_ctl 0 --json extents a
jq_is '.extents | length' 64
jq_is '[.extents[].length] | add' $(( 64 << 20 ))
jq_is '.extents[1] | "\(.offset) \(.length) \(.type)"' "1048576 1048576 hole"
keep_json
run_ctl 1 extents a 63M 2M
err_has "(ERANGE)"

# ---- copy: done, refused, partial ----
run_ctl 0 copy a 0:1M:1M 2M:4M:4K --to b
out_has "copy: done: 2 ranges, 1M+4K (1052672 bytes)"
run_ctl 0 -q copy a 0:1M:1M
[[ ! -s $TMP/out ]] || fail "--quiet printed something"
run_ctl 0 --json copy a 0:1M:1M 1M:4M:1s
jq_is '"\(.status) \(.ranges_total) \(.bytes_total) \(.job)"' \
  "done 2 1049088 null"
jq_is '.result | "\(.bytes_done) \(.ranges_done) \(.failed_index) \(.errno) \(.error) \(.backward)"' \
  "1049088 2 null 0 null false"
keep_json
printf '0:0:1M\n# two more\n1M:1M:1M\n2M:2M:1M\n' >"$TMP/list"
run_ctl 0 copy a 3M:3M:1M -f "$TMP/list"
out_has "copy: done: 4 ranges, 4M"
xcopyctl copy a -f - <"$TMP/list" | grep -q "done: 3 ranges" ||
  fail "ranges from standard input"

# A refusal names the range and the field; exit 1, nothing done.
run_ctl 1 copy a 0:0:1M 1M:63M+512K:1M --to b
err_has "xcopyctl: copy: range 1: dst end 64M+512K beyond export size 64M (ERANGE)"
err_has "xcopyctl: copy: nothing was done (range 1 refused)"
run_ctl 1 --json copy a 0:0:1M --to ro
jq_is '"\(.status) \(.error.name) \(.result.bytes_done)"' "failed EROFS 0"
keep_json
run_ctl 1 copy nope 0:0:1
err_has "export 'nope': no such export (ENOENT)"

# Partial: the fake's "enospc" export fails once 1M is written.
run_ctl 4 copy a 0:0:512K 1M:1M:1M --to enospc
err_has "xcopyctl: copy: range 1: No space left on device (ENOSPC)"
err_has "progress: 1 of 2 ranges done, then range 1 stopped after 512K; 1M (1048576 bytes) done in all"
run_ctl 4 --json zero enospc 0 4M
jq_is '"\(.status) \(.result.bytes_done) \(.result.failed_index) \(.result.failed_done) \(.error.name)"' \
  "partial 1048576 0 1048576 ENOSPC"
keep_json

# ---- fill, zero, unmap, clone ----
run_ctl 0 fill a 1M 64K deadbeef
out_has "fill: done: 64K (65536 bytes)"
printf 'xyz' >"$TMP/pat"
run_ctl 0 --json fill --sync --trim a 0 3K @"$TMP/pat"
jq_is .result.bytes_done 3072
run_ctl 0 zero --trim a 0 1M
out_has "zero: done: 1M"
run_ctl 1 zero --fast a 0 1M
err_has "(EOPNOTSUPP)"
run_ctl 0 unmap a 0:1M 4M:64K
out_has "unmap: done: 2 spans, 1M+64K"
run_ctl 1 unmap a 0:1M 64M:1
err_has "span 1"
err_has "nothing was done (span 1 refused)"
run_ctl 0 clone a a2
out_has "clone: done: 64M"
run_ctl 1 clone a a2
err_has "(EEXIST)"
run_ctl 0 clone --replace a a2
# The codec refuses what §6.11 forbids before anything is sent.
run_ctl 2 clone a sub/dir
err_has "xcopyctl: clone: request: clone.dst: contains '/'"

# ---- jobs: --async, --wait, jobs, cancel ----
run_ctl 0 copy --async a 0:0:1M
id=$(cat "$TMP/out")
[[ $id =~ ^[0-9]+$ ]] || fail "--async printed '$id', not a job id"
run_ctl 0 jobs "$id"
grep -qE "^ +$id +copy +done +1\.0 MiB +1\.0 MiB +100%" "$TMP/out" ||
  fail "jobs $id"
run_ctl 0 --json copy --async slow 0:0:128M 128M:0:128M
jq_is '"\(.status) \(.job.bytes_total)"' "started 268435456"
keep_json
slow=$(jq -r .job.id "$TMP/out")
run_ctl 0 --json jobs
jq_is "[.jobs[] | select(.id == $slow)][0].state" running
jq_is "[.jobs[] | select(.id == $slow)][0].operation" copy
keep_json
run_ctl 0 jobs "$slow" --wait
out_has "done"
run_ctl 0 --json copy --wait a 0:0:1M
jq_is '"\(.status) \(.job.bytes_total) \(.result.bytes_done)"' \
  "done 1048576 1048576"
keep_json
run_ctl 4 copy --wait a 0:0:2M --to enospc
err_has "xcopyctl: copy: job "
err_has "failed: No space left on device (ENOSPC)"
run_ctl 1 jobs 9999
err_has "jobs: job 9999: no such job (ENOENT)"
run_ctl 1 cancel 9999
err_has "(ENOENT)"

# cancel from another process: the job stops with exact progress, the
# waiter exits 130.
run_ctl 0 copy --async slow 0:0:512M 512M:0:512M
slow=$(cat "$TMP/out")
rc=0
xcopyctl jobs "$slow" --wait >"$TMP/w.out" 2>"$TMP/w.err" & waiter=$!
sleep 0.5
run_ctl 0 --json cancel "$slow"
jq_is '.jobs[0].state' cancelled
jq_is '.jobs[0].result | "\(.errno) \(.failed_index == .ranges_done)"' \
  "125 true"
keep_json
wait "$waiter" || rc=$?
(( rc == 130 )) || fail "jobs --wait of a cancelled job: exit $rc"
grep -q "cancelled" "$TMP/w.err" || fail "the waiter did not say cancelled"
run_ctl 0 cancel "$slow"        # cancelling it again reports it, exit 0
out_has "cancelled"

# Ctrl-C during --wait cancels the job this process started; exit 130.
xcopyctl --json copy --wait slow 0:0:512M >"$TMP/c.out" 2>"$TMP/c.err" &
pid=$!
sleep 0.7
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
cat "$TMP/c.out" "$TMP/c.err"
(( rc == 130 )) || fail "Ctrl-C during --wait: exit $rc"
cp "$TMP/c.out" "$TMP/out"
jq_is '"\(.status) \(.result.error) \(.result.bytes_done > 0)"' \
  "cancelled ECANCELED true"
grep -q "progress: 0 of 1 ranges done, then range 0 stopped after" "$TMP/c.err" ||
  fail "Ctrl-C: no progress line"

# ---- the progress bar: on a terminal only ----
on_tty "xcopyctl copy --wait slow 0:0:256M"
grep -q '\[#*\.*\] *[0-9]*%' "$TMP/tty" || fail "no progress bar on a tty"
grep -q 'MiB / 256.0 MiB' "$TMP/tty" || fail "bar lacks done / total"
grep -q 'MiB/s' "$TMP/tty" || fail "bar lacks a rate"
grep -q "copy: done: 1 range, 256M" "$TMP/tty" || fail "no summary on a tty"
on_tty "xcopyctl -q copy --wait slow 0:0:64M"
! grep -q '%' "$TMP/tty" || fail "--quiet drew a bar"
xcopyctl copy --wait slow 0:0:64M >"$TMP/out" 2>"$TMP/err"
! grep -q $'\r' "$TMP/err" "$TMP/out" || fail "progress bar without a terminal"

# ---- servers that cannot, or misbehave ----
export XCOPY_SOCKET=$TMP/nocaps.sock
start_fake "$XCOPY_SOCKET" --caps 0 --max-ranges 2
run_ctl 1 copy --async a 0:0:1
err_has "does not offer jobs (--async, --wait)"
run_ctl 1 jobs
err_has "does not offer jobs"
run_ctl 1 extents a
err_has "does not offer EXTENTS"
run_ctl 1 clone a c
err_has "does not offer CLONE"
run_ctl 1 copy a 0:0:1 1:1:1 2:2:1
err_has "3 ranges: more than the server's limit of 2 per request (max_ranges)"
run_ctl 0 copy a 0:0:1 1:1:1

export XCOPY_SOCKET=$TMP/garbage.sock
start_fake "$XCOPY_SOCKET" --garbage
run_ctl 3 flush a
err_has "bad reply from $XCOPY_SOCKET: header.magic"
run_ctl 3 --json stat
jq_is .status error
keep_json

export XCOPY_SOCKET=$TMP/hangup.sock
start_fake "$XCOPY_SOCKET" --hang-up
run_ctl 3 copy a 0:0:1
err_has "closed the connection without a reply"

json_keys_documented
echo OK
