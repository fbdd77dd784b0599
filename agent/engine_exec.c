// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Engine: exec tracking (optional: attribution, not enforcement).  Pinned
 * like the rest for hushd: the map keeps filling between two hushds; a new
 * link replaces the pinned one (tracepoint links cannot be updated in place).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/engine_int.h"
#include "agent/log.h"

static void exec_drop(struct engine *e)
{
	bpf_link__destroy(e->exec_link);
	e->exec_link = NULL;
	exec_bpf__destroy(e->ex);
	e->ex = NULL;
}

/* Load (engine_open runs this in a thread of its own while the enforcing
 * objects load); engine_exec_attach() attaches once enforcement is in place. */
static void exec_load(struct engine *e)
{
	char mp[PATH_MAX];
	int ret, fd;

	if (e->pin_dir) {
		engine_pin_path(mp, sizeof(mp), e->pin_dir, "maps", "hush_procs");
		fd = engine_pinned_get(e->pin_dir, "maps", "hush_procs");
		if (fd >= 0) {
			if (engine_check_compat(mp, fd, e->ex->maps.hush_procs) == 0)
				bpf_map__reuse_fd(e->ex->maps.hush_procs, fd);
			else
				unlink(mp); /* another build's table: ours replaces it */
			close(fd);
		}
	}
	ret = exec_bpf__load(e->ex);
	if (ret) {
		snprintf(e->exec_why, sizeof(e->exec_why), "cannot load: %s", strerror(-ret));
		exec_drop(e);
	}
}

void engine_exec_attach(struct engine *e)
{
	char mp[PATH_MAX] = "", lp[PATH_MAX] = "";

	if (!e->ex)
		return;
	if (e->pin_dir) {
		engine_pin_path(mp, sizeof(mp), e->pin_dir, "maps", "hush_procs");
		engine_pin_path(lp, sizeof(lp), e->pin_dir, "links", "exec");
	}
	e->exec_link = bpf_program__attach(e->ex->progs.hush_exec);
	if (!e->exec_link) {
		snprintf(e->exec_why, sizeof(e->exec_why),
			 "cannot attach to sched_process_exec: %s", strerror(errno));
		goto fail;
	}
	if (e->pin_dir) {
		unlink(lp); /* the previous hushd's link, if any, detaches */
		if (bpf_link__pin(e->exec_link, lp) ||
		    (access(mp, F_OK) != 0 && bpf_map__pin(e->ex->maps.hush_procs, mp))) {
			snprintf(e->exec_why, sizeof(e->exec_why), "cannot pin in %s: %s",
				 e->pin_dir, strerror(errno));
			goto fail;
		}
	}
	/* The process table's fork and exit feeds: owned by this hushd (not
	 * pinned; the skeleton destroys them), so between two hushds only exec
	 * keeps filling the table.  Without them lineage falls back to /proc. */
	e->ex->links.hush_fork = bpf_program__attach(e->ex->progs.hush_fork);
	e->ex->links.hush_exit = bpf_program__attach(e->ex->progs.hush_exit);
	if (!e->ex->links.hush_fork || !e->ex->links.hush_exit)
		log_warnx("cannot attach to sched_process_fork/exit (%s): lineage is read from "
			  "/proc for processes that did not exec since hushd started",
			  strerror(errno));
	return;
fail:
	exec_drop(e);
}

const char *engine_exec_unavailable(const struct engine *e)
{
	return e->ex ? NULL : e->exec_why;
}

/* An exec through a name that stands for another file: busybox re-executes
 * itself as /proc/self/exe, fexecve() runs /dev/fd/N (or /proc/self/fd/N). */
static bool exe_is_alias(const char *exe)
{
	return !strncmp(exe, "/proc/", 6) || !strncmp(exe, "/dev/fd/", 8);
}

/* The file the alias stood for, from /proc/TGID/exe while the process lives
 * (as its own mount namespace names it, e.g. a container's /bin/busybox). */
static void exe_resolve(uint32_t tgid, struct hush_proc *p)
{
	char link[64], buf[sizeof(p->exe)];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%u/exe", tgid);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n <= 0 || (size_t)n >= sizeof(buf) - 1)
		return; /* gone (or too long): the alias stays, the truth as far as known */
	buf[n] = 0;
	memcpy(p->exe, buf, (size_t)n + 1);
}

int engine_proc(const struct engine *e, uint32_t tgid, uint64_t ts_ns, struct hush_proc *out)
{
	if (!e->ex)
		return -ENOENT;
	if (bpf_map_lookup_elem(bpf_map__fd(e->ex->maps.hush_procs), &tgid, out))
		return -ENOENT;
	/* A later exec replaced the image that made the event. */
	if (out->exec_ns > ts_ns)
		return -ESTALE;
	if (exe_is_alias(out->exe))
		exe_resolve(tgid, out);
	return 0;
}

static void *exec_load_thread(void *arg)
{
	exec_load(arg);
	return NULL;
}

bool engine_exec_load_begin(struct engine *e, pthread_t *thr)
{
	e->ex = exec_bpf__open();
	if (!e->ex) {
		snprintf(e->exec_why, sizeof(e->exec_why), "cannot open: %s", strerror(errno));
		return false;
	}
	return pthread_create(thr, NULL, exec_load_thread, e) == 0;
}

void engine_exec_load_end(struct engine *e, pthread_t *thr, bool threaded)
{
	if (threaded)
		pthread_join(*thr, NULL);
	else if (e->ex)
		exec_load(e);
}
