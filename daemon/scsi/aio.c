/* xcopyd: READ and WRITE without a worker thread.
 *
 * Every other command runs whole on the target's workers (scsi_submit).
 * A READ or WRITE whose backend has aio_pread/aio_pwrite instead runs
 * its checks on the submitting thread (the transport's reader), hands
 * the I/O to the backend and completes on the backend's completion
 * thread.  No worker hand-off per I/O, and as many I/Os in flight as the
 * initiator sends on a few threads: what a backend in another process
 * (the daemon's NBD client) needs to keep up with one in process.
 *
 * What would block goes to a worker as before: a write overlapping a
 * range that a copy or another write holds, an I/O the backend cannot
 * start now.  Checks run in arrival order either way, so a unit
 * attention is reported by the first command that arrives after it.
 */
#include <errno.h>
#include <stdlib.h>

#include "scsi-int.h"

static void
finish (struct xs_aio *a, enum xs_status s)
{
  struct scsi_nexus *n = a->t.nexus;
  struct scsi_cmd *cmd = a->t.cmd;

  xs_task_end (&a->t, s);
  a->done (cmd, a->opaque);
  free (a);
  xs_nexus_hold (n, -1);
}

void
xs_aio_end (void *opaque, int err)
{
  struct xs_aio *a = opaque;
  enum xs_status s = XS_GOOD;

  if (a->write)
    xs_unlock (&a->hold);
  if (err < 0)
    s = xs_from_errno (-err, a->write);
  else if (!a->write)
    a->t.cmd->data_in_len = a->len;
  finish (a, s);
}

static void
run_deferred (void *arg)
{
  struct xs_aio *a = arg;

  finish (a, a->t.desc->fn (&a->t));
}

bool
xs_aio_submit (struct scsi_nexus *n, struct scsi_cmd *cmd,
               void (*done) (struct scsi_cmd *cmd, void *opaque),
               void *opaque)
{
  const struct xs_cmd_desc *d = xs_lookup (cmd->cdb, cmd->cdb_len);
  struct xs_aio *a;
  enum xs_status s;

  if (d == NULL || d->aio == NULL || (a = calloc (1, sizeof *a)) == NULL)
    return false;
  a->done = done;
  a->opaque = opaque;
  xs_nexus_hold (n, 1);
  xs_task_begin (&a->t, n, cmd);
  if ((s = xs_task_check (&a->t)) == XS_GOOD) {
    switch (a->t.desc->aio (a, &s)) {
    case XS_AIO_STARTED:
      return true;              /* a may be gone already */
    case XS_AIO_DONE:
      break;
    case XS_AIO_DEFER:
      if (xs_workq_push (n->target->workq, run_deferred, a) == 0)
        return true;
      s = XS_BUSY;
      break;
    }
  }
  finish (a, s);
  return true;
}
