#!/bin/bash
# nbdkit xcopy: multi-conn.  Two qemu-io clients write at the same time
# (each request with FUA), then a four-connection nbdcopy reads everything
# back: all writes are visible on every connection.
source "$(dirname "$0")/functions.sh"
requires nbdkit
requires qemu-io
requires nbdcopy
requires nbdinfo

M=1048576
truncate -s 64M "$TMP/img"
start_nbdkit "$TMP/sock" "$TMP/pid" file="$TMP/img"
uri=$(nbd_uri "$TMP/sock")
nbdinfo "$uri" | grep -q 'can_multi_conn: true' || fail "no can_multi_conn"

# writer PATTERN FIRST-MIB: 32 one-MiB writes of PATTERN from FIRST-MIB.
writer () {
  local cmds=() i
  for (( i = $2; i < $2 + 32; i++ )); do cmds+=("write -P $1 $((i * M)) $M"); done
  qio "$uri" "${cmds[@]}" > "$TMP/writer-$1.log"
}
writer 0xa1 0 & a=$!
writer 0xb2 32 & b=$!
wait $a || fail "writer 0xa1 failed: $(tail -3 "$TMP/writer-0xa1.log")"
wait $b || fail "writer 0xb2 failed: $(tail -3 "$TMP/writer-0xb2.log")"

{ head -c 32M /dev/zero | tr '\0' '\241'; head -c 32M /dev/zero | tr '\0' '\262'; } \
  > "$TMP/expected"
nbdcopy --connections=4 "$uri" "$TMP/out"
cmp "$TMP/out" "$TMP/expected" || fail "read back differs"
cmp "$TMP/img" "$TMP/expected" || fail "image differs"
echo OK
