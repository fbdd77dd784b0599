// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The status JSON hushd answers on its control socket (`hush status` reads
 * it: keep every field). */
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "../dns.h"
#include "../dnsproxy.h"
#include "../enforcer.h"
#include "../engine.h"
#include "../json.h"
#include "../store.h"
#include "hushd.h"

void hushd_status_json(struct hushd *d, char *buf, size_t len)
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
