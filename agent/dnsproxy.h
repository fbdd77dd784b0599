/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hushd's DNS proxy: every port-53 query of an enforced cgroup arrives here
 * (the socket hooks redirect it; see bpf/dns.h), whatever resolver it named.
 *
 *   - UDP and TCP on 127.0.0.1 and ::1, on ports the kernel picks; the
 *     sockets go into the redirect's socket map, so while they are open DNS
 *     is redirected and once they close it fails closed.
 *   - Each query is parsed (any QTYPE, EDNS0, TCP framing) and its name
 *     judged against the `allow dns` statements of the asking socket's scope
 *     (and its ancestors).  Allowed: forwarded to the policy's `resolver`
 *     and the answer relayed.  Denied: answered at once with REFUSED (or
 *     NXDOMAIN), or, in an audit scope, forwarded and reported as audit.
 *     Malformed: FORMERR/NOTIMP/BADVERS, reported.  No resolver in the
 *     policy: SERVFAIL.
 *   - Every query is reported (report callback) with the asking process as
 *     the redirect recorded it.
 *   - `allow host NAME` rules: the A/AAAA addresses of allowed answers for
 *     NAME (through CNAME chains) are learned for their TTL plus a grace;
 *     the learn callback puts them into the BPF policy before the answer
 *     reaches the client, and dnsproxy_tick() expires them.
 *
 * Threads: one for UDP (and accepting TCP), one per TCP connection (at
 * most DNSPROXY_TCP_MAX).  Callbacks run on those threads.
 */
#ifndef HUSH_AGENT_DNSPROXY_H
#define HUSH_AGENT_DNSPROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "../bpf/events.h"
#include "../rules/policy.h"
#include "dns.h"

#define DNSPROXY_TCP_MAX       64    /* concurrent TCP clients */
#define DNSPROXY_TIMEOUT_MS    4000  /* upstream answer, then SERVFAIL */
#define DNSPROXY_LEARNED_MAX   65536 /* learned addresses in force at once */
#define DNSPROXY_DEFAULT_GRACE 5     /* seconds past an answer's TTL */

struct engine;
struct dnsproxy;

/* One judged query, as reported. */
struct dnsproxy_query {
	struct hush_event ev;	      /* hook HUSH_HOOK_DNS, verdict, rule, scope, the
				       * resolver asked (daddr/dport/family/proto), the
				       * asking process; seq 0 */
	char qname[DNS_NAME_STRLEN];  /* "" when the query had none */
	char qtype[DNS_QTYPE_STRLEN]; /* "" when the query had none */
	char note[160];		      /* "" or why it was answered so */
};

typedef void (*dnsproxy_report_fn)(void *ctx, const struct dnsproxy_query *q);
/* The learned set changed: compile the policy with dnsproxy_learned() and
 * apply it.  Returns 0 or a negative errno (the answer is relayed anyway; its
 * addresses stay denied). */
typedef int (*dnsproxy_learn_fn)(void *ctx);

struct dnsproxy_opts {
	struct engine *eng;
	int deny_rcode;	  /* DNS_RCODE_REFUSED (0 means that) or DNS_RCODE_NXDOMAIN */
	uint32_t grace_s; /* 0: DNSPROXY_DEFAULT_GRACE */
	dnsproxy_report_fn report;
	void *report_ctx;
	dnsproxy_learn_fn learn;
	void *learn_ctx;
	int netns_fd; /* > 0: open every socket in this network namespace */
};

/* Open the sockets, register them with the engine's redirect, start. */
int dnsproxy_start(const struct dnsproxy_opts *o, const struct policy *p, struct dnsproxy **out);
/* A new policy (kept as the proxy's own copy).  Learned addresses of `allow
 * host` rules that are still there (same scope and name) are kept. */
int dnsproxy_set_policy(struct dnsproxy *px, const struct policy *p);
/* Drop expired learned addresses; returns how many (then re-apply). */
size_t dnsproxy_tick(struct dnsproxy *px);
/* The learned addresses in force, for policy_compile_learned() of p (the
 * policy last given to dnsproxy_set_policy/start).  *out is malloc'd. */
int dnsproxy_learned(struct dnsproxy *px, const struct policy *p, struct policy_learned **out,
		     size_t *n);
/* Apply pol (compiled as pc, normalized text `text`) to eng together with
 * the learned addresses: what a learn callback and an expiry do. */
int dnsproxy_apply(struct dnsproxy *px, struct engine *eng, const struct policy *pol,
		   const struct policy_compiled *pc, const char *text);
/* The name a DNS answer last mapped addr to (even after it expired):
 * 0 with name filled, or -1. */
int dnsproxy_name_of(void *px, int family, const uint8_t addr[16], char *name, size_t len);
/* Unregister from the redirect (DNS fails closed from now), stop, close. */
void dnsproxy_stop(struct dnsproxy *px);

struct dnsproxy_stats {
	uint16_t port[4]; /* by HUSH_DNS_* slot, 0: not open */
	uint64_t queries, allowed, denied, audited, malformed, unattributed;
	uint64_t upstream_timeouts, upstream_errors, learned, learned_now, tcp_refused;
};
void dnsproxy_stats(struct dnsproxy *px, struct dnsproxy_stats *st);

#endif /* HUSH_AGENT_DNSPROXY_H */
