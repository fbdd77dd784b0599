// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * containerd, and Kubernetes pods through its CRI plugin.
 *
 * New tasks are found in containerd's state directory: the OCI bundles under
 * <state>/io.containerd.runtime.v2.task/<namespace>/<id>/config.json, a
 * scan woken by inotify when a task directory appears (a bundle is written
 * before runc creates the container, so usually before its first
 * instruction), read again every 50 ms while incomplete, and once a second
 * in any case.  The bundle's linux.cgroupsPath names the cgroup.
 *
 * Who the task is comes, when containerd answers the CRI (its plugin
 * io.containerd.grpc.v1.cri, on the same socket), from the CRI itself
 * (agent/cri_grpc.c, gRPC over the socket; no shell-out): for a task of
 * namespace k8s.io, ContainerStatus gives container name, image (the tag
 * the runtime resolved) and image id, state and labels; ListContainers
 * gives its pod sandbox, whose PodSandboxStatus gives pod namespace, name,
 * uid and the pod's labels (app=..., which the kubelet sets on the pod, not
 * on its containers).  A task that is a pod sandbox itself is named "POD".
 *
 * Without the CRI (the plugin disabled, another namespace than k8s.io, or a
 * task the CRI does not know, e.g. made by `ctr run` in k8s.io), the
 * bundle's io.kubernetes.cri.* annotations name it and
 * `ctr --address SOCK -n NS containers info ID` (JSON, 5 s at most) gives
 * the labels and image that containerd's metadata store keeps.
 *
 * An unreachable or unimplemented CRI is reported once, with what to do,
 * and tried again with backoff (1 s doubling to 60 s), or at once when
 * containerd makes its socket again; when it answers again, every task is
 * read again through it.  A task the CRI made but does not know after
 * CRI_WAIT_MS keeps its bundle's names until the CRI knows it (asked again
 * with the same backoff).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent/containers_int.h"
#include "agent/cri.h"
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

/* Annotations of the bundle (CRI's names) and its cgroup into m; *cri_made:
 * the CRI plugin made the task (a container-type annotation). */
static int read_bundle(const char *path, struct ctr_meta *m, bool *cri_made)
{
	struct json_object *j = json_object_from_file(path), *ann = NULL, *lin = NULL;
	const char *s;

	if (!j)
		return -ENOENT;
	*cri_made = false;
	if (json_object_object_get_ex(j, "annotations", &ann)) {
		*cri_made = ctrs_jstr(ann, "io.kubernetes.cri.container-type") != NULL;
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

/* ---- the CRI ---- */

#define CRI_NS	    "k8s.io" /* the containerd namespace of the CRI plugin */
#define CRI_WAIT_MS 5000     /* how long a CRI-made task may wait for the CRI to know it */
#define CRI_NRETRY  32

struct cri_state {
	struct cri_client *cl;
	bool up;	      /* Version answered; no failure since */
	unsigned backoff_ms;  /* before the next try, doubling */
	struct timespec next; /* CLOCK_MONOTONIC of the next try */
	char said[512];	      /* the last problem logged */
	struct {
		char id[65];
		uint64_t since_ms;
	} retry[CRI_NRETRY];
	/* CRI-made tasks the CRI still did not know after CRI_WAIT_MS: named
	 * from their bundles meanwhile, asked again with backoff (1 s doubling
	 * to 60 s) for as long as they run, so a late CRI record still gives
	 * the pod its labels and its scope. */
	struct {
		char ns[65], id[65];
		uint64_t next_ms;
		unsigned backoff_ms;
	} later[CRI_NRETRY];
};

static int cri_stop(void *arg)
{
	return ctrs_stopping(arg);
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static bool due(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* The CRI failed (rc: a gRPC code or a negative errno): said once, tried
 * again after the backoff. */
static void cri_down(struct ctr_engine *e, struct cri_state *cs, int rc, const char *err)
{
	char msg[sizeof(cs->said)];

	cs->up = false;
	clock_gettime(CLOCK_MONOTONIC, &cs->next);
	cs->next.tv_sec += cs->backoff_ms / 1000;
	cs->next.tv_nsec += (long)(cs->backoff_ms % 1000) * 1000000L;
	if (cs->next.tv_nsec >= 1000000000L) {
		cs->next.tv_sec++;
		cs->next.tv_nsec -= 1000000000L;
	}
	cs->backoff_ms = cs->backoff_ms >= 30000 ? 60000 : cs->backoff_ms * 2;
	if (rc == CRI_UNIMPLEMENTED)
		snprintf(msg, sizeof(msg),
			 "no CRI (%.200s): its plugin io.containerd.grpc.v1.cri is disabled "
			 "(disabled_plugins in containerd's config.toml) or did not load "
			 "(containerd's log says why)",
			 err);
	else
		snprintf(msg, sizeof(msg),
			 "the CRI does not answer (%.200s); check that containerd runs with this "
			 "socket (--containerd-socket)",
			 err);
	if (strcmp(msg, cs->said) && !e->c->quiet)
		log_warnx("containerd: %s; pods are named from their bundles' annotations and "
			  "labelled by `ctr containers info` (without the pod's own labels, "
			  "which only the CRI has) until it answers (retrying with backoff)",
			  msg);
	snprintf(cs->said, sizeof(cs->said), "%s", msg);
}

/* Is the CRI up (asking its Version when the backoff allows)?  *fresh: it
 * just came up. */
static bool cri_check(struct ctr_engine *e, struct cri_state *cs, bool *fresh)
{
	Runtime__V1__VersionResponse *v = NULL;
	char err[256];
	int rc;

	*fresh = false;
	if (cs->up)
		return true;
	if (!due(&cs->next))
		return false;
	rc = cri_version(cs->cl, &v, err, sizeof(err));
	if (rc) {
		cri_down(e, cs, rc, err);
		return false;
	}
	if (!e->c->quiet)
		log_info("containerd: CRI %s %s (API %s) on %s: pods' names, images and labels "
			 "from the CRI",
			 v->runtime_name, v->runtime_version, v->runtime_api_version, e->sock);
	cri_free(v);
	cs->up = *fresh = true;
	cs->backoff_ms = 1000;
	cs->said[0] = 0;
	return true;
}

/* A container's pod: ListContainers' sandbox id, then its status. */
static int cri_pod_of(struct cri_state *cs, const char *id, struct ctr_meta *m, char *err,
		      size_t errlen)
{
	Runtime__V1__ListContainersResponse *l = NULL;
	Runtime__V1__PodSandboxStatusResponse *ps = NULL;
	int rc = cri_list_containers(cs->cl, id, -1, &l, err, errlen);

	if (rc == 0 && l->n_containers == 1)
		rc = cri_pod_status(cs->cl, l->containers[0]->pod_sandbox_id, &ps, err, errlen);
	if (rc == 0 && ps && ps->status)
		cri_meta_pod(m, ps->status, false);
	if (l)
		cri_free(l);
	if (ps)
		cri_free(ps);
	/* gone meanwhile: what the container says stays */
	return rc == CRI_NOT_FOUND ? 0 : rc;
}

/* What the CRI says of task id, into m: 0, 1 when the CRI does not know it
 * (cri_made: it should: -EAGAIN instead), or < 0 when the CRI failed. */
static int cri_meta(struct ctr_engine *e, struct cri_state *cs, const char *id, bool cri_made,
		    struct ctr_meta *m)
{
	Runtime__V1__ContainerStatusResponse *st = NULL;
	Runtime__V1__PodSandboxStatusResponse *ps = NULL;
	char err[256];
	int rc = cri_container_status(cs->cl, id, &st, err, sizeof(err));

	if (rc == 0) {
		if (st->status)
			cri_meta_status(m, st->status);
		rc = cri_pod_of(cs, id, m, err, sizeof(err));
	} else if (rc == CRI_NOT_FOUND) {
		/* a pod sandbox ("pause") task, or no task of the CRI's */
		rc = cri_pod_status(cs->cl, id, &ps, err, sizeof(err));
		if (rc == 0 && ps->status)
			cri_meta_pod(m, ps->status, true);
		else if (rc == CRI_NOT_FOUND)
			rc = cri_made ? -EAGAIN : 1;
	}
	if (st)
		cri_free(st);
	if (ps)
		cri_free(ps);
	if (rc < 0 && rc != -EAGAIN) {
		cri_down(e, cs, rc, err);
	} else if (rc > 1) {
		cri_down(e, cs, rc, err);
		rc = -EIO;
	}
	return rc;
}

/* Another scan for a task the CRI made but does not know yet (the CRI
 * records a sandbox after its task started)?  For CRI_WAIT_MS at most. */
static bool cri_retry(struct cri_state *cs, const char *id)
{
	size_t free_i = CRI_NRETRY;

	for (size_t i = 0; i < CRI_NRETRY; i++) {
		if (!strcmp(cs->retry[i].id, id)) {
			if (now_ms() - cs->retry[i].since_ms < CRI_WAIT_MS)
				return true;
			cs->retry[i].id[0] = 0;
			return false;
		}
		if (!cs->retry[i].id[0] && free_i == CRI_NRETRY)
			free_i = i;
	}
	if (free_i == CRI_NRETRY)
		return false;
	snprintf(cs->retry[free_i].id, sizeof(cs->retry[free_i].id), "%.64s", id);
	cs->retry[free_i].since_ms = now_ms();
	return true;
}

static void cri_retry_done(struct cri_state *cs, const char *id)
{
	for (size_t i = 0; i < CRI_NRETRY; i++)
		if (!strcmp(cs->retry[i].id, id))
			cs->retry[i].id[0] = 0;
}

/* Ask again later about a task the CRI does not know (full: not asked
 * again; it keeps its bundle's names, and says so). */
static void later_add(struct ctr_engine *e, struct cri_state *cs, const char *ns, const char *id)
{
	size_t free_i = CRI_NRETRY;

	for (size_t i = 0; i < CRI_NRETRY; i++) {
		if (!strcmp(cs->later[i].id, id))
			return;
		if (!cs->later[i].id[0] && free_i == CRI_NRETRY)
			free_i = i;
	}
	if (free_i == CRI_NRETRY) {
		if (!e->c->quiet)
			log_warnx("containerd: the CRI does not know task %s/%s after %d s, and %d "
				  "others wait to be asked again: it keeps the names of its bundle "
				  "(no pod labels)",
				  ns, id, CRI_WAIT_MS / 1000, CRI_NRETRY);
		return;
	}
	snprintf(cs->later[free_i].ns, sizeof(cs->later[free_i].ns), "%.64s", ns);
	snprintf(cs->later[free_i].id, sizeof(cs->later[free_i].id), "%.64s", id);
	cs->later[free_i].backoff_ms = 1000;
	cs->later[free_i].next_ms = now_ms() + 1000;
}

/* ---- the task bundles ---- */

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
	snprintf(s->id[s->n++], 65, "%.64s", id);
}

/* A new task: 0 when its metadata went to the cache, -EAGAIN to read it
 * again next scan. */
static int read_task(struct ctr_engine *e, struct cri_state *cs, const char *dir, const char *ns,
		     const char *id)
{
	char p[PATH_MAX * 2];
	struct ctr_meta m;
	bool cri_made;
	int r = 1;

	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), "%.64s", id);
	snprintf(m.engine, sizeof(m.engine), "containerd");
	if (snprintf(p, sizeof(p), "%s/%s/config.json", dir, id) >= PATH_MAX ||
	    read_bundle(p, &m, &cri_made))
		return -EAGAIN; /* not ready yet */
	if (!strcmp(ns, CRI_NS) && cs->up) {
		r = cri_meta(e, cs, id, cri_made, &m);
		if (r == -EAGAIN && cri_retry(cs, id)) {
			ctr_meta_free(&m);
			return -EAGAIN;
		}
		if (r == -EAGAIN)
			later_add(e, cs, ns, id);
		cri_retry_done(cs, id);
	}
	if (r) {
		/* not the CRI's: the bundle's names and ctr's labels */
		ctr_meta_free(&m);
		add_info(e, ns, &m);
	}
	m.running = true; /* a task: created or running */
	if (!m.name[0])
		snprintf(m.name, sizeof(m.name), "%s", m.id);
	ctrs_put(e->c, &m);
	return 0;
}

/* The tasks to ask the CRI about again, when due and the CRI is up: what
 * it says now replaces the bundle's names. */
static void later_scan(struct ctr_engine *e, struct cri_state *cs, const char *root)
{
	for (size_t i = 0; i < CRI_NRETRY && cs->up; i++) {
		char p[PATH_MAX * 2];
		struct ctr_meta m;
		bool cri_made;
		int r;

		if (!cs->later[i].id[0] || now_ms() < cs->later[i].next_ms)
			continue;
		memset(&m, 0, sizeof(m));
		snprintf(m.id, sizeof(m.id), "%s", cs->later[i].id);
		snprintf(m.engine, sizeof(m.engine), "containerd");
		if (snprintf(p, sizeof(p), "%s/%s/%s/config.json", root, cs->later[i].ns,
			     cs->later[i].id) >= (int)sizeof(p) ||
		    read_bundle(p, &m, &cri_made)) {
			cs->later[i].id[0] = 0; /* the task is gone */
			continue;
		}
		r = cri_meta(e, cs, m.id, true, &m);
		if (r == -EAGAIN) {
			cs->later[i].next_ms = now_ms() + cs->later[i].backoff_ms;
			if (cs->later[i].backoff_ms < 60000)
				cs->later[i].backoff_ms *= 2;
		} else if (r == 0) {
			cs->later[i].id[0] = 0;
			m.running = true;
			if (!m.name[0])
				snprintf(m.name, sizeof(m.name), "%s", m.id);
			ctrs_put(e->c, &m);
			continue;
		}
		/* (r < 0: the CRI failed; once it is back every task is read again) */
		ctr_meta_free(&m);
	}
}

/* One namespace directory: new tasks are read, all are kept in now.  How
 * many are to be read again (not ready yet). */
static unsigned scan_ns(struct ctr_engine *e, struct cri_state *cs, const char *dir, const char *ns,
			struct seen *before, struct seen *now)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned pending = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) > 64)
			continue;
		seen_add(now, de->d_name);
		if (seen_has(before, de->d_name))
			continue;
		if (read_task(e, cs, dir, ns, de->d_name)) {
			now->n--; /* again next scan */
			pending++;
		}
	}
	closedir(d);
	return pending;
}

/* Tasks gone since the last scan leave the cache; now becomes before. */
static void scan_done(struct ctr_engine *e, struct seen *before, struct seen *now)
{
	struct seen t;

	for (size_t i = 0; i < before->n; i++)
		if (!seen_has(now, before->id[i]))
			ctrs_drop(e->c, before->id[i]);
	t = *before;
	*before = *now;
	*now = t;
}

/* Did this inotify read say the socket (watch sock_wd, name base) appeared? */
static bool sock_made(const char *buf, ssize_t n, int sock_wd, const char *base)
{
	for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
		const struct inotify_event *ev = (const void *)(buf + off);

		if (ev->wd == sock_wd && ev->len && !strcmp(ev->name, base))
			return true;
		off += (ssize_t)sizeof(*ev) + ev->len;
	}
	return false;
}

/* Until the next scan: ms, or less when a task directory gets an entry
 * (inotify, ifd; -1: none); *sock: containerd's socket was made again
 * (watch sock_wd).  True when stopping. */
static bool scan_wait(struct containers *c, int ifd, unsigned ms, int sock_wd, const char *base,
		      bool *sock)
{
	char buf[4096] __attribute__((aligned(8)));

	for (unsigned waited = 0; waited < ms; waited += 100) {
		struct pollfd p = {.fd = ifd, .events = POLLIN};
		unsigned step = ms - waited < 100 ? ms - waited : 100;
		ssize_t n;

		if (ctrs_stopping(c))
			return true;
		if (ifd < 0) {
			if (ctrs_sleep(c, step))
				return true;
		} else if (poll(&p, 1, (int)step) > 0) {
			while ((n = read(ifd, buf, sizeof(buf))) > 0)
				*sock |= sock_made(buf, n, sock_wd, base);
			break;
		}
	}
	return ctrs_stopping(c);
}

/* One scan of every namespace; how many tasks are not ready yet. */
static unsigned scan_all(struct ctr_engine *e, struct cri_state *cs, const char *root, int ifd,
			 struct seen *before, struct seen *now)
{
	DIR *d = opendir(root);
	struct dirent *de;
	unsigned pending = 0;

	now->n = 0;
	if (!d) {
		ctrs_engine_state(e, false, "no task directory %s", root);
		return 0;
	}
	ctrs_engine_state(e, true, NULL);
	if (ifd >= 0)
		inotify_add_watch(ifd, root, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
	while ((de = readdir(d))) {
		char p[PATH_MAX * 2];

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", root, de->d_name) >= PATH_MAX)
			continue;
		/* (an existing watch is kept: the same descriptor again) */
		if (ifd >= 0)
			inotify_add_watch(ifd, p, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
		pending += scan_ns(e, cs, p, de->d_name, before, now);
	}
	closedir(d);
	scan_done(e, before, now);
	return pending;
}

/* A new task is scanned for at once (inotify on the task directories), its
 * bundle read again every 50 ms while it is incomplete (2 s at most), and
 * every task directory once a second in any case. */
void *cri_thread(void *arg)
{
	struct ctr_engine *e = arg;
	struct seen before = {0}, now = {0};
	struct cri_state cs = {.backoff_ms = 1000};
	char root[PATH_MAX + 64];
	int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC), sock_wd = -1;
	char sdir[PATH_MAX], *base;
	unsigned fast = 0;

	snprintf(root, sizeof(root), "%s/io.containerd.runtime.v2.task", e->c->cd_state);
	cs.cl = cri_open(e->sock);
	if (cs.cl)
		cri_set_stop(cs.cl, cri_stop, e->c);
	/* containerd (re)starting makes its socket again: the CRI is asked at
	 * once then, not at the end of the backoff. */
	snprintf(sdir, sizeof(sdir), "%s", e->sock);
	base = strrchr(sdir, '/');
	if (base && ifd >= 0) {
		*base++ = 0;
		sock_wd = inotify_add_watch(ifd, sdir[0] ? sdir : "/", IN_CREATE | IN_MOVED_TO);
	}
	while (!ctrs_stopping(e->c)) {
		bool fresh = false, sock = false;
		unsigned pending;

		if (cs.cl && cri_check(e, &cs, &fresh) && fresh) {
			before.n = 0; /* the CRI is back: every task read again through it */
			memset(cs.later, 0, sizeof(cs.later));
		}
		pending = scan_all(e, &cs, root, ifd, &before, &now);
		later_scan(e, &cs, root);
		if (!pending)
			fast = 0;
		else if (fast <= 40)
			fast++;
		if (scan_wait(e->c, ifd, fast && fast <= 40 ? 50 : 1000, sock_wd, base ? base : "",
			      &sock))
			break;
		if (sock && !cs.up) {
			clock_gettime(CLOCK_MONOTONIC, &cs.next);
			cs.backoff_ms = 1000;
		}
	}
	if (ifd >= 0)
		close(ifd);
	cri_close(cs.cl);
	free(before.id);
	free(now.id);
	return NULL;
}
