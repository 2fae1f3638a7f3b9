/* xcopyd: libFuzzer target for the iSCSI login state machine
 * (daemon/iscsi/login.c with the text keys of params.c and CHAP).
 *
 * Input: up to MAX_PDUS Login Requests fed to one fresh login, each
 *
 *   u8  mode       bit 1: append a correct CHAP_N/CHAP_R for the last
 *                         challenge we sent (so fuzzing gets past it);
 *                  bit 2: append CHAP_I/CHAP_C (a mutual challenge)
 *   ... bhs        48 bytes, sent as is
 *   u16 len        big-endian, data bytes that follow (clamped)
 *   ... data
 *
 * Targets: "t1" (anyone, no CHAP) and "tc" (CHAP with mutual CHAP, one
 * initiator allowed); discovery needs no CHAP.  After every step the response is checked: a Login Response echoing ISID and
 * ITT, no keys and no transit with a refusal, well-formed key=value\0
 * text, and full feature phase only for a named, allowed, authenticated
 * initiator.
 *
 * Build and run (tests/func/test-fuzz-iscsi.sh does this), from the top:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
 *     -D_GNU_SOURCE $(pkg-config --cflags glib-2.0 gio-unix-2.0) -Iinclude \
 *     -Icommon tests/fuzz/fuzz-iscsi-login.c daemon/iscsi/[a-z]*.c \
 *     daemon/scsi/[a-z]*.c common/[a-z]*.c \
 *     $(pkg-config --libs glib-2.0 gio-unix-2.0 libisal) -lpthread \
 *     -o fuzz-iscsi-login
 *   ./fuzz-iscsi-login -max_total_time=20 NEW_DIR tests/fuzz/corpus/iscsi-login
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/iscsi/iscsi-int.h"
#include "../../daemon/scsi/be.h"

#define MAX_PDUS 12
#define TGT "iqn.2024-01.test:t1"
#define TGT_CHAP "iqn.2024-01.test:tc"
#define CHAP_USER "fuzzuser"
#define CHAP_SECRET "fuzzsecret123456"

static char *acl_tc[] = { (char *) "iqn.2024-01.test:init", NULL };
static struct iscsi_tgt tgt = { .iqn = (char *) TGT, .tpgt = 1 };
static struct iscsi_tgt tgt_chap = {
  .iqn = (char *) TGT_CHAP, .alias = (char *) "fuzz", .tpgt = 2,
  .acl = acl_tc,
  .chap = { CHAP_USER, CHAP_SECRET, "mutualuser", "mutualsecret9876" },
};
static struct iscsi_chap discovery_chap;

static struct iscsi_tgt *
lookup (void *opaque, const char *iqn)
{
  (void) opaque;
  if (strcmp (iqn, TGT) == 0)
    return &tgt;
  return strcmp (iqn, TGT_CHAP) == 0 ? &tgt_chap : NULL;
}

static uint16_t
new_tsih (void *opaque)
{
  (void) opaque;
  return 0x4242;
}

static const struct iscsi_login_env env = {
  .lookup = lookup, .discovery_chap = &discovery_chap, .new_tsih = new_tsih,
  .offer = {
    .max_recv_dsl = 262144, .max_burst = 1048576, .first_burst = 262144,
    .immediate_data = true, .digests = true,
  },
};

static void
die (const char *what)
{
  fprintf (stderr, "fuzz-iscsi-login: invariant broken: %s\n", what);
  abort ();
}

/* Every answer is a list of key=value\0 with printable keys. */
static void
check_text (const GString *out)
{
  size_t i = 0;

  if (out->len > 65536)
    die ("response text too long");
  while (i < out->len) {
    const char *s = out->str + i;
    size_t n = strnlen (s, out->len - i);
    const char *eq = memchr (s, '=', n);
    if (i + n == out->len)
      die ("response text not NUL-terminated");
    if (n == 0 || eq == NULL || eq == s)
      die ("malformed key=value in response");
    i += n + 1;
  }
}

static void
check_step (const struct iscsi_login *l, const uint8_t *req,
            const uint8_t *rsp, const GString *out)
{
  unsigned st = get_be16 (rsp + 36);

  if (rsp[0] != OP_LOGIN_RSP || memcmp (rsp + 8, l->isid, 6) != 0 ||
      get_be32 (rsp + 16) != l->itt)
    die ("response header");
  if (!l->failed && memcmp (req + 8, l->isid, 6) != 0)
    die ("ISID changed within a login");
  if (st != 0 && (!l->failed || (rsp[1] & 0x80) || out->len > 0))
    die ("a refusal transits or carries keys");
  if (st == 0 && l->failed)
    die ("failed login with status 0");
  if ((rsp[1] & 0xc0) == 0xc0)
    die ("T and C both set");
  check_text (out);
  if (!l->complete)
    return;
  if ((rsp[1] & 0x83) != 0x83 || get_be16 (rsp + 14) != 0x4242)
    die ("full feature phase without T, NSG 3 and a TSIH");
  if (l->params.initiator_name[0] == '\0')
    die ("logged in without InitiatorName");
  if (!l->params.discovery &&
      (l->tgt == NULL || !iscsi_tgt_allows (l->tgt, l->params.initiator_name)))
    die ("normal session without an allowed target");
  if (!l->params.discovery && l->tgt == &tgt_chap && l->chap != CHAP_DONE)
    die ("logged in to a CHAP target without CHAP");
  if (l->params.discovery != (l->tgt == NULL))
    die ("session type and target disagree");
}

/* The CHAP keys bits 1-2 of mode ask for, appended to data. */
static void
add_chap (const struct iscsi_login *l, unsigned mode, GString *data)
{
  uint8_t rsp[16];
  g_autofree char *hex = NULL;
  char id[8];

  if ((mode & 2) && l->chap == CHAP_WAIT_R) {
    iscsi_chap_response (l->chap_id, CHAP_SECRET, l->chap_c,
                         CHAP_CHALLENGE_LEN, rsp);
    hex = iscsi_chap_encode_hex (rsp, sizeof rsp);
    iscsi_text_add (data, "CHAP_N", CHAP_USER);
    iscsi_text_add (data, "CHAP_R", hex);
  }
  if (mode & 4) {
    snprintf (id, sizeof id, "%u", (l->chap_id + 1u) & 0xff);
    iscsi_text_add (data, "CHAP_I", id);
    iscsi_text_add (data, "CHAP_C", "0x00112233445566778899aabbccddeeff01");
  }
}

int LLVMFuzzerTestOneInput (const uint8_t *d, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *d, size_t size)
{
  struct iscsi_login l;

  iscsi_login_init (&l, &env);
  for (int k = 0; k < MAX_PDUS && size >= 1 + ISCSI_BHS_LEN; k++) {
    g_autoptr (GString) data = g_string_new (NULL);
    g_autoptr (GString) out = g_string_new (NULL);
    uint8_t req[ISCSI_BHS_LEN], rsp[ISCSI_BHS_LEN];
    unsigned mode = d[0];
    size_t len = 0;
    int r;

    memcpy (req, d + 1, ISCSI_BHS_LEN);
    d += 1 + ISCSI_BHS_LEN;
    size -= 1 + ISCSI_BHS_LEN;
    if (size >= 2) {
      len = get_be16 (d);
      d += 2;
      size -= 2;
    }
    len = len < size ? len : size;
    g_string_append_len (data, (const char *) d, (gssize) len);
    d += len;
    size -= len;
    add_chap (&l, mode, data);
    r = iscsi_login_step (&l, req, (const uint8_t *) data->str, data->len,
                          rsp, out);
    if (r < 0) {
      if (bhs_opcode (req) == OP_LOGIN_REQ && !l.failed && !l.complete)
        die ("a login request dropped without an answer");
      break;
    }
    check_step (&l, req, rsp, out);
    if (l.failed || l.complete)
      break;
  }
  iscsi_login_clear (&l);
  return 0;
}

#include "fuzz-standalone-main.h"
