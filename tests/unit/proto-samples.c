/* xcopyd: sample control-protocol messages (see proto-samples.h). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "proto-samples.h"

#define GiB_ (UINT64_C (1) << 30)
#define MiB_ (UINT64_C (1) << 20)

/* ---- Requests ---- */

static struct xcopy_range copy1[] = { { 0, 4096, 512 } };
static struct xcopy_range copy3[] = {
  { 0, 1 * GiB_, 64 * MiB_ },
  { 64 * MiB_, 2 * GiB_ + 4096, 1 },
  { UINT64_MAX - 10, 0, 10 },
};
static struct xcopy_range copy_many[100];
static struct xcopy_proto_span spans3[] = {
  { 0, 4096 }, { 1 * MiB_, 1 * MiB_ }, { 4 * GiB_, 0 },
};
static unsigned char pat1[] = { 0xa5 };
static unsigned char pat_big[4096];

#define R(op, ...) \
  { .opcode = XCOPY_OP_##op, __VA_ARGS__ }

static struct xcopy_proto_request reqs[] = {
  R (HELLO, .serial = 1, .u.hello = { XCOPY_PROTO_CAP_ALL, 1, 1, "xcopyctl" }),
  R (HELLO, .serial = 2, .u.hello = { UINT64_MAX, 1, 7, "" }),
  R (LIST_EXPORTS, .serial = 3),
  R (STAT, .serial = 4, .u.stat = { "disk.img" }),
  R (STAT, .serial = 5, .flags = XCOPY_PROTO_F_ALL_EXPORTS),
  R (COPY, .serial = 6, .u.copy = { "a", "a", copy1, 1 }),
  R (COPY, .serial = 7, .flags = XCOPY_PROTO_F_SYNC | XCOPY_PROTO_F_ALLOCATE,
     .u.copy = { "src.img", "dst.img", copy3, 3 }),
  R (COPY, .serial = UINT64_MAX, .flags = XCOPY_PROTO_F_ASYNC |
     XCOPY_PROTO_F_LADDER, .u.copy = { "", "", copy_many, 100 }),
  R (FILL, .serial = 8, .u.fill = { "a", 4096, 8192, pat1, 1 }),
  R (FILL, .serial = 9, .flags = XCOPY_PROTO_F_MAY_TRIM | XCOPY_PROTO_F_ASYNC,
     .u.fill = { "b", 0, 1 * MiB_, pat_big, sizeof pat_big }),
  R (ZERO, .serial = 10, .u.zero = { "a", 0, 128 * MiB_ }),
  R (ZERO, .serial = 11, .flags = XCOPY_PROTO_F_MAY_TRIM | XCOPY_PROTO_F_FAST
     | XCOPY_PROTO_F_SYNC, .u.zero = { "a", 512, 0 }),
  R (UNMAP, .serial = 12, .u.unmap = { "a", spans3, 3 }),
  R (FLUSH, .serial = 13, .u.flush = { "a" }),
  R (EXTENTS, .serial = 14, .u.extents = { "a", 0, 1 * GiB_ }),
  R (CLONE, .serial = 15, .u.clone = { "base.img", "vm1.img" }),
  R (CLONE, .serial = 16, .flags = XCOPY_PROTO_F_REPLACE | XCOPY_PROTO_F_ASYNC
     | XCOPY_PROTO_F_NO_REFLINK, .u.clone = { "", "n\xc3\xa4me" }),
  R (JOB_STATUS, .serial = 17, .u.job = { 0 }),
  R (JOB_STATUS, .serial = 18, .u.job = { 7 }),
  R (JOB_CANCEL, .serial = 19, .u.job = { 7 }),
  R (STAT, .serial = 24),                     /* longest name: see below */
  R (CLONE, .serial = 25),
};

/* ---- Replies ---- */

static xcopy_proto_name names3[] = { "a", "b.img", "\xe2\x82\xac" };
static struct xcopy_proto_counter counters[XCOPY_M__COUNT];
static struct xcopy_proto_export infos[] = {
  { "a", 4 * GiB_, 4096, 0 },
  { "b.img", 0, 0, XCOPY_PROTO_EXPORT_READONLY },
  { "c", UINT64_MAX, 1u << 31, 0 },
};
static struct xcopy_proto_extent extents4[] = {
  { 0, 4096, XCOPY_PROTO_EXTENT_DATA },
  { 4096, 1 * MiB_ - 4096, XCOPY_PROTO_EXTENT_HOLE },
  { 1 * MiB_, 1, XCOPY_PROTO_EXTENT_DATA },
  { 1 * MiB_ + 1, UINT64_MAX - 1 * MiB_ - 1, XCOPY_PROTO_EXTENT_HOLE },
};
static struct xcopy_proto_job jobs3[] = {
  { 1, 1 * GiB_, XCOPY_OP_COPY, XCOPY_PROTO_JOB_DONE,
    { .bytes_done = 1 * GiB_, .ranges_done = 3, .failed_index = SIZE_MAX } },
  { 2, 100, XCOPY_OP_FILL, XCOPY_PROTO_JOB_QUEUED,
    { .failed_index = SIZE_MAX } },
  { 9, 5 * GiB_, XCOPY_OP_CLONE, XCOPY_PROTO_JOB_FAILED,
    { .bytes_done = 3 * GiB_, .failed_index = 0, .failed_done = 3 * GiB_,
      .error = ENOSPC } },
};
static struct xcopy_proto_job job_cancelled[] = {
  { 7, 10 * GiB_, XCOPY_OP_COPY, XCOPY_PROTO_JOB_CANCELLED,
    { .bytes_done = 4 * GiB_, .ranges_done = 4, .failed_index = 4,
      .error = ECANCELED } },
};

#define P(op, ...) \
  { .opcode = XCOPY_OP_##op, __VA_ARGS__ }
#define OK_RESULT(n, bytes) \
  { .bytes_done = (bytes), .ranges_done = (n), .failed_index = SIZE_MAX }

static struct xcopy_proto_reply reps[] = {
  P (HELLO, .serial = 1, .u.hello = { XCOPY_PROTO_CAP_ALL,
     XCOPY_PROTO_MAX_PAYLOAD, XCOPY_PROTO_MAX_RANGES, 1, "nbdkit-xcopy 0.1.0" }),
  P (LIST_EXPORTS, .serial = 3, .u.exports = { names3, 3 }),
  P (LIST_EXPORTS, .serial = 3),
  P (STAT, .serial = 4, .flags = XCOPY_PROTO_RF_SERVER_COUNTERS,
     .u.stat = { counters, XCOPY_M__COUNT, infos, 1 }),
  P (STAT, .serial = 5, .u.stat = { counters, 2, infos, 3 }),
  P (COPY, .serial = 6, .u.result = OK_RESULT (1, 512)),
  P (COPY, .serial = UINT64_MAX, .flags = XCOPY_PROTO_RF_JOB,
     .u.started = { 42, 100 * MiB_ }),
  P (FILL, .serial = 8, .u.result = OK_RESULT (1, 8192)),
  P (ZERO, .serial = 10, .u.result = OK_RESULT (1, 128 * MiB_)),
  P (UNMAP, .serial = 12, .u.result = OK_RESULT (3, 2 * MiB_)),
  P (FLUSH, .serial = 13),
  P (EXTENTS, .serial = 14, .u.extents = { extents4, 4 }),
  P (EXTENTS, .serial = 14),
  P (CLONE, .serial = 15, .u.result = OK_RESULT (1, 4 * GiB_)),
  P (CLONE, .serial = 16, .flags = XCOPY_PROTO_RF_JOB,
     .u.started = { 43, 4 * GiB_ }),
  P (JOB_STATUS, .serial = 17, .u.jobs = { jobs3, 3 }),
  P (JOB_CANCEL, .serial = 19, .u.jobs = { job_cancelled, 1 }),
  P (COPY, .serial = 9, .status = ERANGE, .u.error = {
      { .failed_index = 3, .error = ERANGE },
      "range 3: dst end 4G+1M beyond export size 4G" }),
  P (COPY, .serial = 20, .status = EIO, .u.error = {
      { .bytes_done = 5000, .ranges_done = 2, .failed_index = 2,
        .failed_done = 904, .error = EIO, .flags = XCOPY_PROTO_RESULT_BACKWARD },
      "" }),
  P (COPY, .serial = 21, .status = ENOSPC, .u.error = {
      { .bytes_done = 1 * GiB_, .ranges_done = 1, .failed_index = SIZE_MAX,
        .error = ENOSPC }, "fdatasync: No space left on device" }),
  { .opcode = 0x0042, .serial = 22, .status = ENOSYS, .u.error = {
      { .failed_index = SIZE_MAX, .error = ENOSYS },
      "header.opcode: 0x0042 unknown" } },
  P (HELLO, .serial = 0, .status = EPROTONOSUPPORT,
     .flags = XCOPY_PROTO_RF_CLOSING, .u.error = {
      { .failed_index = SIZE_MAX, .error = EPROTONOSUPPORT },
      "hello: no common version: client 2..3, server 1..1" }),
  P (LIST_EXPORTS, .serial = 26),             /* longest names */
  P (FLUSH, .serial = 27, .status = EIO),     /* longest message */
  P (STAT, .serial = 23, .status = EMSGSIZE, .flags = XCOPY_PROTO_RF_CLOSING,
     .u.error = { { .failed_index = SIZE_MAX, .error = EMSGSIZE },
                  "header.length: 4294967295 > limit 33554432" }),
};

static xcopy_proto_name long_names[2];

static struct xcopy_proto_request *
req_by_serial (uint64_t serial)
{
  for (size_t i = 0; i < ARRAY_SIZE (reqs); i++)
    if (reqs[i].serial == serial)
      return &reqs[i];
  abort ();
}

static struct xcopy_proto_reply *
rep_by_serial (uint64_t serial)
{
  for (size_t i = 0; i < ARRAY_SIZE (reps); i++)
    if (reps[i].serial == serial)
      return &reps[i];
  abort ();
}

/* Samples at the length limits of names and messages (§4.2, §7.2). */
static void
init_longest (void)
{
  struct xcopy_proto_reply *p;

  memset (long_names[0], 'n', XCOPY_PROTO_NAME_MAX);
  memset (long_names[1], 'm', XCOPY_PROTO_NAME_MAX - 1);
  strcpy (req_by_serial (24)->u.stat.name, long_names[0]);
  strcpy (req_by_serial (25)->u.clone.src, long_names[0]);
  strcpy (req_by_serial (25)->u.clone.dst, long_names[1]);
  p = rep_by_serial (26);
  p->u.exports.v = long_names;
  p->u.exports.count = 2;
  p = rep_by_serial (27);
  p->u.error.result = (struct xcopy_result) {
    .failed_index = SIZE_MAX, .error = EIO,
  };
  memset (p->u.error.message, 'e', XCOPY_PROTO_MESSAGE_MAX);
}

static void
init_arrays (void)
{
  init_longest ();
  for (size_t i = 0; i < ARRAY_SIZE (copy_many); i++)
    copy_many[i] = (struct xcopy_range) { i * 8192, i * 8192 + 4096, 4096 };
  for (size_t i = 0; i < sizeof pat_big; i++)
    pat_big[i] = (unsigned char) (i * 7 + 1);
  for (int m = 0; m < XCOPY_M__COUNT; m++) {
    snprintf (counters[m].name, sizeof counters[m].name, "%s",
              xcopy_method_name (m));
    counters[m].bytes = (uint64_t) m << 30;
    counters[m].calls = (uint64_t) m * 3 + 1;
  }
}

static const char *
sample_name (bool reply, uint16_t opcode, unsigned nth, uint32_t status)
{
  const char *op = xcopy_proto_op_name (opcode);
  char buf[64], *p;

  snprintf (buf, sizeof buf, "%s-%s%s-%u", reply ? "rep" : "req",
            op ? op : "unknown", status ? "-error" : "", nth);
  for (p = buf; *p; p++)
    *p = (char) (*p == '_' ? '-' : tolower ((unsigned char) *p));
  return strdup (buf);
}

size_t
proto_samples (const struct proto_sample **out)
{
  static struct proto_sample *s;
  static size_t n;
  unsigned seen[2][256] = { { 0 } };

  if (s == NULL) {
    init_arrays ();
    s = calloc (ARRAY_SIZE (reqs) + ARRAY_SIZE (reps), sizeof *s);
    for (size_t i = 0; i < ARRAY_SIZE (reqs); i++, n++)
      s[n] = (struct proto_sample) {
        sample_name (false, reqs[i].opcode, seen[0][reqs[i].opcode & 0xff]++,
                     0), false, &reqs[i], NULL };
    for (size_t i = 0; i < ARRAY_SIZE (reps); i++, n++)
      s[n] = (struct proto_sample) {
        sample_name (true, reps[i].opcode, seen[1][reps[i].opcode & 0xff]++,
                     reps[i].status), true, NULL, &reps[i] };
  }
  *out = s;
  return n;
}

void
proto_sample_encode (const struct proto_sample *s, struct xcopy_wbuf *w)
{
  struct xcopy_proto_err e = { 0 };
  int r;

  xcopy_wbuf_init (w, SIZE_MAX);
  r = s->is_reply ? xcopy_proto_encode_reply (s->rep, w, &e)
    : xcopy_proto_encode_request (s->req, w, &e);
  if (r) {
    h_fail (__FILE__, __LINE__, "%s: encode: %d (%s)", s->name, r, e.msg);
    h_abort_case ();
  }
}

/* ---- Dumps ---- */

struct dump {
  char *buf;
  size_t len;
  FILE *f;
};

static FILE *
dump_open (struct dump *d)
{
  d->f = open_memstream (&d->buf, &d->len);
  if (d->f == NULL)
    abort ();
  return d->f;
}

static char *
dump_close (struct dump *d)
{
  fclose (d->f);
  return d->buf;
}

static void
dump_result (FILE *f, const char *p, const struct xcopy_result *r)
{
  fprintf (f, "%s.bytes_done = %" PRIu64 "\n%s.ranges_done = %zu\n"
           "%s.failed_index = %zu\n%s.failed_done = %" PRIu64 "\n"
           "%s.error = %d\n%s.flags = %u\n", p, r->bytes_done, p,
           r->ranges_done, p, r->failed_index, p, r->failed_done, p,
           r->error, p, r->flags);
}

static void
dump_req_body (FILE *f, const struct xcopy_proto_request *q)
{
  const struct xcopy_proto_copy *c = &q->u.copy;
  const struct xcopy_proto_fill *fl = &q->u.fill;

  switch (q->opcode) {
  case XCOPY_OP_HELLO:
    fprintf (f, "hello.caps = %" PRIx64 "\nhello.min = %u\nhello.max = %u\n"
             "hello.name = '%s'\n", q->u.hello.caps, q->u.hello.min_version,
             q->u.hello.max_version, q->u.hello.name);
    break;
  case XCOPY_OP_STAT: fprintf (f, "stat.name = '%s'\n", q->u.stat.name); break;
  case XCOPY_OP_FLUSH: fprintf (f, "flush.name = '%s'\n", q->u.flush.name); break;
  case XCOPY_OP_COPY:
    fprintf (f, "copy.src = '%s'\ncopy.dst = '%s'\n", c->src, c->dst);
    for (size_t i = 0; i < c->count; i++)
      fprintf (f, "copy.ranges[%zu] = src %" PRIu64 " dst %" PRIu64 " len %"
               PRIu64 "\n", i, c->ranges[i].src, c->ranges[i].dst,
               c->ranges[i].len);
    break;
  case XCOPY_OP_FILL:
    fprintf (f, "fill.name = '%s'\nfill.offset = %" PRIu64 "\nfill.length = %"
             PRIu64 "\nfill.pattern =", fl->name, fl->offset, fl->length);
    for (size_t i = 0; i < fl->patlen; i++)
      fprintf (f, " %02x", fl->pattern[i]);
    fputc ('\n', f);
    break;
  case XCOPY_OP_ZERO:
  case XCOPY_OP_EXTENTS:
    fprintf (f, "name = '%s'\noffset = %" PRIu64 "\nlength = %" PRIu64 "\n",
             q->u.zero.name, q->u.zero.offset, q->u.zero.length);
    break;
  case XCOPY_OP_UNMAP:
    fprintf (f, "unmap.name = '%s'\n", q->u.unmap.name);
    for (size_t i = 0; i < q->u.unmap.count; i++)
      fprintf (f, "unmap.spans[%zu] = %" PRIu64 " +%" PRIu64 "\n", i,
               q->u.unmap.spans[i].offset, q->u.unmap.spans[i].length);
    break;
  case XCOPY_OP_CLONE:
    fprintf (f, "clone.src = '%s'\nclone.dst = '%s'\n", q->u.clone.src,
             q->u.clone.dst);
    break;
  case XCOPY_OP_JOB_STATUS:
  case XCOPY_OP_JOB_CANCEL:
    fprintf (f, "job.job_id = %" PRIu64 "\n", q->u.job.job_id);
    break;
  }
}

char *
proto_dump_request (const struct xcopy_proto_request *q)
{
  struct dump d;
  FILE *f = dump_open (&d);

  fprintf (f, "opcode = 0x%04x\nversion = %u\nflags = 0x%x\nserial = %" PRIu64
           "\n", q->opcode, q->version, q->flags, q->serial);
  dump_req_body (f, q);
  return dump_close (&d);
}

static void
dump_stat (FILE *f, const struct xcopy_proto_reply *p)
{
  for (size_t i = 0; i < p->u.stat.ncounters; i++)
    fprintf (f, "counters[%zu] = '%s' bytes %" PRIu64 " calls %" PRIu64 "\n",
             i, p->u.stat.counters[i].name, p->u.stat.counters[i].bytes,
             p->u.stat.counters[i].calls);
  for (size_t i = 0; i < p->u.stat.count; i++)
    fprintf (f, "exports[%zu] = '%s' size %" PRIu64 " bs %u flags %u\n", i,
             p->u.stat.v[i].name, p->u.stat.v[i].size,
             p->u.stat.v[i].block_size, p->u.stat.v[i].flags);
}

static void
dump_jobs (FILE *f, const struct xcopy_proto_reply *p)
{
  char prefix[48];

  for (size_t i = 0; i < p->u.jobs.count; i++) {
    const struct xcopy_proto_job *j = &p->u.jobs.v[i];

    fprintf (f, "jobs[%zu] = id %" PRIu64 " total %" PRIu64 " op %u state %u\n",
             i, j->job_id, j->bytes_total, j->opcode, j->state);
    snprintf (prefix, sizeof prefix, "jobs[%zu].result", i);
    dump_result (f, prefix, &j->result);
  }
}

static void
dump_rep_body (FILE *f, const struct xcopy_proto_reply *p)
{
  const struct xcopy_proto_hello_reply *h = &p->u.hello;

  if (p->status) {
    dump_result (f, "error.result", &p->u.error.result);
    fprintf (f, "error.message = '%s'\n", p->u.error.message);
    return;
  }
  if (p->flags & XCOPY_PROTO_RF_JOB) {
    fprintf (f, "started = %" PRIu64 " total %" PRIu64 "\n",
             p->u.started.job_id, p->u.started.bytes_total);
    return;
  }
  switch (p->opcode) {
  case XCOPY_OP_HELLO:
    fprintf (f, "hello = caps %" PRIx64 " payload %u ranges %u version %u"
             " name '%s'\n", h->caps, h->max_payload, h->max_ranges,
             h->version, h->name);
    break;
  case XCOPY_OP_LIST_EXPORTS:
    for (size_t i = 0; i < p->u.exports.count; i++)
      fprintf (f, "exports[%zu] = '%s'\n", i, p->u.exports.v[i]);
    break;
  case XCOPY_OP_STAT: dump_stat (f, p); break;
  case XCOPY_OP_EXTENTS:
    for (size_t i = 0; i < p->u.extents.count; i++)
      fprintf (f, "extents[%zu] = %" PRIu64 " +%" PRIu64 " type %u\n", i,
               p->u.extents.v[i].offset, p->u.extents.v[i].length,
               p->u.extents.v[i].type);
    break;
  case XCOPY_OP_JOB_STATUS:
  case XCOPY_OP_JOB_CANCEL: dump_jobs (f, p); break;
  default:
    if (xcopy_proto_op_is_long (p->opcode))
      dump_result (f, "result", &p->u.result);
  }
}

char *
proto_dump_reply (const struct xcopy_proto_reply *p)
{
  struct dump d;
  FILE *f = dump_open (&d);

  fprintf (f, "opcode = 0x%04x\nversion = %u\nflags = 0x%x\nstatus = %u\n"
           "serial = %" PRIu64 "\n", p->opcode, p->version, p->flags,
           p->status, p->serial);
  dump_rep_body (f, p);
  return dump_close (&d);
}

/* ---- Hex ---- */

unsigned char *
proto_unhex (const char *hex, size_t *len)
{
  unsigned char *out = h_malloc (strlen (hex) / 2 + 1);
  size_t n = 0;
  int hi = -1;

  for (const char *p = hex; *p; p++) {
    int v;

    if (isspace ((unsigned char) *p) || *p == '|')
      continue;
    if (!isxdigit ((unsigned char) *p))
      abort ();
    v = isdigit ((unsigned char) *p) ? *p - '0'
      : tolower ((unsigned char) *p) - 'a' + 10;
    if (hi < 0)
      hi = v;
    else {
      out[n++] = (unsigned char) (hi << 4 | v);
      hi = -1;
    }
  }
  *len = n;
  return out;
}

static void
print_hex (const char *what, const unsigned char *p, size_t n)
{
  fprintf (stderr, "  %s (%zu bytes):", what, n);
  for (size_t i = 0; i < n; i++)
    fprintf (stderr, "%s%02x", i % 16 ? " " : "\n    ", p[i]);
  fputc ('\n', stderr);
}

bool
proto_check_hex (const char *file, int line, const unsigned char *got,
                 size_t len, const char *hex)
{
  size_t n;
  unsigned char *want = proto_unhex (hex, &n);
  bool ok = n == len && memcmp (want, got, n) == 0;

  if (!ok) {
    h_fail (file, line, "bytes differ from the expected hex dump");
    print_hex ("want", want, n);
    print_hex ("got", got, len);
  }
  free (want);
  return ok;
}
