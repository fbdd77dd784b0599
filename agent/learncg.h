/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Who learned which address: the user-space mirror of the kernel's
 * hush_learn map (bpf/policy_maps.h), kept by the enforcer.  One entry per
 * (learning cgroup, address), with the latest expiry any answer to that
 * cgroup gave.  Bounded (max entries, the kernel map's size): a full table
 * refuses new entries and counts them (fail closed: the address stays denied
 * to that cgroup).  Not thread-safe: the enforcer's lock covers it.
 */
#ifndef HUSH_AGENT_LEARNCG_H
#define HUSH_AGENT_LEARNCG_H

#include <stddef.h>
#include <stdint.h>

struct learncg_ent {
	uint64_t lcg;	  /* learning cgroup id */
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* v4 in addr[0..3], the rest zero */
	int64_t expires;  /* CLOCK_BOOTTIME ns */
};

struct learncg {
	struct learncg_ent *e;
	size_t n, cap, max;
	uint64_t refused; /* entries refused because the table was full */
};

/* Per-cgroup count (learncg_by_cgroup). */
struct learncg_count {
	uint64_t lcg;
	size_t n;
};

/* An empty table of at most max entries. */
void learncg_init(struct learncg *t, size_t max);
void learncg_free(struct learncg *t);

/* lcg learned the address until exp.  Returns 1 (new entry), 2 (its expiry
 * grew), 0 (unchanged: an entry with a later expiry exists), -E2BIG (full:
 * counted in refused) or -ENOMEM; *ent: the entry (new or grown), else
 * NULL. */
int learncg_put(struct learncg *t, uint64_t lcg, int family, const uint8_t addr[16], int64_t exp,
		const struct learncg_ent **ent);

/* Undo the put that just returned 1 (the kernel refused it). */
void learncg_unput(struct learncg *t);

/* Remove every entry that expired by now, or whose cgroup gone(ctx, lcg)
 * says is gone (gone may be NULL); drop(ctx, e) is called for each before it
 * goes.  Returns how many went. */
size_t learncg_sweep(struct learncg *t, int64_t now, int (*gone)(void *ctx, uint64_t lcg),
		     void (*drop)(void *ctx, const struct learncg_ent *e), void *ctx);

/* Entries per learning cgroup, most first (ties: lower id first), up to max
 * of them in out.  Returns the number of distinct cgroups (may exceed max). */
size_t learncg_by_cgroup(const struct learncg *t, struct learncg_count *out, size_t max);

#endif /* HUSH_AGENT_LEARNCG_H */
