// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Rollups for `hush log top` (see db_rollup.h): written with the rows,
 * rebuilt where a prune removed rows, built once by the migration.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agent/db_int.h"
#include "agent/db_rollup.h"

/* The key expressions are logtop.c's scan columns: keep them the same. */
const struct db_rollup_dim db_rollup_dims[DB_RD_MAX] = {
    [DB_RD_DEST] = {"dest", {"e.dkey", "e.dport", "e.proto"}, "e.daddr"},
    [DB_RD_PROC] = {"proc",
		    {"e.proc", "CASE WHEN e.proc IS NULL THEN e.comm END", "NULL"},
		    "e.comm"},
    [DB_RD_DNS] = {"dns", {"lower(rtrim(e.qname, '.'))", "NULL", "NULL"}, "NULL"},
    [DB_RD_COMM] = {"comm", {"e.comm", "NULL", "NULL"}, "NULL"},
    [DB_RD_UID] = {"uid", {"e.uid", "NULL", "NULL"}, "NULL"},
    [DB_RD_RULE] = {"rule", {"e.rule", "NULL", "NULL"}, "NULL"},
    [DB_RD_CGROUP] = {"cgroup", {"e.cgroup", "NULL", "NULL"}, "NULL"},
};

const int64_t db_rollup_width[DB_ROLLUP_LEVELS] = {60000000000LL, 3600000000000LL,
						   86400000000000LL};

#define ROLLUP_TABLE                                                                               \
	"DROP TABLE IF EXISTS rollup; CREATE TABLE rollup(dim INTEGER NOT NULL, lvl INTEGER NOT "  \
	"NULL,"                                                                                    \
	" bucket INTEGER NOT NULL, verdict TEXT NOT NULL, k TEXT NOT NULL, c1, c2, c3, name,"      \
	" attempts INTEGER NOT NULL, rows INTEGER NOT NULL, first INTEGER NOT NULL,"               \
	" last INTEGER NOT NULL, PRIMARY KEY(dim, lvl, bucket, verdict, k)) WITHOUT ROWID;"        \
	"CREATE INDEX rollup_day_k ON rollup(dim, k, bucket) WHERE lvl = 2;"

#define UPSERT                                                                                     \
	" ON CONFLICT(dim, lvl, bucket, verdict, k) DO UPDATE SET"                                 \
	" attempts = attempts + excluded.attempts, rows = rows + excluded.rows,"                   \
	" first = min(first, excluded.first), last = max(last, excluded.last),"                    \
	" name = CASE WHEN name IS NULL OR excluded.name < name THEN excluded.name ELSE name END"

/* Append to buf at *o; false when it does not fit. */
static bool put(char *buf, size_t len, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool put(char *buf, size_t len, size_t *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*o >= len)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + *o, len - *o, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *o)
		return false;
	*o += (size_t)n;
	return true;
}

/* The rows of dim at level lvl from the attempt rows matching `where`. */
static bool from_events(char *buf, size_t len, size_t *o, int dim, int lvl, const char *where,
			bool upsert)
{
	const struct db_rollup_dim *d = &db_rollup_dims[dim];

	return put(buf, len, o,
		   "INSERT INTO rollup SELECT %d, %d, e.ts / %" PRId64 ", coalesce(e.verdict, ''),"
		   " quote(%s) || ',' || quote(%s) || ',' || quote(%s), %s, %s, %s, min(%s),"
		   " sum(e.count), count(*), min(e.first_ts), max(e.ts) FROM events e"
		   " WHERE e.kind = 'attempt' AND (%s) GROUP BY 3, 4, 5%s;",
		   dim, lvl, db_rollup_width[lvl], d->c[0], d->c[1], d->c[2], d->c[0], d->c[1],
		   d->c[2], d->name, where, upsert ? UPSERT : "");
}

/* The rows of dim at level lvl (>= 1) from those of the level below in `where`. */
static bool from_below(char *buf, size_t len, size_t *o, int dim, int lvl, const char *where)
{
	int64_t f = db_rollup_width[lvl] / db_rollup_width[lvl - 1];

	return put(buf, len, o,
		   "INSERT INTO rollup SELECT dim, %d, bucket / %" PRId64
		   ", verdict, k, c1, c2, c3,"
		   " min(name), sum(attempts), sum(rows), min(first), max(last) FROM rollup"
		   " WHERE dim = %d AND lvl = %d AND (%s) GROUP BY 3, 4, 5;",
		   lvl, f, dim, lvl - 1, where);
}

int db_rollup_build_sql(char *buf, size_t len)
{
	size_t o = 0;

	if (!put(buf, len, &o, "%s", ROLLUP_TABLE))
		return -1;
	for (int d = 0; d < DB_RD_MAX; d++) {
		if (!from_events(buf, len, &o, d, 0, "1", false))
			return -1;
		for (int l = 1; l < DB_ROLLUP_LEVELS; l++)
			if (!from_below(buf, len, &o, d, l, "1"))
				return -1;
	}
	return (int)o;
}

int db_rollup_prepare(struct db *db)
{
	char sql[2048];

	for (int d = 0; d < DB_RD_MAX; d++) {
		for (int l = 0; l < DB_ROLLUP_LEVELS; l++) {
			size_t o = 0;
			int rc;

			if (!from_events(sql, sizeof(sql), &o, d, l, "e.id BETWEEN ?1 AND ?2",
					 true))
				return SQLITE_TOOBIG;
			rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT,
						&db->roll_add[d][l], NULL);
			if (rc != SQLITE_OK)
				return rc;
		}
	}
	return SQLITE_OK;
}

void db_rollup_finalize(struct db *db)
{
	for (int d = 0; d < DB_RD_MAX; d++)
		for (int l = 0; l < DB_ROLLUP_LEVELS; l++) {
			sqlite3_finalize(db->roll_add[d][l]);
			db->roll_add[d][l] = NULL;
		}
}

int db_rollup_add(struct db *db, int64_t lo_id, int64_t hi_id)
{
	if (hi_id < lo_id)
		return SQLITE_OK;
	for (int d = 0; d < DB_RD_MAX; d++) {
		for (int l = 0; l < DB_ROLLUP_LEVELS; l++) {
			sqlite3_stmt *st = db->roll_add[d][l];
			int rc;

			if (!st)
				return SQLITE_MISUSE;
			sqlite3_bind_int64(st, 1, lo_id);
			sqlite3_bind_int64(st, 2, hi_id);
			rc = sqlite3_step(st);
			sqlite3_reset(st);
			if (rc != SQLITE_DONE)
				return rc;
		}
	}
	return SQLITE_OK;
}

/*
 * Every bucket of every level that meets [ts_lo, ts_hi] again from the rows
 * there now: the minutes from the events (on the ts index), the hours from
 * the minutes, the days from the hours.
 */
int db_rollup_rebuild(struct db *db, int64_t ts_lo, int64_t ts_hi)
{
	char sql[4096], where[160];
	int64_t blo[DB_ROLLUP_LEVELS], bhi[DB_ROLLUP_LEVELS];
	int rc;

	if (ts_hi < ts_lo || ts_lo < 0)
		return SQLITE_OK;
	for (int l = 0; l < DB_ROLLUP_LEVELS; l++) {
		blo[l] = ts_lo / db_rollup_width[l];
		bhi[l] = ts_hi / db_rollup_width[l];
	}
	for (int d = 0; d < DB_RD_MAX; d++) {
		size_t o = 0;
		bool ok = true;

		for (int l = 0; l < DB_ROLLUP_LEVELS && ok; l++)
			ok =
			    put(sql, sizeof(sql), &o,
				"DELETE FROM rollup WHERE dim = %d AND lvl = %d AND bucket BETWEEN "
				"%" PRId64 " AND %" PRId64 ";",
				d, l, blo[l], bhi[l]);
		snprintf(where, sizeof(where), "e.ts >= %" PRId64 " AND e.ts < %" PRId64,
			 blo[0] * db_rollup_width[0], (bhi[0] + 1) * db_rollup_width[0]);
		ok = ok && from_events(sql, sizeof(sql), &o, d, 0, where, false);
		for (int l = 1; l < DB_ROLLUP_LEVELS && ok; l++) {
			int64_t f = db_rollup_width[l] / db_rollup_width[l - 1];

			snprintf(where, sizeof(where), "bucket BETWEEN %" PRId64 " AND %" PRId64,
				 blo[l] * f, (bhi[l] + 1) * f - 1);
			ok = from_below(sql, sizeof(sql), &o, d, l, where);
		}
		if (!ok)
			return SQLITE_TOOBIG;
		rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}
