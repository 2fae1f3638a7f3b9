#!/bin/bash
# A real guest's own copy offload, end to end: the tiny guest
# (scripts/build-guest.sh) under QEMU has two LUNs of xcopyd attached as
# scsi-block (SCSI passthrough over iscsi://) and one export of
# `nbdkit xcopy` as virtio-blk.  Inside it, sg_xcopy and ddpt --xcopy copy
# within one LUN and across the two, sg_write_same writes a zero and a
# non-zero block with and without UNMAP, sg_unmap deallocates,
# sg_get_lba_status reports, and dd writes and reads the virtio-blk disk.
# On the host every byte of the three image files is compared with a model
# built with dd, the unmapped ranges must be holes, and the plugin's
# counters must show the copies done by reflink or copy_file_range, never
# by a bounce buffer.
source "$(dirname "$0")/../func/functions.sh"
source "$(dirname "$0")/guest-functions.sh"
source "$(dirname "$0")/target-functions.sh"
requires qemu-system-x86_64
requires nbdkit
requires xcopyctl
requires jq

[[ -f $XCOPY_PLUGIN ]] || fail "$XCOPY_PLUGIN not built"
guest_build || {
  grep -q 'missing' "$GUEST_WORK/build-guest.log" &&
    skip "cannot build the test guest: $(tail -n 1 "$GUEST_WORK/build-guest.log")"
  fail "scripts/build-guest.sh failed"
}

IQN=iqn.2024-01.org.xcopyd:guest-offload
M=2048                                  # 512-byte blocks per MiB
BS=512

# gen_image FILE TAG: 64 MiB where every 512-byte block says which image
# and block it is, so that any misplaced block shows.
gen_image () {
  perl -e 'for my $i (0 .. 131071) {
             print substr (sprintf ("%s%07d ", $ARGV[0], $i) x 57, 0, 512) }' \
    "$2" >"$1"
}
# model_copy FROM SRC_LBA TO DST_LBA BLOCKS (through a buffer: no overlap here)
model_copy () {
  dd if="$1" bs=$BS skip="$2" count="$5" status=none >"$TMP/piece"
  dd if="$TMP/piece" of="$3" bs=$BS seek="$4" conv=notrunc status=none
}
# model_same FILE LBA BLOCKS BLOCKFILE / model_zero FILE LBA BLOCKS
model_same () {
  perl -e 'local $/; my $b = <STDIN>; print $b x $ARGV[0]' "$3" <"$4" >"$TMP/piece"
  dd if="$TMP/piece" of="$1" bs=$BS seek="$2" conv=notrunc status=none
}
model_zero () {
  dd if=/dev/zero of="$1" bs=$BS seek="$2" count="$3" conv=notrunc status=none
}

# ---- images, models, nbdkit, the target ----
mkdir "$TMP/img" "$TMP/luns"
gen_image "$TMP/img/c.img" c
# What `yes TEXT | head -c BYTES` makes in the guest (without SIGPIPE
# tripping pipefail here).
repeat () { perl -e 'print substr ("$ARGV[0]\n" x $ARGV[1], 0, $ARGV[1])' "$1" "$2"; }
repeat XCOPYD-WS $BS >"$TMP/ws.blk"
repeat XCOPYD-VIRTIO 1048576 >"$TMP/virtio.pat"
start_nbdkit "$TMP/nbd.sock" "$TMP/nbdkit.pid" dir="$TMP/img" \
  control="$TMP/ctl.sock"
for _ in $(seq 50); do [[ -S $TMP/ctl.sock ]] && break; sleep 0.1; done
export XCOPY_SOCKET=$TMP/ctl.sock

# XCOPYD_E2E_TARGET=iscsi-serve picks the standalone target even when
# xcopyd is built.
if xcopyd_available && [[ ${XCOPYD_E2E_TARGET:-xcopyd} == xcopyd ]]; then
  lundir=$TMP/img
  gen_image "$lundir/a.img" a
  gen_image "$lundir/b.img" b
  start_xcopyd_attached "$IQN" "$TMP/nbd.sock" "$TMP/ctl.sock" a.img b.img
else
  # Until xcopyd serves iSCSI, the standalone target runs the same SCSI
  # library over the files directly; the plugin then sees only the
  # virtio-blk disk, so its counters prove nothing about the LUNs.
  lundir=$TMP/luns
  gen_image "$lundir/a.img" a
  gen_image "$lundir/b.img" b
  start_iscsi_serve "$IQN" "$lundir/a.img" "$lundir/b.img" ||
    skip "neither xcopyd nor tests/unit/prog-iscsi-serve is built"
fi
echo "target: $TARGET_KIND on port $TARGET_PORT"
probe_lun "$(iscsi_url "$IQN" 0)" $(( 64 << 20 ))
probe_lun "$(iscsi_url "$IQN" 1)" $(( 64 << 20 ))
guest_lun "$(iscsi_url "$IQN" 0)"
guest_lun "$(iscsi_url "$IQN" 1)"
guest_nbd cdisk "$(nbd_uri "$TMP/nbd.sock" c.img)"
for f in a b; do cp "$lundir/$f.img" "$TMP/$f.model"; done
cp "$TMP/img/c.img" "$TMP/c.model"

xcopyctl --json stat >"$TMP/stat-before.json"

# ---- the guest ----
cat >"$TMP/guest.sh" <<'EOF'
A=$(lun_dev sg 0); B=$(lun_dev sg 1)
Asd=$(lun_dev sd 0); Bsd=$(lun_dev sd 1)
C=$(vd_dev cdisk)
M=2048
run sg_readcap "$A"
sg_readcap "$A" | grep -q 'Logical block length=512 bytes' || fail "LUN 0 block size"

# EXTENDED COPY: sg_xcopy within LUN 0 and from LUN 0 to LUN 1 (sent to
# the destination this time), ddpt --xcopy within LUN 1 and from LUN 1
# to LUN 0 (an unaligned one).
run sg_xcopy if="$A" of="$A" bs=512 skip=0 seek=$((32 * M)) count=$((4 * M))
run sg_xcopy --on_dst if="$A" of="$B" bs=512 skip=$((8 * M)) seek=$((16 * M)) count=$((2 * M))
run ddpt if="$B" of="$B" bs=512 skip=$((40 * M)) seek=$((48 * M)) count=$((3 * M)) --xcopy
run ddpt if="$B" of="$A" bs=512 skip=100 seek=$((52 * M + 7)) count=333 --xcopy
[ "$(sum "$Asd" 0 4)" = "$(sum "$Asd" 32 4)" ] || fail "XCOPY within LUN 0: copy differs"

# WRITE SAME: a zero block and a non-zero block, without and with UNMAP.
yes XCOPYD-WS | head -c 512 >/tmp/ws.blk
run sg_write_same --lba=$((20 * M)) --num=$M "$A"
run sg_write_same --in=/tmp/ws.blk --lba=$((24 * M)) --num=512 "$B"
run sg_write_same --unmap --lba=$((56 * M)) --num=$((2 * M)) "$A"
run sg_write_same --unmap --in=/tmp/ws.blk --lba=$((30 * M)) --num=100 "$B"
# UNMAP, then GET LBA STATUS of an unmapped and a written LBA.
run sg_unmap --force --lba=$((60 * M)) --num=$((2 * M)) "$A"
run sg_get_lba_status --lba=$((60 * M)) "$A"
result unmapped_status "$(sg_get_lba_status -bb --lba=$((60 * M)) "$A")"
result ws_unmap_status "$(sg_get_lba_status -bb --lba=$((56 * M)) "$A")"
result mapped_status "$(sg_get_lba_status -bb --lba=$((32 * M)) "$A")"
result zero_sum "$(sum "$Asd" 60 2)"

# virtio-blk over NBD: read what the host wrote, write a pattern, read it back.
result c_head "$(sum "$C" 0 4)"
yes XCOPYD-VIRTIO | head -c 1048576 >/tmp/virtio.pat
run dd if=/tmp/virtio.pat of="$C" bs=1M seek=8 oflag=direct conv=notrunc status=none
[ "$(sum "$C" 8 1)" = "$(md5sum </tmp/virtio.pat | cut -d' ' -f1)" ] ||
  fail "virtio-blk: read back differs from what was written"
result virtio_ok yes
EOF
on_exit guest_kill
run_guest "$TMP/guest.sh" 150 || {
  rc=$?
  sed 's/^/  guest: /' "$GUEST_LOG"
  fail "the guest script failed (status $rc)"
}
sed 's/^/  guest: /' "$GUEST_LOG"
xcopyctl --json stat >"$TMP/stat-after.json"

# ---- the model ----
model_copy "$TMP/a.model" 0 "$TMP/a.model" $(( 32 * M )) $(( 4 * M ))
model_copy "$TMP/a.model" $(( 8 * M )) "$TMP/b.model" $(( 16 * M )) $(( 2 * M ))
model_copy "$TMP/b.model" $(( 40 * M )) "$TMP/b.model" $(( 48 * M )) $(( 3 * M ))
model_copy "$TMP/b.model" 100 "$TMP/a.model" $(( 52 * M + 7 )) 333
model_zero "$TMP/a.model" $(( 20 * M )) $M
model_same "$TMP/b.model" $(( 24 * M )) 512 "$TMP/ws.blk"
model_zero "$TMP/a.model" $(( 56 * M )) $(( 2 * M ))
model_same "$TMP/b.model" $(( 30 * M )) 100 "$TMP/ws.blk"
model_zero "$TMP/a.model" $(( 60 * M )) $(( 2 * M ))
dd if="$TMP/virtio.pat" of="$TMP/c.model" bs=1M seek=8 conv=notrunc status=none

# ---- checks on the host ----
# QEMU opened the disks with cache=none and nothing between the guest and
# the files caches data, so the files (through the page cache) are current.
for f in a b; do
  cmp "$lundir/$f.img" "$TMP/$f.model" || fail "$f.img differs from its model"
  echo "$f.img matches its model"
done
cmp "$TMP/img/c.img" "$TMP/c.model" || fail "c.img differs from its model"
echo "c.img matches its model"

[[ $(guest_result c_head) == $(head -c 4M "$TMP/c.model" | md5sum | cut -d' ' -f1) ]] ||
  fail "the guest read other bytes from virtio-blk than the host wrote"
[[ $(guest_result virtio_ok) == yes ]] || fail "virtio-blk write and read back"
[[ $(guest_result zero_sum) == $(head -c 2M /dev/zero | md5sum | cut -d' ' -f1) ]] ||
  fail "unmapped blocks do not read as zeroes"
# GET LBA STATUS provisioning status: 0 mapped, 1 deallocated.
[[ $(guest_result unmapped_status) == 1 ]] ||
  fail "GET LBA STATUS after UNMAP: '$(guest_result unmapped_status)', expected 1 (deallocated)"
[[ $(guest_result ws_unmap_status) == 1 ]] ||
  fail "GET LBA STATUS after WRITE SAME with UNMAP: '$(guest_result ws_unmap_status)', expected 1"
[[ $(guest_result mapped_status) == 0 ]] ||
  fail "GET LBA STATUS of copied data: '$(guest_result mapped_status)', expected 0 (mapped)"

# Unmapped ranges are holes in the image file.
holes=$(perl -e 'use Fcntl; open my $f, "<", $ARGV[0] or die;
  for my $mib (56, 60) {
    my $h = sysseek ($f, $mib << 20, 4) or die;   # SEEK_HOLE
    print $h == ($mib << 20) ? "hole " : "data ";
  }' "$lundir/a.img")
[[ $holes == "hole hole " ]] || fail "unmapped ranges of a.img are not holes: $holes"
echo "unmapped ranges are holes"

# ---- counters: the copies ran in the kernel, never through a buffer ----
# delta METHOD: bytes the plugin's METHOD moved during the guest's run.
delta () {
  local q=".counters[] | select(.method == \"$1\") | .bytes"
  echo $(( $(jq "$q" "$TMP/stat-after.json") - $(jq "$q" "$TMP/stat-before.json") ))
}
if [[ $TARGET_KIND == xcopyd ]]; then
  for m in reflink copy_file_range splice bounce; do echo "$m: +$(delta $m) bytes"; done
  copied=$(( (4 * M + 2 * M + 3 * M + 333) * BS ))
  (( $(delta reflink) + $(delta copy_file_range) >= copied )) ||
    fail "reflink + copy_file_range moved less than the $copied bytes the guest copied"
  (( $(delta bounce) == 0 && $(delta splice) == 0 )) ||
    fail "some copies went through a buffer (bounce or splice)"
  echo "the guest's copies ran as reflink/copy_file_range"
else
  echo "NOTE: target $TARGET_KIND serves the LUNs without the plugin;" \
       "counters not checked"
fi
echo OK
