/* xcopyd: the management socket's commands: targets, sessions, stats.
 *
 * Each builds one JSON object (docs/xcopyd.pod, MANAGEMENT SOCKET).
 * Numbers are JSON integers; byte counts are exact.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "mgmt.h"

typedef JsonNode *(*mgmt_fn) (struct xd_daemon *d);

static void
add_uint (JsonBuilder *b, const char *key, uint64_t v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_int_value (b, (gint64) v);
}

static void
add_str (JsonBuilder *b, const char *key, const char *v)
{
  json_builder_set_member_name (b, key);
  if (v)
    json_builder_add_string_value (b, v);
  else
    json_builder_add_null_value (b);
}

static void
add_bool (JsonBuilder *b, const char *key, bool v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_boolean_value (b, v);
}

JsonNode *
xd_mgmt_error (const char *fmt, ...)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  json_builder_begin_object (b);
  add_bool (b, "ok", false);
  add_str (b, "error", msg);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static JsonBuilder *
reply_begin (void)
{
  JsonBuilder *b = json_builder_new ();

  json_builder_begin_object (b);
  add_bool (b, "ok", true);
  return b;
}

static JsonNode *
reply_end (JsonBuilder *b)
{
  JsonNode *n;

  json_builder_end_object (b);
  n = json_builder_get_root (b);
  g_object_unref (b);
  return n;
}

/* ---- targets ---- */

static void
lun_json (JsonBuilder *b, struct xd_target *t, const struct xd_lun_cfg *l)
{
  struct scsi_lu *lu = scsi_target_lu (t->scsi, (uint16_t) l->lun);
  struct xd_lu_info info = { 0 };
  char naa[33];

  json_builder_begin_object (b);
  add_uint (b, "lun", l->lun);
  add_str (b, "backend", l->backend->name);
  add_str (b, "export", l->export);
  if (lu) {
    const uint8_t *n = scsi_lu_naa (lu);
    for (int i = 0; i < 16; i++)
      g_snprintf (naa + 2 * i, 3, "%02x", n[i]);
    add_uint (b, "size", scsi_lu_blocks (lu) * scsi_lu_block_size (lu));
    add_uint (b, "block_size", scsi_lu_block_size (lu));
    add_uint (b, "blocks", scsi_lu_blocks (lu));
    add_str (b, "serial", scsi_lu_serial (lu));
    add_str (b, "naa", naa);
    add_bool (b, "readonly", scsi_lu_backend (lu)->caps &
              SCSI_BE_CAP_READONLY);
    if (xd_plugin_backend_info (scsi_lu_backend (lu), &info))
      add_str (b, "state", xd_backend_state_name (info.backend->state));
    scsi_lu_unref (lu);
  }
  json_builder_end_object (b);
}

static JsonNode *
cmd_targets (struct xd_daemon *d)
{
  JsonBuilder *b = reply_begin ();

  json_builder_set_member_name (b, "targets");
  json_builder_begin_array (b);
  for (unsigned i = 0; i < d->targets->len; i++) {
    struct xd_target *t = d->targets->pdata[i];

    json_builder_begin_object (b);
    add_str (b, "iqn", t->cfg->iqn);
    add_str (b, "alias", t->cfg->alias);
    add_uint (b, "tpgt", t->cfg->tpgt);
    add_bool (b, "chap", t->cfg->chap_user != NULL);
    json_builder_set_member_name (b, "luns");
    json_builder_begin_array (b);
    for (unsigned j = 0; j < t->cfg->luns->len; j++)
      lun_json (b, t, t->cfg->luns->pdata[j]);
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  return reply_end (b);
}

/* ---- sessions ---- */

static void
session_json (void *opaque, const struct iscsi_session_info *s)
{
  JsonBuilder *b = opaque;

  json_builder_begin_object (b);
  add_uint (b, "tsih", s->tsih);
  add_str (b, "initiator", s->initiator);
  add_str (b, "isid", s->isid);
  add_str (b, "target", s->target);
  add_bool (b, "discovery", s->target[0] == '\0');
  add_uint (b, "connections", s->connections);
  add_bool (b, "header_digest", s->header_digest);
  add_bool (b, "data_digest", s->data_digest);
  add_uint (b, "commands", s->commands);
  add_uint (b, "bytes_in", s->bytes_in);
  add_uint (b, "bytes_out", s->bytes_out);
  json_builder_end_object (b);
}

static JsonNode *
cmd_sessions (struct xd_daemon *d)
{
  JsonBuilder *b = reply_begin ();

  json_builder_set_member_name (b, "sessions");
  json_builder_begin_array (b);
  if (d->iscsi)
    iscsi_server_foreach_session (d->iscsi, session_json, b);
  json_builder_end_array (b);
  return reply_end (b);
}

/* ---- stats ---- */

static void
iscsi_stats_json (JsonBuilder *b, struct xd_daemon *d)
{
  struct iscsi_server_stats s = { 0 };

  if (d->iscsi)
    iscsi_server_stats (d->iscsi, &s);
  json_builder_set_member_name (b, "iscsi");
  json_builder_begin_object (b);
  add_uint (b, "logins", s.logins);
  add_uint (b, "login_failures", s.login_failures);
  add_uint (b, "sessions", s.sessions);
  add_uint (b, "connections", s.connections);
  add_uint (b, "commands", s.commands);
  add_uint (b, "pdus_rejected", s.pdus_rejected);
  add_uint (b, "digest_errors", s.digest_errors);
  add_uint (b, "nop_timeouts", s.nop_timeouts);
  json_builder_end_object (b);
}

/* The plugin's engine counters (PROTOCOL.md §6.4, whole server). */
static void
counters_json (JsonBuilder *b, struct xd_backend *bk)
{
  struct xcopy_proto_request req = {
    .opcode = XCOPY_OP_STAT,
    .flags = XCOPY_PROTO_F_ALL_EXPORTS,
  };
  struct xcopy_proto_reply rep;
  int r = xd_backend_call (bk, &req, &rep);

  if (r < 0) {
    add_str (b, "counters_error", g_strerror (-r));
    return;
  }
  if (rep.status) {
    add_str (b, "counters_error", rep.u.error.message[0]
             ? rep.u.error.message : g_strerror ((int) rep.status));
    xcopy_proto_reply_free (&rep);
    return;
  }
  json_builder_set_member_name (b, "counters");
  json_builder_begin_object (b);
  for (size_t i = 0; i < rep.u.stat.ncounters; i++) {
    const struct xcopy_proto_counter *c = &rep.u.stat.counters[i];
    json_builder_set_member_name (b, c->name);
    json_builder_begin_object (b);
    add_uint (b, "bytes", c->bytes);
    add_uint (b, "calls", c->calls);
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
  add_uint (b, "exports", rep.u.stat.count);
  xcopy_proto_reply_free (&rep);
}

static void
backend_json (JsonBuilder *b, struct xd_backend *bk)
{
  json_builder_begin_object (b);
  add_str (b, "name", bk->cfg->name);
  add_str (b, "mode", bk->cfg->dir ? "supervised" : "attached");
  add_str (b, "state", xd_backend_state_name (bk->state));
  add_uint (b, "restarts", bk->restarts);
  add_uint (b, "pid", (uint64_t) bk->pid);
  add_str (b, "nbd_socket", bk->nbd_socket);
  add_str (b, "control_socket", bk->control_socket);
  if (xd_backend_up (bk))
    counters_json (b, bk);
  json_builder_end_object (b);
}

static JsonNode *
cmd_stats (struct xd_daemon *d)
{
  JsonBuilder *b = reply_begin ();

  add_str (b, "version", XCOPYD_VERSION);
  add_uint (b, "uptime", (uint64_t) ((g_get_monotonic_time () - d->started)
                                     / G_USEC_PER_SEC));
  iscsi_stats_json (b, d);
  json_builder_set_member_name (b, "backends");
  json_builder_begin_array (b);
  for (unsigned i = 0; i < d->backends->len; i++)
    backend_json (b, d->backends->pdata[i]);
  json_builder_end_array (b);
  return reply_end (b);
}

static const struct {
  const char *name;
  mgmt_fn fn;
} commands[] = {
  { "targets", cmd_targets },
  { "sessions", cmd_sessions },
  { "stats", cmd_stats },
};

JsonNode *
xd_mgmt_run (struct xd_daemon *d, const char *line)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *o;
  const char *cmd;

  if (!json_parser_load_from_data (p, line, -1, &error))
    return xd_mgmt_error ("request is not JSON: %s", error->message);
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (p)))
    return xd_mgmt_error ("request is not a JSON object");
  o = json_node_get_object (json_parser_get_root (p));
  if (!json_object_has_member (o, "cmd") ||
      !JSON_NODE_HOLDS_VALUE (json_object_get_member (o, "cmd")) ||
      json_node_get_value_type (json_object_get_member (o, "cmd"))
      != G_TYPE_STRING)
    return xd_mgmt_error ("request: \"cmd\" (a string) is missing");
  cmd = json_object_get_string_member (o, "cmd");
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, cmd) == 0)
      return commands[i].fn (d);
  return xd_mgmt_error ("cmd: unknown command '%s' (expected targets,"
                        " sessions or stats)", cmd);
}
