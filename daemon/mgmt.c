/* xcopyd: the management socket.
 *
 * A Unix stream socket (mode 0600, or 0660 in management-group=) that
 * speaks JSON, one object per line each way:
 *
 *   -> {"cmd":"targets"}          <- {"ok":true,"targets":[...]}
 *   -> {"cmd":"sessions"}         <- {"ok":true,"sessions":[...]}
 *   -> {"cmd":"stats"}            <- {"ok":true,"iscsi":{...},...}
 *   -> anything else              <- {"ok":false,"error":"..."}
 *
 * docs/xcopyd.pod MANAGEMENT SOCKET lists every key.  Peers are checked
 * with SO_PEERCRED as on the plugin's control socket: root, our own uid,
 * and members of management-group=.  Each client is served on a thread
 * of its own (GThreadedSocketService), because "stats" asks every
 * backend's control socket and must not stall the main loop.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>

#include "mgmt.h"

#define MGMT_MAX_CLIENTS 8
#define MGMT_MAX_LINE 4096
/* A client that neither sends nor reads for this long is dropped, so
 * idle or stuck clients cannot hold every serving thread.
 */
#define MGMT_TIMEOUT_S 60

struct xd_mgmt {
  GSocketService *service;
  char *path;
  bool have_gid;
  gid_t gid;
};

static bool
in_group (GSocket *sock, const struct xd_mgmt *m, gid_t peer_gid)
{
  gid_t groups[NGROUPS_MAX + 1];
  socklen_t len = sizeof groups;

  if (!m->have_gid)
    return false;
  if (peer_gid == m->gid)
    return true;
  if (getsockopt (g_socket_get_fd (sock), SOL_SOCKET, SO_PEERGROUPS, groups,
                  &len) == -1)
    return false;
  for (size_t i = 0; i < len / sizeof groups[0]; i++)
    if (groups[i] == m->gid)
      return true;
  return false;
}

static bool
peer_allowed (GSocket *sock, const struct xd_mgmt *m)
{
  g_autoptr (GCredentials) cred = g_socket_get_credentials (sock, NULL);
  uid_t uid;
  gid_t gid;

  if (cred == NULL)
    return false;
  uid = g_credentials_get_unix_user (cred, NULL);
  gid = ((struct ucred *) g_credentials_get_native
         (cred, G_CREDENTIALS_TYPE_LINUX_UCRED))->gid;
  if (uid == 0 || uid == geteuid () || in_group (sock, m, gid))
    return true;
  xd_warn ("management socket: refused pid %d uid %u",
           (int) g_credentials_get_unix_pid (cred, NULL), (unsigned) uid);
  return false;
}

static bool
send_node (GOutputStream *out, JsonNode *node)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;
  g_autofree char *line = NULL;

  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  line = g_strconcat (text, "\n", NULL);
  return g_output_stream_write_all (out, line, strlen (line), NULL, NULL,
                                    NULL);
}

/* The next request line, without its newline: at most MGMT_MAX_LINE
 * bytes are kept (*too_long beyond that: the rest is not read), so a
 * client sending no newline cannot make us buffer without bound.  NULL
 * at the end of the stream, on an error or a timeout.
 */
static char *
read_request (GBufferedInputStream *in, bool *too_long)
{
  g_autoptr (GString) s = g_string_new (NULL);
  int c;

  *too_long = false;
  while ((c = g_buffered_input_stream_read_byte (in, NULL, NULL)) >= 0 &&
         c != '\n') {
    if (s->len == MGMT_MAX_LINE) {
      *too_long = true;
      break;
    }
    g_string_append_c (s, (char) c);
  }
  if (c < 0 && s->len == 0)
    return NULL;
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static gboolean
serve (GThreadedSocketService *svc, GSocketConnection *conn,
       GObject *source, void *opaque)
{
  struct xd_daemon *d = opaque;
  GSocket *sock = g_socket_connection_get_socket (conn);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  g_autoptr (GInputStream) in = g_buffered_input_stream_new
    (g_io_stream_get_input_stream (G_IO_STREAM (conn)));

  (void) svc;
  (void) source;
  if (!peer_allowed (sock, d->mgmt)) {
    g_autoptr (JsonNode) n = xd_mgmt_error ("permission denied: not root,"
                                            " the daemon's user or its"
                                            " management group");
    send_node (out, n);
    return TRUE;
  }
  g_socket_set_timeout (sock, MGMT_TIMEOUT_S);
  for (;;) {
    bool too_long;
    g_autofree char *line = read_request (G_BUFFERED_INPUT_STREAM (in),
                                          &too_long);
    g_autoptr (JsonNode) reply = NULL;

    if (line == NULL)
      break;
    if (too_long)
      reply = xd_mgmt_error ("request line longer than %d bytes",
                             MGMT_MAX_LINE);
    else if (line[0] == '\0')
      continue;
    else
      reply = xd_mgmt_run (d, line);
    /* After an over-long line the stream is out of step: end it. */
    if (!send_node (out, reply) || too_long)
      break;
  }
  return TRUE;
}

/* A socket left by an xcopyd that died is replaced; one that answers
 * belongs to a running xcopyd, which we must not steal it from.
 */
static bool
clear_stale (const char *path, GError **error)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (path);
  g_autoptr (GSocketConnection) c = NULL;
  struct stat st;

  if (lstat (path, &st) < 0)
    return true;
  if (!S_ISSOCK (st.st_mode))
    return g_set_error (error, XD_ERROR, XD_EXIT_FAILED, "management socket"
                        " %s: exists and is not a socket", path), false;
  c = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (addr), NULL,
                               NULL);
  if (c)
    return g_set_error (error, XD_ERROR, XD_EXIT_FAILED, "management socket"
                        " %s: another xcopyd is listening there", path),
      false;
  unlink (path);
  return true;
}

static bool
set_access (struct xd_mgmt *m, const char *group, GError **error)
{
  const struct group *gr = NULL;
  guint64 n;

  if (group) {
    if (g_ascii_string_to_unsigned (group, 10, 0, UINT_MAX, &n, NULL))
      m->gid = (gid_t) n;
    else if ((gr = getgrnam (group)))
      m->gid = gr->gr_gid;
    else
      return g_set_error (error, XD_ERROR, XD_EXIT_CONFIG, "[daemon]"
                          " management-group: no group '%s'", group), false;
    m->have_gid = true;
    if (chown (m->path, (uid_t) -1, m->gid) < 0)
      return g_set_error (error, XD_ERROR, XD_EXIT_FAILED, "management"
                          " socket %s: chown: %s", m->path,
                          g_strerror (errno)), false;
  }
  if (chmod (m->path, group ? 0660 : 0600) < 0)
    return g_set_error (error, XD_ERROR, XD_EXIT_FAILED, "management socket"
                        " %s: chmod: %s", m->path, g_strerror (errno)), false;
  return true;
}

static bool
listen_on (struct xd_daemon *d, struct xd_mgmt *m, GError **error)
{
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (m->path);
  g_autofree char *dir = g_path_get_dirname (m->path);
  mode_t old;
  bool ok;

  if (g_mkdir_with_parents (dir, 0755) < 0)
    return g_set_error (error, XD_ERROR, XD_EXIT_FAILED, "management socket"
                        " directory %s: %s", dir, g_strerror (errno)), false;
  if (!clear_stale (m->path, error))
    return false;
  m->service = g_threaded_socket_service_new (MGMT_MAX_CLIENTS);
  /* Nobody may connect between bind and chmod. */
  old = umask (0177);
  ok = g_socket_listener_add_address (G_SOCKET_LISTENER (m->service), addr,
                                      G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL,
                                      error);
  umask (old);
  if (!ok) {
    g_prefix_error (error, "management socket %s: ", m->path);
    return false;
  }
  if (!set_access (m, d->cfg->mgmt_group, error))
    return false;
  g_signal_connect (m->service, "run", G_CALLBACK (serve), d);
  g_socket_service_start (m->service);
  return true;
}

bool
xd_mgmt_start (struct xd_daemon *d, GError **error)
{
  struct xd_mgmt *m = g_new0 (struct xd_mgmt, 1);

  m->path = g_strdup (d->cfg->mgmt_socket);
  d->mgmt = m;
  if (!listen_on (d, m, error))
    return false;
  xd_info ("management socket %s", m->path);
  return true;
}

void
xd_mgmt_stop (struct xd_daemon *d)
{
  struct xd_mgmt *m = d->mgmt;

  if (m == NULL)
    return;
  if (m->service) {
    g_socket_service_stop (m->service);
    g_socket_listener_close (G_SOCKET_LISTENER (m->service));
    g_object_unref (m->service);
    unlink (m->path);
  }
  g_free (m->path);
  g_free (m);
  d->mgmt = NULL;
}
