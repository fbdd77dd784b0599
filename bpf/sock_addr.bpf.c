// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sock_addr family: cgroup/connect4, connect6, sendmsg4, sendmsg6, and the
 * DNS redirect's recvmsg4/6 and getpeername4/6 (see dns_redirect.h).
 *
 * Every TCP connect, connected-UDP connect and unconnected UDP send from a
 * socket in the attached cgroup subtree is judged here, before a packet
 * exists.  A deny returns 0: the caller gets EPERM at once.  IPv4-mapped IPv6
 * destinations are judged as IPv4 (a v6 TCP socket connecting to a mapped
 * address never passes connect4); 0.0.0.0 and :: are judged as loopback.
 *
 * Rulings are memoized per (cgroup, destination) in hush_dcache, which the
 * egress backstop (skb_egress.bpf.c) reads too, so a socket's packets pass
 * without a second policy lookup.  Each socket judged here records, in
 * socket-local storage, the process that connected or sent (so the
 * backstop's events name it), that it was connect()ed (its packets are never
 * replies), and whether it was let through in audit mode (so the backstop
 * does not report each of its packets again).
 */
#include "bpf/hush.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Record the socket's process and how it was judged, for the egress
 * backstop; written only when something changed (a cache line per call
 * spared). */
static __always_inline void hush_remember(struct bpf_sock_addr *ctx, __u32 hook,
					  const struct hush_dest *d, const struct hush_ruling *r,
					  __u8 ev)
{
	struct hush_sk_state *st;
	__u64 pt = bpf_get_current_pid_tgid();
	__u32 how = hook == HUSH_HOOK_CONNECT4 || hook == HUSH_HOOK_CONNECT6
			? HUSH_SKF_CONNECTED | HUSH_SKF_OWNER
			: HUSH_SKF_OWNER;

	st = bpf_sk_storage_get(&hush_sk, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return;
	if ((st->flags & how) != how || st->pid != (__u32)pt || st->tgid != pt >> 32) {
		__u64 ug = bpf_get_current_uid_gid();

		st->pid = (__u32)pt;
		st->tgid = pt >> 32;
		st->uid = (__u32)ug;
		st->gid = ug >> 32;
		bpf_get_current_comm(st->comm, sizeof(st->comm));
		st->flags |= how;
	}
	if (ev != HUSH_EV_AUDIT)
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

/*
 * An allowed connect() to loopback on a socket bound to no device: nothing
 * to record, which spares the socket storage (its allocation and free cost
 * more than the rest of the connect hook; measured: ~1 us of ~27 per
 * loopback TCP connect).  What the record would give the backstop it has
 * anyway: a TCP socket whose peer is a loopback address is never a reply
 * unless accepted (hush_is_reply, from the socket's own peer address, which
 * no NAT rule changes), a packet to loopback on lo is allowed, and one that
 * leaves on another device (SO_BINDTODEVICE or IP_UNICAST_IF set later) is
 * judged without the implicit loopback allow and is never a reply.  Only
 * the backstop's event for such a packet then lacks the process.  Audit
 * rulings are not loopback-allowed, so nothing of that record is lost.
 */
static __always_inline int hush_connect_lo(struct bpf_sock_addr *ctx, __u32 hook,
					   const struct hush_dest *d, __u8 ev)
{
	__u8 lo6[16] = {[15] = 1};

	if (ev != HUSH_EV_ALLOW || (hook != HUSH_HOOK_CONNECT4 && hook != HUSH_HOOK_CONNECT6))
		return 0;
	if (d->family == HUSH_AF_INET ? d->addr[0] != 127 : !hush_addr_eq(d->addr, lo6))
		return 0;
	return ctx->sk->bound_dev_if == 0;
}

/* ---- the DNS redirect (see dns_redirect.h) ---- */

#define HUSH_LO4 0x7f000001 /* 127.0.0.1, where the proxy listens (and ::1) */

/* The proxy socket at hush_dnssk index idx is open (a closed socket leaves
 * the map). */
static __always_inline int hush_dns_alive(__u32 idx)
{
	struct bpf_sock *sk = bpf_map_lookup_elem(&hush_dnssk, &idx);

	if (!sk)
		return 0;
	bpf_sk_release(sk);
	return 1;
}

/* What a hook hands the redirect, and gets back. */
struct hush_dnsreq {
	__u8 oaddr[16]; /* in: the destination as the socket wrote it (v4 in [0..3]) */
	__u16 port;	/* out: the proxy's port, host order */
	__u8 pad[6];
};

#define HUSH_DNS_TO_PROXY 2 /* hush_dns_redirect: rewrite to the proxy */

/*
 * Port-53 traffic of an enforced cgroup goes to hushd's DNS proxy, whatever
 * resolver it names; the proxy's own forwards to the policy resolver pass.
 * Returns HUSH_DNS_TO_PROXY (the client is recorded: the hook points the
 * socket at 127.0.0.1/::1 port q->port and lets it through), 1 (the proxy's
 * forward: let through), 0 (no proxy can take it: denied, reported), -1 (not
 * ours: judge as usual).  A global function, checked once by the verifier;
 * it leaves the address fields of ctx to the hook, because which of them a
 * program may touch depends on its attach type.
 */
__noinline int hush_dns_redirect(struct bpf_sock_addr *ctx, __u32 hook, struct hush_dest *d,
				 const struct hush_cfg *cfg, struct hush_dnsreq *q)
{
	struct hush_dns_client c = {};
	struct hush_ruling r = {};
	struct hush_scope_val sv;
	struct hush_dns_ns *ns;
	__u64 leaf, cookie, pt, ug, nsc;
	__u32 gen, slot, tgid;
	__u16 port = 0;
	__u8 ev;

	if (!d || !cfg || !q)
		return -1;
	leaf = bpf_get_current_cgroup_id();
	cookie = bpf_get_socket_cookie(ctx);
	gen = HUSH_GEN(hush_seq(cfg));
	slot = (d->l4 == HUSH_L4_TCP ? 1 : 0) + (d->family == HUSH_AF_INET6 ? 2 : 0);
	slot &= HUSH_DNS_SLOTS - 1;
	pt = bpf_get_current_pid_tgid();
	tgid = pt >> 32;
	if (cfg->dns_tgid && tgid == cfg->dns_tgid) {
		/* hushd's proxy forwarding to the resolver (only while it
		 * lives: a recycled pid gets nothing). */
		struct hush_sk_state *st;

		if (!hush_is_resolver(cfg, d) || !hush_dns_alive(HUSH_DNS_UDP4))
			return -1;
		/* The backstop lets this socket's packets to it pass. */
		st = bpf_sk_storage_get(&hush_sk, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (st)
			st->flags |= HUSH_SKF_PROXY;
		hush_count(hook, HUSH_EV_ALLOW);
		return 1;
	}
	if (d->port != HUSH_DNS_PORT || hush_scope_cur(gen, leaf, &sv))
		return -1;

	/* The proxy's listeners in this socket's network namespace (each has
	 * its own loopback).  None (no proxy, or a namespace it does not serve
	 * yet: the event asks user space to serve it), or a dead one: fail
	 * closed. */
	nsc = bpf_get_netns_cookie(ctx);
	ns = bpf_map_lookup_elem(&hush_dnsns, &nsc);
	if (ns && ns->set < HUSH_DNS_NS_MAX)
		port = ns->port[slot];
	if (!port || !ns || !hush_dns_alive(ns->set * HUSH_DNS_SLOTS + slot)) {
		r.verdict = HUSH_VERDICT_DENY;
		r.rule = HUSH_RULE_NOPROXY;
		r.scope = sv.scope;
		r.mode = sv.mode;
		ev = hush_ev_of(&r);
		d->flags |= HUSH_EVF_DNS;
		hush_count(hook, ev);
		hush_emit(hook, ev, d, &r, cookie, leaf, NULL, 1);
		return ev == HUSH_EV_DENY ? 0 : 1;
	}

	/* Who asked which resolver, for the proxy and for recvmsg. */
	ug = bpf_get_current_uid_gid();
	c.cookie = cookie;
	c.cgroup_id = leaf;
	c.ts_ns = bpf_ktime_get_boot_ns();
	c.pid = (__u32)pt;
	c.tgid = tgid;
	c.uid = (__u32)ug;
	c.gid = ug >> 32;
	c.scope = sv.scope;
	c.mode = sv.mode;
	c.family = d->family;
	c.proto = d->proto;
	c.hook = hook;
	c.oport = d->port;
	c.flags = d->flags;
	__builtin_memcpy(c.daddr, d->addr, 16);
	__builtin_memcpy(c.oaddr, q->oaddr, 16);
	bpf_get_current_comm(c.comm, sizeof(c.comm));
	c.pport = port;
	c.netns = nsc;
	c.lcg = sv.lcg;
	bpf_map_update_elem(&hush_dnsck, &cookie, &c, BPF_ANY);
	q->port = port;
	hush_count(hook, HUSH_EV_ALLOW);
	return HUSH_DNS_TO_PROXY;
}

/* Point a redirected socket at the proxy: v4 (also a v6 socket naming a
 * mapped address) or v6. */
static __always_inline void hush_dns_to_proxy(struct bpf_sock_addr *ctx, int v6,
					      const struct hush_dest *d, __u16 port)
{
	if (!v6) {
		ctx->user_ip4 = bpf_htonl(HUSH_LO4);
	} else if (d->family == HUSH_AF_INET) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0x0000ffff);
		ctx->user_ip6[3] = bpf_htonl(HUSH_LO4);
	} else {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = 0;
		ctx->user_ip6[3] = bpf_htonl(1);
	}
	ctx->user_port = bpf_htons(port);
}

/* A reply from (or the peer of) the proxy: show the resolver the client
 * asked.  For cgroup/recvmsg4/6 and getpeername4/6. */
static __always_inline int hush_dns_unredirect(struct bpf_sock_addr *ctx, int v6)
{
	struct hush_dns_client *c;
	__u8 *isport;
	__u64 cookie;
	__u32 pk;
	__u16 port;

	port = bpf_ntohs((__u16)ctx->user_port);
	if (!port)
		return 1;
	if (!v6 || (ctx->user_ip6[0] == 0 && ctx->user_ip6[1] == 0 &&
		    ctx->user_ip6[2] == bpf_htonl(0x0000ffff))) {
		__u32 ip4 = v6 ? ctx->user_ip6[3] : ctx->user_ip4;

		if (ip4 != bpf_htonl(HUSH_LO4))
			return 1;
	} else {
		if (ctx->user_ip6[0] || ctx->user_ip6[1] || ctx->user_ip6[2] ||
		    ctx->user_ip6[3] != bpf_htonl(1))
			return 1;
	}
	/* Only from the proxy port this socket was pointed at (whichever
	 * namespace's set that was); first, cheaply, from a proxy port. */
	pk = port;
	isport = bpf_map_lookup_elem(&hush_dnsports, &pk);
	if (!isport || !*isport)
		return 1;
	cookie = bpf_get_socket_cookie(ctx);
	c = bpf_map_lookup_elem(&hush_dnsck, &cookie);
	if (!c || c->pport != port)
		return 1;
	if (v6 && (c->hook == HUSH_HOOK_CONNECT4 || c->hook == HUSH_HOOK_SENDMSG4)) {
		/* A v6 socket that named a mapped address went through the v4
		 * hook, which kept the v4 address. */
		__u32 ip4;

		__builtin_memcpy(&ip4, c->oaddr, 4);
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0x0000ffff);
		ctx->user_ip6[3] = ip4;
	} else if (v6) {
		__u32 w[4];

		__builtin_memcpy(w, c->oaddr, 16);
		ctx->user_ip6[0] = w[0];
		ctx->user_ip6[1] = w[1];
		ctx->user_ip6[2] = w[2];
		ctx->user_ip6[3] = w[3];
	} else {
		__u32 ip4;

		__builtin_memcpy(&ip4, c->oaddr, 4);
		ctx->user_ip4 = ip4;
	}
	ctx->user_port = bpf_htons(c->oport);
	return 1;
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

	leaf = bpf_get_current_cgroup_id();
	cookie = bpf_get_socket_cookie(ctx);

	/* 3. DNS goes to the proxy (or fails closed). */
	if (d.l4 != HUSH_L4_OTHER &&
	    (d.port == HUSH_DNS_PORT || d.port == cfg->dns_resolver_port)) {
		struct hush_dnsreq q = {};

		if (v6) {
			__u32 w[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2],
				      ctx->user_ip6[3]};

			__builtin_memcpy(q.oaddr, w, 16);
		} else {
			__u32 ip4 = ctx->user_ip4;

			__builtin_memcpy(q.oaddr, &ip4, 4);
		}
		hit = hush_dns_redirect(ctx, hook, &d, cfg, &q);
		if (hit == HUSH_DNS_TO_PROXY) {
			hush_dns_to_proxy(ctx, v6, &d, q.port);
			return 1;
		}
		if (hit >= 0)
			return hit ? 1 : 0;
	}

	/* 4. Memoized ruling, else scope then verdict (no scope: deny). */
	hit = hush_dcache_get((__u32)seq, leaf, &d, &k, &r);
	if (hit < 0) {
		r.verdict = HUSH_VERDICT_DENY;
		r.rule = HUSH_RULE_DEFAULT;
		r.mode = HUSH_MODE_ENFORCE;
		r.scope = HUSH_SCOPE_NONE;
		if (hush_scope_cur(gen, leaf, &sv) == 0) {
			r.scope = sv.scope;
			r.mode = sv.mode;
			hush_lookup(gen, &sv, &d, &r);
			hush_dcache_put(&k, &r);
		}
	}
	if (hit != 1 && r.scope != HUSH_SCOPE_NONE)
		hush_last_put(cookie, &k, &r);
	r.seq = (__u32)seq;
	ev = hush_ev_of(&r);
	hush_count(hook, ev);

	/* 5. For the backstop: who, connect()ed, and (audit) not to report
	 *    this socket's packets again.  A denied attempt sends nothing. */
	if (ev != HUSH_EV_DENY && !hush_connect_lo(ctx, hook, &d, ev))
		hush_remember(ctx, hook, &d, &r, ev);

	/* 6. Log denials, would-denials and, if asked, allowed attempts. */
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

SEC("cgroup/recvmsg4")
int hush_recvmsg4(struct bpf_sock_addr *ctx)
{
	return hush_dns_unredirect(ctx, 0);
}

SEC("cgroup/recvmsg6")
int hush_recvmsg6(struct bpf_sock_addr *ctx)
{
	return hush_dns_unredirect(ctx, 1);
}

SEC("cgroup/getpeername4")
int hush_getpeer4(struct bpf_sock_addr *ctx)
{
	return hush_dns_unredirect(ctx, 0);
}

SEC("cgroup/getpeername6")
int hush_getpeer6(struct bpf_sock_addr *ctx)
{
	return hush_dns_unredirect(ctx, 1);
}
