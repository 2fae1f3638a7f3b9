/* xcopyd: inside the SCSI device — what command families share.
 *
 * A command family (inquiry.c, rw.c, unmap.c, xcopy.c, ...) exports
 * command descriptors; opcodes.c puts them in the 256-slot opcode table
 * (with service-action sub-tables); dispatch.c checks what every command
 * needs (LU present, CDB length, NACA, unit attentions, write protection)
 * and calls the handler.  A handler reads the CDB, returns an enum
 * xs_status, and records details (field pointer, INFORMATION, segment) in
 * its task through the xs_* helpers below.  sense.c is the only code that
 * writes sense bytes.
 */
#ifndef XCOPY_SCSI_INT_H
#define XCOPY_SCSI_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scsi.h"
#include "be.h"
#include "rangelock.h"

/* ---- Internal status: the one enum every handler returns ----
 *
 * sense.c maps each to SAM status and sense key / ASC / ASCQ in a table.
 * Details (field pointers, INFORMATION, COMMAND-SPECIFIC INFORMATION, the
 * segment of a COPY ABORTED) live in struct xs_detail.
 */
enum xs_status {
  XS_GOOD = 0,
  XS_CONDITION_MET,
  XS_BUSY,
  XS_TASK_SET_FULL,
  XS_TASK_ABORTED,

  /* NOT READY */
  XS_NOT_READY,                        /* 02/04/00 */
  /* MEDIUM ERROR */
  XS_READ_ERROR,                       /* 03/11/00 UNRECOVERED READ ERROR */
  XS_WRITE_ERROR,                      /* 03/0C/00 WRITE ERROR */
  /* HARDWARE ERROR */
  XS_INTERNAL_ERROR,                   /* 04/44/00 INTERNAL TARGET FAILURE */
  /* ILLEGAL REQUEST */
  XS_INVALID_FIELD_IN_IU,              /* 05/0E/03 data-out shorter than needed */
  XS_PARAM_LIST_LENGTH_ERROR,          /* 05/1A/00 */
  XS_INVALID_OPCODE,                   /* 05/20/00 */
  XS_LBA_OUT_OF_RANGE,                 /* 05/21/00 */
  XS_INVALID_FIELD_IN_CDB,             /* 05/24/00, field pointer (C/D=1) */
  XS_LU_NOT_SUPPORTED,                 /* 05/25/00 */
  XS_INVALID_FIELD_IN_PARAM_LIST,      /* 05/26/00, field pointer (C/D=0) */
  XS_PARAM_NOT_SUPPORTED,              /* 05/26/01 */
  XS_PARAM_VALUE_INVALID,              /* 05/26/02 */
  XS_TOO_MANY_TARGET_DESCRIPTORS,      /* 05/26/06 */
  XS_UNSUPPORTED_TARGET_DESCRIPTOR,    /* 05/26/07 UNSUPPORTED TARGET DESCRIPTOR TYPE CODE */
  XS_TOO_MANY_SEGMENT_DESCRIPTORS,     /* 05/26/08 */
  XS_UNSUPPORTED_SEGMENT_DESCRIPTOR,   /* 05/26/09 UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE */
  XS_UNEXPECTED_INEXACT_SEGMENT,       /* 05/26/0A */
  XS_INLINE_DATA_LENGTH_EXCEEDED,      /* 05/26/0B */
  XS_INVALID_COPY_OPERATION,           /* 05/26/0C INVALID OPERATION FOR COPY SOURCE OR DESTINATION */
  XS_COPY_SEGMENT_GRANULARITY,         /* 05/26/0D COPY SEGMENT GRANULARITY VIOLATION */
  XS_SAVING_PARAMS_UNSUPPORTED,        /* 05/39/00 */
  XS_OPERATION_IN_PROGRESS,            /* 05/00/16 (list identifier in use) */
  XS_INSUFFICIENT_RESOURCES,           /* 05/55/03 */
  /* UNIT ATTENTION (dispatch.c raises these; handlers never do) */
  XS_UA_POWER_ON,                      /* 06/29/01 POWER ON OCCURRED */
  XS_UA_RESET,                         /* 06/29/03 BUS DEVICE RESET FUNCTION OCCURRED */
  XS_UA_MODE_CHANGED,                  /* 06/2A/01 MODE PARAMETERS CHANGED */
  XS_UA_CAPACITY_CHANGED,              /* 06/2A/09 CAPACITY DATA HAS CHANGED */
  XS_UA_LUNS_CHANGED,                  /* 06/3F/0E REPORTED LUNS DATA HAS CHANGED */
  /* DATA PROTECT */
  XS_WRITE_PROTECTED,                  /* 07/27/00 */
  XS_SPACE_ALLOC_FAILED,               /* 07/27/07 SPACE ALLOCATION FAILED WRITE PROTECT (ENOSPC) */
  /* COPY ABORTED (EXTENDED COPY; set the segment with xs_copy_segment()).
   * libiscsi's ExtendedCopy tests accept only 00/00, 08/04 and 0D/02 for
   * a bad CSCD index and for a copy past the end.
   */
  XS_COPY_ABORTED,                     /* 0A/00/00 */
  XS_COPY_ABORTED_UNREACHABLE,         /* 0A/08/04 UNREACHABLE COPY TARGET */
  XS_COPY_ABORTED_DEVICE_FAILURE,      /* 0A/0D/01 THIRD PARTY DEVICE FAILURE */
  XS_COPY_ABORTED_NOT_REACHABLE,       /* 0A/0D/02 COPY TARGET DEVICE NOT REACHABLE */
  XS_COPY_ABORTED_BAD_DEVICE_TYPE,     /* 0A/0D/03 INCORRECT COPY TARGET DEVICE TYPE */
  XS_COPY_ABORTED_UNDERRUN,            /* 0A/0D/04 COPY TARGET DEVICE DATA UNDERRUN */
  XS_COPY_ABORTED_OVERRUN,             /* 0A/0D/05 COPY TARGET DEVICE DATA OVERRUN */
  XS_COPY_ABORTED_READ_ERROR,          /* 0A/11/00 */
  XS_COPY_ABORTED_LBA_OUT_OF_RANGE,    /* 0A/21/00 */
  XS_COPY_ABORTED_WRITE_ERROR,         /* 0A/0C/00 */
  XS_COPY_ABORTED_SPACE_ALLOC,         /* 0A/27/07 */
  /* ABORTED COMMAND */
  XS_ABORTED_COMMAND,                  /* 0B/00/00 */
  XS_LU_COMM_FAILURE,                  /* 0B/08/00 LOGICAL UNIT COMMUNICATION FAILURE */
  /* MISCOMPARE */
  XS_MISCOMPARE,                       /* 0E/1D/00, INFORMATION = byte offset */
  XS__COUNT
};

/* The row of sense.c's table for a status (tests, logging). */
struct xs_status_info {
  uint8_t status;               /* SCSI_STATUS_* */
  uint8_t key, asc, ascq;       /* when CHECK CONDITION */
  const char *name;
};
const struct xs_status_info *xs_status_info (enum xs_status s);

/* Sense-key specific information (SPC-4 4.5.2.4). */
enum xs_sks {
  XS_SKS_NONE = 0,
  XS_SKS_FIELD,                 /* field pointer: C/D, BPV, bit, byte */
  XS_SKS_SEGMENT,               /* segment pointer (COPY ABORTED): SD, BPV, bit, byte */
};

struct xs_detail {
  enum xs_sks sks;
  bool cd;                      /* field pointer: 1 = in the CDB */
  bool sd;                      /* segment pointer: 1 = relative to the segment descriptor */
  int8_t bit;                   /* bit pointer, -1: none (BPV = 0) */
  uint16_t field;               /* byte offset */
  bool info_valid;
  uint64_t info;                /* INFORMATION */
  bool csi_valid;
  uint64_t csi;                 /* COMMAND-SPECIFIC INFORMATION */
};

/* Build status and sense for s into cmd (the one place sense is written):
 * fixed format (SPC-4 4.5.3) or descriptor format (4.5.2) as d_sense says.
 */
void xs_set_status (struct scsi_cmd *cmd, enum xs_status s,
                    const struct xs_detail *d, bool d_sense);

/* The sense data of s as REQUEST SENSE returns it (status GOOD, sense in
 * data-in).  Returns the length.  s == XS_GOOD gives NO SENSE.
 */
size_t xs_build_sense (uint8_t *out, enum xs_status s,
                       const struct xs_detail *d, bool desc);

/* errno (positive) -> status.  write: the failed operation wrote. */
enum xs_status xs_from_errno (int err, bool write);

/* ---- Logical units ---- */

/* Mode pages (mode.c): current values, shared by every nexus.  Byte 0 of
 * each page is the page code, byte 1 the page length (SPC-4 7.5.7).
 */
#define XS_MODE_RW_RECOVERY_LEN 12    /* SBC-3 6.4.9 */
#define XS_MODE_CACHING_LEN     20    /* SBC-3 6.4.5 */
#define XS_MODE_CONTROL_LEN     12    /* SPC-4 7.5.8 */
struct xs_mode {
  uint8_t rw_recovery[XS_MODE_RW_RECOVERY_LEN];
  uint8_t caching[XS_MODE_CACHING_LEN];
  uint8_t control[XS_MODE_CONTROL_LEN];
};

/* Unit attentions counted per LU: a nexus that last saw an older count
 * gets the UA on its next command (nexus.c).  In reporting priority.
 */
enum xs_ua {
  XS_UA_KIND_RESET,
  XS_UA_KIND_CAPACITY,
  XS_UA_KIND_MODE,
  XS_UA__KINDS
};

struct scsi_lu {
  _Atomic unsigned refs;
  uint64_t id;                  /* unique in the process, never 0 */
  struct scsi_backend *be;

  /* Identity */
  char serial[SCSI_SERIAL_MAX + 1];
  uint8_t naa[16];
  char vendor[9], product[17], revision[5];

  /* Geometry and limits, in logical blocks */
  uint32_t block_size;
  unsigned block_shift;
  uint8_t phys_exp;
  bool read_only;
  bool thin;                    /* LBPME: the backend can unmap */
  bool power_on_ua;
  bool wce_default;             /* WCE after a reset */
  _Atomic uint64_t blocks;      /* capacity */
  uint32_t max_xfer, opt_xfer;  /* blocks */
  uint32_t max_unmap;           /* blocks per UNMAP */
  uint32_t max_unmap_desc;
  uint64_t max_write_same;      /* blocks */
  uint32_t unmap_gran;          /* blocks; OPTIMAL UNMAP GRANULARITY */

  /* Shared state, under lock */
  pthread_mutex_t lock;
  struct xs_mode mode;
  _Atomic uint32_t ua_gen[XS_UA__KINDS];
  _Atomic uint64_t ua_when[XS_UA__KINDS];  /* xs_ua_clock at the last raise */

  /* Writers take their byte ranges exclusively (see scsi.h). */
  struct rangelock locks;
};

/* MAXIMUM COMPARE AND WRITE LENGTH in blocks (compare_write.c). */
uint8_t xs_caw_max (const struct scsi_lu *lu);

/* D_SENSE and WCE, read without the lock (a byte each). */
bool xs_lu_d_sense (struct scsi_lu *lu);
bool xs_lu_wce (struct scsi_lu *lu);
/* Read-only, or SWP set in the control mode page. */
bool xs_lu_write_protected (struct scsi_lu *lu);

/* The LU's logical-unit designation descriptors exactly as VPD 0x83 lists
 * them (inquiry.c): NAA 6, then T10 vendor ID.  Returns the bytes needed
 * (writes only what fits in cap).
 */
size_t xs_lu_designators (const struct scsi_lu *lu, uint8_t *out, size_t cap);

/* Mode pages to their defaults (scsi_lu_new, LU reset). */
void xs_mode_defaults (struct scsi_lu *lu);

/* A process-wide event clock: nexuses created after a UA was raised do
 * not see it; those created before do, even if they reach the LU later.
 */
uint64_t xs_ua_clock_tick (void);
uint64_t xs_ua_clock_now (void);

/* Raise a UA of kind k for every nexus, except that except (may be NULL)
 * is marked as having seen it.
 */
void xs_lu_raise_ua (struct scsi_lu *lu, enum xs_ua k,
                     struct scsi_nexus *except);

/* ---- Targets and nexuses ---- */

struct xs_lun_entry {
  uint16_t lun;
  struct scsi_lu *lu;
};

struct scsi_target {
  char *name;
  uint16_t transport_version;
  scsi_access_fn access;
  void *access_opaque;

  pthread_mutex_t lock;         /* luns, nexuses */
  struct xs_lun_entry *luns;    /* sorted by lun */
  size_t nluns, luns_cap;
  _Atomic uint32_t luns_gen;    /* REPORTED LUNS DATA HAS CHANGED */
  size_t nnexus;

  struct xs_workq *workq;
};

/* What a nexus last saw of one LU. */
struct xs_ua_seen {
  uint64_t lu_id;
  uint32_t gen[XS_UA__KINDS];
  bool power_on;                /* POWER ON OCCURRED still to report */
};

struct xs_task;

struct scsi_nexus {
  struct scsi_target *target;
  uint64_t id;
  char *initiator;
  char *target_port;
  uint16_t rel_port;
  uint64_t born;                /* xs_ua_clock_now() at creation */

  pthread_mutex_t lock;         /* everything below */
  pthread_cond_t idle;          /* inflight reached 0 */
  struct xs_task *inflight;     /* running commands (list) */
  size_t ninflight;
  struct xs_ua_seen *seen;
  size_t nseen, seen_cap;
  uint32_t luns_gen_seen;
  struct {
    void *state;
    void (*free_fn) (void *state);
  } slot[SCSI_SLOT__COUNT];
};

/* A command enters / leaves n (scsi_nexus_free waits for none). */
void xs_nexus_enter (struct scsi_nexus *n, struct xs_task *t);
void xs_nexus_leave (struct scsi_nexus *n, struct xs_task *t);

/* The next pending UA for (n, lu), cleared as it is returned; XS_GOOD
 * when none.  lu NULL: only target-wide ones.  (SAM-5 5.14: one per
 * command, highest priority first.)
 */
enum xs_status xs_nexus_take_ua (struct scsi_nexus *n, struct scsi_lu *lu);
/* Mark every UA of kind k of lu as seen by n. */
void xs_nexus_seen_ua (struct scsi_nexus *n, struct scsi_lu *lu,
                       enum xs_ua k);
/* Clear REPORTED LUNS DATA HAS CHANGED for n (REPORT LUNS does). */
void xs_nexus_seen_luns (struct scsi_nexus *n);

/* A snapshot of the LUNs n may access, in order: malloc'd (free with
 * xs_lun_list_free, which drops the references).  -ENOMEM.
 */
int xs_nexus_luns (struct scsi_nexus *n, struct xs_lun_entry **out,
                   size_t *count);
void xs_lun_list_free (struct xs_lun_entry *l, size_t count);

/* ---- Background work (workq.c) ---- */

struct xs_workq;
int xs_workq_new (unsigned threads, struct xs_workq **out);
/* -ENOMEM, -ESHUTDOWN after xs_workq_free started. */
int xs_workq_push (struct xs_workq *q, void (*fn) (void *arg), void *arg);
/* Runs what is queued, then joins the threads. */
void xs_workq_free (struct xs_workq *q);

/* ---- Commands ---- */

/* One command in flight: what a handler sees. */
struct xs_task {
  struct scsi_cmd *cmd;
  struct scsi_nexus *nexus;
  struct scsi_lu *lu;           /* NULL for XS_F_ANY_LUN commands on no LU */
  uint16_t lun;
  const uint8_t *cdb;
  const struct xs_cmd_desc *desc;
  struct xs_detail err;
  struct xs_task *next;         /* in nexus->inflight */
};

typedef enum xs_status (*xs_handler) (struct xs_task *t);

/* ---- Asynchronous READ and WRITE (aio.c) ---- */

/* A command on its way through a backend's aio_pread/aio_pwrite: its
 * checks ran on the submitting thread, its I/O completes on the
 * backend's.
 */
struct xs_aio {
  struct xs_task t;
  void (*done) (struct scsi_cmd *cmd, void *opaque);
  void *opaque;
  struct rangelock_hold hold;   /* a write's blocks, until it ends */
  size_t len;                   /* bytes the I/O moves */
  bool write;
};

enum xs_aio_start {
  XS_AIO_STARTED,               /* the backend owns it: xs_aio_end follows */
  XS_AIO_DONE,                  /* finished without I/O: *s is its status */
  XS_AIO_DEFER,                 /* run the descriptor's fn on a worker */
};

/* Start t's I/O with the backend's aio call (xs_aio_end as its done), or
 * say why not.  Must not block.
 */
typedef enum xs_aio_start (*xs_aio_handler) (struct xs_aio *a,
                                               enum xs_status *s);

/* The done callback of aio_pread/aio_pwrite for an xs_aio. */
void xs_aio_end (void *opaque, int err);

/* scsi_submit's fast path: true when cmd was taken (done will run, maybe
 * already has), false to queue it as usual.
 */
bool xs_aio_submit (struct scsi_nexus *n, struct scsi_cmd *cmd,
                    void (*done) (struct scsi_cmd *cmd, void *opaque),
                    void *opaque);

/* scsi_execute in steps (dispatch.c): begin fills t and enters the
 * nexus, check runs the checks every command gets, end sets status and
 * sense and leaves the nexus.
 */
void xs_task_begin (struct xs_task *t, struct scsi_nexus *n,
                    struct scsi_cmd *cmd);
enum xs_status xs_task_check (struct xs_task *t);
void xs_task_end (struct xs_task *t, enum xs_status s);
/* A submission in flight on n (+1) or over (-1): scsi_nexus_free waits. */
void xs_nexus_hold (struct scsi_nexus *n, int delta);

/* Descriptor flags */
#define XS_F_ANY_LUN   (1u << 0) /* runs without a LU (INQUIRY, REPORT LUNS, REQUEST SENSE) */
#define XS_F_NO_UA     (1u << 1) /* neither reports nor clears unit attentions */
#define XS_F_WRITE     (1u << 2) /* modifies the medium: DATA PROTECT when read-only */

struct xs_cmd_desc {
  uint8_t opcode;
  uint8_t sa;                   /* service action (has_sa) */
  bool has_sa;
  uint8_t cdb_len;              /* the command's length; shorter CDBs are refused */
  enum scsi_dir dir;
  unsigned flags;               /* XS_F_* */
  const char *name;
  xs_handler fn;                /* NULL: not supported (20/00, not reported) */
  xs_aio_handler aio;           /* optional: fn without a worker (aio.c) */
  /* CDB USAGE DATA (SPC-4 6.35.3): usage[0] the opcode, a service action
   * field holds its value, every other bit is 1 when the device server
   * looks at (or accepts) that bit.
   */
  uint8_t usage[16];
};

/* A slot of the opcode table: one command, or a table of 32 indexed by
 * the service action in CDB byte 1 bits 4..0.
 */
struct xs_opcode {
  const struct xs_cmd_desc *cmd;
  const struct xs_cmd_desc *const *sa;
};
extern const struct xs_opcode xs_opcodes[256];

/* Every command descriptor, defined in its family's file. */
extern const struct xs_cmd_desc xs_cmd_test_unit_ready, xs_cmd_request_sense,
  xs_cmd_report_luns, xs_cmd_inquiry, xs_cmd_read_capacity10,
  xs_cmd_read_capacity16, xs_cmd_get_lba_status, xs_cmd_mode_sense6,
  xs_cmd_mode_sense10, xs_cmd_mode_select6, xs_cmd_mode_select10,
  xs_cmd_report_opcodes, xs_cmd_read6, xs_cmd_read10, xs_cmd_read12,
  xs_cmd_read16, xs_cmd_write6, xs_cmd_write10, xs_cmd_write12,
  xs_cmd_write16, xs_cmd_write_verify10, xs_cmd_write_verify12,
  xs_cmd_write_verify16, xs_cmd_verify10, xs_cmd_verify12, xs_cmd_verify16,
  xs_cmd_sync_cache10, xs_cmd_sync_cache16, xs_cmd_prefetch10,
  xs_cmd_prefetch16, xs_cmd_write_same10, xs_cmd_write_same16,
  xs_cmd_unmap, xs_cmd_compare_write;

/* The descriptor for cdb, or NULL (unknown opcode or service action, or
 * no handler).
 */
const struct xs_cmd_desc *xs_lookup (const uint8_t *cdb, size_t len);

/* ---- Helpers for handlers ---- */

/* Record a field pointer and return the status. bit -1: no bit pointer. */
enum xs_status xs_bad_cdb (struct xs_task *t, unsigned byte, int bit);
enum xs_status xs_bad_param (struct xs_task *t, unsigned byte, int bit);
/* INFORMATION / COMMAND-SPECIFIC INFORMATION for the error to come. */
void xs_set_info (struct xs_task *t, uint64_t info);
void xs_set_csi (struct xs_task *t, uint64_t csi);
/* COPY ABORTED details (SPC-4 6.3.x): segment index in the
 * COMMAND-SPECIFIC INFORMATION field, and a segment pointer to byte (and
 * bit, or -1) of that segment descriptor (sd) or of the parameter list.
 */
void xs_copy_segment (struct xs_task *t, uint32_t segment, bool sd,
                      unsigned byte, int bit);

/* Data-in: the command has len bytes, the CDB allows alloc; transfer
 * min(len, alloc, data_in_cap), and xfer_len = min(len, alloc).
 */
enum xs_status xs_reply (struct xs_task *t, const void *buf, size_t len,
                         size_t alloc);
/* Data-out: the CDB announces need bytes.  *buf gets them, or
 * XS_INVALID_FIELD_IN_IU when the transport brought fewer (FCP-4 / libiscsi
 * option b: nothing done).  Sets xfer_len.
 */
enum xs_status xs_data_out (struct xs_task *t, uint64_t need,
                            const uint8_t **buf);
/* [lba, lba+n) inside the LU?  Else XS_LBA_OUT_OF_RANGE. */
enum xs_status xs_check_lba (struct xs_task *t, uint64_t lba, uint64_t n);
uint64_t xs_lu_blocks (const struct scsi_lu *lu);

/* LOGICAL BLOCK ADDRESS and length of a block command, by CDB length
 * (SBC-3 5.x): 6 bytes: 21-bit LBA in 1..3, length in 4 (READ/WRITE(6):
 * 0 means 256); 10: LBA 2..5, length 7..8; 12: 2..5, 6..9; 16: 2..9,
 * 10..13.
 */
struct xs_lba_cdb {
  uint64_t lba;
  uint64_t nblocks;
  uint8_t byte1;                /* flags byte (0 for 6-byte CDBs) */
  uint8_t len_at;               /* offset of the length field */
};
void xs_parse_lba (const struct xs_task *t, struct xs_lba_cdb *out);

/* Compare [off, off+len) of the LU with want; want holds len bytes, or
 * patlen bytes repeated when patlen != 0.  XS_MISCOMPARE with INFORMATION
 * = the offset of the first differing byte from off (verify.c).
 */
enum xs_status xs_compare (struct xs_task *t, uint64_t off,
                           const uint8_t *want, uint64_t len, size_t patlen);

/* Like xs_data_out, but the transport must bring exactly need bytes
 * (COMPARE AND WRITE, WRITE SAME: a mismatch is an error, not a residual).
 */
enum xs_status xs_data_out_exact (struct xs_task *t, uint64_t need,
                                  const uint8_t **buf);

/* Take [off, off+len) of the LU exclusively until xs_unlock (writes). */
enum xs_status xs_lock_range (struct xs_task *t, struct rangelock_hold *h,
                              uint64_t off, uint64_t len);
void xs_unlock (struct rangelock_hold *h);

/* Backend calls with errno mapped to a status (write: for the mapping). */
enum xs_status xs_be_read (struct xs_task *t, void *buf, size_t len,
                           uint64_t off);
enum xs_status xs_be_write (struct xs_task *t, const void *buf, size_t len,
                            uint64_t off, bool fua);

/* ---- Parameter-list parsers, callable alone (fuzz targets) ---- */

/* UNMAP parameter list (SBC-3 5.28.2) against a LU's limits. */
struct xs_unmap_limits {
  uint64_t blocks;              /* capacity */
  unsigned block_shift;
  uint32_t max_lbas;            /* MAXIMUM UNMAP LBA COUNT */
  uint32_t max_desc;            /* MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT */
};
/* p holds pll bytes.  out has room for max_desc spans; *n gets the
 * descriptors with blocks (in bytes).  Field pointers go to *d.
 */
enum xs_status xs_unmap_parse (const uint8_t *p, size_t pll,
                               const struct xs_unmap_limits *lim,
                               struct scsi_span *out, size_t *n,
                               struct xs_detail *d);

/* ---- VPD pages (inquiry.c) ---- */

/* Build the page body (after the 4-byte header) into out[0, cap);
 * *len gets its length.
 */
typedef enum xs_status (*xs_vpd_builder) (struct xs_task *t, uint8_t *out,
                                          size_t cap, size_t *len);
#define XS_VPD_MAX 4096

/* ---- Third-party copy wiring (tpc.c) ----
 *
 * The EXTENDED COPY files (xcopy.c, copy_results.c) plug in here: tpc.c
 * holds the descriptors of 0x83/00 and 0x84/00,03,04 (lengths, usage data)
 * and the VPD 0x8F builder pointer.  A NULL handler means "not supported":
 * INVALID COMMAND OPERATION CODE, not listed by REPORT SUPPORTED
 * OPERATION CODES; a NULL builder leaves 0x8F out of VPD 0x00, and the 3PC
 * bit of standard INQUIRY follows EXTENDED COPY's handler.
 */
/* What the core offers an EXTENDED COPY implementation:
 *   - CSCD lookup limited to the nexus: scsi_nexus_find_lu() (takes the
 *     0xE4 descriptor's designation descriptor as is), the LU's geometry
 *     (block_size, block_shift, xs_lu_blocks, read_only);
 *   - the copy itself: one struct xcopy_range batch in bytes through
 *     scsi_backend_copy(), with a struct xcopy_ctl for progress (RECEIVE
 *     COPY RESULTS) and cancellation (wire t->cmd->abort to ctl->cancel);
 *     exact progress in struct xcopy_result names the failed segment;
 *   - range locks across LUs: rangelock_acquire_copy (&src->locks,
 *     &dst->locks, ...), which is deadlock-free with every other writer;
 *   - per-nexus results: scsi_nexus_slot (n, SCSI_SLOT_COPY, ...), freed
 *     with the nexus;
 *   - errors: XS_TOO_MANY_*_DESCRIPTORS, XS_UNSUPPORTED_*_DESCRIPTOR,
 *     XS_COPY_ABORTED_* with xs_copy_segment(), xs_bad_param() for
 *     parameter-list field pointers, XS_OPERATION_IN_PROGRESS for a list
 *     identifier in use;
 *   - work off the command's thread: xs_workq_push (t->nexus->target->
 *     workq, ...);
 *   - fuzzing: tests/fuzz/scsi-fuzz-env.h gives a fresh device per input;
 *     a new tests/fuzz/fuzz-scsi-NAME.c with seeds in
 *     tests/fuzz/corpus/scsi-NAME/ is picked up by test-fuzz-scsi.sh.
 */
extern const struct xs_cmd_desc xs_cmd_extended_copy_lid1;
extern const struct xs_cmd_desc xs_cmd_rcr_copy_status;
extern const struct xs_cmd_desc xs_cmd_rcr_operating_params;
extern const struct xs_cmd_desc xs_cmd_rcr_failed_segment;
extern const xs_vpd_builder xs_vpd_third_party_copy;

#endif /* XCOPY_SCSI_INT_H */
