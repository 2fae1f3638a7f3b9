/* xcopyd: scope-cleanup helpers for code that cannot use glib. */
#ifndef XCOPY_CLEANUP_H
#define XCOPY_CLEANUP_H

#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_free (void *p) { free (*(void **) p); }
static inline void
cleanup_close (int *fd)
{
  if (*fd >= 0)
    close (*fd);
}

#define CLEANUP_FREE  __attribute__ ((cleanup (cleanup_free)))
#define CLEANUP_CLOSE __attribute__ ((cleanup (cleanup_close)))

#endif
