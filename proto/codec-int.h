/* xcopyd: internals shared by the files of the protocol codec.
 *
 *   buf.c       byte writer and reader, strings
 *   check.c     error messages, sizes, range checks, version negotiation
 *   codec.c     the opcode table, headers, frames, error replies
 *   requests.c  request payloads: decode, encode, validate per opcode
 *   replies.c   reply payloads: the same
 */
#ifndef XCOPY_PROTO_CODEC_INT_H
#define XCOPY_PROTO_CODEC_INT_H

#include <errno.h>

#include "xcopy/proto.h"

/* ---- Strings (§4.2), buf.c ---- */

/* Read a string of at most max bytes into out (max + 1 bytes, NUL-
 * terminated).  Longer: too_long (ENAMETOOLONG for names, EMSGSIZE for
 * messages); NUL or bad UTF-8: EINVAL; truncated: EBADMSG.
 */
void xcopy_rbuf_str (struct xcopy_rbuf *r, char *out, size_t max,
                     int too_long, const char *field);
static inline void
xcopy_rbuf_name (struct xcopy_rbuf *r, char *out, const char *field)
{
  xcopy_rbuf_str (r, out, XCOPY_PROTO_NAME_MAX, ENAMETOOLONG, field);
}
/* Replace every byte of s that is not well-formed UTF-8 with '?' (a
 * message cut short by snprintf may end inside a sequence).
 */
void xcopy_proto_utf8_sanitize (char *s);
/* Write a NUL-terminated string (already validated) as u16 length + bytes. */
void xcopy_wbuf_str (struct xcopy_wbuf *w, const char *s);

/* Check a string before encoding it: NUL-terminated within max + 1
 * bytes (too_long otherwise), UTF-8 (EINVAL).
 */
int xcopy_proto_check_str (const char *s, size_t max, int too_long,
                           const char *field, struct xcopy_proto_err *e);
static inline int
xcopy_proto_check_name (const char *s, const char *field,
                        struct xcopy_proto_err *e)
{
  return xcopy_proto_check_str (s, XCOPY_PROTO_NAME_MAX, ENAMETOOLONG,
                                field, e);
}

/* Record a failure in the reader: the first one sticks. */
void xcopy_rbuf_fail (struct xcopy_rbuf *r, int err, uint64_t index,
                      const char *fmt, ...)
  __attribute__ ((format (printf, 4, 5)));

/* Before an array of count items of item_size bytes: the rest of the
 * payload must hold exactly that (EBADMSG otherwise).  Returns false after
 * any failure.
 */
bool xcopy_rbuf_expect_exact (struct xcopy_rbuf *r, uint64_t count,
                              size_t item_size, const char *what);
/* calloc(count, size) or an -ENOMEM failure in r; count 0 gives NULL. */
void *xcopy_rbuf_alloc (struct xcopy_rbuf *r, size_t count, size_t size);

/* ---- Result blocks (§4.3), check.c ---- */

void xcopy_rbuf_result (struct xcopy_rbuf *r, struct xcopy_result *res);
void xcopy_wbuf_result (struct xcopy_wbuf *w, const struct xcopy_result *res);
int xcopy_proto_check_result (const struct xcopy_result *res,
                              const char *field, struct xcopy_proto_err *e);
/* a + b with an ERANGE failure naming what overflowed. */
int xcopy_proto_check_end (uint64_t a, uint64_t b, uint64_t index,
                           const char *what, struct xcopy_proto_err *e);

/* ---- The opcode table (§6.1), codec.c ---- */

struct xcopy_proto_op {
  const char *name;
  uint32_t flags;           /* request flags allowed */
  uint64_t cap;             /* capability needed, 0: always there */
  bool long_op;             /* ASYNC allowed; result or job-started reply */
  uint32_t req_max;         /* request header.count limit; 0: must be 0 */
  uint32_t req_item;        /* smallest encoded item of that array */
  uint32_t rep_max;         /* the same for success replies */
  uint32_t rep_item;
  /* Payload codecs: decoders read through r and leave failures there;
   * encoders append to w and return header.count.
   */
  void (*dec_req) (struct xcopy_rbuf *r, uint32_t count,
                   struct xcopy_proto_request *req);
  uint32_t (*enc_req) (struct xcopy_wbuf *w,
                       const struct xcopy_proto_request *req);
  int (*val_req) (const struct xcopy_proto_request *req,
                  struct xcopy_proto_err *e);
  void (*dec_rep) (struct xcopy_rbuf *r, uint32_t count,
                   struct xcopy_proto_reply *rep);
  uint32_t (*enc_rep) (struct xcopy_wbuf *w,
                       const struct xcopy_proto_reply *rep);
  int (*val_rep) (const struct xcopy_proto_reply *rep,
                  struct xcopy_proto_err *e);
  void (*free_req) (struct xcopy_proto_request *req);
  void (*free_rep) (struct xcopy_proto_reply *rep);
};

const struct xcopy_proto_op *xcopy_proto_op (uint16_t opcode);

/* ---- Per-opcode payload codecs: requests.c, replies.c ---- */

#define XCOPY_PROTO_REQ_CODEC(op)                                       \
  void xcopy_proto_dec_req_##op (struct xcopy_rbuf *r, uint32_t count,  \
                                 struct xcopy_proto_request *req);      \
  uint32_t xcopy_proto_enc_req_##op (struct xcopy_wbuf *w,              \
                                     const struct xcopy_proto_request *req); \
  int xcopy_proto_val_req_##op (const struct xcopy_proto_request *req,  \
                                struct xcopy_proto_err *e)
#define XCOPY_PROTO_REP_CODEC(op)                                       \
  void xcopy_proto_dec_rep_##op (struct xcopy_rbuf *r, uint32_t count,  \
                                 struct xcopy_proto_reply *rep);        \
  uint32_t xcopy_proto_enc_rep_##op (struct xcopy_wbuf *w,              \
                                     const struct xcopy_proto_reply *rep); \
  int xcopy_proto_val_rep_##op (const struct xcopy_proto_reply *rep,    \
                                struct xcopy_proto_err *e)

XCOPY_PROTO_REQ_CODEC (hello);
XCOPY_PROTO_REQ_CODEC (none);         /* LIST_EXPORTS: empty payload */
XCOPY_PROTO_REQ_CODEC (stat);
XCOPY_PROTO_REQ_CODEC (copy);
XCOPY_PROTO_REQ_CODEC (fill);
XCOPY_PROTO_REQ_CODEC (zero);
XCOPY_PROTO_REQ_CODEC (unmap);
XCOPY_PROTO_REQ_CODEC (flush);
XCOPY_PROTO_REQ_CODEC (extents);
XCOPY_PROTO_REQ_CODEC (clone);
XCOPY_PROTO_REQ_CODEC (job);          /* JOB_STATUS */
XCOPY_PROTO_REQ_CODEC (cancel);       /* JOB_CANCEL */
void xcopy_proto_free_req_copy (struct xcopy_proto_request *req);
void xcopy_proto_free_req_fill (struct xcopy_proto_request *req);
void xcopy_proto_free_req_unmap (struct xcopy_proto_request *req);

XCOPY_PROTO_REP_CODEC (hello);
XCOPY_PROTO_REP_CODEC (exports);      /* LIST_EXPORTS */
XCOPY_PROTO_REP_CODEC (stat);
XCOPY_PROTO_REP_CODEC (long);         /* COPY FILL ZERO UNMAP CLONE */
XCOPY_PROTO_REP_CODEC (none);         /* FLUSH: empty payload */
XCOPY_PROTO_REP_CODEC (extents);
XCOPY_PROTO_REP_CODEC (jobs);         /* JOB_STATUS, JOB_CANCEL */
XCOPY_PROTO_REP_CODEC (error);        /* any opcode, status != 0 */
void xcopy_proto_free_rep_exports (struct xcopy_proto_reply *rep);
void xcopy_proto_free_rep_stat (struct xcopy_proto_reply *rep);
void xcopy_proto_free_rep_extents (struct xcopy_proto_reply *rep);
void xcopy_proto_free_rep_jobs (struct xcopy_proto_reply *rep);

#endif /* XCOPY_PROTO_CODEC_INT_H */
