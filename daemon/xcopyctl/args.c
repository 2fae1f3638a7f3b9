/* xcopyctl: command-line arguments into request fields.
 *
 * The parsing itself (sizes, SRC:DST:LEN, hex) is in common/sizes.c, where
 * the unit tests reach it; this file adds the argument's name to every
 * refusal ("range 2: 'abc:0:1M': invalid src 'abc': not a number"),
 * reads ranges files and pattern files, and maps options to flags.
 * Every failure here is a usage error (exit 2).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "sizes.h"
#include "xcopyctl.h"

#define usage_error(error, ...) \
  ctl_set_error ((error), CTL_EXIT_USAGE, __VA_ARGS__)

bool
ctl_size_arg (const char *what, const char *s, uint64_t *v, GError **error)
{
  char why[XCOPY_WHY_SIZE];

  if (xcopy_size_parse (s, v, why) == 0)
    return true;
  return usage_error (error, "%s '%s': %s", what, s, why);
}

bool
ctl_job_id_arg (const char *s, uint64_t *id, GError **error)
{
  char why[XCOPY_WHY_SIZE];

  if (xcopy_u64_parse (s, id, why))
    return usage_error (error, "job ID '%s': %s", s, why);
  if (*id == 0)
    return usage_error (error, "job ID '%s': job ids start at 1", s);
  return true;
}

/* §4.2: names are UTF-8, at most 255 bytes.  The empty name is the
 * server's default export.
 */
bool
ctl_name_arg (const char *what, const char *s, xcopy_proto_name out,
              GError **error)
{
  size_t len = strlen (s);

  if (len > XCOPY_PROTO_NAME_MAX)
    return usage_error (error, "%s '%.32s...': %zu bytes, longer than %u",
                        what, s, len, XCOPY_PROTO_NAME_MAX);
  if (!g_utf8_validate (s, (gssize) len, NULL))
    return usage_error (error, "%s: not UTF-8", what);
  memcpy (out, s, len + 1);
  return true;
}

static bool
read_all (const char *file, char **text, gsize *len, GError **error)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GIOChannel) in = NULL;

  if (strcmp (file, "-") != 0) {
    if (g_file_get_contents (file, text, len, &err))
      return true;
    return usage_error (error, "%s", err->message);
  }
  in = g_io_channel_unix_new (STDIN_FILENO);
  if (g_io_channel_set_encoding (in, NULL, &err) == G_IO_STATUS_NORMAL &&
      g_io_channel_read_to_end (in, text, len, &err) == G_IO_STATUS_NORMAL)
    return true;
  return usage_error (error, "reading standard input: %s", err->message);
}

/* The range on a line as the message shows it: no comment, no blanks. */
static char *
line_text (const char *line)
{
  char *t = g_strdup (line);
  char *hash = strchr (t, '#');

  if (hash)
    *hash = '\0';
  return g_strstrip (t);
}

static bool
read_ranges_file (GArray *a, const char *file, GError **error)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  char why[XCOPY_WHY_SIZE];
  gsize len;

  if (!read_all (file, &text, &len, error)) {
    g_prefix_error (error, "--ranges-file: ");
    return false;
  }
  if (memchr (text, '\0', len))
    return usage_error (error, "--ranges-file %s: holds a NUL byte: not a"
                        " text file", file);
  lines = g_strsplit (text, "\n", -1);
  for (unsigned i = 0; lines[i]; i++) {
    struct xcopy_range r;
    bool blank;

    if (xcopy_range_line_parse (lines[i], &r, &blank, why)) {
      g_autofree char *t = line_text (lines[i]);

      return usage_error (error, "%s:%u: range %u: '%s': %s", file, i + 1,
                          a->len, t, why);
    }
    if (!blank)
      g_array_append_val (a, r);
  }
  return true;
}

static bool
check_count (unsigned n, const char *what, const char *how, GError **error)
{
  if (n == 0)
    return usage_error (error, "no %s given (%s)", what, how);
  if (n > XCOPY_PROTO_MAX_RANGES)
    return usage_error (error, "%u %s: more than the protocol's %u per"
                        " request", n, what, XCOPY_PROTO_MAX_RANGES);
  return true;
}

GArray *
ctl_ranges_args (char **args, unsigned n, char **files, GError **error)
{
  g_autoptr (GArray) a = g_array_new (FALSE, FALSE,
                                      sizeof (struct xcopy_range));
  char why[XCOPY_WHY_SIZE];

  for (unsigned i = 0; i < n; i++) {
    struct xcopy_range r;

    if (xcopy_range_parse (args[i], &r, why)) {
      usage_error (error, "range %u: '%s': %s", i, args[i], why);
      return NULL;
    }
    g_array_append_val (a, r);
  }
  for (unsigned i = 0; files && files[i]; i++)
    if (!read_ranges_file (a, files[i], error))
      return NULL;
  if (!check_count (a->len, "ranges",
                    "SRC:DST:LEN arguments or --ranges-file", error))
    return NULL;
  return g_steal_pointer (&a);
}

GArray *
ctl_spans_args (char **args, unsigned n, GError **error)
{
  g_autoptr (GArray) a = g_array_new (FALSE, FALSE,
                                      sizeof (struct xcopy_proto_span));
  char why[XCOPY_WHY_SIZE];

  for (unsigned i = 0; i < n; i++) {
    struct xcopy_proto_span s;

    if (xcopy_span_parse (args[i], &s.offset, &s.length, why)) {
      usage_error (error, "span %u: '%s': %s", i, args[i], why);
      return NULL;
    }
    g_array_append_val (a, s);
  }
  if (!check_count (a->len, "spans", "OFF:LEN arguments", error))
    return NULL;
  return g_steal_pointer (&a);
}

static GBytes *
pattern_file (const char *s, GError **error)
{
  g_autofree char *data = NULL;
  gsize len;

  if (!read_all (s + 1, &data, &len, error))
    g_prefix_error (error, "PATTERN '%s': ", s);
  else if (len == 0)
    usage_error (error, "PATTERN '%s': the file is empty", s);
  else if (len > XCOPY_PROTO_MAX_PATTERN)
    usage_error (error, "PATTERN '%s': %zu bytes, more than %u", s,
                 (size_t) len, XCOPY_PROTO_MAX_PATTERN);
  else
    return g_bytes_new_take (g_steal_pointer (&data), len);
  return NULL;
}

GBytes *
ctl_pattern_arg (const char *s, GError **error)
{
  g_autofree unsigned char *buf = NULL;
  char why[XCOPY_WHY_SIZE];
  size_t n;

  if (s[0] == '@')
    return pattern_file (s, error);
  buf = g_malloc (strlen (s) / 2 + 1);
  if (xcopy_hex_parse (s, buf, XCOPY_PROTO_MAX_PATTERN, &n, why)) {
    usage_error (error, "PATTERN '%.40s': %s", s, why);
    return NULL;
  }
  return g_bytes_new_take (g_steal_pointer (&buf), n);
}

/* --method: which rungs of the copy ladder to skip (§6.2). */
static bool
method_flags (const char *list, uint32_t *flags, GError **error)
{
  static const struct { const char *name; uint32_t flags; } methods[] = {
    { "auto", 0 },
    { "no-reflink", XCOPY_PROTO_F_NO_REFLINK },
    { "no-cfr", XCOPY_PROTO_F_NO_CFR },
    { "no-splice", XCOPY_PROTO_F_NO_SPLICE },
    { "cfr", XCOPY_PROTO_F_NO_REFLINK },
    { "splice", XCOPY_PROTO_F_NO_REFLINK | XCOPY_PROTO_F_NO_CFR },
    { "bounce", XCOPY_PROTO_F_LADDER },
  };
  g_auto (GStrv) words = g_strsplit (list, ",", -1);

  for (unsigned i = 0; words[i]; i++) {
    size_t k;

    for (k = 0; k < G_N_ELEMENTS (methods); k++)
      if (strcmp (words[i], methods[k].name) == 0)
        break;
    if (k == G_N_ELEMENTS (methods))
      return usage_error (error, "--method '%s': unknown method '%s' (use"
                          " auto, cfr, splice, bounce, no-reflink, no-cfr"
                          " or no-splice)", list, words[i]);
    *flags |= methods[k].flags;
  }
  return true;
}

bool
ctl_request_flags (const struct ctl *ctl, uint16_t opcode, uint32_t *flags,
                   GError **error)
{
  const struct ctl_opts *o = &ctl->o;
  uint32_t f = 0;

  if (o->async && o->wait)
    return usage_error (error, "--async and --wait exclude each other");
  f |= o->async || o->wait ? XCOPY_PROTO_F_ASYNC : 0;
  f |= o->sync ? XCOPY_PROTO_F_SYNC : 0;
  f |= o->allocate ? XCOPY_PROTO_F_ALLOCATE : 0;
  f |= o->trim ? XCOPY_PROTO_F_MAY_TRIM : 0;
  f |= o->fast ? XCOPY_PROTO_F_FAST : 0;
  f |= o->replace ? XCOPY_PROTO_F_REPLACE : 0;
  if (o->method && !method_flags (o->method, &f, error))
    return false;
  /* main.c offers each command only its own options. */
  g_assert ((f & ~xcopy_proto_op_flags (opcode)) == 0);
  *flags = f;
  return true;
}
