/* xcopyd: default system-call table (see sys.h). */
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/fs.h>

#include "sys.h"

static int
real_clone_range (int src_fd, uint64_t src_off, uint64_t len,
                  int dst_fd, uint64_t dst_off)
{
  struct file_clone_range fcr = {
    .src_fd = src_fd,
    .src_offset = src_off,
    .src_length = len,
    .dest_offset = dst_off,
  };

  return ioctl (dst_fd, FICLONERANGE, &fcr);
}

/* Spelled out twice (not copied from a const object) so the initialiser is
 * a constant expression for every compiler, clang included.
 */
#define REAL_SYS {                              \
  .copy_file_range = copy_file_range,           \
  .clone_range = real_clone_range,              \
  .splice = splice,                             \
  .pread = pread,                               \
  .pwrite = pwrite,                             \
  .fallocate = fallocate,                       \
  .lseek = lseek,                               \
  .fstat = fstat,                               \
  .fdatasync = fdatasync,                       \
}

static const struct xcopy_sys real_sys = REAL_SYS;

struct xcopy_sys xcopy_sys = REAL_SYS;

void
xcopy_sys_reset (void)
{
  xcopy_sys = real_sys;
}
