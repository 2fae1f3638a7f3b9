/* xcopyctl: commands for xcopyd's management socket — targets, sessions,
 * stats.
 *
 * The management socket speaks JSON lines (docs/xcopyd.pod, MANAGEMENT
 * SOCKET): one request {"cmd":"..."}, one reply {"ok":...}.  With --json
 * the reply's members are printed after "command" and "status", as the
 * other commands print theirs.
 */
#include <stdio.h>
#include <string.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>

#include "xcopyctl.h"

#define REPLY_MAX (16u << 20)

static const char *
daemon_path (const struct ctl *ctl)
{
  const char *p = ctl->o.daemon;

  if (p == NULL || *p == '\0')
    p = g_getenv ("XCOPYD_SOCKET");
  return p && *p ? p : XCOPYCTL_DEFAULT_DAEMON_SOCKET;
}

/* One request/reply round trip; the reply's root object. */
static JsonNode *
daemon_call (const struct ctl *ctl, const char *cmd, GError **error)
{
  const char *path = daemon_path (ctl);
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (path);
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GDataInputStream) in = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *req = g_strdup_printf ("{\"cmd\":\"%s\"}\n", cmd);
  g_autofree char *line = NULL;
  GError *err = NULL;
  gsize len;

  conn = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (addr), NULL,
                                  &err);
  if (conn) {
    GError *werr = NULL;

    /* A daemon that refuses us writes its reason and closes, possibly
     * before our request is out: read the reply even when the write
     * failed, and report the write error only if there is none.
     */
    g_output_stream_write_all
      (g_io_stream_get_output_stream (G_IO_STREAM (conn)), req, strlen (req),
       NULL, NULL, &werr);
    in = g_data_input_stream_new
      (g_io_stream_get_input_stream (G_IO_STREAM (conn)));
    line = g_data_input_stream_read_line (in, &len, NULL, &err);
    if (line == NULL && werr) {
      g_clear_error (&err);
      err = werr;
    }
    else
      g_clear_error (&werr);
  }
  if (line == NULL) {
    bool absent = err && (g_error_matches (err, G_IO_ERROR,
                                           G_IO_ERROR_NOT_FOUND) ||
                          g_error_matches (err, G_IO_ERROR,
                                           G_IO_ERROR_CONNECTION_REFUSED));
    ctl_set_error (error, CTL_EXIT_CONNECT, "xcopyd management socket %s:"
                   " %s%s", path, err ? err->message : "closed without a"
                   " reply", absent ? " (is xcopyd running? see --daemon and"
                   " $XCOPYD_SOCKET)" : "");
    g_clear_error (&err);
    return NULL;
  }
  if (len > REPLY_MAX || !json_parser_load_from_data (parser, line, -1, &err)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    ctl_set_error (error, CTL_EXIT_CONNECT, "bad reply from %s: %s", path,
                   err ? err->message : "not a JSON object");
    g_clear_error (&err);
    return NULL;
  }
  return json_node_copy (json_parser_get_root (parser));
}

static uint64_t
get_uint (JsonObject *o, const char *key)
{
  return json_object_has_member (o, key)
    ? (uint64_t) json_object_get_int_member (o, key) : 0;
}

static const char *
get_str (JsonObject *o, const char *key)
{
  JsonNode *n = json_object_has_member (o, key)
    ? json_object_get_member (o, key) : NULL;

  return n && JSON_NODE_HOLDS_VALUE (n) ? json_node_get_string (n) : NULL;
}

/* --json: "command", "status", then the reply's members but "ok". */
static void
print_json (const struct ctl *ctl, JsonObject *o)
{
  JsonBuilder *b = ctl_json_begin (ctl, "ok");
  g_autoptr (GList) members = json_object_get_members (o);

  for (GList *m = members; m; m = m->next) {
    if (strcmp (m->data, "ok") == 0)
      continue;
    json_builder_set_member_name (b, m->data);
    json_builder_add_value (b, json_node_copy
                            (json_object_get_member (o, m->data)));
  }
  ctl_json_end (b);
}

static void
print_targets (JsonObject *o)
{
  JsonArray *targets = json_object_get_array_member (o, "targets");

  for (guint i = 0; i < json_array_get_length (targets); i++) {
    JsonObject *t = json_array_get_object_element (targets, i);
    JsonArray *luns = json_object_get_array_member (t, "luns");
    const char *alias = get_str (t, "alias");

    printf ("target %s%s%s%s\n", get_str (t, "iqn"), alias ? " (" : "",
            alias ? alias : "", alias ? ")" : "");
    for (guint j = 0; j < json_array_get_length (luns); j++) {
      JsonObject *l = json_array_get_object_element (luns, j);
      char sz[CTL_SIZE_STR];

      printf ("  lun %ju: %s/%s size=%s block_size=%ju serial=%s"
              " state=%s%s\n", (uintmax_t) get_uint (l, "lun"),
              get_str (l, "backend"), get_str (l, "export"),
              ctl_size (get_uint (l, "size"), sz),
              (uintmax_t) get_uint (l, "block_size"),
              get_str (l, "serial") ? get_str (l, "serial") : "-",
              get_str (l, "state") ? get_str (l, "state") : "-",
              json_object_get_boolean_member_with_default (l, "readonly",
                                                           FALSE)
              ? " readonly" : "");
    }
  }
}

static void
print_sessions (JsonObject *o)
{
  JsonArray *sessions = json_object_get_array_member (o, "sessions");

  for (guint i = 0; i < json_array_get_length (sessions); i++) {
    JsonObject *s = json_array_get_object_element (sessions, i);
    const char *target = get_str (s, "target");

    printf ("session tsih=%ju initiator=%s isid=%s target=%s"
            " connections=%ju commands=%ju bytes_in=%ju bytes_out=%ju\n",
            (uintmax_t) get_uint (s, "tsih"), get_str (s, "initiator"),
            get_str (s, "isid"), target && *target ? target : "(discovery)",
            (uintmax_t) get_uint (s, "connections"),
            (uintmax_t) get_uint (s, "commands"),
            (uintmax_t) get_uint (s, "bytes_in"),
            (uintmax_t) get_uint (s, "bytes_out"));
  }
  if (json_array_get_length (sessions) == 0)
    printf ("no sessions\n");
}

static void
print_counters (JsonObject *b)
{
  JsonObject *c = json_object_get_object_member (b, "counters");
  g_autoptr (GList) names = c ? json_object_get_members (c) : NULL;

  for (GList *m = names; m; m = m->next) {
    JsonObject *v = json_object_get_object_member (c, m->data);
    printf ("  counter %s: bytes=%ju calls=%ju\n", (const char *) m->data,
            (uintmax_t) get_uint (v, "bytes"),
            (uintmax_t) get_uint (v, "calls"));
  }
  if (get_str (b, "counters_error"))
    printf ("  counters: %s\n", get_str (b, "counters_error"));
}

static void
print_stats (JsonObject *o)
{
  JsonObject *i = json_object_get_object_member (o, "iscsi");
  JsonArray *backends = json_object_get_array_member (o, "backends");

  printf ("xcopyd %s, up %jus\n", get_str (o, "version"),
          (uintmax_t) get_uint (o, "uptime"));
  printf ("iscsi: logins=%ju login_failures=%ju sessions=%ju"
          " connections=%ju commands=%ju pdus_rejected=%ju"
          " digest_errors=%ju\n", (uintmax_t) get_uint (i, "logins"),
          (uintmax_t) get_uint (i, "login_failures"),
          (uintmax_t) get_uint (i, "sessions"),
          (uintmax_t) get_uint (i, "connections"),
          (uintmax_t) get_uint (i, "commands"),
          (uintmax_t) get_uint (i, "pdus_rejected"),
          (uintmax_t) get_uint (i, "digest_errors"));
  for (guint k = 0; k < json_array_get_length (backends); k++) {
    JsonObject *b = json_array_get_object_element (backends, k);

    printf ("backend %s: %s %s restarts=%ju pid=%ju\n", get_str (b, "name"),
            get_str (b, "mode"), get_str (b, "state"),
            (uintmax_t) get_uint (b, "restarts"),
            (uintmax_t) get_uint (b, "pid"));
    print_counters (b);
  }
}

static int
run_daemon_cmd (struct ctl *ctl, const char *cmd, void (*print) (JsonObject *))
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = daemon_call (ctl, cmd, &error);
  JsonObject *o;

  if (root == NULL)
    return ctl_fail (ctl, error);
  o = json_node_get_object (root);
  if (!json_object_get_boolean_member_with_default (o, "ok", FALSE)) {
    ctl_set_error (&error, CTL_EXIT_FAILED, "xcopyd: %s",
                   get_str (o, "error") ? get_str (o, "error")
                   : "request refused");
    return ctl_fail (ctl, error);
  }
  if (ctl->o.json)
    print_json (ctl, o);
  else if (!ctl->o.quiet)
    print (o);
  return CTL_EXIT_OK;
}

int
ctl_cmd_targets (struct ctl *ctl, char **args, unsigned nargs)
{
  (void) args;
  (void) nargs;
  return run_daemon_cmd (ctl, "targets", print_targets);
}

int
ctl_cmd_sessions (struct ctl *ctl, char **args, unsigned nargs)
{
  (void) args;
  (void) nargs;
  return run_daemon_cmd (ctl, "sessions", print_sessions);
}

int
ctl_cmd_stats (struct ctl *ctl, char **args, unsigned nargs)
{
  (void) args;
  (void) nargs;
  return run_daemon_cmd (ctl, "stats", print_stats);
}
