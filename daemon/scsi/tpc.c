/* xcopyd: where third-party copy plugs into the core (SPC-4 6.3, 6.4,
 * 6.18, 7.8.17).
 *
 * The descriptors below carry what the opcode table, REPORT SUPPORTED
 * OPERATION CODES and dispatch need: lengths, direction, flags and CDB
 * usage data.  The EXTENDED COPY code (xcopy.c, copy_results.c) provides
 * the handlers and the VPD 0x8F builder and names them here.  While a
 * handler is NULL its command answers INVALID COMMAND OPERATION CODE and
 * is not reported; while the builder is NULL page 0x8F is not listed and
 * the 3PC bit of standard INQUIRY stays 0 (inquiry.c).
 *
 * EXTENDED COPY has no XS_F_WRITE: the LU that receives the command need
 * not be the destination, so the handler checks each destination LU's
 * write protection (read-only or SWP) itself (DATA PROTECT, WRITE
 * PROTECTED).
 */
#include "scsi-int.h"
#include "xcopy-int.h"

#define U32 0xff, 0xff, 0xff, 0xff

/* SPC-4 6.3.1 EXTENDED COPY (LID1): 83h/00h, PARAMETER LIST LENGTH 10..13. */
const struct xs_cmd_desc xs_cmd_extended_copy_lid1 = {
  .opcode = 0x83, .sa = 0x00, .has_sa = true, .cdb_len = 16,
  .dir = SCSI_DIR_OUT, .name = "EXTENDED COPY (LID1)", .fn = xs_xcopy_lid1,
  .usage = { 0x83, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, U32, 0x00, 0x00 },
};

/* SPC-4 6.18 RECEIVE COPY RESULTS: 84h, LIST IDENTIFIER in 2,
 * ALLOCATION LENGTH 10..13.
 */
const struct xs_cmd_desc xs_cmd_rcr_copy_status = {
  .opcode = 0x84, .sa = 0x00, .has_sa = true, .cdb_len = 16,
  .dir = SCSI_DIR_IN, .name = "RECEIVE COPY STATUS (LID1)",
  .fn = xs_rcr_copy_status,
  .usage = { 0x84, 0x00, 0xff, 0, 0, 0, 0, 0, 0, 0, U32, 0x00, 0x00 },
};

const struct xs_cmd_desc xs_cmd_rcr_operating_params = {
  .opcode = 0x84, .sa = 0x03, .has_sa = true, .cdb_len = 16,
  .dir = SCSI_DIR_IN, .name = "RECEIVE COPY OPERATING PARAMETERS",
  .fn = xs_rcr_operating_params,
  .usage = { 0x84, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, U32, 0x00, 0x00 },
};

const struct xs_cmd_desc xs_cmd_rcr_failed_segment = {
  .opcode = 0x84, .sa = 0x04, .has_sa = true, .cdb_len = 16,
  .dir = SCSI_DIR_IN, .name = "RECEIVE COPY FAILURE DETAILS (LID1)",
  .fn = xs_rcr_failed_segment,
  .usage = { 0x84, 0x04, 0xff, 0, 0, 0, 0, 0, 0, 0, U32, 0x00, 0x00 },
};

/* SPC-4 7.8.17 Third-party Copy VPD page: page body builder. */
const xs_vpd_builder xs_vpd_third_party_copy = xs_vpd_tpc_build;
