// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `hush log top`: who tried most (see logquery.h).
 *
 * SQLite groups by sorting every row; a hash table here needs one pass over
 * the filtered rows.  First by the event's own columns (dkey/port/proto,
 * proc id and comm, cgroup id), then, for processes and cgroups, once more
 * by the name the dimension row gives (several proc rows share an exe,
 * several cgroups a container or unit).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/db_rollup.h"
#include "agent/logq_int.h"
#include "agent/util.h"

struct aggmap {
	struct logq_group *v; /* key NULL: free slot */
	size_t cap, n;
};

static void agg_free(struct aggmap *m)
{
	for (size_t i = 0; i < m->cap; i++) {
		free(m->v[i].key);
		free(m->v[i].name);
		free(m->v[i].name2);
		free(m->v[i].cname);
		free(m->v[i].image);
		free(m->v[i].cmdline);
	}
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static int agg_grow(struct aggmap *m)
{
	struct aggmap nm = {.cap = m->cap ? m->cap * 2 : 1024};
	size_t i;

	nm.v = calloc(nm.cap, sizeof(*nm.v));
	if (!nm.v)
		return -ENOMEM;
	for (size_t k = 0; k < m->cap; k++) {
		if (!m->v[k].key)
			continue;
		for (i = fnv1a64(FNV64_INIT, m->v[k].key, m->v[k].klen) & (nm.cap - 1); nm.v[i].key;
		     i = (i + 1) & (nm.cap - 1))
			;
		nm.v[i] = m->v[k];
	}
	nm.n = m->n;
	free(m->v);
	*m = nm;
	return 0;
}

/* The entry for key (created zeroed if new), or NULL when out of memory. */
static struct logq_group *agg_get(struct aggmap *m, const void *key, size_t klen, bool *fresh)
{
	size_t i;

	if (m->n * 2 >= m->cap && agg_grow(m))
		return NULL;
	for (i = fnv1a64(FNV64_INIT, key, klen) & (m->cap - 1); m->v[i].key;
	     i = (i + 1) & (m->cap - 1)) {
		if (m->v[i].klen == klen && memcmp(m->v[i].key, key, klen) == 0) {
			*fresh = false;
			return &m->v[i];
		}
	}
	m->v[i].key = malloc(klen ? klen : 1);
	if (!m->v[i].key)
		return NULL;
	memcpy(m->v[i].key, key, klen);
	m->v[i].klen = klen;
	m->v[i].port = -1;
	m->n++;
	*fresh = true;
	return &m->v[i];
}

static void agg_add(struct logq_group *a, bool fresh, int64_t attempts, int64_t rows, int64_t first,
		    int64_t last)
{
	if (fresh || first < a->first)
		a->first = first;
	if (fresh || last > a->last)
		a->last = last;
	a->attempts += attempts;
	a->rows += rows;
}

/* Keep the smaller of two names (a stable pick among equals). */
static int set_min(char **dst, const char *s)
{
	char *d;

	if (!s || (*dst && strcmp(*dst, s) <= 0))
		return 0;
	d = strdup(s);
	if (!d)
		return -ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

/* Key bytes: a tag per value ('n' NULL, 'i' integer, 't'/'b' text/blob + bytes). */
struct keyb {
	uint8_t b[512];
	size_t n;
};

static void key_col(struct keyb *k, sqlite3_stmt *st, int c)
{
	int t = sqlite3_column_type(st, c);

	if (k->n + 1 + 8 > sizeof(k->b))
		return;
	if (t == SQLITE_INTEGER) {
		int64_t v = sqlite3_column_int64(st, c);

		k->b[k->n++] = 'i';
		memcpy(k->b + k->n, &v, 8);
		k->n += 8;
	} else if (t == SQLITE_NULL) {
		k->b[k->n++] = 'n';
	} else {
		const void *p = t == SQLITE_BLOB ? sqlite3_column_blob(st, c)
						 : (const void *)sqlite3_column_text(st, c);
		size_t len = (size_t)sqlite3_column_bytes(st, c);
		uint16_t l16;

		if (len > sizeof(k->b) - k->n - 3)
			len = sizeof(k->b) - k->n - 3;
		l16 = (uint16_t)len;
		k->b[k->n++] = t == SQLITE_BLOB ? 'b' : 't';
		memcpy(k->b + k->n, &l16, 2);
		memcpy(k->b + k->n + 2, p, len);
		k->n += 2 + len;
	}
}

static const char *col_text(sqlite3_stmt *st, int c)
{
	return (const char *)sqlite3_column_text(st, c);
}

/* Kinds whose first pass groups by the event's proc (then by its exe,
 * command line or both). */
static bool by_proc(enum logq_by by)
{
	return by == LOGQ_BY_PROCESS || by == LOGQ_BY_EXE || by == LOGQ_BY_CMDLINE;
}

/* Kinds grouped in one pass, by a column of the event (its value is the name). */
static bool by_event_col(enum logq_by by)
{
	return by == LOGQ_BY_DNS || by == LOGQ_BY_COMM || by == LOGQ_BY_UID;
}

/* The rollup dimension a kind is counted in. */
static int rdim_of(enum logq_by by)
{
	switch (by) {
	case LOGQ_BY_DEST:
		return DB_RD_DEST;
	case LOGQ_BY_PROCESS:
	case LOGQ_BY_EXE:
	case LOGQ_BY_CMDLINE:
		return DB_RD_PROC;
	case LOGQ_BY_DNS:
		return DB_RD_DNS;
	case LOGQ_BY_COMM:
		return DB_RD_COMM;
	case LOGQ_BY_UID:
		return DB_RD_UID;
	case LOGQ_BY_RULE:
		return DB_RD_RULE;
	default:
		return DB_RD_CGROUP;
	}
}

/*
 * One row into its group.  Columns, the same from the events and from the
 * rollups: attempts, first, last, rows, the key c1..c3 (the dimension's
 * expressions, db_rollup.c), the label (the smallest wins).
 */
static int scan_row(struct aggmap *m, enum logq_by by, sqlite3_stmt *st)
{
	struct keyb k = {.n = 0};
	struct logq_group *a;
	bool fresh;
	int ret = 0;

	for (int c = 4; c < 7; c++)
		key_col(&k, st, c);
	a = agg_get(m, k.b, k.n, &fresh);
	if (!a)
		return -ENOMEM;
	agg_add(a, fresh, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 3),
		sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
	if (by == LOGQ_BY_DEST) {
		if (fresh) {
			if (sqlite3_column_type(st, 5) != SQLITE_NULL)
				a->port = sqlite3_column_int64(st, 5);
			ret = set_min(&a->name2, col_text(st, 6));
		}
		if (!ret)
			ret = set_min(&a->name, col_text(st, 7));
	} else if (by_proc(by)) {
		if (fresh)
			a->id = sqlite3_column_int64(st, 4);
		ret = set_min(&a->name2, col_text(st, 7));
	} else if (by_event_col(by)) {
		if (fresh) {
			a->id = sqlite3_column_int64(st, 4);
			ret = set_min(&a->name, col_text(st, 4));
		}
	} else if (fresh) {
		a->id = sqlite3_column_int64(st, 4);
	}
	return ret;
}

static int step_all(struct logq *lq, sqlite3_stmt *st, struct aggmap *m, enum logq_by by, char *err,
		    size_t errlen)
{
	int rc, ret = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = scan_row(m, by, st);
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = logq_step_err(lq, rc, err, errlen);
	sqlite3_finalize(st);
	return ret;
}

/* Scan the filtered events (with ts in [ts_lo, ts_hi) when given, INT64_MIN
 * / INT64_MAX: no bound; with id_gt >= 0 only the rows after that id, read
 * by id), into groups by the event's columns. */
static int top_scan_ids(struct logq *lq, enum logq_by by, struct aggmap *m, int64_t ts_lo,
			int64_t ts_hi, int64_t id_gt, char *err, size_t errlen)
{
	const struct db_rollup_dim *d = &db_rollup_dims[rdim_of(by)];
	struct logq_sql q = {.len = 0};
	sqlite3_stmt *st = NULL;
	char cols[512];
	int ret;

	snprintf(cols, sizeof(cols), "SELECT e.count, e.first_ts, e.ts, 1, %s, %s, %s, %s", d->c[0],
		 d->c[1], d->c[2], d->name);
	logq_sql_add(&q, cols);
	if (id_gt >= 0) {
		/* The table's tail by id, not a time index's range (NOT INDEXED
		 * keeps the rowid). */
		logq_sql_add(&q, " FROM events e NOT INDEXED WHERE e.id > ?");
		logq_sql_int(&q, id_gt);
	} else {
		logq_sql_add(&q, " FROM events e WHERE 1");
	}
	if (ts_lo != INT64_MIN) {
		logq_sql_add(&q, " AND e.ts >= ?");
		logq_sql_int(&q, ts_lo);
	}
	if (ts_hi != INT64_MAX) {
		logq_sql_add(&q, " AND e.ts < ?");
		logq_sql_int(&q, ts_hi);
	}
	logq_sql_filters(&q, lq);
	ret = logq_prepare(lq, &q, &st, err, errlen);
	return ret ? ret : step_all(lq, st, m, by, err, errlen);
}

static int top_scan(struct logq *lq, enum logq_by by, struct aggmap *m, int64_t ts_lo,
		    int64_t ts_hi, char *err, size_t errlen)
{
	return top_scan_ids(lq, by, m, ts_lo, ts_hi, -1, err, errlen);
}

/* ---- from the rollups ---- */

/* Whether the rollups answer this filter: attempt rows, a verdict, a time
 * window and nothing else (any other filter, today's or a future one, takes
 * the scan). */
static bool rollups_answer(const struct logq *lq)
{
	struct logq_filter f = lq->f, z;

	if (!lq->rollups || !f.kind || strcmp(f.kind, "attempt") != 0)
		return false;
	f.verdict = f.kind = NULL;
	f.has_since = f.has_until = false;
	f.since = f.until = 0;
	memset(&z, 0, sizeof(z));
	z.port = -1;
	return memcmp(&f, &z, sizeof(f)) == 0;
}

struct span {
	int lvl;
	int64_t lo, hi; /* buckets of the level, inclusive; INT64_MIN/MAX: open */
};

static int64_t div_floor(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int64_t div_ceil(int64_t a, int64_t b)
{
	return -div_floor(-a, b);
}

/* Minutes lo..hi (INT64_MIN/MAX: open) as the fewest whole buckets: days,
 * then hours and minutes at the two ends. */
static size_t cover(int lvl, int64_t lo, int64_t hi, struct span *out, size_t n)
{
	int64_t f = db_rollup_width[lvl] / db_rollup_width[0], blo, bhi;

	if (lo > hi)
		return n;
	blo = lo == INT64_MIN ? INT64_MIN : div_ceil(lo, f);
	bhi = hi == INT64_MAX ? INT64_MAX : div_floor(hi + 1, f) - 1;
	if (lvl > 0 && blo > bhi)
		return cover(lvl - 1, lo, hi, out, n);
	out[n++] = (struct span){lvl, blo, bhi};
	if (lvl > 0 && lo != INT64_MIN)
		n = cover(lvl - 1, lo, blo * f - 1, out, n);
	if (lvl > 0 && hi != INT64_MAX)
		n = cover(lvl - 1, (bhi + 1) * f, hi, out, n);
	return n;
}

static int top_rollup_span(struct logq *lq, enum logq_by by, const struct span *sp,
			   struct aggmap *m, char *err, size_t errlen)
{
	struct logq_sql q = {.len = 0};
	sqlite3_stmt *st = NULL;
	int ret;

	logq_sql_add(&q, "SELECT attempts, first, last, rows, c1, c2, c3, name FROM rollup"
			 " WHERE dim = ? AND lvl = ? AND bucket BETWEEN ? AND ?");
	logq_sql_int(&q, rdim_of(by));
	logq_sql_int(&q, sp->lvl);
	logq_sql_int(&q, sp->lo);
	logq_sql_int(&q, sp->hi);
	if (lq->f.verdict) {
		logq_sql_add(&q, " AND verdict = ?");
		logq_sql_text(&q, lq->f.verdict);
	}
	ret = logq_prepare(lq, &q, &st, err, errlen);
	return ret ? ret : step_all(lq, st, m, by, err, errlen);
}

/*
 * The window as whole minutes from the rollups (the coarsest buckets that
 * fit) and the rows at its two ends, before the first whole minute and
 * after the last, from the events on the ts index.  *done false: no whole
 * minute in the window (the caller scans).
 */
static int top_rollups(struct logq *lq, enum logq_by by, struct aggmap *m, bool *done, char *err,
		       size_t errlen)
{
	const int64_t w = db_rollup_width[0];
	const struct logq_filter *f = &lq->f;
	int64_t m0 = INT64_MIN, m1 = INT64_MAX;
	struct span sp[16];
	size_t n;
	int ret = 0;

	*done = false;
	if (!logq_rollup_tail(lq))
		return 0;
	if (f->has_since)
		m0 = div_ceil(f->since, w);
	if (f->has_until)
		m1 = f->until == INT64_MAX ? INT64_MAX : div_floor(f->until + 1, w) - 1;
	if (m0 > m1 || (m0 != INT64_MIN && m0 > INT64_MAX / w - 1) ||
	    (m1 != INT64_MAX && (m1 < INT64_MIN / w + 1 || m1 > INT64_MAX / w - 2)))
		return 0;
	n = cover(DB_ROLLUP_LEVELS - 1, m0, m1, sp, 0);
	for (size_t i = 0; i < n && !ret; i++)
		ret = top_rollup_span(lq, by, &sp[i], m, err, errlen);
	/* The rows the rollups do not hold yet (after rollup_id), in the same
	 * whole minutes: from the table. */
	if (!ret && lq->tail_lo != INT64_MAX && (m1 == INT64_MAX || lq->tail_lo < (m1 + 1) * w))
		ret = top_scan_ids(
		    lq, by, m, m0 == INT64_MIN || lq->tail_lo > m0 * w ? lq->tail_lo : m0 * w,
		    m1 == INT64_MAX ? INT64_MAX : (m1 + 1) * w, lq->roll_id, err, errlen);
	if (!ret && m0 != INT64_MIN)
		ret = top_scan(lq, by, m, INT64_MIN, m0 * w, err, errlen);
	if (!ret && m1 != INT64_MAX)
		ret = top_scan(lq, by, m, (m1 + 1) * w, INT64_MAX, err, errlen);
	*done = true;
	return ret;
}

/* The key of a first-pass group g by name: for a process its procs row
 * (one exe with one command line), else the name, or the comm when there is
 * no exe (or "" when no name is known). */
static void name_key(struct keyb *k, enum logq_by by, const struct logq_group *g, const char *name,
		     const char *name2)
{
	const char *ks;
	size_t len;

	if (by == LOGQ_BY_PROCESS && name) {
		k->b[k->n++] = 'p';
		memcpy(k->b + k->n, &g->id, 8);
		k->n += 8;
		return;
	}
	k->b[k->n++] = name ? 'e' : 'c';
	ks = name ? name : name2 ? name2 : "";
	len = strlen(ks);
	if (len > sizeof(k->b) - 1)
		len = sizeof(k->b) - 1;
	memcpy(k->b + 1, ks, len);
	k->n += len;
}

/* One first-pass group g into its group by name (the dimension row at st). */
static int name_group(struct aggmap *out, enum logq_by by, const struct logq_group *g,
		      sqlite3_stmt *st)
{
	const char *name = NULL, *name2 = NULL, *cname = NULL, *image = NULL, *cmdline = NULL;
	struct keyb k = {.n = 0};
	struct logq_group *a;
	bool fresh;
	int ret;

	sqlite3_bind_int64(st, 1, g->id);
	if (g->id && sqlite3_step(st) == SQLITE_ROW) {
		name = col_text(st, 0);
		name2 = col_text(st, 1);
		if (by == LOGQ_BY_CONTAINER) {
			cname = col_text(st, 2);
			image = col_text(st, 3);
		}
	}
	if (by == LOGQ_BY_PROCESS) {
		cmdline = name2;
		name2 = NULL;
	}
	/* The processes' second name is their comm. */
	if (by_proc(by))
		name2 = g->name2;
	name_key(&k, by, g, name, name2);
	a = agg_get(out, k.b, k.n, &fresh);
	if (!a)
		return -ENOMEM;
	agg_add(a, fresh, g->attempts, g->rows, g->first, g->last);
	ret = set_min(&a->name, name);
	if (!ret)
		ret = set_min(&a->name2, name2);
	if (!ret)
		ret = set_min(&a->cname, cname);
	if (!ret)
		ret = set_min(&a->image, image);
	if (!ret)
		ret = set_min(&a->cmdline, cmdline);
	return ret;
}

/* The dimension row of a first-pass group: (name, name2[, cname, image]). */
static const char *name_sql(enum logq_by by)
{
	switch (by) {
	case LOGQ_BY_PROCESS:
		return "SELECT exe, " LOGQ_CMDLINE_SQL " FROM procs WHERE id = ?";
	case LOGQ_BY_EXE:
		return "SELECT exe, NULL FROM procs WHERE id = ?";
	case LOGQ_BY_CMDLINE:
		return "SELECT " LOGQ_CMDLINE_SQL ", NULL FROM procs WHERE id = ?";
	case LOGQ_BY_CONTAINER:
		return "SELECT container, runtime, NULLIF(cname, ''), NULLIF(image, '')"
		       " FROM cgroups WHERE id = ?";
	case LOGQ_BY_IMAGE:
		return "SELECT NULLIF(image, ''), NULLIF(image_id, '') FROM cgroups WHERE id = ?";
	case LOGQ_BY_RULE:
		return "SELECT text, scope FROM rules WHERE id = ?";
	default:
		return "SELECT unit, NULL FROM cgroups WHERE id = ?";
	}
}

/* Second pass (process, exe, cmdline, container, image, unit, rule): group
 * the first pass's groups by the dimension row's name. */
static int top_names(struct logq *lq, enum logq_by by, struct aggmap *in, struct aggmap *out,
		     char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int ret = 0;

	if (sqlite3_prepare_v2(lq->h, name_sql(by), -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot query the database: %s", sqlite3_errmsg(lq->h));
		return -EIO;
	}
	for (size_t i = 0; i < in->cap && !ret; i++) {
		if (!in->v[i].key)
			continue;
		ret = name_group(out, by, &in->v[i], st);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return ret;
}

static int agg_cmp(const void *pa, const void *pb)
{
	const struct logq_group *a = *(const struct logq_group *const *)pa;
	const struct logq_group *b = *(const struct logq_group *const *)pb;
	size_t n = a->klen < b->klen ? a->klen : b->klen;
	int c;

	if (a->attempts != b->attempts)
		return a->attempts > b->attempts ? -1 : 1;
	if (a->last != b->last)
		return a->last > b->last ? -1 : 1;
	c = memcmp(a->key, b->key, n);
	return c ? c : a->klen < b->klen ? -1 : a->klen > b->klen;
}

void logq_top_free(struct logq_top *t)
{
	struct aggmap *m = t->priv;

	if (m) {
		agg_free(&m[0]);
		agg_free(&m[1]);
		free(m);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

int logq_top(struct logq *lq, enum logq_by by, struct logq_top *t, char *err, size_t errlen)
{
	struct logq_filter saved = lq->f;
	struct aggmap *m;
	bool done;
	int ret;

	memset(t, 0, sizeof(*t));
	m = calloc(2, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "top: out of memory");
		return -ENOMEM;
	}
	t->priv = m;
	/* Attempts are what top counts, unless the filter names a kind. */
	if (!lq->f.kind)
		lq->f.kind = "attempt";
	sqlite3_exec(lq->h, "BEGIN", NULL, NULL, NULL);
	logq_probe(lq);
	ret = 0;
	done = false;
	if (rollups_answer(lq))
		ret = top_rollups(lq, by, &m[0], &done, err, errlen);
	if (!ret && !done)
		ret = top_scan(lq, by, &m[0], INT64_MIN, INT64_MAX, err, errlen);
	if (!ret && by != LOGQ_BY_DEST && !by_event_col(by)) {
		ret = top_names(lq, by, &m[0], &m[1], err, errlen);
		m = &m[1];
	}
	sqlite3_exec(lq->h, "COMMIT", NULL, NULL, NULL);
	lq->f = saved;
	if (ret)
		goto out;
	t->v = calloc(m->n ? m->n : 1, sizeof(*t->v));
	if (!t->v) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->v[i].key)
			t->v[t->n++] = &m->v[i];
	qsort(t->v, t->n, sizeof(*t->v), agg_cmp);
out:
	if (ret == -ENOMEM)
		snprintf(err, errlen, "top: out of memory");
	if (ret)
		logq_top_free(t);
	return ret;
}
