// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hush test --compose FILE [--service S]...: a whole stack in the test's
 * cgroup.  docker-compose (v1, Debian's 1.29) runs as the command, in the
 * test's T/hush, with FILE and an override file of ours that gives every
 * service cgroup_parent: T/docker (and a label naming the test), so every
 * container of the stack starts in the test's cgroup like --image's.
 * `up` in the foreground: the run lasts while any service runs; the
 * timeout or --observe stops the stack (compose stop --timeout GRACE), and
 * `down --volumes --remove-orphans` removes it at the end.  Attempts are
 * grouped by service: event cgroup -> container id -> its
 * com.docker.compose.service label (docker inspect, before the stack goes).
 * Images are checked first: hush never pulls (nor builds: up --no-build).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/log.h"
#include "cli/test_int.h"

#define CONFIG_MAX 65536

/* docker-compose -f FILE [-f OVERRIDE] -p PROJECT as argv's first words. */
static int compose_words(struct test_ctr *c, bool override)
{
	ctr_argv_reset(c);
	if (ctr_arg(c, "%s", c->ccli) || ctr_arg(c, "--file") || ctr_arg(c, "%s", c->compose))
		return -E2BIG;
	if (override && (ctr_arg(c, "--file") || ctr_arg(c, "%s/override.yml", c->dir)))
		return -E2BIG;
	if (c->name[0] && (ctr_arg(c, "--project-name") || ctr_arg(c, "%s", c->name)))
		return -E2BIG;
	return 0;
}

static bool known(const struct test_ctr *c, const char *svc)
{
	for (int i = 0; i < c->nall; i++)
		if (!strcmp(c->all[i], svc))
			return true;
	return false;
}

/* `docker-compose config`'s normalized output: version, services (two
 * spaces in under "services:") and their images (four spaces in). */
static void parse_config(struct test_ctr *c, char *cfg, char **images, int *nimages)
{
	bool in_services = false;

	for (char *line = strtok(cfg, "\n"); line; line = strtok(NULL, "\n")) {
		size_t ind = strspn(line, " ");
		char *v;

		if (ind == 0) {
			in_services = !strcmp(line, "services:");
			if (!strncmp(line, "version:", 8)) {
				v = line + 8 + strspn(line + 8, " '\"");
				snprintf(c->version, sizeof(c->version), "%.*s",
					 (int)strcspn(v, "'\""), v);
			}
		} else if (in_services && ind == 2 && line[strlen(line) - 1] == ':' &&
			   c->nall < TEST_SERVICES_MAX) {
			line[strlen(line) - 1] = 0;
			c->all[c->nall++] = line + 2;
		} else if (in_services && ind == 4 && !strncmp(line + 4, "image: ", 7) &&
			   *nimages < TEST_SERVICES_MAX) {
			v = line + 11;
			if (*v == '\'' || *v == '"') {
				v++;
				v[strcspn(v, "'\"")] = 0;
			}
			images[(*nimages)++] = v;
		}
	}
}

const char *compose_prepare(struct test *t, struct runner_opts *ro)
{
	struct test_ctr *c = &t->ctr;
	static char cfg[CONFIG_MAX];
	char err[1024], *images[TEST_SERVICES_MAX];
	int nimages = 0, st;
	const char *why;

	(void)ro;
	if (c->kind != TEST_ENGINE_DOCKER)
		return "--compose drives docker-compose, against docker only (--engine docker)";
	if (access("/usr/bin/docker-compose", X_OK) == 0)
		snprintf(c->ccli, sizeof(c->ccli), "/usr/bin/docker-compose");
	else
		return "--compose needs docker-compose: apt-get install docker-compose";
	/* compose and the checks talk to the engine found. */
	setenv("DOCKER_HOST", c->host, 1);
	if (compose_words(c, false) || ctr_arg(c, "config"))
		return "argument list too long";
	st = ctr_capture(c->argv, cfg, sizeof(cfg), err, sizeof(err));
	if (st != 0) {
		snprintf(t->whybuf, sizeof(t->whybuf), "docker-compose cannot read %s: %.300s",
			 c->compose, err);
		return t->whybuf;
	}
	parse_config(c, cfg, images, &nimages);
	if (!c->nall) {
		snprintf(t->whybuf, sizeof(t->whybuf), "%s has no services", c->compose);
		return t->whybuf;
	}
	for (int i = 0; i < c->nservices; i++)
		if (!known(c, c->services[i])) {
			snprintf(t->whybuf, sizeof(t->whybuf),
				 "--service %s: %s has no such service", c->services[i],
				 c->compose);
			return t->whybuf;
		}
	for (int i = 0; i < t->nready; i++)
		if (t->readies[i].svc && !known(c, t->readies[i].svc)) {
			snprintf(t->whybuf, sizeof(t->whybuf),
				 "--ready %s=...: %s has no such service", t->readies[i].svc,
				 c->compose);
			return t->whybuf;
		}
	if (nimages < c->nall) {
		snprintf(t->whybuf, sizeof(t->whybuf),
			 "%s builds images (build:, no image:): build them first (docker-compose "
			 "build), hush test never builds nor pulls",
			 c->compose);
		return t->whybuf;
	}
	why = ctr_check(t, images, nimages);
	return why;
}

/* The override file: every service in the test's cgroup. */
static int write_override(struct test *t)
{
	struct test_ctr *c = &t->ctr;
	const char *id = strrchr(c->cgabs, '/');
	char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/override.yml", c->dir);
	f = fopen(p, "we");
	if (!f)
		return -errno;
	if (c->version[0])
		fprintf(f, "version: \"%s\"\n", c->version);
	fputs("services:\n", f);
	for (int i = 0; i < c->nall; i++)
		fprintf(
		    f,
		    "  %s:\n    cgroup_parent: \"%s\"\n    labels:\n      org.hush.test: \"%s\"\n",
		    c->all[i], c->cgparent, id ? id + 1 : "");
	return fclose(f) ? -errno : 0;
}

int compose_argv(struct test *t)
{
	struct test_ctr *c = &t->ctr;
	int ret = write_override(t);

	if (ret) {
		log_errno(ret, "cannot write the compose override in %s", c->dir);
		return ret;
	}
	if (compose_words(c, true) || ctr_arg(c, "up") || ctr_arg(c, "--no-build") ||
	    ctr_arg(c, "--no-color"))
		return -E2BIG;
	for (int i = 0; i < c->nservices; i++)
		if (ctr_arg(c, "%s", c->services[i]))
			return -E2BIG;
	return 0;
}

void compose_stop(struct test *t, int secs)
{
	struct test_ctr *c = &t->ctr;

	if (!compose_words(c, true) && !ctr_arg(c, "stop") && !ctr_arg(c, "--timeout") &&
	    !ctr_arg(c, "%d", secs))
		c->stop_pid = ctr_spawn_quiet(c->argv);
}

/* The stack's containers: id, service, exit code, name. */
static void list_containers(struct test *t)
{
	struct test_ctr *c = &t->ctr;
	static char out[CONFIG_MAX];
	char err[512], ids[TEST_SERVICES_MAX][65];
	int n = 0;

	if (engine_words(c) || ctr_arg(c, "ps") || ctr_arg(c, "--all") || ctr_arg(c, "--quiet") ||
	    ctr_arg(c, "--no-trunc") || ctr_arg(c, "--filter") ||
	    ctr_arg(c, "label=com.docker.compose.project=%s", c->name) ||
	    ctr_capture(c->argv, out, sizeof(out), err, sizeof(err)) != 0)
		return;
	for (char *l = strtok(out, "\n"); l && n < TEST_SERVICES_MAX; l = strtok(NULL, "\n"))
		snprintf(ids[n++], sizeof(ids[0]), "%s", l);
	if (!n || engine_words(c) || ctr_arg(c, "inspect") || ctr_arg(c, "--format") ||
	    ctr_arg(c, "{{.Id}} {{index .Config.Labels \"com.docker.compose.service\"}} "
		       "{{.State.ExitCode}} {{.Name}}"))
		return;
	for (int i = 0; i < n; i++)
		if (ctr_arg(c, "%s", ids[i]))
			return;
	if (ctr_capture(c->argv, out, sizeof(out), err, sizeof(err)) != 0)
		return;
	for (char *l = strtok(out, "\n"); l && c->nsvc < TEST_SERVICES_MAX;
	     l = strtok(NULL, "\n")) {
		struct test_service *s = &c->svc[c->nsvc];

		if (sscanf(l, "%64s %63s %d /%127s", s->id, s->name, &s->exit_code, s->cname) == 4)
			c->nsvc++;
	}
}

void compose_finish(struct test *t)
{
	struct test_ctr *c = &t->ctr;
	const struct runner_result *r = &t->res;
	char out[1024], err[2048], p[128];

	if (!c->dir[0] || !c->name[0])
		return;
	list_containers(t);
	if (!r->stopped && !r->interrupted && !r->exec_failed && !t->ignore_exit) {
		for (int i = 0; i < c->nsvc && !c->fail[0]; i++)
			if (c->svc[i].exit_code)
				snprintf(
				    c->fail, sizeof(c->fail),
				    "service %s (container %s) exited with status %d on its own, "
				    "before the timeout (--ignore-exit-status: judge its "
				    "attempts only)",
				    c->svc[i].name, c->svc[i].cname, c->svc[i].exit_code);
		if (!c->fail[0] && r->exit_code)
			snprintf(c->fail, sizeof(c->fail),
				 "docker-compose up exited with status %d (its message is above)",
				 r->exit_code);
	}
	if (!compose_words(c, true) && !ctr_arg(c, "down") && !ctr_arg(c, "--volumes") &&
	    !ctr_arg(c, "--remove-orphans") && !ctr_arg(c, "--timeout") && !ctr_arg(c, "0") &&
	    ctr_capture(c->argv, out, sizeof(out), err, sizeof(err)) != 0)
		log_warnx("test: docker-compose down of project %s failed: %s", c->name, err);
	snprintf(p, sizeof(p), "%s/override.yml", c->dir);
	unlink(p);
}
