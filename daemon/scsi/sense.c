/* xcopyd: internal status -> SAM status and sense data.
 *
 * The only code that writes sense bytes.  Formats: fixed (SPC-4 4.5.3)
 * and descriptor (SPC-4 4.5.2), chosen by D_SENSE in the control mode page
 * (SPC-4 7.5.8) or, for REQUEST SENSE, by its DESC bit.
 */
#include <errno.h>
#include <string.h>

#include "scsi-int.h"

#define CC SCSI_STATUS_CHECK_CONDITION
#define ROW(st, k, a, q, n) { st, k, a, q, n }

static const struct xs_status_info table[XS__COUNT] = {
  [XS_GOOD] = ROW (SCSI_STATUS_GOOD, 0, 0, 0, "GOOD"),
  [XS_CONDITION_MET] = ROW (SCSI_STATUS_CONDITION_MET, 0, 0, 0, "CONDITION MET"),
  [XS_BUSY] = ROW (SCSI_STATUS_BUSY, 0, 0, 0, "BUSY"),
  [XS_TASK_SET_FULL] = ROW (SCSI_STATUS_TASK_SET_FULL, 0, 0, 0, "TASK SET FULL"),
  [XS_TASK_ABORTED] = ROW (SCSI_STATUS_TASK_ABORTED, 0, 0, 0, "TASK ABORTED"),
  [XS_NOT_READY] = ROW (CC, SCSI_SK_NOT_READY, 0x04, 0x00,
                        "LOGICAL UNIT NOT READY"),
  [XS_READ_ERROR] = ROW (CC, SCSI_SK_MEDIUM_ERROR, 0x11, 0x00,
                         "UNRECOVERED READ ERROR"),
  [XS_WRITE_ERROR] = ROW (CC, SCSI_SK_MEDIUM_ERROR, 0x0c, 0x00, "WRITE ERROR"),
  [XS_INTERNAL_ERROR] = ROW (CC, SCSI_SK_HARDWARE_ERROR, 0x44, 0x00,
                             "INTERNAL TARGET FAILURE"),
  [XS_INVALID_FIELD_IN_IU] = ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x0e, 0x03,
                                  "INVALID FIELD IN COMMAND INFORMATION UNIT"),
  [XS_PARAM_LIST_LENGTH_ERROR] = ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0x00,
                                      "PARAMETER LIST LENGTH ERROR"),
  [XS_INVALID_OPCODE] = ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x20, 0x00,
                             "INVALID COMMAND OPERATION CODE"),
  [XS_LBA_OUT_OF_RANGE] = ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x21, 0x00,
                               "LOGICAL BLOCK ADDRESS OUT OF RANGE"),
  [XS_INVALID_FIELD_IN_CDB] = ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x24, 0x00,
                                   "INVALID FIELD IN CDB"),
  [XS_LU_NOT_SUPPORTED] = ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x25, 0x00,
                               "LOGICAL UNIT NOT SUPPORTED"),
  [XS_INVALID_FIELD_IN_PARAM_LIST] = ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x26,
                                          0x00,
                                          "INVALID FIELD IN PARAMETER LIST"),
  [XS_PARAM_NOT_SUPPORTED] = ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x26, 0x01,
                                  "PARAMETER NOT SUPPORTED"),
  [XS_PARAM_VALUE_INVALID] = ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x26, 0x02,
                                  "PARAMETER VALUE INVALID"),
  [XS_TOO_MANY_TARGET_DESCRIPTORS] = ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x26,
                                          0x06, "TOO MANY TARGET DESCRIPTORS"),
  [XS_UNSUPPORTED_TARGET_DESCRIPTOR] =
    ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x26, 0x07,
         "UNSUPPORTED TARGET DESCRIPTOR TYPE CODE"),
  [XS_TOO_MANY_SEGMENT_DESCRIPTORS] =
    ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x26, 0x08,
         "TOO MANY SEGMENT DESCRIPTORS"),
  [XS_UNSUPPORTED_SEGMENT_DESCRIPTOR] =
    ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x26, 0x09,
         "UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE"),
  [XS_UNEXPECTED_INEXACT_SEGMENT] = ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x26,
                                         0x0a, "UNEXPECTED INEXACT SEGMENT"),
  [XS_INLINE_DATA_LENGTH_EXCEEDED] = ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x26,
                                          0x0b, "INLINE DATA LENGTH EXCEEDED"),
  [XS_INVALID_COPY_OPERATION] =
    ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x26, 0x0c,
         "INVALID OPERATION FOR COPY SOURCE OR DESTINATION"),
  [XS_COPY_SEGMENT_GRANULARITY] = ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x26, 0x0d,
                                       "COPY SEGMENT GRANULARITY VIOLATION"),
  [XS_SAVING_PARAMS_UNSUPPORTED] = ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x39,
                                        0x00,
                                        "SAVING PARAMETERS NOT SUPPORTED"),
  [XS_OPERATION_IN_PROGRESS] = ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x00, 0x16,
                                    "OPERATION IN PROGRESS"),
  [XS_INSUFFICIENT_RESOURCES] = ROW (CC, SCSI_SK_ILLEGAL_REQUEST, 0x55, 0x03,
                                     "INSUFFICIENT RESOURCES"),
  [XS_UA_POWER_ON] = ROW (CC, SCSI_SK_UNIT_ATTENTION, 0x29, 0x01,
                          "POWER ON OCCURRED"),
  [XS_UA_RESET] = ROW (CC, SCSI_SK_UNIT_ATTENTION, 0x29, 0x03,
                       "BUS DEVICE RESET FUNCTION OCCURRED"),
  [XS_UA_MODE_CHANGED] = ROW (CC, SCSI_SK_UNIT_ATTENTION, 0x2a, 0x01,
                              "MODE PARAMETERS CHANGED"),
  [XS_UA_CAPACITY_CHANGED] = ROW (CC, SCSI_SK_UNIT_ATTENTION, 0x2a, 0x09,
                                  "CAPACITY DATA HAS CHANGED"),
  [XS_UA_LUNS_CHANGED] = ROW (CC, SCSI_SK_UNIT_ATTENTION, 0x3f, 0x0e,
                              "REPORTED LUNS DATA HAS CHANGED"),
  [XS_WRITE_PROTECTED] = ROW (CC, SCSI_SK_DATA_PROTECT, 0x27, 0x00,
                              "WRITE PROTECTED"),
  [XS_SPACE_ALLOC_FAILED] = ROW (CC, SCSI_SK_DATA_PROTECT, 0x27, 0x07,
                                 "SPACE ALLOCATION FAILED WRITE PROTECT"),
  [XS_COPY_ABORTED] = ROW (CC, SCSI_SK_COPY_ABORTED, 0x00, 0x00,
                           "COPY ABORTED"),
  [XS_COPY_ABORTED_UNREACHABLE] = ROW (CC, SCSI_SK_COPY_ABORTED, 0x08, 0x04,
                                       "UNREACHABLE COPY TARGET"),
  [XS_COPY_ABORTED_DEVICE_FAILURE] = ROW (CC, SCSI_SK_COPY_ABORTED, 0x0d, 0x01,
                                          "THIRD PARTY DEVICE FAILURE"),
  [XS_COPY_ABORTED_NOT_REACHABLE] = ROW (CC, SCSI_SK_COPY_ABORTED, 0x0d, 0x02,
                                         "COPY TARGET DEVICE NOT REACHABLE"),
  [XS_COPY_ABORTED_BAD_DEVICE_TYPE] =
    ROW (CC, SCSI_SK_COPY_ABORTED, 0x0d, 0x03,
         "INCORRECT COPY TARGET DEVICE TYPE"),
  [XS_COPY_ABORTED_UNDERRUN] = ROW (CC, SCSI_SK_COPY_ABORTED, 0x0d, 0x04,
                                    "COPY TARGET DEVICE DATA UNDERRUN"),
  [XS_COPY_ABORTED_OVERRUN] = ROW (CC, SCSI_SK_COPY_ABORTED, 0x0d, 0x05,
                                   "COPY TARGET DEVICE DATA OVERRUN"),
  [XS_COPY_ABORTED_READ_ERROR] = ROW (CC, SCSI_SK_COPY_ABORTED, 0x11, 0x00,
                                      "UNRECOVERED READ ERROR"),
  [XS_COPY_ABORTED_LBA_OUT_OF_RANGE] =
    ROW (CC, SCSI_SK_COPY_ABORTED, 0x21, 0x00,
         "LOGICAL BLOCK ADDRESS OUT OF RANGE"),
  [XS_COPY_ABORTED_WRITE_ERROR] = ROW (CC, SCSI_SK_COPY_ABORTED, 0x0c, 0x00,
                                       "WRITE ERROR"),
  [XS_COPY_ABORTED_SPACE_ALLOC] = ROW (CC, SCSI_SK_COPY_ABORTED, 0x27, 0x07,
                                       "SPACE ALLOCATION FAILED WRITE PROTECT"),
  [XS_ABORTED_COMMAND] = ROW (CC, SCSI_SK_ABORTED_COMMAND, 0x00, 0x00,
                              "ABORTED COMMAND"),
  [XS_LU_COMM_FAILURE] = ROW (CC, SCSI_SK_ABORTED_COMMAND, 0x08, 0x00,
                              "LOGICAL UNIT COMMUNICATION FAILURE"),
  [XS_MISCOMPARE] = ROW (CC, SCSI_SK_MISCOMPARE, 0x1d, 0x00,
                         "MISCOMPARE DURING VERIFY OPERATION"),
};

const struct xs_status_info *
xs_status_info (enum xs_status s)
{
  if ((unsigned) s >= XS__COUNT)
    s = XS_INTERNAL_ERROR;
  return &table[s];
}

/* SPC-4 4.5.2.4: the three sense-key specific bytes. */
static bool
sks_bytes (const struct xs_detail *d, uint8_t out[3])
{
  if (d == NULL || d->sks == XS_SKS_NONE)
    return false;
  out[0] = 0x80;                               /* SKSV */
  if (d->sks == XS_SKS_FIELD && d->cd)
    out[0] |= 0x40;                            /* C/D */
  if (d->sks == XS_SKS_SEGMENT && d->sd)
    out[0] |= 0x20;                            /* SD */
  if (d->bit >= 0)
    out[0] |= 0x08 | (uint8_t) (d->bit & 7);   /* BPV, BIT POINTER */
  put_be16 (out + 1, d->field);
  return true;
}

/* SPC-4 4.5.3, table 47: 18 bytes. */
static size_t
build_fixed (uint8_t *s, const struct xs_status_info *r,
             const struct xs_detail *d)
{
  memset (s, 0, 18);
  s[0] = 0x70;
  s[2] = r->key;
  if (d && d->info_valid) {
    put_be32 (s + 3, (uint32_t) d->info);
    if (d->info <= UINT32_MAX)
      s[0] |= 0x80;                            /* VALID */
  }
  s[7] = 10;
  if (d && d->csi_valid)
    put_be32 (s + 8, (uint32_t) d->csi);
  s[12] = r->asc;
  s[13] = r->ascq;
  sks_bytes (d, s + 15);
  return 18;
}

/* SPC-4 4.5.2: header, then information (4.5.2.2), command-specific
 * information (4.5.2.3) and sense key specific (4.5.2.4) descriptors.
 */
static size_t
build_descriptor (uint8_t *s, const struct xs_status_info *r,
                  const struct xs_detail *d)
{
  size_t n = 8;

  memset (s, 0, 8 + 12 + 12 + 8);
  s[0] = 0x72;
  s[1] = r->key;
  s[2] = r->asc;
  s[3] = r->ascq;
  if (d && d->info_valid) {
    s[n] = 0x00;
    s[n + 1] = 0x0a;
    s[n + 2] = 0x80;                           /* VALID */
    put_be64 (s + n + 4, d->info);
    n += 12;
  }
  if (d && d->csi_valid) {
    s[n] = 0x01;
    s[n + 1] = 0x0a;
    put_be64 (s + n + 4, d->csi);
    n += 12;
  }
  if (sks_bytes (d, s + n + 4)) {
    s[n] = 0x02;
    s[n + 1] = 0x06;
    n += 8;
  }
  s[7] = (uint8_t) (n - 8);
  return n;
}

size_t
xs_build_sense (uint8_t *out, enum xs_status s, const struct xs_detail *d,
                bool desc)
{
  static const struct xs_status_info no_sense = { 0, SCSI_SK_NO_SENSE, 0, 0,
                                                  "NO SENSE" };
  const struct xs_status_info *r = xs_status_info (s);

  if (r->status != SCSI_STATUS_CHECK_CONDITION) {
    r = &no_sense;
    d = NULL;
  }
  return desc ? build_descriptor (out, r, d) : build_fixed (out, r, d);
}

void
xs_set_status (struct scsi_cmd *cmd, enum xs_status s,
               const struct xs_detail *d, bool d_sense)
{
  const struct xs_status_info *r = xs_status_info (s);

  cmd->status = r->status;
  cmd->sense_len = 0;
  if (r->status == SCSI_STATUS_CHECK_CONDITION)
    cmd->sense_len = xs_build_sense (cmd->sense, s, d, d_sense);
}

enum xs_status
xs_from_errno (int err, bool write)
{
  switch (err) {
  case 0:
    return XS_GOOD;
  case EIO: case EBADMSG: case EILSEQ:
    return write ? XS_WRITE_ERROR : XS_READ_ERROR;
  case ENOSPC: case EDQUOT:
    return XS_SPACE_ALLOC_FAILED;
  case EROFS: case EPERM: case EACCES:
    return XS_WRITE_PROTECTED;
  case ERANGE:
    return XS_LBA_OUT_OF_RANGE;
  case ENOMEM:
    return XS_TASK_SET_FULL;
  case EAGAIN: case EBUSY: case EINTR:
    return XS_BUSY;
  case ECANCELED:
    return XS_TASK_ABORTED;
  case ENOTCONN: case ECONNRESET: case ECONNREFUSED: case EPIPE:
  case ESHUTDOWN: case ETIMEDOUT: case EHOSTUNREACH:
    return XS_LU_COMM_FAILURE;
  case ENOMEDIUM:
    return XS_NOT_READY;
  default:
    return XS_INTERNAL_ERROR;
  }
}

/* ---- Parsing (tests, logging) ---- */

static void
parse_descriptors (const uint8_t *s, size_t len, struct scsi_sense_info *o)
{
  size_t end = 8 + (size_t) s[7], p = 8;

  if (end > len)
    end = len;
  while (p + 2 <= end && p + 2 + s[p + 1] <= end) {
    const uint8_t *dsc = s + p;
    if (dsc[0] == 0x00 && dsc[1] >= 0x0a) {
      o->info_valid = (dsc[2] & 0x80) != 0;
      o->info = get_be64 (dsc + 4);
    }
    else if (dsc[0] == 0x01 && dsc[1] >= 0x0a) {
      o->csi_valid = true;
      o->csi = get_be64 (dsc + 4);
    }
    else if (dsc[0] == 0x02 && dsc[1] >= 0x06) {
      o->sks_valid = (dsc[4] & 0x80) != 0;
      memcpy (o->sks, dsc + 4, 3);
    }
    p += 2 + (size_t) dsc[1];
  }
}

bool
scsi_sense_parse (const uint8_t *s, size_t len, struct scsi_sense_info *o)
{
  memset (o, 0, sizeof *o);
  if (len < 8)
    return false;
  switch (s[0] & 0x7f) {
  case 0x70: case 0x71:
    if (len < 14)
      return false;
    o->key = s[2] & 0x0f;
    o->info_valid = (s[0] & 0x80) != 0;
    o->info = get_be32 (s + 3);
    o->csi = get_be32 (s + 8);
    o->csi_valid = o->csi != 0;
    o->asc = s[12];
    o->ascq = s[13];
    if (len >= 18) {
      o->sks_valid = (s[15] & 0x80) != 0;
      memcpy (o->sks, s + 15, 3);
    }
    return true;
  case 0x72: case 0x73:
    o->descriptor = true;
    o->key = s[1] & 0x0f;
    o->asc = s[2];
    o->ascq = s[3];
    parse_descriptors (s, len, o);
    return true;
  default:
    return false;
  }
}
