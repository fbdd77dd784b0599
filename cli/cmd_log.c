// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hush log: the incident responder's view of the audit log (agent/db.h).
 *
 *   hush log [filters] [--json|--csv] [--limit N] [--follow]   rows, newest first
 *   hush log top --by KIND [filters]   who tried most (log_args.c: the kinds)
 *   hush log verify [--head ID:HASHHEX]                        walk the hash chain
 *   hush log prune --older-than DUR [--max-size SIZE]          drop old rows
 *
 * Every form takes --db FILE, before or after the verb.  The options are
 * read in log_args.c, the rows come from agent/logquery.h (which owns the
 * SQL and documents the query plans), and log_output.c prints them as a
 * table, JSON or CSV.  --follow polls every 200 ms.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/log.h"
#include "cli/cli.h"
#include "cli/log_cli.h"

#define FOLLOW_POLL_MS 200

/* ---- hush log [filters] ---- */

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	(void)sig;
	stop_signal = 1;
}

/* Each row the query hands over. */
static int on_row(void *ctx, const struct logq_row *r)
{
	struct out *o = ctx;

	out_header(o);
	if (out_row(o, r))
		return -ENOMEM;
	if ((o->rows & 255) == 0 && (stop_signal || ferror(stdout)))
		return 1;
	return 0;
}

static int follow(struct out *o, struct logq *q)
{
	char err[1024] = "";
	int ret;

	ret = logq_follow_start(q, err, sizeof(err));
	while (!ret && !stop_signal) {
		struct timespec ts = {0, FOLLOW_POLL_MS * 1000000L};

		nanosleep(&ts, NULL);
		if (stop_signal)
			break;
		ret = logq_follow_poll(q, on_row, o, err, sizeof(err));
		if (ret < 0)
			break;
		if (o->fmt == FMT_TABLE)
			table_flush(&o->t);
		ret = out_check(true);
	}
	if (ret < 0 && err[0])
		log_warnx("log: %s", err);
	return ret < 0 ? ret : 0;
}

static int run_query(const struct opts *o, struct db *db)
{
	char err[1024] = "";
	struct logq *q = NULL;
	struct out out;
	int64_t lim = o->limit ? o->limit : -1;
	bool more = false;
	int ret;

	out_begin(&out, o->fmt, o->wide);
	if (o->follow) {
		/* Ctrl-C or SIGTERM end --follow normally (exit 0). */
		struct sigaction sa = {.sa_handler = on_stop};

		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	if (logq_new(db, &o->f, &q)) {
		log_warnx("log: out of memory");
		return EXIT_FAIL;
	}
	ret = logq_rows(q, lim, o->follow, on_row, &out, &more, err, sizeof(err));
	if (ret < 0) {
		if (err[0])
			log_warnx("log: %s", err);
		table_free(&out.t);
		ret = EXIT_FAIL;
		goto out;
	}
	out_header(&out);
	if (o->fmt == FMT_TABLE)
		table_flush(&out.t);
	ret = out_check(true);
	if (ret) {
		ret = ret < 0 ? EXIT_FAIL : EXIT_OK;
		goto out;
	}
	if (!o->follow && o->fmt == FMT_TABLE && !o->limit_set && more)
		fprintf(stderr, "(showing the newest %lld rows; --limit 0 for all)\n",
			(long long)lim);
	ret = EXIT_OK;
	if (o->follow && !stop_signal && follow(&out, q))
		ret = EXIT_FAIL;
out:
	logq_free(q);
	return ret;
}

/* ---- hush log top ---- */

static int run_top(const struct opts *o, struct db *db)
{
	char err[1024] = "";
	struct logq_top top = {0};
	struct logq *q = NULL;
	size_t lim = o->limit ? (size_t)o->limit : SIZE_MAX;
	int ret = EXIT_FAIL, w;

	if (logq_new(db, &o->f, &q)) {
		log_warnx("log: top: out of memory");
		return EXIT_FAIL;
	}
	w = logq_top(q, o->by, &top, err, sizeof(err));
	if (w) {
		log_warnx("log: %s", err);
		goto out;
	}
	if (out_top(o, &top))
		goto out;
	w = out_check(true);
	if (w) {
		ret = w < 0 ? EXIT_FAIL : EXIT_OK;
		goto out;
	}
	if (o->fmt == FMT_TABLE && !o->limit_set && top.n > lim)
		fprintf(stderr, "(showing the top %zu of %zu; --limit 0 for all)\n", lim, top.n);
	ret = EXIT_OK;
out:
	logq_top_free(&top);
	logq_free(q);
	return ret;
}

/* ---- verify, prune ---- */

/* Each finding on its own line (stdout); the first kept for the alarm. */
struct vctx {
	char first[512];
	bool any;
};

static void print_finding(void *ctx, const char *f)
{
	struct vctx *v = ctx;

	if (!v->any)
		snprintf(v->first, sizeof(v->first), "%s", f);
	v->any = true;
	printf("%s\n", f);
}

/* Every damage to stdout; a finding also to stderr and syslog (the
 * journal), and "<db>.verify" for hushd's metrics where we may write it. */
static int run_verify(const struct opts *o, struct db *db)
{
	char msg[1024] = "";
	struct vctx v = {.any = false};
	uint64_t rows = 0, nf = 0;
	int ret = db_verify_each(db, o->head_id, o->head_id ? o->head_hash : NULL, &rows, &nf,
				 print_finding, &v, msg, sizeof(msg));

	if (ret < 0) {
		log_warnx("log: verify: %s", msg);
		return EXIT_FAIL;
	}
	(void)db_verify_status_write(o->db, rows, nf);
	if (ret == 0)
		printf("%s\n", msg);
	if (out_check(true) < 0)
		return EXIT_FAIL;
	if (ret == 0)
		return EXIT_OK;
	log_warnx("log: verify: TAMPER: %s: %s; the first: %s", o->db, msg, v.first);
	db_tamper_alarm(o->db, nf, v.first);
	return EXIT_FAIL;
}

static int run_prune(const struct opts *o, struct db *db)
{
	char err[1024] = "", when[64] = "";
	int64_t cutoff = o->has_older ? real_ns() - o->older_than : 0;
	uint64_t removed = 0;

	if (db_prune(db, cutoff, o->max_size, &removed, err, sizeof(err))) {
		log_warnx("log: prune: %s", err);
		return EXIT_FAIL;
	}
	if (o->has_older) {
		time_t t = (time_t)(cutoff / 1000000000LL);
		struct tm tm;

		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
	}
	printf("pruned %llu row%s", (unsigned long long)removed, removed == 1 ? "" : "s");
	if (o->has_older)
		printf(" older than %s", when);
	if (o->max_size)
		printf("%s beyond %lld bytes", o->has_older ? " or" : "", (long long)o->max_size);
	printf("\n");
	return out_check(true) < 0 ? EXIT_FAIL : EXIT_OK;
}

/* ---- dispatch ---- */

static int open_db(const struct opts *o, enum db_mode mode, struct db **db)
{
	char err[1024];
	int ret = db_open(o->db, mode, db, err, sizeof(err));

	if (ret) {
		log_warnx("log: %s", err);
		return ret;
	}
	return 0;
}

int do_log(struct cli *c, int argc, char **argv)
{
	struct opts o;
	struct db *db = NULL;
	int ret;

	(void)c;
	ret = log_parse_args(&o, argc, argv);
	if (ret == 1) {
		log_usage(stdout);
		return EXIT_OK;
	}
	if (ret)
		return EXIT_USAGE;
	out_init();
	if (o.verb == VB_PRUNE) {
		/* Refuse to create a database that is not there. */
		if (open_db(&o, DB_RDONLY, &db))
			return EXIT_FAIL;
		db_close(db);
		db = NULL;
	}
	if (open_db(&o, o.verb == VB_PRUNE ? DB_RDWR : DB_RDONLY, &db))
		return EXIT_FAIL;
	switch (o.verb) {
	case VB_VERIFY:
		ret = run_verify(&o, db);
		break;
	case VB_PRUNE:
		ret = run_prune(&o, db);
		break;
	case VB_TOP:
		ret = run_top(&o, db);
		break;
	default:
		ret = run_query(&o, db);
		break;
	}
	db_close(db);
	return ret;
}
