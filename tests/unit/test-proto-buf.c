/* xcopyd: control-protocol building blocks — little-endian helpers, the
 * byte writer and reader, UTF-8, sizes in messages, and the range checks a
 * server makes against export sizes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "proto-samples.h"

static void
le_helpers (void)
{
  unsigned char b[11] = { 0 };

  /* Odd offsets: nothing may assume alignment. */
  put_le16 (b + 1, 0x1234);
  put_le32 (b + 3, 0x89abcdefu);
  CHECK_HEX (b, 7, "00 34 12 ef cd ab 89");
  put_le64 (b + 3, UINT64_C (0x0102030405060708));
  CHECK_HEX (b + 3, 8, "08 07 06 05 04 03 02 01");
  CHECK_U64 (get_le16 (b + 1), ==, 0x1234);
  CHECK_U64 (get_le64 (b + 3), ==, UINT64_C (0x0102030405060708));
  CHECK_U64 (get_le32 (b + 7), ==, 0x01020304);
  memset (b, 0xff, sizeof b);
  CHECK_U64 (get_le64 (b + 1), ==, UINT64_MAX);
  CHECK_U64 (get_le32 (b + 1), ==, UINT32_MAX);
  CHECK_U64 (get_le16 (b + 1), ==, UINT16_MAX);
}

static void
writer (void)
{
  struct xcopy_wbuf w;

  xcopy_wbuf_init (&w, 1000);
  xcopy_wbuf_u16 (&w, 0xbeef);
  xcopy_wbuf_u32 (&w, 1);
  xcopy_wbuf_u64 (&w, 2);
  xcopy_wbuf_put (&w, "ab", 2);
  xcopy_wbuf_put (&w, NULL, 0);
  REQUIRE_INT (w.err, ==, 0);
  CHECK_HEX (w.data, w.len,
             "ef be 01 00 00 00 02 00 00 00 00 00 00 00 61 62");
  for (int i = 0; i < 1000; i++)      /* grows, then hits the limit */
    xcopy_wbuf_u64 (&w, (uint64_t) i);
  CHECK_INT (w.err, ==, -EMSGSIZE);
  CHECK_U64 (w.len, <=, 1000);
  CHECK (xcopy_wbuf_reserve (&w, 1) == NULL);   /* sticky */
  xcopy_wbuf_reset (&w);
  CHECK_INT (w.err, ==, 0);
  CHECK_U64 (w.len, ==, 0);
  CHECK (xcopy_wbuf_reserve (&w, 1000) != NULL);
  CHECK (xcopy_wbuf_reserve (&w, 1) == NULL);
  CHECK (xcopy_wbuf_reserve (&w, SIZE_MAX) == NULL);
  xcopy_wbuf_free (&w);
  xcopy_wbuf_init (&w, SIZE_MAX);
  CHECK (xcopy_wbuf_reserve (&w, 1) != NULL);
  CHECK (xcopy_wbuf_reserve (&w, SIZE_MAX) == NULL);   /* len + n overflows */
  CHECK_INT (w.err, ==, -EMSGSIZE);
  xcopy_wbuf_free (&w);
}

static void
reader (void)
{
  static const unsigned char b[] = { 1, 2, 3, 4, 5, 6, 7 };
  struct xcopy_proto_err e = { 0 };
  struct xcopy_rbuf r;

  xcopy_rbuf_init (&r, b, sizeof b, &e);
  CHECK_U64 (xcopy_rbuf_u16 (&r, "a"), ==, 0x0201);
  CHECK_U64 (xcopy_rbuf_u32 (&r, "b"), ==, 0x06050403);
  CHECK_U64 (xcopy_rbuf_left (&r), ==, 1);
  CHECK_U64 (xcopy_rbuf_u16 (&r, "thing.field"), ==, 0);
  CHECK_INT (r.err, ==, -EBADMSG);
  CHECK_INT (e.err, ==, EBADMSG);
  CHECK (strcmp (e.msg, "thing.field: payload truncated: 2 bytes needed at"
                 " offset 6, 1 left") == 0);
  /* Sticky: later reads fail and keep the first message. */
  CHECK (xcopy_rbuf_bytes (&r, 0, "other") == NULL);
  CHECK (strstr (e.msg, "thing.field") != NULL);
  CHECK_U64 (r.off, ==, 6);

  xcopy_rbuf_init (&r, NULL, 0, NULL);     /* no error sink is fine */
  CHECK (xcopy_rbuf_bytes (&r, 0, "x") != NULL);
  CHECK_U64 (xcopy_rbuf_u64 (&r, "x"), ==, 0);
  CHECK_INT (r.err, ==, -EBADMSG);
}

static void
utf8 (void)
{
  static const struct { const char *s; size_t n; bool ok; } cases[] = {
    { "", 0, true },
    { "plain ascii", 11, true },
    { "\xc2\x80", 2, true },                 /* U+0080 */
    { "\xdf\xbf", 2, true },                 /* U+07FF */
    { "\xe0\xa0\x80", 3, true },             /* U+0800 */
    { "\xef\xbf\xbf", 3, true },             /* U+FFFF */
    { "\xf0\x90\x80\x80", 4, true },         /* U+10000 */
    { "\xf4\x8f\xbf\xbf", 4, true },         /* U+10FFFF */
    { "\xed\x9f\xbf", 3, true },             /* U+D7FF */
    { "\xee\x80\x80", 3, true },             /* U+E000 */
    { "\0", 1, false },
    { "\xc0\xaf", 2, false },
    { "\xc1\xbf", 2, false },
    { "\xe0\x9f\xbf", 3, false },
    { "\xed\xa0\x80", 3, false },
    { "\xed\xbf\xbf", 3, false },
    { "\xf0\x8f\xbf\xbf", 4, false },
    { "\xf4\x90\x80\x80", 4, false },
    { "\xf5\x80\x80\x80", 4, false },
    { "\xff", 1, false },
    { "\x80", 1, false },
    { "\xc2", 1, false },
    { "\xe2\x82", 2, false },
    { "\xe2\x28\xa1", 3, false },
    { "\xf0\x90\x80", 3, false },
  };

  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    if (xcopy_proto_utf8_valid (cases[i].s, cases[i].n) != cases[i].ok)
      h_fail (__FILE__, __LINE__, "case %zu: want %s", i,
              cases[i].ok ? "valid" : "invalid");
  CHECK (xcopy_proto_utf8_valid ("\xc3\xa9", 1) == false);  /* cut by n */
}

static void
sizes (void)
{
  static const struct { uint64_t v; const char *s; } cases[] = {
    { 0, "0" },
    { 1, "1" },
    { 1023, "1023" },
    { 1024, "1K" },
    { 4097, "4K+1" },
    { 4 * GiB + 1 * MiB, "4G+1M" },
    { (UINT64_C (1) << 40) + 4 * KiB + 1, "1T+4K+1" },
    { UINT64_MAX, "16777215T+1023G+1023M+1023K+1023" },
  };
  char buf[XCOPY_PROTO_SIZE_STR];

  for (size_t i = 0; i < ARRAY_SIZE (cases); i++) {
    xcopy_proto_size_str (cases[i].v, buf);
    if (strcmp (buf, cases[i].s) != 0)
      h_fail (__FILE__, __LINE__, "%ju: '%s', want '%s'",
              (uintmax_t) cases[i].v, buf, cases[i].s);
  }
}

/* What a server says once it knows the export sizes (§7.2). */
static void
server_range_checks (void)
{
  struct xcopy_range r[] = {
    { 0, 0, 4096 },
    { 4 * GiB - 4096, 0, 4096 },
    { 0, 4 * GiB - 4096, 4096 },
    { 0, 4 * GiB, 1 * MiB },
  };
  struct xcopy_proto_span sp[] = { { 0, 1 }, { UINT64_MAX, 1 } };
  struct xcopy_proto_err e;

  CHECK_INT (xcopy_proto_check_ranges (r, 3, 4 * GiB, 4 * GiB, &e), ==, 0);
  CHECK_INT (xcopy_proto_check_ranges (r, 4, 4 * GiB, 4 * GiB, &e), ==,
             -ERANGE);
  CHECK_U64 (e.index, ==, 3);
  CHECK (strcmp (e.msg, "range 3: dst end 4G+1M beyond export size 4G") == 0);
  CHECK_INT (xcopy_proto_check_ranges (r, 2, 4 * GiB - 1, 8 * GiB, &e), ==,
             -ERANGE);
  CHECK (strcmp (e.msg, "range 1: src end 4G beyond export size"
                 " 3G+1023M+1023K+1023") == 0);
  CHECK_INT (xcopy_proto_check_spans (sp, 2, 1, &e), ==, -ERANGE);
  CHECK_U64 (e.index, ==, 1);
  CHECK (strstr (e.msg, "span 1: offset 16777215T") == e.msg);
  CHECK (strstr (e.msg, "overflows 64 bits") != NULL);
  CHECK_INT (xcopy_proto_check_inside ("zero", 512, 512, 1024, &e), ==, 0);
  CHECK_INT (xcopy_proto_check_inside ("zero", 513, 512, 1024, &e), ==,
             -ERANGE);
  CHECK (strcmp (e.msg, "zero: offset end 1K+1 beyond export size 1K") == 0);
  CHECK_U64 (e.index, ==, 0);
  /* A NULL error sink just returns the errno. */
  CHECK_INT (xcopy_proto_check_inside ("x", 2, 0, 1, NULL), ==, -ERANGE);
}

static void
fail_messages (void)
{
  struct xcopy_proto_err e = { .fatal = true };
  char big[400];

  memset (big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  CHECK_INT (xcopy_proto_fail (&e, ENOENT, 7, "export '%s': no such export",
                               "a"), ==, -ENOENT);
  CHECK_INT (e.err, ==, ENOENT);
  CHECK (!e.fatal);
  CHECK_U64 (e.index, ==, 7);
  CHECK (strcmp (e.msg, "export 'a': no such export") == 0);
  /* Truncated to the buffer, and still UTF-8 when cut mid-sequence. */
  big[sizeof e.msg - 2] = (char) 0xe2;
  big[sizeof e.msg - 1] = (char) 0x82;
  xcopy_proto_fail (&e, EIO, 0, "%s", big);
  CHECK_U64 (strlen (e.msg), ==, sizeof e.msg - 1);
  CHECK (xcopy_proto_utf8_valid (e.msg, strlen (e.msg)));
}

static const struct h_test tests[] = {
  H_TEST (le_helpers),
  H_TEST (writer),
  H_TEST (reader),
  H_TEST (utf8),
  H_TEST (sizes),
  H_TEST (server_range_checks),
  H_TEST (fail_messages),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
