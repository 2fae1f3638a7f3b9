/* xcopyd: the SCSI device fuzz targets run against (scsi-fuzz-env.h). */
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "scsi-fuzz-env.h"

static int fds[SFE_NLUS] = { -1, -1 };

static int
lu_file (int i)
{
  if (fds[i] < 0) {
    fds[i] = memfd_create ("xcopy-fuzz-lu", MFD_CLOEXEC);
    SFE_ASSERT (fds[i] >= 0);
  }
  /* Zero it: every input starts from the same blocks. */
  SFE_ASSERT (ftruncate (fds[i], 0) == 0);
  SFE_ASSERT (ftruncate (fds[i], SFE_LU_SIZE) == 0);
  return fds[i];
}

static struct scsi_lu *
make_lu (int i)
{
  struct scsi_lu_config cfg = {
    .serial = i ? "fuzz-lu-1" : "fuzz-lu-0",
    .block_size = i ? 4096 : 512,
    .phys_exp = i ? 0 : 3,
    .write_cache = true,
    .power_on_ua = i == 1,
    .max_transfer = 64 * 1024,
    .max_unmap = 128 * 1024,
    .max_unmap_desc = 64,
    .max_write_same = 128 * 1024,
  };
  struct scsi_backend *be;
  struct scsi_lu *lu;

  SFE_ASSERT (scsi_file_backend_from_fd (dup (lu_file (i)), false, NULL,
                                         &be) == 0);
  SFE_ASSERT (scsi_lu_new (&cfg, be, &lu) == 0);
  return lu;
}

void
sfe_setup (struct sfe *e)
{
  struct scsi_target_config tc = { .name = "iqn.2024-01.fuzz:tgt",
                                   .transport_version = 0x0960,
                                   .workers = 1 };

  SFE_ASSERT (scsi_target_new (&tc, &e->target) == 0);
  for (int i = 0; i < SFE_NLUS; i++) {
    e->lu[i] = make_lu (i);
    SFE_ASSERT (scsi_target_add_lu (e->target, (uint16_t) i, e->lu[i]) == 0);
  }
  SFE_ASSERT (scsi_nexus_new (e->target, "iqn.2024-01.fuzz:init",
                              "iqn.2024-01.fuzz:tgt,t,0x0001", 1,
                              &e->nexus) == 0);
}

void
sfe_teardown (struct sfe *e)
{
  scsi_nexus_free (e->nexus);
  for (int i = 0; i < SFE_NLUS; i++)
    scsi_lu_unref (e->lu[i]);
  scsi_target_free (e->target);
}

static void
check (struct sfe *e, const struct scsi_cmd *c, size_t in_cap)
{
  struct scsi_sense_info si;

  switch (c->status) {
  case SCSI_STATUS_GOOD: case SCSI_STATUS_CONDITION_MET:
    SFE_ASSERT (c->sense_len == 0);
    break;
  case SCSI_STATUS_CHECK_CONDITION:
    SFE_ASSERT (c->sense_len >= 8 && c->sense_len <= SCSI_SENSE_MAX);
    SFE_ASSERT (scsi_sense_parse (c->sense, c->sense_len, &si));
    SFE_ASSERT (si.key != SCSI_SK_NO_SENSE);
    SFE_ASSERT (c->data_in_len == 0);
    break;
  case SCSI_STATUS_BUSY: case SCSI_STATUS_TASK_SET_FULL:
  case SCSI_STATUS_TASK_ABORTED:
    SFE_ASSERT (c->sense_len == 0 && c->data_in_len == 0);
    break;
  default:
    SFE_ASSERT (!"unknown status");
  }
  SFE_ASSERT (c->data_in_len <= in_cap);
  SFE_ASSERT (c->data_in_len == 0 || c->dir == SCSI_DIR_IN);
  SFE_ASSERT (c->data_in_len <= c->xfer_len);
  for (int i = 0; i < SFE_NLUS; i++)
    SFE_ASSERT (scsi_lu_blocks (e->lu[i]) * scsi_lu_block_size (e->lu[i])
                == SFE_LU_SIZE);
}

void
sfe_run (struct sfe *e, uint16_t lun, const uint8_t *cdb, size_t cdb_len,
         const uint8_t *out, size_t out_len, size_t in_cap,
         struct scsi_cmd *result)
{
  struct scsi_cmd c;
  /* Exact-size copies, so ASan sees any read past the end. */
  uint8_t *cdb_copy = malloc (cdb_len ? cdb_len : 1);
  uint8_t *out_copy = malloc (out_len ? out_len : 1);
  uint8_t *in = malloc (in_cap ? in_cap : 1);
  uint64_t size;

  SFE_ASSERT (cdb_copy && out_copy && in);
  memcpy (cdb_copy, cdb, cdb_len);
  if (out_len)
    memcpy (out_copy, out, out_len);
  memset (&c, 0, sizeof c);
  c.cdb = cdb_copy;
  c.cdb_len = cdb_len;
  c.lun = lun;
  c.data_out = out_len ? out_copy : NULL;
  c.data_out_len = out_len;
  c.data_in = in;
  c.data_in_cap = in_cap;
  scsi_execute (e->nexus, &c);
  check (e, &c, in_cap);
  for (int i = 0; i < SFE_NLUS; i++) {
    struct scsi_backend *be = scsi_lu_backend (e->lu[i]);
    SFE_ASSERT (be->ops->size (be, &size) == 0 && size == SFE_LU_SIZE);
  }
  if (result) {
    *result = c;
    result->data_in = NULL;
  }
  free (cdb_copy);
  free (out_copy);
  free (in);
}

#ifdef XCOPY_FUZZ_STANDALONE
static int
run_file (const char *path)
{
  FILE *f = fopen (path, "rb");
  unsigned char *buf = NULL;
  size_t n = 0, cap = 0, got;

  if (f == NULL) {
    perror (path);
    return 1;
  }
  do {
    if (n == cap && (buf = realloc (buf, cap = cap ? 2 * cap : 65536)) == NULL)
      abort ();
    got = fread (buf + n, 1, cap - n, f);
    n += got;
  } while (got > 0);
  fclose (f);
  LLVMFuzzerTestOneInput (buf, n);
  free (buf);
  return 0;
}

int
main (int argc, char **argv)
{
  int ret = 0;

  for (int i = 1; i < argc; i++)
    ret |= run_file (argv[i]);
  printf ("%d inputs run\n", argc - 1);
  return ret;
}
#endif
