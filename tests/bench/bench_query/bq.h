/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the files of bench_query share (bench_query.c: the queries, the
 * end-to-end runs, the candidates and the report; bench_query/db.c: the
 * synthetic database and its cache; bench_query/sql.c: the raw SQL).
 */
#ifndef HUSH_TESTS_BENCH_QUERY_BQ_H
#define HUSH_TESTS_BENCH_QUERY_BQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "tests/lib/synthlog.h"

#define GEN_VERSION   2 /* bump when the generated rows change */
#define N_DEST	      1000
#define N_CG	      50
#define N_PROC	      200
#define TXN_ROWS      10000
#define SPAN_NS	      (30LL * 86400 * 1000000000LL)
#define LIMIT	      100
#define MAX_RUNS      1000
#define MAX_CAND      8
#define INSERT_ROUNDS 2

/* Rare values, in the rows i % RARE_EVERY == RARE_AT (5 of 10M). */
#define RARE_EVERY 2000000
#define RARE_AT	   777777
#define RARE_COMM  "rarecomm"
#define RARE_UID   31337
#define RARE_PID   4242424
#define RARE_DNS   "rare.bench.test"
#define RARE_HOOK  "dns"

#define RARE_PORT 6443 /* the port of exactly one destination */

/* ---- the database (db.c) ---- */

/* The dimension values, by make_dims(). */
extern struct synth_dest dests[N_DEST];
extern struct synth_cg cgs[N_CG];
extern struct synth_proc procs[N_PROC];

struct build_res {
	double secs, rate, first_rate, last_rate; /* rows/s: all, first and last 10% */
	int64_t end_ns;				  /* newest time stamp */
};

struct info {
	int gen, user_version;
	uint64_t rows;
	char schema[65];
	double secs, rate, first_rate, last_rate;
	int64_t end_ns, built_ns;
};

/* Dimension values: the same for every build of this GEN_VERSION. */
void make_dims(void);

/*
 * Append rows 0..n-1 (time stamps over the SPAN_NS before end_ns).  extra:
 * SQL run after the schema exists and before the first row (a candidate
 * index).  Rows depend only on the seed, so two builds hold the same rows.
 */
int build(const char *path, uint64_t n, int64_t end_ns, const char *extra, struct build_res *res);
/* Remove FILE and its -wal, -shm, .head and .info. */
void remove_db(const char *path);
/* The cached database if it matches this build, else a new one. */
int ensure_db(const char *path, uint64_t rows, bool rebuild, struct info *in, bool *cached);

/* ---- the raw SQL (sql.c) ---- */

struct filt {
	const char *verdict;
	bool has_since, has_until, has_ts_max;
	int64_t since, until, ts_max; /* ts_max: the rewrite's upper bound on ts */
	char container[80];	      /* LIKE pattern */
	bool has_dest;
	uint8_t lo[16], hi[16];
	int port; /* -1: any */
};

/* The SQL of agent/logquery.h's documented shape; binds in order. */
struct sqlq {
	char s[2048];
	int nb;
	struct {
		int type; /* 'i', 't', 'b' */
		int64_t i;
		const void *p;
	} b[16];
};

/* The SQL of filter f; prepared with prefix ("EXPLAIN QUERY PLAN "), bound. */
void make_sql(const struct filt *f, struct sqlq *q);
int prep(sqlite3 *h, const struct sqlq *q, const char *prefix, sqlite3_stmt **st);
/* The query plan of q, "; "-separated. */
void explain(sqlite3 *h, const struct sqlq *q, char *out, size_t len);
/* Median and p95 (nearest rank) of v[0..n-1] (sorted in place). */
void stats(double *v, int n, double *med, double *p95);

/* Runs for a query whose warm-up took ms: fewer when one run takes over
 * SLOW_MS (it misses the target many times over either way). */
#define SLOW_MS_INT 500
#define SLOW_MS	    ((double)SLOW_MS_INT)
#define SLOW_RUNS   5
#define STR(x)	    #x
#define XSTR(x)	    STR(x)

/* Time the raw query of f: a warm-up, then *runsp runs (fewer if slow). */
int time_raw(sqlite3 *h, const struct filt *f, int *runsp, double *med, double *p95, int *rows);

#endif /* HUSH_TESTS_BENCH_QUERY_BQ_H */
