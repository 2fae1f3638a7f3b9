/* xcopyd: levelled logging to stderr.
 *
 * One line per message, written with one write(2) so lines from several
 * threads never interleave.  Under systemd ($JOURNAL_STREAM names our
 * stderr) each line starts with the syslog priority "<N>", which journald
 * turns into the entry's priority; elsewhere lines read
 * "xcopyd: info: ...".  GLib's own g_warning() & co. end up here too.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xcopyd.h"

static enum xd_level max_level = XD_LOG_INFO;
static bool journal;

static const char *const level_names[] = {
  [XD_LOG_ERR] = "error",
  [XD_LOG_WARNING] = "warning",
  [XD_LOG_NOTICE] = "notice",
  [XD_LOG_INFO] = "info",
  [XD_LOG_DEBUG] = "debug",
};

bool
xd_log_parse_level (const char *s, enum xd_level *out)
{
  for (int l = XD_LOG_ERR; l <= XD_LOG_DEBUG; l++)
    if (g_ascii_strcasecmp (s, level_names[l]) == 0) {
      *out = (enum xd_level) l;
      return true;
    }
  if (g_ascii_strcasecmp (s, "warn") == 0 ||
      g_ascii_strcasecmp (s, "err") == 0) {
    *out = s[0] == 'w' || s[0] == 'W' ? XD_LOG_WARNING : XD_LOG_ERR;
    return true;
  }
  return false;
}

void
xd_log_set_level (enum xd_level level)
{
  max_level = level;
}

bool
xd_log_enabled (enum xd_level level)
{
  return level <= max_level;
}

/* $JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected; it only
 * counts when that is still our stderr (systemd(1), "Environment").
 */
static bool
stderr_is_journal (void)
{
  const char *js = g_getenv ("JOURNAL_STREAM");
  unsigned long long dev, ino;
  struct stat st;

  if (js == NULL || sscanf (js, "%llu:%llu", &dev, &ino) != 2)
    return false;
  return fstat (STDERR_FILENO, &st) == 0 && st.st_dev == dev &&
    st.st_ino == ino;
}

static void
write_line (enum xd_level level, const char *msg)
{
  g_autofree char *line = NULL;
  const char *p;
  size_t len;

  if (journal)
    line = g_strdup_printf ("<%d>%s\n", (int) level, msg);
  else
    line = g_strdup_printf ("xcopyd: %s: %s\n", level_names[level], msg);
  /* One message, one line: a newline inside would split it in two
   * journal entries.
   */
  for (char *q = strchr (line, '\n'); q && q[1]; q = strchr (q + 1, '\n'))
    *q = ' ';
  p = line;
  len = strlen (line);
  while (len > 0) {
    ssize_t r = write (STDERR_FILENO, p, len);
    if (r <= 0)
      return;
    p += r;
    len -= (size_t) r;
  }
}

void
xd_log (enum xd_level level, const char *fmt, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  if (!xd_log_enabled (level))
    return;
  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  write_line (level, msg);
}

static void
glib_handler (const char *domain, GLogLevelFlags flags, const char *message,
              void *opaque)
{
  enum xd_level level = XD_LOG_DEBUG;

  (void) opaque;
  if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    level = XD_LOG_ERR;
  else if (flags & G_LOG_LEVEL_WARNING)
    level = XD_LOG_WARNING;
  else if (flags & G_LOG_LEVEL_MESSAGE)
    level = XD_LOG_NOTICE;
  else if (flags & G_LOG_LEVEL_INFO)
    level = XD_LOG_INFO;
  if (domain)
    xd_log (level, "%s: %s", domain, message);
  else
    xd_log (level, "%s", message);
}

void
xd_log_init (void)
{
  journal = stderr_is_journal ();
  g_log_set_default_handler (glib_handler, NULL);
}
