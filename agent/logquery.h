/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reading the audit log (db.h) for `hush log`: filtered rows, newest first;
 * new rows as they are written (--follow); who tried most (top).  The SQL
 * lives here, beside the schema; callers get typed values, never a
 * statement.  `hush -v log` shows each statement (log_debug "log: query:
 * ..."): EXPLAIN QUERY PLAN it in sqlite3(1).
 *
 * Queries stay on the indexes: they run on the events table (alias e) with
 * plain predicates on its indexed columns (ts, verdict, cgroup, dkey), turn
 * filters on the dimension tables into `e.proc IN (SELECT id FROM procs
 * ...)` subqueries, order by e.ts DESC, e.id DESC with a LIMIT, and join
 * procs/cgroups/rules only to print.  Every user value is bound, never
 * pasted into SQL.  A destination filter is a range of the 16-byte dkey
 * (IPv4 as ::ffff:a.b.c.d), so a CIDR is one index range.
 *
 * Plans were checked with EXPLAIN QUERY PLAN (tests/integration/t_log.sh
 * checks them):
 *  - With a limit, two steps: the ids of the newest matching rows, from a
 *    covering index where the filters allow (events(dkey, ts), (cgroup, ts),
 *    (verdict, ts) and (ts) all hold ts and the id), then the joins for
 *    those rows only.
 *  - SQLite has no statistics here, so it takes every index range as
 *    selective; a dest or cgroup filter's matches are counted on its index
 *    first, and a filter that matches much of the table is kept off the
 *    index (walking by time finds the newest rows sooner).
 *  - top aggregates in a hash table over one filtered scan: SQLite's GROUP
 *    BY sorts every row first.
 *  - follow polls for ids above the last one seen (WAL: the writer goes on
 *    beside us), each poll one short read transaction.
 *
 * Errors: negative errno, with err filled ("cannot read the database: ...").
 */
#ifndef HUSH_AGENT_LOGQUERY_H
#define HUSH_AGENT_LOGQUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/db.h"

/* What rows to read; zeroed plus port = -1 matches every row. */
struct logq_filter {
	const char *verdict, *kind; /* "allow"|"deny"|"audit"; "attempt"|"gap"|"note" */
	bool has_since, has_until;
	int64_t since, until; /* ns since the epoch: last attempt >= since, first <= until */
	bool has_pid;
	int64_t pid; /* pid or tgid */
	const char *comm, *exe, *unit;
	bool exe_glob, unit_glob; /* GLOB patterns rather than exact */
	const char *hook;	  /* exact: connect4, sendmsg6, egress, dns, ... */
	const char *cmdline;	  /* GLOB of the arguments joined by spaces */
	bool has_uid;
	int64_t uid;
	bool has_ppid; /* --ppid: the parent pid (since schema 6) */
	int64_t ppid;
	char container[160];	  /* set by logq_filter_container: id LIKE pattern */
	char container_name[160]; /* ... and the name, or a GLOB of it */
	const char *image;	  /* GLOB of the image (or its id) */
	bool has_dest;		  /* set by logq_filter_dest */
	uint8_t dlo[16], dhi[16];
	int port;      /* -1: any */
	char dns[300]; /* set by logq_filter_dns: lower case, GLOB if dns_glob */
	bool has_dns, dns_glob;
	char qtype[20]; /* set by logq_filter_qtype; "" for any */
};

/* Filter setters that check and encode a value as the schema keeps it;
 * each returns 0 or -EINVAL. */
/* A CIDR or bare address (IPv4 or IPv6): a range of dkey. */
int logq_filter_dest(struct logq_filter *f, const char *cidr);
/* A container id or a prefix of it (case-insensitive), or its name (exact,
 * or a GLOB pattern with * ? [). */
int logq_filter_container(struct logq_filter *f, const char *prefix);
/* A DNS name or a GLOB of one ("*.example.com", "x?.corp.*"; case-insensitive,
 * trailing dots ignored). */
int logq_filter_dns(struct logq_filter *f, const char *name);
/* A query type: letters, digits, '-' (A, AAAA, TYPE65). */
int logq_filter_qtype(struct logq_filter *f, const char *qtype);

enum logq_type { LOGQ_NULL, LOGQ_INT, LOGQ_TEXT, LOGQ_BLOB };

struct logq_val {
	enum logq_type type;
	int64_t i;     /* LOGQ_INT */
	const void *p; /* LOGQ_TEXT (NUL-terminated), LOGQ_BLOB */
	int len;       /* bytes at p */
};

/* A row of the view "log": its columns in the order of DB_LOG_COLUMNS
 * (enum db_log_col), valid during the callback only. */
struct logq_row {
	struct logq_val c[DB_C_MAX];
	const char *cmdline_json;  /* the command line as minified JSON; NULL if not JSON */
	const char *ancestry_json; /* the ancestry as minified JSON; NULL if not JSON */
};

/* Called per row: 0 goes on, > 0 stops quietly, < 0 stops with that error. */
typedef int (*logq_row_fn)(void *ctx, const struct logq_row *r);

struct logq;

/* A query over an open database (read-only is enough); f is copied. */
int logq_new(struct db *db, const struct logq_filter *f, struct logq **out);
void logq_free(struct logq *q);

/*
 * Matching rows in one read transaction, newest first, to fn: at most limit
 * rows (-1: all); *more tells whether there were more.  follow: the rows up
 * to the newest now (remembered for logq_follow_poll), oldest first.
 * Returns 0, fn's stop value (> 0), or negative.
 */
int logq_rows(struct logq *q, int64_t limit, bool follow, logq_row_fn fn, void *ctx, bool *more,
	      char *err, size_t errlen);

/* --follow: prepare once (after logq_rows with follow), then each poll
 * hands the rows written since the last one, oldest first, to fn.  Returns
 * 0, fn's stop value (> 0), or negative. */
int logq_follow_start(struct logq *q, char *err, size_t errlen);
int logq_follow_poll(struct logq *q, logq_row_fn fn, void *ctx, char *err, size_t errlen);
/* Start after row id `after` (--after-id, --cursor): the next poll hands
 * every matching row above it.  last: the id up to which rows were handed
 * out or passed over (what a cursor keeps).  A poll that stops part way
 * (fn > 0) keeps last at the last row fn took.  reset: true once after a
 * poll found the ids gone back (another database): it started again at 0. */
void logq_follow_set(struct logq *q, int64_t after);
int64_t logq_follow_last(const struct logq *q);
bool logq_follow_reset(struct logq *q);

/* ---- top ---- */

enum logq_by {
	LOGQ_BY_NONE,
	LOGQ_BY_DEST,
	LOGQ_BY_PROCESS,
	LOGQ_BY_CONTAINER,
	LOGQ_BY_UNIT,
	LOGQ_BY_IMAGE,
	LOGQ_BY_DNS,	 /* the name asked (query rows) or that led to the attempt */
	LOGQ_BY_COMM,	 /* the kernel's command name */
	LOGQ_BY_CMDLINE, /* the command line, whatever the exe */
	LOGQ_BY_EXE,	 /* the executable, whatever the command line */
	LOGQ_BY_UID,
	LOGQ_BY_RULE, /* the rule that decided (scope and text) */
	LOGQ_BY_MAX
};

struct logq_group {
	int64_t attempts, rows, first, last; /* sums; first and last attempt (ns) */
	/* Shown: dest: daddr, proto; process: exe, comm and cmdline (a
	 * process is an exe with one command line; [comm] if no exe); exe:
	 * exe, comm; cmdline: cmdline, comm; container: container, runtime
	 * (cname, image: the engine's name and image); unit: unit; image:
	 * image, image id; dns: the name; comm: comm; uid: uid (id); rule:
	 * text, scope.  NULL: unknown or none. */
	char *name, *name2;
	char *cname, *image;
	char *cmdline; /* process: the arguments joined by spaces */
	int64_t port;  /* dest: -1 for none */
	/* private */
	uint8_t *key;
	size_t klen;
	int64_t id;
};

struct logq_top {
	struct logq_group **v; /* most attempts first, then the latest */
	size_t n;
	void *priv;
};

/* Group the matching rows (attempt rows unless the filter names a kind). */
int logq_top(struct logq *q, enum logq_by by, struct logq_top *out, char *err, size_t errlen);
void logq_top_free(struct logq_top *t);

#endif /* HUSH_AGENT_LOGQUERY_H */
