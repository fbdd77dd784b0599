// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the audit log database: every kind of tampering verify
 * must name, schema 3's DNS query rows and qtype, schema 4's container
 * names.
 *
 * Prints "PASS: name" or "FAIL: name: why" per case; exits 1 if any failed.
 */
#include "tests/unit/db_tc.h"

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

int main(void)
{
	if (db_tc_setup())
		return 1;
	test_tamper();
	test_qtype();
	test_container_names();
	return db_tc_end();
}
