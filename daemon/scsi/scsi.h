/* xcopyd: a transport-independent SCSI block device (SPC-4 / SBC-3).
 *
 * Design note
 * -----------
 * Objects, outermost first:
 *
 *   scsi_target   the LU registry: LUN -> scsi_lu, plus an access rule
 *                 deciding which LUs each I_T nexus may see.  REPORT LUNS
 *                 and the EXTENDED COPY descriptor lookup both ask it.
 *   scsi_nexus    one I_T nexus (iSCSI session): initiator and target port
 *                 names, pending unit attentions per LU, and "slots" where a
 *                 command family keeps per-nexus state (EXTENDED COPY
 *                 results) that is dropped with the nexus.
 *   scsi_lu       one logical unit: stable identity (NAA 6 designator, T10
 *                 vendor ID, unit serial number), geometry, limits, mode
 *                 page state, a range-lock table, and its backend.
 *   scsi_backend  where the blocks live: an ops struct in bytes (read,
 *                 write, flush, copy batch, fill, zero, unmap, extents,
 *                 size).  The file backend runs the copy engine in process;
 *                 the daemon's plugin backend talks to nbdkit.
 *
 * A command is a struct scsi_cmd: the transport fills the inputs and calls
 * scsi_execute(), which returns when the command is done, with status,
 * sense (fixed or descriptor format, per D_SENSE in the control mode page)
 * and data-in filled.  Commands may run concurrently from many threads
 * (the transport's worker pool, or scsi_submit() on the target's own);
 * nothing in here blocks on the network.
 *
 * Inside (daemon/scsi/scsi-int.h): a 256-slot opcode table with
 * service-action sub-tables, one file per command family, handlers that
 * return an internal status (enum xs_status) which one translator turns
 * into SAM status and sense bytes.  Copies, fills and unmaps leave as
 * byte-range batches (struct xcopy_range) for the backend; no handler
 * calls copy_file_range itself.
 *
 * Atomicity: every command that writes takes its byte ranges exclusively in
 * the LU's range-lock table (common/rangelock.h) for its duration; reads
 * take nothing.  COMPARE AND WRITE holds its range across the read, the
 * compare and the write, so it is atomic with respect to every other write
 * to that range (and EXTENDED COPY takes its destination ranges the same
 * way, its sources shared).
 *
 * Conventions: set-up functions return 0 or -errno; scsi_execute() never
 * fails (errors are SCSI status).  No glib: plain C and pthreads, so the
 * library can be unit-tested and fuzzed alone.
 */
#ifndef XCOPY_SCSI_H
#define XCOPY_SCSI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xcopy/engine.h"
#include "xcopy/range.h"

/* ---- SAM-5 status codes (SAM-5 5.3) ---- */

#define SCSI_STATUS_GOOD                 0x00
#define SCSI_STATUS_CHECK_CONDITION      0x02
#define SCSI_STATUS_CONDITION_MET        0x04
#define SCSI_STATUS_BUSY                 0x08
#define SCSI_STATUS_RESERVATION_CONFLICT 0x18
#define SCSI_STATUS_TASK_SET_FULL        0x28
#define SCSI_STATUS_TASK_ABORTED         0x40

/* Sense keys (SPC-4 4.5.6, table 43). */
#define SCSI_SK_NO_SENSE        0x0
#define SCSI_SK_RECOVERED_ERROR 0x1
#define SCSI_SK_NOT_READY       0x2
#define SCSI_SK_MEDIUM_ERROR    0x3
#define SCSI_SK_HARDWARE_ERROR  0x4
#define SCSI_SK_ILLEGAL_REQUEST 0x5
#define SCSI_SK_UNIT_ATTENTION  0x6
#define SCSI_SK_DATA_PROTECT    0x7
#define SCSI_SK_COPY_ABORTED    0xa
#define SCSI_SK_ABORTED_COMMAND 0xb
#define SCSI_SK_MISCOMPARE      0xe

/* Largest sense data (SPC-4 4.5.1: ADDITIONAL SENSE LENGTH is one byte). */
#define SCSI_SENSE_MAX 252

/* ---- LUNs (SAM-5 4.7) ---- */

/* LUNs are numbered 0..16383: 0..255 are sent with peripheral device
 * addressing, the rest with flat space addressing (SAM-5 4.7.7).
 */
#define SCSI_LUN_MAX      16383u
#define SCSI_LUN_INVALID  0xffffu

/* The 8-byte LUN field of a transport <-> a LUN number.  Formats other than
 * single-level peripheral or flat space decode to SCSI_LUN_INVALID (the
 * command then reaches no LU: LOGICAL UNIT NOT SUPPORTED).
 */
uint16_t scsi_lun_decode (const uint8_t field[8]);
void scsi_lun_encode (uint16_t lun, uint8_t field[8]);

/* ---- Backends ---- */

struct scsi_backend;

/* Flags of backend calls. */
#define SCSI_BE_FUA       (1u << 0) /* write/fill/zero: durable before return */
#define SCSI_BE_MAY_TRIM  (1u << 1) /* zero: may deallocate (LBPRZ: reads 0) */

/* Capabilities, fixed when the backend is opened. */
#define SCSI_BE_CAP_UNMAP    (1u << 0) /* unmap deallocates (thin provisioning) */
#define SCSI_BE_CAP_EXTENTS  (1u << 1) /* extents reports holes */
#define SCSI_BE_CAP_COPY     (1u << 2) /* copy offloads (else bounce) */
#define SCSI_BE_CAP_READONLY (1u << 3) /* every write fails with -EROFS */

enum scsi_extent_type {
  SCSI_EXTENT_DATA = 0,         /* allocated (may hold zeroes) */
  SCSI_EXTENT_HOLE = 1,         /* deallocated, reads zeroes */
};

struct scsi_extent {
  uint64_t off, len;
  enum scsi_extent_type type;
};

/* One region of an unmap batch (struct xcopy_range would do, but src
 * has no meaning here).
 */
struct scsi_span {
  uint64_t off, len;
};

/* All offsets and lengths are bytes and already checked against the size
 * (the LU validates every range before calling).  Functions return 0 or
 * -errno.  Operations that take a struct xcopy_result fill it exactly as
 * the engine does (xcopy/engine.h): on failure it says how far the
 * operation got and nothing past that point was touched.  Every member is
 * mandatory except where marked optional.  All may be called concurrently.
 */
struct scsi_backend_ops {
  const char *name;

  int (*pread) (struct scsi_backend *b, void *buf, size_t len, uint64_t off);
  int (*pwrite) (struct scsi_backend *b, const void *buf, size_t len,
                 uint64_t off, unsigned flags);
  /* Make every completed write durable. */
  int (*flush) (struct scsi_backend *b);

  /* Optional asynchronous pread and pwrite, for backends whose I/O
   * waits on another process: start the transfer and return 0; done
   * (opaque, 0 or -errno) then runs exactly once, on any thread,
   * possibly before the call returns.  Any other return means nothing
   * was started and done never runs; -EAGAIN asks for the synchronous
   * call on a worker instead (too long, not connected yet).  buf stays
   * valid until done.
   */
  int (*aio_pread) (struct scsi_backend *b, void *buf, size_t len,
                    uint64_t off, void (*done) (void *opaque, int err),
                    void *opaque);
  int (*aio_pwrite) (struct scsi_backend *b, const void *buf, size_t len,
                     uint64_t off, unsigned flags,
                     void (*done) (void *opaque, int err), void *opaque);

  /* Copy a batch from src to dst (possibly the same backend; both of this
   * ops type): xcopy_copyv semantics (in order, memmove within a range,
   * holes kept); flags are the engine's XCOPY_F_* (XCOPY_F_SYNC for a
   * durable copy).  ctl (may be NULL) publishes progress and carries a
   * cancel request.  Optional: without it, or when it answers -EXDEV,
   * scsi_backend_copy() bounces through pread/pwrite.
   */
  int (*copy) (struct scsi_backend *src, struct scsi_backend *dst,
               const struct xcopy_range *r, size_t n, unsigned flags,
               struct xcopy_ctl *ctl, struct xcopy_result *res);
  /* Write pattern (patlen bytes, len a multiple of it) over [off, off+len). */
  int (*fill) (struct scsi_backend *b, uint64_t off, uint64_t len,
               const void *pattern, size_t patlen, unsigned flags,
               struct xcopy_result *res);
  /* Make [off, off+len) read as zeroes; SCSI_BE_MAY_TRIM allows a hole. */
  int (*zero) (struct scsi_backend *b, uint64_t off, uint64_t len,
               unsigned flags, struct xcopy_result *res);
  /* Deallocate spans (afterwards they read as zeroes).  Optional:
   * needs SCSI_BE_CAP_UNMAP.
   */
  int (*unmap) (struct scsi_backend *b, const struct scsi_span *s, size_t n,
                struct xcopy_result *res);
  /* Describe [off, off+len) from off: at least one extent, contiguous,
   * none past off+len, at most max; *n set.  Optional: without it (or
   * without SCSI_BE_CAP_EXTENTS) everything is data.
   */
  int (*extents) (struct scsi_backend *b, uint64_t off, uint64_t len,
                  struct scsi_extent *out, size_t max, size_t *n);
  /* Hint: [off, off+len) will be read soon (PRE-FETCH).  Optional. */
  int (*prefetch) (struct scsi_backend *b, uint64_t off, uint64_t len);
  /* Current size in bytes. */
  int (*size) (struct scsi_backend *b, uint64_t *size);
  /* Release everything (after the last LU using it is gone). */
  void (*close) (struct scsi_backend *b);
};

/* Implementations embed this as their first member. */
struct scsi_backend {
  const struct scsi_backend_ops *ops;
  unsigned caps;                /* SCSI_BE_CAP_* */
  uint32_t granularity;         /* allocation unit in bytes (unmap, extents); 0: unknown */
};

/* Copy between two backends: ops->copy when both share it, else (or on
 * -EXDEV before any progress) a bounce through pread/pwrite in pieces of
 * at most 1 MiB, with the same validation (-ERANGE naming the range, -E2BIG),
 * result and ctl semantics as xcopy_copyv_ctl.
 */
int scsi_backend_copy (struct scsi_backend *src, struct scsi_backend *dst,
                       const struct xcopy_range *r, size_t n, unsigned flags,
                       struct xcopy_ctl *ctl, struct xcopy_result *res);

/* The in-process file backend over the copy engine (backend-file.c).
 * Opens path (O_RDWR, or O_RDONLY with readonly), which must be a regular
 * file; the size is the file's.  Engine counters go to stats (may be NULL).
 * System calls go through xcopy_sys, so tests can inject faults.
 */
int scsi_file_backend_open (const char *path, bool readonly,
                            struct xcopy_stats *stats,
                            struct scsi_backend **out);
/* The same over an open descriptor, which the backend then owns. */
int scsi_file_backend_from_fd (int fd, bool readonly,
                               struct xcopy_stats *stats,
                               struct scsi_backend **out);

/* ---- Logical units ---- */

/* The IEEE company ID in NAA 6 designators unless configured: 0A-58-43,
 * a locally administered value ("XC"); a site with its own OUI sets it.
 */
#define SCSI_NAA_DEFAULT_COMPANY_ID 0x0a5843u

#define SCSI_SERIAL_MAX 64

struct scsi_lu_config {
  /* Identity.  serial is required: 1..SCSI_SERIAL_MAX printable ASCII
   * characters, no spaces at either end; VPD 0x80.
   */
  const char *serial;
  /* VPD 0x83 NAA 6 designator (16 bytes, first nibble 6).  When absent,
   * built from company_id and a 100-bit hash of the serial, so the same
   * serial always gives the same designator.
   */
  bool have_naa;
  uint8_t naa[16];
  uint32_t company_id;          /* 24 bits; 0: SCSI_NAA_DEFAULT_COMPANY_ID */
  const char *vendor;           /* T10 vendor ID, <= 8; NULL: "XCOPYD" */
  const char *product;          /* <= 16; NULL: "xcopyd disk" */
  const char *revision;         /* <= 4; NULL: the library's */

  uint32_t block_size;          /* 512 or 4096; 0: 512 */
  uint8_t phys_exp;             /* logical blocks per physical block, log2 */
  bool read_only;               /* also when the backend is read-only */
  bool write_cache;             /* WCE at start (caching mode page) */
  bool power_on_ua;             /* report POWER ON OCCURRED to each nexus */

  /* Limits in bytes, rounded down to blocks; 0 picks the default. */
  uint64_t max_transfer;        /* READ/WRITE/VERIFY...: 16 MiB */
  uint64_t opt_transfer;        /* 1 MiB */
  uint64_t max_unmap;           /* per UNMAP: 512 MiB, <= 2^20 blocks */
  uint32_t max_unmap_desc;      /* descriptors per UNMAP: 256 */
  uint64_t max_write_same;      /* per WRITE SAME: 1 GiB */
};

struct scsi_lu;

/* Create a LU over be (the LU owns be from now on, also on failure).
 * -EINVAL for a bad config (serial, sizes, block size), -errno from the
 * backend's size.  The LU starts with one reference.
 */
int scsi_lu_new (const struct scsi_lu_config *cfg, struct scsi_backend *be,
                 struct scsi_lu **out);
struct scsi_lu *scsi_lu_ref (struct scsi_lu *lu);
void scsi_lu_unref (struct scsi_lu *lu);

/* Identity and geometry, for the daemon's listings and tests. */
const char *scsi_lu_serial (const struct scsi_lu *lu);
const uint8_t *scsi_lu_naa (const struct scsi_lu *lu);   /* 16 bytes */
uint32_t scsi_lu_block_size (const struct scsi_lu *lu);
uint64_t scsi_lu_blocks (const struct scsi_lu *lu);
struct scsi_backend *scsi_lu_backend (const struct scsi_lu *lu);

/* Re-read the backend's size; on a change every nexus gets CAPACITY DATA
 * HAS CHANGED.  0 or -errno.
 */
int scsi_lu_resize (struct scsi_lu *lu);

/* LOGICAL UNIT RESET (SAM-5 5.6): mode pages back to their defaults,
 * POWER ON, RESET, OR BUS DEVICE RESET OCCURRED for every nexus.
 */
void scsi_lu_reset (struct scsi_lu *lu);

/* ---- Targets (the LU registry) and nexuses ---- */

struct scsi_target;
struct scsi_nexus;

/* Which LUs a nexus may access.  NULL: all of them. */
typedef bool (*scsi_access_fn) (void *opaque, const struct scsi_nexus *n,
                                 uint16_t lun, const struct scsi_lu *lu);

struct scsi_target_config {
  const char *name;             /* SCSI target device name (iSCSI IQN); may be NULL */
  uint16_t transport_version;   /* INQUIRY version descriptor, e.g. 0x0960 (iSCSI); 0: none */
  scsi_access_fn access;
  void *access_opaque;
  unsigned workers;             /* scsi_submit() threads; 0: 4 */
};

int scsi_target_new (const struct scsi_target_config *cfg,
                     struct scsi_target **out);
/* Waits for scsi_submit() work to finish.  Nexuses must be freed first. */
void scsi_target_free (struct scsi_target *t);

/* Map lu at lun (takes a reference).  -EEXIST, -ERANGE (lun too big).
 * Every nexus gets REPORTED LUNS DATA HAS CHANGED.
 */
int scsi_target_add_lu (struct scsi_target *t, uint16_t lun,
                        struct scsi_lu *lu);
/* Unmap: commands already running keep their reference.  -ENOENT. */
int scsi_target_remove_lu (struct scsi_target *t, uint16_t lun);
/* The LU at lun with a reference, or NULL. */
struct scsi_lu *scsi_target_lu (struct scsi_target *t, uint16_t lun);

/* A new I_T nexus.  Port names are copied; target_port may be NULL.
 * rel_port is the relative target port identifier (1 when in doubt).
 * -ENOMEM.
 */
int scsi_nexus_new (struct scsi_target *t, const char *initiator_port,
                    const char *target_port, uint16_t rel_port,
                    struct scsi_nexus **out);
/* Nexus loss: cancels what its commands run in the background, waits for
 * its commands to finish, drops every slot.  The transport must not call
 * scsi_execute() on it any more.
 */
void scsi_nexus_free (struct scsi_nexus *n);

uint64_t scsi_nexus_id (const struct scsi_nexus *n);  /* unique, never 0 */
const char *scsi_nexus_initiator (const struct scsi_nexus *n);
const char *scsi_nexus_target_port (const struct scsi_nexus *n);
struct scsi_target *scsi_nexus_target (const struct scsi_nexus *n);

/* Whether n may access lu at lun (the target's access rule). */
bool scsi_nexus_may_access (const struct scsi_nexus *n, uint16_t lun,
                            const struct scsi_lu *lu);

/* The LU whose VPD 0x83 logical-unit designator matches desig (a
 * designation descriptor: code set, association 0, type, length, and the
 * designator; 4 + length bytes), among the LUs this nexus may access —
 * never another nexus's (EXTENDED COPY CSCD lookup; DESIGN.md invariant 8).
 * With a reference, or NULL.
 */
struct scsi_lu *scsi_nexus_find_lu (struct scsi_nexus *n,
                                    const uint8_t *desig, size_t len);

/* Call fn for each LU this nexus may access, in LUN order, with the
 * registry unlocked (fn holds its own reference if it keeps lu).  Stops
 * when fn returns non-zero and returns that.
 */
int scsi_nexus_foreach_lu (struct scsi_nexus *n,
                           int (*fn) (void *opaque, uint16_t lun,
                                      struct scsi_lu *lu),
                           void *opaque);

/* Per-nexus state owned by a command family.  get_or_create returns the
 * slot's state, calling create(opaque) the first time (under the nexus
 * lock; NULL from create is returned as is and retried next time).
 * free(state) runs at scsi_nexus_free().  Families synchronise access to
 * their state themselves.
 */
enum scsi_nexus_slot {
  SCSI_SLOT_COPY,               /* EXTENDED COPY / RECEIVE COPY RESULTS */
  SCSI_SLOT__COUNT
};

void *scsi_nexus_slot (struct scsi_nexus *n, enum scsi_nexus_slot s,
                       void *(*create) (void *opaque), void *opaque,
                       void (*free_fn) (void *state));

/* ---- Commands ---- */

enum scsi_dir {
  SCSI_DIR_NONE = 0,
  SCSI_DIR_IN,                  /* data-in: device to initiator */
  SCSI_DIR_OUT,                 /* data-out: initiator to device */
};

struct scsi_cmd {
  /* ---- in (the transport) ---- */
  const uint8_t *cdb;
  size_t cdb_len;
  uint16_t lun;                 /* scsi_lun_decode() of the LUN field */
  /* Data-out the initiator sent: the iSCSI expected data transfer length
   * (EDTL) for a write, else 0.
   */
  const uint8_t *data_out;
  size_t data_out_len;
  /* Where data-in goes: EDTL bytes for a read, else 0.  Data the command
   * has beyond data_in_cap is not transferred (residual overflow).
   */
  uint8_t *data_in;
  size_t data_in_cap;
  /* Set by the transport (ABORT TASK, nexus loss): long operations stop
   * at their next piece boundary and the command ends TASK ABORTED.
   */
  _Atomic bool abort;

  /* ---- out (scsi_execute) ---- */
  uint8_t status;               /* SCSI_STATUS_* */
  uint8_t sense[SCSI_SENSE_MAX];
  size_t sense_len;             /* 0 unless CHECK CONDITION */
  size_t data_in_len;           /* bytes placed in data_in */
  /* The SCSI-level transfer length the CDB asked for in its direction
   * (SPC-4 / FCP-4 "SPDTL": blocks times block size, the parameter list
   * length, or the data a command has up to its allocation length).
   */
  uint64_t xfer_len;
  enum scsi_dir dir;            /* the command's data direction (table) */
};

/* Run cmd on nexus n and fill its outputs.  Thread-safe; blocks for the
 * duration of the command.
 */
void scsi_execute (struct scsi_nexus *n, struct scsi_cmd *cmd);

/* The same without waiting: done(cmd, opaque) runs once cmd is
 * complete, on a worker, on the backend's completion thread (READ and
 * WRITE on a backend with aio_pread/aio_pwrite), or before scsi_submit
 * returns (a command refused by its checks, which run on the caller's
 * thread for READ and WRITE).  -ENOMEM, -ESHUTDOWN: done never runs.  n
 * must outlive it (scsi_nexus_free waits).
 */
int scsi_submit (struct scsi_nexus *n, struct scsi_cmd *cmd,
                 void (*done) (struct scsi_cmd *cmd, void *opaque),
                 void *opaque);

/* iSCSI/FCP residuals from xfer_len and the EDTL the initiator gave
 * (RFC 7143 11.4.5.2): over when the command wanted more than EDTL, under
 * when less was transferred than EDTL.  A data-in command that failed
 * transferred nothing.
 */
enum scsi_resid {
  SCSI_RESID_NONE = 0,
  SCSI_RESID_UNDER,
  SCSI_RESID_OVER,
};
enum scsi_resid scsi_cmd_residual (const struct scsi_cmd *cmd, uint64_t edtl,
                                   uint64_t *count);

/* Sense fields, parsed back (tests, logging).  False when sense is not
 * fixed or descriptor format.
 */
struct scsi_sense_info {
  bool descriptor;
  uint8_t key, asc, ascq;
  bool info_valid;
  uint64_t info;
  bool csi_valid;
  uint64_t csi;                 /* command-specific information */
  bool sks_valid;
  uint8_t sks[3];               /* sense-key specific bytes */
};
bool scsi_sense_parse (const uint8_t *sense, size_t len,
                       struct scsi_sense_info *out);

#endif /* XCOPY_SCSI_H */
