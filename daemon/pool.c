/* xcopyd: a fixed set of connections to one backend, shared by threads.
 *
 * SCSI workers take a connection for one request and give it back; with
 * N connections N requests run at once (the plugin advertises multi-conn,
 * and its control socket serves each connection on its own thread).
 * Connections are opened on first use and again after the backend came
 * back up (its generation changed), so a restarted nbdkit needs no
 * action here.  A worker never waits for a backend that is down: it gets
 * -ENOTCONN at once (LOGICAL UNIT COMMUNICATION FAILURE for the
 * initiator), not a hang.
 */
#include <errno.h>

#include "xcopyd.h"

struct slot {
  void *conn;
  unsigned gen;                 /* backend generation conn belongs to */
  bool busy;
};

struct xd_pool {
  GMutex lock;
  GCond cond;
  struct xd_backend *b;
  const struct xd_pool_ops *ops;
  void *opaque;
  unsigned n;
  struct slot *slots;
};

struct xd_pool *
xd_pool_new (struct xd_backend *b, unsigned n, const struct xd_pool_ops *ops,
             void *opaque)
{
  struct xd_pool *p = g_new0 (struct xd_pool, 1);

  g_mutex_init (&p->lock);
  g_cond_init (&p->cond);
  p->b = b;
  p->ops = ops;
  p->opaque = opaque;
  p->n = n ? n : 1;
  p->slots = g_new0 (struct slot, p->n);
  return p;
}

void
xd_pool_free (struct xd_pool *p)
{
  if (p == NULL)
    return;
  for (unsigned i = 0; i < p->n; i++)
    if (p->slots[i].conn)
      p->ops->close (p->slots[i].conn);
  g_free (p->slots);
  g_cond_clear (&p->cond);
  g_mutex_clear (&p->lock);
  g_free (p);
}

/* A free slot, preferring one already connected in this generation. */
static int
find_slot (struct xd_pool *p, unsigned gen)
{
  int spare = -1;

  for (unsigned i = 0; i < p->n; i++) {
    if (p->slots[i].busy)
      continue;
    if (p->slots[i].conn && p->slots[i].gen == gen)
      return (int) i;
    if (spare < 0)
      spare = (int) i;
  }
  return spare;
}

static int
take_slot (struct xd_pool *p, unsigned *gen)
{
  int i;

  g_mutex_lock (&p->lock);
  for (;;) {
    if (!xd_backend_up (p->b)) {
      g_mutex_unlock (&p->lock);
      return -ENOTCONN;
    }
    *gen = p->b->gen;
    if ((i = find_slot (p, *gen)) >= 0)
      break;
    g_cond_wait (&p->cond, &p->lock);
  }
  p->slots[i].busy = true;
  g_mutex_unlock (&p->lock);
  return i;
}

int
xd_pool_get (struct xd_pool *p, unsigned *slot, void **conn)
{
  unsigned gen;
  int i = take_slot (p, &gen);
  struct slot *s;
  int r;

  if (i < 0)
    return i;
  s = &p->slots[i];
  if (s->conn && s->gen != gen) {       /* from before a restart */
    p->ops->close (s->conn);
    s->conn = NULL;
  }
  if (s->conn == NULL) {
    r = p->ops->open (p->opaque, &s->conn);
    if (r < 0) {
      xd_debug ("backend %s: opening a %s: %s", p->b->cfg->name,
                p->ops->what, g_strerror (-r));
      s->conn = NULL;
      xd_pool_put (p, (unsigned) i, true);
      xd_backend_report_lost (p->b, gen);
      return -ENOTCONN;
    }
    s->gen = gen;
  }
  *slot = (unsigned) i;
  *conn = s->conn;
  return 0;
}

void
xd_pool_put (struct xd_pool *p, unsigned slot, bool broken)
{
  struct slot *s = &p->slots[slot];

  if (broken && s->conn) {
    p->ops->close (s->conn);
    s->conn = NULL;
    xd_backend_report_lost (p->b, s->gen);
  }
  /* Broadcast: a waiter that wakes to find the backend down leaves
   * without taking the slot, so one signal could strand the others on
   * a free slot.
   */
  g_mutex_lock (&p->lock);
  s->busy = false;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
}
