/* xcopyd: libFuzzer target for the UNMAP parameter list (SBC-3 5.28.2).
 *
 * Input: u8 limits selector, u8 PARAMETER LIST LENGTH adjustment, then
 * the parameter list.  The list goes twice through the code:
 *
 *   1. xs_unmap_parse() alone, against limits chosen by the first byte:
 *      on GOOD every span must lie inside the LU, there are at most
 *      max_desc of them, their blocks add up to at most max_lbas, and
 *      each is a whole number of blocks; on an error nothing is returned.
 *   2. A whole UNMAP command on the fuzz device (scsi-fuzz-env.h), with
 *      the data-out possibly shorter or longer than the PARAMETER LIST
 *      LENGTH; on GOOD every block a descriptor named reads as zeroes.
 */
#include <string.h>

#include "scsi-fuzz-env.h"

static void
parse_alone (const uint8_t *p, size_t len, uint8_t sel)
{
  static const uint32_t descs[4] = { 0, 1, 4, 256 };
  struct xs_unmap_limits lim = {
    .blocks = (sel & 0x10) ? UINT64_MAX : 4096,
    .block_shift = (sel & 0x20) ? 12 : 9,
    .max_lbas = (sel & 0x40) ? UINT32_MAX : 1000,
    .max_desc = descs[sel & 3],
  };
  struct scsi_span spans[256];
  struct xs_detail det = { .bit = -1 };
  uint64_t total = 0, bs = UINT64_C (1) << lim.block_shift;
  size_t n = 999;
  enum xs_status s = xs_unmap_parse (p, len, &lim, spans, &n, &det);

  if (s != XS_GOOD) {
    SFE_ASSERT (s == XS_PARAM_LIST_LENGTH_ERROR || s == XS_LBA_OUT_OF_RANGE
                || s == XS_INVALID_FIELD_IN_PARAM_LIST);
    SFE_ASSERT (s != XS_INVALID_FIELD_IN_PARAM_LIST
                || (det.sks == XS_SKS_FIELD && !det.cd && det.field < len));
    return;
  }
  SFE_ASSERT (n <= lim.max_desc);
  for (size_t i = 0; i < n; i++) {
    SFE_ASSERT (spans[i].len > 0 && spans[i].off % bs == 0
                && spans[i].len % bs == 0);
    SFE_ASSERT (spans[i].off / bs <= lim.blocks
                && spans[i].len / bs <= lim.blocks - spans[i].off / bs);
    total += spans[i].len / bs;
  }
  SFE_ASSERT (total <= lim.max_lbas);
}

/* After a GOOD UNMAP, the first block of each complete descriptor (up to
 * four) reads as zeroes (LBPRZ=1).
 */
static void
check_zeroes (struct sfe *e, const uint8_t *p, size_t len)
{
  struct scsi_backend *be = scsi_lu_backend (e->lu[0]);
  size_t count = len >= 8 ? (len - 8) / 16 : 0;
  size_t bd = len >= 8 ? get_be16 (p + 2) / 16 : 0;
  uint8_t buf[512];

  for (size_t i = 0; i < count && i < bd && i < 4; i++) {
    uint64_t lba = get_be64 (p + 8 + 16 * i);
    if (get_be32 (p + 16 + 16 * i) == 0)
      continue;
    SFE_ASSERT (be->ops->pread (be, buf, sizeof buf, lba * 512) == 0);
    for (size_t k = 0; k < sizeof buf; k++)
      SFE_ASSERT (buf[k] == 0);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *d, size_t size)
{
  uint8_t cdb[10] = { 0x42 };
  struct scsi_cmd c;
  struct sfe e;
  size_t pll;

  if (size < 2)
    return 0;
  parse_alone (d + 2, size - 2, d[0]);
  pll = size - 2;
  if (d[1] & 0x80)
    pll += d[1] & 0x7f;               /* announce more than is sent */
  else
    pll -= pll < (d[1] & 0x7f) ? pll : (d[1] & 0x7f);
  if (pll > 0xffff)
    pll = 0xffff;
  put_be16 (cdb + 7, (uint16_t) pll);
  sfe_setup (&e);
  sfe_run (&e, 0, cdb, sizeof cdb, d + 2, size - 2, 0, &c);
  if (c.status == SCSI_STATUS_GOOD)
    check_zeroes (&e, d + 2, pll < size - 2 ? pll : size - 2);
  sfe_teardown (&e);
  return 0;
}
