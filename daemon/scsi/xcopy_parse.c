/* xcopyd: the EXTENDED COPY (LID1) parameter list, layers 1-3 (see
 * xcopy-int.h): header, CSCD descriptors, segment descriptors.
 *
 * Nothing here knows about LUs: the result is a list of segments whose
 * byte ranges come from the DISK BLOCK LENGTH each CSCD descriptor
 * declares; xcopy_resolve.c then checks those against the LUs.  Errors
 * are ILLEGAL REQUEST with a field pointer into the parameter list
 * (SPC-4 4.5.2.4.2, C/D = 0), except PARAMETER LIST LENGTH ERROR, which
 * has none.  CSCD indexes are not checked here: a bad one is a COPY
 * ABORTED of the segment that uses it (layer 4).
 */
#include <stdlib.h>
#include <string.h>

#include "xcopy-int.h"

#define HDR_LEN  sizeof (struct xc_wire_header)
#define CSCD_LEN sizeof (struct xc_wire_cscd_id)
#define SEG_HDR  sizeof (struct xc_wire_seg_hdr)
/* The designation descriptor field holds a 4-byte header and 20 bytes. */
#define XC_DESIG_MAX (sizeof ((struct xc_wire_cscd_id) { 0 }).desig - 4)

const struct xc_limits xc_default_limits = {
  .max_cscd = XC_MAX_CSCD,
  .max_segments = XC_MAX_SEGMENTS,
  .max_list_len = XC_MAX_DESC_LIST_LEN,
};

/* An error with a field pointer to byte (and bit, or -1) of the list. */
static enum xs_status
at (struct xs_detail *d, enum xs_status s, size_t byte, int bit)
{
  d->sks = XS_SKS_FIELD;
  d->cd = false;
  d->field = (uint16_t) (byte > UINT16_MAX ? UINT16_MAX : byte);
  d->bit = (int8_t) bit;
  return s;
}

/* ---- Layer 1: the header (SPC-4 6.4.3) ---- */

struct lengths {
  size_t cscd, seg;             /* descriptor list lengths */
};

static enum xs_status
parse_header (const uint8_t *p, size_t len, const struct xc_limits *lim,
              struct xc_list *l, struct lengths *n, struct xs_detail *d)
{
  uint32_t inline_len;

  if (len < HDR_LEN)
    return XS_PARAM_LIST_LENGTH_ERROR;
  l->list_id = p[XC_OFF (xc_wire_header, list_id)];
  l->usage = (p[XC_OFF (xc_wire_header, flags)] >> 3) & 3;
  l->priority = p[XC_OFF (xc_wire_header, flags)] & 7;
  l->str = p[XC_OFF (xc_wire_header, flags)] & 0x20;
  n->cscd = get_be16 (p + XC_OFF (xc_wire_header, cscd_list_len));
  n->seg = get_be32 (p + XC_OFF (xc_wire_header, seg_list_len));
  inline_len = get_be32 (p + XC_OFF (xc_wire_header, inline_len));
  if (l->usage == 1)                    /* 01b is reserved */
    return at (d, XS_INVALID_FIELD_IN_PARAM_LIST, 1, 4);
  if (l->usage == XC_LIST_ID_NONE && l->list_id != 0)
    return at (d, XS_INVALID_FIELD_IN_PARAM_LIST, 0, -1);
  /* Longer than MAXIMUM DESCRIPTOR LIST LENGTH: libiscsi's
   * ExtendedCopy.DescrLimits wants PARAMETER LIST LENGTH ERROR.
   */
  if ((uint64_t) n->cscd + n->seg > lim->max_list_len)
    return XS_PARAM_LIST_LENGTH_ERROR;
  if (inline_len != 0)                  /* MAXIMUM INLINE DATA LENGTH 0 */
    return at (d, XS_INVALID_FIELD_IN_PARAM_LIST,
               XC_OFF (xc_wire_header, inline_len), -1);
  if (HDR_LEN + n->cscd + n->seg > len)
    return XS_PARAM_LIST_LENGTH_ERROR;
  return XS_GOOD;
}

/* ---- Layer 2: CSCD descriptors (SPC-4 6.4.5) ---- */

/* One identification descriptor CSCD descriptor at offset off. */
static enum xs_status
parse_cscd (const uint8_t *c, size_t off, struct xc_cscd *out,
            struct xs_detail *d)
{
  const uint8_t *desig = c + XC_OFF (xc_wire_cscd_id, desig);
  uint8_t byte1 = c[XC_OFF (xc_wire_cscd_id, byte1)];

  /* LU ID TYPE is ignored (SPC-4: the designator names the LU; libiscsi
   * expects a reserved value to be accepted).  NUL is obsolete: a null
   * device is not something we would silently copy to.
   */
  if (byte1 & 0x20)
    return at (d, XS_INVALID_FIELD_IN_PARAM_LIST,
               off + XC_OFF (xc_wire_cscd_id, byte1), 5);
  if (desig[3] > XC_DESIG_MAX)
    return at (d, XS_INVALID_FIELD_IN_PARAM_LIST,
               off + XC_OFF (xc_wire_cscd_id, desig) + 3, -1);
  out->at = (uint32_t) off;
  out->pdt = byte1 & 0x1f;
  out->desig = desig;
  out->desig_len = 4 + (size_t) desig[3];
  out->block_len = get_be24 (c + XC_OFF (xc_wire_cscd_id, block_len));
  if (out->pdt == 0 && out->block_len == 0)
    return at (d, XS_INVALID_FIELD_IN_PARAM_LIST,
               off + XC_OFF (xc_wire_cscd_id, block_len), -1);
  return XS_GOOD;
}

static enum xs_status
parse_cscds (const uint8_t *p, size_t len, const struct xc_limits *lim,
             struct xc_list *l, struct xs_detail *d)
{
  size_t max = lim->max_cscd < XC_MAX_CSCD ? lim->max_cscd : XC_MAX_CSCD;
  enum xs_status s;

  /* SPC-4 6.4.3: more than MAXIMUM CSCD DESCRIPTOR COUNT. */
  if (len / CSCD_LEN > max)
    return at (d, XS_TOO_MANY_TARGET_DESCRIPTORS,
               XC_OFF (xc_wire_header, cscd_list_len), -1);
  for (size_t o = 0; o < len; o += CSCD_LEN) {
    const uint8_t *c = p + HDR_LEN + o;
    if (c[0] != XC_CSCD_ID)
      return at (d, XS_UNSUPPORTED_TARGET_DESCRIPTOR, HDR_LEN + o, -1);
    if (len - o < CSCD_LEN)             /* a descriptor cut short */
      return at (d, XS_INVALID_FIELD_IN_PARAM_LIST,
                 XC_OFF (xc_wire_header, cscd_list_len), -1);
    s = parse_cscd (c, HDR_LEN + o, &l->cscd[l->ncscd], d);
    if (s != XS_GOOD)
      return s;
    l->ncscd++;
  }
  return XS_GOOD;
}

/* ---- Layer 3: segment descriptors (SPC-4 6.4.6) ---- */

static uint64_t
byte_off (uint64_t lba, uint32_t block_len, uint32_t extra)
{
  uint64_t r;

  if (__builtin_mul_overflow (lba, (uint64_t) block_len, &r)
      || __builtin_add_overflow (r, (uint64_t) extra, &r))
    return UINT64_MAX;
  return r;
}

/* Bytes of a 02h segment: NUMBER OF BLOCKS counts source blocks, or
 * destination blocks with DC set; the bytes must fill whole blocks on
 * both sides (no residue to carry, whatever CAT says).
 */
static enum xs_status
bytes_b2b (const uint8_t *e, size_t off, const struct xc_cscd *sc,
           const struct xc_cscd *dc, struct xc_segment *s,
           struct xs_detail *d)
{
  bool dc_bit = e[XC_OFF (xc_wire_seg_b2b, hdr.flags)] & 0x02;

  s->unit = dc_bit ? dc->block_len : sc->block_len;
  s->len = (uint64_t) s->count * s->unit;
  if (s->len % sc->block_len || s->len % dc->block_len)
    return at (d, XS_UNEXPECTED_INEXACT_SEGMENT,
               off + XC_OFF (xc_wire_seg_b2b, nblocks), -1);
  s->src_off = byte_off (get_be64 (e + XC_OFF (xc_wire_seg_b2b, src_lba)),
                         sc->block_len, 0);
  s->dst_off = byte_off (get_be64 (e + XC_OFF (xc_wire_seg_b2b, dst_lba)),
                         dc->block_len, 0);
  return XS_GOOD;
}

/* Bytes of a 0Ah segment: NUMBER OF BYTES from a byte offset inside the
 * first block on each side.
 */
static enum xs_status
bytes_b2b_off (const uint8_t *e, size_t off, const struct xc_cscd *sc,
               const struct xc_cscd *dc, struct xc_segment *s,
               struct xs_detail *d)
{
  uint16_t so = get_be16 (e + XC_OFF (xc_wire_seg_b2b_off, src_off));
  uint16_t dof = get_be16 (e + XC_OFF (xc_wire_seg_b2b_off, dst_off));

  if (so >= sc->block_len)
    return at (d, XS_INVALID_FIELD_IN_PARAM_LIST,
               off + XC_OFF (xc_wire_seg_b2b_off, src_off), -1);
  if (dof >= dc->block_len)
    return at (d, XS_INVALID_FIELD_IN_PARAM_LIST,
               off + XC_OFF (xc_wire_seg_b2b_off, dst_off), -1);
  s->len = s->count;
  s->src_off = byte_off (get_be64 (e + XC_OFF (xc_wire_seg_b2b_off,
                                               src_lba)), sc->block_len, so);
  s->dst_off = byte_off (get_be64 (e + XC_OFF (xc_wire_seg_b2b_off,
                                               dst_lba)), dc->block_len, dof);
  return XS_GOOD;
}

/* One segment descriptor of the right type and length at offset off. */
static enum xs_status
parse_segment (const uint8_t *p, size_t off, const struct xc_list *l,
               struct xc_segment *s, struct xs_detail *d)
{
  const uint8_t *e = p + off;
  const struct xc_cscd *sc, *dc;

  s->at = (uint32_t) off;
  s->type = e[0];
  s->src = get_be16 (e + XC_OFF (xc_wire_seg_hdr, src_id));
  s->dst = get_be16 (e + XC_OFF (xc_wire_seg_hdr, dst_id));
  s->src_off = s->dst_off = UINT64_MAX;
  s->count = s->type == XC_SEG_B2B
    ? get_be16 (e + XC_OFF (xc_wire_seg_b2b, nblocks))
    : get_be32 (e + XC_OFF (xc_wire_seg_b2b_off, nbytes));
  s->unit = 1;
  /* Bytes need both CSCDs, as block devices; layer 4 refuses the rest. */
  if (s->src >= l->ncscd || s->dst >= l->ncscd)
    return XS_GOOD;
  sc = &l->cscd[s->src];
  dc = &l->cscd[s->dst];
  if (sc->pdt != 0 || dc->pdt != 0)
    return XS_GOOD;
  if (s->type == XC_SEG_B2B)
    return bytes_b2b (e, off, sc, dc, s, d);
  return bytes_b2b_off (e, off, sc, dc, s, d);
}

static size_t
seg_desc_len (uint8_t type)
{
  switch (type) {
  case XC_SEG_B2B: return sizeof (struct xc_wire_seg_b2b);
  case XC_SEG_B2B_OFF: return sizeof (struct xc_wire_seg_b2b_off);
  default: return 0;
  }
}

/* The descriptor at offset off (o bytes into a list of len): its type
 * supported, its DESCRIPTOR LENGTH right and inside the list.
 */
static enum xs_status
check_seg_desc (const uint8_t *p, size_t off, size_t o, size_t len,
                struct xs_detail *d)
{
  size_t want = seg_desc_len (p[off]);

  if (len - o < SEG_HDR)
    return at (d, XS_INVALID_FIELD_IN_PARAM_LIST,
               XC_OFF (xc_wire_header, seg_list_len), -1);
  if (want == 0)
    return at (d, XS_UNSUPPORTED_SEGMENT_DESCRIPTOR, off, -1);
  if (4 + (size_t) get_be16 (p + off + 2) != want)
    return at (d, XS_INVALID_FIELD_IN_PARAM_LIST, off + 2, -1);
  if (len - o < want)
    return at (d, XS_INVALID_FIELD_IN_PARAM_LIST,
               XC_OFF (xc_wire_header, seg_list_len), -1);
  return XS_GOOD;
}

static enum xs_status
parse_segments (const uint8_t *p, size_t start, size_t len,
                const struct xc_limits *lim, struct xc_list *l,
                struct xs_detail *d)
{
  size_t max = lim->max_segments, cap = len / sizeof (struct xc_wire_seg_b2b);
  enum xs_status s;

  if (cap > max)
    cap = max;
  if ((l->seg = calloc (cap ? cap : 1, sizeof *l->seg)) == NULL)
    return XS_TASK_SET_FULL;
  for (size_t o = 0; o < len; o += seg_desc_len (p[start + o])) {
    /* SPC-4 6.4.3: more than MAXIMUM SEGMENT DESCRIPTOR COUNT. */
    if (l->nseg == max)
      return at (d, XS_TOO_MANY_SEGMENT_DESCRIPTORS,
                 XC_OFF (xc_wire_header, seg_list_len), -1);
    if ((s = check_seg_desc (p, start + o, o, len, d)) != XS_GOOD
        || (s = parse_segment (p, start + o, l, &l->seg[l->nseg], d))
        != XS_GOOD)
      return s;
    l->nseg++;
  }
  return XS_GOOD;
}

enum xs_status
xc_parse (const uint8_t *p, size_t len, const struct xc_limits *lim,
          struct xc_list *out, struct xs_detail *d)
{
  struct lengths n;
  enum xs_status s;

  memset (out, 0, sizeof *out);
  if (lim == NULL)
    lim = &xc_default_limits;
  if ((s = parse_header (p, len, lim, out, &n, d)) != XS_GOOD
      || (s = parse_cscds (p, n.cscd, lim, out, d)) != XS_GOOD)
    return s;
  return parse_segments (p, HDR_LEN + n.cscd, n.seg, lim, out, d);
}

void
xc_list_free (struct xc_list *l)
{
  free (l->seg);
  l->seg = NULL;
  l->nseg = 0;
}
