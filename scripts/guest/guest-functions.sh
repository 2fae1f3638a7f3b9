# Helpers for scripts that run inside the tiny test guest (busybox sh),
# sourced by /init before the host's script.  The host reads the serial
# console: "XCOPYD-RESULT name=value" lines are results, "XCOPYD-FAIL"
# explains a failure.

# result NAME VALUE: report a result to the host.
result () { echo "XCOPYD-RESULT $1=$2"; }

# fail MESSAGE: report and stop the script (exit status 1).  On stderr,
# which is the console too, so that it shows from inside $(...).
fail () { echo "XCOPYD-FAIL $*" >&2; exit 1; }

# now: seconds since boot with hundredths, for timings.
now () { cut -d' ' -f1 /proc/uptime; }

# since START: seconds elapsed since START (from now).
since () { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f\n", b - a }'; }

# wait_for PATH [SECONDS]: wait for a device node or file to appear.
wait_for () {
  i=0
  while [ ! -e "$1" ]; do
    i=$((i + 1))
    [ "$i" -le $(( ${2:-30} * 10 )) ] || fail "$1 did not appear"
    sleep 0.1
  done
}

# lun_dev KIND LUN: the node of SCSI LUN (target 0 on the virtio-scsi
# bus), KIND sg (/dev/sgN) or sd (/dev/sdX).  Waits for the scan.
lun_dev () {
  i=0
  while :; do
    for d in /sys/bus/scsi/devices/*:0:0:"$2"; do
      [ -d "$d" ] || continue
      if [ "$1" = sg ]; then
        n=$(ls "$d/scsi_generic" 2>/dev/null | head -n 1)
      else
        n=$(ls "$d/block" 2>/dev/null | head -n 1)
      fi
      if [ -n "$n" ]; then wait_for "/dev/$n"; echo "/dev/$n"; return 0; fi
    done
    i=$((i + 1))
    [ "$i" -le 300 ] || fail "SCSI LUN $2 ($1) did not appear"
    sleep 0.1
  done
}

# vd_dev SERIAL: the virtio-blk disk QEMU gave serial=SERIAL.
vd_dev () {
  i=0
  while :; do
    for s in /sys/block/vd*/serial; do
      [ -r "$s" ] || continue
      if [ "$(cat "$s")" = "$1" ]; then
        d=${s%/serial}
        wait_for "/dev/${d##*/}"
        echo "/dev/${d##*/}"
        return 0
      fi
    done
    i=$((i + 1))
    [ "$i" -le 300 ] || fail "virtio-blk disk with serial $1 did not appear"
    sleep 0.1
  done
}

# run CMD...: echo a command, run it, fail the script if it fails.
run () {
  echo "+ $*"
  "$@" || fail "exit $?: $*"
}

# sum DEV OFFSET_MIB LEN_MIB: md5 of a region of a device, read directly.
sum () {
  dd if="$1" bs=1M skip="$2" count="$3" iflag=direct status=none |
    md5sum | cut -d' ' -f1
}
