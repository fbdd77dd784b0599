/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Rollups of the attempt rows for `hush log top` (schema step "rollups"):
 *
 *   rollup(dim, lvl, bucket, verdict, k, c1, c2, c3, name,
 *          attempts, rows, first, last)   PRIMARY KEY(dim, lvl, bucket, verdict, k)
 *
 * One row per dimension (what top groups by), level (a minute, an hour, a
 * day), bucket (ts / the level's width), verdict ('' for none) and group key
 * of the dimension: c1..c3 are the event's values top groups by (the same
 * SQL expressions its scan uses, so both give the same key bytes), k their
 * quote()d text (NULLs included, which a primary key cannot hold), name the
 * smallest of the label top shows, and the sums and extremes of the rows.
 *
 * They follow the rows (since schema 9): db_append writes the rows only,
 * and db_rollup_catchup (db.h) adds the rows after meta 'rollup_id' (the
 * id of the last row they hold) in id order, moving rollup_id in the same
 * transaction, so they never hold a row twice or half of one.  hushd's
 * writer catches up whenever no batch waits: a storm's rows reach the disk
 * at the rate without rollups, and the rollups follow when it eases.
 * Readers add the rows after rollup_id from the table (top: in the whole
 * minutes it reads from the rollups; the filters: every row from the
 * oldest ts of those rows on), so answers never lag.  The catch-up sums
 * its rows per group in memory and upserts each group once, in key order
 * (one B-tree write per distinct group and level).  A prune rebuilds the
 * buckets it touched from the rows up to rollup_id in its transaction; the
 * migration builds them from the existing rows.  Only kind 'attempt' is
 * rolled up in top's dimensions (what top counts); the filters' (since 10)
 * hold every row with a value.
 *
 * The day rows are also indexed by key (rollup_day_k): which days hold a
 * value, newest first, so `hush log --comm X` finds a rare value's minutes
 * without walking the log.
 *
 * Adding a dimension: one line in db_rollup_dims (db_rollup.c) and its
 * enum value here; a migration step rebuilds (db_rollup_build_sql).
 */
#ifndef HUSH_AGENT_DB_ROLLUP_H
#define HUSH_AGENT_DB_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

enum db_rdim {
	DB_RD_DEST,   /* dkey, dport, proto; name daddr */
	DB_RD_PROC,   /* proc (comm when none); name comm */
	DB_RD_DNS,    /* the name, lower case, no trailing dot */
	DB_RD_COMM,   /* comm */
	DB_RD_UID,    /* uid */
	DB_RD_RULE,   /* rule id */
	DB_RD_CGROUP, /* cgroup id (container, image, unit) */
	/* Since 10, for the filters alone (top has no such kind): where a
	 * value's rows are, of every kind (gap rows have a hook); rows
	 * without a value (c1 NULL) are not kept. */
	DB_RD_HOOK,  /* hook */
	DB_RD_QTYPE, /* dns: the query type */
	DB_RD_PPID,  /* ppid */
	DB_RD_TGID,  /* tgid (--pid X: tgid X, or a thread X of another: */
	DB_RD_TID,   /* pid where it is not the tgid; one row never has both) */
	DB_RD_MAX
};
/* The dimensions before this one are top's (every row kept). */
#define DB_RD_LOCATE DB_RD_HOOK

struct db_rollup_dim {
	const char *id;	  /* for messages */
	const char *c[3]; /* key expressions on events e ("NULL" if unused) */
	const char *name; /* label expression (min kept), or "NULL" */
};

extern const struct db_rollup_dim db_rollup_dims[DB_RD_MAX];

#define DB_ROLLUP_LEVELS 3
/* Bucket widths in ns: a minute, an hour, a day (each a multiple of the one before). */
extern const int64_t db_rollup_width[DB_ROLLUP_LEVELS];

/* CREATE TABLE rollup plus building it from every existing attempt row
 * (for a migration step); returns the length or -1 if len is too small. */
int db_rollup_build_sql(char *buf, size_t len);
/* The dimensions from DB_RD_LOCATE on, anew from the rows up to meta
 * 'rollup_id' (schema 10's step); the length or -1. */
int db_rollup_locate_sql(char *buf, size_t len);

#endif /* HUSH_AGENT_DB_ROLLUP_H */
