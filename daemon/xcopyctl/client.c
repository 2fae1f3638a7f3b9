/* xcopyctl: the connection to a control socket — connect, HELLO
 * (PROTOCOL.md §5), and request/reply round trips through the codec.
 *
 * Blocking I/O on a plain Unix socket: one request at a time, as a
 * command-line client needs.  Reads and writes retry after EINTR, so a
 * signal that only sets a flag (Ctrl-C while waiting for a job) never
 * breaks a frame in half.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xcopyctl.h"

struct ctl_conn {
  int fd;
  char *path;
  uint64_t serial;
  bool closed;                          /* the server said RF_CLOSING */
  bool hello_done;
  struct xcopy_proto_hello_reply hello;
};

G_DEFINE_QUARK (xcopyctl-error-quark, ctl_error)
G_DEFINE_QUARK (xcopyctl-server-error-quark, ctl_server_error)

bool
ctl_reply_error (GError **error, const struct xcopy_proto_reply *rep,
                 const char *what)
{
  const char *msg = rep->u.error.message;
  int err = (int) rep->status;

  if (*msg)             /* §7.2: it names the field itself */
    g_set_error (error, CTL_SERVER_ERROR, err, "%s", msg);
  else
    g_set_error (error, CTL_SERVER_ERROR, err, "%s%s%s", what ? what : "",
                 what ? ": " : "", g_strerror (err));
  return false;
}

bool
ctl_set_error (GError **error, enum ctl_exit code, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  g_propagate_error (error, g_error_new_valist (CTL_ERROR, (int) code, fmt,
                                                ap));
  va_end (ap);
  return false;
}

#define proto_error(error, ...) \
  ctl_set_error ((error), CTL_EXIT_CONNECT, __VA_ARGS__)

static bool
send_all (CtlConn *c, const unsigned char *p, size_t len, GError **error)
{
  while (len > 0) {
    ssize_t r = send (c->fd, p, len, MSG_NOSIGNAL);

    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return proto_error (error, "sending to %s: %s", c->path,
                          g_strerror (errno));
    p += r;
    len -= (size_t) r;
  }
  return true;
}

/* Read exactly len bytes; what says what was expected, for the message. */
static bool
recv_all (CtlConn *c, void *buf, size_t len, const char *what,
          GError **error)
{
  unsigned char *p = buf;

  while (len > 0) {
    ssize_t r = recv (c->fd, p, len, 0);

    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return proto_error (error, "reading %s from %s: %s", what, c->path,
                          g_strerror (errno));
    if (r == 0)
      return proto_error (error, "%s closed the connection %s", c->path,
                          p == buf ? "without a reply" : "inside a reply");
    p += r;
    len -= (size_t) r;
  }
  return true;
}

static bool
encode (CtlConn *c, const struct xcopy_proto_request *req,
        struct xcopy_wbuf *w, GError **error)
{
  struct xcopy_proto_err e = { 0 };
  size_t plen;

  if (xcopy_proto_encode_request (req, w, &e))
    return ctl_set_error (error, CTL_EXIT_USAGE, "request: %s", e.msg);
  plen = w->len - XCOPY_PROTO_HEADER_SIZE;
  if (c->hello_done && plen > c->hello.max_payload)
    return ctl_set_error (error, CTL_EXIT_FAILED, "request: %zu bytes, over"
                          " the server's limit of %u (max_payload)", plen,
                          c->hello.max_payload);
  return true;
}

/* Read one reply frame and check that it answers req (§3.5, §7). */
static bool
read_reply (CtlConn *c, const struct xcopy_proto_request *req,
            struct xcopy_proto_reply *rep, GError **error)
{
  unsigned char hbuf[XCOPY_PROTO_HEADER_SIZE];
  g_autofree unsigned char *payload = NULL;
  struct xcopy_proto_header h;
  struct xcopy_proto_err e = { 0 };

  if (!recv_all (c, hbuf, sizeof hbuf, "a reply header", error))
    return false;
  xcopy_proto_get_header (hbuf, &h);
  if (xcopy_proto_check_reply_header (&h, &e))
    return proto_error (error, "bad reply from %s: %s", c->path, e.msg);
  payload = g_malloc (h.length ? h.length : 1);
  if (!recv_all (c, payload, h.length, "a reply payload", error))
    return false;
  if (xcopy_proto_decode_reply (&h, payload, h.length, rep, &e))
    return proto_error (error, "bad reply from %s: %s", c->path, e.msg);
  if (h.flags & XCOPY_PROTO_RF_CLOSING)
    c->closed = true;
  if (h.serial != req->serial || h.opcode != req->opcode) {
    xcopy_proto_reply_free (rep);
    return proto_error (error, "bad reply from %s: serial %ju opcode 0x%04x"
                        " answers no request (sent serial %ju opcode"
                        " 0x%04x)", c->path, (uintmax_t) h.serial, h.opcode,
                        (uintmax_t) req->serial, req->opcode);
  }
  return true;
}

bool
ctl_call (CtlConn *c, struct xcopy_proto_request *req,
          struct xcopy_proto_reply *rep, GError **error)
{
  struct xcopy_wbuf w;
  bool ok;

  memset (rep, 0, sizeof *rep);
  if (c->closed)
    return proto_error (error, "%s has closed the connection", c->path);
  req->serial = ++c->serial;
  req->version = req->opcode == XCOPY_OP_HELLO ? 0 : c->hello.version;
  xcopy_wbuf_init (&w, XCOPY_PROTO_HEADER_SIZE + XCOPY_PROTO_MAX_PAYLOAD);
  ok = encode (c, req, &w, error) && send_all (c, w.data, w.len, error) &&
    read_reply (c, req, rep, error);
  xcopy_wbuf_free (&w);
  return ok;
}

/* §5: ask for every capability this client knows; the reply says which
 * the server grants.
 */
static bool
hello (CtlConn *c, GError **error)
{
  struct xcopy_proto_request req = {
    .opcode = XCOPY_OP_HELLO,
    .u.hello = {
      .caps = XCOPY_PROTO_CAP_ALL,
      .min_version = XCOPY_PROTO_VERSION_MIN,
      .max_version = XCOPY_PROTO_VERSION_MAX,
      .name = "xcopyctl " XCOPYCTL_VERSION,
    },
  };
  g_auto (CtlReply) rep = { 0 };

  if (!ctl_call (c, &req, &rep, error))
    return false;
  if (rep.status)
    return proto_error (error, "%s refused HELLO: %s (%s)", c->path,
                        rep.u.error.message[0] ? rep.u.error.message
                        : g_strerror ((int) rep.status),
                        ctl_errno_name ((int) rep.status));
  if (rep.u.hello.version < XCOPY_PROTO_VERSION_MIN ||
      rep.u.hello.version > XCOPY_PROTO_VERSION_MAX)
    return proto_error (error, "%s chose protocol version %u; xcopyctl"
                        " speaks %u..%u", c->path, rep.u.hello.version,
                        XCOPY_PROTO_VERSION_MIN, XCOPY_PROTO_VERSION_MAX);
  c->hello = rep.u.hello;
  c->hello_done = true;
  return true;
}

static int
connect_unix (const char *path, GError **error)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  int fd;

  if (strlen (path) >= sizeof sun.sun_path) {
    ctl_set_error (error, CTL_EXIT_USAGE, "socket path '%s': longer than"
                   " %zu bytes", path, sizeof sun.sun_path - 1);
    return -1;
  }
  memcpy (sun.sun_path, path, strlen (path));
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    proto_error (error, "socket: %s", g_strerror (errno));
    return -1;
  }
  if (connect (fd, (struct sockaddr *) &sun, sizeof sun) == 0)
    return fd;
  proto_error (error, "cannot connect to %s: %s%s", path, g_strerror (errno),
               errno == ENOENT || errno == ECONNREFUSED
               ? " (is nbdkit xcopy running with control=PATH? see --socket"
                 " and $XCOPY_SOCKET)" : "");
  close (fd);
  return -1;
}

CtlConn *
ctl_connect (const char *path, GError **error)
{
  g_autoptr (CtlConn) c = g_new0 (CtlConn, 1);

  c->fd = connect_unix (path, error);
  c->path = g_strdup (path);
  if (c->fd < 0 || !hello (c, error))
    return NULL;
  return g_steal_pointer (&c);
}

void
ctl_conn_free (CtlConn *c)
{
  if (c == NULL)
    return;
  if (c->fd >= 0)
    close (c->fd);
  g_free (c->path);
  g_free (c);
}

const struct xcopy_proto_hello_reply *
ctl_conn_hello (const CtlConn *c)
{
  return &c->hello;
}

bool
ctl_conn_has (const CtlConn *c, uint64_t cap)
{
  return (c->hello.caps & cap) == cap;
}

bool
ctl_open (struct ctl *ctl, GError **error)
{
  const char *path = ctl->o.socket;

  if (ctl->conn)
    return true;
  if (path == NULL)
    path = g_getenv ("XCOPY_SOCKET");
  if (path == NULL || *path == '\0')
    path = XCOPYCTL_DEFAULT_SOCKET;
  ctl->conn = ctl_connect (path, error);
  return ctl->conn != NULL;
}

bool
ctl_need_cap (struct ctl *ctl, uint64_t cap, const char *what,
              GError **error)
{
  if (ctl_conn_has (ctl->conn, cap))
    return true;
  return ctl_set_error (error, CTL_EXIT_FAILED, "the server at %s (%s) does"
                        " not offer %s", ctl->conn->path,
                        ctl->conn->hello.name, what);
}
