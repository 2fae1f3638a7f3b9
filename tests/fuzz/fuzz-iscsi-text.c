/* xcopyd: libFuzzer target for iSCSI text keys (daemon/iscsi/params.c)
 * and CHAP binary values (chap.c).
 *
 * Input:
 *
 *   u8  mode       bit 0: login (else full feature phase);
 *                  bit 1: a discovery session;
 *                  bit 2: remember keys across the segments (login);
 *                  bit 3: offer digests, bit 4: offer ImmediateData
 *   ... segments   the rest, split at each 0xff byte into text data
 *                  segments negotiated in turn on one parameter set
 *
 * Checks: splitting never reads past the segment; every answer is a
 * well-formed key=value\0 list; negotiated numbers stay inside their
 * legal ranges (RFC 7143 13); FirstBurstLength <= MaxBurstLength; a
 * CHAP value that decodes re-encodes to the same bytes.
 *
 * Build and run: see fuzz-iscsi-login.c (same sources) and
 * tests/func/test-fuzz-iscsi.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/iscsi/iscsi-int.h"

#define MAX_SEGMENTS 8

static void
die (const char *what)
{
  fprintf (stderr, "fuzz-iscsi-text: invariant broken: %s\n", what);
  abort ();
}

static void
check_text (const GString *out)
{
  size_t i = 0;

  while (i < out->len) {
    const char *s = out->str + i;
    size_t n = strnlen (s, out->len - i);
    if (i + n == out->len)
      die ("answer not NUL-terminated");
    if (n == 0 || memchr (s, '=', n) == NULL || s[0] == '=')
      die ("malformed key=value in answer");
    i += n + 1;
  }
}

static void
check_params (const struct iscsi_params *p, const struct iscsi_offer *o)
{
  if (p->max_send_dsl < 512 || p->max_send_dsl > 16777215)
    die ("MaxRecvDataSegmentLength out of range");
  if (p->max_burst < 512 || p->max_burst > o->max_burst)
    die ("MaxBurstLength out of range");
  if (p->first_burst < 512 || p->first_burst > p->max_burst)
    die ("FirstBurstLength out of range");
  if (p->max_connections != 1 || p->erl != 0)
    die ("MaxConnections or ErrorRecoveryLevel not 1 and 0");
  if (p->max_outstanding_r2t < 1 || p->max_outstanding_r2t > 16)
    die ("MaxOutstandingR2T out of range");
  if (!p->data_pdu_in_order || !p->data_seq_in_order)
    die ("data out of order allowed");
  if ((p->header_digest || p->data_digest) && !o->digests)
    die ("digest we did not offer");
  if (memchr (p->initiator_name, '\0', sizeof p->initiator_name) == NULL ||
      memchr (p->initiator_alias, '\0', sizeof p->initiator_alias) == NULL ||
      memchr (p->target_name, '\0', sizeof p->target_name) == NULL)
    die ("a name is not terminated");
}

/* A CHAP value that decodes must survive a hex round trip. */
static void
check_chap_value (const char *v)
{
  g_autofree uint8_t *bin = NULL, *again = NULL;
  g_autofree char *hex = NULL;
  size_t len = 0, len2 = 0;

  bin = iscsi_chap_decode (v, 1024, &len);
  if (bin == NULL)
    return;
  if (len == 0 || len > 1024)
    die ("CHAP value decoded to a bad length");
  hex = iscsi_chap_encode_hex (bin, len);
  again = iscsi_chap_decode (hex, 1024, &len2);
  if (again == NULL || len2 != len || memcmp (bin, again, len) != 0)
    die ("CHAP hex round trip");
}

static void
one_segment (struct iscsi_nego *n, const uint8_t *d, size_t len)
{
  g_autoptr (GArray) kv = g_array_new (FALSE, FALSE, sizeof (struct iscsi_kv));
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) err = NULL;
  /* Exactly len + 1 bytes: ASan catches any read past the segment. */
  g_autofree char *buf = g_malloc (len + 1);
  bool security;
  unsigned st;

  memcpy (buf, d, len);
  buf[len] = '\0';
  if (iscsi_text_split (buf, len, kv, &err) < 0) {
    if (err == NULL)
      die ("split failed without a message");
    return;
  }
  for (guint i = 0; i < kv->len; i++) {
    const struct iscsi_kv *p = &g_array_index (kv, struct iscsi_kv, i);
    if (p->key < buf || p->value > buf + len || strlen (p->value) > 8192)
      die ("a pair outside the segment");
    check_chap_value (p->value);
  }
  st = iscsi_negotiate (n, (struct iscsi_kv *) kv->data, kv->len, out,
                        &security, &err);
  if (st != LS_SUCCESS && err == NULL)
    die ("negotiation refused without a message");
  check_text (out);
}

int LLVMFuzzerTestOneInput (const uint8_t *d, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *d, size_t size)
{
  struct iscsi_offer offer = {
    .max_recv_dsl = 262144, .max_burst = 1048576, .first_burst = 262144,
  };
  struct iscsi_params p;
  struct iscsi_nego n;
  unsigned mode;

  if (size < 1)
    return 0;
  mode = d[0];
  d++;
  size--;
  offer.digests = mode & 8;
  offer.immediate_data = mode & 16;
  iscsi_params_defaults (&p, &offer);
  p.discovery = mode & 2;
  n = (struct iscsi_nego) { .p = &p, .offer = &offer, .in_login = mode & 1 };
  if (mode & 4)
    n.seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (int k = 0; k < MAX_SEGMENTS && size > 0; k++) {
    const uint8_t *end = memchr (d, 0xff, size);
    size_t len = end ? (size_t) (end - d) : size;
    one_segment (&n, d, len);
    check_params (&p, &offer);
    d += len + (end ? 1 : 0);
    size -= len + (end ? 1 : 0);
  }
  if (n.seen)
    g_hash_table_destroy (n.seen);
  return 0;
}

#include "fuzz-standalone-main.h"
