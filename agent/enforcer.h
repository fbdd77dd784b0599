/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The policy in force plus the addresses DNS answers taught its `allow host`
 * rules: the one owner of what the kernel enforces, and the only caller of
 * engine_apply().  hushd and `hush run|test` each keep one per engine.
 *
 *   - The DNS proxy reports each allowed answer (enforcer_learn, on its
 *     threads); the addresses it gives for a name of an `allow host` rule
 *     are allowed for their TTL plus a grace, in force before the call
 *     returns (so before the client sees the answer).
 *   - A learned address is kept under its rule's scope path and name, so a
 *     reload that renumbers rules keeps it; one whose rule is gone is
 *     dropped once the new policy is in force.
 *   - Each address is learned for the cgroup that asked (its learning
 *     cgroup, bpf/policy_maps.h): the kernel's hush_learn lets only that
 *     cgroup's sockets use it, until its own TTL plus grace; other cgroups
 *     of the scope are judged as if it had never been learned.  Entries of
 *     expired answers and of removed cgroups are swept; a full map refuses
 *     new ones (fail closed, counted, logged).
 *   - The kernel ends each learned address at its TTL plus grace by
 *     itself (an expiry in the policy maps against the boot clock), so it
 *     ends even if hushd dies.  enforcer_expire() drops what is about to
 *     outlive its TTL and notes addresses a newer answer extended;
 *     enforcer_reapply() puts the rest (and rebound scope cgroups, and
 *     the extended expiries) in force before the kernel's old ones lapse.
 *
 * Every call is serialized by one lock; the caller keeps each policy given
 * alive while it is in force and the engine alive until enforcer_free().
 */
#ifndef HUSH_AGENT_ENFORCER_H
#define HUSH_AGENT_ENFORCER_H

#include <stddef.h>
#include <stdint.h>

#include "rules/loaded.h"
#include "agent/dns.h"
#include "agent/learncg.h"

#define ENFORCER_LEARNED_MAX   65536 /* learned addresses in force at once */
#define ENFORCER_DEFAULT_GRACE 5     /* seconds past an answer's TTL */

struct engine;
struct enforcer;

/* l is in force already (engine_open applied l->pc).  grace_s 0:
 * ENFORCER_DEFAULT_GRACE.  0 or -ENOMEM. */
int enforcer_new(struct engine *eng, const struct policy_loaded *l, uint32_t grace_s,
		 struct enforcer **out);
void enforcer_free(struct enforcer *en);

/* Put l in force with the learned addresses whose rule it still has.  On
 * failure the previous policy and every learned address stay; on success
 * the caller may free the previous policy. */
int enforcer_set_policy(struct enforcer *en, const struct policy_loaded *l);

/* An allowed DNS answer with addresses, asked from learning cgroup lcg:
 * learn them for every `allow host` rule that names one of r's CNAME chain,
 * for lcg alone, and apply if that added any.  Returns 0 or a negative errno
 * (then they stay denied to lcg; lcg 0, an unknown asker: -ENOENT).  The
 * signature is dnsproxy_learn_fn's (en is a struct enforcer). */
int enforcer_learn(void *en, uint64_t lcg, const struct dns_response *r);

/* Drop learned addresses that expire within the next 2 s (or the grace, if
 * shorter), and count one more if some address in force has an expiry a
 * newer answer extended and that lapses within 3 s: then reapply.  Call it
 * every second. */
size_t enforcer_expire(struct enforcer *en);

/* Apply the policy in force again, with the learned addresses. */
int enforcer_reapply(struct enforcer *en);

struct enforcer_stats {
	uint64_t learned;      /* addresses learned since start */
	uint64_t learned_now;  /* in force now (per rule) */
	uint64_t entries;      /* (learning cgroup, address) entries in force now */
	uint64_t cgroups;      /* distinct learning cgroups among them */
	uint64_t refused;      /* entries refused: the kernel map was full */
	uint64_t unattributed; /* answers learned by nobody: the asker was unknown */
};
void enforcer_stats(struct enforcer *en, struct enforcer_stats *st);

/* Entries per learning cgroup, most first, up to max in out; returns the
 * number of learning cgroups. */
size_t enforcer_by_cgroup(struct enforcer *en, struct learncg_count *out, size_t max);

#endif /* HUSH_AGENT_ENFORCER_H */
