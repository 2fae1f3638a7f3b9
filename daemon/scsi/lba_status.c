/* xcopyd: GET LBA STATUS (SBC-3 5.5), from the backend's extents.
 *
 * Descriptors start at the STARTING LOGICAL BLOCK ADDRESS and run on
 * contiguously.  A block is reported deallocated only when all of its
 * bytes lie in a hole; a block a hole covers only in part is mapped (the
 * file system's allocation unit may be larger than a logical block).
 * Adjacent runs of one status are merged.  Without extents everything is
 * mapped.  The list stops at what fits in the allocation length (at most
 * MAX_DESC descriptors): the initiator asks again from where it ends.
 */
#include <stdlib.h>
#include <string.h>

#include "scsi-int.h"
#include "minmax.h"

#define MAX_DESC ((size_t) 256)
#define BATCH 64
#define MAPPED 0
#define DEALLOCATED 1

struct lba_list {
  uint8_t *buf;                 /* 8-byte header, then 16-byte descriptors */
  size_t n, max;
  uint64_t next;                /* first block not described yet */
  bool full;                    /* a run did not fit: describe no more */
};

/* Describe [next, end) as status, merging with the last descriptor. */
static void
emit (struct lba_list *l, uint64_t end, uint8_t status)
{
  while (l->next < end && !l->full) {
    uint8_t *last = l->n ? l->buf + 8 + 16 * (l->n - 1) : NULL;
    uint64_t room, take;
    if (last && last[12] == status && get_be32 (last + 8) < UINT32_MAX) {
      room = UINT32_MAX - get_be32 (last + 8);
      take = MIN (room, end - l->next);
      put_be32 (last + 8, (uint32_t) (get_be32 (last + 8) + take));
    }
    else {
      if (l->n == l->max) {
        l->full = true;
        return;
      }
      last = l->buf + 8 + 16 * l->n++;
      take = MIN ((uint64_t) UINT32_MAX, end - l->next);
      put_be64 (last, l->next);
      put_be32 (last + 8, (uint32_t) take);
      last[12] = status;
    }
    l->next += take;
  }
}

/* Turn one byte extent into block runs. */
static void
add_extent (struct lba_list *l, const struct scsi_extent *e, unsigned shift)
{
  uint64_t mask = (UINT64_C (1) << shift) - 1;
  uint64_t first = (e->off + mask) >> shift, stop = (e->off + e->len) >> shift;

  if (e->type == SCSI_EXTENT_HOLE && first < stop) {
    emit (l, first, MAPPED);
    emit (l, stop, DEALLOCATED);
  }
  else
    emit (l, (e->off + e->len + mask) >> shift, MAPPED);
}

static enum xs_status
walk_extents (struct xs_task *t, struct lba_list *l, uint64_t blocks)
{
  struct scsi_backend *be = t->lu->be;
  unsigned shift = t->lu->block_shift;
  struct scsi_extent ext[BATCH];
  uint64_t end = blocks << shift;

  while (l->next < blocks && !l->full) {
    uint64_t off = l->next << shift;
    size_t n = 0;
    int r = be->ops->extents (be, off, end - off, ext, BATCH, &n);
    if (r < 0)
      return xs_from_errno (-r, false);
    if (n == 0)
      break;
    for (size_t i = 0; i < n && !l->full; i++)
      add_extent (l, &ext[i], shift);
  }
  return XS_GOOD;
}

static enum xs_status
do_get_lba_status (struct xs_task *t)
{
  struct scsi_backend *be = t->lu->be;
  uint64_t lba = get_be64 (t->cdb + 2), blocks = xs_lu_blocks (t->lu);
  uint32_t alloc = get_be32 (t->cdb + 10);
  struct lba_list l = { .next = lba };
  enum xs_status s = XS_GOOD;

  if (lba >= blocks)
    return XS_LBA_OUT_OF_RANGE;
  l.max = alloc < 24 ? 1 : MIN ((size_t) (alloc - 8) / 16, MAX_DESC);
  if ((l.buf = calloc (1, 8 + 16 * l.max)) == NULL)
    return XS_TASK_SET_FULL;
  if (be->ops->extents && (be->caps & SCSI_BE_CAP_EXTENTS))
    s = walk_extents (t, &l, blocks);
  if (s == XS_GOOD && l.n == 0)
    emit (&l, blocks, MAPPED);
  if (s == XS_GOOD) {
    put_be32 (l.buf, (uint32_t) (4 + 16 * l.n));
    s = xs_reply (t, l.buf, 8 + 16 * l.n, alloc);
  }
  free (l.buf);
  return s;
}

const struct xs_cmd_desc xs_cmd_get_lba_status = {
  .opcode = 0x9e, .sa = 0x12, .has_sa = true, .cdb_len = 16,
  .dir = SCSI_DIR_IN, .name = "GET LBA STATUS", .fn = do_get_lba_status,
  .usage = { 0x9e, 0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
             0xff, 0xff, 0xff, 0xff, 0x00, 0x00 },
};
