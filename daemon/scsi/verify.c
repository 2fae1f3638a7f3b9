/* xcopyd: VERIFY (10) (12) (16), and the compare that VERIFY, WRITE AND
 * VERIFY and COMPARE AND WRITE share.
 *
 * SBC-3 5.29-5.31: BYTCHK 00b checks only that the range is valid (the
 * backend has no separate medium verification to run), 01b compares the
 * data-out with the blocks, 11b compares one data-out block with each
 * block.  A difference ends in MISCOMPARE, MISCOMPARE DURING VERIFY
 * OPERATION, with the byte offset of the first difference in INFORMATION.
 */
#include <stdlib.h>
#include <string.h>

#include "scsi-int.h"
#include "minmax.h"

#define PIECE (UINT64_C (1) << 20)

/* First index where a and b differ, or n. */
static size_t
first_diff (const uint8_t *a, const uint8_t *b, size_t n)
{
  size_t i = 0;

  if (memcmp (a, b, n) == 0)
    return n;
  while (a[i] == b[i])
    i++;
  return i;
}

/* Compare got[0, n), which sits at offset pos of the range, with want. */
static size_t
diff_piece (const uint8_t *got, const uint8_t *want, uint64_t pos, size_t n,
            size_t patlen)
{
  if (patlen == 0)
    return first_diff (got, want + pos, n);
  for (size_t i = 0; i < n;) {
    size_t at = (size_t) ((pos + i) % patlen);
    size_t k = MIN (n - i, patlen - at);
    size_t d = first_diff (got + i, want + at, k);
    if (d < k)
      return i + d;
    i += k;
  }
  return n;
}

enum xs_status
xs_compare (struct xs_task *t, uint64_t off, const uint8_t *want,
            uint64_t len, size_t patlen)
{
  uint8_t *buf = malloc ((size_t) MIN (len, PIECE) + 1);
  enum xs_status s = XS_GOOD;

  if (buf == NULL)
    return XS_TASK_SET_FULL;
  for (uint64_t pos = 0; pos < len && s == XS_GOOD;) {
    size_t n = (size_t) MIN (len - pos, PIECE), d;
    if ((s = xs_be_read (t, buf, n, off + pos)) != XS_GOOD)
      break;
    d = diff_piece (buf, want, pos, n, patlen);
    if (d < n) {
      xs_set_info (t, pos + d);
      s = XS_MISCOMPARE;
    }
    pos += n;
  }
  free (buf);
  return s;
}

static enum xs_status
do_verify (struct xs_task *t)
{
  struct scsi_lu *lu = t->lu;
  struct xs_lba_cdb c;
  const uint8_t *data;
  unsigned bytchk;
  uint64_t len;
  enum xs_status s;

  xs_parse_lba (t, &c);
  bytchk = (c.byte1 >> 1) & 3;
  len = c.nblocks << lu->block_shift;
  if (c.byte1 & 0xe0)
    return xs_bad_cdb (t, 1, 7);                /* VRPROTECT */
  if (bytchk == 2)
    return xs_bad_cdb (t, 1, 2);
  if (c.nblocks > lu->max_xfer)
    return xs_bad_cdb (t, c.len_at, -1);
  if ((s = xs_check_lba (t, c.lba, c.nblocks)) != XS_GOOD || bytchk == 0
      || c.nblocks == 0)
    return s;
  s = xs_data_out (t, bytchk == 1 ? len : lu->block_size, &data);
  if (s != XS_GOOD)
    return s;
  return xs_compare (t, c.lba << lu->block_shift, data, len,
                     bytchk == 3 ? lu->block_size : 0);
}

#define U32 0xff, 0xff, 0xff, 0xff
#define VERIFY_DESC(name_, op, len, ...)                                \
  const struct xs_cmd_desc name_ = {                                    \
    .opcode = op, .cdb_len = len, .dir = SCSI_DIR_OUT,                  \
    .name = "VERIFY (" #len ")", .fn = do_verify,                       \
    .usage = { __VA_ARGS__ } }

VERIFY_DESC (xs_cmd_verify10, 0x2f, 10, 0x2f, 0x16, U32, 0x00, 0xff, 0xff,
             0x00);
VERIFY_DESC (xs_cmd_verify12, 0xaf, 12, 0xaf, 0x16, U32, U32, 0x00, 0x00);
VERIFY_DESC (xs_cmd_verify16, 0x8f, 16, 0x8f, 0x16, U32, U32, U32, 0x00,
             0x00);
