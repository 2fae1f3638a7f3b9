/* xcopyd: INQUIRY — standard data and the VPD pages (SPC-4 6.6, 7.8).
 *
 * VPD pages come from one table of {page code, builder, present?}; page
 * 0x00 lists the table.  Pages: 0x00 Supported VPD Pages, 0x80 Unit
 * Serial Number, 0x83 Device Identification, 0x8F Third-party Copy (built
 * by the EXTENDED COPY code, see tpc.c), 0xB0 Block Limits, 0xB1 Block
 * Device Characteristics, 0xB2 Logical Block Provisioning (thin LUs).
 */
#include <stdlib.h>
#include <string.h>

#include "scsi-int.h"

#define STD_LEN 74                      /* through version descriptor 8 */

/* Version descriptors (SPC-4 table 144, "no version claimed"). */
#define VD_SAM5 0x00a0
#define VD_SPC4 0x0460
#define VD_SBC3 0x04c0

static void
pad (uint8_t *out, const char *s, size_t width)
{
  size_t n = strlen (s);

  memset (out, ' ', width);
  memcpy (out, s, n < width ? n : width);
}

/* ---- Standard INQUIRY data (SPC-4 6.6.2) ---- */

static size_t
standard_data (struct xs_task *t, uint8_t *d)
{
  struct scsi_lu *lu = t->lu;
  uint16_t tv = t->nexus->target->transport_version;

  memset (d, 0, STD_LEN);
  d[0] = lu ? 0x00 : 0x7f;      /* PQ 011b, type 1Fh: no LU here */
  d[2] = 0x06;                  /* VERSION: SPC-4 */
  d[3] = 0x12;                  /* HISUP, RESPONSE DATA FORMAT 2 */
  d[4] = STD_LEN - 5;
  if (xs_cmd_extended_copy_lid1.fn)
    d[5] |= 0x08;               /* 3PC */
  d[7] = 0x02;                  /* CMDQUE */
  pad (d + 8, lu ? lu->vendor : "XCOPYD", 8);
  pad (d + 16, lu ? lu->product : "", 16);
  pad (d + 32, lu ? lu->revision : "", 4);
  put_be16 (d + 58, VD_SAM5);
  put_be16 (d + 60, VD_SPC4);
  put_be16 (d + 62, VD_SBC3);
  if (tv)
    put_be16 (d + 64, tv);
  return STD_LEN;
}

/* ---- Designators (SPC-4 7.8.6) ---- */

struct desig_buf {
  uint8_t *out;
  size_t cap, len;
};

static void
put_desig (struct desig_buf *b, uint8_t code_set, uint8_t assoc,
           uint8_t type, const void *data, size_t n, size_t padded)
{
  uint8_t *e = b->out + b->len;

  if (b->len + 4 + padded <= b->cap) {
    memset (e, 0, 4 + padded);
    e[0] = code_set;
    e[1] = (uint8_t) (assoc << 4 | type);
    e[3] = (uint8_t) padded;
    memcpy (e + 4, data, n);
  }
  b->len += 4 + padded;
}

static void
lu_desigs (const struct scsi_lu *lu, struct desig_buf *b)
{
  uint8_t t10[8 + SCSI_SERIAL_MAX];
  size_t sn = strlen (lu->serial);

  /* 7.8.6.6.5 NAA IEEE Registered Extended: binary, LU, type 3. */
  put_desig (b, 1, 0, 3, lu->naa, 16, 16);
  /* 7.8.6.4 T10 vendor ID based: ASCII, LU, type 1: vendor + serial. */
  pad (t10, lu->vendor, 8);
  memcpy (t10 + 8, lu->serial, sn);
  put_desig (b, 2, 0, 1, t10, 8 + sn, 8 + sn);
}

size_t
xs_lu_designators (const struct scsi_lu *lu, uint8_t *out, size_t cap)
{
  struct desig_buf b = { out, cap, 0 };

  lu_desigs (lu, &b);
  return b.len;
}

/* 7.8.6.10 SCSI name string: UTF-8, NUL terminated, padded to 4. */
static void
put_name (struct desig_buf *b, uint8_t assoc, const char *name)
{
  size_t n = strlen (name);

  if (n > 250)
    return;
  put_desig (b, 3, assoc, 8, name, n, (n + 4) & ~(size_t) 3);
}

static enum xs_status
vpd_device_id (struct xs_task *t, uint8_t *out, size_t cap, size_t *len)
{
  struct scsi_nexus *n = t->nexus;
  struct desig_buf b = { out, cap, 0 };
  uint8_t rel[4] = { 0, 0, (uint8_t) (n->rel_port >> 8),
                     (uint8_t) n->rel_port };

  lu_desigs (t->lu, &b);
  put_desig (&b, 1, 1, 4, rel, 4, 4);   /* relative target port */
  if (n->target_port)
    put_name (&b, 1, n->target_port);   /* target port name */
  if (n->target->name)
    put_name (&b, 2, n->target->name);  /* target device name */
  *len = b.len < cap ? b.len : cap;
  return XS_GOOD;
}

/* ---- Other pages ---- */

static enum xs_status
vpd_serial (struct xs_task *t, uint8_t *out, size_t cap, size_t *len)
{
  size_t n = strlen (t->lu->serial);

  (void) cap;
  memcpy (out, t->lu->serial, n);
  *len = n;
  return XS_GOOD;
}

/* SBC-3 6.5.3 Block Limits. */
static enum xs_status
vpd_block_limits (struct xs_task *t, uint8_t *out, size_t cap, size_t *len)
{
  struct scsi_lu *lu = t->lu;
  uint64_t ws = lu->max_write_same;

  (void) cap;
  memset (out, 0, 0x3c);
  out[1] = xs_caw_max (lu);
  put_be16 (out + 2, (uint16_t) (1u << lu->phys_exp));
  put_be32 (out + 4, lu->max_xfer);
  put_be32 (out + 8, lu->opt_xfer);
  put_be32 (out + 12, lu->max_xfer);            /* MAXIMUM PREFETCH LENGTH */
  if (lu->thin) {
    put_be32 (out + 16, lu->max_unmap);
    put_be32 (out + 20, lu->max_unmap_desc);
    put_be32 (out + 24, lu->unmap_gran);
    out[28] = 0x80;                             /* UGAVALID, alignment 0 */
  }
  put_be64 (out + 32, ws);
  *len = 0x3c;
  return XS_GOOD;
}

/* SBC-3 6.5.2 Block Device Characteristics. */
static enum xs_status
vpd_block_chars (struct xs_task *t, uint8_t *out, size_t cap, size_t *len)
{
  (void) t;
  (void) cap;
  memset (out, 0, 0x3c);
  put_be16 (out, 0x0001);                       /* non-rotating medium */
  *len = 0x3c;
  return XS_GOOD;
}

/* SBC-3 6.5.4 Logical Block Provisioning. */
static enum xs_status
vpd_lbp (struct xs_task *t, uint8_t *out, size_t cap, size_t *len)
{
  (void) t;
  (void) cap;
  memset (out, 0, 4);
  out[1] = 0x80 | 0x40 | 0x20 | 0x04;   /* LBPU, LBPWS, LBPWS10, LBPRZ */
  out[2] = 0x02;                        /* PROVISIONING TYPE: thin */
  *len = 4;
  return XS_GOOD;
}

static enum xs_status
vpd_tpc (struct xs_task *t, uint8_t *out, size_t cap, size_t *len)
{
  return xs_vpd_third_party_copy (t, out, cap, len);
}

static bool
always (const struct scsi_lu *lu)
{
  (void) lu;
  return true;
}

static bool
if_thin (const struct scsi_lu *lu)
{
  return lu->thin;
}

static bool
if_tpc (const struct scsi_lu *lu)
{
  (void) lu;
  return xs_vpd_third_party_copy != NULL;
}

static enum xs_status vpd_supported (struct xs_task *t, uint8_t *out,
                                     size_t cap, size_t *len);

static const struct vpd_page {
  uint8_t code;
  xs_vpd_builder build;
  bool (*present) (const struct scsi_lu *lu);
} vpd_pages[] = {                       /* ascending (SPC-4 7.8.15) */
  { 0x00, vpd_supported, always },
  { 0x80, vpd_serial, always },
  { 0x83, vpd_device_id, always },
  { 0x8f, vpd_tpc, if_tpc },
  { 0xb0, vpd_block_limits, always },
  { 0xb1, vpd_block_chars, always },
  { 0xb2, vpd_lbp, if_thin },
};
#define NVPD (sizeof vpd_pages / sizeof vpd_pages[0])

static enum xs_status
vpd_supported (struct xs_task *t, uint8_t *out, size_t cap, size_t *len)
{
  size_t n = 0;

  (void) cap;
  for (size_t i = 0; i < NVPD; i++)
    if (vpd_pages[i].present (t->lu))
      out[n++] = vpd_pages[i].code;
  *len = n;
  return XS_GOOD;
}

static enum xs_status
vpd (struct xs_task *t, uint8_t code, size_t alloc)
{
  uint8_t *buf;
  size_t len = 0;
  enum xs_status s;

  for (size_t i = 0; i < NVPD; i++) {
    if (vpd_pages[i].code != code || !vpd_pages[i].present (t->lu))
      continue;
    if ((buf = calloc (1, XS_VPD_MAX)) == NULL)
      return XS_TASK_SET_FULL;
    s = vpd_pages[i].build (t, buf + 4, XS_VPD_MAX - 4, &len);
    buf[1] = code;
    put_be16 (buf + 2, (uint16_t) len);
    if (s == XS_GOOD)
      s = xs_reply (t, buf, 4 + len, alloc);
    free (buf);
    return s;
  }
  return xs_bad_cdb (t, 2, -1);
}

static enum xs_status
do_inquiry (struct xs_task *t)
{
  const uint8_t *c = t->cdb;
  size_t alloc = get_be16 (c + 3);
  uint8_t std[STD_LEN];

  if (c[1] & 0x02)
    return xs_bad_cdb (t, 1, 1);                /* CMDDT (obsolete) */
  if (c[1] & 0x01) {
    if (t->lu == NULL)
      return XS_LU_NOT_SUPPORTED;
    return vpd (t, c[2], alloc);
  }
  if (c[2] != 0)
    return xs_bad_cdb (t, 2, -1);
  return xs_reply (t, std, standard_data (t, std), alloc);
}

const struct xs_cmd_desc xs_cmd_inquiry = {
  .opcode = 0x12, .cdb_len = 6, .dir = SCSI_DIR_IN,
  .flags = XS_F_ANY_LUN | XS_F_NO_UA,
  .name = "INQUIRY", .fn = do_inquiry,
  .usage = { 0x12, 0x01, 0xff, 0xff, 0xff, 0x00 },
};
