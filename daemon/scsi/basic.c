/* xcopyd: TEST UNIT READY, REQUEST SENSE, REPORT LUNS (SPC-4 6.37, 6.29,
 * 6.27).
 *
 * Sense is always returned with CHECK CONDITION (autosense), so REQUEST
 * SENSE only ever reports a pending unit attention (which it clears),
 * LOGICAL UNIT NOT SUPPORTED for a LUN with no LU, or NO SENSE.
 */
#include <stdlib.h>
#include <string.h>

#include "scsi-int.h"

static enum xs_status
do_test_unit_ready (struct xs_task *t)
{
  (void) t;
  return XS_GOOD;
}

static enum xs_status
do_request_sense (struct xs_task *t)
{
  bool desc = t->cdb[1] & 0x01;
  enum xs_status what = XS_LU_NOT_SUPPORTED;
  struct xs_detail none = { .bit = -1 };
  uint8_t sense[SCSI_SENSE_MAX];
  size_t len;

  if (t->lu)
    what = xs_nexus_take_ua (t->nexus, t->lu);
  len = xs_build_sense (sense, what, &none, desc);
  return xs_reply (t, sense, len, t->cdb[4]);
}

/* SPC-4 6.27: SELECT REPORT 00h and 02h list the LUs (we have no
 * well-known LUs, so 01h lists nothing).
 */
static enum xs_status
do_report_luns (struct xs_task *t)
{
  uint8_t select = t->cdb[2];
  uint32_t alloc = get_be32 (t->cdb + 6);
  struct xs_lun_entry *l = NULL;
  size_t count = 0;
  uint8_t *buf;
  enum xs_status s;

  if (select > 0x02)
    return xs_bad_cdb (t, 2, -1);
  if (select != 0x01 && xs_nexus_luns (t->nexus, &l, &count) < 0)
    return XS_TASK_SET_FULL;
  if ((buf = calloc (1, 8 + 8 * count)) == NULL) {
    xs_lun_list_free (l, count);
    return XS_TASK_SET_FULL;
  }
  put_be32 (buf, (uint32_t) (8 * count));
  for (size_t i = 0; i < count; i++)
    scsi_lun_encode (l[i].lun, buf + 8 + 8 * i);
  xs_lun_list_free (l, count);
  xs_nexus_seen_luns (t->nexus);
  s = xs_reply (t, buf, 8 + 8 * count, alloc);
  free (buf);
  return s;
}

const struct xs_cmd_desc xs_cmd_test_unit_ready = {
  .opcode = 0x00, .cdb_len = 6, .dir = SCSI_DIR_NONE,
  .name = "TEST UNIT READY", .fn = do_test_unit_ready,
  .usage = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 },
};

const struct xs_cmd_desc xs_cmd_request_sense = {
  .opcode = 0x03, .cdb_len = 6, .dir = SCSI_DIR_IN,
  .flags = XS_F_ANY_LUN | XS_F_NO_UA,
  .name = "REQUEST SENSE", .fn = do_request_sense,
  .usage = { 0x03, 0x01, 0x00, 0x00, 0xff, 0x00 },
};

const struct xs_cmd_desc xs_cmd_report_luns = {
  .opcode = 0xa0, .cdb_len = 12, .dir = SCSI_DIR_IN,
  .flags = XS_F_ANY_LUN | XS_F_NO_UA,
  .name = "REPORT LUNS", .fn = do_report_luns,
  .usage = { 0xa0, 0x00, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
             0x00, 0x00 },
};
