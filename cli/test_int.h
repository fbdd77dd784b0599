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
};

struct test {
	/* options */
	const char *policy_path, *mode, *json_path, *junit_path, *ready;
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
	int ready_port;	     /* tcp:PORT */
	pid_t ready_pid;     /* probe command running */
	uint64_t ready_next; /* elapsed ns of the next probe */
	int64_t ready_ns;    /* -1: not (yet) ready */
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
