/* xcopyd: READ, WRITE and WRITE AND VERIFY, (6) (10) (12) (16).
 *
 * SBC-3 5.8-5.11 (READ), 5.32-5.35 (WRITE), 5.36-5.38 (WRITE AND VERIFY).
 * DPO is a cache hint and is ignored; FUA makes a write durable before
 * status (as does WCE=0 in the caching mode page).  No protection
 * information: a non-zero RDPROTECT/WRPROTECT is an invalid field.
 */
#include <errno.h>
#include <string.h>

#include "scsi-int.h"

/* Checks shared by every block transfer: protection field, MAXIMUM
 * TRANSFER LENGTH (SBC-3 6.5.3), the LBA range.  Sets xfer_len.
 */
static enum xs_status
check_transfer (struct xs_task *t, const struct xs_lba_cdb *c)
{
  struct scsi_lu *lu = t->lu;

  t->cmd->xfer_len = c->nblocks << lu->block_shift;
  if (c->byte1 & 0xe0)
    return xs_bad_cdb (t, 1, 7);
  if (c->nblocks > lu->max_xfer)
    return xs_bad_cdb (t, c->len_at, -1);
  return xs_check_lba (t, c->lba, c->nblocks);
}

static void
parse (struct xs_task *t, struct xs_lba_cdb *c)
{
  xs_parse_lba (t, c);
  if (t->desc->cdb_len == 6 && c->nblocks == 0)
    c->nblocks = 256;           /* SBC-3 5.7: READ/WRITE(6) */
}

static enum xs_status
do_read (struct xs_task *t)
{
  struct scsi_cmd *cmd = t->cmd;
  struct xs_lba_cdb c;
  enum xs_status s;
  size_t n;

  parse (t, &c);
  if ((s = check_transfer (t, &c)) != XS_GOOD)
    return s;
  /* More than EDTL: transfer what fits (residual overflow, FCP-4 a). */
  n = cmd->xfer_len < cmd->data_in_cap ? (size_t) cmd->xfer_len
    : cmd->data_in_cap;
  s = xs_be_read (t, cmd->data_in, n, c.lba << t->lu->block_shift);
  if (s == XS_GOOD)
    cmd->data_in_len = n;
  return s;
}

/* How much of the write to do.  Data-out shorter than the CDB asks for
 * (an iSCSI residual overflow): the whole blocks that came are written
 * and the command succeeds, the residual telling the initiator what was
 * not (libiscsi's iSCSIResiduals: EDTL 0 or one block of a two-block
 * WRITE is GOOD with overflow); a partial block is INVALID FIELD IN
 * INFORMATION UNIT.  xfer_len keeps the CDB's length for the residual.
 */
static enum xs_status
write_len (struct xs_task *t, uint64_t *len)
{
  const struct scsi_cmd *cmd = t->cmd;
  uint64_t mask = t->lu->block_size - 1;

  *len = cmd->xfer_len;
  if (cmd->data_out_len < *len) {
    if (cmd->data_out_len & mask)
      return XS_INVALID_FIELD_IN_IU;
    *len = cmd->data_out_len;
  }
  if (*len > 0 && cmd->data_out == NULL)
    return XS_INVALID_FIELD_IN_IU;
  return XS_GOOD;
}

/* Write data-out over the blocks of c, holding their range; *len: the
 * bytes written.
 */
static enum xs_status
write_blocks (struct xs_task *t, const struct xs_lba_cdb *c, bool fua,
              uint64_t *len)
{
  struct rangelock_hold h = RANGELOCK_HOLD_INIT;
  uint64_t off = c->lba << t->lu->block_shift;
  enum xs_status s;

  if ((s = write_len (t, len)) != XS_GOOD || *len == 0
      || (s = xs_lock_range (t, &h, off, *len)) != XS_GOOD)
    return s;
  s = xs_be_write (t, t->cmd->data_out, (size_t) *len, off, fua);
  xs_unlock (&h);
  return s;
}

static enum xs_status
do_write (struct xs_task *t)
{
  struct xs_lba_cdb c;
  enum xs_status s;
  uint64_t len;

  parse (t, &c);
  if ((s = check_transfer (t, &c)) != XS_GOOD)
    return s;
  return write_blocks (t, &c, (c.byte1 & 0x08) != 0, &len);
}

/* SBC-3 5.36: BYTCHK 00b verifies the medium (the FUA write does that),
 * 01b also compares the written blocks with the data-out.
 */
static enum xs_status
do_write_verify (struct xs_task *t)
{
  struct xs_lba_cdb c;
  enum xs_status s;
  unsigned bytchk;
  uint64_t len;

  parse (t, &c);
  bytchk = (c.byte1 >> 1) & 3;
  if ((s = check_transfer (t, &c)) != XS_GOOD)
    return s;
  if (bytchk > 1)
    return xs_bad_cdb (t, 1, 2);
  if ((s = write_blocks (t, &c, true, &len)) != XS_GOOD || bytchk == 0
      || len == 0)
    return s;
  return xs_compare (t, c.lba << t->lu->block_shift, t->cmd->data_out, len,
                     0);
}

/* ---- Without a worker (aio.c) ---- */

static enum xs_aio_start
aio_read (struct xs_aio *a, enum xs_status *s)
{
  struct xs_task *t = &a->t;
  struct scsi_cmd *cmd = t->cmd;
  struct scsi_backend *be = t->lu->be;
  struct xs_lba_cdb c;
  int r;

  if (be->ops->aio_pread == NULL)
    return XS_AIO_DEFER;
  parse (t, &c);
  if ((*s = check_transfer (t, &c)) != XS_GOOD)
    return XS_AIO_DONE;
  a->len = cmd->xfer_len < cmd->data_in_cap ? (size_t) cmd->xfer_len
    : cmd->data_in_cap;
  if (a->len == 0)
    return XS_AIO_DONE;
  r = be->ops->aio_pread (be, cmd->data_in, a->len,
                          c.lba << t->lu->block_shift, xs_aio_end, a);
  if (r == 0)
    return XS_AIO_STARTED;
  if (r == -EAGAIN)
    return XS_AIO_DEFER;
  *s = xs_from_errno (-r, false);
  return XS_AIO_DONE;
}

/* A write whose blocks someone else holds waits for them on a worker. */
static enum xs_aio_start
aio_write (struct xs_aio *a, enum xs_status *s)
{
  struct xs_task *t = &a->t;
  struct scsi_backend *be = t->lu->be;
  struct rangelock_wait nowait = { 0, &t->cmd->abort };
  struct xs_lba_cdb c;
  uint64_t len, off;
  unsigned flags;
  int r;

  if (be->ops->aio_pwrite == NULL)
    return XS_AIO_DEFER;
  parse (t, &c);
  if ((*s = check_transfer (t, &c)) != XS_GOOD
      || (*s = write_len (t, &len)) != XS_GOOD || len == 0)
    return XS_AIO_DONE;
  off = c.lba << t->lu->block_shift;
  if (rangelock_lock (&t->lu->locks, &a->hold, off, len, RANGELOCK_EXCL,
                      &nowait) < 0)
    return XS_AIO_DEFER;
  flags = (c.byte1 & 0x08) || !xs_lu_wce (t->lu) ? SCSI_BE_FUA : 0;
  a->write = true;
  a->len = (size_t) len;
  r = be->ops->aio_pwrite (be, t->cmd->data_out, a->len, off, flags,
                           xs_aio_end, a);
  if (r == 0)
    return XS_AIO_STARTED;
  a->write = false;
  xs_unlock (&a->hold);
  if (r == -EAGAIN)
    return XS_AIO_DEFER;
  *s = xs_from_errno (-r, true);
  return XS_AIO_DONE;
}

#define U32 0xff, 0xff, 0xff, 0xff
#define U64 U32, U32

#define READ_DESC(name_, op, len, ...)                                  \
  const struct xs_cmd_desc name_ = {                                    \
    .opcode = op, .cdb_len = len, .dir = SCSI_DIR_IN,                   \
    .name = "READ (" #len ")", .fn = do_read, .aio = aio_read,         \
    .usage = { __VA_ARGS__ } }
#define WRITE_DESC(name_, op, len, fn_, aio_, label, ...)               \
  const struct xs_cmd_desc name_ = {                                    \
    .opcode = op, .cdb_len = len, .dir = SCSI_DIR_OUT,                  \
    .flags = XS_F_WRITE, .name = label " (" #len ")", .fn = fn_,        \
    .aio = aio_,                                                        \
    .usage = { __VA_ARGS__ } }

READ_DESC (xs_cmd_read6, 0x08, 6, 0x08, 0x1f, 0xff, 0xff, 0xff, 0x00);
READ_DESC (xs_cmd_read10, 0x28, 10, 0x28, 0x18, U32, 0x00, 0xff, 0xff, 0x00);
READ_DESC (xs_cmd_read12, 0xa8, 12, 0xa8, 0x18, U32, U32, 0x00, 0x00);
READ_DESC (xs_cmd_read16, 0x88, 16, 0x88, 0x18, U64, U32, 0x00, 0x00);

WRITE_DESC (xs_cmd_write6, 0x0a, 6, do_write, aio_write, "WRITE",
            0x0a, 0x1f, 0xff, 0xff, 0xff, 0x00);
WRITE_DESC (xs_cmd_write10, 0x2a, 10, do_write, aio_write, "WRITE",
            0x2a, 0x18, U32, 0x00, 0xff, 0xff, 0x00);
WRITE_DESC (xs_cmd_write12, 0xaa, 12, do_write, aio_write, "WRITE",
            0xaa, 0x18, U32, U32, 0x00, 0x00);
WRITE_DESC (xs_cmd_write16, 0x8a, 16, do_write, aio_write, "WRITE",
            0x8a, 0x18, U64, U32, 0x00, 0x00);

WRITE_DESC (xs_cmd_write_verify10, 0x2e, 10, do_write_verify, NULL,
            "WRITE AND VERIFY", 0x2e, 0x12, U32, 0x00, 0xff, 0xff, 0x00);
WRITE_DESC (xs_cmd_write_verify12, 0xae, 12, do_write_verify, NULL,
            "WRITE AND VERIFY", 0xae, 0x12, U32, U32, 0x00, 0x00);
WRITE_DESC (xs_cmd_write_verify16, 0x8e, 16, do_write_verify, NULL,
            "WRITE AND VERIFY", 0x8e, 0x12, U64, U32, 0x00, 0x00);
