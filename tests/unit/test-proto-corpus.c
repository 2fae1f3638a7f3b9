/* xcopyd: the fuzz seed corpus of fuzz-proto-decode, kept in sync.
 *
 * tests/fuzz/corpus/proto-decode/ holds one file per sample message of
 * proto-samples.c, byte for byte what the codec encodes today.  This test
 * fails when a file is missing, differs or no longer decodes; it is also
 * the generator:
 *
 *   XCOPY_REGEN_CORPUS=1 build/tests/unit/test-proto-corpus
 *
 * rewrites the directory (run from the top of the tree, or set TOP).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "harness.h"
#include "proto-samples.h"

static const char *
corpus_dir (void)
{
  static char path[4096];
  const char *top = getenv ("TOP");

  snprintf (path, sizeof path, "%s/tests/fuzz/corpus/proto-decode",
            top && *top ? top : ".");
  return path;
}

static bool
regen (void)
{
  const char *v = getenv ("XCOPY_REGEN_CORPUS");

  return v && strcmp (v, "1") == 0;
}

static void
write_file (const char *path, const void *p, size_t n)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

  SYS_OK (fd);
  h_pwrite_all (fd, p, n, 0);
  h_close (fd);
}

/* The file's bytes, or NULL when it does not exist. */
static unsigned char *
read_path (const char *path, uint64_t *n)
{
  int fd = open (path, O_RDONLY);
  unsigned char *p;

  if (fd == -1)
    return NULL;
  p = h_read_file (fd, n);
  h_close (fd);
  return p;
}

static void
corpus_matches_samples (void)
{
  const struct proto_sample *s;
  size_t n = proto_samples (&s);
  const char *dir = corpus_dir ();
  char path[4096 + 512];

  if (regen ())
    SYS_OK (mkdir (dir, 0755) == -1 && errno != EEXIST ? -1 : 0);
  else if (access (dir, F_OK) == -1)
    h_skip ("%s not found (run from the top of the tree or set TOP)", dir);
  for (size_t i = 0; i < n; i++) {
    struct xcopy_wbuf w;
    unsigned char *have;
    uint64_t len;

    proto_sample_encode (&s[i], &w);
    snprintf (path, sizeof path, "%s/%s", dir, s[i].name);
    if (regen ())
      write_file (path, w.data, w.len);
    have = read_path (path, &len);
    if (have == NULL)
      h_fail (__FILE__, __LINE__, "%s: missing (regenerate: see the top of"
              " this file)", path);
    else if (len != w.len || memcmp (have, w.data, w.len) != 0)
      h_fail (__FILE__, __LINE__, "%s: differs from today's encoding", path);
    free (have);
    xcopy_wbuf_free (&w);
  }
  h_note ("%zu seed files in %s", n, dir);
}

/* Every file in the directory is a valid frame (seeds are valid
 * encodings: the fuzzer mutates from there).
 */
static void
corpus_files_decode (void)
{
  const char *dir = corpus_dir ();
  DIR *d = opendir (dir);
  struct dirent *de;
  char path[4096 + 512];
  unsigned files = 0;

  if (d == NULL)
    h_skip ("%s: %m", dir);
  while ((de = readdir (d)) != NULL) {
    struct xcopy_proto_request q;
    struct xcopy_proto_reply p;
    struct xcopy_proto_err e;
    unsigned char *b;
    uint64_t n;
    int r;

    if (de->d_name[0] == '.')
      continue;
    snprintf (path, sizeof path, "%s/%s", dir, de->d_name);
    REQUIRE ((b = read_path (path, &n)) != NULL);
    if (n >= 4 && get_le32 (b) == XCOPY_PROTO_REPLY_MAGIC) {
      r = xcopy_proto_decode_reply_frame (b, n, &p, &e);
      if (r == 0)
        xcopy_proto_reply_free (&p);
    }
    else {
      r = xcopy_proto_decode_request_frame (b, n, &q, &e);
      if (r == 0)
        xcopy_proto_request_free (&q);
    }
    if (r)
      h_fail (__FILE__, __LINE__, "%s: %s", path, e.msg);
    free (b);
    files++;
  }
  closedir (d);
  CHECK_U64 (files, >=, 24);
}

static const struct h_test tests[] = {
  H_TEST (corpus_matches_samples),
  H_TEST (corpus_files_decode),
};

int
main (int argc, char **argv)
{
  return H_MAIN (argc, argv, tests);
}
