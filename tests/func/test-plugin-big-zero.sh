#!/bin/bash
# nbdkit xcopy: zero requests of 128 MiB (over nbdkit 1.32's broken 64 MiB
# fallback step) erase all the old data, on every rung of the zero ladder:
# punch (may trim), FALLOC_FL_ZERO_RANGE (ext4, XFS) and written zeroes
# (tmpfs has no ZERO_RANGE, so without trim the engine must write).
source "$(dirname "$0")/functions.sh"
requires nbdkit
requires nbdcopy
requires qemu-io

M=1048576
zero_file "$TMP/zero" 256
head -c 4M /dev/urandom > "$TMP/blk"
# old_data FILE: 256 MiB of non-zero data.
old_data () { local i; for (( i = 0; i < 64; i++ )); do cat "$TMP/blk"; done > "$1"; }

# big_zero DIR LABEL NBDCOPY-FLAGS...: an image of random data in DIR,
# overwritten through NBD with a 256 MiB file of zeroes.
big_zero () {
  local dir=$1 label=$2; shift 2
  local img=$dir/img-$label log=$TMP/log-$label
  old_data "$img"
  start_nbdkit "$TMP/sock-$label" "$TMP/pid-$label" --filter=log \
    file="$img" logfile="$log"
  nbdcopy "$@" "$TMP/zero" "$(nbd_uri "$TMP/sock-$label")"
  cmp "$img" "$TMP/zero" || fail "$label: old data survived zeroing"
  grep -q "Zero id=[0-9]* offset=0x8000000 count=0x8000000" "$log" ||
    fail "$label: no 128 MiB zero request"
  if grep -q 'return=-' "$log"; then fail "$label: a request failed"; fi
  echo "$label: allocated $(allocated_bytes "$img")"
}

# On the scratch file system (ext4 here): punch, then ZERO_RANGE.
big_zero "$TMP" trim
(( $(allocated_bytes "$TMP/img-trim") < 16 * M )) ||
  fail "trim: zeroes with may-trim did not punch"
big_zero "$TMP" notrim --allocated
grep -q "Zero id=[0-9]* offset=0x0 count=0x8000000 trim=0" "$TMP/log-notrim" ||
  fail "notrim: nbdcopy --allocated sent no zero without trim"

# QEMU splits its zero requests at 32 MiB; 200 MiB in one command anyway.
img=$TMP/img-qemu
old_data "$img"
start_nbdkit "$TMP/sock-q" "$TMP/pid-q" file="$img"
qio "$(nbd_uri "$TMP/sock-q")" "write -z 0 200M" "read -P 0 60M 10M" "read -P 0 190M 10M"
cmp -n $((200 * M)) "$img" "$TMP/zero" || fail "qemu: old data survived"
cmp -s "$img" "$TMP/zero" && fail "qemu: zeroed past the request"

# Written zeroes: a file system without ZERO_RANGE, no trim allowed.
if [[ $(id -u) -eq 0 ]]; then
  mount_tmpfs "$TMP/tmpfs" 600M
  big_zero "$TMP/tmpfs" tmpfs --allocated
  (( $(allocated_bytes "$TMP/tmpfs/img-tmpfs") >= 256 * M )) ||
    fail "tmpfs: zeroes without trim must stay allocated"
else
  echo "not root: skipping the written-zeroes rung on tmpfs"
fi
echo OK
