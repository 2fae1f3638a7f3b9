/* xcopyd: a SCSI device for fuzz targets (tests/fuzz/fuzz-scsi-*.c).
 *
 * Each input gets a fresh target with two LUs over memfd files (contents
 * zeroed per input, so every input runs from the same state): LUN 0 with
 * 512-byte blocks, LUN 1 with 4096-byte blocks, and one nexus.  After each
 * command sfe_check() asserts what must hold whatever the input: a valid
 * status, well-formed sense exactly with CHECK CONDITION, data-in inside
 * the buffer and the SCSI transfer length, no data-in with an error, no
 * LU grown or shrunk.
 *
 * tests/func/test-fuzz-scsi.sh builds every fuzz-scsi-*.c target with
 * scsi-fuzz-env.c and the sources of daemon/scsi/ and common/.  With
 * -DXCOPY_FUZZ_STANDALONE scsi-fuzz-env.c supplies a main() that runs the
 * files named on the command line once each.
 */
#ifndef XCOPY_SCSI_FUZZ_ENV_H
#define XCOPY_SCSI_FUZZ_ENV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../daemon/scsi/scsi.h"
#include "../../daemon/scsi/scsi-int.h"

#define SFE_ASSERT(cond)                                                \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf (stderr, "%s:%d: ASSERT (%s) failed\n", __FILE__,         \
               __LINE__, #cond);                                        \
      abort ();                                                         \
    }                                                                   \
  } while (0)

#define SFE_LU_SIZE (256 * 1024)
#define SFE_NLUS 2

struct sfe {
  struct scsi_target *target;
  struct scsi_nexus *nexus;
  struct scsi_lu *lu[SFE_NLUS];
};

/* Build / drop the device for one input. */
void sfe_setup (struct sfe *e);
void sfe_teardown (struct sfe *e);

/* Run one command (data-in buffer of in_cap bytes, freed here) and check
 * the invariants.
 */
void sfe_run (struct sfe *e, uint16_t lun, const uint8_t *cdb, size_t cdb_len,
              const uint8_t *out, size_t out_len, size_t in_cap,
              struct scsi_cmd *result);

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#endif /* XCOPY_SCSI_FUZZ_ENV_H */
