/* xcopyd: COMPARE AND WRITE (daemon/scsi/compare_write.c), including its
 * atomicity against concurrent writers.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "scsi-harness.h"

static void
caw_cdb (uint8_t *cdb, uint8_t byte1, uint64_t lba, uint8_t n)
{
  memset (cdb, 0, 16);
  cdb[0] = 0x89;
  cdb[1] = byte1;
  put_be64 (cdb + 2, lba);
  cdb[13] = n;
}

static void
compare_then_write (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16], old[2 * 512], buf[4 * 512], back[2 * 512];
  unsigned long syncs;

  sh_setup (&e, 1 * MiB, NULL);
  memset (old, 'o', sizeof old);
  h_pwrite_all (e.fd, old, sizeof old, 10 * 512);
  memcpy (buf, old, sizeof old);
  memset (buf + sizeof old, 'n', sizeof old);
  syncs = h_ncalls (H_FDATASYNC);
  caw_cdb (cdb, 0x08, 10, 2);                   /* FUA */
  SH_RUN (&e, &cmd, ARR (cdb), ARR (buf), 0);
  SH_EXPECT_GOOD (&cmd);
  CHECK_U64 (cmd.c.xfer_len, ==, sizeof buf);
  CHECK_U64 (h_ncalls (H_FDATASYNC), ==, syncs + 1);
  h_pread_all (e.fd, back, sizeof back, 10 * 512);
  CHECK (memcmp (back, buf + sizeof old, sizeof back) == 0);
  /* Same again: the blocks now hold 'n', the compare data says 'o'.
   * MISCOMPARE at offset 0 of the data-out; nothing written.
   */
  memset (buf + sizeof old, 'x', sizeof old);
  SH_RUN (&e, &cmd, ARR (cdb), ARR (buf), 0);
  SH_EXPECT_SENSE (&cmd, BYTES (0xf0, 0, 0x0e, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0,
                                0x1d, 0x00, 0, 0, 0, 0));
  h_pread_all (e.fd, back, sizeof back, 10 * 512);
  CHECK (back[0] == 'n' && back[sizeof back - 1] == 'n');
  /* A difference deep in the second block: INFORMATION 512 + 300. */
  memset (buf, 'n', sizeof old);
  buf[812] = '?';
  SH_RUN (&e, &cmd, ARR (cdb), ARR (buf), 0);
  SH_EXPECT_SENSE (&cmd, BYTES (0xf0, 0, 0x0e, 0, 0, 0x03, 0x2c, 0x0a,
                                0, 0, 0, 0, 0x1d, 0x00, 0, 0, 0, 0));
  sh_teardown (&e);
}

static void
invalid (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16], *buf = h_calloc (2 * 256 * 512);

  sh_setup (&e, 1 * MiB, NULL);
  /* NUMBER OF LOGICAL BLOCKS 0: nothing to do. */
  caw_cdb (cdb, 0, 0, 0);
  SH_RUN (&e, &cmd, ARR (cdb), NULL, 0, 0);
  SH_EXPECT_GOOD (&cmd);
  /* ... but with data-out it is a wrapped length (256 blocks): the
   * NUMBER OF LOGICAL BLOCKS field is wrong, nothing is touched.
   */
  memset (buf, 'A', 2 * 256 * 512);
  SH_RUN (&e, &cmd, ARR (cdb), buf, 2 * 256 * 512, 0);
  SH_EXPECT_BAD_CDB (&cmd, 13, -1);
  h_pread_all (e.fd, buf, 256 * 512, 0);
  for (size_t i = 0; i < 256 * 512; i++)
    if (buf[i] != 0) {
      CHECK (buf[i] == 0);
      break;
    }
  /* The data-out must be exactly 2 x NUMBER OF LOGICAL BLOCKS blocks
   * (libiscsi's CompareAndWrite.InvalidDataOutSize).
   */
  caw_cdb (cdb, 0, 0, 1);
  SH_RUN (&e, &cmd, ARR (cdb), buf, 4 * 512, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x0e, 0x03);
  SH_RUN (&e, &cmd, ARR (cdb), buf, 512, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x0e, 0x03);
  caw_cdb (cdb, 0x20, 0, 1);                    /* WRPROTECT */
  SH_RUN (&e, &cmd, ARR (cdb), buf, 1024, 0);
  SH_EXPECT_BAD_CDB (&cmd, 1, 7);
  caw_cdb (cdb, 0, 2047, 2);
  SH_RUN (&e, &cmd, ARR (cdb), buf, 2048, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x21, 0x00);
  sh_teardown (&e);
  /* MAXIMUM COMPARE AND WRITE LENGTH follows a small transfer limit. */
  {
    struct scsi_lu_config cfg;
    sh_config (&cfg);
    cfg.max_transfer = 16 * 512;
    sh_setup (&e, 1 * MiB, &cfg);
    caw_cdb (cdb, 0, 0, 17);
    SH_RUN (&e, &cmd, ARR (cdb), buf, 34 * 512, 0);
    SH_EXPECT_BAD_CDB (&cmd, 13, -1);
    sh_teardown (&e);
  }
  free (buf);
}

/* COMPARE AND WRITE threads race on one block, each replacing a block of
 * value v with v + 1 when the compare says the block still holds v;
 * writers hammer the blocks on either side.  Were the compare and the
 * write not one atomic step, two threads could both succeed on the same v
 * and the block would end lower than the number of successes.
 */
struct race {
  struct sh_env *e;
  unsigned ok;
  bool torn;
};

static void
fill_block (uint8_t *b, uint8_t v)
{
  memset (b, v, 512);
}

static void *
caw_thread (void *opaque)
{
  struct race *r = opaque;
  uint8_t cdb[16], buf[1024];
  struct sh_cmd cmd;

  caw_cdb (cdb, 0, 5, 1);
  for (int i = 0; i < 400; i++) {
    uint8_t now[512];
    h_pread_all (r->e->fd, now, 512, 5 * 512);
    fill_block (buf, now[0]);
    fill_block (buf + 512, (uint8_t) (now[0] + 1));
    sh_run (r->e->nexus, 0, &cmd, ARR (cdb), ARR (buf), 0);
    if (cmd.c.status == SCSI_STATUS_GOOD)
      r->ok++;
  }
  return NULL;
}

static void *
write_thread (void *opaque)
{
  struct race *r = opaque;
  uint8_t cdb[10], buf[512];
  struct sh_cmd cmd;

  memset (buf, 0xee, sizeof buf);
  for (int i = 0; i < 400; i++) {
    sh_cdb10 (cdb, 0x2a, 0, i % 2 ? 4 : 6, 1);
    sh_run (r->e->nexus, 0, &cmd, ARR (cdb), ARR (buf), 0);
    if (cmd.c.status != SCSI_STATUS_GOOD)
      r->torn = true;
  }
  return NULL;
}

static void
atomic_against_writes (void)
{
  struct race r[6];
  pthread_t th[6];
  struct sh_env e;
  unsigned total = 0;
  uint8_t now[512];

  sh_setup (&e, 1 * MiB, NULL);
  for (int i = 0; i < 6; i++) {
    r[i] = (struct race) { &e, 0, false };
    REQUIRE (pthread_create (&th[i], NULL, i < 4 ? caw_thread : write_thread,
                             &r[i]) == 0);
  }
  for (int i = 0; i < 6; i++) {
    pthread_join (th[i], NULL);
    CHECK (!r[i].torn);
    total += i < 4 ? r[i].ok : 0;
  }
  h_pread_all (e.fd, now, 512, 5 * 512);
  for (int k = 1; k < 512; k++)
    REQUIRE (now[k] == now[0]);
  /* Each success added exactly one. */
  CHECK_U64 (now[0], ==, total % 256);
  h_note ("%u compare-and-writes succeeded", total);
  sh_teardown (&e);
}

static const struct h_test tests[] = {
  H_TEST (compare_then_write),
  H_TEST (invalid),
  H_TEST_T (atomic_against_writes, 120),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
