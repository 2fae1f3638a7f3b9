/* xcopyd: nbdkit-xcopy-plugin, control socket: the opcode table and the
 * short operations (PROTOCOL.md §5, §6.3, §6.4, §6.9, §6.10, §6.12,
 * §6.13), and how long operations run: at once, or as jobs (§8).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"

#define NO_INDEX XCOPY_PROTO_NO_INDEX
/* EXTENTS replies stop early after this many (§6.10 allows it). */
#define EXTENTS_PER_REPLY 65536

typedef int handler_fn (struct ctl_conn *c, struct xcopy_proto_request *req,
                        struct xcopy_proto_reply *rep, struct ctl_fail *f);

/* §5 */
static int
op_hello (struct ctl_conn *c, struct xcopy_proto_request *req,
          struct xcopy_proto_reply *rep, struct ctl_fail *f)
{
  const struct xcopy_proto_hello *h = &req->u.hello;
  uint16_t version;

  if (xcopy_proto_negotiate (h->min_version, h->max_version, &version,
                             &f->e) < 0)
    return -f->e.err;
  c->hello = true;
  c->version = version;
  c->caps = h->caps & CTL_CAPS;
  rep->version = XCOPY_PROTO_HELLO_VERSION;
  rep->u.hello = (struct xcopy_proto_hello_reply) {
    .caps = c->caps, .max_payload = CTL_MAX_PAYLOAD,
    .max_ranges = CTL_MAX_RANGES, .version = version,
  };
  snprintf (rep->u.hello.name, sizeof rep->u.hello.name, "%s",
            CTL_SERVER_NAME);
  nbdkit_debug ("control: pid %d: HELLO from '%s': version %u, caps 0x%"
                PRIx64, (int) c->pid, h->name, version, c->caps);
  return 0;
}

/* Every export name the protocol can carry, in byte order: the files of
 * dir= (names that are not UTF-8 cannot be named on the wire and are
 * left out), or "" for file=.
 */
static int
list_names (xcopy_proto_name **out, size_t *count, struct ctl_fail *f)
{
  char **names;
  size_t i, n, k = 0;
  int r;

  *count = 1;
  if (exports_dir () == NULL) {
    *out = calloc (1, sizeof **out);
    return *out ? 0 : ctl_fail (f, ENOMEM, NO_INDEX, "exports: out of memory");
  }
  r = exports_names (&names, &n);
  if (r < 0)
    return ctl_fail (f, -r, NO_INDEX, "exports: reading %s: %s",
                     exports_dir (), strerror (-r));
  *out = calloc (n ? n : 1, sizeof **out);
  for (i = 0; i < n; i++) {
    if (*out && xcopy_proto_utf8_valid (names[i], strlen (names[i])))
      snprintf ((*out)[k++], sizeof **out, "%s", names[i]);
    free (names[i]);
  }
  free (names);
  *count = k;
  if (*out == NULL)
    return ctl_fail (f, ENOMEM, NO_INDEX, "exports: out of memory");
  if (k > XCOPY_PROTO_MAX_EXPORTS) {
    free (*out);
    return ctl_fail (f, E2BIG, NO_INDEX, "exports: %zu > limit %u", k,
                     XCOPY_PROTO_MAX_EXPORTS);
  }
  return 0;
}

/* §6.3 */
static int
op_list (struct ctl_conn *c UNUSED, struct xcopy_proto_request *req UNUSED,
         struct xcopy_proto_reply *rep, struct ctl_fail *f)
{
  return list_names (&rep->u.exports.v, &rep->u.exports.count, f);
}

/* One export of a STAT reply. */
static int
stat_export (const char *name, const char *field,
             struct xcopy_proto_export *ex, struct ctl_fail *f)
{
  char msg[XMSG_SIZE];
  struct xfile *xf;
  int r;

  r = files_open (name, false, &xf, msg);
  if (r < 0)
    return ctl_fail (f, -r, NO_INDEX, "%s: %s", field, msg);
  r = files_size (xf, &ex->size);
  ex->block_size = xf->blksize;
  ex->flags = xcopy_readonly () ? XCOPY_PROTO_EXPORT_READONLY : 0;
  files_put (xf);
  if (r < 0)
    return ctl_fail (f, -r, NO_INDEX, "%s: export '%s': fstat: %s", field,
                     name, strerror (-r));
  /* dir=: the file's own name, also for "" (the default export). */
  if (exports_dir () == NULL || files_entry_name (name, ex->name, msg) < 0)
    snprintf (ex->name, sizeof ex->name, "%s", name);
  return 0;
}

/* §6.4, ALL_EXPORTS: exports that vanish while we look are left out. */
static int
stat_all (struct xcopy_proto_reply *rep, struct ctl_fail *f)
{
  xcopy_proto_name *names;
  struct xcopy_proto_export *v;
  struct ctl_fail skip;
  size_t i, n, k = 0;
  int r;

  if ((r = list_names (&names, &n, f)) < 0)
    return r;
  v = calloc (n ? n : 1, sizeof *v);
  for (i = 0; v != NULL && i < n; i++) {
    if (stat_export (names[i], "stat", &v[k], &skip) == 0)
      k++;
  }
  free (names);
  if (v == NULL)
    return ctl_fail (f, ENOMEM, NO_INDEX, "stat: out of memory");
  rep->u.stat.v = v;
  rep->u.stat.count = k;
  return 0;
}

/* §6.4: counters are the whole server's (RF_SERVER_COUNTERS): the plugin
 * keeps no per-export counters.
 */
static int
op_stat (struct ctl_conn *c UNUSED, struct xcopy_proto_request *req,
         struct xcopy_proto_reply *rep, struct ctl_fail *f)
{
  struct xcopy_stats_snapshot s;
  struct xcopy_proto_counter *cv;
  int m, r;

  cv = calloc (XCOPY_M__COUNT, sizeof *cv);
  if (cv == NULL)
    return ctl_fail (f, ENOMEM, NO_INDEX, "stat: out of memory");
  xcopy_stats_snapshot (&xcopy_plugin_stats, &s);
  for (m = 0; m < XCOPY_M__COUNT; m++) {
    snprintf (cv[m].name, sizeof cv[m].name, "%s", xcopy_method_name (m));
    cv[m].bytes = s.bytes[m];
    cv[m].calls = s.calls[m];
  }
  rep->flags = XCOPY_PROTO_RF_SERVER_COUNTERS;
  rep->u.stat.counters = cv;
  rep->u.stat.ncounters = XCOPY_M__COUNT;
  if (req->flags & XCOPY_PROTO_F_ALL_EXPORTS)
    r = stat_all (rep, f);
  else if ((rep->u.stat.v = calloc (1, sizeof *rep->u.stat.v)) == NULL)
    r = ctl_fail (f, ENOMEM, NO_INDEX, "stat: out of memory");
  else if ((r = stat_export (req->u.stat.name, "stat.name",
                             rep->u.stat.v, f)) == 0)
    rep->u.stat.count = 1;
  if (r < 0) {
    free (rep->u.stat.v);
    free (cv);
  }
  return r;
}

/* §6.9: fdatasync covers every write to the file, through any descriptor. */
static int
op_flush (struct ctl_conn *c UNUSED, struct xcopy_proto_request *req,
          struct xcopy_proto_reply *rep UNUSED, struct ctl_fail *f)
{
  const char *name = req->u.flush.name;
  char msg[XMSG_SIZE];
  struct xfile *xf;
  int r;

  r = files_open (name, false, &xf, msg);
  if (r < 0)
    return ctl_fail (f, -r, NO_INDEX, "flush.name: %s", msg);
  r = fdatasync (files_fd (xf)) == -1 ? -errno : 0;
  files_put (xf);
  if (r < 0)
    return ctl_fail (f, -r, NO_INDEX, "flush: export '%s': fdatasync: %s",
                     name, strerror (-r));
  return 0;
}

/* Walk [off, end) with SEEK_DATA / SEEK_HOLE into v (at most max). */
static int
walk_extents (struct xfile *xf, uint64_t off, uint64_t end,
              struct xcopy_proto_extent *v, size_t max, size_t *n)
{
  uint64_t next = end;
  bool hole = false;
  int r;

  for (*n = 0; off < end && *n < max; off = next) {
    if (xf->can_extents &&
        (r = files_next_extent (files_fd (xf), off, end, &hole, &next)) < 0)
      return r;
    if (next > end)
      next = end;
    if (next <= off)            /* a hole appeared between two looks */
      continue;
    v[(*n)++] = (struct xcopy_proto_extent) {
      .offset = off, .length = next - off,
      .type = hole ? XCOPY_PROTO_EXTENT_HOLE : XCOPY_PROTO_EXTENT_DATA,
    };
  }
  return 0;
}

/* §6.10 */
static int
op_extents (struct ctl_conn *c UNUSED, struct xcopy_proto_request *req,
            struct xcopy_proto_reply *rep, struct ctl_fail *f)
{
  const struct xcopy_proto_extent_req *x = &req->u.extents;
  struct xcopy_proto_extent *v = NULL;
  char msg[XMSG_SIZE];
  struct xfile *xf;
  uint64_t size;
  size_t n = 0;
  int r;

  r = files_open (x->name, false, &xf, msg);
  if (r < 0)
    return ctl_fail (f, -r, NO_INDEX, "extents.name: %s", msg);
  r = files_size (xf, &size);
  if (r < 0)
    ctl_fail (f, -r, NO_INDEX, "extents: fstat: %s", strerror (-r));
  else
    r = xcopy_proto_check_inside ("extents", x->offset, x->length, size,
                                  &f->e);
  if (r == 0 && (v = calloc (EXTENTS_PER_REPLY, sizeof *v)) == NULL)
    r = ctl_fail (f, ENOMEM, NO_INDEX, "extents: out of memory");
  if (r == 0 && (r = walk_extents (xf, x->offset, x->offset + x->length, v,
                                   EXTENTS_PER_REPLY, &n)) < 0)
    ctl_fail (f, -r, NO_INDEX, "extents: lseek: %s", strerror (-r));
  files_put (xf);
  if (r < 0) {
    free (v);
    return r;
  }
  rep->u.extents.v = v;
  rep->u.extents.count = n;
  return 0;
}

static int
op_job_status (struct ctl_conn *c UNUSED, struct xcopy_proto_request *req,
               struct xcopy_proto_reply *rep, struct ctl_fail *f)
{
  return jobs_status (req->u.job.job_id, rep, f);
}

static int
op_job_cancel (struct ctl_conn *c UNUSED, struct xcopy_proto_request *req,
               struct xcopy_proto_reply *rep, struct ctl_fail *f)
{
  return jobs_cancel (req->u.job.job_id, rep, f);
}

/* §9.3: the client went away while its operation ran. */
static void
log_hangup (struct ctl_conn *c, const struct ctl_op *op, int r,
            struct xcopy_result *res)
{
  char buf[256];

  nbdkit_error ("control: pid %d hung up during %s: %s: %s", (int) c->pid,
                op->what, r == -ECANCELED ? "stopped" : r < 0 ? "failed"
                : "finished", ctl_result_str (res, buf, sizeof buf));
}

/* Run op now, watching for a hang-up; reply with its result block. */
static int
run_sync (struct ctl_conn *c, struct ctl_op *op,
          struct xcopy_proto_reply *rep, struct ctl_fail *f)
{
  struct ctl_watch w = { .fd = c->fd, .ctl = &op->ctl };
  struct xcopy_result res;
  char msg[XMSG_SIZE] = "";
  int r;

  watch_add (&w);
  r = op->run (op, &res, msg);
  watch_del (&w);
  ctl_result_for_wire (&res, -r);
  if (w.hup)
    log_hangup (c, op, r, &res);
  ctl_op_free (op);
  if (r < 0) {
    f->res = res;
    f->has_res = true;
    return ctl_fail (f, -r, res.failed_index, "%s", msg);
  }
  rep->u.result = res;
  return 0;
}

/* COPY, FILL, ZERO, UNMAP, CLONE (§6.5-§6.8, §6.11, §8). */
static int
op_long (struct ctl_conn *c, struct xcopy_proto_request *req,
         struct xcopy_proto_reply *rep, struct ctl_fail *f)
{
  struct ctl_op *op;
  uint64_t id, total;
  int r;

  r = ctl_op_prepare (req, &op, f);
  if (r < 0)
    return r;
  if (!(req->flags & XCOPY_PROTO_F_ASYNC))
    return run_sync (c, op, rep, f);
  total = op->bytes_total;
  r = jobs_submit (op, &id, f);
  if (r < 0) {
    ctl_op_free (op);
    return r;
  }
  nbdkit_debug ("control: pid %d: job %" PRIu64 " queued", (int) c->pid, id);
  rep->flags = XCOPY_PROTO_RF_JOB;
  rep->u.started.job_id = id;
  rep->u.started.bytes_total = total;
  return 0;
}

/* §6.1, one handler per opcode. */
static handler_fn *const handlers[] = {
  [XCOPY_OP_HELLO]        = op_hello,
  [XCOPY_OP_LIST_EXPORTS] = op_list,
  [XCOPY_OP_STAT]         = op_stat,
  [XCOPY_OP_COPY]         = op_long,
  [XCOPY_OP_FILL]         = op_long,
  [XCOPY_OP_ZERO]         = op_long,
  [XCOPY_OP_UNMAP]        = op_long,
  [XCOPY_OP_FLUSH]        = op_flush,
  [XCOPY_OP_EXTENTS]      = op_extents,
  [XCOPY_OP_CLONE]        = op_long,
  [XCOPY_OP_JOB_STATUS]   = op_job_status,
  [XCOPY_OP_JOB_CANCEL]   = op_job_cancel,
};

int
ctl_dispatch (struct ctl_conn *c, struct xcopy_proto_request *req,
              struct xcopy_proto_reply *rep, struct ctl_fail *f)
{
  handler_fn *fn = NULL;

  if (req->opcode < sizeof handlers / sizeof handlers[0])
    fn = handlers[req->opcode];
  if (fn == NULL)               /* the codec knows no opcode we lack */
    return ctl_fail (f, ENOSYS, NO_INDEX, "header.opcode: 0x%04x unknown",
                     req->opcode);
  return fn (c, req, rep, f);
}
