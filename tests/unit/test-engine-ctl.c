/* xcopyd: xcopy_copyv_ctl — progress published to a watcher, cancel at
 * range and piece boundaries with exact progress and nothing written past it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct xcopy_ctl *cancel_ctl;
static unsigned long cancel_after;     /* cancel once this many calls ran */
static ssize_t (*next_cfr) (int, off_t *, int, off_t *, size_t, unsigned);

static ssize_t
cancelling_cfr (int in, off_t *oin, int out, off_t *oout, size_t len,
                unsigned fl)
{
  ssize_t r = next_cfr (in, oin, out, oout, len, fl);

  if (--cancel_after == 0)
    atomic_store (&cancel_ctl->cancel, true);
  return r;
}

static void
cancel_on_call (struct xcopy_ctl *ctl, unsigned long n)
{
  cancel_ctl = ctl;
  cancel_after = n;
  next_cfr = xcopy_sys.copy_file_range;
  xcopy_sys.copy_file_range = cancelling_cfr;
}

static void
ctl_progress_complete (void)
{
  unsigned char *a = h_random (1 * MiB, 1), *b = h_random (1 * MiB, 2);
  int s = h_file_with (a, MiB), d = h_file_with (b, MiB);
  struct xcopy_range r[] = { { 0, 4096, 100000 }, { 500000, 300000, 7 } };
  struct xcopy_ctl ctl = { 0 };
  struct xcopy_result res;
  struct xcopy_pair p;

  xcopy_pair_init (&p, s, d, NULL);
  CHECK_OK (xcopy_copyv_ctl (&p, r, 2, 0, &ctl, &res), &res, 2, 100007);
  CHECK_U64 (atomic_load (&ctl.bytes_done), ==, 100007);
  h_model_copyv (a, b, r, 2);
  CHECK_FILE (d, b, MiB);
  free (a); free (b); h_close (s); h_close (d);
}

static void
ctl_cancel_before_start (void)
{
  unsigned char *b = h_random (MiB, 3);
  int s = h_file (MiB), d = h_file_with (b, MiB);
  struct xcopy_range r[] = { { 0, 0, 4096 } };
  struct xcopy_ctl ctl = { 0 };
  struct xcopy_result res;
  struct xcopy_pair p;

  atomic_store (&ctl.cancel, true);
  xcopy_pair_init (&p, s, d, NULL);
  CHECK_INT (xcopy_copyv_ctl (&p, r, 1, 0, &ctl, &res), ==, -ECANCELED);
  CHECK_INT (res.error, ==, ECANCELED);
  CHECK_U64 (res.ranges_done, ==, 0);
  CHECK_U64 (res.failed_index, ==, 0);
  CHECK_U64 (res.bytes_done, ==, 0);
  CHECK_FILE (d, b, MiB);
  free (b); h_close (s); h_close (d);
}

/* Five separate ranges, one copy_file_range call each: cancelled during
 * the second, the copy stops at the boundary after it.
 */
static void
ctl_cancel_at_range_boundary (void)
{
  unsigned char *a = h_random (MiB, 4), *b = h_random (MiB, 5);
  int s = h_file_with (a, MiB), d = h_file_with (b, MiB);
  struct xcopy_range r[5];
  struct xcopy_ctl ctl = { 0 };
  struct xcopy_result res;
  struct xcopy_pair p;

  for (int i = 0; i < 5; i++)
    r[i] = (struct xcopy_range) { i * 131072, i * 131072 + 65536, 65536 };
  xcopy_pair_init (&p, s, d, NULL);
  cancel_on_call (&ctl, 2);
  CHECK_INT (xcopy_copyv_ctl (&p, r, 5, XCOPY_F_FORCE_CFR, &ctl, &res), ==,
             -ECANCELED);
  CHECK_U64 (res.ranges_done, ==, 2);
  CHECK_U64 (res.failed_index, ==, 2);
  CHECK_U64 (res.failed_done, ==, 0);
  CHECK_U64 (res.bytes_done, ==, 2 * 65536);
  CHECK_U64 (atomic_load (&ctl.bytes_done), ==, 2 * 65536);
  h_model_copyv (a, b, r, 2);        /* only the first two happened */
  CHECK_FILE (d, b, MiB);
  free (a); free (b); h_close (s); h_close (d);
}

/* One range longer than a piece: cancelled during the first piece, the
 * copy stops after it, reporting exactly one piece done in range 0.
 */
static void
ctl_cancel_inside_long_range (void)
{
  uint64_t len = 2 * XCOPY_CTL_PIECE + 12345, size = len + MiB;
  unsigned char *a = h_random (size, 6), *b = h_random (size, 7);
  int s = h_file_with (a, size), d = h_file_with (b, size);
  struct xcopy_range r[] = { { 0, MiB, len } };
  struct xcopy_ctl ctl = { 0 };
  struct xcopy_result res;
  struct xcopy_pair p;

  xcopy_pair_init (&p, s, d, NULL);
  cancel_on_call (&ctl, 1);
  CHECK_INT (xcopy_copyv_ctl (&p, r, 1, XCOPY_F_FORCE_CFR, &ctl, &res), ==,
             -ECANCELED);
  CHECK_U64 (res.ranges_done, ==, 0);
  CHECK_U64 (res.failed_index, ==, 0);
  CHECK_U64 (res.failed_done, ==, XCOPY_CTL_PIECE);
  CHECK_U64 (res.bytes_done, ==, XCOPY_CTL_PIECE);
  CHECK_U64 (atomic_load (&ctl.bytes_done), ==, XCOPY_CTL_PIECE);
  memcpy (b + MiB, a, XCOPY_CTL_PIECE);
  CHECK_FILE (d, b, size);
  free (a); free (b); h_close (s); h_close (d);
}

static const struct h_test tests[] = {
  H_TEST (ctl_progress_complete),
  H_TEST (ctl_cancel_before_start),
  H_TEST (ctl_cancel_at_range_boundary),
  H_TEST (ctl_cancel_inside_long_range),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
