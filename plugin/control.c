/* xcopyd: nbdkit-xcopy-plugin, the control socket (proto/PROTOCOL.md).
 *
 * control=PATH creates a Unix socket in .get_ready, before nbdkit forks,
 * so that a bad path or a live server already there stops nbdkit with a
 * visible error.  Threads start in .after_fork: one accepts, and one per
 * client (at most CTL_MAX_CONNS) runs the frame loop of Appendix B.
 * Access (§2) is the socket's mode (0600, or 0660 and the group of
 * control-group=) plus the peer's SO_PEERCRED credentials checked on
 * accept: root, the server's own uid, or a member of that group.
 *
 * Our threads block every signal: nbdkit's main thread handles them.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "control.h"

#define REFUSE_WAIT_MS 200      /* for a refused peer's first frame */

static char *ctl_path;          /* control=, absolute */
static char *group_param;       /* control-group= as given */
static gid_t ctl_gid;
static int listen_fd = -1;
static pid_t owner_pid;         /* the process that removes the socket */

static pthread_t accept_tid;
static bool accept_started;
static int wake_pipe[2] = { -1, -1 };

/* Connection threads.  fd is closed under conns_lock, so that cleanup can
 * shut it down without racing with its reuse.
 */
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot {
  pthread_t tid;
  struct ctl_conn c;
  bool used, done;
} slots[CTL_MAX_CONNS];

static void conn_serve (struct ctl_conn *c);

/* ---- helpers shared by the control files ------------------------------ */

int
ctl_fail (struct ctl_fail *f, int err, uint64_t index, const char *fmt, ...)
{
  va_list ap;

  f->e.err = err;
  f->e.index = index;
  va_start (ap, fmt);
  vsnprintf (f->e.msg, sizeof f->e.msg, fmt, ap);
  va_end (ap);
  return -err;
}

/* §4.3 in short: an errno, known flags, indexes under 2^20, no failed
 * range on success, failed_index >= ranges_done.
 */
void
ctl_result_for_wire (struct xcopy_result *res, int err)
{
  res->error = err;
  res->flags &= XCOPY_PROTO_RESULT_VALID;
  if (err == 0)
    res->failed_index = SIZE_MAX;
  if (res->failed_index == SIZE_MAX)
    res->failed_done = res->flags = 0;
  else if (res->failed_index < res->ranges_done)
    res->failed_index = res->ranges_done;
  if (err < 0 || err > (int) XCOPY_PROTO_ERRNO_MAX ||
      res->ranges_done > XCOPY_PROTO_MAX_RANGES ||
      (res->failed_index != SIZE_MAX &&
       res->failed_index >= XCOPY_PROTO_MAX_RANGES)) {
    nbdkit_debug ("control: internal: result block dropped");
    *res = (struct xcopy_result) { .failed_index = SIZE_MAX, .error = err };
  }
}

const char *
ctl_result_str (const struct xcopy_result *res, char *buf, size_t len)
{
  char b[XCOPY_PROTO_SIZE_STR], fd[XCOPY_PROTO_SIZE_STR], fi[32];

  if (res->failed_index == SIZE_MAX)
    snprintf (fi, sizeof fi, "none");
  else
    snprintf (fi, sizeof fi, "%zu", res->failed_index);
  snprintf (buf, len, "bytes_done %s, ranges_done %zu, failed_index %s,"
            " failed_done %s, error %s", xcopy_proto_size_str (res->bytes_done, b),
            res->ranges_done, fi, xcopy_proto_size_str (res->failed_done, fd),
            res->error ? strerrorname_np (res->error) ?: "?" : "0");
  return buf;
}

/* ---- configuration ----------------------------------------------------- */

int
control_config_path (const char *value)
{
  if (ctl_path != NULL) {
    nbdkit_error ("control= given more than once");
    errno = EINVAL;
    return -1;
  }
  /* Absolute: nbdkit changes directory when it forks. */
  ctl_path = nbdkit_absolute_path (value);
  return ctl_path ? 0 : -1;
}

/* A group name or number. */
static int
resolve_group (const char *value, gid_t *gid)
{
  struct group gr, *res = NULL;
  char buf[4096], *end;
  unsigned long n;
  int r;

  errno = 0;
  n = strtoul (value, &end, 10);
  if (value[0] != '\0' && *end == '\0' && errno == 0 && n < (gid_t) -1) {
    *gid = n;
    return 0;
  }
  r = getgrnam_r (value, &gr, buf, sizeof buf, &res);
  if (res == NULL) {
    nbdkit_error ("control-group=%s: %s", value,
                  r ? strerror (r) : "no such group");
    errno = r ? r : ENOENT;
    return -1;
  }
  *gid = gr.gr_gid;
  return 0;
}

int
control_config_group (const char *value)
{
  if (group_param != NULL) {
    nbdkit_error ("control-group= given more than once");
    errno = EINVAL;
    return -1;
  }
  if (resolve_group (value, &ctl_gid) == -1)
    return -1;
  group_param = strdup (value);
  if (group_param == NULL) {
    nbdkit_error ("strdup: %m");
    return -1;
  }
  return 0;
}

int
control_config_complete (void)
{
  struct sockaddr_un sun;

  if (group_param != NULL && ctl_path == NULL) {
    nbdkit_error ("control-group= needs control=SOCKET");
    errno = EINVAL;
    return -1;
  }
  if (ctl_path != NULL && strlen (ctl_path) >= sizeof sun.sun_path) {
    nbdkit_error ("control=%s: path longer than %zu bytes", ctl_path,
                  sizeof sun.sun_path - 1);
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

/* ---- the socket -------------------------------------------------------- */

static void
make_addr (struct sockaddr_un *sun)
{
  memset (sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  memcpy (sun->sun_path, ctl_path, strlen (ctl_path) + 1);
}

/* Something at ctl_path already: a live server (refuse), a dead socket
 * left by a crash (remove it), or not a socket (refuse).
 */
static int
check_stale (void)
{
  struct sockaddr_un sun;
  struct stat st;
  int fd, r;

  if (lstat (ctl_path, &st) == -1 && errno == ENOENT)
    return 0;
  if (lstat (ctl_path, &st) == -1) {
    nbdkit_error ("control=%s: %m", ctl_path);
    return -1;
  }
  if (!S_ISSOCK (st.st_mode)) {
    nbdkit_error ("control=%s: exists and is not a socket", ctl_path);
    errno = EEXIST;
    return -1;
  }
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1) {
    nbdkit_error ("socket: %m");
    return -1;
  }
  make_addr (&sun);
  r = connect (fd, (struct sockaddr *) &sun, sizeof sun);
  if (r == -1 && errno == ECONNREFUSED) {
    nbdkit_debug ("control=%s: removing a dead socket", ctl_path);
    r = unlink (ctl_path);
  }
  else if (r == 0) {
    nbdkit_error ("control=%s: another server is listening there", ctl_path);
    errno = EADDRINUSE;
    r = -1;
  }
  if (r == -1 && errno != EADDRINUSE)
    nbdkit_error ("control=%s: %m", ctl_path);
  close (fd);
  return r;
}

/* Mode 0600, or 0660 and the group.  The socket is created under umask
 * 0177, so it is never more open than that.
 */
static int
bind_socket (int fd)
{
  struct sockaddr_un sun;
  mode_t old;
  int r;

  make_addr (&sun);
  old = umask (0177);
  r = bind (fd, (struct sockaddr *) &sun, sizeof sun);
  umask (old);
  if (r == -1) {
    nbdkit_error ("control=%s: bind: %m", ctl_path);
    return -1;
  }
  if (group_param != NULL &&
      (chown (ctl_path, -1, ctl_gid) == -1 || chmod (ctl_path, 0660) == -1)) {
    nbdkit_error ("control=%s: control-group=%s: %m", ctl_path, group_param);
    unlink (ctl_path);
    return -1;
  }
  return 0;
}

int
control_get_ready (void)
{
  int fd;

  if (ctl_path == NULL)
    return 0;
  if (check_stale () == -1)
    return -1;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1) {
    nbdkit_error ("socket: %m");
    return -1;
  }
  if (bind_socket (fd) == -1) {
    close (fd);
    return -1;
  }
  owner_pid = getpid ();
  if (listen (fd, CTL_MAX_CONNS) == -1) {
    nbdkit_error ("control=%s: listen: %m", ctl_path);
    close (fd);
    unlink (ctl_path);
    return -1;
  }
  listen_fd = fd;
  nbdkit_debug ("control: listening on %s", ctl_path);
  return 0;
}

/* ---- peers ------------------------------------------------------------- */

static bool
in_group (int fd, const struct ucred *cred)
{
  gid_t groups[NGROUPS_MAX + 1];
  socklen_t len = sizeof groups;
  size_t i;

  if (group_param == NULL)
    return false;
  if (cred->gid == ctl_gid)
    return true;
  if (getsockopt (fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1)
    return false;
  for (i = 0; i < len / sizeof groups[0]; i++) {
    if (groups[i] == ctl_gid)
      return true;
  }
  return false;
}

/* §2: root, the uid that owns the socket (ours), or the group. */
static bool
peer_allowed (int fd, const struct ucred *cred)
{
  return cred->uid == 0 || cred->uid == geteuid () || in_group (fd, cred);
}

static int
write_full (int fd, const void *buf, size_t n)
{
  const char *p = buf;
  ssize_t r;

  while (n > 0) {
    r = send (fd, p, n, MSG_NOSIGNAL);
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1)
      return -errno;
    p += r;
    n -= r;
  }
  return 0;
}

/* Encode and send one reply: 0, or -errno (the connection is lost). */
static int
send_reply (int fd, const struct xcopy_proto_reply *rep)
{
  struct xcopy_proto_err e;
  struct xcopy_wbuf w;
  int r;

  xcopy_wbuf_init (&w, XCOPY_PROTO_HEADER_SIZE + XCOPY_PROTO_MAX_PAYLOAD);
  r = xcopy_proto_encode_reply (rep, &w, &e);
  if (r < 0)
    nbdkit_error ("control: internal: cannot encode a %s reply: %s",
                  xcopy_proto_op_name (rep->opcode) ?: "?", e.msg);
  else
    r = write_full (fd, w.data, w.len);
  xcopy_wbuf_free (&w);
  return r;
}

/* §2: a refused peer gets an error reply to its first frame, if it sends
 * one soon, with RF_CLOSING; then the connection is closed.
 */
static void
refuse (int fd, int err, const char *msg)
{
  unsigned char hdr[XCOPY_PROTO_HEADER_SIZE];
  struct pollfd p = { .fd = fd, .events = POLLIN };
  struct xcopy_proto_header h;
  struct xcopy_proto_reply rep;
  struct xcopy_proto_err e = { .err = err, .fatal = true,
                               .index = XCOPY_PROTO_NO_INDEX };
  size_t got = 0;
  ssize_t r;

  snprintf (e.msg, sizeof e.msg, "%s", msg);
  while (got < sizeof hdr && poll (&p, 1, REFUSE_WAIT_MS) == 1) {
    r = recv (fd, hdr + got, sizeof hdr - got, MSG_DONTWAIT);
    if (r <= 0)
      break;
    got += r;
  }
  if (got == sizeof hdr) {
    xcopy_proto_get_header (hdr, &h);
    xcopy_proto_error_reply (&h, &e, &rep);
    send_reply (fd, &rep);
  }
  close (fd);
}

/* ---- connection threads ------------------------------------------------ */

static void *
conn_main (void *arg)
{
  struct slot *s = arg;

  nbdkit_debug ("control: connection from pid %d uid %u", (int) s->c.pid,
                (unsigned) s->c.uid);
  conn_serve (&s->c);
  pthread_mutex_lock (&conns_lock);
  close (s->c.fd);
  s->c.fd = -1;
  s->done = true;
  pthread_mutex_unlock (&conns_lock);
  nbdkit_debug ("control: pid %d disconnected", (int) s->c.pid);
  return NULL;
}

/* Join finished connection threads; a free slot, or NULL.  conns_lock. */
static struct slot *
free_slot (void)
{
  struct slot *s = NULL;
  size_t i;

  for (i = 0; i < CTL_MAX_CONNS; i++) {
    if (slots[i].used && slots[i].done) {
      pthread_join (slots[i].tid, NULL);
      slots[i].used = false;
    }
    if (!slots[i].used && s == NULL)
      s = &slots[i];
  }
  return s;
}

/* Serve fd in a thread of its own: 0, or -errno (too many, no thread). */
static int
start_conn (int fd, const struct ucred *cred)
{
  struct slot *s;
  int r = -EBUSY;

  pthread_mutex_lock (&conns_lock);
  s = free_slot ();
  if (s != NULL) {
    *s = (struct slot) { .used = true };
    s->c = (struct ctl_conn) { .fd = fd, .pid = cred->pid, .uid = cred->uid };
    r = -pthread_create (&s->tid, NULL, conn_main, s);
    if (r < 0)
      s->used = false;
  }
  pthread_mutex_unlock (&conns_lock);
  return r;
}

static void
accept_one (void)
{
  struct ucred cred = { .pid = -1, .uid = -1, .gid = -1 };
  socklen_t len = sizeof cred;
  char msg[XMSG_SIZE];
  int fd, r;

  fd = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (fd == -1) {
    if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
      nbdkit_error ("control: accept: %m");
      usleep (100000);          /* do not spin while out of descriptors */
    }
    return;
  }
  if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
      !peer_allowed (fd, &cred)) {
    nbdkit_error ("control: refused pid %d uid %u gid %u: not root, uid %u"
                  "%s%s", (int) cred.pid, (unsigned) cred.uid,
                  (unsigned) cred.gid, (unsigned) geteuid (),
                  group_param ? " or group " : "", group_param ?: "");
    snprintf (msg, sizeof msg, "peer: uid %u may not use this control socket",
              (unsigned) cred.uid);
    refuse (fd, EACCES, msg);
    return;
  }
  r = start_conn (fd, &cred);
  if (r < 0) {
    nbdkit_error ("control: refused pid %d: %s", (int) cred.pid,
                  r == -EBUSY ? "too many connections" : strerror (-r));
    snprintf (msg, sizeof msg, "server: too many control connections"
              " (limit %d)", CTL_MAX_CONNS);
    refuse (fd, -r, msg);
  }
}

static void *
accept_main (void *arg UNUSED)
{
  struct pollfd p[2] = {
    { .fd = listen_fd, .events = POLLIN },
    { .fd = wake_pipe[0], .events = POLLIN },
  };

  for (;;) {
    if (poll (p, 2, -1) == -1 && errno != EINTR) {
      nbdkit_error ("control: poll: %m");
      break;
    }
    if (p[1].revents)
      break;
    if (p[0].revents & POLLIN)
      accept_one ();
  }
  return NULL;
}

int
control_after_fork (void)
{
  sigset_t all, old;
  int r;

  if (listen_fd == -1)
    return 0;
  owner_pid = getpid ();
  if (pipe2 (wake_pipe, O_CLOEXEC) == -1) {
    nbdkit_error ("pipe2: %m");
    return -1;
  }
  sigfillset (&all);
  pthread_sigmask (SIG_BLOCK, &all, &old);
  r = jobs_start ();
  if (r == 0)
    r = -pthread_create (&accept_tid, NULL, accept_main, NULL);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (r < 0) {
    errno = -r;
    nbdkit_error ("control: starting threads: %m");
    return -1;
  }
  accept_started = true;
  return 0;
}

/* Stop accepting, hang up on every client (their synchronous operations
 * stop at the next piece boundary, §9.3), wait for the threads, then
 * cancel the jobs.  Safe to call twice.
 */
void
control_cleanup (void)
{
  size_t i;

  if (accept_started) {
    if (write (wake_pipe[1], "x", 1) != 1)
      nbdkit_error ("control: waking the accept thread: %m");
    pthread_join (accept_tid, NULL);
    accept_started = false;
  }
  pthread_mutex_lock (&conns_lock);
  for (i = 0; i < CTL_MAX_CONNS; i++) {
    if (slots[i].used && slots[i].c.fd >= 0)
      shutdown (slots[i].c.fd, SHUT_RDWR);
  }
  pthread_mutex_unlock (&conns_lock);
  jobs_stop ();                 /* also cancels watched operations */
  for (i = 0; i < CTL_MAX_CONNS; i++) {
    if (slots[i].used)
      pthread_join (slots[i].tid, NULL);
    slots[i].used = false;
  }
  jobs_free ();
}

void
control_unload (void)
{
  if (listen_fd >= 0) {
    close (listen_fd);
    if (owner_pid == getpid ())
      unlink (ctl_path);
  }
  listen_fd = -1;
  for (int i = 0; i < 2; i++) {
    if (wake_pipe[i] >= 0)
      close (wake_pipe[i]);
    wake_pipe[i] = -1;
  }
  free (ctl_path);
  free (group_param);
  ctl_path = group_param = NULL;
}

/* ---- the frame loop (Appendix B) --------------------------------------- */

/* Read exactly n bytes: 0; 1 at a clean end of stream before the first
 * byte; -errno otherwise (-EPIPE: the stream ended inside).
 */
static int
read_full (int fd, void *buf, size_t n)
{
  char *p = buf;
  size_t got = 0;
  ssize_t r;

  while (got < n) {
    r = recv (fd, p + got, n - got, 0);
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1)
      return -errno;
    if (r == 0)
      return got == 0 ? 1 : -EPIPE;
    got += r;
  }
  return 0;
}

/* §3.4: a payload we will not decode is read and dropped. */
static int
discard (int fd, uint32_t len)
{
  char buf[65536];
  int r = 0;

  while (len > 0 && r == 0) {
    size_t n = len < sizeof buf ? len : sizeof buf;

    r = read_full (fd, buf, n);
    len -= n;
  }
  return r == 0 ? 0 : -EPIPE;
}

/* The error reply of §7.2, with progress when there is some.  Returns 1
 * when the connection is to be closed.
 */
static int
send_error (struct ctl_conn *c, const struct xcopy_proto_header *h,
            struct ctl_fail *f)
{
  struct xcopy_proto_reply rep;

  if (!c->hello)
    f->e.fatal = true;          /* §3.4, §5: no session, no second try */
  xcopy_proto_error_reply (h, &f->e, &rep);
  if (f->has_res) {
    rep.u.error.result = f->res;
    ctl_result_for_wire (&rep.u.error.result, (int) rep.status);
  }
  nbdkit_debug ("control: pid %d: %s serial %" PRIu64 ": %s: %s",
                (int) c->pid, xcopy_proto_op_name (h->opcode) ?: "?",
                h->serial, strerrorname_np (rep.status) ?: "?", f->e.msg);
  if (send_reply (c->fd, &rep) < 0)
    return 1;
  return (rep.flags & XCOPY_PROTO_RF_CLOSING) ? 1 : 0;
}

/* The session checks of §5 and Appendix B, before the payload is read. */
static int
check_session (struct ctl_conn *c, const struct xcopy_proto_header *h,
               struct ctl_fail *f)
{
  const char *name = xcopy_proto_op_name (h->opcode);
  uint64_t cap = xcopy_proto_op_cap (h->opcode);

  if (!c->hello && h->opcode != XCOPY_OP_HELLO)
    return ctl_fail (f, EPROTO, XCOPY_PROTO_NO_INDEX, "header.opcode: %s"
                     " before HELLO", name);
  if (!c->hello)
    return 0;
  if (h->opcode == XCOPY_OP_HELLO)
    return ctl_fail (f, EPROTO, XCOPY_PROTO_NO_INDEX, "hello: the session"
                     " has had its HELLO");
  if (h->version != c->version)
    return ctl_fail (f, EPROTONOSUPPORT, XCOPY_PROTO_NO_INDEX,
                     "header.version: %u, the session speaks %u",
                     h->version, c->version);
  if (cap & ~c->caps)
    return ctl_fail (f, EOPNOTSUPP, XCOPY_PROTO_NO_INDEX, "header.opcode:"
                     " %s needs a capability HELLO did not negotiate", name);
  if ((h->flags & XCOPY_PROTO_F_ASYNC) && !(c->caps & XCOPY_PROTO_CAP_JOBS))
    return ctl_fail (f, EOPNOTSUPP, XCOPY_PROTO_NO_INDEX, "header.flags:"
                     " ASYNC needs the JOBS capability");
  if (h->length > CTL_MAX_PAYLOAD)
    return ctl_fail (f, EMSGSIZE, XCOPY_PROTO_NO_INDEX, "header.length: %u >"
                     " server limit %u", h->length, CTL_MAX_PAYLOAD);
  if ((h->opcode == XCOPY_OP_COPY || h->opcode == XCOPY_OP_UNMAP) &&
      h->count > CTL_MAX_RANGES)
    return ctl_fail (f, E2BIG, XCOPY_PROTO_NO_INDEX, "header.count: %u >"
                     " server limit %u", h->count, CTL_MAX_RANGES);
  return 0;
}

/* Decode, run, reply.  1: close the connection. */
static int
serve_request (struct ctl_conn *c, const struct xcopy_proto_header *h,
               const void *payload, struct ctl_fail *f)
{
  struct xcopy_proto_request req;
  struct xcopy_proto_reply rep;
  int r;

  if (xcopy_proto_decode_request (h, payload, h->length, &req, &f->e) < 0)
    return send_error (c, h, f);
  rep = (struct xcopy_proto_reply) { .opcode = h->opcode,
                                     .version = h->version,
                                     .serial = h->serial };
  r = ctl_dispatch (c, &req, &rep, f);
  xcopy_proto_request_free (&req);
  if (r < 0)
    return send_error (c, h, f);
  r = send_reply (c->fd, &rep);
  xcopy_proto_reply_free (&rep);
  return r < 0;
}

/* One frame whose header has been read.  1: close the connection. */
static int
serve_frame (struct ctl_conn *c, const struct xcopy_proto_header *h)
{
  struct ctl_fail f = { .e.index = XCOPY_PROTO_NO_INDEX };
  unsigned char *payload;
  int r;

  if (xcopy_proto_check_request_header (h, &f.e) < 0 ||
      check_session (c, h, &f) < 0) {
    if (!f.e.fatal && c->hello && discard (c->fd, h->length) < 0)
      return 1;
    return send_error (c, h, &f);
  }
  payload = malloc (h->length ? h->length : 1);
  if (payload == NULL) {
    if (discard (c->fd, h->length) < 0)
      return 1;
    ctl_fail (&f, ENOMEM, XCOPY_PROTO_NO_INDEX, "payload: out of memory");
    return send_error (c, h, &f);
  }
  r = read_full (c->fd, payload, h->length);
  if (r == 0)
    r = serve_request (c, h, payload, &f);
  else
    nbdkit_debug ("control: pid %d: connection lost inside a frame",
                  (int) c->pid);
  free (payload);
  return r != 0;
}

static void
conn_serve (struct ctl_conn *c)
{
  unsigned char hdr[XCOPY_PROTO_HEADER_SIZE];
  struct xcopy_proto_header h;
  int r;

  for (;;) {
    r = read_full (c->fd, hdr, sizeof hdr);
    if (r < 0)
      nbdkit_debug ("control: pid %d: connection lost inside a header",
                    (int) c->pid);
    if (r != 0)
      return;
    xcopy_proto_get_header (hdr, &h);
    if (serve_frame (c, &h))
      return;
  }
}
