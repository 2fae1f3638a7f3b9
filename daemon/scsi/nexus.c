/* xcopyd: I_T nexuses — running commands, unit attentions, family slots.
 *
 * Unit attentions (SAM-5 5.14, 6.x) are kept as counters: each LU counts
 * the events of each kind (reset, capacity change, mode change) and each
 * nexus remembers the counts it has seen per LU.  Raising a UA for "every
 * nexus" is then one atomic increment, and a nexus created later never
 * sees old events.  REPORTED LUNS DATA HAS CHANGED is counted per target.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi-int.h"

static _Atomic uint64_t next_nexus_id = 1;

int
scsi_nexus_new (struct scsi_target *t, const char *initiator_port,
                const char *target_port, uint16_t rel_port,
                struct scsi_nexus **out)
{
  struct scsi_nexus *n = calloc (1, sizeof *n);

  if (n == NULL)
    return -ENOMEM;
  n->initiator = strdup (initiator_port ? initiator_port : "");
  n->target_port = target_port ? strdup (target_port) : NULL;
  if (n->initiator == NULL || (target_port && n->target_port == NULL)) {
    free (n->initiator);
    free (n->target_port);
    free (n);
    return -ENOMEM;
  }
  n->target = t;
  n->rel_port = rel_port;
  n->id = atomic_fetch_add (&next_nexus_id, 1);
  n->luns_gen_seen = atomic_load (&t->luns_gen);
  n->born = xs_ua_clock_tick ();
  pthread_mutex_init (&n->lock, NULL);
  pthread_cond_init (&n->idle, NULL);
  pthread_mutex_lock (&t->lock);
  t->nnexus++;
  pthread_mutex_unlock (&t->lock);
  *out = n;
  return 0;
}

void
scsi_nexus_free (struct scsi_nexus *n)
{
  if (n == NULL)
    return;
  pthread_mutex_lock (&n->lock);
  for (struct xs_task *t = n->inflight; t; t = t->next)
    atomic_store (&t->cmd->abort, true);
  while (n->ninflight > 0)
    pthread_cond_wait (&n->idle, &n->lock);
  pthread_mutex_unlock (&n->lock);
  for (int s = 0; s < SCSI_SLOT__COUNT; s++)
    if (n->slot[s].state && n->slot[s].free_fn)
      n->slot[s].free_fn (n->slot[s].state);
  pthread_mutex_lock (&n->target->lock);
  n->target->nnexus--;
  pthread_mutex_unlock (&n->target->lock);
  pthread_cond_destroy (&n->idle);
  pthread_mutex_destroy (&n->lock);
  free (n->seen);
  free (n->initiator);
  free (n->target_port);
  free (n);
}

uint64_t
scsi_nexus_id (const struct scsi_nexus *n)
{
  return n->id;
}

const char *
scsi_nexus_initiator (const struct scsi_nexus *n)
{
  return n->initiator;
}

const char *
scsi_nexus_target_port (const struct scsi_nexus *n)
{
  return n->target_port;
}

struct scsi_target *
scsi_nexus_target (const struct scsi_nexus *n)
{
  return n->target;
}

void
xs_nexus_enter (struct scsi_nexus *n, struct xs_task *t)
{
  pthread_mutex_lock (&n->lock);
  t->next = n->inflight;
  n->inflight = t;
  n->ninflight++;
  pthread_mutex_unlock (&n->lock);
}

void
xs_nexus_leave (struct scsi_nexus *n, struct xs_task *t)
{
  pthread_mutex_lock (&n->lock);
  for (struct xs_task **p = &n->inflight; *p; p = &(*p)->next)
    if (*p == t) {
      *p = t->next;
      break;
    }
  if (--n->ninflight == 0)
    pthread_cond_broadcast (&n->idle);
  pthread_mutex_unlock (&n->lock);
}

void *
scsi_nexus_slot (struct scsi_nexus *n, enum scsi_nexus_slot s,
                 void *(*create) (void *opaque), void *opaque,
                 void (*free_fn) (void *state))
{
  void *state;

  if ((unsigned) s >= SCSI_SLOT__COUNT)
    return NULL;
  pthread_mutex_lock (&n->lock);
  if (n->slot[s].state == NULL && create) {
    n->slot[s].state = create (opaque);
    n->slot[s].free_fn = free_fn;
  }
  state = n->slot[s].state;
  pthread_mutex_unlock (&n->lock);
  return state;
}

/* ---- Unit attentions ---- */

static void
current_gens (const struct scsi_lu *lu, uint32_t gen[XS_UA__KINDS])
{
  for (int k = 0; k < XS_UA__KINDS; k++)
    gen[k] = atomic_load (&((struct scsi_lu *) lu)->ua_gen[k]);
}

/* n's entry for lu, made on first sight: pending then are a power-on UA
 * (if the LU reports one) and whatever was raised since n was born.
 * NULL when out of memory.  Called with n->lock held.
 */
static struct xs_ua_seen *
seen_entry (struct scsi_nexus *n, const struct scsi_lu *lu)
{
  struct xs_ua_seen *e;

  for (size_t i = 0; i < n->nseen; i++)
    if (n->seen[i].lu_id == lu->id)
      return &n->seen[i];
  if (n->nseen == n->seen_cap) {
    size_t cap = n->seen_cap ? 2 * n->seen_cap : 4;
    e = realloc (n->seen, cap * sizeof *e);
    if (e == NULL)
      return NULL;
    n->seen = e;
    n->seen_cap = cap;
  }
  e = &n->seen[n->nseen++];
  e->lu_id = lu->id;
  current_gens (lu, e->gen);
  for (int k = 0; k < XS_UA__KINDS; k++)
    if (atomic_load (&((struct scsi_lu *) lu)->ua_when[k]) > n->born)
      e->gen[k]--;
  e->power_on = lu->power_on_ua;
  return e;
}

static const enum xs_status ua_status[XS_UA__KINDS] = {
  [XS_UA_KIND_RESET] = XS_UA_RESET,
  [XS_UA_KIND_CAPACITY] = XS_UA_CAPACITY_CHANGED,
  [XS_UA_KIND_MODE] = XS_UA_MODE_CHANGED,
};

/* SAM-5 5.14: a power on or reset condition replaces every other UA. */
static enum xs_status
take_lu_ua (struct xs_ua_seen *e, const struct scsi_lu *lu)
{
  uint32_t now[XS_UA__KINDS];

  current_gens (lu, now);
  if (e->power_on || e->gen[XS_UA_KIND_RESET] != now[XS_UA_KIND_RESET]) {
    enum xs_status s = e->power_on ? XS_UA_POWER_ON : XS_UA_RESET;
    e->power_on = false;
    memcpy (e->gen, now, sizeof now);
    return s;
  }
  for (int k = 0; k < XS_UA__KINDS; k++)
    if (e->gen[k] != now[k]) {
      e->gen[k] = now[k];
      return ua_status[k];
    }
  return XS_GOOD;
}

enum xs_status
xs_nexus_take_ua (struct scsi_nexus *n, struct scsi_lu *lu)
{
  enum xs_status s = XS_GOOD;
  uint32_t luns_gen = atomic_load (&n->target->luns_gen);
  struct xs_ua_seen *e;

  pthread_mutex_lock (&n->lock);
  if (lu && (e = seen_entry (n, lu)) != NULL)
    s = take_lu_ua (e, lu);
  if (s == XS_GOOD && n->luns_gen_seen != luns_gen) {
    n->luns_gen_seen = luns_gen;
    s = XS_UA_LUNS_CHANGED;
  }
  pthread_mutex_unlock (&n->lock);
  return s;
}

void
xs_nexus_seen_ua (struct scsi_nexus *n, struct scsi_lu *lu, enum xs_ua k)
{
  struct xs_ua_seen *e;

  pthread_mutex_lock (&n->lock);
  if ((e = seen_entry (n, lu)) != NULL)
    e->gen[k] = atomic_load (&lu->ua_gen[k]);
  pthread_mutex_unlock (&n->lock);
}

void
xs_nexus_seen_luns (struct scsi_nexus *n)
{
  pthread_mutex_lock (&n->lock);
  n->luns_gen_seen = atomic_load (&n->target->luns_gen);
  pthread_mutex_unlock (&n->lock);
}
