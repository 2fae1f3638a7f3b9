/* xcopyd: overflow-checked arithmetic (GCC/Clang builtins).
 * Each returns true when the result overflowed; *r is then unspecified.
 */
#ifndef XCOPY_CHECKED_OVERFLOW_H
#define XCOPY_CHECKED_OVERFLOW_H

#include <stdbool.h>
#include <stdint.h>

static inline bool
add_overflows_u64 (uint64_t a, uint64_t b, uint64_t *r)
{
  return __builtin_add_overflow (a, b, r);
}

/* Does [off, off+len) fit in [0, size)?  False on overflow too. */
static inline bool
range_inside (uint64_t off, uint64_t len, uint64_t size)
{
  uint64_t end;

  return !add_overflows_u64 (off, len, &end) && end <= size;
}

/* Do [a, a+len) and [b, b+len) overlap?  (len > 0, no overflow.) */
static inline bool
ranges_overlap (uint64_t a, uint64_t b, uint64_t len)
{
  return a < b ? b - a < len : a - b < len;
}

#endif
