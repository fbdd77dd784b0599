// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `hush policy check`: a container or pod scope that selects nothing
 * running now is explained, from what the engines answer (the sockets hushd
 * uses by default: $DOCKER_HOST or /run/docker.sock, podman's, containerd's
 * state directory).  Notes only: the policy stays valid, since containers
 * may start later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/containers.h"
#include "cli/cli.h"

/* Wait (3 s at most) until every engine answered or failed. */
static void settle(struct containers *c)
{
	for (int i = 0; i < 60; i++) {
		struct containers_status st[3];
		size_t n = containers_status(c, st, 3), done = 0;
		struct timespec ts = {0, 50 * 1000 * 1000};

		for (size_t k = 0; k < n; k++)
			done += !st[k].watched || st[k].connected || st[k].error[0];
		if (done == n && i > 0)
			return;
		nanosleep(&ts, NULL);
	}
}

static void engines_line(struct containers *c, char *buf, size_t len)
{
	struct containers_status st[3];
	size_t n = containers_status(c, st, 3), o = 0;

	buf[0] = 0;
	for (size_t k = 0; k < n && o < len; k++) {
		int r;

		if (!st[k].watched)
			continue;
		if (st[k].connected)
			r = snprintf(buf + o, len - o, "%s%s: %zu container%s", o ? "; " : "",
				     st[k].engine, st[k].containers,
				     st[k].containers == 1 ? "" : "s");
		else
			r = snprintf(buf + o, len - o, "%s%s: not reachable (%s)", o ? "; " : "",
				     st[k].engine, st[k].error[0] ? st[k].error : "no answer");
		if (r > 0)
			o += (size_t)r;
	}
}

void cli_policy_containers(const struct policy *p)
{
	struct containers_opts o;
	struct containers *c = NULL;
	struct ctr_meta *v = NULL;
	size_t n = 0;
	bool any = false;
	char eng[600];

	for (size_t i = 1; i < p->nscopes; i++)
		any |= policy_scope_is_selector(p->scopes[i].path);
	if (!any)
		return;
	containers_default_opts(&o);
	o.quiet = true;
	if (containers_start(&o, &c))
		return;
	settle(c);
	containers_list(c, &v, &n);
	engines_line(c, eng, sizeof(eng));
	for (size_t i = 1; i < p->nscopes; i++) {
		const struct policy_scope *sc = &p->scopes[i];
		size_t hits = 0, stopped = 0;

		if (!policy_scope_is_selector(sc->path))
			continue;
		for (size_t k = 0; k < n; k++) {
			struct policy_ctr pc;

			ctr_meta_policy(&v[k], &pc);
			if (policy_selector_match(sc->path, &pc)) {
				if (v[k].running)
					hits++;
				else
					stopped++;
			}
		}
		if (hits)
			continue;
		fprintf(stderr,
			"hush: policy: %s:%u:%u: note: \"scope %s\" selects no running container "
			"now%s (%s%s)\n",
			p->name, sc->loc.line, sc->loc.col, sc->path,
			stopped ? ", only stopped ones" : "", eng[0] ? eng : "no engine watched",
			!strncmp(sc->path, "pod ", 4)
			    ? "; pod selectors match the kubelet's io.kubernetes.pod.* labels"
			    : "");
	}
	for (size_t k = 0; k < n; k++)
		ctr_meta_free(&v[k]);
	free(v);
	containers_stop(c);
}
