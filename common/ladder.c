/* xcopyd: the copy fallback ladder for one run of data.
 *
 *   FICLONERANGE -> copy_file_range -> splice -> pread/pwrite
 *
 * Each rung either finishes its part, or fails before making progress with
 * an errno that means "not available here" (then the pair's capability bit
 * is cleared and the next rung takes over), or fails for real (ENOSPC, EIO,
 * ...) and the error is returned with exact progress in *done.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine-int.h"
#include "minmax.h"

/* Outcome of one rung. */
enum rung { RUNG_DONE, RUNG_NEXT, RUNG_ERROR };

/* A rung made no progress and the kernel says the method is unavailable:
 * forget it for this pair and go down.  Otherwise it is a real error.
 */
static enum rung
rung_failed (struct xcopy_ctx *c, unsigned cap, int err, uint64_t progress,
             int *ret)
{
  if (progress == 0 && xcopy_is_fallback_errno (err)) {
    xcopy_clear_cap (c->p, cap);
    return RUNG_NEXT;
  }
  *ret = -err;
  return RUNG_ERROR;
}

static enum rung
try_reflink (struct xcopy_ctx *c, uint64_t src, uint64_t dst, uint64_t len,
             uint64_t *done, int *ret)
{
  while (*done < len) {
    uint64_t n = MIN (len - *done, XCOPY_MAX_CALL);

    if (xcopy_sys.clone_range (c->p->src_fd, src + *done, n,
                               c->p->dst_fd, dst + *done) == -1) {
      if (errno == EINTR)
        continue;
      return rung_failed (c, XCOPY_CAP_REFLINK, errno, *done, ret);
    }
    xcopy_account (c->p, XCOPY_M_REFLINK, n, 1);
    *done += n;
  }
  return RUNG_DONE;
}

static enum rung
try_cfr (struct xcopy_ctx *c, uint64_t src, uint64_t dst, uint64_t len,
         uint64_t *done, int *ret)
{
  uint64_t progress = 0;

  while (*done < len) {
    off_t so = src + *done, dof = dst + *done;
    ssize_t r = xcopy_sys.copy_file_range (c->p->src_fd, &so, c->p->dst_fd,
                                           &dof, MIN (len - *done,
                                                      XCOPY_MAX_CALL), 0);
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1)
      return rung_failed (c, XCOPY_CAP_CFR, errno, progress, ret);
    if (r == 0) {
      /* Nothing copied at all: a file system that silently copies
       * nothing; use the next rung.  After progress: the source ended
       * early (shrunk under us), which is an I/O error for the caller.
       */
      if (progress == 0)
        return rung_failed (c, XCOPY_CAP_CFR, EOPNOTSUPP, 0, ret);
      *ret = -EIO;
      return RUNG_ERROR;
    }
    xcopy_account (c->p, XCOPY_M_CFR, r, 1);
    *done += r;
    progress += r;
  }
  return RUNG_DONE;
}

static int
ensure_pipe (struct xcopy_ctx *c)
{
  if (c->pipefd[0] >= 0)
    return 0;
  if (pipe2 (c->pipefd, O_CLOEXEC) == -1)
    return -errno;
  /* A bigger pipe means fewer splice pairs; the default is 64 KiB. */
  int sz = fcntl (c->pipefd[1], F_SETPIPE_SZ, 1 << 20);
  if (sz == -1)
    sz = fcntl (c->pipefd[1], F_GETPIPE_SZ);
  c->pipe_size = sz > 0 ? (size_t) sz : 65536;
  return 0;
}

static void
drop_pipe (struct xcopy_ctx *c)
{
  if (c->pipefd[0] >= 0) {
    close (c->pipefd[0]);
    close (c->pipefd[1]);
  }
  c->pipefd[0] = c->pipefd[1] = -1;
}

/* Move n bytes already in the pipe to the destination. */
static int
drain_pipe (struct xcopy_ctx *c, uint64_t dst, size_t n, uint64_t *done)
{
  while (n > 0) {
    off_t dof = dst + *done;
    ssize_t w = xcopy_sys.splice (c->pipefd[0], NULL, c->p->dst_fd, &dof, n,
                                  SPLICE_F_MOVE);
    if (w == -1 && errno == EINTR)
      continue;
    if (w <= 0) {
      int err = w == 0 ? EIO : errno;
      drop_pipe (c);           /* it still holds unwritten data */
      return -err;
    }
    xcopy_account (c->p, XCOPY_M_SPLICE, w, 1);
    *done += w;
    n -= w;
  }
  return 0;
}

static enum rung
try_splice (struct xcopy_ctx *c, uint64_t src, uint64_t dst, uint64_t len,
            uint64_t *done, int *ret)
{
  uint64_t start = *done;
  int r = ensure_pipe (c);

  if (r < 0)                   /* no pipe now (EMFILE...): bounce this time */
    return RUNG_NEXT;
  while (*done < len) {
    off_t so = src + *done;
    ssize_t n = xcopy_sys.splice (c->p->src_fd, &so, c->pipefd[1], NULL,
                                  MIN (len - *done, c->pipe_size),
                                  SPLICE_F_MOVE);
    if (n == -1 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n == 0 && *done > start) {
        *ret = -EIO;
        return RUNG_ERROR;
      }
      return rung_failed (c, XCOPY_CAP_SPLICE, n == 0 ? EOPNOTSUPP : errno,
                          *done - start, ret);
    }
    xcopy_account (c->p, XCOPY_M_SPLICE, 0, 1);   /* bytes count on the way out */
    r = drain_pipe (c, dst, n, done);
    if (r < 0)
      return rung_failed (c, XCOPY_CAP_SPLICE, -r, *done - start, ret);
  }
  return RUNG_DONE;
}

/* Read exactly n bytes, or fail (a short read here means the source
 * shrank under us: EIO).
 */
int
xcopy_read_full (int fd, unsigned char *buf, size_t n, uint64_t off)
{
  while (n > 0) {
    ssize_t r = xcopy_sys.pread (fd, buf, n, off);
    if (r == -1 && errno == EINTR)
      continue;
    if (r <= 0)
      return r == 0 ? -EIO : -errno;
    buf += r;
    n -= r;
    off += r;
  }
  return 0;
}

/* Write exactly n bytes to p->dst_fd; *done counts what reached it. */
int
xcopy_write_full (struct xcopy_pair *p, const unsigned char *buf, size_t n,
                  uint64_t off, enum xcopy_method m, uint64_t *done)
{
  for (size_t w = 0; w < n; ) {
    ssize_t k = xcopy_sys.pwrite (p->dst_fd, buf + w, n - w, off + w);
    if (k == -1 && errno == EINTR)
      continue;
    if (k <= 0)
      return k == 0 ? -EIO : -errno;
    xcopy_account (p, m, k, 1);
    w += k;
    *done += k;
  }
  return 0;
}

static int
bounce (struct xcopy_ctx *c, uint64_t src, uint64_t dst, uint64_t len,
        uint64_t *done)
{
  int r = xcopy_ctx_buf (c);

  while (r == 0 && *done < len) {
    size_t n = MIN (len - *done, (uint64_t) XCOPY_BOUNCE_SIZE);

    r = xcopy_read_full (c->p->src_fd, c->buf, n, src + *done);
    if (r == 0)
      r = xcopy_write_full (c->p, c->buf, n, dst + *done, XCOPY_M_BOUNCE,
                            done);
  }
  return r;
}

static bool
use_rung (struct xcopy_ctx *c, unsigned cap, unsigned skip_flag)
{
  return !(c->flags & skip_flag) && xcopy_has_cap (c->p, cap);
}

/* copy_file_range, splice, then bounce for [src, src+len). */
static int
copy_unaligned (struct xcopy_ctx *c, uint64_t src, uint64_t dst,
                uint64_t len, uint64_t *done)
{
  int ret = 0;

  if (use_rung (c, XCOPY_CAP_CFR, XCOPY_F_NO_CFR)) {
    switch (try_cfr (c, src, dst, len, done, &ret)) {
    case RUNG_DONE: return 0;
    case RUNG_ERROR: return ret;
    case RUNG_NEXT: break;
    }
  }
  if (use_rung (c, XCOPY_CAP_SPLICE, XCOPY_F_NO_SPLICE)) {
    switch (try_splice (c, src, dst, len, done, &ret)) {
    case RUNG_DONE: return 0;
    case RUNG_ERROR: return ret;
    case RUNG_NEXT: break;
    }
  }
  if (c->flags & XCOPY_F__NO_BOUNCE)
    return -EOPNOTSUPP;
  return bounce (c, src, dst, len, done);
}

/* A block-aligned run can be reflinked whole, holes and all: a reflink maps
 * source holes as holes, so the hole walk (two lseeks per extent, and
 * SEEK_HOLE is slow on heavily shared files) is not needed.  Returns 0
 * when done, 1 when the caller must walk instead, or -errno.
 */
int
xcopy_reflink_run (struct xcopy_ctx *c, uint64_t src, uint64_t dst,
                   uint64_t len, uint64_t *done)
{
  uint64_t bs = c->blksize;
  int ret = 0;

  *done = 0;
  if ((c->flags & XCOPY_F_ALLOCATE) || len == 0 ||
      !use_rung (c, XCOPY_CAP_REFLINK, XCOPY_F_NO_REFLINK) ||
      src % bs || dst % bs || len % bs)
    return 1;
  switch (try_reflink (c, src, dst, len, done, &ret)) {
  case RUNG_DONE: return 0;
  case RUNG_NEXT: return 1;
  case RUNG_ERROR: return ret;
  }
  return 1;
}

/* Reflink needs block-aligned offsets and length: split the run into an
 * unaligned head, an aligned middle and a tail.  Only possible when source
 * and destination are equally misaligned.
 */
int
xcopy_copy_data (struct xcopy_ctx *c, uint64_t src, uint64_t dst,
                 uint64_t len, uint64_t *done)
{
  uint64_t bs = c->blksize, head, mid, d = 0;
  int r, ret = 0;

  *done = 0;
  if (!use_rung (c, XCOPY_CAP_REFLINK, XCOPY_F_NO_REFLINK) ||
      src % bs != dst % bs || len < bs)
    return copy_unaligned (c, src, dst, len, done);

  head = MIN ((bs - src % bs) % bs, len);
  mid = (len - head) / bs * bs;
  if (mid == 0)
    return copy_unaligned (c, src, dst, len, done);
  if (head) {
    r = copy_unaligned (c, src, dst, head, done);
    if (r < 0)
      return r;
  }
  switch (try_reflink (c, src + head, dst + head, mid, &d, &ret)) {
  case RUNG_ERROR:
    *done += d;
    return ret;
  case RUNG_NEXT:
    r = copy_unaligned (c, src + head, dst + head, mid, &d);
    *done += d;
    if (r < 0)
      return r;
    break;
  case RUNG_DONE:
    *done += d;
    break;
  }
  d = 0;
  r = copy_unaligned (c, src + *done, dst + *done, len - *done, &d);
  *done += d;
  return r;
}
