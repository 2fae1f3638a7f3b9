#!/bin/bash
# xcopyctl: the command line alone — usage errors exit 2 with a message
# naming the argument and the reason, before any connection; a socket
# nobody serves exits 3 naming the path; --json reports both.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/xcopyctl-functions.sh"

export XCOPY_SOCKET=$TMP/nobody.sock

run_ctl 0 --version
out_has "xcopyctl "

# Commands and their arguments.
run_ctl 2
err_has "xcopyctl: no command given (see xcopyctl --help)"
run_ctl 2 frobnicate
err_has "xcopyctl: unknown command 'frobnicate'"
run_ctl 2 fill a 0 1M
err_has "xcopyctl: fill: 3 arguments given, expected EXPORT OFF LEN PATTERN"
run_ctl 2 flush
err_has "flush: 0 arguments given, expected EXPORT"
run_ctl 2 exports extra
err_has "exports: 1 argument given, expected none"
run_ctl 2 extents a 0
err_has "extents: give both OFF and LEN, or neither"
run_ctl 2 zero --frob a 0 1
err_has "Unknown option --frob"
# An option of another command is not an option of this one.
run_ctl 2 copy --trim a 0:0:1
err_has "Unknown option --trim"
run_ctl 2 copy --async --wait a 0:0:1
err_has "copy: --async and --wait exclude each other"
run_ctl 2 jobs --wait
err_has "jobs: --wait needs a job ID"

# Sizes: suffixes, sums, and what is refused.
run_ctl 2 zero a 1x 1
err_has "zero: OFF '1x': unknown suffix 'x' (use K, M, G, T or s)"
run_ctl 2 zero a 0 -5
err_has "zero: Unknown option -5"
run_ctl 2 zero a 0 -- -5
err_has "LEN '-5': must not be negative"
run_ctl 2 zero a 0 1.5G
err_has "LEN '1.5G': unexpected '.'"
run_ctl 2 zero a 18446744073709551616 1
err_has "OFF '18446744073709551616': does not fit in 64 bits"
run_ctl 2 zero a 16777216T 1
err_has "OFF '16777216T': does not fit in 64 bits"
run_ctl 2 zero a 0 1KB
err_has "LEN '1KB': unexpected 'B' after the suffix"

# Ranges and spans name their index and field.
run_ctl 2 copy a 0:0:1M 1M:1M:1M 'abc:0:1M'
err_has "xcopyctl: copy: range 2: 'abc:0:1M': invalid src 'abc': not a number"
run_ctl 2 copy a 0:1Q:1
err_has "range 0: '0:1Q:1': invalid dst '1Q': unknown suffix 'Q'"
run_ctl 2 copy a 0:0
err_has "range 0: '0:0': expected SRC:DST:LEN, got 2 fields"
run_ctl 2 copy a 16777215T+1023G+1023M+1023K+1023:0:1
err_has "src + len does not fit in 64 bits"
run_ctl 2 copy a
err_has "copy: no ranges given (SRC:DST:LEN arguments or --ranges-file)"
run_ctl 2 unmap a 0:1M 4M
err_has "unmap: span 1: '4M': expected OFF:LEN, got 1 field"

# Ranges files: line numbers, comments, the running range index.
printf '# moves\n0:0:1M\n\n  1M:2M:4K   # a comment\nabc:0:1M\n' >"$TMP/r.txt"
run_ctl 2 copy a 0:0:1 --ranges-file "$TMP/r.txt"
err_has "$TMP/r.txt:5: range 3: 'abc:0:1M': invalid src 'abc': not a number"
run_ctl 2 copy a -f "$TMP/missing.txt"
err_has "--ranges-file: Failed to open file"
err_has "missing.txt"
printf '0:0:1 0:1:1\n' >"$TMP/two.txt"
run_ctl 2 copy a -f "$TMP/two.txt"
err_has "two.txt:1: range 0: '0:0:1 0:1:1': unexpected ' ': one SRC:DST:LEN per line"
rc=0
printf '0:0:1\nx\n' | xcopyctl copy a -f - 2>"$TMP/err" || rc=$?
(( rc == 2 )) || fail "ranges from stdin: exit $rc"
err_has "-:2: range 1: 'x': expected SRC:DST:LEN, got 1 field"

# Patterns, lengths, job ids, methods.
run_ctl 2 fill a 0 1M abc
err_has "fill: PATTERN 'abc': odd number of hex digits"
run_ctl 2 fill a 0 1M 'de:xx'
err_has "PATTERN 'de:xx': 'x' at byte 3 is not a hex digit"
run_ctl 2 fill a 0 1000 abcdef
err_has "LEN '1000': not a multiple of the pattern's length (3 bytes)"
run_ctl 2 fill a 0 1M @"$TMP/nopattern"
err_has "PATTERN '@$TMP/nopattern': Failed to open file"
: >"$TMP/empty"
run_ctl 2 fill a 0 1M @"$TMP/empty"
err_has "the file is empty"
head -c $(( 1048576 + 1 )) /dev/zero >"$TMP/big"
run_ctl 2 fill a 0 1M @"$TMP/big"
err_has "1048577 bytes, more than 1048576"
run_ctl 2 cancel 0
err_has "cancel: job ID '0': job ids start at 1"
run_ctl 2 jobs 12x
err_has "jobs: job ID '12x': unexpected 'x'"
run_ctl 2 copy --method=reflink-please a 0:0:1
err_has "--method 'reflink-please': unknown method 'reflink-please'"
long=$(printf 'x%.0s' $(seq 300))
run_ctl 2 flush "$long"
err_has "EXPORT 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...': 300 bytes, longer than 255"

# --json reports usage errors too, on stdout.
run_ctl 2 --json zero a 0 1x
jq_is .command zero
jq_is .status usage
jq_is .error.message "LEN '1x': unknown suffix 'x' (use K, M, G, T or s)"
jq_is .error.errno 0

# Nobody serves the socket: exit 3, naming it; --socket beats the variable.
run_ctl 3 flush a
err_has "flush: cannot connect to $TMP/nobody.sock: No such file or directory"
run_ctl 3 --socket "$TMP/other.sock" flush a
err_has "cannot connect to $TMP/other.sock"
run_ctl 3 flush a -s "$TMP/other.sock"
err_has "cannot connect to $TMP/other.sock"
run_ctl 3 --json stat
jq_is .status error
jq_is .command stat
run_ctl 2 --socket "$TMP/$(printf 's%.0s' $(seq 120))" stat
err_has "longer than 107 bytes"
: >"$TMP/not-a-socket"
run_ctl 3 --socket "$TMP/not-a-socket" stat
err_has "Connection refused"
( unset XCOPY_SOCKET; xcopyctl stat 2>"$TMP/err" ) && fail "default socket answered?"
[[ -S /run/xcopyd/plugin.sock ]] || err_has "/run/xcopyd/plugin.sock"
echo OK
