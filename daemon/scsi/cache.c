/* xcopyd: SYNCHRONIZE CACHE (10) (16) and PRE-FETCH (10) (16).
 *
 * SBC-3 5.22-5.23: a NUMBER OF LOGICAL BLOCKS of 0 means "to the last
 * block"; the backend flushes everything, which covers any range.  IMMED
 * is accepted and the flush still runs before status (allowed: the
 * command then simply completes later).
 *
 * SBC-3 5.13-5.14: PRE-FETCH is a hint.  It completes with GOOD rather
 * than CONDITION MET because the host page cache gives no guarantee that
 * the blocks stay resident (libiscsi's PreFetch tests expect GOOD).
 */
#include "scsi-int.h"

static enum xs_status
check_range (struct xs_task *t, struct xs_lba_cdb *c)
{
  uint64_t blocks = xs_lu_blocks (t->lu);

  xs_parse_lba (t, c);
  if (c->nblocks == 0 && c->lba <= blocks)
    c->nblocks = blocks - c->lba;
  return xs_check_lba (t, c->lba, c->nblocks);
}

static enum xs_status
do_sync_cache (struct xs_task *t)
{
  struct scsi_backend *be = t->lu->be;
  struct xs_lba_cdb c;
  enum xs_status s;
  int r;

  if ((s = check_range (t, &c)) != XS_GOOD)
    return s;
  r = be->ops->flush (be);
  return r < 0 ? xs_from_errno (-r, true) : XS_GOOD;
}

static enum xs_status
do_prefetch (struct xs_task *t)
{
  struct scsi_backend *be = t->lu->be;
  unsigned shift = t->lu->block_shift;
  struct xs_lba_cdb c;
  enum xs_status s;

  if ((s = check_range (t, &c)) != XS_GOOD)
    return s;
  if (be->ops->prefetch && c.nblocks > 0)
    be->ops->prefetch (be, c.lba << shift, c.nblocks << shift);
  return XS_GOOD;
}

#define U32 0xff, 0xff, 0xff, 0xff

const struct xs_cmd_desc xs_cmd_sync_cache10 = {
  .opcode = 0x35, .cdb_len = 10, .dir = SCSI_DIR_NONE,
  .name = "SYNCHRONIZE CACHE (10)", .fn = do_sync_cache,
  .usage = { 0x35, 0x02, U32, 0x00, 0xff, 0xff, 0x00 },
};

const struct xs_cmd_desc xs_cmd_sync_cache16 = {
  .opcode = 0x91, .cdb_len = 16, .dir = SCSI_DIR_NONE,
  .name = "SYNCHRONIZE CACHE (16)", .fn = do_sync_cache,
  .usage = { 0x91, 0x02, U32, U32, U32, 0x00, 0x00 },
};

const struct xs_cmd_desc xs_cmd_prefetch10 = {
  .opcode = 0x34, .cdb_len = 10, .dir = SCSI_DIR_NONE,
  .name = "PRE-FETCH (10)", .fn = do_prefetch,
  .usage = { 0x34, 0x02, U32, 0x00, 0xff, 0xff, 0x00 },
};

const struct xs_cmd_desc xs_cmd_prefetch16 = {
  .opcode = 0x90, .cdb_len = 16, .dir = SCSI_DIR_NONE,
  .name = "PRE-FETCH (16)", .fn = do_prefetch,
  .usage = { 0x90, 0x02, U32, U32, U32, 0x00, 0x00 },
};
