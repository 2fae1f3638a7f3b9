/* xcopyd: COMPARE AND WRITE (SBC-3 5.2).
 *
 * The data-out holds NUMBER OF LOGICAL BLOCKS blocks to compare, then as
 * many to write.  The range is held exclusively in the LU's range-lock
 * table from before the read until after the write, and every other
 * writer takes its range the same way, so the compare and the write are
 * atomic with respect to all other writes to those blocks.  A difference
 * ends in MISCOMPARE with the offset of the first differing byte in the
 * data-out buffer in INFORMATION; nothing is written then.
 */
#include "scsi-int.h"

/* Our MAXIMUM COMPARE AND WRITE LENGTH (VPD 0xB0 byte 5). */
uint8_t
xs_caw_max (const struct scsi_lu *lu)
{
  return lu->max_xfer < 255 ? (uint8_t) lu->max_xfer : 255;
}

static enum xs_status
do_compare_write (struct xs_task *t)
{
  struct scsi_lu *lu = t->lu;
  struct rangelock_hold h = RANGELOCK_HOLD_INIT;
  uint64_t lba = get_be64 (t->cdb + 2);
  unsigned nb = t->cdb[13];
  uint64_t len = (uint64_t) nb << lu->block_shift;
  uint64_t off = lba << lu->block_shift;
  const uint8_t *data;
  enum xs_status s;

  if (t->cdb[1] & 0xe0)
    return xs_bad_cdb (t, 1, 7);                /* WRPROTECT */
  /* Zero blocks with data-out is a mismatch in the CDB, not in the data:
   * it is what a 256-block request looks like once wrapped into the
   * one-byte field (libiscsi's CompareAndWrite.Simple sends exactly that
   * and wants INVALID FIELD IN CDB, as for any length past the maximum).
   */
  if (nb > xs_caw_max (lu) || (nb == 0 && t->cmd->data_out_len != 0))
    return xs_bad_cdb (t, 13, -1);
  if ((s = xs_check_lba (t, lba, nb)) != XS_GOOD)
    return s;
  if ((s = xs_data_out_exact (t, 2 * len, &data)) != XS_GOOD || nb == 0)
    return s;
  if ((s = xs_lock_range (t, &h, off, len)) != XS_GOOD)
    return s;
  s = xs_compare (t, off, data, len, 0);
  if (s == XS_GOOD)
    s = xs_be_write (t, data + len, (size_t) len, off,
                     (t->cdb[1] & 0x08) != 0);
  xs_unlock (&h);
  return s;
}

const struct xs_cmd_desc xs_cmd_compare_write = {
  .opcode = 0x89, .cdb_len = 16, .dir = SCSI_DIR_OUT, .flags = XS_F_WRITE,
  .name = "COMPARE AND WRITE", .fn = do_compare_write,
  .usage = { 0x89, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
             0x00, 0x00, 0x00, 0xff, 0x00, 0x00 },
};
