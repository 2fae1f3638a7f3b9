# Helpers shared by the fuzz scenarios (test-fuzz-*.sh), sourced after
# functions.sh.

# probe_libfuzzer: does $CLANG link a libFuzzer target with ASan and
# UBSan?  Tells "libFuzzer missing" apart from "our code broke".
probe_libfuzzer () {
  command -v "$CLANG" >/dev/null 2>&1 || return 1
  printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput (const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput (const uint8_t *d, size_t n) { (void) d; (void) n; return 0; }' \
    >"$TMP/probe.c"
  "$CLANG" -fsanitize=fuzzer,address,undefined "$TMP/probe.c" \
           -o "$TMP/probe" >"$TMP/probe.log" 2>&1
}
