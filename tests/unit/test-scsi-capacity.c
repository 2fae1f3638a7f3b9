/* xcopyd: READ CAPACITY (10) (16) and GET LBA STATUS
 * (daemon/scsi/capacity.c, lba_status.c).
 */
#include <string.h>

#include "scsi-harness.h"

/* SBC-3 5.15: RETURNED LOGICAL BLOCK ADDRESS and BLOCK LENGTH. */
static void
read_capacity10 (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, 1 * MiB, NULL);
  SH_RUN (&e, &cmd, BYTES (0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), NULL, 0, 8);
  SH_EXPECT_DATA (&cmd, BYTES (0x00, 0x00, 0x07, 0xff, 0x00, 0x00, 0x02,
                               0x00));
  sh_cmd_free (&cmd);
  /* PMI=0 with a LOGICAL BLOCK ADDRESS is an error, PMI=1 is fine. */
  SH_RUN (&e, &cmd, BYTES (0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0), NULL, 0, 8);
  SH_EXPECT_BAD_CDB (&cmd, 2, -1);
  SH_RUN (&e, &cmd, BYTES (0x25, 0, 0, 0, 0, 1, 0, 0, 1, 0), NULL, 0, 8);
  CHECK_INT (cmd.c.status, ==, 0);
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* More than 2^32 blocks: RETURNED LBA FFFFFFFFh sends the initiator to
 * READ CAPACITY (16).
 */
static void
read_capacity10_huge (void)
{
  struct sh_env e;
  struct sh_cmd cmd;

  sh_setup (&e, (UINT64_C (1) << 32) * 512 + 8 * 512, NULL);
  SH_RUN (&e, &cmd, BYTES (0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), NULL, 0, 8);
  SH_EXPECT_DATA (&cmd, BYTES (0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x02,
                               0x00));
  sh_cmd_free (&cmd);
  SH_RUN (&e, &cmd, BYTES (0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12,
                           0, 0), NULL, 0, 32);
  SH_EXPECT_DATA (&cmd, BYTES (0, 0, 0, 0x01, 0, 0, 0, 0x07,
                               0x00, 0x00, 0x02, 0x00));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* SBC-3 5.16: with LBPME, LBPRZ and the physical block exponent. */
static void
read_capacity16 (void)
{
  struct scsi_lu_config cfg;
  struct sh_env e;
  struct sh_cmd cmd;

  sh_config (&cfg);
  cfg.block_size = 4096;
  cfg.phys_exp = 2;
  sh_setup (&e, 1 * MiB, &cfg);
  SH_RUN (&e, &cmd, BYTES (0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32,
                           0, 0), NULL, 0, 32);
  SH_EXPECT_DATA (&cmd, BYTES (0, 0, 0, 0, 0, 0, 0, 0xff,
                               0x00, 0x00, 0x10, 0x00,
                               0x00, 0x02, 0xc0, 0x00,
                               0, 0, 0, 0, 0, 0, 0, 0,
                               0, 0, 0, 0, 0, 0, 0, 0));
  sh_cmd_free (&cmd);
  /* ALLOCATION LENGTH 0: nothing, and no error. */
  SH_RUN (&e, &cmd, BYTES (0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                           0, 0), NULL, 0, 32);
  SH_EXPECT_GOOD (&cmd);
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* One GET LBA STATUS descriptor (SBC-3 5.5.3, table 38). */
static void
put_desc (uint8_t *p, uint64_t lba, uint32_t n, uint8_t status)
{
  memset (p, 0, 16);
  put_be64 (p, lba);
  put_be32 (p + 8, n);
  p[12] = status;
}

static void
get_lba_status_cdb (uint8_t *cdb, uint64_t lba, uint32_t alloc)
{
  sh_cdb16 (cdb, 0x9e, 0x12, lba, alloc);
}

/* 64 blocks of 4 KiB: data 0-1, hole 2-9, data 10, hole 11-63. */
static void
get_lba_status (void)
{
  struct scsi_lu_config cfg;
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16], want[8 + 4 * 16] = { 0, 0, 0, 4 + 4 * 16 };
  uint8_t block[4096];

  if (!h_holes_work ())
    h_skip ("the scratch file system does not report holes");
  sh_config (&cfg);
  cfg.block_size = 4096;
  sh_setup (&e, 64 * 4096, &cfg);
  memset (block, 'x', sizeof block);
  h_pwrite_all (e.fd, block, 4096, 0);
  h_pwrite_all (e.fd, block, 4096, 4096);
  h_pwrite_all (e.fd, block, 4096, 10 * 4096);
  put_desc (want + 8, 0, 2, 0);
  put_desc (want + 24, 2, 8, 1);
  put_desc (want + 40, 10, 1, 0);
  put_desc (want + 56, 11, 53, 1);
  get_lba_status_cdb (cdb, 0, 4096);
  SH_RUN (&e, &cmd, ARR (cdb), NULL, 0, 4096);
  SH_EXPECT_DATA (&cmd, ARR (want));
  sh_cmd_free (&cmd);
  /* From inside the first hole; room for one descriptor only. */
  get_lba_status_cdb (cdb, 5, 24);
  SH_RUN (&e, &cmd, ARR (cdb), NULL, 0, 4096);
  SH_EXPECT_DATA (&cmd, BYTES (0, 0, 0, 20, 0, 0, 0, 0,
                               0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 5, 1, 0, 0,
                               0));
  sh_cmd_free (&cmd);
  /* Past the end. */
  get_lba_status_cdb (cdb, 64, 4096);
  SH_RUN (&e, &cmd, ARR (cdb), NULL, 0, 4096);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x21, 0x00);
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

/* 512-byte blocks on a file system with bigger allocation units: a block
 * is deallocated only when a hole covers all of it.
 */
static void
get_lba_status_partial_blocks (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[16], want[8 + 3 * 16] = { 0, 0, 0, 4 + 3 * 16 };
  uint8_t block[4096];

  if (!h_holes_work ())
    h_skip ("the scratch file system does not report holes");
  sh_setup (&e, 16 * 4096, NULL);
  memset (block, 'x', sizeof block);
  h_pwrite_all (e.fd, block, 4096, 0);
  h_pwrite_all (e.fd, block, 4096, 2 * 4096);
  put_desc (want + 8, 0, 8, 0);
  put_desc (want + 24, 8, 8, 1);
  put_desc (want + 40, 16, 8, 0);
  get_lba_status_cdb (cdb, 0, 8 + 3 * 16);
  SH_RUN (&e, &cmd, ARR (cdb), NULL, 0, 4096);
  SH_EXPECT_DATA (&cmd, ARR (want));
  sh_cmd_free (&cmd);
  sh_teardown (&e);
}

static const struct h_test tests[] = {
  H_TEST (read_capacity10),
  H_TEST (read_capacity10_huge),
  H_TEST (read_capacity16),
  H_TEST (get_lba_status),
  H_TEST (get_lba_status_partial_blocks),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
