/* xcopyd: WRITE SAME (10) and (16) (daemon/scsi/write_same.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi-harness.h"

static void
ws_cdb (uint8_t *cdb, bool sixteen, uint8_t byte1, uint64_t lba, uint32_t n)
{
  if (sixteen)
    sh_cdb16 (cdb, 0x93, byte1, lba, n);
  else
    sh_cdb10 (cdb, 0x41, byte1, (uint32_t) lba, (uint16_t) n);
}

/* Every byte of [off, off+len) of fd is c? */
static bool
all_bytes (int fd, uint64_t off, size_t len, uint8_t c)
{
  uint8_t *b = h_malloc (len);
  bool ok = true;

  h_pread_all (fd, b, len, off);
  for (size_t i = 0; i < len && ok; i++)
    ok = b[i] == c;
  free (b);
  return ok;
}

/* A non-zero block becomes a fill with that block as the pattern. */
static void
fill_pattern (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16], block[512], back[512];

  sh_setup (&e, 1 * MiB, NULL);
  for (int i = 0; i < 512; i++)
    block[i] = (uint8_t) i;
  for (int sixteen = 0; sixteen < 2; sixteen++) {
    uint64_t lba = sixteen ? 100 : 10;
    ws_cdb (cdb, sixteen, 0, lba, 20);
    SH_RUN (&e, &cmd, cdb, sixteen ? 16 : 10, ARR (block), 0);
    SH_EXPECT_GOOD (&cmd);
    for (int b = 0; b < 20; b++) {
      h_pread_all (e.fd, back, 512, (lba + (uint64_t) b) * 512);
      CHECK (memcmp (back, block, 512) == 0);
    }
    CHECK (all_bytes (e.fd, (lba + 20) * 512, 512, 0));
  }
  CHECK (h_bytes (&e.stats, XCOPY_M_FILL_WRITE) > 0);
  sh_teardown (&e);
}

/* UNMAP=0 and an all-zero block: zeroes, never a hole punched. */
static void
zero_block_writes_zeroes (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16], zero[512] = { 0 }, ff[64 * 512];

  sh_setup (&e, 1 * MiB, NULL);
  memset (ff, 0xff, sizeof ff);
  h_pwrite_all (e.fd, ff, sizeof ff, 0);
  ws_cdb (cdb, true, 0, 8, 48);
  SH_RUN (&e, &cmd, cdb, 16, ARR (zero), 0);
  SH_EXPECT_GOOD (&cmd);
  CHECK (all_bytes (e.fd, 0, 8 * 512, 0xff));
  CHECK (all_bytes (e.fd, 8 * 512, 48 * 512, 0));
  CHECK (all_bytes (e.fd, 56 * 512, 8 * 512, 0xff));
  CHECK_U64 (h_ncalls (H_PUNCH), ==, 0);
  sh_teardown (&e);
}

/* UNMAP=1 with an all-zero block (or NDOB): deallocated, reading back as
 * zeroes (LBPRZ=1).
 */
static void
unmap_bit (void)
{
  struct scsi_lu_config cfg;
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16], ff[4096], zero[4096] = { 0 };

  sh_config (&cfg);
  cfg.block_size = 4096;
  sh_setup (&e, 1 * MiB, &cfg);
  memset (ff, 0xff, sizeof ff);
  for (int b = 0; b < 32; b++)
    h_pwrite_all (e.fd, ff, sizeof ff, (uint64_t) b * 4096);
  ws_cdb (cdb, false, 0x08, 4, 8);
  SH_RUN (&e, &cmd, cdb, 10, ARR (zero), 0);
  SH_EXPECT_GOOD (&cmd);
  CHECK (all_bytes (e.fd, 3 * 4096, 4096, 0xff));
  CHECK (all_bytes (e.fd, 4 * 4096, 8 * 4096, 0));
  CHECK (all_bytes (e.fd, 12 * 4096, 4096, 0xff));
  if (h_holes_work ())
    CHECK (h_is_hole (e.fd, 4 * 4096, 8 * 4096));
  /* NDOB: no data-out at all. */
  ws_cdb (cdb, true, 0x08 | 0x01, 20, 4);
  SH_RUN (&e, &cmd, cdb, 16, NULL, 0, 0);
  SH_EXPECT_GOOD (&cmd);
  CHECK_U64 (cmd.c.xfer_len, ==, 0);
  CHECK (all_bytes (e.fd, 20 * 4096, 4 * 4096, 0));
  CHECK (all_bytes (e.fd, 24 * 4096, 4096, 0xff));
  if (h_holes_work ())
    CHECK (h_is_hole (e.fd, 20 * 4096, 4 * 4096));
  sh_teardown (&e);
}

/* UNMAP=1 with a non-zero block: UNMAP only permits deallocation, and a
 * deallocated block would read as zeroes, so the block is written.
 */
static void
unmap_bit_nonzero_block (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16], pat[512], back[512];

  sh_setup (&e, 1 * MiB, NULL);
  for (int i = 0; i < 512; i++)
    pat[i] = (uint8_t) (i * 7 + 1);
  for (int sixteen = 0; sixteen < 2; sixteen++) {
    uint64_t lba = sixteen ? 64 : 8;
    unsigned long punches = h_ncalls (H_PUNCH);
    ws_cdb (cdb, sixteen, 0x08, lba, 16);
    SH_RUN (&e, &cmd, cdb, sixteen ? 16 : 10, ARR (pat), 0);
    SH_EXPECT_GOOD (&cmd);
    for (int b = 0; b < 16; b++) {
      h_pread_all (e.fd, back, 512, (lba + (uint64_t) b) * 512);
      CHECK (memcmp (back, pat, 512) == 0);
    }
    CHECK (all_bytes (e.fd, (lba - 1) * 512, 512, 0));
    CHECK (all_bytes (e.fd, (lba + 16) * 512, 512, 0));
    CHECK_U64 (h_ncalls (H_PUNCH), ==, punches);
  }
  sh_teardown (&e);
}

/* NUMBER OF LOGICAL BLOCKS 0: to the last block, within MAXIMUM WRITE
 * SAME LENGTH.
 */
static void
to_the_end (void)
{
  struct scsi_lu_config cfg;
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16], block[512];

  sh_config (&cfg);
  cfg.max_write_same = 16 * 512;
  sh_setup (&e, 1 * MiB, &cfg);                 /* 2048 blocks */
  memset (block, 'z', sizeof block);
  ws_cdb (cdb, false, 0, 2040, 0);
  SH_RUN (&e, &cmd, cdb, 10, ARR (block), 0);
  SH_EXPECT_GOOD (&cmd);
  CHECK (all_bytes (e.fd, 2040 * 512, 8 * 512, 'z'));
  ws_cdb (cdb, false, 0, 2000, 0);              /* 48 blocks > 16 */
  SH_RUN (&e, &cmd, cdb, 10, ARR (block), 0);
  SH_EXPECT_BAD_CDB (&cmd, 7, -1);
  ws_cdb (cdb, true, 0, 0, 17);
  SH_RUN (&e, &cmd, cdb, 16, ARR (block), 0);
  SH_EXPECT_BAD_CDB (&cmd, 10, -1);
  ws_cdb (cdb, true, 0, 2048, 0);               /* nothing left: no-op */
  SH_RUN (&e, &cmd, cdb, 16, ARR (block), 0);
  SH_EXPECT_GOOD (&cmd);
  sh_teardown (&e);
}

static void
invalid_fields (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16], block[1024] = { 0 };

  sh_setup (&e, 1 * MiB, NULL);
  ws_cdb (cdb, false, 0x10 | 0x08, 0, 1);       /* ANCHOR: ANC_SUP=0 */
  SH_RUN (&e, &cmd, cdb, 10, block, 512, 0);
  SH_EXPECT_BAD_CDB (&cmd, 1, 4);
  ws_cdb (cdb, true, 0x10, 0, 1);               /* ANCHOR without UNMAP */
  SH_RUN (&e, &cmd, cdb, 16, block, 512, 0);
  SH_EXPECT_BAD_CDB (&cmd, 1, 4);
  ws_cdb (cdb, false, 0x04, 0, 1);              /* PBDATA */
  SH_RUN (&e, &cmd, cdb, 10, block, 512, 0);
  SH_EXPECT_BAD_CDB (&cmd, 1, 2);
  ws_cdb (cdb, false, 0x02, 0, 1);              /* LBDATA */
  SH_RUN (&e, &cmd, cdb, 10, block, 512, 0);
  SH_EXPECT_BAD_CDB (&cmd, 1, 1);
  ws_cdb (cdb, true, 0x20, 0, 1);               /* WRPROTECT */
  SH_RUN (&e, &cmd, cdb, 16, block, 512, 0);
  SH_EXPECT_BAD_CDB (&cmd, 1, 7);
  /* The data-out must be exactly one block (libiscsi's
   * WriteSame*.InvalidDataOutSize).
   */
  ws_cdb (cdb, false, 0x08, 0, 1);
  SH_RUN (&e, &cmd, cdb, 10, block, 256, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x0e, 0x03);
  SH_RUN (&e, &cmd, cdb, 10, block, 1024, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x0e, 0x03);
  ws_cdb (cdb, true, 0, 2047, 2);
  SH_RUN (&e, &cmd, cdb, 16, block, 512, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x21, 0x00);
  sh_teardown (&e);
}

static void
errors_from_backend (void)
{
  struct scsi_lu_config cfg;
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16], block[512];

  memset (block, 7, sizeof block);
  sh_setup (&e, 1 * MiB, NULL);
  h_write_budget (4096, ENOSPC);
  ws_cdb (cdb, true, 0, 0, 64);
  SH_RUN (&e, &cmd, cdb, 16, ARR (block), 0);
  SH_EXPECT_PLAIN (&cmd, 0x07, 0x27, 0x07);
  sh_teardown (&e);
  sh_config (&cfg);
  cfg.read_only = true;
  sh_setup (&e, 1 * MiB, &cfg);
  SH_RUN (&e, &cmd, cdb, 16, ARR (block), 0);
  SH_EXPECT_PLAIN (&cmd, 0x07, 0x27, 0x00);
  sh_teardown (&e);
}

static const struct h_test tests[] = {
  H_TEST (fill_pattern),
  H_TEST (zero_block_writes_zeroes),
  H_TEST (unmap_bit),
  H_TEST (unmap_bit_nonzero_block),
  H_TEST (to_the_end),
  H_TEST (invalid_fields),
  H_TEST (errors_from_backend),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
