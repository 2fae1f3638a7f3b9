/* xcopyd: helpers for the EXTENDED COPY / RECEIVE COPY RESULTS unit tests
 * (test-scsi-xcopy*.c, test-scsi-copy-results.c).
 *
 * xl_* builds EXTENDED COPY (LID1) parameter lists byte by byte (SPC-4
 * 6.4.3, 6.4.5, 6.4.6) so a test states exactly what goes on the wire;
 * xw_* wraps a LU's backend so a copy can be paused at a segment (to
 * watch its progress) or made to fail there.
 */
#ifndef XCOPY_TEST_SCSI_XCOPY_LISTS_H
#define XCOPY_TEST_SCSI_XCOPY_LISTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "scsi-harness.h"

/* ---- Parameter lists ---- */

#define XL_MAX_CSCD 128
#define XL_MAX_SEGS 2048

struct xl {
  uint8_t hdr[16];
  uint8_t cscd[XL_MAX_CSCD * 32];
  size_t cscd_len;
  uint8_t *seg;                 /* XL_MAX_SEGS * 32 */
  size_t seg_len;
  size_t nseg;
};

/* A list with LIST IDENTIFIER list_id and LIST ID USAGE usage (0..3). */
void xl_init (struct xl *x, uint8_t list_id, uint8_t usage);
void xl_free (struct xl *x);

/* An identification descriptor CSCD (E4h) naming lu by its NAA
 * designator, PERIPHERAL DEVICE TYPE 0 and lu's block length.
 */
void xl_cscd_lu (struct xl *x, const struct scsi_lu *lu);
/* Any 32-byte CSCD descriptor. */
void xl_cscd_raw (struct xl *x, const uint8_t d[32]);
/* The CSCD descriptor xl_cscd_lu would add, into d. */
void xl_cscd_bytes (const struct scsi_lu *lu, uint8_t d[32]);

/* Segment descriptors: block -> block (02h; flags: DC 0x02, CAT 0x01)
 * and block with offset -> block with offset (0Ah).
 */
void xl_b2b (struct xl *x, uint8_t flags, uint16_t src, uint16_t dst,
             uint16_t nblocks, uint64_t src_lba, uint64_t dst_lba);
void xl_b2b_off (struct xl *x, uint16_t src, uint16_t dst, uint32_t nbytes,
                 uint64_t src_lba, uint64_t dst_lba, uint16_t src_off,
                 uint16_t dst_off);
/* Any segment descriptor of len bytes. */
void xl_seg_raw (struct xl *x, const uint8_t *d, size_t len);

/* The whole list (malloc'd); *len its length. */
uint8_t *xl_bytes (const struct xl *x, size_t *len);

/* EXTENDED COPY (LID1) and RECEIVE COPY RESULTS CDBs. */
void xl_cdb (uint8_t cdb[16], uint32_t pll);
void xl_rcr_cdb (uint8_t cdb[16], uint8_t sa, uint8_t list_id,
                 uint32_t alloc);

/* Run the list on nexus n at lun (data-out exactly the list). */
void xl_run (struct scsi_nexus *n, uint16_t lun, struct sh_cmd *cmd,
             const struct xl *x);

/* ---- Backends that pause or fail ---- */

struct xw_ctl {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  long pause_at;                /* range index to stop before, -1: none */
  bool paused;                  /* stopped there now */
  bool release;                 /* the test lets it go on */
  long fail_at;                 /* range index that fails, -1: none */
  int fail_err;
  unsigned copies;              /* backend copy calls */
  size_t ranges[64];            /* ranges per call (first 64 calls) */
};

/* Reset to "no pause, no failure". */
void xw_init (struct xw_ctl *c);
/* A LU over a fresh scratch file whose backend copies range by range
 * through the file backend, obeying c (shared by every LU given it).
 * *fd (may be NULL) gets the file.
 */
struct scsi_lu *xw_new_lu (uint64_t size, const struct scsi_lu_config *cfg,
                           struct xw_ctl *c, int *fd);
/* Wait until a copy stopped at c->pause_at. */
void xw_wait_paused (struct xw_ctl *c);
/* Let it go on. */
void xw_release (struct xw_ctl *c);

/* ---- Asynchronous commands ---- */

struct xl_async {
  struct sh_cmd cmd;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;
};

/* Submit cmd (built as by sh_run, data-out x's list) with scsi_submit. */
void xl_submit (struct scsi_nexus *n, uint16_t lun, struct xl_async *a,
                const uint8_t *out, size_t out_len);
void xl_wait (struct xl_async *a);

#endif /* XCOPY_TEST_SCSI_XCOPY_LISTS_H */
