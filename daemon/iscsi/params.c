/* xcopyd: iSCSI text keys and their negotiation (RFC 7143 6 and 13).
 *
 * One table lists every operational key with its rule: list (the first
 * of the initiator's values we support), numerical minimum or maximum,
 * boolean AND or OR, or a declaration.  The initiator offers, we answer;
 * the only key we declare unasked is our MaxRecvDataSegmentLength.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iscsi-int.h"

#define KEY_NAME_MAX 63
#define VALUE_MAX 255           /* RFC 7143 6.1, except binary CHAP values */
#define VALUE_MAX_BINARY 8192

enum rule {
  R_DIGEST,                     /* list: CRC32C, None */
  R_OR,                         /* boolean: result is the OR */
  R_AND,                        /* boolean: result is the AND */
  R_MIN,                        /* numerical: the smaller */
  R_MAX,                        /* numerical: the larger */
  R_RECV_DSL,                   /* declarative: the initiator's receive limit */
  R_DECLARE,                    /* declarative string (names, alias, type) */
  R_TARGET_ONLY,                /* the target declares these */
  R_OBSOLETE_NO,                /* RFC 3720 markers: always No */
  R_IRRELEVANT,                 /* marker intervals: markers are off */
};

#define F_LOGIN_ONLY (1u << 0)  /* not negotiable in full feature phase */
#define F_NOT_DISCOVERY (1u << 1)  /* Irrelevant in discovery sessions */

struct key_rule {
  const char *name;
  enum rule rule;
  unsigned flags;
  uint32_t lo, hi;
  size_t off;                   /* offsetof (struct iscsi_params, ...) */
};

#define P(f) offsetof (struct iscsi_params, f)
#define FLD (F_LOGIN_ONLY | F_NOT_DISCOVERY)

static const struct key_rule rules[] = {
  { "HeaderDigest", R_DIGEST, F_LOGIN_ONLY, 0, 0, P (header_digest) },
  { "DataDigest", R_DIGEST, F_LOGIN_ONLY, 0, 0, P (data_digest) },
  { "MaxConnections", R_MIN, FLD, 1, 65535, P (max_connections) },
  { "InitialR2T", R_OR, FLD, 0, 0, P (initial_r2t) },
  { "ImmediateData", R_AND, FLD, 0, 0, P (immediate_data) },
  { "MaxRecvDataSegmentLength", R_RECV_DSL, 0, 512, 16777215,
    P (max_send_dsl) },
  { "MaxBurstLength", R_MIN, FLD, 512, 16777215, P (max_burst) },
  { "FirstBurstLength", R_MIN, FLD, 512, 16777215, P (first_burst) },
  { "DefaultTime2Wait", R_MAX, F_LOGIN_ONLY, 0, 3600, P (time2wait) },
  { "DefaultTime2Retain", R_MIN, F_LOGIN_ONLY, 0, 3600, P (time2retain) },
  { "MaxOutstandingR2T", R_MIN, FLD, 1, 65535, P (max_outstanding_r2t) },
  { "DataPDUInOrder", R_OR, FLD, 0, 0, P (data_pdu_in_order) },
  { "DataSequenceInOrder", R_OR, FLD, 0, 0, P (data_seq_in_order) },
  { "ErrorRecoveryLevel", R_MIN, F_LOGIN_ONLY, 0, 2, P (erl) },
  { "SessionType", R_DECLARE, F_LOGIN_ONLY, 0, 0, 0 },
  { "InitiatorName", R_DECLARE, F_LOGIN_ONLY, 0, 0, P (initiator_name) },
  { "InitiatorAlias", R_DECLARE, 0, 0, 0, P (initiator_alias) },
  { "TargetName", R_DECLARE, F_LOGIN_ONLY, 0, 0, P (target_name) },
  { "TargetAlias", R_TARGET_ONLY, 0, 0, 0, 0 },
  { "TargetAddress", R_TARGET_ONLY, 0, 0, 0, 0 },
  { "TargetPortalGroupTag", R_TARGET_ONLY, 0, 0, 0, 0 },
  { "IFMarker", R_OBSOLETE_NO, F_LOGIN_ONLY, 0, 0, 0 },
  { "OFMarker", R_OBSOLETE_NO, F_LOGIN_ONLY, 0, 0, 0 },
  { "IFMarkInt", R_IRRELEVANT, F_LOGIN_ONLY, 0, 0, 0 },
  { "OFMarkInt", R_IRRELEVANT, F_LOGIN_ONLY, 0, 0, 0 },
};

static const char *const security_keys[] = {
  "AuthMethod", "CHAP_A", "CHAP_I", "CHAP_C", "CHAP_N", "CHAP_R",
};

void
iscsi_params_defaults (struct iscsi_params *p, const struct iscsi_offer *o)
{
  /* RFC 7143 13: the defaults apply until negotiated; the "ours" values
   * the rules combine with come from the offer.
   */
  *p = (struct iscsi_params) {
    .max_connections = 1,
    .initial_r2t = true,
    .immediate_data = true,
    .max_recv_dsl = o->max_recv_dsl,
    .max_send_dsl = 8192,
    .max_burst = 262144,
    .first_burst = 65536,
    .time2wait = 2,
    .time2retain = 20,
    .max_outstanding_r2t = 1,
    .data_pdu_in_order = true,
    .data_seq_in_order = true,
  };
}

bool
iscsi_key_is_security (const char *key)
{
  for (size_t i = 0; i < G_N_ELEMENTS (security_keys); i++)
    if (strcmp (key, security_keys[i]) == 0)
      return true;
  return false;
}

/* ---- Splitting ---- */

static bool
key_name_ok (const char *k, size_t len)
{
  if (len == 0 || len > KEY_NAME_MAX)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!g_ascii_isalnum (k[i]) && !strchr (".-+@_", k[i]))
      return false;
  return true;
}

static int
split_one (char *s, GArray *pairs, GError **err)
{
  char *eq = strchr (s, '=');
  struct iscsi_kv kv;
  size_t vmax;

  if (eq == NULL) {
    g_set_error (err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "text key \"%.64s\" has no value", s);
    return -EINVAL;
  }
  *eq = '\0';
  if (!key_name_ok (s, (size_t) (eq - s))) {
    g_set_error (err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "bad text key name \"%.64s\"", s);
    return -EINVAL;
  }
  vmax = strncmp (s, "CHAP_", 5) == 0 ? VALUE_MAX_BINARY : VALUE_MAX;
  if (strlen (eq + 1) > vmax) {
    g_set_error (err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "value of %s longer than %zu bytes", s, vmax);
    return -EINVAL;
  }
  for (guint i = 0; i < pairs->len; i++)
    if (strcmp (g_array_index (pairs, struct iscsi_kv, i).key, s) == 0) {
      g_set_error (err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "text key %s sent twice", s);
      return -EINVAL;
    }
  kv.key = s;
  kv.value = eq + 1;
  g_array_append_val (pairs, kv);
  return 0;
}

int
iscsi_text_split (char *buf, size_t len, GArray *pairs, GError **err)
{
  size_t i = 0;

  while (i < len) {
    size_t n = strnlen (buf + i, len - i);
    int r;
    /* Empty strings (padding some initiators leave) carry nothing. */
    if (n > 0 && (r = split_one (buf + i, pairs, err)) < 0)
      return r;
    i += n + 1;
  }
  return 0;
}

void
iscsi_text_add (GString *out, const char *key, const char *value)
{
  g_string_append (out, key);
  g_string_append_c (out, '=');
  g_string_append (out, value);
  g_string_append_c (out, '\0');
}

/* ---- Values ---- */

/* RFC 7143 6.1: decimal or 0x-hex constants. */
static bool
parse_num (const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
  unsigned long long x = 0;
  int base = 10;
  const char *p = v;

  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
    base = 16;
    p += 2;
  }
  if (*p == '\0' || strlen (p) > 16)
    return false;
  for (; *p; p++) {
    int d = g_ascii_xdigit_value (*p);
    if (d < 0 || d >= base)
      return false;
    x = x * (unsigned) base + (unsigned) d;
  }
  if (x < lo || x > hi)
    return false;
  *out = (uint32_t) x;
  return true;
}

static int
parse_bool (const char *v)
{
  return strcmp (v, "Yes") == 0 ? 1 : strcmp (v, "No") == 0 ? 0 : -1;
}

/* The first of the initiator's digest choices we support, or NULL. */
static const char *
pick_digest (const char *v, bool crc_ok, bool *on)
{
  g_auto (GStrv) list = g_strsplit (v, ",", 0);

  for (char **s = list; *s; s++) {
    if (strcmp (*s, "None") == 0) {
      *on = false;
      return "None";
    }
    if (strcmp (*s, "CRC32C") == 0 && crc_ok) {
      *on = true;
      return "CRC32C";
    }
  }
  return NULL;
}

/* ---- Negotiation ---- */

static const struct key_rule *
find_rule (const char *key)
{
  for (size_t i = 0; i < G_N_ELEMENTS (rules); i++)
    if (strcmp (key, rules[i].name) == 0)
      return &rules[i];
  return NULL;
}

/* Our side of a numerical or boolean key. */
static uint32_t
ours (const struct iscsi_nego *n, const struct key_rule *r)
{
  const struct iscsi_offer *o = n->offer;

  switch (r->off) {
  case P (max_connections): return 1;
  case P (initial_r2t): return o->initial_r2t;
  case P (immediate_data): return o->immediate_data;
  case P (max_burst): return o->max_burst;
  case P (first_burst): return o->first_burst;
  case P (time2wait): return 2;
  case P (time2retain): return 0;       /* no session recovery */
  case P (max_outstanding_r2t): return 16;
  case P (data_pdu_in_order): return 1;
  case P (data_seq_in_order): return 1;
  case P (erl): return 0;
  default: return 0;
  }
}

static void
answer_num (GString *out, const char *key, uint32_t v)
{
  char buf[16];

  snprintf (buf, sizeof buf, "%u", v);
  iscsi_text_add (out, key, buf);
}

static unsigned
declare (struct iscsi_nego *n, const struct key_rule *r, const char *v,
         GError **err)
{
  struct iscsi_params *p = n->p;

  if (strcmp (r->name, "SessionType") == 0) {
    if (strcmp (v, "Discovery") == 0 || strcmp (v, "Normal") == 0) {
      p->discovery = v[0] == 'D';
      return LS_SUCCESS;
    }
    g_set_error (err, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "SessionType=%.32s is not supported", v);
    return LS_SESSION_TYPE;
  }
  if (strlen (v) >= (r->off == P (initiator_alias) ? 256 : 224)
      || (r->off != P (initiator_alias) && v[0] == '\0')) {
    g_set_error (err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "bad %s \"%.64s\"", r->name, v);
    return LS_INITIATOR_ERROR;
  }
  strcpy ((char *) p + r->off, v);
  return LS_SUCCESS;
}

/* One numerical or boolean key: store the result, answer it. */
static void
negotiate_value (struct iscsi_nego *n, const struct key_rule *r,
                 const char *v, GString *out)
{
  uint32_t x, mine = ours (n, r);
  void *field = (char *) n->p + r->off;
  int b;

  if (r->rule == R_OR || r->rule == R_AND) {
    if ((b = parse_bool (v)) < 0) {
      iscsi_text_add (out, r->name, "Reject");
      return;
    }
    b = r->rule == R_OR ? (b || mine) : (b && mine);
    *(bool *) field = b;
    iscsi_text_add (out, r->name, b ? "Yes" : "No");
    return;
  }
  if (!parse_num (v, r->lo, r->hi, &x)) {
    iscsi_text_add (out, r->name, "Reject");
    return;
  }
  x = r->rule == R_MIN ? MIN (x, mine) : MAX (x, mine);
  *(uint32_t *) field = x;
  answer_num (out, r->name, x);
}

static unsigned
negotiate_key (struct iscsi_nego *n, const struct key_rule *r, const char *v,
               GString *out, GError **err)
{
  bool on;
  uint32_t x;
  const char *pick;

  if (!n->in_login && (r->flags & F_LOGIN_ONLY)) {
    iscsi_text_add (out, r->name, "Reject");
    return LS_SUCCESS;
  }
  if (n->p->discovery && (r->flags & F_NOT_DISCOVERY)) {
    iscsi_text_add (out, r->name, "Irrelevant");
    return LS_SUCCESS;
  }
  switch (r->rule) {
  case R_DIGEST:
    if ((pick = pick_digest (v, n->offer->digests, &on)) == NULL) {
      iscsi_text_add (out, r->name, "Reject");
      return LS_SUCCESS;
    }
    *(bool *) ((char *) n->p + r->off) = on;
    iscsi_text_add (out, r->name, pick);
    return LS_SUCCESS;
  case R_RECV_DSL:
    if (!parse_num (v, r->lo, r->hi, &x)) {
      iscsi_text_add (out, r->name, "Reject");
      return LS_SUCCESS;
    }
    n->p->max_send_dsl = x;
    return LS_SUCCESS;
  case R_DECLARE:
    return declare (n, r, v, err);
  case R_TARGET_ONLY:
  case R_IRRELEVANT:
    iscsi_text_add (out, r->name, "Irrelevant");
    return LS_SUCCESS;
  case R_OBSOLETE_NO:
    iscsi_text_add (out, r->name, "No");
    return LS_SUCCESS;
  default:
    negotiate_value (n, r, v, out);
    return LS_SUCCESS;
  }
}

static bool
is_answer (const char *v)
{
  return strcmp (v, "Reject") == 0 || strcmp (v, "Irrelevant") == 0 ||
    strcmp (v, "NotUnderstood") == 0;
}

static unsigned
negotiate_pair (struct iscsi_nego *n, const struct iscsi_kv *kv,
                GString *out, bool *security, GError **err)
{
  const struct key_rule *r;

  if (n->seen) {
    if (g_hash_table_contains (n->seen, kv->key)) {
      g_set_error (err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "text key %s negotiated twice", kv->key);
      return LS_INITIATOR_ERROR;
    }
    g_hash_table_add (n->seen, g_strdup (kv->key));
  }
  if (iscsi_key_is_security (kv->key)) {
    *security = true;
    return LS_SUCCESS;
  }
  /* An answer to something we never offered needs no reply. */
  if (is_answer (kv->value))
    return LS_SUCCESS;
  if ((r = find_rule (kv->key)) == NULL) {
    iscsi_text_add (out, kv->key, "NotUnderstood");
    return LS_SUCCESS;
  }
  return negotiate_key (n, r, kv->value, out, err);
}

static unsigned
negotiate_all (struct iscsi_nego *n, const struct iscsi_kv *pairs,
               size_t npairs, GString *out, bool *security, GError **err)
{
  unsigned st;

  /* SessionType decides which keys are irrelevant: take it first. */
  for (size_t i = 0; i < npairs; i++)
    if (strcmp (pairs[i].key, "SessionType") == 0 &&
        (st = negotiate_pair (n, &pairs[i], out, security, err)) != 0)
      return st;
  for (size_t i = 0; i < npairs; i++) {
    bool sec = false;
    if (strcmp (pairs[i].key, "SessionType") == 0)
      continue;
    if ((st = negotiate_pair (n, &pairs[i], out, &sec, err)) != 0)
      return st;
    *security |= sec;
  }
  return LS_SUCCESS;
}

unsigned
iscsi_negotiate (struct iscsi_nego *n, const struct iscsi_kv *pairs,
                 size_t npairs, GString *out, bool *security, GError **err)
{
  unsigned st;

  *security = false;
  st = negotiate_all (n, pairs, npairs, out, security, err);
  /* RFC 7143 13.14: FirstBurstLength MUST NOT exceed MaxBurstLength,
   * even when a later key of the same request was refused.
   */
  if (n->p->first_burst > n->p->max_burst)
    n->p->first_burst = n->p->max_burst;
  return st;
}
