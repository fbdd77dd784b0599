/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Policy compiler.
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
#include "rules/judge_int.h"

_Static_assert(sizeof(struct hush_seg) == 8, "hush_seg layout");
_Static_assert(sizeof(struct hush_ptab) == 8 + 8 * HUSH_L4_MAX * HUSH_SEG_MAX, "hush_ptab layout");
_Static_assert(sizeof(struct hush_lpm4_key) == 12, "hush_lpm4_key layout");
_Static_assert(sizeof(struct hush_lpm6_key) == 24, "hush_lpm6_key layout");
_Static_assert(sizeof(struct hush_lpm_val) == 4 + 4 * HUSH_LOCAL_RULES, "hush_lpm_val layout");

enum { K_ROOT, K_LOOP, K_RULE };

/* One rule (or implicit prefix) placed at a prefix. */
struct entry {
	uint8_t addr[16];
	uint8_t plen;
	uint8_t kind;
	uint32_t id;
	const struct policy_rule *r;
};

struct cseg {
	uint32_t lo;
	uint32_t rule;
	uint8_t verdict;
};

/* A node's effective table while compiling; classes may borrow the parent's. */
struct ctab {
	struct cseg *s[HUSH_L4_MAX];
	uint32_t n[HUSH_L4_MAX];
	bool owned[HUSH_L4_MAX];
	bool over[HUSH_L4_MAX];
};

struct frame {
	uint8_t addr[16];
	uint8_t plen;
	struct ctab t;
};

struct cctx {
	const struct policy *p;
	struct policy_compiled *c;
	struct policy_errors *errs;
	size_t errs0; /* errs->n when compiling started */
	int nerr;
	int fatal;
	/* the table dedup hash: slot holds ptab index + 1 */
	uint32_t *ht;
	size_t htcap;
	uint64_t *phash; /* per ptab */
	size_t ptabcap, k4cap, v4cap, k6cap, v6cap;
	/* scratch */
	struct entry *ent;
	size_t entcap;
	uint32_t *bnd, *rule, *next;
	uint8_t *verdict;
	size_t scap;
	struct frame stack[130];
};

/* the parent of /0: nothing matched, default deny (never written) */
static struct cseg base_seg = {0, HUSH_RULE_DEFAULT, HUSH_VERDICT_DENY};

/* ---- compiler ---- */

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

static int cmp_ruleptr(const void *x, const void *y)
{
	const struct policy_rule *a = *(const struct policy_rule *const *)x;
	const struct policy_rule *b = *(const struct policy_rule *const *)y;

	return a->id < b->id ? -1 : a->id > b->id;
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

static int emit_node(struct cctx *x, size_t scope, int family, const struct entry *e, size_t n,
		     const struct ctab *t, const struct ctab *par)
{
	static const char *const cname[] = {"tcp", "udp", "other"};
	struct policy_compiled *c = x->c;
	struct hush_lpm_val lv;
	struct hush_ptab pt;
	unsigned nlocal = 0;
	uint32_t idx;
	size_t i;
	bool bad = false;
	int cl, r;

	for (cl = 0; cl < HUSH_L4_MAX; cl++) {
		char a[POLICY_ADDRSTRLEN];
		const struct entry *re = NULL;

		if (!t->over[cl])
			continue;
		bad = true;
		if (par && par->over[cl])
			continue; /* reported at the parent already */
		for (i = 0; i < n && !re; i++)
			if (e[i].kind == K_RULE)
				re = &e[i];
		policy_prefix_text(a, family, e->addr, e->plen, true);
		cerr(x, re ? &re->r->loc : &(struct policy_loc){0, 0},
		     "too many port ranges at %s (%s needs %u segments, at most %d)", a, cname[cl],
		     t->n[cl], HUSH_SEG_MAX);
	}
	if (bad || x->nerr)
		return 0; /* keep checking, emit nothing */
	memset(&pt, 0, sizeof(pt));
	memset(&lv, 0, sizeof(lv));
	for (cl = 0; cl < HUSH_L4_MAX; cl++) {
		pt.nseg[cl] = (uint8_t)t->n[cl];
		for (i = 0; i < t->n[cl]; i++) {
			uint32_t rule = t->s[cl][i].rule;

			/* Rules written at this very prefix go through the
			 * LPM value's local slots (see struct hush_lpm_val),
			 * so tables of the same shape are shared. */
			if (own_rule(e, n, rule)) {
				unsigned k;

				for (k = 0; k < nlocal && lv.rules[k] != rule; k++)
					;
				if (k == nlocal && nlocal < HUSH_LOCAL_RULES)
					lv.rules[nlocal++] = rule;
				if (k < nlocal)
					rule = HUSH_RULE_LOCAL0 + k;
			}
			pt.seg[cl][i].lo = (uint16_t)t->s[cl][i].lo;
			pt.seg[cl][i].verdict = t->s[cl][i].verdict;
			pt.seg[cl][i].rule = rule;
			if (t->s[cl][i].verdict == HUSH_VERDICT_ALLOW)
				pt.any_allow[cl] = 1;
		}
	}
	r = ptab_intern(x, &pt, &idx);
	if (r < 0)
		return r;
	if (family == AF_INET) {
		if (GROW(c->k4, x->k4cap, c->n4 + 1, 16) < 0)
			return -ENOMEM;
		if (GROW(c->v4, x->v4cap, c->n4 + 1, 16) < 0)
			return -ENOMEM;
		memset(&c->k4[c->n4], 0, sizeof(*c->k4));
		c->k4[c->n4].prefixlen = 32 + e->plen;
		c->k4[c->n4].scope = (uint32_t)scope;
		memcpy(c->k4[c->n4].addr, e->addr, 4);
		lv.ptab = idx;
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
		lv.ptab = idx;
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
static int compile_family(struct cctx *x, size_t scope, int family,
			  const struct policy_rule *const *rules, size_t nrules)
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

void policy_compiled_free(struct policy_compiled *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nscopes; i++)
		free(c->scopes[i].path);
	for (i = 0; i < c->nrules; i++)
		free(c->rules[i].text);
	free(c->scopes);
	free(c->k4);
	free(c->v4);
	free(c->k6);
	free(c->v6);
	free(c->ptabs);
	free(c->rules);
	free(c);
}

static int cmp_info(const void *x, const void *y)
{
	const struct compiled_rule_info *a = x, *b = y;

	return a->id < b->id ? -1 : a->id > b->id;
}

static int fill_rules(const struct policy *p, struct policy_compiled *c)
{
	size_t s, i, n = 0;

	for (s = 0; s < p->nscopes; s++)
		n += p->scopes[s].nrules + p->scopes[s].ndns + p->scopes[s].nhosts;
	c->rules = calloc(n ? n : 1, sizeof(*c->rules));
	if (!c->rules)
		return -ENOMEM;
	for (s = 0; s < p->nscopes; s++) {
		const struct policy_scope *sc = &p->scopes[s];

		for (i = 0; i < sc->nrules; i++) {
			c->rules[c->nrules].id = sc->rules[i].id;
			c->rules[c->nrules].loc = sc->rules[i].loc;
			c->rules[c->nrules].text = policy_rule_text(&sc->rules[i]);
			if (!c->rules[c->nrules++].text)
				return -ENOMEM;
		}
		for (i = 0; i < sc->ndns; i++) {
			c->rules[c->nrules].id = sc->dns[i].id;
			c->rules[c->nrules].loc = sc->dns[i].loc;
			c->rules[c->nrules].text = policy_dns_text(&sc->dns[i]);
			if (!c->rules[c->nrules++].text)
				return -ENOMEM;
		}
		for (i = 0; i < sc->nhosts; i++) {
			c->rules[c->nrules].id = sc->hosts[i].id;
			c->rules[c->nrules].loc = sc->hosts[i].loc;
			c->rules[c->nrules].text = policy_host_text(&sc->hosts[i]);
			if (!c->rules[c->nrules++].text)
				return -ENOMEM;
		}
	}
	qsort(c->rules, c->nrules, sizeof(*c->rules), cmp_info);
	return 0;
}

const struct compiled_rule_info *policy_compiled_rule(const struct policy_compiled *c, uint32_t id)
{
	struct compiled_rule_info key = {.id = id};

	if (!c || !c->nrules)
		return NULL;
	return bsearch(&key, c->rules, c->nrules, sizeof(key), cmp_info);
}

struct pathidx {
	const char *path;
	size_t len;
	size_t idx;
};

static int cmp_pathidx(const void *x, const void *y)
{
	const struct pathidx *a = x, *b = y;
	size_t n = a->len < b->len ? a->len : b->len;
	int d = memcmp(a->path, b->path, n);

	if (d)
		return d;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* Scope indexes of s and its ancestor scopes, nearest first, then 0. */
static size_t ancestors(const struct policy *p, const struct pathidx *sorted, size_t s, size_t *out)
{
	const char *path = p->scopes[s].path;
	size_t n = 0, len = strlen(path);

	if (s) {
		for (;;) {
			struct pathidx key = {path, len, 0}, *hit;

			hit = bsearch(&key, sorted, p->nscopes - 1, sizeof(key), cmp_pathidx);
			if (hit)
				out[n++] = hit->idx;
			while (len && path[len - 1] != '/')
				len--;
			if (!len)
				break;
			len--; /* drop the '/' */
		}
	}
	out[n++] = 0;
	return n;
}

int policy_compile(const struct policy *p, struct policy_compiled **out, struct policy_errors *errs)
{
	return policy_compile_learned(p, NULL, 0, out, errs);
}

/* An explicit deny rule (not "deny any") among eff[0..ne) covers l. */
static bool deny_covers(const struct policy_rule *const *eff, size_t ne,
			const struct policy_learned *l)
{
	for (size_t i = 0; i < ne; i++) {
		const struct policy_rule *r = eff[i];

		if (r->action == POLICY_DENY && r->plen > 0 && r->family == l->family &&
		    prefix_match(r->addr, r->plen, l->addr))
			return true;
	}
	return false;
}

/* The compiled scopes' paths; sorted[] the scopes below the top level by
 * path (for ancestors()); *maxdepth the most ancestors a scope has, *maxeff
 * the number of rules of all scopes. */
static int scopes_index(const struct policy *p, struct policy_compiled *c, struct pathidx *sorted,
			size_t *maxdepth, size_t *maxeff)
{
	for (size_t s = 0; s < p->nscopes; s++) {
		const char *q;
		size_t k;

		c->scopes[s].path = strdup(p->scopes[s].path);
		if (!c->scopes[s].path)
			return -ENOMEM;
		if (s) {
			sorted[s - 1] =
			    (struct pathidx){p->scopes[s].path, strlen(p->scopes[s].path), s};
		}
		for (k = 2, q = p->scopes[s].path; *q; q++)
			k += *q == '/';
		if (k > *maxdepth)
			*maxdepth = k;
		*maxeff += p->scopes[s].nrules;
	}
	qsort(sorted, p->nscopes - 1, sizeof(*sorted), cmp_pathidx);
	return 0;
}

/* A learned address is "allow ADDR/32|128 PROTO PORTS" with its "allow
 * host" rule's id, in the rule's scope: lr[i] for learned[i]. */
static void learned_rules(const struct policy_learned *learned, size_t nlearned,
			  struct policy_rule *lr)
{
	for (size_t i = 0; i < nlearned; i++) {
		const struct policy_learned *l = &learned[i];

		lr[i].id = l->host->id;
		lr[i].action = POLICY_ALLOW;
		lr[i].family = l->family;
		memcpy(lr[i].addr, l->addr, 16);
		lr[i].plen = l->family == AF_INET ? 32 : 128;
		lr[i].proto = l->host->proto;
		lr[i].nports = l->host->nports;
		lr[i].ports = l->host->ports;
		lr[i].loc = l->host->loc;
	}
}

/* Other protocols (no ports) allowed beyond loopback by any of eff[0..ne)? */
static bool allows_other(const struct policy_rule *const *eff, size_t ne)
{
	for (size_t k = 0; k < ne; k++) {
		const struct policy_rule *er = eff[k];

		if (er->action == POLICY_ALLOW && er->proto == POLICY_PROTO_ANY && !er->nports &&
		    !((er->family == AF_INET && er->plen >= 8 &&
		       prefix_match(loop4, 8, er->addr)) ||
		      (er->family == AF_INET6 && er->plen == 128 && !memcmp(er->addr, loop6, 16))))
			return true;
	}
	return false;
}

/* Scope s: its mode, and its effective rules (its own, its ancestors', the
 * learned addresses lr[] no explicit deny covers) compiled for both
 * families.  anc and eff are scratch of the sizes policy_compile_learned()
 * works out. */
static int compile_scope(struct cctx *x, size_t s, const struct pathidx *sorted, size_t *anc,
			 const struct policy_rule **eff, const struct policy_rule *lr,
			 const struct policy_learned *learned, size_t nlearned)
{
	const struct policy *p = x->p;
	struct policy_compiled *c = x->c;
	size_t na = ancestors(p, sorted, s, anc), ne = 0, nexp, i, k;
	int r;

	/* mode: own, nearest ancestor's, top level's */
	for (i = 0; i < na; i++) {
		if (p->scopes[anc[i]].has_mode) {
			c->scopes[s].mode = p->scopes[anc[i]].mode;
			break;
		}
	}
	for (i = 0; i < na; i++)
		for (k = 0; k < p->scopes[anc[i]].nrules; k++)
			eff[ne++] = &p->scopes[anc[i]].rules[k];
	/* Learned addresses of this scope and its ancestors, unless an
	 * explicit deny covers them (DNS never opens a denied range). */
	for (k = 0, nexp = ne; k < nlearned; k++)
		for (i = 0; i < na; i++)
			if (learned[k].scope == anc[i] && !deny_covers(eff, nexp, &learned[k])) {
				eff[ne++] = &lr[k];
				break;
			}
	if (allows_other(eff, ne))
		c->scopes[s].flags |= HUSH_SCOPE_F_OTHER;
	qsort(eff, ne, sizeof(*eff), cmp_ruleptr);
	r = compile_family(x, s, AF_INET, eff, ne);
	if (!r)
		r = compile_family(x, s, AF_INET6, eff, ne);
	return r;
}

int policy_compile_learned(const struct policy *p, const struct policy_learned *learned,
			   size_t nlearned, struct policy_compiled **out,
			   struct policy_errors *errs)
{
	struct policy_rule *lr = NULL;
	struct cctx x = {0};
	struct policy_compiled *c;
	struct pathidx *sorted = NULL;
	const struct policy_rule **eff = NULL;
	size_t *anc = NULL, maxeff = 0, maxdepth = 1;
	int r = 0;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	x.p = p;
	x.c = c;
	x.errs = errs;
	x.errs0 = errs ? errs->n : 0;
	c->scopes = calloc(p->nscopes, sizeof(*c->scopes));
	sorted = calloc(p->nscopes, sizeof(*sorted));
	if (!c->scopes || !sorted)
		goto nomem;
	c->nscopes = p->nscopes;
	if (scopes_index(p, c, sorted, &maxdepth, &maxeff) < 0)
		goto nomem;
	anc = calloc(maxdepth + 1, sizeof(*anc));
	eff = calloc(maxeff + nlearned + 1, sizeof(*eff));
	lr = calloc(nlearned + 1, sizeof(*lr));
	if (!anc || !eff || !lr)
		goto nomem;
	learned_rules(learned, nlearned, lr);
	r = fill_rules(p, c);
	if (r < 0)
		goto out;
	for (size_t s = 0; s < p->nscopes && !x.fatal; s++) {
		r = compile_scope(&x, s, sorted, anc, eff, lr, learned, nlearned);
		if (r < 0)
			goto out;
	}
	if (x.fatal == -ENOMEM)
		r = -ENOMEM;
	else if (x.nerr || x.fatal)
		r = -EINVAL;
	goto out;
nomem:
	r = -ENOMEM;
out:
	free(lr);
	free(sorted);
	free(anc);
	free(eff);
	free(x.ht);
	free(x.phash);
	free(x.ent);
	free(x.bnd);
	free(x.rule);
	free(x.next);
	free(x.verdict);
	if (r < 0) {
		policy_compiled_free(c);
		return r;
	}
	*out = c;
	return 0;
}
