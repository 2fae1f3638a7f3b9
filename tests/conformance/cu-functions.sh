# xcopyd: helpers for the libiscsi conformance runs (iscsi-test-cu), sourced
# by tests/conformance/test-iscsi-test-cu-*.sh after tests/func/functions.sh.
#
# A run: start a target (cu_start_serve), run a list of tests against it
# (cu_run), turn the log into verdicts (cu-log.awk), then judge them
# (cu_judge): every failure fails the run, a skip passes only when it is
# on the caller's allowlist with the expected message, and skips in the
# copy-offload groups are never allowed.

CU_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CU_INIT1=iqn.2024-01.test:init
CU_INIT2=iqn.2024-01.test:init2
CU_IQN=iqn.2024-01.test:xcopyd
# Test groups that exist for copy offload: they must run, never skip.
CU_OFFLOAD_SUITES="ExtendedCopy ReceiveCopyResults WriteSame10 WriteSame16 Unmap GetLBAStatus CompareAndWrite"
# Seconds one iscsi-test-cu process may take (generous for a loaded host).
CU_TIMEOUT=${CU_TIMEOUT:-300}

requires iscsi-test-cu
requires awk

# The sanitizer settings for a server this test starts: its reports go
# where tests/run looks for them.
cu_san_env () {
  local -n _env=$1
  _env=(env)
  if [[ -n ${SANITIZE:-} && -n ${XCOPY_SAN_LOG_DIR:-} ]]; then
    _env+=("ASAN_OPTIONS=${ASAN_OPTIONS:-}:log_path=$XCOPY_SAN_LOG_DIR/$2"
           "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}:log_path=$XCOPY_SAN_LOG_DIR/$2")
  fi
}

# cu_wait_port OUTFILE PID: the port from the server's "port N" line.
cu_wait_port () {
  local out=$1 pid=$2 i port
  for i in $(seq 300); do
    port=$(sed -n 's/^port \([0-9][0-9]*\)$/\1/p' "$out" 2>/dev/null | head -1)
    [[ -n $port ]] && { echo "$port"; return 0; }
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# cu_start_serve NAME ARGS...: start tests/unit/prog-iscsi-serve (the
# standalone target over file-backed LUs) on 127.0.0.1 with a free port;
# sets CU_PORT and CU_PID.  Returns 1 (after printing its stderr) when the
# server does not come up, e.g. for an option it does not know.
cu_start_serve () {
  local name=$1; shift
  local bin=$TOP/$BUILD/tests/unit/prog-iscsi-serve env=()
  cu_san_env env "iscsi-serve-$name"
  "${env[@]}" "$bin" --portal 127.0.0.1:0 --iqn "$CU_IQN" \
    --acl "$CU_INIT1" --acl "$CU_INIT2" "$@" \
    >"$TMP/serve-$name.out" 2>"$TMP/serve-$name.err" &
  CU_PID=$!
  on_exit "stop_pid $CU_PID"
  if ! CU_PORT=$(cu_wait_port "$TMP/serve-$name.out" "$CU_PID"); then
    echo "prog-iscsi-serve ($name) did not start:"
    sed 's/^/    /' "$TMP/serve-$name.err"
    stop_pid "$CU_PID"
    return 1
  fi
  echo "target $name: $bin $* on 127.0.0.1:$CU_PORT (pid $CU_PID)"
}

# cu_stop PID NAME: the server must still be alive (it must survive the
# suite), then it is stopped.
cu_stop () {
  kill -0 "$1" 2>/dev/null ||
    { sed 's/^/    /' "$TMP/serve-$2.err" 2>/dev/null
      fail "target $2 died during the suite"; }
  stop_pid "$1"
}

# cu_suites FAMILY EXCLUDE_REGEX: the suites (FAMILY.Suite) of a family that
# this iscsi-test-cu knows, one a line, minus those matching EXCLUDE_REGEX
# (an extended regex on "Family.Suite").
cu_suites () {
  iscsi-test-cu -l | awk -F. -v fam="$1" 'NF == 2 && $1 == fam { print }' |
    { if [[ -n $2 ]]; then grep -Ev "$2"; else cat; fi; }
}

# cu_run NAME LISTFILE URL [MPATH_URL]: run the tests named in LISTFILE
# (one FAMILY.SUITE[.TEST] a line) with --dataloss and both initiator
# names; the log is $TMP/NAME.log (and kept under $BUILD/test-logs).
cu_run () {
  local name=$1 list=$2; shift 2
  local log=$TMP/$name.log rc=0 t0=$SECONDS
  echo "== $name: $(wc -l <"$list") entries from $(basename "$list") against $*"
  timeout -k 10 "$CU_TIMEOUT" stdbuf -oL -eL iscsi-test-cu --dataloss \
    -i "$CU_INIT1" -I "$CU_INIT2" -t "$list" "$@" >"$log" 2>&1 </dev/null ||
    rc=$?
  mkdir -p "$TOP/$BUILD/test-logs"
  cp "$log" "$TOP/$BUILD/test-logs/iscsi-test-cu-$name.log"
  echo "   iscsi-test-cu exited $rc after $(( SECONDS - t0 )) s" \
       "(log: $BUILD/test-logs/iscsi-test-cu-$name.log)"
  (( rc == 124 || rc == 137 )) && echo "   TIMEOUT after $CU_TIMEOUT s"
  return 0
}

# cu_match KEY MESSAGE ENTRY...: the first entry "GLOB ~ REGEX ~ reason"
# whose GLOB matches KEY and whose extended REGEX matches MESSAGE; prints
# its reason.
cu_match () {
  local key=$1 msg=$2 e glob re why; shift 2
  for e in "$@"; do
    glob=${e%% ~ *}; e=${e#* ~ }
    re=${e%% ~ *}; why=${e#* ~ }
    # shellcheck disable=SC2053
    if [[ $key == $glob ]] && grep -Eq -- "$re" <<<"$msg"; then
      echo "$why"
      return 0
    fi
  done
  return 1
}

# cu_allowed SUITE.TEST MESSAGE: whether the skip is on CU_ALLOW (entries
# "TEST-GLOB ~ MESSAGE-REGEX ~ reason").
cu_allowed () { cu_match "$1" "$2" "${CU_ALLOW[@]}"; }

# cu_tool_bug RUN:SUITE.TEST MESSAGE: whether the failure is on
# CU_TOOL_BUGS (entries "RUN-GLOB:TEST ~ MESSAGE-REGEX ~ reason"): a check
# of the suite itself that is wrong, matched by run, test and message.
cu_tool_bug () { cu_match "$1" "$2" "${CU_TOOL_BUGS[@]}"; }

# cu_judge NAME...: parse the logs of these runs and judge every verdict.
# Adds to CU_N/CU_PASS/CU_FAIL/CU_SKIP; prints every failure and skip.
CU_N=0 CU_PASS=0 CU_FAIL=0 CU_SKIP=0 CU_BAD=0 CU_TOOLBUG=0
CU_TOOL_BUGS=()
cu_judge () {
  local name v t msg suite why cunit
  for name in "$@"; do
    awk -f "$CU_DIR/cu-log.awk" "$TMP/$name.log" >"$TMP/$name.verdicts"
    cunit=$(grep '^CUNIT ' "$TMP/$name.verdicts")
    echo "   $name: $cunit"
    # CUnit's own count of failures must match the FAIL verdicts found.
    if [[ $cunit =~ ^CUNIT\ suites\ [0-9]+\ ([0-9]+)\ tests\ [0-9]+\ [0-9]+\ ([0-9]+)$ ]] &&
       (( BASH_REMATCH[1] > 0 ||
          BASH_REMATCH[2] != $(grep -c '^FAIL ' "$TMP/$name.verdicts") )); then
      echo "FAIL $name: CUnit counts ${BASH_REMATCH[2]} failed tests and" \
           "${BASH_REMATCH[1]} failed suites; the log parser disagrees"
      CU_BAD=$(( CU_BAD + 1 ))
    fi
    if [[ $cunit == "CUNIT incomplete" ]]; then
      echo "FAIL $name: iscsi-test-cu did not finish (no Run Summary); last lines:"
      tail -n 15 "$TMP/$name.log" | sed 's/^/    /'
      CU_BAD=$(( CU_BAD + 1 ))
    fi
    while IFS= read -r line; do
      v=${line%% *}
      [[ $v == CUNIT ]] && continue
      line=${line#* }
      if [[ $v == NOTE ]]; then
        echo "note ${line/$'\t'/: }"
        continue
      fi
      t=${line%%$'\t'*}
      msg=""
      [[ $line == *$'\t'* ]] && msg=${line#*$'\t'}
      suite=${t%%.*}
      CU_N=$(( CU_N + 1 ))
      case $v in
        PASS) CU_PASS=$(( CU_PASS + 1 )) ;;
        FAIL) if why=$(cu_tool_bug "$name:$t" "$msg"); then
                CU_TOOLBUG=$(( CU_TOOLBUG + 1 ))
                echo "tool-bug $t: $msg (known: $why)"
              else
                CU_FAIL=$(( CU_FAIL + 1 ))
                echo "FAIL $t: $msg"
              fi ;;
        SKIP) CU_SKIP=$(( CU_SKIP + 1 ))
              if [[ " $CU_OFFLOAD_SUITES " == *" $suite "* ]]; then
                echo "FAIL $t: copy-offload test skipped: $msg"
                CU_BAD=$(( CU_BAD + 1 ))
              elif why=$(cu_allowed "$t" "$msg"); then
                echo "skip $t (allowed: $why)"
              else
                echo "FAIL $t: unexpected skip: $msg"
                CU_BAD=$(( CU_BAD + 1 ))
              fi ;;
      esac
    done <"$TMP/$name.verdicts"
  done
}

# cu_expect_ran NAME COUNT: the run must have reported COUNT tests (a
# suite that failed to start would otherwise vanish from the verdicts).
cu_expect_ran () {
  local got
  got=$(grep -c -E '^(PASS|FAIL|SKIP) ' "$TMP/$1.verdicts" || true)
  if (( got != $2 )); then
    echo "FAIL $1: $got test verdicts in the log, $2 tests listed"
    CU_BAD=$(( CU_BAD + 1 ))
  fi
}

# cu_count_tests LISTFILE: how many tests the entries of a list expand to.
cu_count_tests () {
  local all e n=0
  all=$(iscsi-test-cu -l | awk -F. 'NF == 3')
  while IFS= read -r e; do
    n=$(( n + $(awk -F. -v e="$e" '
      { name = $1 "." $2 "." $3 }
      name == e || index(name, e ".") == 1 { c++ }
      END { print c + 0 }' <<<"$all") ))
  done <"$1"
  echo "$n"
}

# cu_summary: the closing counts; fails unless all is well.
cu_summary () {
  echo "$CU_N tests, $CU_PASS passed, $CU_FAIL failed, $CU_SKIP skipped" \
       "($CU_TOOLBUG failed on a known bug of the suite)"
  (( CU_FAIL == 0 && CU_BAD == 0 )) ||
    fail "$CU_FAIL failed, $CU_BAD unexpected skips or broken runs"
}

# ---- The SCSI family: what runs where, and what may skip ----

# cu_scsi_policy: sets CU_ALLOW and CU_TOOL_BUGS for the SCSI family.
cu_scsi_policy () {
  # Skips that are fine, as "TEST-GLOB|MESSAGE-REGEX|why".
  CU_ALLOW=(
    "Sanitize.* ~ --allow-sanitize flag is not set ~ SANITIZE is not implemented (an image is erased by the host, not through the LU); the suite runs without --allow-sanitize"
    "WriteAtomic16.* ~ WRITEATOMIC16 is not implemented ~ WRITE ATOMIC (16) is SBC-4; the LU claims SBC-3"
    "OrWrite.* ~ ORWRITE is not implemented ~ ORWRITE (SBC-3, optional) is not implemented: no initiator of VM disks sends it"
    "ReadDefectData1[02].* ~ READDEFECTDATA1[02] is not implemented ~ an image has no grown or primary defect list"
    "PreventAllow.* ~ [Nn]ot removable ~ PREVENT ALLOW MEDIUM REMOVAL is for removable media (RMB=0)"
    "StartStopUnit.* ~ [Nn]ot removable ~ START STOP UNIT LOEJ is for removable media (RMB=0)"
    "NoMedia.* ~ [Nn]ot removable ~ a fixed LU always has its medium"
    "Pr[io][nu]* ~ PERSISTENT RESERVE (IN|OUT) is not implemented|PROUT Not Supported ~ persistent reservations are not implemented (no shared-disk clusters on these images yet)"
    "Reserve6.* ~ RESERVE6 is not ~ RESERVE(6)/RELEASE(6) are obsolete (SPC-3) and not implemented"
    "ReadOnly.* ~ ORWRITE is not implemented ~ ReadOnlySBC runs every write command on a write-protected LU and skips only its ORWRITE step"
    "ReadOnly.* ~ not write-protected ~ only where the target cannot make a LU write-protected (else ReadOnly runs on one)"
  )
  # Failures that are the suite's own bugs.
  CU_TOOL_BUGS=(
    "*:WriteSame10.UnmapUntilEnd ~ Blocks did not read back as zero ~ the test sends a block of 0xFF with UNMAP=1 and wants zeroes back; UNMAP only permits deallocation of a block that reads back as sent, so the LU writes the 0xFF (its WriteSame16 twin sends a zero block and passes)"
  )
}

# Tests that only run with LBPPB > 1 (they skip otherwise), while
# GetLBAStatus.UnmapSingle only passes with LBPPB == 1: they run on a LU
# of their own.
CU_LBPPB_TESTS='UnmapUnaligned|InvalidDataOutSize'

# cu_list_main FILE HAVE_RO: every SCSI suite but CompareAndWrite (its own
# process), with MultipathIO's non-CAW tests, without the LBPPB > 1 tests,
# and without ReadOnly when HAVE_RO is 1 (it then runs on write-protected
# LUs).
cu_list_main () {
  local out=$1 have_ro=$2 skip='CompareAndWrite|MultipathIO|WriteSame1[06]'
  (( have_ro )) && skip="$skip|ReadOnly"
  cu_suites SCSI "^SCSI\.($skip)\$" >"$out"
  iscsi-test-cu -l | grep -E '^SCSI\.WriteSame1[06]\.' |
    grep -Ev "\\.($CU_LBPPB_TESTS)\$" >>"$out"
  printf '%s\n' SCSI.MultipathIO.Simple SCSI.MultipathIO.Reset >>"$out"
}

# cu_list_caw FILE: COMPARE AND WRITE, single and multipath, without the
# LBPPB > 1 test.
cu_list_caw () {
  { iscsi-test-cu -l | grep -E '^SCSI\.CompareAndWrite\.' |
      grep -Ev "\\.($CU_LBPPB_TESTS)\$"
    printf '%s\n' SCSI.MultipathIO.CompareAndWrite \
      SCSI.MultipathIO.CompareAndWriteAsync; } >"$1"
}
