/* xcopyd: control-protocol codec — byte-exact round trips.
 *
 * Every sample (every opcode, request and reply, success and error) must
 * encode, decode to the same fields, and re-encode to the same bytes.  A
 * few are compared with hex dumps worked out by hand from PROTOCOL.md
 * (Appendix A), so encoder and decoder cannot agree on a wrong layout.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "proto-samples.h"

/* Decode w as the sample's kind, compare field dumps, re-encode. */
static void
round_trip (const struct proto_sample *s, const struct xcopy_wbuf *w)
{
  struct xcopy_proto_request q;
  struct xcopy_proto_reply p;
  struct xcopy_proto_err e = { 0 };
  struct xcopy_wbuf w2;
  char *want, *got;
  int r;

  xcopy_wbuf_init (&w2, SIZE_MAX);
  if (s->is_reply) {
    r = xcopy_proto_decode_reply_frame (w->data, w->len, &p, &e);
    want = proto_dump_reply (s->rep);
    got = r ? strdup ("") : proto_dump_reply (&p);
    if (r == 0)
      r = xcopy_proto_encode_reply (&p, &w2, &e);
  }
  else {
    r = xcopy_proto_decode_request_frame (w->data, w->len, &q, &e);
    want = proto_dump_request (s->req);
    got = r ? strdup ("") : proto_dump_request (&q);
    if (r == 0)
      r = xcopy_proto_encode_request (&q, &w2, &e);
  }
  if (r)
    h_fail (__FILE__, __LINE__, "%s: %d (%s)", s->name, r, e.msg);
  else {
    /* The sample left version 0 ("current"); the decoder reports it. */
    char *v = strstr (got, "version = 1\n");

    if (v)
      v[10] = '0';
    if (strcmp (want, got) != 0)
      h_fail (__FILE__, __LINE__, "%s: fields differ:\n--- sent\n%s--- "
              "decoded\n%s", s->name, want, got);
    if (w2.len != w->len || memcmp (w2.data, w->data, w->len) != 0)
      h_fail (__FILE__, __LINE__, "%s: re-encoding differs", s->name);
  }
  if (r == 0)
    s->is_reply ? xcopy_proto_reply_free (&p) : xcopy_proto_request_free (&q);
  free (want);
  free (got);
  xcopy_wbuf_free (&w2);
}

static void
every_sample_round_trips (void)
{
  const struct proto_sample *s;
  size_t n = proto_samples (&s);
  bool req_seen[64] = { false }, rep_seen[64] = { false };

  for (size_t i = 0; i < n; i++) {
    struct xcopy_wbuf w;
    uint16_t op = s[i].is_reply ? s[i].rep->opcode : s[i].req->opcode;

    proto_sample_encode (&s[i], &w);
    round_trip (&s[i], &w);
    xcopy_wbuf_free (&w);
    if (op < 64 && !(s[i].is_reply && s[i].rep->status))
      (s[i].is_reply ? rep_seen : req_seen)[op] = true;
  }
  /* Every opcode has a request and a success reply among the samples. */
  for (uint16_t op = 0; op < 64; op++) {
    if (xcopy_proto_op_name (op) == NULL)
      continue;
    if (!req_seen[op] || !rep_seen[op])
      h_fail (__FILE__, __LINE__, "no sample for %s", xcopy_proto_op_name (op));
  }
}

/* Encode req, compare with hex, decode, compare fields. */
static void
check_request_bytes (const struct xcopy_proto_request *req, const char *hex)
{
  struct proto_sample s = { "inline", false, req, NULL };
  struct xcopy_wbuf w;

  proto_sample_encode (&s, &w);
  CHECK_HEX (w.data, w.len, hex);
  round_trip (&s, &w);
  xcopy_wbuf_free (&w);
}

static void
check_reply_bytes (const struct xcopy_proto_reply *rep, const char *hex)
{
  struct proto_sample s = { "inline", true, NULL, rep };
  struct xcopy_wbuf w;

  proto_sample_encode (&s, &w);
  CHECK_HEX (w.data, w.len, hex);
  round_trip (&s, &w);
  xcopy_wbuf_free (&w);
}

/* PROTOCOL.md Appendix A.1 */
static void
hex_hello (void)
{
  struct xcopy_proto_request req = {
    .opcode = XCOPY_OP_HELLO, .serial = 1,
    .u.hello = { XCOPY_PROTO_CAP_ALL, 1, 1, "xcopyctl" },
  };

  check_request_bytes (&req,
    "78 63 70 51 | 01 00 | 01 00 | 00 00 00 00 | 00 00 00 00 |"
    "01 00 00 00 00 00 00 00 | 16 00 00 00 | 00 00 00 00 |"
    "07 00 00 00 00 00 00 00 | 01 00 | 01 00 |"
    "08 00 78 63 6f 70 79 63 74 6c");
}

/* A.2 */
static void
hex_hello_reply (void)
{
  struct xcopy_proto_reply rep = {
    .opcode = XCOPY_OP_HELLO, .serial = 1,
    .u.hello = { XCOPY_PROTO_CAP_JOBS, 32u << 20, 1u << 20, 1, "xcopy" },
  };

  check_reply_bytes (&rep,
    "78 63 70 52 | 01 00 | 01 00 | 00 00 00 00 | 00 00 00 00 |"
    "01 00 00 00 00 00 00 00 | 19 00 00 00 | 00 00 00 00 |"
    "01 00 00 00 00 00 00 00 | 00 00 00 02 | 00 00 10 00 | 01 00 |"
    "05 00 78 63 6f 70 79");
}

/* A.3 */
static void
hex_copy (void)
{
  struct xcopy_range r[] = {
    { 0, 4096, 512 },
    { UINT64_C (0x100000000), 0, 1 },
  };
  struct xcopy_proto_request req = {
    .opcode = XCOPY_OP_COPY, .serial = UINT64_C (0x0102030405060708),
    .flags = XCOPY_PROTO_F_SYNC | XCOPY_PROTO_F_ALLOCATE,
    .u.copy = { "a", "b", r, 2 },
  };

  check_request_bytes (&req,
    "78 63 70 51 | 01 00 | 10 00 | 06 00 00 00 | 00 00 00 00 |"
    "08 07 06 05 04 03 02 01 | 36 00 00 00 | 02 00 00 00 |"
    "01 00 61 | 01 00 62 |"
    "00 00 00 00 00 00 00 00  00 10 00 00 00 00 00 00"
    "00 02 00 00 00 00 00 00 |"
    "00 00 00 00 01 00 00 00  00 00 00 00 00 00 00 00"
    "01 00 00 00 00 00 00 00");
}

/* A.4 */
static void
hex_error_reply (void)
{
  struct xcopy_proto_reply rep = {
    .opcode = XCOPY_OP_COPY, .serial = 9, .status = ERANGE,
    .u.error = { { .failed_index = 3, .error = ERANGE },
                 "range 3: dst end 4G+1M beyond export size 4G" },
  };

  check_reply_bytes (&rep,
    "78 63 70 52 | 01 00 | 10 00 | 00 00 00 00 | 22 00 00 00 |"
    "09 00 00 00 00 00 00 00 | 56 00 00 00 | 00 00 00 00 |"
    "00 00 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00 |"
    "03 00 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00 |"
    "22 00 00 00 | 00 00 00 00 | 2c 00"
    "72 61 6e 67 65 20 33 3a 20 64 73 74 20 65 6e 64"   /* range 3: dst end */
    "20 34 47 2b 31 4d 20 62 65 79 6f 6e 64 20 65 78"   /*  4G+1M beyond ex */
    "70 6f 72 74 20 73 69 7a 65 20 34 47");             /* port size 4G */
}

/* A.5 */
static void
hex_job_status_reply (void)
{
  struct xcopy_proto_job job = {
    7, 0x100000, XCOPY_OP_COPY, XCOPY_PROTO_JOB_RUNNING,
    { .bytes_done = 0x80000, .ranges_done = 1, .failed_index = SIZE_MAX },
  };
  struct xcopy_proto_reply rep = {
    .opcode = XCOPY_OP_JOB_STATUS, .serial = 5, .u.jobs = { &job, 1 },
  };

  check_reply_bytes (&rep,
    "78 63 70 52 | 01 00 | 20 00 | 00 00 00 00 | 00 00 00 00 |"
    "05 00 00 00 00 00 00 00 | 3c 00 00 00 | 01 00 00 00 |"
    "07 00 00 00 00 00 00 00 | 00 00 10 00 00 00 00 00 | 10 00 | 02 00 |"
    "00 00 08 00 00 00 00 00 | 01 00 00 00 00 00 00 00 |"
    "ff ff ff ff ff ff ff ff | 00 00 00 00 00 00 00 00 |"
    "00 00 00 00 | 00 00 00 00");
}

/* A.6 */
static void
hex_fill_async (void)
{
  unsigned char pat[] = { 0xde, 0xad };
  struct xcopy_proto_request req = {
    .opcode = XCOPY_OP_FILL, .serial = 2,
    .flags = XCOPY_PROTO_F_ASYNC | XCOPY_PROTO_F_MAY_TRIM,
    .u.fill = { "disk", 512, 1024, pat, 2 },
  };
  struct xcopy_proto_reply rep = {
    .opcode = XCOPY_OP_FILL, .serial = 2, .flags = XCOPY_PROTO_RF_JOB,
    .u.started = { 3, 1024 },
  };

  check_request_bytes (&req,
    "78 63 70 51 | 01 00 | 11 00 | 09 00 00 00 | 00 00 00 00 |"
    "02 00 00 00 00 00 00 00 | 18 00 00 00 | 02 00 00 00 |"
    "00 02 00 00 00 00 00 00 | 00 04 00 00 00 00 00 00 |"
    "04 00 64 69 73 6b | de ad");
  check_reply_bytes (&rep,
    "78 63 70 52 | 01 00 | 11 00 | 01 00 00 00 | 00 00 00 00 |"
    "02 00 00 00 00 00 00 00 | 10 00 00 00 | 00 00 00 00 |"
    "03 00 00 00 00 00 00 00 | 00 04 00 00 00 00 00 00");
}

/* A.7: an empty request payload, and an empty reply. */
static void
hex_flush (void)
{
  struct xcopy_proto_request list = {
    .opcode = XCOPY_OP_LIST_EXPORTS, .serial = 3,
  };
  struct xcopy_proto_reply rep = { .opcode = XCOPY_OP_FLUSH, .serial = 4 };

  check_request_bytes (&list,
    "78 63 70 51 | 01 00 | 02 00 | 00 00 00 00 | 00 00 00 00 |"
    "03 00 00 00 00 00 00 00 | 00 00 00 00 | 00 00 00 00");
  check_reply_bytes (&rep,
    "78 63 70 52 | 01 00 | 14 00 | 00 00 00 00 | 00 00 00 00 |"
    "04 00 00 00 00 00 00 00 | 00 00 00 00 | 00 00 00 00");
}

/* The largest batch goes through, and the largest pattern. */
static void
limits_exactly (void)
{
  size_t n = XCOPY_PROTO_MAX_RANGES;
  struct xcopy_range *r = h_calloc (n * sizeof *r);
  unsigned char *pat = h_calloc (XCOPY_PROTO_MAX_PATTERN);
  struct xcopy_proto_request req = {
    .opcode = XCOPY_OP_COPY, .u.copy = { "", "", r, n },
  }, out;
  struct xcopy_proto_err e;
  struct xcopy_wbuf w;

  for (size_t i = 0; i < n; i++)
    r[i] = (struct xcopy_range) { i, n - i, i % 3 };
  xcopy_wbuf_init (&w, SIZE_MAX);
  REQUIRE_INT (xcopy_proto_encode_request (&req, &w, &e), ==, 0);
  CHECK_U64 (w.len, ==, 32 + 2 + 2 + 24 * n);
  REQUIRE_INT (xcopy_proto_decode_request_frame (w.data, w.len, &out, &e),
               ==, 0);
  CHECK_U64 (out.u.copy.count, ==, n);
  CHECK (memcmp (out.u.copy.ranges, r, n * sizeof *r) == 0);
  xcopy_proto_request_free (&out);

  req = (struct xcopy_proto_request) {
    .opcode = XCOPY_OP_FILL,
    .u.fill = { "x", 0, 2 * XCOPY_PROTO_MAX_PATTERN, pat,
                XCOPY_PROTO_MAX_PATTERN },
  };
  xcopy_wbuf_reset (&w);
  REQUIRE_INT (xcopy_proto_encode_request (&req, &w, &e), ==, 0);
  REQUIRE_INT (xcopy_proto_decode_request_frame (w.data, w.len, &out, &e),
               ==, 0);
  CHECK_U64 (out.u.fill.patlen, ==, XCOPY_PROTO_MAX_PATTERN);
  xcopy_proto_request_free (&out);
  xcopy_wbuf_free (&w);
  free (r);
  free (pat);
}

/* Frames appended one after another to one buffer stay separate. */
static void
frames_append (void)
{
  const struct proto_sample *s;
  size_t n = proto_samples (&s), off = 0;
  struct xcopy_wbuf w;
  struct xcopy_proto_err e;

  xcopy_wbuf_init (&w, SIZE_MAX);
  for (size_t i = 0; i < n; i++)
    if (!s[i].is_reply)
      REQUIRE_INT (xcopy_proto_encode_request (s[i].req, &w, &e), ==, 0);
  for (size_t i = 0; i < n; i++) {
    struct xcopy_proto_header h;
    struct xcopy_proto_request q;

    if (s[i].is_reply)
      continue;
    REQUIRE (w.len - off >= XCOPY_PROTO_HEADER_SIZE);
    xcopy_proto_get_header (w.data + off, &h);
    REQUIRE_INT (xcopy_proto_check_request_header (&h, &e), ==, 0);
    REQUIRE_INT (xcopy_proto_decode_request (&h, w.data + off + 32, h.length,
                                             &q, &e), ==, 0);
    CHECK_U64 (q.serial, ==, s[i].req->serial);
    xcopy_proto_request_free (&q);
    off += XCOPY_PROTO_HEADER_SIZE + h.length;
  }
  CHECK_U64 (off, ==, w.len);
  xcopy_wbuf_free (&w);
}

static void
op_table (void)
{
  CHECK (strcmp (xcopy_proto_op_name (XCOPY_OP_COPY), "COPY") == 0);
  CHECK (xcopy_proto_op_name (0) == NULL);
  CHECK (xcopy_proto_op_name (0x4000) == NULL);
  CHECK (xcopy_proto_op_is_long (XCOPY_OP_CLONE));
  CHECK (!xcopy_proto_op_is_long (XCOPY_OP_FLUSH));
  CHECK_U64 (xcopy_proto_op_cap (XCOPY_OP_JOB_CANCEL), ==,
             XCOPY_PROTO_CAP_JOBS);
  CHECK_U64 (xcopy_proto_op_cap (XCOPY_OP_COPY), ==, 0);
  CHECK (xcopy_proto_op_flags (XCOPY_OP_COPY) & XCOPY_PROTO_F_ASYNC);
  CHECK (!(xcopy_proto_op_flags (XCOPY_OP_FLUSH) & XCOPY_PROTO_F_ASYNC));
  /* Every long operation may be ASYNC, nothing else. */
  for (unsigned op = 0; op < 0x100; op++)
    CHECK (!!(xcopy_proto_op_flags (op) & XCOPY_PROTO_F_ASYNC) ==
           xcopy_proto_op_is_long (op));
  CHECK (strcmp (xcopy_proto_job_state_name (XCOPY_PROTO_JOB_CANCELLED),
                 "cancelled") == 0);
  CHECK (xcopy_proto_job_state_name (0) == NULL);
  CHECK (xcopy_proto_job_state_name (6) == NULL);
}

static const struct h_test tests[] = {
  H_TEST (every_sample_round_trips),
  H_TEST (hex_hello),
  H_TEST (hex_hello_reply),
  H_TEST (hex_copy),
  H_TEST (hex_error_reply),
  H_TEST (hex_job_status_reply),
  H_TEST (hex_fill_async),
  H_TEST (hex_flush),
  H_TEST (limits_exactly),
  H_TEST (frames_append),
  H_TEST (op_table),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
