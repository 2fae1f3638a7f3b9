#!/bin/bash
# Install every Debian package that xcopyd's build, tests, demo and
# benchmarks need.  Idempotent: installs only what is missing.
#
#   scripts/install-deps.sh            install what is missing (root)
#   scripts/install-deps.sh --check    exit 1 and list what is missing
#   scripts/install-deps.sh --ensure   install when root, else print the
#                                      exact apt-get line and fail
set -euo pipefail

PACKAGES=(
  # build
  gcc make pkg-config libc6-dev perl
  nbdkit nbdkit-plugin-dev libnbd-dev libglib2.0-dev libjson-glib-dev
  libisal-dev           # CRC32C header and data digests of the iSCSI target
  libiscsi-dev          # the initiator side of bench/iscsi-load.c
  # tests, demo and benchmarks
  libnbd-bin qemu-utils xfsprogs util-linux e2fsprogs fio
  jq                    # parses xcopyctl --json in tests/func/test-xcopyctl-*.sh
  coreutils procps clang libclang-rt-14-dev
  # README's worked example (QEMU attached with -blockdev nbd)
  qemu-system-x86
  # iSCSI: conformance (iscsi-test-cu), QEMU's iSCSI client, the peer target
  libiscsi-bin qemu-block-extra tgt
  # the tiny test guest (scripts/build-guest.sh): kernel, init, SCSI tools
  linux-image-cloud-amd64 busybox-static sg3-utils ddpt cpio kmod
)

missing=()
for p in "${PACKAGES[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ $st == installed ]] || missing+=("$p")
done

mode=${1:-install}
if [[ ${#missing[@]} -eq 0 ]]; then
  [[ $mode == --check ]] || echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

line="apt-get install -y --no-install-recommends ${missing[*]}"
case $mode in
  --check)
    echo "install-deps: missing: ${missing[*]}"
    exit 1 ;;
  --ensure|install)
    if [[ $(id -u) -ne 0 ]]; then
      echo "install-deps: missing packages; as root run:" >&2
      echo "  apt-get update && $line" >&2
      exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" ;;
  *)
    echo "usage: $0 [--check|--ensure]" >&2
    exit 2 ;;
esac
