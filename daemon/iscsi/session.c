/* xcopyd: sessions (one I_T nexus each), their listing and statistics,
 * dropping them, and the server's shutdown.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iscsi-int.h"
#include "../scsi/be.h"

static char *
isid_hex (const uint8_t isid[6])
{
  return g_strdup_printf ("%02x%02x%02x%02x%02x%02x", isid[0], isid[1],
                          isid[2], isid[3], isid[4], isid[5]);
}

static bool
same_nexus (const struct iscsi_session *a, const struct iscsi_session *b)
{
  return a->tgt == b->tgt && memcmp (a->isid, b->isid, 6) == 0 &&
    g_ascii_strcasecmp (a->params.initiator_name,
                        b->params.initiator_name) == 0;
}

static int
make_nexus (struct iscsi_session *sess)
{
  g_autofree char *isid = isid_hex (sess->isid);
  g_autofree char *iport = g_strdup_printf ("%s,i,0x%s",
                                            sess->params.initiator_name, isid);
  g_autofree char *tport = g_strdup_printf ("%s,t,0x%04x", sess->tgt->iqn,
                                            sess->tgt->tpgt);

  return scsi_nexus_new (sess->tgt->scsi, iport, tport, sess->tgt->tpgt,
                         &sess->nexus);
}

int
iscsi_server_session_start (struct iscsi_server *s, struct iscsi_conn *c,
                            struct iscsi_login *l)
{
  struct iscsi_session *sess = g_new0 (struct iscsi_session, 1);
  int r;

  sess->srv = s;
  sess->conn = c;
  sess->tgt = l->params.discovery ? NULL : l->tgt;
  sess->tsih = l->tsih;
  memcpy (sess->isid, l->isid, 6);
  sess->params = l->params;
  sess->exp_cmdsn = l->cmdsn;
  sess->window = s->max_cmdsn_window;
  pthread_mutex_init (&sess->lock, NULL);
  if (sess->tgt && (r = make_nexus (sess)) < 0) {
    pthread_mutex_destroy (&sess->lock);
    g_free (sess);
    return r;
  }
  pthread_mutex_lock (&s->lock);
  /* RFC 7143 6.3.5: a new session with the ISID of a live one (same
   * initiator and target) reinstates it: the old one goes.
   */
  for (GList *i = s->conns; i && sess->tgt; i = i->next) {
    struct iscsi_conn *o = i->data;
    if (o != c && o->sess && same_nexus (o->sess, sess))
      iscsi_conn_kill (o);
  }
  c->sess = sess;
  pthread_mutex_unlock (&s->lock);
  atomic_fetch_add (&s->st.sessions, 1);
  return 0;
}

void
iscsi_server_conn_gone (struct iscsi_server *s, struct iscsi_conn *c)
{
  struct iscsi_session *sess;

  pthread_mutex_lock (&s->lock);
  s->conns = g_list_delete_link (s->conns, c->link);
  sess = c->sess;
  c->sess = NULL;
  pthread_mutex_unlock (&s->lock);
  if (sess) {
    scsi_nexus_free (sess->nexus);
    pthread_mutex_destroy (&sess->lock);
    g_free (sess);
  }
  /* Signal only after the session is gone: shutdown frees the targets. */
  pthread_mutex_lock (&s->lock);
  pthread_cond_broadcast (&s->changed);
  pthread_mutex_unlock (&s->lock);
}

/* ---- Listing ---- */

static void
fill_info (const struct iscsi_session *sess, struct iscsi_session_info *i)
{
  g_autofree char *isid = isid_hex (sess->isid);

  memset (i, 0, sizeof *i);
  i->tsih = sess->tsih;
  g_strlcpy (i->initiator, sess->params.initiator_name, sizeof i->initiator);
  g_strlcpy (i->isid, isid, sizeof i->isid);
  g_strlcpy (i->target, sess->tgt ? sess->tgt->iqn : "", sizeof i->target);
  i->connections = 1;
  i->header_digest = sess->params.header_digest;
  i->data_digest = sess->params.data_digest;
  i->commands = atomic_load (&sess->commands);
  i->bytes_in = atomic_load (&sess->bytes_in);
  i->bytes_out = atomic_load (&sess->bytes_out);
}

void
iscsi_server_foreach_session (struct iscsi_server *s,
                              void (*fn) (void *opaque,
                                          const struct iscsi_session_info *i),
                              void *opaque)
{
  pthread_mutex_lock (&s->lock);
  for (GList *l = s->conns; l; l = l->next) {
    struct iscsi_conn *c = l->data;
    struct iscsi_session_info info;
    if (c->sess == NULL)
      continue;
    fill_info (c->sess, &info);
    fn (opaque, &info);
  }
  pthread_mutex_unlock (&s->lock);
}

void
iscsi_server_stats (struct iscsi_server *s, struct iscsi_server_stats *out)
{
  out->logins = atomic_load (&s->st.logins);
  out->login_failures = atomic_load (&s->st.login_failures);
  out->sessions = atomic_load (&s->st.sessions);
  out->connections = atomic_load (&s->st.connections);
  out->commands = atomic_load (&s->st.commands);
  out->pdus_rejected = atomic_load (&s->st.pdus_rejected);
  out->digest_errors = atomic_load (&s->st.digest_errors);
  out->nop_timeouts = atomic_load (&s->st.nop_timeouts);
}

unsigned
iscsi_server_drop_sessions (struct iscsi_server *s, const char *iqn)
{
  unsigned n = 0;

  pthread_mutex_lock (&s->lock);
  for (GList *l = s->conns; l; l = l->next) {
    struct iscsi_conn *c = l->data;
    if (c->sess && c->sess->tgt &&
        g_ascii_strcasecmp (c->sess->tgt->iqn, iqn) == 0) {
      iscsi_conn_kill (c);
      n++;
    }
  }
  pthread_mutex_unlock (&s->lock);
  return n;
}

/* ---- Shutdown ---- */

/* RFC 7143 11.9.1 AsyncEvent 1: the target asks for a logout within
 * Parameter3 seconds.
 */
static void
ask_logout (struct iscsi_conn *c, unsigned secs)
{
  uint8_t bhs[ISCSI_BHS_LEN] = { OP_ASYNC, BHS_F };

  put_be32 (bhs + 16, ISCSI_RSVD_TAG);
  bhs[36] = 1;
  put_be16 (bhs + 42, (uint16_t) MIN (secs, 3600u));
  iscsi_conn_send_status (c, bhs, NULL, 0);
}

static void
wait_conns (struct iscsi_server *s, unsigned ms)
{
  struct timespec dl;

  clock_gettime (CLOCK_REALTIME, &dl);
  dl.tv_sec += ms / 1000;
  dl.tv_nsec += (long) (ms % 1000) * 1000000;
  if (dl.tv_nsec >= 1000000000) {
    dl.tv_sec++;
    dl.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock (&s->lock);
  while (s->conns && pthread_cond_timedwait (&s->changed, &s->lock, &dl) == 0)
    ;
  pthread_mutex_unlock (&s->lock);
}

static void
end_connections (struct iscsi_server *s, unsigned grace_ms)
{
  pthread_mutex_lock (&s->lock);
  for (GList *l = s->conns; l; l = l->next) {
    struct iscsi_conn *c = l->data;
    if (c->sess && grace_ms > 0)
      ask_logout (c, (grace_ms + 999) / 1000);
    else
      iscsi_conn_kill (c);
  }
  pthread_mutex_unlock (&s->lock);
  if (grace_ms > 0)
    wait_conns (s, grace_ms);
  pthread_mutex_lock (&s->lock);
  for (GList *l = s->conns; l; l = l->next)
    iscsi_conn_kill (l->data);
  while (s->conns)
    pthread_cond_wait (&s->changed, &s->lock);
  pthread_mutex_unlock (&s->lock);
}

void
iscsi_server_free (struct iscsi_server *s, unsigned grace_ms)
{
  if (s == NULL)
    return;
  pthread_mutex_lock (&s->lock);
  s->stopping = true;
  pthread_mutex_unlock (&s->lock);
  iscsi_portals_stop (s);
  end_connections (s, grace_ms);
  g_ptr_array_free (s->portals, TRUE);
  g_ptr_array_free (s->targets, TRUE);
  g_free ((char *) s->discovery_chap.user);
  g_free ((char *) s->discovery_chap.secret);
  g_free ((char *) s->discovery_chap.mutual_user);
  g_free ((char *) s->discovery_chap.mutual_secret);
  if (s->wake[0] >= 0) {
    close (s->wake[0]);
    close (s->wake[1]);
  }
  pthread_cond_destroy (&s->changed);
  pthread_mutex_destroy (&s->lock);
  g_free (s);
}
