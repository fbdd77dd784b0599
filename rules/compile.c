/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Policy compiler: the driver.
 *
 * Per scope it works out the mode and the effective rules (its own, its
 * ancestors' and the top level's, plus learned "allow host" addresses no
 * explicit deny covers), then has ctable.c compile them for each family
 * into port tables and LPM keys.  It also keeps every rule's text and
 * location by id (policy_compiled_rule()), so events can name their rule.
 *
 * The judges that check the result are in judge.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rules/compile_int.h"
#include "rules/judge_int.h"

static int cmp_ruleptr(const void *x, const void *y)
{
	const struct policy_rule *a = *(const struct policy_rule *const *)x;
	const struct policy_rule *b = *(const struct policy_rule *const *)y;

	return a->id < b->id ? -1 : a->id > b->id;
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
			if (policy_scope_is_selector(path))
				break; /* a selector's only ancestor is the top level */
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

static int cmp_learned_addr(const void *x, const void *y, void *arg)
{
	const struct policy_learned *l = arg;
	const struct policy_learned *a = &l[*(const size_t *)x], *b = &l[*(const size_t *)y];

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->addr, b->addr, 16);
}

/* lexp[k]: when learned[k]'s address stops being allowed in the kernel, the
 * earliest expiry of every entry of that address (whatever its rule or
 * scope): one expiry per LPM value, and never later than any of them.  0
 * (never) only if every entry of the address says never. */
static int learned_expiry(const struct policy_learned *learned, size_t n, uint64_t *lexp)
{
	size_t *ord = calloc(n ? n : 1, sizeof(*ord));

	if (!ord)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++)
		ord[k] = k;
	qsort_r(ord, n, sizeof(*ord), cmp_learned_addr, (void *)learned);
	for (size_t i = 0, j; i < n; i = j) {
		uint64_t m = 0;

		for (j = i; j < n && !cmp_learned_addr(&ord[i], &ord[j], (void *)learned); j++)
			if (learned[ord[j]].expires && (!m || learned[ord[j]].expires < m))
				m = learned[ord[j]].expires;
		for (size_t k = i; k < j; k++)
			lexp[ord[k]] = m;
	}
	free(ord);
	return 0;
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
	/* inbound: the same inheritance; default allow */
	for (i = 0; i < na; i++) {
		if (p->scopes[anc[i]].has_inbound) {
			if (p->scopes[anc[i]].inbound_deny)
				c->scopes[s].flags |= HUSH_SCOPE_F_INBOUND_DENY;
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
	uint64_t *lexp = NULL;
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
	lexp = calloc(nlearned + 1, sizeof(*lexp));
	if (!anc || !eff || !lr || !lexp || learned_expiry(learned, nlearned, lexp) < 0)
		goto nomem;
	learned_rules(learned, nlearned, lr);
	x.lr = lr;
	x.lexp = lexp;
	x.nlearned = nlearned;
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
	free(lexp);
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
