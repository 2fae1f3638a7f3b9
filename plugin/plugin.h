/* xcopyd: state shared by the source files of nbdkit-xcopy-plugin.
 *
 * xcopy.c     the nbdkit callbacks, parameters and the file= mode
 * exports.c   the dir= mode (one export per regular file in a directory)
 * files.c     the per-file registry that NBD connections and the control
 *             socket share: one open file, one range-lock table and one
 *             set of engine capability bits per image (per inode)
 * control.c, ctl-ops.c, ctl-long.c, jobs.c   the control socket
 *             (control.h; proto/PROTOCOL.md)
 */
#ifndef XCOPY_PLUGIN_H
#define XCOPY_PLUGIN_H

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "xcopy/engine.h"
#include "rangelock.h"

#define UNUSED __attribute__ ((unused))

#ifndef XCOPY_VERSION
#define XCOPY_VERSION "0.1.0"
#endif

/* Room for a message naming what failed ("copy.dst: no export 'x'"): the
 * size of the control protocol's error messages (xcopy_proto_err.msg).
 */
#define XMSG_SIZE 256

/* Counters of every engine operation this process ran, all exports and
 * both paths (NBD and control socket) together.
 */
extern struct xcopy_stats xcopy_plugin_stats;

/* xcopy.c: parameters other files need. */
const char *xcopy_filename (void);         /* file=, or NULL in dir= mode */
bool xcopy_readonly (void);                /* readonly=true */

/* exports.c: the dir= parameter.  Functions returning int fail with -1
 * after nbdkit_error and errno set, unless they say they return -errno.
 */
int exports_config_dir (const char *value);
const char *exports_dir (void);            /* NULL unless dir= was given */
int exports_dirfd (void);                  /* opened in .get_ready */
int exports_config_complete (void);
int exports_get_ready (void);
void exports_unload (void);
int exports_list (struct nbdkit_exports *exports);
const char *exports_default (void);        /* interned: connection context */
/* The default export's name into out (NAME_MAX + 1 bytes): 0 or -ENOENT. */
int exports_default_name (char *out);
/* Sorted export names (malloc'd array of malloc'd strings), or -errno. */
int exports_names (char ***names, size_t *n);
/* Open export name with open(2) flags: the fd, or -errno and msg. */
int exports_open (const char *name, int flags, char msg[XMSG_SIZE]);

/* ---- files.c: the per-file registry ----
 *
 * Every user of an image (an NBD connection, a control operation) holds a
 * reference to its struct xfile.  Entries are keyed by device and inode,
 * so two names or two opens of one file share one lock table: NBD writes
 * and control operations exclude each other (PROTOCOL.md §9) however they
 * named the file.  An entry is freed with its last reference.
 */
struct xfile_caps;

struct xfile {
  struct xfile *next;             /* registry list (registry lock) */
  dev_t dev;
  ino_t ino;
  unsigned refs;                  /* registry lock */
  _Atomic int fd_ro, fd_rw;       /* -1 until opened that way; then fixed */
  bool can_extents;               /* lseek(SEEK_DATA) works */
  uint32_t blksize;               /* st_blksize if a sane power of 2, else 0 */
  struct rangelock locks;         /* §9.1 byte-range locks */
  struct xcopy_pair pair;         /* same-file operations: fds = fd_rw */
  struct xfile_caps *caps;        /* cross-file copies: caps per destination */
};

/* Open export name (dir= mode: a file of the directory, "" the default;
 * file= mode: any name is the file) for reading, or for writing too, and
 * take a reference.  0, or -errno with msg saying why (naming the export).
 */
int files_open (const char *name, bool write, struct xfile **fp,
                char msg[XMSG_SIZE]);
void files_put (struct xfile *f);
/* The descriptor to read with (read-write if open so, else read-only). */
int files_fd (struct xfile *f);
/* Capability bits the engine learnt copying from src to dst (dst != src),
 * kept as long as src lives.
 */
_Atomic unsigned *files_pair_caps (struct xfile *src, struct xfile *dst);
/* The current size: 0 or -errno. */
int files_size (struct xfile *f, uint64_t *size);
/* The next boundary after off (< end): *hole says whether [off, *next) is
 * a hole.  0 or -errno.
 */
int files_next_extent (int fd, uint64_t off, uint64_t end, bool *hole,
                       uint64_t *next);
/* The directory entry an export name stands for (out: NAME_MAX + 1
 * bytes): dir= mode resolves "" to the default export; file= mode gives
 * the file's base name.  0 or -errno with msg.
 */
int files_entry_name (const char *name, char *out, char msg[XMSG_SIZE]);
/* The directory CLONE creates files in: dir=, or the directory of file=. */
int files_dirfd (void);
int files_get_ready (void);
void files_unload (void);

/* ---- control.c: the control socket (PROTOCOL.md) ---- */
int control_config_path (const char *value);
int control_config_group (const char *value);
int control_config_complete (void);
int control_get_ready (void);             /* create and bind, before fork */
int control_after_fork (void);            /* start the threads */
void control_cleanup (void);              /* stop the threads */
void control_unload (void);               /* remove the socket */

#endif /* XCOPY_PLUGIN_H */
