/* xcopyd: iSCSI wire helpers: CRC32C digests against the RFC 3720 B.4
 * vectors, digest byte order, BHS fields, text key splitting, CHAP.
 */
#include <string.h>

#include "harness.h"
#include "../../daemon/iscsi/iscsi-int.h"

static void
crc_vectors (void)
{
  uint8_t buf[32], dg[4];
  static const uint8_t zeros[] = { 0xaa, 0x36, 0x91, 0x8a };
  static const uint8_t ones[] = { 0x43, 0xab, 0xa8, 0x62 };
  static const uint8_t inc[] = { 0x4e, 0x79, 0xdd, 0x46 };
  static const uint8_t dec[] = { 0x5c, 0xdb, 0x3f, 0x11 };

  memset (buf, 0, sizeof buf);
  iscsi_put_digest (dg, iscsi_crc32c (buf, sizeof buf));
  CHECK (memcmp (dg, zeros, 4) == 0);
  memset (buf, 0xff, sizeof buf);
  iscsi_put_digest (dg, iscsi_crc32c (buf, sizeof buf));
  CHECK (memcmp (dg, ones, 4) == 0);
  for (int i = 0; i < 32; i++)
    buf[i] = (uint8_t) i;
  iscsi_put_digest (dg, iscsi_crc32c (buf, sizeof buf));
  CHECK (memcmp (dg, inc, 4) == 0);
  for (int i = 0; i < 32; i++)
    buf[i] = (uint8_t) (31 - i);
  iscsi_put_digest (dg, iscsi_crc32c (buf, sizeof buf));
  CHECK (memcmp (dg, dec, 4) == 0);
  CHECK_U64 (iscsi_get_digest (dec), ==, iscsi_crc32c (buf, sizeof buf));
}

/* A digest over pieces equals the digest over the whole. */
static void
crc_iov (void)
{
  unsigned char *b = h_random (1000, 1);
  struct iovec v[3] = { { b, 1 }, { b + 1, 500 }, { b + 501, 499 } };

  CHECK_U64 (iscsi_crc32c_iov (v, 3), ==, iscsi_crc32c (b, 1000));
  CHECK_U64 (iscsi_crc32c_iov (v, 0), ==, iscsi_crc32c (b, 0));
  free (b);
}

static void
bhs_fields (void)
{
  uint8_t bhs[ISCSI_BHS_LEN] = { 0x41, 0x80 };

  bhs_set_dsl (bhs, 0x123456);
  CHECK (bhs[5] == 0x12 && bhs[6] == 0x34 && bhs[7] == 0x56);
  CHECK_U64 (bhs_dsl (bhs), ==, 0x123456);
  CHECK_INT (bhs_opcode (bhs), ==, OP_SCSI_CMD);
  CHECK_U64 (pad4 (0), ==, 0);
  CHECK_U64 (pad4 (1), ==, 3);
  CHECK_U64 (pad4 (4), ==, 0);
  CHECK_U64 (pad4 (7), ==, 1);
}

static GArray *
split (const char *text, size_t len, int *ret)
{
  static char buf[512];
  GArray *a = g_array_new (FALSE, FALSE, sizeof (struct iscsi_kv));
  g_autoptr (GError) err = NULL;

  memcpy (buf, text, len);
  buf[len] = '\0';
  *ret = iscsi_text_split (buf, len, a, &err);
  if (*ret < 0)
    CHECK (err != NULL && err->message[0] != '\0');
  return a;
}

#define T(s) s, sizeof s - 1

static void
text_split (void)
{
  int r;
  GArray *a = split (T ("A=1\0B=\0C=x=y\0\0"), &r);

  CHECK_INT (r, ==, 0);
  REQUIRE_INT (a->len, ==, 3);
  CHECK (strcmp (g_array_index (a, struct iscsi_kv, 0).key, "A") == 0);
  CHECK (strcmp (g_array_index (a, struct iscsi_kv, 1).value, "") == 0);
  CHECK (strcmp (g_array_index (a, struct iscsi_kv, 2).value, "x=y") == 0);
  g_array_unref (a);
  /* No NUL at the end is fine (the buffer is terminated). */
  g_array_unref (split (T ("A=1"), &r));
  CHECK_INT (r, ==, 0);
}

static void
text_split_errors (void)
{
  char big[300];
  int r;

  g_array_unref (split (T ("NoValue\0"), &r));
  CHECK_INT (r, ==, -EINVAL);
  g_array_unref (split (T ("A=1\0A=2\0"), &r));
  CHECK_INT (r, ==, -EINVAL);
  g_array_unref (split (T ("Bad Key=1\0"), &r));
  CHECK_INT (r, ==, -EINVAL);
  g_array_unref (split (T ("=1\0"), &r));
  CHECK_INT (r, ==, -EINVAL);
  memcpy (big, "K=", 2);
  memset (big + 2, 'v', 256);
  g_array_unref (split (big, 258, &r));
  CHECK_INT (r, ==, -EINVAL);
}

/* RFC 1994: MD5 over id, secret, challenge; checked against an MD5
 * computed independently.
 */
static void
chap_md5 (void)
{
  uint8_t chal[16], out[16];
  static const uint8_t want[16] = {
    0xd2, 0xad, 0x9b, 0x55, 0x31, 0x83, 0x66, 0x8f,
    0xa0, 0x64, 0x20, 0x5c, 0x85, 0x77, 0x9b, 0x04 };

  for (int i = 0; i < 16; i++)
    chal[i] = (uint8_t) i;
  iscsi_chap_response (7, "secretsecret12", chal, 16, out);
  CHECK (memcmp (out, want, 16) == 0);
}

static void
chap_encodings (void)
{
  g_autofree char *hex = NULL;
  g_autofree uint8_t *a = NULL, *b = NULL, *c = NULL;
  uint8_t bytes[] = { 0x00, 0xab, 0x7f };
  size_t len;

  hex = iscsi_chap_encode_hex (bytes, 3);
  CHECK (strcmp (hex, "0x00ab7f") == 0);
  a = iscsi_chap_decode (hex, 16, &len);
  REQUIRE (a != NULL);
  CHECK (len == 3 && memcmp (a, bytes, 3) == 0);
  b = iscsi_chap_decode ("0bAKt/", 16, &len);      /* base64 of the same */
  REQUIRE (b != NULL);
  CHECK (len == 3 && memcmp (b, bytes, 3) == 0);
  c = iscsi_chap_decode ("0xabc", 16, &len);       /* odd: leading nibble */
  REQUIRE (c != NULL);
  CHECK (len == 2 && c[0] == 0x0a && c[1] == 0xbc);
  CHECK (iscsi_chap_decode ("abcd", 16, &len) == NULL);
  CHECK (iscsi_chap_decode ("0x", 16, &len) == NULL);
  CHECK (iscsi_chap_decode ("0xzz", 16, &len) == NULL);
  CHECK (iscsi_chap_decode ("0x0102", 1, &len) == NULL);
  CHECK (iscsi_chap_decode ("0b@@@@", 16, &len) == NULL);
}

static const struct h_test tests[] = {
  H_TEST (crc_vectors),
  H_TEST (crc_iov),
  H_TEST (bhs_fields),
  H_TEST (text_split),
  H_TEST (text_split_errors),
  H_TEST (chap_md5),
  H_TEST (chap_encodings),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
