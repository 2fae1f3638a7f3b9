/* xcopyd: byte writer and reader for the control protocol (see wire.h),
 * and the strings of PROTOCOL.md §4.2.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked-overflow.h"
#include "codec-int.h"

/* ---- Writer ---- */

void
xcopy_wbuf_init (struct xcopy_wbuf *w, size_t limit)
{
  *w = (struct xcopy_wbuf) { .limit = limit };
}

void
xcopy_wbuf_free (struct xcopy_wbuf *w)
{
  free (w->data);
  *w = (struct xcopy_wbuf) { .limit = w->limit };
}

void
xcopy_wbuf_reset (struct xcopy_wbuf *w)
{
  w->len = 0;
  w->err = 0;
}

static bool
wbuf_grow (struct xcopy_wbuf *w, size_t need)
{
  size_t cap = w->cap ? w->cap : 256;
  unsigned char *p;

  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  if (cap > w->limit)
    cap = w->limit;
  p = realloc (w->data, cap);
  if (p == NULL) {
    w->err = -ENOMEM;
    return false;
  }
  w->data = p;
  w->cap = cap;
  return true;
}

unsigned char *
xcopy_wbuf_reserve (struct xcopy_wbuf *w, size_t n)
{
  size_t need;
  unsigned char *p;

  if (w->err)
    return NULL;
  if (__builtin_add_overflow (w->len, n, &need) || need > w->limit) {
    w->err = -EMSGSIZE;
    return NULL;
  }
  if (need > w->cap && !wbuf_grow (w, need))
    return NULL;
  p = w->data + w->len;
  w->len = need;
  return p;
}

void
xcopy_wbuf_put (struct xcopy_wbuf *w, const void *p, size_t n)
{
  unsigned char *dst;

  if (n == 0)
    return;
  dst = xcopy_wbuf_reserve (w, n);
  if (dst)
    memcpy (dst, p, n);
}

void
xcopy_wbuf_u16 (struct xcopy_wbuf *w, uint16_t v)
{
  unsigned char *p = xcopy_wbuf_reserve (w, 2);

  if (p)
    put_le16 (p, v);
}

void
xcopy_wbuf_u32 (struct xcopy_wbuf *w, uint32_t v)
{
  unsigned char *p = xcopy_wbuf_reserve (w, 4);

  if (p)
    put_le32 (p, v);
}

void
xcopy_wbuf_u64 (struct xcopy_wbuf *w, uint64_t v)
{
  unsigned char *p = xcopy_wbuf_reserve (w, 8);

  if (p)
    put_le64 (p, v);
}

void
xcopy_wbuf_str (struct xcopy_wbuf *w, const char *s)
{
  size_t n = strlen (s);

  xcopy_wbuf_u16 (w, (uint16_t) n);
  xcopy_wbuf_put (w, s, n);
}

/* ---- Reader ---- */

void
xcopy_rbuf_init (struct xcopy_rbuf *r, const void *p, size_t len,
                 struct xcopy_proto_err *e)
{
  *r = (struct xcopy_rbuf) { .p = p, .len = len, .e = e };
}

void
xcopy_rbuf_fail (struct xcopy_rbuf *r, int err, uint64_t index,
                 const char *fmt, ...)
{
  va_list ap;

  if (r->err)
    return;
  r->err = -err;
  if (r->e == NULL)
    return;
  r->e->err = err;
  r->e->fatal = false;
  r->e->index = index;
  va_start (ap, fmt);
  vsnprintf (r->e->msg, sizeof r->e->msg, fmt, ap);
  va_end (ap);
  xcopy_proto_utf8_sanitize (r->e->msg);
}

const unsigned char *
xcopy_rbuf_bytes (struct xcopy_rbuf *r, size_t n, const char *field)
{
  const unsigned char *p;

  if (r->err)
    return NULL;
  if (n > xcopy_rbuf_left (r)) {
    xcopy_rbuf_fail (r, EBADMSG, XCOPY_PROTO_NO_INDEX,
                     "%s: payload truncated: %zu bytes needed at offset %zu,"
                     " %zu left", field, n, r->off, xcopy_rbuf_left (r));
    return NULL;
  }
  if (n == 0)
    return (const unsigned char *) "";
  p = r->p + r->off;
  r->off += n;
  return p;
}

uint16_t
xcopy_rbuf_u16 (struct xcopy_rbuf *r, const char *field)
{
  const unsigned char *p = xcopy_rbuf_bytes (r, 2, field);

  return p ? get_le16 (p) : 0;
}

uint32_t
xcopy_rbuf_u32 (struct xcopy_rbuf *r, const char *field)
{
  const unsigned char *p = xcopy_rbuf_bytes (r, 4, field);

  return p ? get_le32 (p) : 0;
}

uint64_t
xcopy_rbuf_u64 (struct xcopy_rbuf *r, const char *field)
{
  const unsigned char *p = xcopy_rbuf_bytes (r, 8, field);

  return p ? get_le64 (p) : 0;
}

bool
xcopy_rbuf_expect_exact (struct xcopy_rbuf *r, uint64_t count,
                         size_t item_size, const char *what)
{
  uint64_t need;

  if (r->err)
    return false;
  if (__builtin_mul_overflow (count, (uint64_t) item_size, &need) ||
      need != xcopy_rbuf_left (r)) {
    xcopy_rbuf_fail (r, EBADMSG, XCOPY_PROTO_NO_INDEX,
                     "%s: header.count %ju needs %ju bytes of %zu each,"
                     " payload has %zu left", what, (uintmax_t) count,
                     (uintmax_t) count * item_size, item_size,
                     xcopy_rbuf_left (r));
    return false;
  }
  return true;
}

void *
xcopy_rbuf_alloc (struct xcopy_rbuf *r, size_t count, size_t size)
{
  void *p;

  if (r->err || count == 0)
    return NULL;
  p = calloc (count, size);
  if (p == NULL)
    xcopy_rbuf_fail (r, ENOMEM, XCOPY_PROTO_NO_INDEX,
                     "out of memory for %zu items of %zu bytes", count, size);
  return p;
}

/* ---- UTF-8 and strings ---- */

/* Bytes in the well-formed sequence at p (RFC 3629 §4), 0 if it is not
 * one.  NUL counts as not well-formed: it would end a C string early.
 */
static size_t
utf8_seq (const unsigned char *p, size_t left)
{
  unsigned char c = p[0], lo = 0x80, hi = 0xbf;
  size_t n;

  if (c == 0)
    return 0;
  if (c < 0x80)
    return 1;
  if (c < 0xc2)
    return 0;
  if (c < 0xe0)
    n = 2;
  else if (c < 0xf0) {
    n = 3;
    lo = c == 0xe0 ? 0xa0 : 0x80;     /* no overlongs */
    hi = c == 0xed ? 0x9f : 0xbf;     /* no surrogates */
  }
  else if (c < 0xf5) {
    n = 4;
    lo = c == 0xf0 ? 0x90 : 0x80;
    hi = c == 0xf4 ? 0x8f : 0xbf;     /* nothing above U+10FFFF */
  }
  else
    return 0;
  if (n > left || p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  return n;
}

/* Offset of the first byte that is not well-formed UTF-8, or n. */
static size_t
utf8_bad_at (const unsigned char *p, size_t n)
{
  size_t i = 0, k;

  while (i < n && (k = utf8_seq (p + i, n - i)) > 0)
    i += k;
  return i;
}

bool
xcopy_proto_utf8_valid (const void *p, size_t n)
{
  return utf8_bad_at (p, n) == n;
}

void
xcopy_proto_utf8_sanitize (char *s)
{
  unsigned char *p = (unsigned char *) s;
  size_t n = strlen (s), i = 0, k;

  while (i < n) {
    k = utf8_seq (p + i, n - i);
    if (k == 0) {
      p[i] = '?';
      k = 1;
    }
    i += k;
  }
}

void
xcopy_rbuf_str (struct xcopy_rbuf *r, char *out, size_t max, int too_long,
                const char *field)
{
  uint16_t n = xcopy_rbuf_u16 (r, field);
  const unsigned char *p;
  size_t bad;

  out[0] = '\0';
  if (r->err)
    return;
  if (n > max) {
    xcopy_rbuf_fail (r, too_long, XCOPY_PROTO_NO_INDEX,
                     "%s: %u bytes, longer than %zu", field, n, max);
    return;
  }
  p = xcopy_rbuf_bytes (r, n, field);
  if (p == NULL)
    return;
  bad = utf8_bad_at (p, n);
  if (bad < n) {
    xcopy_rbuf_fail (r, EINVAL, XCOPY_PROTO_NO_INDEX,
                     p[bad] ? "%s: not UTF-8 at byte %zu"
                     : "%s: NUL byte at %zu", field, bad);
    return;
  }
  memcpy (out, p, n);
  out[n] = '\0';
}

int
xcopy_proto_check_str (const char *s, size_t max, int too_long,
                       const char *field, struct xcopy_proto_err *e)
{
  size_t n = strnlen (s, max + 1), bad;

  if (n > max)
    return xcopy_proto_fail (e, too_long, XCOPY_PROTO_NO_INDEX,
                             "%s: longer than %zu bytes", field, max);
  bad = utf8_bad_at ((const unsigned char *) s, n);
  if (bad < n)
    return xcopy_proto_fail (e, EINVAL, XCOPY_PROTO_NO_INDEX,
                             "%s: not UTF-8 at byte %zu", field, bad);
  return 0;
}
