// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the audit log database (agent/db.c) against real SQLite
 * files in a private temporary directory: opening and migrating, appending
 * and reading back through the "log" view, the hash chain and every kind
 * of tampering verify must name, pruning by age and size, write failures
 * (read-only handle, full database) and the option parsers.
 *
 * Prints "PASS: name" or "FAIL: name: why" per case; exits 1 if any failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/db.h"
#include "agent/util.h"
#define TC_PREFIX "db: "
#include "tests/unit/tc.h"

static char tmpdir[PATH_MAX];

/* ---- helpers ---- */

/* A path in the test directory. */
__attribute__((format(printf, 2, 3))) static const char *tpath(char *buf, const char *fmt, ...)
{
	size_t n = strlen(tmpdir);
	va_list ap;

	memcpy(buf, tmpdir, n);
	buf[n++] = '/';
	va_start(ap, fmt);
	vsnprintf(buf + n, PATH_MAX - n, fmt, ap);
	va_end(ap);
	return buf;
}

/* First column of the first row as an integer; -1 on error or no row. */
__attribute__((format(printf, 2, 3))) static int64_t qint(sqlite3 *h, const char *fmt, ...)
{
	char sql[1024];
	sqlite3_stmt *st;
	int64_t v = -1;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* First column of the first row as text (into buf); "" on error or NULL. */
static const char *qtext(sqlite3 *h, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *st;

	buf[0] = 0;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		return buf;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return buf;
}

__attribute__((format(printf, 3, 4))) static bool xsql(struct tc *t, sqlite3 *h, const char *fmt,
						       ...)
{
	char sql[4096], *e = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	rc = sqlite3_exec(h, sql, NULL, NULL, &e);
	CHECK(t, rc == SQLITE_OK, "%s: %s", sql, e ? e : "?");
	sqlite3_free(e);
	return rc == SQLITE_OK;
}

static void ipv4_key(uint8_t k[16], uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	memset(k, 0, 16);
	k[10] = k[11] = 0xff;
	k[12] = a;
	k[13] = b;
	k[14] = c;
	k[15] = d;
}

static const char *const exes[] = {"/usr/bin/curl", "/usr/bin/wget", "/opt/app/bin/server"};
static const char *const cmds[] = {"[\"curl\",\"-s\",\"https://example.com/\"]",
				   "[\"wget\",\"-q\",\"http://10.1.2.3/x\"]",
				   "[\"server\",\"--port\",\"8080\"]"};

/* A fully populated attempt row, varied by i (row i+1 of a fresh chain
 * uses exes[i % 3]). */
static struct db_row attempt(int i, int64_t ts)
{
	struct db_row r = {0};

	r.kind = "attempt";
	r.ts = ts;
	r.first_ts = ts - 1000;
	r.count = 1 + i % 5;
	r.hook = i % 2 ? "connect4" : "sendmsg6";
	r.verdict = i % 3 == 0 ? "deny" : "audit";
	r.rule_scope = i % 2 ? "global" : "group web";
	r.rule_text = i % 2 ? "deny 10.0.0.0/8" : "deny example.com";
	r.family = 4;
	r.proto = i % 4 == 3 ? "udp" : "tcp";
	r.has_dest = true;
	r.daddr = "10.1.2.3";
	ipv4_key(r.dkey, 10, 1, 2, (uint8_t)(3 + i % 7));
	r.dport = 443 + i % 7;
	r.qname = i % 4 ? NULL : "example.com";
	r.flags = i % 3;
	r.has_proc_ids = true;
	r.pid = 1000 + (uint32_t)i;
	r.tgid = 1000 + (uint32_t)i;
	r.uid = 1000;
	r.gid = 1000;
	r.comm = "worker";
	r.exe = exes[i % 3];
	r.cmdline = cmds[i % 3];
	r.has_cgroup = i % 2 == 0;
	r.cgid = 4242 + (uint64_t)(i % 4);
	r.cgroup_path = i % 4 ? "/system.slice/app.service" : "/docker/abc";
	r.container = i % 4 ? NULL : "abc";
	r.runtime = i % 4 ? NULL : "docker";
	r.unit = i % 4 ? "app.service" : NULL;
	return r;
}

static struct db *open_rw(struct tc *t, const char *path)
{
	char err[512] = "";
	struct db *db = NULL;
	int r = db_open(path, DB_RDWR, &db, err, sizeof(err));

	CHECK(t, r == 0 && db, "db_open(%s, RDWR) = %d: %s", path, r, err);
	return r == 0 ? db : NULL;
}

static struct db *open_ro(struct tc *t, const char *path)
{
	char err[512] = "";
	struct db *db = NULL;
	int r = db_open(path, DB_RDONLY, &db, err, sizeof(err));

	CHECK(t, r == 0 && db, "db_open(%s, RDONLY) = %d: %s", path, r, err);
	return r == 0 ? db : NULL;
}

static bool append(struct tc *t, struct db *db, const struct db_row *rows, size_t n)
{
	char err[512] = "";
	int r = db_append(db, rows, n, NULL, 0, err, sizeof(err));

	return CHECK(t, r == 0, "db_append(%zu rows) = %d: %s", n, r, err);
}

/* Append n attempt rows (i from i0), ts one second apart from ts0. */
static bool append_attempts(struct tc *t, struct db *db, int i0, int n, int64_t ts0)
{
	struct db_row *rows = calloc((size_t)n, sizeof(*rows));
	bool ok;

	if (!rows)
		abort();
	for (int k = 0; k < n; k++)
		rows[k] = attempt(i0 + k, ts0 + (int64_t)k * 1000000000LL);
	ok = append(t, db, rows, (size_t)n);
	free(rows);
	return ok;
}

/* A new database "name" in the test directory with n attempt rows. */
static struct db *chain(struct tc *t, const char *name, int n, char *path)
{
	struct db *db;

	tpath(path, "%s", name);
	db = open_rw(t, path);
	if (db && n && !append_attempts(t, db, 0, n, real_ns() - 3600000000000LL)) {
		db_close(db);
		return NULL;
	}
	return db;
}

static int verify(struct db *db, uint64_t *rows, char *msg, size_t len)
{
	*rows = 0;
	msg[0] = 0;
	return db_verify(db, 0, NULL, rows, msg, len);
}

static bool verify_intact(struct tc *t, struct db *db, uint64_t want_rows)
{
	char msg[1024], want[64];
	uint64_t rows;
	int r = verify(db, &rows, msg, sizeof(msg));

	snprintf(want, sizeof(want), "intact, %llu rows", (unsigned long long)want_rows);
	return CHECK(t, r == 0 && rows == want_rows && strstr(msg, want),
		     "verify = %d, rows %llu (want %llu): %s", r, (unsigned long long)rows,
		     (unsigned long long)want_rows, msg);
}

/* verify reports tampering (1) and msg contains every needle. */
static bool verify_tampered(struct tc *t, struct db *db, const char *n1, const char *n2)
{
	char msg[1024];
	uint64_t rows;
	int r = verify(db, &rows, msg, sizeof(msg));

	return CHECK(t, r == 1 && strstr(msg, n1) && (!n2 || strstr(msg, n2)),
		     "verify = %d (want 1 with \"%s\"%s%s): %s", r, n1, n2 ? " and " : "",
		     n2 ? n2 : "", msg);
}

static uint64_t nrows(struct db *db)
{
	struct db_stats s;

	db_stats(db, &s);
	return s.rows;
}

static int64_t used_bytes(sqlite3 *h)
{
	return (qint(h, "PRAGMA page_count") - qint(h, "PRAGMA freelist_count")) *
	       qint(h, "PRAGMA page_size");
}

/* The view "log" of schema versions 1 and 2 (without qtype). */
#define VIEW_LOG_V2                                                                                \
	"CREATE VIEW log AS SELECT e.id AS id, e.kind AS kind, e.ts AS ts,"                        \
	" e.first_ts AS first_ts, e.count AS count, e.hook AS hook, e.verdict AS verdict,"         \
	" r.scope AS rule_scope, r.text AS rule_text, e.family AS family, e.proto AS proto,"       \
	" e.daddr AS daddr, e.dkey AS dkey, e.dport AS dport, e.qname AS qname,"                   \
	" e.flags AS flags, e.pid AS pid, e.tgid AS tgid, e.uid AS uid, e.gid AS gid,"             \
	" e.comm AS comm, p.exe AS exe, p.cmdline AS cmdline, c.cgid AS cgid,"                     \
	" c.path AS cgroup_path, c.container AS container, c.runtime AS runtime,"                  \
	" c.unit AS unit, c.pod AS pod, e.note AS note, e.hash AS hash"                            \
	" FROM events e LEFT JOIN rules r ON r.id = e.rule LEFT JOIN procs p ON p.id = e.proc"     \
	" LEFT JOIN cgroups c ON c.id = e.cgroup"

/* Turn the (closed) database at path back into schema version 1 or 2, rows
 * kept: the file an older hush left. */
static bool downgrade(struct tc *t, const char *path, int ver)
{
	sqlite3 *h;
	bool ok;

	if (!CHECK(t, sqlite3_open(path, &h) == SQLITE_OK, "sqlite3_open %s", path))
		return false;
	ok = xsql(t, h,
		  "DROP VIEW log; DROP TABLE lineages; DROP TABLE hosts;"
		  " ALTER TABLE events DROP COLUMN ppid; ALTER TABLE events DROP COLUMN lineage;"
		  " ALTER TABLE events DROP COLUMN host;"
		  " ALTER TABLE events DROP COLUMN qtype; " VIEW_LOG_V2) &&
	     (ver > 1 || xsql(t, h, "DROP INDEX events_dport_ts")) &&
	     xsql(t, h, "PRAGMA user_version = %d", ver);
	sqlite3_close(h);
	return ok;
}

/* A DNS query row as the proxy's store writes it. */
static struct db_row dns_row(int64_t ts, const char *qname, const char *qtype, const char *note)
{
	struct db_row r = attempt(1, ts);

	r.hook = "dns";
	r.verdict = "deny";
	r.rule_scope = "/";
	r.rule_text = "default deny";
	r.proto = "udp";
	r.daddr = "10.0.0.53";
	ipv4_key(r.dkey, 10, 0, 0, 53);
	r.dport = 53;
	r.qname = qname;
	r.qtype = qtype;
	r.note = note;
	return r;
}

/* ---- open and migrate ---- */

static void test_open_create(void)
{
	struct tc t;
	char p[PATH_MAX], d[PATH_MAX], buf[256];
	struct stat st;
	struct db *db;
	sqlite3 *h;

	tc_begin(&t, "open creates the file, its directories and schema v1");
	tpath(p, "a/b/c/hush.db");
	db = open_rw(&t, p);
	if (db) {
		h = db_handle(db);
		CHECK(&t, strcmp(db_path(db), p) == 0, "db_path %s", db_path(db));
		CHECK(&t, stat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0640,
		      "file mode %o", (unsigned)(st.st_mode & 0777));
		CHECK(&t, stat(tpath(d, "a/b/c"), &st) == 0 && (st.st_mode & 0777) == 0750,
		      "db directory mode %o", (unsigned)(st.st_mode & 0777));
		CHECK(&t, stat(tpath(d, "a/b"), &st) == 0 && S_ISDIR(st.st_mode),
		      "intermediate directory");
		CHECK(&t, qint(h, "PRAGMA user_version") == DB_SCHEMA_VERSION, "user_version %lld",
		      (long long)qint(h, "PRAGMA user_version"));
		CHECK(&t, strcmp(qtext(h, "PRAGMA journal_mode", buf, sizeof(buf)), "wal") == 0,
		      "journal_mode %s", buf);
		CHECK(&t, qint(h, "PRAGMA auto_vacuum") == 2,
		      "auto_vacuum %lld (want 2, incremental: pruning could never shrink the file)",
		      (long long)qint(h, "PRAGMA auto_vacuum"));
		static const struct {
			const char *type, *name;
		} objs[] = {{"table", "meta"},
			    {"table", "procs"},
			    {"table", "cgroups"},
			    {"table", "rules"},
			    {"table", "marks"},
			    {"table", "events"},
			    {"index", "events_ts"},
			    {"index", "events_verdict_ts"},
			    {"index", "events_cgroup_ts"},
			    {"index", "events_dkey_ts"},
			    {"index", "events_dport_ts"},
			    {"view", "log"}};
		for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
			CHECK(&t,
			      qint(h,
				   "SELECT count(*) FROM sqlite_master WHERE type = '%s' AND "
				   "name = '%s'",
				   objs[i].type, objs[i].name) == 1,
			      "%s %s missing", objs[i].type, objs[i].name);
		CHECK(&t, qint(h, "SELECT count(*) FROM events") == 0, "events not empty");
		CHECK(&t, qint(h, "SELECT value FROM meta WHERE key = 'created'") > 0,
		      "meta 'created' not set");
		/* the view has exactly the documented columns, in order */
		sqlite3_stmt *s;
		int rc = sqlite3_prepare_v2(h, "SELECT * FROM log", -1, &s, NULL);
		if (CHECK(&t, rc == SQLITE_OK, "prepare SELECT * FROM log")) {
			const char *cols = DB_LOG_COLUMNS;
			char want[64];

			CHECK(&t, sqlite3_column_count(s) == DB_C_MAX, "log has %d columns",
			      sqlite3_column_count(s));
			for (int c = 0; c < sqlite3_column_count(s) && *cols; c++) {
				size_t l = strcspn(cols, ",");

				snprintf(want, sizeof(want), "%.*s", (int)l, cols);
				CHECK(&t, strcmp(sqlite3_column_name(s, c), want) == 0,
				      "log column %d is %s, DB_LOG_COLUMNS says %s", c,
				      sqlite3_column_name(s, c), want);
				cols += l;
				cols += strspn(cols, ", ");
			}
		}
		sqlite3_finalize(s);
		db_close(db);
	}
	tc_end(&t);
}

static void test_open_reopen(void)
{
	struct tc t;
	char p[PATH_MAX], buf[64];
	struct db *db, *ro;
	int64_t created = 0, again = 0;

	tc_begin(&t, "reopen read-write and read-only keeps rows and meta");
	db = chain(&t, "reopen.db", 5, p);
	if (db) {
		CHECK(&t, db_meta_get_int(db, "created", &created) == 0 && created > 0,
		      "created %lld", (long long)created);
		db_close(db);
	}
	db = open_rw(&t, p);
	if (db) {
		CHECK(&t, nrows(db) == 5, "rows %llu after reopen", (unsigned long long)nrows(db));
		CHECK(&t, db_meta_get_int(db, "created", &again) == 0 && again == created,
		      "created changed %lld -> %lld", (long long)created, (long long)again);
		CHECK(&t, append_attempts(&t, db, 5, 2, real_ns()), "append after reopen");
		verify_intact(&t, db, 7);
		ro = open_ro(&t, p);
		if (ro) {
			sqlite3 *h = db_handle(ro);

			CHECK(&t, qint(h, "PRAGMA user_version") == DB_SCHEMA_VERSION,
			      "user_version");
			CHECK(&t,
			      strcmp(qtext(h, "PRAGMA journal_mode", buf, sizeof(buf)), "wal") == 0,
			      "journal_mode %s on read-only handle", buf);
			CHECK(&t, nrows(ro) == 7, "read-only handle sees %llu rows",
			      (unsigned long long)nrows(ro));
			verify_intact(&t, ro, 7);
			db_close(ro);
		}
		db_close(db);
	}
	tc_end(&t);
}

static void test_open_errors(void)
{
	struct tc t;
	char p[PATH_MAX], err[512];
	struct db *db = (struct db *)&t;
	sqlite3 *h;
	int r;

	tc_begin(&t, "read-only open of a missing file says --db");
	r = db_open(tpath(p, "missing/none.db"), DB_RDONLY, &db, err, sizeof(err));
	CHECK(&t, r < 0 && !db && strstr(err, "--db") && strstr(err, p), "r %d: %s", r, err);
	CHECK(&t, access(p, F_OK) < 0, "read-only open created %s", p);
	tc_end(&t);

	tc_begin(&t, "a database newer than this build is refused");
	tpath(p, "v99.db");
	if (CHECK(&t, sqlite3_open(p, &h) == SQLITE_OK, "sqlite3_open")) {
		xsql(&t, h, "CREATE TABLE future(x); PRAGMA user_version = 99");
		sqlite3_close(h);
	}
	for (int mode = 0; mode < 2; mode++) {
		err[0] = 0;
		db = (struct db *)&t;
		r = db_open(p, mode ? DB_RDWR : DB_RDONLY, &db, err, sizeof(err));
		CHECK(&t, r < 0 && !db && strstr(err, "schema version 99") && strstr(err, "newer"),
		      "%s: r %d: %s", mode ? "RDWR" : "RDONLY", r, err);
	}
	if (CHECK(&t, sqlite3_open(p, &h) == SQLITE_OK, "sqlite3_open")) {
		char jm[32];

		CHECK(&t, qint(h, "PRAGMA user_version") == 99, "refused database was changed");
		CHECK(&t, strcmp(qtext(h, "PRAGMA journal_mode", jm, sizeof(jm)), "delete") == 0,
		      "refused database switched to journal_mode %s", jm);
		CHECK(&t, qint(h, "SELECT count(*) FROM sqlite_master WHERE name = 'events'") == 0,
		      "refused database got hush tables");
		sqlite3_close(h);
	}
	tc_end(&t);

	tc_begin(&t, "read-only open of an unmigrated (v0) file asks for migration");
	tpath(p, "v0.db");
	close(open(p, O_CREAT | O_WRONLY, 0640));
	err[0] = 0;
	r = db_open(p, DB_RDONLY, &db, err, sizeof(err));
	CHECK(&t, r < 0 && !db && strstr(err, "migrat") && strstr(err, "version 0"), "r %d: %s", r,
	      err);
	/* read-write migrates it */
	db = open_rw(&t, p);
	if (db) {
		CHECK(&t, qint(db_handle(db), "PRAGMA user_version") == DB_SCHEMA_VERSION,
		      "not migrated");
		db_close(db);
		db = open_ro(&t, p);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "a version 1 database migrates to 2 and 3: the port index, rows kept");
	tpath(p, "v1.db");
	db = open_rw(&t, p);
	if (db) {
		CHECK(&t, append_attempts(&t, db, 0, 3, real_ns()), "append");
		db_close(db);
		db = NULL;
		downgrade(&t, p, 1);
		err[0] = 0;
		r = db_open(p, DB_RDONLY, &db, err, sizeof(err));
		CHECK(&t, r < 0 && !db && strstr(err, "version 1") && strstr(err, "migrat"),
		      "read-only open of v1: r %d: %s", r, err);
		db = open_rw(&t, p);
	}
	if (db) {
		sqlite3 *vh = db_handle(db);

		CHECK(&t, qint(vh, "PRAGMA user_version") == DB_SCHEMA_VERSION, "user_version %lld",
		      (long long)qint(vh, "PRAGMA user_version"));
		CHECK(
		    &t,
		    qint(vh, "SELECT count(*) FROM sqlite_master WHERE name = 'events_dport_ts'") ==
			1,
		    "no events_dport_ts after migration");
		CHECK(&t,
		      qint(vh, "SELECT count(*) FROM pragma_table_info('events') WHERE name = "
			       "'qtype'") == 1,
		      "no events.qtype after migration");
		CHECK(&t, nrows(db) == 3, "rows %llu", (unsigned long long)nrows(db));
		verify_intact(&t, db, 3);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "a file that is not a database is refused");
	tpath(p, "garbage.db");
	{
		FILE *f = fopen(p, "w");

		if (f) {
			for (int i = 0; i < 512; i++)
				fputs("not a database ", f);
			fclose(f);
		}
	}
	for (int mode = 0; mode < 2; mode++) {
		err[0] = 0;
		r = db_open(p, mode ? DB_RDWR : DB_RDONLY, &db, err, sizeof(err));
		CHECK(&t, r < 0 && !db && strstr(err, p) && strstr(err, "not a"), "%s: r %d: %s",
		      mode ? "RDWR" : "RDONLY", r, err);
	}
	tc_end(&t);

	tc_begin(&t, "read-write open under a regular file fails with a message");
	tpath(p, "garbage.db/sub/hush.db");
	err[0] = 0;
	r = db_open(p, DB_RDWR, &db, err, sizeof(err));
	CHECK(&t, r < 0 && !db && strstr(err, "cannot create") && strstr(err, p), "r %d: %s", r,
	      err);
	tc_end(&t);

	tc_begin(&t, "db_close(NULL) is a no-op");
	db_close(NULL);
	tc_end(&t);
}

/* ---- appending and reading back ---- */

static bool col_null(sqlite3_stmt *s, int c)
{
	return sqlite3_column_type(s, c) == SQLITE_NULL;
}

static bool col_int(sqlite3_stmt *s, int c, int64_t v)
{
	return sqlite3_column_type(s, c) == SQLITE_INTEGER && sqlite3_column_int64(s, c) == v;
}

static bool col_text(sqlite3_stmt *s, int c, const char *v)
{
	return sqlite3_column_type(s, c) == SQLITE_TEXT &&
	       strcmp((const char *)sqlite3_column_text(s, c), v) == 0;
}

static sqlite3_stmt *log_row(sqlite3 *h, int64_t id)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(h, "SELECT " DB_LOG_COLUMNS " FROM log WHERE id = ?", -1, &s,
			       NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

static void test_append_minimal(void)
{
	struct tc t;
	char p[PATH_MAX];
	struct db *db;
	struct db_row rows[3] = {
	    {.kind = "attempt", .ts = 1000, .first_ts = 900, .count = 2, .flags = -1},
	    {.kind = "gap", .ts = 2000, .first_ts = 2000, .count = 7, .flags = -1},
	    {.kind = "note", .ts = 3000, .first_ts = 3000, .count = 0, .flags = -1},
	};

	tc_begin(&t, "append attempt/gap/note rows with every optional field absent");
	db = chain(&t, "minimal.db", 0, p);
	if (db && append(&t, db, rows, 3)) {
		sqlite3 *h = db_handle(db);

		for (int id = 1; id <= 3; id++) {
			sqlite3_stmt *s = log_row(h, id);

			if (!CHECK(&t, s, "row %d missing from log", id))
				continue;
			CHECK(&t, col_text(s, DB_C_KIND, rows[id - 1].kind), "row %d kind", id);
			CHECK(&t, col_int(s, DB_C_TS, rows[id - 1].ts), "row %d ts", id);
			CHECK(&t, col_int(s, DB_C_FIRST_TS, rows[id - 1].first_ts),
			      "row %d first_ts", id);
			CHECK(&t, col_int(s, DB_C_COUNT, rows[id - 1].count), "row %d count", id);
			for (int c = DB_C_HOOK; c < DB_C_MAX; c++)
				if (c != DB_C_COUNT && c != DB_C_TS && c != DB_C_FIRST_TS &&
				    c != DB_C_HASH)
					CHECK(&t, col_null(s, c), "row %d column %d not NULL", id,
					      c);
			CHECK(&t,
			      sqlite3_column_type(s, DB_C_HASH) == SQLITE_BLOB &&
				  sqlite3_column_bytes(s, DB_C_HASH) == DB_HASH_LEN,
			      "row %d hash", id);
			sqlite3_finalize(s);
		}
		CHECK(&t, qint(h, "SELECT count(*) FROM procs") == 0, "procs rows");
		CHECK(&t, qint(h, "SELECT count(*) FROM cgroups") == 0, "cgroups rows");
		CHECK(&t, qint(h, "SELECT count(*) FROM rules") == 0, "rules rows");
		verify_intact(&t, db, 3);
	}
	db_close(db);
	tc_end(&t);
}

static void test_append_full(void)
{
	struct tc t;
	char p[PATH_MAX];
	struct db *db;
	struct db_row r = attempt(0, 1700000000123456789LL);

	r.family = 6;
	r.daddr = "2001:db8::1";
	for (int i = 0; i < 16; i++)
		r.dkey[i] = (uint8_t)(0x20 + i);
	r.qname = "example.com";
	r.flags = 5;
	r.pid = 4000000000u; /* above INT32_MAX */
	r.uid = 65534;
	r.cgid = 0x8000000000000001ull; /* above INT64_MAX */
	r.pod = "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901";
	r.note = "first";

	tc_begin(&t, "append a fully populated row: log view returns every value");
	db = chain(&t, "full.db", 0, p);
	if (db && append(&t, db, &r, 1)) {
		sqlite3_stmt *s = log_row(db_handle(db), 1);

		if (CHECK(&t, s, "row 1 missing")) {
			CHECK(&t, col_int(s, DB_C_ID, 1), "id");
			CHECK(&t, col_text(s, DB_C_KIND, "attempt"), "kind");
			CHECK(&t, col_int(s, DB_C_TS, r.ts), "ts");
			CHECK(&t, col_int(s, DB_C_FIRST_TS, r.first_ts), "first_ts");
			CHECK(&t, col_int(s, DB_C_COUNT, r.count), "count");
			CHECK(&t, col_text(s, DB_C_HOOK, r.hook), "hook");
			CHECK(&t, col_text(s, DB_C_VERDICT, r.verdict), "verdict");
			CHECK(&t, col_text(s, DB_C_RULE_SCOPE, r.rule_scope), "rule_scope");
			CHECK(&t, col_text(s, DB_C_RULE_TEXT, r.rule_text), "rule_text");
			CHECK(&t, col_int(s, DB_C_FAMILY, 6), "family");
			CHECK(&t, col_text(s, DB_C_PROTO, r.proto), "proto");
			CHECK(&t, col_text(s, DB_C_DADDR, r.daddr), "daddr");
			CHECK(&t,
			      sqlite3_column_type(s, DB_C_DKEY) == SQLITE_BLOB &&
				  sqlite3_column_bytes(s, DB_C_DKEY) == 16 &&
				  memcmp(sqlite3_column_blob(s, DB_C_DKEY), r.dkey, 16) == 0,
			      "dkey");
			CHECK(&t, col_int(s, DB_C_DPORT, r.dport), "dport");
			CHECK(&t, col_text(s, DB_C_QNAME, "example.com"), "qname");
			CHECK(&t, col_int(s, DB_C_FLAGS, 5), "flags");
			CHECK(&t, col_int(s, DB_C_PID, 4000000000LL), "pid");
			CHECK(&t, col_int(s, DB_C_TGID, r.tgid), "tgid");
			CHECK(&t, col_int(s, DB_C_UID, 65534), "uid");
			CHECK(&t, col_int(s, DB_C_GID, r.gid), "gid");
			CHECK(&t, col_text(s, DB_C_COMM, "worker"), "comm");
			CHECK(&t, col_text(s, DB_C_EXE, exes[0]), "exe");
			CHECK(&t, col_text(s, DB_C_CMDLINE, cmds[0]), "cmdline");
			CHECK(&t, col_int(s, DB_C_CGID, (int64_t)r.cgid), "cgid");
			CHECK(&t, col_text(s, DB_C_CGROUP_PATH, "/docker/abc"), "cgroup_path");
			CHECK(&t, col_text(s, DB_C_CONTAINER, "abc"), "container");
			CHECK(&t, col_text(s, DB_C_RUNTIME, "docker"), "runtime");
			CHECK(&t, col_null(s, DB_C_UNIT), "unit");
			CHECK(&t, col_text(s, DB_C_POD, r.pod), "pod");
			CHECK(&t, col_text(s, DB_C_NOTE, "first"), "note");
			CHECK(&t, col_null(s, DB_C_QTYPE), "qtype");
			/* the cmdline is JSON an SQL reader can take apart */
			CHECK(&t,
			      qint(db_handle(db),
				   "SELECT json_array_length(cmdline) FROM log WHERE id = 1") == 3,
			      "cmdline is not a JSON array of 3");
			sqlite3_finalize(s);
		}
		verify_intact(&t, db, 1);
	}
	db_close(db);
	tc_end(&t);
}

static void test_append_defaults(void)
{
	struct tc t;
	char p[PATH_MAX];
	struct db *db;
	struct db_row r[4];

	tc_begin(&t, "empty strings are stored as NULL; missing cmdline and cgroup path default");
	for (int i = 0; i < 4; i++)
		r[i] = attempt(i, 5000 + i);
	r[0].comm = "";
	r[0].qname = "";
	r[0].qtype = "";
	r[0].proto = "";
	r[0].cmdline = NULL;   /* -> "[]" */
	r[0].container = "";   /* -> NULL */
	r[1].exe = "";	       /* no process */
	r[2].cgroup_path = ""; /* as unknown as NULL: "?" */
	r[2].has_cgroup = true;
	r[3].cgroup_path = NULL;
	r[3].has_cgroup = true;
	r[3].cgid = 77;
	db = chain(&t, "defaults.db", 0, p);
	if (db && append(&t, db, r, 4)) {
		sqlite3 *h = db_handle(db);
		sqlite3_stmt *s = log_row(h, 1);

		if (CHECK(&t, s, "row 1")) {
			CHECK(&t,
			      col_null(s, DB_C_COMM) && col_null(s, DB_C_QNAME) &&
				  col_null(s, DB_C_QTYPE) && col_null(s, DB_C_PROTO),
			      "empty strings not NULL");
			CHECK(&t, col_text(s, DB_C_CMDLINE, "[]"), "NULL cmdline not []");
			CHECK(&t, col_null(s, DB_C_CONTAINER), "empty container not NULL");
			sqlite3_finalize(s);
		}
		s = log_row(h, 2);
		if (CHECK(&t, s, "row 2")) {
			CHECK(&t, col_null(s, DB_C_EXE) && col_null(s, DB_C_CMDLINE),
			      "empty exe still names a process");
			sqlite3_finalize(s);
		}
		s = log_row(h, 3);
		if (CHECK(&t, s, "row 3")) {
			CHECK(&t, col_text(s, DB_C_CGROUP_PATH, "?"), "empty cgroup path not ?");
			sqlite3_finalize(s);
		}
		s = log_row(h, 4);
		if (CHECK(&t, s, "row 4")) {
			CHECK(&t, col_text(s, DB_C_CGROUP_PATH, "?") && col_int(s, DB_C_CGID, 77),
			      "NULL cgroup path not ?");
			sqlite3_finalize(s);
		}
		verify_intact(&t, db, 4);
	}
	db_close(db);
	tc_end(&t);

	tc_begin(&t, "a rule with an empty scope or text is no rule, and the chain holds");
	for (int i = 0; i < 3; i++)
		r[i] = attempt(i, 6000 + i);
	r[0].rule_scope = "";
	r[1].rule_text = "";
	r[2].rule_scope = NULL;
	db = chain(&t, "emptyrule.db", 0, p);
	if (db && append(&t, db, r, 3)) {
		sqlite3 *h = db_handle(db);

		for (int id = 1; id <= 3; id++) {
			sqlite3_stmt *s = log_row(h, id);

			if (CHECK(&t, s, "row %d", id)) {
				CHECK(&t,
				      col_null(s, DB_C_RULE_SCOPE) && col_null(s, DB_C_RULE_TEXT),
				      "row %d has a rule", id);
				sqlite3_finalize(s);
			}
		}
		CHECK(&t, qint(h, "SELECT count(*) FROM rules") == 0, "rules rows");
		verify_intact(&t, db, 3);
	}
	db_close(db);
	tc_end(&t);
}

static void test_append_ids_dims(void)
{
	struct tc t;
	char p[PATH_MAX];
	struct db *db;

	tc_begin(&t, "ids are contiguous from 1 across batches; dimension rows deduplicated");
	db = chain(&t, "dims.db", 0, p);
	if (db) {
		sqlite3 *h = db_handle(db);
		struct db_row r = attempt(0, 1);

		for (int b = 0; b < 4; b++)
			append_attempts(&t, db, b * 6, 6, 1000000 + b);
		CHECK(&t, qint(h, "SELECT count(*) FROM events") == 24, "events %lld",
		      (long long)qint(h, "SELECT count(*) FROM events"));
		CHECK(&t, qint(h, "SELECT min(id) FROM events") == 1, "min id");
		CHECK(&t, qint(h, "SELECT max(id) FROM events") == 24, "max id");
		CHECK(&t, qint(h, "SELECT count(*) FROM procs") == 3, "procs %lld (3 exe+cmdline)",
		      (long long)qint(h, "SELECT count(*) FROM procs"));
		CHECK(&t, qint(h, "SELECT count(DISTINCT proc) FROM events") == 3,
		      "distinct proc ids");
		/* i % 4 == 0 -> /docker/abc (cgid 4242), i % 4 == 2 -> app.service (cgid 4244) */
		CHECK(&t, qint(h, "SELECT count(*) FROM cgroups") == 2, "cgroups %lld",
		      (long long)qint(h, "SELECT count(*) FROM cgroups"));
		CHECK(&t, qint(h, "SELECT count(*) FROM rules") == 2, "rules %lld",
		      (long long)qint(h, "SELECT count(*) FROM rules"));
		/* same exe, other cmdline: a new procs row */
		r.cmdline = "[\"curl\",\"other\"]";
		append(&t, db, &r, 1);
		CHECK(&t, qint(h, "SELECT count(*) FROM procs") == 4, "procs after new cmdline");
		db_close(db);
		/* a new handle (empty caches) finds the existing dimension rows */
		db = open_rw(&t, p);
		if (db) {
			h = db_handle(db);
			append_attempts(&t, db, 0, 4, 2000000);
			append(&t, db, &r, 1);
			CHECK(&t, qint(h, "SELECT count(*) FROM procs") == 4,
			      "procs after reopen %lld",
			      (long long)qint(h, "SELECT count(*) FROM procs"));
			CHECK(&t, qint(h, "SELECT count(*) FROM cgroups") == 2,
			      "cgroups after reopen");
			CHECK(&t, qint(h, "SELECT count(*) FROM rules") == 2, "rules after reopen");
			CHECK(&t, qint(h, "SELECT max(id) FROM events") == 30, "max id %lld",
			      (long long)qint(h, "SELECT max(id) FROM events"));
			verify_intact(&t, db, 30);
		}
	}
	db_close(db);
	tc_end(&t);

	tc_begin(&t, "an empty append writes nothing");
	db = chain(&t, "empty.db", 2, p);
	if (db) {
		char err[256] = "";

		CHECK(&t, db_append(db, NULL, 0, NULL, 0, err, sizeof(err)) == 0, "%s", err);
		CHECK(&t, nrows(db) == 2, "rows %llu", (unsigned long long)nrows(db));
		verify_intact(&t, db, 2);
		db_close(db);
	}
	tc_end(&t);
}

static int mark_cmp(const void *a, const void *b)
{
	const struct db_mark *x = a, *y = b;

	if (x->cpu != y->cpu)
		return x->cpu < y->cpu ? -1 : 1;
	if (x->hook != y->hook)
		return x->hook < y->hook ? -1 : 1;
	return x->verdict < y->verdict ? -1 : x->verdict > y->verdict;
}

static void test_marks(void)
{
	struct tc t;
	char p[PATH_MAX], err[256];
	struct db *db;
	struct db_mark m1[3] = {
	    {.cpu = 0, .hook = 1, .verdict = 2, .seq = 100, .max_seen = 104, .above = 3},
	    {.cpu = 1, .hook = 1, .verdict = 2, .seq = 200, .max_seen = 200},
	    {.cpu = 0, .hook = 3, .verdict = 0, .seq = 5, .max_seen = 5}};
	struct db_mark m2[2] = {
	    {.cpu = 1, .hook = 1, .verdict = 2, .seq = 250, .max_seen = 260, .above = 9},
	    {.cpu = 7,
	     .hook = 0,
	     .verdict = 1,
	     .seq = 1ull << 40,
	     .max_seen = 1ull << 41,
	     .above = 1}};
	struct db_mark *got = NULL;
	size_t n = 0;

	tc_begin(&t, "marks stored with the rows, updated in place, reset");
	db = chain(&t, "marks.db", 0, p);
	if (db) {
		struct db_row r = attempt(0, 10);

		CHECK(&t, db_append(db, &r, 1, m1, 3, err, sizeof(err)) == 0, "append: %s", err);
		CHECK(&t, db_marks(db, &got, &n) == 0 && n == 3, "n %zu", n);
		if (n == 3) {
			qsort(got, n, sizeof(*got), mark_cmp);
			CHECK(&t,
			      got[0].cpu == 0 && got[0].hook == 1 && got[0].verdict == 2 &&
				  got[0].seq == 100 && got[0].max_seen == 104 &&
				  got[0].above == 3 && got[1].hook == 3 && got[1].seq == 5 &&
				  got[1].max_seen == 5 && got[1].above == 0 && got[2].cpu == 1 &&
				  got[2].seq == 200 && got[2].max_seen == 200,
			      "marks read back wrong");
		}
		free(got);
		got = NULL;
		/* marks alone (no rows) */
		CHECK(&t, db_append(db, NULL, 0, m2, 2, err, sizeof(err)) == 0, "append: %s", err);
		CHECK(&t, db_marks(db, &got, &n) == 0 && n == 4, "n %zu after update", n);
		if (n == 4) {
			qsort(got, n, sizeof(*got), mark_cmp);
			CHECK(&t,
			      got[2].cpu == 1 && got[2].seq == 250 && got[2].max_seen == 260 &&
				  got[2].above == 9,
			      "not updated: seq %llu max_seen %llu above %llu",
			      (unsigned long long)got[2].seq, (unsigned long long)got[2].max_seen,
			      (unsigned long long)got[2].above);
			CHECK(&t,
			      got[3].cpu == 7 && got[3].seq == 1ull << 40 &&
				  got[3].max_seen == 1ull << 41 && got[3].above == 1,
			      "new mark");
			CHECK(&t, got[0].seq == 100 && got[1].seq == 5, "other marks changed");
		}
		free(got);
		got = NULL;
		CHECK(&t, nrows(db) == 1, "marks-only append added rows");
		CHECK(&t, db_marks_reset(db) == 0, "reset");
		CHECK(&t, db_marks(db, &got, &n) == 0 && n == 0 && !got, "n %zu after reset", n);
		free(got);
		verify_intact(&t, db, 1);
		db_close(db);
	}
	tc_end(&t);
}

static void test_meta_stats(void)
{
	struct tc t;
	char p[PATH_MAX];
	struct db *db;
	struct db_stats s;
	int64_t v = 0;

	tc_begin(&t, "stats: rows, totals, oldest/newest, last id, file size");
	db = chain(&t, "stats.db", 0, p);
	if (db) {
		struct db_row r[5] = {
		    attempt(0, 5000),
		    attempt(1, 3000),
		    {.kind = "gap", .ts = 9000, .first_ts = 8000, .count = 40, .flags = -1},
		    {.kind = "note", .ts = 7000, .first_ts = 7000, .note = "hello", .flags = -1},
		    attempt(2, 4000),
		};

		CHECK(&t,
		      db_stats(db, &s) == 0 && s.rows == 0 && s.last_id == 0 && s.oldest_ts == 0 &&
			  s.newest_ts == 0 && s.attempts == 0 && s.lost == 0,
		      "empty stats");
		r[0].count = 3;
		r[1].count = 4;
		r[4].count = 10;
		append(&t, db, r, 5);
		r[2].count = 2;
		append(&t, db, &r[2], 1);
		CHECK(&t, db_stats(db, &s) == 0, "db_stats");
		CHECK(&t, s.rows == 6 && s.last_id == 6, "rows %llu last %llu",
		      (unsigned long long)s.rows, (unsigned long long)s.last_id);
		CHECK(&t, s.attempts == 17 && s.lost == 42, "attempts %llu lost %llu",
		      (unsigned long long)s.attempts, (unsigned long long)s.lost);
		CHECK(&t, s.oldest_ts == 3000 && s.newest_ts == 9000, "oldest %lld newest %lld",
		      (long long)s.oldest_ts, (long long)s.newest_ts);
		CHECK(&t, s.file_bytes > 0, "file_bytes %lld", (long long)s.file_bytes);
		CHECK(&t, db_meta_get_int(db, "attempts", &v) == 0 && v == 17, "meta attempts");
		CHECK(&t, db_meta_get_int(db, "lost", &v) == 0 && v == 42, "meta lost");
		CHECK(&t, db_meta_get_int(db, "nonesuch", &v) == -ENOENT, "missing key");
		CHECK(&t, db_meta_set_int(db, "counters_id", 12345) == 0, "set");
		CHECK(&t, db_meta_get_int(db, "counters_id", &v) == 0 && v == 12345, "get %lld",
		      (long long)v);
		CHECK(&t, db_meta_set_int(db, "counters_id", -7) == 0, "set again");
		CHECK(&t, db_meta_get_int(db, "counters_id", &v) == 0 && v == -7, "get %lld",
		      (long long)v);
		{
			char buf[64];

			CHECK(&t, db_meta_set_text(db, "hush_version", "1.2.3") == 0, "set text");
			CHECK(&t, db_meta_set_text(db, "hush_version", "1.2.4-dirty") == 0,
			      "set text again");
			qtext(db_handle(db), "SELECT value FROM meta WHERE key = 'hush_version'",
			      buf, sizeof(buf));
			CHECK(&t, strcmp(buf, "1.2.4-dirty") == 0, "hush_version \"%s\"", buf);
		}
		db_close(db);
	}
	tc_end(&t);
}

/* ---- the chain ---- */

static void test_chain_hashes(void)
{
	struct tc t;
	char p[PATH_MAX], hp[PATH_MAX + 8], line[256], hx[2 * DB_HASH_LEN + 1];
	struct db *db;

	tc_begin(&t, "each stored hash is SHA-256(prev || row) over the log view");
	db = chain(&t, "hashes.db", 40, p);
	if (db) {
		struct db_row n = {
		    .kind = "note", .ts = 1, .first_ts = 1, .note = "x", .flags = -1};
		uint8_t prev[DB_HASH_LEN] = {0}, h[DB_HASH_LEN];
		sqlite3_stmt *s;
		int64_t id = 0;
		int bad = 0;

		append(&t, db, &n, 1);
		if (sqlite3_prepare_v2(db_handle(db),
				       "SELECT " DB_LOG_COLUMNS " FROM log ORDER BY id", -1, &s,
				       NULL) == SQLITE_OK) {
			while (sqlite3_step(s) == SQLITE_ROW) {
				id++;
				CHECK(&t, sqlite3_column_int64(s, DB_C_ID) == id, "id %lld",
				      (long long)id);
				db_row_hash_stmt(s, prev, h);
				if (sqlite3_column_bytes(s, DB_C_HASH) != DB_HASH_LEN ||
				    memcmp(h, sqlite3_column_blob(s, DB_C_HASH), DB_HASH_LEN))
					bad++;
				memcpy(prev, h, DB_HASH_LEN);
			}
			sqlite3_finalize(s);
		}
		CHECK(&t, id == 41 && bad == 0, "%lld rows, %d hashes differ", (long long)id, bad);
		verify_intact(&t, db, 41);
		/* the head file names the last row and its hash */
		for (int i = 0; i < DB_HASH_LEN; i++)
			snprintf(hx + 2 * i, 3, "%02x", prev[i]);
		snprintf(hp, sizeof(hp), "%s.head", p);
		FILE *f = fopen(hp, "r");

		line[0] = 0;
		if (CHECK(&t, f, "no head file %s", hp)) {
			if (!fgets(line, sizeof(line), f))
				line[0] = 0;
			fclose(f);
		}
		char want[256];

		snprintf(want, sizeof(want), "41 %s\n", hx);
		CHECK(&t, strcmp(line, want) == 0, "head file \"%s\", want \"%s\"", line, want);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "verify an empty database");
	db = chain(&t, "hashes-empty.db", 0, p);
	if (db) {
		verify_intact(&t, db, 0);
		db_close(db);
	}
	tc_end(&t);
}

static void test_two_writers(void)
{
	struct tc t;
	char p[PATH_MAX];
	struct db *a, *b;

	tc_begin(&t, "two writers appending alternately keep one chain");
	a = chain(&t, "two.db", 0, p);
	b = open_rw(&t, p);
	if (a && b) {
		sqlite3 *h = db_handle(a);

		for (int k = 0; k < 12; k++)
			append_attempts(&t, k % 2 ? b : a, k * 3, 3, 1000000 + k);
		CHECK(&t,
		      qint(h, "SELECT count(*) FROM events") == 36 &&
			  qint(h, "SELECT max(id) FROM events") == 36,
		      "ids not contiguous");
		CHECK(&t, qint(h, "SELECT count(*) FROM procs") == 3, "procs %lld",
		      (long long)qint(h, "SELECT count(*) FROM procs"));
		verify_intact(&t, a, 36);
		verify_intact(&t, b, 36);
	}
	db_close(a);
	db_close(b);
	tc_end(&t);
}

/* Writer in a child process; the parent verifies (read-only) as it writes.
 * The head file is rewritten after each commit, so a verify that read it
 * after its snapshot began saw a row the snapshot lacks ("tail truncated"):
 * a race, hence a run of ~1.5 s with the chain kept short by pruning. */
static void test_verify_during_writes(void)
{
	struct tc t;
	char p[PATH_MAX];
	struct db *db, *ro;
	pid_t pid;
	int bad = 0, runs = 0, status = 0;
	char first[1100] = "";

	tc_begin(&t, "verify while another process appends and prunes never reports tampering");
	db = chain(&t, "live.db", 5, p);
	db_close(db);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int64_t end = real_ns() + 1500000000LL;
		struct db *w = NULL;
		char err[256];
		uint64_t removed;
		int rc = 0;

		if (db_open(p, DB_RDWR, &w, err, sizeof(err)))
			_exit(2);
		for (int i = 0; rc == 0 && real_ns() < end; i++) {
			struct db_row r = attempt(i, real_ns());

			rc = db_append(w, &r, 1, NULL, 0, err, sizeof(err));
			if (rc == 0 && i % 50 == 49)
				rc = db_prune(w, real_ns(), 0, &removed, err, sizeof(err));
		}
		db_close(w);
		_exit(rc ? 3 : 0);
	}
	ro = open_ro(&t, p);
	if (CHECK(&t, pid > 0, "fork") && ro) {
		for (;;) {
			char msg[1024];
			uint64_t rows;
			int r = verify(ro, &rows, msg, sizeof(msg));
			pid_t w = waitpid(pid, &status, WNOHANG);

			runs++;
			if (r != 0 && !bad++)
				snprintf(first, sizeof(first), "verify = %d: %s", r, msg);
			if (w == pid)
				break;
		}
		CHECK(&t, WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer status %#x",
		      status);
		CHECK(&t, bad == 0, "%d of %d verifies failed, first: %s", bad, runs, first);
		CHECK(&t, runs > 100, "only %d verifies ran", runs);
		verify_intact(&t, ro, nrows(ro));
	} else if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	db_close(ro);
	tc_end(&t);
}

/* ---- tampering ---- */

#define N_TAMPER 12

static void test_tamper(void)
{
	struct tc t;
	char p[PATH_MAX], want[64];
	struct db *db;
	sqlite3 *h;

	tc_begin(&t, "tamper: a middle row edited");
	db = chain(&t, "t-edit.db", N_TAMPER, p);
	if (db) {
		xsql(&t, db_handle(db), "UPDATE events SET dport = 22 WHERE id = 6");
		verify_tampered(&t, db, "row 6: edited", NULL);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "tamper: the last row edited");
	db = chain(&t, "t-edit-last.db", N_TAMPER, p);
	if (db) {
		xsql(&t, db_handle(db), "UPDATE events SET daddr = '10.9.9.9' WHERE id = %d",
		     N_TAMPER);
		snprintf(want, sizeof(want), "row %d: edited", N_TAMPER);
		verify_tampered(&t, db, want, NULL);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "tamper: a stored hash replaced");
	db = chain(&t, "t-hash.db", N_TAMPER, p);
	if (db) {
		xsql(&t, db_handle(db), "UPDATE events SET hash = zeroblob(32) WHERE id = 4");
		verify_tampered(&t, db, "row 4", NULL);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "tamper: a middle row deleted");
	db = chain(&t, "t-del.db", N_TAMPER, p);
	if (db) {
		xsql(&t, db_handle(db), "DELETE FROM events WHERE id = 7");
		verify_tampered(&t, db, "row 7: deleted", NULL);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "tamper: a stretch of rows deleted");
	db = chain(&t, "t-del-range.db", N_TAMPER, p);
	if (db) {
		xsql(&t, db_handle(db), "DELETE FROM events WHERE id BETWEEN 3 AND 5");
		verify_tampered(&t, db, "rows 3..5: deleted", NULL);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "tamper: the first row deleted");
	db = chain(&t, "t-del-first.db", N_TAMPER, p);
	if (db) {
		xsql(&t, db_handle(db), "DELETE FROM events WHERE id = 1");
		verify_tampered(&t, db, "row 1: deleted", NULL);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "tamper: a forged row inserted by renumbering the tail");
	db = chain(&t, "t-insert.db", N_TAMPER, p);
	if (db) {
		h = db_handle(db);
		for (int id = N_TAMPER; id >= 5; id--)
			xsql(&t, h, "UPDATE events SET id = id + 1 WHERE id = %d", id);
		xsql(
		    &t, h,
		    "INSERT INTO events(id, kind, ts, first_ts, count, verdict, daddr, dport, hash)"
		    " VALUES(5, 'attempt', 1, 1, 1, 'allow', '192.0.2.1', 80, randomblob(32))");
		CHECK(&t, qint(h, "SELECT count(*) FROM events") == N_TAMPER + 1, "setup");
		verify_tampered(&t, db, "row 5", NULL);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "tamper: a forged insert with the chain recomputed is caught by the head");
	db = chain(&t, "t-rewrite.db", N_TAMPER, p);
	if (db) {
		sqlite3_stmt *s, *u;
		uint8_t prev[DB_HASH_LEN], hh[DB_HASH_LEN];

		h = db_handle(db);
		for (int id = N_TAMPER; id >= 5; id--)
			xsql(&t, h, "UPDATE events SET id = id + 1 WHERE id = %d", id);
		xsql(&t, h,
		     "INSERT INTO events(id, kind, ts, first_ts, count, verdict, hash)"
		     " VALUES(5, 'attempt', 1, 1, 1, 'allow', zeroblob(32))");
		/* recompute every hash from row 5 on, as a forger would */
		memset(prev, 0, sizeof(prev));
		if (sqlite3_prepare_v2(h, "SELECT " DB_LOG_COLUMNS " FROM log ORDER BY id", -1, &s,
				       NULL) == SQLITE_OK &&
		    sqlite3_prepare_v2(h, "UPDATE events SET hash = ? WHERE id = ?", -1, &u,
				       NULL) == SQLITE_OK) {
			xsql(&t, h, "BEGIN");
			while (sqlite3_step(s) == SQLITE_ROW) {
				db_row_hash_stmt(s, prev, hh);
				sqlite3_bind_blob(u, 1, hh, DB_HASH_LEN, SQLITE_TRANSIENT);
				sqlite3_bind_int64(u, 2, sqlite3_column_int64(s, DB_C_ID));
				CHECK(&t, sqlite3_step(u) == SQLITE_DONE, "update hash");
				sqlite3_reset(u);
				memcpy(prev, hh, DB_HASH_LEN);
			}
			xsql(&t, h, "COMMIT");
			sqlite3_finalize(u);
		}
		sqlite3_finalize(s);
		/* the head file still names row 12 and its old hash */
		snprintf(want, sizeof(want), "row %d: does not match the chain head", N_TAMPER);
		verify_tampered(&t, db, want, NULL);
		/* without the head file the forgery cannot be seen */
		{
			char hp[PATH_MAX + 8];

			snprintf(hp, sizeof(hp), "%s.head", p);
			unlink(hp);
		}
		{
			char msg[1024];
			uint64_t rows;
			int r = verify(db, &rows, msg, sizeof(msg));

			CHECK(&t, r == 0 && strstr(msg, "no chain head file"),
			      "without a head: %d: %s", r, msg);
		}
		db_close(db);
	}
	tc_end(&t);

	static const struct {
		const char *name, *sql, *want;
	} dims[] = {
	    /* rows use exes[i % 3]: wget first at row 2; cgroups at odd rows,
	     * /docker/abc first at row 1, app.service at row 3; rules by parity */
	    {"exe", "UPDATE procs SET exe = '/tmp/evil' WHERE exe = '/usr/bin/wget'", "row 2"},
	    {"cmdline", "UPDATE procs SET cmdline = '[]' WHERE exe = '/opt/app/bin/server'",
	     "row 3"},
	    {"cgroup container", "UPDATE cgroups SET container = NULL WHERE path = '/docker/abc'",
	     "row 1"},
	    {"cgroup unit", "UPDATE cgroups SET unit = 'x.service' WHERE unit = 'app.service'",
	     "row 3"},
	    {"rule text", "UPDATE rules SET text = 'allow all' WHERE text = 'deny 10.0.0.0/8'",
	     "row 2"},
	};
	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
		char name[64];

		tc_begin(&t, "tamper: dimension edited (%s)", dims[i].name);
		snprintf(name, sizeof(name), "t-dim%zu.db", i);
		db = chain(&t, name, N_TAMPER, p);
		if (db) {
			h = db_handle(db);
			xsql(&t, h, "%s", dims[i].sql);
			CHECK(&t, sqlite3_changes(h) == 1, "no dimension row changed");
			verify_tampered(&t, db, dims[i].want, NULL);
			db_close(db);
		}
		tc_end(&t);
	}

	tc_begin(&t, "tamper: tail truncated (head file names the old last row)");
	db = chain(&t, "t-tail.db", N_TAMPER, p);
	if (db) {
		xsql(&t, db_handle(db), "DELETE FROM events WHERE id > %d", N_TAMPER - 3);
		snprintf(want, sizeof(want), "names row %d", N_TAMPER);
		verify_tampered(&t, db, "tail truncated", want);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "tamper: every row deleted (head file names the old last row)");
	db = chain(&t, "t-all.db", N_TAMPER, p);
	if (db) {
		xsql(&t, db_handle(db), "DELETE FROM events");
		verify_tampered(&t, db, "tail truncated", NULL);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "explicit head: matching passes, mismatching or beyond the end reported");
	db = chain(&t, "t-head.db", N_TAMPER, p);
	if (db) {
		uint8_t h5[DB_HASH_LEN] = {0}, bad[DB_HASH_LEN];
		char msg[1024];
		uint64_t rows;
		sqlite3_stmt *s;
		int r;

		h = db_handle(db);
		if (sqlite3_prepare_v2(h, "SELECT hash FROM events WHERE id = 5", -1, &s, NULL) ==
			SQLITE_OK &&
		    sqlite3_step(s) == SQLITE_ROW)
			memcpy(h5, sqlite3_column_blob(s, 0), DB_HASH_LEN);
		sqlite3_finalize(s);
		r = db_verify(db, 5, h5, &rows, msg, sizeof(msg));
		CHECK(&t, r == 0 && rows == N_TAMPER && strstr(msg, "intact"), "matching: %d: %s",
		      r, msg);
		memcpy(bad, h5, DB_HASH_LEN);
		bad[7] ^= 1;
		r = db_verify(db, 5, bad, &rows, msg, sizeof(msg));
		CHECK(&t, r == 1 && strstr(msg, "row 5: does not match the chain head"),
		      "mismatching: %d: %s", r, msg);
		r = db_verify(db, N_TAMPER + 10, h5, &rows, msg, sizeof(msg));
		CHECK(&t, r == 1 && strstr(msg, "tail truncated") && strstr(msg, "names row 22"),
		      "beyond the end: %d: %s", r, msg);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "tamper: chain start moved without a prune record");
	db = chain(&t, "t-anchor.db", N_TAMPER, p);
	if (db) {
		h = db_handle(db);
		/* what a prune would leave, minus its note */
		xsql(&t, h,
		     "INSERT INTO meta VALUES('anchor_id', 4),"
		     " ('anchor_hash', (SELECT hash FROM events WHERE id = 3));"
		     "DELETE FROM events WHERE id < 4");
		verify_tampered(&t, db, "rows before 4 deleted", "without a prune record");
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "tamper: chain start moved to a row a different prune note names");
	db = chain(&t, "t-anchor2.db", N_TAMPER, p);
	if (db) {
		uint64_t removed = 0;
		char err[256] = "";

		h = db_handle(db);
		CHECK(&t,
		      db_prune(db, real_ns() - 3600000000000LL + 3500000000LL, 0, &removed, err,
			       sizeof(err)) == 0 &&
			  removed == 4,
		      "prune removed %llu: %s", (unsigned long long)removed, err);
		verify_intact(&t, db, N_TAMPER - 4 + 1);
		xsql(&t, h,
		     "UPDATE meta SET value = 7 WHERE key = 'anchor_id';"
		     "UPDATE meta SET value = (SELECT hash FROM events WHERE id = 6)"
		     " WHERE key = 'anchor_hash';"
		     "DELETE FROM events WHERE id < 7");
		verify_tampered(&t, db, "rows before 7 deleted", NULL);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "tamper: a TAMPER: note recorded by hushd is reported");
	db = chain(&t, "t-note.db", N_TAMPER, p);
	if (db) {
		struct db_row n = {.kind = "note",
				   .ts = real_ns(),
				   .first_ts = real_ns(),
				   .flags = -1,
				   .note = "TAMPER: kernel counters went backwards"};

		append(&t, db, &n, 1);
		snprintf(want, sizeof(want), "row %d", N_TAMPER + 1);
		verify_tampered(&t, db, want, "kernel counters went backwards");
		db_close(db);
	}
	tc_end(&t);
}

/* ---- schema 3: DNS query rows and qtype ---- */

/* All stored hashes, in order, as one hex string (into buf). */
static const char *all_hashes(sqlite3 *h, char *buf, size_t len)
{
	return qtext(
	    h, "SELECT group_concat(hex(hash), ' ') FROM (SELECT hash FROM events ORDER BY id)",
	    buf, len);
}

/* Recompute the chain with db_row_hash_stmt: how many rows differ (-1: error). */
static int rehash_mismatches(sqlite3 *h)
{
	uint8_t prev[DB_HASH_LEN] = {0}, hh[DB_HASH_LEN];
	sqlite3_stmt *s;
	int bad = 0;

	if (sqlite3_prepare_v2(h, "SELECT " DB_LOG_COLUMNS " FROM log ORDER BY id", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW) {
		db_row_hash_stmt(s, prev, hh);
		if (sqlite3_column_bytes(s, DB_C_HASH) != DB_HASH_LEN ||
		    memcmp(hh, sqlite3_column_blob(s, DB_C_HASH), DB_HASH_LEN))
			bad++;
		memcpy(prev, hh, DB_HASH_LEN);
	}
	sqlite3_finalize(s);
	return bad;
}

static void test_qtype(void)
{
	struct tc t;
	char p[PATH_MAX], fresh[PATH_MAX], err[512], before[4096], after[4096], a[1024], b[1024];
	int64_t ts0 = real_ns() - 600000000000LL;
	struct db *db, *fdb;
	int r;

	tc_begin(&t, "rows without a qtype hash exactly as schema 2 wrote them");
	db = chain(&t, "golden.db", 0, p);
	if (db) {
		/* Hashes by the schema 2 code (hush before the DNS proxy). */
		static const char *const want[] = {
		    "3F585CD11727252B2BCE09527FB053C3710CF38119564A506CEFAB8CAADC2975",
		    "C1DB4B3FD4ACE9896988DE400D3A335B064C1858EEF995D2C5D7EF43337E1D24"};
		struct db_row g[2] = {{0}};

		g[0].kind = "attempt";
		g[0].ts = 1700000000000000000LL;
		g[0].first_ts = g[0].ts - 5;
		g[0].count = 3;
		g[0].hook = "connect4";
		g[0].verdict = "deny";
		g[0].rule_scope = "/";
		g[0].rule_text = "default deny";
		g[0].family = 4;
		g[0].proto = "udp";
		g[0].daddr = "198.18.0.53";
		ipv4_key(g[0].dkey, 198, 18, 0, 53);
		g[0].has_dest = true;
		g[0].dport = 53;
		g[0].qname = "example.com";
		g[0].flags = 0;
		g[0].has_proc_ids = true;
		g[0].pid = g[0].tgid = 7;
		g[0].uid = g[0].gid = 1000;
		g[0].comm = "dig";
		g[0].exe = "/usr/bin/dig";
		g[0].cmdline = "[\"dig\",\"example.com\"]";
		g[0].has_cgroup = true;
		g[0].cgid = 42;
		g[0].cgroup_path = "/user.slice";
		g[0].unit = "user.slice";
		g[1].kind = "note";
		g[1].ts = g[1].first_ts = 1700000000000000001LL;
		g[1].flags = -1;
		g[1].note = "hushd started";
		if (append(&t, db, g, 2)) {
			for (int id = 1; id <= 2; id++) {
				char sql[64];

				snprintf(sql, sizeof(sql),
					 "SELECT hex(hash) FROM events WHERE id = %d", id);
				qtext(db_handle(db), sql, a, sizeof(a));
				CHECK(&t, strcmp(a, want[id - 1]) == 0, "row %d hash %s, want %s",
				      id, a, want[id - 1]);
			}
		}
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "a version 2 database with rows migrates to 3 and verifies intact");
	db = chain(&t, "v2.db", 6, p);
	if (db) {
		struct db_row n = {.kind = "note",
				   .ts = ts0,
				   .first_ts = ts0,
				   .flags = -1,
				   .note = "policy applied"};

		append(&t, db, &n, 1);
		all_hashes(db_handle(db), before, sizeof(before));
		db_close(db);
		db = NULL;
		downgrade(&t, p, 2);
		err[0] = 0;
		r = db_open(p, DB_RDONLY, &db, err, sizeof(err));
		CHECK(&t, r < 0 && !db && strstr(err, "version 2") && strstr(err, "migrat"),
		      "read-only open of v2: r %d: %s", r, err);
		db = open_rw(&t, p);
	}
	fdb = chain(&t, "v3-fresh.db", 0, fresh);
	if (db && fdb) {
		sqlite3 *h = db_handle(db), *fh = db_handle(fdb);
		sqlite3_stmt *s;
		struct db_row d[3];

		CHECK(&t, qint(h, "PRAGMA user_version") == DB_SCHEMA_VERSION, "user_version %lld",
		      (long long)qint(h, "PRAGMA user_version"));
		CHECK(&t, strcmp(all_hashes(h, after, sizeof(after)), before) == 0,
		      "stored hashes changed by the migration");
		CHECK(&t, qint(h, "SELECT count(*) FROM events WHERE qtype IS NOT NULL") == 0,
		      "old rows got a qtype");
		verify_intact(&t, db, 7);
		/* a migrated database has the same schema as a new one */
		CHECK(&t,
		      strcmp(qtext(h,
				   "SELECT group_concat(name || ' ' || type, ',') FROM "
				   "pragma_table_info('events')",
				   a, sizeof(a)),
			     qtext(fh,
				   "SELECT group_concat(name || ' ' || type, ',') FROM "
				   "pragma_table_info('events')",
				   b, sizeof(b))) == 0,
		      "events columns: migrated [%s], new [%s]", a, b);
		CHECK(&t,
		      strcmp(qtext(h, "SELECT sql FROM sqlite_master WHERE name = 'log'", a,
				   sizeof(a)),
			     qtext(fh, "SELECT sql FROM sqlite_master WHERE name = 'log'", b,
				   sizeof(b))) == 0,
		      "view log: migrated [%s], new [%s]", a, b);
		CHECK(&t,
		      qint(h, "SELECT count(*) FROM sqlite_master WHERE type = 'index'") ==
			  qint(fh, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"),
		      "indexes differ");
		if (CHECK(&t, sqlite3_prepare_v2(h, "SELECT * FROM log", -1, &s, NULL) == SQLITE_OK,
			  "prepare")) {
			CHECK(&t,
			      sqlite3_column_count(s) == DB_C_MAX &&
				  strcmp(sqlite3_column_name(s, DB_C_QTYPE), "qtype") == 0,
			      "log: %d columns, last %s", sqlite3_column_count(s),
			      sqlite3_column_name(s, sqlite3_column_count(s) - 1));
			sqlite3_finalize(s);
		}
		/* new rows after the migration: DNS queries and an attempt */
		d[0] = dns_row(ts0 + 1, "example.com", "AAAA", NULL);
		d[1] = dns_row(ts0 + 2, NULL, NULL, "malformed query: FORMERR");
		d[2] = attempt(3, ts0 + 3);
		d[2].qname = "example.com";
		append(&t, db, d, 3);
		verify_intact(&t, db, 10);
		CHECK(&t, rehash_mismatches(h) == 0, "db_row_hash_stmt disagrees with the chain");
		s = log_row(h, 8);
		if (CHECK(&t, s, "row 8")) {
			CHECK(&t,
			      col_text(s, DB_C_HOOK, "dns") &&
				  col_text(s, DB_C_QNAME, "example.com") &&
				  col_text(s, DB_C_QTYPE, "AAAA") && col_null(s, DB_C_NOTE) &&
				  col_int(s, DB_C_DPORT, 53),
			      "DNS row read back wrong");
			sqlite3_finalize(s);
		}
		s = log_row(h, 9);
		if (CHECK(&t, s, "row 9")) {
			CHECK(&t,
			      col_null(s, DB_C_QNAME) && col_null(s, DB_C_QTYPE) &&
				  col_text(s, DB_C_NOTE, "malformed query: FORMERR"),
			      "malformed query row read back wrong");
			sqlite3_finalize(s);
		}
		/* and it reopens as version 3 with nothing to do */
		db_close(db);
		db = open_ro(&t, p);
		if (db)
			verify_intact(&t, db, 10);
	}
	db_close(db);
	db_close(fdb);
	tc_end(&t);

	tc_begin(&t, "a version 2 file that already has the column migrates too");
	db = chain(&t, "v2-col.db", 3, p);
	if (db) {
		sqlite3 *h;

		db_close(db);
		db = NULL;
		if (CHECK(&t, sqlite3_open(p, &h) == SQLITE_OK, "sqlite3_open")) {
			xsql(&t, h, "PRAGMA user_version = 2");
			sqlite3_close(h);
		}
		db = open_rw(&t, p);
		if (db) {
			CHECK(&t, qint(db_handle(db), "PRAGMA user_version") == DB_SCHEMA_VERSION,
			      "user_version");
			verify_intact(&t, db, 3);
		}
		db_close(db);
	}
	tc_end(&t);

	static const struct {
		const char *name, *sql, *want;
	} ed[] = {
	    {"a qtype edited", "UPDATE events SET qtype = 'A' WHERE id = 5", "row 5: edited"},
	    {"a qtype removed", "UPDATE events SET qtype = NULL WHERE id = 6", "row 6: edited"},
	    {"a qtype emptied", "UPDATE events SET qtype = '' WHERE id = 5", "row 5: edited"},
	    {"a qtype added to an attempt", "UPDATE events SET qtype = 'A' WHERE id = 2",
	     "row 2: edited"},
	    {"a qtype added to a malformed query", "UPDATE events SET qtype = 'ANY' WHERE id = 7",
	     "row 7: edited"},
	    {"a DNS name edited", "UPDATE events SET qname = 'example.org' WHERE id = 6",
	     "row 6: edited"},
	};
	for (size_t i = 0; i < sizeof(ed) / sizeof(ed[0]); i++) {
		char name[64];

		tc_begin(&t, "tamper: %s", ed[i].name);
		snprintf(name, sizeof(name), "t-qtype%zu.db", i);
		db = chain(&t, name, 4, p);
		if (db) {
			struct db_row d[4] = {
			    dns_row(ts0 + 1, "example.com", "AAAA", NULL),
			    dns_row(ts0 + 2, "example.com", "TYPE65", NULL),
			    dns_row(ts0 + 3, NULL, NULL, "malformed query: FORMERR"),
			    attempt(9, ts0 + 4),
			};

			append(&t, db, d, 4);
			verify_intact(&t, db, 8);
			xsql(&t, db_handle(db), "%s", ed[i].sql);
			CHECK(&t, sqlite3_changes(db_handle(db)) == 1, "no row changed");
			verify_tampered(&t, db, ed[i].want, NULL);
			db_close(db);
		}
		tc_end(&t);
	}
}

/* Schema 4: the container engines' names on cgroup rows. */
static void test_container_names(void)
{
	static const struct {
		const char *name, *sql, *want;
	} ed[] = {
	    {"a container name edited", "UPDATE cgroups SET cname = 'other' WHERE cname = 'web-a'",
	     "row 1: edited"},
	    {"a container name removed", "UPDATE cgroups SET cname = '' WHERE cname = 'web-a'",
	     "row 1: edited"},
	    {"an image added to a row without names",
	     "UPDATE cgroups SET image = 'evil' WHERE cname = ''", "row 3: edited"},
	    {"a pod namespace edited", "UPDATE cgroups SET pod_ns = 'x' WHERE pod_ns = 'llm'",
	     "row 2: edited"},
	};
	int64_t ts0 = real_ns() - 600000000000LL;
	char p[PATH_MAX];
	struct tc t;
	struct db *db;

	for (size_t i = 0; i < sizeof(ed) / sizeof(ed[0]) + 1; i++) {
		bool intact = i == sizeof(ed) / sizeof(ed[0]);
		char name[64];

		tc_begin(&t, "container names: %s",
			 intact ? "rows verify, one cgroup row per naming" : ed[i].name);
		snprintf(name, sizeof(name), "t-cname%zu.db", i);
		db = chain(&t, name, 0, p);
		if (db) {
			struct db_row d[3] = {attempt(0, ts0 + 1), attempt(0, ts0 + 2),
					      attempt(0, ts0 + 3)};

			d[0].cname = "web-a";
			d[0].image = "bb";
			d[0].image_id = "sha256:00";
			d[1].cname = "server";
			d[1].pod_ns = "llm";
			d[1].pod_name = "vllm-0";
			append(&t, db, d, 3);
			verify_intact(&t, db, 3);
			if (intact) {
				CHECK(
				    &t, qint(db_handle(db), "SELECT count(*) FROM cgroups") == 3,
				    "cgroup rows %lld",
				    (long long)qint(db_handle(db), "SELECT count(*) FROM cgroups"));
				CHECK(&t,
				      qint(db_handle(db),
					   "SELECT count(*) FROM log WHERE cname IS NULL") == 1,
				      "unnamed rows read as NULL");
			} else {
				xsql(&t, db_handle(db), "%s", ed[i].sql);
				CHECK(&t, sqlite3_changes(db_handle(db)) == 1, "no row changed");
				verify_tampered(&t, db, ed[i].want, NULL);
			}
			db_close(db);
		}
		tc_end(&t);
	}
}

/* ---- pruning ---- */

static void test_prune_age(void)
{
	struct tc t;
	char p[PATH_MAX], err[512], buf[512];
	struct db *db;
	int64_t base = real_ns() - 86400LL * 1000000000LL, aid = 0;
	uint64_t removed = 99;
	struct db_stats s;

	tc_begin(&t, "prune by age removes the old prefix and records it");
	db = chain(&t, "prune-age.db", 0, p);
	if (db && append_attempts(&t, db, 0, 20, base)) {
		sqlite3 *h = db_handle(db);

		db_stats(db, &s);
		uint64_t attempts = s.attempts;

		/* nothing older than the first row */
		err[0] = 0;
		CHECK(&t,
		      db_prune(db, base - 1, 0, &removed, err, sizeof(err)) == 0 && removed == 0,
		      "no-op prune removed %llu: %s", (unsigned long long)removed, err);
		CHECK(&t, nrows(db) == 20, "no-op prune added a row");
		/* rows 1..10 are older than base + 10 s */
		CHECK(&t,
		      db_prune(db, base + 10LL * 1000000000LL, 0, &removed, err, sizeof(err)) ==
			      0 &&
			  removed == 10,
		      "removed %llu: %s", (unsigned long long)removed, err);
		CHECK(&t,
		      qint(h, "SELECT min(id) FROM events") == 11 &&
			  qint(h, "SELECT max(id) FROM events") == 21,
		      "ids left %lld..%lld", (long long)qint(h, "SELECT min(id) FROM events"),
		      (long long)qint(h, "SELECT max(id) FROM events"));
		qtext(h, "SELECT kind || ' ' || note FROM events WHERE id = 21", buf, sizeof(buf));
		CHECK(&t,
		      strstr(buf, "note prune: removed rows 1..10") &&
			  strstr(buf, "chain now starts at row 11"),
		      "note: %s", buf);
		CHECK(&t, db_meta_get_int(db, "anchor_id", &aid) == 0 && aid == 11,
		      "anchor_id %lld", (long long)aid);
		db_stats(db, &s);
		CHECK(&t, s.rows == 11 && s.last_id == 21 && s.oldest_ts == base + 10000000000LL,
		      "stats rows %llu last %llu oldest %lld", (unsigned long long)s.rows,
		      (unsigned long long)s.last_id, (long long)s.oldest_ts);
		CHECK(&t, s.attempts == attempts, "totals changed by prune: %llu -> %llu",
		      (unsigned long long)attempts, (unsigned long long)s.attempts);
		verify_intact(&t, db, 11);
		/* appending continues the chain */
		append_attempts(&t, db, 20, 3, base + 30LL * 1000000000LL);
		verify_intact(&t, db, 14);
		/* everything is older: all but the last row go */
		CHECK(&t,
		      db_prune(db, real_ns() + 3600000000000LL, 0, &removed, err, sizeof(err)) == 0,
		      "%s", err);
		CHECK(&t, removed == 13, "removed %llu", (unsigned long long)removed);
		CHECK(
		    &t,
		    qint(h, "SELECT count(*) FROM events") == 2 &&
			qint(h, "SELECT count(*) FROM events WHERE id = 24 AND kind = 'attempt'") ==
			    1,
		    "last row not kept");
		verify_intact(&t, db, 2);
		/* and once more: only the previous prune note and the last row */
		CHECK(&t,
		      db_prune(db, real_ns() + 3600000000000LL, 0, &removed, err, sizeof(err)) ==
			      0 &&
			  removed == 1,
		      "third prune removed %llu: %s", (unsigned long long)removed, err);
		verify_intact(&t, db, 2);
		append_attempts(&t, db, 30, 2, real_ns());
		verify_intact(&t, db, 4);
		db_close(db);
		/* a fresh handle verifies too (anchor and head from the files) */
		db = open_ro(&t, p);
		if (db)
			verify_intact(&t, db, 4);
	}
	db_close(db);
	tc_end(&t);
}

static void test_prune_size(void)
{
	struct tc t;
	char p[PATH_MAX], err[512];
	struct db *db;
	struct db_row *rows = calloc(500, sizeof(*rows));
	char(*q)[200] = calloc(500, sizeof(*q));
	uint64_t removed = 0;
	int64_t last;
	struct db_stats s;

	if (!rows || !q)
		abort();
	tc_begin(&t, "prune by size brings the database under the limit");
	db = chain(&t, "prune-size.db", 0, p);
	if (db) {
		sqlite3 *h = db_handle(db);
		int64_t ts = real_ns() - 3600000000000LL;

		for (int b = 0; used_bytes(h) < 3 << 20 && b < 100; b++) {
			for (int k = 0; k < 500; k++) {
				rows[k] = attempt(b * 500 + k, ts++);
				snprintf(q[k], sizeof(q[k]), "host-%d-%d.%0150d.example.com", b, k,
					 0);
				rows[k].qname = q[k];
			}
			if (!append(&t, db, rows, 500))
				break;
		}
		last = qint(h, "SELECT max(id) FROM events");
		CHECK(&t, used_bytes(h) >= 3 << 20, "could not fill: %lld bytes",
		      (long long)used_bytes(h));
		err[0] = 0;
		CHECK(&t, db_prune(db, 0, 1 << 20, &removed, err, sizeof(err)) == 0, "prune: %s",
		      err);
		CHECK(&t, removed > 0 && removed < (uint64_t)last, "removed %llu of %lld",
		      (unsigned long long)removed, (long long)last);
		CHECK(&t, used_bytes(h) <= 1 << 20, "used %lld bytes after prune",
		      (long long)used_bytes(h));
		CHECK(&t,
		      qint(h, "SELECT count(*) FROM events WHERE id = %lld", (long long)last) == 1,
		      "last row removed");
		CHECK(&t,
		      qint(h, "SELECT count(*) FROM events WHERE kind = 'note' AND note LIKE "
			      "'prune: %% (database over 1048576 bytes)%%'") >= 1,
		      "no prune note");
		db_stats(db, &s);
		CHECK(&t, s.file_bytes <= (1 << 20) + (256 << 10),
		      "file (with WAL) still %lld bytes after prune to 1 MiB",
		      (long long)s.file_bytes);
		verify_intact(&t, db, s.rows);
		/* a second, tighter prune */
		CHECK(&t,
		      db_prune(db, 0, 512 << 10, &removed, err, sizeof(err)) == 0 && removed > 0,
		      "second prune removed %llu: %s", (unsigned long long)removed, err);
		CHECK(&t, used_bytes(h) <= 512 << 10, "used %lld bytes after second prune",
		      (long long)used_bytes(h));
		verify_intact(&t, db, nrows(db));
		append_attempts(&t, db, 0, 5, real_ns());
		verify_intact(&t, db, nrows(db));
		/* under the limit: nothing to do */
		CHECK(&t,
		      db_prune(db, 0, 64 << 20, &removed, err, sizeof(err)) == 0 && removed == 0,
		      "prune under the limit removed %llu", (unsigned long long)removed);
		db_close(db);
	}
	free(rows);
	free(q);
	tc_end(&t);
}

/* ---- write failures ---- */

static void test_readonly(void)
{
	struct tc t;
	char p[PATH_MAX], err[512];
	struct db *db, *ro;
	uint64_t removed = 5;

	tc_begin(&t, "a read-only handle refuses writes with a message");
	db = chain(&t, "ro.db", 4, p);
	ro = open_ro(&t, p);
	if (db && ro) {
		struct db_row r = attempt(0, 1);
		struct db_mark m = {.seq = 1, .max_seen = 1};
		int rc;

		err[0] = 0;
		rc = db_append(ro, &r, 1, &m, 1, err, sizeof(err));
		CHECK(&t, rc < 0 && strstr(err, "read-only") && strstr(err, p), "append %d: %s", rc,
		      err);
		err[0] = 0;
		rc = db_prune(ro, real_ns(), 0, &removed, err, sizeof(err));
		CHECK(&t, rc < 0 && removed == 0 && strstr(err, "read-only"), "prune %d: %s", rc,
		      err);
		CHECK(&t, db_marks_reset(ro) < 0, "marks reset on a read-only handle");
		CHECK(&t, db_meta_set_int(ro, "x", 1) < 0, "meta set on a read-only handle");
		CHECK(&t, nrows(ro) == 4, "rows %llu", (unsigned long long)nrows(ro));
		verify_intact(&t, ro, 4);
	}
	db_close(ro);
	db_close(db);
	tc_end(&t);
}

static void test_disk_full(void)
{
	struct tc t;
	char p[PATH_MAX], err[512];
	struct db *db;
	struct db_row *rows = calloc(300, sizeof(*rows));
	static char note[1000];

	if (!rows)
		abort();
	memset(note, 'n', sizeof(note) - 1);
	tc_begin(&t, "a full database fails the append whole and recovers");
	db = chain(&t, "full-disk.db", 10, p);
	if (db) {
		sqlite3 *h = db_handle(db);
		int64_t pc = qint(h, "PRAGMA page_count");
		int64_t procs = qint(h, "SELECT count(*) FROM procs");
		struct db_mark m = {.cpu = 3, .hook = 1, .verdict = 1, .seq = 99, .max_seen = 100};
		struct db_mark *got = NULL;
		size_t nm = 9;
		int64_t att0 = 0, att1 = 0;
		int rc;

		db_meta_get_int(db, "attempts", &att0);
		for (int k = 0; k < 300; k++) {
			rows[k] = attempt(k, real_ns());
			rows[k].note = note;
			rows[k].exe = "/usr/bin/brand-new"; /* a new procs row, rolled back */
			rows[k].cmdline = "[\"brand-new\"]";
		}
		CHECK(&t, qint(h, "PRAGMA max_page_count = %lld", (long long)pc) == pc,
		      "max_page_count");
		err[0] = 0;
		rc = db_append(db, rows, 300, &m, 1, err, sizeof(err));
		CHECK(&t, rc < 0 && strstr(err, "full") && strstr(err, p), "append %d: %s", rc,
		      err);
		CHECK(&t, nrows(db) == 10, "rows %llu after failed append",
		      (unsigned long long)nrows(db));
		CHECK(&t, qint(h, "SELECT count(*) FROM procs") == procs, "procs row kept");
		CHECK(&t, db_marks(db, &got, &nm) == 0 && nm == 0, "marks kept: %zu", nm);
		free(got);
		CHECK(&t, db_meta_get_int(db, "attempts", &att1) == 0 && att1 == att0,
		      "totals changed %lld -> %lld", (long long)att0, (long long)att1);
		verify_intact(&t, db, 10);
		/* space again: the same batch goes in and the chain goes on */
		qint(h, "PRAGMA max_page_count = 1000000");
		err[0] = 0;
		rc = db_append(db, rows, 300, &m, 1, err, sizeof(err));
		CHECK(&t, rc == 0, "append after space freed: %d: %s", rc, err);
		CHECK(&t, nrows(db) == 310, "rows %llu", (unsigned long long)nrows(db));
		CHECK(&t, qint(h, "SELECT count(*) FROM procs") == procs + 1, "procs %lld",
		      (long long)qint(h, "SELECT count(*) FROM procs"));
		CHECK(&t,
		      db_marks(db, &got, &nm) == 0 && nm == 1 && got[0].seq == 99 &&
			  got[0].max_seen == 100,
		      "marks");
		free(got);
		verify_intact(&t, db, 310);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "a prune that fails midway rolls back whole");
	db = chain(&t, "fail-prune.db", 30, p);
	if (db) {
		sqlite3 *h = db_handle(db);
		uint64_t removed = 7;
		int64_t aid = 0;
		int rc;

		/* the prune note cannot be written: its delete must not stay */
		xsql(&t, h,
		     "CREATE TRIGGER no_notes BEFORE INSERT ON events WHEN new.kind = 'note'"
		     " BEGIN SELECT RAISE(ABORT, 'notes refused'); END");
		err[0] = 0;
		rc = db_prune(db, real_ns() + 3600000000000LL, 0, &removed, err, sizeof(err));
		CHECK(&t, rc < 0 && removed == 0 && strstr(err, "notes refused"), "prune %d: %s",
		      rc, err);
		CHECK(&t, nrows(db) == 30 && qint(h, "SELECT min(id) FROM events") == 1,
		      "rows %llu after failed prune", (unsigned long long)nrows(db));
		CHECK(&t, db_meta_get_int(db, "anchor_id", &aid) == -ENOENT, "anchor moved to %lld",
		      (long long)aid);
		verify_intact(&t, db, 30);
		xsql(&t, h, "DROP TRIGGER no_notes");
		append_attempts(&t, db, 30, 3, real_ns());
		rc = db_prune(db, real_ns() + 3600000000000LL, 0, &removed, err, sizeof(err));
		CHECK(&t, rc == 0 && removed == 32, "prune %d removed %llu: %s", rc,
		      (unsigned long long)removed, err);
		verify_intact(&t, db, 2);
		db_close(db);
	}
	tc_end(&t);

	tc_begin(&t, "a database locked by another writer fails with a retry hint");
	db = chain(&t, "locked.db", 3, p);
	if (db) {
		sqlite3 *other = NULL;
		uint64_t removed = 7;
		int rc;

		sqlite3_busy_timeout(db_handle(db), 50);
		if (CHECK(&t, sqlite3_open(p, &other) == SQLITE_OK, "open") &&
		    xsql(&t, other, "BEGIN IMMEDIATE")) {
			err[0] = 0;
			struct db_row r1 = attempt(0, 1);

			rc = db_append(db, &r1, 1, NULL, 0, err, sizeof(err));
			CHECK(&t, rc < 0 && strstr(err, "lock"), "append %d: %s", rc, err);
			err[0] = 0;
			rc = db_prune(db, real_ns(), 0, &removed, err, sizeof(err));
			CHECK(&t, rc < 0 && removed == 0 && strstr(err, "lock"), "prune %d: %s", rc,
			      err);
			xsql(&t, other, "ROLLBACK");
		}
		sqlite3_close(other);
		append_attempts(&t, db, 3, 2, real_ns());
		verify_intact(&t, db, 5);
		db_close(db);
	}
	free(rows);
	tc_end(&t);
}

/* ---- option parsing ---- */

static void test_parse(void)
{
	struct tc t;
	static const struct {
		const char *s;
		int64_t v; /* -1: invalid */
	} dur[] =
	    {
		{"90d", 90LL * 86400 * 1000000000},
		{"12h", 12LL * 3600 * 1000000000},
		{"30m", 30LL * 60 * 1000000000},
		{"30min", 30LL * 60 * 1000000000},
		{"45s", 45LL * 1000000000},
		{"2w", 14LL * 86400 * 1000000000},
		{"1.5h", 5400LL * 1000000000},
		{"500ms", 500LL * 1000000},
		{"0s", 0},
		{"", -1},
		{"x", -1},
		{"-1d", -1},
		{"10y", -1},
		{"10", -1},
		{"5 d", -1},
		{"1dd", -1},
		{"nans", -1},
		{"infd", -1},
		{"1e30d", -1},
		{"100000d", 100000LL * 86400 * 1000000000},
		{"300000w", -1},
	    },
	  size[] = {
	      {"10G", 10LL << 30},
	      {"500M", 500LL << 20},
	      {"64k", 64LL << 10},
	      {"64K", 64LL << 10},
	      {"123", 123},
	      {"1GiB", 1LL << 30},
	      {"2MB", 2LL << 20},
	      {"1T", 1LL << 40},
	      {"1.5k", 1536},
	      {"0", 0},
	      {"10Q", -1},
	      {"-1", -1},
	      {"", -1},
	      {"G", -1},
	      {"10GX", -1},
	      {"10Gb", -1},
	      {"nan", -1},
	      {"nanM", -1},
	      {"inf", -1},
	      {"1e30G", -1},
	  };

	tc_begin(&t, "db_parse_duration");
	for (size_t i = 0; i < sizeof(dur) / sizeof(dur[0]); i++) {
		int64_t v = -12345;
		int r = db_parse_duration(dur[i].s, &v);

		if (dur[i].v < 0)
			CHECK(&t, r == -EINVAL && v == -12345, "\"%s\" accepted: %d, %lld",
			      dur[i].s, r, (long long)v);
		else
			CHECK(&t, r == 0 && v == dur[i].v, "\"%s\": %d, %lld (want %lld)", dur[i].s,
			      r, (long long)v, (long long)dur[i].v);
	}
	CHECK(&t, db_parse_duration(NULL, &(int64_t){0}) == -EINVAL, "NULL accepted");
	tc_end(&t);

	tc_begin(&t, "db_parse_size");
	for (size_t i = 0; i < sizeof(size) / sizeof(size[0]); i++) {
		int64_t v = -12345;
		int r = db_parse_size(size[i].s, &v);

		if (size[i].v < 0)
			CHECK(&t, r == -EINVAL && v == -12345, "\"%s\" accepted: %d, %lld",
			      size[i].s, r, (long long)v);
		else
			CHECK(&t, r == 0 && v == size[i].v, "\"%s\": %d, %lld (want %lld)",
			      size[i].s, r, (long long)v, (long long)size[i].v);
	}
	CHECK(&t, db_parse_size(NULL, &(int64_t){0}) == -EINVAL, "NULL accepted");
	tc_end(&t);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

int main(void)
{
	char tmpl[] = "/tmp/hush-test-db.XXXXXX";

	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	if (!mkdtemp(tmpl)) {
		printf("FAIL: db: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	test_open_create();
	test_open_reopen();
	test_open_errors();
	test_append_minimal();
	test_append_full();
	test_append_defaults();
	test_append_ids_dims();
	test_marks();
	test_meta_stats();
	test_chain_hashes();
	test_two_writers();
	test_verify_during_writes();
	test_tamper();
	test_qtype();
	test_container_names();
	test_prune_age();
	test_prune_size();
	test_readonly();
	test_disk_full();
	test_parse();
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return nfail ? 1 : 0;
}
