/* xcopyd: EXTENDED COPY (LID1) copies (daemon/scsi/xcopy*.c) on the file
 * backend: one and many segments, one LU and two, overlapping ranges,
 * byte offsets, how segments become backend batches, LIST ID USAGE, a
 * failure in the middle of a list, a CSCD outside the nexus, progress of
 * a running copy, abort and nexus loss.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi-xcopy-lists.h"

#define RCR_STATUS  0x00
#define RCR_FAILURE 0x04

/* Random contents for fd (size bytes); the caller frees the copy. */
static uint8_t *
fill (int fd, uint64_t size, uint64_t seed)
{
  uint8_t *d = h_random (size, seed);

  h_pwrite_all (fd, d, size, 0);
  return d;
}

/* A second LU at lun (block size bs), its file in *fd; UAs cleared. */
static struct scsi_lu *
add_lu (struct sh_env *e, uint16_t lun, uint32_t bs, uint64_t size, int *fd)
{
  struct scsi_lu_config cfg;
  struct scsi_lu *lu;

  sh_config (&cfg);
  cfg.serial = lun == 1 ? "xcopy-lu-1" : "xcopy-lu-other";
  cfg.block_size = bs;
  lu = sh_new_lu (size, &cfg, NULL, fd);
  REQUIRE (scsi_target_add_lu (e->target, lun, lu) == 0);
  sh_clear_ua (e);
  return lu;
}

/* A LU whose backend obeys c (a serial of its own: designators are
 * derived from it).
 */
static struct scsi_lu *
wrapped_lu (struct xw_ctl *c)
{
  struct scsi_lu_config cfg;

  sh_config (&cfg);
  cfg.serial = "wrapped";
  return xw_new_lu (1 * MiB, &cfg, c, NULL);
}

static void
rcr (struct sh_env *e, struct sh_cmd *cmd, uint8_t sa, uint8_t list_id)
{
  uint8_t cdb[16];

  xl_rcr_cdb (cdb, sa, list_id, 1024);
  SH_RUN (e, cmd, ARR (cdb), NULL, 0, 1024);
}

/* SPC-4 6.4: one 02h segment within one LU, as libiscsi's
 * ExtendedCopy.Simple sends it (LIST ID USAGE 10b).
 */
static void
one_segment (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  struct xl x;
  struct xcopy_range r = { 0, 100 * 512, 16 * 512 };
  uint8_t *model;

  sh_setup (&e, 1 * MiB, NULL);
  model = fill (e.fd, 1 * MiB, 1);
  xl_init (&x, 1, 2);
  xl_cscd_lu (&x, e.lu);
  xl_b2b (&x, 0, 0, 0, 16, 0, 100);
  xl_run (e.nexus, 0, &cmd, &x);
  SH_EXPECT_GOOD (&cmd);
  CHECK_U64 (cmd.c.xfer_len, ==, 16 + 32 + 28);
  CHECK_INT (cmd.c.dir, ==, SCSI_DIR_OUT);
  h_model_copyv (model, model, &r, 1);
  CHECK_FILE (e.fd, model, 1 * MiB);
  xl_free (&x);
  free (model);
  sh_teardown (&e);
}

/* 1024 segments (MAXIMUM SEGMENT DESCRIPTOR COUNT), one block each,
 * scattered and reversed, some overwriting earlier sources: applied in
 * order, as one batch.
 */
static void
many_segments (void)
{
  struct xcopy_range *r = h_calloc (1024 * sizeof *r);
  struct sh_env e;
  struct sh_cmd cmd;
  struct xl x;
  uint8_t *model;

  sh_setup (&e, 2 * MiB, NULL);                 /* 4096 blocks */
  model = fill (e.fd, 2 * MiB, 2);
  xl_init (&x, 0, 3);
  xl_cscd_lu (&x, e.lu);
  for (uint32_t i = 0; i < 1024; i++) {
    uint64_t src = (i * 7) % 3000, dst = 2000 + (1023 - i) * 2;
    xl_b2b (&x, 0, 0, 0, 1, src, dst);
    r[i] = (struct xcopy_range) { src * 512, dst * 512, 512 };
  }
  xl_run (e.nexus, 0, &cmd, &x);
  SH_EXPECT_GOOD (&cmd);
  h_model_copyv (model, model, r, 1024);
  CHECK_FILE (e.fd, model, 2 * MiB);
  xl_free (&x);
  free (model);
  free (r);
  sh_teardown (&e);
}

/* Two LUs of 512- and 4096-byte blocks.  DC=0 counts source blocks, DC=1
 * destination blocks (SPC-4 6.4.6); the CSCD's DISK BLOCK LENGTH is each
 * LU's own.
 */
static void
across_lus (void)
{
  struct sh_env e;
  struct sh_cmd cmd;
  struct xl x;
  struct scsi_lu *b;
  int fdb;
  uint8_t *ma, *mb;
  struct xcopy_range ab[2] = { { 0, 4096 * 10, 16 * 512 },
                               { 512 * 64, 4096 * 20, 4096 } };
  struct xcopy_range ba = { 4096 * 3, 512 * 1000, 3 * 4096 };

  sh_setup (&e, 1 * MiB, NULL);
  b = add_lu (&e, 1, 4096, 1 * MiB, &fdb);
  ma = fill (e.fd, 1 * MiB, 3);
  mb = fill (fdb, 1 * MiB, 4);
  xl_init (&x, 7, 0);
  xl_cscd_lu (&x, e.lu);
  xl_cscd_lu (&x, b);
  xl_b2b (&x, 0x00, 0, 1, 16, 0, 10);           /* 16 source blocks */
  xl_b2b (&x, 0x02, 0, 1, 1, 64, 20);           /* 1 destination block */
  xl_b2b (&x, 0x02, 1, 0, 24, 3, 1000);         /* 24 destination blocks */
  xl_run (e.nexus, 0, &cmd, &x);
  SH_EXPECT_GOOD (&cmd);
  h_model_copyv (ma, mb, ab, 2);
  h_model_copyv (mb, ma, &ba, 1);
  CHECK_FILE (e.fd, ma, 1 * MiB);
  CHECK_FILE (fdb, mb, 1 * MiB);
  /* The same from LUN 1: the LU receiving the command need not be in
   * the list at all.
   */
  sh_run (e.nexus, 1, &cmd, BYTES (0x00, 0, 0, 0, 0, 0), NULL, 0, 0);
  SH_EXPECT_GOOD (&cmd);
  xl_free (&x);
  free (ma);
  free (mb);
  h_close (fdb);
  scsi_lu_unref (b);
  sh_teardown (&e);
}

/* Consecutive segments with the same (source, destination) LUs are one
 * backend call; a change of pair starts the next, in list order.
 */
static void
batches (void)
{
  struct xw_ctl c;
  struct scsi_lu_config cfg;
  struct sh_env e;
  struct sh_cmd cmd;
  struct scsi_lu *a, *b;
  struct xl x;

  xw_init (&c);
  sh_setup (&e, 64 * KiB, NULL);
  sh_config (&cfg);
  cfg.serial = "wrap-a";
  a = xw_new_lu (1 * MiB, &cfg, &c, NULL);
  cfg.serial = "wrap-b";
  b = xw_new_lu (1 * MiB, &cfg, &c, NULL);
  REQUIRE (scsi_target_add_lu (e.target, 1, a) == 0);
  REQUIRE (scsi_target_add_lu (e.target, 2, b) == 0);
  sh_clear_ua (&e);
  xl_init (&x, 0, 3);
  xl_cscd_lu (&x, a);
  xl_cscd_lu (&x, b);
  xl_cscd_lu (&x, a);                           /* the same LU again */
  xl_b2b (&x, 0, 0, 1, 1, 0, 0);                /* a -> b */
  xl_b2b (&x, 0, 2, 1, 1, 1, 1);                /* a -> b */
  xl_b2b (&x, 0, 1, 0, 1, 2, 2);                /* b -> a */
  xl_b2b (&x, 0, 0, 2, 1, 3, 4);                /* a -> a */
  xl_b2b (&x, 0, 2, 0, 1, 5, 6);                /* a -> a */
  xl_b2b (&x, 0, 0, 1, 1, 7, 7);                /* a -> b */
  xl_run (e.nexus, 0, &cmd, &x);
  SH_EXPECT_GOOD (&cmd);
  REQUIRE_INT (c.copies, ==, 4);
  CHECK_INT (c.ranges[0], ==, 2);
  CHECK_INT (c.ranges[1], ==, 1);
  CHECK_INT (c.ranges[2], ==, 2);
  CHECK_INT (c.ranges[3], ==, 1);
  xl_free (&x);
  scsi_lu_unref (a);
  scsi_lu_unref (b);
  sh_teardown (&e);
}

/* DESIGN.md invariant 3: overlapping source and destination in one LU
 * copy as if through a buffer, forwards and backwards, and a segment
 * onto itself changes nothing.
 */
static void
overlapping (void)
{
  struct xcopy_range r[3] = {
    { 0, 8 * 512, 64 * 512 },                   /* dst above src */
    { 300 * 512, 290 * 512, 100 * 512 },        /* dst below src */
    { 500 * 512, 500 * 512, 8 * 512 },          /* onto itself */
  };
  struct sh_env e;
  struct sh_cmd cmd;
  struct xl x;
  uint8_t *model;

  sh_setup (&e, 1 * MiB, NULL);
  model = fill (e.fd, 1 * MiB, 5);
  xl_init (&x, 0, 3);
  xl_cscd_lu (&x, e.lu);
  xl_b2b (&x, 0, 0, 0, 64, 0, 8);
  xl_b2b (&x, 0, 0, 0, 100, 300, 290);
  xl_b2b (&x, 0, 0, 0, 8, 500, 500);
  xl_run (e.nexus, 0, &cmd, &x);
  SH_EXPECT_GOOD (&cmd);
  h_model_copyv (model, model, r, 3);
  CHECK_FILE (e.fd, model, 1 * MiB);
  xl_free (&x);
  free (model);
  sh_teardown (&e);
}

/* 0Ah segments: NUMBER OF BYTES from a byte offset in the first block,
 * in one LU and across block sizes, overlapping too.
 */
static void
byte_offsets (void)
{
  struct xcopy_range ra[2] = {
    { 1 * 512 + 100, 10 * 512 + 7, 1000 },
    { 20 * 512 + 511, 20 * 512 + 300, 5000 },
  };
  struct xcopy_range rab = { 2 * 512 + 3, 4096 * 5 + 4000, 777 };
  struct sh_env e;
  struct sh_cmd cmd;
  struct scsi_lu *b;
  struct xl x;
  uint8_t *ma, *mb;
  int fdb;

  sh_setup (&e, 1 * MiB, NULL);
  b = add_lu (&e, 1, 4096, 1 * MiB, &fdb);
  ma = fill (e.fd, 1 * MiB, 6);
  mb = fill (fdb, 1 * MiB, 7);
  xl_init (&x, 0, 3);
  xl_cscd_lu (&x, e.lu);
  xl_cscd_lu (&x, b);
  xl_b2b_off (&x, 0, 0, 1000, 1, 10, 100, 7);
  xl_b2b_off (&x, 0, 0, 5000, 20, 20, 511, 300);
  xl_b2b_off (&x, 0, 1, 777, 2, 5, 3, 4000);
  xl_run (e.nexus, 0, &cmd, &x);
  SH_EXPECT_GOOD (&cmd);
  h_model_copyv (ma, ma, ra, 2);
  h_model_copyv (ma, mb, &rab, 1);
  CHECK_FILE (e.fd, ma, 1 * MiB);
  CHECK_FILE (fdb, mb, 1 * MiB);
  xl_free (&x);
  free (ma);
  free (mb);
  h_close (fdb);
  scsi_lu_unref (b);
  sh_teardown (&e);
}

/* SPC-4 6.4.3 LIST ID USAGE: 00b holds the results for RECEIVE COPY
 * RESULTS (until reported), 10b and 11b do not; 11b needs LIST
 * IDENTIFIER 0.  PARAMETER LIST LENGTH 0 copies nothing and records
 * nothing.
 */
static void
list_id_usage (void)
{
  static const uint8_t done[12] = { 0, 0, 0, 8, 0x01, 0x00, 0x02, 0x00,
                                    0, 0, 0x08, 0x00 };
  struct sh_env e;
  struct sh_cmd cmd;
  struct xl x;
  uint8_t cdb[16];

  sh_setup (&e, 1 * MiB, NULL);
  for (uint8_t usage = 0; usage < 4; usage++) {
    if (usage == 1)
      continue;
    xl_init (&x, usage == 3 ? 0 : 9, usage);
    xl_cscd_lu (&x, e.lu);
    xl_b2b (&x, 0, 0, 0, 2, 0, 10);
    xl_b2b (&x, 0, 0, 0, 2, 2, 20);
    xl_run (e.nexus, 0, &cmd, &x);
    SH_EXPECT_GOOD (&cmd);
    rcr (&e, &cmd, RCR_STATUS, usage == 3 ? 0 : 9);
    if (usage == 0)
      SH_EXPECT_DATA (&cmd, ARR (done));  /* completed, 2 segments, 2 KiB */
    else
      SH_EXPECT_BAD_CDB (&cmd, 2, -1);
    /* Reported once, then discarded. */
    rcr (&e, &cmd, RCR_STATUS, 9);
    SH_EXPECT_BAD_CDB (&cmd, 2, -1);
    xl_free (&x);
  }
  xl_cdb (cdb, 0);
  SH_RUN (&e, &cmd, ARR (cdb), NULL, 0, 0);
  SH_EXPECT_GOOD (&cmd);
  rcr (&e, &cmd, RCR_STATUS, 0);
  SH_EXPECT_BAD_CDB (&cmd, 2, -1);
  sh_teardown (&e);
}

/* Eight segments, writes fail after the third (EIO from the kernel, via
 * the engine's system-call layer): COPY ABORTED naming segment 3 with its
 * 8 blocks uncopied, COPY STATUS and FAILURE DETAILS say the same, and
 * nothing from segment 3 on reached the destination.
 */
static void
failure_mid_list (void)
{
  static const uint8_t sense[18] = {
    0xf0, 0, 0x0a, 0, 0, 0, 8, 10, 0, 0, 0, 3, 0x0d, 0x01, 0, 0, 0, 0,
  };
  static const uint8_t status[12] = { 0, 0, 0, 8, 0x02, 0, 3, 0x00,
                                      0, 0, 0x30, 0x00 };
  struct xcopy_range r[8];
  struct xcopy_result res = { .ranges_done = 3, .failed_index = 3 };
  uint8_t want[60 + 18] = { 0, 0, 0, 74, [56] = 0x02, [59] = 18 };
  struct sh_env e;
  struct sh_cmd cmd;
  struct xl x;
  uint8_t *model;

  sh_setup (&e, 1 * MiB, NULL);
  model = fill (e.fd, 1 * MiB, 8);
  xl_init (&x, 0x42, 0);
  xl_cscd_lu (&x, e.lu);
  for (int i = 0; i < 8; i++) {
    xl_b2b (&x, 0, 0, 0, 8, (uint64_t) i * 16, 1024 + (uint64_t) i * 16);
    r[i] = (struct xcopy_range) { (uint64_t) i * 16 * 512,
                                  (1024 + (uint64_t) i * 16) * 512, 4096 };
  }
  h_write_budget_whole (3 * 4096, EIO);
  xl_run (e.nexus, 0, &cmd, &x);
  SH_EXPECT_SENSE (&cmd, ARR (sense));
  h_inject_reset ();
  h_model_partial (model, model, r, 8, &res);
  CHECK_FILE (e.fd, model, 1 * MiB);
  rcr (&e, &cmd, RCR_STATUS, 0x42);
  SH_EXPECT_DATA (&cmd, ARR (status));
  memcpy (want + 60, sense, sizeof sense);
  rcr (&e, &cmd, RCR_FAILURE, 0x42);
  SH_EXPECT_DATA (&cmd, ARR (want));
  /* Both reported whole: nothing is held any more. */
  rcr (&e, &cmd, RCR_FAILURE, 0x42);
  SH_EXPECT_BAD_CDB (&cmd, 2, -1);
  sh_cmd_free (&cmd);
  xl_free (&x);
  free (model);
  sh_teardown (&e);
}

static bool
lun0_only_for_outsider (void *opaque, const struct scsi_nexus *n,
                        uint16_t lun, const struct scsi_lu *lu)
{
  (void) opaque;
  (void) lu;
  return strcmp (scsi_nexus_initiator (n), "outsider") != 0 || lun == 0;
}

/* DESIGN.md invariant 8 (CVE-2021-3139): a CSCD descriptor naming a LU
 * this nexus may not access is unreachable, whether it is source or
 * destination; another nexus that may access it copies.
 */
static void
outside_nexus (void)
{
  static const uint8_t sense[18] = {
    0xf0, 0, 0x0a, 0, 0, 0, 4, 10, 0, 0, 0, 0, 0x08, 0x04, 0,
    0x80, 0x00, 0x34,                   /* SD=0: byte 52, the 2nd CSCD */
  };
  struct scsi_target_config tc = { .access = lun0_only_for_outsider };
  struct scsi_lu_config cfg;
  struct scsi_target *t;
  struct scsi_nexus *out, *in;
  struct scsi_lu *a, *b;
  struct sh_cmd cmd;
  struct xl x;
  uint8_t *mb;
  int fdb;

  sh_config (&cfg);
  a = sh_new_lu (1 * MiB, &cfg, NULL, NULL);
  cfg.serial = "secret";
  b = sh_new_lu (1 * MiB, &cfg, NULL, &fdb);
  mb = fill (fdb, 1 * MiB, 9);
  REQUIRE (scsi_target_new (&tc, &t) == 0);
  REQUIRE (scsi_target_add_lu (t, 0, a) == 0);
  REQUIRE (scsi_target_add_lu (t, 7, b) == 0);
  REQUIRE (scsi_nexus_new (t, "outsider", NULL, 1, &out) == 0);
  REQUIRE (scsi_nexus_new (t, "insider", NULL, 1, &in) == 0);
  for (int dir = 0; dir < 2; dir++) {
    xl_init (&x, 0, 3);
    xl_cscd_lu (&x, a);
    xl_cscd_lu (&x, b);
    xl_b2b (&x, 0, (uint16_t) dir, (uint16_t) !dir, 4, 0, 0);
    xl_run (out, 0, &cmd, &x);
    SH_EXPECT_SENSE (&cmd, ARR (sense));
    xl_free (&x);
  }
  CHECK_FILE (fdb, mb, 1 * MiB);
  xl_init (&x, 0, 3);
  xl_cscd_lu (&x, a);
  xl_cscd_lu (&x, b);
  xl_b2b (&x, 0, 0, 1, 4, 0, 0);
  xl_run (in, 0, &cmd, &x);
  SH_EXPECT_GOOD (&cmd);
  memset (mb, 0, 4 * 512);
  CHECK_FILE (fdb, mb, 1 * MiB);
  xl_free (&x);
  scsi_nexus_free (out);
  scsi_nexus_free (in);
  scsi_target_free (t);
  scsi_lu_unref (a);
  scsi_lu_unref (b);
  h_close (fdb);
  free (mb);
}

/* While list 5 (list x) runs on w at LUN 1: the same list again is
 * OPERATION IN PROGRESS, except with LIST ID USAGE 10b (QEMU sends all
 * its copies as list 1, many at once): that one runs, untracked, and the
 * status still describes the first.
 */
static void
duplicates (struct sh_env *e, struct scsi_lu *w, const struct xl *x,
            const uint8_t running[12])
{
  struct sh_cmd cmd;
  struct xl y;

  xl_run (e->nexus, 1, &cmd, x);
  SH_EXPECT_PLAIN (&cmd, 0x05, 0x00, 0x16);
  xl_init (&y, 5, 2);
  xl_cscd_lu (&y, w);
  xl_b2b (&y, 0, 0, 0, 2, 300, 400);
  xl_run (e->nexus, 1, &cmd, &y);
  SH_EXPECT_GOOD (&cmd);
  xl_free (&y);
  sh_run (e->nexus, 1, &cmd, BYTES (0x84, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                    4, 0, 0, 0), NULL, 0, 1024);
  SH_EXPECT_DATA_N (&cmd, running, 12);
  sh_cmd_free (&cmd);
}

/* A copy running in the background: RECEIVE COPY STATUS on the same
 * nexus sees it in progress with the segments and bytes done so far,
 * FAILURE DETAILS has none yet, the same list identifier is refused
 * (OPERATION IN PROGRESS) unless with LIST ID USAGE 10b; then it
 * completes.
 */
static void
progress (void)
{
  static const uint8_t running[12] = { 0, 0, 0, 8, 0x00, 0, 2, 0x00,
                                       0, 0, 0x08, 0x00 };
  static const uint8_t done[12] = { 0, 0, 0, 8, 0x01, 0, 4, 0x00,
                                    0, 0, 0x10, 0x00 };
  struct xw_ctl c;
  struct sh_env e;
  struct sh_cmd cmd;
  struct xl_async a;
  struct scsi_lu *w;
  struct xl x;
  uint8_t *p;
  size_t len;

  xw_init (&c);
  c.pause_at = 2;
  sh_setup (&e, 64 * KiB, NULL);
  w = wrapped_lu (&c);
  REQUIRE (scsi_target_add_lu (e.target, 1, w) == 0);
  sh_clear_ua (&e);
  xl_init (&x, 5, 0);
  xl_cscd_lu (&x, w);
  for (int i = 0; i < 4; i++)
    xl_b2b (&x, 0, 0, 0, 2, (uint64_t) i * 4, 100 + (uint64_t) i * 4);
  p = xl_bytes (&x, &len);
  xl_submit (e.nexus, 1, &a, p, len);
  xw_wait_paused (&c);
  sh_run (e.nexus, 1, &cmd, BYTES (0x84, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
                                   0, 0, 0), NULL, 0, 1024);
  SH_EXPECT_DATA (&cmd, ARR (running));
  sh_run (e.nexus, 1, &cmd, BYTES (0x84, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
                                   0, 0, 0), NULL, 0, 1024);
  SH_EXPECT_DATA (&cmd, BYTES (0, 0, 0, 0));
  duplicates (&e, w, &x, running);
  /* A list identifier is per LU: the same one on LUN 0 is free. */
  sh_run (e.nexus, 0, &cmd, BYTES (0x84, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
                                   0, 0, 0), NULL, 0, 1024);
  SH_EXPECT_BAD_CDB (&cmd, 2, -1);
  xw_release (&c);
  xl_wait (&a);
  CHECK_INT (a.cmd.c.status, ==, SCSI_STATUS_GOOD);
  sh_run (e.nexus, 1, &cmd, BYTES (0x84, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
                                   0, 0, 0), NULL, 0, 1024);
  SH_EXPECT_DATA (&cmd, ARR (done));
  sh_cmd_free (&cmd);
  free (p);
  xl_free (&x);
  scsi_lu_unref (w);
  sh_teardown (&e);
}

/* ABORT TASK (cmd->abort) stops a running copy at its next piece: TASK
 * ABORTED, and COPY STATUS says it ended with errors after the segments
 * it finished.
 */
static void
abort_task (void)
{
  static const uint8_t aborted[12] = { 0, 0, 0, 8, 0x02, 0, 1, 0x00,
                                       0, 0, 0x04, 0x00 };
  struct xw_ctl c;
  struct sh_env e;
  struct sh_cmd cmd;
  struct xl_async a;
  struct scsi_lu *w;
  struct xl x;
  uint8_t *p, want[60] = { 0, 0, 0, 56, [56] = 0x40 };
  size_t len;

  xw_init (&c);
  c.pause_at = 1;
  sh_setup (&e, 64 * KiB, NULL);
  w = wrapped_lu (&c);
  REQUIRE (scsi_target_add_lu (e.target, 1, w) == 0);
  sh_clear_ua (&e);
  xl_init (&x, 6, 0);
  xl_cscd_lu (&x, w);
  for (int i = 0; i < 3; i++)
    xl_b2b (&x, 0, 0, 0, 2, (uint64_t) i * 4, 100 + (uint64_t) i * 4);
  p = xl_bytes (&x, &len);
  xl_submit (e.nexus, 1, &a, p, len);
  xw_wait_paused (&c);
  atomic_store (&a.cmd.c.abort, true);
  xl_wait (&a);
  CHECK_INT (a.cmd.c.status, ==, SCSI_STATUS_TASK_ABORTED);
  CHECK_INT (a.cmd.c.sense_len, ==, 0);
  sh_run (e.nexus, 1, &cmd, BYTES (0x84, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
                                   0, 0, 0), NULL, 0, 1024);
  SH_EXPECT_DATA (&cmd, ARR (aborted));
  sh_run (e.nexus, 1, &cmd, BYTES (0x84, 4, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
                                   0, 0, 0), NULL, 0, 1024);
  SH_EXPECT_DATA (&cmd, ARR (want));    /* TASK ABORTED, no sense */
  sh_cmd_free (&cmd);
  free (p);
  xl_free (&x);
  scsi_lu_unref (w);
  sh_teardown (&e);
}

/* I_T nexus loss: a running copy is cancelled, and the results the nexus
 * held are gone; a new nexus of the same initiator sees none.
 */
static void
nexus_loss (void)
{
  struct xw_ctl c;
  struct sh_env e;
  struct sh_cmd cmd;
  struct xl_async a;
  struct scsi_lu *w;
  struct xl x, y;
  uint8_t *p;
  size_t len;

  xw_init (&c);
  c.pause_at = 1;
  sh_setup (&e, 64 * KiB, NULL);
  w = wrapped_lu (&c);
  REQUIRE (scsi_target_add_lu (e.target, 1, w) == 0);
  sh_clear_ua (&e);
  xl_init (&y, 1, 0);                           /* held: completed */
  xl_cscd_lu (&y, e.lu);
  xl_b2b (&y, 0, 0, 0, 1, 0, 1);
  xl_run (e.nexus, 0, &cmd, &y);
  SH_EXPECT_GOOD (&cmd);
  xl_init (&x, 2, 0);                           /* running */
  xl_cscd_lu (&x, w);
  xl_b2b (&x, 0, 0, 0, 2, 0, 100);
  xl_b2b (&x, 0, 0, 0, 2, 4, 104);
  p = xl_bytes (&x, &len);
  xl_submit (e.nexus, 1, &a, p, len);
  xw_wait_paused (&c);
  scsi_nexus_free (e.nexus);                    /* waits for the copy */
  CHECK (a.done);
  CHECK_INT (a.cmd.c.status, ==, SCSI_STATUS_TASK_ABORTED);
  REQUIRE (scsi_nexus_new (e.target, "iqn.2024-01.test:init",
                           "iqn.2024-01.test:tgt,t,0x0001", 1,
                           &e.nexus) == 0);
  sh_clear_ua (&e);
  rcr (&e, &cmd, RCR_STATUS, 1);
  SH_EXPECT_BAD_CDB (&cmd, 2, -1);
  sh_run (e.nexus, 1, &cmd, BYTES (0x84, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
                                   0, 0, 0), NULL, 0, 1024);
  SH_EXPECT_BAD_CDB (&cmd, 2, -1);
  sh_cmd_free (&cmd);
  free (p);
  xl_free (&x);
  xl_free (&y);
  scsi_lu_unref (w);
  sh_teardown (&e);
}

static const struct h_test tests[] = {
  H_TEST (one_segment),
  H_TEST (many_segments),
  H_TEST (across_lus),
  H_TEST (batches),
  H_TEST (overlapping),
  H_TEST (byte_offsets),
  H_TEST (list_id_usage),
  H_TEST (failure_mid_list),
  H_TEST (outside_nexus),
  H_TEST (progress),
  H_TEST (abort_task),
  H_TEST (nexus_loss),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
