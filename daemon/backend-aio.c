/* xcopyd: the plugin backend's asynchronous data path.
 *
 * READ and WRITE of up to NBD_AIO_MAX bytes go out as libnbd aio
 * commands from the thread that received them (the iSCSI reader) and
 * complete on one thread per NBD connection, which also sends the SCSI
 * status.  The initiator's whole queue is in flight on a few
 * connections, and each wake-up of a thread serves every request and
 * reply that arrived meanwhile; a synchronous call per worker would cost
 * a hand-off to a worker and two to nbdkit for each I/O.
 *
 * A connection's thread owns its handle: it connects (when the backend
 * is up), polls, and closes the handle after the server went away, which
 * makes libnbd complete whatever was in flight with an error.  Submitters
 * use the handle under the connection's lock and never wait: while there
 * is no handle they get -EAGAIN and the I/O runs on a worker through the
 * synchronous pool, which reports the backend's state.
 *
 * Completion callbacks run inside libnbd (its handle lock held), so they
 * only queue the request; the thread runs the SCSI completion after
 * libnbd returned, and a slow initiator never holds the handle.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libnbd.h>

#include "xcopyd.h"

#define RETRY_MS 100            /* between connect attempts */

struct aio_req {
  struct aio_conn *c;
  void (*done) (void *opaque, int err);
  void *opaque;
  int err;
  struct aio_req *next;
};

struct aio_conn {
  struct xd_aio *a;
  GMutex lock;                  /* h and gen, against the thread closing h */
  struct nbd_handle *h;         /* NULL: not connected */
  unsigned gen;                 /* the backend generation h belongs to */
  int efd;                      /* eventfd: wakes the thread */
  pthread_t thread;
  bool started;
  _Atomic bool stop;
  GMutex done_lock;
  struct aio_req *done_head, **done_tail;
};

struct xd_aio {
  struct xd_backend *bk;
  char *export;
  unsigned n;
  _Atomic unsigned next;        /* round robin */
  struct aio_conn conns[];
};

static void
wake (struct aio_conn *c)
{
  eventfd_write (c->efd, 1);
}

/* libnbd's completion callback: queue it for the thread. */
static int
complete (void *user_data, int *error)
{
  struct aio_req *r = user_data;
  struct aio_conn *c = r->c;

  r->err = *error ? -*error : 0;
  r->next = NULL;
  g_mutex_lock (&c->done_lock);
  *c->done_tail = r;
  c->done_tail = &r->next;
  g_mutex_unlock (&c->done_lock);
  /* A submitter's failed send can retire commands on its own thread. */
  if (!pthread_equal (pthread_self (), c->thread))
    wake (c);
  return 1;
}

static void
run_done (struct aio_conn *c)
{
  struct aio_req *r, *next;

  g_mutex_lock (&c->done_lock);
  r = c->done_head;
  c->done_head = NULL;
  c->done_tail = &c->done_head;
  g_mutex_unlock (&c->done_lock);
  for (; r; r = next) {
    next = r->next;
    r->done (r->opaque, r->err);
    g_free (r);
  }
}

/* Sleep until woken or ms pass. */
static void
idle (struct aio_conn *c, int ms)
{
  struct pollfd p = { c->efd, POLLIN, 0 };
  eventfd_t v;

  if (poll (&p, 1, ms) > 0)
    eventfd_read (c->efd, &v);
}

static void
drop (struct aio_conn *c)
{
  struct nbd_handle *h;
  unsigned gen;

  g_mutex_lock (&c->lock);
  h = c->h;
  gen = c->gen;
  c->h = NULL;
  g_mutex_unlock (&c->lock);
  if (h == NULL)
    return;
  if (nbd_aio_is_dead (h) == 1)
    xd_backend_report_lost (c->a->bk, gen);
  nbd_close (h);                /* retires what was in flight */
  run_done (c);
}

/* One wait for the socket or a wake-up, and what libnbd makes of it. */
static void
serve (struct aio_conn *c, struct nbd_handle *h)
{
  unsigned dir = (unsigned) nbd_aio_get_direction (h);
  struct pollfd p[2] = {
    { nbd_aio_get_fd (h), (short) ((dir & LIBNBD_AIO_DIRECTION_READ ? POLLIN : 0)
                                   | (dir & LIBNBD_AIO_DIRECTION_WRITE ? POLLOUT : 0)), 0 },
    { c->efd, POLLIN, 0 },
  };
  eventfd_t v;

  if (poll (p, 2, 1000) <= 0)
    return;
  if (p[1].revents & POLLIN)
    eventfd_read (c->efd, &v);
  if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
    nbd_aio_notify_read (h);
  else if (p[0].revents & POLLOUT)
    nbd_aio_notify_write (h);
}

static void
connect_handle (struct aio_conn *c)
{
  struct xd_backend *bk = c->a->bk;
  unsigned gen = bk->gen;
  struct nbd_handle *h;

  if (!xd_backend_up (bk) || (h = nbd_create ()) == NULL) {
    idle (c, RETRY_MS);
    return;
  }
  /* The handshake is driven here too, so a server that accepts and
   * never answers (stopped) cannot keep this thread from stopping.
   */
  if (nbd_set_export_name (h, c->a->export) == -1 ||
      nbd_aio_connect_unix (h, bk->nbd_socket) == -1) {
    xd_debug ("backend %s: export '%s': aio connection: %s", bk->cfg->name,
              c->a->export, nbd_get_error ());
    nbd_close (h);
    idle (c, RETRY_MS);
    return;
  }
  while (!c->stop && nbd_aio_is_connecting (h) == 1)
    serve (c, h);
  if (nbd_aio_is_ready (h) != 1) {
    xd_debug ("backend %s: export '%s': aio connection: %s", bk->cfg->name,
              c->a->export, c->stop ? "stopping" : nbd_get_error ());
    nbd_close (h);
    if (!c->stop)
      idle (c, RETRY_MS);
    return;
  }
  g_mutex_lock (&c->lock);
  c->h = h;
  c->gen = gen;
  g_mutex_unlock (&c->lock);
}

static void *
conn_thread (void *arg)
{
  struct aio_conn *c = arg;
  struct xd_backend *bk = c->a->bk;

  while (!c->stop) {
    struct nbd_handle *h = c->h;        /* only this thread changes it */

    if (h == NULL) {
      connect_handle (c);
      continue;
    }
    if (c->gen != bk->gen || nbd_aio_is_dead (h) == 1 ||
        nbd_aio_is_closed (h) == 1) {
      drop (c);
      continue;
    }
    serve (c, h);
    run_done (c);
  }
  drop (c);
  run_done (c);
  return NULL;
}

struct xd_aio *
xd_aio_new (struct xd_backend *bk, const char *export, unsigned n)
{
  struct xd_aio *a = g_malloc0 (sizeof *a + n * sizeof a->conns[0]);

  a->bk = bk;
  a->export = g_strdup (export);
  a->n = n;
  for (unsigned i = 0; i < n; i++) {
    struct aio_conn *c = &a->conns[i];

    c->a = a;
    g_mutex_init (&c->lock);
    g_mutex_init (&c->done_lock);
    c->done_tail = &c->done_head;
    c->efd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
    c->started = c->efd >= 0 &&
      pthread_create (&c->thread, NULL, conn_thread, c) == 0;
  }
  return a;
}

void
xd_aio_free (struct xd_aio *a)
{
  if (a == NULL)
    return;
  for (unsigned i = 0; i < a->n; i++) {
    struct aio_conn *c = &a->conns[i];

    c->stop = true;
    if (c->started) {
      wake (c);
      pthread_join (c->thread, NULL);
    }
    if (c->efd >= 0)
      close (c->efd);
    g_mutex_clear (&c->lock);
    g_mutex_clear (&c->done_lock);
  }
  g_free (a->export);
  g_free (a);
}

/* Start one command on the next connection that has a handle. */
static int
submit (struct xd_aio *a, bool write, void *buf, size_t len, uint64_t off,
        uint32_t flags, void (*done) (void *opaque, int err), void *opaque)
{
  struct aio_conn *c = &a->conns[atomic_fetch_add (&a->next, 1) % a->n];
  struct aio_req *r;
  int64_t cookie = -1;
  bool kick = false;

  if (len > NBD_AIO_MAX || !c->started)
    return -EAGAIN;
  if (!xd_backend_up (a->bk))
    return -ENOTCONN;
  r = g_new (struct aio_req, 1);
  *r = (struct aio_req) { .c = c, .done = done, .opaque = opaque };
  g_mutex_lock (&c->lock);
  if (c->h && c->gen == a->bk->gen) {
    nbd_completion_callback cb = { .callback = complete, .user_data = r };

    cookie = write ? nbd_aio_pwrite (c->h, buf, len, off, cb, flags)
      : nbd_aio_pread (c->h, buf, len, off, cb, flags);
    /* Not all of it went out: the thread must wait for POLLOUT. */
    kick = cookie != -1 &&
      (nbd_aio_get_direction (c->h) & LIBNBD_AIO_DIRECTION_WRITE);
  }
  g_mutex_unlock (&c->lock);
  if (cookie == -1) {
    g_free (r);                 /* never issued: no callback */
    return -EAGAIN;
  }
  if (kick)
    wake (c);
  return 0;
}

int
xd_aio_pread (struct xd_aio *a, void *buf, size_t len, uint64_t off,
              void (*done) (void *opaque, int err), void *opaque)
{
  return submit (a, false, buf, len, off, 0, done, opaque);
}

int
xd_aio_pwrite (struct xd_aio *a, const void *buf, size_t len, uint64_t off,
               bool fua, void (*done) (void *opaque, int err), void *opaque)
{
  return submit (a, true, (void *) buf, len, off,
                 fua ? LIBNBD_CMD_FLAG_FUA : 0, done, opaque);
}
