// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hush test [--policy FILE] [--timeout DUR] [--grace DUR] [--ready CMD|tcp:PORT]
 *           [--observe DUR] [--name NAME] [--ignore-exit-status] [--mode enforce|audit]
 *           [--json FILE] [--junit FILE] [--cgroup-parent DIR] [--user USER[:GROUP]]
 *           [--keep-cap CAP]... [--allow-inherited-socket] -- CMD [ARGS...]
 *
 * The network silence test: CMD runs in a fresh cgroup with its own program
 * instance and DNS proxy (agent/runner.c), started there by clone3 so it
 * never runs unenforced, until every process of the cgroup has exited, or
 * the timeout (or --observe DUR after --ready): then every process of the
 * cgroup gets SIGTERM, --grace to end, and the rest is killed; everything is
 * removed.  Every attempt outside the policy (denied connects and sends, DNS
 * names asked for, socket creations the policy forbids, a process moving out
 * of the cgroup), also during the grace, is collected, coalesced by
 * process, destination and name, and reported.  A container engine's
 * `run` as CMD is refused (test_engine.c).
 *
 * Exit: 0 silent, 1 noisy, 2 usage or set-up error (also: CMD could not be
 * started, never became ready, or exited non-zero on its own before hush
 * stopped it, unless --ignore-exit-status), 3 inconclusive (an event was
 * lost: a test never passes on missing data).  Noisy wins over an error of
 * the command's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/db.h"
#include "agent/event.h"
#include "agent/log.h"
#include "agent/runner.h"
#include "agent/sinkhole_net.h"
#include "cli/cli.h"

#include "cli/test_int.h"

#define DEFAULT_TIMEOUT "60s"
#define DEFAULT_GRACE	"5s"
#define READY_EVERY_NS	100000000ull

extern char **environ;

/* ---- readiness and the live line ---- */

static bool tcp_ready(int port)
{
	static const int fam[2] = {AF_INET, AF_INET6};

	for (int i = 0; i < 2; i++) {
		struct sockaddr_storage ss = {0};
		struct pollfd pfd;
		socklen_t len;
		int fd, err = 0;

		if (fam[i] == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			a->sin_family = AF_INET;
			a->sin_port = htons((uint16_t)port);
			a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			len = sizeof(*a);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			a->sin6_family = AF_INET6;
			a->sin6_port = htons((uint16_t)port);
			a->sin6_addr = in6addr_loopback;
			len = sizeof(*a);
		}
		fd = socket(fam[i], SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, (struct sockaddr *)&ss, len) && errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, 50) == 1) {
				len = sizeof(err);
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			} else {
				err = ETIMEDOUT;
			}
		} else if (errno) {
			err = errno;
		}
		close(fd);
		if (!err)
			return true;
		errno = 0;
	}
	return false;
}

/* A --ready command, on the host, its output no part of the report; with
 * --image/--compose, HUSH_TEST_CONTAINER (and HUSH_TEST_SERVICE) name what
 * it probes. */
static void ready_spawn(struct test *t, struct test_ready *r)
{
	char *args[] = {"sh", "-c", (char *)r->cmd, NULL};
	char cont[200], svc[100], **envp = NULL;
	posix_spawn_file_actions_t fa;
	size_t n = 0;

	if (test_ctr_on(t)) {
		while (environ[n])
			n++;
		envp = calloc(n + 3, sizeof(*envp));
		if (envp) {
			memcpy(envp, environ, n * sizeof(*envp));
			snprintf(cont, sizeof(cont), "HUSH_TEST_CONTAINER=");
			test_ctr_ready_env(t, r->svc, cont + 20, sizeof(cont) - 20);
			snprintf(svc, sizeof(svc), "HUSH_TEST_SERVICE=%s", r->svc ? r->svc : "");
			envp[n] = cont;
			envp[n + 1] = svc;
		}
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
	if (posix_spawn(&r->pid, "/bin/sh", &fa, NULL, args, envp ? envp : environ))
		r->pid = 0;
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
}

static bool probe_ready(struct test *t, struct test_ready *r, uint64_t elapsed)
{
	if (r->ok)
		return true;
	if (r->port) {
		if (elapsed < r->next)
			return false;
		r->next = elapsed + READY_EVERY_NS;
		return r->ok = tcp_ready(r->port);
	}
	if (r->pid > 0) {
		int st;
		pid_t p = waitpid(r->pid, &st, WNOHANG);

		if (p == 0)
			return false;
		r->pid = 0;
		if (p > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			return r->ok = true;
	}
	if (elapsed >= r->next) {
		ready_spawn(t, r);
		r->next = elapsed + READY_EVERY_NS;
	}
	return false;
}

/* Every --ready probe succeeded. */
static bool all_ready(struct test *t, uint64_t elapsed)
{
	bool all = true;

	for (int i = 0; i < t->nready; i++)
		if (!probe_ready(t, &t->readies[i], elapsed))
			all = false;
	return all;
}

/* Readiness, the live line; true once --observe has watched long enough. */
static bool on_tick(void *ctx, uint64_t elapsed)
{
	struct test *t = ctx;

	test_ctr_tick(t);
	if (t->ready && t->ready_ns < 0 && all_ready(t, elapsed))
		t->ready_ns = (int64_t)elapsed;
	if (t->live && elapsed >= t->live_next) {
		uint64_t n;

		pthread_mutex_lock(&t->mu);
		n = t->total;
		pthread_mutex_unlock(&t->mu);
		fprintf(stderr, "\r\033[Khush test: %.1f s", (double)elapsed / 1e9);
		if (t->timeout_ns)
			fprintf(stderr, " / %.0f s", (double)t->timeout_ns / 1e9);
		fprintf(stderr, ", %llu attempt%s%s", (unsigned long long)n, n == 1 ? "" : "s",
			t->ready ? (t->ready_ns >= 0 ? ", ready" : ", not ready yet") : "");
		t->live_next = elapsed + 250000000ull;
	}
	if (!t->observe_ns || (t->ready && t->ready_ns < 0))
		return false;
	return (int64_t)elapsed >= (t->ready ? t->ready_ns : 0) + t->observe_ns;
}

/* ---- the command ---- */

static int test_usage_to(FILE *out)
{
	fprintf(out,
		"usage: hush test [--policy FILE] [--timeout DUR] [--grace DUR]\n"
		"                 [--ready CMD|tcp:PORT] [--observe DUR] [--name NAME]\n"
		"                 [--ignore-exit-status] [--mode enforce|audit]\n"
		"                 [--json FILE] [--junit FILE]\n"
		"                 [--cgroup-parent DIR] [--ringbuf-size BYTES] [--sinkhole]\n"
		"                 [--user USER[:GROUP]] [--keep-cap CAP]... "
		"[--allow-inherited-socket]\n"
		"                 -- CMD [ARGS...]\n"
		"       hush test [test options] --image IMAGE [--engine docker|podman]\n"
		"                 [--network NAME] [--env K=V]... [-- ARGS...]\n"
		"       hush test [test options] --compose FILE [--service S]...\n"
		"                 [--ready SERVICE=CMD]...\n"
		"exit: 0 silent, 1 noisy, 2 usage or set-up error or the command failed on its "
		"own,\n      3 inconclusive (events lost)\n");
	return EXIT_SETUP;
}

/* One --ready: tcp:PORT, SERVICE=CMD (--compose), or CMD.  0, or -1
 * after saying why. */
static int ready_check(struct test *t, struct test_ready *r)
{
	size_t n =
	    strspn(r->cmd, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	if (t->ctr.compose && n && r->cmd[n] == '=') {
		static char svcs[TEST_READY_MAX][64];
		size_t i = (size_t)(r - t->readies);

		snprintf(svcs[i], sizeof(svcs[i]), "%.*s", (int)n, r->cmd);
		r->svc = svcs[i];
		r->cmd += n + 1;
	}
	if (!strncmp(r->cmd, "tcp:", 4)) {
		char *end;
		long p = strtol(r->cmd + 4, &end, 10);

		if (*end || p < 1 || p > 65535) {
			log_warnx("--ready %s: need tcp:PORT (1-65535) or a command", r->cmd);
			return -1;
		}
		if (test_ctr_on(t)) {
			log_warnx("--ready %s: tcp:PORT probes this host's loopback, not a "
				  "container's; give a command (HUSH_TEST_CONTAINER names the "
				  "container, e.g. docker exec \"$HUSH_TEST_CONTAINER\" ...)",
				  r->cmd);
			return -1;
		}
		r->port = (int)p;
	}
	return 0;
}

/* --image/--compose and what goes with them.  0, or -1 after saying why. */
static int ctr_check_args(struct test *t)
{
	const struct test_ctr *c = &t->ctr;

	if (c->image && c->compose) {
		log_warnx("--image and --compose: one or the other");
		return -1;
	}
	if (c->engine && strcmp(c->engine, "docker") && strcmp(c->engine, "podman")) {
		log_warnx("--engine %s: docker or podman", c->engine);
		return -1;
	}
	if (c->compose && t->argv[0]) {
		log_warnx("--compose runs the stack as its file says: no command after --");
		return -1;
	}
	if (c->image && (c->nservices || c->nenvs >= TEST_ENVS_MAX)) {
		log_warnx("--service goes with --compose");
		return -1;
	}
	if (c->compose && (c->network || c->nenvs)) {
		log_warnx("--network and --env go with --image (the compose file sets them)");
		return -1;
	}
	if (t->sinkhole || t->contain.has_user || t->contain.nkeep) {
		log_warnx("--sinkhole, --user and --keep-cap apply to a command, not to a "
			  "container (its image's USER and the engine's defaults apply)");
		return -1;
	}
	return 0;
}

static int test_usage(void)
{
	return test_usage_to(stderr);
}

/* The options' values, checked: 0, or the usage exit code after saying why. */
static int test_check(struct test *t, const char *timeout, const char *grace, const char *observe)
{
	if (t->mode && strcmp(t->mode, "enforce") && strcmp(t->mode, "audit")) {
		log_warnx("--mode %s: use enforce or audit", t->mode);
		return test_usage();
	}
	if (strcmp(timeout, "0") &&
	    (db_parse_duration(timeout, &t->timeout_ns) || t->timeout_ns <= 0)) {
		log_warnx("--timeout %s: need a duration such as 30s, 5m or 1h (0: none)", timeout);
		return test_usage();
	}
	if (strcmp(grace, "0") && (db_parse_duration(grace, &t->grace_ns) || t->grace_ns <= 0)) {
		log_warnx("--grace %s: need a duration such as 5s (0: kill at once)", grace);
		return test_usage();
	}
	if (observe && (db_parse_duration(observe, &t->observe_ns) || t->observe_ns <= 0)) {
		log_warnx("--observe %s: need a duration such as 10s", observe);
		return test_usage();
	}
	for (int i = 0; i < t->nready; i++)
		if (ready_check(t, &t->readies[i]))
			return test_usage();
	if (test_ctr_on(t) && ctr_check_args(t))
		return test_usage();
	if (t->sinkhole && t->mode && strcmp(t->mode, "audit")) {
		log_warnx("--sinkhole lets every attempt through to the sinkhole: it cannot be "
			  "combined with --mode %s",
			  t->mode);
		return test_usage();
	}
	return 0;
}

/* --image, --engine, --network, --env, --compose, --service: 0, or -1
 * after saying why. */
static int ctr_option(struct test *t, int opt, const char *arg)
{
	switch (opt) {
	case 'I':
		t->ctr.image = arg;
		break;
	case 'E':
		t->ctr.engine = arg;
		break;
	case 'N':
		t->ctr.network = arg;
		break;
	case 'e':
		if (t->ctr.nenvs >= TEST_ENVS_MAX || !strchr(arg, '=')) {
			log_warnx("--env %s: need K=V (at most %d)", arg, TEST_ENVS_MAX);
			return -1;
		}
		t->ctr.envs[t->ctr.nenvs++] = arg;
		break;
	case 'C':
		t->ctr.compose = arg;
		break;
	case 'V':
		if (t->ctr.nservices >= TEST_SERVICES_MAX)
			return -1;
		t->ctr.services[t->ctr.nservices++] = arg;
		break;
	}
	return 0;
}

/* Options into t and ro: 0, -1 after --help, or the usage exit code after saying why. */
static int test_args(struct test *t, struct runner_opts *ro, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"policy", required_argument, NULL, 'p'},
	    {"timeout", required_argument, NULL, 't'},
	    {"ready", required_argument, NULL, 'r'},
	    {"mode", required_argument, NULL, 'm'},
	    {"json", required_argument, NULL, 'j'},
	    {"junit", required_argument, NULL, 'u'},
	    {"cgroup-parent", required_argument, NULL, 'g'},
	    {"ringbuf-size", required_argument, NULL, 'b'},
	    {"sinkhole", no_argument, NULL, 's'},
	    {"user", required_argument, NULL, 'U'},
	    {"keep-cap", required_argument, NULL, 'k'},
	    {"allow-inherited-socket", no_argument, NULL, 'S'},
	    {"grace", required_argument, NULL, 'G'},
	    {"observe", required_argument, NULL, 'o'},
	    {"name", required_argument, NULL, 'n'},
	    {"ignore-exit-status", no_argument, NULL, 'i'},
	    {"image", required_argument, NULL, 'I'},
	    {"engine", required_argument, NULL, 'E'},
	    {"network", required_argument, NULL, 'N'},
	    {"env", required_argument, NULL, 'e'},
	    {"compose", required_argument, NULL, 'C'},
	    {"service", required_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *timeout = DEFAULT_TIMEOUT, *grace = DEFAULT_GRACE, *observe = NULL;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			t->policy_path = optarg;
			break;
		case 't':
			timeout = optarg;
			break;
		case 'r':
			if (t->nready >= TEST_READY_MAX) {
				log_warnx("--ready: at most %d", TEST_READY_MAX);
				return test_usage();
			}
			t->readies[t->nready++].cmd = optarg;
			t->ready = t->ready ? t->ready : optarg;
			break;
		case 'I':
		case 'E':
		case 'N':
		case 'e':
		case 'C':
		case 'V':
			if (ctr_option(t, opt, optarg))
				return test_usage();
			break;
		case 'm':
			t->mode = optarg;
			break;
		case 'j':
			t->json_path = optarg;
			break;
		case 'u':
			t->junit_path = optarg;
			break;
		case 'g':
			ro->parent = optarg;
			break;
		case 's':
			t->sinkhole = true;
			break;
		case 'U':
			if (contain_parse_user(&t->contain, optarg))
				return test_usage();
			break;
		case 'k':
			if (contain_parse_cap(&t->contain, optarg))
				return test_usage();
			break;
		case 'S':
			t->contain.allow_inherited_socket = true;
			break;
		case 'G':
			grace = optarg;
			break;
		case 'o':
			observe = optarg;
			break;
		case 'n':
			t->name = optarg;
			break;
		case 'i':
			t->ignore_exit = true;
			break;
		case 'b':
			if (engine_parse_ringbuf("--ringbuf-size", optarg, &ro->ringbuf_bytes))
				return test_usage();
			break;
		case 'h': /* usage on stdout; do_test exits 0 */
			test_usage_to(stdout);
			return -1;
		default:
			return test_usage();
		}
	}
	if (optind >= argc && !t->ctr.image && !t->ctr.compose)
		return test_usage();
	t->argv = argv + optind; /* --image: the container's command, may be empty */
	return test_check(t, timeout, grace, observe);
}

/* --sinkhole, between parse and compile: everything goes to the sinkhole
 * and is let through (audit), names too: it answers them all. */
static int sinkhole_adjust(struct policy *p, void *ctx)
{
	struct test *t = ctx;
	char err[512];
	int fam, ret;

	ret = sinkhole_start(&t->sk, err, sizeof(err));
	if (ret) {
		snprintf(t->whybuf, sizeof(t->whybuf), "cannot set up the sinkhole: %s", err);
		return ret;
	}
	for (size_t i = 0; i < p->nscopes; i++) {
		p->scopes[i].mode = HUSH_MODE_AUDIT;
		p->scopes[i].has_mode = true;
	}
	sinkhole_resolver(t->sk, &fam, p->resolver);
	p->has_resolver = true;
	p->resolver_family = fam;
	p->resolver_port = 53;
	t->mode = "audit";
	return 0;
}

/* The policy: given, or loopback only (no DNS names).  NULL, or why not. */
static const char *test_policy(struct test *t, struct runner_opts *ro, struct policy_loaded **out)
{
	struct policy_load_opts o = {
	    .name = t->policy_path,
	    .dns_proxy = true,
	    .set_mode = t->mode != NULL,
	    .mode = t->mode && strcmp(t->mode, "audit") == 0 ? HUSH_MODE_AUDIT : HUSH_MODE_ENFORCE,
	    .adjust = t->sinkhole ? sinkhole_adjust : NULL,
	    .ctx = t,
	    .diag = stderr,
	    .prefix = "hush: policy: ",
	};

	if (policy_loaded_load(&o, out, NULL)) {
		if (!t->whybuf[0])
			snprintf(t->whybuf, sizeof(t->whybuf), "policy %s rejected",
				 t->policy_path ? t->policy_path : "(default)");
		return t->whybuf;
	}
	if (t->sk)
		ro->netns_fd = sinkhole_netns_fd(t->sk);
	return NULL;
}

/* Run the command under l until every process of its cgroup is gone (or
 * the timeout).  NULL, or why it could not run. */
static const char *test_run(struct test *t, struct runner_opts *ro, const struct policy_loaded *l)
{
	const char *ci = getenv("CI");
	int ret;

	t->pc = l->pc;
	t->boot_to_real = event_boot_to_real();
	t->live = isatty(STDERR_FILENO) && (!ci || !*ci || !strcmp(ci, "false"));
	ro->policy = l;
	ro->dns_proxy = true;
	ro->argv = test_ctr_on(t) ? t->ctr.argv : t->argv;
	ro->on_event = test_on_event;
	ro->on_dns = test_on_dns;
	ro->on_tick = on_tick;
	ro->grace_ms = (int)(t->grace_ns / 1000000);
	ro->env_prefix = "HUSH_TEST";
	ro->ctx = t;
	ro->engp = &t->eng;
	ro->timeout_ms = t->timeout_ns ? (int)(t->timeout_ns / 1000000) : 0;
	ro->wait_all = true;
	ro->dns_only = true; /* no lookups around the DNS proxy (nscd, resolved) */
	ro->cgroup_prefix = "hush-test";
	ro->contain = &t->contain;
	ret = runner_run(ro, &t->res);
	if (t->live)
		fputs("\r\033[K", stderr);
	for (int i = 0; i < t->nready; i++)
		if (t->readies[i].pid > 0) {
			kill(t->readies[i].pid, SIGKILL);
			waitpid(t->readies[i].pid, NULL, 0);
		}
	if (!ret)
		return NULL;
	if (t->whybuf[0])
		return t->whybuf;
	snprintf(t->whybuf, sizeof(t->whybuf), "cannot set up the test: %s (see above)",
		 strerror(-ret));
	return t->whybuf;
}

/* The command ended non-zero before hush stopped it (and was not told to
 * be let off): says how in t->whybuf. */
static bool failed_on_its_own(struct test *t)
{
	const struct runner_result *r = &t->res;

	if (t->ignore_exit || !r->exit_code || r->stopped || r->interrupted)
		return false;
	if (r->exit_signal)
		snprintf(t->whybuf, sizeof(t->whybuf),
			 "the command was killed by signal %d (%s) on its own, before the "
			 "timeout (--ignore-exit-status: judge its attempts only)",
			 r->exit_signal, strsignal(r->exit_signal));
	else
		snprintf(t->whybuf, sizeof(t->whybuf),
			 "the command exited with status %d on its own, before the timeout "
			 "(--ignore-exit-status: judge its attempts only)",
			 r->exit_code);
	return true;
}

/* The verdict on a run: any event lost makes it inconclusive (its attempts
 * are still listed); then attempts make it noisy.  Sets *why when it says
 * more than the code. */
static int test_verdict(struct test *t, const char **why)
{
	int code;

	if (t->res.lost || t->dropped)
		code = EXIT_INCONCLUSIVE;
	else if (t->total)
		code = EXIT_NOISY;
	else if (t->res.exec_failed)
		code = EXIT_SETUP, *why = "the command could not be started";
	else if (t->ready && t->ready_ns < 0)
		code = EXIT_SETUP, *why = "the command never became ready (--ready)";
	else if (test_ctr_on(t) && test_ctr_failed(t))
		code = EXIT_SETUP, *why = test_ctr_failed(t);
	else if (!test_ctr_on(t) && failed_on_its_own(t))
		code = EXIT_SETUP, *why = t->whybuf;
	else
		code = EXIT_SILENT;
	if (code == EXIT_INCONCLUSIVE) {
		snprintf(t->whybuf, sizeof(t->whybuf),
			 "%llu events were lost (%s): the attempts below are not all there were",
			 (unsigned long long)(t->res.lost + t->dropped),
			 t->res.lost ? "ring buffer full; --ringbuf-size holds more"
				     : "too many distinct attempts to keep");
		*why = t->whybuf;
	}
	if (t->res.interrupted && code != EXIT_NOISY) {
		code = EXIT_INCONCLUSIVE;
		*why = "interrupted before the command finished";
	}
	if (t->sk)
		test_sinkhole_merge(t);
	test_sort(t);
	return code;
}

int do_test(struct cli *c, int argc, char **argv)
{
	struct test t = {.mu = PTHREAD_MUTEX_INITIALIZER, .ready_ns = -1};
	struct runner_opts ro = {0};
	struct policy_loaded *l = NULL;
	const char *why;
	int code = EXIT_SETUP, ret;

	(void)c;
	ret = test_args(&t, &ro, argc, argv);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (!test_ctr_on(&t) && test_refuse_engine(t.argv))
		return EXIT_SETUP;
	why = test_ctr_on(&t) ? test_ctr_prepare(&t, &ro) : NULL;
	if (!why)
		why = test_policy(&t, &ro, &l);
	if (!why)
		why = test_run(&t, &ro, l);
	test_ctr_finish(&t);
	if (!why)
		code = test_verdict(&t, &why);
	test_print_human(&t, code, why);
	fflush(stdout);
	if (t.json_path && test_write_file(t.json_path, test_write_json, &t, code, why) &&
	    code == EXIT_SILENT)
		code = EXIT_SETUP;
	if (t.junit_path && test_write_file(t.junit_path, test_write_junit, &t, code, why) &&
	    code == EXIT_SILENT)
		code = EXIT_SETUP;
	sinkhole_stop(t.sk);
	free(t.at);
	free(t.idx);
	policy_loaded_free(l);
	return code;
}
