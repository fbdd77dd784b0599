/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Events and counters crossing from every program family to user space.
 * Fixed-width types only; user space asserts the size.
 */
#ifndef HUSH_BPF_EVENTS_H
#define HUSH_BPF_EVENTS_H

/* Hooks (event.hook, counter rows). */
#define HUSH_HOOK_CONNECT4 0
#define HUSH_HOOK_CONNECT6 1
#define HUSH_HOOK_SENDMSG4 2
#define HUSH_HOOK_SENDMSG6 3
#define HUSH_HOOK_EGRESS   4 /* cgroup_skb/egress backstop */
#define HUSH_HOOK_SOCK	   5 /* cgroup/sock_create: a socket with no allowed use */
/* cgroup_attach_task / sched_process_fork (cgmove.bpf.c): a process of the
 * enforced cgroup moved (or was forked) into a cgroup outside it. */
#define HUSH_HOOK_CGMOVE 6
#define HUSH_HOOK_MAX	 7
/* User space only: a query judged by hushd's DNS proxy (no kernel counter,
 * no sequence number; never in the ring buffer). */
#define HUSH_HOOK_DNS 7

/* Event verdicts (event.verdict, counter columns). */
#define HUSH_EV_ALLOW 0
#define HUSH_EV_DENY  1
#define HUSH_EV_AUDIT 2 /* would-deny, let through (audit mode) */
#define HUSH_EV_LOST  3 /* counter only: event the ring buffer could not take */
#define HUSH_EV_MAX   4

/* hush_counters and hush_evseq index: hook * HUSH_EV_MAX + verdict (per-CPU
 * __u64).  hush_counters counts attempts; hush_evseq numbers the events
 * offered to the ring buffer per CPU, so user space finds every event it never
 * received (ring buffer full, or drained by a hushd that died before writing
 * it) as a hole in the sequence. */
#define HUSH_CTR_IDX(hook, ev) ((hook)*HUSH_EV_MAX + (ev))
#define HUSH_CTR_MAX	       (HUSH_HOOK_MAX * HUSH_EV_MAX)

/* event.flags */
#define HUSH_EVF_MAPPED	 0x01 /* IPv4-mapped IPv6 destination judged as IPv4 */
#define HUSH_EVF_ANYADDR 0x02 /* 0.0.0.0 / :: judged as loopback */
#define HUSH_EVF_ROUTED                                                                            \
	0x04		     /* address from an IPv6 routing header or IPv4                        \
			      * source-route option, not the IP destination */
#define HUSH_EVF_FRAG	0x08 /* non-first IP fragment: port unknown */
#define HUSH_EVF_NOPROC 0x10 /* no process context: pid/comm not meaningful */
/* DNS to port 53 denied because no DNS proxy could take it (hushd down, or
 * the socket is in another network namespace). */
#define HUSH_EVF_DNS 0x20

struct hush_event {
	__u64 ts_ns;	 /* bpf_ktime_get_boot_ns() */
	__u64 cookie;	 /* socket cookie (0 if none) */
	__u64 cgroup_id; /* cgroup of the socket (cgroup_move: the destination) */
	__u64 seq;	 /* hush_evseq[hook, verdict] on this CPU, after counting this event */
	__u32 pid;	 /* thread id */
	__u32 tgid;	 /* process id */
	__u32 uid;
	__u32 gid;
	__u32 rule;   /* rule id that decided (HUSH_RULE_*) */
	__u32 scope;  /* scope id the socket was judged in */
	__u32 cpu;    /* CPU whose hush_evseq numbered the event */
	__u16 dport;  /* host byte order */
	__u8 family;  /* 2 = AF_INET, 10 = AF_INET6 (family judged in) */
	__u8 proto;   /* IPPROTO_* (6 tcp, 17 udp, 1 icmp, 58 icmpv6, ...) */
	__u8 hook;    /* HUSH_HOOK_* */
	__u8 verdict; /* HUSH_EV_ALLOW / DENY / AUDIT */
	__u8 flags;   /* HUSH_EVF_* */
	__u8 pad;
	__u8 daddr[16]; /* v4 in the first 4 bytes, network order */
	char comm[16];
};

#endif /* HUSH_BPF_EVENTS_H */
