/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the audit log database's unit tests share (test_db.c,
 * test_db_tamper.c, test_db_prune.c): a private temporary directory, rows
 * to append, opening, appending and verifying or failing the case, a
 * database taken down to an older schema, reading the log view back.
 */
#ifndef HUSH_TESTS_UNIT_DB_TC_H
#define HUSH_TESTS_UNIT_DB_TC_H

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

static char tmpdir[PATH_MAX]; /* the test directory, made by db_tc_setup() */

/* ---- helpers ---- */

/* A path in the test directory. */
__attribute__((format(printf, 2, 3))) static inline const char *tpath(char *buf, const char *fmt,
								      ...)
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
__attribute__((format(printf, 2, 3))) static inline int64_t qint(sqlite3 *h, const char *fmt, ...)
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
static inline const char *qtext(sqlite3 *h, const char *sql, char *buf, size_t len)
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

static inline void ipv4_key(uint8_t k[16], uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	memset(k, 0, 16);
	k[10] = k[11] = 0xff;
	k[12] = a;
	k[13] = b;
	k[14] = c;
	k[15] = d;
}

__attribute__((unused)) static const char *const exes[] = {"/usr/bin/curl", "/usr/bin/wget",
							   "/opt/app/bin/server"};
__attribute__((unused)) static const char *const cmds[] = {
    "[\"curl\",\"-s\",\"https://example.com/\"]", "[\"wget\",\"-q\",\"http://10.1.2.3/x\"]",
    "[\"server\",\"--port\",\"8080\"]"};

/* A fully populated attempt row, varied by i (row i+1 of a fresh chain
 * uses exes[i % 3]). */
static inline struct db_row attempt(int i, int64_t ts)
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

static inline struct db *open_rw(struct tc *t, const char *path)
{
	char err[512] = "";
	struct db *db = NULL;
	int r = db_open(path, DB_RDWR, &db, err, sizeof(err));

	CHECK(t, r == 0 && db, "db_open(%s, RDWR) = %d: %s", path, r, err);
	return r == 0 ? db : NULL;
}

static inline struct db *open_ro(struct tc *t, const char *path)
{
	char err[512] = "";
	struct db *db = NULL;
	int r = db_open(path, DB_RDONLY, &db, err, sizeof(err));

	CHECK(t, r == 0 && db, "db_open(%s, RDONLY) = %d: %s", path, r, err);
	return r == 0 ? db : NULL;
}

static inline bool append(struct tc *t, struct db *db, const struct db_row *rows, size_t n)
{
	char err[512] = "";
	int r = db_append(db, rows, n, NULL, 0, err, sizeof(err));

	return CHECK(t, r == 0, "db_append(%zu rows) = %d: %s", n, r, err);
}

/* Append n attempt rows (i from i0), ts one second apart from ts0. */
static inline bool append_attempts(struct tc *t, struct db *db, int i0, int n, int64_t ts0)
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
static inline struct db *chain(struct tc *t, const char *name, int n, char *path)
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

static inline int verify(struct db *db, uint64_t *rows, char *msg, size_t len)
{
	*rows = 0;
	msg[0] = 0;
	return db_verify(db, 0, NULL, rows, msg, len);
}

static inline bool verify_intact(struct tc *t, struct db *db, uint64_t want_rows)
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
static inline bool verify_tampered(struct tc *t, struct db *db, const char *n1, const char *n2)
{
	char msg[1024];
	uint64_t rows;
	int r = verify(db, &rows, msg, sizeof(msg));

	return CHECK(t, r == 1 && strstr(msg, n1) && (!n2 || strstr(msg, n2)),
		     "verify = %d (want 1 with \"%s\"%s%s): %s", r, n1, n2 ? " and " : "",
		     n2 ? n2 : "", msg);
}

static inline uint64_t nrows(struct db *db)
{
	struct db_stats s;

	db_stats(db, &s);
	return s.rows;
}

static inline int64_t used_bytes(sqlite3 *h)
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
static inline bool downgrade(struct tc *t, const char *path, int ver)
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
static inline struct db_row dns_row(int64_t ts, const char *qname, const char *qtype,
				    const char *note)
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

/* ---- reading the log view back ---- */

static inline bool col_null(sqlite3_stmt *s, int c)
{
	return sqlite3_column_type(s, c) == SQLITE_NULL;
}

static inline bool col_int(sqlite3_stmt *s, int c, int64_t v)
{
	return sqlite3_column_type(s, c) == SQLITE_INTEGER && sqlite3_column_int64(s, c) == v;
}

static inline bool col_text(sqlite3_stmt *s, int c, const char *v)
{
	return sqlite3_column_type(s, c) == SQLITE_TEXT &&
	       strcmp((const char *)sqlite3_column_text(s, c), v) == 0;
}

static inline sqlite3_stmt *log_row(sqlite3 *h, int64_t id)
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

static inline int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* The test directory (mkdtemp under /tmp): 0, or 1 after saying why. */
static inline int db_tc_setup(void)
{
	char tmpl[] = "/tmp/hush-test-db.XXXXXX";

	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	if (!mkdtemp(tmpl)) {
		printf("FAIL: db: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	return 0;
}

/* Remove the test directory; the exit status. */
static inline int db_tc_end(void)
{
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return nfail ? 1 : 0;
}

#endif
