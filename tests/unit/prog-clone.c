/* xcopyd: clone one file with xcopy_clone, for tests/func/test-clone-crash.sh.
 *
 *   prog-clone SRC DIR NAME [replace] [named] [source-mode]
 *
 * Environment, so the scenario can make the clone slow enough to be killed
 * in the middle:
 *   XCOPY_CLONE_FORCE=bounce|splice|cfr   start the ladder at that rung
 *   XCOPY_CLONE_DELAY_US=N                sleep N us before each data write
 * Prints "bytes=N reflink=N cfr=N splice=N bounce=N" (bytes per method) and
 * exits 0, or prints the error and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xcopy/engine.h"
#include "clone.h"
#include "sys.h"

static unsigned delay_us;

static ssize_t
slow_pwrite (int fd, const void *buf, size_t n, off_t off)
{
  usleep (delay_us);
  return pwrite (fd, buf, n, off);
}

static ssize_t
slow_cfr (int in, off_t *oin, int out, off_t *oout, size_t n, unsigned fl)
{
  usleep (delay_us);
  /* Small calls, so the delay spreads over the whole copy. */
  return copy_file_range (in, oin, out, oout, n < (1u << 20) ? n : 1u << 20,
                          fl);
}

static unsigned
parse_flags (int argc, char **argv)
{
  const char *force = getenv ("XCOPY_CLONE_FORCE");
  unsigned fl = 0;

  for (int i = 4; i < argc; i++) {
    if (strcmp (argv[i], "replace") == 0)
      fl |= XCOPY_CLONE_REPLACE;
    else if (strcmp (argv[i], "named") == 0)
      fl |= XCOPY_CLONE_NAMED_TEMP;
    else if (strcmp (argv[i], "source-mode") == 0)
      fl |= XCOPY_CLONE_SOURCE_MODE;
    else {
      fprintf (stderr, "prog-clone: unknown option %s\n", argv[i]);
      exit (2);
    }
  }
  if (force && strcmp (force, "bounce") == 0)
    fl |= XCOPY_F_FORCE_BOUNCE;
  else if (force && strcmp (force, "splice") == 0)
    fl |= XCOPY_F_FORCE_SPLICE;
  else if (force && strcmp (force, "cfr") == 0)
    fl |= XCOPY_F_FORCE_CFR;
  return fl;
}

int
main (int argc, char **argv)
{
  struct xcopy_stats stats = { 0 };
  struct xcopy_stats_snapshot s;
  const char *delay = getenv ("XCOPY_CLONE_DELAY_US");
  int src, dir, r;

  if (argc < 4) {
    fprintf (stderr, "usage: prog-clone SRC DIR NAME [replace] [named] "
             "[source-mode]\n");
    return 2;
  }
  unsigned fl = parse_flags (argc, argv);
  if (delay && (delay_us = (unsigned) atoi (delay)) > 0) {
    xcopy_sys.pwrite = slow_pwrite;
    xcopy_sys.copy_file_range = slow_cfr;
  }
  src = open (argv[1], O_RDONLY | O_CLOEXEC);
  dir = open (argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (src == -1 || dir == -1) {
    perror ("prog-clone: open");
    return 1;
  }
  r = xcopy_clone (src, dir, argv[3], fl, &stats, NULL, NULL);
  if (r < 0) {
    fprintf (stderr, "prog-clone: %s\n", strerror (-r));
    return 1;
  }
  xcopy_stats_snapshot (&stats, &s);
  uint64_t *b = s.bytes;
  printf ("bytes=%ju reflink=%ju cfr=%ju splice=%ju bounce=%ju\n",
          (uintmax_t) (b[XCOPY_M_REFLINK] + b[XCOPY_M_CFR]
                       + b[XCOPY_M_SPLICE] + b[XCOPY_M_BOUNCE]),
          (uintmax_t) b[XCOPY_M_REFLINK], (uintmax_t) b[XCOPY_M_CFR],
          (uintmax_t) b[XCOPY_M_SPLICE], (uintmax_t) b[XCOPY_M_BOUNCE]);
  return 0;
}
