// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Lineage: the kernel's process table first (fork/exec/exit fed it at the
 * moment they happened), /proc only for what it does not know.  See
 * lineage.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/attrib.h"
#include "agent/engine.h"
#include "agent/event.h"
#include "agent/json.h"
#include "agent/lineage.h"

/* One process of the chain, as far as known. */
struct lnode {
	uint32_t pid, ppid;
	uint64_t start_ns; /* boot clock; /proc: to the tick */
	uint64_t exit_ns;  /* 0: alive (or unknown) */
	char exe[HUSH_EXE_LEN];
	uint64_t cgid;	   /* cgroup id (0: unknown: read from /proc) */
	char cg[PATH_MAX]; /* cgroup path, "" unknown (removed since) */
	bool from_proc;
};

uint64_t lineage_tick_ns(void)
{
	static uint64_t t;

	if (!t) {
		long hz = sysconf(_SC_CLK_TCK);

		t = 1000000000ull / (uint64_t)(hz > 0 ? hz : 100);
	}
	return t;
}

/* pid's parent and start from /proc/PID/stat (fields 4 and 22). */
int lineage_proc_stat(uint32_t pid, uint32_t *ppid, uint64_t *start_ns)
{
	char p[64], buf[1024], *s;
	unsigned long long st = 0;
	unsigned pp = 0;
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "/proc/%u/stat", pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	s = strrchr(buf, ')');
	/* ") S ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 * utime stime cutime cstime priority nice threads itrealvalue start" */
	if (!s || sscanf(s + 1,
			 " %*c %u %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			 "%*d %*d %*d %llu",
			 &pp, &st) != 2)
		return -EIO;
	*ppid = pp;
	*start_ns = (uint64_t)st * lineage_tick_ns();
	return 0;
}

/* "0::/path" of /proc/PID/cgroup into out. */
static void proc_cgroup(uint32_t pid, char *out, size_t len)
{
	char p[64], line[PATH_MAX + 8];
	FILE *f;

	out[0] = 0;
	snprintf(p, sizeof(p), "/proc/%u/cgroup", pid);
	f = fopen(p, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "0::", 3)) {
			size_t n;

			line[strcspn(line, "\n")] = 0;
			n = strnlen(line + 3, len - 1);
			memcpy(out, line + 3, n);
			out[n] = 0;
			break;
		}
	}
	fclose(f);
}

/* pid from the kernel's table, if that entry is a process born no later
 * than born_by and alive at alive_at (boot ns): not a later one that reused
 * the pid, nor an earlier one that had exited. */
static bool from_table(const struct engine *eng, uint32_t pid, uint64_t alive_at, uint64_t born_by,
		       struct lnode *n)
{
	struct hush_proc p;
	const char *cg;

	if (!eng || engine_proc(eng, pid, UINT64_MAX, &p) != 0 || p.tgid != pid)
		return false;
	if (!p.start_ns || p.start_ns > born_by || (p.exit_ns && p.exit_ns < alive_at))
		return false;
	n->pid = pid;
	n->ppid = p.ppid;
	n->start_ns = p.start_ns;
	n->exit_ns = p.exit_ns;
	snprintf(n->exe, sizeof(n->exe), "%s", p.exe);
	n->cgid = p.cgroup_id;
	cg = event_cgroup_name(p.cgroup_id);
	snprintf(n->cg, sizeof(n->cg), "%s", cg ? cg : "");
	n->from_proc = false;
	return true;
}

/* A table entry without an image (forked from a process older than hushd):
 * the exe from /proc if pid still is that process. */
static void exe_from_proc(struct lnode *n)
{
	uint32_t pp;
	uint64_t st;
	char p[64];
	ssize_t k;

	if (n->exe[0] || lineage_proc_stat(n->pid, &pp, &st) ||
	    st > n->start_ns + lineage_tick_ns() || st + lineage_tick_ns() < n->start_ns)
		return;
	snprintf(p, sizeof(p), "/proc/%u/exe", n->pid);
	k = readlink(p, n->exe, sizeof(n->exe) - 1);
	n->exe[k > 0 ? k : 0] = 0;
	n->from_proc = k > 0;
}

/* pid from /proc while it lives, if it was born no later than born_by. */
static bool from_proc(uint32_t pid, uint64_t born_by, struct lnode *n)
{
	char p[64];
	ssize_t k;

	if (lineage_proc_stat(pid, &n->ppid, &n->start_ns) ||
	    n->start_ns > born_by + lineage_tick_ns())
		return false;
	n->pid = pid;
	n->exit_ns = 0;
	n->cgid = 0;
	snprintf(p, sizeof(p), "/proc/%u/exe", pid);
	k = readlink(p, n->exe, sizeof(n->exe) - 1);
	n->exe[k > 0 ? k : 0] = 0;
	proc_cgroup(pid, n->cg, sizeof(n->cg));
	n->from_proc = true;
	return true;
}

static void put_node(struct json_writer *w, const struct lnode *n, const char *exe, uint64_t at)
{
	jsonw_obj_begin(w);
	jsonw_uint_field(w, "pid", n->pid);
	jsonw_key(w, "exe");
	jsonw_str_or_null(w, exe && *exe ? exe : NULL);
	if (n->exit_ns && n->exit_ns <= at)
		jsonw_bool_field(w, "exited", true);
	if (n->from_proc)
		jsonw_str_field(w, "src", "proc");
	jsonw_obj_end(w);
}

static void put_lost(struct json_writer *w, uint32_t pid, const char *why)
{
	jsonw_obj_begin(w);
	if (pid)
		jsonw_uint_field(w, "pid", pid);
	jsonw_key(w, "exe");
	jsonw_null(w);
	jsonw_str_field(w, "note", why);
	jsonw_obj_end(w);
}

/* Where the chain stops: the event's cgroup (id) and its boundary path
 * (bpath[0..blen); blen 0: the cgroup is gone, only the id tells). */
struct bound {
	uint64_t cgid;
	char path[PATH_MAX];
	size_t blen;
};

static bool inside(const struct bound *b, const struct lnode *n)
{
	if (n->cgid && n->cgid == b->cgid)
		return true;
	return b->blen && n->cg[0] && attrib_inside(b->path, b->blen, n->cg);
}

/* The ancestors of n, up to the boundary b or pid 1. */
static void walk(const struct engine *eng, struct json_writer *w, struct lnode *n,
		 const struct bound *b, uint64_t at)
{
	for (int depth = 0;; depth++) {
		uint32_t pid = n->ppid;
		uint64_t born_by = n->start_ns;

		if (pid == 0)
			return; /* n is pid 1 or a kernel thread */
		if (depth == LINEAGE_DEPTH) {
			put_lost(w, 0, "truncated");
			return;
		}
		if (from_table(eng, pid, born_by, born_by, n))
			exe_from_proc(n);
		else if (!from_proc(pid, born_by, n)) {
			put_lost(
			    w, pid,
			    "unknown: exited, and not in hushd's process table (started before "
			    "hushd, or evicted)");
			return;
		}
		put_node(w, n, n->exe, at);
		if (pid == 1 || !inside(b, n))
			return;
	}
}

int lineage_of(const struct engine *eng, const struct hush_event *e, const char *self_exe,
	       uint32_t *ppid, bool *has_ppid, char *json, size_t len)
{
	struct lnode *n;
	struct bound *b;
	struct json_writer w;
	const char *cg;
	int ret = 0;

	*has_ppid = false;
	*ppid = 0;
	json[0] = 0;
	if (!e->tgid || (e->flags & HUSH_EVF_NOPROC))
		return -ENOENT;
	n = calloc(1, sizeof(*n));
	b = calloc(1, sizeof(*b));
	if (!n || !b) {
		free(n);
		free(b);
		return -ENOMEM;
	}
	/* The event's process, alive at the event: born before it. */
	if (!from_table(eng, e->tgid, e->ts_ns, e->ts_ns, n) && !from_proc(e->tgid, e->ts_ns, n)) {
		free(n);
		free(b);
		return -ENOENT;
	}
	*ppid = n->ppid;
	*has_ppid = true;
	b->cgid = e->cgroup_id ? e->cgroup_id : n->cgid;
	cg = event_cgroup_name(b->cgid);
	snprintf(b->path, sizeof(b->path), "%s", cg ? cg : n->cg);
	b->blen = b->path[0] ? attrib_boundary(b->path) : 0;
	jsonw_init_buf(&w, 0);
	jsonw_arr_begin(&w);
	n->exit_ns = 0; /* it made the event: alive then */
	put_node(&w, n, self_exe && *self_exe ? self_exe : n->exe, e->ts_ns);
	walk(eng, &w, n, b, e->ts_ns);
	jsonw_arr_end(&w);
	if (jsonw_finish(&w) == 0 && w.len < len)
		memcpy(json, w.buf, w.len + 1);
	else
		ret = -ENOSPC;
	jsonw_free(&w);
	free(n);
	free(b);
	return ret;
}

static bool id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n != 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static void read_id(const char *path, char *out, size_t len)
{
	char buf[64] = "";
	FILE *f = fopen(path, "re");

	out[0] = 0;
	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\n")] = 0;
		if (id_ok(buf))
			snprintf(out, len, "%s", buf);
	}
	fclose(f);
}

/* A new random id in path (written whole, then renamed into place). */
static int make_id(const char *path, char *out, size_t len)
{
	unsigned char r[16];
	char hex[33], tmp[PATH_MAX + 8];
	FILE *f;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -errno;
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fchmod(fileno(f), 0644);
	if (fprintf(f, "%s\n", hex) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
		int ret = -errno;

		unlink(tmp);
		return ret ? ret : -EIO;
	}
	snprintf(out, len, "%s", hex);
	return 0;
}

int lineage_host(const char *state_dir, char *hostname, size_t hlen, char *host_id, size_t ilen,
		 const char **src)
{
	char p[PATH_MAX];

	if (gethostname(hostname, hlen) != 0)
		hostname[0] = 0;
	if (hlen)
		hostname[hlen - 1] = 0;
	*src = "machine-id";
	read_id("/etc/machine-id", host_id, ilen);
	if (host_id[0])
		return 0;
	*src = "state";
	if (!state_dir || snprintf(p, sizeof(p), "%s/host-id", state_dir) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	read_id(p, host_id, ilen);
	if (host_id[0])
		return 0;
	return make_id(p, host_id, ilen);
}
