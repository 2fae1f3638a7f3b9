/* xcopyd: the iSCSI server: targets, portals with their accept threads,
 * sessions, statistics and shutdown (the API of iscsi.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "iscsi-int.h"
#include "../scsi/be.h"

#define DEF_MAX_RECV_DSL 262144
#define DEF_MAX_BURST 1048576
#define DEF_FIRST_BURST 262144
#define DEF_WINDOW 128

static int
bad (GError **error, const char *fmt, const char *what)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, fmt, what);
  return -EINVAL;
}

/* ---- Configuration checks ---- */

/* RFC 3720 3.2.6 / RFC 3722: "iqn.", "eui." or "naa." names of at most
 * 223 bytes, printable, no spaces.
 */
static bool
name_ok (const char *n)
{
  size_t len = n ? strlen (n) : 0;

  if (len < 5 || len > 223)
    return false;
  if (g_ascii_strncasecmp (n, "iqn.", 4) && g_ascii_strncasecmp (n, "eui.", 4)
      && g_ascii_strncasecmp (n, "naa.", 4))
    return false;
  for (size_t i = 0; i < len; i++)
    if (!g_ascii_isgraph (n[i]))
      return false;
  return true;
}

static int
check_chap (const struct iscsi_chap *c, GError **error)
{
  size_t len;

  if (c->user == NULL)
    return c->mutual_user ? bad (error, "%s without CHAP user",
                                 "mutual CHAP") : 0;
  len = c->secret ? strlen (c->secret) : 0;
  if (len < 12 || len > 255)
    return bad (error, "CHAP secret of %s must have 12..255 bytes", c->user);
  if (c->mutual_user == NULL)
    return 0;
  len = c->mutual_secret ? strlen (c->mutual_secret) : 0;
  if (len < 12 || len > 255)
    return bad (error, "mutual CHAP secret of %s must have 12..255 bytes",
                c->mutual_user);
  /* RFC 7143 12.1.3: the two directions must use different secrets. */
  if (strcmp (c->secret, c->mutual_secret) == 0)
    return bad (error, "mutual CHAP secret of %s equals the CHAP secret",
                c->mutual_user);
  return 0;
}

static void
chap_copy (struct iscsi_chap *dst, const struct iscsi_chap *src)
{
  dst->user = g_strdup (src->user);
  dst->secret = g_strdup (src->secret);
  dst->mutual_user = g_strdup (src->mutual_user);
  dst->mutual_secret = g_strdup (src->mutual_secret);
}

static void
chap_free (struct iscsi_chap *c)
{
  g_free ((char *) c->user);
  g_free ((char *) c->secret);
  g_free ((char *) c->mutual_user);
  g_free ((char *) c->mutual_secret);
}

static void
tgt_free (gpointer p)
{
  struct iscsi_tgt *t = p;

  g_free (t->iqn);
  g_free (t->alias);
  g_strfreev (t->acl);
  chap_free (&t->chap);
  g_free (t);
}

static void
portal_free (gpointer p)
{
  struct iscsi_portal *pt = p;

  g_free (pt->addr);
  g_free (pt);
}

/* ---- Server ---- */

static struct iscsi_tgt *find_tgt (struct iscsi_server *s, const char *iqn);

static uint32_t
or_default (uint32_t v, uint32_t def)
{
  return v ? v : def;
}

int
iscsi_server_new (const struct iscsi_server_config *cfg,
                  struct iscsi_server **out, GError **error)
{
  static const struct iscsi_server_config zero;
  struct iscsi_server *s;
  int r;

  if (cfg == NULL)
    cfg = &zero;
  if ((cfg->max_recv_dsl && (cfg->max_recv_dsl < 512 ||
                             cfg->max_recv_dsl > 16777215)) ||
      (cfg->max_burst && (cfg->max_burst < 512 || cfg->max_burst > 16777215)) ||
      (cfg->first_burst && cfg->first_burst < 512))
    return bad (error, "%s out of range (512..16777215)", "iSCSI limit");
  if ((r = check_chap (&cfg->discovery_chap, error)) < 0)
    return r;
  s = g_new0 (struct iscsi_server, 1);
  s->offer = (struct iscsi_offer) {
    .max_recv_dsl = or_default (cfg->max_recv_dsl, DEF_MAX_RECV_DSL),
    .max_burst = or_default (cfg->max_burst, DEF_MAX_BURST),
    .first_burst = or_default (cfg->first_burst, DEF_FIRST_BURST),
    .initial_r2t = cfg->initial_r2t,
    .immediate_data = !cfg->no_immediate_data,
    .digests = !cfg->disable_digests,
  };
  s->offer.first_burst = MIN (s->offer.first_burst, s->offer.max_burst);
  s->max_cmdsn_window = or_default (cfg->max_cmdsn_window, DEF_WINDOW);
  s->nop_interval_s = cfg->nop_interval_s;
  s->nop_timeout_s = cfg->nop_timeout_s;
  chap_copy (&s->discovery_chap, &cfg->discovery_chap);
  s->env = (struct iscsi_login_env) {
    .lookup = iscsi_server_lookup,
    .discovery_chap = &s->discovery_chap,
    .offer = s->offer,
    .new_tsih = iscsi_server_new_tsih,
    .opaque = s,
  };
  pthread_mutex_init (&s->lock, NULL);
  pthread_cond_init (&s->changed, NULL);
  s->targets = g_ptr_array_new_with_free_func (tgt_free);
  s->portals = g_ptr_array_new_with_free_func (portal_free);
  s->wake[0] = s->wake[1] = -1;
  if (pipe2 (s->wake, O_CLOEXEC) < 0) {
    r = -errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r), "pipe: %s",
                 g_strerror (-r));
    iscsi_server_free (s, 0);
    return r;
  }
  *out = s;
  return 0;
}

int
iscsi_server_add_target (struct iscsi_server *s,
                         const struct iscsi_target_config *cfg,
                         GError **error)
{
  struct iscsi_tgt *t;
  int r;

  if (!name_ok (cfg->iqn))
    return bad (error, "bad target name \"%s\"", cfg->iqn ? cfg->iqn : "");
  if (cfg->scsi == NULL)
    return bad (error, "target %s has no SCSI target", cfg->iqn);
  if ((r = check_chap (&cfg->chap, error)) < 0)
    return r;
  pthread_mutex_lock (&s->lock);
  if (find_tgt (s, cfg->iqn) != NULL) {
    pthread_mutex_unlock (&s->lock);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                 "target %s already exists", cfg->iqn);
    return -EEXIST;
  }
  t = g_new0 (struct iscsi_tgt, 1);
  t->iqn = g_strdup (cfg->iqn);
  t->alias = g_strdup (cfg->alias);
  t->tpgt = cfg->tpgt ? cfg->tpgt : 1;
  t->scsi = cfg->scsi;
  if (cfg->acl && cfg->acl[0])
    t->acl = g_strdupv ((char **) cfg->acl);
  chap_copy (&t->chap, &cfg->chap);
  g_ptr_array_add (s->targets, t);
  pthread_mutex_unlock (&s->lock);
  return 0;
}

/* Targets are never removed while the server lives: a pointer found
 * here stays valid.
 */
struct iscsi_tgt *
iscsi_server_lookup (void *opaque, const char *iqn)
{
  struct iscsi_server *s = opaque;
  struct iscsi_tgt *t;

  pthread_mutex_lock (&s->lock);
  t = find_tgt (s, iqn);
  pthread_mutex_unlock (&s->lock);
  return t;
}

static struct iscsi_tgt *
find_tgt (struct iscsi_server *s, const char *iqn)
{
  for (guint i = 0; i < s->targets->len; i++) {
    struct iscsi_tgt *t = g_ptr_array_index (s->targets, i);
    if (g_ascii_strcasecmp (t->iqn, iqn) == 0)
      return t;
  }
  return NULL;
}

uint16_t
iscsi_server_new_tsih (void *opaque)
{
  struct iscsi_server *s = opaque;
  uint16_t t;

  pthread_mutex_lock (&s->lock);
  if (++s->next_tsih == 0)
    s->next_tsih = 1;
  t = s->next_tsih;
  pthread_mutex_unlock (&s->lock);
  return t;
}
