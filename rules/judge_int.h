/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the policy compiler (compile.c, ctable.c) and the two judges
 * (judge.c) all need.  Not for use outside rules/compile.c, rules/ctable.c
 * and rules/judge.c.
 */
#ifndef HUSH_RULES_JUDGE_INT_H
#define HUSH_RULES_JUDGE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "rules/policy.h"

/* The implicit loopback prefixes: 127.0.0.0/8 and ::1/128. */
static const uint8_t loop4[16] = {127};
static const uint8_t loop6[16] = {[15] = 1};

/* Is a within pfx/plen? */
static inline bool prefix_match(const uint8_t *pfx, unsigned plen, const uint8_t *a)
{
	unsigned full = plen / 8, rem = plen % 8;

	if (memcmp(pfx, a, full))
		return false;
	if (!rem)
		return true;
	return !((pfx[full] ^ a[full]) & (uint8_t)(0xff << (8 - rem)));
}

/* Does r apply to the L4 class c (HUSH_L4_*)? */
static inline bool rule_in_class(const struct policy_rule *r, int c)
{
	if (r->proto == POLICY_PROTO_ANY)
		return !r->nports || c != HUSH_L4_OTHER;
	return policy_l4(r->proto) == c;
}

#endif /* HUSH_RULES_JUDGE_INT_H */
