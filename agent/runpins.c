// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Pins of hush run's and hush test's engines: see runpins.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "agent/engine.h"
#include "agent/log.h"
#include "agent/runpins.h"
#include "agent/util.h"

int runpins_path(uint64_t cgroup_id, char *buf, size_t len)
{
	if (snprintf(buf, len, "%s/%s%" PRIu64, RUNPINS_DIR, RUNPINS_PREFIX, cgroup_id) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* A run cgroup by its name: PREFIX.PID.N made by runner.c. */
static bool run_cgroup_name(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	return strncmp(b, "hush-run.", 9) == 0 || strncmp(b, "hush-test.", 10) == 0;
}

/* The run that made the cgroup (PREFIX.PID.N) is still alive: it may be
 * between making its pins and moving its command in, when its cgroup is
 * empty and its links/ not yet locked.  A reused pid only keeps stale pins
 * a while longer, the safe way round. */
static bool run_owner_alive(const char *path)
{
	const char *b = strrchr(path, '/');
	char *end;
	long pid;

	b = b ? b + 1 : path;
	b = strchr(b, '.');
	if (!b || !run_cgroup_name(path))
		return false;
	errno = 0;
	pid = strtol(b + 1, &end, 10);
	if (errno || *end != '.' || pid <= 0)
		return false;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* Pins an older or newer hush left in a stale run directory that this
 * one's engine_disable() does not know by name: every entry of its maps/
 * and links/, then the directories.  0, or -errno. */
static int remove_leftovers(const char *dir)
{
	static const char *const subs[] = {"maps", "links"};
	char p[PATH_MAX];
	int ret = 0;

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		struct dirent *de;
		DIR *d;

		if (snprintf(p, sizeof(p), "%s/%s", dir, subs[i]) >= (int)sizeof(p))
			return -ENAMETOOLONG;
		d = opendir(p);
		if (!d)
			continue;
		while ((de = readdir(d)))
			if (de->d_name[0] != '.' && unlinkat(dirfd(d), de->d_name, 0) < 0 && !ret)
				ret = -errno;
		closedir(d);
		if (rmdir(p) < 0 && errno != ENOENT && !ret)
			ret = -errno;
	}
	if (rmdir(dir) < 0 && errno != ENOENT && !ret)
		ret = -errno;
	return ret;
}

/* One pin directory: 1 removed, 0 kept (live run, or its cgroup still has
 * processes). */
static int sweep_one(const char *name)
{
	char dir[PATH_MAX], p[PATH_MAX + 8], rel[PATH_MAX], cg[PATH_MAX], mnt[PATH_MAX];
	_cleanup_close_ int lock = -1;
	uint64_t id;
	char *end;
	int ret, pop = 0;
	bool nolinks;

	id = strtoull(name + strlen(RUNPINS_PREFIX), &end, 10);
	if (*end || !id ||
	    snprintf(dir, sizeof(dir), "%s/%s", RUNPINS_DIR, name) >= (int)sizeof(dir))
		return 0;
	/* A live run holds this lock for its lifetime (engine.c). */
	snprintf(p, sizeof(p), "%s/links", dir);
	lock = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	nolinks = lock < 0 && errno == ENOENT;
	if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) < 0)
		return 0;
	cg[0] = 0;
	ret = cgroup_path_by_handle(id, rel, sizeof(rel));
	/* No links directory: a run that died while pinning (its cgroup is
	 * made before its pins, so while it lives the cgroup is there), or
	 * what an older hush's disable left of maps it did not know. */
	if (lock < 0 && !(nolinks && (ret == -ESTALE || ret == -ENOENT)))
		return 0;
	if (ret == 0 && cgroup_find_mount(mnt, sizeof(mnt)) == 0 &&
	    snprintf(cg, sizeof(cg), "%s%s", mnt, rel) < (int)sizeof(cg))
		pop = cgroup_populated(cg);
	else if (ret != -ESTALE && ret != -ENOENT)
		return 0; /* cannot tell: keep it */
	if (pop == 0 && run_owner_alive(cg))
		return 0;
	if (pop > 0) {
		log_info("%s: its run ended without cleaning up and processes are still in %s: "
			 "they stay enforced",
			 dir, cg);
		return 0;
	}
	ret = engine_disable(dir);
	if (ret == 0 && access(dir, F_OK) == 0)
		ret = remove_leftovers(dir);
	if (ret) {
		log_errno(ret, "cannot remove the stale pins in %s", dir);
		return 0;
	}
	if (cg[0] && run_cgroup_name(cg))
		cgroup_destroy(cg, 0);
	log_info("removed the pins of a run that ended without cleaning up (%s, cgroup %s)", dir,
		 cg[0] ? cg : "gone");
	return 1;
}

int runpins_sweep(void)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir(RUNPINS_DIR);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, RUNPINS_PREFIX, strlen(RUNPINS_PREFIX)) == 0)
			n += sweep_one(de->d_name);
	closedir(d);
	return n;
}
