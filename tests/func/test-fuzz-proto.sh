#!/bin/bash
# xcopyd: fuzz the control-protocol decoders (tests/fuzz/fuzz-proto-decode.c).
#
# Builds the libFuzzer target with clang (ASan + UBSan), fuzzes for
# $FUZZ_SECONDS (20) starting from the seed corpus, then runs every seed
# once.  New inputs go to a scratch directory, never into the repository;
# a crashing input is kept as $BUILD/test-logs/fuzz-proto-crash-*.
# Without clang's libFuzzer the seeds are still replayed with cc, then the
# test skips.

source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/fuzz-functions.sh"

corpus=$TOP/tests/fuzz/corpus/proto-decode
target=$TOP/tests/fuzz/fuzz-proto-decode.c
srcs=("$TOP"/proto/*.c)
flags=(-g -O1 -std=gnu11 -D_GNU_SOURCE -I"$TOP/include" -I"$TOP/common")
CLANG=${CLANG:-clang}

[[ -d $corpus ]] || fail "no seed corpus at $corpus"
seeds=("$corpus"/*)
(( ${#seeds[@]} >= 24 )) || fail "only ${#seeds[@]} seeds in $corpus"

# The codec must not leak, whatever the suite's sanitizer settings say.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# replay_with_cc: run the seeds through a standalone build (no libFuzzer).
replay_with_cc () {
  local cc=${CC:-cc} san=(-fsanitize=address,undefined -fno-sanitize-recover=all)
  "$cc" "${flags[@]}" "${san[@]}" -DXCOPY_FUZZ_STANDALONE "$target" \
        "${srcs[@]}" -o "$TMP/replay" 2>"$TMP/cc.log" ||
    "$cc" "${flags[@]}" -DXCOPY_FUZZ_STANDALONE "$target" "${srcs[@]}" \
          -o "$TMP/replay" || fail "standalone build failed"
  "$TMP/replay" "${seeds[@]}" || fail "a seed failed the checks"
}

if ! probe_libfuzzer; then
  replay_with_cc
  skip "clang with libFuzzer not available (${#seeds[@]} seeds replayed with ${CC:-cc} only)"
fi

"$CLANG" "${flags[@]}" -fsanitize=fuzzer,address,undefined \
         -fno-sanitize-recover=all "$target" "${srcs[@]}" -o "$TMP/fuzz" ||
  fail "the fuzz target does not build with $CLANG"

mkdir -p "$TMP/new" "$TMP/crash"
echo "fuzzing for ${FUZZ_SECONDS:-20} s from ${#seeds[@]} seeds"
if ! "$TMP/fuzz" -max_total_time="${FUZZ_SECONDS:-20}" -timeout=10 \
       -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$TMP/crash/" "$TMP/new" "$corpus" 2>"$TMP/fuzz.log"; then
  tail -n 60 "$TMP/fuzz.log"
  mkdir -p "$TOP/$BUILD/test-logs"
  for f in "$TMP"/crash/*; do
    [[ -e $f ]] || continue
    cp "$f" "$TOP/$BUILD/test-logs/fuzz-proto-crash-$(basename "$f")"
    echo "kept $TOP/$BUILD/test-logs/fuzz-proto-crash-$(basename "$f"):"
    od -A d -t x1 "$f" | head -20
  done
  fail "the fuzzer found a failing input"
fi
grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done)' \
  "$TMP/fuzz.log" || true

# Every seed once more, on its own.
"$TMP/fuzz" "${seeds[@]}" >"$TMP/replay.log" 2>&1 ||
  { tail -n 40 "$TMP/replay.log"; fail "a seed failed the checks"; }
echo "replayed ${#seeds[@]} seeds"
