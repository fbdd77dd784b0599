// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hushd: keeps the policy enforced on a cgroup subtree and reports every
 * attempt it denies.
 *
 * Start-up: load the policy (a bad policy never gets near the kernel) ->
 * engine_open (load, apply, attach or adopt pinned links, pin) and the
 * enforcer that owns the policy in force from then on -> control socket ->
 * drop capabilities -> "ready".  Then one loop: ring
 * buffer events to stdout as JSON lines, SIGHUP / `hush policy apply`
 * reloads, SIGTERM exits.  Exiting, even by SIGKILL, leaves the pinned links
 * attached: enforcement fails closed; `hush disable` is the way out.
 *
 * Exit codes: 0 clean exit (enforcement stays pinned), 1 runtime or policy
 * error, 2 usage, 3 stopped by `hush disable` (enforcement removed; service
 * managers should not restart: RestartPreventExitStatus=3).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "control.h"
#include "db.h"
#include "dnsproxy.h"
#include "enforcer.h"
#include "engine.h"
#include "event.h"
#include "log.h"
#include "probe.h"
#include "store.h"

#define DEFAULT_POLICY "/etc/hush/policy"

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
	int64_t boot_to_real;
	uint64_t events;
	uint64_t lost_seen;
	bool stop;
	bool disabled;
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
	pthread_mutex_t dq_mu; /* queries reported, waiting for the drain loop */
	struct dnsproxy_query *dq;
	size_t ndq, dqcap;
	uint64_t dq_overflow;
};

#define DQ_MAX 32768 /* queries waiting for the drain loop; then counted in a note */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: hushd [--policy FILE] [--cgroup PATH] [--pin-dir DIR] [--run-dir DIR]\n"
	    "             [--foreground] [--log-allowed] [--ringbuf-size BYTES]\n"
	    "             [--metrics-file FILE] [--db FILE | --no-db] [--retain DUR]\n"
	    "             [--max-db-size SIZE] [--quiet] [--dns-deny refused|nxdomain]\n"
	    "             [--dns-grace SECONDS] [--no-dns-proxy] [-v]\n"
	    "\n"
	    "  --policy FILE     policy to enforce (default " DEFAULT_POLICY ")\n"
	    "  --cgroup PATH     cgroup2 subtree to enforce on (default: the cgroup2 root)\n"
	    "  --pin-dir DIR     where programs, maps and links are pinned "
	    "(default " ENGINE_DEFAULT_PIN_DIR ")\n"
	    "  --run-dir DIR     control socket and pid file (default " ENGINE_DEFAULT_RUN_DIR ")\n"
	    "  --foreground      do not detach; events also go to stdout as JSON lines\n"
	    "  --db FILE         audit log database (default " DB_DEFAULT_PATH ")\n"
	    "  --no-db           no database: events only as JSON lines on stdout\n"
	    "  --retain DUR      delete log rows older than DUR (e.g. 90d; default: keep)\n"
	    "  --max-db-size N   delete the oldest rows beyond N bytes (e.g. 10G)\n"
	    "  --quiet           no JSON lines on stdout (the database still gets every event)\n"
	    "  --log-allowed     also report allowed attempts\n"
	    "  --ringbuf-size N  event ring buffer bytes, a power of two (default 4 MiB)\n"
	    "  --metrics-file F  Prometheus metrics (node_exporter textfile format), every 1 s\n"
	    "  --dns-deny RCODE  answer denied DNS names with refused (default) or nxdomain\n"
	    "  --dns-grace S     learned \"allow host\" addresses live TTL + S seconds (default "
	    "5)\n"
	    "  --no-dns-proxy    no DNS proxy: DNS from enforced cgroups is denied\n"
	    "  -v, --verbose     debug messages, including libbpf's\n");
}

/* Load the file `name`, or text[0..len) named so; every error and warning
 * is printed as "hushd: policy: file:l:c: msg" (and errors kept in errs,
 * which may be NULL). */
static int load_policy(struct hushd *d, const char *name, const char *text, size_t len,
		       struct policy_errors *errs, struct policy_loaded **out)
{
	struct policy_load_opts o = {
	    .name = name,
	    .text = text,
	    .len = len,
	    .dns_proxy = !d->no_dns,
	    .diag = stderr,
	    .prefix = "hushd: policy: ",
	};

	return policy_loaded_load(&o, out, errs);
}

/* A query the proxy judged (its threads): queued for the drain loop. */
static void on_query(void *ctx, const struct dnsproxy_query *q)
{
	struct hushd *d = ctx;

	pthread_mutex_lock(&d->dq_mu);
	if (d->ndq == d->dqcap && d->dqcap < DQ_MAX) {
		size_t nc = d->dqcap ? d->dqcap * 2 : 64;
		struct dnsproxy_query *n = realloc(d->dq, nc * sizeof(*n));

		if (n) {
			d->dq = n;
			d->dqcap = nc;
		}
	}
	if (d->ndq < d->dqcap)
		d->dq[d->ndq++] = *q;
	else
		d->dq_overflow++;
	pthread_mutex_unlock(&d->dq_mu);
}

/* Queries reported since the last call: to the store and stdout. */
static void dns_flush(struct hushd *d)
{
	struct dnsproxy_query *q;
	size_t n, cap;
	uint64_t over;

	pthread_mutex_lock(&d->dq_mu);
	q = d->dq;
	n = d->ndq;
	cap = d->dqcap;
	over = d->dq_overflow;
	d->dq = NULL;
	d->ndq = d->dqcap = 0;
	d->dq_overflow = 0;
	pthread_mutex_unlock(&d->dq_mu);
	for (size_t i = 0; i < n; i++) {
		const struct dnsproxy_query *e = &q[i];
		struct hush_proc proc;

		d->events++;
		if (d->store)
			store_dns(d->store, &e->ev, e->qname[0] ? e->qname : NULL,
				  e->qtype[0] ? e->qtype : NULL, e->note[0] ? e->note : NULL,
				  d->loaded->pc, d->boot_to_real);
		if (!d->quiet)
			event_print_json_dns(stdout, &e->ev, e->qname[0] ? e->qname : NULL,
					     e->qtype[0] ? e->qtype : NULL,
					     e->note[0] ? e->note : NULL, d->loaded->pc,
					     d->boot_to_real,
					     event_proc(d->eng, &e->ev, &proc) == 0 ? &proc : NULL);
	}
	if (over) {
		log_warnx("dns: %llu queries answered but not logged in detail (drain loop behind)",
			  (unsigned long long)over);
		if (d->store)
			store_note(d->store,
				   "%llu DNS queries were judged and answered but not logged in "
				   "detail: the drain loop fell behind",
				   (unsigned long long)over);
	}
	/* Keep the buffer for the next round unless someone refilled it. */
	pthread_mutex_lock(&d->dq_mu);
	if (!d->dq) {
		d->dq = q;
		d->dqcap = cap;
		q = NULL;
	}
	pthread_mutex_unlock(&d->dq_mu);
	free(q);
}

/* Load and apply a new policy; on any failure the running one stays.  What
 * happened goes into msg (and the log's notes); the policy's errors into
 * errs (may be NULL). */
static int reload(struct hushd *d, const char *name, const char *text, size_t len,
		  struct policy_errors *errs, char *msg, size_t msglen)
{
	struct policy_loaded *l;
	int ret;

	d->reload_ts = time(NULL);
	d->reload_ok = false;
	ret = load_policy(d, name, text, len, errs, &l);
	if (ret) {
		snprintf(msg, msglen, "policy %s rejected; the running policy (seq %llu) stays",
			 name, (unsigned long long)engine_policy_seq(d->eng));
		if (d->store)
			store_note(d->store, "%s", msg);
		return ret;
	}
	ret = d->dns ? dnsproxy_set_policy(d->dns, l->pol) : 0;
	if (!ret)
		ret = enforcer_set_policy(d->en, l);
	if (ret) {
		if (d->dns)
			dnsproxy_set_policy(d->dns, d->loaded->pol);
		snprintf(msg, msglen, "cannot apply %s: %s; the running policy stays", name,
			 strerror(-ret));
		policy_loaded_free(l);
		return ret;
	}
	policy_loaded_free(d->loaded);
	d->loaded = l;
	d->reload_ok = true;
	snprintf(msg, msglen, "policy %s applied (seq %llu)", name,
		 (unsigned long long)engine_policy_seq(d->eng));
	if (d->store)
		store_note(d->store, "%s", msg);
	return 0;
}

static int on_event(void *ctx, const struct hush_event *e)
{
	struct hushd *d = ctx;

	struct hush_proc proc;

	d->events++;
	if (d->store)
		store_event(d->store, e, d->loaded->pc, d->boot_to_real);
	if (!d->quiet)
		event_print_json(stdout, e, d->loaded->pc, d->boot_to_real,
				 event_proc(d->eng, e, &proc) == 0 ? &proc : NULL);
	return 0;
}

static void check_lost(struct hushd *d)
{
	uint64_t c[HUSH_CTR_MAX], lost = 0;

	if (engine_counters(d->eng, c))
		return;
	for (unsigned h = 0; h < HUSH_HOOK_MAX; h++)
		lost += c[HUSH_CTR_IDX(h, HUSH_EV_LOST)];
	if (lost > d->lost_seen) {
		log_warnx("%llu events lost in the last second (ring buffer full): counted by "
			  "the kernel%s; a larger --ringbuf-size holds longer bursts",
			  (unsigned long long)(lost - d->lost_seen),
			  d->store ? " and recorded as gap rows in the log"
				   : ", see `hush status`");
		d->lost_seen = lost;
	}
}

static void status_json(struct hushd *d, char *buf, size_t len)
{
	uint64_t c[HUSH_CTR_MAX] = {0};
	size_t off;

	engine_counters(d->eng, c);
	off = (size_t)snprintf(buf, len,
			       "{\"pid\":%d,\"cgroup\":\"%s\",\"pin_dir\":\"%s\",\"policy\":\"%s\","
			       "\"policy_seq\":%llu,\"events\":%llu,\"counters\":{",
			       (int)getpid(), d->cgroup, d->pin_dir, d->policy_path,
			       (unsigned long long)engine_policy_seq(d->eng),
			       (unsigned long long)d->events);
	for (unsigned h = 0; h < HUSH_HOOK_MAX && off < len; h++) {
		off += (size_t)snprintf(buf + off, len - off, "%s\"%s\":{", h ? "," : "",
					engine_hook_name(h));
		for (unsigned v = 0; v < HUSH_EV_MAX && off < len; v++)
			off += (size_t)snprintf(buf + off, len - off, "%s\"%s\":%llu", v ? "," : "",
						engine_ev_name(v),
						(unsigned long long)c[HUSH_CTR_IDX(h, v)]);
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "}");
	}
	if (off < len)
		off += (size_t)snprintf(buf + off, len - off, "}");
	if (d->store && off < len) {
		struct store_status ss;
		FILE *f;

		store_status(d->store, &ss);
		f = fmemopen(buf + off, len - off, "w");
		if (f) {
			fputs(",\"db\":{\"path\":", f);
			json_str(f, d->db_path, PATH_MAX);
			fprintf(f,
				",\"open\":%s,\"rows_written\":%llu,\"commits\":%llu,"
				"\"pending_rows\":%llu,\"gap_events\":%llu,\"late_events\":%llu,"
				"\"writer_lag_s\":%.3f,\"last_commit_ns\":%lld,\"error\":",
				ss.open ? "true" : "false", (unsigned long long)ss.rows_written,
				(unsigned long long)ss.commits, (unsigned long long)ss.pending_rows,
				(unsigned long long)ss.gap_events,
				(unsigned long long)ss.late_events, ss.lag_s,
				(long long)ss.last_commit_ns);
			if (ss.error[0])
				json_str(f, ss.error, sizeof(ss.error));
			else
				fputs("null", f);
			fputs("}", f);
			off += (size_t)ftell(f);
			fclose(f);
		}
	} else if (off < len) {
		off += (size_t)snprintf(buf + off, len - off, ",\"db\":null");
	}
	if (off < len && d->dns) {
		struct dnsproxy_stats ps;
		struct enforcer_stats es;

		dnsproxy_stats(d->dns, &ps);
		enforcer_stats(d->en, &es);
		off += (size_t)snprintf(
		    buf + off, len - off,
		    ",\"dns\":{\"proxy\":true,\"udp4\":%u,\"tcp4\":%u,\"udp6\":%u,\"tcp6\":%u,"
		    "\"deny_rcode\":\"%s\",\"queries\":%llu,\"allowed\":%llu,\"denied\":%llu,"
		    "\"audited\":%llu,\"malformed\":%llu,\"unattributed\":%llu,"
		    "\"upstream_timeouts\":%llu,\"upstream_errors\":%llu,\"learned\":%llu,"
		    "\"learned_now\":%llu}",
		    ps.port[0], ps.port[1], ps.port[2], ps.port[3],
		    d->dns_rcode == DNS_RCODE_NXDOMAIN ? "nxdomain" : "refused",
		    (unsigned long long)ps.queries, (unsigned long long)ps.allowed,
		    (unsigned long long)ps.denied, (unsigned long long)ps.audited,
		    (unsigned long long)ps.malformed, (unsigned long long)ps.unattributed,
		    (unsigned long long)ps.upstream_timeouts,
		    (unsigned long long)ps.upstream_errors, (unsigned long long)es.learned,
		    (unsigned long long)es.learned_now);
	} else if (off < len) {
		off += (size_t)snprintf(buf + off, len - off, ",\"dns\":{\"proxy\":false}");
	}
	if (off < len)
		snprintf(buf + off, len - off, "}\n");
}

/* "apply NAME" with the policy text as body: loaded once, here.  The
 * policy's errors go back to the client (and to our stderr). */
static void control_apply(struct hushd *d, int cfd, const struct control_req *req)
{
	struct policy_errors errs = {0};
	const char *name = req->arg[0] ? req->arg : "(policy)";
	char msg[1024], hex[2 * POLICY_HASH_LEN + 1];
	int ret;

	ret = reload(d, name, req->body ? req->body : "", req->body_len, &errs, msg, sizeof(msg));
	if (ret == 0) {
		db_hex(d->loaded->hash, POLICY_HASH_LEN, hex);
		log_info("%s, sha256 %s", msg, hex);
		snprintf(msg, sizeof(msg), "seq %llu sha256 %s",
			 (unsigned long long)engine_policy_seq(d->eng), hex);
		control_reply(cfd, 1, msg, NULL);
	} else if (errs.n) {
		size_t tl = 0;
		char *text = NULL;
		FILE *mf = open_memstream(&text, &tl);

		if (mf) {
			policy_errors_print(&errs, "", mf);
			fclose(mf);
		}
		log_warnx("%s", msg);
		control_reply(cfd, 0, NULL, text ? text : "policy rejected\n");
		free(text);
	} else {
		log_warnx("%s", msg);
		strncat(msg, "\n", sizeof(msg) - strlen(msg) - 1);
		control_reply(cfd, 0, NULL, msg);
	}
	policy_errors_free(&errs);
}

static void handle_control(struct hushd *d, int lfd)
{
	struct control_req req;
	int cfd;

	cfd = control_accept(lfd, &req);
	if (cfd < 0)
		return;
	if (strcmp(req.verb, "apply") == 0) {
		control_apply(d, cfd, &req);
	} else if (strcmp(req.verb, "status") == 0) {
		char buf[4096];

		status_json(d, buf, sizeof(buf));
		control_reply(cfd, 1, NULL, buf);
	} else if (strcmp(req.verb, "stop") == 0) {
		control_reply(cfd, 1, "stopping", NULL);
		log_info("stopped by `hush disable`: enforcement removed from %s", d->cgroup);
		d->stop = true;
		d->disabled = true;
	} else {
		control_reply(cfd, 0, NULL, "unknown request (apply, status, stop)\n");
	}
	control_req_free(&req);
	close(cfd);
}

/*
 * Keep only what the running daemon needs: CAP_BPF to create policy maps on
 * reload, CAP_NET_ADMIN for the cgroup attachments it owns, CAP_SYS_PTRACE to
 * read /proc/PID/exe of processes that predate exec tracking (a ptrace-mode
 * read: the target's capabilities may exceed ours), CAP_DAC_READ_SEARCH to
 * name an event's cgroup from its id (open_by_handle_at), CAP_CHOWN to give
 * the database files (and SQLite's -wal/-shm, created later) to group hush.
 */
static int drop_caps(void)
{
	cap_value_t keep[] = {CAP_BPF, CAP_NET_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH,
			      CAP_CHOWN};
	cap_t caps = cap_init();
	int ret = 0;

	if (!caps)
		return -errno;
	if (cap_set_flag(caps, CAP_PERMITTED, 5, keep, CAP_SET) ||
	    cap_set_flag(caps, CAP_EFFECTIVE, 5, keep, CAP_SET) || cap_set_proc(caps))
		ret = -errno;
	cap_free(caps);
	return ret;
}

static int pidfile_lock(const char *run_dir, int *fd_out)
{
	char p[PATH_MAX], buf[32];
	int fd, ret;

	ret = control_mkdir_p(run_dir, 0700);
	if (ret)
		return ret;
	snprintf(p, sizeof(p), "%s/hushd.pid", run_dir);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		buf[n > 0 ? n : 0] = 0;
		buf[strcspn(buf, "\n")] = 0;
		log_warnx("another hushd is running (pid %s, lock %s)", buf[0] ? buf : "?", p);
		close(fd);
		return -EEXIST;
	}
	*fd_out = fd;
	return 0;
}

static void pidfile_write(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) < 0)
		log_warn("cannot write pid file");
}

/*
 * Prometheus metrics in the node_exporter textfile-collector format,
 * rewritten atomically (temporary file + rename) once a second and after
 * every reload attempt.  Counters come from the kernel's per-CPU maps, so
 * they count attempts even when events were lost.
 */
static void metrics_write(struct hushd *d)
{
	uint64_t c[HUSH_CTR_MAX] = {0};
	char tmp[PATH_MAX];
	FILE *f;
	int err = 0;

	if (!d->metrics_file)
		return;
	engine_counters(d->eng, c);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", d->metrics_file, (int)getpid());
	f = fopen(tmp, "w");
	if (!f) {
		err = errno;
		goto out;
	}
	fprintf(f, "# HELP hush_attempts_total Attempts judged, by hook and verdict "
		   "(audit: would deny, let through).\n"
		   "# TYPE hush_attempts_total counter\n");
	for (unsigned h = 0; h < HUSH_HOOK_MAX; h++)
		for (unsigned v = 0; v < HUSH_EV_LOST; v++)
			fprintf(f, "hush_attempts_total{hook=\"%s\",verdict=\"%s\"} %llu\n",
				engine_hook_name(h), engine_ev_name(v),
				(unsigned long long)c[HUSH_CTR_IDX(h, v)]);
	fprintf(f, "# HELP hush_events_lost_total Events the ring buffer could not take "
		   "(counted above, not reported).\n"
		   "# TYPE hush_events_lost_total counter\n");
	for (unsigned h = 0; h < HUSH_HOOK_MAX; h++)
		fprintf(f, "hush_events_lost_total{hook=\"%s\"} %llu\n", engine_hook_name(h),
			(unsigned long long)c[HUSH_CTR_IDX(h, HUSH_EV_LOST)]);
	fprintf(f,
		"# HELP hush_events_reported_total Events hushd has reported.\n"
		"# TYPE hush_events_reported_total counter\n"
		"hush_events_reported_total %llu\n"
		"# HELP hush_policy_generation Sequence number of the policy in force.\n"
		"# TYPE hush_policy_generation gauge\n"
		"hush_policy_generation %llu\n",
		(unsigned long long)d->events, (unsigned long long)engine_policy_seq(d->eng));
	if (d->store) {
		struct store_status ss;

		store_status(d->store, &ss);
		fprintf(f,
			"# HELP hush_db_rows_written_total Rows hushd committed to the audit log.\n"
			"# TYPE hush_db_rows_written_total counter\n"
			"hush_db_rows_written_total %llu\n"
			"# HELP hush_db_gap_events_total Attempts recorded as lost (gap rows).\n"
			"# TYPE hush_db_gap_events_total counter\n"
			"hush_db_gap_events_total %llu\n"
			"# HELP hush_db_pending_rows Rows waiting for the database writer.\n"
			"# TYPE hush_db_pending_rows gauge\n"
			"hush_db_pending_rows %llu\n"
			"# HELP hush_db_writer_lag_seconds Last commit: time since its oldest "
			"attempt.\n"
			"# TYPE hush_db_writer_lag_seconds gauge\n"
			"hush_db_writer_lag_seconds %.6f\n"
			"# HELP hush_db_writable 1 if the last database write succeeded.\n"
			"# TYPE hush_db_writable gauge\n"
			"hush_db_writable %d\n",
			(unsigned long long)ss.rows_written, (unsigned long long)ss.gap_events,
			(unsigned long long)ss.pending_rows, ss.lag_s,
			ss.open && !ss.error[0] ? 1 : 0);
	}
	fprintf(f,
		"# HELP hush_dns_proxy_up 1 while the DNS proxy takes the port-53 traffic of "
		"enforced cgroups (0: that traffic is denied).\n"
		"# TYPE hush_dns_proxy_up gauge\n"
		"hush_dns_proxy_up %d\n",
		d->dns ? 1 : 0);
	if (d->dns) {
		struct dnsproxy_stats ps;
		struct enforcer_stats es;

		dnsproxy_stats(d->dns, &ps);
		enforcer_stats(d->en, &es);
		fprintf(f,
			"# HELP hush_dns_queries_total DNS queries the proxy judged, by verdict.\n"
			"# TYPE hush_dns_queries_total counter\n"
			"hush_dns_queries_total{verdict=\"allow\"} %llu\n"
			"hush_dns_queries_total{verdict=\"deny\"} %llu\n"
			"hush_dns_queries_total{verdict=\"audit\"} %llu\n"
			"hush_dns_queries_total{verdict=\"malformed\"} %llu\n"
			"# HELP hush_dns_upstream_failures_total Allowed queries answered SERVFAIL "
			"because the resolver failed or did not answer in time.\n"
			"# TYPE hush_dns_upstream_failures_total counter\n"
			"hush_dns_upstream_failures_total %llu\n"
			"# HELP hush_dns_learned_addresses Addresses allowed by \"allow host\" "
			"rules right now.\n"
			"# TYPE hush_dns_learned_addresses gauge\n"
			"hush_dns_learned_addresses %llu\n",
			(unsigned long long)ps.allowed, (unsigned long long)ps.denied,
			(unsigned long long)ps.audited, (unsigned long long)ps.malformed,
			(unsigned long long)(ps.upstream_timeouts + ps.upstream_errors),
			(unsigned long long)es.learned_now);
	}
	if (d->reload_ts)
		fprintf(f,
			"# HELP hush_policy_last_reload_success 1 if the last reload attempt "
			"applied its policy, 0 if it was rejected.\n"
			"# TYPE hush_policy_last_reload_success gauge\n"
			"hush_policy_last_reload_success %d\n"
			"# HELP hush_policy_last_reload_timestamp_seconds Time of the last reload "
			"attempt.\n"
			"# TYPE hush_policy_last_reload_timestamp_seconds gauge\n"
			"hush_policy_last_reload_timestamp_seconds %lld\n",
			d->reload_ok ? 1 : 0, (long long)d->reload_ts);
	if (fclose(f) != 0) {
		err = errno;
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, d->metrics_file) < 0) {
		err = errno;
		unlink(tmp);
	}
out:
	if (err && err != d->metrics_err)
		log_errno(-err, "cannot write metrics to %s (enforcement is not affected)",
			  d->metrics_file);
	d->metrics_err = err;
}

/* True once a second (CLOCK_MONOTONIC), whatever the event rate. */
static bool tick_due(struct timespec *next)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec < next->tv_sec ||
	    (now.tv_sec == next->tv_sec && now.tv_nsec < next->tv_nsec))
		return false;
	*next = now;
	next->tv_sec += 1;
	return true;
}

/* The signals the loop reads from a signalfd. */
static void loop_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
}

/* SIGHUP reloads the policy file; SIGTERM and SIGINT end the loop. */
static void on_signals(struct hushd *d, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			char msg[1024];

			if (reload(d, d->policy_path, NULL, 0, NULL, msg, sizeof(msg)))
				log_warnx("SIGHUP: %s", msg);
			else
				log_info("SIGHUP: %s", msg);
			metrics_write(d);
		} else {
			log_info("signal %d: exiting; enforcement stays pinned in %s (`hush "
				 "disable` removes it)",
				 (int)si.ssi_signo, d->pin_dir);
			d->stop = true;
		}
	}
}

/* Once a second: learned addresses expire, and scope cgroups come and go
 * (a restarted service gets a new cgroup id): re-apply for either. */
static void on_tick(struct hushd *d)
{
	size_t expired = enforcer_expire(d->en);
	bool stale = engine_scopes_stale(d->eng);

	check_lost(d);
	if (stale || expired) {
		int r = enforcer_reapply(d->en);

		if (r)
			log_errno(r, "cannot re-apply the policy (%s)",
				  stale ? "scope cgroups changed" : "learned addresses expired");
		else if (stale)
			log_info("scope cgroups changed: policy re-applied (seq %llu)",
				 (unsigned long long)engine_policy_seq(d->eng));
	}
	metrics_write(d);
}

static int run_loop(struct hushd *d, int lfd)
{
	struct epoll_event ev, evs[4];
	struct timespec next_check = {0};
	sigset_t mask;
	int ep, sfd, rbfd;

	loop_signals(&mask);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	rbfd = engine_events(d->eng, on_event, d);
	if (sfd < 0 || ep < 0 || rbfd < 0) {
		log_warn("cannot set up the event loop");
		return -1;
	}
	ev.events = EPOLLIN;
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.fd = rbfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, rbfd, &ev);

	while (!d->stop) {
		int n = epoll_wait(ep, evs, 4, 100);

		if (n < 0 && errno != EINTR) {
			log_warn("epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == sfd) {
				on_signals(d, sfd);
			} else if (evs[i].data.fd == lfd) {
				handle_control(d, lfd);
				metrics_write(d);
			}
		}
		if (tick_due(&next_check))
			on_tick(d);
		/* Ready records and those submitted without a wakeup alike. */
		engine_drain(d->eng);
		dns_flush(d);
		if (d->store)
			store_tick(d->store);
		fflush(stdout);
	}
	engine_drain(d->eng);
	dns_flush(d);
	fflush(stdout);
	if (d->store)
		store_note(d->store, "hushd stopped (pid %d)%s", (int)getpid(),
			   d->disabled ? ": enforcement removed by `hush disable`"
				       : "; enforcement stays pinned");
	close(ep);
	close(sfd);
	return 0;
}

static const struct option hushd_opts[] = {
    {"policy", required_argument, NULL, 'p'},
    {"cgroup", required_argument, NULL, 'c'},
    {"pin-dir", required_argument, NULL, 'P'},
    {"run-dir", required_argument, NULL, 'R'},
    {"foreground", no_argument, NULL, 'f'},
    {"log-allowed", no_argument, NULL, 'a'},
    {"ringbuf-size", required_argument, NULL, 'r'},
    {"verbose", no_argument, NULL, 'v'},
    {"metrics-file", required_argument, NULL, 'm'},
    {"db", required_argument, NULL, 'D'},
    {"no-db", no_argument, NULL, 'N'},
    {"retain", required_argument, NULL, 'T'},
    {"max-db-size", required_argument, NULL, 'S'},
    {"quiet", no_argument, NULL, 'q'},
    {"dns-deny", required_argument, NULL, 'Y'},
    {"dns-grace", required_argument, NULL, 'G'},
    {"no-dns-proxy", no_argument, NULL, 'X'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

/* An option with a value to check: 0, or 2 (usage) after saying why. */
static int parse_value(struct hushd *d, int c, const char *arg)
{
	char *end;
	unsigned long v;

	switch (c) {
	case 'r':
		return engine_parse_ringbuf("--ringbuf-size", arg, &d->ringbuf) ? 2 : 0;
	case 'T':
		if (db_parse_duration(arg, &d->retain_ns) || d->retain_ns <= 0) {
			log_warnx("--retain %s: need a duration such as 90d, 12h or 30m", arg);
			return 2;
		}
		return 0;
	case 'S':
		if (db_parse_size(arg, &d->max_db_bytes) || d->max_db_bytes < (1 << 20)) {
			log_warnx("--max-db-size %s: need a size of at least 1M, such as 10G or "
				  "500M",
				  arg);
			return 2;
		}
		return 0;
	case 'Y':
		if (strcmp(arg, "refused") == 0) {
			d->dns_rcode = DNS_RCODE_REFUSED;
		} else if (strcmp(arg, "nxdomain") == 0) {
			d->dns_rcode = DNS_RCODE_NXDOMAIN;
		} else {
			log_warnx("--dns-deny %s: need refused or nxdomain", arg);
			return 2;
		}
		return 0;
	default: /* 'G' */
		v = strtoul(arg, &end, 10);
		if (*end || !*arg || v < 1 || v > 3600) {
			log_warnx("--dns-grace %s: need whole seconds, 1 to 3600", arg);
			return 2;
		}
		d->dns_grace = (uint32_t)v;
		return 0;
	}
}

/* Options into d: -1 to go on, else the exit code (0 for --help, 2). */
static int parse_args(struct hushd *d, int argc, char **argv)
{
	int c;

	while ((c = getopt_long(argc, argv, "fvh", hushd_opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			d->policy_path = optarg;
			break;
		case 'c':
			snprintf(d->cgroup, sizeof(d->cgroup), "%s", optarg);
			d->cgroup_given = true;
			break;
		case 'P':
			d->pin_dir = optarg;
			break;
		case 'R':
			d->run_dir = optarg;
			break;
		case 'f':
			d->foreground = true;
			break;
		case 'a':
			d->log_allowed = true;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'm':
			d->metrics_file = optarg;
			break;
		case 'D':
			d->db_path = optarg;
			break;
		case 'N':
			d->db_path = NULL;
			break;
		case 'q':
			d->quiet = true;
			break;
		case 'X':
			d->no_dns = true;
			break;
		case 'r':
		case 'T':
		case 'S':
		case 'Y':
		case 'G':
			if (parse_value(d, c, optarg))
				return 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		log_warnx("unexpected argument \"%s\"", argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

/* Load, apply, attach or adopt, pin; then the enforcer owns the policy. */
static int enforce(struct hushd *d)
{
	struct engine_opts eo = {
	    .cgroup = d->cgroup,
	    .pin_dir = d->pin_dir,
	    .ringbuf_bytes = d->ringbuf,
	    .log_allowed = d->log_allowed,
	    .forbid_root =
		getenv("HUSH_FORBID_ROOT") && strcmp(getenv("HUSH_FORBID_ROOT"), "1") == 0,
	};
	int ret;

	ret = engine_open(&eo, d->loaded->pc, d->loaded->text, &d->eng);
	if (ret) {
		log_errno(ret, "cannot enforce on %s", d->cgroup);
		return ret;
	}
	ret = enforcer_new(d->eng, d->loaded, d->dns_grace, &d->en);
	if (ret)
		log_errno(ret, "cannot enforce on %s", d->cgroup);
	return ret;
}

/* Layers that are off, said once at start. */
static void report_layers(struct hushd *d)
{
	char why[256];

	if (!probe_bpf_lsm(why, sizeof(why)))
		log_info("layer lsm: unavailable: %s", why);
	if (engine_exec_unavailable(d->eng))
		log_warnx("exec tracking unavailable (%s): events name processes from /proc while "
			  "they live",
			  engine_exec_unavailable(d->eng));
}

/* Create (and migrate) the database while we may still chown it. */
static void db_create(struct hushd *d)
{
	struct db *db;
	char err[512];

	if (!d->db_path)
		return;
	if (db_open(d->db_path, DB_RDWR, &db, err, sizeof(err)))
		log_warnx("%s (enforcement continues; hushd retries each second)", err);
	db_close(db);
}

/*
 * Unless --foreground: fork; the parent waits for the child's "ready" and
 * exits.  Returns -1 in the process that goes on (with *ready the pipe to
 * write "ready" to, or -1), else the parent's exit code.
 */
static int daemonize(struct hushd *d, int *ready)
{
	int p[2], nfd;
	pid_t pid;
	char b;

	*ready = -1;
	if (d->foreground)
		return -1;
	if (pipe(p) < 0) {
		log_warn("pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		log_warn("fork");
		return 1;
	}
	if (pid > 0) {
		close(p[1]);
		/* Exit once the child has taken over. */
		return read(p[0], &b, 1) == 1 ? 0 : 1;
	}
	close(p[0]);
	setsid();
	nfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nfd >= 0) {
		dup2(nfd, STDIN_FILENO);
		close(nfd);
	}
	*ready = p[1];
	return -1;
}

/* The database writer thread (after the fork: threads do not survive it). */
static void start_store(struct hushd *d)
{
	struct store_opts so = {
	    .path = d->db_path,
	    .retain_ns = d->retain_ns,
	    .max_bytes = d->max_db_bytes,
	    .log_allowed = d->log_allowed,
	};
	char hex[2 * POLICY_HASH_LEN + 1];
	int ret;

	if (!d->db_path)
		return;
	ret = store_open(&so, d->eng, &d->store);
	if (ret) {
		log_errno(ret, "cannot start the database writer for %s (events go to stdout only)",
			  d->db_path);
		return;
	}
	db_hex(d->loaded->hash, POLICY_HASH_LEN, hex);
	store_note(d->store, "hushd started (pid %d) %s on %s: policy %s seq %llu sha256 %s",
		   (int)getpid(), engine_adopted(d->eng) ? "adopting" : "enforcing", d->cgroup,
		   d->policy_path, (unsigned long long)engine_policy_seq(d->eng), hex);
}

/* The DNS proxy: after the fork (threads), before "ready".  It reports
 * queries to the drain loop and allowed answers to the enforcer. */
static void start_dns(struct hushd *d)
{
	struct dnsproxy_opts po = {
	    .eng = d->eng,
	    .deny_rcode = d->dns_rcode,
	    .report = on_query,
	    .report_ctx = d,
	    .learn = enforcer_learn,
	    .learn_ctx = d->en,
	};
	struct dnsproxy_stats ps;
	int ret;

	if (d->no_dns) {
		log_info("no DNS proxy (--no-dns-proxy): DNS from enforced cgroups is denied");
		return;
	}
	ret = dnsproxy_start(&po, d->loaded->pol, &d->dns);
	if (ret) {
		log_errno(ret, "cannot start the DNS proxy: DNS from enforced cgroups is denied");
		return;
	}
	dnsproxy_stats(d->dns, &ps);
	log_info("dns proxy on 127.0.0.1 udp %u tcp %u, ::1 udp %u tcp %u; denied names get %s",
		 ps.port[HUSH_DNS_UDP4], ps.port[HUSH_DNS_TCP4], ps.port[HUSH_DNS_UDP6],
		 ps.port[HUSH_DNS_TCP6],
		 d->dns_rcode == DNS_RCODE_NXDOMAIN ? "NXDOMAIN" : "REFUSED");
	if (d->store)
		store_set_namer(d->store, dnsproxy_name_of, d->dns);
}

/* After the loop: DNS fails closed first (the redirect is switched off),
 * then the rest; the pinned enforcement stays. */
static void shut_down(struct hushd *d, int lfd)
{
	char p[PATH_MAX];

	if (d->store)
		store_set_namer(d->store, NULL, NULL);
	dnsproxy_stop(d->dns);
	d->dns = NULL;
	dns_flush(d);
	free(d->dq);
	store_close(d->store);
	close(lfd);
	snprintf(p, sizeof(p), "%s/%s", d->run_dir, CONTROL_SOCK_NAME);
	unlink(p);
	enforcer_free(d->en);
	engine_close(d->eng);
	policy_loaded_free(d->loaded);
}

int main(int argc, char **argv)
{
	struct hushd d = {
	    .policy_path = DEFAULT_POLICY,
	    .pin_dir = ENGINE_DEFAULT_PIN_DIR,
	    .run_dir = ENGINE_DEFAULT_RUN_DIR,
	    .db_path = DB_DEFAULT_PATH,
	    .dns_rcode = DNS_RCODE_REFUSED,
	    .dq_mu = PTHREAD_MUTEX_INITIALIZER,
	};
	int ret, lfd, pidfd = -1, ready;
	sigset_t mask;

	log_init("hushd", LOG_LVL_INFO);
	ret = parse_args(&d, argc, argv);
	if (ret >= 0)
		return ret;
	log_libbpf_init();

	/* 1. Policy: a bad one never reaches the kernel. */
	if (load_policy(&d, d.policy_path, NULL, 0, NULL, &d.loaded))
		return 1;

	/* 2. Where to enforce. */
	if (!d.cgroup_given) {
		ret = cgroup_find_mount(d.cgroup, sizeof(d.cgroup));
		if (ret) {
			log_errno(ret, "cannot find the cgroup2 mount in /proc/mounts (mount "
				       "cgroup2, or pass --cgroup)");
			return 1;
		}
	}

	/* 3. One hushd per run dir. */
	ret = pidfile_lock(d.run_dir, &pidfd);
	if (ret) {
		if (ret != -EEXIST)
			log_errno(ret, "cannot lock %s/hushd.pid", d.run_dir);
		return 1;
	}

	/* Block the signals the loop reads from a signalfd; from here on a
	 * SIGTERM during set-up is handled once the loop starts. */
	loop_signals(&mask);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	/* 4. Load, apply, attach or adopt, pin. */
	if (enforce(&d))
		return 1;
	d.boot_to_real = event_boot_to_real();

	/* 5. Control socket, then give up what we no longer need. */
	lfd = control_listen(d.run_dir);
	if (lfd < 0) {
		log_errno(lfd, "cannot create control socket in %s", d.run_dir);
		engine_close(d.eng);
		return 1;
	}
	report_layers(&d);
	db_create(&d);
	ret = drop_caps();
	if (ret)
		log_errno(ret, "cannot drop capabilities (continuing with all of them)");

	/* 6. Detach, then the threads: database writer, DNS proxy. */
	ret = daemonize(&d, &ready);
	if (ret >= 0)
		return ret;
	pidfile_write(pidfd);
	start_store(&d);
	start_dns(&d);
	log_info("ready: %s %s on %s (cgroup id %llu), policy %s seq %llu, pinned in %s",
		 engine_adopted(d.eng) ? "adopted enforcement" : "enforcing",
		 d.loaded->pol->scopes[0].mode == HUSH_MODE_AUDIT ? "(audit mode)"
								  : "(enforce mode)",
		 d.cgroup, (unsigned long long)engine_cgroup_id(d.eng), d.policy_path,
		 (unsigned long long)engine_policy_seq(d.eng), d.pin_dir);
	if (ready >= 0) {
		if (write(ready, "r", 1) < 0)
			log_warn("cannot signal readiness");
		close(ready);
	}

	ret = run_loop(&d, lfd);
	shut_down(&d, lfd);
	return ret ? 1 : d.disabled ? 3 : 0;
}
