// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sk_lookup family: the sinkhole's catcher (agent/sinkhole.c).
 *
 * Attached to the sinkhole network namespace only (bpf_link on its netns
 * fd), never to the host's.  Every destination is local in that namespace
 * (a "local 0.0.0.0/0" route for what arrives on its veth), so every TCP SYN
 * from the test namespace ends in a socket lookup here; the program hands it
 * to the catcher's listener of the right family, so one socket accepts
 * connections to any address and any port.  Port 53 is left to the ordinary
 * lookup, where the sinkhole's DNS listener (bound to the wildcard address)
 * takes it.  UDP is not touched: the DNS sockets are bound to the wildcard
 * address and port 53 and find their datagrams the ordinary way.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "bpf/sinkhole.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define HUSH_AF_INET6	 10
#define HUSH_IPPROTO_TCP 6

/* Catcher listeners, by HUSH_SINK_CATCH4 / HUSH_SINK_CATCH6. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, HUSH_SINK_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} hush_sink_socks SEC(".maps");

SEC("sk_lookup")
int hush_sink_steer(struct bpf_sk_lookup *ctx)
{
	struct bpf_sock *sk;
	__u32 slot;

	/* Only TCP, and not DNS: those go to whoever is bound there. */
	if (ctx->protocol != HUSH_IPPROTO_TCP || ctx->local_port == HUSH_SINK_DNS_PORT)
		return SK_PASS;
	/* The catcher of the packet's family. */
	slot = ctx->family == HUSH_AF_INET6 ? HUSH_SINK_CATCH6 : HUSH_SINK_CATCH4;
	sk = bpf_map_lookup_elem(&hush_sink_socks, &slot);
	if (!sk)
		return SK_PASS; /* no catcher (yet): the ordinary lookup resets */
	/* Steer; on failure the ordinary lookup finds nothing: a reset. */
	bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	return SK_PASS;
}
