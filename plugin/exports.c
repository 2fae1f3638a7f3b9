/* xcopyd: nbdkit-xcopy-plugin, dir= mode.
 *
 * Every regular file directly inside DIR is an export named by its file
 * name.  Symbolic links, directories, devices and sockets are not exports,
 * and an export name can never leave DIR: names containing '/' and the
 * names "." and ".." are refused, and files are opened relative to a
 * directory descriptor taken once at startup, with O_NOFOLLOW.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "plugin.h"

static char *dir;               /* dir= parameter, made absolute */
static int dir_fd = -1;         /* opened in .get_ready, before nbdkit forks */

int
exports_config_dir (const char *value)
{
  if (dir != NULL) {
    nbdkit_error ("dir= given more than once");
    errno = EINVAL;
    return -1;
  }
  dir = nbdkit_realpath (value);
  return dir ? 0 : -1;
}

const char *
exports_dir (void)
{
  return dir;
}

int
exports_dirfd (void)
{
  return dir_fd;
}

int
exports_config_complete (void)
{
  struct stat st;

  if (stat (dir, &st) == -1) {
    nbdkit_error ("dir=%s: %m", dir);
    return -1;
  }
  if (!S_ISDIR (st.st_mode)) {
    nbdkit_error ("dir=%s: not a directory", dir);
    errno = ENOTDIR;
    return -1;
  }
  return 0;
}

int
exports_get_ready (void)
{
  dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd == -1) {
    nbdkit_error ("dir=%s: open: %m", dir);
    return -1;
  }
  return 0;
}

void
exports_unload (void)
{
  if (dir_fd >= 0)
    close (dir_fd);
  dir_fd = -1;
  free (dir);
  dir = NULL;
}

/* A name that stays inside DIR; the reason it does not, or NULL. */
static const char *
bad_name (const char *name)
{
  if (name[0] == '\0')
    return "empty";
  if (strchr (name, '/') != NULL)
    return "contains '/'";
  if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
    return "is a directory reference";
  if (strlen (name) > NAME_MAX)
    return "too long";
  return NULL;
}

/* Is NAME a regular file in DIR (without following symlinks)? */
static bool
is_export (const char *name)
{
  struct stat st;

  return bad_name (name) == NULL &&
    fstatat (dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
    S_ISREG (st.st_mode);
}

/* Names compare as bytes, whatever the locale (alphasort uses strcoll). */
static int
byte_order (const struct dirent **a, const struct dirent **b)
{
  return strcmp ((*a)->d_name, (*b)->d_name);
}

/* Sorted directory entries, or -1 after nbdkit_error. */
static int
scan (struct dirent ***names)
{
  int n = scandirat (dir_fd, ".", names, NULL, byte_order);

  if (n == -1)
    nbdkit_error ("dir=%s: scandir: %m", dir);
  return n;
}

static void
free_names (struct dirent **names, int n)
{
  int i;

  for (i = 0; i < n; i++)
    free (names[i]);
  free (names);
}

int
exports_list (struct nbdkit_exports *exports)
{
  struct dirent **names;
  int i, n, r = 0;

  n = scan (&names);
  if (n == -1)
    return -1;
  for (i = 0; i < n && r == 0; i++) {
    if (is_export (names[i]->d_name))
      r = nbdkit_add_export (exports, names[i]->d_name, NULL);
  }
  free_names (names, n);
  return r;
}

/* The first export in sorted order, so the choice is stable.  -ENOENT
 * (no default export; clients must name one) when DIR holds no regular
 * file.
 */
int
exports_default_name (char *out)
{
  struct dirent **names;
  int i, n, r = -ENOENT;

  n = scandirat (dir_fd, ".", &names, NULL, byte_order);
  if (n == -1)
    return -errno;
  for (i = 0; i < n && r != 0; i++) {
    if (is_export (names[i]->d_name)) {
      snprintf (out, NAME_MAX + 1, "%s", names[i]->d_name);
      r = 0;
    }
  }
  free_names (names, n);
  return r;
}

const char *
exports_default (void)
{
  char name[NAME_MAX + 1];

  if (exports_default_name (name) < 0) {
    nbdkit_debug ("dir=%s: no regular files, so no default export", dir);
    return NULL;
  }
  return nbdkit_strdup_intern (name);
}

/* Every export, in byte order (PROTOCOL.md §6.3), for the control socket. */
int
exports_names (char ***out, size_t *count)
{
  struct dirent **names;
  char **v;
  size_t k = 0;
  int i, n;

  n = scandirat (dir_fd, ".", &names, NULL, byte_order);
  if (n == -1)
    return -errno;
  v = calloc (n + 1, sizeof *v);
  for (i = 0; v != NULL && i < n; i++) {
    if (is_export (names[i]->d_name) &&
        (v[k++] = strdup (names[i]->d_name)) == NULL) {
      while (k > 0)
        free (v[--k]);
      free (v);
      v = NULL;
    }
  }
  free_names (names, n);
  if (v == NULL)
    return -ENOMEM;
  *out = v;
  *count = k;
  return 0;
}

/* Open export NAME with open(2) FLAGS.  Returns the fd, or -errno with
 * MSG saying why.  The caller checks again with fstat that it got a
 * regular file (the directory may change between the two looks).
 */
int
exports_open (const char *name, int flags, char msg[XMSG_SIZE])
{
  const char *why = bad_name (name);
  int fd;

  if (why != NULL) {
    snprintf (msg, XMSG_SIZE, "export name '%s': %s", name, why);
    return -EINVAL;
  }
  /* Look before opening: opening a FIFO or device can block or have
   * side effects.
   */
  if (!is_export (name)) {
    snprintf (msg, XMSG_SIZE, "no export '%s' (no such regular file in %s)",
              name, dir);
    return -ENOENT;
  }
  fd = openat (dir_fd, name, flags | O_NOFOLLOW);
  if (fd == -1) {
    int err = errno;

    snprintf (msg, XMSG_SIZE, "%s/%s: open: %s", dir, name, strerror (err));
    return -err;
  }
  return fd;
}
