#!/bin/bash
# xcopyd: libiscsi's conformance suite, SCSI family, against the daemon
# itself: xcopyd with the plugin backend (nbdkit xcopy over a directory of
# images, data over NBD, copies and unmaps over the control socket).
#
# The same runs and the same judgement as test-iscsi-test-cu-scsi.sh
# (cu-functions.sh): every SCSI suite but CompareAndWrite with a second
# path for MultipathIO, and CompareAndWrite alone, on a 512-byte LUN (0)
# and a 4096-byte one (3); ReadOnly on a LUN configured readonly (2).  WriteSame10/16.UnmapUnaligned need LBPPB > 1,
# which the daemon's configuration does not offer; they run against
# prog-iscsi-serve in test-iscsi-test-cu-scsi.sh.
# Logs: $BUILD/test-logs/iscsi-test-cu-xcopyd-*.log and xcopyd's own.

source "$(dirname "$0")/../func/functions.sh"
source "$(dirname "$0")/cu-functions.sh"

XCOPYD=$TOP/$BUILD/xcopyd
[[ -x $XCOPYD ]] || skip "$BUILD/xcopyd not built"
[[ -f $XCOPY_PLUGIN ]] || skip "$XCOPY_PLUGIN not built"
requires nbdkit

cu_scsi_policy

mkdir -p "$TMP/images" "$TMP/run"
truncate -s 24M "$TMP/images/lu0.img"
truncate -s 24M "$TMP/images/lu1.img"
truncate -s 16M "$TMP/images/ro.img"
truncate -s 64M "$TMP/images/lu3.img"

cat >"$TMP/xcopyd.conf" <<EOF
[daemon]
management-socket = $TMP/run/xcopyd.sock
runtime-dir = $TMP/run
plugin = $XCOPY_PLUGIN
log-level = notice

[iscsi]
portal = 127.0.0.1:0

[backend:images]
dir = $TMP/images

[target:$CU_IQN]
lun.0 = images/lu0.img
lun.1 = images/lu1.img
lun.2 = images/ro.img
lun.2.readonly = true
lun.3 = images/lu3.img
lun.3.block-size = 4096
acl = $CU_INIT1;$CU_INIT2
EOF

"$XCOPYD" --config "$TMP/xcopyd.conf" --check-config ||
  fail "xcopyd rejects the test configuration"

start_xcopyd () {
  local env=() i
  cu_san_env env xcopyd
  # The nbdkit xcopyd starts loads a sanitized plugin: it inherits the
  # runtime preloaded here (and the report settings above).
  [[ -n ${XCOPY_NBDKIT_PRELOAD:-} ]] &&
    env+=("LD_PRELOAD=$XCOPY_NBDKIT_PRELOAD")
  "${env[@]}" "$XCOPYD" --config "$TMP/xcopyd.conf" \
    --port-file "$TMP/port" 2>"$TMP/serve-xcopyd.err" &
  CU_PID=$!
  on_exit "stop_pid $CU_PID"
  for i in $(seq 600); do
    [[ -s $TMP/port ]] && break
    kill -0 "$CU_PID" 2>/dev/null ||
      { sed 's/^/    /' "$TMP/serve-xcopyd.err"; fail "xcopyd exited"; }
    sleep 0.1
  done
  CU_PORT=$(awk 'NR == 1 { print $2 }' "$TMP/port")
  [[ -n $CU_PORT ]] || fail "xcopyd wrote no port"
  echo "xcopyd on 127.0.0.1:$CU_PORT (pid $CU_PID)"
}

start_xcopyd
url () { echo "iscsi://127.0.0.1:$CU_PORT/$CU_IQN/$1"; }

cu_list_main "$TMP/list-main" 1
cu_list_caw "$TMP/list-caw"
printf '%s\n' SCSI.ReadOnly >"$TMP/list-ro"
cu_run xcopyd-main-512 "$TMP/list-main" "$(url 0)" "$(url 0)"
cu_run xcopyd-caw-512 "$TMP/list-caw" "$(url 0)" "$(url 0)"
cu_run xcopyd-main-4096 "$TMP/list-main" "$(url 3)" "$(url 3)"
cu_run xcopyd-caw-4096 "$TMP/list-caw" "$(url 3)" "$(url 3)"
cu_run xcopyd-readonly "$TMP/list-ro" "$(url 2)"
cu_stop "$CU_PID" xcopyd
mkdir -p "$TOP/$BUILD/test-logs"
cp "$TMP/serve-xcopyd.err" "$TOP/$BUILD/test-logs/iscsi-test-cu-xcopyd-daemon.log"

cu_judge xcopyd-main-512 xcopyd-caw-512 xcopyd-main-4096 xcopyd-caw-4096 \
  xcopyd-readonly
for bs in 512 4096; do
  cu_expect_ran "xcopyd-main-$bs" "$(cu_count_tests "$TMP/list-main")"
  cu_expect_ran "xcopyd-caw-$bs" "$(cu_count_tests "$TMP/list-caw")"
done
cu_expect_ran xcopyd-readonly "$(cu_count_tests "$TMP/list-ro")"
cu_summary
