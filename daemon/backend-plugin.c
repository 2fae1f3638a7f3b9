/* xcopyd: the plugin backend of the SCSI layer (struct scsi_backend_ops).
 *
 * One per LUN: an export of a backend's nbdkit xcopy.  Data moves over
 * NBD (libnbd, a pool of handles: the plugin allows multi-conn, so a
 * flush on one handle covers writes made through every other); range
 * operations (copy, fill, zero, unmap, extents) go over the backend's
 * control socket and run in the plugin's copy engine, next to the image
 * (DESIGN.md invariant 1: only the plugin writes images).
 *
 * Every call blocks the SCSI worker thread that makes it, never the main
 * loop.  While the backend is down every call fails at once with
 * -ENOTCONN, which the SCSI layer answers with LOGICAL UNIT COMMUNICATION
 * FAILURE; errors of the plugin itself keep their errno.
 */
#include <errno.h>
#include <string.h>

#include <libnbd.h>

#include "xcopyd.h"

/* libnbd refuses requests above the server's maximum block size; the
 * plugin's is 64 MiB (nbdkit 1.32's limit).
 */
#define NBD_PIECE (UINT64_C (32) << 20)

/* NBD connections per LU for READ and WRITE (backend-aio.c).  One
 * carries a whole QD32 queue; a second only adds a thread and halves the
 * batching per wake-up (4k random I/O: 25 against 34 us of CPU per I/O).
 */
#define AIO_CONNECTIONS 1

struct plugin_be {
  struct scsi_backend be;       /* first */
  struct xd_backend *bk;
  char *export;
  struct xd_pool *nbd;
  struct xd_aio *aio;           /* READ/WRITE up to NBD_AIO_MAX */
  _Atomic uint64_t size;        /* learnt at each connect */
};

static const struct scsi_backend_ops plugin_ops;

static struct plugin_be *
pb (struct scsi_backend *b)
{
  return (struct plugin_be *) b;
}

/* ---- NBD handles ---- */

static int
nbd_open (void *opaque, void **conn)
{
  struct plugin_be *p = opaque;
  struct nbd_handle *h = nbd_create ();
  int64_t size;
  int err;

  if (h == NULL)
    return -ENOMEM;
  if (nbd_set_export_name (h, p->export) == -1 ||
      nbd_connect_unix (h, p->bk->nbd_socket) == -1 ||
      (size = nbd_get_size (h)) < 0) {
    err = nbd_get_errno ();
    xd_debug ("backend %s: export '%s': %s", p->bk->cfg->name, p->export,
              nbd_get_error ());
    nbd_close (h);
    return -(err ? err : EIO);
  }
  p->size = (uint64_t) size;
  *conn = h;
  return 0;
}

static void
nbd_conn_close (void *conn)
{
  nbd_close (conn);
}

static const struct xd_pool_ops nbd_pool_ops = {
  .what = "NBD connection",
  .open = nbd_open,
  .close = nbd_conn_close,
};

/* The errno of a failed libnbd call, and whether the handle is dead. */
static int
nbd_failed (struct plugin_be *p, struct nbd_handle *h, const char *what,
            bool *broken)
{
  int err = nbd_get_errno ();

  *broken = nbd_aio_is_dead (h) == 1 || nbd_aio_is_closed (h) == 1;
  xd_log (*broken ? XD_LOG_WARNING : XD_LOG_DEBUG, "backend %s: export"
          " '%s': %s: %s", p->bk->cfg->name, p->export, what,
          nbd_get_error ());
  if (*broken)
    return -ENOTCONN;
  return err ? -err : -EIO;
}

static int
plugin_pread (struct scsi_backend *b, void *buf, size_t len, uint64_t off)
{
  struct plugin_be *p = pb (b);
  bool broken = false;
  unsigned slot;
  void *h;
  int r;

  if ((r = xd_pool_get (p->nbd, &slot, &h)) < 0)
    return r;
  for (size_t done = 0; done < len && r == 0;) {
    size_t n = MIN (len - done, NBD_PIECE);
    if (nbd_pread (h, (char *) buf + done, n, off + done, 0) == -1)
      r = nbd_failed (p, h, "read", &broken);
    done += n;
  }
  xd_pool_put (p->nbd, slot, broken);
  return r;
}

static int
plugin_pwrite (struct scsi_backend *b, const void *buf, size_t len,
               uint64_t off, unsigned flags)
{
  struct plugin_be *p = pb (b);
  bool broken = false;
  unsigned slot;
  void *h;
  int r;

  if ((r = xd_pool_get (p->nbd, &slot, &h)) < 0)
    return r;
  for (size_t done = 0; done < len && r == 0;) {
    size_t n = MIN (len - done, NBD_PIECE);
    uint32_t f = (flags & SCSI_BE_FUA) && done + n == len
      ? LIBNBD_CMD_FLAG_FUA : 0;
    if (nbd_pwrite (h, (const char *) buf + done, n, off + done, f) == -1)
      r = nbd_failed (p, h, "write", &broken);
    done += n;
  }
  /* FUA on the last piece only makes that piece durable. */
  if (r == 0 && (flags & SCSI_BE_FUA) && len > NBD_PIECE &&
      nbd_flush (h, 0) == -1)
    r = nbd_failed (p, h, "flush", &broken);
  xd_pool_put (p->nbd, slot, broken);
  return r;
}

static int
plugin_aio_pread (struct scsi_backend *b, void *buf, size_t len,
                  uint64_t off, void (*done) (void *opaque, int err),
                  void *opaque)
{
  return xd_aio_pread (pb (b)->aio, buf, len, off, done, opaque);
}

static int
plugin_aio_pwrite (struct scsi_backend *b, const void *buf, size_t len,
                   uint64_t off, unsigned flags,
                   void (*done) (void *opaque, int err), void *opaque)
{
  return xd_aio_pwrite (pb (b)->aio, buf, len, off,
                        (flags & SCSI_BE_FUA) != 0, done, opaque);
}

static int
plugin_flush (struct scsi_backend *b)
{
  struct plugin_be *p = pb (b);
  bool broken = false;
  unsigned slot;
  void *h;
  int r;

  if ((r = xd_pool_get (p->nbd, &slot, &h)) < 0)
    return r;
  if (nbd_flush (h, 0) == -1)
    r = nbd_failed (p, h, "flush", &broken);
  xd_pool_put (p->nbd, slot, broken);
  return r;
}

static int
plugin_prefetch (struct scsi_backend *b, uint64_t off, uint64_t len)
{
  struct plugin_be *p = pb (b);
  bool broken = false;
  unsigned slot;
  void *h;
  int r;

  if ((r = xd_pool_get (p->nbd, &slot, &h)) < 0)
    return r;
  if (nbd_can_cache (h) == 1)
    for (uint64_t done = 0; done < len && r == 0;) {
      uint64_t n = MIN (len - done, NBD_PIECE);
      if (nbd_cache (h, n, off + done, 0) == -1)
        r = nbd_failed (p, h, "cache", &broken);
      done += n;
    }
  xd_pool_put (p->nbd, slot, broken);
  return r;
}

static int
plugin_size (struct scsi_backend *b, uint64_t *size)
{
  *size = pb (b)->size;
  return 0;
}

/* ---- Range operations over the control socket ---- */

/* Engine flags -> request flags (PROTOCOL.md §6.2). */
static uint32_t
proto_flags (unsigned f)
{
  return (f & XCOPY_F_ALLOCATE ? XCOPY_PROTO_F_ALLOCATE : 0) |
    (f & XCOPY_F_MAY_TRIM ? XCOPY_PROTO_F_MAY_TRIM : 0) |
    (f & XCOPY_F_NO_REFLINK ? XCOPY_PROTO_F_NO_REFLINK : 0) |
    (f & XCOPY_F_NO_CFR ? XCOPY_PROTO_F_NO_CFR : 0) |
    (f & XCOPY_F_NO_SPLICE ? XCOPY_PROTO_F_NO_SPLICE : 0) |
    (f & XCOPY_F_SYNC ? XCOPY_PROTO_F_SYNC : 0) |
    (f & XCOPY_F_FAST_ZERO ? XCOPY_PROTO_F_FAST : 0);
}

/* SCSI_BE_* -> request flags. */
static uint32_t
be_flags (unsigned f)
{
  return (f & SCSI_BE_FUA ? XCOPY_PROTO_F_SYNC : 0) |
    (f & SCSI_BE_MAY_TRIM ? XCOPY_PROTO_F_MAY_TRIM : 0);
}

static void
result_reset (struct xcopy_result *res)
{
  memset (res, 0, sizeof *res);
  res->failed_index = SIZE_MAX;
}

/* Send req; the reply's result block becomes *res exactly (§4.3). */
static int
ranged_call (struct plugin_be *p, struct xcopy_proto_request *req,
             struct xcopy_result *res)
{
  struct xcopy_proto_reply rep;
  int r;

  result_reset (res);
  if ((r = xd_backend_call (p->bk, req, &rep)) < 0) {
    res->error = -r;
    return r;
  }
  if (rep.status) {
    *res = rep.u.error.result;
    res->error = (int) rep.status;
    xd_debug ("backend %s: %s: %s", p->bk->cfg->name,
              xcopy_proto_op_name (req->opcode), rep.u.error.message);
    r = -(int) rep.status;
  }
  else
    *res = rep.u.result;
  xcopy_proto_reply_free (&rep);
  return r;
}

/* Copies at least this long run as jobs (one engine piece). */
#define JOB_MIN_BYTES XCOPY_CTL_PIECE

static uint64_t
batch_bytes (const struct xcopy_range *r, size_t n)
{
  uint64_t sum = 0;

  for (size_t i = 0; i < n; i++)
    sum += r[i].len;            /* ranges are checked: no overflow */
  return sum;
}

/* Items per COPY (24-byte ranges) or UNMAP (16-byte spans) request:
 * the server's max_ranges and what fits its max_payload next to two
 * names (§4.2: u16 length + bytes).  An EXTENDED COPY may carry 1024
 * segments and a server may take as few as one per request.
 */
static size_t
batch_limit (const struct xd_backend *b, size_t item)
{
  uint32_t mr = b->max_ranges, mp = b->max_payload;
  size_t by_payload;

  if (mp < XCOPY_PROTO_MIN_PAYLOAD)
    mp = XCOPY_PROTO_MIN_PAYLOAD;
  by_payload = (mp - 2 * (2 + XCOPY_PROTO_NAME_MAX)) / item;
  return MAX (MIN (mr ? mr : 1, by_payload), 1);
}

/* Fold the outcome of the sub-batch that began at item base into the
 * whole batch's *total, keeping the engine's invariants (failed_index ==
 * ranges_done on a failure after progress).
 */
static void
result_add (struct xcopy_result *total, const struct xcopy_result *part,
            size_t base)
{
  total->bytes_done += part->bytes_done;
  total->ranges_done += part->ranges_done;
  total->flags |= part->flags;
  if (part->error == 0)
    return;
  total->error = part->error;
  total->failed_done = part->failed_done;
  if (part->failed_index != SIZE_MAX)
    total->failed_index = base + part->failed_index;
  else if (total->ranges_done > 0)
    total->failed_index = total->ranges_done;
}

/* One COPY request: a job when it is long and ctl can follow it. */
static int
copy_request (struct plugin_be *s, struct xcopy_proto_request *req,
              struct xcopy_ctl *ctl, struct xcopy_result *res)
{
  int ret;

  if (ctl && batch_bytes (req->u.copy.ranges, req->u.copy.count)
      >= JOB_MIN_BYTES) {
    result_reset (res);
    ret = xd_backend_call_job (s->bk, req, ctl, res);
    if (ret != -EAGAIN)
      return ret;
  }
  ret = ranged_call (s, req, res);
  if (ctl)
    atomic_fetch_add (&ctl->bytes_done, res->bytes_done);
  return ret;
}

static int
plugin_copy (struct scsi_backend *src, struct scsi_backend *dst,
             const struct xcopy_range *r, size_t n, unsigned flags,
             struct xcopy_ctl *ctl, struct xcopy_result *res)
{
  struct plugin_be *s = pb (src), *d = pb (dst);
  struct xcopy_proto_request req = { .opcode = XCOPY_OP_COPY };
  size_t max = batch_limit (s->bk, 3 * sizeof (uint64_t));
  int ret = 0;

  result_reset (res);
  /* Exports of different nbdkit processes: only a bounce can copy. */
  if (s->bk != d->bk)
    return -EXDEV;
  g_strlcpy (req.u.copy.src, s->export, sizeof req.u.copy.src);
  g_strlcpy (req.u.copy.dst, d->export, sizeof req.u.copy.dst);
  /* Long copies run as plugin jobs, so RECEIVE COPY RESULTS sees their
   * progress and an abort stops them at the next piece.  Sub-batches
   * run in order, so the batch keeps its in-order semantics; one
   * fdatasync at the end covers them all.
   */
  for (size_t i = 0; i < n && ret == 0; i += max) {
    size_t k = MIN (n - i, max);
    struct xcopy_result part;
    unsigned f = i + k == n ? flags : flags & ~(unsigned) XCOPY_F_SYNC;

    if (i > 0 && ctl && atomic_load (&ctl->cancel)) {
      res->error = ECANCELED;
      res->failed_index = res->ranges_done;
      return -ECANCELED;
    }
    req.flags = proto_flags (f & ~(unsigned) XCOPY_F_MAY_TRIM);
    req.u.copy.ranges = (struct xcopy_range *) r + i;
    req.u.copy.count = k;
    ret = copy_request (s, &req, ctl, &part);
    result_add (res, &part, i);
  }
  return ret;
}

static int
plugin_fill (struct scsi_backend *b, uint64_t off, uint64_t len,
             const void *pattern, size_t patlen, unsigned flags,
             struct xcopy_result *res)
{
  struct plugin_be *p = pb (b);
  struct xcopy_proto_request req = {
    .opcode = XCOPY_OP_FILL,
    .flags = be_flags (flags),
    .u.fill = { .offset = off, .length = len,
                .pattern = (unsigned char *) pattern, .patlen = patlen },
  };

  g_strlcpy (req.u.fill.name, p->export, sizeof req.u.fill.name);
  return ranged_call (p, &req, res);
}

static int
plugin_zero (struct scsi_backend *b, uint64_t off, uint64_t len,
             unsigned flags, struct xcopy_result *res)
{
  struct plugin_be *p = pb (b);
  struct xcopy_proto_request req = {
    .opcode = XCOPY_OP_ZERO,
    .flags = be_flags (flags),
    .u.zero = { .offset = off, .length = len },
  };

  g_strlcpy (req.u.zero.name, p->export, sizeof req.u.zero.name);
  return ranged_call (p, &req, res);
}

static int
plugin_unmap (struct scsi_backend *b, const struct scsi_span *s, size_t n,
              struct xcopy_result *res)
{
  struct plugin_be *p = pb (b);
  g_autofree struct xcopy_proto_span *spans =
    g_new (struct xcopy_proto_span, n ? n : 1);
  struct xcopy_proto_request req = { .opcode = XCOPY_OP_UNMAP };
  size_t max = batch_limit (p->bk, 2 * sizeof (uint64_t));
  int ret = 0;

  for (size_t i = 0; i < n; i++)
    spans[i] = (struct xcopy_proto_span) { s[i].off, s[i].len };
  g_strlcpy (req.u.unmap.name, p->export, sizeof req.u.unmap.name);
  result_reset (res);
  for (size_t i = 0; i < n && ret == 0; i += max) {
    struct xcopy_result part;

    req.u.unmap.spans = spans + i;
    req.u.unmap.count = MIN (n - i, max);
    ret = ranged_call (p, &req, &part);
    result_add (res, &part, i);
  }
  return ret;
}

/* The plugin's map from off, clipped to [off, off+len) and max entries. */
static int
plugin_extents (struct scsi_backend *b, uint64_t off, uint64_t len,
                struct scsi_extent *out, size_t max, size_t *n)
{
  struct plugin_be *p = pb (b);
  struct xcopy_proto_request req = {
    .opcode = XCOPY_OP_EXTENTS,
    .u.extents = { .offset = off, .length = len },
  };
  struct xcopy_proto_reply rep;
  int r;

  g_strlcpy (req.u.extents.name, p->export, sizeof req.u.extents.name);
  if ((r = xd_backend_call (p->bk, &req, &rep)) < 0)
    return r;
  *n = 0;
  if (rep.status)
    r = -(int) rep.status;
  for (size_t i = 0; r == 0 && i < rep.u.extents.count && *n < max; i++) {
    const struct xcopy_proto_extent *e = &rep.u.extents.v[i];
    uint64_t s = MAX (e->offset, off), end = MIN (e->offset + e->length,
                                                  off + len);
    if (end <= s)
      continue;
    out[(*n)++] = (struct scsi_extent) {
      s, end - s,
      e->type == XCOPY_PROTO_EXTENT_HOLE ? SCSI_EXTENT_HOLE : SCSI_EXTENT_DATA
    };
  }
  if (r == 0 && *n == 0)
    r = -EIO;                   /* a map must describe off */
  xcopy_proto_reply_free (&rep);
  return r;
}

static void
plugin_close (struct scsi_backend *b)
{
  struct plugin_be *p = pb (b);

  xd_aio_free (p->aio);
  xd_pool_free (p->nbd);
  g_free (p->export);
  g_free (p);
}

static const struct scsi_backend_ops plugin_ops = {
  .name = "plugin",
  .pread = plugin_pread,
  .pwrite = plugin_pwrite,
  .flush = plugin_flush,
  .aio_pread = plugin_aio_pread,
  .aio_pwrite = plugin_aio_pwrite,
  .copy = plugin_copy,
  .fill = plugin_fill,
  .zero = plugin_zero,
  .unmap = plugin_unmap,
  .extents = plugin_extents,
  .prefetch = plugin_prefetch,
  .size = plugin_size,
  .close = plugin_close,
};

/* Connect one handle now: the export must exist, and its size and
 * read-only flag are learnt before the LU is made.
 */
static bool
probe_export (struct plugin_be *p, bool *ro, GError **error)
{
  struct nbd_handle *h;
  int r = nbd_open (p, (void **) &h);

  if (r < 0) {
    g_set_error (error, XD_ERROR, XD_EXIT_FAILED, "backend %s: export '%s':"
                 " cannot connect: %s", p->bk->cfg->name, p->export,
                 nbd_get_error () ? nbd_get_error () : g_strerror (-r));
    return false;
  }
  *ro = nbd_is_read_only (h) == 1;
  nbd_close (h);
  return true;
}

int
xd_plugin_backend_open (struct xd_backend *b, const char *export,
                        unsigned connections, bool readonly,
                        struct scsi_backend **out, GError **error)
{
  struct plugin_be *p = g_new0 (struct plugin_be, 1);
  bool ro = false;

  p->be.ops = &plugin_ops;
  p->bk = b;
  p->export = g_strdup (export);
  p->nbd = xd_pool_new (b, connections, &nbd_pool_ops, p);
  if (!probe_export (p, &ro, error)) {
    plugin_close (&p->be);
    return -EIO;
  }
  p->be.caps = SCSI_BE_CAP_COPY | SCSI_BE_CAP_UNMAP | SCSI_BE_CAP_EXTENTS |
    (readonly || ro ? SCSI_BE_CAP_READONLY : 0);
  p->be.granularity = 4096;
  p->aio = xd_aio_new (b, export, AIO_CONNECTIONS);
  *out = &p->be;
  return 0;
}

bool
xd_plugin_backend_info (struct scsi_backend *be, struct xd_lu_info *out)
{
  if (be == NULL || be->ops != &plugin_ops)
    return false;
  out->backend = pb (be)->bk;
  out->export = pb (be)->export;
  return true;
}
