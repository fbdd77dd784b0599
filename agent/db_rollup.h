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
 * Written in the transaction that writes the rows (db_append, prune's note):
 * the writer sums the transaction's rows per group in memory as it inserts
 * them and upserts each group once before the commit, in key order (one
 * B-tree write per distinct group and level, not 21 INSERT ... SELECT ...
 * GROUP BY over the rows).  Rebuilt for the buckets a prune touched in the
 * prune's transaction, and built from the existing rows by the migration:
 * they never disagree with the rows.  Only kind 'attempt' is rolled up
 * (what top counts).
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
	DB_RD_MAX
};

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

#endif /* HUSH_AGENT_DB_ROLLUP_H */
