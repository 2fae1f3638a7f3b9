/* xcopyd: SCSI Command, Data-Out and R2T, Data-In and SCSI Response
 * (RFC 7143 11.3-11.8), and the CmdSN window (4.2.2.1).
 *
 * A write's data lands in the task's buffer: immediate data and Data-Out
 * segments are read straight from the socket into it.  Once complete the
 * command goes to scsi_submit(); the completion sends Data-In (with the
 * status collapsed into the last one when it is GOOD without sense) or a
 * SCSI Response, from the SCSI worker, under the connection's send lock.
 */
#include <errno.h>
#include <string.h>

#include "iscsi-int.h"
#include "../scsi/be.h"

#define CMD_R 0x40
#define CMD_W 0x20
#define MAX_EDTL (64u << 20)    /* largest buffer one command may need */
#define FREE_TASKS_MAX 64
#define KEEP_BUF_MAX (1u << 20)
/* What the initiator's commands may pin in data buffers at once, and how
 * many immediate commands (outside the CmdSN window) may be open: beyond
 * either, a command ends TASK SET FULL before anything is allocated.
 */
#define CONN_BUF_MAX (256u << 20)
#define IMMEDIATE_MAX 16

/* ---- CmdSN window ---- */

void
iscsi_session_window (struct iscsi_session *s, uint32_t *exp, uint32_t *max)
{
  pthread_mutex_lock (&s->lock);
  *exp = s->exp_cmdsn;
  *max = s->exp_cmdsn + s->window - 1 - s->queued;
  pthread_mutex_unlock (&s->lock);
}

/* A non-immediate request: accept it (advancing ExpCmdSN; a SCSI command
 * holds a window slot until answered) or, outside the window, ignore it
 * silently (RFC 7143 4.2.2.1).
 */
bool
iscsi_cmdsn_accept (struct iscsi_session *s, const uint8_t *bhs, bool hold)
{
  uint32_t sn = get_be32 (bhs + 24);
  bool ok;

  if (bhs[0] & BHS_I)
    return true;
  pthread_mutex_lock (&s->lock);
  ok = sn == s->exp_cmdsn && s->queued < s->window;
  if (ok) {
    s->exp_cmdsn++;
    if (hold)
      s->queued++;
  }
  pthread_mutex_unlock (&s->lock);
  return ok;
}

static void
release_slot (struct iscsi_session *s)
{
  pthread_mutex_lock (&s->lock);
  s->queued--;
  pthread_mutex_unlock (&s->lock);
}

/* ---- Tasks ---- */

static struct iscsi_task *
task_get (struct iscsi_conn *c, size_t need)
{
  struct iscsi_task *t;

  pthread_mutex_lock (&c->task_lock);
  if ((t = c->free_tasks) != NULL) {
    c->free_tasks = t->next_free;
    c->nfree--;
  }
  pthread_mutex_unlock (&c->task_lock);
  if (t == NULL)
    t = g_new0 (struct iscsi_task, 1);
  if (t->buf_cap < need) {
    g_free (t->buf);
    t->buf = g_malloc (need);
    t->buf_cap = need;
  }
  {
    uint8_t *buf = t->buf;
    size_t cap = t->buf_cap;
    memset (t, 0, sizeof *t);
    t->buf = buf;
    t->buf_cap = cap;
  }
  t->conn = c;
  return t;
}

/* Caller holds task_lock: keep t for reuse or free it. */
static void
task_put_locked (struct iscsi_conn *c, struct iscsi_task *t)
{
  if (c->nfree < FREE_TASKS_MAX && t->buf_cap <= KEEP_BUF_MAX) {
    t->next_free = c->free_tasks;
    c->free_tasks = t;
    c->nfree++;
    return;
  }
  g_free (t->buf);
  g_free (t);
}

void
iscsi_task_put (struct iscsi_conn *c, struct iscsi_task *t)
{
  pthread_mutex_lock (&c->task_lock);
  task_put_locked (c, t);
  pthread_mutex_unlock (&c->task_lock);
}

void
iscsi_task_unlink_locked (struct iscsi_conn *c, struct iscsi_task *t)
{
  if (g_hash_table_lookup (c->tasks, GUINT_TO_POINTER (t->itt)) == t)
    g_hash_table_remove (c->tasks, GUINT_TO_POINTER (t->itt));
  if (t->charged > 0) {
    c->buf_bytes -= t->charged;
    t->charged = 0;
    if (t->immediate)
      c->immediate--;
  }
}

/* Drop t from the table and recycle it in one step: once running falls
 * to 0 the reader's teardown empties the free list and frees the
 * connection, so nothing may reach c after the count drops.
 */
void
iscsi_task_forget (struct iscsi_conn *c, struct iscsi_task *t)
{
  pthread_mutex_lock (&c->task_lock);
  iscsi_task_unlink_locked (c, t);
  if (t->submitted)
    c->running--;
  task_put_locked (c, t);
  pthread_cond_broadcast (&c->task_done);
  pthread_mutex_unlock (&c->task_lock);
}

/* ---- Completion: Data-In and SCSI Response ---- */

static uint8_t
resid_flags (struct iscsi_task *t, uint32_t *count)
{
  uint64_t n = 0;
  enum scsi_resid r = scsi_cmd_residual (&t->cmd, t->edtl, &n);

  *count = n > UINT32_MAX ? UINT32_MAX : (uint32_t) n;
  return r == SCSI_RESID_OVER ? 0x04 : r == SCSI_RESID_UNDER ? 0x02 : 0;
}

/* Data-In PDUs for len bytes; the last carries the status when collapse. */
static int
send_data_in (struct iscsi_conn *c, struct iscsi_task *t, size_t len,
              bool collapse, uint32_t *datasn)
{
  const struct iscsi_params *p = &c->sess->params;
  size_t off = 0, burst = 0;
  int r = 0;

  while (off < len && r == 0) {
    size_t n = MIN (len - off, (size_t) c->max_send_dsl);
    uint8_t bhs[ISCSI_BHS_LEN] = { OP_DATA_IN };
    struct iovec v = { t->buf + off, 0 };
    bool last = off + n == len;

    n = MIN (n, (size_t) p->max_burst - burst);
    v.iov_len = n;
    last = off + n == len;
    burst += n;
    /* RFC 7143 11.7.1: F ends each MaxBurstLength sequence. */
    if (last || burst == p->max_burst) {
      bhs[1] = BHS_F;
      burst = 0;
    }
    memcpy (bhs + 8, t->lun_field, 8);
    put_be32 (bhs + 16, t->itt);
    put_be32 (bhs + 20, ISCSI_RSVD_TAG);
    put_be32 (bhs + 36, (*datasn)++);
    put_be32 (bhs + 40, (uint32_t) off);
    if (last && collapse) {
      uint32_t count;
      bhs[1] |= 0x01 | resid_flags (t, &count);
      bhs[3] = t->cmd.status;
      put_be32 (bhs + 44, count);
      iscsi_conn_fill_sn (c, bhs, true);
    } else {
      iscsi_conn_fill_sn (c, bhs, false);
      put_be32 (bhs + 24, 0);
    }
    r = iscsi_conn_send_locked (c, bhs, &v, 1, n, !last);
    off += n;
  }
  return r;
}

static int
send_response (struct iscsi_conn *c, struct iscsi_task *t, uint32_t datasn)
{
  uint8_t bhs[ISCSI_BHS_LEN] = { OP_SCSI_RSP, BHS_F, 0, t->cmd.status };
  uint8_t len2[2];
  struct iovec v[2] = { { len2, 2 }, { t->cmd.sense, t->cmd.sense_len } };
  uint32_t count;

  bhs[1] |= resid_flags (t, &count);
  put_be32 (bhs + 16, t->itt);
  put_be32 (bhs + 36, datasn);
  put_be32 (bhs + 44, count);
  iscsi_conn_fill_sn (c, bhs, true);
  put_be16 (len2, (uint16_t) t->cmd.sense_len);
  if (t->cmd.sense_len == 0)
    return iscsi_conn_send_locked (c, bhs, NULL, 0, 0, false);
  return iscsi_conn_send_locked (c, bhs, v, 2, 2 + t->cmd.sense_len, false);
}

static void
answer (struct iscsi_conn *c, struct iscsi_task *t)
{
  size_t len = t->read ? MIN (t->cmd.data_in_len, (size_t) t->edtl) : 0;
  bool collapse = len > 0 && t->cmd.status == SCSI_STATUS_GOOD &&
    t->cmd.sense_len == 0;
  uint32_t datasn = 0;
  bool aborted;

  if (!t->immediate)
    release_slot (c->sess);
  /* The reader sets aborted under task_lock (abort_tasks). */
  pthread_mutex_lock (&c->task_lock);
  aborted = t->aborted;
  pthread_mutex_unlock (&c->task_lock);
  if (aborted)                  /* ABORT TASK: no status for it */
    return;
  pthread_mutex_lock (&c->send_lock);
  if (send_data_in (c, t, len, collapse, &datasn) == 0 && !collapse)
    send_response (c, t, t->read ? datasn : t->r2tsn);
  pthread_mutex_unlock (&c->send_lock);
  atomic_fetch_add (&c->sess->bytes_out, len);
  if (t->write)
    atomic_fetch_add (&c->sess->bytes_in, t->edtl);
}

static void
cmd_done (struct scsi_cmd *cmd, void *opaque)
{
  struct iscsi_task *t = opaque;
  struct iscsi_conn *c = t->conn;

  (void) cmd;
  answer (c, t);
  iscsi_task_forget (c, t);     /* t and perhaps c are gone after this */
}

static void
submit (struct iscsi_conn *c, struct iscsi_task *t)
{
  struct scsi_cmd *sc = &t->cmd;

  sc->cdb = t->cdb;
  sc->cdb_len = sizeof t->cdb;
  sc->lun = scsi_lun_decode (t->lun_field);
  sc->data_out = t->write ? t->buf : NULL;
  sc->data_out_len = t->write ? t->edtl : 0;
  sc->data_in = t->read ? t->buf : NULL;
  sc->data_in_cap = t->read ? t->edtl : 0;
  atomic_fetch_add (&c->srv->st.commands, 1);
  atomic_fetch_add (&c->sess->commands, 1);
  pthread_mutex_lock (&c->task_lock);
  t->submitted = true;
  c->running++;
  pthread_mutex_unlock (&c->task_lock);
  if (scsi_submit (c->sess->nexus, sc, cmd_done, t) < 0) {
    sc->status = SCSI_STATUS_BUSY;
    sc->sense_len = 0;
    sc->data_in_len = 0;
    cmd_done (sc, t);
  }
}

/* ---- R2T ---- */

static int
send_r2ts (struct iscsi_conn *c, struct iscsi_task *t)
{
  const struct iscsi_params *p = &c->sess->params;
  int r = 0;

  pthread_mutex_lock (&c->send_lock);
  while (r == 0 && t->r2t_offset < t->edtl &&
         t->outstanding_r2t < p->max_outstanding_r2t) {
    uint8_t bhs[ISCSI_BHS_LEN] = { OP_R2T, BHS_F };
    uint32_t len = MIN (t->edtl - t->r2t_offset, p->max_burst);

    memcpy (bhs + 8, t->lun_field, 8);
    put_be32 (bhs + 16, t->itt);
    put_be32 (bhs + 20, t->ttt);
    iscsi_conn_fill_sn (c, bhs, false);
    put_be32 (bhs + 36, t->r2tsn++);
    put_be32 (bhs + 40, t->r2t_offset);
    put_be32 (bhs + 44, len);
    r = iscsi_conn_send_locked (c, bhs, NULL, 0, 0, false);
    t->r2t_offset += len;
    t->outstanding_r2t++;
  }
  pthread_mutex_unlock (&c->send_lock);
  return r;
}

/* All data in: run it; else ask for what is missing once the
 * unsolicited part is over.
 */
static int
progress (struct iscsi_conn *c, struct iscsi_task *t, bool unsolicited_over)
{
  if (!t->write || t->received == t->edtl) {
    submit (c, t);
    return 0;
  }
  if (unsolicited_over && t->r2t_offset < t->received)
    t->r2t_offset = t->received;
  if (unsolicited_over || t->outstanding_r2t > 0)
    return send_r2ts (c, t);
  return 0;
}

/* ---- SCSI Command ---- */

static int
check_cmd (struct iscsi_conn *c, const struct iscsi_rx *rx, uint8_t *reason)
{
  const struct iscsi_params *p = &c->sess->params;
  uint8_t fl = rx->bhs[1];
  uint32_t edtl = get_be32 (rx->bhs + 20);

  *reason = REJ_INVALID_FIELD;
  if (rx->ahs_len > 0) {        /* extended CDB or bidirectional */
    *reason = REJ_CMD_NOT_SUPPORTED;
    return -1;
  }
  if ((fl & CMD_R) && (fl & CMD_W))
    return -1;
  if (edtl > MAX_EDTL) {
    *reason = REJ_OUT_OF_RESOURCES;
    return -1;
  }
  if (rx->dsl > 0 && (!(fl & CMD_W) || !p->immediate_data ||
                      rx->dsl > p->first_burst || rx->dsl > edtl)) {
    *reason = REJ_PROTOCOL;
    return -1;
  }
  return 0;
}

static struct iscsi_task *
new_task (struct iscsi_conn *c, const struct iscsi_rx *rx)
{
  uint8_t fl = rx->bhs[1];
  uint32_t edtl = get_be32 (rx->bhs + 20);
  bool rw = fl & (CMD_R | CMD_W);
  struct iscsi_task *t = task_get (c, rw ? edtl : 0);

  memcpy (t->cdb, rx->bhs + 32, 16);
  memcpy (t->lun_field, rx->bhs + 8, 8);
  t->itt = get_be32 (rx->bhs + 16);
  t->edtl = rw ? edtl : 0;
  t->read = fl & CMD_R;
  t->write = fl & CMD_W;
  t->immediate = rx->bhs[0] & BHS_I;
  t->cmdsn = get_be32 (rx->bhs + 24);
  return t;
}

/* Reserve what a command will pin before allocating anything for it:
 * EDTL comes from the initiator, and 128 queued commands of 64 MiB
 * each must not become 8 GiB of buffers before any data arrived.
 */
static bool
reserve (struct iscsi_conn *c, size_t need, bool immediate)
{
  bool ok;

  need += sizeof (struct iscsi_task);
  pthread_mutex_lock (&c->task_lock);
  ok = need <= CONN_BUF_MAX - c->buf_bytes &&
    (!immediate || c->immediate < IMMEDIATE_MAX);
  if (ok) {
    c->buf_bytes += need;
    c->immediate += immediate;
  }
  pthread_mutex_unlock (&c->task_lock);
  return ok;
}

static bool
register_task (struct iscsi_conn *c, struct iscsi_task *t, size_t charged)
{
  bool ok;

  pthread_mutex_lock (&c->task_lock);
  t->charged = charged + sizeof (struct iscsi_task);
  ok = !g_hash_table_contains (c->tasks, GUINT_TO_POINTER (t->itt));
  if (ok) {
    t->ttt = c->next_ttt++;
    if (t->ttt == ISCSI_RSVD_TAG)
      t->ttt = c->next_ttt++;
    g_hash_table_insert (c->tasks, GUINT_TO_POINTER (t->itt), t);
  } else {
    iscsi_task_unlink_locked (c, t);
  }
  pthread_mutex_unlock (&c->task_lock);
  return ok;
}

/* SAM-5 5.3: TASK SET FULL when we lack the resources for a command; the
 * initiator retries once others have ended.  No data moved.
 */
static int
task_set_full (struct iscsi_conn *c, const struct iscsi_rx *rx)
{
  uint8_t rsp[ISCSI_BHS_LEN] = { OP_SCSI_RSP, BHS_F, 0,
                                 SCSI_STATUS_TASK_SET_FULL };
  uint32_t edtl = get_be32 (rx->bhs + 20);
  int r;

  if ((r = iscsi_conn_skip_data (c, rx->dsl)) < 0)
    return r;
  if (!(rx->bhs[0] & BHS_I))
    release_slot (c->sess);
  if (edtl > 0 && (rx->bhs[1] & (CMD_R | CMD_W))) {
    rsp[1] |= 0x02;             /* underflow: nothing of EDTL moved */
    put_be32 (rsp + 44, edtl);
  }
  put_be32 (rsp + 16, get_be32 (rx->bhs + 16));
  return iscsi_conn_send_status (c, rsp, NULL, 0);
}

/* A command we reject still used up its CmdSN (the initiator has moved
 * on to the next): without this every later command lies outside the
 * window and the session stalls.
 */
static int
reject_cmd (struct iscsi_conn *c, const struct iscsi_rx *rx, uint8_t reason)
{
  int r;

  if ((r = iscsi_conn_skip_data (c, rx->dsl)) < 0)
    return r;
  iscsi_cmdsn_accept (c->sess, rx->bhs, false);
  iscsi_conn_reject (c, reason, rx->bhs);
  return reason == REJ_PROTOCOL ? -EPROTO : 0;
}

int
iscsi_cmd_receive (struct iscsi_conn *c, const struct iscsi_rx *rx)
{
  const struct iscsi_params *p = &c->sess->params;
  bool rw = rx->bhs[1] & (CMD_R | CMD_W);
  size_t need = rw ? get_be32 (rx->bhs + 20) : 0;
  struct iscsi_task *t;
  uint8_t reason;
  int r;

  if (check_cmd (c, rx, &reason) < 0)
    return reject_cmd (c, rx, reason);
  if (!iscsi_cmdsn_accept (c->sess, rx->bhs, true))
    return iscsi_conn_skip_data (c, rx->dsl);
  if (!reserve (c, need, rx->bhs[0] & BHS_I))
    return task_set_full (c, rx);
  t = new_task (c, rx);
  if (!register_task (c, t, need)) {
    if (!t->immediate)
      release_slot (c->sess);
    iscsi_task_put (c, t);
    if ((r = iscsi_conn_skip_data (c, rx->dsl)) == 0)
      iscsi_conn_reject (c, REJ_TASK_IN_PROGRESS, rx->bhs);
    return r;
  }
  /* The initiator owns this task now: a failed read leaves it in the
   * table for the teardown to free.
   */
  if ((r = iscsi_conn_read_data (c, t->buf, rx->dsl)) < 0)
    return r;
  t->received = rx->dsl;
  /* RFC 7143 11.3.1: F means no unsolicited Data-Out follows; else they
   * may come up to FirstBurstLength.
   */
  t->unsolicited_end = (rx->bhs[1] & BHS_F) || p->initial_r2t || !t->write
    ? t->received : MIN (t->edtl, p->first_burst);
  t->r2t_offset = t->unsolicited_end;
  return progress (c, t, t->received >= t->unsolicited_end);
}

/* ---- Data-Out ---- */

static struct iscsi_task *
find_task (struct iscsi_conn *c, uint32_t itt)
{
  struct iscsi_task *t;

  pthread_mutex_lock (&c->task_lock);
  t = g_hash_table_lookup (c->tasks, GUINT_TO_POINTER (itt));
  if (t && t->submitted)
    t = NULL;
  pthread_mutex_unlock (&c->task_lock);
  return t;
}

/* RFC 7143 11.7: in order (DataPDUInOrder=Yes), DataSN from 0 within
 * each sequence, inside what was sent unsolicited or solicited.
 */
static bool
data_out_ok (const struct iscsi_task *t, const struct iscsi_rx *rx)
{
  uint32_t ttt = get_be32 (rx->bhs + 20), off = get_be32 (rx->bhs + 40);
  bool unsolicited = ttt == ISCSI_RSVD_TAG;
  uint32_t limit = unsolicited ? t->unsolicited_end : t->r2t_offset;

  if (unsolicited ? t->outstanding_r2t > 0 || t->received >= limit
      : ttt != t->ttt || t->outstanding_r2t == 0)
    return false;
  return get_be32 (rx->bhs + 36) == t->exp_datasn && off == t->received &&
    rx->dsl <= limit - off;
}

/* ERL 0 keeps the connection: a task whose Data-Out went wrong swallows
 * the rest of its data and ends with CHECK CONDITION, ABORTED COMMAND,
 * DATA PHASE ERROR (SPC-4 table 48) once the initiator is done sending.
 */
static void
fail_task (struct iscsi_task *t)
{
  static const uint8_t sense[18] = { 0x70, 0, SCSI_SK_ABORTED_COMMAND, 0, 0,
                                     0, 0, 10, 0, 0, 0, 0, 0x4b, 0x00 };

  t->cmd.status = SCSI_STATUS_CHECK_CONDITION;
  memcpy (t->cmd.sense, sense, sizeof sense);
  t->cmd.sense_len = sizeof sense;
  t->cmd.dir = SCSI_DIR_OUT;
  t->cmd.xfer_len = t->edtl;
  cmd_done (&t->cmd, t);
}

int
iscsi_data_out_receive (struct iscsi_conn *c, const struct iscsi_rx *rx)
{
  struct iscsi_task *t = find_task (c, get_be32 (rx->bhs + 16));
  bool fin = rx->bhs[1] & BHS_F, unsolicited;
  int r;

  /* A command we ignored (outside the window) or answered already. */
  if (t == NULL)
    return iscsi_conn_skip_data (c, rx->dsl);
  if (t->failed || !data_out_ok (t, rx)) {
    t->failed = true;
    if ((r = iscsi_conn_skip_data (c, rx->dsl)) == 0 && fin)
      fail_task (t);
    return r;
  }
  unsolicited = get_be32 (rx->bhs + 20) == ISCSI_RSVD_TAG;
  if ((r = iscsi_conn_read_data (c, t->buf + t->received, rx->dsl)) < 0)
    return r;
  t->received += rx->dsl;
  t->exp_datasn++;
  if (!fin)
    return 0;
  t->exp_datasn = 0;
  if (!unsolicited)
    t->outstanding_r2t--;
  else if (t->received != t->unsolicited_end) {
    /* The burst ended early: solicit from where it stopped. */
    t->unsolicited_end = t->received;
    t->r2t_offset = t->received;
  }
  return progress (c, t, true);
}
