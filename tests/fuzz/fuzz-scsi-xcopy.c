/* xcopyd: libFuzzer target for the EXTENDED COPY (LID1) parameter list
 * (daemon/scsi/xcopy_parse.c, and behind it xcopy_resolve.c, xcopy.c,
 * copy_state.c, copy_results.c).
 *
 * Input:
 *   u8  flags  bit 0: CSCD descriptors E4h with a 16-byte binary NAA
 *                     designator (bytes 4..7 = 01 03 xx 10) name a fuzz LU
 *                     instead: LU (designator byte 0 & 1) gets its NAA put
 *                     in, so copies can reach the LUs at all;
 *              bit 1: ... and its DISK BLOCK LENGTH too;
 *              bits 2-3: limits for the parser alone (xc_limits[]);
 *              bit 4: send the command to LUN 1 instead of 0;
 *              bit 5: then RECEIVE COPY RESULTS (all three service
 *                     actions, this list identifier, small buffers).
 *   u8  pll    bit 7 set: PARAMETER LIST LENGTH is (bits 0-6) more than
 *              the bytes sent; clear: that much less.
 *   ... the parameter list.
 *
 * Checks, besides ASan/UBSan and sfe_run()'s status/sense/data-in
 * invariants:
 *   1. xc_parse() alone, under the chosen limits: on GOOD every count is
 *      within the limits, every segment descriptor inside the list, and a
 *      segment whose CSCDs are block devices has whole blocks on both
 *      sides (02h) or a byte count (0Ah); on an error, only the statuses
 *      the parser may return, with a field pointer inside the list.
 *   2. The whole command on the fuzz device with both LUs filled with a
 *      pattern: on GOOD the LUs hold exactly what applying the segments
 *      in order, as memmove, to the pattern gives; with LIST ID USAGE 00b
 *      RECEIVE COPY STATUS for its list identifier then answers GOOD.
 */
#include <string.h>

#include "scsi-fuzz-env.h"
#include "../../daemon/scsi/xcopy-int.h"

static const struct xc_limits limits[4] = {
  { XC_MAX_CSCD, XC_MAX_SEGMENTS, XC_MAX_DESC_LIST_LEN },
  { 2, 4, 512 },
  { 1, 1, 64 },
  { XC_MAX_CSCD, XC_MAX_SEGMENTS, UINT32_MAX },
};

static bool
parser_status (enum xs_status s)
{
  switch (s) {
  case XS_INVALID_FIELD_IN_PARAM_LIST: case XS_TOO_MANY_TARGET_DESCRIPTORS:
  case XS_UNSUPPORTED_TARGET_DESCRIPTOR: case XS_TOO_MANY_SEGMENT_DESCRIPTORS:
  case XS_UNSUPPORTED_SEGMENT_DESCRIPTOR: case XS_UNEXPECTED_INEXACT_SEGMENT:
    return true;
  default:
    return false;
  }
}

static void
check_segment (const struct xc_list *l, const struct xc_segment *s,
               size_t len)
{
  size_t dlen = s->type == XC_SEG_B2B ? 28 : 32;

  SFE_ASSERT (s->type == XC_SEG_B2B || s->type == XC_SEG_B2B_OFF);
  SFE_ASSERT (s->at >= 16 && s->at + dlen <= len);
  if (s->src >= l->ncscd || s->dst >= l->ncscd
      || l->cscd[s->src].pdt || l->cscd[s->dst].pdt)
    return;
  SFE_ASSERT (s->unit != 0 && s->len == (uint64_t) s->count * s->unit);
  if (s->type == XC_SEG_B2B)
    SFE_ASSERT (s->len % l->cscd[s->src].block_len == 0
                && s->len % l->cscd[s->dst].block_len == 0);
  else
    SFE_ASSERT (s->unit == 1);
}

static void
parse_alone (const uint8_t *p, size_t len, const struct xc_limits *lim)
{
  struct xs_detail d = { .bit = -1 };
  struct xc_list *l = malloc (sizeof *l);
  enum xs_status s;

  SFE_ASSERT (l);
  s = xc_parse (p, len, lim, l, &d);
  if (s == XS_GOOD) {
    SFE_ASSERT (l->ncscd <= lim->max_cscd && l->nseg <= lim->max_segments);
    SFE_ASSERT (l->usage != 1 && (l->usage != 3 || l->list_id == 0));
    for (size_t i = 0; i < l->ncscd; i++)
      SFE_ASSERT (l->cscd[i].desig_len <= 24
                  && (l->cscd[i].pdt || l->cscd[i].block_len));
    for (size_t i = 0; i < l->nseg; i++)
      check_segment (l, &l->seg[i], len);
  }
  else if (s != XS_PARAM_LIST_LENGTH_ERROR && s != XS_TASK_SET_FULL) {
    SFE_ASSERT (parser_status (s));
    SFE_ASSERT (d.sks == XS_SKS_FIELD && !d.cd && d.field < len);
  }
  xc_list_free (l);
  free (l);
}

/* ---- The whole command ---- */

static uint8_t model[SFE_NLUS][SFE_LU_SIZE];

static void
fill_lus (struct sfe *e)
{
  for (int k = 0; k < SFE_NLUS; k++) {
    struct scsi_backend *be = scsi_lu_backend (e->lu[k]);
    for (size_t i = 0; i < SFE_LU_SIZE; i++)
      model[k][i] = (uint8_t) (i * 7 + i / 4093 + k * 101);
    SFE_ASSERT (be->ops->pwrite (be, model[k], SFE_LU_SIZE, 0, 0) == 0);
  }
}

/* Point placeholder CSCD descriptors at the fuzz LUs (flags bits 0-1). */
static void
substitute (struct sfe *e, uint8_t *p, size_t len, uint8_t flags)
{
  size_t end = len >= 16 ? 16 + (size_t) get_be16 (p + 2) : 0;

  for (size_t o = 16; o + 32 <= end && o + 32 <= len; o += 32) {
    uint8_t *c = p + o;
    struct scsi_lu *lu = e->lu[c[8] & 1];
    if (c[0] != 0xe4 || c[4] != 0x01 || (c[5] & 0x3f) != 0x03
        || c[7] != 16)
      continue;
    memcpy (c + 8, scsi_lu_naa (lu), 16);
    if (flags & 2)
      put_be24 (c + 29, scsi_lu_block_size (lu));
  }
}

static int
lu_index (struct sfe *e, const struct xc_cscd *c)
{
  struct scsi_lu *lu = scsi_nexus_find_lu (e->nexus, c->desig, c->desig_len);
  int k = lu == e->lu[1];

  SFE_ASSERT (lu == e->lu[0] || lu == e->lu[1]);
  scsi_lu_unref (lu);
  return k;
}

/* After a GOOD copy: the model, segment by segment, equals the LUs. */
static void
check_copy (struct sfe *e, const uint8_t *p, size_t len)
{
  struct xs_detail d = { .bit = -1 };
  struct xc_list *l = malloc (sizeof *l);
  uint8_t *now = malloc (SFE_LU_SIZE);

  SFE_ASSERT (l && now && xc_parse (p, len, NULL, l, &d) == XS_GOOD);
  for (size_t i = 0; i < l->nseg; i++) {
    const struct xc_segment *s = &l->seg[i];
    int a = lu_index (e, &l->cscd[s->src]), b = lu_index (e, &l->cscd[s->dst]);
    SFE_ASSERT (s->src_off + s->len <= SFE_LU_SIZE
                && s->dst_off + s->len <= SFE_LU_SIZE);
    memmove (model[b] + s->dst_off, model[a] + s->src_off, s->len);
  }
  for (int k = 0; k < SFE_NLUS; k++) {
    struct scsi_backend *be = scsi_lu_backend (e->lu[k]);
    SFE_ASSERT (be->ops->pread (be, now, SFE_LU_SIZE, 0) == 0);
    SFE_ASSERT (memcmp (now, model[k], SFE_LU_SIZE) == 0);
  }
  xc_list_free (l);
  free (l);
  free (now);
}

static void
receive_results (struct sfe *e, uint16_t lun, uint8_t list_id)
{
  static const uint8_t sas[3] = { 0x00, 0x03, 0x04 };
  uint8_t cdb[16] = { 0x84 };

  cdb[2] = list_id;
  for (int i = 0; i < 3; i++)
    for (uint32_t alloc = 0; alloc <= 96; alloc += 32) {
      cdb[1] = sas[i];
      put_be32 (cdb + 10, alloc);
      sfe_run (e, lun, cdb, sizeof cdb, NULL, 0, alloc ? alloc - 5 : 0,
               NULL);
    }
}

/* With LIST ID USAGE 00b a GOOD copy is held as completed. */
static void
check_status (struct sfe *e, uint16_t lun, const uint8_t *p)
{
  uint8_t cdb[16] = { 0x84, 0x00, p[0], [13] = 12 };
  struct scsi_cmd c;

  if (((p[1] >> 3) & 3) != XC_LIST_ID_HOLD)
    return;
  sfe_run (e, lun, cdb, sizeof cdb, NULL, 0, 12, &c);
  SFE_ASSERT (c.status == SCSI_STATUS_GOOD && c.data_in_len == 12);
}

static void
run_command (const uint8_t *list, size_t size, size_t pll, uint8_t flags)
{
  uint16_t lun = (flags & 0x10) ? 1 : 0;
  uint8_t cdb[16] = { 0x83 };
  uint8_t *p = malloc (size ? size : 1);
  struct scsi_cmd c;
  struct sfe e;

  SFE_ASSERT (p);
  memcpy (p, list, size);
  put_be32 (cdb + 10, (uint32_t) pll);
  sfe_setup (&e);
  fill_lus (&e);
  if (flags & 1)
    substitute (&e, p, size, flags);
  sfe_run (&e, lun, cdb, sizeof cdb, p, size, 0, &c);
  if (c.status == SCSI_STATUS_GOOD && pll >= 16 && pll <= size) {
    check_copy (&e, p, pll);
    check_status (&e, lun, p);
  }
  if ((flags & 0x20) && size > 0)
    receive_results (&e, lun, p[0]);
  sfe_teardown (&e);
  free (p);
}

int
LLVMFuzzerTestOneInput (const uint8_t *d, size_t size)
{
  size_t pll;

  if (size < 2)
    return 0;
  parse_alone (d + 2, size - 2, &limits[(d[0] >> 2) & 3]);
  pll = size - 2;
  if (d[1] & 0x80)
    pll += d[1] & 0x7f;
  else
    pll -= pll < (d[1] & 0x7fu) ? pll : (d[1] & 0x7fu);
  run_command (d + 2, size - 2, pll, d[0]);
  return 0;
}
