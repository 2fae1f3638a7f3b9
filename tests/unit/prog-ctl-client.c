/* xcopyd: a small control-protocol client for the shell scenarios
 * (tests/func/test-control-*.sh).  Unlike xcopyctl it can send anything:
 * well-formed requests through the codec, the same with header fields
 * patched afterwards, truncated frames, or raw bytes from hex.
 *
 *   prog-ctl-client [-s] SOCKET COMMAND...
 *
 * Each COMMAND is one argument, words separated by spaces, run in order
 * on one connection.  Every reply is printed on one line (arrays on
 * indented lines below it):
 *
 *   R serial=3 op=COPY status=ERANGE closing=0 bytes_done=0 ...
 *     msg="range 0: dst end 2M beyond export size 1M"
 *
 * Commands:
 *   hello [caps=N] [min=N] [max=N] [name=S] | list | stat NAME | stat-all
 *   copy SRC DST S:D:L[,S:D:L...]|@FILE ("S D L" lines) | flush NAME
 *   fill NAME OFF LEN HEXPATTERN | zero NAME OFF LEN | extents NAME OFF LEN
 *   unmap NAME OFF:LEN[,...] | clone SRC DST | jobs [ID] | cancel ID
 *   wait-job ID [min=BYTES]          (ID "last": the last job started)
 *   raw HEX (send, read one reply) | send HEX | recv | eof | half-close
 *   sleep MS | reconnect
 * Export name "-" stands for the empty name.  Sizes take K, M, G, T
 * suffixes.  Options on request commands: flags=A|B|0xN, serial=N,
 * expect=ERRNAME|0, and header patches applied after encoding:
 * hmagic= hversion= hopcode= hflags= hstatus= hlength= hcount=, and
 * poke=OFFSET:HEX (overwrite frame bytes from OFFSET), plus
 * trunc=N (send only N bytes, then half-close), extra=HEX (append), and
 * noreply=1 (send only: read the reply later with recv; pipelining).
 *
 * -s prints "sent SERIAL" once a request is on its way.  Exit status: 0,
 * 1 when a reply did not match its expect= (default: success), 2 on a
 * usage or connection error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "xcopy/proto.h"

#define MAXW 64

static const char *sock_path;
static int fd = -1;
static bool print_sent;
static uint64_t next_serial = 1;
static uint64_t last_job;
static int status;                 /* the exit status */

/* The words of one command, and its options. */
struct cmd {
  char *w[MAXW];
  int n;
  const char *opt_flags, *opt_expect, *opt_trunc, *opt_extra, *opt_poke;
  bool noreply;
  const char *patch[8];             /* hmagic ... hcount */
  const char *opt_serial;
};

static const char *const patch_names[] = {
  "hmagic", "hversion", "hopcode", "hflags", "hstatus", "hlength", "hcount",
};
#define NPATCH (sizeof patch_names / sizeof patch_names[0])

static _Noreturn void
die (const char *fmt, const char *arg)
{
  fprintf (stderr, "prog-ctl-client: ");
  fprintf (stderr, fmt, arg);
  fputc ('\n', stderr);
  exit (2);
}

/* ---- parsing ----------------------------------------------------------- */

static uint64_t
parse_size (const char *s)
{
  char *end;
  uint64_t v;

  errno = 0;
  v = strtoull (s, &end, 0);
  if (errno || end == s)
    die ("bad number '%s'", s);
  switch (*end) {
  case 'K': v <<= 10; end++; break;
  case 'M': v <<= 20; end++; break;
  case 'G': v <<= 30; end++; break;
  case 'T': v <<= 40; end++; break;
  }
  if (*end)
    die ("bad number '%s'", s);
  return v;
}

static uint32_t
parse_flags (const char *s)
{
  static const struct { const char *name; uint32_t bit; } names[] = {
    { "ASYNC", XCOPY_PROTO_F_ASYNC }, { "SYNC", XCOPY_PROTO_F_SYNC },
    { "ALLOCATE", XCOPY_PROTO_F_ALLOCATE },
    { "MAY_TRIM", XCOPY_PROTO_F_MAY_TRIM }, { "FAST", XCOPY_PROTO_F_FAST },
    { "REPLACE", XCOPY_PROTO_F_REPLACE },
    { "ALL_EXPORTS", XCOPY_PROTO_F_ALL_EXPORTS },
    { "NO_REFLINK", XCOPY_PROTO_F_NO_REFLINK },
    { "NO_CFR", XCOPY_PROTO_F_NO_CFR }, { "NO_SPLICE", XCOPY_PROTO_F_NO_SPLICE },
    { "BOUNCE", XCOPY_PROTO_F_LADDER },
  };
  char buf[256], *tok, *save;
  uint32_t f = 0;
  size_t i;

  snprintf (buf, sizeof buf, "%s", s);
  for (tok = strtok_r (buf, "|", &save); tok; tok = strtok_r (NULL, "|", &save)) {
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
      if (strcmp (tok, names[i].name) == 0)
        break;
    }
    f |= i < sizeof names / sizeof names[0] ? names[i].bit
      : (uint32_t) parse_size (tok);
  }
  return f;
}

/* Hex digits (spaces, '|' and newlines ignored) into a malloc'd buffer. */
static unsigned char *
parse_hex (const char *s, size_t *len)
{
  unsigned char *b = malloc (strlen (s) / 2 + 1);
  unsigned v = 0, nib = 0;

  *len = 0;
  for (; b && *s; s++) {
    if (*s == ' ' || *s == '|' || *s == '\n')
      continue;
    if (*s >= '0' && *s <= '9')
      v = *s - '0';
    else if ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
      v = (*s | 0x20) - 'a' + 10;
    else
      die ("bad hex at '%s'", s);
    if (nib++ % 2 == 0)
      b[*len] = v << 4;
    else
      b[(*len)++] |= v;
  }
  if (b == NULL || nib % 2)
    die ("bad hex '%s'", s);
  return b;
}

static int
errno_of (const char *name)
{
  for (int e = 1; e < 4096; e++) {
    const char *n = strerrorname_np (e);

    if (n && strcmp (n, name) == 0)
      return e;
  }
  return (int) parse_size (name);
}

static const char *
export_name (const char *w)
{
  return strcmp (w, "-") == 0 ? "" : w;
}

static void
set_name (xcopy_proto_name out, const char *w)
{
  snprintf (out, sizeof (xcopy_proto_name), "%s", export_name (w));
}

/* Split a command into words; take out the key=value options. */
static void
split (char *line, struct cmd *c)
{
  char *tok, *save, *eq;
  size_t i;

  memset (c, 0, sizeof *c);
  for (tok = strtok_r (line, " ", &save); tok && c->n < MAXW;
       tok = strtok_r (NULL, " ", &save)) {
    eq = strchr (tok, '=');
    if (eq && c->n > 0) {
      *eq++ = '\0';
      if (strcmp (tok, "flags") == 0) { c->opt_flags = eq; continue; }
      if (strcmp (tok, "expect") == 0) { c->opt_expect = eq; continue; }
      if (strcmp (tok, "trunc") == 0) { c->opt_trunc = eq; continue; }
      if (strcmp (tok, "extra") == 0) { c->opt_extra = eq; continue; }
      if (strcmp (tok, "poke") == 0) { c->opt_poke = eq; continue; }
      if (strcmp (tok, "serial") == 0) { c->opt_serial = eq; continue; }
      if (strcmp (tok, "noreply") == 0) { c->noreply = true; continue; }
      for (i = 0; i < NPATCH; i++) {
        if (strcmp (tok, patch_names[i]) == 0)
          break;
      }
      if (i < NPATCH) { c->patch[i] = eq; continue; }
      eq[-1] = '=';
    }
    c->w[c->n++] = tok;
  }
  if (c->n == 0)
    die ("empty command%s", "");
}

/* "key=value" among the words, or NULL. */
static const char *
word_opt (const struct cmd *c, const char *key)
{
  size_t k = strlen (key);

  for (int i = 1; i < c->n; i++) {
    if (strncmp (c->w[i], key, k) == 0 && c->w[i][k] == '=')
      return c->w[i] + k + 1;
  }
  return NULL;
}

/* ---- connection -------------------------------------------------------- */

static void
do_connect (void)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };

  snprintf (sun.sun_path, sizeof sun.sun_path, "%s", sock_path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1 || connect (fd, (struct sockaddr *) &sun, sizeof sun) == -1)
    die ("connect %s failed", sock_path);
  /* A test must fail, not hang, when a reply never comes. */
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO,
              &(struct timeval) { .tv_sec = 120 }, sizeof (struct timeval));
}

static void
send_all (const void *buf, size_t n)
{
  const char *p = buf;
  ssize_t r;

  while (n > 0) {
    r = send (fd, p, n, MSG_NOSIGNAL);
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1) {
      printf ("send: %s\n", strerror (errno));
      fflush (stdout);
      exit (2);
    }
    p += r;
    n -= r;
  }
}

/* 0, or 1 at end of stream (EOF or ECONNRESET) before the first byte. */
static int
recv_all (void *buf, size_t n)
{
  char *p = buf;
  size_t got = 0;
  ssize_t r;

  while (got < n) {
    r = recv (fd, p + got, n - got, 0);
    if (r == -1 && errno == EINTR)
      continue;
    if ((r == 0 || (r == -1 && errno == ECONNRESET)) && got == 0)
      return 1;
    if (r == -1 && errno == EAGAIN)
      die ("no reply within 120 s%s", "");
    if (r <= 0)
      die ("connection lost inside a reply%s", "");
    got += r;
  }
  return 0;
}

/* ---- replies ----------------------------------------------------------- */

static void
print_result (const struct xcopy_result *r)
{
  printf (" bytes_done=%" PRIu64 " ranges_done=%zu", r->bytes_done,
          r->ranges_done);
  if (r->failed_index == SIZE_MAX)
    printf (" failed_index=none");
  else
    printf (" failed_index=%zu", r->failed_index);
  printf (" failed_done=%" PRIu64 " error=%s flags=%u", r->failed_done,
          r->error ? strerrorname_np (r->error) : "0", r->flags);
}

static void
print_jobs (const struct xcopy_proto_reply *rep)
{
  for (size_t i = 0; i < rep->u.jobs.count; i++) {
    const struct xcopy_proto_job *j = &rep->u.jobs.v[i];

    printf ("  job id=%" PRIu64 " op=%s state=%s total=%" PRIu64,
            j->job_id, xcopy_proto_op_name (j->opcode),
            xcopy_proto_job_state_name (j->state), j->bytes_total);
    print_result (&j->result);
    printf ("\n");
  }
}

static void
print_stat (const struct xcopy_proto_reply *rep)
{
  size_t i;

  for (i = 0; i < rep->u.stat.ncounters; i++)
    printf ("  counter %s bytes=%" PRIu64 " calls=%" PRIu64 "\n",
            rep->u.stat.counters[i].name, rep->u.stat.counters[i].bytes,
            rep->u.stat.counters[i].calls);
  for (i = 0; i < rep->u.stat.count; i++)
    printf ("  export \"%s\" size=%" PRIu64 " block_size=%u flags=%u\n",
            rep->u.stat.v[i].name, rep->u.stat.v[i].size,
            rep->u.stat.v[i].block_size, rep->u.stat.v[i].flags);
}

static void
print_arrays (const struct xcopy_proto_reply *rep)
{
  size_t i;

  switch (rep->opcode) {
  case XCOPY_OP_LIST_EXPORTS:
    for (i = 0; i < rep->u.exports.count; i++)
      printf ("  export \"%s\"\n", rep->u.exports.v[i]);
    break;
  case XCOPY_OP_STAT:
    print_stat (rep);
    break;
  case XCOPY_OP_EXTENTS:
    for (i = 0; i < rep->u.extents.count; i++)
      printf ("  extent %" PRIu64 " %" PRIu64 " %s\n",
              rep->u.extents.v[i].offset, rep->u.extents.v[i].length,
              rep->u.extents.v[i].type ? "hole" : "data");
    break;
  case XCOPY_OP_JOB_STATUS: case XCOPY_OP_JOB_CANCEL:
    print_jobs (rep);
    break;
  }
}

static void
print_success (const struct xcopy_proto_reply *rep)
{
  if (rep->opcode == XCOPY_OP_HELLO)
    printf (" caps=0x%" PRIx64 " max_payload=%u max_ranges=%u version=%u"
            " name=\"%s\"", rep->u.hello.caps, rep->u.hello.max_payload,
            rep->u.hello.max_ranges, rep->u.hello.version, rep->u.hello.name);
  else if (rep->flags & XCOPY_PROTO_RF_JOB) {
    last_job = rep->u.started.job_id;
    printf (" job=%" PRIu64 " total=%" PRIu64, rep->u.started.job_id,
            rep->u.started.bytes_total);
  }
  else if (xcopy_proto_op_is_long (rep->opcode))
    print_result (&rep->u.result);
  printf ("\n");
  print_arrays (rep);
}

static void
print_reply (const struct xcopy_proto_reply *rep)
{
  const char *op = xcopy_proto_op_name (rep->opcode);

  printf ("R serial=%" PRIu64 " op=", rep->serial);
  if (op)
    printf ("%s", op);
  else
    printf ("0x%04x", rep->opcode);
  printf (" version=%u status=%s closing=%d", rep->version,
          rep->status ? strerrorname_np (rep->status) ?: "?" : "0",
          !!(rep->flags & XCOPY_PROTO_RF_CLOSING));
  if (rep->status) {
    print_result (&rep->u.error.result);
    printf (" msg=\"%s\"\n", rep->u.error.message);
  }
  else
    print_success (rep);
  fflush (stdout);
}

/* Read one reply into *rep: 0, or 1 at end of stream. */
static int
read_reply (struct xcopy_proto_reply *rep)
{
  unsigned char hdr[XCOPY_PROTO_HEADER_SIZE], *payload;
  struct xcopy_proto_header h;
  struct xcopy_proto_err e;

  if (recv_all (hdr, sizeof hdr))
    return 1;
  xcopy_proto_get_header (hdr, &h);
  if (xcopy_proto_check_reply_header (&h, &e) < 0)
    die ("malformed reply header: %s", e.msg);
  payload = malloc (h.length + 1);
  if (payload == NULL || recv_all (payload, h.length) == 1)
    die ("reply payload lost%s", "");
  if (xcopy_proto_decode_reply (&h, payload, h.length, rep, &e) < 0)
    die ("malformed reply: %s", e.msg);
  free (payload);
  return 0;
}

/* Check the reply against expect= (default: success). */
static void
expect (const struct cmd *c, const struct xcopy_proto_reply *rep)
{
  int want = c->opt_expect ? errno_of (c->opt_expect) : 0;

  if ((int) rep->status != want) {
    printf ("MISMATCH: %s: expected status %s, got %s\n", c->w[0],
            want ? strerrorname_np (want) : "0",
            rep->status ? strerrorname_np (rep->status) : "0");
    status = 1;
  }
}

/* ---- requests ---------------------------------------------------------- */

static void
patch_header (const struct cmd *c, unsigned char *frame)
{
  struct xcopy_proto_header h;

  xcopy_proto_get_header (frame, &h);
  if (c->patch[0]) h.magic = parse_size (c->patch[0]);
  if (c->patch[1]) h.version = parse_size (c->patch[1]);
  if (c->patch[2]) h.opcode = parse_size (c->patch[2]);
  if (c->patch[3]) h.flags = parse_flags (c->patch[3]);
  if (c->patch[4]) h.status = parse_size (c->patch[4]);
  if (c->patch[5]) h.length = parse_size (c->patch[5]);
  if (c->patch[6]) h.count = parse_size (c->patch[6]);
  xcopy_proto_put_header (frame, &h);
}

/* Send frame (patched, extended, truncated as asked). */
static void
send_frame (const struct cmd *c, struct xcopy_wbuf *w, uint64_t serial)
{
  size_t n = w->len;

  patch_header (c, w->data);
  if (c->opt_poke) {            /* OFFSET:HEX over the encoded frame */
    size_t pl, off = strtoull (c->opt_poke, NULL, 0);
    unsigned char *p = parse_hex (strchr (c->opt_poke, ':') + 1, &pl);

    if (off + pl > w->len)
      die ("poke beyond the frame: %s", c->opt_poke);
    memcpy (w->data + off, p, pl);
    free (p);
  }
  if (c->opt_extra) {
    size_t xl;
    unsigned char *x = parse_hex (c->opt_extra, &xl);

    xcopy_wbuf_put (w, x, xl);
    free (x);
    n = w->len;
  }
  if (c->opt_trunc && parse_size (c->opt_trunc) < n)
    n = parse_size (c->opt_trunc);
  send_all (w->data, n);
  if (print_sent) {
    printf ("sent %" PRIu64 "\n", serial);
    fflush (stdout);
  }
  if (c->opt_trunc)
    shutdown (fd, SHUT_WR);
}

/* Encode req, send it, read the reply: 0, or 1 at end of stream. */
static int
exchange (const struct cmd *c, struct xcopy_proto_request *req,
          struct xcopy_proto_reply *rep)
{
  struct xcopy_proto_err e;
  struct xcopy_wbuf w;

  req->serial = c->opt_serial ? parse_size (c->opt_serial) : next_serial++;
  if (c->opt_flags)
    req->flags = parse_flags (c->opt_flags);
  xcopy_wbuf_init (&w, 64u << 20);
  if (xcopy_proto_encode_request (req, &w, &e) < 0)
    die ("cannot encode: %s", e.msg);
  send_frame (c, &w, req->serial);
  xcopy_wbuf_free (&w);
  if (c->noreply)
    return 2;
  return read_reply (rep);
}

/* The same, then print the reply and check it. */
static void
round_trip (const struct cmd *c, struct xcopy_proto_request *req)
{
  struct xcopy_proto_reply rep;
  int r = exchange (c, req, &rep);

  if (r == 2)                   /* noreply=1: read it later with recv */
    return;
  if (r) {
    printf ("eof\n");
    if (c->opt_expect == NULL || strcmp (c->opt_expect, "eof") != 0) {
      printf ("MISMATCH: %s: the server closed the connection\n", c->w[0]);
      status = 1;
    }
    return;
  }
  print_reply (&rep);
  expect (c, &rep);
  xcopy_proto_reply_free (&rep);
}

static void
need (const struct cmd *c, int n)
{
  if (c->n < n)
    die ("too few words for '%s'", c->w[0]);
}

/* "S:D:L,S:D:L" or "@FILE" of "S D L" lines. */
static void
parse_ranges (const char *s, struct xcopy_proto_copy *cp)
{
  char a[64], b[64], l[64];
  FILE *fp = s[0] == '@' ? fopen (s + 1, "r") : fmemopen ((void *) s, strlen (s), "r");
  size_t cap = 0;

  if (fp == NULL)
    die ("cannot read ranges '%s'", s);
  while (fscanf (fp, s[0] == '@' ? " %63s %63s %63s" : "%63[^:]:%63[^:]:%63[^,],",
                 a, b, l) == 3) {
    if (cp->count == cap) {
      cap = cap ? 2 * cap : 16;
      cp->ranges = realloc (cp->ranges, cap * sizeof *cp->ranges);
      if (cp->ranges == NULL)
        die ("out of memory%s", "");
    }
    cp->ranges[cp->count++] = (struct xcopy_range) {
      parse_size (a), parse_size (b), parse_size (l) };
  }
  fclose (fp);
}

static void
parse_spans (const char *s, struct xcopy_proto_unmap *u)
{
  char *copy = strdup (s), *tok, *save, *colon;

  for (tok = strtok_r (copy, ",", &save); tok; tok = strtok_r (NULL, ",", &save)) {
    colon = strchr (tok, ':');
    if (colon == NULL)
      die ("bad span '%s'", tok);
    *colon = '\0';
    u->spans = realloc (u->spans, (u->count + 1) * sizeof *u->spans);
    u->spans[u->count++] = (struct xcopy_proto_span) {
      parse_size (tok), parse_size (colon + 1) };
  }
  free (copy);
}

/* Build the request of a request command; false if c is not one. */
static bool
build (const struct cmd *c, struct xcopy_proto_request *req)
{
  const char *w = c->w[0], *o;

  memset (req, 0, sizeof *req);
  if (strcmp (w, "hello") == 0) {
    req->opcode = XCOPY_OP_HELLO;
    req->u.hello.caps = (o = word_opt (c, "caps")) ? parse_size (o) : 7;
    req->u.hello.min_version = (o = word_opt (c, "min")) ? parse_size (o) : 1;
    req->u.hello.max_version = (o = word_opt (c, "max")) ? parse_size (o) : 1;
    set_name (req->u.hello.name, (o = word_opt (c, "name")) ? o : "prog-ctl-client");
  }
  else if (strcmp (w, "list") == 0)
    req->opcode = XCOPY_OP_LIST_EXPORTS;
  else if (strcmp (w, "stat") == 0) {
    need (c, 2);
    req->opcode = XCOPY_OP_STAT;
    set_name (req->u.stat.name, c->w[1]);
  }
  else if (strcmp (w, "stat-all") == 0) {
    req->opcode = XCOPY_OP_STAT;
    req->flags = XCOPY_PROTO_F_ALL_EXPORTS;
  }
  else if (strcmp (w, "flush") == 0) {
    need (c, 2);
    req->opcode = XCOPY_OP_FLUSH;
    set_name (req->u.flush.name, c->w[1]);
  }
  else if (strcmp (w, "copy") == 0) {
    need (c, 4);
    req->opcode = XCOPY_OP_COPY;
    set_name (req->u.copy.src, c->w[1]);
    set_name (req->u.copy.dst, c->w[2]);
    parse_ranges (c->w[3], &req->u.copy);
  }
  else
    return false;
  return true;
}

static bool
build2 (const struct cmd *c, struct xcopy_proto_request *req)
{
  const char *w = c->w[0];

  if (strcmp (w, "fill") == 0) {
    need (c, 5);
    req->opcode = XCOPY_OP_FILL;
    set_name (req->u.fill.name, c->w[1]);
    req->u.fill.offset = parse_size (c->w[2]);
    req->u.fill.length = parse_size (c->w[3]);
    req->u.fill.pattern = parse_hex (c->w[4], &req->u.fill.patlen);
  }
  else if (strcmp (w, "zero") == 0 || strcmp (w, "extents") == 0) {
    need (c, 4);
    req->opcode = w[0] == 'z' ? XCOPY_OP_ZERO : XCOPY_OP_EXTENTS;
    set_name (req->u.zero.name, c->w[1]);
    req->u.zero.offset = parse_size (c->w[2]);
    req->u.zero.length = parse_size (c->w[3]);
  }
  else if (strcmp (w, "unmap") == 0) {
    need (c, 3);
    req->opcode = XCOPY_OP_UNMAP;
    set_name (req->u.unmap.name, c->w[1]);
    parse_spans (c->w[2], &req->u.unmap);
  }
  else if (strcmp (w, "clone") == 0) {
    need (c, 3);
    req->opcode = XCOPY_OP_CLONE;
    set_name (req->u.clone.src, c->w[1]);
    set_name (req->u.clone.dst, c->w[2]);
  }
  else if (strcmp (w, "jobs") == 0 || strcmp (w, "cancel") == 0) {
    req->opcode = w[0] == 'j' ? XCOPY_OP_JOB_STATUS : XCOPY_OP_JOB_CANCEL;
    if (c->n > 1)
      req->u.job.job_id = strcmp (c->w[1], "last") == 0 ? last_job
        : parse_size (c->w[1]);
  }
  else
    return false;
  return true;
}

/* ---- other commands ---------------------------------------------------- */

/* Read, print and (with expect=) check one reply. */
static void
cmd_recv (const struct cmd *c)
{
  struct xcopy_proto_reply rep;

  if (read_reply (&rep)) {
    printf ("eof\n");
    return;
  }
  print_reply (&rep);
  if (c->opt_expect)
    expect (c, &rep);
  xcopy_proto_reply_free (&rep);
}

static void
cmd_raw (const struct cmd *c, bool read_one)
{
  char hex[1 << 16] = "";
  unsigned char *b;
  size_t n;

  need (c, 2);
  for (int i = 1; i < c->n; i++)        /* the hex may have spaces */
    strncat (hex, c->w[i], sizeof hex - strlen (hex) - 1);
  b = parse_hex (hex, &n);
  send_all (b, n);
  free (b);
  if (read_one)
    cmd_recv (c);
}

static void
cmd_eof (void)
{
  unsigned char b;
  ssize_t r = recv (fd, &b, 1, 0);

  if (r == 0 || (r == -1 && errno == ECONNRESET))
    printf ("eof\n");
  else {
    printf ("MISMATCH: eof: the connection is still open\n");
    status = 1;
  }
}

/* Poll JOB_STATUS until the job ends (or has done min bytes). */
static void
cmd_wait_job (struct cmd *c)
{
  struct xcopy_proto_request req = { .opcode = XCOPY_OP_JOB_STATUS };
  struct xcopy_proto_reply rep;
  const char *o = word_opt (c, "min");
  uint64_t min = o ? parse_size (o) : UINT64_MAX;
  bool done;

  need (c, 2);
  req.u.job.job_id = strcmp (c->w[1], "last") == 0 ? last_job
    : parse_size (c->w[1]);
  do {
    if (exchange (c, &req, &rep))
      die ("wait-job: the server closed the connection%s", "");
    done = rep.status || rep.u.jobs.count == 0 ||
      rep.u.jobs.v[0].state >= XCOPY_PROTO_JOB_DONE ||
      rep.u.jobs.v[0].result.bytes_done >= min;
    if (done) {                 /* only the last poll shows */
      print_reply (&rep);
      expect (c, &rep);
    }
    xcopy_proto_reply_free (&rep);
    if (!done)
      nanosleep (&(struct timespec) { 0, 1000000 }, NULL);
  } while (!done);
}

static bool
run_other (struct cmd *c)
{
  const char *w = c->w[0];

  if (strcmp (w, "raw") == 0 || strcmp (w, "send") == 0)
    cmd_raw (c, w[0] == 'r');
  else if (strcmp (w, "recv") == 0)
    cmd_recv (c);
  else if (strcmp (w, "eof") == 0)
    cmd_eof ();
  else if (strcmp (w, "half-close") == 0)
    shutdown (fd, SHUT_WR);
  else if (strcmp (w, "sleep") == 0 && c->n > 1)
    usleep (parse_size (c->w[1]) * 1000);
  else if (strcmp (w, "reconnect") == 0) {
    close (fd);
    do_connect ();
  }
  else if (strcmp (w, "wait-job") == 0)
    cmd_wait_job (c);
  else
    return false;
  return true;
}

static void
run (char *line)
{
  struct xcopy_proto_request req;
  struct cmd c;

  split (line, &c);
  if (run_other (&c))
    return;
  if (!build (&c, &req) && !build2 (&c, &req))
    die ("unknown command '%s'", c.w[0]);
  round_trip (&c, &req);
  xcopy_proto_request_free (&req);    /* it knows build()'s arrays */
}

int
main (int argc, char **argv)
{
  int i = 1;

  if (i < argc && strcmp (argv[i], "-s") == 0) {
    print_sent = true;
    i++;
  }
  if (i >= argc)
    die ("usage: prog-ctl-client [-s] SOCKET COMMAND...%s", "");
  setvbuf (stdout, NULL, _IOLBF, 0);
  sock_path = argv[i++];
  do_connect ();
  for (; i < argc; i++)
    run (argv[i]);
  close (fd);
  return status;
}
