/* xcopyd: UNMAP (daemon/scsi/unmap.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi-harness.h"

/* An UNMAP parameter list (SBC-3 5.28.2) of n descriptors. */
static uint8_t *
unmap_list (size_t n, const uint64_t *lba, const uint32_t *nb, size_t *len)
{
  uint8_t *p = h_calloc (8 + 16 * n);

  put_be16 (p, (uint16_t) (6 + 16 * n));
  put_be16 (p + 2, (uint16_t) (16 * n));
  for (size_t i = 0; i < n; i++) {
    put_be64 (p + 8 + 16 * i, lba[i]);
    put_be32 (p + 16 + 16 * i, nb[i]);
  }
  *len = 8 + 16 * n;
  return p;
}

static void
unmap_cdb (uint8_t *cdb, uint16_t pll)
{
  sh_cdb10 (cdb, 0x42, 0, 0, pll);
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

/* 256 descriptors (the advertised maximum), overlapping and unordered. */
static void
many_descriptors (void)
{
  struct scsi_lu_config cfg;
  uint64_t lba[256];
  uint32_t nb[256];
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[10], *data = h_malloc (1 * MiB), *p;
  size_t len;

  sh_config (&cfg);
  cfg.block_size = 4096;
  sh_setup (&e, 1 * MiB, &cfg);                 /* 256 blocks */
  memset (data, 0xaa, 1 * MiB);
  h_pwrite_all (e.fd, data, 1 * MiB, 0);
  for (int i = 0; i < 256; i++) {
    lba[i] = (uint64_t) ((i * 37) % 128) * 2;   /* even blocks, shuffled */
    nb[i] = i % 3 == 0 ? 2 : 1;                 /* some overlap the next */
  }
  p = unmap_list (256, lba, nb, &len);
  unmap_cdb (cdb, (uint16_t) len);
  SH_RUN (&e, &cmd, ARR (cdb), p, len, 0);
  SH_EXPECT_GOOD (&cmd);
  CHECK_U64 (cmd.c.xfer_len, ==, len);
  for (int b = 0; b < 256; b += 2) {
    CHECK (all_bytes (e.fd, (uint64_t) b * 4096, 4096, 0));
    if (h_holes_work ())
      CHECK (h_is_hole (e.fd, (uint64_t) b * 4096, 4096));
  }
  /* Odd block 1 was covered by a 2-block descriptor at 0 (i=0). */
  CHECK (all_bytes (e.fd, 4096, 4096, 0));
  free (p);
  free (data);
  sh_teardown (&e);
}

/* Limits: descriptor count and total blocks (INVALID FIELD IN PARAMETER
 * LIST, SBC-3 5.28.2), ranges (LBA OUT OF RANGE); nothing is unmapped.
 */
static void
limits (void)
{
  struct scsi_lu_config cfg;
  uint64_t lba[257];
  uint32_t nb[257];
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[10], *p, ff[4096];
  size_t len;

  sh_config (&cfg);
  cfg.max_unmap = 100 * 512;
  sh_setup (&e, 1 * MiB, &cfg);
  memset (ff, 0xff, sizeof ff);
  h_pwrite_all (e.fd, ff, sizeof ff, 0);
  for (int i = 0; i < 257; i++) {
    lba[i] = 0;
    nb[i] = 0;
  }
  p = unmap_list (257, lba, nb, &len);
  unmap_cdb (cdb, (uint16_t) len);
  SH_RUN (&e, &cmd, ARR (cdb), p, len, 0);
  SH_EXPECT_BAD_PARAM (&cmd, 2, -1);
  free (p);
  /* 60 + 41 blocks > MAXIMUM UNMAP LBA COUNT 100: points at the second
   * descriptor's NUMBER OF LOGICAL BLOCKS.
   */
  lba[0] = 0; nb[0] = 60; lba[1] = 100; nb[1] = 41;
  p = unmap_list (2, lba, nb, &len);
  unmap_cdb (cdb, (uint16_t) len);
  SH_RUN (&e, &cmd, ARR (cdb), p, len, 0);
  SH_EXPECT_BAD_PARAM (&cmd, 8 + 16 + 8, -1);
  free (p);
  lba[1] = 2040; nb[1] = 9;                     /* ends past block 2047 */
  p = unmap_list (2, lba, nb, &len);
  unmap_cdb (cdb, (uint16_t) len);
  SH_RUN (&e, &cmd, ARR (cdb), p, len, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x21, 0x00);
  lba[1] = UINT64_MAX; nb[1] = 2;
  free (p);
  p = unmap_list (2, lba, nb, &len);
  SH_RUN (&e, &cmd, ARR (cdb), p, len, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x21, 0x00);
  CHECK (all_bytes (e.fd, 0, 4096, 0xff));
  free (p);
  sh_teardown (&e);
}

/* Lengths: SBC-3 5.28.2 and the T10 reflector's reading of them. */
static void
lengths (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[10], p[8 + 32], ff[1024];
  uint64_t lba[2] = { 0, 1 };
  uint32_t nb[2] = { 1, 1 };
  uint8_t *l;
  size_t len;

  sh_setup (&e, 1 * MiB, NULL);
  memset (ff, 0xff, sizeof ff);
  h_pwrite_all (e.fd, ff, sizeof ff, 0);
  /* PARAMETER LIST LENGTH 0: nothing, no data-out needed. */
  unmap_cdb (cdb, 0);
  SH_RUN (&e, &cmd, ARR (cdb), NULL, 0, 0);
  SH_EXPECT_GOOD (&cmd);
  /* 1..7: too short for the header. */
  unmap_cdb (cdb, 7);
  SH_RUN (&e, &cmd, ARR (cdb), p, 7, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x1a, 0x00);
  /* Data-out shorter than announced. */
  unmap_cdb (cdb, 40);
  SH_RUN (&e, &cmd, ARR (cdb), p, 24, 0);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x0e, 0x03);
  /* Header only, no descriptors. */
  memset (p, 0, sizeof p);
  put_be16 (p, 6);
  unmap_cdb (cdb, 8);
  SH_RUN (&e, &cmd, ARR (cdb), p, 8, 0);
  SH_EXPECT_GOOD (&cmd);
  /* UNMAP DATA LENGTH too small for the descriptor data: inconsistent. */
  l = unmap_list (2, lba, nb, &len);
  put_be16 (l, 6 + 16);
  unmap_cdb (cdb, (uint16_t) len);
  SH_RUN (&e, &cmd, ARR (cdb), l, len, 0);
  SH_EXPECT_BAD_PARAM (&cmd, 0, -1);
  CHECK (all_bytes (e.fd, 0, 1024, 0xff));
  /* PARAMETER LIST LENGTH cuts the second descriptor short: ignored. */
  put_be16 (l, 6 + 32);
  unmap_cdb (cdb, (uint16_t) (len - 4));
  SH_RUN (&e, &cmd, ARR (cdb), l, len - 4, 0);
  SH_EXPECT_GOOD (&cmd);
  CHECK (all_bytes (e.fd, 0, 512, 0));
  CHECK (all_bytes (e.fd, 512, 512, 0xff));
  free (l);
  /* ANCHOR with ANC_SUP=0. */
  sh_cdb10 (cdb, 0x42, 0x01, 0, 0);
  SH_RUN (&e, &cmd, ARR (cdb), NULL, 0, 0);
  SH_EXPECT_BAD_CDB (&cmd, 1, 0);
  sh_teardown (&e);
}

static void
backend_failure (void)
{
  struct scsi_lu_config cfg;
  struct sh_env e;
  struct sh_cmd cmd;
  uint8_t cdb[10], *l;
  uint64_t lba[1] = { 0 };
  uint32_t nb[1] = { 8 };
  size_t len;

  sh_setup (&e, 1 * MiB, NULL);
  h_fail_always (H_PUNCH, EIO);
  l = unmap_list (1, lba, nb, &len);
  unmap_cdb (cdb, (uint16_t) len);
  SH_RUN (&e, &cmd, ARR (cdb), l, len, 0);
  SH_EXPECT_PLAIN (&cmd, 0x03, 0x0c, 0x00);
  /* A file system that cannot punch: zeroes are written instead. */
  h_fail_always (H_PUNCH, EOPNOTSUPP);
  h_pwrite_all (e.fd, "abc", 3, 100);
  SH_RUN (&e, &cmd, ARR (cdb), l, len, 0);
  SH_EXPECT_GOOD (&cmd);
  CHECK (all_bytes (e.fd, 0, 4096, 0));
  sh_teardown (&e);
  sh_config (&cfg);
  cfg.read_only = true;
  sh_setup (&e, 1 * MiB, &cfg);
  SH_RUN (&e, &cmd, ARR (cdb), l, len, 0);
  SH_EXPECT_PLAIN (&cmd, 0x07, 0x27, 0x00);
  free (l);
  sh_teardown (&e);
}

/* The parser alone, as the fuzz target drives it. */
static void
parser_alone (void)
{
  struct xs_unmap_limits lim = { 100, 9, 1000, 4 };
  struct scsi_span s[4];
  struct xs_detail d = { .bit = -1 };
  uint64_t lba[2] = { 10, 99 };
  uint32_t nb[2] = { 5, 1 };
  size_t n, len;
  uint8_t *l = unmap_list (2, lba, nb, &len);

  CHECK_INT (xs_unmap_parse (l, len, &lim, s, &n, &d), ==, XS_GOOD);
  REQUIRE_INT (n, ==, 2);
  CHECK (s[0].off == 10 * 512 && s[0].len == 5 * 512);
  CHECK (s[1].off == 99 * 512 && s[1].len == 512);
  lim.blocks = 99;
  CHECK_INT (xs_unmap_parse (l, len, &lim, s, &n, &d), ==,
             XS_LBA_OUT_OF_RANGE);
  CHECK_INT (xs_unmap_parse (l, 0, &lim, s, &n, &d), ==, XS_GOOD);
  CHECK_INT (n, ==, 0);
  free (l);
}

static const struct h_test tests[] = {
  H_TEST (many_descriptors),
  H_TEST (limits),
  H_TEST (lengths),
  H_TEST (backend_failure),
  H_TEST (parser_alone),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
