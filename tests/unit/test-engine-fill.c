/* xcopyd: engine tests — fill, zero and punch (WRITE SAME, UNMAP).
 *
 * An all-zero pattern goes down the zero ladder: punch (only with
 * XCOPY_F_MAY_TRIM), ZERO_RANGE, written zeroes (unless XCOPY_F_FAST_ZERO),
 * for any length (DESIGN.md invariant 7: finish it all).  A non-zero pattern
 * is written once and doubled; every byte is checked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* Check [off, off+len) of fd repeats pattern (from its first byte). */
static bool
check_pattern (int fd, uint64_t off, uint64_t len, const unsigned char *pat,
               size_t patlen)
{
  enum { CHUNK = 1 << 20 };
  unsigned char *buf = h_malloc (CHUNK);
  bool ok = true;

  for (uint64_t done = 0; done < len && ok; ) {
    size_t n = len - done < CHUNK ? (size_t) (len - done) : CHUNK;
    h_pread_all (fd, buf, n, off + done);
    for (size_t i = 0; i < n; i++)
      if (buf[i] != pat[(done + i) % patlen]) {
        h_fail (__FILE__, __LINE__, "fill wrong at %ju: 0x%02x, want 0x%02x "
                "(pattern of %zu at %ju)", (uintmax_t) (off + done + i),
                buf[i], pat[(done + i) % patlen], patlen, (uintmax_t) off);
        ok = false;
        break;
      }
    done += n;
  }
  free (buf);
  return ok;
}

static bool
check_zero (int fd, uint64_t off, uint64_t len)
{
  static const unsigned char z = 0;

  return check_pattern (fd, off, len, &z, 1);
}

/* The bytes around [off, off+len) are those of model. */
static void
check_outside (int fd, const unsigned char *model, uint64_t size,
               uint64_t off, uint64_t len)
{
  unsigned char *m = h_malloc (size);

  memcpy (m, model, size);
  h_pread_all (fd, m + off, len, off);   /* take the inside as it is */
  CHECK_FILE (fd, m, size);
  free (m);
}

struct fx {
  int fd;
  uint64_t size;
  unsigned char *model;
  struct xcopy_stats st;
  struct xcopy_pair p;
  struct xcopy_result res;
};

static void
fx_open (struct fx *f, uint64_t size, uint64_t seed)
{
  memset (f, 0, sizeof *f);
  f->size = size;
  f->model = h_random (size, seed);
  f->fd = h_file_with (f->model, size);
  xcopy_pair_init (&f->p, f->fd, f->fd, &f->st);
  h_result_poison (&f->res);
}

static void
fx_close (struct fx *f)
{
  h_close (f->fd);
  free (f->model);
}

/* ---- Zero ---- */

static void
zero_punch_with_trim (void)
{
  static const unsigned char zeroes[512];
  struct fx f;

  for (int how = 0; how < 3; how++) {
    int ret;
    fx_open (&f, 4 * MiB, 10 + how);
    h_inject_reset ();
    if (how == 0)
      ret = xcopy_zero (&f.p, 1 * MiB, 1 * MiB, XCOPY_F_MAY_TRIM, &f.res);
    else
      ret = xcopy_fill (&f.p, 1 * MiB, 1 * MiB, zeroes, how == 1 ? 1 : 512,
                        XCOPY_F_MAY_TRIM, &f.res);
    CHECK_OK (ret, &f.res, 1, 1 * MiB);
    CHECK (check_zero (f.fd, 1 * MiB, 1 * MiB));
    check_outside (f.fd, f.model, f.size, 1 * MiB, 1 * MiB);
    CHECK_U64 (h_bytes (&f.st, XCOPY_M_PUNCH), ==, 1 * MiB);
    CHECK_U64 (h_bytes_all (&f.st), ==, 1 * MiB);
    CHECK_U64 (h_ncalls (H_PWRITE) + h_ncalls (H_CFR), ==, 0);
    if (h_holes_work ())
      CHECK (h_is_hole (f.fd, 1 * MiB, 1 * MiB));
    fx_close (&f);
    if (h_case_failures ()) {
      h_note ("... %s", how ? "xcopy_fill with a zero pattern" : "xcopy_zero");
      break;
    }
  }
}

static void
zero_without_trim_keeps_allocation (void)
{
  struct fx f;
  uint64_t before;

  fx_open (&f, 4 * MiB, 20);
  SYS_OK (fsync (f.fd));
  before = h_allocated (f.fd);
  CHECK_OK (xcopy_zero (&f.p, 1 * MiB, 2 * MiB, 0, &f.res), &f.res, 1,
            2 * MiB);
  CHECK (check_zero (f.fd, 1 * MiB, 2 * MiB));
  check_outside (f.fd, f.model, f.size, 1 * MiB, 2 * MiB);
  CHECK_U64 (h_ncalls (H_PUNCH), ==, 0);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_PUNCH), ==, 0);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_ZERO_RANGE)
             + h_bytes (&f.st, XCOPY_M_WRITE_ZEROES), ==, 2 * MiB);
  CHECK_U64 (h_allocated (f.fd), >=, before);
  fx_close (&f);
}

static void
zero_written_when_nothing_else (void)
{
  for (int trim = 0; trim < 2; trim++) {
    struct fx f;
    unsigned fl = trim ? XCOPY_F_MAY_TRIM : 0;

    h_inject_reset ();
    h_fail_always (H_PUNCH, EOPNOTSUPP);
    h_fail_always (H_ZERO_RANGE, EOPNOTSUPP);
    fx_open (&f, 4 * MiB, 30 + trim);
    CHECK_OK (xcopy_zero (&f.p, 12345, 3 * MiB + 7, fl, &f.res), &f.res, 1,
              3 * MiB + 7);
    CHECK (check_zero (f.fd, 12345, 3 * MiB + 7));
    check_outside (f.fd, f.model, f.size, 12345, 3 * MiB + 7);
    CHECK_U64 (h_bytes (&f.st, XCOPY_M_WRITE_ZEROES), ==, 3 * MiB + 7);
    CHECK_U64 (h_bytes_all (&f.st), ==, 3 * MiB + 7);
    CHECK_U64 (h_nbytes (H_PWRITE), ==, 3 * MiB + 7);
    CHECK_U64 (atomic_load (&f.p.caps) & XCOPY_CAP_ZERO_RANGE, ==, 0);
    if (trim)
      CHECK_U64 (atomic_load (&f.p.caps) & XCOPY_CAP_PUNCH, ==, 0);
    /* Learnt: the next zero goes straight to writing. */
    {
      unsigned long p = h_ncalls (H_PUNCH), z = h_ncalls (H_ZERO_RANGE);
      CHECK_OK (xcopy_zero (&f.p, 0, 64 * KiB, fl, &f.res), &f.res, 1,
                64 * KiB);
      CHECK (check_zero (f.fd, 0, 64 * KiB));
      CHECK_U64 (h_ncalls (H_PUNCH), ==, p);
      CHECK_U64 (h_ncalls (H_ZERO_RANGE), ==, z);
    }
    if (h_case_failures ())
      h_note ("... %s", trim ? "with MAY_TRIM" : "without MAY_TRIM");
    fx_close (&f);
  }
}

static void
zero_fast_refuses_to_write (void)
{
  struct fx f;

  /* Nothing fast left: -EOPNOTSUPP, nothing written. */
  for (int trim = 0; trim < 2; trim++) {
    unsigned fl = XCOPY_F_FAST_ZERO | (trim ? XCOPY_F_MAY_TRIM : 0);
    h_inject_reset ();
    h_fail_always (H_PUNCH, EOPNOTSUPP);
    h_fail_always (H_ZERO_RANGE, EOPNOTSUPP);
    fx_open (&f, 1 * MiB, 40);
    for (int again = 0; again < 2; again++) {
      h_result_poison (&f.res);
      CHECK_INT (xcopy_zero (&f.p, 4096, 64 * KiB, fl, &f.res), ==,
                 -EOPNOTSUPP);
      CHECK_INT (f.res.error, ==, EOPNOTSUPP);
      CHECK_U64 (f.res.bytes_done, ==, 0);
      CHECK_U64 (f.res.failed_done, ==, 0);
      CHECK_U64 (f.res.ranges_done, ==, 0);
    }
    CHECK_U64 (h_ncalls (H_PWRITE) + h_ncalls (H_CFR), ==, 0);
    CHECK_FILE (f.fd, f.model, f.size);
    fx_close (&f);
  }

  /* Without MAY_TRIM, a working punch does not count as fast zero. */
  h_inject_reset ();
  h_fail_always (H_ZERO_RANGE, EOPNOTSUPP);
  fx_open (&f, 1 * MiB, 41);
  CHECK_INT (xcopy_zero (&f.p, 4096, 64 * KiB, XCOPY_F_FAST_ZERO, &f.res), ==,
             -EOPNOTSUPP);
  CHECK_FILE (f.fd, f.model, f.size);
  CHECK_U64 (h_ncalls (H_PUNCH), ==, 0);
  /* ... with it, it does. */
  CHECK_OK (xcopy_zero (&f.p, 4096, 64 * KiB,
                        XCOPY_F_FAST_ZERO | XCOPY_F_MAY_TRIM, &f.res), &f.res,
            1, 64 * KiB);
  CHECK (check_zero (f.fd, 4096, 64 * KiB));
  check_outside (f.fd, f.model, f.size, 4096, 64 * KiB);
  fx_close (&f);

  /* And ZERO_RANGE is fast, where the file system has it. */
  if (!h_zero_range_works ()) {
    h_note ("%s has no FALLOC_FL_ZERO_RANGE: fast zero without trim not "
            "checked", h_dir ());
    return;
  }
  h_inject_reset ();
  fx_open (&f, 1 * MiB, 42);
  CHECK_OK (xcopy_zero (&f.p, 0, 1 * MiB, XCOPY_F_FAST_ZERO, &f.res), &f.res,
            1, 1 * MiB);
  CHECK (check_zero (f.fd, 0, 1 * MiB));
  CHECK_U64 (h_ncalls (H_PWRITE), ==, 0);
  fx_close (&f);
}

static void
zero_unaligned (void)
{
  static const struct { uint64_t off, len; } cases[] = {
    { 1, 1 }, { 4095, 2 }, { 4097, 8190 }, { 12345, 1 * MiB + 3 },
    { 0, 4096 }, { 2 * MiB - 1, 1 },
  };

  for (int trim = 0; trim < 2; trim++)
    for (size_t i = 0; i < ARRAY_SIZE (cases); i++) {
      struct fx f;
      fx_open (&f, 2 * MiB, 50 + i);
      CHECK_OK (xcopy_zero (&f.p, cases[i].off, cases[i].len,
                            trim ? XCOPY_F_MAY_TRIM : 0, &f.res), &f.res, 1,
                cases[i].len);
      memset (f.model + cases[i].off, 0, cases[i].len);
      CHECK_FILE (f.fd, f.model, f.size);
      fx_close (&f);
      if (h_case_failures ()) {
        h_note ("... zero %ju+%ju%s", (uintmax_t) cases[i].off,
                (uintmax_t) cases[i].len, trim ? " with MAY_TRIM" : "");
        return;
      }
    }
}

/* A sparse file with a marker byte in every MiB. */
static int
marked_file (uint64_t size)
{
  int fd = h_file (size);

  for (uint64_t off = 0; off < size; off += 1 * MiB - 4097) {
    unsigned char b = 0x80 | (off >> 20);
    h_pwrite_all (fd, &b, 1, off);
  }
  return fd;
}

static void
zero_over_64_mib (void)
{
  /* nbdkit 1.32's own zero fallback stops at 64 MiB: the engine must finish
   * any length, by every rung.
   */
  uint64_t size = 130 * MiB + 5, off = 1, len = size - 2;

  for (int rung = 0; rung < 3; rung++) {
    int fd = marked_file (size);
    unsigned char last = 0x42;
    struct xcopy_stats st;
    struct xcopy_pair p;
    struct xcopy_result res;

    h_inject_reset ();
    if (rung >= 1)
      h_fail_always (H_PUNCH, EOPNOTSUPP);
    if (rung >= 2)
      h_fail_always (H_ZERO_RANGE, EOPNOTSUPP);
    h_pwrite_all (fd, &last, 1, size - 1);
    memset (&st, 0, sizeof st);
    xcopy_pair_init (&p, fd, fd, &st);
    CHECK_OK (xcopy_zero (&p, off, len, XCOPY_F_MAY_TRIM, &res), &res, 1, len);
    CHECK (check_zero (fd, off, len));
    CHECK_U64 (h_bytes_all (&st), ==, len);
    {
      unsigned char b[1];
      h_pread_all (fd, b, 1, 0);
      CHECK_INT (b[0], ==, 0x80);
      h_pread_all (fd, b, 1, size - 1);
      CHECK_INT (b[0], ==, 0x42);
    }
    CHECK_U64 (h_size (fd), ==, size);
    if (h_case_failures ()) {
      h_note ("... rung %d", rung);
      h_print_stats ("counters", &st);
      h_close (fd);
      return;
    }
    h_close (fd);
  }
}

static void
zero_failure_progress (void)
{
  /* ENOSPC while writing zeroes: exact progress, the rest untouched. */
  struct fx f;
  uint64_t off = 1000, len = 3 * MiB;

  h_fail_always (H_PUNCH, EOPNOTSUPP);
  h_fail_always (H_ZERO_RANGE, EOPNOTSUPP);
  h_write_budget (1 * MiB + 777, ENOSPC);
  fx_open (&f, 4 * MiB, 60);
  CHECK_INT (xcopy_zero (&f.p, off, len, 0, &f.res), ==, -ENOSPC);
  CHECK_INT (f.res.error, ==, ENOSPC);
  CHECK_U64 (f.res.ranges_done, ==, 0);
  CHECK_U64 (f.res.failed_index, ==, 0);
  CHECK_U64 (f.res.bytes_done, ==, 1 * MiB + 777);
  CHECK_U64 (f.res.failed_done, ==, 1 * MiB + 777);
  memset (f.model + off, 0, 1 * MiB + 777);
  CHECK_FILE (f.fd, f.model, f.size);
  fx_close (&f);
}

/* ---- Non-zero patterns ---- */

static void
fill_case (size_t patlen, uint64_t off, uint64_t reps, unsigned flags,
           uint64_t seed)
{
  uint64_t len = patlen * reps, size = off + len + 4099;
  unsigned char *pat = h_random (patlen, seed);
  unsigned before = h_case_failures ();
  struct fx f;

  pat[0] |= 1;                  /* never all zero */
  fx_open (&f, size, seed + 1);
  h_inject_reset ();
  CHECK_OK (xcopy_fill (&f.p, off, len, pat, patlen, flags, &f.res), &f.res,
            1, len);
  CHECK (check_pattern (f.fd, off, len, pat, patlen));
  check_outside (f.fd, f.model, f.size, off, len);
  /* Every byte written once, by some method. */
  CHECK_U64 (h_bytes_all (&f.st), ==, len);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_FILL_WRITE), >=, patlen);
  if (h_case_failures () != before) {
    h_note ("... pattern of %zu x %ju at %ju", patlen, (uintmax_t) reps,
            (uintmax_t) off);
    h_print_stats ("counters", &f.st);
  }
  free (pat);
  fx_close (&f);
}

static void
fill_patterns (void)
{
  static const size_t patlens[] = { 1, 2, 3, 7, 512, 4096, 65536 };
  static const uint64_t reps[] = { 1, 2, 3, 1000, 12345 };

  for (size_t i = 0; i < ARRAY_SIZE (patlens); i++)
    for (size_t j = 0; j < ARRAY_SIZE (reps); j++) {
      if (patlens[i] * reps[j] > 32 * MiB)
        continue;
      fill_case (patlens[i], 4096 * j + i, reps[j], 0, 100 + i * 10 + j);
    }
}

static void
fill_large_unaligned (void)
{
  fill_case (512, 12345, 24 * MiB / 512 + 3, 0, 200);
  fill_case (4096, 1, 16 * MiB / 4096, 0, 201);
  fill_case (1, 3, 20 * MiB + 1, 0, 202);
  fill_case (3, 5, 7 * MiB, 0, 203);
}

static void
fill_doubles (void)
{
  /* 32 MiB from one 512-byte pattern: a seed written with pwrite, then
   * doubled with copy_file_range in log2 steps.  How big the seed is, is
   * the engine's business; the bulk must be doubled, not written.
   */
  uint64_t len = 32 * MiB;
  unsigned char pat[512];
  struct fx f;

  h_fill_random (pat, sizeof pat, 300);
  fx_open (&f, len, 301);
  h_inject_reset ();
  CHECK_OK (xcopy_fill (&f.p, 0, len, pat, sizeof pat, 0, &f.res), &f.res, 1,
            len);
  CHECK (check_pattern (f.fd, 0, len, pat, sizeof pat));
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_FILL_WRITE), <=, len / 4);
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_CFR) + h_bytes (&f.st, XCOPY_M_REFLINK),
             >=, len - len / 4);
  CHECK_U64 (h_ncalls (H_CFR) + h_ncalls (H_CLONE), <=, 64);
  CHECK_U64 (h_ncalls (H_PWRITE), <=, 64);
  fx_close (&f);
}

static void
fill_without_copy_file_range (void)
{
  static const int errs[] = { EOPNOTSUPP, EXDEV, ENOSYS };

  for (size_t i = 0; i < ARRAY_SIZE (errs); i++) {
    uint64_t off = 333, len = 5 * MiB + 512 * 7;
    unsigned char pat[512];
    struct fx f;

    h_fill_random (pat, sizeof pat, 400 + i);
    fx_open (&f, 6 * MiB, 410 + i);
    h_inject_reset ();
    h_fail_always (H_CFR, errs[i]);
    h_fail_always (H_CLONE, EOPNOTSUPP);
    CHECK_OK (xcopy_fill (&f.p, off, len, pat, sizeof pat, 0, &f.res), &f.res,
              1, len);
    CHECK (check_pattern (f.fd, off, len, pat, sizeof pat));
    check_outside (f.fd, f.model, f.size, off, len);
    CHECK_U64 (h_bytes (&f.st, XCOPY_M_CFR), ==, 0);
    CHECK_U64 (h_bytes_all (&f.st), ==, len);
    if (h_case_failures ()) {
      h_note ("... copy_file_range failing with %s", strerror (errs[i]));
      h_print_stats ("counters", &f.st);
      fx_close (&f);
      return;
    }
    fx_close (&f);
  }
}

static void
fill_mostly_zero_pattern (void)
{
  /* Zero bytes in a pattern that is not all zero: written, not punched. */
  unsigned char pat[4] = { 0, 0, 0, 1 };

  fill_case (4, 4096, 1 * MiB / 4, XCOPY_F_MAY_TRIM, 500);
  {
    struct fx f;
    fx_open (&f, 2 * MiB, 501);
    CHECK_OK (xcopy_fill (&f.p, 0, 2 * MiB, pat, 4, XCOPY_F_MAY_TRIM, &f.res),
              &f.res, 1, 2 * MiB);
    CHECK (check_pattern (f.fd, 0, 2 * MiB, pat, 4));
    CHECK_U64 (h_ncalls (H_PUNCH) + h_ncalls (H_ZERO_RANGE), ==, 0);
    fx_close (&f);
  }
}

static void
fill_into_holes (void)
{
  uint64_t size = 8 * MiB;
  unsigned char pat[7] = { 1, 2, 3, 4, 5, 6, 7 };
  int fd = h_file (size);
  struct xcopy_pair p;
  struct xcopy_result res;

  xcopy_pair_init (&p, fd, fd, NULL);
  CHECK_OK (xcopy_fill (&p, 1 * MiB + 1, 7 * 100000, pat, 7, 0, &res), &res, 1,
            700000);
  CHECK (check_pattern (fd, 1 * MiB + 1, 700000, pat, 7));
  CHECK (check_zero (fd, 0, 1 * MiB + 1));
  CHECK (check_zero (fd, 1 * MiB + 1 + 700000, size - 1 * MiB - 1 - 700000));
  h_close (fd);
}

static void
fill_failure_progress (void)
{
  /* ENOSPC part-way: the bytes reported are a filled prefix, the rest
   * untouched.
   */
  static const unsigned flags[] = { 0 };
  unsigned char pat[512];

  h_fill_random (pat, sizeof pat, 600);
  pat[0] |= 1;
  for (int which = 0; which < 2; which++) {
    uint64_t off = 4096 + 3, len = 8 * MiB;
    struct fx f;
    int ret;

    fx_open (&f, 9 * MiB, 601);
    h_inject_reset ();
    if (which)
      h_fail_always (H_CFR, EOPNOTSUPP);
    h_write_budget (3 * MiB + 5, ENOSPC);
    ret = xcopy_fill (&f.p, off, len, pat, sizeof pat, flags[0], &f.res);
    CHECK_INT (ret, ==, -ENOSPC);
    CHECK_INT (f.res.error, ==, ENOSPC);
    CHECK_U64 (f.res.ranges_done, ==, 0);
    CHECK_U64 (f.res.failed_index, ==, 0);
    CHECK_U64 (f.res.bytes_done, ==, h_written ());
    CHECK_U64 (f.res.failed_done, ==, f.res.bytes_done);
    CHECK_U64 (f.res.bytes_done, <=, 3 * MiB + 5);
    CHECK (check_pattern (f.fd, off, f.res.bytes_done, pat, sizeof pat));
    check_outside (f.fd, f.model, f.size, off, f.res.bytes_done);
    if (h_case_failures ()) {
      h_note ("... %s", which ? "pwrite only" : "doubling");
      fx_close (&f);
      return;
    }
    fx_close (&f);
  }
}

static void
fill_two_file_pair (void)
{
  /* Fill, zero and punch act on the pair's destination only. */
  unsigned char *a = h_random (1 * MiB, 700), *b = h_random (1 * MiB, 701);
  int s = h_file_with (a, 1 * MiB), d = h_file_with (b, 1 * MiB);
  unsigned char pat[2] = { 0x11, 0x22 };
  struct xcopy_pair p;
  struct xcopy_result res;

  xcopy_pair_init (&p, s, d, NULL);
  CHECK_OK (xcopy_fill (&p, 0, 4096, pat, 2, 0, &res), &res, 1, 4096);
  CHECK_OK (xcopy_zero (&p, 8192, 8192, 0, &res), &res, 1, 8192);
  CHECK_OK (xcopy_zero (&p, 65536, 65536, XCOPY_F_MAY_TRIM, &res), &res, 1,
            65536);
  for (size_t i = 0; i < 4096; i++)
    b[i] = pat[i % 2];
  memset (b + 8192, 0, 8192);
  memset (b + 65536, 0, 65536);
  CHECK_FILE (s, a, 1 * MiB);
  CHECK_FILE (d, b, 1 * MiB);
  h_close (s);
  h_close (d);
  free (a);
  free (b);
}

/* ---- Punch ---- */

static void
punch_basic (void)
{
  struct fx f;

  fx_open (&f, 4 * MiB, 800);
  CHECK_OK (xcopy_punch (&f.p, 1 * MiB, 1 * MiB, &f.res), &f.res, 1, 1 * MiB);
  memset (f.model + 1 * MiB, 0, 1 * MiB);
  CHECK_FILE (f.fd, f.model, f.size);
  if (h_holes_work ())
    CHECK (h_is_hole (f.fd, 1 * MiB, 1 * MiB));
  CHECK_U64 (h_bytes (&f.st, XCOPY_M_PUNCH), ==, 1 * MiB);

  /* Unaligned: still reads as zeroes everywhere it was asked to. */
  CHECK_OK (xcopy_punch (&f.p, 3 * MiB - 5, 100003, &f.res), &f.res, 1,
            100003);
  memset (f.model + 3 * MiB - 5, 0, 100003);
  CHECK_FILE (f.fd, f.model, f.size);
  fx_close (&f);
}

static void
punch_unsupported (void)
{
  struct fx f;

  h_fail_always (H_PUNCH, EOPNOTSUPP);
  fx_open (&f, 1 * MiB, 810);
  h_result_poison (&f.res);
  CHECK_INT (xcopy_punch (&f.p, 0, 64 * KiB, &f.res), ==, -EOPNOTSUPP);
  CHECK_INT (f.res.error, ==, EOPNOTSUPP);
  CHECK_U64 (f.res.bytes_done, ==, 0);
  CHECK_FILE (f.fd, f.model, f.size);
  CHECK_U64 (h_ncalls (H_PWRITE) + h_ncalls (H_ZERO_RANGE), ==, 0);
  fx_close (&f);
}

static void
zero_length_operations (void)
{
  /* len 0 is a no-op everywhere, even at the very end of the file. */
  unsigned char pat[3] = { 1, 2, 3 };
  struct fx f;

  fx_open (&f, 64 * KiB, 900);
  CHECK_OK (xcopy_fill (&f.p, 100, 0, pat, 3, 0, &f.res), &f.res, 1, 0);
  CHECK_OK (xcopy_fill (&f.p, f.size, 0, pat, 3, 0, &f.res), &f.res, 1, 0);
  CHECK_OK (xcopy_zero (&f.p, 5, 0, XCOPY_F_MAY_TRIM, &f.res), &f.res, 1, 0);
  CHECK_OK (xcopy_zero (&f.p, f.size, 0, 0, &f.res), &f.res, 1, 0);
  CHECK_OK (xcopy_punch (&f.p, 4096, 0, &f.res), &f.res, 1, 0);
  CHECK_FILE (f.fd, f.model, f.size);
  CHECK_U64 (h_ncalls (H_PWRITE) + h_ncalls (H_CFR) + h_ncalls (H_PUNCH)
             + h_ncalls (H_ZERO_RANGE), ==, 0);
  fx_close (&f);
}

static const struct h_test tests[] = {
  H_TEST (zero_punch_with_trim),
  H_TEST (zero_without_trim_keeps_allocation),
  H_TEST (zero_written_when_nothing_else),
  H_TEST (zero_fast_refuses_to_write),
  H_TEST (zero_unaligned),
  H_TEST (zero_over_64_mib),
  H_TEST (zero_failure_progress),
  H_TEST (fill_patterns),
  H_TEST (fill_large_unaligned),
  H_TEST (fill_doubles),
  H_TEST (fill_without_copy_file_range),
  H_TEST (fill_mostly_zero_pattern),
  H_TEST (fill_into_holes),
  H_TEST (fill_failure_progress),
  H_TEST (fill_two_file_pair),
  H_TEST (punch_basic),
  H_TEST (punch_unsupported),
  H_TEST (zero_length_operations),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
