/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Unit tests of the compiled policy against the reference judge: a
 * differential test of policy_judge() against policy_compiled_judge() over
 * random policies, compile time at 100k prefixes (printed, not asserted),
 * learned addresses and their expiry, other and inbound scopes.
 *
 * Prints "PASS: name" or "FAIL: name: why" per case; exits 1 if any failed.
 */
#include "tests/unit/policy_tc.h"

/* ---- differential: judge == compiled judge over random policies ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n ? (uint32_t)(rng_state % n) : 0;
}

static const uint16_t port_pool[] = {0, 1, 22, 53, 80, 443, 1000, 2000, 8080, 65534, 65535};

static void rand_ports(char *o, size_t size)
{
	int n = 1 + (int)rnd(3), i;
	size_t len = 0;

	for (i = 0; i < n; i++) {
		uint16_t lo = port_pool[rnd(sizeof(port_pool) / sizeof(port_pool[0]))];

		if (rnd(3) == 0) {
			uint16_t hi = port_pool[rnd(sizeof(port_pool) / sizeof(port_pool[0]))];

			if (hi < lo) {
				uint16_t x = hi;

				hi = lo;
				lo = x;
			}
			len +=
			    (size_t)snprintf(o + len, size - len, "%s%u-%u", i ? "," : "", lo, hi);
		} else {
			len += (size_t)snprintf(o + len, size - len, "%s%u", i ? "," : "", lo);
		}
	}
}

/* A random prefix from a small universe so that prefixes nest and collide. */
static void rand_prefix(char *o, size_t size)
{
	uint8_t a[16] = {0};
	char txt[POLICY_ADDRSTRLEN];
	unsigned plen, k = rnd(10);

	if (k == 0) {
		snprintf(o, size, "any");
		return;
	}
	if (k <= 6) {
		static const unsigned pl[] = {0, 8, 16, 24, 25, 30, 32, 31, 12};

		a[0] = rnd(4) ? 10 : 127;
		a[1] = (uint8_t)rnd(3);
		a[2] = (uint8_t)rnd(3);
		a[3] = (uint8_t)(rnd(3) * 64 + rnd(3));
		plen = pl[rnd(9)];
		for (unsigned b = plen; b < 32; b++)
			a[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
		if (plen == 32 && !a[0] && !a[1] && !a[2] && !a[3])
			a[0] = 10;
		if (k == 6) { /* written as mapped IPv6 */
			snprintf(o, size, "::ffff:%u.%u.%u.%u/%u", a[0], a[1], a[2], a[3],
				 plen + 96);
			return;
		}
		policy_prefix_text(txt, AF_INET, a, plen, false);
	} else {
		static const unsigned pl[] = {0, 16, 32, 48, 64, 127, 128, 120};

		a[0] = 0xfd;
		a[1] = (uint8_t)rnd(2);
		a[5] = (uint8_t)rnd(3);
		a[15] = (uint8_t)rnd(3);
		if (rnd(5) == 0) {
			memset(a, 0, 16);
			a[15] = 1;
		}
		plen = pl[rnd(8)];
		for (unsigned b = plen; b < 128; b++)
			a[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
		if (plen == 128 && !memcmp(a, (uint8_t[16]){0}, 16))
			a[15] = 1;
		policy_prefix_text(txt, AF_INET6, a, plen, false);
	}
	snprintf(o, size, "%s", txt);
}

static char *rand_policy(void)
{
	static const char *paths[] = {"a", "a/b", "a/b/c", "ab", "x"};
	size_t cap = 1 << 16, len = 0;
	char *o = malloc(cap);
	int nscope = (int)rnd(4), s, i;
	bool used[5] = {0};

	if (!o)
		abort();
	for (s = -1; s < nscope; s++) {
		int nr = 1 + (int)rnd(s < 0 ? 12 : 5);
		const char *ind = "";

		if (s >= 0) {
			int pi = (int)rnd(5);

			if (used[pi])
				continue;
			used[pi] = true;
			len += (size_t)snprintf(o + len, cap - len, "scope %s {\n", paths[pi]);
			ind = "  ";
			if (rnd(3) == 0)
				len += (size_t)snprintf(o + len, cap - len, "%smode audit\n", ind);
		}
		for (i = 0; i < nr; i++) {
			char pfx[96], ports[96];
			static const char *protos[] = {"", " tcp", " udp", " any"};
			const char *proto = protos[rnd(4)];

			rand_prefix(pfx, sizeof(pfx));
			ports[0] = '\0';
			if (*proto && rnd(2)) {
				ports[0] = ' ';
				rand_ports(ports + 1, sizeof(ports) - 1);
			}
			len += (size_t)snprintf(o + len, cap - len, "%s%s %s%s%s\n", ind,
						rnd(3) ? "allow" : "deny", pfx, proto, ports);
		}
		if (s >= 0)
			len += (size_t)snprintf(o + len, cap - len, "}\n");
	}
	return o;
}

static void rand_dest(int *family, uint8_t *a)
{
	unsigned k = rnd(12);

	memset(a, 0, 16);
	if (k < 6) {
		*family = AF_INET;
		a[0] = k == 0 ? (uint8_t)rnd(256) : rnd(4) ? 10 : 127;
		a[1] = (uint8_t)rnd(3);
		a[2] = (uint8_t)rnd(3);
		a[3] = (uint8_t)(rnd(3) * 64 + rnd(3));
		if (k == 1)
			memset(a, 0, 4);
	} else if (k < 8) { /* mapped */
		*family = AF_INET6;
		a[10] = a[11] = 0xff;
		a[12] = rnd(4) ? 10 : 127;
		a[13] = (uint8_t)rnd(3);
		a[15] = (uint8_t)rnd(3);
		if (k == 7 && rnd(4) == 0)
			a[12] = 0;
	} else {
		*family = AF_INET6;
		a[0] = 0xfd;
		a[1] = (uint8_t)rnd(2);
		a[5] = (uint8_t)rnd(3);
		a[15] = (uint8_t)rnd(3);
		if (k == 11)
			memset(a, 0, 16), a[15] = (uint8_t)rnd(2);
		if (k == 10)
			a[0] = (uint8_t)rnd(256);
	}
}

static void test_differential(void)
{
	static const uint8_t protos[] = {6, 17, 1, 58, 132};
	long npol = 0, nq = 0, skipped = 0;
	int round;
	struct tc t;

	tc_begin(&t, "differential: policy_judge == policy_compiled_judge");
	for (round = 0; round < 400 && !t.failed; round++) {
		struct policy_errors e = {0};
		struct policy_compiled *c = NULL;
		struct policy *p = NULL;
		char *txt = rand_policy();
		int r, q;

		r = policy_parse("rand", txt, strlen(txt), &p, &e);
		if (r) {
			char *j = join_errs(&e);

			CHECK(&t, false, "random policy did not parse: %s\n%s", j, txt);
			free(j);
		} else if (policy_compile(p, &c, &e)) {
			skipped++; /* too many segments: legal outcome */
		} else {
			npol++;
			for (q = 0; q < 2000; q++) {
				size_t scope = rnd((uint32_t)p->nscopes);
				uint8_t a[16], proto = protos[rnd(5)];
				uint16_t port =
				    port_pool[rnd(sizeof(port_pool) / sizeof(port_pool[0]))];
				struct policy_verdict v, w;
				int fam = AF_INET;

				rand_dest(&fam, a);
				if (rnd(3) == 0)
					port = (uint16_t)(port + rnd(3) - 1);
				v = policy_judge(p, scope, fam, a, proto, port);
				w = policy_compiled_judge(c, scope, fam, a, proto, port);
				nq++;
				if (v.verdict != w.verdict || v.rule != w.rule) {
					char as[64];

					inet_ntop(fam, a, as, sizeof(as));
					CHECK(&t, false,
					      "scope %zu %s proto %u port %u: judge %u/%u compiled "
					      "%u/%u\n%s",
					      scope, as, proto, port, v.verdict, v.rule, w.verdict,
					      w.rule, txt);
					break;
				}
			}
		}
		policy_compiled_free(c);
		policy_free(p);
		policy_errors_free(&e);
		free(txt);
	}
	printf("# differential: %ld policies (%ld rejected by the compiler), %ld queries\n", npol,
	       skipped, nq);
	CHECK(&t, npol >= 300, "only %ld policies compiled", npol);
	tc_end(&t);
}

/* ---- scale ---- */

static void test_scale(void)
{
	const size_t n = 100000;
	struct policy_compiled *c = NULL;
	struct policy *p = NULL;
	size_t cap = n * 40 + 256, len = 0, i;
	char *txt = malloc(cap);
	double t0, t1, t2;
	struct tc t;

	if (!txt)
		abort();
	tc_begin(&t, "scale: 100k /32 prefixes under a /8 compile");
	len += (size_t)snprintf(txt + len, cap - len, "allow 10.0.0.0/8 tcp 443\nscope s {\n");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(
		    txt + len, cap - len, "  %s 10.%zu.%zu.%zu tcp 80,8000-8100\n",
		    i % 7 ? "allow" : "deny", (i >> 16) & 255, (i >> 8) & 255, i & 255);
	snprintf(txt + len, cap - len, "}\n");
	t0 = now_s(CLOCK_MONOTONIC);
	p = parse_ok(&t, txt);
	t1 = now_s(CLOCK_MONOTONIC);
	if (p)
		c = compile_ok(&t, p);
	t2 = now_s(CLOCK_MONOTONIC);
	if (c) {
		/* scope 0: /0, 10/8, 127/8; scope 1: those + 100k */
		CHECK(&t, c->n4 == n + 6 && c->n6 == 4, "n4 %zu n6 %zu", c->n4, c->n6);
		/* Same-shaped rules share a table (rule ids live in the
		 * LPM values): memory must not grow with the rule count. */
		CHECK(&t, c->nptabs <= 16, "%zu port tables for 100k same-shaped rules", c->nptabs);
		printf("# scale: parse %.3f s, compile %.3f s (%zu v4 keys, %zu tables)\n", t1 - t0,
		       t2 - t1, c->n4, c->nptabs);
	}
	policy_compiled_free(c);
	policy_free(p);
	free(txt);
	tc_end(&t);
}

/* Learned addresses (allow host): compiled as /32 or /128 allows of the
 * rule's scope with its id and ports, reaching the scope's subtree, never
 * over an explicit deny. */
static void test_learned(void)
{
	static const char *text = "deny 10.9.0.0/16\n"			    /* 1 */
				  "deny any tcp 22\n"			    /* 2 */
				  "allow dns *.corp.test\n"		    /* 3 */
				  "allow host web.corp.test tcp 443,8443\n" /* 4 */
				  "scope a {\n"
				  "  allow host db.corp.test\n" /* 5 */
				  "}\n"
				  "scope a/b {\n"
				  "}\n"
				  "scope c {\n"
				  "}\n";
	struct policy_compiled *c = NULL;
	struct policy_verdict v;
	struct policy *p;
	struct tc t;
	uint8_t web[16] = {10, 1, 2, 3}, db6[16] = {0xfd, 0, 0, 0x10, [15] = 7};
	uint8_t denied[16] = {10, 9, 1, 1}, other[16] = {10, 1, 2, 4};
	int r;

	tc_begin(&t, "learned: allow host addresses compile as exact allows");
	p = parse_ok(&t, text);
	if (!p) {
		tc_end(&t);
		return;
	}
	{
		struct policy_learned l[] = {
		    {0, &p->scopes[0].hosts[0], AF_INET, {0}, 0},
		    {1, &p->scopes[1].hosts[0], AF_INET6, {0}, 0},
		    {0, &p->scopes[0].hosts[0], AF_INET, {0}, 0},
		};

		memcpy(l[0].addr, web, 16);
		memcpy(l[1].addr, db6, 16);
		memcpy(l[2].addr, denied, 16);
		r = policy_compile_learned(p, l, 3, &c, NULL);
	}
	if (CHECK(&t, r == 0 && c, "policy_compile_learned: %d", r)) {
		v = policy_compiled_judge(c, 0, AF_INET, web, 6, 443);
		CHECK(&t, v.verdict == HUSH_VERDICT_ALLOW && v.rule == 4,
		      "web tcp 443 top level: %u rule %u", v.verdict, v.rule);
		v = policy_compiled_judge(c, 0, AF_INET, web, 6, 8443);
		CHECK(&t, v.verdict == HUSH_VERDICT_ALLOW, "web tcp 8443: %u", v.verdict);
		v = policy_compiled_judge(c, 0, AF_INET, web, 6, 80);
		CHECK(&t, v.verdict == HUSH_VERDICT_DENY, "web tcp 80 (not a host port): %u",
		      v.verdict);
		v = policy_compiled_judge(c, 0, AF_INET, web, 17, 443);
		CHECK(&t, v.verdict == HUSH_VERDICT_DENY, "web udp 443 (proto tcp only): %u",
		      v.verdict);
		v = policy_compiled_judge(c, 0, AF_INET, other, 6, 443);
		CHECK(&t, v.verdict == HUSH_VERDICT_DENY, "a neighbour address: %u", v.verdict);
		v = policy_compiled_judge(c, 3, AF_INET, web, 6, 443);
		CHECK(&t, v.verdict == HUSH_VERDICT_ALLOW, "top-level learned reaches scope c: %u",
		      v.verdict);
		v = policy_compiled_judge(c, 1, AF_INET6, db6, 6, 5432);
		CHECK(&t, v.verdict == HUSH_VERDICT_ALLOW && v.rule == 5,
		      "db in scope a, any port: %u rule %u", v.verdict, v.rule);
		v = policy_compiled_judge(c, 2, AF_INET6, db6, 17, 53);
		CHECK(&t, v.verdict == HUSH_VERDICT_ALLOW, "scope a's learned reaches a/b: %u",
		      v.verdict);
		v = policy_compiled_judge(c, 3, AF_INET6, db6, 6, 5432);
		CHECK(&t, v.verdict == HUSH_VERDICT_DENY, "scope a's learned not in scope c: %u",
		      v.verdict);
		v = policy_compiled_judge(c, 1, AF_INET6, db6, 6, 22);
		CHECK(&t, v.verdict == HUSH_VERDICT_ALLOW,
		      "deny any tcp 22 is /0: a learned /128 is more specific: %u", v.verdict);
		v = policy_compiled_judge(c, 0, AF_INET, denied, 6, 443);
		CHECK(&t, v.verdict == HUSH_VERDICT_DENY && v.rule == 1,
		      "an address under an explicit deny is not learned: %u rule %u", v.verdict,
		      v.rule);
		CHECK(&t,
		      policy_compiled_rule(c, 4) &&
			  !strcmp(policy_compiled_rule(c, 4)->text,
				  "allow host web.corp.test tcp 443,8443"),
		      "rule 4 keeps the host rule's text: %s",
		      policy_compiled_rule(c, 4) ? policy_compiled_rule(c, 4)->text : "(none)");
	}
	policy_compiled_free(c);
	c = NULL;
	r = policy_compile_learned(p, NULL, 0, &c, NULL);
	if (CHECK(&t, r == 0 && c, "no learned addresses: %d", r)) {
		v = policy_compiled_judge(c, 0, AF_INET, web, 6, 443);
		CHECK(&t, v.verdict == HUSH_VERDICT_DENY, "nothing learned: web denied: %u",
		      v.verdict);
	}
	policy_compiled_free(c);
	policy_free(p);
	tc_end(&t);
}

/* Learned addresses expire in the compiled tables: from the earliest expiry
 * of an address's entries on, its prefix judges as if nothing was learned
 * there (a less specific allow or deny, an explicit rule of the same prefix
 * still decide), and before it as learned. */
static void test_learned_expiry(void)
{
	static const char *text = "allow 10.1.0.0/16 tcp 80\n"	       /* 1 */
				  "deny any tcp 8443\n"		       /* 2 */
				  "allow 10.4.2.9 udp 53\n"	       /* 3 */
				  "allow host a.test tcp 443\n"	       /* 4 */
				  "allow host b.test tcp 8443,9000\n"; /* 5 */
	static const uint8_t protos[] = {6, 17, 1};
	static const uint16_t ports[] = {22, 53, 80, 443, 8443, 9000};
	uint8_t a1[16] = {10, 1, 2, 3}, a2[16] = {10, 4, 2, 9}, a3[16] = {10, 6, 0, 1};
	struct policy_compiled *c = NULL, *c0 = NULL;
	struct policy *p;
	struct tc t;
	int r, r0, bad = 0;

	tc_begin(&t, "learned: expiry in the compiled tables");
	p = parse_ok(&t, text);
	if (!p) {
		tc_end(&t);
		return;
	}
	{
		/* a1 (a, 100); a2 (a, 100 and b, 200: the earliest counts); a3 (b, never) */
		struct policy_learned l[] = {
		    {0, &p->scopes[0].hosts[0], AF_INET, {0}, 100},
		    {0, &p->scopes[0].hosts[0], AF_INET, {0}, 100},
		    {0, &p->scopes[0].hosts[1], AF_INET, {0}, 200},
		    {0, &p->scopes[0].hosts[1], AF_INET, {0}, 0},
		};

		memcpy(l[0].addr, a1, 16);
		memcpy(l[1].addr, a2, 16);
		memcpy(l[2].addr, a2, 16);
		memcpy(l[3].addr, a3, 16);
		r = policy_compile_learned(p, l, 4, &c, NULL);
	}
	r0 = policy_compile_learned(p, NULL, 0, &c0, NULL);
	if (CHECK(&t, r == 0 && c && r0 == 0 && c0, "compile: %d %d", r, r0)) {
		const uint8_t *addrs[] = {a1, a2, a3};
		const uint64_t nows[] = {0, 50, 99, 100, 150, 250};

		for (size_t ai = 0; ai < 3; ai++)
			for (size_t ni = 0; ni < 6; ni++)
				for (size_t pi = 0; pi < 3; pi++)
					for (size_t qi = 0; qi < 6; qi++) {
						uint64_t now = nows[ni];
						bool gone = ai < 2 && now >= 100;
						struct policy_verdict v, w;

						v = policy_compiled_judge_at(c, 0, AF_INET,
									     addrs[ai], protos[pi],
									     ports[qi], now);
						w = policy_compiled_judge_at(
						    gone ? c0 : c, 0, AF_INET, addrs[ai],
						    protos[pi], ports[qi], 0);
						if (v.verdict != w.verdict || v.rule != w.rule) {
							if (bad++ < 5)
								CHECK(&t, false,
								      "%u.%u.%u.%u proto %u port "
								      "%u at "
								      "%llu: %u rule %u, want %u "
								      "rule %u",
								      addrs[ai][0], addrs[ai][1],
								      addrs[ai][2], addrs[ai][3],
								      protos[pi], ports[qi],
								      (unsigned long long)now,
								      v.verdict, v.rule, w.verdict,
								      w.rule);
						}
					}
		CHECK(&t, bad == 0, "%d rulings differ from the expected tables", bad);
		/* spot checks of what that means */
		CHECK(&t,
		      policy_compiled_judge_at(c, 0, AF_INET, a1, 6, 443, 99).verdict ==
			  HUSH_VERDICT_ALLOW,
		      "a1 tcp 443 before expiry");
		CHECK(&t,
		      policy_compiled_judge_at(c, 0, AF_INET, a1, 6, 443, 100).verdict ==
			  HUSH_VERDICT_DENY,
		      "a1 tcp 443 at expiry");
		CHECK(&t, policy_compiled_judge_at(c, 0, AF_INET, a1, 6, 80, 100).rule == 1,
		      "a1 tcp 80 after expiry: the /16 allow still decides");
		CHECK(&t,
		      policy_compiled_judge_at(c, 0, AF_INET, a2, 6, 8443, 50).verdict ==
			  HUSH_VERDICT_ALLOW,
		      "a2 tcp 8443 (b) before the earliest expiry");
		{
			struct policy_verdict v =
			    policy_compiled_judge_at(c, 0, AF_INET, a2, 6, 8443, 150);

			CHECK(&t, v.verdict == HUSH_VERDICT_DENY && v.rule == 2,
			      "a2 tcp 8443 after: deny any tcp 8443 (/0) is not hidden: %u %u",
			      v.verdict, v.rule);
			v = policy_compiled_judge_at(c, 0, AF_INET, a2, 17, 53, 150);
			CHECK(&t, v.verdict == HUSH_VERDICT_ALLOW && v.rule == 3,
			      "a2 udp 53 after: its explicit rule of the same /32: %u %u",
			      v.verdict, v.rule);
		}
		CHECK(&t,
		      policy_compiled_judge_at(c, 0, AF_INET, a3, 6, 9000, 1ull << 62).verdict ==
			  HUSH_VERDICT_ALLOW,
		      "a3 (no expiry) stays");
		for (size_t i = 0; i < c->n4; i++)
			if (c->k4[i].prefixlen == 64 && !memcmp(c->k4[i].addr, a2, 4))
				CHECK(&t,
				      c->v4[i].expires == 100 && c->v4[i].fallback != c->v4[i].ptab,
				      "a2's LPM value: expires %llu",
				      (unsigned long long)c->v4[i].expires);
	}
	policy_compiled_free(c);
	policy_compiled_free(c0);
	policy_free(p);
	tc_end(&t);
}

/* HUSH_SCOPE_F_OTHER: some rule allows protocols without ports beyond
 * loopback, in the scope or an ancestor. */
static void test_scope_other(void)
{
	static const struct {
		const char *text;
		uint8_t want[3]; /* top level, scope a, scope b */
	} cases[] = {
	    {"scope a {\n}\nscope b {\n}\n", {0, 0, 0}},
	    {"allow 10.0.0.0/8\nscope a {\n}\nscope b {\n}\n", {1, 1, 1}},
	    {"allow 10.0.0.0/8 tcp 443\nscope a {\n}\nscope b {\n}\n", {0, 0, 0}},
	    {"allow 10.0.0.0/8 any 53\nscope a {\n}\nscope b {\n}\n", {0, 0, 0}},
	    {"allow 127.0.0.0/8\nallow ::1\nscope a {\n}\nscope b {\n}\n", {0, 0, 0}},
	    {"scope a {\n  allow fd00::/8\n}\nscope b {\n}\n", {0, 1, 0}},
	    {"deny 10.0.0.0/8\nscope a {\n}\nscope b {\n  allow any\n}\n", {0, 0, 1}},
	};
	struct tc t;

	tc_begin(&t, "scope flag: other protocols allowed beyond loopback");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy *p = parse_ok(&t, cases[i].text);
		struct policy_compiled *c = p ? compile_ok(&t, p) : NULL;

		for (size_t s = 0; c && s < 3; s++)
			CHECK(&t, (c->scopes[s].flags & HUSH_SCOPE_F_OTHER) == cases[i].want[s],
			      "case %zu scope %zu: flags %u", i, s, c->scopes[s].flags);
		policy_compiled_free(c);
		policy_free(p);
	}
	tc_end(&t);
}

/* HUSH_SCOPE_F_INBOUND_DENY: `inbound`, own or the nearest ancestor's,
 * default allow. */
static void test_scope_inbound(void)
{
	static const struct {
		const char *text;
		uint8_t want[3]; /* top level, scope a, scope a/b */
	} cases[] = {
	    {"scope a {\n}\nscope a/b {\n}\n", {0, 0, 0}},
	    {"inbound allow\nscope a {\n}\nscope a/b {\n}\n", {0, 0, 0}},
	    {"inbound deny\nscope a {\n}\nscope a/b {\n}\n", {1, 1, 1}},
	    {"scope a {\n  inbound deny\n}\nscope a/b {\n}\n", {0, 1, 1}},
	    {"inbound deny\nscope a {\n  inbound allow\n}\nscope a/b {\n}\n", {1, 0, 0}},
	    {"scope a {\n}\nscope a/b {\n  inbound deny\n}\n", {0, 0, 1}},
	};
	struct tc t;

	tc_begin(&t, "scope flag: inbound deny, inherited");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy *p = parse_ok(&t, cases[i].text);
		struct policy_compiled *c = p ? compile_ok(&t, p) : NULL;

		for (size_t s = 0; c && s < 3; s++)
			CHECK(&t,
			      !!(c->scopes[s].flags & HUSH_SCOPE_F_INBOUND_DENY) ==
				  cases[i].want[s],
			      "case %zu scope %zu: flags %u", i, s, c->scopes[s].flags);
		policy_compiled_free(c);
		policy_free(p);
	}
	tc_end(&t);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_differential();
	test_scale();
	test_learned();
	test_learned_expiry();
	test_scope_other();
	test_scope_inbound();
	return nfail ? 1 : 0;
}
