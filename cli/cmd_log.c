// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hush log: the incident responder's view of the audit log (agent/db.h).
 *
 *   hush log [filters] [--json|--csv|--format F] [--limit N] [--follow]   rows, newest first
 *   hush log [filters] --after-id ID|--cursor FILE [--follow]         rows after ID, oldest first
 *   hush log top --by KIND [filters]   who tried most (log_args.c: the kinds)
 *   hush log verify [--head ID:HASHHEX]                        walk the hash chain
 *   hush log prune --older-than DUR [--max-size SIZE]          drop old rows
 *
 * Every form takes --db FILE, before or after the verb.  The options are
 * read in log_args.c, the rows come from agent/logquery.h (which owns the
 * SQL and documents the query plans), and log_output.c prints them as a
 * table, JSON (NDJSON), CSV or syslog (log_syslog.c).  --follow polls every
 * 200 ms.
 *
 * Streams for shippers: --after-id/--cursor hand every matching row above
 * an id, in id order (the order hushd commits them), then --follow goes on
 * from there.  Each row is flushed whole before the next; the cursor file
 * is rewritten (temp file, fsync, rename) after a poll's rows are out, and
 * on SIGTERM/SIGINT/EPIPE holds the last row that went out whole.  So a
 * restarted shipper loses nothing and repeats nothing it had written,
 * except after a SIGKILL or a crash between a row going out and the
 * cursor's rename (at most that poll's rows again: every row carries its
 * id, a consumer can drop repeats).  Prune keeps the newest row, so ids
 * never go back in one log; a database file replaced under us (a new
 * inode) is reopened, and one with ids below ours is read from its first
 * row (with a warning).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* Each row the query hands over.  A stream (--follow, --after-id,
 * --cursor) writes each row out whole before the next (a shipper sees it
 * at once, and the cursor never passes a row that did not go out). */
static int on_row(void *ctx, const struct logq_row *r)
{
	struct out *o = ctx;

	out_header(o);
	if (out_row(o, r))
		return -ENOMEM;
	if (o->stream) {
		if (o->fmt != FMT_TABLE && fflush(stdout) == EOF)
			return -EPIPE;
		if (ferror(stdout))
			return -EPIPE;
		return stop_signal ? 1 : 0;
	}
	if ((o->rows & 255) == 0 && (stop_signal || ferror(stdout)))
		return 1;
	return 0;
}

/* ---- the cursor: "ID\n" in a file, replaced by rename ---- */

static int cursor_read(const char *path, int64_t *id)
{
	char buf[64] = "", *end;
	FILE *f = fopen(path, "re");
	long long v;

	*id = 0;
	if (!f) {
		if (errno == ENOENT)
			return 0; /* a first run: from the first row */
		log_warn("log: cannot read the cursor %s", path);
		return -errno;
	}
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || v < 0) {
		log_warnx("log: the cursor %s holds \"%.*s\", not a row id: fix it, or remove it "
			  "to start from the first row",
			  path, (int)strcspn(buf, "\n"), buf);
		return -EINVAL;
	}
	*id = v;
	return 0;
}

static int cursor_write(const char *path, int64_t id)
{
	char tmp[4096];
	FILE *f;
	int ok;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f) {
		log_warn("log: cannot write the cursor %s", tmp);
		return -EIO;
	}
	ok = fprintf(f, "%lld\n", (long long)id) > 0;
	ok = fflush(f) == 0 && ok;
	ok = fsync(fileno(f)) == 0 && ok;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path)) {
		log_warn("log: cannot write the cursor %s", path);
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

/* ---- streams ---- */

struct stream {
	const struct opts *o;
	struct db **db;
	struct logq *q;
	struct out *out;
	dev_t dev;
	ino_t ino;
	bool shm;      /* <db>-shm was there after the open */
	int64_t saved; /* the id in the cursor file */
};

/* The database file's identity, and whether its -shm file is there. */
static void db_ident(const char *path, dev_t *dev, ino_t *ino, bool *shm)
{
	char p[4096];
	struct stat st;

	*dev = 0;
	*ino = 0;
	if (stat(path, &st) == 0) {
		*dev = st.st_dev;
		*ino = st.st_ino;
	}
	snprintf(p, sizeof(p), "%s-shm", path);
	*shm = access(p, F_OK) == 0;
}

/* The database file was replaced (hushd made a new one): follow the new
 * file from where we were (logq_follow_poll starts it again at its first
 * row when its ids are below ours).  Also when its -shm file came back: a
 * group reader opened it without one, immutable (db.c), which sees no new
 * rows. */
static int reopen_if_replaced(struct stream *s, char *err, size_t errlen)
{
	struct db *db = NULL;
	struct logq *q = NULL;
	int64_t last = logq_follow_last(s->q);
	dev_t dev;
	ino_t ino;
	bool shm, replaced;

	db_ident(s->o->db, &dev, &ino, &shm);
	replaced = ino && (dev != s->dev || ino != s->ino);
	if (!replaced && !(ino && shm && !s->shm))
		return 0;
	if (db_open(s->o->db, DB_RDONLY, &db, err, errlen))
		return 0; /* not ready yet: keep the old one, try next poll */
	if (logq_new(db, &s->o->f, &q) || logq_follow_start(q, err, errlen)) {
		logq_free(q);
		db_close(db);
		return 0;
	}
	if (replaced)
		log_warnx("log: %s was replaced: following the new file", s->o->db);
	logq_follow_set(q, last);
	logq_free(s->q);
	db_close(*s->db);
	*s->db = db;
	s->q = q;
	s->dev = dev;
	s->ino = ino;
	s->shm = shm;
	return 0;
}

/* After a poll: rows out, the cursor on the last of them. */
static int stream_commit(struct stream *s, int ret)
{
	int64_t last = logq_follow_last(s->q);
	int w;

	if (logq_follow_reset(s->q))
		log_warnx("log: %s has fewer rows than the cursor said (another database?): "
			  "reading it from its first row",
			  s->o->db);
	if (s->out->fmt == FMT_TABLE)
		table_flush(&s->out->t);
	w = out_check(true);
	/* Records went out one by one (on_row), so last is exact even when
	 * the reader went away; a table goes out at the flush just made. */
	if ((!w || s->out->fmt != FMT_TABLE) && s->o->cursor && last != s->saved) {
		if (cursor_write(s->o->cursor, last))
			return -EIO;
		s->saved = last;
	}
	return w ? w : ret;
}

/* The reader of a pipe on stdout went away (POLLERR): a quiet end, even
 * while no row comes to find it out by EPIPE. */
static bool reader_gone(void)
{
	struct pollfd p = {.fd = STDOUT_FILENO, .events = 0};

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP | POLLNVAL));
}

/* --follow after the first rows, or --after-id / --cursor (with or
 * without --follow).  0, 1 (reader gone: quiet), or negative. */
static int stream(struct stream *s, bool first_now)
{
	char err[1024] = "";
	int ret;

	ret = logq_follow_start(s->q, err, sizeof(err));
	while (!ret && !stop_signal) {
		struct timespec ts = {0, FOLLOW_POLL_MS * 1000000L};

		if (!first_now) {
			nanosleep(&ts, NULL);
			if (stop_signal || reader_gone())
				break;
			reopen_if_replaced(s, err, sizeof(err));
		}
		ret = logq_follow_poll(s->q, on_row, s->out, err, sizeof(err));
		if (ret == -EPIPE)
			ret = 0; /* stream_commit's out_check tells which */
		if (ret >= 0)
			ret = stream_commit(s, ret);
		if (first_now && !s->o->follow)
			break;
		first_now = false;
	}
	if (ret < 0 && err[0])
		log_warnx("log: %s", err);
	return ret;
}

static int run_query(const struct opts *o, struct db **db)
{
	char err[1024] = "";
	struct out out;
	struct stream s = {.o = o, .db = db, .out = &out};
	int64_t lim = o->limit ? o->limit : -1;
	bool more = false;
	int ret;

	out_begin(&out, o->fmt, o->wide);
	out.so = &o->so;
	out.stream = o->follow || o->has_after;
	if (out.stream) {
		/* Ctrl-C or SIGTERM end a stream normally (exit 0), after the
		 * row being written: SA_RESTART lets a write blocked on a slow
		 * reader finish, where EINTR could leave half a line out. */
		struct sigaction sa = {.sa_handler = on_stop, .sa_flags = SA_RESTART};

		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	s.saved = o->after_id;
	if (o->cursor && cursor_read(o->cursor, &s.saved))
		return EXIT_FAIL;
	db_ident(o->db, &s.dev, &s.ino, &s.shm);
	if (logq_new(*db, &o->f, &s.q)) {
		log_warnx("log: out of memory");
		return EXIT_FAIL;
	}
	if (o->has_after) {
		logq_follow_set(s.q, s.saved);
		ret = stream(&s, true);
		out_header(&out);
		ret = ret < 0 || out_check(true) < 0 ? EXIT_FAIL : EXIT_OK;
		goto out;
	}
	ret = logq_rows(s.q, lim, o->follow, on_row, &out, &more, err, sizeof(err));
	if (ret < 0 && ret != -EPIPE) {
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
	if (o->follow && !stop_signal && stream(&s, false) < 0)
		ret = EXIT_FAIL;
out:
	logq_free(s.q);
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
		/* Refuse to create a database that is not there (one that needs
		 * migrating is there: the read-write open migrates it). */
		if (access(o.db, F_OK) < 0 && open_db(&o, DB_RDONLY, &db))
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
		ret = run_query(&o, &db);
		break;
	}
	db_close(db);
	return ret;
}
