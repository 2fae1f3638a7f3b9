/* xcopyd: unit-test harness (see harness.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/falloc.h>
#include <linux/fiemap.h>
#include <linux/fs.h>

#include "harness.h"

#define DEFAULT_TIMEOUT 30

/* ---- Registry and assertions ---- */

static jmp_buf case_jmp;
static const char *case_name;
static unsigned case_failures;
static char skip_reason[256];

void
h_fail (const char *file, int line, const char *fmt, ...)
{
  va_list ap;

  case_failures++;
  fprintf (stderr, "%s:%d: %s: ", file, line, case_name ? case_name : "?");
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
}

unsigned
h_case_failures (void)
{
  return case_failures;
}

void
h_abort_case (void)
{
  longjmp (case_jmp, 1);
}

void
h_skip (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (skip_reason, sizeof skip_reason, fmt, ap);
  va_end (ap);
  longjmp (case_jmp, 2);
}

void
h_note (const char *fmt, ...)
{
  va_list ap;

  printf ("  # ");
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  putchar ('\n');
}

static void
on_alarm (int sig)
{
  static const char msg[] = "TIMEOUT: case took too long: ";

  (void) sig;
  if (write (2, msg, sizeof msg - 1) < 0
      || write (2, case_name, strlen (case_name)) < 0
      || write (2, "\n", 1) < 0)
    _exit (1);
  _exit (1);
}

static bool
selected (int argc, char **argv, const char *name)
{
  if (argc < 2)
    return true;
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], name) == 0)
      return true;
  return false;
}

/* Returns 0 passed, 1 failed, 2 skipped. */
static int
run_case (const struct h_test *t)
{
  volatile int how;

  case_name = t->name;
  case_failures = 0;
  skip_reason[0] = '\0';
  xcopy_sys_reset ();
  h_inject_reset ();
  alarm (t->timeout ? t->timeout : DEFAULT_TIMEOUT);
  how = setjmp (case_jmp);
  if (how == 0)
    t->fn ();
  alarm (0);
  xcopy_sys_reset ();
  if (how == 2 && case_failures == 0) {
    printf ("SKIP: %s: %s\n", t->name, skip_reason);
    return 2;
  }
  if (case_failures) {
    printf ("FAIL: %s (%u failed checks)\n", t->name, case_failures);
    return 1;
  }
  printf ("ok: %s\n", t->name);
  return 0;
}

int
h_main (int argc, char **argv, const struct h_test *tests, size_t n)
{
  unsigned pass = 0, fail = 0, skip = 0;
  const char *dir = getenv ("XCOPY_TEST_DIR");

  setvbuf (stdout, NULL, _IOLBF, 0);
  signal (SIGALRM, on_alarm);
  signal (SIGPIPE, SIG_IGN);
  if (dir && *dir)
    h_set_dir (dir);
  for (size_t i = 0; i < n; i++) {
    if (!selected (argc, argv, tests[i].name))
      continue;
    switch (run_case (&tests[i])) {
    case 0: pass++; break;
    case 1: fail++; break;
    default: skip++; break;
    }
    fflush (stderr);
  }
  printf ("%u passed, %u failed, %u skipped\n", pass, fail, skip);
  if (fail)
    return 1;
  if (pass == 0 && skip) {
    printf ("SKIP: all %u cases skipped (last: %s)\n", skip, skip_reason);
    return 77;
  }
  return pass ? 0 : 1;
}

/* ---- Results ---- */

void
h_result_poison (struct xcopy_result *res)
{
  res->bytes_done = UINT64_C (0xdeadbeefdeadbeef);
  res->ranges_done = 0x5a5a5a5a;
  res->failed_done = UINT64_C (0xbadc0ffee0ddf00d);
  res->failed_index = 0x6b6b6b6b;
  res->error = 4242;
  res->flags = 0xa5a5a5a5u;
}

void
h_check_ok (const char *file, int line, int ret,
            const struct xcopy_result *res, size_t count, uint64_t bytes)
{
  if (ret != 0)
    h_fail (file, line, "expected success, got %d (%s)", ret, strerror (-ret));
  if (res->error != 0)
    h_fail (file, line, "res.error = %d, want 0", res->error);
  if (res->ranges_done != count)
    h_fail (file, line, "res.ranges_done = %zu, want %zu",
            res->ranges_done, count);
  if (res->bytes_done != bytes)
    h_fail (file, line, "res.bytes_done = %" PRIu64 ", want %" PRIu64,
            res->bytes_done, bytes);
}

void
h_check_refused (const char *file, int line, int ret,
                 const struct xcopy_result *res, int err, size_t index)
{
  if (ret != -err)
    h_fail (file, line, "returned %d (%s), want %d (%s)", ret,
            ret < 0 ? strerror (-ret) : "success", -err, strerror (err));
  if (res->error != err)
    h_fail (file, line, "res.error = %d, want %d", res->error, err);
  if (res->failed_index != index)
    h_fail (file, line, "res.failed_index = %zu, want %zu",
            res->failed_index, index);
  if (res->ranges_done != 0 || res->bytes_done != 0 || res->failed_done != 0)
    h_fail (file, line, "refused call reports progress: ranges_done %zu "
            "bytes_done %" PRIu64 " failed_done %" PRIu64,
            res->ranges_done, res->bytes_done, res->failed_done);
}

/* ---- Memory and files ---- */

void *
h_malloc (size_t len)
{
  void *p = malloc (len ? len : 1);

  if (!p) {
    fprintf (stderr, "out of memory (%zu bytes)\n", len);
    abort ();
  }
  return p;
}

void *
h_calloc (size_t len)
{
  void *p = calloc (1, len ? len : 1);

  if (!p) {
    fprintf (stderr, "out of memory (%zu bytes)\n", len);
    abort ();
  }
  return p;
}

static uint64_t
splitmix64 (uint64_t x)
{
  x += UINT64_C (0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * UINT64_C (0x94d049bb133111eb);
  return x ^ (x >> 31);
}

void
h_fill_random (void *buf, size_t len, uint64_t seed)
{
  unsigned char *p = buf;
  uint64_t s = splitmix64 (seed * UINT64_C (0x2545f4914f6cdd1d) + 1);
  size_t i = 0;

  for (; i + 8 <= len; i += 8) {
    uint64_t w = splitmix64 (s + i);
    memcpy (p + i, &w, 8);
  }
  if (i < len) {
    uint64_t w = splitmix64 (s + i);
    memcpy (p + i, &w, len - i);
  }
}

unsigned char *
h_random (size_t len, uint64_t seed)
{
  unsigned char *p = h_malloc (len);

  h_fill_random (p, len, seed);
  return p;
}

static char scratch_dir[4096];

const char *
h_dir (void)
{
  if (!scratch_dir[0]) {
    const char *t = getenv ("TMPDIR");
    snprintf (scratch_dir, sizeof scratch_dir, "%s",
              t && *t ? t : "/tmp");
  }
  return scratch_dir;
}

void
h_set_dir (const char *dir)
{
  snprintf (scratch_dir, sizeof scratch_dir, "%s", dir);
}

static int
open_anon (void)
{
  char path[4200];
  int fd = open (h_dir (), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

  if (fd >= 0)
    return fd;
  snprintf (path, sizeof path, "%s/xcopy-unit.XXXXXX", h_dir ());
  fd = mkostemp (path, O_CLOEXEC);
  if (fd >= 0)
    unlink (path);
  return fd;
}

int
h_file (uint64_t size)
{
  int fd = open_anon ();

  if (fd < 0) {
    h_fail (__FILE__, __LINE__, "cannot create a file in %s: %m", h_dir ());
    h_abort_case ();
  }
  if (ftruncate (fd, (off_t) size) == -1) {
    h_fail (__FILE__, __LINE__, "ftruncate %" PRIu64 ": %m", size);
    h_abort_case ();
  }
  return fd;
}

int
h_file_with (const void *data, uint64_t len)
{
  int fd = h_file (len);

  h_pwrite_all (fd, data, len, 0);
  return fd;
}

void
h_close (int fd)
{
  if (fd >= 0)
    close (fd);
}

void
h_pwrite_all (int fd, const void *buf, size_t len, uint64_t off)
{
  const char *p = buf;

  while (len) {
    ssize_t n = pwrite (fd, p, len, (off_t) off);
    if (n <= 0) {
      h_fail (__FILE__, __LINE__, "pwrite at %" PRIu64 ": %m", off);
      h_abort_case ();
    }
    p += n; len -= n; off += n;
  }
}

void
h_pread_all (int fd, void *buf, size_t len, uint64_t off)
{
  char *p = buf;

  while (len) {
    ssize_t n = pread (fd, p, len, (off_t) off);
    if (n <= 0) {
      h_fail (__FILE__, __LINE__, "pread at %" PRIu64 ": %s", off,
              n == 0 ? "EOF" : strerror (errno));
      h_abort_case ();
    }
    p += n; len -= n; off += n;
  }
}

uint64_t
h_size (int fd)
{
  struct stat st;

  if (fstat (fd, &st) == -1) {
    h_fail (__FILE__, __LINE__, "fstat: %m");
    h_abort_case ();
  }
  return (uint64_t) st.st_size;
}

uint64_t
h_allocated (int fd)
{
  struct stat st;

  if (fstat (fd, &st) == -1) {
    h_fail (__FILE__, __LINE__, "fstat: %m");
    h_abort_case ();
  }
  return (uint64_t) st.st_blocks * 512;
}

unsigned char *
h_read_file (int fd, uint64_t *len)
{
  uint64_t n = h_size (fd);
  unsigned char *p = h_malloc (n);

  h_pread_all (fd, p, n, 0);
  *len = n;
  return p;
}

void
h_punch (int fd, uint64_t off, uint64_t len)
{
  if (fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                 (off_t) off, (off_t) len) == -1) {
    h_fail (__FILE__, __LINE__, "punch %" PRIu64 "+%" PRIu64 ": %m",
            off, len);
    h_abort_case ();
  }
}

bool
h_check_file (const char *file, int line, int fd,
              const unsigned char *expected, uint64_t len)
{
  enum { CHUNK = 1 << 20 };
  unsigned char *buf;
  uint64_t size = h_size (fd), first = UINT64_MAX, last = 0, ndiff = 0;

  if (size != len) {
    h_fail (file, line, "file size %" PRIu64 ", want %" PRIu64, size, len);
    return false;
  }
  buf = h_malloc (CHUNK);
  for (uint64_t off = 0; off < len; off += CHUNK) {
    size_t n = len - off < CHUNK ? (size_t) (len - off) : CHUNK;
    h_pread_all (fd, buf, n, off);
    if (memcmp (buf, expected + off, n) == 0)
      continue;
    for (size_t i = 0; i < n; i++)
      if (buf[i] != expected[off + i]) {
        if (first == UINT64_MAX) {
          h_fail (file, line, "file differs at offset %" PRIu64
                  ": got 0x%02x, want 0x%02x", off + i, buf[i],
                  expected[off + i]);
          first = off + i;
        }
        last = off + i;
        ndiff++;
      }
  }
  free (buf);
  if (ndiff)
    h_fail (file, line, "%" PRIu64 " bytes differ in [%" PRIu64 ", %" PRIu64
            "] of %" PRIu64, ndiff, first, last, len);
  return ndiff == 0;
}

bool
h_is_hole (int fd, uint64_t off, uint64_t len)
{
  off_t d = lseek (fd, (off_t) off, SEEK_DATA);

  if (d == -1)
    return errno == ENXIO;
  return (uint64_t) d >= off + len;
}

bool
h_is_data (int fd, uint64_t off, uint64_t len)
{
  off_t d = lseek (fd, (off_t) off, SEEK_DATA);
  off_t h = lseek (fd, (off_t) off, SEEK_HOLE);

  return d == (off_t) off && h != -1 && (uint64_t) h >= off + len;
}

bool
h_holes_work (void)
{
  static int known = -1;
  unsigned char *b;
  int fd;

  if (known >= 0)
    return known;
  fd = open_anon ();
  if (fd < 0) {
    known = 0;
    return false;
  }
  b = h_random (192 * KiB, 1);
  known = pwrite (fd, b, 192 * KiB, 0) == (ssize_t) (192 * KiB)
    && fsync (fd) == 0
    && fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  64 * KiB, 64 * KiB) == 0
    && h_is_hole (fd, 64 * KiB, 64 * KiB)
    && h_is_data (fd, 0, 64 * KiB)
    && h_is_data (fd, 128 * KiB, 64 * KiB);
  free (b);
  close (fd);
  return known == 1;
}

bool
h_zero_range_works (void)
{
  static int known = -1;
  int fd;

  if (known >= 0)
    return known == 1;
  fd = open_anon ();
  known = fd >= 0 && ftruncate (fd, 64 * KiB) == 0
    && fallocate (fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0,
                  64 * KiB) == 0;
  if (fd >= 0)
    close (fd);
  return known == 1;
}

/* ---- Model ---- */

void
h_model_copyv (const unsigned char *src, unsigned char *dst,
               const struct xcopy_range *r, size_t n)
{
  for (size_t i = 0; i < n; i++)
    memmove (dst + r[i].dst, src + r[i].src, r[i].len);
}

void
h_model_partial (const unsigned char *src, unsigned char *dst,
                 const struct xcopy_range *r, size_t n,
                 const struct xcopy_result *res)
{
  size_t done = res->ranges_done < n ? res->ranges_done : n;
  uint64_t fd;

  h_model_copyv (src, dst, r, done);
  if (done == n)
    return;
  fd = res->failed_done < r[done].len ? res->failed_done : r[done].len;
  if (res->flags & XCOPY_RESULT_BACKWARD)
    memmove (dst + r[done].dst + r[done].len - fd,
             src + r[done].src + r[done].len - fd, fd);
  else
    memmove (dst + r[done].dst, src + r[done].src, fd);
}

uint64_t
h_sum_len (const struct xcopy_range *r, size_t n)
{
  uint64_t sum = 0;

  for (size_t i = 0; i < n; i++)
    sum += r[i].len;
  return sum;
}

bool
h_copy_model (const char *file, int line, bool same, uint64_t src_size,
              uint64_t dst_size, const struct xcopy_range *r, size_t n,
              unsigned flags, struct xcopy_stats *stats)
{
  static uint64_t seed = 1000;
  unsigned before = case_failures;
  unsigned char *src = h_random (src_size, seed++);
  unsigned char *dst = same ? src : h_random (dst_size, seed++);
  unsigned char *orig_src = h_malloc (src_size);
  int sfd = h_file_with (src, src_size);
  int dfd = same ? sfd : h_file_with (dst, dst_size);
  struct xcopy_stats local;
  struct xcopy_pair p;
  struct xcopy_result res;
  int ret;

  memcpy (orig_src, src, src_size);
  memset (&local, 0, sizeof local);
  xcopy_pair_init (&p, sfd, dfd, stats ? stats : &local);
  h_result_poison (&res);
  ret = xcopy_copyv (&p, r, n, flags, &res);
  h_check_ok (file, line, ret, &res, n, h_sum_len (r, n));
  h_model_copyv (src, dst, r, n);
  h_check_file (file, line, dfd, dst, same ? src_size : dst_size);
  if (!same)
    h_check_file (file, line, sfd, orig_src, src_size);
  if (case_failures != before)
    h_fail (file, line, "(copy of %zu ranges, flags 0x%x, %s)", n, flags,
            same ? "within one file" : "between two files");
  h_close (sfd);
  if (!same) {
    h_close (dfd);
    free (dst);
  }
  free (src);
  free (orig_src);
  return case_failures == before;
}

int
h_open_fds (void)
{
  int n = 0;

  for (int fd = 0; fd < 4096; fd++)
    if (fcntl (fd, F_GETFD) != -1)
      n++;
  return n;
}

/* ---- Counters ---- */

uint64_t
h_bytes (const struct xcopy_stats *s, enum xcopy_method m)
{
  return atomic_load (&s->bytes[m]);
}

uint64_t
h_calls (const struct xcopy_stats *s, enum xcopy_method m)
{
  return atomic_load (&s->calls[m]);
}

uint64_t
h_bytes_all (const struct xcopy_stats *s)
{
  uint64_t sum = 0;

  for (int m = 0; m < XCOPY_M__COUNT; m++)
    sum += atomic_load (&s->bytes[m]);
  return sum;
}

uint64_t
h_bytes_copied (const struct xcopy_stats *s)
{
  return h_bytes (s, XCOPY_M_REFLINK) + h_bytes (s, XCOPY_M_CFR)
    + h_bytes (s, XCOPY_M_SPLICE) + h_bytes (s, XCOPY_M_BOUNCE);
}

void
h_print_stats (const char *what, const struct xcopy_stats *s)
{
  printf ("  # %s:", what);
  for (int m = 0; m < XCOPY_M__COUNT; m++)
    if (atomic_load (&s->calls[m]) || atomic_load (&s->bytes[m]))
      printf (" %s=%" PRIu64 "B/%" PRIu64, xcopy_method_name (m),
              atomic_load (&s->bytes[m]), atomic_load (&s->calls[m]));
  putchar ('\n');
}

/* ---- Injection ---- */

struct xcopy_sys h_next;

struct kstate {
  struct h_fault f;
  bool have_fault;
  unsigned long calls, failed, faulted;
  uint64_t bytes;
  struct h_call log[H_LOG_MAX];
};

static struct kstate ks[H__KINDS];
static struct {
  bool on, whole;
  uint64_t left, used;
  int err;
} budget;

static struct h_call no_call = { -1, -1, -1, -1, 0, 0, 0 };

void
h_fault (enum h_kind k, const struct h_fault *f)
{
  ks[k].f = *f;
  ks[k].have_fault = true;
  ks[k].faulted = 0;
}

void
h_fail_always (enum h_kind k, int err)
{
  struct h_fault f = { .err = err };

  h_fault (k, &f);
}

void
h_write_budget (uint64_t bytes, int err)
{
  budget.on = true;
  budget.whole = false;
  budget.left = bytes;
  budget.used = 0;
  budget.err = err;
}

void
h_write_budget_whole (uint64_t bytes, int err)
{
  h_write_budget (bytes, err);
  budget.whole = true;
}

uint64_t
h_written (void)
{
  return budget.used;
}

unsigned long
h_ncalls (enum h_kind k)
{
  return ks[k].calls;
}

uint64_t
h_nbytes (enum h_kind k)
{
  return ks[k].bytes;
}

unsigned long
h_nfailed (enum h_kind k)
{
  return ks[k].failed;
}

const struct h_call *
h_log (enum h_kind k, unsigned long i)
{
  if (i >= ks[k].calls || i >= H_LOG_MAX)
    return &no_call;
  return &ks[k].log[i];
}

static bool
is_write_kind (enum h_kind k)
{
  return k == H_CFR || k == H_CLONE || k == H_SPLICE_OUT || k == H_PWRITE;
}

/* Decide the fate of a call of kind k wanting *len bytes.  Returns 0 to go
 * ahead (with *len possibly shortened), 1 to return 0, -1 to fail with
 * errno set.  all_or_nothing: the call cannot be shortened.
 */
static int
pre_call (enum h_kind k, uint64_t *len, bool all_or_nothing)
{
  struct kstate *s = &ks[k];
  struct h_fault *f = &s->f;
  uint64_t want = *len;

  if (s->have_fault) {
    bool armed = s->calls >= f->after_calls
      && (!f->by_bytes || s->bytes >= f->after_bytes)
      && (f->times == 0 || s->faulted < f->times)
      && (f->err || f->ret0);
    if (armed) {
      s->faulted++;
      if (f->ret0)
        return 1;
      errno = f->err;
      return -1;
    }
    if (f->max_len && *len > f->max_len)
      *len = f->max_len;
    if (f->by_bytes && s->bytes < f->after_bytes
        && *len > f->after_bytes - s->bytes)
      *len = f->after_bytes - s->bytes;
  }
  if (budget.on && is_write_kind (k)) {
    if ((budget.left == 0 || (budget.whole && *len > budget.left))
        && want > 0) {
      errno = budget.err;
      return -1;
    }
    if (*len > budget.left)
      *len = budget.left;
  }
  if (all_or_nothing && *len < want) {
    errno = budget.on && budget.left < want ? budget.err
      : f->err ? f->err : EINVAL;
    return -1;
  }
  return 0;
}

static void
post_call (enum h_kind k, struct h_call c)
{
  struct kstate *s = &ks[k];

  if (c.ret < 0 || (c.ret == 0 && c.len > 0))
    s->failed++;
  if (c.ret > 0 || (c.ret == 0 && (k == H_CLONE || k == H_PUNCH
                                   || k == H_ZERO_RANGE || k == H_ALLOC))) {
    uint64_t n = c.ret > 0 ? (uint64_t) c.ret : c.len;
    s->bytes += n;
    if (budget.on && is_write_kind (k)) {
      budget.left -= n < budget.left ? n : budget.left;
      budget.used += n;
    }
  }
  if (s->calls < H_LOG_MAX)
    s->log[s->calls] = c;
  s->calls++;
}

static int64_t
ret_of (int64_t r)
{
  return r < 0 ? -errno : r;
}

static ssize_t
w_copy_file_range (int fd_in, off_t *off_in, int fd_out, off_t *off_out,
                   size_t len, unsigned flags)
{
  struct h_call c = { fd_in, fd_out, off_in ? *off_in : -1,
                      off_out ? *off_out : -1, len, 0, 0 };
  uint64_t n = len;
  int how = pre_call (H_CFR, &n, false);
  ssize_t r;

  if (how == 0)
    r = h_next.copy_file_range (fd_in, off_in, fd_out, off_out, n, flags);
  else
    r = how > 0 ? 0 : -1;
  c.ret = ret_of (r);
  post_call (H_CFR, c);
  if (r < 0)
    errno = (int) -c.ret;
  return r;
}

static int
w_clone_range (int src_fd, uint64_t src_off, uint64_t len,
               int dst_fd, uint64_t dst_off)
{
  struct h_call c = { src_fd, dst_fd, (int64_t) src_off, (int64_t) dst_off,
                      len, 0, 0 };
  uint64_t n = len;
  int how = pre_call (H_CLONE, &n, true);
  int r;

  if (how == 0)
    r = h_next.clone_range (src_fd, src_off, len, dst_fd, dst_off);
  else if (how > 0) {
    r = -1;                    /* clone has no "0 bytes" answer */
    errno = EINVAL;
  }
  else
    r = -1;
  c.ret = ret_of (r);
  post_call (H_CLONE, c);
  if (r < 0)
    errno = (int) -c.ret;
  return r;
}

static ssize_t
w_splice (int fd_in, off_t *off_in, int fd_out, off_t *off_out,
          size_t len, unsigned flags)
{
  enum h_kind k = off_out ? H_SPLICE_OUT : H_SPLICE_IN;
  struct h_call c = { fd_in, fd_out, off_in ? *off_in : -1,
                      off_out ? *off_out : -1, len, 0, (int) flags };
  uint64_t n = len;
  int how = pre_call (k, &n, false);
  ssize_t r;

  if (how == 0)
    r = h_next.splice (fd_in, off_in, fd_out, off_out, n, flags);
  else
    r = how > 0 ? 0 : -1;
  c.ret = ret_of (r);
  post_call (k, c);
  if (r < 0)
    errno = (int) -c.ret;
  return r;
}

static ssize_t
w_pread (int fd, void *buf, size_t count, off_t off)
{
  struct h_call c = { fd, -1, off, -1, count, 0, 0 };
  uint64_t n = count;
  int how = pre_call (H_PREAD, &n, false);
  ssize_t r;

  if (how == 0)
    r = h_next.pread (fd, buf, n, off);
  else
    r = how > 0 ? 0 : -1;
  c.ret = ret_of (r);
  post_call (H_PREAD, c);
  if (r < 0)
    errno = (int) -c.ret;
  return r;
}

static ssize_t
w_pwrite (int fd, const void *buf, size_t count, off_t off)
{
  struct h_call c = { -1, fd, -1, off, count, 0, 0 };
  uint64_t n = count;
  int how = pre_call (H_PWRITE, &n, false);
  ssize_t r;

  if (how == 0)
    r = h_next.pwrite (fd, buf, n, off);
  else
    r = how > 0 ? 0 : -1;
  c.ret = ret_of (r);
  post_call (H_PWRITE, c);
  if (r < 0)
    errno = (int) -c.ret;
  return r;
}

static int
w_fallocate (int fd, int mode, off_t off, off_t len)
{
  enum h_kind k = (mode & FALLOC_FL_PUNCH_HOLE) ? H_PUNCH
    : (mode & FALLOC_FL_ZERO_RANGE) ? H_ZERO_RANGE : H_ALLOC;
  struct h_call c = { -1, fd, -1, off, (uint64_t) len, 0, mode };
  uint64_t n = (uint64_t) len;
  int how = pre_call (k, &n, true);
  int r;

  if (how == 0)
    r = h_next.fallocate (fd, mode, off, len);
  else if (how > 0)
    r = 0;
  else
    r = -1;
  c.ret = ret_of (r);
  post_call (k, c);
  if (r < 0)
    errno = (int) -c.ret;
  return r;
}

static off_t
w_lseek (int fd, off_t off, int whence)
{
  struct h_call c = { fd, -1, off, -1, 0, 0, whence };
  uint64_t n = 0;
  int how = pre_call (H_LSEEK, &n, false);
  off_t r;

  if (how == 0)
    r = h_next.lseek (fd, off, whence);
  else
    r = how > 0 ? 0 : -1;
  c.ret = ret_of (r);
  post_call (H_LSEEK, c);
  if (r < 0)
    errno = (int) -c.ret;
  return r;
}

static int
w_fstat (int fd, struct stat *st)
{
  struct h_call c = { fd, -1, -1, -1, 0, 0, 0 };
  uint64_t n = 0;
  int how = pre_call (H_FSTAT, &n, false);
  int r;

  if (how == 0)
    r = h_next.fstat (fd, st);
  else
    r = how > 0 ? 0 : -1;
  c.ret = ret_of (r);
  post_call (H_FSTAT, c);
  if (r < 0)
    errno = (int) -c.ret;
  return r;
}

static int
w_fdatasync (int fd)
{
  struct h_call c = { -1, fd, -1, -1, 0, 0, 0 };
  uint64_t n = 0;
  int how = pre_call (H_FDATASYNC, &n, false);
  int r;

  if (how == 0)
    r = h_next.fdatasync (fd);
  else
    r = how > 0 ? 0 : -1;
  c.ret = ret_of (r);
  post_call (H_FDATASYNC, c);
  if (r < 0)
    errno = (int) -c.ret;
  return r;
}

void
h_inject_reset (void)
{
  for (int k = 0; k < H__KINDS; k++) {
    memset (&ks[k].f, 0, sizeof ks[k].f);
    ks[k].have_fault = false;
    ks[k].calls = ks[k].failed = ks[k].faulted = 0;
    ks[k].bytes = 0;
  }
  memset (&budget, 0, sizeof budget);
  xcopy_sys_reset ();
  h_next = xcopy_sys;
  xcopy_sys.copy_file_range = w_copy_file_range;
  xcopy_sys.clone_range = w_clone_range;
  xcopy_sys.splice = w_splice;
  xcopy_sys.pread = w_pread;
  xcopy_sys.pwrite = w_pwrite;
  xcopy_sys.fallocate = w_fallocate;
  xcopy_sys.lseek = w_lseek;
  xcopy_sys.fstat = w_fstat;
  xcopy_sys.fdatasync = w_fdatasync;
}

/* ---- FIEMAP ---- */

int64_t
h_fiemap_shared (int fd, uint64_t off, uint64_t len, int64_t *mapped)
{
  enum { N = 256 };
  struct fiemap *fm = h_calloc (sizeof *fm + N * sizeof (struct fiemap_extent));
  uint64_t pos = off, end = off + len;
  int64_t shared = 0, any = 0;

  while (pos < end) {
    memset (fm, 0, sizeof *fm);
    fm->fm_start = pos;
    fm->fm_length = end - pos;
    fm->fm_flags = FIEMAP_FLAG_SYNC;
    fm->fm_extent_count = N;
    if (ioctl (fd, FS_IOC_FIEMAP, fm) == -1) {
      free (fm);
      return -1;
    }
    if (fm->fm_mapped_extents == 0)
      break;
    for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
      const struct fiemap_extent *e = &fm->fm_extents[i];
      uint64_t a = e->fe_logical > off ? e->fe_logical : off;
      uint64_t b = e->fe_logical + e->fe_length < end
        ? e->fe_logical + e->fe_length : end;
      if (b > a) {
        if (!(e->fe_flags & FIEMAP_EXTENT_UNWRITTEN))
          any += (int64_t) (b - a);
        if (e->fe_flags & FIEMAP_EXTENT_SHARED)
          shared += (int64_t) (b - a);
      }
      pos = e->fe_logical + e->fe_length;
      if (e->fe_flags & FIEMAP_EXTENT_LAST)
        pos = end;
    }
  }
  free (fm);
  if (mapped)
    *mapped = any;
  return shared;
}
