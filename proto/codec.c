/* xcopyd: the control-protocol codec — opcode table, headers, frames.
 *
 * PROTOCOL.md is normative.  The opcode table below is §6.1 in C: what
 * each opcode allows (flags, capability, array limits) and which payload
 * codecs (requests.c, replies.c) it uses.  Everything a decoder accepts
 * re-encodes to the same bytes (fuzz-proto-decode checks this).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec-int.h"

#define NO_INDEX XCOPY_PROTO_NO_INDEX
#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

#define F_LONG    (XCOPY_PROTO_F_ASYNC | XCOPY_PROTO_F_SYNC)
#define RANGE_SZ  sizeof (struct xcopy_wire_range)
#define SPAN_SZ   sizeof (struct xcopy_wire_span)
#define STR_MIN   sizeof (struct xcopy_wire_str)

#define REQ(op, free)                                                   \
  .dec_req = xcopy_proto_dec_req_##op, .enc_req = xcopy_proto_enc_req_##op, \
  .val_req = xcopy_proto_val_req_##op, .free_req = free
#define REP(op, free)                                                   \
  .dec_rep = xcopy_proto_dec_rep_##op, .enc_rep = xcopy_proto_enc_rep_##op, \
  .val_rep = xcopy_proto_val_rep_##op, .free_rep = free

/* §6.1 */
static const struct xcopy_proto_op ops[] = {
  [XCOPY_OP_HELLO] = { "HELLO", REQ (hello, NULL), REP (hello, NULL) },
  [XCOPY_OP_LIST_EXPORTS] = {
    "LIST_EXPORTS", .rep_max = XCOPY_PROTO_MAX_EXPORTS, .rep_item = STR_MIN,
    REQ (none, NULL), REP (exports, xcopy_proto_free_rep_exports) },
  [XCOPY_OP_STAT] = {
    "STAT", .flags = XCOPY_PROTO_F_ALL_EXPORTS,
    .rep_max = XCOPY_PROTO_MAX_EXPORTS,
    .rep_item = sizeof (struct xcopy_wire_export) + STR_MIN,
    REQ (stat, NULL), REP (stat, xcopy_proto_free_rep_stat) },
  [XCOPY_OP_COPY] = {
    "COPY", .flags = F_LONG | XCOPY_PROTO_F_ALLOCATE | XCOPY_PROTO_F_LADDER,
    .long_op = true, .req_max = XCOPY_PROTO_MAX_RANGES, .req_item = RANGE_SZ,
    REQ (copy, xcopy_proto_free_req_copy), REP (long, NULL) },
  [XCOPY_OP_FILL] = {
    "FILL", .flags = F_LONG | XCOPY_PROTO_F_MAY_TRIM, .long_op = true,
    .req_max = XCOPY_PROTO_MAX_PATTERN, .req_item = 1,
    REQ (fill, xcopy_proto_free_req_fill), REP (long, NULL) },
  [XCOPY_OP_ZERO] = {
    "ZERO", .flags = F_LONG | XCOPY_PROTO_F_MAY_TRIM | XCOPY_PROTO_F_FAST,
    .long_op = true, REQ (zero, NULL), REP (long, NULL) },
  [XCOPY_OP_UNMAP] = {
    "UNMAP", .flags = F_LONG, .long_op = true,
    .req_max = XCOPY_PROTO_MAX_RANGES, .req_item = SPAN_SZ,
    REQ (unmap, xcopy_proto_free_req_unmap), REP (long, NULL) },
  [XCOPY_OP_FLUSH] = { "FLUSH", REQ (flush, NULL), REP (none, NULL) },
  [XCOPY_OP_EXTENTS] = {
    "EXTENTS", .cap = XCOPY_PROTO_CAP_EXTENTS,
    .rep_max = XCOPY_PROTO_MAX_EXTENTS,
    .rep_item = sizeof (struct xcopy_wire_extent),
    REQ (extents, NULL), REP (extents, xcopy_proto_free_rep_extents) },
  [XCOPY_OP_CLONE] = {
    "CLONE", .flags = XCOPY_PROTO_F_ASYNC | XCOPY_PROTO_F_REPLACE |
    XCOPY_PROTO_F_LADDER, .cap = XCOPY_PROTO_CAP_CLONE, .long_op = true,
    REQ (clone, NULL), REP (long, NULL) },
  [XCOPY_OP_JOB_STATUS] = {
    "JOB_STATUS", .cap = XCOPY_PROTO_CAP_JOBS,
    .rep_max = XCOPY_PROTO_MAX_JOBS, .rep_item = sizeof (struct xcopy_wire_job),
    REQ (job, NULL), REP (jobs, xcopy_proto_free_rep_jobs) },
  [XCOPY_OP_JOB_CANCEL] = {
    "JOB_CANCEL", .cap = XCOPY_PROTO_CAP_JOBS,
    .rep_max = 1, .rep_item = sizeof (struct xcopy_wire_job),
    REQ (cancel, NULL), REP (jobs, xcopy_proto_free_rep_jobs) },
};

static const struct xcopy_proto_op error_op = {
  "error", REP (error, NULL),
};

/* §11: the largest valid message of each kind fits in a payload. */
#define NAME_SZ (STR_MIN + XCOPY_PROTO_NAME_MAX)
_Static_assert (2 * NAME_SZ + (uint64_t) XCOPY_PROTO_MAX_RANGES * RANGE_SZ
                <= XCOPY_PROTO_MAX_PAYLOAD, "largest COPY");
_Static_assert (16 + NAME_SZ + (uint64_t) XCOPY_PROTO_MAX_PATTERN
                <= XCOPY_PROTO_MAX_PAYLOAD, "largest FILL");
_Static_assert ((uint64_t) XCOPY_PROTO_MAX_EXTENTS *
                sizeof (struct xcopy_wire_extent) <= XCOPY_PROTO_MAX_PAYLOAD,
                "largest EXTENTS reply");
_Static_assert (4 + XCOPY_PROTO_MAX_COUNTERS * (16 + NAME_SZ) +
                (uint64_t) XCOPY_PROTO_MAX_EXPORTS * (16 + NAME_SZ)
                <= XCOPY_PROTO_MAX_PAYLOAD, "largest STAT reply");
_Static_assert (XCOPY_PROTO_MAX_JOBS * sizeof (struct xcopy_wire_job)
                <= XCOPY_PROTO_MAX_PAYLOAD, "largest JOB_STATUS reply");

const struct xcopy_proto_op *
xcopy_proto_op (uint16_t opcode)
{
  if (opcode >= ARRAY_SIZE (ops) || ops[opcode].name == NULL)
    return NULL;
  return &ops[opcode];
}

const char *
xcopy_proto_op_name (uint16_t opcode)
{
  const struct xcopy_proto_op *op = xcopy_proto_op (opcode);

  return op ? op->name : NULL;
}

uint32_t
xcopy_proto_op_flags (uint16_t opcode)
{
  const struct xcopy_proto_op *op = xcopy_proto_op (opcode);

  return op ? op->flags : 0;
}

uint64_t
xcopy_proto_op_cap (uint16_t opcode)
{
  const struct xcopy_proto_op *op = xcopy_proto_op (opcode);

  return op ? op->cap : 0;
}

bool
xcopy_proto_op_is_long (uint16_t opcode)
{
  const struct xcopy_proto_op *op = xcopy_proto_op (opcode);

  return op && op->long_op;
}

const char *
xcopy_proto_job_state_name (uint16_t state)
{
  static const char *const names[] = {
    [XCOPY_PROTO_JOB_QUEUED] = "queued",
    [XCOPY_PROTO_JOB_RUNNING] = "running",
    [XCOPY_PROTO_JOB_DONE] = "done",
    [XCOPY_PROTO_JOB_FAILED] = "failed",
    [XCOPY_PROTO_JOB_CANCELLED] = "cancelled",
  };

  return state < ARRAY_SIZE (names) ? names[state] : NULL;
}

/* ---- Headers (§3.1, §3.3) ---- */

#define H_OFF(f) offsetof (struct xcopy_wire_header, f)

void
xcopy_proto_get_header (const void *buf, struct xcopy_proto_header *h)
{
  const unsigned char *b = buf;

  h->magic = get_le32 (b + H_OFF (magic));
  h->version = get_le16 (b + H_OFF (version));
  h->opcode = get_le16 (b + H_OFF (opcode));
  h->flags = get_le32 (b + H_OFF (flags));
  h->status = get_le32 (b + H_OFF (status));
  h->serial = get_le64 (b + H_OFF (serial));
  h->length = get_le32 (b + H_OFF (length));
  h->count = get_le32 (b + H_OFF (count));
}

void
xcopy_proto_put_header (void *buf, const struct xcopy_proto_header *h)
{
  unsigned char *b = buf;

  put_le32 (b + H_OFF (magic), h->magic);
  put_le16 (b + H_OFF (version), h->version);
  put_le16 (b + H_OFF (opcode), h->opcode);
  put_le32 (b + H_OFF (flags), h->flags);
  put_le32 (b + H_OFF (status), h->status);
  put_le64 (b + H_OFF (serial), h->serial);
  put_le32 (b + H_OFF (length), h->length);
  put_le32 (b + H_OFF (count), h->count);
}

/* §3.3 steps 1-2: failures here lose the stream. */
static int
check_framing (const struct xcopy_proto_header *h, uint32_t magic,
               struct xcopy_proto_err *e)
{
  int ret = 0;

  if (h->magic != magic)
    ret = xcopy_proto_fail (e, EPROTO, NO_INDEX, "header.magic: 0x%08x,"
                            " expected 0x%08x (\"%s\")", h->magic, magic,
                            magic == XCOPY_PROTO_REQUEST_MAGIC ? "xcpQ"
                            : "xcpR");
  else if (h->length > XCOPY_PROTO_MAX_PAYLOAD)
    ret = xcopy_proto_fail (e, EMSGSIZE, NO_INDEX, "header.length: %u > limit"
                            " %u", h->length, XCOPY_PROTO_MAX_PAYLOAD);
  if (ret && e)
    e->fatal = true;
  return ret;
}

/* §3.3 step 3 (§5: HELLO frames are always version 1). */
static int
check_version (uint16_t opcode, uint16_t version, struct xcopy_proto_err *e)
{
  if (opcode == XCOPY_OP_HELLO ? version == XCOPY_PROTO_HELLO_VERSION
      : version >= XCOPY_PROTO_VERSION_MIN &&
        version <= XCOPY_PROTO_VERSION_MAX)
    return 0;
  return xcopy_proto_fail (e, EPROTONOSUPPORT, NO_INDEX, "header.version:"
                           " %u not spoken (HELLO: %u, others: %u..%u)",
                           version, XCOPY_PROTO_HELLO_VERSION,
                           XCOPY_PROTO_VERSION_MIN, XCOPY_PROTO_VERSION_MAX);
}

/* §3.3 steps 7-8: the array count, before any payload is read. */
static int
check_count (const struct xcopy_proto_header *h, const char *name,
             uint32_t max, uint32_t item, struct xcopy_proto_err *e)
{
  if (max == 0 && h->count)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "header.count: %u, must be"
                             " 0 for %s", h->count, name);
  if (h->count > max)
    return xcopy_proto_fail (e, E2BIG, NO_INDEX, "header.count: %u > limit"
                             " %u for %s", h->count, max, name);
  if ((uint64_t) h->count * item > h->length)
    return xcopy_proto_fail (e, EBADMSG, NO_INDEX, "header.count: %u items"
                             " need at least %ju bytes, header.length is %u",
                             h->count, (uintmax_t) h->count * item, h->length);
  return 0;
}

int
xcopy_proto_check_request_header (const struct xcopy_proto_header *h,
                                  struct xcopy_proto_err *e)
{
  const struct xcopy_proto_op *op = xcopy_proto_op (h->opcode);
  int ret;

  if ((ret = check_framing (h, XCOPY_PROTO_REQUEST_MAGIC, e)) ||
      (ret = check_version (h->opcode, h->version, e)))
    return ret;
  if (h->status)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "header.status: %u, must"
                             " be 0 in a request", h->status);
  if (op == NULL)
    return xcopy_proto_fail (e, ENOSYS, NO_INDEX, "header.opcode: 0x%04x"
                             " unknown", h->opcode);
  if (h->flags & ~op->flags)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "header.flags: bits 0x%x"
                             " not valid for %s", h->flags & ~op->flags,
                             op->name);
  return check_count (h, op->name, op->req_max, op->req_item, e);
}

/* Reply flags a reply may carry (§7). */
static int
check_reply_flags (const struct xcopy_proto_header *h,
                   const struct xcopy_proto_op *op, struct xcopy_proto_err *e)
{
  uint32_t ok = XCOPY_PROTO_RF_CLOSING;

  if (h->status == 0 && op->long_op)
    ok |= XCOPY_PROTO_RF_JOB;
  if (h->status == 0 && h->opcode == XCOPY_OP_STAT)
    ok |= XCOPY_PROTO_RF_SERVER_COUNTERS;
  if (h->flags & ~ok)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "header.flags: bits 0x%x"
                             " not valid in this %s reply", h->flags & ~ok,
                             op->name);
  return 0;
}

int
xcopy_proto_check_reply_header (const struct xcopy_proto_header *h,
                                struct xcopy_proto_err *e)
{
  const struct xcopy_proto_op *op = xcopy_proto_op (h->opcode);
  int ret;

  if ((ret = check_framing (h, XCOPY_PROTO_REPLY_MAGIC, e)) ||
      (ret = check_version (h->opcode, h->version, e)))
    return ret;
  if (h->status > XCOPY_PROTO_ERRNO_MAX)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "header.status: %u is not"
                             " an errno", h->status);
  if (h->status)      /* §7.2: error replies echo any opcode */
    op = &error_op;
  else if (op == NULL)
    return xcopy_proto_fail (e, ENOSYS, NO_INDEX, "header.opcode: 0x%04x"
                             " unknown", h->opcode);
  if ((ret = check_reply_flags (h, op, e)))
    return ret;
  if (h->flags & XCOPY_PROTO_RF_JOB)
    return check_count (h, "a job-started", 0, 0, e);
  return check_count (h, op->name, op->rep_max, op->rep_item, e);
}

/* ---- Whole messages ---- */

/* The header version to put on an outgoing frame. */
static uint16_t
out_version (uint16_t opcode, uint16_t version)
{
  if (version)
    return version;
  return opcode == XCOPY_OP_HELLO ? XCOPY_PROTO_HELLO_VERSION
    : XCOPY_PROTO_VERSION;
}

/* After a payload decoder: nothing may be left over (§4). */
static int
finish_read (struct xcopy_rbuf *r, const char *name)
{
  if (r->err == 0 && xcopy_rbuf_left (r))
    xcopy_rbuf_fail (r, EBADMSG, NO_INDEX, "%s: %zu bytes after the end of"
                     " the payload", name, xcopy_rbuf_left (r));
  return r->err;
}

static int
check_length (const struct xcopy_proto_header *h, size_t len,
              struct xcopy_proto_err *e)
{
  if (len == h->length)
    return 0;
  return xcopy_proto_fail (e, EBADMSG, NO_INDEX, "payload: %zu bytes,"
                           " header.length %u", len, h->length);
}

/* Fill in the header of the frame started at out->data[start]; on any
 * failure drop the frame.
 */
static int
finish_frame (struct xcopy_wbuf *out, size_t start,
              struct xcopy_proto_header *h, struct xcopy_proto_err *e)
{
  int err = -out->err;
  size_t plen;

  if (err) {
    out->len = start;
    out->err = 0;
    return xcopy_proto_fail (e, err, NO_INDEX, "encoding %s: %s",
                             xcopy_proto_op_name (h->opcode) ?: "frame",
                             err == EMSGSIZE ? "over the buffer's limit"
                             : "out of memory");
  }
  plen = out->len - start - XCOPY_PROTO_HEADER_SIZE;
  if (plen > XCOPY_PROTO_MAX_PAYLOAD) {
    out->len = start;
    return xcopy_proto_fail (e, EMSGSIZE, NO_INDEX, "payload: %zu bytes >"
                             " limit %u", plen, XCOPY_PROTO_MAX_PAYLOAD);
  }
  h->length = (uint32_t) plen;
  xcopy_proto_put_header (out->data + start, h);
  return 0;
}

static int
begin_frame (struct xcopy_wbuf *out, struct xcopy_proto_err *e)
{
  if (out->err)
    return xcopy_proto_fail (e, -out->err, NO_INDEX, "output buffer has"
                             " failed before");
  if (xcopy_wbuf_reserve (out, XCOPY_PROTO_HEADER_SIZE) == NULL) {
    int err = -out->err;

    out->err = 0;             /* nothing was appended: usable again */
    return xcopy_proto_fail (e, err, NO_INDEX, "no room for a header");
  }
  return 0;
}

static int
frame_header (const void *buf, size_t len, struct xcopy_proto_header *h,
              struct xcopy_proto_err *e)
{
  if (len < XCOPY_PROTO_HEADER_SIZE)
    return xcopy_proto_fail (e, EBADMSG, NO_INDEX, "frame: %zu bytes, shorter"
                             " than the %u-byte header", len,
                             XCOPY_PROTO_HEADER_SIZE);
  xcopy_proto_get_header (buf, h);
  return 0;
}

/* ---- Requests ---- */

int
xcopy_proto_validate_request (const struct xcopy_proto_request *req,
                              struct xcopy_proto_err *e)
{
  const struct xcopy_proto_op *op = xcopy_proto_op (req->opcode);
  int ret;

  if (op == NULL)
    return xcopy_proto_fail (e, ENOSYS, NO_INDEX, "opcode: 0x%04x unknown",
                             req->opcode);
  if (req->version && (ret = check_version (req->opcode, req->version, e)))
    return ret;
  if (req->flags & ~op->flags)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "flags: bits 0x%x not"
                             " valid for %s", req->flags & ~op->flags,
                             op->name);
  return op->val_req (req, e);
}

int
xcopy_proto_decode_request (const struct xcopy_proto_header *h,
                            const void *payload, size_t len,
                            struct xcopy_proto_request *req,
                            struct xcopy_proto_err *e)
{
  const struct xcopy_proto_op *op;
  struct xcopy_rbuf r;
  int ret;

  memset (req, 0, sizeof *req);
  if ((ret = xcopy_proto_check_request_header (h, e)) ||
      (ret = check_length (h, len, e)))
    return ret;
  op = xcopy_proto_op (h->opcode);
  req->opcode = h->opcode;
  req->version = h->version;
  req->flags = h->flags;
  req->serial = h->serial;
  xcopy_rbuf_init (&r, payload, len, e);
  op->dec_req (&r, h->count, req);
  ret = finish_read (&r, op->name);
  if (ret == 0)
    ret = op->val_req (req, e);
  if (ret)
    xcopy_proto_request_free (req);
  return ret;
}

int
xcopy_proto_decode_request_frame (const void *buf, size_t len,
                                  struct xcopy_proto_request *req,
                                  struct xcopy_proto_err *e)
{
  struct xcopy_proto_header h;
  int ret;

  memset (req, 0, sizeof *req);
  if ((ret = frame_header (buf, len, &h, e)))
    return ret;
  return xcopy_proto_decode_request (&h, (const unsigned char *) buf +
                                     XCOPY_PROTO_HEADER_SIZE,
                                     len - XCOPY_PROTO_HEADER_SIZE, req, e);
}

int
xcopy_proto_encode_request (const struct xcopy_proto_request *req,
                            struct xcopy_wbuf *out, struct xcopy_proto_err *e)
{
  const struct xcopy_proto_op *op = xcopy_proto_op (req->opcode);
  size_t start = out->len;
  struct xcopy_proto_header h = {
    .magic = XCOPY_PROTO_REQUEST_MAGIC,
    .version = out_version (req->opcode, req->version),
    .opcode = req->opcode, .flags = req->flags, .serial = req->serial,
  };
  int ret;

  if ((ret = xcopy_proto_validate_request (req, e)) ||
      (ret = begin_frame (out, e)))
    return ret;
  h.count = op->enc_req (out, req);
  return finish_frame (out, start, &h, e);
}

void
xcopy_proto_request_free (struct xcopy_proto_request *req)
{
  const struct xcopy_proto_op *op = xcopy_proto_op (req->opcode);

  if (op && op->free_req)
    op->free_req (req);
}

/* ---- Replies ---- */

int
xcopy_proto_validate_reply (const struct xcopy_proto_reply *rep,
                            struct xcopy_proto_err *e)
{
  const struct xcopy_proto_op *op = xcopy_proto_op (rep->opcode);
  struct xcopy_proto_header h = {
    .opcode = rep->opcode, .flags = rep->flags, .status = rep->status,
  };
  int ret;

  if (rep->version && (ret = check_version (rep->opcode, rep->version, e)))
    return ret;
  if (rep->status > XCOPY_PROTO_ERRNO_MAX)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "status: %u is not an"
                             " errno", rep->status);
  if (rep->status)
    op = &error_op;
  else if (op == NULL)
    return xcopy_proto_fail (e, ENOSYS, NO_INDEX, "opcode: 0x%04x unknown",
                             rep->opcode);
  if ((ret = check_reply_flags (&h, op, e)))
    return ret;
  return op->val_rep (rep, e);
}

int
xcopy_proto_decode_reply (const struct xcopy_proto_header *h,
                          const void *payload, size_t len,
                          struct xcopy_proto_reply *rep,
                          struct xcopy_proto_err *e)
{
  const struct xcopy_proto_op *op;
  struct xcopy_rbuf r;
  int ret;

  memset (rep, 0, sizeof *rep);
  if ((ret = xcopy_proto_check_reply_header (h, e)) ||
      (ret = check_length (h, len, e)))
    return ret;
  op = h->status ? &error_op : xcopy_proto_op (h->opcode);
  rep->opcode = h->opcode;
  rep->version = h->version;
  rep->flags = h->flags;
  rep->status = h->status;
  rep->serial = h->serial;
  xcopy_rbuf_init (&r, payload, len, e);
  op->dec_rep (&r, h->count, rep);
  ret = finish_read (&r, op->name);
  if (ret == 0)
    ret = op->val_rep (rep, e);
  if (ret)
    xcopy_proto_reply_free (rep);
  return ret;
}

int
xcopy_proto_decode_reply_frame (const void *buf, size_t len,
                                struct xcopy_proto_reply *rep,
                                struct xcopy_proto_err *e)
{
  struct xcopy_proto_header h;
  int ret;

  memset (rep, 0, sizeof *rep);
  if ((ret = frame_header (buf, len, &h, e)))
    return ret;
  return xcopy_proto_decode_reply (&h, (const unsigned char *) buf +
                                   XCOPY_PROTO_HEADER_SIZE,
                                   len - XCOPY_PROTO_HEADER_SIZE, rep, e);
}

int
xcopy_proto_encode_reply (const struct xcopy_proto_reply *rep,
                          struct xcopy_wbuf *out, struct xcopy_proto_err *e)
{
  const struct xcopy_proto_op *op =
    rep->status ? &error_op : xcopy_proto_op (rep->opcode);
  size_t start = out->len;
  struct xcopy_proto_header h = {
    .magic = XCOPY_PROTO_REPLY_MAGIC,
    .version = out_version (rep->opcode, rep->version),
    .opcode = rep->opcode, .flags = rep->flags, .status = rep->status,
    .serial = rep->serial,
  };
  int ret;

  if ((ret = xcopy_proto_validate_reply (rep, e)) ||
      (ret = begin_frame (out, e)))
    return ret;
  h.count = op->enc_rep (out, rep);
  return finish_frame (out, start, &h, e);
}

void
xcopy_proto_reply_free (struct xcopy_proto_reply *rep)
{
  const struct xcopy_proto_op *op = xcopy_proto_op (rep->opcode);

  if (rep->status == 0 && op && op->free_rep)
    op->free_rep (rep);
}

/* §7.2 */
void
xcopy_proto_error_reply (const struct xcopy_proto_header *h,
                         const struct xcopy_proto_err *e,
                         struct xcopy_proto_reply *rep)
{
  int status = e->err > 0 && (unsigned) e->err <= XCOPY_PROTO_ERRNO_MAX
    ? e->err : EIO;

  memset (rep, 0, sizeof *rep);
  rep->opcode = h->opcode;
  rep->serial = h->serial;
  rep->version = check_version (h->opcode, h->version, NULL) == 0
    ? h->version : out_version (h->opcode, 0);
  rep->status = (uint32_t) status;
  rep->flags = e->fatal ? XCOPY_PROTO_RF_CLOSING : 0;
  rep->u.error.result = (struct xcopy_result) {
    .failed_index = e->index < XCOPY_PROTO_MAX_RANGES
      ? (size_t) e->index : SIZE_MAX,
    .error = status,
  };
  snprintf (rep->u.error.message, sizeof rep->u.error.message, "%s", e->msg);
  xcopy_proto_utf8_sanitize (rep->u.error.message);
}
