#!/bin/bash
# xcopyd serves two images of a supervised nbdkit xcopy as two LUNs of one
# iSCSI target: discovery and INQUIRY with libiscsi's tools, then QEMU's
# iSCSI client writes a random file into LUN 0 and reads it back; the
# bytes are compared, through iSCSI and in the image file itself.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/xcopyd-functions.sh"
requires iscsi-ls
requires iscsi-inq
requires qemu-img
qemu-img --help | grep -qw iscsi || skip "qemu-img has no iSCSI driver (qemu-block-extra)"

make_images 16
xcopyd_config "$TMP/xcopyd.conf" "alias = test disks" "lun.1.block-size = 4096"
start_xcopyd "$TMP/xcopyd.conf"
log_has "backend images: up \(nbdkit pid [0-9]+"
log_has "LUN 1 = images/disk1.img \(4096 blocks of 4096"

out=$(iscsi-ls -s "iscsi://127.0.0.1:$PORT")
echo "$out"
grep -q "Target:$IQN Portal:127.0.0.1:$PORT" <<<"$out" || fail "iscsi-ls: no target"
grep -qE "Lun:0 .*Type:DIRECT_ACCESS" <<<"$out" || fail "iscsi-ls: LUN 0"
grep -qE "Lun:1 .*Type:DIRECT_ACCESS" <<<"$out" || fail "iscsi-ls: LUN 1"
# iscsi-ls prints the last LBA times the block size (16M shows as 15M):
# the exact capacity comes from READ CAPACITY (16).
for lun in 0 1; do
  iscsi-readcapacity16 "$(iscsi_uri $lun)" | grep -qx "Total size:16777216" ||
    fail "LUN $lun: READ CAPACITY (16) total size is not 16 MiB"
done

out=$(iscsi-inq "$(iscsi_uri 0)")
echo "$out"
grep -q "Vendor:XCOPYD" <<<"$out" || fail "iscsi-inq: vendor"
out=$(iscsi-inq -e 1 -c 128 "$(iscsi_uri 0)")
echo "$out"
serial=$(sed -n 's/^Unit Serial Number:\[\(.*\)\]/\1/p' <<<"$out")
[[ $serial =~ ^XD[0-9a-f]{24}$ ]] || fail "serial '$serial'"
# The serial is derived from the target and LUN only: the same after a
# restart, different for the other LUN.
serial1=$(iscsi-inq -e 1 -c 128 "$(iscsi_uri 1)" | sed -n 's/^Unit Serial Number:\[\(.*\)\]/\1/p')
[[ -n $serial1 && $serial1 != "$serial" ]] || fail "LUN 1 serial '$serial1'"

head -c 16M /dev/urandom >"$TMP/random"
qemu-img convert -n -f raw -O raw "$TMP/random" "$(iscsi_uri 0)"
qemu-img convert -f raw -O raw "$(iscsi_uri 0)" "$TMP/back"
cmp "$TMP/random" "$TMP/back" || fail "bytes read back differ"
cmp "$TMP/random" "$TMP/img/disk0.img" || fail "the image file differs"
# LUN 1 (4096-byte blocks) is independent of LUN 0.
qemu-img convert -n -f raw -O raw "$TMP/random" "$(iscsi_uri 1)"
qemu-img convert -f raw -O raw "$(iscsi_uri 1)" "$TMP/back1"
cmp "$TMP/random" "$TMP/back1" || fail "LUN 1 bytes differ"
cmp "$TMP/random" "$TMP/img/disk1.img" || fail "LUN 1 image file differs"
echo OK
