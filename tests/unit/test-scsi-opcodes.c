/* xcopyd: the opcode table and REPORT SUPPORTED OPERATION CODES
 * (daemon/scsi/opcodes.c, report_opcodes.c).
 */
#include <string.h>

#include "scsi-harness.h"

/* SPC-4 4.2.5.1: the group code fixes the CDB length. */
static unsigned
group_len (uint8_t op)
{
  static const unsigned len[8] = { 6, 10, 10, 0, 16, 12, 0, 0 };

  return len[op >> 5];
}

static void
check_desc (const struct xs_cmd_desc *d, uint8_t op, int sa)
{
  REQUIRE (d->name != NULL);
  CHECK_INT (d->opcode, ==, op);
  CHECK_INT (d->usage[0], ==, op);
  CHECK_INT (d->cdb_len, ==, group_len (op));
  CHECK_INT (d->usage[d->cdb_len - 1], ==, 0);  /* CONTROL: no NACA */
  for (unsigned i = d->cdb_len; i < sizeof d->usage; i++)
    CHECK_INT (d->usage[i], ==, 0);
  CHECK (d->has_sa == (sa >= 0));
  if (sa >= 0) {
    CHECK_INT (d->sa, ==, sa);
    CHECK_INT (d->usage[1] & 0x1f, ==, sa);
  }
  if (d->dir == SCSI_DIR_OUT)
    CHECK (!(d->flags & XS_F_ANY_LUN));
}

static void
table_sanity (void)
{
  unsigned n = 0;

  for (int op = 0; op < 256; op++) {
    const struct xs_opcode *o = &xs_opcodes[op];
    CHECK (!(o->cmd && o->sa));
    if (o->cmd) {
      check_desc (o->cmd, (uint8_t) op, -1);
      n++;
    }
    for (int sa = 0; o->sa && sa < 32; sa++)
      if (o->sa[sa]) {
        check_desc (o->sa[sa], (uint8_t) op, sa);
        n++;
      }
  }
  h_note ("%u commands in the table", n);
  CHECK_INT (n, ==, 34 + 4);                    /* + third-party copy */
}

#define D(op, sa, flags, len) op, 0, 0, sa, 0, flags, 0, len

/* SPC-4 6.35.3, reporting options 000b. */
static void
all_commands (void)
{
  static const uint8_t want[4 + 38 * 8] = {
    0x00, 0x00, 0x01, 0x30,
    D (0x00, 0, 0, 6), D (0x03, 0, 0, 6), D (0x08, 0, 0, 6),
    D (0x0a, 0, 0, 6), D (0x12, 0, 0, 6), D (0x15, 0, 0, 6),
    D (0x1a, 0, 0, 6), D (0x25, 0, 0, 10), D (0x28, 0, 0, 10),
    D (0x2a, 0, 0, 10), D (0x2e, 0, 0, 10), D (0x2f, 0, 0, 10),
    D (0x34, 0, 0, 10), D (0x35, 0, 0, 10), D (0x41, 0, 0, 10),
    D (0x42, 0, 0, 10), D (0x55, 0, 0, 10), D (0x5a, 0, 0, 10),
    D (0x83, 0, 1, 16), D (0x84, 0, 1, 16), D (0x84, 3, 1, 16),
    D (0x84, 4, 1, 16), D (0x88, 0, 0, 16), D (0x89, 0, 0, 16), D (0x8a, 0, 0, 16),
    D (0x8e, 0, 0, 16), D (0x8f, 0, 0, 16), D (0x90, 0, 0, 16),
    D (0x91, 0, 0, 16), D (0x93, 0, 0, 16), D (0x9e, 0x10, 1, 16),
    D (0x9e, 0x12, 1, 16), D (0xa0, 0, 0, 12), D (0xa3, 0x0c, 1, 12),
    D (0xa8, 0, 0, 12), D (0xaa, 0, 0, 12), D (0xae, 0, 0, 12),
    D (0xaf, 0, 0, 12),
  };
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0xa3, 0x0c, 0x00, 0, 0, 0, 0, 0, 0x10, 0, 0, 0),
          NULL, 0, 4096);
  SH_EXPECT_DATA (&cmd, ARR (want));
  /* With command timeouts descriptors: 20 bytes each, CTDP set. */
  SH_RUN (&e, &cmd, BYTES (0xa3, 0x0c, 0x80, 0, 0, 0, 0, 0, 0x10, 0, 0, 0),
          NULL, 0, 4096);
  REQUIRE_INT (cmd.c.data_in_len, ==, 4 + 38 * 20);
  CHECK (memcmp (cmd.in, (uint8_t[]) { 0, 0, 0x02, 0xf8 }, 4) == 0);
  CHECK (memcmp (cmd.in + 4 + 20 * 30, (uint8_t[]) {
        D (0x9e, 0x10, 3, 16), 0x00, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
                 20) == 0);
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* SPC-4 6.35.4, reporting options 001b-011b. */
static void
one_command (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0xa3, 0x0c, 0x01, 0x28, 0, 0, 0, 0, 1, 0, 0, 0),
          NULL, 0, 256);
  SH_EXPECT_DATA (&cmd, BYTES (0x00, 0x03, 0x00, 0x0a,
                               0x28, 0x18, 0xff, 0xff, 0xff, 0xff, 0x00,
                               0xff, 0xff, 0x00));
  SH_RUN (&e, &cmd, BYTES (0xa3, 0x0c, 0x81, 0x2a, 0, 0, 0, 0, 1, 0, 0, 0),
          NULL, 0, 256);
  SH_EXPECT_DATA (&cmd, BYTES (0x00, 0x83, 0x00, 0x0a,
                               0x2a, 0x18, 0xff, 0xff, 0xff, 0xff, 0x00,
                               0xff, 0xff, 0x00,
                               0x00, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
  SH_RUN (&e, &cmd, BYTES (0xa3, 0x0c, 0x02, 0x9e, 0, 0x10, 0, 0, 1, 0, 0,
                           0), NULL, 0, 256);
  SH_EXPECT_DATA (&cmd, BYTES (0x00, 0x03, 0x00, 0x10,
                               0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0,
                               0xff, 0xff, 0xff, 0xff, 0x00, 0x00));
  /* 011b: either form. */
  SH_RUN (&e, &cmd, BYTES (0xa3, 0x0c, 0x03, 0x9e, 0, 0x12, 0, 0, 1, 0, 0,
                           0), NULL, 0, 4);
  SH_EXPECT_DATA (&cmd, BYTES (0x00, 0x03, 0x00, 0x10));
  SH_RUN (&e, &cmd, BYTES (0xa3, 0x0c, 0x03, 0x00, 0, 0x12, 0, 0, 1, 0, 0,
                           0), NULL, 0, 256);
  SH_EXPECT_DATA (&cmd, BYTES (0x00, 0x03, 0x00, 0x06,
                               0, 0, 0, 0, 0, 0));
  /* Not supported: SUPPORT 001b. */
  SH_RUN (&e, &cmd, BYTES (0xa3, 0x0c, 0x01, 0x02, 0, 0, 0, 0, 1, 0, 0, 0),
          NULL, 0, 256);
  SH_EXPECT_DATA (&cmd, BYTES (0x00, 0x01, 0x00, 0x00));
  SH_RUN (&e, &cmd, BYTES (0xa3, 0x0c, 0x02, 0x9e, 0, 0x11, 0, 0, 1, 0, 0,
                           0), NULL, 0, 256);
  SH_EXPECT_DATA (&cmd, BYTES (0x00, 0x01, 0x00, 0x00));
  SH_RUN (&e, &cmd, BYTES (0xa3, 0x0c, 0x02, 0x83, 0, 0x01, 0, 0, 1, 0, 0,
                           0), NULL, 0, 256);           /* LID4 */
  SH_EXPECT_DATA (&cmd, BYTES (0x00, 0x01, 0x00, 0x00));
  /* Options that do not fit the opcode, and reserved options. */
  SH_RUN (&e, &cmd, BYTES (0xa3, 0x0c, 0x01, 0x9e, 0, 0x10, 0, 0, 1, 0, 0,
                           0), NULL, 0, 256);
  SH_EXPECT_BAD_CDB (&cmd, 2, 2);
  SH_RUN (&e, &cmd, BYTES (0xa3, 0x0c, 0x02, 0x28, 0, 0, 0, 0, 1, 0, 0, 0),
          NULL, 0, 256);
  SH_EXPECT_BAD_CDB (&cmd, 2, 2);
  SH_RUN (&e, &cmd, BYTES (0xa3, 0x0c, 0x05, 0x28, 0, 0, 0, 0, 1, 0, 0, 0),
          NULL, 0, 256);
  SH_EXPECT_BAD_CDB (&cmd, 2, 2);
  sh_teardown (&e);
}

/* Every listed command answers one-command queries with its own opcode in
 * CDB USAGE DATA (what libiscsi's ReportSupportedOpcodes.OneCommand
 * checks), and the lengths agree.
 */
static void
listed_commands_answer (void)
{
  struct sh_env e;
  struct sh_cmd all, one;
  uint8_t cdb[12];

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &all, BYTES (0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0),
          NULL, 0, 4096);
  REQUIRE_INT (all.c.status, ==, 0);
  for (size_t p = 4; p + 8 <= all.c.data_in_len; p += 8) {
    const uint8_t *d = all.in + p;
    memcpy (cdb, (uint8_t[]) { 0xa3, 0x0c, (d[5] & 1) ? 2 : 1, d[0], d[2],
                               d[3], 0, 0, 1, 0, 0, 0 }, 12);
    SH_RUN (&e, &one, ARR (cdb), NULL, 0, 256);
    REQUIRE_INT (one.c.status, ==, 0);
    CHECK_INT (one.in[1], ==, 0x03);
    CHECK_INT (get_be16 (one.in + 2), ==, get_be16 (d + 6));
    CHECK_INT (one.in[4], ==, d[0]);
  }
  sh_teardown (&e);
}

static const struct h_test tests[] = {
  H_TEST (table_sanity),
  H_TEST (all_commands),
  H_TEST (one_command),
  H_TEST (listed_commands_answer),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
