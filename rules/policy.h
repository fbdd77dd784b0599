/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The hush policy language: parser, normalized printer, compiler to BPF map
 * entries, and a reference judge.  Pure user space; never touches the kernel.
 *
 * Language (see rules/hush-policy.5 for the full manual):
 *
 *   # comment                              to end of line
 *   mode enforce|audit                     top level, or inside a scope
 *   inbound allow|deny                     top level, or inside a scope
 *   resolver ADDR[:PORT] | [V6ADDR]:PORT   top level, where allowed DNS goes
 *   allow|deny ADDR[/LEN] [PROTO [PORTS]]  PROTO: tcp|udp|any
 *                                          PORTS: N or LO-HI, comma separated
 *   allow|deny any [PROTO [PORTS]]         0.0.0.0/0 and ::/0 at once
 *   allow dns NAME | *.SUFFIX              names the DNS proxy may resolve
 *   allow host FQDN [PROTO [PORTS]]        addresses learned from DNS answers
 *   scope CGROUP/PATH { ... }              rules for one cgroup subtree
 *
 * Semantics (what policy_judge() implements and the kernel reproduces):
 *   - Among the rules that match (address in prefix, proto, port), the most
 *     specific prefix decides; at equal prefix length deny beats allow.
 *   - Nothing matches: deny (rule id HUSH_RULE_DEFAULT).
 *   - Loopback (127.0.0.0/8, ::1) is allowed by implicit rules
 *     (HUSH_RULE_LOOPBACK) that lose to any explicit rule of the same prefix
 *     length; "deny 127.0.0.0/8" switches loopback off.
 *   - 0.0.0.0 and :: reach loopback and are judged as 127.0.0.1 and ::1.
 *   - IPv4-mapped IPv6 destinations (::ffff:a.b.c.d) are judged by the IPv4
 *     rules; a rule written with a mapped address is an IPv4 rule.
 *   - A scope's effective rules are the top-level rules, plus those of every
 *     scope whose path is an ancestor of (or equal to) its path.  Scope paths
 *     are relative to the cgroup the policy is attached to.  A scope without
 *     its own `mode` inherits the nearest ancestor's (finally the top level);
 *     so does `inbound` (default allow: packets of connections accepted from
 *     elsewhere pass the backstop as replies; deny judges them too).
 *   - Proto "any" with ports matches tcp and udp on those ports; without
 *     ports it matches every protocol (icmp, raw, ...).
 */
#ifndef HUSH_RULES_POLICY_H
#define HUSH_RULES_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/types.h>

#include "bpf/policy_maps.h"

enum policy_action {
	POLICY_ALLOW = HUSH_VERDICT_ALLOW,
	POLICY_DENY = HUSH_VERDICT_DENY,
};

#define POLICY_PROTO_ANY 0 /* else IPPROTO_TCP (6) or IPPROTO_UDP (17) */

struct policy_portrange {
	uint16_t lo, hi; /* inclusive; lo <= hi */
};

struct policy_loc {
	unsigned line, col; /* 1-based; col of the first token of the rule */
};

/* allow|deny ADDR[/LEN] [PROTO [PORTS]] */
struct policy_rule {
	uint32_t id; /* 1-based, unique across the whole policy, in file order */
	enum policy_action action;
	int family;			/* AF_INET, AF_INET6, or POLICY_FAMILY_ANY ("allow any") */
	uint8_t addr[16];		/* network order, v4 in addr[0..3]; host bits zero */
	uint8_t plen;			/* 0..32 or 0..128 */
	uint8_t proto;			/* POLICY_PROTO_ANY, IPPROTO_TCP, IPPROTO_UDP */
	size_t nports;			/* 0: every port */
	struct policy_portrange *ports; /* sorted, merged (normalized) */
	struct policy_loc loc;
};

/* allow dns NAME | *.SUFFIX */
struct policy_dns {
	uint32_t id;
	char *name;    /* lower case, no trailing dot, without the "*." */
	bool wildcard; /* "*.suffix": any name strictly below suffix */
	struct policy_loc loc;
};

/* allow host FQDN [PROTO [PORTS]] */
struct policy_host {
	uint32_t id;
	char *name; /* lower case, no trailing dot */
	uint8_t proto;
	size_t nports;
	struct policy_portrange *ports;
	struct policy_loc loc;
};

struct policy_scope {
	char *path; /* "" for the top level, else normalized "a/b" (no leading,
		     * trailing or doubled '/', no "." or ".." components) */
	bool has_mode;
	uint8_t mode;	   /* HUSH_MODE_*, valid if has_mode (always for top level) */
	bool has_inbound;  /* an `inbound` statement of its own */
	bool inbound_deny; /* `inbound deny`, valid if has_inbound */
	size_t nrules;
	struct policy_rule *rules;
	size_t ndns;
	struct policy_dns *dns;
	size_t nhosts;
	struct policy_host *hosts;
	struct policy_loc loc;
};

struct policy {
	char *name; /* file name used in messages */
	bool has_resolver;
	int resolver_family;
	uint8_t resolver[16];
	uint16_t resolver_port; /* 53 unless given */
	size_t nscopes;
	struct policy_scope *scopes; /* scopes[0] is the top level (path "") */
	uint32_t nids;		     /* highest rule id handed out */
};

/* Collected diagnostics, each "file:line:col: message". */
struct policy_errors {
	size_t n;
	char **msg;
};

void policy_errors_free(struct policy_errors *errs);
/* Print every message, one per line, each prefixed with `prefix` (may be "" ). */
void policy_errors_print(const struct policy_errors *errs, const char *prefix, FILE *f);

/*
 * Parse `len` bytes of `text`, naming them `name` in messages.  On success
 * returns 0 and sets *out.  On any error returns -EINVAL, *out stays NULL, and
 * every error found (not just the first) is appended to errs.  Never reads
 * past len; NUL bytes in the input are an error.
 */
int policy_parse(const char *name, const char *text, size_t len, struct policy **out,
		 struct policy_errors *errs);
/* Read and parse a file.  I/O errors become one message "file: strerror". */
int policy_load_file(const char *path, struct policy **out, struct policy_errors *errs);
/* The built-in "loopback only" policy (mode enforce, no rules). */
int policy_default(struct policy **out);
void policy_free(struct policy *p);

/*
 * Print the normalized policy: comments dropped, one statement per line,
 * canonical address/prefix, ports sorted and merged, scopes in file order.
 * policy_parse(policy_print(p)) yields an equal policy (round trip).
 */
int policy_print(const struct policy *p, FILE *f);
/* Same, into a malloc'd NUL-terminated string. */
char *policy_to_string(const struct policy *p);

/* ---- compiled form: exactly what goes into the BPF maps ---- */

struct compiled_scope {
	char *path; /* as in policy_scope; "" = the attach cgroup itself */
	uint8_t mode;
	uint8_t flags; /* HUSH_SCOPE_F_* */
};

struct compiled_rule_info {
	uint32_t id;
	struct policy_loc loc;
	char *text; /* normalized rule text, e.g. "deny 10.20.0.99" */
};

struct policy_compiled {
	size_t nscopes;
	struct compiled_scope *scopes; /* scope id = index; 0 = top level */
	size_t n4;
	struct hush_lpm4_key *k4;
	struct hush_lpm_val *v4;
	size_t n6;
	struct hush_lpm6_key *k6;
	struct hush_lpm_val *v6;
	size_t nptabs;
	struct hush_ptab *ptabs; /* deduplicated */
	size_t nrules;
	struct compiled_rule_info *rules; /* sorted by id */
};

/*
 * Compile.  Errors (e.g. more than HUSH_SEG_MAX port segments at one prefix)
 * are reported like parse errors with the location of the offending rule and
 * return -EINVAL; -ENOMEM on allocation failure.
 */
int policy_compile(const struct policy *p, struct policy_compiled **out,
		   struct policy_errors *errs);
void policy_compiled_free(struct policy_compiled *c);

/* An address a DNS answer gave for the name of an "allow host" rule. */
struct policy_learned {
	size_t scope;			/* index of the scope holding the rule */
	const struct policy_host *host; /* the rule (in the policy compiled) */
	int family;			/* AF_INET or AF_INET6 */
	uint8_t addr[16];		/* network order, v4 in addr[0..3] */
	uint64_t expires;		/* CLOCK_BOOTTIME ns; 0: never */
};

/*
 * Compile with learned addresses: each is "allow ADDR/32 (or /128) PROTO
 * PORTS" of its rule's scope with the rule's id, so it reaches the scope's
 * subtree like any rule of the scope.  An address that an explicit deny rule
 * of the scope covers (any prefix but /0) is left out: an answer never opens
 * what the policy denies by address.
 *
 * Expiry: the LPM value of a prefix holding learned addresses carries the
 * earliest `expires` of the learned entries of that address (all rules, all
 * scopes) and a fallback table, the prefix's table without them (its
 * explicit rules over the shorter prefixes'): from then on the programs
 * judge by the fallback, as if the addresses had never been learned.
 */
int policy_compile_learned(const struct policy *p, const struct policy_learned *learned,
			   size_t nlearned, struct policy_compiled **out,
			   struct policy_errors *errs);
/* Rule text for an id, or NULL ("default deny"/"loopback" are implicit). */
const struct compiled_rule_info *policy_compiled_rule(const struct policy_compiled *c, uint32_t id);

/* What a judge returns. */
struct policy_verdict {
	uint8_t verdict; /* HUSH_VERDICT_ALLOW or HUSH_VERDICT_DENY */
	uint32_t rule;	 /* deciding rule id or HUSH_RULE_* */
};

/*
 * Reference semantics straight from the rules (brute force, no tables).
 * `scope` is a scope index, family AF_INET/AF_INET6, addr network order
 * (v4 in addr[0..3]), proto an IPPROTO_* number, port host order (ignored
 * for protocols other than tcp/udp).  Mapped and unspecified addresses are
 * handled as the kernel does.
 */
struct policy_verdict policy_judge(const struct policy *p, size_t scope, int family,
				   const uint8_t *addr, uint8_t proto, uint16_t port);
/* The same question answered from the compiled tables, doing exactly what
 * the BPF programs do (LPM on keys, binary search in the port table). */
struct policy_verdict policy_compiled_judge(const struct policy_compiled *c, size_t scope,
					    int family, const uint8_t *addr, uint8_t proto,
					    uint16_t port);
/* The same at CLOCK_BOOTTIME `now` (ns): learned addresses whose expiry is
 * not after now no longer count (policy_compiled_judge: now 0, none
 * expired). */
struct policy_verdict policy_compiled_judge_at(const struct policy_compiled *c, size_t scope,
					       int family, const uint8_t *addr, uint8_t proto,
					       uint16_t port, uint64_t now);

/* The same for a socket whose learning cgroup's own entry for addr (the
 * kernel's hush_learn, bpf/policy_maps.h) ends at lexp (0: it never learned
 * addr; UINT64_MAX: policy_compiled_judge_at's "every cgroup learned it"): a
 * prefix holding learned addresses judges by its fallback from the earlier
 * of its own expiry and lexp on, as the BPF programs do. */
struct policy_verdict policy_compiled_judge_learner(const struct policy_compiled *c, size_t scope,
						    int family, const uint8_t *addr, uint8_t proto,
						    uint16_t port, uint64_t now, uint64_t lexp);

/* L4 class of an IPPROTO_* number. */
static inline int policy_l4(uint8_t proto)
{
	return proto == 6 ? HUSH_L4_TCP : proto == 17 ? HUSH_L4_UDP : HUSH_L4_OTHER;
}

/* ---- additions (rules/ owner): limits and text helpers ---- */

/* "allow|deny any" is one rule for both families: family POLICY_FAMILY_ANY
 * (AF_UNSPEC), plen 0, addr all zero.  Every other rule is AF_INET/AF_INET6. */
#define POLICY_FAMILY_ANY 0

#define POLICY_MAX_SIZE	 (16u << 20) /* bytes of policy text */
#define POLICY_MAX_LINE	 4096	     /* bytes of one line, without the newline */
#define POLICY_MAX_RULES 1000000     /* rules + dns + host statements */
#define POLICY_MAX_ERRS	 1000	     /* messages one parse collects, then it stops */

/* Append one message (already "file:line:col: ..." formatted by the caller).
 * -ENOMEM on allocation failure; errs may be NULL (message dropped). */
__attribute__((format(printf, 2, 3))) int policy_errors_add(struct policy_errors *errs,
							    const char *fmt, ...);

/* Normalized text of one statement, as policy_print() writes it (without
 * indentation or newline), e.g. "allow 10.0.0.0/8 tcp 443,8000-8100".
 * Malloc'd; NULL on allocation failure. */
char *policy_rule_text(const struct policy_rule *r);
char *policy_dns_text(const struct policy_dns *d);
char *policy_host_text(const struct policy_host *h);

/* Canonical text of an address or prefix into buf (POLICY_ADDRSTRLEN bytes):
 * "10.0.0.0/8", "fd00:10::/48"; a host address (/32, /128) without "/LEN"
 * unless always_len.  IPv6 in RFC 5952 form, without dotted quads. */
#define POLICY_ADDRSTRLEN 48
void policy_prefix_text(char *buf, int family, const uint8_t *addr, unsigned plen, bool always_len);

/* ---- lint (rules/lint.c) ---- */

/* Is scope path `ancestor` an ancestor of, or equal to, scope path `path`?
 * ("" is every scope's ancestor.) */
bool policy_scope_within(const char *ancestor, const char *path);

#define POLICY_DNS_PATLEN 256 /* "*." + a name of at most 253 characters + NUL */

/*
 * Statements that cannot take effect as written, one message each
 * ("file:line:col: warning: ..." or "file: warning: ...") appended to warn:
 * "allow host" names no "allow dns" lets resolve; DNS statements without a
 * "resolver"; any DNS statement when no DNS proxy runs (dns_proxy false).
 * Returns how many, or -ENOMEM.
 */
int policy_lint(const struct policy *p, bool dns_proxy, struct policy_errors *warn);

/* ---- container and pod scopes (rules/select.c) ---- */

/*
 * "scope container SEL... {" and "scope pod SEL... {" name their scope by a
 * selector instead of a cgroup path.  The scope's path is the selector text,
 * normalized ("container name=vllm* label=app=x"): it always holds a space,
 * which no cgroup path scope can, so the two never mix.  A selector scope's
 * only ancestor is the top level; it is nobody's ancestor.
 *   container: name=GLOB image=GLOB id=HEXPREFIX label=KEY=GLOB
 *   pod:       namespace=GLOB name=GLOB label=KEY=GLOB
 * Every condition must hold; GLOB is fnmatch(3) without flags.
 */
bool policy_scope_is_selector(const char *path);

/* What a selector is matched against (strings may be NULL = unknown). */
struct policy_ctr {
	const char *id; /* 64 hex */
	const char *name, *image;
	const char *pod_ns, *pod_name;
	size_t nlabels;
	const char *const *lkey, *const *lval;
};

/* Does the selector scope path match c?  A path that is no selector: false. */
bool policy_selector_match(const char *path, const struct policy_ctr *c);

#endif /* HUSH_RULES_POLICY_H */
