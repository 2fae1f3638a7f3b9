/* xcopyd: the parsers behind xcopyctl's arguments (common/sizes.c) —
 * sizes with suffixes and sums, SRC:DST:LEN ranges, OFF:LEN spans, lines
 * of a ranges file, hex patterns, job ids — and that every refusal says
 * which field is wrong and why.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "sizes.h"
#include "xcopy/proto.h"

#define TiB (UINT64_C (1) << 40)

static void
check_size (const char *file, int line, const char *s, uint64_t want)
{
  char why[XCOPY_WHY_SIZE] = "";
  uint64_t v = 12345;
  int ret = xcopy_size_parse (s, &v, why);

  if (ret != 0 || v != want)
    h_fail (file, line, "'%s': ret %d (%s), value %ju, want %ju", s, ret,
            why, (uintmax_t) v, (uintmax_t) want);
}
#define SIZE_OK(s, want) check_size (__FILE__, __LINE__, (s), (want))

/* A refusal: the error and a substring of the reason. */
static void
check_bad (const char *file, int line, int ret, const char *s, int err,
           const char *why, const char *want)
{
  if (ret != -err || strstr (why, want) == NULL)
    h_fail (file, line, "'%s': ret %d, want %d; why '%s', want '%s'", s,
            ret, -err, why, want);
}

static void
check_size_bad (const char *file, int line, const char *s, int err,
                const char *want)
{
  char why[XCOPY_WHY_SIZE] = "";
  uint64_t v = 12345;
  int ret = xcopy_size_parse (s, &v, why);

  check_bad (file, line, ret, s, err, why, want);
  if (v != 12345)
    h_fail (file, line, "'%s': value changed on failure", s);
}
#define SIZE_BAD(s, err, want) \
  check_size_bad (__FILE__, __LINE__, (s), (err), (want))

static void
sizes_plain (void)
{
  SIZE_OK ("0", 0);
  SIZE_OK ("1", 1);
  SIZE_OK ("512", 512);
  SIZE_OK ("010", 10);                /* leading zeroes are decimal */
  SIZE_OK ("0x1000", 4096);
  SIZE_OK ("0XfF", 255);
  SIZE_OK ("18446744073709551615", UINT64_MAX);
  SIZE_OK ("0xffffffffffffffff", UINT64_MAX);
}

static void
sizes_suffixes (void)
{
  SIZE_OK ("1K", KiB);
  SIZE_OK ("1k", KiB);
  SIZE_OK ("3M", 3 * MiB);
  SIZE_OK ("3m", 3 * MiB);
  SIZE_OK ("4G", 4 * GiB);
  SIZE_OK ("2T", 2 * TiB);
  SIZE_OK ("1s", 512);
  SIZE_OK ("8S", 4096);
  SIZE_OK ("0x10M", 16 * MiB);
  SIZE_OK ("16777215T", 16777215 * TiB);
  SIZE_OK ("0K", 0);
}

static void
sizes_sums (void)
{
  char buf[XCOPY_PROTO_SIZE_STR];
  static const uint64_t vals[] = {
    0, 1, 511, 512, 1023, 1024, 4 * GiB + MiB, 4 * GiB + MiB + 1,
    TiB + 4 * KiB + 1, UINT64_MAX, UINT64_MAX - 1, 16777215 * TiB,
  };

  SIZE_OK ("4G+1M", 4 * GiB + MiB);
  SIZE_OK ("1T+4K+1", TiB + 4 * KiB + 1);
  SIZE_OK ("1M+1s", MiB + 512);
  SIZE_OK ("1+1+1", 3);
  /* What the server's messages print reads back as the same number. */
  for (size_t i = 0; i < ARRAY_SIZE (vals); i++)
    SIZE_OK (xcopy_proto_size_str (vals[i], buf), vals[i]);
}

static void
sizes_garbage (void)
{
  SIZE_BAD ("", EINVAL, "empty");
  SIZE_BAD ("abc", EINVAL, "not a number");
  SIZE_BAD ("-1", EINVAL, "must not be negative");
  SIZE_BAD (" 1", EINVAL, "not a number");
  SIZE_BAD ("1 ", EINVAL, "unexpected ' '");
  SIZE_BAD ("1x", EINVAL, "unknown suffix 'x' (use K, M, G, T or s)");
  SIZE_BAD ("1P", EINVAL, "unknown suffix 'P'");
  SIZE_BAD ("1KB", EINVAL, "unexpected 'B' after the suffix");
  SIZE_BAD ("1KiB", EINVAL, "unexpected 'i' after the suffix");
  SIZE_BAD ("1.5G", EINVAL, "unexpected '.'");
  SIZE_BAD ("0x", EINVAL, "no hex digits after '0x'");
  SIZE_BAD ("0xg", EINVAL, "no hex digits after '0x'");
  SIZE_BAD ("1+", EINVAL, "nothing after '+'");
  SIZE_BAD ("1++1", EINVAL, "not a number");
  SIZE_BAD ("+1", EINVAL, "not a number");
  SIZE_BAD ("K", EINVAL, "not a number");
  SIZE_BAD ("1\x01", EINVAL, "unexpected \\x01");
}

static void
sizes_overflow (void)
{
  SIZE_BAD ("18446744073709551616", ERANGE, "does not fit in 64 bits");
  SIZE_BAD ("0x10000000000000000", ERANGE, "does not fit in 64 bits");
  SIZE_BAD ("16777216T", ERANGE, "does not fit in 64 bits");
  SIZE_BAD ("18446744073709551615+1", ERANGE, "does not fit in 64 bits");
  SIZE_BAD ("36028797018963968s", ERANGE, "does not fit in 64 bits");
  /* Syntax errors win over overflow: the message names the real fault. */
  SIZE_BAD ("99999999999999999999Q", EINVAL, "unknown suffix 'Q'");
}

static void
job_ids (void)
{
  char why[XCOPY_WHY_SIZE] = "";
  uint64_t v = 0;

  CHECK_INT (xcopy_u64_parse ("42", &v, why), ==, 0);
  CHECK_U64 (v, ==, 42);
  CHECK_INT (xcopy_u64_parse ("18446744073709551615", &v, why), ==, 0);
  CHECK_U64 (v, ==, UINT64_MAX);
  check_bad (__FILE__, __LINE__, xcopy_u64_parse ("4K", &v, why), "4K",
             EINVAL, why, "unexpected 'K'");
  check_bad (__FILE__, __LINE__, xcopy_u64_parse ("x", &v, why), "x",
             EINVAL, why, "not a number");
  check_bad (__FILE__, __LINE__, xcopy_u64_parse ("", &v, why), "",
             EINVAL, why, "empty");
  check_bad (__FILE__, __LINE__,
             xcopy_u64_parse ("18446744073709551616", &v, why), "2^64",
             ERANGE, why, "does not fit in 64 bits");
}

static void
check_range_bad (const char *file, int line, const char *s, int err,
                 const char *want)
{
  char why[XCOPY_WHY_SIZE] = "";
  struct xcopy_range r = { 1, 2, 3 };
  int ret = xcopy_range_parse (s, &r, why);

  check_bad (file, line, ret, s, err, why, want);
  if (r.src != 1 || r.dst != 2 || r.len != 3)
    h_fail (file, line, "'%s': range changed on failure", s);
}
#define RANGE_BAD(s, err, want) \
  check_range_bad (__FILE__, __LINE__, (s), (err), (want))

static void
ranges (void)
{
  char why[XCOPY_WHY_SIZE] = "";
  struct xcopy_range r;

  REQUIRE_INT (xcopy_range_parse ("0:4K:1M", &r, why), ==, 0);
  CHECK_U64 (r.src, ==, 0);
  CHECK_U64 (r.dst, ==, 4 * KiB);
  CHECK_U64 (r.len, ==, MiB);
  REQUIRE_INT (xcopy_range_parse ("4G+1M:0x200:8s", &r, why), ==, 0);
  CHECK_U64 (r.src, ==, 4 * GiB + MiB);
  CHECK_U64 (r.dst, ==, 512);
  CHECK_U64 (r.len, ==, 4096);
  REQUIRE_INT (xcopy_range_parse ("18446744073709551615:0:0", &r, why), ==, 0);
  CHECK_U64 (r.src, ==, UINT64_MAX);

  RANGE_BAD ("abc:0:1M", EINVAL, "invalid src 'abc': not a number");
  RANGE_BAD ("0:1Q:1M", EINVAL, "invalid dst '1Q': unknown suffix 'Q'");
  RANGE_BAD ("0:0:", EINVAL, "invalid len '': empty");
  RANGE_BAD ("0:0:16777216T", ERANGE,
             "invalid len '16777216T': does not fit");
  RANGE_BAD ("0:0", EINVAL, "expected SRC:DST:LEN, got 2 fields");
  RANGE_BAD ("0", EINVAL, "expected SRC:DST:LEN, got 1 field");
  RANGE_BAD ("1:2:3:4", EINVAL, "got 4 fields");
  RANGE_BAD ("", EINVAL, "expected SRC:DST:LEN, got 1 field");
  RANGE_BAD (":0:0", EINVAL, "invalid src '': empty");
  RANGE_BAD ("16777215T+1023G+1023M+1023K+1023:0:1", ERANGE,
             "src + len does not fit in 64 bits");
  RANGE_BAD ("0:16777215T+1023G+1023M+1023K+1023:2", ERANGE,
             "dst + len does not fit in 64 bits");
}

static void
spans (void)
{
  char why[XCOPY_WHY_SIZE] = "";
  uint64_t off = 7, len = 7;

  REQUIRE_INT (xcopy_span_parse ("1M:64K", &off, &len, why), ==, 0);
  CHECK_U64 (off, ==, MiB);
  CHECK_U64 (len, ==, 64 * KiB);
  check_bad (__FILE__, __LINE__, xcopy_span_parse ("1M", &off, &len, why),
             "1M", EINVAL, why, "expected OFF:LEN, got 1 field");
  check_bad (__FILE__, __LINE__, xcopy_span_parse ("x:1", &off, &len, why),
             "x:1", EINVAL, why, "invalid offset 'x': not a number");
  check_bad (__FILE__, __LINE__, xcopy_span_parse ("0:1Z", &off, &len, why),
             "0:1Z", EINVAL, why, "invalid length '1Z': unknown suffix 'Z'");
  check_bad (__FILE__, __LINE__,
             xcopy_span_parse ("16777215T+1023G+1023M+1023K+1023:1", &off,
                               &len, why),
             "max:1", ERANGE, why, "offset + length does not fit");
  CHECK_U64 (off, ==, MiB);
}

static void
range_lines (void)
{
  char why[XCOPY_WHY_SIZE] = "";
  struct xcopy_range r = { 9, 9, 9 };
  bool blank = false;

  CHECK_INT (xcopy_range_line_parse ("", &r, &blank, why), ==, 0);
  CHECK (blank);
  CHECK_INT (xcopy_range_line_parse ("   \t  ", &r, &blank, why), ==, 0);
  CHECK (blank);
  CHECK_INT (xcopy_range_line_parse ("# 0:0:1", &r, &blank, why), ==, 0);
  CHECK (blank);
  CHECK_U64 (r.src, ==, 9);
  CHECK_INT (xcopy_range_line_parse ("  1M:2M:4K  # why\r", &r, &blank, why),
             ==, 0);
  CHECK (!blank);
  CHECK_U64 (r.src, ==, MiB);
  CHECK_U64 (r.dst, ==, 2 * MiB);
  CHECK_U64 (r.len, ==, 4 * KiB);
  check_bad (__FILE__, __LINE__,
             xcopy_range_line_parse ("0:0:1 0:1:1", &r, &blank, why),
             "two", EINVAL, why, "one SRC:DST:LEN per line");
  check_bad (__FILE__, __LINE__,
             xcopy_range_line_parse ("abc:0:1M", &r, &blank, why),
             "abc", EINVAL, why, "invalid src 'abc'");
}

static void
check_hex (const char *file, int line, const char *s, const char *want,
           size_t wantn)
{
  char why[XCOPY_WHY_SIZE] = "";
  unsigned char out[16];
  size_t n = 0;
  int ret = xcopy_hex_parse (s, out, sizeof out, &n, why);

  if (ret != 0 || n != wantn || memcmp (out, want, wantn) != 0)
    h_fail (file, line, "'%s': ret %d (%s), %zu bytes", s, ret, why, n);
}
#define HEX_OK(s, want) \
  check_hex (__FILE__, __LINE__, (s), (want), sizeof (want) - 1)

static void
check_hex_bad (const char *file, int line, const char *s, int err,
               const char *want)
{
  char why[XCOPY_WHY_SIZE] = "";
  unsigned char out[4];
  size_t n = 99;
  int ret = xcopy_hex_parse (s, out, sizeof out, &n, why);

  check_bad (file, line, ret, s, err, why, want);
  if (n != 99)
    h_fail (file, line, "'%s': count changed on failure", s);
}
#define HEX_BAD(s, err, want) \
  check_hex_bad (__FILE__, __LINE__, (s), (err), (want))

static void
hex_patterns (void)
{
  HEX_OK ("00", "\x00");
  HEX_OK ("deadbeef", "\xde\xad\xbe\xef");
  HEX_OK ("0xDEADbeef", "\xde\xad\xbe\xef");
  HEX_OK ("de:ad:be:ef", "\xde\xad\xbe\xef");
  HEX_OK ("de ad-be_ef", "\xde\xad\xbe\xef");
  HEX_OK ("0123456789abcdef0123456789abcdef",
          "\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab\xcd\xef");

  HEX_BAD ("", EINVAL, "no hex digits");
  HEX_BAD ("0x", EINVAL, "no hex digits");
  HEX_BAD ("abc", EINVAL, "odd number of hex digits");
  HEX_BAD ("zz", EINVAL, "'z' at byte 0 is not a hex digit");
  HEX_BAD ("aazz", EINVAL, "'z' at byte 2 is not a hex digit");
  HEX_BAD ("a:b", EINVAL, "':' at byte 1 is not a hex digit");
  HEX_BAD ("aa::bb", EINVAL, "':' at byte 3 is not a hex digit");
  HEX_BAD ("aa:", EINVAL, "':' at byte 2 is not a hex digit");
  HEX_BAD ("0102030405", E2BIG, "more than 4 bytes");
}

static const struct h_test tests[] = {
  H_TEST (sizes_plain),
  H_TEST (sizes_suffixes),
  H_TEST (sizes_sums),
  H_TEST (sizes_garbage),
  H_TEST (sizes_overflow),
  H_TEST (job_ids),
  H_TEST (ranges),
  H_TEST (spans),
  H_TEST (range_lines),
  H_TEST (hex_patterns),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
