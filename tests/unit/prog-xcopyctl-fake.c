/* xcopyd: a fake control-protocol server for xcopyctl's scenarios
 * (tests/func/test-xcopyctl-fake.sh).
 *
 *   prog-xcopyctl-fake SOCKET [--caps N] [--max-ranges N]
 *                             [--garbage | --hang-up]
 *
 * It speaks PROTOCOL.md through the shared codec but moves no data: it
 * keeps export names and sizes, answers every opcode, and fails on cue,
 * so a test can reach outcomes a real server gives only under duress
 * (partial copies, slow jobs to cancel, malformed replies):
 *
 *   exports  a, b: 64M; ro: 16M read-only; enospc: 64M, every write fails
 *            with ENOSPC once 1M of the request is done; slow: 1G, jobs
 *            on it move 256 MiB/s (synchronous requests finish at once)
 *   ZERO with FAST: EOPNOTSUPP.  EXTENTS: 1M data, 1M hole, ..., at most
 *   3 extents per reply.  CLONE adds an export of the source's size.
 *   --garbage: after HELLO every reply has a bad magic.
 *   --hang-up: after HELLO the first request gets no reply: it closes.
 *
 * One thread per connection, one lock over the state.  Runs until killed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "xcopy/proto.h"

#define MiB (UINT64_C (1) << 20)
#define NO_INDEX XCOPY_PROTO_NO_INDEX
#define MAX_EXPORTS 16
#define MAX_JOBS 64
#define ENOSPC_AFTER MiB
#define SLOW_BYTES_PER_MS (UINT64_C (256) << 10)   /* 256 MiB/s */

struct export {
  char name[XCOPY_PROTO_NAME_MAX + 1];
  uint64_t size;
  bool readonly;
};

struct job {
  struct xcopy_proto_job j;
  uint64_t *lens;               /* the lengths of its ranges */
  size_t n;
  bool slow;
  struct timespec start;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct export exports[MAX_EXPORTS] = {
  { "a", 64 * MiB, false }, { "b", 64 * MiB, false },
  { "enospc", 64 * MiB, false }, { "ro", 16 * MiB, true },
  { "slow", 1024 * MiB, false },
};
static size_t nexports = 5;
static struct job jobs[MAX_JOBS];
static size_t njobs;
static uint64_t opt_caps = XCOPY_PROTO_CAP_ALL;
static uint32_t opt_max_ranges = XCOPY_PROTO_MAX_RANGES;
static bool opt_garbage, opt_hang_up;

/* A connection and the request being answered. */
struct conn {
  int fd;
  bool hello;
  struct xcopy_proto_header h;
  struct xcopy_proto_reply rep;
  struct xcopy_proto_err e;
};

static struct export *
find_export (const char *name)
{
  for (size_t i = 0; i < nexports; i++)
    if (strcmp (exports[i].name, name) == 0)
      return &exports[i];
  return NULL;
}

static int
export_or_fail (const char *name, bool write, struct export **x,
                struct xcopy_proto_err *e)
{
  *x = find_export (name);
  if (*x == NULL)
    return xcopy_proto_fail (e, ENOENT, NO_INDEX, "export '%s': no such"
                             " export", name);
  if (write && (*x)->readonly)
    return xcopy_proto_fail (e, EROFS, NO_INDEX, "export '%s': read-only",
                             name);
  return 0;
}

/* What a batch of ranges with these lengths reports after done bytes. */
static struct xcopy_result
progress (const uint64_t *lens, size_t n, uint64_t done, int err)
{
  struct xcopy_result r = { .bytes_done = done, .failed_index = SIZE_MAX };
  uint64_t left = done;

  while (r.ranges_done < n && lens[r.ranges_done] <= left)
    left -= lens[r.ranges_done++];
  if (err) {
    r.error = err;
    r.failed_index = r.ranges_done < n ? r.ranges_done : SIZE_MAX;
    r.failed_done = r.failed_index == SIZE_MAX ? 0 : left;
  }
  return r;
}

static uint64_t
sum (const uint64_t *lens, size_t n)
{
  uint64_t s = 0;

  for (size_t i = 0; i < n; i++)
    s += lens[i];
  return s;
}

/* Run a checked write on export dst: the whole of it, or ENOSPC. */
static struct xcopy_result
run (const struct export *dst, const uint64_t *lens, size_t n)
{
  uint64_t total = sum (lens, n);

  if (strcmp (dst->name, "enospc") == 0 && total > ENOSPC_AFTER)
    return progress (lens, n, ENOSPC_AFTER, ENOSPC);
  return progress (lens, n, total, 0);
}

static uint64_t
elapsed_ms (const struct timespec *t0)
{
  struct timespec t;

  clock_gettime (CLOCK_MONOTONIC, &t);
  return (uint64_t) (t.tv_sec - t0->tv_sec) * 1000 +
    (uint64_t) ((t.tv_nsec - t0->tv_nsec) / 1000000);
}

/* Bring a slow job up to date (under the lock). */
static void
job_update (struct job *jb)
{
  uint64_t ms, done;

  if (!jb->slow || jb->j.state != XCOPY_PROTO_JOB_RUNNING)
    return;
  ms = elapsed_ms (&jb->start);
  done = ms * SLOW_BYTES_PER_MS;
  if (done >= jb->j.bytes_total) {
    jb->j.state = XCOPY_PROTO_JOB_DONE;
    done = jb->j.bytes_total;
  }
  jb->j.result = progress (jb->lens, jb->n, done, 0);
}

static int
start_job (struct conn *c, const struct export *dst, const uint64_t *lens,
           size_t n)
{
  struct job *jb;

  if (njobs == MAX_JOBS)
    return xcopy_proto_fail (&c->e, EAGAIN, NO_INDEX, "jobs: table full");
  jb = &jobs[njobs++];
  jb->j.job_id = njobs;
  jb->j.opcode = c->h.opcode;
  jb->j.bytes_total = sum (lens, n);
  jb->lens = malloc (n * sizeof *lens);
  memcpy (jb->lens, lens, n * sizeof *lens);
  jb->n = n;
  jb->slow = strcmp (dst->name, "slow") == 0;
  clock_gettime (CLOCK_MONOTONIC, &jb->start);
  jb->j.result = run (dst, lens, n);
  jb->j.state = jb->j.result.error ? XCOPY_PROTO_JOB_FAILED
    : XCOPY_PROTO_JOB_DONE;
  if (jb->slow) {
    jb->j.state = XCOPY_PROTO_JOB_RUNNING;
    jb->j.result = progress (lens, n, 0, 0);
  }
  c->rep.flags = XCOPY_PROTO_RF_JOB;
  c->rep.u.started.job_id = jb->j.job_id;
  c->rep.u.started.bytes_total = jb->j.bytes_total;
  return 0;
}

/* A long operation passed its checks: run it, or start it as a job. */
static int
finish_long (struct conn *c, uint32_t flags, const struct export *dst,
             const uint64_t *lens, size_t n)
{
  if (flags & XCOPY_PROTO_F_ASYNC)
    return start_job (c, dst, lens, n);
  c->rep.u.result = run (dst, lens, n);
  if (c->rep.u.result.error) {
    struct xcopy_result r = c->rep.u.result;

    xcopy_proto_fail (&c->e, r.error, r.failed_index, "range %zu: %s",
                      r.failed_index, strerror (r.error));
    c->rep.u.error.result = r;          /* kept by send_error */
    return -r.error;
  }
  return 0;
}

static int
op_copy (struct conn *c, const struct xcopy_proto_request *q)
{
  const struct xcopy_proto_copy *cp = &q->u.copy;
  struct export *src, *dst;
  uint64_t *lens;
  int ret;

  if ((ret = export_or_fail (cp->src, false, &src, &c->e)) ||
      (ret = export_or_fail (cp->dst, true, &dst, &c->e)) ||
      (ret = xcopy_proto_check_ranges (cp->ranges, cp->count, src->size,
                                       dst->size, &c->e)))
    return ret;
  lens = malloc (cp->count * sizeof *lens);
  for (size_t i = 0; i < cp->count; i++)
    lens[i] = cp->ranges[i].len;
  ret = finish_long (c, q->flags, dst, lens, cp->count);
  free (lens);
  return ret;
}

static int
op_single (struct conn *c, const struct xcopy_proto_request *q,
           const char *name, uint64_t off, uint64_t len)
{
  struct export *x;
  int ret;

  if ((ret = export_or_fail (name, true, &x, &c->e)) ||
      (ret = xcopy_proto_check_inside ("range 0", off, len, x->size, &c->e)))
    return ret;
  if (q->opcode == XCOPY_OP_ZERO && (q->flags & XCOPY_PROTO_F_FAST))
    return xcopy_proto_fail (&c->e, EOPNOTSUPP, NO_INDEX, "zero: no fast"
                             " way to zero here (--fast)");
  return finish_long (c, q->flags, x, &len, 1);
}

static int
op_unmap (struct conn *c, const struct xcopy_proto_request *q)
{
  struct export *x;
  uint64_t *lens;
  size_t n = q->u.unmap.count;
  int ret;

  if ((ret = export_or_fail (q->u.unmap.name, true, &x, &c->e)) ||
      (ret = xcopy_proto_check_spans (q->u.unmap.spans, n, x->size, &c->e)))
    return ret;
  lens = malloc (n * sizeof *lens);
  for (size_t i = 0; i < n; i++)
    lens[i] = q->u.unmap.spans[i].length;
  ret = finish_long (c, q->flags, x, lens, n);
  free (lens);
  return ret;
}

static int
op_clone (struct conn *c, const struct xcopy_proto_request *q)
{
  struct export *src, *dst;
  int ret;

  if ((ret = export_or_fail (q->u.clone.src, false, &src, &c->e)))
    return ret;
  if (q->u.clone.dst[0] == '\0' || strchr (q->u.clone.dst, '/'))
    return xcopy_proto_fail (&c->e, EINVAL, NO_INDEX, "clone.dst: '%s' is"
                             " not a file name", q->u.clone.dst);
  dst = find_export (q->u.clone.dst);
  if (dst && !(q->flags & XCOPY_PROTO_F_REPLACE))
    return xcopy_proto_fail (&c->e, EEXIST, NO_INDEX, "clone.dst: '%s'"
                             " exists (use REPLACE)", q->u.clone.dst);
  if (dst == NULL && nexports == MAX_EXPORTS)
    return xcopy_proto_fail (&c->e, ENOSPC, NO_INDEX, "too many exports");
  if (dst == NULL)
    dst = &exports[nexports++];
  *dst = *src;
  dst->readonly = false;
  snprintf (dst->name, sizeof dst->name, "%s", q->u.clone.dst);
  return finish_long (c, q->flags, dst, &src->size, 1);
}

static int
op_extents (struct conn *c, const struct xcopy_proto_request *q)
{
  static struct xcopy_proto_extent v[3];
  uint64_t off = q->u.extents.offset, end = off + q->u.extents.length;
  struct export *x;
  size_t n = 0;
  int ret;

  if ((ret = export_or_fail (q->u.extents.name, false, &x, &c->e)) ||
      (ret = xcopy_proto_check_inside ("extents", off, q->u.extents.length,
                                       x->size, &c->e)))
    return ret;
  for (; off < end && n < 3; n++) {
    uint64_t next = (off / MiB + 1) * MiB;

    v[n].offset = off;
    v[n].length = (next < end ? next : end) - off;
    v[n].type = (off / MiB) % 2 ? XCOPY_PROTO_EXTENT_HOLE
      : XCOPY_PROTO_EXTENT_DATA;
    off += v[n].length;
  }
  c->rep.u.extents.v = v;
  c->rep.u.extents.count = n;
  return 0;
}

static int
op_stat (struct conn *c, const struct xcopy_proto_request *q)
{
  static struct xcopy_proto_counter counters[] = {
    { "reflink", 3 * MiB, 3 }, { "copy_file_range", MiB, 1 },
  };
  static struct xcopy_proto_export v[MAX_EXPORTS];
  struct export *x;
  size_t n = 0;
  int ret;

  for (size_t i = 0; i < nexports; i++) {
    if (!(q->flags & XCOPY_PROTO_F_ALL_EXPORTS) &&
        strcmp (exports[i].name, q->u.stat.name) != 0)
      continue;
    memcpy (v[n].name, exports[i].name, sizeof v[n].name);
    v[n].size = exports[i].size;
    v[n].block_size = 4096;
    v[n++].flags = exports[i].readonly ? XCOPY_PROTO_EXPORT_READONLY : 0;
  }
  if (!(q->flags & XCOPY_PROTO_F_ALL_EXPORTS) &&
      (ret = export_or_fail (q->u.stat.name, false, &x, &c->e)))
    return ret;
  c->rep.flags = XCOPY_PROTO_RF_SERVER_COUNTERS;
  c->rep.u.stat.counters = counters;
  c->rep.u.stat.ncounters = 2;
  c->rep.u.stat.v = v;
  c->rep.u.stat.count = n;
  return 0;
}

static int
op_list (struct conn *c)
{
  static xcopy_proto_name names[MAX_EXPORTS];

  for (size_t i = 0; i < nexports; i++)
    memcpy (names[i], exports[i].name, sizeof names[i]);
  c->rep.u.exports.v = names;
  c->rep.u.exports.count = nexports;
  return 0;
}

static int
op_jobs (struct conn *c, const struct xcopy_proto_request *q)
{
  static struct xcopy_proto_job v[MAX_JOBS];
  uint64_t id = q->u.job.job_id;
  size_t n = 0;

  for (size_t i = 0; i < njobs; i++) {
    if (id && jobs[i].j.job_id != id)
      continue;
    job_update (&jobs[i]);
    if (q->opcode == XCOPY_OP_JOB_CANCEL &&
        jobs[i].j.state == XCOPY_PROTO_JOB_RUNNING) {
      jobs[i].j.state = XCOPY_PROTO_JOB_CANCELLED;
      jobs[i].j.result = progress (jobs[i].lens, jobs[i].n,
                                   jobs[i].j.result.bytes_done, ECANCELED);
    }
    v[n++] = jobs[i].j;
  }
  if (id && n == 0)
    return xcopy_proto_fail (&c->e, ENOENT, NO_INDEX, "job %ju: no such job",
                             (uintmax_t) id);
  c->rep.u.jobs.v = v;
  c->rep.u.jobs.count = n;
  return 0;
}

static int
dispatch (struct conn *c, const struct xcopy_proto_request *q)
{
  struct export *x;

  switch (q->opcode) {
  case XCOPY_OP_LIST_EXPORTS: return op_list (c);
  case XCOPY_OP_STAT: return op_stat (c, q);
  case XCOPY_OP_COPY: return op_copy (c, q);
  case XCOPY_OP_FILL:
    return op_single (c, q, q->u.fill.name, q->u.fill.offset,
                      q->u.fill.length);
  case XCOPY_OP_ZERO:
    return op_single (c, q, q->u.zero.name, q->u.zero.offset,
                      q->u.zero.length);
  case XCOPY_OP_UNMAP: return op_unmap (c, q);
  case XCOPY_OP_FLUSH:
    return export_or_fail (q->u.flush.name, false, &x, &c->e);
  case XCOPY_OP_EXTENTS: return op_extents (c, q);
  case XCOPY_OP_CLONE: return op_clone (c, q);
  case XCOPY_OP_JOB_STATUS:
  case XCOPY_OP_JOB_CANCEL: return op_jobs (c, q);
  default:
    return xcopy_proto_fail (&c->e, EPROTO, NO_INDEX, "second HELLO");
  }
}

/* ---- Frames ---- */

static bool
read_all (int fd, void *buf, size_t len)
{
  for (unsigned char *p = buf; len; ) {
    ssize_t r = read (fd, p, len);

    if (r <= 0)
      return false;
    p += r;
    len -= (size_t) r;
  }
  return true;
}

static bool
send_reply (struct conn *c)
{
  struct xcopy_wbuf w;
  struct xcopy_proto_err e;
  bool ok;

  c->rep.opcode = c->h.opcode;
  c->rep.serial = c->h.serial;
  xcopy_wbuf_init (&w, SIZE_MAX);
  if (xcopy_proto_encode_reply (&c->rep, &w, &e)) {
    fprintf (stderr, "fake: cannot encode a reply: %s\n", e.msg);
    abort ();
  }
  if (opt_garbage && c->hello && c->h.opcode != XCOPY_OP_HELLO)
    w.data[0] ^= 0xff;
  ok = write (c->fd, w.data, w.len) == (ssize_t) w.len;
  xcopy_wbuf_free (&w);
  return ok;
}

/* The error reply for c->e; result holds any progress. */
static bool
send_error (struct conn *c, const struct xcopy_result *result)
{
  xcopy_proto_error_reply (&c->h, &c->e, &c->rep);
  if (result && result->error == c->e.err)
    c->rep.u.error.result = *result;
  return send_reply (c) && !c->e.fatal;
}

static int
hello (struct conn *c, const struct xcopy_proto_request *q)
{
  struct xcopy_proto_hello_reply *h = &c->rep.u.hello;
  int ret;

  if ((ret = xcopy_proto_negotiate (q->u.hello.min_version,
                                    q->u.hello.max_version, &h->version,
                                    &c->e)))
    return ret;
  h->caps = q->u.hello.caps & opt_caps;
  h->max_payload = XCOPY_PROTO_MAX_PAYLOAD;
  h->max_ranges = opt_max_ranges;
  snprintf (h->name, sizeof h->name, "fake-xcopyd");
  c->rep.version = XCOPY_PROTO_HELLO_VERSION;
  c->hello = true;
  return 0;
}

/* One request; false when the connection should close. */
static bool
serve_one (struct conn *c, const unsigned char *payload)
{
  struct xcopy_proto_request q;
  struct xcopy_result keep;
  int ret;

  memset (&c->rep, 0, sizeof c->rep);
  if (xcopy_proto_decode_request (&c->h, payload, c->h.length, &q, &c->e))
    return send_error (c, NULL);
  if (!c->hello && q.opcode != XCOPY_OP_HELLO) {
    xcopy_proto_fail (&c->e, EPROTO, NO_INDEX, "HELLO first");
    c->e.fatal = true;
    ret = -EPROTO;
  }
  else if (opt_hang_up && c->hello) {
    xcopy_proto_request_free (&q);
    return false;
  }
  else if (q.opcode == XCOPY_OP_HELLO && !c->hello)
    ret = hello (c, &q);
  else {
    pthread_mutex_lock (&lock);
    ret = dispatch (c, &q);
    pthread_mutex_unlock (&lock);
  }
  keep = c->rep.u.error.result;
  xcopy_proto_request_free (&q);
  if (ret)
    return send_error (c, &keep);
  return send_reply (c);
}

static void *
serve (void *arg)
{
  struct conn c = { .fd = (int) (intptr_t) arg };
  unsigned char hbuf[XCOPY_PROTO_HEADER_SIZE];

  while (read_all (c.fd, hbuf, sizeof hbuf)) {
    unsigned char *payload;
    bool go_on;

    xcopy_proto_get_header (hbuf, &c.h);
    if (xcopy_proto_check_request_header (&c.h, &c.e) && c.e.fatal) {
      send_error (&c, NULL);
      break;
    }
    payload = malloc (c.h.length + 1);
    go_on = read_all (c.fd, payload, c.h.length) && serve_one (&c, payload);
    free (payload);
    if (!go_on)
      break;
  }
  close (c.fd);
  return NULL;
}

static _Noreturn void
usage (const char *prog)
{
  fprintf (stderr, "usage: %s SOCKET [--caps N] [--max-ranges N]"
           " [--garbage|--hang-up]\n", prog);
  exit (2);
}

static void
parse_args (int argc, char **argv)
{
  for (int i = 2; i < argc; i++) {
    if (strcmp (argv[i], "--caps") == 0 && i + 1 < argc)
      opt_caps = strtoull (argv[++i], NULL, 0);
    else if (strcmp (argv[i], "--max-ranges") == 0 && i + 1 < argc)
      opt_max_ranges = (uint32_t) strtoul (argv[++i], NULL, 0);
    else if (strcmp (argv[i], "--garbage") == 0)
      opt_garbage = true;
    else if (strcmp (argv[i], "--hang-up") == 0)
      opt_hang_up = true;
    else
      usage (argv[0]);
  }
}

int
main (int argc, char **argv)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  int lfd;

  if (argc < 2 || strlen (argv[1]) >= sizeof sun.sun_path)
    usage (argv[0]);
  parse_args (argc, argv);
  strcpy (sun.sun_path, argv[1]);
  unlink (argv[1]);
  lfd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0 || bind (lfd, (struct sockaddr *) &sun, sizeof sun) < 0 ||
      listen (lfd, 16) < 0) {
    perror (argv[1]);
    return 1;
  }
  for (;;) {
    int fd = accept (lfd, NULL, NULL);
    pthread_t t;

    if (fd < 0)
      continue;
    pthread_create (&t, NULL, serve, (void *) (intptr_t) fd);
    pthread_detach (t);
  }
}
