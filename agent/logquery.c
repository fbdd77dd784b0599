// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `hush log` rows and --follow (see logquery.h); top is in logtop.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/db_rollup.h"
#include "agent/log.h"
#include "agent/logq_int.h"

/* ---- filter values ---- */

/* CIDR or bare address -> inclusive dkey range (IPv4 as ::ffff:a.b.c.d). */
int logq_filter_dest(struct logq_filter *f, const char *s)
{
	char a[INET6_ADDRSTRLEN + 8], *end;
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	uint8_t key[16];
	long plen, max;
	struct in_addr a4;

	if (n == 0 || n >= sizeof(a))
		return -EINVAL;
	memcpy(a, s, n);
	a[n] = 0;
	if (inet_pton(AF_INET, a, &a4) == 1) {
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &a4, 4);
		max = 32;
	} else if (inet_pton(AF_INET6, a, key) == 1) {
		max = 128;
	} else {
		return -EINVAL;
	}
	plen = max;
	if (slash) {
		errno = 0;
		plen = strtol(slash + 1, &end, 10);
		if (!slash[1] || errno || *end || plen < 0 || plen > max)
			return -EINVAL;
	}
	plen += 128 - max;
	for (int i = 0; i < 16; i++) {
		int bits = (int)plen - 8 * i;
		uint8_t m = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));

		f->dlo[i] = key[i] & m;
		f->dhi[i] = (uint8_t)(key[i] | (uint8_t)~m);
	}
	f->has_dest = true;
	return 0;
}

/* Escape LIKE's wildcards (ESCAPE '\'). */
static int like_escape(char *out, size_t outlen, const char *prefix, const char *s,
		       const char *suffix)
{
	size_t o = 0;

	for (const char *p = prefix; *p; p++)
		if (o + 1 < outlen)
			out[o++] = *p;
	for (; *s; s++) {
		if (*s == '%' || *s == '_' || *s == '\\') {
			if (o + 1 < outlen)
				out[o++] = '\\';
		}
		if (o + 1 < outlen)
			out[o++] = *s;
	}
	for (const char *p = suffix; *p; p++)
		if (o + 1 < outlen)
			out[o++] = *p;
	out[o] = 0;
	return o + 1 < outlen ? 0 : -ENAMETOOLONG;
}

/* The container column holds the full id: a LIKE 'prefix%' pattern. */
int logq_filter_container(struct logq_filter *f, const char *s)
{
	if (!*s || like_escape(f->container, sizeof(f->container), "", s, "%") ||
	    strlen(s) >= sizeof(f->container_name))
		return -EINVAL;
	snprintf(f->container_name, sizeof(f->container_name), "%s", s);
	return 0;
}

/* Lower case, no trailing dot; with * ? [ a GLOB pattern (over the name
 * in lower case). */
int logq_filter_dns(struct logq_filter *f, const char *s)
{
	size_t n = strlen(s);

	while (n && s[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(f->dns))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c <= ' ' || c == 0x7f)
			return -EINVAL;
		f->dns[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	f->dns[n] = 0;
	f->dns_glob = strpbrk(f->dns, "*?[") != NULL;
	f->has_dns = true;
	return 0;
}

/* A query type as the proxy stores it: letters and digits (and '-'), upper case. */
int logq_filter_qtype(struct logq_filter *f, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(f->qtype))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return -EINVAL;
		f->qtype[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
	}
	f->qtype[n] = 0;
	return 0;
}

/* ---- SQL with bound values ---- */

void logq_sql_add(struct logq_sql *q, const char *frag)
{
	size_t n = strlen(frag);

	if (q->len + n >= sizeof(q->s)) {
		q->overflow = true;
		return;
	}
	memcpy(q->s + q->len, frag, n + 1);
	q->len += n;
}

static void sql_bind(struct logq_sql *q, int type, int64_t i, const void *p, int n)
{
	if (q->nb == (int)(sizeof(q->b) / sizeof(q->b[0]))) {
		q->overflow = true;
		return;
	}
	q->b[q->nb].type = type;
	q->b[q->nb].i = i;
	q->b[q->nb].p = p;
	q->b[q->nb].n = n;
	q->nb++;
}

void logq_sql_int(struct logq_sql *q, int64_t v)
{
	sql_bind(q, SQLITE_INTEGER, v, NULL, 0);
}

void logq_sql_text(struct logq_sql *q, const char *s)
{
	sql_bind(q, SQLITE_TEXT, 0, s, -1);
}

static void sql_blob(struct logq_sql *q, const void *p, int n)
{
	sql_bind(q, SQLITE_BLOB, 0, p, n);
}

int logq_prepare(struct logq *lq, const struct logq_sql *q, sqlite3_stmt **st, char *err,
		 size_t errlen)
{
	int rc;

	if (q->overflow) {
		snprintf(err, errlen, "internal error: query too long");
		return -E2BIG;
	}
	/* `hush -v log ...` shows it: EXPLAIN QUERY PLAN it in sqlite3(1). */
	log_debug("log: query: %s", q->s);
	rc = sqlite3_prepare_v2(lq->h, q->s, -1, st, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot query the database: %s", sqlite3_errmsg(lq->h));
		return -EIO;
	}
	for (int k = 0; k < q->nb; k++) {
		if (q->b[k].type == SQLITE_INTEGER)
			sqlite3_bind_int64(*st, k + 1, q->b[k].i);
		else if (q->b[k].type == SQLITE_TEXT)
			sqlite3_bind_text(*st, k + 1, q->b[k].p, q->b[k].n, SQLITE_STATIC);
		else
			sqlite3_bind_blob(*st, k + 1, q->b[k].p, q->b[k].n, SQLITE_STATIC);
	}
	return 0;
}

int logq_step_err(struct logq *lq, int rc, char *err, size_t errlen)
{
	snprintf(err, errlen, "cannot read the database: %s%s", sqlite3_errmsg(lq->h),
		 rc == SQLITE_BUSY ? " (the database is locked: retry)" : "");
	return -EIO;
}

/* The filters on the events(cgroup, ts) and events(dkey, ts) indexes; a
 * unary + keeps SQLite off the index. */
static void sql_cgroup_filters(struct logq_sql *q, const struct logq *lq)
{
	const struct logq_filter *f = &lq->f;
	const char *in = lq->cg_broad ? " AND +e.cgroup IN" : " AND e.cgroup IN";

	if (f->container[0]) {
		logq_sql_add(q, in);
		logq_sql_add(q, " (SELECT id FROM cgroups WHERE container LIKE ? ESCAPE '\\'"
				" OR cname GLOB ?)");
		logq_sql_text(q, f->container);
		logq_sql_text(q, f->container_name);
	}
	if (f->image) {
		logq_sql_add(q, in);
		logq_sql_add(q, " (SELECT id FROM cgroups WHERE image GLOB ? OR image_id GLOB ?)");
		logq_sql_text(q, f->image);
		logq_sql_text(q, f->image);
	}
	if (f->unit) {
		logq_sql_add(q, in);
		logq_sql_add(q, f->unit_glob ? " (SELECT id FROM cgroups WHERE unit GLOB ?)"
					     : " (SELECT id FROM cgroups WHERE unit = ?)");
		logq_sql_text(q, f->unit);
	}
}

static void sql_dest_filter(struct logq_sql *q, const struct logq *lq)
{
	if (lq->f.has_dest) {
		logq_sql_add(q, lq->dest_broad ? " AND +e.dkey BETWEEN ? AND ?"
					       : " AND e.dkey BETWEEN ? AND ?");
		sql_blob(q, lq->f.dlo, 16);
		sql_blob(q, lq->f.dhi, 16);
	}
}

/* The filters on the process (events(proc, ts)): subqueries on procs. */
static void sql_proc_filters(struct logq_sql *q, const struct logq *lq)
{
	const struct logq_filter *f = &lq->f;
	const char *in = lq->proc_broad ? " AND +e.proc IN" : " AND e.proc IN";

	if (f->cmdline) {
		logq_sql_add(q, in);
		logq_sql_add(q, " (SELECT id FROM procs WHERE " LOGQ_CMDLINE_SQL " GLOB ?)");
		logq_sql_text(q, f->cmdline);
	}
	if (f->exe) {
		logq_sql_add(q, in);
		logq_sql_add(q, f->exe_glob ? " (SELECT id FROM procs WHERE exe GLOB ?)"
					    : " (SELECT id FROM procs WHERE exe = ?)");
		logq_sql_text(q, f->exe);
	}
}

/* The filters on the event's own columns that come before the indexed ranges. */
static void sql_event_filters(struct logq_sql *q, const struct logq *lq)
{
	const struct logq_filter *f = &lq->f;

	if (f->verdict) {
		logq_sql_add(q, " AND e.verdict = ?");
		logq_sql_text(q, f->verdict);
	}
	if (f->kind) {
		logq_sql_add(q, " AND e.kind = ?");
		logq_sql_text(q, f->kind);
		/* gap, note: the partial index events(kind, ts) has only these
		 * rows, and SQLite takes it only for its own WHERE, literally. */
		if (strcmp(f->kind, "attempt") != 0)
			logq_sql_add(q, " AND e." DB_KIND_RARE_SQL);
	}
	if (f->has_since) {
		logq_sql_add(q, " AND e.ts >= ?");
		logq_sql_int(q, f->since);
	}
	if (f->has_until) {
		logq_sql_add(q, " AND e.first_ts <= ?");
		logq_sql_int(q, f->until);
		/* No row spans more than max_span: the ts index bounds the scan. */
		if (lq->max_span >= 0 && f->until <= INT64_MAX - lq->max_span) {
			logq_sql_add(q, " AND e.ts <= ?");
			logq_sql_int(q, f->until + lq->max_span);
		}
	}
	if (f->has_pid) {
		logq_sql_add(q, " AND (e.pid = ? OR e.tgid = ?)");
		logq_sql_int(q, f->pid);
		logq_sql_int(q, f->pid);
	}
	if (f->comm) {
		logq_sql_add(q, " AND e.comm = ?");
		logq_sql_text(q, f->comm);
	}
	if (f->has_ppid) {
		logq_sql_add(q, " AND e.ppid = ?");
		logq_sql_int(q, f->ppid);
	}
	if (f->has_uid) {
		logq_sql_add(q, " AND e.uid = ?");
		logq_sql_int(q, f->uid);
	}
	if (f->hook) {
		logq_sql_add(q, " AND e.hook = ?");
		logq_sql_text(q, f->hook);
	}
	sql_proc_filters(q, lq);
}

void logq_sql_filters(struct logq_sql *q, const struct logq *lq)
{
	const struct logq_filter *f = &lq->f;

	sql_event_filters(q, lq);
	sql_cgroup_filters(q, lq);
	sql_dest_filter(q, lq);
	if (f->port >= 0) {
		/* With a narrow destination, its index beats the port's (a common
		 * port is much of the log): keep the port off its index. */
		logq_sql_add(q, f->has_dest && !lq->dest_broad ? " AND +e.dport = ?"
							       : " AND e.dport = ?");
		logq_sql_int(q, f->port);
	}
	if (f->has_dns) {
		logq_sql_add(q, f->dns_glob ? " AND lower(rtrim(e.qname, '.')) GLOB ?"
					    : " AND rtrim(e.qname, '.') = ? COLLATE NOCASE");
		logq_sql_text(q, f->dns);
	}
	if (f->qtype[0]) {
		logq_sql_add(q, " AND e.qtype = ?");
		logq_sql_text(q, f->qtype);
	}
}

/* ---- broad filters ---- */

/*
 * SQLite has no statistics here (the database is opened read-only, nobody
 * runs ANALYZE), so it takes any indexed range as selective.  A CIDR like
 * 10.0.0.0/8 or a busy container can match half the table; walking such an
 * index with a table lookup per row (for --port, say) is far slower than
 * walking by time and stopping at the limit.  Count the matches on the
 * covering index, up to a sixteenth of the rows, and mark a filter that
 * reaches it as broad.
 */
enum probe { PROBE_DEST, PROBE_CGROUP, PROBE_PROC };

static bool probe_one(struct logq *lq, enum probe what, int64_t cap)
{
	struct logq_sql q = {.len = 0};
	sqlite3_stmt *st;
	bool broad = false;
	char err[256];

	logq_sql_add(&q, "SELECT count(*) FROM (SELECT 1 FROM events e WHERE 1");
	if (what == PROBE_DEST)
		sql_dest_filter(&q, lq);
	else if (what == PROBE_CGROUP)
		sql_cgroup_filters(&q, lq);
	else
		sql_proc_filters(&q, lq);
	logq_sql_add(&q, " LIMIT ?)");
	logq_sql_int(&q, cap);
	if (logq_prepare(lq, &q, &st, err, sizeof(err))) {
		log_warnx("log: %s", err);
		return false;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		broad = sqlite3_column_int64(st, 0) >= cap;
	sqlite3_finalize(st);
	return broad;
}

static int64_t q_int(struct logq *lq, const char *sql, int64_t dflt)
{
	sqlite3_stmt *st;
	int64_t v = dflt;

	if (sqlite3_prepare_v2(lq->h, sql, -1, &st, NULL) != SQLITE_OK)
		return dflt;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

bool logq_rollup_tail(struct logq *lq)
{
	sqlite3_stmt *st;
	int64_t w = q_int(lq, "SELECT value FROM meta WHERE key = 'rollup_id'", -1);

	lq->roll_id = w;
	lq->tail_lo = INT64_MAX;
	if (w < 0)
		return false;
	/* (The rows after it by id, a walk of the table's tail: without NOT
	 * INDEXED, min() walks events(ts) from its start.) */
	if (sqlite3_prepare_v2(lq->h, "SELECT min(ts) FROM events NOT INDEXED WHERE id > ?", -1,
			       &st, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_int64(st, 1, w);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
		lq->tail_lo = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return true;
}

void logq_probe(struct logq *lq)
{
	const struct logq_filter *f = &lq->f;
	int64_t rows, cap;

	lq->max_span = -1;
	lq->dest_broad = lq->cg_broad = lq->proc_broad = false;
	if (f->has_until)
		lq->max_span = q_int(lq, "SELECT value FROM meta WHERE key = 'max_span'", -1);
	if (!f->has_dest && !f->container[0] && !f->unit && !f->image && !f->exe && !f->cmdline)
		return;
	rows =
	    q_int(lq, "SELECT (SELECT max(id) FROM events) - (SELECT min(id) FROM events) + 1", 0);
	if (rows < 65536)
		return;
	cap = rows / 16;
	/* The newest `want` rows: the index costs an entry per match (M), the
	 * walk by time a row with its table lookup (~10 entries' worth) per
	 * rows/M * want; they cost the same at M = sqrt(10 * want * rows). */
	if (lq->want > 0 && lq->want < rows / 160 && lq->want < (1 << 16) && rows < (1LL << 40)) {
		int64_t v = 10 * lq->want * rows, m = 1;

		while (m * m < v)
			m *= 2;
		m = (m + v / m) / 2; /* within a factor of 1.5 is plenty */
		if (m < cap)
			cap = m;
	}
	if (f->has_dest)
		lq->dest_broad = probe_one(lq, PROBE_DEST, cap);
	if (f->container[0] || f->unit || f->image)
		lq->cg_broad = probe_one(lq, PROBE_CGROUP, cap);
	if (f->exe || f->cmdline)
		lq->proc_broad = probe_one(lq, PROBE_PROC, cap);
}

/* ---- rows ---- */

/* The columns of the view "log" in its order (enum db_log_col), then the
 * command line as minified JSON if it is valid JSON. */
#define LOG_COLS                                                                                   \
	"SELECT e.id, e.kind, e.ts, e.first_ts, e.count, e.hook, e.verdict, r.scope, r.text,"      \
	" e.family, e.proto, e.daddr, e.dkey, e.dport, e.qname, e.flags, e.pid, e.tgid, e.uid,"    \
	" e.gid, e.comm, p.exe, p.cmdline, c.cgid, c.path, c.container, c.runtime, c.unit, c.pod," \
	" e.note, e.hash, e.qtype, NULLIF(c.cname, ''), NULLIF(c.image, ''),"                      \
	" NULLIF(c.image_id, ''), NULLIF(c.pod_ns, ''), NULLIF(c.pod_name, ''),"                   \
	" e.ppid, l.ancestry, NULLIF(h.hostname, ''), NULLIF(h.host_id, ''),"                      \
	" CASE WHEN json_valid(p.cmdline) THEN json(p.cmdline) END,"                               \
	" CASE WHEN json_valid(l.ancestry) THEN json(l.ancestry) END"
#define LOG_JOINS                                                                                  \
	" LEFT JOIN rules r ON r.id = e.rule LEFT JOIN procs p ON p.id = e.proc"                   \
	" LEFT JOIN cgroups c ON c.id = e.cgroup LEFT JOIN lineages l ON l.id = e.lineage"         \
	" LEFT JOIN hosts h ON h.id = e.host"
#define LOG_SELECT	  LOG_COLS " FROM events e" LOG_JOINS
#define COL_CMDLINE_JSON  DB_C_MAX
#define COL_ANCESTRY_JSON (DB_C_MAX + 1)

int logq_new(struct db *db, const struct logq_filter *f, struct logq **out)
{
	struct logq *q = calloc(1, sizeof(*q));

	*out = NULL;
	if (!q)
		return -ENOMEM;
	q->db = db;
	q->h = db_handle(db);
	q->f = *f;
	q->max_span = -1;
	q->want = -1;
	/* HUSH_TOP_SCAN=1: top scans the rows (tests compare both ways). */
	q->rollups = !getenv("HUSH_TOP_SCAN");
	*out = q;
	return 0;
}

void logq_free(struct logq *q)
{
	if (!q)
		return;
	sqlite3_finalize(q->follow);
	free(q);
}

static int64_t max_id(sqlite3 *h)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	if (sqlite3_prepare_v2(h, "SELECT max(id) FROM events", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void fetch_row(sqlite3_stmt *st, struct logq_row *r)
{
	for (int c = 0; c < DB_C_MAX; c++) {
		struct logq_val *v = &r->c[c];

		switch (sqlite3_column_type(st, c)) {
		case SQLITE_INTEGER:
			v->type = LOGQ_INT;
			v->i = sqlite3_column_int64(st, c);
			break;
		case SQLITE_FLOAT: /* never written: as text */
		case SQLITE_TEXT:
			v->type = LOGQ_TEXT;
			v->p = sqlite3_column_text(st, c);
			v->len = sqlite3_column_bytes(st, c);
			break;
		case SQLITE_BLOB:
			v->type = LOGQ_BLOB;
			v->p = sqlite3_column_blob(st, c);
			v->len = sqlite3_column_bytes(st, c);
			break;
		default:
			v->type = LOGQ_NULL;
		}
	}
	r->cmdline_json = sqlite3_column_type(st, COL_CMDLINE_JSON) == SQLITE_TEXT
			      ? (const char *)sqlite3_column_text(st, COL_CMDLINE_JSON)
			      : NULL;
	r->ancestry_json = sqlite3_column_type(st, COL_ANCESTRY_JSON) == SQLITE_TEXT
			       ? (const char *)sqlite3_column_text(st, COL_ANCESTRY_JSON)
			       : NULL;
}

/* Step st to the end, each row to fn; at most `max` rows (-1: all), *more
 * if there was another. */
static int hand_rows(struct logq *lq, sqlite3_stmt *st, int64_t max, logq_row_fn fn, void *ctx,
		     bool *more, char *err, size_t errlen)
{
	struct logq_row r;
	int64_t n = 0;
	int rc, ret;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (max >= 0 && n == max) {
			if (more)
				*more = true;
			return 0;
		}
		fetch_row(st, &r);
		ret = fn(ctx, &r);
		if (ret >= 0)
			lq->seen = r.c[DB_C_ID].i;
		if (ret)
			return ret;
		n++;
	}
	if (rc != SQLITE_DONE)
		return logq_step_err(lq, rc, err, errlen);
	return 0;
}

int logq_rows(struct logq *lq, int64_t limit, bool follow, logq_row_fn fn, void *ctx, bool *more,
	      char *err, size_t errlen)
{
	struct logq_sql q = {.len = 0};
	sqlite3_stmt *st = NULL;
	struct logq_loc loc = {.keys = NULL};
	int ret;

	*more = false;
	sqlite3_exec(lq->h, "BEGIN", NULL, NULL, NULL);
	if (follow)
		lq->last = max_id(lq->h);
	lq->want = limit >= 0 ? limit + 1 : -1;
	logq_probe(lq);
	/*
	 * Two steps when there is a limit: the ids of the newest rows first,
	 * from the index alone where it covers the filters (dkey, cgroup, ts:
	 * each index holds ts and the id), then the joins for those rows only.
	 * follow hands them oldest first.
	 */
	logq_sql_add(&q, LOG_SELECT " WHERE ");
	if (limit >= 0 && !follow && logq_loc_plan(lq, limit, &loc)) {
		logq_sql_add(&q, "e.id IN (");
		logq_loc_from(&q, &loc);
	} else if (limit >= 0) {
		logq_sql_add(&q, "e.id IN (SELECT e.id FROM events e WHERE 1");
	} else {
		logq_sql_add(&q, "1");
	}
	if (follow) {
		logq_sql_add(&q, " AND e.id <= ?");
		logq_sql_int(&q, lq->last);
	}
	logq_sql_filters(&q, lq);
	if (limit >= 0) {
		logq_sql_add(&q, " ORDER BY e.ts DESC, e.id DESC LIMIT ?)");
		/* One more than asked: tells whether the limit cut. */
		logq_sql_int(&q, follow ? limit : limit + 1);
	}
	logq_sql_add(&q, follow ? " ORDER BY e.ts, e.id" : " ORDER BY e.ts DESC, e.id DESC");
	ret = logq_prepare(lq, &q, &st, err, errlen);
	if (!ret)
		ret = hand_rows(lq, st, limit, fn, ctx, more, err, errlen);
	sqlite3_finalize(st);
	logq_loc_free(&loc);
	sqlite3_exec(lq->h, "COMMIT", NULL, NULL, NULL);
	return ret;
}

/* ---- follow ---- */

int logq_follow_start(struct logq *lq, char *err, size_t errlen)
{
	struct logq_sql q = {.len = 0};

	/* New rows are a range of ids: no other index. */
	logq_sql_add(&q, LOG_COLS " FROM events e NOT INDEXED" LOG_JOINS
				  " WHERE e.id > ? AND e.id <= ?");
	logq_sql_int(&q, 0);
	logq_sql_int(&q, 0);
	logq_sql_filters(&q, lq);
	logq_sql_add(&q, " ORDER BY e.id");
	return logq_prepare(lq, &q, &lq->follow, err, errlen);
}

void logq_follow_set(struct logq *lq, int64_t after)
{
	lq->last = after;
}

int64_t logq_follow_last(const struct logq *lq)
{
	return lq->last;
}

bool logq_follow_reset(struct logq *lq)
{
	bool r = lq->reset;

	lq->reset = false;
	return r;
}

int logq_follow_poll(struct logq *lq, logq_row_fn fn, void *ctx, char *err, size_t errlen)
{
	int64_t top;
	int ret = 0;

	sqlite3_exec(lq->h, "BEGIN", NULL, NULL, NULL);
	top = max_id(lq->h);
	/* Prune keeps the newest row, so ids never go back in one log: this
	 * is another database (or the table was emptied), every row new. */
	if (top >= 0 && top < lq->last) {
		lq->last = 0;
		lq->reset = true;
	}
	if (top > lq->last) {
		sqlite3_bind_int64(lq->follow, 1, lq->last);
		sqlite3_bind_int64(lq->follow, 2, top);
		lq->seen = lq->last;
		ret = hand_rows(lq, lq->follow, -1, fn, ctx, NULL, err, errlen);
		sqlite3_reset(lq->follow);
		/* Stopped part way: only up to the last row fn took. */
		lq->last = ret == 0 ? top : lq->seen;
	}
	sqlite3_exec(lq->h, "COMMIT", NULL, NULL, NULL);
	return ret;
}
