/* iscsi-load: a small iSCSI load generator on libiscsi's asynchronous
 * API, for bench/run's data-path comparison of xcopyd and tgtd.
 *
 *   iscsi-load --url iscsi://HOST:PORT/IQN/LUN
 *              --pattern randread|randwrite|seqread|seqwrite
 *              [--bs BYTES] [--qd N] [--seconds N] [--ramp N]
 *              [--size BYTES] [--json]
 *
 * Keeps qd READ (16) or WRITE (16) commands of bs bytes in flight on one
 * session for ramp + seconds, and counts those that complete in the last
 * `seconds`.  Every completion must be GOOD with no residual; anything
 * else is counted, the first few are printed, and the exit status is 1.
 * Prints one line of KEY=VALUE pairs (iops, mibps, ios, errors, ...) or,
 * with --json, one JSON object.  --size limits the I/O to the first
 * BYTES of the LU (default: all of it).
 */
#include <getopt.h>
#include <unistd.h>

#include "iscsi-common.h"

#define PROG "iscsi-load"
#define MAX_QD 256
#define MAX_SHOWN_ERRORS 5

enum pattern { RANDREAD, RANDWRITE, SEQREAD, SEQWRITE };
static const char *const pattern_names[] = {
  "randread", "randwrite", "seqread", "seqwrite",
};

struct opts {
  const char *url;
  enum pattern pattern;
  uint32_t bs;
  unsigned qd;
  double seconds, ramp;
  uint64_t size;
  bool json;
};

struct load;

struct slot {
  struct load *ld;
  unsigned char *buf;
  struct scsi_iovec iov;        /* libiscsi keeps a pointer until completion */
};

struct load {
  struct opts o;
  struct bench_lu lu;
  uint64_t units;               /* bs-sized units in the region */
  uint64_t next_unit;           /* sequential patterns */
  uint64_t rng;                 /* xorshift64 state */
  double start, end;            /* the measured window */
  unsigned inflight;
  uint64_t ios, errors;
  double lat_sum;               /* seconds, over the measured commands */
  struct slot slots[MAX_QD];
  double issued[MAX_QD];
};

static bool
is_write (const struct load *ld)
{
  return ld->o.pattern == RANDWRITE || ld->o.pattern == SEQWRITE;
}

static uint64_t
next_lba (struct load *ld)
{
  uint64_t unit;

  if (ld->o.pattern == RANDREAD || ld->o.pattern == RANDWRITE) {
    ld->rng ^= ld->rng << 13;
    ld->rng ^= ld->rng >> 7;
    ld->rng ^= ld->rng << 17;
    unit = ld->rng % ld->units;
  }
  else {
    unit = ld->next_unit;
    ld->next_unit = (ld->next_unit + 1) % ld->units;
  }
  return unit * (ld->o.bs / ld->lu.block_size);
}

static void complete (struct iscsi_context *iscsi, int status,
                      void *command_data, void *private_data);

static void
submit (struct slot *s)
{
  struct load *ld = s->ld;
  uint64_t lba = next_lba (ld);
  struct scsi_task *t;

  if (is_write (ld))
    t = iscsi_write16_iov_task (ld->lu.iscsi, ld->lu.lun, lba, NULL,
                                ld->o.bs, ld->lu.block_size, 0, 0, 0, 0, 0,
                                complete, s, &s->iov, 1);
  else
    t = iscsi_read16_iov_task (ld->lu.iscsi, ld->lu.lun, lba, ld->o.bs,
                               ld->lu.block_size, 0, 0, 0, 0, 0,
                               complete, s, &s->iov, 1);
  if (t == NULL)
    bench_die (PROG, "queueing a command: %s", iscsi_get_error (ld->lu.iscsi));
  ld->issued[s - ld->slots] = bench_now ();
  ld->inflight++;
}

/* A completed command: check it, count it if it ended inside the
 * measured window, and send the next one unless the window is over.
 */
static void
complete (struct iscsi_context *iscsi, int status, void *command_data,
          void *private_data)
{
  struct slot *s = private_data;
  struct load *ld = s->ld;
  struct scsi_task *t = command_data;
  double now = bench_now ();
  char why[160];

  ld->inflight--;
  if (status != SCSI_STATUS_GOOD || t == NULL || t->status != SCSI_STATUS_GOOD
      || t->residual_status != SCSI_RESIDUAL_NO_RESIDUAL) {
    if (ld->errors++ < MAX_SHOWN_ERRORS)
      fprintf (stderr, PROG ": %s failed: %s%s\n",
               is_write (ld) ? "WRITE (16)" : "READ (16)",
               t ? bench_task_error (iscsi, t, why, sizeof why)
               : iscsi_get_error (iscsi),
               t && t->status == SCSI_STATUS_GOOD ? " with a residual" : "");
  }
  else if (now >= ld->start && now <= ld->end) {
    ld->ios++;
    ld->lat_sum += now - ld->issued[s - ld->slots];
  }
  if (t)
    scsi_free_scsi_task (t);
  if (now < ld->end && ld->errors == 0)
    submit (s);
}

static void
run (struct load *ld)
{
  double t0 = bench_now ();

  ld->start = t0 + ld->o.ramp;
  ld->end = ld->start + ld->o.seconds;
  for (unsigned i = 0; i < ld->o.qd; i++)
    submit (&ld->slots[i]);
  while (ld->inflight > 0) {
    int r = bench_service (ld->lu.iscsi, 1000);
    if (r < 0)
      bench_die (PROG, "session failed: %s", iscsi_get_error (ld->lu.iscsi));
    if (bench_now () > ld->end + 60)
      bench_die (PROG, "%u commands still outstanding 60 s after the end",
                 ld->inflight);
  }
}

static void
setup_slots (struct load *ld)
{
  for (unsigned i = 0; i < ld->o.qd; i++) {
    struct slot *s = &ld->slots[i];
    s->ld = ld;
    if (posix_memalign ((void **) &s->buf, 4096, ld->o.bs) != 0)
      bench_die (PROG, "out of memory for %u buffers of %" PRIu32,
                 ld->o.qd, ld->o.bs);
    /* Writes carry data that is neither zero nor the same in every
     * block, so no layer can shortcut them.
     */
    for (uint32_t j = 0; j < ld->o.bs; j++)
      s->buf[j] = (unsigned char) (j * 31 + i * 7 + 1);
    s->iov.iov_base = s->buf;
    s->iov.iov_len = ld->o.bs;
  }
}

static void
report (const struct load *ld)
{
  double iops = ld->ios / ld->o.seconds;
  double mibps = iops * ld->o.bs / (1024.0 * 1024.0);
  double lat_us = ld->ios ? ld->lat_sum / ld->ios * 1e6 : 0;
  const char *p = pattern_names[ld->o.pattern];

  if (ld->o.json)
    printf ("{\"pattern\": \"%s\", \"bs\": %" PRIu32 ", \"qd\": %u, "
            "\"seconds\": %.3f, \"ios\": %" PRIu64 ", \"iops\": %.1f, "
            "\"mibps\": %.2f, \"lat_avg_us\": %.1f, \"errors\": %" PRIu64
            "}\n", p, ld->o.bs, ld->o.qd, ld->o.seconds, ld->ios, iops,
            mibps, lat_us, ld->errors);
  else
    printf ("pattern=%s bs=%" PRIu32 " qd=%u seconds=%.3f ios=%" PRIu64
            " iops=%.1f mibps=%.2f lat_avg_us=%.1f errors=%" PRIu64 "\n",
            p, ld->o.bs, ld->o.qd, ld->o.seconds, ld->ios, iops, mibps,
            lat_us, ld->errors);
}

static void __attribute__ ((noreturn))
usage (int code)
{
  fprintf (code ? stderr : stdout,
           "usage: " PROG " --url iscsi://HOST:PORT/IQN/LUN\n"
           "         --pattern randread|randwrite|seqread|seqwrite\n"
           "         [--bs BYTES (4096)] [--qd N (32)] [--seconds N (5)]\n"
           "         [--ramp N (0)] [--size BYTES (the LU)] [--json]\n");
  exit (code);
}

static enum pattern
parse_pattern (const char *s)
{
  for (size_t i = 0; i < sizeof pattern_names / sizeof *pattern_names; i++)
    if (strcmp (s, pattern_names[i]) == 0)
      return (enum pattern) i;
  bench_die (PROG, "--pattern %s: not randread, randwrite, seqread or "
             "seqwrite", s);
}

static double
parse_seconds (const char *opt, const char *s, double min)
{
  char *end;
  double v = strtod (s, &end);

  if (end == s || *end != '\0' || !(v >= min) || v > 3600)
    bench_die (PROG, "%s %s: not a number of seconds from %g to 3600",
               opt, s, min);
  return v;
}

static void
parse_args (int argc, char **argv, struct opts *o)
{
  static const struct option longopts[] = {
    { "url", required_argument, NULL, 'u' },
    { "pattern", required_argument, NULL, 'p' },
    { "bs", required_argument, NULL, 'b' },
    { "qd", required_argument, NULL, 'q' },
    { "seconds", required_argument, NULL, 's' },
    { "ramp", required_argument, NULL, 'r' },
    { "size", required_argument, NULL, 'z' },
    { "json", no_argument, NULL, 'j' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int c, pattern_set = 0;

  *o = (struct opts) { .bs = 4096, .qd = 32, .seconds = 5 };
  while ((c = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
    case 'u': o->url = optarg; break;
    case 'p': o->pattern = parse_pattern (optarg); pattern_set = 1; break;
    case 'b':
      o->bs = (uint32_t) bench_parse_size (optarg);
      if (o->bs == 0 || o->bs > (16u << 20))
        bench_die (PROG, "--bs %s: not a size from 1 byte to 16M", optarg);
      break;
    case 'q':
      o->qd = (unsigned) atoi (optarg);
      if (o->qd < 1 || o->qd > MAX_QD)
        bench_die (PROG, "--qd %s: not from 1 to %d", optarg, MAX_QD);
      break;
    case 's': o->seconds = parse_seconds ("--seconds", optarg, 0.1); break;
    case 'r': o->ramp = parse_seconds ("--ramp", optarg, 0); break;
    case 'z':
      if ((o->size = bench_parse_size (optarg)) == 0)
        bench_die (PROG, "--size %s: not a size", optarg);
      break;
    case 'j': o->json = true; break;
    case 'h': usage (0);
    default: usage (2);
    }
  }
  if (optind != argc || o->url == NULL || !pattern_set)
    usage (2);
}

int
main (int argc, char **argv)
{
  static struct load ld;
  uint64_t lu_bytes;

  parse_args (argc, argv, &ld.o);
  bench_connect (PROG, ld.o.url, &ld.lu);
  lu_bytes = ld.lu.blocks * ld.lu.block_size;
  if (ld.o.bs % ld.lu.block_size != 0)
    bench_die (PROG, "--bs %" PRIu32 ": not a multiple of the LU's block "
               "length %" PRIu32, ld.o.bs, ld.lu.block_size);
  if (ld.o.size == 0 || ld.o.size > lu_bytes)
    ld.o.size = lu_bytes;
  ld.units = ld.o.size / ld.o.bs;
  if (ld.units == 0)
    bench_die (PROG, "--bs %" PRIu32 ": larger than the region (%" PRIu64
               " bytes)", ld.o.bs, ld.o.size);
  ld.rng = 0x9e3779b97f4a7c15u ^ (uint64_t) getpid ();
  setup_slots (&ld);
  run (&ld);
  report (&ld);
  bench_disconnect (&ld.lu);
  return ld.errors ? 1 : 0;
}
