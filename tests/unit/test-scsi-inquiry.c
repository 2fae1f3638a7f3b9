/* xcopyd: INQUIRY, standard data and VPD pages (daemon/scsi/inquiry.c). */
#include <string.h>

#include "scsi-harness.h"

/* SPC-4 6.6.2, table 139. */
static const uint8_t std_inquiry[74] = {
  0x00, 0x00, 0x06, 0x12, 69, 0x08, 0x00, 0x02,   /* 3PC */
  'X', 'C', 'O', 'P', 'Y', 'D', ' ', ' ',
  'x', 'c', 'o', 'p', 'y', 'd', ' ', 'd', 'i', 's', 'k', ' ', ' ', ' ', ' ',
  ' ',
  '0', '0', '0', '1',
  [58] = 0x00, 0xa0,            /* SAM-5 */
  0x04, 0x60,                   /* SPC-4 */
  0x04, 0xc0,                   /* SBC-3 */
  0x09, 0x60,                   /* iSCSI (the target's transport) */
};

static void
standard_data (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint64_t n;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x12, 0, 0, 0, 255, 0), NULL, 0, 255);
  SH_EXPECT_DATA (&cmd, ARR (std_inquiry));
  CHECK_INT (scsi_cmd_residual (&cmd.c, 255, &n), ==, SCSI_RESID_UNDER);
  CHECK_U64 (n, ==, 255 - 74);
  sh_cmd_free (&cmd);
  /* ALLOCATION LENGTH 5, then a transport buffer smaller than the data. */
  SH_RUN (&e, &cmd, BYTES (0x12, 0, 0, 0, 5, 0), NULL, 0, 255);
  SH_EXPECT_DATA_N (&cmd, std_inquiry, 5);
  sh_cmd_free (&cmd);
  SH_RUN (&e, &cmd, BYTES (0x12, 0, 0, 0, 255, 0), NULL, 0, 16);
  SH_EXPECT_DATA_N (&cmd, std_inquiry, 16);
  CHECK_INT (scsi_cmd_residual (&cmd.c, 16, &n), ==, SCSI_RESID_OVER);
  CHECK_U64 (n, ==, 74 - 16);
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

static void
invalid_fields (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x12, 0x02, 0, 0, 255, 0), NULL, 0, 255);
  SH_EXPECT_BAD_CDB (&cmd, 1, 1);                       /* CMDDT */
  SH_RUN (&e, &cmd, BYTES (0x12, 0x00, 0x80, 0, 255, 0), NULL, 0, 255);
  SH_EXPECT_BAD_CDB (&cmd, 2, -1);                      /* page, no EVPD */
  SH_RUN (&e, &cmd, BYTES (0x12, 0x01, 0x81, 0, 255, 0), NULL, 0, 255);
  SH_EXPECT_BAD_CDB (&cmd, 2, -1);                      /* no such page */
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* SPC-4 7.8.15 Supported VPD Pages, ascending; 0xB2 on thin LUs only. */
static void
vpd_supported (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x12, 0x01, 0x00, 0, 255, 0), NULL, 0, 255);
  SH_EXPECT_DATA (&cmd, BYTES (0x00, 0x00, 0x00, 0x07,
                               0x00, 0x80, 0x83, 0x8f, 0xb0, 0xb1, 0xb2));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* SPC-4 7.8.16 Unit Serial Number. */
static void
vpd_serial (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x12, 0x01, 0x80, 0, 255, 0), NULL, 0, 255);
  SH_EXPECT_DATA (&cmd, BYTES (0x00, 0x80, 0x00, 11, 's', 'h', '-', 's',
                               'e', 'r', 'i', 'a', 'l', '-', '0'));
  sh_cmd_free (&cmd);
  SH_RUN (&e, &cmd, BYTES (0x12, 0x01, 0x80, 0, 6, 0), NULL, 0, 255);
  SH_EXPECT_DATA (&cmd, BYTES (0x00, 0x80, 0x00, 11, 's', 'h'));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* SPC-4 7.8.6 Device Identification: NAA 6 and T10 vendor ID for the LU,
 * relative target port, target port name and target name.
 */
static void
vpd_device_id (void)
{
  static const char port[] = "iqn.2024-01.test:tgt,t,0x0001";
  static const char tgt[] = "iqn.2024-01.test:tgt";
  uint8_t want[4 + 20 + 23 + 8 + 36 + 28];
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t *p = want;

  sh_setup (&e, 1 * MiB, NULL);
  memset (want, 0, sizeof want);
  memcpy (p, (uint8_t[]) { 0x00, 0x83, 0x00, sizeof want - 4 }, 4);
  p += 4;
  memcpy (p, (uint8_t[]) { 0x01, 0x03, 0x00, 0x10 }, 4);
  memcpy (p + 4, scsi_lu_naa (e.lu), 16);
  p += 20;
  memcpy (p, "\x02\x01\x00\x13XCOPYD  sh-serial-0", 23);
  p += 23;
  memcpy (p, (uint8_t[]) { 0x01, 0x14, 0x00, 0x04, 0, 0, 0, 1 }, 8);
  p += 8;
  memcpy (p, (uint8_t[]) { 0x03, 0x18, 0x00, 32 }, 4);
  memcpy (p + 4, port, sizeof port - 1);
  p += 36;
  memcpy (p, (uint8_t[]) { 0x03, 0x28, 0x00, 24 }, 4);
  memcpy (p + 4, tgt, sizeof tgt - 1);
  SH_RUN (&e, &cmd, BYTES (0x12, 0x01, 0x83, 0x01, 0x00, 0), NULL, 0, 256);
  SH_EXPECT_DATA (&cmd, ARR (want));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* SBC-3 6.5.3 Block Limits with the default limits. */
static void
vpd_block_limits (void)
{
  uint8_t want[64] = {
    0x00, 0xb0, 0x00, 0x3c,
    0x00, 0xff, 0x00, 0x01,             /* CAW 255, granularity 1 */
    0x00, 0x00, 0x80, 0x00,             /* MAXIMUM TRANSFER 16 MiB */
    0x00, 0x00, 0x08, 0x00,             /* OPTIMAL TRANSFER 1 MiB */
    0x00, 0x00, 0x80, 0x00,             /* MAXIMUM PREFETCH */
    0x00, 0x10, 0x00, 0x00,             /* MAXIMUM UNMAP LBA COUNT 512 MiB */
    0x00, 0x00, 0x01, 0x00,             /* ... DESCRIPTOR COUNT 256 */
    0, 0, 0, 0,                         /* OPTIMAL UNMAP GRANULARITY: below */
    0x80, 0x00, 0x00, 0x00,             /* UGAVALID, alignment 0 */
    0, 0, 0, 0, 0x00, 0x20, 0x00, 0x00, /* MAXIMUM WRITE SAME 1 GiB */
  };
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  put_be32 (want + 28, e.lu->unmap_gran);
  CHECK (e.lu->unmap_gran >= 1);
  SH_RUN (&e, &cmd, BYTES (0x12, 0x01, 0xb0, 0, 255, 0), NULL, 0, 255);
  SH_EXPECT_DATA (&cmd, ARR (want));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* Configured limits, 4096-byte blocks, 8 logical per physical block. */
static void
vpd_block_limits_configured (void)
{
  struct scsi_lu_config cfg;
  struct sh_env e;
  struct sh_cmd cmd;

  sh_config (&cfg);
  cfg.block_size = 4096;
  cfg.phys_exp = 3;
  cfg.max_transfer = 256 * KiB;
  cfg.max_unmap = 8 * MiB;
  cfg.max_unmap_desc = 16;
  cfg.max_write_same = 4 * MiB;
  sh_setup (&e, 1 * MiB, &cfg);
  SH_RUN (&e, &cmd, BYTES (0x12, 0x01, 0xb0, 0, 255, 0), NULL, 0, 255);
  REQUIRE_INT (cmd.c.data_in_len, ==, 64);
  CHECK (memcmp (cmd.in + 4, (uint8_t[]) {
        0x00, 64, 0x00, 0x08, 0, 0, 0, 64, 0, 0, 0, 64, 0, 0, 0, 64,
        0, 0, 0x08, 0x00, 0, 0, 0, 16 }, 24) == 0);
  CHECK (memcmp (cmd.in + 36, (uint8_t[]) { 0, 0, 0, 0, 0, 0, 0x04, 0x00 },
                 8) == 0);
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

static void
vpd_characteristics_and_provisioning (void)
{
  uint8_t b1[64] = { 0x00, 0xb1, 0x00, 0x3c, 0x00, 0x01 };
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x12, 0x01, 0xb1, 0, 255, 0), NULL, 0, 255);
  SH_EXPECT_DATA (&cmd, ARR (b1));
  sh_cmd_free (&cmd);
  /* SBC-3 6.5.4: LBPU, LBPWS, LBPWS10, LBPRZ; thin provisioning. */
  SH_RUN (&e, &cmd, BYTES (0x12, 0x01, 0xb2, 0, 255, 0), NULL, 0, 255);
  SH_EXPECT_DATA (&cmd, BYTES (0x00, 0xb2, 0x00, 0x04, 0x00, 0xe4, 0x02,
                               0x00));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

static const struct h_test tests[] = {
  H_TEST (standard_data),
  H_TEST (invalid_fields),
  H_TEST (vpd_supported),
  H_TEST (vpd_serial),
  H_TEST (vpd_device_id),
  H_TEST (vpd_block_limits),
  H_TEST (vpd_block_limits_configured),
  H_TEST (vpd_characteristics_and_provisioning),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
