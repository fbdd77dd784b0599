// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Engine: reporting a process that leaves the enforced cgroup (bpf/cgmove.bpf.c).
 * Optional like exec tracking: a kernel without the tracepoints or kfuncs it
 * needs turns it off, which is reported and never fatal.  Not pinned: it
 * reports through the engine's ring buffer, so it lives as long as the
 * engine that reads it; each engine seeds the processes already inside.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/cgroup.h"
#include "agent/engine_int.h"
#include "agent/log.h"

_Static_assert(sizeof(struct hush_cgtrack) == 8, "hush_cgtrack layout");

/* The maps shared with the enforcing objects (events, counters, modes). */
static const char *const cgmove_shared[] = {"hush_scopes", "hush_cfg", "hush_events",
					    "hush_counters", "hush_evseq"};

#define CGMOVE_DEPTH 32 /* cgroup levels seeded below the enforced one */

/* Level of a cgroup2 directory: the number of components below the mount. */
static int cg_level(const char *path, uint32_t *level)
{
	char mnt[PATH_MAX];
	size_t n;
	int ret;

	ret = cgroup_find_mount(mnt, sizeof(mnt));
	if (ret)
		return ret;
	n = strlen(mnt);
	if (strncmp(path, mnt, n) != 0 || (path[n] && path[n] != '/'))
		return -EINVAL;
	*level = 0;
	for (const char *p = path + n; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			(*level)++;
	return 0;
}

/* Track every process of dir and of the cgroups below it. */
static void seed_dir(int fd, const char *dir, int depth)
{
	char p[PATH_MAX], line[32];
	struct hush_cgtrack v = {0};
	struct dirent *de;
	uint64_t id;
	FILE *f;
	DIR *d;

	if (depth > CGMOVE_DEPTH || cgroup_id_of(dir, &id))
		return;
	v.cgroup_id = id;
	if (snprintf(p, sizeof(p), "%s/cgroup.procs", dir) >= (int)sizeof(p))
		return;
	f = fopen(p, "re");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			__u32 tgid = (__u32)strtoul(line, NULL, 10);

			if (tgid)
				bpf_map_update_elem(fd, &tgid, &v, BPF_ANY);
		}
		fclose(f);
	}
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) < (int)sizeof(p))
			seed_dir(fd, p, depth + 1);
	}
	closedir(d);
}

static void cgmove_off(struct engine *e, const char *what, int err)
{
	snprintf(e->cgmove_why, sizeof(e->cgmove_why), "%s: %s", what, strerror(err));
	log_warnx("engine: reporting moves out of %s is off: %s", e->cgroup, e->cgmove_why);
	engine_cgmove_close(e);
}

void engine_cgmove_open(struct engine *e)
{
	uint32_t level;
	int ret;

	e->cm = cgmove_bpf__open();
	if (!e->cm)
		return cgmove_off(e, "cannot open BPF object cgmove", errno);
	ret = cg_level(e->cgroup, &level);
	if (ret)
		return cgmove_off(e, "cannot find the cgroup's level", -ret);
	e->cm->rodata->hush_cg_id = e->cgroup_id;
	e->cm->rodata->hush_cg_level = level;
	for (size_t i = 0; i < sizeof(cgmove_shared) / sizeof(cgmove_shared[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(e->cm->obj, cgmove_shared[i]);
		int fd = engine_map_fd(e, cgmove_shared[i]);

		ret = m && fd >= 0 ? bpf_map__reuse_fd(m, fd) : -ENOENT;
		if (ret)
			return cgmove_off(e, "cannot share the engine's maps", -ret);
	}
	ret = cgmove_bpf__load(e->cm);
	if (ret)
		return cgmove_off(e, "cannot load BPF object cgmove", -ret);
	/* Attach first, then seed: a process forked meanwhile is tracked by
	 * the fork program, one already there by the seed. */
	ret = cgmove_bpf__attach(e->cm);
	if (ret)
		return cgmove_off(e, "cannot attach to cgroup_attach_task/sched_process_fork",
				  -ret);
	seed_dir(bpf_map__fd(e->cm->maps.hush_cgtrack), e->cgroup, 0);
}

void engine_cgmove_close(struct engine *e)
{
	cgmove_bpf__destroy(e->cm); /* detaches: tracepoint links are not pinned */
	e->cm = NULL;
}

const char *engine_cgmove_unavailable(const struct engine *e)
{
	return e->cm ? NULL : e->cgmove_why;
}
