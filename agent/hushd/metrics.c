// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <sqlite3.h>

#include "agent/db.h"
#include "agent/dnsproxy.h"
#include "agent/enforcer.h"
#include "agent/engine.h"
#include "agent/log.h"
#include "agent/store.h"
#include "agent/hushd/hushd.h"
#include "version.h"

/* Which hushd this is, and the libraries it runs with (the running ones, not
 * the ones it was built against): a constant 1, the facts in its labels. */
static void metrics_build_info(FILE *f)
{
	fprintf(f,
		"# HELP hush_build_info hushd's version and the libbpf and SQLite it runs "
		"with (always 1).\n"
		"# TYPE hush_build_info gauge\n"
		"hush_build_info{version=\"%s\",libbpf=\"%s\",sqlite=\"%s\"} 1\n",
		HUSH_VERSION, libbpf_version_string(), sqlite3_libversion());
}

/* hushd itself: up, and when it last wrote.  A hushd killed with SIGKILL
 * leaves "up 1" behind, but the heartbeat stops moving. */
static void metrics_up(struct hushd *d, FILE *f)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(f,
		"# HELP hush_up 1 while hushd runs, 0 once it has exited cleanly (enforcement "
		"stays pinned unless `hush disable` removed it).\n"
		"# TYPE hush_up gauge\n"
		"hush_up %d\n"
		"# HELP hush_heartbeat_timestamp_seconds When hushd last wrote this file (every "
		"second while it runs): alert on time() - hush_heartbeat_timestamp_seconds > 10.\n"
		"# TYPE hush_heartbeat_timestamp_seconds gauge\n"
		"hush_heartbeat_timestamp_seconds %lld.%03ld\n",
		d->exiting ? 0 : 1, (long long)ts.tv_sec, ts.tv_nsec / 1000000);
}

/* The kernel's counters: attempts by hook and verdict, and lost events. */
static void metrics_attempts(struct hushd *d, FILE *f)
{
	uint64_t c[HUSH_CTR_MAX] = {0};

	engine_counters(d->eng, c);
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
}

/* Tampering: what hushd found before appending, and the last `hush log
 * verify` (its "<db>.verify" file). */
static void metrics_tamper(struct hushd *d, FILE *f)
{
	uint64_t rows, findings;
	int64_t ts;

	fprintf(f,
		"# HELP hush_log_tamper_total Tampering hushd found before appending (a TAMPER "
		"note in the log).\n# TYPE hush_log_tamper_total counter\n"
		"hush_log_tamper_total %llu\n",
		(unsigned long long)db_tamper_noted());
	if (!d->db_path || db_verify_status_read(d->db_path, &ts, &rows, &findings))
		return;
	fprintf(f,
		"# HELP hush_log_verify_findings Damages the last hush log verify found.\n"
		"# TYPE hush_log_verify_findings gauge\nhush_log_verify_findings %llu\n"
		"# HELP hush_log_verify_timestamp_seconds When it ran.\n"
		"# TYPE hush_log_verify_timestamp_seconds gauge\n"
		"hush_log_verify_timestamp_seconds %.3f\n",
		(unsigned long long)findings, (double)ts / 1e9);
}

/* The database writer's progress. */
static void metrics_db(struct hushd *d, FILE *f)
{
	struct store_status ss;

	if (!d->store)
		return;
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
		"# HELP hush_db_rollup_behind_rows Rows written that the rollups for `hush log "
		"top` have still to add (read from the table meanwhile).\n"
		"# TYPE hush_db_rollup_behind_rows gauge\n"
		"hush_db_rollup_behind_rows %llu\n"
		"# HELP hush_db_writer_lag_seconds Last commit: time since its oldest "
		"attempt.\n"
		"# TYPE hush_db_writer_lag_seconds gauge\n"
		"hush_db_writer_lag_seconds %.6f\n"
		"# HELP hush_db_writable 1 if the last database write succeeded.\n"
		"# TYPE hush_db_writable gauge\n"
		"hush_db_writable %d\n",
		(unsigned long long)ss.rows_written, (unsigned long long)ss.gap_events,
		(unsigned long long)ss.pending_rows, (unsigned long long)ss.rollup_behind, ss.lag_s,
		ss.open && !ss.error[0] ? 1 : 0);
	metrics_tamper(d, f);
}

/* The DNS proxy: up or not, its verdicts, the addresses it taught. */
static void metrics_dns(struct hushd *d, FILE *f)
{
	struct dnsproxy_stats ps;
	struct enforcer_stats es;

	fprintf(f,
		"# HELP hush_dns_proxy_up 1 while the DNS proxy takes the port-53 traffic of "
		"enforced cgroups (0: that traffic is denied).\n"
		"# TYPE hush_dns_proxy_up gauge\n"
		"hush_dns_proxy_up %d\n",
		d->dns ? 1 : 0);
	if (!d->dns)
		return;
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
		"hush_dns_learned_addresses %llu\n"
		"# HELP hush_dns_learned_entries (cgroup, address) pairs in force: each "
		"learned address is usable only by the cgroup that asked.\n"
		"# TYPE hush_dns_learned_entries gauge\n"
		"hush_dns_learned_entries %llu\n"
		"# HELP hush_dns_learned_cgroups Cgroups holding learned addresses.\n"
		"# TYPE hush_dns_learned_cgroups gauge\n"
		"hush_dns_learned_cgroups %llu\n"
		"# HELP hush_dns_learned_refused_total Learned addresses refused because the "
		"kernel map was full (they stay denied to the cgroup that asked).\n"
		"# TYPE hush_dns_learned_refused_total counter\n"
		"hush_dns_learned_refused_total %llu\n"
		"# HELP hush_dns_netns_served Network namespaces the DNS proxy has listeners "
		"in (hushd's own included).\n"
		"# TYPE hush_dns_netns_served gauge\n"
		"hush_dns_netns_served %u\n",
		(unsigned long long)ps.allowed, (unsigned long long)ps.denied,
		(unsigned long long)ps.audited, (unsigned long long)ps.malformed,
		(unsigned long long)(ps.upstream_timeouts + ps.upstream_errors),
		(unsigned long long)es.learned_now, (unsigned long long)es.entries,
		(unsigned long long)es.cgroups, (unsigned long long)es.refused, ps.netns);
}

/* The last reload attempt, once there was one. */
static void metrics_reload(struct hushd *d, FILE *f)
{
	if (!d->reload_ts)
		return;
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
}

/*
 * Prometheus metrics in the node_exporter textfile-collector format,
 * rewritten atomically (temporary file + rename) once a second, after
 * every reload attempt and once more on a clean exit (hush_up 0).  Counters come from the kernel's
 * per-CPU maps, so they count attempts even when events were lost.
 */
void hushd_metrics_write(struct hushd *d)
{
	char tmp[PATH_MAX];
	FILE *f;
	int err = 0;

	if (!d->metrics_file)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", d->metrics_file, (int)getpid());
	f = fopen(tmp, "w");
	if (!f) {
		err = errno;
		goto out;
	}
	/* For node_exporter and other readers whatever hushd's umask (the unit
	 * has UMask=0077): the same mode the file had before. */
	if (fchmod(fileno(f), 0644) < 0) {
		err = errno;
		fclose(f);
		unlink(tmp);
		goto out;
	}
	metrics_build_info(f);
	metrics_up(d, f);
	metrics_attempts(d, f);
	metrics_db(d, f);
	metrics_dns(d, f);
	metrics_reload(d, f);
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
