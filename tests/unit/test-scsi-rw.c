/* xcopyd: READ, WRITE, WRITE AND VERIFY, VERIFY, SYNCHRONIZE CACHE and
 * PRE-FETCH (daemon/scsi/rw.c, verify.c, cache.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi-harness.h"

/* A CDB of the given size for a block command (SBC-3 layouts). */
static size_t
block_cdb (uint8_t *cdb, unsigned size, uint8_t op, uint8_t byte1,
           uint64_t lba, uint32_t n)
{
  memset (cdb, 0, 16);
  cdb[0] = op;
  switch (size) {
  case 6:
    put_be24 (cdb + 1, (uint32_t) lba & 0x1fffff);
    cdb[4] = (uint8_t) n;
    break;
  case 10:
    sh_cdb10 (cdb, op, byte1, (uint32_t) lba, (uint16_t) n);
    break;
  case 12:
    cdb[1] = byte1;
    put_be32 (cdb + 2, (uint32_t) lba);
    put_be32 (cdb + 6, n);
    break;
  default:
    sh_cdb16 (cdb, op, byte1, lba, n);
    break;
  }
  return size;
}

static const struct { unsigned size; uint8_t read, write; } sizes[] = {
  { 6, 0x08, 0x0a }, { 10, 0x28, 0x2a }, { 12, 0xa8, 0xaa },
  { 16, 0x88, 0x8a },
};

static void
write_then_read (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16];

  sh_setup (&e, 1 * MiB, NULL);
  for (size_t i = 0; i < ARRAY_SIZE (sizes); i++) {
    uint64_t lba = 7 + 100 * i;
    uint8_t *data = h_random (5 * 512, i + 1), back[5 * 512];
    size_t len = block_cdb (cdb, sizes[i].size, sizes[i].write, 0, lba, 5);
    SH_RUN (&e, &cmd, cdb, len, data, 5 * 512, 0);
    SH_EXPECT_GOOD (&cmd);
    CHECK_U64 (cmd.c.xfer_len, ==, 5 * 512);
    h_pread_all (e.fd, back, sizeof back, lba * 512);
    CHECK (memcmp (back, data, sizeof back) == 0);
    len = block_cdb (cdb, sizes[i].size, sizes[i].read, 0, lba, 5);
    SH_RUN (&e, &cmd, cdb, len, NULL, 0, 5 * 512);
    SH_EXPECT_DATA_N (&cmd, data, 5 * 512);
    sh_cmd_free (&cmd);
    free (data);
  }
  sh_teardown (&e);
}

/* SBC-3 5.7: READ (6) with TRANSFER LENGTH 0 reads 256 blocks. */
static void
read6_256_blocks (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x08, 0, 0, 0, 0, 0), NULL, 0, 256 * 512);
  CHECK_INT (cmd.c.status, ==, 0);
  CHECK_INT (cmd.c.data_in_len, ==, 256 * 512);
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

static void
lba_out_of_range (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16], block[1024] = { 0 };

  sh_setup (&e, 1 * MiB, NULL);                 /* 2048 blocks */
  sh_cdb10 (cdb, 0x28, 0, 2047, 2);
  SH_RUN (&e, &cmd, cdb, 10, NULL, 0, 1024);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x21, 0x00);
  sh_cdb10 (cdb, 0x28, 0, 2049, 0);
  SH_RUN (&e, &cmd, cdb, 10, NULL, 0, 1024);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x21, 0x00);
  sh_cdb10 (cdb, 0x28, 0, 2048, 0);             /* no blocks, at the end */
  SH_RUN (&e, &cmd, cdb, 10, NULL, 0, 1024);
  SH_EXPECT_GOOD (&cmd);
  sh_cdb16 (cdb, 0x8a, 0, UINT64_MAX, 1);       /* wraps around */
  SH_RUN (&e, &cmd, cdb, 16, block, 512, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x21, 0x00);
  sh_cdb16 (cdb, 0x8a, 0, 2046, 2);
  SH_RUN (&e, &cmd, cdb, 16, block, 1024, 0);
  SH_EXPECT_GOOD (&cmd);
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

static void
protection_and_limits (void)
{
  struct scsi_lu_config cfg;
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16];

  sh_config (&cfg);
  cfg.max_transfer = 64 * KiB;                  /* 128 blocks */
  sh_setup (&e, 1 * MiB, &cfg);
  sh_cdb10 (cdb, 0x28, 0x20, 0, 1);             /* RDPROTECT 001b */
  SH_RUN (&e, &cmd, cdb, 10, NULL, 0, 512);
  SH_EXPECT_BAD_CDB (&cmd, 1, 7);
  sh_cdb10 (cdb, 0x2a, 0x40, 0, 1);             /* WRPROTECT 010b */
  SH_RUN (&e, &cmd, cdb, 10, BYTES (0), 0);
  SH_EXPECT_BAD_CDB (&cmd, 1, 7);
  sh_cdb10 (cdb, 0x28, 0, 0, 129);
  SH_RUN (&e, &cmd, cdb, 10, NULL, 0, 129 * 512);
  SH_EXPECT_BAD_CDB (&cmd, 7, -1);
  block_cdb (cdb, 12, 0xa8, 0, 0, 129);
  SH_RUN (&e, &cmd, cdb, 12, NULL, 0, 129 * 512);
  SH_EXPECT_BAD_CDB (&cmd, 6, -1);
  sh_cdb16 (cdb, 0x88, 0, 0, 129);
  SH_RUN (&e, &cmd, cdb, 16, NULL, 0, 129 * 512);
  SH_EXPECT_BAD_CDB (&cmd, 10, -1);
  sh_cdb16 (cdb, 0x88, 0, 0, 128);
  SH_RUN (&e, &cmd, cdb, 16, NULL, 0, 128 * 512);
  CHECK_INT (cmd.c.status, ==, 0);
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* FUA: durable before status.  DPO: a hint, accepted. */
static void
fua_syncs (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16], block[512] = { 9 };
  unsigned long before;

  sh_setup (&e, 1 * MiB, NULL);
  before = h_ncalls (H_FDATASYNC);
  sh_cdb10 (cdb, 0x2a, 0x10, 3, 1);             /* DPO */
  SH_RUN (&e, &cmd, cdb, 10, ARR (block), 0);
  SH_EXPECT_GOOD (&cmd);
  CHECK_U64 (h_ncalls (H_FDATASYNC), ==, before);
  sh_cdb16 (cdb, 0x8a, 0x08, 3, 1);             /* FUA */
  SH_RUN (&e, &cmd, cdb, 16, ARR (block), 0);
  SH_EXPECT_GOOD (&cmd);
  CHECK_U64 (h_ncalls (H_FDATASYNC), ==, before + 1);
  sh_cdb10 (cdb, 0x28, 0x18, 3, 1);             /* READ with DPO, FUA */
  SH_RUN (&e, &cmd, cdb, 10, NULL, 0, 512);
  SH_EXPECT_DATA (&cmd, ARR (block));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* Backend errors become MEDIUM ERROR and DATA PROTECT (ENOSPC). */
static void
backend_errors (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[10], block[512] = { 1 };

  sh_setup (&e, 1 * MiB, NULL);
  h_fail_always (H_PREAD, EIO);
  sh_cdb10 (cdb, 0x28, 0, 0, 1);
  SH_RUN (&e, &cmd, ARR (cdb), NULL, 0, 512);
  SH_EXPECT_PLAIN (&cmd, 0x03, 0x11, 0x00);
  sh_cmd_free (&cmd);
  h_fail_always (H_PWRITE, EIO);
  sh_cdb10 (cdb, 0x2a, 0, 0, 1);
  SH_RUN (&e, &cmd, ARR (cdb), ARR (block), 0);
  SH_EXPECT_PLAIN (&cmd, 0x03, 0x0c, 0x00);
  h_fail_always (H_PWRITE, ENOSPC);
  SH_RUN (&e, &cmd, ARR (cdb), ARR (block), 0);
  SH_EXPECT_PLAIN (&cmd, 0x07, 0x27, 0x07);
  h_fail_always (H_FDATASYNC, EIO);
  SH_RUN (&e, &cmd, BYTES (0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0), NULL, 0, 0);
  SH_EXPECT_PLAIN (&cmd, 0x03, 0x0c, 0x00);
  sh_teardown (&e);
}

/* SBC-3 5.36: WRITE AND VERIFY, BYTCHK 00b and 01b. */
static void
write_and_verify (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16], *data = h_random (4 * 512, 42), back[4 * 512];
  unsigned long before;

  sh_setup (&e, 1 * MiB, NULL);
  before = h_ncalls (H_FDATASYNC);
  sh_cdb10 (cdb, 0x2e, 0x00, 10, 4);
  SH_RUN (&e, &cmd, cdb, 10, data, 4 * 512, 0);
  SH_EXPECT_GOOD (&cmd);
  block_cdb (cdb, 12, 0xae, 0x02, 20, 4);       /* BYTCHK 01b */
  SH_RUN (&e, &cmd, cdb, 12, data, 4 * 512, 0);
  SH_EXPECT_GOOD (&cmd);
  sh_cdb16 (cdb, 0x8e, 0x02, 30, 4);
  SH_RUN (&e, &cmd, cdb, 16, data, 4 * 512, 0);
  SH_EXPECT_GOOD (&cmd);
  CHECK_U64 (h_ncalls (H_FDATASYNC), ==, before + 3);
  h_pread_all (e.fd, back, sizeof back, 30 * 512);
  CHECK (memcmp (back, data, sizeof back) == 0);
  sh_cdb10 (cdb, 0x2e, 0x04, 10, 4);            /* BYTCHK 10b */
  SH_RUN (&e, &cmd, cdb, 10, data, 4 * 512, 0);
  SH_EXPECT_BAD_CDB (&cmd, 1, 2);
  free (data);
  sh_teardown (&e);
}

/* SBC-3 5.29: VERIFY with BYTCHK 00b, 01b (miscompare offset in
 * INFORMATION) and 11b (one block against each).
 */
static void
verify (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16], *data = h_random (4 * 512, 7), pat[512];

  sh_setup (&e, 1 * MiB, NULL);
  h_pwrite_all (e.fd, data, 4 * 512, 100 * 512);
  sh_cdb10 (cdb, 0x2f, 0x00, 100, 4);
  SH_RUN (&e, &cmd, cdb, 10, NULL, 0, 0);
  SH_EXPECT_GOOD (&cmd);
  sh_cdb10 (cdb, 0x2f, 0x02, 100, 4);
  SH_RUN (&e, &cmd, cdb, 10, data, 4 * 512, 0);
  SH_EXPECT_GOOD (&cmd);
  data[700] ^= 0x55;
  block_cdb (cdb, 12, 0xaf, 0x02, 100, 4);
  SH_RUN (&e, &cmd, cdb, 12, data, 4 * 512, 0);
  SH_EXPECT_SENSE (&cmd, BYTES (0xf0, 0, 0x0e, 0, 0, 0x02, 0xbc, 0x0a,
                                0, 0, 0, 0, 0x1d, 0x00, 0, 0, 0, 0));
  /* BYTCHK 11b: the same block everywhere. */
  memset (pat, 0x5a, sizeof pat);
  for (int i = 0; i < 3; i++)
    h_pwrite_all (e.fd, pat, 512, (200 + i) * 512);
  sh_cdb16 (cdb, 0x8f, 0x06, 200, 3);
  SH_RUN (&e, &cmd, cdb, 16, ARR (pat), 0);
  SH_EXPECT_GOOD (&cmd);
  h_pwrite_all (e.fd, "x", 1, 201 * 512 + 3);
  SH_RUN (&e, &cmd, cdb, 16, ARR (pat), 0);
  SH_EXPECT_SENSE (&cmd, BYTES (0xf0, 0, 0x0e, 0, 0, 0x02, 0x03, 0x0a,
                                0, 0, 0, 0, 0x1d, 0x00, 0, 0, 0, 0));
  /* Fields and lengths. */
  sh_cdb10 (cdb, 0x2f, 0x04, 100, 4);
  SH_RUN (&e, &cmd, cdb, 10, data, 4 * 512, 0);
  SH_EXPECT_BAD_CDB (&cmd, 1, 2);
  sh_cdb10 (cdb, 0x2f, 0x20, 100, 4);
  SH_RUN (&e, &cmd, cdb, 10, data, 4 * 512, 0);
  SH_EXPECT_BAD_CDB (&cmd, 1, 7);
  sh_cdb10 (cdb, 0x2f, 0x02, 100, 4);
  SH_RUN (&e, &cmd, cdb, 10, data, 512, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x0e, 0x03);
  sh_cdb10 (cdb, 0x2f, 0x00, 2047, 2);
  SH_RUN (&e, &cmd, cdb, 10, NULL, 0, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x21, 0x00);
  free (data);
  sh_teardown (&e);
}

/* SBC-3 5.22-5.23, 5.13-5.14. */
static void
sync_cache_and_prefetch (void)
{
  static const uint8_t ops[] = { 0x35, 0x91, 0x34, 0x90 };
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16];
  unsigned long before;

  sh_setup (&e, 1 * MiB, NULL);
  for (size_t i = 0; i < sizeof ops; i++) {
    size_t len = ops[i] < 0x80 ? 10 : 16;
    before = h_ncalls (H_FDATASYNC);
    block_cdb (cdb, (unsigned) len, ops[i], 0x02, 10, 0);   /* IMMED */
    SH_RUN (&e, &cmd, cdb, len, NULL, 0, 0);
    SH_EXPECT_GOOD (&cmd);
    CHECK_U64 (h_ncalls (H_FDATASYNC), ==, before + (ops[i] & 1));
    block_cdb (cdb, (unsigned) len, ops[i], 0, 2000, 48);
    SH_RUN (&e, &cmd, cdb, len, NULL, 0, 0);
    SH_EXPECT_GOOD (&cmd);
    block_cdb (cdb, (unsigned) len, ops[i], 0, 2000, 49);
    SH_RUN (&e, &cmd, cdb, len, NULL, 0, 0);
    SH_EXPECT_PLAIN (&cmd, 0x05, 0x21, 0x00);
    block_cdb (cdb, (unsigned) len, ops[i], 0, 2049, 0);
    SH_RUN (&e, &cmd, cdb, len, NULL, 0, 0);
    SH_EXPECT_PLAIN (&cmd, 0x05, 0x21, 0x00);
  }
  sh_teardown (&e);
}

static const struct h_test tests[] = {
  H_TEST (write_then_read),
  H_TEST (read6_256_blocks),
  H_TEST (lba_out_of_range),
  H_TEST (protection_and_limits),
  H_TEST (fua_syncs),
  H_TEST (backend_errors),
  H_TEST (write_and_verify),
  H_TEST (verify),
  H_TEST (sync_cache_and_prefetch),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
