/* xcopyd: readiness and stopping notices for a service manager.
 *
 * Under systemd with Type=notify, $NOTIFY_SOCKET names a datagram socket
 * (a path, or "@name" in the abstract namespace) that takes
 * newline-separated assignments such as READY=1 (sd_notify(3)).  The
 * protocol is one sendto(), so no library is needed.  Without the
 * variable nothing is sent.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xcopyd.h"

void
xd_notify (const char *state)
{
  const char *path = g_getenv ("NOTIFY_SOCKET");
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  size_t len;
  int fd;

  if (path == NULL || path[0] == '\0')
    return;
  len = strlen (path);
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof sun.sun_path) {
    xd_warn ("NOTIFY_SOCKET '%s': not an absolute path or @name", path);
    return;
  }
  memcpy (sun.sun_path, path, len);
  if (path[0] == '@')
    sun.sun_path[0] = '\0';
  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 ||
      sendto (fd, state, strlen (state), MSG_NOSIGNAL,
              (struct sockaddr *) &sun,
              (socklen_t) (offsetof (struct sockaddr_un, sun_path) + len)) < 0)
    xd_warn ("NOTIFY_SOCKET '%s': %s", path, g_strerror (errno));
  if (fd >= 0)
    close (fd);
}
