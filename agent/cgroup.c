// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <pwd.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "agent/cgroup.h"

int cgroup_find_mount(char *buf, size_t len)
{
	struct mntent *m;
	FILE *f;
	int ret = -ENOENT;

	f = setmntent("/proc/self/mounts", "r");
	if (!f)
		return -errno;
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_type, "cgroup2") == 0) {
			if (strlen(m->mnt_dir) >= len) {
				ret = -ENAMETOOLONG;
				break;
			}
			strcpy(buf, m->mnt_dir);
			ret = 0;
			break;
		}
	}
	endmntent(f);
	return ret;
}

int cgroup_id_of(const char *path, uint64_t *id)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*id = st.st_ino;
	return 0;
}

int cgroup_resolve(const char *in, char *out, size_t len)
{
	char tmp[PATH_MAX];
	struct statfs sf;

	if (!realpath(in, tmp))
		return -errno;
	if (statfs(tmp, &sf) < 0)
		return -errno;
	if (sf.f_type != CGROUP2_SUPER_MAGIC)
		return -EMEDIUMTYPE;
	if (strlen(tmp) >= len)
		return -ENAMETOOLONG;
	strcpy(out, tmp);
	return 0;
}

int cgroup_self_path(char *buf, size_t len)
{
	char mnt[PATH_MAX], line[PATH_MAX + 32];
	int ret = -ENOENT;
	FILE *f;

	ret = cgroup_find_mount(mnt, sizeof(mnt));
	if (ret < 0)
		return ret;
	f = fopen("/proc/self/cgroup", "r");
	if (!f)
		return -errno;
	ret = -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "0::", 3) == 0) {
			const char *rel = line + 3;

			if (snprintf(buf, len, "%s%s", mnt, strcmp(rel, "/") == 0 ? "" : rel) >=
			    (int)len)
				ret = -ENAMETOOLONG;
			else
				ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

int cgroup_is_root(const char *path)
{
	char mnt[PATH_MAX], a[PATH_MAX], b[PATH_MAX];

	if (cgroup_find_mount(mnt, sizeof(mnt)) < 0)
		return 0;
	if (!realpath(mnt, a) || !realpath(path, b))
		return 0;
	return strcmp(a, b) == 0;
}

int cgroup_populated(const char *path)
{
	char p[PATH_MAX], line[128];
	int pop = 0;
	FILE *f;

	snprintf(p, sizeof(p), "%s/cgroup.events", path);
	f = fopen(p, "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "populated ", 10) == 0)
			pop = atoi(line + 10);
	fclose(f);
	return pop;
}

/* rmdir children depth-first, then path itself. */
static int rmdir_tree(const char *path)
{
	struct dirent *de;
	int ret = 0;
	DIR *d;

	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char sub[PATH_MAX];

		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub))
			continue;
		if (rmdir_tree(sub) < 0)
			ret = -errno;
	}
	closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT)
		ret = -errno;
	return ret;
}

int cgroup_destroy(const char *path, int timeout_ms)
{
	char p[PATH_MAX];
	struct timespec ts = {0, 5 * 1000 * 1000};
	int fd, waited = 0;

	snprintf(p, sizeof(p), "%s/cgroup.kill", path);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		close(fd);
	} else if (errno == ENOENT) {
		if (access(path, F_OK) < 0)
			return 0; /* already gone */
		return -ENOSYS;	  /* kernel without cgroup.kill (< 5.14) */
	} else {
		return -errno;
	}
	while (cgroup_populated(path) > 0) {
		if (waited >= timeout_ms)
			return -EBUSY;
		nanosleep(&ts, NULL);
		waited += 5;
	}
	return rmdir_tree(path);
}

/* ---- id -> path in O(1): kernfs file handles ---- */

#define FILEID_KERNFS 0xfe

int cgroup_path_by_handle(uint64_t id, char *buf, size_t len)
{
	static int mnt_fd = -1;
	static char mnt[PATH_MAX];
	char storage[sizeof(struct file_handle) + sizeof(uint64_t)];
	struct file_handle *fh = (struct file_handle *)storage;
	char link[64], full[PATH_MAX];
	size_t ml;
	ssize_t n;
	int fd;

	if (mnt_fd < 0) {
		if (cgroup_find_mount(mnt, sizeof(mnt)) < 0)
			return -ENOENT;
		mnt_fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (mnt_fd < 0)
			return -errno;
	}
	fh->handle_bytes = sizeof(uint64_t);
	fh->handle_type = FILEID_KERNFS;
	memcpy(fh->f_handle, &id, sizeof(id));
	fd = open_by_handle_at(mnt_fd, fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno; /* ESTALE: the cgroup is gone; EPERM: need CAP_DAC_READ_SEARCH */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, full, sizeof(full) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	full[n] = 0;
	/* Relative to the mount, as /proc/PID/cgroup shows it. */
	ml = strlen(mnt);
	if (strncmp(full, mnt, ml) == 0)
		snprintf(buf, len, "%s", full[ml] ? full + ml : "/");
	else
		snprintf(buf, len, "%s", full);
	return 0;
}

/* ---- who may move processes ---- */

/* path (a directory or a cgroup interface file) writable by a non-root
 * uid: fills why. */
static bool writable_by_others(const char *path, char *why, size_t len)
{
	struct passwd *pw;
	struct stat st;

	if (stat(path, &st) < 0)
		return false; /* cgroup.threads: absent before Linux 4.14 */
	if (st.st_uid == 0 && !(st.st_mode & (S_IWGRP | S_IWOTH)))
		return false;
	pw = getpwuid(st.st_uid);
	snprintf(why, len, "%s (owner uid %u%s%s, group %u, mode %04o)", path, (unsigned)st.st_uid,
		 pw ? " " : "", pw ? pw->pw_name : "", (unsigned)st.st_gid,
		 (unsigned)(st.st_mode & 07777));
	return true;
}

int cgroup_check_root_only(const char *dir, char *why, size_t len)
{
	static const char *const files[] = {"", "/cgroup.procs", "/cgroup.threads"};
	char mnt[PATH_MAX], root[PATH_MAX], p[PATH_MAX + 32];
	size_t rl;
	int ret;

	ret = cgroup_find_mount(mnt, sizeof(mnt));
	if (ret)
		return ret;
	if (!realpath(mnt, root))
		return -errno;
	rl = strlen(root);
	if (strncmp(dir, root, rl) != 0 || (dir[rl] != '/' && dir[rl] != 0))
		return -EXDEV;
	/* Each prefix of dir that ends at a '/' or at its end, root first. */
	for (size_t end = rl;; end++) {
		if (dir[end] == '/' || dir[end] == 0) {
			for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
				snprintf(p, sizeof(p), "%.*s%s", (int)end, dir, files[i]);
				if (writable_by_others(p[0] ? p : "/", why, len))
					return -EPERM;
			}
		}
		if (!dir[end])
			break;
	}
	return 0;
}

int cgroup_nsdelegate(void)
{
	struct mntent *m;
	FILE *f;
	int ret = 0;

	f = setmntent("/proc/self/mounts", "r");
	if (!f)
		return 0;
	while ((m = getmntent(f)))
		if (strcmp(m->mnt_type, "cgroup2") == 0) {
			ret = hasmntopt(m, "nsdelegate") != NULL;
			break;
		}
	endmntent(f);
	return ret;
}
