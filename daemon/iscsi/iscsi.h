/* xcopyd: the iSCSI target transport (RFC 7143) over the SCSI library.
 *
 * Design note
 * -----------
 * An iscsi_server owns listening portals and the sessions that log in
 * through them.  It serves targets: each is an IQN, the scsi_target that
 * holds its LUs (daemon/scsi/scsi.h), an initiator ACL and CHAP secrets.
 * The server does not own the scsi_targets: the daemon creates them, maps
 * LUs into them and frees them after iscsi_server_free().
 *
 * Threads: one accept thread per server, one reader thread per connection.
 * A reader parses PDUs, runs login and text negotiation itself, and hands
 * SCSI commands to scsi_submit() once their data-out is complete; the
 * completion (on a SCSI worker) sends Data-In and the SCSI Response under
 * the connection's send lock.  Nothing here runs on the daemon's GLib
 * main loop, so a slow disk or a slow initiator never stalls it.
 *
 * Each session is one I_T nexus (scsi_nexus_new with the initiator port
 * name "<InitiatorName>,i,0x<ISID>" and the target port
 * "<TargetName>,t,0x<TPGT>"); the nexus is freed when the session's last
 * connection goes away.
 *
 * Conventions: functions return 0 or -errno and, where they take one, fill
 * a GError with a message naming the offending field or key.
 */
#ifndef XCOPY_ISCSI_H
#define XCOPY_ISCSI_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "../scsi/scsi.h"

#define ISCSI_DEFAULT_PORT 3260

struct iscsi_server;

/* CHAP credentials (RFC 7143 12.1.3).  A NULL user means "not required". */
struct iscsi_chap {
  const char *user;             /* CHAP_N the initiator must send */
  const char *secret;           /* 12..255 bytes (RFC 7143 12.1.3: >= 96 bits) */
  const char *mutual_user;      /* our CHAP_N for mutual CHAP; NULL: none */
  const char *mutual_secret;    /* must differ from secret */
};

struct iscsi_target_config {
  const char *iqn;              /* iqn.* / eui.* / naa.* name (RFC 3722 rules) */
  const char *alias;            /* TargetAlias; may be NULL */
  uint16_t tpgt;                /* target portal group tag; 0: 1 */
  struct scsi_target *scsi;     /* LUs; borrowed, must outlive the server */
  /* Initiator names allowed to log in; NULL or empty: any initiator. */
  const char *const *acl;
  struct iscsi_chap chap;
};

/* Limits this target offers in operational negotiation (RFC 7143 13);
 * 0 picks the default in brackets.
 */
struct iscsi_server_config {
  uint32_t max_recv_dsl;        /* our MaxRecvDataSegmentLength [262144] */
  uint32_t max_burst;           /* MaxBurstLength [1048576] */
  uint32_t first_burst;         /* FirstBurstLength [262144] */
  uint32_t max_cmdsn_window;    /* commands queued per session [128] */
  bool initial_r2t;             /* offer InitialR2T=Yes [No] */
  bool no_immediate_data;       /* offer ImmediateData=No [Yes] */
  bool allow_digests;           /* accept CRC32C digests when asked [true
                                 * unless disable_digests] */
  bool disable_digests;
  /* Keepalive: a connection that brought nothing for nop_interval_s gets
   * a NOP-In ping; when nothing comes within nop_timeout_s after it, the
   * initiator is taken for gone and the connection closed.  0: off.
   */
  unsigned nop_interval_s, nop_timeout_s;
  /* Discovery sessions: CHAP for SendTargets (NULL user: none). */
  struct iscsi_chap discovery_chap;
};

/* Create a server (no portals yet).  -EINVAL with *error set. */
int iscsi_server_new (const struct iscsi_server_config *cfg,
                      struct iscsi_server **out, GError **error);

/* Add a target; copies every string.  -EEXIST (same IQN), -EINVAL (a bad
 * name, a secret too short or equal to the mutual one).
 */
int iscsi_server_add_target (struct iscsi_server *s,
                             const struct iscsi_target_config *cfg,
                             GError **error);

/* Listen on addr:port ("127.0.0.1", "::1", "0.0.0.0", "[::]"; port 0
 * picks one, see iscsi_server_portal_port).  The portal is announced in
 * SendTargets as TargetAddress=addr:port,tpgt.  Starts accepting at once.
 */
int iscsi_server_add_portal (struct iscsi_server *s, const char *addr,
                             uint16_t port, GError **error);
/* The port of portal i (in order of adding), or 0. */
uint16_t iscsi_server_portal_port (const struct iscsi_server *s, unsigned i);

/* Close portals, log every session out (Async Message, then drop after a
 * grace period of at most grace_ms), wait for commands to finish and free
 * everything.  The scsi_targets stay.
 */
void iscsi_server_free (struct iscsi_server *s, unsigned grace_ms);

/* ---- For the management socket ---- */

struct iscsi_session_info {
  uint64_t tsih;
  char initiator[224];          /* InitiatorName */
  char isid[13];                /* 12 hex digits */
  char target[224];             /* TargetName, "" for discovery */
  unsigned connections;
  bool header_digest, data_digest;
  uint64_t commands, bytes_in, bytes_out;  /* since login */
};

/* Call fn for every session, under the server lock (fn must not call back
 * into the server).
 */
void iscsi_server_foreach_session (struct iscsi_server *s,
                                   void (*fn) (void *opaque,
                                               const struct iscsi_session_info *i),
                                   void *opaque);

struct iscsi_server_stats {
  uint64_t logins, login_failures, sessions, connections;
  uint64_t commands, pdus_rejected, digest_errors;
  uint64_t nop_timeouts;          /* connections closed by keepalive */
};
void iscsi_server_stats (struct iscsi_server *s, struct iscsi_server_stats *out);

/* Drop every session logged in to iqn (the daemon does this while a
 * target's backend is down); they may log in again.  Number dropped.
 */
unsigned iscsi_server_drop_sessions (struct iscsi_server *s, const char *iqn);

#endif /* XCOPY_ISCSI_H */
