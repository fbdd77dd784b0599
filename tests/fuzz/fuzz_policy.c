/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer target for the policy library.
 *
 * For any input bytes:
 *   - a rejected input must yield at least one "fuzz:LINE:COL: ..." message
 *     and no policy;
 *   - an accepted input must print, the printed text must parse again and
 *     print identically (round trip);
 *   - compiling must not crash, and where it succeeds the compiled tables
 *     must agree with the reference judge (policy_judge) on destinations
 *     derived from the rules themselves: the edges of every prefix and every
 *     port range, in every scope.
 * Any violation abort()s, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rules/policy.h"

#define MAX_PROBED_RULES  48
#define MAX_PROBED_SCOPES 6

static void die(const char *what, const char *a, const char *b)
{
	fprintf(stderr, "fuzz_policy: %s\n--- first\n%s\n--- second\n%s\n", what, a ? a : "",
		b ? b : "");
	abort();
}

static void check_errors(const struct policy_errors *e, int r)
{
	size_t i;

	if (r == -ENOMEM)
		return;
	if (r != -EINVAL || !e->n)
		die("rejected without a message", NULL, NULL);
	for (i = 0; i < e->n; i++) {
		unsigned line, col;

		if (sscanf(e->msg[i], "fuzz:%u:%u: ", &line, &col) != 2 || !line || !col)
			die("message not file:line:col:", e->msg[i], NULL);
	}
}

static void probe(const struct policy *p, const struct policy_compiled *c, int family,
		  const uint8_t *addr, uint8_t proto, uint16_t port)
{
	size_t s;

	for (s = 0; s < p->nscopes && s < MAX_PROBED_SCOPES; s++) {
		struct policy_verdict v = policy_judge(p, s, family, addr, proto, port);
		struct policy_verdict w = policy_compiled_judge(c, s, family, addr, proto, port);

		if (v.verdict != w.verdict || v.rule != w.rule) {
			char buf[160];

			snprintf(buf, sizeof(buf),
				 "scope %zu family %d proto %u port %u: judge %u/%u compiled %u/%u",
				 s, family, proto, port, v.verdict, v.rule, w.verdict, w.rule);
			die("judges disagree", buf, NULL);
		}
	}
}

/* Destinations at the edges of a rule: first and last address of its prefix
 * and the neighbours of each port range. */
static void probe_rule(const struct policy *p, const struct policy_compiled *c,
		       const struct policy_rule *r)
{
	static const uint8_t protos[] = {6, 17, 1};
	int family = r->family == POLICY_FAMILY_ANY ? AF_INET6 : r->family;
	unsigned bytes = family == AF_INET ? 4 : 16, b;
	uint8_t lo[16], hi[16];
	size_t i, k;

	memcpy(lo, r->addr, 16);
	memcpy(hi, r->addr, 16);
	for (b = r->plen; b < bytes * 8; b++)
		hi[b / 8] |= (uint8_t)(0x80 >> (b % 8));
	for (k = 0; k < sizeof(protos); k++) {
		probe(p, c, family, lo, protos[k], 0);
		probe(p, c, family, hi, protos[k], 65535);
		for (i = 0; i < r->nports && i < 8; i++) {
			probe(p, c, family, lo, protos[k], r->ports[i].lo);
			probe(p, c, family, hi, protos[k], r->ports[i].hi);
			probe(p, c, family, lo, protos[k], (uint16_t)(r->ports[i].lo - 1));
			probe(p, c, family, hi, protos[k], (uint16_t)(r->ports[i].hi + 1));
		}
	}
	if (family == AF_INET) { /* the same, as IPv4-mapped IPv6 */
		uint8_t m[16] = {[10] = 0xff, [11] = 0xff};

		memcpy(m + 12, lo, 4);
		probe(p, c, AF_INET6, m, 6, r->nports ? r->ports[0].lo : 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t any4[16], any6[16], loop6[16] = {[15] = 1};
	struct policy_errors e = {0}, e2 = {0};
	struct policy_compiled *c = NULL;
	struct policy *p = NULL, *q = NULL;
	char *s1 = NULL, *s2 = NULL;
	size_t s, i, probed = 0;
	int r;

	r = policy_parse("fuzz", (const char *)data, size, &p, &e);
	if (r) {
		if (p)
			die("error but a policy", NULL, NULL);
		check_errors(&e, r);
		policy_errors_free(&e);
		return 0;
	}
	if (e.n)
		die("accepted with messages", e.msg[0], NULL);

	s1 = policy_to_string(p);
	if (!s1)
		die("policy_to_string failed", NULL, NULL);
	r = policy_parse("printed", s1, strlen(s1), &q, &e2);
	if (r)
		die("printed policy does not parse", s1, e2.n ? e2.msg[0] : "");
	s2 = policy_to_string(q);
	if (!s2 || strcmp(s1, s2))
		die("round trip differs", s1, s2);

	r = policy_compile(p, &c, &e);
	if (!r) {
		for (s = 0; s < p->nscopes; s++) {
			const struct policy_scope *sc = &p->scopes[s];

			for (i = 0; i < sc->nrules && probed < MAX_PROBED_RULES; i++, probed++)
				probe_rule(p, c, &sc->rules[i]);
		}
		probe(p, c, AF_INET, any4, 6, 80);
		probe(p, c, AF_INET6, any6, 17, 53);
		probe(p, c, AF_INET6, loop6, 1, 0);
	} else if (r != -ENOMEM) {
		check_errors(&e, r);
	}

	policy_compiled_free(c);
	free(s1);
	free(s2);
	policy_free(p);
	policy_free(q);
	policy_errors_free(&e);
	policy_errors_free(&e2);
	return 0;
}
