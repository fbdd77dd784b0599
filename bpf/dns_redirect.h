/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The DNS redirect: what the socket hooks hand hushd's DNS proxy.
 *
 * In an enforced cgroup every UDP or TCP socket that names port 53 (connect,
 * sendmsg) is pointed at the proxy on loopback instead (slot by protocol and
 * family below).  The hook records who asked and which resolver the socket
 * named, by socket cookie (hush_dnsck); the egress program, which sees the
 * client's local port on the first packet to the proxy, files the same record
 * under (slot, port) (hush_dnscl), which is what the proxy can look up for a
 * datagram or connection it receives.  cgroup/recvmsg4/6 and getpeername4/6
 * use the cookie record to show the client the resolver it asked.
 *
 * The proxy's sockets sit in hush_dnssk (a SOCKMAP): a socket leaves the map
 * when it is closed, so a dead proxy is noticed at once and DNS fails closed
 * (EPERM) instead of being sent to whatever binds the port next.
 *
 * Every network namespace has its own loopback, so the proxy keeps a set of
 * listeners in each namespace it serves: hush_dnsns maps the namespace's
 * cookie (bpf_get_netns_cookie) to that set (its ports and its four
 * hush_dnssk entries).  A namespace without an entry, or whose listener is
 * closed, fails closed; the denial's event tells user space to serve it.
 * Set 0 is the proxy's home (where it forwards from; its ports are also in
 * hush_cfg.dns_port).  No two live sets share a port, and hush_dnsports
 * marks every proxy port: the egress program files a client's record under
 * (proxy port, client port), which is unique across namespaces and is
 * what the proxy sees of a datagram or connection.
 *
 * Fixed-width types only: shared by the BPF programs and user space.
 */
#ifndef HUSH_BPF_DNS_H
#define HUSH_BPF_DNS_H

/* Proxy socket slots (hush_dnssk index, hush_cfg.dns_port index). */
#define HUSH_DNS_UDP4  0
#define HUSH_DNS_TCP4  1
#define HUSH_DNS_UDP6  2
#define HUSH_DNS_TCP6  3
#define HUSH_DNS_SLOTS 4

#define HUSH_DNS_PORT 53

#define HUSH_DNS_CLIENTS 65536 /* LRU entries of each client map */

/* Network namespaces served at once (listener sets); hush_dnssk holds
 * HUSH_DNS_SLOTS entries per set. */
#define HUSH_DNS_NS_MAX 256

/* hush_dnsns value (key: __u64 network namespace cookie). */
struct hush_dns_ns {
	__u16 port[HUSH_DNS_SLOTS]; /* per HUSH_DNS_* slot, host order; 0: none */
	__u32 set;		    /* listener set: hush_dnssk[set * HUSH_DNS_SLOTS + slot] */
	__u32 pad;
};

/* Who asked: one redirected client socket. */
struct hush_dns_client {
	__u64 cookie;	 /* client socket */
	__u64 cgroup_id; /* of the client */
	__u64 ts_ns;	 /* bpf_ktime_get_boot_ns() at the redirect */
	__u32 pid, tgid, uid, gid;
	__u32 scope; /* scope the client was judged in */
	__u8 mode;   /* HUSH_MODE_* of that scope */
	__u8 family; /* resolver asked, after unmapping: HUSH_AF_INET / INET6 */
	__u8 proto;  /* IPPROTO_UDP or IPPROTO_TCP */
	__u8 hook;   /* HUSH_HOOK_* that redirected */
	__u16 oport; /* port asked (host order) */
	__u8 flags;  /* HUSH_EVF_* (mapped, ...) */
	__u8 pad;
	__u8 daddr[16]; /* resolver asked, normalized (v4 in daddr[0..3]) */
	__u8 oaddr[16]; /* as the socket wrote it (what recvmsg restores) */
	char comm[16];
	__u16 pport; /* the proxy port the socket was pointed at (host order) */
	__u16 pad2;
	__u64 netns; /* network namespace cookie of the client socket */
	__u64 lcg;   /* its learning cgroup (policy_maps.h, hush_learn) */
};

/* hush_dnscl key: the proxy port (which names the set, so the namespace)
 * and the client's local port, as the proxy sees them. */
struct hush_dns_pkey {
	__u16 pport; /* host order */
	__u16 port;  /* host order */
	__u8 slot;   /* HUSH_DNS_* */
	__u8 pad[3];
};

#endif /* HUSH_BPF_DNS_H */
