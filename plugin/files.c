/* xcopyd: nbdkit-xcopy-plugin, the per-file registry.
 *
 * NBD connections and control-socket operations reach an image through
 * one struct xfile per inode.  Sharing it is what makes PROTOCOL.md §9
 * hold: a COPY and an NBD write to the same file take locks in the same
 * table, and what the engine learns about the file (can it punch holes?
 * ZERO_RANGE?) is learnt once for every user.
 *
 * Each user still opens the file by name (so permissions, the dir= rules
 * and a replaced file are seen afresh) and then looks the inode up here.
 * A file is held open read-only, read-write, or both (a read-only NBD
 * connection to an image the process may not write); both descriptors
 * stay until the last reference goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "plugin.h"

/* Engine capability bits of a cross-file pair, keyed by destination. */
struct xfile_caps {
  struct xfile_caps *next;
  dev_t dev;
  ino_t ino;
  _Atomic unsigned caps;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xfile *registry;
static int file_dirfd = -1;     /* file= mode: the file's directory */

/* st_blksize when it is a power of two reflink alignment can use. */
static uint32_t
sane_blksize (const struct stat *st)
{
  if (st->st_blksize < 512 || st->st_blksize > (1 << 30) ||
      (st->st_blksize & (st->st_blksize - 1)) != 0)
    return 0;
  return st->st_blksize;
}

/* Open name in the current mode (dir= or file=): fd or -errno + msg. */
static int
open_name (const char *name, bool write, char msg[XMSG_SIZE])
{
  /* O_NONBLOCK: never hang opening a FIFO that replaced the image; it
   * means nothing for regular files and is dropped after the open.
   */
  int flags = (write ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY |
    O_NONBLOCK;
  char def[NAME_MAX + 1];
  int fd, fl;

  if (exports_dir () != NULL && name[0] == '\0') {
    if (exports_default_name (def) < 0) {
      snprintf (msg, XMSG_SIZE, "no export given and no default export"
                " (dir=%s holds no regular file)", exports_dir ());
      return -ENOENT;
    }
    name = def;
  }
  if (exports_dir () != NULL)
    fd = exports_open (name, flags, msg);
  else if ((fd = open (xcopy_filename (), flags)) == -1) {
    fd = -errno;
    snprintf (msg, XMSG_SIZE, "%s: open: %s", xcopy_filename (),
              strerror (errno));
  }
  if (fd >= 0 && (fl = fcntl (fd, F_GETFL)) != -1)
    fcntl (fd, F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

static struct xfile *
lookup (dev_t dev, ino_t ino)
{
  struct xfile *f;

  for (f = registry; f != NULL; f = f->next) {
    if (f->dev == dev && f->ino == ino)
      return f;
  }
  return NULL;
}

/* A new entry for fd (already checked to be a regular file). */
static struct xfile *
new_entry (int fd, bool write, const struct stat *st)
{
  struct xfile *f = calloc (1, sizeof *f);

  if (f == NULL)
    return NULL;
  if (rangelock_init (&f->locks) != 0) {
    free (f);
    return NULL;
  }
  f->dev = st->st_dev;
  f->ino = st->st_ino;
  atomic_init (&f->fd_ro, write ? -1 : fd);
  atomic_init (&f->fd_rw, write ? fd : -1);
  f->blksize = sane_blksize (st);
  f->can_extents = lseek (fd, 0, SEEK_DATA) >= 0 || errno == ENXIO;
  xcopy_pair_init (&f->pair, write ? fd : -1, write ? fd : -1,
                   &xcopy_plugin_stats);
  return f;
}

/* Take a reference to fd's entry, making one if needed.  fd is kept in
 * the entry or closed.
 */
static int
register_fd (int fd, bool write, const struct stat *st, struct xfile **fp)
{
  struct xfile *f;

  pthread_mutex_lock (&registry_lock);
  f = lookup (st->st_dev, st->st_ino);
  if (f == NULL && (f = new_entry (fd, write, st)) != NULL) {
    f->next = registry;
    registry = f;
    fd = -1;
  }
  else if (f != NULL && write && atomic_load (&f->fd_rw) == -1) {
    /* First writer: the pair starts using this descriptor. */
    f->pair.src_fd = f->pair.dst_fd = fd;
    atomic_store (&f->fd_rw, fd);
    fd = -1;
  }
  if (f != NULL)
    f->refs++;
  pthread_mutex_unlock (&registry_lock);
  if (fd >= 0)
    close (fd);
  *fp = f;
  return f ? 0 : -ENOMEM;
}

int
files_open (const char *name, bool write, struct xfile **fp,
            char msg[XMSG_SIZE])
{
  struct stat st;
  int fd, r;

  fd = open_name (name, write, msg);
  if (fd < 0)
    return fd;
  /* Refuse anything whose size cannot be trusted (FIELD-NOTES). */
  r = fstat (fd, &st) == -1 ? -errno : S_ISREG (st.st_mode) ? 0 : -EINVAL;
  if (r < 0) {
    snprintf (msg, XMSG_SIZE, "export '%s': %s", name,
              r == -EINVAL ? "not a regular file" : strerror (-r));
    close (fd);
    return r;
  }
  r = register_fd (fd, write, &st, fp);
  if (r < 0)
    snprintf (msg, XMSG_SIZE, "export '%s': out of memory", name);
  return r;
}

static void
free_entry (struct xfile *f)
{
  struct xfile_caps *c;
  int fd;

  while ((c = f->caps) != NULL) {
    f->caps = c->next;
    free (c);
  }
  if (rangelock_destroy (&f->locks) != 0)
    nbdkit_error ("xcopy: internal error: range locks still held at close");
  if ((fd = atomic_load (&f->fd_ro)) >= 0)
    close (fd);
  if ((fd = atomic_load (&f->fd_rw)) >= 0)
    close (fd);
  free (f);
}

void
files_put (struct xfile *f)
{
  struct xfile **pp;
  bool last;

  if (f == NULL)
    return;
  pthread_mutex_lock (&registry_lock);
  last = --f->refs == 0;
  if (last) {
    for (pp = &registry; *pp != f; pp = &(*pp)->next)
      ;
    *pp = f->next;
  }
  pthread_mutex_unlock (&registry_lock);
  if (last)
    free_entry (f);
}

int
files_fd (struct xfile *f)
{
  int fd = atomic_load (&f->fd_rw);

  return fd >= 0 ? fd : atomic_load (&f->fd_ro);
}

_Atomic unsigned *
files_pair_caps (struct xfile *src, struct xfile *dst)
{
  struct xfile_caps *c;

  pthread_mutex_lock (&registry_lock);
  for (c = src->caps; c != NULL; c = c->next) {
    if (c->dev == dst->dev && c->ino == dst->ino)
      break;
  }
  if (c == NULL && (c = calloc (1, sizeof *c)) != NULL) {
    c->dev = dst->dev;
    c->ino = dst->ino;
    atomic_init (&c->caps, XCOPY_CAP_ALL);
    c->next = src->caps;
    src->caps = c;
  }
  pthread_mutex_unlock (&registry_lock);
  return c ? &c->caps : NULL;
}

int
files_size (struct xfile *f, uint64_t *size)
{
  struct stat st;

  if (fstat (files_fd (f), &st) == -1)
    return -errno;
  *size = st.st_size;
  return 0;
}

int
files_next_extent (int fd, uint64_t off, uint64_t end, bool *hole,
                   uint64_t *next)
{
  off_t pos = lseek (fd, off, SEEK_DATA);

  if (pos == -1 && errno == ENXIO) {
    *hole = true;               /* no data after off */
    *next = end;
    return 0;
  }
  if (pos == -1)
    return -errno;
  if ((uint64_t) pos > off) {
    *hole = true;
    *next = pos;
    return 0;
  }
  *hole = false;
  pos = lseek (fd, off, SEEK_HOLE);
  if (pos == -1 && errno != ENXIO)
    return -errno;
  /* ENXIO: truncated under us; leave it to the reader. */
  *next = pos == -1 ? end : (uint64_t) pos;
  return 0;
}

int
files_entry_name (const char *name, char *out, char msg[XMSG_SIZE])
{
  const char *base;

  if (exports_dir () == NULL) {
    base = strrchr (xcopy_filename (), '/');
    snprintf (out, NAME_MAX + 1, "%s", base ? base + 1 : xcopy_filename ());
    return 0;
  }
  if (name[0] != '\0') {
    snprintf (out, NAME_MAX + 1, "%s", name);
    return 0;
  }
  if (exports_default_name (out) == 0)
    return 0;
  snprintf (msg, XMSG_SIZE, "no export given and no default export"
            " (dir=%s holds no regular file)", exports_dir ());
  return -ENOENT;
}

int
files_dirfd (void)
{
  return exports_dir () ? exports_dirfd () : file_dirfd;
}

/* file= mode: CLONE creates its files next to the image. */
int
files_get_ready (void)
{
  char *copy, *slash;

  if (xcopy_filename () == NULL)
    return 0;
  copy = strdup (xcopy_filename ());
  if (copy == NULL) {
    nbdkit_error ("strdup: %m");
    return -1;
  }
  slash = strrchr (copy, '/');
  if (slash != NULL)
    slash[slash == copy ? 1 : 0] = '\0';
  file_dirfd = open (slash ? copy : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (file_dirfd == -1)
    nbdkit_error ("%s: open: %m", copy);
  free (copy);
  return file_dirfd == -1 ? -1 : 0;
}

void
files_unload (void)
{
  if (file_dirfd >= 0)
    close (file_dirfd);
  file_dirfd = -1;
}
