/* xcopyctl: command-line client of the xcopyd control protocol.
 *
 *   main.c      options, the command table, dispatch
 *   args.c      arguments: sizes, ranges (and ranges files), patterns,
 *               export names, methods -> request fields
 *   client.c    the connection: connect, HELLO, one request/reply round
 *               trip through the codec of proto/
 *   cmds.c      the command handlers
 *   jobs.c      jobs: start, wait (polling, progress bar, Ctrl-C), list,
 *               cancel
 *   output.c    human and JSON output, outcomes and exit codes
 *   daemon.c    targets, sessions, stats: xcopyd's management socket
 *
 * Errors: GError with CTL_ERROR as domain and the exit code (enum
 * ctl_exit) as code.  A reply carrying an error is not a GError: it is an
 * outcome, printed with the server's message and the progress it reports.
 */
#ifndef XCOPYCTL_H
#define XCOPYCTL_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "xcopy/proto.h"

#define XCOPYCTL_VERSION "0.1.0"
#define XCOPYCTL_DEFAULT_SOCKET "/run/xcopyd/plugin.sock"
#define XCOPYCTL_DEFAULT_DAEMON_SOCKET "/run/xcopyd/xcopyd.sock"

/* Exit codes: docs/xcopyctl.pod, EXIT STATUS; --help lists them too. */
enum ctl_exit {
  CTL_EXIT_OK = 0,
  CTL_EXIT_FAILED = 1,       /* refused or failed, nothing done */
  CTL_EXIT_USAGE = 2,        /* bad command line or argument */
  CTL_EXIT_CONNECT = 3,      /* cannot connect; protocol or connection error */
  CTL_EXIT_PARTIAL = 4,      /* failed after part of it was done */
  CTL_EXIT_CANCELLED = 130,  /* the job was cancelled */
};

#define CTL_ERROR (ctl_error_quark ())
GQuark ctl_error_quark (void);
/* A server's refusal (an error reply) as a GError: code is its errno;
 * the exit code is CTL_EXIT_FAILED.
 */
#define CTL_SERVER_ERROR (ctl_server_error_quark ())
GQuark ctl_server_error_quark (void);
/* Set *error from an error reply and return false.  The message is the
 * server's (§7.2: it names the field), or when it sent none "what: " (what
 * may be NULL) and strerror.
 */
bool ctl_reply_error (GError **error, const struct xcopy_proto_reply *rep,
                      const char *what);

/* Set *error (CTL_ERROR, code) and return false. */
bool ctl_set_error (GError **error, enum ctl_exit code, const char *fmt, ...)
  G_GNUC_PRINTF (3, 4);

/* Every option of every command; main.c offers each command its own. */
struct ctl_opts {
  char *socket;
  char *daemon;               /* xcopyd's management socket */
  gboolean json, quiet, version;
  char *to;
  char **ranges_files;
  gboolean async, wait, sync, allocate, trim, fast, replace;
  char *method;
};

typedef struct ctl_conn CtlConn;
struct ctl_cmd;

/* One invocation. */
struct ctl {
  const struct ctl_cmd *cmd;
  const char *name;           /* the command's name, for messages */
  struct ctl_opts o;
  CtlConn *conn;              /* after ctl_open */
  gint64 start;               /* g_get_monotonic_time () at the request */
};

/* Which command options a command takes (struct ctl_cmd.opts). */
#define CTL_O_TO        (1u << 0)   /* --to */
#define CTL_O_RANGES    (1u << 1)   /* --ranges-file */
#define CTL_O_ASYNC     (1u << 2)   /* --async */
#define CTL_O_WAIT      (1u << 3)   /* --wait: run as a job, wait */
#define CTL_O_SYNC      (1u << 4)   /* --sync */
#define CTL_O_ALLOCATE  (1u << 5)   /* --allocate */
#define CTL_O_TRIM      (1u << 6)   /* --trim */
#define CTL_O_FAST      (1u << 7)   /* --fast */
#define CTL_O_REPLACE   (1u << 8)   /* --replace */
#define CTL_O_METHOD    (1u << 9)   /* --method */
#define CTL_O_WAIT_JOB  (1u << 10)  /* --wait: for an existing job */
#define CTL_O_LONG      (CTL_O_ASYNC | CTL_O_WAIT)

struct ctl_cmd {
  const char *name;
  const char *args;           /* e.g. "EXPORT SRC:DST:LEN..." */
  const char *summary;
  unsigned min_args, max_args;
  unsigned opts;              /* CTL_O_* bits */
  int (*run) (struct ctl *ctl, char **args, unsigned nargs);
};

/* ---- args.c ---- */

bool ctl_size_arg (const char *what, const char *s, uint64_t *v,
                   GError **error);
bool ctl_job_id_arg (const char *s, uint64_t *id, GError **error);
bool ctl_name_arg (const char *what, const char *s, xcopy_proto_name out,
                   GError **error);
/* Ranges from arguments, then from each --ranges-file, in order. */
GArray *ctl_ranges_args (char **args, unsigned n, char **files,
                         GError **error);
GArray *ctl_spans_args (char **args, unsigned n, GError **error);
/* Hex bytes, or @FILE for a file's bytes. */
GBytes *ctl_pattern_arg (const char *s, GError **error);
/* Request flags (XCOPY_PROTO_F_*) from the options, for opcode. */
bool ctl_request_flags (const struct ctl *ctl, uint16_t opcode,
                        uint32_t *flags, GError **error);

/* ---- client.c ---- */

CtlConn *ctl_connect (const char *path, GError **error);
void ctl_conn_free (CtlConn *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CtlConn, ctl_conn_free)
const struct xcopy_proto_hello_reply *ctl_conn_hello (const CtlConn *c);
bool ctl_conn_has (const CtlConn *c, uint64_t cap);

/* Send req (its serial and version are set here) and read its reply.
 * False, with error, when the request cannot be sent or the reply is
 * missing or malformed; true otherwise, also for an error reply (status
 * != 0).  Release *rep with xcopy_proto_reply_free (CtlReply does it).
 */
bool ctl_call (CtlConn *c, struct xcopy_proto_request *req,
               struct xcopy_proto_reply *rep, GError **error);

typedef struct xcopy_proto_reply CtlReply;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CtlReply, xcopy_proto_reply_free)

/* Connect ctl to --socket, $XCOPY_SOCKET or the default (once). */
bool ctl_open (struct ctl *ctl, GError **error);
/* Fail unless the server granted cap (name: "jobs", for the message). */
bool ctl_need_cap (struct ctl *ctl, uint64_t cap, const char *what,
                   GError **error);

/* ---- jobs.c ---- */

/* Run a long operation (COPY FILL ZERO UNMAP CLONE) as the options say:
 * synchronously, as a job (--async), or as a job waited for (--wait).
 * ntotal: ranges or spans in the request (1 for single-range ops);
 * bytes_total: what it moves when done (0: unknown).
 * Prints the outcome; returns the exit code.
 */
int ctl_run_long (struct ctl *ctl, struct xcopy_proto_request *req,
                  uint64_t ntotal, uint64_t bytes_total);
int ctl_cmd_jobs (struct ctl *ctl, char **args, unsigned nargs);
int ctl_cmd_cancel (struct ctl *ctl, char **args, unsigned nargs);

/* ---- output.c ---- */

/* How a long operation ended, for ctl_report. */
struct ctl_outcome {
  uint16_t opcode;
  struct xcopy_result result;
  uint64_t ntotal;            /* ranges or spans asked for */
  uint64_t bytes_total;       /* 0: unknown */
  uint64_t job_id;            /* 0: not a job */
  const char *message;        /* the server's, or NULL */
};

int ctl_exit_code (const struct xcopy_result *res);
/* Print a long operation's outcome (stdout on success, stderr for
 * failures; JSON on stdout with --json).  Returns the exit code.
 */
int ctl_report (struct ctl *ctl, const struct ctl_outcome *o);
/* --async: the job started. */
int ctl_report_started (struct ctl *ctl, uint64_t job_id,
                        uint64_t bytes_total);
/* A local, connection or protocol failure: print, return error->code. */
int ctl_fail (struct ctl *ctl, const GError *error);
/* An error reply to a request without progress (STAT, FLUSH, ...). */
int ctl_fail_reply (struct ctl *ctl, const struct xcopy_proto_reply *rep);

const char *ctl_errno_name (int err);
const char *ctl_op_lower (uint16_t opcode);     /* "copy" */

/* JSON: an object with "command" first; end prints it on stdout. */
JsonBuilder *ctl_json_begin (const struct ctl *ctl, const char *status);
void ctl_json_end (JsonBuilder *b);
void ctl_json_result (JsonBuilder *b, const struct xcopy_result *r);
void ctl_json_job (JsonBuilder *b, const struct xcopy_proto_job *j);
void ctl_json_uint (JsonBuilder *b, const char *key, uint64_t v);

/* Human sizes: "4G+1M" (exact, as xcopyctl reads them). */
#define CTL_SIZE_STR XCOPY_PROTO_SIZE_STR
const char *ctl_size (uint64_t v, char buf[CTL_SIZE_STR]);
/* Approximate, for progress: "512 B", "1.5 GiB". */
#define CTL_HUMAN_STR 24
const char *ctl_human (uint64_t v, char buf[CTL_HUMAN_STR]);

/* Progress bar on stderr (only when it is a terminal and not --quiet). */
struct ctl_progress {
  bool on;
  gint64 start;
  unsigned width;
};
void ctl_progress_init (struct ctl_progress *p, const struct ctl *ctl);
void ctl_progress_draw (struct ctl_progress *p, uint64_t done,
                        uint64_t total);
void ctl_progress_clear (struct ctl_progress *p);

/* ---- cmds.c ---- */

int ctl_cmd_copy (struct ctl *ctl, char **args, unsigned nargs);
int ctl_cmd_fill (struct ctl *ctl, char **args, unsigned nargs);
int ctl_cmd_zero (struct ctl *ctl, char **args, unsigned nargs);
int ctl_cmd_unmap (struct ctl *ctl, char **args, unsigned nargs);
int ctl_cmd_flush (struct ctl *ctl, char **args, unsigned nargs);
int ctl_cmd_extents (struct ctl *ctl, char **args, unsigned nargs);
int ctl_cmd_stat (struct ctl *ctl, char **args, unsigned nargs);
int ctl_cmd_exports (struct ctl *ctl, char **args, unsigned nargs);
int ctl_cmd_clone (struct ctl *ctl, char **args, unsigned nargs);

/* ---- daemon.c ---- */

int ctl_cmd_targets (struct ctl *ctl, char **args, unsigned nargs);
int ctl_cmd_sessions (struct ctl *ctl, char **args, unsigned nargs);
int ctl_cmd_stats (struct ctl *ctl, char **args, unsigned nargs);

#endif /* XCOPYCTL_H */
