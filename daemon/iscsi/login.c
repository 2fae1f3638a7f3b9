/* xcopyd: the iSCSI login phase (RFC 7143 6.3, 11.12-11.13, 12.1.3).
 *
 * A plain state machine over request and response buffers: the
 * connection feeds it Login Requests and sends what it answers, so unit
 * tests drive it without sockets.  Stages: security (AuthMethod, CHAP),
 * operational (params.c), full feature.  Any refusal ends the login with
 * a status class other than 0 and the connection is closed after it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "iscsi-int.h"
#include "../scsi/be.h"

#define LOGIN_T 0x80
#define LOGIN_C 0x40

void
iscsi_login_init (struct iscsi_login *l, const struct iscsi_login_env *env)
{
  memset (l, 0, sizeof *l);
  l->env = env;
  iscsi_params_defaults (&l->params, &env->offer);
  l->nego.p = &l->params;
  l->nego.offer = &env->offer;
  l->nego.seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  l->nego.in_login = true;
  l->partial = g_string_new (NULL);
  l->statsn = g_random_int ();
}

void
iscsi_login_clear (struct iscsi_login *l)
{
  if (l->nego.seen)
    g_hash_table_destroy (l->nego.seen);
  if (l->partial)
    g_string_free (l->partial, TRUE);
  l->nego.seen = NULL;
  l->partial = NULL;
}

/* ---- Security stage ---- */

static bool
list_has (const char *list, const char *item)
{
  g_auto (GStrv) v = g_strsplit (list, ",", 0);

  return g_strv_contains ((const gchar *const *) v, item);
}

static const char *
kv_get (const struct iscsi_kv *kv, size_t n, const char *key)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (kv[i].key, key) == 0)
      return kv[i].value;
  return NULL;
}

static unsigned
auth_method (struct iscsi_login *l, const char *v, GString *out)
{
  bool need_chap = l->creds && l->creds->user;

  if (l->chap != CHAP_IDLE || l->auth_none)
    return LS_INITIATOR_ERROR;
  if (need_chap && list_has (v, "CHAP")) {
    iscsi_text_add (out, "AuthMethod", "CHAP");
    l->chap = CHAP_WAIT_A;
    return LS_SUCCESS;
  }
  if (!need_chap && list_has (v, "None")) {
    iscsi_text_add (out, "AuthMethod", "None");
    l->auth_none = true;
    return LS_SUCCESS;
  }
  return LS_AUTH_FAILED;
}

static unsigned
chap_challenge (struct iscsi_login *l, const char *v, GString *out)
{
  g_autofree char *chal = NULL;
  char id[8];

  if (l->chap != CHAP_WAIT_A)
    return LS_INITIATOR_ERROR;
  if (!list_has (v, "5"))
    return LS_AUTH_FAILED;
  l->chap_id = (uint8_t) g_random_int_range (0, 256);
  for (size_t i = 0; i < CHAP_CHALLENGE_LEN; i++)
    l->chap_c[i] = (uint8_t) g_random_int_range (0, 256);
  chal = iscsi_chap_encode_hex (l->chap_c, CHAP_CHALLENGE_LEN);
  snprintf (id, sizeof id, "%u", l->chap_id);
  iscsi_text_add (out, "CHAP_A", "5");
  iscsi_text_add (out, "CHAP_I", id);
  iscsi_text_add (out, "CHAP_C", chal);
  l->chap = CHAP_WAIT_R;
  return LS_SUCCESS;
}

/* Mutual CHAP: answer the initiator's challenge with our name. */
static unsigned
chap_mutual (struct iscsi_login *l, const char *ci, const char *cc,
             GString *out)
{
  g_autofree uint8_t *chal = NULL;
  g_autofree char *hex = NULL;
  uint8_t rsp[16];
  size_t len;
  char *end;
  unsigned long id;

  if (ci == NULL || cc == NULL || l->creds->mutual_user == NULL)
    return LS_AUTH_FAILED;
  id = strtoul (ci, &end, 0);
  if (*ci == '\0' || *end != '\0' || id > 255)
    return LS_AUTH_FAILED;
  chal = iscsi_chap_decode (cc, 1024, &len);
  if (chal == NULL || len < CHAP_CHALLENGE_LEN)
    return LS_AUTH_FAILED;
  /* RFC 7143 12.1.3: a challenge reflected back to us is an attack. */
  if (len == CHAP_CHALLENGE_LEN && memcmp (chal, l->chap_c, len) == 0)
    return LS_AUTH_FAILED;
  iscsi_chap_response ((uint8_t) id, l->creds->mutual_secret, chal, len, rsp);
  hex = iscsi_chap_encode_hex (rsp, sizeof rsp);
  iscsi_text_add (out, "CHAP_N", l->creds->mutual_user);
  iscsi_text_add (out, "CHAP_R", hex);
  return LS_SUCCESS;
}

/* Compare digests in constant time: no early exit to time. */
static bool
same_digest (const uint8_t *a, const uint8_t *b)
{
  uint8_t d = 0;

  for (size_t i = 0; i < 16; i++)
    d |= a[i] ^ b[i];
  return d == 0;
}

static unsigned
chap_verify (struct iscsi_login *l, const struct iscsi_kv *kv, size_t n,
             GString *out)
{
  const char *name = kv_get (kv, n, "CHAP_N"), *r = kv_get (kv, n, "CHAP_R");
  g_autofree uint8_t *got = NULL;
  uint8_t want[16];
  size_t len;

  if (l->chap != CHAP_WAIT_R || name == NULL || r == NULL)
    return LS_INITIATOR_ERROR;
  got = iscsi_chap_decode (r, 64, &len);
  iscsi_chap_response (l->chap_id, l->creds->secret, l->chap_c,
                       CHAP_CHALLENGE_LEN, want);
  if (strcmp (name, l->creds->user) != 0 || got == NULL || len != 16 ||
      !same_digest (got, want))
    return LS_AUTH_FAILED;
  l->chap = CHAP_DONE;
  if (kv_get (kv, n, "CHAP_I") || kv_get (kv, n, "CHAP_C"))
    return chap_mutual (l, kv_get (kv, n, "CHAP_I"),
                        kv_get (kv, n, "CHAP_C"), out);
  return LS_SUCCESS;
}

static unsigned
security_keys (struct iscsi_login *l, const struct iscsi_kv *kv, size_t n,
               GString *out)
{
  const char *v;
  unsigned st;

  if (l->stage != STAGE_SECURITY)
    return LS_INITIATOR_ERROR;
  if ((v = kv_get (kv, n, "AuthMethod")) &&
      (st = auth_method (l, v, out)) != 0)
    return st;
  if ((v = kv_get (kv, n, "CHAP_A")) && (st = chap_challenge (l, v, out)) != 0)
    return st;
  if (kv_get (kv, n, "CHAP_R") || kv_get (kv, n, "CHAP_N"))
    return chap_verify (l, kv, n, out);
  if ((kv_get (kv, n, "CHAP_I") || kv_get (kv, n, "CHAP_C")) &&
      l->chap != CHAP_DONE)
    return LS_INITIATOR_ERROR;
  return LS_SUCCESS;
}

/* ---- Names, target, ACL ---- */

static unsigned
check_names (struct iscsi_login *l, GString *out)
{
  const struct iscsi_params *p = &l->params;
  char tag[8];

  if (p->initiator_name[0] == '\0')
    return LS_MISSING_PARAMETER;
  if (p->discovery) {
    l->creds = l->env->discovery_chap;
    return LS_SUCCESS;
  }
  if (p->target_name[0] == '\0')
    return LS_MISSING_PARAMETER;
  l->tgt = l->env->lookup (l->env->opaque, p->target_name);
  if (l->tgt == NULL)
    return LS_NOT_FOUND;
  if (!iscsi_tgt_allows (l->tgt, p->initiator_name))
    return LS_FORBIDDEN;
  l->creds = &l->tgt->chap;
  /* RFC 7143 13.9: returned in the first Login Response of a normal
   * session.
   */
  snprintf (tag, sizeof tag, "%u", l->tgt->tpgt);
  iscsi_text_add (out, "TargetPortalGroupTag", tag);
  if (l->tgt->alias)
    iscsi_text_add (out, "TargetAlias", l->tgt->alias);
  return LS_SUCCESS;
}

/* ---- One request ---- */

static unsigned
first_pdu (struct iscsi_login *l, const uint8_t *bhs)
{
  memcpy (l->isid, bhs + 8, 6);
  l->tsih = get_be16 (bhs + 14);
  l->itt = get_be32 (bhs + 16);
  l->cid = get_be16 (bhs + 20);
  l->cmdsn = get_be32 (bhs + 24);
  l->started = true;
  if (bhs[3] > 0)               /* Version-min */
    return LS_UNSUPPORTED_VERSION;
  /* Connections are never added to an existing session. */
  if (l->tsih != 0)
    return LS_NO_SESSION;
  return LS_SUCCESS;
}

/* RFC 7143 6.3: the names and the session type come with the first
 * request; the target and the credentials are chosen from them.  A late
 * SessionType=Discovery would turn a session authenticated for a target
 * into a discovery session that never passed discovery CHAP.
 */
static bool
late_names (const struct iscsi_kv *kv, size_t n)
{
  return kv_get (kv, n, "SessionType") || kv_get (kv, n, "InitiatorName") ||
    kv_get (kv, n, "TargetName");
}

static unsigned
run_text (struct iscsi_login *l, GString *out)
{
  g_autoptr (GArray) kv = g_array_new (FALSE, FALSE, sizeof (struct iscsi_kv));
  g_autoptr (GError) err = NULL;
  bool first = !l->nego.seen || g_hash_table_size (l->nego.seen) == 0;
  bool security = false;
  unsigned st;

  if (iscsi_text_split (l->partial->str, l->partial->len, kv, &err) < 0)
    return LS_INITIATOR_ERROR;
  if (!first && late_names ((struct iscsi_kv *) kv->data, kv->len))
    return LS_INITIATOR_ERROR;
  st = iscsi_negotiate (&l->nego, (struct iscsi_kv *) kv->data, kv->len, out,
                        &security, &err);
  if (st != 0)
    return st;
  if (first && (st = check_names (l, out)) != 0)
    return st;
  if (security &&
      (st = security_keys (l, (struct iscsi_kv *) kv->data, kv->len, out)) != 0)
    return st;
  return LS_SUCCESS;
}

/* Whether the initiator's transit request from the current stage to nsg
 * can be granted now; LS_* error if it is invalid.
 */
static unsigned
may_transit (struct iscsi_login *l, unsigned nsg, bool *grant)
{
  bool need_chap = l->creds && l->creds->user;

  *grant = false;
  if (nsg <= l->stage || nsg == 2)
    return LS_INITIATOR_ERROR;
  if (l->stage == STAGE_SECURITY) {
    if (need_chap && l->chap != CHAP_DONE)
      return l->chap == CHAP_IDLE ? LS_AUTH_FAILED : LS_SUCCESS;
    if (l->chap != CHAP_IDLE && l->chap != CHAP_DONE)
      return LS_SUCCESS;        /* CHAP still under way */
  } else if (need_chap && l->chap != CHAP_DONE) {
    return LS_AUTH_FAILED;      /* skipped the security stage */
  }
  *grant = true;
  return LS_SUCCESS;
}

static void
declare_limits (struct iscsi_login *l, GString *out)
{
  char v[16];

  if (l->nego.sent_max_recv_dsl)
    return;
  snprintf (v, sizeof v, "%u", l->params.max_recv_dsl);
  iscsi_text_add (out, "MaxRecvDataSegmentLength", v);
  l->nego.sent_max_recv_dsl = true;
}

static void
fill_response (struct iscsi_login *l, uint8_t *rsp, unsigned flags,
               unsigned status)
{
  memset (rsp, 0, ISCSI_BHS_LEN);
  rsp[0] = OP_LOGIN_RSP;
  rsp[1] = (uint8_t) flags;
  memcpy (rsp + 8, l->isid, 6);
  put_be16 (rsp + 14, l->complete ? l->tsih : 0);
  put_be32 (rsp + 16, l->itt);
  put_be32 (rsp + 24, l->statsn++);
  put_be32 (rsp + 28, l->cmdsn);
  put_be32 (rsp + 32, l->cmdsn);
  rsp[36] = (uint8_t) (status >> 8);
  rsp[37] = (uint8_t) status;
}

static unsigned
step (struct iscsi_login *l, const uint8_t *bhs, const uint8_t *data,
      size_t len, GString *out, unsigned *flags)
{
  bool t = bhs[1] & LOGIN_T, c = bhs[1] & LOGIN_C, grant;
  unsigned csg = (bhs[1] >> 2) & 3, nsg = bhs[1] & 3, st;

  if (!l->started) {
    l->stage = csg == STAGE_OPERATIONAL ? csg : STAGE_SECURITY;
    if ((st = first_pdu (l, bhs)) != 0)
      return st;
  } else if (csg != l->stage || memcmp (l->isid, bhs + 8, 6) != 0)
    return LS_INITIATOR_ERROR;
  if ((t && c) || csg == 2 || csg == 3)
    return LS_INITIATOR_ERROR;
  if (l->partial->len + len > 65536)
    return LS_OUT_OF_RESOURCES;
  g_string_append_len (l->partial, (const char *) data, (gssize) len);
  *flags = csg << 2;
  if (c)                        /* RFC 7143 6.2: ask for the rest */
    return LS_SUCCESS;
  st = run_text (l, out);
  g_string_truncate (l->partial, 0);
  if (st != 0)
    return st;
  if (!t || (st = may_transit (l, nsg, &grant)) != 0 || !grant) {
    if (l->stage == STAGE_OPERATIONAL)
      declare_limits (l, out);
    return st;
  }
  /* Operational keys belong to the operational stage (RFC 7143 6.3). */
  if (l->stage == STAGE_OPERATIONAL || nsg == STAGE_FULL_FEATURE)
    declare_limits (l, out);
  *flags |= LOGIN_T | nsg;
  l->stage = nsg;
  if (nsg == STAGE_FULL_FEATURE) {
    l->tsih = l->env->new_tsih (l->env->opaque);
    l->complete = true;
  }
  return LS_SUCCESS;
}

int
iscsi_login_step (struct iscsi_login *l, const uint8_t *bhs,
                  const uint8_t *data, size_t len, uint8_t *rsp_bhs,
                  GString *rsp_data)
{
  unsigned flags = 0, st;

  if (bhs_opcode (bhs) != OP_LOGIN_REQ || l->complete || l->failed)
    return -EPROTO;
  st = step (l, bhs, data, len, rsp_data, &flags);
  if (st != LS_SUCCESS) {
    g_string_truncate (rsp_data, 0);
    l->failed = true;
    l->complete = false;
    flags = l->stage << 2;
  }
  fill_response (l, rsp_bhs, flags, st);
  return 0;
}
