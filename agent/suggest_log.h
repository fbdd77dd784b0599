/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `hush policy suggest` from the audit log (see suggest.h for what it
 * writes).  The rows are read with the filters of `hush log`
 * (agent/logquery.h); the SQL stays in agent/.
 */
#ifndef HUSH_AGENT_SUGGEST_LOG_H
#define HUSH_AGENT_SUGGEST_LOG_H

#include "agent/db.h"
#include "agent/logquery.h"
#include "agent/suggest.h"

struct suggest_src {
	struct logq_filter f; /* which rows (time window, unit, container, ...) */
	/* The enforced cgroup, as the rows' cgroup paths write it (below the
	 * cgroup2 mount, "/hush/llm"; "/" for the whole host): scopes are
	 * relative to it, and rows outside it are left out. */
	const char *root;
	/* Only scopes matching this glob, or below it (NULL: all). */
	const char *cgroup;
};

struct suggest_stats {
	int64_t rows;	     /* rows read */
	int64_t attempts;    /* attempts that became rules */
	int64_t first, last; /* of those (ns; 0 if none) */
};

/* Add every matching row to s.  0, or negative with err filled. */
int suggest_from_log(struct db *db, const struct suggest_src *src, struct suggest *s,
		     struct suggest_stats *st, char *err, size_t errlen);

/* The cgroup the newest "hushd started" note names, relative to the
 * cgroup2 mount as rows write it, into buf.  -ENOENT if no note says. */
int suggest_log_root(struct db *db, char *buf, size_t len);

#endif /* HUSH_AGENT_SUGGEST_LOG_H */
