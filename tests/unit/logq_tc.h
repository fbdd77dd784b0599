/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Unit tests of the log's query paths: the ids of the newest rows of a
 * filter, found the fast way or by the walk (HUSH_TOP_SCAN=1). */
#ifndef HUSH_TESTS_UNIT_LOGQ_TC_H
#define HUSH_TESTS_UNIT_LOGQ_TC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/db.h"
#include "agent/logquery.h"

struct ids {
	int64_t v[512];
	int n;
};

static inline int take_id(void *ctx, const struct logq_row *r)
{
	struct ids *ids = ctx;

	if (ids->n < 512)
		ids->v[ids->n++] = r->c[DB_C_ID].i;
	return 0;
}

/* The rollups follow the rows (db_rollup_catchup): up to n more of them;
 * the rows still after them, -1 on errors (said as a FAIL line). */
static inline int64_t catch_up(struct db *db, int64_t n)
{
	int64_t done = 0, left = -1;
	char err[256];

	if (db_rollup_catchup(db, n, &done, &left, err, sizeof(err))) {
		printf("FAIL: catch-up: %s\n", err);
		return -1;
	}
	return left;
}

/* The newest `limit` rows of f: through the rollups, or by the walk. */
static inline int rows_of(struct db *db, const struct logq_filter *f, int64_t limit, bool walk,
			  struct ids *ids, bool *more)
{
	struct logq *q = NULL;
	char err[256];
	int ret;

	if (walk)
		setenv("HUSH_TOP_SCAN", "1", 1);
	ret = logq_new(db, f, &q);
	unsetenv("HUSH_TOP_SCAN");
	ids->n = 0;
	*more = false;
	if (!ret)
		ret = logq_rows(q, limit, false, take_id, ids, more, err, sizeof(err));
	logq_free(q);
	return ret;
}

#endif /* HUSH_TESTS_UNIT_LOGQ_TC_H */
