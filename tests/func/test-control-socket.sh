#!/bin/bash
# nbdkit xcopy control=: the socket's life.  Made before nbdkit forks (so
# errors stop it with a message), served after the fork, removed at exit;
# a socket left by a dead server is replaced, a live server or a file
# that is not a socket is not; bad control= / control-group= values are
# refused at startup.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/control-functions.sh"

mkdir "$TMP/images"
truncate -s 1M "$TMP/images/a.img"
img=(dir="$TMP/images")

# refused REGEX ARGS...: nbdkit must fail to start, saying REGEX.
refused () {
  local re=$1 out rc=0 pre=()
  shift
  [[ -n ${XCOPY_NBDKIT_PRELOAD:-} ]] && pre=("LD_PRELOAD=$XCOPY_NBDKIT_PRELOAD")
  out=$(timeout -s KILL 5 env "${pre[@]}" nbdkit "$XCOPY_PLUGIN" "$@" --run 'exit 0' 2>&1) || rc=$?
  echo "[$*] -> exit $rc: $out"
  (( rc != 0 )) || fail "accepted: $*"
  grep -qiE "$re" <<<"$out" || fail "no /$re/ for: $*"
}

# ---- served after a fork, removed at exit
start_nbdkit "$TMP/sock" "$TMP/pid" "${img[@]}" control="$TMP/ctl"
[[ -S $TMP/ctl ]] || fail "no socket"
ctl "$TMP/ctl" hello list >/dev/null
# (nbdkit forked: the server is not start_nbdkit's child)
stop_pid "$(cat "$TMP/pid")"
for i in $(seq 50); do [[ -e $TMP/ctl ]] || break; sleep 0.1; done
[[ -e $TMP/ctl ]] && fail "socket not removed at exit"

# ---- a relative path, resolved before nbdkit changes directory
(cd "$TMP" && start_nbdkit "$TMP/sock2" "$TMP/pid2" "${img[@]}" control=rel.sock)
ctl "$TMP/rel.sock" hello list >/dev/null

# ---- a dead server's socket is replaced; a live one is not
start_nbdkit "$TMP/sock3" "$TMP/pid3" "${img[@]}" control="$TMP/ctl3"
kill -9 "$(cat "$TMP/pid3")"
for i in $(seq 50); do kill -0 "$(cat "$TMP/pid3")" 2>/dev/null || break; sleep 0.1; done
[[ -S $TMP/ctl3 ]] || fail "kill -9 removed the socket?"
refused 'another server is listening' "${img[@]}" control="$TMP/rel.sock"
start_nbdkit "$TMP/sock4" "$TMP/pid4" "${img[@]}" control="$TMP/ctl3"
ctl "$TMP/ctl3" hello list >/dev/null
ctl "$TMP/rel.sock" hello list >/dev/null    # the live one still serves

# ---- bad values
echo data > "$TMP/file"
refused 'exists and is not a socket' "${img[@]}" control="$TMP/file"
[[ $(cat "$TMP/file") == data ]] || fail "a file at control= was touched"
refused 'No such file|bind' "${img[@]}" control="$TMP/missing/dir/ctl"
refused 'path longer than' "${img[@]}" control="$TMP/$(printf 'x%.0s' $(seq 120))"
refused 'control= given more than once' "${img[@]}" control="$TMP/c1" control="$TMP/c2"
refused 'control-group= needs control=' "${img[@]}" control-group=root
refused 'control-group=no-such-group-xyz: no such group' "${img[@]}" control="$TMP/c1" control-group=no-such-group-xyz
[[ -e $TMP/c1 ]] && fail "a refused start left its socket"

# ---- --dump-plugin says control= is there
run_nbdkit --dump-plugin | grep -qx 'xcopy_control=yes' || fail "--dump-plugin: no xcopy_control=yes"
echo OK
