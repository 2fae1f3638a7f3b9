/* xcopyd: range-lock semantics — conflict matrix, batches against a byte
 * model, copies within and across tables, atomicity, FIFO order behind a
 * waiter, timeouts and cancellation.  (Stress: test-rangelock-stress.c.)
 *
 * Worker threads never call CHECK/REQUIRE (the harness is single-threaded):
 * they count problems in atomics that the case checks after joining.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "rangelock.h"

static const struct rangelock_wait no_wait = { 0, NULL };

static int64_t
now_ns (void)
{
  struct timespec t;

  clock_gettime (CLOCK_MONOTONIC, &t);
  return (int64_t) t.tv_sec * 1000000000 + t.tv_nsec;
}

static void
sleep_ms (unsigned ms)
{
  usleep (ms * 1000);
}

static void
table_init (struct rangelock *rl)
{
  REQUIRE_INT (rangelock_init (rl), ==, 0);
}

static void
table_fini (struct rangelock *rl)
{
  CHECK_INT (rangelock_check (rl), ==, 0);
  CHECK_INT (rangelock_destroy (rl), ==, 0);
}

/* Could b be locked right now while a is held (single ranges)? */
static bool
compatible (struct rangelock *rl, uint64_t ao, uint64_t al,
            enum rangelock_mode am, uint64_t bo, uint64_t bl,
            enum rangelock_mode bm)
{
  struct rangelock_hold a = RANGELOCK_HOLD_INIT, b = RANGELOCK_HOLD_INIT;
  int r;

  REQUIRE_INT (rangelock_lock (rl, &a, ao, al, am, NULL), ==, 0);
  r = rangelock_lock (rl, &b, bo, bl, bm, &no_wait);
  if (r != 0 && r != -ETIMEDOUT)
    h_fail (__FILE__, __LINE__, "unexpected %d", r);
  rangelock_release (&b);
  rangelock_release (&a);
  return r == 0;
}

static void
conflict_matrix (void)
{
  enum { S = RANGELOCK_SHARED, X = RANGELOCK_EXCL };
  static const struct {
    uint64_t ao, al; int am; uint64_t bo, bl; int bm; bool ok;
  } m[] = {
    { 0, 100, S, 50, 100, S, true },      /* shared/shared overlap */
    { 0, 100, S, 50, 100, X, false },     /* shared/excl overlap */
    { 0, 100, X, 50, 100, S, false },
    { 0, 100, X, 50, 100, X, false },     /* excl/excl overlap */
    { 0, 100, X, 99, 1, X, false },       /* one byte in common */
    { 0, 100, X, 100, 10, X, true },      /* adjacent */
    { 100, 10, X, 0, 100, X, true },
    { 0, 100, X, 200, 10, X, true },      /* disjoint */
    { 0, 100, S, 100, 10, X, true },
    { 10, 10, X, 0, 100, S, false },      /* contained */
    { 0, 0, X, 0, 100, X, true },         /* empty holds nothing */
    { 0, 100, X, 50, 0, X, true },
    { UINT64_MAX - 10, 10, X, UINT64_MAX - 1, 1, X, false },
  };
  struct rangelock rl;

  table_init (&rl);
  for (size_t i = 0; i < ARRAY_SIZE (m); i++) {
    bool ok = compatible (&rl, m[i].ao, m[i].al, m[i].am,
                          m[i].bo, m[i].bl, m[i].bm);
    if (ok != m[i].ok)
      h_fail (__FILE__, __LINE__, "matrix row %zu: got %s", i,
              ok ? "compatible" : "conflict");
  }
  table_fini (&rl);
}

/* ---- Random batches against a byte model ---- */

enum { UNIV = 64 };

/* mode per byte of [0, UNIV): 0 none, 1 shared, 2 exclusive. */
static void
model (const struct rangelock_req *r, size_t n, unsigned char *m)
{
  memset (m, 0, UNIV);
  for (size_t i = 0; i < n; i++)
    for (uint64_t b = r[i].off; b < r[i].off + r[i].len; b++) {
      unsigned char v = r[i].mode == RANGELOCK_EXCL ? 2 : 1;
      if (v > m[b])
        m[b] = v;
    }
}

static size_t
random_batch (struct rangelock_req *r, unsigned *seed)
{
  size_t n = 1 + rand_r (seed) % 5;

  for (size_t i = 0; i < n; i++) {
    r[i].off = rand_r (seed) % UNIV;
    r[i].len = rand_r (seed) % (UNIV - r[i].off + 1) / 2;
    r[i].mode = rand_r (seed) % 3 == 0 ? RANGELOCK_EXCL : RANGELOCK_SHARED;
  }
  return n;
}

static void
batch_vs_model (void)
{
  struct rangelock rl;
  unsigned seed = 42;

  table_init (&rl);
  for (int it = 0; it < 20000; it++) {
    struct rangelock_req a[5], b[5];
    struct rangelock_hold ha = RANGELOCK_HOLD_INIT, hb = RANGELOCK_HOLD_INIT;
    unsigned char ma[UNIV], mb[UNIV];
    size_t na = random_batch (a, &seed), nb = random_batch (b, &seed);
    bool want = true;

    model (a, na, ma);
    model (b, nb, mb);
    for (int i = 0; i < UNIV; i++)
      if (ma[i] && mb[i] && (ma[i] == 2 || mb[i] == 2))
        want = false;
    REQUIRE_INT (rangelock_acquire (&rl, &ha, a, na, NULL), ==, 0);
    int r = rangelock_acquire (&rl, &hb, b, nb, &no_wait);
    if ((r == 0) != want) {
      h_fail (__FILE__, __LINE__, "iteration %d: got %d, want %s", it, r,
              want ? "granted" : "conflict");
      h_abort_case ();
    }
    CHECK_INT (rangelock_check (&rl), ==, 0);
    rangelock_release (&hb);
    rangelock_release (&ha);
  }
  table_fini (&rl);
}

/* A copy whose source and destination overlap in one file takes the union
 * once: exclusive on the destination, shared on the rest of the source.
 */
static void
copy_overlap_same_table (void)
{
  struct rangelock rl;
  struct rangelock_hold hs = RANGELOCK_HOLD_INIT, hd = RANGELOCK_HOLD_INIT;
  const struct xcopy_range r[] = { { 0, 50, 100 }, { 1000, 1000, 10 } };

  table_init (&rl);
  REQUIRE_INT (rangelock_acquire_copy (&rl, &rl, r, 2, &no_wait, &hs, &hd),
               ==, 0);
  CHECK (compatible (&rl, 0, 50, RANGELOCK_SHARED, 0, 0, RANGELOCK_EXCL));
  CHECK_INT (rangelock_lock (&rl, &hd, 0, 50, RANGELOCK_SHARED, &no_wait),
             ==, 0);                 /* source-only part: shared */
  rangelock_release (&hd);
  CHECK_INT (rangelock_lock (&rl, &hd, 0, 50, RANGELOCK_EXCL, &no_wait),
             ==, -ETIMEDOUT);
  CHECK_INT (rangelock_lock (&rl, &hd, 49, 2, RANGELOCK_SHARED, &no_wait),
             ==, -ETIMEDOUT);        /* 50 is destination: exclusive */
  CHECK_INT (rangelock_lock (&rl, &hd, 1005, 1, RANGELOCK_SHARED, &no_wait),
             ==, -ETIMEDOUT);        /* src == dst: exclusive */
  CHECK_INT (rangelock_lock (&rl, &hd, 150, 10, RANGELOCK_EXCL, &no_wait),
             ==, 0);                 /* adjacent */
  rangelock_release (&hd);
  rangelock_release (&hs);
  rangelock_release (&hs);           /* twice: a no-op */
  table_fini (&rl);
}

static void
copy_two_tables (void)
{
  struct rangelock a, b;
  struct rangelock_hold hs = RANGELOCK_HOLD_INIT, hd = RANGELOCK_HOLD_INIT;
  struct rangelock_hold x = RANGELOCK_HOLD_INIT;
  const struct xcopy_range r[] = { { 0, 0, 100 } };
  struct rangelock_info ia, ib;

  table_init (&a);
  table_init (&b);
  REQUIRE_INT (rangelock_acquire_copy (&a, &b, r, 1, NULL, &hs, &hd), ==, 0);
  CHECK_INT (rangelock_lock (&a, &x, 0, 100, RANGELOCK_SHARED, &no_wait),
             ==, 0);
  rangelock_release (&x);
  CHECK_INT (rangelock_lock (&b, &x, 0, 100, RANGELOCK_SHARED, &no_wait),
             ==, -ETIMEDOUT);
  rangelock_release (&hs);
  rangelock_release (&hd);

  /* The second table is busy: the first must not stay held. */
  REQUIRE_INT (rangelock_lock (&b, &x, 0, 1, RANGELOCK_EXCL, NULL), ==, 0);
  CHECK_INT (rangelock_acquire_copy (&a, &b, r, 1, &no_wait, &hs, &hd),
             ==, -ETIMEDOUT);
  CHECK_INT (rangelock_acquire_copy (&b, &a, r, 1, &no_wait, &hs, &hd),
             ==, -ETIMEDOUT);
  rangelock_info (&a, &ia);
  rangelock_info (&b, &ib);
  CHECK_U64 (ia.held, ==, 0);
  CHECK_U64 (ib.held, ==, 1);
  rangelock_release (&x);
  table_fini (&a);
  table_fini (&b);
}

/* All or nothing: a batch that cannot have one range holds none. */
static void
batch_atomic (void)
{
  struct rangelock rl;
  struct rangelock_hold h = RANGELOCK_HOLD_INIT, x = RANGELOCK_HOLD_INIT;
  const struct rangelock_req b[] = {
    { 0, 10, RANGELOCK_EXCL }, { 500, 10, RANGELOCK_SHARED },
    { 150, 10, RANGELOCK_EXCL },
  };
  struct rangelock_info in;

  table_init (&rl);
  REQUIRE_INT (rangelock_lock (&rl, &x, 100, 100, RANGELOCK_EXCL, NULL), ==, 0);
  CHECK_INT (rangelock_acquire (&rl, &h, b, 3, &no_wait), ==, -ETIMEDOUT);
  rangelock_info (&rl, &in);
  CHECK_U64 (in.held, ==, 1);
  CHECK_U64 (in.waiting, ==, 0);
  CHECK (compatible (&rl, 0, 10, RANGELOCK_EXCL, 500, 10, RANGELOCK_EXCL));
  rangelock_release (&x);
  CHECK_INT (rangelock_acquire (&rl, &h, b, 3, &no_wait), ==, 0);
  CHECK_INT (rangelock_lock (&rl, &x, 5, 1, RANGELOCK_SHARED, &no_wait),
             ==, -ETIMEDOUT);
  CHECK_INT (rangelock_lock (&rl, &x, 155, 1, RANGELOCK_SHARED, &no_wait),
             ==, -ETIMEDOUT);
  CHECK_INT (rangelock_lock (&rl, &x, 505, 1, RANGELOCK_SHARED, &no_wait),
             ==, 0);
  rangelock_release (&x);
  rangelock_release (&h);
  table_fini (&rl);
}

static void
bad_arguments (void)
{
  struct rangelock rl;
  struct rangelock_hold h = RANGELOCK_HOLD_INIT, x = RANGELOCK_HOLD_INIT;
  struct rangelock_req bad[] = { { UINT64_MAX, 2, RANGELOCK_EXCL } };
  struct rangelock_req mode[] = { { 0, 2, 7 } };
  const struct xcopy_range r[] = { { 0, 0, 1 } };

  table_init (&rl);
  rangelock_release (&h);            /* never acquired: a no-op */
  CHECK_INT (rangelock_lock (&rl, &h, UINT64_MAX, 2, RANGELOCK_EXCL, NULL),
             ==, -ERANGE);
  CHECK_INT (rangelock_lock (&rl, &h, 0, 2, 7, NULL), ==, -EINVAL);
  CHECK_INT (rangelock_acquire (&rl, &h, bad, 1, NULL), ==, -ERANGE);
  CHECK_INT (rangelock_acquire (&rl, &h, mode, 1, NULL), ==, -EINVAL);
  CHECK_INT (rangelock_acquire (&rl, &h, NULL, 1, NULL), ==, -EINVAL);
  CHECK_INT (rangelock_acquire (&rl, &h, bad, RANGELOCK_MAX_REQS + 1, NULL),
             ==, -E2BIG);
  CHECK_INT (rangelock_acquire_copy (&rl, &rl, r, 1, NULL, &h, &h), ==, -EBUSY);
  /* Empty batches hold nothing but succeed. */
  CHECK_INT (rangelock_acquire (&rl, &h, NULL, 0, &no_wait), ==, 0);
  CHECK_INT (rangelock_lock (&rl, &x, 0, 10, RANGELOCK_EXCL, &no_wait), ==, 0);
  rangelock_release (&x);
  CHECK_INT (rangelock_lock (&rl, &h, 0, 1, RANGELOCK_EXCL, NULL), ==, -EBUSY);
  rangelock_release (&h);
  REQUIRE_INT (rangelock_lock (&rl, &h, 0, 1, RANGELOCK_EXCL, NULL), ==, 0);
  CHECK_INT (rangelock_destroy (&rl), ==, -EBUSY);
  rangelock_release (&h);
  table_fini (&rl);
}

/* ---- Threads ---- */

struct waiter {
  pthread_t t;
  struct rangelock *rl;
  struct rangelock_hold h;
  struct rangelock_req req;
  struct rangelock_wait w;
  atomic_bool cancel;
  atomic_int result;            /* 1: still running */
  int64_t waited_ns;
};

static void *
waiter_main (void *arg)
{
  struct waiter *w = arg;
  int64_t t0 = now_ns ();
  int r = rangelock_acquire (w->rl, &w->h, &w->req, 1, &w->w);

  w->waited_ns = now_ns () - t0;
  atomic_store (&w->result, r);
  return NULL;
}

static void
waiter_start (struct waiter *w, struct rangelock *rl, uint64_t off,
              uint64_t len, enum rangelock_mode mode, int64_t timeout_ns)
{
  memset (w, 0, sizeof *w);
  w->rl = rl;
  w->req = (struct rangelock_req) { off, len, mode };
  w->w = (struct rangelock_wait) { timeout_ns, &w->cancel };
  atomic_store (&w->result, 1);
  REQUIRE_INT (pthread_create (&w->t, NULL, waiter_main, w), ==, 0);
}

/* Wait until the table has `n` waiters. */
static void
until_waiting (struct rangelock *rl, size_t n)
{
  struct rangelock_info in;

  for (int i = 0; i < 5000; i++) {
    rangelock_info (rl, &in);
    if (in.waiting == n)
      return;
    sleep_ms (1);
  }
  h_fail (__FILE__, __LINE__, "never %zu waiters (have %zu)", n, in.waiting);
  h_abort_case ();
}

static int
waiter_join (struct waiter *w)
{
  pthread_join (w->t, NULL);
  return atomic_load (&w->result);
}

/* Once a request waits, later conflicting ones queue behind it even where
 * no holder blocks them; unrelated ones go ahead.
 */
static void
fifo_behind_waiter (void)
{
  struct rangelock rl;
  struct rangelock_hold w1 = RANGELOCK_HOLD_INIT, x = RANGELOCK_HOLD_INIT;
  struct waiter copy;

  table_init (&rl);
  REQUIRE_INT (rangelock_lock (&rl, &w1, 0, 10, RANGELOCK_EXCL, NULL), ==, 0);
  waiter_start (&copy, &rl, 0, 100, RANGELOCK_EXCL, RANGELOCK_FOREVER);
  until_waiting (&rl, 1);
  CHECK_INT (rangelock_check (&rl), ==, 0);
  CHECK_INT (rangelock_lock (&rl, &x, 50, 10, RANGELOCK_EXCL, &no_wait),
             ==, -ETIMEDOUT);
  CHECK_INT (rangelock_lock (&rl, &x, 50, 10, RANGELOCK_SHARED, &no_wait),
             ==, -ETIMEDOUT);
  CHECK_INT (rangelock_lock (&rl, &x, 100, 10, RANGELOCK_EXCL, &no_wait),
             ==, 0);
  rangelock_release (&x);
  CHECK_INT (atomic_load (&copy.result), ==, 1);
  rangelock_release (&w1);
  CHECK_INT (waiter_join (&copy), ==, 0);
  rangelock_release (&copy.h);
  table_fini (&rl);
}

static void
timeout_expires (void)
{
  struct rangelock rl;
  struct rangelock_hold x = RANGELOCK_HOLD_INIT;
  struct waiter w;
  struct rangelock_info in;

  table_init (&rl);
  REQUIRE_INT (rangelock_lock (&rl, &x, 0, 10, RANGELOCK_EXCL, NULL), ==, 0);
  waiter_start (&w, &rl, 5, 10, RANGELOCK_SHARED, 80 * 1000000);
  CHECK_INT (waiter_join (&w), ==, -ETIMEDOUT);
  CHECK_INT (w.waited_ns, >=, 80 * 1000000);
  CHECK_INT (w.waited_ns, <, 2000 * 1000000);
  rangelock_release (&w.h);          /* failed: a no-op */
  rangelock_info (&rl, &in);
  CHECK_U64 (in.waiting, ==, 0);
  CHECK_U64 (in.held, ==, 1);
  rangelock_release (&x);
  table_fini (&rl);
}

static void
cancel_wakes (void)
{
  struct rangelock rl;
  struct rangelock_hold x = RANGELOCK_HOLD_INIT;
  struct waiter w;

  table_init (&rl);
  REQUIRE_INT (rangelock_lock (&rl, &x, 0, 10, RANGELOCK_EXCL, NULL), ==, 0);
  /* With a kick: at once. */
  waiter_start (&w, &rl, 0, 10, RANGELOCK_EXCL, RANGELOCK_FOREVER);
  until_waiting (&rl, 1);
  int64_t t0 = now_ns ();
  atomic_store (&w.cancel, true);
  rangelock_kick (&rl);
  CHECK_INT (waiter_join (&w), ==, -ECANCELED);
  CHECK_INT (now_ns () - t0, <, 1000 * 1000000);
  /* Without: within the poll interval. */
  waiter_start (&w, &rl, 0, 10, RANGELOCK_EXCL, RANGELOCK_FOREVER);
  until_waiting (&rl, 1);
  t0 = now_ns ();
  atomic_store (&w.cancel, true);
  CHECK_INT (waiter_join (&w), ==, -ECANCELED);
  CHECK_INT (now_ns () - t0, <, (RANGELOCK_POLL_MS + 1000) * 1000000);
  /* Already cancelled: refused before anything, even on a free range. */
  waiter_start (&w, &rl, 100, 10, RANGELOCK_EXCL, RANGELOCK_FOREVER);
  atomic_store (&w.cancel, true);
  int r = waiter_join (&w);
  CHECK (r == -ECANCELED || r == 0);
  rangelock_release (&w.h);
  rangelock_release (&x);
  table_fini (&rl);
}

/* A waiter that gives up must let the ones queued behind it go. */
static void
cancel_unblocks_queue (void)
{
  struct rangelock rl;
  struct rangelock_hold x = RANGELOCK_HOLD_INIT;
  struct waiter a, b;

  table_init (&rl);
  REQUIRE_INT (rangelock_lock (&rl, &x, 0, 10, RANGELOCK_EXCL, NULL), ==, 0);
  waiter_start (&a, &rl, 0, 100, RANGELOCK_EXCL, RANGELOCK_FOREVER);
  until_waiting (&rl, 1);
  waiter_start (&b, &rl, 50, 10, RANGELOCK_EXCL, RANGELOCK_FOREVER);
  until_waiting (&rl, 2);
  CHECK_INT (rangelock_check (&rl), ==, 0);
  atomic_store (&a.cancel, true);
  rangelock_kick (&rl);
  CHECK_INT (waiter_join (&a), ==, -ECANCELED);
  CHECK_INT (waiter_join (&b), ==, 0);   /* x still held, b is free */
  rangelock_release (&b.h);
  rangelock_release (&x);
  table_fini (&rl);
}

static const struct h_test tests[] = {
  H_TEST (conflict_matrix),
  H_TEST (batch_vs_model),
  H_TEST (copy_overlap_same_table),
  H_TEST (copy_two_tables),
  H_TEST (batch_atomic),
  H_TEST (bad_arguments),
  H_TEST (fifo_behind_waiter),
  H_TEST (timeout_expires),
  H_TEST (cancel_wakes),
  H_TEST (cancel_unblocks_queue),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
