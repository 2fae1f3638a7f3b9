/* xcopyd: logical units — identity, geometry, limits, lifetime. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi-int.h"

#define DEFAULT_VENDOR   "XCOPYD"
#define DEFAULT_PRODUCT  "xcopyd disk"
#define DEFAULT_REVISION "0001"

#define DEFAULT_MAX_TRANSFER   (UINT64_C (16) << 20)
#define DEFAULT_OPT_TRANSFER   (UINT64_C (1) << 20)
#define DEFAULT_MAX_UNMAP      (UINT64_C (512) << 20)
/* MAXIMUM UNMAP LBA COUNT never above 2^20 blocks: initiators and
 * libiscsi's Inquiry.BlockLimits take a larger finite value for garbage.
 */
#define MAX_UNMAP_BLOCKS       (UINT32_C (1) << 20)
#define DEFAULT_MAX_UNMAP_DESC 256
#define DEFAULT_MAX_WRITE_SAME (UINT64_C (1) << 30)

static _Atomic uint64_t next_lu_id = 1;

/* ---- LUN fields (SAM-5 4.7) ---- */

uint16_t
scsi_lun_decode (const uint8_t f[8])
{
  for (int i = 2; i < 8; i++)
    if (f[i] != 0)
      return SCSI_LUN_INVALID;
  switch (f[0] >> 6) {
  case 0:                       /* peripheral device addressing, bus 0 */
    return (f[0] & 0x3f) ? SCSI_LUN_INVALID : f[1];
  case 1:                       /* flat space addressing */
    return (uint16_t) ((f[0] & 0x3f) << 8 | f[1]);
  default:
    return SCSI_LUN_INVALID;
  }
}

void
scsi_lun_encode (uint16_t lun, uint8_t f[8])
{
  memset (f, 0, 8);
  if (lun < 256)
    f[1] = (uint8_t) lun;
  else {
    f[0] = (uint8_t) (0x40 | ((lun >> 8) & 0x3f));
    f[1] = (uint8_t) lun;
  }
}

/* ---- Identity ---- */

static bool
printable (const char *s, size_t max, bool allow_empty)
{
  size_t n = s ? strlen (s) : 0;

  if (s == NULL || n > max || (n == 0 && !allow_empty))
    return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < 0x20 || s[i] > 0x7e)
      return false;
  return true;
}

static bool
valid_serial (const char *s)
{
  size_t n;

  if (!printable (s, SCSI_SERIAL_MAX, false))
    return false;
  n = strlen (s);
  return s[0] != ' ' && s[n - 1] != ' ';
}

static uint64_t
fnv1a64 (const char *s, uint64_t seed)
{
  uint64_t h = UINT64_C (0xcbf29ce484222325) ^ seed;

  for (; *s; s++) {
    h ^= (uint8_t) *s;
    h *= UINT64_C (0x100000001b3);
  }
  return h;
}

/* SPC-4 7.8.6.6.5: NAA 6h IEEE Registered Extended — NAA (4 bits), IEEE
 * COMPANY ID (24), VENDOR SPECIFIC IDENTIFIER (36), and its 64-bit
 * EXTENSION.  The 100 vendor bits come from the serial.
 */
static void
naa_from_serial (uint8_t naa[16], uint32_t company_id, const char *serial)
{
  uint64_t vsid = fnv1a64 (serial, 0) & ((UINT64_C (1) << 36) - 1);

  put_be64 (naa, UINT64_C (6) << 60 | (uint64_t) company_id << 36 | vsid);
  put_be64 (naa + 8, fnv1a64 (serial, UINT64_C (0x5843) << 48));
}

static int
set_identity (struct scsi_lu *lu, const struct scsi_lu_config *c)
{
  const char *v = c->vendor ? c->vendor : DEFAULT_VENDOR;
  const char *p = c->product ? c->product : DEFAULT_PRODUCT;
  const char *r = c->revision ? c->revision : DEFAULT_REVISION;
  uint32_t cid = c->company_id ? c->company_id : SCSI_NAA_DEFAULT_COMPANY_ID;

  if (!valid_serial (c->serial) || !printable (v, 8, false)
      || !printable (p, 16, false) || !printable (r, 4, true)
      || cid > 0xffffff)
    return -EINVAL;
  if (c->have_naa && (c->naa[0] >> 4) != 6)
    return -EINVAL;
  strcpy (lu->serial, c->serial);
  strcpy (lu->vendor, v);
  strcpy (lu->product, p);
  strcpy (lu->revision, r);
  if (c->have_naa)
    memcpy (lu->naa, c->naa, 16);
  else
    naa_from_serial (lu->naa, cid, c->serial);
  return 0;
}

/* ---- Geometry and limits ---- */

static uint64_t
pick (uint64_t v, uint64_t def)
{
  return v ? v : def;
}

static uint32_t
blocks32 (uint64_t bytes, unsigned shift)
{
  uint64_t b = bytes >> shift;

  if (b == 0)
    b = 1;
  return b > UINT32_MAX ? UINT32_MAX : (uint32_t) b;
}

static int
set_geometry (struct scsi_lu *lu, const struct scsi_lu_config *c)
{
  uint32_t bs = c->block_size ? c->block_size : 512;
  struct scsi_backend *be = lu->be;

  if ((bs != 512 && bs != 4096) || c->phys_exp > 15)
    return -EINVAL;
  lu->block_size = bs;
  lu->block_shift = bs == 512 ? 9 : 12;
  lu->phys_exp = c->phys_exp;
  lu->read_only = c->read_only || (be->caps & SCSI_BE_CAP_READONLY);
  lu->thin = (be->caps & SCSI_BE_CAP_UNMAP) && be->ops->unmap != NULL;
  lu->power_on_ua = c->power_on_ua;
  lu->max_xfer = blocks32 (pick (c->max_transfer, DEFAULT_MAX_TRANSFER),
                           lu->block_shift);
  lu->opt_xfer = blocks32 (pick (c->opt_transfer, DEFAULT_OPT_TRANSFER),
                           lu->block_shift);
  if (lu->opt_xfer > lu->max_xfer)
    lu->opt_xfer = lu->max_xfer;
  lu->max_unmap = blocks32 (pick (c->max_unmap, DEFAULT_MAX_UNMAP),
                            lu->block_shift);
  if (lu->max_unmap > MAX_UNMAP_BLOCKS)
    lu->max_unmap = MAX_UNMAP_BLOCKS;
  lu->max_unmap_desc = (uint32_t) pick (c->max_unmap_desc,
                                        DEFAULT_MAX_UNMAP_DESC);
  lu->max_write_same = pick (c->max_write_same, DEFAULT_MAX_WRITE_SAME)
    >> lu->block_shift;
  if (lu->max_write_same == 0)
    lu->max_write_same = 1;
  lu->unmap_gran = be->granularity > bs ? be->granularity / bs : 1;
  return 0;
}

static int
read_size (struct scsi_lu *lu, uint64_t *blocks)
{
  uint64_t size;
  int r = lu->be->ops->size (lu->be, &size);

  if (r < 0)
    return r;
  *blocks = size >> lu->block_shift;
  return 0;
}

/* ---- Lifetime ---- */

static void
lu_destroy (struct scsi_lu *lu)
{
  rangelock_destroy (&lu->locks);
  pthread_mutex_destroy (&lu->lock);
  if (lu->be && lu->be->ops->close)
    lu->be->ops->close (lu->be);
  free (lu);
}

static int
lu_init (struct scsi_lu *lu, const struct scsi_lu_config *cfg)
{
  uint64_t blocks;
  int r;

  if ((r = set_identity (lu, cfg)) < 0 || (r = set_geometry (lu, cfg)) < 0
      || (r = read_size (lu, &blocks)) < 0)
    return r;
  atomic_store (&lu->blocks, blocks);
  lu->wce_default = cfg->write_cache;
  xs_mode_defaults (lu);
  return 0;
}

int
scsi_lu_new (const struct scsi_lu_config *cfg, struct scsi_backend *be,
             struct scsi_lu **out)
{
  struct scsi_lu *lu = calloc (1, sizeof *lu);
  int r;

  if (lu == NULL) {
    if (be && be->ops->close)
      be->ops->close (be);
    return -ENOMEM;
  }
  lu->be = be;
  pthread_mutex_init (&lu->lock, NULL);
  if ((r = rangelock_init (&lu->locks)) < 0) {
    pthread_mutex_destroy (&lu->lock);
    free (lu);
    if (be && be->ops->close)
      be->ops->close (be);
    return r;
  }
  if (cfg == NULL || be == NULL)
    r = -EINVAL;
  else
    r = lu_init (lu, cfg);
  if (r < 0) {
    lu_destroy (lu);
    return r;
  }
  atomic_store (&lu->refs, 1);
  lu->id = atomic_fetch_add (&next_lu_id, 1);
  *out = lu;
  return 0;
}

struct scsi_lu *
scsi_lu_ref (struct scsi_lu *lu)
{
  if (lu)
    atomic_fetch_add (&lu->refs, 1);
  return lu;
}

void
scsi_lu_unref (struct scsi_lu *lu)
{
  if (lu && atomic_fetch_sub (&lu->refs, 1) == 1)
    lu_destroy (lu);
}

const char *
scsi_lu_serial (const struct scsi_lu *lu)
{
  return lu->serial;
}

const uint8_t *
scsi_lu_naa (const struct scsi_lu *lu)
{
  return lu->naa;
}

uint32_t
scsi_lu_block_size (const struct scsi_lu *lu)
{
  return lu->block_size;
}

uint64_t
scsi_lu_blocks (const struct scsi_lu *lu)
{
  return xs_lu_blocks (lu);
}

uint64_t
xs_lu_blocks (const struct scsi_lu *lu)
{
  return atomic_load (&((struct scsi_lu *) lu)->blocks);
}

struct scsi_backend *
scsi_lu_backend (const struct scsi_lu *lu)
{
  return lu->be;
}

int
scsi_lu_resize (struct scsi_lu *lu)
{
  uint64_t blocks;
  int r = read_size (lu, &blocks);

  if (r < 0)
    return r;
  if (atomic_exchange (&lu->blocks, blocks) != blocks)
    xs_lu_raise_ua (lu, XS_UA_KIND_CAPACITY, NULL);
  return 0;
}

void
scsi_lu_reset (struct scsi_lu *lu)
{
  pthread_mutex_lock (&lu->lock);
  xs_mode_defaults (lu);
  pthread_mutex_unlock (&lu->lock);
  xs_lu_raise_ua (lu, XS_UA_KIND_RESET, NULL);
}

static _Atomic uint64_t ua_clock = 1;

uint64_t
xs_ua_clock_tick (void)
{
  return atomic_fetch_add (&ua_clock, 1) + 1;
}

uint64_t
xs_ua_clock_now (void)
{
  return atomic_load (&ua_clock);
}

void
xs_lu_raise_ua (struct scsi_lu *lu, enum xs_ua k, struct scsi_nexus *except)
{
  atomic_store (&lu->ua_when[k], xs_ua_clock_tick ());
  atomic_fetch_add (&lu->ua_gen[k], 1);
  if (except)
    xs_nexus_seen_ua (except, lu, k);
}
