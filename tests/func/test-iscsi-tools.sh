#!/bin/bash
# iSCSI target with real initiators: libiscsi's discovery (IPv4, IPv6),
# INQUIRY and READ CAPACITY(16); QEMU's iSCSI driver converting images to
# and from a LUN and qemu-io patterns, every byte compared.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/iscsi-functions.sh"
requires_libiscsi
requires iscsi-readcapacity16
requires qemu-img
requires qemu-io

truncate -s 32M "$TMP/lun0.img"
truncate -s 16M "$TMP/lun1.img"
start_iscsi --portal 127.0.0.1:0 --iqn "$IQN" --lun 0="$TMP/lun0.img" \
            --lun 3="$TMP/lun1.img"

# Discovery: the target, its portal and both LUNs.
out=$(timeout 60 iscsi-ls -s -i "$INI" "iscsi://127.0.0.1:$ISCSI_PORT")
echo "$out"
grep -q "Target:$IQN Portal:127.0.0.1:$ISCSI_PORT,1" <<<"$out" || fail "iscsi-ls: no target"
grep -q "Lun:0 .*DIRECT_ACCESS" <<<"$out" || fail "iscsi-ls: no LUN 0"
grep -q "Lun:3 .*DIRECT_ACCESS" <<<"$out" || fail "iscsi-ls: no LUN 3"

out=$(timeout 60 iscsi-inq "$(iscsi_url 0)")
grep -q "Version Descriptor:0960 iSCSI" <<<"$out" || fail "INQUIRY: no iSCSI version descriptor"
out=$(timeout 60 iscsi-readcapacity16 "$(iscsi_url 3)")
grep -q "Total size:16777216" <<<"$out" || fail "READ CAPACITY(16): $out"

# QEMU: image sizes, convert into the LUN and back, byte for byte.
qemu-img info -f raw "$(iscsi_url 0)" | grep -q "virtual size: 32 MiB" ||
  fail "qemu-img info"
make_sparse_random "$TMP/src.img" 32
timeout 120 qemu-img convert -n -f raw -O raw "$TMP/src.img" "$(iscsi_url 0)"
cmp "$TMP/src.img" "$TMP/lun0.img" || fail "convert to iSCSI: LUN differs"
timeout 120 qemu-img convert -f raw -O raw "$(iscsi_url 0)" "$TMP/back.img"
cmp "$TMP/src.img" "$TMP/back.img" || fail "convert from iSCSI: copy differs"

# qemu-io: a 1 MiB pattern at an odd offset, read back through iSCSI and
# found in the file.
qio "$(iscsi_url 3)" 'write -P 0xab 1536 1M' 'read -P 0xab 1536 1M' \
    'read -P 0 0 1536'
cmp -n 1048576 <(tail -c +1537 "$TMP/lun1.img") <(head -c 1048576 /dev/zero | tr '\0' '\253') ||
  fail "qemu-io pattern not in the file"

# IPv6 portal (when the host has ::1).
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
  start_iscsi --portal '[::1]:0' --iqn "$IQN" --lun 0="$TMP/lun0.img"
  out=$(timeout 60 iscsi-ls -s -i "$INI" "iscsi://[::1]:$ISCSI_PORT")
  echo "$out"
  grep -q "Portal:\[::1\]:$ISCSI_PORT,1" <<<"$out" || fail "IPv6 discovery"
  grep -q "Lun:0 .*DIRECT_ACCESS" <<<"$out" || fail "IPv6: no LUN 0"
fi
echo OK
