/* xcopyd: the engine's replaceable system-call layer.
 *
 * Every system call the engine makes goes through xcopy_sys, so unit tests
 * can inject short copies, zero returns and errors (ENOSPC, EIO, EXDEV, ...)
 * at exact points.  Production code never changes it.
 */
#ifndef XCOPY_SYS_H
#define XCOPY_SYS_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/stat.h>

struct xcopy_sys {
  ssize_t (*copy_file_range) (int fd_in, off_t *off_in, int fd_out,
                              off_t *off_out, size_t len, unsigned flags);
  /* FICLONERANGE: returns 0 or -1 with errno. */
  int (*clone_range) (int src_fd, uint64_t src_off, uint64_t len,
                      int dst_fd, uint64_t dst_off);
  ssize_t (*splice) (int fd_in, off_t *off_in, int fd_out, off_t *off_out,
                     size_t len, unsigned flags);
  ssize_t (*pread) (int fd, void *buf, size_t count, off_t off);
  ssize_t (*pwrite) (int fd, const void *buf, size_t count, off_t off);
  int (*fallocate) (int fd, int mode, off_t off, off_t len);
  off_t (*lseek) (int fd, off_t off, int whence);
  int (*fstat) (int fd, struct stat *st);
  int (*fdatasync) (int fd);
};

/* The table in use.  Tests may overwrite members and must restore them
 * with xcopy_sys_reset().
 */
extern struct xcopy_sys xcopy_sys;
void xcopy_sys_reset (void);

#endif /* XCOPY_SYS_H */
