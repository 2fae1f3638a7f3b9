/* xcopyd: one iSCSI connection: its reader thread, the login phase and
 * the full feature phase dispatch (RFC 7143 4, 6, 11).
 *
 * The reader owns the receive side; completions (SCSI worker threads)
 * and the reader share the send side under send_lock, which is also
 * what orders StatSN.  With ErrorRecoveryLevel 0 every protocol error
 * either earns a Reject or ends the connection; nothing here may take
 * the process down.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "iscsi-int.h"
#include "../scsi/be.h"

#define RBUF_SIZE (256 * 1024)
#define LOGIN_DSL 8192          /* RFC 7143 13.12: the limit during login */

/* ---- Reading PDUs ---- */

static int
read_header (struct iscsi_conn *c, struct iscsi_rx *rx)
{
  uint8_t dg[ISCSI_DIGEST_LEN];
  int r;

  if ((r = iscsi_conn_read (c, rx->bhs, ISCSI_BHS_LEN)) < 0)
    return r;
  rx->ahs_len = (size_t) rx->bhs[4] * 4;
  rx->dsl = bhs_dsl (rx->bhs);
  if (rx->ahs_len > sizeof rx->ahs)
    return -EPROTO;
  if (rx->ahs_len && (r = iscsi_conn_read (c, rx->ahs, rx->ahs_len)) < 0)
    return r;
  if (c->hdigest) {
    struct iovec v[2] = { { rx->bhs, ISCSI_BHS_LEN }, { rx->ahs, rx->ahs_len } };
    if ((r = iscsi_conn_read (c, dg, sizeof dg)) < 0)
      return r;
    if (iscsi_crc32c_iov (v, 2) != iscsi_get_digest (dg)) {
      /* ERL 0: a header we cannot trust ends the connection. */
      atomic_fetch_add (&c->srv->st.digest_errors, 1);
      return -EBADMSG;
    }
  }
  /* RFC 7143 13.12: never more than we declared.  The framing after an
   * over-long segment cannot be trusted either.
   */
  if (rx->dsl > c->max_recv_dsl)
    return -EMSGSIZE;
  return 0;
}

/* The data segment of a non-data PDU into c->text, NUL-terminated. */
static int
read_text (struct iscsi_conn *c, const struct iscsi_rx *rx)
{
  if (rx->dsl + 1 > c->text_cap) {
    c->text = g_realloc (c->text, rx->dsl + 1);
    c->text_cap = rx->dsl + 1;
  }
  c->text[rx->dsl] = '\0';
  return iscsi_conn_read_data (c, c->text, rx->dsl);
}

/* ---- Login phase ---- */

static int
send_login_response (struct iscsi_conn *c, uint8_t *rsp, GString *data)
{
  struct iovec v = { data->str, data->len };
  int r;

  pthread_mutex_lock (&c->send_lock);
  r = iscsi_conn_send_locked (c, rsp, &v, 1, data->len, false);
  pthread_mutex_unlock (&c->send_lock);
  return r;
}

static void
enter_full_feature (struct iscsi_conn *c, const struct iscsi_login *l)
{
  c->hdigest = l->params.header_digest;
  c->ddigest = l->params.data_digest;
  c->max_recv_dsl = l->params.max_recv_dsl;
  c->max_send_dsl = l->params.max_send_dsl;
  c->statsn = l->statsn;
}

/* One Login Request: answer it.  1: login complete, 0: go on, <0: end. */
static int
login_one (struct iscsi_conn *c, struct iscsi_login *l, struct iscsi_rx *rx)
{
  g_autoptr (GString) out = g_string_new (NULL);
  uint8_t rsp[ISCSI_BHS_LEN];
  int r;

  if (bhs_opcode (rx->bhs) != OP_LOGIN_REQ)
    return -EPROTO;
  if ((r = read_text (c, rx)) < 0)
    return r;
  if ((r = iscsi_login_step (l, rx->bhs, c->text, rx->dsl, rsp, out)) < 0)
    return r;
  if (l->complete && iscsi_server_session_start (c->srv, c, l) < 0) {
    g_string_truncate (out, 0);
    l->complete = false;
    l->failed = true;
    rsp[1] &= 0x0c;             /* no transit */
    put_be16 (rsp + 14, 0);
    put_be16 (rsp + 36, LS_OUT_OF_RESOURCES);
  }
  if (l->complete) {
    uint32_t exp, max;
    iscsi_session_window (c->sess, &exp, &max);
    put_be32 (rsp + 28, exp);
    put_be32 (rsp + 32, max);
  }
  if ((r = send_login_response (c, rsp, out)) < 0)
    return r;
  if (l->failed) {
    atomic_fetch_add (&c->srv->st.login_failures, 1);
    return -EACCES;
  }
  return l->complete ? 1 : 0;
}

static int
login_phase (struct iscsi_conn *c)
{
  struct iscsi_login l;
  struct iscsi_rx rx;
  int r;

  iscsi_login_init (&l, &c->srv->env);
  c->max_recv_dsl = c->max_send_dsl = LOGIN_DSL;
  do {
    if ((r = read_header (c, &rx)) < 0)
      break;
    r = login_one (c, &l, &rx);
  } while (r == 0);
  if (r == 1) {
    enter_full_feature (c, &l);
    atomic_fetch_add (&c->srv->st.logins, 1);
  }
  iscsi_login_clear (&l);
  return r == 1 ? 0 : -EACCES;
}

/* ---- Full feature phase ---- */

static int
reject_and_skip (struct iscsi_conn *c, const struct iscsi_rx *rx,
                 uint8_t reason)
{
  int r = iscsi_conn_skip_data (c, rx->dsl);

  if (r == 0)
    iscsi_conn_reject (c, reason, rx->bhs);
  return r;
}

static int
dispatch (struct iscsi_conn *c, const struct iscsi_rx *rx)
{
  bool discovery = c->sess->params.discovery;

  switch (bhs_opcode (rx->bhs)) {
  case OP_SCSI_CMD:
    if (discovery)
      return reject_and_skip (c, rx, REJ_PROTOCOL);
    return iscsi_cmd_receive (c, rx);
  case OP_DATA_OUT:
    if (discovery)
      return reject_and_skip (c, rx, REJ_PROTOCOL);
    return iscsi_data_out_receive (c, rx);
  case OP_TMF_REQ:
    if (discovery)
      return reject_and_skip (c, rx, REJ_PROTOCOL);
    return iscsi_tmf_receive (c, rx);
  case OP_NOP_OUT:
    return iscsi_nop_receive (c, rx);
  case OP_LOGOUT_REQ:
    return iscsi_logout_receive (c, rx);
  case OP_TEXT_REQ:
    return iscsi_text_receive (c, rx);
  case OP_SNACK:
    /* ErrorRecoveryLevel 0: no SNACK support (RFC 7143 11.16). */
    return reject_and_skip (c, rx, REJ_SNACK);
  case OP_LOGIN_REQ:
    return reject_and_skip (c, rx, REJ_PROTOCOL);
  default:
    return reject_and_skip (c, rx, REJ_CMD_NOT_SUPPORTED);
  }
}

/* ---- Keepalive ---- */

/* A NOP-In that asks for an answer (RFC 7143 11.19: a target ping has
 * ITT 0xffffffff and a tag of ours; StatSN does not advance).
 */
static int
send_ping (struct iscsi_conn *c)
{
  uint8_t bhs[ISCSI_BHS_LEN] = { OP_NOP_IN, BHS_F };
  int r;

  if (++c->ping_ttt == ISCSI_RSVD_TAG || c->ping_ttt == 0)
    c->ping_ttt = 1;
  put_be32 (bhs + 16, ISCSI_RSVD_TAG);
  put_be32 (bhs + 20, c->ping_ttt);
  pthread_mutex_lock (&c->send_lock);
  iscsi_conn_fill_sn (c, bhs, false);
  r = iscsi_conn_send_locked (c, bhs, NULL, 0, 0, false);
  pthread_mutex_unlock (&c->send_lock);
  return r;
}

/* Wait for the next PDU to start arriving, pinging an idle initiator.
 * Anything that arrives shows it alive (its NOP-Out answer, or any other
 * PDU).  -ETIMEDOUT when a ping went unanswered.
 */
static int
await_pdu (struct iscsi_conn *c)
{
  const struct iscsi_server *s = c->srv;
  gint64 interval = (gint64) s->nop_interval_s * G_USEC_PER_SEC;

  if (interval == 0 || c->rpos < c->rend)
    return 0;
  for (;;) {
    struct pollfd p = { c->fd, POLLIN, 0 };
    gint64 now = g_get_monotonic_time (), due;
    int r;

    due = c->ping_ttt_live
      ? c->ping_sent_us + (gint64) s->nop_timeout_s * G_USEC_PER_SEC
      : c->last_rx_us + interval;
    if (now >= due) {
      if (c->ping_ttt_live) {
        atomic_fetch_add (&c->srv->st.nop_timeouts, 1);
        g_message ("iSCSI: %s: no answer to a NOP-In ping within %u s:"
                   " closing the connection",
                   c->sess ? c->sess->params.initiator_name : "initiator",
                   s->nop_timeout_s);
        return -ETIMEDOUT;
      }
      if ((r = send_ping (c)) < 0)
        return r;
      c->ping_ttt_live = true;
      c->ping_sent_us = now;
      continue;
    }
    r = poll (&p, 1, (int) MIN ((due - now + 999) / 1000, 60000));
    if (r < 0 && errno != EINTR)
      return -errno;
    if (r > 0) {
      c->last_rx_us = g_get_monotonic_time ();
      c->ping_ttt_live = false;
      return 0;
    }
    if (atomic_load (&c->dead))
      return -ECONNRESET;
  }
}

static void
full_feature (struct iscsi_conn *c)
{
  struct iscsi_rx rx;

  c->last_rx_us = g_get_monotonic_time ();
  while (!c->logout && !atomic_load (&c->dead)) {
    if (await_pdu (c) < 0 || read_header (c, &rx) < 0 || dispatch (c, &rx) < 0)
      break;
  }
}

/* ---- Life cycle ---- */

static void
drain_tasks (struct iscsi_conn *c)
{
  GHashTableIter it;
  gpointer v;

  pthread_mutex_lock (&c->task_lock);
  g_hash_table_iter_init (&it, c->tasks);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    struct iscsi_task *t = v;
    atomic_store (&t->cmd.abort, true);
  }
  while (c->running > 0)
    pthread_cond_wait (&c->task_done, &c->task_lock);
  /* What is left never reached the SCSI layer. */
  g_hash_table_iter_init (&it, c->tasks);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    struct iscsi_task *t = v;
    g_hash_table_iter_remove (&it);
    g_free (t->buf);
    g_free (t);
  }
  while (c->free_tasks) {
    struct iscsi_task *t = c->free_tasks;
    c->free_tasks = t->next_free;
    g_free (t->buf);
    g_free (t);
  }
  pthread_mutex_unlock (&c->task_lock);
}

static void
conn_free (struct iscsi_conn *c)
{
  g_hash_table_destroy (c->tasks);
  pthread_mutex_destroy (&c->send_lock);
  pthread_mutex_destroy (&c->task_lock);
  pthread_cond_destroy (&c->task_done);
  if (c->text_pending)
    g_string_free (c->text_pending, TRUE);
  close (c->fd);
  g_free (c->rbuf);
  g_free (c->text);
  g_free (c);
}

static void *
reader (void *opaque)
{
  struct iscsi_conn *c = opaque;

  if (login_phase (c) == 0)
    full_feature (c);
  iscsi_conn_kill (c);
  drain_tasks (c);
  iscsi_server_conn_gone (c->srv, c);   /* ends the session */
  conn_free (c);
  return NULL;
}

static void
local_address (struct iscsi_conn *c)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char buf[INET6_ADDRSTRLEN];

  if (getsockname (c->fd, (struct sockaddr *) &ss, &len) < 0)
    return;
  if (ss.ss_family == AF_INET &&
      inet_ntop (AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, buf,
                 sizeof buf))
    g_strlcpy (c->local, buf, sizeof c->local);
  else if (ss.ss_family == AF_INET6 &&
           inet_ntop (AF_INET6, &((struct sockaddr_in6 *) &ss)->sin6_addr,
                      buf, sizeof buf))
    snprintf (c->local, sizeof c->local, "[%s]", buf);
}

int
iscsi_conn_start (struct iscsi_server *s, int fd)
{
  struct iscsi_conn *c = g_new0 (struct iscsi_conn, 1);
  pthread_attr_t attr;
  int one = 1, r;

  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->srv = s;
  c->fd = fd;
  local_address (c);
  c->rcap = RBUF_SIZE;
  c->rbuf = g_malloc (c->rcap);
  c->tasks = g_hash_table_new (g_direct_hash, g_direct_equal);
  pthread_mutex_init (&c->send_lock, NULL);
  pthread_mutex_init (&c->task_lock, NULL);
  pthread_cond_init (&c->task_done, NULL);
  pthread_mutex_lock (&s->lock);
  s->conns = g_list_prepend (s->conns, c);
  c->link = s->conns;
  pthread_mutex_unlock (&s->lock);
  atomic_fetch_add (&s->st.connections, 1);
  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  r = pthread_create (&c->thread, &attr, reader, c);
  pthread_attr_destroy (&attr);
  if (r != 0) {
    iscsi_server_conn_gone (s, c);
    conn_free (c);
    return -r;
  }
  return 0;
}
