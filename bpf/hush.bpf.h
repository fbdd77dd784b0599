/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * BPF-only: the maps every enforcing object shares and the one judge they all
 * call.  Each object (sock_addr, skb_egress) declares the same maps; the
 * loader creates them once and hands the fds to the other object
 * (bpf_map__reuse_fd), so there is one policy, one ring buffer, one set of
 * counters.
 *
 * Policy maps are ARRAY_OF_MAPS with HUSH_NGEN slots; see policy_maps.h.
 */
#ifndef HUSH_BPF_HUSH_BPF_H
#define HUSH_BPF_HUSH_BPF_H

/* No CO-RE: these programs read only UAPI contexts (__sk_buff, bpf_sock,
 * bpf_sock_addr) and packet headers, whose layouts are fixed.  Without CO-RE
 * relocations libbpf need not load and search the kernel's BTF (5 MB) for
 * each object it loads.  Exec tracking (exec.bpf.c) reads kernel structs and
 * uses CO-RE. */
#define BPF_NO_PRESERVE_ACCESS_INDEX
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/policy_maps.h"
#include "bpf/events.h"
#include "bpf/dns_redirect.h"

#define HUSH_AF_INET	2
#define HUSH_AF_INET6	10
#define HUSH_ETH_P_IP	0x0800
#define HUSH_ETH_P_IPV6 0x86DD

/* No scope applies (scope ids index the policy's scopes, never this). */
#define HUSH_SCOPE_NONE ((__u32)-1)

/* Stop clang from proving a bounds mask redundant and dropping it. */
#define hush_barrier_var(v) asm volatile("" : "+r"(v))

/* Ring buffer bytes above which a record wakes the reader; set by the loader
 * from the ring size.  Records below it are submitted with BPF_RB_NO_WAKEUP
 * and collected by the reader's timed poll (a wakeup per event costs an IPI
 * and halves a sendto storm). */
const volatile __u64 hush_wake_bytes = 64 * 1024;

/* Above the threshold, a record wakes the reader when the fill level is in
 * the first two records' worth of each HUSH_WAKE_STRIDE bytes.  One window
 * alone is not enough: with producers on several CPUs the level can jump
 * past it between one's reserve and its query, and then no record woke the
 * reader until its timed poll (measured: loss from 400k attempts/s with 4
 * producers and a 4 MiB ring). */
#define HUSH_WAKE_STRIDE (64 * 1024)

/* Inner map templates name their key/value types only through pointers,
 * for which clang emits forward declarations; libbpf needs the sizes.  This
 * unused global makes clang emit the full types. */
struct hush_btf_anchor {
	struct hush_scope_val a;
	struct hush_lpm_val b;
	struct hush_lpm4_key c;
	struct hush_lpm6_key d;
	struct hush_ptab e;
	struct hush_ptext_chunk f;
	struct hush_dkey g;
	struct hush_dval h;
	struct hush_learn_key i;
	struct hush_learn_val j;
};
static struct hush_btf_anchor hush_btf_anchor_ __attribute__((used));

/* ---- policy (inner map templates, then the generation arrays) ---- */

/*
 * Destination verdict cache: (leaf cgroup, destination) -> ruling.  The
 * judge's memo: a hit costs one hash lookup instead of the scope walk, the
 * LPM trie and the port table, and needs no per-socket allocation (socket
 * storage costs ~0.8 us to create, more than the whole judgement).  Per
 * generation like every policy map, so a new policy starts empty.
 */
/*
 * The last ruling made on this CPU: a send's egress packet is judged on the
 * same CPU right after its sendmsg hook, a sendto() storm repeats one
 * destination, and so do new connections to one service; all then skip even
 * the cache's hash lookup.  Matched on the cache's whole key (cgroup,
 * destination, policy sequence), which alone decides a ruling, so a miss (a
 * migration, another destination, a new policy) only costs a fall back.
 * cookie: the socket it was made for (a hint, never matched).
 */
struct hush_last {
	struct hush_dkey k; /* cgroup, destination, policy sequence */
	__u64 cookie;
	struct hush_dval v;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hush_last);
} hush_last SEC(".maps");

/* Leaf cgroup id -> resolved scope: caches the ancestor walk.  Per
 * generation, so a new policy starts with an empty cache. */
struct hush_scache_inner {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct hush_scope_val);
};

struct hush_lpm4_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hush_lpm4_key);
	__type(value, struct hush_lpm_val);
};

struct hush_lpm6_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hush_lpm6_key);
	__type(value, struct hush_lpm_val);
};

/* Port tables, indexed by hush_lpm_val.ptab. */
struct hush_ptabs_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP);
	__type(key, __u32);
	__type(value, struct hush_ptab);
};

/* The normalized policy text, in chunks (what `hush policy show` prints). */
struct hush_ptext_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP);
	__type(key, __u32);
	__type(value, struct hush_ptext_chunk);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, HUSH_NGEN);
	__type(key, __u32);
	__array(values, struct hush_scache_inner);
} hush_scache SEC(".maps");

/* The judge's memo (see struct hush_dkey in policy_maps.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HUSH_DCACHE_ENTRIES);
	__type(key, struct hush_dkey);
	__type(value, struct hush_dval);
} hush_dcache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, HUSH_NGEN);
	__type(key, __u32);
	__array(values, struct hush_lpm4_inner);
} hush_lpm4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, HUSH_NGEN);
	__type(key, __u32);
	__array(values, struct hush_lpm6_inner);
} hush_lpm6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, HUSH_NGEN);
	__type(key, __u32);
	__array(values, struct hush_ptabs_inner);
} hush_ptabs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, HUSH_NGEN);
	__type(key, __u32);
	__array(values, struct hush_ptext_inner);
} hush_ptext SEC(".maps");

/* (learning cgroup, address) -> expiry: who may use a learned address (see
 * policy_maps.h).  Not per generation: what a cgroup learned outlives a
 * reload; a reload that drops the rule drops the address from the tables. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HUSH_LEARN_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hush_learn_key);
	__type(value, struct hush_learn_val);
} hush_learn SEC(".maps");

#include "bpf/shared_maps.bpf.h"

/* ---- the DNS redirect (see dns_redirect.h) ---- */

/* Client socket cookie -> who asked which resolver (written by the socket
 * hooks; read by egress, recvmsg and getpeername). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HUSH_DNS_CLIENTS);
	__type(key, __u64);
	__type(value, struct hush_dns_client);
} hush_dnsck SEC(".maps");

/* (proxy slot, client local port) -> the same record, for the proxy. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HUSH_DNS_CLIENTS);
	__type(key, struct hush_dns_pkey);
	__type(value, struct hush_dns_client);
} hush_dnscl SEC(".maps");

/* Network namespace cookie -> the proxy's listener set there. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HUSH_DNS_NS_MAX);
	__type(key, __u64);
	__type(value, struct hush_dns_ns);
} hush_dnsns SEC(".maps");

/* Port -> 1 if some set of the proxy listens on it (egress's first test). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} hush_dnsports SEC(".maps");

/* The proxy's sockets, by set * HUSH_DNS_SLOTS + slot; a closed socket
 * leaves the map. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, HUSH_DNS_NS_MAX *HUSH_DNS_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} hush_dnssk SEC(".maps");

/* ---- per-socket state (socket-local storage) ---- */

/* Socket-local state: the process that last connected or sent on a socket
 * (socket hooks), or created a raw/ping socket (sock_create), so the
 * backstop's events name it; whether a hook let it through in audit mode (so
 * the backstop does not report each of its packets again); and how a TCP
 * connection began after hush attached: connect()ed here, or accepted by a
 * listener (sockops), which alone makes its packets replies. */
#define HUSH_SKF_JUDGED	   0x01 /* a socket hook judged daddr/dport at seq */
#define HUSH_SKF_OWNER	   0x04 /* owner fields valid */
#define HUSH_SKF_PROXY	   0x08 /* hushd's DNS proxy forwarding to the policy resolver */
#define HUSH_SKF_ACCEPTED  0x10 /* TCP: accepted from a peer (passive open) */
#define HUSH_SKF_CONNECTED 0x20 /* connect() judged by a socket hook */

struct hush_sk_state {
	__u8 daddr[16];
	__u16 dport;
	__u8 family;
	__u8 verdict; /* HUSH_EV_* of the last judgement */
	__u32 seq;    /* low 32 bits of hush_cfg.policy_seq at judgement */
	__u32 flags;  /* HUSH_SKF_* */
	__u32 tgid, pid, uid, gid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct hush_sk_state);
} hush_sk SEC(".maps");

/* ---- the judge ---- */

struct hush_dest {
	__u8 addr[16]; /* v4 in addr[0..3] */
	__u8 family;   /* HUSH_AF_INET or HUSH_AF_INET6, after unmapping */
	__u8 l4;       /* HUSH_L4_* */
	__u8 flags;    /* HUSH_EVF_* learned while normalizing */
	__u8 proto;    /* IPPROTO_* for the event */
	__u16 port;    /* host order */
	__u16 pad;
};

struct hush_ruling {
	__u32 rule;
	__u32 scope;
	__u32 seq;
	__u8 verdict; /* HUSH_VERDICT_* */
	__u8 mode;    /* HUSH_MODE_* */
	__u8 pad[2];
	__u64 expires; /* decided by learned addresses until then (boot ns); 0: for good */
};

static __always_inline void hush_count(__u32 hook, __u32 ev)
{
	__u32 idx = HUSH_CTR_IDX(hook, ev);
	__u64 *c = bpf_map_lookup_elem(&hush_counters, &idx);

	if (c)
		*c += 1;
}

/* Normalize a v6 destination: v4-mapped -> v4, :: -> ::1. */
static __always_inline void hush_dest_v6(struct hush_dest *d, const __u32 ip6[4])
{
	__u32 a = ip6[0], b = ip6[1], c = ip6[2], e = ip6[3];

	if (a == 0 && b == 0 && c == bpf_htonl(0x0000ffff)) {
		d->family = HUSH_AF_INET;
		__builtin_memcpy(d->addr, &e, 4);
		d->flags |= HUSH_EVF_MAPPED;
		if (e == 0) {
			e = bpf_htonl(0x7f000001);
			__builtin_memcpy(d->addr, &e, 4);
			d->flags |= HUSH_EVF_ANYADDR;
		}
		return;
	}
	d->family = HUSH_AF_INET6;
	if ((a | b | c | e) == 0) {
		e = bpf_htonl(1);
		d->flags |= HUSH_EVF_ANYADDR;
	}
	__builtin_memcpy(d->addr, &a, 4);
	__builtin_memcpy(d->addr + 4, &b, 4);
	__builtin_memcpy(d->addr + 8, &c, 4);
	__builtin_memcpy(d->addr + 12, &e, 4);
}

static __always_inline void hush_dest_v4(struct hush_dest *d, __u32 ip4)
{
	d->family = HUSH_AF_INET;
	if (ip4 == 0) {
		ip4 = bpf_htonl(0x7f000001);
		d->flags |= HUSH_EVF_ANYADDR;
	}
	__builtin_memcpy(d->addr, &ip4, 4);
}

/* 16-byte address equality (clang does not lower memcmp for BPF). */
static __always_inline int hush_addr_eq(const __u8 *a, const __u8 *b)
{
	__u64 a0, a1, b0, b1;

	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	return a0 == b0 && a1 == b1;
}

/* The policy resolver, as hush_cfg names it (where the proxy forwards). */
static __always_inline int hush_is_resolver(const struct hush_cfg *cfg, const struct hush_dest *d)
{
	return cfg->dns_resolver_port && d->family == cfg->dns_resolver_family &&
	       d->port == cfg->dns_resolver_port && hush_addr_eq(d->addr, cfg->dns_resolver);
}

static __always_inline __u8 hush_l4(__u8 proto)
{
	return proto == IPPROTO_TCP   ? HUSH_L4_TCP
	       : proto == IPPROTO_UDP ? HUSH_L4_UDP
				      : HUSH_L4_OTHER;
}

/*
 * The table of a prefix holding learned addresses (lv->expires != 0) for a
 * socket of learning cgroup lcg: ptab until the earlier of the prefix's and
 * lcg's own expiry (r->expires), if lcg learned d; else the fallback, as if
 * never learned (memoized for good once the prefix expired; otherwise
 * HUSH_EXPIRES_RECHECK: lcg may learn it any moment).
 */
static __always_inline __u32 hush_learned_table(const struct hush_lpm_val *lv, __u64 lcg,
						const struct hush_dest *d, struct hush_ruling *r)
{
	struct hush_learn_key lk = {.cgroup = lcg, .family = d->family};
	struct hush_learn_val *le;
	__u64 now = bpf_ktime_get_boot_ns();

	if (now >= lv->expires)
		return lv->fallback;
	if (d->family == HUSH_AF_INET)
		__builtin_memcpy(lk.addr, d->addr, 4);
	else
		__builtin_memcpy(lk.addr, d->addr, 16);
	le = bpf_map_lookup_elem(&hush_learn, &lk);
	if (!le || now >= le->expires) {
		r->expires = HUSH_EXPIRES_RECHECK;
		return lv->fallback;
	}
	r->expires = le->expires < lv->expires ? le->expires : lv->expires;
	return lv->ptab;
}

/*
 * Look up `d` in the port table found by the LPM trie of generation `gen`,
 * for a socket whose scope walk gave sv (scope and learning cgroup).
 * A global function: the verifier checks it once, not once per call site.
 */
__noinline int hush_lookup(__u32 gen, const struct hush_scope_val *sv, const struct hush_dest *d,
			   struct hush_ruling *r)
{
	struct hush_ptab *pt = NULL;
	struct hush_lpm_val *lv;
	__u32 pos = 0, n, i, l4, scope;
	void *inner;

	if (!sv || !d || !r)
		return 0;
	scope = sv->scope;
	r->verdict = HUSH_VERDICT_DENY;
	r->rule = HUSH_RULE_DEFAULT;
	r->expires = 0;

	if (d->family == HUSH_AF_INET) {
		struct hush_lpm4_key k = {.prefixlen = 64, .scope = scope};

		__builtin_memcpy(k.addr, d->addr, 4);
		inner = bpf_map_lookup_elem(&hush_lpm4, &gen);
		if (!inner)
			return 0;
		lv = bpf_map_lookup_elem(inner, &k);
	} else {
		struct hush_lpm6_key k = {.prefixlen = 160, .scope = scope};

		__builtin_memcpy(k.addr, d->addr, 16);
		inner = bpf_map_lookup_elem(&hush_lpm6, &gen);
		if (!inner)
			return 0;
		lv = bpf_map_lookup_elem(inner, &k);
	}
	if (!lv)
		return 0; /* no policy for this scope: fail closed */

	inner = bpf_map_lookup_elem(&hush_ptabs, &gen);
	if (!inner)
		return 0;
	i = lv->ptab;
	if (lv->expires)
		/* Learned addresses here: for the cgroups that learned them,
		 * until their expiry; else the table without them
		 * (policy_maps.h), whether hushd lives or not. */
		i = hush_learned_table(lv, sv->lcg, d, r);
	pt = bpf_map_lookup_elem(inner, &i);
	if (!pt)
		return 0;

	l4 = d->l4;
	if (l4 >= HUSH_L4_MAX)
		return 0;
	if (d->flags & HUSH_EVF_FRAG) {
		/* Non-first fragment: no port to judge; let it through only
		 * where some port of the protocol is allowed. */
		r->verdict = pt->any_allow[l4] ? HUSH_VERDICT_ALLOW : HUSH_VERDICT_DENY;
		r->rule = pt->seg[l4][0].rule;
		goto local;
	}
	/*
	 * Binary search for the last of the n segments whose lo <= port
	 * (sorted by lo, the first at 0): take each step of HUSH_SEG_MAX/2,
	 * ..., 1 while it stays below n and on a segment starting at or below
	 * the port.  Branch-free (a borrow into bit 31 is the comparison; the
	 * barriers keep clang from turning it back into a branch), so the
	 * verifier walks it in one state, not one per outcome.
	 */
	n = pt->nseg[l4];
	if (n == 0 || n > HUSH_SEG_MAX)
		return 0;
	for (__u32 step = HUSH_SEG_MAX / 2; step; step >>= 1) {
		__u32 at = pos + step, slo, below, at_or_under;

		hush_barrier_var(at);
		below = (at - n) >> 31; /* at < n (both <= 2 * HUSH_SEG_MAX) */
		slo = pt->seg[l4][at & (HUSH_SEG_MAX - 1)].lo;
		hush_barrier_var(slo);
		at_or_under = (slo - d->port - 1) >> 31; /* slo <= port (both < 2^16) */
		pos += (below & at_or_under) * step;
	}
	pos &= HUSH_SEG_MAX - 1;
	r->verdict = pt->seg[l4][pos].verdict;
	r->rule = pt->seg[l4][pos].rule;
local:
	/* A rule of this very prefix: its id is in the LPM value. */
	if (r->rule >= HUSH_RULE_LOCAL0 && r->rule < HUSH_RULE_LOCAL0 + HUSH_LOCAL_RULES)
		r->rule = lv->rules[(r->rule - HUSH_RULE_LOCAL0) & (HUSH_LOCAL_RULES - 1)];
	return 0;
}

/*
 * Scope resolution: the deepest ancestor of the socket's cgroup that has a
 * hush_scopes entry.  The walk costs one hash lookup per level, so its result
 * is cached per leaf cgroup in hush_scache (per generation).  Each program
 * family walks with its own ancestor helper and calls these two.
 */
static __always_inline int hush_scope_cached(__u32 gen, __u64 leaf, struct hush_scope_val *out)
{
	void *cache = bpf_map_lookup_elem(&hush_scache, &gen);
	struct hush_scope_val *v;

	if (!cache)
		return -1;
	v = bpf_map_lookup_elem(cache, &leaf);
	if (!v)
		return -1;
	*out = *v;
	return 0;
}

static __always_inline void hush_scope_remember(__u32 gen, __u64 leaf,
						const struct hush_scope_val *v)
{
	void *cache = bpf_map_lookup_elem(&hush_scache, &gen);

	if (cache)
		bpf_map_update_elem(cache, &leaf, v, BPF_ANY);
}

/*
 * The judge: ruling for destination d of a socket in cgroup `leaf`, memoized
 * in the destination cache.  The caller resolves the scope only on a miss
 * (scope_fn), since how to walk cgroup ancestors differs per program type.
 * Returns 0 with r filled; -1 when no scope applies (r says deny).
 */
static __always_inline int hush_key_eq(const struct hush_dkey *a, const struct hush_dkey *b)
{
	const __u64 *x = (const void *)a, *y = (const void *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* Ruling for (leaf, d) under policy seq: from this CPU's last ruling
 * (returns 1), else the destination cache (returns 0); -1 on a miss.  Fills
 * k either way. */
static __always_inline int hush_dcache_get(__u32 seq, __u64 leaf, const struct hush_dest *d,
					   struct hush_dkey *k, struct hush_ruling *r)
{
	struct hush_dval *v = NULL;
	struct hush_last *last;
	__u32 zero = 0;

	k->cgroup = leaf;
	__builtin_memcpy(k->addr, d->addr, 16);
	k->seq = seq;
	k->port = d->port;
	k->family = d->family;
	k->l4frag = d->l4 | ((d->flags & HUSH_EVF_FRAG) ? 0x80 : 0);
	last = bpf_map_lookup_elem(&hush_last, &zero);
	if (last && hush_key_eq(&last->k, k))
		v = &last->v;
	if (!v)
		v = bpf_map_lookup_elem(&hush_dcache, k);
	if (!v)
		return -1;
	/* Decided by learned addresses that have expired since: judge again
	 * (never a ruling past its expiry). */
	if (v->expires && bpf_ktime_get_boot_ns() >= v->expires)
		return -1;
	r->rule = v->rule;
	r->scope = v->scope;
	r->verdict = v->verdict;
	r->mode = v->mode;
	r->expires = v->expires;
	return last && v == &last->v;
}

/* Remember a ruling as this CPU's last for the socket (callers skip this
 * when the ruling came from that slot). */
static __always_inline void hush_last_put(__u64 cookie, const struct hush_dkey *k,
					  const struct hush_ruling *r)
{
	struct hush_last *last;
	__u32 zero = 0;

	last = bpf_map_lookup_elem(&hush_last, &zero);
	if (!last || !cookie || r->expires == HUSH_EXPIRES_RECHECK)
		return;
	last->k = *k;
	last->cookie = cookie;
	last->v.rule = r->rule;
	last->v.scope = r->scope;
	last->v.verdict = r->verdict;
	last->v.mode = r->mode;
	last->v.expires = r->expires;
}

static __always_inline void hush_dcache_put(const struct hush_dkey *k, const struct hush_ruling *r)
{
	struct hush_dval v = {.rule = r->rule,
			      .scope = r->scope,
			      .verdict = r->verdict,
			      .mode = r->mode,
			      .expires = r->expires};

	if (r->expires == HUSH_EXPIRES_RECHECK)
		return; /* would never be hit */
	bpf_map_update_elem(&hush_dcache, k, &v, BPF_ANY);
}

/* State of a scope walk (bpf_loop callback context). */
struct hush_scopewalk {
	void *scopes;		   /* hush_scopes[gen] */
	struct hush_scope_val *sv; /* the deepest hit so far */
	__u64 below;		   /* the cgroup one level below it, 0: none yet */
	__u32 hit;		   /* level of the hit + 1; 0: none yet */
};

/* One ancestor level (0: the root) per call; stops past the leaf. */
static long hush_scope_step(__u32 lvl, void *ctx)
{
	struct hush_scopewalk *w = ctx;
	struct hush_scope_val *v;
	__u64 id = bpf_get_current_ancestor_cgroup_id(lvl);

	if (!id)
		return 1;
	if (w->hit && w->hit == lvl)
		w->below = id;
	v = bpf_map_lookup_elem(w->scopes, &id);
	if (v) {
		*w->sv = *v;
		w->sv->lcg = id;
		w->hit = lvl + 1;
		w->below = 0;
	}
	return 0;
}

/* The walk's learning cgroup (policy_maps.h): the cgroup below the bound
 * one on the way to the leaf, else the bound one. */
static __always_inline void hush_scope_lcg(const struct hush_scopewalk *w)
{
	if (w->below)
		w->sv->lcg = w->below;
}

/* Scope of the calling task's cgroup (sock_addr and sock_create hooks run
 * in the caller's context): the deepest ancestor with a hush_scopes entry, cached per leaf
 * cgroup.  Global, and the walk a bpf_loop: the verifier checks one level
 * once, not each level in each state of each caller. */
__noinline int hush_scope_cur(__u32 gen, __u64 leaf, struct hush_scope_val *sv)
{
	struct hush_scopewalk w = {.sv = sv};

	if (!sv)
		return -1;
	if (hush_scope_cached(gen, leaf, sv) == 0)
		return 0;
	w.scopes = bpf_map_lookup_elem(&hush_scopes, &gen);
	if (!w.scopes)
		return -1;
	sv->scope = HUSH_SCOPE_NONE;
	bpf_loop(HUSH_MAX_CGROUP_DEPTH, hush_scope_step, &w, 0);
	if (sv->scope == HUSH_SCOPE_NONE)
		return -1;
	hush_scope_lcg(&w);
	hush_scope_remember(gen, leaf, sv);
	return 0;
}

/* The active generation and its sequence, read with one load. */
static __always_inline __u64 hush_seq(const struct hush_cfg *cfg)
{
	return *(volatile const __u64 *)&cfg->policy_seq;
}

/* Offer an event, numbered in hush_evseq first; wake the reader only in the
 * windows above hush_wake_bytes.  Returns 0, or -1 if the ring buffer was
 * full. */
static __always_inline int hush_emit(__u32 hook, __u8 ev, const struct hush_dest *d,
				     const struct hush_ruling *r, __u64 cookie, __u64 cgid,
				     const struct hush_sk_state *owner, int proc_ctx)
{
	__u32 idx = HUSH_CTR_IDX(hook, ev);
	struct hush_event *e;
	__u64 avail, flags = BPF_RB_NO_WAKEUP, seq = 0, *sp;

	/* Number the event before offering it: a lost one leaves a hole.
	 * Atomic: programs on one CPU may preempt each other. */
	sp = bpf_map_lookup_elem(&hush_evseq, &idx);
	if (sp)
		seq = __sync_fetch_and_add(sp, 1) + 1;
	e = bpf_ringbuf_reserve(&hush_events, sizeof(*e), 0);
	if (!e) {
		hush_count(hook, HUSH_EV_LOST);
		return -1;
	}
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->seq = seq;
	e->cpu = bpf_get_smp_processor_id();
	e->cookie = cookie;
	e->cgroup_id = cgid;
	e->rule = r->rule;
	e->scope = r->scope;
	e->dport = d->port;
	e->family = d->family;
	e->proto = d->proto;
	e->hook = hook;
	e->verdict = ev;
	e->flags = d->flags;
	e->pad = 0;
	__builtin_memcpy(e->daddr, d->addr, 16);
	if (proc_ctx) {
		__u64 pt = bpf_get_current_pid_tgid();
		__u64 ug = bpf_get_current_uid_gid();

		e->pid = (__u32)pt;
		e->tgid = pt >> 32;
		e->uid = (__u32)ug;
		e->gid = ug >> 32;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	} else if (owner && (owner->flags & HUSH_SKF_OWNER)) {
		e->pid = owner->pid;
		e->tgid = owner->tgid;
		e->uid = owner->uid;
		e->gid = owner->gid;
		__builtin_memcpy(e->comm, owner->comm, 16);
	} else {
		e->pid = e->tgid = 0;
		e->uid = e->gid = 0;
		__builtin_memset(e->comm, 0, 16);
		e->flags |= HUSH_EVF_NOPROC;
	}

	avail = bpf_ringbuf_query(&hush_events, BPF_RB_AVAIL_DATA);
	if (avail >= hush_wake_bytes &&
	    ((avail - hush_wake_bytes) & (HUSH_WAKE_STRIDE - 1)) < 2 * (sizeof(*e) + 8))
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
	return 0;
}

/* Turn a ruling into the event verdict for its mode. */
static __always_inline __u8 hush_ev_of(const struct hush_ruling *r)
{
	if (r->verdict == HUSH_VERDICT_ALLOW)
		return HUSH_EV_ALLOW;
	return r->mode == HUSH_MODE_AUDIT ? HUSH_EV_AUDIT : HUSH_EV_DENY;
}

#endif /* HUSH_BPF_HUSH_BPF_H */
