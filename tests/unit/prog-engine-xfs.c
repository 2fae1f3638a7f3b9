/* xcopyd: engine tests on XFS with reflink — blocks really shared.
 *
 * Run by tests/func/test-engine-xfs.sh, which loop-mounts a fresh XFS
 * (mkfs.xfs -m reflink=1) and sets XCOPY_XFS_DIR; without it this skips.
 * Copies and fills with the default ladder must share blocks (FIEMAP
 * FIEMAP_EXTENT_SHARED), count the bytes as reflink or copy_file_range, use
 * hardly any space, and give the right bytes; unaligned ranges still copy
 * correctly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/statvfs.h>

#include "harness.h"

static uint64_t
free_bytes (void)
{
  struct statvfs sv;

  if (statvfs (h_dir (), &sv) == -1) {
    h_fail (__FILE__, __LINE__, "statvfs %s: %m", h_dir ());
    h_abort_case ();
  }
  return (uint64_t) sv.f_bfree * sv.f_frsize;
}

/* Free bytes once the file system has settled: XFS frees the blocks of
 * closed, unlinked files in the background.
 */
static uint64_t
settled_free_bytes (void)
{
  uint64_t prev = 0, cur = free_bytes ();

  for (int i = 0; i < 30 && cur != prev; i++) {
    int dfd = open (h_dir (), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      syncfs (dfd);
      close (dfd);
    }
    usleep (100 * 1000);
    prev = cur;
    cur = free_bytes ();
  }
  return cur;
}

/* Bytes of [off, off+len) that FIEMAP reports shared. */
static uint64_t
shared (int fd, uint64_t off, uint64_t len)
{
  int64_t s = h_fiemap_shared (fd, off, len, NULL);

  if (s < 0) {
    h_fail (__FILE__, __LINE__, "FIEMAP: %m");
    h_abort_case ();
  }
  return (uint64_t) s;
}

static uint64_t
offloaded (const struct xcopy_stats *st)
{
  return h_bytes (st, XCOPY_M_REFLINK) + h_bytes (st, XCOPY_M_CFR);
}

static void
xfs_reflink_works (void)
{
  /* The file system the script made must reflink at all. */
  unsigned char *a = h_random (1 * MiB, 1);
  int s = h_file_with (a, 1 * MiB), d = h_file (1 * MiB);

  SYS_OK (h_next.clone_range (s, 0, 1 * MiB, d, 0));
  CHECK_U64 (shared (d, 0, 1 * MiB), ==, 1 * MiB);
  CHECK_FILE (d, a, 1 * MiB);
  h_close (s);
  h_close (d);
  free (a);
}

static void
xfs_copy_aligned (void)
{
  uint64_t size = 64 * MiB;
  struct xcopy_range r[] = {
    { 0,        16 * MiB, 8 * MiB },
    { 32 * MiB, 0,        4 * MiB },
    { 8 * MiB,  40 * MiB, 16 * MiB },
    { 60 * MiB, 60 * MiB, 4 * MiB },
  };
  unsigned char *src = h_random (size, 10), *dst = h_random (size, 11);
  int s = h_file_with (src, size), d = h_file_with (dst, size);
  uint64_t total = h_sum_len (r, 4);
  struct xcopy_stats st;
  struct xcopy_pair p;
  struct xcopy_result res;

  SYS_OK (fsync (s));
  SYS_OK (fsync (d));
  memset (&st, 0, sizeof st);
  xcopy_pair_init (&p, s, d, &st);
  CHECK_OK (xcopy_copyv (&p, r, 4, 0, &res), &res, 4, total);
  h_model_copyv (src, dst, r, 4);
  CHECK_FILE (d, dst, size);
  for (size_t i = 0; i < 4; i++)
    CHECK_U64 (shared (d, r[i].dst, r[i].len), ==, r[i].len);
  CHECK_U64 (shared (d, 12 * MiB, 4 * MiB), ==, 0);   /* not copied */
  CHECK_U64 (offloaded (&st), ==, total);
  CHECK_U64 (h_bytes (&st, XCOPY_M_BOUNCE) + h_bytes (&st, XCOPY_M_SPLICE),
             ==, 0);
  h_print_stats ("aligned copy", &st);
  h_close (s);
  h_close (d);
  free (src);
  free (dst);
}

static void
xfs_copy_sparse_1g (void)
{
  /* 1 GiB, 1 MiB of data every 32 MiB, copied over a destination with
   * data in other places: the destination ends with the source's layout,
   * its data blocks shared, nearly no space used.
   */
  uint64_t size = 1 * GiB, chunk = 1 * MiB, step = 32 * MiB;
  unsigned char *buf = h_malloc (chunk), *got = h_malloc (chunk);
  int s = h_file (size), d = h_file (size);
  struct xcopy_range r[] = { { 0, 0, size } };
  struct xcopy_stats st;
  struct xcopy_pair p;
  struct xcopy_result res;
  uint64_t before;

  for (uint64_t off = 0; off < size; off += step) {
    h_fill_random (buf, chunk, 100 + off / step);
    h_pwrite_all (s, buf, chunk, off);
    h_fill_random (buf, chunk, 200 + off / step);
    h_pwrite_all (d, buf, chunk, off + step / 2);
  }
  SYS_OK (fsync (s));
  SYS_OK (fsync (d));
  before = settled_free_bytes ();
  memset (&st, 0, sizeof st);
  xcopy_pair_init (&p, s, d, &st);
  CHECK_OK (xcopy_copyv (&p, r, 1, 0, &res), &res, 1, size);
  SYS_OK (fsync (d));
  for (uint64_t off = 0; off < size; off += step) {
    h_fill_random (buf, chunk, 100 + off / step);
    h_pread_all (d, got, chunk, off);
    if (memcmp (buf, got, chunk) != 0) {
      h_fail (__FILE__, __LINE__, "data differs in [%ju, +1 MiB)",
              (uintmax_t) off);
      break;
    }
    CHECK_U64 (shared (d, off, chunk), ==, chunk);
    CHECK (h_is_hole (d, off + chunk, step - chunk));
  }
  /* An aligned range is reflinked whole, holes included (a reflink maps
   * holes as holes): no byte moved through any other method.
   */
  CHECK_U64 (h_bytes_copied (&st), ==, size);
  CHECK_U64 (offloaded (&st), ==, size);
  CHECK_U64 (h_allocated (d), <=, size / step * chunk + 1 * MiB);
  /* The old destination data was freed, none was allocated. */
  CHECK_U64 (settled_free_bytes () + 1 * MiB, >=, before);
  h_print_stats ("1 GiB sparse copy", &st);
  h_close (s);
  h_close (d);
  free (buf);
  free (got);
}

static void
xfs_fill_256m (void)
{
  uint64_t len = 256 * MiB, off = 4 * MiB, size = len + 8 * MiB;
  unsigned char pat[4096], *buf = h_malloc (1 * MiB);
  int fd = h_file (size);
  struct xcopy_stats st;
  struct xcopy_pair p;
  struct xcopy_result res;
  uint64_t before;

  h_fill_random (pat, sizeof pat, 300);
  pat[0] |= 1;
  before = settled_free_bytes ();
  memset (&st, 0, sizeof st);
  xcopy_pair_init (&p, fd, fd, &st);
  CHECK_OK (xcopy_fill (&p, off, len, pat, sizeof pat, 0, &res), &res, 1, len);
  SYS_OK (fsync (fd));
  for (uint64_t o = 0; o < len; o += 1 * MiB) {
    h_pread_all (fd, buf, 1 * MiB, off + o);
    for (size_t i = 0; i < 1 * MiB; i += sizeof pat)
      if (memcmp (buf + i, pat, sizeof pat) != 0) {
        h_fail (__FILE__, __LINE__, "fill differs at %ju",
                (uintmax_t) (off + o + i));
        o = len;
        break;
      }
  }
  CHECK_U64 (shared (fd, off, len), >=, len - 8 * MiB);
  CHECK_U64 (offloaded (&st), >=, len - 8 * MiB);
  CHECK_U64 (h_bytes_all (&st), ==, len);
  /* Shared blocks: a few MiB of space for 256 MiB of pattern. */
  CHECK_U64 (before, <=, free_bytes () + 16 * MiB);
  h_print_stats ("256 MiB fill", &st);
  h_close (fd);
  free (buf);
}

static void
xfs_overlap_same_file (void)
{
  uint64_t size = 32 * MiB;
  struct xcopy_range r[] = {
    { 0,       4 * MiB, 24 * MiB },    /* backward, 4 MiB shift */
    { 8 * MiB, 2 * MiB, 20 * MiB },    /* forward, 6 MiB shift */
  };
  unsigned char *model = h_random (size, 400);
  int fd = h_file_with (model, size);
  struct xcopy_stats st;
  struct xcopy_pair p;
  struct xcopy_result res;

  SYS_OK (fsync (fd));
  memset (&st, 0, sizeof st);
  xcopy_pair_init (&p, fd, fd, &st);
  CHECK_OK (xcopy_copyv (&p, r, 2, 0, &res), &res, 2, 44 * MiB);
  h_model_copyv (model, model, r, 2);
  CHECK_FILE (fd, model, size);
  CHECK_U64 (offloaded (&st), ==, 44 * MiB);
  CHECK_U64 (shared (fd, 2 * MiB, 20 * MiB), >, 0);
  h_print_stats ("overlap", &st);
  h_close (fd);
  free (model);
}

static void
xfs_unaligned (void)
{
  uint64_t size = 16 * MiB;
  struct xcopy_range r[] = {
    { 1,           4 * MiB + 3,  2 * MiB },
    { 8 * MiB,     512,          1 * MiB + 1 },
    { 12345,       12 * MiB,     4 * MiB - 12345 },
  };
  struct xcopy_stats st;

  memset (&st, 0, sizeof st);
  CHECK_COPY (false, size, size, r, 3, 0, &st);
  CHECK_COPY (true, size, 0, r, 3, 0, NULL);
  h_print_stats ("unaligned", &st);
}

static void
xfs_zero_shared_leaves_source (void)
{
  /* Punching or zeroing reflinked blocks in the destination must not
   * change the source they are shared with.
   */
  uint64_t size = 8 * MiB;
  unsigned char *src = h_random (size, 500), *dst = h_malloc (size);
  int s = h_file_with (src, size), d = h_file (size);
  struct xcopy_range r[] = { { 0, 0, size } };
  struct xcopy_pair p;
  struct xcopy_result res;

  xcopy_pair_init (&p, s, d, NULL);
  CHECK_OK (xcopy_copyv (&p, r, 1, 0, &res), &res, 1, size);
  CHECK_U64 (shared (d, 0, size), ==, size);
  CHECK_OK (xcopy_zero (&p, 1 * MiB, 1 * MiB, XCOPY_F_MAY_TRIM, &res), &res,
            1, 1 * MiB);
  CHECK_OK (xcopy_zero (&p, 3 * MiB + 5, 1 * MiB, 0, &res), &res, 1, 1 * MiB);
  memcpy (dst, src, size);
  memset (dst + 1 * MiB, 0, 1 * MiB);
  memset (dst + 3 * MiB + 5, 0, 1 * MiB);
  CHECK_FILE (d, dst, size);
  CHECK_FILE (s, src, size);
  CHECK (h_is_hole (d, 1 * MiB, 1 * MiB));
  h_close (s);
  h_close (d);
  free (src);
  free (dst);
}

static void
xfs_force_cfr_shares (void)
{
  /* copy_file_range itself reflinks on XFS: counted as CFR, blocks shared. */
  uint64_t size = 16 * MiB;
  struct xcopy_range r[] = { { 4 * MiB, 0, 8 * MiB } };
  struct xcopy_stats st;
  unsigned char *src = h_random (size, 600);
  int s = h_file_with (src, size), d = h_file (size);
  struct xcopy_pair p;
  struct xcopy_result res;

  memset (&st, 0, sizeof st);
  xcopy_pair_init (&p, s, d, &st);
  CHECK_OK (xcopy_copyv (&p, r, 1, XCOPY_F_FORCE_CFR, &res), &res, 1, 8 * MiB);
  CHECK_U64 (h_bytes (&st, XCOPY_M_CFR), ==, 8 * MiB);
  CHECK_U64 (h_ncalls (H_CLONE), ==, 0);
  CHECK_U64 (shared (d, 0, 8 * MiB), ==, 8 * MiB);
  CHECK (h_is_hole (d, 8 * MiB, 8 * MiB));
  {
    unsigned char *got = h_malloc (8 * MiB);
    h_pread_all (d, got, 8 * MiB, 0);
    CHECK (memcmp (got, src + 4 * MiB, 8 * MiB) == 0);
    free (got);
  }
  h_close (s);
  h_close (d);
  free (src);
}

static void
xfs_fill_unaligned (void)
{
  /* A fill that cannot be block aligned still has the right bytes. */
  uint64_t off = 1, len = 3 * 5 * MiB, size = len + 8192;
  unsigned char pat[3] = { 0xaa, 0x00, 0x55 }, *buf = h_malloc (len);
  int fd = h_file (size);
  struct xcopy_pair p;
  struct xcopy_result res;

  xcopy_pair_init (&p, fd, fd, NULL);
  CHECK_OK (xcopy_fill (&p, off, len, pat, 3, 0, &res), &res, 1, len);
  h_pread_all (fd, buf, len, off);
  for (uint64_t i = 0; i < len; i++)
    if (buf[i] != pat[i % 3]) {
      h_fail (__FILE__, __LINE__, "fill differs at %ju", (uintmax_t) (off + i));
      break;
    }
  h_close (fd);
  free (buf);
}

static const struct h_test tests[] = {
  H_TEST (xfs_reflink_works),
  H_TEST (xfs_copy_aligned),
  H_TEST (xfs_copy_sparse_1g),
  H_TEST (xfs_fill_256m),
  H_TEST (xfs_overlap_same_file),
  H_TEST (xfs_unaligned),
  H_TEST (xfs_zero_shared_leaves_source),
  H_TEST (xfs_force_cfr_shares),
  H_TEST (xfs_fill_unaligned),
};

int
main (int argc, char **argv)
{
  const char *dir = getenv ("XCOPY_XFS_DIR");

  if (!dir || !*dir) {
    printf ("SKIP: XCOPY_XFS_DIR not set "
            "(tests/func/test-engine-xfs.sh mounts an XFS and sets it)\n");
    return 77;
  }
  setenv ("XCOPY_TEST_DIR", dir, 1);
  return H_MAIN (argc, argv, tests);
}
