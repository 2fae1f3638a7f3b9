/* xcopyd: the Third-party Copy VPD page, 0x8F (SPC-4 7.8.17), for
 * EXTENDED COPY (LID1).
 *
 * A list of third-party copy descriptors, each a 4-byte header (DESCRIPTOR
 * TYPE, DESCRIPTOR LENGTH) and a body padded to a multiple of 4 bytes:
 *
 *   0001h Supported Commands       from the opcode table (83h, 84h)
 *   0004h Parameter Data           the EXTENDED COPY (LID1) limits
 *   0008h Supported Descriptors    02h, 0Ah, E4h
 *   000Ch Supported CSCD IDs       none beyond CSCD list indexes
 *   8001h General Copy Operations  concurrency, segment length
 *
 * The same limits as RECEIVE COPY OPERATING PARAMETERS (copy_results.c),
 * from xcopy-int.h.  libiscsi's ReceiveCopyResults tests look for 84h/00h
 * in Supported Commands; sg_vpd decodes all five.
 */
#include <string.h>

#include "xcopy-int.h"

struct xc_wire_tpc_hdr {
  uint8_t type[2];              /* DESCRIPTOR TYPE */
  uint8_t len[2];               /* DESCRIPTOR LENGTH (n - 3) */
};
_Static_assert (sizeof (struct xc_wire_tpc_hdr) == 4, "SPC-4 7.8.17");

/* 7.8.17: Parameter Data third-party copy descriptor. */
struct xc_wire_tpc_params {
  struct xc_wire_tpc_hdr hdr;
  uint8_t reserved[4];
  uint8_t max_cscd[2];          /* MAXIMUM CSCD DESCRIPTOR COUNT */
  uint8_t max_segs[2];          /* MAXIMUM SEGMENT DESCRIPTOR COUNT */
  uint8_t max_list_len[4];      /* MAXIMUM DESCRIPTOR LIST LENGTH */
  uint8_t max_inline[4];        /* MAXIMUM INLINE DATA LENGTH */
  uint8_t reserved2[12];
};
_Static_assert (sizeof (struct xc_wire_tpc_params) == 32, "SPC-4 7.8.17");

/* 7.8.17: General Copy Operations third-party copy descriptor. */
struct xc_wire_tpc_general {
  struct xc_wire_tpc_hdr hdr;
  uint8_t total_copies[4];      /* TOTAL CONCURRENT COPIES */
  uint8_t max_copies[4];        /* MAXIMUM IDENTIFIED CONCURRENT COPIES */
  uint8_t max_seg_len[4];       /* MAXIMUM SEGMENT LENGTH */
  uint8_t data_gran;            /* DATA SEGMENT GRANULARITY (log 2) */
  uint8_t inline_gran;          /* INLINE DATA GRANULARITY (log 2) */
  uint8_t reserved[18];
};
_Static_assert (sizeof (struct xc_wire_tpc_general) == 36, "SPC-4 7.8.17");

#define TPC_SUPPORTED_COMMANDS    0x0001
#define TPC_PARAMETER_DATA        0x0004
#define TPC_SUPPORTED_DESCRIPTORS 0x0008
#define TPC_SUPPORTED_CSCD_IDS    0x000c
#define TPC_GENERAL_COPY_OPS      0x8001

/* Close a descriptor of body bytes at d: pad to 4, fill the header.
 * Returns its whole length.
 */
static size_t
finish (uint8_t *d, uint16_t type, size_t body)
{
  size_t len = (4 + body + 3) & ~(size_t) 3;

  memset (d + 4 + body, 0, len - 4 - body);
  put_be16 (d, type);
  put_be16 (d + 2, (uint16_t) (len - 4));
  return len;
}

/* One command support descriptor: the opcode, then its service actions
 * that have handlers.  Returns its length (0 when it has none).
 */
static size_t
command_support (uint8_t *d, uint8_t opcode)
{
  const struct xs_opcode *op = &xs_opcodes[opcode];
  size_t n = 0;

  for (int sa = 0; op->sa && sa < 32; sa++)
    if (op->sa[sa] && op->sa[sa]->fn)
      d[2 + n++] = (uint8_t) sa;
  if (n == 0)
    return 0;
  d[0] = opcode;
  d[1] = (uint8_t) n;
  return 2 + n;
}

static size_t
supported_commands (uint8_t *d)
{
  size_t n = 0;

  n += command_support (d + 5 + n, 0x83);       /* THIRD-PARTY COPY OUT */
  n += command_support (d + 5 + n, 0x84);       /* THIRD-PARTY COPY IN */
  d[4] = (uint8_t) n;                           /* COMMANDS SUPPORTED LIST LENGTH */
  return finish (d, TPC_SUPPORTED_COMMANDS, 1 + n);
}

static size_t
parameter_data (uint8_t *d)
{
  struct xc_wire_tpc_params w;

  memset (&w, 0, sizeof w);
  put_be16 (w.max_cscd, XC_MAX_CSCD);
  put_be16 (w.max_segs, XC_MAX_SEGMENTS);
  put_be32 (w.max_list_len, XC_MAX_DESC_LIST_LEN);
  memcpy (d, &w, sizeof w);
  return finish (d, TPC_PARAMETER_DATA, sizeof w - 4);
}

static size_t
supported_descriptors (uint8_t *d)
{
  d[4] = XC_NDESC_CODES;                /* SUPPORTED DESCRIPTOR LIST LENGTH */
  memcpy (d + 5, xc_desc_codes, XC_NDESC_CODES);
  return finish (d, TPC_SUPPORTED_DESCRIPTORS, 1 + XC_NDESC_CODES);
}

/* CSCD descriptor IDs above 07FFh we take: none. */
static size_t
supported_cscd_ids (uint8_t *d)
{
  put_be16 (d + 4, 0);                  /* SUPPORTED CSCD IDS LIST LENGTH */
  return finish (d, TPC_SUPPORTED_CSCD_IDS, 2);
}

static size_t
general_copy_ops (uint8_t *d)
{
  struct xc_wire_tpc_general w;

  memset (&w, 0, sizeof w);
  put_be32 (w.total_copies, XC_TOTAL_CONCURRENT);
  put_be32 (w.max_copies, XC_MAX_CONCURRENT);
  put_be32 (w.max_seg_len, XC_MAX_SEGMENT_LEN);
  memcpy (d, &w, sizeof w);
  return finish (d, TPC_GENERAL_COPY_OPS, sizeof w - 4);
}

/* The page body (inquiry.c writes the 4-byte page header).  Its largest
 * form is well under 256 bytes; XS_VPD_MAX leaves far more room.
 */
enum xs_status
xs_vpd_tpc_build (struct xs_task *t, uint8_t *out, size_t cap, size_t *len)
{
  static size_t (*const build[]) (uint8_t *d) = {
    supported_commands, parameter_data, supported_descriptors,
    supported_cscd_ids, general_copy_ops,
  };
  size_t n = 0;

  (void) t;
  if (cap < 256)
    return XS_INTERNAL_ERROR;
  for (size_t i = 0; i < sizeof build / sizeof build[0]; i++)
    n += build[i] (out + n);
  *len = n;
  return XS_GOOD;
}
