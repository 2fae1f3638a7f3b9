/* iscsi-xcopy: time copies of one range of an iSCSI LU, for bench/run.
 *
 *   iscsi-xcopy --url iscsi://HOST:PORT/IQN/LUN --image FILE
 *               --len BYTES [--src OFFSET] --method NAME:DSTOFFSET ...
 *               [--reps N] [--qd N] [--chunk BYTES]
 *
 * Methods, each copying [src, src+len) of the LU to its own destination
 * offset so that each is verified on its own:
 *
 *   xcopy  EXTENDED COPY (LID1) through the target: two identification
 *          CSCD descriptors (E4h) built from the LU's NAA designator in
 *          VPD page 83h, block -> block segment descriptors (02h) sized
 *          from RECEIVE COPY OPERATING PARAMETERS, as few commands as the
 *          target's limits allow.
 *   rw     READ (16) + WRITE (16) through the target, chunk bytes (1 MiB)
 *          at a time with qd (8) chunks in flight.
 *   raw    copy_file_range(2) on FILE itself, no target involved.
 *
 * FILE is the image the LU serves, on this host: every run starts after
 * syncfs() on it (nothing dirty, the file system's deferred work done),
 * and at the end every method's destination is compared with the source
 * byte for byte; a destination that already equals the source before the
 * first run is refused, so a copy that did nothing cannot pass.  Round i
 * starts with method i mod n, so none always goes first.
 *
 * Prints KEY=VALUE pairs: <method>_best_ms, <method>_median_ms per
 * method, the XCOPY geometry (block_size, seg_blocks, segments,
 * commands) and verified=yes.
 */
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include "iscsi-common.h"

#define PROG "iscsi-xcopy"
#define MAX_METHODS 4
#define MAX_QD 64
#define CMP_CHUNK (1u << 20)

struct method {
  const char *name;
  uint64_t dst;                 /* destination byte offset */
  int (*run) (struct method *m);
  double ms[100];
  size_t n;
};

struct xcopy_geom {
  unsigned char cscd[32];       /* one E4h descriptor, used for both ends */
  uint32_t seg_blocks;          /* blocks per segment descriptor */
  uint32_t segs_per_cmd;
  uint64_t segments, commands;
};

static struct {
  const char *url, *image;
  uint64_t src, len;
  unsigned reps, qd;
  uint32_t chunk;
  struct method m[MAX_METHODS];
  size_t nm;
  struct bench_lu lu;
  int fd;                       /* the image */
  struct xcopy_geom g;
} b;

/* ---- XCOPY: the target's designator and limits ---- */

/* The LU's NAA designator (SPC-4 7.8.6: association 0, type 3) from VPD
 * page 83h, as a designation descriptor in an E4h CSCD descriptor
 * (SPC-4 6.4.5) with the block device parameters.
 */
static void
build_cscd (void)
{
  struct scsi_task *t = iscsi_inquiry_sync (b.lu.iscsi, b.lu.lun, 1, 0x83, 255);
  unsigned char *c = b.g.cscd;
  const unsigned char *d;
  size_t len, at;

  if (t == NULL || t->status != SCSI_STATUS_GOOD || t->datain.size < 4)
    bench_die (PROG, "INQUIRY VPD 83h failed: %s", iscsi_get_error (b.lu.iscsi));
  d = t->datain.data;
  len = 4 + scsi_get_uint16 (d + 2);
  len = len < (size_t) t->datain.size ? len : (size_t) t->datain.size;
  for (at = 4; at + 4 <= len; at += 4 + d[at + 3])
    if ((d[at + 1] & 0x30) == 0 && (d[at + 1] & 0x0f) == 3
        && d[at + 3] <= 20 && at + 4 + d[at + 3] <= len)
      break;
  if (at + 4 > len)
    bench_die (PROG, "VPD 83h: no NAA designator of the LU");
  memset (c, 0, 32);
  c[0] = 0xe4;                  /* identification descriptor CSCD */
  c[1] = 0x00;                  /* LU ID TYPE 0, PERIPHERAL DEVICE TYPE 0 */
  memcpy (c + 4, d + at, 4 + d[at + 3]);
  c[4] &= 0x0f;                 /* the PROTOCOL IDENTIFIER is reserved here */
  c[29] = (unsigned char) (b.lu.block_size >> 16);   /* DISK BLOCK LENGTH */
  c[30] = (unsigned char) (b.lu.block_size >> 8);
  c[31] = (unsigned char) b.lu.block_size;
  scsi_free_scsi_task (t);
}

/* The largest power of two <= v (v >= 1). */
static uint32_t
pow2_floor (uint32_t v)
{
  uint32_t p = 1;

  while (p <= v / 2)
    p *= 2;
  return p;
}

/* Segment size and segments per command from RECEIVE COPY OPERATING
 * PARAMETERS (SPC-4 6.18.4).  A segment moves at most 65535 blocks (the
 * 02h descriptor's NUMBER OF BLOCKS) and MAXIMUM SEGMENT LENGTH bytes;
 * it is rounded down to a power of two so every segment starts on an
 * aligned offset (reflinks need file-system-block alignment).
 */
static void
read_limits (void)
{
  struct scsi_task *t = iscsi_receive_copy_results_sync (b.lu.iscsi, b.lu.lun,
                                                         3, 0, 1024);
  const unsigned char *d;
  uint32_t max_cscd, max_segs, max_list, max_seg_len, blocks = 65535, per_cmd;
  char why[160];

  if (t == NULL || t->status != SCSI_STATUS_GOOD || t->datain.size < 20)
    bench_die (PROG, "RECEIVE COPY OPERATING PARAMETERS: %s",
               t ? bench_task_error (b.lu.iscsi, t, why, sizeof why)
               : iscsi_get_error (b.lu.iscsi));
  d = t->datain.data;
  max_cscd = scsi_get_uint16 (d + 8);
  max_segs = scsi_get_uint16 (d + 10);
  max_list = scsi_get_uint32 (d + 12);
  max_seg_len = scsi_get_uint32 (d + 16);
  scsi_free_scsi_task (t);
  if (max_seg_len != 0 && max_seg_len / b.lu.block_size < blocks)
    blocks = max_seg_len / b.lu.block_size;
  if (blocks == 0 || max_cscd < 2 || max_segs == 0 || max_list < 64 + 28)
    bench_die (PROG, "the target's copy limits are too small: MAXIMUM CSCD "
               "DESCRIPTOR COUNT %" PRIu32 ", MAXIMUM SEGMENT LENGTH %" PRIu32
               ", MAXIMUM SEGMENT DESCRIPTOR COUNT %" PRIu32
               ", MAXIMUM DESCRIPTOR LIST LENGTH %" PRIu32,
               max_cscd, max_seg_len, max_segs, max_list);
  per_cmd = (max_list - 64) / 28;
  b.g.seg_blocks = pow2_floor (blocks);
  b.g.segs_per_cmd = per_cmd < max_segs ? per_cmd : max_segs;
}

/* ---- the methods ---- */

/* One EXTENDED COPY (LID1) of nseg segments from src to dst (blocks),
 * the last one possibly shorter (total blocks in all).  SPC-4 6.4.3:
 * LIST ID USAGE 11b (no list identifier, nothing held).
 */
static int
xcopy_command (uint64_t src, uint64_t dst, uint64_t total, uint32_t nseg)
{
  size_t size = 16 + 64 + (size_t) nseg * 28;
  unsigned char *p = calloc (1, size);
  struct iscsi_data data = { .size = size, .data = p };
  struct scsi_task *t;
  char why[160];
  int r = 0;

  if (p == NULL)
    bench_die (PROG, "out of memory for a parameter list of %zu bytes", size);
  p[1] = 3 << 3;                            /* LIST ID USAGE */
  scsi_set_uint16 (p + 2, 64);              /* CSCD DESCRIPTOR LIST LENGTH */
  scsi_set_uint32 (p + 8, nseg * 28);       /* SEGMENT DESCRIPTOR LIST LENGTH */
  memcpy (p + 16, b.g.cscd, 32);            /* CSCD 0: source */
  memcpy (p + 48, b.g.cscd, 32);            /* CSCD 1: destination */
  for (uint32_t i = 0; i < nseg; i++) {
    unsigned char *s = p + 80 + i * 28;
    uint64_t off = (uint64_t) i * b.g.seg_blocks;
    uint64_t n = total - off < b.g.seg_blocks ? total - off : b.g.seg_blocks;
    s[0] = 0x02;                            /* block -> block */
    scsi_set_uint16 (s + 2, 24);            /* DESCRIPTOR LENGTH */
    scsi_set_uint16 (s + 4, 0);
    scsi_set_uint16 (s + 6, 1);
    scsi_set_uint16 (s + 10, (uint16_t) n);
    scsi_set_uint64 (s + 12, src + off);
    scsi_set_uint64 (s + 20, dst + off);
  }
  t = iscsi_extended_copy_sync (b.lu.iscsi, b.lu.lun, &data);
  if (t == NULL || t->status != SCSI_STATUS_GOOD) {
    fprintf (stderr, PROG ": EXTENDED COPY failed: %s\n",
             t ? bench_task_error (b.lu.iscsi, t, why, sizeof why)
             : iscsi_get_error (b.lu.iscsi));
    r = -EIO;
  }
  if (t)
    scsi_free_scsi_task (t);
  free (p);
  return r;
}

static int
run_xcopy (struct method *m)
{
  uint64_t bs = b.lu.block_size, src = b.src / bs, dst = m->dst / bs;
  uint64_t left = b.len / bs, per_cmd = (uint64_t) b.g.seg_blocks * b.g.segs_per_cmd;

  b.g.segments = (left + b.g.seg_blocks - 1) / b.g.seg_blocks;
  b.g.commands = 0;
  while (left > 0) {
    uint64_t n = left < per_cmd ? left : per_cmd;
    uint32_t nseg = (uint32_t) ((n + b.g.seg_blocks - 1) / b.g.seg_blocks);
    if (xcopy_command (src, dst, n, nseg) < 0)
      return -EIO;
    b.g.commands++;
    src += n;
    dst += n;
    left -= n;
  }
  return 0;
}

/* READ + WRITE: each slot reads a chunk, writes it, takes the next. */
struct rw_slot {
  struct scsi_iovec iov;
  uint64_t off;                 /* byte offset within the range */
  bool writing;
};

static struct {
  struct rw_slot s[MAX_QD];
  uint64_t next, dst;
  unsigned inflight;
  int error;
} rw;

static void rw_done (struct iscsi_context *iscsi, int status, void *cd, void *pd);

static void
rw_issue (struct rw_slot *s)
{
  uint32_t n = b.len - s->off < b.chunk ? (uint32_t) (b.len - s->off) : b.chunk;
  uint32_t bs = b.lu.block_size;
  struct scsi_task *t;

  s->iov.iov_len = n;
  if (s->writing)
    t = iscsi_write16_iov_task (b.lu.iscsi, b.lu.lun, (rw.dst + s->off) / bs,
                                NULL, n, bs, 0, 0, 0, 0, 0, rw_done, s,
                                &s->iov, 1);
  else
    t = iscsi_read16_iov_task (b.lu.iscsi, b.lu.lun, (b.src + s->off) / bs,
                               n, bs, 0, 0, 0, 0, 0, rw_done, s, &s->iov, 1);
  if (t == NULL)
    bench_die (PROG, "queueing a command: %s", iscsi_get_error (b.lu.iscsi));
  rw.inflight++;
}

/* Start the slot on the next chunk, if any is left. */
static void
rw_next (struct rw_slot *s)
{
  if (rw.next >= b.len || rw.error)
    return;
  s->off = rw.next;
  s->writing = false;
  rw.next += b.chunk;
  rw_issue (s);
}

static void
rw_done (struct iscsi_context *iscsi, int status, void *cd, void *pd)
{
  struct rw_slot *s = pd;
  struct scsi_task *t = cd;
  char why[160];

  rw.inflight--;
  if (status != SCSI_STATUS_GOOD || t == NULL || t->status != SCSI_STATUS_GOOD
      || t->residual_status != SCSI_RESIDUAL_NO_RESIDUAL) {
    if (rw.error++ == 0)
      fprintf (stderr, PROG ": %s at byte %" PRIu64 " failed: %s\n",
               s->writing ? "WRITE (16)" : "READ (16)", s->off,
               t ? bench_task_error (iscsi, t, why, sizeof why)
               : iscsi_get_error (iscsi));
  }
  if (t)
    scsi_free_scsi_task (t);
  if (rw.error)
    return;
  if (!s->writing) {
    s->writing = true;
    rw_issue (s);
  }
  else
    rw_next (s);
}

static int
run_rw (struct method *m)
{
  rw.next = 0;
  rw.dst = m->dst;
  rw.error = 0;
  for (unsigned i = 0; i < b.qd; i++)
    if (rw.s[i].iov.iov_base == NULL
        && (rw.s[i].iov.iov_base = malloc (b.chunk)) == NULL)
      bench_die (PROG, "out of memory for %u chunks of %" PRIu32, b.qd, b.chunk);
  for (unsigned i = 0; i < b.qd; i++)
    rw_next (&rw.s[i]);
  while (rw.inflight > 0)
    if (bench_service (b.lu.iscsi, 1000) < 0)
      bench_die (PROG, "session failed: %s", iscsi_get_error (b.lu.iscsi));
  return rw.error ? -EIO : 0;
}

static int
run_raw (struct method *m)
{
  for (uint64_t done = 0; done < b.len; ) {
    off_t si = (off_t) (b.src + done), di = (off_t) (m->dst + done);
    ssize_t r = copy_file_range (b.fd, &si, b.fd, &di, b.len - done, 0);
    if (r <= 0) {
      fprintf (stderr, PROG ": copy_file_range: %s\n",
               r == 0 ? "copied nothing" : strerror (errno));
      return -EIO;
    }
    done += (uint64_t) r;
  }
  return 0;
}

/* ---- timing and verification ---- */

static void
pread_all (unsigned char *buf, size_t n, uint64_t off)
{
  while (n > 0) {
    ssize_t r = pread (b.fd, buf, n, (off_t) off);
    if (r <= 0)
      bench_die (PROG, "reading %s at %" PRIu64 ": %s", b.image, off,
                 r == 0 ? "unexpected end of file" : strerror (errno));
    buf += r;
    n -= (size_t) r;
    off += (uint64_t) r;
  }
}

/* Whether [dst, dst+len) of the image equals [src, src+len), read on
 * the host (stops at the first chunk that differs).
 */
static bool
region_equal (uint64_t dst)
{
  static unsigned char *x, *y;

  if (x == NULL && ((x = malloc (CMP_CHUNK)) == NULL
                    || (y = malloc (CMP_CHUNK)) == NULL))
    bench_die (PROG, "out of memory");
  for (uint64_t off = 0; off < b.len; off += CMP_CHUNK) {
    size_t n = b.len - off < CMP_CHUNK ? b.len - off : CMP_CHUNK;
    pread_all (x, n, b.src + off);
    pread_all (y, n, dst + off);
    if (memcmp (x, y, n) != 0)
      return false;
  }
  return true;
}

static void
time_one (struct method *m)
{
  double t0;

  if (syncfs (b.fd) == -1)
    bench_die (PROG, "syncfs %s: %s", b.image, strerror (errno));
  t0 = bench_now ();
  if (m->run (m) < 0)
    bench_die (PROG, "method %s failed", m->name);
  m->ms[m->n++] = (bench_now () - t0) * 1e3;
}

static int
cmp_double (const void *x, const void *y)
{
  double u = *(const double *) x, v = *(const double *) y;

  return u < v ? -1 : u > v;
}

static void
report (void)
{
  for (size_t i = 0; i < b.nm; i++) {
    struct method *m = &b.m[i];
    qsort (m->ms, m->n, sizeof *m->ms, cmp_double);
    printf ("%s_best_ms=%.4f %s_median_ms=%.4f ", m->name, m->ms[0],
            m->name, m->n % 2 ? m->ms[m->n / 2]
            : (m->ms[m->n / 2 - 1] + m->ms[m->n / 2]) / 2);
  }
  printf ("reps=%u block_size=%" PRIu32, b.reps, b.lu.block_size);
  if (b.g.seg_blocks)
    printf (" seg_blocks=%" PRIu32 " segments=%" PRIu64 " commands=%" PRIu64,
            b.g.seg_blocks, b.g.segments, b.g.commands);
  printf (" verified=yes\n");
}

/* ---- arguments ---- */

static void __attribute__ ((noreturn))
usage (int code)
{
  fprintf (code ? stderr : stdout,
           "usage: " PROG " --url iscsi://HOST:PORT/IQN/LUN --image FILE\n"
           "         --len BYTES [--src OFFSET (0)]\n"
           "         --method xcopy|rw|raw:DSTOFFSET ... [--reps N (5)]\n"
           "         [--qd N (8)] [--chunk BYTES (1M)]\n");
  exit (code);
}

static void
add_method (const char *arg)
{
  static const struct { const char *name; int (*run) (struct method *); } k[] = {
    { "xcopy", run_xcopy }, { "rw", run_rw }, { "raw", run_raw },
  };
  const char *colon = strchr (arg, ':');
  struct method *m = &b.m[b.nm];

  if (b.nm == MAX_METHODS)
    bench_die (PROG, "--method %s: at most %d methods", arg, MAX_METHODS);
  for (size_t i = 0; colon && i < sizeof k / sizeof *k; i++)
    if (strlen (k[i].name) == (size_t) (colon - arg)
        && strncmp (arg, k[i].name, strlen (k[i].name)) == 0) {
      m->name = k[i].name;
      m->run = k[i].run;
    }
  if (m->name == NULL)
    bench_die (PROG, "--method %s: not xcopy:OFFSET, rw:OFFSET or raw:OFFSET", arg);
  if ((m->dst = bench_parse_size (colon + 1)) == 0)
    bench_die (PROG, "--method %s: the destination offset must be a size "
               "above 0", arg);
  b.nm++;
}

static uint64_t
parse_opt_size (const char *opt, const char *s, uint64_t max)
{
  uint64_t v = bench_parse_size (s);

  if ((v == 0 && strcmp (s, "0") != 0) || v > max)
    bench_die (PROG, "%s %s: not a size up to %" PRIu64, opt, s, max);
  return v;
}

static void
parse_args (int argc, char **argv)
{
  static const struct option longopts[] = {
    { "url", required_argument, NULL, 'u' },
    { "image", required_argument, NULL, 'i' },
    { "src", required_argument, NULL, 's' },
    { "len", required_argument, NULL, 'l' },
    { "method", required_argument, NULL, 'm' },
    { "reps", required_argument, NULL, 'r' },
    { "qd", required_argument, NULL, 'q' },
    { "chunk", required_argument, NULL, 'c' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int c;

  b.reps = 5;
  b.qd = 8;
  b.chunk = 1u << 20;
  while ((c = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
    case 'u': b.url = optarg; break;
    case 'i': b.image = optarg; break;
    case 's': b.src = parse_opt_size ("--src", optarg, UINT64_MAX); break;
    case 'l': b.len = parse_opt_size ("--len", optarg, UINT64_MAX); break;
    case 'm': add_method (optarg); break;
    case 'r': b.reps = (unsigned) parse_opt_size ("--reps", optarg, 100); break;
    case 'q': b.qd = (unsigned) parse_opt_size ("--qd", optarg, MAX_QD); break;
    case 'c': b.chunk = (uint32_t) parse_opt_size ("--chunk", optarg, 16u << 20); break;
    case 'h': usage (0);
    default: usage (2);
    }
  }
  if (optind != argc || !b.url || !b.image || b.len == 0 || b.nm == 0
      || b.reps == 0 || b.qd == 0 || b.chunk == 0)
    usage (2);
}

/* Offsets and lengths in whole blocks, inside the LU, destinations not
 * overlapping the source; and every destination differs from the source
 * before the first copy.
 */
static void
check_ranges (void)
{
  uint64_t bs = b.lu.block_size, size = b.lu.blocks * bs;

  if (b.src % bs || b.len % bs || b.chunk % bs)
    bench_die (PROG, "--src, --len and --chunk must be multiples of the LU's "
               "block length %" PRIu64, bs);
  if (b.src > size || b.len > size - b.src)
    bench_die (PROG, "--src %" PRIu64 " --len %" PRIu64 ": past the end of "
               "the LU (%" PRIu64 " bytes)", b.src, b.len, size);
  for (size_t i = 0; i < b.nm; i++) {
    struct method *m = &b.m[i];
    if (m->dst % bs || m->dst > size || b.len > size - m->dst)
      bench_die (PROG, "--method %s:%" PRIu64 ": not block-aligned or past "
                 "the end of the LU", m->name, m->dst);
    if (m->dst < b.src + b.len && b.src < m->dst + b.len)
      bench_die (PROG, "--method %s:%" PRIu64 ": overlaps the source",
                 m->name, m->dst);
    if (region_equal (m->dst))
      bench_die (PROG, "--method %s:%" PRIu64 ": the destination already "
                 "equals the source, so the copy could not be verified",
                 m->name, m->dst);
  }
}

int
main (int argc, char **argv)
{
  bool xcopy = false;

  parse_args (argc, argv);
  b.fd = open (b.image, O_RDWR | O_CLOEXEC);
  if (b.fd == -1)
    bench_die (PROG, "--image %s: %s", b.image, strerror (errno));
  bench_connect (PROG, b.url, &b.lu);
  check_ranges ();
  for (size_t i = 0; i < b.nm; i++)
    xcopy |= b.m[i].run == run_xcopy;
  if (xcopy) {
    build_cscd ();
    read_limits ();
  }
  for (unsigned i = 0; i < b.reps; i++)
    for (size_t j = 0; j < b.nm; j++)
      time_one (&b.m[(i + j) % b.nm]);
  for (size_t i = 0; i < b.nm; i++)
    if (!region_equal (b.m[i].dst))
      bench_die (PROG, "method %s: the destination at %" PRIu64 " differs "
                 "from the source after the copy", b.m[i].name, b.m[i].dst);
  report ();
  bench_disconnect (&b.lu);
  close (b.fd);
  return 0;
}
