/* xcopyd: vectored range copy — validation, coalescing and memmove order.
 *
 * The batch is validated as a whole before anything is written (DESIGN
 * invariant 2), then run range by range in order.  Within one file,
 * overlapping source and destination are copied as if through a buffer
 * (invariant 3): copy_file_range refuses overlaps, so the range is cut into
 * pieces no longer than the distance between source and destination and
 * the pieces are ordered so that none overwrites a source still to be read.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "engine-int.h"
#include "checked-overflow.h"
#include "minmax.h"

/* Below this distance between source and destination an overlapping copy
 * goes through the bounce buffer instead of many tiny copy_file_range calls.
 */
#define XCOPY_SHIFT_MIN (UINT64_C (64) << 10)

int
xcopy_check_regular (int fd, uint64_t *size, uint64_t *blksize,
                     uint64_t *dev, uint64_t *ino)
{
  struct stat st;

  if (xcopy_sys.fstat (fd, &st) == -1)
    return -errno;
  /* Only regular files have an st_size we can trust for bounds checks. */
  if (!S_ISREG (st.st_mode))
    return -EINVAL;
  /* O_APPEND makes pwrite ignore its offset: the file would grow. */
  int fl = fcntl (fd, F_GETFL);
  if (fl == -1)
    return -errno;
  if ((fl & O_ACCMODE) != O_RDONLY && (fl & O_APPEND))
    return -EBADF;
  *size = st.st_size;
  *blksize = st.st_blksize > 0 ? (uint64_t) st.st_blksize : 4096;
  *dev = st.st_dev;
  *ino = st.st_ino;
  return 0;
}

/* What a call needs to know about the two files, from fstat or pinned. */
static int
pair_facts (const struct xcopy_pair *p, uint64_t *src_size,
            uint64_t *dst_size, uint64_t *blksize, bool *same_file)
{
  uint64_t sbs, sdev, sino, ddev, dino;
  int r;

  if (p->pinned) {
    *src_size = p->src_size;
    *dst_size = p->dst_size;
    *blksize = p->blksize;
    *same_file = p->same_file;
    return 0;
  }
  r = xcopy_check_regular (p->src_fd, src_size, &sbs, &sdev, &sino);
  if (r == 0)
    r = xcopy_check_regular (p->dst_fd, dst_size, blksize, &ddev, &dino);
  if (r == 0)
    *same_file = sdev == ddev && sino == dino;
  return r;
}

int
xcopy_pair_pin (struct xcopy_pair *p)
{
  int r;

  p->pinned = false;
  r = pair_facts (p, &p->src_size, &p->dst_size, &p->blksize, &p->same_file);
  p->pinned = r == 0;
  return r;
}

int
xcopy_dst_facts (const struct xcopy_pair *p, uint64_t *size, uint64_t *bs)
{
  uint64_t dev, ino;

  if (p->pinned) {
    *size = p->dst_size;
    *bs = p->blksize;
    return 0;
  }
  return xcopy_check_regular (p->dst_fd, size, bs, &dev, &ino);
}

int
xcopy_ctx_init (struct xcopy_ctx *c, struct xcopy_pair *p, unsigned flags)
{
  memset (c, 0, sizeof *c);
  c->p = p;
  c->flags = flags;
  c->pipefd[0] = c->pipefd[1] = -1;
  return pair_facts (p, &c->src_size, &c->dst_size, &c->blksize,
                     &c->same_file);
}

void
xcopy_ctx_fini (struct xcopy_ctx *c)
{
  if (c->pipefd[0] >= 0) {
    close (c->pipefd[0]);
    close (c->pipefd[1]);
  }
  free (c->buf);
  c->buf = NULL;
}

int
xcopy_ctx_buf (struct xcopy_ctx *c)
{
  if (c->buf == NULL && (c->buf = malloc (XCOPY_BOUNCE_SIZE)) == NULL)
    return -ENOMEM;
  return 0;
}

/* Overlap with a small shift: through the buffer, in the order that reads
 * every source byte before it is overwritten.  All-zero pieces become holes
 * so a shifted sparse region stays sparse.
 */
static int
shift_bounce (struct xcopy_ctx *c, uint64_t src, uint64_t dst, uint64_t len,
              uint64_t *done)
{
  bool back = dst > src;
  int r = xcopy_ctx_buf (c);

  while (r == 0 && *done < len) {
    uint64_t n = MIN (len - *done, (uint64_t) XCOPY_BOUNCE_SIZE), w = 0;
    uint64_t off = back ? len - *done - n : *done;

    r = xcopy_read_full (c->p->src_fd, c->buf, n, src + off);
    if (r < 0)
      break;
    if (!(c->flags & XCOPY_F_ALLOCATE) && xcopy_is_zero (c->buf, n))
      r = xcopy_zero_ladder (c->p, dst + off, n, XCOPY_F_MAY_TRIM, &w);
    else
      r = xcopy_write_full (c->p, c->buf, n, dst + off, XCOPY_M_BOUNCE, &w);
    *done += back ? (r == 0 ? n : 0) : w;
  }
  return r;
}

/* Overlap with a large shift: pieces of at most the shift, each a plain
 * non-overlapping copy (so reflink and holes still work).
 */
static int
shift_pieces (struct xcopy_ctx *c, uint64_t src, uint64_t dst, uint64_t len,
              uint64_t *done)
{
  bool back = dst > src;
  uint64_t d = back ? dst - src : src - dst;

  while (*done < len) {
    uint64_t n = MIN (d, len - *done), got = 0;
    uint64_t off = back ? len - *done - n : *done;
    int r = xcopy_copy_sparse (c, src + off, dst + off, n, &got);

    *done += back ? (r == 0 ? n : 0) : got;
    if (r < 0)
      return r;
  }
  return 0;
}

static int
copy_range (struct xcopy_ctx *c, const struct xcopy_range *rg,
            uint64_t *done, unsigned *rflags)
{
  uint64_t d;

  *done = 0;
  if (rg->len == 0)
    return 0;
  if (!c->same_file || !ranges_overlap (rg->src, rg->dst, rg->len))
    return xcopy_copy_sparse (c, rg->src, rg->dst, rg->len, done);
  if (rg->src == rg->dst) {            /* onto itself: nothing changes */
    *done = rg->len;
    return 0;
  }
  if (rg->dst > rg->src)
    *rflags |= XCOPY_RESULT_BACKWARD;
  d = rg->dst > rg->src ? rg->dst - rg->src : rg->src - rg->dst;
  if (d < XCOPY_SHIFT_MIN)
    return shift_bounce (c, rg->src, rg->dst, rg->len, done);
  return shift_pieces (c, rg->src, rg->dst, rg->len, done);
}

/* Extend r[i] over the following adjacent ranges, where one bigger copy
 * gives the same result as the sequence.  Returns the end index.
 */
static size_t
coalesce (const struct xcopy_ctx *c, const struct xcopy_range *r,
          size_t i, size_t count, struct xcopy_range *run)
{
  size_t j = i + 1;

  *run = r[i];
  for (; j < count; j++) {
    uint64_t len = run->len + r[j].len;

    if (r[j].src != run->src + run->len || r[j].dst != run->dst + run->len)
      break;
    /* In one file, a merged range that overlaps itself would copy bytes
     * the sequence had already overwritten: keep those apart.
     */
    if (c->same_file && ranges_overlap (run->src, run->dst, len))
      break;
    run->len = len;
  }
  return j;
}

static int
validate (const struct xcopy_ctx *c, const struct xcopy_range *r,
          size_t count, struct xcopy_result *res)
{
  for (size_t i = 0; i < count; i++) {
    if (!range_inside (r[i].src, r[i].len, c->src_size) ||
        !range_inside (r[i].dst, r[i].len, c->dst_size)) {
      res->failed_index = i;
      return -ERANGE;
    }
  }
  return 0;
}

/* Run the ranges in order; on failure map progress back to the caller's
 * range index (merged runs never overlap themselves, so they run forward).
 */
static int
run_batch (struct xcopy_ctx *c, const struct xcopy_range *r, size_t count,
           struct xcopy_result *res)
{
  for (size_t i = 0; i < count; ) {
    struct xcopy_range run;
    size_t j = coalesce (c, r, i, count, &run), k = i;
    uint64_t done = 0;
    int ret = -ECANCELED;

    if (c->ctl) {
      atomic_store (&c->ctl->bytes_done, res->bytes_done);
      c->ctl_base = res->bytes_done;
    }
    if (c->ctl == NULL || !atomic_load (&c->ctl->cancel))
      ret = copy_range (c, &run, &done, &res->flags);

    res->bytes_done += done;
    if (ret < 0) {
      while (k + 1 < j && done >= r[k].len)
        done -= r[k++].len;
      res->ranges_done = res->failed_index = k;
      res->failed_done = done;
      return ret;
    }
    res->flags = 0;
    res->ranges_done = i = j;
  }
  if (c->ctl)
    atomic_store (&c->ctl->bytes_done, res->bytes_done);
  return 0;
}

int
xcopy_copyv (struct xcopy_pair *p, const struct xcopy_range *ranges,
             size_t count, unsigned flags, struct xcopy_result *res)
{
  return xcopy_copyv_ctl (p, ranges, count, flags, NULL, res);
}

int
xcopy_copyv_ctl (struct xcopy_pair *p, const struct xcopy_range *ranges,
                 size_t count, unsigned flags, struct xcopy_ctl *ctl,
                 struct xcopy_result *res)
{
  struct xcopy_result local;
  struct xcopy_ctx c;
  int r;

  if (res == NULL)
    res = &local;
  *res = (struct xcopy_result) { .failed_index = SIZE_MAX };
  if ((flags & ~XCOPY_F_VALID) || ranges == NULL || count == 0)
    r = -EINVAL;
  else if (count > XCOPY_MAX_RANGES)
    r = -E2BIG;
  else if ((r = xcopy_ctx_init (&c, p, flags)) == 0) {
    c.ctl = ctl;
    r = validate (&c, ranges, count, res);
    if (r == 0)
      r = run_batch (&c, ranges, count, res);
    if (r == 0 && (flags & XCOPY_F_SYNC) &&
        xcopy_sys.fdatasync (p->dst_fd) == -1)
      r = -errno;
    xcopy_ctx_fini (&c);
  }
  res->error = -r;
  return r;
}
