/* xcopyd: the management socket's commands (mgmt-cmds.c), for mgmt.c. */
#ifndef XCOPYD_MGMT_H
#define XCOPYD_MGMT_H

#include <json-glib/json-glib.h>

#include "xcopyd.h"

/* The reply to one request line: {"ok":true,...} or
 * {"ok":false,"error":"..."}.
 */
JsonNode *xd_mgmt_run (struct xd_daemon *d, const char *line);
JsonNode *xd_mgmt_error (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

#endif /* XCOPYD_MGMT_H */
