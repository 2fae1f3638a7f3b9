/* xcopyd: sample control-protocol messages for the proto tests.
 *
 * One or more valid requests and replies for every opcode, each with a
 * name that doubles as its file name in the fuzz seed corpus
 * (tests/fuzz/corpus/proto-decode/, kept in sync by test-proto-corpus).
 */
#ifndef XCOPY_TEST_PROTO_SAMPLES_H
#define XCOPY_TEST_PROTO_SAMPLES_H

#include <stdbool.h>
#include <stddef.h>

#include "xcopy/proto.h"

struct proto_sample {
  const char *name;
  bool is_reply;
  const struct xcopy_proto_request *req;
  const struct xcopy_proto_reply *rep;
};

/* The samples (static, built on first use). */
size_t proto_samples (const struct proto_sample **out);

/* Encode a sample into a fresh buffer (aborts the case on failure). */
void proto_sample_encode (const struct proto_sample *s, struct xcopy_wbuf *w);

/* Every field, one per line ("copy.ranges[1].dst = 4096"): comparing two
 * dumps compares two messages field by field.  malloc'd.
 */
char *proto_dump_request (const struct xcopy_proto_request *req);
char *proto_dump_reply (const struct xcopy_proto_reply *rep);

/* Hex text ("78 63 70 51 ...", any white space) to bytes; malloc'd. */
unsigned char *proto_unhex (const char *hex, size_t *len);
/* Compare bytes with expected hex; on a difference, print both dumps. */
bool proto_check_hex (const char *file, int line, const unsigned char *got,
                      size_t len, const char *hex);
#define CHECK_HEX(got, len, hex) \
  proto_check_hex (__FILE__, __LINE__, (got), (len), (hex))

#endif /* XCOPY_TEST_PROTO_SAMPLES_H */
