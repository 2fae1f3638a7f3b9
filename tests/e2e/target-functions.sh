# xcopyd: start an iSCSI target for the real-guest scenarios, sourced
# after tests/func/functions.sh.
#
#   start_xcopyd_attached IQN NBD_SOCK CTL_SOCK EXPORT...
#                                 xcopyd on 127.0.0.1 (any free port) serving
#                                 EXPORTs of an already running
#                                 `nbdkit xcopy dir=... control=...` as
#                                 LUNs 0, 1, ... of target IQN
#                                 (LUNs of 512-byte blocks)
#   start_iscsi_serve IQN FILE... the standalone test target over files
#                                 (tests/unit/prog-iscsi-serve)
#   iscsi_url IQN LUN             the iscsi:// URL of a LUN
#   probe_lun URL BYTES           QEMU can log in and sees BYTES bytes
#
# Both set TARGET_PORT and TARGET_KIND ("xcopyd" or "iscsi-serve") and
# register their cleanup.

iscsi_url () { echo "iscsi://127.0.0.1:$TARGET_PORT/$1/$2"; }

# probe_lun URL BYTES: QEMU's iSCSI client logs in and sees BYTES bytes,
# within 30 s (a guest would otherwise hang before it boots).
probe_lun () {
  local out size
  out=$(timeout -k 5 30 qemu-img info --output=json "$1" 2>"$TMP/probe.err") ||
    fail "qemu-img info $1 failed or hung: $(cat "$TMP/probe.err")"
  size=$(jq -r '."virtual-size"' <<<"$out" 2>/dev/null) ||
    fail "qemu-img info $1: unexpected output: $out"
  [[ $size == "$2" ]] || fail "$1: size $size, expected $2"
  echo "$1: logged in, $size bytes"
}

# xcopyd_available: xcopyd is built.
xcopyd_available () { [[ -x $TOP/$BUILD/xcopyd ]]; }

# xcopyd_conf_head: the [daemon] and [iscsi] groups of a scratch config.
xcopyd_conf_head () {
  mkdir -p "$TMP/xcopyd-run"
  echo "[daemon]"
  echo "management-socket = $TMP/xcopyd-run/mgmt.sock"
  echo "runtime-dir = $TMP/xcopyd-run"
  echo "plugin = $XCOPY_PLUGIN"
  echo "[iscsi]"
  echo "portal = 127.0.0.1:0"
}

# xcopyd_conf_target IQN BACKEND EXPORT...: a target with EXPORTs as LUNs
# 0, 1, ..., 512-byte blocks.
xcopyd_conf_target () {
  local n=0 e iqn=$1 be=$2
  shift 2
  echo "[target:$iqn]"
  echo "block-size = 512"
  for e in "$@"; do echo "lun.$n = $be/$e"; n=$(( n + 1 )); done
}

# run_xcopyd CONF: start xcopyd, wait for its port file, set TARGET_PORT.
run_xcopyd () {
  local pid i pre=()
  _san_env pre        # the nbdkit it starts inherits the sanitizer preload
  sed 's/^/  xcopyd.conf: /' "$1"
  rm -f "$TMP/xcopyd.port"
  "${pre[@]}" "$TOP/$BUILD/xcopyd" --config "$1" --port-file "$TMP/xcopyd.port" \
    >"$TMP/xcopyd.log" 2>&1 &
  pid=$!
  on_exit "stop_pid $pid; sed 's/^/  xcopyd: /' '$TMP/xcopyd.log' | tail -n 40"
  for i in $(seq 300); do
    [[ -s $TMP/xcopyd.port ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$TMP/xcopyd.log"; fail "xcopyd exited"; }
    sleep 0.1
  done
  TARGET_PORT=$(awk 'NR == 1 { print $2 }' "$TMP/xcopyd.port" 2>/dev/null)
  [[ -n $TARGET_PORT ]] || { cat "$TMP/xcopyd.log"; fail "xcopyd wrote no port file in 30 s"; }
  TARGET_KIND=xcopyd
}

start_xcopyd_attached () {
  local iqn=$1 nbd=$2 ctl=$3 conf=$TMP/xcopyd.conf
  shift 3
  {
    xcopyd_conf_head
    echo "[backend:images]"
    echo "nbd-socket = $nbd"
    echo "control-socket = $ctl"
    xcopyd_conf_target "$iqn" images "$@"
  } >"$conf"
  run_xcopyd "$conf"
}

start_iscsi_serve () {
  local iqn=$1 prog=$TOP/$BUILD/tests/unit/prog-iscsi-serve pid n=0 f i
  local args=()
  shift
  [[ -x $prog ]] || return 1
  for f in "$@"; do args+=(--lun "$n=$f"); n=$(( n + 1 )); done
  "$prog" --portal 127.0.0.1:0 --iqn "$iqn" "${args[@]}" \
    >"$TMP/iscsi-serve.out" 2>&1 &
  pid=$!
  on_exit "stop_pid $pid"
  for i in $(seq 300); do
    TARGET_PORT=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$TMP/iscsi-serve.out" | head -n 1)
    [[ -n $TARGET_PORT ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$TMP/iscsi-serve.out"; fail "prog-iscsi-serve exited"; }
    sleep 0.1
  done
  [[ -n $TARGET_PORT ]] || fail "prog-iscsi-serve printed no port"
  TARGET_KIND=iscsi-serve
}
