/* xcopyd: CHAP computations and binary value encodings (RFC 1994,
 * RFC 7143 6.1 and 12.1.3).
 */
#include <string.h>

#include "iscsi-int.h"

void
iscsi_chap_response (uint8_t id, const char *secret, const uint8_t *chal,
                     size_t chal_len, uint8_t out[16])
{
  g_autoptr (GChecksum) md5 = g_checksum_new (G_CHECKSUM_MD5);
  gsize len = 16;

  g_checksum_update (md5, &id, 1);
  g_checksum_update (md5, (const guchar *) secret, (gssize) strlen (secret));
  g_checksum_update (md5, chal, (gssize) chal_len);
  g_checksum_get_digest (md5, out, &len);
}

static uint8_t *
decode_hex (const char *h, size_t max, size_t *len)
{
  size_t n = strlen (h);
  g_autofree uint8_t *buf = NULL;
  size_t odd = n & 1, bytes = (n + 1) / 2;

  if (n == 0 || bytes > max)
    return NULL;
  buf = g_malloc (bytes);
  /* An odd number of digits: the first byte has one (RFC 7143 6.1). */
  for (size_t i = 0, j = 0; i < bytes; i++) {
    int hi = 0, lo;
    if (!(i == 0 && odd) && (hi = g_ascii_xdigit_value (h[j++])) < 0)
      return NULL;
    if ((lo = g_ascii_xdigit_value (h[j++])) < 0)
      return NULL;
    buf[i] = (uint8_t) (hi << 4 | lo);
  }
  *len = bytes;
  return g_steal_pointer (&buf);
}

uint8_t *
iscsi_chap_decode (const char *value, size_t max, size_t *len)
{
  if (value[0] == '0' && (value[1] == 'x' || value[1] == 'X'))
    return decode_hex (value + 2, max, len);
  if (value[0] == '0' && (value[1] == 'b' || value[1] == 'B')) {
    gsize n = 0;
    g_autofree uint8_t *buf = NULL;
    const char *p = value + 2;
    if (*p == '\0' || strspn (p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "abcdefghijklmnopqrstuvwxyz0123456789+/=")
        != strlen (p) || strlen (p) % 4 != 0)
      return NULL;
    buf = g_base64_decode (p, &n);
    if (n == 0 || n > max)
      return NULL;
    *len = n;
    return g_steal_pointer (&buf);
  }
  return NULL;
}

char *
iscsi_chap_encode_hex (const uint8_t *buf, size_t len)
{
  GString *s = g_string_sized_new (2 + 2 * len);

  g_string_append (s, "0x");
  for (size_t i = 0; i < len; i++)
    g_string_append_printf (s, "%02x", buf[i]);
  return g_string_free (s, FALSE);
}
