/* xcopyd: reply payloads, one decode / encode / validate triple per reply
 * shape (PROTOCOL.md §5-§8).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked-overflow.h"
#include "codec-int.h"

#define NO_INDEX XCOPY_PROTO_NO_INDEX

/* A field name with an item index: "exports[3].name". */
static const char *
item_field (char *buf, size_t n, const char *array, size_t i,
            const char *field)
{
  snprintf (buf, n, "%s[%zu].%s", array, i, field);
  return buf;
}

/* Before count items of at least min_size bytes each: enough payload
 * left?  Keeps a bogus count from sizing an allocation.
 */
static bool
expect_at_least (struct xcopy_rbuf *r, uint64_t count, size_t min_size,
                 const char *what)
{
  if (r->err)
    return false;
  if (count * min_size <= xcopy_rbuf_left (r))   /* count < 2^32 */
    return true;
  xcopy_rbuf_fail (r, EBADMSG, NO_INDEX, "%s: %ju items need at least %ju"
                   " bytes, payload has %zu left", what, (uintmax_t) count,
                   (uintmax_t) (count * min_size), xcopy_rbuf_left (r));
  return false;
}

/* ---- HELLO (§5) ---- */

void
xcopy_proto_dec_rep_hello (struct xcopy_rbuf *r, uint32_t count,
                           struct xcopy_proto_reply *rep)
{
  struct xcopy_proto_hello_reply *h = &rep->u.hello;

  (void) count;
  h->caps = xcopy_rbuf_u64 (r, "hello.caps");
  h->max_payload = xcopy_rbuf_u32 (r, "hello.max_payload");
  h->max_ranges = xcopy_rbuf_u32 (r, "hello.max_ranges");
  h->version = xcopy_rbuf_u16 (r, "hello.version");
  xcopy_rbuf_name (r, h->name, "hello.name");
}

uint32_t
xcopy_proto_enc_rep_hello (struct xcopy_wbuf *w,
                           const struct xcopy_proto_reply *rep)
{
  const struct xcopy_proto_hello_reply *h = &rep->u.hello;

  xcopy_wbuf_u64 (w, h->caps);
  xcopy_wbuf_u32 (w, h->max_payload);
  xcopy_wbuf_u32 (w, h->max_ranges);
  xcopy_wbuf_u16 (w, h->version);
  xcopy_wbuf_str (w, h->name);
  return 0;
}

int
xcopy_proto_val_rep_hello (const struct xcopy_proto_reply *rep,
                           struct xcopy_proto_err *e)
{
  const struct xcopy_proto_hello_reply *h = &rep->u.hello;

  if (h->version == 0)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "hello.version: 0");
  if (h->max_payload < XCOPY_PROTO_MIN_PAYLOAD ||
      h->max_payload > XCOPY_PROTO_MAX_PAYLOAD)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "hello.max_payload: %u"
                             " outside [%u, %u]", h->max_payload,
                             XCOPY_PROTO_MIN_PAYLOAD, XCOPY_PROTO_MAX_PAYLOAD);
  if (h->max_ranges == 0 || h->max_ranges > XCOPY_PROTO_MAX_RANGES)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "hello.max_ranges: %u"
                             " outside [1, %u]", h->max_ranges,
                             XCOPY_PROTO_MAX_RANGES);
  return xcopy_proto_check_name (h->name, "hello.name", e);
}

/* ---- LIST_EXPORTS (§6.3) ---- */

void
xcopy_proto_dec_rep_exports (struct xcopy_rbuf *r, uint32_t count,
                             struct xcopy_proto_reply *rep)
{
  char field[48];

  if (!expect_at_least (r, count, sizeof (struct xcopy_wire_str), "exports"))
    return;
  rep->u.exports.v = xcopy_rbuf_alloc (r, count, sizeof (xcopy_proto_name));
  if (rep->u.exports.v == NULL)
    return;
  rep->u.exports.count = count;
  for (size_t i = 0; i < count && !r->err; i++)
    xcopy_rbuf_name (r, rep->u.exports.v[i],
                     item_field (field, sizeof field, "exports", i, "name"));
}

uint32_t
xcopy_proto_enc_rep_exports (struct xcopy_wbuf *w,
                             const struct xcopy_proto_reply *rep)
{
  for (size_t i = 0; i < rep->u.exports.count; i++)
    xcopy_wbuf_str (w, rep->u.exports.v[i]);
  return (uint32_t) rep->u.exports.count;
}

int
xcopy_proto_val_rep_exports (const struct xcopy_proto_reply *rep,
                             struct xcopy_proto_err *e)
{
  char field[48];
  int ret;

  if (rep->u.exports.count > XCOPY_PROTO_MAX_EXPORTS)
    return xcopy_proto_fail (e, E2BIG, NO_INDEX, "exports: %zu > limit %u",
                             rep->u.exports.count, XCOPY_PROTO_MAX_EXPORTS);
  for (size_t i = 0; i < rep->u.exports.count; i++) {
    item_field (field, sizeof field, "exports", i, "name");
    if ((ret = xcopy_proto_check_name (rep->u.exports.v[i], field, e)))
      return ret;
  }
  return 0;
}

void
xcopy_proto_free_rep_exports (struct xcopy_proto_reply *rep)
{
  free (rep->u.exports.v);
  rep->u.exports.v = NULL;
  rep->u.exports.count = 0;
}

/* ---- STAT (§6.4) ---- */

static void
dec_counters (struct xcopy_rbuf *r, struct xcopy_proto_reply *rep)
{
  uint32_t n = xcopy_rbuf_u32 (r, "stat.ncounters");
  struct xcopy_proto_counter *c;
  char field[48];

  if (!r->err && n > XCOPY_PROTO_MAX_COUNTERS)
    xcopy_rbuf_fail (r, E2BIG, NO_INDEX, "stat.ncounters: %u > limit %u", n,
                     XCOPY_PROTO_MAX_COUNTERS);
  if (!expect_at_least (r, n, sizeof (struct xcopy_wire_counter) + 2,
                        "stat.counters"))
    return;
  c = rep->u.stat.counters = xcopy_rbuf_alloc (r, n, sizeof *c);
  if (c == NULL)
    return;
  rep->u.stat.ncounters = n;
  for (size_t i = 0; i < n && !r->err; i++) {
    c[i].bytes = xcopy_rbuf_u64 (r, "stat.counters");
    c[i].calls = xcopy_rbuf_u64 (r, "stat.counters");
    xcopy_rbuf_name (r, c[i].name, item_field (field, sizeof field,
                                               "counters", i, "name"));
  }
}

static void
dec_export_infos (struct xcopy_rbuf *r, uint32_t count,
                  struct xcopy_proto_reply *rep)
{
  struct xcopy_proto_export *x;
  char field[48];

  if (!expect_at_least (r, count, sizeof (struct xcopy_wire_export) + 2,
                        "stat.exports"))
    return;
  x = rep->u.stat.v = xcopy_rbuf_alloc (r, count, sizeof *x);
  if (x == NULL)
    return;
  rep->u.stat.count = count;
  for (size_t i = 0; i < count && !r->err; i++) {
    x[i].size = xcopy_rbuf_u64 (r, "stat.exports");
    x[i].block_size = xcopy_rbuf_u32 (r, "stat.exports");
    x[i].flags = xcopy_rbuf_u32 (r, "stat.exports");
    xcopy_rbuf_name (r, x[i].name, item_field (field, sizeof field,
                                               "exports", i, "name"));
  }
}

void
xcopy_proto_dec_rep_stat (struct xcopy_rbuf *r, uint32_t count,
                          struct xcopy_proto_reply *rep)
{
  dec_counters (r, rep);
  dec_export_infos (r, count, rep);
}

uint32_t
xcopy_proto_enc_rep_stat (struct xcopy_wbuf *w,
                          const struct xcopy_proto_reply *rep)
{
  const struct xcopy_proto_counter *c = rep->u.stat.counters;
  const struct xcopy_proto_export *x = rep->u.stat.v;

  xcopy_wbuf_u32 (w, (uint32_t) rep->u.stat.ncounters);
  for (size_t i = 0; i < rep->u.stat.ncounters; i++) {
    xcopy_wbuf_u64 (w, c[i].bytes);
    xcopy_wbuf_u64 (w, c[i].calls);
    xcopy_wbuf_str (w, c[i].name);
  }
  for (size_t i = 0; i < rep->u.stat.count; i++) {
    xcopy_wbuf_u64 (w, x[i].size);
    xcopy_wbuf_u32 (w, x[i].block_size);
    xcopy_wbuf_u32 (w, x[i].flags);
    xcopy_wbuf_str (w, x[i].name);
  }
  return (uint32_t) rep->u.stat.count;
}

static int
val_counter (const struct xcopy_proto_counter *c, size_t i,
             struct xcopy_proto_err *e)
{
  char field[48];

  item_field (field, sizeof field, "counters", i, "name");
  if (c->name[0] == '\0')
    return xcopy_proto_fail (e, EINVAL, i, "%s: empty", field);
  return xcopy_proto_check_name (c->name, field, e);
}

static int
val_export_info (const struct xcopy_proto_export *x, size_t i,
                 struct xcopy_proto_err *e)
{
  char field[48];

  if (x->block_size & (x->block_size - 1))
    return xcopy_proto_fail (e, EINVAL, i, "exports[%zu].block_size: %u is"
                             " not a power of two", i, x->block_size);
  if (x->flags & ~XCOPY_PROTO_EXPORT_VALID)
    return xcopy_proto_fail (e, EINVAL, i, "exports[%zu].flags: unknown bits"
                             " 0x%x", i, x->flags & ~XCOPY_PROTO_EXPORT_VALID);
  item_field (field, sizeof field, "exports", i, "name");
  return xcopy_proto_check_name (x->name, field, e);
}

int
xcopy_proto_val_rep_stat (const struct xcopy_proto_reply *rep,
                          struct xcopy_proto_err *e)
{
  int ret;

  if (rep->u.stat.ncounters > XCOPY_PROTO_MAX_COUNTERS)
    return xcopy_proto_fail (e, E2BIG, NO_INDEX, "stat.ncounters: %zu >"
                             " limit %u", rep->u.stat.ncounters,
                             XCOPY_PROTO_MAX_COUNTERS);
  if (rep->u.stat.count > XCOPY_PROTO_MAX_EXPORTS)
    return xcopy_proto_fail (e, E2BIG, NO_INDEX, "stat.exports: %zu > limit"
                             " %u", rep->u.stat.count, XCOPY_PROTO_MAX_EXPORTS);
  for (size_t i = 0; i < rep->u.stat.ncounters; i++)
    if ((ret = val_counter (&rep->u.stat.counters[i], i, e)))
      return ret;
  for (size_t i = 0; i < rep->u.stat.count; i++)
    if ((ret = val_export_info (&rep->u.stat.v[i], i, e)))
      return ret;
  return 0;
}

void
xcopy_proto_free_rep_stat (struct xcopy_proto_reply *rep)
{
  free (rep->u.stat.counters);
  free (rep->u.stat.v);
  rep->u.stat.counters = NULL;
  rep->u.stat.v = NULL;
  rep->u.stat.ncounters = rep->u.stat.count = 0;
}

/* ---- COPY FILL ZERO UNMAP CLONE: a result block, or a job (§8) ---- */

void
xcopy_proto_dec_rep_long (struct xcopy_rbuf *r, uint32_t count,
                          struct xcopy_proto_reply *rep)
{
  (void) count;
  if (rep->flags & XCOPY_PROTO_RF_JOB) {
    rep->u.started.job_id = xcopy_rbuf_u64 (r, "job.job_id");
    rep->u.started.bytes_total = xcopy_rbuf_u64 (r, "job.bytes_total");
  }
  else
    xcopy_rbuf_result (r, &rep->u.result);
}

uint32_t
xcopy_proto_enc_rep_long (struct xcopy_wbuf *w,
                          const struct xcopy_proto_reply *rep)
{
  if (rep->flags & XCOPY_PROTO_RF_JOB) {
    xcopy_wbuf_u64 (w, rep->u.started.job_id);
    xcopy_wbuf_u64 (w, rep->u.started.bytes_total);
  }
  else
    xcopy_wbuf_result (w, &rep->u.result);
  return 0;
}

int
xcopy_proto_val_rep_long (const struct xcopy_proto_reply *rep,
                          struct xcopy_proto_err *e)
{
  if (rep->flags & XCOPY_PROTO_RF_JOB)
    return rep->u.started.job_id ? 0 :
      xcopy_proto_fail (e, EINVAL, NO_INDEX, "job.job_id: 0");
  if (rep->u.result.error)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "result.error: %d in a"
                             " success reply", rep->u.result.error);
  return xcopy_proto_check_result (&rep->u.result, "result", e);
}

/* ---- FLUSH (§6.9): no payload ---- */

void
xcopy_proto_dec_rep_none (struct xcopy_rbuf *r, uint32_t count,
                          struct xcopy_proto_reply *rep)
{
  (void) r, (void) count, (void) rep;
}

uint32_t
xcopy_proto_enc_rep_none (struct xcopy_wbuf *w,
                          const struct xcopy_proto_reply *rep)
{
  (void) w, (void) rep;
  return 0;
}

int
xcopy_proto_val_rep_none (const struct xcopy_proto_reply *rep,
                          struct xcopy_proto_err *e)
{
  (void) rep, (void) e;
  return 0;
}

/* ---- EXTENTS (§6.10) ---- */

void
xcopy_proto_dec_rep_extents (struct xcopy_rbuf *r, uint32_t count,
                             struct xcopy_proto_reply *rep)
{
  struct xcopy_proto_extent *x;

  if (!xcopy_rbuf_expect_exact (r, count, sizeof (struct xcopy_wire_extent),
                                "extents"))
    return;
  x = rep->u.extents.v = xcopy_rbuf_alloc (r, count, sizeof *x);
  if (x == NULL)
    return;
  rep->u.extents.count = count;
  for (size_t i = 0; i < count; i++) {
    x[i].offset = xcopy_rbuf_u64 (r, "extents");
    x[i].length = xcopy_rbuf_u64 (r, "extents");
    x[i].type = xcopy_rbuf_u32 (r, "extents");
  }
}

uint32_t
xcopy_proto_enc_rep_extents (struct xcopy_wbuf *w,
                             const struct xcopy_proto_reply *rep)
{
  const struct xcopy_proto_extent *x = rep->u.extents.v;

  for (size_t i = 0; i < rep->u.extents.count; i++) {
    xcopy_wbuf_u64 (w, x[i].offset);
    xcopy_wbuf_u64 (w, x[i].length);
    xcopy_wbuf_u32 (w, x[i].type);
  }
  return (uint32_t) rep->u.extents.count;
}

/* §6.10: contiguous, non-empty, known types. */
int
xcopy_proto_val_rep_extents (const struct xcopy_proto_reply *rep,
                             struct xcopy_proto_err *e)
{
  const struct xcopy_proto_extent *x = rep->u.extents.v;
  char what[48];
  int ret;

  if (rep->u.extents.count > XCOPY_PROTO_MAX_EXTENTS)
    return xcopy_proto_fail (e, E2BIG, NO_INDEX, "extents: %zu > limit %u",
                             rep->u.extents.count, XCOPY_PROTO_MAX_EXTENTS);
  for (size_t i = 0; i < rep->u.extents.count; i++) {
    if (x[i].length == 0 || x[i].type > XCOPY_PROTO_EXTENT_HOLE)
      return xcopy_proto_fail (e, EINVAL, i, "extent %zu: length 0 or"
                               " unknown type %u", i, x[i].type);
    if (i && x[i].offset != x[i - 1].offset + x[i - 1].length)
      return xcopy_proto_fail (e, EINVAL, i, "extent %zu: offset %" PRIu64
                               " does not follow extent %zu", i,
                               x[i].offset, i - 1);
    snprintf (what, sizeof what, "extent %zu: offset", i);
    if ((ret = xcopy_proto_check_end (x[i].offset, x[i].length, i, what, e)))
      return ret;
  }
  return 0;
}

void
xcopy_proto_free_rep_extents (struct xcopy_proto_reply *rep)
{
  free (rep->u.extents.v);
  rep->u.extents.v = NULL;
  rep->u.extents.count = 0;
}

/* ---- JOB_STATUS (§6.12), JOB_CANCEL (§6.13) ---- */

void
xcopy_proto_dec_rep_jobs (struct xcopy_rbuf *r, uint32_t count,
                          struct xcopy_proto_reply *rep)
{
  struct xcopy_proto_job *j;

  if (!xcopy_rbuf_expect_exact (r, count, sizeof (struct xcopy_wire_job),
                                "jobs"))
    return;
  j = rep->u.jobs.v = xcopy_rbuf_alloc (r, count, sizeof *j);
  if (j == NULL)
    return;
  rep->u.jobs.count = count;
  for (size_t i = 0; i < count && !r->err; i++) {
    j[i].job_id = xcopy_rbuf_u64 (r, "jobs.job_id");
    j[i].bytes_total = xcopy_rbuf_u64 (r, "jobs.bytes_total");
    j[i].opcode = xcopy_rbuf_u16 (r, "jobs.opcode");
    j[i].state = xcopy_rbuf_u16 (r, "jobs.state");
    xcopy_rbuf_result (r, &j[i].result);
  }
}

uint32_t
xcopy_proto_enc_rep_jobs (struct xcopy_wbuf *w,
                          const struct xcopy_proto_reply *rep)
{
  const struct xcopy_proto_job *j = rep->u.jobs.v;

  for (size_t i = 0; i < rep->u.jobs.count; i++) {
    xcopy_wbuf_u64 (w, j[i].job_id);
    xcopy_wbuf_u64 (w, j[i].bytes_total);
    xcopy_wbuf_u16 (w, j[i].opcode);
    xcopy_wbuf_u16 (w, j[i].state);
    xcopy_wbuf_result (w, &j[i].result);
  }
  return (uint32_t) rep->u.jobs.count;
}

/* §8: the error a job in each state may carry. */
static bool
state_matches (uint16_t state, int error)
{
  switch (state) {
  case XCOPY_PROTO_JOB_QUEUED:
  case XCOPY_PROTO_JOB_RUNNING:
  case XCOPY_PROTO_JOB_DONE:      return error == 0;
  case XCOPY_PROTO_JOB_FAILED:    return error != 0 && error != ECANCELED;
  case XCOPY_PROTO_JOB_CANCELLED: return error == ECANCELED;
  default:                        return false;
  }
}

static int
val_job (const struct xcopy_proto_job *j, size_t i, struct xcopy_proto_err *e)
{
  char field[48];

  if (j->job_id == 0)
    return xcopy_proto_fail (e, EINVAL, i, "jobs[%zu].job_id: 0", i);
  if (!xcopy_proto_op_is_long (j->opcode))
    return xcopy_proto_fail (e, EINVAL, i, "jobs[%zu].opcode: 0x%04x cannot"
                             " be a job", i, j->opcode);
  if (xcopy_proto_job_state_name (j->state) == NULL ||
      !state_matches (j->state, j->result.error))
    return xcopy_proto_fail (e, EINVAL, i, "jobs[%zu].state: %u with error"
                             " %d", i, j->state, j->result.error);
  if (j->result.bytes_done > j->bytes_total)
    return xcopy_proto_fail (e, EINVAL, i, "jobs[%zu]: bytes_done %" PRIu64
                             " > bytes_total %" PRIu64, i,
                             j->result.bytes_done, j->bytes_total);
  item_field (field, sizeof field, "jobs", i, "result");
  return xcopy_proto_check_result (&j->result, field, e);
}

int
xcopy_proto_val_rep_jobs (const struct xcopy_proto_reply *rep,
                          struct xcopy_proto_err *e)
{
  const struct xcopy_proto_job *j = rep->u.jobs.v;
  size_t n = rep->u.jobs.count;
  int ret;

  if (n > XCOPY_PROTO_MAX_JOBS)
    return xcopy_proto_fail (e, E2BIG, NO_INDEX, "jobs: %zu > limit %u", n,
                             XCOPY_PROTO_MAX_JOBS);
  if (rep->opcode == XCOPY_OP_JOB_CANCEL && n != 1)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "jobs: %zu in a JOB_CANCEL"
                             " reply, must be 1", n);
  for (size_t i = 0; i < n; i++) {
    if (i && j[i].job_id <= j[i - 1].job_id)
      return xcopy_proto_fail (e, EINVAL, i, "jobs[%zu].job_id: not above"
                               " the previous one", i);
    if ((ret = val_job (&j[i], i, e)))
      return ret;
  }
  return 0;
}

void
xcopy_proto_free_rep_jobs (struct xcopy_proto_reply *rep)
{
  free (rep->u.jobs.v);
  rep->u.jobs.v = NULL;
  rep->u.jobs.count = 0;
}

/* ---- Error replies (§7.2), any opcode ---- */

void
xcopy_proto_dec_rep_error (struct xcopy_rbuf *r, uint32_t count,
                           struct xcopy_proto_reply *rep)
{
  (void) count;
  xcopy_rbuf_result (r, &rep->u.error.result);
  xcopy_rbuf_str (r, rep->u.error.message, XCOPY_PROTO_MESSAGE_MAX, EMSGSIZE,
                  "error.message");
}

uint32_t
xcopy_proto_enc_rep_error (struct xcopy_wbuf *w,
                           const struct xcopy_proto_reply *rep)
{
  xcopy_wbuf_result (w, &rep->u.error.result);
  xcopy_wbuf_str (w, rep->u.error.message);
  return 0;
}

int
xcopy_proto_val_rep_error (const struct xcopy_proto_reply *rep,
                           struct xcopy_proto_err *e)
{
  int ret;

  if (rep->status == 0 ||
      rep->u.error.result.error != (int) rep->status)
    return xcopy_proto_fail (e, EINVAL, NO_INDEX, "error.result.error %d"
                             " differs from header.status %u",
                             rep->u.error.result.error, rep->status);
  if ((ret = xcopy_proto_check_result (&rep->u.error.result, "error.result",
                                       e)))
    return ret;
  return xcopy_proto_check_str (rep->u.error.message,
                                XCOPY_PROTO_MESSAGE_MAX, EMSGSIZE,
                                "error.message", e);
}
