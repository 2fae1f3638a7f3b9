/* xcopyd: engine tests — the fallback ladder.
 *
 *   FICLONERANGE -> copy_file_range -> splice -> pread/pwrite
 *
 * Each rung is reached by flag and by failures injected through xcopy_sys.
 * Capability bits must be cleared once and remembered per pair; errors that
 * are not "unsupported here" (ENOSPC, EIO, EDQUOT, ENOMEM) must be reported
 * with exact progress and nothing written past it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define LEN (256 * KiB + 123)

/* Two files of random bytes, and their model. */
struct fx {
  int s, d;
  unsigned char *src, *dst;
  uint64_t ssize, dsize;
  struct xcopy_stats st;
  struct xcopy_pair p;
  struct xcopy_result res;
};

static void
fx_open (struct fx *f, uint64_t ssize, uint64_t dsize, uint64_t seed)
{
  memset (f, 0, sizeof *f);
  f->ssize = ssize;
  f->dsize = dsize;
  f->src = h_random (ssize, seed);
  f->dst = h_random (dsize, seed + 1);
  f->s = h_file_with (f->src, ssize);
  f->d = h_file_with (f->dst, dsize);
  xcopy_pair_init (&f->p, f->s, f->d, &f->st);
  h_result_poison (&f->res);
}

static void
fx_close (struct fx *f)
{
  h_close (f->s);
  h_close (f->d);
  free (f->src);
  free (f->dst);
}

/* Run a batch that must succeed and match the model. */
static int
fx_copy (struct fx *f, const struct xcopy_range *r, size_t n, unsigned flags)
{
  int ret;

  h_result_poison (&f->res);
  ret = xcopy_copyv (&f->p, r, n, flags, &f->res);
  CHECK_OK (ret, &f->res, n, h_sum_len (r, n));
  h_model_copyv (f->src, f->dst, r, n);
  CHECK_FILE (f->d, f->dst, f->dsize);
  return ret;
}

static const struct xcopy_range one[] = { { 1000, 3000, LEN } };

static void
ladder_initial_caps (void)
{
  struct xcopy_pair p;

  xcopy_pair_init (&p, 3, 4, NULL);
  CHECK_INT (p.src_fd, ==, 3);
  CHECK_INT (p.dst_fd, ==, 4);
  CHECK (p.stats == NULL);
  CHECK_U64 (atomic_load (&p.caps), ==, XCOPY_CAP_ALL);
}

static void
ladder_force_cfr (void)
{
  struct fx f;

  fx_open (&f, 1 * MiB, 1 * MiB, 10);
  fx_copy (&f, one, 1, XCOPY_F_FORCE_CFR);
  CHECK_U64 (h_ncalls (H_CLONE), ==, 0);
  CHECK_U64 (h_nbytes (H_CFR), ==, LEN);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_CFR), ==, LEN);
  CHECK_U64 (h_bytes_copied (&f.st), ==, LEN);
  CHECK_U64 (h_ncalls (H_SPLICE_IN) + h_ncalls (H_SPLICE_OUT)
             + h_ncalls (H_PWRITE), ==, 0);
  fx_close (&f);
}

static void
ladder_force_splice (void)
{
  struct fx f;

  fx_open (&f, 1 * MiB, 1 * MiB, 20);
  fx_copy (&f, one, 1, XCOPY_F_FORCE_SPLICE);
  CHECK_U64 (h_ncalls (H_CLONE) + h_ncalls (H_CFR) + h_ncalls (H_PWRITE), ==, 0);
  CHECK_U64 (h_nbytes (H_SPLICE_OUT), ==, LEN);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_SPLICE), ==, LEN);
  CHECK_U64 (h_bytes_copied (&f.st), ==, LEN);
  fx_close (&f);
}

static void
ladder_force_bounce (void)
{
  struct fx f;

  fx_open (&f, 1 * MiB, 1 * MiB, 30);
  fx_copy (&f, one, 1, XCOPY_F_FORCE_BOUNCE);
  CHECK_U64 (h_ncalls (H_CLONE) + h_ncalls (H_CFR) + h_ncalls (H_SPLICE_IN)
             + h_ncalls (H_SPLICE_OUT), ==, 0);
  CHECK_U64 (h_nbytes (H_PWRITE), ==, LEN);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_BOUNCE), ==, LEN);
  CHECK_U64 (h_bytes_copied (&f.st), ==, LEN);
  fx_close (&f);
}

/* A stand-in for FICLONERANGE on file systems without reflink: copies the
 * bytes and enforces XFS's alignment rule, so the reflink rung's success
 * path runs everywhere.  (test-engine-xfs checks the real thing.)
 */
static int
fake_clone (int src_fd, uint64_t src_off, uint64_t len,
            int dst_fd, uint64_t dst_off)
{
  unsigned char buf[65536];

  if (src_off % 4096 || dst_off % 4096 || len % 4096) {
    errno = EINVAL;
    return -1;
  }
  while (len) {
    size_t n = len < sizeof buf ? len : sizeof buf;
    if (pread (src_fd, buf, n, (off_t) src_off) != (ssize_t) n
        || pwrite (dst_fd, buf, n, (off_t) dst_off) != (ssize_t) n) {
      errno = EIO;
      return -1;
    }
    len -= n; src_off += n; dst_off += n;
  }
  return 0;
}

static void
ladder_reflink_rung (void)
{
  struct xcopy_range r[] = {
    { 0,        64 * KiB, 128 * KiB },
    { 512 * KiB, 0,       4 * KiB },
  };
  struct fx f;

  h_next.clone_range = fake_clone;
  fx_open (&f, 1 * MiB, 1 * MiB, 40);
  fx_copy (&f, r, 2, 0);
  CHECK_U64 (h_nbytes (H_CLONE), ==, 132 * KiB);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_REFLINK), ==, 132 * KiB);
  CHECK_U64 (h_bytes_copied (&f.st), ==, 132 * KiB);
  CHECK_U64 (h_calls (&f.st, XCOPY_M_REFLINK), >=, 1);
  CHECK_U64 (h_ncalls (H_CFR) + h_ncalls (H_PWRITE) + h_ncalls (H_SPLICE_OUT),
             ==, 0);
  CHECK (atomic_load (&f.p.caps) & XCOPY_CAP_REFLINK);

  /* Unaligned ranges cannot be cloned; their data must still be right. */
  {
    struct xcopy_range u[] = {
      { 1,         8 * KiB + 3, 40000 },
      { 4 * KiB,   300 * KiB,   4 * KiB + 1 },
      { 600 * KiB, 700 * KiB,   64 * KiB },
    };
    fx_copy (&f, u, 3, 0);
  }
  fx_close (&f);
}

static void
ladder_reflink_unsupported (void)
{
  struct xcopy_range a[] = { { 0, 0, 256 * KiB } };
  struct fx f;

  h_fail_always (H_CLONE, EOPNOTSUPP);
  fx_open (&f, 1 * MiB, 1 * MiB, 50);
  fx_copy (&f, a, 1, 0);
  CHECK_U64 (h_ncalls (H_CLONE), ==, 1);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_CFR), ==, 256 * KiB);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_REFLINK), ==, 0);
  CHECK_U64 (atomic_load (&f.p.caps) & XCOPY_CAP_REFLINK, ==, 0);
  CHECK_U64 (atomic_load (&f.p.caps) & XCOPY_CAP_CFR, ==, XCOPY_CAP_CFR);
  /* Not retried on the next calls. */
  fx_copy (&f, a, 1, 0);
  fx_copy (&f, one, 1, 0);
  CHECK_U64 (h_ncalls (H_CLONE), ==, 1);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_CFR), ==, 512 * KiB + LEN);
  fx_close (&f);
}

static void
ladder_reflink_cleared_once_per_pair (void)
{
  struct xcopy_range a[] = { { 0, 0, 64 * KiB } };
  struct fx f, g;

  h_fail_always (H_CLONE, EXDEV);
  fx_open (&f, 128 * KiB, 128 * KiB, 60);
  fx_open (&g, 128 * KiB, 128 * KiB, 62);
  fx_copy (&f, a, 1, 0);
  fx_copy (&f, a, 1, 0);
  CHECK_U64 (h_ncalls (H_CLONE), ==, 1);
  CHECK_U64 (atomic_load (&f.p.caps) & XCOPY_CAP_REFLINK, ==, 0);
  /* Another pair has learnt nothing yet. */
  CHECK_U64 (atomic_load (&g.p.caps), ==, XCOPY_CAP_ALL);
  fx_copy (&g, a, 1, 0);
  CHECK_U64 (h_ncalls (H_CLONE), ==, 2);
  fx_close (&f);
  fx_close (&g);
}

static const int fallback_errnos[] = {
  ENOSYS, EXDEV, EOPNOTSUPP, EINVAL, EPERM, EACCES, ETXTBSY, EBADF,
};

/* DESIGN.md invariant 5: these clear the capability for good. */
static bool
clears_cap (int e)
{
  return e == ENOSYS || e == EXDEV || e == EOPNOTSUPP || e == EINVAL;
}

static void
ladder_cfr_fallback_errnos (void)
{
  for (size_t i = 0; i < ARRAY_SIZE (fallback_errnos); i++) {
    int e = fallback_errnos[i];
    struct fx f;
    unsigned before = h_case_failures ();

    h_inject_reset ();
    h_fail_always (H_CFR, e);
    fx_open (&f, 1 * MiB, 1 * MiB, 70 + i);
    fx_copy (&f, one, 1, XCOPY_F_NO_REFLINK);
    CHECK_U64 (h_ncalls (H_CFR), >=, 1);
    CHECK_U64 (h_nbytes (H_CFR), ==, 0);
    CHECK_U64 (h_bytes (&f.st, XCOPY_M_CFR), ==, 0);
    CHECK_U64 (h_bytes (&f.st, XCOPY_M_SPLICE), ==, LEN);
    CHECK_U64 (h_bytes_copied (&f.st), ==, LEN);
    if (clears_cap (e)) {
      unsigned long calls = h_ncalls (H_CFR);
      CHECK_U64 (atomic_load (&f.p.caps) & XCOPY_CAP_CFR, ==, 0);
      fx_copy (&f, one, 1, XCOPY_F_NO_REFLINK);
      CHECK_U64 (h_ncalls (H_CFR), ==, calls);
    }
    if (h_case_failures () != before)
      h_note ("... with copy_file_range failing %s", strerror (e));
    fx_close (&f);
  }
}

static void
ladder_cfr_and_splice_fail (void)
{
  struct fx f;

  h_fail_always (H_CFR, EXDEV);
  h_fail_always (H_SPLICE_IN, EINVAL);
  h_fail_always (H_SPLICE_OUT, EINVAL);
  fx_open (&f, 1 * MiB, 1 * MiB, 90);
  fx_copy (&f, one, 1, XCOPY_F_NO_REFLINK);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_BOUNCE), ==, LEN);
  CHECK_U64 (h_bytes_copied (&f.st), ==, LEN);
  CHECK_U64 (atomic_load (&f.p.caps) & (XCOPY_CAP_CFR | XCOPY_CAP_SPLICE), ==, 0);
  /* Remembered: the next call goes straight to pread/pwrite. */
  {
    unsigned long c = h_ncalls (H_CFR), s = h_ncalls (H_SPLICE_IN)
      + h_ncalls (H_SPLICE_OUT);
    fx_copy (&f, one, 1, XCOPY_F_NO_REFLINK);
    CHECK_U64 (h_ncalls (H_CFR), ==, c);
    CHECK_U64 (h_ncalls (H_SPLICE_IN) + h_ncalls (H_SPLICE_OUT), ==, s);
    CHECK_U64 (h_bytes (&f.st, XCOPY_M_BOUNCE), ==, 2 * LEN);
  }
  fx_close (&f);
}

static void
ladder_splice_fallback (void)
{
  /* splice fails reading the file, or writing it after the pipe was
   * filled: either way no file byte moved, so pread/pwrite take over.
   */
  for (int which = 0; which < 2; which++) {
    struct fx f;

    h_inject_reset ();
    h_fail_always (which ? H_SPLICE_OUT : H_SPLICE_IN, EINVAL);
    fx_open (&f, 1 * MiB, 1 * MiB, 100 + which);
    fx_copy (&f, one, 1, XCOPY_F_FORCE_SPLICE);
    CHECK_U64 (h_bytes (&f.st, XCOPY_M_SPLICE), ==, 0);
    CHECK_U64 (h_bytes (&f.st, XCOPY_M_BOUNCE), ==, LEN);
    CHECK_U64 (atomic_load (&f.p.caps) & XCOPY_CAP_SPLICE, ==, 0);
    if (h_case_failures ())
      h_print_stats (which ? "splice out of the pipe fails"
                     : "splice into the pipe fails", &f.st);
    fx_close (&f);
  }
}

static void
ladder_short_copies (void)
{
  struct xcopy_range r[] = { { 3, 5, 50000 }, { 70000, 60000, 9 } };
  uint64_t len = 50009;
  struct h_fault f7 = { .max_len = 7 };
  struct h_fault f100 = { .max_len = 100 };
  struct fx f;

  /* copy_file_range: 7 bytes a call. */
  h_fault (H_CFR, &f7);
  fx_open (&f, 128 * KiB, 128 * KiB, 110);
  fx_copy (&f, r, 2, XCOPY_F_FORCE_CFR);
  CHECK_U64 (h_ncalls (H_CFR), >=, 50000 / 7 + 2);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_CFR), ==, len);
  CHECK_U64 (h_bytes_copied (&f.st), ==, len);
  CHECK_U64 (h_calls (&f.st, XCOPY_M_CFR), >=, 1);
  fx_close (&f);

  /* splice: short into the pipe, and short out of it. */
  h_inject_reset ();
  h_fault (H_SPLICE_IN, &f100);
  fx_open (&f, 128 * KiB, 128 * KiB, 111);
  fx_copy (&f, r, 2, XCOPY_F_FORCE_SPLICE);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_SPLICE), ==, len);
  fx_close (&f);
  h_inject_reset ();
  h_fault (H_SPLICE_OUT, &f7);
  fx_open (&f, 128 * KiB, 128 * KiB, 112);
  fx_copy (&f, r, 2, XCOPY_F_FORCE_SPLICE);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_SPLICE), ==, len);
  CHECK_U64 (h_ncalls (H_SPLICE_OUT), >=, 50000 / 7);
  fx_close (&f);

  /* pread and pwrite: short reads and short writes. */
  h_inject_reset ();
  h_fault (H_PREAD, &f100);
  h_fault (H_PWRITE, &f7);
  fx_open (&f, 128 * KiB, 128 * KiB, 113);
  fx_copy (&f, r, 2, XCOPY_F_FORCE_BOUNCE);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_BOUNCE), ==, len);
  CHECK_U64 (h_ncalls (H_PWRITE), >=, 50000 / 7);
  fx_close (&f);
}

static void
ladder_cfr_zero_first (void)
{
  /* A 0 return with nothing copied: a file system that silently copies
   * nothing.  Fall back.
   */
  struct h_fault z = { .ret0 = true };
  struct fx f;

  h_fault (H_CFR, &z);
  fx_open (&f, 1 * MiB, 1 * MiB, 120);
  fx_copy (&f, one, 1, XCOPY_F_FORCE_CFR);
  CHECK_U64 (h_ncalls (H_CFR), >=, 1);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_CFR), ==, 0);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_SPLICE) + h_bytes (&f.st, XCOPY_M_BOUNCE),
             ==, LEN);
  fx_close (&f);
}

static void
ladder_cfr_zero_after_progress (void)
{
  /* A 0 return after progress: the source ended early (truncated behind
   * our back).  Either the engine finishes the range another way with the
   * right bytes, or it stops and reports exactly what it did; it must not
   * spin or claim bytes it did not copy.
   */
  struct xcopy_range r[] = { { 0, 0, 64 * KiB }, { 100 * KiB, 200 * KiB, 50000 } };
  struct h_fault z = { .ret0 = true, .by_bytes = true,
                       .after_bytes = 64 * KiB + 10000 };
  unsigned char *exp;
  struct fx f;
  int ret;

  h_fault (H_CFR, &z);
  fx_open (&f, 1 * MiB, 1 * MiB, 130);
  ret = xcopy_copyv (&f.p, r, 2, XCOPY_F_FORCE_CFR, &f.res);
  exp = h_malloc (f.dsize);
  memcpy (exp, f.dst, f.dsize);
  if (ret == 0) {
    CHECK_OK (ret, &f.res, 2, 64 * KiB + 50000);
    h_model_copyv (f.src, exp, r, 2);
  }
  else {
    h_note ("0 after progress reported as %s", strerror (-ret));
    CHECK_INT (ret, ==, -f.res.error);
    CHECK_INT (f.res.error, !=, 0);
    CHECK_U64 (f.res.ranges_done, ==, 1);
    CHECK_U64 (f.res.failed_index, ==, 1);
    CHECK_U64 (f.res.failed_done, ==, 10000);
    CHECK_U64 (f.res.bytes_done, ==, 64 * KiB + 10000);
    h_model_partial (f.src, exp, r, 2, &f.res);
  }
  CHECK_FILE (f.d, exp, f.dsize);
  free (exp);
  fx_close (&f);
}

static const int hard_errnos[] = { ENOSPC, EIO, EDQUOT, ENOMEM };

/* Fail copy_file_range with e once `after` bytes went through, in a batch
 * of three ranges (adjacent or not); check exact progress and that the
 * destination matches the snapshot with only the reported part applied.
 */
static void
hard_error_case (int e, bool adjacent, uint64_t after, size_t want_done,
                 uint64_t want_failed_done)
{
  struct xcopy_range sep[] = {
    { 0,         512 * KiB, 64 * KiB },
    { 128 * KiB, 0,         64 * KiB },
    { 300 * KiB, 700 * KiB, 64 * KiB },
  };
  struct xcopy_range adj[] = {
    { 0,         512 * KiB, 64 * KiB },
    { 64 * KiB,  576 * KiB, 64 * KiB },
    { 128 * KiB, 640 * KiB, 64 * KiB },
  };
  const struct xcopy_range *r = adjacent ? adj : sep;
  struct h_fault fl = { .err = e, .by_bytes = true, .after_bytes = after };
  unsigned char *exp;
  unsigned before = h_case_failures ();
  struct fx f;
  int ret;

  h_inject_reset ();
  h_fault (H_CFR, &fl);
  fx_open (&f, 1 * MiB, 1 * MiB, 140 + e);
  exp = h_malloc (f.dsize);
  memcpy (exp, f.dst, f.dsize);
  ret = xcopy_copyv (&f.p, r, 3, XCOPY_F_FORCE_CFR, &f.res);
  CHECK_INT (ret, ==, -e);
  CHECK_INT (f.res.error, ==, e);
  CHECK_U64 (f.res.ranges_done, ==, want_done);
  CHECK_U64 (f.res.failed_index, ==, want_done);
  CHECK_U64 (f.res.failed_done, ==, want_failed_done);
  CHECK_U64 (f.res.bytes_done, ==, after);
  CHECK_U64 (f.res.flags & XCOPY_RESULT_BACKWARD, ==, 0);
  /* No fallback after a real error. */
  CHECK_U64 (h_ncalls (H_SPLICE_IN) + h_ncalls (H_SPLICE_OUT)
             + h_ncalls (H_PWRITE) + h_ncalls (H_CLONE), ==, 0);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_CFR), ==, after);
  CHECK_U64 (h_bytes_all (&f.st), ==, after);
  /* The capability stays: ENOSPC says nothing about copy_file_range. */
  CHECK (atomic_load (&f.p.caps) & XCOPY_CAP_CFR);
  h_model_partial (f.src, exp, r, 3, &f.res);
  CHECK_FILE (f.d, exp, f.dsize);
  if (h_case_failures () != before)
    h_note ("... %s after %ju bytes, %s ranges", strerror (e),
            (uintmax_t) after, adjacent ? "adjacent" : "separate");
  free (exp);
  fx_close (&f);
}

static void
ladder_hard_errors_mid_batch (void)
{
  for (size_t i = 0; i < ARRAY_SIZE (hard_errnos); i++)
    for (int adjacent = 0; adjacent < 2; adjacent++) {
      int e = hard_errnos[i];
      hard_error_case (e, adjacent, 64 * KiB + 10000, 1, 10000);
      hard_error_case (e, adjacent, 64 * KiB, 1, 0);       /* on a boundary */
      hard_error_case (e, adjacent, 130 * KiB + 1, 2, 2 * KiB + 1);
      hard_error_case (e, adjacent, 0, 0, 0);   /* before any progress */
    }
}

/* ENOSPC through other rungs: the write budget cuts every writer. */
static void
ladder_hard_error_other_rungs (void)
{
  static const unsigned flags[] = {
    XCOPY_F_FORCE_SPLICE, XCOPY_F_FORCE_BOUNCE, 0,
  };
  struct xcopy_range r[] = {
    { 0,         512 * KiB, 100 * KiB },
    { 200 * KiB, 0,         100 * KiB },
  };

  for (size_t i = 0; i < ARRAY_SIZE (flags); i++) {
    unsigned char *exp;
    struct fx f;
    int ret;

    h_inject_reset ();
    h_fail_always (H_CLONE, EOPNOTSUPP);
    h_write_budget (100 * KiB + 33333, EDQUOT);
    fx_open (&f, 1 * MiB, 1 * MiB, 150 + i);
    exp = h_malloc (f.dsize);
    memcpy (exp, f.dst, f.dsize);
    ret = xcopy_copyv (&f.p, r, 2, flags[i], &f.res);
    CHECK_INT (ret, ==, -EDQUOT);
    CHECK_INT (f.res.error, ==, EDQUOT);
    CHECK_U64 (f.res.ranges_done, ==, 1);
    CHECK_U64 (f.res.failed_index, ==, 1);
    CHECK_U64 (f.res.failed_done, ==, 33333);
    CHECK_U64 (f.res.bytes_done, ==, 100 * KiB + 33333);
    CHECK_U64 (h_bytes_copied (&f.st), ==, 100 * KiB + 33333);
    h_model_partial (f.src, exp, r, 2, &f.res);
    CHECK_FILE (f.d, exp, f.dsize);
    if (h_case_failures ())
      h_print_stats (flags[i] == XCOPY_F_FORCE_SPLICE ? "splice"
                     : flags[i] ? "bounce" : "default", &f.st);
    free (exp);
    fx_close (&f);
  }
}

static void
ladder_counters_match_calls (void)
{
  /* Mixed: some bytes by copy_file_range, then it fails with EXDEV
   * mid-way... which is not allowed to fall back; so instead: a first batch
   * by copy_file_range, a second forced through splice, a third bounced.
   */
  struct xcopy_range r[] = { { 0, 0, 100 * KiB }, { 200 * KiB, 300 * KiB, 5 } };
  uint64_t len = 100 * KiB + 5;
  struct fx f;

  fx_open (&f, 1 * MiB, 1 * MiB, 160);
  fx_copy (&f, r, 2, XCOPY_F_FORCE_CFR);
  fx_copy (&f, r, 2, XCOPY_F_FORCE_SPLICE);
  fx_copy (&f, r, 2, XCOPY_F_FORCE_BOUNCE);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_CFR), ==, h_nbytes (H_CFR));
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_CFR), ==, len);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_SPLICE), ==, h_nbytes (H_SPLICE_OUT));
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_SPLICE), ==, len);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_BOUNCE), ==, h_nbytes (H_PWRITE));
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_BOUNCE), ==, len);
  CHECK_U64 (h_calls (&f.st, XCOPY_M_CFR), >=, 2);
  CHECK_U64 (h_calls (&f.st, XCOPY_M_CFR), <=, h_ncalls (H_CFR));
  CHECK_U64 (h_calls (&f.st, XCOPY_M_SPLICE), >=, 2);
  CHECK_U64 (h_calls (&f.st, XCOPY_M_SPLICE), <=,
             h_ncalls (H_SPLICE_IN) + h_ncalls (H_SPLICE_OUT));
  CHECK_U64 (h_calls (&f.st, XCOPY_M_BOUNCE), >=, 2);
  CHECK_U64 (h_calls (&f.st, XCOPY_M_BOUNCE), <=,
             h_ncalls (H_PREAD) + h_ncalls (H_PWRITE));
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_REFLINK), ==, 0);
  CHECK_U64 (h_bytes_all (&f.st), ==, 3 * len);
  fx_close (&f);
}

/* ---- At most 1 GiB per copy_file_range call ----
 * Pretend a 2.5 GiB file is all data and that copy_file_range copies
 * whatever it is asked: no real I/O, only the call sizes are checked.
 */
static off_t
fake_lseek (int fd, off_t off, int whence)
{
  struct stat st;

  if (whence != SEEK_DATA && whence != SEEK_HOLE)
    return lseek (fd, off, whence);
  if (fstat (fd, &st) == -1)
    return -1;
  if (off >= st.st_size) {
    errno = ENXIO;
    return -1;
  }
  return whence == SEEK_DATA ? off : st.st_size;
}

static ssize_t
fake_cfr (int fd_in, off_t *off_in, int fd_out, off_t *off_out,
          size_t len, unsigned flags)
{
  (void) fd_in; (void) fd_out; (void) flags;
  if (off_in)
    *off_in += (off_t) len;
  if (off_out)
    *off_out += (off_t) len;
  return (ssize_t) len;
}

static void
ladder_cfr_call_cap (void)
{
  uint64_t size = 5 * GiB / 2 + 4097;
  struct xcopy_range r[] = { { 0, 0, size } };
  int s = h_file (size), d = h_file (size);
  struct xcopy_stats st;
  struct xcopy_pair p;
  struct xcopy_result res;
  uint64_t sum = 0, max = 0;

  h_next.lseek = fake_lseek;
  h_next.copy_file_range = fake_cfr;
  memset (&st, 0, sizeof st);
  xcopy_pair_init (&p, s, d, &st);
  CHECK_OK (xcopy_copyv (&p, r, 1, XCOPY_F_FORCE_CFR, &res), &res, 1, size);
  REQUIRE_U64 (h_ncalls (H_CFR), <=, H_LOG_MAX);
  for (unsigned long i = 0; i < h_ncalls (H_CFR); i++) {
    const struct h_call *c = h_log (H_CFR, i);
    CHECK_INT (c->off_in, ==, (int64_t) sum);
    sum += c->len;
    if (c->len > max)
      max = c->len;
  }
  CHECK_U64 (sum, ==, size);
  CHECK_U64 (max, <=, 1 * GiB);
  CHECK_U64 (h_ncalls (H_CFR), >=, 3);
  CHECK_U64 (h_bytes (&st, XCOPY_M_CFR), ==, size);
  h_close (s);
  h_close (d);
}

static void
ladder_no_fd_leak (void)
{
  int before = h_open_fds ();
  struct fx f;

  fx_open (&f, 1 * MiB, 1 * MiB, 170);
  for (int i = 0; i < 50; i++) {
    struct xcopy_range r[] = { { (uint64_t) i * 1000, 0, 100000 } };
    fx_copy (&f, r, 1, XCOPY_F_FORCE_SPLICE);
  }
  /* And when splice gives up half-way through a pipe. */
  h_fail_always (H_SPLICE_OUT, EINVAL);
  fx_copy (&f, one, 1, XCOPY_F_FORCE_SPLICE);
  fx_close (&f);
  CHECK_INT (h_open_fds (), ==, before);
}

static void
ladder_read_errors (void)
{
  /* EIO reading the source: through pread (bounce) and splice into the
   * pipe, after progress and before any.  Reported, not fallen back from.
   */
  static const struct { enum h_kind k; unsigned flags; } cases[] = {
    { H_PREAD, XCOPY_F_FORCE_BOUNCE },
    { H_SPLICE_IN, XCOPY_F_FORCE_SPLICE },
  };
  struct xcopy_range r[] = {
    { 0,         512 * KiB, 64 * KiB },
    { 200 * KiB, 0,         128 * KiB },
  };

  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    for (int early = 0; early < 2; early++) {
      uint64_t after = early ? 0 : 64 * KiB + 50000;
      struct h_fault fl = { .err = EIO, .by_bytes = true, .after_bytes = after };
      unsigned before = h_case_failures ();
      unsigned char *exp;
      struct fx f;

      h_inject_reset ();
      h_fault (cases[i].k, &fl);
      fx_open (&f, 1 * MiB, 1 * MiB, 180 + i);
      exp = h_malloc (f.dsize);
      memcpy (exp, f.dst, f.dsize);
      CHECK_INT (xcopy_copyv (&f.p, r, 2, cases[i].flags, &f.res), ==, -EIO);
      CHECK_INT (f.res.error, ==, EIO);
      /* What was read may not all have been written: progress counts
       * written bytes, so at most what was read.
       */
      CHECK_U64 (f.res.bytes_done, <=, after);
      CHECK_U64 (f.res.bytes_done, ==, h_nbytes (H_PWRITE)
                 + h_nbytes (H_SPLICE_OUT));
      h_model_partial (f.src, exp, r, 2, &f.res);
      CHECK_FILE (f.d, exp, f.dsize);
      /* No other rung tried. */
      if (cases[i].k == H_PREAD)
        CHECK_U64 (h_ncalls (H_SPLICE_IN) + h_ncalls (H_CFR), ==, 0);
      else
        CHECK_U64 (h_ncalls (H_PREAD) + h_ncalls (H_CFR), ==, 0);
      if (h_case_failures () != before) {
        h_note ("... %s fails with EIO after %ju bytes",
                cases[i].k == H_PREAD ? "pread" : "splice", (uintmax_t) after);
        h_print_stats ("counters", &f.st);
      }
      free (exp);
      fx_close (&f);
    }
}

static void
ladder_eintr_retried (void)
{
  /* EINTR is neither a failure nor "unsupported": retry. */
  static const struct { enum h_kind k; unsigned flags; } cases[] = {
    { H_CFR, XCOPY_F_FORCE_CFR },
    { H_SPLICE_IN, XCOPY_F_FORCE_SPLICE },
    { H_SPLICE_OUT, XCOPY_F_FORCE_SPLICE },
    { H_PREAD, XCOPY_F_FORCE_BOUNCE },
    { H_PWRITE, XCOPY_F_FORCE_BOUNCE },
  };

  for (size_t i = 0; i < ARRAY_SIZE (cases); i++) {
    struct h_fault once = { .err = EINTR, .times = 1 };
    struct fx f;

    h_inject_reset ();
    h_fault (cases[i].k, &once);
    fx_open (&f, 1 * MiB, 1 * MiB, 190 + i);
    fx_copy (&f, one, 1, cases[i].flags);
    CHECK_U64 (h_nfailed (cases[i].k), ==, 1);
    CHECK (atomic_load (&f.p.caps) & XCOPY_CAP_CFR);
    CHECK (atomic_load (&f.p.caps) & XCOPY_CAP_SPLICE);
    if (h_case_failures ()) {
      h_note ("... EINTR from kind %d", cases[i].k);
      fx_close (&f);
      return;
    }
    fx_close (&f);
  }
  /* And in the zero ladder. */
  {
    struct h_fault once = { .err = EINTR, .times = 1 };
    unsigned char *zero = h_calloc (1 * MiB);
    int fd = h_file_with (zero, 1 * MiB);
    struct xcopy_pair p;
    struct xcopy_result res;

    h_inject_reset ();
    h_fault (H_PUNCH, &once);
    xcopy_pair_init (&p, fd, fd, NULL);
    CHECK_OK (xcopy_zero (&p, 0, 1 * MiB, XCOPY_F_MAY_TRIM, &res), &res, 1,
              1 * MiB);
    CHECK (atomic_load (&p.caps) & XCOPY_CAP_PUNCH);
    h_close (fd);
    free (zero);
  }
}

static const struct h_test tests[] = {
  H_TEST (ladder_initial_caps),
  H_TEST (ladder_force_cfr),
  H_TEST (ladder_force_splice),
  H_TEST (ladder_force_bounce),
  H_TEST (ladder_reflink_rung),
  H_TEST (ladder_reflink_unsupported),
  H_TEST (ladder_reflink_cleared_once_per_pair),
  H_TEST (ladder_cfr_fallback_errnos),
  H_TEST (ladder_cfr_and_splice_fail),
  H_TEST (ladder_splice_fallback),
  H_TEST (ladder_short_copies),
  H_TEST (ladder_cfr_zero_first),
  H_TEST (ladder_cfr_zero_after_progress),
  H_TEST (ladder_hard_errors_mid_batch),
  H_TEST (ladder_hard_error_other_rungs),
  H_TEST (ladder_counters_match_calls),
  H_TEST (ladder_cfr_call_cap),
  H_TEST (ladder_no_fd_leak),
  H_TEST (ladder_read_errors),
  H_TEST (ladder_eintr_retried),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
