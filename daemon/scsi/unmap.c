/* xcopyd: UNMAP (SBC-3 5.28).
 *
 * The parameter list is parsed whole and checked before anything is
 * unmapped: lengths, descriptor count against MAXIMUM UNMAP BLOCK
 * DESCRIPTOR COUNT, every range inside the LU, the total against MAXIMUM
 * UNMAP LBA COUNT.  Then all ranges are locked at once and go to the
 * backend as one batch.  Descriptors may overlap and come in any order.
 *
 * Lengths (SBC-3 5.28.2 and the T10 reflector's reading of it): the
 * PARAMETER LIST LENGTH may cut the list short, and an incomplete last
 * descriptor is ignored; an UNMAP DATA LENGTH too small for the UNMAP
 * BLOCK DESCRIPTOR DATA LENGTH is an INVALID FIELD IN PARAMETER LIST.
 */
#include <stdlib.h>

#include "scsi-int.h"

#define HEADER 8
#define DESC 16

static enum xs_status
param_field (struct xs_detail *d, unsigned byte)
{
  d->sks = XS_SKS_FIELD;
  d->cd = false;
  d->field = (uint16_t) byte;
  d->bit = -1;
  return XS_INVALID_FIELD_IN_PARAM_LIST;
}

/* How many whole descriptors the list carries. */
static enum xs_status
descriptor_count (const uint8_t *p, size_t pll, struct xs_detail *d,
                  size_t *count)
{
  size_t data_len = (size_t) get_be16 (p) + 2;
  size_t bd_len = get_be16 (p + 2);
  size_t avail;

  if (data_len < HEADER + bd_len)
    return param_field (d, 0);
  avail = (data_len < pll ? data_len : pll) - HEADER;
  *count = (bd_len < avail ? bd_len : avail) / DESC;
  return XS_GOOD;
}

enum xs_status
xs_unmap_parse (const uint8_t *p, size_t pll,
                const struct xs_unmap_limits *lim, struct scsi_span *out,
                size_t *n, struct xs_detail *d)
{
  uint64_t total = 0;
  size_t count = 0;
  enum xs_status s;

  *n = 0;
  if (pll == 0)
    return XS_GOOD;
  if (pll < HEADER)
    return XS_PARAM_LIST_LENGTH_ERROR;
  if ((s = descriptor_count (p, pll, d, &count)) != XS_GOOD)
    return s;
  if (count > lim->max_desc)
    return param_field (d, 2);
  for (size_t i = 0; i < count; i++) {
    const uint8_t *e = p + HEADER + i * DESC;
    uint64_t lba = get_be64 (e);
    uint32_t nb = get_be32 (e + 8);
    if (lba > lim->blocks || nb > lim->blocks - lba)
      return XS_LBA_OUT_OF_RANGE;
    total += nb;
    if (total > lim->max_lbas)
      return param_field (d, (unsigned) (HEADER + i * DESC + 8));
    if (nb)
      out[(*n)++] = (struct scsi_span) { lba << lim->block_shift,
                                         (uint64_t) nb << lim->block_shift };
  }
  return XS_GOOD;
}

static enum xs_status
unmap_spans (struct xs_task *t, const struct scsi_span *s, size_t n)
{
  struct rangelock_wait w = { RANGELOCK_FOREVER, &t->cmd->abort };
  struct rangelock_hold h = RANGELOCK_HOLD_INIT;
  struct scsi_backend *be = t->lu->be;
  struct rangelock_req *reqs = calloc (n, sizeof *reqs);
  struct xcopy_result res;
  int r;

  if (reqs == NULL)
    return XS_TASK_SET_FULL;
  for (size_t i = 0; i < n; i++)
    reqs[i] = (struct rangelock_req) { s[i].off, s[i].len, RANGELOCK_EXCL };
  r = rangelock_acquire (&t->lu->locks, &h, reqs, n, &w);
  free (reqs);
  if (r == 0) {
    r = be->ops->unmap (be, s, n, &res);
    rangelock_release (&h);
  }
  return r < 0 ? xs_from_errno (-r, true) : XS_GOOD;
}

static enum xs_status
do_unmap (struct xs_task *t)
{
  struct scsi_lu *lu = t->lu;
  struct xs_unmap_limits lim = { xs_lu_blocks (lu), lu->block_shift,
                                 lu->max_unmap, lu->max_unmap_desc };
  size_t pll = get_be16 (t->cdb + 7), n;
  struct scsi_span *spans;
  const uint8_t *p;
  enum xs_status s;

  if (!lu->thin)
    return XS_INVALID_OPCODE;
  if (t->cdb[1] & 0x01)
    return xs_bad_cdb (t, 1, 0);                /* ANCHOR: ANC_SUP=0 */
  if ((s = xs_data_out (t, pll, &p)) != XS_GOOD)
    return s;
  spans = malloc ((lim.max_desc ? lim.max_desc : 1) * sizeof *spans);
  if (spans == NULL)
    return XS_TASK_SET_FULL;
  s = xs_unmap_parse (p, pll, &lim, spans, &n, &t->err);
  if (s == XS_GOOD && n > 0)
    s = unmap_spans (t, spans, n);
  free (spans);
  return s;
}

const struct xs_cmd_desc xs_cmd_unmap = {
  .opcode = 0x42, .cdb_len = 10, .dir = SCSI_DIR_OUT, .flags = XS_F_WRITE,
  .name = "UNMAP", .fn = do_unmap,
  .usage = { 0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00 },
};
