/* xcopyd: [target:IQN] groups of the configuration file.
 *
 *   [target:iqn.2024-01.org.example:disks]
 *   lun.0 = images/disk0.img        BACKEND/EXPORT
 *   lun.0.serial = ...              optional per-LUN settings
 *
 * Checked here as far as a configuration can be: the name's form (RFC
 * 3720 3.2.6.3), the CHAP rules of RFC 7143 12.1.3, LUN numbers, that
 * every LUN's backend is defined.  Whether the export exists is known
 * only once its nbdkit runs.
 */
#include <errno.h>
#include <string.h>

#include "xcopyd.h"

static const char *const target_keys[] = {
  "alias", "tpgt", "acl", "chap-user", "chap-secret", "mutual-user",
  "mutual-secret", "workers", "block-size", NULL
};

/* lun.N and lun.N.SETTING: checked by load_lun. */
static bool
lun_key (const char *key)
{
  return g_str_has_prefix (key, "lun.");
}

/* RFC 3720 3.2.6.3: iqn.YYYY-MM.reversed-domain[:...], eui. + 16 hex
 * digits, naa. + 16 or 32 hex digits; at most 223 bytes; lower case
 * (initiators compare names after stringprep folding).
 */
static const char *
iqn_problem (const char *n)
{
  size_t len = strlen (n);

  if (len > 223)
    return "longer than 223 bytes";
  for (const char *p = n; *p; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && !strchr (".-:", *p))
      return "only lower-case letters, digits, '.', '-' and ':' may be used";
  if (g_str_has_prefix (n, "iqn."))
    return len >= 12 && g_ascii_isdigit (n[4]) && n[8] == '-' && n[11] == '.'
      ? NULL : "expected iqn.YYYY-MM.reversed.domain[:name]";
  if (g_str_has_prefix (n, "eui."))
    return len == 20 ? NULL : "eui. needs 16 hex digits";
  if (g_str_has_prefix (n, "naa."))
    return len == 20 || len == 36 ? NULL : "naa. needs 16 or 32 hex digits";
  return "must start with iqn., eui. or naa.";
}

/* RFC 7143 12.1.3: secrets of at least 96 bits; a mutual secret must
 * differ from the one the initiator proves.
 */
bool
xd_cfg_check_chap (const struct xd_config *c, const char *group,
                   const char *prefix, const char *user, const char *secret,
                   const char *mutual_user, const char *mutual_secret,
                   GError **error)
{
  g_autofree char *k_user = g_strconcat (prefix, "chap-user", NULL);
  g_autofree char *k_secret = g_strconcat (prefix, "chap-secret", NULL);
  g_autofree char *k_muser = g_strconcat (prefix, "mutual-user", NULL);
  g_autofree char *k_msecret = g_strconcat (prefix, "mutual-secret", NULL);

  if ((user == NULL) != (secret == NULL))
    return xd_cfg_fail (error, c, group, user ? k_secret : k_user,
                        "missing (CHAP needs %s and %s)", k_user, k_secret);
  if ((mutual_user == NULL) != (mutual_secret == NULL))
    return xd_cfg_fail (error, c, group, mutual_user ? k_msecret : k_muser,
                        "missing (mutual CHAP needs %s and %s)", k_muser,
                        k_msecret);
  if (mutual_user && !user)
    return xd_cfg_fail (error, c, group, k_muser, "mutual CHAP needs %s too",
                        k_user);
  if (secret && (strlen (secret) < 12 || strlen (secret) > 255))
    return xd_cfg_fail (error, c, group, k_secret, "must be 12 to 255 bytes"
                        " long (RFC 7143 12.1.3), not %zu", strlen (secret));
  if (mutual_secret && (strlen (mutual_secret) < 12 ||
                        strlen (mutual_secret) > 255))
    return xd_cfg_fail (error, c, group, k_msecret, "must be 12 to 255 bytes"
                        " long (RFC 7143 12.1.3), not %zu",
                        strlen (mutual_secret));
  if (mutual_secret && strcmp (secret, mutual_secret) == 0)
    return xd_cfg_fail (error, c, group, k_msecret, "must differ from %s",
                        k_secret);
  return true;
}

static bool
serial_ok (const char *s)
{
  size_t len = strlen (s);

  if (len == 0 || len > SCSI_SERIAL_MAX || s[0] == ' ' || s[len - 1] == ' ')
    return false;
  for (const char *p = s; *p; p++)
    if (*p < 0x20 || *p > 0x7e)
      return false;
  return true;
}

/* 32 hex digits, NAA 6 (SPC-4 7.8.6.6.4). */
static bool
parse_naa (const char *s, uint8_t naa[16])
{
  if (strlen (s) != 32 || (s[0] != '6'))
    return false;
  for (int i = 0; i < 16; i++) {
    int hi = g_ascii_xdigit_value (s[2 * i]);
    int lo = g_ascii_xdigit_value (s[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    naa[i] = (uint8_t) (hi << 4 | lo);
  }
  return true;
}

/* lun.N = BACKEND/EXPORT */
static bool
lun_target (const struct xd_config *c, const char *g, const char *key,
            const char *v, struct xd_lun_cfg *l, GError **error)
{
  const char *slash = strchr (v, '/');
  g_autofree char *bname = NULL;

  if (slash == NULL || slash == v || slash[1] == '\0')
    return xd_cfg_fail (error, c, g, key, "'%s': expected BACKEND/EXPORT,"
                        " e.g. images/disk0.img", v);
  bname = g_strndup (v, (size_t) (slash - v));
  l->export = g_strdup (slash + 1);
  l->backend = xd_config_backend (c, bname);
  if (l->backend == NULL)
    return xd_cfg_fail (error, c, g, key, "backend '%s' is not defined (no"
                        " [backend:%s] group)", bname, bname);
  if (strchr (l->export, '/') || strcmp (l->export, ".") == 0 ||
      strcmp (l->export, "..") == 0 || strlen (l->export) > 255)
    return xd_cfg_fail (error, c, g, key, "export '%s': a file name inside"
                        " the backend's directory, at most 255 bytes",
                        l->export);
  l->readonly = l->backend->readonly;
  return true;
}

static bool
lun_settings (GKeyFile *kf, const struct xd_config *c, const char *g,
              struct xd_lun_cfg *l, GError **error)
{
  g_autofree char *k_serial = g_strdup_printf ("lun.%u.serial", l->lun);
  g_autofree char *k_naa = g_strdup_printf ("lun.%u.naa", l->lun);
  g_autofree char *k_bs = g_strdup_printf ("lun.%u.block-size", l->lun);
  g_autofree char *k_ro = g_strdup_printf ("lun.%u.readonly", l->lun);
  g_autofree char *naa = xd_cfg_string (kf, g, k_naa);
  uint64_t bs = l->block_size;

  l->serial = xd_cfg_string (kf, g, k_serial);
  if (l->serial && !serial_ok (l->serial))
    return xd_cfg_fail (error, c, g, k_serial, "'%s': 1 to %d printable"
                        " ASCII characters, no space at either end",
                        l->serial, SCSI_SERIAL_MAX);
  if (naa && !(l->have_naa = parse_naa (naa, l->naa)))
    return xd_cfg_fail (error, c, g, k_naa, "'%s': expected 32 hex digits"
                        " starting with 6 (NAA IEEE Registered Extended)",
                        naa);
  if (!xd_cfg_uint (kf, c, g, k_bs, 512, 4096, &bs, error) ||
      !xd_cfg_bool (kf, c, g, k_ro, &l->readonly, error))
    return false;
  if (bs != 512 && bs != 4096)
    return xd_cfg_fail (error, c, g, k_bs, "%ju: must be 512 or 4096",
                        (uintmax_t) bs);
  if (!l->readonly && l->backend->readonly)
    return xd_cfg_fail (error, c, g, k_ro, "backend '%s' is read-only",
                        l->backend->name);
  l->block_size = (uint32_t) bs;
  return true;
}

static void
lun_cfg_free (void *p)
{
  struct xd_lun_cfg *l = p;

  g_free (l->export);
  g_free (l->serial);
  g_free (l);
}

/* A key lun.N.X without lun.N, or lun.N.UNKNOWN. */
static bool
check_lun_keys (GKeyFile *kf, const struct xd_config *c, const char *g,
                GError **error)
{
  static const char *const settings[] = {
    "serial", "naa", "block-size", "readonly", NULL
  };
  g_auto (GStrv) keys = g_key_file_get_keys (kf, g, NULL, NULL);

  for (size_t i = 0; keys && keys[i]; i++) {
    char *end;
    guint64 n;

    if (!lun_key (keys[i]))
      continue;
    n = g_ascii_strtoull (keys[i] + 4, &end, 10);
    if (end == keys[i] + 4 || !g_ascii_isdigit (keys[i][4]) || n > SCSI_LUN_MAX)
      return xd_cfg_fail (error, c, g, keys[i], "expected lun.N with N from"
                          " 0 to %u", SCSI_LUN_MAX);
    if (*end == '\0')
      continue;
    if (*end != '.' || !g_strv_contains (settings, end + 1))
      return xd_cfg_fail (error, c, g, keys[i], "unknown key (LUN settings:"
                          " serial, naa, block-size, readonly)");
    g_autofree char *base = g_strndup (keys[i], (size_t) (end - keys[i]));
    if (!g_key_file_has_key (kf, g, base, NULL))
      return xd_cfg_fail (error, c, g, keys[i], "there is no %s", base);
  }
  return true;
}

static int
lun_cmp (const void *a, const void *b)
{
  const struct xd_lun_cfg *x = *(struct xd_lun_cfg *const *) a;
  const struct xd_lun_cfg *y = *(struct xd_lun_cfg *const *) b;

  return x->lun < y->lun ? -1 : x->lun > y->lun;
}

static bool
load_luns (GKeyFile *kf, const struct xd_config *c, const char *g,
           struct xd_target_cfg *t, uint32_t block_size, GError **error)
{
  g_auto (GStrv) keys = g_key_file_get_keys (kf, g, NULL, NULL);

  if (!check_lun_keys (kf, c, g, error))
    return false;
  for (size_t i = 0; keys && keys[i]; i++) {
    g_autofree char *v = NULL;
    struct xd_lun_cfg *l;
    guint64 n;
    char *end;

    if (!lun_key (keys[i]))
      continue;
    n = g_ascii_strtoull (keys[i] + 4, &end, 10);
    if (*end)
      continue;                 /* lun.N.SETTING: read with lun.N */
    l = g_new0 (struct xd_lun_cfg, 1);
    l->lun = (unsigned) n;
    g_ptr_array_add (t->luns, l);
    l->block_size = block_size;
    v = xd_cfg_string (kf, g, keys[i]);
    if (!lun_target (c, g, keys[i], v, l, error) ||
        !lun_settings (kf, c, g, l, error))
      return false;
  }
  if (t->luns->len == 0)
    return xd_cfg_fail (error, c, g, NULL, "no LUN (add lun.0 ="
                        " BACKEND/EXPORT)");
  g_ptr_array_sort (t->luns, lun_cmp);
  for (unsigned i = 1; i < t->luns->len; i++) {
    const struct xd_lun_cfg *l = t->luns->pdata[i];
    if (l->lun == ((const struct xd_lun_cfg *) t->luns->pdata[i - 1])->lun)
      return xd_cfg_fail (error, c, g, NULL, "LUN %u is given twice",
                          l->lun);
  }
  return true;
}

static bool
target_chap (GKeyFile *kf, const struct xd_config *c, const char *g,
             struct xd_target_cfg *t, GError **error)
{
  t->chap_user = xd_cfg_string (kf, g, "chap-user");
  t->chap_secret = xd_cfg_string (kf, g, "chap-secret");
  t->mutual_user = xd_cfg_string (kf, g, "mutual-user");
  t->mutual_secret = xd_cfg_string (kf, g, "mutual-secret");
  return xd_cfg_check_chap (c, g, "", t->chap_user, t->chap_secret,
                            t->mutual_user, t->mutual_secret, error);
}

static bool
target_acl (GKeyFile *kf, const struct xd_config *c, const char *g,
            struct xd_target_cfg *t, GError **error)
{
  t->acl = g_key_file_get_string_list (kf, g, "acl", NULL, NULL);
  for (size_t i = 0; t->acl && t->acl[i]; i++) {
    const char *why = iqn_problem (g_strstrip (t->acl[i]));
    if (why)
      return xd_cfg_fail (error, c, g, "acl", "initiator name '%s': %s",
                          t->acl[i], why);
  }
  return true;
}

bool
xd_cfg_load_target (GKeyFile *kf, struct xd_config *c, const char *g,
                    GError **error)
{
  struct xd_target_cfg *t = g_new0 (struct xd_target_cfg, 1);
  uint64_t tpgt = 1, workers = c->workers ? c->workers : 4, bs = 512;
  const char *why;

  t->iqn = g_strdup (g + strlen ("target:"));
  t->luns = g_ptr_array_new_with_free_func (lun_cfg_free);
  g_ptr_array_add (c->targets, t);
  if ((why = iqn_problem (t->iqn)))
    return xd_cfg_fail (error, c, g, NULL, "target name '%s': %s", t->iqn,
                        why);
  if (!xd_cfg_check_keys (kf, c, g, target_keys, lun_key, error) ||
      !xd_cfg_uint (kf, c, g, "tpgt", 1, 65535, &tpgt, error) ||
      !xd_cfg_uint (kf, c, g, "workers", 1, 256, &workers, error) ||
      !xd_cfg_uint (kf, c, g, "block-size", 512, 4096, &bs, error))
    return false;
  if (bs != 512 && bs != 4096)
    return xd_cfg_fail (error, c, g, "block-size", "%ju: must be 512 or"
                        " 4096", (uintmax_t) bs);
  t->tpgt = (uint16_t) tpgt;
  t->workers = (unsigned) workers;
  t->alias = xd_cfg_string (kf, g, "alias");
  return target_chap (kf, c, g, t, error) &&
    target_acl (kf, c, g, t, error) &&
    load_luns (kf, c, g, t, (uint32_t) bs, error);
}

void
xd_target_cfg_free (struct xd_target_cfg *t)
{
  if (t == NULL)
    return;
  g_ptr_array_unref (t->luns);
  g_strfreev (t->acl);
  g_free (t->iqn);
  g_free (t->alias);
  g_free (t->chap_user);
  g_free (t->chap_secret);
  g_free (t->mutual_user);
  g_free (t->mutual_secret);
  g_free (t);
}
