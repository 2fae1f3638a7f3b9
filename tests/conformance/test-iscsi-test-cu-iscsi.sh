#!/bin/bash
# xcopyd: libiscsi's conformance suite, iSCSI family (CmdSN window, DataSN
# checks, residuals, task management), against the iSCSI target over
# file-backed LUs (tests/unit/prog-iscsi-serve).  Every failure fails the
# test, and so does any skip: the family has nothing we leave out.
# Log: $BUILD/test-logs/iscsi-test-cu-iscsi.log.

source "$(dirname "$0")/../func/functions.sh"
source "$(dirname "$0")/cu-functions.sh"

SERVE=$TOP/$BUILD/tests/unit/prog-iscsi-serve
[[ -x $SERVE ]] || skip "$BUILD/tests/unit/prog-iscsi-serve not built"

CU_ALLOW=()

truncate -s 64M "$TMP/lu0.img"
truncate -s 16M "$TMP/lu1.img"
cu_start_serve iscsi --lun 0="$TMP/lu0.img" --lun 1="$TMP/lu1.img" ||
  fail "cannot start the target"
cu_suites iSCSI '' >"$TMP/list"
(( $(wc -l <"$TMP/list") > 0 )) || fail "iscsi-test-cu lists no iSCSI suites"
cu_run iscsi "$TMP/list" "iscsi://127.0.0.1:$CU_PORT/$CU_IQN/0"
cu_stop "$CU_PID" iscsi

cu_judge iscsi
cu_expect_ran iscsi "$(cu_count_tests "$TMP/list")"
cu_summary
