/* xcopyd: atomic clone tests — content, holes, refusals, atomic replace,
 * injected failures and kills leaving no partial destination and no stray
 * files.
 *
 * Each case works in a fresh directory under the scratch directory and
 * compares its whole listing, so a leftover temporary file fails the case.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"
#include "clone.h"

/* ---- A scratch directory per case ---- */

static char dir[4096];
static int dirfd_ = -1;

static void
dir_rm (void)
{
  DIR *d;
  struct dirent *e;

  if (dirfd_ >= 0)
    close (dirfd_);
  dirfd_ = -1;
  if (!dir[0] || (d = opendir (dir)) == NULL)
    return;
  while ((e = readdir (d)) != NULL)
    if (strcmp (e->d_name, ".") && strcmp (e->d_name, "..")
        && unlinkat (dirfd (d), e->d_name, 0) == -1)
      unlinkat (dirfd (d), e->d_name, AT_REMOVEDIR);
  closedir (d);
  rmdir (dir);
  dir[0] = '\0';
}

static int
dir_new (void)
{
  dir_rm ();
  snprintf (dir, sizeof dir, "%s/xcopy-clone.XXXXXX", h_dir ());
  if (mkdtemp (dir) == NULL) {
    h_fail (__FILE__, __LINE__, "mkdtemp %s: %m", dir);
    h_abort_case ();
  }
  dirfd_ = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  SYS_OK (dirfd_);
  return dirfd_;
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The directory's entries, sorted, space-separated. */
static void
listing (char *out, size_t size)
{
  char *names[64];
  size_t n = 0, o = 0;
  DIR *d = opendir (dir);
  struct dirent *e;

  REQUIRE (d != NULL);
  while ((e = readdir (d)) != NULL && n < 64)
    if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
      names[n++] = strdup (e->d_name);
  closedir (d);
  qsort (names, n, sizeof *names, cmp_str);
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    o += snprintf (out + o, o < size ? size - o : 0, "%s%s", i ? " " : "",
                   names[i]);
    free (names[i]);
  }
}

#define CHECK_LISTING(want)                                             \
  do {                                                                  \
    char got_[4096];                                                    \
    listing (got_, sizeof got_);                                        \
    if (strcmp (got_, (want)) != 0)                                     \
      h_fail (__FILE__, __LINE__, "directory holds \"%s\", want \"%s\"", \
              got_, (want));                                            \
  } while (0)

/* A file `name` in the case directory holding data[0, len); returns an
 * open read-write descriptor.
 */
static int
make_file (const char *name, const void *data, uint64_t len)
{
  int fd = openat (dirfd_, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

  SYS_OK (fd);
  SYS_OK (ftruncate (fd, (off_t) len));
  if (len && data)
    h_pwrite_all (fd, data, len, 0);
  return fd;
}

static int
open_name (const char *name)
{
  int fd = openat (dirfd_, name, O_RDONLY | O_CLOEXEC);

  SYS_OK (fd);
  return fd;
}

static bool
exists (const char *name)
{
  struct stat st;

  return fstatat (dirfd_, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* xcopy_clone into the case directory, no counters, no job control. */
static int
clone_in (int src, const char *name, unsigned flags, struct xcopy_result *res)
{
  return xcopy_clone (src, dirfd_, name, flags, NULL, NULL, res);
}

static void
check_clone_ok (int r, const struct xcopy_result *res, uint64_t size)
{
  CHECK_OK (r, res, 1, size);
  CHECK (res->flags & XCOPY_CLONE_RESULT_LINKED);
}

/* ---- Cases ---- */

static void
content_equal (void)
{
  static const unsigned variants[] = {
    0, XCOPY_F_FORCE_CFR, XCOPY_F_FORCE_SPLICE, XCOPY_F_FORCE_BOUNCE,
    XCOPY_CLONE_NAMED_TEMP,
  };
  const uint64_t size = 3 * MiB + 123;
  unsigned char *data = h_random (size, 1);
  struct xcopy_stats stats = { 0 };
  struct xcopy_result res;
  struct stat st;

  dir_new ();
  int src = make_file ("src", data, size);
  for (size_t i = 0; i < ARRAY_SIZE (variants); i++) {
    char name[32];
    snprintf (name, sizeof name, "dst%zu", i);
    h_result_poison (&res);
    check_clone_ok (xcopy_clone (src, dirfd_, name, variants[i], &stats,
                                 NULL, &res), &res, size);
    int d = open_name (name);
    CHECK_FILE (d, data, size);
    SYS_OK (fstat (d, &st));
    CHECK_INT (st.st_mode & 07777, ==, 0600);
    h_close (d);
  }
  CHECK_LISTING ("dst0 dst1 dst2 dst3 dst4 src");
  CHECK_U64 (h_bytes_copied (&stats), ==, ARRAY_SIZE (variants) * size);
  CHECK_U64 (h_bytes (&stats, XCOPY_M_BOUNCE), >=, size);
  h_close (src);
  free (data);
  dir_rm ();
}

static void
source_mode_and_empty (void)
{
  struct xcopy_result res;
  struct stat st;

  dir_new ();
  int src = make_file ("src", NULL, 0);
  SYS_OK (fchmod (src, 0751));
  check_clone_ok (clone_in (src, "dst", XCOPY_CLONE_SOURCE_MODE, &res),
                  &res, 0);
  SYS_OK (fstatat (dirfd_, "dst", &st, 0));
  CHECK_INT (st.st_mode & 07777, ==, 0751);
  CHECK_U64 (st.st_size, ==, 0);
  CHECK_INT (clone_in (src, "dst2", 0, NULL), ==, 0);
  h_close (src);
  dir_rm ();
}

static void
sparseness_kept (void)
{
  const uint64_t size = 16 * MiB;
  unsigned char *data = h_calloc (size);
  struct xcopy_result res;

  if (!h_holes_work ())
    h_skip ("the scratch file system does not report holes");
  dir_new ();
  h_fill_random (data + 1 * MiB, 1 * MiB, 2);
  h_fill_random (data + 8 * MiB, 4 * KiB, 3);
  h_fill_random (data + size - 64 * KiB, 64 * KiB, 4);
  int src = make_file ("src", NULL, size);
  h_pwrite_all (src, data + 1 * MiB, 1 * MiB, 1 * MiB);
  h_pwrite_all (src, data + 8 * MiB, 4 * KiB, 8 * MiB);
  h_pwrite_all (src, data + size - 64 * KiB, 64 * KiB, size - 64 * KiB);
  SYS_OK (fsync (src));
  check_clone_ok (clone_in (src, "dst", 0, &res), &res, size);
  int d = open_name ("dst");
  CHECK_FILE (d, data, size);
  CHECK (h_is_hole (d, 0, 1 * MiB));
  CHECK (h_is_data (d, 1 * MiB, 1 * MiB));
  CHECK (h_is_hole (d, 2 * MiB, 6 * MiB));
  CHECK (h_is_hole (d, 9 * MiB, 6 * MiB));
  CHECK_U64 (h_allocated (d), <=, h_allocated (src) + 64 * KiB);
  CHECK_U64 (h_allocated (d), <, 2 * MiB);
  h_close (d);
  h_close (src);
  free (data);
  dir_rm ();
}

static void
exists_refused (void)
{
  unsigned char *old = h_random (64 * KiB, 5), *new = h_random (1 * MiB, 6);
  struct xcopy_result res;
  struct stat before, after;

  dir_new ();
  int src = make_file ("src", new, 1 * MiB);
  h_close (make_file ("dst", old, 64 * KiB));
  SYS_OK (symlinkat ("src", dirfd_, "link"));
  SYS_OK (fstatat (dirfd_, "dst", &before, 0));
  h_result_poison (&res);
  CHECK_REFUSED (clone_in (src, "dst", 0, &res), &res,
                 EEXIST, SIZE_MAX);
  CHECK_REFUSED (clone_in (src, "link", 0, &res), &res,
                 EEXIST, SIZE_MAX);
  SYS_OK (fstatat (dirfd_, "dst", &after, 0));
  CHECK_U64 (after.st_ino, ==, before.st_ino);
  int d = open_name ("dst");
  CHECK_FILE (d, old, 64 * KiB);
  h_close (d);
  CHECK_LISTING ("dst link src");
  /* A directory is never replaced. */
  SYS_OK (mkdirat (dirfd_, "sub", 0700));
  CHECK_REFUSED (clone_in (src, "sub", XCOPY_CLONE_REPLACE, &res), &res,
                 EISDIR, SIZE_MAX);
  CHECK_LISTING ("dst link src sub");
  h_close (src);
  free (old);
  free (new);
  dir_rm ();
}

/* REPLACE swaps in one step: a reader holding the old file keeps reading
 * old bytes, the name gives the new ones.
 */
static void
replace_atomic (void)
{
  unsigned char *old = h_random (2 * MiB, 7), *new = h_random (3 * MiB, 8);
  struct xcopy_result res;
  struct stat before, after;

  dir_new ();
  int src = make_file ("src", new, 3 * MiB);
  for (int named = 0; named < 2; named++) {
    unsigned fl = XCOPY_CLONE_REPLACE | (named ? XCOPY_CLONE_NAMED_TEMP : 0);
    h_close (make_file ("dst", old, 2 * MiB));
    int reader = open_name ("dst");
    SYS_OK (fstat (reader, &before));
    check_clone_ok (clone_in (src, "dst", fl, &res), &res,
                    3 * MiB);
    CHECK_FILE (reader, old, 2 * MiB);
    int d = open_name ("dst");
    SYS_OK (fstat (d, &after));
    CHECK (after.st_ino != before.st_ino);
    CHECK_FILE (d, new, 3 * MiB);
    h_close (d);
    h_close (reader);
    CHECK_LISTING ("dst src");
    SYS_OK (unlinkat (dirfd_, "dst", 0));
  }
  /* REPLACE where nothing exists yet: a plain clone. */
  check_clone_ok (clone_in (src, "dst", XCOPY_CLONE_REPLACE, &res), &res,
                  3 * MiB);
  CHECK_LISTING ("dst src");
  h_close (src);
  free (old);
  free (new);
  dir_rm ();
}

/* A reader that keeps opening the name while REPLACE clones run: it must
 * always find a whole file, old or new, never nothing.
 */
struct watcher {
  atomic_bool stop;
  atomic_ulong opens, missing, partial;
};

static void *
watch_main (void *arg)
{
  struct watcher *w = arg;
  char buf[8];

  while (!atomic_load (&w->stop)) {
    int fd = openat (dirfd_, "dst", O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
      atomic_fetch_add (&w->missing, 1);
      continue;
    }
    if (pread (fd, buf, sizeof buf, 0) != 4 || memcmp (buf, "old", 3) != 0)
      atomic_fetch_add (&w->partial, 1);
    close (fd);
    atomic_fetch_add (&w->opens, 1);
  }
  return NULL;
}

static void
replace_never_absent (void)
{
  struct watcher w = { 0 };
  pthread_t t;
  char a[4] = "old1", b[4] = "old2";

  dir_new ();
  int s1 = make_file ("s1", a, 4), s2 = make_file ("s2", b, 4);
  h_close (make_file ("dst", a, 4));
  REQUIRE_INT (pthread_create (&t, NULL, watch_main, &w), ==, 0);
  for (int i = 0; i < 300; i++)
    CHECK_INT (clone_in (i % 2 ? s1 : s2, "dst", XCOPY_CLONE_REPLACE
                         | (i % 4 < 2 ? XCOPY_CLONE_NAMED_TEMP : 0), NULL),
               ==, 0);
  atomic_store (&w.stop, true);
  pthread_join (t, NULL);
  unsigned long opens = atomic_load (&w.opens);
  unsigned long missing = atomic_load (&w.missing);
  unsigned long partial = atomic_load (&w.partial);
  h_note ("%lu opens during 300 replacements", opens);
  CHECK_U64 (missing, ==, 0);
  CHECK_U64 (partial, ==, 0);
  CHECK_LISTING ("dst s1 s2");
  h_close (s1);
  h_close (s2);
  dir_rm ();
}

static void
bad_names_and_flags (void)
{
  static const char *bad[] = { "", ".", "..", "a/b", "/abs", "x/", "../up" };
  char longname[NAME_MAX + 2];
  struct xcopy_result res;
  int pipefd[2];

  dir_new ();
  int src = make_file ("src", "abc", 3);
  for (size_t i = 0; i < ARRAY_SIZE (bad); i++) {
    h_result_poison (&res);
    CHECK_REFUSED (clone_in (src, bad[i], 0, &res), &res,
                   EINVAL, SIZE_MAX);
  }
  CHECK_INT (clone_in (src, NULL, 0, NULL), ==, -EINVAL);
  memset (longname, 'a', sizeof longname - 1);
  longname[NAME_MAX + 1] = '\0';
  CHECK_REFUSED (clone_in (src, longname, 0, &res), &res,
                 ENAMETOOLONG, SIZE_MAX);
  CHECK_REFUSED (clone_in (src, "ok", 1u << 30, &res), &res,
                 EINVAL, SIZE_MAX);
  CHECK_REFUSED (clone_in (src, "ok", XCOPY_F_SYNC, &res),
                 &res, EINVAL, SIZE_MAX);
  SYS_OK (pipe (pipefd));
  CHECK_REFUSED (clone_in (pipefd[0], "ok", 0, &res), &res,
                 EINVAL, SIZE_MAX);
  CHECK_REFUSED (clone_in (dirfd_, "ok", 0, &res), &res,
                 EINVAL, SIZE_MAX);
  close (pipefd[0]);
  close (pipefd[1]);
  CHECK_LISTING ("src");
  /* The longest allowed name works, even with a hidden temporary name. */
  longname[NAME_MAX] = '\0';
  CHECK_INT (clone_in (src, longname, XCOPY_CLONE_NAMED_TEMP, NULL), ==, 0);
  CHECK_INT (clone_in (src, longname, XCOPY_CLONE_REPLACE, NULL), ==, 0);
  CHECK (exists (longname));
  h_close (src);
  dir_rm ();
}

/* ENOSPC in the middle of the copy: no destination, no leftovers; with
 * REPLACE the old file stays.
 */
static void
enospc_mid_copy (void)
{
  static const unsigned variants[] = {
    0, XCOPY_CLONE_NAMED_TEMP, XCOPY_F_FORCE_CFR, XCOPY_F_FORCE_BOUNCE,
    XCOPY_F_FORCE_BOUNCE | XCOPY_CLONE_NAMED_TEMP,
  };
  const uint64_t size = 4 * MiB;
  unsigned char *data = h_random (size, 9), *old = h_random (4 * KiB, 10);
  struct xcopy_result res;

  dir_new ();
  int src = make_file ("src", data, size);
  for (size_t i = 0; i < ARRAY_SIZE (variants); i++) {
    h_inject_reset ();
    h_write_budget (1 * MiB + 512, ENOSPC);
    h_result_poison (&res);
    CHECK_INT (clone_in (src, "dst", variants[i], &res),
               ==, -ENOSPC);
    CHECK_INT (res.error, ==, ENOSPC);
    CHECK_U64 (res.failed_index, ==, 0);
    CHECK_U64 (res.ranges_done, ==, 0);
    /* Exact progress: what reached the file (a reflink crossing the
     * budget fails whole, so that can be nothing).
     */
    CHECK_U64 (res.failed_done, ==, h_written ());
    CHECK_U64 (res.failed_done, <=, 1 * MiB + 512);
    if (variants[i] & XCOPY_F_NO_REFLINK)
      CHECK_U64 (res.failed_done, ==, 1 * MiB + 512);
    CHECK (!(res.flags & XCOPY_CLONE_RESULT_LINKED));
    CHECK_LISTING ("src");
    /* The same with a file to replace: it stays as it was. */
    h_close (make_file ("dst", old, 4 * KiB));
    h_inject_reset ();
    h_write_budget (2 * MiB, ENOSPC);
    CHECK_INT (clone_in (src, "dst", variants[i] | XCOPY_CLONE_REPLACE, &res),
               ==, -ENOSPC);
    int d = open_name ("dst");
    CHECK_FILE (d, old, 4 * KiB);
    h_close (d);
    CHECK_LISTING ("dst src");
    SYS_OK (unlinkat (dirfd_, "dst", 0));
  }
  h_close (src);
  free (data);
  free (old);
  dir_rm ();
}

/* Someone else creates the name while the copy runs: EEXIST, their file
 * stays, our copy vanishes.
 */
static bool raced;

static ssize_t
racing_pwrite (int fd, const void *buf, size_t count, off_t off)
{
  if (!raced) {
    raced = true;
    close (make_file ("dst", "theirs", 6));
  }
  return pwrite (fd, buf, count, off);
}

static void
name_appears_during_copy (void)
{
  const uint64_t size = 2 * MiB;
  unsigned char *data = h_random (size, 11);
  struct xcopy_result res;

  dir_new ();
  int src = make_file ("src", data, size);
  for (int named = 0; named < 2; named++) {
    raced = false;
    h_next.pwrite = racing_pwrite;
    CHECK_INT (clone_in (src, "dst", XCOPY_F_FORCE_BOUNCE
                         | (named ? XCOPY_CLONE_NAMED_TEMP : 0), &res),
               ==, -EEXIST);
    CHECK (raced);
    CHECK_U64 (res.failed_index, ==, 0);
    CHECK_U64 (res.failed_done, ==, size);
    int d = open_name ("dst");
    CHECK_FILE (d, (const unsigned char *) "theirs", 6);
    h_close (d);
    CHECK_LISTING ("dst src");
    SYS_OK (unlinkat (dirfd_, "dst", 0));
  }
  h_close (src);
  free (data);
  dir_rm ();
}

/* Cancel through the job control: nothing appears, nothing is left. */
static struct xcopy_ctl *cancel_ctl;

static ssize_t
cancelling_pwrite (int fd, const void *buf, size_t count, off_t off)
{
  atomic_store (&cancel_ctl->cancel, true);
  return pwrite (fd, buf, count, off);
}

static void
cancel_and_progress (void)
{
  const uint64_t size = 8 * MiB;
  unsigned char *data = h_calloc (size);
  struct xcopy_ctl ctl = { 0 };
  struct xcopy_result res;

  dir_new ();
  h_fill_random (data, 1 * MiB, 14);
  h_fill_random (data + 4 * MiB, 1 * MiB, 15);
  int src = make_file ("src", data, size);
  /* Watched to the end: progress reaches the size. */
  check_clone_ok (xcopy_clone (src, dirfd_, "dst", 0, NULL, &ctl, &res),
                  &res, size);
  CHECK_U64 (atomic_load (&ctl.bytes_done), ==, size);
  SYS_OK (unlinkat (dirfd_, "dst", 0));
  /* Cancelled before it starts, and during the copy (the first write). */
  for (int during = 0; during < 2; during++) {
    unsigned fl = XCOPY_F_FORCE_BOUNCE
      | (during ? XCOPY_CLONE_NAMED_TEMP : 0);
    ctl = (struct xcopy_ctl) { 0 };
    atomic_store (&ctl.cancel, !during);
    cancel_ctl = &ctl;
    h_next.pwrite = cancelling_pwrite;
    CHECK_INT (xcopy_clone (src, dirfd_, "dst", fl, NULL, &ctl, &res),
               ==, -ECANCELED);
    CHECK_U64 (res.failed_index, ==, 0);
    CHECK (!(res.flags & XCOPY_CLONE_RESULT_LINKED));
    CHECK_LISTING ("src");
  }
  h_close (src);
  free (data);
  dir_rm ();
}

/* ---- Killed mid-clone ---- */

static ssize_t
slow_pwrite (int fd, const void *buf, size_t count, off_t off)
{
  usleep (2000);
  return pwrite (fd, buf, count, off);
}

/* Child: clone slowly (2 ms per MiB), then exit. */
static void
clone_child (int src, unsigned flags)
{
  xcopy_sys_reset ();
  xcopy_sys.pwrite = slow_pwrite;
  _exit (clone_in (src, "dst", flags | XCOPY_F_FORCE_BOUNCE, NULL) ? 1 : 0);
}

/* After a kill: the name is absent, or (REPLACE) the old file, or the
 * whole new file.  Returns 0 absent, 1 old, 2 new.
 */
static int
after_kill (const unsigned char *data, uint64_t size,
            const unsigned char *old, uint64_t old_size)
{
  uint64_t len;
  unsigned char *got;
  int fd, what = -1;

  if (!exists ("dst"))
    return 0;
  fd = open_name ("dst");
  got = h_read_file (fd, &len);
  h_close (fd);
  if (old && len == old_size && memcmp (got, old, len) == 0)
    what = 1;
  else if (len == size && memcmp (got, data, len) == 0)
    what = 2;
  else
    h_fail (__FILE__, __LINE__, "partial destination: %ju bytes",
            (uintmax_t) len);
  free (got);
  return what;
}

/* Named temporaries may survive a kill (documented); nothing else may.
 * Listings sort ".dst.xcopy-*" before "dst" before "src".
 */
static void
check_leftovers (unsigned flags, bool have_dst)
{
  char got[4096], *p = got;

  listing (got, sizeof got);
  if (flags & XCOPY_CLONE_NAMED_TEMP)
    while (strncmp (p, ".dst.xcopy-", 11) == 0 && strchr (p, ' '))
      p = strchr (p, ' ') + 1;
  if (strcmp (p, have_dst ? "dst src" : "src") != 0)
    h_fail (__FILE__, __LINE__, "unexpected files: \"%s\"", got);
}

static void
clear_but_src (void)
{
  DIR *d = opendir (dir);
  struct dirent *e;

  REQUIRE (d != NULL);
  while ((e = readdir (d)) != NULL)
    if (strcmp (e->d_name, ".") && strcmp (e->d_name, "..")
        && strcmp (e->d_name, "src"))
      SYS_OK (unlinkat (dirfd (d), e->d_name, 0));
  closedir (d);
}

static int64_t
now_us (void)
{
  struct timespec t;

  clock_gettime (CLOCK_MONOTONIC, &t);
  return (int64_t) t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* Run one clone in a child; kill it after kill_us (< 0: let it finish).
 * Returns how long it ran, in microseconds.
 */
static int64_t
run_child (int src, unsigned flags, int64_t kill_us)
{
  int64_t t0 = now_us ();
  int status;
  pid_t pid = fork ();

  SYS_OK (pid);
  if (pid == 0)
    clone_child (src, flags);
  if (kill_us >= 0) {
    usleep ((useconds_t) kill_us);
    kill (pid, SIGKILL);
  }
  SYS_OK (waitpid (pid, &status, 0));
  if (kill_us < 0)
    CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  return now_us () - t0;
}

/* kill -9 at random moments of a clone (copy, fsync, link, rename): the
 * name is then absent, the old file, or the complete new one.
 */
static void
kill_mid_clone (void)
{
  static const unsigned variants[] = {
    0, XCOPY_CLONE_REPLACE, XCOPY_CLONE_NAMED_TEMP,
    XCOPY_CLONE_NAMED_TEMP | XCOPY_CLONE_REPLACE,
  };
  const uint64_t size = 32 * MiB + 7;
  unsigned char *data = h_random (size, 12), *old = h_random (8 * KiB, 13);
  unsigned seen[3] = { 0 };
  unsigned seed = 99;
  int64_t full;

  dir_new ();
  int src = make_file ("src", data, size);
  /* How long a whole clone takes here: kills land in [0, 1.2 x that). */
  full = run_child (src, 0, -1);
  REQUIRE_INT (after_kill (data, size, NULL, 0), ==, 2);
  clear_but_src ();
  for (int it = 0; it < 24; it++) {
    unsigned fl = variants[it % ARRAY_SIZE (variants)];
    if (fl & XCOPY_CLONE_REPLACE)
      h_close (make_file ("dst", old, 8 * KiB));
    run_child (src, fl, (int64_t) (rand_r (&seed) % 1000) * full * 12 / 10000);
    int what = after_kill (data, size, old, 8 * KiB);
    if (what >= 0)
      seen[what]++;
    CHECK (what != 0 || !(fl & XCOPY_CLONE_REPLACE));
    CHECK (what != 1 || (fl & XCOPY_CLONE_REPLACE));
    check_leftovers (fl, what > 0);
    clear_but_src ();
  }
  h_note ("a clone takes %.1f ms; after kills: %u absent, %u old, "
          "%u complete", full / 1e3, seen[0], seen[1], seen[2]);
  CHECK_U64 (seen[2], >, 0);    /* not all kills came too early */
  CHECK_U64 (seen[0] + seen[1], >, 0);
  h_close (src);
  free (data);
  free (old);
  dir_rm ();
}

static const struct h_test tests[] = {
  H_TEST (content_equal),
  H_TEST (source_mode_and_empty),
  H_TEST (sparseness_kept),
  H_TEST (exists_refused),
  H_TEST (replace_atomic),
  H_TEST (replace_never_absent),
  H_TEST (bad_names_and_flags),
  H_TEST (enospc_mid_copy),
  H_TEST (name_appears_during_copy),
  H_TEST (cancel_and_progress),
  H_TEST_T (kill_mid_clone, 60),
};

int
main (int argc, char **argv)
{
  int r = H_MAIN (argc, argv, tests);

  dir_rm ();
  return r;
}
