/* xcopyd: a standalone iSCSI target over file-backed LUs, for tests.
 *
 *   prog-iscsi-serve --portal 127.0.0.1:0 [--portal [::1]:0] --iqn IQN
 *       --lun N=PATH [--lun N=PATH ...] [--block-size 512|4096]
 *       [--acl INITIATOR ...] [--chap USER:SECRET] [--mutual USER:SECRET]
 *       [--workers N] [--no-digests] [--phys-exp N] [--read-only]
 *       [--nop-interval S] [--nop-timeout S]
 *
 * Prints "port N" (the first portal's port) once serving, then serves
 * until SIGTERM or SIGINT and exits 0 after a clean shutdown.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/iscsi/iscsi.h"

static char **opt_portals, **opt_luns, **opt_acl;
static char *opt_iqn, *opt_chap, *opt_mutual;
static int opt_block_size = 512, opt_workers, opt_phys_exp;
static int opt_nop_interval, opt_nop_timeout = 15;
static gboolean opt_no_digests, opt_read_only;

static const GOptionEntry entries[] = {
  { "portal", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_portals,
    "listen on ADDR:PORT (IPv6 in brackets)", "ADDR:PORT" },
  { "iqn", 0, 0, G_OPTION_ARG_STRING, &opt_iqn, "target name", "IQN" },
  { "lun", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_luns, "map a file", "N=PATH" },
  { "block-size", 0, 0, G_OPTION_ARG_INT, &opt_block_size, "512 or 4096", "B" },
  { "acl", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_acl,
    "allow this initiator (default: any)", "IQN" },
  { "chap", 0, 0, G_OPTION_ARG_STRING, &opt_chap, "require CHAP",
    "USER:SECRET" },
  { "mutual", 0, 0, G_OPTION_ARG_STRING, &opt_mutual, "mutual CHAP name",
    "USER:SECRET" },
  { "workers", 0, 0, G_OPTION_ARG_INT, &opt_workers, "SCSI workers", "N" },
  { "nop-interval", 0, 0, G_OPTION_ARG_INT, &opt_nop_interval,
    "NOP-In ping after S idle seconds (0: off)", "S" },
  { "nop-timeout", 0, 0, G_OPTION_ARG_INT, &opt_nop_timeout,
    "close when a ping is unanswered for S seconds", "S" },
  { "no-digests", 0, 0, G_OPTION_ARG_NONE, &opt_no_digests,
    "refuse CRC32C digests", NULL },
  { "phys-exp", 0, 0, G_OPTION_ARG_INT, &opt_phys_exp,
    "logical blocks per physical block, log2 (0..15)", "N" },
  { "read-only", 0, 0, G_OPTION_ARG_NONE, &opt_read_only,
    "write-protected LUs", NULL },
  { NULL, 0, 0, 0, NULL, NULL, NULL }
};

static void
die (const char *fmt, const char *what, const char *why)
{
  fprintf (stderr, "prog-iscsi-serve: ");
  fprintf (stderr, fmt, what, why);
  fputc ('\n', stderr);
  exit (1);
}

static void
split_creds (char *s, const char **user, const char **secret)
{
  char *colon = strchr (s, ':');

  if (colon == NULL)
    die ("%s: expected USER:SECRET%s", s, "");
  *colon = '\0';
  *user = s;
  *secret = colon + 1;
}

static void
add_lun (struct scsi_target *t, const char *spec)
{
  g_autofree char *base = NULL, *serial = NULL;
  struct scsi_backend *be;
  struct scsi_lu *lu;
  char *end;
  unsigned long n = strtoul (spec, &end, 10);
  int r;

  if (end == spec || *end != '=' || n > SCSI_LUN_MAX)
    die ("bad --lun %s%s (want N=PATH)", spec, "");
  if ((r = scsi_file_backend_open (end + 1, opt_read_only, NULL, &be)) < 0)
    die ("%s: %s", end + 1, g_strerror (-r));
  base = g_path_get_basename (end + 1);
  serial = g_strdup_printf ("%.50s-%lu", base, n);
  g_strdelimit (serial, " ", '_');
  struct scsi_lu_config cfg = {
    .serial = serial,
    .block_size = (uint32_t) opt_block_size,
    .phys_exp = (uint8_t) opt_phys_exp,
    .read_only = opt_read_only,
    .write_cache = true,
  };
  if ((r = scsi_lu_new (&cfg, be, &lu)) < 0)
    die ("LU %s: %s", spec, g_strerror (-r));
  if ((r = scsi_target_add_lu (t, (uint16_t) n, lu)) < 0)
    die ("LUN %s: %s", spec, g_strerror (-r));
  scsi_lu_unref (lu);
}

static void
add_portal (struct iscsi_server *s, const char *spec)
{
  g_autoptr (GError) err = NULL;
  const char *colon = strrchr (spec, ':');
  g_autofree char *addr = NULL;
  char *end;
  unsigned long port;

  if (colon == NULL)
    die ("bad --portal %s%s", spec, "");
  port = strtoul (colon + 1, &end, 10);
  if (*end || port > 65535)
    die ("bad port in %s%s", spec, "");
  addr = g_strndup (spec, (gsize) (colon - spec));
  if (iscsi_server_add_portal (s, addr, (uint16_t) port, &err) < 0)
    die ("%s: %s", spec, err->message);
}

static struct iscsi_server *
make_server (struct scsi_target *t)
{
  g_autoptr (GError) err = NULL;
  struct iscsi_server_config scfg = {
    .disable_digests = opt_no_digests,
    .nop_interval_s = (unsigned) MAX (opt_nop_interval, 0),
    .nop_timeout_s = (unsigned) MAX (opt_nop_timeout, 1),
  };
  struct iscsi_target_config tcfg = {
    .iqn = opt_iqn, .scsi = t, .acl = (const char *const *) opt_acl,
  };
  struct iscsi_server *s;

  if (opt_chap)
    split_creds (opt_chap, &tcfg.chap.user, &tcfg.chap.secret);
  if (opt_mutual)
    split_creds (opt_mutual, &tcfg.chap.mutual_user, &tcfg.chap.mutual_secret);
  if (iscsi_server_new (&scfg, &s, &err) < 0 ||
      iscsi_server_add_target (s, &tcfg, &err) < 0)
    die ("%s%s", err->message, "");
  for (char **p = opt_portals; *p; p++)
    add_portal (s, *p);
  return s;
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- test iSCSI target");
  g_autoptr (GError) err = NULL;
  struct scsi_target_config tc = { .transport_version = 0x0960 };
  struct scsi_target *t;
  struct iscsi_server *s;
  sigset_t set;
  int sig, r;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err))
    die ("%s%s", err->message, "");
  if (!opt_iqn || !opt_portals || !opt_luns)
    die ("--iqn, --portal and --lun are required%s%s", "", "");
  /* Worker threads inherit the mask: only sigwait sees the signals. */
  sigemptyset (&set);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGINT);
  pthread_sigmask (SIG_BLOCK, &set, NULL);
  signal (SIGPIPE, SIG_IGN);
  tc.name = opt_iqn;
  tc.workers = (unsigned) opt_workers;
  if ((r = scsi_target_new (&tc, &t)) < 0)
    die ("SCSI target: %s%s", g_strerror (-r), "");
  for (char **l = opt_luns; *l; l++)
    add_lun (t, *l);
  s = make_server (t);
  printf ("port %u\n", iscsi_server_portal_port (s, 0));
  fflush (stdout);
  sigwait (&set, &sig);
  iscsi_server_free (s, 0);
  scsi_target_free (t);
  g_strfreev (opt_portals);
  g_strfreev (opt_luns);
  g_strfreev (opt_acl);
  g_free (opt_iqn);
  g_free (opt_chap);
  g_free (opt_mutual);
  return 0;
}
