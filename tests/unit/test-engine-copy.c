/* xcopyd: engine tests — vectored copies: offsets, order, coalescing.
 *
 * Every case compares the destination byte for byte with an in-memory model
 * (ranges applied in order, each as memmove).  Coalescing is observed
 * through the copy_file_range calls the engine makes (counted by the
 * harness's wrappers in xcopy_sys).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static const unsigned rungs[] = {
  0, XCOPY_F_FORCE_CFR, XCOPY_F_FORCE_SPLICE, XCOPY_F_FORCE_BOUNCE,
};

static void
copy_basic (void)
{
  struct xcopy_range r[] = { { 0, 0, 1 * MiB } };
  struct xcopy_stats st;

  for (size_t i = 0; i < ARRAY_SIZE (rungs); i++) {
    memset (&st, 0, sizeof st);
    CHECK_COPY (false, 1 * MiB, 1 * MiB, r, 1, rungs[i], &st);
    /* Every byte was moved by exactly one copy method. */
    CHECK_U64 (h_bytes_copied (&st), ==, 1 * MiB);
  }
}

static void
copy_dst_offsets (void)
{
  /* Scattered, reversed and interleaved destinations. */
  struct xcopy_range r[] = {
    { 0,           3 * MiB,       64 * KiB },
    { 64 * KiB,    0,             64 * KiB },
    { 1 * MiB,     2 * MiB + 17,  100 * KiB + 3 },
    { 2 * MiB,     1 * MiB,       512 },
    { 3 * MiB,     4 * MiB - 999, 999 },
  };

  for (size_t i = 0; i < ARRAY_SIZE (rungs); i++)
    CHECK_COPY (false, 4 * MiB, 4 * MiB, r, ARRAY_SIZE (r), rungs[i], NULL);
}

static void
copy_order_two_files (void)
{
  /* Later ranges overwrite earlier ones in the destination. */
  struct xcopy_range r[] = {
    { 0,        0,        64 * KiB },
    { 128 * KiB, 32 * KiB, 64 * KiB },
    { 512 * KiB, 40 * KiB, 100 },
    { 0,        0,        1 },
  };

  for (size_t i = 0; i < ARRAY_SIZE (rungs); i++)
    CHECK_COPY (false, 1 * MiB, 1 * MiB, r, ARRAY_SIZE (r), rungs[i], NULL);
}

static void
copy_order_same_file (void)
{
  /* A -> B, then B -> C: C must end up with A's old bytes. */
  struct xcopy_range chain[] = {
    { 0,         256 * KiB, 64 * KiB },
    { 256 * KiB, 512 * KiB, 64 * KiB },
    { 512 * KiB, 768 * KiB + 5, 64 * KiB },
  };
  /* Swap two blocks through a third. */
  struct xcopy_range swap[] = {
    { 0,        900 * KiB, 8 * KiB },
    { 100 * KiB, 0,        8 * KiB },
    { 900 * KiB, 100 * KiB, 8 * KiB },
  };

  for (size_t i = 0; i < ARRAY_SIZE (rungs); i++) {
    CHECK_COPY (true, 1 * MiB, 0, chain, ARRAY_SIZE (chain), rungs[i], NULL);
    CHECK_COPY (true, 1 * MiB, 0, swap, ARRAY_SIZE (swap), rungs[i], NULL);
  }
}

/* Run ranges with FORCE_CFR between two files; return copy_file_range calls. */
static unsigned long
cfr_calls_for (bool same, const struct xcopy_range *r, size_t n,
               uint64_t size)
{
  h_inject_reset ();
  if (!CHECK_COPY (same, size, size, r, n, XCOPY_F_FORCE_CFR, NULL))
    return 0;
  CHECK_U64 (h_nbytes (H_CFR), ==, h_sum_len (r, n));
  CHECK_U64 (h_nfailed (H_CFR), ==, 0);
  return h_ncalls (H_CFR);
}

static void
copy_coalesce_adjacent (void)
{
  struct xcopy_range three[] = {
    { 0,        64 * KiB,           4 * KiB },
    { 4 * KiB,  68 * KiB,           4 * KiB },
    { 8 * KiB,  72 * KiB,           100 },
  };
  struct xcopy_range *many = h_malloc (1000 * sizeof *many);

  CHECK_U64 (cfr_calls_for (false, three, 3, 1 * MiB), ==, 1);
  CHECK_U64 (h_log (H_CFR, 0)->len, ==, 8 * KiB + 100);
  CHECK_INT (h_log (H_CFR, 0)->off_in, ==, 0);
  CHECK_INT (h_log (H_CFR, 0)->off_out, ==, 64 * KiB);

  /* 1000 adjacent 512-byte ranges, zero-length ones mixed in: each starts
   * where the last one ended.
   */
  many[0].src = 4096;
  many[0].dst = 1 * MiB;
  many[0].len = 512;
  for (size_t i = 1; i < 1000; i++) {
    many[i].src = many[i - 1].src + many[i - 1].len;
    many[i].dst = many[i - 1].dst + many[i - 1].len;
    many[i].len = i % 7 == 3 ? 0 : 512;
  }
  CHECK_U64 (cfr_calls_for (false, many, 1000, 2 * MiB), ==, 1);
  free (many);
}

static void
copy_no_coalesce_gaps (void)
{
  struct xcopy_range src_only[] = {     /* adjacent in src, not in dst */
    { 0,       0,        4 * KiB },
    { 4 * KiB, 12 * KiB, 4 * KiB },
  };
  struct xcopy_range dst_only[] = {     /* adjacent in dst, not in src */
    { 0,        0,       4 * KiB },
    { 16 * KiB, 4 * KiB, 4 * KiB },
  };
  struct xcopy_range reversed[] = {     /* adjacent, but in reverse order */
    { 4 * KiB, 4 * KiB, 4 * KiB },
    { 0,       0,       4 * KiB },
  };

  CHECK_U64 (cfr_calls_for (false, src_only, 2, 1 * MiB), ==, 2);
  CHECK_U64 (cfr_calls_for (false, dst_only, 2, 1 * MiB), ==, 2);
  CHECK_U64 (cfr_calls_for (false, reversed, 2, 1 * MiB), ==, 2);
}

static void
copy_coalesce_same_file (void)
{
  /* Within one file, adjacent and far from each other: safe to merge. */
  struct xcopy_range r[] = {
    { 0,       512 * KiB,          4 * KiB },
    { 4 * KiB, 512 * KiB + 4 * KiB, 4 * KiB },
  };

  CHECK_U64 (cfr_calls_for (true, r, 2, 1 * MiB), ==, 1);
}

static void
copy_no_merge_into_overlap (void)
{
  /* Adjacent in src and dst, but the merged range {0, 4K, 8K} would overlap
   * itself: run in order the second range reads what the first wrote
   * (result A A A), one memmove would give A A B.
   */
  struct xcopy_range r[] = {
    { 0,       4 * KiB, 4 * KiB },
    { 4 * KiB, 8 * KiB, 4 * KiB },
  };
  /* The same going down: C C C rather than B C C. */
  struct xcopy_range down[] = {
    { 8 * KiB, 4 * KiB, 4 * KiB },
    { 4 * KiB, 0,       4 * KiB },
  };
  /* Many small links of a chain. */
  struct xcopy_range chain[64];

  for (size_t i = 0; i < ARRAY_SIZE (chain); i++) {
    chain[i].src = 1000 + i * 333;
    chain[i].dst = 1000 + (i + 1) * 333;
    chain[i].len = 333;
  }
  for (size_t i = 0; i < ARRAY_SIZE (rungs); i++) {
    CHECK_COPY (true, 64 * KiB, 0, r, 2, rungs[i], NULL);
    CHECK_COPY (true, 64 * KiB, 0, down, 2, rungs[i], NULL);
    CHECK_COPY (true, 64 * KiB, 0, chain, ARRAY_SIZE (chain), rungs[i], NULL);
  }
}

static void
copy_unaligned (void)
{
  /* Odd offsets and lengths, some straddling page boundaries. */
  struct xcopy_range r[] = {
    { 1,             3,             1 },
    { 4095,          8191,          2 },
    { 12345,         777777,        65537 },
    { 4097,          200000,        4095 },
    { 1 * MiB - 7,   0,             7 },
    { 300001,        500003,        131071 },
  };

  for (size_t i = 0; i < ARRAY_SIZE (rungs); i++) {
    CHECK_COPY (false, 1 * MiB, 1 * MiB, r, ARRAY_SIZE (r), rungs[i], NULL);
    CHECK_COPY (true, 1 * MiB, 0, r, ARRAY_SIZE (r), rungs[i], NULL);
  }
}

static void
copy_random_batches (void)
{
  /* Random batches between files of different sizes, fixed seeds. */
  enum { N = 20 };
  struct xcopy_range r[N];
  uint64_t ssize = 700 * KiB + 13, dsize = 300 * KiB + 7;
  unsigned char rnd[N * 24];

  for (unsigned iter = 0; iter < 12; iter++) {
    h_fill_random (rnd, sizeof rnd, 77 + iter);
    for (size_t i = 0; i < N; i++) {
      uint64_t a, b, c;
      memcpy (&a, rnd + i * 24, 8);
      memcpy (&b, rnd + i * 24 + 8, 8);
      memcpy (&c, rnd + i * 24 + 16, 8);
      r[i].len = c % (iter & 1 ? 70 * KiB : 5000);
      r[i].src = a % (ssize - r[i].len + 1);
      r[i].dst = b % (dsize - r[i].len + 1);
    }
    CHECK_COPY (false, ssize, dsize, r, N, rungs[iter % 4], NULL);
  }
}

static void
copy_zero_length (void)
{
  struct xcopy_range r[] = {
    { 0,       0,       0 },
    { 100,     200,     300 },
    { 1 * MiB, 1 * MiB, 0 },            /* at the very end: still inside */
    { 5,       7,       0 },
    { 1000,    5000,    1 },
    { 0,       0,       0 },
  };
  struct xcopy_stats st;

  memset (&st, 0, sizeof st);
  CHECK_COPY (false, 1 * MiB, 1 * MiB, r, ARRAY_SIZE (r), 0, &st);
  CHECK_U64 (h_bytes_copied (&st), ==, 301);

  /* A batch of only empty ranges moves nothing at all. */
  h_inject_reset ();
  CHECK_COPY (false, 4096, 4096, r, 1, 0, NULL);
  CHECK_U64 (h_ncalls (H_CFR) + h_ncalls (H_CLONE) + h_ncalls (H_PWRITE)
             + h_ncalls (H_SPLICE_OUT), ==, 0);
}

/* DESIGN invariant 2: an empty batch is refused, not silently accepted. */
static void
copy_count_zero (void)
{
  int s = h_file (4096), d = h_file (4096);
  struct xcopy_range r[1] = { { 0, 0, 4096 } };
  struct xcopy_pair p;
  struct xcopy_result res;

  xcopy_pair_init (&p, s, d, NULL);
  h_result_poison (&res);
  CHECK_REFUSED (xcopy_copyv (&p, r, 0, 0, &res), &res, EINVAL, SIZE_MAX);
  CHECK_U64 (h_ncalls (H_CFR) + h_ncalls (H_PWRITE) + h_ncalls (H_CLONE)
             + h_ncalls (H_SPLICE_OUT) + h_ncalls (H_PUNCH), ==, 0);
  /* Without a result, too. */
  CHECK_INT (xcopy_copyv (&p, r, 0, 0, NULL), ==, -EINVAL);
  h_close (s);
  h_close (d);
}

static void
copy_count_zero_null (void)
{
  int s = h_file (4096), d = h_file (4096);
  struct xcopy_pair p;
  struct xcopy_result res;

  xcopy_pair_init (&p, s, d, NULL);
  h_result_poison (&res);
  CHECK_REFUSED (xcopy_copyv (&p, NULL, 0, 0, &res), &res, EINVAL, SIZE_MAX);
  h_close (s);
  h_close (d);
}

static void
copy_no_result_no_stats (void)
{
  unsigned char *a = h_random (64 * KiB, 5), *b = h_random (64 * KiB, 6);
  int s = h_file_with (a, 64 * KiB), d = h_file_with (b, 64 * KiB);
  struct xcopy_range r[] = { { 100, 200, 30000 }, { 40000, 0, 100 } };
  struct xcopy_pair p;

  xcopy_pair_init (&p, s, d, NULL);
  CHECK_INT (xcopy_copyv (&p, r, 2, 0, NULL), ==, 0);
  h_model_copyv (a, b, r, 2);
  CHECK_FILE (d, b, 64 * KiB);
  free (a);
  free (b);
  h_close (s);
  h_close (d);
}

static void
copy_stats_accumulate (void)
{
  unsigned char *a = h_random (256 * KiB, 8);
  int s = h_file_with (a, 256 * KiB), d = h_file (256 * KiB);
  struct xcopy_range r[] = { { 0, 0, 100 * KiB } };
  struct xcopy_stats st;
  struct xcopy_stats_snapshot snap;
  struct xcopy_pair p;
  struct xcopy_result res;

  memset (&st, 0, sizeof st);
  xcopy_pair_init (&p, s, d, &st);
  CHECK_OK (xcopy_copyv (&p, r, 1, XCOPY_F_FORCE_CFR, &res), &res, 1,
            100 * KiB);
  CHECK_OK (xcopy_copyv (&p, r, 1, XCOPY_F_FORCE_BOUNCE, &res), &res, 1,
            100 * KiB);
  CHECK_U64 (h_bytes (&st, XCOPY_M_CFR), ==, 100 * KiB);
  CHECK_U64 (h_bytes (&st, XCOPY_M_BOUNCE), ==, 100 * KiB);
  CHECK_U64 (h_bytes_all (&st), ==, 200 * KiB);
  CHECK_U64 (h_calls (&st, XCOPY_M_CFR), >=, 1);
  CHECK_U64 (h_calls (&st, XCOPY_M_BOUNCE), >=, 1);
  xcopy_stats_snapshot (&st, &snap);
  for (int m = 0; m < XCOPY_M__COUNT; m++) {
    CHECK_U64 (snap.bytes[m], ==, h_bytes (&st, m));
    CHECK_U64 (snap.calls[m], ==, h_calls (&st, m));
    CHECK (xcopy_method_name (m) != NULL && *xcopy_method_name (m));
  }
  free (a);
  h_close (s);
  h_close (d);
}

static void
copy_sync (void)
{
  int s = h_file (64 * KiB), d = h_file (64 * KiB);
  struct xcopy_range r[] = { { 0, 0, 64 * KiB } };
  struct xcopy_pair p;
  struct xcopy_result res;

  xcopy_pair_init (&p, s, d, NULL);
  CHECK_OK (xcopy_copyv (&p, r, 1, 0, &res), &res, 1, 64 * KiB);
  CHECK_U64 (h_ncalls (H_FDATASYNC), ==, 0);
  CHECK_OK (xcopy_copyv (&p, r, 1, XCOPY_F_SYNC, &res), &res, 1, 64 * KiB);
  REQUIRE_U64 (h_ncalls (H_FDATASYNC), ==, 1);
  CHECK_INT (h_log (H_FDATASYNC, 0)->fd_out, ==, d);

  /* A failed sync is not a success. */
  h_fail_always (H_FDATASYNC, EIO);
  h_result_poison (&res);
  CHECK_INT (xcopy_copyv (&p, r, 1, XCOPY_F_SYNC, &res), ==, -EIO);
  CHECK_INT (res.error, ==, EIO);
  h_close (s);
  h_close (d);
}

static void
copy_large (void)
{
  struct xcopy_range r[] = {
    { 0,       1 * MiB + 4096, 8 * MiB },
    { 8 * MiB, 0,              1 * MiB + 4096 },
  };

  CHECK_COPY (false, 10 * MiB, 10 * MiB, r, 2, 0, NULL);
  CHECK_COPY (false, 10 * MiB, 10 * MiB, r, 2, XCOPY_F_FORCE_BOUNCE, NULL);
}

static void
copy_same_file_two_descriptors (void)
{
  /* Two open file descriptions of one file are still one file: the
   * overlapping copy must be a memmove.
   */
  uint64_t size = 1 * MiB;
  unsigned char *model = h_random (size, 900);
  int a = h_file_with (model, size), b;
  char path[64];
  struct xcopy_range r[] = {
    { 0,        100,      512 * KiB },    /* backward, small shift */
    { 600 * KiB, 500 * KiB, 300 * KiB },  /* forward */
  };

  snprintf (path, sizeof path, "/proc/self/fd/%d", a);
  b = open (path, O_RDWR);
  if (b < 0) {
    h_close (a);
    free (model);
    h_skip ("cannot reopen %s: %m", path);
  }
  for (size_t i = 0; i < ARRAY_SIZE (rungs); i++) {
    struct xcopy_pair p;
    struct xcopy_result res;

    xcopy_pair_init (&p, a, b, NULL);
    CHECK_OK (xcopy_copyv (&p, r, 2, rungs[i], &res), &res, 2,
              h_sum_len (r, 2));
    h_model_copyv (model, model, r, 2);
    CHECK_FILE (a, model, size);
    if (h_case_failures ()) {
      h_note ("... flags 0x%x", rungs[i]);
      break;
    }
  }
  h_close (a);
  h_close (b);
  free (model);
}

static void
copy_many_ranges (void)
{
  /* 20,000 non-adjacent 512-byte ranges in one batch, reversed order. */
  enum { N = 20000 };
  struct xcopy_range *r = h_malloc (N * sizeof *r);
  struct xcopy_stats st;

  for (size_t i = 0; i < N; i++) {
    r[i].src = (N - 1 - i) * 1024 + 1;
    r[i].dst = i * 512;
    r[i].len = i % 2 ? 512 : 511;
  }
  memset (&st, 0, sizeof st);
  CHECK_COPY (false, N * 1024 + 1, N * 512, r, N, XCOPY_F_FORCE_CFR, &st);
  CHECK_U64 (h_bytes (&st, XCOPY_M_CFR), ==, h_sum_len (r, N));
  free (r);
}

/* Threads share one pair (and its counters), copying disjoint ranges. */
struct worker {
  struct xcopy_pair *p;
  unsigned idx;
  int ret;
};

#define WORKERS 4
#define PER_WORKER (2 * MiB)

static void *
work (void *arg)
{
  struct worker *w = arg;

  w->ret = 0;
  for (unsigned k = 0; k < 16 && w->ret == 0; k++) {
    uint64_t chunk = PER_WORKER / 16;
    struct xcopy_range r = {
      w->idx * PER_WORKER + k * chunk,
      (WORKERS - 1 - w->idx) * PER_WORKER + k * chunk,
      chunk,
    };
    w->ret = xcopy_copyv (w->p, &r, 1, k % 2 ? XCOPY_F_FORCE_BOUNCE : 0, NULL);
  }
  return NULL;
}

static void
copy_threads_share_pair (void)
{
  uint64_t size = WORKERS * PER_WORKER;
  unsigned char *src = h_random (size, 910), *exp = h_malloc (size);
  int s = h_file_with (src, size), d = h_file (size);
  struct xcopy_stats st;
  struct xcopy_pair p;
  pthread_t t[WORKERS];
  struct worker w[WORKERS];

  /* The harness's counting wrappers are not thread-safe: real calls. */
  xcopy_sys_reset ();
  memset (&st, 0, sizeof st);
  xcopy_pair_init (&p, s, d, &st);
  for (unsigned i = 0; i < WORKERS; i++) {
    w[i].p = &p;
    w[i].idx = i;
    REQUIRE_INT (pthread_create (&t[i], NULL, work, &w[i]), ==, 0);
  }
  for (unsigned i = 0; i < WORKERS; i++) {
    pthread_join (t[i], NULL);
    CHECK_INT (w[i].ret, ==, 0);
    memcpy (exp + (WORKERS - 1 - i) * PER_WORKER, src + i * PER_WORKER,
            PER_WORKER);
  }
  CHECK_FILE (d, exp, size);
  CHECK_U64 (h_bytes_copied (&st), ==, size);
  CHECK_U64 (h_bytes (&st, XCOPY_M_BOUNCE), ==, size / 2);
  h_close (s);
  h_close (d);
  free (src);
  free (exp);
}

static const struct h_test tests[] = {
  H_TEST (copy_basic),
  H_TEST (copy_dst_offsets),
  H_TEST (copy_order_two_files),
  H_TEST (copy_order_same_file),
  H_TEST (copy_coalesce_adjacent),
  H_TEST (copy_no_coalesce_gaps),
  H_TEST (copy_coalesce_same_file),
  H_TEST (copy_no_merge_into_overlap),
  H_TEST (copy_unaligned),
  H_TEST (copy_random_batches),
  H_TEST (copy_zero_length),
  H_TEST (copy_count_zero),
  H_TEST (copy_count_zero_null),
  H_TEST (copy_no_result_no_stats),
  H_TEST (copy_stats_accumulate),
  H_TEST (copy_sync),
  H_TEST (copy_large),
  H_TEST (copy_same_file_two_descriptors),
  H_TEST (copy_many_ranges),
  H_TEST (copy_threads_share_pair),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
