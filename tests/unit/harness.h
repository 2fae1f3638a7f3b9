/* xcopyd: a small harness for the C unit tests.
 *
 * A test file lists its cases in a table and hands it to h_main():
 *
 *   static const struct h_test tests[] = {
 *     H_TEST (copy_basic),
 *     ...
 *   };
 *   int main (int argc, char **argv) { return H_MAIN (argc, argv, tests); }
 *
 * Every case runs with a fresh xcopy_sys whose members are counting
 * wrappers (see "System-call injection" below), under an alarm, and with
 * the real table restored afterwards.  CHECK_* report and carry on;
 * REQUIRE_* end the case.  Exit status: 0 when every case passed or
 * skipped (and at least one passed), 77 when all were skipped, 1 otherwise.
 * Naming cases on the command line runs only those.
 */
#ifndef XCOPY_TEST_HARNESS_H
#define XCOPY_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "xcopy/engine.h"
#include "xcopy/range.h"
#include "sys.h"

#define KiB (UINT64_C (1) << 10)
#define MiB (UINT64_C (1) << 20)
#define GiB (UINT64_C (1) << 30)

#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

/* ---- Test registry ---- */

struct h_test {
  const char *name;
  void (*fn) (void);
  unsigned timeout;               /* seconds; 0: the default (30) */
};

#define H_TEST(fn) { #fn, fn, 0 }
#define H_TEST_T(fn, secs) { #fn, fn, secs }
#define H_MAIN(argc, argv, tests) \
  h_main ((argc), (argv), (tests), ARRAY_SIZE (tests))

int h_main (int argc, char **argv, const struct h_test *tests, size_t n);

/* ---- Assertions ---- */

void h_fail (const char *file, int line, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));
_Noreturn void h_abort_case (void);
_Noreturn void h_skip (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));
void h_note (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
/* Failures so far in the running case. */
unsigned h_case_failures (void);

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond))                                                        \
      h_fail (__FILE__, __LINE__, "CHECK (%s)", #cond);                 \
  } while (0)

#define REQUIRE(cond)                                                   \
  do {                                                                  \
    if (!(cond)) {                                                      \
      h_fail (__FILE__, __LINE__, "REQUIRE (%s)", #cond);               \
      h_abort_case ();                                                  \
    }                                                                   \
  } while (0)

/* Integer comparisons that print both sides. */
#define CHECK_OP_(a, op, b, fatal)                                      \
  do {                                                                  \
    intmax_t a_ = (intmax_t) (a), b_ = (intmax_t) (b);                  \
    if (!(a_ op b_)) {                                                  \
      h_fail (__FILE__, __LINE__, "%s %s %s: %jd vs %jd",               \
              #a, #op, #b, a_, b_);                                     \
      if (fatal)                                                        \
        h_abort_case ();                                                \
    }                                                                   \
  } while (0)
#define CHECK_U_(a, op, b, fatal)                                       \
  do {                                                                  \
    uintmax_t a_ = (uintmax_t) (a), b_ = (uintmax_t) (b);               \
    if (!(a_ op b_)) {                                                  \
      h_fail (__FILE__, __LINE__, "%s %s %s: %ju vs %ju",               \
              #a, #op, #b, a_, b_);                                     \
      if (fatal)                                                        \
        h_abort_case ();                                                \
    }                                                                   \
  } while (0)

#define CHECK_INT(a, op, b)   CHECK_OP_ (a, op, b, 0)
#define REQUIRE_INT(a, op, b) CHECK_OP_ (a, op, b, 1)
#define CHECK_U64(a, op, b)   CHECK_U_ (a, op, b, 0)
#define REQUIRE_U64(a, op, b) CHECK_U_ (a, op, b, 1)

/* A system call made by the test itself (not the engine) must work. */
#define SYS_OK(expr)                                                    \
  do {                                                                  \
    if ((expr) == -1) {                                                 \
      h_fail (__FILE__, __LINE__, "%s: %m", #expr);                     \
      h_abort_case ();                                                  \
    }                                                                   \
  } while (0)

/* Compare the whole of fd with expected[0, len) and its size with len. */
#define CHECK_FILE(fd, expected, len) \
  h_check_file (__FILE__, __LINE__, (fd), (expected), (len))
bool h_check_file (const char *file, int line, int fd,
                   const unsigned char *expected, uint64_t len);

/* Check an engine result against the expected outcome of a call. */
#define CHECK_OK(ret, res, count, bytes) \
  h_check_ok (__FILE__, __LINE__, (ret), (res), (count), (bytes))
void h_check_ok (const char *file, int line, int ret,
                 const struct xcopy_result *res, size_t count,
                 uint64_t bytes);

/* A refused call: ret == -err, res->error == err, failed_index == index,
 * nothing done.
 */
#define CHECK_REFUSED(ret, res, err, index) \
  h_check_refused (__FILE__, __LINE__, (ret), (res), (err), (index))
void h_check_refused (const char *file, int line, int ret,
                      const struct xcopy_result *res, int err, size_t index);

/* A result poisoned with values no engine would leave by accident. */
void h_result_poison (struct xcopy_result *res);

/* ---- Scratch files ---- */

/* The scratch directory: $XCOPY_TEST_DIR, else $TMPDIR, else /tmp. */
const char *h_dir (void);
void h_set_dir (const char *dir);

/* An anonymous (already unlinked) scratch file of size bytes, sparse. */
int h_file (uint64_t size);
/* ... holding data[0, len). */
int h_file_with (const void *data, uint64_t len);
void h_close (int fd);

/* Deterministic pseudo-random bytes: the same (seed, pos) give the same
 * byte, different seeds give different streams.
 */
void h_fill_random (void *buf, size_t len, uint64_t seed);
unsigned char *h_random (size_t len, uint64_t seed);   /* malloc'd */
void *h_malloc (size_t len);                           /* never NULL */
void *h_calloc (size_t len);

void h_pwrite_all (int fd, const void *buf, size_t len, uint64_t off);
void h_pread_all (int fd, void *buf, size_t len, uint64_t off);
unsigned char *h_read_file (int fd, uint64_t *len);    /* malloc'd */
uint64_t h_size (int fd);
uint64_t h_allocated (int fd);                          /* st_blocks * 512 */
void h_punch (int fd, uint64_t off, uint64_t len);

/* Whether the scratch file system punches holes and reports them with
 * SEEK_HOLE at block granularity (probed once).
 */
bool h_holes_work (void);
/* Whether it supports FALLOC_FL_ZERO_RANGE (tmpfs does not). */
bool h_zero_range_works (void);
/* No data anywhere in [off, off+len) / all of it data (SEEK_DATA/HOLE). */
bool h_is_hole (int fd, uint64_t off, uint64_t len);
bool h_is_data (int fd, uint64_t off, uint64_t len);

/* ---- In-memory model ---- */

/* Apply ranges [0, n) in order, as memmove, to bytes src/dst (the same
 * buffer for a copy within one file).
 */
void h_model_copyv (const unsigned char *src, unsigned char *dst,
                    const struct xcopy_range *r, size_t n);
/* Apply what res says was done: ranges [0, ranges_done), then failed_done
 * bytes of the next (its tail with XCOPY_RESULT_BACKWARD).
 */
void h_model_partial (const unsigned char *src, unsigned char *dst,
                      const struct xcopy_range *r, size_t n,
                      const struct xcopy_result *res);

/* Copy ranges [0, n) between two fresh files of random bytes (or within
 * one file when same), then check: success with exact result fields, the
 * destination equal to the model byte for byte, the source untouched, no
 * file grown.  Counters land in *stats when given.  Returns false on a
 * failed check.
 */
#define CHECK_COPY(same, src_size, dst_size, r, n, flags, stats)         \
  h_copy_model (__FILE__, __LINE__, (same), (src_size), (dst_size), (r), \
                (n), (flags), (stats))
bool h_copy_model (const char *file, int line, bool same, uint64_t src_size,
                   uint64_t dst_size, const struct xcopy_range *r, size_t n,
                   unsigned flags, struct xcopy_stats *stats);

/* The number of bytes a batch moves. */
uint64_t h_sum_len (const struct xcopy_range *r, size_t n);

/* Files this process has open (to catch leaked pipes). */
int h_open_fds (void);

/* ---- Counters ---- */

/* Bytes / calls counted by the engine for method m. */
uint64_t h_bytes (const struct xcopy_stats *s, enum xcopy_method m);
uint64_t h_calls (const struct xcopy_stats *s, enum xcopy_method m);
/* Sum of bytes over all methods / over the four that move data
 * (reflink, copy_file_range, splice, bounce).
 */
uint64_t h_bytes_all (const struct xcopy_stats *s);
uint64_t h_bytes_copied (const struct xcopy_stats *s);
void h_print_stats (const char *what, const struct xcopy_stats *s);

/* ---- System-call injection ----
 *
 * Before each case, xcopy_sys is filled with wrappers that count every call
 * the engine makes (per kind below), log its arguments, apply faults, and
 * forward to h_next (a copy of the real table, which a case may replace
 * member by member, e.g. with a fake clone_range).
 */
enum h_kind {
  H_CFR,           /* copy_file_range */
  H_CLONE,         /* clone_range (FICLONERANGE) */
  H_SPLICE_IN,     /* splice file -> pipe (off_in given) */
  H_SPLICE_OUT,    /* splice pipe -> file (off_out given) */
  H_PREAD,
  H_PWRITE,
  H_PUNCH,         /* fallocate with FALLOC_FL_PUNCH_HOLE */
  H_ZERO_RANGE,    /* fallocate with FALLOC_FL_ZERO_RANGE */
  H_ALLOC,         /* any other fallocate */
  H_LSEEK,
  H_FSTAT,
  H_FDATASYNC,
  H__KINDS
};

extern struct xcopy_sys h_next;

struct h_fault {
  int err;                    /* errno of a faulty call */
  bool ret0;                  /* a faulty call returns 0 instead */
  unsigned long after_calls;  /* calls let through before the fault arms */
  bool by_bytes;              /* arm only once after_bytes have passed; */
  uint64_t after_bytes;       /*   the call crossing it is shortened */
  unsigned long times;        /* faulty calls, then disarm; 0: forever */
  size_t max_len;             /* every call: at most this many bytes */
};
void h_fault (enum h_kind k, const struct h_fault *f);
/* Shorthand: every call of kind k fails with err. */
void h_fail_always (enum h_kind k, int err);

/* One budget shared by every call that writes file data (copy_file_range,
 * clone, splice into a file, pwrite): once `bytes` have been written, all of
 * them fail with err; the call that crosses is shortened (clone, being
 * all-or-nothing, fails).  Method-agnostic ENOSPC/EIO mid-copy.
 */
void h_write_budget (uint64_t bytes, int err);
/* The same, but the call that would cross the budget fails whole (writes
 * nothing), so progress lands on call boundaries.
 */
void h_write_budget_whole (uint64_t bytes, int err);
/* Bytes written by those calls since the budget was set. */
uint64_t h_written (void);

struct h_call {
  int fd_in, fd_out;
  int64_t off_in, off_out;    /* -1 when not given */
  uint64_t len;
  int64_t ret;                /* -errno on failure */
  int mode;                   /* fallocate mode, lseek whence */
};

/* Calls (including failed ones) and bytes returned, per kind. */
unsigned long h_ncalls (enum h_kind k);
uint64_t h_nbytes (enum h_kind k);
/* The i-th logged call of kind k (the first H_LOG_MAX are logged). */
#define H_LOG_MAX 4096
const struct h_call *h_log (enum h_kind k, unsigned long i);
/* Calls of kind k that failed / returned 0. */
unsigned long h_nfailed (enum h_kind k);

/* Reset counters, logs and faults (done before every case). */
void h_inject_reset (void);

/* ---- FIEMAP ---- */

/* Bytes of [off, off+len) in extents flagged FIEMAP_EXTENT_SHARED, and
 * in any extent at all.  -1 when FIEMAP is not supported.
 */
int64_t h_fiemap_shared (int fd, uint64_t off, uint64_t len,
                         int64_t *mapped);

#endif /* XCOPY_TEST_HARNESS_H */
