#!/bin/bash
# xcopyd: fuzz the SCSI device (tests/fuzz/fuzz-scsi-*.c).
#
# Every tests/fuzz/fuzz-scsi-NAME.c is a libFuzzer target with its seed
# corpus in tests/fuzz/corpus/scsi-NAME/; each is linked with
# tests/fuzz/scsi-fuzz-env.c (a fresh device per input), daemon/scsi/ and
# common/.  Each target is built with clang (ASan + UBSan), fuzzed for
# $FUZZ_SECONDS (15) from its corpus, then every seed is run once more.
# New inputs go to a scratch directory, never into the repository; a
# crashing input is kept as $BUILD/test-logs/fuzz-scsi-NAME-crash-*.
# Without clang's libFuzzer the seeds are still replayed with cc, then the
# test skips.  A new target needs no change here: add the .c and corpus.

source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/fuzz-functions.sh"

CLANG=${CLANG:-clang}
flags=(-g -O1 -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64
       -I"$TOP/include" -I"$TOP/common")
san=(-fsanitize=address,undefined -fno-sanitize-recover=all)
env_src=$TOP/tests/fuzz/scsi-fuzz-env.c
lib_srcs=("$TOP"/daemon/scsi/*.c)
common_srcs=("$TOP"/common/*.c)
targets=("$TOP"/tests/fuzz/fuzz-scsi-*.c)

[[ -e ${targets[0]} ]] || fail "no fuzz-scsi-*.c targets"

# The library must not leak, whatever the suite's sanitizer settings say.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

corpus_of () {
  local name
  name=$(basename "$1" .c)
  echo "$TOP/tests/fuzz/corpus/${name#fuzz-}"
}

# Seeds of a target, checked to be there.
seeds_of () {
  local dir
  dir=$(corpus_of "$1")
  [[ -d $dir ]] || fail "no seed corpus at $dir"
  seeds=("$dir"/*)
  (( ${#seeds[@]} >= 8 )) || fail "only ${#seeds[@]} seeds in $dir"
}

# replay_with_cc TARGET: run its seeds through a standalone build.
replay_with_cc () {
  local t=$1 cc=${CC:-cc} bin
  bin="$TMP/replay-$(basename "$t" .c)"
  seeds_of "$t"
  "$cc" "${flags[@]}" "${san[@]}" -DXCOPY_FUZZ_STANDALONE "$t" "$env_src" \
        "${lib_srcs[@]}" "${common_srcs[@]}" -lpthread -o "$bin" \
        2>"$TMP/cc.log" ||
    "$cc" "${flags[@]}" -DXCOPY_FUZZ_STANDALONE "$t" "$env_src" \
          "${lib_srcs[@]}" "${common_srcs[@]}" -lpthread -o "$bin" ||
    fail "standalone build of $(basename "$t") failed"
  "$bin" "${seeds[@]}" || fail "a seed of $(basename "$t") failed the checks"
}

if ! probe_libfuzzer; then
  for t in "${targets[@]}"; do replay_with_cc "$t"; done
  skip "clang with libFuzzer not available (seeds of ${#targets[@]} targets replayed with ${CC:-cc} only)"
fi

# The library and engine, instrumented once for all targets.
objs=()
mkdir -p "$TMP/obj"
for src in "${lib_srcs[@]}" "${common_srcs[@]}" "$env_src"; do
  o="$TMP/obj/$(basename "$(dirname "$src")")-$(basename "$src" .c).o"
  "$CLANG" "${flags[@]}" -fsanitize=fuzzer-no-link,address,undefined \
    -fno-sanitize-recover=all -c "$src" -o "$o" ||
    fail "$CLANG cannot build ${src#$TOP/}"
  objs+=("$o")
done

for t in "${targets[@]}"; do
  name=$(basename "$t" .c)
  seeds_of "$t"
  "$CLANG" "${flags[@]}" -fsanitize=fuzzer,address,undefined \
           -fno-sanitize-recover=all "$t" "${objs[@]}" -lpthread \
           -o "$TMP/$name" || fail "$name does not build with $CLANG"
  mkdir -p "$TMP/new-$name" "$TMP/crash-$name"
  echo "$name: fuzzing for ${FUZZ_SECONDS:-15} s from ${#seeds[@]} seeds"
  if ! "$TMP/$name" -max_total_time="${FUZZ_SECONDS:-15}" -timeout=10 \
         -rss_limit_mb=2048 -print_final_stats=1 \
         -artifact_prefix="$TMP/crash-$name/" "$TMP/new-$name" \
         "$(corpus_of "$t")" 2>"$TMP/$name.log"; then
    tail -n 60 "$TMP/$name.log"
    mkdir -p "$TOP/$BUILD/test-logs"
    for f in "$TMP/crash-$name"/*; do
      [[ -e $f ]] || continue
      kept="$TOP/$BUILD/test-logs/$name-crash-$(basename "$f")"
      cp "$f" "$kept"
      echo "kept $kept:"
      od -A d -t x1 "$f" | head -20
    done
    fail "the fuzzer found a failing input for $name"
  fi
  grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done)' \
    "$TMP/$name.log" || true
  "$TMP/$name" "${seeds[@]}" >"$TMP/replay-$name.log" 2>&1 ||
    { tail -n 40 "$TMP/replay-$name.log"; fail "a seed of $name failed the checks"; }
  echo "$name: replayed ${#seeds[@]} seeds"
done
