/* xcopyd: the non-command requests of the full feature phase: Task
 * Management (RFC 7143 11.5-11.6), NOP-Out (11.18), Logout (11.14-11.15)
 * and Text with SendTargets (11.10-11.11, appendix C).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "iscsi-int.h"
#include "../scsi/be.h"

/* TMF functions and responses (11.5.1, 11.6.1). */
enum {
  TMF_ABORT_TASK = 1,
  TMF_ABORT_TASK_SET = 2,
  TMF_CLEAR_ACA = 3,
  TMF_CLEAR_TASK_SET = 4,
  TMF_LUN_RESET = 5,
  TMF_TARGET_WARM_RESET = 6,
  TMF_TARGET_COLD_RESET = 7,
  TMF_TASK_REASSIGN = 8,
};
enum {
  TMF_COMPLETE = 0,
  TMF_NO_TASK = 1,
  TMF_NO_LUN = 2,
  TMF_NO_REASSIGN = 4,
  TMF_NOT_SUPPORTED = 5,
};

/* ---- Task Management ---- */

/* Abort every task for which match() holds and wait until none of them
 * is left: the aborted ones end without status (SAM-5 7.2).  Tasks still
 * waiting for data never reached the SCSI layer and go at once.
 */
static void
abort_tasks (struct iscsi_conn *c, bool (*match) (struct iscsi_task *, const void *),
             const void *arg)
{
  GHashTableIter it;
  gpointer v;
  bool left;

  pthread_mutex_lock (&c->task_lock);
  g_hash_table_iter_init (&it, c->tasks);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    struct iscsi_task *t = v;
    if (!match (t, arg))
      continue;
    t->aborted = true;
    atomic_store (&t->cmd.abort, true);
    if (!t->submitted) {
      g_hash_table_iter_remove (&it);
      iscsi_task_unlink_locked (c, t);
      if (!t->immediate) {
        pthread_mutex_lock (&c->sess->lock);
        c->sess->queued--;
        pthread_mutex_unlock (&c->sess->lock);
      }
      g_free (t->buf);
      g_free (t);
    }
  }
  do {
    left = false;
    g_hash_table_iter_init (&it, c->tasks);
    while (!left && g_hash_table_iter_next (&it, NULL, &v))
      left = ((struct iscsi_task *) v)->aborted;
    if (left)
      pthread_cond_wait (&c->task_done, &c->task_lock);
  } while (left);
  pthread_mutex_unlock (&c->task_lock);
}

static bool
match_itt (struct iscsi_task *t, const void *arg)
{
  return t->itt == *(const uint32_t *) arg;
}

static bool
match_lun (struct iscsi_task *t, const void *arg)
{
  return memcmp (t->lun_field, arg, 8) == 0;
}

static bool
match_all (struct iscsi_task *t, const void *arg)
{
  (void) t;
  (void) arg;
  return true;
}

static bool
task_exists (struct iscsi_conn *c, uint32_t itt)
{
  bool r;

  pthread_mutex_lock (&c->task_lock);
  r = g_hash_table_contains (c->tasks, GUINT_TO_POINTER (itt));
  pthread_mutex_unlock (&c->task_lock);
  return r;
}

/* RFC 7143 11.5.1: an unknown task whose RefCmdSN lies in the window
 * before the TMF itself counts as received and aborted.
 */
static uint8_t
abort_task (struct iscsi_conn *c, const uint8_t *bhs)
{
  uint32_t rtt = get_be32 (bhs + 20), ref = get_be32 (bhs + 32);
  uint32_t exp, max;

  if (!task_exists (c, rtt)) {
    iscsi_session_window (c->sess, &exp, &max);
    return (int32_t) (ref - exp) >= 0 && (int32_t) (ref - get_be32 (bhs + 24)) < 0
      ? TMF_COMPLETE : TMF_NO_TASK;
  }
  abort_tasks (c, match_itt, &rtt);
  return TMF_COMPLETE;
}

static int
reset_lu_cb (void *opaque, uint16_t lun, struct scsi_lu *lu)
{
  (void) opaque;
  (void) lun;
  scsi_lu_reset (lu);
  return 0;
}

static uint8_t
lun_reset (struct iscsi_conn *c, const uint8_t *bhs)
{
  uint16_t lun = scsi_lun_decode (bhs + 8);
  struct scsi_lu *lu;

  lu = lun == SCSI_LUN_INVALID ? NULL
    : scsi_target_lu (c->sess->tgt->scsi, lun);
  if (lu == NULL || !scsi_nexus_may_access (c->sess->nexus, lun, lu)) {
    if (lu)
      scsi_lu_unref (lu);
    return TMF_NO_LUN;
  }
  abort_tasks (c, match_lun, bhs + 8);
  scsi_lu_reset (lu);
  scsi_lu_unref (lu);
  return TMF_COMPLETE;
}

static uint8_t
tmf_run (struct iscsi_conn *c, const uint8_t *bhs)
{
  switch (bhs[1] & 0x7f) {
  case TMF_ABORT_TASK:
    return abort_task (c, bhs);
  case TMF_ABORT_TASK_SET:
  case TMF_CLEAR_TASK_SET:
    abort_tasks (c, match_lun, bhs + 8);
    return TMF_COMPLETE;
  case TMF_LUN_RESET:
    return lun_reset (c, bhs);
  case TMF_TARGET_WARM_RESET:
    abort_tasks (c, match_all, NULL);
    scsi_nexus_foreach_lu (c->sess->nexus, reset_lu_cb, NULL);
    return TMF_COMPLETE;
  case TMF_TASK_REASSIGN:
    return TMF_NO_REASSIGN;     /* ErrorRecoveryLevel 0 */
  default:
    return TMF_NOT_SUPPORTED;
  }
}

int
iscsi_tmf_receive (struct iscsi_conn *c, const struct iscsi_rx *rx)
{
  uint8_t rsp[ISCSI_BHS_LEN] = { OP_TMF_RSP, BHS_F };
  int r;

  if ((r = iscsi_conn_skip_data (c, rx->dsl)) < 0)
    return r;
  if (!iscsi_cmdsn_accept (c->sess, rx->bhs, false))
    return 0;
  rsp[2] = tmf_run (c, rx->bhs);
  put_be32 (rsp + 16, get_be32 (rx->bhs + 16));
  return iscsi_conn_send_status (c, rsp, NULL, 0);
}

/* ---- NOP-Out ---- */

int
iscsi_nop_receive (struct iscsi_conn *c, const struct iscsi_rx *rx)
{
  uint8_t rsp[ISCSI_BHS_LEN] = { OP_NOP_IN, BHS_F };
  uint32_t itt = get_be32 (rx->bhs + 16);
  int r;

  if (rx->dsl + 1 > c->text_cap) {
    c->text = g_realloc (c->text, rx->dsl + 1);
    c->text_cap = rx->dsl + 1;
  }
  if ((r = iscsi_conn_read_data (c, c->text, rx->dsl)) < 0)
    return r;
  if (itt != ISCSI_RSVD_TAG && !(rx->bhs[0] & BHS_I) &&
      !iscsi_cmdsn_accept (c->sess, rx->bhs, false))
    return 0;
  /* An answer to a NOP-In of ours, or a ping wanting no answer. */
  if (itt == ISCSI_RSVD_TAG)
    return 0;
  memcpy (rsp + 8, rx->bhs + 8, 8);
  put_be32 (rsp + 16, itt);
  put_be32 (rsp + 20, ISCSI_RSVD_TAG);
  return iscsi_conn_send_status (c, rsp, c->text,
                                 MIN (rx->dsl, c->max_send_dsl));
}

/* ---- Logout ---- */

int
iscsi_logout_receive (struct iscsi_conn *c, const struct iscsi_rx *rx)
{
  uint8_t rsp[ISCSI_BHS_LEN] = { OP_LOGOUT_RSP, BHS_F };
  unsigned reason = rx->bhs[1] & 0x7f;
  int r;

  if ((r = iscsi_conn_skip_data (c, rx->dsl)) < 0)
    return r;
  if (!iscsi_cmdsn_accept (c->sess, rx->bhs, false))
    return 0;
  put_be32 (rsp + 16, get_be32 (rx->bhs + 16));
  if (reason == 2)
    rsp[2] = 2;                 /* connection recovery not supported */
  else if (reason > 2) {
    iscsi_conn_reject (c, REJ_INVALID_FIELD, rx->bhs);
    return 0;
  } else {
    /* Let running commands answer first (RFC 7143 11.14). */
    pthread_mutex_lock (&c->task_lock);
    while (c->running > 0)
      pthread_cond_wait (&c->task_done, &c->task_lock);
    pthread_mutex_unlock (&c->task_lock);
    c->logout = true;
  }
  return iscsi_conn_send_status (c, rsp, NULL, 0);
}

/* ---- Text and SendTargets ---- */

bool
iscsi_tgt_allows (const struct iscsi_tgt *t, const char *initiator)
{
  if (t->acl == NULL || t->acl[0] == NULL)
    return true;
  for (char **a = t->acl; *a; a++)
    if (g_ascii_strcasecmp (*a, initiator) == 0)
      return true;
  return false;
}

static void
add_target (struct iscsi_server *s, const struct iscsi_tgt *t,
            const char *local, GString *out)
{
  iscsi_text_add (out, "TargetName", t->iqn);
  for (guint i = 0; i < s->portals->len; i++) {
    const struct iscsi_portal *p = g_ptr_array_index (s->portals, i);
    /* A wildcard portal is reached at the address this session used. */
    bool any = strcmp (p->addr, "0.0.0.0") == 0 || strcmp (p->addr, "[::]") == 0;
    g_autofree char *addr = g_strdup_printf ("%s:%u,%u",
                                             any && local[0] ? local : p->addr,
                                             p->port, t->tpgt);
    iscsi_text_add (out, "TargetAddress", addr);
  }
}

void
iscsi_send_targets (struct iscsi_server *s, const char *value,
                    const char *initiator, const char *current,
                    const char *local, GString *out)
{
  bool all = strcmp (value, "All") == 0;

  /* RFC 7143 appendix C: "All" only in discovery sessions; an empty
   * value means the session's own target.
   */
  if (value[0] == '\0')
    value = current ? current : "";
  if (all && current) {
    iscsi_text_add (out, "SendTargets", "Reject");
    return;
  }
  pthread_mutex_lock (&s->lock);
  for (guint i = 0; i < s->targets->len; i++) {
    const struct iscsi_tgt *t = g_ptr_array_index (s->targets, i);
    if ((all || g_ascii_strcasecmp (t->iqn, value) == 0) &&
        iscsi_tgt_allows (t, initiator))
      add_target (s, t, local, out);
  }
  pthread_mutex_unlock (&s->lock);
}

/* Send the next piece of c->text_pending (RFC 7143 11.10.2: C bit and a
 * target transfer tag while more follows).
 */
static int
send_text_piece (struct iscsi_conn *c, uint32_t itt)
{
  uint8_t rsp[ISCSI_BHS_LEN] = { OP_TEXT_RSP };
  GString *p = c->text_pending;
  size_t n = MIN (p->len, (size_t) c->max_send_dsl);
  bool last = n == p->len;
  int r;

  rsp[1] = last ? BHS_F : 0x40;
  put_be32 (rsp + 16, itt);
  put_be32 (rsp + 20, last ? ISCSI_RSVD_TAG : ++c->text_ttt);
  r = iscsi_conn_send_status (c, rsp, p->str, n);
  g_string_erase (p, 0, (gssize) n);
  if (last) {
    g_string_free (p, TRUE);
    c->text_pending = NULL;
  }
  return r;
}

static int
text_answer (struct iscsi_conn *c, size_t len, GString *out)
{
  g_autoptr (GArray) kv = g_array_new (FALSE, FALSE, sizeof (struct iscsi_kv));
  g_autoptr (GError) err = NULL;
  struct iscsi_session *s = c->sess;
  struct iscsi_params scratch = s->params;
  struct iscsi_nego n = { .p = &scratch, .offer = &c->srv->offer };
  bool security;

  if (iscsi_text_split ((char *) c->text, len, kv, &err) < 0)
    return -EINVAL;
  for (guint i = 0; i < kv->len; i++) {
    const struct iscsi_kv *p = &g_array_index (kv, struct iscsi_kv, i);
    if (strcmp (p->key, "SendTargets") == 0) {
      iscsi_send_targets (c->srv, p->value, s->params.initiator_name,
                          s->tgt ? s->tgt->iqn : NULL, c->local, out);
      g_array_remove_index (kv, i--);
    }
  }
  if (iscsi_negotiate (&n, (struct iscsi_kv *) kv->data, kv->len, out,
                       &security, &err) != LS_SUCCESS)
    return -EINVAL;
  /* Only our send limit may change in full feature phase.  Completions
   * size their Data-In by it under send_lock: change it under the same.
   */
  pthread_mutex_lock (&c->send_lock);
  c->max_send_dsl = scratch.max_send_dsl;
  pthread_mutex_unlock (&c->send_lock);
  return 0;
}

int
iscsi_text_receive (struct iscsi_conn *c, const struct iscsi_rx *rx)
{
  uint32_t itt = get_be32 (rx->bhs + 16), ttt = get_be32 (rx->bhs + 20);
  int r;

  if (rx->dsl + 1 > c->text_cap) {
    c->text = g_realloc (c->text, rx->dsl + 1);
    c->text_cap = rx->dsl + 1;
  }
  c->text[rx->dsl] = '\0';
  if ((r = iscsi_conn_read_data (c, c->text, rx->dsl)) < 0)
    return r;
  if (!iscsi_cmdsn_accept (c->sess, rx->bhs, false))
    return 0;
  if (ttt != ISCSI_RSVD_TAG) {
    if (c->text_pending == NULL || ttt != c->text_ttt) {
      iscsi_conn_reject (c, REJ_INVALID_FIELD, rx->bhs);
      return 0;
    }
    return send_text_piece (c, itt);
  }
  /* A request continued over several PDUs is not supported. */
  if (!(rx->bhs[1] & BHS_F) || (rx->bhs[1] & 0x40)) {
    iscsi_conn_reject (c, REJ_CMD_NOT_SUPPORTED, rx->bhs);
    return 0;
  }
  if (c->text_pending)
    g_string_free (c->text_pending, TRUE);
  c->text_pending = g_string_new (NULL);
  if (text_answer (c, rx->dsl, c->text_pending) < 0) {
    g_string_free (c->text_pending, TRUE);
    c->text_pending = NULL;
    iscsi_conn_reject (c, REJ_PROTOCOL, rx->bhs);
    return 0;
  }
  return send_text_piece (c, itt);
}
