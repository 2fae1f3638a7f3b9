#!/bin/bash
# Build the tiny test guest from installed Debian packages (no network):
#
#   scripts/build-guest.sh OUT_DIR
#
# writes OUT_DIR/vmlinuz (Debian's cloud kernel) and OUT_DIR/initrd.cpio.gz
# (busybox-static as /init's shell, the kernel modules for virtio-blk,
# virtio-scsi and sg, sg3-utils and ddpt with the shared libraries they
# need).  The guest's /init (scripts/guest/init) mounts proc, sys and dev,
# loads the modules, runs the script the host passes in through QEMU's
# fw_cfg (opt/xcopyd/script), reports on the serial console and powers off.
# tests/e2e/guest-functions.sh (run_guest) boots it.
#
# Cached: nothing is rebuilt unless an input (a package file, the guest's
# scripts, this script) changed.  GUEST_KERNEL=VERSION picks a kernel when
# several cloud kernels are installed (default: the newest).
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: $0 OUT_DIR}

die () { echo "build-guest: $*" >&2; exit 1; }

# Modules the guest needs; stage() loads each after the modules it depends
# on (modinfo's depends field).  Some may be built into the kernel.
MODULES=(virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev
         virtio_pci scsi_common scsi_mod virtio_scsi sd_mod sg virtio_blk
         qemu_fw_cfg)
# Programs the guest scripts use, with their Debian packages.
PROGRAMS=(
  /usr/bin/sg_xcopy:sg3-utils /usr/bin/sg_write_same:sg3-utils
  /usr/bin/sg_unmap:sg3-utils /usr/bin/sg_get_lba_status:sg3-utils
  /usr/bin/sg_readcap:sg3-utils /usr/bin/sg_inq:sg3-utils
  /usr/bin/sg_vpd:sg3-utils /usr/bin/sg_opcodes:sg3-utils
  /usr/bin/sg_copy_results:sg3-utils /usr/bin/sg_dd:sg3-utils
  /usr/bin/sg_turs:sg3-utils /usr/bin/sg_luns:sg3-utils
  /usr/bin/sg_sync:sg3-utils /usr/bin/sg_raw:sg3-utils
  /usr/bin/ddpt:ddpt
)

need_pkg () {
  local st
  st=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)
  [[ $st == installed ]] ||
    die "missing Debian package $1 (apt-get install $1, or scripts/install-deps.sh)"
}

pick_kernel () {
  local v
  if [[ -n ${GUEST_KERNEL:-} ]]; then
    v=$GUEST_KERNEL
  else
    v=$(cd /lib/modules 2>/dev/null && ls -d *-cloud-amd64 2>/dev/null |
        sort -V | tail -n 1 || true)
  fi
  [[ -n $v && -d /lib/modules/$v ]] ||
    die "missing Debian package linux-image-cloud-amd64 (no /lib/modules/*-cloud-amd64)"
  [[ -f /boot/vmlinuz-$v ]] ||
    die "missing /boot/vmlinuz-$v (reinstall linux-image-$v)"
  [[ -r /boot/vmlinuz-$v ]] ||
    die "/boot/vmlinuz-$v is not readable by $(id -un) (run as root)"
  KVER=$v
}

# module_file NAME: the module's file, empty when built into the kernel.
module_file () {
  local f
  if grep -qE "/$1\.ko$" "/lib/modules/$KVER/modules.builtin" 2>/dev/null ||
     grep -qE "/${1//_/[-_]}\.ko$" "/lib/modules/$KVER/modules.builtin" 2>/dev/null; then
    return 0
  fi
  f=$(modinfo -k "$KVER" -n "$1" 2>/dev/null) ||
    die "kernel $KVER has no module $1 (linux-image-$KVER incomplete?)"
  [[ $f == /* ]] && echo "$f"
  return 0
}

# install_module NAME FILE: an uncompressed .ko in the initrd (busybox
# insmod cannot decompress).
install_module () {
  local dst=$STAGE/lib/modules/$1.ko
  case $2 in
    *.ko)     cp "$2" "$dst" ;;
    *.ko.xz)  xz -dc "$2" >"$dst" ;;
    *.ko.zst) zstd -qdc "$2" >"$dst" ;;
    *.ko.gz)  gzip -dc "$2" >"$dst" ;;
    *) die "module $1: unknown file type $2" ;;
  esac
}

# add_module NAME: NAME after its dependencies, each once, into the
# initrd and its load-order file.
add_module () {
  local f dep
  grep -qx "$1" "$STAGE/lib/modules/load-order" && return 0
  f=$(module_file "$1")
  [[ -n $f ]] || return 0
  for dep in $(modinfo -k "$KVER" -F depends "$1" | tr ',' ' '); do
    add_module "$dep"
  done
  install_module "$1" "$f"
  echo "$1" >>"$STAGE/lib/modules/load-order"
}

# copy_with_libs FILE: FILE and the shared libraries ldd lists, at the
# same paths in the initrd.
copy_with_libs () {
  local lib
  mkdir -p "$STAGE$(dirname "$1")"
  cp -L "$1" "$STAGE$1"
  for lib in $(ldd "$1" 2>/dev/null | grep -oE '/[^ ]+' || true); do
    [[ -e $STAGE$lib ]] && continue
    mkdir -p "$STAGE$(dirname "$lib")"
    cp -L "$lib" "$STAGE$lib"
  done
}

# The list of inputs with sizes and times; the cache key is its hash.
inputs () {
  local p m f
  echo "kernel $KVER"
  stat -c '%n %s %Y' "/boot/vmlinuz-$KVER" /bin/busybox
  for p in "${PROGRAMS[@]}"; do stat -L -c '%n %s %Y' "${p%%:*}"; done
  for m in "${MODULES[@]}"; do
    f=$(module_file "$m")
    if [[ -n $f ]]; then stat -c '%n %s %Y' "$f"; else echo "$m built-in"; fi
  done
  sha256sum "$TOP/scripts/build-guest.sh" "$TOP"/scripts/guest/*
}

stage () {
  local m f p
  rm -rf "$STAGE"
  mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,lib/modules,lib/xcopyd,proc,sys,dev,run,tmp,mnt}
  cp /bin/busybox "$STAGE/bin/busybox"
  install -m 0755 "$TOP/scripts/guest/init" "$STAGE/init"
  for f in "$TOP"/scripts/guest/*.sh; do
    install -m 0644 "$f" "$STAGE/lib/xcopyd/"
  done
  : >"$STAGE/lib/modules/load-order"
  for m in "${MODULES[@]}"; do add_module "$m"; done
  for p in "${PROGRAMS[@]}"; do copy_with_libs "${p%%:*}"; done
}

main () {
  local p key
  for p in busybox-static sg3-utils ddpt cpio kmod; do need_pkg "$p"; done
  pick_kernel
  for p in "${PROGRAMS[@]}"; do
    [[ -x ${p%%:*} ]] || die "missing ${p%%:*}: install Debian package ${p##*:}"
  done
  [[ -x /bin/busybox ]] || die "missing /bin/busybox: install Debian package busybox-static"
  [[ -f $TOP/scripts/guest/init ]] || die "missing $TOP/scripts/guest/init"

  mkdir -p "$OUT"
  key=$(inputs | sha256sum | cut -d' ' -f1)
  if [[ -f $OUT/vmlinuz && -f $OUT/initrd.cpio.gz &&
        $(cat "$OUT/inputs.sha256" 2>/dev/null) == "$key" ]]; then
    echo "build-guest: $OUT is up to date (kernel $KVER)"
    return 0
  fi

  STAGE=$OUT/stage
  stage
  (cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort |
     cpio -o -H newc --owner 0:0 --quiet) | gzip -6 >"$OUT/initrd.cpio.gz.tmp"
  cp "/boot/vmlinuz-$KVER" "$OUT/vmlinuz.tmp"
  mv "$OUT/initrd.cpio.gz.tmp" "$OUT/initrd.cpio.gz"
  mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
  rm -rf "$STAGE"
  echo "$key" >"$OUT/inputs.sha256"
  echo "build-guest: built $OUT/vmlinuz and $OUT/initrd.cpio.gz" \
       "($(du -k "$OUT/initrd.cpio.gz" | cut -f1) KiB, kernel $KVER)"
}

main
