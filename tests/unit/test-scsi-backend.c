/* xcopyd: the file backend and scsi_backend_copy() (daemon/scsi/
 * backend-file.c, backend.c): what the EXTENDED COPY code builds on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scsi-harness.h"

static struct scsi_backend *
file_be (int fd, bool ro)
{
  struct scsi_backend *be;

  REQUIRE (scsi_file_backend_from_fd (dup (fd), ro, NULL, &be) == 0);
  return be;
}

static void
open_errors (void)
{
  struct scsi_backend *be;

  CHECK_INT (scsi_file_backend_open ("/nonexistent/x", false, NULL, &be), ==,
             -ENOENT);
  CHECK_INT (scsi_file_backend_open ("/", true, NULL, &be), ==, -EINVAL);
}

static void
read_write_flush_size (void)
{
  int fd = h_file (64 * KiB);
  struct scsi_backend *be = file_be (fd, false), *ro = file_be (fd, true);
  uint8_t buf[1000], back[1000];
  uint64_t size;

  h_fill_random (buf, sizeof buf, 3);
  CHECK_INT (be->ops->pwrite (be, buf, sizeof buf, 5000, SCSI_BE_FUA), ==, 0);
  CHECK_U64 (h_ncalls (H_FDATASYNC), ==, 1);
  CHECK_INT (be->ops->pread (be, back, sizeof back, 5000), ==, 0);
  CHECK (memcmp (back, buf, sizeof buf) == 0);
  CHECK_INT (be->ops->flush (be), ==, 0);
  CHECK_INT (be->ops->size (be, &size), ==, 0);
  CHECK_U64 (size, ==, 64 * KiB);
  CHECK_INT (be->ops->pread (be, back, 10, 64 * KiB - 5), ==, -EIO);
  CHECK_INT (ro->ops->pwrite (ro, buf, 10, 0, 0), ==, -EROFS);
  CHECK (ro->caps & SCSI_BE_CAP_READONLY);
  CHECK (be->caps & SCSI_BE_CAP_UNMAP);
  /* Short transfers are finished. */
  h_fault (H_PWRITE, &(struct h_fault) { .max_len = 100 });
  h_fault (H_PREAD, &(struct h_fault) { .max_len = 7 });
  CHECK_INT (be->ops->pwrite (be, buf, sizeof buf, 0, 0), ==, 0);
  CHECK_INT (be->ops->pread (be, back, sizeof back, 0), ==, 0);
  CHECK (memcmp (back, buf, sizeof buf) == 0);
  be->ops->close (be);
  ro->ops->close (ro);
  h_close (fd);
}

static void
extents (void)
{
  int fd = h_file (256 * KiB);
  struct scsi_backend *be = file_be (fd, false);
  struct scsi_extent e[8];
  uint8_t data[64 * KiB];
  size_t n;

  if (!h_holes_work ())
    h_skip ("the scratch file system does not report holes");
  memset (data, 1, sizeof data);
  h_pwrite_all (fd, data, sizeof data, 64 * KiB);
  REQUIRE (be->ops->extents (be, 0, 256 * KiB, e, 8, &n) == 0);
  REQUIRE_INT (n, ==, 3);
  CHECK (e[0].off == 0 && e[0].len == 64 * KiB
         && e[0].type == SCSI_EXTENT_HOLE);
  CHECK (e[1].off == 64 * KiB && e[1].len == 64 * KiB
         && e[1].type == SCSI_EXTENT_DATA);
  CHECK (e[2].off == 128 * KiB && e[2].len == 128 * KiB
         && e[2].type == SCSI_EXTENT_HOLE);
  REQUIRE (be->ops->extents (be, 100 * KiB, 50 * KiB, e, 1, &n) == 0);
  REQUIRE_INT (n, ==, 1);
  CHECK (e[0].off == 100 * KiB && e[0].len == 28 * KiB
         && e[0].type == SCSI_EXTENT_DATA);
  be->ops->close (be);
  h_close (fd);
}

/* Copies between two backends of one kind go through the engine. */
static void
copy_between_files (void)
{
  unsigned char *src = h_random (1 * MiB, 11), *dst = h_random (1 * MiB, 12);
  int sfd = h_file_with (src, 1 * MiB), dfd = h_file_with (dst, 1 * MiB);
  struct scsi_backend *s = file_be (sfd, true), *d = file_be (dfd, false);
  struct xcopy_range r[3] = {
    { 0, 4096, 8192 }, { 512 * KiB, 0, 4096 }, { 4096, 900 * KiB, 100 * KiB },
  };
  struct xcopy_result res;

  CHECK_INT (scsi_backend_copy (s, d, r, 3, 0, NULL, &res), ==, 0);
  CHECK_OK (0, &res, 3, 8192 + 4096 + 100 * KiB);
  h_model_copyv (src, dst, r, 3);
  CHECK_FILE (dfd, dst, 1 * MiB);
  /* Into a read-only backend. */
  CHECK_INT (scsi_backend_copy (d, s, r, 1, 0, NULL, &res), ==, -EROFS);
  s->ops->close (s);
  d->ops->close (d);
  h_close (sfd);
  h_close (dfd);
  free (src);
  free (dst);
}

/* ---- A backend of another kind: the file ops without copy ---- */

static struct scsi_backend_ops nocopy_ops;

static struct scsi_backend *
nocopy_be (int fd)
{
  struct scsi_backend *be = file_be (fd, false);

  nocopy_ops = *be->ops;
  nocopy_ops.name = "nocopy";
  nocopy_ops.copy = NULL;
  be->ops = &nocopy_ops;
  return be;
}

/* Across kinds the bytes bounce; overlapping ranges in one backend copy
 * as memmove; all-zero pieces become holes, not written zeroes.
 */
static void
bounce_copy (void)
{
  unsigned char *src = h_random (4 * MiB, 21), *dst = h_random (4 * MiB, 22);
  int sfd = h_file_with (src, 4 * MiB), dfd = h_file_with (dst, 4 * MiB);
  struct scsi_backend *s = file_be (sfd, false), *d = nocopy_be (dfd);
  struct xcopy_range r[2] = { { 100, 3 * MiB - 5, 1 * MiB + 5 },
                              { 2 * MiB, 0, 1 * MiB } };
  struct xcopy_range over = { 0, 1000, 2 * MiB };
  struct xcopy_result res;

  /* Past the end: refused, nothing touched. */
  r[0].dst += 1;
  CHECK_INT (scsi_backend_copy (s, d, r, 2, 0, NULL, &res), ==, -ERANGE);
  CHECK_REFUSED (-ERANGE, &res, ERANGE, 0);
  CHECK_FILE (dfd, dst, 4 * MiB);
  r[0].dst -= 1;
  CHECK_INT (scsi_backend_copy (s, d, r, 2, 0, NULL, &res), ==, 0);
  CHECK_OK (0, &res, 2, 2 * MiB + 5);
  h_model_copyv (src, dst, r, 2);
  CHECK_FILE (dfd, dst, 4 * MiB);
  /* Within the bouncing backend, overlapping forwards. */
  CHECK_INT (scsi_backend_copy (d, d, &over, 1, 0, NULL, &res), ==, 0);
  h_model_copyv (dst, dst, &over, 1);
  CHECK_FILE (dfd, dst, 4 * MiB);
  /* A source hole stays a hole. */
  if (h_holes_work ()) {
    h_punch (sfd, 0, 1 * MiB);
    over = (struct xcopy_range) { 0, 2 * MiB, 1 * MiB };
    CHECK_INT (scsi_backend_copy (s, d, &over, 1, 0, NULL, &res), ==, 0);
    CHECK (h_is_hole (dfd, 2 * MiB, 1 * MiB));
  }
  s->ops->close (s);
  d->ops->close (d);
  h_close (sfd);
  h_close (dfd);
  free (src);
  free (dst);
}

/* Exact progress when the bounce fails, and cancellation. */
static void
bounce_failure_and_cancel (void)
{
  unsigned char *src = h_random (4 * MiB, 31), *dst = h_random (4 * MiB, 32);
  int sfd = h_file_with (src, 4 * MiB), dfd = h_file_with (dst, 4 * MiB);
  struct scsi_backend *s = file_be (sfd, false), *d = nocopy_be (dfd);
  struct xcopy_range r[2] = { { 0, 0, 1 * MiB }, { 1 * MiB, 1 * MiB,
                                                   2 * MiB } };
  struct xcopy_ctl ctl = { false, 0 };
  struct xcopy_result res;

  h_write_budget_whole (2 * MiB, EIO);
  CHECK_INT (scsi_backend_copy (s, d, r, 2, 0, &ctl, &res), ==, -EIO);
  CHECK_U64 (res.ranges_done, ==, 1);
  CHECK_U64 (res.failed_index, ==, 1);
  CHECK_U64 (res.failed_done, ==, 1 * MiB);
  CHECK_U64 (res.bytes_done, ==, 2 * MiB);
  CHECK_INT (res.error, ==, EIO);
  CHECK_U64 (atomic_load (&ctl.bytes_done), ==, 2 * MiB);
  h_model_partial (src, dst, r, 2, &res);
  CHECK_FILE (dfd, dst, 4 * MiB);
  h_inject_reset ();
  atomic_store (&ctl.cancel, true);
  CHECK_INT (scsi_backend_copy (s, d, r, 2, 0, &ctl, &res), ==, -ECANCELED);
  CHECK_U64 (res.bytes_done, ==, 0);
  CHECK_U64 (res.failed_index, ==, 0);
  /* An empty batch does nothing and succeeds. */
  CHECK_INT (scsi_backend_copy (s, d, r, 0, 0, NULL, &res), ==, 0);
  CHECK_U64 (res.failed_index, ==, SIZE_MAX);
  s->ops->close (s);
  d->ops->close (d);
  h_close (sfd);
  h_close (dfd);
  free (src);
  free (dst);
}

/* Unmap batches report like the engine; zero and fill. */
static void
unmap_zero_fill (void)
{
  int fd = h_file (1 * MiB);
  struct scsi_backend *be = file_be (fd, false);
  struct scsi_span s[2] = { { 0, 4096 }, { 8192, 4096 } };
  struct xcopy_result res;
  uint8_t *data = h_malloc (1 * MiB), pat[3] = { 1, 2, 3 };

  memset (data, 9, 1 * MiB);
  h_pwrite_all (fd, data, 1 * MiB, 0);
  CHECK_INT (be->ops->unmap (be, s, 2, &res), ==, 0);
  CHECK_OK (0, &res, 2, 8192);
  memset (data, 0, 4096);
  memset (data + 8192, 0, 4096);
  CHECK_FILE (fd, data, 1 * MiB);
  h_fail_always (H_PUNCH, EIO);
  CHECK_INT (be->ops->unmap (be, s, 2, &res), ==, -EIO);
  CHECK_U64 (res.failed_index, ==, 0);
  h_inject_reset ();
  CHECK_INT (be->ops->zero (be, 0, 4096, 0, &res), ==, 0);
  CHECK_INT (be->ops->fill (be, 4096, 3 * 1000, pat, 3, SCSI_BE_FUA, &res),
             ==, 0);
  for (int i = 0; i < 3000; i++)
    data[4096 + i] = pat[i % 3];
  CHECK_FILE (fd, data, 1 * MiB);
  be->ops->close (be);
  free (data);
  h_close (fd);
}

static const struct h_test tests[] = {
  H_TEST (open_errors),
  H_TEST (read_write_flush_size),
  H_TEST (extents),
  H_TEST (copy_between_files),
  H_TEST (bounce_copy),
  H_TEST (bounce_failure_and_cancel),
  H_TEST (unmap_zero_fill),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
