// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of `hush log`'s filters located through the rollups
 * (agent/logloc.c) on real SQLite files: on random rows over several days
 * (values from very common to a few rows, spread over many minutes or in
 * bursts; gap and note rows as hushd writes them), the newest rows of
 * --comm, --uid, --dns NAME and --dns GLOB, alone, together, with a
 * verdict, a window and other filters, at several limits, are exactly the
 * rows the plain walk by time gives (HUSH_TOP_SCAN=1), "more" included; and
 * the fast path is taken (a rollup changed by hand shows).  --kind gap|note:
 * the rows a scan of the table gives, through the partial index
 * events(kind, ts) (EXPLAIN QUERY PLAN of the filters' SQL), also after a
 * migration from version 7.
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
#include "agent/logq_int.h"
#include "agent/logquery.h"
#define TC_PREFIX "logfilter: "
#include "tests/unit/tc.h"
#include "tests/unit/logq_tc.h"

#define SEC_NS 1000000000LL
#define T0     (1764800000LL * SEC_NS)
#define SPAN   (5LL * 86400 * SEC_NS)

static char tmpdir[PATH_MAX];
static uint64_t seed = 0x2545f4914f6cdd1dULL;

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

/* Values by weight: the first common, the last few rare. */
static const char *const comms[] = {"curl", "python3", "wget", "nc",
				    "sshd", "rarely",  "once", "it's"};
static const unsigned comm_w[] = {400, 300, 150, 80, 40, 8, 1, 3};
static const char *const qnames[] = {"Example.COM.", "example.com",    "api.example.com",
				     "evil.test",    "x1.evil.test",   "x2.evil.test.",
				     "o'brien.test", "rare.bench.test"};
static const unsigned qname_w[] = {300, 200, 100, 60, 6, 2, 2, 1};
static const unsigned uids[] = {0, 1000, 1001, 31337, 65534};
static const unsigned uid_w[] = {500, 300, 100, 2, 20};
static const char *const verdicts[] = {"deny", "allow", "audit"};
/* Since schema 10's dimensions: common and rare values of each. */
static const char *const hooks[] = {"connect4", "sendmsg6", "dns", "egress", "sendmsg4"};
static const unsigned hook_w[] = {500, 300, 100, 2, 1};
static const char *const qtypes[] = {"A", "AAAA", "TXT", "TYPE65"};
static const unsigned qtype_w[] = {300, 200, 3, 1};
static const unsigned ppids[] = {1, 700, 701, 4242};
static const unsigned ppid_w[] = {600, 200, 3, 1};
/* (A thread's id is a pid + 1: 101, 107 are only ever threads.) */
static const unsigned pids[] = {100, 102, 104, 106, 31000};
static const unsigned pid_w[] = {400, 300, 200, 3, 1};

static unsigned pick(const unsigned *w, unsigned n)
{
	unsigned sum = 0, r;

	for (unsigned i = 0; i < n; i++)
		sum += w[i];
	r = rndn(sum);
	for (unsigned i = 0; i < n; i++) {
		if (r < w[i])
			return i;
		r -= w[i];
	}
	return n - 1;
}

#define PICK(v, w) v[pick(w, sizeof(w) / sizeof(w[0]))]

/* A random row at ts: mostly attempts; gap and note rows as hushd writes
 * them (a hook and verdict, or a note: no process, no name). */
static void row_at(struct db_row *r, int64_t ts, char daddr[48])
{
	unsigned a = rndn(12), k = rndn(100);

	memset(r, 0, sizeof(*r));
	r->flags = -1;
	r->ts = ts;
	r->kind = k < 2 ? "gap" : k < 3 ? "note" : "attempt";
	r->count = rndn(8) ? 1 : 2 + rndn(20);
	r->first_ts = ts - (int64_t)rndn(3) * 700000000LL;
	if (r->kind[0] == 'n') {
		r->count = 0;
		r->first_ts = ts;
		r->note = "a note";
		return;
	}
	r->verdict = rndn(9) ? verdicts[rndn(3)] : NULL;
	r->hook = PICK(hooks, hook_w);
	if (r->kind[0] == 'g') {
		r->note = "ring buffer full";
		return;
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
		r->dport = rndn(4) ? 443 : 53;
	}
	if (rndn(3))
		r->qname = PICK(qnames, qname_w);
	if (r->qname && rndn(2))
		r->qtype = PICK(qtypes, qtype_w);
	if (rndn(4)) {
		r->has_ppid = true;
		r->ppid = PICK(ppids, ppid_w);
	}
	if (rndn(9)) {
		r->has_proc_ids = true;
		r->pid = r->tgid = PICK(pids, pid_w);
		if (rndn(6) == 0) /* a thread of its own id */
			r->pid = PICK(pids, pid_w) + 1;
		r->uid = PICK(uids, uid_w);
		r->comm = PICK(comms, comm_w);
		r->exe = "/usr/bin/x";
		r->cmdline = "[\"x\"]";
	}
	if (rndn(3)) {
		r->has_cgroup = true;
		r->cgid = 7;
		r->cgroup_path = "/a";
		r->unit = "x.service";
	}
}

/* n rows over [start, start + span): spread, and in bursts of a minute. */
static int add_rows(struct db *db, int n, int64_t start, int64_t span)
{
	struct db_row rows[64];
	char addrs[64][48], err[256];
	int done = 0;

	while (done < n) {
		int k = n - done < 64 ? n - done : 64;
		int64_t base = start + (int64_t)((double)span * done / n);
		bool burst = rndn(4) == 0;

		for (int i = 0; i < k; i++) {
			int64_t ts = burst ? base + (int64_t)rndn(60) * SEC_NS
					   : base + (int64_t)(rnd() % (uint64_t)(span / n * 64));

			row_at(&rows[i], ts, addrs[i]);
		}
		if (db_append(db, rows, (size_t)k, NULL, 0, err, sizeof(err))) {
			printf("FAIL: logfilter: append: %s\n", err);
			return -1;
		}
		/* As hushd: the rollups follow, at times leaving the newest rows
		 * to the table (read from it by the filters). */
		if (catch_up(db, rndn(3) ? INT64_MAX : (int64_t)rndn((unsigned)k)) < 0)
			return -1;
		done += k;
	}
	return 0;
}

static const char *const globs[] = {"*.evil.test", "x?.evil.test", "*example*", "o'*",
				    "[or]*.test",  "nosuch.*",	   "*",		"rare.*.test"};

/* A random filter of case i (what kinds: by i). */
static void filter_of(int i, struct logq_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->port = -1;
	if (i % 2 == 0)
		f->comm = i % 11 == 0 ? "nosuch" : comms[rndn(8)];
	if (i % 3 == 1 || i % 7 == 0) {
		f->has_uid = true;
		f->uid = uids[rndn(5)];
	}
	if (i % 4 == 3 || i % 10 == 0)
		logq_filter_dns(f, rndn(2) ? qnames[rndn(8)] : globs[rndn(8)]);
	if (!f->comm && !f->has_uid && !f->has_dns && i % 10 != 7 && i % 12 != 11 && i % 14 != 3 &&
	    i % 15 != 9)
		logq_filter_dns(f, globs[rndn(8)]);
	if (i % 5 == 1)
		f->verdict = verdicts[rndn(3)];
	if (i % 6 == 2) {
		f->has_since = true;
		f->since = T0 + (int64_t)(rnd() % (uint64_t)SPAN);
	}
	if (i % 8 == 5) {
		f->has_until = true;
		f->until = T0 + (int64_t)(rnd() % (uint64_t)SPAN);
	}
	if (i % 9 == 4)
		f->hook = "connect4";
	/* Schema 10's dimensions, alone or with the others. */
	if (i % 10 == 7)
		f->hook = hooks[rndn(5)];
	if (i % 12 == 11 && logq_filter_qtype(f, qtypes[rndn(4)]) != 0)
		f->qtype[0] = 0;
	if (i % 14 == 3) {
		f->has_ppid = true;
		f->ppid = ppids[rndn(4)];
	}
	if (i % 15 == 9) {
		f->has_pid = true;
		f->pid = rndn(3) ? pids[rndn(5)] : pids[rndn(5)] + 1;
	}
	if (i % 13 == 6)
		f->kind = "attempt";
	if (i % 17 == 8)
		logq_filter_dest(f, "10.0.0.0/24");
}

/* n random filters: the same rows both ways. */
static bool filters_same(struct db *db, int n, char *why, size_t len)
{
	static const int64_t limits[] = {1, 2, 5, 20, 100, 400};

	for (int i = 0; i < n; i++) {
		struct logq_filter f;
		struct ids a, b;
		bool ma, mb;
		int64_t limit = limits[rndn(6)];

		filter_of(i, &f);
		if (rows_of(db, &f, limit, false, &a, &ma) ||
		    rows_of(db, &f, limit, true, &b, &mb)) {
			snprintf(why, len, "case %d: query failed", i);
			return false;
		}
		if (a.n != b.n || ma != mb || memcmp(a.v, b.v, sizeof(a.v[0]) * (size_t)a.n)) {
			snprintf(why, len,
				 "case %d (comm %s uid %lld dns %s verdict %s limit %lld): %d rows "
				 "(more %d) through the rollups, %d (more %d) by the walk",
				 i, f.comm ? f.comm : "-", f.has_uid ? (long long)f.uid : -1LL,
				 f.has_dns ? f.dns : "-", f.verdict ? f.verdict : "-",
				 (long long)limit, a.n, ma, b.n, mb);
			return false;
		}
	}
	return true;
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

/* Rows of one filter, by the walk and through the rollups. */
static bool one_same(struct db *db, const struct logq_filter *f, int64_t limit, int *n)
{
	struct ids a, b;
	bool ma, mb;

	if (rows_of(db, f, limit, false, &a, &ma) || rows_of(db, f, limit, true, &b, &mb))
		return false;
	*n = a.n;
	return a.n == b.n && ma == mb && !memcmp(a.v, b.v, sizeof(a.v[0]) * (size_t)a.n);
}

/* logq_loc_plan of f (as logq_rows makes it): whether it locates, and l. */
static bool plan_of(struct db *db, const struct logq_filter *f, int64_t limit, struct logq_loc *l)
{
	struct logq *lq = NULL;
	bool ok = false;

	memset(l, 0, sizeof(*l));
	if (logq_new(db, f, &lq))
		return false;
	sqlite3_exec(db_handle(db), "BEGIN", NULL, NULL, NULL);
	logq_probe(lq);
	ok = logq_loc_plan(lq, limit, l);
	sqlite3_exec(db_handle(db), "COMMIT", NULL, NULL, NULL);
	logq_free(lq);
	return ok;
}

static double q_double(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *st;
	double v = -1;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Two located filters: the rarer leads, and its first walk reads enough of
 * its rows for the share of them the other keeps (were they independent). */
static void share_check(struct tc *t, struct db *db)
{
	struct logq_filter f = {
	    .hook = "egress", .has_uid = true, .uid = 0, .verdict = "audit", .port = -1};
	struct logq_loc l;
	double want, share;
	bool ok;

	share = q_double(db_handle(db),
			 "SELECT 1.0 * (SELECT sum(rows) FROM rollup WHERE dim = 4 AND lvl = 2"
			 " AND k = '0,NULL,NULL' AND verdict = 'audit') / (SELECT sum(rows) FROM"
			 " rollup WHERE dim = 7 AND lvl = 2 AND verdict = 'audit')");
	ok = plan_of(db, &f, 100, &l);
	want = 101 * 1.25 / share;
	CHECK(t, l.dim == DB_RD_HOOK, "--hook egress --uid 0: dimension %d leads", l.dim);
	CHECK(t, share > 0.3 && share < 0.8 && l.share > share * 0.999 && l.share < share * 1.001,
	      "share of uid 0 among audit rows: estimated %.4f, %.4f in the rollups", l.share,
	      share);
	CHECK(t, ok && l.want >= (int64_t)want && l.want <= (int64_t)want + 1,
	      "first want %lld (located %d), %.0f expected", (long long)l.want, ok, want);
	logq_loc_free(&l);
	/* One located filter: nothing to share. */
	f.has_uid = false;
	plan_of(db, &f, 100, &l);
	CHECK(t, l.share == 1 && l.want == 101, "--hook alone: share %.3f, want %lld", l.share,
	      (long long)l.want);
	logq_loc_free(&l);
}

static void t_random(void)
{
	struct tc t;
	struct db *db;
	char why[768];

	tc_begin(&t, "--comm/--uid/--dns NAME|GLOB through the rollups = the walk (400 filters)");
	db = open_db("f.db", &t);
	if (db && add_rows(db, 20000, T0, SPAN) == 0)
		CHECK(&t, filters_same(db, 400, why, sizeof(why)), "%s", why);
	tc_end(&t);

	tc_begin(&t, "a value spread over hundreds of minutes, limit 100 and 400");
	if (db) {
		struct logq_filter f = {.comm = "rarely", .port = -1};
		int n = 0;

		CHECK(&t, one_same(db, &f, 100, &n) && n == 100, "rarely, 100: %d rows", n);
		CHECK(&t, one_same(db, &f, 400, &n) && n > 100, "rarely, 400: %d rows", n);
		f.verdict = "audit";
		CHECK(&t, one_same(db, &f, 100, &n), "rarely, audit: differs (%d rows)", n);
		f.verdict = NULL;
		f.has_uid = true;
		f.uid = 31337;
		CHECK(&t, one_same(db, &f, 100, &n), "rarely + uid 31337: differs (%d rows)", n);
	}
	tc_end(&t);

	tc_begin(&t, "--dns GLOB matches names with quotes and upper case as stored");
	if (db) {
		struct logq_filter f = {.port = -1};
		int n = 0;

		logq_filter_dns(&f, "O'*");
		CHECK(&t, one_same(db, &f, 400, &n) && n > 0, "O'*: %d rows", n);
		memset(&f, 0, sizeof(f));
		f.port = -1;
		logq_filter_dns(&f, "example.com");
		CHECK(&t, one_same(db, &f, 400, &n) && n == 400, "example.com: %d rows", n);
	}
	tc_end(&t);

	tc_begin(&t, "... after a prune by age and more rows");
	if (db) {
		uint64_t removed = 0;
		char err[256];

		CHECK(&t, db_prune(db, T0 + SPAN / 3, 0, &removed, err, sizeof(err)) == 0,
		      "prune: %s", err);
		CHECK(&t, add_rows(db, 3000, T0 + SPAN, SPAN / 5) == 0, "append");
		CHECK(&t, filters_same(db, 150, why, sizeof(why)), "%s", why);
	}
	tc_end(&t);

	tc_begin(&t, "the filters do read the rollups (minute rows removed by hand show)");
	if (db) {
		struct logq_filter f = {.comm = "rarely", .port = -1};
		int n = 0;

		CHECK(&t, catch_up(db, INT64_MAX) == 0, "catch-up");
		share_check(&t, db);
		/* Schema 10's dimensions: a rare value of each (a thread id for
		 * --pid), the same rows both ways, then not once its minute rows
		 * are gone. */
		for (int k = 0; k < 5; k++) {
			struct logq_filter g = {.port = -1};
			const char *del;
			int m = 0;

			switch (k) {
			case 0:
				g.hook = "egress";
				del = "DELETE FROM rollup WHERE lvl = 0 AND dim = 7";
				break;
			case 1:
				logq_filter_qtype(&g, "type65");
				del = "DELETE FROM rollup WHERE lvl = 0 AND dim = 8";
				break;
			case 2:
				g.has_ppid = true;
				g.ppid = 4242;
				del = "DELETE FROM rollup WHERE lvl = 0 AND dim = 9";
				break;
			case 3:
				g.has_pid = true;
				g.pid = 31000;
				del = "DELETE FROM rollup WHERE lvl = 0 AND dim = 10";
				break;
			default:
				g.has_pid = true;
				g.pid = 107; /* only ever a thread (of 106: rare) */
				del = "DELETE FROM rollup WHERE lvl = 0 AND dim = 11";
			}
			CHECK(&t, one_same(db, &g, 100, &m), "case %d: not the same rows", k);
			CHECK(&t, m > 0, "case %d: no rows", k);
			sqlite3_exec(db_handle(db), del, NULL, NULL, NULL);
			CHECK(&t, !one_same(db, &g, 100, &m), "case %d: the rollups were not used",
			      k);
		}
		sqlite3_exec(db_handle(db),
			     "DELETE FROM rollup WHERE lvl = 0 AND k LIKE '''rarely''%'", NULL,
			     NULL, NULL);
		CHECK(&t, !one_same(db, &f, 100, &n), "the rollups were not used");
	}
	tc_end(&t);
	db_close(db);
}

/* The ids of kind (and since, if > 0) by a scan of the table, newest first. */
static int scan_kind(sqlite3 *h, const char *kind, int64_t since, int64_t limit, struct ids *ids)
{
	sqlite3_stmt *st;
	int rc;

	ids->n = 0;
	if (sqlite3_prepare_v2(h,
			       "SELECT id FROM events NOT INDEXED WHERE kind = ? AND ts >= ?"
			       " ORDER BY ts DESC, id DESC LIMIT ?",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since);
	sqlite3_bind_int64(st, 3, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && ids->n < 512)
		ids->v[ids->n++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* EXPLAIN QUERY PLAN of the newest rows of f as logq_rows asks for them
 * (its filters' SQL), the details joined. */
static void kind_plan(struct db *db, const struct logq_filter *f, char *out, size_t len)
{
	struct logq_sql q = {.len = 0};
	struct logq *lq = NULL;
	sqlite3_stmt *st = NULL;
	char err[256];
	size_t o = 0;

	out[0] = 0;
	if (logq_new(db, f, &lq))
		return;
	logq_sql_add(&q, "EXPLAIN QUERY PLAN SELECT e.id FROM events e WHERE 1");
	logq_sql_filters(&q, lq);
	logq_sql_add(&q, " ORDER BY e.ts DESC, e.id DESC LIMIT 50");
	if (logq_prepare(lq, &q, &st, err, sizeof(err)) == 0)
		while (sqlite3_step(st) == SQLITE_ROW && o + 2 < len)
			o += (size_t)snprintf(out + o, len - o, "%s; ",
					      (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	logq_free(lq);
}

/* --kind K (with --since): the rows of the scan, through events(kind, ts). */
static void kind_check(struct tc *t, struct db *db, const char *kind)
{
	static const int64_t limits[] = {1, 5, 100, 400};
	struct logq_filter f = {.kind = kind, .port = -1};
	struct ids a, b;
	char plan[512];
	bool more;

	for (int s = 0; s < 2; s++) {
		f.has_since = s == 1;
		f.since = T0 + SPAN / 2;
		for (int i = 0; i < 4; i++) {
			int64_t lim = limits[i];

			CHECK(t, rows_of(db, &f, lim, false, &a, &more) == 0, "%s: query", kind);
			CHECK(t, scan_kind(db_handle(db), kind, s ? f.since : 0, lim + 1, &b) == 0,
			      "%s: scan", kind);
			CHECK(t,
			      a.n + (more ? 1 : 0) == b.n &&
				  !memcmp(a.v, b.v, sizeof(a.v[0]) * (size_t)a.n),
			      "--kind %s%s, limit %lld: %d rows (more %d), the scan %d", kind,
			      s ? " --since" : "", (long long)lim, a.n, more, b.n);
		}
	}
	f.has_since = false;
	kind_plan(db, &f, plan, sizeof(plan));
	if (strcmp(kind, "attempt") == 0)
		CHECK(t, !strstr(plan, "events_kind_ts"), "--kind attempt: plan %s", plan);
	else
		CHECK(t, strstr(plan, "INDEX events_kind_ts (kind=?)") != NULL,
		      "--kind %s: plan %s", kind, plan);
}

static void t_kind(void)
{
	struct tc t;
	struct db *db;
	sqlite3 *h = NULL;

	tc_begin(&t, "--kind gap|note: the scan's rows, through events(kind, ts)");
	db = open_db("k.db", &t);
	if (db && add_rows(db, 20000, T0, SPAN) == 0) {
		kind_check(&t, db, "gap");
		kind_check(&t, db, "note");
		kind_check(&t, db, "attempt");
	}
	db_close(db);
	tc_end(&t);

	tc_begin(&t, "version 7 migrates to 8: events(kind, ts) built from the rows there are");
	CHECK(&t, sqlite3_open(dbp, &h) == SQLITE_OK, "open %s", dbp);
	CHECK(&t,
	      sqlite3_exec(h, "DROP INDEX events_kind_ts; PRAGMA user_version=7;", NULL, NULL,
			   NULL) == SQLITE_OK,
	      "to version 7: %s", sqlite3_errmsg(h));
	sqlite3_close(h);
	db = open_db("k.db", &t);
	if (db) {
		sqlite3_stmt *st;
		bool have = false;

		if (sqlite3_prepare_v2(db_handle(db),
				       "SELECT 1 FROM sqlite_master WHERE name = 'events_kind_ts'"
				       " AND sql LIKE '%WHERE kind <> ''attempt''%'",
				       -1, &st, NULL) == SQLITE_OK) {
			have = sqlite3_step(st) == SQLITE_ROW;
			sqlite3_finalize(st);
		}
		CHECK(&t, have, "no partial index events_kind_ts after the migration");
		kind_check(&t, db, "gap");
		kind_check(&t, db, "note");
	}
	db_close(db);
	tc_end(&t);
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
	char tmpl[] = "/tmp/hush-logfilter-XXXXXX";

	if (!mkdtemp(tmpl)) {
		printf("FAIL: logfilter: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	t_random();
	t_kind();
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return nfail ? 1 : 0;
}
