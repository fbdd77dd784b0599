/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hushd's own state and what its files share (not part of libhush):
 *
 *   main.c     options, then open, run, close
 *   setup.c    the start-up steps (policy, cgroup, pid file, enforcement,
 *              control socket, capabilities, fork, threads) and shut-down
 *   loop.c     the event loop: ring buffer, DNS queries, signals, ticks
 *   policy.c   loading a policy, and reloading one in place
 *   requests.c requests on the control socket (apply, status, stop),
 *              changes refused from inside the enforced cgroups
 *   status.c   the status JSON of the control socket
 *   metrics.c  the Prometheus textfile
 */
#ifndef HUSH_HUSHD_H
#define HUSH_HUSHD_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "agent/containers.h"
#include "agent/dnsproxy.h"
#include "agent/json.h"
#include "rules/loaded.h"

#define DEFAULT_POLICY "/etc/hush/policy"
#define DQ_MAX	       32768 /* queries waiting for the drain loop; then counted in a note */

struct hushd {
	const char *policy_path;
	char cgroup[PATH_MAX];
	bool cgroup_given; /* --cgroup, else the cgroup2 mount */
	const char *pin_dir;
	const char *run_dir;
	bool foreground;
	bool log_allowed;
	uint32_t ringbuf;
	struct engine *eng;
	struct policy_loaded *loaded; /* in force; replaced on the main thread only */
	struct enforcer *en;
	int pidfd; /* the locked pid file, -1 until then */
	int lfd;   /* the control socket, -1 until then */
	int64_t boot_to_real;
	uint64_t events;
	uint64_t lost_seen;
	bool stop;
	bool disabled;
	bool exiting;		  /* past the loop: the last metrics say hush_up 0 */
	const char *metrics_file; /* node_exporter textfile, or NULL */
	int metrics_err;	  /* last write error reported (no repeats) */
	time_t reload_ts;	  /* last reload attempt (0: none yet) */
	bool reload_ok;
	const char *db_path; /* audit log, or NULL (--no-db) */
	int64_t retain_ns;
	int64_t max_db_bytes;
	bool quiet; /* no JSON lines on stdout */
	struct store *store;

	/* DNS proxy */
	bool no_dns;
	int dns_rcode;
	uint32_t dns_grace;
	struct dnsproxy *dns;
	struct dnsns *dnsns;	  /* the proxy's namespace helper, or NULL */
	const char *dnsns_socket; /* --dnsns-socket: connect to it, not fork */
	pthread_mutex_t dq_mu;	  /* queries reported, waiting for the drain loop */
	struct dnsproxy_query *dq;
	size_t ndq, dqcap;
	uint64_t dq_overflow;

	/* containers (ctrbind.c) */
	bool no_containers;
	struct containers_opts ctr_opts;
	struct containers *ctrs;
	int ctr_ifd; /* inotify on the enforced subtree's directories */
	uint64_t ctr_gen;
	const struct policy_loaded *ctr_pol; /* the policy of the last pass */
	struct engine_bind *ctr_binds;	     /* in the engine now: sorted, sel our copies */
	size_t ctr_nbinds;
	bool ctr_retry; /* the last bind failed: set them again */
};

/* setup.c: steps 1-5 of start-up (0, or -errno after saying why); step 6
 * after the fork (ready: the pipe to write "ready" to, or -1); the end. */
int hushd_open(struct hushd *d);
int hushd_daemonize(struct hushd *d, int *ready);
void hushd_start(struct hushd *d, int ready);
void hushd_close(struct hushd *d);

/* loop.c */
void hushd_loop_signals(sigset_t *mask);
int hushd_run(struct hushd *d);
void hushd_on_query(void *ctx, const struct dnsproxy_query *q);
void hushd_dns_flush(struct hushd *d);

/* policy.c */
int hushd_load_policy(struct hushd *d, const char *name, const char *text, size_t len,
		      struct policy_errors *errs, struct policy_loaded **out);
int hushd_reload(struct hushd *d, const char *name, const char *text, size_t len,
		 struct policy_errors *errs, char *msg, size_t msglen);

/* requests.c */
void hushd_control(struct hushd *d);

/* status.c: the status JSON (one line) into w; jsonw_finish()'s result. */
int hushd_status_json(struct hushd *d, struct json_writer *w);

/* ctrbind.c: container metadata and container scopes.  tick: every loop
 * turn (second: the 1 s tick). */
void hushd_ctr_start(struct hushd *d);
void hushd_ctr_tick(struct hushd *d, bool second);
void hushd_ctr_stop(struct hushd *d);
/* main.c's container options: 0, or 2 after saying why. */
int hushd_ctr_option(struct hushd *d, int c, const char *arg);

/* metrics.c */
void hushd_metrics_write(struct hushd *d);

/* dnsns.c: the DNS proxy in every network namespace of the subtree. */
void hushd_dnsns_start(struct hushd *d);
void hushd_dnsns_unserved(struct hushd *d, const struct hush_event *e);

#endif /* HUSH_HUSHD_H */
