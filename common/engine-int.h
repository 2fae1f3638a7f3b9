/* xcopyd: engine internals shared by engine.c, ladder.c, holes.c, fill.c. */
#ifndef XCOPY_ENGINE_INT_H
#define XCOPY_ENGINE_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "xcopy/engine.h"
#include "sys.h"

/* Per call, not per kernel request: copy_file_range stops near 2 GiB. */
#define XCOPY_MAX_CALL     (UINT64_C (1) << 30)
#define XCOPY_BOUNCE_SIZE  (1u << 20)
#define XCOPY_ZERO_BUF     (1u << 20)

/* Internal flag: treat the source as all data (no hole walk). */
#define XCOPY_F__NO_HOLES  (1u << 31)
/* Internal flag: fail with -EOPNOTSUPP instead of bouncing through memory. */
#define XCOPY_F__NO_BOUNCE (1u << 30)

/* One source extent learnt from SEEK_DATA/SEEK_HOLE. */
struct xcopy_extent {
  uint64_t start, end;
  bool data;
  bool valid;
};

/* State of one engine call. */
struct xcopy_ctx {
  struct xcopy_pair *p;
  unsigned flags;
  bool same_file;
  uint64_t src_size;
  uint64_t dst_size;
  uint64_t blksize;          /* reflink alignment of the destination */
  int pipefd[2];             /* splice rung, created on first use */
  size_t pipe_size;
  unsigned char *buf;        /* bounce buffer, allocated on first use */
  struct xcopy_extent ext;   /* cache of the last source extent */
  struct xcopy_ctl *ctl;     /* progress and cancel, may be NULL */
  uint64_t ctl_base;         /* bytes done before the current range */
};

/* stats.c */
void xcopy_account (struct xcopy_pair *p, enum xcopy_method m,
                    uint64_t bytes, uint64_t calls);
bool xcopy_has_cap (struct xcopy_pair *p, unsigned cap);
void xcopy_clear_cap (struct xcopy_pair *p, unsigned cap);
bool xcopy_is_fallback_errno (int err);

/* engine.c */
int xcopy_ctx_init (struct xcopy_ctx *c, struct xcopy_pair *p,
                    unsigned flags);
void xcopy_ctx_fini (struct xcopy_ctx *c);
int xcopy_ctx_buf (struct xcopy_ctx *c);
int xcopy_dst_facts (const struct xcopy_pair *p, uint64_t *size,
                     uint64_t *blksize);
int xcopy_check_regular (int fd, uint64_t *size, uint64_t *blksize,
                         uint64_t *dev, uint64_t *ino);

/* ladder.c: copy [src, src+len) as data; *done = bytes finished. */
int xcopy_copy_data (struct xcopy_ctx *c, uint64_t src, uint64_t dst,
                     uint64_t len, uint64_t *done);

int xcopy_reflink_run (struct xcopy_ctx *c, uint64_t src, uint64_t dst,
                       uint64_t len, uint64_t *done);

/* ladder.c: exact-length reads and writes (short ones are retried). */
int xcopy_read_full (int fd, unsigned char *buf, size_t n, uint64_t off);
int xcopy_write_full (struct xcopy_pair *p, const unsigned char *buf,
                      size_t n, uint64_t off, enum xcopy_method m,
                      uint64_t *done);

/* holes.c: copy [src, src+len) preserving holes. */
int xcopy_copy_sparse (struct xcopy_ctx *c, uint64_t src, uint64_t dst,
                       uint64_t len, uint64_t *done);
void xcopy_ext_invalidate (struct xcopy_ctx *c, uint64_t off, uint64_t len,
                           bool wrote_data);

/* fill.c: zero ladder on p->dst_fd. */
int xcopy_zero_ladder (struct xcopy_pair *p, uint64_t off, uint64_t len,
                       unsigned flags, uint64_t *done);
bool xcopy_is_zero (const void *buf, size_t len);

#endif
