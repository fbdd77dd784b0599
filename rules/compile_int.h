/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the policy compiler's driver (compile.c: scopes, effective rules,
 * rule info) and its table builder (ctable.c: one family of one scope into
 * port tables and LPM keys) share.  Not for use outside rules/compile.c and
 * rules/ctable.c.
 */
#ifndef HUSH_RULES_COMPILE_INT_H
#define HUSH_RULES_COMPILE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/policy.h"

struct entry; /* one rule (or implicit prefix) placed at a prefix (ctable.c) */
struct cseg;  /* one port segment while compiling (ctable.c) */

/* A node's effective table while compiling; classes may borrow the parent's. */
struct ctab {
	struct cseg *s[HUSH_L4_MAX];
	uint32_t n[HUSH_L4_MAX];
	bool owned[HUSH_L4_MAX];
	bool over[HUSH_L4_MAX];
};

/* One open node of compile_family()'s walk down the prefix tree. */
struct frame {
	uint8_t addr[16];
	uint8_t plen;
	struct ctab t;
};

/* One policy_compile_learned() call: what it reads, what it fills, its
 * errors, and the table builder's dedup hash and scratch (freed at its end). */
struct cctx {
	const struct policy *p;
	struct policy_compiled *c;
	struct policy_errors *errs;
	size_t errs0; /* errs->n when compiling started */
	int nerr;
	int fatal;
	/* learned addresses: their rules lr[0..nlearned) (the ones
	 * compile_family() receives point into lr) and the kernel expiry of
	 * each, lexp[k] (the earliest of every entry of its address) */
	const struct policy_rule *lr;
	const uint64_t *lexp;
	size_t nlearned;
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

/* Compile one family of one scope from its effective rules (id order). */
int compile_family(struct cctx *x, size_t scope, int family, const struct policy_rule *const *rules,
		   size_t nrules);

#endif /* HUSH_RULES_COMPILE_INT_H */
