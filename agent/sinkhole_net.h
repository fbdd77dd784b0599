/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The sinkhole: a sealed network for `hush test --sinkhole`, where the
 * command under test may "reach" anything and reveals what it wanted.
 *
 *   T (test namespace)                     S (sinkhole namespace)
 *   lo up                                  lo up
 *   hush-sink 198.19.0.2/30  <-- veth -->  hush-test 198.19.0.1/30
 *             fd68:7573:6800:1::2/64                 fd68:7573:6800:1::1/64
 *   default via 198.19.0.1                 rule "iif hush-test lookup 100"
 *   default via fd68:7573:6800:1::1        table 100: local 0.0.0.0/0, local ::/0
 *
 * Both namespaces are anonymous (never in /run/netns): they live as long as
 * the sinkhole holds their fds (and, for T, as long as a process is in it)
 * and vanish with sinkhole_stop().  The veth is created in S with its peer
 * put straight into T: neither end is ever in the caller's namespace.  S has
 * no other interface and no route anywhere but T; nothing forwards.  Nothing
 * can leave the machine.
 *
 * Every address is local in S for what arrives from T, so whatever T sends
 * ends in S's sockets:
 *   - DNS, UDP and TCP port 53 to any address (S's own, the host's resolver
 *     from /etc/resolv.conf, any other...): answered by S.  A and AAAA of every
 *     name get an address of the sinkhole pool, 198.19.128.0/17 and
 *     fd68:7573:6800:80::/64, distinct per name (the same index in both, so
 *     sinkhole_name_of() maps either back), TTL 60; ANY gets both; other
 *     types NOERROR with no answer; malformed queries FORMERR (NOTIMP,
 *     BADVERS as agent/dns.h says); responses are never answered.  The
 *     reply comes from the address the query was sent to.  Past the pool's
 *     32766 names: SERVFAIL.
 *   - TCP to any address and any other port: a BPF sk_lookup program
 *     (bpf/sinkhole.bpf.c) steers every SYN to one listening socket per
 *     family, the catcher.  It reads what the client sends first (up to
 *     SINKHOLE_FIRST_MAX bytes or SINKHOLE_FIRST_MS), records a TLS
 *     ClientHello's server_name or an HTTP/1.x request line and Host, then
 *     answers "HTTP/1.1 503 Service Unavailable" to HTTP, a TLS
 *     handshake_failure alert to TLS, and closes.
 *   - Anything else (UDP to other ports, ICMP) is answered by S's kernel
 *     as a host would: port unreachable, echo reply.
 *
 * Two threads per sinkhole serve it (DNS; catcher), with all signals
 * blocked; their sockets are created inside S.  Several sinkholes can run in
 * one process and in parallel processes: their namespaces are private, so
 * the fixed addresses above never clash.
 *
 * Requires CAP_SYS_ADMIN (namespaces), CAP_NET_ADMIN (links, IP_TRANSPARENT)
 * and CAP_BPF (sk_lookup), i.e. root, and Linux >= 5.9 (sk_lookup links).
 *
 * Safety for whoever runs a command in T: the namespace seals the network
 * only.  A host daemon reachable over a Unix socket (nscd, systemd-resolved
 * through nss-resolve) would resolve names for the command on the host's
 * network: give the command its own mount namespace with resolv.conf
 * naming the sinkhole and nsswitch "hosts: files dns", and hide those
 * sockets (tests/tools/sinkcheck.c --resolv does).
 */
#ifndef HUSH_AGENT_SINKHOLE_H
#define HUSH_AGENT_SINKHOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/sniff.h" /* SINKHOLE_FIRST_MAX, the parsers */

#define SINKHOLE_FIRST_MS 2000	/* time a TCP connection is given to speak */
#define SINKHOLE_MAX_RECS 16384 /* records kept; more are counted as lost */

struct sinkhole;

/*
 * One thing the sinkhole saw.  Strings are NUL-terminated printable ASCII:
 * any other byte the client sent, and '\\', is written as "\xHH" (qname
 * uses agent/dns.h's "\DDD" escapes), and a value too long for its field is
 * cut (never in the middle of an escape).  Events identical in every field
 * from kind to path are coalesced into one record: count, ts_ns (first),
 * last_ns (last).  At most SINKHOLE_MAX_RECS distinct records are kept;
 * events past that are counted by sinkhole_lost().
 */
struct sinkhole_rec {
	int64_t ts_ns;	   /* CLOCK_REALTIME */
	char kind[8];	   /* "dns" or "tcp" */
	char proto[8];	   /* dns: "udp" or "tcp"; tcp: what the client spoke: "tls",
			    * "http", "other", or "none" (nothing before close/timeout) */
	int family;	   /* AF_INET / AF_INET6 */
	uint8_t daddr[16]; /* tcp: address the client connected to; dns: address the
			    * query was sent to (v4 in daddr[0..3], rest zero) */
	uint16_t dport;	   /* host order */
	char qname[256];   /* dns: name asked (agent/dns.h presentation form, lower
			    * case); tcp: the name the sinkhole handed daddr out for,
			    * "" if none */
	char qtype[16];	   /* dns: "A", "AAAA", ..., "TYPE<n>"; "" if unparsable */
	char rcode[12];	   /* dns: "NOERROR", "FORMERR", "SERVFAIL", "NOTIMP", "BADVERS" */
	char sni[256];	   /* tcp: TLS ClientHello server_name, "" if none */
	char host[256];	   /* tcp: HTTP Host header, "" if none */
	char method[16];   /* tcp: HTTP request line, "" if none */
	char path[512];
	uint32_t first_bytes; /* tcp: bytes read before deciding (of the first) */
	uint32_t count;	      /* identical events this record stands for (>= 1) */
	int64_t last_ns;      /* CLOCK_REALTIME of the last of them */
};

/*
 * Create T and S and start serving (see above).  Returns 0 with *out set,
 * or a negative errno with err[0..errlen) saying what failed and what to do
 * (nothing is left behind on failure).
 */
int sinkhole_start(struct sinkhole **out, char *err, size_t errlen);

/* T: setns(fd, CLONE_NEWNET) to enter it.  Owned by the sinkhole. */
int sinkhole_netns_fd(const struct sinkhole *s);

/*
 * S's DNS address as T reaches it: AF_INET, 198.19.0.1 (S answers on port
 * 53 of any address, so this is only the natural one to name).
 */
void sinkhole_resolver(const struct sinkhole *s, int *family, uint8_t addr[16]);

/* Whether T and S have IPv6 (not when the kernel has it disabled). */
bool sinkhole_has_ipv6(const struct sinkhole *s);

/*
 * Wait until everything T has sent so far has been handled: no catcher
 * connection still being read, nothing queued on S's sockets, for two
 * checks in a row 10 ms apart.  Call after the command in T exited, before
 * sinkhole_records().  Every catcher connection is decided within
 * SINKHOLE_FIRST_MS of its accept, even if the client stays connected, so a
 * timeout_ms a little above that always suffices.  Returns 0, or
 * -ETIMEDOUT.  (Connections still open at sinkhole_stop() are decided then,
 * too late to be read: settle first.)
 */
int sinkhole_settle(struct sinkhole *s, int timeout_ms);

/*
 * A malloc'd copy of every record so far, in the order they were made;
 * returns their number (*out NULL when 0, or on ENOMEM with 0 returned).
 * The caller frees *out.
 */
size_t sinkhole_records(struct sinkhole *s, struct sinkhole_rec **out);

/* Events not recorded: past SINKHOLE_MAX_RECS distinct records, or out of memory. */
uint64_t sinkhole_lost(struct sinkhole *s);

/*
 * Pool address -> the name it was handed out for.  Returns 0 with name
 * set, -ENOENT when addr is not a pool address handed out so far, -ENOSPC
 * when len is too small.
 */
int sinkhole_name_of(struct sinkhole *s, int family, const uint8_t addr[16], char *name,
		     size_t len);

/* Stop the threads, close everything: both namespaces vanish (T once no
 * process is left in it).  NULL is ignored. */
void sinkhole_stop(struct sinkhole *s);

/* The catcher's parsers (TLS SNI, HTTP request) are in sniff.h. */

#endif /* HUSH_AGENT_SINKHOLE_H */
