/* xcopyd: what RECEIVE COPY RESULTS reports, held per I_T nexus.
 *
 * Each EXTENDED COPY with a list identifier (LIST ID USAGE 00b or 10b)
 * gets a record keyed by (LU, list identifier) in the nexus's
 * SCSI_SLOT_COPY slot: a copy manager belongs to its LU, and its list
 * identifiers are those of one I_T nexus (SPC-4 6.4.3), so the slot dies
 * with the nexus.  While the copy runs the record points at its progress;
 * when it ends, LIST ID USAGE 00b keeps the outcome and 10b drops it
 * ("discard", as QEMU's initiator names it).
 *
 * A second copy with the identifier of a running one is refused with
 * OPERATION IN PROGRESS, except with LIST ID USAGE 10b: QEMU sends all its
 * copies as list 1, 10b, concurrently, and such a duplicate just runs
 * without a record (its progress cannot be asked for).
 *
 * What is held is discarded as RECEIVE COPY STATUS (LID1) and RECEIVE
 * COPY FAILURE DETAILS (LID1) require: the copy status once it has been
 * reported for a completed copy; the failure details once they have been
 * transferred whole (or asked for with ALLOCATION LENGTH 0); both when
 * another EXTENDED COPY uses the same list identifier, when the nexus
 * goes away, or when XC_MAX_HELD completed copies are held already (the
 * oldest goes).
 *
 * One mutex per nexus guards the records; a running copy's byte count is
 * the engine's atomic counter plus a base moved under that mutex, so a
 * reader never counts a run twice.
 */
#include <stdlib.h>
#include <string.h>

#include "xcopy-int.h"

struct xc_rec {
  uint64_t lu_id;
  uint8_t list_id;
  bool hold;                    /* LIST ID USAGE 00b */
  bool running;
  struct xc_progress *prog;     /* while running */
  bool status_kept;             /* COPY STATUS data still held */
  bool details_kept;            /* failure details still held */
  uint64_t seq;                 /* completion order */
  struct xc_outcome out;        /* once done */
};

struct xc_store {
  pthread_mutex_t lock;
  struct xc_rec **recs;
  size_t n, cap;
  uint64_t seq;
};

/* SPC-4, RECEIVE COPY STATUS (LID1) parameter data. */
struct xc_wire_copy_status {
  uint8_t avail[4];             /* AVAILABLE DATA: 8 */
  uint8_t status;               /* HDD (7), COPY MANAGER STATUS (6..0) */
  uint8_t segs[2];              /* SEGMENTS PROCESSED */
  uint8_t units;                /* TRANSFER COUNT UNITS */
  uint8_t count[4];             /* TRANSFER COUNT */
};
_Static_assert (sizeof (struct xc_wire_copy_status) == 12,
                "RECEIVE COPY STATUS (LID1)");

/* SPC-4, RECEIVE COPY FAILURE DETAILS (LID1) parameter data. */
struct xc_wire_failure {
  uint8_t avail[4];             /* AVAILABLE DATA (n - 3) */
  uint8_t reserved[52];
  uint8_t cmd_status;           /* COPY COMMAND STATUS */
  uint8_t reserved2;
  uint8_t sense_len[2];         /* SENSE DATA LENGTH */
  /* SENSE DATA follows */
};
_Static_assert (sizeof (struct xc_wire_failure) == 60,
                "RECEIVE COPY FAILURE DETAILS (LID1)");

/* COPY MANAGER STATUS */
#define CMS_IN_PROGRESS 0x00
#define CMS_GOOD        0x01
#define CMS_FAILED      0x02

/* ---- The store ---- */

static void *
store_new (void *opaque)
{
  struct xc_store *st = calloc (1, sizeof *st);

  (void) opaque;
  if (st)
    pthread_mutex_init (&st->lock, NULL);
  return st;
}

static void
store_free (void *state)
{
  struct xc_store *st = state;

  for (size_t i = 0; i < st->n; i++)
    free (st->recs[i]);
  free (st->recs);
  pthread_mutex_destroy (&st->lock);
  free (st);
}

static struct xc_store *
store_of (struct xs_task *t, bool create)
{
  return scsi_nexus_slot (t->nexus, SCSI_SLOT_COPY,
                          create ? store_new : NULL, NULL, store_free);
}

static size_t
find (const struct xc_store *st, uint64_t lu_id, uint8_t list_id)
{
  for (size_t i = 0; i < st->n; i++)
    if (st->recs[i]->lu_id == lu_id && st->recs[i]->list_id == list_id)
      return i;
  return SIZE_MAX;
}

static void
drop (struct xc_store *st, size_t i)
{
  free (st->recs[i]);
  st->recs[i] = st->recs[--st->n];
}

static void
drop_rec (struct xc_store *st, const struct xc_rec *r)
{
  for (size_t i = 0; i < st->n; i++)
    if (st->recs[i] == r) {
      drop (st, i);
      return;
    }
}

/* Make room: at most XC_MAX_HELD completed records, the oldest goes. */
static void
evict (struct xc_store *st)
{
  size_t held = 0, oldest = SIZE_MAX;

  for (size_t i = 0; i < st->n; i++)
    if (!st->recs[i]->running) {
      held++;
      if (oldest == SIZE_MAX || st->recs[i]->seq < st->recs[oldest]->seq)
        oldest = i;
    }
  if (held >= XC_MAX_HELD)
    drop (st, oldest);
}

static bool
append (struct xc_store *st, struct xc_rec *r)
{
  if (st->n == st->cap) {
    size_t cap = st->cap ? 2 * st->cap : 8;
    struct xc_rec **n = realloc (st->recs, cap * sizeof *n);
    if (n == NULL)
      return false;
    st->recs = n;
    st->cap = cap;
  }
  st->recs[st->n++] = r;
  return true;
}

/* ---- The EXTENDED COPY side ---- */

enum xs_status
xc_state_begin (struct xs_task *t, uint8_t list_id, uint8_t usage,
                struct xc_progress *prog, struct xc_rec **rec)
{
  struct xc_store *st;
  struct xc_rec *r;
  size_t i;

  *rec = NULL;
  if (usage == XC_LIST_ID_NONE)
    return XS_GOOD;
  if ((st = store_of (t, true)) == NULL
      || (r = calloc (1, sizeof *r)) == NULL)
    return XS_TASK_SET_FULL;
  *r = (struct xc_rec) { .lu_id = t->lu->id, .list_id = list_id,
                         .hold = usage == XC_LIST_ID_HOLD, .running = true,
                         .prog = prog };
  pthread_mutex_lock (&st->lock);
  i = find (st, r->lu_id, list_id);
  if (i != SIZE_MAX && st->recs[i]->running) {
    pthread_mutex_unlock (&st->lock);
    free (r);
    /* SPC-4 6.4.3 wants the identifier unique among running copies.
     * QEMU's iSCSI driver sends every copy as list 1 with usage 10b, many
     * at once (block-copy runs parallel workers), so a 10b duplicate runs
     * untracked instead: nothing held would be ambiguous.
     */
    return usage == XC_LIST_ID_DISCARD ? XS_GOOD : XS_OPERATION_IN_PROGRESS;
  }
  if (i != SIZE_MAX)
    drop (st, i);
  evict (st);
  if (append (st, r))
    *rec = r;
  pthread_mutex_unlock (&st->lock);
  if (*rec == NULL)
    free (r);
  return *rec ? XS_GOOD : XS_TASK_SET_FULL;
}

void
xc_state_run_done (struct xs_task *t, struct xc_progress *prog,
                   uint64_t run_bytes)
{
  struct xc_store *st = store_of (t, false);

  if (st)
    pthread_mutex_lock (&st->lock);
  prog->base += run_bytes;
  atomic_store (&prog->ctl.bytes_done, 0);
  if (st)
    pthread_mutex_unlock (&st->lock);
}

void
xc_state_end (struct xs_task *t, struct xc_rec *rec,
              const struct xc_outcome *o)
{
  struct xc_store *st;

  if (rec == NULL || (st = store_of (t, false)) == NULL)
    return;
  pthread_mutex_lock (&st->lock);
  rec->running = false;
  rec->prog = NULL;
  rec->out = *o;
  rec->seq = ++st->seq;
  rec->status_kept = true;
  rec->details_kept = o->status != SCSI_STATUS_GOOD;
  if (!rec->hold)
    drop_rec (st, rec);
  pthread_mutex_unlock (&st->lock);
}

/* ---- The RECEIVE COPY RESULTS side ---- */

/* Segments processed and bytes moved so far (store locked). */
static void
progress (const struct xc_rec *r, size_t *segs, uint64_t *bytes)
{
  const struct xc_progress *p = r->prog;
  size_t lo = 0, hi;

  if (!r->running) {
    *segs = r->out.segs_done;
    *bytes = r->out.bytes_done;
    return;
  }
  *bytes = p->base + atomic_load (&p->ctl.bytes_done);
  for (hi = p->nseg; lo < hi; ) {       /* segments ending by *bytes */
    size_t mid = lo + (hi - lo) / 2;
    if (p->seg_end[mid] <= *bytes)
      lo = mid + 1;
    else
      hi = mid;
  }
  *segs = lo;
}

/* TRANSFER COUNT in the smallest TRANSFER COUNT UNITS (00h bytes, 01h
 * KiB, 02h MiB, ... 2^(10 n)) that fits 32 bits.
 */
static void
put_count (struct xc_wire_copy_status *w, uint64_t bytes)
{
  uint8_t units = 0;

  while (bytes > UINT32_MAX) {
    bytes >>= 10;
    units++;
  }
  w->units = units;
  put_be32 (w->count, (uint32_t) bytes);
}

static struct xc_rec *
lookup (struct xs_task *t, struct xc_store **st, uint8_t list_id)
{
  size_t i;

  if ((*st = store_of (t, false)) == NULL)
    return NULL;
  pthread_mutex_lock (&(*st)->lock);
  i = find (*st, t->lu->id, list_id);
  if (i != SIZE_MAX)
    return (*st)->recs[i];
  pthread_mutex_unlock (&(*st)->lock);
  return NULL;
}

bool
xc_state_copy_status (struct xs_task *t, uint8_t list_id, uint8_t out[12])
{
  struct xc_wire_copy_status w;
  struct xc_store *st;
  struct xc_rec *r = lookup (t, &st, list_id);
  uint64_t bytes;
  size_t segs;

  if (r == NULL)
    return false;
  memset (&w, 0, sizeof w);
  put_be32 (w.avail, sizeof w - 4);
  if (!r->status_kept && !r->running) {
    pthread_mutex_unlock (&st->lock);
    return false;
  }
  progress (r, &segs, &bytes);
  w.status = r->running ? CMS_IN_PROGRESS
    : r->out.status == SCSI_STATUS_GOOD ? CMS_GOOD : CMS_FAILED;
  put_be16 (w.segs, (uint16_t) (segs > UINT16_MAX ? UINT16_MAX : segs));
  put_count (&w, bytes);
  if (!r->running) {
    r->status_kept = false;
    if (!r->details_kept)
      drop_rec (st, r);
  }
  pthread_mutex_unlock (&st->lock);
  memcpy (out, &w, sizeof w);
  return true;
}

bool
xc_state_failure (struct xs_task *t, uint8_t list_id, size_t alloc,
                  uint8_t *out, size_t *len)
{
  struct xc_wire_failure w;
  struct xc_store *st;
  struct xc_rec *r = lookup (t, &st, list_id);
  size_t room = alloc < t->cmd->data_in_cap ? alloc : t->cmd->data_in_cap;

  if (r == NULL)
    return false;
  memset (&w, 0, sizeof w);
  *len = 4;                     /* no details: AVAILABLE DATA 0 */
  if (!r->running && r->details_kept) {
    *len = sizeof w + r->out.sense_len;
    put_be32 (w.avail, (uint32_t) (*len - 4));
    w.cmd_status = r->out.status;
    put_be16 (w.sense_len, (uint16_t) r->out.sense_len);
    memcpy (out + sizeof w, r->out.sense, r->out.sense_len);
    if (alloc == 0 || room >= *len) {
      r->details_kept = false;
      if (!r->status_kept)
        drop_rec (st, r);
    }
  }
  pthread_mutex_unlock (&st->lock);
  memcpy (out, &w, *len < sizeof w ? *len : sizeof w);
  return true;
}
