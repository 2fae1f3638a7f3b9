/* xcopyd: helpers for the EXTENDED COPY unit tests (scsi-xcopy-lists.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scsi-xcopy-lists.h"

/* ---- Parameter lists ---- */

void
xl_init (struct xl *x, uint8_t list_id, uint8_t usage)
{
  memset (x, 0, sizeof *x);
  x->hdr[0] = list_id;
  x->hdr[1] = (uint8_t) ((usage & 3) << 3);
  x->seg = h_calloc (XL_MAX_SEGS * 32);
}

void
xl_free (struct xl *x)
{
  free (x->seg);
  x->seg = NULL;
}

void
xl_cscd_bytes (const struct scsi_lu *lu, uint8_t d[32])
{
  memset (d, 0, 32);
  d[0] = 0xe4;
  d[4] = 0x01;                          /* binary */
  d[5] = 0x03;                          /* LU, NAA */
  d[7] = 16;
  memcpy (d + 8, scsi_lu_naa (lu), 16);
  put_be24 (d + 29, scsi_lu_block_size (lu));
}

void
xl_cscd_raw (struct xl *x, const uint8_t d[32])
{
  REQUIRE (x->cscd_len + 32 <= sizeof x->cscd);
  memcpy (x->cscd + x->cscd_len, d, 32);
  x->cscd_len += 32;
}

void
xl_cscd_lu (struct xl *x, const struct scsi_lu *lu)
{
  uint8_t d[32];

  xl_cscd_bytes (lu, d);
  xl_cscd_raw (x, d);
}

void
xl_seg_raw (struct xl *x, const uint8_t *d, size_t len)
{
  REQUIRE (x->seg_len + len <= XL_MAX_SEGS * 32);
  memcpy (x->seg + x->seg_len, d, len);
  x->seg_len += len;
  x->nseg++;
}

void
xl_b2b (struct xl *x, uint8_t flags, uint16_t src, uint16_t dst,
        uint16_t nblocks, uint64_t src_lba, uint64_t dst_lba)
{
  uint8_t d[28] = { 0x02, flags, 0x00, 0x18 };

  put_be16 (d + 4, src);
  put_be16 (d + 6, dst);
  put_be16 (d + 10, nblocks);
  put_be64 (d + 12, src_lba);
  put_be64 (d + 20, dst_lba);
  xl_seg_raw (x, d, sizeof d);
}

void
xl_b2b_off (struct xl *x, uint16_t src, uint16_t dst, uint32_t nbytes,
            uint64_t src_lba, uint64_t dst_lba, uint16_t src_off,
            uint16_t dst_off)
{
  uint8_t d[32] = { 0x0a, 0x00, 0x00, 0x1c };

  put_be16 (d + 4, src);
  put_be16 (d + 6, dst);
  put_be32 (d + 8, nbytes);
  put_be64 (d + 12, src_lba);
  put_be64 (d + 20, dst_lba);
  put_be16 (d + 28, src_off);
  put_be16 (d + 30, dst_off);
  xl_seg_raw (x, d, sizeof d);
}

uint8_t *
xl_bytes (const struct xl *x, size_t *len)
{
  uint8_t *p = h_malloc (16 + x->cscd_len + x->seg_len);

  memcpy (p, x->hdr, 16);
  put_be16 (p + 2, (uint16_t) x->cscd_len);
  put_be32 (p + 8, (uint32_t) x->seg_len);
  memcpy (p + 16, x->cscd, x->cscd_len);
  memcpy (p + 16 + x->cscd_len, x->seg, x->seg_len);
  *len = 16 + x->cscd_len + x->seg_len;
  return p;
}

void
xl_cdb (uint8_t cdb[16], uint32_t pll)
{
  memset (cdb, 0, 16);
  cdb[0] = 0x83;
  put_be32 (cdb + 10, pll);
}

void
xl_rcr_cdb (uint8_t cdb[16], uint8_t sa, uint8_t list_id, uint32_t alloc)
{
  memset (cdb, 0, 16);
  cdb[0] = 0x84;
  cdb[1] = sa;
  cdb[2] = list_id;
  put_be32 (cdb + 10, alloc);
}

void
xl_run (struct scsi_nexus *n, uint16_t lun, struct sh_cmd *cmd,
        const struct xl *x)
{
  uint8_t cdb[16];
  size_t len;
  uint8_t *p = xl_bytes (x, &len);

  xl_cdb (cdb, (uint32_t) len);
  sh_run (n, lun, cmd, cdb, sizeof cdb, p, len, 0);
  free (p);
}

/* ---- Backends that pause or fail ---- */

struct wrap {
  struct scsi_backend be;       /* first */
  struct scsi_backend *in;
  struct xw_ctl *c;
};

static struct scsi_backend *
inner (struct scsi_backend *b)
{
  return ((struct wrap *) b)->in;
}

void
xw_init (struct xw_ctl *c)
{
  memset (c, 0, sizeof *c);
  pthread_mutex_init (&c->lock, NULL);
  pthread_cond_init (&c->cond, NULL);
  c->pause_at = c->fail_at = -1;
  c->fail_err = EIO;
}

/* Stop before range i if asked, until released or cancelled. */
static bool
gate (struct xw_ctl *c, size_t i, struct xcopy_ctl *ctl)
{
  bool cancelled = false;

  pthread_mutex_lock (&c->lock);
  if ((long) i == c->pause_at) {
    c->paused = true;
    pthread_cond_broadcast (&c->cond);
    while (!c->release && !(cancelled = ctl && atomic_load (&ctl->cancel))) {
      struct timespec ts;
      clock_gettime (CLOCK_REALTIME, &ts);
      ts.tv_nsec += 10 * 1000 * 1000;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait (&c->cond, &c->lock, &ts);
    }
    c->paused = false;
  }
  pthread_mutex_unlock (&c->lock);
  return !cancelled;
}

static int
stop (struct xcopy_result *res, size_t i, int err)
{
  res->failed_index = i;
  res->failed_done = 0;
  res->error = err;
  return -err;
}

static int
w_copy (struct scsi_backend *src, struct scsi_backend *dst,
        const struct xcopy_range *r, size_t n, unsigned flags,
        struct xcopy_ctl *ctl, struct xcopy_result *res)
{
  struct xw_ctl *c = ((struct wrap *) dst)->c;

  pthread_mutex_lock (&c->lock);
  if (c->copies < 64)
    c->ranges[c->copies] = n;
  c->copies++;
  pthread_mutex_unlock (&c->lock);
  for (size_t i = 0; i < n; i++) {
    struct xcopy_result one;
    int ret;
    if (!gate (c, i, ctl))
      return stop (res, i, ECANCELED);
    if ((long) i == c->fail_at)
      return stop (res, i, c->fail_err);
    ret = scsi_backend_copy (inner (src), inner (dst), &r[i], 1, flags, NULL,
                             &one);
    if (ret < 0)
      return stop (res, i, -ret);
    res->bytes_done += r[i].len;
    res->ranges_done++;
    if (ctl)
      atomic_fetch_add (&ctl->bytes_done, r[i].len);
  }
  return 0;
}

static int
w_pread (struct scsi_backend *b, void *buf, size_t len, uint64_t off)
{
  return inner (b)->ops->pread (inner (b), buf, len, off);
}

static int
w_pwrite (struct scsi_backend *b, const void *buf, size_t len, uint64_t off,
          unsigned flags)
{
  return inner (b)->ops->pwrite (inner (b), buf, len, off, flags);
}

static int
w_flush (struct scsi_backend *b)
{
  return inner (b)->ops->flush (inner (b));
}

static int
w_fill (struct scsi_backend *b, uint64_t off, uint64_t len,
        const void *pattern, size_t patlen, unsigned flags,
        struct xcopy_result *res)
{
  return inner (b)->ops->fill (inner (b), off, len, pattern, patlen, flags,
                               res);
}

static int
w_zero (struct scsi_backend *b, uint64_t off, uint64_t len, unsigned flags,
        struct xcopy_result *res)
{
  return inner (b)->ops->zero (inner (b), off, len, flags, res);
}

static int
w_size (struct scsi_backend *b, uint64_t *size)
{
  return inner (b)->ops->size (inner (b), size);
}

static void
w_close (struct scsi_backend *b)
{
  inner (b)->ops->close (inner (b));
  free (b);
}

static const struct scsi_backend_ops wrap_ops = {
  .name = "test-wrap",
  .pread = w_pread,
  .pwrite = w_pwrite,
  .flush = w_flush,
  .copy = w_copy,
  .fill = w_fill,
  .zero = w_zero,
  .size = w_size,
  .close = w_close,
};

struct scsi_lu *
xw_new_lu (uint64_t size, const struct scsi_lu_config *cfg,
           struct xw_ctl *c, int *fd_out)
{
  struct scsi_lu_config def;
  struct wrap *w = h_calloc (sizeof *w);
  struct scsi_lu *lu;
  int fd = h_file (size);

  if (cfg == NULL) {
    sh_config (&def);
    cfg = &def;
  }
  REQUIRE (scsi_file_backend_from_fd (dup (fd), false, NULL, &w->in) == 0);
  w->be.ops = &wrap_ops;
  w->be.caps = SCSI_BE_CAP_COPY;
  w->c = c;
  REQUIRE (scsi_lu_new (cfg, &w->be, &lu) == 0);
  if (fd_out)
    *fd_out = fd;
  else
    h_close (fd);
  return lu;
}

void
xw_wait_paused (struct xw_ctl *c)
{
  pthread_mutex_lock (&c->lock);
  while (!c->paused)
    pthread_cond_wait (&c->cond, &c->lock);
  pthread_mutex_unlock (&c->lock);
}

void
xw_release (struct xw_ctl *c)
{
  pthread_mutex_lock (&c->lock);
  c->release = true;
  pthread_cond_broadcast (&c->cond);
  pthread_mutex_unlock (&c->lock);
}

/* ---- Asynchronous commands ---- */

static void
async_done (struct scsi_cmd *cmd, void *opaque)
{
  struct xl_async *a = opaque;

  (void) cmd;
  pthread_mutex_lock (&a->lock);
  a->done = true;
  pthread_cond_broadcast (&a->cond);
  pthread_mutex_unlock (&a->lock);
}

void
xl_submit (struct scsi_nexus *n, uint16_t lun, struct xl_async *a,
           const uint8_t *out, size_t out_len)
{
  memset (a, 0, sizeof *a);
  pthread_mutex_init (&a->lock, NULL);
  pthread_cond_init (&a->cond, NULL);
  xl_cdb (a->cmd.cdb, (uint32_t) out_len);
  a->cmd.c.cdb = a->cmd.cdb;
  a->cmd.c.cdb_len = 16;
  a->cmd.c.lun = lun;
  a->cmd.c.data_out = out;
  a->cmd.c.data_out_len = out_len;
  a->cmd.c.status = 0xff;
  REQUIRE (scsi_submit (n, &a->cmd.c, async_done, a) == 0);
}

void
xl_wait (struct xl_async *a)
{
  pthread_mutex_lock (&a->lock);
  while (!a->done)
    pthread_cond_wait (&a->cond, &a->lock);
  pthread_mutex_unlock (&a->lock);
}
