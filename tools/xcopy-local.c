/* xcopy-local: run the range-copy engine on local files.
 *
 * A small front end for the demo, benchmarks and people poking at the
 * engine; host tools that go through the plugin use xcopyctl instead.
 *
 *   xcopy-local [OPTIONS] copy SRCFILE SRC:DST:LEN... [--to DSTFILE]
 *   xcopy-local [OPTIONS] fill FILE OFF LEN PATTERN-HEX
 *   xcopy-local [OPTIONS] zero FILE OFF LEN
 *   xcopy-local [OPTIONS] punch FILE OFF LEN
 *
 * Sizes take K, M, G, T (powers of 1024) and s (512-byte sectors).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xcopy/engine.h"

static unsigned flags;
static bool show_stats;

static void __attribute__ ((noreturn))
usage (int code)
{
  fprintf (code ? stderr : stdout,
           "usage: xcopy-local [--stats] [--allocate] [--trim] [--sync]\n"
           "                   [--method=auto|cfr|splice|bounce] COMMAND ...\n"
           "  copy SRCFILE SRC:DST:LEN... [--to DSTFILE]\n"
           "  fill FILE OFF LEN PATTERN-HEX\n"
           "  zero FILE OFF LEN\n"
           "  punch FILE OFF LEN\n"
           "sizes: N, NK, NM, NG, NT, Ns (512-byte sectors)\n");
  exit (code);
}

static bool
parse_size (const char *s, uint64_t *out)
{
  char *end;
  uint64_t v, mul = 1;

  errno = 0;
  if (*s == '-' || *s == '\0')
    return false;
  v = strtoull (s, &end, 0);
  if (errno)
    return false;
  switch (*end) {
  case '\0': break;
  case 's': mul = 512; end++; break;
  case 'K': case 'k': mul = UINT64_C (1) << 10; end++; break;
  case 'M': case 'm': mul = UINT64_C (1) << 20; end++; break;
  case 'G': case 'g': mul = UINT64_C (1) << 30; end++; break;
  case 'T': case 't': mul = UINT64_C (1) << 40; end++; break;
  default: return false;
  }
  return *end == '\0' && !__builtin_mul_overflow (v, mul, out);
}

static uint64_t
size_arg (const char *what, const char *s)
{
  uint64_t v;

  if (!parse_size (s, &v)) {
    fprintf (stderr, "xcopy-local: %s: invalid size '%s'\n", what, s);
    exit (2);
  }
  return v;
}

static int
open_file (const char *path)
{
  int fd = open (path, O_RDWR | O_CLOEXEC);

  if (fd == -1) {
    fprintf (stderr, "xcopy-local: %s: %m\n", path);
    exit (1);
  }
  return fd;
}

static void
print_stats (const struct xcopy_stats *st)
{
  struct xcopy_stats_snapshot s;

  xcopy_stats_snapshot (st, &s);
  for (int m = 0; m < XCOPY_M__COUNT; m++)
    if (s.calls[m])
      printf ("%s: %" PRIu64 " bytes in %" PRIu64 " calls\n",
              xcopy_method_name (m), s.bytes[m], s.calls[m]);
}

static int
report (const char *op, int r, const struct xcopy_result *res)
{
  if (r == 0)
    return 0;
  if (res->failed_index == SIZE_MAX)
    fprintf (stderr, "xcopy-local: %s: %s\n", op, strerror (-r));
  else
    fprintf (stderr, "xcopy-local: %s: range %zu: %s (%" PRIu64
             " bytes done in it, %" PRIu64 " in all)\n", op,
             res->failed_index, strerror (-r), res->failed_done,
             res->bytes_done);
  return 1;
}

static int
cmd_copy (int argc, char **argv, struct xcopy_stats *st)
{
  const char *to = NULL;
  struct xcopy_range *r = calloc (argc, sizeof *r);
  struct xcopy_result res;
  struct xcopy_pair p;
  size_t n = 0;
  int sfd, dfd, ret;

  if (argc < 2 || r == NULL)
    usage (2);
  for (int i = 1; i < argc; i++) {
    char a[3][64];
    if (strcmp (argv[i], "--to") == 0 && i + 1 < argc) {
      to = argv[++i];
      continue;
    }
    if (sscanf (argv[i], "%63[^:]:%63[^:]:%63s", a[0], a[1], a[2]) != 3) {
      fprintf (stderr, "xcopy-local: range %zu: expected SRC:DST:LEN, got '%s'\n",
               n, argv[i]);
      exit (2);
    }
    r[n++] = (struct xcopy_range) { size_arg ("src", a[0]),
                                    size_arg ("dst", a[1]),
                                    size_arg ("len", a[2]) };
  }
  sfd = open_file (argv[0]);
  dfd = to ? open_file (to) : sfd;
  xcopy_pair_init (&p, sfd, dfd, st);
  ret = report ("copy", xcopy_copyv (&p, r, n, flags, &res), &res);
  free (r);
  return ret;
}

static int
cmd_single (const char *cmd, int argc, char **argv, struct xcopy_stats *st)
{
  struct xcopy_result res;
  struct xcopy_pair p;
  uint64_t off, len;
  int fd, r;

  if (argc != (strcmp (cmd, "fill") == 0 ? 4 : 3))
    usage (2);
  off = size_arg ("offset", argv[1]);
  len = size_arg ("length", argv[2]);
  fd = open_file (argv[0]);
  xcopy_pair_init (&p, fd, fd, st);
  if (strcmp (cmd, "fill") == 0) {
    size_t hl = strlen (argv[3]), pl = hl / 2;
    unsigned char *pat = malloc (pl ? pl : 1);
    if (pat == NULL || hl % 2 || pl == 0)
      usage (2);
    for (size_t i = 0; i < pl; i++)
      if (sscanf (argv[3] + 2 * i, "%2hhx", &pat[i]) != 1)
        usage (2);
    r = xcopy_fill (&p, off, len, pat, pl,
                    flags & ~(XCOPY_F_ALLOCATE | XCOPY_F_NO_SPLICE), &res);
    free (pat);
  }
  else if (strcmp (cmd, "zero") == 0)
    r = xcopy_zero (&p, off, len, flags & (XCOPY_F_MAY_TRIM | XCOPY_F_SYNC),
                    &res);
  else
    r = xcopy_punch (&p, off, len, &res);
  return report (cmd, r, &res);
}

static void
parse_method (const char *m)
{
  if (strcmp (m, "auto") == 0) return;
  else if (strcmp (m, "cfr") == 0) flags |= XCOPY_F_FORCE_CFR;
  else if (strcmp (m, "splice") == 0) flags |= XCOPY_F_FORCE_SPLICE;
  else if (strcmp (m, "bounce") == 0) flags |= XCOPY_F_FORCE_BOUNCE;
  else {
    fprintf (stderr, "xcopy-local: --method: unknown method '%s'\n", m);
    exit (2);
  }
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "stats", no_argument, NULL, 'S' },
    { "allocate", no_argument, NULL, 'a' },
    { "trim", no_argument, NULL, 't' },
    { "sync", no_argument, NULL, 's' },
    { "method", required_argument, NULL, 'm' },
    { "help", no_argument, NULL, 'h' },
    { 0 }
  };
  static struct xcopy_stats st;
  int c, r;

  while ((c = getopt_long (argc, argv, "+h", opts, NULL)) != -1) {
    switch (c) {
    case 'S': show_stats = true; break;
    case 'a': flags |= XCOPY_F_ALLOCATE; break;
    case 't': flags |= XCOPY_F_MAY_TRIM; break;
    case 's': flags |= XCOPY_F_SYNC; break;
    case 'm': parse_method (optarg); break;
    case 'h': usage (0);
    default: usage (2);
    }
  }
  if (optind >= argc)
    usage (2);
  if (strcmp (argv[optind], "copy") == 0)
    r = cmd_copy (argc - optind - 1, argv + optind + 1, &st);
  else if (strcmp (argv[optind], "fill") == 0 ||
           strcmp (argv[optind], "zero") == 0 ||
           strcmp (argv[optind], "punch") == 0)
    r = cmd_single (argv[optind], argc - optind - 1, argv + optind + 1, &st);
  else
    usage (2);
  if (show_stats)
    print_stats (&st);
  return r;
}
