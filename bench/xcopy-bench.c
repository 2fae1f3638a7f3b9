/* xcopy-bench: time the range-copy engine against its peers.
 *
 * Driven by bench/run, which turns the numbers into ratios and goals.
 *
 *   xcopy-bench mkfile FILE SIZE
 *   xcopy-bench copy SRCFILE DSTFILE REPS LOOP-REPS
 *   xcopy-bench fill FILE PATLEN REPS LOOP-REPS [sync]
 *   xcopy-bench batch FILE COUNT REPS
 *
 * mkfile writes SIZE bytes of pseudo-random data, fsyncs them (so no timed
 * copy pays for writeback of its source) and leaves them in the page cache.
 * The others print one line of key=value pairs: the best and the median
 * time of each method in milliseconds (engine_best_ms, engine_median_ms,
 * raw_..., loop_...), the repetitions, and via=, the engine method that
 * moved most bytes.  Methods take turns in a
 * rotating order; each timed run starts from the same state (destination
 * truncated to a hole for copy and fill, a warm-up pass for batch); the
 * engine's result is verified after the last round.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xcopy/engine.h"

#define BUF_SIZE  (1u << 20)
#define BLOCK     4096u
#define MAX_REPS  64

struct bench {
  int sfd, dfd;
  uint64_t len;                 /* bytes copied or filled */
  bool reset_dst;               /* truncate dst to a hole before each run */
  bool sync;                    /* fill: time until the data is durable */
  struct xcopy_pair pair;
  struct xcopy_stats stats;
  unsigned char *buf;           /* BUF_SIZE bytes for the peers */
  unsigned char *pat;           /* fill pattern */
  size_t patlen;
  struct xcopy_range *rg;       /* batch ranges */
  size_t nrg;
};

struct method {
  const char *key;
  int (*run) (struct bench *b);
  int reps;
  int n;
  double ms[MAX_REPS];
};

static void __attribute__ ((noreturn))
die (const char *what, int err)
{
  fprintf (stderr, "xcopy-bench: %s: %s\n", what, strerror (err));
  exit (1);
}

static double
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint64_t
parse_u64 (const char *s)
{
  char *end;
  uint64_t v;

  errno = 0;
  v = strtoull (s, &end, 0);
  if (errno || end == s)
    die (s, EINVAL);
  switch (*end) {
  case 'K': v <<= 10; break;
  case 'M': v <<= 20; break;
  case 'G': v <<= 30; break;
  case '\0': break;
  default: die (s, EINVAL);
  }
  return v;
}

static int
open_file (const char *path, int extra)
{
  int fd = open (path, O_RDWR | O_CLOEXEC | extra, 0644);

  if (fd == -1)
    die (path, errno);
  return fd;
}

static uint64_t
file_size (int fd)
{
  off_t end = lseek (fd, 0, SEEK_END);

  if (end == -1)
    die ("lseek", errno);
  return end;
}

/* xorshift64*: fast, deterministic, never all-zero. */
static uint64_t
rnd (uint64_t *s)
{
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * UINT64_C (2685821657736338717);
}

static void
random_fill (unsigned char *buf, size_t n, uint64_t *state)
{
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rnd (state);
    memcpy (buf + i, &v, 8);
  }
}

static void
pwrite_all (int fd, const unsigned char *buf, size_t n, uint64_t off)
{
  while (n > 0) {
    ssize_t w = pwrite (fd, buf, n, off);
    if (w <= 0)
      die ("pwrite", w == 0 ? EIO : errno);
    buf += w;
    n -= w;
    off += w;
  }
}

static void
pread_all (int fd, unsigned char *buf, size_t n, uint64_t off)
{
  while (n > 0) {
    ssize_t r = pread (fd, buf, n, off);
    if (r <= 0)
      die ("pread", r == 0 ? EIO : errno);
    buf += r;
    n -= r;
    off += r;
  }
}

static int
cmd_mkfile (char **argv)
{
  int fd = open_file (argv[0], O_CREAT | O_TRUNC);
  uint64_t size = parse_u64 (argv[1]), state = 0x9e3779b97f4a7c15u;
  unsigned char *buf = malloc (BUF_SIZE);

  if (buf == NULL)
    die ("malloc", ENOMEM);
  for (uint64_t off = 0; off < size; off += BUF_SIZE) {
    size_t n = size - off < BUF_SIZE ? size - off : BUF_SIZE;
    random_fill (buf, n, &state);
    pwrite_all (fd, buf, n, off);
  }
  if (fsync (fd) == -1)
    die ("fsync", errno);
  free (buf);
  close (fd);
  return 0;
}

/* ---- the methods ---- */

static int
engine_copy (struct bench *b)
{
  struct xcopy_range r = { 0, 0, b->len };

  return xcopy_copyv (&b->pair, &r, 1, 0, NULL);
}

static int
engine_batch (struct bench *b)
{
  return xcopy_copyv (&b->pair, b->rg, b->nrg, 0, NULL);
}

static int
engine_fill (struct bench *b)
{
  return xcopy_fill (&b->pair, 0, b->len, b->pat, b->patlen,
                     b->sync ? XCOPY_F_SYNC : 0, NULL);
}

/* The raw system call, looping only over short copies. */
static int
raw_cfr (int sfd, int dfd, uint64_t src, uint64_t dst, uint64_t len)
{
  while (len > 0) {
    off_t so = src, dof = dst;
    ssize_t n = copy_file_range (sfd, &so, dfd, &dof, len, 0);
    if (n == -1 && errno == EINTR)
      continue;
    if (n <= 0)
      return n == 0 ? -EIO : -errno;
    src += n;
    dst += n;
    len -= n;
  }
  return 0;
}

static int
raw_copy (struct bench *b)
{
  return raw_cfr (b->sfd, b->dfd, 0, 0, b->len);
}

static int
raw_batch (struct bench *b)
{
  for (size_t i = 0; i < b->nrg; i++) {
    int r = raw_cfr (b->sfd, b->dfd, b->rg[i].src, b->rg[i].dst,
                     b->rg[i].len);
    if (r < 0)
      return r;
  }
  return 0;
}

/* What a plain user-space copy does: 1 MiB reads and writes. */
static int
rw_loop (struct bench *b)
{
  for (uint64_t off = 0; off < b->len; off += BUF_SIZE) {
    size_t n = b->len - off < BUF_SIZE ? b->len - off : BUF_SIZE;
    pread_all (b->sfd, b->buf, n, off);
    pwrite_all (b->dfd, b->buf, n, off);
  }
  return 0;
}

/* The fill peer: the pattern repeated over a 1 MiB buffer, written out. */
static int
pwrite_loop (struct bench *b)
{
  for (uint64_t off = 0; off < b->len; off += BUF_SIZE) {
    size_t n = b->len - off < BUF_SIZE ? b->len - off : BUF_SIZE;
    pwrite_all (b->dfd, b->buf, n, off);
  }
  if (b->sync && fdatasync (b->dfd) == -1)
    return -errno;
  return 0;
}

/* ---- timing ---- */

static void
reset_dst (struct bench *b)
{
  uint64_t size = file_size (b->dfd);

  if (ftruncate (b->dfd, 0) == -1 || ftruncate (b->dfd, size) == -1)
    die ("ftruncate", errno);
}

static void
time_one (struct bench *b, struct method *m)
{
  double t0;
  int r;

  if (b->reset_dst)
    reset_dst (b);
  /* Start every run with nothing dirty and the file system's deferred
   * work (XFS log, block freeing) done: without this, a run pays for the
   * previous one and times swing by 2x.
   */
  if (syncfs (b->dfd) == -1)
    die ("syncfs", errno);
  t0 = now_ms ();
  r = m->run (b);
  m->ms[m->n++] = now_ms () - t0;
  if (r < 0)
    die (m->key, -r);
}

/* Round i runs the methods starting at i % n, so none always goes first. */
static void
time_methods (struct bench *b, struct method *m, size_t nm)
{
  int rounds = 0;

  for (size_t i = 0; i < nm; i++)
    rounds = m[i].reps > rounds ? m[i].reps : rounds;
  for (int i = 0; i < rounds; i++)
    for (size_t j = 0; j < nm; j++) {
      struct method *x = &m[(i + j) % nm];
      if (x->n < x->reps)
        time_one (b, x);
    }
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
median (double *v, int n)
{
  qsort (v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *
main_method (const struct xcopy_stats *st)
{
  struct xcopy_stats_snapshot s;
  int best = 0;

  xcopy_stats_snapshot (st, &s);
  for (int m = 1; m < XCOPY_M__COUNT; m++)
    if (s.bytes[m] > s.bytes[best])
      best = m;
  return xcopy_method_name (best);
}

static void
print_result (struct bench *b, struct method *m, size_t nm)
{
  for (size_t i = 0; i < nm; i++) {
    double med = median (m[i].ms, m[i].n);      /* sorts: ms[0] is the best */

    printf ("%s_best_ms=%.6f %s_median_ms=%.6f %s_reps=%d ", m[i].key,
            m[i].ms[0], m[i].key, med, m[i].key, m[i].n);
  }
  printf ("via=%s\n", main_method (&b->stats));
}

static int
reps_arg (const char *s)
{
  uint64_t v = parse_u64 (s);

  if (v < 1 || v > MAX_REPS)
    die (s, ERANGE);
  return v;
}

/* ---- verification ---- */

static void
verify_same (struct bench *b, uint64_t src, uint64_t dst, uint64_t len)
{
  unsigned char *a = b->buf, *c = b->buf + BUF_SIZE / 2;

  for (uint64_t off = 0; off < len; off += BUF_SIZE / 2) {
    size_t n = len - off < BUF_SIZE / 2 ? len - off : BUF_SIZE / 2;
    pread_all (b->sfd, a, n, src + off);
    pread_all (b->dfd, c, n, dst + off);
    if (memcmp (a, c, n) != 0) {
      fprintf (stderr, "xcopy-bench: verify: data differs near %" PRIu64
               "\n", dst + off);
      exit (1);
    }
  }
}

static void
verify_fill (struct bench *b)
{
  unsigned char *a = malloc (BUF_SIZE);

  if (a == NULL)
    die ("malloc", ENOMEM);
  for (uint64_t off = 0; off < b->len; off += BUF_SIZE) {
    size_t n = b->len - off < BUF_SIZE ? b->len - off : BUF_SIZE;
    pread_all (b->dfd, a, n, off);
    if (memcmp (a, b->buf, n) != 0) {
      fprintf (stderr, "xcopy-bench: verify: fill wrong near %" PRIu64 "\n",
               off);
      exit (1);
    }
  }
  free (a);
}

/* ---- commands ---- */

static void
bench_init (struct bench *b, int sfd, int dfd)
{
  memset (b, 0, sizeof *b);
  b->sfd = sfd;
  b->dfd = dfd;
  b->buf = malloc (BUF_SIZE);
  if (b->buf == NULL)
    die ("malloc", ENOMEM);
  /* One pair for all runs, as the plugin keeps one per open image: the
   * ladder is decided on the first call and remembered, and the files are
   * checked once (pinned), since an export's size is fixed.
   */
  xcopy_pair_init (&b->pair, sfd, dfd, &b->stats);
  int r = xcopy_pair_pin (&b->pair);
  if (r < 0)
    die ("xcopy_pair_pin", -r);
}

/* Read a file through once so every timed run finds it in the page cache. */
static void
warm (struct bench *b, int fd)
{
  uint64_t size = file_size (fd);

  for (uint64_t off = 0; off < size; off += BUF_SIZE)
    pread_all (fd, b->buf, size - off < BUF_SIZE ? size - off : BUF_SIZE, off);
}

static int
cmd_copy (char **argv)
{
  struct bench b;
  struct method m[] = {
    { "engine", engine_copy, reps_arg (argv[2]), 0, { 0 } },
    { "raw", raw_copy, reps_arg (argv[2]), 0, { 0 } },
    { "loop", rw_loop, reps_arg (argv[3]), 0, { 0 } },
  };
  int r;

  bench_init (&b, open_file (argv[0], 0), open_file (argv[1], 0));
  b.len = file_size (b.sfd);
  b.reset_dst = true;
  if (file_size (b.dfd) != b.len)
    die (argv[1], EINVAL);
  warm (&b, b.sfd);
  time_methods (&b, m, 3);
  print_result (&b, m, 3);
  reset_dst (&b);
  if ((r = engine_copy (&b)) < 0)
    die ("engine", -r);
  verify_same (&b, 0, 0, b.len);
  return 0;
}

static int
cmd_fill (char **argv)
{
  struct bench b;
  struct method m[] = {
    { "engine", engine_fill, reps_arg (argv[2]), 0, { 0 } },
    { "loop", pwrite_loop, reps_arg (argv[3]), 0, { 0 } },
  };
  int fd = open_file (argv[0], 0), r;

  bench_init (&b, fd, fd);
  b.len = file_size (fd);
  b.reset_dst = true;
  b.sync = argv[4] != NULL && strcmp (argv[4], "sync") == 0;
  b.patlen = parse_u64 (argv[1]);
  if (b.patlen == 0 || BUF_SIZE % b.patlen || b.len % b.patlen)
    die ("pattern length", EINVAL);
  for (size_t i = 0; i < BUF_SIZE; i++)
    b.buf[i] = 1 + (i % b.patlen) % 251;        /* never zero */
  b.pat = b.buf;
  time_methods (&b, m, 2);
  print_result (&b, m, 2);
  reset_dst (&b);
  if ((r = engine_fill (&b)) < 0)
    die ("engine", -r);
  verify_fill (&b);
  return 0;
}

/* count distinct, pairwise non-adjacent 4 KiB blocks in random order for
 * the sources, and count more for the destinations: no two ranges touch,
 * so nothing coalesces and nothing overlaps.
 */
static void
make_ranges (struct bench *b, size_t count)
{
  uint64_t slots = file_size (b->sfd) / (2 * BLOCK), state = 42;
  uint64_t *s = malloc (slots * sizeof *s);

  b->rg = malloc (count * sizeof *b->rg);
  if (s == NULL || b->rg == NULL)
    die ("malloc", ENOMEM);
  if (slots < 2 * count)
    die ("file too small for the batch", ERANGE);
  for (uint64_t i = 0; i < slots; i++)
    s[i] = i;
  for (uint64_t i = slots - 1; i > 0; i--) {
    uint64_t j = rnd (&state) % (i + 1), t = s[i];
    s[i] = s[j];
    s[j] = t;
  }
  for (size_t i = 0; i < count; i++)
    b->rg[i] = (struct xcopy_range) { s[i] * 2 * BLOCK,
                                      s[count + i] * 2 * BLOCK, BLOCK };
  b->nrg = count;
  free (s);
}

static int
cmd_batch (char **argv)
{
  struct bench b;
  struct method m[] = {
    { "engine", engine_batch, reps_arg (argv[2]), 0, { 0 } },
    { "raw", raw_batch, reps_arg (argv[2]), 0, { 0 } },
  };
  int fd = open_file (argv[0], 0), r;

  bench_init (&b, fd, fd);
  make_ranges (&b, parse_u64 (argv[1]));
  warm (&b, fd);
  /* Warm-up: after one pass every destination block already holds (on
   * reflinking file systems: shares) its source, so all runs see one state.
   */
  if ((r = raw_batch (&b)) < 0)
    die ("warm-up", -r);
  time_methods (&b, m, 2);
  print_result (&b, m, 2);
  for (size_t i = 0; i < b.nrg; i++)
    verify_same (&b, b.rg[i].src, b.rg[i].dst, b.rg[i].len);
  return 0;
}

int
main (int argc, char **argv)
{
  static const struct {
    const char *name;
    int nargs, optargs;
    int (*fn) (char **argv);
  } cmds[] = {
    { "mkfile", 2, 0, cmd_mkfile },
    { "copy", 4, 0, cmd_copy },
    { "fill", 4, 1, cmd_fill },
    { "batch", 3, 0, cmd_batch },
  };

  for (size_t i = 0; argc > 1 && i < sizeof cmds / sizeof cmds[0]; i++)
    if (strcmp (argv[1], cmds[i].name) == 0 && argc - 2 >= cmds[i].nargs &&
        argc - 2 <= cmds[i].nargs + cmds[i].optargs)
      return cmds[i].fn (argv + 2);
  fprintf (stderr, "usage: xcopy-bench mkfile FILE SIZE\n"
           "       xcopy-bench copy SRCFILE DSTFILE REPS LOOP-REPS\n"
           "       xcopy-bench fill FILE PATLEN REPS LOOP-REPS [sync]\n"
           "       xcopy-bench batch FILE COUNT REPS\n");
  return 2;
}
