/* xcopyd: the range type every front end produces and the engine runs.
 *
 * EXTENDED COPY segment lists, WRITE SAME, the control protocol and the
 * command line all reduce to a batch of these.
 */
#ifndef XCOPY_RANGE_H
#define XCOPY_RANGE_H

#include <stdint.h>

struct xcopy_range {
  uint64_t src;   /* byte offset in the source file */
  uint64_t dst;   /* byte offset in the destination file */
  uint64_t len;   /* bytes; 0 is a valid no-op */
};

/* Largest batch one call accepts.  Big enough for 100k-range batches
 * and a full 1024-segment XCOPY list many times over, small enough that
 * validation and coalescing stay cheap.
 */
#define XCOPY_MAX_RANGES (1u << 20)

#endif /* XCOPY_RANGE_H */
