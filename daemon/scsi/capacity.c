/* xcopyd: READ CAPACITY (10) and (16).
 *
 * SBC-3 5.15-5.16.  The (16) data carries the provisioning bits: LBPME
 * when the backend can deallocate, LBPRZ=1 because deallocated blocks read
 * as zeroes (punched holes, or zeroes written where punching fails), and
 * LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT.  No protection information.
 */
#include <string.h>

#include "scsi-int.h"

static uint64_t
last_lba (const struct scsi_lu *lu)
{
  uint64_t blocks = xs_lu_blocks (lu);

  return blocks ? blocks - 1 : 0;
}

static enum xs_status
do_read_capacity10 (struct xs_task *t)
{
  uint8_t d[8];
  uint64_t last = last_lba (t->lu);

  /* SBC-3 5.15: PMI (obsolete) zero with a non-zero LBA is an error. */
  if (!(t->cdb[8] & 0x01) && get_be32 (t->cdb + 2) != 0)
    return xs_bad_cdb (t, 2, -1);
  put_be32 (d, last > UINT32_MAX ? UINT32_MAX : (uint32_t) last);
  put_be32 (d + 4, t->lu->block_size);
  return xs_reply (t, d, sizeof d, sizeof d);
}

static enum xs_status
do_read_capacity16 (struct xs_task *t)
{
  struct scsi_lu *lu = t->lu;
  uint8_t d[32];

  memset (d, 0, sizeof d);
  put_be64 (d, last_lba (lu));
  put_be32 (d + 8, lu->block_size);
  d[13] = lu->phys_exp & 0x0f;
  if (lu->thin)
    d[14] = 0x80 | 0x40;                        /* LBPME, LBPRZ */
  return xs_reply (t, d, sizeof d, get_be32 (t->cdb + 10));
}

const struct xs_cmd_desc xs_cmd_read_capacity10 = {
  .opcode = 0x25, .cdb_len = 10, .dir = SCSI_DIR_IN,
  .name = "READ CAPACITY (10)", .fn = do_read_capacity10,
  .usage = { 0x25, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x01, 0x00 },
};

const struct xs_cmd_desc xs_cmd_read_capacity16 = {
  .opcode = 0x9e, .sa = 0x10, .has_sa = true, .cdb_len = 16,
  .dir = SCSI_DIR_IN, .name = "READ CAPACITY (16)",
  .fn = do_read_capacity16,
  .usage = { 0x9e, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
             0xff, 0xff, 0xff, 0xff, 0x00, 0x00 },
};
