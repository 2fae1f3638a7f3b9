/* xcopyd: [target] groups -> SCSI targets with their LUs, and the iSCSI
 * server that serves them.
 *
 * Each LU is a plugin backend (backend-plugin.c) over one export of a
 * backend.  A LU's identity must not change between restarts of xcopyd,
 * or initiators (multipath, VMware) would see a different disk: the
 * default unit serial number is a hash of the target name and the LUN,
 * and the NAA designator the SCSI layer derives from the serial.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xcopyd.h"

void
xd_default_serial (const char *iqn, unsigned lun,
                   char out[SCSI_SERIAL_MAX + 1])
{
  g_autoptr (GChecksum) ck = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *key = g_strdup_printf ("%s/%u", iqn, lun);
  const char *hex;

  g_checksum_update (ck, (const guchar *) key, (gssize) strlen (key));
  hex = g_checksum_get_string (ck);
  g_snprintf (out, SCSI_SERIAL_MAX + 1, "XD%.24s", hex);
}

static bool
add_lun (struct xd_daemon *d, struct xd_target *t,
         const struct xd_lun_cfg *l, GError **error)
{
  struct xd_backend *b = xd_daemon_backend (d, l->backend);
  char serial[SCSI_SERIAL_MAX + 1];
  struct scsi_lu_config lc = {
    .serial = l->serial ? l->serial : serial,
    .have_naa = l->have_naa,
    .block_size = l->block_size,
    .read_only = l->readonly,
    .write_cache = true,
  };
  struct scsi_backend *be;
  struct scsi_lu *lu;
  int r;

  xd_default_serial (t->cfg->iqn, l->lun, serial);
  memcpy (lc.naa, l->naa, sizeof lc.naa);
  if (xd_plugin_backend_open (b, l->export, b->cfg->connections,
                              l->readonly, &be, error) < 0) {
    g_prefix_error (error, "target %s: LUN %u: ", t->cfg->iqn, l->lun);
    return false;
  }
  if ((r = scsi_lu_new (&lc, be, &lu)) < 0) {
    g_set_error (error, XD_ERROR, XD_EXIT_FAILED, "target %s: LUN %u (%s/%s):"
                 " %s", t->cfg->iqn, l->lun, b->cfg->name, l->export,
                 r == -EINVAL ? "the image size is not a multiple of the block"
                 " size, or the LUN settings are invalid" : g_strerror (-r));
    return false;
  }
  r = scsi_target_add_lu (t->scsi, (uint16_t) l->lun, lu);
  scsi_lu_unref (lu);
  if (r < 0)
    return g_set_error (error, XD_ERROR, XD_EXIT_FAILED, "target %s: LUN %u:"
                        " %s", t->cfg->iqn, l->lun, g_strerror (-r)), false;
  if (!g_ptr_array_find (t->backends, b, NULL))
    g_ptr_array_add (t->backends, b);
  xd_info ("target %s: LUN %u = %s/%s (%ju blocks of %u, serial %s)",
           t->cfg->iqn, l->lun, b->cfg->name, l->export,
           (uintmax_t) scsi_lu_blocks (lu), scsi_lu_block_size (lu),
           scsi_lu_serial (lu));
  return true;
}

static bool
create_target (struct xd_daemon *d, const struct xd_target_cfg *tc,
               GError **error)
{
  struct xd_target *t = g_new0 (struct xd_target, 1);
  struct scsi_target_config sc = {
    .name = tc->iqn,
    .transport_version = 0x0960,        /* iSCSI (no version claimed) */
    .workers = tc->workers,
  };
  int r;

  t->cfg = tc;
  t->backends = g_ptr_array_new ();
  if ((r = scsi_target_new (&sc, &t->scsi)) < 0) {
    g_ptr_array_unref (t->backends);
    g_free (t);
    return g_set_error (error, XD_ERROR, XD_EXIT_FAILED, "target %s: %s",
                        tc->iqn, g_strerror (-r)), false;
  }
  g_ptr_array_add (d->targets, t);
  for (unsigned i = 0; i < tc->luns->len; i++)
    if (!add_lun (d, t, tc->luns->pdata[i], error))
      return false;
  return true;
}

bool
xd_targets_create (struct xd_daemon *d, GError **error)
{
  for (unsigned i = 0; i < d->cfg->targets->len; i++)
    if (!create_target (d, d->cfg->targets->pdata[i], error))
      return false;
  return true;
}

/* ---- The iSCSI server ---- */

static bool
add_iscsi_target (struct xd_daemon *d, const struct xd_target *t,
                  GError **error)
{
  const struct xd_target_cfg *tc = t->cfg;
  struct iscsi_target_config ic = {
    .iqn = tc->iqn,
    .alias = tc->alias,
    .tpgt = tc->tpgt,
    .scsi = t->scsi,
    .acl = (const char *const *) tc->acl,
    .chap = { tc->chap_user, tc->chap_secret, tc->mutual_user,
              tc->mutual_secret },
  };

  return iscsi_server_add_target (d->iscsi, &ic, error) == 0;
}

/* --port-file: one line "ADDR PORT" per portal, written atomically so a
 * script polling for it never reads half a file.
 */
static bool
write_port_file (struct xd_daemon *d, GError **error)
{
  g_autoptr (GString) s = g_string_new (NULL);

  for (unsigned i = 0; i < d->cfg->portals->len; i++) {
    const struct xd_portal_cfg *p = d->cfg->portals->pdata[i];
    g_string_append_printf (s, "%s %u\n", p->addr,
                            iscsi_server_portal_port (d->iscsi, i));
  }
  if (!g_file_set_contents (d->port_file, s->str, (gssize) s->len, error)) {
    g_prefix_error (error, "--port-file: ");
    return false;
  }
  return true;
}

bool
xd_iscsi_start (struct xd_daemon *d, GError **error)
{
  if (iscsi_server_new (&d->cfg->iscsi, &d->iscsi, error) < 0)
    return false;
  for (unsigned i = 0; i < d->targets->len; i++)
    if (!add_iscsi_target (d, d->targets->pdata[i], error))
      return false;
  for (unsigned i = 0; i < d->cfg->portals->len; i++) {
    const struct xd_portal_cfg *p = d->cfg->portals->pdata[i];
    if (iscsi_server_add_portal (d->iscsi, p->addr, p->port, error) < 0) {
      g_prefix_error (error, "portal %s%s%s:%u: ", strchr (p->addr, ':')
                      ? "[" : "", p->addr, strchr (p->addr, ':') ? "]" : "",
                      p->port);
      return false;
    }
    xd_info ("iSCSI portal %s port %u", p->addr,
             iscsi_server_portal_port (d->iscsi, i));
  }
  return d->port_file == NULL || write_port_file (d, error);
}

void
xd_targets_backend_down (struct xd_daemon *d, struct xd_backend *b)
{
  if (d->iscsi == NULL)
    return;
  for (unsigned i = 0; i < d->targets->len; i++) {
    struct xd_target *t = d->targets->pdata[i];
    unsigned n;

    if (!g_ptr_array_find (t->backends, b, NULL))
      continue;
    n = iscsi_server_drop_sessions (d->iscsi, t->cfg->iqn);
    if (n)
      xd_notice ("target %s: dropped %u session%s while backend %s is down",
                 t->cfg->iqn, n, n == 1 ? "" : "s", b->cfg->name);
  }
}

void
xd_targets_free (struct xd_daemon *d)
{
  for (unsigned i = 0; d->targets && i < d->targets->len; i++) {
    struct xd_target *t = d->targets->pdata[i];

    scsi_target_free (t->scsi);
    g_ptr_array_unref (t->backends);
    g_free (t);
  }
  g_clear_pointer (&d->targets, g_ptr_array_unref);
}
