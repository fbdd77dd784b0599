// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Ring buffer -> coalescing batch -> writer thread -> SQLite.  See store.h.
 *
 * Threads: the drain thread owns the open batch and the sequence state; the
 * writer thread owns the database handle once store_open() returns.  They
 * share only the batch queue and the status figures (one mutex).
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

#include <bpf/libbpf.h>

#include "agent/attrib.h"
#include "agent/db.h"
#include "agent/engine.h"
#include "agent/event.h"
#include "agent/log.h"
#include "agent/store_int.h"

/* ---- sequence accounting (drain thread) ---- */

/* false: the event was already counted in a gap (arrived too late). */
static bool seq_accept(struct store *s, const struct hush_event *e)
{
	unsigned idx = HUSH_CTR_IDX(e->hook, e->verdict);
	struct seqst *q;

	if (!e->seq || e->cpu >= (unsigned)s->ncpu || e->hook >= HUSH_HOOK_MAX ||
	    e->verdict >= HUSH_EV_MAX || !tracked(s, idx))
		return true;
	q = &s->seq[(size_t)e->cpu * HUSH_CTR_MAX + idx];
	if (e->seq <= q->w)
		return false;
	q->dirty = true;
	if (e->seq == q->w + 1 && !q->above) {
		q->w = q->maxs = e->seq;
		return true;
	}
	q->above++;
	if (e->seq > q->maxs)
		q->maxs = e->seq;
	if (q->maxs - q->w == q->above) { /* the holes filled in */
		q->w = q->maxs;
		q->above = 0;
	}
	return true;
}

/* Once a second: numbers never received become gap rows.  A hole among
 * received numbers is declared at once; numbers past the last one received
 * only once the kernel's count stood still for a second (they may still be
 * in the ring buffer or on their way). */
static void reconcile(struct store *s)
{
	uint64_t c[HUSH_CTR_MAX];
	int64_t now = real_ns(), since = s->last_reconcile_real ? s->last_reconcile_real : now;
	struct batch *b;

	if (engine_evseq(s->eng, s->kbuf, s->ncpu))
		return;
	b = store_cur_batch(s);
	if (!b)
		return;
	if (engine_counters(s->eng, c) == 0) {
		for (unsigned h = 0; h < HUSH_HOOK_MAX; h++) {
			uint64_t l = c[HUSH_CTR_IDX(h, HUSH_EV_LOST)];

			if (s->lost_init && l > s->lost_seen[h])
				b->ring_lost[h] += l - s->lost_seen[h];
			s->lost_seen[h] = l;
		}
		s->lost_init = true;
	}
	for (unsigned idx = 0; idx < HUSH_CTR_MAX; idx++) {
		if (!tracked(s, idx))
			continue;
		for (int cpu = 0; cpu < s->ncpu; cpu++) {
			struct seqst *q = &s->seq[(size_t)cpu * HUSH_CTR_MAX + idx];
			uint64_t k = s->kbuf[(size_t)idx * (size_t)s->ncpu + (size_t)cpu], n = 0;

			if (q->above) {
				n += q->maxs - q->w - q->above;
				q->w = q->maxs;
				q->above = 0;
				q->dirty = true;
			}
			if (k > q->w && k == q->prevk) {
				n += k - q->w;
				q->w = q->maxs = k;
				q->dirty = true;
			}
			q->prevk = k;
			if (n) {
				store_gap_add(&b->lost[idx / HUSH_EV_MAX][idx % HUSH_EV_MAX], n,
					      since, now);
				pthread_mutex_lock(&s->mu);
				s->st.gap_events += n;
				pthread_mutex_unlock(&s->mu);
			}
		}
	}
	s->last_reconcile_real = now;
}

static void snapshot_marks(struct store *s, struct batch *b)
{
	size_t n = 0, tot = (size_t)s->ncpu * HUSH_CTR_MAX;

	for (size_t k = 0; k < tot; k++)
		n += s->seq[k].dirty;
	if (!n)
		return;
	/* A batch the writer could not take yet is snapshotted again: append
	 * (merge_marks applies them in order, the later wins). */
	struct db_mark *nm = realloc(b->marks, (b->n_marks + n) * sizeof(*b->marks));

	if (!nm)
		return; /* marks stay dirty: the next batch carries them */
	b->marks = nm;
	for (size_t k = 0; k < tot; k++) {
		struct seqst *q = &s->seq[k];

		if (!q->dirty)
			continue;
		b->marks[b->n_marks++] = (struct db_mark){
		    .cpu = (uint32_t)(k / HUSH_CTR_MAX),
		    .hook = (uint32_t)(k % HUSH_CTR_MAX / HUSH_EV_MAX),
		    .verdict = (uint32_t)(k % HUSH_EV_MAX),
		    .seq = q->w,
		    .max_seen = q->maxs > q->w ? q->maxs : q->w,
		    .above = q->above,
		};
		q->dirty = false;
	}
}

void store_event(struct store *s, const struct hush_event *e, const struct policy_compiled *pc,
		 int64_t boot_to_real)
{
	if (!seq_accept(s, e)) {
		pthread_mutex_lock(&s->mu);
		s->st.late_events++;
		pthread_mutex_unlock(&s->mu);
		return;
	}
	store_batch_add(s, e, NULL, pc, boot_to_real);
}

void store_dns(struct store *s, const struct hush_event *e, const char *qname, const char *qtype,
	       const char *note, const struct policy_compiled *pc, int64_t boot_to_real)
{
	struct hush_event d = *e;
	struct dnsq q = {.qname = qname, .qtype = qtype, .note = note};

	/* Never part of the kernel's sequence accounting, whatever the caller
	 * left in these. */
	d.hook = HUSH_HOOK_DNS;
	d.seq = 0;
	store_batch_add(s, &d, &q, pc, boot_to_real);
}

void store_set_ctr(struct store *s, store_ctr_fn fn, void *ctx)
{
	s->ctr = fn;
	s->ctr_ctx = ctx;
}

void store_set_namer(struct store *s, store_namer_fn fn, void *ctx)
{
	s->namer = fn;
	s->namer_ctx = ctx;
}

void store_note(struct store *s, const char *fmt, ...)
{
	struct batch *b = store_cur_batch(s);
	struct note *nn;
	va_list ap;
	char *t;

	if (!b)
		return;
	va_start(ap, fmt);
	if (vasprintf(&t, fmt, ap) < 0)
		t = NULL;
	va_end(ap);
	if (!t)
		return;
	nn = realloc(b->notes, (b->n_notes + 1) * sizeof(*nn));
	if (!nn) {
		free(t);
		return;
	}
	b->notes = nn;
	b->notes[b->n_notes].ts = real_ns();
	b->notes[b->n_notes++].text = t;
}

static bool batch_empty(const struct batch *b)
{
	if (b->n || b->n_notes || b->n_marks)
		return false;
	for (unsigned h = 0; h < GAP_ROWS; h++)
		for (unsigned v = 0; v < HUSH_EV_MAX; v++)
			if ((h < HUSH_HOOK_MAX && b->lost[h][v].count) || b->over[h][v].count)
				return false;
	return true;
}

static void handover(struct store *s, bool force)
{
	struct batch *b = s->cur;

	if (!b)
		return;
	snapshot_marks(s, b);
	if (batch_empty(b))
		return;
	pthread_mutex_lock(&s->mu);
	while (force && s->qlen >= QUEUE_MAX && s->writer_started)
		pthread_cond_wait(&s->cv, &s->mu);
	if (s->qlen < QUEUE_MAX) {
		if (s->qtail)
			s->qtail->next = b;
		else
			s->qhead = b;
		s->qtail = b;
		s->qlen++;
		s->st.pending_rows += b->n;
		s->st.attempts_queued += b->attempts;
		s->cur = NULL;
		pthread_cond_broadcast(&s->cv);
	}
	/* else: the writer is behind; the batch stays open and keeps
	 * coalescing (past BATCH_KEYS_MAX distinct rows it counts gaps). */
	pthread_mutex_unlock(&s->mu);
}

void store_tick(struct store *s)
{
	int64_t now = mono_ns();

	if (now >= s->next_reconcile) {
		reconcile(s);
		s->next_reconcile = now + 1000000000LL;
	}
	if (s->cur && now - s->cur->opened_mono >= s->o.flush_ns)
		handover(s, false);
}

/* ---- open/close ---- */

/* Where the last hushd left off: its marks, if they number the same
 * kernel sequence (the map is re-created with the enforcement).  A
 * database we cannot write may still be readable for that. */
static void resume(struct store *s, size_t tot)
{
	char err[512];
	struct db *rdb = NULL;
	bool writable = db_open(s->path, DB_RDWR, &s->db, err, sizeof(err)) == 0;
	char rerr[512];

	if (writable) {
		store_db_opened(s);
		rdb = s->db;
	} else if (db_open(s->path, DB_RDONLY, &rdb, rerr, sizeof(rerr)) != 0)
		rdb = NULL;
	if (!writable) {
		log_warnx("%s (enforcement continues; attempts are counted by the kernel and "
			  "recorded once the database can be written)",
			  err);
		snprintf(s->last_err, sizeof(s->last_err), "%s", err);
		snprintf(s->st.error, sizeof(s->st.error), "%s", err);
	}
	if (rdb) {
		int64_t id = 0;
		uint32_t kid = engine_evseq_id(s->eng);
		struct db_mark *m = NULL;
		size_t nm = 0;

		if (db_meta_get_int(rdb, "evseq_map", &id) == 0 && (uint32_t)id == kid) {
			if (db_marks(rdb, &m, &nm) == 0)
				for (size_t i = 0; i < nm; i++) {
					size_t k;

					if (m[i].cpu >= (uint32_t)s->ncpu ||
					    m[i].hook >= HUSH_HOOK_MAX ||
					    m[i].verdict >= HUSH_EV_MAX)
						continue;
					k = (size_t)m[i].cpu * HUSH_CTR_MAX +
					    HUSH_CTR_IDX(m[i].hook, m[i].verdict);
					s->seq[k].w = m[i].seq;
					s->seq[k].maxs = m[i].max_seen;
					s->seq[k].above = m[i].above;
				}
			free(m);
		} else if (writable) {
			if (id)
				store_note(s, "the kernel's event counters were re-created "
					      "(enforcement was removed and set up again): "
					      "accounting restarts from zero");
			db_marks_reset(s->db);
			db_meta_set_int(s->db, "evseq_map", kid);
		}
		/* Every mark must reach the database with the next commit
		 * (a read-only start writes them once it can). */
		for (size_t k = 0; k < tot; k++)
			s->seq[k].dirty = true;
		if (rdb != s->db)
			db_close(rdb);
	} else {
		/* Nothing to resume from: count everything the kernel
		 * numbered (a gap for what came before us). */
		store_note(s,
			   "hushd started without a readable database (%s): attempts "
			   "the kernel counted before now are recorded as a gap",
			   err);
	}
}

int store_open(const struct store_opts *o, struct engine *eng, struct store **out)
{
	struct store *s = calloc(1, sizeof(*s));
	size_t tot;
	int ret;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->o = *o;
	if (!s->o.flush_ns)
		s->o.flush_ns = 200000000LL;
	snprintf(s->path, sizeof(s->path), "%s", o->path);
	s->o.path = s->path;
	s->eng = eng;
	s->ncpu = libbpf_num_possible_cpus();
	if (s->ncpu <= 0) {
		free(s);
		return -EINVAL;
	}
	store_proto_init();
	tot = (size_t)s->ncpu * HUSH_CTR_MAX;
	s->seq = calloc(tot, sizeof(*s->seq));
	s->kbuf = calloc(tot, sizeof(*s->kbuf));
	s->wmarks = calloc(tot, sizeof(*s->wmarks));
	s->wmark_set = calloc(tot, sizeof(*s->wmark_set));
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (!s->seq || !s->kbuf || !s->wmarks || !s->wmark_set) {
		store_close(s);
		return -ENOMEM;
	}

	resume(s, tot);
	s->st.open = s->db != NULL;
	for (size_t k = 0; k < tot; k++)
		s->seq[k].prevk = UINT64_MAX;
	s->next_reconcile = mono_ns() + 1000000000LL;
	s->last_reconcile_real = real_ns();
	ret = pthread_create(&s->writer, NULL, store_writer_main, s);
	if (ret) {
		store_close(s);
		return -ret;
	}
	s->writer_started = true;
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->writer_started) {
		handover(s, true);
		pthread_mutex_lock(&s->mu);
		s->stopping = true;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->writer, NULL);
	}
	store_batch_free(s->cur);
	while (s->qhead) {
		struct batch *b = s->qhead;

		s->qhead = b->next;
		store_batch_free(b);
	}
	for (size_t i = 0; i < s->n_wnotes; i++)
		free(s->wnotes[i].text);
	free(s->wnotes);
	db_close(s->db);
	free(s->seq);
	free(s->kbuf);
	free(s->wmarks);
	free(s->wmark_set);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

void store_status(struct store *s, struct store_status *st)
{
	pthread_mutex_lock(&s->mu);
	*st = s->st;
	pthread_mutex_unlock(&s->mu);
}
