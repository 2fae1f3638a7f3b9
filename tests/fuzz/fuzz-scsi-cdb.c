/* xcopyd: libFuzzer target for the SCSI command dispatcher.
 *
 * Input: up to MAX_CMDS commands run in order on one fresh device
 * (scsi-fuzz-env.h), so that state a command leaves (MODE SELECT, unit
 * attentions, written blocks) reaches the next.  Each command is
 *
 *   u8  flags      bits 0-1: LUN (3 = a LUN with no LU);
 *                  bits 2-4: data-in buffer size, one of in_caps[]
 *   u8  cdb_len    modulo 33
 *   ... cdb        cdb_len bytes
 *   u16 out_len    big-endian, data-out bytes that follow (clamped)
 *   ... data-out
 *
 * Besides memory safety (ASan/UBSan), sfe_run() checks status, sense and
 * data-in invariants after every command.
 *
 * Build and run (tests/func/test-fuzz-scsi.sh does this), from the top:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
 *     -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Iinclude -Icommon \
 *     tests/fuzz/fuzz-scsi-cdb.c tests/fuzz/scsi-fuzz-env.c \
 *     daemon/scsi/[a-z]*.c common/[a-z]*.c -lpthread -o fuzz-scsi-cdb
 *   ./fuzz-scsi-cdb -max_total_time=15 NEW_DIR tests/fuzz/corpus/scsi-cdb
 */
#include "scsi-fuzz-env.h"

#define MAX_CMDS 16

static const size_t in_caps[8] = { 0, 8, 18, 36, 255, 512, 4096, 65536 };

int
LLVMFuzzerTestOneInput (const uint8_t *d, size_t size)
{
  struct sfe e;

  sfe_setup (&e);
  for (int k = 0; k < MAX_CMDS && size >= 2; k++) {
    uint8_t flags = d[0];
    size_t cdb_len = d[1] % 33, out_len = 0;
    const uint8_t *cdb, *out;
    uint16_t lun = (flags & 3) == 3 ? 7 : flags & 3;

    d += 2;
    size -= 2;
    cdb_len = cdb_len < size ? cdb_len : size;
    cdb = d;
    d += cdb_len;
    size -= cdb_len;
    if (size >= 2) {
      out_len = get_be16 (d);
      d += 2;
      size -= 2;
    }
    out_len = out_len < size ? out_len : size;
    out = d;
    d += out_len;
    size -= out_len;
    sfe_run (&e, lun, cdb, cdb_len, out, out_len, in_caps[(flags >> 2) & 7],
             NULL);
  }
  sfe_teardown (&e);
  return 0;
}
