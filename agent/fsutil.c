// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/fsutil.h"
#include "agent/util.h"

int mkdir_p(const char *dir, mode_t mode)
{
	char p[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, dir, n + 1);
	for (char *c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*c = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* f's whole content, at most max bytes. */
static int read_stream(FILE *f, size_t max, char **buf, size_t *len)
{
	_cleanup_free_ char *b = NULL;
	size_t cap = 0, n = 0, r;

	errno = 0;
	for (;;) {
		size_t want;

		/* room for 8 KiB more and the NUL */
		if (GROW(b, cap, n + 8192 + 1, 8192 + 1) < 0)
			return -ENOMEM;
		/* one byte past the limit is enough to refuse the file */
		want = cap - n - 1;
		if (want > max + 1 - n)
			want = max + 1 - n;
		r = fread(b + n, 1, want, f);
		n += r;
		if (n > max)
			return -EFBIG;
		if (r == 0)
			break;
	}
	if (ferror(f))
		return errno ? -errno : -EIO;
	b[n] = 0;
	*len = n;
	*buf = TAKE_PTR(b);
	return 0;
}

int read_file_max(const char *path, size_t max, char **buf, size_t *len)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	return read_stream(f, max, buf, len);
}

int read_file(const char *path, char **buf, size_t *len)
{
	if (strcmp(path, "-") == 0)
		return read_stream(stdin, READ_FILE_MAX, buf, len);
	return read_file_max(path, READ_FILE_MAX, buf, len);
}

/* fsync the directory holding path (its last rename). */
static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, ret = 0;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if (snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int write_file_atomic(const char *path, const void *buf, size_t len)
{
	char tmp[PATH_MAX];
	const char *p = buf;
	int fd, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (fd < 0)
		return -errno;
	while (len && !ret) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno != EINTR)
			ret = -errno;
		else if (n > 0) {
			p += n;
			len -= (size_t)n;
		}
	}
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return ret;
	}
	return fsync_dir_of(path);
}
