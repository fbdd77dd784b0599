// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Containers in hushd: the engines' metadata (agent/containers.c) names
 * the log's rows, and binds container cgroups to selector scopes.
 *
 * Binding: the enforced subtree is walked when the engines report a change,
 * when a cgroup directory appears or vanishes in it (inotify on each of its
 * directories, IN_CREATE/IN_DELETE), on a policy change, and once a second.
 * Each cgroup whose container the engines know (its id from the cgroup's
 * name, or the cgroup path containerd gave) gets the first selector scope,
 * in policy order, that matches; a changed set of binds is re-applied (a new
 * generation, so no cached ruling of the old scope survives).  Until a
 * container's cgroup is bound, the scope of its enclosing cgroup applies.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "agent/attrib.h"
#include "agent/cgroup.h"
#include "agent/containers.h"
#include "agent/enforcer.h"
#include "agent/engine.h"
#include "agent/engine_bind.h"
#include "agent/log.h"
#include "agent/store.h"
#include "agent/hushd/hushd.h"

#define WALK_DEPTH    12
#define BIND_DIRS_MAX 65536

struct walk {
	struct hushd *d;
	const struct policy *pol;
	struct engine_bind *b;
	size_t n, cap;
	size_t dirs;
};

/* The first selector scope of pol matching the container of cgroup rel. */
static const char *scope_for(struct hushd *d, const struct policy *pol, const char *rel)
{
	struct attrib a;
	struct ctr_meta m;
	struct policy_ctr pc;
	const char *sel = NULL;

	attrib_parse(rel, &a);
	if (a.container_id[0] ? containers_lookup(d->ctrs, a.container_id, &m)
			      : containers_lookup_cgroup(d->ctrs, rel, &m))
		return NULL;
	ctr_meta_policy(&m, &pc);
	for (size_t i = 1; i < pol->nscopes && !sel; i++)
		if (policy_selector_match(pol->scopes[i].path, &pc))
			sel = pol->scopes[i].path;
	ctr_meta_free(&m);
	return sel;
}

static void add_bind(struct walk *w, const char *abs, const char *sel)
{
	uint64_t id;

	if (cgroup_id_of(abs, &id))
		return;
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 16;
		struct engine_bind *nb = realloc(w->b, nc * sizeof(*nb));

		if (!nb)
			return;
		w->b = nb;
		w->cap = nc;
	}
	w->b[w->n].cgid = id;
	w->b[w->n].sel = (char *)sel; /* the policy's: valid while it is loaded */
	w->n++;
}

/* abs: absolute directory; rel: its path from the cgroup2 root ("/a/b"). */
static void walk_dir(struct walk *w, const char *abs, const char *rel, int depth)
{
	struct hushd *d = w->d;
	DIR *dir;
	struct dirent *de;
	const char *sel;

	if (++w->dirs > BIND_DIRS_MAX)
		return;
	/* (an existing watch is returned again; the kernel's limit bounds them) */
	if (d->ctr_ifd >= 0)
		(void)inotify_add_watch(d->ctr_ifd, abs, IN_CREATE | IN_DELETE | IN_ONLYDIR);
	sel = depth ? scope_for(d, w->pol, rel) : NULL;
	if (sel) {
		add_bind(w, abs, sel);
		return; /* what is below a container's cgroup is the container's */
	}
	if (depth >= WALK_DEPTH || !(dir = opendir(abs)))
		return;
	while ((de = readdir(dir))) {
		char a2[PATH_MAX], r2[PATH_MAX];

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (snprintf(a2, sizeof(a2), "%s/%s", abs, de->d_name) >= (int)sizeof(a2) ||
		    snprintf(r2, sizeof(r2), "%s/%s", rel, de->d_name) >= (int)sizeof(r2))
			continue;
		walk_dir(w, a2, r2, depth + 1);
	}
	closedir(dir);
}

static int cmp_bind(const void *x, const void *y)
{
	const struct engine_bind *a = x, *b = y;

	if (a->cgid != b->cgid)
		return a->cgid < b->cgid ? -1 : 1;
	return strcmp(a->sel, b->sel);
}

static void binds_free(struct hushd *d)
{
	for (size_t i = 0; i < d->ctr_nbinds; i++)
		free(d->ctr_binds[i].sel);
	free(d->ctr_binds);
	d->ctr_binds = NULL;
	d->ctr_nbinds = 0;
}

static bool binds_equal(const struct hushd *d, const struct walk *w)
{
	if (w->n != d->ctr_nbinds)
		return false;
	for (size_t i = 0; i < w->n; i++)
		if (w->b[i].cgid != d->ctr_binds[i].cgid ||
		    strcmp(w->b[i].sel, d->ctr_binds[i].sel))
			return false;
	return true;
}

static bool policy_has_selectors(const struct policy *p)
{
	for (size_t i = 1; i < p->nscopes; i++)
		if (policy_scope_is_selector(p->scopes[i].path))
			return true;
	return false;
}

/* The enforced cgroup's path below the cgroup2 mount ("/a/b"; "" for the root). */
static const char *rel_of(const struct hushd *d)
{
	char m[PATH_MAX];
	size_t n;

	if (cgroup_find_mount(m, sizeof(m)))
		snprintf(m, sizeof(m), "/sys/fs/cgroup");
	n = strlen(m);
	if (!strncmp(d->cgroup, m, n) && (d->cgroup[n] == '/' || !d->cgroup[n]))
		return d->cgroup + n;
	return d->cgroup;
}

/* New binds into the live generation at once (the apply follows). */
static void live_binds(struct hushd *d, const struct walk *w)
{
	const struct policy_compiled *pc = d->loaded->pc;

	for (size_t i = 0; i < w->n; i++) {
		bool known = false;

		for (size_t k = 0; k < d->ctr_nbinds; k++)
			known |= d->ctr_binds[k].cgid == w->b[i].cgid &&
				 !strcmp(d->ctr_binds[k].sel, w->b[i].sel);
		if (known)
			continue;
		for (size_t s = 1; s < pc->nscopes; s++) {
			if (strcmp(pc->scopes[s].path, w->b[i].sel))
				continue;
			(void)engine_bind_live(d->eng, w->b[i].cgid, (uint32_t)s,
					       pc->scopes[s].mode, pc->scopes[s].flags);
			break;
		}
	}
}

static void rebind(struct hushd *d)
{
	struct walk w = {.d = d, .pol = d->loaded->pol};
	int r;

	if (policy_has_selectors(w.pol))
		walk_dir(&w, d->cgroup, rel_of(d), 0);
	if (w.n)
		qsort(w.b, w.n, sizeof(*w.b), cmp_bind);
	if (!d->ctr_retry && binds_equal(d, &w)) {
		free(w.b);
		return;
	}
	live_binds(d, &w);
	d->ctr_retry = false;
	r = engine_set_binds(d->eng, w.b, w.n);
	if (!r)
		r = enforcer_reapply(d->en);
	if (r) {
		log_errno(r, "cannot bind container cgroups to their scopes (their enclosing "
			     "scope's rules apply); retrying in 1 s");
		free(w.b);
		binds_free(d);
		d->ctr_retry = true; /* differs from anything: retry */
		return;
	}
	log_info("containers: %zu cgroup(s) bound to container scopes (policy seq %llu)", w.n,
		 (unsigned long long)engine_policy_seq(d->eng));
	if (d->store)
		store_note(d->store, "container scopes: %zu cgroup(s) bound", w.n);
	binds_free(d);
	/* our own copies: the policy the selectors came from may be replaced */
	for (size_t i = 0; i < w.n; i++) {
		w.b[i].sel = strdup(w.b[i].sel);
		if (!w.b[i].sel) {
			w.n = i; /* (the next pass differs, and sets them again) */
			break;
		}
	}
	d->ctr_binds = w.b;
	d->ctr_nbinds = w.n;
}

/* From the loop, every turn (100 ms at most): cheap unless something moved. */
void hushd_ctr_tick(struct hushd *d, bool second)
{
	uint64_t gen = containers_gen(d->ctrs);
	bool dirs = false;

	if (d->ctr_ifd >= 0) {
		char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

		while (read(d->ctr_ifd, buf, sizeof(buf)) > 0)
			dirs = true;
	}
	if (containers_fd(d->ctrs) >= 0) {
		uint64_t n;

		(void)!read(containers_fd(d->ctrs), &n, sizeof(n));
	}
	if (d->ctr_pol != d->loaded || gen != d->ctr_gen || dirs || second) {
		d->ctr_pol = d->loaded;
		d->ctr_gen = gen;
		rebind(d);
	}
}

/* Store hook: a row's container, named by the engines. */
static int ctr_namer(void *ctx, const char *container_id, const char *cgpath, struct store_ctr *out)
{
	struct hushd *d = ctx;
	struct ctr_meta m;

	if (container_id && container_id[0] ? containers_lookup(d->ctrs, container_id, &m)
					    : containers_lookup_cgroup(d->ctrs, cgpath, &m))
		return -1;
	snprintf(out->id, sizeof(out->id), "%s", m.id);
	snprintf(out->name, sizeof(out->name), "%s", m.name);
	snprintf(out->image, sizeof(out->image), "%s", m.image);
	snprintf(out->image_id, sizeof(out->image_id), "%s", m.image_id);
	snprintf(out->pod_ns, sizeof(out->pod_ns), "%s", m.pod_ns);
	snprintf(out->pod_name, sizeof(out->pod_name), "%s", m.pod_name);
	ctr_meta_free(&m);
	return 0;
}

void hushd_ctr_start(struct hushd *d)
{
	int r;

	d->ctr_ifd = -1;
	if (d->no_containers)
		return;
	r = containers_start(&d->ctr_opts, &d->ctrs);
	if (r) {
		log_errno(r, "cannot watch the container engines: container scopes bind nothing");
		return;
	}
	d->ctr_ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (d->ctr_ifd < 0)
		log_warn("inotify: container cgroups are bound within 1 s of appearing");
	if (d->store)
		store_set_ctr(d->store, ctr_namer, d);
	hushd_ctr_tick(d, true);
}

void hushd_ctr_stop(struct hushd *d)
{
	if (d->store)
		store_set_ctr(d->store, NULL, NULL);
	containers_stop(d->ctrs);
	d->ctrs = NULL;
	if (d->ctr_ifd >= 0)
		close(d->ctr_ifd);
	d->ctr_ifd = -1;
	binds_free(d);
}

int hushd_ctr_option(struct hushd *d, int c, const char *arg)
{
	struct containers_opts *o = &d->ctr_opts;

	switch (c) {
	case 1001:
		o->docker_sock = arg;
		break;
	case 1002:
		o->podman_sock = arg;
		break;
	case 1003:
		o->containerd_sock = arg;
		break;
	case 1004:
		if (!arg[0]) {
			log_warnx("--containerd-state: need a directory");
			return 2;
		}
		o->containerd_state = arg;
		break;
	default:
		d->no_containers = true;
		break;
	}
	return 0;
}
