/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hushd's DNS proxy: every port-53 query of an enforced cgroup arrives here
 * (the socket hooks redirect it; see bpf/dns_redirect.h), whatever resolver it named.
 *
 *   - UDP and TCP on 127.0.0.1 and ::1, on ports the kernel picks; the
 *     sockets go into the redirect's socket map, so while they are open DNS
 *     is redirected and once they close it fails closed.  A set of them in
 *     every network namespace the enforced processes use: the home set
 *     here, the others opened by the namespace helper (dnsns.h).  Queries
 *     of every namespace are forwarded from the home namespace.
 *   - Each query is parsed (any QTYPE, EDNS0, TCP framing) and its name
 *     judged against the `allow dns` statements of the asking socket's scope
 *     (and its ancestors).  Allowed: forwarded to the policy's `resolver`
 *     and the answer relayed.  Denied: answered at once with REFUSED (or
 *     NXDOMAIN), or, in an audit scope, forwarded and reported as audit.
 *     Malformed: FORMERR/NOTIMP/BADVERS, reported.  No resolver in the
 *     policy: SERVFAIL.
 *   - Every query is reported (report callback) with the asking process as
 *     the redirect recorded it.
 *   - Every allowed answer with addresses is reported (learn callback)
 *     before it is relayed: whoever enforces (enforcer.h) learns what it
 *     teaches `allow host` rules and puts that in force first.  The proxy
 *     itself never applies a policy.
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

#include "bpf/events.h"
#include "rules/policy.h"
#include "agent/dns.h"

#define DNSPROXY_TCP_MAX    64	 /* concurrent TCP clients */
#define DNSPROXY_TIMEOUT_MS 4000 /* upstream answer, then SERVFAIL */

struct engine;
struct dnsproxy;
struct dnsns;

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
/* An allowed answer r (its CNAME chain and A/AAAA records with TTLs), before
 * it is relayed.  Returns 0 or a negative errno (the answer is relayed
 * anyway; its addresses stay denied). */
typedef int (*dnsproxy_learn_fn)(void *ctx, uint64_t lcg, const struct dns_response *r);

struct dnsproxy_opts {
	struct engine *eng;
	int deny_rcode; /* DNS_RCODE_REFUSED (0 means that) or DNS_RCODE_NXDOMAIN */
	dnsproxy_report_fn report;
	void *report_ctx;
	dnsproxy_learn_fn learn;
	void *learn_ctx;
	int netns_fd;	  /* > 0: open the home sockets in this network namespace */
	struct dnsns *ns; /* NULL, or the helper that finds and opens the other
			   * network namespaces to serve (dnsns.h; the caller
			   * starts and stops it, around the proxy) */
};

/* Open the sockets, register them with the engine's redirect, start. */
int dnsproxy_start(const struct dnsproxy_opts *o, const struct policy *p, struct dnsproxy **out);
/* A new policy to judge names by (the proxy keeps its own copy of what it
 * needs: names, modes, resolver). */
int dnsproxy_set_policy(struct dnsproxy *px, const struct policy *p);
/* The name a DNS answer last mapped addr to (even after it expired):
 * 0 with name filled, or -1. */
int dnsproxy_name_of(void *px, int family, const uint8_t addr[16], uint64_t cgid, char *name,
		     size_t len);
/* The redirect met a network namespace it does not serve yet: look for it
 * now (any thread). */
void dnsproxy_poke(struct dnsproxy *px);
/* Unregister from the redirect (DNS fails closed from now), stop, close. */
void dnsproxy_stop(struct dnsproxy *px);

struct dnsproxy_stats {
	uint16_t port[4]; /* home set's, by HUSH_DNS_* slot, 0: not open */
	uint32_t netns;	  /* network namespaces served, home included */
	uint64_t netns_added, netns_removed;
	uint64_t queries, allowed, denied, audited, malformed, unattributed;
	uint64_t upstream_timeouts, upstream_errors, tcp_refused;
};
void dnsproxy_stats(struct dnsproxy *px, struct dnsproxy_stats *st);

#endif /* HUSH_AGENT_DNSPROXY_H */
