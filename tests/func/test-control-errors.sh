#!/bin/bash
# nbdkit xcopy control=: every refusal of a well-formed request is an
# error reply that echoes the serial, carries the errno, the failed index
# and no progress, and a message naming the field — and nothing is
# written.  Exports that do not exist, names that leave the directory,
# ranges beyond an export, read-only exports, bad fill lengths, clone
# destinations, unknown jobs, capabilities not negotiated.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/control-functions.sh"

d=$TMP/images
mkdir -p "$d/sub"
head -c 16M /dev/urandom > "$d/a.img"
head -c 16M /dev/urandom > "$d/b.img"
cp "$d/a.img" "$TMP/orig-a"
cp "$d/b.img" "$TMP/orig-b"
C=$TMP/ctl
start_nbdkit "$TMP/sock" "$TMP/pid" dir="$d" control="$C"

# refused EXPECT MESSAGE-REGEX INDEX COMMAND: one request on its own
# session, refused as said, with nothing done.
refused () {
  local out line
  out=$(ctl "$C" hello "$4 expect=$1 serial=77")
  line=$(grep 'serial=77' <<<"$out")
  expect_in "$line" "status=$1 closing=0" "$4"
  expect_in "$line" "bytes_done=0 ranges_done=0 failed_index=$3 failed_done=0 error=$1" "$4: progress"
  expect_in "$line" "msg=\"$2\"" "$4: message"
}

# ---- exports
refused ENOENT "copy.dst: no export 'nope' \\(no such regular file in $d\\)" none 'copy a.img nope 0:0:1M'
refused ENOENT "copy.src: no export 'nope'.*" none 'copy nope b.img 0:0:1M'
refused EINVAL "copy.src: export name 'sub/x': contains '/'" none 'copy sub/x b.img 0:0:1M'
refused ENOENT "copy.src: no export 'sub'.*" none 'copy sub b.img 0:0:1M'
refused EINVAL "fill.name: export name '..': is a directory reference" none 'fill .. 0 1 00'
refused ENOENT "stat.name: no export 'nope'.*" none 'stat nope'
refused ENOENT "flush.name: no export 'nope'.*" none 'flush nope'
refused ENOENT "extents.name: no export 'nope'.*" none 'extents nope 0 1'
refused ENOENT "unmap.name: no export 'nope'.*" none 'unmap nope 0:1'
refused ENOENT "zero.name: no export 'nope'.*" none 'zero nope 0 1'
refused ENOENT "clone.src: no export 'nope'.*" none 'clone nope x.img'

# ---- ranges beyond the export: the first offending range, by index
refused ERANGE 'range 1: dst end 16M\+4K beyond export size 16M' 1 'copy a.img b.img 0:0:1M,0:16380K:8K,0:17M:1M'
refused ERANGE 'range 0: src end 16M\+1 beyond export size 16M' 0 'copy a.img b.img 1:0:16M'
refused ERANGE 'fill: offset end 16M\+1 beyond export size 16M' 0 'fill a.img 15M 1048577 aa'
refused ERANGE 'zero: offset end 17M beyond export size 16M' 0 'zero a.img 15M 2M'
refused ERANGE 'span 2: offset end 16M\+512K beyond export size 16M' 2 'unmap b.img 0:4K,8M:4K,16M:512K'
refused ERANGE 'extents: offset end 32M beyond export size 16M' 0 'extents a.img 16M 16M'

# ---- field values
# (fill.length is at frame offset 40: 999 encoded, then poked to 1000)
refused EINVAL 'fill.length 1000 is not a multiple of the pattern length 3' 0 'fill a.img 0 999 aabbcc poke=40:e803'
refused EEXIST "clone.dst: 'b.img' exists \\(and REPLACE is not set\\)" none 'clone a.img b.img'
refused EINVAL "clone.dst: 'a.img' is the source export itself" none 'clone a.img a.img flags=REPLACE'
refused EISDIR "clone.dst: 'sub' is a directory" none 'clone a.img sub flags=REPLACE'
refused ENOENT 'job.job_id: no job 999' none 'jobs 999'
refused ENOENT 'job.job_id: no job 999' none 'cancel 999'

# ---- capabilities not negotiated (§5): EOPNOTSUPP
out=$(ctl "$C" 'hello caps=0' 'extents a.img 0 1 expect=EOPNOTSUPP' \
        'clone a.img z.img expect=EOPNOTSUPP' 'jobs expect=EOPNOTSUPP' \
        'zero b.img 0 4K flags=ASYNC expect=EOPNOTSUPP' list)
expect_in "$out" 'msg="header.opcode: EXTENTS needs a capability HELLO did not negotiate"' "EXTENTS without the capability"
expect_in "$out" 'msg="header.flags: ASYNC needs the JOBS capability"' "ASYNC without JOBS"
[[ -e $d/z.img ]] && fail "CLONE without the capability created a file"
# Unknown capability bits are ignored, the known ones granted.
out=$(ctl "$C" 'hello caps=0xfffffffffffffff5' 'extents a.img 0 1 expect=EOPNOTSUPP')
expect_in "$out" 'caps=0x5 ' "caps = client's ∩ server's"

# ---- ASYNC requests are checked before a job exists (§8)
out=$(ctl "$C" hello 'copy a.img b.img 0:16M:1M flags=ASYNC expect=ERANGE' \
        'copy a.img nope 0:0:1 flags=ASYNC expect=ENOENT' jobs)
grep -q '  job id=' <<<"$out" && fail "a refused ASYNC request made a job"

cmp "$d/a.img" "$TMP/orig-a" || fail "a refusal changed a.img"
cmp "$d/b.img" "$TMP/orig-b" || fail "a refusal changed b.img"
ls "$d" | grep -qv -e '^a.img$' -e '^b.img$' -e '^sub$' && fail "a refusal left a file: $(ls "$d")"

# ---- a read-only server refuses every write, naming the export (EROFS),
# and serves everything else
start_nbdkit "$TMP/sock2" "$TMP/pid2" dir="$d" readonly=true control="$TMP/ctl2"
C=$TMP/ctl2
refused EROFS "copy.dst: export 'b.img' is read-only \\(readonly=true\\)" none 'copy a.img b.img 0:0:1M'
refused EROFS "fill.name: export 'a.img' is read-only \\(readonly=true\\)" none 'fill a.img 0 1 00'
refused EROFS "zero.name: export 'a.img' is read-only \\(readonly=true\\)" none 'zero a.img 0 1'
refused EROFS "unmap.name: export 'b.img' is read-only \\(readonly=true\\)" none 'unmap b.img 0:1'
refused EROFS 'clone.dst: the server is read-only \(readonly=true\)' none 'clone a.img new.img'
refused ENOENT "copy.dst: no export 'nope'.*" none 'copy a.img nope 0:0:1M'
out=$(ctl "$C" hello list 'stat a.img' 'extents a.img 0 1M' 'flush a.img')
expect_in "$out" 'export "a.img" size=16777216 block_size=[0-9]* flags=1' "STAT of a read-only export"
cmp "$d/a.img" "$TMP/orig-a" || fail "read-only server changed a.img"
cmp "$d/b.img" "$TMP/orig-b" || fail "read-only server changed b.img"
[[ -e $d/new.img ]] && fail "read-only server made a clone"

# ---- ZERO FAST where zeroing would mean writing: tmpfs has no
# FALLOC_FL_ZERO_RANGE, and without MAY_TRIM no punching either
if [[ $(id -u) -eq 0 ]]; then
  mount_tmpfs "$TMP/tmpfs" 64M
  head -c 4M /dev/urandom > "$TMP/tmpfs/t.img"
  cp "$TMP/tmpfs/t.img" "$TMP/orig-t"
  start_nbdkit "$TMP/sock3" "$TMP/pid3" dir="$TMP/tmpfs" control="$TMP/ctl3"
  C=$TMP/ctl3
  refused EOPNOTSUPP 'zero: FAST, but zeroing here would mean writing zeroes' 0 'zero t.img 0 1M flags=FAST'
  cmp "$TMP/tmpfs/t.img" "$TMP/orig-t" || fail "ZERO FAST wrote"
  ctl "$C" hello 'zero t.img 0 1M flags=FAST|MAY_TRIM' >/dev/null
else
  echo "not root: ZERO FAST on tmpfs not checked"
fi
echo OK
