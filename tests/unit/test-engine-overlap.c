/* xcopyd: engine tests — overlapping ranges within one file.
 *
 * copy_file_range refuses overlapping ranges of one file (EINVAL); the
 * engine must split and order them so the result is that of memmove, on
 * every rung.  Each case is checked against memmove on an in-memory copy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static const unsigned rungs[] = {
  0, XCOPY_F_FORCE_CFR, XCOPY_F_FORCE_SPLICE, XCOPY_F_FORCE_BOUNCE,
};

static void
overlap_identical (void)
{
  struct xcopy_range r[] = {
    { 0,        0,        1 * MiB },
    { 12345,    12345,    100000 },
  };

  for (size_t i = 0; i < ARRAY_SIZE (rungs); i++) {
    h_inject_reset ();
    CHECK_COPY (true, 1 * MiB, 0, r, 2, rungs[i], NULL);
    /* src == dst is a no-op: nothing to write. */
    CHECK_U64 (h_ncalls (H_CFR) + h_ncalls (H_CLONE) + h_ncalls (H_SPLICE_OUT)
               + h_ncalls (H_PWRITE) + h_ncalls (H_PUNCH), ==, 0);
  }
}

/* One range shifted by `shift` (negative: forward, dst < src). */
static void
shift_case (uint64_t size, uint64_t base, uint64_t len, int64_t shift,
            unsigned flags)
{
  struct xcopy_range r = { base, (uint64_t) ((int64_t) base + shift), len };

  if (!CHECK_COPY (true, size, 0, &r, 1, flags, NULL))
    h_note ("... src %ju dst %ju len %ju", (uintmax_t) r.src,
            (uintmax_t) r.dst, (uintmax_t) r.len);
}

static void
overlap_forward (void)
{
  static const int64_t shifts[] = { 1, 511, 4096, 65536 + 3, 1 * MiB };

  for (size_t i = 0; i < ARRAY_SIZE (rungs); i++)
    for (size_t j = 0; j < ARRAY_SIZE (shifts); j++)
      shift_case (4 * MiB, 2 * MiB, 2 * MiB - 1000, -shifts[j], rungs[i]);
}

static void
overlap_backward (void)
{
  static const int64_t shifts[] = { 1, 511, 4096, 65536 + 3, 1 * MiB };

  for (size_t i = 0; i < ARRAY_SIZE (rungs); i++)
    for (size_t j = 0; j < ARRAY_SIZE (shifts); j++)
      shift_case (4 * MiB, 1000, 2 * MiB, shifts[j], rungs[i]);
}

static void
overlap_small_shift_large_range (void)
{
  /* One byte over several MiB: must not take one system call per byte. */
  for (size_t i = 0; i < ARRAY_SIZE (rungs); i++) {
    shift_case (8 * MiB, 1, 8 * MiB - 2, 1, rungs[i]);
    shift_case (8 * MiB, 1, 8 * MiB - 2, -1, rungs[i]);
  }
}

static void
overlap_aligned_big_shift (void)
{
  for (size_t i = 0; i < ARRAY_SIZE (rungs); i++) {
    shift_case (16 * MiB, 0, 12 * MiB, 4 * MiB, rungs[i]);
    shift_case (16 * MiB, 4 * MiB, 12 * MiB, -4 * (int64_t) MiB, rungs[i]);
    shift_case (16 * MiB, 0, 8 * MiB, 8 * MiB, rungs[i]);  /* just touching */
  }
}

static void
overlap_partial_batch (void)
{
  /* Overlaps of varied kinds in one batch, including ranges that overlap
   * earlier ranges' destinations.
   */
  struct xcopy_range r[] = {
    { 0,         100,       4096 },      /* backward */
    { 8192,      4096,      10000 },     /* forward */
    { 50000,     50000,     777 },       /* identical */
    { 100000,    100001,    1 },         /* one byte, adjacent */
    { 200000,    150000,    100000 },    /* forward, half overlap */
    { 150000,    200000,    100000 },    /* backward, half overlap */
    { 300000,    300000 - 4095, 8191 },
    { 0,         524288 - 4096, 4096 },  /* far apart */
  };

  for (size_t i = 0; i < ARRAY_SIZE (rungs); i++)
    CHECK_COPY (true, 512 * KiB, 0, r, ARRAY_SIZE (r), rungs[i], NULL);
}

static void
overlap_random (void)
{
  enum { N = 8 };
  uint64_t size = 256 * KiB + 77;
  struct xcopy_range r[N];
  unsigned char rnd[N * 24];

  for (unsigned iter = 0; iter < 40; iter++) {
    h_fill_random (rnd, sizeof rnd, 500 + iter);
    for (size_t i = 0; i < N; i++) {
      uint64_t a, b, c;
      memcpy (&a, rnd + i * 24, 8);
      memcpy (&b, rnd + i * 24 + 8, 8);
      memcpy (&c, rnd + i * 24 + 16, 8);
      r[i].len = c % (iter & 1 ? 100 * KiB : 9000);
      r[i].src = a % (size - r[i].len + 1);
      /* Mostly close by, so that they overlap. */
      r[i].dst = (b & 1) ? b % (size - r[i].len + 1)
        : (r[i].src + (b >> 1) % 20000) % (size - r[i].len + 1);
    }
    CHECK_COPY (true, size, 0, r, N, rungs[iter % 4], NULL);
  }
}

/* A failure half-way through an overlapping copy: the result says how many
 * bytes are done and from which end; the file must be exactly that.
 *
 * whole: the failing call writes nothing (so progress stays contiguous
 * from the end a backward copy starts at); otherwise the call crossing the
 * budget is shortened first, which only a forward copy can report exactly.
 */
static void
overlap_failure_case (int64_t shift, unsigned flags, uint64_t budget,
                      bool whole)
{
  uint64_t size = 2 * MiB, len = 1 * MiB;
  struct xcopy_range r[] = {
    { 0,       size - 4096, 4096 },   /* a first range that completes */
    { 512 * KiB, (uint64_t) (512 * KiB + shift), len },
  };
  unsigned char *model = h_random (size, 900 + (uint64_t) shift);
  unsigned char *exp = h_malloc (size);
  int fd = h_file_with (model, size);
  struct xcopy_pair p;
  struct xcopy_result res;
  unsigned before = h_case_failures ();
  int ret;

  h_inject_reset ();
  h_fail_always (H_CLONE, EOPNOTSUPP);
  if (whole)
    h_write_budget_whole (4096 + budget, ENOSPC);
  else
    h_write_budget (4096 + budget, ENOSPC);
  xcopy_pair_init (&p, fd, fd, NULL);
  h_result_poison (&res);
  ret = xcopy_copyv (&p, r, 2, flags, &res);
  CHECK_INT (ret, ==, -ENOSPC);
  CHECK_INT (res.error, ==, ENOSPC);
  CHECK_U64 (res.ranges_done, ==, 1);
  CHECK_U64 (res.failed_index, ==, 1);
  CHECK_U64 (h_written (), <=, 4096 + budget);
  CHECK_U64 (h_written (), >=, 4096);
  CHECK_U64 (res.failed_done, ==, h_written () - 4096);
  CHECK_U64 (res.bytes_done, ==, h_written ());
  if (!whole)
    CHECK_U64 (res.failed_done, ==, budget);
  if (shift > 0)
    CHECK_U64 (res.flags & XCOPY_RESULT_BACKWARD, ==, XCOPY_RESULT_BACKWARD);
  else
    CHECK_U64 (res.flags & XCOPY_RESULT_BACKWARD, ==, 0);
  memcpy (exp, model, size);
  h_model_partial (model, exp, r, 2, &res);
  CHECK_FILE (fd, exp, size);
  if (h_case_failures () != before)
    h_note ("... shift %jd, flags 0x%x, budget %ju%s", (intmax_t) shift,
            flags, (uintmax_t) budget, whole ? " (whole calls)" : "");
  h_close (fd);
  free (model);
  free (exp);
}

static void
overlap_failure_progress (void)
{
  static const int64_t shifts[] = { 4096, -4096, 100 * KiB + 1, -100 * KiB - 1 };

  for (size_t i = 0; i < ARRAY_SIZE (rungs); i++)
    for (size_t j = 0; j < ARRAY_SIZE (shifts); j++) {
      overlap_failure_case (shifts[j], rungs[i], 300 * KiB + 5, true);
      overlap_failure_case (shifts[j], rungs[i], 0, true);
      if (shifts[j] < 0)
        overlap_failure_case (shifts[j], rungs[i], 300 * KiB + 5, false);
    }
}

static void
overlap_backward_flag_only_when_backward (void)
{
  /* Same file, dst > src but far apart (no overlap): not a backward copy
   * in the header's sense, the done bytes are the range's head.  Either
   * way the file must agree with what the result claims.
   */
  uint64_t size = 4 * MiB;
  struct xcopy_range r[] = { { 0, 2 * MiB, 1 * MiB } };
  unsigned char *model = h_random (size, 950), *exp = h_malloc (size);
  int fd = h_file_with (model, size);
  struct xcopy_pair p;
  struct xcopy_result res;

  h_write_budget (123457, EIO);
  xcopy_pair_init (&p, fd, fd, NULL);
  CHECK_INT (xcopy_copyv (&p, r, 1, XCOPY_F_FORCE_CFR, &res), ==, -EIO);
  CHECK_U64 (res.failed_done, ==, 123457);
  memcpy (exp, model, size);
  h_model_partial (model, exp, r, 1, &res);
  CHECK_FILE (fd, exp, size);
  h_close (fd);
  free (model);
  free (exp);
}

static const struct h_test tests[] = {
  H_TEST (overlap_identical),
  H_TEST (overlap_forward),
  H_TEST (overlap_backward),
  H_TEST (overlap_small_shift_large_range),
  H_TEST (overlap_aligned_big_shift),
  H_TEST (overlap_partial_batch),
  H_TEST (overlap_random),
  H_TEST (overlap_failure_progress),
  H_TEST (overlap_backward_flag_only_when_backward),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
