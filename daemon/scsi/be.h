/* xcopyd: big-endian loads and stores for SCSI wire data (any alignment).
 *
 * SCSI fields are only ever read and written through these; no buffer is
 * cast to a struct (SPC-4 3.5.2: multi-byte fields are big-endian).
 */
#ifndef XCOPY_SCSI_BE_H
#define XCOPY_SCSI_BE_H

#include <stdint.h>

static inline uint16_t
get_be16 (const void *p)
{
  const uint8_t *b = p;

  return (uint16_t) (b[0] << 8 | b[1]);
}

static inline uint32_t
get_be24 (const void *p)
{
  const uint8_t *b = p;

  return (uint32_t) b[0] << 16 | (uint32_t) b[1] << 8 | b[2];
}

static inline uint32_t
get_be32 (const void *p)
{
  const uint8_t *b = p;

  return (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 |
    (uint32_t) b[2] << 8 | b[3];
}

static inline uint64_t
get_be64 (const void *p)
{
  const uint8_t *b = p;

  return (uint64_t) get_be32 (b) << 32 | get_be32 (b + 4);
}

static inline void
put_be16 (void *p, uint16_t v)
{
  uint8_t *b = p;

  b[0] = (uint8_t) (v >> 8);
  b[1] = (uint8_t) v;
}

static inline void
put_be24 (void *p, uint32_t v)
{
  uint8_t *b = p;

  b[0] = (uint8_t) (v >> 16);
  b[1] = (uint8_t) (v >> 8);
  b[2] = (uint8_t) v;
}

static inline void
put_be32 (void *p, uint32_t v)
{
  uint8_t *b = p;

  b[0] = (uint8_t) (v >> 24);
  b[1] = (uint8_t) (v >> 16);
  b[2] = (uint8_t) (v >> 8);
  b[3] = (uint8_t) v;
}

static inline void
put_be64 (void *p, uint64_t v)
{
  put_be32 (p, (uint32_t) (v >> 32));
  put_be32 ((uint8_t *) p + 4, (uint32_t) v);
}

#endif /* XCOPY_SCSI_BE_H */
