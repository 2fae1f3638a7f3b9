/* xcopyd: request payloads, one decode / encode / validate triple per
 * opcode (PROTOCOL.md §5, §6).  Decoders read straight through and leave
 * the first failure in the reader; validators are shared with encoders.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked-overflow.h"
#include "codec-int.h"

#define NO_INDEX XCOPY_PROTO_NO_INDEX

/* "range 3: src" + overflow check of off + len. */
static int
item_end (uint64_t off, uint64_t len, size_t i, const char *item,
          const char *field, struct xcopy_proto_err *e)
{
  char what[64];

  snprintf (what, sizeof what, "%s %zu: %s", item, i, field);
  return xcopy_proto_check_end (off, len, i, what, e);
}

/* A batch: 1..XCOPY_PROTO_MAX_RANGES items, present, sum of lengths
 * representable.
 */
static int
check_batch (const char *op, const void *v, size_t count,
             struct xcopy_proto_err *e)
{
  if (count == 0)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX,
                             "%s: header.count 0: no ranges", op);
  if (count > XCOPY_PROTO_MAX_RANGES)
    return xcopy_proto_fail (e, E2BIG, NO_INDEX, "%s: %zu ranges > limit %u",
                             op, count, XCOPY_PROTO_MAX_RANGES);
  if (v == NULL)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "%s: no range array", op);
  return 0;
}

static int
add_total (uint64_t *total, uint64_t len, size_t i, const char *item,
           struct xcopy_proto_err *e)
{
  if (!add_overflows_u64 (*total, len, total))
    return 0;
  return xcopy_proto_fail (e, ERANGE, i, "%s %zu: total length of the batch"
                           " overflows 64 bits", item, i);
}

/* ---- HELLO (§5) ---- */

void
xcopy_proto_dec_req_hello (struct xcopy_rbuf *r, uint32_t count,
                           struct xcopy_proto_request *req)
{
  struct xcopy_proto_hello *h = &req->u.hello;

  (void) count;
  h->caps = xcopy_rbuf_u64 (r, "hello.caps");
  h->min_version = xcopy_rbuf_u16 (r, "hello.min_version");
  h->max_version = xcopy_rbuf_u16 (r, "hello.max_version");
  xcopy_rbuf_name (r, h->name, "hello.name");
}

uint32_t
xcopy_proto_enc_req_hello (struct xcopy_wbuf *w,
                           const struct xcopy_proto_request *req)
{
  const struct xcopy_proto_hello *h = &req->u.hello;

  xcopy_wbuf_u64 (w, h->caps);
  xcopy_wbuf_u16 (w, h->min_version);
  xcopy_wbuf_u16 (w, h->max_version);
  xcopy_wbuf_str (w, h->name);
  return 0;
}

int
xcopy_proto_val_req_hello (const struct xcopy_proto_request *req,
                           struct xcopy_proto_err *e)
{
  const struct xcopy_proto_hello *h = &req->u.hello;

  if (h->min_version == 0 || h->min_version > h->max_version)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "hello: min_version %u,"
                             " max_version %u: need 1 <= min <= max",
                             h->min_version, h->max_version);
  return xcopy_proto_check_name (h->name, "hello.name", e);
}

/* ---- LIST_EXPORTS (§6.3): no payload ---- */

void
xcopy_proto_dec_req_none (struct xcopy_rbuf *r, uint32_t count,
                          struct xcopy_proto_request *req)
{
  (void) r, (void) count, (void) req;
}

uint32_t
xcopy_proto_enc_req_none (struct xcopy_wbuf *w,
                          const struct xcopy_proto_request *req)
{
  (void) w, (void) req;
  return 0;
}

int
xcopy_proto_val_req_none (const struct xcopy_proto_request *req,
                          struct xcopy_proto_err *e)
{
  (void) req, (void) e;
  return 0;
}

/* ---- STAT (§6.4) and FLUSH (§6.9): one name ---- */

void
xcopy_proto_dec_req_stat (struct xcopy_rbuf *r, uint32_t count,
                          struct xcopy_proto_request *req)
{
  (void) count;
  xcopy_rbuf_name (r, req->u.stat.name, "stat.name");
}

uint32_t
xcopy_proto_enc_req_stat (struct xcopy_wbuf *w,
                          const struct xcopy_proto_request *req)
{
  xcopy_wbuf_str (w, req->u.stat.name);
  return 0;
}

int
xcopy_proto_val_req_stat (const struct xcopy_proto_request *req,
                          struct xcopy_proto_err *e)
{
  if ((req->flags & XCOPY_PROTO_F_ALL_EXPORTS) && req->u.stat.name[0])
    return xcopy_proto_fail (e, EINVAL, NO_INDEX,
                             "stat.name: must be empty with ALL_EXPORTS");
  return xcopy_proto_check_name (req->u.stat.name, "stat.name", e);
}

void
xcopy_proto_dec_req_flush (struct xcopy_rbuf *r, uint32_t count,
                           struct xcopy_proto_request *req)
{
  (void) count;
  xcopy_rbuf_name (r, req->u.flush.name, "flush.name");
}

uint32_t
xcopy_proto_enc_req_flush (struct xcopy_wbuf *w,
                           const struct xcopy_proto_request *req)
{
  xcopy_wbuf_str (w, req->u.flush.name);
  return 0;
}

int
xcopy_proto_val_req_flush (const struct xcopy_proto_request *req,
                           struct xcopy_proto_err *e)
{
  return xcopy_proto_check_name (req->u.flush.name, "flush.name", e);
}

/* ---- COPY (§6.5) ---- */

void
xcopy_proto_dec_req_copy (struct xcopy_rbuf *r, uint32_t count,
                          struct xcopy_proto_request *req)
{
  struct xcopy_proto_copy *c = &req->u.copy;

  xcopy_rbuf_name (r, c->src, "copy.src");
  xcopy_rbuf_name (r, c->dst, "copy.dst");
  if (!xcopy_rbuf_expect_exact (r, count, sizeof (struct xcopy_wire_range),
                                "copy.ranges"))
    return;
  c->ranges = xcopy_rbuf_alloc (r, count, sizeof *c->ranges);
  if (c->ranges == NULL)
    return;
  c->count = count;
  for (size_t i = 0; i < count; i++) {
    c->ranges[i].src = xcopy_rbuf_u64 (r, "copy.ranges");
    c->ranges[i].dst = xcopy_rbuf_u64 (r, "copy.ranges");
    c->ranges[i].len = xcopy_rbuf_u64 (r, "copy.ranges");
  }
}

uint32_t
xcopy_proto_enc_req_copy (struct xcopy_wbuf *w,
                          const struct xcopy_proto_request *req)
{
  const struct xcopy_proto_copy *c = &req->u.copy;

  xcopy_wbuf_str (w, c->src);
  xcopy_wbuf_str (w, c->dst);
  for (size_t i = 0; i < c->count; i++) {
    xcopy_wbuf_u64 (w, c->ranges[i].src);
    xcopy_wbuf_u64 (w, c->ranges[i].dst);
    xcopy_wbuf_u64 (w, c->ranges[i].len);
  }
  return (uint32_t) c->count;
}

int
xcopy_proto_val_req_copy (const struct xcopy_proto_request *req,
                          struct xcopy_proto_err *e)
{
  const struct xcopy_proto_copy *c = &req->u.copy;
  uint64_t total = 0;
  int ret;

  if ((ret = xcopy_proto_check_name (c->src, "copy.src", e)) ||
      (ret = xcopy_proto_check_name (c->dst, "copy.dst", e)) ||
      (ret = check_batch ("copy", c->ranges, c->count, e)))
    return ret;
  for (size_t i = 0; i < c->count; i++) {
    const struct xcopy_range *rg = &c->ranges[i];

    if ((ret = item_end (rg->src, rg->len, i, "range", "src", e)) ||
        (ret = item_end (rg->dst, rg->len, i, "range", "dst", e)) ||
        (ret = add_total (&total, rg->len, i, "range", e)))
      return ret;
  }
  return 0;
}

void
xcopy_proto_free_req_copy (struct xcopy_proto_request *req)
{
  free (req->u.copy.ranges);
  req->u.copy.ranges = NULL;
  req->u.copy.count = 0;
}

/* ---- FILL (§6.6) ---- */

void
xcopy_proto_dec_req_fill (struct xcopy_rbuf *r, uint32_t count,
                          struct xcopy_proto_request *req)
{
  struct xcopy_proto_fill *f = &req->u.fill;
  const unsigned char *p;

  f->offset = xcopy_rbuf_u64 (r, "fill.offset");
  f->length = xcopy_rbuf_u64 (r, "fill.length");
  xcopy_rbuf_name (r, f->name, "fill.name");
  if (!xcopy_rbuf_expect_exact (r, count, 1, "fill.pattern"))
    return;
  f->pattern = xcopy_rbuf_alloc (r, count, 1);
  p = xcopy_rbuf_bytes (r, count, "fill.pattern");
  if (f->pattern == NULL || p == NULL)
    return;
  memcpy (f->pattern, p, count);
  f->patlen = count;
}

uint32_t
xcopy_proto_enc_req_fill (struct xcopy_wbuf *w,
                          const struct xcopy_proto_request *req)
{
  const struct xcopy_proto_fill *f = &req->u.fill;

  xcopy_wbuf_u64 (w, f->offset);
  xcopy_wbuf_u64 (w, f->length);
  xcopy_wbuf_str (w, f->name);
  xcopy_wbuf_put (w, f->pattern, f->patlen);
  return (uint32_t) f->patlen;
}

int
xcopy_proto_val_req_fill (const struct xcopy_proto_request *req,
                          struct xcopy_proto_err *e)
{
  const struct xcopy_proto_fill *f = &req->u.fill;
  int ret;

  if ((ret = xcopy_proto_check_name (f->name, "fill.name", e)))
    return ret;
  if (f->patlen == 0)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX,
                             "fill.pattern: empty (header.count 0)");
  if (f->patlen > XCOPY_PROTO_MAX_PATTERN)
    return xcopy_proto_fail (e, E2BIG, NO_INDEX, "fill.pattern: %zu bytes"
                             " > limit %u", f->patlen,
                             XCOPY_PROTO_MAX_PATTERN);
  if (f->pattern == NULL)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "fill.pattern: missing");
  if ((ret = xcopy_proto_check_end (f->offset, f->length, 0, "fill: offset",
                                    e)))
    return ret;
  if (f->length % f->patlen)
    return xcopy_proto_fail (e, EINVAL, 0, "fill.length %ju is not a"
                             " multiple of the pattern length %zu",
                             (uintmax_t) f->length, f->patlen);
  return 0;
}

void
xcopy_proto_free_req_fill (struct xcopy_proto_request *req)
{
  free (req->u.fill.pattern);
  req->u.fill.pattern = NULL;
  req->u.fill.patlen = 0;
}

/* ---- ZERO (§6.7) and EXTENTS (§6.10): offset, length, name ---- */

static void
dec_offlen (struct xcopy_rbuf *r, struct xcopy_proto_extent_req *x,
            const char *const field[3])
{
  x->offset = xcopy_rbuf_u64 (r, field[0]);
  x->length = xcopy_rbuf_u64 (r, field[1]);
  xcopy_rbuf_name (r, x->name, field[2]);
}

static void
enc_offlen (struct xcopy_wbuf *w, const struct xcopy_proto_extent_req *x)
{
  xcopy_wbuf_u64 (w, x->offset);
  xcopy_wbuf_u64 (w, x->length);
  xcopy_wbuf_str (w, x->name);
}

static int
val_offlen (const struct xcopy_proto_extent_req *x,
            const char *const field[3], struct xcopy_proto_err *e)
{
  int ret = xcopy_proto_check_name (x->name, field[2], e);

  return ret ? ret : xcopy_proto_check_end (x->offset, x->length, 0,
                                            field[0], e);
}

static const char *const zero_fields[3] = {
  "zero.offset", "zero.length", "zero.name",
};
static const char *const extents_fields[3] = {
  "extents.offset", "extents.length", "extents.name",
};

void
xcopy_proto_dec_req_zero (struct xcopy_rbuf *r, uint32_t count,
                          struct xcopy_proto_request *req)
{
  (void) count;
  dec_offlen (r, &req->u.zero, zero_fields);
}

uint32_t
xcopy_proto_enc_req_zero (struct xcopy_wbuf *w,
                          const struct xcopy_proto_request *req)
{
  enc_offlen (w, &req->u.zero);
  return 0;
}

int
xcopy_proto_val_req_zero (const struct xcopy_proto_request *req,
                          struct xcopy_proto_err *e)
{
  return val_offlen (&req->u.zero, zero_fields, e);
}

void
xcopy_proto_dec_req_extents (struct xcopy_rbuf *r, uint32_t count,
                             struct xcopy_proto_request *req)
{
  (void) count;
  dec_offlen (r, &req->u.extents, extents_fields);
}

uint32_t
xcopy_proto_enc_req_extents (struct xcopy_wbuf *w,
                             const struct xcopy_proto_request *req)
{
  enc_offlen (w, &req->u.extents);
  return 0;
}

int
xcopy_proto_val_req_extents (const struct xcopy_proto_request *req,
                             struct xcopy_proto_err *e)
{
  return val_offlen (&req->u.extents, extents_fields, e);
}

/* ---- UNMAP (§6.8) ---- */

void
xcopy_proto_dec_req_unmap (struct xcopy_rbuf *r, uint32_t count,
                           struct xcopy_proto_request *req)
{
  struct xcopy_proto_unmap *u = &req->u.unmap;

  xcopy_rbuf_name (r, u->name, "unmap.name");
  if (!xcopy_rbuf_expect_exact (r, count, sizeof (struct xcopy_wire_span),
                                "unmap.spans"))
    return;
  u->spans = xcopy_rbuf_alloc (r, count, sizeof *u->spans);
  if (u->spans == NULL)
    return;
  u->count = count;
  for (size_t i = 0; i < count; i++) {
    u->spans[i].offset = xcopy_rbuf_u64 (r, "unmap.spans");
    u->spans[i].length = xcopy_rbuf_u64 (r, "unmap.spans");
  }
}

uint32_t
xcopy_proto_enc_req_unmap (struct xcopy_wbuf *w,
                           const struct xcopy_proto_request *req)
{
  const struct xcopy_proto_unmap *u = &req->u.unmap;

  xcopy_wbuf_str (w, u->name);
  for (size_t i = 0; i < u->count; i++) {
    xcopy_wbuf_u64 (w, u->spans[i].offset);
    xcopy_wbuf_u64 (w, u->spans[i].length);
  }
  return (uint32_t) u->count;
}

int
xcopy_proto_val_req_unmap (const struct xcopy_proto_request *req,
                           struct xcopy_proto_err *e)
{
  const struct xcopy_proto_unmap *u = &req->u.unmap;
  uint64_t total = 0;
  int ret;

  if ((ret = xcopy_proto_check_name (u->name, "unmap.name", e)) ||
      (ret = check_batch ("unmap", u->spans, u->count, e)))
    return ret;
  for (size_t i = 0; i < u->count; i++) {
    const struct xcopy_proto_span *s = &u->spans[i];

    if ((ret = item_end (s->offset, s->length, i, "span", "offset", e)) ||
        (ret = add_total (&total, s->length, i, "span", e)))
      return ret;
  }
  return 0;
}

void
xcopy_proto_free_req_unmap (struct xcopy_proto_request *req)
{
  free (req->u.unmap.spans);
  req->u.unmap.spans = NULL;
  req->u.unmap.count = 0;
}

/* ---- CLONE (§6.11) ---- */

void
xcopy_proto_dec_req_clone (struct xcopy_rbuf *r, uint32_t count,
                           struct xcopy_proto_request *req)
{
  (void) count;
  xcopy_rbuf_name (r, req->u.clone.src, "clone.src");
  xcopy_rbuf_name (r, req->u.clone.dst, "clone.dst");
}

uint32_t
xcopy_proto_enc_req_clone (struct xcopy_wbuf *w,
                           const struct xcopy_proto_request *req)
{
  xcopy_wbuf_str (w, req->u.clone.src);
  xcopy_wbuf_str (w, req->u.clone.dst);
  return 0;
}

/* §6.11: the destination names one new entry of the export namespace. */
int
xcopy_proto_val_req_clone (const struct xcopy_proto_request *req,
                           struct xcopy_proto_err *e)
{
  const char *dst = req->u.clone.dst;
  int ret;

  if ((ret = xcopy_proto_check_name (req->u.clone.src, "clone.src", e)) ||
      (ret = xcopy_proto_check_name (dst, "clone.dst", e)))
    return ret;
  if (dst[0] == '\0')
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "clone.dst: empty");
  if (strchr (dst, '/'))
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "clone.dst: contains '/'");
  if (strcmp (dst, ".") == 0 || strcmp (dst, "..") == 0)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "clone.dst: '%s' is not"
                             " a file name", dst);
  return 0;
}

/* ---- JOB_STATUS (§6.12) and JOB_CANCEL (§6.13) ---- */

void
xcopy_proto_dec_req_job (struct xcopy_rbuf *r, uint32_t count,
                         struct xcopy_proto_request *req)
{
  (void) count;
  req->u.job.job_id = xcopy_rbuf_u64 (r, "job.job_id");
}

uint32_t
xcopy_proto_enc_req_job (struct xcopy_wbuf *w,
                         const struct xcopy_proto_request *req)
{
  xcopy_wbuf_u64 (w, req->u.job.job_id);
  return 0;
}

int
xcopy_proto_val_req_job (const struct xcopy_proto_request *req,
                         struct xcopy_proto_err *e)
{
  (void) req, (void) e;       /* job_id 0: every job */
  return 0;
}

void
xcopy_proto_dec_req_cancel (struct xcopy_rbuf *r, uint32_t count,
                            struct xcopy_proto_request *req)
{
  xcopy_proto_dec_req_job (r, count, req);
}

uint32_t
xcopy_proto_enc_req_cancel (struct xcopy_wbuf *w,
                            const struct xcopy_proto_request *req)
{
  return xcopy_proto_enc_req_job (w, req);
}

int
xcopy_proto_val_req_cancel (const struct xcopy_proto_request *req,
                            struct xcopy_proto_err *e)
{
  if (req->u.job.job_id == 0)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "job.job_id: 0 names no"
                             " job (JOB_CANCEL takes one id)");
  return 0;
}
