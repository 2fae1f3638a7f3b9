/* xcopyd: the configuration file (GKeyFile), docs/xcopyd.pod
 * CONFIGURATION.
 *
 * Everything is checked here, before anything starts, so --check-config
 * finds every mistake a start would: unknown groups and keys (a typo is
 * an error, not a silently ignored setting), values out of range, names
 * that cannot work, references to undefined backends.  Each message names
 * the file, the group and the key.
 */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <string.h>

#include "xcopyd.h"

G_DEFINE_QUARK (xcopyd-error-quark, xd_error)

bool
xd_cfg_fail (GError **error, const struct xd_config *c, const char *group,
             const char *key, const char *fmt, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (key)
    g_set_error (error, XD_ERROR, XD_EXIT_CONFIG, "%s: [%s] %s: %s", c->path,
                 group, key, msg);
  else
    g_set_error (error, XD_ERROR, XD_EXIT_CONFIG, "%s: [%s]: %s", c->path,
                 group, msg);
  return false;
}

/* The value, stripped; NULL when the key is absent. */
char *
xd_cfg_string (GKeyFile *kf, const char *group, const char *key)
{
  char *v = g_key_file_get_value (kf, group, key, NULL);

  return v ? g_strstrip (v) : NULL;
}

bool
xd_cfg_uint (GKeyFile *kf, const struct xd_config *c, const char *group,
             const char *key, uint64_t min, uint64_t max, uint64_t *v,
             GError **error)
{
  g_autofree char *s = xd_cfg_string (kf, group, key);
  guint64 n;

  if (s == NULL)
    return true;                /* keep the default */
  if (!g_ascii_string_to_unsigned (s, 10, min, max, &n, NULL))
    return xd_cfg_fail (error, c, group, key, "'%s' is not a whole number"
                        " from %ju to %ju", s, (uintmax_t) min,
                        (uintmax_t) max);
  *v = n;
  return true;
}

bool
xd_cfg_bool (GKeyFile *kf, const struct xd_config *c, const char *group,
             const char *key, bool *v, GError **error)
{
  g_autofree char *s = xd_cfg_string (kf, group, key);

  if (s == NULL)
    return true;
  if (strcmp (s, "true") == 0 || strcmp (s, "yes") == 0 ||
      strcmp (s, "1") == 0)
    *v = true;
  else if (strcmp (s, "false") == 0 || strcmp (s, "no") == 0 ||
           strcmp (s, "0") == 0)
    *v = false;
  else
    return xd_cfg_fail (error, c, group, key, "'%s' is not true or false", s);
  return true;
}

/* Refuse keys the group does not know: a misspelt key would otherwise
 * be a setting silently not made.
 */
bool
xd_cfg_check_keys (GKeyFile *kf, const struct xd_config *c,
                   const char *group, const char *const *known,
                   bool (*extra) (const char *key), GError **error)
{
  g_auto (GStrv) keys = g_key_file_get_keys (kf, group, NULL, NULL);

  for (size_t i = 0; keys && keys[i]; i++) {
    if (g_strv_contains (known, keys[i]) || (extra && extra (keys[i])))
      continue;
    return xd_cfg_fail (error, c, group, keys[i], "unknown key");
  }
  return true;
}

/* ---- [daemon] ---- */

static const char *const daemon_keys[] = {
  "management-socket", "management-group", "runtime-dir", "nbdkit",
  "plugin", "workers", "log-level", "shutdown-grace", NULL
};

static bool
load_daemon (GKeyFile *kf, struct xd_config *c, GError **error)
{
  const char *g = "daemon";
  g_autofree char *level = NULL;
  uint64_t workers = 4, grace = 2000;
  char *s;

  if (!xd_cfg_check_keys (kf, c, g, daemon_keys, NULL, error))
    return false;
  if ((s = xd_cfg_string (kf, g, "management-socket")))
    g_free (c->mgmt_socket), c->mgmt_socket = s;
  if ((s = xd_cfg_string (kf, g, "runtime-dir")))
    g_free (c->runtime_dir), c->runtime_dir = s;
  if ((s = xd_cfg_string (kf, g, "nbdkit")))
    g_free (c->nbdkit), c->nbdkit = s;
  if ((s = xd_cfg_string (kf, g, "plugin")))
    g_free (c->plugin), c->plugin = s;
  c->mgmt_group = xd_cfg_string (kf, g, "management-group");
  if (c->mgmt_group && !g_ascii_string_to_unsigned (c->mgmt_group, 10, 0,
                                                    UINT32_MAX - 1, NULL,
                                                    NULL) &&
      getgrnam (c->mgmt_group) == NULL)
    return xd_cfg_fail (error, c, g, "management-group", "no group '%s'",
                        c->mgmt_group);
  if (*c->mgmt_socket != '/')
    return xd_cfg_fail (error, c, g, "management-socket", "'%s' is not an"
                        " absolute path", c->mgmt_socket);
  if (*c->runtime_dir != '/')
    return xd_cfg_fail (error, c, g, "runtime-dir", "'%s' is not an"
                        " absolute path", c->runtime_dir);
  if (!*c->nbdkit || !*c->plugin)
    return xd_cfg_fail (error, c, g, *c->nbdkit ? "plugin" : "nbdkit",
                        "empty");
  if (!xd_cfg_uint (kf, c, g, "workers", 1, 256, &workers, error) ||
      !xd_cfg_uint (kf, c, g, "shutdown-grace", 0, 60000, &grace, error))
    return false;
  c->workers = (unsigned) workers;
  c->shutdown_grace_ms = (unsigned) grace;
  level = xd_cfg_string (kf, g, "log-level");
  if (level && !xd_log_parse_level (level, &c->log_level))
    return xd_cfg_fail (error, c, g, "log-level", "'%s' is not one of error,"
                        " warning, notice, info, debug", level);
  c->have_log_level = level != NULL;
  return true;
}

/* ---- [iscsi] ---- */

/* "127.0.0.1:3260", "[::1]:3260", "0.0.0.0" (port 3260), "[::]:0". */
static bool
parse_portal (const struct xd_config *c, const char *s,
              struct xd_portal_cfg *p, GError **error)
{
  const char *g = "iscsi", *k = "portal", *port = NULL;
  guint64 n = ISCSI_DEFAULT_PORT;

  if (*s == '[') {
    const char *end = strchr (s, ']');
    if (end == NULL || end == s + 1 || (end[1] && end[1] != ':'))
      return xd_cfg_fail (error, c, g, k, "'%s': expected [IPv6]:PORT", s);
    p->addr = g_strndup (s + 1, (size_t) (end - s - 1));
    port = end[1] ? end + 2 : NULL;
  }
  else {
    const char *colon = strrchr (s, ':');
    if (colon && strchr (s, ':') != colon)
      return xd_cfg_fail (error, c, g, k, "'%s': write IPv6 addresses in"
                          " brackets, [ADDR]:PORT", s);
    p->addr = colon ? g_strndup (s, (size_t) (colon - s)) : g_strdup (s);
    port = colon ? colon + 1 : NULL;
  }
  if (!*p->addr || !g_hostname_is_ip_address (p->addr))
    return xd_cfg_fail (error, c, g, k, "'%s': '%s' is not an IP address",
                        s, p->addr);
  if (port && !g_ascii_string_to_unsigned (port, 10, 0, 65535, &n, NULL))
    return xd_cfg_fail (error, c, g, k, "'%s': port '%s' is not 0..65535", s,
                        port);
  p->port = (uint16_t) n;
  return true;
}

static void
portal_free (void *p)
{
  struct xd_portal_cfg *pc = p;

  g_free (pc->addr);
  g_free (pc);
}

static bool
load_portals (GKeyFile *kf, struct xd_config *c, GError **error)
{
  g_auto (GStrv) list = g_key_file_get_string_list (kf, "iscsi", "portal",
                                                    NULL, NULL);
  const char *deflt[] = { "0.0.0.0:3260", NULL };
  char **v = list ? list : (char **) deflt;

  for (size_t i = 0; v[i]; i++) {
    struct xd_portal_cfg *p = g_new0 (struct xd_portal_cfg, 1);

    g_ptr_array_add (c->portals, p);
    if (!parse_portal (c, g_strstrip (v[i]), p, error))
      return false;
  }
  if (c->portals->len == 0)
    return xd_cfg_fail (error, c, "iscsi", "portal", "no portal given");
  return true;
}

static const char *const iscsi_keys[] = {
  "portal", "max-recv-data-segment-length", "max-burst-length",
  "first-burst-length", "max-commands", "initial-r2t", "immediate-data",
  "digests", "nop-interval", "nop-timeout", "discovery-chap-user", "discovery-chap-secret",
  "discovery-mutual-user", "discovery-mutual-secret", NULL
};

static bool
load_iscsi_limits (GKeyFile *kf, struct xd_config *c, GError **error)
{
  const char *g = "iscsi";
  /* RFC 7143 13.12-13.14: 512 .. 2^24-1 bytes. */
  uint64_t mrdsl = 262144, mbl = 1048576, fbl = 262144, window = 128;
  bool r2t = false, immediate = true, digests = true;
  uint64_t nop_interval = 15, nop_timeout = 15;

  if (!xd_cfg_uint (kf, c, g, "max-recv-data-segment-length", 512,
                    16777215, &mrdsl, error) ||
      !xd_cfg_uint (kf, c, g, "max-burst-length", 512, 16777215, &mbl,
                    error) ||
      !xd_cfg_uint (kf, c, g, "first-burst-length", 512, 16777215, &fbl,
                    error) ||
      !xd_cfg_uint (kf, c, g, "max-commands", 1, 4096, &window, error) ||
      !xd_cfg_bool (kf, c, g, "initial-r2t", &r2t, error) ||
      !xd_cfg_bool (kf, c, g, "immediate-data", &immediate, error) ||
      !xd_cfg_bool (kf, c, g, "digests", &digests, error) ||
      !xd_cfg_uint (kf, c, g, "nop-interval", 0, 3600, &nop_interval,
                    error) ||
      !xd_cfg_uint (kf, c, g, "nop-timeout", 1, 3600, &nop_timeout, error))
    return false;
  if (fbl > mbl)        /* RFC 7143 13.14 */
    return xd_cfg_fail (error, c, g, "first-burst-length", "%ju is larger"
                        " than max-burst-length %ju", (uintmax_t) fbl,
                        (uintmax_t) mbl);
  c->iscsi.max_recv_dsl = (uint32_t) mrdsl;
  c->iscsi.max_burst = (uint32_t) mbl;
  c->iscsi.first_burst = (uint32_t) fbl;
  c->iscsi.max_cmdsn_window = (uint32_t) window;
  c->iscsi.initial_r2t = r2t;
  c->iscsi.no_immediate_data = !immediate;
  c->iscsi.allow_digests = digests;
  c->iscsi.disable_digests = !digests;
  c->iscsi.nop_interval_s = (unsigned) nop_interval;
  c->iscsi.nop_timeout_s = (unsigned) nop_timeout;
  return true;
}

static bool
load_iscsi (GKeyFile *kf, struct xd_config *c, GError **error)
{
  const char *g = "iscsi";

  if (g_key_file_has_group (kf, g) &&
      !xd_cfg_check_keys (kf, c, g, iscsi_keys, NULL, error))
    return false;
  if (!load_portals (kf, c, error) || !load_iscsi_limits (kf, c, error))
    return false;
  c->disc_user = xd_cfg_string (kf, g, "discovery-chap-user");
  c->disc_secret = xd_cfg_string (kf, g, "discovery-chap-secret");
  c->disc_mutual_user = xd_cfg_string (kf, g, "discovery-mutual-user");
  c->disc_mutual_secret = xd_cfg_string (kf, g, "discovery-mutual-secret");
  c->iscsi.discovery_chap = (struct iscsi_chap) {
    c->disc_user, c->disc_secret, c->disc_mutual_user, c->disc_mutual_secret
  };
  return xd_cfg_check_chap (c, g, "discovery-", c->disc_user, c->disc_secret,
                            c->disc_mutual_user, c->disc_mutual_secret,
                            error);
}

/* ---- [backend:NAME] ---- */

static const char *const backend_keys[] = {
  "dir", "nbd-socket", "control-socket", "connections",
  "control-connections", "readonly", NULL
};

static bool
backend_name_ok (const char *name)
{
  if (!*name || strlen (name) > 64 || *name == '.' || *name == '-')
    return false;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && !strchr ("._-", *p))
      return false;
  return true;
}

static bool
backend_paths (GKeyFile *kf, struct xd_config *c, const char *g,
               struct xd_backend_cfg *b, GError **error)
{
  b->dir = xd_cfg_string (kf, g, "dir");
  b->nbd_socket = xd_cfg_string (kf, g, "nbd-socket");
  b->control_socket = xd_cfg_string (kf, g, "control-socket");
  if (b->dir && (b->nbd_socket || b->control_socket))
    return xd_cfg_fail (error, c, g, b->nbd_socket ? "nbd-socket"
                        : "control-socket", "give either dir= (xcopyd starts"
                        " nbdkit) or nbd-socket= and control-socket= (an"
                        " nbdkit already running), not both");
  if (!b->dir && !b->nbd_socket && !b->control_socket)
    return xd_cfg_fail (error, c, g, NULL, "needs dir=, or nbd-socket= and"
                        " control-socket=");
  if (!b->dir && (!b->nbd_socket || !b->control_socket))
    return xd_cfg_fail (error, c, g, b->nbd_socket ? "control-socket"
                        : "nbd-socket", "missing (attaching to a running"
                        " nbdkit needs both sockets)");
  if (b->dir && !g_file_test (b->dir, G_FILE_TEST_IS_DIR))
    return xd_cfg_fail (error, c, g, "dir", "'%s' is not a directory",
                        b->dir);
  return true;
}

static bool
load_backend (GKeyFile *kf, struct xd_config *c, const char *g,
              GError **error)
{
  struct xd_backend_cfg *b = g_new0 (struct xd_backend_cfg, 1);
  uint64_t conns = 4, ctl_conns = 4;

  b->name = g_strdup (g + strlen ("backend:"));
  g_ptr_array_add (c->backends, b);
  if (!backend_name_ok (b->name))
    return xd_cfg_fail (error, c, g, NULL, "backend name '%s': use 1 to 64"
                        " letters, digits, '.', '_' and '-'", b->name);
  for (unsigned i = 0; i + 1 < c->backends->len; i++)
    if (strcmp (((struct xd_backend_cfg *) c->backends->pdata[i])->name,
                b->name) == 0)
      return xd_cfg_fail (error, c, g, NULL, "defined twice");
  if (!xd_cfg_check_keys (kf, c, g, backend_keys, NULL, error) ||
      !backend_paths (kf, c, g, b, error) ||
      !xd_cfg_uint (kf, c, g, "connections", 1, 64, &conns, error) ||
      !xd_cfg_uint (kf, c, g, "control-connections", 1, 64, &ctl_conns,
                    error) ||
      !xd_cfg_bool (kf, c, g, "readonly", &b->readonly, error))
    return false;
  b->connections = (unsigned) conns;
  b->control_connections = (unsigned) ctl_conns;
  return true;
}

static void
backend_cfg_free (void *p)
{
  struct xd_backend_cfg *b = p;

  g_free (b->name);
  g_free (b->dir);
  g_free (b->nbd_socket);
  g_free (b->control_socket);
  g_free (b);
}

struct xd_backend_cfg *
xd_config_backend (const struct xd_config *c, const char *name)
{
  for (unsigned i = 0; i < c->backends->len; i++) {
    struct xd_backend_cfg *b = c->backends->pdata[i];
    if (strcmp (b->name, name) == 0)
      return b;
  }
  return NULL;
}

/* ---- The file ---- */

static struct xd_config *
config_new (const char *path)
{
  struct xd_config *c = g_new0 (struct xd_config, 1);

  c->path = g_strdup (path);
  c->mgmt_socket = g_strdup (XCOPYD_DEFAULT_MGMT_SOCKET);
  c->runtime_dir = g_strdup (XCOPYD_DEFAULT_RUNTIME_DIR);
  c->nbdkit = g_strdup ("nbdkit");
  c->plugin = g_strdup ("xcopy");
  c->portals = g_ptr_array_new_with_free_func (portal_free);
  c->backends = g_ptr_array_new_with_free_func (backend_cfg_free);
  c->targets = g_ptr_array_new_with_free_func ((GDestroyNotify)
                                               xd_target_cfg_free);
  return c;
}

/* Backends before targets, whatever the order in the file, so a LUN can
 * name a backend defined further down.
 */
static bool
load_groups (GKeyFile *kf, struct xd_config *c, GError **error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);

  for (size_t i = 0; groups[i]; i++) {
    const char *g = groups[i];
    if (strcmp (g, "daemon") != 0 && strcmp (g, "iscsi") != 0 &&
        !g_str_has_prefix (g, "backend:") && !g_str_has_prefix (g, "target:"))
      return xd_cfg_fail (error, c, g, NULL, "unknown group (expected"
                          " [daemon], [iscsi], [backend:NAME] or"
                          " [target:IQN])");
  }
  if (g_key_file_has_group (kf, "daemon") && !load_daemon (kf, c, error))
    return false;
  if (!load_iscsi (kf, c, error))
    return false;
  for (size_t i = 0; groups[i]; i++)
    if (g_str_has_prefix (groups[i], "backend:") &&
        !load_backend (kf, c, groups[i], error))
      return false;
  for (size_t i = 0; groups[i]; i++)
    if (g_str_has_prefix (groups[i], "target:") &&
        !xd_cfg_load_target (kf, c, groups[i], error))
      return false;
  return true;
}

struct xd_config *
xd_config_load (const char *path, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (xd_config) c = config_new (path);
  GError *err = NULL;

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &err)) {
    g_set_error (error, XD_ERROR, XD_EXIT_CONFIG, "%s: %s", path,
                 err->message);
    g_error_free (err);
    return NULL;
  }
  if (!load_groups (kf, c, error))
    return NULL;
  if (c->targets->len == 0)
    return g_set_error (error, XD_ERROR, XD_EXIT_CONFIG, "%s: no [target:IQN]"
                        " group: nothing to serve", path), NULL;
  return g_steal_pointer (&c);
}

void
xd_config_free (struct xd_config *c)
{
  if (c == NULL)
    return;
  g_ptr_array_unref (c->targets);       /* LUNs point into backends */
  g_ptr_array_unref (c->backends);
  g_ptr_array_unref (c->portals);
  g_free (c->path);
  g_free (c->mgmt_socket);
  g_free (c->mgmt_group);
  g_free (c->runtime_dir);
  g_free (c->nbdkit);
  g_free (c->plugin);
  g_free (c->disc_user);
  g_free (c->disc_secret);
  g_free (c->disc_mutual_user);
  g_free (c->disc_mutual_secret);
  g_free (c);
}
