/* xcopyd: MODE SENSE and MODE SELECT (daemon/scsi/mode.c). */
#include <string.h>

#include "scsi-harness.h"

#define RW_RECOVERY 0x01, 0x0a, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0
#define CACHING(b2) 0x08, 0x12, b2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, \
    0, 0, 0, 0
#define CONTROL(b2) 0x0a, 0x0a, b2, 0x10, 0, 0, 0, 0, 0, 0, 0, 0

/* SPC-4 7.5.4-7.5.5 header, SBC-3 6.4.2 block descriptor, all pages. */
static void
sense6_all_pages (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x1a, 0x00, 0x3f, 0x00, 255, 0), NULL, 0, 255);
  SH_EXPECT_DATA (&cmd, BYTES (55, 0x00, 0x10, 8,
                               0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x02,
                               0x00,
                               RW_RECOVERY, CACHING (0x04),
                               CONTROL (0x02)));
  sh_cmd_free (&cmd);
  /* SUBPAGE FFh: all pages and subpages (we have no subpages). */
  SH_RUN (&e, &cmd, BYTES (0x1a, 0x08, 0x3f, 0xff, 255, 0), NULL, 0, 255);
  SH_EXPECT_DATA (&cmd, BYTES (47, 0x00, 0x10, 0, RW_RECOVERY,
                               CACHING (0x04), CONTROL (0x02)));
  sh_cmd_free (&cmd);
  /* ALLOCATION LENGTH 4 (libiscsi's ModeSense6.Residuals). */
  SH_RUN (&e, &cmd, BYTES (0x1a, 0x00, 0x3f, 0x00, 4, 0), NULL, 0, 4);
  SH_EXPECT_DATA (&cmd, BYTES (55, 0x00, 0x10, 8));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* MODE SENSE (10) with LLBAA: the long LBA block descriptor. */
static void
sense10_long_lba (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x5a, 0x10, 0x0a, 0, 0, 0, 0, 1, 0, 0), NULL, 0,
          256);
  SH_EXPECT_DATA (&cmd, BYTES (0, 34, 0x00, 0x10, 0x01, 0, 0, 16,
                               0, 0, 0, 0, 0, 0, 0x08, 0x00, 0, 0, 0, 0,
                               0, 0, 0x02, 0x00,
                               CONTROL (0x02)));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* PAGE CONTROL: changeable values are masks, defaults, saved refused. */
static void
sense_page_control (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x1a, 0x08, 0x40 | 0x3f, 0, 255, 0), NULL, 0,
          255);
  SH_EXPECT_DATA (&cmd, BYTES (47, 0, 0x10, 0,
                               0x01, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                               CACHING (0x04),
                               0x0a, 0x0a, 0x04, 0, 0x08, 0, 0, 0, 0, 0, 0,
                               0));
  sh_cmd_free (&cmd);
  SH_RUN (&e, &cmd, BYTES (0x1a, 0x08, 0x80 | 0x08, 0, 255, 0), NULL, 0,
          255);
  SH_EXPECT_DATA (&cmd, BYTES (23, 0, 0x10, 0, CACHING (0x04)));
  sh_cmd_free (&cmd);
  SH_RUN (&e, &cmd, BYTES (0x1a, 0x08, 0xc0 | 0x08, 0, 255, 0), NULL, 0,
          255);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x39, 0x00);
  SH_RUN (&e, &cmd, BYTES (0x1a, 0x08, 0x02, 0, 255, 0), NULL, 0, 255);
  SH_EXPECT_BAD_CDB (&cmd, 2, 5);
  SH_RUN (&e, &cmd, BYTES (0x1a, 0x08, 0x08, 0x01, 255, 0), NULL, 0, 255);
  SH_EXPECT_BAD_CDB (&cmd, 3, -1);
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* SBC-3 6.4.1: WP set on a read-only LU. */
static void
sense_write_protect_bit (void)
{
  struct scsi_lu_config cfg;
  struct sh_env e;
  struct sh_cmd cmd;

  sh_config (&cfg);
  cfg.read_only = true;
  sh_setup (&e, 1 * MiB, &cfg);
  SH_RUN (&e, &cmd, BYTES (0x1a, 0x08, 0x0a, 0, 255, 0), NULL, 0, 255);
  SH_EXPECT_DATA (&cmd, BYTES (15, 0, 0x90, 0, CONTROL (0x02)));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* SPC-4 7.5.8 SWP through MODE SELECT (6): WP in MODE SENSE, writes
 * (WRITE, WRITE SAME, UNMAP, EXTENDED COPY into the LU) refused with DATA
 * PROTECT, WRITE PROTECTED and nothing written, reads still served; a LU
 * reset clears it.
 */
static void
select_software_write_protect (void)
{
  static const uint8_t swp[] = { 0, 0, 0, 0, 0x0a, 0x0a, 0x02, 0x10, 0x08,
                                 0, 0, 0, 0, 0, 0, 0 };
  static const uint8_t ctl_swp[] = { 15, 0, 0x90, 0, 0x0a, 0x0a, 0x02, 0x10,
                                     0x08, 0, 0, 0, 0, 0, 0, 0 };
  static const uint8_t ctl[] = { 15, 0, 0x10, 0, CONTROL (0x02) };
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16], block[512], zero[512] = { 0 }, back[512];
  uint8_t unmap[24] = { 0, 22, 0, 16, 0, 0, 0, 0,
                        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0 };

  memset (block, 0x5a, sizeof block);
  sh_setup (&e, 1 * MiB, NULL);
  h_pwrite_all (e.fd, block, sizeof block, 0);
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, sizeof swp, 0), ARR (swp), 0);
  SH_EXPECT_GOOD (&cmd);
  SH_RUN (&e, &cmd, BYTES (0x1a, 0x08, 0x0a, 0, 255, 0), NULL, 0, 255);
  SH_EXPECT_DATA (&cmd, ARR (ctl_swp));
  sh_cmd_free (&cmd);
  sh_cdb10 (cdb, 0x2a, 0, 0, 1);
  SH_RUN (&e, &cmd, cdb, 10, ARR (zero), 0);
  SH_EXPECT_PLAIN (&cmd, 0x07, 0x27, 0x00);
  sh_cdb10 (cdb, 0x41, 0, 0, 1);
  SH_RUN (&e, &cmd, cdb, 10, ARR (zero), 0);
  SH_EXPECT_PLAIN (&cmd, 0x07, 0x27, 0x00);
  SH_RUN (&e, &cmd, BYTES (0x42, 0, 0, 0, 0, 0, 0, 0, sizeof unmap, 0),
          ARR (unmap), 0);
  SH_EXPECT_PLAIN (&cmd, 0x07, 0x27, 0x00);
  h_pread_all (e.fd, back, sizeof back, 0);
  CHECK (memcmp (back, block, sizeof block) == 0);
  sh_cdb10 (cdb, 0x28, 0, 0, 1);
  SH_RUN (&e, &cmd, cdb, 10, NULL, 0, 512);
  SH_EXPECT_DATA (&cmd, ARR (block));
  sh_cmd_free (&cmd);
  scsi_lu_reset (e.lu);
  SH_RUN (&e, &cmd, BYTES (0x00, 0, 0, 0, 0, 0), NULL, 0, 0);  /* the UA */
  SH_RUN (&e, &cmd, BYTES (0x1a, 0x08, 0x0a, 0, 255, 0), NULL, 0, 255);
  SH_EXPECT_DATA (&cmd, ARR (ctl));
  sh_cmd_free (&cmd);
  sh_cdb10 (cdb, 0x2a, 0, 0, 1);
  SH_RUN (&e, &cmd, cdb, 10, ARR (zero), 0);
  SH_EXPECT_GOOD (&cmd);
  h_pread_all (e.fd, back, sizeof back, 0);
  CHECK (memcmp (back, zero, sizeof zero) == 0);
  sh_teardown (&e);
}

/* WCE=0 through MODE SELECT (10): writes become durable before status. */
static void
select_write_cache (void)
{
  static const uint8_t ms[] = { 0, 0, 0, 0, 0, 0, 0, 0, CACHING (0x00) };
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[10], block[512] = { 1 };
  unsigned long syncs;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x55, 0x10, 0, 0, 0, 0, 0, 0, sizeof ms, 0), ms,
          sizeof ms, 0);
  SH_EXPECT_GOOD (&cmd);
  CHECK (!xs_lu_wce (e.lu));
  syncs = h_ncalls (H_FDATASYNC);
  sh_cdb10 (cdb, 0x2a, 0, 0, 1);
  SH_RUN (&e, &cmd, ARR (cdb), block, sizeof block, 0);
  SH_EXPECT_GOOD (&cmd);
  CHECK_U64 (h_ncalls (H_FDATASYNC), ==, syncs + 1);
  SH_RUN (&e, &cmd, BYTES (0x1a, 0x08, 0x08, 0, 255, 0), NULL, 0, 255);
  SH_EXPECT_DATA (&cmd, BYTES (23, 0, 0x10, 0, CACHING (0x00)));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* SPC-4 6.9: every way a parameter list can be wrong. */
static void
select_errors (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t p[4 + 8 + 20];

  sh_setup (&e, 1 * MiB, NULL);
  /* SP=1: nothing can be saved. */
  SH_RUN (&e, &cmd, BYTES (0x15, 0x11, 0, 0, 0, 0), NULL, 0, 0);
  SH_EXPECT_BAD_CDB (&cmd, 1, 0);
  /* PARAMETER LIST LENGTH 0: nothing to do. */
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, 0, 0), NULL, 0, 0);
  SH_EXPECT_GOOD (&cmd);
  /* Shorter than the header. */
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, 3, 0), BYTES (0, 0, 0), 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x1a, 0x00);
  /* Data-out shorter than the PARAMETER LIST LENGTH. */
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, 16, 0), BYTES (0, 0, 0, 0), 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x0e, 0x03);
  /* A non-changeable bit: RCD, caching page byte 2 bit 0. */
  memset (p, 0, sizeof p);
  memcpy (p + 4, (uint8_t[]) { CACHING (0x05) }, 20);
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, 24, 0), p, 24, 0);
  SH_EXPECT_BAD_PARAM (&cmd, 6, 0);
  /* Wrong PAGE LENGTH. */
  p[5] = 0x10;
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, 24, 0), p, 24, 0);
  SH_EXPECT_BAD_PARAM (&cmd, 5, -1);
  /* A page we do not have, a subpage format page. */
  p[4] = 0x1c;
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, 24, 0), p, 24, 0);
  SH_EXPECT_BAD_PARAM (&cmd, 4, 5);
  p[4] = 0x48;
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, 24, 0), p, 24, 0);
  SH_EXPECT_BAD_PARAM (&cmd, 4, 6);
  /* A page cut short by the PARAMETER LIST LENGTH. */
  memcpy (p + 4, (uint8_t[]) { CACHING (0x04) }, 20);
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, 20, 0), p, 20, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x1a, 0x00);
  /* MEDIUM TYPE. */
  p[1] = 1;
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, 24, 0), p, 24, 0);
  SH_EXPECT_BAD_PARAM (&cmd, 1, -1);
  p[1] = 0;
  /* The same page again, unchanged: fine. */
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, 24, 0), p, 24, 0);
  SH_EXPECT_GOOD (&cmd);
  sh_teardown (&e);
}

/* A block descriptor may restate the geometry but not change it. */
static void
select_block_descriptor (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t p[4 + 8 + 12] = {
    0, 0, 0, 8, 0, 0, 0x08, 0x00, 0, 0, 0x02, 0x00, CONTROL (0x02) };

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, sizeof p, 0), ARR (p), 0);
  SH_EXPECT_GOOD (&cmd);
  p[10] = 0x10;                         /* 4096-byte blocks */
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, sizeof p, 0), ARR (p), 0);
  SH_EXPECT_BAD_PARAM (&cmd, 9, -1);
  p[10] = 0x02;
  p[6] = 0x01;                          /* another block count */
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, sizeof p, 0), ARR (p), 0);
  SH_EXPECT_BAD_PARAM (&cmd, 4, -1);
  p[3] = 4;                             /* BLOCK DESCRIPTOR LENGTH 4 */
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, sizeof p, 0), ARR (p), 0);
  SH_EXPECT_BAD_PARAM (&cmd, 3, -1);
  p[3] = 100;                           /* past the list */
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, sizeof p, 0), ARR (p), 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x1a, 0x00);
  sh_teardown (&e);
}

static const struct h_test tests[] = {
  H_TEST (sense6_all_pages),
  H_TEST (sense10_long_lba),
  H_TEST (sense_page_control),
  H_TEST (sense_write_protect_bit),
  H_TEST (select_write_cache),
  H_TEST (select_software_write_protect),
  H_TEST (select_errors),
  H_TEST (select_block_descriptor),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
