/* xcopyd: state shared by the source files of nbdkit-xcopy-plugin.
 *
 * xcopy.c holds the nbdkit callbacks and the file= mode; exports.c holds
 * the dir= mode (one export per regular file in a directory).
 */
#ifndef XCOPY_PLUGIN_H
#define XCOPY_PLUGIN_H

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "xcopy/engine.h"

#define UNUSED __attribute__ ((unused))

#ifndef XCOPY_VERSION
#define XCOPY_VERSION "0.1.0"
#endif

/* Counters of every engine operation this process ran, all exports
 * together.  (The control socket will report them.)
 */
extern struct xcopy_stats xcopy_plugin_stats;

/* exports.c: the dir= parameter.  Each function that fails has already
 * called nbdkit_error and left errno set.
 */
int exports_config_dir (const char *value);
const char *exports_dir (void);            /* NULL unless dir= was given */
int exports_config_complete (void);
int exports_get_ready (void);
void exports_unload (void);
int exports_list (struct nbdkit_exports *exports);
const char *exports_default (void);
int exports_open (const char *name, int flags);

#endif /* XCOPY_PLUGIN_H */
