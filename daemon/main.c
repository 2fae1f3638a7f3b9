/* xcopyd: the copy-offload daemon — options, start-up and shutdown.
 *
 *   xcopyd [--config FILE] [--check-config] [--log-level LEVEL]
 *          [--port-file FILE]
 *
 * Start-up, in order: read and check the whole configuration (exit 2 on
 * any mistake), start or attach every backend and wait until all are up,
 * make the SCSI targets and their LUs, open the iSCSI portals, open the
 * management socket.  Then the main loop runs until SIGTERM or SIGINT,
 * and shutdown undoes it in reverse: sessions are logged out (with a
 * grace period), the targets freed, the nbdkit children stopped.
 * docs/xcopyd.pod is the manual.
 */
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <glib-unix.h>

#include "xcopyd.h"

#define START_WAIT_S 60         /* every backend up within this */
#define STOP_WAIT_MS 5000       /* nbdkit gets this long after SIGTERM */

static struct xd_daemon daemon_state;

static struct {
  char *config;
  char *log_level;
  char *port_file;
  gboolean check, version, foreground;
} opts;

static const GOptionEntry entries[] = {
  { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opts.config,
    "Configuration file (default " XCOPYD_DEFAULT_CONFIG ")", "FILE" },
  { "check-config", 0, 0, G_OPTION_ARG_NONE, &opts.check,
    "Check the configuration, print OK and exit", NULL },
  { "log-level", 'l', 0, G_OPTION_ARG_STRING, &opts.log_level,
    "error, warning, notice, info (default) or debug", "LEVEL" },
  { "port-file", 0, 0, G_OPTION_ARG_FILENAME, &opts.port_file,
    "Write \"ADDR PORT\" of each iSCSI portal to FILE once listening",
    "FILE" },
  { "foreground", 'f', 0, G_OPTION_ARG_NONE, &opts.foreground,
    "Stay in the foreground (always so; for service managers)", NULL },
  { "version", 'V', 0, G_OPTION_ARG_NONE, &opts.version,
    "Print the version and exit", NULL },
  { NULL }
};

struct xd_backend *
xd_daemon_backend (struct xd_daemon *d, const struct xd_backend_cfg *cfg)
{
  for (unsigned i = 0; i < d->backends->len; i++) {
    struct xd_backend *b = d->backends->pdata[i];
    if (b->cfg == cfg)
      return b;
  }
  return NULL;
}

static gboolean
on_signal (void *opaque)
{
  struct xd_daemon *d = opaque;

  if (!d->stopping)
    xd_notice ("signal received; shutting down");
  d->stopping = true;
  if (d->loop)
    g_main_loop_quit (d->loop);
  return G_SOURCE_CONTINUE;
}

static bool
all_up (struct xd_daemon *d)
{
  for (unsigned i = 0; i < d->backends->len; i++)
    if (!xd_backend_up (d->backends->pdata[i]))
      return false;
  return true;
}

static gboolean
start_expired (void *opaque)
{
  *(bool *) opaque = true;
  return G_SOURCE_REMOVE;
}

/* Spawn or attach every backend, then run the main context until all
 * are up (children are reaped and probed by their own sources).
 */
static bool
start_backends (struct xd_daemon *d, GError **error)
{
  bool expired = false;
  guint timer;

  if (g_mkdir_with_parents (d->cfg->runtime_dir, 0755) < 0)
    return g_set_error (error, XD_ERROR, XD_EXIT_FAILED, "runtime-dir %s: %s",
                        d->cfg->runtime_dir, g_strerror (errno)), false;
  d->backends = g_ptr_array_new ();
  for (unsigned i = 0; i < d->cfg->backends->len; i++) {
    struct xd_backend *b;
    xd_backend_new (d, d->cfg->backends->pdata[i], &b, NULL);
    g_ptr_array_add (d->backends, b);
    if (!xd_backend_start (b, error))
      return false;
  }
  d->starting = true;
  timer = g_timeout_add_seconds (START_WAIT_S, start_expired, &expired);
  while (!all_up (d) && !expired && !d->start_failed && !d->stopping)
    g_main_context_iteration (NULL, TRUE);
  d->starting = false;
  if (!expired)
    g_source_remove (timer);
  if (d->start_failed || expired)
    return g_set_error (error, XD_ERROR, XD_EXIT_FAILED, "%s",
                        expired ? "backends not up in time" :
                        "a backend failed to start"), false;
  return true;
}

static bool
start (struct xd_daemon *d, GError **error)
{
  if (!start_backends (d, error) || d->stopping)
    return false;
  d->targets = g_ptr_array_new ();
  return xd_targets_create (d, error) && xd_iscsi_start (d, error) &&
    xd_mgmt_start (d, error);
}

static void
stop (struct xd_daemon *d)
{
  d->stopping = true;
  xd_notify ("STOPPING=1");
  xd_mgmt_stop (d);
  if (d->iscsi)
    iscsi_server_free (d->iscsi, d->cfg->shutdown_grace_ms);
  d->iscsi = NULL;
  xd_targets_free (d);
  for (unsigned i = 0; d->backends && i < d->backends->len; i++)
    xd_backend_free (d->backends->pdata[i], STOP_WAIT_MS);
  g_clear_pointer (&d->backends, g_ptr_array_unref);
}

static int
run (struct xd_daemon *d)
{
  g_autoptr (GError) error = NULL;
  int code = XD_EXIT_OK;

  d->started = g_get_monotonic_time ();
  d->loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_signal, d);
  g_unix_signal_add (SIGINT, on_signal, d);
  signal (SIGPIPE, SIG_IGN);
  if (start (d, &error)) {
    g_autofree char *status = g_strdup_printf
      ("%u target%s, %u backend%s", d->targets->len,
       d->targets->len == 1 ? "" : "s", d->backends->len,
       d->backends->len == 1 ? "" : "s");
    g_autofree char *state = g_strdup_printf ("READY=1\nSTATUS=serving %s",
                                              status);

    xd_notice ("ready: %s", status);
    xd_notify (state);
    g_main_loop_run (d->loop);
  }
  else if (error) {
    xd_err ("%s", error->message);
    code = error->domain == XD_ERROR ? error->code : XD_EXIT_FAILED;
  }
  stop (d);
  g_main_loop_unref (d->loop);
  xd_info ("stopped");
  return code;
}

static bool
parse_options (int *argc, char ***argv, GError **error)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);

  g_option_context_set_summary (ctx, "Serve image files over iSCSI with"
                                " copy offload through nbdkit xcopy.");
  g_option_context_set_description (ctx, "Exit status: 0 done, 1 failed,"
                                    " 2 bad command line or configuration."
                                    "\nSee xcopyd(1).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, argc, argv, error))
    return false;
  if (*argc > 1)
    return g_set_error (error, XD_ERROR, XD_EXIT_CONFIG, "unexpected argument"
                        " '%s' (see xcopyd --help)", (*argv)[1]), false;
  if (opts.log_level) {
    enum xd_level l;
    if (!xd_log_parse_level (opts.log_level, &l))
      return g_set_error (error, XD_ERROR, XD_EXIT_CONFIG, "--log-level: '%s'"
                          " is not one of error, warning, notice, info,"
                          " debug", opts.log_level), false;
    xd_log_set_level (l);
  }
  return true;
}

static void
print_ok (const struct xd_config *c)
{
  unsigned luns = 0;

  for (unsigned i = 0; i < c->targets->len; i++)
    luns += ((struct xd_target_cfg *) c->targets->pdata[i])->luns->len;
  printf ("%s: OK (%u target%s, %u LUN%s, %u backend%s, %u portal%s)\n",
          c->path, c->targets->len, c->targets->len == 1 ? "" : "s", luns,
          luns == 1 ? "" : "s", c->backends->len,
          c->backends->len == 1 ? "" : "s", c->portals->len,
          c->portals->len == 1 ? "" : "s");
}

int
main (int argc, char **argv)
{
  struct xd_daemon *d = &daemon_state;
  g_autoptr (GError) error = NULL;
  int code;

  setlocale (LC_CTYPE, "");
  xd_log_init ();
  if (!parse_options (&argc, &argv, &error)) {
    xd_err ("%s", error->message);
    return XD_EXIT_CONFIG;
  }
  if (opts.version) {
    printf ("xcopyd %s\n", XCOPYD_VERSION);
    return XD_EXIT_OK;
  }
  d->cfg = xd_config_load (opts.config ? opts.config
                           : XCOPYD_DEFAULT_CONFIG, &error);
  if (d->cfg == NULL) {
    xd_err ("%s", error->message);
    return XD_EXIT_CONFIG;
  }
  if (d->cfg->have_log_level && opts.log_level == NULL)
    xd_log_set_level (d->cfg->log_level);
  if (opts.check) {
    print_ok (d->cfg);
    code = XD_EXIT_OK;
  }
  else {
    d->port_file = opts.port_file;
    code = run (d);
  }
  xd_config_free (d->cfg);
  g_free (opts.config);
  g_free (opts.log_level);
  g_free (opts.port_file);
  return code;
}
