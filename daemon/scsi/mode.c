/* xcopyd: MODE SENSE (6) (10), MODE SELECT (6) (10) and the mode pages.
 *
 * Pages (one table): Read-Write Error Recovery (SBC-3 6.4.9), Caching
 * (SBC-3 6.4.5; WCE changeable) and Control (SPC-4 7.5.8; D_SENSE and
 * SWP changeable: software write protection, which a LU reset clears).  Values are shared by every I_T nexus; a change made by
 * MODE SELECT raises MODE PARAMETERS CHANGED for the others (SPC-4
 * 7.5.2).  Saved values are not implemented: PC=11b and SP=1 are refused.
 */
#include <stddef.h>
#include <string.h>

#include "scsi-int.h"

struct mode_page {
  uint8_t code;
  uint8_t len;                  /* whole page, header included */
  size_t at;                    /* offset in struct xs_mode */
  const uint8_t *defaults;
  const uint8_t *changeable;    /* mask of bits MODE SELECT may change */
};

static const uint8_t rw_recovery_def[XS_MODE_RW_RECOVERY_LEN] = {
  0x01, 0x0a, 0x80,             /* AWRE */
};
static const uint8_t rw_recovery_chg[XS_MODE_RW_RECOVERY_LEN] = { 0 };

static const uint8_t caching_def[XS_MODE_CACHING_LEN] = {
  0x08, 0x12,
};
static const uint8_t caching_chg[XS_MODE_CACHING_LEN] = {
  0, 0, 0x04,                   /* WCE */
};

static const uint8_t control_def[XS_MODE_CONTROL_LEN] = {
  0x0a, 0x0a, 0x02,             /* GLTSD: no log parameters are saved */
  0x10,                         /* QUEUE ALGORITHM MODIFIER 1: unrestricted */
};
static const uint8_t control_chg[XS_MODE_CONTROL_LEN] = {
  0, 0, 0x04,                   /* D_SENSE */
  0, 0x08,                      /* SWP */
};

static const struct mode_page pages[] = {
  { 0x01, XS_MODE_RW_RECOVERY_LEN, offsetof (struct xs_mode, rw_recovery),
    rw_recovery_def, rw_recovery_chg },
  { 0x08, XS_MODE_CACHING_LEN, offsetof (struct xs_mode, caching),
    caching_def, caching_chg },
  { 0x0a, XS_MODE_CONTROL_LEN, offsetof (struct xs_mode, control),
    control_def, control_chg },
};
#define NPAGES (sizeof pages / sizeof pages[0])

static const struct mode_page *
find_page (uint8_t code)
{
  for (size_t i = 0; i < NPAGES; i++)
    if (pages[i].code == code)
      return &pages[i];
  return NULL;
}

static uint8_t *
cur (struct scsi_lu *lu, const struct mode_page *p)
{
  return (uint8_t *) &lu->mode + p->at;
}

void
xs_mode_defaults (struct scsi_lu *lu)
{
  for (size_t i = 0; i < NPAGES; i++)
    memcpy (cur (lu, &pages[i]), pages[i].defaults, pages[i].len);
  if (lu->wce_default)
    lu->mode.caching[2] |= 0x04;
}

bool
xs_lu_d_sense (struct scsi_lu *lu)
{
  return (__atomic_load_n (&lu->mode.control[2], __ATOMIC_RELAXED) & 0x04)
    != 0;
}

/* SPC-4 7.5.8: SWP makes every command that writes the medium end DATA
 * PROTECT, WRITE PROTECTED, as a read-only LU does.
 */
bool
xs_lu_write_protected (struct scsi_lu *lu)
{
  return lu->read_only
    || (__atomic_load_n (&lu->mode.control[4], __ATOMIC_RELAXED) & 0x08);
}

bool
xs_lu_wce (struct scsi_lu *lu)
{
  return (__atomic_load_n (&lu->mode.caching[2], __ATOMIC_RELAXED) & 0x04)
    != 0;
}

/* ---- MODE SENSE (SPC-4 6.11, 6.12) ---- */

enum { PC_CURRENT, PC_CHANGEABLE, PC_DEFAULT, PC_SAVED };

static void
page_bytes (struct scsi_lu *lu, const struct mode_page *p, unsigned pc,
            uint8_t *out)
{
  if (pc == PC_CURRENT)
    memcpy (out, cur (lu, p), p->len);
  else if (pc == PC_DEFAULT) {
    memcpy (out, p->defaults, p->len);
    if (p->code == 0x08 && lu->wce_default)
      out[2] |= 0x04;
  }
  else {
    memcpy (out, p->changeable, p->len);
    out[0] = p->code;
    out[1] = (uint8_t) (p->len - 2);
  }
}

/* Block descriptor (SBC-3 6.4.2): short (8 bytes) or long LBA (16). */
static size_t
block_descriptor (struct scsi_lu *lu, bool longlba, uint8_t *out)
{
  uint64_t blocks = xs_lu_blocks (lu);

  if (longlba) {
    memset (out, 0, 16);
    put_be64 (out, blocks);
    put_be32 (out + 12, lu->block_size);
    return 16;
  }
  memset (out, 0, 8);
  put_be32 (out, blocks > UINT32_MAX ? UINT32_MAX : (uint32_t) blocks);
  put_be24 (out + 5, lu->block_size);
  return 8;
}

/* The pages asked for, after the header and descriptor. */
static enum xs_status
add_pages (struct xs_task *t, uint8_t code, uint8_t sub, unsigned pc,
           uint8_t *out, size_t *len)
{
  const struct mode_page *p;

  if (sub != 0x00 && sub != 0xff)
    return xs_bad_cdb (t, 3, -1);
  if (code == 0x3f) {
    for (size_t i = 0; i < NPAGES; i++) {
      page_bytes (t->lu, &pages[i], pc, out + *len);
      *len += pages[i].len;
    }
    return XS_GOOD;
  }
  if ((p = find_page (code)) == NULL)
    return xs_bad_cdb (t, 2, 5);
  page_bytes (t->lu, p, pc, out + *len);
  *len += p->len;
  return XS_GOOD;
}

static enum xs_status
mode_sense (struct xs_task *t, bool ten, size_t alloc)
{
  struct scsi_lu *lu = t->lu;
  const uint8_t *c = t->cdb;
  bool dbd = c[1] & 0x08, longlba = ten && (c[1] & 0x10);
  unsigned pc = c[2] >> 6;
  size_t hdr = ten ? 8 : 4, len = hdr, bdl = 0;
  uint8_t out[8 + 16 + XS_MODE_RW_RECOVERY_LEN + XS_MODE_CACHING_LEN
              + XS_MODE_CONTROL_LEN];
  enum xs_status s;

  if (pc == PC_SAVED)
    return XS_SAVING_PARAMS_UNSUPPORTED;
  memset (out, 0, sizeof out);
  if (!dbd)
    len += bdl = block_descriptor (lu, longlba, out + hdr);
  pthread_mutex_lock (&lu->lock);
  s = add_pages (t, c[2] & 0x3f, c[3], pc, out, &len);
  pthread_mutex_unlock (&lu->lock);
  if (s != XS_GOOD)
    return s;
  /* SBC-3 6.4.1: device-specific parameter WP, DPOFUA. */
  out[ten ? 3 : 2] = (uint8_t) ((xs_lu_write_protected (lu) ? 0x80 : 0)
                                | 0x10);
  if (ten) {
    put_be16 (out, (uint16_t) (len - 2));
    out[4] = longlba && !dbd ? 0x01 : 0;
    put_be16 (out + 6, (uint16_t) bdl);
  }
  else {
    out[0] = (uint8_t) (len - 1);
    out[3] = (uint8_t) bdl;
  }
  return xs_reply (t, out, len, alloc);
}

static enum xs_status
do_mode_sense6 (struct xs_task *t)
{
  return mode_sense (t, false, t->cdb[4]);
}

static enum xs_status
do_mode_sense10 (struct xs_task *t)
{
  return mode_sense (t, true, get_be16 (t->cdb + 7));
}

/* ---- MODE SELECT (SPC-4 6.9, 6.10) ---- */

/* A block descriptor may restate the geometry, never change it. */
static enum xs_status
check_block_descriptor (struct xs_task *t, const uint8_t *d, size_t len,
                        size_t at)
{
  uint64_t blocks = xs_lu_blocks (t->lu), n;
  uint32_t bs;

  if (len == 16) {
    n = get_be64 (d);
    bs = get_be32 (d + 12);
  }
  else {
    n = get_be32 (d);
    bs = get_be24 (d + 5);
  }
  if (bs != t->lu->block_size)
    return xs_bad_param (t, (unsigned) (at + (len == 16 ? 12 : 5)), -1);
  if (n != 0 && n != blocks && !(len == 8 && n == UINT32_MAX))
    return xs_bad_param (t, (unsigned) at, -1);
  return XS_GOOD;
}

/* Check one page at p[at]; *plen gets its length. */
static enum xs_status
check_page (struct xs_task *t, const uint8_t *p, size_t end, size_t at,
            size_t *plen)
{
  const struct mode_page *mp;
  const uint8_t *now;

  if (at + 2 > end)
    return XS_PARAM_LIST_LENGTH_ERROR;
  if (p[at] & 0x40)
    return xs_bad_param (t, (unsigned) at, 6);          /* SPF: no subpages */
  if ((mp = find_page (p[at] & 0x3f)) == NULL)
    return xs_bad_param (t, (unsigned) at, 5);
  if (p[at + 1] != mp->len - 2)
    return xs_bad_param (t, (unsigned) at + 1, -1);
  if (at + mp->len > end)
    return XS_PARAM_LIST_LENGTH_ERROR;
  now = cur (t->lu, mp);
  for (size_t j = 2; j < mp->len; j++) {
    uint8_t bad = (p[at + j] ^ now[j]) & (uint8_t) ~mp->changeable[j];
    if (bad)
      return xs_bad_param (t, (unsigned) (at + j), 31 - __builtin_clz (bad));
  }
  *plen = mp->len;
  return XS_GOOD;
}

/* Apply checked pages; true when anything changed. */
static bool
apply_pages (struct scsi_lu *lu, const uint8_t *p, size_t at, size_t end)
{
  bool changed = false;

  while (at < end) {
    const struct mode_page *mp = find_page (p[at] & 0x3f);
    uint8_t *now = cur (lu, mp);
    for (size_t j = 2; j < mp->len; j++) {
      uint8_t v = (uint8_t) ((now[j] & ~mp->changeable[j])
                             | (p[at + j] & mp->changeable[j]));
      changed |= v != now[j];
      __atomic_store_n (&now[j], v, __ATOMIC_RELAXED);
    }
    at += mp->len;
  }
  return changed;
}

static enum xs_status
check_pages (struct xs_task *t, const uint8_t *p, size_t at, size_t end)
{
  enum xs_status s = XS_GOOD;

  while (at < end && s == XS_GOOD) {
    size_t plen = 0;
    s = check_page (t, p, end, at, &plen);
    at += plen;
  }
  return s;
}

static enum xs_status
mode_select (struct xs_task *t, bool ten, size_t pll)
{
  size_t hdr = ten ? 8 : 4, bdl;
  const uint8_t *p;
  enum xs_status s;
  bool changed;

  if (t->cdb[1] & 0x01)
    return xs_bad_cdb (t, 1, 0);                /* SP: nothing is saved */
  if ((s = xs_data_out (t, pll, &p)) != XS_GOOD || pll == 0)
    return s;
  if (pll < hdr)
    return XS_PARAM_LIST_LENGTH_ERROR;
  bdl = ten ? get_be16 (p + 6) : p[3];
  if (hdr + bdl > pll)
    return XS_PARAM_LIST_LENGTH_ERROR;
  if (p[ten ? 2 : 1] != 0)
    return xs_bad_param (t, ten ? 2 : 1, -1);   /* MEDIUM TYPE */
  if (bdl != 0 && bdl != ((ten && (p[4] & 0x01)) ? 16 : 8))
    return xs_bad_param (t, ten ? 6 : 3, -1);
  if (bdl && (s = check_block_descriptor (t, p + hdr, bdl, hdr)) != XS_GOOD)
    return s;
  pthread_mutex_lock (&t->lu->lock);
  s = check_pages (t, p, hdr + bdl, pll);
  changed = s == XS_GOOD && apply_pages (t->lu, p, hdr + bdl, pll);
  pthread_mutex_unlock (&t->lu->lock);
  if (changed)
    xs_lu_raise_ua (t->lu, XS_UA_KIND_MODE, t->nexus);
  return s;
}

static enum xs_status
do_mode_select6 (struct xs_task *t)
{
  return mode_select (t, false, t->cdb[4]);
}

static enum xs_status
do_mode_select10 (struct xs_task *t)
{
  return mode_select (t, true, get_be16 (t->cdb + 7));
}

const struct xs_cmd_desc xs_cmd_mode_sense6 = {
  .opcode = 0x1a, .cdb_len = 6, .dir = SCSI_DIR_IN,
  .name = "MODE SENSE (6)", .fn = do_mode_sense6,
  .usage = { 0x1a, 0x08, 0xff, 0xff, 0xff, 0x00 },
};

const struct xs_cmd_desc xs_cmd_mode_sense10 = {
  .opcode = 0x5a, .cdb_len = 10, .dir = SCSI_DIR_IN,
  .name = "MODE SENSE (10)", .fn = do_mode_sense10,
  .usage = { 0x5a, 0x18, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00 },
};

const struct xs_cmd_desc xs_cmd_mode_select6 = {
  .opcode = 0x15, .cdb_len = 6, .dir = SCSI_DIR_OUT,
  .name = "MODE SELECT (6)", .fn = do_mode_select6,
  .usage = { 0x15, 0x11, 0x00, 0x00, 0xff, 0x00 },
};

const struct xs_cmd_desc xs_cmd_mode_select10 = {
  .opcode = 0x55, .cdb_len = 10, .dir = SCSI_DIR_OUT,
  .name = "MODE SELECT (10)", .fn = do_mode_select10,
  .usage = { 0x55, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00 },
};
