// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sock_addr family: cgroup/connect4, connect6, sendmsg4, sendmsg6.
 *
 * Every TCP connect, connected-UDP connect and unconnected UDP send from a
 * socket in the attached cgroup subtree is judged here, before a packet
 * exists.  A deny returns 0: the caller gets EPERM at once.  IPv4-mapped IPv6
 * destinations are judged as IPv4 (a v6 TCP socket connecting to a mapped
 * address never passes connect4); 0.0.0.0 and :: are judged as loopback.
 *
 * Rulings are memoized per (cgroup, destination) in hush_dcache, which the
 * egress backstop (skb_egress.bpf.c) reads too, so a socket's packets pass
 * without a second policy lookup.  A socket let through in audit mode is
 * marked in socket-local storage so the backstop does not report each of its
 * packets again.
 */
#include "hush.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Scope of the calling task's cgroup (sock_addr hooks run in the caller's
 * context; the ancestor walk is cached per leaf cgroup). */
static __always_inline int hush_scope_current(__u32 gen, __u64 leaf, struct hush_scope_val *sv)
{
	struct hush_scope_val *v;
	void *scopes;
	int found = 0;

	if (hush_scope_cached(gen, leaf, sv) == 0)
		return 0;
	scopes = bpf_map_lookup_elem(&hush_scopes, &gen);
	if (!scopes)
		return -1;
	for (int lvl = 0; lvl < HUSH_MAX_CGROUP_DEPTH; lvl++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(lvl);

		if (!id)
			break;
		v = bpf_map_lookup_elem(scopes, &id);
		if (v) {
			*sv = *v;
			found = 1;
		}
	}
	if (!found)
		return -1;
	hush_scope_remember(gen, leaf, sv);
	return 0;
}

/* Mark a socket let through in audit mode, for the egress backstop. */
static __always_inline void hush_remember(struct bpf_sock_addr *ctx, const struct hush_dest *d,
					  const struct hush_ruling *r, __u8 ev)
{
	struct hush_sk_state *st;

	st = bpf_sk_storage_get(&hush_sk, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return;
	if ((st->flags & HUSH_SKF_JUDGED) && st->seq == r->seq && st->verdict == ev &&
	    st->dport == d->port && st->family == d->family && hush_addr_eq(st->daddr, d->addr))
		return; /* unchanged: spare the cache line */
	__builtin_memcpy(st->daddr, d->addr, 16);
	st->dport = d->port;
	st->family = d->family;
	st->verdict = ev;
	st->seq = r->seq;
	st->flags |= HUSH_SKF_JUDGED;
}

static __always_inline int hush_sock_addr(struct bpf_sock_addr *ctx, __u32 hook, int v6)
{
	struct hush_ruling r = {};
	struct hush_dest d = {};
	struct hush_scope_val sv;
	struct hush_dkey k;
	struct hush_cfg *cfg;
	__u32 zero = 0, gen;
	__u64 seq, leaf, cookie;
	int hit;
	__u8 ev;

	/* 1. The destination, normalized (mapped -> v4, any -> loopback). */
	d.proto = ctx->protocol;
	d.l4 = hush_l4(d.proto);
	if (d.l4 != HUSH_L4_OTHER)
		d.port = bpf_ntohs((__u16)ctx->user_port);
	if (v6) {
		__u32 ip6[4];

		ip6[0] = ctx->user_ip6[0];
		ip6[1] = ctx->user_ip6[1];
		ip6[2] = ctx->user_ip6[2];
		ip6[3] = ctx->user_ip6[3];
		hush_dest_v6(&d, ip6);
	} else {
		hush_dest_v4(&d, ctx->user_ip4);
	}

	/* 2. The active policy generation. */
	cfg = bpf_map_lookup_elem(&hush_cfg, &zero);
	if (!cfg)
		return 0;
	seq = hush_seq(cfg);
	gen = HUSH_GEN(seq);

	/* 3. Memoized ruling, else scope then verdict (no scope: deny). */
	leaf = bpf_get_current_cgroup_id();
	cookie = bpf_get_socket_cookie(ctx);
	hit = hush_dcache_get((__u32)seq, leaf, &d, cookie, &k, &r);
	if (hit < 0) {
		r.verdict = HUSH_VERDICT_DENY;
		r.rule = HUSH_RULE_DEFAULT;
		r.mode = HUSH_MODE_ENFORCE;
		r.scope = (__u32)-1;
		if (hush_scope_current(gen, leaf, &sv) == 0) {
			r.scope = sv.scope;
			r.mode = sv.mode;
			hush_lookup(gen, sv.scope, &d, &r);
			hush_dcache_put(&k, &r);
		}
	}
	if (hit != 1 && r.scope != (__u32)-1)
		hush_last_put(cookie, &k, &r);
	r.seq = (__u32)seq;
	ev = hush_ev_of(&r);
	hush_count(hook, ev);

	/* 4. Audit: the backstop must not report this socket's packets again. */
	if (ev == HUSH_EV_AUDIT)
		hush_remember(ctx, &d, &r, ev);

	/* 5. Log denials, would-denials and, if asked, allowed attempts. */
	if (ev != HUSH_EV_ALLOW || cfg->log_allowed)
		hush_emit(hook, ev, &d, &r, cookie, leaf, NULL, 1);
	return ev == HUSH_EV_DENY ? 0 : 1;
}

SEC("cgroup/connect4")
int hush_connect4(struct bpf_sock_addr *ctx)
{
	return hush_sock_addr(ctx, HUSH_HOOK_CONNECT4, 0);
}

SEC("cgroup/connect6")
int hush_connect6(struct bpf_sock_addr *ctx)
{
	return hush_sock_addr(ctx, HUSH_HOOK_CONNECT6, 1);
}

SEC("cgroup/sendmsg4")
int hush_sendmsg4(struct bpf_sock_addr *ctx)
{
	return hush_sock_addr(ctx, HUSH_HOOK_SENDMSG4, 0);
}

SEC("cgroup/sendmsg6")
int hush_sendmsg6(struct bpf_sock_addr *ctx)
{
	return hush_sock_addr(ctx, HUSH_HOOK_SENDMSG6, 1);
}
