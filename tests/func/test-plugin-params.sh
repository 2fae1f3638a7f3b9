#!/bin/bash
# nbdkit xcopy: bad parameters are refused at startup with a clear message;
# good ones start.
source "$(dirname "$0")/functions.sh"
requires nbdkit
requires nbdinfo

truncate -s 1M "$TMP/img"
mkdir "$TMP/dir"
mkfifo "$TMP/fifo"

# refused REGEX ARGS...: nbdkit must exit non-zero, saying REGEX.
refused () {
  local re=$1; shift
  local out rc=0 pre=()
  [[ -n ${XCOPY_NBDKIT_PRELOAD:-} ]] && pre=("LD_PRELOAD=$XCOPY_NBDKIT_PRELOAD")
  # Under the ASan runtime nbdkit can hang in exit() after any strerror()
  # (glibc's setlocale lock ends up corrupted; nbdkit's own file plugin
  # does the same), so there a kill after the message counts as an exit.
  out=$(timeout -s KILL 3 env "${pre[@]}" nbdkit "$XCOPY_PLUGIN" "$@" \
          --run 'exit 0' 2>&1) || rc=$?
  echo "[$*] -> exit $rc: $out"
  (( rc != 0 )) || fail "accepted: $*"
  if (( rc == 137 )) && [[ -z ${XCOPY_NBDKIT_PRELOAD:-} ]]; then
    fail "nbdkit hung refusing: $*"
  fi
  grep -qiE "$re" <<<"$out" || fail "no /$re/ in the error for: $*"
}

refused 'one of file=IMAGE or dir=DIRECTORY is required'
refused 'No such file' file="$TMP/missing"
refused 'No such file' dir="$TMP/missing"
refused 'cannot be used together' file="$TMP/img" dir="$TMP/dir"
refused 'not a regular file' file="$TMP/dir"
refused 'not a regular file' file=/dev/null
refused 'not a regular file' file="$TMP/fifo"
refused 'not a directory' dir="$TMP/img"
refused 'given more than once' file="$TMP/img" file="$TMP/img"
refused 'given more than once' dir="$TMP/dir" dir="$TMP/dir"
refused 'unknown parameter .colour.' file="$TMP/img" colour=blue
refused 'readonly|boolean|could not decipher' file="$TMP/img" readonly=maybe

# The same checks do not refuse good parameters (magic key included).
truncate -s 1M "$TMP/dir/x.img"
for args in "file=$TMP/img" "$TMP/img" "dir=$TMP/dir" \
            "file=$TMP/img readonly=true" "file=$TMP/img readonly=false"; do
  # shellcheck disable=SC2086
  run_nbdkit $args --run 'nbdinfo --size "$uri"' > "$TMP/out" 2>&1 ||
    { cat "$TMP/out"; fail "refused good parameters: $args"; }
done
grep -qx 1048576 "$TMP/out" || fail "wrong size"

# An empty dir= starts and lists no exports; a file added later is the
# default export.
mkdir "$TMP/empty"
run_nbdkit dir="$TMP/empty" --run 'nbdinfo --list --json "$uri"' > "$TMP/out" 2>&1 ||
  { cat "$TMP/out"; fail "empty dir= refused"; }
grep -q '"export-name"' "$TMP/out" && fail "empty dir= lists exports"
truncate -s 2M "$TMP/empty/x"
run_nbdkit dir="$TMP/empty" --run 'nbdinfo --size "$uri"' > "$TMP/out" 2>&1 ||
  { cat "$TMP/out"; fail "dir= with one file refused"; }
grep -qx 2097152 "$TMP/out" || fail "dir=: wrong default export"
echo OK
