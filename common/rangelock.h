/* xcopyd: byte-range locks, one table per export.
 *
 * Why: the plugin serves an image over NBD and runs COPY/FILL/ZERO/UNMAP
 * from its control socket on the same file.  The engine takes no locks
 * (engine.h), so without these a control-socket copy could read half of an
 * in-flight NBD write, or an NBD write could land in the middle of a copy's
 * destination and be overwritten by stale data a moment later.
 *
 * Who takes what (the plugin's contract; proto/PROTOCOL.md §9 states it
 * for clients):
 *   - NBD pwrite, zero and trim: their range, RANGELOCK_EXCL, for the
 *     duration of the call.  NBD reads take nothing: a read racing a write
 *     may see old or new bytes, as with any block device.
 *   - COPY: source ranges RANGELOCK_SHARED, destination ranges
 *     RANGELOCK_EXCL, all ranges of the batch at once (all or nothing).
 *     Where source and destination overlap in one file the union is taken
 *     once, exclusive where any part of the batch wants it exclusive, so a
 *     batch never waits for itself.
 *   - FILL, ZERO, UNMAP: their ranges, RANGELOCK_EXCL.
 *   - CLONE: the whole source export, RANGELOCK_SHARED.
 * Two holders conflict when their ranges overlap (adjacent ranges do not)
 * and at least one of the two overlapping pieces is exclusive.
 *
 * Fairness: a request is granted only when it conflicts with no holder and
 * with no request already waiting; otherwise it waits in FIFO order.  So
 * once a large copy is waiting, later NBD writes to its ranges queue behind
 * it instead of starving it, while writes elsewhere proceed.
 *
 * Deadlock freedom: a batch is acquired atomically within one table and a
 * single-table holder never waits while holding.  rangelock_acquire_copy()
 * spans two tables by taking them in address order, so no cycle can form
 * as long as callers never wait for a lock while holding another except
 * through it (or in the same order).
 *
 * Cost: one mutex, two intrusive lists, no allocation for a single range
 * (the caller provides the hold, e.g. on its stack).  Batches allocate one
 * array of coalesced spans.  Conflict checks are linear in the holders and
 * logarithmic in a batch's spans, which suits a table with tens of
 * in-flight requests.
 *
 * Conventions: 0 or -errno.  A struct rangelock_hold must start zeroed (or
 * RANGELOCK_HOLD_INIT); rangelock_release() on a hold that is not held
 * (never acquired, failed, already released) does nothing, so cleanup
 * paths can always call it.  A hold must not be acquired twice without a
 * release in between (-EBUSY), nor moved or copied while held (the table
 * links to it).
 */
#ifndef XCOPY_RANGELOCK_H
#define XCOPY_RANGELOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xcopy/range.h"

enum rangelock_mode {
  RANGELOCK_SHARED = 0,
  RANGELOCK_EXCL = 1,
};

/* One range of a batch request. */
struct rangelock_req {
  uint64_t off;
  uint64_t len;                 /* 0: locks nothing */
  enum rangelock_mode mode;
};

/* Largest batch: a COPY of XCOPY_MAX_RANGES ranges needs two per range. */
#define RANGELOCK_MAX_REQS (2 * (size_t) XCOPY_MAX_RANGES)

/* How long to wait.  A NULL struct rangelock_wait * waits forever. */
#define RANGELOCK_FOREVER INT64_C (-1)
struct rangelock_wait {
  int64_t timeout_ns;           /* RANGELOCK_FOREVER, 0 (don't wait), > 0 */
  /* When non-NULL and set, give up with -ECANCELED.  Checked on entry and
   * while waiting: at once after rangelock_kick(), else within
   * RANGELOCK_POLL_MS.
   */
  const atomic_bool *cancel;
};
#define RANGELOCK_POLL_MS 50

/* ---- Private: fields below are the implementation's, declared here only
 * so that tables and holds can be embedded without allocation.
 */
struct rangelock_span {
  uint64_t off, end;            /* [off, end), end > off */
  bool excl;
};

struct rangelock;

struct rangelock_hold {
  struct rangelock *rl;
  struct rangelock_hold *prev, *next;   /* in rl->held or rl->waiting */
  const struct rangelock_span *spans;   /* sorted, disjoint */
  struct rangelock_span *alloc;         /* freed at release */
  size_t nspans;
  struct rangelock_span one;            /* storage for a single span */
  uint64_t lo, hi;                      /* bounds of all spans */
  bool any_excl;
  int state;                            /* idle, waiting, held */
  pthread_cond_t *cond;                 /* the waiter's, while waiting */
};
#define RANGELOCK_HOLD_INIT { 0 }

struct rangelock {
  pthread_mutex_t lock;
  struct rangelock_hold *held_head;
  struct rangelock_hold *wait_head, *wait_tail;
  size_t nheld, nwaiting;
  uint64_t contended;           /* acquisitions that had to wait */
};

/* ---- API ---- */

int rangelock_init (struct rangelock *rl);
/* -EBUSY (and nothing freed) while anything is held or waiting. */
int rangelock_destroy (struct rangelock *rl);

/* One range, no allocation: the NBD path. */
int rangelock_lock (struct rangelock *rl, struct rangelock_hold *h,
                    uint64_t off, uint64_t len, enum rangelock_mode mode,
                    const struct rangelock_wait *w);

/* A batch, atomically.  Overlapping and adjacent requests are coalesced;
 * where shared and exclusive requests overlap, the overlap is exclusive.
 * Errors (nothing held afterwards):
 *   -EINVAL    reqs == NULL with n > 0, or an unknown mode
 *   -ERANGE    off + len overflows
 *   -E2BIG     n > RANGELOCK_MAX_REQS
 *   -ENOMEM
 *   -EBUSY     h is already held or waiting
 *   -ETIMEDOUT the timeout passed (also when timeout_ns == 0 and the
 *              ranges are not free at once)
 *   -ECANCELED *w->cancel was set
 * An empty batch (n == 0 or all lengths 0) succeeds at once, holding
 * nothing.
 */
int rangelock_acquire (struct rangelock *rl, struct rangelock_hold *h,
                       const struct rangelock_req *reqs, size_t n,
                       const struct rangelock_wait *w);

/* A COPY batch: r[i].src shared in src, r[i].dst exclusive in dst.  When
 * src == dst everything lands in one atomic acquisition in *hs and *hd stays
 * idle; otherwise the tables are taken in address order (holding the first
 * while waiting for the second, see "Deadlock freedom"), with one deadline
 * for both.  On failure neither hold is held.  Release both holds.
 */
int rangelock_acquire_copy (struct rangelock *src, struct rangelock *dst,
                            const struct xcopy_range *r, size_t n,
                            const struct rangelock_wait *w,
                            struct rangelock_hold *hs,
                            struct rangelock_hold *hd);

/* Release what h holds and wake waiters it blocked.  No-op unless held.
 * Must not race with another call on the same hold.
 */
void rangelock_release (struct rangelock_hold *h);

/* Wake every waiter so it re-checks its cancel flag now. */
void rangelock_kick (struct rangelock *rl);

/* Snapshot of the table (tests, STAT). */
struct rangelock_info {
  size_t held, waiting;
  uint64_t contended;
};
void rangelock_info (struct rangelock *rl, struct rangelock_info *out);

/* Check the table's invariants: holders pairwise compatible, lists
 * consistent.  0 or -EUCLEAN.  O(holders^2): tests only.
 */
int rangelock_check (struct rangelock *rl);

#endif /* XCOPY_RANGELOCK_H */
