/* xcopyd: copies between backends, with a bounce fallback.
 *
 * Backends of one kind copy among themselves (the file backend through the
 * engine, the plugin backend through its control socket).  Across kinds,
 * or when a backend cannot (-EXDEV before any progress), the bytes go
 * through a buffer here.  All-zero pieces become zero requests that may
 * trim, so a hole in the source does not become allocated zeroes in the
 * destination (DESIGN.md invariant 4).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi-int.h"
#include "checked-overflow.h"
#include "minmax.h"

#define BOUNCE_PIECE (UINT64_C (1) << 20)

static void
result_init (struct xcopy_result *res)
{
  memset (res, 0, sizeof *res);
  res->failed_index = SIZE_MAX;
}

static bool
all_zero (const uint8_t *p, size_t n)
{
  return n == 0 || (p[0] == 0 && memcmp (p, p + 1, n - 1) == 0);
}

/* One piece: [src, src+len) -> [dst, dst+len). */
static int
bounce_piece (struct scsi_backend *s, struct scsi_backend *d, uint8_t *buf,
              uint64_t src, uint64_t dst, size_t len)
{
  struct xcopy_result zr;
  int r = s->ops->pread (s, buf, len, src);

  if (r < 0)
    return r;
  if (all_zero (buf, len))
    return d->ops->zero (d, dst, len, SCSI_BE_MAY_TRIM, &zr);
  return d->ops->pwrite (d, buf, len, dst, 0);
}

/* One range, forwards, or backwards when it overlaps itself with dst
 * above src in one backend (memmove).  *done counts bytes finished.
 */
static int
bounce_range (struct scsi_backend *s, struct scsi_backend *d, uint8_t *buf,
              const struct xcopy_range *rg, struct xcopy_ctl *ctl,
              bool backward, uint64_t *done)
{
  while (*done < rg->len) {
    size_t len = (size_t) MIN (rg->len - *done, BOUNCE_PIECE);
    uint64_t at = backward ? rg->len - *done - len : *done;
    int r;
    if (ctl && atomic_load (&ctl->cancel))
      return -ECANCELED;
    r = bounce_piece (s, d, buf, rg->src + at, rg->dst + at, len);
    if (r < 0)
      return r;
    *done += len;
    if (ctl)
      atomic_fetch_add (&ctl->bytes_done, len);
  }
  return 0;
}

static int
bounce (struct scsi_backend *s, struct scsi_backend *d,
        const struct xcopy_range *r, size_t n, struct xcopy_ctl *ctl,
        struct xcopy_result *res)
{
  uint8_t *buf = malloc (BOUNCE_PIECE);
  int ret = 0;

  if (buf == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    bool backward = s == d && r[i].dst > r[i].src
      && r[i].dst - r[i].src < r[i].len;
    uint64_t done = 0;
    ret = bounce_range (s, d, buf, &r[i], ctl, backward, &done);
    res->bytes_done += done;
    if (ret < 0) {
      res->failed_index = i;
      res->failed_done = done;
      res->error = -ret;
      res->flags = backward ? XCOPY_RESULT_BACKWARD : 0;
      break;
    }
    res->ranges_done++;
  }
  free (buf);
  return ret;
}

/* Engine rules (xcopy/engine.h): every range inside both sizes, no
 * file grows; refusals touch nothing.
 */
static int
validate (struct scsi_backend *s, struct scsi_backend *d,
          const struct xcopy_range *r, size_t n, struct xcopy_result *res)
{
  uint64_t ssize, dsize;
  int ret;

  if (n > XCOPY_MAX_RANGES)
    ret = -E2BIG;
  else if ((ret = s->ops->size (s, &ssize)) == 0
           && (ret = d->ops->size (d, &dsize)) == 0) {
    for (size_t i = 0; i < n; i++)
      if (!range_inside (r[i].src, r[i].len, ssize)
          || !range_inside (r[i].dst, r[i].len, dsize)) {
        res->failed_index = i;
        res->error = ERANGE;
        return -ERANGE;
      }
    return 0;
  }
  res->error = -ret;
  return ret;
}

int
scsi_backend_copy (struct scsi_backend *src, struct scsi_backend *dst,
                   const struct xcopy_range *r, size_t n, unsigned flags,
                   struct xcopy_ctl *ctl, struct xcopy_result *res)
{
  int ret;

  result_init (res);
  if (n == 0)
    return 0;
  if (src->ops == dst->ops && src->ops->copy) {
    ret = src->ops->copy (src, dst, r, n, flags, ctl, res);
    if (ret != -EXDEV || res->bytes_done > 0)
      return ret;
    result_init (res);
  }
  if ((ret = validate (src, dst, r, n, res)) < 0)
    return ret;
  return bounce (src, dst, r, n, ctl, res);
}
