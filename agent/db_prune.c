// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Pruning (a prefix of the chain, recorded in a note row that moves the
 * anchor), the figures `hush status` shows, and the option values of
 * retention (durations, sizes).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/db_int.h"

/* ---- pruning ---- */

int64_t db_file_bytes(const struct db *db)
{
	char p[PATH_MAX + 8];
	struct stat s;
	int64_t t = 0;

	if (stat(db->path, &s) == 0)
		t += s.st_size;
	snprintf(p, sizeof(p), "%s-wal", db->path);
	if (stat(p, &s) == 0)
		t += s.st_size;
	return t;
}

/* Live bytes: pages in use (the file may keep free pages until vacuumed). */
static int64_t used_bytes(struct db *db)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	if (sqlite3_prepare_v2(db->h,
			       "SELECT (SELECT page_count FROM pragma_page_count) -"
			       " (SELECT freelist_count FROM pragma_freelist_count),"
			       " (SELECT page_size FROM pragma_page_size)",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0) * sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	return v;
}

static int64_t q_int(struct db *db, const char *sql, int64_t a, int64_t dflt)
{
	sqlite3_stmt *st;
	int64_t v = dflt;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		return dflt;
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_int64(st, 1, a);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Delete rows below id `upto` (exclusive) and record it in the chain. */
static int prune_below(struct db *db, int64_t upto, const char *why, uint64_t *removed, char *err,
		       size_t errlen)
{
	int64_t first = q_int(db, "SELECT min(id) FROM events", 0, 0), tlo, thi;
	uint8_t ah[DB_HASH_LEN], h[DB_HASH_LEN];
	char hx[2 * DB_HASH_LEN + 1], note[512];
	struct db_row r = {0};
	sqlite3_stmt *st;
	uint64_t last;
	int rc;

	if (!first || upto <= first)
		return 0;
	/* The new anchor: the stored hash of the last row removed. */
	rc = sqlite3_prepare_v2(db->h, "SELECT hash FROM events WHERE id = ?", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, err, errlen, rc, "cannot read");
	sqlite3_bind_int64(st, 1, upto - 1);
	memset(ah, 0, sizeof(ah));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == DB_HASH_LEN)
		memcpy(ah, sqlite3_column_blob(st, 0), DB_HASH_LEN);
	sqlite3_finalize(st);
	/* The time span of the rows removed: its rollup buckets are rebuilt. */
	tlo = q_int(db, "SELECT min(ts) FROM events WHERE id < ?", upto, -1);
	thi = q_int(db, "SELECT max(ts) FROM events WHERE id < ?", upto, -1);
	rc = sqlite3_prepare_v2(db->h, "DELETE FROM events WHERE id < ?", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, err, errlen, rc, "cannot prune");
	sqlite3_bind_int64(st, 1, upto);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, err, errlen, rc, "cannot prune");
	rc = db_rollup_rebuild(db, tlo, thi);
	if (rc != SQLITE_OK)
		return db_sql_err(db, err, errlen, rc, "cannot prune");
	*removed += (uint64_t)(upto - first);
	rc = sqlite3_prepare_v2(db->h,
				"INSERT OR REPLACE INTO meta VALUES('anchor_id', ?),"
				" ('anchor_hash', ?)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, err, errlen, rc, "cannot prune");
	sqlite3_bind_int64(st, 1, upto);
	sqlite3_bind_blob(st, 2, ah, DB_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, err, errlen, rc, "cannot prune");
	db_hex(ah, DB_HASH_LEN, hx);
	snprintf(note, sizeof(note),
		 "prune: removed rows %lld..%lld (%s); chain now starts at row %lld after hash %s",
		 (long long)first, (long long)upto - 1, why, (long long)upto, hx);
	r.kind = "note";
	r.ts = r.first_ts = real_ns();
	r.flags = -1;
	r.note = note;
	rc = db_append_locked(db, &r, 1, &last, h);
	return rc == SQLITE_OK ? 0 : db_sql_err(db, err, errlen, rc, "cannot prune");
}

int db_prune(struct db *db, int64_t cutoff_ns, int64_t max_bytes, uint64_t *removed, char *err,
	     size_t errlen)
{
	int rc;
	char why[128];

	*removed = 0;
	if (db->mode != DB_RDWR)
		return db_fail(err, errlen, -EROFS, "%s is open read-only", db->path);
	rc = sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, err, errlen, rc, "cannot prune");
	if (cutoff_ns > 0) {
		/* A prefix of the chain: everything before the first row at or
		 * after the cutoff. */
		int64_t upto = q_int(db, "SELECT min(id) FROM events WHERE ts >= ?", cutoff_ns,
				     q_int(db, "SELECT max(id) + 1 FROM events", 0, 0));
		time_t t = (time_t)(cutoff_ns / 1000000000LL);
		struct tm tm;
		char tb[64];

		gmtime_r(&t, &tm);
		strftime(tb, sizeof(tb), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(why, sizeof(why), "older than %s", tb);
		/* Keep the last row: the chain head stays verifiable. */
		int64_t maxid = q_int(db, "SELECT max(id) FROM events", 0, 0);

		if (upto > maxid)
			upto = maxid;
		rc = prune_below(db, upto, why, removed, err, errlen);
		if (rc)
			goto fail;
	}
	if (max_bytes > 0) {
		for (int round = 0; round < 32 && used_bytes(db) > max_bytes; round++) {
			int64_t lo = q_int(db, "SELECT min(id) FROM events", 0, 0);
			int64_t hi = q_int(db, "SELECT max(id) FROM events", 0, 0);
			int64_t used = used_bytes(db), cut;

			if (hi - lo < 2)
				break;
			/* Remove the share over the limit plus 10%, at least 1%. */
			cut = (int64_t)((double)(hi - lo) *
					((double)(used - max_bytes) / (double)used + 0.1));
			if (cut < (hi - lo) / 100 + 1)
				cut = (hi - lo) / 100 + 1;
			if (lo + cut > hi)
				cut = hi - lo;
			snprintf(why, sizeof(why), "database over %lld bytes",
				 (long long)max_bytes);
			rc = prune_below(db, lo + cut, why, removed, err, errlen);
			if (rc)
				goto fail;
		}
	}
	rc = sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		rc = db_sql_err(db, err, errlen, rc, "cannot prune");
		goto fail;
	}
	if (*removed) {
		uint64_t id = 0;
		uint8_t h[DB_HASH_LEN];

		sqlite3_exec(db->h, "PRAGMA incremental_vacuum", NULL, NULL, NULL);
		sqlite3_exec(db->h, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
		sqlite3_exec(db->h, "BEGIN", NULL, NULL, NULL);
		if (db_tail(db, &id, h) == SQLITE_OK)
			db_head_write(db, id, h);
		sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	}
	return 0;
fail:
	db_rollback(db);
	*removed = 0;
	return rc;
}

/* ---- figures ---- */

int db_stats(struct db *db, struct db_stats *s)
{
	int64_t lo, hi;

	memset(s, 0, sizeof(*s));
	sqlite3_exec(db->h, "BEGIN", NULL, NULL, NULL);
	lo = q_int(db, "SELECT min(id) FROM events", 0, 0);
	hi = q_int(db, "SELECT max(id) FROM events", 0, 0);
	/* Ids are contiguous (only a prefix is ever pruned). */
	s->rows = hi ? (uint64_t)(hi - lo + 1) : 0;
	s->last_id = (uint64_t)hi;
	s->oldest_ts = q_int(db, "SELECT min(ts) FROM events", 0, 0);
	s->newest_ts = q_int(db, "SELECT max(ts) FROM events", 0, 0);
	s->attempts = (uint64_t)q_int(db, "SELECT value FROM meta WHERE key = 'attempts'", 0, 0);
	s->lost = (uint64_t)q_int(db, "SELECT value FROM meta WHERE key = 'lost'", 0, 0);
	sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	s->file_bytes = db_file_bytes(db);
	return 0;
}

/* ---- option values ---- */

int db_parse_duration(const char *s, int64_t *ns)
{
	char *end;
	double v;
	int64_t unit;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v >= 0)) /* NaN too */
		return -EINVAL;
	if (strcmp(end, "s") == 0)
		unit = 1000000000LL;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		unit = 60LL * 1000000000LL;
	else if (strcmp(end, "h") == 0)
		unit = 3600LL * 1000000000LL;
	else if (strcmp(end, "d") == 0)
		unit = 86400LL * 1000000000LL;
	else if (strcmp(end, "w") == 0)
		unit = 7 * 86400LL * 1000000000LL;
	else if (strcmp(end, "ms") == 0)
		unit = 1000000LL;
	else
		return -EINVAL;
	if (v * (double)unit > 9.2e18)
		return -EINVAL;
	*ns = (int64_t)(v * (double)unit);
	return 0;
}

int db_parse_size(const char *s, int64_t *bytes)
{
	char *end;
	double v;
	int64_t unit = 1;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v >= 0)) /* NaN too */
		return -EINVAL;
	switch (*end) {
	case 0:
		break;
	case 'k':
	case 'K':
		unit = 1LL << 10;
		break;
	case 'm':
	case 'M':
		unit = 1LL << 20;
		break;
	case 'g':
	case 'G':
		unit = 1LL << 30;
		break;
	case 't':
	case 'T':
		unit = 1LL << 40;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] && strcmp(end + 1, "B") != 0 && strcmp(end + 1, "iB") != 0)
		return -EINVAL;
	if (v * (double)unit > 9.2e18)
		return -EINVAL;
	*bytes = (int64_t)(v * (double)unit);
	return 0;
}
