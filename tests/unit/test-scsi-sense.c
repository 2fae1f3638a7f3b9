/* xcopyd: the status table and the sense translator (daemon/scsi/sense.c),
 * REQUEST SENSE and the D_SENSE switch.
 */
#include <errno.h>
#include <string.h>

#include "scsi-harness.h"

static void
status_table_complete (void)
{
  for (int s = 0; s < XS__COUNT; s++) {
    const struct xs_status_info *r = xs_status_info (s);
    REQUIRE (r->name != NULL);
    if (r->status == SCSI_STATUS_CHECK_CONDITION)
      CHECK (r->key != SCSI_SK_NO_SENSE);
    else
      CHECK (r->key == 0 && r->asc == 0 && r->ascq == 0);
  }
  /* Out of range maps to a real row. */
  CHECK (xs_status_info (XS__COUNT)->status == SCSI_STATUS_CHECK_CONDITION);
}

/* SPC-4 4.5.3 fixed format, 4.5.2.4.2 field pointer. */
static void
fixed_field_pointer (void)
{
  struct scsi_cmd c;
  struct xs_detail d = { .sks = XS_SKS_FIELD, .cd = true, .bit = 4,
                         .field = 1 };

  memset (&c, 0, sizeof c);
  xs_set_status (&c, XS_INVALID_FIELD_IN_CDB, &d, false);
  CHECK_INT (c.status, ==, SCSI_STATUS_CHECK_CONDITION);
  REQUIRE_INT (c.sense_len, ==, 18);
  CHECK (memcmp (c.sense, (uint8_t[]) {
        0x70, 0, 0x05, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x24, 0x00, 0,
        0xcc, 0x00, 0x01 }, 18) == 0);
}

/* COPY ABORTED with everything: INFORMATION, COMMAND-SPECIFIC
 * INFORMATION (the segment), segment pointer with SD (SPC-4 4.5.2.4.6).
 */
static void
copy_aborted_both_formats (void)
{
  struct scsi_cmd c;
  struct xs_detail d = { .sks = XS_SKS_SEGMENT, .sd = true, .bit = -1,
                         .field = 12, .info_valid = true, .info = 0x1234,
                         .csi_valid = true, .csi = 3 };
  static const uint8_t fixed[] = {
    0xf0, 0, 0x0a, 0x00, 0x00, 0x12, 0x34, 0x0a, 0, 0, 0, 0x03,
    0x0d, 0x02, 0, 0xa0, 0x00, 0x0c };
  static const uint8_t desc[] = {
    0x72, 0x0a, 0x0d, 0x02, 0, 0, 0, 0x20,
    0x00, 0x0a, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34,
    0x01, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03,
    0x02, 0x06, 0, 0, 0xa0, 0x00, 0x0c, 0x00 };

  xs_set_status (&c, XS_COPY_ABORTED_NOT_REACHABLE, &d, false);
  CHECK (c.sense_len == sizeof fixed && memcmp (c.sense, fixed, 18) == 0);
  xs_set_status (&c, XS_COPY_ABORTED_NOT_REACHABLE, &d, true);
  REQUIRE_INT (c.sense_len, ==, sizeof desc);
  CHECK (memcmp (c.sense, desc, sizeof desc) == 0);
}

/* An INFORMATION value wider than 32 bits: fixed format clears VALID. */
static void
fixed_wide_information (void)
{
  struct scsi_cmd c;
  struct xs_detail d = { .bit = -1, .info_valid = true,
                         .info = UINT64_C (0x100000002) };
  struct scsi_sense_info si;

  xs_set_status (&c, XS_MISCOMPARE, &d, false);
  CHECK_INT (c.sense[0], ==, 0x70);
  xs_set_status (&c, XS_MISCOMPARE, &d, true);
  REQUIRE (scsi_sense_parse (c.sense, c.sense_len, &si));
  CHECK (si.descriptor && si.info_valid);
  CHECK_U64 (si.info, ==, UINT64_C (0x100000002));
  CHECK_INT (si.key, ==, SCSI_SK_MISCOMPARE);
}

static void
good_has_no_sense (void)
{
  struct scsi_cmd c;

  memset (&c, 0xff, sizeof c);
  xs_set_status (&c, XS_GOOD, NULL, true);
  CHECK_INT (c.status, ==, 0);
  CHECK_INT (c.sense_len, ==, 0);
  xs_set_status (&c, XS_TASK_SET_FULL, NULL, true);
  CHECK_INT (c.status, ==, SCSI_STATUS_TASK_SET_FULL);
  CHECK_INT (c.sense_len, ==, 0);
}

static void
errno_mapping (void)
{
  static const struct { int err; bool write; enum xs_status s; } map[] = {
    { 0, false, XS_GOOD },
    { EIO, false, XS_READ_ERROR },
    { EIO, true, XS_WRITE_ERROR },
    { ENOSPC, true, XS_SPACE_ALLOC_FAILED },
    { EDQUOT, true, XS_SPACE_ALLOC_FAILED },
    { EROFS, true, XS_WRITE_PROTECTED },
    { ENOMEM, false, XS_TASK_SET_FULL },
    { EAGAIN, false, XS_BUSY },
    { ECANCELED, true, XS_TASK_ABORTED },
    { ECONNRESET, false, XS_LU_COMM_FAILURE },
    { EXDEV, false, XS_INTERNAL_ERROR },
  };

  for (size_t i = 0; i < ARRAY_SIZE (map); i++)
    CHECK_INT (xs_from_errno (map[i].err, map[i].write), ==, map[i].s);
  /* ENOSPC reaches the initiator as DATA PROTECT 27/07. */
  CHECK_INT (xs_status_info (XS_SPACE_ALLOC_FAILED)->key, ==, 0x07);
  CHECK_INT (xs_status_info (XS_SPACE_ALLOC_FAILED)->asc, ==, 0x27);
  CHECK_INT (xs_status_info (XS_SPACE_ALLOC_FAILED)->ascq, ==, 0x07);
}

/* SPC-4 6.29: nothing pending -> NO SENSE, in the format DESC asks for. */
static void
request_sense_no_sense (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x03, 0x00, 0, 0, 252, 0), NULL, 0, 252);
  SH_EXPECT_DATA (&cmd, BYTES (0x70, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0,
                               0, 0, 0, 0, 0, 0));
  CHECK_U64 (cmd.c.xfer_len, ==, 18);
  sh_cmd_free (&cmd);
  SH_RUN (&e, &cmd, BYTES (0x03, 0x01, 0, 0, 252, 0), NULL, 0, 252);
  SH_EXPECT_DATA (&cmd, BYTES (0x72, 0, 0, 0, 0, 0, 0, 0));
  sh_cmd_free (&cmd);
  /* ALLOCATION LENGTH truncates. */
  SH_RUN (&e, &cmd, BYTES (0x03, 0x00, 0, 0, 4, 0), NULL, 0, 252);
  SH_EXPECT_DATA (&cmd, BYTES (0x70, 0, 0, 0));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* A pending unit attention is returned by REQUEST SENSE and cleared. */
static void
request_sense_takes_ua (void)
{
  struct scsi_lu_config cfg;
  struct sh_env e;
  struct sh_cmd cmd;

  sh_config (&cfg);
  cfg.power_on_ua = true;
  sh_setup (&e, 1 * MiB, &cfg);
  SH_RUN (&e, &cmd, BYTES (0x03, 0x00, 0, 0, 18, 0), NULL, 0, 18);
  SH_EXPECT_DATA (&cmd, BYTES (0x70, 0, 0x06, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0,
                               0x29, 0x01, 0, 0, 0, 0));
  sh_cmd_free (&cmd);
  SH_RUN (&e, &cmd, BYTES (0x00, 0, 0, 0, 0, 0), NULL, 0, 0);
  SH_EXPECT_GOOD (&cmd);
  sh_teardown (&e);
}

/* SPC-4 7.5.8: D_SENSE=1 switches CHECK CONDITION sense to descriptor
 * format; other nexuses get MODE PARAMETERS CHANGED (in the new format).
 */
static void
d_sense_switch (void)
{
  static const uint8_t ms[] = {
    0, 0, 0, 0,                                         /* header (6) */
    0x0a, 0x0a, 0x06, 0x10, 0, 0, 0, 0, 0, 0, 0, 0,     /* control page */
  };
  struct scsi_nexus *other;
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  REQUIRE (scsi_nexus_new (e.target, "iqn.2024-01.test:init2", NULL, 1,
                           &other) == 0);
  SH_RUN (&e, &cmd, BYTES (0x15, 0x10, 0, 0, sizeof ms, 0), ms, sizeof ms,
          0);
  SH_EXPECT_GOOD (&cmd);
  CHECK_U64 (cmd.c.xfer_len, ==, sizeof ms);
  SH_RUN (&e, &cmd, BYTES (0x12, 0x00, 0x80, 0, 36, 0), NULL, 0, 36);
  SH_EXPECT_SENSE (&cmd, BYTES (0x72, 0x05, 0x24, 0x00, 0, 0, 0, 0x08,
                                0x02, 0x06, 0, 0, 0xc0, 0x00, 0x02, 0x00));
  sh_cmd_free (&cmd);
  sh_run (other, 0, &cmd, BYTES (0x00, 0, 0, 0, 0, 0), NULL, 0, 0);
  SH_EXPECT_SENSE (&cmd, BYTES (0x72, 0x06, 0x2a, 0x01, 0, 0, 0, 0));
  sh_run (other, 0, &cmd, BYTES (0x00, 0, 0, 0, 0, 0), NULL, 0, 0);
  SH_EXPECT_GOOD (&cmd);
  /* The nexus that made the change got no UA. */
  SH_RUN (&e, &cmd, BYTES (0x00, 0, 0, 0, 0, 0), NULL, 0, 0);
  SH_EXPECT_GOOD (&cmd);
  scsi_nexus_free (other);
  sh_teardown (&e);
}

static void
parse_rejects_garbage (void)
{
  struct scsi_sense_info si;
  uint8_t junk[18] = { 0x7f };

  CHECK (!scsi_sense_parse (junk, sizeof junk, &si));
  CHECK (!scsi_sense_parse (junk, 4, &si));
  /* A descriptor whose length runs past the end is ignored. */
  CHECK (scsi_sense_parse ((uint8_t[]) { 0x72, 5, 0x24, 0, 0, 0, 0, 12,
                                         0x02, 0x06, 0, 0, 0xc0 }, 13, &si));
  CHECK (!si.sks_valid);
}

static const struct h_test tests[] = {
  H_TEST (status_table_complete),
  H_TEST (fixed_field_pointer),
  H_TEST (copy_aborted_both_formats),
  H_TEST (fixed_wide_information),
  H_TEST (good_has_no_sense),
  H_TEST (errno_mapping),
  H_TEST (request_sense_no_sense),
  H_TEST (request_sense_takes_ua),
  H_TEST (d_sense_switch),
  H_TEST (parse_rejects_garbage),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
