// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hush test --image IMAGE: hush starts the container itself, in the test's
 * cgroup, before its first instruction.
 *
 * The test's cgroup T (agent/runner.c) gets two children: T/hush, where the
 * engine's client runs (`docker run`, started there by clone3 like any
 * command), and T/docker (T/podman), the container's --cgroup-parent: the
 * engine (cgroupfs driver) makes T/docker/<id> and runc puts the container's
 * init there before it execs, so the test's programs (attached to T, in
 * effect for every cgroup below) judge the container from its first
 * instruction.  T itself holds no process: runc may enable controllers in
 * T, which cgroup v2 refuses for a cgroup with processes of its own.
 *
 * The engine: --engine, or DOCKER_HOST / CONTAINER_HOST, or the default
 * sockets (/run/docker.sock, /run/podman/podman.sock); hush drives the
 * engine's client (docker --host, podman --url) and never pulls.  At the
 * timeout (or after --observe) the engine's stop (SIGTERM, then --grace),
 * then cgroup.kill of T; at the end the container is removed (also after
 * SIGINT or a failure) and so are the cgroup v1 directories runc made on a
 * hybrid host.  Containers are named hush-test.PID.N-CGID: parallel tests
 * never collide.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agent/attrib.h"
#include "agent/cgroup.h"
#include "agent/curl_load.h"
#include "agent/event.h"
#include "agent/log.h"
#include "cli/test_int.h"

extern char **environ;

static void container_of(const struct test_ctr *c, uint64_t cgid, char *out, size_t len);

/* ---- helpers shared with test_compose.c ---- */

void ctr_argv_reset(struct test_ctr *c)
{
	c->nstrs = 0;
	c->argv[0] = NULL;
}

int ctr_arg(struct test_ctr *c, const char *fmt, ...)
{
	size_t n = 0;
	va_list ap;
	int len;

	while (c->argv[n])
		n++;
	if (n + 1 >= TEST_ARGV_MAX)
		return -E2BIG;
	va_start(ap, fmt);
	len = vsnprintf(c->strs + c->nstrs, sizeof(c->strs) - c->nstrs, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(c->strs) - c->nstrs)
		return -E2BIG;
	c->argv[n] = c->strs + c->nstrs;
	c->argv[n + 1] = NULL;
	c->nstrs += (size_t)len + 1;
	return 0;
}

/* Read fd to its end into buf (NUL-terminated, cut to len). */
static void drain(int fd, char *buf, size_t len)
{
	size_t o = 0;
	char junk[512];
	ssize_t n;

	for (;;) {
		if (o + 1 < len)
			n = read(fd, buf + o, len - 1 - o);
		else
			n = read(fd, junk, sizeof(junk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (o + 1 < len)
			o += (size_t)n;
	}
	if (len)
		buf[o] = 0;
}

/* argv[0] started with stdout (and stderr) to pipes: the pid, or -1. */
static pid_t spawn_piped(char *const argv[], int *outfd, int *errfd)
{
	posix_spawn_file_actions_t fa;
	int po[2], pe[2];
	pid_t pid;

	if (pipe2(po, O_CLOEXEC))
		return -1;
	if (pipe2(pe, O_CLOEXEC)) {
		close(po[0]);
		close(po[1]);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pe[1], STDERR_FILENO);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ))
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	*outfd = po[0];
	*errfd = pe[0];
	return pid;
}

/* Wait for pid and read its pipes: its exit status, or -1. */
static int collect_piped(pid_t pid, int outfd, int errfd, char *out, size_t len, char *err,
			 size_t errlen)
{
	char ebuf[2];
	int st;

	if (pid < 0) {
		close(outfd);
		close(errfd);
		return -1;
	}
	drain(outfd, out, len);
	drain(errfd, err ? err : ebuf, err ? errlen : sizeof(ebuf));
	close(outfd);
	close(errfd);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int ctr_capture(char *const argv[], char *out, size_t len, char *err, size_t errlen)
{
	int o = -1, e = -1;
	pid_t pid = spawn_piped(argv, &o, &e);

	return collect_piped(pid, o, e, out, len, err, errlen);
}

pid_t ctr_spawn_quiet(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ))
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

/* Trailing white space off. */
static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = 0;
}

/* name on PATH into buf: 0, or -ENOENT. */
static int which(const char *name, char *buf, size_t len)
{
	const char *path = getenv("PATH");
	char dir[256];

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
		if (n && snprintf(buf, len, "%s/%s", dir, name) < (int)len &&
		    access(buf, X_OK) == 0)
			return 0;
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}

/* ---- the engine ---- */

/* Which engine, where: --engine, then DOCKER_HOST, CONTAINER_HOST, the
 * default sockets.  NULL, or why not. */
static const char *find_engine(struct test *t)
{
	struct test_ctr *c = &t->ctr;
	const char *dh = getenv("DOCKER_HOST"), *ch = getenv("CONTAINER_HOST"), *sock;
	struct stat st;

	if (c->engine)
		c->kind = strcmp(c->engine, "podman") ? TEST_ENGINE_DOCKER : TEST_ENGINE_PODMAN;
	else if (dh && *dh)
		c->kind = TEST_ENGINE_DOCKER;
	else if (ch && *ch)
		c->kind = TEST_ENGINE_PODMAN;
	else if (access("/run/docker.sock", F_OK) && !access("/run/podman/podman.sock", F_OK))
		c->kind = TEST_ENGINE_PODMAN;
	else
		c->kind = TEST_ENGINE_DOCKER;
	if (c->kind == TEST_ENGINE_DOCKER)
		snprintf(c->host, sizeof(c->host), "%s",
			 dh && *dh ? dh : "unix:///run/docker.sock");
	else
		snprintf(c->host, sizeof(c->host), "%s",
			 ch && *ch ? ch : "unix:///run/podman/podman.sock");
	if (strncmp(c->host, "unix://", 7)) {
		snprintf(t->whybuf, sizeof(t->whybuf),
			 "the engine at %s is not on this machine's unix socket: hush puts the "
			 "container in the test's cgroup, which needs the engine here "
			 "(DOCKER_HOST/CONTAINER_HOST=unix:///PATH)",
			 c->host);
		return t->whybuf;
	}
	sock = c->host + 7;
	if (stat(sock, &st) || !S_ISSOCK(st.st_mode)) {
		snprintf(t->whybuf, sizeof(t->whybuf),
			 "no %s engine at %s: %s, or point %s at its socket",
			 c->kind == TEST_ENGINE_DOCKER ? "docker" : "podman", c->host,
			 c->kind == TEST_ENGINE_DOCKER
			     ? "start dockerd (systemctl start docker)"
			     : "start its API service (systemctl start podman.socket, or podman "
			       "system service)",
			 c->kind == TEST_ENGINE_DOCKER ? "DOCKER_HOST" : "CONTAINER_HOST");
		return t->whybuf;
	}
	if (which(c->kind == TEST_ENGINE_DOCKER ? "docker" : "podman", c->cli, sizeof(c->cli))) {
		snprintf(t->whybuf, sizeof(t->whybuf),
			 "no %s client on PATH: install it (apt-get install %s)",
			 c->kind == TEST_ENGINE_DOCKER ? "docker" : "podman",
			 c->kind == TEST_ENGINE_DOCKER ? "docker.io" : "podman");
		return t->whybuf;
	}
	return NULL;
}

int engine_words(struct test_ctr *c)
{
	ctr_argv_reset(c);
	if (ctr_arg(c, "%s", c->cli) ||
	    ctr_arg(c, c->kind == TEST_ENGINE_DOCKER ? "--host" : "--url") ||
	    ctr_arg(c, "%s", c->host))
		return -E2BIG;
	return 0;
}

/* NULL, or why not (in why). */
static const char *check_engine(struct test_ctr *c, char *const images[], int nimages, char *why,
				size_t whylen)
{
	static char body[1 << 18];
	char path[1200], msg[256], drv[64];
	const char *sock = c->host + 7;
	int st;

	st = ctr_api_get(sock, "/info", body, sizeof(body));
	if (st != 200) {
		ctr_json_str(body, "message", msg, sizeof(msg));
		snprintf(why, whylen, "the engine at %s does not answer: %s", c->host,
			 st < 0	  ? strerror(-st)
			 : msg[0] ? msg
				  : "bad answer to /info");
		return why;
	}
	ctr_json_str(body, "CgroupDriver", drv, sizeof(drv));
	if (strcmp(drv, "cgroupfs")) {
		snprintf(why, whylen,
			 "the engine at %s uses the %s cgroup driver: hush test --image needs "
			 "cgroupfs, where --cgroup-parent may name the test's cgroup "
			 "(dockerd --exec-opt native.cgroupdriver=cgroupfs; podman "
			 "--cgroup-manager cgroupfs)",
			 c->host, drv[0] ? drv : "(unknown)");
		return why;
	}
	for (int i = 0; i < nimages; i++) {
		char esc[1024];

		ctr_url_escape(images[i], esc, sizeof(esc));
		snprintf(path, sizeof(path), "/images/%s/json", esc);
		st = ctr_api_get(sock, path, body, sizeof(body));
		if (st != 200) {
			ctr_json_str(body, "message", msg, sizeof(msg));
			snprintf(why, whylen,
				 "image %.150s is not on the engine at %.100s (%.100s): hush never "
				 "pulls; docker pull %.150s (or docker load -i IMAGE.tar) first",
				 images[i], c->host,
				 st < 0	  ? strerror(-st)
				 : msg[0] ? msg
					  : "no such image",
				 images[i]);
			return why;
		}
		if (nimages == 1) {
			ctr_json_str(body, "Id", c->image_id, sizeof(c->image_id));
			ctr_json_strs(body, "RepoDigests", c->digests, sizeof(c->digests));
		}
	}
	return NULL;
}

const char *ctr_check(struct test *t, char *const images[], int nimages)
{
	return check_engine(&t->ctr, images, nimages, t->whybuf, sizeof(t->whybuf));
}

static void *check_thread(void *arg)
{
	struct test_ctr *c = arg;
	char *img[1] = {(char *)c->image};

	c->check_failed = check_engine(c, img, 1, c->check_why, sizeof(c->check_why));
	return NULL;
}

/* The engine's answers, once: NULL, or why not (into t->whybuf if say). */
static const char *check_join(struct test *t, bool say)
{
	struct test_ctr *c = &t->ctr;

	if (!c->checking)
		return NULL;
	pthread_join(c->check_thr, NULL);
	c->checking = false;
	if (!c->check_failed || !say)
		return c->check_failed;
	snprintf(t->whybuf, sizeof(t->whybuf), "%s", c->check_why);
	return t->whybuf;
}

/* ---- the run ---- */

/* runner's on_cgroup: the containers' parent cgroup, their names, and the
 * engine's command line. */
static int on_cgroup(void *ctx, const char *rel, const char *abs)
{
	struct test *t = ctx;
	struct test_ctr *c = &t->ctr;
	const char *sub = c->kind == TEST_ENGINE_PODMAN ? "podman" : "docker";
	const char *base = strrchr(abs, '/');
	char **a = t->argv;
	uint64_t id = 0;
	char p[4200];

	/* Nothing of the engine's runs before it said yes (exit 2 then). */
	if (check_join(t, true))
		return -EINVAL;
	snprintf(c->cgabs, sizeof(c->cgabs), "%s", abs);
	cgroup_id_of(abs, &c->run_cgid);
	snprintf(p, sizeof(p), "%s/hush", abs);
	cgroup_id_of(p, &c->client_cgid);
	snprintf(p, sizeof(p), "%s/%s", abs, sub);
	if (mkdir(p, 0755) && errno != EEXIST) {
		int ret = -errno;

		log_errno(ret, "cannot create cgroup %s", p);
		return ret;
	}
	snprintf(c->cgparent, sizeof(c->cgparent), "%s/%s", strcmp(rel, "/") ? rel : "", sub);
	cgroup_id_of(abs, &id);
	if (c->compose) {
		snprintf(c->name, sizeof(c->name), "hushtest%llx", (unsigned long long)id);
		return compose_argv(t);
	}
	snprintf(c->name, sizeof(c->name), "%s-%llx", base ? base + 1 : "hush-test",
		 (unsigned long long)id);
	if (engine_words(c) || ctr_arg(c, "run") || ctr_arg(c, "--rm") || ctr_arg(c, "--name") ||
	    ctr_arg(c, "%s", c->name) || ctr_arg(c, "--cidfile") || ctr_arg(c, "%s/cid", c->dir) ||
	    ctr_arg(c, "--cgroup-parent") || ctr_arg(c, "%s", c->cgparent) ||
	    ctr_arg(c, "--label") || ctr_arg(c, "org.hush.test=%s", base ? base + 1 : "") ||
	    /* conmon is podman's monitor, as containerd-shim is docker's: out of
	     * the test (the run ends with the container, not with conmon's
	     * cleanup after it). */
	    (c->kind == TEST_ENGINE_PODMAN && ctr_arg(c, "--cgroups=no-conmon")) ||
	    (c->network && (ctr_arg(c, "--network") || ctr_arg(c, "%s", c->network))))
		goto big;
	for (int i = 0; i < c->nenvs; i++)
		if (ctr_arg(c, "--env") || ctr_arg(c, "%s", c->envs[i]))
			goto big;
	if (ctr_arg(c, "%s", c->image))
		goto big;
	for (; a && *a; a++)
		if (ctr_arg(c, "%s", *a))
			goto big;
	return 0;
big:
	log_warnx("test: the engine's command line is too long (at most %d words, %zu bytes)",
		  TEST_ARGV_MAX, sizeof(c->strs));
	return -E2BIG;
}

/* runner's on_stop: the engine's stop, with --grace (hush's cgroup.kill
 * follows at the end of the grace anyway). */
static void on_stop(void *ctx)
{
	struct test *t = ctx;
	struct test_ctr *c = &t->ctr;
	int secs = (int)((t->grace_ns + 999999999) / 1000000000);
	char *save[TEST_ARGV_MAX];
	char strs[sizeof(c->strs)];
	size_t nstrs = c->nstrs;

	if (secs < 1)
		secs = 1;
	/* argv is the running command's: build the stop in its place, then
	 * put it back. */
	memcpy(save, c->argv, sizeof(save));
	memcpy(strs, c->strs, sizeof(strs));
	if (c->compose)
		compose_stop(t, secs);
	else if (!engine_words(c) && !ctr_arg(c, "stop") && !ctr_arg(c, "--time") &&
		 !ctr_arg(c, "%d", secs) && !ctr_arg(c, "%s", c->name))
		c->stop_pid = ctr_spawn_quiet(c->argv);
	memcpy(c->argv, save, sizeof(save));
	memcpy(c->strs, strs, sizeof(strs));
	c->nstrs = nstrs;
}

const char *test_ctr_prepare(struct test *t, struct runner_opts *ro)
{
	struct test_ctr *c = &t->ctr;
	const char *why;

	c->stop_pid = -1;
	why = find_engine(t);
	if (why)
		return why;
	/* libcurl, and its global state, before any thread asks the engine */
	why = hush_curl_load(NULL);
	if (why)
		return why;
	curl_global_init(CURL_GLOBAL_NOTHING);
	if (c->compose) {
		why = compose_prepare(t, ro);
		if (why)
			return why;
	} else if (pthread_create(&c->check_thr, NULL, check_thread, c) == 0) {
		/* The engine answers while the test sets up (podman's /info
		 * alone takes 20 ms); on_cgroup waits for it. */
		c->checking = true;
	} else {
		char *img[1] = {(char *)c->image};

		why = ctr_check(t, img, 1);
		if (why)
			return why;
	}
	snprintf(c->dir, sizeof(c->dir), "/tmp/hush-image.XXXXXX");
	if (!mkdtemp(c->dir)) {
		c->dir[0] = 0;
		snprintf(t->whybuf, sizeof(t->whybuf), "cannot make a directory in /tmp: %s",
			 strerror(errno));
		return t->whybuf;
	}
	ro->command_cgroup = "hush";
	ro->on_cgroup = on_cgroup;
	ro->on_stop = on_stop;
	return NULL;
}

/* ---- after the run ---- */

/* rmdir every directory of the tree below path, depth first; never kills:
 * what still holds a process stays. */
static void rmdir_only(const char *path, int depth)
{
	char p[4300];
	struct dirent *de;
	DIR *d;

	if (depth > 0 && (d = opendir(path))) {
		while ((de = readdir(d)))
			if (de->d_type == DT_DIR && de->d_name[0] != '.' &&
			    snprintf(p, sizeof(p), "%s/%s", path, de->d_name) < (int)sizeof(p))
				rmdir_only(p, depth - 1);
		closedir(d);
	}
	rmdir(path);
}

/* On a hybrid host runc also makes the container's cgroups in each cgroup
 * v1 hierarchy (the test's path, then docker/<id>): emptied, they go. */
static void v1_cleanup(const struct test_ctr *c)
{
	char line[4096], mnt[1024], type[64], rel[4200], p[4300];
	const char *sub = strrchr(c->cgparent, '/');
	FILE *f = fopen("/proc/mounts", "re");

	if (!f || !sub || sub == c->cgparent) {
		if (f)
			fclose(f);
		return;
	}
	snprintf(rel, sizeof(rel), "%.*s", (int)(sub - c->cgparent), c->cgparent);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %1023s %63s", mnt, type) == 2 && !strcmp(type, "cgroup") &&
		    snprintf(p, sizeof(p), "%s%s", mnt, rel) < (int)sizeof(p))
			rmdir_only(p, 4);
	fclose(f);
}

static void read_cid(struct test_ctr *c)
{
	char p[128], id[80] = "";
	int fd;

	snprintf(p, sizeof(p), "%s/cid", c->dir);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		drain(fd, id, sizeof(id));
		close(fd);
	}
	unlink(p);
	chomp(id);
	/* an engine's container id: 64 hex digits; anything longer is no id */
	if (!id[0] || strlen(id) >= sizeof(c->svc[0].id))
		return;
	c->nsvc = 1;
	memcpy(c->svc[0].id, id, strlen(id) + 1);
	snprintf(c->svc[0].cname, sizeof(c->svc[0].cname), "%s", c->name);
}

/* Each attempt's service, from its container. */
static void attempts_services(struct test *t)
{
	for (size_t i = 0; i < t->nat; i++) {
		struct attempt *a = &t->at[i];

		if (!a->container[0])
			container_of(&t->ctr, a->ev.cgroup_id, a->container, sizeof(a->container));
		/* --image: a cgroup of the test other than the client's is the
		 * container's (one that came and went between two looks). */
		if (!a->container[0] && t->ctr.image && t->ctr.nsvc == 1 &&
		    a->ev.hook != HUSH_HOOK_CGMOVE && a->ev.cgroup_id != t->ctr.client_cgid &&
		    a->ev.cgroup_id != t->ctr.run_cgid)
			snprintf(a->container, sizeof(a->container), "%s", t->ctr.svc[0].id);
	}
	for (size_t i = 0; i < t->nat; i++)
		for (int k = 0; k < t->ctr.nsvc && t->at[i].container[0]; k++)
			if (!strcmp(t->at[i].container, t->ctr.svc[k].id))
				snprintf(t->at[i].service, sizeof(t->at[i].service), "%s",
					 t->ctr.svc[k].name);
}

void test_ctr_finish(struct test *t)
{
	struct test_ctr *c = &t->ctr;
	const struct runner_result *r = &t->res;

	if (!test_ctr_on(t))
		return;
	(void)check_join(t, false); /* the set-up failed before on_cgroup: said already */
	if (c->stop_pid > 0)
		waitpid(c->stop_pid, NULL, 0);
	c->stop_pid = -1;
	if (c->compose) {
		compose_finish(t);
	} else if (c->dir[0] && c->name[0]) {
		read_cid(c);
		c->svc[0].exit_code = r->exit_code;
		/* --rm removed it when the client saw it end; else it goes here. */
		if ((r->stopped || r->interrupted || r->exit_code || r->exec_failed) &&
		    !engine_words(c) && !ctr_arg(c, "rm") && !ctr_arg(c, "--force") &&
		    !ctr_arg(c, "--volumes") && !ctr_arg(c, "%s", c->name)) {
			char out[256], err[512];

			ctr_capture(c->argv, out, sizeof(out), err, sizeof(err));
		}
	}
	if (c->cgparent[0])
		v1_cleanup(c);
	attempts_services(t);
	if (c->dir[0]) {
		rmdir(c->dir);
		c->dir[0] = 0;
	}
}

const char *test_ctr_failed(struct test *t)
{
	const struct runner_result *r = &t->res;
	const char *eng = t->ctr.kind == TEST_ENGINE_PODMAN ? "podman" : "docker";

	if (r->stopped || r->interrupted || r->exec_failed)
		return NULL;
	if (t->ctr.compose)
		return t->ctr.fail[0] ? t->ctr.fail : NULL; /* compose_finish said it */
	if (r->exit_code == 125)
		snprintf(t->whybuf, sizeof(t->whybuf),
			 "the container could not be started (%s run exit 125; the engine's "
			 "message is above)",
			 eng);
	else if (r->exit_code == 126 || r->exit_code == 127)
		snprintf(t->whybuf, sizeof(t->whybuf),
			 "the container's command could not be %s (%s run exit %d)",
			 r->exit_code == 126 ? "invoked" : "found", eng, r->exit_code);
	else if (r->exit_code && !t->ignore_exit)
		snprintf(t->whybuf, sizeof(t->whybuf),
			 "the container exited with status %d on its own, before the timeout "
			 "(--ignore-exit-status: judge its attempts only)",
			 r->exit_code);
	else
		return NULL;
	return t->whybuf;
}

void test_ctr_ready_env(const struct test *t, const char *svc, char *buf, size_t len)
{
	if (t->ctr.compose)
		snprintf(buf, len, "%s_%s_1", t->ctr.name, svc ? svc : "");
	else
		snprintf(buf, len, "%s", t->ctr.name);
}

/* The container of a cgroup id: from its path while the cgroup exists, or
 * from the containers' cgroups seen so far.  "" when none. */
static void container_of(const struct test_ctr *c, uint64_t cgid, char *out, size_t len)
{
	struct attrib at;

	out[0] = 0;
	attrib_parse(event_cgroup_name(cgid), &at);
	if (at.container_id[0]) {
		snprintf(out, len, "%s", at.container_id);
		return;
	}
	for (int i = 0; i < c->nseen; i++)
		if (c->seen[i].cgid == cgid) {
			snprintf(out, len, "%s", c->seen[i].id);
			return;
		}
}

void test_ctr_attrib(struct test *t, struct attempt *a)
{
	if (test_ctr_on(t))
		container_of(&t->ctr, a->ev.cgroup_id, a->container, sizeof(a->container));
}

void test_ctr_tick(struct test *t)
{
	struct test_ctr *c = &t->ctr;
	const char *sub = c->kind == TEST_ENGINE_PODMAN ? "podman" : "docker";
	char p[4600];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (!test_ctr_on(t) || !c->cgabs[0] || c->nseen >= TEST_SEEN_MAX)
		return;
	snprintf(p, sizeof(p), "%s/%s", c->cgabs, sub);
	d = opendir(p);
	if (!d)
		return;
	pthread_mutex_lock(&t->mu);
	while ((de = readdir(d)) && c->nseen < TEST_SEEN_MAX) {
		struct attrib at;
		bool known = false;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/%s/%s", sub, de->d_name);
		attrib_parse(p, &at);
		for (int i = 0; i < c->nseen && !known; i++)
			known = !strcmp(c->seen[i].id, at.container_id);
		snprintf(p, sizeof(p), "%s/%s/%s", c->cgabs, sub, de->d_name);
		if (known || !at.container_id[0] || stat(p, &st))
			continue;
		c->seen[c->nseen].cgid = (uint64_t)st.st_ino;
		snprintf(c->seen[c->nseen].id, sizeof(c->seen[0].id), "%s", at.container_id);
		c->nseen++;
	}
	pthread_mutex_unlock(&t->mu);
	closedir(d);
}

const char *test_ctr_what(const struct test *t, char *buf, size_t len)
{
	if (t->ctr.compose)
		snprintf(buf, len, "compose %s", t->ctr.compose);
	else if (t->ctr.image)
		snprintf(buf, len, "image %s", t->ctr.image);
	else
		buf[0] = 0;
	return buf;
}
