/* xcopyd: zero, punch and fill (WRITE SAME semantics).
 *
 * Zero ladder: punch a hole (only when trimming is allowed), then
 * FALLOC_FL_ZERO_RANGE, then write zeroes ourselves, for any length: nbdkit
 * 1.32's own fallback is broken past 64 MiB (DESIGN invariant 7), so the
 * engine always finishes the job.
 *
 * Fill: write the pattern once, then double the written region with the
 * copy ladder (log2 steps; on reflinking file systems the blocks end up
 * shared), falling back to plain writes of a pattern buffer.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>

#include "engine-int.h"
#include "minmax.h"
#include "checked-overflow.h"

static const unsigned char zero_buf[XCOPY_ZERO_BUF];

bool
xcopy_is_zero (const void *buf, size_t len)
{
  const unsigned char *b = buf;

  /* Compare the buffer with itself shifted by one byte after checking the
   * first: the usual trick, and memcmp is vectorised.
   */
  return len == 0 || (b[0] == 0 && memcmp (b, b + 1, len - 1) == 0);
}

/* One fallocate rung: 0 done, 1 try the next rung, or -errno. */
static int
falloc_rung (struct xcopy_pair *p, unsigned cap, int mode,
             enum xcopy_method m, uint64_t off, uint64_t len)
{
  if (!xcopy_has_cap (p, cap))
    return 1;
  for (;;) {
    if (xcopy_sys.fallocate (p->dst_fd, mode | FALLOC_FL_KEEP_SIZE,
                             off, len) == 0) {
      xcopy_account (p, m, len, 1);
      return 0;
    }
    if (errno == EINTR)
      continue;
    if (!xcopy_is_fallback_errno (errno))
      return -errno;
    xcopy_clear_cap (p, cap);
    return 1;
  }
}

static int
write_zeroes (struct xcopy_pair *p, uint64_t off, uint64_t len,
              uint64_t *done)
{
  int r = 0;

  while (r == 0 && *done < len) {
    size_t n = MIN (len - *done, (uint64_t) sizeof zero_buf);

    r = xcopy_write_full (p, zero_buf, n, off + *done, XCOPY_M_WRITE_ZEROES,
                          done);
  }
  return r;
}

int
xcopy_zero_ladder (struct xcopy_pair *p, uint64_t off, uint64_t len,
                   unsigned flags, uint64_t *done)
{
  int r;

  *done = 0;
  if (len == 0)
    return 0;
  if (flags & XCOPY_F_MAY_TRIM) {
    r = falloc_rung (p, XCOPY_CAP_PUNCH, FALLOC_FL_PUNCH_HOLE,
                     XCOPY_M_PUNCH, off, len);
    if (r <= 0)
      goto out;
  }
  r = falloc_rung (p, XCOPY_CAP_ZERO_RANGE, FALLOC_FL_ZERO_RANGE,
                   XCOPY_M_ZERO_RANGE, off, len);
  if (r <= 0)
    goto out;
  if (flags & XCOPY_F_FAST_ZERO)
    return -EOPNOTSUPP;
  return write_zeroes (p, off, len, done);
 out:
  if (r == 0)
    *done = len;
  return r;
}

/* Common checks of a single-range operation on p->dst_fd. */
static int
check_target (struct xcopy_pair *p, uint64_t off, uint64_t len,
              unsigned flags, unsigned allowed, uint64_t *blksize)
{
  uint64_t size, bs;
  int r;

  if (flags & ~allowed)
    return -EINVAL;
  r = xcopy_dst_facts (p, &size, &bs);
  if (r < 0)
    return r;
  if (blksize)
    *blksize = bs;
  return range_inside (off, len, size) ? 0 : -ERANGE;
}

static int
finish (struct xcopy_pair *p, unsigned flags, uint64_t done, int r,
        struct xcopy_result *res)
{
  if (r == 0 && (flags & XCOPY_F_SYNC) &&
      xcopy_sys.fdatasync (p->dst_fd) == -1)
    r = -errno;
  if (res) {
    *res = (struct xcopy_result) {
      .bytes_done = done, .ranges_done = r == 0 ? 1 : 0,
      .failed_done = r == 0 ? 0 : done,
      .failed_index = r == 0 ? SIZE_MAX : 0, .error = -r,
    };
  }
  return r;
}

/* Refusals of the request as a whole (flags, pattern, file) name no range;
 * a range outside the file names range 0, like a batch would.
 */
static int
refused (struct xcopy_result *res, int r)
{
  if (res)
    *res = (struct xcopy_result) {
      .failed_index = r == -ERANGE ? 0 : SIZE_MAX, .error = -r,
    };
  return r;
}

int
xcopy_zero (struct xcopy_pair *p, uint64_t off, uint64_t len,
            unsigned flags, struct xcopy_result *res)
{
  uint64_t done = 0;
  int r = check_target (p, off, len, flags,
                        XCOPY_F_MAY_TRIM | XCOPY_F_FAST_ZERO | XCOPY_F_SYNC,
                        NULL);

  if (r < 0)
    return refused (res, r);
  r = xcopy_zero_ladder (p, off, len, flags, &done);
  return finish (p, flags, done, r, res);
}

int
xcopy_punch (struct xcopy_pair *p, uint64_t off, uint64_t len,
             struct xcopy_result *res)
{
  int r = check_target (p, off, len, 0, 0, NULL);

  if (r < 0)
    return refused (res, r);
  if (len == 0)
    return finish (p, 0, 0, 0, res);
  r = falloc_rung (p, XCOPY_CAP_PUNCH, FALLOC_FL_PUNCH_HOLE, XCOPY_M_PUNCH,
                   off, len);
  if (r == 1)
    r = -EOPNOTSUPP;
  return finish (p, 0, r == 0 ? len : 0, r, res);
}

/* Pattern repeated to a seed of k bytes: a multiple of both patlen and the
 * block size where that stays small (so the doubling copies are block
 * aligned and can reflink), and at least 64 KiB.
 */
static unsigned char *
make_seed (const void *pattern, size_t patlen, uint64_t blksize,
           size_t *seed_len)
{
  size_t k = patlen;
  unsigned char *buf;

  while (k % blksize != 0 && k < (4u << 20))
    k += patlen;
  if (k % blksize != 0)
    k = patlen;
  while (k < 4194304)
    k *= 2;
  buf = malloc (k);
  if (buf == NULL)
    return NULL;
  for (size_t i = 0; i < k; i += patlen)
    memcpy (buf + i, pattern, patlen);
  *seed_len = k;
  return buf;
}

/* Write the periodic buffer over [off + *done, off + len).  buf has k bytes,
 * k a multiple of the pattern length, so byte x of the fill is buf[x % k].
 */
static int
write_pattern (struct xcopy_pair *p, const unsigned char *buf, size_t k,
               uint64_t off, uint64_t len, uint64_t *done)
{
  while (*done < len) {
    size_t b = *done % k;
    size_t n = MIN (len - *done, (uint64_t) (k - b));
    ssize_t w = xcopy_sys.pwrite (p->dst_fd, buf + b, n, off + *done);

    if (w == -1 && errno == EINTR)
      continue;
    if (w <= 0)
      return w == 0 ? -EIO : -errno;
    xcopy_account (p, XCOPY_M_FILL_WRITE, w, 1);
    *done += w;
  }
  return 0;
}

/* Double [off, off + *done) until len is covered or copying stops being
 * offloaded; the caller writes whatever is left.
 */
static int
double_up (struct xcopy_pair *p, uint64_t off, uint64_t len, unsigned flags,
           uint64_t *done)
{
  struct xcopy_ctx c;
  int r = xcopy_ctx_init (&c, p, flags | XCOPY_F__NO_HOLES |
                          XCOPY_F_NO_SPLICE | XCOPY_F__NO_BOUNCE);

  if (r < 0)
    return r;
  while (*done < len) {
    uint64_t n = MIN (*done, len - *done), d = 0;

    r = xcopy_copy_data (&c, off, off + *done, n, &d);
    *done += d;
    if (r == -EOPNOTSUPP && !xcopy_has_cap (p, XCOPY_CAP_CFR)) {
      r = 0;                    /* no offload here: plain writes */
      break;
    }
    if (r < 0)
      break;
  }
  xcopy_ctx_fini (&c);
  return r;
}

static int
fill_pattern (struct xcopy_pair *p, uint64_t off, uint64_t len,
              const void *pattern, size_t patlen, uint64_t blksize,
              unsigned flags, uint64_t *done)
{
  size_t k;
  unsigned char *seed = make_seed (pattern, patlen, blksize, &k);
  int r;

  if (seed == NULL)
    return -ENOMEM;
  r = write_pattern (p, seed, k, off, MIN ((uint64_t) k, len), done);
  if (r == 0 && !(flags & XCOPY_F_NO_CFR))
    r = double_up (p, off, len, flags & XCOPY_F_NO_REFLINK, done);
  if (r == 0)
    r = write_pattern (p, seed, k, off, len, done);
  free (seed);
  return r;
}

int
xcopy_fill (struct xcopy_pair *p, uint64_t off, uint64_t len,
            const void *pattern, size_t patlen, unsigned flags,
            struct xcopy_result *res)
{
  const unsigned allowed = XCOPY_F_MAY_TRIM | XCOPY_F_FAST_ZERO |
    XCOPY_F_SYNC | XCOPY_F_NO_REFLINK | XCOPY_F_NO_CFR;
  uint64_t done = 0, bs = 4096;
  int r;

  if (pattern == NULL || patlen == 0 || patlen > XCOPY_FILL_MAX_PATTERN ||
      len % patlen != 0)
    return refused (res, -EINVAL);
  r = check_target (p, off, len, flags, allowed, &bs);
  if (r < 0)
    return refused (res, r);
  if (xcopy_is_zero (pattern, patlen))
    return xcopy_zero (p, off, len,
                       flags & (XCOPY_F_MAY_TRIM | XCOPY_F_FAST_ZERO |
                                XCOPY_F_SYNC), res);
  if (len > 0)
    r = fill_pattern (p, off, len, pattern, patlen, bs, flags, &done);
  return finish (p, flags, done, r, res);
}
