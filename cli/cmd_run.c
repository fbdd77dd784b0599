// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hush run [--policy FILE] [--mode enforce|audit] [--events FILE] [--quiet]
 *          [--log-allowed] [--cgroup-parent DIR] [--user USER[:GROUP]]
 *          [--keep-cap CAP]... [--allow-inherited-socket] -- CMD [ARGS...]
 *
 * Runs CMD under the policy (default: loopback only) in a cgroup of its own;
 * reports each attempt on stderr as it happens and passes CMD's exit status
 * through (128 + signal if it was killed).  hush's own failures, usage
 * errors included, exit 125 (like env(1)/timeout(1)), so they cannot be
 * mistaken for CMD's status.  CMD is contained as agent/runner.h says: its
 * own cgroup namespace, capabilities dropped (--keep-cap keeps one), no
 * inherited inet socket unless --allow-inherited-socket.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/event.h"
#include "agent/log.h"
#include "agent/runner.h"
#include "cli/cli.h"

#define EXIT_RUN_SETUP 125

struct run_ctx {
	const struct policy_compiled *pc;
	struct engine *eng;
	FILE *events;
	bool quiet;
	bool log_allowed;
	int64_t boot_to_real;
	pthread_mutex_t mu; /* events and stderr: the DNS proxy reports from its threads */
};

static int on_event(void *ctx, const struct hush_event *e)
{
	struct run_ctx *rc = ctx;

	pthread_mutex_lock(&rc->mu);
	if (rc->events) {
		struct hush_proc proc;

		event_print_json(rc->events, e, rc->pc, rc->boot_to_real,
				 event_proc(rc->eng, e, &proc) == 0 ? &proc : NULL);
		fflush(rc->events);
	}
	if (!rc->quiet) {
		fputs("hush: ", stderr);
		event_print_text(stderr, e, rc->pc);
	}
	pthread_mutex_unlock(&rc->mu);
	return 0;
}

/* A DNS query the run's proxy judged: allowed ones only with --log-allowed. */
static void on_dns(void *ctx, const struct dnsproxy_query *q)
{
	struct run_ctx *rc = ctx;
	const char *qn = q->qname[0] ? q->qname : NULL, *qt = q->qtype[0] ? q->qtype : NULL;
	const char *note = q->note[0] ? q->note : NULL;

	if (q->ev.verdict == HUSH_EV_ALLOW && !rc->log_allowed)
		return;
	pthread_mutex_lock(&rc->mu);
	if (rc->events) {
		struct hush_proc proc;

		event_print_json_dns(rc->events, &q->ev, qn, qt, note, rc->pc, rc->boot_to_real,
				     event_proc(rc->eng, &q->ev, &proc) == 0 ? &proc : NULL);
		fflush(rc->events);
	}
	if (!rc->quiet) {
		fputs("hush: ", stderr);
		event_print_text_dns(stderr, &q->ev, qn, qt, note, rc->pc);
	}
	pthread_mutex_unlock(&rc->mu);
}

static int run_usage_to(FILE *stream)
{
	fprintf(stream, "usage: hush run [--policy FILE] [--mode enforce|audit] [--events FILE] "
			"[--quiet] [--log-allowed] [--cgroup-parent DIR]\n"
			"                [--user USER[:GROUP]] [--keep-cap CAP]... "
			"[--allow-inherited-socket] -- CMD [ARGS...]\n");
	return EXIT_RUN_SETUP;
}

static int run_usage(void)
{
	return run_usage_to(stderr);
}

/* The policy FILE (NULL: loopback only), every scope in --mode if given;
 * errors and warnings printed as "hush: policy: file:l:c: msg". */
static int load_policy(const char *path, const char *mode, struct policy_loaded **out)
{
	struct policy_load_opts o = {
	    .name = path,
	    .dns_proxy = true,
	    .set_mode = mode != NULL,
	    .mode = mode && strcmp(mode, "audit") == 0 ? HUSH_MODE_AUDIT : HUSH_MODE_ENFORCE,
	    .diag = stderr,
	    .prefix = "hush: policy: ",
	};
	int ret = policy_loaded_load(&o, out, NULL);

	if (ret)
		fprintf(stderr, "hush: policy %s rejected; nothing was run\n",
			path ? path : "(default)");
	return ret;
}

/* What the command was let to keep, said on stderr (inherited sockets:
 * by the runner, before it starts). */
static void run_notes(const struct contain *ct, bool quiet)
{
	char n[64];

	for (int i = 0; !quiet && i < ct->nkeep; i++) {
		contain_cap_name(ct, i, n, sizeof(n));
		log_info("the command kept %s (--keep-cap)", n);
	}
}

int do_run(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"policy", required_argument, NULL, 'p'},
	    {"mode", required_argument, NULL, 'm'},
	    {"events", required_argument, NULL, 'e'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"log-allowed", no_argument, NULL, 'a'},
	    {"cgroup-parent", required_argument, NULL, 'g'},
	    {"user", required_argument, NULL, 'u'},
	    {"keep-cap", required_argument, NULL, 'k'},
	    {"allow-inherited-socket", no_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct contain ct = {0};
	struct policy_loaded *l = NULL;
	struct run_ctx rc = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct runner_opts ro = {0};
	struct runner_result res;
	const char *policy_path = NULL, *mode = NULL, *events = NULL;
	int opt, ret, code = EXIT_RUN_SETUP;

	(void)c;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+p:m:e:qh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			policy_path = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'e':
			events = optarg;
			break;
		case 'q':
			rc.quiet = true;
			break;
		case 'a':
			ro.log_allowed = true;
			rc.log_allowed = true;
			break;
		case 'g':
			ro.parent = optarg;
			break;
		case 'u':
			if (contain_parse_user(&ct, optarg))
				return EXIT_RUN_SETUP;
			break;
		case 'k':
			if (contain_parse_cap(&ct, optarg))
				return EXIT_RUN_SETUP;
			break;
		case 'S':
			ct.allow_inherited_socket = true;
			break;
		case 'h':
			run_usage_to(stdout);
			return EXIT_OK;
		default:
			return run_usage();
		}
	}
	if (optind >= argc)
		return run_usage();
	if (mode && strcmp(mode, "enforce") != 0 && strcmp(mode, "audit") != 0) {
		log_warnx("--mode %s: use enforce or audit", mode);
		return EXIT_RUN_SETUP;
	}

	/* The policy: given, or loopback only. */
	ret = load_policy(policy_path, mode, &l);
	if (ret)
		goto out;
	if (events) {
		rc.events = fopen(events, "a");
		if (!rc.events) {
			log_warn("cannot open --events %s", events);
			goto out;
		}
	}
	rc.pc = l->pc;
	rc.boot_to_real = event_boot_to_real();
	ro.policy = l;
	ro.argv = argv + optind;
	ro.on_event = on_event;
	ro.on_dns = on_dns;
	ro.dns_proxy = true;
	ro.ctx = &rc;
	ro.engp = &rc.eng;
	ro.contain = &ct;
	ret = runner_run(&ro, &res);
	if (ret)
		goto out;
	run_notes(&ct, rc.quiet);
	if (res.lost)
		log_warnx("%llu events lost (ring buffer full); counters still count them",
			  (unsigned long long)res.lost);
	if (res.interrupted)
		log_warnx("interrupted by signal %d; %s stopped and its cgroup removed",
			  res.interrupted, argv[optind]);
	code = res.exit_code;
out:
	if (rc.events)
		fclose(rc.events);
	policy_loaded_free(l);
	return code;
}
