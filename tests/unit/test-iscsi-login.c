/* xcopyd: text key negotiation rules (RFC 7143 6, 13) and the login
 * state machine (RFC 7143 6.3, 11.12-11.13, 12.1.3) driven through
 * buffers: statuses, stage transitions, CHAP and mutual CHAP.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "../../daemon/iscsi/iscsi-int.h"
#include "../../daemon/scsi/be.h"

#define TGT "iqn.2024-01.test:t1"
#define INI "iqn.2024-01.test:init"

static const struct iscsi_offer offer = {
  .max_recv_dsl = 262144, .max_burst = 1048576, .first_burst = 262144,
  .initial_r2t = false, .immediate_data = true, .digests = true,
};

/* ---- Negotiation ---- */

/* Negotiate text ("k=v;k=v") and return the answer in the same form. */
static char *
nego (struct iscsi_nego *n, const char *text, unsigned *status)
{
  g_autofree char *buf = g_strdup (text);
  g_autoptr (GArray) kv = g_array_new (FALSE, FALSE, sizeof (struct iscsi_kv));
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) err = NULL;
  bool sec;

  g_strdelimit (buf, ";", '\0');
  REQUIRE_INT (iscsi_text_split (buf, strlen (text), kv, &err), ==, 0);
  *status = iscsi_negotiate (n, (struct iscsi_kv *) kv->data, kv->len, out,
                             &sec, &err);
  if (*status != 0)
    CHECK (err != NULL);
  for (size_t i = 0; i < out->len; i++)
    if (out->str[i] == '\0')
      out->str[i] = ';';
  if (out->len)
    g_string_truncate (out, out->len - 1);
  return g_strdup (out->str);
}

#define EXPECT_NEGO(n, in, want)                                        \
  do {                                                                  \
    unsigned st_;                                                       \
    g_autofree char *got_ = nego ((n), (in), &st_);                     \
    CHECK_INT (st_, ==, 0);                                             \
    if (strcmp (got_, (want)) != 0)                                     \
      h_fail (__FILE__, __LINE__, "%s -> \"%s\", want \"%s\"", (in),    \
              got_, (want));                                            \
  } while (0)

static void
nego_init (struct iscsi_nego *n, struct iscsi_params *p, const struct iscsi_offer *o)
{
  iscsi_params_defaults (p, o);
  *n = (struct iscsi_nego) { .p = p, .offer = o, .in_login = true };
}

static void
nego_rules (void)
{
  struct iscsi_params p;
  struct iscsi_nego n;

  nego_init (&n, &p, &offer);
  EXPECT_NEGO (&n, "HeaderDigest=CRC32C,None", "HeaderDigest=CRC32C");
  CHECK (p.header_digest);
  EXPECT_NEGO (&n, "DataDigest=None,CRC32C", "DataDigest=None");
  CHECK (!p.data_digest);
  EXPECT_NEGO (&n, "MaxConnections=4", "MaxConnections=1");
  EXPECT_NEGO (&n, "InitialR2T=No;ImmediateData=Yes",
               "InitialR2T=No;ImmediateData=Yes");
  EXPECT_NEGO (&n, "MaxBurstLength=2097152;FirstBurstLength=0x1000",
               "MaxBurstLength=1048576;FirstBurstLength=4096");
  CHECK_U64 (p.max_burst, ==, 1048576);
  CHECK_U64 (p.first_burst, ==, 4096);
  EXPECT_NEGO (&n, "DefaultTime2Wait=0;DefaultTime2Retain=20",
               "DefaultTime2Wait=2;DefaultTime2Retain=0");
  EXPECT_NEGO (&n, "MaxOutstandingR2T=64;ErrorRecoveryLevel=2",
               "MaxOutstandingR2T=16;ErrorRecoveryLevel=0");
  EXPECT_NEGO (&n, "DataPDUInOrder=No;DataSequenceInOrder=No",
               "DataPDUInOrder=Yes;DataSequenceInOrder=Yes");
  /* Declarations need no answer. */
  EXPECT_NEGO (&n, "MaxRecvDataSegmentLength=65536;InitiatorAlias=host",
               "");
  CHECK_U64 (p.max_send_dsl, ==, 65536);
  CHECK (strcmp (p.initiator_alias, "host") == 0);
  EXPECT_NEGO (&n, "X-com.example.foo=1;IFMarker=Yes;OFMarkInt=1~2",
               "X-com.example.foo=NotUnderstood;IFMarker=No;"
               "OFMarkInt=Irrelevant");
}

static void
nego_bad_values (void)
{
  struct iscsi_params p;
  struct iscsi_nego n;
  struct iscsi_offer o = offer;
  unsigned st;

  o.digests = false;
  o.immediate_data = false;
  nego_init (&n, &p, &o);
  EXPECT_NEGO (&n, "HeaderDigest=CRC32C", "HeaderDigest=Reject");
  EXPECT_NEGO (&n, "DataDigest=MD5,None", "DataDigest=None");
  EXPECT_NEGO (&n, "ImmediateData=Yes", "ImmediateData=No");
  EXPECT_NEGO (&n, "InitialR2T=Maybe", "InitialR2T=Reject");
  EXPECT_NEGO (&n, "MaxBurstLength=abc", "MaxBurstLength=Reject");
  EXPECT_NEGO (&n, "FirstBurstLength=100", "FirstBurstLength=Reject");
  EXPECT_NEGO (&n, "MaxConnections=0", "MaxConnections=Reject");
  EXPECT_NEGO (&n, "MaxRecvDataSegmentLength=16777216",
               "MaxRecvDataSegmentLength=Reject");
  EXPECT_NEGO (&n, "ErrorRecoveryLevel=-1", "ErrorRecoveryLevel=Reject");
  /* Answers to offers we never made are dropped. */
  EXPECT_NEGO (&n, "MaxConnections=Irrelevant", "");
  g_free (nego (&n, "SessionType=Bogus", &st));
  CHECK_INT (st, ==, LS_SESSION_TYPE);
  g_free (nego (&n, "InitiatorName=", &st));
  CHECK_INT (st, ==, LS_INITIATOR_ERROR);
}

static void
nego_discovery_and_ffp (void)
{
  struct iscsi_params p;
  struct iscsi_nego n;

  nego_init (&n, &p, &offer);
  /* SessionType counts first even when it comes last. */
  EXPECT_NEGO (&n, "MaxBurstLength=4096;SessionType=Discovery",
               "MaxBurstLength=Irrelevant");
  CHECK (p.discovery);
  CHECK_U64 (p.max_burst, ==, 262144);
  n.in_login = false;
  EXPECT_NEGO (&n, "HeaderDigest=None;MaxRecvDataSegmentLength=4096",
               "HeaderDigest=Reject");
  CHECK_U64 (p.max_send_dsl, ==, 4096);
}

static void
nego_duplicates (void)
{
  struct iscsi_params p;
  struct iscsi_nego n;
  unsigned st;

  nego_init (&n, &p, &offer);
  n.seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  EXPECT_NEGO (&n, "MaxBurstLength=4096", "MaxBurstLength=4096");
  g_free (nego (&n, "MaxBurstLength=8192", &st));
  CHECK_INT (st, ==, LS_INITIATOR_ERROR);
  g_hash_table_destroy (n.seen);
}

/* ---- Login ---- */

static struct iscsi_tgt tgt = { .iqn = (char *) TGT, .tpgt = 1 };
static struct iscsi_chap no_chap;

static struct iscsi_tgt *
lookup (void *opaque, const char *iqn)
{
  (void) opaque;
  return strcmp (iqn, TGT) == 0 ? &tgt : NULL;
}

static uint16_t
new_tsih (void *opaque)
{
  (void) opaque;
  return 0x1234;
}

static const struct iscsi_login_env env = {
  .lookup = lookup, .discovery_chap = &no_chap, .new_tsih = new_tsih,
  .offer = {
    .max_recv_dsl = 262144, .max_burst = 1048576, .first_burst = 262144,
    .immediate_data = true, .digests = true,
  },
};

struct rsp {
  uint8_t bhs[ISCSI_BHS_LEN];
  char text[1024];              /* keys joined with ';' */
};

/* Send one Login Request (text "k=v;k=v") with the given flags. */
static void
req (struct iscsi_login *l, unsigned csg, unsigned nsg, bool t, bool c,
     const char *text, struct rsp *r)
{
  uint8_t bhs[ISCSI_BHS_LEN] = { 0x43 };
  g_autofree char *data = g_strdup (text);
  g_autoptr (GString) out = g_string_new (NULL);
  size_t len = strlen (text);

  bhs[1] = (uint8_t) ((t ? 0x80 : 0) | (c ? 0x40 : 0) | csg << 2 | nsg);
  memcpy (bhs + 8, "\x80\x12\x34\x56\x00\x01", 6);
  put_be32 (bhs + 16, 77);
  put_be32 (bhs + 24, 1000);
  g_strdelimit (data, ";", '\0');
  REQUIRE_INT (iscsi_login_step (l, bhs, (uint8_t *) data, len ? len + 1 : 0,
                                 r->bhs, out), ==, 0);
  REQUIRE (out->len < sizeof r->text);
  memcpy (r->text, out->str, out->len);
  for (size_t i = 0; i < out->len; i++)
    if (r->text[i] == '\0')
      r->text[i] = ';';
  r->text[out->len] = '\0';
  CHECK_INT (r->bhs[0], ==, OP_LOGIN_RSP);
  CHECK_U64 (get_be32 (r->bhs + 16), ==, 77);
  CHECK (memcmp (r->bhs + 8, "\x80\x12\x34\x56\x00\x01", 6) == 0);
}

static unsigned
status (const struct rsp *r)
{
  return get_be16 (r->bhs + 36);
}

static bool
has (const struct rsp *r, const char *kv)
{
  g_autofree char *s = g_strdup_printf (";%s;", r->text);
  g_autofree char *k = g_strdup_printf (";%s;", kv);

  return strstr (s, k) != NULL;
}

static const char *
value (const struct rsp *r, const char *key, char *buf, size_t len)
{
  g_autofree char *k = g_strdup_printf ("%s=", key);
  const char *p = strstr (r->text, k);

  if (p == NULL)
    return NULL;
  p += strlen (k);
  snprintf (buf, len, "%.*s", (int) strcspn (p, ";"), p);
  return buf;
}

#define NAMES "InitiatorName=" INI ";TargetName=" TGT ";SessionType=Normal"

static void
login_none (void)
{
  struct iscsi_login l;
  struct rsp r1, r2;

  iscsi_login_init (&l, &env);
  req (&l, 0, 1, true, false, NAMES ";AuthMethod=None", &r1);
  CHECK_U64 (status (&r1), ==, 0);
  CHECK_INT (r1.bhs[1], ==, 0x80 | 0 << 2 | 1);
  CHECK (has (&r1, "AuthMethod=None"));
  CHECK (has (&r1, "TargetPortalGroupTag=1"));
  CHECK_U64 (get_be16 (r1.bhs + 14), ==, 0);
  CHECK_U64 (get_be32 (r1.bhs + 28), ==, 1000);     /* ExpCmdSN */
  req (&l, 1, 3, true, false, "HeaderDigest=None;MaxBurstLength=65536", &r2);
  CHECK_U64 (status (&r2), ==, 0);
  CHECK_INT (r2.bhs[1], ==, 0x80 | 1 << 2 | 3);
  CHECK (has (&r2, "HeaderDigest=None"));
  CHECK (has (&r2, "MaxBurstLength=65536"));
  CHECK (has (&r2, "MaxRecvDataSegmentLength=262144"));
  CHECK_U64 (get_be16 (r2.bhs + 14), ==, 0x1234);
  CHECK_U64 (get_be32 (r2.bhs + 24), ==, get_be32 (r1.bhs + 24) + 1);
  CHECK (l.complete && !l.failed && l.tgt == &tgt);
  CHECK_U64 (l.params.max_burst, ==, 65536);
  iscsi_login_clear (&l);
}

/* One request on a fresh login, expecting a refusal. */
static void
refused (unsigned csg, unsigned nsg, bool t, bool c, const char *text,
         unsigned want, int line)
{
  struct iscsi_login l;
  struct rsp r;

  iscsi_login_init (&l, &env);
  req (&l, csg, nsg, t, c, text, &r);
  if (status (&r) != want)
    h_fail (__FILE__, line, "status %04x, want %04x", status (&r), want);
  CHECK (l.failed && !l.complete);
  CHECK_INT (r.bhs[1] & 0x80, ==, 0);
  CHECK (r.text[0] == '\0');
  iscsi_login_clear (&l);
}

static void
login_refusals (void)
{
  refused (0, 1, true, false, "TargetName=" TGT ";AuthMethod=None",
           LS_MISSING_PARAMETER, __LINE__);
  refused (0, 1, true, false, "InitiatorName=" INI ";AuthMethod=None",
           LS_MISSING_PARAMETER, __LINE__);
  refused (0, 1, true, false, "InitiatorName=" INI
           ";TargetName=iqn.2024-01.test:nope", LS_NOT_FOUND, __LINE__);
  refused (0, 1, true, false, NAMES ";InitiatorName=x", LS_INITIATOR_ERROR,
           __LINE__);
  refused (0, 1, true, true, NAMES, LS_INITIATOR_ERROR, __LINE__);
  refused (3, 0, false, false, NAMES, LS_INITIATOR_ERROR, __LINE__);
  refused (0, 2, true, false, NAMES ";AuthMethod=None", LS_INITIATOR_ERROR,
           __LINE__);
  refused (0, 1, true, false, NAMES ";AuthMethod=SRP", LS_AUTH_FAILED,
           __LINE__);
  refused (1, 3, true, false, NAMES ";AuthMethod=None", LS_INITIATOR_ERROR,
           __LINE__);
  refused (0, 1, true, false, NAMES ";SessionType=Weird", LS_INITIATOR_ERROR,
           __LINE__);
}

static void
login_version_tsih_acl (void)
{
  struct iscsi_login l;
  struct rsp r;
  uint8_t bhs[ISCSI_BHS_LEN] = { 0x43, 0x81, 0, 1 };      /* version-min 1 */
  g_autoptr (GString) out = g_string_new (NULL);
  char *acl[] = { (char *) "iqn.2024-01.test:other", NULL };

  iscsi_login_init (&l, &env);
  REQUIRE_INT (iscsi_login_step (&l, bhs, NULL, 0, r.bhs, out), ==, 0);
  CHECK_U64 (status (&r), ==, LS_UNSUPPORTED_VERSION);
  iscsi_login_clear (&l);

  bhs[3] = 0;
  put_be16 (bhs + 14, 5);                                 /* TSIH */
  iscsi_login_init (&l, &env);
  REQUIRE_INT (iscsi_login_step (&l, bhs, NULL, 0, r.bhs, out), ==, 0);
  CHECK_U64 (status (&r), ==, LS_NO_SESSION);
  /* Once failed, the machine takes nothing more. */
  CHECK_INT (iscsi_login_step (&l, bhs, NULL, 0, r.bhs, out), ==, -EPROTO);
  iscsi_login_clear (&l);

  tgt.acl = acl;
  refused (0, 1, true, false, NAMES ";AuthMethod=None", LS_FORBIDDEN,
           __LINE__);
  acl[0] = (char *) INI;
  iscsi_login_init (&l, &env);
  req (&l, 0, 1, true, false, NAMES ";AuthMethod=None", &r);
  CHECK_U64 (status (&r), ==, 0);
  iscsi_login_clear (&l);
  tgt.acl = NULL;
}

static void
login_continued (void)
{
  struct iscsi_login l;
  struct rsp r;

  iscsi_login_init (&l, &env);
  req (&l, 0, 1, false, true, "InitiatorName=" INI, &r);
  CHECK_U64 (status (&r), ==, 0);
  CHECK_INT (r.bhs[1], ==, 0);                      /* no T: send more */
  CHECK (r.text[0] == '\0');
  req (&l, 0, 1, true, false, "TargetName=" TGT ";AuthMethod=None", &r);
  CHECK_U64 (status (&r), ==, 0);
  CHECK (has (&r, "AuthMethod=None"));
  CHECK_INT (r.bhs[1], ==, 0x81);
  iscsi_login_clear (&l);
}

/* The names and SessionType belong to the first request: a session
 * authenticated for a target must not turn into a discovery session
 * (which may need CHAP of its own), nor a discovery session pick a target.
 */
static void
login_late_names (void)
{
  static const char *const late[] = {
    "SessionType=Discovery", "TargetName=" TGT, "InitiatorName=" INI,
  };
  struct iscsi_login l;
  struct rsp r;

  for (size_t i = 0; i < G_N_ELEMENTS (late); i++) {
    iscsi_login_init (&l, &env);
    req (&l, 0, 1, true, false, i == 0 ? "InitiatorName=" INI
         ";TargetName=" TGT ";AuthMethod=None"
         : "InitiatorName=iqn.2024-01.test:x;SessionType=Discovery;"
         "AuthMethod=None", &r);
    CHECK_U64 (status (&r), ==, 0);
    CHECK_INT (r.bhs[1], ==, 0x81);
    req (&l, 1, 3, true, false, late[i], &r);
    if (status (&r) != LS_INITIATOR_ERROR)
      h_fail (__FILE__, __LINE__, "late %s: status %04x", late[i],
              status (&r));
    CHECK (l.failed && !l.complete);
    CHECK_INT (r.bhs[1] & 0x80, ==, 0);
    iscsi_login_clear (&l);
  }
}

/* ---- CHAP ---- */

static void
hex_of (const uint8_t *b, size_t n, char *out)
{
  g_autofree char *h = iscsi_chap_encode_hex (b, n);
  strcpy (out, h);
}

/* Run AuthMethod and CHAP_A; return the challenge. */
static void
chap_start (struct iscsi_login *l, uint8_t *id, uint8_t chal[16])
{
  struct rsp r;
  char buf[128];
  size_t len;
  g_autofree uint8_t *c = NULL;

  req (l, 0, 1, true, false, NAMES ";AuthMethod=CHAP,None", &r);
  CHECK_U64 (status (&r), ==, 0);
  CHECK (has (&r, "AuthMethod=CHAP"));
  CHECK_INT (r.bhs[1] & 0x80, ==, 0);               /* not before CHAP */
  req (l, 0, 1, false, false, "CHAP_A=7,5", &r);
  CHECK_U64 (status (&r), ==, 0);
  CHECK (has (&r, "CHAP_A=5"));
  REQUIRE (value (&r, "CHAP_I", buf, sizeof buf) != NULL);
  *id = (uint8_t) atoi (buf);
  REQUIRE (value (&r, "CHAP_C", buf, sizeof buf) != NULL);
  c = iscsi_chap_decode (buf, 64, &len);
  REQUIRE (c != NULL && len == 16);
  memcpy (chal, c, 16);
}

static void
chap_login (void)
{
  struct iscsi_login l;
  struct rsp r;
  uint8_t id, chal[16], resp[16];
  char hex[64], text[256];

  tgt.chap = (struct iscsi_chap) { "alice", "secretsecret12", NULL, NULL };
  iscsi_login_init (&l, &env);
  chap_start (&l, &id, chal);
  iscsi_chap_response (id, "secretsecret12", chal, 16, resp);
  hex_of (resp, 16, hex);
  snprintf (text, sizeof text, "CHAP_N=alice;CHAP_R=%s", hex);
  req (&l, 0, 1, true, false, text, &r);
  CHECK_U64 (status (&r), ==, 0);
  CHECK_INT (r.bhs[1], ==, 0x81);
  CHECK (l.chap == CHAP_DONE);
  iscsi_login_clear (&l);

  /* A wrong secret, a wrong name. */
  for (int i = 0; i < 2; i++) {
    iscsi_login_init (&l, &env);
    chap_start (&l, &id, chal);
    iscsi_chap_response (id, i ? "secretsecret12" : "secretsecret13", chal, 16,
                         resp);
    hex_of (resp, 16, hex);
    snprintf (text, sizeof text, "CHAP_N=%s;CHAP_R=%s", i ? "bob" : "alice",
              hex);
    req (&l, 0, 1, true, false, text, &r);
    CHECK_U64 (status (&r), ==, LS_AUTH_FAILED);
    iscsi_login_clear (&l);
  }
  /* CHAP required: None alone, or skipping the security stage, fails. */
  refused (0, 1, true, false, NAMES ";AuthMethod=None", LS_AUTH_FAILED,
           __LINE__);
  refused (1, 3, true, false, NAMES, LS_AUTH_FAILED, __LINE__);
  tgt.chap = no_chap;
}

static void
chap_mutual (void)
{
  struct iscsi_login l;
  struct rsp r;
  uint8_t id, chal[16], resp[16], mine[16], want[16];
  char hex[64], chex[64], text[512], got[64];

  tgt.chap = (struct iscsi_chap) { "alice", "secretsecret12", "tgt",
                                   "othersecret123" };
  for (int i = 0; i < 16; i++)
    mine[i] = (uint8_t) (0xa0 + i);
  iscsi_login_init (&l, &env);
  chap_start (&l, &id, chal);
  iscsi_chap_response (id, "secretsecret12", chal, 16, resp);
  hex_of (resp, 16, hex);
  hex_of (mine, 16, chex);
  snprintf (text, sizeof text, "CHAP_N=alice;CHAP_R=%s;CHAP_I=9;CHAP_C=%s",
            hex, chex);
  req (&l, 0, 1, true, false, text, &r);
  CHECK_U64 (status (&r), ==, 0);
  CHECK (has (&r, "CHAP_N=tgt"));
  iscsi_chap_response (9, "othersecret123", mine, 16, want);
  hex_of (want, 16, hex);
  CHECK (value (&r, "CHAP_R", got, sizeof got) && strcmp (got, hex) == 0);
  iscsi_login_clear (&l);

  /* Our own challenge reflected back is refused. */
  iscsi_login_init (&l, &env);
  chap_start (&l, &id, chal);
  iscsi_chap_response (id, "secretsecret12", chal, 16, resp);
  hex_of (resp, 16, hex);
  hex_of (chal, 16, chex);
  snprintf (text, sizeof text, "CHAP_N=alice;CHAP_R=%s;CHAP_I=%u;CHAP_C=%s",
            hex, id, chex);
  req (&l, 0, 1, true, false, text, &r);
  CHECK_U64 (status (&r), ==, LS_AUTH_FAILED);
  iscsi_login_clear (&l);
  tgt.chap = no_chap;
}

static const struct h_test tests[] = {
  H_TEST (nego_rules),
  H_TEST (nego_bad_values),
  H_TEST (nego_discovery_and_ffp),
  H_TEST (nego_duplicates),
  H_TEST (login_none),
  H_TEST (login_refusals),
  H_TEST (login_version_tsih_acl),
  H_TEST (login_continued),
  H_TEST (login_late_names),
  H_TEST (chap_login),
  H_TEST (chap_mutual),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
