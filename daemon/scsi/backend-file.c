/* xcopyd: the in-process file backend, over the copy engine.
 *
 * For tests and tools: a LU served straight from an image file.  Reads and
 * writes are pread/pwrite; copies, fills, zeroes and unmaps are engine
 * calls (xcopy/engine.h), so they take the same fallback ladder as the
 * plugin.  Every system call goes through xcopy_sys (common/sys.h), which
 * lets unit tests inject ENOSPC, EIO and short transfers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "scsi-int.h"
#include "sys.h"

struct file_backend {
  struct scsi_backend be;       /* first */
  int fd;
  bool readonly;
  struct xcopy_pair self;       /* fd -> fd: fills, zeroes, copies within */
  struct xcopy_stats *stats;
};

static struct file_backend *
fb (struct scsi_backend *b)
{
  return (struct file_backend *) b;
}

static int
file_pread (struct scsi_backend *b, void *buf, size_t len, uint64_t off)
{
  struct file_backend *f = fb (b);
  uint8_t *p = buf;

  while (len > 0) {
    ssize_t r = xcopy_sys.pread (f->fd, p, len, (off_t) off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -errno;
    if (r == 0)
      return -EIO;              /* the file shrank under us */
    p += r;
    off += (uint64_t) r;
    len -= (size_t) r;
  }
  return 0;
}

static int
file_flush (struct scsi_backend *b)
{
  return xcopy_sys.fdatasync (fb (b)->fd) == -1 ? -errno : 0;
}

static int
file_pwrite (struct scsi_backend *b, const void *buf, size_t len,
             uint64_t off, unsigned flags)
{
  struct file_backend *f = fb (b);
  const uint8_t *p = buf;

  if (f->readonly)
    return -EROFS;
  while (len > 0) {
    ssize_t r = xcopy_sys.pwrite (f->fd, p, len, (off_t) off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return r < 0 ? -errno : -EIO;
    p += r;
    off += (uint64_t) r;
    len -= (size_t) r;
  }
  return (flags & SCSI_BE_FUA) ? file_flush (b) : 0;
}

/* SCSI_BE_* -> XCOPY_F_* */
static unsigned
engine_flags (unsigned flags)
{
  return ((flags & SCSI_BE_FUA) ? XCOPY_F_SYNC : 0)
    | ((flags & SCSI_BE_MAY_TRIM) ? XCOPY_F_MAY_TRIM : 0);
}

static int
file_copy (struct scsi_backend *src, struct scsi_backend *dst,
           const struct xcopy_range *r, size_t n, unsigned flags,
           struct xcopy_ctl *ctl, struct xcopy_result *res)
{
  struct file_backend *s = fb (src), *d = fb (dst);
  struct xcopy_pair pair;

  if (d->readonly)
    return -EROFS;
  if (s == d)
    return xcopy_copyv_ctl (&d->self, r, n, flags, ctl, res);
  xcopy_pair_init (&pair, s->fd, d->fd, d->stats);
  return xcopy_copyv_ctl (&pair, r, n, flags, ctl, res);
}

static int
file_fill (struct scsi_backend *b, uint64_t off, uint64_t len,
           const void *pattern, size_t patlen, unsigned flags,
           struct xcopy_result *res)
{
  struct file_backend *f = fb (b);

  if (f->readonly)
    return -EROFS;
  return xcopy_fill (&f->self, off, len, pattern, patlen,
                     engine_flags (flags), res);
}

static int
file_zero (struct scsi_backend *b, uint64_t off, uint64_t len,
           unsigned flags, struct xcopy_result *res)
{
  struct file_backend *f = fb (b);

  if (f->readonly)
    return -EROFS;
  return xcopy_zero (&f->self, off, len, engine_flags (flags), res);
}

/* Punch; where the file system cannot, write zeroes (LBPRZ stays true). */
static int
unmap_one (struct file_backend *f, const struct scsi_span *s,
           struct xcopy_result *r)
{
  int ret = xcopy_punch (&f->self, s->off, s->len, r);

  if (ret == -EOPNOTSUPP && r->failed_done == 0)
    ret = xcopy_zero (&f->self, s->off, s->len, 0, r);
  return ret;
}

static int
file_unmap (struct scsi_backend *b, const struct scsi_span *s, size_t n,
            struct xcopy_result *res)
{
  struct file_backend *f = fb (b);

  memset (res, 0, sizeof *res);
  res->failed_index = SIZE_MAX;
  if (f->readonly)
    return -EROFS;
  for (size_t i = 0; i < n; i++) {
    struct xcopy_result r;
    int ret = s[i].len ? unmap_one (f, &s[i], &r) : 0;
    if (ret < 0) {
      res->failed_index = i;
      res->failed_done = r.failed_done;
      res->bytes_done += r.failed_done;
      res->error = -ret;
      return ret;
    }
    res->bytes_done += s[i].len;
    res->ranges_done++;
  }
  return 0;
}

/* Where does the run of type `data` starting at off end?  SEEK_HOLE /
 * SEEK_DATA; ENXIO means "no more data": the rest is a hole.
 */
static int
run_end (int fd, uint64_t off, bool data, uint64_t end, uint64_t *out)
{
  off_t r = xcopy_sys.lseek (fd, (off_t) off, data ? SEEK_HOLE : SEEK_DATA);

  if (r < 0 && errno == ENXIO && !data)
    r = (off_t) end;
  if (r < 0)
    return -errno;
  *out = (uint64_t) r < end ? (uint64_t) r : end;
  return 0;
}

static int
file_extents (struct scsi_backend *b, uint64_t off, uint64_t len,
              struct scsi_extent *out, size_t max, size_t *n)
{
  int fd = fb (b)->fd;
  uint64_t end = off + len;
  size_t k = 0;

  while (off < end && k < max) {
    off_t d = xcopy_sys.lseek (fd, (off_t) off, SEEK_DATA);
    bool data = d >= 0 && (uint64_t) d == off;
    uint64_t stop = end;
    int r;
    if (d < 0 && errno != ENXIO)
      return -errno;
    if ((r = run_end (fd, off, data, end, &stop)) < 0)
      return r;
    if (stop <= off)
      stop = end;               /* no progress: call the rest data */
    out[k++] = (struct scsi_extent) { off, stop - off,
                                      data ? SCSI_EXTENT_DATA
                                           : SCSI_EXTENT_HOLE };
    off = stop;
  }
  *n = k;
  return 0;
}

static int
file_prefetch (struct scsi_backend *b, uint64_t off, uint64_t len)
{
  return -posix_fadvise (fb (b)->fd, (off_t) off, (off_t) len,
                         POSIX_FADV_WILLNEED);
}

static int
file_size (struct scsi_backend *b, uint64_t *size)
{
  struct stat st;

  if (xcopy_sys.fstat (fb (b)->fd, &st) == -1)
    return -errno;
  *size = (uint64_t) st.st_size;
  return 0;
}

static void
file_close (struct scsi_backend *b)
{
  struct file_backend *f = fb (b);

  close (f->fd);
  free (f);
}

static const struct scsi_backend_ops file_ops = {
  .name = "file",
  .pread = file_pread,
  .pwrite = file_pwrite,
  .flush = file_flush,
  .copy = file_copy,
  .fill = file_fill,
  .zero = file_zero,
  .unmap = file_unmap,
  .extents = file_extents,
  .prefetch = file_prefetch,
  .size = file_size,
  .close = file_close,
};

int
scsi_file_backend_from_fd (int fd, bool readonly, struct xcopy_stats *stats,
                           struct scsi_backend **out)
{
  struct file_backend *f;
  struct stat st;

  if (fstat (fd, &st) == -1 || !S_ISREG (st.st_mode)) {
    close (fd);
    return -EINVAL;
  }
  if ((f = calloc (1, sizeof *f)) == NULL) {
    close (fd);
    return -ENOMEM;
  }
  f->be.ops = &file_ops;
  f->be.caps = SCSI_BE_CAP_UNMAP | SCSI_BE_CAP_EXTENTS | SCSI_BE_CAP_COPY
    | (readonly ? SCSI_BE_CAP_READONLY : 0);
  f->be.granularity = st.st_blksize > 0 ? (uint32_t) st.st_blksize : 0;
  f->fd = fd;
  f->readonly = readonly;
  f->stats = stats;
  xcopy_pair_init (&f->self, fd, fd, stats);
  *out = &f->be;
  return 0;
}

int
scsi_file_backend_open (const char *path, bool readonly,
                        struct xcopy_stats *stats, struct scsi_backend **out)
{
  int fd = open (path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);

  if (fd == -1)
    return -errno;
  return scsi_file_backend_from_fd (fd, readonly, stats, out);
}
