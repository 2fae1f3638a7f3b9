/* xcopyd: the LU registry (LUN -> LU) and what a nexus may reach in it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi-int.h"

#define DEFAULT_WORKERS 4

int
scsi_target_new (const struct scsi_target_config *cfg,
                 struct scsi_target **out)
{
  struct scsi_target *t = calloc (1, sizeof *t);
  int r;

  if (t == NULL)
    return -ENOMEM;
  if (cfg && cfg->name && (t->name = strdup (cfg->name)) == NULL) {
    free (t);
    return -ENOMEM;
  }
  if (cfg) {
    t->transport_version = cfg->transport_version;
    t->access = cfg->access;
    t->access_opaque = cfg->access_opaque;
  }
  r = xs_workq_new (cfg && cfg->workers ? cfg->workers : DEFAULT_WORKERS,
                    &t->workq);
  if (r < 0) {
    free (t->name);
    free (t);
    return r;
  }
  pthread_mutex_init (&t->lock, NULL);
  *out = t;
  return 0;
}

void
scsi_target_free (struct scsi_target *t)
{
  if (t == NULL)
    return;
  xs_workq_free (t->workq);
  for (size_t i = 0; i < t->nluns; i++)
    scsi_lu_unref (t->luns[i].lu);
  free (t->luns);
  pthread_mutex_destroy (&t->lock);
  free (t->name);
  free (t);
}

/* Index of lun in t->luns, or where it would go (*found false). */
static size_t
find_lun (const struct scsi_target *t, uint16_t lun, bool *found)
{
  size_t lo = 0, hi = t->nluns;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->luns[mid].lun < lun)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = lo < t->nluns && t->luns[lo].lun == lun;
  return lo;
}

static int
grow_luns (struct scsi_target *t)
{
  size_t cap = t->luns_cap ? 2 * t->luns_cap : 8;
  struct xs_lun_entry *n;

  if (t->nluns < t->luns_cap)
    return 0;
  n = realloc (t->luns, cap * sizeof *n);
  if (n == NULL)
    return -ENOMEM;
  t->luns = n;
  t->luns_cap = cap;
  return 0;
}

int
scsi_target_add_lu (struct scsi_target *t, uint16_t lun, struct scsi_lu *lu)
{
  bool found;
  size_t i;
  int r = 0;

  if (lun > SCSI_LUN_MAX || lu == NULL)
    return lu ? -ERANGE : -EINVAL;
  pthread_mutex_lock (&t->lock);
  i = find_lun (t, lun, &found);
  if (found)
    r = -EEXIST;
  else if ((r = grow_luns (t)) == 0) {
    memmove (&t->luns[i + 1], &t->luns[i],
             (t->nluns - i) * sizeof t->luns[0]);
    t->luns[i].lun = lun;
    t->luns[i].lu = scsi_lu_ref (lu);
    t->nluns++;
    atomic_fetch_add (&t->luns_gen, 1);
  }
  pthread_mutex_unlock (&t->lock);
  return r;
}

int
scsi_target_remove_lu (struct scsi_target *t, uint16_t lun)
{
  struct scsi_lu *lu = NULL;
  bool found;
  size_t i;

  pthread_mutex_lock (&t->lock);
  i = find_lun (t, lun, &found);
  if (found) {
    lu = t->luns[i].lu;
    memmove (&t->luns[i], &t->luns[i + 1],
             (t->nluns - i - 1) * sizeof t->luns[0]);
    t->nluns--;
    atomic_fetch_add (&t->luns_gen, 1);
  }
  pthread_mutex_unlock (&t->lock);
  scsi_lu_unref (lu);
  return found ? 0 : -ENOENT;
}

struct scsi_lu *
scsi_target_lu (struct scsi_target *t, uint16_t lun)
{
  struct scsi_lu *lu = NULL;
  bool found;
  size_t i;

  pthread_mutex_lock (&t->lock);
  i = find_lun (t, lun, &found);
  if (found)
    lu = scsi_lu_ref (t->luns[i].lu);
  pthread_mutex_unlock (&t->lock);
  return lu;
}

bool
scsi_nexus_may_access (const struct scsi_nexus *n, uint16_t lun,
                       const struct scsi_lu *lu)
{
  const struct scsi_target *t = n->target;

  return t->access == NULL || t->access (t->access_opaque, n, lun, lu);
}

int
xs_nexus_luns (struct scsi_nexus *n, struct xs_lun_entry **out,
               size_t *count)
{
  struct scsi_target *t = n->target;
  struct xs_lun_entry *l;
  size_t k = 0;

  pthread_mutex_lock (&t->lock);
  l = malloc ((t->nluns ? t->nluns : 1) * sizeof *l);
  if (l == NULL) {
    pthread_mutex_unlock (&t->lock);
    return -ENOMEM;
  }
  for (size_t i = 0; i < t->nluns; i++)
    if (scsi_nexus_may_access (n, t->luns[i].lun, t->luns[i].lu)) {
      l[k].lun = t->luns[i].lun;
      l[k++].lu = scsi_lu_ref (t->luns[i].lu);
    }
  pthread_mutex_unlock (&t->lock);
  *out = l;
  *count = k;
  return 0;
}

void
xs_lun_list_free (struct xs_lun_entry *l, size_t count)
{
  for (size_t i = 0; i < count; i++)
    scsi_lu_unref (l[i].lu);
  free (l);
}

int
scsi_nexus_foreach_lu (struct scsi_nexus *n,
                       int (*fn) (void *opaque, uint16_t lun,
                                  struct scsi_lu *lu),
                       void *opaque)
{
  struct xs_lun_entry *l;
  size_t count;
  int r = xs_nexus_luns (n, &l, &count);

  if (r < 0)
    return r;
  for (size_t i = 0; i < count && r == 0; i++)
    r = fn (opaque, l[i].lun, l[i].lu);
  xs_lun_list_free (l, count);
  return r;
}

/* Does the designation descriptor d (4 + d[3] bytes) name one of lu's
 * logical-unit designators?  Code set, association, type and bytes must
 * match; PROTOCOL IDENTIFIER and PIV do not matter for association 0.
 */
static bool
lu_has_designator (const struct scsi_lu *lu, const uint8_t *d, size_t len)
{
  uint8_t buf[256];
  size_t n = xs_lu_designators (lu, buf, sizeof buf), p = 0;

  while (p + 4 <= n) {
    const uint8_t *e = buf + p;
    size_t elen = 4 + (size_t) e[3];
    if (elen == len && (e[0] & 0x0f) == (d[0] & 0x0f)
        && (e[1] & 0x3f) == (d[1] & 0x3f)
        && memcmp (e + 4, d + 4, e[3]) == 0)
      return true;
    p += elen;
  }
  return false;
}

struct scsi_lu *
scsi_nexus_find_lu (struct scsi_nexus *n, const uint8_t *desig, size_t len)
{
  struct scsi_lu *found = NULL;
  struct xs_lun_entry *l;
  size_t count;

  if (desig == NULL || len < 4 || len != 4 + (size_t) desig[3]
      || ((desig[1] >> 4) & 3) != 0)
    return NULL;
  if (xs_nexus_luns (n, &l, &count) < 0)
    return NULL;
  for (size_t i = 0; i < count && found == NULL; i++)
    if (lu_has_designator (l[i].lu, desig, len))
      found = scsi_lu_ref (l[i].lu);
  xs_lun_list_free (l, count);
  return found;
}
