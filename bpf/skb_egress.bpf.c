// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * skb_egress family: the cgroup_skb/egress backstop and the program that
 * feeds it the owners of raw sockets.
 *
 *   cgroup_skb/egress    judges the real destination of every IP packet that
 *                        leaves a socket of the cgroup: raw and ping sockets,
 *                        sockets opened before hush attached, an IPv6
 *                        routing header or an IPv4 source route that sends
 *                        the packet somewhere the connect() never named.
 *                        Every address a packet will visit (IP destination
 *                        plus routing-header / source-route hops) must be
 *                        allowed.  Drop = 0: the sender sees EPERM.
 *   cgroup/sock_create   records the creating process of raw, ping and other
 *                        non-TCP/UDP sockets, whose packets no socket hook
 *                        sees, so the backstop's events name it.
 *   sockops              marks TCP connections accepted from a peer (passive
 *                        open), whose packets alone are replies.
 *
 * Fast path: a plain packet (no IP options, no extension headers) whose
 * destination the judge already ruled on for this cgroup is decided by one
 * lookup in the destination cache that the socket hooks fill too.
 *
 * Loopback only on the loopback device: the implicit "allow loopback" is
 * for packets that stay on this host.  A socket bound to another device
 * (SO_BINDTODEVICE, IP_UNICAST_IF) can send to 127.0.0.0/8 or ::1 out of
 * that device, past the socket hooks that allowed loopback; such a packet is
 * judged like any other destination (the implicit rule does not count), is
 * never decided by the cache and is not a DNS redirect to the proxy.
 *
 * Replies are not egress: the SYN-ACK of a listener passes, and so does a
 * TCP packet that would be denied if its connection was accepted from a
 * peer - marked so by the sockops program when accepted after hush
 * attached.  A connection that began before hush attached carries no mark
 * (neither "accepted" nor "connect()ed", which the socket hooks record):
 * it is taken for a reply if it is past SYN-SENT and a listener holds its
 * local port (found in the kernel with bpf_skc_lookup_tcp), so connections
 * accepted before hush attached, in any network namespace, keep working.
 * A connection connect()ed after hush attached is never a reply, whatever
 * listens on its port (a DNAT rule cannot pass it off as one); so is one
 * whose peer is a loopback address, unless accepted, and no packet to
 * loopback that leaves on another device is a reply.  A scope's
 * `inbound deny` judges replies like any packet, SYN-ACKs included.
 */
#include "bpf/hush.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define HUSH_MAX_ROUTED 8 /* hops judged per packet; more is denied */
#define HUSH_MAX_EXTHDR 8

#define HUSH_IPOPT_END	0
#define HUSH_IPOPT_NOOP 1
#define HUSH_IPOPT_LSRR 131
#define HUSH_IPOPT_SSRR 137

/* The loopback device's ifindex in every network namespace (the kernel's
 * LOOPBACK_IFINDEX, include/net/net_namespace.h). */
#define HUSH_LOOPBACK_IFINDEX 1

#define HUSH_NEXTHDR_HOP     0
#define HUSH_NEXTHDR_ROUTING 43
#define HUSH_NEXTHDR_FRAG    44
#define HUSH_NEXTHDR_AUTH    51
#define HUSH_NEXTHDR_DEST    60
#define HUSH_SRH_TYPE	     4

struct hush_pkt {
	struct hush_dest d; /* IP destination, proto, port */
	__u8 saddr[16];	    /* local address (reply check) */
	__u16 sport;	    /* local port, host order */
	__u8 ipver;	    /* 4 or 6 */
	__u8 pad0;
	__u8 routed[HUSH_MAX_ROUTED][16]; /* further hops */
	__u32 nrouted;
	__u8 plain;    /* no IP options / extension headers */
	__u8 overflow; /* more hops than HUSH_MAX_ROUTED, or unparsable */
	__u8 pad[2];
};

/* Ports of a TCP/UDP header at `off` (none for fragments and others). */
static __always_inline void hush_ports(struct __sk_buff *skb, __u32 off, struct hush_pkt *p)
{
	__u16 ports[2];

	if (p->d.l4 == HUSH_L4_OTHER || (p->d.flags & HUSH_EVF_FRAG))
		return;
	if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)) == 0) {
		p->sport = bpf_ntohs(ports[0]);
		p->d.port = bpf_ntohs(ports[1]);
	} else {
		p->overflow = 1;
	}
}

/*
 * Fast parse by direct packet access, for the common packet: no IP options
 * or extension headers, headers in the linear area.  Returns -1 to send
 * anything else to the full parsers (helper loads, option and header walks).
 */
static __always_inline int hush_parse_fast(struct __sk_buff *skb, struct hush_pkt *p)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u16 *ports;
	__u8 proto;

	if (skb->protocol == bpf_htons(HUSH_ETH_P_IP)) {
		struct iphdr *iph = data;

		if ((void *)(iph + 1) > end || iph->ihl != 5)
			return -1;
		if (iph->frag_off & bpf_htons(0x1fff))
			return -1;
		hush_dest_v4(&p->d, iph->daddr);
		__builtin_memcpy(p->saddr, &iph->saddr, 4);
		p->ipver = 4;
		proto = iph->protocol;
		ports = (void *)(iph + 1);
	} else if (skb->protocol == bpf_htons(HUSH_ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = data;

		if ((void *)(ip6h + 1) > end)
			return -1;
		proto = ip6h->nexthdr;
		if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != 58 /* ICMPv6 */)
			return -1;
		hush_dest_v6(&p->d, ip6h->daddr.in6_u.u6_addr32);
		__builtin_memcpy(p->saddr, &ip6h->saddr, 16);
		p->ipver = 6;
		ports = (void *)(ip6h + 1);
	} else {
		return -1;
	}
	p->d.proto = proto;
	p->d.l4 = hush_l4(proto);
	if (p->d.l4 != HUSH_L4_OTHER) {
		if ((void *)(ports + 2) > end)
			return -1;
		p->sport = bpf_ntohs(ports[0]);
		p->d.port = bpf_ntohs(ports[1]);
	}
	p->plain = 1;
	return 0;
}

/*
 * The option and extension-header walks run under bpf_loop, one option or
 * header per call, and each step is a global function: the verifier checks
 * it once with unknown arguments instead of once per walk position (with
 * the offsets known, every position was a state of its own: ~290k processed
 * instructions, most of the program's load time).  A global function takes
 * only structs of scalars, so the callbacks' contexts carry the pointers.
 */

/* State of the IPv4 option walk. */
struct hush_optwalk {
	__u32 off, olen;
	__u32 err;
	__u8 opt[64]; /* 40 used; indices masked with & 63 */
};

struct hush_optctx {
	struct hush_pkt *p;
	struct hush_optwalk w;
};

/* One IPv4 option: collect the hops of a source route.  Returns 1 to stop. */
__noinline int hush_opt_one(struct hush_optwalk *w, struct hush_pkt *p)
{
	__u32 off, len, n;
	__u8 type;

	if (!w || !p)
		return 1;
	off = w->off;
	if (off >= w->olen || off >= 40)
		return 1;
	type = w->opt[off & 63];
	if (type == HUSH_IPOPT_END)
		return 1;
	if (type == HUSH_IPOPT_NOOP) {
		w->off = off + 1;
		return 0;
	}
	if (off + 1 >= 40) {
		w->err = 1;
		return 1;
	}
	len = w->opt[(off + 1) & 63];
	if (len < 2 || off + len > w->olen) {
		w->err = 1;
		return 1;
	}
	if (type == HUSH_IPOPT_LSRR || type == HUSH_IPOPT_SSRR) {
		n = len >= 3 ? (len - 3) / 4 : 0;
		for (int j = 0; j < 10; j++) {
			__u32 at = off + 3 + 4 * j, k = p->nrouted;

			if ((__u32)j >= n)
				break;
			if (k >= HUSH_MAX_ROUTED) {
				p->overflow = 1;
				break;
			}
			if (at + 4 > 40) {
				w->err = 1;
				return 1;
			}
			hush_barrier_var(k); /* keep the mask: the verifier needs it */
			k &= HUSH_MAX_ROUTED - 1;
			__builtin_memset(p->routed[k], 0, 16);
			p->routed[k][0] = w->opt[(at + 0) & 63];
			p->routed[k][1] = w->opt[(at + 1) & 63];
			p->routed[k][2] = w->opt[(at + 2) & 63];
			p->routed[k][3] = w->opt[(at + 3) & 63];
			p->nrouted = k + 1;
		}
	}
	w->off = off + len;
	return 0;
}

static long hush_opt_step(__u32 i, void *ctx)
{
	struct hush_optctx *c = ctx;

	return hush_opt_one(&c->w, c->p) ? 1 : 0; /* the verifier wants 0 or 1 */
}

/* Parse an IPv4 packet the fast parser declined (options, fragments). */
__noinline int hush_parse4(struct __sk_buff *skb, struct hush_pkt *p)
{
	struct hush_optctx c = {};
	struct iphdr iph;
	__u32 ihl;

	if (!p)
		return -1;
	if (bpf_skb_load_bytes(skb, 0, &iph, sizeof(iph)))
		return -1;
	hush_dest_v4(&p->d, iph.daddr);
	__builtin_memcpy(p->saddr, &iph.saddr, 4);
	p->ipver = 4;
	p->d.proto = iph.protocol;
	p->d.l4 = hush_l4(iph.protocol);
	if (iph.frag_off & bpf_htons(0x1fff))
		p->d.flags |= HUSH_EVF_FRAG;
	ihl = iph.ihl * 4;
	if (ihl < sizeof(iph) || ihl > 60)
		return -1;
	p->plain = ihl == sizeof(iph);
	hush_ports(skb, ihl, p);
	if (p->plain)
		return 0;

	/* IP options: every hop of a loose or strict source route. */
	c.p = p;
	c.w.olen = ihl - sizeof(iph);
	if (c.w.olen == 0 || c.w.olen > 40)
		return -1;
	if (bpf_skb_load_bytes(skb, sizeof(iph), c.w.opt, c.w.olen))
		return -1;
	bpf_loop(40, hush_opt_step, &c, 0);
	return c.w.err ? -1 : 0;
}

/* State of the IPv6 extension-header walk. */
struct hush_extwalk {
	__u32 off;
	__u8 nh;
	__u8 done;
	__u8 err;
	__u8 pad;
};

struct hush_extctx {
	struct __sk_buff *skb;
	struct hush_pkt *p;
	struct hush_extwalk w;
};

/* One extension header; routing-header addresses become hops.  Returns 1
 * to stop. */
__noinline int hush_ext_one(struct __sk_buff *skb, struct hush_extwalk *w, struct hush_pkt *p)
{
	__u8 h[8], nh;
	__u32 n;

	if (!w || !p)
		return 1;
	nh = w->nh;
	if (nh != HUSH_NEXTHDR_HOP && nh != HUSH_NEXTHDR_ROUTING && nh != HUSH_NEXTHDR_FRAG &&
	    nh != HUSH_NEXTHDR_AUTH && nh != HUSH_NEXTHDR_DEST) {
		w->done = 1;
		return 1;
	}
	p->plain = 0;
	if (bpf_skb_load_bytes(skb, w->off, h, sizeof(h))) {
		w->err = 1;
		return 1;
	}
	if (nh == HUSH_NEXTHDR_FRAG) {
		if ((((__u16)h[2] << 8) | h[3]) & 0xfff8)
			p->d.flags |= HUSH_EVF_FRAG;
		w->nh = h[0];
		w->off += 8;
		return 0;
	}
	if (nh == HUSH_NEXTHDR_ROUTING) {
		/* Addresses follow the 8-byte fixed part: hdrlen/2 of them
		 * (types 0, 2), last_entry + 1 for SRH (type 4). */
		n = h[1] / 2;
		if (h[2] == HUSH_SRH_TYPE && (__u32)h[4] + 1 < n)
			n = (__u32)h[4] + 1;
		for (int j = 0; j < HUSH_MAX_ROUTED + 1; j++) {
			__u32 k = p->nrouted;

			if ((__u32)j >= n)
				break;
			if (k >= HUSH_MAX_ROUTED) {
				p->overflow = 1;
				break;
			}
			hush_barrier_var(k); /* keep the mask: the verifier needs it */
			k &= HUSH_MAX_ROUTED - 1;
			if (bpf_skb_load_bytes(skb, w->off + 8 + 16 * j, p->routed[k], 16)) {
				w->err = 1;
				return 1;
			}
			p->nrouted = k + 1;
		}
	}
	w->off += nh == HUSH_NEXTHDR_AUTH ? ((__u32)h[1] + 2) * 4 : ((__u32)h[1] + 1) * 8;
	w->nh = h[0];
	return 0;
}

static long hush_ext_step(__u32 i, void *ctx)
{
	struct hush_extctx *c = ctx;

	return hush_ext_one(c->skb, &c->w, c->p) ? 1 : 0;
}

/* Parse an IPv6 packet the fast parser declined (extension headers). */
__noinline int hush_parse6(struct __sk_buff *skb, struct hush_pkt *p)
{
	struct hush_extctx c = {};
	struct ipv6hdr ip6h;

	if (!p)
		return -1;
	if (bpf_skb_load_bytes(skb, 0, &ip6h, sizeof(ip6h)))
		return -1;
	hush_dest_v6(&p->d, ip6h.daddr.in6_u.u6_addr32);
	__builtin_memcpy(p->saddr, &ip6h.saddr, 16);
	p->ipver = 6;
	p->plain = 1;
	c.skb = skb;
	c.p = p;
	c.w.off = sizeof(ip6h);
	c.w.nh = ip6h.nexthdr;
	bpf_loop(HUSH_MAX_EXTHDR, hush_ext_step, &c, 0);
	if (c.w.err || !c.w.done)
		return -1; /* unparsable, or more headers than we walk: deny */
	p->d.proto = c.w.nh;
	p->d.l4 = hush_l4(c.w.nh);
	hush_ports(skb, c.w.off, p);
	return 0;
}

/* State of a packet's scope walk (bpf_loop callback context). */
struct hush_skbwalk {
	struct __sk_buff *skb;
	struct hush_scopewalk w; /* as hush_scope_cur's */
};

/* One ancestor level (0: the root) per call; stops past the leaf. */
static long hush_skb_scope_step(__u32 lvl, void *ctx)
{
	struct hush_skbwalk *sw = ctx;
	struct hush_scopewalk *w = &sw->w;
	struct hush_scope_val *v;
	__u64 id = bpf_skb_ancestor_cgroup_id(sw->skb, lvl);

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

/* Scope of the packet's socket cgroup: the deepest ancestor with a
 * hush_scopes entry, cached per leaf.  Global, and the walk a bpf_loop (see
 * hush_scope_cur in hush.bpf.h). */
__noinline int hush_scope_skb(struct __sk_buff *skb, __u32 gen, __u64 leaf,
			      struct hush_scope_val *sv)
{
	struct hush_skbwalk w = {.skb = skb, .w.sv = sv};

	if (!sv)
		return -1;
	if (hush_scope_cached(gen, leaf, sv) == 0)
		return 0;
	w.w.scopes = bpf_map_lookup_elem(&hush_scopes, &gen);
	if (!w.w.scopes)
		return -1;
	sv->scope = HUSH_SCOPE_NONE;
	bpf_loop(HUSH_MAX_CGROUP_DEPTH, hush_skb_scope_step, &w, 0);
	if (sv->scope == HUSH_SCOPE_NONE)
		return -1;
	hush_scope_lcg(&w.w);
	hush_scope_remember(gen, leaf, sv);
	return 0;
}

/* State of the routed-hops walk (bpf_loop callback context). */
struct hush_hopwalk {
	struct hush_pkt *p;
	struct hush_ruling *r;
	struct hush_scope_val sv;
	__u32 gen;
};

/* Judge routed hop i while all so far are allowed; a hop that is not allowed
 * becomes the reported destination. */
static long hush_hop_step(__u32 i, void *ctx)
{
	struct hush_hopwalk *w = ctx;
	struct hush_pkt *p = w->p;
	struct hush_ruling *r = w->r;
	struct hush_dest hop;

	if (i >= p->nrouted || r->verdict != HUSH_VERDICT_ALLOW)
		return 1;
	hop = p->d;
	hop.flags = 0;
	__builtin_memcpy(hop.addr, p->routed[i & (HUSH_MAX_ROUTED - 1)], 16);
	if (hop.family == HUSH_AF_INET) {
		__u32 a;

		__builtin_memcpy(&a, hop.addr, 4);
		hush_dest_v4(&hop, a);
	}
	hush_lookup(w->gen, &w->sv, &hop, r);
	if (r->verdict != HUSH_VERDICT_ALLOW) {
		p->d.flags |= HUSH_EVF_ROUTED;
		__builtin_memcpy(p->d.addr, hop.addr, 16);
	}
	return 0;
}

/*
 * The judge's miss path: the packet's scope, then its destination and every
 * routed hop.  Returns 0 with r filled, or -1 when no scope applies (r
 * untouched).  Global, and the hops a bpf_loop: the verifier checks it once,
 * not once per state of the caller and per hop.
 */
__noinline int hush_judge_skb(struct __sk_buff *skb, struct hush_pkt *p, __u32 gen, __u64 leaf,
			      struct hush_ruling *r)
{
	/* The scope value lives in w only: one copy fewer keeps the deepest
	 * call chain (egress -> judge_pkt -> judge_skb -> hop_step -> lookup)
	 * within the verifier's 512-byte combined stack. */
	struct hush_hopwalk w = {.p = p, .r = r, .gen = gen};

	if (!p || !r || hush_scope_skb(skb, gen, leaf, &w.sv))
		return -1;
	r->scope = w.sv.scope;
	r->mode = w.sv.mode;
	hush_lookup(gen, &w.sv, &p->d, r);
	bpf_loop(HUSH_MAX_ROUTED, hush_hop_step, &w, 0);
	return 0;
}

/*
 * Does a listener hold this TCP packet's local port?  Look up the packet's
 * local address and port as an incoming packet from remote port 0 would: no
 * established connection matches that, so only a listener can.
 */
static __always_inline int hush_port_listened(struct __sk_buff *skb, const struct hush_pkt *p)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *l;
	__u32 sz;
	int listen;

	if (p->ipver == 4) {
		__builtin_memcpy(&t.ipv4.saddr, p->d.addr, 4);
		__builtin_memcpy(&t.ipv4.daddr, p->saddr, 4);
		t.ipv4.sport = 0;
		t.ipv4.dport = bpf_htons(p->sport);
		sz = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, p->d.addr, 16);
		__builtin_memcpy(t.ipv6.daddr, p->saddr, 16);
		t.ipv6.sport = 0;
		t.ipv6.dport = bpf_htons(p->sport);
		sz = sizeof(t.ipv6);
	}
	l = bpf_skc_lookup_tcp(skb, &t, sz, BPF_F_CURRENT_NETNS, 0);
	if (!l)
		return 0;
	listen = l->state == BPF_TCP_LISTEN;
	bpf_sk_release(l);
	return listen;
}

/* The scope of the packet's socket says `inbound deny`: replies, SYN-ACKs
 * included, are judged like any packet.  No scope: no. */
__noinline int hush_inbound_denied(struct __sk_buff *skb, __u32 gen)
{
	/* gen from the caller, not hush_cfg again: no key on this frame, so
	 * the deepest chain (egress -> judge_pkt -> is_reply -> here ->
	 * scope_skb -> its bpf_loop step) stays within the verifier's
	 * 512-byte combined stack. */
	struct hush_scope_val sv;

	if (hush_scope_skb(skb, gen, bpf_skb_cgroup_id(skb), &sv))
		return 0;
	return (sv.flags & HUSH_SCOPE_F_INBOUND_DENY) != 0;
}

/*
 * Is this TCP packet a reply on a connection someone else opened?  `how` is
 * the socket's HUSH_SKF_ACCEPTED / HUSH_SKF_CONNECTED marks, `state` its TCP
 * state.  Marked accepted: yes; marked connect()ed: no; unmarked (the
 * connection began before hush attached): yes if past SYN-SENT and a
 * listener holds the local port.  Never in a scope with `inbound deny`.
 */
__noinline int hush_is_reply(struct __sk_buff *skb, const struct hush_pkt *p, __u32 how,
			     __u32 state, __u32 gen)
{
	if (!p || p->d.l4 != HUSH_L4_TCP || (how & HUSH_SKF_CONNECTED))
		return 0;
	if (!(how & HUSH_SKF_ACCEPTED) &&
	    (state == BPF_TCP_SYN_SENT || !hush_port_listened(skb, p)))
		return 0;
	return !hush_inbound_denied(skb, gen);
}

/*
 * A packet from a redirected DNS client to the proxy (see dns_redirect.h): file the
 * client's record under its local port, which is what the proxy sees, and let
 * the packet pass (the redirect already decided).  Returns 1 if it was one.
 */
__noinline int hush_dns_note(struct __sk_buff *skb, const struct hush_pkt *p,
			     const struct hush_cfg *cfg)
{
	struct hush_dns_pkey key = {};
	struct hush_dns_client *c;
	__u64 cookie;
	__u32 a, slot;

	if (!p || !cfg || p->d.l4 == HUSH_L4_OTHER)
		return 0;
	slot = p->d.l4 == HUSH_L4_TCP ? 1 : 0;
	if (p->d.family == HUSH_AF_INET) {
		__builtin_memcpy(&a, p->d.addr, 4);
		if (a != bpf_htonl(0x7f000001))
			return 0;
	} else {
		__u8 lo6[16] = {[15] = 1};

		if (!hush_addr_eq(p->d.addr, lo6))
			return 0;
		slot += 2;
	}
	key.pport = p->d.port;
	key.port = p->sport;
	key.slot = slot;
	cookie = bpf_get_socket_cookie(skb);
	c = bpf_map_lookup_elem(&hush_dnsck, &cookie);
	if (!c || c->pport != p->d.port) {
		/* Not redirected (someone talking to the proxy's port itself):
		 * an ordinary loopback packet, and no earlier client's record
		 * may stand for it. */
		bpf_map_delete_elem(&hush_dnscl, &key);
		return 0;
	}
	bpf_map_update_elem(&hush_dnscl, &key, c, BPF_ANY);
	return 1;
}

/* Some listener set of the DNS proxy has port (see dns_redirect.h). */
static __always_inline int hush_dns_port(__u16 port)
{
	__u32 k = port;
	__u8 *v = bpf_map_lookup_elem(&hush_dnsports, &k);

	return v && *v;
}

/* A loopback destination (127.0.0.0/8, ::1) leaving on another device. */
static __always_inline int hush_loopback_offdev(struct __sk_buff *skb, const struct hush_dest *d)
{
	__u8 lo6[16] = {[15] = 1};

	if (skb->ifindex == HUSH_LOOPBACK_IFINDEX)
		return 0;
	if (d->family == HUSH_AF_INET)
		return d->addr[0] == 127;
	return hush_addr_eq(d->addr, lo6);
}

/*
 * How a TCP socket's connection began, for hush_is_reply: the marks the
 * socket hooks and sockops left, and "connect()ed" for a socket whose peer
 * is a loopback address unless accepted.  The connect hooks leave no mark on
 * such a socket (hush_connect_lo in sock_addr.bpf.c); the peer address is
 * the one connect() named, before any NAT.  Nothing is lost: a packet to
 * loopback on lo is allowed, and one off lo is never a reply.
 */
static __always_inline __u32 hush_sk_how(struct bpf_sock *sk, const struct hush_sk_state *st)
{
	__u32 how = st ? st->flags : 0;
	int lo;

	if (how & HUSH_SKF_ACCEPTED)
		return how;
	if (sk->family == HUSH_AF_INET)
		lo = (bpf_ntohl(sk->dst_ip4) >> 24) == 127;
	else if (sk->dst_ip6[0] == 0 && sk->dst_ip6[1] == 0 &&
		 sk->dst_ip6[2] == bpf_htonl(0x0000ffff))
		lo = (bpf_ntohl(sk->dst_ip6[3]) >> 24) == 127;
	else
		lo = sk->dst_ip6[0] == 0 && sk->dst_ip6[1] == 0 && sk->dst_ip6[2] == 0 &&
		     sk->dst_ip6[3] == bpf_htonl(1);
	return lo ? how | HUSH_SKF_CONNECTED : how;
}

/*
 * Judge a parsed packet (bad: unparsable, so denied), count it and report
 * what was not simply allowed.  Returns 1 to pass, 0 to drop.  Global: the
 * verifier checks it once for every way the packet was parsed.
 */
__noinline int hush_judge_pkt(struct __sk_buff *skb, struct hush_pkt *p, int bad)
{
	struct hush_sk_state *st = NULL;
	struct bpf_sock *sk = NULL;
	struct hush_ruling r = {};
	struct hush_dkey k;
	struct hush_cfg *cfg;
	__u32 zero = 0, gen;
	__u64 seq, leaf, cookie;
	int hit = -1, offdev;
	__u8 ev;

	if (!p)
		return 0;
	cfg = bpf_map_lookup_elem(&hush_cfg, &zero);
	if (!cfg)
		return 0;
	seq = hush_seq(cfg);
	gen = HUSH_GEN(seq);
	leaf = bpf_skb_cgroup_id(skb);
	offdev = !bad && hush_loopback_offdev(skb, &p->d);

	/* A redirected DNS query on its way to the proxy (the port test inline,
	 * an array lookup: every other packet skips the call); never off the
	 * loopback device. */
	if (!bad && !offdev && cfg->dns_port[0] && hush_dns_port(p->d.port) &&
	    hush_dns_note(skb, p, cfg)) {
		hush_count(HUSH_HOOK_EGRESS, HUSH_EV_ALLOW);
		return 1;
	}

	/* 3. Memoized ruling for plain packets, else judge the destination
	 *    and every routed hop.  Loopback off the loopback device: the
	 *    memo (keyed without the device) holds the loopback ruling, so
	 *    judge it afresh, without the implicit allow. */
	cookie = bpf_get_socket_cookie(skb);
	if (!bad && !p->overflow && p->plain && !offdev)
		hit = hush_dcache_get((__u32)seq, leaf, &p->d, &k, &r);
	if (hit < 0) {
		r.verdict = HUSH_VERDICT_DENY;
		r.rule = HUSH_RULE_DEFAULT;
		r.mode = HUSH_MODE_ENFORCE;
		r.scope = HUSH_SCOPE_NONE;
		/* A plain packet has no routed hops: its ruling is the
		 * destination's, and is memoized. */
		if (!bad && !p->overflow && hush_judge_skb(skb, p, gen, leaf, &r) == 0) {
			if (offdev && r.rule == HUSH_RULE_LOOPBACK) {
				r.verdict = HUSH_VERDICT_DENY;
				r.rule = HUSH_RULE_LOOPDEV;
			} else if (p->plain && !offdev) {
				hush_dcache_put(&k, &r);
			}
		}
	}
	r.seq = (__u32)seq;
	ev = hush_ev_of(&r);

	/* 4. Not allowed: a reply, or a packet a socket hook already reported?
	 *    (Allowed and logged: the socket's owner names the process; a
	 *    packet has no process context of its own.) */
	if (ev != HUSH_EV_ALLOW || cfg->log_allowed) {
		sk = skb->sk;
		if (sk)
			sk = bpf_sk_fullsock(sk);
		if (sk)
			st = bpf_sk_storage_get(&hush_sk, sk, 0, 0);
	}
	if (ev != HUSH_EV_ALLOW && !bad && !p->overflow && p->plain) {
		if (sk && sk->protocol == IPPROTO_TCP && !offdev &&
		    hush_is_reply(skb, p, hush_sk_how(sk, st), sk->state, gen)) {
			hush_count(HUSH_HOOK_EGRESS, HUSH_EV_ALLOW);
			return 1;
		}
		if (ev == HUSH_EV_AUDIT && st && (st->flags & HUSH_SKF_JUDGED) &&
		    st->seq == r.seq && st->family == p->d.family && st->dport == p->d.port &&
		    hush_addr_eq(st->daddr, p->d.addr)) {
			hush_count(HUSH_HOOK_EGRESS, HUSH_EV_AUDIT);
			return 1;
		}
	}
	/* hushd's DNS proxy forwarding to the policy resolver. */
	if (ev != HUSH_EV_ALLOW && st && (st->flags & HUSH_SKF_PROXY) &&
	    hush_is_resolver(cfg, &p->d)) {
		hush_count(HUSH_HOOK_EGRESS, HUSH_EV_ALLOW);
		return 1;
	}

	/* 5. Count, and report what was not simply allowed. */
	hush_count(HUSH_HOOK_EGRESS, ev);
	if (ev != HUSH_EV_ALLOW || cfg->log_allowed)
		hush_emit(HUSH_HOOK_EGRESS, ev, &p->d, &r, cookie, leaf, st, 0);
	return ev == HUSH_EV_DENY ? 0 : 1;
}

SEC("cgroup_skb/egress")
int hush_egress(struct __sk_buff *skb)
{
	struct hush_pkt p = {};
	struct bpf_sock *sk;
	int bad;

	/* 1. A listener only sends SYN-ACKs: replies, not egress - unless its
	 *    scope says `inbound deny` (then judged like any packet). */
	sk = skb->sk;
	if (sk) {
		sk = bpf_sk_fullsock(sk);
		if (sk && sk->protocol == IPPROTO_TCP && sk->state == BPF_TCP_LISTEN) {
			__u32 zero = 0;
			struct hush_cfg *cfg = bpf_map_lookup_elem(&hush_cfg, &zero);

			if (!cfg || !hush_inbound_denied(skb, HUSH_GEN(hush_seq(cfg))))
				return 1;
		}
	}

	/* 2. Parse the packet; what cannot be parsed is denied. */
	if (skb->protocol != bpf_htons(HUSH_ETH_P_IP) &&
	    skb->protocol != bpf_htons(HUSH_ETH_P_IPV6))
		return 1; /* not IP: not ours to judge */
	bad = hush_parse_fast(skb, &p);
	if (bad) {
		__builtin_memset(&p, 0, sizeof(p));
		if (skb->protocol == bpf_htons(HUSH_ETH_P_IP))
			bad = hush_parse4(skb, &p);
		else
			bad = hush_parse6(skb, &p);
	}

	/* 3.-5. Judge, count, report. */
	return hush_judge_pkt(skb, &p, bad) ? 1 : 0;
}

/*
 * A raw, ping or other non-TCP/UDP socket in a scope where no rule allows
 * such protocols beyond loopback has no allowed use but loopback: report its
 * creation (audit: it is made, so loopback stays usable; its packets meet
 * the backstop).  `hush test` counts it as an attempt.
 */
__noinline int hush_sock_report(__u32 family, __u32 protocol, __u64 cookie)
{
	struct hush_ruling r = {};
	struct hush_scope_val sv;
	struct hush_dest d = {};
	struct hush_cfg *cfg;
	__u32 zero = 0, gen;
	__u64 leaf;

	cfg = bpf_map_lookup_elem(&hush_cfg, &zero);
	if (!cfg)
		return 0;
	gen = HUSH_GEN(hush_seq(cfg));
	leaf = bpf_get_current_cgroup_id();
	if (hush_scope_cur(gen, leaf, &sv) || (sv.flags & HUSH_SCOPE_F_OTHER))
		return 0;
	d.family = family == HUSH_AF_INET ? HUSH_AF_INET : HUSH_AF_INET6;
	d.proto = (__u8)protocol;
	d.l4 = HUSH_L4_OTHER;
	r.rule = HUSH_RULE_SOCK;
	r.scope = sv.scope;
	r.verdict = HUSH_VERDICT_DENY;
	r.mode = HUSH_MODE_AUDIT;
	hush_count(HUSH_HOOK_SOCK, HUSH_EV_AUDIT);
	hush_emit(HUSH_HOOK_SOCK, HUSH_EV_AUDIT, &d, &r, cookie, leaf, NULL, 1);
	return 0;
}

SEC("cgroup/sock_create")
int hush_sock_create(struct bpf_sock *sk)
{
	struct hush_sk_state *st;
	__u64 pt, ug;

	if (sk->family != HUSH_AF_INET && sk->family != HUSH_AF_INET6)
		return 1;
	/* TCP and UDP are judged in process context by the socket hooks:
	 * spare them the storage (its allocation costs more than a judgement). */
	if (sk->protocol == IPPROTO_TCP || sk->protocol == IPPROTO_UDP)
		return 1;
	hush_sock_report(sk->family, sk->protocol, bpf_get_socket_cookie(sk));
	st = bpf_sk_storage_get(&hush_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return 1;
	pt = bpf_get_current_pid_tgid();
	ug = bpf_get_current_uid_gid();
	st->pid = (__u32)pt;
	st->tgid = pt >> 32;
	st->uid = (__u32)ug;
	st->gid = ug >> 32;
	bpf_get_current_comm(st->comm, sizeof(st->comm));
	st->flags |= HUSH_SKF_OWNER;
	return 1;
}

/*
 * A TCP connection accepted from a peer (passive open) after hush attached:
 * marked, so the backstop takes its packets for replies.  Runs in softirq,
 * not in any process's context, so no owner is recorded.
 */
SEC("sockops")
int hush_sockops(struct bpf_sock_ops *skops)
{
	struct hush_sk_state *st;
	struct bpf_sock *sk;

	if (skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	st = bpf_sk_storage_get(&hush_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (st)
		st->flags |= HUSH_SKF_ACCEPTED;
	return 1;
}
