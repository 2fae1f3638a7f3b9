/* xcopyctl: what it prints — outcomes and their exit codes, error
 * messages, JSON objects, the progress bar.
 *
 * Human output: results on stdout, failures on stderr, sizes written the
 * way xcopyctl reads them ("4G+1M").  --json: exactly one JSON object on
 * stdout per invocation (docs/xcopyctl.pod, JSON OUTPUT, lists the keys);
 * failure messages still go to stderr as well.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "xcopyctl.h"

const char *
ctl_errno_name (int err)
{
  static char buf[24];
  const char *name = strerrorname_np (err);

  if (name)
    return name;
  snprintf (buf, sizeof buf, "errno %d", err);
  return buf;
}

const char *
ctl_op_lower (uint16_t opcode)
{
  switch (opcode) {
  case XCOPY_OP_COPY: return "copy";
  case XCOPY_OP_FILL: return "fill";
  case XCOPY_OP_ZERO: return "zero";
  case XCOPY_OP_UNMAP: return "unmap";
  case XCOPY_OP_CLONE: return "clone";
  default: return "unknown";
  }
}

const char *
ctl_size (uint64_t v, char buf[CTL_SIZE_STR])
{
  return xcopy_proto_size_str (v, buf);
}

const char *
ctl_human (uint64_t v, char buf[CTL_HUMAN_STR])
{
  static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB",
                                       "EiB" };
  double d = (double) v;
  unsigned i = 0;

  if (v < 1024) {
    snprintf (buf, CTL_HUMAN_STR, "%u B", (unsigned) v);
    return buf;
  }
  for (d /= 1024; d >= 1024 && i + 1 < G_N_ELEMENTS (units); i++)
    d /= 1024;
  snprintf (buf, CTL_HUMAN_STR, "%.1f %s", d, units[i]);
  return buf;
}

int
ctl_exit_code (const struct xcopy_result *res)
{
  if (res->error == 0)
    return CTL_EXIT_OK;
  if (res->error == ECANCELED)
    return CTL_EXIT_CANCELLED;
  if (res->bytes_done || res->failed_done)
    return CTL_EXIT_PARTIAL;
  return CTL_EXIT_FAILED;
}

static const char *
status_name (int code)
{
  switch (code) {
  case CTL_EXIT_OK: return "done";
  case CTL_EXIT_FAILED: return "failed";
  case CTL_EXIT_USAGE: return "usage";
  case CTL_EXIT_PARTIAL: return "partial";
  case CTL_EXIT_CANCELLED: return "cancelled";
  default: return "error";
  }
}

/* ---- JSON ---- */

void
ctl_json_uint (JsonBuilder *b, const char *key, uint64_t v)
{
  json_builder_set_member_name (b, key);
  if (v <= G_MAXINT64)
    json_builder_add_int_value (b, (gint64) v);
  else
    json_builder_add_double_value (b, (double) v);
}

static void
json_string (JsonBuilder *b, const char *key, const char *v)
{
  json_builder_set_member_name (b, key);
  if (v)
    json_builder_add_string_value (b, v);
  else
    json_builder_add_null_value (b);
}

JsonBuilder *
ctl_json_begin (const struct ctl *ctl, const char *status)
{
  JsonBuilder *b = json_builder_new ();

  json_builder_begin_object (b);
  json_string (b, "command", ctl->name);
  if (status)
    json_string (b, "status", status);
  return b;
}

void
ctl_json_end (JsonBuilder *b)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
  fflush (stdout);
  g_object_unref (b);
}

void
ctl_json_result (JsonBuilder *b, const struct xcopy_result *r)
{
  json_builder_set_member_name (b, "result");
  json_builder_begin_object (b);
  ctl_json_uint (b, "bytes_done", r->bytes_done);
  ctl_json_uint (b, "ranges_done", r->ranges_done);
  json_builder_set_member_name (b, "failed_index");
  if (r->failed_index == SIZE_MAX)
    json_builder_add_null_value (b);
  else
    json_builder_add_int_value (b, (gint64) r->failed_index);
  ctl_json_uint (b, "failed_done", r->failed_done);
  ctl_json_uint (b, "errno", (uint64_t) r->error);
  json_string (b, "error", r->error ? ctl_errno_name (r->error) : NULL);
  json_builder_set_member_name (b, "backward");
  json_builder_add_boolean_value (b, r->flags & XCOPY_RESULT_BACKWARD);
  json_builder_end_object (b);
}

void
ctl_json_job (JsonBuilder *b, const struct xcopy_proto_job *j)
{
  json_builder_begin_object (b);
  ctl_json_uint (b, "id", j->job_id);
  json_string (b, "operation", ctl_op_lower (j->opcode));
  json_string (b, "state", xcopy_proto_job_state_name (j->state));
  ctl_json_uint (b, "bytes_total", j->bytes_total);
  ctl_json_result (b, &j->result);
  json_builder_end_object (b);
}

static void
json_error (JsonBuilder *b, int err, const char *message)
{
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  ctl_json_uint (b, "errno", (uint64_t) err);
  json_string (b, "name", err ? ctl_errno_name (err) : NULL);
  json_string (b, "message", message);
  json_builder_end_object (b);
}

/* ---- Outcomes of long operations ---- */

static void
json_outcome (struct ctl *ctl, const struct ctl_outcome *o, int code,
              double secs)
{
  JsonBuilder *b = ctl_json_begin (ctl, status_name (code));

  json_builder_set_member_name (b, "job");
  if (o->job_id) {
    json_builder_begin_object (b);
    ctl_json_uint (b, "id", o->job_id);
    ctl_json_uint (b, "bytes_total", o->bytes_total);
    json_builder_end_object (b);
  }
  else
    json_builder_add_null_value (b);
  ctl_json_uint (b, "ranges_total", o->ntotal);
  ctl_json_uint (b, "bytes_total", o->bytes_total);
  ctl_json_uint (b, "elapsed_ms", (uint64_t) (secs * 1000));
  ctl_json_result (b, &o->result);
  if (code != CTL_EXIT_OK)
    json_error (b, o->result.error, o->message && *o->message ? o->message
                : g_strerror (o->result.error));
  ctl_json_end (b);
}

/* "3 ranges, " for batches; nothing for single-range operations. */
static const char *
unit_name (uint16_t opcode)
{
  return opcode == XCOPY_OP_COPY ? "range"
    : opcode == XCOPY_OP_UNMAP ? "span" : NULL;
}

static void
print_done (struct ctl *ctl, const struct ctl_outcome *o, double secs)
{
  const char *unit = unit_name (o->opcode);
  uint64_t bytes = o->result.bytes_done;
  char sz[CTL_SIZE_STR], rate[CTL_HUMAN_STR];

  if (unit)
    printf ("%s: done: %ju %s%s, ", ctl->name, (uintmax_t) o->ntotal, unit,
            o->ntotal == 1 ? "" : "s");
  else
    printf ("%s: done: ", ctl->name);
  printf ("%s (%ju bytes) in %.3f s", ctl_size (bytes, sz), (uintmax_t) bytes,
          secs);
  if (secs > 0 && bytes)
    printf (" (%s/s)", ctl_human ((uint64_t) ((double) bytes / secs), rate));
  printf ("\n");
}

/* The second line of a failure: how far it got (§4.3). */
static void
print_progress (struct ctl *ctl, const struct ctl_outcome *o)
{
  const struct xcopy_result *r = &o->result;
  const char *unit = unit_name (o->opcode);
  char a[CTL_SIZE_STR], b[CTL_SIZE_STR];

  fprintf (stderr, "xcopyctl: %s: ", ctl->name);
  if (r->bytes_done == 0 && r->failed_done == 0 && r->ranges_done == 0 &&
      r->failed_index != SIZE_MAX && unit && r->error != ECANCELED)
    fprintf (stderr, "nothing was done (%s %zu refused)\n", unit,
             r->failed_index);
  else if (r->bytes_done == 0 && r->failed_done == 0 && r->ranges_done == 0)
    fprintf (stderr, "nothing was done\n");
  else if (r->failed_index == SIZE_MAX)
    fprintf (stderr, "progress: all %ju done (%s, %ju bytes), then the final"
             " step failed\n", (uintmax_t) r->ranges_done,
             ctl_size (r->bytes_done, a), (uintmax_t) r->bytes_done);
  else if (unit)
    fprintf (stderr, "progress: %zu of %ju %ss done, then %s %zu stopped"
             " after %s%s; %s (%ju bytes) done in all\n", r->ranges_done,
             (uintmax_t) o->ntotal, unit, unit, r->failed_index,
             ctl_size (r->failed_done, a),
             r->flags & XCOPY_RESULT_BACKWARD ? " (its last bytes: it was"
             " copied backward)" : "", ctl_size (r->bytes_done, b),
             (uintmax_t) r->bytes_done);
  else
    fprintf (stderr, "progress: %s (%ju bytes) of %s done\n",
             ctl_size (r->bytes_done, a), (uintmax_t) r->bytes_done,
             o->bytes_total ? ctl_size (o->bytes_total, b) : "?");
}

static void
print_failure (struct ctl *ctl, const struct ctl_outcome *o, int code)
{
  int err = o->result.error;
  g_autofree char *job = o->job_id
    ? g_strdup_printf ("job %ju ", (uintmax_t) o->job_id) : g_strdup ("");

  if (code == CTL_EXIT_CANCELLED)
    fprintf (stderr, "xcopyctl: %s: %scancelled\n", ctl->name, job);
  else if (o->message && *o->message)
    fprintf (stderr, "xcopyctl: %s: %s%s (%s)\n", ctl->name, job,
             o->message, ctl_errno_name (err));
  else
    fprintf (stderr, "xcopyctl: %s: %s%s%s (%s)\n", ctl->name, job,
             o->job_id ? "failed: " : "", g_strerror (err),
             ctl_errno_name (err));
  print_progress (ctl, o);
}

int
ctl_report (struct ctl *ctl, const struct ctl_outcome *o)
{
  int code = ctl_exit_code (&o->result);
  double secs = (double) (g_get_monotonic_time () - ctl->start) / 1e6;

  if (ctl->o.json)
    json_outcome (ctl, o, code, secs);
  if (code != CTL_EXIT_OK)
    print_failure (ctl, o, code);
  else if (!ctl->o.json && !ctl->o.quiet)
    print_done (ctl, o, secs);
  return code;
}

int
ctl_report_started (struct ctl *ctl, uint64_t job_id, uint64_t bytes_total)
{
  if (ctl->o.json) {
    JsonBuilder *b = ctl_json_begin (ctl, "started");

    json_builder_set_member_name (b, "job");
    json_builder_begin_object (b);
    ctl_json_uint (b, "id", job_id);
    ctl_json_uint (b, "bytes_total", bytes_total);
    json_builder_end_object (b);
    ctl_json_end (b);
  }
  else
    printf ("%ju\n", (uintmax_t) job_id);   /* for id=$(xcopyctl ...) */
  return CTL_EXIT_OK;
}

/* ---- Failures without progress ---- */

static int
fail_with (struct ctl *ctl, int code, int err, const char *message)
{
  if (err)
    fprintf (stderr, "xcopyctl: %s%s%s (%s)\n", ctl->name ? ctl->name : "",
             ctl->name ? ": " : "", message, ctl_errno_name (err));
  else
    fprintf (stderr, "xcopyctl: %s%s%s\n", ctl->name ? ctl->name : "",
             ctl->name ? ": " : "", message);
  if (ctl->o.json) {
    JsonBuilder *b = ctl_json_begin (ctl, status_name (code));

    json_error (b, err, message);
    ctl_json_end (b);
  }
  return code;
}

int
ctl_fail (struct ctl *ctl, const GError *error)
{
  if (error->domain == CTL_SERVER_ERROR)
    return fail_with (ctl, CTL_EXIT_FAILED, error->code, error->message);
  return fail_with (ctl, error->domain == CTL_ERROR ? error->code
                    : CTL_EXIT_USAGE, 0, error->message);
}

int
ctl_fail_reply (struct ctl *ctl, const struct xcopy_proto_reply *rep)
{
  const char *msg = rep->u.error.message;

  return fail_with (ctl, CTL_EXIT_FAILED, (int) rep->status,
                    *msg ? msg : g_strerror ((int) rep->status));
}

/* ---- Progress bar ---- */

static unsigned
term_width (void)
{
  struct winsize ws;

  if (ioctl (STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
    return ws.ws_col;
  return 80;
}

void
ctl_progress_init (struct ctl_progress *p, const struct ctl *ctl)
{
  p->on = isatty (STDERR_FILENO) && !ctl->o.quiet;
  p->start = g_get_monotonic_time ();
  p->width = p->on ? term_width () : 80;
}

void
ctl_progress_draw (struct ctl_progress *p, uint64_t done, uint64_t total)
{
  double secs = (double) (g_get_monotonic_time () - p->start) / 1e6;
  double frac = total ? (double) MIN (done, total) / (double) total : 0;
  uint64_t rate = secs > 0 ? (uint64_t) ((double) done / secs) : 0;
  char sdone[CTL_HUMAN_STR], stotal[CTL_HUMAN_STR], srate[CTL_HUMAN_STR];
  g_autoptr (GString) line = g_string_new ("\r[");
  g_autofree char *right = NULL;
  int bar, fill;

  if (!p->on)
    return;
  right = g_strdup_printf (" %3d%%  %s / %s  %s/s ", (int) (frac * 100),
                           ctl_human (done, sdone), ctl_human (total, stotal),
                           ctl_human (rate, srate));
  bar = MAX ((int) p->width - (int) strlen (right) - 3, 10);
  fill = (int) (frac * bar);
  for (int i = 0; i < bar; i++)
    g_string_append_c (line, i < fill ? '#' : '.');
  g_string_append_printf (line, "]%s", right);
  fputs (line->str, stderr);
  fflush (stderr);
}

void
ctl_progress_clear (struct ctl_progress *p)
{
  if (p->on) {
    fprintf (stderr, "\r\033[K");
    fflush (stderr);
  }
}
