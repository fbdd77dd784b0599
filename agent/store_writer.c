// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The writer thread: batches from the queue become rows (gap rows for what
 * was lost or could not be written), committed in one transaction each;
 * retention, and reopening a database that could not be written.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "agent/attrib.h"
#include "agent/db.h"
#include "agent/engine.h"
#include "agent/event.h"
#include "agent/log.h"
#include "agent/lineage.h"
#include "agent/store_int.h"
#include "version.h"

/* ---- writer thread ---- */

/* Protocol names that outlive the call (numbers for the unnamed). */
static char proto_num[256][4];

void store_db_opened(struct store *s)
{
	/* Which hush writes the log: kept on each open. */
	if (db_meta_set_text(s->db, "hush_version", HUSH_VERSION))
		log_warnx("%s: cannot record hush_version in meta", s->path);
	/* Which host: /etc/machine-id, else an id kept beside the database. */
	if (!s->host_id[0]) {
		char dir[PATH_MAX], *slash;
		const char *src;
		int ret;

		snprintf(dir, sizeof(dir), "%s", s->path);
		slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
		else
			snprintf(dir, sizeof(dir), ".");
		ret = lineage_host(slash == dir ? "/" : dir, s->hostname, sizeof(s->hostname),
				   s->host_id, sizeof(s->host_id), &src);
		if (ret)
			log_errno(ret,
				  "no host id: /etc/machine-id is unusable and %s/host-id "
				  "cannot be made; rows carry no host_id",
				  dir);
	}
}

void store_proto_init(void)
{
	for (unsigned int i = 0; i < 256; i++)
		snprintf(proto_num[i], sizeof(proto_num[i]), "%u", i & 0xffu);
}

static const char *proto_name(uint8_t p)
{
	char pb[8];
	const char *n = event_proto_name(p, pb, sizeof(pb));

	return n != pb ? n : proto_num[p];
}

struct rowbuf {
	struct db_row *rows;
	size_t n, cap;
};

static struct db_row *row_add(struct rowbuf *rb)
{
	if (GROW(rb->rows, rb->cap, rb->n + 1, 1024) < 0)
		return NULL;
	memset(&rb->rows[rb->n], 0, sizeof(rb->rows[0]));
	rb->rows[rb->n].flags = -1;
	return &rb->rows[rb->n++];
}

static void add_gap_row(struct rowbuf *rb, unsigned h, unsigned v, const struct gapacc *g,
			const char *why)
{
	struct db_row *r;

	if (!g->count || !(r = row_add(rb)))
		return;
	r->kind = "gap";
	r->ts = g->last_ts;
	r->first_ts = g->first_ts;
	r->count = (int64_t)g->count;
	r->hook = engine_hook_name(h);
	r->verdict = engine_ev_name(v);
	r->note = why;
}

static void add_gap_rows(struct rowbuf *rb, struct gapacc g[GAP_ROWS][HUSH_EV_MAX], const char *why)
{
	for (unsigned h = 0; h < GAP_ROWS; h++)
		for (unsigned v = 0; v < HUSH_EV_MAX; v++)
			add_gap_row(rb, gap_hook(h), v, &g[h][v], why);
}

/* Every row names this host (the name as it is now). */
static void host_rows(struct store *s, struct rowbuf *rb)
{
	if (gethostname(s->hostname, sizeof(s->hostname)) != 0)
		s->hostname[0] = 0;
	s->hostname[sizeof(s->hostname) - 1] = 0;
	for (size_t i = 0; i < rb->n; i++) {
		rb->rows[i].hostname = s->hostname;
		rb->rows[i].host_id = s->host_id;
	}
}

/* Rows for a batch; strings point into the batch (and daddr buffers). */
static int build_rows(struct store *s, struct batch *b, struct rowbuf *rb, char (*addrs)[48])
{
	for (size_t i = 0; i < s->n_wnotes; i++) {
		struct db_row *r = row_add(rb);

		if (!r)
			return -ENOMEM;
		r->kind = "note";
		r->ts = r->first_ts = s->wnotes[i].ts;
		r->note = s->wnotes[i].text;
	}
	add_gap_rows(rb, s->wgap, s->wgap_why);
	if (!b)
		return 0;
	for (size_t i = 0; i < b->n_notes; i++) {
		struct db_row *r = row_add(rb);

		if (!r)
			return -ENOMEM;
		r->kind = "note";
		r->ts = r->first_ts = b->notes[i].ts;
		r->note = b->notes[i].text;
	}
	for (uint32_t i = 0; i < b->n; i++) {
		const struct bent *en = &b->ents[i];
		const struct hush_event *e = &en->key;
		struct db_row *r = row_add(rb);
		if (!r)
			return -ENOMEM;
		r->kind = "attempt";
		r->ts = en->last_ts;
		r->first_ts = en->first_ts;
		r->count = (int64_t)en->count;
		r->hook = engine_hook_name(e->hook);
		r->verdict = engine_ev_name(e->verdict);
		r->rule_scope = store_astr(b, en->rule_scope);
		r->rule_text = store_astr(b, en->rule_text);
		r->family = e->family == 2 ? 4 : 6;
		r->proto = proto_name(e->proto);
		event_addr(e, addrs[i], 48);
		r->daddr = addrs[i];
		/* a socket made, a process moved: no destination */
		r->has_dest = e->hook != HUSH_HOOK_SOCK && e->hook != HUSH_HOOK_CGMOVE;
		memset(r->dkey, 0, 16);
		if (e->family == 2) {
			r->dkey[10] = r->dkey[11] = 0xff;
			memcpy(r->dkey + 12, e->daddr, 4);
		} else {
			memcpy(r->dkey, e->daddr, 16);
		}
		r->dport = e->dport;
		r->qname = store_astr(b, en->qname);
		if (e->hook == HUSH_HOOK_DNS) {
			r->qtype = store_astr(b, en->qtype);
			r->note = store_astr(b, en->note);
		} else if (e->flags & HUSH_EVF_NOPROC) {
			/* never a blank process without a word why */
			r->note = "process unknown: a packet has no process context, and its "
				  "socket has no owner record (made before hush attached, never "
				  "judged by a socket hook, or the kernel's own)";
		}
		r->flags = e->flags;
		if (!(e->flags & HUSH_EVF_NOPROC)) {
			r->has_proc_ids = true;
			r->pid = e->pid;
			r->tgid = e->tgid;
			r->uid = e->uid;
			r->gid = e->gid;
			r->comm = store_astr(b, en->comm);
		}
		r->exe = store_astr(b, en->exe);
		r->cmdline = store_astr(b, en->cmdline);
		if (e->cgroup_id) {
			r->has_cgroup = true;
			r->cgid = e->cgroup_id;
			r->cgroup_path = store_astr(b, en->cgpath);
			r->container = store_astr(b, en->container);
			r->runtime = store_astr(b, en->runtime);
			r->unit = store_astr(b, en->unit);
			r->pod = store_astr(b, en->pod);
			r->cname = store_astr(b, en->cname);
			r->image = store_astr(b, en->image);
			r->image_id = store_astr(b, en->image_id);
			r->pod_ns = store_astr(b, en->pod_ns);
			r->pod_name = store_astr(b, en->pod_name);
		}
		r->has_ppid = en->has_ppid;
		r->ppid = en->ppid;
		r->ancestry = store_astr(b, en->ancestry);
	}
	for (unsigned h = 0; h < HUSH_HOOK_MAX; h++) {
		const char *why;
		uint64_t tot = 0;

		for (unsigned v = 0; v < HUSH_EV_MAX; v++)
			tot += b->lost[h][v].count;
		if (!tot)
			continue;
		/* The kernel's own lost count for the hook tells which it was. */
		why = b->ring_lost[h] >= tot
			  ? "ring buffer full: counted by the kernel, not reported"
			  : "not reported: lost between the kernel and the database (ring "
			    "buffer full, or hushd stopped before writing them)";
		for (unsigned v = 0; v < HUSH_EV_MAX; v++)
			add_gap_row(rb, h, v, &b->lost[h][v], why);
	}
	add_gap_rows(rb, b->over,
		     "not recorded in detail: the database writer fell behind (counted here)");
	return 0;
}

/* A failed write: keep counting what it held. */
static void fold_failed(struct store *s, struct batch *b, const char *err)
{
	/* The first failure's reason names the stretch. */
	if (!s->wgap_why[0])
		snprintf(s->wgap_why, sizeof(s->wgap_why), "not written: %s", err);
	if (!b)
		return;
	for (uint32_t i = 0; i < b->n; i++) {
		const struct bent *en = &b->ents[i];

		/* DNS rows go to their own accumulator: a gap row with hook "dns". */
		store_gap_add(&s->wgap[gap_row(en->key.hook)][en->key.verdict % HUSH_EV_MAX],
			      en->count, en->first_ts, en->last_ts);
	}
	for (unsigned h = 0; h < GAP_ROWS; h++)
		for (unsigned v = 0; v < HUSH_EV_MAX; v++) {
			struct gapacc *o = &b->over[h][v];

			if (h < HUSH_HOOK_MAX) {
				struct gapacc *g = &b->lost[h][v];

				store_gap_add(&s->wgap[h][v], g->count, g->first_ts, g->last_ts);
			}
			store_gap_add(&s->wgap[h][v], o->count, o->first_ts, o->last_ts);
		}
	for (size_t i = 0; i < b->n_notes && s->n_wnotes < 64; i++) {
		struct note *nn = realloc(s->wnotes, (s->n_wnotes + 1) * sizeof(*nn));

		if (!nn)
			break;
		s->wnotes = nn;
		s->wnotes[s->n_wnotes++] = b->notes[i];
		b->notes[i].text = NULL;
	}
}

static void merge_marks(struct store *s, const struct batch *b)
{
	for (size_t i = 0; b && i < b->n_marks; i++) {
		size_t k = (size_t)b->marks[i].cpu * HUSH_CTR_MAX + b->marks[i].hook * HUSH_EV_MAX +
			   b->marks[i].verdict;

		if (b->marks[i].cpu >= (uint32_t)s->ncpu)
			continue;
		s->wmarks[k] = b->marks[i];
		s->wmark_set[k] = true;
	}
}

static void try_open(struct store *s)
{
	char err[512];
	int64_t now = mono_ns();

	if (s->db || now < s->next_open_try)
		return;
	s->next_open_try = now + 1000000000LL;
	if (db_open(s->path, DB_RDWR, &s->db, err, sizeof(err)) == 0) {
		s->roll_done = false;
		store_db_opened(s);
	} else {
		if (strcmp(err, s->last_err) != 0)
			log_warnx("%s (enforcement continues; attempts are counted and recorded "
				  "once the database can be written)",
				  err);
		snprintf(s->last_err, sizeof(s->last_err), "%s", err);
		pthread_mutex_lock(&s->mu);
		s->st.open = false;
		snprintf(s->st.error, sizeof(s->st.error), "%s", err);
		pthread_mutex_unlock(&s->mu);
	}
}

static void write_batch(struct store *s, struct batch *b)
{
	struct rowbuf rb = {0};
	char(*addrs)[48] = NULL;
	struct db_mark *marks = NULL;
	size_t nm = 0, tot = (size_t)s->ncpu * HUSH_CTR_MAX;
	char err[512] = "out of memory";
	int rc = -ENOMEM;
	uint64_t had_gap = 0;

	merge_marks(s, b);
	try_open(s);
	if (!s->db) {
		fold_failed(s, b, s->last_err[0] ? s->last_err : "database not open");
		return;
	}
	for (unsigned h = 0; h < GAP_ROWS; h++)
		for (unsigned v = 0; v < HUSH_EV_MAX; v++)
			had_gap += s->wgap[h][v].count;
	if (b && b->n)
		addrs = malloc((size_t)b->n * sizeof(*addrs));
	marks = calloc(tot, sizeof(*marks));
	if ((!b || !b->n || addrs) && marks && build_rows(s, b, &rb, addrs) == 0) {
		host_rows(s, &rb);
		for (size_t k = 0; k < tot; k++)
			if (s->wmark_set[k])
				marks[nm++] = s->wmarks[k];
		rc =
		    (rb.n || nm) ? db_append(s->db, rb.rows, rb.n, marks, nm, err, sizeof(err)) : 0;
	}
	if (rc == 0) {
		int64_t now = real_ns();

		if (s->last_err[0] || had_gap)
			log_info("database %s writable again%s", s->path,
				 had_gap ? ": the attempts it missed are recorded as a gap" : "");
		s->last_err[0] = 0;
		memset(s->wgap, 0, sizeof(s->wgap));
		s->wgap_why[0] = 0;
		for (size_t i = 0; i < s->n_wnotes; i++)
			free(s->wnotes[i].text);
		s->n_wnotes = 0;
		memset(s->wmark_set, 0, tot * sizeof(*s->wmark_set));
		pthread_mutex_lock(&s->mu);
		s->st.open = true;
		s->st.error[0] = 0;
		s->st.rows_written += rb.n;
		if (rb.n)
			s->roll_done = false;
		if (rb.n)
			s->st.commits++;
		s->st.last_commit_ns = now;
		if (b && b->oldest)
			s->st.lag_s = (double)(now - b->oldest) / 1e9;
		pthread_mutex_unlock(&s->mu);
	} else {
		if (strcmp(err, s->last_err) != 0)
			log_warnx("%s (enforcement continues; the kernel keeps counting and the "
				  "missed attempts are recorded as a gap once writing works)",
				  err);
		snprintf(s->last_err, sizeof(s->last_err), "%s", err);
		fold_failed(s, b, err);
		pthread_mutex_lock(&s->mu);
		snprintf(s->st.error, sizeof(s->st.error), "%s", err);
		pthread_mutex_unlock(&s->mu);
		/* Read-only or vanished: reopen next time (a remount needs it). */
		if (strstr(err, "read-only") || strstr(err, "I/O") ||
		    strstr(err, "unable to open")) {
			db_close(s->db);
			s->db = NULL;
		}
	}
	free(marks);
	free(addrs);
	free(rb.rows);
}

/* Age: once a minute.  Size: whenever the files outgrow the limit (a stat
 * per commit), so a burst cannot run the disk full first. */
static void retain(struct store *s)
{
	int64_t now = mono_ns(), cutoff = 0;
	uint64_t removed = 0;
	char err[512];

	if (!s->db || (!s->o.retain_ns && !s->o.max_bytes))
		return;
	if (s->o.retain_ns && now >= s->next_retain) {
		s->next_retain = now + RETAIN_EVERY_S * 1000000000LL;
		cutoff = real_ns() - s->o.retain_ns;
	}
	if (!cutoff && !(s->o.max_bytes && db_file_bytes(s->db) > s->o.max_bytes))
		return;
	if (db_prune(s->db, cutoff, s->o.max_bytes, &removed, err, sizeof(err)))
		log_warnx("retention: %s", err);
	else if (removed)
		log_info("retention: pruned %llu rows", (unsigned long long)removed);
}

static bool wgap_pending(const struct store *s)
{
	for (unsigned h = 0; h < GAP_ROWS; h++)
		for (unsigned v = 0; v < HUSH_EV_MAX; v++)
			if (s->wgap[h][v].count)
				return true;
	return s->n_wnotes > 0;
}

/* Rows per catch-up transaction: a few tens of ms, so a batch never waits long. */
#define CATCHUP_ROWS 4096

/* No batch waiting: bring the rollups up to the rows, a chunk at a time,
 * until they are or a batch comes (the rows always go first). */
static void catch_up(struct store *s)
{
	int64_t done = 0, left = 0;
	char err[512];

	while (s->db && !s->roll_done) {
		bool busy;

		pthread_mutex_lock(&s->mu);
		/* (Stopping: db_close gives it a second.) */
		busy = s->qhead != NULL || s->stopping;
		pthread_mutex_unlock(&s->mu);
		if (busy)
			return;
		if (db_rollup_catchup(s->db, CATCHUP_ROWS, &done, &left, err, sizeof(err))) {
			if (strcmp(err, s->roll_err) != 0)
				log_warnx("%s (`hush log top` reads the rows it lacks from the "
					  "table meanwhile; retried)",
					  err);
			snprintf(s->roll_err, sizeof(s->roll_err), "%s", err);
			return;
		}
		if (s->roll_err[0])
			log_info("rollups of %s: written again", s->path);
		s->roll_err[0] = 0;
		s->roll_done = left == 0;
		pthread_mutex_lock(&s->mu);
		s->st.rollup_behind = (uint64_t)left;
		pthread_mutex_unlock(&s->mu);
	}
	(void)done;
}

void *store_writer_main(void *arg)
{
	struct store *s = arg;

	for (;;) {
		struct batch *b = NULL;
		bool stop;

		pthread_mutex_lock(&s->mu);
		if (!s->qhead && !s->stopping) {
			struct timespec dl;

			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_sec += 1;
			pthread_cond_timedwait(&s->cv, &s->mu, &dl);
		}
		b = s->qhead;
		if (b) {
			s->qhead = b->next;
			if (!s->qhead)
				s->qtail = NULL;
			s->qlen--;
			pthread_cond_broadcast(&s->cv);
		}
		stop = s->stopping && !s->qhead;
		pthread_mutex_unlock(&s->mu);

		if (b || wgap_pending(s))
			write_batch(s, b);
		else
			try_open(s);
		if (b) {
			pthread_mutex_lock(&s->mu);
			s->st.pending_rows -= b->n;
			pthread_mutex_unlock(&s->mu);
			store_batch_free(b);
		}
		retain(s);
		catch_up(s);
		if (stop && !b)
			break;
	}
	return NULL;
}
