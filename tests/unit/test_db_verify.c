// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The fast verify (db_verify_fast.c: the table read with cached dimension
 * rows, hashed in a second thread) against the walk through the view that
 * it replaced (HUSH_VERIFY_VIEW=1): on random databases, intact or with
 * every kind of damage, both give the same result, row count, findings and
 * summary, word for word.  An intact log goes through the fast path
 * entirely (only notes and the head row take the exact walk), across
 * batches, ring wrap-around, dimension cache collisions, rows too large to
 * buffer and a moved chain start.
 */
#include "tests/unit/db_tc.h"
#include "agent/db_verify_fast.h"

static uint64_t rng;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static bool chance(int pct)
{
	return (int)(rnd() % 100) < pct;
}

static const char *pick(const char *const *a, size_t n)
{
	return a[rnd() % n];
}
#define PICK(a) pick(a, sizeof(a) / sizeof(a[0]))

/* Strings the rows point to, kept until the database is written. */
static char pool[64][256];
static char *big, *huge; /* 20 KiB and 70 KiB command lines */

/* A random row: any kind, any of the optional parts set or not. */
static struct db_row rand_row(int i, int64_t ts, bool distinct)
{
	static const char *const hooks[] = {"connect4", "connect6", "sendmsg4", "dns", "egress"};
	static const char *const verdicts[] = {"allow", "deny", "audit"};
	static const char *const names[] = {"web", "db-1", "", "k8s_app_x"};
	static const char *const anc[] = {"[{\"pid\":1,\"exe\":\"/sbin/init\"}]",
					  "[{\"pid\":7,\"exe\":\"/bin/sh\",\"exited\":true}]"};
	struct db_row r = {0};
	int k = rnd() % 100;
	char *s = pool[i % 64];

	r.kind = k < 88 ? "attempt" : k < 94 ? "gap" : "note";
	r.ts = ts;
	r.first_ts = ts - (int64_t)(rnd() % 1000);
	r.count = 1 + rnd() % 9;
	r.flags = chance(70) ? (int64_t)(rnd() % 4) : -1;
	if (strcmp(r.kind, "note") == 0) {
		snprintf(s, 256, chance(30) ? "TAMPER: test note %d" : "note %d", i);
		r.note = s;
		return r;
	}
	if (strcmp(r.kind, "gap") == 0) {
		r.note = chance(50) ? "batch full" : NULL;
		return r;
	}
	r.hook = PICK(hooks);
	r.verdict = PICK(verdicts);
	if (chance(85)) {
		r.rule_scope = chance(50) ? "/" : "group web";
		r.rule_text = chance(50) ? "default deny" : "allow host example.com";
	}
	r.family = chance(80) ? (chance(50) ? 4 : 6) : 0;
	r.proto = chance(90) ? (chance(70) ? "tcp" : "udp") : NULL;
	if (chance(85)) {
		r.has_dest = true;
		r.daddr = "10.1.2.3";
		ipv4_key(r.dkey, 10, 1, 2, 3);
		r.dport = (int)(rnd() % 65536);
	}
	r.qname = chance(20) ? "example.com" : NULL;
	r.qtype = chance(15) ? (chance(50) ? "A" : "AAAA") : NULL;
	if (chance(90)) {
		r.has_proc_ids = true;
		r.pid = r.tgid = rnd() % 100000;
		r.uid = r.gid = rnd() % 2000;
		r.comm = chance(90) ? "worker" : NULL;
	}
	if (chance(90)) {
		r.exe = PICK(exes);
		r.cmdline = PICK(cmds);
		if (distinct) { /* a new process row for every row */
			snprintf(s, 256, "[\"worker\",\"%d\"]", i);
			r.cmdline = s;
		} else if (chance(2)) {
			r.cmdline = chance(85) ? big : huge;
		}
	}
	if (chance(80)) {
		r.has_cgroup = true;
		/* (A cgroup's container, runtime, unit and pod follow from its
		 * id and path: the cgroups table keeps the first seen.) */
		int c = (int)(rnd() % 5);

		r.cgid = 4242 + (uint64_t)c;
		r.cgroup_path = c < 2 ? "/system.slice/app.service" : "/docker/abc";
		r.container = c >= 2 ? "abc" : NULL;
		r.runtime = c >= 3 ? "docker" : NULL;
		r.unit = c == 1 ? "app.service" : NULL;
		r.pod = c == 4 ? "pod-1" : NULL;
		if (chance(40)) {
			r.cname = PICK(names);
			r.image = chance(50) ? "nginx:1" : NULL;
			r.image_id = chance(30) ? "sha256:ab" : NULL;
			r.pod_ns = chance(20) ? "default" : NULL;
			r.pod_name = chance(20) ? "web-0" : NULL;
		}
	}
	if (chance(50)) {
		r.has_ppid = chance(80);
		r.ppid = rnd() % 1000;
		r.ancestry = chance(60) ? PICK(anc) : NULL;
		r.hostname = chance(60) ? "host-a" : NULL;
		r.host_id = chance(40) ? "0123abcd" : NULL;
	}
	return r;
}

/* A database "verify-SEED" with n random rows (maybe pruned). */
static bool build(struct tc *t, const char *path, int n, bool distinct, bool prune)
{
	struct db *db = open_rw(t, path);
	struct db_row rows[256];
	int64_t ts0 = real_ns() - 7200000000000LL;
	bool ok = db != NULL;

	for (int i = 0; ok && i < n;) {
		int m = n - i < 256 ? n - i : 256;

		for (int k = 0; k < m; k++, i++)
			rows[k] = rand_row(i, ts0 + (int64_t)i * 1000000LL, distinct);
		ok = append(t, db, rows, (size_t)m);
	}
	if (ok && prune) {
		char err[256];
		uint64_t removed;

		ok = CHECK(t,
			   db_prune(db, ts0 + (int64_t)(n / 3) * 1000000LL, 0, &removed, err,
				    sizeof(err)) == 0,
			   "prune: %s", err);
	}
	db_close(db);
	return ok;
}

/* ---- damage ---- */

static int64_t min_id, max_id;

static int64_t any_id(void)
{
	return min_id + (int64_t)(rnd() % (uint64_t)(max_id - min_id + 1));
}

/* A value of any type for a column. */
static const char *any_value(char *buf, size_t len)
{
	static const char *const vals[] = {"NULL",
					   "1",
					   "2",
					   "7",
					   "-1",
					   "1.5",
					   "'x'",
					   "'7'",
					   "'note'",
					   "'attempt'",
					   "'TAMPER: forged'",
					   "X'00ff'",
					   "zeroblob(32)",
					   "''"};

	if (chance(20)) {
		snprintf(buf, len, "%lld", (long long)any_id());
		return buf;
	}
	return PICK(vals);
}

/* One damage of any kind, through a second connection (as an intruder). */
static const char *damage(sqlite3 *h, char *what, size_t wlen)
{
	static const char *const ecols[] = {
	    "kind",  "ts",   "first_ts", "count", "hook",  "verdict", "rule", "family",	 "proto",
	    "daddr", "dkey", "dport",	 "qname", "flags", "pid",     "tgid", "uid",	 "gid",
	    "comm",  "proc", "cgroup",	 "note",  "hash",  "qtype",   "ppid", "lineage", "host"};
	static const char *const dcols[] = {
	    "procs SET exe",	     "procs SET cmdline",  "cgroups SET path",
	    "cgroups SET cname",     "cgroups SET image",  "cgroups SET container",
	    "cgroups SET cgid",	     "rules SET text",	   "rules SET scope",
	    "lineages SET ancestry", "hosts SET hostname", "hosts SET host_id"};
	char v[64], sql[512];
	int64_t id = any_id();

	switch (rnd() % 11) {
	case 0:
	case 1:
	case 2:
		snprintf(sql, sizeof(sql), "UPDATE events SET %s = %s WHERE id = %lld", PICK(ecols),
			 any_value(v, sizeof(v)), (long long)id);
		break;
	case 3:
		snprintf(sql, sizeof(sql), "DELETE FROM events WHERE id BETWEEN %lld AND %lld",
			 (long long)id, (long long)id + rnd() % 3);
		break;
	case 4: /* a row inserted: the ids after it move up */
		snprintf(
		    sql, sizeof(sql),
		    "UPDATE events SET id = -id WHERE id > %lld;"
		    "UPDATE events SET id = 1 - id WHERE id < 0;"
		    "INSERT INTO events(id, kind, ts, first_ts, count, hash) SELECT %lld, kind,"
		    " ts, first_ts, count, hash FROM events WHERE id = %lld;",
		    (long long)id, (long long)id + 1, (long long)id);
		break;
	case 5:
	case 6:
		snprintf(sql, sizeof(sql), "UPDATE %s = %s WHERE id = %u", PICK(dcols),
			 chance(50) ? "'edited'" : any_value(v, sizeof(v)), 1 + rnd() % 6);
		break;
	case 7:
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = %u",
			 chance(50)   ? "procs"
			 : chance(50) ? "cgroups"
				      : "rules",
			 1 + rnd() % 4);
		break;
	case 8: /* the tail cut off */
		snprintf(sql, sizeof(sql), "DELETE FROM events WHERE id > %lld",
			 (long long)max_id - rnd() % 4);
		break;
	case 9: /* two rows swapped */
		snprintf(sql, sizeof(sql),
			 "UPDATE events SET id = -1 WHERE id = %lld;"
			 "UPDATE events SET id = %lld WHERE id = %lld;"
			 "UPDATE events SET id = %lld WHERE id = -1;",
			 (long long)id, (long long)id, (long long)id + 1, (long long)id + 1);
		break;
	default: /* the chain start moved */
		snprintf(sql, sizeof(sql),
			 "INSERT OR REPLACE INTO meta VALUES('anchor_id', %lld);"
			 "DELETE FROM events WHERE id < %lld",
			 (long long)id, (long long)id);
		break;
	}
	snprintf(what, wlen, "%s", sql);
	/* (A change a constraint refuses is no damage: the walk checks as is.) */
	sqlite3_exec(h, sql, NULL, NULL, NULL);
	return what;
}

/* ---- both walks ---- */

struct out {
	int ret;
	uint64_t rows, nf, exact;
	char msg[512];
	char *text;
	size_t len;
};

static void collect(void *ctx, const char *f)
{
	struct out *o = ctx;
	size_t n = strlen(f);
	char *p = realloc(o->text, o->len + n + 2);

	if (!p)
		abort();
	o->text = p;
	memcpy(o->text + o->len, f, n);
	o->len += n;
	o->text[o->len++] = '\n';
	o->text[o->len] = 0;
}

static void walk(struct db *db, bool view, struct out *o)
{
	memset(o, 0, sizeof(*o));
	if (view)
		setenv("HUSH_VERIFY_VIEW", "1", 1);
	else
		unsetenv("HUSH_VERIFY_VIEW");
	o->ret = db_verify_each(db, 0, NULL, &o->rows, &o->nf, collect, o, o->msg, sizeof(o->msg));
	o->exact = db_verify_exact_rows();
	unsetenv("HUSH_VERIFY_VIEW");
}

/* Both walks agree on db; *fast gets the fast one. */
static bool agree(struct tc *t, struct db *db, struct out *fast, const char *what)
{
	struct out slow;
	bool ok;

	walk(db, false, fast);
	walk(db, true, &slow);
	ok = CHECK(t,
		   fast->ret == slow.ret && fast->rows == slow.rows && fast->nf == slow.nf &&
		       strcmp(fast->msg, slow.msg) == 0 &&
		       strcmp(fast->text ? fast->text : "", slow.text ? slow.text : "") == 0,
		   "after %s: fast %d, %llu rows, %s [%s] | view %d, %llu rows, %s [%s]", what,
		   fast->ret, (unsigned long long)fast->rows, fast->msg,
		   fast->text ? fast->text : "", slow.ret, (unsigned long long)slow.rows, slow.msg,
		   slow.text ? slow.text : "");
	free(slow.text);
	return ok;
}

static void one(uint64_t seed, int n, bool distinct, bool prune, int damages)
{
	char path[PATH_MAX], what[2048] = "nothing", w[512];
	struct out fast;
	struct db *db;
	sqlite3 *h = NULL;
	struct tc t;

	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	tc_begin(&t, "verify: fast and view walks agree: seed %llu, %d rows%s%s, %d damage%s",
		 (unsigned long long)seed, n, distinct ? " (a process row each)" : "",
		 prune ? ", pruned" : "", damages, damages == 1 ? "" : "s");
	tpath(path, "verify-%llu.db", (unsigned long long)seed);
	if (!build(&t, path, n, distinct, prune))
		goto out;
	db = open_ro(&t, path);
	if (!db)
		goto out;
	/* Intact: every row but the notes and the head row on the fast path;
	 * the findings are the TAMPER notes the log holds. */
	if (agree(&t, db, &fast, "nothing")) {
		sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL);
		int64_t notes = qint(h, "SELECT count(*) FROM events WHERE kind = 'note'"),
			tamper = qint(h, "SELECT count(*) FROM events WHERE kind = 'note'"
					 " AND note LIKE 'TAMPER:%%'");

		int64_t huge_rows = qint(h, "SELECT count(*) FROM events e JOIN procs p"
					    " ON p.id = e.proc WHERE length(p.cmdline) > 65536");

		CHECK(&t,
		      fast.ret == (tamper > 0) && fast.nf == (uint64_t)tamper &&
			  fast.exact <= (uint64_t)(notes + huge_rows) + 1,
		      "intact: verify %d (%s), %llu rows of %llu on the exact walk (%lld notes, "
		      "%lld rows over 64 KiB)",
		      fast.ret, fast.msg, (unsigned long long)fast.exact,
		      (unsigned long long)fast.rows, (long long)notes, (long long)huge_rows);
	}
	free(fast.text);
	for (int k = 0; k < damages && h && !t.failed; k++) {
		min_id = qint(h, "SELECT min(id) FROM events");
		max_id = qint(h, "SELECT max(id) FROM events");
		if (min_id < 0 || max_id < min_id)
			break;
		damage(h, w, sizeof(w));
		snprintf(what + (k ? strlen(what) : 0), sizeof(what) - (k ? strlen(what) : 0),
			 "%s%s", k ? " then " : "", w);
		agree(&t, db, &fast, what);
		free(fast.text);
	}
	sqlite3_close(h);
	db_close(db);
out:
	tc_end(&t);
}

int main(void)
{
	if (db_tc_setup())
		return 1;
	big = malloc(20 * 1024 + 1);
	huge = malloc(70 * 1024 + 1);
	if (!big || !huge)
		return 1;
	memset(big, 'b', 20 * 1024);
	big[20 * 1024] = 0;
	memset(huge, 'h', 70 * 1024);
	huge[70 * 1024] = 0;
	/* Many small logs, damaged one way and another. */
	for (uint64_t s = 1; s <= 60; s++)
		one(s, 20 + (int)(s * 37 % 400), false, s % 5 == 0, 1 + (int)(s % 4));
	/* Larger than the ring of batches (4 x 1024 rows), with more process
	 * rows than the cache has places. */
	one(101, 5000, true, false, 3);
	one(102, 4500, false, true, 2);
	one(103, 3000, false, false, 0);
	free(big);
	free(huge);
	return db_tc_end();
}
