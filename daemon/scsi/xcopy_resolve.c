/* xcopyd: EXTENDED COPY layer 4 — from CSCD descriptors to LUs, and the
 * segments to one batch of byte ranges (see xcopy-int.h).
 *
 * A CSCD descriptor resolves only among the LUs the I_T nexus that sent
 * the command may access (scsi_nexus_find_lu; DESIGN.md invariant 8, the
 * tcmu-runner CVE-2021-3139 lesson): a designator of any other LU is as
 * unknown as one that does not exist.  Descriptors are looked up when a
 * segment first names them; those no segment names are never looked up.
 *
 * Errors here come after the list was accepted, so they are COPY ABORTED
 * as SPC-4 6.4 has errors met while processing segment descriptors
 * reported (the segment being processed in COMMAND-SPECIFIC
 * INFORMATION, the blocks (bytes for 0Ah) it did not copy in INFORMATION,
 * a segment pointer to the field at fault), with the additional sense
 * codes libiscsi's ExtendedCopy tests accept: UNREACHABLE COPY TARGET for
 * a CSCD index past the list or a designator no accessible LU has, NO
 * ADDITIONAL SENSE for a copy past the end of a LU.  A mismatched device
 * type or DISK BLOCK LENGTH is INCORRECT COPY TARGET DEVICE TYPE; a
 * read-only destination is DATA PROTECT, WRITE PROTECTED.
 */
#include <stdlib.h>
#include <string.h>

#include "xcopy-int.h"
#include "checked-overflow.h"

static uint64_t
lu_bytes (const struct scsi_lu *lu)
{
  return xs_lu_blocks (lu) << lu->block_shift;
}

/* The LU of CSCD index idx, named by segment seg as its source or
 * destination (dst).
 */
static enum xs_status
lookup (struct xs_task *t, const struct xc_list *l, size_t seg,
        uint16_t idx, bool dst, struct xc_batch *b, struct scsi_lu **out)
{
  const struct xc_cscd *c;

  if (idx >= l->ncscd) {
    xs_copy_segment (t, (uint32_t) seg, true,
                     dst ? XC_OFF (xc_wire_seg_hdr, dst_id)
                         : XC_OFF (xc_wire_seg_hdr, src_id), -1);
    return XS_COPY_ABORTED_UNREACHABLE;
  }
  c = &l->cscd[idx];
  if (c->pdt != 0) {            /* segments 02h and 0Ah: block devices */
    xs_copy_segment (t, (uint32_t) seg, false,
                     c->at + XC_OFF (xc_wire_cscd_id, byte1), 4);
    return XS_COPY_ABORTED_BAD_DEVICE_TYPE;
  }
  if (b->lu[idx] == NULL
      && (b->lu[idx] = scsi_nexus_find_lu (t->nexus, c->desig,
                                           c->desig_len)) == NULL) {
    xs_copy_segment (t, (uint32_t) seg, false,
                     c->at + XC_OFF (xc_wire_cscd_id, desig), -1);
    return XS_COPY_ABORTED_UNREACHABLE;
  }
  if (b->lu[idx]->block_size != c->block_len) {
    xs_copy_segment (t, (uint32_t) seg, false,
                     c->at + XC_OFF (xc_wire_cscd_id, block_len), -1);
    return XS_COPY_ABORTED_BAD_DEVICE_TYPE;
  }
  *out = b->lu[idx];
  return XS_GOOD;
}

/* A segment reaching past the end of its source or destination. */
static enum xs_status
past_end (struct xs_task *t, size_t seg, bool dst)
{
  /* SOURCE and DESTINATION ... LOGICAL BLOCK ADDRESS sit at the same
   * offsets in 02h and 0Ah descriptors.
   */
  _Static_assert (XC_OFF (xc_wire_seg_b2b, src_lba)
                  == XC_OFF (xc_wire_seg_b2b_off, src_lba)
                  && XC_OFF (xc_wire_seg_b2b, dst_lba)
                  == XC_OFF (xc_wire_seg_b2b_off, dst_lba), "LBA fields");
  xs_copy_segment (t, (uint32_t) seg, true,
                   dst ? XC_OFF (xc_wire_seg_b2b, dst_lba)
                       : XC_OFF (xc_wire_seg_b2b, src_lba), -1);
  return XS_COPY_ABORTED;
}

static enum xs_status
check_segment (struct xs_task *t, const struct xc_list *l, size_t i,
               struct xc_batch *b, struct scsi_lu **src,
               struct scsi_lu **dst)
{
  const struct xc_segment *s = &l->seg[i];
  enum xs_status st;

  if ((st = lookup (t, l, i, s->src, false, b, src)) != XS_GOOD
      || (st = lookup (t, l, i, s->dst, true, b, dst)) != XS_GOOD)
    return st;
  if (!range_inside (s->src_off, s->len, lu_bytes (*src)))
    return past_end (t, i, false);
  if (!range_inside (s->dst_off, s->len, lu_bytes (*dst)))
    return past_end (t, i, true);
  if (xs_lu_write_protected (*dst))
    return XS_WRITE_PROTECTED;
  return XS_GOOD;
}

/* Segment i joins the last run when it has the same pair of LUs. */
static void
add_to_run (struct xc_batch *b, size_t i, struct scsi_lu *src,
            struct scsi_lu *dst)
{
  struct xc_run *r = b->nruns ? &b->runs[b->nruns - 1] : NULL;

  if (r && r->src == src && r->dst == dst)
    r->n++;
  else
    b->runs[b->nruns++] = (struct xc_run) { src, dst, i, 1 };
}

static bool
alloc_batch (struct xc_batch *b, size_t n)
{
  size_t k = n ? n : 1;

  b->ranges = calloc (k, sizeof *b->ranges);
  b->seg_end = calloc (k, sizeof *b->seg_end);
  b->runs = calloc (k, sizeof *b->runs);
  if (b->ranges == NULL || b->seg_end == NULL || b->runs == NULL)
    return false;
  b->nseg = n;
  return true;
}

enum xs_status
xc_resolve (struct xs_task *t, const struct xc_list *l, struct xc_batch *b)
{
  uint64_t total = 0;

  memset (b, 0, sizeof *b);
  if (!alloc_batch (b, l->nseg))
    return XS_TASK_SET_FULL;
  for (size_t i = 0; i < l->nseg; i++) {
    const struct xc_segment *s = &l->seg[i];
    struct scsi_lu *src, *dst;
    enum xs_status st = check_segment (t, l, i, b, &src, &dst);
    if (st != XS_GOOD) {
      if (xs_status_info (st)->key == SCSI_SK_COPY_ABORTED)
        xs_set_info (t, s->count);      /* nothing of it copied */
      return st;
    }
    b->ranges[i] = (struct xcopy_range) { s->src_off, s->dst_off, s->len };
    total += s->len;
    b->seg_end[i] = total;
    add_to_run (b, i, src, dst);
  }
  return XS_GOOD;
}

void
xc_batch_free (struct xc_batch *b)
{
  for (size_t i = 0; i < XC_MAX_CSCD; i++)
    scsi_lu_unref (b->lu[i]);
  free (b->ranges);
  free (b->seg_end);
  free (b->runs);
  memset (b, 0, sizeof *b);
}
