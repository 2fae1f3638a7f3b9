/* xcopyctl: the command handlers.
 *
 * Each handler turns its arguments into one request (usage errors come
 * before any connection is made), then either hands a long operation to
 * ctl_run_long (jobs.c) or makes the round trip itself and prints the
 * reply.  Jobs and cancel are in jobs.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xcopyctl.h"

static uint64_t
sum_saturated (uint64_t a, uint64_t b)
{
  uint64_t s;

  return __builtin_add_overflow (a, b, &s) ? UINT64_MAX : s;
}

int
ctl_cmd_copy (struct ctl *ctl, char **args, unsigned nargs)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ranges = NULL;
  struct xcopy_proto_request req = { .opcode = XCOPY_OP_COPY };
  uint64_t total = 0;

  if (!ctl_name_arg ("EXPORT", args[0], req.u.copy.src, &error) ||
      !ctl_name_arg ("--to", ctl->o.to ? ctl->o.to : args[0],
                     req.u.copy.dst, &error) ||
      !(ranges = ctl_ranges_args (args + 1, nargs - 1,
                                  ctl->o.ranges_files, &error)))
    return ctl_fail (ctl, error);
  req.u.copy.ranges = &g_array_index (ranges, struct xcopy_range, 0);
  req.u.copy.count = ranges->len;
  for (unsigned i = 0; i < ranges->len; i++)
    total = sum_saturated (total, req.u.copy.ranges[i].len);
  return ctl_run_long (ctl, &req, ranges->len, total);
}

/* EXPORT OFF LEN, for FILL and ZERO. */
static bool
extent_args (char **args, struct xcopy_proto_extent_req *x, GError **error)
{
  return ctl_name_arg ("EXPORT", args[0], x->name, error) &&
    ctl_size_arg ("OFF", args[1], &x->offset, error) &&
    ctl_size_arg ("LEN", args[2], &x->length, error);
}

int
ctl_cmd_fill (struct ctl *ctl, char **args, unsigned nargs)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) pattern = NULL;
  struct xcopy_proto_request req = { .opcode = XCOPY_OP_FILL };
  struct xcopy_proto_extent_req x = { 0 };
  gsize patlen;

  g_assert (nargs == 4);
  if (!extent_args (args, &x, &error) ||
      !(pattern = ctl_pattern_arg (args[3], &error)))
    return ctl_fail (ctl, error);
  req.u.fill.pattern = (unsigned char *) g_bytes_get_data (pattern, &patlen);
  req.u.fill.patlen = patlen;
  if (x.length % patlen) {      /* §6.6 */
    ctl_set_error (&error, CTL_EXIT_USAGE, "LEN '%s': not a multiple of"
                   " the pattern's length (%zu bytes)", args[2],
                   (size_t) patlen);
    return ctl_fail (ctl, error);
  }
  memcpy (req.u.fill.name, x.name, sizeof x.name);
  req.u.fill.offset = x.offset;
  req.u.fill.length = x.length;
  return ctl_run_long (ctl, &req, 1, x.length);
}

int
ctl_cmd_zero (struct ctl *ctl, char **args, unsigned nargs)
{
  g_autoptr (GError) error = NULL;
  struct xcopy_proto_request req = { .opcode = XCOPY_OP_ZERO };

  g_assert (nargs == 3);
  if (!extent_args (args, &req.u.zero, &error))
    return ctl_fail (ctl, error);
  return ctl_run_long (ctl, &req, 1, req.u.zero.length);
}

int
ctl_cmd_unmap (struct ctl *ctl, char **args, unsigned nargs)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) spans = NULL;
  struct xcopy_proto_request req = { .opcode = XCOPY_OP_UNMAP };
  uint64_t total = 0;

  if (!ctl_name_arg ("EXPORT", args[0], req.u.unmap.name, &error) ||
      !(spans = ctl_spans_args (args + 1, nargs - 1, &error)))
    return ctl_fail (ctl, error);
  req.u.unmap.spans = &g_array_index (spans, struct xcopy_proto_span, 0);
  req.u.unmap.count = spans->len;
  for (unsigned i = 0; i < spans->len; i++)
    total = sum_saturated (total, req.u.unmap.spans[i].length);
  return ctl_run_long (ctl, &req, spans->len, total);
}

int
ctl_cmd_clone (struct ctl *ctl, char **args, unsigned nargs)
{
  g_autoptr (GError) error = NULL;
  struct xcopy_proto_request req = { .opcode = XCOPY_OP_CLONE };

  g_assert (nargs == 2);
  if (!ctl_name_arg ("SRC", args[0], req.u.clone.src, &error) ||
      !ctl_name_arg ("DST", args[1], req.u.clone.dst, &error))
    return ctl_fail (ctl, error);
  return ctl_run_long (ctl, &req, 1, 0);
}

/* ---- Short operations: one round trip, no progress ---- */

/* Connect and make one call; a false return has printed the failure and
 * set *code.
 */
static bool
call (struct ctl *ctl, struct xcopy_proto_request *req, CtlReply *rep,
      int *code)
{
  g_autoptr (GError) error = NULL;
  uint64_t cap = xcopy_proto_op_cap (req->opcode);

  memset (rep, 0, sizeof *rep);
  if (!ctl_open (ctl, &error) ||
      (cap && !ctl_need_cap (ctl, cap, xcopy_proto_op_name (req->opcode),
                             &error)) ||
      !ctl_call (ctl->conn, req, rep, &error)) {
    *code = ctl_fail (ctl, error);
    return false;
  }
  if (rep->status) {
    *code = ctl_fail_reply (ctl, rep);
    return false;
  }
  return true;
}

int
ctl_cmd_flush (struct ctl *ctl, char **args, unsigned nargs)
{
  g_autoptr (GError) error = NULL;
  struct xcopy_proto_request req = { .opcode = XCOPY_OP_FLUSH };
  g_auto (CtlReply) rep = { 0 };
  int code;

  g_assert (nargs == 1);
  if (!ctl_name_arg ("EXPORT", args[0], req.u.flush.name, &error))
    return ctl_fail (ctl, error);
  if (!call (ctl, &req, &rep, &code))
    return code;
  if (ctl->o.json) {
    JsonBuilder *b = ctl_json_begin (ctl, "done");

    json_builder_set_member_name (b, "export");
    json_builder_add_string_value (b, args[0]);
    ctl_json_end (b);
  }
  else if (!ctl->o.quiet)
    printf ("flush: done: '%s' is on stable storage\n", args[0]);
  return CTL_EXIT_OK;
}

int
ctl_cmd_exports (struct ctl *ctl, char **args, unsigned nargs)
{
  struct xcopy_proto_request req = { .opcode = XCOPY_OP_LIST_EXPORTS };
  g_auto (CtlReply) rep = { 0 };
  int code;

  (void) args;
  g_assert (nargs == 0);
  if (!call (ctl, &req, &rep, &code))
    return code;
  if (ctl->o.json) {
    JsonBuilder *b = ctl_json_begin (ctl, "done");

    json_builder_set_member_name (b, "exports");
    json_builder_begin_array (b);
    for (size_t i = 0; i < rep.u.exports.count; i++)
      json_builder_add_string_value (b, rep.u.exports.v[i]);
    json_builder_end_array (b);
    ctl_json_end (b);
    return CTL_EXIT_OK;
  }
  for (size_t i = 0; i < rep.u.exports.count && !ctl->o.quiet; i++)
    printf ("%s\n", *rep.u.exports.v[i] ? rep.u.exports.v[i] : "\"\"");
  return CTL_EXIT_OK;
}

/* ---- stat ---- */

static const char *const cap_names[] = { "jobs", "extents", "clone" };

static void
json_stat_server (JsonBuilder *b, const struct xcopy_proto_hello_reply *h)
{
  json_builder_set_member_name (b, "server");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, h->name);
  ctl_json_uint (b, "protocol", h->version);
  json_builder_set_member_name (b, "capabilities");
  json_builder_begin_array (b);
  for (unsigned i = 0; i < G_N_ELEMENTS (cap_names); i++)
    if (h->caps & (UINT64_C (1) << i))
      json_builder_add_string_value (b, cap_names[i]);
  json_builder_end_array (b);
  ctl_json_uint (b, "max_payload", h->max_payload);
  ctl_json_uint (b, "max_ranges", h->max_ranges);
  json_builder_end_object (b);
}

static void
json_stat (struct ctl *ctl, const struct xcopy_proto_reply *rep)
{
  JsonBuilder *b = ctl_json_begin (ctl, "done");

  json_stat_server (b, ctl_conn_hello (ctl->conn));
  json_builder_set_member_name (b, "exports");
  json_builder_begin_array (b);
  for (size_t i = 0; i < rep->u.stat.count; i++) {
    const struct xcopy_proto_export *x = &rep->u.stat.v[i];

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, x->name);
    ctl_json_uint (b, "size", x->size);
    ctl_json_uint (b, "block_size", x->block_size);
    json_builder_set_member_name (b, "readonly");
    json_builder_add_boolean_value (b, x->flags & XCOPY_PROTO_EXPORT_READONLY);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "counters_scope");
  json_builder_add_string_value (b, rep->flags & XCOPY_PROTO_RF_SERVER_COUNTERS
                                 ? "server" : "export");
  json_builder_set_member_name (b, "counters");
  json_builder_begin_array (b);
  for (size_t i = 0; i < rep->u.stat.ncounters; i++) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "method");
    json_builder_add_string_value (b, rep->u.stat.counters[i].name);
    ctl_json_uint (b, "bytes", rep->u.stat.counters[i].bytes);
    ctl_json_uint (b, "calls", rep->u.stat.counters[i].calls);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  ctl_json_end (b);
}

static void
print_stat_server (const struct xcopy_proto_hello_reply *h)
{
  g_autoptr (GString) caps = g_string_new (NULL);
  char sz[CTL_SIZE_STR];

  for (unsigned i = 0; i < G_N_ELEMENTS (cap_names); i++)
    if (h->caps & (UINT64_C (1) << i))
      g_string_append_printf (caps, "%s%s", caps->len ? "," : "",
                              cap_names[i]);
  printf ("server: %s, protocol %u, capabilities %s, max payload %s,"
          " max ranges %u\n", h->name, h->version, caps->len ? caps->str
          : "none", ctl_size (h->max_payload, sz), h->max_ranges);
}

static void
print_stat (struct ctl *ctl, const struct xcopy_proto_reply *rep,
            const char *name)
{
  char sz[CTL_SIZE_STR];

  print_stat_server (ctl_conn_hello (ctl->conn));
  printf ("\n%-24s  %14s  %8s  %s\n", "EXPORT", "SIZE", "BLOCK", "MODE");
  for (size_t i = 0; i < rep->u.stat.count; i++) {
    const struct xcopy_proto_export *x = &rep->u.stat.v[i];

    printf ("%-24s  %14s  %8u  %s\n", *x->name ? x->name : "\"\"",
            ctl_size (x->size, sz), x->block_size,
            x->flags & XCOPY_PROTO_EXPORT_READONLY ? "ro" : "rw");
  }
  if (rep->flags & XCOPY_PROTO_RF_SERVER_COUNTERS)
    printf ("\ncounters of the whole server:\n");
  else
    printf ("\ncounters of export '%s':\n", name);
  printf ("%-24s  %14s  %12s\n", "METHOD", "BYTES", "CALLS");
  for (size_t i = 0; i < rep->u.stat.ncounters; i++)
    printf ("%-24s  %14s  %12ju\n", rep->u.stat.counters[i].name,
            ctl_size (rep->u.stat.counters[i].bytes, sz),
            (uintmax_t) rep->u.stat.counters[i].calls);
}

int
ctl_cmd_stat (struct ctl *ctl, char **args, unsigned nargs)
{
  g_autoptr (GError) error = NULL;
  struct xcopy_proto_request req = { .opcode = XCOPY_OP_STAT };
  g_auto (CtlReply) rep = { 0 };
  int code;

  if (nargs == 0)
    req.flags = XCOPY_PROTO_F_ALL_EXPORTS;
  else if (!ctl_name_arg ("EXPORT", args[0], req.u.stat.name, &error))
    return ctl_fail (ctl, error);
  if (!call (ctl, &req, &rep, &code))
    return code;
  if (ctl->o.json)
    json_stat (ctl, &rep);
  else if (!ctl->o.quiet)
    print_stat (ctl, &rep, req.u.stat.name);
  return CTL_EXIT_OK;
}

/* ---- extents ---- */

/* The size of an export, from STAT. */
static bool
export_size (struct ctl *ctl, const char *name, uint64_t *size, int *code)
{
  struct xcopy_proto_request req = { .opcode = XCOPY_OP_STAT };
  g_auto (CtlReply) rep = { 0 };

  memcpy (req.u.stat.name, name, strlen (name) + 1);
  if (!call (ctl, &req, &rep, code))
    return false;
  if (rep.u.stat.count != 1) {
    g_autoptr (GError) error = NULL;

    ctl_set_error (&error, CTL_EXIT_CONNECT, "bad reply: STAT of one export"
                   " listed %zu", rep.u.stat.count);
    *code = ctl_fail (ctl, error);
    return false;
  }
  *size = rep.u.stat.v[0].size;
  return true;
}

/* Append v to a, merging an extent into the last one of the same type. */
static void
add_extents (GArray *a, const struct xcopy_proto_extent *v, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    struct xcopy_proto_extent *last = a->len
      ? &g_array_index (a, struct xcopy_proto_extent, a->len - 1) : NULL;

    if (last && last->type == v[i].type)
      last->length += v[i].length;
    else
      g_array_append_val (a, v[i]);
  }
}

/* One EXTENTS call for [*off, end): append, advance *off. */
static bool
extents_step (struct ctl *ctl, struct xcopy_proto_request *req, GArray *a,
              uint64_t end, int *code)
{
  g_autoptr (GError) error = NULL;
  g_auto (CtlReply) rep = { 0 };
  const struct xcopy_proto_extent *v;
  size_t n;

  req->u.extents.length = end - req->u.extents.offset;
  if (!call (ctl, req, &rep, code))
    return false;
  v = rep.u.extents.v;
  n = rep.u.extents.count;
  /* §6.10: from the start asked for, at least one, none beyond the end. */
  if (n == 0 || v[0].offset != req->u.extents.offset ||
      v[n - 1].offset + v[n - 1].length > end) {
    ctl_set_error (&error, CTL_EXIT_CONNECT, "bad reply: EXTENTS of"
                   " [%ju, %ju) answered with %zu extents not covering it",
                   (uintmax_t) req->u.extents.offset, (uintmax_t) end, n);
    *code = ctl_fail (ctl, error);
    return false;
  }
  add_extents (a, v, n);
  req->u.extents.offset = v[n - 1].offset + v[n - 1].length;
  return true;
}

static const char *
extent_type (const struct xcopy_proto_extent *e)
{
  return e->type == XCOPY_PROTO_EXTENT_HOLE ? "hole" : "data";
}

static void
json_extents (struct ctl *ctl, const GArray *a,
              const struct xcopy_proto_extent_req *x)
{
  JsonBuilder *b = ctl_json_begin (ctl, "done");

  json_builder_set_member_name (b, "export");
  json_builder_add_string_value (b, x->name);
  ctl_json_uint (b, "offset", x->offset);
  ctl_json_uint (b, "length", x->length);
  json_builder_set_member_name (b, "extents");
  json_builder_begin_array (b);
  for (unsigned i = 0; i < a->len; i++) {
    const struct xcopy_proto_extent *e =
      &g_array_index (a, struct xcopy_proto_extent, i);

    json_builder_begin_object (b);
    ctl_json_uint (b, "offset", e->offset);
    ctl_json_uint (b, "length", e->length);
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, extent_type (e));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  ctl_json_end (b);
}

static void
print_extents (const GArray *a)
{
  char s1[CTL_SIZE_STR], s2[CTL_SIZE_STR];

  printf ("%14s  %14s  %s\n", "OFFSET", "LENGTH", "TYPE");
  for (unsigned i = 0; i < a->len; i++) {
    const struct xcopy_proto_extent *e =
      &g_array_index (a, struct xcopy_proto_extent, i);

    printf ("%14s  %14s  %s\n", ctl_size (e->offset, s1),
            ctl_size (e->length, s2), extent_type (e));
  }
}

int
ctl_cmd_extents (struct ctl *ctl, char **args, unsigned nargs)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) a = g_array_new (FALSE, FALSE,
                                      sizeof (struct xcopy_proto_extent));
  struct xcopy_proto_request req = { .opcode = XCOPY_OP_EXTENTS };
  struct xcopy_proto_extent_req *x = &req.u.extents;
  struct xcopy_proto_extent_req asked;
  uint64_t end;
  int code;

  if (nargs == 2)
    ctl_set_error (&error, CTL_EXIT_USAGE, "give both OFF and LEN, or"
                   " neither (the whole export)");
  if (error || !ctl_name_arg ("EXPORT", args[0], x->name, &error) ||
      (nargs == 3 && (!ctl_size_arg ("OFF", args[1], &x->offset, &error) ||
                      !ctl_size_arg ("LEN", args[2], &x->length, &error))))
    return ctl_fail (ctl, error);
  /* The whole export, or an empty range (no EXTENTS call: at least check
   * that the export exists).
   */
  if ((nargs == 1 || x->length == 0) &&
      !export_size (ctl, x->name, nargs == 1 ? &x->length : &end, &code))
    return code;
  if (__builtin_add_overflow (x->offset, x->length, &end)) {
    ctl_set_error (&error, CTL_EXIT_USAGE, "OFF + LEN does not fit in 64"
                   " bits");
    return ctl_fail (ctl, error);
  }
  asked = *x;
  while (x->offset < end)
    if (!extents_step (ctl, &req, a, end, &code))
      return code;
  if (ctl->o.json)
    json_extents (ctl, a, &asked);
  else if (!ctl->o.quiet)
    print_extents (a);
  return CTL_EXIT_OK;
}
