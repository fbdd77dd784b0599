// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Is a process inside enforcement?  (contain.h says what "inside" means.) */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "agent/guard.h"
#include "rules/policy.h"

int guard_cgroup_of(pid_t pid, char *rel, size_t len)
{
	char p[64], line[PATH_MAX + 32];
	int ret = -ENOENT;
	FILE *f;

	if (pid)
		snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
	else
		snprintf(p, sizeof(p), "/proc/self/cgroup");
	f = fopen(p, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "0::", 3) != 0)
			continue;
		/* "/.." first: the cgroup lies outside our cgroup namespace. */
		if (line[3] != '/' || strncmp(line + 3, "/..", 3) == 0)
			ret = -EXDEV;
		else
			ret = snprintf(rel, len, "%s", line + 3) >= (int)len ? -ENAMETOOLONG : 0;
		break;
	}
	fclose(f);
	return ret;
}

/* The enforced cgroup among path and its ancestors down to the mount: 1
 * (hit names it), 0 (none is), or -errno. */
static int walk_up(const char *mnt, char *path, uint64_t id, char *hit, size_t hitlen)
{
	size_t ml = strlen(mnt);

	for (;;) {
		uint64_t x;
		char *slash;
		int ret = cgroup_id_of(path, &x);

		if (ret)
			return ret;
		if (x == id) {
			snprintf(hit, hitlen, "%s", path);
			return 1;
		}
		slash = strrchr(path, '/');
		if (strlen(path) <= ml || !slash || (size_t)(slash - path) < ml)
			return 0;
		*slash = 0;
	}
}

/* Host-wide: the policy scope whose cgroup holds rel ("/a/b"), or NULL. */
static const char *scope_of(const struct policy *pol, const char *rel)
{
	for (size_t i = 1; pol && i < pol->nscopes; i++) {
		const char *s = pol->scopes[i].path;
		size_t n = strlen(s);

		if (n && strncmp(rel + 1, s, n) == 0 && (rel[1 + n] == 0 || rel[1 + n] == '/'))
			return s;
	}
	return NULL;
}

/* Whether the process behind pidfd is still the one looked at. */
static bool pidfd_alive(int pidfd)
{
	return pidfd < 0 || syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
}

int guard_check(pid_t pid, int pidfd, uint64_t enforced_id, const struct policy *pol, char *why,
		size_t len)
{
	char mnt[PATH_MAX / 2], rel[PATH_MAX / 2], path[PATH_MAX], hit[PATH_MAX], who[48];
	const char *scope;
	uint64_t root_id;
	int ret;

	if (pid)
		snprintf(who, sizeof(who), "the asking process (pid %d)", (int)pid);
	else
		snprintf(who, sizeof(who), "this process (pid %d)", (int)getpid());
	why[0] = 0;
	ret = cgroup_find_mount(mnt, sizeof(mnt));
	if (!ret)
		ret = cgroup_id_of(mnt, &root_id);
	if (ret) {
		snprintf(why, len, "cannot find the cgroup2 mount: %s", strerror(-ret));
		return ret;
	}
	ret = guard_cgroup_of(pid, rel, sizeof(rel));
	if (!ret && !pidfd_alive(pidfd))
		ret = -ESRCH;
	if (ret) {
		snprintf(why, len, "cannot tell in which cgroup %s runs: %s", who,
			 ret == -EXDEV	 ? "outside this cgroup namespace"
			 : ret == -ESRCH ? "it exited"
					 : strerror(-ret));
		return ret;
	}
	if (enforced_id == root_id) {
		/* Host-wide: every process is inside; scopes decide. */
		scope = scope_of(pol, rel);
		if (!scope)
			return 0;
		snprintf(why, len,
			 "%s runs in cgroup %s%s, inside scope %s of the policy hushd enforces on "
			 "the whole host",
			 who, mnt, rel, scope);
		return 1;
	}
	snprintf(path, sizeof(path), "%s%s", mnt, strcmp(rel, "/") ? rel : "");
	ret = walk_up(mnt, path, enforced_id, hit, sizeof(hit));
	if (ret < 0) {
		snprintf(why, len, "cannot tell in which cgroup %s runs: %s%s: %s", who, mnt, rel,
			 strerror(-ret));
		return ret;
	}
	if (ret)
		snprintf(why, len, "%s runs inside the enforced cgroup %s", who, hit);
	return ret;
}
