/* xcopyd: a small FIFO work queue on a fixed set of pthreads.
 *
 * Runs scsi_submit() commands (and whatever a command family wants to do
 * off the caller's thread) so the library needs no event loop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "scsi-int.h"

struct work {
  void (*fn) (void *arg);
  void *arg;
  struct work *next;
};

struct xs_workq {
  pthread_mutex_t lock;
  pthread_cond_t more;
  struct work *head, *tail;
  bool stopping;
  unsigned nthreads;
  pthread_t threads[];
};

static void *
worker (void *opaque)
{
  struct xs_workq *q = opaque;

  pthread_mutex_lock (&q->lock);
  for (;;) {
    struct work *w;
    while (q->head == NULL && !q->stopping)
      pthread_cond_wait (&q->more, &q->lock);
    if ((w = q->head) == NULL)
      break;
    q->head = w->next;
    if (q->head == NULL)
      q->tail = NULL;
    pthread_mutex_unlock (&q->lock);
    w->fn (w->arg);
    free (w);
    pthread_mutex_lock (&q->lock);
  }
  pthread_mutex_unlock (&q->lock);
  return NULL;
}

static void
stop_and_join (struct xs_workq *q, unsigned started)
{
  pthread_mutex_lock (&q->lock);
  q->stopping = true;
  pthread_cond_broadcast (&q->more);
  pthread_mutex_unlock (&q->lock);
  for (unsigned i = 0; i < started; i++)
    pthread_join (q->threads[i], NULL);
}

int
xs_workq_new (unsigned threads, struct xs_workq **out)
{
  struct xs_workq *q;

  if (threads == 0 || threads > 1024)
    return -EINVAL;
  q = calloc (1, sizeof *q + threads * sizeof (pthread_t));
  if (q == NULL)
    return -ENOMEM;
  pthread_mutex_init (&q->lock, NULL);
  pthread_cond_init (&q->more, NULL);
  for (unsigned i = 0; i < threads; i++) {
    int r = pthread_create (&q->threads[i], NULL, worker, q);
    if (r != 0) {
      stop_and_join (q, i);
      pthread_cond_destroy (&q->more);
      pthread_mutex_destroy (&q->lock);
      free (q);
      return -r;
    }
  }
  q->nthreads = threads;
  *out = q;
  return 0;
}

int
xs_workq_push (struct xs_workq *q, void (*fn) (void *arg), void *arg)
{
  struct work *w = malloc (sizeof *w);
  int r = 0;

  if (w == NULL)
    return -ENOMEM;
  w->fn = fn;
  w->arg = arg;
  w->next = NULL;
  pthread_mutex_lock (&q->lock);
  if (q->stopping)
    r = -ESHUTDOWN;
  else {
    if (q->tail)
      q->tail->next = w;
    else
      q->head = w;
    q->tail = w;
    pthread_cond_signal (&q->more);
  }
  pthread_mutex_unlock (&q->lock);
  if (r < 0)
    free (w);
  return r;
}

void
xs_workq_free (struct xs_workq *q)
{
  if (q == NULL)
    return;
  stop_and_join (q, q->nthreads);
  pthread_cond_destroy (&q->more);
  pthread_mutex_destroy (&q->lock);
  free (q);
}
