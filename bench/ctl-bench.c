/* ctl-bench: time range operations through the plugin's control socket
 * against the raw system call, for bench/run.
 *
 *   ctl-bench raw FILE LEN REPS          copy_file_range [0,LEN) -> [LEN,2LEN)
 *   ctl-bench copy SOCK EXPORT LEN REPS  the same COPY through the socket
 *   ctl-bench rtt SOCK EXPORT N          N small COPYs, one at a time
 *
 * Prints KEY=VALUE pairs: best_ms/median_ms, or p50_us/p99_us.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "xcopy/proto.h"
#include "xcopy/wire.h"

static void __attribute__ ((noreturn))
die (const char *what, const char *why)
{
  fprintf (stderr, "ctl-bench: %s: %s\n", what, why);
  exit (1);
}

static double
now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
percentile (double *v, size_t n, double p)
{
  qsort (v, n, sizeof *v, cmp_double);
  return v[(size_t) (p * (n - 1) + 0.5)];
}

static void
io_all (int fd, void *buf, size_t len, bool out)
{
  unsigned char *p = buf;

  while (len > 0) {
    ssize_t r = out ? send (fd, p, len, MSG_NOSIGNAL) : recv (fd, p, len, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      die (out ? "send" : "recv", r == 0 ? "connection closed" : strerror (errno));
    p += r;
    len -= r;
  }
}

/* One request, one reply; the reply must be a success. */
static void
round_trip (int fd, struct xcopy_proto_request *req,
            struct xcopy_proto_reply *rep)
{
  static uint64_t serial;
  unsigned char hb[XCOPY_PROTO_HEADER_SIZE];
  struct xcopy_proto_header h;
  struct xcopy_proto_err e;
  struct xcopy_wbuf w;
  unsigned char *payload;

  req->serial = ++serial;
  xcopy_wbuf_init (&w, XCOPY_PROTO_HEADER_SIZE + XCOPY_PROTO_MAX_PAYLOAD);
  if (xcopy_proto_encode_request (req, &w, &e) < 0)
    die ("encode", e.msg);
  io_all (fd, w.data, w.len, true);
  xcopy_wbuf_free (&w);
  io_all (fd, hb, sizeof hb, false);
  xcopy_proto_get_header (hb, &h);
  if (h.length > XCOPY_PROTO_MAX_PAYLOAD || !(payload = malloc (h.length + 1)))
    die ("reply", "too long");
  io_all (fd, payload, h.length, false);
  if (xcopy_proto_decode_reply (&h, payload, h.length, rep, &e) < 0)
    die ("decode", e.msg);
  free (payload);
  if (rep->status)
    die ("server", rep->u.error.message);
}

static int
connect_hello (const char *path)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  struct xcopy_proto_request req = { .opcode = XCOPY_OP_HELLO };
  struct xcopy_proto_reply rep;
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (strlen (path) >= sizeof sa.sun_path)
    die (path, "socket path too long");
  strcpy (sa.sun_path, path);
  if (fd < 0 || connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    die (path, strerror (errno));
  req.u.hello.min_version = XCOPY_PROTO_VERSION_MIN;
  req.u.hello.max_version = XCOPY_PROTO_VERSION_MAX;
  snprintf (req.u.hello.name, sizeof req.u.hello.name, "ctl-bench");
  round_trip (fd, &req, &rep);
  xcopy_proto_reply_free (&rep);
  return fd;
}

static void
copy_once (int fd, const char *export, struct xcopy_range *r)
{
  struct xcopy_proto_request req = { .opcode = XCOPY_OP_COPY };
  struct xcopy_proto_reply rep;

  snprintf (req.u.copy.src, sizeof req.u.copy.src, "%s", export);
  snprintf (req.u.copy.dst, sizeof req.u.copy.dst, "%s", export);
  req.u.copy.ranges = r;
  req.u.copy.count = 1;
  round_trip (fd, &req, &rep);
  xcopy_proto_reply_free (&rep);
}

static void
print_times (double *us, size_t n)
{
  double best = us[0];

  for (size_t i = 1; i < n; i++)
    best = us[i] < best ? us[i] : best;
  printf ("best_ms=%.6f median_ms=%.6f reps=%zu\n", best / 1e3,
          percentile (us, n, 0.5) / 1e3, n);
}

static void
cmd_raw (const char *file, uint64_t len, size_t reps)
{
  double *us = calloc (reps, sizeof *us);
  int fd = open (file, O_RDWR | O_CLOEXEC);

  if (fd < 0 || us == NULL)
    die (file, strerror (errno));
  for (size_t i = 0; i < reps; i++) {
    double t = now_us ();
    for (uint64_t done = 0; done < len; ) {
      off_t si = done, di = len + done;
      ssize_t r = copy_file_range (fd, &si, fd, &di, len - done, 0);
      if (r <= 0)
        die ("copy_file_range", r == 0 ? "copied nothing" : strerror (errno));
      done += r;
    }
    us[i] = now_us () - t;
  }
  close (fd);
  print_times (us, reps);
  free (us);
}

int
main (int argc, char **argv)
{
  if (argc == 5 && strcmp (argv[1], "raw") == 0) {
    size_t reps = strtoul (argv[4], NULL, 0);
    if (reps == 0 || reps > 1000)
      die ("reps", "1 to 1000");
    cmd_raw (argv[2], strtoull (argv[3], NULL, 0), reps);
  }
  else if (argc == 6 && strcmp (argv[1], "copy") == 0) {
    size_t reps = strtoul (argv[5], NULL, 0);
    uint64_t len = strtoull (argv[4], NULL, 0);
    struct xcopy_range r = { 0, len, len };
    double *us = calloc (reps ? reps : 1, sizeof *us);
    int fd = connect_hello (argv[2]);
    if (reps == 0 || us == NULL)
      die ("reps", "at least 1");
    for (size_t i = 0; i < reps; i++) {
      double t = now_us ();
      copy_once (fd, argv[3], &r);
      us[i] = now_us () - t;
    }
    print_times (us, reps);
    free (us);
  }
  else if (argc == 5 && strcmp (argv[1], "rtt") == 0) {
    size_t n = strtoul (argv[4], NULL, 0);
    double *us = calloc (n ? n : 1, sizeof *us);
    int fd = connect_hello (argv[2]);
    if (n == 0 || us == NULL)
      die ("n", "at least 1");
    for (size_t i = 0; i < n; i++) {
      struct xcopy_range r = { (i % 64) * 4096, (64 + i % 64) * 4096, 4096 };
      double t = now_us ();
      copy_once (fd, argv[3], &r);
      us[i] = now_us () - t;
    }
    printf ("p50_us=%.1f p99_us=%.1f n=%zu\n", percentile (us, n, 0.5),
            percentile (us, n, 0.99), n);
    free (us);
  }
  else
    die ("usage", "raw FILE LEN REPS | copy SOCK EXPORT LEN REPS | rtt SOCK EXPORT N");
  return 0;
}
