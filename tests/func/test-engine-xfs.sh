#!/bin/bash
# Engine copies and fills on a loop-mounted XFS with reflink: the C program
# build/tests/unit/prog-engine-xfs asserts with FIEMAP that blocks are
# shared, that the reflink/copy_file_range counters counted the bytes, and
# that the data is right.
source "$(dirname "$0")/functions.sh"

prog="$TOP/$BUILD/tests/unit/prog-engine-xfs"
[[ -x $prog ]] || fail "$prog is not built (run make)"
mount_xfs "$TMP/xfs" 4G

rc=0
XCOPY_XFS_DIR="$TMP/xfs" "$prog" || rc=$?
# The program skips only without XCOPY_XFS_DIR: here a skip is a failure.
[[ $rc -ne 77 ]] || fail "prog-engine-xfs skipped on a mounted XFS"
exit "$rc"
