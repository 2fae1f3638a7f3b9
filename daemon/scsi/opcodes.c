/* xcopyd: the opcode table (SPC-4 4.2.5.1, SBC-3 5.1 table 23).
 *
 * 256 slots indexed by OPERATION CODE; opcodes that carry a SERVICE
 * ACTION (CDB byte 1 bits 4..0) point to a 32-slot sub-table.  Each
 * descriptor lives in its command family's file.  Dispatch, REPORT
 * SUPPORTED OPERATION CODES and the unit tests all read this one table.
 */
#include "scsi-int.h"

/* 83h THIRD-PARTY COPY OUT (SPC-4 6.3) */
static const struct xs_cmd_desc *const sa_83[32] = {
  [0x00] = &xs_cmd_extended_copy_lid1,
};

/* 84h THIRD-PARTY COPY IN (SPC-4 6.18) */
static const struct xs_cmd_desc *const sa_84[32] = {
  [0x00] = &xs_cmd_rcr_copy_status,
  [0x03] = &xs_cmd_rcr_operating_params,
  [0x04] = &xs_cmd_rcr_failed_segment,
};

/* 9Eh SERVICE ACTION IN (16) (SBC-3 5.16, 5.5) */
static const struct xs_cmd_desc *const sa_9e[32] = {
  [0x10] = &xs_cmd_read_capacity16,
  [0x12] = &xs_cmd_get_lba_status,
};

/* A3h MAINTENANCE IN (SPC-4 6.35) */
static const struct xs_cmd_desc *const sa_a3[32] = {
  [0x0c] = &xs_cmd_report_opcodes,
};

const struct xs_opcode xs_opcodes[256] = {
  [0x00] = { .cmd = &xs_cmd_test_unit_ready },
  [0x03] = { .cmd = &xs_cmd_request_sense },
  [0x08] = { .cmd = &xs_cmd_read6 },
  [0x0a] = { .cmd = &xs_cmd_write6 },
  [0x12] = { .cmd = &xs_cmd_inquiry },
  [0x15] = { .cmd = &xs_cmd_mode_select6 },
  [0x1a] = { .cmd = &xs_cmd_mode_sense6 },
  [0x25] = { .cmd = &xs_cmd_read_capacity10 },
  [0x28] = { .cmd = &xs_cmd_read10 },
  [0x2a] = { .cmd = &xs_cmd_write10 },
  [0x2e] = { .cmd = &xs_cmd_write_verify10 },
  [0x2f] = { .cmd = &xs_cmd_verify10 },
  [0x34] = { .cmd = &xs_cmd_prefetch10 },
  [0x35] = { .cmd = &xs_cmd_sync_cache10 },
  [0x41] = { .cmd = &xs_cmd_write_same10 },
  [0x42] = { .cmd = &xs_cmd_unmap },
  [0x55] = { .cmd = &xs_cmd_mode_select10 },
  [0x5a] = { .cmd = &xs_cmd_mode_sense10 },
  [0x83] = { .sa = sa_83 },
  [0x84] = { .sa = sa_84 },
  [0x88] = { .cmd = &xs_cmd_read16 },
  [0x89] = { .cmd = &xs_cmd_compare_write },
  [0x8a] = { .cmd = &xs_cmd_write16 },
  [0x8e] = { .cmd = &xs_cmd_write_verify16 },
  [0x8f] = { .cmd = &xs_cmd_verify16 },
  [0x90] = { .cmd = &xs_cmd_prefetch16 },
  [0x91] = { .cmd = &xs_cmd_sync_cache16 },
  [0x93] = { .cmd = &xs_cmd_write_same16 },
  [0x9e] = { .sa = sa_9e },
  [0xa0] = { .cmd = &xs_cmd_report_luns },
  [0xa3] = { .sa = sa_a3 },
  [0xa8] = { .cmd = &xs_cmd_read12 },
  [0xaa] = { .cmd = &xs_cmd_write12 },
  [0xae] = { .cmd = &xs_cmd_write_verify12 },
  [0xaf] = { .cmd = &xs_cmd_verify12 },
};
