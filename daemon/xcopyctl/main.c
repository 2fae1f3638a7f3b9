/* xcopyctl: command-line client of the xcopyd control protocol.
 *
 *   xcopyctl [GLOBAL OPTIONS] COMMAND [OPTIONS] ARGS...
 *
 * Global options come before or after the command; each command has its
 * own options and --help.  docs/xcopyctl.pod is the manual: it lists every
 * command, option, JSON key and exit code, and tests/func/
 * test-xcopyctl-help.sh checks that this file and the manual agree.
 */
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "xcopyctl.h"

static struct ctl_opts opts;

static const GOptionEntry global_entries[] = {
  { "socket", 's', 0, G_OPTION_ARG_FILENAME, &opts.socket,
    "Control socket of nbdkit xcopy (default: $XCOPY_SOCKET, else "
    XCOPYCTL_DEFAULT_SOCKET ")", "PATH" },
  { "daemon", 'd', 0, G_OPTION_ARG_FILENAME, &opts.daemon,
    "Management socket of xcopyd, for targets, sessions and stats"
    " (default: $XCOPYD_SOCKET, else " XCOPYCTL_DEFAULT_DAEMON_SOCKET ")",
    "PATH" },
  { "json", 'j', 0, G_OPTION_ARG_NONE, &opts.json,
    "Print one JSON object on standard output", NULL },
  { "quiet", 'q', 0, G_OPTION_ARG_NONE, &opts.quiet,
    "Print nothing on success; no progress bar", NULL },
  { "version", 'V', 0, G_OPTION_ARG_NONE, &opts.version,
    "Print the version and exit", NULL },
};

static const struct {
  unsigned bit;
  GOptionEntry entry;
} cmd_options[] = {
  { CTL_O_TO, { "to", 't', 0, G_OPTION_ARG_STRING, &opts.to,
      "Copy into export EXPORT2 (default: EXPORT itself)", "EXPORT2" } },
  { CTL_O_RANGES, { "ranges-file", 'f', 0, G_OPTION_ARG_FILENAME_ARRAY,
      &opts.ranges_files, "Copy the ranges in FILE too: one SRC:DST:LEN"
      " per line, # comments, - for standard input (repeatable)", "FILE" } },
  { CTL_O_ASYNC, { "async", 'a', 0, G_OPTION_ARG_NONE, &opts.async,
      "Start a job, print its id and return at once", NULL } },
  { CTL_O_WAIT, { "wait", 'w', 0, G_OPTION_ARG_NONE, &opts.wait,
      "Run as a job and wait for it, with a progress bar on a terminal;"
      " Ctrl-C cancels the job", NULL } },
  { CTL_O_WAIT_JOB, { "wait", 'w', 0, G_OPTION_ARG_NONE, &opts.wait,
      "Wait until job ID ends, with a progress bar on a terminal; exit as"
      " it ended", NULL } },
  { CTL_O_SYNC, { "sync", 0, 0, G_OPTION_ARG_NONE, &opts.sync,
      "Make the result durable (fdatasync) before replying", NULL } },
  { CTL_O_ALLOCATE, { "allocate", 0, 0, G_OPTION_ARG_NONE, &opts.allocate,
      "Copy source holes as allocated zeroes, not as holes", NULL } },
  { CTL_O_TRIM, { "trim", 0, 0, G_OPTION_ARG_NONE, &opts.trim,
      "Let bytes that end up zero be deallocated", NULL } },
  { CTL_O_FAST, { "fast", 0, 0, G_OPTION_ARG_NONE, &opts.fast,
      "Fail (EOPNOTSUPP) rather than write zero bytes", NULL } },
  { CTL_O_REPLACE, { "replace", 0, 0, G_OPTION_ARG_NONE, &opts.replace,
      "Replace an existing DST, atomically", NULL } },
  { CTL_O_METHOD, { "method", 'm', 0, G_OPTION_ARG_STRING, &opts.method,
      "Copy methods to skip: no-reflink, no-cfr, no-splice, comma-separated;"
      " or auto, cfr, splice, bounce", "LIST" } },
};

#define LONG_OPTS (CTL_O_LONG | CTL_O_SYNC)

static const struct ctl_cmd commands[] = {
  { "copy", "EXPORT SRC:DST:LEN...",
    "Copy ranges within EXPORT, or into --to EXPORT2", 1, UINT_MAX,
    LONG_OPTS | CTL_O_TO | CTL_O_RANGES | CTL_O_ALLOCATE | CTL_O_METHOD,
    ctl_cmd_copy },
  { "fill", "EXPORT OFF LEN PATTERN",
    "Write PATTERN (hex bytes, or @FILE) over [OFF, OFF+LEN)", 4, 4,
    LONG_OPTS | CTL_O_TRIM, ctl_cmd_fill },
  { "zero", "EXPORT OFF LEN", "Make [OFF, OFF+LEN) read as zeroes", 3, 3,
    LONG_OPTS | CTL_O_TRIM | CTL_O_FAST, ctl_cmd_zero },
  { "unmap", "EXPORT OFF:LEN...",
    "Deallocate spans; they read as zeroes", 2, UINT_MAX, LONG_OPTS,
    ctl_cmd_unmap },
  { "flush", "EXPORT", "Make completed writes to EXPORT durable", 1, 1, 0,
    ctl_cmd_flush },
  { "extents", "EXPORT [OFF LEN]",
    "List data and hole extents (default: the whole export)", 1, 3, 0,
    ctl_cmd_extents },
  { "stat", "[EXPORT]",
    "Show the server, exports and per-method counters", 0, 1, 0,
    ctl_cmd_stat },
  { "exports", "", "List the export names", 0, 0, 0, ctl_cmd_exports },
  { "jobs", "[ID]", "List jobs, or show job ID", 0, 1, CTL_O_WAIT_JOB,
    ctl_cmd_jobs },
  { "cancel", "ID", "Cancel job ID at its next range boundary", 1, 1, 0,
    ctl_cmd_cancel },
  { "clone", "SRC DST",
    "Clone export SRC into a new file DST beside it, atomically", 2, 2,
    CTL_O_LONG | CTL_O_REPLACE | CTL_O_METHOD, ctl_cmd_clone },
  { "targets", "", "List xcopyd's iSCSI targets and their LUNs", 0, 0, 0,
    ctl_cmd_targets },
  { "sessions", "", "List xcopyd's iSCSI sessions", 0, 0, 0,
    ctl_cmd_sessions },
  { "stats", "", "Show xcopyd's counters and the state of its backends",
    0, 0, 0, ctl_cmd_stats },
};

static const char help_footer[] =
  "Sizes: N, or N with K, M, G, T (powers of 1024) or s (512-byte\n"
  "sectors); 0x for hex; sums such as 4G+1M.  Ranges are numbered from 0.\n"
  "The export name \"\" is the server's default export.\n"
  "\n"
  "Exit status:\n"
  "  0    done\n"
  "  1    refused or failed by the server; nothing was done\n"
  "  2    usage error: bad command, option or argument\n"
  "  3    cannot connect, or a connection or protocol error\n"
  "  4    failed after part of the operation was done\n"
  "  130  the job was cancelled\n"
  "\n"
  "Environment: XCOPY_SOCKET is the default for --socket, XCOPYD_SOCKET\n"
  "for --daemon.\n"
  "See xcopyctl(1).";

static const struct ctl_cmd *
find_command (const char *name)
{
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static char *
commands_summary (void)
{
  GString *s = g_string_new ("Commands:");

  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++) {
    g_autofree char *use = g_strdup_printf ("%s %s", commands[i].name,
                                            commands[i].args);

    g_string_append_printf (s, "\n  %-30s %s", use, commands[i].summary);
  }
  g_string_append (s, "\n\nRun 'xcopyctl COMMAND --help' for a command's"
                   " options.");
  return g_string_free (s, FALSE);
}

/* Global options, up to the command name. */
static bool
parse_global (int *argc, char ***argv, GError **error)
{
  g_autoptr (GOptionContext) ctx =
    g_option_context_new ("COMMAND [OPTION...] [ARGS...]");
  g_autofree char *summary = commands_summary ();
  GOptionEntry entries[G_N_ELEMENTS (global_entries) + 1] = { { 0 } };

  memcpy (entries, global_entries, sizeof global_entries);
  g_option_context_set_strict_posix (ctx, TRUE);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_summary (ctx, summary);
  g_option_context_set_description (ctx, help_footer);
  return g_option_context_parse (ctx, argc, argv, error);
}

/* The command's options and the global ones again; argv[0] is the
 * command's name.
 */
static bool
parse_command (const struct ctl_cmd *cmd, int *argc, char ***argv,
               GError **error)
{
  g_autofree char *prog = g_strdup_printf ("xcopyctl %s", cmd->name);
  g_autoptr (GOptionContext) ctx = NULL;
  GOptionEntry entries[G_N_ELEMENTS (cmd_options) +
                       G_N_ELEMENTS (global_entries) + 1] = { { 0 } };
  size_t n = 0;

  for (size_t i = 0; i < G_N_ELEMENTS (cmd_options); i++)
    if (cmd->opts & cmd_options[i].bit)
      entries[n++] = cmd_options[i].entry;
  memcpy (entries + n, global_entries, sizeof global_entries);
  g_set_prgname (prog);
  ctx = g_option_context_new (cmd->args);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_summary (ctx, cmd->summary);
  g_option_context_set_description (ctx, help_footer);
  return g_option_context_parse (ctx, argc, argv, error);
}

static bool
check_nargs (const struct ctl_cmd *cmd, unsigned n, GError **error)
{
  if (n >= cmd->min_args && n <= cmd->max_args)
    return true;
  return ctl_set_error (error, CTL_EXIT_USAGE, "%u argument%s given,"
                        " expected %s (see xcopyctl %s --help)", n,
                        n == 1 ? "" : "s", *cmd->args ? cmd->args : "none",
                        cmd->name);
}

/* GOption leaves the "--" that ends the options among the arguments. */
static void
drop_dashdash (int *argc, char **argv)
{
  for (int i = 1; i < *argc; i++)
    if (strcmp (argv[i], "--") == 0) {
      memmove (&argv[i], &argv[i + 1], (size_t) (*argc - i) * sizeof *argv);
      (*argc)--;
      return;
    }
}

/* Options and the command; false with error on a usage error. */
static bool
parse_args (struct ctl *ctl, int *argc, char ***argv, GError **error)
{
  if (!parse_global (argc, argv, error))
    return false;
  ctl->o = opts;
  if (opts.version)
    return true;
  if (*argc < 2)
    return ctl_set_error (error, CTL_EXIT_USAGE, "no command given (see"
                          " xcopyctl --help)");
  ctl->cmd = find_command ((*argv)[1]);
  if (ctl->cmd == NULL)
    return ctl_set_error (error, CTL_EXIT_USAGE, "unknown command '%s' (see"
                          " xcopyctl --help)", (*argv)[1]);
  ctl->name = ctl->cmd->name;
  (*argc)--;
  (*argv)++;
  if (!parse_command (ctl->cmd, argc, argv, error))
    return false;
  drop_dashdash (argc, *argv);
  ctl->o = opts;
  return check_nargs (ctl->cmd, (unsigned) *argc - 1, error);
}

static void
ctl_clear (struct ctl *ctl)
{
  g_clear_pointer (&ctl->conn, ctl_conn_free);
  g_free (opts.socket);
  g_free (opts.daemon);
  g_free (opts.to);
  g_strfreev (opts.ranges_files);
  g_free (opts.method);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  struct ctl ctl = { 0 };
  int code;

  /* The terminal's character set for --help; messages, numbers and
   * strerror stay in the C locale.
   */
  setlocale (LC_CTYPE, "");
  if (!parse_args (&ctl, &argc, &argv, &error))
    code = ctl_fail (&ctl, error);
  else if (opts.version)
    code = printf ("xcopyctl %s (control protocol %u..%u)\n",
                   XCOPYCTL_VERSION, XCOPY_PROTO_VERSION_MIN,
                   XCOPY_PROTO_VERSION_MAX) < 0;
  else
    code = ctl.cmd->run (&ctl, argv + 1, (unsigned) argc - 1);
  ctl_clear (&ctl);
  return code;
}
