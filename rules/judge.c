/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The two judges of a policy (see compile.c for the compiler).
 *
 * policy_judge() answers from the rules directly (longest matching prefix,
 * deny before allow, lowest id); policy_compiled_judge() answers from the
 * emitted keys and tables like the BPF programs.  The unit tests and the fuzz
 * target check that both always agree.
 */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "rules/judge_int.h"

/* ---- helpers ---- */

static bool path_covers(const char *anc, const char *path)
{
	size_t n = strlen(anc);

	if (!n)
		return true;
	if (policy_scope_is_selector(anc) || policy_scope_is_selector(path))
		return !strcmp(anc, path);
	return !strncmp(anc, path, n) && (path[n] == '\0' || path[n] == '/');
}

static bool rule_has_port(const struct policy_rule *r, uint16_t port)
{
	size_t i;

	if (!r->nports)
		return true;
	for (i = 0; i < r->nports; i++)
		if (port >= r->ports[i].lo && port <= r->ports[i].hi)
			return true;
	return false;
}

/* Mapped -> IPv4, 0.0.0.0 -> 127.0.0.1, :: -> ::1.  False: bad family. */
static bool norm_dest(int *family, const uint8_t *addr, uint8_t *a)
{
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
	static const uint8_t zero[16];

	memset(a, 0, 16);
	if (*family == AF_INET6) {
		if (!memcmp(addr, mapped, 12)) {
			*family = AF_INET;
			memcpy(a, addr + 12, 4);
		} else {
			memcpy(a, addr, 16);
			if (!memcmp(a, zero, 16))
				a[15] = 1;
			return true;
		}
	} else if (*family == AF_INET) {
		memcpy(a, addr, 4);
	} else {
		return false;
	}
	if (!a[0] && !a[1] && !a[2] && !a[3])
		a[0] = 127, a[3] = 1;
	return true;
}

/* ---- reference judge ---- */

struct policy_verdict policy_judge(const struct policy *p, size_t scope, int family,
				   const uint8_t *addr, uint8_t proto, uint16_t port)
{
	struct policy_verdict v = {HUSH_VERDICT_DENY, HUSH_RULE_DEFAULT};
	int best = -1, c = policy_l4(proto), lplen;
	bool best_deny = false;
	uint32_t best_id = 0;
	uint8_t a[16];
	size_t s, i;

	if (!p || scope >= p->nscopes || !norm_dest(&family, addr, a))
		return v;
	for (s = 0; s < p->nscopes; s++) {
		const struct policy_scope *sc = &p->scopes[s];

		if (s && !path_covers(sc->path, p->scopes[scope].path))
			continue;
		for (i = 0; i < sc->nrules; i++) {
			const struct policy_rule *r = &sc->rules[i];
			bool deny = r->action == POLICY_DENY;

			if (r->family != POLICY_FAMILY_ANY &&
			    (r->family != family || !prefix_match(r->addr, r->plen, a)))
				continue;
			if (!rule_in_class(r, c) || (c != HUSH_L4_OTHER && !rule_has_port(r, port)))
				continue;
			if (r->plen < best)
				continue;
			if (r->plen == best &&
			    (best_deny > deny || (best_deny == deny && best_id < r->id)))
				continue;
			best = r->plen;
			best_deny = deny;
			best_id = r->id;
		}
	}
	/* implicit loopback: loses to any explicit rule of its prefix length */
	lplen = family == AF_INET ? 8 : 128;
	if (best < lplen && prefix_match(family == AF_INET ? loop4 : loop6, (unsigned)lplen, a)) {
		v.verdict = HUSH_VERDICT_ALLOW;
		v.rule = HUSH_RULE_LOOPBACK;
		return v;
	}
	if (best >= 0) {
		v.verdict = best_deny ? HUSH_VERDICT_DENY : HUSH_VERDICT_ALLOW;
		v.rule = best_id;
	}
	return v;
}

/* ---- compiled judge: what the BPF programs do ---- */

static struct policy_verdict ptab_lookup(const struct policy_compiled *c,
					 const struct hush_lpm_val *lv, uint8_t proto,
					 uint16_t port, uint64_t now, uint64_t lexp)
{
	struct policy_verdict v = {HUSH_VERDICT_DENY, HUSH_RULE_DEFAULT};
	const struct hush_ptab *t;
	int cls = policy_l4(proto);
	unsigned lo = 0, hi, i;
	uint32_t ti = lv->ptab;

	/* learned addresses expired, or not learned by the asking cgroup
	 * (its own entry, as hush_learned_table() in bpf/hush.bpf.h): the
	 * table without them */
	if (lv->expires && (now >= lv->expires || now >= lexp))
		ti = lv->fallback;
	if (ti >= c->nptabs)
		return v;
	t = &c->ptabs[ti];
	hi = t->nseg[cls];
	if (!hi || hi > HUSH_SEG_MAX)
		return v;
	if (cls == HUSH_L4_OTHER)
		port = 0;
	/* bounded binary search: the last segment with lo <= port */
	for (i = 0; i < HUSH_SEG_SEARCH; i++) {
		unsigned mid;

		if (hi - lo <= 1)
			break;
		mid = (lo + hi) / 2;
		if (t->seg[cls][mid].lo <= port)
			lo = mid;
		else
			hi = mid;
	}
	if (t->seg[cls][lo].verdict == HUSH_VERDICT_ALLOW)
		v.verdict = HUSH_VERDICT_ALLOW;
	v.rule = t->seg[cls][lo].rule;
	if (v.rule >= HUSH_RULE_LOCAL0 && v.rule < HUSH_RULE_LOCAL0 + HUSH_LOCAL_RULES)
		v.rule = lv->rules[v.rule - HUSH_RULE_LOCAL0];
	return v;
}

struct policy_verdict policy_compiled_judge(const struct policy_compiled *c, size_t scope,
					    int family, const uint8_t *addr, uint8_t proto,
					    uint16_t port)
{
	return policy_compiled_judge_at(c, scope, family, addr, proto, port, 0);
}

struct policy_verdict policy_compiled_judge_at(const struct policy_compiled *c, size_t scope,
					       int family, const uint8_t *addr, uint8_t proto,
					       uint16_t port, uint64_t now)
{
	return policy_compiled_judge_learner(c, scope, family, addr, proto, port, now, UINT64_MAX);
}

struct policy_verdict policy_compiled_judge_learner(const struct policy_compiled *c, size_t scope,
						    int family, const uint8_t *addr, uint8_t proto,
						    uint16_t port, uint64_t now, uint64_t lexp)
{
	struct policy_verdict v = {HUSH_VERDICT_DENY, HUSH_RULE_DEFAULT};
	const struct hush_lpm_val *lv = NULL;
	long best = -1;
	uint8_t a[16];
	size_t i;

	if (!c || scope >= c->nscopes || !norm_dest(&family, addr, a))
		return v;
	if (family == AF_INET) {
		for (i = 0; i < c->n4; i++) {
			const struct hush_lpm4_key *k = &c->k4[i];

			if (k->scope != scope || k->prefixlen < 32 || k->prefixlen > 64)
				continue;
			if ((long)k->prefixlen > best &&
			    prefix_match(k->addr, k->prefixlen - 32, a)) {
				best = k->prefixlen;
				lv = &c->v4[i];
			}
		}
	} else {
		for (i = 0; i < c->n6; i++) {
			const struct hush_lpm6_key *k = &c->k6[i];

			if (k->scope != scope || k->prefixlen < 32 || k->prefixlen > 160)
				continue;
			if ((long)k->prefixlen > best &&
			    prefix_match(k->addr, k->prefixlen - 32, a)) {
				best = k->prefixlen;
				lv = &c->v6[i];
			}
		}
	}
	if (best < 0 || !lv)
		return v; /* no key: fail closed */
	return ptab_lookup(c, lv, proto, port, now, lexp);
}
