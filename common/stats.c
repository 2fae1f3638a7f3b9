/* xcopyd: per-method counters. */
#include "engine-int.h"

static const char *const method_names[XCOPY_M__COUNT] = {
  [XCOPY_M_REFLINK] = "reflink",
  [XCOPY_M_CFR] = "copy_file_range",
  [XCOPY_M_SPLICE] = "splice",
  [XCOPY_M_BOUNCE] = "bounce",
  [XCOPY_M_PUNCH] = "punch",
  [XCOPY_M_ZERO_RANGE] = "zero_range",
  [XCOPY_M_WRITE_ZEROES] = "write_zeroes",
  [XCOPY_M_FILL_WRITE] = "fill_write",
};

const char *
xcopy_method_name (enum xcopy_method m)
{
  return (unsigned) m < XCOPY_M__COUNT ? method_names[m] : "unknown";
}

void
xcopy_stats_snapshot (const struct xcopy_stats *s,
                      struct xcopy_stats_snapshot *out)
{
  for (int i = 0; i < XCOPY_M__COUNT; i++) {
    out->bytes[i] = atomic_load_explicit (&s->bytes[i], memory_order_relaxed);
    out->calls[i] = atomic_load_explicit (&s->calls[i], memory_order_relaxed);
  }
}

void
xcopy_account (struct xcopy_pair *p, enum xcopy_method m,
               uint64_t bytes, uint64_t calls)
{
  if (p->stats == NULL)
    return;
  atomic_fetch_add_explicit (&p->stats->bytes[m], bytes, memory_order_relaxed);
  atomic_fetch_add_explicit (&p->stats->calls[m], calls, memory_order_relaxed);
}

void
xcopy_pair_init (struct xcopy_pair *p, int src_fd, int dst_fd,
                 struct xcopy_stats *stats)
{
  p->src_fd = src_fd;
  p->dst_fd = dst_fd;
  atomic_init (&p->caps, XCOPY_CAP_ALL);
  p->stats = stats;
  p->pinned = p->same_file = false;
  p->src_size = p->dst_size = p->blksize = 0;
}

bool
xcopy_has_cap (struct xcopy_pair *p, unsigned cap)
{
  return (atomic_load_explicit (&p->caps, memory_order_relaxed) & cap) != 0;
}

void
xcopy_clear_cap (struct xcopy_pair *p, unsigned cap)
{
  atomic_fetch_and_explicit (&p->caps, ~cap, memory_order_relaxed);
}

/* FIELD-NOTES: the errnos that mean "this method is not available here",
 * as opposed to a real failure of the copy (ENOSPC, EDQUOT, EIO, ...).
 */
bool
xcopy_is_fallback_errno (int err)
{
  switch (err) {
  case ENOSYS: case EXDEV: case EOPNOTSUPP: case EINVAL: case EPERM:
  case EACCES: case ETXTBSY: case EBADF: case EISDIR:
#if ENOTSUP != EOPNOTSUPP
  case ENOTSUP:
#endif
    return true;
  default:
    return false;
  }
}
