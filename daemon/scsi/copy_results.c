/* xcopyd: RECEIVE COPY RESULTS (84h): RECEIVE COPY STATUS (LID1) (00h),
 * RECEIVE COPY OPERATING PARAMETERS (03h), RECEIVE COPY FAILURE DETAILS
 * (LID1) (04h).
 *
 * CDB (SPC-4, the LID1 forms): LIST IDENTIFIER in byte 2,
 * ALLOCATION LENGTH in bytes 10..13.  The held results live in
 * copy_state.c; a list identifier with nothing held for this I_T nexus
 * and LU is INVALID FIELD IN CDB pointing at byte 2 (what libiscsi's
 * ReceiveCopyResults.CopyStatus expects before any copy).
 */
#include <string.h>

#include "xcopy-int.h"

const uint8_t xc_desc_codes[XC_NDESC_CODES] = {
  XC_SEG_B2B, XC_SEG_B2B_OFF, XC_CSCD_ID,
};

#define LIST_ID_BYTE 2

static uint32_t
alloc_len (const struct xs_task *t)
{
  return get_be32 (t->cdb + 10);
}

/* RECEIVE COPY STATUS (LID1): COPY MANAGER STATUS, SEGMENTS PROCESSED,
 * TRANSFER COUNT, also while the copy runs.
 */
enum xs_status
xs_rcr_copy_status (struct xs_task *t)
{
  uint8_t buf[12];

  if (!xc_state_copy_status (t, t->cdb[LIST_ID_BYTE], buf))
    return xs_bad_cdb (t, LIST_ID_BYTE, -1);
  return xs_reply (t, buf, sizeof buf, alloc_len (t));
}

/* RECEIVE COPY FAILURE DETAILS (LID1): the status and sense data the
 * EXTENDED COPY ended with, or AVAILABLE DATA 0 when there are none
 * (the copy is running or went well).
 */
enum xs_status
xs_rcr_failed_segment (struct xs_task *t)
{
  uint8_t buf[60 + SCSI_SENSE_MAX];
  size_t len;

  if (!xc_state_failure (t, t->cdb[LIST_ID_BYTE], alloc_len (t), buf, &len))
    return xs_bad_cdb (t, LIST_ID_BYTE, -1);
  return xs_reply (t, buf, len, alloc_len (t));
}

/* SPC-4, RECEIVE COPY OPERATING PARAMETERS parameter data: 44 bytes, then
 * the implemented descriptor type codes.
 */
struct xc_wire_op_params {
  uint8_t avail[4];             /* AVAILABLE DATA (n - 3) */
  uint8_t snlid;                /* SNLID (0) */
  uint8_t reserved[3];
  uint8_t max_cscd[2];          /* MAXIMUM CSCD DESCRIPTOR COUNT */
  uint8_t max_segs[2];          /* MAXIMUM SEGMENT DESCRIPTOR COUNT */
  uint8_t max_list_len[4];      /* MAXIMUM DESCRIPTOR LIST LENGTH */
  uint8_t max_seg_len[4];       /* MAXIMUM SEGMENT LENGTH */
  uint8_t max_inline[4];        /* MAXIMUM INLINE DATA LENGTH */
  uint8_t held_limit[4];        /* HELD DATA LIMIT */
  uint8_t max_stream[4];        /* MAXIMUM STREAM DEVICE TRANSFER SIZE */
  uint8_t reserved2[2];
  uint8_t total_copies[2];      /* TOTAL CONCURRENT COPIES */
  uint8_t max_copies;           /* MAXIMUM CONCURRENT COPIES */
  uint8_t data_gran;            /* DATA SEGMENT GRANULARITY (log 2) */
  uint8_t inline_gran;          /* INLINE DATA GRANULARITY (log 2) */
  uint8_t held_gran;            /* HELD DATA GRANULARITY (log 2) */
  uint8_t reserved3[3];
  uint8_t ndesc;                /* IMPLEMENTED DESCRIPTOR LIST LENGTH */
  uint8_t desc[XC_NDESC_CODES]; /* ... their type codes, ascending */
};
_Static_assert (sizeof (struct xc_wire_op_params) == 44 + XC_NDESC_CODES,
                "RECEIVE COPY OPERATING PARAMETERS");

/* Granularities are 1 byte (log 2 = 0): a 0Ah segment may move any
 * number of bytes; no inline or held data.  SNLID: LIST ID USAGE 11b is
 * taken.
 */
enum xs_status
xs_rcr_operating_params (struct xs_task *t)
{
  struct xc_wire_op_params w;

  memset (&w, 0, sizeof w);
  put_be32 (w.avail, sizeof w - 4);
  w.snlid = 0x01;
  put_be16 (w.max_cscd, XC_MAX_CSCD);
  put_be16 (w.max_segs, XC_MAX_SEGMENTS);
  put_be32 (w.max_list_len, XC_MAX_DESC_LIST_LEN);
  put_be32 (w.max_seg_len, XC_MAX_SEGMENT_LEN);
  put_be16 (w.total_copies, XC_TOTAL_CONCURRENT);
  w.max_copies = XC_MAX_CONCURRENT;
  w.ndesc = XC_NDESC_CODES;
  memcpy (w.desc, xc_desc_codes, sizeof w.desc);
  return xs_reply (t, &w, sizeof w, alloc_len (t));
}
