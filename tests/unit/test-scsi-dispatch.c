/* xcopyd: dispatch (daemon/scsi/dispatch.c), the LU registry, nexuses,
 * unit attentions, residuals, REPORT LUNS.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "scsi-harness.h"

static const uint8_t tur[6] = { 0x00, 0, 0, 0, 0, 0 };

/* SAM-5 4.7.7: peripheral (0..255) and flat space (256..16383). */
static void
lun_fields (void)
{
  uint8_t f[8];

  scsi_lun_encode (5, f);
  CHECK (memcmp (f, (uint8_t[]) { 0, 5, 0, 0, 0, 0, 0, 0 }, 8) == 0);
  scsi_lun_encode (300, f);
  CHECK (memcmp (f, (uint8_t[]) { 0x41, 0x2c, 0, 0, 0, 0, 0, 0 }, 8) == 0);
  CHECK_INT (scsi_lun_decode (f), ==, 300);
  CHECK_INT (scsi_lun_decode ((uint8_t[]) { 0, 7, 0, 0, 0, 0, 0, 0 }), ==, 7);
  CHECK_INT (scsi_lun_decode ((uint8_t[]) { 0x01, 7, 0, 0, 0, 0, 0, 0 }),
             ==, SCSI_LUN_INVALID);          /* bus 1 */
  CHECK_INT (scsi_lun_decode ((uint8_t[]) { 0, 7, 0, 1, 0, 0, 0, 0 }),
             ==, SCSI_LUN_INVALID);          /* second level */
  CHECK_INT (scsi_lun_decode ((uint8_t[]) { 0x80, 7, 0, 0, 0, 0, 0, 0 }),
             ==, SCSI_LUN_INVALID);          /* logical unit addressing */
}

/* SPC-4 4.2.5.1: unknown opcode -> 05/20/00, no sense-key specific data. */
static void
unknown_opcode (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x02, 0, 0, 0, 0, 0), NULL, 0, 0);
  SH_EXPECT_SENSE (&cmd, BYTES (0x70, 0, 0x05, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0,
                                0x20, 0x00, 0, 0, 0, 0));
  /* Third-party copy service actions without a handler (EXTENDED COPY
   * (LID4), RECEIVE COPY DATA (LID1)): the service action is invalid.
   */
  SH_RUN (&e, &cmd, BYTES (0x83, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                           0, 0), NULL, 0, 0);
  SH_EXPECT_BAD_CDB (&cmd, 1, 4);
  SH_RUN (&e, &cmd, BYTES (0x84, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
                           0), NULL, 0, 512);
  SH_EXPECT_BAD_CDB (&cmd, 1, 4);
  sh_cmd_free (&cmd);
  /* An empty CDB. */
  sh_run (e.nexus, 0, &cmd, tur, 0, NULL, 0, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x20, 0x00);
  sh_teardown (&e);
}

/* A known opcode with an unknown service action: INVALID FIELD IN CDB
 * pointing at the SERVICE ACTION field (byte 1, bit 4).
 */
static void
unknown_service_action (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x9e, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32,
                           0, 0), NULL, 0, 32);
  SH_EXPECT_BAD_CDB (&cmd, 1, 4);
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* SAM-5 5.2: NACA=1 is not supported. */
static void
naca_refused (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x00, 0, 0, 0, 0, 0x04), NULL, 0, 0);
  SH_EXPECT_BAD_CDB (&cmd, 5, 2);
  SH_RUN (&e, &cmd, BYTES (0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0x04), NULL, 0, 0);
  SH_EXPECT_BAD_CDB (&cmd, 9, 2);
  sh_teardown (&e);
}

static void
short_cdb (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0), NULL, 0, 512);
  SH_EXPECT_BAD_CDB (&cmd, 0, -1);
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* SPC-4 6.6.2 / SAM-5: a LUN with no LU.  INQUIRY answers with
 * PERIPHERAL QUALIFIER 011b, REQUEST SENSE reports 25/00, REPORT LUNS
 * works, anything else is LOGICAL UNIT NOT SUPPORTED.
 */
static void
lun_without_lu (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  sh_run (e.nexus, 5, &cmd, ARR (tur), NULL, 0, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x25, 0x00);
  sh_run (e.nexus, 5, &cmd, BYTES (0x12, 0, 0, 0, 36, 0), NULL, 0, 36);
  CHECK_INT (cmd.c.status, ==, 0);
  CHECK_INT (cmd.c.data_in_len, ==, 36);
  CHECK_INT (cmd.in[0], ==, 0x7f);
  sh_cmd_free (&cmd);
  sh_run (e.nexus, 5, &cmd, BYTES (0x12, 1, 0x80, 0, 36, 0), NULL, 0, 36);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x25, 0x00);
  sh_cmd_free (&cmd);
  sh_run (e.nexus, 5, &cmd, BYTES (0x03, 0, 0, 0, 18, 0), NULL, 0, 18);
  SH_EXPECT_DATA (&cmd, BYTES (0x70, 0, 0x05, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0,
                               0x25, 0x00, 0, 0, 0, 0));
  sh_cmd_free (&cmd);
  sh_run (e.nexus, SCSI_LUN_INVALID, &cmd,
          BYTES (0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0), NULL, 0, 16);
  SH_EXPECT_DATA (&cmd, BYTES (0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                               0));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* SPC-4 6.27: the LUN list, 8 bytes per LUN, in order. */
static void
report_luns (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  struct scsi_lu *lu2 = sh_new_lu (1 * MiB, NULL, NULL, NULL);

  sh_setup (&e, 1 * MiB, NULL);
  REQUIRE (scsi_target_add_lu (e.target, 300, lu2) == 0);
  CHECK_INT (scsi_target_add_lu (e.target, 300, lu2), ==, -EEXIST);
  CHECK_INT (scsi_target_add_lu (e.target, 16384, lu2), ==, -ERANGE);
  SH_RUN (&e, &cmd, BYTES (0xa0, 0, 0x00, 0, 0, 0, 0, 0, 1, 0, 0, 0), NULL,
          0, 256);
  SH_EXPECT_DATA (&cmd, BYTES (0, 0, 0, 16, 0, 0, 0, 0,
                               0, 0, 0, 0, 0, 0, 0, 0,
                               0x41, 0x2c, 0, 0, 0, 0, 0, 0));
  CHECK_U64 (cmd.c.xfer_len, ==, 24);
  sh_cmd_free (&cmd);
  /* Well-known LUs only: none. */
  SH_RUN (&e, &cmd, BYTES (0xa0, 0, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0), NULL,
          0, 256);
  SH_EXPECT_DATA (&cmd, BYTES (0, 0, 0, 0, 0, 0, 0, 0));
  sh_cmd_free (&cmd);
  SH_RUN (&e, &cmd, BYTES (0xa0, 0, 0x10, 0, 0, 0, 0, 0, 1, 0, 0, 0), NULL,
          0, 256);
  SH_EXPECT_BAD_CDB (&cmd, 2, -1);
  sh_cmd_free (&cmd);
  /* ALLOCATION LENGTH 12: the first 12 bytes; SPDTL 12. */
  SH_RUN (&e, &cmd, BYTES (0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0), NULL, 0,
          256);
  SH_EXPECT_DATA (&cmd, BYTES (0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0));
  CHECK_U64 (cmd.c.xfer_len, ==, 12);
  sh_cmd_free (&cmd);
  CHECK_INT (scsi_target_remove_lu (e.target, 300), ==, 0);
  CHECK_INT (scsi_target_remove_lu (e.target, 300), ==, -ENOENT);
  scsi_lu_unref (lu2);
  sh_teardown (&e);
}

/* DATA PROTECT / WRITE PROTECTED before the handler looks at the CDB. */
static void
write_protected (void)
{
  struct scsi_lu_config cfg;
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[10], block[512] = { 0 };

  sh_config (&cfg);
  cfg.read_only = true;
  sh_setup (&e, 1 * MiB, &cfg);
  sh_cdb10 (cdb, 0x2a, 0, 0, 1);
  SH_RUN (&e, &cmd, ARR (cdb), block, sizeof block, 0);
  SH_EXPECT_PLAIN (&cmd, 0x07, 0x27, 0x00);
  sh_cdb10 (cdb, 0x28, 0, 0, 1);
  SH_RUN (&e, &cmd, ARR (cdb), NULL, 0, 512);
  SH_EXPECT_DATA (&cmd, ARR (block));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

static void
ua_power_on (void)
{
  struct scsi_lu_config cfg;
  struct sh_env e;
  struct sh_cmd cmd;

  sh_config (&cfg);
  cfg.power_on_ua = true;
  sh_setup (&e, 1 * MiB, &cfg);
  /* INQUIRY and REPORT LUNS neither report nor clear it (SAM-5 5.14). */
  SH_RUN (&e, &cmd, BYTES (0x12, 0, 0, 0, 36, 0), NULL, 0, 36);
  CHECK_INT (cmd.c.status, ==, 0);
  sh_cmd_free (&cmd);
  SH_RUN (&e, &cmd, ARR (tur), NULL, 0, 0);
  SH_EXPECT_PLAIN (&cmd, 0x06, 0x29, 0x01);
  SH_RUN (&e, &cmd, ARR (tur), NULL, 0, 0);
  SH_EXPECT_GOOD (&cmd);
  sh_teardown (&e);
}

/* REPORTED LUNS DATA HAS CHANGED: raised by a mapping change, cleared by
 * REPORT LUNS.
 */
static void
ua_luns_changed (void)
{
  struct scsi_lu *lu2 = sh_new_lu (1 * MiB, NULL, NULL, NULL);
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  REQUIRE (scsi_target_add_lu (e.target, 1, lu2) == 0);
  SH_RUN (&e, &cmd, ARR (tur), NULL, 0, 0);
  SH_EXPECT_PLAIN (&cmd, 0x06, 0x3f, 0x0e);
  SH_RUN (&e, &cmd, ARR (tur), NULL, 0, 0);
  SH_EXPECT_GOOD (&cmd);
  REQUIRE (scsi_target_remove_lu (e.target, 1) == 0);
  SH_RUN (&e, &cmd, BYTES (0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0), NULL, 0,
          16);
  CHECK_INT (cmd.c.status, ==, 0);
  sh_cmd_free (&cmd);
  SH_RUN (&e, &cmd, ARR (tur), NULL, 0, 0);
  SH_EXPECT_GOOD (&cmd);
  scsi_lu_unref (lu2);
  sh_teardown (&e);
}

static void
ua_capacity_changed (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  sh_clear_ua (&e);
  CHECK_INT (scsi_lu_resize (e.lu), ==, 0);           /* no change: no UA */
  SH_RUN (&e, &cmd, ARR (tur), NULL, 0, 0);
  SH_EXPECT_GOOD (&cmd);
  SYS_OK (ftruncate (e.fd, 2 * MiB));
  CHECK_INT (scsi_lu_resize (e.lu), ==, 0);
  CHECK_U64 (scsi_lu_blocks (e.lu), ==, 4096);
  SH_RUN (&e, &cmd, BYTES (0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), NULL, 0, 8);
  SH_EXPECT_PLAIN (&cmd, 0x06, 0x2a, 0x09);
  SH_RUN (&e, &cmd, BYTES (0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), NULL, 0, 8);
  SH_EXPECT_DATA (&cmd, BYTES (0, 0, 0x0f, 0xff, 0, 0, 2, 0));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* LOGICAL UNIT RESET: 29/03 for every nexus, mode pages to defaults
 * (and a reset outranks a pending mode change).
 */
static void
ua_reset (void)
{
  static const uint8_t ms[] = { 0, 0, 0, 0, 0x0a, 0x0a, 0x06, 0x10, 0, 0,
                                0, 0, 0, 0, 0, 0 };
  struct scsi_nexus *other;
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  REQUIRE (scsi_nexus_new (e.target, "i2", NULL, 2, &other) == 0);
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, sizeof ms, 0), ms, sizeof ms,
          0);
  SH_EXPECT_GOOD (&cmd);
  CHECK (xs_lu_d_sense (e.lu));
  scsi_lu_reset (e.lu);
  CHECK (!xs_lu_d_sense (e.lu));
  SH_RUN (&e, &cmd, ARR (tur), NULL, 0, 0);
  SH_EXPECT_PLAIN (&cmd, 0x06, 0x29, 0x03);
  sh_run (other, 0, &cmd, ARR (tur), NULL, 0, 0);
  SH_EXPECT_PLAIN (&cmd, 0x06, 0x29, 0x03);
  sh_run (other, 0, &cmd, ARR (tur), NULL, 0, 0);
  SH_EXPECT_GOOD (&cmd);
  scsi_nexus_free (other);
  sh_teardown (&e);
}

/* RFC 7143 11.4.5.2 from xfer_len, data_in_len and the EDTL. */
static void
residuals (void)
{
  struct scsi_cmd c;
  uint64_t n;

  memset (&c, 0, sizeof c);
  c.dir = SCSI_DIR_IN;
  c.xfer_len = 36;
  c.data_in_len = 36;
  CHECK_INT (scsi_cmd_residual (&c, 255, &n), ==, SCSI_RESID_UNDER);
  CHECK_U64 (n, ==, 219);
  c.xfer_len = 96;
  c.data_in_len = 64;
  CHECK_INT (scsi_cmd_residual (&c, 64, &n), ==, SCSI_RESID_OVER);
  CHECK_U64 (n, ==, 32);
  c.xfer_len = 64;
  CHECK_INT (scsi_cmd_residual (&c, 64, &n), ==, SCSI_RESID_NONE);
  CHECK_U64 (n, ==, 0);
  c.dir = SCSI_DIR_OUT;
  c.xfer_len = 512;
  CHECK_INT (scsi_cmd_residual (&c, 0, &n), ==, SCSI_RESID_OVER);
  CHECK_U64 (n, ==, 512);
  CHECK_INT (scsi_cmd_residual (&c, 10000, &n), ==, SCSI_RESID_UNDER);
  CHECK_U64 (n, ==, 10000 - 512);
  c.dir = SCSI_DIR_NONE;
  c.xfer_len = 0;
  CHECK_INT (scsi_cmd_residual (&c, 8, &n), ==, SCSI_RESID_UNDER);
  CHECK_U64 (n, ==, 8);
}

/* WRITE and WRITE AND VERIFY with whole blocks of data-out fewer than
 * the CDB's: those blocks are written, GOOD, residual overflow for the
 * rest (libiscsi's iSCSIResiduals.Write*Residuals); EDTL 0 writes nothing.
 */
static void
write_overflow (void)
{
  static const uint8_t ops[] = { 0x2a, 0x2e };
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[10], a[1024], b[1024], back[1024];
  uint64_t n;

  memset (a, 'a', sizeof a);
  memset (b, 'b', sizeof b);
  sh_setup (&e, 1 * MiB, NULL);
  for (size_t i = 0; i < sizeof ops; i++) {
    h_pwrite_all (e.fd, a, sizeof a, 0);
    sh_cdb10 (cdb, ops[i], ops[i] == 0x2e ? 0x02 : 0, 0, 2);
    SH_RUN (&e, &cmd, ARR (cdb), b, 512, 0);
    SH_EXPECT_GOOD (&cmd);
    CHECK_INT (scsi_cmd_residual (&cmd.c, 512, &n), ==, SCSI_RESID_OVER);
    CHECK_U64 (n, ==, 512);
    h_pread_all (e.fd, back, sizeof back, 0);
    CHECK (memcmp (back, b, 512) == 0);
    CHECK (memcmp (back + 512, a, 512) == 0);
    /* No data-out at all. */
    sh_cdb10 (cdb, ops[i], 0, 1, 1);
    SH_RUN (&e, &cmd, ARR (cdb), NULL, 0, 0);
    SH_EXPECT_GOOD (&cmd);
    CHECK_INT (scsi_cmd_residual (&cmd.c, 0, &n), ==, SCSI_RESID_OVER);
    CHECK_U64 (n, ==, 512);
    h_pread_all (e.fd, back, sizeof back, 0);
    CHECK (memcmp (back + 512, a, 512) == 0);
  }
  sh_teardown (&e);
}

/* Reads and writes with an EDTL that disagrees with the CDB. */
static void
residuals_through_commands (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[10], buf[1024];
  uint64_t n;

  memset (buf, 'b', sizeof buf);
  sh_setup (&e, 1 * MiB, NULL);
  /* READ 2 blocks into 1 block of EDTL: 1 block moves, overflow 512. */
  sh_cdb10 (cdb, 0x28, 0, 0, 2);
  SH_RUN (&e, &cmd, ARR (cdb), NULL, 0, 512);
  CHECK_INT (cmd.c.status, ==, 0);
  CHECK_INT (cmd.c.data_in_len, ==, 512);
  CHECK_INT (scsi_cmd_residual (&cmd.c, 512, &n), ==, SCSI_RESID_OVER);
  CHECK_U64 (n, ==, 512);
  sh_cmd_free (&cmd);
  /* WRITE 1 block with 200 bytes of data-out: nothing written, 0E/03. */
  sh_cdb10 (cdb, 0x2a, 0, 0, 1);
  SH_RUN (&e, &cmd, ARR (cdb), buf, 200, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x0e, 0x03);
  CHECK_INT (scsi_cmd_residual (&cmd.c, 200, &n), ==, SCSI_RESID_OVER);
  CHECK_U64 (n, ==, 312);
  CHECK (h_is_hole (e.fd, 0, 512) || h_allocated (e.fd) == 0);
  /* WRITE 1 block with 2 blocks of data-out: written, underflow 512. */
  SH_RUN (&e, &cmd, ARR (cdb), buf, 1024, 0);
  SH_EXPECT_GOOD (&cmd);
  CHECK_INT (scsi_cmd_residual (&cmd.c, 1024, &n), ==, SCSI_RESID_UNDER);
  CHECK_U64 (n, ==, 512);
  sh_teardown (&e);
  write_overflow ();
}

/* ABORT TASK while a write waits for its range: TASK ABORTED, no sense,
 * nothing written.
 */
static void
abort_while_waiting (void)
{
  struct rangelock_hold h = RANGELOCK_HOLD_INIT;
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[10], block[512];

  memset (block, 'w', sizeof block);
  sh_setup (&e, 1 * MiB, NULL);
  REQUIRE (rangelock_lock (&e.lu->locks, &h, 0, 4096, RANGELOCK_EXCL, NULL)
           == 0);
  sh_cdb10 (cdb, 0x2a, 0, 2, 1);
  memset (&cmd, 0, sizeof cmd);
  memcpy (cmd.cdb, cdb, sizeof cdb);
  cmd.c.cdb = cmd.cdb;
  cmd.c.cdb_len = sizeof cdb;
  cmd.c.data_out = block;
  cmd.c.data_out_len = sizeof block;
  atomic_store (&cmd.c.abort, true);
  scsi_execute (e.nexus, &cmd.c);
  CHECK_INT (cmd.c.status, ==, SCSI_STATUS_TASK_ABORTED);
  CHECK_INT (cmd.c.sense_len, ==, 0);
  rangelock_release (&h);
  CHECK (h_is_hole (e.fd, 0, 4096) || h_allocated (e.fd) == 0);
  sh_teardown (&e);
}

static void
submit_async (void)
{
  struct sh_waiter d = SH_WAITER_INIT;
  struct sh_cmd cmds[16];
  struct sh_env e;

  sh_setup (&e, 1 * MiB, NULL);
  for (int i = 0; i < 16; i++) {
    memset (&cmds[i], 0, sizeof cmds[i]);
    memcpy (cmds[i].cdb, tur, sizeof tur);
    cmds[i].c.cdb = cmds[i].cdb;
    cmds[i].c.cdb_len = 6;
    cmds[i].c.status = 0xff;
    REQUIRE (scsi_submit (e.nexus, &cmds[i].c, sh_waiter_done, &d) == 0);
  }
  sh_wait (&d, 16);
  for (int i = 0; i < 16; i++)
    CHECK_INT (cmds[i].c.status, ==, 0);
  sh_teardown (&e);
}

static int slot_frees, slot_creates;

static void *
slot_create (void *opaque)
{
  slot_creates++;
  return opaque;
}

static void
slot_free (void *state)
{
  CHECK (state == &slot_frees);
  slot_frees++;
}

static void
nexus_slots (void)
{
  struct sh_env e;

  slot_frees = slot_creates = 0;
  sh_setup (&e, 1 * MiB, NULL);
  CHECK (scsi_nexus_slot (e.nexus, SCSI_SLOT_COPY, NULL, NULL, NULL)
         == NULL);
  CHECK (scsi_nexus_slot (e.nexus, SCSI_SLOT_COPY, slot_create, &slot_frees,
                          slot_free) == &slot_frees);
  CHECK (scsi_nexus_slot (e.nexus, SCSI_SLOT_COPY, slot_create, NULL,
                          slot_free) == &slot_frees);
  CHECK_INT (slot_creates, ==, 1);
  CHECK (scsi_nexus_slot (e.nexus, SCSI_SLOT__COUNT, slot_create, NULL,
                          slot_free) == NULL);
  CHECK (scsi_nexus_id (e.nexus) != 0);
  CHECK (strcmp (scsi_nexus_initiator (e.nexus), "iqn.2024-01.test:init")
         == 0);
  CHECK (scsi_nexus_target (e.nexus) == e.target);
  sh_teardown (&e);
  CHECK_INT (slot_frees, ==, 1);
}

/* Access rule: the nexus named "outsider" sees only LUN 0. */
static bool
only_lun0_for_outsider (void *opaque, const struct scsi_nexus *n,
                        uint16_t lun, const struct scsi_lu *lu)
{
  (void) opaque;
  (void) lu;
  return strcmp (scsi_nexus_initiator (n), "outsider") != 0 || lun == 0;
}

static int
collect (void *opaque, uint16_t lun, struct scsi_lu *lu)
{
  int *seen = opaque;

  (void) lu;
  seen[seen[0]++ + 1] = lun;
  return 0;
}

/* EXTENDED COPY's CSCD lookup: by the designator VPD 0x83 lists, only
 * among LUs the nexus may access (DESIGN.md invariant 8).
 */
static void
find_lu_by_designator (void)
{
  struct scsi_target_config tc = { .access = only_lun0_for_outsider };
  struct scsi_lu_config cfg;
  struct scsi_target *t;
  struct scsi_nexus *in, *out;
  struct scsi_lu *a, *b, *got;
  uint8_t d[64];
  int seen[8] = { 0 };

  sh_config (&cfg);
  a = sh_new_lu (1 * MiB, &cfg, NULL, NULL);
  cfg.serial = "other-serial";
  b = sh_new_lu (1 * MiB, &cfg, NULL, NULL);
  REQUIRE (scsi_target_new (&tc, &t) == 0);
  REQUIRE (scsi_target_add_lu (t, 0, a) == 0);
  REQUIRE (scsi_target_add_lu (t, 7, b) == 0);
  REQUIRE (scsi_nexus_new (t, "insider", NULL, 1, &in) == 0);
  REQUIRE (scsi_nexus_new (t, "outsider", NULL, 1, &out) == 0);
  REQUIRE (xs_lu_designators (b, d, sizeof d) == 20 + 4 + 8 + 12);
  got = scsi_nexus_find_lu (in, d, 20);
  CHECK (got == b);
  scsi_lu_unref (got);
  CHECK (scsi_nexus_find_lu (out, d, 20) == NULL);
  CHECK (!scsi_nexus_may_access (out, 7, b));
  /* The T10 vendor ID designator works too; a wrong length does not. */
  got = scsi_nexus_find_lu (in, d + 20, 24);
  CHECK (got == b);
  scsi_lu_unref (got);
  CHECK (scsi_nexus_find_lu (in, d, 19) == NULL);
  d[1] |= 0x10;                         /* association: target port */
  CHECK (scsi_nexus_find_lu (in, d, 20) == NULL);
  d[1] &= 0x0f;
  d[19] ^= 1;
  CHECK (scsi_nexus_find_lu (in, d, 20) == NULL);
  CHECK_INT (scsi_nexus_foreach_lu (in, collect, seen), ==, 0);
  CHECK (seen[0] == 2 && seen[1] == 0 && seen[2] == 7);
  seen[0] = 0;
  scsi_nexus_foreach_lu (out, collect, seen);
  CHECK (seen[0] == 1 && seen[1] == 0);
  scsi_nexus_free (in);
  scsi_nexus_free (out);
  scsi_target_free (t);
  scsi_lu_unref (a);
  scsi_lu_unref (b);
}

/* The same serial gives the same NAA 6 designator; a configured one wins. */
static void
identity (void)
{
  struct scsi_lu_config cfg;
  struct scsi_lu *a, *b, *c, *bad = NULL;
  struct scsi_backend *be;

  sh_config (&cfg);
  a = sh_new_lu (1 * MiB, &cfg, NULL, NULL);
  b = sh_new_lu (1 * MiB, &cfg, NULL, NULL);
  CHECK (memcmp (scsi_lu_naa (a), scsi_lu_naa (b), 16) == 0);
  CHECK_INT (scsi_lu_naa (a)[0], ==, 0x60);     /* NAA 6, company 0A5843 */
  CHECK_INT (scsi_lu_naa (a)[1], ==, 0xa5);
  CHECK_INT (scsi_lu_naa (a)[2], ==, 0x84);
  CHECK_INT (scsi_lu_naa (a)[3] >> 4, ==, 0x3);
  cfg.have_naa = true;
  memcpy (cfg.naa, (uint8_t[]) { 0x60, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                 12, 13, 14, 15 }, 16);
  c = sh_new_lu (1 * MiB, &cfg, NULL, NULL);
  CHECK_INT (scsi_lu_naa (c)[15], ==, 15);
  CHECK (strcmp (scsi_lu_serial (c), "sh-serial-0") == 0);
  CHECK_INT (scsi_lu_block_size (c), ==, 512);
  CHECK (scsi_lu_backend (c) != NULL);
  /* Bad configurations. */
  cfg.naa[0] = 0x50;
  REQUIRE (scsi_file_backend_from_fd (h_file (4096), false, NULL, &be) == 0);
  CHECK_INT (scsi_lu_new (&cfg, be, &bad), ==, -EINVAL);
  sh_config (&cfg);
  cfg.serial = " padded";
  REQUIRE (scsi_file_backend_from_fd (h_file (4096), false, NULL, &be) == 0);
  CHECK_INT (scsi_lu_new (&cfg, be, &bad), ==, -EINVAL);
  sh_config (&cfg);
  cfg.block_size = 1024;
  REQUIRE (scsi_file_backend_from_fd (h_file (4096), false, NULL, &be) == 0);
  CHECK_INT (scsi_lu_new (&cfg, be, &bad), ==, -EINVAL);
  scsi_lu_unref (a);
  scsi_lu_unref (b);
  CHECK (bad == NULL);
  CHECK (scsi_lu_ref (c) == c);
  scsi_lu_unref (c);
  scsi_lu_unref (c);
}

static const struct h_test tests[] = {
  H_TEST (lun_fields),
  H_TEST (unknown_opcode),
  H_TEST (unknown_service_action),
  H_TEST (naca_refused),
  H_TEST (short_cdb),
  H_TEST (lun_without_lu),
  H_TEST (report_luns),
  H_TEST (write_protected),
  H_TEST (ua_power_on),
  H_TEST (ua_luns_changed),
  H_TEST (ua_capacity_changed),
  H_TEST (ua_reset),
  H_TEST (residuals),
  H_TEST (residuals_through_commands),
  H_TEST (abort_while_waiting),
  H_TEST (submit_async),
  H_TEST (nexus_slots),
  H_TEST (find_lu_by_designator),
  H_TEST (identity),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
