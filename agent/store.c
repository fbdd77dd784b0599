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

#include "attrib.h"
#include "db.h"
#include "engine.h"
#include "event.h"
#include "log.h"
#include "store.h"

#define BATCH_KEYS_MAX (1u << 16) /* distinct rows per batch; then counted as gaps */
#define QUEUE_MAX      16	  /* batches waiting for the writer */
#define PCACHE	       512	  /* per-batch process cache (direct-mapped by tgid) */
#define RETAIN_EVERY_S 60
#define QNAME_MAX      1024 /* DNS name in presentation form, escapes included */
#define QTYPE_MAX      16
#define DNSNOTE_MAX    256

/*
 * Rows of the accumulators of attempts counted but not stored in detail
 * (batch full, write failed): one per kernel hook, and one for the DNS
 * proxy's queries, which have no kernel sequence and no hook number below
 * HUSH_HOOK_MAX.  The sequence holes (batch.lost) are kernel hooks only.
 */
#define GAP_DNS	 HUSH_HOOK_MAX
#define GAP_ROWS (HUSH_HOOK_MAX + 1)

static unsigned gap_row(unsigned hook)
{
	return hook == HUSH_HOOK_DNS ? GAP_DNS : hook % HUSH_HOOK_MAX;
}

static unsigned gap_hook(unsigned row)
{
	return row == GAP_DNS ? HUSH_HOOK_DNS : row;
}

struct bent {
	/* ts, seq, cpu zeroed: the coalescing key.  cookie: 0 for attempts; for
	 * DNS rows a hash of qname, qtype and note (which are compared too). */
	struct hush_event key;
	uint64_t count;
	int64_t first_ts, last_ts; /* realtime ns */
	/* Arena offsets (0: NULL).  qname: a DNS row's query, or the name a DNS
	 * answer gave an attempt's destination; qtype, note: DNS rows only. */
	uint32_t comm, rule_scope, rule_text, exe, cmdline, cgpath, container, runtime, unit, pod;
	uint32_t qname, qtype, note;
};

/* A DNS query's strings (store_dns). */
struct dnsq {
	const char *qname, *qtype, *note;
};

struct gapacc {
	uint64_t count;
	int64_t first_ts, last_ts;
};

struct note {
	int64_t ts;
	char *text;
};

struct batch {
	struct bent *ents;
	uint32_t n, cap;
	uint32_t *idx; /* open addressing: entry index + 1 */
	uint32_t idx_cap;
	char *arena;
	size_t used, acap;
	struct gapacc lost[HUSH_HOOK_MAX][HUSH_EV_MAX]; /* sequence holes */
	struct gapacc over[GAP_ROWS][HUSH_EV_MAX];	/* batch full, writer behind */
	uint64_t ring_lost[HUSH_HOOK_MAX];		/* kernel LOST counter delta */
	struct note *notes;
	size_t n_notes;
	struct db_mark *marks;
	size_t n_marks;
	int64_t oldest; /* realtime ns of the oldest attempt (0: none) */
	uint64_t attempts;
	int64_t opened_mono;
	struct {
		uint32_t tgid;
		char comm[16];
		uint32_t exe, cmdline;
		uint8_t state; /* 0 empty, 1 known, 2 unknown */
	} pcache[PCACHE];
	struct batch *next;
};

struct seqst {
	uint64_t w, maxs, above, prevk;
	bool dirty;
};

struct store {
	struct store_opts o;
	char path[PATH_MAX];
	struct engine *eng;
	int ncpu;

	/* drain thread */
	struct seqst *seq; /* ncpu * HUSH_CTR_MAX */
	uint64_t *kbuf;
	uint64_t lost_seen[HUSH_HOOK_MAX];
	bool lost_init;
	struct batch *cur;
	store_namer_fn namer;
	void *namer_ctx;
	int64_t next_reconcile;
	int64_t last_reconcile_real;

	/* shared */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch *qhead, *qtail;
	unsigned qlen;
	bool stopping;
	struct store_status st;
	pthread_t writer;
	bool writer_started;

	/* writer thread */
	struct db *db;
	int64_t next_open_try;
	int64_t next_retain;
	struct gapacc wgap[GAP_ROWS][HUSH_EV_MAX]; /* rows a failed write could not store */
	char wgap_why[640];
	struct note *wnotes;
	size_t n_wnotes;
	struct db_mark *wmarks; /* latest marks not yet committed, by index */
	bool *wmark_set;
	char last_err[512];
};

static int64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int64_t real_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static bool tracked(const struct store *s, unsigned idx)
{
	return idx % HUSH_EV_MAX != HUSH_EV_LOST &&
	       (idx % HUSH_EV_MAX != HUSH_EV_ALLOW || s->o.log_allowed);
}

/* ---- batches ---- */

static void batch_free(struct batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_notes; i++)
		free(b->notes[i].text);
	free(b->notes);
	free(b->marks);
	free(b->ents);
	free(b->idx);
	free(b->arena);
	free(b);
}

static struct batch *batch_new(void)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->acap = 1 << 16;
	b->arena = malloc(b->acap);
	b->idx_cap = 1024;
	b->idx = calloc(b->idx_cap, sizeof(*b->idx));
	if (!b->arena || !b->idx) {
		batch_free(b);
		return NULL;
	}
	b->arena[0] = 0;
	b->used = 1;
	b->opened_mono = mono_ns();
	return b;
}

/* Copy a string into the arena; returns its offset (0 for NULL/""). */
static uint32_t intern(struct batch *b, const char *str, size_t max)
{
	size_t n;
	uint32_t off;

	if (!str || !*str)
		return 0;
	n = strnlen(str, max);
	while (b->used + n + 1 > b->acap) {
		char *na;

		if (b->acap >= (1u << 30))
			return 0;
		na = realloc(b->arena, b->acap * 2);
		if (!na)
			return 0;
		b->arena = na;
		b->acap *= 2;
	}
	off = (uint32_t)b->used;
	memcpy(b->arena + off, str, n);
	b->arena[off + n] = 0;
	b->used += n + 1;
	return off;
}

static const char *astr(const struct batch *b, uint32_t off)
{
	return off ? b->arena + off : NULL;
}

/* Is the arena string at off what intern(b, str, max) stored? */
static bool astr_is(const struct batch *b, uint32_t off, const char *str, size_t max)
{
	size_t n;

	if (!str || !*str)
		return off == 0;
	n = strnlen(str, max);
	return off && strncmp(b->arena + off, str, n) == 0 && b->arena[off + n] == 0;
}

/* FNV-1a over a string as intern() keeps it, then a separator. */
static uint64_t str_hash(uint64_t h, const char *str, size_t max)
{
	size_t n = str ? strnlen(str, max) : 0;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)str[i]) * 1099511628211ull;
	return (h ^ 0x1f) * 1099511628211ull;
}

/* The part of a DNS row's identity that is not in the event: the key's
 * cookie.  Only a hint: entries with equal keys compare the strings too, so
 * a name crafted to collide still gets its own row. */
static uint64_t dnsq_hash(const struct dnsq *q)
{
	uint64_t h = 1469598103934665603ull;

	h = str_hash(h, q->qname, QNAME_MAX);
	h = str_hash(h, q->qtype, QTYPE_MAX);
	h = str_hash(h, q->note, DNSNOTE_MAX);
	return h;
}

static bool dnsq_is(const struct batch *b, const struct bent *en, const struct dnsq *q)
{
	return astr_is(b, en->qname, q->qname, QNAME_MAX) &&
	       astr_is(b, en->qtype, q->qtype, QTYPE_MAX) &&
	       astr_is(b, en->note, q->note, DNSNOTE_MAX);
}

static uint64_t key_hash(const struct hush_event *k)
{
	const unsigned char *p = (const unsigned char *)k;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

static int idx_grow(struct batch *b)
{
	uint32_t ncap = b->idx_cap * 2, *ni = calloc(ncap, sizeof(*ni));

	if (!ni)
		return -ENOMEM;
	for (uint32_t i = 0; i < b->n; i++) {
		uint32_t j = (uint32_t)key_hash(&b->ents[i].key) & (ncap - 1);

		while (ni[j])
			j = (j + 1) & (ncap - 1);
		ni[j] = i + 1;
	}
	free(b->idx);
	b->idx = ni;
	b->idx_cap = ncap;
	return 0;
}

static void gap_add(struct gapacc *g, uint64_t n, int64_t first, int64_t last)
{
	if (!n)
		return;
	if (!g->count || first < g->first_ts)
		g->first_ts = first;
	if (!g->count || last > g->last_ts)
		g->last_ts = last;
	g->count += n;
}

/* Process, cgroup and rule for a new row (first event of its kind). */
static void enrich(struct store *s, struct batch *b, struct bent *en, const struct hush_event *e,
		   const struct policy_compiled *pc)
{
	char comm[17];
	const char *rt, *cg;

	memcpy(comm, e->comm, 16);
	comm[16] = 0;
	en->comm = (e->flags & HUSH_EVF_NOPROC) ? 0 : intern(b, comm, 16);
	rt = event_rule_text(pc, e->rule);
	if (rt) {
		const char *scope = "?";
		char sb[16];

		/* "/": the top level (hushd's cgroup); else the scope's path. */
		if (pc && e->scope < pc->nscopes)
			scope = pc->scopes[e->scope].path[0] ? pc->scopes[e->scope].path : "/";
		else if (e->scope == (uint32_t)-1)
			scope = "-";
		else
			snprintf(sb, sizeof(sb), "#%u", e->scope), scope = sb;
		en->rule_scope = intern(b, scope, 4096);
		en->rule_text = intern(b, rt, 4096);
	}
	if (e->tgid && !(e->flags & HUSH_EVF_NOPROC)) {
		unsigned slot = (e->tgid * 2654435761u) % PCACHE;

		if (b->pcache[slot].state && b->pcache[slot].tgid == e->tgid &&
		    memcmp(b->pcache[slot].comm, e->comm, 16) == 0) {
			en->exe = b->pcache[slot].exe;
			en->cmdline = b->pcache[slot].cmdline;
		} else {
			struct hush_proc proc;

			b->pcache[slot].tgid = e->tgid;
			memcpy(b->pcache[slot].comm, e->comm, 16);
			b->pcache[slot].state = 2;
			b->pcache[slot].exe = b->pcache[slot].cmdline = 0;
			if (event_proc(s->eng, e, &proc) == 0 && proc.exe[0]) {
				char cj[4 * HUSH_CMDLINE_LEN + 64];

				event_cmdline_json(&proc, cj, sizeof(cj));
				en->exe = intern(b, proc.exe, sizeof(proc.exe));
				en->cmdline = intern(b, cj, sizeof(cj));
				b->pcache[slot].state = 1;
				b->pcache[slot].exe = en->exe;
				b->pcache[slot].cmdline = en->cmdline;
			}
		}
	}
	cg = event_cgroup_name(e->cgroup_id);
	if (e->cgroup_id) {
		struct attrib a;

		attrib_parse(cg, &a);
		en->cgpath = intern(b, cg ? cg : "?", 4096);
		en->container = intern(b, a.container_id, sizeof(a.container_id));
		en->runtime = intern(b, a.runtime, sizeof(a.runtime));
		en->unit = intern(b, a.unit, sizeof(a.unit));
		en->pod = intern(b, a.pod_uid, sizeof(a.pod_uid));
	}
}

static struct batch *cur_batch(struct store *s)
{
	if (!s->cur)
		s->cur = batch_new();
	return s->cur;
}

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
	b = cur_batch(s);
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
				gap_add(&b->lost[idx / HUSH_EV_MAX][idx % HUSH_EV_MAX], n, since,
					now);
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

/* ---- drain thread API ---- */

/*
 * Coalesce one event into the open batch: count it into the row with the
 * same key (and, for a DNS query, the same strings), or open a new row and
 * enrich it.  q: the strings of a DNS query, NULL for an attempt.
 */
static void batch_add(struct store *s, const struct hush_event *e, const struct dnsq *q,
		      const struct policy_compiled *pc, int64_t boot_to_real)
{
	struct hush_event k = *e;
	int64_t ts = (int64_t)e->ts_ns + boot_to_real;
	struct gapacc *over;
	struct batch *b;
	uint64_t h;
	uint32_t j;

	b = cur_batch(s);
	if (!b) {
		log_warnx(q ? "out of memory: a DNS query is not recorded"
			    : "out of memory: an attempt is counted only by the kernel");
		return;
	}
	over = &b->over[gap_row(e->hook)][e->verdict % HUSH_EV_MAX];
	k.ts_ns = k.cookie = k.seq = 0;
	k.cpu = 0;
	k.pad = 0;
	if (q)
		k.cookie = dnsq_hash(q);
	/* comm bytes past the NUL are not part of the identity. */
	{
		size_t cl = strnlen(k.comm, sizeof(k.comm));

		memset(k.comm + cl, 0, sizeof(k.comm) - cl);
	}
	b->attempts++;
	if (!b->oldest || ts < b->oldest)
		b->oldest = ts;
	h = key_hash(&k);
	for (j = (uint32_t)h & (b->idx_cap - 1); b->idx[j]; j = (j + 1) & (b->idx_cap - 1)) {
		struct bent *en = &b->ents[b->idx[j] - 1];

		if (memcmp(&en->key, &k, sizeof(k)) == 0 && (!q || dnsq_is(b, en, q))) {
			en->count++;
			if (ts < en->first_ts)
				en->first_ts = ts;
			if (ts > en->last_ts)
				en->last_ts = ts;
			return;
		}
	}
	/* A new row. */
	if (b->n >= BATCH_KEYS_MAX || (b->n == b->cap && b->cap >= BATCH_KEYS_MAX)) {
		gap_add(over, 1, ts, ts);
		return;
	}
	if (b->n == b->cap) {
		uint32_t ncap = b->cap ? b->cap * 2 : 256;
		struct bent *ne = realloc(b->ents, ncap * sizeof(*ne));

		if (!ne) {
			gap_add(over, 1, ts, ts);
			return;
		}
		b->ents = ne;
		b->cap = ncap;
	}
	if ((b->n + 1) * 2 > b->idx_cap) {
		if (idx_grow(b)) {
			gap_add(over, 1, ts, ts);
			return;
		}
		for (j = (uint32_t)h & (b->idx_cap - 1); b->idx[j]; j = (j + 1) & (b->idx_cap - 1))
			;
	}
	struct bent *en = &b->ents[b->n];

	memset(en, 0, sizeof(*en));
	en->key = k;
	en->count = 1;
	en->first_ts = en->last_ts = ts;
	enrich(s, b, en, e, pc);
	if (q) {
		en->qname = intern(b, q->qname, QNAME_MAX);
		en->qtype = intern(b, q->qtype, QTYPE_MAX);
		en->note = intern(b, q->note, DNSNOTE_MAX);
	} else if (s->namer) {
		char name[QNAME_MAX];

		if (s->namer(s->namer_ctx, e->family, e->daddr, name, sizeof(name)) == 0) {
			name[sizeof(name) - 1] = 0;
			en->qname = intern(b, name, sizeof(name));
		}
	}
	b->idx[j] = ++b->n;
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
	batch_add(s, e, NULL, pc, boot_to_real);
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
	batch_add(s, &d, &q, pc, boot_to_real);
}

void store_set_namer(struct store *s, store_namer_fn fn, void *ctx)
{
	s->namer = fn;
	s->namer_ctx = ctx;
}

void store_note(struct store *s, const char *fmt, ...)
{
	struct batch *b = cur_batch(s);
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

/* ---- writer thread ---- */

/* Protocol names that outlive the call (numbers for the unnamed). */
static char proto_num[256][4];

static const char *proto_name(uint8_t p)
{
	char pb[8];
	const char *n = event_proto_name(p, pb, sizeof(pb));

	return n != pb ? n : proto_num[p];
}

struct rowbuf {
	struct db_row *rows;
	size_t n, cap;
	char *text; /* owned strings for gap rows */
	size_t tused, tcap;
};

static struct db_row *row_add(struct rowbuf *rb)
{
	if (rb->n == rb->cap) {
		size_t nc = rb->cap ? rb->cap * 2 : 1024;
		struct db_row *nr = realloc(rb->rows, nc * sizeof(*nr));

		if (!nr)
			return NULL;
		rb->rows = nr;
		rb->cap = nc;
	}
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
		r->rule_scope = astr(b, en->rule_scope);
		r->rule_text = astr(b, en->rule_text);
		r->family = e->family == 2 ? 4 : 6;
		r->proto = proto_name(e->proto);
		event_addr(e, addrs[i], 48);
		r->daddr = addrs[i];
		r->has_dest = e->hook != HUSH_HOOK_SOCK; /* a socket made: no destination */
		memset(r->dkey, 0, 16);
		if (e->family == 2) {
			r->dkey[10] = r->dkey[11] = 0xff;
			memcpy(r->dkey + 12, e->daddr, 4);
		} else {
			memcpy(r->dkey, e->daddr, 16);
		}
		r->dport = e->dport;
		r->qname = astr(b, en->qname);
		if (e->hook == HUSH_HOOK_DNS) {
			r->qtype = astr(b, en->qtype);
			r->note = astr(b, en->note);
		}
		r->flags = e->flags;
		if (!(e->flags & HUSH_EVF_NOPROC)) {
			r->has_proc_ids = true;
			r->pid = e->pid;
			r->tgid = e->tgid;
			r->uid = e->uid;
			r->gid = e->gid;
			r->comm = astr(b, en->comm);
		}
		r->exe = astr(b, en->exe);
		r->cmdline = astr(b, en->cmdline);
		if (e->cgroup_id) {
			r->has_cgroup = true;
			r->cgid = e->cgroup_id;
			r->cgroup_path = astr(b, en->cgpath);
			r->container = astr(b, en->container);
			r->runtime = astr(b, en->runtime);
			r->unit = astr(b, en->unit);
			r->pod = astr(b, en->pod);
		}
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
		gap_add(&s->wgap[gap_row(en->key.hook)][en->key.verdict % HUSH_EV_MAX], en->count,
			en->first_ts, en->last_ts);
	}
	for (unsigned h = 0; h < GAP_ROWS; h++)
		for (unsigned v = 0; v < HUSH_EV_MAX; v++) {
			struct gapacc *o = &b->over[h][v];

			if (h < HUSH_HOOK_MAX) {
				struct gapacc *g = &b->lost[h][v];

				gap_add(&s->wgap[h][v], g->count, g->first_ts, g->last_ts);
			}
			gap_add(&s->wgap[h][v], o->count, o->first_ts, o->last_ts);
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
	if (db_open(s->path, DB_RDWR, &s->db, err, sizeof(err))) {
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

static void *writer_main(void *arg)
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
			batch_free(b);
		}
		retain(s);
		if (stop && !b)
			break;
	}
	return NULL;
}

/* ---- open/close ---- */

int store_open(const struct store_opts *o, struct engine *eng, struct store **out)
{
	struct store *s = calloc(1, sizeof(*s));
	char err[512];
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
	for (int i = 0; i < 256; i++)
		snprintf(proto_num[i], sizeof(proto_num[i]), "%d", i);
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

	/* Where the last hushd left off: its marks, if they number the same
	 * kernel sequence (the map is re-created with the enforcement).  A
	 * database we cannot write may still be readable for that. */
	{
		struct db *rdb = NULL;
		bool writable = db_open(s->path, DB_RDWR, &s->db, err, sizeof(err)) == 0;
		char rerr[512];

		if (writable)
			rdb = s->db;
		else if (db_open(s->path, DB_RDONLY, &rdb, rerr, sizeof(rerr)) != 0)
			rdb = NULL;
		if (!writable) {
			log_warnx(
			    "%s (enforcement continues; attempts are counted by the kernel and "
			    "recorded once the database can be written)",
			    err);
			snprintf(s->last_err, sizeof(s->last_err), "%s", err);
			snprintf(s->st.error, sizeof(s->st.error), "%s", err);
		}
		if (rdb) {
			int64_t id = 0;
			uint32_t kid = engine_evseq_id(eng);
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
	s->st.open = s->db != NULL;
	for (size_t k = 0; k < tot; k++)
		s->seq[k].prevk = UINT64_MAX;
	s->next_reconcile = mono_ns() + 1000000000LL;
	s->last_reconcile_real = real_ns();
	ret = pthread_create(&s->writer, NULL, writer_main, s);
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
	batch_free(s->cur);
	while (s->qhead) {
		struct batch *b = s->qhead;

		s->qhead = b->next;
		batch_free(b);
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
