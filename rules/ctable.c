/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The policy compiler's table builder: one family of one scope, from its
 * effective rules, into port tables and LPM keys (the driver that walks the
 * scopes is in compile.c).
 *
 * Compiling one scope and one family:
 *   1. Every effective rule (top level + ancestor-or-equal scopes) becomes an
 *      entry at its prefix; the implicit loopback prefix and /0 are added.
 *   2. Entries are sorted by (address, prefix length, kind, id).  Equal
 *      prefixes form one node, and the order is a pre-order walk of the
 *      prefix tree, so a stack of open nodes gives every node its longest
 *      proper ancestor (its parent) in O(n log n) overall.
 *   3. A node's table starts as its parent's (the /0 node's parent is "deny
 *      everything, HUSH_RULE_DEFAULT").  Per class, the ports are cut at every
 *      boundary of the parent's segments and of the node's own port ranges;
 *      the node's deny rules paint the unpainted pieces in id order, then its
 *      allow rules, then the implicit loopback rule; what is left unpainted
 *      keeps the parent's verdict.  A "next unpainted piece" union-find keeps
 *      painting linear.  Equal neighbours merge into one segment.
 *   4. Tables are deduplicated through a hash table and emitted once; each
 *      node emits one LPM key (scope, prefix) -> table index.
 *
 * The judges that check the result are in judge.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/util.h"
#include "rules/compile_int.h"
#include "rules/judge_int.h"

_Static_assert(sizeof(struct hush_seg) == 8, "hush_seg layout");
_Static_assert(sizeof(struct hush_ptab) == 8 + 8 * HUSH_L4_MAX * HUSH_SEG_MAX, "hush_ptab layout");
_Static_assert(sizeof(struct hush_lpm4_key) == 12, "hush_lpm4_key layout");
_Static_assert(sizeof(struct hush_lpm6_key) == 24, "hush_lpm6_key layout");
_Static_assert(sizeof(struct hush_lpm_val) == 16 + 4 * HUSH_LOCAL_RULES, "hush_lpm_val layout");

enum { K_ROOT, K_LOOP, K_RULE };

/* One rule (or implicit prefix) placed at a prefix. */
struct entry {
	uint8_t addr[16];
	uint8_t plen;
	uint8_t kind;
	uint32_t id;
	const struct policy_rule *r;
	uint64_t lexp; /* a learned address's rule: its kernel expiry (0: never) */
	bool learned;
};

/* Is r one of the learned addresses' rules (x->lr)?  Their expiry in *exp. */
static bool learned_rule(const struct cctx *x, const struct policy_rule *r, uint64_t *exp)
{
	uintptr_t a = (uintptr_t)r, b = (uintptr_t)x->lr;

	if (!x->nlearned || a < b || a >= b + x->nlearned * sizeof(*r))
		return false;
	*exp = x->lexp[(a - b) / sizeof(*r)];
	return true;
}

struct cseg {
	uint32_t lo;
	uint32_t rule;
	uint8_t verdict;
};

/* the parent of /0: nothing matched, default deny (never written) */
static struct cseg base_seg = {0, HUSH_RULE_DEFAULT, HUSH_VERDICT_DENY};

static int cmp_entry(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;
	int d = memcmp(a->addr, b->addr, 16);

	if (d)
		return d;
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

static int scratch(struct cctx *x, size_t n)
{
	size_t cap = x->scap;

	if (n <= cap)
		return 0;
	if (GROW(x->bnd, cap, n, 16) < 0)
		return -ENOMEM;
	cap = x->scap;
	if (GROW(x->rule, cap, n, 16) < 0)
		return -ENOMEM;
	cap = x->scap;
	if (GROW(x->next, cap, n + 1, 16) < 0)
		return -ENOMEM;
	cap = x->scap;
	if (GROW(x->verdict, cap, n, 16) < 0)
		return -ENOMEM;
	x->scap = cap;
	return 0;
}

static uint32_t dsu_find(uint32_t *next, uint32_t i)
{
	while (next[i] != i) {
		next[i] = next[next[i]];
		i = next[i];
	}
	return i;
}

/* Paint the unpainted pieces within [lo, hi]. */
static void paint(struct cctx *x, uint32_t m, uint32_t lo, uint32_t hi, uint8_t verdict,
		  uint32_t rule)
{
	uint32_t a = 0, b = m, j;

	while (a < b) { /* first boundary >= lo (lo is one of them) */
		uint32_t mid = (a + b) / 2;

		if (x->bnd[mid] < lo)
			a = mid + 1;
		else
			b = mid;
	}
	for (j = dsu_find(x->next, a); j < m && x->bnd[j] <= hi; j = dsu_find(x->next, j + 1)) {
		x->verdict[j] = verdict;
		x->rule[j] = rule;
		x->next[j] = j + 1;
	}
}

static void ctab_free(struct ctab *t)
{
	int c;

	for (c = 0; c < HUSH_L4_MAX; c++)
		if (t->owned[c])
			free(t->s[c]);
	memset(t, 0, sizeof(*t));
}

/* The table of the node ent[0..n) (one prefix) given its parent's. */
static int node_table(struct cctx *x, const struct entry *ent, size_t n, const struct ctab *par,
		      struct ctab *out)
{
	bool loop = false;
	size_t i, k;
	int c;

	for (i = 0; i < n; i++)
		loop |= ent[i].kind == K_LOOP;
	memset(out, 0, sizeof(*out));
	for (c = 0; c < HUSH_L4_MAX; c++) {
		uint32_t m = 0, nb = par->n[c], j, ps;
		bool any = loop;
		struct cseg *o;

		for (i = 0; i < n; i++) {
			const struct policy_rule *r = ent[i].r;

			if (ent[i].kind != K_RULE || !rule_in_class(r, c))
				continue;
			any = true;
			nb += c == HUSH_L4_OTHER ? 0 : 2 * r->nports;
		}
		if (!any) { /* nothing here for this class: borrow the parent's */
			out->s[c] = par->s[c];
			out->n[c] = par->n[c];
			out->over[c] = par->over[c];
			continue;
		}
		if (scratch(x, nb + 1) < 0)
			return -ENOMEM;
		/* cut points */
		for (j = 0; j < par->n[c]; j++)
			x->bnd[m++] = par->s[c][j].lo;
		for (i = 0; i < n && c != HUSH_L4_OTHER; i++) {
			const struct policy_rule *r = ent[i].r;

			if (ent[i].kind != K_RULE || !rule_in_class(r, c))
				continue;
			for (k = 0; k < r->nports; k++) {
				x->bnd[m++] = r->ports[k].lo;
				if (r->ports[k].hi < 65535)
					x->bnd[m++] = (uint32_t)r->ports[k].hi + 1;
			}
		}
		qsort(x->bnd, m, sizeof(*x->bnd), cmp_u32);
		for (i = 1, j = 1; i < m; i++)
			if (x->bnd[i] != x->bnd[j - 1])
				x->bnd[j++] = x->bnd[i];
		m = j;
		for (j = 0; j <= m; j++)
			x->next[j] = j;
		memset(x->verdict, HUSH_VERDICT_NONE, m);
		/* deny first, then allow, each in id order; then loopback */
		for (k = 0; k < 2; k++) {
			uint8_t want = k ? POLICY_ALLOW : POLICY_DENY;

			for (i = 0; i < n; i++) {
				const struct policy_rule *r = ent[i].r;
				size_t q;

				if (ent[i].kind != K_RULE || r->action != want ||
				    !rule_in_class(r, c))
					continue;
				if (!r->nports || c == HUSH_L4_OTHER)
					paint(x, m, 0, 65535, want, r->id);
				for (q = 0; q < r->nports && c != HUSH_L4_OTHER; q++)
					paint(x, m, r->ports[q].lo, r->ports[q].hi, want, r->id);
			}
		}
		if (loop)
			paint(x, m, 0, 65535, HUSH_VERDICT_ALLOW, HUSH_RULE_LOOPBACK);
		/* inherit the rest, then merge equal neighbours */
		o = malloc(m * sizeof(*o));
		if (!o)
			return -ENOMEM;
		out->s[c] = o;
		out->owned[c] = true;
		for (j = 0, ps = 0, k = 0; j < m; j++) {
			struct cseg s = {x->bnd[j], x->rule[j], x->verdict[j]};

			if (s.verdict == HUSH_VERDICT_NONE) {
				while (ps + 1 < par->n[c] && par->s[c][ps + 1].lo <= s.lo)
					ps++;
				s.verdict = par->s[c][ps].verdict;
				s.rule = par->s[c][ps].rule;
			}
			if (k && o[k - 1].verdict == s.verdict && o[k - 1].rule == s.rule)
				continue;
			o[k++] = s;
		}
		out->n[c] = (uint32_t)k;
		out->over[c] = k > HUSH_SEG_MAX;
	}
	return 0;
}

static uint64_t ptab_hash(const struct hush_ptab *t)
{
	uint64_t h = fnv1a64(FNV64_INIT, t, 8);

	for (int c = 0; c < HUSH_L4_MAX; c++)
		h = fnv1a64(h, t->seg[c], t->nseg[c] * sizeof(struct hush_seg));
	return h ^ (h >> 29);
}

/* Index of a table equal to t, adding it if new. */
static int ptab_intern(struct cctx *x, const struct hush_ptab *t, uint32_t *idx)
{
	struct policy_compiled *c = x->c;
	uint64_t h = ptab_hash(t);
	size_t m, i;

	if ((c->nptabs + 1) * 2 > x->htcap) {
		size_t nc = x->htcap ? x->htcap * 2 : 1024;
		uint32_t *nt = calloc(nc, sizeof(*nt));

		if (!nt)
			return -ENOMEM;
		for (i = 0; i < c->nptabs; i++) {
			m = x->phash[i] & (nc - 1);
			while (nt[m])
				m = (m + 1) & (nc - 1);
			nt[m] = (uint32_t)i + 1;
		}
		free(x->ht);
		x->ht = nt;
		x->htcap = nc;
	}
	for (m = h & (x->htcap - 1); x->ht[m]; m = (m + 1) & (x->htcap - 1)) {
		i = x->ht[m] - 1;
		if (x->phash[i] == h && !memcmp(&c->ptabs[i], t, sizeof(*t))) {
			*idx = (uint32_t)i;
			return 0;
		}
	}
	if (c->nptabs >= UINT32_MAX - 1)
		return -E2BIG;
	{
		size_t cap = x->ptabcap;

		if (GROW(c->ptabs, cap, c->nptabs + 1, 16) < 0)
			return -ENOMEM;
		cap = x->ptabcap;
		if (GROW(x->phash, cap, c->nptabs + 1, 16) < 0)
			return -ENOMEM;
		x->ptabcap = cap;
	}
	c->ptabs[c->nptabs] = *t;
	x->phash[c->nptabs] = h;
	x->ht[m] = (uint32_t)c->nptabs + 1;
	*idx = (uint32_t)c->nptabs++;
	return 0;
}

__attribute__((format(printf, 3, 4))) static void cerr(struct cctx *x, const struct policy_loc *l,
						       const char *fmt, ...)
{
	char msg[256], *full = NULL;
	va_list ap;
	size_t i;

	x->nerr++;
	if (!x->errs)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (asprintf(&full, "%s:%u:%u: %s", x->p->name, l->line, l->col, msg) < 0) {
		x->fatal = -ENOMEM;
		return;
	}
	/* a top-level rule overflows in every scope: say it once */
	for (i = x->errs0; i < x->errs->n; i++) {
		if (!strcmp(x->errs->msg[i], full)) {
			free(full);
			return;
		}
	}
	if (x->errs->n - x->errs0 >= POLICY_MAX_ERRS || policy_errors_add(x->errs, "%s", full))
		x->fatal = x->fatal ? x->fatal : -E2BIG;
	free(full);
}

/* Is `rule` one of the explicit rules written at this node's prefix? */
static bool own_rule(const struct entry *e, size_t n, uint32_t rule)
{
	for (size_t i = 0; i < n; i++)
		if (e[i].kind == K_RULE && e[i].r->id == rule)
			return true;
	return false;
}

/* t as a port table for the LPM value lv: rules written at this very
 * prefix (e[0..n)) go through lv's local slots (see struct hush_lpm_val), so
 * tables of the same shape are shared. */
static void ptab_of(const struct entry *e, size_t n, const struct ctab *t, struct hush_lpm_val *lv,
		    unsigned *nlocal, struct hush_ptab *pt)
{
	memset(pt, 0, sizeof(*pt));
	for (int cl = 0; cl < HUSH_L4_MAX; cl++) {
		pt->nseg[cl] = (uint8_t)t->n[cl];
		for (size_t i = 0; i < t->n[cl]; i++) {
			uint32_t rule = t->s[cl][i].rule;

			if (own_rule(e, n, rule)) {
				unsigned k;

				for (k = 0; k < *nlocal && lv->rules[k] != rule; k++)
					;
				if (k == *nlocal && *nlocal < HUSH_LOCAL_RULES)
					lv->rules[(*nlocal)++] = rule;
				if (k < *nlocal)
					rule = HUSH_RULE_LOCAL0 + k;
			}
			pt->seg[cl][i].lo = (uint16_t)t->s[cl][i].lo;
			pt->seg[cl][i].verdict = t->s[cl][i].verdict;
			pt->seg[cl][i].rule = rule;
			if (t->s[cl][i].verdict == HUSH_VERDICT_ALLOW)
				pt->any_allow[cl] = 1;
		}
	}
}

/* Report the classes of t with more segments than a table holds (those of
 * the parent were reported there).  True if any. */
static bool table_over(struct cctx *x, int family, const struct entry *e, size_t n,
		       const struct ctab *t, const struct ctab *par)
{
	static const char *const cname[] = {"tcp", "udp", "other"};
	bool bad = false;

	for (int cl = 0; cl < HUSH_L4_MAX; cl++) {
		char a[POLICY_ADDRSTRLEN];
		const struct entry *re = NULL;

		if (!t->over[cl])
			continue;
		bad = true;
		if (par && par->over[cl])
			continue; /* reported at the parent already */
		for (size_t i = 0; i < n && !re; i++)
			if (e[i].kind == K_RULE)
				re = &e[i];
		policy_prefix_text(a, family, e->addr, e->plen, true);
		cerr(x, re ? &re->r->loc : &(struct policy_loc){0, 0},
		     "too many port ranges at %s (%s needs %u segments, at most %d)", a, cname[cl],
		     t->n[cl], HUSH_SEG_MAX);
	}
	return bad;
}

/*
 * A prefix holding learned addresses that expire: lv's expiry, and its
 * fallback, the table of the prefix's other entries over the parent's (the
 * parent's own table if there are none).  Caller checked e[0..n) has some.
 */
static int learned_fallback(struct cctx *x, int family, const struct entry *e, size_t n,
			    const struct ctab *par, struct hush_lpm_val *lv, unsigned *nlocal)
{
	struct entry *rest = calloc(n, sizeof(*rest));
	struct ctab fb = {0};
	struct hush_ptab pt;
	size_t m = 0;
	int r = 0;

	if (!rest)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (e[i].learned) {
			if (e[i].lexp && (!lv->expires || e[i].lexp < lv->expires))
				lv->expires = e[i].lexp;
		} else {
			rest[m++] = e[i];
		}
	}
	if (m)
		r = node_table(x, rest, m, par, &fb);
	if (!r && !table_over(x, family, e, n, m ? &fb : par, NULL)) {
		ptab_of(e, n, m ? &fb : par, lv, nlocal, &pt);
		r = ptab_intern(x, &pt, &lv->fallback);
	}
	ctab_free(&fb);
	free(rest);
	return r;
}

static int emit_node(struct cctx *x, size_t scope, int family, const struct entry *e, size_t n,
		     const struct ctab *t, const struct ctab *par)
{
	struct policy_compiled *c = x->c;
	struct hush_lpm_val lv;
	struct hush_ptab pt;
	unsigned nlocal = 0;
	uint32_t idx;
	bool learned = false;
	int r;

	if (table_over(x, family, e, n, t, par) || x->nerr)
		return 0; /* keep checking, emit nothing */
	memset(&lv, 0, sizeof(lv));
	ptab_of(e, n, t, &lv, &nlocal, &pt);
	r = ptab_intern(x, &pt, &idx);
	if (r < 0)
		return r;
	lv.ptab = idx;
	lv.fallback = idx;
	for (size_t i = 0; i < n; i++)
		learned |= e[i].learned && e[i].lexp;
	if (learned) {
		r = learned_fallback(x, family, e, n, par, &lv, &nlocal);
		if (r < 0)
			return r;
		if (x->nerr)
			return 0;
	}
	if (family == AF_INET) {
		if (GROW(c->k4, x->k4cap, c->n4 + 1, 16) < 0)
			return -ENOMEM;
		if (GROW(c->v4, x->v4cap, c->n4 + 1, 16) < 0)
			return -ENOMEM;
		memset(&c->k4[c->n4], 0, sizeof(*c->k4));
		c->k4[c->n4].prefixlen = 32 + e->plen;
		c->k4[c->n4].scope = (uint32_t)scope;
		memcpy(c->k4[c->n4].addr, e->addr, 4);
		c->v4[c->n4++] = lv;
	} else {
		if (GROW(c->k6, x->k6cap, c->n6 + 1, 16) < 0)
			return -ENOMEM;
		if (GROW(c->v6, x->v6cap, c->n6 + 1, 16) < 0)
			return -ENOMEM;
		memset(&c->k6[c->n6], 0, sizeof(*c->k6));
		c->k6[c->n6].prefixlen = 32 + e->plen;
		c->k6[c->n6].scope = (uint32_t)scope;
		memcpy(c->k6[c->n6].addr, e->addr, 16);
		c->v6[c->n6++] = lv;
	}
	return 0;
}

/* Room for one table and one key per node of ent[0..n), reserved at once:
 * growing one by one would copy these big arrays again and again. */
static int reserve(struct cctx *x, int family, const struct entry *ent, size_t n)
{
	struct policy_compiled *c = x->c;
	size_t nodes = 0, i, cap;

	for (i = 0; i < n; i++)
		nodes += !i || ent[i].plen != ent[i - 1].plen ||
			 memcmp(ent[i].addr, ent[i - 1].addr, 16);
	cap = x->ptabcap;
	if (GROW(c->ptabs, cap, c->nptabs + nodes, 16) < 0)
		return -ENOMEM;
	cap = x->ptabcap;
	if (GROW(x->phash, cap, c->nptabs + nodes, 16) < 0)
		return -ENOMEM;
	x->ptabcap = cap;
	if (family == AF_INET) {
		if (GROW(c->k4, x->k4cap, c->n4 + nodes, 16) < 0 ||
		    GROW(c->v4, x->v4cap, c->n4 + nodes, 16) < 0)
			return -ENOMEM;
	} else {
		if (GROW(c->k6, x->k6cap, c->n6 + nodes, 16) < 0 ||
		    GROW(c->v6, x->v6cap, c->n6 + nodes, 16) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Compile one family of one scope from its effective rules (id order). */
int compile_family(struct cctx *x, size_t scope, int family, const struct policy_rule *const *rules,
		   size_t nrules)
{
	struct ctab root = {.s = {&base_seg, &base_seg, &base_seg}, .n = {1, 1, 1}};
	size_t n = 0, i, j, depth = 0;
	int r = 0;

	if (GROW(x->ent, x->entcap, nrules + 2, 16) < 0)
		return -ENOMEM;
	for (i = 0; i < nrules; i++) {
		const struct policy_rule *pr = rules[i];
		struct entry *e = &x->ent[n];

		if (pr->family != family && pr->family != POLICY_FAMILY_ANY)
			continue;
		memcpy(e->addr, pr->addr, 16);
		e->plen = pr->plen;
		e->kind = K_RULE;
		e->id = pr->id;
		e->r = pr;
		e->lexp = 0;
		e->learned = learned_rule(x, pr, &e->lexp);
		n++;
	}
	memset(&x->ent[n], 0, sizeof(x->ent[n]));
	x->ent[n++].kind = K_ROOT;
	memset(&x->ent[n], 0, sizeof(x->ent[n]));
	memcpy(x->ent[n].addr, family == AF_INET ? loop4 : loop6, 16);
	x->ent[n].plen = family == AF_INET ? 8 : 128;
	x->ent[n++].kind = K_LOOP;
	qsort(x->ent, n, sizeof(*x->ent), cmp_entry);
	r = reserve(x, family, x->ent, n);
	if (r < 0)
		return r;

	for (i = 0; i < n && !r; i = j) {
		const struct entry *e = &x->ent[i];
		const struct ctab *par;
		struct frame *f;

		for (j = i + 1;
		     j < n && x->ent[j].plen == e->plen && !memcmp(x->ent[j].addr, e->addr, 16);
		     j++)
			;
		while (depth &&
		       !(x->stack[depth - 1].plen <= e->plen &&
			 prefix_match(x->stack[depth - 1].addr, x->stack[depth - 1].plen, e->addr)))
			ctab_free(&x->stack[--depth].t);
		par = depth ? &x->stack[depth - 1].t : &root;
		f = &x->stack[depth];
		r = node_table(x, e, j - i, par, &f->t);
		if (r < 0) {
			ctab_free(&f->t);
			break;
		}
		memcpy(f->addr, e->addr, 16);
		f->plen = e->plen;
		depth++;
		r = emit_node(x, scope, family, e, j - i, &f->t, par);
	}
	while (depth)
		ctab_free(&x->stack[--depth].t);
	return r;
}
