/* xcopyd: RECEIVE COPY RESULTS (daemon/scsi/copy_results.c,
 * copy_state.c), the Third-party Copy VPD page (tpc_vpd.c) and how
 * INQUIRY and REPORT SUPPORTED OPERATION CODES announce EXTENDED COPY.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi-xcopy-lists.h"

static void
rcr (struct sh_env *e, struct sh_cmd *cmd, uint8_t sa, uint8_t list_id,
     uint32_t alloc, size_t cap)
{
  uint8_t cdb[16];

  xl_rcr_cdb (cdb, sa, list_id, alloc);
  SH_RUN (e, cmd, ARR (cdb), NULL, 0, cap);
}

/* RECEIVE COPY OPERATING PARAMETERS: what libiscsi's ExtendedCopy tests
 * size their lists by (at least 40 bytes), and ALLOCATION LENGTH cuts it.
 */
static void
operating_params (void)
{
  static const uint8_t want[47] = {
    0x00, 0x00, 0x00, 0x2b,                     /* AVAILABLE DATA */
    0x01, 0x00, 0x00, 0x00,                     /* SNLID */
    0x00, 0x40,                                 /* 64 CSCD descriptors */
    0x04, 0x00,                                 /* 1024 segment descriptors */
    0x00, 0x00, 0x88, 0x00,                     /* descriptor lists: 34816 */
    0xff, 0xff, 0xff, 0xff,                     /* segment length */
    0, 0, 0, 0,                                 /* no inline data */
    0, 0, 0, 0,                                 /* no held data */
    0, 0, 0, 0,                                 /* no stream devices */
    0, 0,
    0x01, 0x00,                                 /* TOTAL CONCURRENT COPIES */
    0xff,                                       /* MAXIMUM CONCURRENT COPIES */
    0, 0, 0,                                    /* granularities: 1 byte */
    0, 0, 0,
    0x03, 0x02, 0x0a, 0xe4,                     /* implemented descriptors */
  };
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  rcr (&e, &cmd, 0x03, 0, 1024, 1024);
  SH_EXPECT_DATA (&cmd, ARR (want));
  CHECK_INT (cmd.c.dir, ==, SCSI_DIR_IN);
  rcr (&e, &cmd, 0x03, 0x55, 40, 1024);         /* LIST IDENTIFIER ignored */
  SH_EXPECT_DATA_N (&cmd, want, 40);
  CHECK_U64 (cmd.c.xfer_len, ==, 40);
  rcr (&e, &cmd, 0x03, 0, 1024, 10);            /* transport buffer of 10 */
  SH_EXPECT_DATA_N (&cmd, want, 10);
  CHECK_U64 (cmd.c.xfer_len, ==, 47);
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* SPC-4 7.8.17 Third-party Copy VPD page, listed in page 0x00; standard
 * INQUIRY sets 3PC (SPC-4 6.6.2).
 */
static void
vpd_third_party_copy (void)
{
  static const uint8_t want[4 + 100] = {
    0x00, 0x8f, 0x00, 0x64,
    /* Supported Commands: 83h/00h, 84h/00h,03h,04h */
    0x00, 0x01, 0x00, 0x0c, 0x08,
    0x83, 0x01, 0x00,
    0x84, 0x03, 0x00, 0x03, 0x04,
    0x00, 0x00, 0x00,
    /* Parameter Data */
    0x00, 0x04, 0x00, 0x1c, 0, 0, 0, 0,
    0x00, 0x40, 0x04, 0x00, 0x00, 0x00, 0x88, 0x00, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* Supported Descriptors */
    0x00, 0x08, 0x00, 0x04, 0x03, 0x02, 0x0a, 0xe4,
    /* Supported CSCD Descriptor IDs: none beyond list indexes */
    0x00, 0x0c, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
    /* General Copy Operations */
    0x80, 0x01, 0x00, 0x20,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0xff,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  };
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x12, 0x01, 0x8f, 0x04, 0x00, 0), NULL, 0, 1024);
  SH_EXPECT_DATA (&cmd, ARR (want));
  SH_RUN (&e, &cmd, BYTES (0x12, 0x01, 0x8f, 0x00, 0x08, 0), NULL, 0, 1024);
  SH_EXPECT_DATA_N (&cmd, want, 8);
  SH_RUN (&e, &cmd, BYTES (0x12, 0x01, 0x00, 0, 255, 0), NULL, 0, 255);
  SH_EXPECT_DATA (&cmd, BYTES (0x00, 0x00, 0x00, 0x07,
                               0x00, 0x80, 0x83, 0x8f, 0xb0, 0xb1, 0xb2));
  SH_RUN (&e, &cmd, BYTES (0x12, 0, 0, 0, 8, 0), NULL, 0, 8);
  SH_EXPECT_DATA (&cmd, BYTES (0x00, 0x00, 0x06, 0x12, 69, 0x08, 0x00,
                               0x02));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* SPC-4 6.35: the four commands are reported, with their CDB usage. */
static void
report_opcodes (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0xa3, 0x0c, 0x02, 0x83, 0, 0x00, 0, 0, 1, 0, 0,
                           0), NULL, 0, 256);
  SH_EXPECT_DATA (&cmd, BYTES (0x00, 0x03, 0x00, 0x10,
                               0x83, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
                               0xff, 0xff, 0xff, 0xff, 0x00, 0x00));
  for (uint8_t sa = 0; sa < 5; sa++) {
    SH_RUN (&e, &cmd, BYTES (0xa3, 0x0c, 0x02, 0x84, 0, sa, 0, 0, 1, 0, 0,
                             0), NULL, 0, 256);
    REQUIRE_INT (cmd.c.status, ==, SCSI_STATUS_GOOD);
    CHECK_INT (cmd.in[1], ==, sa == 0 || sa == 3 || sa == 4 ? 0x03 : 0x01);
  }
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* A list identifier with nothing held: INVALID FIELD IN CDB at byte 2
 * (libiscsi's ReceiveCopyResults.CopyStatus before any copy).
 */
static void
unknown_list_id (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  for (uint8_t sa = 0; sa < 5; sa += 4) {
    rcr (&e, &cmd, sa, 1, 1024, 1024);
    SH_EXPECT_BAD_CDB (&cmd, 2, -1);
  }
  sh_teardown (&e);
}

/* Failure details are kept until transferred whole (or ALLOCATION
 * LENGTH 0 asks to drop them); COPY STATUS until reported.  Each is
 * dropped on its own; then the list identifier is unknown.
 */
static void
discard_rules (void)
{
  uint8_t fsd[60 + 18] = { 0, 0, 0, 74, [56] = 0x02, [59] = 18,
                           0xf0, 0, 0x0a, 0, 0, 0, 3, 10, 0, 0, 0, 1,
                           0x0d, 0x01 };
  static const uint8_t status[12] = { 0, 0, 0, 8, 0x02, 0, 1, 0,
                                      0, 0, 0x02, 0x00 };
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
  xl_init (&x, 3, 0);
  xl_cscd_lu (&x, w);
  xl_b2b (&x, 0, 0, 0, 1, 0, 10);
  xl_b2b (&x, 0, 0, 0, 3, 1, 20);
  xl_run (e.nexus, 1, &cmd, &x);
  sh_expect_sense (__FILE__, __LINE__, &cmd, fsd + 60, 18);
  sh_run (e.nexus, 1, &cmd, BYTES (0x84, 4, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                   10, 0, 0), NULL, 0, 1024);
  SH_EXPECT_DATA_N (&cmd, fsd, 10);             /* cut: still held */
  sh_run (e.nexus, 1, &cmd, BYTES (0x84, 4, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
                                   0, 0, 0), NULL, 0, 40);
  SH_EXPECT_DATA_N (&cmd, fsd, 40);             /* transport cut: held */
  sh_run (e.nexus, 1, &cmd, BYTES (0x84, 4, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                   0, 0, 0), NULL, 0, 1024);
  SH_EXPECT_GOOD (&cmd);                        /* 0: drop them */
  sh_run (e.nexus, 1, &cmd, BYTES (0x84, 4, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
                                   0, 0, 0), NULL, 0, 1024);
  SH_EXPECT_DATA (&cmd, BYTES (0, 0, 0, 0));    /* none left */
  sh_run (e.nexus, 1, &cmd, BYTES (0x84, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
                                   0, 0, 0), NULL, 0, 1024);
  SH_EXPECT_DATA (&cmd, ARR (status));
  sh_run (e.nexus, 1, &cmd, BYTES (0x84, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
                                   0, 0, 0), NULL, 0, 1024);
  SH_EXPECT_BAD_CDB (&cmd, 2, -1);
  /* Again, details first and whole: then the status alone is held. */
  xl_run (e.nexus, 1, &cmd, &x);
  sh_run (e.nexus, 1, &cmd, BYTES (0x84, 4, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
                                   0, 0, 0), NULL, 0, 1024);
  SH_EXPECT_DATA (&cmd, ARR (fsd));
  sh_run (e.nexus, 1, &cmd, BYTES (0x84, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                   6, 0, 0), NULL, 0, 1024);
  SH_EXPECT_DATA_N (&cmd, status, 6);
  sh_run (e.nexus, 1, &cmd, BYTES (0x84, 4, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
                                   0, 0, 0), NULL, 0, 1024);
  SH_EXPECT_BAD_CDB (&cmd, 2, -1);
  sh_cmd_free (&cmd);
  xl_free (&x);
  scsi_lu_unref (w);
  sh_teardown (&e);
}

/* A later EXTENDED COPY with the same list identifier replaces what the
 * earlier one left; other identifiers are untouched.
 */
static void
same_list_id (void)
{
  static const uint8_t one[12] = { 0, 0, 0, 8, 1, 0, 1, 0, 0, 0, 2, 0 };
  static const uint8_t two[12] = { 0, 0, 0, 8, 1, 0, 2, 0, 0, 0, 4, 0 };
  struct sh_env e;
  struct sh_cmd cmd;
  struct xl x;

  sh_setup (&e, 1 * MiB, NULL);
  for (int i = 0; i < 3; i++) {
    xl_init (&x, i == 1 ? 8 : 7, 0);
    xl_cscd_lu (&x, e.lu);
    xl_b2b (&x, 0, 0, 0, 1, 0, 10);
    if (i == 2)
      xl_b2b (&x, 0, 0, 0, 1, 1, 11);
    xl_run (e.nexus, 0, &cmd, &x);
    SH_EXPECT_GOOD (&cmd);
    xl_free (&x);
  }
  rcr (&e, &cmd, 0x00, 7, 12, 12);
  SH_EXPECT_DATA (&cmd, ARR (two));
  rcr (&e, &cmd, 0x00, 8, 12, 12);
  SH_EXPECT_DATA (&cmd, ARR (one));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

static const struct h_test tests[] = {
  H_TEST (operating_params),
  H_TEST (vpd_third_party_copy),
  H_TEST (report_opcodes),
  H_TEST (unknown_list_id),
  H_TEST (discard_rules),
  H_TEST (same_list_id),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
