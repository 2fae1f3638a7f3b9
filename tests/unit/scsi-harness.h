/* xcopyd: helpers for the SCSI unit tests (test-scsi-*.c).
 *
 * A test builds a target with one LU over a scratch file (sh_setup), runs
 * CDBs through scsi_execute (SH_RUN), and compares status, sense and
 * data-in byte for byte (SH_EXPECT_*).  Expected bytes are written out in
 * the test, next to the spec clause they come from.
 */
#ifndef XCOPY_TEST_SCSI_HARNESS_H
#define XCOPY_TEST_SCSI_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "../../daemon/scsi/scsi.h"
#include "../../daemon/scsi/scsi-int.h"

/* A byte array literal and its length, as two arguments. */
#define BYTES(...) ((const uint8_t[]) { __VA_ARGS__ }), \
    sizeof ((const uint8_t[]) { __VA_ARGS__ })

/* An array and its size, as two arguments (SH_RUN's cdb). */
#define ARR(a) (a), sizeof (a)

struct sh_env {
  struct scsi_target *target;
  struct scsi_nexus *nexus;
  struct scsi_lu *lu;           /* at LUN 0 */
  int fd;                       /* the LU's file, for checks */
  uint64_t size;
  uint32_t bs;
  struct xcopy_stats stats;
};

/* A default LU config: serial "sh-serial-0", 512-byte blocks. */
void sh_config (struct scsi_lu_config *cfg);

/* Target + nexus ("iqn.2024-01.test:init", target port
 * "iqn.2024-01.test:tgt,t,0x0001", relative port 1) + one LU of size
 * bytes (sparse, zeroes) at LUN 0.  cfg NULL: sh_config().
 */
void sh_setup (struct sh_env *e, uint64_t size,
               const struct scsi_lu_config *cfg);
void sh_teardown (struct sh_env *e);

/* Another LU over a fresh scratch file; *fd (may be NULL) gets a
 * descriptor of that file.
 */
struct scsi_lu *sh_new_lu (uint64_t size, const struct scsi_lu_config *cfg,
                           struct xcopy_stats *stats, int *fd);

/* A command with its buffers: the data-in buffer is in_cap bytes. */
struct sh_cmd {
  struct scsi_cmd c;
  uint8_t cdb[32];
  uint8_t *in;
};

/* SH_RUN (e, cmd, cdb, cdb_len, out, out_len, in_cap): run cdb on e's
 * nexus at LUN 0 with data-out out[0, out_len) and an in_cap-byte data-in
 * buffer.  BYTES () and ARR () stand for a pointer and a length.
 */
#define SH_RUN(e, cmd, ...) sh_run ((e)->nexus, 0, (cmd), __VA_ARGS__)
void sh_run (struct scsi_nexus *n, uint16_t lun, struct sh_cmd *cmd,
             const uint8_t *cdb, size_t cdb_len, const void *out,
             size_t out_len, size_t in_cap);
/* Free cmd's data-in buffer (also done by the next sh_run on cmd and by
 * sh_teardown).
 */
void sh_cmd_free (struct sh_cmd *cmd);

/* GOOD and exactly these data-in bytes. */
#define SH_EXPECT_DATA(cmd, data)                                       \
  sh_expect_data (__FILE__, __LINE__, (cmd), data)
void sh_expect_data (const char *file, int line, const struct sh_cmd *cmd,
                     const uint8_t *data, size_t len);

/* GOOD and data-in equal to p[0, n). */
#define SH_EXPECT_DATA_N(cmd, p, n)                                     \
  sh_expect_data (__FILE__, __LINE__, (cmd), (p), (n))

/* GOOD, no data-in. */
#define SH_EXPECT_GOOD(cmd) sh_expect_data (__FILE__, __LINE__, (cmd), NULL, 0)

/* CHECK CONDITION with exactly these sense bytes. */
#define SH_EXPECT_SENSE(cmd, sense)                                     \
  sh_expect_sense (__FILE__, __LINE__, (cmd), sense)
void sh_expect_sense (const char *file, int line, const struct sh_cmd *cmd,
                      const uint8_t *sense, size_t len);

/* CHECK CONDITION with this key/ASC/ASCQ (any details). */
#define SH_EXPECT_CHECK(cmd, key, asc, ascq)                            \
  sh_expect_check (__FILE__, __LINE__, (cmd), (key), (asc), (ascq))
void sh_expect_check (const char *file, int line, const struct sh_cmd *cmd,
                      uint8_t key, uint8_t asc, uint8_t ascq);

/* Fixed-format sense for an invalid field: 18 bytes with a field pointer
 * (SPC-4 4.5.2.4.2).  bit -1: no bit pointer.
 */
const uint8_t *sh_field_sense (uint8_t asc, bool cd, unsigned byte, int bit);
#define SH_EXPECT_BAD_CDB(cmd, byte, bit)                               \
  sh_expect_sense (__FILE__, __LINE__, (cmd),                           \
                   sh_field_sense (0x24, true, (byte), (bit)), 18)
#define SH_EXPECT_BAD_PARAM(cmd, byte, bit)                             \
  sh_expect_sense (__FILE__, __LINE__, (cmd),                           \
                   sh_field_sense (0x26, false, (byte), (bit)), 18)

/* Print bytes as hex (on failures). */
void sh_hexdump (const char *what, const uint8_t *p, size_t len);

/* Sense with no details, fixed format. */
const uint8_t *sh_plain_sense (uint8_t key, uint8_t asc, uint8_t ascq);
#define SH_EXPECT_PLAIN(cmd, key, asc, ascq)                            \
  sh_expect_sense (__FILE__, __LINE__, (cmd),                           \
                   sh_plain_sense ((key), (asc), (ascq)), 18)

/* Clear pending unit attentions of e's nexus (TEST UNIT READY until
 * GOOD).
 */
void sh_clear_ua (struct sh_env *e);

/* Counting scsi_submit completions: pass sh_waiter_done and &w, then
 * sh_wait (&w, n) until n commands have completed.
 */
struct sh_waiter {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  unsigned done;
};
#define SH_WAITER_INIT \
  { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 }
void sh_waiter_done (struct scsi_cmd *cmd, void *opaque);
void sh_wait (struct sh_waiter *w, unsigned n);

/* CDB builders for the block commands (big-endian fields). */
void sh_cdb10 (uint8_t *cdb, uint8_t op, uint8_t byte1, uint32_t lba,
               uint16_t len);
void sh_cdb16 (uint8_t *cdb, uint8_t op, uint8_t byte1, uint64_t lba,
               uint32_t len);

#endif /* XCOPY_TEST_SCSI_HARNESS_H */
