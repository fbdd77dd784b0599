// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The policy in force plus learned addresses; see enforcer.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/engine.h"
#include "agent/enforcer.h"
#include "agent/log.h"
#include "agent/util.h"

struct learned {
	char *scope; /* scope path and rule name: survive reloads that renumber */
	char *host;
	int family;
	uint8_t addr[16];
	int64_t expires; /* CLOCK_BOOTTIME ns (the kernel's clock for it) */
	int64_t kexp;	 /* expires as last put in force (0: not yet) */
};

/*
 * The kernel lets a learned address go by itself at its expiry (the
 * earliest of the address's entries, see policy_compile_learned()), hushd
 * or not.  While hushd runs, the policy must change before that: an address
 * is dropped EXPIRE_EARLY before its expiry, and one whose expiry a newer
 * answer pushed out is put in force again REFRESH_LEAD before the old one
 * lapses (ticks are a second apart, an apply takes a fraction).
 */
#define EXPIRE_EARLY ((int64_t)2000000000)
#define REFRESH_LEAD ((int64_t)3000000000)

struct enforcer {
	pthread_mutex_t mu; /* everything below, and engine_apply */
	struct engine *eng;
	const struct policy_loaded *l;
	int64_t grace_ns;
	struct learned *lrn;
	size_t nlrn, lrncap;
	uint64_t learned; /* since start */
};

int enforcer_new(struct engine *eng, const struct policy_loaded *l, uint32_t grace_s,
		 struct enforcer **out)
{
	struct enforcer *en = calloc(1, sizeof(*en));

	*out = NULL;
	if (!en)
		return -ENOMEM;
	pthread_mutex_init(&en->mu, NULL);
	en->eng = eng;
	en->l = l;
	en->grace_ns = (int64_t)(grace_s ? grace_s : ENFORCER_DEFAULT_GRACE) * 1000000000;
	*out = en;
	return 0;
}

static void learned_drop(struct learned *x)
{
	free(x->scope);
	free(x->host);
}

void enforcer_free(struct enforcer *en)
{
	if (!en)
		return;
	for (size_t i = 0; i < en->nlrn; i++)
		learned_drop(&en->lrn[i]);
	free(en->lrn);
	pthread_mutex_destroy(&en->mu);
	free(en);
}

/* The learned addresses that p has a rule for, as policy_compile_learned()
 * takes them (pointing into p).  *out is malloc'd.  Caller holds mu. */
static int learned_for(const struct enforcer *en, const struct policy *p,
		       struct policy_learned **out, size_t *n)
{
	struct policy_learned *a = calloc(en->nlrn ? en->nlrn : 1, sizeof(*a));
	size_t k = 0;

	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < en->nlrn; i++) {
		const struct learned *x = &en->lrn[i];

		for (size_t s = 0; s < p->nscopes; s++) {
			if (strcmp(p->scopes[s].path, x->scope))
				continue;
			for (size_t h = 0; h < p->scopes[s].nhosts; h++) {
				if (strcmp(p->scopes[s].hosts[h].name, x->host))
					continue;
				a[k].scope = s;
				a[k].host = &p->scopes[s].hosts[h];
				a[k].family = x->family;
				memcpy(a[k].addr, x->addr, 16);
				a[k].expires = (uint64_t)x->expires;
				k++;
				break;
			}
			break;
		}
	}
	*out = a;
	*n = k;
	return 0;
}

/* Apply l with the learned addresses it has rules for.  Caller holds mu. */
static int apply_locked(struct enforcer *en, const struct policy_loaded *l)
{
	struct policy_compiled *lc = NULL;
	struct policy_learned *a = NULL;
	size_t n = 0;
	int ret;

	if (learned_for(en, l->pol, &a, &n) == 0 && n) {
		ret = policy_compile_learned(l->pol, a, n, &lc, NULL);
		if (ret) {
			log_errno(ret,
				  "dns: cannot compile %zu learned addresses: they stay denied", n);
			lc = NULL;
		}
	}
	ret = engine_apply(en->eng, lc ? lc : l->pc, l->text);
	if (!ret && lc)
		for (size_t i = 0; i < en->nlrn; i++)
			en->lrn[i].kexp = en->lrn[i].expires;
	policy_compiled_free(lc);
	free(a);
	return ret;
}

/* Keep the learned addresses whose rule (scope path + name) p has. */
static void learned_prune(struct enforcer *en, const struct policy *p)
{
	size_t j = 0;

	for (size_t i = 0; i < en->nlrn; i++) {
		bool keep = false;

		for (size_t s = 0; s < p->nscopes && !keep; s++)
			if (!strcmp(p->scopes[s].path, en->lrn[i].scope))
				for (size_t h = 0; h < p->scopes[s].nhosts && !keep; h++)
					keep = !strcmp(p->scopes[s].hosts[h].name, en->lrn[i].host);
		if (keep)
			en->lrn[j++] = en->lrn[i];
		else
			learned_drop(&en->lrn[i]);
	}
	en->nlrn = j;
}

int enforcer_set_policy(struct enforcer *en, const struct policy_loaded *l)
{
	int ret;

	pthread_mutex_lock(&en->mu);
	ret = apply_locked(en, l);
	if (!ret) {
		en->l = l;
		learned_prune(en, l->pol);
	}
	pthread_mutex_unlock(&en->mu);
	return ret;
}

/* Learn addr for rule `host` of scope path `scope` until exp; true if new.
 * Caller holds mu. */
static bool learned_add(struct enforcer *en, const char *scope, const char *host,
			const struct dns_addr *ad, int64_t exp, const char *qname)
{
	struct learned *x;

	for (size_t i = 0; i < en->nlrn; i++) {
		x = &en->lrn[i];
		if (x->family == ad->family && !memcmp(x->addr, ad->addr, 16) &&
		    !strcmp(x->host, host) && !strcmp(x->scope, scope)) {
			if (exp > x->expires)
				x->expires = exp;
			return false;
		}
	}
	if (en->nlrn >= ENFORCER_LEARNED_MAX || GROW(en->lrn, en->lrncap, en->nlrn + 1, 64) < 0) {
		log_warnx("dns: %zu learned addresses in force: %s for %s not learned", en->nlrn,
			  qname, host);
		return false;
	}
	x = &en->lrn[en->nlrn];
	x->scope = strdup(scope);
	x->host = strdup(host);
	if (!x->scope || !x->host) {
		learned_drop(x);
		return false;
	}
	en->nlrn++;
	x->family = ad->family;
	memcpy(x->addr, ad->addr, 16);
	x->expires = exp;
	x->kexp = 0;
	en->learned++;
	return true;
}

/* Does the answer's CNAME chain name `host`? */
static bool chain_names(const struct dns_response *r, const char *host)
{
	for (size_t c = 0; c < r->nchain; c++)
		if (strcmp(r->chain[c], host) == 0)
			return true;
	return false;
}

int enforcer_learn(void *ctx, const struct dns_response *r)
{
	struct enforcer *en = ctx;
	int64_t now = boot_ns();
	bool grew = false;
	int ret = 0;

	pthread_mutex_lock(&en->mu);
	for (size_t a = 0; a < r->naddrs; a++) {
		const struct dns_addr *ad = &r->addrs[a];
		int64_t exp = now + (int64_t)ad->ttl * 1000000000 + en->grace_ns;
		const struct policy *p = en->l->pol;

		for (size_t s = 0; s < p->nscopes; s++)
			for (size_t h = 0; h < p->scopes[s].nhosts; h++) {
				const char *host = p->scopes[s].hosts[h].name;

				if (chain_names(r, host) &&
				    learned_add(en, p->scopes[s].path, host, ad, exp, r->qname))
					grew = true;
			}
	}
	if (grew)
		ret = apply_locked(en, en->l);
	pthread_mutex_unlock(&en->mu);
	return ret;
}

size_t enforcer_expire(struct enforcer *en)
{
	int64_t now = boot_ns();
	int64_t early = en->grace_ns < EXPIRE_EARLY ? en->grace_ns : EXPIRE_EARLY;
	size_t n = 0, j = 0;
	bool refresh = false;

	pthread_mutex_lock(&en->mu);
	for (size_t i = 0; i < en->nlrn; i++) {
		struct learned *x = &en->lrn[i];

		if (x->expires - early <= now) {
			learned_drop(x);
			n++;
			continue;
		}
		/* in force with an expiry that a newer answer pushed out */
		if (x->kexp && x->expires > x->kexp && x->kexp - REFRESH_LEAD <= now)
			refresh = true;
		en->lrn[j++] = *x;
	}
	en->nlrn = j;
	pthread_mutex_unlock(&en->mu);
	return n + refresh;
}

int enforcer_reapply(struct enforcer *en)
{
	int ret;

	pthread_mutex_lock(&en->mu);
	ret = apply_locked(en, en->l);
	pthread_mutex_unlock(&en->mu);
	return ret;
}

void enforcer_stats(struct enforcer *en, struct enforcer_stats *st)
{
	pthread_mutex_lock(&en->mu);
	st->learned = en->learned;
	st->learned_now = en->nlrn;
	pthread_mutex_unlock(&en->mu);
}
