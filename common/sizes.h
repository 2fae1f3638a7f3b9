/* xcopyd: parsing of the sizes, ranges and patterns that people type.
 *
 * xcopyctl takes sizes the way the control protocol's messages write them
 * (PROTOCOL.md §7.2, xcopy_proto_size_str): a number with an optional
 * suffix, or a sum of such terms, so that "4G+1M" copied from an error
 * message can be pasted back on a command line.
 *
 *   size   := term ( '+' term )*
 *   term   := number [ suffix ]
 *   number := decimal digits | '0x' hex digits     (no sign, no spaces)
 *   suffix := K | M | G | T   (powers of 1024; lower case too)
 *           | s               (512-byte sectors; S too)
 *
 * Every function returns 0 or -errno (-EINVAL for malformed text, -ERANGE
 * for a value that does not fit in 64 bits, -E2BIG for a pattern over the
 * limit) and on failure writes the reason to why[] (without the argument's
 * name, which the caller knows: "not a number", "unknown suffix 'x'").
 * No glib: this is in libxcopy.a so the unit tests reach it.
 */
#ifndef XCOPY_SIZES_H
#define XCOPY_SIZES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xcopy/range.h"

#define XCOPY_WHY_SIZE 160

int xcopy_size_parse (const char *s, uint64_t *out,
                      char why[XCOPY_WHY_SIZE]);

/* A plain decimal number without suffix (job ids). */
int xcopy_u64_parse (const char *s, uint64_t *out, char why[XCOPY_WHY_SIZE]);

/* "SRC:DST:LEN": why names the field ("invalid dst '1Q': unknown suffix
 * 'Q'").  -ERANGE also when src + len or dst + len passes 2^64 - 1.
 */
int xcopy_range_parse (const char *s, struct xcopy_range *r,
                       char why[XCOPY_WHY_SIZE]);

/* "OFF:LEN" (UNMAP spans), the same way. */
int xcopy_span_parse (const char *s, uint64_t *off, uint64_t *len,
                      char why[XCOPY_WHY_SIZE]);

/* One line of a ranges file: a SRC:DST:LEN, optionally surrounded by
 * blanks; '#' starts a comment.  *blank is set for a line with nothing
 * else (the range is then untouched).
 */
int xcopy_range_line_parse (const char *line, struct xcopy_range *r,
                            bool *blank, char why[XCOPY_WHY_SIZE]);

/* Hex bytes: an optional "0x", then pairs of hex digits, which may be
 * separated by one ':', '-', '_' or ' ' ("deadbeef", "0xdeadbeef",
 * "de:ad:be:ef").  At most max bytes are stored in out (-E2BIG beyond);
 * *n receives the count, which is at least 1.
 */
int xcopy_hex_parse (const char *s, unsigned char *out, size_t max,
                     size_t *n, char why[XCOPY_WHY_SIZE]);

#endif /* XCOPY_SIZES_H */
