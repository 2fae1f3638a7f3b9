# xcopyd: helpers for the daemon scenarios (tests/func/test-xcopyd-*.sh).
# Source after functions.sh.

XCOPYD=$TOP/$BUILD/xcopyd
[[ -x $XCOPYD ]] || skip "xcopyd not built"
requires nbdkit
IQN=iqn.2024-01.org.example.xcopyd:disks

# xcopyd_config FILE [EXTRA...]: a configuration with one supervised
# backend "images" over $TMP/img and a target $IQN with two LUNs
# (disk0.img, disk1.img); each EXTRA line is appended as is.
xcopyd_config () {
  local f=$1; shift
  cat >"$f" <<CONF
[daemon]
management-socket = $TMP/xcopyd.sock
runtime-dir = $TMP/run
plugin = $XCOPY_PLUGIN
log-level = debug

[iscsi]
portal = 127.0.0.1:0

[backend:images]
dir = $TMP/img

[target:$IQN]
lun.0 = images/disk0.img
lun.1 = images/disk1.img
CONF
  local l
  for l in "$@"; do echo "$l" >>"$f"; done
}

# make_images MIB: $TMP/img/disk0.img (random) and disk1.img (zeroes).
make_images () {
  mkdir -p "$TMP/img"
  dd if=/dev/urandom of="$TMP/img/disk0.img" bs=1M count="$1" status=none
  truncate -s "${1}M" "$TMP/img/disk1.img"
}

# start_xcopyd CONF: run xcopyd in the background with its log in
# $TMP/xcopyd.log; wait for its port file; set XCOPYD_PID and PORT.
start_xcopyd () {
  local pre=()
  # Under SANITIZE the nbdkit that xcopyd starts needs the runtime
  # preloaded; it inherits the environment, and reports go to the
  # directory tests/run checks.
  _san_env pre
  rm -f "$TMP/port"
  "${pre[@]}" "$XCOPYD" --config "$1" --port-file "$TMP/port" >"$TMP/xcopyd.log" 2>&1 &
  XCOPYD_PID=$!
  on_exit "stop_pid $XCOPYD_PID"
  local i
  for i in $(seq 300); do
    [[ -s $TMP/port ]] && break
    kill -0 "$XCOPYD_PID" 2>/dev/null || { cat "$TMP/xcopyd.log"; fail "xcopyd exited"; }
    sleep 0.1
  done
  [[ -s $TMP/port ]] || { cat "$TMP/xcopyd.log"; fail "xcopyd did not start"; }
  PORT=$(awk 'NR == 1 { print $2 }' "$TMP/port")
  echo "xcopyd pid $XCOPYD_PID on port $PORT"
}

# iscsi_uri LUN: the URI of a LUN of $IQN.
iscsi_uri () { echo "iscsi://127.0.0.1:$PORT/$IQN/$1"; }

# nbdkit_children: pids of nbdkit processes whose parent is xcopyd.
nbdkit_children () { pgrep -P "$XCOPYD_PID" -x nbdkit || true; }

# log_has REGEX: the daemon's log matches (grep -E), or fail.
log_has () {
  grep -qE "$1" "$TMP/xcopyd.log" || { cat "$TMP/xcopyd.log"; fail "log lacks /$1/"; }
}

# wait_for SECONDS COMMAND...: retry COMMAND every 0.1 s until it works.
wait_for () {
  local secs=$1 i; shift
  for (( i = 0; i < secs * 10; i++ )); do "$@" && return 0; sleep 0.1; done
  return 1
}
