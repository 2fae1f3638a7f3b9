/* xcopyd: EXTENDED COPY (LID1) errors, each with its exact sense data
 * (fixed format unless said; SPC-4 4.5.3, 4.5.2.4).
 *
 * Layers 1-3 (the list itself) end ILLEGAL REQUEST with a field pointer
 * into the parameter list (C/D = 0); layer 4 (the LUs) ends COPY ABORTED
 * with the segment in COMMAND-SPECIFIC INFORMATION, its uncopied count in
 * INFORMATION and a segment pointer (SD = 1: into the segment descriptor,
 * SD = 0: into the parameter list).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi-xcopy-lists.h"

/* ILLEGAL REQUEST, asc/ascq, field pointer into the parameter list. */
static const uint8_t *
param_sense (uint8_t asc, uint8_t ascq, unsigned byte, int bit)
{
  static uint8_t s[18];

  memcpy (s, sh_field_sense (asc, false, byte, bit), 18);
  s[13] = ascq;
  return s;
}

#define EXPECT_PARAM(cmd, asc, ascq, byte, bit)                         \
  sh_expect_sense (__FILE__, __LINE__, (cmd),                           \
                   param_sense ((asc), (ascq), (byte), (bit)), 18)

/* COPY ABORTED, asc/ascq, INFORMATION info, segment seg, segment pointer
 * (sd, byte, bit), or none with byte NO_SKS.
 */
#define NO_SKS 0xffffffffu
static const uint8_t *
copy_sense (uint8_t asc, uint8_t ascq, uint32_t info, uint32_t seg, bool sd,
            unsigned byte, int bit)
{
  static uint8_t s[18];

  memset (s, 0, sizeof s);
  s[0] = 0xf0;
  s[2] = 0x0a;
  put_be32 (s + 3, info);
  s[7] = 10;
  put_be32 (s + 8, seg);
  s[12] = asc;
  s[13] = ascq;
  if (byte == NO_SKS)
    return s;
  s[15] = (uint8_t) (0x80 | (sd ? 0x20 : 0) | (bit >= 0 ? 0x08 | bit : 0));
  put_be16 (s + 16, (uint16_t) byte);
  return s;
}

#define EXPECT_COPY(cmd, asc, ascq, info, seg, sd, byte, bit)           \
  sh_expect_sense (__FILE__, __LINE__, (cmd),                           \
                   copy_sense ((asc), (ascq), (info), (seg), (sd),      \
                               (byte), (bit)), 18)

/* Run a list given as bytes, PARAMETER LIST LENGTH pll. */
static void
run_bytes (struct sh_env *e, struct sh_cmd *cmd, const uint8_t *p,
           size_t len, uint32_t pll)
{
  uint8_t cdb[16];

  xl_cdb (cdb, pll);
  SH_RUN (e, cmd, ARR (cdb), p, len, 0);
}

/* A valid list: one CSCD (e's LU), one 02h segment of 4 blocks. */
static void
simple (struct sh_env *e, struct xl *x, uint8_t usage)
{
  xl_init (x, 0, usage);
  xl_cscd_lu (x, e->lu);
  xl_b2b (x, 0, 0, 0, 4, 0, 100);
}

/* SPC-4 6.4.3: lengths.  PARAMETER LIST LENGTH 0 is no copy; shorter
 * than the header, or cutting a descriptor short (libiscsi
 * ExtendedCopy.Param), or descriptor lists longer than MAXIMUM
 * DESCRIPTOR LIST LENGTH (ExtendedCopy.DescrLimits) is PARAMETER LIST
 * LENGTH ERROR; data-out shorter than announced is the transport's
 * error.
 */
static void
lengths (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  struct xl x;
  uint8_t *p;
  size_t len;

  sh_setup (&e, 1 * MiB, NULL);
  simple (&e, &x, 0);
  p = xl_bytes (&x, &len);
  run_bytes (&e, &cmd, p, len, 0);
  SH_EXPECT_GOOD (&cmd);
  run_bytes (&e, &cmd, p, 15, 15);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x1a, 0x00);
  run_bytes (&e, &cmd, p, 16 + 31, 16 + 31);            /* CSCD cut */
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x1a, 0x00);
  run_bytes (&e, &cmd, p, len - 1, (uint32_t) len - 1); /* segment cut */
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x1a, 0x00);
  run_bytes (&e, &cmd, p, len - 1, (uint32_t) len);     /* data-out short */
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x0e, 0x03);
  put_be32 (p + 8, 34816 - 32 + 1);                     /* over the maximum */
  run_bytes (&e, &cmd, p, len, (uint32_t) len);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x1a, 0x00);
  free (p);
  xl_free (&x);
  sh_teardown (&e);
}

/* Header fields: LIST ID USAGE 01b is reserved, 11b needs LIST
 * IDENTIFIER 0, inline data is not taken (MAXIMUM INLINE DATA LENGTH 0).
 */
static void
header_fields (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  struct xl x;
  uint8_t *p;
  size_t len;

  sh_setup (&e, 1 * MiB, NULL);
  simple (&e, &x, 1);
  xl_run (e.nexus, 0, &cmd, &x);
  EXPECT_PARAM (&cmd, 0x26, 0x00, 1, 4);
  xl_free (&x);
  simple (&e, &x, 3);
  x.hdr[0] = 5;
  xl_run (e.nexus, 0, &cmd, &x);
  EXPECT_PARAM (&cmd, 0x26, 0x00, 0, -1);
  x.hdr[0] = 0;
  p = xl_bytes (&x, &len);
  put_be32 (p + 12, 4);
  p = realloc (p, len + 4);
  run_bytes (&e, &cmd, p, len + 4, (uint32_t) len + 4);
  EXPECT_PARAM (&cmd, 0x26, 0x00, 12, -1);
  free (p);
  xl_free (&x);
  sh_teardown (&e);
}

/* SPC-4 6.4.5: CSCD descriptors.  More than MAXIMUM CSCD DESCRIPTOR
 * COUNT (64) is 26/06, a type other than E4h 26/07 (libiscsi
 * ExtendedCopy.DescrType sends E0h), then the E4h fields we check.  LU
 * ID TYPE is ignored (libiscsi ExtendedCopy.ValidateTgtDescr).
 */
static void
cscd_descriptors (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  struct xl x;
  uint8_t d[32];

  sh_setup (&e, 1 * MiB, NULL);
  xl_init (&x, 0, 0);
  for (int i = 0; i < 65; i++)
    xl_cscd_lu (&x, e.lu);
  xl_b2b (&x, 0, 0, 0, 4, 0, 100);
  xl_run (e.nexus, 0, &cmd, &x);
  EXPECT_PARAM (&cmd, 0x26, 0x06, 2, -1);
  xl_free (&x);

  xl_cscd_bytes (e.lu, d);
  for (int c = 0; c < 6; c++) {
    uint8_t bad[32];
    memcpy (bad, d, 32);
    xl_init (&x, 0, 0);
    xl_cscd_lu (&x, e.lu);
    switch (c) {
    case 0: bad[0] = 0xe0; break;                       /* FC N_Port_Name */
    case 1: bad[1] |= 0x20; break;                      /* NUL */
    case 2: bad[7] = 21; break;                         /* DESIGNATOR LENGTH */
    case 3: put_be24 (bad + 29, 0); break;              /* DISK BLOCK LENGTH */
    case 4: bad[1] |= 0xc0; break;                      /* LU ID TYPE 11b */
    case 5: bad[0] = 0xe4; break;
    }
    xl_cscd_raw (&x, bad);
    xl_b2b (&x, 0, 0, 0, 4, 0, 100);
    xl_run (e.nexus, 0, &cmd, &x);
    switch (c) {
    case 0: EXPECT_PARAM (&cmd, 0x26, 0x07, 48, -1); break;
    case 1: EXPECT_PARAM (&cmd, 0x26, 0x00, 49, 5); break;
    case 2: EXPECT_PARAM (&cmd, 0x26, 0x00, 48 + 7, -1); break;
    case 3: EXPECT_PARAM (&cmd, 0x26, 0x00, 48 + 29, -1); break;
    default: SH_EXPECT_GOOD (&cmd); break;
    }
    xl_free (&x);
  }
  /* A CSCD DESCRIPTOR LIST LENGTH that is not a multiple of 32. */
  xl_init (&x, 0, 0);
  xl_cscd_lu (&x, e.lu);
  xl_cscd_lu (&x, e.lu);
  x.cscd_len = 40;
  xl_run (e.nexus, 0, &cmd, &x);
  EXPECT_PARAM (&cmd, 0x26, 0x00, 2, -1);
  xl_free (&x);
  sh_teardown (&e);
}

/* SPC-4 6.4.6: segment descriptors.  More than MAXIMUM SEGMENT
 * DESCRIPTOR COUNT (1024) is 26/08, a type other than 02h and 0Ah 26/09
 * (libiscsi sends stream -> stream, 03h), a wrong DESCRIPTOR LENGTH or a
 * list that cuts the last one short 26/00; a 02h segment that does not
 * fill whole blocks on both sides 26/0A; a byte offset not inside the
 * first block 26/00.
 */
static void
segment_descriptors (void)
{
  static const uint8_t stream[20] = { 0x03, 0, 0x00, 0x10 };
  struct sh_env e;
  struct sh_cmd cmd;
  struct scsi_lu *b;
  struct xl x;

  sh_setup (&e, 1 * MiB, NULL);
  xl_init (&x, 0, 0);
  xl_cscd_lu (&x, e.lu);
  for (int i = 0; i < 1025; i++)
    xl_b2b (&x, 0, 0, 0, 1, 0, 100);
  xl_run (e.nexus, 0, &cmd, &x);
  EXPECT_PARAM (&cmd, 0x26, 0x08, 8, -1);
  xl_free (&x);

  simple (&e, &x, 0);
  xl_seg_raw (&x, stream, sizeof stream);
  xl_run (e.nexus, 0, &cmd, &x);
  EXPECT_PARAM (&cmd, 0x26, 0x09, 16 + 32 + 28, -1);
  xl_free (&x);

  simple (&e, &x, 0);
  x.seg[3] = 0x1c;
  xl_run (e.nexus, 0, &cmd, &x);
  EXPECT_PARAM (&cmd, 0x26, 0x00, 16 + 32 + 2, -1);
  x.seg[3] = 0x18;
  x.seg_len = 20;
  xl_run (e.nexus, 0, &cmd, &x);
  EXPECT_PARAM (&cmd, 0x26, 0x00, 8, -1);
  x.seg_len = 6;
  xl_run (e.nexus, 0, &cmd, &x);
  EXPECT_PARAM (&cmd, 0x26, 0x00, 8, -1);
  xl_free (&x);

  b = sh_new_lu (1 * MiB, &(struct scsi_lu_config) {
      .serial = "four-k", .block_size = 4096 }, NULL, NULL);
  REQUIRE (scsi_target_add_lu (e.target, 1, b) == 0);
  sh_clear_ua (&e);
  xl_init (&x, 0, 0);
  xl_cscd_lu (&x, e.lu);
  xl_cscd_lu (&x, b);
  xl_b2b (&x, 0, 0, 1, 8, 0, 0);                /* 4096 bytes: exact */
  xl_b2b (&x, 0, 0, 1, 9, 0, 0);                /* 4608: inexact */
  xl_run (e.nexus, 0, &cmd, &x);
  EXPECT_PARAM (&cmd, 0x26, 0x0a, 16 + 64 + 28 + 10, -1);
  xl_free (&x);
  xl_init (&x, 0, 0);
  xl_cscd_lu (&x, e.lu);
  xl_cscd_lu (&x, b);
  xl_b2b_off (&x, 1, 0, 10, 0, 0, 4095, 0);     /* offsets inside */
  xl_b2b_off (&x, 1, 0, 10, 0, 0, 0, 512);      /* 512 >= 512 */
  xl_run (e.nexus, 0, &cmd, &x);
  EXPECT_PARAM (&cmd, 0x26, 0x00, 16 + 64 + 32 + 30, -1);
  xl_free (&x);
  scsi_lu_unref (b);
  sh_teardown (&e);
}

/* Layer 4: CSCD indexes past the list (libiscsi ExtendedCopy.
 * ValidateSegDescr), designators no accessible LU has, device type and
 * block length, copies past the end (source or destination), a
 * read-only destination.  Nothing is copied.
 */
static void
copy_aborted (void)
{
  struct scsi_lu_config cfg;
  struct sh_env e;
  struct sh_cmd cmd;
  struct scsi_lu *ro;
  struct xl x;
  uint8_t d[32];

  sh_setup (&e, 1 * MiB, NULL);                 /* 2048 blocks */
  xl_cscd_bytes (e.lu, d);
  for (int c = 0; c < 7; c++) {
    xl_init (&x, 0, 0);
    xl_cscd_lu (&x, e.lu);
    if (c == 2)
      d[20] ^= 0xff;                            /* a designator nobody has */
    if (c == 3)
      d[1] = 0x01;                              /* sequential-access */
    if (c == 4)
      put_be24 (d + 29, 4096);
    xl_cscd_raw (&x, d);
    xl_b2b (&x, 0, 0, 0, 1, 0, 100);            /* fine: segment 0 */
    switch (c) {
    case 0: xl_b2b (&x, 0, 0, 2, 6, 0, 0); break;
    case 1: xl_b2b (&x, 0, 9, 0, 6, 0, 0); break;
    case 2: case 3: xl_b2b (&x, 0, 0, 1, 6, 0, 0); break;
    case 4: xl_b2b (&x, 0, 1, 0, 6, 0, 0); break;       /* exact either way */
    case 5: xl_b2b (&x, 0, 0, 0, 6, 2043, 0); break;
    case 6: xl_b2b (&x, 0, 0, 0, 6, 0, 2043); break;
    }
    xl_run (e.nexus, 0, &cmd, &x);
    switch (c) {
    case 0: EXPECT_COPY (&cmd, 0x08, 0x04, 6, 1, true, 6, -1); break;
    case 1: EXPECT_COPY (&cmd, 0x08, 0x04, 6, 1, true, 4, -1); break;
    case 2: EXPECT_COPY (&cmd, 0x08, 0x04, 6, 1, false, 52, -1); break;
    case 3: EXPECT_COPY (&cmd, 0x0d, 0x03, 6, 1, false, 49, 4); break;
    case 4: EXPECT_COPY (&cmd, 0x0d, 0x03, 6, 1, false, 48 + 29, -1); break;
    case 5: EXPECT_COPY (&cmd, 0x00, 0x00, 6, 1, true, 12, -1); break;
    case 6: EXPECT_COPY (&cmd, 0x00, 0x00, 6, 1, true, 20, -1); break;
    }
    xl_cscd_bytes (e.lu, d);
    xl_free (&x);
  }
  CHECK (h_is_hole (e.fd, 0, 1 * MiB) || !h_holes_work ());
  /* A read-only destination: DATA PROTECT, WRITE PROTECTED. */
  sh_config (&cfg);
  cfg.serial = "read-only";
  cfg.read_only = true;
  ro = sh_new_lu (1 * MiB, &cfg, NULL, NULL);
  REQUIRE (scsi_target_add_lu (e.target, 3, ro) == 0);
  sh_clear_ua (&e);
  xl_init (&x, 0, 0);
  xl_cscd_lu (&x, e.lu);
  xl_cscd_lu (&x, ro);
  xl_b2b (&x, 0, 1, 0, 1, 0, 0);                /* from it: fine */
  xl_b2b (&x, 0, 0, 1, 1, 0, 0);                /* to it */
  xl_run (e.nexus, 0, &cmd, &x);
  SH_EXPECT_PLAIN (&cmd, 0x07, 0x27, 0x00);
  xl_free (&x);
  scsi_lu_unref (ro);
  sh_teardown (&e);
}

/* Errors while copying, from a backend that fails segment 1: ENOSPC is
 * SPACE ALLOCATION FAILED WRITE PROTECT, others THIRD PARTY DEVICE
 * FAILURE, a lost connection COPY TARGET DEVICE NOT REACHABLE; 0Ah
 * segments count bytes in INFORMATION.
 */
static void
backend_errors (void)
{
  static const struct { int err; uint8_t asc, ascq; } cases[] = {
    { ENOSPC, 0x27, 0x07 }, { EIO, 0x0d, 0x01 }, { ENOTCONN, 0x0d, 0x02 },
  };
  struct scsi_lu_config cfg;
  struct xw_ctl c;
  struct sh_env e;
  struct sh_cmd cmd;
  struct scsi_lu *w;
  struct xl x;

  xw_init (&c);
  c.fail_at = 1;
  sh_setup (&e, 64 * KiB, NULL);
  sh_config (&cfg);
  cfg.serial = "failing";
  w = xw_new_lu (1 * MiB, &cfg, &c, NULL);
  REQUIRE (scsi_target_add_lu (e.target, 1, w) == 0);
  sh_clear_ua (&e);
  for (size_t i = 0; i < ARRAY_SIZE (cases); i++) {
    c.fail_err = cases[i].err;
    xl_init (&x, 0, 3);
    xl_cscd_lu (&x, w);
    xl_b2b (&x, 0, 0, 0, 3, 0, 100);
    xl_b2b_off (&x, 0, 0, 1000, 10, 200, 0, 0);
    xl_run (e.nexus, 0, &cmd, &x);
    EXPECT_COPY (&cmd, cases[i].asc, cases[i].ascq, 1000, 1, false, NO_SKS,
                 -1);
    xl_free (&x);
  }
  scsi_lu_unref (w);
  sh_teardown (&e);
}

/* D_SENSE = 1 (control mode page): the same errors in descriptor format
 * (SPC-4 4.5.2): information, command-specific information and
 * sense-key specific descriptors.
 */
static void
descriptor_format (void)
{
  static const uint8_t ms[] = {
    0, 0, 0, 0, 0x0a, 0x0a, 0x06, 0x10, 0, 0, 0, 0, 0, 0, 0, 0,
  };
  struct sh_env e;
  struct sh_cmd cmd;
  struct xl x;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, sizeof ms, 0), ms, sizeof ms,
          0);
  SH_EXPECT_GOOD (&cmd);
  simple (&e, &x, 0);
  xl_b2b (&x, 0, 0, 1, 6, 0, 0);                /* index 1: no such CSCD */
  xl_run (e.nexus, 0, &cmd, &x);
  SH_EXPECT_SENSE (&cmd, BYTES (0x72, 0x0a, 0x08, 0x04, 0, 0, 0, 32,
                                0x00, 0x0a, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 6,
                                0x01, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                                0x02, 0x06, 0, 0, 0xa0, 0x00, 0x06, 0));
  xl_free (&x);
  simple (&e, &x, 1);                           /* LIST ID USAGE 01b */
  xl_run (e.nexus, 0, &cmd, &x);
  SH_EXPECT_SENSE (&cmd, BYTES (0x72, 0x05, 0x26, 0x00, 0, 0, 0, 8,
                                0x02, 0x06, 0, 0, 0x8c, 0x00, 0x01, 0));
  xl_free (&x);
  sh_teardown (&e);
}

static const struct h_test tests[] = {
  H_TEST (lengths),
  H_TEST (header_fields),
  H_TEST (cscd_descriptors),
  H_TEST (segment_descriptors),
  H_TEST (copy_aborted),
  H_TEST (backend_errors),
  H_TEST (descriptor_format),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
