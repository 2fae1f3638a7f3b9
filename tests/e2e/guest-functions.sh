# xcopyd: boot the tiny test guest (scripts/build-guest.sh) with QEMU and
# collect what it reports.  Sourced by tests/e2e/test-*.sh (after
# tests/func/functions.sh) and by scripts/demo.sh.
#
#   guest_build                 build (or reuse) $GUEST_IMAGES
#   guest_lun URL               attach an iSCSI LUN as scsi-block (SCSI
#                               passthrough): the guest sees LUN N for the
#                               Nth call, starting at 0 (lun_dev in the guest)
#   guest_nbd SERIAL URI        attach an NBD export as virtio-blk with that
#                               serial (vd_dev SERIAL in the guest)
#   run_guest SCRIPT [SECONDS]  boot, run SCRIPT inside, power off; returns
#                               the script's exit status (124 on timeout,
#                               125 when the guest never reported)
#   guest_result NAME           a value the script reported with `result`
#   guest_kill                  stop a guest that is still running
#
# The console goes to $GUEST_LOG; with GUEST_ECHO=1 it is also copied to
# stdout as it arrives.  QEMU runs under TCG (-accel tcg -cpu max), which
# works everywhere; GUEST_ACCEL=kvm overrides.

: "${TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${BUILD:=build}"
: "${GUEST_IMAGES:=$TOP/$BUILD/guest}"
: "${GUEST_WORK:=${TMP:-/tmp}}"
: "${GUEST_LOG:=$GUEST_WORK/guest.log}"
: "${GUEST_MEM:=256}"
: "${GUEST_ACCEL:=tcg}"
: "${GUEST_INITIATOR:=iqn.2024-01.org.xcopyd:guest}"
GUEST_DEVICES=()
_guest_luns=0
_guest_disks=0

# guest_build: the kernel and initrd, built once and then reused.
guest_build () {
  "$TOP/scripts/build-guest.sh" "$GUEST_IMAGES" >"$GUEST_WORK/build-guest.log" 2>&1 || {
    cat "$GUEST_WORK/build-guest.log" >&2
    return 1
  }
  cat "$GUEST_WORK/build-guest.log"
}

guest_lun () {
  local n=$_guest_luns
  (( n > 0 )) || GUEST_DEVICES+=(-device virtio-scsi-pci,id=scsi0)
  GUEST_DEVICES+=(
    -drive "file=$1,format=raw,if=none,id=lun$n,cache=none"
    -device "scsi-block,drive=lun$n,bus=scsi0.0,channel=0,scsi-id=0,lun=$n")
  _guest_luns=$(( n + 1 ))
}

guest_nbd () {
  local n=$_guest_disks
  GUEST_DEVICES+=(
    -drive "file=$2,format=raw,if=none,id=vd$n,cache=none,discard=unmap"
    -device "virtio-blk-pci,drive=vd$n,serial=$1")
  _guest_disks=$(( n + 1 ))
}

# guest_reset: forget the attached devices (before the next boot).
guest_reset () { GUEST_DEVICES=(); _guest_luns=0; _guest_disks=0; }

run_guest () {
  local script=$1 secs=${2:-300} rc=0 grc accel=(-accel tcg -cpu max)
  [[ $GUEST_ACCEL == kvm ]] && accel=(-accel kvm -cpu host)
  : >"$GUEST_LOG"
  local tail_pid=""
  if [[ ${GUEST_ECHO:-0} == 1 ]]; then
    tail -n +1 -f "$GUEST_LOG" &
    tail_pid=$!
  fi
  timeout -k 10 "$secs" qemu-system-x86_64 -machine q35 "${accel[@]}" \
    -m "$GUEST_MEM" -smp 1 -nodefaults -display none -no-reboot \
    -monitor none -serial "file:$GUEST_LOG" \
    -kernel "$GUEST_IMAGES/vmlinuz" -initrd "$GUEST_IMAGES/initrd.cpio.gz" \
    -append "console=ttyS0 quiet panic=-1" \
    -fw_cfg "name=opt/xcopyd/script,file=$script" \
    -iscsi "initiator-name=$GUEST_INITIATOR" \
    "${GUEST_DEVICES[@]}" </dev/null >"$GUEST_WORK/qemu.out" 2>&1 &
  echo $! >"$GUEST_WORK/qemu.pid"
  wait $! || rc=$?
  rm -f "$GUEST_WORK/qemu.pid"
  if [[ -n $tail_pid ]]; then
    sleep 0.3
    kill "$tail_pid" 2>/dev/null
    wait "$tail_pid" 2>/dev/null
  fi
  if [[ -s $GUEST_WORK/qemu.out ]]; then
    sed 's/^/qemu: /' "$GUEST_WORK/qemu.out" >&2
  fi
  # QEMU logs in to every iSCSI LUN before the guest starts: an empty
  # console means it never got that far.
  [[ -s $GUEST_LOG ]] || echo "guest: no console output (QEMU exit $rc)" >&2
  sed -n 's/^XCOPYD-RESULT //p' "$GUEST_LOG" | tr -d '\r' >"$GUEST_WORK/guest.results"
  (( rc == 124 || rc == 137 )) && { echo "guest: timed out after ${secs}s" >&2; return 124; }
  grc=$(tr -d '\r' <"$GUEST_LOG" | sed -n 's/^XCOPYD-DONE rc=\([0-9]*\)$/\1/p' | tail -n 1)
  [[ -n $grc ]] || { echo "guest: no XCOPYD-DONE line (QEMU exit $rc)" >&2; return 125; }
  return "$grc"
}

# guest_kill: stop a guest still running (for cleanup after a signal).
guest_kill () {
  [[ -s $GUEST_WORK/qemu.pid ]] && kill "$(cat "$GUEST_WORK/qemu.pid")" 2>/dev/null
  return 0
}

guest_result () {
  sed -n "s/^$1=//p" "$GUEST_WORK/guest.results" | tail -n 1
}
