/* xcopyd: byte-range locks (see rangelock.h for the contract).
 *
 * A table is a mutex, a list of holders and a FIFO of waiters.  Every hold
 * carries its ranges as sorted, disjoint spans, each shared or exclusive,
 * so two holds conflict exactly when some span of one overlaps a span of
 * the other and either of the two is exclusive.  A request is granted when
 * it conflicts with no holder and no earlier waiter; each release (or a
 * waiter giving up) rescans the queue in order.  Waiters sleep on a
 * condition variable of their own, so a release wakes only those it grants.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rangelock.h"
#include "checked-overflow.h"

enum { ST_IDLE = 0, ST_WAITING, ST_HELD };

/* When to give up, computed once per acquisition (acquire_copy shares one
 * deadline between two tables).
 */
struct deadline {
  bool forever, nowait;
  struct timespec at;           /* CLOCK_MONOTONIC */
  const atomic_bool *cancel;
};

int
rangelock_init (struct rangelock *rl)
{
  memset (rl, 0, sizeof *rl);
  return -pthread_mutex_init (&rl->lock, NULL);
}

int
rangelock_destroy (struct rangelock *rl)
{
  pthread_mutex_lock (&rl->lock);
  bool busy = rl->nheld || rl->nwaiting;
  pthread_mutex_unlock (&rl->lock);
  if (busy)
    return -EBUSY;
  return -pthread_mutex_destroy (&rl->lock);
}

/* ---- Conflicts ---- */

/* Does span x conflict with any of s[0, n) (sorted, disjoint)? */
static bool
span_conflicts (const struct rangelock_span *s, size_t n,
                const struct rangelock_span *x)
{
  size_t lo = 0, hi = n;

  while (lo < hi) {             /* first span ending after x starts */
    size_t mid = lo + (hi - lo) / 2;
    if (s[mid].end <= x->off)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (size_t i = lo; i < n && s[i].off < x->end; i++)
    if (s[i].excl || x->excl)
      return true;
  return false;
}

static bool
holds_conflict (const struct rangelock_hold *a, const struct rangelock_hold *b)
{
  if (a->nspans == 0 || b->nspans == 0 || a->hi <= b->lo || b->hi <= a->lo)
    return false;
  if (!a->any_excl && !b->any_excl)
    return false;
  if (a->nspans > b->nspans) {  /* search the bigger one */
    const struct rangelock_hold *t = a;
    a = b;
    b = t;
  }
  for (size_t i = 0; i < a->nspans; i++)
    if (span_conflicts (b->spans, b->nspans, &a->spans[i]))
      return true;
  return false;
}

/* Must h wait?  It must while it conflicts with a holder or with a waiter
 * queued before `upto` (NULL: any waiter) — the FIFO rule that keeps a
 * stream of small requests from starving a big one.
 */
static bool
blocked (const struct rangelock *rl, const struct rangelock_hold *h,
         const struct rangelock_hold *upto)
{
  for (const struct rangelock_hold *p = rl->held_head; p; p = p->next)
    if (holds_conflict (p, h))
      return true;
  for (const struct rangelock_hold *p = rl->wait_head; p && p != upto;
       p = p->next)
    if (holds_conflict (p, h))
      return true;
  return false;
}

/* ---- Lists (rl->lock held) ---- */

static void
link_held (struct rangelock *rl, struct rangelock_hold *h)
{
  h->prev = NULL;
  h->next = rl->held_head;
  if (rl->held_head)
    rl->held_head->prev = h;
  rl->held_head = h;
  rl->nheld++;
  h->state = ST_HELD;
}

static void
unlink_held (struct rangelock *rl, struct rangelock_hold *h)
{
  if (h->prev)
    h->prev->next = h->next;
  else
    rl->held_head = h->next;
  if (h->next)
    h->next->prev = h->prev;
  h->prev = h->next = NULL;
  rl->nheld--;
}

static void
link_waiting (struct rangelock *rl, struct rangelock_hold *h)
{
  h->next = NULL;
  h->prev = rl->wait_tail;
  if (rl->wait_tail)
    rl->wait_tail->next = h;
  else
    rl->wait_head = h;
  rl->wait_tail = h;
  rl->nwaiting++;
  h->state = ST_WAITING;
}

static void
unlink_waiting (struct rangelock *rl, struct rangelock_hold *h)
{
  if (h->prev)
    h->prev->next = h->next;
  else
    rl->wait_head = h->next;
  if (h->next)
    h->next->prev = h->prev;
  else
    rl->wait_tail = h->prev;
  h->prev = h->next = NULL;
  rl->nwaiting--;
}

/* Grant, in queue order, every waiter that no holder and no earlier
 * waiter blocks.  Called whenever a holder or a waiter leaves.
 */
static void
grant_waiters (struct rangelock *rl)
{
  struct rangelock_hold *w = rl->wait_head, *next;

  for (; w; w = next) {
    next = w->next;
    if (blocked (rl, w, w))
      continue;
    unlink_waiting (rl, w);
    link_held (rl, w);
    pthread_cond_signal (w->cond);
  }
}

/* ---- Building spans ---- */

static int
cmp_span (const void *a, const void *b)
{
  const struct rangelock_span *x = a, *y = b;

  return x->off < y->off ? -1 : x->off > y->off;
}

/* Sort s[0, n) and merge overlapping or adjacent spans; returns the count. */
static size_t
sort_merge (struct rangelock_span *s, size_t n)
{
  size_t o = 0;

  if (n == 0)
    return 0;
  qsort (s, n, sizeof *s, cmp_span);
  for (size_t i = 1; i < n; i++) {
    if (s[i].off <= s[o].end) {
      if (s[i].end > s[o].end)
        s[o].end = s[i].end;
    }
    else
      s[++o] = s[i];
  }
  return o + 1;
}

/* The parts of shared spans sh[0, ns) not covered by exclusive spans
 * x[0, nx) (both sorted and merged) go to out; returns their count
 * (at most ns + nx).
 */
static size_t
subtract (const struct rangelock_span *sh, size_t ns,
          const struct rangelock_span *x, size_t nx,
          struct rangelock_span *out)
{
  size_t j = 0, o = 0;

  for (size_t k = 0; k < ns; k++) {
    uint64_t cur = sh[k].off, end = sh[k].end;

    while (j < nx && x[j].end <= cur)
      j++;
    for (size_t i = j; cur < end; i++) {
      if (i < nx && x[i].off < end) {
        if (x[i].off > cur)
          out[o++] = (struct rangelock_span) { cur, x[i].off, false };
        cur = x[i].end;
      }
      else {
        out[o++] = (struct rangelock_span) { cur, end, false };
        cur = end;
      }
    }
  }
  return o;
}

/* Merge two sorted lists of spans that do not overlap each other. */
static size_t
merge_lists (const struct rangelock_span *a, size_t na,
             const struct rangelock_span *b, size_t nb,
             struct rangelock_span *out)
{
  size_t i = 0, j = 0, o = 0;

  while (i < na || j < nb)
    out[o++] = j == nb || (i < na && a[i].off < b[j].off) ? a[i++] : b[j++];
  return o;
}

static void
set_bounds (struct rangelock_hold *h, bool any_excl)
{
  h->any_excl = any_excl;
  h->lo = h->nspans ? h->spans[0].off : 0;
  h->hi = h->nspans ? h->spans[h->nspans - 1].end : 0;
}

/* Split requests into exclusive spans (growing up from buf) and shared
 * spans (growing down from buf + n); zero lengths are dropped.
 */
static int
split_reqs (const struct rangelock_req *reqs, size_t n,
            struct rangelock_span *buf, size_t *nx, size_t *ns)
{
  *nx = *ns = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t end;

    if (reqs[i].mode != RANGELOCK_SHARED && reqs[i].mode != RANGELOCK_EXCL)
      return -EINVAL;
    if (add_overflows_u64 (reqs[i].off, reqs[i].len, &end))
      return -ERANGE;
    if (reqs[i].len == 0)
      continue;
    if (reqs[i].mode == RANGELOCK_EXCL)
      buf[(*nx)++] = (struct rangelock_span) { reqs[i].off, end, true };
    else
      buf[n - ++*ns] = (struct rangelock_span) { reqs[i].off, end, false };
  }
  return 0;
}

/* Turn a batch into h's sorted, disjoint spans, each exclusive wherever
 * any request wants it exclusive.
 */
static int
prepare (struct rangelock_hold *h, const struct rangelock_req *reqs,
         size_t n)
{
  struct rangelock_span *buf, *out, *shared;
  size_t nx, ns, np;
  int r;

  h->spans = h->alloc = NULL;
  h->nspans = 0;
  if (n == 0)
    return 0;
  /* buf: exclusive and shared spans share [0, n); shared minus exclusive
   * (at most nx + ns <= n pieces) goes to [n, 2n).
   */
  buf = malloc (2 * n * sizeof *buf);
  if (buf == NULL)
    return -ENOMEM;
  r = split_reqs (reqs, n, buf, &nx, &ns);
  if (r < 0)
    goto out;
  shared = buf + n - ns;
  nx = sort_merge (buf, nx);
  ns = sort_merge (shared, ns);
  np = subtract (shared, ns, buf, nx, buf + n);
  out = malloc ((nx + np ? nx + np : 1) * sizeof *out);
  if (out == NULL) {
    r = -ENOMEM;
    goto out;
  }
  h->nspans = merge_lists (buf, nx, buf + n, np, out);
  h->spans = h->alloc = out;
  set_bounds (h, nx > 0);
 out:
  free (buf);
  return r;
}

static void
unprepare (struct rangelock_hold *h)
{
  free (h->alloc);
  h->alloc = NULL;
  h->spans = NULL;
  h->nspans = 0;
}

/* ---- Waiting ---- */

static void
make_deadline (const struct rangelock_wait *w, struct deadline *d)
{
  memset (d, 0, sizeof *d);
  d->forever = w == NULL || w->timeout_ns < 0;
  d->nowait = w && w->timeout_ns == 0;
  d->cancel = w ? w->cancel : NULL;
  if (!d->forever && !d->nowait) {
    clock_gettime (CLOCK_MONOTONIC, &d->at);
    int64_t ns = d->at.tv_nsec + w->timeout_ns % 1000000000;
    d->at.tv_sec += w->timeout_ns / 1000000000 + ns / 1000000000;
    d->at.tv_nsec = ns % 1000000000;
  }
}

static bool
ts_before (const struct timespec *a, const struct timespec *b)
{
  return a->tv_sec < b->tv_sec
    || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static bool
cancelled (const struct deadline *d)
{
  return d->cancel && atomic_load (d->cancel);
}

/* Sleep until the next deadline or cancel poll.  Returns false once the
 * deadline has passed.
 */
static bool
sleep_once (struct rangelock *rl, pthread_cond_t *cond,
            const struct deadline *d)
{
  struct timespec now, t;

  if (d->forever && d->cancel == NULL) {
    pthread_cond_wait (cond, &rl->lock);
    return true;
  }
  clock_gettime (CLOCK_MONOTONIC, &now);
  if (!d->forever && !ts_before (&now, &d->at))
    return false;
  t = now;
  if (d->cancel) {
    t.tv_nsec += RANGELOCK_POLL_MS * 1000000L;
    t.tv_sec += t.tv_nsec / 1000000000;
    t.tv_nsec %= 1000000000;
  }
  if (!d->forever && (d->cancel == NULL || ts_before (&d->at, &t)))
    t = d->at;
  pthread_cond_clockwait (cond, &rl->lock, CLOCK_MONOTONIC, &t);
  return true;
}

/* Queue h and sleep until granted, cancelled or out of time. */
static int
wait_turn (struct rangelock *rl, struct rangelock_hold *h,
           const struct deadline *d)
{
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  int r = 0;

  h->cond = &cond;
  link_waiting (rl, h);
  rl->contended++;
  while (h->state == ST_WAITING) {
    if (cancelled (d)) {
      r = -ECANCELED;
      break;
    }
    if (!sleep_once (rl, &cond, d)) {
      r = -ETIMEDOUT;
      break;
    }
  }
  if (h->state == ST_WAITING) {
    /* Leaving may unblock requests queued behind us. */
    unlink_waiting (rl, h);
    h->state = ST_IDLE;
    grant_waiters (rl);
  }
  else
    r = 0;                      /* granted: that wins over a late cancel */
  h->cond = NULL;
  pthread_cond_destroy (&cond);
  return r;
}

/* Take h's prepared spans in rl.  On failure h is idle and unprepared. */
static int
enter (struct rangelock *rl, struct rangelock_hold *h,
       const struct deadline *d)
{
  int r = 0;

  h->rl = rl;
  if (cancelled (d))
    r = -ECANCELED;
  else if (h->nspans == 0)
    h->state = ST_HELD;         /* holds nothing; not linked */
  else {
    pthread_mutex_lock (&rl->lock);
    if (!blocked (rl, h, NULL))
      link_held (rl, h);
    else if (d->nowait)
      r = -ETIMEDOUT;
    else
      r = wait_turn (rl, h, d);
    pthread_mutex_unlock (&rl->lock);
  }
  if (r < 0)
    unprepare (h);
  return r;
}

/* ---- API ---- */

int
rangelock_lock (struct rangelock *rl, struct rangelock_hold *h,
                uint64_t off, uint64_t len, enum rangelock_mode mode,
                const struct rangelock_wait *w)
{
  struct deadline d;
  uint64_t end;

  if (h->state != ST_IDLE)
    return -EBUSY;
  if (mode != RANGELOCK_SHARED && mode != RANGELOCK_EXCL)
    return -EINVAL;
  if (add_overflows_u64 (off, len, &end))
    return -ERANGE;
  h->alloc = NULL;
  h->one = (struct rangelock_span) { off, end, mode == RANGELOCK_EXCL };
  h->spans = &h->one;
  h->nspans = len > 0;
  set_bounds (h, h->one.excl);
  make_deadline (w, &d);
  return enter (rl, h, &d);
}

int
rangelock_acquire (struct rangelock *rl, struct rangelock_hold *h,
                   const struct rangelock_req *reqs, size_t n,
                   const struct rangelock_wait *w)
{
  struct deadline d;
  int r;

  if (h->state != ST_IDLE)
    return -EBUSY;
  if (reqs == NULL && n > 0)
    return -EINVAL;
  if (n > RANGELOCK_MAX_REQS)
    return -E2BIG;
  make_deadline (w, &d);
  r = prepare (h, reqs, n);
  if (r < 0)
    return r;
  return enter (rl, h, &d);
}

/* Requests for one side of a copy (side: 0 source, 1 destination, 2 both
 * into 2n entries).
 */
static void
copy_reqs (const struct xcopy_range *r, size_t n, int side,
           struct rangelock_req *out)
{
  size_t o = 0;

  for (size_t i = 0; i < n; i++) {
    if (side != 1)
      out[o++] = (struct rangelock_req) { r[i].src, r[i].len,
                                          RANGELOCK_SHARED };
    if (side != 0)
      out[o++] = (struct rangelock_req) { r[i].dst, r[i].len,
                                          RANGELOCK_EXCL };
  }
}

static int
acquire_side (struct rangelock *rl, struct rangelock_hold *h,
              const struct xcopy_range *r, size_t n, int side,
              const struct deadline *d)
{
  size_t m = side == 2 ? 2 * n : n;
  struct rangelock_req *reqs = malloc ((m ? m : 1) * sizeof *reqs);
  int ret;

  if (reqs == NULL)
    return -ENOMEM;
  copy_reqs (r, n, side, reqs);
  ret = prepare (h, reqs, m);
  free (reqs);
  if (ret < 0)
    return ret;
  return enter (rl, h, d);
}

int
rangelock_acquire_copy (struct rangelock *src, struct rangelock *dst,
                        const struct xcopy_range *r, size_t n,
                        const struct rangelock_wait *w,
                        struct rangelock_hold *hs, struct rangelock_hold *hd)
{
  struct deadline d;
  bool src_first = (uintptr_t) src < (uintptr_t) dst;
  int ret;

  if (hs->state != ST_IDLE || hd->state != ST_IDLE || hs == hd)
    return -EBUSY;
  if (r == NULL && n > 0)
    return -EINVAL;
  if (n > XCOPY_MAX_RANGES)
    return -E2BIG;
  make_deadline (w, &d);
  if (src == dst)
    return acquire_side (src, hs, r, n, 2, &d);
  /* Address order: see "Deadlock freedom" in rangelock.h. */
  ret = src_first ? acquire_side (src, hs, r, n, 0, &d)
                  : acquire_side (dst, hd, r, n, 1, &d);
  if (ret < 0)
    return ret;
  ret = src_first ? acquire_side (dst, hd, r, n, 1, &d)
                  : acquire_side (src, hs, r, n, 0, &d);
  if (ret < 0) {
    rangelock_release (hs);
    rangelock_release (hd);
  }
  return ret;
}

void
rangelock_release (struct rangelock_hold *h)
{
  struct rangelock *rl = h->rl;

  if (h->state != ST_HELD)
    return;
  if (h->nspans > 0) {
    pthread_mutex_lock (&rl->lock);
    unlink_held (rl, h);
    if (rl->wait_head)
      grant_waiters (rl);
    pthread_mutex_unlock (&rl->lock);
  }
  h->state = ST_IDLE;
  unprepare (h);
}

void
rangelock_kick (struct rangelock *rl)
{
  pthread_mutex_lock (&rl->lock);
  for (struct rangelock_hold *w = rl->wait_head; w; w = w->next)
    pthread_cond_signal (w->cond);
  pthread_mutex_unlock (&rl->lock);
}

void
rangelock_info (struct rangelock *rl, struct rangelock_info *out)
{
  pthread_mutex_lock (&rl->lock);
  out->held = rl->nheld;
  out->waiting = rl->nwaiting;
  out->contended = rl->contended;
  pthread_mutex_unlock (&rl->lock);
}

/* ---- Self-check ---- */

static bool
list_ok (const struct rangelock_hold *head, size_t count, int state)
{
  const struct rangelock_hold *prev = NULL;
  size_t n = 0;

  for (const struct rangelock_hold *p = head; p; prev = p, p = p->next) {
    if (p->prev != prev || p->state != state || p->nspans == 0)
      return false;
    for (size_t i = 0; i < p->nspans; i++)
      if (p->spans[i].off >= p->spans[i].end
          || (i > 0 && p->spans[i].off < p->spans[i - 1].end))
        return false;
    n++;
  }
  return n == count;
}

int
rangelock_check (struct rangelock *rl)
{
  bool ok;

  pthread_mutex_lock (&rl->lock);
  ok = list_ok (rl->held_head, rl->nheld, ST_HELD)
    && list_ok (rl->wait_head, rl->nwaiting, ST_WAITING);
  for (const struct rangelock_hold *a = rl->held_head; ok && a; a = a->next)
    for (const struct rangelock_hold *b = a->next; ok && b; b = b->next)
      ok = !holds_conflict (a, b);
  /* A waiter nothing blocks would wait forever: a lost grant. */
  for (const struct rangelock_hold *w = rl->wait_head; ok && w; w = w->next)
    ok = blocked (rl, w, w);
  pthread_mutex_unlock (&rl->lock);
  return ok ? 0 : -EUCLEAN;
}
