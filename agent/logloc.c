// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `hush log` filters that no index on events serves, located through the
 * rollups (db_rollup.h): which minutes hold the value.  See logq_int.h.
 *
 * A filter on comm, uid, a DNS name (exact or a GLOB), hook, query type,
 * ppid or pid has no index of its own (each would cost the writer); walking the log by time finds a
 * common value at once but a rare one only after the whole table.  The rollups know where each
 * value is: the days that hold it (rollup_day_k), then its hours in those days, then its minutes.
 * The newest minutes holding enough of its rows become ranges of ts the query stays in, each
 * narrowed to the first..last attempt of the value's rows in it (the rollup row keeps both).
 *
 *  - First, a common value: if the newest 16 * (limit + 1) rows of the log
 *    hold limit + 1 matching rows, the walk by time answers at once.
 *  - The key set: the value's rollup key (k, as db_rollup.c writes it), or
 *    for a DNS GLOB every distinct name of the day rows the pattern matches
 *    (the names as the rollups keep them: lower case, no trailing dot, the
 *    same expression the filter applies to the rows).
 *  - With several of these filters the one whose keys hold the fewest rows
 *    (day rows, in the window and verdict asked) leads.
 *  - The rollup rows are per verdict: a --verdict narrows the minutes too;
 *    --since/--until bound the buckets walked.
 *  - Used only when the ranges provably give the same rows: they hold every
 *    row with the value, or at least limit+1 rows that match every filter
 *    (counted).  When the newest minutes of the value do not hold enough
 *    rows matching the other filters, a common value (more rows than
 *    sqrt(10 * want * rows), where an index and the walk by time cost the
 *    same) goes to the plain query (the other filters' indexes, or the walk
 *    by time); a rarer one takes more of its minutes (8 times as many rows,
 *    3 times, up to LOC_RANGES ranges), else the plain query.
 *
 * Gap and note rows carry no comm, uid or name, and attempt rows are all in
 * the rollups; the dimensions of hook, qtype, ppid and pid hold rows of
 * every kind (a gap row has a hook).  A --kind other than attempt takes the
 * plain walk.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/db_rollup.h"
#include "agent/log.h"
#include "agent/logq_int.h"

/* Ranges at most (past this, the walk by time). */
#define LOC_RANGES 4096
/* Widenings of want when the ranges hold too few matching rows. */
#define LOC_WIDEN 3

/* The filter's value for dim as a JSON array of rollup keys; NULL: none
 * (or no memory: the plain walk). */
static char *loc_keys(struct logq *lq, int dim)
{
	const struct logq_filter *f = &lq->f;
	sqlite3_stmt *st;
	const char *sql;
	char *keys = NULL;

	if (dim == DB_RD_DNS && f->dns_glob)
		/* The distinct keys of the day rows, one seek each (not every day's
		 * entry); k is quote(name) || ',NULL,NULL': the name back from it. */
		sql =
		    "WITH RECURSIVE ks(k) AS (SELECT (SELECT min(k) FROM rollup INDEXED BY"
		    " rollup_day_k WHERE dim = ?1 AND lvl = 2) UNION ALL SELECT (SELECT min(k)"
		    " FROM rollup INDEXED BY rollup_day_k WHERE dim = ?1 AND lvl = 2 AND k > ks.k)"
		    " FROM ks WHERE ks.k IS NOT NULL) SELECT json_group_array(k) FROM ks"
		    " WHERE substr(k, 1, 1) = '''' AND"
		    " replace(substr(k, 2, length(k) - 12), '''''', '''') GLOB ?2";
	else
		sql = "SELECT json_array(quote(?2) || ',NULL,NULL') WHERE ?1 >= 0";
	if (sqlite3_prepare_v2(lq->h, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("log: cannot locate rows: %s", sqlite3_errmsg(lq->h));
		return NULL;
	}
	sqlite3_bind_int(st, 1, dim);
	switch (dim) {
	case DB_RD_UID:
		sqlite3_bind_int64(st, 2, f->uid);
		break;
	case DB_RD_PPID:
		sqlite3_bind_int64(st, 2, f->ppid);
		break;
	case DB_RD_TGID: /* (and DB_RD_TID: the same key) */
		sqlite3_bind_int64(st, 2, f->pid);
		break;
	case DB_RD_HOOK:
		sqlite3_bind_text(st, 2, f->hook, -1, SQLITE_STATIC);
		break;
	case DB_RD_QTYPE:
		sqlite3_bind_text(st, 2, f->qtype, -1, SQLITE_STATIC);
		break;
	default:
		sqlite3_bind_text(st, 2, dim == DB_RD_COMM ? f->comm : f->dns, -1, SQLITE_STATIC);
	}
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		keys = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return keys;
}

/* Bind the walk's parameters: ?1 dim, ?2 keys, ?3/?4 buckets, ?5 verdicts
 * (JSON), ?6 the buckets as a JSON list (the seeking form). */
static void loc_bind(const struct logq_loc *l, sqlite3_stmt *st, int64_t blo, int64_t bhi)
{
	char list[1024];
	size_t o = 0;

	sqlite3_bind_int(st, 1, l->dim);
	sqlite3_bind_int(st, 7, l->dim2);
	sqlite3_bind_text(st, 2, l->keys, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, blo);
	sqlite3_bind_int64(st, 4, bhi);
	sqlite3_bind_text(st, 5, l->verdicts, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) < 6)
		return;
	list[o++] = '[';
	for (int64_t b = blo; b <= bhi && o + 24 < sizeof(list); b++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%" PRId64, b > blo ? "," : "",
				      b);
	list[o++] = ']';
	list[o] = 0;
	sqlite3_bind_text(st, 6, list, -1, SQLITE_TRANSIENT);
}

/* Prepare a statement of the walk: "dim IN (?1, ?7)" for two dimensions
 * (--pid), else "dim = ?1" (the primary key's order then gives the buckets
 * newest first, and the walk stops early: with IN, SQLite sorts them all;
 * binding ?7 then is a no-op). */
static int loc_prepare(struct logq *lq, const struct logq_loc *l, const char *sql,
		       sqlite3_stmt **st)
{
	static const char two[] = "dim IN (?1, ?7)", one[] = "dim = ?1";
	char buf[2048];
	const char *p;
	size_t o = 0;

	if (l->dim2 != l->dim)
		return sqlite3_prepare_v2(lq->h, sql, -1, st, NULL);
	while ((p = strstr(sql, two)) && o + (size_t)(p - sql) + sizeof(one) < sizeof(buf)) {
		memcpy(buf + o, sql, (size_t)(p - sql));
		o += (size_t)(p - sql);
		memcpy(buf + o, one, sizeof(one) - 1);
		o += sizeof(one) - 1;
		sql = p + sizeof(two) - 1;
	}
	if (o + strlen(sql) + 1 > sizeof(buf))
		return SQLITE_TOOBIG;
	memcpy(buf + o, sql, strlen(sql) + 1);
	return sqlite3_prepare_v2(lq->h, buf, -1, st, NULL);
}

#define WALK_HEAD(lvl)                                                                             \
	"SELECT bucket, sum(rows), min(first), max(last) FROM rollup WHERE dim IN (?1, ?7) AND "   \
	"lvl "                                                                                     \
	"= " #lvl
#define WALK_TAIL   " GROUP BY bucket ORDER BY bucket DESC"
#define IN_KEYS	    " AND k IN (SELECT value FROM json_each(?2))"
#define IN_VERDICTS " AND verdict IN (SELECT value FROM json_each(?5))"

/* Days from the index on the day rows; hours and minutes from the primary
 * key (dim, lvl, bucket, verdict, k): a range of buckets read through, or
 * (few keys and verdicts) a seek per bucket, verdict and key. */
static const char *const walk_sql[DB_ROLLUP_LEVELS] = {
    WALK_HEAD(0) " AND bucket BETWEEN ?3 AND ?4" IN_KEYS IN_VERDICTS WALK_TAIL,
    WALK_HEAD(1) " AND bucket BETWEEN ?3 AND ?4" IN_KEYS IN_VERDICTS WALK_TAIL,
    "SELECT bucket, sum(rows) FROM rollup INDEXED BY rollup_day_k WHERE dim IN (?1, ?7)" IN_KEYS
    " AND lvl = 2 AND bucket BETWEEN ?3 AND ?4" IN_VERDICTS WALK_TAIL};
static const char *const seek_sql[DB_ROLLUP_LEVELS - 1] = {
    WALK_HEAD(0) " AND bucket IN (SELECT value FROM json_each(?6))" IN_VERDICTS IN_KEYS
		 " AND ?3 <= ?4" WALK_TAIL,
    WALK_HEAD(1) " AND bucket IN (SELECT value FROM json_each(?6))" IN_VERDICTS IN_KEYS
		 " AND ?3 <= ?4" WALK_TAIL};

/* The verdicts to walk (JSON): the one asked, or those of the keys' day
 * rows; and whether few enough keys and verdicts to seek each. */
static bool loc_verdicts(struct logq *lq, struct logq_loc *l)
{
	sqlite3_stmt *st;
	int64_t nv = 0, nk = 0;

	if (loc_prepare(lq, l,
			"SELECT v, json_array_length(v), json_array_length(?2) FROM"
			" (SELECT CASE WHEN ?3 IS NOT NULL THEN json_array(?3) ELSE"
			" (SELECT json_group_array(DISTINCT verdict) FROM rollup INDEXED BY"
			" rollup_day_k WHERE dim IN (?1, ?7)" IN_KEYS " AND lvl = 2) END AS v)",
			&st) != SQLITE_OK)
		return false;
	sqlite3_bind_int(st, 1, l->dim);
	sqlite3_bind_int(st, 7, l->dim2);
	sqlite3_bind_text(st, 2, l->keys, -1, SQLITE_STATIC);
	if (lq->f.verdict)
		sqlite3_bind_text(st, 3, lq->f.verdict, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
		l->verdicts = strdup((const char *)sqlite3_column_text(st, 0));
		nv = sqlite3_column_int64(st, 1);
		nk = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	l->seek = nk * nv <= 32;
	return l->verdicts != NULL;
}

/* The window's bucket bounds at level lvl (from its minutes). */
static int64_t lvl_lo(const struct logq_loc *l, int lvl)
{
	return l->mlo == INT64_MIN ? INT64_MIN
				   : l->mlo / (db_rollup_width[lvl] / db_rollup_width[0]);
}

static int64_t lvl_hi(const struct logq_loc *l, int lvl)
{
	return l->mhi == INT64_MAX ? INT64_MAX
				   : l->mhi / (db_rollup_width[lvl] / db_rollup_width[0]);
}

/* Rows of the keys in the window (the day rows around it): which filter leads. */
static int64_t loc_total(struct logq *lq, struct logq_loc *l)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	if (loc_prepare(lq, l,
			"SELECT coalesce(sum(rows), 0) FROM rollup INDEXED BY rollup_day_k"
			" WHERE dim IN (?1, ?7) AND k IN (SELECT value FROM json_each(?2))"
			" AND lvl = 2 AND bucket BETWEEN ?3 AND ?4" IN_VERDICTS,
			&st) != SQLITE_OK)
		return -1;
	loc_bind(l, st, lvl_lo(l, DB_ROLLUP_LEVELS - 1), lvl_hi(l, DB_ROLLUP_LEVELS - 1));
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Rows in the window and the walk's verdicts, of every key: the hook
 * dimension holds every row (which filter leads, and how many of its rows
 * the others may keep). */
static int64_t loc_rows(struct logq *lq, const struct logq_loc *l)
{
	struct logq_loc h = *l;
	sqlite3_stmt *st;
	int64_t n = -1;

	h.dim = h.dim2 = DB_RD_HOOK;
	if (sqlite3_prepare_v2(
		lq->h,
		"SELECT coalesce(sum(rows), 0) FROM rollup WHERE dim = ?1 AND lvl = 2"
		" AND bucket BETWEEN ?3 AND ?4" IN_VERDICTS,
		-1, &st, NULL) != SQLITE_OK)
		return -1;
	loc_bind(&h, st, lvl_lo(l, DB_ROLLUP_LEVELS - 1), lvl_hi(l, DB_ROLLUP_LEVELS - 1));
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Add minute m: rows of the keys in it, the first attempt of any (first_ts)
 * and the last (ts), so their ts are in [first, last]; false: too many
 * ranges. */
static bool loc_minute(struct logq_loc *l, int64_t m, int64_t rows, int64_t first, int64_t last)
{
	int64_t w = db_rollup_width[0], lo = m * w, hi = lo + w - 1;

	if (first > lo && first <= hi)
		lo = first;
	if (last >= lo && last < hi)
		hi = last;
	/* From tail_lo on, the first range holds every row (no row twice). */
	if (hi >= l->tail_lo)
		hi = l->tail_lo - 1;

	l->found += rows;
	if (lo > hi)
		return true;
	if (l->n && l->lo[l->n - 1] == hi + 1) { /* newest first: extend down */
		l->lo[l->n - 1] = lo;
		return true;
	}
	if (l->n == LOC_RANGES)
		return false;
	if (l->n == l->cap) {
		int cap = l->cap ? 4 * l->cap : 64;
		int64_t *a = realloc(l->lo, (size_t)cap * sizeof(*a)), *b;

		if (!a)
			return false;
		l->lo = a;
		b = realloc(l->hi, (size_t)cap * sizeof(*b));
		if (!b)
			return false;
		l->hi = b;
		l->cap = cap;
	}
	l->lo[l->n] = lo;
	l->hi[l->n++] = hi;
	return true;
}

/* The buckets of level lvl in [blo, bhi] holding the keys, newest first,
 * each refined one level down; 1: enough found, 0: go on, -1: give up.
 * (Each level has its own statement: the one below is reset and run to the
 * end for each row of this one.) */
static int loc_walk(struct logq_loc *l, sqlite3_stmt **st, int lvl, int64_t blo, int64_t bhi)
{
	int64_t f = lvl ? db_rollup_width[lvl] / db_rollup_width[lvl - 1] : 0;
	int ret = 0;

	sqlite3_reset(st[lvl]);
	loc_bind(l, st[lvl], blo, bhi);
	while (!ret && sqlite3_step(st[lvl]) == SQLITE_ROW) {
		int64_t b = sqlite3_column_int64(st[lvl], 0), r = sqlite3_column_int64(st[lvl], 1);

		if (lvl == 0) {
			ret = !loc_minute(l, b, r, sqlite3_column_int64(st[lvl], 2),
					  sqlite3_column_int64(st[lvl], 3))
				  ? -1
			      : l->found >= l->want ? 1
						    : 0;
		} else {
			int64_t lo = lvl_lo(l, lvl - 1), hi = lvl_hi(l, lvl - 1);

			ret = loc_walk(l, st, lvl - 1, b * f > lo ? b * f : lo,
				       b * f + f - 1 < hi ? b * f + f - 1 : hi);
		}
	}
	sqlite3_reset(st[lvl]);
	return ret;
}

/* The newest minutes of the keys holding want rows (or all of them). */
static bool loc_find(struct logq *lq, struct logq_loc *l)
{
	sqlite3_stmt *st[DB_ROLLUP_LEVELS] = {NULL};
	int top = DB_ROLLUP_LEVELS - 1, ret = -1;

	l->n = 0;
	l->found = 0;
	/* The rows the rollups do not hold yet: every one from their oldest ts
	 * on, the newest range (the minutes below stop short of it). */
	if (l->tail_lo != INT64_MAX) {
		if (!l->cap) {
			l->lo = malloc(64 * sizeof(*l->lo));
			l->hi = malloc(64 * sizeof(*l->hi));
			if (!l->lo || !l->hi)
				return false;
			l->cap = 64;
		}
		l->lo[0] = l->tail_lo;
		l->hi[0] = INT64_MAX;
		l->n = 1;
	}
	for (int i = 0; i < DB_ROLLUP_LEVELS; i++)
		if (loc_prepare(lq, l, l->seek && i < top ? seek_sql[i] : walk_sql[i], &st[i]) !=
		    SQLITE_OK)
			goto out;
	ret = loc_walk(l, st, top, lvl_lo(l, top), lvl_hi(l, top));
	l->all = ret == 0;
out:
	for (int i = 0; i < DB_ROLLUP_LEVELS; i++)
		sqlite3_finalize(st[i]);
	return ret >= 0;
}

/* The ranges as JSON for loc_from: [[lo,hi],...]. */
static bool loc_json(struct logq_loc *l)
{
	size_t len = 4 + (size_t)l->n * 44, o = 0;
	char *p;

	free(l->ranges);
	l->ranges = p = malloc(len);
	if (!p)
		return false;
	p[o++] = '[';
	for (int i = 0; i < l->n; i++)
		o += (size_t)snprintf(p + o, len - o, "%s[%" PRId64 ",%" PRId64 "]", i ? "," : "",
				      l->lo[i], l->hi[i]);
	p[o++] = ']';
	p[o] = 0;
	return true;
}

void logq_loc_from(struct logq_sql *q, const struct logq_loc *l)
{
	/* The ranges as the outer loop, each a search of events(ts).  (As an OR
	 * of ranges, SQLite without statistics walks the whole ts index.) */
	logq_sql_add(q, "SELECT e.id FROM json_each(?) AS rr CROSS JOIN events e"
			" WHERE e.ts BETWEEN rr.value ->> 0 AND rr.value ->> 1");
	logq_sql_text(q, l->ranges);
}

/* q, a "SELECT count(*) FROM (... " so far, counts at least want rows (it
 * stops counting there). */
static bool count_reaches(struct logq *lq, struct logq_sql *q, int64_t want)
{
	sqlite3_stmt *st;
	char err[256];
	bool ok = false;

	logq_sql_add(q, " LIMIT ?)");
	logq_sql_int(q, want);
	if (logq_prepare(lq, q, &st, err, sizeof(err)))
		return false;
	if (sqlite3_step(st) == SQLITE_ROW)
		ok = sqlite3_column_int64(st, 0) >= want;
	sqlite3_finalize(st);
	return ok;
}

/* Whether the ranges give the newest `limit` rows (and whether there are
 * more): every row with the value, or want matching rows in them. */
static bool loc_enough(struct logq *lq, const struct logq_loc *l, int64_t want)
{
	struct logq_sql q = {.len = 0};

	if (l->all)
		return true;
	logq_sql_add(&q, "SELECT count(*) FROM (");
	logq_loc_from(&q, l);
	logq_sql_filters(&q, lq);
	return count_reaches(lq, &q, want);
}

/* Whether the keys hold more rows than sqrt(10 * want * rows) (where the
 * walk by time costs about what an index would). */
static bool loc_common(struct logq *lq, struct logq_loc *l, int64_t want)
{
	sqlite3_stmt *st;
	int64_t rows = 0, t = loc_total(lq, l);

	if (t < 0)
		return false;
	if (sqlite3_prepare_v2(
		lq->h, "SELECT (SELECT max(id) FROM events) - (SELECT min(id) FROM events) + 1", -1,
		&st, NULL) != SQLITE_OK)
		return false;
	if (sqlite3_step(st) == SQLITE_ROW)
		rows = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	/* (t * t and 10 * want * rows as doubles: no overflow.) */
	return (double)t * (double)t >= 10.0 * (double)want * (double)rows;
}

/* The window in minutes: rows with ts >= since; with until, ts <= until +
 * max_span when max_span is known. */
static void loc_window(const struct logq *lq, struct logq_loc *l)
{
	const struct logq_filter *f = &lq->f;
	int64_t w = db_rollup_width[0];

	l->mlo = INT64_MIN;
	l->mhi = INT64_MAX;
	if (f->has_since && f->since >= 0)
		l->mlo = f->since / w;
	if (f->has_until && lq->max_span >= 0 && f->until >= 0 &&
	    f->until <= INT64_MAX - lq->max_span)
		l->mhi = (f->until + lq->max_span) / w;
}

/* Of the filters the rollups locate, the one with the fewest rows. */
static bool loc_choose(struct logq *lq, struct logq_loc *l)
{
	const struct logq_filter *f = &lq->f;
	int dims[8], nd = 0;
	int64_t best = -1, tot[8], all;
	int lead = -1;

	if (f->comm)
		dims[nd++] = DB_RD_COMM;
	if (f->has_uid)
		dims[nd++] = DB_RD_UID;
	if (f->has_dns)
		dims[nd++] = DB_RD_DNS;
	if (f->hook)
		dims[nd++] = DB_RD_HOOK;
	if (f->qtype[0])
		dims[nd++] = DB_RD_QTYPE;
	if (f->has_ppid)
		dims[nd++] = DB_RD_PPID;
	if (f->has_pid)
		dims[nd++] = DB_RD_TGID;
	for (int i = 0; i < nd; i++) {
		struct logq_loc c = *l;
		int64_t t = -1;

		c.dim = dims[i];
		/* --pid X: the rows of process X and those of a thread X of
		 * another process, under the same key in two dimensions. */
		c.dim2 = c.dim == DB_RD_TGID ? DB_RD_TID : c.dim;
		c.verdicts = NULL;
		c.keys = loc_keys(lq, dims[i]);
		/* One filter: no need to count. */
		if (c.keys && loc_verdicts(lq, &c))
			t = nd == 1 ? 0 : loc_total(lq, &c);
		tot[i] = t;
		if (t >= 0 && (best < 0 || t < best)) {
			lead = i;
			free(l->keys);
			free(l->verdicts);
			l->keys = c.keys;
			l->verdicts = c.verdicts;
			l->seek = c.seek;
			l->dim = c.dim;
			l->dim2 = c.dim2;
			best = t;
		} else {
			free(c.keys);
			free(c.verdicts);
		}
	}
	/* The share of the leader's rows the other filters keep, were they
	 * independent: each keeps its rows' share of all. */
	l->share = 1;
	if (nd > 1 && l->keys && (all = loc_rows(lq, l)) > 0)
		for (int i = 0; i < nd; i++)
			if (i != lead && tot[i] >= 0)
				l->share *= (double)tot[i] / (double)all;
	return l->keys != NULL;
}

/* Whether the newest 16 * want rows of the log hold want matching rows:
 * then the walk by time finds them at once (a common value). */
static bool loc_newest(struct logq *lq, int64_t want)
{
	struct logq_sql q = {.len = 0};

	/* (A join on the id, the newest rows as the outer loop: with e.id IN
	 * (...), SQLite may walk another filter's index instead.) */
	logq_sql_add(&q, "SELECT count(*) FROM (SELECT 1 FROM (SELECT id FROM events ORDER BY"
			 " ts DESC, id DESC LIMIT ?) AS t CROSS JOIN events e WHERE e.id = t.id");
	logq_sql_int(&q, 16 * want);
	logq_sql_filters(&q, lq);
	return count_reaches(lq, &q, want);
}

bool logq_loc_plan(struct logq *lq, int64_t limit, struct logq_loc *l)
{
	const struct logq_filter *f = &lq->f;
	int64_t want = limit + 1;

	memset(l, 0, sizeof(*l));
	if (!lq->rollups || limit < 0 || (f->kind && strcmp(f->kind, "attempt") != 0))
		return false;
	if (limit >= (1 << 16) || loc_newest(lq, want))
		return false;
	loc_window(lq, l);
	if (!logq_rollup_tail(lq))
		return false;
	l->tail_lo = lq->tail_lo;
	if (!loc_choose(lq, l))
		return false;
	/* With other located filters, enough of the value's rows for their
	 * share (a quarter more; at most 64 times: the walk widens further). */
	if (l->share < 1) {
		double w = (double)want * (l->share > 1.25 / 64 ? 1.25 / l->share : 64);

		want = (int64_t)w + 1;
	}
	/* Not enough matching rows in the newest minutes of the value: more of
	 * them (the other filters, or --until, passed over those), unless the
	 * value is common: then the other filters' indexes or the walk by time
	 * find the rows sooner than reading ever more of its minutes. */
	for (int i = 0; i <= LOC_WIDEN; i++, want *= 8) {
		l->want = want;
		if (!loc_find(lq, l) || !loc_json(l))
			return false;
		if (l->all || loc_enough(lq, l, limit + 1))
			return true;
		if (i == 0 && loc_common(lq, l, limit + 1))
			return false;
	}
	return false;
}

void logq_loc_free(struct logq_loc *l)
{
	free(l->keys);
	free(l->verdicts);
	free(l->lo);
	free(l->hi);
	free(l->ranges);
	memset(l, 0, sizeof(*l));
}
