/* xcopyd: libFuzzer target for the control-protocol decoders.
 *
 * Input: one frame, read as a reply when it starts with the reply magic,
 * else as a request; then the same frame with header.length set to the
 * bytes that follow the header, so that mutations which insert or remove
 * bytes still reach the payload decoders.  Besides memory safety (ASan/UBSan), it checks what
 * PROTOCOL.md promises of the codec:
 *
 *   - accepted frames are canonical: re-encoding gives the input back;
 *   - refusals return -errno equal to e.err, with a UTF-8 message;
 *   - every refused request yields an error reply that encodes, decodes
 *     and echoes the serial (a server can always answer).
 *
 * Build and run (tests/func/test-fuzz-proto.sh does this), from the top:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
 *     -D_GNU_SOURCE -Iinclude -Icommon tests/fuzz/fuzz-proto-decode.c \
 *     $(ls proto/[a-z]*.c) -o fuzz-proto-decode
 *   ./fuzz-proto-decode -max_total_time=20 NEW_DIR tests/fuzz/corpus/proto-decode
 *
 * With -DXCOPY_FUZZ_STANDALONE it has its own main() that runs the files
 * named on the command line once each (any compiler, no libFuzzer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xcopy/proto.h"

#define ASSERT(cond)                                                    \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf (stderr, "%s:%d: ASSERT (%s) failed\n", __FILE__,         \
               __LINE__, #cond);                                        \
      abort ();                                                         \
    }                                                                   \
  } while (0)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_refusal (int r, const struct xcopy_proto_err *e)
{
  ASSERT (r < 0);
  ASSERT (e->err == -r);
  ASSERT (memchr (e->msg, '\0', sizeof e->msg) != NULL);
  ASSERT (xcopy_proto_utf8_valid (e->msg, strlen (e->msg)));
}

static void
check_same_bytes (const struct xcopy_wbuf *w, const uint8_t *data,
                  size_t size)
{
  ASSERT (w->len == size);
  ASSERT (memcmp (w->data, data, size) == 0);
}

/* §7.2: whatever was wrong, the server can answer. */
static void
check_error_reply (const uint8_t *data, const struct xcopy_proto_err *e)
{
  struct xcopy_proto_header h;
  struct xcopy_proto_reply rep, back;
  struct xcopy_proto_err e2;
  struct xcopy_wbuf w;

  xcopy_proto_get_header (data, &h);
  xcopy_proto_error_reply (&h, e, &rep);
  xcopy_wbuf_init (&w, SIZE_MAX);
  ASSERT (xcopy_proto_encode_reply (&rep, &w, &e2) == 0);
  ASSERT (xcopy_proto_decode_reply_frame (w.data, w.len, &back, &e2) == 0);
  ASSERT (back.serial == h.serial);
  ASSERT (back.status == (uint32_t) e->err);
  xcopy_proto_reply_free (&back);
  xcopy_wbuf_free (&w);
}

static void
fuzz_request (const uint8_t *data, size_t size)
{
  struct xcopy_proto_request req;
  struct xcopy_proto_err e;
  struct xcopy_wbuf w;
  int r = xcopy_proto_decode_request_frame (data, size, &req, &e);

  if (r) {
    check_refusal (r, &e);
    if (size >= XCOPY_PROTO_HEADER_SIZE)
      check_error_reply (data, &e);
    return;
  }
  xcopy_wbuf_init (&w, SIZE_MAX);
  ASSERT (xcopy_proto_encode_request (&req, &w, &e) == 0);
  check_same_bytes (&w, data, size);
  xcopy_wbuf_free (&w);
  xcopy_proto_request_free (&req);
}

static void
fuzz_reply (const uint8_t *data, size_t size)
{
  struct xcopy_proto_reply rep;
  struct xcopy_proto_err e;
  struct xcopy_wbuf w;
  int r = xcopy_proto_decode_reply_frame (data, size, &rep, &e);

  if (r) {
    check_refusal (r, &e);
    return;
  }
  xcopy_wbuf_init (&w, SIZE_MAX);
  ASSERT (xcopy_proto_encode_reply (&rep, &w, &e) == 0);
  check_same_bytes (&w, data, size);
  xcopy_wbuf_free (&w);
  xcopy_proto_reply_free (&rep);
}

static void
fuzz_frame (const uint8_t *data, size_t size)
{
  if (size >= 4 && get_le32 (data) == XCOPY_PROTO_REPLY_MAGIC)
    fuzz_reply (data, size);
  else
    fuzz_request (data, size);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const size_t at = offsetof (struct xcopy_wire_header, length);
  size_t plen = size - XCOPY_PROTO_HEADER_SIZE;
  uint8_t *copy;

  fuzz_frame (data, size);
  if (size < XCOPY_PROTO_HEADER_SIZE || plen > UINT32_MAX ||
      get_le32 (data + at) == plen)
    return 0;
  copy = malloc (size);
  ASSERT (copy != NULL);
  memcpy (copy, data, size);
  put_le32 (copy + at, (uint32_t) plen);
  fuzz_frame (copy, size);
  free (copy);
  return 0;
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
