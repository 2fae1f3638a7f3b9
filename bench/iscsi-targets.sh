# iSCSI targets for bench/run: xcopyd (the daemon with its plugin), the
# standalone test target tests/unit/prog-iscsi-serve, and tgtd as the
# peer.  Sourced by bench/run after it has set TOP, BUILD and SCRATCH.
#
#   start_target KIND IMAGE   KIND xcopyd, serve or tgtd; serves IMAGE as
#                             one LUN and sets TARGET_URL (iscsi://...),
#                             TARGET_PID (the process whose memory
#                             counts) and TARGET_KIND
#   stop_target KIND          stops it (also safe when it is not running)
#   stop_targets              stops every target still running (cleanup)
#
# Several targets may run at once (one of each kind).  Ports are free
# ports on 127.0.0.1; tgtd also needs a free control port, whose lock
# file under /var/run/tgtd shows when another tgtd uses it.

BENCH_IQN=iqn.2024-01.org.xcopyd:bench
XCOPYD_BIN=${XCOPYD_BIN:-$TOP/$BUILD/xcopyd}
SERVE_BIN=${SERVE_BIN:-$TOP/$BUILD/tests/unit/prog-iscsi-serve}
declare -A TARGET_PIDS=() TARGET_URLS=()
TGTD_CTL=""

free_port () {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port_file FILE PID: wait up to 30 s for FILE to be written while
# PID lives.
wait_port_file () {
  local i
  for i in $(seq 300); do
    [[ -s $1 ]] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# xcopyd over one image: a supervised backend on the image's directory
# (every regular file there is an export), one target, LUN 0.
start_xcopyd () {
  local img=$1 dir=$SCRATCH/xcopyd port conf
  mkdir -p "$dir/run"
  conf=$dir/xcopyd.conf
  cat >"$conf" <<CONF
[daemon]
management-socket = $dir/xcopyd.sock
runtime-dir = $dir/run
plugin = $PLUGIN
log-level = warning

[iscsi]
portal = 127.0.0.1:0

[backend:bench]
dir = $(dirname "$img")

[target:$BENCH_IQN]
lun.0 = bench/$(basename "$img")
CONF
  rm -f "$dir/port"
  "$XCOPYD_BIN" --config "$conf" --port-file "$dir/port" 2>"$dir/xcopyd.log" &
  TARGET_PID=$!
  TARGET_PIDS[xcopyd]=$TARGET_PID
  wait_port_file "$dir/port" "$TARGET_PID" || { cat "$dir/xcopyd.log" >&2; return 1; }
  port=$(awk 'NR == 1 { print $2 }' "$dir/port")
  TARGET_URL=iscsi://127.0.0.1:$port/$BENCH_IQN/0
}

start_serve () {
  local img=$1 out=$SCRATCH/serve.out
  : >"$out"
  "$SERVE_BIN" --portal 127.0.0.1:0 --iqn "$BENCH_IQN" --lun 0="$img" >"$out" 2>&1 &
  TARGET_PID=$!
  TARGET_PIDS[serve]=$TARGET_PID
  wait_port_file "$out" "$TARGET_PID" || { cat "$out" >&2; return 1; }
  TARGET_URL=iscsi://127.0.0.1:$(awk '$1 == "port" { print $2; exit }' "$out")/$BENCH_IQN/0
}

# tgtd: LUN 0 is its controller, the disk is LUN 1.  Buffered I/O through
# its default backing store (rdwr), like the plugin's.
start_tgtd () {
  local img=$1 port ctl i
  port=$(free_port)
  for (( i = 0; i < 50; i++ )); do
    ctl=$(( 20000 + RANDOM % 12000 ))   # tgtd takes at most 32767
    [[ -e /var/run/tgtd/socket.$ctl.lock ]] || break
  done
  TGTD_CTL=$ctl
  tgtd -f -C "$ctl" --iscsi portal=127.0.0.1:"$port" >"$SCRATCH/tgtd.log" 2>&1 &
  TARGET_PID=$!
  TARGET_PIDS[tgtd]=$TARGET_PID
  for (( i = 0; i < 100; i++ )); do
    tgtadm -C "$ctl" --lld iscsi --op show --mode target >/dev/null 2>&1 && break
    kill -0 "$TARGET_PID" 2>/dev/null || { cat "$SCRATCH/tgtd.log" >&2; return 1; }
    sleep 0.1
  done
  tgtadm -C "$ctl" --lld iscsi --op new --mode target --tid 1 -T "$BENCH_IQN" &&
  tgtadm -C "$ctl" --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$img" &&
  tgtadm -C "$ctl" --lld iscsi --op bind --mode target --tid 1 -I ALL || return 1
  TARGET_URL=iscsi://127.0.0.1:$port/$BENCH_IQN/1
}

start_target () {
  TARGET_KIND=$1
  "start_$1" "$2" || { echo "bench/run: $1 did not start" >&2; stop_target "$1"; return 1; }
  TARGET_URLS[$1]=$TARGET_URL
}

# tgtd ignores SIGTERM while it has targets: delete the target, take the
# system offline and delete it through the control port instead.  Anything still running
# after 30 s is killed, so a stuck target never hangs the run.
stop_target () {
  local pid=${TARGET_PIDS[$1]:-} i
  [[ -n $pid ]] || return 0
  if [[ $1 == tgtd ]]; then
    tgtadm -C "$TGTD_CTL" --lld iscsi --op delete --mode target --tid 1 --force >/dev/null 2>&1
    tgtadm -C "$TGTD_CTL" --op update --mode sys --name State -v offline >/dev/null 2>&1 &&
    tgtadm -C "$TGTD_CTL" --op delete --mode system >/dev/null 2>&1 || true
  fi
  kill "$pid" 2>/dev/null || true
  for (( i = 0; i < 300; i++ )); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "TARGET_PIDS[$1]" "TARGET_URLS[$1]"
  return 0
}

stop_targets () {
  local k
  for k in "${!TARGET_PIDS[@]}"; do stop_target "$k"; done
}

# pick_target: the target to measure copies with: xcopyd when it is
# built and starts, else prog-iscsi-serve; sets PICKED (empty: none) and
# PICK_WHY (why xcopyd was not taken).
pick_target () {
  PICKED="" PICK_WHY=""
  if [[ -x $XCOPYD_BIN && -f $PLUGIN ]]; then PICKED=xcopyd
  else PICK_WHY="xcopyd or the plugin not built"; fi
  if [[ -z $PICKED && -x $SERVE_BIN ]]; then PICKED=serve; fi
}

# mem_kib PID FIELD: VmRSS or VmHWM of a process in KiB (0 when gone).
mem_kib () {
  local v
  v=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || true)
  echo "${v:-0}"
}
