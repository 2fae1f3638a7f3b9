# xcopyd: helpers for the xcopyctl scenarios (tests/func/test-xcopyctl-*.sh),
# sourced after functions.sh.

requires xcopyctl
requires jq

# run_ctl WANT_RC ARGS...: run xcopyctl, keep stdout in $TMP/out and
# stderr in $TMP/err (both echoed to the log), fail unless it exits WANT_RC.
run_ctl () {
  local want=$1 rc=0
  shift
  xcopyctl "$@" >"$TMP/out" 2>"$TMP/err" </dev/null || rc=$?
  echo "\$ xcopyctl $* -> $rc"
  sed 's/^/  out: /' "$TMP/out"
  sed 's/^/  err: /' "$TMP/err"
  (( rc == want )) || fail "xcopyctl $*: exit $rc, expected $want"
}

# err_has TEXT / out_has TEXT: fixed-string match in the last run's output.
err_has () { grep -qF -- "$1" "$TMP/err" || fail "stderr lacks '$1'"; }
out_has () { grep -qF -- "$1" "$TMP/out" || fail "stdout lacks '$1'"; }

# jq_is FILTER WANT: a jq filter over the last stdout, as raw text.
jq_is () {
  local got
  got=$(jq -r "$1" "$TMP/out") || fail "stdout is not JSON (jq '$1')"
  [[ $got == "$2" ]] || fail "jq '$1': got '$got', expected '$2'"
}

# keep_json: remember the last stdout, to check later that every key the
# JSON objects use is documented (json_keys_documented).
keep_json () { cat "$TMP/out" >>"$TMP/all.json"; }

# json_keys_documented: every key in $TMP/all.json is a C<key> in the
# JSON OUTPUT section of the man page.
json_keys_documented () {
  local pod=$TOP/docs/xcopyctl.pod keys k
  keys=$(jq -r '[paths | last | strings] | .[]' "$TMP/all.json" | sort -u)
  echo "JSON keys seen: " $keys
  for k in $keys; do
    sed -n '/^=head1 JSON OUTPUT/,/^=head1 EXIT/p' "$pod" | grep -qF "C<$k>" ||
      fail "JSON key '$k' is not documented in docs/xcopyctl.pod"
  done
}

# start_fake SOCK [ARGS...]: the fake control server (prog-xcopyctl-fake).
start_fake () {
  local sock=$1 i pid
  shift
  "$TOP/$BUILD/tests/unit/prog-xcopyctl-fake" "$sock" "$@" &
  pid=$!
  on_exit "stop_pid $pid"
  for i in $(seq 100); do [[ -S $sock ]] && return 0; sleep 0.05; done
  fail "the fake server did not start"
}

# on_tty COMMAND...: run a command line under a pseudo-terminal (script),
# output (with the terminal's \r) in $TMP/tty.
on_tty () {
  requires script
  script -qec "$*" /dev/null >"$TMP/tty" 2>&1 </dev/null || true
  tr '\r' '\n' <"$TMP/tty" | tail -5 | sed 's/^/  tty: /'
}
