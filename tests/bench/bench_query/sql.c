// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench_query's raw SQL: the query of agent/logquery.h's documented shape
 * for a filter, its EXPLAIN QUERY PLAN, and its timing (median, p95).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/util.h"
#include "tests/bench/bench_query/bq.h"

static void add(struct sqlq *q, const char *frag)
{
	strncat(q->s, frag, sizeof(q->s) - strlen(q->s) - 1);
}

static void bind_i(struct sqlq *q, int64_t v)
{
	q->b[q->nb].type = 'i';
	q->b[q->nb++].i = v;
}

static void bind_t(struct sqlq *q, const char *s)
{
	q->b[q->nb].type = 't';
	q->b[q->nb++].p = s;
}

static void bind_b(struct sqlq *q, const void *p)
{
	q->b[q->nb].type = 'b';
	q->b[q->nb++].p = p;
}

void make_sql(const struct filt *f, struct sqlq *q)
{
	memset(q, 0, sizeof(*q));
	add(q, "SELECT e.id, e.kind, e.ts, e.first_ts, e.count, e.hook, e.verdict, r.scope, "
	       "r.text, e.family, e.proto, e.daddr, e.dkey, e.dport, e.qname, e.flags, e.pid, "
	       "e.tgid, e.uid, e.gid, e.comm, p.exe, p.cmdline, c.cgid, c.path, c.container, "
	       "c.runtime, c.unit, c.pod, e.note, e.hash, CASE WHEN json_valid(p.cmdline) THEN "
	       "json(p.cmdline) END FROM events e LEFT JOIN rules r ON r.id = e.rule LEFT JOIN "
	       "procs p ON p.id = e.proc LEFT JOIN cgroups c ON c.id = e.cgroup WHERE e.id IN "
	       "(SELECT e.id FROM events e WHERE 1");
	if (f->verdict) {
		add(q, " AND e.verdict = ?");
		bind_t(q, f->verdict);
	}
	if (f->has_since) {
		add(q, " AND e.ts >= ?");
		bind_i(q, f->since);
	}
	if (f->has_until) {
		add(q, " AND e.first_ts <= ?");
		bind_i(q, f->until);
	}
	if (f->has_ts_max) {
		add(q, " AND e.ts <= ?");
		bind_i(q, f->ts_max);
	}
	if (f->container[0]) {
		add(q, " AND e.cgroup IN (SELECT id FROM cgroups WHERE container LIKE ? ESCAPE "
		       "'\\')");
		bind_t(q, f->container);
	}
	if (f->has_dest) {
		add(q, " AND e.dkey BETWEEN ? AND ?");
		bind_b(q, f->lo);
		bind_b(q, f->hi);
	}
	if (f->port >= 0) {
		add(q, " AND e.dport = ?");
		bind_i(q, f->port);
	}
	add(q, " ORDER BY e.ts DESC, e.id DESC LIMIT ?) ORDER BY e.ts DESC, e.id DESC");
	bind_i(q, LIMIT + 1);
}

int prep(sqlite3 *h, const struct sqlq *q, const char *prefix, sqlite3_stmt **st)
{
	char sql[2200];

	snprintf(sql, sizeof(sql), "%s%s", prefix, q->s);
	if (sqlite3_prepare_v2(h, sql, -1, st, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_query: %s: %s\n", sql, sqlite3_errmsg(h));
		return -1;
	}
	for (int k = 0; k < q->nb; k++) {
		if (q->b[k].type == 'i')
			sqlite3_bind_int64(*st, k + 1, q->b[k].i);
		else if (q->b[k].type == 't')
			sqlite3_bind_text(*st, k + 1, q->b[k].p, -1, SQLITE_STATIC);
		else
			sqlite3_bind_blob(*st, k + 1, q->b[k].p, 16, SQLITE_STATIC);
	}
	return 0;
}

/* One run: prepare, step every row reading every column. */
static int run_raw(sqlite3 *h, const struct sqlq *q, double *ms)
{
	sqlite3_stmt *st;
	int64_t t0 = mono_ns();
	int n = 0, rc;
	size_t sink = 0;

	sqlite3_exec(h, "SAVEPOINT q", NULL, NULL, NULL);
	if (prep(h, q, "", &st))
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int c = 0; c < sqlite3_column_count(st); c++) {
			if (sqlite3_column_type(st, c) == SQLITE_INTEGER)
				sink += (size_t)sqlite3_column_int64(st, c);
			else
				sink += (size_t)sqlite3_column_bytes(st, c);
		}
		n++;
	}
	sqlite3_finalize(st);
	sqlite3_exec(h, "RELEASE q", NULL, NULL, NULL);
	*ms = (double)(mono_ns() - t0) / 1e6;
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "bench_query: step: %s\n", sqlite3_errmsg(h));
		return -1;
	}
	(void)sink;
	return n;
}

void explain(sqlite3 *h, const struct sqlq *q, char *out, size_t len)
{
	sqlite3_stmt *st;
	size_t o = 0;

	out[0] = 0;
	if (prep(h, q, "EXPLAIN QUERY PLAN ", &st))
		return;
	while (sqlite3_step(st) == SQLITE_ROW && o + 4 < len) {
		const char *d = (const char *)sqlite3_column_text(st, 3);

		o += (size_t)snprintf(out + o, len - o, "%s%s", o ? "; " : "", d ? d : "");
	}
	if (o >= len)
		out[len - 1] = 0;
	sqlite3_finalize(st);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median and p95 (nearest rank) of v[0..n-1] (sorted in place). */
void stats(double *v, int n, double *med, double *p95)
{
	int r = (int)ceil(0.95 * n);

	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*p95 = v[(r < 1 ? 1 : r) - 1];
}

int time_raw(sqlite3 *h, const struct filt *f, int *runsp, double *med, double *p95, int *rows)
{
	struct sqlq q;
	double v[MAX_RUNS], ms;
	int n, runs = *runsp;

	make_sql(f, &q);
	n = run_raw(h, &q, &ms); /* warm-up */
	if (n < 0)
		return -1;
	*rows = n;
	if (ms > SLOW_MS && runs > SLOW_RUNS)
		runs = *runsp = SLOW_RUNS;
	for (int i = 0; i < runs; i++)
		if (run_raw(h, &q, &v[i]) < 0)
			return -1;
	stats(v, runs, med, p95);
	return 0;
}
