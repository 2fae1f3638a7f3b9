/* xcopyd: EXTENDED COPY (LID1) and RECEIVE COPY RESULTS — what the
 * third-party copy files share (xcopy_parse.c, xcopy_resolve.c, xcopy.c,
 * copy_state.c, copy_results.c, tpc_vpd.c).
 *
 * An EXTENDED COPY parameter list goes through four layers, each checking
 * one thing (the tcmu-runner split):
 *
 *   1. header              xcopy_parse.c   lengths, LIST ID USAGE
 *   2. CSCD descriptors    xcopy_parse.c   type E4h only, syntax
 *   3. segment descriptors xcopy_parse.c   types 02h and 0Ah, lengths,
 *                                          byte ranges from the CSCDs'
 *                                          DISK BLOCK LENGTH
 *   4. device lookup       xcopy_resolve.c CSCD indexes, CSCD -> LU among
 *                                          those this I_T nexus may
 *                                          access, device type, block
 *                                          length, capacity, write
 *                                          protection; the batch
 *
 * Layers 1-3 need no device (the fuzz target runs them alone) and fail
 * with ILLEGAL REQUEST; layer 4 fails with COPY ABORTED naming the
 * segment (libiscsi's ExtendedCopy tests expect that for a bad CSCD index
 * and for a copy past the end).  Then xcopy.c runs the batch and
 * copy_state.c keeps what RECEIVE COPY RESULTS reports.
 *
 * Wire formats are described by structs of byte arrays: their sizes are
 * asserted against the spec, offsetof() gives field pointers for sense
 * data, and every field is read with get_be* at that offset (never by
 * casting a buffer).  Section numbers are SPC-4 r37's (6.4 EXTENDED COPY
 * (LID1), 6.4.3 its parameter list, 6.4.5 CSCD descriptors, 6.4.6 segment
 * descriptors).
 */
#ifndef XCOPY_SCSI_XCOPY_INT_H
#define XCOPY_SCSI_XCOPY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "scsi-int.h"

/* ---- Limits (RECEIVE COPY OPERATING PARAMETERS, VPD 0x8F) ---- */

#define XC_MAX_CSCD          64     /* MAXIMUM CSCD DESCRIPTOR COUNT */
#define XC_MAX_SEGMENTS      1024   /* MAXIMUM SEGMENT DESCRIPTOR COUNT */
/* MAXIMUM DESCRIPTOR LIST LENGTH: room for both maxima with the largest
 * descriptors we take (32 bytes each).
 */
#define XC_MAX_DESC_LIST_LEN (XC_MAX_CSCD * 32u + XC_MAX_SEGMENTS * 32u)
/* MAXIMUM SEGMENT LENGTH: a 0Ah descriptor's NUMBER OF BYTES is 32 bits,
 * a 02h descriptor moves at most 65535 blocks of 4096 bytes; any such
 * segment is taken.
 */
#define XC_MAX_SEGMENT_LEN   UINT32_MAX
/* Advisory (OPERATING PARAMETERS, General Copy Operations): nothing
 * here limits concurrent copies but memory.
 */
#define XC_TOTAL_CONCURRENT  256
#define XC_MAX_CONCURRENT    255
/* Completed copies whose results a nexus may hold before the oldest is
 * dropped (RECEIVE COPY STATUS (LID1): "when the copy manager
 * requires the resources used to preserve the data").
 */
#define XC_MAX_HELD          256

/* Descriptor type codes we implement (SPC-4 6.4.5, 6.4.6). */
#define XC_SEG_B2B           0x02   /* block -> block */
#define XC_SEG_B2B_OFF       0x0a   /* block with offset -> block with offset */
#define XC_CSCD_ID           0xe4   /* identification descriptor CSCD */

/* Every descriptor type code implemented, ascending (OPERATING
 * PARAMETERS, VPD 0x8F Supported Descriptors).
 */
#define XC_NDESC_CODES 3
extern const uint8_t xc_desc_codes[XC_NDESC_CODES];

/* LIST ID USAGE (SPC-4 6.4.3): hold results; discard them when the
 * command completes (QEMU's initiator sends this); no list identifier.
 */
#define XC_LIST_ID_HOLD      0
#define XC_LIST_ID_DISCARD   2
#define XC_LIST_ID_NONE      3

/* ---- Wire formats ---- */

/* SPC-4 6.4.3: the EXTENDED COPY (LID1) parameter list header. */
struct xc_wire_header {
  uint8_t list_id;              /* LIST IDENTIFIER */
  uint8_t flags;                /* STR (5), LIST ID USAGE (4..3), PRIORITY (2..0) */
  uint8_t cscd_list_len[2];     /* CSCD DESCRIPTOR LIST LENGTH */
  uint8_t reserved[4];
  uint8_t seg_list_len[4];      /* SEGMENT DESCRIPTOR LIST LENGTH */
  uint8_t inline_len[4];        /* INLINE DATA LENGTH */
};
_Static_assert (sizeof (struct xc_wire_header) == 16, "SPC-4 6.4.3");

/* SPC-4 6.4.5: the identification descriptor CSCD descriptor (E4h), with
 * the block device type specific parameters.
 */
struct xc_wire_cscd_id {
  uint8_t type;                 /* E4h */
  uint8_t byte1;                /* LU ID TYPE (7..6), NUL (5), PERIPHERAL DEVICE TYPE (4..0) */
  uint8_t rel_port[2];          /* RELATIVE INITIATOR PORT IDENTIFIER */
  uint8_t desig[24];            /* designation descriptor (7.8.6.1): 4 + up to 20 */
  uint8_t block_flags;          /* PAD (2) */
  uint8_t block_len[3];         /* DISK BLOCK LENGTH */
};
_Static_assert (sizeof (struct xc_wire_cscd_id) == 32, "SPC-4 6.4.5");

/* SPC-4 6.4.6: the segment descriptor header. */
struct xc_wire_seg_hdr {
  uint8_t type;                 /* DESCRIPTOR TYPE CODE */
  uint8_t flags;                /* DC (1), CAT (0) */
  uint8_t desc_len[2];          /* DESCRIPTOR LENGTH (n - 3) */
  uint8_t src_id[2];            /* SOURCE CSCD DESCRIPTOR ID */
  uint8_t dst_id[2];            /* DESTINATION CSCD DESCRIPTOR ID */
};
_Static_assert (sizeof (struct xc_wire_seg_hdr) == 8, "SPC-4 6.4.6");

/* SPC-4 6.4.6: block device to block device (02h). */
struct xc_wire_seg_b2b {
  struct xc_wire_seg_hdr hdr;
  uint8_t reserved[2];
  uint8_t nblocks[2];           /* NUMBER OF BLOCKS */
  uint8_t src_lba[8];           /* SOURCE BLOCK DEVICE LOGICAL BLOCK ADDRESS */
  uint8_t dst_lba[8];           /* DESTINATION BLOCK DEVICE LOGICAL BLOCK ADDRESS */
};
_Static_assert (sizeof (struct xc_wire_seg_b2b) == 28, "SPC-4 6.4.6");

/* SPC-4 6.4.6: block device with offset to block device with offset
 * (0Ah).
 */
struct xc_wire_seg_b2b_off {
  struct xc_wire_seg_hdr hdr;
  uint8_t nbytes[4];            /* NUMBER OF BYTES */
  uint8_t src_lba[8];
  uint8_t dst_lba[8];
  uint8_t src_off[2];           /* SOURCE BYTE OFFSET */
  uint8_t dst_off[2];           /* DESTINATION BYTE OFFSET */
};
_Static_assert (sizeof (struct xc_wire_seg_b2b_off) == 32, "SPC-4 6.4.6");

#define XC_OFF(type, field) ((unsigned) offsetof (struct type, field))

/* ---- Parsed lists (layers 1-3) ---- */

struct xc_limits {
  uint32_t max_cscd;
  uint32_t max_segments;
  uint32_t max_list_len;        /* CSCD + segment descriptor list lengths */
};
extern const struct xc_limits xc_default_limits;

struct xc_cscd {
  uint32_t at;                  /* offset of the descriptor in the list */
  uint8_t pdt;                  /* PERIPHERAL DEVICE TYPE */
  uint32_t block_len;           /* DISK BLOCK LENGTH (never 0) */
  const uint8_t *desig;         /* designation descriptor, inside the list */
  size_t desig_len;             /* 4 + DESIGNATOR LENGTH (<= 24) */
};

struct xc_segment {
  uint32_t at;                  /* offset of the descriptor in the list */
  uint8_t type;                 /* XC_SEG_B2B or XC_SEG_B2B_OFF */
  uint16_t src, dst;            /* CSCD descriptor IDs (indexes, unchecked) */
  uint32_t count;               /* NUMBER OF BLOCKS, or of BYTES */
  uint32_t unit;                /* bytes per counted unit (1 for 0Ah) */
  /* Bytes, from the CSCDs' DISK BLOCK LENGTH; an offset that overflows is
   * UINT64_MAX (never inside a LU).
   */
  uint64_t src_off, dst_off, len;
};

struct xc_list {
  uint8_t list_id;
  uint8_t usage;                /* XC_LIST_ID_* */
  uint8_t priority;
  bool str;
  size_t ncscd, nseg;
  struct xc_cscd cscd[XC_MAX_CSCD];
  struct xc_segment *seg;       /* nseg of them; xc_list_free */
};

/* Parse the EXTENDED COPY (LID1) parameter list p[0, len) (len > 0:
 * PARAMETER LIST LENGTH 0 is no copy at all, the caller's business).
 * lim NULL: xc_default_limits (which must not exceed XC_MAX_*).
 * ILLEGAL REQUEST errors with field pointers (C/D = 0) in *d.  On GOOD
 * the list holds its CSCDs and nseg >= 0 segments; a segment's CSCD
 * indexes are not checked (layer 4 reports them), and its byte ranges
 * are set only when both name block-device CSCDs.  Free it with
 * xc_list_free (also safe after an error).
 */
enum xs_status xc_parse (const uint8_t *p, size_t len,
                         const struct xc_limits *lim, struct xc_list *out,
                         struct xs_detail *d);
void xc_list_free (struct xc_list *l);

/* ---- Device lookup and the batch (layer 4) ---- */

/* Consecutive segments with the same (source LU, destination LU) pair:
 * one call of the backend's copy.
 */
struct xc_run {
  struct scsi_lu *src, *dst;
  size_t first, n;              /* segments [first, first + n) */
};

struct xc_batch {
  struct xcopy_range *ranges;   /* one per segment, bytes */
  uint64_t *seg_end;            /* bytes of segments [0, i] together */
  size_t nseg;
  struct xc_run *runs;
  size_t nruns;
  struct scsi_lu *lu[XC_MAX_CSCD];  /* resolved CSCDs (references) */
};

/* Resolve l's CSCDs among the LUs t's nexus may access and check every
 * segment against them; COPY ABORTED (segment in the sense data), DATA
 * PROTECT.  Free b with xc_batch_free, also after an error.
 */
enum xs_status xc_resolve (struct xs_task *t, const struct xc_list *l,
                           struct xc_batch *b);
void xc_batch_free (struct xc_batch *b);

/* ---- Results held per I_T nexus (copy_state.c) ---- */

/* A running copy's progress: bytes of finished runs plus the engine's
 * count for the current one.  seg_end maps bytes to segments processed.
 */
struct xc_progress {
  const uint64_t *seg_end;
  size_t nseg;
  uint64_t base;                /* under the results lock */
  struct xcopy_ctl ctl;
};

/* How a copy ended: the command's status and sense, and how far it got. */
struct xc_outcome {
  uint8_t status;               /* SAM status of the EXTENDED COPY */
  uint8_t sense[SCSI_SENSE_MAX];
  size_t sense_len;
  size_t segs_done;
  uint64_t bytes_done;
};

struct xc_rec;

/* Start a copy under (LU, list identifier) on t's nexus: with usage
 * XC_LIST_ID_NONE nothing is recorded and *rec is NULL.  A copy with the
 * same identifier still running: XS_OPERATION_IN_PROGRESS, or for usage
 * XC_LIST_ID_DISCARD XS_GOOD with *rec NULL (untracked); results held
 * from an earlier one are discarded.
 */
enum xs_status xc_state_begin (struct xs_task *t, uint8_t list_id,
                               uint8_t usage, struct xc_progress *prog,
                               struct xc_rec **rec);
/* A run of the copy finished with run_bytes: fold them into the base. */
void xc_state_run_done (struct xs_task *t, struct xc_progress *prog,
                        uint64_t run_bytes);
/* The copy is over: keep the outcome (LIST ID USAGE 00b) or forget it. */
void xc_state_end (struct xs_task *t, struct xc_rec *rec,
                   const struct xc_outcome *o);

/* RECEIVE COPY STATUS (LID1) data (12 bytes) for list_id on t's LU; a
 * completed copy's status is discarded once reported.  False: no such
 * list identifier.
 */
bool xc_state_copy_status (struct xs_task *t, uint8_t list_id,
                           uint8_t out[12]);
/* RECEIVE COPY FAILURE DETAILS (LID1) data into out (60 + SCSI_SENSE_MAX
 * bytes), *len its length; discarded when alloc takes it whole or is 0.
 * False: no such list identifier.
 */
bool xc_state_failure (struct xs_task *t, uint8_t list_id, size_t alloc,
                       uint8_t *out, size_t *len);

/* ---- Handlers, named in tpc.c ---- */

enum xs_status xs_xcopy_lid1 (struct xs_task *t);
enum xs_status xs_rcr_copy_status (struct xs_task *t);
enum xs_status xs_rcr_operating_params (struct xs_task *t);
enum xs_status xs_rcr_failed_segment (struct xs_task *t);
enum xs_status xs_vpd_tpc_build (struct xs_task *t, uint8_t *out, size_t cap,
                                 size_t *len);

#endif /* XCOPY_SCSI_XCOPY_INT_H */
