/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hush test's insides, shared by its three files: cmd_test.c (arguments,
 * readiness, the command), test_collect.c (collecting attempts: coalesced by
 * process, destination and name) and test_report.c (text, JSON and JUnit
 * reports).  Not for use outside cli/cmd_test.c and cli/test_*.c.
 */
#ifndef HUSH_CLI_TEST_INT_H
#define HUSH_CLI_TEST_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "agent/dnsproxy.h"
#include "agent/event.h"
#include "agent/runner.h"

struct engine;
struct sinkhole;

#define EXIT_SILENT	  0
#define EXIT_NOISY	  1
#define EXIT_SETUP	  2
#define EXIT_INCONCLUSIVE 3

#define ATTEMPTS_MAX 65536 /* distinct attempts kept; more are counted as dropped */

struct attempt {
	struct hush_event ev; /* the first one */
	uint64_t count;
	int64_t first_ns, last_ns; /* realtime */
	char qname[DNS_NAME_STRLEN];
	char qtype[DNS_QTYPE_STRLEN];
	char note[160];
	bool has_proc;
	struct hush_proc proc;
	/* --sinkhole: what the connection revealed */
	char sname[256];  /* the name the sinkhole's DNS gave this address for */
	char sproto[8];	  /* "tls", "http", "other", "none" */
	char sni[256];	  /* TLS server_name */
	char shost[256];  /* HTTP Host */
	char smethod[16]; /* HTTP method and path */
	char spath[512];
	/* --image/--compose: the container (from the event's cgroup) and its
	 * compose service, "" when none */
	char container[65];
	char service[64];
};

/* ---- containers (--image, --compose) ---- */

#define TEST_ENVS_MAX	  64
#define TEST_SERVICES_MAX 64
#define TEST_READY_MAX	  16
#define TEST_ARGV_MAX	  256
#define TEST_SEEN_MAX	  128

enum { TEST_ENGINE_DOCKER = 1, TEST_ENGINE_PODMAN };

/* One --ready: CMD (run on the host) or tcp:PORT, for the whole run or
 * for one compose service (SERVICE=CMD). */
struct test_ready {
	const char *svc; /* NULL: the run */
	const char *cmd;
	int port; /* tcp:PORT */
	pid_t pid;
	uint64_t next;
	bool ok;
};

/* A container of the run: the image's, or one of a stack's services. */
struct test_service {
	char name[64];	 /* compose service, "" for --image */
	char id[65];	 /* container id */
	char cname[128]; /* container name */
	int exit_code;	 /* -1: unknown */
};

struct test_ctr {
	/* options */
	const char *image, *compose, *network, *engine;
	const char *envs[TEST_ENVS_MAX];
	int nenvs;
	const char *services[TEST_SERVICES_MAX]; /* --service */
	int nservices;
	/* the engine */
	int kind;
	char cli[256];	/* docker or podman client */
	char host[300]; /* unix:///run/docker.sock */
	char ccli[256]; /* docker-compose */
	char image_id[80];
	char digests[512]; /* RepoDigests, comma-separated */
	/* the run */
	char name[128];	     /* container name (--image) or project (--compose) */
	char dir[64];	     /* temp dir: cidfile, compose override */
	char cgparent[4200]; /* the containers' --cgroup-parent */
	char cgabs[4200];    /* the run's cgroup, absolute */
	char *argv[TEST_ARGV_MAX];
	char strs[8192]; /* strings argv points into */
	size_t nstrs;
	pid_t stop_pid;
	char version[32];	      /* compose file version, "" when none */
	char *all[TEST_SERVICES_MAX]; /* every service of the stack */
	int nall;
	struct test_service svc[TEST_SERVICES_MAX]; /* the containers seen */
	int nsvc;
	char fail[600]; /* compose: why the stack failed on its own */
	/* containers' cgroups seen (test_ctr_tick): id -> container, for events
	 * read after the cgroup is gone */
	struct {
		uint64_t cgid;
		char id[65];
	} seen[TEST_SEEN_MAX];
	int nseen;
	uint64_t run_cgid, client_cgid;
	/* --image: the engine's answers (/info, the image) are asked in a
	 * thread while the test sets up; on_cgroup waits for them before
	 * the engine's client starts (test_image.c). */
	pthread_t check_thr;
	bool checking;
	const char *check_failed; /* NULL, or check_why */
	char check_why[640];	  /* as long as struct test's whybuf */
};

struct test {
	/* options */
	const char *policy_path, *mode, *json_path, *junit_path;
	const char *ready; /* the first --ready, NULL: none */
	struct test_ready readies[TEST_READY_MAX];
	int nready;
	struct test_ctr ctr;
	const char *name; /* --name: the JUnit test case; NULL: the command */
	int64_t timeout_ns;
	int64_t grace_ns;   /* --grace: SIGTERM, then this long, then cgroup.kill */
	int64_t observe_ns; /* --observe: watch this long once ready, then stop */
	bool ignore_exit;   /* --ignore-exit-status */
	char **argv;
	struct contain contain; /* --user, --keep-cap, --allow-inherited-socket */
	/* run */
	struct engine *eng;
	const struct policy_compiled *pc;
	int64_t boot_to_real;
	pthread_mutex_t mu; /* attempts: the DNS proxy reports from its threads */
	struct attempt *at;
	size_t nat, atcap;
	uint32_t *idx;	  /* open addressing over at[]: index + 1, 0 empty */
	size_t idxcap;	  /* power of two, > 2 * nat */
	uint64_t dropped; /* attempts not kept in detail (ATTEMPTS_MAX) */
	uint64_t total;	  /* attempts, counting repeats */
	/* readiness */
	int64_t ready_ns; /* -1: not (yet) ready */
	/* live line */
	bool live;
	uint64_t live_next;
	struct runner_result res;
	/* --sinkhole */
	bool sinkhole;
	struct sinkhole *sk;
	uint64_t sink_lost;
	char whybuf[640]; /* why the test failed to run, when it says so */
};

/* ---- container engines (test_engine.c) ---- */

/* -1 after saying why if argv starts a container through an engine
 * (docker|podman|nerdctl run, ...), whose container hush could not watch;
 * else 0. */
int test_refuse_engine(char **argv);

/* ---- images and stacks (test_image.c, test_compose.c) ---- */

/* Is this a container run (--image or --compose)? */
static inline bool test_ctr_on(const struct test *t)
{
	return t->ctr.image || t->ctr.compose;
}
/* Before the run: find the engine, check the image(s), make the temp dir
 * and set ro up (command cgroup, hooks).  NULL, or why not (exit 2). */
const char *test_ctr_prepare(struct test *t, struct runner_opts *ro);
/* After the run: the containers' ids, names, services and exit codes;
 * everything removed (containers, the stack, cgroup v1 leftovers, temp
 * dir).  Safe to call whatever prepare reached. */
void test_ctr_finish(struct test *t);
/* Why the run is an error, or NULL: a container that could not start or
 * failed on its own (not after hush stopped it). */
const char *test_ctr_failed(struct test *t);
/* The container name a --ready probe of svc (NULL: the image's) may use. */
void test_ctr_ready_env(const struct test *t, const char *svc, char *buf, size_t len);
/* Fill a->container from the event's cgroup (t->mu held). */
void test_ctr_attrib(struct test *t, struct attempt *a);
/* While it runs: note the containers' cgroups (ids), for events read after
 * a container is gone. */
void test_ctr_tick(struct test *t);
/* The report's "image IMG" / "compose FILE" prefix of the command. */
const char *test_ctr_what(const struct test *t, char *buf, size_t len);

/* test_image.c internals shared with test_compose.c: argv building and
 * running a helper command to completion (its stdout into out). */
void ctr_argv_reset(struct test_ctr *c);
int ctr_arg(struct test_ctr *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The client and its connection to the engine as argv's first words. */
int engine_words(struct test_ctr *c);
/* The engine answers, uses cgroupfs, and has the images (the one's id and
 * digests kept).  NULL, or why not. */
const char *ctr_check(struct test *t, char *const images[], int nimages);
/* The engine's Docker-compatible API (test_api.c): GET path on the unix
 * socket sock, the body into body; the HTTP status, or -errno. */
int ctr_api_get(const char *sock, const char *path, char *body, size_t len);
void ctr_json_str(const char *json, const char *key, char *out, size_t len);
void ctr_json_strs(const char *json, const char *key, char *out, size_t len);
void ctr_url_escape(const char *name, char *out, size_t len);
int ctr_capture(char *const argv[], char *out, size_t len, char *err, size_t errlen);
pid_t ctr_spawn_quiet(char *const argv[]);
const char *compose_prepare(struct test *t, struct runner_opts *ro);
int compose_argv(struct test *t);
void compose_stop(struct test *t, int secs);
void compose_finish(struct test *t);

/* ---- collecting (test_collect.c) ---- */

/* runner_opts callbacks (ctx: the struct test): denied and audited events,
 * DNS names outside the policy. */
int test_on_event(void *ctx, const struct hush_event *e);
void test_on_dns(void *ctx, const struct dnsproxy_query *q);
/* --sinkhole: name each attempt's address and add what its connection
 * revealed (TLS SNI, HTTP request). */
void test_sinkhole_merge(struct test *t);
/* Attempts in report order: names first, then by destination, then time. */
void test_sort(struct test *t);

/* ---- reporting (test_report.c) ---- */

typedef void (*test_report_fn)(FILE *f, struct test *t, int code, const char *why);

/* The command on one line (whitespace and control characters as one
 * space), cut to len. */
void test_cmdline(const struct test *t, char *buf, size_t len);
void test_print_human(struct test *t, int code, const char *why);
void test_write_json(FILE *f, struct test *t, int code, const char *why);
void test_write_junit(FILE *f, struct test *t, int code, const char *why);
/* fn's report to path ("-": standard output); 0, or -1 after saying why. */
int test_write_file(const char *path, test_report_fn fn, struct test *t, int code, const char *why);

#endif /* HUSH_CLI_TEST_INT_H */
