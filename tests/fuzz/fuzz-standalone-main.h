/* xcopyd: main() for a fuzz target built without libFuzzer
 * (-DXCOPY_FUZZ_STANDALONE): each file named on the command line is run
 * once through LLVMFuzzerTestOneInput.  Included at the end of a target
 * that uses GLib.
 */
#ifndef XCOPY_FUZZ_STANDALONE_MAIN_H
#define XCOPY_FUZZ_STANDALONE_MAIN_H

#ifdef XCOPY_FUZZ_STANDALONE
#include <stdio.h>
#include <glib.h>

int
main (int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    g_autofree char *buf = NULL;
    gsize len;

    if (!g_file_get_contents (argv[i], &buf, &len, NULL)) {
      fprintf (stderr, "cannot read %s\n", argv[i]);
      return 1;
    }
    LLVMFuzzerTestOneInput ((const uint8_t *) buf, len);
  }
  return 0;
}
#endif

#endif /* XCOPY_FUZZ_STANDALONE_MAIN_H */
