/* xcopyd: atomic whole-file clone (the control protocol's CLONE).
 *
 * Nothing may ever see a partial destination, neither by race nor by crash
 * (issue 3).  So the copy is made in a file that has no name yet, made
 * durable, and only then given its name in one step:
 *
 *   1. O_TMPFILE in the destination directory (same file system, so the
 *      final step is a link or rename, never a copy), mode 0600 or the
 *      source's permission bits;
 *   2. ftruncate to the source size, then one engine range over the whole
 *      file (xcopy_copyv_ctl): reflink where possible, holes kept (DESIGN
 *      invariant 4);
 *   3. fsync the file: a name must never point at data still in flight;
 *   4. without XCOPY_CLONE_REPLACE: linkat() to the name, which fails with
 *      EEXIST if the name appeared meanwhile — never replaces anything;
 *      with it: link under a unique hidden name in the same directory, then
 *      rename() over the target (atomic: readers see the old or the new
 *      file, and whoever holds the old one open keeps reading old data);
 *   5. fsync the directory, so the new name survives a power cut.
 *
 * Where the file system has no O_TMPFILE (EOPNOTSUPP, or EISDIR from an
 * old kernel), or with XCOPY_CLONE_NAMED_TEMP, step 1 creates a hidden
 * name ".NAME.xcopy-XXXXXXXXXXXXXXXX" with O_EXCL instead; it is unlinked
 * on every failure, and step 4 renames it (RENAME_NOREPLACE, or link and
 * unlink).  A crash (kill -9, power) during steps 1-4 can then leave that
 * hidden file behind — but never a partial file under the destination
 * name.  With O_TMPFILE a crash leaves nothing at all.
 *
 * The caller keeps the source from changing during the clone (the plugin
 * holds a shared range lock over the whole export, see rangelock.h).
 */
#ifndef XCOPY_CLONE_H
#define XCOPY_CLONE_H

#include "xcopy/engine.h"

/* Flags: engine copy flags that make sense for a whole-file copy, plus
 * the clone's own.  Anything else is refused with -EINVAL.
 */
#define XCOPY_CLONE_COPY_FLAGS \
  (XCOPY_F_ALLOCATE | XCOPY_F_NO_REFLINK | XCOPY_F_NO_CFR | XCOPY_F_NO_SPLICE)
#define XCOPY_CLONE_REPLACE     (1u << 16) /* atomically replace dst_name */
#define XCOPY_CLONE_SOURCE_MODE (1u << 17) /* source's rwx bits, not 0600 */
#define XCOPY_CLONE_NAMED_TEMP  (1u << 18) /* no O_TMPFILE (tests; odd FSes) */
#define XCOPY_CLONE_VALID \
  (XCOPY_CLONE_COPY_FLAGS | XCOPY_CLONE_REPLACE | XCOPY_CLONE_SOURCE_MODE \
   | XCOPY_CLONE_NAMED_TEMP)

/* Set in res->flags once the destination name is in place (complete and
 * fsynced), even when the final directory fsync then failed.
 */
#define XCOPY_CLONE_RESULT_LINKED (1u << 8)

/* Is name one directory entry we may create?  0, -EINVAL (empty, ".",
 * "..", contains '/'), -ENAMETOOLONG (over NAME_MAX bytes).
 */
int xcopy_clone_check_name (const char *name);

/* Copy the whole of src_fd (a regular file) into a new file dst_name in
 * the directory dst_dirfd (or AT_FDCWD).  Counters land in *stats (may be
 * NULL).  ctl (may be NULL) lets a job runner watch bytes done (of the
 * source size) and cancel: the copy stops at the next piece boundary (see
 * xcopy_copyv_ctl), a cancel seen after the copy still stops the clone
 * before its name appears; either way -ECANCELED and nothing is left.
 * *res (may be NULL) reports like a batch of one range [0, size):
 *   - refusals touch nothing, failed_index = SIZE_MAX:
 *       -EINVAL        unknown flags, a bad name, a source that is not a
 *                      regular file
 *       -ENAMETOOLONG  name over NAME_MAX
 *       -EEXIST        dst_name exists (without XCOPY_CLONE_REPLACE)
 *       -EISDIR        dst_name is a directory (with it)
 *   - any later failure names range 0 (failed_index 0): creating the
 *     temporary file (failed_done 0); the copy (-ENOSPC, -EIO, ...: the
 *     engine's exact progress); after the copy (fsync, link, rename,
 *     -ECANCELED, or -EEXIST when the name appeared meanwhile:
 *     failed_done = bytes_done = size).  Either way the destination name
 *     is untouched (absent, or still the old file) and no temporary file
 *     remains.
 *   - success: 0, ranges_done = 1, bytes_done = size, and
 *     XCOPY_CLONE_RESULT_LINKED; a failure of the final directory fsync
 *     returns its -errno with the same fields (the file is in place and
 *     complete, only its name's durability is unknown).
 */
int xcopy_clone (int src_fd, int dst_dirfd, const char *dst_name,
                 unsigned flags, struct xcopy_stats *stats,
                 struct xcopy_ctl *ctl, struct xcopy_result *res);

#endif /* XCOPY_CLONE_H */
