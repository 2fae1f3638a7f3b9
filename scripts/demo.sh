#!/bin/bash
# xcopyd demo (`make demo`): serve a sparse image with `nbdkit xcopy`, copy
# ranges inside it with the engine, and show that the copies are there and
# that the image stayed sparse.  Fails loudly if anything is wrong.
#
# As root the image lives on a loop-mounted XFS with reflink, so the copies
# share blocks instead of moving bytes; otherwise in a temporary directory
# on whatever file system TMPDIR is (copy_file_range still copies in the
# kernel).  Everything is removed at exit.

set -eEuo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
BUILD=${BUILD:-build}
PLUGIN=$TOP/$BUILD/nbdkit-xcopy-plugin.so
export PATH="$TOP/$BUILD/tools:$PATH"

MiB=$((1 << 20))
WORK=""
MNT=""
NBDKIT_PID=""

die () { echo; echo "*** DEMO FAILED: $* ***" >&2; exit 1; }
trap 'die "command failed (line $LINENO): $BASH_COMMAND"' ERR
cleanup () {
  cd /
  [[ -n $NBDKIT_PID ]] && kill "$NBDKIT_PID" 2>/dev/null && wait "$NBDKIT_PID" 2>/dev/null
  [[ -n $MNT ]] && { umount "$MNT" 2>/dev/null || umount -l "$MNT"; }
  [[ -n $WORK ]] && rm -rf "$WORK"
}
trap cleanup EXIT

heading () { echo; echo "== $*"; }
# show CMD...: print a command line, paths relative to the source tree,
# arguments with spaces or shell characters quoted.
show () {
  local a line="\$"
  for a; do
    a=${a//$TOP\//}
    [[ $a =~ [[:space:]?\&*] ]] && a="'$a'"
    line+=" $a"
  done
  echo "$line"
}
run () { show "$@"; "$@"; }
allocated () { echo $(( $(stat -c %b "$1") * $(stat -c %B "$1") )); }
fs_used () { sync -f .; stat -f -c '%b %f %S' . | awk '{ printf "%.0f\n", ($1 - $2) * $3 }'; }
mib () { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

check_tools () {
  local t
  for t in nbdkit nbdinfo qemu-img qemu-io xcopy-local; do
    command -v "$t" >/dev/null || die "$t not found (run: make, scripts/install-deps.sh)"
  done
  [[ -f $PLUGIN ]] || die "$PLUGIN not built (run: make)"
}

# A work directory; as root, an XFS with reflink loop-mounted inside it.
make_workdir () {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/xcopy-demo.XXXXXX")
  DIR=$WORK
  if [[ $(id -u) -eq 0 ]] && command -v mkfs.xfs >/dev/null; then
    truncate -s 2G "$WORK/xfs.img"
    mkdir "$WORK/xfs"
    if mkfs.xfs -q -m reflink=1 "$WORK/xfs.img" &&
       mount -o loop "$WORK/xfs.img" "$WORK/xfs"; then
      MNT=$WORK/xfs
      DIR=$MNT
    fi
  fi
  cd "$DIR"
  if [[ -n $MNT ]]; then
    echo "working in $DIR: a loop-mounted XFS with reflink (copies will share blocks)"
  else
    echo "working in $DIR ($(findmnt -no FSTYPE -T .); not root or no loop" \
         "devices, so no reflink: copies are in-kernel copy_file_range)"
  fi
}

# serve [nbdkit args...]: nbdkit xcopy on ./nbd.sock, in the background.
serve () {
  rm -f nbd.sock
  show nbdkit -U nbd.sock "$PLUGIN" "$@"
  nbdkit --exit-with-parent -U nbd.sock "$PLUGIN" "$@" &
  NBDKIT_PID=$!
  for _ in $(seq 100); do [[ -S nbd.sock ]] && return 0; sleep 0.1; done
  die "nbdkit did not start"
}

stop_serving () {
  kill "$NBDKIT_PID"
  wait "$NBDKIT_PID" 2>/dev/null || true
  NBDKIT_PID=""
}

URI="nbd+unix:///?socket=nbd.sock"

# qio OFFSET LEN PATTERN: read through NBD and require every byte to be PATTERN.
qio_check () {
  local out
  out=$(qemu-io -r -f raw -c "read -P $3 $1 $2" "$URI" 2>&1) ||
    die "read $1+$2 through NBD: expected bytes $3: $out"
  echo "  read $1 +$2 == $3 ... ok"
}

step_create () {
  heading "1. A sparse 1 GiB image with 6 MiB of data at known offsets"
  run truncate -s 1G sample.img
  run qemu-io -f raw -c "write -P 0xa1 0 4M" -c "write -P 0xb2 64M 2M" sample.img
  run qemu-img map -f raw --output=human sample.img
  BEFORE=$(allocated sample.img)
  echo "allocated: $(mib "$BEFORE") of 1 GiB"
}

step_serve_write () {
  heading "2. Serve it with nbdkit xcopy; write and read through NBD"
  serve file=sample.img
  run nbdinfo --map "$URI"
  run qemu-io -f raw -c "write -P 0xc3 300M 1M" "$URI"
  qio_check 0 4M 0xa1
  qio_check 64M 2M 0xb2
  qio_check 300M 1M 0xc3
  qio_check 100M 1M 0
  # One writer (DESIGN.md): only the plugin writes a served image, so stop
  # serving before the engine writes it directly.  Later the copies go
  # through the plugin's control socket instead.
  echo "stopping nbdkit: the image has one writer at a time"
  stop_serving
}

step_copy () {
  heading "3. Copy ranges within the image with the engine (SRC:DST:LEN)"
  MID=$(allocated sample.img)
  [[ -z $MNT ]] || USED=$(fs_used)
  echo "allocated before copying: $(mib "$MID")"
  # The last range starts 2 MiB before the 0xb2 data and ends 2 MiB after
  # it: its holes must stay holes at the destination.
  run xcopy-local --stats copy sample.img 0:512M:4M 300M:700M:1M 62M:800M:6M
  AFTER=$(allocated sample.img)
  echo "allocated after copying: $(mib "$AFTER") (+$(mib $((AFTER - MID))) for 7 MiB of copied data)"
  [[ -z $MNT ]] ||
    echo "space used on the XFS: +$(mib $(( $(fs_used) - USED ))) (the copies share blocks)"
}

step_verify () {
  heading "4. Serve it again (read-only) and check the copies"
  serve file=sample.img readonly=true
  run nbdinfo --map "$URI"
  run qemu-img map -f raw --output=human "$URI"
  qio_check 512M 4M 0xa1
  qio_check 700M 1M 0xc3
  qio_check 800M 2M 0
  qio_check 802M 2M 0xb2
  qio_check 804M 2M 0
  stop_serving
  echo "comparing the copies with their sources byte by byte:"
  run cmp -n 4M -i 0:512M sample.img sample.img
  run cmp -n 1M -i 300M:700M sample.img sample.img
  run cmp -n 6M -i 62M:800M sample.img sample.img
  # 7 MiB of data were copied; the 4 MiB of holes in the last range must
  # not have been filled.
  (( AFTER - MID <= 7 * MiB )) ||
    die "image inflated: allocated grew by $(mib $((AFTER - MID))), expected at most 7 MiB"
  nbd_holes
}

# is_hole OFF LEN: qemu-img map reports [OFF, OFF+LEN) of the image as a hole.
is_hole () {
  qemu-img map -f raw --output=json sample.img | awk -v o="$1" -v l="$2" '
    match($0, /"start": [0-9]+/) { s = substr($0, RSTART + 9, RLENGTH - 9) + 0 }
    match($0, /"length": [0-9]+/) { n = substr($0, RSTART + 10, RLENGTH - 10) + 0 }
    /"data": false/ && s <= o && s + n >= o + l { found = 1 }
    END { exit !found }'
}

# The parts of the last copy that were holes in the source.
nbd_holes () {
  is_hole $((800 * MiB)) $((2 * MiB)) || die "800M +2M (a copied hole) is not a hole"
  is_hole $((804 * MiB)) $((2 * MiB)) || die "804M +2M (a copied hole) is not a hole"
  echo "800M +2M and 804M +2M (copied holes) are still holes ... ok"
}

summary () {
  heading "Done"
  echo "image allocation: $(mib "$BEFORE") at start, $(mib "$MID") after the NBD write, $(mib "$AFTER") after the copies (of 1 GiB)"
  if [[ -n $MNT ]]; then
    echo "on XFS the copies share their sources' blocks (same BLOCK-RANGE; flag 100000 = shared extent):"
    run xfs_bmap -v sample.img | head -n 20 || true
  fi
  echo "demo passed"
}

check_tools
make_workdir
step_create
step_serve_write
step_copy
step_verify
summary
