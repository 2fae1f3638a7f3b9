/* xcopyd: protocol errors and the checks shared by decoders, encoders and
 * servers: result blocks (PROTOCOL.md §4.3), ranges against export sizes
 * (§6.5-§6.10), version negotiation (§5), sizes in messages (§7.2).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "checked-overflow.h"
#include "codec-int.h"

int
xcopy_proto_fail (struct xcopy_proto_err *e, int err, uint64_t index,
                  const char *fmt, ...)
{
  va_list ap;

  if (e) {
    e->err = err;
    e->fatal = false;
    e->index = index;
    va_start (ap, fmt);
    vsnprintf (e->msg, sizeof e->msg, fmt, ap);
    va_end (ap);
    xcopy_proto_utf8_sanitize (e->msg);
  }
  return -err;
}

const char *
xcopy_proto_size_str (uint64_t v, char buf[XCOPY_PROTO_SIZE_STR])
{
  static const struct { char suffix; unsigned shift; } units[] = {
    { 'T', 40 }, { 'G', 30 }, { 'M', 20 }, { 'K', 10 },
  };
  size_t n = 0;

  buf[0] = '\0';
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    uint64_t q = v >> units[i].shift;

    if (q == 0)
      continue;
    n += (size_t) snprintf (buf + n, XCOPY_PROTO_SIZE_STR - n, "%s%" PRIu64 "%c",
                            n ? "+" : "", q, units[i].suffix);
    v &= (UINT64_C (1) << units[i].shift) - 1;
  }
  if (v || n == 0)
    snprintf (buf + n, XCOPY_PROTO_SIZE_STR - n, "%s%" PRIu64,
              n ? "+" : "", v);
  return buf;
}

int
xcopy_proto_negotiate (uint16_t min, uint16_t max, uint16_t *version,
                       struct xcopy_proto_err *e)
{
  uint16_t hi = max < XCOPY_PROTO_VERSION_MAX ? max : XCOPY_PROTO_VERSION_MAX;
  uint16_t lo = min > XCOPY_PROTO_VERSION_MIN ? min : XCOPY_PROTO_VERSION_MIN;

  if (lo > hi)
    return xcopy_proto_fail (e, EPROTONOSUPPORT, XCOPY_PROTO_NO_INDEX,
                             "hello: no common version: client %u..%u,"
                             " server %u..%u", min, max,
                             XCOPY_PROTO_VERSION_MIN, XCOPY_PROTO_VERSION_MAX);
  *version = hi;
  return 0;
}

/* ---- Result blocks (§4.3) ---- */

static uint64_t
index_to_wire (size_t i)
{
  return i == SIZE_MAX ? XCOPY_PROTO_NO_INDEX : (uint64_t) i;
}

/* Wire values are checked against XCOPY_PROTO_MAX_RANGES before use, so
 * they fit a size_t.
 */
static size_t
index_from_wire (uint64_t i)
{
  return i == XCOPY_PROTO_NO_INDEX || i > SIZE_MAX ? SIZE_MAX : (size_t) i;
}

void
xcopy_rbuf_result (struct xcopy_rbuf *r, struct xcopy_result *res)
{
  uint64_t ranges_done, failed_index;

  res->bytes_done = xcopy_rbuf_u64 (r, "result.bytes_done");
  ranges_done = xcopy_rbuf_u64 (r, "result.ranges_done");
  failed_index = xcopy_rbuf_u64 (r, "result.failed_index");
  res->failed_done = xcopy_rbuf_u64 (r, "result.failed_done");
  res->error = (int) xcopy_rbuf_u32 (r, "result.error");
  res->flags = xcopy_rbuf_u32 (r, "result.flags");
  if (r->err)
    return;
  if (ranges_done > XCOPY_PROTO_MAX_RANGES)
    xcopy_rbuf_fail (r, EINVAL, XCOPY_PROTO_NO_INDEX,
                     "result.ranges_done: %" PRIu64 " > %u", ranges_done,
                     XCOPY_PROTO_MAX_RANGES);
  else if (failed_index != XCOPY_PROTO_NO_INDEX &&
           failed_index >= XCOPY_PROTO_MAX_RANGES)
    xcopy_rbuf_fail (r, EINVAL, XCOPY_PROTO_NO_INDEX,
                     "result.failed_index: %" PRIu64 " >= %u", failed_index,
                     XCOPY_PROTO_MAX_RANGES);
  else if (res->error < 0)    /* a u32 above INT_MAX */
    xcopy_rbuf_fail (r, EINVAL, XCOPY_PROTO_NO_INDEX,
                     "result.error: %u is not an errno", (unsigned) res->error);
  res->ranges_done = (size_t) ranges_done;
  res->failed_index = index_from_wire (failed_index);
}

void
xcopy_wbuf_result (struct xcopy_wbuf *w, const struct xcopy_result *res)
{
  xcopy_wbuf_u64 (w, res->bytes_done);
  xcopy_wbuf_u64 (w, res->ranges_done);
  xcopy_wbuf_u64 (w, index_to_wire (res->failed_index));
  xcopy_wbuf_u64 (w, res->failed_done);
  xcopy_wbuf_u32 (w, (uint32_t) res->error);
  xcopy_wbuf_u32 (w, res->flags);
}

/* §4.3: what a result block may say. */
int
xcopy_proto_check_result (const struct xcopy_result *res, const char *field,
                          struct xcopy_proto_err *e)
{
  const uint64_t none = XCOPY_PROTO_NO_INDEX;
  bool failed = res->failed_index != SIZE_MAX;

  if (res->error < 0 || (unsigned) res->error > XCOPY_PROTO_ERRNO_MAX)
    return xcopy_proto_fail (e, EINVAL, none, "%s.error: %d is not an errno",
                             field, res->error);
  if (res->flags & ~XCOPY_PROTO_RESULT_VALID)
    return xcopy_proto_fail (e, EINVAL, none, "%s.flags: unknown bits 0x%x",
                             field, res->flags & ~XCOPY_PROTO_RESULT_VALID);
  if (res->ranges_done > XCOPY_PROTO_MAX_RANGES ||
      (failed && res->failed_index >= XCOPY_PROTO_MAX_RANGES))
    return xcopy_proto_fail (e, EINVAL, none, "%s: range index over %u",
                             field, XCOPY_PROTO_MAX_RANGES);
  if (res->error == 0 && (failed || res->failed_done || res->flags))
    return xcopy_proto_fail (e, EINVAL, none, "%s: error 0 with a failed"
                             " range (index, failed_done or flags set)", field);
  if (failed && res->failed_index < res->ranges_done)
    return xcopy_proto_fail (e, EINVAL, none, "%s.failed_index %zu <"
                             " ranges_done %zu", field, res->failed_index,
                             res->ranges_done);
  if (!failed && (res->failed_done || res->flags))
    return xcopy_proto_fail (e, EINVAL, none, "%s: failed_done or flags"
                             " without a failed range", field);
  return 0;
}

/* ---- Ranges ---- */

int
xcopy_proto_check_end (uint64_t a, uint64_t b, uint64_t index,
                       const char *what, struct xcopy_proto_err *e)
{
  uint64_t end;
  char sa[XCOPY_PROTO_SIZE_STR], sb[XCOPY_PROTO_SIZE_STR];

  if (!add_overflows_u64 (a, b, &end))
    return 0;
  return xcopy_proto_fail (e, ERANGE, index, "%s %s + %s overflows 64 bits",
                           what, xcopy_proto_size_str (a, sa),
                           xcopy_proto_size_str (b, sb));
}

/* "<prefix>: <what> end 4G+1M beyond export size 4G", or overflow. */
static int
check_one (const char *prefix, const char *what, uint64_t off, uint64_t len,
           uint64_t size, uint64_t index, struct xcopy_proto_err *e)
{
  char send[XCOPY_PROTO_SIZE_STR], ssize[XCOPY_PROTO_SIZE_STR];
  char soff[XCOPY_PROTO_SIZE_STR], slen[XCOPY_PROTO_SIZE_STR];
  uint64_t end;

  if (add_overflows_u64 (off, len, &end))
    return xcopy_proto_fail (e, ERANGE, index, "%s: %s %s + length %s"
                             " overflows 64 bits", prefix, what,
                             xcopy_proto_size_str (off, soff),
                             xcopy_proto_size_str (len, slen));
  if (end > size)
    return xcopy_proto_fail (e, ERANGE, index, "%s: %s end %s beyond export"
                             " size %s", prefix, what,
                             xcopy_proto_size_str (end, send),
                             xcopy_proto_size_str (size, ssize));
  return 0;
}

int
xcopy_proto_check_ranges (const struct xcopy_range *r, size_t n,
                          uint64_t src_size, uint64_t dst_size,
                          struct xcopy_proto_err *e)
{
  char prefix[32];
  int ret;

  for (size_t i = 0; i < n; i++) {
    snprintf (prefix, sizeof prefix, "range %zu", i);
    ret = check_one (prefix, "src", r[i].src, r[i].len, src_size, i, e);
    if (ret == 0)
      ret = check_one (prefix, "dst", r[i].dst, r[i].len, dst_size, i, e);
    if (ret)
      return ret;
  }
  return 0;
}

int
xcopy_proto_check_spans (const struct xcopy_proto_span *s, size_t n,
                         uint64_t size, struct xcopy_proto_err *e)
{
  char prefix[32];
  int ret;

  for (size_t i = 0; i < n; i++) {
    snprintf (prefix, sizeof prefix, "span %zu", i);
    ret = check_one (prefix, "offset", s[i].offset, s[i].length, size, i, e);
    if (ret)
      return ret;
  }
  return 0;
}

int
xcopy_proto_check_inside (const char *what, uint64_t offset, uint64_t length,
                          uint64_t size, struct xcopy_proto_err *e)
{
  return check_one (what, "offset", offset, length, size, 0, e);
}
