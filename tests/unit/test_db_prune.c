// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the audit log database: pruning by age and by size, write
 * failures (a read-only handle, a full database) and the option parsers.
 *
 * Prints "PASS: name" or "FAIL: name: why" per case; exits 1 if any failed.
 */
#include "tests/unit/db_tc.h"

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

int main(void)
{
	if (db_tc_setup())
		return 1;
	test_prune_age();
	test_prune_size();
	test_readonly();
	test_disk_full();
	test_parse();
	return db_tc_end();
}
