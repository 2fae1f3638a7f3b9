/* xcopyd: range-lock stress tests — fairness under a stream of writes,
 * deadlock freedom with batches and copies in opposite orders, a
 * many-thread hammer with an independent checker of who holds what, and
 * the cost of the NBD path.  (Semantics: test-rangelock.c.)
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

/* ---- Fairness ---- */

struct writers {
  struct rangelock *rl;
  atomic_bool stop;
  atomic_ulong ops;
  atomic_int errors;
};

static void *
writer_main (void *arg)
{
  struct writers *ws = arg;
  unsigned seed = (unsigned) (uintptr_t) pthread_self ();

  while (!atomic_load (&ws->stop)) {
    struct rangelock_hold h = RANGELOCK_HOLD_INIT;
    uint64_t off = (uint64_t) (rand_r (&seed) % 1024) * 4096;

    if (rangelock_lock (ws->rl, &h, off, 4096, RANGELOCK_EXCL, NULL) != 0)
      atomic_fetch_add (&ws->errors, 1);
    usleep (200);               /* a write in flight */
    rangelock_release (&h);
    atomic_fetch_add (&ws->ops, 1);
  }
  return NULL;
}

/* A large exclusive copy is granted while small writes keep arriving. */
static void
fair_to_large_copy (void)
{
  enum { NW = 6 };
  struct rangelock rl;
  struct writers ws = { .rl = &rl };
  pthread_t t[NW];
  struct rangelock_hold h = RANGELOCK_HOLD_INIT;
  const struct rangelock_wait w = { 3 * INT64_C (1000000000), NULL };

  table_init (&rl);
  for (int i = 0; i < NW; i++)
    REQUIRE_INT (pthread_create (&t[i], NULL, writer_main, &ws), ==, 0);
  for (int round = 0; round < 20; round++) {
    sleep_ms (20);
    int64_t t0 = now_ns ();
    int r = rangelock_lock (&rl, &h, 0, 1024 * 4096, RANGELOCK_EXCL, &w);
    CHECK_INT (r, ==, 0);
    if (r != 0)
      break;
    if (round == 0)
      h_note ("large lock granted after %.3f ms with %lu writes done",
              (now_ns () - t0) / 1e6, atomic_load (&ws.ops));
    usleep (1000);
    rangelock_release (&h);
  }
  atomic_store (&ws.stop, true);
  for (int i = 0; i < NW; i++)
    pthread_join (t[i], NULL);
  CHECK_INT (atomic_load (&ws.errors), ==, 0);
  CHECK_U64 (atomic_load (&ws.ops), >, 100);
  table_fini (&rl);
}

/* ---- Deadlock: overlapping batches in opposite orders ---- */

struct duel {
  struct rangelock *a, *b;
  int dir;
  atomic_int errors;
};

static void *
duel_main (void *arg)
{
  struct duel *d = arg;
  const struct rangelock_wait w = { 10 * INT64_C (1000000000), NULL };

  for (int i = 0; i < 20000; i++) {
    struct rangelock_hold h = RANGELOCK_HOLD_INIT;
    struct rangelock_hold hs = RANGELOCK_HOLD_INIT, hd = RANGELOCK_HOLD_INIT;
    uint64_t o = (uint64_t) (i % 7) * 10;
    struct rangelock_req fw[] = { { o, 50, RANGELOCK_EXCL },
                                  { 100 + o, 50, RANGELOCK_EXCL } };
    struct rangelock_req bw[] = { fw[1], fw[0] };
    struct xcopy_range cr[] = { { o, 100 - o, 60 } };
    int r;

    /* One table, the same ranges listed in opposite orders. */
    r = rangelock_acquire (d->a, &h, d->dir ? bw : fw, 2, &w);
    if (r == 0)
      sched_yield ();
    rangelock_release (&h);
    /* Copies between two tables in opposite directions. */
    if (r == 0)
      r = d->dir ? rangelock_acquire_copy (d->a, d->b, cr, 1, &w, &hs, &hd)
                 : rangelock_acquire_copy (d->b, d->a, cr, 1, &w, &hs, &hd);
    if (r == 0)
      sched_yield ();
    rangelock_release (&hs);
    rangelock_release (&hd);
    if (r != 0)
      atomic_fetch_add (&d->errors, 1);
  }
  return NULL;
}

static void
no_deadlock_opposite_orders (void)
{
  struct rangelock a, b;
  struct duel d[2] = { { &a, &b, 0, 0 }, { &a, &b, 1, 0 } };
  pthread_t t[2];

  table_init (&a);
  table_init (&b);
  for (int i = 0; i < 2; i++)
    REQUIRE_INT (pthread_create (&t[i], NULL, duel_main, &d[i]), ==, 0);
  for (int i = 0; i < 2; i++)
    pthread_join (t[i], NULL);
  CHECK_INT (atomic_load (&d[0].errors) + atomic_load (&d[1].errors), ==, 0);
  table_fini (&a);
  table_fini (&b);
}

/* ---- Hammer: many threads, every kind of acquisition, a checker ---- */

enum { HU = 512, HT = 8 };

struct hammer {
  struct rangelock tab[2];
  atomic_int excl[2][HU], shared[2][HU];
  atomic_bool cancel[HT];
  atomic_bool stop;
  atomic_int violations, errors;
  atomic_ulong ops, timeouts, cancels;
};

struct hammer_thread {
  struct hammer *hm;
  int id;
  pthread_t t;
};

/* Mark (delta 1) or unmark (-1) what a grant holds; count conflicts seen.
 * With sequentially consistent atomics, of two conflicting holders at
 * least one sees the other's mark.
 */
static void
mark (struct hammer *hm, unsigned char m[2][HU], int delta)
{
  for (int t = 0; t < 2; t++)
    for (int u = 0; u < HU; u++) {
      if (m[t][u] == 2) {
        int prev = atomic_fetch_add (&hm->excl[t][u], delta);
        if (delta > 0 && (prev != 0 || atomic_load (&hm->shared[t][u])))
          atomic_fetch_add (&hm->violations, 1);
      }
      else if (m[t][u] == 1) {
        atomic_fetch_add (&hm->shared[t][u], delta);
        if (delta > 0 && atomic_load (&hm->excl[t][u]))
          atomic_fetch_add (&hm->violations, 1);
      }
    }
}

static void
model_add (unsigned char *m, uint64_t off, uint64_t len, unsigned char v)
{
  for (uint64_t u = off; u < off + len; u++)
    if (v > m[u])
      m[u] = v;
}

static uint64_t
rnd (unsigned *seed, uint64_t n)
{
  return (uint64_t) rand_r (seed) % n;
}

/* One random acquisition into h[0..1]; its model into m. */
static int
hammer_acquire (struct hammer *hm, int id, unsigned *seed,
                struct rangelock_hold h[2], unsigned char m[2][HU])
{
  int kind = (int) rnd (seed, 5), t = (int) rnd (seed, 2);
  struct rangelock_wait w = { RANGELOCK_FOREVER, NULL };
  struct rangelock_req reqs[6];
  struct xcopy_range cr[4];
  size_t n = 1 + rnd (seed, kind == 2 ? 4 : 6);

  if (kind == 3)
    w.timeout_ns = (int64_t) rnd (seed, 2000000);
  if (kind == 4)
    w.cancel = &hm->cancel[id];
  if (kind == 2) {
    int t2 = (int) rnd (seed, 2);
    for (size_t i = 0; i < n; i++) {
      uint64_t len = 1 + rnd (seed, 32);
      cr[i] = (struct xcopy_range) { rnd (seed, HU - len), rnd (seed, HU - len),
                                     len };
      model_add (m[t], cr[i].src, len, 1);
      model_add (m[t2], cr[i].dst, len, 2);
    }
    return rangelock_acquire_copy (&hm->tab[t], &hm->tab[t2], cr, n, &w,
                                   &h[0], &h[1]);
  }
  if (kind != 1)
    n = 1;
  for (size_t i = 0; i < n; i++) {
    uint64_t len = rnd (seed, 48);
    reqs[i] = (struct rangelock_req) {
      rnd (seed, HU - len), len,
      rnd (seed, 3) ? RANGELOCK_EXCL : RANGELOCK_SHARED };
    model_add (m[t], reqs[i].off, len, reqs[i].mode == RANGELOCK_EXCL ? 2 : 1);
  }
  if (n == 1)
    return rangelock_lock (&hm->tab[t], &h[0], reqs[0].off, reqs[0].len,
                           reqs[0].mode, &w);
  return rangelock_acquire (&hm->tab[t], &h[0], reqs, n, &w);
}

static void *
hammer_main (void *arg)
{
  struct hammer_thread *ht = arg;
  struct hammer *hm = ht->hm;
  unsigned seed = 1000 + ht->id;

  while (!atomic_load (&hm->stop)) {
    struct rangelock_hold h[2] = { RANGELOCK_HOLD_INIT, RANGELOCK_HOLD_INIT };
    unsigned char m[2][HU];
    int r;

    memset (m, 0, sizeof m);
    atomic_store (&hm->cancel[ht->id], false);
    r = hammer_acquire (hm, ht->id, &seed, h, m);
    if (r == 0) {
      mark (hm, m, 1);
      if (rnd (&seed, 4) == 0)
        usleep (50);
      else
        sched_yield ();
      mark (hm, m, -1);
    }
    else if (r == -ETIMEDOUT)
      atomic_fetch_add (&hm->timeouts, 1);
    else if (r == -ECANCELED)
      atomic_fetch_add (&hm->cancels, 1);
    else
      atomic_fetch_add (&hm->errors, 1);
    rangelock_release (&h[0]);
    rangelock_release (&h[1]);
    atomic_fetch_add (&hm->ops, 1);
  }
  return NULL;
}

static void
hammer (void)
{
  static struct hammer hm;
  struct hammer_thread th[HT];
  unsigned seed = 7;
  int checks = 0;

  memset (&hm, 0, sizeof hm);
  table_init (&hm.tab[0]);
  table_init (&hm.tab[1]);
  for (int i = 0; i < HT; i++) {
    th[i] = (struct hammer_thread) { &hm, i, 0 };
    REQUIRE_INT (pthread_create (&th[i].t, NULL, hammer_main, &th[i]), ==, 0);
  }
  for (int64_t end = now_ns () + INT64_C (3000000000); now_ns () < end; ) {
    usleep (500);
    atomic_store (&hm.cancel[rnd (&seed, HT)], true);
    rangelock_kick (&hm.tab[rnd (&seed, 2)]);
    if (rangelock_check (&hm.tab[0]) || rangelock_check (&hm.tab[1]))
      atomic_fetch_add (&hm.violations, 1000);
    checks++;
  }
  atomic_store (&hm.stop, true);
  for (int i = 0; i < HT; i++) {
    atomic_store (&hm.cancel[i], true);
    pthread_join (th[i].t, NULL);
  }
  h_note ("%lu acquisitions, %lu timeouts, %lu cancels, %d table checks",
          atomic_load (&hm.ops), atomic_load (&hm.timeouts),
          atomic_load (&hm.cancels), checks);
  CHECK_INT (atomic_load (&hm.violations), ==, 0);
  CHECK_INT (atomic_load (&hm.errors), ==, 0);
  CHECK_U64 (atomic_load (&hm.ops), >, 1000);
  CHECK_U64 (atomic_load (&hm.timeouts), >, 0);
  CHECK_U64 (atomic_load (&hm.cancels), >, 0);
  for (int t = 0; t < 2; t++)
    for (int u = 0; u < HU; u++)
      CHECK (hm.excl[t][u] == 0 && hm.shared[t][u] == 0);
  table_fini (&hm.tab[0]);
  table_fini (&hm.tab[1]);
}

/* ---- Cost of the NBD path ---- */

static double
ns_per_lock (struct rangelock *rl, uint64_t base)
{
  enum { N = 1000000 };
  int64_t t0 = now_ns ();

  for (int i = 0; i < N; i++) {
    struct rangelock_hold h = RANGELOCK_HOLD_INIT;
    if (rangelock_lock (rl, &h, base + (uint64_t) (i & 255) * 4096, 4096,
                        RANGELOCK_EXCL, NULL) != 0)
      h_fail (__FILE__, __LINE__, "lock failed");
    rangelock_release (&h);
  }
  return (double) (now_ns () - t0) / N;
}

static void
uncontended_cost (void)
{
  struct rangelock rl;
  struct rangelock_hold others[32];
  const char *san = getenv ("SANITIZE");
  double limit = san && *san ? 10000 : 1000, alone, busy;

  table_init (&rl);
  alone = ns_per_lock (&rl, 0);
  /* A queue depth of 32 writes in flight elsewhere in the file. */
  for (int i = 0; i < 32; i++) {
    others[i] = (struct rangelock_hold) RANGELOCK_HOLD_INIT;
    REQUIRE_INT (rangelock_lock (&rl, &others[i], (uint64_t) i * 4096, 4096,
                                 RANGELOCK_EXCL, NULL), ==, 0);
  }
  busy = ns_per_lock (&rl, 1 * GiB);
  for (int i = 0; i < 32; i++)
    rangelock_release (&others[i]);
  h_note ("lock+unlock: %.0f ns alone, %.0f ns with 32 holders", alone, busy);
  CHECK (alone < limit);
  CHECK (busy < 2 * limit);
  table_fini (&rl);
}

/* A batch of many ranges: coalescing and conflict checks stay cheap. */
static void
large_batch (void)
{
  enum { N = 100000 };
  struct rangelock rl;
  struct rangelock_hold h = RANGELOCK_HOLD_INIT, x = RANGELOCK_HOLD_INIT;
  struct xcopy_range *r = h_malloc (N * sizeof *r);
  int64_t t0;

  table_init (&rl);
  for (size_t i = 0; i < N; i++)          /* every other 4 KiB block */
    r[i] = (struct xcopy_range) { (N - 1 - i) * 8192, (N - 1 - i) * 8192 + 4096,
                                  4096 };
  t0 = now_ns ();
  REQUIRE_INT (rangelock_acquire_copy (&rl, &rl, r, N, NULL, &h, &x), ==, 0);
  h_note ("%d-range copy batch locked in %.1f ms", N, (now_ns () - t0) / 1e6);
  rangelock_release (&x);             /* same table: x stayed idle */
  struct rangelock_hold y = RANGELOCK_HOLD_INIT;
  CHECK_INT (rangelock_lock (&rl, &y, 8192, 4096, RANGELOCK_SHARED, &no_wait),
             ==, 0);
  rangelock_release (&y);
  CHECK_INT (rangelock_lock (&rl, &y, 8192 + 4096, 1, RANGELOCK_SHARED,
                             &no_wait), ==, -ETIMEDOUT);
  CHECK_INT (rangelock_lock (&rl, &y, 8192, 1, RANGELOCK_EXCL, &no_wait),
             ==, -ETIMEDOUT);
  rangelock_release (&h);
  free (r);
  table_fini (&rl);
}

static const struct h_test tests[] = {
  H_TEST (fair_to_large_copy),
  H_TEST_T (no_deadlock_opposite_orders, 60),
  H_TEST (hammer),
  H_TEST (uncontended_cost),
  H_TEST (large_batch),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
