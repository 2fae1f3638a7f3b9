#!/bin/bash
# xcopyd demo (`make demo`): a guest's own copy offload, end to end.
#
# xcopyd serves a disk image as an iSCSI LUN, with `nbdkit xcopy` under
# it as the one writer of the image.  A tiny QEMU guest
# (scripts/build-guest.sh) gets the LUN as a passthrough SCSI disk and
# copies 1 GiB inside it twice: once with EXTENDED COPY (sg_xcopy), once
# with READ+WRITE (dd with direct I/O).  The demo prints both times, the
# ratio and the method the host used (the plugin's counters), and checks
# the copied bytes on the host.  Fails loudly if anything is wrong.
#
# As root the image lives on a loop-mounted XFS with reflink, so the
# offloaded copy shares blocks instead of moving bytes; otherwise in a
# temporary directory on whatever file system TMPDIR is (copy_file_range
# still copies in the kernel).  Everything is removed at exit.
#
# DEMO_COPY_MIB (default 1024) sets the size of the copies.

set -eEuo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
BUILD=${BUILD:-build}
PLUGIN=$TOP/$BUILD/nbdkit-xcopy-plugin.so
XCOPYD=$TOP/$BUILD/xcopyd
export PATH="$TOP/$BUILD:$TOP/$BUILD/tools:$PATH"

COPY_MIB=${DEMO_COPY_MIB:-1024}
IQN=iqn.2024-01.org.xcopyd:demo
WORK=""
MNT=""
XCOPYD_PID=""

die () { echo; echo "*** DEMO FAILED: $* ***" >&2; exit 1; }
trap 'die "command failed (line $LINENO): $BASH_COMMAND"' ERR
cleanup () {
  local i
  cd /
  [[ -n $WORK ]] && [[ -s $WORK/qemu.pid ]] && kill "$(cat "$WORK/qemu.pid")" 2>/dev/null
  if [[ -n $XCOPYD_PID ]] && kill "$XCOPYD_PID" 2>/dev/null; then
    # xcopyd stops the nbdkit it started; give it time to.
    for i in $(seq 100); do kill -0 "$XCOPYD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$XCOPYD_PID" 2>/dev/null || true
  fi
  [[ -n $MNT ]] && { umount "$MNT" 2>/dev/null || umount -l "$MNT"; }
  [[ -n $WORK ]] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

heading () { echo; echo "== $*"; }
# show CMD...: print a command line, paths relative to the work directory
# or the source tree.
show () {
  local a line="\$"
  for a; do
    a=${a//$DIR\//}
    a=${a//$TOP\//}
    [[ $a =~ [[:space:]?\&*] ]] && a="'$a'"
    line+=" $a"
  done
  echo "$line"
}
run () { show "$@"; "$@"; }
mib () { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

check_tools () {
  local t
  for t in qemu-system-x86_64 nbdkit nbdinfo xcopyctl jq cmp; do
    command -v "$t" >/dev/null || die "$t not found (run: make, scripts/install-deps.sh)"
  done
  [[ -f $PLUGIN ]] || die "$PLUGIN not built (run: make)"
  [[ -x $XCOPYD ]] || die "$XCOPYD not built (run: make)"
}

# A work directory; as root, an XFS with reflink loop-mounted inside it.
make_workdir () {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/xcopyd-demo.XXXXXX")
  DIR=$WORK
  if [[ $(id -u) -eq 0 ]] && command -v mkfs.xfs >/dev/null; then
    truncate -s $(( 3 * COPY_MIB + 1024 ))M "$WORK/xfs.img"
    mkdir "$WORK/xfs"
    if mkfs.xfs -q -m reflink=1 "$WORK/xfs.img" &&
       mount -o loop "$WORK/xfs.img" "$WORK/xfs"; then
      MNT=$WORK/xfs
      DIR=$MNT
    fi
  fi
  mkdir -p "$DIR/images" "$WORK/run"
  cd "$DIR"
  if [[ -n $MNT ]]; then
    echo "working in $DIR: a loop-mounted XFS with reflink"
  else
    echo "working in $DIR ($(findmnt -no FSTYPE -T .); not root or no loop" \
         "devices, so no reflink: offloaded copies are in-kernel copy_file_range)"
  fi
}

step_guest () {
  heading "1. The tiny test guest (Debian's cloud kernel, busybox, sg3-utils; cached)"
  run "$TOP/scripts/build-guest.sh" "$TOP/$BUILD/guest"
}

step_image () {
  heading "2. A $(( 3 * COPY_MIB )) MiB disk image with $COPY_MIB MiB of random data at its start"
  run truncate -s $(( 3 * COPY_MIB ))M images/disk.img
  show dd if=/dev/urandom of=images/disk.img bs=1M count="$COPY_MIB" conv=notrunc
  dd if=/dev/urandom of=images/disk.img bs=1M count="$COPY_MIB" conv=notrunc \
     iflag=fullblock status=none
}

step_serve () {
  heading "3. xcopyd serves it as LUN 0 of an iSCSI target; nbdkit xcopy writes the image"
  cat >xcopyd.conf <<EOF
[daemon]
runtime-dir = $WORK/run
management-socket = $WORK/run/mgmt.sock
plugin = $PLUGIN
[iscsi]
portal = 127.0.0.1:0
[backend:images]
dir = $DIR/images
[target:$IQN]
block-size = 512
lun.0 = images/disk.img
EOF
  sed 's/^/  /' xcopyd.conf
  show xcopyd --config xcopyd.conf --port-file port
  "$XCOPYD" --config xcopyd.conf --port-file port >xcopyd.log 2>&1 &
  XCOPYD_PID=$!
  for _ in $(seq 300); do
    [[ -s port && -S $WORK/run/images.ctl ]] && break
    kill -0 "$XCOPYD_PID" 2>/dev/null || { cat xcopyd.log; die "xcopyd exited"; }
    sleep 0.1
  done
  [[ -s port ]] || { cat xcopyd.log; die "xcopyd did not start listening"; }
  PORT=$(awk 'NR == 1 { print $2 }' port)
  export XCOPY_SOCKET=$WORK/run/images.ctl
  echo "listening on 127.0.0.1:$PORT; the plugin's control socket is $XCOPY_SOCKET"
  run nbdinfo --map "nbd+unix:///disk.img?socket=$WORK/run/images.nbd"
}

# The script the guest runs (scripts/guest/guest-functions.sh helpers).
guest_script () {
  cat <<EOF
N=$(( COPY_MIB * 2048 ))
EOF
  cat <<'EOF'
sg=$(lun_dev sg 0); sd=$(lun_dev sd 0)
run sg_readcap "$sg"
echo "-- EXTENDED COPY: sg_xcopy of $((N / 2048)) MiB from LBA 0 to LBA $N"
t=$(now)
sg_xcopy if="$sg" of="$sg" bs=512 bpt=32768 skip=0 seek=$N count=$N time=1 >/tmp/x.out 2>&1 ||
  { cat /tmp/x.out; fail "sg_xcopy failed"; }
t=$(since "$t")
cat /tmp/x.out
result xcopy_s "$(sed -n 's/.*time to transfer data[^0-9]*\([0-9.]*\) secs.*/\1/p' /tmp/x.out | head -n 1)"
result xcopy_uptime_s "$t"
echo "-- READ+WRITE: dd of $((N / 2048)) MiB from LBA 0 to LBA $((2 * N)), direct I/O"
t=$(now)
run dd if="$sd" of="$sd" bs=4M skip=0 seek=$((N / 4096)) count=$((N / 8192)) iflag=direct oflag=direct
result rw_s "$(since "$t")"
EOF
}

step_run_guest () {
  heading "4. Boot the guest with the LUN as a passthrough SCSI disk (QEMU scsi-block over iscsi://)"
  xcopyctl --json stat >stat-before.json
  guest_script >guest.sh
  TMP=$WORK
  GUEST_IMAGES=$TOP/$BUILD/guest
  GUEST_ECHO=1
  source "$TOP/tests/e2e/guest-functions.sh"
  guest_lun "iscsi://127.0.0.1:$PORT/$IQN/0"
  echo "qemu-system-x86_64 -accel tcg -kernel vmlinuz -initrd initrd.cpio.gz ..."
  echo "  -device virtio-scsi-pci -drive file=iscsi://127.0.0.1:$PORT/$IQN/0,... -device scsi-block,..."
  run_guest guest.sh 600 | sed -n 's/^\(XCOPYD-\(FAIL\|RESULT\|DONE\)\|[^X]\)/  &/p' ||
    die "the guest failed (console: above)"
  xcopyctl --json stat >stat-after.json
}

# delta METHOD: bytes the plugin's METHOD moved while the guest ran.
delta () {
  local q=".counters[] | select(.method == \"$1\") | .bytes"
  echo $(( $(jq "$q" stat-after.json) - $(jq "$q" stat-before.json) ))
}

step_check () {
  local len=$(( COPY_MIB << 20 )) m methods=""
  heading "5. Check the copies on the host"
  run cmp -n "$len" -i 0:"$len" images/disk.img images/disk.img
  run cmp -n "$len" -i 0:$(( 2 * len )) images/disk.img images/disk.img
  echo "both copies match their source byte for byte"
  run nbdinfo --map "nbd+unix:///disk.img?socket=$WORK/run/images.nbd"
  echo "what the plugin did while the guest ran (xcopyctl stat, differences):"
  for m in reflink copy_file_range splice bounce; do
    printf '  %-16s %s\n' "$m" "$(mib "$(delta "$m")")"
    (( $(delta "$m") == 0 )) || methods+="${methods:+ and }$m"
  done
  (( $(delta reflink) + $(delta copy_file_range) >= len )) ||
    die "the offloaded copy did not run as reflink or copy_file_range"
  (( $(delta bounce) == 0 )) || die "the plugin bounced data through a buffer"
  METHOD=$methods
}

summary () {
  local x rw
  x=$(guest_result xcopy_s)
  rw=$(guest_result rw_s)
  [[ -n $x ]] || x=$(guest_result xcopy_uptime_s)
  heading "Done"
  echo "copy of $COPY_MIB MiB inside the guest's disk:"
  printf '  EXTENDED COPY (sg_xcopy)   %8.3f s   host: %s\n' "$x" "$METHOD"
  printf '  READ+WRITE (dd, O_DIRECT)  %8.3f s\n' "$rw"
  awk -v x="$x" -v r="$rw" 'BEGIN {
    if (x < 0.001) x = 0.001
    printf "  ratio: EXTENDED COPY is %.0fx faster\n", r / x }'
  if [[ -n $MNT ]]; then
    echo "on XFS the offloaded copy shares its source's blocks (flag 100000 = shared):"
    run xfs_bmap -v images/disk.img | head -n 12 || true
  fi
  echo "demo passed"
}

check_tools
make_workdir
step_guest
step_image
step_serve
step_run_guest
step_check
summary
