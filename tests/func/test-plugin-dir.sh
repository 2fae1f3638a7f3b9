#!/bin/bash
# nbdkit xcopy dir=: every regular file is an export, listed by
# nbdinfo --list and served with its own content; links, directories,
# FIFOs and names leaving the directory are not exports.
source "$(dirname "$0")/functions.sh"
requires nbdkit
requires nbdinfo
requires qemu-io
requires nbdcopy

d=$TMP/images
mkdir -p "$d/subdir"
head -c 1M /dev/urandom > "$d/b.img"
head -c 2M /dev/urandom > "$d/a.img"
truncate -s 3M "$d/c d.raw"
ln -s b.img "$d/link.img"
ln -s /etc/passwd "$d/passwd"
mkfifo "$d/fifo"
echo secret > "$TMP/outside"

start_nbdkit "$TMP/sock" "$TMP/pid" dir="$d"
uri=$(nbd_uri "$TMP/sock")

list=$(nbdinfo --list --json "$uri")
echo "$list"
names=$(sed -n 's/.*"export-name": "\([^"]*\)".*/\1/p' <<<"$list" | sort | tr '\n' '|')
[[ $names == "a.img|b.img|c d.raw|" ]] || fail "listed: $names"

# Each export serves its own file, at its own size.
for f in a.img b.img; do
  nbdcopy "$(nbd_uri "$TMP/sock" "$f")" "$TMP/out-$f"
  cmp "$TMP/out-$f" "$d/$f" || fail "export $f serves wrong data"
done
nbdinfo --size "nbd+unix:///c%20d.raw?socket=$TMP/sock" | grep -qx 3145728 ||
  fail "export 'c d.raw' has the wrong size"

# Writes land in the right file only.
qio "$(nbd_uri "$TMP/sock" b.img)" 'write -P 0x77 4096 4096'
cp "$d/a.img" "$TMP/a.before"
qio "$(nbd_uri "$TMP/sock" b.img)" 'read -P 0x77 4096 4096'
cmp "$d/a.img" "$TMP/a.before" || fail "a write to b.img changed a.img"
cmp -n 4096 -i 4096:0 "$d/b.img" <(head -c 4096 /dev/zero | tr '\0' '\167') ||
  fail "the write is not in b.img"

# The default export is the first one in sorted order.
nbdinfo --json "$uri" | grep -q '"export-name": "a.img"' ||
  fail "default export is not a.img"

# Not exports: links, directories, FIFOs, missing names, escapes.
for bad in link.img passwd subdir fifo missing.img ..%2Foutside \
           subdir%2F..%2Fa.img ..; do
  if nbdinfo "nbd+unix:///$bad?socket=$TMP/sock" > "$TMP/bad.out" 2>&1; then
    cat "$TMP/bad.out"; fail "export '$bad' was served"
  fi
done

# Files added later are exports without a restart.
head -c 1M /dev/urandom > "$d/later.img"
nbdinfo --list "$uri" | grep -q 'later.img' || fail "new file not listed"
nbdcopy "$(nbd_uri "$TMP/sock" later.img)" "$TMP/out-later"
cmp "$TMP/out-later" "$d/later.img" || fail "new export serves wrong data"
echo OK
