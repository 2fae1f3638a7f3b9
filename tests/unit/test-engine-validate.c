/* xcopyd: engine tests — validation at the boundary.
 *
 * DESIGN.md invariant 2: every range inside both files (overflow-safe), no
 * file ever grows, unknown flags and oversized batches refused, only
 * regular files.  engine.h: validation failures touch nothing and set
 * failed_index to the offending range, or SIZE_MAX for the whole batch.
 *
 * engine.h names no errno for a range outside a file.  These tests expect
 * ERANGE there (it maps to SCSI LBA OUT OF RANGE, 21/00, where EINVAL maps
 * to INVALID FIELD) and EINVAL for malformed arguments (flags, pattern).
 * A fill, zero or punch has one range, range 0.
 */
#define OUT_OF_RANGE ERANGE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define SSIZE (1 * MiB)
#define DSIZE (512 * KiB + 3)

struct fx {
  int s, d;
  unsigned char *src, *dst;
  struct xcopy_pair p;
  struct xcopy_result res;
};

static void
fx_open (struct fx *f)
{
  f->src = h_random (SSIZE, 1);
  f->dst = h_random (DSIZE, 2);
  f->s = h_file_with (f->src, SSIZE);
  f->d = h_file_with (f->dst, DSIZE);
  xcopy_pair_init (&f->p, f->s, f->d, NULL);
  h_result_poison (&f->res);
}

/* Nothing was written, to either file, by any means. */
static void
fx_untouched (struct fx *f)
{
  CHECK_FILE (f->s, f->src, SSIZE);
  CHECK_FILE (f->d, f->dst, DSIZE);
  CHECK_U64 (h_ncalls (H_CFR) + h_ncalls (H_CLONE) + h_ncalls (H_SPLICE_OUT)
             + h_ncalls (H_PWRITE) + h_ncalls (H_PUNCH)
             + h_ncalls (H_ZERO_RANGE) + h_ncalls (H_ALLOC), ==, 0);
}

static void
fx_close (struct fx *f)
{
  h_close (f->s);
  h_close (f->d);
  free (f->src);
  free (f->dst);
}

/* A batch of good ranges with one bad one at index bad. */
static void
refuse_at (const struct xcopy_range *badr, size_t bad, size_t n)
{
  struct xcopy_range r[8];
  struct fx f;
  unsigned before = h_case_failures ();

  REQUIRE (n <= ARRAY_SIZE (r) && bad < n);
  for (size_t i = 0; i < n; i++) {
    r[i].src = i * 4096;
    r[i].dst = i * 8192 + 1;
    r[i].len = 4096;
  }
  r[bad] = *badr;
  h_inject_reset ();
  fx_open (&f);
  CHECK_REFUSED (xcopy_copyv (&f.p, r, n, 0, &f.res), &f.res, OUT_OF_RANGE,
                 bad);
  fx_untouched (&f);
  if (h_case_failures () != before)
    h_note ("... range %zu of %zu: src %ju dst %ju len %ju", bad, n,
            (uintmax_t) badr->src, (uintmax_t) badr->dst,
            (uintmax_t) badr->len);
  fx_close (&f);
}

static void
validate_src_bounds (void)
{
  struct xcopy_range past = { SSIZE - 4096 + 1, 0, 4096 };
  struct xcopy_range beyond = { SSIZE + 1, 0, 0 };
  struct xcopy_range huge = { 0, 0, SSIZE + 1 };
  struct xcopy_range fits = { SSIZE - 4096, 0, 4096 };
  struct xcopy_range r[2] = { fits, { SSIZE, 0, 0 } };
  struct fx f;

  refuse_at (&past, 0, 1);
  refuse_at (&past, 3, 5);
  refuse_at (&past, 4, 5);
  refuse_at (&huge, 2, 3);
  refuse_at (&beyond, 1, 2);

  /* Exactly at the end is fine. */
  fx_open (&f);
  CHECK_OK (xcopy_copyv (&f.p, r, 2, 0, &f.res), &f.res, 2, 4096);
  h_model_copyv (f.src, f.dst, r, 2);
  CHECK_FILE (f.d, f.dst, DSIZE);
  fx_close (&f);
}

static void
validate_dst_bounds (void)
{
  struct xcopy_range past = { 0, DSIZE - 100, 101 };
  struct xcopy_range beyond = { 0, DSIZE + 4096, 1 };
  struct xcopy_range fits = { 0, DSIZE - 100, 100 };
  struct fx f;

  refuse_at (&past, 0, 1);
  refuse_at (&past, 2, 4);
  refuse_at (&beyond, 1, 3);

  fx_open (&f);
  CHECK_OK (xcopy_copyv (&f.p, &fits, 1, 0, &f.res), &f.res, 1, 100);
  h_model_copyv (f.src, f.dst, &fits, 1);
  CHECK_FILE (f.d, f.dst, DSIZE);
  fx_close (&f);
}

static void
validate_overflow (void)
{
  static const struct xcopy_range bad[] = {
    { UINT64_MAX - 1, 0, 10 },
    { 0, UINT64_MAX - 1, 10 },
    { 10, 0, UINT64_MAX },
    { 0, 10, UINT64_MAX - 5 },
    { UINT64_MAX, UINT64_MAX, 1 },
    { (uint64_t) INT64_MAX + 1, 0, 1 },   /* not an off_t */
    { 0, (uint64_t) INT64_MAX + 1, 1 },
    { (uint64_t) INT64_MAX, 0, 1 },
    { 1, 1, UINT64_MAX - 0 },
  };

  for (size_t i = 0; i < ARRAY_SIZE (bad); i++) {
    refuse_at (&bad[i], 0, 1);
    refuse_at (&bad[i], 1, 3);
  }
}

static void
validate_first_offender (void)
{
  struct xcopy_range r[] = {
    { 0, 0, 100 },
    { 0, DSIZE, 1 },        /* first bad */
    { SSIZE, 0, 1 },        /* also bad */
  };
  struct fx f;

  fx_open (&f);
  CHECK_REFUSED (xcopy_copyv (&f.p, r, 3, 0, &f.res), &f.res, OUT_OF_RANGE, 1);
  fx_untouched (&f);
  fx_close (&f);
}

static void
validate_flags (void)
{
  struct xcopy_range r[] = { { 0, 0, 4096 } };
  unsigned char pat[4] = { 1, 2, 3, 4 };
  struct fx f;

  fx_open (&f);
  for (unsigned bit = 0; bit < 32; bit++) {
    unsigned flag = 1u << bit;
    if (flag & XCOPY_F_VALID)
      continue;
    h_result_poison (&f.res);
    CHECK_REFUSED (xcopy_copyv (&f.p, r, 1, flag, &f.res), &f.res, EINVAL,
                   SIZE_MAX);
    h_result_poison (&f.res);
    CHECK_REFUSED (xcopy_copyv (&f.p, r, 1, flag | XCOPY_F_FORCE_BOUNCE,
                                &f.res), &f.res, EINVAL, SIZE_MAX);
    h_result_poison (&f.res);
    CHECK_REFUSED (xcopy_fill (&f.p, 0, 4096, pat, 4, flag, &f.res), &f.res,
                   EINVAL, SIZE_MAX);
    h_result_poison (&f.res);
    CHECK_REFUSED (xcopy_zero (&f.p, 0, 4096, flag | XCOPY_F_MAY_TRIM,
                               &f.res), &f.res, EINVAL, SIZE_MAX);
    if (h_case_failures ()) {
      h_note ("... flag 0x%x", flag);
      break;
    }
  }
  fx_untouched (&f);
  fx_close (&f);
}

static void
validate_batch_size (void)
{
  /* XCOPY_MAX_RANGES empty ranges pass; one more is refused before a
   * single range is looked at.
   */
  size_t n = XCOPY_MAX_RANGES;
  struct xcopy_range *r = h_calloc ((n + 1) * sizeof *r);
  struct fx f;
  int ret;

  fx_open (&f);
  CHECK_OK (xcopy_copyv (&f.p, r, n, 0, &f.res), &f.res, n, 0);
  r[n].len = 1;
  r[n].src = SSIZE;            /* would be invalid if it were looked at */
  h_result_poison (&f.res);
  ret = xcopy_copyv (&f.p, r, n + 1, 0, &f.res);
  /* engine.h names no errno for an oversized batch: EINVAL or E2BIG. */
  CHECK (ret == -EINVAL || ret == -E2BIG);
  if (ret < 0)
    CHECK_REFUSED (ret, &f.res, -ret, SIZE_MAX);
  CHECK_REFUSED (xcopy_copyv (&f.p, r, SIZE_MAX, 0, &f.res), &f.res,
                 ret < 0 ? -ret : EINVAL, SIZE_MAX);
  fx_untouched (&f);
  free (r);
  fx_close (&f);
}

/* Refused because one side is not a regular file. */
static void
refuse_fds (int s, int d, const char *what)
{
  struct xcopy_range r[] = { { 0, 0, 0 }, { 0, 0, 1 } };
  unsigned char pat = 7;
  struct xcopy_pair p;
  struct xcopy_result res;
  int ret;
  unsigned before = h_case_failures ();

  xcopy_pair_init (&p, s, d, NULL);
  h_result_poison (&res);
  ret = xcopy_copyv (&p, r, 2, 0, &res);
  /* engine.h names no errno; EINVAL is what copy_file_range itself gives
   * for non-regular files.  EBADF for descriptors that are not open.
   */
  CHECK (ret == -EINVAL || ret == -EBADF || ret == -EISDIR);
  if (ret < 0)
    CHECK_REFUSED (ret, &res, -ret, SIZE_MAX);
  h_result_poison (&res);
  ret = xcopy_copyv (&p, r, 1, 0, &res);   /* even an empty range */
  CHECK (ret == -EINVAL || ret == -EBADF || ret == -EISDIR);
  if (d >= 0 && d == s) {
    h_result_poison (&res);
    ret = xcopy_fill (&p, 0, 1, &pat, 1, 0, &res);
    CHECK (ret == -EINVAL || ret == -EBADF || ret == -EISDIR);
    ret = xcopy_zero (&p, 0, 1, 0, &res);
    CHECK (ret == -EINVAL || ret == -EBADF || ret == -EISDIR);
    ret = xcopy_punch (&p, 0, 1, &res);
    CHECK (ret == -EINVAL || ret == -EBADF || ret == -EISDIR);
  }
  if (h_case_failures () != before)
    h_note ("... %s", what);
}

static void
validate_not_regular (void)
{
  int pfd[2], null, dir, reg = h_file (4096);

  SYS_OK (pipe (pfd));
  SYS_OK (null = open ("/dev/null", O_RDWR));
  SYS_OK (dir = open (h_dir (), O_RDONLY | O_DIRECTORY));
  refuse_fds (pfd[0], reg, "pipe as source");
  refuse_fds (reg, pfd[1], "pipe as destination");
  refuse_fds (null, reg, "/dev/null as source");
  refuse_fds (reg, null, "/dev/null as destination");
  refuse_fds (null, null, "/dev/null for fill and zero");
  refuse_fds (dir, reg, "directory as source");
  refuse_fds (reg, dir, "directory as destination");
  CHECK_U64 (h_ncalls (H_CFR) + h_ncalls (H_PWRITE) + h_ncalls (H_SPLICE_OUT),
             ==, 0);
  close (pfd[0]);
  close (pfd[1]);
  close (null);
  close (dir);
  h_close (reg);
}

static void
validate_bad_fd (void)
{
  int reg = h_file (4096), closed = h_file (4096);
  struct xcopy_range r[] = { { 0, 0, 1 } };
  struct xcopy_pair p;
  struct xcopy_result res;

  h_close (closed);
  xcopy_pair_init (&p, -1, reg, NULL);
  h_result_poison (&res);
  CHECK_REFUSED (xcopy_copyv (&p, r, 1, 0, &res), &res, EBADF, SIZE_MAX);
  xcopy_pair_init (&p, reg, closed, NULL);
  h_result_poison (&res);
  CHECK_REFUSED (xcopy_copyv (&p, r, 1, 0, &res), &res, EBADF, SIZE_MAX);
  h_close (reg);
}

/* A named scratch file opened with extra flags; unlinked at once. */
static int
reopen (const void *data, uint64_t len, int oflags)
{
  char path[4200];
  int fd, fd2;

  snprintf (path, sizeof path, "%s/xcopy-unit-reopen.XXXXXX", h_dir ());
  SYS_OK (fd = mkstemp (path));
  h_pwrite_all (fd, data, len, 0);
  fd2 = open (path, oflags);
  unlink (path);
  close (fd);
  SYS_OK (fd2);
  return fd2;
}

static void
validate_readonly_destination (void)
{
  unsigned char *src = h_random (64 * KiB, 3), *dst = h_random (64 * KiB, 4);
  int s = h_file_with (src, 64 * KiB), d = reopen (dst, 64 * KiB, O_RDONLY);
  struct xcopy_range r[] = { { 0, 0, 64 * KiB } };
  struct xcopy_pair p;
  struct xcopy_result res;
  unsigned char pat = 1;

  xcopy_pair_init (&p, s, d, NULL);
  h_result_poison (&res);
  CHECK_INT (xcopy_copyv (&p, r, 1, 0, &res), ==, -EBADF);
  CHECK_INT (res.error, ==, EBADF);
  CHECK_U64 (res.ranges_done, ==, 0);
  CHECK_U64 (res.bytes_done, ==, 0);
  CHECK_U64 (res.failed_done, ==, 0);
  CHECK_FILE (d, dst, 64 * KiB);
  xcopy_pair_init (&p, d, d, NULL);
  CHECK_INT (xcopy_fill (&p, 0, 4096, &pat, 1, 0, &res), ==, -EBADF);
  CHECK_FILE (d, dst, 64 * KiB);
  h_close (s);
  h_close (d);
  free (src);
  free (dst);
}

static void
validate_append_destination (void)
{
  /* O_APPEND makes pwrite ignore its offset and append: a copy must never
   * grow the file.  Either the engine refuses, leaving it untouched, or it
   * writes the right bytes in place.
   */
  unsigned char *src = h_random (64 * KiB, 5), *dst = h_random (64 * KiB, 6);
  unsigned char pat[2] = { 0xab, 0xcd };
  int s = h_file_with (src, 64 * KiB);
  int d = reopen (dst, 64 * KiB, O_RDWR | O_APPEND);
  struct xcopy_range r[] = { { 0, 4096, 8192 } };
  struct xcopy_pair p;
  struct xcopy_result res;
  int ret;

  for (size_t k = 0; k < 4; k++) {
    static const unsigned fl[] = {
      0, XCOPY_F_FORCE_CFR, XCOPY_F_FORCE_SPLICE, XCOPY_F_FORCE_BOUNCE,
    };
    xcopy_pair_init (&p, s, d, NULL);
    ret = xcopy_copyv (&p, r, 1, fl[k], &res);
    if (ret == 0)
      h_model_copyv (src, dst, r, 1);
    else
      CHECK_U64 (res.bytes_done, ==, 0);
    CHECK_FILE (d, dst, 64 * KiB);
    if (h_case_failures ()) {
      h_note ("... copy with flags 0x%x returned %d", fl[k], ret);
      break;
    }
  }
  xcopy_pair_init (&p, d, d, NULL);
  ret = xcopy_fill (&p, 10, 2000, pat, 2, 0, &res);
  if (ret == 0)
    for (size_t i = 0; i < 2000; i++)
      dst[10 + i] = pat[i % 2];
  CHECK_FILE (d, dst, 64 * KiB);
  ret = xcopy_zero (&p, 3, 5000, 0, &res);
  if (ret == 0)
    memset (dst + 3, 0, 5000);
  CHECK_FILE (d, dst, 64 * KiB);
  h_close (s);
  h_close (d);
  free (src);
  free (dst);
}

static void
validate_fill_refusals (void)
{
  unsigned char pat[4096];
  unsigned char *big = h_calloc (XCOPY_FILL_MAX_PATTERN + 1);
  struct fx f;

  memset (pat, 0x5c, sizeof pat);
  big[0] = 1;
  fx_open (&f);
  xcopy_pair_init (&f.p, f.d, f.d, NULL);
#define FILL_REFUSED(off, len, pattern, patlen, err)                     \
  do {                                                                  \
    h_result_poison (&f.res);                                           \
    CHECK_REFUSED (xcopy_fill (&f.p, (off), (len), (pattern), (patlen), \
                               0, &f.res), &f.res, (err),               \
                   (err) == EINVAL ? SIZE_MAX : 0);                     \
  } while (0)
  FILL_REFUSED (0, 4096, pat, 0, EINVAL);          /* empty pattern */
  FILL_REFUSED (0, 4097, pat, 512, EINVAL);        /* len % patlen */
  FILL_REFUSED (0, 1000, pat, 3, EINVAL);
  FILL_REFUSED (0, 2, pat, 4, EINVAL);             /* shorter than it */
  FILL_REFUSED (DSIZE - 511, 512, pat, 512, OUT_OF_RANGE);
  FILL_REFUSED (DSIZE + 1, 0, pat, 1, OUT_OF_RANGE);
  FILL_REFUSED (UINT64_MAX - 1, 4, pat, 2, OUT_OF_RANGE);  /* overflow */
  FILL_REFUSED ((uint64_t) INT64_MAX + 1, 2, pat, 2, OUT_OF_RANGE);
  FILL_REFUSED (0, UINT64_MAX - 0xfff, pat, 4096, OUT_OF_RANGE);
  h_result_poison (&f.res);
  CHECK_REFUSED (xcopy_zero (&f.p, DSIZE - 1, 2, 0, &f.res), &f.res,
                 OUT_OF_RANGE, 0);
  h_result_poison (&f.res);
  CHECK_REFUSED (xcopy_zero (&f.p, UINT64_MAX, 2, XCOPY_F_MAY_TRIM, &f.res),
                 &f.res, OUT_OF_RANGE, 0);
  h_result_poison (&f.res);
  CHECK_REFUSED (xcopy_punch (&f.p, 4096, DSIZE, &f.res), &f.res,
                 OUT_OF_RANGE, 0);
  h_result_poison (&f.res);
  CHECK_REFUSED (xcopy_punch (&f.p, 1, UINT64_MAX, &f.res), &f.res,
                 OUT_OF_RANGE, 0);
#undef FILL_REFUSED
  fx_untouched (&f);
  fx_close (&f);

  /* The pattern size limit, in a file big enough for either. */
  {
    uint64_t size = 4 * (XCOPY_FILL_MAX_PATTERN + 1);
    unsigned char *exp = h_calloc (size);
    int fd = h_file (size);
    struct xcopy_pair p;
    struct xcopy_result res;

    xcopy_pair_init (&p, fd, fd, NULL);
    h_result_poison (&res);
    CHECK_REFUSED (xcopy_fill (&p, 0, 2 * (XCOPY_FILL_MAX_PATTERN + 1), big,
                               XCOPY_FILL_MAX_PATTERN + 1, 0, &res), &res,
                   EINVAL, SIZE_MAX);
    CHECK_FILE (fd, exp, size);
    h_result_poison (&res);
    CHECK_OK (xcopy_fill (&p, 1, 2 * XCOPY_FILL_MAX_PATTERN, big,
                          XCOPY_FILL_MAX_PATTERN, 0, &res), &res, 1,
              2 * XCOPY_FILL_MAX_PATTERN);
    memcpy (exp + 1, big, XCOPY_FILL_MAX_PATTERN);
    memcpy (exp + 1 + XCOPY_FILL_MAX_PATTERN, big, XCOPY_FILL_MAX_PATTERN);
    CHECK_FILE (fd, exp, size);
    h_close (fd);
    free (exp);
  }
  free (big);
}

static void
validate_never_grows (void)
{
  /* Operations that end exactly at EOF leave the size alone. */
  unsigned char pat[3] = { 9, 8, 7 };
  uint64_t size = 3 * 100000;
  int s = h_file (size), d = h_file (size);
  struct xcopy_range r[] = { { 0, 0, size }, { 1, size - 7, 7 } };
  struct xcopy_pair p;
  struct xcopy_result res;

  xcopy_pair_init (&p, s, d, NULL);
  CHECK_OK (xcopy_copyv (&p, r, 2, 0, &res), &res, 2, size + 7);
  CHECK_U64 (h_size (d), ==, size);
  CHECK_OK (xcopy_copyv (&p, r, 2, XCOPY_F_ALLOCATE, &res), &res, 2, size + 7);
  CHECK_U64 (h_size (d), ==, size);
  xcopy_pair_init (&p, d, d, NULL);
  CHECK_OK (xcopy_fill (&p, 0, size, pat, 3, 0, &res), &res, 1, size);
  CHECK_U64 (h_size (d), ==, size);
  CHECK_OK (xcopy_zero (&p, 1, size - 1, XCOPY_F_MAY_TRIM, &res), &res, 1,
            size - 1);
  CHECK_U64 (h_size (d), ==, size);
  CHECK_OK (xcopy_zero (&p, 1, size - 1, 0, &res), &res, 1, size - 1);
  CHECK_U64 (h_size (d), ==, size);
  CHECK_U64 (h_size (s), ==, size);
  h_close (s);
  h_close (d);
}

static const struct h_test tests[] = {
  H_TEST (validate_src_bounds),
  H_TEST (validate_dst_bounds),
  H_TEST (validate_overflow),
  H_TEST (validate_first_offender),
  H_TEST (validate_flags),
  H_TEST (validate_batch_size),
  H_TEST (validate_not_regular),
  H_TEST (validate_bad_fd),
  H_TEST (validate_readonly_destination),
  H_TEST (validate_append_destination),
  H_TEST (validate_fill_refusals),
  H_TEST (validate_never_grows),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
