/* xcopyd: WRITE SAME (10) and (16).
 *
 * SBC-3 5.41-5.42 (and SBC-4 table "ANCHOR bit, UNMAP bit, and ANC_SUP
 * bit relationships"):
 *   UNMAP=1, all-zero block   deallocate on a thin LU (zero, may trim:
 *                             reads give zeroes, LBPRZ=1)
 *   UNMAP=0, all-zero block   zero, allocated
 *   other block               fill with the block as the pattern, also
 *                             with UNMAP=1: the bit only permits
 *                             deallocation, and a deallocated block reads
 *                             as zeroes, not as the block sent
 *   ANCHOR=1                  INVALID FIELD IN CDB (ANC_SUP=0)
 *   NDOB=1 (16 only)          no data-out; the block is all zeroes
 *   NUMBER OF LOGICAL BLOCKS=0  to the last block, which must still be
 *                             within MAXIMUM WRITE SAME LENGTH (WSNZ=0)
 * PBDATA and LBDATA (obsolete) are refused.  Nothing is written through a
 * buffer: the backend's zero and fill ops get one range.
 */
#include "scsi-int.h"

static const uint8_t zero_block[4096];

static bool
all_zero (const uint8_t *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (p[i])
      return false;
  return true;
}

static enum xs_status
check_cdb (struct xs_task *t, struct xs_lba_cdb *c)
{
  struct scsi_lu *lu = t->lu;
  uint64_t blocks = xs_lu_blocks (lu);

  xs_parse_lba (t, c);
  if (c->byte1 & 0xe0)
    return xs_bad_cdb (t, 1, 7);                /* WRPROTECT */
  if (c->byte1 & 0x10)
    return xs_bad_cdb (t, 1, 4);                /* ANCHOR */
  if (c->byte1 & 0x06)
    return xs_bad_cdb (t, 1, (c->byte1 & 0x04) ? 2 : 1);
  if (c->nblocks == 0 && c->lba <= blocks)
    c->nblocks = blocks - c->lba;
  if (c->nblocks > lu->max_write_same)
    return xs_bad_cdb (t, c->len_at, -1);
  return xs_check_lba (t, c->lba, c->nblocks);
}

/* Run the one backend operation the block calls for. */
static int
apply (struct xs_task *t, const uint8_t *block, uint64_t off, uint64_t len,
       bool unmap)
{
  struct scsi_lu *lu = t->lu;
  struct scsi_backend *be = lu->be;
  unsigned fua = xs_lu_wce (lu) ? 0 : SCSI_BE_FUA;
  struct xcopy_result res;

  if (all_zero (block, lu->block_size))
    return be->ops->zero (be, off, len,
                          (unmap && lu->thin ? SCSI_BE_MAY_TRIM : 0) | fua,
                          &res);
  return be->ops->fill (be, off, len, block, lu->block_size, fua, &res);
}

static enum xs_status
do_write_same (struct xs_task *t)
{
  struct rangelock_hold h = RANGELOCK_HOLD_INIT;
  bool ndob = t->desc->cdb_len == 16 && (t->cdb[1] & 0x01);
  const uint8_t *block = zero_block;
  struct xs_lba_cdb c;
  uint64_t off, len;
  enum xs_status s;
  int r;

  if ((s = check_cdb (t, &c)) != XS_GOOD)
    return s;
  if (!ndob && (s = xs_data_out_exact (t, t->lu->block_size, &block))
      != XS_GOOD)
    return s;
  off = c.lba << t->lu->block_shift;
  len = c.nblocks << t->lu->block_shift;
  if (len == 0)
    return XS_GOOD;
  if ((s = xs_lock_range (t, &h, off, len)) != XS_GOOD)
    return s;
  r = apply (t, block, off, len, (c.byte1 & 0x08) != 0);
  xs_unlock (&h);
  return r < 0 ? xs_from_errno (-r, true) : XS_GOOD;
}

#define U32 0xff, 0xff, 0xff, 0xff

const struct xs_cmd_desc xs_cmd_write_same10 = {
  .opcode = 0x41, .cdb_len = 10, .dir = SCSI_DIR_OUT, .flags = XS_F_WRITE,
  .name = "WRITE SAME (10)", .fn = do_write_same,
  .usage = { 0x41, 0x08, U32, 0x00, 0xff, 0xff, 0x00 },
};

const struct xs_cmd_desc xs_cmd_write_same16 = {
  .opcode = 0x93, .cdb_len = 16, .dir = SCSI_DIR_OUT, .flags = XS_F_WRITE,
  .name = "WRITE SAME (16)", .fn = do_write_same,
  .usage = { 0x93, 0x09, U32, U32, U32, 0x00, 0x00 },
};
