/* xcopyd: helpers for the SCSI unit tests (see scsi-harness.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scsi-harness.h"

/* Data-in buffers by command, so that reusing a struct sh_cmd (or
 * sh_teardown) frees the previous one.
 */
#define MAX_BUFS 64
static struct { const struct sh_cmd *cmd; uint8_t *buf; } bufs[MAX_BUFS];
static pthread_mutex_t bufs_lock = PTHREAD_MUTEX_INITIALIZER;

static void
forget_buf (const struct sh_cmd *cmd)
{
  pthread_mutex_lock (&bufs_lock);
  for (int i = 0; i < MAX_BUFS; i++)
    if (bufs[i].buf && (cmd == NULL || bufs[i].cmd == cmd)) {
      free (bufs[i].buf);
      bufs[i].buf = NULL;
    }
  pthread_mutex_unlock (&bufs_lock);
}

static void
remember_buf (const struct sh_cmd *cmd, uint8_t *buf)
{
  pthread_mutex_lock (&bufs_lock);
  for (int i = 0; i < MAX_BUFS; i++)
    if (bufs[i].buf == NULL) {
      bufs[i].cmd = cmd;
      bufs[i].buf = buf;
      buf = NULL;
      break;
    }
  pthread_mutex_unlock (&bufs_lock);
  if (buf)
    abort ();                   /* more than MAX_BUFS live commands */
}

void
sh_config (struct scsi_lu_config *cfg)
{
  memset (cfg, 0, sizeof *cfg);
  cfg->serial = "sh-serial-0";
  cfg->block_size = 512;
  cfg->write_cache = true;
}

struct scsi_lu *
sh_new_lu (uint64_t size, const struct scsi_lu_config *cfg,
           struct xcopy_stats *stats, int *fd_out)
{
  struct scsi_lu_config def;
  struct scsi_backend *be;
  struct scsi_lu *lu;
  int fd = h_file (size), r;

  if (cfg == NULL) {
    sh_config (&def);
    cfg = &def;
  }
  r = scsi_file_backend_from_fd (dup (fd), cfg->read_only, stats, &be);
  if (r < 0) {
    h_fail (__FILE__, __LINE__, "file backend: %s", strerror (-r));
    h_abort_case ();
  }
  r = scsi_lu_new (cfg, be, &lu);
  if (r < 0) {
    h_fail (__FILE__, __LINE__, "scsi_lu_new: %s", strerror (-r));
    h_abort_case ();
  }
  if (fd_out)
    *fd_out = fd;
  else
    h_close (fd);
  return lu;
}

void
sh_setup (struct sh_env *e, uint64_t size, const struct scsi_lu_config *cfg)
{
  struct scsi_target_config tc = {
    .name = "iqn.2024-01.test:tgt", .transport_version = 0x0960,
  };

  memset (e, 0, sizeof *e);
  e->size = size;
  e->bs = cfg && cfg->block_size ? cfg->block_size : 512;
  REQUIRE (scsi_target_new (&tc, &e->target) == 0);
  e->lu = sh_new_lu (size, cfg, &e->stats, &e->fd);
  REQUIRE (scsi_target_add_lu (e->target, 0, e->lu) == 0);
  REQUIRE (scsi_nexus_new (e->target, "iqn.2024-01.test:init",
                           "iqn.2024-01.test:tgt,t,0x0001", 1,
                           &e->nexus) == 0);
}

void
sh_teardown (struct sh_env *e)
{
  scsi_nexus_free (e->nexus);
  scsi_lu_unref (e->lu);
  scsi_target_free (e->target);
  h_close (e->fd);
  forget_buf (NULL);
  memset (e, 0, sizeof *e);
}

void
sh_run (struct scsi_nexus *n, uint16_t lun, struct sh_cmd *cmd,
        const uint8_t *cdb, size_t cdb_len, const void *out, size_t out_len,
        size_t in_cap)
{
  forget_buf (cmd);
  memset (cmd, 0, sizeof *cmd);
  REQUIRE (cdb_len <= sizeof cmd->cdb);
  memcpy (cmd->cdb, cdb, cdb_len);
  cmd->in = in_cap ? h_malloc (in_cap) : NULL;
  if (cmd->in) {
    memset (cmd->in, 0xee, in_cap);     /* catch bytes never written */
    remember_buf (cmd, cmd->in);
  }
  cmd->c.cdb = cmd->cdb;
  cmd->c.cdb_len = cdb_len;
  cmd->c.lun = lun;
  cmd->c.data_out = out;
  cmd->c.data_out_len = out_len;
  cmd->c.data_in = cmd->in;
  cmd->c.data_in_cap = in_cap;
  cmd->c.status = 0xff;
  scsi_execute (n, &cmd->c);
}

void
sh_cmd_free (struct sh_cmd *cmd)
{
  forget_buf (cmd);
  cmd->in = NULL;
}

void
sh_hexdump (const char *what, const uint8_t *p, size_t len)
{
  fprintf (stderr, "    %s (%zu):", what, len);
  for (size_t i = 0; i < len; i++)
    fprintf (stderr, "%s%02x", i % 16 ? " " : "\n      ", p[i]);
  fputc ('\n', stderr);
}

static void
show_sense (const struct sh_cmd *cmd)
{
  struct scsi_sense_info si;

  if (cmd->c.sense_len && scsi_sense_parse (cmd->c.sense, cmd->c.sense_len,
                                            &si))
    fprintf (stderr, "    sense %x/%02x/%02x\n", si.key, si.asc, si.ascq);
  sh_hexdump ("sense", cmd->c.sense, cmd->c.sense_len);
}

void
sh_expect_data (const char *file, int line, const struct sh_cmd *cmd,
                const uint8_t *data, size_t len)
{
  if (cmd->c.status != SCSI_STATUS_GOOD) {
    h_fail (file, line, "status 0x%02x, wanted GOOD", cmd->c.status);
    show_sense (cmd);
    return;
  }
  if (cmd->c.sense_len != 0)
    h_fail (file, line, "sense with GOOD status");
  if (cmd->c.data_in_len != len
      || (len && memcmp (cmd->c.data_in, data, len) != 0)) {
    h_fail (file, line, "data-in differs");
    sh_hexdump ("got", cmd->c.data_in, cmd->c.data_in_len);
    sh_hexdump ("wanted", data, len);
  }
}

void
sh_expect_sense (const char *file, int line, const struct sh_cmd *cmd,
                 const uint8_t *sense, size_t len)
{
  if (cmd->c.status != SCSI_STATUS_CHECK_CONDITION) {
    h_fail (file, line, "status 0x%02x, wanted CHECK CONDITION",
            cmd->c.status);
    return;
  }
  if (cmd->c.sense_len != len || memcmp (cmd->c.sense, sense, len) != 0) {
    h_fail (file, line, "sense differs");
    sh_hexdump ("got", cmd->c.sense, cmd->c.sense_len);
    sh_hexdump ("wanted", sense, len);
  }
  if (cmd->c.data_in_len != 0)
    h_fail (file, line, "data-in with CHECK CONDITION");
}

void
sh_expect_check (const char *file, int line, const struct sh_cmd *cmd,
                 uint8_t key, uint8_t asc, uint8_t ascq)
{
  struct scsi_sense_info si;

  if (cmd->c.status != SCSI_STATUS_CHECK_CONDITION
      || !scsi_sense_parse (cmd->c.sense, cmd->c.sense_len, &si)
      || si.key != key || si.asc != asc || si.ascq != ascq) {
    h_fail (file, line, "status 0x%02x, wanted CHECK CONDITION %x/%02x/%02x",
            cmd->c.status, key, asc, ascq);
    show_sense (cmd);
  }
}

const uint8_t *
sh_field_sense (uint8_t asc, bool cd, unsigned byte, int bit)
{
  static uint8_t s[18];

  memset (s, 0, sizeof s);
  s[0] = 0x70;
  s[2] = SCSI_SK_ILLEGAL_REQUEST;
  s[7] = 10;
  s[12] = asc;
  s[15] = (uint8_t) (0x80 | (cd ? 0x40 : 0) | (bit >= 0 ? 0x08 | bit : 0));
  s[16] = (uint8_t) (byte >> 8);
  s[17] = (uint8_t) byte;
  return s;
}

const uint8_t *
sh_plain_sense (uint8_t key, uint8_t asc, uint8_t ascq)
{
  static uint8_t s[18];

  memset (s, 0, sizeof s);
  s[0] = 0x70;
  s[2] = key;
  s[7] = 10;
  s[12] = asc;
  s[13] = ascq;
  return s;
}

void
sh_clear_ua (struct sh_env *e)
{
  struct sh_cmd cmd;

  for (int i = 0; i < 8; i++) {
    SH_RUN (e, &cmd, BYTES (0x00, 0, 0, 0, 0, 0), NULL, 0, 0);
    if (cmd.c.status == SCSI_STATUS_GOOD)
      return;
  }
  h_fail (__FILE__, __LINE__, "unit attentions do not clear");
}

void
sh_cdb10 (uint8_t *cdb, uint8_t op, uint8_t byte1, uint32_t lba,
          uint16_t len)
{
  memset (cdb, 0, 10);
  cdb[0] = op;
  cdb[1] = byte1;
  put_be32 (cdb + 2, lba);
  put_be16 (cdb + 7, len);
}

void
sh_cdb16 (uint8_t *cdb, uint8_t op, uint8_t byte1, uint64_t lba,
          uint32_t len)
{
  memset (cdb, 0, 16);
  cdb[0] = op;
  cdb[1] = byte1;
  put_be64 (cdb + 2, lba);
  put_be32 (cdb + 10, len);
}

void
sh_waiter_done (struct scsi_cmd *cmd, void *opaque)
{
  struct sh_waiter *w = opaque;

  (void) cmd;
  pthread_mutex_lock (&w->lock);
  w->done++;
  pthread_cond_signal (&w->cond);
  pthread_mutex_unlock (&w->lock);
}

void
sh_wait (struct sh_waiter *w, unsigned n)
{
  pthread_mutex_lock (&w->lock);
  while (w->done < n)
    pthread_cond_wait (&w->cond, &w->lock);
  pthread_mutex_unlock (&w->lock);
}
