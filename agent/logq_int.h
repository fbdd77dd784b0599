/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What logquery.c (filters, rows, follow) and logtop.c (top) share: the
 * query state and SQL built with bound values.  Not for use elsewhere.
 */
#ifndef HUSH_AGENT_LOGQ_INT_H
#define HUSH_AGENT_LOGQ_INT_H

#include <sqlite3.h>

#include "agent/logquery.h"

struct logq {
	struct db *db;
	sqlite3 *h;
	struct logq_filter f;
	/* The dest / cgroup / process filter matches much of the table: keep it off
	 * its index (see logq_probe). */
	bool dest_broad, cg_broad, proc_broad;
	/* Longest first_ts..ts span of any row (meta 'max_span'): bounds
	 * --until on the ts index.  -1: unknown. */
	int64_t max_span;
	bool rollups; /* top may answer from the rollups (db_rollup.h) */
	/* logq_rollup_tail: meta 'rollup_id' (the last row the rollups hold) and
	 * the smallest ts of the rows after it (INT64_MAX: none). */
	int64_t roll_id, tail_lo;
	int64_t want;	      /* rows the query wants (limit + 1); -1: all (top) */
	int64_t last;	      /* follow: the newest id handed out (or passed over) */
	int64_t seen;	      /* the id of the last row fn took */
	bool reset;	      /* follow: the ids went back (another database) */
	sqlite3_stmt *follow; /* follow: rows in (?1, ?2] */
};

/* procs.cmdline (a JSON array of the arguments) as one string, the
 * arguments joined by spaces (a cmdline that is not JSON as it is). */
#define LOGQ_CMDLINE_SQL                                                                           \
	"(CASE WHEN json_valid(cmdline) THEN (SELECT group_concat(value, ' ')"                     \
	" FROM json_each(cmdline)) ELSE cmdline END)"

/* SQL text and its bound values (pointers into the caller's memory). */
struct logq_sql {
	char s[4096];
	size_t len;
	struct {
		int type;
		int64_t i;
		const void *p;
		int n;
	} b[32];
	int nb;
	bool overflow;
};

void logq_sql_add(struct logq_sql *q, const char *frag);
void logq_sql_int(struct logq_sql *q, int64_t v);
void logq_sql_text(struct logq_sql *q, const char *s);
/* " AND ..." for every filter, on events e. */
void logq_sql_filters(struct logq_sql *q, const struct logq *lq);
/* Prepare and bind (log_debug shows the SQL). */
int logq_prepare(struct logq *lq, const struct logq_sql *q, sqlite3_stmt **st, char *err,
		 size_t errlen);
/* Read max_span; mark broad dest / cgroup filters.  In a read transaction. */
void logq_probe(struct logq *lq);
/* Fill roll_id and tail_lo (the rollups lag the rows: db_rollup_catchup);
 * false: the rollups cannot be used.  In a read transaction. */
bool logq_rollup_tail(struct logq *lq);
/* "cannot read the database: ..." for a failed step; returns -EIO. */
int logq_step_err(struct logq *lq, int rc, char *err, size_t errlen);

/*
 * Rows of a filter no index serves (comm, uid, DNS name or GLOB), located
 * through the rollups (logloc.c): ranges of ts, newest first, that hold the
 * newest rows the query wants.
 */
struct logq_loc {
	int dim;	  /* the rollup dimension that leads */
	int dim2;	  /* and one more with the same keys (--pid: tid), else dim */
	char *keys;	  /* its keys (rollup k) as a JSON array */
	char *verdicts;	  /* the verdicts to walk, a JSON array */
	bool seek;	  /* few keys and verdicts: seek each in a bucket */
	int64_t mlo, mhi; /* the window in minutes (INT64_MIN/MAX: open) */
	int64_t tail_lo;  /* the rows not yet rolled up: ts from here (logq.tail_lo) */
	bool all;	  /* the ranges hold every row with the keys */
	double share;	  /* estimated share of its rows matching the other
			   * located filters (1: none, or unknown) */
	int64_t want, found;
	int64_t *lo, *hi; /* the ranges, inclusive */
	int n, cap;
	char *ranges; /* the same as JSON [[lo,hi],...] for logq_loc_from */
};

/* Whether the ranges give the query's rows (filled; logq_loc_free it
 * either way).  After logq_probe, in the read transaction. */
bool logq_loc_plan(struct logq *lq, int64_t limit, struct logq_loc *l);
/* "SELECT e.id FROM <ranges> CROSS JOIN events e WHERE e.ts in a range". */
void logq_loc_from(struct logq_sql *q, const struct logq_loc *l);
void logq_loc_free(struct logq_loc *l);

#endif /* HUSH_AGENT_LOGQ_INT_H */
