/* xcopyd: little-endian byte buffers for the control protocol.
 *
 * Wire data is only ever read and written through these helpers: no
 * buffer is cast to a struct, every length is checked before it is used,
 * and size arithmetic is overflow-checked.  No glib: this loads inside
 * nbdkit.
 *
 * A writer (struct xcopy_wbuf) grows a malloc'd buffer up to a limit; a
 * reader (struct xcopy_rbuf) walks a caller's buffer.  Both keep a sticky
 * error: after the first failure, every further call does nothing and the
 * first error stays.  Decoders thus read a whole message straight through
 * and look at the error once.
 */
#ifndef XCOPY_WIRE_H
#define XCOPY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Little-endian loads and stores (any alignment) ---- */

static inline uint16_t
get_le16 (const void *p)
{
  const unsigned char *b = p;

  return (uint16_t) (b[0] | b[1] << 8);
}

static inline uint32_t
get_le32 (const void *p)
{
  const unsigned char *b = p;

  return (uint32_t) b[0] | (uint32_t) b[1] << 8 |
    (uint32_t) b[2] << 16 | (uint32_t) b[3] << 24;
}

static inline uint64_t
get_le64 (const void *p)
{
  const unsigned char *b = p;

  return (uint64_t) get_le32 (b) | (uint64_t) get_le32 (b + 4) << 32;
}

static inline void
put_le16 (void *p, uint16_t v)
{
  unsigned char *b = p;

  b[0] = (unsigned char) v;
  b[1] = (unsigned char) (v >> 8);
}

static inline void
put_le32 (void *p, uint32_t v)
{
  unsigned char *b = p;

  for (int i = 0; i < 4; i++)
    b[i] = (unsigned char) (v >> (8 * i));
}

static inline void
put_le64 (void *p, uint64_t v)
{
  put_le32 (p, (uint32_t) v);
  put_le32 ((unsigned char *) p + 4, (uint32_t) (v >> 32));
}

/* ---- Writer ---- */

struct xcopy_wbuf {
  unsigned char *data;    /* malloc'd; owned by the buffer */
  size_t len;             /* bytes written */
  size_t cap;             /* bytes allocated */
  size_t limit;           /* len never exceeds this */
  int err;                /* 0, or the first -errno (-ENOMEM, -EMSGSIZE) */
};

/* An empty writer that refuses to grow past limit bytes (-EMSGSIZE). */
void xcopy_wbuf_init (struct xcopy_wbuf *w, size_t limit);
void xcopy_wbuf_free (struct xcopy_wbuf *w);
/* Forget the contents (and the error), keep the allocation. */
void xcopy_wbuf_reset (struct xcopy_wbuf *w);

/* Append n bytes and return where they start (NULL after an error). */
unsigned char *xcopy_wbuf_reserve (struct xcopy_wbuf *w, size_t n);
void xcopy_wbuf_put (struct xcopy_wbuf *w, const void *p, size_t n);
void xcopy_wbuf_u16 (struct xcopy_wbuf *w, uint16_t v);
void xcopy_wbuf_u32 (struct xcopy_wbuf *w, uint32_t v);
void xcopy_wbuf_u64 (struct xcopy_wbuf *w, uint64_t v);

/* ---- Reader ---- */

struct xcopy_proto_err;

struct xcopy_rbuf {
  const unsigned char *p;
  size_t len;
  size_t off;                   /* bytes consumed */
  struct xcopy_proto_err *e;    /* where the first failure is described */
  int err;                      /* 0 or the first -errno */
};

void xcopy_rbuf_init (struct xcopy_rbuf *r, const void *p, size_t len,
                      struct xcopy_proto_err *e);
static inline size_t
xcopy_rbuf_left (const struct xcopy_rbuf *r)
{
  return r->len - r->off;
}

/* Each reads one little-endian field named `field` (for the error
 * message); truncation is -EBADMSG and yields 0.
 */
uint16_t xcopy_rbuf_u16 (struct xcopy_rbuf *r, const char *field);
uint32_t xcopy_rbuf_u32 (struct xcopy_rbuf *r, const char *field);
uint64_t xcopy_rbuf_u64 (struct xcopy_rbuf *r, const char *field);
/* n bytes in place, or NULL (truncated: -EBADMSG). */
const unsigned char *xcopy_rbuf_bytes (struct xcopy_rbuf *r, size_t n,
                                       const char *field);

#endif /* XCOPY_WIRE_H */
