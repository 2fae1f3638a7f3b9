/* xcopyd: the control protocol — wire layout, limits and codec.
 *
 * proto/PROTOCOL.md is normative; section numbers (§) below refer to it.
 *
 * The packed xcopy_wire_* structs document the byte layout and pin it with
 * size and offset asserts.  They are never overlaid on a buffer: the codec
 * reads and writes every field with the little-endian helpers of
 * xcopy/wire.h.  What callers handle are the plain, host-order
 * xcopy_proto_* structs: a request or reply is encoded from one and
 * decoded into one, and both directions run the same validation, so a
 * client can never send what a server would refuse for its form.
 *
 * Errors follow the engine: functions return 0 or -errno, and describe the
 * failure in a struct xcopy_proto_err (errno, the offending item's index,
 * whether the stream is lost, a message naming the field).  No glib: this
 * loads inside nbdkit.
 */
#ifndef XCOPY_PROTO_H
#define XCOPY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xcopy/engine.h"
#include "xcopy/range.h"
#include "xcopy/wire.h"

/* ---- Versions (§5, §10) ---- */

#define XCOPY_PROTO_VERSION_MIN   1   /* oldest version this codec speaks */
#define XCOPY_PROTO_VERSION_MAX   1   /* newest version this codec speaks */
#define XCOPY_PROTO_VERSION       XCOPY_PROTO_VERSION_MAX
#define XCOPY_PROTO_HELLO_VERSION 1   /* header.version of HELLO frames, forever */

/* ---- Frames (§3) ---- */

/* "xcpQ" and "xcpR" in the first four bytes of a frame. */
#define XCOPY_PROTO_REQUEST_MAGIC UINT32_C (0x51706378)
#define XCOPY_PROTO_REPLY_MAGIC   UINT32_C (0x52706378)

/* §3.1 The frame header: 32 bytes, every field little-endian. */
struct xcopy_wire_header {
  uint32_t magic;       /* XCOPY_PROTO_REQUEST_MAGIC or _REPLY_MAGIC */
  uint16_t version;     /* negotiated version; 1 on HELLO frames */
  uint16_t opcode;      /* XCOPY_OP_*; a reply echoes its request's */
  uint32_t flags;       /* request: XCOPY_PROTO_F_*; reply: XCOPY_PROTO_RF_* */
  uint32_t status;      /* request: 0; reply: 0 or a positive Linux errno */
  uint64_t serial;      /* chosen by the client, echoed in the reply */
  uint32_t length;      /* payload bytes after the header */
  uint32_t count;       /* items in the payload's array (§6.1), else 0 */
} __attribute__ ((packed));
_Static_assert (sizeof (struct xcopy_wire_header) == 32, "PROTOCOL.md §3.1");
_Static_assert (offsetof (struct xcopy_wire_header, serial) == 16, "§3.1");
_Static_assert (offsetof (struct xcopy_wire_header, count) == 28, "§3.1");

#define XCOPY_PROTO_HEADER_SIZE 32u

/* ---- Limits (§11) ---- */

/* Largest payload: above every valid message's maximum (asserted in
 * proto/codec.c), small enough to read into memory in one piece.
 */
#define XCOPY_PROTO_MAX_PAYLOAD   (UINT32_C (32) << 20)
/* A server never advertises a payload limit below this (§5). */
#define XCOPY_PROTO_MIN_PAYLOAD   (UINT32_C (64) << 10)
#define XCOPY_PROTO_MAX_RANGES    (UINT32_C (1) << 20) /* COPY, UNMAP */
#define XCOPY_PROTO_MAX_PATTERN   (UINT32_C (1) << 20) /* FILL pattern bytes */
#define XCOPY_PROTO_MAX_EXTENTS   (UINT32_C (1) << 20) /* EXTENTS reply */
#define XCOPY_PROTO_MAX_EXPORTS   (UINT32_C (1) << 16) /* LIST_EXPORTS, STAT */
#define XCOPY_PROTO_MAX_COUNTERS  64u                  /* STAT reply */
#define XCOPY_PROTO_MAX_JOBS      4096u                /* JOB_STATUS reply */
#define XCOPY_PROTO_NAME_MAX      255u                 /* §4.2 names */
#define XCOPY_PROTO_MESSAGE_MAX   1024u                /* §7.2 messages */
#define XCOPY_PROTO_ERRNO_MAX     4095u                /* largest status */

_Static_assert (XCOPY_PROTO_MAX_RANGES == XCOPY_MAX_RANGES,
                "a protocol batch is one engine batch");
_Static_assert (XCOPY_PROTO_MAX_PATTERN == XCOPY_FILL_MAX_PATTERN,
                "any pattern on the wire is one the engine takes");

/* "No index" in a result block or error (§4.3). */
#define XCOPY_PROTO_NO_INDEX UINT64_MAX

/* ---- Opcodes (§6.1) ---- */

enum {
  XCOPY_OP_HELLO        = 0x0001,
  XCOPY_OP_LIST_EXPORTS = 0x0002,
  XCOPY_OP_STAT         = 0x0003,
  XCOPY_OP_COPY         = 0x0010,
  XCOPY_OP_FILL         = 0x0011,
  XCOPY_OP_ZERO         = 0x0012,
  XCOPY_OP_UNMAP        = 0x0013,
  XCOPY_OP_FLUSH        = 0x0014,
  XCOPY_OP_EXTENTS      = 0x0015,
  XCOPY_OP_CLONE        = 0x0016,
  XCOPY_OP_JOB_STATUS   = 0x0020,
  XCOPY_OP_JOB_CANCEL   = 0x0021,
};

/* ---- Request flags, header.flags (§6.2) ----
 * Every bit has one meaning in every opcode; the opcode table says where
 * each is allowed.  A bit not allowed for the opcode is refused (EINVAL).
 */
#define XCOPY_PROTO_F_ASYNC       (1u << 0)  /* run as a job (§8) */
#define XCOPY_PROTO_F_SYNC        (1u << 1)  /* fdatasync the destination */
#define XCOPY_PROTO_F_ALLOCATE    (1u << 2)  /* COPY: source holes -> zeroes */
#define XCOPY_PROTO_F_MAY_TRIM    (1u << 3)  /* FILL/ZERO: zeroes may be holes */
#define XCOPY_PROTO_F_FAST        (1u << 4)  /* ZERO: fail rather than write */
#define XCOPY_PROTO_F_REPLACE     (1u << 5)  /* CLONE: replace an existing file */
#define XCOPY_PROTO_F_ALL_EXPORTS (1u << 6)  /* STAT: every export */
#define XCOPY_PROTO_F_NO_REFLINK  (1u << 8)  /* skip the reflink rung */
#define XCOPY_PROTO_F_NO_CFR      (1u << 9)  /* skip the copy_file_range rung */
#define XCOPY_PROTO_F_NO_SPLICE   (1u << 10) /* skip the splice rung */
#define XCOPY_PROTO_F_LADDER \
  (XCOPY_PROTO_F_NO_REFLINK | XCOPY_PROTO_F_NO_CFR | XCOPY_PROTO_F_NO_SPLICE)

/* ---- Reply flags, header.flags of a reply (§7) ---- */
#define XCOPY_PROTO_RF_JOB             (1u << 0) /* payload: job started */
#define XCOPY_PROTO_RF_CLOSING         (1u << 1) /* the server closes next */
#define XCOPY_PROTO_RF_SERVER_COUNTERS (1u << 2) /* STAT: whole-server counters */
#define XCOPY_PROTO_RF_VALID           0x7u

/* ---- Capabilities, HELLO (§5) ---- */
#define XCOPY_PROTO_CAP_JOBS    (UINT64_C (1) << 0) /* ASYNC, JOB_STATUS, JOB_CANCEL */
#define XCOPY_PROTO_CAP_EXTENTS (UINT64_C (1) << 1) /* EXTENTS */
#define XCOPY_PROTO_CAP_CLONE   (UINT64_C (1) << 2) /* CLONE */
#define XCOPY_PROTO_CAP_ALL     UINT64_C (0x7)

/* ---- Payload building blocks (§4) ---- */

/* §4.2 A string: u16 byte length, then that many bytes of UTF-8 (no NUL,
 * no terminator).
 */
struct xcopy_wire_str {
  uint16_t len;
  /* unsigned char bytes[len]; */
} __attribute__ ((packed));
_Static_assert (sizeof (struct xcopy_wire_str) == 2, "§4.2");

/* §4.3 The result block: exact progress, as struct xcopy_result. */
struct xcopy_wire_result {
  uint64_t bytes_done;
  uint64_t ranges_done;
  uint64_t failed_index;      /* XCOPY_PROTO_NO_INDEX: none */
  uint64_t failed_done;
  uint32_t error;             /* 0 or positive errno */
  uint32_t flags;             /* XCOPY_PROTO_RESULT_* */
} __attribute__ ((packed));
_Static_assert (sizeof (struct xcopy_wire_result) == 40, "§4.3");

#define XCOPY_PROTO_RESULT_BACKWARD (1u << 0) /* = XCOPY_RESULT_BACKWARD */
#define XCOPY_PROTO_RESULT_VALID    0x1u

/* §4.4 */
struct xcopy_wire_range {
  uint64_t src, dst, len;
} __attribute__ ((packed));
_Static_assert (sizeof (struct xcopy_wire_range) == 24, "§4.4");

struct xcopy_wire_span {
  uint64_t offset, length;
} __attribute__ ((packed));
_Static_assert (sizeof (struct xcopy_wire_span) == 16, "§4.4");

struct xcopy_wire_extent {
  uint64_t offset, length;
  uint32_t type;              /* XCOPY_PROTO_EXTENT_* */
} __attribute__ ((packed));
_Static_assert (sizeof (struct xcopy_wire_extent) == 20, "§4.4");

#define XCOPY_PROTO_EXTENT_DATA 0u
#define XCOPY_PROTO_EXTENT_HOLE 1u

/* §5 HELLO request: this, then str client name. */
struct xcopy_wire_hello {
  uint64_t caps;
  uint16_t min_version, max_version;
} __attribute__ ((packed));
_Static_assert (sizeof (struct xcopy_wire_hello) == 12, "§5");

/* §5 HELLO reply: this, then str server name. */
struct xcopy_wire_hello_reply {
  uint64_t caps;
  uint32_t max_payload;
  uint32_t max_ranges;
  uint16_t version;
} __attribute__ ((packed));
_Static_assert (sizeof (struct xcopy_wire_hello_reply) == 18, "§5");

/* §6.4 STAT reply: this, counter[ncounters], export[header.count]. */
struct xcopy_wire_stat_reply {
  uint32_t ncounters;
} __attribute__ ((packed));
_Static_assert (sizeof (struct xcopy_wire_stat_reply) == 4, "§6.4");

/* §6.4 A counter: this, then str method name. */
struct xcopy_wire_counter {
  uint64_t bytes, calls;
} __attribute__ ((packed));
_Static_assert (sizeof (struct xcopy_wire_counter) == 16, "§6.4");

/* §6.4 An export: this, then str export name. */
struct xcopy_wire_export {
  uint64_t size;
  uint32_t block_size;        /* 0 (unknown) or a power of two */
  uint32_t flags;             /* XCOPY_PROTO_EXPORT_* */
} __attribute__ ((packed));
_Static_assert (sizeof (struct xcopy_wire_export) == 16, "§6.4");

#define XCOPY_PROTO_EXPORT_READONLY (1u << 0)
#define XCOPY_PROTO_EXPORT_VALID    0x1u

/* §8 The reply to an ASYNC request (RF_JOB). */
struct xcopy_wire_job_started {
  uint64_t job_id, bytes_total;
} __attribute__ ((packed));
_Static_assert (sizeof (struct xcopy_wire_job_started) == 16, "§8");

/* §6.12 A job, in JOB_STATUS and JOB_CANCEL replies. */
struct xcopy_wire_job {
  uint64_t job_id, bytes_total;
  uint16_t opcode;            /* what the job runs */
  uint16_t state;             /* XCOPY_PROTO_JOB_* */
  struct xcopy_wire_result result;
} __attribute__ ((packed));
_Static_assert (sizeof (struct xcopy_wire_job) == 60, "§6.12");

enum {
  XCOPY_PROTO_JOB_QUEUED    = 1,
  XCOPY_PROTO_JOB_RUNNING   = 2,
  XCOPY_PROTO_JOB_DONE      = 3,
  XCOPY_PROTO_JOB_FAILED    = 4,
  XCOPY_PROTO_JOB_CANCELLED = 5,
};

/* ---- Decoded messages: plain, host order ---- */

struct xcopy_proto_header {
  uint32_t magic;
  uint16_t version;
  uint16_t opcode;
  uint32_t flags;
  uint32_t status;
  uint64_t serial;
  uint32_t length;
  uint32_t count;
};

/* What went wrong, for an error reply (§7.2) or a log line. */
#define XCOPY_PROTO_ERRMSG_SIZE 256
struct xcopy_proto_err {
  int err;              /* positive errno */
  bool fatal;           /* §3.4: the stream is lost; reply, then close */
  uint64_t index;       /* offending range or item, or XCOPY_PROTO_NO_INDEX */
  char msg[XCOPY_PROTO_ERRMSG_SIZE]; /* names the field, e.g. "range 3: ..." */
};

typedef char xcopy_proto_name[XCOPY_PROTO_NAME_MAX + 1]; /* NUL-terminated */

struct xcopy_proto_span {
  uint64_t offset, length;
};

struct xcopy_proto_extent {
  uint64_t offset, length;
  uint32_t type;
};

/* Requests.  Arrays filled by a decoder are malloc'd and released by
 * xcopy_proto_request_free; arrays a client fills for encoding are its own.
 */
struct xcopy_proto_hello {            /* HELLO */
  uint64_t caps;
  uint16_t min_version, max_version;
  xcopy_proto_name name;              /* client software; may be empty */
};

struct xcopy_proto_copy {             /* COPY */
  xcopy_proto_name src, dst;          /* export names; may be the same */
  struct xcopy_range *ranges;
  size_t count;
};

struct xcopy_proto_fill {             /* FILL */
  xcopy_proto_name name;
  uint64_t offset, length;
  unsigned char *pattern;
  size_t patlen;
};

struct xcopy_proto_extent_req {       /* ZERO, EXTENTS */
  xcopy_proto_name name;
  uint64_t offset, length;
};

struct xcopy_proto_unmap {            /* UNMAP */
  xcopy_proto_name name;
  struct xcopy_proto_span *spans;
  size_t count;
};

struct xcopy_proto_clone {            /* CLONE */
  xcopy_proto_name src, dst;
};

struct xcopy_proto_request {
  uint16_t opcode;
  uint16_t version;     /* header.version; 0 when encoding: current */
  uint32_t flags;       /* XCOPY_PROTO_F_* */
  uint64_t serial;
  union {
    struct xcopy_proto_hello hello;
    struct xcopy_proto_copy copy;
    struct xcopy_proto_fill fill;
    struct xcopy_proto_extent_req zero, extents;
    struct xcopy_proto_unmap unmap;
    struct { xcopy_proto_name name; } flush, stat;
    struct xcopy_proto_clone clone;
    struct { uint64_t job_id; } job;  /* JOB_STATUS (0: all), JOB_CANCEL */
  } u;
};

/* Replies. */
struct xcopy_proto_hello_reply {
  uint64_t caps;
  uint32_t max_payload, max_ranges;
  uint16_t version;
  xcopy_proto_name name;              /* server software */
};

struct xcopy_proto_export {
  xcopy_proto_name name;
  uint64_t size;
  uint32_t block_size, flags;
};

struct xcopy_proto_counter {
  xcopy_proto_name name;              /* engine method, e.g. "reflink" */
  uint64_t bytes, calls;
};

struct xcopy_proto_job {
  uint64_t job_id, bytes_total;
  uint16_t opcode, state;
  struct xcopy_result result;         /* progress so far, or the outcome */
};

struct xcopy_proto_reply {
  uint16_t opcode;
  uint16_t version;     /* header.version; 0 when encoding: current */
  uint32_t flags;       /* XCOPY_PROTO_RF_* */
  uint32_t status;      /* 0 or positive errno: then u.error */
  uint64_t serial;
  union {
    struct xcopy_proto_hello_reply hello;
    struct xcopy_result result;         /* COPY FILL ZERO UNMAP CLONE */
    struct { uint64_t job_id, bytes_total; } started; /* with RF_JOB */
    struct { struct xcopy_proto_extent *v; size_t count; } extents;
    struct { xcopy_proto_name *v; size_t count; } exports; /* LIST_EXPORTS */
    struct {
      struct xcopy_proto_counter *counters;
      size_t ncounters;
      struct xcopy_proto_export *v;
      size_t count;
    } stat;
    struct { struct xcopy_proto_job *v; size_t count; } jobs;
    struct {
      struct xcopy_result result;       /* result.error == status */
      char message[XCOPY_PROTO_MESSAGE_MAX + 1];
    } error;
  } u;
};

/* ---- Headers (§3) ---- */

/* Read / write the 32 header bytes at buf. */
void xcopy_proto_get_header (const void *buf, struct xcopy_proto_header *h);
void xcopy_proto_put_header (void *buf, const struct xcopy_proto_header *h);

/* The checks of §3.3, in that order, made before the payload is read:
 * magic and length (fatal: e->fatal set), version, status, opcode, flags,
 * count against its limit (E2BIG) and against the length (EBADMSG).  The
 * caller checks the session (§5: HELLO first, the negotiated version).
 */
int xcopy_proto_check_request_header (const struct xcopy_proto_header *h,
                                      struct xcopy_proto_err *e);
int xcopy_proto_check_reply_header (const struct xcopy_proto_header *h,
                                    struct xcopy_proto_err *e);

/* ---- Requests ---- */

/* Decode the payload of a request whose header passed the check: h->length
 * bytes at payload.  On failure *req holds nothing to free.
 */
int xcopy_proto_decode_request (const struct xcopy_proto_header *h,
                                const void *payload, size_t len,
                                struct xcopy_proto_request *req,
                                struct xcopy_proto_err *e);
/* Header check and decode of one whole frame in [buf, buf+len). */
int xcopy_proto_decode_request_frame (const void *buf, size_t len,
                                      struct xcopy_proto_request *req,
                                      struct xcopy_proto_err *e);
/* Validate, then append the whole frame to out.  Nothing is appended on
 * failure.
 */
int xcopy_proto_encode_request (const struct xcopy_proto_request *req,
                                struct xcopy_wbuf *out,
                                struct xcopy_proto_err *e);
/* The checks decode and encode share: flags, limits, overflow, names. */
int xcopy_proto_validate_request (const struct xcopy_proto_request *req,
                                  struct xcopy_proto_err *e);
void xcopy_proto_request_free (struct xcopy_proto_request *req);

/* ---- Replies ---- */

int xcopy_proto_decode_reply (const struct xcopy_proto_header *h,
                              const void *payload, size_t len,
                              struct xcopy_proto_reply *rep,
                              struct xcopy_proto_err *e);
int xcopy_proto_decode_reply_frame (const void *buf, size_t len,
                                    struct xcopy_proto_reply *rep,
                                    struct xcopy_proto_err *e);
int xcopy_proto_encode_reply (const struct xcopy_proto_reply *rep,
                              struct xcopy_wbuf *out,
                              struct xcopy_proto_err *e);
int xcopy_proto_validate_reply (const struct xcopy_proto_reply *rep,
                                struct xcopy_proto_err *e);
void xcopy_proto_reply_free (struct xcopy_proto_reply *rep);

/* The error reply (§7.2) to a request with header h: echoes its serial,
 * opcode and version; status, failed index and message from e; RF_CLOSING
 * when e->fatal.
 */
void xcopy_proto_error_reply (const struct xcopy_proto_header *h,
                              const struct xcopy_proto_err *e,
                              struct xcopy_proto_reply *rep);

/* ---- Helpers for servers and clients ---- */

/* Opcode table lookups; NULL / 0 / false for unknown opcodes. */
const char *xcopy_proto_op_name (uint16_t opcode);      /* "COPY" */
uint32_t xcopy_proto_op_flags (uint16_t opcode);        /* allowed F_* */
uint64_t xcopy_proto_op_cap (uint16_t opcode);          /* needed CAP_* */
bool xcopy_proto_op_is_long (uint16_t opcode);          /* may be ASYNC */
const char *xcopy_proto_job_state_name (uint16_t state); /* "running" */

/* §5: the version a server speaking [XCOPY_PROTO_VERSION_MIN, _MAX] picks
 * for a client speaking [min, max]; -EPROTONOSUPPORT when none.
 */
int xcopy_proto_negotiate (uint16_t min, uint16_t max, uint16_t *version,
                           struct xcopy_proto_err *e);

/* §7.2 Fill *e and return -err.  index: XCOPY_PROTO_NO_INDEX when none. */
int xcopy_proto_fail (struct xcopy_proto_err *e, int err, uint64_t index,
                      const char *fmt, ...)
  __attribute__ ((format (printf, 4, 5)));

/* A size as xcopyctl takes it: "4G+1M", "512", "1T+4K+1". */
#define XCOPY_PROTO_SIZE_STR 40
const char *xcopy_proto_size_str (uint64_t v, char buf[XCOPY_PROTO_SIZE_STR]);

/* Checks a server makes once it knows the exports' sizes (§6.5-§6.10),
 * with the messages of §7.2 ("range 3: dst end 4G+1M beyond export size
 * 4G"): -ERANGE, e->index the first offending range.
 */
int xcopy_proto_check_ranges (const struct xcopy_range *r, size_t n,
                              uint64_t src_size, uint64_t dst_size,
                              struct xcopy_proto_err *e);
int xcopy_proto_check_spans (const struct xcopy_proto_span *s, size_t n,
                             uint64_t size, struct xcopy_proto_err *e);
int xcopy_proto_check_inside (const char *what, uint64_t offset,
                              uint64_t length, uint64_t size,
                              struct xcopy_proto_err *e);

/* Well-formed UTF-8 (RFC 3629: no overlongs, no surrogates) without NUL. */
bool xcopy_proto_utf8_valid (const void *p, size_t n);

#endif /* XCOPY_PROTO_H */
