/* xcopyd: nbdkit-xcopy-plugin, control socket: the long operations COPY,
 * FILL, ZERO, UNMAP and CLONE (PROTOCOL.md §6.5-§6.8, §6.11).
 *
 * Preparing an operation makes every check of §6 in the order §6.5 gives
 * (exports exist, the destination is writable, every range fits), so that
 * a refusal touches nothing and an ASYNC request that passes is certain
 * to become a job (§8).  Running it takes the range locks of §9.1 — all
 * ranges of the batch at once, waiting in arrival order and giving up
 * when cancelled — then hands the batch to the engine, which reports
 * exact progress and stops at a range or piece boundary on cancel.
 *
 * The engine's fill, zero and punch take no cancel flag, so FILL, ZERO
 * and UNMAP are cut here into pieces of XCOPY_CTL_PIECE bytes (whole
 * patterns for FILL), the same unit copies use.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "control.h"
#include "clone.h"
#include "minmax.h"

#define NO_INDEX XCOPY_PROTO_NO_INDEX
/* CLONE locks the whole source, whatever its size. */
#define WHOLE_FILE ((uint64_t) INT64_MAX)

/* "copy", "fill", ... for messages. */
static const char *
verb (const struct ctl_op *op)
{
  switch (op->opcode) {
  case XCOPY_OP_COPY:  return "copy";
  case XCOPY_OP_FILL:  return "fill";
  case XCOPY_OP_ZERO:  return "zero";
  case XCOPY_OP_UNMAP: return "unmap";
  default:             return "clone";
  }
}

/* §6.2 flags as engine flags. */
static unsigned
engine_flags (uint32_t flags)
{
  unsigned x = 0;

  if (flags & XCOPY_PROTO_F_SYNC)       x |= XCOPY_F_SYNC;
  if (flags & XCOPY_PROTO_F_ALLOCATE)   x |= XCOPY_F_ALLOCATE;
  if (flags & XCOPY_PROTO_F_MAY_TRIM)   x |= XCOPY_F_MAY_TRIM;
  if (flags & XCOPY_PROTO_F_FAST)       x |= XCOPY_F_FAST_ZERO;
  if (flags & XCOPY_PROTO_F_NO_REFLINK) x |= XCOPY_F_NO_REFLINK;
  if (flags & XCOPY_PROTO_F_NO_CFR)     x |= XCOPY_F_NO_CFR;
  if (flags & XCOPY_PROTO_F_NO_SPLICE)  x |= XCOPY_F_NO_SPLICE;
  return x;
}

void
ctl_op_free (struct ctl_op *op)
{
  if (op == NULL)
    return;
  files_put (op->src);
  files_put (op->dst);
  free (op->ranges);
  free (op->spans);
  free (op->ends);
  free (op->pattern);
  free (op);
}

void
ctl_op_progress (const struct ctl_op *op, struct xcopy_result *res)
{
  uint64_t done = atomic_load (&op->ctl.bytes_done);
  size_t lo = 0, hi = op->ends ? op->count : 0, mid;

  /* The ranges whose running total the engine has passed are done. */
  while (lo < hi) {
    mid = lo + (hi - lo) / 2;
    if (op->ends[mid] <= done)
      lo = mid + 1;
    else
      hi = mid;
  }
  *res = (struct xcopy_result) { .bytes_done = MIN (done, op->bytes_total),
                                 .ranges_done = lo,
                                 .failed_index = SIZE_MAX };
}

/* ---- checks ------------------------------------------------------------ */

/* §6.5: the export exists (ENOENT), then it is writable (EROFS). */
static int
open_export (const char *field, const char *name, bool write,
             struct xfile **xf, struct ctl_fail *f)
{
  char msg[XMSG_SIZE];
  int r;

  r = files_open (name, write && !xcopy_readonly (), xf, msg);
  if (r < 0)
    return ctl_fail (f, -r, NO_INDEX, "%s: %s", field, msg);
  if (write && xcopy_readonly ()) {
    files_put (*xf);
    *xf = NULL;
    return ctl_fail (f, EROFS, NO_INDEX, "%s: export '%s' is read-only"
                     " (readonly=true)", field, name);
  }
  return 0;
}

static int
export_size (struct xfile *xf, const char *field, uint64_t *size,
             struct ctl_fail *f)
{
  int r = files_size (xf, size);

  if (r < 0)
    return ctl_fail (f, -r, NO_INDEX, "%s: fstat: %s", field, strerror (-r));
  return 0;
}

/* bytes_total (§8) and, for batches, the running totals that turn bytes
 * done into ranges done for JOB_STATUS.
 */
static int
set_totals (struct ctl_op *op, struct ctl_fail *f)
{
  uint64_t sum = 0;
  size_t i;

  if (op->count > 1 &&
      (op->ends = malloc (op->count * sizeof *op->ends)) == NULL)
    return ctl_fail (f, ENOMEM, NO_INDEX, "%s: out of memory", verb (op));
  for (i = 0; i < op->count; i++) {
    sum += op->ranges ? op->ranges[i].len : op->spans[i].length;
    if (op->ends)
      op->ends[i] = sum;
  }
  op->bytes_total = sum;        /* the codec checked it cannot overflow */
  return 0;
}

/* FILL and ZERO: a batch of one span. */
static int
one_span (struct ctl_op *op, uint64_t off, uint64_t len, struct ctl_fail *f)
{
  op->spans = malloc (sizeof *op->spans);
  if (op->spans == NULL)
    return ctl_fail (f, ENOMEM, NO_INDEX, "%s: out of memory", verb (op));
  op->spans[0] = (struct xcopy_proto_span) { off, len };
  op->count = 1;
  return set_totals (op, f);
}

/* ---- running ----------------------------------------------------------- */

static int
lock_failed (struct ctl_op *op, int r, struct xcopy_result *res,
             char msg[XMSG_SIZE])
{
  /* Cancelled while waiting: stopped before range 0 (§6.13). */
  *res = (struct xcopy_result) {
    .failed_index = r == -ECANCELED ? 0 : SIZE_MAX, .error = -r,
  };
  snprintf (msg, XMSG_SIZE, "%s: %s while waiting for range locks",
            verb (op), strerror (-r));
  return r;
}

/* "range 3: No space left on device after 1M", "zero: ...". */
static void
describe (const struct ctl_op *op, int r, const struct xcopy_result *res,
          char msg[XMSG_SIZE])
{
  char done[XCOPY_PROTO_SIZE_STR];
  const char *item = op->opcode == XCOPY_OP_COPY ? "range"
    : op->opcode == XCOPY_OP_UNMAP ? "span" : NULL;

  if (r == -EOPNOTSUPP && op->opcode == XCOPY_OP_UNMAP)
    snprintf (msg, XMSG_SIZE, "unmap: the export's file system cannot"
              " deallocate (no hole punching)");
  else if (r == -EOPNOTSUPP && op->opcode == XCOPY_OP_ZERO)
    snprintf (msg, XMSG_SIZE, "zero: FAST, but zeroing here would mean"
              " writing zeroes");
  else if (res->failed_index == SIZE_MAX)
    snprintf (msg, XMSG_SIZE, "%s: %s", verb (op), strerror (-r));
  else if (item != NULL)
    snprintf (msg, XMSG_SIZE, "%s %zu: %s after %s of it", item,
              res->failed_index, strerror (-r),
              xcopy_proto_size_str (res->failed_done, done));
  else
    snprintf (msg, XMSG_SIZE, "%s: %s after %s", verb (op), strerror (-r),
              xcopy_proto_size_str (res->failed_done, done));
}

static int
copy_locked (struct ctl_op *op, struct xcopy_result *res)
{
  struct xcopy_pair local, *p = &op->dst->pair;
  _Atomic unsigned *caps = NULL;
  int r;

  if (op->src != op->dst) {
    xcopy_pair_init (&local, files_fd (op->src), atomic_load (&op->dst->fd_rw),
                     &xcopy_plugin_stats);
    caps = files_pair_caps (op->src, op->dst);
    if (caps != NULL)
      atomic_store (&local.caps, atomic_load (caps));
    p = &local;
  }
  r = xcopy_copyv_ctl (p, op->ranges, op->count, engine_flags (op->flags),
                       &op->ctl, res);
  if (caps != NULL)
    atomic_fetch_and (caps, atomic_load (&local.caps));
  return r;
}

/* §9.1: sources shared, destinations exclusive, the whole batch at once. */
static int
run_copy (struct ctl_op *op, struct xcopy_result *res, char msg[XMSG_SIZE])
{
  struct rangelock_hold hs = RANGELOCK_HOLD_INIT, hd = RANGELOCK_HOLD_INIT;
  struct rangelock_wait w = { RANGELOCK_FOREVER, &op->ctl.cancel };
  int r;

  r = rangelock_acquire_copy (&op->src->locks, &op->dst->locks, op->ranges,
                              op->count, &w, &hs, &hd);
  if (r < 0)
    return lock_failed (op, r, res, msg);
  r = copy_locked (op, res);
  rangelock_release (&hs);
  rangelock_release (&hd);
  if (r < 0)
    describe (op, r, res, msg);
  return r;
}

static int
fill_piece (struct ctl_op *op, uint64_t off, uint64_t len,
            struct xcopy_result *res)
{
  return xcopy_fill (&op->dst->pair, off, len, op->pattern, op->patlen,
                     engine_flags (op->flags) & XCOPY_F_MAY_TRIM, res);
}

static int
zero_piece (struct ctl_op *op, uint64_t off, uint64_t len,
            struct xcopy_result *res)
{
  return xcopy_zero (&op->dst->pair, off, len, engine_flags (op->flags) &
                     (XCOPY_F_MAY_TRIM | XCOPY_F_FAST_ZERO), res);
}

static int
punch_piece (struct ctl_op *op, uint64_t off, uint64_t len,
             struct xcopy_result *res)
{
  return xcopy_punch (&op->dst->pair, off, len, res);
}

/* One span in pieces: progress published after each, a cancel honoured
 * before each.  *done: bytes of the span done.
 */
static int
run_pieces (struct ctl_op *op, uint64_t off, uint64_t len, uint64_t base,
            uint64_t *done)
{
  uint64_t piece = XCOPY_CTL_PIECE, n;
  struct xcopy_result pr;
  int r;

  if (op->patlen > 1)
    piece -= piece % op->patlen;        /* the pattern stays in phase */
  for (*done = 0; *done < len; ) {
    if (atomic_load (&op->ctl.cancel))
      return -ECANCELED;
    n = MIN (piece, len - *done);
    r = op->piece (op, off + *done, n, &pr);
    *done += r == 0 ? n : pr.failed_done;
    atomic_store (&op->ctl.bytes_done, base + *done);
    if (r < 0)
      return r;
  }
  return 0;
}

static int
spans_locked (struct ctl_op *op, struct xcopy_result *res)
{
  uint64_t done;
  size_t i;
  int r;

  for (i = 0; i < op->count; i++) {
    r = run_pieces (op, op->spans[i].offset, op->spans[i].length,
                    res->bytes_done, &done);
    res->bytes_done += done;
    if (r < 0) {
      res->ranges_done = res->failed_index = i;
      res->failed_done = done;
      return r;
    }
    res->ranges_done = i + 1;
  }
  if ((op->flags & XCOPY_PROTO_F_SYNC) &&
      fdatasync (atomic_load (&op->dst->fd_rw)) == -1)
    return -errno;              /* every span done: failed_index none */
  return 0;
}

static int
lock_spans (struct ctl_op *op, struct rangelock_hold *hold)
{
  struct rangelock_wait w = { RANGELOCK_FOREVER, &op->ctl.cancel };
  struct rangelock_req *reqs;
  size_t i;
  int r;

  if (op->count == 1)
    return rangelock_lock (&op->dst->locks, hold, op->spans[0].offset,
                           op->spans[0].length, RANGELOCK_EXCL, &w);
  reqs = malloc (op->count * sizeof *reqs);
  if (reqs == NULL)
    return -ENOMEM;
  for (i = 0; i < op->count; i++)
    reqs[i] = (struct rangelock_req) { op->spans[i].offset,
                                       op->spans[i].length, RANGELOCK_EXCL };
  r = rangelock_acquire (&op->dst->locks, hold, reqs, op->count, &w);
  free (reqs);
  return r;
}

/* FILL, ZERO, UNMAP: every span exclusive, all at once (§9.1). */
static int
run_spans (struct ctl_op *op, struct xcopy_result *res, char msg[XMSG_SIZE])
{
  struct rangelock_hold hold = RANGELOCK_HOLD_INIT;
  int r;

  *res = (struct xcopy_result) { .failed_index = SIZE_MAX };
  r = lock_spans (op, &hold);
  if (r < 0)
    return lock_failed (op, r, res, msg);
  r = spans_locked (op, res);
  rangelock_release (&hold);
  res->error = -r;
  if (r < 0)
    describe (op, r, res, msg);
  return r;
}

/* §9.2 (4): the source, shared, for the whole clone: a point in time. */
static int
run_clone (struct ctl_op *op, struct xcopy_result *res, char msg[XMSG_SIZE])
{
  struct rangelock_hold hold = RANGELOCK_HOLD_INIT;
  struct rangelock_wait w = { RANGELOCK_FOREVER, &op->ctl.cancel };
  unsigned flags = XCOPY_CLONE_SOURCE_MODE |
    (engine_flags (op->flags) & XCOPY_CLONE_COPY_FLAGS);
  int r;

  if (op->flags & XCOPY_PROTO_F_REPLACE)
    flags |= XCOPY_CLONE_REPLACE;
  r = rangelock_lock (&op->src->locks, &hold, 0, WHOLE_FILE,
                      RANGELOCK_SHARED, &w);
  if (r < 0)
    return lock_failed (op, r, res, msg);
  r = xcopy_clone (files_fd (op->src), files_dirfd (), op->clone_dst, flags,
                   &xcopy_plugin_stats, &op->ctl, res);
  rangelock_release (&hold);
  if (r < 0)
    describe (op, r, res, msg);
  return r;
}

/* ---- preparing --------------------------------------------------------- */

static int
prepare_copy (struct xcopy_proto_request *req, struct ctl_op *op,
              struct ctl_fail *f)
{
  struct xcopy_proto_copy *c = &req->u.copy;
  char total[XCOPY_PROTO_SIZE_STR];
  uint64_t ssize, dsize;
  int r;

  op->ranges = c->ranges;
  op->count = c->count;
  c->ranges = NULL;
  c->count = 0;
  if ((r = open_export ("copy.src", c->src, false, &op->src, f)) < 0 ||
      (r = open_export ("copy.dst", c->dst, true, &op->dst, f)) < 0 ||
      (r = export_size (op->src, "copy.src", &ssize, f)) < 0 ||
      (r = export_size (op->dst, "copy.dst", &dsize, f)) < 0 ||
      (r = xcopy_proto_check_ranges (op->ranges, op->count, ssize, dsize,
                                     &f->e)) < 0 ||
      (r = set_totals (op, f)) < 0)
    return r;
  snprintf (op->what, sizeof op->what, "COPY '%s' -> '%s' (%zu ranges, %s)",
            c->src, c->dst, op->count,
            xcopy_proto_size_str (op->bytes_total, total));
  op->run = run_copy;
  return 0;
}

static int
prepare_fill (struct xcopy_proto_request *req, struct ctl_op *op,
              struct ctl_fail *f)
{
  struct xcopy_proto_fill *x = &req->u.fill;
  char o[XCOPY_PROTO_SIZE_STR], l[XCOPY_PROTO_SIZE_STR];
  uint64_t size;
  int r;

  if ((r = open_export ("fill.name", x->name, true, &op->dst, f)) < 0 ||
      (r = export_size (op->dst, "fill.name", &size, f)) < 0 ||
      (r = xcopy_proto_check_inside ("fill", x->offset, x->length, size,
                                     &f->e)) < 0 ||
      (r = one_span (op, x->offset, x->length, f)) < 0)
    return r;
  op->pattern = x->pattern;
  op->patlen = x->patlen;
  x->pattern = NULL;
  x->patlen = 0;
  snprintf (op->what, sizeof op->what, "FILL '%s' %s+%s (%zu-byte pattern)",
            x->name, xcopy_proto_size_str (x->offset, o),
            xcopy_proto_size_str (x->length, l), op->patlen);
  op->run = run_spans;
  op->piece = fill_piece;
  return 0;
}

static int
prepare_zero (struct xcopy_proto_request *req, struct ctl_op *op,
              struct ctl_fail *f)
{
  struct xcopy_proto_extent_req *x = &req->u.zero;
  char o[XCOPY_PROTO_SIZE_STR], l[XCOPY_PROTO_SIZE_STR];
  uint64_t size;
  int r;

  if ((r = open_export ("zero.name", x->name, true, &op->dst, f)) < 0 ||
      (r = export_size (op->dst, "zero.name", &size, f)) < 0 ||
      (r = xcopy_proto_check_inside ("zero", x->offset, x->length, size,
                                     &f->e)) < 0 ||
      (r = one_span (op, x->offset, x->length, f)) < 0)
    return r;
  snprintf (op->what, sizeof op->what, "ZERO '%s' %s+%s", x->name,
            xcopy_proto_size_str (x->offset, o),
            xcopy_proto_size_str (x->length, l));
  op->run = run_spans;
  op->piece = zero_piece;
  return 0;
}

static int
prepare_unmap (struct xcopy_proto_request *req, struct ctl_op *op,
               struct ctl_fail *f)
{
  struct xcopy_proto_unmap *u = &req->u.unmap;
  char total[XCOPY_PROTO_SIZE_STR];
  uint64_t size;
  int r;

  op->spans = u->spans;
  op->count = u->count;
  u->spans = NULL;
  u->count = 0;
  if ((r = open_export ("unmap.name", u->name, true, &op->dst, f)) < 0 ||
      (r = export_size (op->dst, "unmap.name", &size, f)) < 0 ||
      (r = xcopy_proto_check_spans (op->spans, op->count, size,
                                    &f->e)) < 0 ||
      (r = set_totals (op, f)) < 0)
    return r;
  snprintf (op->what, sizeof op->what, "UNMAP '%s' (%zu spans, %s)",
            u->name, op->count,
            xcopy_proto_size_str (op->bytes_total, total));
  op->run = run_spans;
  op->piece = punch_piece;
  return 0;
}

/* §6.11: dst is a new entry of the exports' directory (file=: the
 * image's directory), not the source itself, absent unless REPLACE.
 */
static int
check_clone_dst (const char *src, const char *dst, uint32_t flags,
                 struct ctl_fail *f)
{
  char entry[NAME_MAX + 1], msg[XMSG_SIZE];
  struct stat st;
  int r;

  if (xcopy_readonly ())
    return ctl_fail (f, EROFS, NO_INDEX, "clone.dst: the server is"
                     " read-only (readonly=true)");
  if ((r = files_entry_name (src, entry, msg)) < 0)
    return ctl_fail (f, -r, NO_INDEX, "clone.src: %s", msg);
  if (strcmp (entry, dst) == 0)
    return ctl_fail (f, EINVAL, NO_INDEX, "clone.dst: '%s' is the source"
                     " export itself", dst);
  if (fstatat (files_dirfd (), dst, &st, AT_SYMLINK_NOFOLLOW) == -1)
    return 0;
  if (!(flags & XCOPY_PROTO_F_REPLACE))
    return ctl_fail (f, EEXIST, NO_INDEX, "clone.dst: '%s' exists (and"
                     " REPLACE is not set)", dst);
  if (S_ISDIR (st.st_mode))
    return ctl_fail (f, EISDIR, NO_INDEX, "clone.dst: '%s' is a directory",
                     dst);
  return 0;
}

static int
prepare_clone (struct xcopy_proto_request *req, struct ctl_op *op,
               struct ctl_fail *f)
{
  struct xcopy_proto_clone *x = &req->u.clone;
  uint64_t size;
  int r;

  if ((r = open_export ("clone.src", x->src, false, &op->src, f)) < 0 ||
      (r = check_clone_dst (x->src, x->dst, op->flags, f)) < 0 ||
      (r = export_size (op->src, "clone.src", &size, f)) < 0)
    return r;
  snprintf (op->clone_dst, sizeof op->clone_dst, "%s", x->dst);
  op->count = 1;
  op->bytes_total = size;
  snprintf (op->what, sizeof op->what, "CLONE '%s' -> '%s'", x->src, x->dst);
  op->run = run_clone;
  return 0;
}

int
ctl_op_prepare (struct xcopy_proto_request *req, struct ctl_op **out,
                struct ctl_fail *f)
{
  int (*prepare) (struct xcopy_proto_request *, struct ctl_op *,
                  struct ctl_fail *);
  struct ctl_op *op;
  int r;

  switch (req->opcode) {
  case XCOPY_OP_COPY:  prepare = prepare_copy;  break;
  case XCOPY_OP_FILL:  prepare = prepare_fill;  break;
  case XCOPY_OP_ZERO:  prepare = prepare_zero;  break;
  case XCOPY_OP_UNMAP: prepare = prepare_unmap; break;
  case XCOPY_OP_CLONE: prepare = prepare_clone; break;
  default:
    return ctl_fail (f, ENOSYS, NO_INDEX, "header.opcode: 0x%04x is not a"
                     " long operation", req->opcode);
  }
  op = calloc (1, sizeof *op);
  if (op == NULL)
    return ctl_fail (f, ENOMEM, NO_INDEX, "out of memory");
  op->opcode = req->opcode;
  op->flags = req->flags;
  atomic_init (&op->ctl.cancel, false);
  atomic_init (&op->ctl.bytes_done, 0);
  r = prepare (req, op, f);
  if (r < 0) {
    ctl_op_free (op);
    return r;
  }
  *out = op;
  return 0;
}
