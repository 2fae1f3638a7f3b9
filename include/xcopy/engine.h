/* xcopyd: the range-copy engine.
 *
 * Every copy, fill, zero and unmap in xcopyd ends here.  The engine turns a
 * batch of struct xcopy_range into copy_file_range(2) and friends, walking a
 * fallback ladder that is decided once per file pair:
 *
 *   FICLONERANGE (reflink) -> copy_file_range -> splice -> pread/pwrite
 *
 * Conventions: functions return 0 or -errno.  A struct xcopy_result, when
 * given, always says exactly how far an operation got.  Nothing is written
 * beyond the point the result reports.
 *
 * Threads: a struct xcopy_pair may be shared by threads; capability bits
 * and counters are atomic.  The engine takes no locks on file ranges: callers
 * that run operations concurrently on overlapping ranges serialise them.
 */
#ifndef XCOPY_ENGINE_H
#define XCOPY_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

#include "xcopy/range.h"

/* How bytes got moved.  Counters are kept per method. */
enum xcopy_method {
  XCOPY_M_REFLINK,       /* FICLONERANGE: blocks shared, no data moved */
  XCOPY_M_CFR,           /* copy_file_range(2): reflink, server-side or in-kernel */
  XCOPY_M_SPLICE,        /* splice(2) through a pipe: no user-space buffer */
  XCOPY_M_BOUNCE,        /* pread/pwrite through a buffer */
  XCOPY_M_PUNCH,         /* FALLOC_FL_PUNCH_HOLE */
  XCOPY_M_ZERO_RANGE,    /* FALLOC_FL_ZERO_RANGE */
  XCOPY_M_WRITE_ZEROES,  /* zeroes written with pwrite */
  XCOPY_M_FILL_WRITE,    /* a fill pattern written with pwrite */
  XCOPY_M__COUNT
};

const char *xcopy_method_name (enum xcopy_method m);

struct xcopy_stats {
  _Atomic uint64_t bytes[XCOPY_M__COUNT];
  _Atomic uint64_t calls[XCOPY_M__COUNT];
};

/* A plain snapshot of the counters, for printing and comparing. */
struct xcopy_stats_snapshot {
  uint64_t bytes[XCOPY_M__COUNT];
  uint64_t calls[XCOPY_M__COUNT];
};

void xcopy_stats_snapshot (const struct xcopy_stats *s,
                           struct xcopy_stats_snapshot *out);

/* Capability bits of a file pair: set means "worth trying".  Cleared the
 * first time the kernel answers "not here" with no progress made.
 */
#define XCOPY_CAP_REFLINK     (1u << 0)
#define XCOPY_CAP_CFR         (1u << 1)
#define XCOPY_CAP_SPLICE      (1u << 2)
#define XCOPY_CAP_PUNCH       (1u << 3)
#define XCOPY_CAP_ZERO_RANGE  (1u << 4)
#define XCOPY_CAP_ALL         0x1fu

/* A source and destination file and what the engine has learnt about them.
 * For fills, zeroes and copies within one file, src_fd == dst_fd.
 */
struct xcopy_pair {
  int src_fd;
  int dst_fd;
  _Atomic unsigned caps;
  struct xcopy_stats *stats;    /* may be NULL */
  /* Filled in by xcopy_pair_pin; otherwise learnt afresh on every call. */
  bool pinned;
  bool same_file;
  uint64_t src_size, dst_size, blksize;
};

void xcopy_pair_init (struct xcopy_pair *p, int src_fd, int dst_fd,
                      struct xcopy_stats *stats);

/* Check both files once (regular files, destination not O_APPEND) and
 * remember their sizes, so calls need no fstat/fcntl of their own.  The
 * caller promises that neither file changes size while the pair is pinned:
 * true of exports, whose size NBD fixes for the life of a connection.  A
 * reflink of 1 GiB takes ~10 us, so four system calls per call are a
 * third of its cost.  Returns 0, or -errno as xcopy_copyv would refuse.
 */
int xcopy_pair_pin (struct xcopy_pair *p);

/* Operation flags.  Unknown bits are refused with -EINVAL. */
#define XCOPY_F_ALLOCATE    (1u << 0) /* copy: source holes become allocated zeroes */
#define XCOPY_F_MAY_TRIM    (1u << 1) /* zero/fill: all-zero may become a hole */
#define XCOPY_F_NO_REFLINK  (1u << 2) /* skip the FICLONERANGE rung */
#define XCOPY_F_NO_CFR      (1u << 3) /* skip the copy_file_range rung */
#define XCOPY_F_NO_SPLICE   (1u << 4) /* skip the splice rung */
#define XCOPY_F_SYNC        (1u << 5) /* fdatasync the destination when done */
#define XCOPY_F_FAST_ZERO   (1u << 6) /* zero: fail with -EOPNOTSUPP rather than write zeroes */
#define XCOPY_F_VALID       0x7fu

/* Convenience: start the ladder at a given rung (tests, benchmarks). */
#define XCOPY_F_FORCE_CFR     XCOPY_F_NO_REFLINK
#define XCOPY_F_FORCE_SPLICE  (XCOPY_F_NO_REFLINK | XCOPY_F_NO_CFR)
#define XCOPY_F_FORCE_BOUNCE  (XCOPY_F_NO_REFLINK | XCOPY_F_NO_CFR | XCOPY_F_NO_SPLICE)

/* Set in xcopy_result.flags when the failed range was being copied from its
 * end towards its start (same file, dst > src, overlapping): its done bytes
 * are then the last failed_done bytes of the range, and the chunk just below
 * them (at most dst - src bytes) may hold partly copied data.
 */
#define XCOPY_RESULT_BACKWARD (1u << 0)

/* Exact progress.  On success: error == 0, ranges_done == count,
 * bytes_done == sum of lengths, failed_index == SIZE_MAX.  On failure:
 * failed_index == ranges_done, ranges [0, ranges_done) are complete, that
 * range got failed_done bytes, nothing after it was touched, error is the
 * positive errno.  Validation failures touch nothing
 * and set failed_index to the offending range (or SIZE_MAX when the batch as
 * a whole is refused).
 */
struct xcopy_result {
  uint64_t bytes_done;
  size_t ranges_done;
  uint64_t failed_done;
  size_t failed_index;
  int error;
  unsigned flags;
};

/* Control of a long-running copy shared with another thread: the job
 * runner sets cancel; the engine publishes bytes done as it goes and stops
 * at the next piece boundary (a range boundary, or every
 * XCOPY_CTL_PIECE bytes inside a long range) with -ECANCELED and exact
 * progress in the result.
 */
struct xcopy_ctl {
  _Atomic bool cancel;
  _Atomic uint64_t bytes_done;
};

#define XCOPY_CTL_PIECE (UINT64_C (64) << 20)

/* Largest fill pattern, in bytes. */
#define XCOPY_FILL_MAX_PATTERN (1u << 20)

/* Copy a batch of ranges from p->src_fd to p->dst_fd, in order, with
 * memmove semantics within each range, holes preserved (unless
 * XCOPY_F_ALLOCATE).  Adjacent ranges are coalesced where that cannot change
 * the result.
 *
 * Refusals (nothing touched):
 *   -EINVAL  unknown flags, or a file that is not a regular file
 *            (failed_index = SIZE_MAX)
 *   -EBADF   a destination opened with O_APPEND (failed_index = SIZE_MAX)
 *   -EINVAL  empty batch (count == 0, failed_index = SIZE_MAX)
 *   -E2BIG   count > XCOPY_MAX_RANGES (failed_index = SIZE_MAX)
 *   -ERANGE  a range that overflows or ends beyond the source or the
 *            destination size (failed_index = that range); no file grows
 * Lengths of 0 are no-ops.  Other errors come from the kernel, with exact
 * progress in *res.
 */
int xcopy_copyv (struct xcopy_pair *p, const struct xcopy_range *ranges,
                 size_t count, unsigned flags, struct xcopy_result *res);

/* The same, observable and cancellable through ctl (may be NULL). */
int xcopy_copyv_ctl (struct xcopy_pair *p, const struct xcopy_range *ranges,
                     size_t count, unsigned flags, struct xcopy_ctl *ctl,
                     struct xcopy_result *res);

/* Write pattern (patlen bytes, repeated) over [off, off+len) of p->dst_fd.
 * len must be a multiple of patlen (-EINVAL), patlen in
 * [1, XCOPY_FILL_MAX_PATTERN] (-EINVAL), the range inside the file
 * (-ERANGE).  An all-zero pattern is xcopy_zero.  The pattern is written
 * once and then doubled with copy_file_range (blocks shared on reflinking
 * file systems), falling back to plain writes.
 */
/* Single-range operations (fill, zero, punch) report like a batch of one
 * range: on failure failed_index == 0 and failed_done is the bytes done from
 * off.  Refusals touch nothing: -ERANGE (outside the file) names range 0,
 * -EINVAL/-EBADF (flags, pattern, file) name SIZE_MAX.
 */
int xcopy_fill (struct xcopy_pair *p, uint64_t off, uint64_t len,
                const void *pattern, size_t patlen, unsigned flags,
                struct xcopy_result *res);

/* Make [off, off+len) of p->dst_fd read as zeroes: punch (with
 * XCOPY_F_MAY_TRIM), ZERO_RANGE, then written zeroes (unless
 * XCOPY_F_FAST_ZERO).  Always finishes the whole length or reports where it
 * stopped.
 */
int xcopy_zero (struct xcopy_pair *p, uint64_t off, uint64_t len,
                unsigned flags, struct xcopy_result *res);

/* Deallocate [off, off+len) of p->dst_fd (a hole; reads give zeroes).
 * -EOPNOTSUPP when the file system cannot punch holes.
 */
int xcopy_punch (struct xcopy_pair *p, uint64_t off, uint64_t len,
                 struct xcopy_result *res);

#endif /* XCOPY_ENGINE_H */
