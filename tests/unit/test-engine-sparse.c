/* xcopyd: engine tests — holes stay holes.
 *
 * A sparse source copied over a destination full of data must leave holes
 * where the source has holes (SEEK_DATA/SEEK_HOLE and st_blocks say so),
 * equal bytes everywhere, and must not copy hole bytes as data.  With
 * XCOPY_F_ALLOCATE the destination ends fully allocated; where punching is
 * impossible the engine writes zeroes instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static const unsigned rungs[] = {
  0, XCOPY_F_FORCE_CFR, XCOPY_F_FORCE_SPLICE, XCOPY_F_FORCE_BOUNCE,
};

#define SIZE (8 * MiB)

/* Data extents of the sparse source (64 KiB aligned, so block aligned on
 * every file system in use); the rest is holes, including the tail.
 */
static const struct { uint64_t off, len; } extents[] = {
  { 0,                 1 * MiB },
  { 3 * MiB,           512 * KiB },
  { 6 * MiB,           64 * KiB },
  { 6 * MiB + 256 * KiB, 128 * KiB },
};
#define DATA_BYTES (1 * MiB + 512 * KiB + 64 * KiB + 128 * KiB)

static void
require_holes (void)
{
  if (!h_holes_work ())
    h_skip ("%s does not punch holes or report them with SEEK_HOLE", h_dir ());
}

/* A sparse file: model (zeroes in holes) and fd. */
static int
sparse_source (unsigned char **model, uint64_t seed)
{
  unsigned char *m = h_calloc (SIZE);
  int fd = h_file (SIZE);

  for (size_t i = 0; i < ARRAY_SIZE (extents); i++) {
    h_fill_random (m + extents[i].off, extents[i].len, seed + i);
    h_pwrite_all (fd, m + extents[i].off, extents[i].len, extents[i].off);
  }
  *model = m;
  return fd;
}

/* Check that fd (the destination, data at offset `at`) has holes exactly
 * where the source extents are not, within [at, at + SIZE).
 */
static void
check_layout (int fd, uint64_t at)
{
  uint64_t pos = 0;

  for (size_t i = 0; i <= ARRAY_SIZE (extents); i++) {
    uint64_t next = i < ARRAY_SIZE (extents) ? extents[i].off : SIZE;
    if (next > pos && !h_is_hole (fd, at + pos, next - pos))
      h_fail (__FILE__, __LINE__, "destination has data in [%ju, %ju), "
              "a hole in the source", (uintmax_t) (at + pos),
              (uintmax_t) (at + next));
    if (i == ARRAY_SIZE (extents))
      break;
    if (!h_is_data (fd, at + extents[i].off, extents[i].len))
      h_fail (__FILE__, __LINE__, "destination has a hole in [%ju, +%ju), "
              "data in the source", (uintmax_t) (at + extents[i].off),
              (uintmax_t) extents[i].len);
    pos = extents[i].off + extents[i].len;
  }
}

static void
sparse_holes_preserved (void)
{
  require_holes ();
  for (size_t k = 0; k < ARRAY_SIZE (rungs); k++) {
    unsigned char *src, *dst = h_random (SIZE, 20 + k);
    int s = sparse_source (&src, 10 + k), d = h_file_with (dst, SIZE);
    struct xcopy_range r[] = { { 0, 0, SIZE } };
    struct xcopy_stats st;
    struct xcopy_pair p;
    struct xcopy_result res;
    unsigned before = h_case_failures ();

    SYS_OK (fsync (d));
    memset (&st, 0, sizeof st);
    xcopy_pair_init (&p, s, d, &st);
    CHECK_OK (xcopy_copyv (&p, r, 1, rungs[k], &res), &res, 1, SIZE);
    CHECK_FILE (d, src, SIZE);
    check_layout (d, 0);
    CHECK_U64 (h_allocated (d), <=, h_allocated (s) + 64 * KiB);
    /* Hole bytes are not copied as data. */
    CHECK_U64 (h_bytes_copied (&st), ==, DATA_BYTES);
    if (h_case_failures () != before) {
      h_note ("... flags 0x%x", rungs[k]);
      h_print_stats ("counters", &st);
    }
    h_close (s);
    h_close (d);
    free (src);
    free (dst);
  }
}

static void
sparse_shifted_destination (void)
{
  /* The same copy landing 192 KiB further into a bigger destination. */
  uint64_t at = 192 * KiB, dsize = SIZE + 1 * MiB;
  unsigned char *src, *dst = h_random (dsize, 31);
  int s, d;
  struct xcopy_range r[] = { { 0, at, SIZE } };
  struct xcopy_pair p;
  struct xcopy_result res;

  require_holes ();
  s = sparse_source (&src, 30);
  d = h_file_with (dst, dsize);
  xcopy_pair_init (&p, s, d, NULL);
  CHECK_OK (xcopy_copyv (&p, r, 1, 0, &res), &res, 1, SIZE);
  h_model_copyv (src, dst, r, 1);
  CHECK_FILE (d, dst, dsize);
  check_layout (d, at);
  CHECK (h_is_data (d, 0, at));
  CHECK (h_is_data (d, at + SIZE, 1 * MiB - at));
  h_close (s);
  h_close (d);
  free (src);
  free (dst);
}

static void
sparse_unaligned_range (void)
{
  /* Start and end inside holes and inside data at odd offsets: the bytes
   * must be right; holes wholly inside the range must stay holes.
   */
  struct xcopy_range r[] = {
    { 1 * MiB + 12345, 1 * MiB + 12345, 3 * MiB + 99 },   /* hole..data..hole */
    { 3 * MiB - 1, 3 * MiB - 1, 2 },                      /* hole|data edge */
    { 500001, 7 * MiB + 3, 700000 },                      /* data..hole */
  };
  unsigned char *src, *dst = h_random (SIZE, 41);
  int s, d;
  struct xcopy_pair p;
  struct xcopy_result res;

  require_holes ();
  s = sparse_source (&src, 40);
  d = h_file_with (dst, SIZE);
  xcopy_pair_init (&p, s, d, NULL);
  CHECK_OK (xcopy_copyv (&p, r, 3, 0, &res), &res, 3, h_sum_len (r, 3));
  h_model_copyv (src, dst, r, 3);
  CHECK_FILE (d, dst, SIZE);
  /* [1 MiB + 64 KiB, 3 MiB) was a hole in the source, wholly inside r[0]. */
  CHECK (h_is_hole (d, 1 * MiB + 64 * KiB, 2 * MiB - 64 * KiB));
  h_close (s);
  h_close (d);
  free (src);
  free (dst);
}

static void
sparse_all_hole_source (void)
{
  unsigned char *zero = h_calloc (SIZE), *dst = h_random (SIZE, 51);
  int s = h_file (SIZE), d;
  struct xcopy_range r[] = { { 0, 0, SIZE } };
  struct xcopy_stats st;
  struct xcopy_pair p;
  struct xcopy_result res;

  require_holes ();
  d = h_file_with (dst, SIZE);
  memset (&st, 0, sizeof st);
  xcopy_pair_init (&p, s, d, &st);
  CHECK_OK (xcopy_copyv (&p, r, 1, 0, &res), &res, 1, SIZE);
  CHECK_FILE (d, zero, SIZE);
  CHECK (h_is_hole (d, 0, SIZE));
  CHECK_U64 (h_allocated (d), <=, 64 * KiB);
  CHECK_U64 (h_bytes_copied (&st), ==, 0);
  CHECK_U64 (h_bytes (&st, XCOPY_M_PUNCH), ==, SIZE);
  h_close (s);
  h_close (d);
  free (zero);
  free (dst);
}

static void
sparse_into_sparse (void)
{
  /* A sparse destination stays as sparse as the source. */
  unsigned char *src;
  int s, d = h_file (SIZE);
  struct xcopy_range r[] = { { 0, 0, SIZE } };
  struct xcopy_pair p;
  struct xcopy_result res;

  require_holes ();
  s = sparse_source (&src, 60);
  xcopy_pair_init (&p, s, d, NULL);
  CHECK_OK (xcopy_copyv (&p, r, 1, 0, &res), &res, 1, SIZE);
  CHECK_FILE (d, src, SIZE);
  check_layout (d, 0);
  CHECK_U64 (h_allocated (d), <=, h_allocated (s) + 64 * KiB);
  h_close (s);
  h_close (d);
  free (src);
}

static void
sparse_within_one_file (void)
{
  /* Copy the sparse first half over a second half full of data. */
  uint64_t size = 2 * SIZE;
  unsigned char *src, *model = h_malloc (size);
  int fd;
  struct xcopy_range r[] = { { 0, SIZE, SIZE } };
  struct xcopy_pair p;
  struct xcopy_result res;

  require_holes ();
  fd = sparse_source (&src, 70);
  SYS_OK (ftruncate (fd, (off_t) size));
  memcpy (model, src, SIZE);
  h_fill_random (model + SIZE, SIZE, 71);
  h_pwrite_all (fd, model + SIZE, SIZE, SIZE);
  xcopy_pair_init (&p, fd, fd, NULL);
  CHECK_OK (xcopy_copyv (&p, r, 1, 0, &res), &res, 1, SIZE);
  h_model_copyv (model, model, r, 1);
  CHECK_FILE (fd, model, size);
  check_layout (fd, SIZE);
  h_close (fd);
  free (src);
  free (model);
}

static void
sparse_allocate (void)
{
  /* XCOPY_F_ALLOCATE: holes become allocated zeroes (st_blocks; ext4 may
   * report allocated-but-unwritten blocks as holes to SEEK_DATA, so the
   * block count is what is checked).
   */
  for (size_t k = 0; k < ARRAY_SIZE (rungs); k++) {
    unsigned char *src;
    int s = sparse_source (&src, 80 + k), d = h_file (SIZE);
    struct xcopy_range r[] = { { 0, 0, SIZE } };
    struct xcopy_pair p;
    struct xcopy_result res;

    xcopy_pair_init (&p, s, d, NULL);
    CHECK_OK (xcopy_copyv (&p, r, 1, rungs[k] | XCOPY_F_ALLOCATE, &res), &res,
              1, SIZE);
    CHECK_FILE (d, src, SIZE);
    CHECK_U64 (h_allocated (d), >=, SIZE);
    CHECK_U64 (h_ncalls (H_PUNCH), ==, 0);
    if (h_case_failures ())
      h_note ("... flags 0x%x", rungs[k]);
    h_close (s);
    h_close (d);
    free (src);
  }
}

static void
sparse_punch_unsupported (void)
{
  /* Punching fails (EOPNOTSUPP), then punching and ZERO_RANGE both fail:
   * the holes must still read as zeroes.
   */
  for (int both = 0; both < 2; both++) {
    unsigned char *src, *dst = h_random (SIZE, 91);
    int s = sparse_source (&src, 90), d = h_file_with (dst, SIZE);
    struct xcopy_range r[] = { { 0, 0, SIZE } };
    struct xcopy_stats st;
    struct xcopy_pair p;
    struct xcopy_result res;

    h_inject_reset ();
    h_fail_always (H_PUNCH, EOPNOTSUPP);
    if (both)
      h_fail_always (H_ZERO_RANGE, EOPNOTSUPP);
    memset (&st, 0, sizeof st);
    xcopy_pair_init (&p, s, d, &st);
    CHECK_OK (xcopy_copyv (&p, r, 1, 0, &res), &res, 1, SIZE);
    CHECK_FILE (d, src, SIZE);
    CHECK_U64 (h_bytes (&st, XCOPY_M_PUNCH), ==, 0);
    CHECK_U64 (atomic_load (&p.caps) & XCOPY_CAP_PUNCH, ==, 0);
    if (both)
      CHECK_U64 (atomic_load (&p.caps) & XCOPY_CAP_ZERO_RANGE, ==, 0);
    /* Every byte accounted for once: data copied plus holes zeroed. */
    CHECK_U64 (h_bytes_all (&st), ==, SIZE);
    if (h_case_failures ()) {
      h_note ("... %s", both ? "punch and zero-range fail" : "punch fails");
      h_print_stats ("counters", &st);
    }
    /* The next copy does not try to punch again. */
    {
      unsigned long punches = h_ncalls (H_PUNCH);
      h_fill_random (dst, SIZE, 92);
      h_pwrite_all (d, dst, SIZE, 0);
      CHECK_OK (xcopy_copyv (&p, r, 1, 0, &res), &res, 1, SIZE);
      CHECK_FILE (d, src, SIZE);
      CHECK_U64 (h_ncalls (H_PUNCH), ==, punches);
    }
    h_close (s);
    h_close (d);
    free (src);
    free (dst);
  }
}

static void
sparse_tail_not_block_aligned (void)
{
  /* A file whose size is not a multiple of the block size, ending in a
   * hole, copied onto data.
   */
  uint64_t size = 3 * MiB + 1234;
  unsigned char *src = h_calloc (size), *dst = h_random (size, 101);
  int s = h_file (size), d = h_file_with (dst, size);
  struct xcopy_range r[] = { { 0, 0, size } };
  struct xcopy_pair p;
  struct xcopy_result res;

  h_fill_random (src + 1 * MiB, 100 * KiB, 100);
  h_pwrite_all (s, src + 1 * MiB, 100 * KiB, 1 * MiB);
  xcopy_pair_init (&p, s, d, NULL);
  CHECK_OK (xcopy_copyv (&p, r, 1, 0, &res), &res, 1, size);
  CHECK_FILE (d, src, size);
  if (h_holes_work ()) {
    CHECK (h_is_hole (d, 0, 1 * MiB));
    CHECK (h_is_hole (d, 1 * MiB + 100 * KiB, 1 * MiB));
  }
  h_close (s);
  h_close (d);
  free (src);
  free (dst);
}

static void
sparse_failure_progress (void)
{
  /* ENOSPC inside the second data extent: the hole before it counts as
   * done (it was punched), the result says exactly where the copy stopped,
   * and nothing after that point changed.
   */
  for (size_t k = 0; k < ARRAY_SIZE (rungs); k++) {
    unsigned char *src, *dst = h_random (SIZE, 111), *exp = h_malloc (SIZE);
    int s = sparse_source (&src, 110), d = h_file_with (dst, SIZE);
    struct xcopy_range r[] = { { 0, 0, SIZE } };
    struct xcopy_pair p;
    struct xcopy_result res;
    unsigned before = h_case_failures ();

    h_inject_reset ();
    h_fail_always (H_CLONE, EOPNOTSUPP);
    h_write_budget (1 * MiB + 100 * KiB, ENOSPC);
    xcopy_pair_init (&p, s, d, NULL);
    h_result_poison (&res);
    CHECK_INT (xcopy_copyv (&p, r, 1, rungs[k], &res), ==, -ENOSPC);
    CHECK_INT (res.error, ==, ENOSPC);
    CHECK_U64 (res.ranges_done, ==, 0);
    CHECK_U64 (res.failed_index, ==, 0);
    CHECK_U64 (res.failed_done, ==, 3 * MiB + 100 * KiB);
    CHECK_U64 (res.bytes_done, ==, 3 * MiB + 100 * KiB);
    memcpy (exp, dst, SIZE);
    h_model_partial (src, exp, r, 1, &res);
    CHECK_FILE (d, exp, SIZE);
    if (h_holes_work ())
      CHECK (h_is_hole (d, 1 * MiB, 2 * MiB));
    if (h_case_failures () != before)
      h_note ("... flags 0x%x", rungs[k]);
    h_close (s);
    h_close (d);
    free (src);
    free (dst);
    free (exp);
  }
}

static const struct h_test tests[] = {
  H_TEST (sparse_holes_preserved),
  H_TEST (sparse_shifted_destination),
  H_TEST (sparse_unaligned_range),
  H_TEST (sparse_all_hole_source),
  H_TEST (sparse_into_sparse),
  H_TEST (sparse_within_one_file),
  H_TEST (sparse_allocate),
  H_TEST (sparse_punch_unsupported),
  H_TEST (sparse_tail_not_block_aligned),
  H_TEST (sparse_failure_progress),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
