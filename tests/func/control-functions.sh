# xcopyd: helpers for the control-socket scenarios (tests/func/test-control-*.sh).
# Sourced after functions.sh.

CTL_CLIENT=$TOP/$BUILD/tests/unit/prog-ctl-client
[[ -x $CTL_CLIENT ]] || skip "$CTL_CLIENT not built"
requires nbdkit

# ctl SOCKET COMMAND...: run prog-ctl-client (see its header), output on
# stdout; fails the test unless every reply matched its expect=.
ctl () {
  local out rc=0
  out=$("$CTL_CLIENT" "$@" 2>&1) || rc=$?
  echo "$out"
  (( rc == 0 )) || fail "prog-ctl-client exited $rc: ${*:2}"
}

# ctl_try SOCKET COMMAND...: the same, never failing (for checks on output).
ctl_try () { "$CTL_CLIENT" "$@" 2>&1 || true; }

# expect_in TEXT REGEX WHAT: TEXT must match REGEX (grep -E).
expect_in () {
  grep -qE -- "$2" <<<"$1" || { echo "$1"; fail "$3: no /$2/ in the output"; }
}

# field NAME LINE: the value of NAME=... in a reply line.
field () { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2" | head -1; }

# start_nbdkit_log LOG SOCK PIDFILE [NBDKIT-OPTIONS...] -- PLUGIN-PARAMS...
# nbdkit in the foreground (in the background of the test) with its
# stderr in LOG, so that scenarios can read what the plugin logged.
start_nbdkit_log () {
  local log=$1 sock=$2 pidf=$3; shift 3
  local opts=() pre=() i
  while (( $# )) && [[ $1 != -- ]]; do opts+=("$1"); shift; done
  (( $# )) && shift
  _san_env pre
  "${pre[@]}" nbdkit -f "${opts[@]}" -U "$sock" -P "$pidf" "$XCOPY_PLUGIN" "$@" \
    2>"$log" &
  on_exit "stop_pid $!"
  for i in $(seq 100); do [[ -s $pidf && -S $sock ]] && break; sleep 0.1; done
  [[ -s $pidf ]] || { cat "$log"; fail "nbdkit did not start"; }
}

# pattern_file FILE MIB BYTE: MIB MiB of the byte BYTE (octal escape ok).
pattern_file () {
  head -c "$(( $2 * 1048576 ))" /dev/zero | tr '\0' "$3" > "$1"
}
