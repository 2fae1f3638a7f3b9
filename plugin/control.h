/* xcopyd: the plugin's control socket, internals (PROTOCOL.md).
 *
 * control.c   the socket: creation, peer credentials, accept, and the
 *             per-connection frame loop (§3, §5, Appendix B)
 * ctl-ops.c   the opcode -> handler table and the short operations
 * ctl-long.c  the long operations (COPY, FILL, ZERO, UNMAP, CLONE): checks,
 *             range locks (§9), the engine, exact progress
 * jobs.c      the job table and its workers (§8), and the watcher that
 *             stops a synchronous operation whose client went away (§9.3)
 *
 * Conventions: handlers return 0 with the reply filled in, or -errno with
 * a struct ctl_fail saying why (the error reply of §7.2).  Nothing here
 * both logs and returns the same error.
 */
#ifndef XCOPY_PLUGIN_CONTROL_H
#define XCOPY_PLUGIN_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "plugin.h"
#include "xcopy/proto.h"

#define CTL_MAX_CONNS   64      /* connections served at once */
#define CTL_MAX_PAYLOAD XCOPY_PROTO_MAX_PAYLOAD   /* advertised in HELLO */
#define CTL_MAX_RANGES  XCOPY_PROTO_MAX_RANGES
#define CTL_CAPS        XCOPY_PROTO_CAP_ALL
#define CTL_SERVER_NAME "nbdkit-xcopy " XCOPY_VERSION

/* One client connection. */
struct ctl_conn {
  int fd;
  pid_t pid;                    /* SO_PEERCRED, for logs */
  uid_t uid;
  bool hello;                   /* §5 done */
  uint16_t version;             /* negotiated */
  uint64_t caps;                /* negotiated */
};

/* Why a request failed: errno, offending index and message for the error
 * reply (§7.2), and exact progress when the operation ran.
 */
struct ctl_fail {
  struct xcopy_proto_err e;
  struct xcopy_result res;
  bool has_res;
};

/* Fill f->e and return -err. */
int ctl_fail (struct ctl_fail *f, int err, uint64_t index,
              const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));
/* A result block as §4.3 allows it, for an outcome with errno err. */
void ctl_result_for_wire (struct xcopy_result *res, int err);
/* "bytes_done 4M, ranges_done 1, failed_index 1, failed_done 1M, error
 * ECANCELED": a result block for logs.
 */
const char *ctl_result_str (const struct xcopy_result *res, char *buf,
                            size_t len);

/* ---- ctl-ops.c ---- */
int ctl_dispatch (struct ctl_conn *c, struct xcopy_proto_request *req,
                  struct xcopy_proto_reply *rep, struct ctl_fail *f);

/* ---- ctl-long.c: long operations ---- */

/* A checked long operation, ready to run (now, or later as a job). */
struct ctl_op {
  uint16_t opcode;
  uint32_t flags;                   /* request flags, XCOPY_PROTO_F_* */
  uint64_t bytes_total;             /* §8 */
  struct xfile *src, *dst;          /* references (src: COPY, CLONE) */
  char what[640];                   /* "COPY 'a' -> 'b' (3 ranges, 1G)" */
  struct xcopy_range *ranges;       /* COPY */
  struct xcopy_proto_span *spans;   /* UNMAP; FILL, ZERO: one span */
  size_t count;                     /* ranges or spans */
  uint64_t *ends;                   /* running byte totals (count > 1) */
  unsigned char *pattern;           /* FILL */
  size_t patlen;
  char clone_dst[XCOPY_PROTO_NAME_MAX + 1];
  struct xcopy_ctl ctl;             /* progress and cancel */
  /* Run it: 0, or -errno with msg; exact progress in *res either way. */
  int (*run) (struct ctl_op *op, struct xcopy_result *res,
              char msg[XMSG_SIZE]);
  /* FILL, ZERO, UNMAP: one piece of a span, through the engine. */
  int (*piece) (struct ctl_op *op, uint64_t off, uint64_t len,
                struct xcopy_result *res);
};

/* Check a COPY, FILL, ZERO, UNMAP or CLONE request as §6 says and build
 * the operation (taking its arrays from req).  0, or -errno and f.
 */
int ctl_op_prepare (struct xcopy_proto_request *req, struct ctl_op **op,
                    struct ctl_fail *f);
void ctl_op_free (struct ctl_op *op);
/* Progress so far of a running operation (§6.12). */
void ctl_op_progress (const struct ctl_op *op, struct xcopy_result *res);

/* ---- jobs.c ---- */
int jobs_start (void);
void jobs_stop (void);                  /* cancel all, join the workers */
void jobs_free (void);                  /* once no connection is left */
/* Queue op as a job (owning it on success): 0 and *id, or -errno and f. */
int jobs_submit (struct ctl_op *op, uint64_t *id, struct ctl_fail *f);
int jobs_status (uint64_t id, struct xcopy_proto_reply *rep,
                 struct ctl_fail *f);
int jobs_cancel (uint64_t id, struct xcopy_proto_reply *rep,
                 struct ctl_fail *f);

/* §9.3: while a synchronous operation runs, its connection is watched;
 * when the client hangs up, ctl->cancel is set and hup recorded.
 */
struct ctl_watch {
  struct ctl_watch *next;
  int fd;
  uint64_t gen;
  struct xcopy_ctl *ctl;
  bool hup;
};
void watch_add (struct ctl_watch *w);
void watch_del (struct ctl_watch *w);

#endif /* XCOPY_PLUGIN_CONTROL_H */
