/* xcopyd: nbdkit-xcopy-plugin, the only component that writes image files.
 *
 * Serves one image (file=) or every regular file in a directory (dir=, see
 * exports.c) over NBD.  Reads and writes are plain pread/pwrite; zeroing,
 * trimming and the control socket's range operations (control.c) go
 * through the engine in common/, so its counters see all of them and what
 * it learns of the kernel (can this file punch? ZERO_RANGE?) is remembered
 * per file (files.c).  Writes, zeroes and trims lock their range in the
 * file's range-lock table for the call (PROTOCOL.md §9.1), so they never
 * interleave with a control-socket COPY, FILL, ZERO or UNMAP.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "plugin.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

/* Block sizes advertised to clients.  Any alignment works (we use
 * pread/pwrite), so the minimum is 1.  The preferred size is the file
 * system's st_blksize (4096 when that is not a sensible power of two):
 * smaller writes cost a read-modify-write in the page cache.  The
 * maximum is the largest read or write nbdkit 1.32 accepts.
 */
#define BLOCK_MIN           1
#define BLOCK_PREFERRED     4096
#define BLOCK_PREFERRED_MAX (32 * 1024 * 1024)
#define BLOCK_MAX           (64 * 1024 * 1024)

struct xcopy_stats xcopy_plugin_stats;

static char *filename;          /* file= parameter, made absolute */
static bool readonly_param;     /* readonly= parameter */

/* One per connection: a reference to the image, shared with every other
 * user of the same file.
 */
struct handle {
  struct xfile *f;
  int fd;                       /* files_fd (f) */
  bool readonly;
  uint32_t preferred;           /* preferred block size */
  char *name;                   /* for messages */
};

const char *
xcopy_filename (void)
{
  return filename;
}

bool
xcopy_readonly (void)
{
  return readonly_param;
}

/* ---- configuration ---------------------------------------------------- */

static int
config_file (const char *value)
{
  if (filename != NULL) {
    nbdkit_error ("file= given more than once");
    errno = EINVAL;
    return -1;
  }
  filename = nbdkit_realpath (value);
  return filename ? 0 : -1;
}

static int
config_readonly (const char *value)
{
  int r = nbdkit_parse_bool (value);

  if (r == -1)
    return -1;
  readonly_param = r;
  return 0;
}

/* Every parameter .config accepts.  Keep config_help and the man page's
 * PARAMETERS section in step (tests/func/test-plugin-help.sh checks).
 */
static const struct {
  const char *key;
  int (*set) (const char *value);
} params[] = {
  { "file",     config_file },
  { "dir",      exports_config_dir },
  { "readonly", config_readonly },
  { "control",  control_config_path },
  { "control-group", control_config_group },
};

static int
xcopy_plugin_config (const char *key, const char *value)
{
  size_t i;

  for (i = 0; i < sizeof params / sizeof params[0]; i++) {
    if (strcmp (key, params[i].key) == 0)
      return params[i].set (value);
  }
  nbdkit_error ("unknown parameter '%s' (see: nbdkit xcopy --help)", key);
  errno = EINVAL;
  return -1;
}

static int
check_file (void)
{
  struct stat st;

  if (stat (filename, &st) == -1) {
    nbdkit_error ("file=%s: %m", filename);
    return -1;
  }
  if (!S_ISREG (st.st_mode)) {
    nbdkit_error ("file=%s: not a regular file", filename);
    errno = EINVAL;
    return -1;
  }
  return 0;
}

static int
xcopy_plugin_config_complete (void)
{
  if (filename != NULL && exports_dir () != NULL) {
    nbdkit_error ("file= and dir= cannot be used together");
    errno = EINVAL;
    return -1;
  }
  if (control_config_complete () == -1)
    return -1;
  if (filename != NULL)
    return check_file ();
  if (exports_dir () != NULL)
    return exports_config_complete ();
  nbdkit_error ("one of file=IMAGE or dir=DIRECTORY is required");
  errno = EINVAL;
  return -1;
}

#define xcopy_plugin_config_help \
  "file=<IMAGE>         Serve this regular file (the single export).\n" \
  "dir=<DIRECTORY>      Serve each regular file in DIRECTORY as an export\n" \
  "                     named by its file name.  Exactly one of file=/dir=.\n" \
  "readonly=true|false  Open images read-only and refuse writes\n" \
  "                     (default: false).\n" \
  "control=<SOCKET>     Serve the xcopyd control protocol (range copies,\n" \
  "                     fills, clones, jobs) on this Unix socket.\n" \
  "control-group=<GROUP>\n" \
  "                     Let members of GROUP use the control socket\n" \
  "                     too (mode 0660 instead of 0600)."

static int
xcopy_plugin_get_ready (void)
{
  if (exports_dir () != NULL && exports_get_ready () == -1)
    return -1;
  if (files_get_ready () == -1)
    return -1;
  return control_get_ready ();
}

/* nbdkit forks into the background after .get_ready: threads start here. */
static int
xcopy_plugin_after_fork (void)
{
  return control_after_fork ();
}

static void
xcopy_plugin_cleanup (void)
{
  control_cleanup ();
}

static void
xcopy_plugin_dump_plugin (void)
{
  int m;

  printf ("xcopy_version=%s\n", XCOPY_VERSION);
  printf ("xcopy_methods=");
  for (m = 0; m < XCOPY_M__COUNT; m++)
    printf ("%s%s", m ? "," : "", xcopy_method_name (m));
  printf ("\n");
  printf ("xcopy_dir=yes\n");
  printf ("xcopy_fast_zero=yes\n");
  printf ("xcopy_control=yes\n");
  printf ("xcopy_block_size_max=%u\n", (unsigned) BLOCK_MAX);
}

static void
log_stats (void)
{
  struct xcopy_stats_snapshot s;
  int m;

  xcopy_stats_snapshot (&xcopy_plugin_stats, &s);
  for (m = 0; m < XCOPY_M__COUNT; m++) {
    if (s.calls[m] > 0)
      nbdkit_debug ("xcopy: %s: %" PRIu64 " bytes in %" PRIu64 " calls",
                    xcopy_method_name (m), s.bytes[m], s.calls[m]);
  }
}

static void
xcopy_plugin_unload (void)
{
  control_cleanup ();
  control_unload ();
  log_stats ();
  files_unload ();
  exports_unload ();
  free (filename);
  filename = NULL;
}

/* ---- exports ----------------------------------------------------------- */

static int
xcopy_plugin_list_exports (int readonly UNUSED, int is_tls UNUSED,
                           struct nbdkit_exports *exports)
{
  if (exports_dir () != NULL)
    return exports_list (exports);
  return nbdkit_use_default_export (exports);
}

static const char *
xcopy_plugin_default_export (int readonly UNUSED, int is_tls UNUSED)
{
  return exports_dir () ? exports_default () : "";
}

/* ---- connections ------------------------------------------------------- */

static const char *
connection_name (void)
{
  const char *name;

  if (exports_dir () == NULL)
    return filename;
  name = nbdkit_export_name ();
  if (name == NULL || name[0] == '\0')
    name = exports_default ();
  return name;
}

static void
free_handle (struct handle *h)
{
  files_put (h->f);
  free (h->name);
  free (h);
}

/* The preferred block size: the file system's st_blksize (FIELD-NOTES). */
static uint32_t
preferred_size (int fd)
{
  struct stat st;

  if (fstat (fd, &st) == 0 && st.st_blksize >= 512 &&
      st.st_blksize <= BLOCK_PREFERRED_MAX &&
      (st.st_blksize & (st.st_blksize - 1)) == 0)
    return st.st_blksize;
  return BLOCK_PREFERRED;
}

static void *
xcopy_plugin_open (int readonly)
{
  const char *name = connection_name ();
  char msg[XMSG_SIZE];
  struct handle *h;
  int r;

  if (name == NULL) {
    nbdkit_error ("dir=%s: no export given and no default export",
                  exports_dir ());
    errno = ENOENT;
    return NULL;
  }
  h = calloc (1, sizeof *h);
  if (h == NULL || (h->name = strdup (name)) == NULL) {
    nbdkit_error ("malloc: %m");
    free (h);
    return NULL;
  }
  h->readonly = readonly || readonly_param;
  r = files_open (exports_dir () ? name : "", !h->readonly, &h->f, msg);
  if (r < 0) {
    nbdkit_error ("%s", msg);
    free_handle (h);
    errno = -r;
    return NULL;
  }
  h->fd = files_fd (h->f);
  h->preferred = preferred_size (h->fd);
  return h;
}

static void
xcopy_plugin_close (void *handle)
{
  free_handle (handle);
}

static int64_t
xcopy_plugin_get_size (void *handle)
{
  struct handle *h = handle;
  struct stat st;

  if (fstat (h->fd, &st) == -1) {
    nbdkit_error ("%s: fstat: %m", h->name);
    return -1;
  }
  return st.st_size;
}

static int
xcopy_plugin_block_size (void *handle, uint32_t *minimum,
                         uint32_t *preferred, uint32_t *maximum)
{
  struct handle *h = handle;

  *minimum = BLOCK_MIN;
  *preferred = h->preferred;
  *maximum = BLOCK_MAX;
  return 0;
}

/* ---- capabilities ------------------------------------------------------ */

static int
xcopy_plugin_can_write (void *handle)
{
  struct handle *h = handle;

  return !h->readonly;
}

static int
xcopy_plugin_can_true (void *handle UNUSED)
{
  return 1;
}

static int
xcopy_plugin_can_fua (void *handle UNUSED)
{
  return NBDKIT_FUA_NATIVE;
}

static int
xcopy_plugin_can_cache (void *handle UNUSED)
{
  return NBDKIT_CACHE_NATIVE;
}

static int
xcopy_plugin_can_extents (void *handle)
{
  struct handle *h = handle;

  return h->f->can_extents;
}

/* ---- data path --------------------------------------------------------- */

/* With NBDKIT_FUA_NATIVE, a write, zero or trim carrying FUA returns only
 * once it is on stable storage.
 */
static int
sync_if_fua (struct handle *h, uint32_t flags, const char *op)
{
  if ((flags & NBDKIT_FLAG_FUA) && fdatasync (h->fd) == -1) {
    nbdkit_error ("%s: %s: fdatasync: %m", h->name, op);
    return -1;
  }
  return 0;
}

static int
xcopy_plugin_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
                    uint32_t flags UNUSED)
{
  struct handle *h = handle;
  char *p = buf;
  ssize_t r;

  while (count > 0) {
    r = pread (h->fd, p, count, offset);
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1) {
      nbdkit_error ("%s: pread at %" PRIu64 ": %m", h->name, offset);
      return -1;
    }
    if (r == 0) {
      /* Someone truncated the image under us. */
      nbdkit_error ("%s: pread at %" PRIu64 ": unexpected end of file",
                    h->name, offset);
      errno = EIO;
      return -1;
    }
    p += r;
    count -= r;
    offset += r;
  }
  return 0;
}

static int
write_all (struct handle *h, const char *p, uint32_t count, uint64_t offset)
{
  ssize_t r;

  while (count > 0) {
    r = pwrite (h->fd, p, count, offset);
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1) {
      nbdkit_error ("%s: pwrite at %" PRIu64 ": %m", h->name, offset);
      return -1;
    }
    if (r == 0) {
      nbdkit_error ("%s: pwrite at %" PRIu64 ": wrote nothing",
                    h->name, offset);
      errno = EIO;
      return -1;
    }
    p += r;
    count -= r;
    offset += r;
  }
  return 0;
}

/* PROTOCOL.md §9.1: an NBD write, zero or trim holds its range
 * exclusively for the whole call, so it never interleaves with a control
 * operation on an overlapping range.  -1 after nbdkit_error.
 */
static int
lock_range (struct handle *h, struct rangelock_hold *hold, uint64_t offset,
            uint64_t count, const char *op)
{
  int r = rangelock_lock (&h->f->locks, hold, offset, count, RANGELOCK_EXCL,
                          NULL);

  if (r == 0)
    return 0;
  errno = -r;
  nbdkit_error ("%s: %s at %" PRIu64 ": range lock: %m", h->name, op, offset);
  return -1;
}

/* Release, keeping errno for nbdkit (.errno_is_preserved). */
static void
unlock_range (struct rangelock_hold *hold)
{
  int err = errno;

  rangelock_release (hold);
  errno = err;
}

static int
xcopy_plugin_pwrite (void *handle, const void *buf, uint32_t count,
                     uint64_t offset, uint32_t flags)
{
  struct handle *h = handle;
  struct rangelock_hold hold = RANGELOCK_HOLD_INIT;
  int r;

  if (lock_range (h, &hold, offset, count, "pwrite") == -1)
    return -1;
  r = write_all (h, buf, count, offset);
  if (r == 0)
    r = sync_if_fua (h, flags, "pwrite");
  unlock_range (&hold);
  return r;
}

static int
xcopy_plugin_flush (void *handle, uint32_t flags UNUSED)
{
  struct handle *h = handle;

  if (fdatasync (h->fd) == -1) {
    nbdkit_error ("%s: flush: fdatasync: %m", h->name);
    return -1;
  }
  return 0;
}

/* Trim is advisory (NBD protocol): where the file system cannot punch
 * holes, succeed without doing anything.
 */
static int
xcopy_plugin_trim (void *handle, uint32_t count, uint64_t offset,
                   uint32_t flags)
{
  struct handle *h = handle;
  struct rangelock_hold hold = RANGELOCK_HOLD_INIT;
  struct xcopy_result res;
  int r;

  if (lock_range (h, &hold, offset, count, "trim") == -1)
    return -1;
  r = xcopy_punch (&h->f->pair, offset, count, &res);
  if (r == -EOPNOTSUPP)
    r = 0;
  if (r < 0) {
    errno = -r;
    nbdkit_error ("%s: trim %" PRIu32 " bytes at %" PRIu64 ": %m",
                  h->name, count, offset);
    r = -1;
  }
  else
    r = sync_if_fua (h, flags, "trim");
  unlock_range (&hold);
  return r;
}

/* The engine walks the zero ladder (punch when MAY_TRIM, ZERO_RANGE, then
 * written zeroes) and always finishes the whole range, so nbdkit's own
 * fallback, which is broken above 64 MiB in 1.32 (FIELD-NOTES), never
 * runs: .zero fails with ENOTSUP only for a FAST_ZERO request, and then
 * before it has written anything.
 */
static int
zero_locked (struct handle *h, uint32_t count, uint64_t offset,
             uint32_t flags)
{
  struct xcopy_result res;
  unsigned xflags = 0;
  int r;

  if (flags & NBDKIT_FLAG_MAY_TRIM)
    xflags |= XCOPY_F_MAY_TRIM;
  if (flags & NBDKIT_FLAG_FAST_ZERO)
    xflags |= XCOPY_F_FAST_ZERO;
  r = xcopy_zero (&h->f->pair, offset, count, xflags, &res);
  if (r == 0)
    return sync_if_fua (h, flags, "zero");
  if (r == -EOPNOTSUPP && (flags & NBDKIT_FLAG_FAST_ZERO)) {
    /* Not an error: the client writes the zeroes itself, or skips them. */
    nbdkit_debug ("%s: fast zero at %" PRIu64 ": would need writing",
                  h->name, offset);
    errno = EOPNOTSUPP;
    return -1;
  }
  if (r == -EOPNOTSUPP)
    r = -EIO;                   /* never hand this case to nbdkit */
  errno = -r;
  nbdkit_error ("%s: zero %" PRIu32 " bytes at %" PRIu64
                ": stopped after %" PRIu64 " bytes: %m",
                h->name, count, offset, res.bytes_done);
  return -1;
}

static int
xcopy_plugin_zero (void *handle, uint32_t count, uint64_t offset,
                   uint32_t flags)
{
  struct handle *h = handle;
  struct rangelock_hold hold = RANGELOCK_HOLD_INIT;
  int r;

  if (lock_range (h, &hold, offset, count, "zero") == -1)
    return -1;
  r = zero_locked (h, count, offset, flags);
  unlock_range (&hold);
  return r;
}

static int
add_extent (struct nbdkit_extents *extents, uint64_t off, uint64_t len,
            bool hole)
{
  uint32_t type = hole ? NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO : 0;

  return nbdkit_add_extent (extents, off, len, type);
}

static int
xcopy_plugin_extents (void *handle, uint32_t count, uint64_t offset,
                      uint32_t flags, struct nbdkit_extents *extents)
{
  struct handle *h = handle;
  uint64_t end = offset + count, next;
  bool hole;
  int r;

  while (offset < end) {
    r = files_next_extent (h->fd, offset, end, &hole, &next);
    if (r < 0) {
      errno = -r;
      nbdkit_error ("%s: lseek at %" PRIu64 ": %m", h->name, offset);
      return -1;
    }
    /* A hole that appeared between the two lseeks: look again. */
    if (next <= offset)
      continue;
    if (add_extent (extents, offset, next - offset, hole) == -1)
      return -1;
    if (flags & NBDKIT_FLAG_REQ_ONE)
      break;
    offset = next;
  }
  return 0;
}

static int
xcopy_plugin_cache (void *handle, uint32_t count, uint64_t offset,
                    uint32_t flags)
{
  struct handle *h = handle;
  int r;

  if (flags != 0) {
    nbdkit_error ("%s: cache: unknown flags %#" PRIx32, h->name, flags);
    errno = EINVAL;
    return -1;
  }
  r = posix_fadvise (h->fd, offset, count, POSIX_FADV_WILLNEED);
  if (r != 0) {
    errno = r;
    nbdkit_error ("%s: cache: posix_fadvise: %m", h->name);
    return -1;
  }
  return 0;
}

static struct nbdkit_plugin plugin = {
  .name               = "xcopy",
  .longname           = "xcopyd range-copy file plugin",
  .version            = XCOPY_VERSION,
  .description        = "Serve image files with copy offload (xcopyd)",
  .magic_config_key   = "file",
  .config             = xcopy_plugin_config,
  .config_complete    = xcopy_plugin_config_complete,
  .config_help        = xcopy_plugin_config_help,
  .get_ready          = xcopy_plugin_get_ready,
  .after_fork         = xcopy_plugin_after_fork,
  .cleanup            = xcopy_plugin_cleanup,
  .dump_plugin        = xcopy_plugin_dump_plugin,
  .unload             = xcopy_plugin_unload,
  .list_exports       = xcopy_plugin_list_exports,
  .default_export     = xcopy_plugin_default_export,
  .open               = xcopy_plugin_open,
  .close              = xcopy_plugin_close,
  .get_size           = xcopy_plugin_get_size,
  .block_size         = xcopy_plugin_block_size,
  .can_write          = xcopy_plugin_can_write,
  .can_flush          = xcopy_plugin_can_true,
  .can_trim           = xcopy_plugin_can_true,
  .can_zero           = xcopy_plugin_can_true,
  .can_fast_zero      = xcopy_plugin_can_true,
  .can_fua            = xcopy_plugin_can_fua,
  .can_multi_conn     = xcopy_plugin_can_true,
  .can_extents        = xcopy_plugin_can_extents,
  .can_cache          = xcopy_plugin_can_cache,
  .pread              = xcopy_plugin_pread,
  .pwrite             = xcopy_plugin_pwrite,
  .flush              = xcopy_plugin_flush,
  .trim               = xcopy_plugin_trim,
  .zero               = xcopy_plugin_zero,
  .extents            = xcopy_plugin_extents,
  .cache              = xcopy_plugin_cache,
  .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN (plugin)
