// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The policy in force plus learned addresses; see enforcer.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/cgroup.h"
#include "agent/engine.h"
#include "agent/engine_learn.h"
#include "agent/enforcer.h"
#include "agent/log.h"
#include "agent/util.h"
#include "bpf/policy_maps.h"

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

/* enforcer_expire() calls between two looks for learning cgroups that are
 * gone (their entries go with them). */
#define GONE_EVERY 5

struct enforcer {
	pthread_mutex_t mu; /* everything below, and engine_apply */
	struct engine *eng;
	const struct policy_loaded *l;
	int64_t grace_ns;
	struct learned *lrn;
	size_t nlrn, lrncap;
	uint64_t learned;      /* since start */
	struct learncg cg;     /* who learned what: the kernel's hush_learn */
	uint64_t unattributed; /* answers whose asker was unknown: learned by none */
	unsigned ticks;
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
	learncg_init(&en->cg, HUSH_LEARN_ENTRIES);
	/* What an earlier hushd left there belongs to addresses no table
	 * holds any more (l has none): clear it, or nothing ever would. */
	(void)engine_learn_clear(eng);
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
	learncg_free(&en->cg);
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

/* lcg may use ad until exp: in the kernel's hush_learn before this returns.
 * 0, or a negative errno (then ad stays denied to lcg).  Caller holds mu. */
static int learncg_add(struct enforcer *en, uint64_t lcg, const struct dns_addr *ad, int64_t exp,
		       const char *qname)
{
	const struct learncg_ent *x;
	int put = learncg_put(&en->cg, lcg, ad->family, ad->addr, exp, &x), ret;

	if (put == -E2BIG) {
		/* fail closed; counted (refused), logged now and then */
		if (en->cg.refused == 1 || en->cg.refused % 1000 == 0)
			log_warnx("dns: %zu learned (cgroup, address) entries in force, the most "
				  "the kernel holds: %s not learned for cgroup %llu (stays denied; "
				  "%llu refused so far)",
				  en->cg.n, qname, (unsigned long long)lcg,
				  (unsigned long long)en->cg.refused);
		return put;
	}
	if (put <= 0)
		return put;
	ret = engine_learn_put(en->eng, lcg, ad->family, ad->addr, (uint64_t)x->expires);
	if (ret == -E2BIG || ret == -ENOMEM) {
		en->cg.refused++;
		log_errno(ret, "dns: %s not learned for cgroup %llu (stays denied)", qname,
			  (unsigned long long)lcg);
	}
	if (ret && put == 1)
		learncg_unput(&en->cg);
	return ret;
}

int enforcer_learn(void *ctx, uint64_t lcg, const struct dns_response *r)
{
	struct enforcer *en = ctx;
	int64_t now = boot_ns();
	bool grew = false;
	int ret = 0, err = 0;

	pthread_mutex_lock(&en->mu);
	if (!lcg) {
		/* nobody to learn it for (the asker's record was lost) */
		en->unattributed++;
		pthread_mutex_unlock(&en->mu);
		return -ENOENT;
	}
	for (size_t a = 0; a < r->naddrs; a++) {
		const struct dns_addr *ad = &r->addrs[a];
		int64_t exp = now + (int64_t)ad->ttl * 1000000000 + en->grace_ns;
		const struct policy *p = en->l->pol;
		bool named = false;

		for (size_t s = 0; s < p->nscopes; s++)
			for (size_t h = 0; h < p->scopes[s].nhosts; h++) {
				const char *host = p->scopes[s].hosts[h].name;

				if (!chain_names(r, host))
					continue;
				named = true;
				if (learned_add(en, p->scopes[s].path, host, ad, exp, r->qname))
					grew = true;
			}
		if (named && (ret = learncg_add(en, lcg, ad, exp, r->qname)) != 0)
			err = ret;
	}
	ret = grew ? apply_locked(en, en->l) : 0;
	pthread_mutex_unlock(&en->mu);
	return ret ? ret : err;
}

/* learncg_sweep()'s questions: is the cgroup gone (a kernfs handle that no
 * longer opens)?  Unknown (no CAP_DAC_READ_SEARCH): no, its entries go at
 * their expiry. */
static int cg_gone(void *ctx, uint64_t lcg)
{
	char path[256];

	(void)ctx;
	return cgroup_path_by_handle(lcg, path, sizeof(path)) == -ESTALE;
}

static void cg_drop(void *ctx, const struct learncg_ent *x)
{
	struct enforcer *en = ctx;
	int ret = engine_learn_del(en->eng, x->lcg, x->family, x->addr);

	if (ret)
		log_errno(ret,
			  "dns: cannot drop a learned entry of cgroup %llu (it ends at its "
			  "expiry in the kernel anyway)",
			  (unsigned long long)x->lcg);
}

size_t enforcer_expire(struct enforcer *en)
{
	int64_t now = boot_ns();
	int64_t early = en->grace_ns < EXPIRE_EARLY ? en->grace_ns : EXPIRE_EARLY;
	size_t n = 0, j = 0;
	bool refresh = false;

	pthread_mutex_lock(&en->mu);
	/* The kernel ignores an expired entry already; this frees its room. */
	learncg_sweep(&en->cg, now, ++en->ticks % GONE_EVERY ? NULL : cg_gone, cg_drop, en);
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
	st->entries = en->cg.n;
	st->cgroups = learncg_by_cgroup(&en->cg, NULL, 0);
	st->refused = en->cg.refused;
	st->unattributed = en->unattributed;
	pthread_mutex_unlock(&en->mu);
}

size_t enforcer_by_cgroup(struct enforcer *en, struct learncg_count *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&en->mu);
	n = learncg_by_cgroup(&en->cg, out, max);
	pthread_mutex_unlock(&en->mu);
	return n;
}
