/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Policy maps shared by every enforcing program family (sock_addr, skb_egress)
 * and by user space (rules/compile.c fills them, agent/ loads them).
 *
 * Lookup, for a destination (scope, family, addr, l4, port):
 *   1. scope  : hush_scopes[gen] maps a cgroup id to a scope id and mode.
 *               The deepest ancestor cgroup of the socket with an entry wins.
 *   2. prefix : hush_lpm4/6[gen] is an LPM trie keyed by (scope, addr); the
 *               longest prefix holding addr returns a port-table index.  Every
 *               scope has a /0 entry per family, so a miss means "no policy"
 *               and is denied (fail closed).
 *   3. port   : hush_ptabs[gen][index] is the *effective* verdict for every
 *               (l4, port) at that prefix: the compiler has already folded in
 *               every less specific prefix, so one LPM hit decides.
 *
 * Everything policy-shaped lives in inner maps of ARRAY_OF_MAPS with two
 * slots ("generations").  A reload fills the idle generation completely, then
 * bumps hush_cfg.policy_seq with one 64-bit store (generation = seq & 1): no program ever sees a
 * half-written policy.
 *
 * Fixed-width __u* types only: this header is compiled by clang -target bpf
 * and by the C compiler of user space, which asserts the sizes.
 */
#ifndef HUSH_BPF_POLICY_H
#define HUSH_BPF_POLICY_H

/* Verdicts stored in port tables. */
#define HUSH_VERDICT_NONE  0 /* no rule: only in compiler intermediate state */
#define HUSH_VERDICT_ALLOW 1
#define HUSH_VERDICT_DENY  2

/* Per-scope mode. */
#define HUSH_MODE_ENFORCE 0
#define HUSH_MODE_AUDIT	  1

/* Port-table rows: layer-4 protocol classes. */
#define HUSH_L4_TCP   0
#define HUSH_L4_UDP   1
#define HUSH_L4_OTHER 2 /* ICMP, raw, anything without ports */
#define HUSH_L4_MAX   3

/* Segments per protocol class in one port table (power of two). */
#define HUSH_SEG_MAX	64
#define HUSH_SEG_SEARCH 7 /* binary search steps: log2(HUSH_SEG_MAX) + 1 */

/* Rule ids carried in verdicts and events.  Explicit rules are numbered
 * 1..N in policy order; these two are implicit. */
#define HUSH_RULE_DEFAULT  0	      /* nothing matched: default deny */
#define HUSH_RULE_LOOPBACK 0xfffffffe /* implicit "allow loopback" */
#define HUSH_RULE_NOPROXY  0xfffffffd /* DNS: no proxy could take the query */
#define HUSH_RULE_RESOLVER 0xfffffffc /* hushd's proxy forwarding to the resolver */
#define HUSH_RULE_SOCK	   0xfffffffb /* a raw/ping/other socket: no allowed use but loopback */
#define HUSH_RULE_LOOPDEV  0xfffffffa /* a loopback destination off the loopback device */
#define HUSH_RULE_CGMOVE   0xfffffff9 /* a process left the enforced cgroup */

/* Maximum cgroup depth searched for a scope. */
#define HUSH_MAX_CGROUP_DEPTH 32

/* Generations (slots of every ARRAY_OF_MAPS). */
#define HUSH_NGEN 2

/*
 * One segment of a port table: ports [lo, next segment's lo - 1] (the last
 * segment runs to 65535) get `verdict`, decided by rule `rule`.  Segments of a
 * class are sorted by lo and the first has lo == 0, so they cover 0..65535.
 */
struct hush_seg {
	__u16 lo;
	__u8 verdict;
	__u8 pad;
	__u32 rule;
};

/* Effective verdict table of one prefix node (value of hush_ptabs). */
struct hush_ptab {
	__u8 nseg[HUSH_L4_MAX];	     /* segments used per class, 1..HUSH_SEG_MAX */
	__u8 any_allow[HUSH_L4_MAX]; /* 1 if some port of the class is allowed
				      * (judges non-first IP fragments) */
	__u8 pad[2];
	struct hush_seg seg[HUSH_L4_MAX][HUSH_SEG_MAX];
};

/* LPM keys: prefixlen counts the 32 scope bits too (prefixlen = 32 + plen). */
struct hush_lpm4_key {
	__u32 prefixlen;
	__u32 scope;
	__u8 addr[4];
};

struct hush_lpm6_key {
	__u32 prefixlen;
	__u32 scope;
	__u8 addr[16];
};

/*
 * LPM value: index into hush_ptabs, and the ids of up to HUSH_LOCAL_RULES
 * rules written at exactly this prefix.  A segment whose rule is
 * HUSH_RULE_LOCAL0 + k was decided by rules[k]: port tables then depend on
 * the shape of the policy, not on rule ids, and 100k "allow ADDR tcp 443"
 * lines share one table instead of needing 100k.
 */
#define HUSH_LOCAL_RULES 4
#define HUSH_RULE_LOCAL0 0xfffffff0u

/*
 * Learned addresses (`allow host` rules) expire in the kernel: a prefix
 * holding some has `expires`, the CLOCK_BOOTTIME ns (bpf_ktime_get_boot_ns())
 * of the earliest expiry among them, and `fallback`, the index of its table
 * without them (its explicit rules over the shorter prefixes'): from
 * `expires` on, the programs judge by that table, so an expired address is
 * judged as if never learned, even while hushd is down.  expires 0: no
 * learned address here, ptab always holds.  Rulings from such a prefix carry
 * the expiry into the destination cache (struct hush_dval).
 */
struct hush_lpm_val {
	__u32 ptab;
	__u32 rules[HUSH_LOCAL_RULES];
	__u32 fallback;
	__u64 expires;
};

/* hush_scopes value (key: __u64 cgroup id); also the scope cache's value
 * and the scope walk's result, which alone fill lcg. */
struct hush_scope_val {
	__u32 scope;
	__u8 mode;  /* HUSH_MODE_* */
	__u8 flags; /* HUSH_SCOPE_F_* */
	__u8 pad[2];
	__u64 lcg; /* the learning cgroup (hush_learn) of the walked leaf; 0 in hush_scopes */
};

/*
 * Learned addresses stay with the cgroup that asked (hush_learn).  The
 * learning cgroup of a socket is the cgroup one level below the one bound to
 * its scope, on the way to the socket's cgroup (the unit, container or
 * `hush run` under a scope's cgroup), or the bound cgroup itself for a
 * process directly in it (a container bound to a `scope container ...`, the
 * cgroup of `hush run`): every process of one container or unit shares what
 * one of them resolved; another container or unit of the same scope does
 * not.
 *
 * A prefix holding learned addresses (hush_lpm_val.expires != 0) judges by
 * ptab only for a socket whose learning cgroup has an unexpired hush_learn
 * entry for the destination; for every other socket it judges by fallback,
 * as if the addresses had never been learned.  Such a ruling is not
 * memoized (its expires is HUSH_EXPIRES_RECHECK, already past), so a cgroup
 * that resolves the name afterwards is judged afresh.  hushd writes an entry
 * before the answer reaches the client and deletes it once expired or once
 * its cgroup is gone; a full map refuses new entries (those addresses stay
 * denied to that cgroup: fail closed, counted and logged by hushd).
 */
struct hush_learn_key {
	__u64 cgroup;  /* learning cgroup id */
	__u8 addr[16]; /* as judged (v4 in addr[0..3], the rest zero) */
	__u8 family;   /* HUSH_AF_INET or HUSH_AF_INET6 */
	__u8 pad[7];
};

/* hush_learn value: the CLOCK_BOOTTIME ns at which the entry ends. */
struct hush_learn_val {
	__u64 expires;
};

#define HUSH_LEARN_ENTRIES 65536

/* A ruling's expiry that is always past: judged again on every attempt. */
#define HUSH_EXPIRES_RECHECK 1

/* Some rule of the scope allows protocols other than TCP and UDP (ICMP, raw
 * IP, ...) somewhere beyond loopback.  Without it, a raw, ping or other
 * non-TCP/UDP socket can be of no allowed use but loopback. */
#define HUSH_SCOPE_F_OTHER 0x01

/* `inbound deny`: packets of connections accepted from elsewhere are judged
 * like outbound ones (default: they pass the backstop as replies). */
#define HUSH_SCOPE_F_INBOUND_DENY 0x02

/*
 * Destination verdict cache (hush_dcache): a memo of the judge.  One global
 * LRU map rather than a map per generation: the policy sequence is part of
 * the key, so a new policy never hits an old entry (old ones age out), and
 * the lookup is a direct call the verifier resolves (an inner map's is an
 * indirect call, a retpoline on most machines).
 */
struct hush_dkey {
	__u64 cgroup;  /* leaf cgroup id of the socket */
	__u8 addr[16]; /* destination as judged (after unmapping) */
	__u32 seq;     /* low 32 bits of hush_cfg.policy_seq */
	__u16 port;
	__u8 family;
	__u8 l4frag; /* HUSH_L4_* | 0x80 for a non-first fragment */
};

struct hush_dval {
	__u32 rule;
	__u32 scope;
	__u8 verdict;
	__u8 mode;
	__u8 pad[6];
	__u64 expires; /* a learned address's expiry (boot ns); 0: none */
};

#define HUSH_DCACHE_ENTRIES 32768

/*
 * hush_cfg[0]: the one global switch.  The map is mmap-able: user space flips
 * the active generation with a single aligned 8-byte store to policy_seq
 * (generation = policy_seq & 1), which programs read once per call.
 */
struct hush_cfg {
	__u64 policy_seq;  /* bumped by one on every successful apply */
	__u32 log_allowed; /* 1: emit events for allowed attempts too */
	__u32 pad;
	__u8 policy_hash[32]; /* SHA-256 of the normalized policy text */
	/* The DNS proxy (see dns_redirect.h); all zero while none runs, and then port-53
	 * traffic of enforced cgroups is denied. */
	__u16 dns_port[4];	 /* its home set's, per HUSH_DNS_* slot, host order; 0: none */
	__u32 dns_tgid;		 /* the proxy's process: its own port-53 sockets are
				  * not redirected */
	__u16 dns_resolver_port; /* where the proxy forwards (host order) */
	__u8 dns_resolver_family;
	__u8 dns_pad;
	__u64 dns_netns;       /* network namespace cookie of the proxy's home (information:
				* the namespaces served are in hush_dnsns) */
	__u8 dns_resolver[16]; /* normalized, v4 in [0..3] */
};

#define HUSH_GEN(seq) ((__u32)((seq)&1))

/* Size of one chunk of the policy text map (hush_ptext[gen]). */
#define HUSH_PTEXT_CHUNK 4096

struct hush_ptext_chunk {
	__u32 len;
	__u8 data[HUSH_PTEXT_CHUNK];
};

#endif /* HUSH_BPF_POLICY_H */
