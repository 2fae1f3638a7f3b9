#!/bin/bash
# nbdkit xcopy control=: frames and sessions as PROTOCOL.md §3-§5 say.
# Fatal errors (bad magic, length over 32 MiB, anything before HELLO, a
# failed HELLO) are answered with RF_CLOSING and the connection closes;
# every other bad frame is read to its end, answered, and the session
# goes on.  Garbage and truncated frames never stop the server serving
# other clients.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/control-functions.sh"

d=$TMP/images
mkdir "$d"
head -c 4M /dev/urandom > "$d/a.img"
truncate -s 4M "$d/b.img"
C=$TMP/ctl
start_nbdkit "$TMP/sock" "$TMP/pid" dir="$d" control="$C"

# A frame header: magic version opcode flags status serial length count.
hdr () { printf '%08x' "$1" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/'; }
le16 () { printf '%04x' "$1" | sed 's/\(..\)\(..\)/\2\1/'; }
le32 () { hdr "$1"; }
le64 () { printf '%016x' "$1" | sed 's/\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)/\8\7\6\5\4\3\2\1/'; }
frame () {   # MAGIC VERSION OPCODE FLAGS STATUS SERIAL LENGTH COUNT
  echo "$(le32 "$1") $(le16 "$2") $(le16 "$3") $(le32 "$4") $(le32 "$5") $(le64 "$6") $(le32 "$7") $(le32 "$8")"
}
Q=0x51706378
alive () { ctl "$C" hello list >/dev/null || fail "server stopped serving after: $1"; }

# ---- §5: HELLO first
out=$(ctl "$C" 'list expect=EPROTO' eof)
expect_in "$out" 'op=LIST_EXPORTS version=1 status=EPROTO closing=1 .*msg="header.opcode: LIST_EXPORTS before HELLO"' "request before HELLO"
expect_in "$out" '^eof$' "closed after a request before HELLO"
out=$(ctl "$C" 'hello min=2 max=3 expect=EPROTONOSUPPORT' eof)
expect_in "$out" 'status=EPROTONOSUPPORT closing=1 .*msg="hello: no common version: client 2..3, server 1..1"' "version mismatch"
expect_in "$out" '^eof$' "closed after a failed HELLO"
out=$(ctl "$C" 'hello hversion=2 expect=EPROTONOSUPPORT' eof)
expect_in "$out" 'status=EPROTONOSUPPORT closing=1 .*msg="header.version: 2 not spoken' "HELLO frame of version 2"
out=$(ctl "$C" 'hello poke=40:0200 expect=EINVAL' eof)
expect_in "$out" 'status=EINVAL closing=1 .*msg="hello: min_version 2' "HELLO with min > max"
# A serial and an unknown opcode before HELLO are echoed.
out=$(ctl "$C" "raw $(frame $Q 1 0x42 0 0 0x0102030405060708 0 0)" eof)
expect_in "$out" 'R serial=72623859790382856 op=0x0042 version=1 status=ENOSYS closing=1' "unknown opcode before HELLO"

# ---- after HELLO: errors that keep the session
out=$(ctl "$C" hello \
  'hello expect=EPROTO' \
  "raw $(frame $Q 1 0x42 0 0 9 4 0) deadbeef expect=ENOSYS" \
  'list hversion=2 expect=EPROTONOSUPPORT' \
  'copy a.img b.img 0:0:1 hflags=0x80 expect=EINVAL' \
  'copy a.img b.img 0:0:1 hflags=0x40 expect=EINVAL' \
  'list hstatus=5 expect=EINVAL' \
  'list hcount=1 expect=EINVAL' \
  'copy a.img b.img 0:0:1 hcount=2097152 expect=E2BIG' \
  'unmap b.img 0:1 hcount=0x100001 expect=E2BIG' \
  'copy a.img b.img 0:0:1 hcount=2 expect=EBADMSG' \
  'stat a.img extra=00 hlength=8 expect=EBADMSG' \
  'stat a.img poke=32:0600 expect=EBADMSG' \
  'stat a.img poke=34:ff expect=EINVAL' \
  'stat a.img poke=34:00 expect=EINVAL' \
  'stat a.img hflags=ALL_EXPORTS expect=EINVAL' \
  'cancel 1 poke=32:00 expect=EINVAL' \
  'copy a.img b.img 0:0:2 poke=46:ffffffffffffffff expect=ERANGE' \
  'clone a.img b.img poke=41:2f expect=EINVAL' \
  list)
echo "$out" | grep -q MISMATCH && fail "an error reply differs"
expect_in "$out" 'op=HELLO .*status=EPROTO closing=0 .*msg="hello: the session has had its HELLO"' "second HELLO"
expect_in "$out" 'R serial=9 op=0x0042 .*status=ENOSYS closing=0 .*msg="header.opcode: 0x0042 unknown"' "unknown opcode"
expect_in "$out" 'msg="header.flags: bits 0x80 not valid for COPY"' "bad flags"
expect_in "$out" 'msg="header.flags: bits 0x40 not valid for COPY"' "a flag of another opcode"
expect_in "$out" 'msg="header.status: 5, must be 0 in a request"' "status in a request"
expect_in "$out" 'msg="header.count: 2097152 > limit 1048576 for COPY"' "count over the limit"
expect_in "$out" 'msg="header.count: 1048577 > limit 1048576 for UNMAP"' "UNMAP count over the limit"
expect_in "$out" 'status=EBADMSG .*msg="header.count: 2 items need at least 48 bytes, header.length is 38"' "count against length"
expect_in "$out" 'status=EBADMSG .*msg="STAT: 1 bytes after the end of the payload"' "trailing bytes"
expect_in "$out" 'status=EINVAL .*msg="stat.name: not UTF-8 at byte 0"' "bad UTF-8 name"
expect_in "$out" 'status=EINVAL .*msg="stat.name: .*NUL' "NUL in a name"
expect_in "$out" 'status=ERANGE .*failed_index=0 .*msg="range 0: src .* overflows 64 bits"' "range overflow"
expect_in "$out" 'status=EINVAL .*msg="clone.dst: contains' "CLONE destination with /"
[[ $(grep -c '^R .*op=LIST_EXPORTS version=1 status=0' <<<"$out") -eq 1 ]] || fail "the session did not go on"

# COPY with count 0 (its payload only the two names): EINVAL (§6.1).
out=$(ctl "$C" hello 'copy a.img b.img 0:0:1 hcount=0 hlength=14 trunc=46 expect=EINVAL')
expect_in "$out" 'status=EINVAL .*msg="copy: header.count 0: no ranges"' "COPY without ranges"

# ---- pipelining: replies in order
out=$(ctl "$C" hello 'stat a.img noreply=1 serial=100' 'stat nope noreply=1 serial=101 expect=ENOENT' \
        'list noreply=1 serial=102' recv recv recv)
[[ $(grep -o 'R serial=10[0-2]' <<<"$out" | tr '\n' ' ') == "R serial=100 R serial=101 R serial=102 " ]] ||
  fail "pipelined replies out of order"

# ---- fatal: bad magic, a reply's magic, length over 32 MiB, garbage
out=$(ctl "$C" hello "raw $(frame 0x12345678 1 3 0 0 5 0 0)" eof)
expect_in "$out" 'R serial=5 op=STAT .*status=EPROTO closing=1 .*msg="header.magic: 0x12345678, expected 0x51706378 \("xcpQ"\)"' "bad magic"
expect_in "$out" '^eof$' "closed after a bad magic"
out=$(ctl "$C" hello "raw $(frame 0x52706378 1 2 0 0 6 0 0)" eof)
expect_in "$out" 'status=EPROTO closing=1' "reply magic in a request"
out=$(ctl "$C" hello "list hlength=0x2000001 expect=EMSGSIZE" eof)
expect_in "$out" 'status=EMSGSIZE closing=1 .*msg="header.length: 33554433 > limit 33554432"' "length over 32 MiB"
expect_in "$out" '^eof$' "closed after a length over the limit"
garbage=$(head -c 4096 /dev/urandom | od -An -tx1 | tr -d ' \n')
out=$(ctl "$C" hello "raw $garbage" eof)
expect_in "$out" 'status=EPROTO closing=1' "garbage"
alive "garbage"

# ---- truncated frames: the server waits, then sees the end and closes
ctl_try "$C" hello 'list trunc=10' eof
ctl_try "$C" hello 'copy a.img b.img 0:0:1M trunc=40' eof
ctl_try "$C" 'hello trunc=31' eof
"$CTL_CLIENT" "$C" "send $(frame $Q 1 3 0 0 7 100 0)" >/dev/null 2>&1 || true
alive "truncated frames"

# ---- a payload shorter than its header says swallows the next frame's
# header: the server answers the garbage that follows and closes
out=$(ctl_try "$C" hello "stat a.img hlength=4" list)
expect_in "$out" 'status=EBADMSG|status=EPROTO' "payload cut short"

# ---- half-close: the reply still comes
out=$(ctl "$C" hello 'stat a.img noreply=1' half-close recv eof)
expect_in "$out" 'op=STAT .*status=0' "reply after a half-close"

alive "everything above"
kill -0 "$(cat "$TMP/pid")" || fail "nbdkit died"
echo OK
