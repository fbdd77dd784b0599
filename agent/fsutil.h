/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* File-system helpers: make a directory with its parents, read a whole file,
 * replace a file atomically. */
#ifndef HUSH_AGENT_FSUTIL_H
#define HUSH_AGENT_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* The most read_file() reads. */
#define READ_FILE_MAX (64u << 20)

/* mkdir -p: missing parents with mode 0755, dir itself with mode (an
 * existing one is left as it is).  0 or -errno (-ENAMETOOLONG past PATH_MAX). */
int mkdir_p(const char *dir, mode_t mode);

/* The whole of path ("-": standard input) into *buf (malloc'ed, with a NUL
 * after the *len bytes).  0, -errno of open, -errno of a failed read (-EIO
 * if it set none), -ENOMEM, or -EFBIG past READ_FILE_MAX; *buf and *len are
 * set only on success. */
int read_file(const char *path, char **buf, size_t *len);
/* The same with a limit of max bytes, path always a file name ("-" too). */
int read_file_max(const char *path, size_t max, char **buf, size_t *len);

/* Replace path with len bytes of buf, atomically: written to path.tmp.PID
 * (mode 0666 less the umask), fsync'ed, renamed over path, and the
 * directory fsync'ed, so after a crash path holds the old or the new
 * contents, whole.  0 or -errno (nothing of the temporary file left). */
int write_file_atomic(const char *path, const void *buf, size_t len);

#endif /* HUSH_AGENT_FSUTIL_H */
