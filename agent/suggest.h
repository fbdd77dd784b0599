/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `hush policy suggest`: the smallest policy that allows what the log saw
 * allowed or audited, and nothing more.
 *
 * Two halves: suggest.c collects observations (one per log row: scope,
 * destination, protocol, port, DNS name, verdict, count, times, process) and
 * renders the policy text; pure memory work, no I/O but the FILE written, so
 * the unit tests drive it directly.  suggest_log.c reads the rows from the
 * audit log (through agent/logquery.h) and turns each into an observation.
 *
 * The rules it writes (the contract, also in README and hush.8):
 *  - Never wider than the log: an address is its /32 or /128; addresses are
 *    joined into a prefix only when every address of that prefix was seen
 *    with the same protocol and the same ports (so a /24 needs all 256),
 *    which allows exactly the same set with fewer lines.  Ports are the
 *    ports seen, consecutive ones written as a range (443,8000-8002).
 *    tcp and udp with the same ports to the same destination become one
 *    `any` rule (which means exactly tcp and udp on those ports).
 *  - Protocols the language cannot name (icmp, raw) become `allow ADDR`
 *    (every protocol to that address), the one rule wider than the log,
 *    said so in its comment.
 *  - DNS queries become `allow dns NAME` (the exact name; never a
 *    `*.suffix`).  A connection becomes `allow host NAME PROTO PORTS`
 *    rather than an address rule only when the log ties it to the name: an
 *    `allow host` rule decided it, or the same scope asked DNS for that name
 *    (allowed or audited) before the connection's last attempt.  Otherwise
 *    it is an address rule, with the name in its comment.
 *  - One block per scope: the row's cgroup path relative to the cgroup
 *    hushd enforces ("" is the top level); loopback destinations are
 *    allowed implicitly and left out.
 *  - Every rule has a comment: attempts (allowed / audited), first and last
 *    seen (UTC), and up to three processes.
 */
#ifndef HUSH_AGENT_SUGGEST_H
#define HUSH_AGENT_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum suggest_kind {
	SUGGEST_ADDR, /* a connection or send to an address */
	SUGGEST_DNS,  /* a DNS query (name) */
};

/* Protocol of an SUGGEST_ADDR observation. */
#define SUGGEST_PROTO_OTHER 0 /* not tcp/udp: no ports */

/* One log row, as suggest_add takes it.  Strings are copied. */
struct suggest_obs {
	const char *scope; /* "" top level, else "a/b" (normalized, relative) */
	enum suggest_kind kind;
	int family;	  /* ADDR: AF_INET (addr[0..3]) or AF_INET6 */
	uint8_t addr[16]; /* network order */
	uint8_t proto;	  /* ADDR: IPPROTO_TCP, IPPROTO_UDP, or SUGGEST_PROTO_OTHER */
	uint16_t port;	  /* ADDR with tcp/udp */
	const char *name; /* DNS: the name asked; ADDR: the DNS name the log gave (or NULL) */
	bool by_host;	  /* ADDR: decided by an `allow host` rule */
	bool audit;	  /* verdict audit (would deny), else allow */
	int64_t count, first, last; /* attempts; ns since the epoch */
	const char *who;	    /* exe, or "[comm]"; NULL: unknown */
};

/* Rows left out, by reason (the header says how many). */
enum suggest_skip {
	SUGGEST_SKIP_DENIED,   /* denied: the point of the policy */
	SUGGEST_SKIP_LOOPBACK, /* allowed implicitly */
	SUGGEST_SKIP_OUTSIDE,  /* cgroup outside the enforced one */
	SUGGEST_SKIP_OTHER,    /* sock_create, cgroup_move, gap, note rows, bad names */
	SUGGEST_SKIP_MAX
};

struct suggest;

/* What the header and the top-level statements say. */
struct suggest_head {
	const char *source;	   /* "from /var/lib/hush/hush.db, rows since ..." (may be NULL) */
	const char *mode;	   /* "enforce" | "audit" (NULL: enforce) */
	const char *resolver;	   /* resolver statement value, or NULL */
	const char *resolver_note; /* a comment above it (may be NULL) */
};

int suggest_new(struct suggest **out);
void suggest_free(struct suggest *s);
/* 0, -EINVAL (a bad observation: unknown family, empty name), -ENOMEM. */
int suggest_add(struct suggest *s, const struct suggest_obs *o);
void suggest_skip(struct suggest *s, enum suggest_skip why, int64_t rows);
/* The most asked resolver (DNS rows' destination), for the header; false
 * when no DNS row was seen.  buf: at least 64 bytes. */
void suggest_note_resolver(struct suggest *s, int family, const uint8_t addr[16], uint16_t port,
			   int64_t count);
bool suggest_resolver(const struct suggest *s, char *buf, size_t len, int64_t *count);
/* Does the policy need a resolver (any dns or host rule)? */
bool suggest_needs_resolver(const struct suggest *s);

/* Write the policy.  0, -ENOMEM, or -EIO (a write failed). */
int suggest_render(struct suggest *s, const struct suggest_head *h, FILE *f);

/* ---- pieces, exposed for the unit tests ---- */

/* A prefix with what was seen behind it. */
struct suggest_pfx {
	int family;
	uint8_t addr[16];
	uint8_t plen;
	int64_t allow, audit, first, last;
	uint32_t hosts; /* host addresses it stands for */
};

/*
 * Join host prefixes (sorted by address, one family) into the fewest
 * prefixes covering exactly the same addresses: buddies (a/n with bit n-1
 * clear and its sibling) merge into a/(n-1), repeatedly; equal prefixes
 * merge.  In place; returns the new count.
 */
size_t suggest_aggregate(struct suggest_pfx *v, size_t n);

/* Ports (sorted, unique) as "80,443,8000-8002" into buf.  Returns the
 * number of segments (ranges), or -ENOSPC. */
int suggest_ports_text(const uint16_t *p, size_t n, char *buf, size_t len);

#endif /* HUSH_AGENT_SUGGEST_H */
