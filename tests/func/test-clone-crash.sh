#!/bin/bash
# Atomic clone under kill -9 (issue 3): build/tests/unit/prog-clone copies a
# 1 GiB sparse image slowly (bounce rung, a delay per write) on the scratch
# file system (ext4 here: no reflink, so the copy takes a while) and is
# killed at random moments — during the copy, the fsync, the link or the
# rename.  Afterwards the destination name must be absent (or still the old
# file, with replace) or complete and byte-identical, and nothing else may
# be left but, with the named-temporary fallback, its hidden ".NAME.xcopy-*"
# file (documented in common/clone.h).
# Then, on a loop-mounted XFS with reflink (root only, else that part is
# skipped): a clone shares its blocks (FIEMAP "shared") and keeps the holes.
source "$(dirname "$0")/functions.sh"

prog="$TOP/$BUILD/tests/unit/prog-clone"
[[ -x $prog ]] || fail "$prog is not built (run make)"
requires cmp

dir=$TMP/clone
mkdir -p "$dir"
src=$TMP/src.img
old=$TMP/old.img

# 1 GiB apparent, 320 MiB of data in 5 unaligned pieces, holes between.
truncate -s 1G "$src"
for i in 0 1 2 3 4; do
  dd if=/dev/urandom of="$src" bs=1M count=64 seek=$(( i * 200 * 1048576 + i * 4097 )) \
     oflag=seek_bytes conv=notrunc status=none
done
head -c 1M /dev/urandom > "$old"

export XCOPY_CLONE_FORCE=bounce XCOPY_CLONE_DELAY_US=3000

# Only these names may be in the directory: dst, and hidden temporaries
# when the named fallback ran.
check_leftovers () {
  local named=$1 f
  for f in "$dir"/* "$dir"/.[!.]*; do
    [[ -e $f ]] || continue
    case ${f##*/} in
      dst) ;;
      .dst.xcopy-????????????????) [[ $named == named ]] ||
        fail "O_TMPFILE clone left ${f##*/}" ;;
      *) fail "unexpected file ${f##*/}" ;;
    esac
  done
}

# After a kill: absent (or old with replace) or complete.
check_dst () {
  local replace=$1
  if [[ ! -e $dir/dst ]]; then
    [[ $replace != replace ]] || fail "replace: the old file vanished"
    echo absent
  elif cmp -s "$dir/dst" "$src"; then
    echo complete
  elif [[ $replace == replace ]] && cmp -s "$dir/dst" "$old"; then
    echo old
  else
    fail "partial destination: $(stat -c %s "$dir/dst") bytes"
  fi
}

# One whole clone first: its duration sets the window the kills fall in.
start=$EPOCHREALTIME
"$prog" "$src" "$dir" dst
full_ms=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
cmp "$src" "$dir/dst" || fail "complete clone differs from its source"
echo "a whole clone takes ${full_ms} ms"
(( full_ms >= 200 )) || fail "the clone is too fast to be killed in the middle"

modes=("" replace named "named replace" "" replace named "named replace")
declare -A seen=()
for i in "${!modes[@]}"; do
  rm -rf "$dir" && mkdir "$dir"
  mode=${modes[i]}
  [[ $mode == *replace* ]] && cp "$old" "$dir/dst"
  # Spread the kills over the clone, jittered; the last one comes well
  # after it should have finished.
  n=${#modes[@]}
  ms=$(( full_ms * (i + 1) / n - RANDOM % (full_ms / n + 1) ))
  (( i == n - 1 )) && ms=$(( full_ms * 2 ))
  # shellcheck disable=SC2086
  "$prog" "$src" "$dir" dst $mode >/dev/null &
  pid=$!
  sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  what=$(check_dst "${mode#named }")
  check_leftovers "${mode%% *}"
  echo "kill at ${ms} ms (${mode:-tmpfile}): $what"
  seen[$what]=1
done
[[ -n ${seen[complete]:-} ]] || fail "no clone ever completed: kills all too early"
[[ -n ${seen[absent]:-}${seen[old]:-} ]] || fail "no kill landed mid-clone"
unset XCOPY_CLONE_FORCE XCOPY_CLONE_DELAY_US

# ---- XFS with reflink: shared blocks, holes kept ----
if [[ $(id -u) -ne 0 ]] || ! command -v mkfs.xfs >/dev/null || ! command -v xfs_io >/dev/null; then
  echo "XFS part skipped: needs root, mkfs.xfs and xfs_io"
  exit 0
fi
xfs=$TMP/xfs
mount_xfs "$xfs" 2G
truncate -s 256M "$xfs/src"
for i in 0 1 2; do
  dd if=/dev/urandom of="$xfs/src" bs=1M count=8 seek=$(( i * 96 + 4 )) conv=notrunc status=none
done
out=$("$prog" "$xfs/src" "$xfs" dst)
echo "xfs: $out"
# The whole aligned file is one reflink (holes map as holes): nothing
# went through copy_file_range, splice or a bounce buffer.
[[ $out == *"reflink=268435456 "* && $out == *"cfr=0 splice=0 bounce=0"* ]] ||
  fail "xfs: expected the whole 256 MiB reflinked: $out"
cmp "$xfs/src" "$xfs/dst" || fail "xfs: clone differs"
# Every data extent of the clone carries FIEMAP_EXTENT_SHARED (0x2000).
shared=0 unshared=0
while read -r _ _ range _ flags; do
  [[ $range == hole ]] && continue
  if (( 16#${flags#0x} & 0x2000 )); then shared=$((shared + 1)); else unshared=$((unshared + 1)); fi
done < <(xfs_io -r -c 'fiemap -v' "$xfs/dst" | tail -n +3)
(( shared > 0 && unshared == 0 )) ||
  { xfs_io -r -c 'fiemap -v' "$xfs/dst"; fail "xfs: $shared shared, $unshared unshared extents"; }
[[ $(xfs_io -r -c 'seek -a -r 0' "$xfs/src") == $(xfs_io -r -c 'seek -a -r 0' "$xfs/dst") ]] ||
  fail "xfs: holes differ"
(( $(allocated_bytes "$xfs/dst") <= 24 * 1048576 + 65536 )) || fail "xfs: clone inflated"
echo "xfs: $shared shared extents, holes kept"
