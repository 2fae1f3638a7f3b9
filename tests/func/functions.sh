# xcopyd: helpers sourced by the shell scenarios in tests/func/.
# Each scenario: `source "$(dirname "$0")/functions.sh"`, then set -e style
# checks; exit 0 pass, 77 skip (after `skip "why"`), anything else fails.

set -euo pipefail
: "${TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${BUILD:=build}"
: "${XCOPY_PLUGIN:=$TOP/$BUILD/nbdkit-xcopy-plugin.so}"
export PATH="$TOP/$BUILD:$TOP/$BUILD/tools:$PATH"

skip () { echo "SKIP: $*"; exit 77; }
fail () { echo "FAIL: $*" >&2; exit 1; }
requires () { command -v "$1" >/dev/null 2>&1 || skip "$1 not installed"; }
require_root () { [[ $(id -u) -eq 0 ]] || skip "needs root ($*)"; }

# A scratch directory removed at exit; cleanup hooks run first, in reverse.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/xcopy-test.XXXXXX")
_cleanups=()
on_exit () { _cleanups+=("$*"); }
_run_cleanups () {
  local i
  for (( i=${#_cleanups[@]}-1; i>=0; i-- )); do eval "${_cleanups[i]}" || true; done
  rm -rf "$TMP"
}
trap _run_cleanups EXIT

# _san_env ARRAYNAME: the env(1) prefix that runs nbdkit with the sanitizer
# runtime preloaded and its reports written where tests/run looks for them
# (a daemonised nbdkit has no stderr to report to).
_san_env () {
  local -n _pre=$1
  _pre=()
  [[ -n ${XCOPY_NBDKIT_PRELOAD:-} ]] || return 0
  _pre=(env "LD_PRELOAD=$XCOPY_NBDKIT_PRELOAD")
  if [[ -n ${XCOPY_SAN_LOG_DIR:-} ]]; then
    _pre+=("ASAN_OPTIONS=${ASAN_OPTIONS:-}:log_path=$XCOPY_SAN_LOG_DIR/nbdkit"
           "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}:log_path=$XCOPY_SAN_LOG_DIR/nbdkit")
  fi
}

# stop_pid PID: TERM, then wait up to 5 s for it to go (so exit-time
# sanitizer reports get written), then KILL.
stop_pid () {
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

# start_nbdkit SOCK PIDFILE [nbdkit args after the plugin...]
# Starts `nbdkit xcopy` on a Unix socket, waits for it, registers cleanup.
start_nbdkit () {
  local sock=$1 pidf=$2; shift 2
  local pre=()
  _san_env pre
  "${pre[@]}" nbdkit -U "$sock" -P "$pidf" "$XCOPY_PLUGIN" "$@"
  local i
  for i in $(seq 100); do [[ -s $pidf && -S $sock ]] && break; sleep 0.1; done
  [[ -s $pidf ]] || fail "nbdkit did not start"
  on_exit "stop_pid \$(cat $pidf)"
}

# mount_xfs DIR [SIZE]: a loop-mounted XFS with reflink at DIR (root only).
mount_xfs () {
  local dir=$1 size=${2:-4G}
  require_root "loop-mounted XFS"
  requires mkfs.xfs
  mkdir -p "$dir"
  truncate -s "$size" "$TMP/xfs.img"
  mkfs.xfs -q -m reflink=1 "$TMP/xfs.img" || skip "mkfs.xfs failed"
  mount -o loop "$TMP/xfs.img" "$dir" || skip "cannot loop-mount (no loop devices?)"
  on_exit "umount -l '$dir'"
}

# allocated_bytes FILE: bytes actually allocated on disk.
allocated_bytes () { echo $(( $(stat -c %b "$1") * $(stat -c %B "$1") )); }

# ---- helpers for the plugin scenarios (tests/func/test-plugin-*.sh) ----

# nbd_uri SOCK [EXPORT]: the NBD URI of an export on a Unix socket.
nbd_uri () { echo "nbd+unix:///${2:-}?socket=$1"; }

# run_nbdkit ARGS...: nbdkit with the xcopy plugin in the foreground (for
# --run, --help, bad parameters), preloading the sanitizer runtimes.
run_nbdkit () {
  local pre=()
  _san_env pre
  "${pre[@]}" nbdkit "$XCOPY_PLUGIN" "$@"
}

# qio URI COMMAND...: qemu-io, one -c per COMMAND.  Fails unless every
# command worked: qemu-io can exit 0 after a failed command.
qio () {
  local uri=$1; shift
  local args=() c out rc=0
  for c in "$@"; do args+=(-c "$c"); done
  out=$(qemu-io -f raw "${args[@]}" "$uri" 2>&1) || rc=$?
  echo "$out"
  (( rc == 0 )) || fail "qemu-io exited $rc: $*"
  if grep -qiE 'verification failed|failed|error|not supported|denied' <<<"$out"; then
    fail "qemu-io reported an error: $*"
  fi
}

# qio_fails URI REGEX COMMAND...: the commands must fail with output
# matching REGEX (grep -E, case-insensitive).
qio_fails () {
  local uri=$1 re=$2; shift 2
  local args=() c out
  for c in "$@"; do args+=(-c "$c"); done
  out=$(qemu-io -f raw "${args[@]}" "$uri" 2>&1) || true
  echo "$out"
  grep -qiE "$re" <<<"$out" || fail "expected /$re/ from qemu-io: $*"
}

# map_kind URI OFF LEN: what nbdinfo --map says of [OFF, OFF+LEN):
# "hole" (all hole,zero), "data" (all data), else "mixed".
map_kind () {
  nbdinfo --map "$1" | awk -v s="$2" -v e="$(( $2 + $3 ))" '
    $1 + $2 <= s || $1 >= e { next }
    $3 == 3 { h = 1; next }
    $3 == 0 { d = 1; next }
    { m = 1 }
    END { print (m || (h && d)) ? "mixed" : h ? "hole" : d ? "data" : "none" }'
}

# qmap_kind URI OFF LEN: the same, from qemu-img map --output=json.
qmap_kind () {
  qemu-img map -f raw --output=json "$1" |
    sed -n 's/.*"start": *\([0-9]*\), *"length": *\([0-9]*\),.*"zero": *\([a-z]*\), *"data": *\([a-z]*\).*/\1 \2 \3 \4/p' |
    awk -v s="$2" -v e="$(( $2 + $3 ))" '
      $1 + $2 <= s || $1 >= e { next }
      $3 == "true" && $4 == "false" { h = 1; next }
      $4 == "true" { d = 1; next }
      { m = 1 }
      END { print (m || (h && d)) ? "mixed" : h ? "hole" : d ? "data" : "none" }'
}

# expect_kind WHAT WANT URI OFF LEN: WHAT is map_kind or qmap_kind.
expect_kind () {
  local got
  got=$("$1" "$3" "$4" "$5")
  [[ $got == "$2" ]] || fail "$1 $4+$5: expected $2, got $got"
}

# make_sparse_random FILE MIB: a MIB-MiB file of random data with holes,
# some pieces at unaligned offsets.
make_sparse_random () {
  local f=$1 mib=$2 i
  rm -f "$f"
  truncate -s "${mib}M" "$f"
  for (( i = 0; i < mib; i += 8 )); do
    (( i % 24 == 16 )) && continue          # leave 8 MiB holes
    dd if=/dev/urandom of="$f" bs=1M count=$(( 2 + i % 5 )) \
       seek=$(( i * 1048576 + (i % 7) * 4097 )) oflag=seek_bytes \
       conv=notrunc status=none
  done
}

# mount_tmpfs DIR [SIZE]: a private tmpfs (punches holes, has no
# FALLOC_FL_ZERO_RANGE) at DIR (root only).
mount_tmpfs () {
  local dir=$1 size=${2:-1G}
  require_root "mounting tmpfs"
  mkdir -p "$dir"
  mount -t tmpfs -o "size=$size" tmpfs "$dir" || skip "cannot mount tmpfs"
  on_exit "umount -l '$dir'"
}

# zero_file FILE MIB: a MIB-MiB file of zeroes (sparse) to cmp against.
zero_file () { rm -f "$1"; truncate -s "${2}M" "$1"; }
