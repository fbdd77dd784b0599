/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Unit tests of policy semantics (rules/): what the reference judge and the
 * compiled tables rule for the design's example policies, modes, selectors,
 * the compiled tables' layout and compile errors.
 *
 * Prints "PASS: name" or "FAIL: name: why" per case; exits 1 if any failed.
 */
#include "tests/unit/policy_tc.h"

/* ---- semantics ---- */

struct sem_case {
	const char *name;
	const char *policy;
	size_t scope;
	const char *addr;
	uint8_t proto;
	uint16_t port;
	uint8_t verdict;
	uint32_t rule;
};

#define A  HUSH_VERDICT_ALLOW
#define D  HUSH_VERDICT_DENY
#define LB HUSH_RULE_LOOPBACK
#define DF HUSH_RULE_DEFAULT

static const char design_policy[] = "mode enforce\n"
				    "resolver 10.0.0.53\n"
				    "allow 10.20.0.0/16 tcp 443,8443\n"
				    "allow fd00:10::/48\n"
				    "deny  10.20.0.99\n"
				    "allow dns *.corp.internal\n"
				    "allow host models.corp.internal tcp 443\n"
				    "scope system.slice/ollama.service {\n"
				    "  allow 127.0.0.1 tcp 11434\n"
				    "}\n";

static const char carve_policy[] = "allow 10.0.0.0/8\n"			   /* 1 */
				   "deny 10.1.0.0/16\n"			   /* 2 */
				   "allow 10.1.2.0/24 tcp 443\n"	   /* 3 */
				   "deny 10.1.2.3 tcp 443\n"		   /* 4 */
				   "allow 10.9.0.0/16 udp 53\n"		   /* 5 */
				   "deny 10.9.0.0/16 udp 53-54\n"	   /* 6 */
				   "allow 10.9.0.0/16 udp 53-60\n"	   /* 7 */
				   "allow 192.0.2.0/24 tcp 80,8000-8100\n" /* 8 */
				   "allow 192.0.2.1 tcp 443\n"		   /* 9 */
				   "allow 198.51.100.0/24 any 53\n"	   /* 10 */
				   "allow any tcp 22\n"			   /* 11 */
				   "deny 0.0.0.0/0 tcp 23\n";		   /* 12 */

static const char scope_policy[] = "mode audit\n"
				   "allow 10.0.0.0/8 tcp 443\n" /* 1 */
				   "scope a {\n"
				   "  allow 10.1.0.0/16\n" /* 2 */
				   "}\n"
				   "scope a/b {\n"
				   "  mode enforce\n"
				   "  deny 10.1.1.0/24\n" /* 3 */
				   "}\n"
				   "scope ab {\n"
				   "  allow any\n" /* 4 */
				   "}\n"
				   "scope a/b/c {\n"
				   "  allow 10.1.1.1 udp\n" /* 5 */
				   "}\n"
				   "scope x/y {\n"
				   "  deny 10.0.0.0/8 tcp 443\n" /* 6 */
				   "}\n";

static const struct sem_case sem_cases[] = {
    /* the DESIGN.md example */
    {"design: allowed https", design_policy, 0, "10.20.1.1", 6, 443, A, 1},
    {"design: allowed 8443", design_policy, 0, "10.20.1.1", 6, 8443, A, 1},
    {"design: other port denied", design_policy, 0, "10.20.1.1", 6, 80, D, DF},
    {"design: udp denied", design_policy, 0, "10.20.1.1", 17, 443, D, DF},
    {"design: carve-out", design_policy, 0, "10.20.0.99", 6, 443, D, 3},
    {"design: carve-out udp", design_policy, 0, "10.20.0.99", 17, 53, D, 3},
    {"design: v6 any proto", design_policy, 0, "fd00:10::1", 58, 0, A, 2},
    {"design: v6 outside", design_policy, 0, "fd00:11::1", 6, 443, D, DF},
    {"design: loopback implicit", design_policy, 0, "127.0.0.1", 6, 11434, A, LB},
    {"design: scope rule", design_policy, 1, "127.0.0.1", 6, 11434, A, 6},
    {"design: scope inherits top", design_policy, 1, "10.20.1.1", 6, 443, A, 1},
    {"design: scope loopback other port", design_policy, 1, "127.0.0.1", 6, 80, A, LB},
    {"design: v6 loopback", design_policy, 0, "::1", 6, 1, A, LB},
    {"design: outside v4", design_policy, 0, "203.0.113.8", 17, 53, D, DF},
    {"design: mapped v6 judged as v4", design_policy, 0, "::ffff:10.20.0.99", 6, 443, D, 3},
    {"design: mapped allowed", design_policy, 0, "::ffff:10.20.3.4", 6, 8443, A, 1},
    {"design: 0.0.0.0 is loopback", design_policy, 0, "0.0.0.0", 6, 80, A, LB},
    {"design: :: is loopback", design_policy, 0, "::", 17, 80, A, LB},
    {"design: mapped 0.0.0.0 is loopback", design_policy, 0, "::ffff:0.0.0.0", 6, 80, A, LB},
    {"design: other proto at tcp rule", design_policy, 0, "10.20.1.1", 1, 0, D, DF},
    /* carve-outs and precedence */
    {"carve: allow /8", carve_policy, 0, "10.2.0.1", 17, 9, A, 1},
    {"carve: deny /16", carve_policy, 0, "10.1.9.9", 6, 443, D, 2},
    {"carve: allow /24 port inside deny /16", carve_policy, 0, "10.1.2.7", 6, 443, A, 3},
    {"carve: /24 other port falls to /16 deny", carve_policy, 0, "10.1.2.7", 6, 80, D, 2},
    {"carve: /32 deny inside /24 allow", carve_policy, 0, "10.1.2.3", 6, 443, D, 4},
    {"carve: /32 other port from /16", carve_policy, 0, "10.1.2.3", 6, 444, D, 2},
    {"carve: deny beats allow same prefix", carve_policy, 0, "10.9.1.1", 17, 53, D, 6},
    {"carve: deny range end", carve_policy, 0, "10.9.1.1", 17, 54, D, 6},
    {"carve: allow past deny range", carve_policy, 0, "10.9.1.1", 17, 55, A, 7},
    {"carve: allow range end", carve_policy, 0, "10.9.1.1", 17, 60, A, 7},
    {"carve: beyond ranges -> /8", carve_policy, 0, "10.9.1.1", 17, 61, A, 1},
    {"carve: tcp at udp rules -> /8", carve_policy, 0, "10.9.1.1", 6, 53, A, 1},
    {"carve: list item", carve_policy, 0, "192.0.2.9", 6, 80, A, 8},
    {"carve: range lo", carve_policy, 0, "192.0.2.9", 6, 8000, A, 8},
    {"carve: range hi", carve_policy, 0, "192.0.2.9", 6, 8100, A, 8},
    {"carve: below range", carve_policy, 0, "192.0.2.9", 6, 7999, D, DF},
    {"carve: above range", carve_policy, 0, "192.0.2.9", 6, 8101, D, DF},
    {"carve: specific allow keeps less specific ports", carve_policy, 0, "192.0.2.1", 6, 8050, A,
     8},
    {"carve: specific allow own port", carve_policy, 0, "192.0.2.1", 6, 443, A, 9},
    {"carve: specific allow other port", carve_policy, 0, "192.0.2.1", 6, 444, D, DF},
    {"carve: any with ports tcp", carve_policy, 0, "198.51.100.7", 6, 53, A, 10},
    {"carve: any with ports udp", carve_policy, 0, "198.51.100.7", 17, 53, A, 10},
    {"carve: any with ports not icmp", carve_policy, 0, "198.51.100.7", 1, 0, D, DF},
    {"carve: any with ports other port", carve_policy, 0, "198.51.100.7", 17, 54, D, DF},
    {"carve: allow any tcp 22", carve_policy, 0, "203.0.113.1", 6, 22, A, 11},
    {"carve: allow any covers v6", carve_policy, 0, "2001:db8::1", 6, 22, A, 11},
    {"carve: deny 0/0 tcp 23", carve_policy, 0, "203.0.113.1", 6, 23, D, 12},
    {"carve: /0 deny loses to /8 allow", carve_policy, 0, "10.2.3.4", 6, 23, A, 1},
    {"carve: 0/0 is v4 only", carve_policy, 0, "2001:db8::1", 6, 23, D, DF},
    {"carve: icmp under allow /8", carve_policy, 0, "10.3.3.3", 1, 0, A, 1},
    {"carve: icmp under deny /16", carve_policy, 0, "10.1.3.3", 1, 0, D, 2},
    {"carve: icmp ignores tcp-only /24", carve_policy, 0, "10.1.2.3", 1, 0, D, 2},
    {"carve: port 0", carve_policy, 0, "10.2.3.4", 6, 0, A, 1},
    {"carve: port 65535", carve_policy, 0, "10.2.3.4", 17, 65535, A, 1},
    /* loopback */
    {"loopback: tcp", "", 0, "127.0.0.1", 6, 80, A, LB},
    {"loopback: whole /8", "", 0, "127.255.0.9", 17, 53, A, LB},
    {"loopback: icmp", "", 0, "127.0.0.1", 1, 0, A, LB},
    {"loopback: v6", "", 0, "::1", 6, 80, A, LB},
    {"loopback: mapped", "", 0, "::ffff:127.0.0.1", 6, 80, A, LB},
    {"loopback: not ::2", "", 0, "::2", 6, 80, D, DF},
    {"loopback: not 128.0.0.1", "", 0, "128.0.0.1", 6, 80, D, DF},
    {"loopback: deny /8 switches off", "deny 127.0.0.0/8\n", 0, "127.0.0.1", 6, 80, D, 1},
    {"loopback: deny /8 tcp keeps udp", "deny 127.0.0.0/8 tcp\n", 0, "127.0.0.1", 17, 53, A, LB},
    {"loopback: deny /8 tcp", "deny 127.0.0.0/8 tcp\n", 0, "127.0.0.1", 6, 53, D, 1},
    {"loopback: deny /8 via 0.0.0.0", "deny 127.0.0.0/8\n", 0, "0.0.0.0", 6, 80, D, 1},
    {"loopback: allow /8 port is explicit", "allow 127.0.0.0/8 tcp 80\n", 0, "127.0.0.1", 6, 80, A,
     1},
    {"loopback: deny /16 inside", "deny 127.1.0.0/16\n", 0, "127.1.0.1", 6, 80, D, 1},
    {"loopback: deny /16 outside", "deny 127.1.0.0/16\n", 0, "127.0.0.1", 6, 80, A, LB},
    {"loopback: deny /0 loses", "deny any\n", 0, "127.0.0.1", 6, 80, A, LB},
    {"loopback: deny ::1", "deny ::1\n", 0, "::1", 6, 80, D, 1},
    {"loopback: deny ::1 via ::", "deny ::1\n", 0, "::", 6, 80, D, 1},
    {"loopback: deny ::1 v4 still ok", "deny ::1\n", 0, "127.0.0.1", 6, 80, A, LB},
    {"loopback: deny mapped rule", "deny ::ffff:127.0.0.0/104\n", 0, "127.0.0.1", 6, 80, D, 1},
    {"loopback: deny ::/0 keeps ::1", "deny ::/0\n", 0, "::1", 6, 80, A, LB},
    /* mapped rules are IPv4 rules */
    {"mapped: rule matches v4", "allow ::ffff:192.0.2.0/120 tcp 443\n", 0, "192.0.2.5", 6, 443, A,
     1},
    {"mapped: rule matches mapped dest", "allow ::ffff:192.0.2.0/120 tcp 443\n", 0,
     "::ffff:192.0.2.5", 6, 443, A, 1},
    {"mapped: v6 rule does not match mapped", "allow ::/0\n", 0, "::ffff:192.0.2.5", 6, 443, D, DF},
    {"mapped: v6 /80 does not match mapped", "allow ::/80\n", 0, "::ffff:192.0.2.5", 6, 443, D, DF},
    /* scopes and inheritance */
    {"scope: top only", scope_policy, 0, "10.1.0.1", 6, 80, D, DF},
    {"scope: top rule", scope_policy, 0, "10.1.0.1", 6, 443, A, 1},
    {"scope: a own", scope_policy, 1, "10.1.0.1", 6, 80, A, 2},
    {"scope: a/b inherits a", scope_policy, 2, "10.1.2.1", 6, 80, A, 2},
    {"scope: a/b own deny", scope_policy, 2, "10.1.1.1", 6, 443, D, 3},
    {"scope: a/b/c own allow", scope_policy, 4, "10.1.1.1", 17, 5, A, 5},
    {"scope: a/b/c inherits a/b deny", scope_policy, 4, "10.1.1.2", 17, 5, D, 3},
    {"scope: ab is not under a", scope_policy, 3, "10.1.0.1", 1, 0, A, 4},
    {"scope: ab own any", scope_policy, 3, "192.0.2.1", 6, 9, A, 4},
    {"scope: a does not see ab", scope_policy, 1, "192.0.2.1", 6, 9, D, DF},
    {"scope: a does not see a/b", scope_policy, 1, "10.1.1.1", 6, 443, A, 2},
    {"scope: x/y deny equal prefix", scope_policy, 5, "10.5.5.5", 6, 443, D, 6},
    {"scope: bad scope index", scope_policy, 99, "10.1.0.1", 6, 443, D, DF},
};

static int parse_addr(const char *s, int *family, uint8_t *a)
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET, s, a) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

static void test_semantics(void)
{
	struct tc t;
	size_t i;

	for (i = 0; i < sizeof(sem_cases) / sizeof(sem_cases[0]); i++) {
		const struct sem_case *sc = &sem_cases[i];
		struct policy_compiled *c = NULL;
		struct policy_verdict v, w;
		struct policy *p;
		uint8_t a[16];
		int fam = AF_INET;

		tc_begin(&t, "semantics: %s", sc->name);
		p = parse_ok(&t, sc->policy);
		if (p)
			c = compile_ok(&t, p);
		if (p && c && CHECK(&t, !parse_addr(sc->addr, &fam, a), "bad test address")) {
			v = policy_judge(p, sc->scope, fam, a, sc->proto, sc->port);
			w = policy_compiled_judge(c, sc->scope, fam, a, sc->proto, sc->port);
			CHECK(&t, v.verdict == sc->verdict && v.rule == sc->rule,
			      "judge: verdict %u rule %u, want %u rule %u", v.verdict, v.rule,
			      sc->verdict, sc->rule);
			CHECK(&t, w.verdict == sc->verdict && w.rule == sc->rule,
			      "compiled: verdict %u rule %u, want %u rule %u", w.verdict, w.rule,
			      sc->verdict, sc->rule);
		}
		policy_compiled_free(c);
		policy_free(p);
		tc_end(&t);
	}
}

static void test_modes(void)
{
	static const char *in = "mode audit\n"
				"scope a {\n}\n"
				"scope a/b {\n mode enforce\n}\n"
				"scope a/b/c/d {\n}\n"
				"scope e {\n mode audit\n}\n"
				"scope a/x {\n}\n";
	struct policy_compiled *c = NULL;
	struct policy *p;
	struct tc t;

	tc_begin(&t, "compile: mode inheritance");
	p = parse_ok(&t, in);
	if (p)
		c = compile_ok(&t, p);
	if (c) {
		CHECK(&t, c->nscopes == 6, "nscopes %zu", c->nscopes);
		CHECK(&t, c->scopes[0].mode == HUSH_MODE_AUDIT && !strcmp(c->scopes[0].path, ""),
		      "top");
		CHECK(&t, c->scopes[1].mode == HUSH_MODE_AUDIT, "a inherits top");
		CHECK(&t, c->scopes[2].mode == HUSH_MODE_ENFORCE, "a/b own");
		CHECK(&t,
		      c->scopes[3].mode == HUSH_MODE_ENFORCE &&
			  !strcmp(c->scopes[3].path, "a/b/c/d"),
		      "a/b/c/d inherits a/b (not top)");
		CHECK(&t, c->scopes[4].mode == HUSH_MODE_AUDIT, "e own");
		CHECK(&t, c->scopes[5].mode == HUSH_MODE_AUDIT, "a/x inherits a -> top");
	}
	policy_compiled_free(c);
	policy_free(p);
	tc_end(&t);

	tc_begin(&t, "compile: default top mode enforce");
	p = parse_ok(&t, "scope a {\n}\n");
	c = p ? compile_ok(&t, p) : NULL;
	CHECK(&t,
	      c && c->scopes[0].mode == HUSH_MODE_ENFORCE && c->scopes[1].mode == HUSH_MODE_ENFORCE,
	      "modes");
	policy_compiled_free(c);
	policy_free(p);
	tc_end(&t);
}

/* Container and pod selector scopes: parse, print, inheritance, match. */
static void test_selectors(void)
{
	static const char *in = "mode audit\n"
				"allow 10.0.0.1\n"
				"scope container {\n}\n"
				"scope container name=web-* label=app=x* {\n mode enforce\n"
				" allow 10.0.0.2 tcp 80\n}\n"
				"scope container image=reg.corp/vllm:* {\n}\n"
				"scope container image=reg.corp {\n}\n"
				"scope pod namespace=llm name=vllm-* {\n}\n";
	static const char *const lk[] = {"app", "io.kubernetes.pod.namespace"};
	static const char *const lv[] = {"xyz", "llm"};
	struct policy_ctr web = {
	    .id = "3f2a", .name = "web-1", .image = "bb", .nlabels = 1, .lkey = lk, .lval = lv};
	struct policy_ctr vllm = {.name = "v", .image = "reg.corp/vllm:0.6"};
	struct policy_ctr pod = {.name = "c",
				 .pod_ns = "llm",
				 .pod_name = "vllm-0",
				 .nlabels = 2,
				 .lkey = lk,
				 .lval = lv};
	struct policy_compiled *c = NULL;
	struct policy *p;
	struct tc t;
	uint8_t a[16] = {10, 0, 0, 2};
	char *txt;

	tc_begin(&t, "selectors: parse, print, inheritance, match");
	p = parse_ok(&t, in);
	if (p)
		c = compile_ok(&t, p);
	if (c) {
		CHECK(&t, c->nscopes == 6, "nscopes %zu", c->nscopes);
		CHECK(&t, !policy_scope_is_selector(c->scopes[1].path), "bare container is a path");
		CHECK(&t, !strcmp(c->scopes[2].path, "container name=web-* label=app=x*"), "%s",
		      c->scopes[2].path);
		CHECK(&t, c->scopes[2].mode == HUSH_MODE_ENFORCE, "own mode");
		CHECK(&t, c->scopes[3].mode == HUSH_MODE_AUDIT, "mode from the top level");
		CHECK(&t,
		      policy_compiled_judge(c, 2, AF_INET, a, 6, 80).verdict == HUSH_VERDICT_ALLOW,
		      "own rule");
		a[3] = 1;
		CHECK(&t,
		      policy_compiled_judge(c, 2, AF_INET, a, 6, 80).verdict == HUSH_VERDICT_ALLOW,
		      "top-level rule");
		a[3] = 2;
		/* "container image=reg.corp" is no ancestor of "...reg.corp/vllm:*" */
		CHECK(&t,
		      policy_compiled_judge(c, 3, AF_INET, a, 6, 80).verdict == HUSH_VERDICT_DENY,
		      "no rule of another selector");
		CHECK(&t, policy_judge(p, 3, AF_INET, a, 6, 80).verdict == HUSH_VERDICT_DENY,
		      "reference judge agrees");
		CHECK(&t, policy_selector_match(c->scopes[2].path, &web), "web matches");
		CHECK(&t, !policy_selector_match(c->scopes[3].path, &web), "web is not vllm");
		CHECK(&t, policy_selector_match(c->scopes[3].path, &vllm), "vllm image glob");
		CHECK(&t, !policy_selector_match(c->scopes[4].path, &vllm), "image exact");
		CHECK(&t, policy_selector_match(c->scopes[5].path, &pod), "pod ns and name");
		CHECK(&t, !policy_selector_match(c->scopes[5].path, &web), "no pod: no match");
		CHECK(&t, !policy_selector_match(c->scopes[1].path, &web), "a path never matches");
		CHECK(&t, policy_selector_match("container id=3f", &web), "id prefix");
		CHECK(&t, !policy_selector_match("container id=3f2a9", &web), "id longer");
		CHECK(&t, !policy_selector_match("container label=app=y*", &web), "label value");
		CHECK(&t, !policy_selector_match("container label=nolabel=*", &web), "label key");
	}
	txt = p ? policy_to_string(p) : NULL;
	CHECK(&t, txt && strstr(txt, "\nscope container name=web-* label=app=x* {\n"), "print");
	free(txt);
	policy_compiled_free(c);
	policy_free(p);
	tc_end(&t);
}

/* Layout of the compiled tables: what the BPF maps receive. */
static void test_layout(void)
{
	struct policy_compiled *c = NULL;
	struct policy *p;
	struct tc t;
	size_t i, s;

	tc_begin(&t, "compile: keys, tables, padding, rule info");
	p = parse_ok(&t, design_policy);
	if (p)
		c = compile_ok(&t, p);
	if (c) {
		/* every scope has /0 and loopback keys in both families */
		for (s = 0; s < c->nscopes; s++) {
			bool z4 = false, z6 = false, l4 = false, l6 = false;

			for (i = 0; i < c->n4; i++) {
				if (c->k4[i].scope != s)
					continue;
				z4 |= c->k4[i].prefixlen == 32;
				l4 |= c->k4[i].prefixlen == 40 && c->k4[i].addr[0] == 127;
			}
			for (i = 0; i < c->n6; i++) {
				if (c->k6[i].scope != s)
					continue;
				z6 |= c->k6[i].prefixlen == 32;
				l6 |= c->k6[i].prefixlen == 160 && c->k6[i].addr[15] == 1;
			}
			CHECK(&t, z4 && z6 && l4 && l6, "scope %zu misses /0 or loopback keys", s);
		}
		/* scope 0: /0, 10.20/16, 10.20.0.99, 127/8; scope 1 adds 127.0.0.1 */
		CHECK(&t, c->n4 == 9 && c->n6 == 6, "n4 %zu n6 %zu", c->n4, c->n6);
		for (i = 0; i < c->n4; i++)
			CHECK(&t, c->v4[i].ptab < c->nptabs, "v4 value out of range");
		for (i = 0; i < c->n6; i++)
			CHECK(&t, c->v6[i].ptab < c->nptabs, "v6 value out of range");
		/* tables: sorted segments from 0, unused bytes zero, any_allow right */
		for (i = 0; i < c->nptabs; i++) {
			const struct hush_ptab *pt = &c->ptabs[i];
			int cl;

			CHECK(&t, !pt->pad[0] && !pt->pad[1], "ptab pad");
			CHECK(&t, pt->nseg[HUSH_L4_OTHER] == 1, "other class not single");
			for (cl = 0; cl < HUSH_L4_MAX; cl++) {
				bool any = false;
				unsigned k;

				CHECK(&t, pt->nseg[cl] >= 1 && pt->nseg[cl] <= HUSH_SEG_MAX,
				      "nseg");
				CHECK(&t, pt->seg[cl][0].lo == 0, "first lo");
				for (k = 0; k < HUSH_SEG_MAX; k++) {
					const struct hush_seg *sg = &pt->seg[cl][k];

					if (k >= pt->nseg[cl]) {
						CHECK(&t,
						      !sg->lo && !sg->verdict && !sg->pad &&
							  !sg->rule,
						      "unused segment not zero");
						continue;
					}
					CHECK(&t, !sg->pad, "seg pad");
					CHECK(&t, sg->verdict == A || sg->verdict == D, "verdict");
					if (k)
						CHECK(&t, sg->lo > pt->seg[cl][k - 1].lo,
						      "unsorted");
					if (k)
						CHECK(&t,
						      sg->verdict != pt->seg[cl][k - 1].verdict ||
							  sg->rule != pt->seg[cl][k - 1].rule,
						      "unmerged neighbours");
					any |= sg->verdict == A;
				}
				CHECK(&t, pt->any_allow[cl] == any, "any_allow");
			}
		}
		/* identical tables are shared */
		for (i = 0; i < c->nptabs; i++)
			for (s = i + 1; s < c->nptabs; s++)
				CHECK(&t, memcmp(&c->ptabs[i], &c->ptabs[s], sizeof(c->ptabs[i])),
				      "duplicate ptab %zu %zu", i, s);
		/* rule info */
		CHECK(&t, c->nrules == 6, "nrules %zu", c->nrules);
		for (i = 0; i < c->nrules; i++)
			CHECK(&t, c->rules[i].id == i + 1, "rule info order");
		CHECK(&t,
		      c->nrules == 6 &&
			  !strcmp(c->rules[0].text, "allow 10.20.0.0/16 tcp 443,8443") &&
			  !strcmp(c->rules[2].text, "deny 10.20.0.99") &&
			  !strcmp(c->rules[3].text, "allow dns *.corp.internal") &&
			  !strcmp(c->rules[4].text, "allow host models.corp.internal tcp 443") &&
			  !strcmp(c->rules[5].text, "allow 127.0.0.1 tcp 11434") &&
			  c->rules[5].loc.line == 9 && c->rules[5].loc.col == 3,
		      "rule texts");
		CHECK(&t, policy_compiled_rule(c, 3) == &c->rules[2], "lookup 3");
		CHECK(&t,
		      !policy_compiled_rule(c, 0) && !policy_compiled_rule(c, 7) &&
			  !policy_compiled_rule(c, HUSH_RULE_LOOPBACK),
		      "lookup of implicit ids");
	}
	policy_compiled_free(c);
	policy_free(p);
	tc_end(&t);

	tc_begin(&t, "compile: segments of one table");
	p = parse_ok(&t, "allow 10.0.0.0/8 tcp 80,443\ndeny 10.0.0.0/8 tcp 443-444\n");
	c = p ? compile_ok(&t, p) : NULL;
	if (c) {
		const struct hush_ptab *pt = NULL;
		const struct hush_lpm_val *lv = NULL;

		for (i = 0; i < c->n4; i++)
			if (c->k4[i].prefixlen == 40 && c->k4[i].addr[0] == 10) {
				lv = &c->v4[i];
				pt = &c->ptabs[c->v4[i].ptab];
			}
		if (CHECK(&t, pt != NULL, "no key for 10/8")) {
			const struct hush_seg *sg = pt->seg[HUSH_L4_TCP];

			/* Rules of this prefix are named through the LPM
			 * value's local slots, in order of appearance. */
			CHECK(&t, pt->nseg[HUSH_L4_TCP] == 5, "tcp nseg %u", pt->nseg[HUSH_L4_TCP]);
			CHECK(&t,
			      sg[0].lo == 0 && sg[0].verdict == D && sg[0].rule == DF &&
				  sg[1].lo == 80 && sg[1].verdict == A &&
				  sg[1].rule == HUSH_RULE_LOCAL0 && sg[2].lo == 81 &&
				  sg[2].verdict == D && sg[2].rule == DF && sg[3].lo == 443 &&
				  sg[3].verdict == D && sg[3].rule == HUSH_RULE_LOCAL0 + 1 &&
				  sg[4].lo == 445 && sg[4].verdict == D && sg[4].rule == DF &&
				  lv->rules[0] == 1 && lv->rules[1] == 2,
			      "tcp segments");
			CHECK(&t,
			      pt->nseg[HUSH_L4_UDP] == 1 && pt->seg[HUSH_L4_UDP][0].rule == DF &&
				  !pt->any_allow[HUSH_L4_UDP] && pt->any_allow[HUSH_L4_TCP],
			      "udp");
		}
	}
	policy_compiled_free(c);
	policy_free(p);
	tc_end(&t);
}

static void test_compile_errors(void)
{
	struct policy_errors e = {0};
	struct policy_compiled *c = (struct policy_compiled *)1;
	struct policy *p = NULL;
	char buf[1024], *got;
	struct tc t;
	int i, n, r;

	tc_begin(&t, "compile error: too many port ranges");
	/* 35 separate ports: 71 segments (0, then each port and the gap after it) */
	n = snprintf(buf, sizeof(buf), "allow 10.0.0.0/24 udp 1\nallow 10.0.0.0/8 tcp 1");
	for (i = 1; i < 35; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",%d", 10 * i);
	snprintf(buf + n, sizeof(buf) - (size_t)n, "\nscope a {\n}\n");
	p = parse_ok(&t, buf);
	if (p) {
		r = policy_compile(p, &c, &e);
		got = join_errs(&e);
		CHECK(&t, r == -EINVAL && c == NULL, "returned %d", r);
		/* reported once: not again for the /24 child, nor for scope a */
		CHECK(&t,
		      !strcmp(got, "t.policy:2:1: too many port ranges at 10.0.0.0/8 (tcp needs "
				   "71 segments, at most 64)"),
		      "got %s", got);
		free(got);
		policy_errors_free(&e);
	}
	policy_free(p);
	tc_end(&t);

	tc_begin(&t, "compile: 64 segments fit");
	/* 32 ports from 0: each port and the gap after it = 64 segments */
	n = snprintf(buf, sizeof(buf), "allow fd00::/16 udp 0");
	for (i = 1; i < 32; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",%d", 10 * i);
	snprintf(buf + n, sizeof(buf) - (size_t)n, "\n");
	p = parse_ok(&t, buf);
	c = p ? compile_ok(&t, p) : NULL;
	if (c) {
		uint8_t a[16] = {0xfd, 0, 1};
		struct policy_verdict v = policy_compiled_judge(c, 0, AF_INET6, a, 17, 310);

		CHECK(&t, v.verdict == A && v.rule == 1, "port 310");
		v = policy_compiled_judge(c, 0, AF_INET6, a, 17, 311);
		CHECK(&t, v.verdict == D && v.rule == DF, "port 311");
		v = policy_compiled_judge(c, 0, AF_INET6, a, 17, 65535);
		CHECK(&t, v.verdict == D && v.rule == DF, "port 65535");
	}
	policy_compiled_free(c);
	policy_free(p);
	tc_end(&t);

	tc_begin(&t, "compile: deny all at a prefix absorbs many ports");
	n = snprintf(buf, sizeof(buf), "deny 10.0.0.0/8\nallow 10.0.0.0/8 tcp 1");
	for (i = 1; i < 100; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",%d", 3 * i);
	snprintf(buf + n, sizeof(buf) - (size_t)n, "\n");
	p = parse_ok(&t, buf);
	c = p ? compile_ok(&t, p) : NULL;
	policy_compiled_free(c);
	policy_free(p);
	tc_end(&t);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_semantics();
	test_modes();
	test_selectors();
	test_layout();
	test_compile_errors();
	return nfail ? 1 : 0;
}
