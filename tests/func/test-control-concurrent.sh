#!/bin/bash
# nbdkit xcopy control=: copies, within one export and from another, run
# while qemu-io writes (and reads back) other ranges of the same export;
# every region ends up exactly as it should.
#
#   e.img  [0, 128M)    COPY targets: slices of [256M, 384M), over and over
#          [128M, 256M) COPY targets: slices of a.img, over and over
#          [256M, 384M) the copies' source, never written
#          [384M, 512M) qemu-io writers, two of them, each on its own half
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/control-functions.sh"
requires qemu-io

M=1048576
d=$TMP/images
mkdir "$d"
truncate -s 512M "$d/e.img"
dd if=/dev/urandom of="$d/e.img" bs=1M seek=256 count=128 conv=notrunc status=none
head -c 128M /dev/urandom > "$d/a.img"
C=$TMP/ctl
start_nbdkit "$TMP/sock" "$TMP/pid" dir="$d" control="$C"
ue=$(nbd_uri "$TMP/sock" e.img)

# copier SRC SRCBASE DSTBASE ROUNDS METHOD: copy the 128 MiB in 8 slices
# of 16 MiB, a different order each round, on one session.
copier () {
  local cmds=() r i s
  for (( r = 0; r < $4; r++ )); do
    s=""
    for i in $(shuf -i 0-7); do
      s+="${s:+,}$(( $2 + i * 16 ))M:$(( $3 + i * 16 ))M:16M"
    done
    cmds+=("copy $1 e.img $s flags=$5")
  done
  ctl "$C" hello "${cmds[@]}" > "$TMP/copier-$3.log"
}

# writer BASE-MIB PATTERN: 64 one-MiB writes, each read back at once.
writer () {
  local cmds=() i
  for (( i = 0; i < 64; i++ )); do
    cmds+=("write -P $2 $(( ($1 + i) * M )) 1M" "read -P $2 $(( ($1 + i) * M )) 1M")
  done
  qio "$ue" "${cmds[@]}" > "$TMP/writer-$1.log"
}

pids=()
copier e.img 256 0 6 BOUNCE & pids+=($!)
copier a.img 0 128 6 0 & pids+=($!)
copier e.img 256 0 4 NO_REFLINK & pids+=($!)
writer 384 0x5a & pids+=($!)
writer 448 0xa5 & pids+=($!)
for p in "${pids[@]}"; do wait "$p" || fail "a client failed (see the logs above)"; done
grep -h 'status=' "$TMP"/copier-*.log | grep -v 'status=0' && fail "a COPY failed"

cmp -n $((128 * M)) -i 0:$((256 * M)) "$d/e.img" "$d/e.img" ||
  fail "e.img [0,128M) is not [256M,384M)"
cmp -n $((128 * M)) -i $((128 * M)):0 "$d/e.img" "$d/a.img" ||
  fail "e.img [128M,256M) is not a.img"
qio "$ue" "read -P 0x5a 384M 64M" "read -P 0xa5 448M 64M" >/dev/null
echo OK
