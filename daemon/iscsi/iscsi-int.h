/* xcopyd: iSCSI target internals (RFC 7143).
 *
 *   pdu.c       BHS field access, CRC32C digests, PDU receive and send
 *   params.c    text keys: parsing and the negotiation rules (RFC 7143 6, 13)
 *   chap.c      CHAP (RFC 1994, RFC 7143 12.1.3)
 *   login.c     the login state machine, driven through buffers
 *   conn.c      a connection's reader thread and full feature phase
 *   cmd.c       SCSI Command, Data-Out / R2T, Data-In, SCSI Response
 *   task.c      Task Management, NOP, Logout, Text (SendTargets)
 *   server.c    server and targets (configuration checks)
 *   portal.c    listening sockets and accept threads
 *   session.c   sessions, listing, statistics, shutdown
 *
 * Multi-connection sessions are not supported: MaxConnections is always
 * negotiated to 1 and a login that names an existing TSIH is refused
 * (02/0a), so a session and its connection live and die together.
 */
#ifndef XCOPY_ISCSI_INT_H
#define XCOPY_ISCSI_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <gio/gio.h>
#include <glib.h>

#include "iscsi.h"

/* ---- PDU layout (RFC 7143 11) ---- */

#define ISCSI_BHS_LEN 48
#define ISCSI_DIGEST_LEN 4
#define ISCSI_RSVD_TAG 0xffffffffu

/* Initiator opcodes (11.1.1). */
enum {
  OP_NOP_OUT = 0x00,
  OP_SCSI_CMD = 0x01,
  OP_TMF_REQ = 0x02,
  OP_LOGIN_REQ = 0x03,
  OP_TEXT_REQ = 0x04,
  OP_DATA_OUT = 0x05,
  OP_LOGOUT_REQ = 0x06,
  OP_SNACK = 0x10,
};

/* Target opcodes. */
enum {
  OP_NOP_IN = 0x20,
  OP_SCSI_RSP = 0x21,
  OP_TMF_RSP = 0x22,
  OP_LOGIN_RSP = 0x23,
  OP_TEXT_RSP = 0x24,
  OP_DATA_IN = 0x25,
  OP_LOGOUT_RSP = 0x26,
  OP_R2T = 0x31,
  OP_ASYNC = 0x32,
  OP_REJECT = 0x3f,
};

#define BHS_I 0x40              /* byte 0: immediate delivery */
#define BHS_F 0x80              /* byte 1: final */

/* Reject reasons (11.17.1). */
enum {
  REJ_DATA_DIGEST = 0x02,
  REJ_SNACK = 0x03,
  REJ_PROTOCOL = 0x04,
  REJ_CMD_NOT_SUPPORTED = 0x05,
  REJ_IMMEDIATE = 0x06,
  REJ_TASK_IN_PROGRESS = 0x07,
  REJ_INVALID_FIELD = 0x09,
  REJ_OUT_OF_RESOURCES = 0x0a,
};

/* Login status class/detail as one 16-bit value (11.13.5). */
enum {
  LS_SUCCESS = 0x0000,
  LS_INITIATOR_ERROR = 0x0200,
  LS_AUTH_FAILED = 0x0201,
  LS_FORBIDDEN = 0x0202,
  LS_NOT_FOUND = 0x0203,
  LS_UNSUPPORTED_VERSION = 0x0205,
  LS_TOO_MANY_CONNECTIONS = 0x0206,
  LS_MISSING_PARAMETER = 0x0207,
  LS_SESSION_TYPE = 0x0209,
  LS_NO_SESSION = 0x020a,
  LS_INVALID_DURING_LOGIN = 0x020b,
  LS_TARGET_ERROR = 0x0300,
  LS_OUT_OF_RESOURCES = 0x0302,
};

/* Login stages (11.12.3). */
enum {
  STAGE_SECURITY = 0,
  STAGE_OPERATIONAL = 1,
  STAGE_FULL_FEATURE = 3,
};

static inline uint8_t bhs_opcode (const uint8_t *bhs) { return bhs[0] & 0x3f; }
uint32_t bhs_dsl (const uint8_t *bhs);
void bhs_set_dsl (uint8_t *bhs, uint32_t len);

/* RFC 7143 11.1 / B.4: CRC32C with the initial value and final XOR
 * 0xffffffff; on the wire least significant byte first.
 */
uint32_t iscsi_crc32c (const void *buf, size_t len);
uint32_t iscsi_crc32c_iov (const struct iovec *iov, size_t n);
void iscsi_put_digest (uint8_t out[4], uint32_t crc);
uint32_t iscsi_get_digest (const uint8_t in[4]);

/* Padding of a data segment to a multiple of 4 (11.1). */
static inline size_t pad4 (size_t len) { return (4 - (len & 3)) & 3; }

/* ---- Text keys and negotiation (params.c) ---- */

/* Negotiated (or declared) values of a session and its connection. */
struct iscsi_params {
  bool header_digest, data_digest;
  uint32_t max_connections;
  bool initial_r2t, immediate_data;
  uint32_t max_recv_dsl;        /* ours: what the initiator may send us */
  uint32_t max_send_dsl;        /* the initiator's: what we may send */
  uint32_t max_burst, first_burst;
  uint32_t time2wait, time2retain;
  uint32_t max_outstanding_r2t;
  bool data_pdu_in_order, data_seq_in_order;
  uint32_t erl;
  bool discovery;
  char initiator_name[224];
  char initiator_alias[256];
  char target_name[224];
};

/* What we offer: from the server configuration. */
struct iscsi_offer {
  uint32_t max_recv_dsl, max_burst, first_burst;
  bool initial_r2t, immediate_data, digests;
};

void iscsi_params_defaults (struct iscsi_params *p, const struct iscsi_offer *o);

/* One key=value pair of a text data segment. */
struct iscsi_kv {
  const char *key, *value;
};

/* Split a data segment (key=value\0 ...) into pairs pointing into buf,
 * which must be NUL-terminated at buf[len].  -EINVAL (message in *err)
 * for a pair without "=", a bad key name, an over-long value or a
 * duplicate key within one segment.
 */
int iscsi_text_split (char *buf, size_t len, GArray *pairs, GError **err);

/* Append key=value\0. */
void iscsi_text_add (GString *out, const char *key, const char *value);

/* Negotiation state across the PDUs of one login or text exchange. */
struct iscsi_nego {
  struct iscsi_params *p;
  const struct iscsi_offer *offer;
  GHashTable *seen;             /* keys the initiator already sent */
  bool in_login;
  bool sent_max_recv_dsl;       /* our declaration already made */
};

/* Negotiate the operational keys in pairs and append our answers to out.
 * Security keys (AuthMethod, CHAP_*) are left to the login code: for
 * each of them, *security is set.  Returns a login status (LS_*) other
 * than LS_SUCCESS for a protocol error, with *err naming the key.
 */
unsigned iscsi_negotiate (struct iscsi_nego *n, const struct iscsi_kv *pairs,
                          size_t npairs, GString *out, bool *security,
                          GError **err);
bool iscsi_key_is_security (const char *key);

/* ---- CHAP (chap.c) ---- */

#define CHAP_CHALLENGE_LEN 16
#define CHAP_MD5 5

/* MD5(id || secret || challenge) (RFC 1994 4.1). */
void iscsi_chap_response (uint8_t id, const char *secret,
                          const uint8_t *chal, size_t chal_len,
                          uint8_t out[16]);
/* Decode a CHAP binary value: 0x<hex> or 0b<base64> (RFC 7143 6.1).
 * NULL when malformed or longer than max; *len set.
 */
uint8_t *iscsi_chap_decode (const char *value, size_t max, size_t *len);
char *iscsi_chap_encode_hex (const uint8_t *buf, size_t len);

/* ---- Login (login.c) ---- */

/* A target as login sees it. */
struct iscsi_tgt {
  char *iqn, *alias;
  uint16_t tpgt;
  struct scsi_target *scsi;
  char **acl;                   /* NULL-terminated, or NULL: anyone */
  struct iscsi_chap chap;       /* strings owned */
};

/* How login finds targets and learns the portal (callbacks, so the state
 * machine can be driven by unit tests without a server).
 */
struct iscsi_login_env {
  /* A target by name or NULL. */
  struct iscsi_tgt *(*lookup) (void *opaque, const char *iqn);
  const struct iscsi_chap *discovery_chap;
  struct iscsi_offer offer;
  uint16_t (*new_tsih) (void *opaque);
  void *opaque;
};

enum chap_state {
  CHAP_IDLE,
  CHAP_WAIT_A,                  /* AuthMethod=CHAP agreed */
  CHAP_WAIT_R,                  /* challenge sent */
  CHAP_DONE,
};

struct iscsi_login {
  const struct iscsi_login_env *env;
  struct iscsi_params params;
  struct iscsi_nego nego;
  unsigned stage;               /* current stage */
  bool started;                 /* first PDU seen */
  bool auth_done;               /* security stage passed */
  bool auth_none;
  enum chap_state chap;
  const struct iscsi_chap *creds;
  uint8_t chap_id;
  uint8_t chap_c[CHAP_CHALLENGE_LEN];
  uint8_t isid[6];
  uint16_t tsih;
  uint32_t itt;
  uint16_t cid;
  uint32_t cmdsn, exp_statsn, statsn;
  GString *partial;             /* request text continued (C bit) */
  struct iscsi_tgt *tgt;        /* resolved target (normal session) */
  bool complete;                /* full feature phase reached */
  bool failed;                  /* refused: close after the response */
};

void iscsi_login_init (struct iscsi_login *l, const struct iscsi_login_env *env);
void iscsi_login_clear (struct iscsi_login *l);

/* Process one Login Request (bhs, data[0, len)); fill the response BHS
 * and its text (rsp_data).  Returns 0, or -EPROTO when the request is so
 * malformed that the connection must be dropped without an answer.
 */
int iscsi_login_step (struct iscsi_login *l, const uint8_t *bhs,
                      const uint8_t *data, size_t len, uint8_t *rsp_bhs,
                      GString *rsp_data);

/* ---- Server, sessions, connections ---- */

struct iscsi_conn;
struct iscsi_task;

struct iscsi_session {
  struct iscsi_server *srv;
  struct iscsi_tgt *tgt;        /* NULL for discovery */
  struct scsi_nexus *nexus;
  struct iscsi_conn *conn;      /* the one connection */
  uint16_t tsih;
  uint8_t isid[6];
  struct iscsi_params params;
  /* CmdSN window (RFC 7143 4.2.2.1), under lock. */
  pthread_mutex_t lock;
  uint32_t exp_cmdsn;
  uint32_t window;
  uint32_t queued;              /* non-immediate commands not yet answered */
  atomic_uint_fast64_t commands, bytes_in, bytes_out;
};

struct iscsi_portal {
  int fd;
  uint16_t port;
  char *addr;                   /* as announced: "1.2.3.4" or "[::1]" */
  pthread_t thread;
  struct iscsi_server *srv;
};

struct iscsi_server {
  struct iscsi_offer offer;
  uint32_t max_cmdsn_window;
  unsigned nop_interval_s, nop_timeout_s;
  struct iscsi_chap discovery_chap;
  struct iscsi_login_env env;
  pthread_mutex_t lock;
  pthread_cond_t changed;
  GPtrArray *targets;           /* struct iscsi_tgt * */
  GPtrArray *portals;           /* struct iscsi_portal * */
  GList *conns;                 /* struct iscsi_conn *, all live */
  uint16_t next_tsih;
  bool stopping;
  int wake[2];                  /* wakes accept threads at shutdown */
  struct {
    atomic_uint_fast64_t logins, login_failures, sessions, connections;
    atomic_uint_fast64_t commands, pdus_rejected, digest_errors;
    atomic_uint_fast64_t nop_timeouts;
  } st;
};

/* ---- Connection (conn.c) ---- */

struct iscsi_rx {
  uint8_t bhs[ISCSI_BHS_LEN];
  uint8_t ahs[1024];
  size_t ahs_len;
  uint32_t dsl;
};

struct iscsi_conn {
  struct iscsi_server *srv;
  int fd;
  pthread_t thread;
  GList *link;                  /* in srv->conns */
  struct iscsi_session *sess;
  char local[64];               /* our address as announced: a.b.c.d, [v6] */

  /* Receive side: only the reader thread. */
  uint8_t *rbuf;                /* buffered bytes [rpos, rend) */
  size_t rpos, rend, rcap;
  uint8_t *text;                /* data segments of non-data PDUs */
  size_t text_cap;
  bool hdigest, ddigest;        /* in force in both directions */
  uint32_t max_recv_dsl;        /* what we accept */
  uint32_t max_send_dsl;        /* what we send */
  GString *text_pending;        /* SendTargets answer left to send */
  uint32_t text_ttt;

  /* Send side. */
  pthread_mutex_t send_lock;
  uint32_t statsn;              /* next StatSN */
  atomic_bool dead;             /* a send failed or shutdown asked */

  /* Tasks (under task_lock): every command from arrival to answer. */
  pthread_mutex_t task_lock;
  pthread_cond_t task_done;
  GHashTable *tasks;            /* ITT -> struct iscsi_task * */
  unsigned running;             /* submitted to SCSI, not yet answered */
  uint32_t next_ttt;
  struct iscsi_task *free_tasks;
  unsigned nfree;
  size_t buf_bytes;             /* reserved by live tasks */
  unsigned immediate;           /* live immediate commands */
  bool logout;                  /* close after the Logout Response */

  /* Keepalive (reader only): when bytes last came, and the NOP-In ping
   * waiting for an answer (ping_ttt_live), sent at ping_sent_us.
   */
  gint64 last_rx_us, ping_sent_us;
  uint32_t ping_ttt;
  bool ping_ttt_live;
};

int iscsi_conn_start (struct iscsi_server *s, int fd);

/* Read exactly len bytes (buffered).  0, or -errno / -ECONNRESET. */
int iscsi_conn_read (struct iscsi_conn *c, void *buf, size_t len);
/* Read the data segment of the current PDU (plus padding and digest)
 * into buf.  -EBADMSG on a data digest error (data consumed).
 */
int iscsi_conn_read_data (struct iscsi_conn *c, void *buf, size_t len);
/* Skip the current PDU's data segment. */
int iscsi_conn_skip_data (struct iscsi_conn *c, size_t len);

/* Send one PDU: bhs (with DataSegmentLength set here) and data from iov;
 * digests and padding added.  Caller holds send_lock.
 */
int iscsi_conn_send_locked (struct iscsi_conn *c, uint8_t *bhs,
                            const struct iovec *iov, size_t niov,
                            size_t data_len, bool more);
/* Fill StatSN / ExpCmdSN / MaxCmdSN at 24/28/32; statsn advances when
 * advance.  Caller holds send_lock.
 */
void iscsi_conn_fill_sn (struct iscsi_conn *c, uint8_t *bhs, bool advance);
/* Lock, fill SNs (advancing StatSN), send, unlock. */
int iscsi_conn_send_status (struct iscsi_conn *c, uint8_t *bhs,
                            const void *data, size_t len);
void iscsi_conn_reject (struct iscsi_conn *c, uint8_t reason,
                        const uint8_t *bhs);
void iscsi_conn_kill (struct iscsi_conn *c);

/* ExpCmdSN / MaxCmdSN of a session now. */
void iscsi_session_window (struct iscsi_session *s, uint32_t *exp,
                           uint32_t *max);

/* ---- Commands (cmd.c) ---- */

struct iscsi_task {
  struct iscsi_conn *conn;
  struct iscsi_task *next_free;
  struct scsi_cmd cmd;
  uint8_t cdb[16];
  uint8_t lun_field[8];
  uint32_t itt, ttt;
  uint32_t edtl;
  bool read, write, immediate;
  bool submitted, aborted;
  bool failed;                  /* Data-Out out of sequence */
  uint8_t *buf;                 /* data-out or data-in */
  size_t buf_cap;
  uint32_t received;            /* data-out bytes so far */
  uint32_t unsolicited_end;     /* end of the unsolicited burst */
  uint32_t r2t_offset;          /* data solicited so far (up to) */
  uint32_t r2tsn;
  uint32_t outstanding_r2t;
  uint32_t burst_start, burst_len, exp_datasn;
  uint32_t cmdsn;
  size_t charged;               /* of conn->buf_bytes */
};

bool iscsi_cmdsn_accept (struct iscsi_session *s, const uint8_t *bhs,
                         bool hold);
int iscsi_cmd_receive (struct iscsi_conn *c, const struct iscsi_rx *rx);
int iscsi_data_out_receive (struct iscsi_conn *c, const struct iscsi_rx *rx);
void iscsi_task_put (struct iscsi_conn *c, struct iscsi_task *t);
/* Remove t from the task table, recycle it; wake waiters. */
void iscsi_task_forget (struct iscsi_conn *c, struct iscsi_task *t);
/* Remove t from the table and give back its reservation; the caller
 * holds task_lock and then frees or recycles t.
 */
void iscsi_task_unlink_locked (struct iscsi_conn *c, struct iscsi_task *t);

/* ---- Other requests (task.c) ---- */

int iscsi_tmf_receive (struct iscsi_conn *c, const struct iscsi_rx *rx);
int iscsi_nop_receive (struct iscsi_conn *c, const struct iscsi_rx *rx);
int iscsi_logout_receive (struct iscsi_conn *c, const struct iscsi_rx *rx);
int iscsi_text_receive (struct iscsi_conn *c, const struct iscsi_rx *rx);
/* The SendTargets answer for value ("All" or an IQN) as seen by a
 * session of initiator for target (NULL: discovery).
 */
void iscsi_send_targets (struct iscsi_server *s, const char *value,
                         const char *initiator, const char *current,
                         const char *local, GString *out);
bool iscsi_tgt_allows (const struct iscsi_tgt *t, const char *initiator);

/* ---- Server internals (server.c) ---- */

struct iscsi_tgt *iscsi_server_lookup (void *opaque, const char *iqn);
uint16_t iscsi_server_new_tsih (void *opaque);
/* Register a logged-in session (reinstating one with the same ISID,
 * initiator and target).  0 or -errno.
 */
int iscsi_server_session_start (struct iscsi_server *s, struct iscsi_conn *c,
                                struct iscsi_login *l);
void iscsi_server_conn_gone (struct iscsi_server *s, struct iscsi_conn *c);
void iscsi_portals_stop (struct iscsi_server *s);

#endif /* XCOPY_ISCSI_INT_H */
