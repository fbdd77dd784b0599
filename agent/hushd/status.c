// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The status JSON hushd answers on its control socket, one line:
 *
 *   {"pid":..,"version":"..","cgroup":"..","pin_dir":"..","policy":"..",
 *    "policy_seq":..,"events":..,"counters":{HOOK:{VERDICT:n,..},..},
 *    "db":{..} or null,"dns":{"proxy":true,..} or {"proxy":false}}
 *
 * `hush status` and the tests read it: add fields, never rename or drop one.
 */
#include <limits.h>
#include <unistd.h>

#include "agent/dns.h"
#include "agent/dnsproxy.h"
#include "agent/enforcer.h"
#include "agent/engine.h"
#include "agent/json.h"
#include "agent/store.h"
#include "agent/hushd/hushd.h"
#include "version.h"

/* The kernel's per-CPU counters, by hook and verdict. */
static void status_counters(struct hushd *d, struct json_writer *w)
{
	uint64_t c[HUSH_CTR_MAX] = {0};

	engine_counters(d->eng, c);
	jsonw_key(w, "counters");
	jsonw_obj_begin(w);
	for (unsigned h = 0; h < HUSH_HOOK_MAX; h++) {
		jsonw_key(w, engine_hook_name(h));
		jsonw_obj_begin(w);
		for (unsigned v = 0; v < HUSH_EV_MAX; v++)
			jsonw_uint_field(w, engine_ev_name(v), c[HUSH_CTR_IDX(h, v)]);
		jsonw_obj_end(w);
	}
	jsonw_obj_end(w);
}

/* The database writer, or null without one. */
static void status_db(struct hushd *d, struct json_writer *w)
{
	struct store_status ss;

	jsonw_key(w, "db");
	if (!d->store) {
		jsonw_null(w);
		return;
	}
	store_status(d->store, &ss);
	jsonw_obj_begin(w);
	jsonw_key(w, "path");
	jsonw_strn(w, d->db_path, PATH_MAX);
	jsonw_bool_field(w, "open", ss.open);
	jsonw_uint_field(w, "rows_written", ss.rows_written);
	jsonw_uint_field(w, "commits", ss.commits);
	jsonw_uint_field(w, "pending_rows", ss.pending_rows);
	jsonw_uint_field(w, "rollup_behind", ss.rollup_behind);
	jsonw_uint_field(w, "gap_events", ss.gap_events);
	jsonw_uint_field(w, "late_events", ss.late_events);
	jsonw_key(w, "writer_lag_s");
	jsonw_fmt(w, "%.3f", ss.lag_s);
	jsonw_int_field(w, "last_commit_ns", ss.last_commit_ns);
	jsonw_key(w, "error");
	if (ss.error[0])
		jsonw_strn(w, ss.error, sizeof(ss.error));
	else
		jsonw_null(w);
	jsonw_obj_end(w);
}

/* The DNS proxy: its ports and counts, and the addresses it taught. */
static void status_dns(struct hushd *d, struct json_writer *w)
{
	struct dnsproxy_stats ps;
	struct enforcer_stats es;

	jsonw_key(w, "dns");
	jsonw_obj_begin(w);
	jsonw_bool_field(w, "proxy", d->dns != NULL);
	if (!d->dns) {
		jsonw_obj_end(w);
		return;
	}
	dnsproxy_stats(d->dns, &ps);
	enforcer_stats(d->en, &es);
	jsonw_uint_field(w, "udp4", ps.port[0]);
	jsonw_uint_field(w, "tcp4", ps.port[1]);
	jsonw_uint_field(w, "udp6", ps.port[2]);
	jsonw_uint_field(w, "tcp6", ps.port[3]);
	jsonw_str_field(w, "deny_rcode",
			d->dns_rcode == DNS_RCODE_NXDOMAIN ? "nxdomain" : "refused");
	jsonw_uint_field(w, "queries", ps.queries);
	jsonw_uint_field(w, "allowed", ps.allowed);
	jsonw_uint_field(w, "denied", ps.denied);
	jsonw_uint_field(w, "audited", ps.audited);
	jsonw_uint_field(w, "malformed", ps.malformed);
	jsonw_uint_field(w, "unattributed", ps.unattributed);
	jsonw_uint_field(w, "upstream_timeouts", ps.upstream_timeouts);
	jsonw_uint_field(w, "upstream_errors", ps.upstream_errors);
	jsonw_uint_field(w, "netns_served", ps.netns);
	jsonw_uint_field(w, "learned", es.learned);
	jsonw_uint_field(w, "learned_now", es.learned_now);
	jsonw_uint_field(w, "learned_entries", es.entries);
	jsonw_uint_field(w, "learned_cgroups", es.cgroups);
	jsonw_uint_field(w, "learned_refused", es.refused);
	jsonw_uint_field(w, "learned_unattributed", es.unattributed);
	jsonw_obj_end(w);
}

int hushd_status_json(struct hushd *d, struct json_writer *w)
{
	jsonw_obj_begin(w);
	jsonw_int_field(w, "pid", getpid());
	jsonw_str_field(w, "version", HUSH_VERSION);
	jsonw_str_field(w, "cgroup", d->cgroup);
	jsonw_str_field(w, "pin_dir", d->pin_dir);
	jsonw_str_field(w, "policy", d->policy_path);
	jsonw_uint_field(w, "policy_seq", engine_policy_seq(d->eng));
	jsonw_uint_field(w, "events", d->events);
	status_counters(d, w);
	status_db(d, w);
	status_dns(d, w);
	jsonw_obj_end(w);
	return jsonw_finish(w);
}
