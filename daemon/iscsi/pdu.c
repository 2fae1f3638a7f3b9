/* xcopyd: iSCSI PDU framing on a connection (RFC 7143 11.1-11.2): the
 * BHS, AHS, digests, padded data segments; buffered receive that reads
 * large data segments straight into their destination, and gathered
 * sends (one sendmsg per PDU, MSG_MORE while more follow).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <isa-l/crc.h>

#include "iscsi-int.h"
#include "../scsi/be.h"

uint32_t
bhs_dsl (const uint8_t *bhs)
{
  return get_be24 (bhs + 5);
}

void
bhs_set_dsl (uint8_t *bhs, uint32_t len)
{
  put_be24 (bhs + 5, len);
}

/* ISA-L's crc32_iscsi takes the running value (start 0xffffffff) and
 * leaves the final inversion to the caller.
 */
uint32_t
iscsi_crc32c (const void *buf, size_t len)
{
  struct iovec v = { (void *) buf, len };

  return iscsi_crc32c_iov (&v, 1);
}

uint32_t
iscsi_crc32c_iov (const struct iovec *iov, size_t n)
{
  uint32_t crc = 0xffffffff;

  for (size_t i = 0; i < n; i++) {
    const uint8_t *p = iov[i].iov_base;
    size_t left = iov[i].iov_len;
    while (left > 0) {
      int chunk = left > (1u << 30) ? 1 << 30 : (int) left;
      crc = crc32_iscsi ((unsigned char *) p, chunk, crc);
      p += chunk;
      left -= (size_t) chunk;
    }
  }
  return crc ^ 0xffffffff;
}

void
iscsi_put_digest (uint8_t out[4], uint32_t crc)
{
  out[0] = (uint8_t) crc;
  out[1] = (uint8_t) (crc >> 8);
  out[2] = (uint8_t) (crc >> 16);
  out[3] = (uint8_t) (crc >> 24);
}

uint32_t
iscsi_get_digest (const uint8_t in[4])
{
  return (uint32_t) in[0] | (uint32_t) in[1] << 8 |
    (uint32_t) in[2] << 16 | (uint32_t) in[3] << 24;
}

/* ---- Receive ---- */

static int
read_fd (int fd, void *buf, size_t len, size_t *got)
{
  ssize_t r;

  do
    r = recv (fd, buf, len, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return -errno;
  if (r == 0)
    return -ECONNRESET;
  *got = (size_t) r;
  return 0;
}

int
iscsi_conn_read (struct iscsi_conn *c, void *buf, size_t len)
{
  uint8_t *dst = buf;

  while (len > 0) {
    size_t have = c->rend - c->rpos, got;
    int r;

    if (have > 0) {
      size_t n = have < len ? have : len;
      memcpy (dst, c->rbuf + c->rpos, n);
      c->rpos += n;
      dst += n;
      len -= n;
      continue;
    }
    /* Large reads go straight to their destination. */
    if (len >= c->rcap / 2) {
      if ((r = read_fd (c->fd, dst, len, &got)) < 0)
        return r;
      dst += got;
      len -= got;
      continue;
    }
    c->rpos = c->rend = 0;
    if ((r = read_fd (c->fd, c->rbuf, c->rcap, &got)) < 0)
      return r;
    c->rend = got;
  }
  return 0;
}

int
iscsi_conn_read_data (struct iscsi_conn *c, void *buf, size_t len)
{
  uint8_t tail[3 + ISCSI_DIGEST_LEN];
  size_t pad = pad4 (len), tlen = pad + (c->ddigest ? ISCSI_DIGEST_LEN : 0);
  int r;

  if (len == 0)
    return 0;
  if ((r = iscsi_conn_read (c, buf, len)) < 0)
    return r;
  if (tlen && (r = iscsi_conn_read (c, tail, tlen)) < 0)
    return r;
  if (c->ddigest) {
    struct iovec v[2] = { { buf, len }, { tail, pad } };
    if (iscsi_crc32c_iov (v, 2) != iscsi_get_digest (tail + pad)) {
      atomic_fetch_add (&c->srv->st.digest_errors, 1);
      return -EBADMSG;
    }
  }
  return 0;
}

int
iscsi_conn_skip_data (struct iscsi_conn *c, size_t len)
{
  uint8_t junk[4096];
  size_t left = len + pad4 (len) + (c->ddigest && len ? ISCSI_DIGEST_LEN : 0);

  while (left > 0) {
    size_t n = left < sizeof junk ? left : sizeof junk;
    int r = iscsi_conn_read (c, junk, n);
    if (r < 0)
      return r;
    left -= n;
  }
  return 0;
}

/* ---- Send ---- */

static int
send_all (int fd, struct iovec *iov, size_t n, bool more)
{
  while (n > 0) {
    struct msghdr m = { .msg_iov = iov, .msg_iovlen = n };
    ssize_t r = sendmsg (fd, &m, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    while (n > 0 && (size_t) r >= iov->iov_len) {
      r -= (ssize_t) iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (uint8_t *) iov->iov_base + r;
      iov->iov_len -= (size_t) r;
    }
  }
  return 0;
}

#define SEND_IOV_MAX 16

int
iscsi_conn_send_locked (struct iscsi_conn *c, uint8_t *bhs,
                        const struct iovec *iov, size_t niov,
                        size_t data_len, bool more)
{
  static const uint8_t zeros[4];
  struct iovec v[SEND_IOV_MAX + 4];
  uint8_t hd[4], dd[4];
  size_t n = 0, pad = pad4 (data_len);
  int r;

  if (atomic_load (&c->dead))
    return -ECONNRESET;
  if (niov > SEND_IOV_MAX || data_len > c->max_send_dsl)
    return -E2BIG;
  bhs_set_dsl (bhs, (uint32_t) data_len);
  v[n++] = (struct iovec) { bhs, ISCSI_BHS_LEN };
  if (c->hdigest) {
    iscsi_put_digest (hd, iscsi_crc32c (bhs, ISCSI_BHS_LEN));
    v[n++] = (struct iovec) { hd, 4 };
  }
  if (data_len > 0) {
    for (size_t i = 0; i < niov; i++)
      v[n++] = iov[i];
    if (pad)
      v[n++] = (struct iovec) { (void *) zeros, pad };
    if (c->ddigest) {
      iscsi_put_digest (dd, iscsi_crc32c_iov (v + (c->hdigest ? 2 : 1),
                                              niov + (pad ? 1 : 0)));
      v[n++] = (struct iovec) { dd, 4 };
    }
  }
  r = send_all (c->fd, v, n, more);
  if (r < 0)
    iscsi_conn_kill (c);
  return r;
}

void
iscsi_conn_fill_sn (struct iscsi_conn *c, uint8_t *bhs, bool advance)
{
  uint32_t exp = 0, max = 0;

  put_be32 (bhs + 24, c->statsn);
  if (advance)
    c->statsn++;
  if (c->sess)
    iscsi_session_window (c->sess, &exp, &max);
  put_be32 (bhs + 28, exp);
  put_be32 (bhs + 32, max);
}

int
iscsi_conn_send_status (struct iscsi_conn *c, uint8_t *bhs,
                        const void *data, size_t len)
{
  struct iovec v = { (void *) data, len };
  int r;

  pthread_mutex_lock (&c->send_lock);
  iscsi_conn_fill_sn (c, bhs, true);
  r = iscsi_conn_send_locked (c, bhs, &v, 1, len, false);
  pthread_mutex_unlock (&c->send_lock);
  return r;
}

/* RFC 7143 11.17: the rejected PDU's header goes back as data.  The
 * Reject carries a StatSN of its own, as every status-bearing PDU does.
 */
void
iscsi_conn_reject (struct iscsi_conn *c, uint8_t reason, const uint8_t *bhs)
{
  uint8_t rsp[ISCSI_BHS_LEN] = { OP_REJECT, BHS_F, reason };
  struct iovec v = { (void *) bhs, ISCSI_BHS_LEN };

  atomic_fetch_add (&c->srv->st.pdus_rejected, 1);
  put_be32 (rsp + 16, ISCSI_RSVD_TAG);
  pthread_mutex_lock (&c->send_lock);
  iscsi_conn_fill_sn (c, rsp, true);
  iscsi_conn_send_locked (c, rsp, &v, 1, ISCSI_BHS_LEN, false);
  pthread_mutex_unlock (&c->send_lock);
}

void
iscsi_conn_kill (struct iscsi_conn *c)
{
  if (!atomic_exchange (&c->dead, true))
    shutdown (c->fd, SHUT_RDWR);
}
