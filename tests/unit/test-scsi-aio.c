/* READ and WRITE through a backend's aio_pread/aio_pwrite (aio.c).
 *
 * The LU's file backend gets asynchronous ops that complete on a thread
 * of their own, like the daemon's NBD path.  Checked: bytes at a deep
 * queue, the checks running before scsi_submit returns, errors at start
 * and at completion and their sense, -EAGAIN and a contended range
 * taking the synchronous path on a worker, FUA and WCE=0 reaching the
 * backend.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scsi-harness.h"

/* ---- A backend whose aio ops complete on their own thread ---- */

struct req {
  bool write;
  void *buf;
  size_t len;
  uint64_t off;
  void (*done) (void *opaque, int err);
  void *opaque;
  struct req *next;
};

static struct {
  pthread_mutex_t lock;
  pthread_cond_t more;
  struct req *head;
  pthread_t thread;
  bool stop;
  const struct scsi_backend_ops *file;
  struct scsi_backend *be;
  /* What the test makes of the next calls. */
  int start_err;                /* returned by aio_* */
  int end_err;                  /* passed to done */
  /* What happened. */
  unsigned aio_reads, aio_writes, sync_writes, fua_writes;
  pthread_t last_done_thread;
} A = { .lock = PTHREAD_MUTEX_INITIALIZER, .more = PTHREAD_COND_INITIALIZER };

static struct scsi_backend_ops aio_ops;

static void *
completer (void *opaque)
{
  (void) opaque;
  pthread_mutex_lock (&A.lock);
  for (;;) {
    struct req *r;
    int err;

    while (A.head == NULL && !A.stop)
      pthread_cond_wait (&A.more, &A.lock);
    if ((r = A.head) == NULL)
      break;
    A.head = r->next;
    err = A.end_err;
    pthread_mutex_unlock (&A.lock);
    if (err == 0)
      err = r->write ? A.file->pwrite (A.be, r->buf, r->len, r->off, 0)
        : A.file->pread (A.be, r->buf, r->len, r->off);
    A.last_done_thread = pthread_self ();
    r->done (r->opaque, err);
    free (r);
    pthread_mutex_lock (&A.lock);
  }
  pthread_mutex_unlock (&A.lock);
  return NULL;
}

static int
queue (bool write, void *buf, size_t len, uint64_t off, unsigned flags,
       void (*done) (void *opaque, int err), void *opaque)
{
  struct req *r;

  pthread_mutex_lock (&A.lock);
  if (A.start_err) {
    pthread_mutex_unlock (&A.lock);
    return A.start_err;
  }
  r = h_calloc (sizeof *r);
  *r = (struct req) { write, buf, len, off, done, opaque, A.head };
  A.head = r;                   /* LIFO: completions out of order */
  if (write) {
    A.aio_writes++;
    A.fua_writes += (flags & SCSI_BE_FUA) != 0;
  }
  else
    A.aio_reads++;
  pthread_cond_signal (&A.more);
  pthread_mutex_unlock (&A.lock);
  return 0;
}

static int
t_aio_pread (struct scsi_backend *b, void *buf, size_t len, uint64_t off,
             void (*done) (void *opaque, int err), void *opaque)
{
  (void) b;
  return queue (false, buf, len, off, 0, done, opaque);
}

static int
t_aio_pwrite (struct scsi_backend *b, const void *buf, size_t len,
              uint64_t off, unsigned flags,
              void (*done) (void *opaque, int err), void *opaque)
{
  (void) b;
  return queue (true, (void *) buf, len, off, flags, done, opaque);
}

static int
t_pwrite (struct scsi_backend *b, const void *buf, size_t len, uint64_t off,
          unsigned flags)
{
  __atomic_add_fetch (&A.sync_writes, 1, __ATOMIC_SEQ_CST);
  return A.file->pwrite (b, buf, len, off, flags);
}

static void
setup (struct sh_env *e, bool wce)
{
  struct scsi_lu_config cfg;

  sh_config (&cfg);
  cfg.write_cache = wce;
  sh_setup (e, 1 * MiB, &cfg);
  sh_clear_ua (e);
  A.be = scsi_lu_backend (e->lu);
  A.file = A.be->ops;
  aio_ops = *A.file;
  aio_ops.aio_pread = t_aio_pread;
  aio_ops.aio_pwrite = t_aio_pwrite;
  aio_ops.pwrite = t_pwrite;
  A.be->ops = &aio_ops;
  A.stop = false;
  A.start_err = A.end_err = 0;
  A.aio_reads = A.aio_writes = A.sync_writes = A.fua_writes = 0;
  REQUIRE (pthread_create (&A.thread, NULL, completer, NULL) == 0);
}

static void
teardown (struct sh_env *e)
{
  pthread_mutex_lock (&A.lock);
  A.stop = true;
  pthread_cond_signal (&A.more);
  pthread_mutex_unlock (&A.lock);
  pthread_join (A.thread, NULL);
  A.be->ops = A.file;
  sh_teardown (e);
}

/* ---- Submitting and waiting ---- */

/* A READ(16) or WRITE(16) of blocks at lba with buf as data. */
static void
prepare (struct sh_cmd *c, bool write, uint8_t byte1, uint64_t lba,
         uint32_t blocks, uint8_t *buf)
{
  memset (c, 0, sizeof *c);
  sh_cdb16 (c->cdb, write ? 0x8a : 0x88, byte1, lba, blocks);
  c->c.cdb = c->cdb;
  c->c.cdb_len = 16;
  if (write) {
    c->c.data_out = buf;
    c->c.data_out_len = blocks * 512u;
  }
  else {
    c->c.data_in = buf;
    c->c.data_in_cap = blocks * 512u;
  }
  c->c.status = 0xff;
}

/* The file starts with data[0, len). */
static bool
file_has (int fd, const void *data, size_t len)
{
  uint8_t *got = h_malloc (len);
  bool same;

  h_pread_all (fd, got, len, 0);
  same = memcmp (got, data, len) == 0;
  free (got);
  return same;
}

/* ---- Tests ---- */

/* 64 writes then 64 reads of 4 KiB in flight at once, completed in
 * reverse order: the file holds what was written, each read what is
 * there.
 */
static void
deep_queue (void)
{
  struct sh_waiter w = SH_WAITER_INIT;
  uint8_t *data = h_malloc (64 * 4 * KiB), *back = h_calloc (64 * 4 * KiB);
  struct sh_cmd *cmds = h_calloc (128 * sizeof *cmds);
  struct sh_env e;

  setup (&e, true);
  h_fill_random (data, 64 * 4 * KiB, 7);
  for (unsigned i = 0; i < 64; i++) {
    prepare (&cmds[i], true, 0, i * 8, 8, data + i * 4 * KiB);
    REQUIRE (scsi_submit (e.nexus, &cmds[i].c, sh_waiter_done, &w) == 0);
  }
  sh_wait (&w, 64);
  for (unsigned i = 64; i < 128; i++) {
    prepare (&cmds[i], false, 0, (i - 64) * 8, 8,
             back + (i - 64) * 4 * KiB);
    REQUIRE (scsi_submit (e.nexus, &cmds[i].c, sh_waiter_done, &w) == 0);
  }
  sh_wait (&w, 128);
  for (unsigned i = 0; i < 128; i++) {
    CHECK_INT (cmds[i].c.status, ==, SCSI_STATUS_GOOD);
    CHECK_INT (cmds[i].c.data_in_len, ==, i < 64 ? 0 : 4 * KiB);
  }
  CHECK (memcmp (data, back, 64 * 4 * KiB) == 0);
  CHECK (file_has (e.fd, data, 64 * 4 * KiB));
  CHECK_INT (A.aio_writes, ==, 64);
  CHECK_INT (A.aio_reads, ==, 64);
  CHECK_INT (A.sync_writes, ==, 0);
  CHECK_INT (A.fua_writes, ==, 0);
  CHECK (pthread_equal (A.last_done_thread, A.thread));
  teardown (&e);
  free (cmds);
  free (data);
  free (back);
}

/* A READ past the end never reaches the backend and is answered before
 * scsi_submit returns.
 */
static void
checked_on_submit (void)
{
  struct sh_waiter w = SH_WAITER_INIT;
  uint8_t buf[1024];
  struct sh_cmd c;
  struct sh_env e;

  setup (&e, true);
  prepare (&c, false, 0, 2047, 2, buf);
  REQUIRE (scsi_submit (e.nexus, &c.c, sh_waiter_done, &w) == 0);
  CHECK_INT (w.done, ==, 1);
  SH_EXPECT_PLAIN (&c, SCSI_SK_ILLEGAL_REQUEST, 0x21, 0x00);
  /* RDPROTECT: an invalid field, also before any I/O. */
  prepare (&c, false, 0x20, 0, 1, buf);
  REQUIRE (scsi_submit (e.nexus, &c.c, sh_waiter_done, &w) == 0);
  CHECK_INT (w.done, ==, 2);
  SH_EXPECT_BAD_CDB (&c, 1, 7);
  CHECK_INT (A.aio_reads, ==, 0);
  teardown (&e);
}

/* Errors when starting and when completing become their sense; the
 * data-in of a failed READ is not reported.
 */
static void
errors (void)
{
  struct sh_waiter w = SH_WAITER_INIT;
  uint8_t buf[512] = { 1 };
  struct sh_cmd c;
  struct sh_env e;

  setup (&e, true);
  A.start_err = -ENOTCONN;       /* the backend is down */
  prepare (&c, false, 0, 0, 1, buf);
  REQUIRE (scsi_submit (e.nexus, &c.c, sh_waiter_done, &w) == 0);
  sh_wait (&w, 1);
  SH_EXPECT_PLAIN (&c, SCSI_SK_ABORTED_COMMAND, 0x08, 0x00);
  A.start_err = 0;
  A.end_err = -EIO;
  prepare (&c, false, 0, 0, 1, buf);
  REQUIRE (scsi_submit (e.nexus, &c.c, sh_waiter_done, &w) == 0);
  sh_wait (&w, 2);
  SH_EXPECT_PLAIN (&c, SCSI_SK_MEDIUM_ERROR, 0x11, 0x00);
  CHECK_INT (c.c.data_in_len, ==, 0);
  prepare (&c, true, 0, 0, 1, buf);
  REQUIRE (scsi_submit (e.nexus, &c.c, sh_waiter_done, &w) == 0);
  sh_wait (&w, 3);
  SH_EXPECT_PLAIN (&c, SCSI_SK_MEDIUM_ERROR, 0x0c, 0x00);
  /* The failed write released its blocks: the next one gets them. */
  A.end_err = 0;
  prepare (&c, true, 0, 0, 1, buf);
  REQUIRE (scsi_submit (e.nexus, &c.c, sh_waiter_done, &w) == 0);
  sh_wait (&w, 4);
  SH_EXPECT_GOOD (&c);
  CHECK (file_has (e.fd, buf, sizeof buf));
  CHECK_INT (A.sync_writes, ==, 0);
  teardown (&e);
}

/* -EAGAIN from the backend, and a write whose blocks are held, run
 * synchronously on a worker instead; the held one waits for its range.
 */
static void
deferred (void)
{
  struct sh_waiter w = SH_WAITER_INIT;
  struct rangelock_hold h = RANGELOCK_HOLD_INIT;
  uint8_t buf[4096], zero[4096] = { 0 };
  struct sh_cmd c;
  struct sh_env e;

  setup (&e, true);
  h_fill_random (buf, sizeof buf, 3);
  A.start_err = -EAGAIN;
  prepare (&c, true, 0, 0, 8, buf);
  REQUIRE (scsi_submit (e.nexus, &c.c, sh_waiter_done, &w) == 0);
  sh_wait (&w, 1);
  SH_EXPECT_GOOD (&c);
  CHECK_INT (A.sync_writes, ==, 1);
  CHECK_INT (A.aio_writes, ==, 0);
  CHECK (file_has (e.fd, buf, sizeof buf));

  A.start_err = 0;
  REQUIRE (rangelock_lock (&e.lu->locks, &h, 4096, 512, RANGELOCK_EXCL,
                           NULL) == 0);
  prepare (&c, true, 0, 8, 8, zero);
  REQUIRE (scsi_submit (e.nexus, &c.c, sh_waiter_done, &w) == 0);
  usleep (100 * 1000);
  CHECK_INT (w.done, ==, 1);    /* still waiting for the range */
  rangelock_release (&h);
  sh_wait (&w, 2);
  SH_EXPECT_GOOD (&c);
  CHECK_INT (A.sync_writes, ==, 2);
  CHECK_INT (A.aio_writes, ==, 0);
  teardown (&e);
}

/* FUA, and any write while WCE is 0, reach the backend as SCSI_BE_FUA. */
static void
fua (void)
{
  struct sh_waiter w = SH_WAITER_INIT;
  uint8_t buf[512] = { 9 };
  struct sh_cmd c;
  struct sh_env e;

  setup (&e, true);
  prepare (&c, true, 0x08, 0, 1, buf);
  REQUIRE (scsi_submit (e.nexus, &c.c, sh_waiter_done, &w) == 0);
  prepare (&c, true, 0, 1, 1, buf);
  REQUIRE (scsi_submit (e.nexus, &c.c, sh_waiter_done, &w) == 0);
  sh_wait (&w, 2);
  CHECK_INT (A.aio_writes, ==, 2);
  CHECK_INT (A.fua_writes, ==, 1);
  teardown (&e);

  setup (&e, false);
  prepare (&c, true, 0, 0, 1, buf);
  REQUIRE (scsi_submit (e.nexus, &c.c, sh_waiter_done, &w) == 0);
  sh_wait (&w, 3);
  CHECK_INT (A.fua_writes, ==, 1);
  teardown (&e);
}

static const struct h_test tests[] = {
  H_TEST (deep_queue),
  H_TEST (checked_on_submit),
  H_TEST (errors),
  H_TEST (deferred),
  H_TEST (fua),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
