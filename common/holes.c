/* xcopyd: copy a range run by run, keeping source holes as holes.
 *
 * DESIGN invariant 4: a copy never inflates a sparse image.  The source is
 * walked with SEEK_DATA/SEEK_HOLE; data runs go down the copy ladder, hole
 * runs become holes in the destination (or zeroes where the file system
 * cannot punch).  The last extent learnt is cached so a batch of many small
 * ranges costs no lseek per range.
 */
#include <unistd.h>

#include "engine-int.h"
#include "minmax.h"

/* The destination [off, off+len) of the same file was just written.  A
 * cached data extent stays data when data lands in it; anything else that
 * overlaps it may have changed.
 */
void
xcopy_ext_invalidate (struct xcopy_ctx *c, uint64_t off, uint64_t len,
                      bool wrote_data)
{
  if (c->ext.valid && off < c->ext.end && c->ext.start < off + len &&
      !(wrote_data && c->ext.data))
    c->ext.valid = false;
}

/* Find the extent holding pos: [pos, *end) is data or a hole. */
static int
lookup_extent (struct xcopy_ctx *c, uint64_t pos, bool *data, uint64_t *end)
{
  int fd = c->p->src_fd;
  off_t d, h;

  if (c->ext.valid && c->ext.start <= pos && pos < c->ext.end)
    goto out;

  d = xcopy_sys.lseek (fd, pos, SEEK_DATA);
  if (d == -1 && errno == ENXIO)              /* hole up to the end */
    c->ext = (struct xcopy_extent) { pos, c->src_size, false, true };
  else if (d == -1 && (errno == EINVAL || errno == EOPNOTSUPP))
    c->ext = (struct xcopy_extent) { 0, c->src_size, true, true };
  else if (d == -1)
    return -errno;
  else if ((uint64_t) d > pos)
    c->ext = (struct xcopy_extent) { pos, MIN ((uint64_t) d, c->src_size),
                                     false, true };
  else {
    h = xcopy_sys.lseek (fd, pos, SEEK_HOLE);
    if (h == -1)
      return -errno;
    c->ext = (struct xcopy_extent) { pos, MIN ((uint64_t) h, c->src_size),
                                     true, true };
  }
  if (c->ext.end <= pos)           /* the file changed under us */
    c->ext = (struct xcopy_extent) { pos, c->src_size, true, true };
 out:
  *data = c->ext.data;
  *end = c->ext.end;
  return 0;
}

/* A source hole: the destination must read zeroes, allocated or not. */
static int
copy_hole (struct xcopy_ctx *c, uint64_t dst, uint64_t len, uint64_t *done)
{
  unsigned zf = (c->flags & XCOPY_F_ALLOCATE) ? 0 : XCOPY_F_MAY_TRIM;

  return xcopy_zero_ladder (c->p, dst, len, zf, done);
}

/* A job may be watching: publish progress, honour a cancel. */
static int
piece_done (struct xcopy_ctx *c, uint64_t range_done)
{
  if (c->ctl == NULL)
    return 0;
  atomic_store (&c->ctl->bytes_done, c->ctl_base + range_done);
  return atomic_load (&c->ctl->cancel) ? -ECANCELED : 0;
}

/* One step of the walk: the extent at src, at most max bytes of it. */
static int
walk_step (struct xcopy_ctx *c, uint64_t src, uint64_t dst, uint64_t max,
           uint64_t *d)
{
  uint64_t end = src + max;
  bool data = true;
  int r = 0;

  if (!(c->flags & XCOPY_F__NO_HOLES))
    r = lookup_extent (c, src, &data, &end);
  if (r < 0)
    return r;
  max = MIN (end - src, max);
  r = data ? xcopy_copy_data (c, src, dst, max, d)
           : copy_hole (c, dst, max, d);
  if (c->same_file)
    xcopy_ext_invalidate (c, dst, max, data);
  return r;
}

int
xcopy_copy_sparse (struct xcopy_ctx *c, uint64_t src, uint64_t dst,
                   uint64_t len, uint64_t *done)
{
  *done = 0;
  if ((c->flags & XCOPY_F__NO_HOLES) && c->ctl == NULL)
    return xcopy_copy_data (c, src, dst, len, done);

  while (*done < len) {
    uint64_t n = len - *done, d = 0;
    int r;

    if (c->ctl)                     /* a job watches: stop now and then */
      n = MIN (n, XCOPY_CTL_PIECE);
    /* Aligned runs reflink whole, holes included; others walk. */
    r = xcopy_reflink_run (c, src + *done, dst + *done, n, &d);
    if (r > 0)
      r = walk_step (c, src + *done, dst + *done, n, &d);
    else if (c->same_file)
      xcopy_ext_invalidate (c, dst + *done, d, false);
    *done += d;
    if (r == 0 && *done < len)
      r = piece_done (c, *done);
    if (r < 0)
      return r;
  }
  return 0;
}
