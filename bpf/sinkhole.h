/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The sinkhole's catcher (agent/sinkhole.c): what the sk_lookup program in
 * the sinkhole namespace and user space share.
 *
 * hush_sink_socks (SOCKMAP, HUSH_SINK_SLOTS entries) holds the catcher's two
 * listening TCP sockets; the program steers every TCP SYN the sinkhole
 * namespace receives to the one of its family, whatever the destination
 * address and port, except port HUSH_SINK_DNS_PORT, which the ordinary
 * lookup gives to the sinkhole's DNS listener.
 *
 * Fixed-width types only: shared by the BPF program and user space.
 */
#ifndef HUSH_BPF_SINKHOLE_H
#define HUSH_BPF_SINKHOLE_H

#define HUSH_SINK_CATCH4 0 /* AF_INET catcher listener */
#define HUSH_SINK_CATCH6 1 /* AF_INET6 (IPV6_V6ONLY) catcher listener */
#define HUSH_SINK_SLOTS	 2

#define HUSH_SINK_DNS_PORT 53

#endif /* HUSH_BPF_SINKHOLE_H */
