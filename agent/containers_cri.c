// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * containerd (and Kubernetes pods through its CRI plugin), without gRPC:
 * the running tasks' OCI bundles under <state>/io.containerd.runtime.v2.task
 * /<namespace>/<id>/config.json, scanned once a second.  The CRI plugin
 * writes io.kubernetes.cri.* annotations there (container-name,
 * sandbox-namespace, sandbox-name, image-name); the bundle's
 * linux.cgroupsPath names the cgroup.  Labels and the image come from
 * `ctr --address SOCK -n NS containers info ID`, run once per new task
 * (5 s at most), since they live only in containerd's metadata store.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent/containers_int.h"
#include "agent/log.h"

extern char **environ;

#define CRI_OUT_MAX (1u << 20)

/* Run ctr ... containers info ID; its stdout (malloc'd) or NULL. */
static char *ctr_info(struct ctr_engine *e, const char *ns, const char *id)
{
	struct containers *c = e->c;
	char *argv[] = {c->ctr_bin,   "--address", e->sock,    "-n", (char *)ns,
			"containers", "info",	   (char *)id, NULL};
	posix_spawn_file_actions_t fa;
	int pfd[2], st;
	pid_t pid;
	char *out = NULL;
	size_t n = 0;
	struct timespec t0, t;

	if (pipe2(pfd, O_CLOEXEC))
		return NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, c->ctr_bin, &fa, NULL, argv, environ)) {
		posix_spawn_file_actions_destroy(&fa);
		close(pfd[0]);
		close(pfd[1]);
		return NULL;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		char buf[4096], *no;
		ssize_t r;

		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= 5 || poll(&p, 1, 500) < 0)
			break;
		if (!p.revents)
			continue;
		r = read(pfd[0], buf, sizeof(buf));
		if (r <= 0)
			break;
		if (n + (size_t)r > CRI_OUT_MAX || !(no = realloc(out, n + (size_t)r + 1)))
			break;
		out = no;
		memcpy(out + n, buf, (size_t)r);
		n += (size_t)r;
		out[n] = 0;
	}
	close(pfd[0]);
	kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		free(out);
		return NULL;
	}
	return out;
}

/* Annotations of the bundle (CRI's names) and its cgroup into m. */
static int read_bundle(const char *path, struct ctr_meta *m)
{
	struct json_object *j = json_object_from_file(path), *ann = NULL, *lin = NULL;
	const char *s;

	if (!j)
		return -ENOENT;
	if (json_object_object_get_ex(j, "annotations", &ann)) {
		if ((s = ctrs_jstr(ann, "io.kubernetes.cri.container-name")))
			snprintf(m->name, sizeof(m->name), "%s", s);
		if ((s = ctrs_jstr(ann, "io.kubernetes.cri.sandbox-namespace")))
			snprintf(m->pod_ns, sizeof(m->pod_ns), "%s", s);
		if ((s = ctrs_jstr(ann, "io.kubernetes.cri.sandbox-name")))
			snprintf(m->pod_name, sizeof(m->pod_name), "%s", s);
		if ((s = ctrs_jstr(ann, "io.kubernetes.cri.image-name")))
			snprintf(m->image, sizeof(m->image), "%s", s);
	}
	if (json_object_object_get_ex(j, "linux", &lin) && (s = ctrs_jstr(lin, "cgroupsPath"))) {
		/* systemd driver form "slice:prefix:id" is not a path: left out */
		if (s[0] == '/')
			snprintf(m->cgroup, sizeof(m->cgroup), "%s", s);
	}
	json_object_put(j);
	return 0;
}

/* Labels and image from `ctr containers info` JSON. */
static void add_info(struct ctr_engine *e, const char *ns, struct ctr_meta *m)
{
	char *out = ctr_info(e, ns, m->id);
	struct json_object *j = out ? json_tokener_parse(out) : NULL, *lab = NULL;
	const char *s;

	free(out);
	if (!j) {
		ctrs_engine_state(e, false,
				  "cannot run %s containers info (labels of %s/%s unknown)",
				  e->c->ctr_bin, ns, m->id);
		return;
	}
	if (!m->image[0] && (s = ctrs_jstr(j, "Image")))
		snprintf(m->image, sizeof(m->image), "%s", s);
	if (json_object_object_get_ex(j, "Labels", &lab))
		ctrs_labels(m, lab);
	if (!m->name[0] && (s = ctrs_jstr(lab, "io.kubernetes.container.name")))
		snprintf(m->name, sizeof(m->name), "%s", s);
	json_object_put(j);
	ctrs_engine_state(e, true, NULL);
}

struct seen {
	char (*id)[65];
	size_t n, cap;
};

static bool seen_has(const struct seen *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->id[i], id))
			return true;
	return false;
}

static void seen_add(struct seen *s, const char *id)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		char(*ni)[65] = realloc(s->id, nc * sizeof(*ni));

		if (!ni)
			return;
		s->id = ni;
		s->cap = nc;
	}
	snprintf(s->id[s->n++], 65, "%s", id);
}

/* One namespace directory: new tasks are read, all are kept in now. */
static void scan_ns(struct ctr_engine *e, const char *dir, const char *ns, struct seen *before,
		    struct seen *now)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char p[PATH_MAX * 2];
		struct ctr_meta m;

		if (de->d_name[0] == '.' || strlen(de->d_name) > 64)
			continue;
		seen_add(now, de->d_name);
		if (seen_has(before, de->d_name))
			continue;
		memset(&m, 0, sizeof(m));
		snprintf(m.id, sizeof(m.id), "%s", de->d_name);
		snprintf(m.engine, sizeof(m.engine), "containerd");
		if (snprintf(p, sizeof(p), "%s/%s/config.json", dir, de->d_name) >= PATH_MAX ||
		    read_bundle(p, &m)) {
			now->n--; /* not ready yet: again next scan */
			continue;
		}
		add_info(e, ns, &m);
		if (!m.name[0])
			snprintf(m.name, sizeof(m.name), "%s", m.id);
		m.running = true;
		ctrs_put(e->c, &m);
	}
	closedir(d);
}

void *cri_thread(void *arg)
{
	struct ctr_engine *e = arg;
	struct seen before = {0}, now = {0};
	char root[PATH_MAX + 64];

	snprintf(root, sizeof(root), "%s/io.containerd.runtime.v2.task", e->c->cd_state);
	while (!ctrs_stopping(e->c)) {
		DIR *d = opendir(root);
		struct dirent *de;

		now.n = 0;
		if (d)
			ctrs_engine_state(e, true, NULL);
		else
			ctrs_engine_state(e, false, "no task directory %s", root);
		while (d && (de = readdir(d))) {
			char p[PATH_MAX * 2];

			if (de->d_name[0] == '.')
				continue;
			if (snprintf(p, sizeof(p), "%s/%s", root, de->d_name) >= PATH_MAX)
				continue;
			scan_ns(e, p, de->d_name, &before, &now);
		}
		if (d)
			closedir(d);
		/* tasks gone since the last scan */
		for (size_t i = 0; i < before.n; i++)
			if (!seen_has(&now, before.id[i]))
				ctrs_drop(e->c, before.id[i]);
		{
			struct seen t = before;

			before = now;
			now = t;
		}
		if (ctrs_sleep(e->c, 1000))
			break;
	}
	free(before.id);
	free(now.id);
	return NULL;
}
