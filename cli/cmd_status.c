// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hush status [--json], hush disable.
 *
 * Status reads the pinned state directly (it must work while hushd is down:
 * that is exactly when an operator needs to know enforcement still holds),
 * then asks hushd, if reachable, for its pid and writer (control.h parses
 * the reply).  hushd counts as running only if its control socket answers:
 * no pid file is trusted, so a stale one or a reused pid cannot look alive.
 * Table and JSON come from the same collected struct; both name the version
 * of this hush.
 *
 * Disable refuses to run from inside the cgroups it would release
 * (contain.h), asks hushd to stop (hushd checks the same of its peer), then
 * unpins; with no hushd to log it, it writes the note row itself.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "agent/guard.h"
#include "agent/control.h"
#include "agent/db.h"
#include "agent/engine.h"
#include "agent/engine_learn.h"
#include "agent/event.h"
#include "agent/json.h"
#include "agent/log.h"
#include "agent/probe.h"
#include "rules/policy.h"
#include "cli/cli.h"
#include "version.h"

/* hush status: enforcement in place, but no hushd answers (dead or stopped:
 * nothing is logged, DNS from enforced cgroups fails, no reloads). */
#define EXIT_NO_HUSHD 3
/* How long status waits for a hushd that accepts but does not answer. */
#define STATUS_TIMEOUT_S 5

struct status {
	struct engine_pinned st;
	struct engine_learned lrn; /* who learned which `allow host` address */
	char cgroup[PATH_MAX];
	uint64_t cgroup_id;
	char cgroup2[PATH_MAX]; /* the cgroup2 mount; "" if none */
	bool nsdelegate;	/* ... mounted with nsdelegate */
	const char *mode;
	size_t nscopes;
	int hushd_pid; /* 0: not reachable */
	char lsm[256];
	bool lsm_ok;
	/* audit log */
	char db_path[PATH_MAX];
	bool db_ok; /* readable */
	char db_err[512];
	struct db_stats dbs;
	/* Kernel events the log accounts for (rows + gap rows), per verdict,
	 * from its marks (db.h): what reconciles with the counters. */
	bool marks_ok;
	uint64_t acc[HUSH_EV_MAX];
	bool writer; /* hushd reported its writer */
	bool w_open;
	char w_err[512];
	double w_lag;
	int64_t w_pending, w_gaps, w_late;
	int64_t w_roll; /* rows the rollups have still to add; -1: not said */
};

static void json_reconcile(struct json_writer *w, const struct status *s);

/* What hushd's status reply says of itself and its writer. */
static void hushd_status(struct status *s, const char *reply)
{
	struct control_status cs;

	control_status_parse(reply, &cs);
	s->hushd_pid = cs.pid;
	if (!cs.writer)
		return;
	s->writer = true;
	if (!s->db_path[0])
		snprintf(s->db_path, sizeof(s->db_path), "%s", cs.db_path);
	s->w_open = cs.db_open;
	snprintf(s->w_err, sizeof(s->w_err), "%s", cs.db_error);
	s->w_lag = cs.lag_s;
	s->w_pending = cs.pending_rows;
	s->w_gaps = cs.gap_events;
	s->w_late = cs.late_events;
	s->w_roll = cs.rollup_behind;
}

static void db_collect(struct status *s)
{
	struct db *db;

	if (!s->db_path[0])
		snprintf(s->db_path, sizeof(s->db_path), "%s", DB_DEFAULT_PATH);
	if (db_open(s->db_path, DB_RDONLY, &db, s->db_err, sizeof(s->db_err)) == 0) {
		struct db_mark *m = NULL;
		size_t n = 0;

		s->db_ok = db_stats(db, &s->dbs) == 0;
		s->marks_ok = db_marks(db, &m, &n) == 0;
		for (size_t i = 0; s->marks_ok && i < n; i++)
			if (m[i].hook < HUSH_HOOK_MAX && m[i].verdict < HUSH_EV_MAX)
				s->acc[m[i].verdict] += m[i].seq + m[i].above;
		free(m);
		db_close(db);
	}
}

static void fmt_ts(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000LL);
	struct tm tm;

	if (!ns) {
		snprintf(buf, len, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The audit log hushd named in the run dir (control.h) into buf: 0, or
 * -errno (-ENOENT: hushd runs with --no-db or never ran here). */
static int recorded_db(const char *run_dir, char *buf, size_t len)
{
	char p[PATH_MAX], *text = NULL;
	size_t n;
	int ret;

	snprintf(p, sizeof(p), "%s/%s", run_dir, CONTROL_DB_NAME);
	ret = read_file_max(p, PATH_MAX, &text, &n);
	if (ret)
		return ret;
	text[strcspn(text, "\n")] = 0;
	ret = text[0] == '/' ? 0 : -EINVAL;
	if (!ret)
		snprintf(buf, len, "%s", text);
	free(text);
	return ret;
}

/* The cgroup the pinned links are attached to: its id (0: no link) and
 * path into buf. */
static uint64_t pinned_cgroup(const struct engine_pinned *st, char *buf, size_t len)
{
	for (int l = 0; l < ENGINE_LINK_MAX; l++) {
		uint64_t id = st->links[l].cgroup_id;
		char mnt[PATH_MAX - 256] = "", rel[256];

		if (!st->links[l].present)
			continue;
		if (cgroup_find_mount(mnt, sizeof(mnt)) == 0 &&
		    cgroup_path_by_handle(id, rel, sizeof(rel)) == 0)
			snprintf(buf, len, "%s%s", mnt, strcmp(rel, "/") ? rel : "");
		else
			snprintf(buf, len, "(cgroup id %llu, removed?)", (unsigned long long)id);
		return id;
	}
	return 0;
}

/* The policy the kernel holds, parsed (NULL if there is none or it does
 * not parse). */
static struct policy *pinned_policy(const char *pin_dir)
{
	struct policy_errors errs = {0};
	struct policy *p = NULL;
	char *text = NULL;

	if (engine_pinned_policy(pin_dir, &text))
		return NULL;
	if (policy_parse("(kernel)", text, strlen(text), &p, &errs)) {
		policy_free(p);
		p = NULL;
	}
	policy_errors_free(&errs);
	free(text);
	return p;
}

static void collect(struct cli *c, struct status *s)
{
	char *detail = NULL, *reply = NULL;

	memset(s, 0, sizeof(*s));
	s->mode = "unknown";
	engine_pinned_read(c->pin_dir, &s->st);
	(void)engine_learn_pinned(c->pin_dir, &s->lrn);
	s->cgroup_id = pinned_cgroup(&s->st, s->cgroup, sizeof(s->cgroup));
	if (cgroup_find_mount(s->cgroup2, sizeof(s->cgroup2)) < 0)
		s->cgroup2[0] = 0;
	s->nsdelegate = cgroup_nsdelegate() == 1;
	if (s->st.present) {
		struct policy *p = pinned_policy(c->pin_dir);

		if (p) {
			s->mode = p->scopes[0].mode == HUSH_MODE_AUDIT ? "audit" : "enforce";
			s->nscopes = p->nscopes - 1;
		}
		policy_free(p);
	}
	if (c->db_path)
		snprintf(s->db_path, sizeof(s->db_path), "%s", c->db_path);
	else
		recorded_db(c->run_dir, s->db_path, sizeof(s->db_path));
	if (control_call_tmo(c->run_dir, "status", NULL, NULL, 0, STATUS_TIMEOUT_S, &detail,
			     &reply) == 1)
		hushd_status(s, reply);
	db_collect(s);
	free(detail);
	free(reply);
	s->lsm_ok = probe_bpf_lsm(s->lsm, sizeof(s->lsm));
}

static bool active(const struct status *s)
{
	for (int l = 0; l < ENGINE_LINK_MAX; l++)
		if (!s->st.links[l].present)
			return false;
	return s->st.present;
}

static const char *lsm_reason(const struct status *s)
{
	static char buf[512];

	if (s->lsm_ok)
		return "unavailable: the kernel would load BPF LSM programs, but this hush does "
		       "not build them yet (AF_PACKET and other non-IP families are not judged)";
	snprintf(buf, sizeof(buf), "unavailable: %s", s->lsm);
	return buf;
}

/* The DNS redirect: up when the proxy's UDP socket on 127.0.0.1 is open. */
static bool dns_up(const struct status *s)
{
	return s->st.dns_port[HUSH_DNS_UDP4] && s->st.dns_open[HUSH_DNS_UDP4];
}

static const char *const dns_slot_name[HUSH_DNS_SLOTS] = {"udp4", "tcp4", "udp6", "tcp6"};

static void print_dns(const struct status *s)
{
	if (!dns_up(s)) {
		printf(
		    "dns:         no proxy running: DNS (port 53) from enforced cgroups is denied "
		    "(fail closed)%s\n",
		    s->hushd_pid ? "; hushd runs without it (see its log)" : "");
		return;
	}
	printf("dns:         proxy up (pid %u):", s->st.dns_tgid);
	for (int i = 0; i < HUSH_DNS_SLOTS; i++) {
		if (s->st.dns_port[i] && s->st.dns_open[i])
			printf(" %s %s:%u", dns_slot_name[i], i < 2 ? "127.0.0.1" : "[::1]",
			       s->st.dns_port[i]);
		else
			printf(" %s DENIED", dns_slot_name[i]);
	}
	printf("; port-53 traffic of enforced cgroups is judged by name there\n");
}

/* Path of learning cgroup id (relative to the cgroup2 mount), or "(gone)". */
static const char *lcg_path(uint64_t id, char *buf, size_t len)
{
	if (cgroup_path_by_handle(id, buf, len))
		snprintf(buf, len, "(gone or unknown)");
	return buf;
}

/* Learned `allow host` addresses, per cgroup that asked (the kernel's). */
static void print_learned(const struct status *s)
{
	char p[PATH_MAX];

	if (!s->lrn.present)
		return;
	printf("learned:     %zu address%s from allowed DNS answers, for %zu cgroup%s (each "
	       "usable only by the cgroup that asked)\n",
	       s->lrn.entries, s->lrn.entries == 1 ? "" : "es", s->lrn.cgroups,
	       s->lrn.cgroups == 1 ? "" : "s");
	for (size_t i = 0; i < s->lrn.ntop; i++)
		printf("  %6zu  %s (id %llu)\n", s->lrn.top[i].n,
		       lcg_path(s->lrn.top[i].lcg, p, sizeof(p)),
		       (unsigned long long)s->lrn.top[i].lcg);
	if (s->lrn.cgroups > s->lrn.ntop)
		printf("  ... and %zu more cgroups\n", s->lrn.cgroups - s->lrn.ntop);
}

static void json_learned(struct json_writer *w, const struct status *s)
{
	char p[PATH_MAX];

	jsonw_key(w, "learned");
	jsonw_obj_begin(w);
	jsonw_uint_field(w, "entries", s->lrn.entries);
	jsonw_uint_field(w, "ncgroups", s->lrn.cgroups);
	jsonw_key(w, "cgroups");
	jsonw_arr_begin(w);
	for (size_t i = 0; i < s->lrn.ntop; i++) {
		jsonw_obj_begin(w);
		jsonw_uint_field(w, "id", s->lrn.top[i].lcg);
		jsonw_key(w, "path");
		jsonw_strn(w, lcg_path(s->lrn.top[i].lcg, p, sizeof(p)), sizeof(p));
		jsonw_uint_field(w, "entries", s->lrn.top[i].n);
		jsonw_obj_end(w);
	}
	jsonw_arr_end(w);
	jsonw_obj_end(w);
}

static void json_layers(struct json_writer *w, const struct status *s)
{
	jsonw_key(w, "layers");
	jsonw_arr_begin(w);
	for (int l = 0; l < ENGINE_LINK_MAX; l++) {
		jsonw_obj_begin(w);
		jsonw_str_field(w, "name", engine_link_name(l));
		jsonw_bool_field(w, "active", s->st.links[l].present);
		jsonw_uint_field(w, "prog_id", s->st.links[l].prog_id);
		jsonw_obj_end(w);
	}
	jsonw_obj_begin(w);
	jsonw_str_field(w, "name", "exec");
	jsonw_bool_field(w, "active", s->st.exec_tracking);
	jsonw_obj_end(w);
	jsonw_obj_begin(w);
	jsonw_str_field(w, "name", "dns");
	jsonw_bool_field(w, "active", dns_up(s));
	jsonw_obj_end(w);
	jsonw_obj_begin(w);
	jsonw_str_field(w, "name", "lsm");
	jsonw_bool_field(w, "active", false);
	jsonw_key(w, "reason");
	jsonw_strn(w, lsm_reason(s), 512);
	jsonw_obj_end(w);
	jsonw_arr_end(w);
}

static void json_db(struct json_writer *w, const struct status *s)
{
	jsonw_key(w, "db");
	jsonw_obj_begin(w);
	jsonw_key(w, "path");
	jsonw_strn(w, s->db_path, PATH_MAX);
	jsonw_bool_field(w, "readable", s->db_ok);
	if (s->db_ok) {
		char a[32], b[32];

		fmt_ts(s->dbs.oldest_ts, a, sizeof(a));
		fmt_ts(s->dbs.newest_ts, b, sizeof(b));
		jsonw_uint_field(w, "rows", s->dbs.rows);
		jsonw_uint_field(w, "attempts", s->dbs.attempts);
		jsonw_uint_field(w, "lost", s->dbs.lost);
		jsonw_int_field(w, "bytes", s->dbs.file_bytes);
		jsonw_str_field(w, "oldest", a);
		jsonw_str_field(w, "newest", b);
	} else {
		jsonw_key(w, "error");
		jsonw_strn(w, s->db_err, sizeof(s->db_err));
	}
	jsonw_key(w, "writer");
	if (s->writer) {
		jsonw_obj_begin(w);
		jsonw_bool_field(w, "ok", s->w_open && !s->w_err[0]);
		jsonw_key(w, "lag_s");
		jsonw_fmt(w, "%.3f", s->w_lag);
		jsonw_int_field(w, "pending_rows", s->w_pending);
		jsonw_int_field(w, "gap_events", s->w_gaps);
		jsonw_int_field(w, "late_events", s->w_late);
		jsonw_key(w, "rollup_behind");
		if (s->w_roll >= 0)
			jsonw_int(w, s->w_roll);
		else
			jsonw_null(w);
		jsonw_key(w, "error");
		jsonw_strn(w, s->w_err[0] ? s->w_err : NULL, sizeof(s->w_err));
		jsonw_obj_end(w);
	} else {
		jsonw_null(w);
	}
	jsonw_obj_end(w);
}

static void print_json(const struct status *s, const struct cli *c)
{
	struct json_writer w;
	char sha[2 * 32 + 1];

	for (int i = 0; i < 32; i++)
		snprintf(sha + 2 * i, 3, "%02x", s->st.policy_hash[i]);
	jsonw_init_file(&w, stdout, JSON_LINES);
	jsonw_obj_begin(&w);
	jsonw_key(&w, "version");
	jsonw_strn(&w, HUSH_VERSION, 256);
	jsonw_bool_field(&w, "enforced", active(s));
	jsonw_key(&w, "pin_dir");
	jsonw_strn(&w, c->pin_dir, PATH_MAX);
	jsonw_key(&w, "cgroup");
	jsonw_strn(&w, s->cgroup_id ? s->cgroup : NULL, PATH_MAX);
	jsonw_uint_field(&w, "cgroup_id", s->cgroup_id);
	jsonw_key(&w, "cgroup2");
	jsonw_obj_begin(&w);
	jsonw_key(&w, "mount");
	jsonw_strn(&w, s->cgroup2[0] ? s->cgroup2 : NULL, PATH_MAX);
	jsonw_bool_field(&w, "nsdelegate", s->nsdelegate);
	jsonw_obj_end(&w);
	jsonw_key(&w, "hushd");
	jsonw_obj_begin(&w);
	jsonw_bool_field(&w, "running", s->hushd_pid);
	jsonw_int_field(&w, "pid", s->hushd_pid);
	jsonw_obj_end(&w);
	jsonw_key(&w, "policy");
	jsonw_obj_begin(&w);
	jsonw_uint_field(&w, "seq", s->st.policy_seq);
	jsonw_str_field(&w, "sha256", sha);
	jsonw_str_field(&w, "mode", s->mode);
	jsonw_uint_field(&w, "scopes", s->nscopes);
	jsonw_obj_end(&w);
	json_layers(&w, s);
	jsonw_key(&w, "counters");
	jsonw_obj_begin(&w);
	for (unsigned h = 0; h < HUSH_HOOK_MAX; h++) {
		jsonw_key(&w, engine_hook_name(h));
		jsonw_obj_begin(&w);
		for (unsigned v = 0; v < HUSH_EV_MAX; v++)
			jsonw_uint_field(&w, engine_ev_name(v), s->st.counters[HUSH_CTR_IDX(h, v)]);
		jsonw_obj_end(&w);
	}
	jsonw_obj_end(&w);
	jsonw_key(&w, "dns");
	jsonw_obj_begin(&w);
	jsonw_bool_field(&w, "proxy", dns_up(s));
	jsonw_bool_field(&w, "fail_closed", !dns_up(s));
	jsonw_uint_field(&w, "pid", dns_up(s) ? s->st.dns_tgid : 0u);
	for (int i = 0; i < HUSH_DNS_SLOTS; i++)
		jsonw_uint_field(&w, dns_slot_name[i], s->st.dns_open[i] ? s->st.dns_port[i] : 0u);
	jsonw_obj_end(&w);
	json_learned(&w, s);
	json_reconcile(&w, s);
	json_db(&w, s);
	jsonw_obj_end(&w);
}

/*
 * Status counters against the log.  The kernel counts every attempt per
 * hook and verdict (counters); it numbers each one it offers to hushd
 * (hush_evseq: "reported"), and the log's marks say which numbers it
 * holds, as rows (whatever the coalescing) or in gap rows ("in log").  So
 * per verdict: reported = in log + not yet (ring buffer, writer queue, or
 * waiting for a hushd), exactly.  Counted but never reported, by design:
 * allowed attempts without --log-allowed, and always DNS redirects to the
 * proxy, replies and the proxy's forwards; audited packets of a connection
 * the socket hooks already reported (the backstop counts each packet).
 * The log's own totals (below) differ again: DNS queries (the proxy's, no
 * kernel counter), rows of earlier enforcements, pruned rows.
 */
struct recon {
	uint64_t kernel, reported;
	int64_t not_yet;
	const char *why, *unreported_why;
};

static void reconcile(const struct status *s, unsigned v, struct recon *r)
{
	r->kernel = r->reported = 0;
	for (unsigned h = 0; h < HUSH_HOOK_MAX; h++) {
		r->kernel += s->st.counters[HUSH_CTR_IDX(h, v)];
		r->reported += s->st.reported[HUSH_CTR_IDX(h, v)];
	}
	r->not_yet = (int64_t)(r->reported - s->acc[v]);
	if (!s->marks_ok)
		r->why = "the log's marks cannot be read";
	else if (r->not_yet < 0)
		r->why = "the log's marks are of earlier counters (enforcement was set up "
			 "again): hushd restarts the accounting when it starts";
	else if (r->not_yet == 0)
		r->why = "reconciled";
	else if (s->hushd_pid)
		r->why = "in the ring buffer or the writer's queue (written within a second "
			 "or so)";
	else
		r->why = "waiting in the ring buffer for the next hushd (what it cannot hold "
			 "becomes a gap row)";
	r->unreported_why =
	    v == HUSH_EV_ALLOW
		? (s->st.log_allowed ? "DNS redirects to the proxy, replies, the proxy's forwards"
				     : "allowed attempts are logged only with --log-allowed")
	    : v == HUSH_EV_AUDIT ? "packets of connections already reported"
				 : "none expected";
}

static const unsigned recon_v[] = {HUSH_EV_DENY, HUSH_EV_AUDIT, HUSH_EV_ALLOW};

static void print_reconcile(const struct status *s)
{
	if (!s->st.present || !s->db_ok)
		return;
	printf("reconcile:   %-8s %12s %12s %12s %12s\n", "verdict", "counted", "reported",
	       "in log", "not yet");
	for (size_t i = 0; i < sizeof(recon_v) / sizeof(recon_v[0]); i++) {
		struct recon r;

		reconcile(s, recon_v[i], &r);
		printf("             %-8s %12llu %12llu %12llu %12lld  %s\n",
		       engine_ev_name(recon_v[i]), (unsigned long long)r.kernel,
		       (unsigned long long)r.reported, (unsigned long long)s->acc[recon_v[i]],
		       (long long)r.not_yet, r.why);
		if (r.kernel > r.reported)
			printf("             %-8s %12llu counted, not reported: %s\n", "",
			       (unsigned long long)(r.kernel - r.reported), r.unreported_why);
	}
	printf("             (the totals below also hold DNS queries, which the proxy judges "
	       "and the kernel does not count, rows of earlier enforcements, and not the rows "
	       "pruned; repeats coalesce into one row with their count)\n");
}

static void json_reconcile(struct json_writer *w, const struct status *s)
{
	if (!s->st.present || !s->db_ok)
		return;
	jsonw_key(w, "reconcile");
	jsonw_obj_begin(w);
	for (size_t i = 0; i < sizeof(recon_v) / sizeof(recon_v[0]); i++) {
		struct recon r;

		reconcile(s, recon_v[i], &r);
		jsonw_key(w, engine_ev_name(recon_v[i]));
		jsonw_obj_begin(w);
		jsonw_uint_field(w, "counted", r.kernel);
		jsonw_uint_field(w, "reported", r.reported);
		jsonw_uint_field(w, "in_log", s->acc[recon_v[i]]);
		jsonw_int_field(w, "not_yet", r.not_yet);
		jsonw_str_field(w, "why", r.why);
		jsonw_uint_field(w, "unreported", r.kernel - r.reported);
		jsonw_str_field(w, "unreported_why", r.unreported_why);
		jsonw_obj_end(w);
	}
	jsonw_obj_end(w);
}

static void print_db(const struct status *s)
{
	char a[32], b[32];

	if (!s->db_ok) {
		printf("database:    %s\n", s->db_err);
	} else {
		fmt_ts(s->dbs.oldest_ts, a, sizeof(a));
		fmt_ts(s->dbs.newest_ts, b, sizeof(b));
		printf("database:    %s (%.1f MiB)\n", s->db_path,
		       (double)s->dbs.file_bytes / (1 << 20));
		printf("             %llu rows, %s .. %s; %llu attempts recorded, %llu lost "
		       "(gap rows)\n",
		       (unsigned long long)s->dbs.rows, a, b, (unsigned long long)s->dbs.attempts,
		       (unsigned long long)s->dbs.lost);
	}
	if (!s->writer)
		printf("writer:      %s\n", s->hushd_pid ? "none (hushd runs with --no-db)"
							 : "not running (hushd is not running)");
	else if (s->w_open && !s->w_err[0] && s->w_roll > 0)
		printf("writer:      ok, lag %.3f s, %lld rows pending; the rollups for `hush log "
		       "top` are %lld rows behind (read from the table meanwhile)\n",
		       s->w_lag, (long long)s->w_pending, (long long)s->w_roll);
	else if (s->w_open && !s->w_err[0])
		printf("writer:      ok, lag %.3f s, %lld rows pending\n", s->w_lag,
		       (long long)s->w_pending);
	else
		printf("writer:      FAILING: %s (the kernel keeps counting; the missed attempts "
		       "become a gap row once writing works)\n",
		       s->w_err[0] ? s->w_err : "database not open");
}

static void print_table(const struct status *s, const struct cli *c)
{
	printf("version:     %s\n", HUSH_VERSION);
	if (!s->st.present) {
		printf("enforcement: none (nothing pinned in %s)\n", c->pin_dir);
		printf("hushd:       %s\n", s->hushd_pid ? "running" : "not running");
		print_db(s);
		return;
	}
	printf("enforcement: %s (pinned in %s)\n",
	       active(s) ? "active" : "INCOMPLETE (some hooks are not attached)", c->pin_dir);
	printf("cgroup:      %s (id %llu)\n", s->cgroup_id ? s->cgroup : "(none)",
	       (unsigned long long)s->cgroup_id);
	printf("cgroup2:     %s (nsdelegate: %s)\n", s->cgroup2[0] ? s->cgroup2 : "(not mounted)",
	       s->nsdelegate ? "yes" : "no");
	if (s->hushd_pid)
		printf("hushd:       running (pid %d)\n", s->hushd_pid);
	else
		printf("hushd:       not running (enforcement stays in place: fail closed; events "
		       "wait in the pinned ring buffer for the next hushd, overflow is counted)\n");
	printf("policy:      mode %s, %zu scope%s, seq %llu, sha256 ", s->mode, s->nscopes,
	       s->nscopes == 1 ? "" : "s", (unsigned long long)s->st.policy_seq);
	for (int i = 0; i < 32; i++)
		printf("%02x", s->st.policy_hash[i]);
	printf("\n");
	print_dns(s);
	print_learned(s);
	printf("layers:\n");
	for (int l = 0; l < ENGINE_LINK_MAX; l++) {
		if (s->st.links[l].present)
			printf("  %-12s active (prog %s, id %u)\n", engine_link_name(l),
			       s->st.links[l].prog_name, s->st.links[l].prog_id);
		else
			printf("  %-12s NOT ATTACHED\n", engine_link_name(l));
	}
	printf("  %-12s %s\n", "exec",
	       s->st.exec_tracking ? "active (exe and command line of every process, for events)"
				   : "off: events name processes from /proc while they live");
	printf("  %-12s %s\n", "lsm", lsm_reason(s));
	printf("counters:    %-10s %12s %12s %12s %12s\n", "hook", "allow", "deny", "audit",
	       "lost");
	for (unsigned h = 0; h < HUSH_HOOK_MAX; h++) {
		printf("             %-10s", engine_hook_name(h));
		for (unsigned v = 0; v < HUSH_EV_MAX; v++)
			printf(" %12llu", (unsigned long long)s->st.counters[HUSH_CTR_IDX(h, v)]);
		printf("\n");
	}
	print_reconcile(s);
	print_db(s);
}

static void status_usage(FILE *f)
{
	fprintf(f, "usage: hush status [--json] [--db FILE]\n"
		   "\n"
		   "exit codes:\n"
		   "  0  enforcement active (every hook attached) and hushd running\n"
		   "  1  nothing enforced, or not every hook attached\n"
		   "  2  usage error\n"
		   "  3  enforcement active but no hushd answers on its control socket (dead or\n"
		   "     stopped): it holds (fail closed), but nothing is logged, DNS from the\n"
		   "     enforced cgroups fails, and policies cannot be applied\n");
}

int do_status(struct cli *c, int argc, char **argv)
{
	struct status s;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			c->db_path = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			status_usage(stdout);
			return EXIT_OK;
		} else {
			status_usage(stderr);
			return EXIT_USAGE;
		}
	}
	collect(c, &s);
	if (json)
		print_json(&s, c);
	else
		print_table(&s, c);
	if (!active(&s))
		return EXIT_FAIL;
	return s.hushd_pid ? EXIT_OK : EXIT_NO_HUSHD;
}

/* Refuse to switch off enforcement from inside it: 0, or -EPERM (or the
 * -errno of not being able to tell) after saying why. */
static int disable_guard(const struct cli *c, const struct engine_pinned *st)
{
	char cg[PATH_MAX], why[PATH_MAX + 256];
	uint64_t id = pinned_cgroup(st, cg, sizeof(cg));
	struct policy *p;
	int ret;

	if (!id)
		return 0; /* no link pinned: nothing holds anyone */
	p = pinned_policy(c->pin_dir);
	ret = guard_check(0, -1, id, p, why, sizeof(why));
	policy_free(p);
	if (ret == 0)
		return 0;
	log_warnx("disable refused: %s; nothing was changed (run `hush disable` from outside "
		  "the enforced cgroups)",
		  why);
	return ret > 0 ? -EPERM : ret;
}

/* With no hushd to record it: a note row in the audit log hushd named
 * (or --db), chained like hushd's own. */
static void disable_note(const struct cli *c, const struct engine_pinned *st)
{
	struct db_row r = {.kind = "note", .flags = -1};
	char path[PATH_MAX], cg[PATH_MAX], note[PATH_MAX + 256], err[512];
	struct timespec ts;
	struct db *db;

	if (c->db_path)
		snprintf(path, sizeof(path), "%s", c->db_path);
	else if (recorded_db(c->run_dir, path, sizeof(path)))
		path[0] = 0;
	if (!path[0] || access(path, F_OK) < 0) {
		log_warnx("%s%s: this removal is not recorded in the audit log (--db FILE names "
			  "it)",
			  path[0] ? "no audit log at " : "hushd named no audit log in ",
			  path[0] ? path : c->run_dir);
		return;
	}
	if (db_open(path, DB_RDWR, &db, err, sizeof(err))) {
		log_warnx("%s: this removal is not recorded in the audit log", err);
		return;
	}
	if (!pinned_cgroup(st, cg, sizeof(cg)))
		snprintf(cg, sizeof(cg), "(no link was attached)");
	snprintf(note, sizeof(note),
		 "enforcement removed by `hush disable` (pid %d, uid %u) from %s, policy seq "
		 "%llu; hushd was not running",
		 (int)getpid(), (unsigned)getuid(), cg, (unsigned long long)st->policy_seq);
	clock_gettime(CLOCK_REALTIME, &ts);
	r.ts = r.first_ts = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	r.note = note;
	if (db_append(db, &r, 1, NULL, 0, err, sizeof(err)))
		log_warnx("cannot record the removal in %s: %s", path, err);
	db_close(db);
}

int do_disable(struct cli *c, int argc, char **argv)
{
	char *detail = NULL, *reply = NULL;
	struct engine_pinned st;
	int ret, stopped;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			c->db_path = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf(
			    "usage: hush disable [--db FILE]\n"
			    "  remove hushd's enforcement: stop a running hushd, else detach and\n"
			    "  unpin its links (refused from inside an enforced cgroup)\n"
			    "  --db FILE  audit log to note the removal in when hushd is not "
			    "running\n");
			return EXIT_OK;
		} else {
			fprintf(stderr, "usage: hush disable [--db FILE]\n");
			return EXIT_USAGE;
		}
	}
	engine_pinned_read(c->pin_dir, &st);
	if (disable_guard(c, &st))
		return EXIT_FAIL;
	/* A running hushd has nothing left to enforce: ask it to exit.  First,
	 * so that its refusal (it checks who asks, too) leaves everything. */
	stopped = control_call(c->run_dir, "stop", NULL, NULL, 0, &detail, &reply);
	if (stopped == 0) {
		fprintf(stderr, "hush: hushd: %s", reply);
		log_warnx("hushd refused to stop; enforcement stays in %s", c->pin_dir);
		free(detail);
		free(reply);
		return EXIT_FAIL;
	}
	free(detail);
	free(reply);
	if (stopped == 1)
		printf("hushd stopped\n");
	ret = engine_disable(c->pin_dir);
	if (ret) {
		log_errno(ret, "cannot disable enforcement pinned in %s", c->pin_dir);
		return EXIT_FAIL;
	}
	if (stopped < 0 && st.present)
		disable_note(c, &st);
	printf(st.present ? "enforcement removed (%s unpinned)\n" : "nothing was enforced (%s)\n",
	       c->pin_dir);
	return EXIT_OK;
}
