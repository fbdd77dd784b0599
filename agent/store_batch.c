// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The open batch (drain thread): attempts coalesced into rows by their
 * identity (exact count, first and last time), enriched once per row
 * (process, cgroup, rule, the name a DNS answer gave the destination),
 * strings in one arena; what does not fit is counted for gap rows.
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
#include "agent/lineage.h"
#include "agent/log.h"
#include "agent/store_int.h"

#define ARENA_MAX (1u << 30)

/* ---- batches ---- */

void store_batch_free(struct batch *b)
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

struct batch *store_batch_new(void)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->acap = 1 << 16;
	b->arena = malloc(b->acap);
	b->idx_cap = 1024;
	b->idx = calloc(b->idx_cap, sizeof(*b->idx));
	if (!b->arena || !b->idx) {
		store_batch_free(b);
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
	/* Doubling from 64 KiB, up to 1 GiB (offsets are 32-bit). */
	if (b->used + n + 1 > ARENA_MAX || GROW(b->arena, b->acap, b->used + n + 1, 0) < 0)
		return 0;
	off = (uint32_t)b->used;
	memcpy(b->arena + off, str, n);
	b->arena[off + n] = 0;
	b->used += n + 1;
	return off;
}

const char *store_astr(const struct batch *b, uint32_t off)
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
	static const unsigned char sep = 0x1f;

	if (str)
		h = fnv1a64(h, str, strnlen(str, max));
	return fnv1a64(h, &sep, 1);
}

/* The part of a DNS row's identity that is not in the event: the key's
 * cookie.  Only a hint: entries with equal keys compare the strings too, so
 * a name crafted to collide still gets its own row. */
static uint64_t dnsq_hash(const struct dnsq *q)
{
	uint64_t h = FNV64_INIT;

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
	uint64_t h = fnv1a64(FNV64_INIT, k, sizeof(*k));

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

void store_gap_add(struct gapacc *g, uint64_t n, int64_t first, int64_t last)
{
	if (!n)
		return;
	if (!g->count || first < g->first_ts)
		g->first_ts = first;
	if (!g->count || last > g->last_ts)
		g->last_ts = last;
	g->count += n;
}

/*
 * The name a DNS answer gave e's destination, only if e's cgroup asked for
 * it (a connect by address to an address another cgroup resolved names
 * nothing).  An "allow host" rule that decided without this cgroup having
 * resolved the address (the kernel's learned entry serves the rule's whole
 * scope) says so, rather than suggest the attempt used the name.
 */
static void name_attempt(struct store *s, struct batch *b, struct bent *en,
			 const struct hush_event *e)
{
	const char *rt = store_astr(b, en->rule_text);
	char name[QNAME_MAX], buf[4096 + 96];

	if (s->namer &&
	    s->namer(s->namer_ctx, e->family, e->daddr, e->cgroup_id, name, sizeof(name)) == 0) {
		name[sizeof(name) - 1] = 0;
		en->qname = intern(b, name, sizeof(name));
		return;
	}
	if (!rt || strncmp(rt, "allow host ", 11) != 0)
		return;
	snprintf(buf, sizeof(buf), "address learned for another cgroup's lookup (%s)", rt);
	en->rule_text = intern(b, buf, sizeof(buf));
}

/* The parent and ancestry of e's process (lineage.h). */
static void enrich_lineage(struct store *s, struct batch *b, struct bent *en,
			   const struct hush_event *e)
{
	char anc[4096];

	if (lineage_of(s->eng, e, store_astr(b, en->exe), &en->ppid, &en->has_ppid, anc,
		       sizeof(anc)) == 0)
		en->ancestry = intern(b, anc, sizeof(anc));
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
			en->ancestry = b->pcache[slot].ancestry;
			en->ppid = b->pcache[slot].ppid;
			en->has_ppid = b->pcache[slot].has_ppid;
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
			enrich_lineage(s, b, en, e);
			b->pcache[slot].ancestry = en->ancestry;
			b->pcache[slot].ppid = en->ppid;
			b->pcache[slot].has_ppid = en->has_ppid;
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
		if (s->ctr && (a.container_id[0] || cg)) {
			struct store_ctr c;

			memset(&c, 0, sizeof(c));
			if (s->ctr(s->ctr_ctx, a.container_id, cg, &c) == 0) {
				if (!a.container_id[0])
					en->container = intern(b, c.id, sizeof(c.id));
				en->cname = intern(b, c.name, sizeof(c.name));
				en->image = intern(b, c.image, sizeof(c.image));
				en->image_id = intern(b, c.image_id, sizeof(c.image_id));
				en->pod_ns = intern(b, c.pod_ns, sizeof(c.pod_ns));
				en->pod_name = intern(b, c.pod_name, sizeof(c.pod_name));
			}
		}
	}
}

struct batch *store_cur_batch(struct store *s)
{
	if (!s->cur)
		s->cur = store_batch_new();
	return s->cur;
}

/* ---- drain thread API ---- */

/*
 * Coalesce one event into the open batch: count it into the row with the
 * same key (and, for a DNS query, the same strings), or open a new row and
 * enrich it.  q: the strings of a DNS query, NULL for an attempt.
 */
void store_batch_add(struct store *s, const struct hush_event *e, const struct dnsq *q,
		     const struct policy_compiled *pc, int64_t boot_to_real)
{
	struct hush_event k = *e;
	int64_t ts = (int64_t)e->ts_ns + boot_to_real;
	struct gapacc *over;
	struct batch *b;
	uint64_t h;
	uint32_t j;

	b = store_cur_batch(s);
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
		store_gap_add(over, 1, ts, ts);
		return;
	}
	if (GROW(b->ents, b->cap, (size_t)b->n + 1, 256) < 0) {
		store_gap_add(over, 1, ts, ts);
		return;
	}
	if ((b->n + 1) * 2 > b->idx_cap) {
		if (idx_grow(b)) {
			store_gap_add(over, 1, ts, ts);
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
	} else {
		name_attempt(s, b, en, e);
	}
	b->idx[j] = ++b->n;
}
