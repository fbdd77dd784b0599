// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Learned addresses stay with the cgroup that asked (issue 13): the compile
 * step's tables judged as the BPF programs do for a socket whose learning
 * cgroup did or did not learn the address (policy_compiled_judge_learner,
 * against the tables compiled without the address), and the enforcer's
 * (learning cgroup, address) table: put, extend, bound, sweep, counts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/learncg.h"
#include "rules/policy.h"

#define TC_PREFIX "learned: "
#include "tests/unit/tc.h"

static struct policy *parse(const char *text)
{
	struct policy_errors e = {0};
	struct policy *p = NULL;

	if (policy_parse("t.policy", text, strlen(text), &p, &e)) {
		policy_free(p);
		p = NULL;
	}
	policy_errors_free(&e);
	return p;
}

/* The compiled tables for one cgroup: with its own entry (lexp) the learned
 * address is the host rule's until the earlier of the prefix's expiry and
 * lexp; without one, or past either, exactly the tables without it. */
static void test_compile_per_cgroup(void)
{
	static const char *text = "allow 10.1.0.0/16 tcp 80\n"	   /* 1 */
				  "deny any tcp 22\n"		   /* 2 */
				  "scope llm {\n"		   /* scope 1 */
				  "  allow host m.test tcp 8080\n" /* 3 */
				  "}\n";
	static const uint8_t protos[] = {6, 17};
	static const uint16_t ports[] = {22, 80, 443, 8080};
	static const uint64_t nows[] = {0, 50, 99, 100, 150};
	static const uint64_t lexps[] = {0, 1, 60, 100, 150, UINT64_MAX};
	uint8_t a[16] = {10, 1, 2, 3}, other[16] = {10, 1, 2, 4};
	struct policy_compiled *c = NULL, *c0 = NULL;
	struct policy_verdict v;
	struct policy *p = parse(text);
	struct tc t;
	int r = -1, r0 = -1, bad = 0;

	tc_begin(&t, "compile: a learned address judges per learning cgroup");
	if (!CHECK(&t, p && p->nscopes == 2 && p->scopes[1].nhosts == 1, "parse")) {
		policy_free(p);
		tc_end(&t);
		return;
	}
	{
		struct policy_learned l = {1, &p->scopes[1].hosts[0], AF_INET, {0}, 100};

		memcpy(l.addr, a, 16);
		r = policy_compile_learned(p, &l, 1, &c, NULL);
	}
	r0 = policy_compile_learned(p, NULL, 0, &c0, NULL);
	if (CHECK(&t, r == 0 && c && r0 == 0 && c0, "compile: %d %d", r, r0)) {
		v = policy_compiled_judge_learner(c, 1, AF_INET, a, 6, 8080, 50, 150);
		CHECK(&t, v.verdict == HUSH_VERDICT_ALLOW && v.rule == 3,
		      "the cgroup that asked: allowed by rule 3 (%u rule %u)", v.verdict, v.rule);
		v = policy_compiled_judge_learner(c, 1, AF_INET, a, 6, 8080, 50, 0);
		CHECK(&t, v.verdict == HUSH_VERDICT_DENY,
		      "another cgroup of the scope: denied (%u rule %u)", v.verdict, v.rule);
		v = policy_compiled_judge_learner(c, 1, AF_INET, a, 6, 80, 50, 0);
		CHECK(&t, v.verdict == HUSH_VERDICT_ALLOW && v.rule == 1,
		      "another cgroup: the explicit /16 still decides (%u rule %u)", v.verdict,
		      v.rule);
		v = policy_compiled_judge_learner(c, 1, AF_INET, a, 6, 8080, 70, 60);
		CHECK(&t, v.verdict == HUSH_VERDICT_DENY,
		      "its own entry expired while the prefix runs: denied (%u)", v.verdict);
		v = policy_compiled_judge_learner(c, 1, AF_INET, a, 6, 8080, 120, 150);
		CHECK(&t, v.verdict == HUSH_VERDICT_DENY,
		      "the prefix expired before its entry: denied (%u)", v.verdict);
		v = policy_compiled_judge_learner(c, 0, AF_INET, a, 6, 8080, 50, 150);
		CHECK(&t, v.verdict == HUSH_VERDICT_DENY,
		      "the top level has no such rule: denied (%u)", v.verdict);
		/* differential: every case equals the tables with or without it */
		for (size_t ni = 0; ni < sizeof(nows) / sizeof(nows[0]); ni++)
			for (size_t li = 0; li < sizeof(lexps) / sizeof(lexps[0]); li++)
				for (size_t pi = 0; pi < 2; pi++)
					for (size_t qi = 0; qi < 4; qi++)
						for (int ai = 0; ai < 2; ai++) {
							const uint8_t *d = ai ? other : a;
							uint64_t now = nows[ni], le = lexps[li];
							bool held = !ai && now < 100 && now < le;
							struct policy_verdict w;

							v = policy_compiled_judge_learner(
							    c, 1, AF_INET, d, protos[pi], ports[qi],
							    now, le);
							w = policy_compiled_judge(
							    held ? c : c0, 1, AF_INET, d,
							    protos[pi], ports[qi]);
							if (v.verdict != w.verdict ||
							    v.rule != w.rule)
								bad++;
						}
		CHECK(&t, bad == 0, "%d cases differ from the tables with/without it", bad);
	}
	policy_compiled_free(c);
	policy_compiled_free(c0);
	policy_free(p);
	tc_end(&t);
}

static uint8_t ad[3][16] = {{10, 0, 0, 1}, {10, 0, 0, 2}, {0x20, 0x01, 0x0d, 0xb8}};

static void test_table_put(void)
{
	const struct learncg_ent *x;
	struct learncg lt;
	struct tc t;
	int r;

	tc_begin(&t, "table: put, extend, one entry per (cgroup, address), bounded");
	learncg_init(&lt, 3);
	r = learncg_put(&lt, 7, AF_INET, ad[0], 100, &x);
	CHECK(&t, r == 1 && x && x->lcg == 7 && x->expires == 100, "new: %d", r);
	r = learncg_put(&lt, 7, AF_INET, ad[0], 90, &x);
	CHECK(&t, r == 0 && !x && lt.n == 1, "an earlier expiry changes nothing: %d", r);
	r = learncg_put(&lt, 7, AF_INET, ad[0], 200, &x);
	CHECK(&t, r == 2 && x && x->expires == 200 && lt.n == 1, "a later one extends: %d", r);
	r = learncg_put(&lt, 8, AF_INET, ad[0], 100, &x);
	CHECK(&t, r == 1 && lt.n == 2, "another cgroup, same address: its own entry: %d", r);
	r = learncg_put(&lt, 7, AF_INET6, ad[2], 100, &x);
	CHECK(&t, r == 1 && lt.n == 3, "v6: %d", r);
	r = learncg_put(&lt, 9, AF_INET, ad[1], 100, &x);
	CHECK(&t, r == -E2BIG && lt.refused == 1 && lt.n == 3 && !x, "full: refused, counted: %d",
	      r);
	r = learncg_put(&lt, 8, AF_INET, ad[0], 300, &x);
	CHECK(&t, r == 2, "full, an existing entry still extends: %d", r);
	learncg_unput(&lt);
	CHECK(&t, lt.n == 2, "unput drops the last put");
	learncg_free(&lt);
	tc_end(&t);
}

static uint64_t dead_cg;
static size_t ndropped;

static int gone(void *ctx, uint64_t lcg)
{
	(void)ctx;
	return lcg == dead_cg;
}

static void dropped(void *ctx, const struct learncg_ent *e)
{
	(void)ctx;
	(void)e;
	ndropped++;
}

static void test_table_sweep(void)
{
	struct learncg_count cnt[4];
	const struct learncg_ent *x;
	struct learncg lt;
	struct tc t;
	size_t n;

	tc_begin(&t, "table: sweep by expiry and by removed cgroup; counts per cgroup");
	learncg_init(&lt, 100);
	learncg_put(&lt, 5, AF_INET, ad[0], 100, &x);
	learncg_put(&lt, 6, AF_INET, ad[0], 300, &x);
	learncg_put(&lt, 5, AF_INET, ad[1], 300, &x);
	learncg_put(&lt, 7, AF_INET, ad[1], 300, &x);
	learncg_put(&lt, 6, AF_INET6, ad[2], 300, &x);
	learncg_put(&lt, 6, AF_INET, ad[1], 300, &x);
	n = learncg_by_cgroup(&lt, cnt, 2);
	CHECK(&t, n == 3 && cnt[0].lcg == 6 && cnt[0].n == 3 && cnt[1].lcg == 5 && cnt[1].n == 2,
	      "counts: %zu cgroups, first %llu:%zu then %llu:%zu", n,
	      (unsigned long long)cnt[0].lcg, cnt[0].n, (unsigned long long)cnt[1].lcg, cnt[1].n);
	ndropped = 0;
	n = learncg_sweep(&lt, 100, NULL, dropped, NULL);
	CHECK(&t, n == 1 && ndropped == 1 && lt.n == 5, "expired at 100: %zu went", n);
	dead_cg = 6;
	n = learncg_sweep(&lt, 100, gone, dropped, NULL);
	CHECK(&t, n == 3 && ndropped == 4 && lt.n == 2, "cgroup 6 removed: %zu went", n);
	n = learncg_by_cgroup(&lt, cnt, 4);
	CHECK(&t, n == 2 && cnt[0].lcg == 5 && cnt[1].lcg == 7, "left: cgroups 5 and 7 (%zu)", n);
	n = learncg_sweep(&lt, 1000, gone, dropped, NULL);
	CHECK(&t, n == 2 && lt.n == 0 && learncg_by_cgroup(&lt, NULL, 0) == 0, "all expired");
	learncg_free(&lt);
	tc_end(&t);
}

int main(void)
{
	test_compile_per_cgroup();
	test_table_put();
	test_table_sweep();
	return nfail ? 1 : 0;
}
