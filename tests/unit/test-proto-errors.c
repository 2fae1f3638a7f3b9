/* xcopyd: control-protocol codec — every way a frame can be wrong.
 *
 * Each refusal must carry the errno PROTOCOL.md §7.3 gives, a message
 * naming the offending field, the offending index where there is one, and
 * must turn into an error reply (§7.2) that encodes, decodes and echoes
 * the request's serial.  Encoders refuse what decoders refuse.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "proto-samples.h"

#define REQ_MAGIC XCOPY_PROTO_REQUEST_MAGIC
#define REP_MAGIC XCOPY_PROTO_REPLY_MAGIC
#define SERIAL    UINT64_C (0x7777)
#define NONE      XCOPY_PROTO_NO_INDEX

/* A frame: header fields, then a payload given in hex.  Header version 1,
 * serial SERIAL, length from the payload.
 */
struct raw {
  unsigned char *p;
  size_t len;
};

static struct raw
raw (uint32_t magic, uint16_t opcode, uint32_t flags, uint32_t status,
     uint32_t count, const char *payload_hex)
{
  size_t plen;
  unsigned char *payload = proto_unhex (payload_hex, &plen);
  struct raw f = { h_malloc (32 + plen), 32 + plen };
  struct xcopy_proto_header h = {
    magic, 1, opcode, flags, status, SERIAL, (uint32_t) plen, count,
  };

  xcopy_proto_put_header (f.p, &h);
  memcpy (f.p + 32, payload, plen);
  free (payload);
  return f;
}

/* A valid request, encoded. */
static struct raw
enc (const struct xcopy_proto_request *q)
{
  struct xcopy_wbuf w;
  struct proto_sample s = { "enc", false, q, NULL };

  proto_sample_encode (&s, &w);
  return (struct raw) { w.data, w.len };
}

static struct raw
enc_rep (const struct xcopy_proto_reply *p)
{
  struct xcopy_wbuf w;
  struct proto_sample s = { "enc", true, NULL, p };

  proto_sample_encode (&s, &w);
  return (struct raw) { w.data, w.len };
}

/* The error reply for e, to the request whose header is at p: it must
 * encode and decode and echo what §7.2 says it echoes.
 */
static void
check_error_reply (int line, const unsigned char *p,
                   const struct xcopy_proto_err *e)
{
  struct xcopy_proto_header h;
  struct xcopy_proto_reply rep, back;
  struct xcopy_proto_err e2;
  struct xcopy_wbuf w;

  xcopy_proto_get_header (p, &h);
  xcopy_proto_error_reply (&h, e, &rep);
  xcopy_wbuf_init (&w, SIZE_MAX);
  if (xcopy_proto_encode_reply (&rep, &w, &e2) ||
      xcopy_proto_decode_reply_frame (w.data, w.len, &back, &e2)) {
    h_fail (__FILE__, line, "error reply does not round-trip: %s", e2.msg);
    xcopy_wbuf_free (&w);
    return;
  }
  if (back.serial != h.serial || back.opcode != h.opcode ||
      back.status != (uint32_t) e->err ||
      !!(back.flags & XCOPY_PROTO_RF_CLOSING) != e->fatal ||
      strcmp (back.u.error.message, e->msg) != 0 ||
      back.u.error.result.error != e->err)
    h_fail (__FILE__, line, "error reply fields differ");
  if ((e->index == NONE) != (back.u.error.result.failed_index == SIZE_MAX) ||
      (e->index != NONE && back.u.error.result.failed_index != e->index))
    h_fail (__FILE__, line, "error reply failed_index %zu, err index %ju",
            back.u.error.result.failed_index, (uintmax_t) e->index);
  xcopy_proto_reply_free (&back);
  xcopy_wbuf_free (&w);
}

static bool
expect_msg (int line, int r, int err, const struct xcopy_proto_err *e,
            const char *want)
{
  if (r != -err) {
    h_fail (__FILE__, line, "returned %d, want %d (%s); message: %s", r, -err,
            strerror (err), r ? e->msg : "-");
    return false;
  }
  if (want && strstr (e->msg, want) == NULL) {
    h_fail (__FILE__, line, "message '%s' does not contain '%s'", e->msg,
            want);
    return false;
  }
  return true;
}

/* Decoding f as a request fails with err and a message containing want. */
#define EXPECT_REQ(f, err, want) \
  expect_req (__LINE__, (f).p, (f).len, (err), (want), false)
#define EXPECT_REQ_FATAL(f, err, want) \
  expect_req (__LINE__, (f).p, (f).len, (err), (want), true)
static struct xcopy_proto_err last;

static void
expect_req (int line, const unsigned char *p, size_t len, int err,
            const char *want, bool fatal)
{
  struct xcopy_proto_request q;
  int r = xcopy_proto_decode_request_frame (p, len, &q, &last);

  if (r == 0)
    xcopy_proto_request_free (&q);
  if (!expect_msg (line, r, err, &last, want) || r == 0 || len < 32)
    return;
  if (last.fatal != fatal)
    h_fail (__FILE__, line, "fatal is %d, want %d", last.fatal, fatal);
  check_error_reply (line, p, &last);
}

#define EXPECT_REP(f, err, want) expect_rep (__LINE__, (f).p, (f).len, \
                                             (err), (want))
static void
expect_rep (int line, const unsigned char *p, size_t len, int err,
            const char *want)
{
  struct xcopy_proto_reply rep;
  int r = xcopy_proto_decode_reply_frame (p, len, &rep, &last);

  if (r == 0)
    xcopy_proto_reply_free (&rep);
  expect_msg (line, r, err, &last, want);
}

/* Encoding must refuse q the same way and append nothing. */
#define EXPECT_ENC(q, err, want) expect_enc (__LINE__, (q), NULL, (err), (want))
#define EXPECT_ENC_REP(p, err, want) \
  expect_enc (__LINE__, NULL, (p), (err), (want))
static void
expect_enc (int line, const struct xcopy_proto_request *q,
            const struct xcopy_proto_reply *p, int err, const char *want)
{
  struct xcopy_wbuf w;
  int r;

  xcopy_wbuf_init (&w, SIZE_MAX);
  xcopy_wbuf_put (&w, "x", 1);
  r = q ? xcopy_proto_encode_request (q, &w, &last)
    : xcopy_proto_encode_reply (p, &w, &last);
  expect_msg (line, r, err, &last, want);
  if (r && w.len != 1)
    h_fail (__FILE__, line, "a refused frame left %zu bytes", w.len - 1);
  xcopy_wbuf_free (&w);
}

static void
patch32 (struct raw f, size_t off, uint32_t v)
{
  put_le32 (f.p + off, v);
}

static void
patch64 (struct raw f, size_t off, uint64_t v)
{
  put_le64 (f.p + off, v);
}

/* ---- Truncation and framing ---- */

/* Every prefix of every sample frame is refused, and so is every shorter
 * payload with a header saying so (a stream that ends early).
 */
static void
truncated_at_every_length (void)
{
  const struct proto_sample *s;
  size_t n = proto_samples (&s);

  for (size_t i = 0; i < n; i++) {
    struct xcopy_wbuf w;

    proto_sample_encode (&s[i], &w);
    for (size_t len = 0; len < w.len; len++) {
      unsigned char *copy = h_malloc (w.len);

      memcpy (copy, w.data, w.len);
      if (s[i].is_reply)
        expect_rep (__LINE__, copy, len, EBADMSG, NULL);
      else
        expect_req (__LINE__, copy, len, EBADMSG, NULL, false);
      if (len >= 32) {      /* header.length = what is there */
        put_le32 (copy + 24, (uint32_t) (len - 32));
        if (s[i].is_reply)
          expect_rep (__LINE__, copy, len, EBADMSG, NULL);
        else
          expect_req (__LINE__, copy, len, EBADMSG, NULL, false);
      }
      free (copy);
      if (h_case_failures ()) {
        h_note ("sample %s, %zu of %zu bytes", s[i].name, len, w.len);
        h_abort_case ();
      }
    }
    xcopy_wbuf_free (&w);
  }
}

static void
trailing_bytes (void)
{
  struct xcopy_proto_request q = {
    .opcode = XCOPY_OP_FLUSH, .u.flush = { "a" },
  };
  struct raw f = enc (&q), g;

  g.len = f.len + 1;
  g.p = h_calloc (g.len);
  memcpy (g.p, f.p, f.len);
  EXPECT_REQ (g, EBADMSG, "payload: 4 bytes, header.length 3");
  patch32 (g, 24, 4);
  EXPECT_REQ (g, EBADMSG, "FLUSH: 1 bytes after the end of the payload");
  free (f.p);
  free (g.p);
}

static void
bad_magic (void)
{
  struct raw f = raw (0x12345678, XCOPY_OP_FLUSH, 0, 0, 0, "01 00 61");
  struct raw g = raw (REP_MAGIC, XCOPY_OP_FLUSH, 0, 0, 0, "01 00 61");
  struct raw r = raw (REQ_MAGIC, XCOPY_OP_FLUSH, 0, 0, 0, "");

  EXPECT_REQ_FATAL (f, EPROTO, "header.magic: 0x12345678");
  EXPECT_REQ_FATAL (g, EPROTO, "header.magic: 0x52706378, expected"
                    " 0x51706378 (\"xcpQ\")");
  EXPECT_REP (r, EPROTO, "header.magic");
  CHECK (last.fatal);
  free (f.p), free (g.p), free (r.p);
}

static void
version_mismatch (void)
{
  struct raw f = raw (REQ_MAGIC, XCOPY_OP_FLUSH, 0, 0, 0, "01 00 61");
  struct raw hello = raw (REQ_MAGIC, XCOPY_OP_HELLO, 0, 0, 0,
                          "00 00 00 00 00 00 00 00 01 00 02 00 00 00");
  uint16_t v = 99;

  put_le16 (f.p + 4, 2);
  EXPECT_REQ (f, EPROTONOSUPPORT, "header.version: 2 not spoken");
  put_le16 (f.p + 4, 0);
  EXPECT_REQ (f, EPROTONOSUPPORT, "header.version: 0");
  put_le16 (hello.p + 4, 2);   /* HELLO frames are version 1, always */
  EXPECT_REQ (hello, EPROTONOSUPPORT, "header.version: 2");
  put_le16 (hello.p + 4, 1);
  EXPECT_REQ (hello, 0, NULL);

  CHECK_INT (xcopy_proto_negotiate (2, 3, &v, &last), ==, -EPROTONOSUPPORT);
  CHECK (strstr (last.msg, "no common version: client 2..3, server 1..1"));
  CHECK_INT (v, ==, 99);
  CHECK_INT (xcopy_proto_negotiate (1, 9, &v, &last), ==, 0);
  CHECK_INT (v, ==, 1);
  CHECK_INT (xcopy_proto_negotiate (0, 1, &v, &last), ==, 0);
  CHECK_INT (v, ==, 1);

  struct xcopy_proto_request q = {
    .opcode = XCOPY_OP_FLUSH, .version = 3, .u.flush = { "a" },
  };
  EXPECT_ENC (&q, EPROTONOSUPPORT, "header.version: 3");
  free (f.p), free (hello.p);
}

/* Limits are checked from the header alone: no payload is needed. */
static void
payload_over_limit (void)
{
  struct xcopy_proto_header h = {
    REQ_MAGIC, 1, XCOPY_OP_COPY, 0, 0, SERIAL, XCOPY_PROTO_MAX_PAYLOAD + 1, 1,
  };
  unsigned char hb[32];

  CHECK_INT (xcopy_proto_check_request_header (&h, &last), ==, -EMSGSIZE);
  CHECK (last.fatal);
  CHECK (strstr (last.msg, "header.length: 33554433 > limit 33554432"));
  xcopy_proto_put_header (hb, &h);
  check_error_reply (__LINE__, hb, &last);
  h.length = UINT32_MAX;
  CHECK_INT (xcopy_proto_check_request_header (&h, &last), ==, -EMSGSIZE);
  h.length = XCOPY_PROTO_MAX_PAYLOAD;
  CHECK_INT (xcopy_proto_check_request_header (&h, &last), ==, 0);
  h.magic = REP_MAGIC, h.length = XCOPY_PROTO_MAX_PAYLOAD + 1;
  CHECK_INT (xcopy_proto_check_reply_header (&h, &last), ==, -EMSGSIZE);
  CHECK (last.fatal);
}

static void
encode_over_buffer_limit (void)
{
  const struct proto_sample *s;
  size_t n = proto_samples (&s);
  struct xcopy_wbuf w;

  for (size_t i = 0; i < n; i++) {
    if (s[i].is_reply || s[i].req->opcode != XCOPY_OP_COPY)
      continue;
    xcopy_wbuf_init (&w, 100);
    CHECK_INT (xcopy_proto_encode_request (s[i].req, &w, &last), ==,
               s[i].req->u.copy.count > 2 ? -EMSGSIZE : 0);
    if (s[i].req->u.copy.count > 2)
      CHECK_U64 (w.len, ==, 0);
    CHECK_INT (w.err, ==, 0);    /* usable again */
    xcopy_wbuf_free (&w);
  }
  xcopy_wbuf_init (&w, 31);      /* not even a header fits */
  CHECK_INT (xcopy_proto_encode_request (s[0].req, &w, &last), ==, -EMSGSIZE);
  CHECK (strstr (last.msg, "no room for a header") != NULL);
  CHECK_INT (w.err, ==, 0);
  CHECK_U64 (w.len, ==, 0);
  xcopy_wbuf_free (&w);
}

static void
count_over_limit (void)
{
  struct xcopy_proto_header h = {
    REQ_MAGIC, 1, XCOPY_OP_COPY, 0, 0, SERIAL, XCOPY_PROTO_MAX_PAYLOAD,
    XCOPY_PROTO_MAX_RANGES + 1,
  };

  CHECK_INT (xcopy_proto_check_request_header (&h, &last), ==, -E2BIG);
  CHECK (!last.fatal);
  CHECK (strstr (last.msg, "header.count: 1048577 > limit 1048576 for COPY"));
  h.opcode = XCOPY_OP_UNMAP;
  CHECK_INT (xcopy_proto_check_request_header (&h, &last), ==, -E2BIG);
  h.opcode = XCOPY_OP_FILL;
  h.count = XCOPY_PROTO_MAX_PATTERN + 1;
  CHECK_INT (xcopy_proto_check_request_header (&h, &last), ==, -E2BIG);
  h.count = XCOPY_PROTO_MAX_PATTERN;
  CHECK_INT (xcopy_proto_check_request_header (&h, &last), ==, 0);

  h.magic = REP_MAGIC, h.opcode = XCOPY_OP_EXTENTS;
  h.count = XCOPY_PROTO_MAX_EXTENTS + 1;
  CHECK_INT (xcopy_proto_check_reply_header (&h, &last), ==, -E2BIG);
  h.opcode = XCOPY_OP_JOB_CANCEL, h.count = 2;
  CHECK_INT (xcopy_proto_check_reply_header (&h, &last), ==, -E2BIG);
  h.opcode = XCOPY_OP_LIST_EXPORTS, h.count = XCOPY_PROTO_MAX_EXPORTS + 1;
  CHECK_INT (xcopy_proto_check_reply_header (&h, &last), ==, -E2BIG);

  /* The encoder refuses before it looks at the array. */
  struct xcopy_range one = { 0, 0, 1 };
  struct xcopy_proto_request q = {
    .opcode = XCOPY_OP_COPY, .u.copy = { "a", "b", &one,
                                         XCOPY_PROTO_MAX_RANGES + 1 },
  };
  EXPECT_ENC (&q, E2BIG, "copy: 1048577 ranges > limit 1048576");
}

/* header.count and the payload length disagree. */
static void
count_vs_length (void)
{
  static const char two_ranges[] =
    "01 00 61 01 00 62"
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00"
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00";
  struct raw f = raw (REQ_MAGIC, XCOPY_OP_COPY, 0, 0, 3, two_ranges);

  EXPECT_REQ (f, EBADMSG, "header.count: 3 items need at least 72 bytes,"
              " header.length is 54");
  patch32 (f, 28, 1);
  EXPECT_REQ (f, EBADMSG, "copy.ranges: header.count 1 needs 24 bytes of 24"
              " each, payload has 48 left");
  patch32 (f, 28, 2);
  EXPECT_REQ (f, 0, NULL);
  patch32 (f, 28, 0);
  EXPECT_REQ (f, EBADMSG, "copy.ranges: header.count 0");
  free (f.p);

  f = raw (REQ_MAGIC, XCOPY_OP_COPY, 0, 0, 0, "01 00 61 01 00 62");
  EXPECT_REQ (f, EINVAL, "copy: header.count 0: no ranges");
  free (f.p);
  f = raw (REQ_MAGIC, XCOPY_OP_UNMAP, 0, 0, 2, "01 00 61 "
           "00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00");
  EXPECT_REQ (f, EBADMSG, "header.count: 2 items need at least 32 bytes");
  free (f.p);
  f = raw (REQ_MAGIC, XCOPY_OP_FILL, 0, 0, 2, "00 00 00 00 00 00 00 00 "
           "02 00 00 00 00 00 00 00 01 00 61 ff");
  EXPECT_REQ (f, EBADMSG, "fill.pattern: header.count 2 needs 2 bytes");
  free (f.p);
  f = raw (REQ_MAGIC, XCOPY_OP_FLUSH, 0, 0, 1, "01 00 61");
  EXPECT_REQ (f, EINVAL, "header.count: 1, must be 0 for FLUSH");
  free (f.p);
  /* STAT reply: ncounters beyond what the payload holds. */
  f = raw (REP_MAGIC, XCOPY_OP_STAT, 0, 0, 0, "05 00 00 00");
  EXPECT_REP (f, EBADMSG, "stat.counters: 5 items need at least 90 bytes");
  patch32 (f, 32, 65);
  EXPECT_REP (f, E2BIG, "stat.ncounters: 65 > limit 64");
  free (f.p);
  f = raw (REP_MAGIC, XCOPY_OP_FLUSH, 0, ENOENT, 1, "");
  EXPECT_REP (f, EINVAL, "header.count: 1, must be 0 for error");
  free (f.p);
}

/* ---- Values ---- */

static void
overflowing_lengths (void)
{
  struct xcopy_range r[] = { { 0, 0, 1 }, { 0, 0, 1 } };
  struct xcopy_proto_request q = {
    .opcode = XCOPY_OP_COPY, .u.copy = { "a", "b", r, 2 },
  };
  struct raw f = enc (&q);
  size_t r1 = 32 + 6 + 24;    /* range 1 */

  patch64 (f, r1, UINT64_MAX);
  EXPECT_REQ (f, ERANGE, "range 1: src 16777215T+1023G+1023M+1023K+1023 + 1"
              " overflows 64 bits");
  CHECK_U64 (last.index, ==, 1);
  patch64 (f, r1, 0);
  patch64 (f, r1 + 8, UINT64_MAX - 5);
  patch64 (f, r1 + 16, 6);
  EXPECT_REQ (f, ERANGE, "range 1: dst");
  patch64 (f, r1 + 8, 0);
  patch64 (f, r1 - 8, UINT64_C (1) << 63);
  patch64 (f, r1 + 16, UINT64_C (1) << 63);
  EXPECT_REQ (f, ERANGE, "range 1: total length of the batch overflows");
  CHECK_U64 (last.index, ==, 1);
  free (f.p);

  r[1].dst = UINT64_MAX;
  EXPECT_ENC (&q, ERANGE, "range 1: dst");

  struct xcopy_proto_span sp[] = { { 5, UINT64_MAX - 4 } };
  struct xcopy_proto_request u = {
    .opcode = XCOPY_OP_UNMAP, .u.unmap = { "a", sp, 1 },
  };
  EXPECT_ENC (&u, ERANGE, "span 0: offset 5 + ");
  sp[0].length = UINT64_MAX - 5;
  f = enc (&u);
  patch64 (f, 32 + 3 + 8, UINT64_MAX - 4);
  EXPECT_REQ (f, ERANGE, "span 0: offset");
  free (f.p);

  unsigned char pat = 0;
  struct xcopy_proto_request fill = {
    .opcode = XCOPY_OP_FILL, .u.fill = { "a", UINT64_MAX, 1, &pat, 1 },
  };
  EXPECT_ENC (&fill, ERANGE, "fill: offset");
  struct xcopy_proto_request zero = {
    .opcode = XCOPY_OP_ZERO, .u.zero = { "a", 2, UINT64_MAX - 1 },
  };
  EXPECT_ENC (&zero, ERANGE, "zero.offset 2 + ");
  zero.opcode = XCOPY_OP_EXTENTS;
  EXPECT_ENC (&zero, ERANGE, "extents.offset 2 + ");
  zero.u.zero.length = UINT64_MAX - 2;
  f = enc (&zero);
  patch64 (f, 32, 3);
  EXPECT_REQ (f, ERANGE, "extents.offset 3 + ");
  CHECK_U64 (last.index, ==, 0);
  free (f.p);
}

static void
unknown_opcode (void)
{
  struct raw f = raw (REQ_MAGIC, 0x0042, 0, 0, 0, "");
  struct raw g = raw (REQ_MAGIC, 0, 0, 0, 0, "");
  struct raw r = raw (REP_MAGIC, 0x0042, 0, 0, 0, "");
  struct xcopy_proto_request q = { .opcode = 0x0099 };
  struct xcopy_proto_reply p = { .opcode = 0x0099 };

  EXPECT_REQ (f, ENOSYS, "header.opcode: 0x0042 unknown");
  EXPECT_REQ (g, ENOSYS, "header.opcode: 0x0000 unknown");
  EXPECT_REP (r, ENOSYS, "header.opcode: 0x0042 unknown");
  EXPECT_ENC (&q, ENOSYS, "opcode: 0x0099 unknown");
  EXPECT_ENC_REP (&p, ENOSYS, "opcode: 0x0099 unknown");
  free (f.p), free (g.p), free (r.p);
}

static void
unknown_flags (void)
{
  struct raw f = raw (REQ_MAGIC, XCOPY_OP_FLUSH, 1u << 31, 0, 0, "01 00 61");
  struct xcopy_range one = { 0, 0, 1 };
  struct xcopy_proto_request q = {
    .opcode = XCOPY_OP_COPY, .flags = XCOPY_PROTO_F_REPLACE,
    .u.copy = { "a", "b", &one, 1 },
  };

  EXPECT_REQ (f, EINVAL, "header.flags: bits 0x80000000 not valid for FLUSH");
  patch32 (f, 8, XCOPY_PROTO_F_ASYNC);
  EXPECT_REQ (f, EINVAL, "header.flags: bits 0x1 not valid for FLUSH");
  EXPECT_ENC (&q, EINVAL, "flags: bits 0x20 not valid for COPY");
  free (f.p);
  f = enc (&(struct xcopy_proto_request) {
      .opcode = XCOPY_OP_COPY, .u.copy = { "a", "b", &one, 1 } });
  patch32 (f, 8, XCOPY_PROTO_F_FAST);
  EXPECT_REQ (f, EINVAL, "bits 0x10 not valid for COPY");
  free (f.p);

  /* Reply flags. */
  f = raw (REP_MAGIC, XCOPY_OP_FLUSH, 1u << 3, 0, 0, "");
  EXPECT_REP (f, EINVAL, "header.flags: bits 0x8 not valid in this FLUSH");
  patch32 (f, 8, XCOPY_PROTO_RF_JOB);
  EXPECT_REP (f, EINVAL, "bits 0x1 not valid in this FLUSH reply");
  free (f.p);
  struct xcopy_proto_reply p = {
    .opcode = XCOPY_OP_COPY, .status = EIO, .flags = XCOPY_PROTO_RF_JOB,
    .u.error = { { .failed_index = SIZE_MAX, .error = EIO }, "" },
  };
  EXPECT_ENC_REP (&p, EINVAL, "bits 0x1 not valid in this error reply");
  p = (struct xcopy_proto_reply) {
    .opcode = XCOPY_OP_COPY, .flags = XCOPY_PROTO_RF_SERVER_COUNTERS,
    .u.result = { .failed_index = SIZE_MAX },
  };
  EXPECT_ENC_REP (&p, EINVAL, "bits 0x4 not valid in this COPY reply");
}

static void
status_in_request (void)
{
  struct raw f = raw (REQ_MAGIC, XCOPY_OP_FLUSH, 0, EIO, 0, "01 00 61");

  EXPECT_REQ (f, EINVAL, "header.status: 5, must be 0 in a request");
  free (f.p);
}

/* ---- Names and strings (§4.2) ---- */

static struct raw
stat_with_name (const unsigned char *name, size_t n)
{
  struct raw f = raw (REQ_MAGIC, XCOPY_OP_STAT, 0, 0, 0, "");
  unsigned char *p = h_malloc (32 + 2 + n);

  memcpy (p, f.p, 32);
  put_le16 (p + 32, (uint16_t) n);
  memcpy (p + 34, name, n);
  put_le32 (p + 24, (uint32_t) (2 + n));
  free (f.p);
  return (struct raw) { p, 34 + n };
}

static void
names (void)
{
  unsigned char long_name[300];
  struct raw f;
  static const struct { const char *bytes; const char *why; } bad[] = {
    { "a\0b", "stat.name: NUL byte at 1" },
    { "\xff", "stat.name: not UTF-8 at byte 0" },
    { "ok\xc0\x80", "not UTF-8 at byte 2" },          /* overlong NUL */
    { "\xe0\x80\xaf", "not UTF-8 at byte 0" },        /* overlong '/' */
    { "\xed\xa0\x80", "not UTF-8 at byte 0" },        /* surrogate */
    { "\xf4\x90\x80\x80", "not UTF-8 at byte 0" },    /* > U+10FFFF */
    { "abc\xe2\x82", "not UTF-8 at byte 3" },         /* cut short */
    { "\x80", "not UTF-8 at byte 0" },                /* continuation */
  };
  static const size_t bad_len[] = { 3, 1, 4, 3, 3, 4, 5, 1 };

  memset (long_name, 'n', sizeof long_name);
  f = stat_with_name (long_name, 256);
  EXPECT_REQ (f, ENAMETOOLONG, "stat.name: 256 bytes, longer than 255");
  free (f.p);
  f = stat_with_name (long_name, 255);
  EXPECT_REQ (f, 0, NULL);
  free (f.p);
  f = stat_with_name ((const unsigned char *) "\xf0\x9f\x92\xbe d\xc3\xafsk",
                      10);
  EXPECT_REQ (f, 0, NULL);
  free (f.p);
  for (size_t i = 0; i < ARRAY_SIZE (bad); i++) {
    f = stat_with_name ((const unsigned char *) bad[i].bytes, bad_len[i]);
    EXPECT_REQ (f, EINVAL, bad[i].why);
    free (f.p);
  }

  struct xcopy_proto_request q = { .opcode = XCOPY_OP_FLUSH };
  memset (q.u.flush.name, 'x', sizeof q.u.flush.name);   /* no NUL */
  EXPECT_ENC (&q, ENAMETOOLONG, "flush.name: longer than 255 bytes");
  strcpy (q.u.flush.name, "caf\xe9");
  EXPECT_ENC (&q, EINVAL, "flush.name: not UTF-8 at byte 3");
}

static void
clone_names (void)
{
  static const char *const bad[] = { "", "a/b", "/", ".", "..", "x/" };
  struct xcopy_proto_request q = { .opcode = XCOPY_OP_CLONE };

  strcpy (q.u.clone.src, "base");
  for (size_t i = 0; i < ARRAY_SIZE (bad); i++) {
    strcpy (q.u.clone.dst, bad[i]);
    EXPECT_ENC (&q, EINVAL, "clone.dst: ");
  }
  strcpy (q.u.clone.dst, "...");
  EXPECT_ENC (&q, 0, NULL);
  struct raw f = raw (REQ_MAGIC, XCOPY_OP_CLONE, 0, 0, 0,
                      "01 00 61 03 00 61 2f 62");
  EXPECT_REQ (f, EINVAL, "clone.dst: contains '/'");
  free (f.p);
}

static void
message_too_long (void)
{
  struct xcopy_proto_reply p = {
    .opcode = XCOPY_OP_COPY, .status = EIO,
    .u.error = { { .failed_index = SIZE_MAX, .error = EIO } },
  };
  struct raw f;

  memset (p.u.error.message, 'm', XCOPY_PROTO_MESSAGE_MAX);
  f = enc_rep (&p);                      /* 1024 bytes: fine */
  EXPECT_REP (f, 0, NULL);
  put_le16 (f.p + 32 + 40, 1025);
  patch32 (f, 24, 40 + 2 + 1025);
  f.p = realloc (f.p, f.len + 1);
  f.p[f.len++] = 'm';
  EXPECT_REP (f, EMSGSIZE, "error.message: 1025 bytes, longer than 1024");
  f.p[f.len - 1] = 0xc3;
  put_le16 (f.p + 32 + 40, 1024);
  f.p[f.len - 2] = 0xc3;
  patch32 (f, 24, 40 + 2 + 1024);
  f.len--;
  EXPECT_REP (f, EINVAL, "error.message: not UTF-8 at byte 1023");
  free (f.p);
}

/* ---- Request semantics ---- */

static void
request_semantics (void)
{
  unsigned char pat[3] = { 1, 2, 3 };
  struct xcopy_proto_request q = {
    .opcode = XCOPY_OP_FILL, .u.fill = { "a", 0, 1000, pat, 3 },
  };

  EXPECT_ENC (&q, EINVAL, "fill.length 1000 is not a multiple of the"
              " pattern length 3");
  CHECK_U64 (last.index, ==, 0);
  q.u.fill.patlen = 0;
  EXPECT_ENC (&q, EINVAL, "fill.pattern: empty");
  struct raw f = raw (REQ_MAGIC, XCOPY_OP_FILL, 0, 0, 0,
                      "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
  EXPECT_REQ (f, EINVAL, "fill.pattern: empty (header.count 0)");
  free (f.p);

  q = (struct xcopy_proto_request) {
    .opcode = XCOPY_OP_STAT, .flags = XCOPY_PROTO_F_ALL_EXPORTS,
    .u.stat = { "a" },
  };
  EXPECT_ENC (&q, EINVAL, "stat.name: must be empty with ALL_EXPORTS");
  q = (struct xcopy_proto_request) {
    .opcode = XCOPY_OP_HELLO, .u.hello = { 0, 2, 1, "" },
  };
  EXPECT_ENC (&q, EINVAL, "hello: min_version 2, max_version 1");
  q.u.hello.min_version = 0;
  EXPECT_ENC (&q, EINVAL, "hello: min_version 0");
  q = (struct xcopy_proto_request) { .opcode = XCOPY_OP_JOB_CANCEL };
  EXPECT_ENC (&q, EINVAL, "job.job_id: 0 names no job");
  q.opcode = XCOPY_OP_JOB_STATUS;       /* 0: every job */
  EXPECT_ENC (&q, 0, NULL);
  q = (struct xcopy_proto_request) {
    .opcode = XCOPY_OP_COPY, .u.copy = { "a", "b", NULL, 1 },
  };
  EXPECT_ENC (&q, EINVAL, "copy: no range array");
}

/* ---- Reply semantics ---- */

static void
result_blocks (void)
{
  struct xcopy_proto_reply p = {
    .opcode = XCOPY_OP_COPY, .status = EIO,
    .u.error = { { .failed_index = SIZE_MAX, .error = ENOSPC } },
  };

  EXPECT_ENC_REP (&p, EINVAL, "error.result.error 28 differs from"
                  " header.status 5");
  p.status = 5000;
  p.u.error.result.error = 5000;
  EXPECT_ENC_REP (&p, EINVAL, "status: 5000 is not an errno");
  p.status = EIO;
  p.u.error.result = (struct xcopy_result) {
    .failed_index = 0, .error = EIO, .flags = 2,
  };
  EXPECT_ENC_REP (&p, EINVAL, "error.result.flags: unknown bits 0x2");
  p.u.error.result.flags = 0;
  p.u.error.result.ranges_done = 3;
  EXPECT_ENC_REP (&p, EINVAL, "error.result.failed_index 0 < ranges_done 3");
  p.u.error.result = (struct xcopy_result) {
    .failed_index = SIZE_MAX, .failed_done = 5, .error = EIO,
  };
  EXPECT_ENC_REP (&p, EINVAL, "failed_done or flags without a failed range");

  p = (struct xcopy_proto_reply) {
    .opcode = XCOPY_OP_ZERO, .u.result = { .failed_index = 0 },
  };
  EXPECT_ENC_REP (&p, EINVAL, "result: error 0 with a failed range");
  p.u.result = (struct xcopy_result) { .failed_index = SIZE_MAX, .error = 5 };
  EXPECT_ENC_REP (&p, EINVAL, "result.error: 5 in a success reply");
  p = (struct xcopy_proto_reply) {
    .opcode = XCOPY_OP_COPY, .flags = XCOPY_PROTO_RF_JOB,
  };
  EXPECT_ENC_REP (&p, EINVAL, "job.job_id: 0");

  /* On the wire: a result block with ranges_done over the limit. */
  p = (struct xcopy_proto_reply) {
    .opcode = XCOPY_OP_COPY, .u.result = { .failed_index = SIZE_MAX },
  };
  struct raw f = enc_rep (&p);
  patch64 (f, 32 + 8, XCOPY_PROTO_MAX_RANGES + 1);
  EXPECT_REP (f, EINVAL, "result.ranges_done: 1048577 > 1048576");
  patch64 (f, 32 + 8, 0);
  patch64 (f, 32 + 16, XCOPY_PROTO_MAX_RANGES);
  EXPECT_REP (f, EINVAL, "result.failed_index: 1048576 >= 1048576");
  patch64 (f, 32 + 16, NONE);
  patch32 (f, 32 + 32, 0x80000000u);
  EXPECT_REP (f, EINVAL, "result.error: 2147483648 is not an errno");
  free (f.p);
}

static void
extents_replies (void)
{
  struct xcopy_proto_extent x[] = {
    { 0, 10, XCOPY_PROTO_EXTENT_DATA }, { 10, 5, XCOPY_PROTO_EXTENT_HOLE },
  };
  struct xcopy_proto_reply p = {
    .opcode = XCOPY_OP_EXTENTS, .u.extents = { x, 2 },
  };

  EXPECT_ENC_REP (&p, 0, NULL);
  x[1].offset = 11;
  EXPECT_ENC_REP (&p, EINVAL, "extent 1: offset 11 does not follow extent 0");
  x[1].offset = 10, x[1].length = 0;
  EXPECT_ENC_REP (&p, EINVAL, "extent 1: length 0 or unknown type 1");
  x[1].length = 5, x[1].type = 2;
  EXPECT_ENC_REP (&p, EINVAL, "unknown type 2");
  x[1].type = 1, x[1].length = UINT64_MAX - 9;
  EXPECT_ENC_REP (&p, ERANGE, "extent 1: offset 10 + ");
  CHECK_U64 (last.index, ==, 1);
}

static void
job_replies (void)
{
  struct xcopy_proto_job j[] = {
    { 5, 100, XCOPY_OP_COPY, XCOPY_PROTO_JOB_RUNNING,
      { .bytes_done = 50, .failed_index = SIZE_MAX } },
    { 6, 100, XCOPY_OP_ZERO, XCOPY_PROTO_JOB_DONE,
      { .bytes_done = 100, .ranges_done = 1, .failed_index = SIZE_MAX } },
  };
  struct xcopy_proto_reply p = {
    .opcode = XCOPY_OP_JOB_STATUS, .u.jobs = { j, 2 },
  };

  EXPECT_ENC_REP (&p, 0, NULL);
  j[1].job_id = 5;
  EXPECT_ENC_REP (&p, EINVAL, "jobs[1].job_id: not above the previous one");
  j[1].job_id = 6, j[1].result.error = EIO;
  EXPECT_ENC_REP (&p, EINVAL, "jobs[1].state: 3 with error 5");
  j[1].state = XCOPY_PROTO_JOB_CANCELLED;
  EXPECT_ENC_REP (&p, EINVAL, "jobs[1].state: 5 with error 5");
  j[1].state = XCOPY_PROTO_JOB_FAILED, j[1].result.failed_index = 1;
  EXPECT_ENC_REP (&p, 0, NULL);
  j[1].state = 9;
  EXPECT_ENC_REP (&p, EINVAL, "jobs[1].state: 9");
  j[1].state = XCOPY_PROTO_JOB_FAILED, j[1].opcode = XCOPY_OP_FLUSH;
  EXPECT_ENC_REP (&p, EINVAL, "jobs[1].opcode: 0x0014 cannot be a job");
  j[1].opcode = XCOPY_OP_ZERO, j[1].bytes_total = 99;
  EXPECT_ENC_REP (&p, EINVAL, "jobs[1]: bytes_done 100 > bytes_total 99");
  j[1].bytes_total = 100, j[0].job_id = 0;
  EXPECT_ENC_REP (&p, EINVAL, "jobs[0].job_id: 0");
  j[0].job_id = 5;
  p.opcode = XCOPY_OP_JOB_CANCEL;
  EXPECT_ENC_REP (&p, EINVAL, "jobs: 2 in a JOB_CANCEL reply, must be 1");
  p.u.jobs.count = 0;
  EXPECT_ENC_REP (&p, EINVAL, "jobs: 0 in a JOB_CANCEL reply");
}

static void
hello_and_stat_replies (void)
{
  struct xcopy_proto_reply p = {
    .opcode = XCOPY_OP_HELLO,
    .u.hello = { 0, XCOPY_PROTO_MIN_PAYLOAD - 1, 1, 1, "" },
  };

  EXPECT_ENC_REP (&p, EINVAL, "hello.max_payload: 65535 outside");
  p.u.hello.max_payload = XCOPY_PROTO_MIN_PAYLOAD;
  EXPECT_ENC_REP (&p, 0, NULL);
  p.u.hello.max_ranges = 0;
  EXPECT_ENC_REP (&p, EINVAL, "hello.max_ranges: 0 outside [1, 1048576]");
  p.u.hello.max_ranges = 1, p.u.hello.version = 0;
  EXPECT_ENC_REP (&p, EINVAL, "hello.version: 0");

  struct xcopy_proto_counter c = { "", 1, 1 };
  struct xcopy_proto_export x = { "a", 100, 4096, 0 };
  p = (struct xcopy_proto_reply) {
    .opcode = XCOPY_OP_STAT, .u.stat = { &c, 1, &x, 1 },
  };
  EXPECT_ENC_REP (&p, EINVAL, "counters[0].name: empty");
  strcpy (c.name, "reflink");
  EXPECT_ENC_REP (&p, 0, NULL);
  x.block_size = 4097;
  EXPECT_ENC_REP (&p, EINVAL, "exports[0].block_size: 4097 is not a power");
  x.block_size = 0, x.flags = 2;
  EXPECT_ENC_REP (&p, EINVAL, "exports[0].flags: unknown bits 0x2");
}

/* ---- Error replies built by the codec ---- */

static void
error_reply_sanitised (void)
{
  struct xcopy_proto_header h = {
    REQ_MAGIC, 9, 0x7777, 0, 0, 42, 0, 0,
  };
  struct xcopy_proto_err e = { .err = 0, .index = 12345678901ull };
  struct xcopy_proto_reply p;
  struct xcopy_wbuf w;

  /* A message cut inside a UTF-8 sequence, an errno out of range, an
   * index out of range, a version nobody speaks: still a valid reply.
   */
  memset (e.msg, 'a', sizeof e.msg);
  e.msg[sizeof e.msg - 2] = (char) 0xc3;
  e.msg[sizeof e.msg - 1] = '\0';
  xcopy_proto_error_reply (&h, &e, &p);
  CHECK_INT (p.status, ==, EIO);
  CHECK_INT (p.version, ==, XCOPY_PROTO_VERSION);
  CHECK_U64 (p.serial, ==, 42);
  CHECK_U64 (p.u.error.result.failed_index, ==, SIZE_MAX);
  CHECK_INT (p.u.error.message[sizeof e.msg - 2], ==, '?');
  xcopy_wbuf_init (&w, SIZE_MAX);
  CHECK_INT (xcopy_proto_encode_reply (&p, &w, &e), ==, 0);
  xcopy_wbuf_free (&w);
}

static const struct h_test tests[] = {
  H_TEST_T (truncated_at_every_length, 120),
  H_TEST (trailing_bytes),
  H_TEST (bad_magic),
  H_TEST (version_mismatch),
  H_TEST (payload_over_limit),
  H_TEST (encode_over_buffer_limit),
  H_TEST (count_over_limit),
  H_TEST (count_vs_length),
  H_TEST (overflowing_lengths),
  H_TEST (unknown_opcode),
  H_TEST (unknown_flags),
  H_TEST (status_in_request),
  H_TEST (names),
  H_TEST (clone_names),
  H_TEST (message_too_long),
  H_TEST (request_semantics),
  H_TEST (result_blocks),
  H_TEST (extents_replies),
  H_TEST (job_replies),
  H_TEST (hello_and_stat_replies),
  H_TEST (error_reply_sanitised),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
