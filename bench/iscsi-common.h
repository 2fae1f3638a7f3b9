/* What the iSCSI load clients in bench/ share: logging in through
 * libiscsi, READ CAPACITY, waiting on the session's socket, checking a
 * completed command, timing.
 *
 * Header-only on purpose: the build links each bench/iscsi-*.c alone
 * with libiscsi, so the helpers are static inline.
 */
#ifndef XCOPY_BENCH_ISCSI_COMMON_H
#define XCOPY_BENCH_ISCSI_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define BENCH_INITIATOR "iqn.2024-01.org.xcopyd:bench"

struct bench_lu {
  struct iscsi_context *iscsi;
  int lun;
  uint32_t block_size;
  uint64_t blocks;              /* capacity in logical blocks */
};

static inline void __attribute__ ((noreturn, format (printf, 2, 3)))
bench_die (const char *prog, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  fprintf (stderr, "%s: ", prog);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
  exit (1);
}

static inline double
bench_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A size with an optional K/M/G suffix (powers of 1024); 0 on error. */
static inline uint64_t
bench_parse_size (const char *s)
{
  char *end;
  uint64_t v;

  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno != 0 || end == s)
    return 0;
  switch (*end) {
  case 'K': case 'k': v <<= 10; end++; break;
  case 'M': case 'm': v <<= 20; end++; break;
  case 'G': case 'g': v <<= 30; end++; break;
  }
  return *end == '\0' ? v : 0;
}

/* The command's outcome as one phrase for an error message: "GOOD", a
 * sense key with ASC/ASCQ, or the transport's error.
 */
static inline const char *
bench_task_error (struct iscsi_context *iscsi, const struct scsi_task *t,
                  char *buf, size_t len)
{
  if (t->status == SCSI_STATUS_GOOD)
    snprintf (buf, len, "GOOD");
  else if (t->status == SCSI_STATUS_CHECK_CONDITION)
    snprintf (buf, len, "CHECK CONDITION %s (0x%x), ASC/ASCQ 0x%04x (%s)",
              scsi_sense_key_str (t->sense.key), t->sense.key,
              t->sense.ascq, scsi_sense_ascq_str (t->sense.ascq));
  else
    snprintf (buf, len, "status 0x%x: %s", (unsigned) t->status,
              iscsi_get_error (iscsi));
  return buf;
}

/* Wait for the socket once (up to timeout_ms) and let libiscsi work;
 * -EIO when the session failed.
 */
static inline int
bench_service (struct iscsi_context *iscsi, int timeout_ms)
{
  struct pollfd p = { .fd = iscsi_get_fd (iscsi) };
  int r;

  p.events = iscsi_which_events (iscsi);
  if (p.events == 0) {
    /* libiscsi is between reconnect attempts (iscsi.h: wait >= 100 ms). */
    poll (NULL, 0, 100);
    return iscsi_service (iscsi, 0) < 0 ? -EIO : 0;
  }
  r = poll (&p, 1, timeout_ms);
  if (r < 0)
    return errno == EINTR ? 0 : -errno;
  return iscsi_service (iscsi, r == 0 ? 0 : p.revents) < 0 ? -EIO : 0;
}

/* Log in to the LU that url names (iscsi://HOST[:PORT]/IQN/LUN) and
 * read its capacity.  Dies with the reason on any failure.
 */
static inline void
bench_connect (const char *prog, const char *url, struct bench_lu *lu)
{
  struct iscsi_url *u;
  struct scsi_task *t;
  char why[160];

  lu->iscsi = iscsi_create_context (BENCH_INITIATOR);
  if (lu->iscsi == NULL)
    bench_die (prog, "iscsi_create_context failed");
  u = iscsi_parse_full_url (lu->iscsi, url);
  if (u == NULL)
    bench_die (prog, "--url %s: %s", url, iscsi_get_error (lu->iscsi));
  iscsi_set_targetname (lu->iscsi, u->target);
  iscsi_set_session_type (lu->iscsi, ISCSI_SESSION_NORMAL);
  iscsi_set_header_digest (lu->iscsi, ISCSI_HEADER_DIGEST_NONE);
  /* A target that stops answering fails the run instead of hanging it;
   * no command here takes near a minute.
   */
  iscsi_set_timeout (lu->iscsi, 60);
  if (iscsi_full_connect_sync (lu->iscsi, u->portal, u->lun) != 0)
    bench_die (prog, "login to %s: %s", url, iscsi_get_error (lu->iscsi));
  lu->lun = u->lun;
  iscsi_destroy_url (u);

  t = iscsi_readcapacity16_sync (lu->iscsi, lu->lun);
  if (t == NULL || t->status != SCSI_STATUS_GOOD || t->datain.size < 12)
    bench_die (prog, "READ CAPACITY (16): %s",
               t ? bench_task_error (lu->iscsi, t, why, sizeof why)
               : iscsi_get_error (lu->iscsi));
  lu->blocks = scsi_get_uint64 (t->datain.data) + 1;
  lu->block_size = scsi_get_uint32 (t->datain.data + 8);
  scsi_free_scsi_task (t);
  if (lu->block_size == 0 || lu->block_size > (1u << 20))
    bench_die (prog, "READ CAPACITY (16): block length %" PRIu32,
               lu->block_size);
}

static inline void
bench_disconnect (struct bench_lu *lu)
{
  iscsi_logout_sync (lu->iscsi);
  iscsi_destroy_context (lu->iscsi);
  lu->iscsi = NULL;
}

#endif /* XCOPY_BENCH_ISCSI_COMMON_H */
