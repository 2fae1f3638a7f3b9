/* xcopyd: parsing of sizes, ranges and patterns typed by people.
 * The grammar is in sizes.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "checked-overflow.h"
#include "sizes.h"

static int __attribute__ ((format (printf, 3, 4)))
fail (char why[XCOPY_WHY_SIZE], int err, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (why, XCOPY_WHY_SIZE, fmt, ap);
  va_end (ap);
  return -err;
}

/* A character as an error message shows it: 'x', or \xNN when it is not
 * printable.
 */
static const char *
show_char (char c, char buf[8])
{
  if (isprint ((unsigned char) c))
    snprintf (buf, 8, "'%c'", c);
  else
    snprintf (buf, 8, "\\x%02x", (unsigned char) c);
  return buf;
}

static int
digit_value (char c, unsigned base)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (base == 16 && c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (base == 16 && c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static uint64_t
suffix_multiplier (char c)
{
  switch (c) {
  case 's': case 'S': return 512;
  case 'k': case 'K': return UINT64_C (1) << 10;
  case 'm': case 'M': return UINT64_C (1) << 20;
  case 'g': case 'G': return UINT64_C (1) << 30;
  case 't': case 'T': return UINT64_C (1) << 40;
  default: return 0;
  }
}

/* The digits of one term in [*p, end); *over is set when they do not fit. */
static int
parse_number (const char **p, const char *end, uint64_t *v, bool *over,
              char why[XCOPY_WHY_SIZE])
{
  const char *s = *p;
  unsigned base = 10;
  int d;

  if (end - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
  }
  if (s == end || digit_value (*s, base) < 0) {
    if (base == 16)
      return fail (why, EINVAL, "no hex digits after '0x'");
    return fail (why, EINVAL, s < end && *s == '-' ? "must not be negative"
                 : "not a number");
  }
  for (*v = 0; s < end && (d = digit_value (*s, base)) >= 0; s++)
    if (__builtin_mul_overflow (*v, base, v) ||
        add_overflows_u64 (*v, (uint64_t) d, v))
      *over = true;
  *p = s;
  return 0;
}

/* One term: a number and an optional suffix, up to a '+' or the end. */
static int
parse_term (const char **p, const char *end, uint64_t *v, bool *over,
            char why[XCOPY_WHY_SIZE])
{
  char cb[8];
  uint64_t mul;
  int ret;

  if ((ret = parse_number (p, end, v, over, why)))
    return ret;
  if (*p == end || **p == '+')
    return 0;
  mul = suffix_multiplier (**p);
  if (mul == 0)
    return fail (why, EINVAL, isalpha ((unsigned char) **p)
                 ? "unknown suffix %s (use K, M, G, T or s)"
                 : "unexpected %s", show_char (**p, cb));
  if (__builtin_mul_overflow (*v, mul, v))
    *over = true;
  (*p)++;
  if (*p != end && **p != '+')
    return fail (why, EINVAL, "unexpected %s after the suffix",
                 show_char (**p, cb));
  return 0;
}

/* A size in [s, s+len). */
static int
parse_size_n (const char *s, size_t len, uint64_t *out,
              char why[XCOPY_WHY_SIZE])
{
  const char *p = s, *end = s + len;
  bool over = false;
  uint64_t sum = 0, v = 0;
  int ret;

  if (len == 0)
    return fail (why, EINVAL, "empty");
  for (;;) {
    if ((ret = parse_term (&p, end, &v, &over, why)))
      return ret;
    if (add_overflows_u64 (sum, v, &sum))
      over = true;
    if (p == end)
      break;
    if (++p == end)             /* past the '+' */
      return fail (why, EINVAL, "nothing after '+'");
  }
  if (over)
    return fail (why, ERANGE, "does not fit in 64 bits");
  *out = sum;
  return 0;
}

int
xcopy_size_parse (const char *s, uint64_t *out, char why[XCOPY_WHY_SIZE])
{
  return parse_size_n (s, strlen (s), out, why);
}

int
xcopy_u64_parse (const char *s, uint64_t *out, char why[XCOPY_WHY_SIZE])
{
  char cb[8];
  uint64_t v = 0;

  if (*s == '\0')
    return fail (why, EINVAL, "empty");
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9')
      return fail (why, EINVAL, p == s ? "not a number" : "unexpected %s",
                   show_char (*p, cb));
    if (__builtin_mul_overflow (v, 10, &v) ||
        add_overflows_u64 (v, (uint64_t) (*p - '0'), &v))
      return fail (why, ERANGE, "does not fit in 64 bits");
  }
  *out = v;
  return 0;
}

/* Split s at ':' into exactly n fields and parse each as a size.  names
 * are the fields' names for messages.
 */
static int
parse_fields (const char *s, size_t n, const char *const *names,
              uint64_t *v, const char *form, char why[XCOPY_WHY_SIZE])
{
  char inner[XCOPY_WHY_SIZE];
  const char *p = s;
  size_t fields = 1;
  int ret;

  for (const char *q = s; *q; q++)
    fields += *q == ':';
  if (fields != n)
    return fail (why, EINVAL, "expected %s, got %zu field%s", form, fields,
                 fields == 1 ? "" : "s");
  for (size_t i = 0; i < n; i++) {
    const char *colon = strchr (p, ':');
    size_t len = colon ? (size_t) (colon - p) : strlen (p);

    if ((ret = parse_size_n (p, len, &v[i], inner)))
      return fail (why, -ret, "invalid %s '%.*s': %s", names[i], (int) len,
                   p, inner);
    p += len + 1;
  }
  return 0;
}

static int
check_end (const char *what, uint64_t off, uint64_t len,
           char why[XCOPY_WHY_SIZE])
{
  uint64_t end;

  if (add_overflows_u64 (off, len, &end))
    return fail (why, ERANGE, "%s + len does not fit in 64 bits", what);
  return 0;
}

int
xcopy_range_parse (const char *s, struct xcopy_range *r,
                   char why[XCOPY_WHY_SIZE])
{
  static const char *const names[] = { "src", "dst", "len" };
  uint64_t v[3];
  int ret;

  if ((ret = parse_fields (s, 3, names, v, "SRC:DST:LEN", why)) ||
      (ret = check_end ("src", v[0], v[2], why)) ||
      (ret = check_end ("dst", v[1], v[2], why)))
    return ret;
  *r = (struct xcopy_range) { .src = v[0], .dst = v[1], .len = v[2] };
  return 0;
}

int
xcopy_span_parse (const char *s, uint64_t *off, uint64_t *len,
                  char why[XCOPY_WHY_SIZE])
{
  static const char *const names[] = { "offset", "length" };
  uint64_t v[2];
  int ret;

  if ((ret = parse_fields (s, 2, names, v, "OFF:LEN", why)))
    return ret;
  if (add_overflows_u64 (v[0], v[1], &(uint64_t) { 0 }))
    return fail (why, ERANGE, "offset + length does not fit in 64 bits");
  *off = v[0];
  *len = v[1];
  return 0;
}

int
xcopy_range_line_parse (const char *line, struct xcopy_range *r,
                        bool *blank, char why[XCOPY_WHY_SIZE])
{
  const char *start = line, *end;
  char tok[256];
  char cb[8];

  end = strchr (line, '#');
  if (end == NULL)
    end = line + strlen (line);
  while (start < end && isspace ((unsigned char) *start))
    start++;
  while (end > start && isspace ((unsigned char) end[-1]))
    end--;
  *blank = start == end;
  if (*blank)
    return 0;
  for (const char *p = start; p < end; p++)
    if (isspace ((unsigned char) *p))
      return fail (why, EINVAL, "unexpected %s: one SRC:DST:LEN per line",
                   show_char (*p, cb));
  if ((size_t) (end - start) >= sizeof tok)
    return fail (why, EINVAL, "longer than %zu bytes", sizeof tok - 1);
  memcpy (tok, start, (size_t) (end - start));
  tok[end - start] = '\0';
  return xcopy_range_parse (tok, r, why);
}

static bool
is_hex_sep (char c)
{
  return c == ':' || c == '-' || c == '_' || c == ' ';
}

int
xcopy_hex_parse (const char *s, unsigned char *out, size_t max, size_t *n,
                 char why[XCOPY_WHY_SIZE])
{
  const char *p = s;
  char cb[8];
  size_t k = 0;

  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
    p += 2;
  if (*p == '\0')
    return fail (why, EINVAL, "no hex digits");
  while (*p) {
    int hi = digit_value (p[0], 16), lo = hi < 0 ? -1 : digit_value (p[1], 16);

    if (hi < 0 || lo < 0) {
      char bad = hi < 0 ? p[0] : p[1];

      if (bad == '\0')
        return fail (why, EINVAL, "odd number of hex digits");
      return fail (why, EINVAL, "%s at byte %zu is not a hex digit",
                   show_char (bad, cb), (size_t) (p - s) + (hi >= 0));
    }
    if (k == max)
      return fail (why, E2BIG, "more than %zu bytes", max);
    out[k++] = (unsigned char) (hi << 4 | lo);
    p += 2;
    if (is_hex_sep (*p) && p[1] != '\0')
      p++;
  }
  *n = k;
  return 0;
}
