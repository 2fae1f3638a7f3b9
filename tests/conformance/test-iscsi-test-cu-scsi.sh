#!/bin/bash
# xcopyd: libiscsi's conformance suite, SCSI family, against the iSCSI
# target over file-backed LUs (tests/unit/prog-iscsi-serve).
#
# Runs, each in an iscsi-test-cu process of its own, on fresh sparse LUs:
#   main-BS    every SCSI suite but CompareAndWrite, at block size BS (512
#              and 4096), with a second path (the same LU through a second
#              session) so MultipathIO runs too;
#   caw-BS     CompareAndWrite and the multipath COMPARE AND WRITE tests
#              (alone: a failed CAW test can leave a hook in the tool that
#              corrupts the CDBs of later tests);
#   lbppb      WriteSame10/16.UnmapUnaligned and the InvalidDataOutSize
#              tests of WriteSame10/16 (and, in a process of its own, of
#              CompareAndWrite) on a LU with 8 logical blocks per physical
#              block: they only run with LBPPB > 1, while
#              GetLBAStatus.UnmapSingle only passes with LBPPB == 1;
#   readonly   the ReadOnly suite on write-protected LUs.
# Every failure fails the test; so does any skip in the copy-offload groups
# (ExtendedCopy, ReceiveCopyResults, WriteSame10/16, Unmap, GetLBAStatus,
# CompareAndWrite); other skips must be on the allowlist below, with the
# message the suite prints for them, and a failure passes only as a known
# bug of the suite (CU_TOOL_BUGS, matched by run, test and message).
# LU sizes: WriteSame16.Unmap writes 65536 blocks with one WRITE (16)
# whenever the LU has that many, ignoring MAXIMUM TRANSFER LENGTH (16 MiB),
# so 512-byte LUs stay below that (24 MiB); Read10/Write10.Async address
# 8000 blocks whatever the block size, so 4096-byte LUs have 16384 (64 MiB).
# Logs: $BUILD/test-logs/iscsi-test-cu-*.
#
# CU_BLOCK_SIZES="512" narrows the block sizes; CU_TIMEOUT limits each run.

source "$(dirname "$0")/../func/functions.sh"
source "$(dirname "$0")/cu-functions.sh"

SERVE=$TOP/$BUILD/tests/unit/prog-iscsi-serve
[[ -x $SERVE ]] || skip "$BUILD/tests/unit/prog-iscsi-serve not built"

cu_scsi_policy

images () {
  local dir=$1 bs=$2 n size=24M
  (( bs == 4096 )) && size=64M
  mkdir -p "$dir"
  for n in 0 1; do
    rm -f "$dir/lu$n.img"
    truncate -s "$size" "$dir/lu$n.img"
  done
  echo "--block-size $bs --lun 0=$dir/lu0.img --lun 1=$dir/lu1.img"
}

url () { echo "iscsi://127.0.0.1:$CU_PORT/$CU_IQN/0"; }

# run_block_size BS: the main and CAW runs on a fresh target.
run_block_size () {
  local bs=$1 args
  args=$(images "$TMP/bs$bs" "$bs")
  # shellcheck disable=SC2086
  cu_start_serve "bs$bs" $args || fail "cannot start the target"
  cu_run "main-$bs" "$TMP/list-main" "$(url)" "$(url)"
  cu_run "caw-$bs" "$TMP/list-caw" "$(url)" "$(url)"
  cu_stop "$CU_PID" "bs$bs"
  RUNS+=("main-$bs" "caw-$bs")
  EXPECT+=("main-$bs:$(cu_count_tests "$TMP/list-main")"
           "caw-$bs:$(cu_count_tests "$TMP/list-caw")")
}

# run_special NAME OPTION LISTFILE...: the lists, each in a process of its
# own, on a target started with OPTION; false when this prog-iscsi-serve
# has no such option.
run_special () {
  local name=$1 opt=$2 args list run; shift 2
  args=$(images "$TMP/$name" 512)
  # shellcheck disable=SC2086
  cu_start_serve "$name" $args $opt || return 1
  for list in "$@"; do
    run=$name-$(basename "$list")
    cu_run "$run" "$list" "$(url)"
    RUNS+=("$run")
    EXPECT+=("$run:$(cu_count_tests "$list")")
  done
  cu_stop "$CU_PID" "$name"
}

RUNS=() EXPECT=() HAVE_RO=0
printf '%s\n' SCSI.ReadOnly >"$TMP/ro"
iscsi-test-cu -l | grep -E '^SCSI\.WriteSame1[06]\.' |
  grep -E "\\.($CU_LBPPB_TESTS)\$" >"$TMP/ws"
iscsi-test-cu -l | grep -E '^SCSI\.CompareAndWrite\.' |
  grep -E "\\.($CU_LBPPB_TESTS)\$" >"$TMP/caw"
if run_special readonly "--read-only" "$TMP/ro"; then
  HAVE_RO=1
else
  echo "note: prog-iscsi-serve has no --read-only; ReadOnly runs in main (and skips)"
fi
if ! run_special lbppb "--phys-exp 3" "$TMP/ws" "$TMP/caw"; then
  echo "FAIL $(cat "$TMP/ws" "$TMP/caw" | tr '\n' ' '): not run (they need" \
       "a target with LBPPB > 1: prog-iscsi-serve --phys-exp)"
  CU_BAD=$(( CU_BAD + 1 ))
fi
cu_list_main "$TMP/list-main" "$HAVE_RO"
cu_list_caw "$TMP/list-caw"
for bs in ${CU_BLOCK_SIZES:-512 4096}; do
  run_block_size "$bs"
done

cu_judge "${RUNS[@]}"
for e in "${EXPECT[@]}"; do cu_expect_ran "${e%%:*}" "${e##*:}"; done
cu_summary
