/* xcopyd: atomic whole-file clone (see clone.h for the steps and why). */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "clone.h"

/* A temporary file: unnamed (O_TMPFILE) until placed, or with a hidden
 * name in the directory that every failure path unlinks.
 */
struct tmp {
  int dirfd;
  int fd;
  bool named;                   /* name[] exists in the directory */
  char name[NAME_MAX + 1];
};

int
xcopy_clone_check_name (const char *name)
{
  if (name == NULL || name[0] == '\0' || strcmp (name, ".") == 0
      || strcmp (name, "..") == 0 || strchr (name, '/') != NULL)
    return -EINVAL;
  if (strlen (name) > NAME_MAX)
    return -ENAMETOOLONG;
  return 0;
}

/* ".NAME.xcopy-<64 random bits>": hidden, recognisably ours, unique. */
static void
hidden_name (const char *base, char out[NAME_MAX + 1])
{
  uint64_t rnd;

  if (getrandom (&rnd, sizeof rnd, GRND_NONBLOCK) != sizeof rnd) {
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    rnd = (uint64_t) t.tv_nsec * 0x9e3779b97f4a7c15u ^ (uint64_t) getpid ();
  }
  /* 1 + 200 + 7 + 16 bytes stays under NAME_MAX for any base. */
  snprintf (out, NAME_MAX + 1, ".%.200s.xcopy-%016" PRIx64, base, rnd);
}

/* Create the temporary file: O_TMPFILE, or a hidden name where the file
 * system cannot (or the caller asked).
 */
static int
tmp_open (struct tmp *t, const char *base, bool named)
{
  t->fd = -1;
  t->named = false;
  if (!named) {
    t->fd = openat (t->dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (t->fd >= 0)
      return 0;
    /* EISDIR: a kernel without O_TMPFILE took it for O_DIRECTORY. */
    if (errno != EOPNOTSUPP && errno != ENOTSUP && errno != EISDIR)
      return -errno;
  }
  for (int tries = 0; tries < 100; tries++) {
    hidden_name (base, t->name);
    t->fd = openat (t->dirfd, t->name,
                    O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (t->fd >= 0) {
      t->named = true;
      return 0;
    }
    if (errno != EEXIST)
      return -errno;
  }
  return -EEXIST;
}

/* Every failure path: the temporary file leaves no trace. */
static void
tmp_discard (struct tmp *t)
{
  if (t->named)
    unlinkat (t->dirfd, t->name, 0);
  t->named = false;
  if (t->fd >= 0)
    close (t->fd);
  t->fd = -1;
}

/* Give the unnamed file t->fd the name `name` (EEXIST if taken).
 * AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc/self/fd works for anyone
 * who opened the file.
 */
static int
link_unnamed (struct tmp *t, const char *name)
{
  char path[64];

  if (linkat (t->fd, "", t->dirfd, name, AT_EMPTY_PATH) == 0)
    return 0;
  if (errno != ENOENT && errno != EPERM)
    return -errno;
  snprintf (path, sizeof path, "/proc/self/fd/%d", t->fd);
  if (linkat (AT_FDCWD, path, t->dirfd, name, AT_SYMLINK_FOLLOW) == 0)
    return 0;
  return -errno;
}

/* Without REPLACE: the name appears in one step, or not at all. */
static int
place_new (struct tmp *t, const char *dst)
{
  if (!t->named)
    return link_unnamed (t, dst);
  if (renameat2 (t->dirfd, t->name, t->dirfd, dst, RENAME_NOREPLACE) == 0) {
    t->named = false;
    return 0;
  }
  if (errno != EINVAL && errno != ENOSYS)
    return -errno;
  /* No RENAME_NOREPLACE here: link (fails on an existing name), unlink. */
  if (linkat (t->dirfd, t->name, t->dirfd, dst, 0) == -1)
    return -errno;
  unlinkat (t->dirfd, t->name, 0);
  t->named = false;
  return 0;
}

/* With REPLACE: a hidden name first, then rename(2) over the target. */
static int
place_replace (struct tmp *t, const char *dst)
{
  int r = 0;

  for (int tries = 0; !t->named && tries < 100; tries++) {
    hidden_name (dst, t->name);
    r = link_unnamed (t, t->name);
    if (r == 0)
      t->named = true;
    else if (r != -EEXIST)
      return r;
  }
  if (!t->named)
    return r;
  if (renameat (t->dirfd, t->name, t->dirfd, dst) == -1)
    return -errno;
  t->named = false;
  return 0;
}

static int
sync_dir (int dirfd)
{
  int fd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int r = 0;

  if (fd == -1)
    return -errno;
  if (fsync (fd) == -1)
    r = -errno;
  close (fd);
  return r;
}

/* Steps 1-3 on an open temporary file. */
static int
fill (struct tmp *t, int src_fd, const struct stat *st, unsigned flags,
      struct xcopy_stats *stats, struct xcopy_ctl *ctl,
      struct xcopy_result *res)
{
  struct xcopy_pair p;
  const struct xcopy_range whole = { 0, 0, (uint64_t) st->st_size };
  mode_t mode = (flags & XCOPY_CLONE_SOURCE_MODE) ? st->st_mode & 0777 : 0600;
  int r;

  /* fchmod: exactly this mode, whatever the umask did to the open. */
  if (fchmod (t->fd, mode) == -1 || ftruncate (t->fd, st->st_size) == -1)
    return -errno;
  xcopy_pair_init (&p, src_fd, t->fd, stats);
  r = xcopy_copyv_ctl (&p, &whole, 1, flags & XCOPY_CLONE_COPY_FLAGS, ctl,
                       res);
  if (r < 0)
    return r;
  /* A job cancelled as the copy finished must not produce a file. */
  if (ctl && atomic_load (&ctl->cancel))
    return -ECANCELED;
  /* fsync, not fdatasync: the size must be durable before the name. */
  if (fsync (t->fd) == -1)
    return -errno;
  return 0;
}

/* The copy is done but the clone failed: say "range 0 failed with all
 * its bytes done", as the engine would.
 */
static void
failed_after_copy (struct xcopy_result *res)
{
  *res = (struct xcopy_result) { .bytes_done = res->bytes_done,
                                 .failed_done = res->bytes_done };
}

/* Refusals before anything is created. */
static int
check_args (int src_fd, int dirfd, const char *dst, unsigned flags,
            struct stat *st)
{
  struct stat dst_st;
  int r;

  if (flags & ~XCOPY_CLONE_VALID)
    return -EINVAL;
  if ((r = xcopy_clone_check_name (dst)) < 0)
    return r;
  if (fstat (src_fd, st) == -1)
    return -errno;
  if (!S_ISREG (st->st_mode))
    return -EINVAL;
  if (fstatat (dirfd, dst, &dst_st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!(flags & XCOPY_CLONE_REPLACE))
      return -EEXIST;
    if (S_ISDIR (dst_st.st_mode))
      return -EISDIR;
  }
  else if (errno != ENOENT)
    return -errno;
  return 0;
}

int
xcopy_clone (int src_fd, int dst_dirfd, const char *dst_name,
             unsigned flags, struct xcopy_stats *stats,
             struct xcopy_ctl *ctl, struct xcopy_result *res)
{
  struct xcopy_result local;
  struct tmp t = { .dirfd = dst_dirfd, .fd = -1 };
  struct stat st;
  int r;

  if (res == NULL)
    res = &local;
  *res = (struct xcopy_result) { .failed_index = SIZE_MAX };
  r = check_args (src_fd, dst_dirfd, dst_name, flags, &st);
  if (r == 0) {
    res->failed_index = 0;      /* past the refusals: range 0 failed */
    r = tmp_open (&t, dst_name, flags & XCOPY_CLONE_NAMED_TEMP);
  }
  if (r == 0) {
    r = fill (&t, src_fd, &st, flags, stats, ctl, res);
    if (r < 0 && res->ranges_done == 1)
      failed_after_copy (res);
  }
  if (r == 0) {
    r = (flags & XCOPY_CLONE_REPLACE) ? place_replace (&t, dst_name)
                                      : place_new (&t, dst_name);
    if (r < 0)
      failed_after_copy (res);
  }
  tmp_discard (&t);
  if (r == 0) {
    res->flags |= XCOPY_CLONE_RESULT_LINKED;
    r = sync_dir (dst_dirfd);
  }
  res->error = -r;
  return r;
}
