// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the rollups behind `hush log top` (agent/db_rollup.c,
 * agent/logtop.c) on real SQLite files: on random rows over several days,
 * top of every kind over many windows (open, minute-aligned, inside one
 * minute, across days; with and without a verdict) gives exactly what the
 * scan of the rows gives (HUSH_TOP_SCAN=1); and still after a prune by age
 * and by size, after more rows, and on a version-6 database whose rollups
 * the migration builds.  And the rollup table the writer keeps (summed in
 * memory per transaction) is, byte for byte, the one SQL builds from the
 * rows, also for awkward key values and runs of one group.
 *
 * Prints "PASS: name" or "FAIL: name: why" per case; exits 1 if any failed.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/db.h"
#include "agent/db_rollup.h"
#include "agent/logquery.h"
#define TC_PREFIX "rollup: "
#include "tests/unit/tc.h"
#include "tests/unit/logq_tc.h"

#define MIN_NS 60000000000LL
#define T0     (1764800000LL * 1000000000LL) /* 2025-12-03 22:13:20 UTC */
#define SPAN   (3LL * 86400 * 1000000000LL + 7LL * 3600 * 1000000000LL)

static char tmpdir[PATH_MAX];
static uint64_t seed = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static unsigned rndn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* The rows after meta rollup_id. */
static long long tail_rows(struct db *db)
{
	sqlite3_stmt *st;
	long long n = -1;

	if (sqlite3_prepare_v2(db_handle(db),
			       "SELECT count(*) FROM events WHERE id > (SELECT value FROM meta"
			       " WHERE key = 'rollup_id')",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static const char *const comms[] = {"curl", "python3", "wget", "nc", "sshd"};
static const char *const exes[] = {"/usr/bin/curl", "/usr/bin/python3", NULL, "/usr/bin/nc"};
static const char *const cmdlines[] = {"[\"curl\",\"x\"]", "[\"python3\",\"a.py\"]",
				       "[\"python3\",\"b.py\"]", "[\"nc\"]"};
static const char *const qnames[] = {"Example.COM.", "example.com", "evil.test", NULL, "a.b.c"};
static const char *const verdicts[] = {"deny", "allow", "audit"};
static const char *const containers[] = {"abc123", "def456", NULL};
static const char *const units[] = {NULL, "x.service", "y.service"};
static const char *const images[] = {"busybox", NULL, "alpine:3"};

/* A random row at ts (kinds mostly attempt; a few gap and note rows). */
static void row_at(struct db_row *r, int64_t ts, char daddr[48])
{
	unsigned a = rndn(12), k = rndn(100);

	memset(r, 0, sizeof(*r));
	r->flags = -1;
	r->ts = ts;
	r->kind = k < 3 ? "gap" : k < 4 ? "note" : "attempt";
	r->count = rndn(8) ? 1 : 2 + rndn(20);
	r->first_ts = ts - (int64_t)rndn(3) * 700000000LL; /* up to 1.4 s: crosses minutes */
	if (r->kind[0] == 'n') {
		r->count = 0;
		r->first_ts = ts;
		r->note = "a note";
		return;
	}
	r->verdict = rndn(5) ? verdicts[rndn(3)] : NULL;
	r->hook = rndn(9) ? (rndn(2) ? "connect4" : "sendmsg6") : rndn(2) ? "dns" : NULL;
	if (r->kind[0] == 'g') /* as hushd writes them: no process, no name */
		return;
	if (rndn(6)) {
		r->rule_scope = "/";
		r->rule_text = rndn(2) ? "allow 10.0.0.0/8" : "deny all";
	}
	if (rndn(8)) {
		r->has_dest = true;
		r->family = 4;
		r->proto = rndn(3) ? "tcp" : "udp";
		snprintf(daddr, 48, "10.0.%u.%u", a / 4, a);
		r->daddr = daddr;
		r->dkey[10] = r->dkey[11] = 0xff;
		r->dkey[12] = 10;
		r->dkey[14] = (uint8_t)(a / 4);
		r->dkey[15] = (uint8_t)a;
		r->dport = rndn(4) ? 443 : 53 + (int)rndn(3);
	}
	r->qname = qnames[rndn(5)];
	if (r->qname && rndn(2)) /* schema 10's dimensions: qtype, ppid, tgid, tid */
		r->qtype = rndn(4) ? "AAAA" : "TYPE65";
	if (rndn(3)) {
		r->has_ppid = true;
		r->ppid = 1 + rndn(3);
	}
	if (rndn(7)) {
		unsigned p = rndn(4);

		r->has_proc_ids = true;
		r->pid = r->tgid = 100 + rndn(5);
		if (rndn(5) == 0)
			r->pid = 200 + rndn(3);
		r->uid = rndn(3) * 1000;
		r->comm = comms[rndn(5)];
		r->exe = exes[p];
		r->cmdline = exes[p] ? cmdlines[p] : NULL;
	}
	if (rndn(5)) {
		unsigned c = rndn(3);

		r->has_cgroup = true;
		r->cgid = 7 + c;
		r->cgroup_path = c == 0 ? "/a" : c == 1 ? "/b" : "/c";
		r->container = containers[c];
		r->unit = units[c];
		r->image = images[c];
	}
}

/* n random rows from start over span, appended in transactions of up to 50 rows. */
static int add_rows(struct db *db, int n, int64_t start, int64_t span)
{
	struct db_row rows[50];
	char addrs[50][48], err[256];
	int done = 0;

	while (done < n) {
		int k = n - done < 50 ? n - done : 50;
		/* Forward in time, as hushd writes (a prune removes the oldest). */
		int64_t base = start + (int64_t)((double)span * done / n) +
			       (int64_t)(rnd() % (uint64_t)(span / 50));

		for (int i = 0; i < k; i++) {
			/* Clusters (many rows per minute) and strays. */
			int64_t ts = rndn(6) ? base + (int64_t)rndn(90) * 1000000000LL
					     : base - (int64_t)(rnd() % (uint64_t)(span / 20));

			row_at(&rows[i], ts, addrs[i]);
		}
		if (db_append(db, rows, (size_t)k, NULL, 0, err, sizeof(err))) {
			printf("FAIL: rollup: append: %s\n", err);
			return -1;
		}
		/* As hushd between batches: the rollups catch up on some of the
		 * rows, fewer than are written, so a tail of them is read from
		 * the table. */
		if (catch_up(db, rndn(60)) < 0)
			return -1;
		done += k;
	}
	return 0;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* top by `by` over f, from the rollups or by the scan. */
static int top_of(struct db *db, const struct logq_filter *f, enum logq_by by, bool scan,
		  struct logq **q, struct logq_top *t, char *err, size_t errlen)
{
	int ret;

	if (scan)
		setenv("HUSH_TOP_SCAN", "1", 1);
	else
		unsetenv("HUSH_TOP_SCAN");
	ret = logq_new(db, f, q);
	unsetenv("HUSH_TOP_SCAN");
	if (ret) {
		snprintf(err, errlen, "logq_new: %d", ret);
		return ret;
	}
	return logq_top(*q, by, t, err, errlen);
}

/* Both ways give the same groups in the same order; why in err if not. */
static bool top_same(struct db *db, const struct logq_filter *f, enum logq_by by, char *why,
		     size_t len)
{
	struct logq_top a = {0}, b = {0};
	struct logq *qa = NULL, *qb = NULL;
	char err[256];
	bool ok = true;

	if (top_of(db, f, by, false, &qa, &a, err, sizeof(err)) ||
	    top_of(db, f, by, true, &qb, &b, err, sizeof(err))) {
		snprintf(why, len, "top failed: %s", err);
		ok = false;
		goto out;
	}
	if (a.n != b.n) {
		snprintf(why, len, "by %d: %zu groups from the rollups, %zu by the scan", by, a.n,
			 b.n);
		ok = false;
		goto out;
	}
	for (size_t i = 0; i < a.n && ok; i++) {
		const struct logq_group *x = a.v[i], *y = b.v[i];

		ok = x->attempts == y->attempts && x->rows == y->rows && x->first == y->first &&
		     x->last == y->last && x->port == y->port && same_str(x->name, y->name) &&
		     same_str(x->name2, y->name2) && same_str(x->cname, y->cname) &&
		     same_str(x->image, y->image) && same_str(x->cmdline, y->cmdline);
		if (!ok)
			snprintf(why, len,
				 "by %d, group %zu: rollups %lld attempts %lld rows %s/%s, scan "
				 "%lld attempts %lld rows %s/%s",
				 by, i, (long long)x->attempts, (long long)x->rows,
				 x->name ? x->name : "-", x->name2 ? x->name2 : "-",
				 (long long)y->attempts, (long long)y->rows,
				 y->name ? y->name : "-", y->name2 ? y->name2 : "-");
	}
out:
	logq_top_free(&a);
	logq_top_free(&b);
	logq_free(qa);
	logq_free(qb);
	return ok;
}

/* Every kind over a set of windows (and a verdict on some): all the same. */
static bool all_windows(struct db *db, int64_t start, int64_t span, int nwin, char *why, size_t len)
{
	for (int w = 0; w < nwin; w++) {
		struct logq_filter f;
		int64_t a = start - MIN_NS + (int64_t)(rnd() % (uint64_t)(span + 2 * MIN_NS));
		int64_t b = a + (int64_t)(rnd() % (uint64_t)(w % 3 == 0 ? MIN_NS : span));

		memset(&f, 0, sizeof(f));
		f.port = -1;
		if (w % 4 == 1) { /* minute-aligned */
			a -= a % MIN_NS;
			b -= b % MIN_NS;
			b -= w % 8 == 1;
		}
		f.has_since = w % 5 != 4;
		f.since = a;
		f.has_until = w % 7 != 6;
		f.until = b;
		if (w % 3 == 2)
			f.verdict = verdicts[rndn(3)];
		for (int by = LOGQ_BY_DEST; by < LOGQ_BY_MAX; by++)
			if (!top_same(db, &f, (enum logq_by)by, why, len))
				return false;
	}
	return true;
}

/* --comm, --uid, --dns (rare and common values, limits, other filters):
 * the same rows either way. */
static bool filters_same(struct db *db, int n, char *why, size_t len)
{
	static const int64_t limits[] = {1, 3, 20, 100, 400};

	for (int i = 0; i < n; i++) {
		struct logq_filter f;
		struct ids a, b;
		bool ma = false, mb = false;
		int64_t limit = limits[rndn(5)];

		memset(&f, 0, sizeof(f));
		f.port = -1;
		switch (i % 3) {
		case 0:
			f.comm = i % 9 == 0 ? "nosuch" : comms[rndn(5)];
			break;
		case 1:
			f.has_uid = true;
			f.uid = rndn(4) * 1000;
			break;
		default:
			logq_filter_dns(&f, qnames[rndn(3)]);
		}
		if (i % 4 == 1)
			f.verdict = verdicts[rndn(3)];
		if (i % 5 == 2) {
			f.has_since = true;
			f.since = T0 + (int64_t)(rnd() % (uint64_t)SPAN);
		}
		if (rows_of(db, &f, limit, false, &a, &ma) ||
		    rows_of(db, &f, limit, true, &b, &mb)) {
			snprintf(why, len, "case %d: query failed", i);
			return false;
		}
		if (a.n != b.n || ma != mb || memcmp(a.v, b.v, sizeof(a.v[0]) * (size_t)a.n)) {
			snprintf(why, len,
				 "case %d (limit %lld): %d rows (more %d) through the rollups, %d "
				 "(more %d) by the walk",
				 i, (long long)limit, a.n, ma, b.n, mb);
			return false;
		}
	}
	return true;
}

/*
 * The rollup table as the writer keeps it (summed in memory, upserted per
 * group) = the one SQL builds from the rows there are (db_rollup_build_sql,
 * the migration's): every column of every row, byte for byte.
 */
static bool table_same(struct db *db, char *why, size_t len)
{
	static char sql[32768];
	sqlite3 *h = db_handle(db);
	sqlite3_stmt *st;
	long long diff[2] = {-1, -1}, rows = -1;
	bool ok;

	/* Once the rollups have caught up with every row (in one go). */
	if (catch_up(db, INT64_MAX) != 0 || tail_rows(db) != 0) {
		snprintf(why, len, "the rollups did not catch up: %lld rows after them",
			 tail_rows(db));
		return false;
	}
	if (db_rollup_build_sql(sql, sizeof(sql)) < 0) {
		snprintf(why, len, "build SQL too long");
		return false;
	}
	if (sqlite3_exec(h,
			 "DROP TABLE IF EXISTS temp.got; CREATE TEMP TABLE got AS SELECT * FROM "
			 "rollup; SAVEPOINT rebuild",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(why, len, "rebuild: %s", sqlite3_errmsg(h));
		sqlite3_exec(h, "ROLLBACK TO rebuild; RELEASE rebuild", NULL, NULL, NULL);
		return false;
	}
	if (sqlite3_prepare_v2(
		h,
		"SELECT (SELECT count(*) FROM (SELECT * FROM temp.got EXCEPT SELECT * "
		"FROM main.rollup)), (SELECT count(*) FROM (SELECT * FROM main.rollup "
		"EXCEPT SELECT * FROM temp.got)), (SELECT count(*) FROM temp.got)",
		-1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		diff[0] = sqlite3_column_int64(st, 0);
		diff[1] = sqlite3_column_int64(st, 1);
		rows = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	sqlite3_exec(h, "ROLLBACK TO rebuild; RELEASE rebuild; DROP TABLE temp.got", NULL, NULL,
		     NULL);
	ok = diff[0] == 0 && diff[1] == 0 && rows > 0;
	if (!ok)
		snprintf(why, len,
			 "%lld rollup rows: %lld of them not as SQL builds them, %lld built rows "
			 "missing",
			 rows, diff[0], diff[1]);
	return ok;
}

static const char *const odd_qnames[] = {
    "O'Brien.Example.", "a..", "...", "ÄÖ.Test.", "x.y", "X.Y", "'", NULL};
static const char *const odd_comms[] = {"it's", "Comm", "comm", "ä", NULL};

/* Rows whose keys are awkward for quote() and lower()/rtrim(), runs of the
 * same groups (also across minute, hour and day boundaries and verdicts),
 * coalesced rows; in transactions of 1 to 300 rows. */
static int add_odd_rows(struct db *db, int n, int64_t *end)
{
	struct db_row rows[300];
	char addrs[300][48], err[256];
	int64_t ts = *end;
	int done = 0;

	while (done < n) {
		int k = 1 + (int)rndn(300);

		if (k > n - done)
			k = n - done;
		for (int i = 0; i < k; i++) {
			struct db_row *r = &rows[i];

			/* Mostly a few seconds on; now and then past an hour or a day. */
			ts += rndn(50) ? (int64_t)rndn(4000) * 1000000LL
				       : (int64_t)(rnd() % (90000ULL * 1000000000ULL));
			if (i && rndn(3)) { /* the row before again, maybe another verdict */
				*r = rows[i - 1];
				r->ts = ts;
				r->first_ts = ts - (int64_t)rndn(2) * 61000000000LL;
				r->verdict = rndn(4) ? r->verdict : verdicts[rndn(3)];
				continue;
			}
			row_at(r, ts, addrs[i]);
			if (r->kind[0] != 'a')
				continue;
			r->qname = odd_qnames[rndn(8)];
			if (r->has_proc_ids) {
				r->comm = odd_comms[rndn(5)];
				r->uid = rndn(2) ? 4294967295u : rndn(3);
			}
			if (r->has_dest && rndn(3) == 0) {
				r->family = 6;
				r->daddr = "fd00::27";
				memset(r->dkey, 0, 16);
				r->dkey[0] = 0xfd;
				r->dkey[15] = 0x27;
				r->dport = rndn(2) ? 0 : 65535;
				r->proto = rndn(2) ? "tcp" : NULL;
			}
			if (rndn(4) == 0) { /* coalesced: first attempt minutes before */
				r->count = 2 + rndn(500);
				r->first_ts = ts - (int64_t)rndn(600) * 1000000000LL;
			}
		}
		if (db_append(db, rows, (size_t)k, NULL, 0, err, sizeof(err))) {
			printf("FAIL: rollup: append: %s\n", err);
			return -1;
		}
		done += k;
	}
	*end = ts;
	return 0;
}

static char dbp[PATH_MAX + 64];

static struct db *open_db(const char *name, struct tc *t)
{
	struct db *db = NULL;
	char err[512];

	snprintf(dbp, sizeof(dbp), "%s/%s", tmpdir, name);
	if (db_open(dbp, DB_RDWR, &db, err, sizeof(err)))
		CHECK(t, false, "open: %s", err);
	return db;
}

static void t_random(void)
{
	struct tc t;
	struct db *db;
	char why[512];

	tc_begin(&t, "top from the rollups = top by the scan (random rows, 40 windows)");
	db = open_db("r.db", &t);
	if (db && add_rows(db, 4000, T0, SPAN) == 0) {
		long long tail = tail_rows(db);

		/* Some rows in the rollups, the newest (hundreds) not yet. */
		CHECK(&t, tail > 200 && tail < 3000, "%lld rows after the rollups", tail);
		CHECK(&t, all_windows(db, T0, SPAN, 40, why, sizeof(why)), "%s", why);
	}
	tc_end(&t);

	tc_begin(&t, "--comm, --uid, --dns through the rollups = the walk, rows not yet in them");
	if (db)
		CHECK(&t, filters_same(db, 60, why, sizeof(why)), "%s", why);
	tc_end(&t);

	tc_begin(&t, "a prune while rows wait for the rollups: top and the table as SQL builds");
	if (db) {
		uint64_t removed = 0;
		char err[256];
		long long before = tail_rows(db);

		CHECK(&t, db_prune(db, T0 + SPAN / 8, 0, &removed, err, sizeof(err)) == 0,
		      "prune: %s", err);
		CHECK(&t, removed > 0, "nothing pruned");
		CHECK(&t, tail_rows(db) >= before,
		      "the prune rolled up rows: %lld after, %lld before", tail_rows(db), before);
		CHECK(&t, all_windows(db, T0, SPAN, 25, why, sizeof(why)), "%s", why);
	}
	tc_end(&t);

	tc_begin(&t, "the writer's rollup table = the one SQL builds from the rows");
	if (db)
		CHECK(&t, table_same(db, why, sizeof(why)), "%s", why);
	tc_end(&t);

	tc_begin(&t, "--comm, --uid, --dns through the rollups = the walk (60 filters)");
	if (db)
		CHECK(&t, filters_same(db, 60, why, sizeof(why)), "%s", why);
	tc_end(&t);

	tc_begin(&t, "... after a prune by age, and more rows");
	if (db) {
		uint64_t removed = 0;
		char err[256];

		CHECK(&t, db_prune(db, T0 + SPAN / 3, 0, &removed, err, sizeof(err)) == 0,
		      "prune: %s", err);
		CHECK(&t, removed > 0, "nothing pruned");
		CHECK(&t, all_windows(db, T0, SPAN, 25, why, sizeof(why)), "%s", why);
		CHECK(&t, add_rows(db, 1000, T0 + SPAN / 2, SPAN) == 0, "append");
		CHECK(&t, all_windows(db, T0, 2 * SPAN, 25, why, sizeof(why)), "%s", why);
		CHECK(&t, table_same(db, why, sizeof(why)), "after prune and rows: %s", why);
		CHECK(&t, db_prune(db, 0, 64 * 1024, &removed, err, sizeof(err)) == 0,
		      "prune by size: %s", err);
		CHECK(&t, all_windows(db, T0, 2 * SPAN, 15, why, sizeof(why)), "%s", why);
		CHECK(&t, table_same(db, why, sizeof(why)), "after prune by size: %s", why);
	}
	tc_end(&t);

	tc_begin(&t, "top does read the rollups (a rollup changed by hand shows)");
	if (db) {
		sqlite3 *h = db_handle(db);

		CHECK(&t,
		      sqlite3_exec(h, "UPDATE rollup SET attempts = attempts + 1000", NULL, NULL,
				   NULL) == SQLITE_OK,
		      "update: %s", sqlite3_errmsg(h));
		CHECK(&t, !all_windows(db, T0, 2 * SPAN, 10, why, sizeof(why)),
		      "top did not use the rollups");
		sqlite3_exec(h, "UPDATE rollup SET attempts = attempts - 1000", NULL, NULL, NULL);
		CHECK(&t, all_windows(db, T0, 2 * SPAN, 10, why, sizeof(why)), "%s", why);
	}
	tc_end(&t);
	db_close(db);
}

static void t_odd(void)
{
	struct tc t;
	struct db *db;
	int64_t end = T0;
	char why[512];

	tc_begin(&t, "awkward keys, runs of one group, coalesced rows: table as SQL builds it");
	db = open_db("o.db", &t);
	if (db && add_odd_rows(db, 6000, &end) == 0) {
		CHECK(&t, table_same(db, why, sizeof(why)), "%s", why);
		CHECK(&t, all_windows(db, T0, end - T0, 20, why, sizeof(why)), "%s", why);
	}
	tc_end(&t);

	tc_begin(&t, "a transaction of more groups than are held in memory at once");
	if (db) {
		static struct db_row rows[36000];
		static char addrs[36000][48];
		char err[256];

		/* Each row a destination of its own: 3 new groups a row. */
		for (int i = 0; i < 36000; i++) {
			row_at(&rows[i], end + (int64_t)i * 3000000LL, addrs[i]);
			rows[i].kind = "attempt";
			rows[i].count = 1;
			rows[i].first_ts = rows[i].ts;
			rows[i].note = NULL;
			rows[i].has_dest = true;
			rows[i].daddr = "10.9.9.9";
			rows[i].dport = i;
		}
		CHECK(&t, db_append(db, rows, 36000, NULL, 0, err, sizeof(err)) == 0, "append: %s",
		      err);
		CHECK(&t, table_same(db, why, sizeof(why)), "%s", why);
	}
	tc_end(&t);
	db_close(db);
}

/*
 * Rows written late (ids after the rollups, times inside a span a prune
 * then removes): the prune rebuilds that span's buckets from the rows the
 * rollups hold only; the catch-up adds the late ones once.
 */
static void t_late(void)
{
	static struct db_row rows[100];
	static char addrs[100][48];
	struct tc t;
	struct db *db;
	char why[512], err[256];
	uint64_t removed = 0;

	tc_begin(&t, "rows waiting for the rollups inside a span a prune rebuilds: counted once");
	db = open_db("l.db", &t);
	if (db && add_rows(db, 800, T0, SPAN) == 0 && catch_up(db, INT64_MAX) == 0) {
		for (int i = 0; i < 100; i++)
			row_at(&rows[i], T0 + SPAN / 4 + (int64_t)i * (SPAN / 400), addrs[i]);
		CHECK(&t, db_append(db, rows, 100, NULL, 0, err, sizeof(err)) == 0, "append: %s",
		      err);
		CHECK(&t, tail_rows(db) == 100, "%lld rows after the rollups", tail_rows(db));
		CHECK(&t, db_prune(db, T0 + SPAN / 2, 0, &removed, err, sizeof(err)) == 0,
		      "prune: %s", err);
		CHECK(&t, removed > 0, "nothing pruned");
		CHECK(&t, all_windows(db, T0, SPAN, 25, why, sizeof(why)),
		      "before the catch-up: %s", why);
		CHECK(&t, filters_same(db, 30, why, sizeof(why)), "before the catch-up: %s", why);
		CHECK(&t, table_same(db, why, sizeof(why)), "%s", why);
		CHECK(&t, all_windows(db, T0, SPAN, 25, why, sizeof(why)), "after the catch-up: %s",
		      why);
	}
	tc_end(&t);
	db_close(db);
}

static void t_migrate(void)
{
	struct tc t;
	struct db *db;
	char why[512], err[512];

	tc_begin(&t, "catching up: none to do, then a meta without rollup_id (top scans)");
	db = open_db("c.db", &t);
	if (db) {
		char err2[256];
		int64_t done = -1, left = -1;

		CHECK(&t, db_rollup_catchup(db, 100, &done, &left, err2, sizeof(err2)) == 0,
		      "empty log: %s", err2);
		CHECK(&t, done == 0 && left == 0, "empty log: done %lld left %lld", (long long)done,
		      (long long)left);
		CHECK(&t, add_rows(db, 300, T0, SPAN) == 0, "append");
		sqlite3_exec(db_handle(db), "DELETE FROM meta WHERE key = 'rollup_id'", NULL, NULL,
			     NULL);
		CHECK(&t, db_rollup_catchup(db, 100, &done, &left, err2, sizeof(err2)) != 0,
		      "caught up without rollup_id");
		CHECK(&t, strstr(err2, "rollup_id") != NULL, "error: %s", err2);
		CHECK(&t, all_windows(db, T0, SPAN, 10, why, sizeof(why)), "%s", why);
		CHECK(&t, filters_same(db, 10, why, sizeof(why)), "%s", why);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "migration from version 6 builds the rollups from the rows");
	db = open_db("m.db", &t);
	if (db && add_rows(db, 1500, T0, SPAN) == 0) {
		sqlite3_exec(db_handle(db), "DROP TABLE rollup; PRAGMA user_version = 6", NULL,
			     NULL, NULL);
		db_close(db);
		db = NULL;
		if (db_open(dbp, DB_RDWR, &db, err, sizeof(err))) {
			CHECK(&t, false, "reopen: %s", err);
		} else {
			CHECK(&t, tail_rows(db) == 0, "%lld rows after the rollups built",
			      tail_rows(db));
			CHECK(&t, all_windows(db, T0, SPAN, 20, why, sizeof(why)), "%s", why);
		}
		if (db && add_rows(db, 500, T0 + SPAN, SPAN / 10) == 0)
			CHECK(&t, table_same(db, why, sizeof(why)), "rows after: %s", why);
	}
	tc_end(&t);

	tc_begin(&t, "the filters do read the rollups (minute rows removed by hand show)");
	if (db) {
		sqlite3_exec(db_handle(db), "DELETE FROM rollup WHERE lvl = 0", NULL, NULL, NULL);
		CHECK(&t, !filters_same(db, 30, why, sizeof(why)), "the rollups were not used");
	}
	tc_end(&t);
	db_close(db);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

int main(void)
{
	char tmpl[] = "/tmp/hush-rollup-XXXXXX";

	if (!mkdtemp(tmpl)) {
		printf("FAIL: rollup: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	t_random();
	t_odd();
	t_late();
	t_migrate();
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return nfail ? 1 : 0;
}
