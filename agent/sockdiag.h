/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Pre-existing inbound TCP connections.  The egress backstop judges every
 * packet, but a connection accepted before hush attached was never seen by
 * sockops, so its replies would look like egress: starting hushd host-wide
 * would cut every open SSH session.  At attach time we list TCP sockets with
 * sock_diag (NETLINK_SOCK_DIAG; libnl-idiag does not expose socket cookies)
 * and report the cookies of connections whose local port has a listener.
 */
#ifndef HUSH_AGENT_SOCKDIAG_H
#define HUSH_AGENT_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>

/* Calls fn(ctx, cookie) for each inbound connection in this network
 * namespace; returns how many, or negative errno. */
int sockdiag_inbound(int (*fn)(void *ctx, uint64_t cookie), void *ctx);

#endif /* HUSH_AGENT_SOCKDIAG_H */
