/* xcopyd: nbdkit-xcopy-plugin, control socket: jobs (PROTOCOL.md §8) and
 * the hang-up watcher (§9.3).
 *
 * Jobs belong to the server, not to a connection.  A fixed pool of
 * workers runs them in submission order; more wait QUEUED.  The table
 * keeps every job in ascending id order (ids are never reused) until it
 * has ended at least JOB_KEEP_SECS ago and a JOB_STATUS or JOB_CANCEL has
 * reported its final state; at most XCOPY_PROTO_MAX_JOBS are known.  A
 * running job's progress is read from its struct xcopy_ctl, which the
 * engine updates at piece boundaries.
 *
 * The watcher polls the connections whose synchronous operation is
 * running: on a Unix stream socket POLLHUP means the peer closed (or was
 * killed) — a half-close (shutdown SHUT_WR) only gives POLLRDHUP, and
 * such a client still gets its reply.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"

#define JOB_WORKERS     4
#define JOB_KEEP_SECS   60
#define WATCH_POLL_MS   100

struct job {
  struct job *next;             /* the table, ascending id */
  struct job *qnext;            /* the queue */
  uint64_t id;
  uint16_t opcode;
  uint16_t state;               /* XCOPY_PROTO_JOB_* */
  uint64_t bytes_total;
  struct ctl_op *op;            /* until the job ends */
  struct xcopy_result res;      /* the outcome */
  struct timespec ended;        /* CLOCK_MONOTONIC */
  bool reported;                /* a reply has shown the final state */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static struct job *table, *table_tail;
static size_t njobs;
static struct job *queue, *queue_tail;
static uint64_t next_id = 1;
static bool stopping;
static pthread_t workers[JOB_WORKERS];
static size_t nworkers;

static pthread_cond_t watch_cond = PTHREAD_COND_INITIALIZER;
static struct ctl_watch *watches;
static uint64_t watch_gen;
static pthread_t watcher;
static bool watcher_started;

static bool
finished (const struct job *j)
{
  return j->state >= XCOPY_PROTO_JOB_DONE;
}

/* Forget jobs that may be forgotten (§8).  lock held. */
static void
reap (void)
{
  struct timespec now;
  struct job **pp = &table, *j;

  clock_gettime (CLOCK_MONOTONIC, &now);
  table_tail = NULL;
  while ((j = *pp) != NULL) {
    if (finished (j) && j->reported &&
        now.tv_sec - j->ended.tv_sec >= JOB_KEEP_SECS) {
      *pp = j->next;
      njobs--;
      free (j);
      continue;
    }
    table_tail = j;
    pp = &j->next;
  }
}

/* Record how the job ended.  lock held; the caller frees the op. */
static void
finish (struct job *j, int r, const struct xcopy_result *res)
{
  j->res = *res;
  ctl_result_for_wire (&j->res, -r);
  j->state = r == 0 ? XCOPY_PROTO_JOB_DONE : r == -ECANCELED
    ? XCOPY_PROTO_JOB_CANCELLED : XCOPY_PROTO_JOB_FAILED;
  if (j->res.bytes_done > j->bytes_total)      /* the source grew */
    j->bytes_total = j->res.bytes_done;
  j->op = NULL;
  clock_gettime (CLOCK_MONOTONIC, &j->ended);
  pthread_cond_broadcast (&done_cond);
}

static void
run_job (struct job *j, struct ctl_op *op)
{
  struct xcopy_result res;
  char msg[XMSG_SIZE] = "", buf[256];
  int r;

  r = op->run (op, &res, msg);
  pthread_mutex_lock (&lock);
  finish (j, r, &res);
  nbdkit_debug ("control: job %" PRIu64 " (%s) %s: %s%s%s", j->id, op->what,
                xcopy_proto_job_state_name (j->state),
                ctl_result_str (&j->res, buf, sizeof buf), r ? ": " : "",
                msg);
  pthread_mutex_unlock (&lock);
  ctl_op_free (op);
}

static void *
worker_main (void *arg UNUSED)
{
  struct job *j;

  pthread_mutex_lock (&lock);
  for (;;) {
    while (queue == NULL && !stopping)
      pthread_cond_wait (&work_cond, &lock);
    if (queue == NULL)
      break;
    j = queue;
    queue = j->qnext;
    if (queue == NULL)
      queue_tail = NULL;
    j->state = XCOPY_PROTO_JOB_RUNNING;
    pthread_mutex_unlock (&lock);
    run_job (j, j->op);
    pthread_mutex_lock (&lock);
  }
  pthread_mutex_unlock (&lock);
  return NULL;
}

int
jobs_submit (struct ctl_op *op, uint64_t *id, struct ctl_fail *f)
{
  struct job *j;

  pthread_mutex_lock (&lock);
  reap ();
  if (stopping || njobs >= XCOPY_PROTO_MAX_JOBS || nworkers == 0) {
    pthread_mutex_unlock (&lock);
    if (stopping || nworkers == 0)
      return ctl_fail (f, ESHUTDOWN, XCOPY_PROTO_NO_INDEX, "jobs: the"
                       " server is shutting down");
    return ctl_fail (f, EAGAIN, XCOPY_PROTO_NO_INDEX, "jobs: %u known, the"
                     " limit (finished jobs are kept %d s and until"
                     " reported)", XCOPY_PROTO_MAX_JOBS, JOB_KEEP_SECS);
  }
  j = calloc (1, sizeof *j);
  if (j == NULL) {
    pthread_mutex_unlock (&lock);
    return ctl_fail (f, ENOMEM, XCOPY_PROTO_NO_INDEX, "jobs: out of memory");
  }
  *j = (struct job) { .id = next_id++, .opcode = op->opcode, .op = op,
                      .state = XCOPY_PROTO_JOB_QUEUED,
                      .bytes_total = op->bytes_total };
  if (table_tail != NULL)
    table_tail->next = j;
  else
    table = j;
  table_tail = j;
  if (queue_tail != NULL)
    queue_tail->qnext = j;
  else
    queue = j;
  queue_tail = j;
  njobs++;
  *id = j->id;
  pthread_cond_signal (&work_cond);
  pthread_mutex_unlock (&lock);
  return 0;
}

/* §6.12 entry.  lock held. */
static void
entry (struct job *j, struct xcopy_proto_job *out)
{
  *out = (struct xcopy_proto_job) {
    .job_id = j->id, .bytes_total = j->bytes_total,
    .opcode = j->opcode, .state = j->state,
    .result = { .failed_index = SIZE_MAX },
  };
  if (j->state == XCOPY_PROTO_JOB_RUNNING)
    ctl_op_progress (j->op, &out->result);
  else if (finished (j)) {
    out->result = j->res;
    j->reported = true;
  }
}

static struct job *
find (uint64_t id)
{
  struct job *j;

  for (j = table; j != NULL && j->id < id; j = j->next)
    ;
  return j && j->id == id ? j : NULL;
}

int
jobs_status (uint64_t id, struct xcopy_proto_reply *rep, struct ctl_fail *f)
{
  struct xcopy_proto_job *v;
  struct job *j;
  size_t n = 0;

  pthread_mutex_lock (&lock);
  reap ();
  j = id ? find (id) : table;
  v = calloc (id ? 1 : njobs ? njobs : 1, sizeof *v);
  for (; v != NULL && j != NULL && (id == 0 || n == 0); j = j->next)
    entry (j, &v[n++]);
  pthread_mutex_unlock (&lock);
  if (v == NULL)
    return ctl_fail (f, ENOMEM, XCOPY_PROTO_NO_INDEX, "jobs: out of memory");
  if (id != 0 && n == 0) {
    free (v);
    return ctl_fail (f, ENOENT, XCOPY_PROTO_NO_INDEX, "job.job_id: no job %"
                     PRIu64, id);
  }
  rep->u.jobs.v = v;
  rep->u.jobs.count = n;
  return 0;
}

/* Take a queued job off the queue.  lock held. */
static void
unqueue (struct job *j)
{
  struct job **pp;

  for (pp = &queue; *pp != j; pp = &(*pp)->qnext)
    ;
  *pp = j->qnext;
  queue_tail = NULL;
  for (j = queue; j != NULL; j = j->qnext)
    queue_tail = j;
}

/* §6.13: a queued job ends at once with no progress; a running one stops
 * at its next range or piece boundary, and we wait for that.
 */
int
jobs_cancel (uint64_t id, struct xcopy_proto_reply *rep, struct ctl_fail *f)
{
  const struct xcopy_result none = { .failed_index = 0 };
  struct ctl_op *drop = NULL;
  struct job *j;

  rep->u.jobs.v = calloc (1, sizeof *rep->u.jobs.v);
  if (rep->u.jobs.v == NULL)
    return ctl_fail (f, ENOMEM, XCOPY_PROTO_NO_INDEX, "jobs: out of memory");
  pthread_mutex_lock (&lock);
  j = find (id);
  if (j != NULL && j->state == XCOPY_PROTO_JOB_QUEUED) {
    unqueue (j);
    drop = j->op;
    finish (j, -ECANCELED, &none);
  }
  if (j != NULL && j->state == XCOPY_PROTO_JOB_RUNNING) {
    atomic_store (&j->op->ctl.cancel, true);
    while (j->state == XCOPY_PROTO_JOB_RUNNING)
      pthread_cond_wait (&done_cond, &lock);
  }
  if (j != NULL)
    entry (j, rep->u.jobs.v);
  pthread_mutex_unlock (&lock);
  ctl_op_free (drop);
  if (j == NULL) {
    free (rep->u.jobs.v);
    return ctl_fail (f, ENOENT, XCOPY_PROTO_NO_INDEX, "job.job_id: no job %"
                     PRIu64, id);
  }
  rep->u.jobs.count = 1;
  return 0;
}

/* ---- the hang-up watcher ----------------------------------------------- */

void
watch_add (struct ctl_watch *w)
{
  pthread_mutex_lock (&lock);
  w->gen = ++watch_gen;
  w->hup = false;
  w->next = watches;
  watches = w;
  if (stopping)
    atomic_store (&w->ctl->cancel, true);
  pthread_cond_signal (&watch_cond);
  pthread_mutex_unlock (&lock);
}

void
watch_del (struct ctl_watch *w)
{
  struct ctl_watch **pp;

  pthread_mutex_lock (&lock);
  for (pp = &watches; *pp != w; pp = &(*pp)->next)
    ;
  *pp = w->next;
  pthread_mutex_unlock (&lock);
}

/* The watch (w, gen) if it is still registered.  lock held. */
static struct ctl_watch *
still_watched (const struct ctl_watch *w, uint64_t gen)
{
  struct ctl_watch *x;

  for (x = watches; x != NULL; x = x->next) {
    if (x == w && x->gen == gen)
      return x;
  }
  return NULL;
}

/* Poll the watched connections once (lock held, dropped while polling). */
static void
watch_once (void)
{
  struct pollfd fds[CTL_MAX_CONNS];
  struct { const struct ctl_watch *w; uint64_t gen; } who[CTL_MAX_CONNS];
  struct ctl_watch *w;
  size_t i, n = 0;

  for (w = watches; w != NULL && n < CTL_MAX_CONNS; w = w->next, n++) {
    fds[n] = (struct pollfd) { .fd = w->fd, .events = 0 };
    who[n].w = w;
    who[n].gen = w->gen;
  }
  pthread_mutex_unlock (&lock);
  poll (fds, n, WATCH_POLL_MS);
  pthread_mutex_lock (&lock);
  for (i = 0; i < n; i++) {
    if (!(fds[i].revents & (POLLHUP | POLLERR)) ||
        (w = still_watched (who[i].w, who[i].gen)) == NULL || w->hup)
      continue;
    w->hup = true;
    atomic_store (&w->ctl->cancel, true);
  }
}

static void *
watch_main (void *arg UNUSED)
{
  pthread_mutex_lock (&lock);
  while (!stopping) {
    if (watches == NULL)
      pthread_cond_wait (&watch_cond, &lock);
    else
      watch_once ();
  }
  pthread_mutex_unlock (&lock);
  return NULL;
}

/* ---- start and stop ---------------------------------------------------- */

int
jobs_start (void)
{
  int r;

  stopping = false;
  r = pthread_create (&watcher, NULL, watch_main, NULL);
  if (r != 0)
    return -r;
  watcher_started = true;
  for (nworkers = 0; nworkers < JOB_WORKERS; nworkers++) {
    r = pthread_create (&workers[nworkers], NULL, worker_main, NULL);
    if (r != 0)
      return nworkers > 0 ? 0 : -r;
  }
  return 0;
}

/* Cancel everything (queued jobs end at once, running jobs and watched
 * operations at their next boundary) and wait for the workers.  The
 * table stays for connection threads still finishing: jobs_free.
 */
void
jobs_stop (void)
{
  const struct xcopy_result none = { .failed_index = 0 };
  struct ctl_watch *w;
  struct job *j;
  size_t i;

  pthread_mutex_lock (&lock);
  stopping = true;
  for (w = watches; w != NULL; w = w->next)
    atomic_store (&w->ctl->cancel, true);
  for (j = table; j != NULL; j = j->next) {
    if (j->state == XCOPY_PROTO_JOB_RUNNING)
      atomic_store (&j->op->ctl.cancel, true);
  }
  while ((j = queue) != NULL) {
    queue = j->qnext;
    ctl_op_free (j->op);
    finish (j, -ECANCELED, &none);
  }
  queue_tail = NULL;
  pthread_cond_broadcast (&work_cond);
  pthread_cond_broadcast (&watch_cond);
  pthread_mutex_unlock (&lock);
  for (i = 0; i < nworkers; i++)
    pthread_join (workers[i], NULL);
  nworkers = 0;
  if (watcher_started)
    pthread_join (watcher, NULL);
  watcher_started = false;
}

void
jobs_free (void)
{
  struct job *j;

  pthread_mutex_lock (&lock);
  while ((j = table) != NULL) {
    table = j->next;
    free (j);
  }
  table_tail = NULL;
  njobs = 0;
  pthread_mutex_unlock (&lock);
}
