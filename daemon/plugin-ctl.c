/* xcopyd: a blocking client of the control protocol (proto/PROTOCOL.md).
 *
 * One session per connection, one request at a time (the server answers
 * in order anyway), HELLO first (§5).  Used on SCSI worker threads and
 * the management socket's threads, never on the main loop.  Frames are
 * built and checked by the shared codec, so the daemon can never send
 * what the plugin would refuse for its form.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xcopyd.h"

struct xd_ctl_conn {
  int fd;
  uint64_t serial;
  struct xcopy_proto_hello_reply hello;
  bool hello_done;
  bool closed;                  /* the server said RF_CLOSING */
  bool dead;                    /* a send, receive or reply failed */
};

static int
send_all (int fd, const unsigned char *p, size_t len)
{
  while (len > 0) {
    ssize_t r = send (fd, p, len, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -errno;
    p += r;
    len -= (size_t) r;
  }
  return 0;
}

static int
recv_all (int fd, void *buf, size_t len)
{
  unsigned char *p = buf;

  while (len > 0) {
    ssize_t r = recv (fd, p, len, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -errno;
    if (r == 0)
      return -ECONNRESET;
    p += r;
    len -= (size_t) r;
  }
  return 0;
}

static int
read_reply (struct xd_ctl_conn *c, const struct xcopy_proto_request *req,
            struct xcopy_proto_reply *rep)
{
  unsigned char hbuf[XCOPY_PROTO_HEADER_SIZE];
  g_autofree unsigned char *payload = NULL;
  struct xcopy_proto_header h;
  struct xcopy_proto_err e = { 0 };
  int r;

  if ((r = recv_all (c->fd, hbuf, sizeof hbuf)) < 0)
    return r;
  xcopy_proto_get_header (hbuf, &h);
  if (xcopy_proto_check_reply_header (&h, &e) < 0) {
    xd_warn ("control socket: bad reply header: %s", e.msg);
    return -EPROTO;
  }
  payload = g_malloc (h.length ? h.length : 1);
  if ((r = recv_all (c->fd, payload, h.length)) < 0)
    return r;
  if (xcopy_proto_decode_reply (&h, payload, h.length, rep, &e) < 0) {
    xd_warn ("control socket: bad %s reply: %s",
             xcopy_proto_op_name (h.opcode), e.msg);
    return -EPROTO;
  }
  if (h.flags & XCOPY_PROTO_RF_CLOSING)
    c->closed = true;
  if (h.serial != req->serial || h.opcode != req->opcode) {
    xcopy_proto_reply_free (rep);
    memset (rep, 0, sizeof *rep);
    return -EPROTO;
  }
  return 0;
}

int
xd_ctl_call (struct xd_ctl_conn *c, struct xcopy_proto_request *req,
             struct xcopy_proto_reply *rep)
{
  struct xcopy_proto_err e = { 0 };
  struct xcopy_wbuf w;
  int r;

  memset (rep, 0, sizeof *rep);
  if (c->closed)
    return -ECONNRESET;
  req->serial = ++c->serial;
  req->version = req->opcode == XCOPY_OP_HELLO ? 0 : c->hello.version;
  xcopy_wbuf_init (&w, XCOPY_PROTO_HEADER_SIZE +
                   (c->hello_done ? c->hello.max_payload
                    : XCOPY_PROTO_MIN_PAYLOAD));
  r = xcopy_proto_encode_request (req, &w, &e);
  if (r < 0)
    xd_warn ("control socket: cannot encode %s: %s",
             xcopy_proto_op_name (req->opcode), e.msg);
  else {
    /* A request that cannot be encoded never left: the session stays
     * good.  Anything after the first byte was sent leaves the stream
     * out of step.
     */
    if ((r = send_all (c->fd, w.data, w.len)) == 0)
      r = read_reply (c, req, rep);
    c->dead = r < 0;
  }
  xcopy_wbuf_free (&w);
  return r;
}

void
xd_ctl_limits (const struct xd_ctl_conn *c, uint32_t *max_ranges,
               uint32_t *max_payload)
{
  *max_ranges = c->hello.max_ranges;
  *max_payload = c->hello.max_payload;
}

/* §5: the daemon needs no optional capability for what it sends except
 * EXTENTS, but asks for all so JOB_STATUS and friends stay possible.
 */
static int
hello (struct xd_ctl_conn *c)
{
  struct xcopy_proto_request req = {
    .opcode = XCOPY_OP_HELLO,
    .u.hello = {
      .caps = XCOPY_PROTO_CAP_ALL,
      .min_version = XCOPY_PROTO_VERSION_MIN,
      .max_version = XCOPY_PROTO_VERSION_MAX,
      .name = "xcopyd " XCOPYD_VERSION,
    },
  };
  struct xcopy_proto_reply rep;
  int r = xd_ctl_call (c, &req, &rep);

  if (r < 0)
    return r;
  if (rep.status) {
    xd_warn ("control socket refused HELLO: %s", rep.u.error.message);
    r = -(int) rep.status;
  }
  else {
    c->hello = rep.u.hello;
    c->hello_done = true;
  }
  xcopy_proto_reply_free (&rep);
  return r;
}

/* A send or receive that waits longer than ms fails with -EAGAIN. */
static int
set_timeout (int fd, unsigned ms)
{
  struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

  if (setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == -1 ||
      setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == -1)
    return -errno;
  return 0;
}

int
xd_ctl_connect (const char *path, unsigned timeout_ms,
                struct xd_ctl_conn **out)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  struct xd_ctl_conn *c;
  int fd, r = 0;

  if (strlen (path) >= sizeof sun.sun_path)
    return -ENAMETOOLONG;
  memcpy (sun.sun_path, path, strlen (path));
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  if ((timeout_ms && (r = set_timeout (fd, timeout_ms)) < 0) ||
      connect (fd, (struct sockaddr *) &sun, sizeof sun) < 0) {
    r = r < 0 ? r : -errno;
    close (fd);
    return r;
  }
  c = g_new0 (struct xd_ctl_conn, 1);
  c->fd = fd;
  if ((r = hello (c)) < 0) {
    xd_ctl_close (c);
    return r;
  }
  *out = c;
  return 0;
}

void
xd_ctl_close (struct xd_ctl_conn *c)
{
  if (c == NULL)
    return;
  close (c->fd);
  g_free (c);
}

static int
pool_open (void *opaque, void **conn)
{
  /* No timeout: a synchronous ZERO or FILL of a whole LU may rightly
   * take minutes; a server that dies closes the socket.
   */
  return xd_ctl_connect (opaque, 0, (struct xd_ctl_conn **) conn);
}

static void
pool_close (void *conn)
{
  xd_ctl_close (conn);
}

const struct xd_pool_ops xd_ctl_pool_ops = {
  .what = "control connection",
  .open = pool_open,
  .close = pool_close,
};

int
xd_backend_call (struct xd_backend *b, struct xcopy_proto_request *req,
                 struct xcopy_proto_reply *rep)
{
  void *conn;
  unsigned slot;
  int r;
  struct xd_ctl_conn *c;
  bool dead;

  memset (rep, 0, sizeof *rep);
  if ((r = xd_pool_get (b->ctl, &slot, &conn)) < 0)
    return r;
  c = conn;
  r = xd_ctl_call (c, req, rep);
  dead = c->dead;
  xd_pool_put (b->ctl, slot, dead || c->closed);
  if (r < 0 && !dead)
    return r;                   /* not sent (logged): -EMSGSIZE, -E2BIG */
  if (r < 0) {
    xd_warn ("backend %s: %s on the control socket failed: %s",
             b->cfg->name, xcopy_proto_op_name (req->opcode),
             g_strerror (-r));
    return -ENOTCONN;
  }
  return 0;
}

/* ---- Long operations as jobs (§8) ---- */

/* Polling starts fast and backs off: a reflink of a whole LU is done in
 * microseconds, so a fixed sleep would be most of an EXTENDED COPY's time;
 * the 2 ms cap keeps the overshoot after a long in-kernel copy small
 * (each poll is one round trip of about 60 us on the control socket).
 */
#define JOB_POLL_FIRST_US 50
#define JOB_POLL_MAX_US   2000

/* One job's entry from JOB_STATUS (cancel: JOB_CANCEL, which waits
 * until the job has stopped).
 */
static int
job_query (struct xd_backend *b, uint64_t id, bool cancel,
           struct xcopy_proto_job *job)
{
  struct xcopy_proto_request req = {
    .opcode = cancel ? XCOPY_OP_JOB_CANCEL : XCOPY_OP_JOB_STATUS,
    .u.job.job_id = id,
  };
  struct xcopy_proto_reply rep;
  int r = xd_backend_call (b, &req, &rep);

  if (r < 0)
    return r;
  if (rep.status == 0 && rep.u.jobs.count == 1)
    *job = rep.u.jobs.v[0];
  else
    r = rep.status ? -(int) rep.status : -EPROTO;
  xcopy_proto_reply_free (&rep);
  return r;
}

/* Follow job id until it ends: progress into ctl, ctl->cancel turned
 * into JOB_CANCEL; its final result into *res.
 */
static int
job_wait (struct xd_backend *b, uint64_t id, struct xcopy_ctl *ctl,
          struct xcopy_result *res)
{
  struct xcopy_proto_job job = { 0 };
  uint64_t published = 0;
  unsigned long delay = JOB_POLL_FIRST_US;
  bool cancelled = false;
  int r;

  for (;;) {
    bool cancel = !cancelled && atomic_load (&ctl->cancel);
    if ((r = job_query (b, id, cancel, &job)) < 0)
      return r;
    cancelled |= cancel;
    if (job.result.bytes_done > published) {
      atomic_fetch_add (&ctl->bytes_done, job.result.bytes_done - published);
      published = job.result.bytes_done;
    }
    if (job.state != XCOPY_PROTO_JOB_QUEUED &&
        job.state != XCOPY_PROTO_JOB_RUNNING)
      break;
    g_usleep (delay);
    delay = MIN (delay * 2, JOB_POLL_MAX_US);
  }
  *res = job.result;
  return job.result.error ? -job.result.error : 0;
}

int
xd_backend_call_job (struct xd_backend *b, struct xcopy_proto_request *req,
                     struct xcopy_ctl *ctl, struct xcopy_result *res)
{
  struct xcopy_proto_reply rep;
  uint64_t id;
  int r;

  req->flags |= XCOPY_PROTO_F_ASYNC;
  r = xd_backend_call (b, req, &rep);
  req->flags &= ~XCOPY_PROTO_F_ASYNC;
  if (r < 0)
    return r;
  if (rep.status == EAGAIN) {   /* the server's job table is full */
    xcopy_proto_reply_free (&rep);
    return -EAGAIN;
  }
  if (rep.status) {
    *res = rep.u.error.result;
    res->error = (int) rep.status;
    r = -(int) rep.status;
    xcopy_proto_reply_free (&rep);
    return r;
  }
  id = rep.u.started.job_id;
  xcopy_proto_reply_free (&rep);
  return job_wait (b, id, ctl, res);
}
