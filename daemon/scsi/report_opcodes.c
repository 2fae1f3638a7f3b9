/* xcopyd: REPORT SUPPORTED OPERATION CODES (SPC-4 6.35), from the opcode
 * table: every command with a handler, in opcode and service-action order,
 * with the CDB usage data its descriptor carries.  RCTD adds command
 * timeouts descriptors with no timeouts given (0: "not specified").
 */
#include <stdlib.h>
#include <string.h>

#include "scsi-int.h"

#define TIMEOUTS_LEN 12

/* SPC-4 6.35.4: command timeouts descriptor. */
static size_t
put_timeouts (uint8_t *out)
{
  memset (out, 0, TIMEOUTS_LEN);
  put_be16 (out, 0x000a);
  return TIMEOUTS_LEN;
}

/* Call fn for each supported command; returns how many there are. */
static size_t
each_cmd (void (*fn) (const struct xs_cmd_desc *d, void *opaque),
          void *opaque)
{
  size_t n = 0;

  for (int op = 0; op < 256; op++) {
    const struct xs_opcode *o = &xs_opcodes[op];
    for (int sa = 0; sa < (o->sa ? 32 : 1); sa++) {
      const struct xs_cmd_desc *d = o->sa ? o->sa[sa] : o->cmd;
      if (d == NULL || d->fn == NULL)
        continue;
      if (fn)
        fn (d, opaque);
      n++;
    }
  }
  return n;
}

struct all_buf {
  uint8_t *p;
  bool rctd;
};

/* SPC-4 6.35.3 table 294: command descriptor. */
static void
put_command (const struct xs_cmd_desc *d, void *opaque)
{
  struct all_buf *b = opaque;

  memset (b->p, 0, 8);
  b->p[0] = d->opcode;
  put_be16 (b->p + 2, d->has_sa ? d->sa : 0);
  b->p[5] = (uint8_t) ((b->rctd ? 0x02 : 0) | (d->has_sa ? 0x01 : 0));
  put_be16 (b->p + 6, d->cdb_len);
  b->p += 8;
  if (b->rctd)
    b->p += put_timeouts (b->p);
}

static enum xs_status
report_all (struct xs_task *t, bool rctd, uint32_t alloc)
{
  size_t each = 8 + (rctd ? TIMEOUTS_LEN : 0);
  size_t len = 4 + each * each_cmd (NULL, NULL);
  struct all_buf b;
  uint8_t *buf = malloc (len);
  enum xs_status s;

  if (buf == NULL)
    return XS_TASK_SET_FULL;
  put_be32 (buf, (uint32_t) (len - 4));
  b = (struct all_buf) { buf + 4, rctd };
  each_cmd (put_command, &b);
  s = xs_reply (t, buf, len, alloc);
  free (buf);
  return s;
}

/* SPC-4 6.35.2, reporting options 001b-011b: the descriptor asked for,
 * NULL when unsupported; XS_INVALID_FIELD_IN_CDB when the options do not
 * fit the opcode (service actions or not).
 */
static enum xs_status
find_one (struct xs_task *t, unsigned opts, const struct xs_cmd_desc **d)
{
  const struct xs_opcode *o = &xs_opcodes[t->cdb[3]];
  uint16_t sa = get_be16 (t->cdb + 4);

  *d = NULL;
  if (o->sa == NULL) {
    if (opts == 2)
      return xs_bad_cdb (t, 2, 2);
    *d = o->cmd;
  }
  else {
    if (opts == 1)
      return xs_bad_cdb (t, 2, 2);
    if (sa < 32)
      *d = o->sa[sa];
  }
  if (*d && (*d)->fn == NULL)
    *d = NULL;
  return XS_GOOD;
}

static enum xs_status
report_one (struct xs_task *t, unsigned opts, bool rctd, uint32_t alloc)
{
  const struct xs_cmd_desc *d;
  uint8_t buf[4 + 16 + TIMEOUTS_LEN];
  size_t len = 4;
  enum xs_status s = find_one (t, opts, &d);

  if (s != XS_GOOD)
    return s;
  memset (buf, 0, sizeof buf);
  buf[1] = 0x01;                                /* SUPPORT: not supported */
  if (d) {
    buf[1] = (uint8_t) ((rctd ? 0x80 : 0) | 0x03);      /* CTDP, supported */
    put_be16 (buf + 2, d->cdb_len);
    memcpy (buf + 4, d->usage, d->cdb_len);
    len += d->cdb_len;
    if (rctd)
      len += put_timeouts (buf + len);
  }
  return xs_reply (t, buf, len, alloc);
}

static enum xs_status
do_report_opcodes (struct xs_task *t)
{
  bool rctd = t->cdb[2] & 0x80;
  unsigned opts = t->cdb[2] & 0x07;
  uint32_t alloc = get_be32 (t->cdb + 6);

  if (opts == 0)
    return report_all (t, rctd, alloc);
  if (opts > 3)
    return xs_bad_cdb (t, 2, 2);
  return report_one (t, opts, rctd, alloc);
}

const struct xs_cmd_desc xs_cmd_report_opcodes = {
  .opcode = 0xa3, .sa = 0x0c, .has_sa = true, .cdb_len = 12,
  .dir = SCSI_DIR_IN, .name = "REPORT SUPPORTED OPERATION CODES",
  .fn = do_report_opcodes,
  .usage = { 0xa3, 0x0c, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
             0x00, 0x00 },
};
