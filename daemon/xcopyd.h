/* xcopyd: the daemon — internal interfaces.
 *
 *   main.c            options, start-up, the main loop, shutdown
 *   log.c             levelled, journal-friendly logging to stderr
 *   config.c          GKeyFile -> struct xd_config: [daemon], [iscsi],
 *                     [backend:NAME]; every error names file, group, key
 *   config-target.c   [target:IQN] groups and their LUNs
 *   supervise.c       one nbdkit xcopy per dir= backend: start, wait for
 *                     its sockets, restart with backoff; attach mode
 *   pool.c            a fixed set of connections (libnbd handles,
 *                     control sessions) shared by SCSI worker threads
 *   plugin-ctl.c      a blocking client of the control protocol
 *   backend-plugin.c  struct scsi_backend_ops over libnbd + control socket
 *   targets.c         [target] -> scsi_target + LUs + iSCSI server
 *   mgmt.c            the management socket (JSON lines)
 *
 * Threads: the main loop owns supervision and the management socket's
 * listener; SCSI worker threads (the transport's and the SCSI library's)
 * call the backend ops, which block on a pooled connection and never
 * touch the main loop.  A worker that finds a backend's connection dead
 * tells the main loop with g_idle_add.
 *
 * Errors: GError for configuration and start-up (messages name the
 * offending group and key), -errno inside the data path.
 */
#ifndef XCOPYD_H
#define XCOPYD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <glib.h>

#include "iscsi/iscsi.h"
#include "scsi/scsi.h"
#include "xcopy/proto.h"

#define XCOPYD_VERSION "0.1.0"
#define XCOPYD_DEFAULT_CONFIG "/etc/xcopyd/xcopyd.conf"
#define XCOPYD_DEFAULT_MGMT_SOCKET "/run/xcopyd/xcopyd.sock"
#define XCOPYD_DEFAULT_RUNTIME_DIR "/run/xcopyd"

/* Exit codes: docs/xcopyd.pod, EXIT STATUS. */
enum {
  XD_EXIT_OK = 0,
  XD_EXIT_FAILED = 1,           /* start-up or run-time failure */
  XD_EXIT_CONFIG = 2,           /* bad command line or configuration */
};

#define XD_ERROR (xd_error_quark ())
GQuark xd_error_quark (void);

/* ---- log.c ---- */

/* syslog(3) priorities, as the journal reads them from "<N>". */
enum xd_level {
  XD_LOG_ERR = 3,
  XD_LOG_WARNING = 4,
  XD_LOG_NOTICE = 5,
  XD_LOG_INFO = 6,
  XD_LOG_DEBUG = 7,
};

/* Route GLib's own messages through xd_log; pick the journal format
 * when $JOURNAL_STREAM says stderr is the journal.
 */
void xd_log_init (void);
bool xd_log_parse_level (const char *s, enum xd_level *out);
void xd_log_set_level (enum xd_level level);
bool xd_log_enabled (enum xd_level level);
void xd_log (enum xd_level level, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

#define xd_err(...) xd_log (XD_LOG_ERR, __VA_ARGS__)
#define xd_warn(...) xd_log (XD_LOG_WARNING, __VA_ARGS__)
#define xd_notice(...) xd_log (XD_LOG_NOTICE, __VA_ARGS__)
#define xd_info(...) xd_log (XD_LOG_INFO, __VA_ARGS__)
#define xd_debug(...) xd_log (XD_LOG_DEBUG, __VA_ARGS__)

/* ---- config.c, config-target.c ---- */

struct xd_portal_cfg {
  char *addr;                   /* "127.0.0.1", "::1" (no brackets) */
  uint16_t port;                /* 0: any free port */
};

struct xd_backend_cfg {
  char *name;
  char *dir;                    /* supervised: nbdkit xcopy dir=DIR */
  char *nbd_socket;             /* attach: both set, dir NULL */
  char *control_socket;
  unsigned connections;         /* libnbd handles per LUN */
  unsigned control_connections; /* control sessions per backend */
  bool readonly;
};

struct xd_lun_cfg {
  unsigned lun;
  struct xd_backend_cfg *backend;       /* borrowed from the config */
  char *export;
  char *serial;                 /* NULL: derived from IQN and LUN */
  bool have_naa;
  uint8_t naa[16];
  uint32_t block_size;
  bool readonly;
};

struct xd_target_cfg {
  char *iqn;
  char *alias;
  uint16_t tpgt;
  char **acl;                   /* NULL-terminated; NULL: any initiator */
  char *chap_user, *chap_secret, *mutual_user, *mutual_secret;
  unsigned workers;
  GPtrArray *luns;              /* struct xd_lun_cfg *, in LUN order */
};

struct xd_config {
  char *path;
  /* [daemon] */
  char *mgmt_socket;
  char *mgmt_group;             /* NULL: owner and root only */
  char *runtime_dir;
  char *nbdkit;
  char *plugin;
  unsigned workers;
  bool have_log_level;
  enum xd_level log_level;
  unsigned shutdown_grace_ms;
  /* [iscsi] */
  GPtrArray *portals;           /* struct xd_portal_cfg * */
  struct iscsi_server_config iscsi;
  char *disc_user, *disc_secret, *disc_mutual_user, *disc_mutual_secret;
  /* [backend:NAME], [target:IQN], in file order */
  GPtrArray *backends;          /* struct xd_backend_cfg * */
  GPtrArray *targets;           /* struct xd_target_cfg * */
};

struct xd_config *xd_config_load (const char *path, GError **error);
void xd_config_free (struct xd_config *c);
typedef struct xd_config xd_config;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (xd_config, xd_config_free)

/* Shared by config.c and config-target.c. */
bool xd_cfg_fail (GError **error, const struct xd_config *c,
                  const char *group, const char *key, const char *fmt, ...)
  G_GNUC_PRINTF (5, 6);
bool xd_cfg_uint (GKeyFile *kf, const struct xd_config *c, const char *group,
                  const char *key, uint64_t min, uint64_t max, uint64_t *v,
                  GError **error);
bool xd_cfg_bool (GKeyFile *kf, const struct xd_config *c, const char *group,
                  const char *key, bool *v, GError **error);
char *xd_cfg_string (GKeyFile *kf, const char *group, const char *key);
bool xd_cfg_check_keys (GKeyFile *kf, const struct xd_config *c,
                        const char *group, const char *const *known,
                        bool (*extra) (const char *key), GError **error);
bool xd_cfg_load_target (GKeyFile *kf, struct xd_config *c,
                         const char *group, GError **error);
bool xd_cfg_check_chap (const struct xd_config *c, const char *group,
                        const char *prefix, const char *user,
                        const char *secret, const char *mutual_user,
                        const char *mutual_secret, GError **error);
struct xd_backend_cfg *xd_config_backend (const struct xd_config *c,
                                          const char *name);
void xd_target_cfg_free (struct xd_target_cfg *t);

/* ---- supervise.c ---- */

enum xd_backend_state {
  XD_BE_STARTING = 0,           /* spawned or probing; not serving yet */
  XD_BE_UP,
  XD_BE_DOWN,                   /* died or unreachable; restart pending */
  XD_BE_STOPPED,                /* shutting down */
};

struct xd_daemon;
struct xd_pool;

struct xd_backend {
  struct xd_daemon *d;
  const struct xd_backend_cfg *cfg;
  char *nbd_socket, *control_socket;    /* resolved paths */
  _Atomic int state;                    /* enum xd_backend_state */
  _Atomic unsigned gen;                 /* +1 each time it comes up */
  _Atomic uint64_t restarts;
  /* The control server's HELLO limits, learnt by each probe before the
   * backend is marked up: what one COPY or UNMAP request may carry.
   */
  _Atomic uint32_t max_ranges, max_payload;
  bool ever_up;
  /* Main loop only. */
  GPid pid;                             /* 0: no child */
  guint child_watch, timer;
  unsigned backoff_ms;
  gint64 since;                         /* when the current state began */
  struct xd_pool *ctl;                  /* control sessions */
};

int xd_backend_new (struct xd_daemon *d, const struct xd_backend_cfg *cfg,
                    struct xd_backend **out, GError **error);
/* Spawn (dir=) or probe (attach) now. */
bool xd_backend_start (struct xd_backend *b, GError **error);
/* From any thread: a connection to b failed as if the server were gone.
 * The main loop checks and, when it is, marks b down.
 */
void xd_backend_report_lost (struct xd_backend *b, unsigned gen);
/* Stop the child (TERM, then KILL after timeout_ms) and free. */
void xd_backend_free (struct xd_backend *b, unsigned timeout_ms);
const char *xd_backend_state_name (int state);
static inline bool
xd_backend_up (const struct xd_backend *b)
{
  return b->state == XD_BE_UP;
}

/* ---- pool.c ---- */

struct xd_pool_ops {
  const char *what;                     /* "NBD connection", for logs */
  int (*open) (void *opaque, void **conn);
  void (*close) (void *conn);
};

/* n connections to b, opened lazily, reopened when b's gen changes. */
struct xd_pool *xd_pool_new (struct xd_backend *b, unsigned n,
                             const struct xd_pool_ops *ops, void *opaque);
void xd_pool_free (struct xd_pool *p);
/* A connection for one request.  -ENOTCONN while b is down. */
int xd_pool_get (struct xd_pool *p, unsigned *slot, void **conn);
/* broken: the connection is unusable (closed now; b may be gone). */
void xd_pool_put (struct xd_pool *p, unsigned slot, bool broken);

/* ---- plugin-ctl.c ---- */

struct xd_ctl_conn;

/* timeout_ms: 0, or fail a send or receive that waits longer (-EAGAIN). */
int xd_ctl_connect (const char *path, unsigned timeout_ms,
                    struct xd_ctl_conn **out);
/* The server's limits from its HELLO reply. */
void xd_ctl_limits (const struct xd_ctl_conn *c, uint32_t *max_ranges,
                    uint32_t *max_payload);
void xd_ctl_close (struct xd_ctl_conn *c);
/* One round trip: 0 (rep filled, also for an error reply: rep->status),
 * or -errno when the connection failed (rep empty).
 */
int xd_ctl_call (struct xd_ctl_conn *c, struct xcopy_proto_request *req,
                 struct xcopy_proto_reply *rep);
extern const struct xd_pool_ops xd_ctl_pool_ops;    /* opaque: socket path */

/* The same through b's pool: -ENOTCONN when b is down or the
 * connection failed.
 */
int xd_backend_call (struct xd_backend *b, struct xcopy_proto_request *req,
                     struct xcopy_proto_reply *rep);

/* Run req (a long operation) as a job of the plugin (§8): progress is
 * published in ctl as it goes, ctl->cancel cancels it, *res is its
 * outcome.  -EAGAIN (nothing done) when the plugin takes no more jobs.
 */
int xd_backend_call_job (struct xd_backend *b,
                         struct xcopy_proto_request *req,
                         struct xcopy_ctl *ctl, struct xcopy_result *res);

/* ---- backend-plugin.c ---- */

struct xd_lu_info {
  struct xd_backend *backend;
  const char *export;
};

/* A SCSI backend for export of b.  Checks that the export is there. */
int xd_plugin_backend_open (struct xd_backend *b, const char *export,
                            unsigned connections, bool readonly,
                            struct scsi_backend **out, GError **error);
/* ---- backend-aio.c ---- */

/* The plugin backend's asynchronous READ/WRITE path: n NBD connections
 * to export, each with a thread that completes its requests.  Larger
 * I/O (and any while a connection is down: -EAGAIN) goes through the
 * synchronous pool on a worker.
 */
#define NBD_AIO_MAX (UINT64_C (4) << 20)

struct xd_aio;

struct xd_aio *xd_aio_new (struct xd_backend *b, const char *export,
                           unsigned n);
void xd_aio_free (struct xd_aio *a);
/* 0: started, done (opaque, 0 or -errno) follows on the connection's
 * thread; -EAGAIN: not started (use the synchronous path); -ENOTCONN:
 * the backend is down.
 */
int xd_aio_pread (struct xd_aio *a, void *buf, size_t len, uint64_t off,
                  void (*done) (void *opaque, int err), void *opaque);
int xd_aio_pwrite (struct xd_aio *a, const void *buf, size_t len,
                   uint64_t off, bool fua,
                   void (*done) (void *opaque, int err), void *opaque);

/* Whether be is a plugin backend, and which export of which backend. */
bool xd_plugin_backend_info (struct scsi_backend *be, struct xd_lu_info *out);

/* ---- targets.c ---- */

struct xd_target {
  const struct xd_target_cfg *cfg;
  struct scsi_target *scsi;
  GPtrArray *backends;                  /* struct xd_backend * it uses */
};

bool xd_targets_create (struct xd_daemon *d, GError **error);
bool xd_iscsi_start (struct xd_daemon *d, GError **error);
void xd_targets_free (struct xd_daemon *d);
/* A stable serial for LUN lun of target iqn: "XD" + 24 hex digits. */
void xd_default_serial (const char *iqn, unsigned lun,
                        char out[SCSI_SERIAL_MAX + 1]);
/* Drop the sessions of every target that uses b. */
void xd_targets_backend_down (struct xd_daemon *d, struct xd_backend *b);

/* ---- notify.c ---- */

/* Tell the service manager ($NOTIFY_SOCKET) state, e.g. "READY=1". */
void xd_notify (const char *state);

/* ---- mgmt.c ---- */

struct xd_mgmt;
bool xd_mgmt_start (struct xd_daemon *d, GError **error);
void xd_mgmt_stop (struct xd_daemon *d);

/* ---- main.c ---- */

struct xd_daemon {
  struct xd_config *cfg;
  GMainLoop *loop;
  GPtrArray *backends;                  /* struct xd_backend * */
  GPtrArray *targets;                   /* struct xd_target * */
  struct iscsi_server *iscsi;
  struct xd_mgmt *mgmt;
  bool starting;                        /* until every backend was up */
  bool start_failed;                    /* a child died while starting */
  bool stopping;
  char *port_file;                      /* --port-file */
  gint64 started;                       /* g_get_monotonic_time () */
};

struct xd_backend *xd_daemon_backend (struct xd_daemon *d,
                                      const struct xd_backend_cfg *cfg);

#endif /* XCOPYD_H */
