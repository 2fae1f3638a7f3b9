/* xcopyd: EXTENDED COPY (LID1) (SPC-4 6.4) — running the batch.
 *
 * The parameter list is parsed (xcopy_parse.c) and resolved against the
 * LUs (xcopy_resolve.c) before anything moves; then the segments go to
 * the backends as one batch per run of consecutive segments with the same
 * (source LU, destination LU): one scsi_backend_copy() call each, in
 * order.  Each run holds its destination ranges exclusively and its
 * source ranges shared in the LUs' range-lock tables for its duration, so
 * it is atomic with respect to every other writer (scsi.h) without ever
 * holding two runs' locks at once.
 *
 * LID1 is synchronous for the initiator: the command completes when the
 * copy does.  The copy itself runs on a thread of its own while the
 * command's thread watches cmd->abort (ABORT TASK, nexus loss) and turns
 * it into the engine's cancel flag, which stops the copy at its next
 * piece boundary.  (Not on the target's work queue: scsi_submit() runs
 * commands there, and a command waiting for a copy queued behind it on a
 * one-thread queue would wait forever.)  Meanwhile RECEIVE COPY RESULTS
 * on the same nexus reads the progress the engine publishes
 * (copy_state.c).
 *
 * A failed copy ends COPY ABORTED with the failing segment in
 * COMMAND-SPECIFIC INFORMATION and its uncopied blocks (bytes for 0Ah) in
 * INFORMATION; the engine's exact progress guarantees nothing after that
 * point was written.  An aborted one ends TASK ABORTED.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xcopy-int.h"

#define WATCH_NS (20 * 1000 * 1000)     /* how often cmd->abort is looked at */

struct job {
  struct xs_task *t;
  const struct xc_batch *b;
  struct xc_progress *prog;
  /* Outcome */
  int err;                      /* positive errno, 0 */
  size_t failed_seg;            /* with err: the segment */
  uint64_t failed_done;         /* with err: its bytes done */
  size_t segs_done;
  uint64_t bytes_done;
  /* Completion, for the watching thread */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;
};

/* ---- The copy ---- */

/* Durable when the destination has its write cache off. */
static unsigned
copy_flags (const struct xc_run *r)
{
  return xs_lu_wce (r->dst) ? 0 : XCOPY_F_SYNC;
}

/* Where a run stopped, from the backend's exact result. */
static void
run_failed (struct job *j, const struct xc_run *r,
            const struct xcopy_result *res, int err)
{
  size_t k = res->failed_index != SIZE_MAX ? res->failed_index
    : res->ranges_done;

  if (k >= r->n)
    k = r->n - 1;
  j->err = err;
  j->failed_seg = r->first + k;
  j->failed_done = res->failed_index != SIZE_MAX ? res->failed_done : 0;
}

static int
run_one (struct job *j, const struct xc_run *r)
{
  struct rangelock_wait w = { RANGELOCK_FOREVER, &j->prog->ctl.cancel };
  struct rangelock_hold hs = RANGELOCK_HOLD_INIT, hd = RANGELOCK_HOLD_INIT;
  const struct xcopy_range *rg = j->b->ranges + r->first;
  struct xcopy_result res = { .failed_index = SIZE_MAX };
  int ret = rangelock_acquire_copy (&r->src->locks, &r->dst->locks, rg,
                                    r->n, &w, &hs, &hd);

  if (ret == 0) {
    ret = scsi_backend_copy (r->src->be, r->dst->be, rg, r->n,
                             copy_flags (r), &j->prog->ctl, &res);
    rangelock_release (&hd);
    rangelock_release (&hs);
  }
  if (ret < 0)
    run_failed (j, r, &res, -ret);
  j->segs_done += res.ranges_done;
  j->bytes_done += res.bytes_done;
  xc_state_run_done (j->t, j->prog, res.bytes_done);
  return ret;
}

static void
run_all (struct job *j)
{
  for (size_t i = 0; i < j->b->nruns; i++) {
    if (atomic_load (&j->t->cmd->abort))
      atomic_store (&j->prog->ctl.cancel, true);
    if (run_one (j, &j->b->runs[i]) < 0)
      break;
  }
}

static void *
copy_thread (void *opaque)
{
  struct job *j = opaque;

  run_all (j);
  pthread_mutex_lock (&j->lock);
  j->done = true;
  pthread_cond_signal (&j->cond);
  pthread_mutex_unlock (&j->lock);
  return NULL;
}

static void
watch (struct job *j)
{
  struct timespec ts;

  pthread_mutex_lock (&j->lock);
  while (!j->done) {
    clock_gettime (CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += WATCH_NS;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait (&j->cond, &j->lock, &ts);
    if (atomic_load (&j->t->cmd->abort))
      atomic_store (&j->prog->ctl.cancel, true);
  }
  pthread_mutex_unlock (&j->lock);
}

/* Run the batch on a copy thread while this one watches for an abort;
 * without a thread, run it here (an abort then waits for the run).
 */
static void
run_job (struct job *j)
{
  pthread_condattr_t ca;
  pthread_t th;

  pthread_condattr_init (&ca);
  pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
  pthread_cond_init (&j->cond, &ca);
  pthread_condattr_destroy (&ca);
  pthread_mutex_init (&j->lock, NULL);
  if (pthread_create (&th, NULL, copy_thread, j) == 0) {
    watch (j);
    pthread_join (th, NULL);
  }
  else
    run_all (j);
  pthread_cond_destroy (&j->cond);
  pthread_mutex_destroy (&j->lock);
}

/* ---- Status ---- */

/* errno of a copy that had started -> status. */
static enum xs_status
copy_errno (int err)
{
  switch (err) {
  case ECANCELED:
    return XS_TASK_ABORTED;
  case ENOSPC: case EDQUOT:
    return XS_COPY_ABORTED_SPACE_ALLOC;
  case ERANGE:                          /* a LU shrank under the copy */
    return XS_COPY_ABORTED_LBA_OUT_OF_RANGE;
  case EROFS: case EPERM: case EACCES:
    return XS_WRITE_PROTECTED;
  case ENOTCONN: case ECONNRESET: case ECONNREFUSED: case EPIPE:
  case ESHUTDOWN: case ETIMEDOUT: case EHOSTUNREACH:
    return XS_COPY_ABORTED_NOT_REACHABLE;
  default:
    return XS_COPY_ABORTED_DEVICE_FAILURE;
  }
}

static enum xs_status
job_status (struct xs_task *t, const struct xc_list *l, const struct job *j)
{
  const struct xc_segment *s;
  enum xs_status st;

  if (j->err == 0)
    return XS_GOOD;
  st = copy_errno (j->err);
  if (xs_status_info (st)->key == SCSI_SK_COPY_ABORTED) {
    s = &l->seg[j->failed_seg];
    xs_set_csi (t, j->failed_seg);
    xs_set_info (t, s->count - j->failed_done / s->unit);
  }
  return st;
}

/* What RECEIVE COPY RESULTS will say about this command. */
static void
outcome (struct xs_task *t, enum xs_status s, const struct job *j,
         struct xc_outcome *o)
{
  const struct xs_status_info *si = xs_status_info (s);

  memset (o, 0, sizeof *o);
  o->status = si->status;
  if (si->status == SCSI_STATUS_CHECK_CONDITION)
    o->sense_len = xs_build_sense (o->sense, s, &t->err,
                                   xs_lu_d_sense (t->lu));
  o->segs_done = j->segs_done;
  o->bytes_done = j->bytes_done;
}

static enum xs_status
execute (struct xs_task *t, const struct xc_list *l)
{
  struct xc_progress prog = { 0 };
  struct job j = { .t = t, .prog = &prog };
  struct xc_outcome o;
  struct xc_batch b;
  struct xc_rec *rec;
  enum xs_status s = xc_resolve (t, l, &b), busy;

  j.b = &b;
  prog.seg_end = b.seg_end;
  prog.nseg = s == XS_GOOD ? b.nseg : 0;
  busy = xc_state_begin (t, l->list_id, l->usage, &prog, &rec);
  if (busy != XS_GOOD) {
    t->err = (struct xs_detail) { .bit = -1 };
    xc_batch_free (&b);
    return busy;
  }
  if (s == XS_GOOD) {
    run_job (&j);
    s = job_status (t, l, &j);
  }
  outcome (t, s, &j, &o);
  xc_state_end (t, rec, &o);
  xc_batch_free (&b);
  return s;
}

/* SPC-4 6.4.1: EXTENDED COPY (LID1); PARAMETER LIST LENGTH in bytes
 * 10..13, 0 meaning no copy at all.
 */
enum xs_status
xs_xcopy_lid1 (struct xs_task *t)
{
  uint32_t pll = get_be32 (t->cdb + 10);
  struct xc_list *l;
  const uint8_t *p;
  enum xs_status s;

  if (pll == 0)
    return XS_GOOD;
  if ((s = xs_data_out (t, pll, &p)) != XS_GOOD)
    return s;
  if ((l = malloc (sizeof *l)) == NULL)
    return XS_TASK_SET_FULL;
  s = xc_parse (p, pll, NULL, l, &t->err);
  if (s == XS_GOOD)
    s = execute (t, l);
  xc_list_free (l);
  free (l);
  return s;
}
