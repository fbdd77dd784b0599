// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the audit log database (agent/db.c) against real SQLite
 * files in a private temporary directory: opening and migrating, appending
 * and reading back through the "log" view, marks, meta and stats, the hash
 * chain with two writers and verify during writes.  Tampering, DNS rows and
 * container names: test_db_tamper.c; pruning, write failures and the option
 * parsers: test_db_prune.c.
 *
 * Prints "PASS: name" or "FAIL: name: why" per case; exits 1 if any failed.
 */
#include "tests/unit/db_tc.h"

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

/* Rows of one cgroup (cgid, path, no names) told apart only by container,
 * runtime, unit or pod, NULL or not: each its own cgroups row. */
static void cg_variants(struct tc *t, struct db *db, int64_t ts)
{
	static const char *const v[][4] = {
	    {NULL, NULL, NULL, NULL},
	    {"c1", "docker", NULL, NULL},
	    {"c2", "docker", NULL, NULL},
	    {"c1", "podman", NULL, NULL},
	    {"c1", "docker", "x.service", NULL},
	    {"c1", "docker", NULL, "pod-1"},
	    {NULL, NULL, "x.service", NULL},
	    {NULL, "docker", NULL, NULL},
	};
	struct db_row r[16];

	for (int i = 0; i < 16; i++) {
		r[i] = attempt(i, ts + i);
		r[i].has_cgroup = true;
		r[i].cgid = 77;
		r[i].cgroup_path = "/kubepods/x";
		r[i].container = v[i % 8][0];
		r[i].runtime = v[i % 8][1];
		r[i].unit = v[i % 8][2];
		r[i].pod = v[i % 8][3];
	}
	append(t, db, r, 16);
}

static void test_cgroup_key(void)
{
	struct tc t;
	char p[PATH_MAX], buf[256];
	struct db *db;

	tc_begin(&t, "a cgroup named again with another container, runtime, unit or pod: rows "
		     "verify, each shows its own");
	db = chain(&t, "cgkey.db", 0, p);
	if (db) {
		sqlite3 *h = db_handle(db);

		cg_variants(&t, db, 1000);
		db_close(db);
		db = open_rw(&t, p); /* empty caches: the select decides */
		if (db) {
			h = db_handle(db);
			cg_variants(&t, db, 2000);
			CHECK(&t, qint(h, "SELECT count(*) FROM cgroups") == 8, "cgroups rows %lld",
			      (long long)qint(h, "SELECT count(*) FROM cgroups"));
			CHECK(&t,
			      qint(h, "SELECT count(*) FROM log WHERE cgid = 77 AND"
				      " (id - 1) %% 8 = 2 AND container = 'c2'") == 4,
			      "rows of c2");
			CHECK(&t,
			      qint(h,
				   "SELECT count(*) FROM log WHERE (id - 1) %% 8 = 0 AND"
				   " container IS NULL AND runtime IS NULL AND unit IS NULL") == 4,
			      "rows with no container");
			CHECK(&t,
			      qint(h, "SELECT count(*) FROM log WHERE (id - 1) %% 8 = 7 AND"
				      " container IS NULL AND runtime = 'docker'") == 4,
			      "a runtime without a container");
			verify_intact(&t, db, 32);
		}
	}
	db_close(db);
	tc_end(&t);

	tc_begin(&t, "version 10 (cgroups keyed without container, runtime, unit, pod) migrates "
		     "to 11, ids kept");
	db = chain(&t, "cgkey10.db", 12, p);
	db_close(db);
	{
		sqlite3 *h;

		/* the table as versions 4 to 10 had it */
		if (CHECK(&t, sqlite3_open(p, &h) == SQLITE_OK, "open %s", p)) {
			xsql(&t, h,
			     "DROP VIEW log; DROP INDEX cgroups_key;"
			     " CREATE TABLE c4 AS SELECT * FROM cgroups; DROP TABLE cgroups;"
			     " CREATE TABLE cgroups(id INTEGER PRIMARY KEY, cgid INTEGER NOT NULL,"
			     " path TEXT NOT NULL, container TEXT, runtime TEXT, unit TEXT, pod "
			     "TEXT,"
			     " cname TEXT NOT NULL DEFAULT '', image TEXT NOT NULL DEFAULT '',"
			     " image_id TEXT NOT NULL DEFAULT '', pod_ns TEXT NOT NULL DEFAULT '',"
			     " pod_name TEXT NOT NULL DEFAULT '',"
			     " UNIQUE(cgid, path, cname, image, image_id, pod_ns, pod_name));"
			     " INSERT INTO cgroups SELECT * FROM c4; DROP TABLE c4;"
			     " PRAGMA user_version = 10;");
			sqlite3_close(h);
		}
	}
	db = open_rw(&t, p);
	if (db) {
		sqlite3 *h = db_handle(db);

		CHECK(&t, qint(h, "PRAGMA user_version") == DB_SCHEMA_VERSION, "version %lld",
		      (long long)qint(h, "PRAGMA user_version"));
		CHECK(&t,
		      qint(h, "SELECT count(*) FROM sqlite_schema WHERE name = 'cgroups_key'") == 1,
		      "no cgroups_key");
		CHECK(&t,
		      !strcmp(qtext(h, "SELECT group_concat(id || ':' || path, ' ') FROM cgroups",
				    buf, sizeof(buf)),
			      "1:/docker/abc 2:/system.slice/app.service"),
		      "cgroups rows: %s", buf);
		verify_intact(&t, db, 12);
		cg_variants(&t, db, 3000);
		verify_intact(&t, db, 28);
	}
	db_close(db);
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
 * a race, hence 200 verifies while it writes (the writer goes on until the
 * parent says so through a pipe, at most 60 s: a loaded machine slows
 * both), with the chain kept short by pruning. */
static void test_verify_during_writes(void)
{
	struct tc t;
	char p[PATH_MAX];
	struct db *db, *ro;
	pid_t pid;
	int bad = 0, runs = 0, status = 0, pfd[2] = {-1, -1};
	char first[1100] = "";

	tc_begin(&t, "verify while another process appends and prunes never reports tampering");
	db = chain(&t, "live.db", 5, p);
	db_close(db);
	if (!CHECK(&t, pipe2(pfd, O_CLOEXEC | O_NONBLOCK) == 0, "pipe: %s", strerror(errno))) {
		tc_end(&t);
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int64_t end = real_ns() + 60000000000LL;
		struct db *w = NULL;
		char err[256], c;
		uint64_t removed;
		int rc = 0;

		close(pfd[1]);
		if (db_open(p, DB_RDWR, &w, err, sizeof(err)))
			_exit(2);
		for (int i = 0; rc == 0 && real_ns() < end && read(pfd[0], &c, 1) < 0; i++) {
			struct db_row r = attempt(i, real_ns());

			rc = db_append(w, &r, 1, NULL, 0, err, sizeof(err));
			if (rc == 0 && i % 50 == 49)
				rc = db_prune(w, real_ns(), 0, &removed, err, sizeof(err));
		}
		db_close(w);
		_exit(rc ? 3 : 0);
	}
	close(pfd[0]);
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
			if (runs == 200)
				(void)!write(pfd[1], "x", 1);
			if (w == pid)
				break;
		}
		CHECK(&t, WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer status %#x",
		      status);
		CHECK(&t, bad == 0, "%d of %d verifies failed, first: %s", bad, runs, first);
		CHECK(&t, runs >= 200, "only %d verifies ran while the writer ran (60 s)", runs);
		verify_intact(&t, ro, nrows(ro));
	} else if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	close(pfd[1]);
	db_close(ro);
	tc_end(&t);
}

int main(void)
{
	if (db_tc_setup())
		return 1;
	test_open_create();
	test_open_reopen();
	test_open_errors();
	test_append_minimal();
	test_append_full();
	test_append_defaults();
	test_append_ids_dims();
	test_cgroup_key();
	test_marks();
	test_meta_stats();
	test_chain_hashes();
	test_two_writers();
	test_verify_during_writes();
	return db_tc_end();
}
