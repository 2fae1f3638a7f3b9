/* xcopyd: command dispatch and the helpers every handler uses.
 *
 * Checks done here, in this order, before any handler runs:
 *   1. opcode and service action known (SPC-4 4.2.5.1)      20/00, 24/00
 *   2. a LU at this LUN the nexus may access (SAM-5 5.8.x)  25/00
 *   3. CDB long enough for the command
 *   4. pending unit attention (SAM-5 5.14)                   06/xx
 *   5. NACA bit of the CONTROL byte (SAM-5 5.2): no ACA      24/00
 *   6. write protection for commands that write (SBC-3 4.9)   27/00
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi-int.h"

/* ---- Lookup ---- */

const struct xs_cmd_desc *
xs_lookup (const uint8_t *cdb, size_t len)
{
  const struct xs_opcode *op;
  const struct xs_cmd_desc *d;

  if (len == 0)
    return NULL;
  op = &xs_opcodes[cdb[0]];
  d = op->cmd;
  if (op->sa)
    d = len >= 2 ? op->sa[cdb[1] & 0x1f] : NULL;
  return d && d->fn ? d : NULL;
}

/* Does any service action of this opcode have a handler? */
static bool
opcode_supported (uint8_t opcode)
{
  const struct xs_opcode *op = &xs_opcodes[opcode];

  if (op->cmd)
    return op->cmd->fn != NULL;
  for (int i = 0; op->sa && i < 32; i++)
    if (op->sa[i] && op->sa[i]->fn)
      return true;
  return false;
}

static enum xs_status
find_desc (struct xs_task *t)
{
  struct scsi_cmd *c = t->cmd;

  t->desc = xs_lookup (c->cdb, c->cdb_len);
  if (t->desc == NULL) {
    if (t->lu == NULL)
      return XS_LU_NOT_SUPPORTED;
    if (c->cdb_len == 0 || !opcode_supported (c->cdb[0]))
      return XS_INVALID_OPCODE;
    return xs_bad_cdb (t, 1, 4);        /* unsupported service action */
  }
  if (t->lu == NULL && !(t->desc->flags & XS_F_ANY_LUN))
    return XS_LU_NOT_SUPPORTED;
  return XS_GOOD;
}

/* ---- Running a command ---- */

static enum xs_status
precheck (struct xs_task *t)
{
  const struct xs_cmd_desc *d = t->desc;
  enum xs_status s;

  if (t->cmd->cdb_len < d->cdb_len)
    return xs_bad_cdb (t, 0, -1);
  if (!(d->flags & XS_F_NO_UA)
      && (s = xs_nexus_take_ua (t->nexus, t->lu)) != XS_GOOD)
    return s;
  if (t->cdb[d->cdb_len - 1] & 0x04)
    return xs_bad_cdb (t, d->cdb_len - 1u, 2);
  if ((d->flags & XS_F_WRITE) && t->lu && xs_lu_write_protected (t->lu))
    return XS_WRITE_PROTECTED;
  return XS_GOOD;
}

enum xs_status
xs_task_check (struct xs_task *t)
{
  enum xs_status s = find_desc (t);

  if (s != XS_GOOD)
    return s;
  t->cmd->dir = t->desc->dir;
  return precheck (t);
}

static struct scsi_lu *
lu_for (struct scsi_nexus *n, uint16_t lun)
{
  struct scsi_lu *lu;

  if (lun > SCSI_LUN_MAX || (lu = scsi_target_lu (n->target, lun)) == NULL)
    return NULL;
  if (!scsi_nexus_may_access (n, lun, lu)) {
    scsi_lu_unref (lu);
    return NULL;
  }
  return lu;
}

void
xs_task_begin (struct xs_task *t, struct scsi_nexus *n, struct scsi_cmd *cmd)
{
  *t = (struct xs_task) { .cmd = cmd, .nexus = n, .lun = cmd->lun,
                          .cdb = cmd->cdb, .err = { .bit = -1 } };
  cmd->status = SCSI_STATUS_GOOD;
  cmd->sense_len = 0;
  cmd->data_in_len = 0;
  cmd->xfer_len = 0;
  cmd->dir = SCSI_DIR_NONE;
  xs_nexus_enter (n, t);
  t->lu = lu_for (n, cmd->lun);
}

void
xs_task_end (struct xs_task *t, enum xs_status s)
{
  struct scsi_cmd *cmd = t->cmd;

  xs_set_status (cmd, s, &t->err, t->lu ? xs_lu_d_sense (t->lu) : false);
  if (cmd->status != SCSI_STATUS_GOOD
      && cmd->status != SCSI_STATUS_CONDITION_MET)
    cmd->data_in_len = 0;
  scsi_lu_unref (t->lu);
  t->lu = NULL;
  xs_nexus_leave (t->nexus, t);
}

void
scsi_execute (struct scsi_nexus *n, struct scsi_cmd *cmd)
{
  struct xs_task t;
  enum xs_status s;

  xs_task_begin (&t, n, cmd);
  s = xs_task_check (&t);
  if (s == XS_GOOD)
    s = t.desc->fn (&t);
  xs_task_end (&t, s);
}

/* ---- Asynchronous submission ---- */

struct submission {
  struct scsi_nexus *n;
  struct scsi_cmd *cmd;
  void (*done) (struct scsi_cmd *cmd, void *opaque);
  void *opaque;
};

void
xs_nexus_hold (struct scsi_nexus *n, int delta)
{
  pthread_mutex_lock (&n->lock);
  n->ninflight += (size_t) delta;
  if (n->ninflight == 0)
    pthread_cond_broadcast (&n->idle);
  pthread_mutex_unlock (&n->lock);
}

static void
run_submission (void *arg)
{
  struct submission *s = arg;
  struct scsi_nexus *n = s->n;

  scsi_execute (n, s->cmd);
  s->done (s->cmd, s->opaque);
  free (s);
  xs_nexus_hold (n, -1);
}

int
scsi_submit (struct scsi_nexus *n, struct scsi_cmd *cmd,
             void (*done) (struct scsi_cmd *cmd, void *opaque), void *opaque)
{
  struct submission *s;
  int r;

  if (xs_aio_submit (n, cmd, done, opaque))
    return 0;
  if ((s = malloc (sizeof *s)) == NULL)
    return -ENOMEM;
  *s = (struct submission) { n, cmd, done, opaque };
  xs_nexus_hold (n, 1);
  r = xs_workq_push (n->target->workq, run_submission, s);
  if (r < 0) {
    xs_nexus_hold (n, -1);
    free (s);
  }
  return r;
}

/* ---- Residuals (RFC 7143 11.4.5.2, FCP-4 9.5.8) ---- */

enum scsi_resid
scsi_cmd_residual (const struct scsi_cmd *c, uint64_t edtl, uint64_t *count)
{
  uint64_t moved;

  if (c->xfer_len > edtl) {
    *count = c->xfer_len - edtl;
    return SCSI_RESID_OVER;
  }
  moved = c->dir == SCSI_DIR_IN ? c->data_in_len
    : c->dir == SCSI_DIR_OUT ? c->xfer_len : 0;
  if (moved < edtl) {
    *count = edtl - moved;
    return SCSI_RESID_UNDER;
  }
  *count = 0;
  return SCSI_RESID_NONE;
}

/* ---- Helpers for handlers ---- */

static enum xs_status
field (struct xs_task *t, enum xs_status s, bool cd, unsigned byte, int bit)
{
  t->err.sks = XS_SKS_FIELD;
  t->err.cd = cd;
  t->err.field = (uint16_t) byte;
  t->err.bit = (int8_t) bit;
  return s;
}

enum xs_status
xs_bad_cdb (struct xs_task *t, unsigned byte, int bit)
{
  return field (t, XS_INVALID_FIELD_IN_CDB, true, byte, bit);
}

enum xs_status
xs_bad_param (struct xs_task *t, unsigned byte, int bit)
{
  return field (t, XS_INVALID_FIELD_IN_PARAM_LIST, false, byte, bit);
}

void
xs_set_info (struct xs_task *t, uint64_t info)
{
  t->err.info_valid = true;
  t->err.info = info;
}

void
xs_set_csi (struct xs_task *t, uint64_t csi)
{
  t->err.csi_valid = true;
  t->err.csi = csi;
}

void
xs_copy_segment (struct xs_task *t, uint32_t segment, bool sd,
                 unsigned byte, int bit)
{
  xs_set_csi (t, segment);
  t->err.sks = XS_SKS_SEGMENT;
  t->err.sd = sd;
  t->err.field = (uint16_t) byte;
  t->err.bit = (int8_t) bit;
}

enum xs_status
xs_reply (struct xs_task *t, const void *buf, size_t len, size_t alloc)
{
  struct scsi_cmd *c = t->cmd;
  size_t want = len < alloc ? len : alloc;
  size_t n = want < c->data_in_cap ? want : c->data_in_cap;

  if (n)
    memcpy (c->data_in, buf, n);
  c->data_in_len = n;
  c->xfer_len = want;
  return XS_GOOD;
}

enum xs_status
xs_data_out (struct xs_task *t, uint64_t need, const uint8_t **buf)
{
  struct scsi_cmd *c = t->cmd;

  c->xfer_len = need;
  if (need > c->data_out_len || (need > 0 && c->data_out == NULL))
    return XS_INVALID_FIELD_IN_IU;
  *buf = c->data_out;
  return XS_GOOD;
}

enum xs_status
xs_data_out_exact (struct xs_task *t, uint64_t need, const uint8_t **buf)
{
  enum xs_status s = xs_data_out (t, need, buf);

  if (s == XS_GOOD && t->cmd->data_out_len != need)
    return XS_INVALID_FIELD_IN_IU;
  return s;
}

void
xs_parse_lba (const struct xs_task *t, struct xs_lba_cdb *o)
{
  const uint8_t *c = t->cdb;

  switch (t->desc->cdb_len) {
  case 6:
    *o = (struct xs_lba_cdb) { get_be24 (c + 1) & 0x1fffff, c[4], 0, 4 };
    break;
  case 10:
    *o = (struct xs_lba_cdb) { get_be32 (c + 2), get_be16 (c + 7), c[1], 7 };
    break;
  case 12:
    *o = (struct xs_lba_cdb) { get_be32 (c + 2), get_be32 (c + 6), c[1], 6 };
    break;
  default:
    *o = (struct xs_lba_cdb) { get_be64 (c + 2), get_be32 (c + 10), c[1],
                               10 };
    break;
  }
}

enum xs_status
xs_check_lba (struct xs_task *t, uint64_t lba, uint64_t n)
{
  uint64_t blocks = xs_lu_blocks (t->lu);

  if (lba > blocks || n > blocks - lba)
    return XS_LBA_OUT_OF_RANGE;
  return XS_GOOD;
}

enum xs_status
xs_lock_range (struct xs_task *t, struct rangelock_hold *h, uint64_t off,
               uint64_t len)
{
  struct rangelock_wait w = { RANGELOCK_FOREVER, &t->cmd->abort };
  int r = rangelock_lock (&t->lu->locks, h, off, len, RANGELOCK_EXCL, &w);

  return r < 0 ? xs_from_errno (-r, true) : XS_GOOD;
}

void
xs_unlock (struct rangelock_hold *h)
{
  rangelock_release (h);
}

enum xs_status
xs_be_read (struct xs_task *t, void *buf, size_t len, uint64_t off)
{
  struct scsi_backend *be = t->lu->be;
  int r = len ? be->ops->pread (be, buf, len, off) : 0;

  return r < 0 ? xs_from_errno (-r, false) : XS_GOOD;
}

enum xs_status
xs_be_write (struct xs_task *t, const void *buf, size_t len, uint64_t off,
             bool fua)
{
  struct scsi_backend *be = t->lu->be;
  unsigned flags = fua || !xs_lu_wce (t->lu) ? SCSI_BE_FUA : 0;
  int r = len ? be->ops->pwrite (be, buf, len, off, flags) : 0;

  return r < 0 ? xs_from_errno (-r, true) : XS_GOOD;
}
