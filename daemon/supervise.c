/* xcopyd: supervision of the plugin's nbdkit processes.
 *
 * A backend with dir= is an nbdkit xcopy of our own:
 *
 *   nbdkit --foreground --exit-with-parent -U RUNTIME/NAME.nbd \
 *          PLUGIN dir=DIR control=RUNTIME/NAME.ctl [readonly=true]
 *
 * It is up once both sockets answer (an NBD handshake and a control
 * HELLO).  When it dies the backend goes down: its LUNs fail with -ENOTCONN
 * (the SCSI layer answers with sense, nothing hangs), the iSCSI sessions
 * of targets that use it are dropped so initiators log in again, and it
 * is restarted after a backoff that doubles from 0.2 s to 5 s (back to
 * 0.2 s once it stayed up 10 s).  --exit-with-parent makes the kernel
 * stop it if xcopyd itself dies.
 *
 * A backend with nbd-socket= and control-socket= attaches to an nbdkit
 * someone else runs: it is probed until it answers, and when a
 * connection to it fails and a probe confirms it is gone, it goes down
 * and is probed again every 0.5 s.
 *
 * Everything here runs on the main loop; workers only report lost
 * connections (xd_backend_report_lost).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libnbd.h>

#include "xcopyd.h"

#define PROBE_MS        50      /* while starting */
#define ATTACH_PROBE_MS 500     /* attach mode, while down */
#define START_TIMEOUT_S 30      /* a child not up by then is killed */
#define BACKOFF_MIN_MS  200
#define BACKOFF_MAX_MS  5000
#define STABLE_S        10      /* up this long: backoff starts over */
/* Probes run on the main loop: a server that accepts but never answers
 * (stopped, wedged) must not stall it.
 */
#define PROBE_TIMEOUT_MS 2000

static void schedule_probe (struct xd_backend *b, unsigned ms);
static bool spawn (struct xd_backend *b, GError **error);

const char *
xd_backend_state_name (int state)
{
  static const char *const names[] = { "starting", "up", "down", "stopped" };

  return state >= 0 && state <= XD_BE_STOPPED ? names[state] : "?";
}

int
xd_backend_new (struct xd_daemon *d, const struct xd_backend_cfg *cfg,
                struct xd_backend **out, GError **error)
{
  struct xd_backend *b = g_new0 (struct xd_backend, 1);

  (void) error;
  b->d = d;
  b->cfg = cfg;
  if (cfg->dir) {
    b->nbd_socket = g_strdup_printf ("%s/%s.nbd", d->cfg->runtime_dir,
                                     cfg->name);
    b->control_socket = g_strdup_printf ("%s/%s.ctl", d->cfg->runtime_dir,
                                         cfg->name);
  }
  else {
    b->nbd_socket = g_strdup (cfg->nbd_socket);
    b->control_socket = g_strdup (cfg->control_socket);
  }
  b->state = XD_BE_STARTING;
  b->backoff_ms = BACKOFF_MIN_MS;
  b->ctl = xd_pool_new (b, cfg->control_connections, &xd_ctl_pool_ops,
                        b->control_socket);
  *out = b;
  return 0;
}

/* ---- Probing ---- */

/* A clean NBD handshake (option mode, then NBD_OPT_ABORT, not waited
 * for), so the server logs no broken connection; bounded by
 * PROBE_TIMEOUT_MS.
 */
static bool
probe_nbd (const char *path)
{
  struct nbd_handle *h = nbd_create ();
  gint64 end = g_get_monotonic_time () + (gint64) PROBE_TIMEOUT_MS * 1000;
  bool ok;

  if (h == NULL)
    return false;
  ok = nbd_set_opt_mode (h, true) == 0 && nbd_aio_connect_unix (h, path) == 0;
  while (ok && nbd_aio_is_connecting (h) == 1) {
    gint64 left_ms = (end - g_get_monotonic_time ()) / 1000;
    ok = left_ms > 0 && nbd_poll (h, (int) left_ms) != -1;
  }
  ok = ok && nbd_aio_is_negotiating (h) == 1;
  if (ok)
    nbd_aio_opt_abort (h);
  nbd_close (h);
  return ok;
}

static bool
probe (struct xd_backend *b)
{
  struct xd_ctl_conn *c;
  uint32_t max_ranges, max_payload;

  if (!g_file_test (b->nbd_socket, G_FILE_TEST_EXISTS) ||
      !g_file_test (b->control_socket, G_FILE_TEST_EXISTS))
    return false;
  if (xd_ctl_connect (b->control_socket, PROBE_TIMEOUT_MS, &c) < 0)
    return false;
  xd_ctl_limits (c, &max_ranges, &max_payload);
  b->max_ranges = max_ranges;
  b->max_payload = max_payload;
  xd_ctl_close (c);
  return probe_nbd (b->nbd_socket);
}

static void
mark_up (struct xd_backend *b)
{
  b->gen++;
  b->state = XD_BE_UP;
  b->since = g_get_monotonic_time ();
  if (b->ever_up)
    xd_notice ("backend %s: up again after restart %ju", b->cfg->name,
               (uintmax_t) b->restarts);
  else if (b->pid)
    xd_info ("backend %s: up (nbdkit pid %d, %s)", b->cfg->name,
             (int) b->pid, b->nbd_socket);
  else
    xd_info ("backend %s: attached to %s and %s", b->cfg->name,
             b->nbd_socket, b->control_socket);
  b->ever_up = true;
}

static void
mark_down (struct xd_backend *b, const char *why)
{
  bool was_up = b->state == XD_BE_UP;

  b->state = XD_BE_DOWN;
  if (was_up && g_get_monotonic_time () - b->since > STABLE_S * G_USEC_PER_SEC)
    b->backoff_ms = BACKOFF_MIN_MS;
  b->since = g_get_monotonic_time ();
  xd_warn ("backend %s: down: %s", b->cfg->name, why);
  if (was_up)
    xd_targets_backend_down (b->d, b);
}

static gboolean
probe_tick (void *opaque)
{
  struct xd_backend *b = opaque;
  gint64 age = g_get_monotonic_time () - b->since;

  if (b->d->stopping)
    goto done;
  if (probe (b)) {
    mark_up (b);
    goto done;
  }
  if (b->pid && b->state == XD_BE_STARTING &&
      age > START_TIMEOUT_S * G_USEC_PER_SEC) {
    xd_err ("backend %s: nbdkit (pid %d) did not open its sockets in %d s;"
            " killing it", b->cfg->name, (int) b->pid, START_TIMEOUT_S);
    kill (b->pid, SIGKILL);
    goto done;
  }
  return G_SOURCE_CONTINUE;
done:
  b->timer = 0;
  return G_SOURCE_REMOVE;
}

static void
schedule_probe (struct xd_backend *b, unsigned ms)
{
  if (b->timer)
    g_source_remove (b->timer);
  b->timer = g_timeout_add (ms, probe_tick, b);
}

/* ---- The child ---- */

static gboolean
restart_tick (void *opaque)
{
  struct xd_backend *b = opaque;
  g_autoptr (GError) error = NULL;

  b->timer = 0;
  if (b->d->stopping)
    return G_SOURCE_REMOVE;
  b->restarts++;
  b->backoff_ms = MIN (b->backoff_ms * 2, BACKOFF_MAX_MS);
  xd_notice ("backend %s: restarting nbdkit (restart %ju)", b->cfg->name,
             (uintmax_t) b->restarts);
  if (!spawn (b, &error)) {
    xd_err ("%s", error->message);
    b->timer = g_timeout_add (b->backoff_ms, restart_tick, b);
  }
  return G_SOURCE_REMOVE;
}

static void
child_exited (GPid pid, int status, void *opaque)
{
  struct xd_backend *b = opaque;
  g_autofree char *why = NULL;

  g_spawn_close_pid (pid);
  b->pid = 0;
  b->child_watch = 0;
  if (WIFSIGNALED (status))
    why = g_strdup_printf ("nbdkit (pid %d) was killed by signal %d (%s)",
                           (int) pid, WTERMSIG (status),
                           strsignal (WTERMSIG (status)));
  else
    why = g_strdup_printf ("nbdkit (pid %d) exited with status %d",
                           (int) pid, WEXITSTATUS (status));
  if (b->d->stopping || b->state == XD_BE_STOPPED) {
    xd_debug ("backend %s: %s", b->cfg->name, why);
    return;
  }
  if (b->timer)
    g_source_remove (b->timer);
  b->timer = 0;
  if (!b->ever_up && b->d->starting) {
    /* Its own messages are on our stderr: a bad dir=, plugin=... */
    xd_err ("backend %s: %s before it was up", b->cfg->name, why);
    b->state = XD_BE_DOWN;
    b->d->start_failed = true;
    return;
  }
  mark_down (b, why);
  xd_info ("backend %s: restarting in %u ms", b->cfg->name, b->backoff_ms);
  b->timer = g_timeout_add (b->backoff_ms, restart_tick, b);
}

static char **
child_argv (struct xd_backend *b)
{
  const struct xd_config *c = b->d->cfg;
  GPtrArray *a = g_ptr_array_new ();

  g_ptr_array_add (a, g_strdup (c->nbdkit));
  g_ptr_array_add (a, g_strdup ("--foreground"));
  g_ptr_array_add (a, g_strdup ("--exit-with-parent"));
  g_ptr_array_add (a, g_strdup ("-U"));
  g_ptr_array_add (a, g_strdup (b->nbd_socket));
  if (xd_log_enabled (XD_LOG_DEBUG))
    g_ptr_array_add (a, g_strdup ("--verbose"));
  g_ptr_array_add (a, g_strdup (c->plugin));
  g_ptr_array_add (a, g_strdup_printf ("dir=%s", b->cfg->dir));
  g_ptr_array_add (a, g_strdup_printf ("control=%s", b->control_socket));
  if (b->cfg->readonly)
    g_ptr_array_add (a, g_strdup ("readonly=true"));
  g_ptr_array_add (a, NULL);
  return (char **) g_ptr_array_free (a, FALSE);
}

static bool
spawn (struct xd_backend *b, GError **error)
{
  g_auto (GStrv) argv = child_argv (b);
  g_autofree char *cmd = g_strjoinv (" ", argv);
  GError *err = NULL;

  /* A socket left by a killed nbdkit would make -U fail. */
  unlink (b->nbd_socket);
  if (!g_spawn_async (NULL, argv, NULL,
                      G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
                      NULL, NULL, &b->pid, &err)) {
    g_set_error (error, XD_ERROR, XD_EXIT_FAILED, "backend %s: cannot start"
                 " %s: %s", b->cfg->name, argv[0], err->message);
    g_error_free (err);
    return false;
  }
  xd_debug ("backend %s: started pid %d: %s", b->cfg->name, (int) b->pid,
            cmd);
  b->state = XD_BE_STARTING;
  b->since = g_get_monotonic_time ();
  b->child_watch = g_child_watch_add (b->pid, child_exited, b);
  schedule_probe (b, PROBE_MS);
  return true;
}

bool
xd_backend_start (struct xd_backend *b, GError **error)
{
  b->since = g_get_monotonic_time ();
  if (b->cfg->dir)
    return spawn (b, error);
  b->state = XD_BE_STARTING;
  schedule_probe (b, PROBE_MS);
  return true;
}

/* ---- Lost connections ---- */

struct lost {
  struct xd_daemon *d;
  struct xd_backend *b;
  unsigned gen;
};

static gboolean
lost_check (void *opaque)
{
  struct lost *l = opaque;
  struct xd_backend *b = l->b;

  /* The backend may be gone (shutdown), or already handled. */
  if (l->d->stopping || !g_ptr_array_find (l->d->backends, b, NULL) ||
      b->state != XD_BE_UP || b->gen != l->gen || probe (b))
    return G_SOURCE_REMOVE;
  if (b->pid) {
    /* Our child, alive but not answering: kill it; child_exited
     * restarts it.
     */
    xd_err ("backend %s: nbdkit (pid %d) does not answer; killing it",
            b->cfg->name, (int) b->pid);
    kill (b->pid, SIGKILL);
    return G_SOURCE_REMOVE;
  }
  mark_down (b, "its sockets do not answer");
  schedule_probe (b, ATTACH_PROBE_MS);
  return G_SOURCE_REMOVE;
}

void
xd_backend_report_lost (struct xd_backend *b, unsigned gen)
{
  struct lost *l = g_new (struct lost, 1);

  *l = (struct lost) { b->d, b, gen };
  g_idle_add_full (G_PRIORITY_DEFAULT, lost_check, l, g_free);
}

/* ---- Shutdown ---- */

static gboolean
stop_timeout (void *opaque)
{
  *(bool *) opaque = true;
  return G_SOURCE_REMOVE;
}

/* Iterate the main context until the child watch has reaped the child
 * or ms have passed.
 */
static void
wait_child (struct xd_backend *b, unsigned ms)
{
  bool expired = false;
  guint t = g_timeout_add (ms, stop_timeout, &expired);

  while (b->pid && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (t);
}

void
xd_backend_free (struct xd_backend *b, unsigned timeout_ms)
{
  if (b == NULL)
    return;
  b->state = XD_BE_STOPPED;
  if (b->timer)
    g_source_remove (b->timer);
  b->timer = 0;
  if (b->pid) {
    kill (b->pid, SIGTERM);
    wait_child (b, timeout_ms);
  }
  if (b->pid) {
    xd_warn ("backend %s: nbdkit (pid %d) did not stop in %u ms; killing it",
             b->cfg->name, (int) b->pid, timeout_ms);
    kill (b->pid, SIGKILL);
    wait_child (b, 5000);
  }
  if (b->child_watch)
    g_source_remove (b->child_watch);
  xd_pool_free (b->ctl);
  if (b->cfg->dir) {
    unlink (b->nbd_socket);
    unlink (b->control_socket);
  }
  g_free (b->nbd_socket);
  g_free (b->control_socket);
  g_free (b);
}
