/* xcopyd: listening portals and their accept threads. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "iscsi-int.h"

static void *
accept_thread (void *opaque)
{
  struct iscsi_portal *p = opaque;
  struct iscsi_server *s = p->srv;

  for (;;) {
    struct pollfd pfd[2] = { { p->fd, POLLIN, 0 }, { s->wake[0], POLLIN, 0 } };
    int fd;

    if (poll (pfd, 2, -1) < 0 && errno != EINTR)
      break;
    if (pfd[1].revents)
      break;
    if (!(pfd[0].revents & POLLIN))
      continue;
    fd = accept4 (p->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      /* Out of descriptors: let a session end before trying again. */
      if (errno == EMFILE || errno == ENFILE)
        poll (NULL, 0, 100);
      continue;
    }
    if (iscsi_conn_start (s, fd) < 0)
      close (fd);
  }
  return NULL;
}

/* "1.2.3.4", "::1", "[::1]", "0.0.0.0", "[::]" -> a socket address. */
static int
parse_addr (const char *addr, uint16_t port, struct sockaddr_storage *ss,
            socklen_t *len, char **announce)
{
  g_autofree char *a = g_strdup (addr);
  size_t n = strlen (a);
  struct sockaddr_in *v4 = (struct sockaddr_in *) ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) ss;

  if (n >= 2 && a[0] == '[' && a[n - 1] == ']') {
    memmove (a, a + 1, n - 2);
    a[n - 2] = '\0';
  }
  memset (ss, 0, sizeof *ss);
  if (inet_pton (AF_INET, a, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons (port);
    *len = sizeof *v4;
    *announce = g_strdup (a);
    return 0;
  }
  if (inet_pton (AF_INET6, a, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons (port);
    *len = sizeof *v6;
    /* RFC 7143 13.8: IPv6 addresses in brackets. */
    *announce = g_strdup_printf ("[%s]", a);
    return 0;
  }
  return -EINVAL;
}

static int
listen_on (const struct sockaddr_storage *ss, socklen_t len, uint16_t *port)
{
  int fd = socket (ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, r;
  struct sockaddr_storage got;
  socklen_t glen = sizeof got;

  if (fd < 0)
    return -errno;
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss->ss_family == AF_INET6)
    setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind (fd, (const struct sockaddr *) ss, len) < 0 ||
      listen (fd, 128) < 0 ||
      getsockname (fd, (struct sockaddr *) &got, &glen) < 0) {
    r = -errno;
    close (fd);
    return r;
  }
  *port = ntohs (got.ss_family == AF_INET
                 ? ((struct sockaddr_in *) &got)->sin_port
                 : ((struct sockaddr_in6 *) &got)->sin6_port);
  return fd;
}

int
iscsi_server_add_portal (struct iscsi_server *s, const char *addr,
                         uint16_t port, GError **error)
{
  struct sockaddr_storage ss;
  socklen_t len;
  struct iscsi_portal *p = g_new0 (struct iscsi_portal, 1);
  int r;

  if (addr == NULL || parse_addr (addr, port, &ss, &len, &p->addr) < 0) {
    g_free (p);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "bad portal address \"%s\"", addr ? addr : "");
    return -EINVAL;
  }
  if ((p->fd = listen_on (&ss, len, &p->port)) < 0) {
    r = p->fd;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r),
                 "portal %s:%u: %s", p->addr, port, g_strerror (-r));
    g_free (p->addr);
    g_free (p);
    return r;
  }
  p->srv = s;
  if ((r = pthread_create (&p->thread, NULL, accept_thread, p)) != 0) {
    close (p->fd);
    g_free (p->addr);
    g_free (p);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "portal %s: no thread: %s", addr, g_strerror (r));
    return -r;
  }
  pthread_mutex_lock (&s->lock);
  g_ptr_array_add (s->portals, p);
  pthread_mutex_unlock (&s->lock);
  return 0;
}

uint16_t
iscsi_server_portal_port (const struct iscsi_server *s, unsigned i)
{
  const struct iscsi_portal *p;

  if (i >= s->portals->len)
    return 0;
  p = g_ptr_array_index (s->portals, i);
  return p->port;
}

/* Stop accepting: wake the accept threads and close the sockets. */
void
iscsi_portals_stop (struct iscsi_server *s)
{
  char b = 1;

  if (s->wake[1] >= 0 && write (s->wake[1], &b, 1) < 0)
    g_warning ("iSCSI: cannot wake accept threads: %s", g_strerror (errno));
  for (guint i = 0; i < s->portals->len; i++) {
    struct iscsi_portal *p = g_ptr_array_index (s->portals, i);
    pthread_join (p->thread, NULL);
    close (p->fd);
  }
}
