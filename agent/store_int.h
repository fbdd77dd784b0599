/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the files of the store share (store.c: open/close, the drain
 * thread's API, sequence accounting; store_batch.c: the coalescing batch;
 * store_writer.c: the writer thread).  Not for use outside agent/store*.c.
 */
#ifndef HUSH_AGENT_STORE_INT_H
#define HUSH_AGENT_STORE_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "agent/db.h"
#include "agent/store.h"
#include "agent/util.h"

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

static inline unsigned gap_row(unsigned hook)
{
	return hook == HUSH_HOOK_DNS ? GAP_DNS : hook % HUSH_HOOK_MAX;
}

static inline unsigned gap_hook(unsigned row)
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
	uint32_t cname, image, image_id, pod_ns, pod_name; /* the engines' (0: unknown) */
	uint32_t ancestry;				   /* JSON array (lineage.h), 0: unknown */
	uint32_t ppid;
	bool has_ppid;
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
	uint32_t n;
	size_t cap;
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
		uint32_t exe, cmdline, ancestry, ppid;
		bool has_ppid;
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
	store_ctr_fn ctr;
	void *ctr_ctx;
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
	char hostname[256]; /* refreshed per write */
	char host_id[64];   /* lineage_host(), once */
	int64_t next_open_try;
	int64_t next_retain;
	struct gapacc wgap[GAP_ROWS][HUSH_EV_MAX]; /* rows a failed write could not store */
	char wgap_why[640];
	struct note *wnotes;
	size_t n_wnotes;
	struct db_mark *wmarks; /* latest marks not yet committed, by index */
	bool *wmark_set;
	char last_err[512];
	char roll_err[512]; /* the last catch-up's error (db_rollup_catchup) */
	bool roll_done;	    /* the rollups hold every row written (none since) */
};
static inline bool tracked(const struct store *s, unsigned idx)
{
	return idx % HUSH_EV_MAX != HUSH_EV_LOST &&
	       (idx % HUSH_EV_MAX != HUSH_EV_ALLOW || s->o.log_allowed);
}

/* store_batch.c */
struct batch *store_batch_new(void);
void store_batch_free(struct batch *b);
/* The open batch (a new one if none). */
struct batch *store_cur_batch(struct store *s);
/* The string at an arena offset (0: NULL). */
const char *store_astr(const struct batch *b, uint32_t off);
void store_gap_add(struct gapacc *g, uint64_t n, int64_t first, int64_t last);
/*
 * Coalesce one event into the open batch: count it into the row with the
 * same key (and, for a DNS query, the same strings), or open a new row and
 * enrich it.  q: the strings of a DNS query, NULL for an attempt.
 */
void store_batch_add(struct store *s, const struct hush_event *e, const struct dnsq *q,
		     const struct policy_compiled *pc, int64_t boot_to_real);

/* store_writer.c */
/* The names of protocols without one (once, before the writer runs). */
void store_proto_init(void);
void *store_writer_main(void *arg);
/* The database was opened for writing: record the version of this hushd. */
void store_db_opened(struct store *s);

#endif /* HUSH_AGENT_STORE_INT_H */
