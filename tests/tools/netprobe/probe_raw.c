// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* netprobe: ICMP (raw and ping sockets) and source-routed attempts (IPv4 LSRR, IPv6 routing
 * header). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "agent/json.h"
#include "agent/util.h"
#include "tests/tools/netprobe/netprobe.h"

uint16_t inet_csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/*
 * ping (SOCK_RAW) / pingdgram (SOCK_DGRAM ping socket, needs
 * net.ipv4.ping_group_range to cover our gid): one echo request, wait for
 * the matching reply.  Raw sockets see every ICMP packet, so replies are
 * matched by source, id and sequence.
 */
int do_ping(const char *op, bool raw, const char *addr, const struct opts *o)
{
	struct result r = {.op = op, .daddr = addr, .dport = -1, .sent = 0, .reply_len = -1};
	struct sockaddr_storage ss;
	unsigned char pkt[64], buf[2048];
	uint16_t id = (uint16_t)getpid(), seq = 1;
	long long t0, deadline;
	socklen_t len;
	int fd, proto;
	bool v6;

	if (parse_addr(addr, 0, 0, &ss, &len))
		return EXIT_USAGE;
	v6 = ss.ss_family == AF_INET6;
	r.family = r.sockfamily = ss.ss_family;
	proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	fd = socket(ss.ss_family, (raw ? SOCK_RAW : SOCK_DGRAM) | SOCK_CLOEXEC, proto);
	if (fd < 0) {
		r.err = errno;
		r.stage = "socket";
		return report(&r);
	}

	/* Echo request: type, code, checksum, id, seq, payload. */
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
	memcpy(pkt + 4, &(uint16_t){htons(id)}, 2);
	memcpy(pkt + 6, &(uint16_t){htons(seq)}, 2);
	memcpy(pkt + 8, "netprobe-ping", 13);
	if (!v6) { /* the kernel computes ICMPv6 (and ping socket) checksums */
		uint16_t c = inet_csum(pkt, sizeof(pkt));

		memcpy(pkt + 2, &c, 2);
	}

	t0 = mono_us();
	deadline = t0 + (long long)o->timeout_ms * 1000;
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&ss, len) < 0) {
		r.err = errno;
		r.stage = "send";
		goto out;
	}
	r.sent = 1;
	for (;;) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		const unsigned char *icmp = buf;
		uint16_t rid, rseq;
		ssize_t n;
		int rc;

		rc = wait_fd(fd, POLLIN, deadline);
		if (rc) {
			r.err = -rc;
			r.stage = "recv";
			break;
		}
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r.err = errno;
			r.stage = "recv";
			break;
		}
		if (raw && !v6) { /* IPv4 raw sockets deliver the IP header */
			size_t ihl = (size_t)(buf[0] & 0x0f) * 4;

			if ((size_t)n < ihl + 8)
				continue;
			icmp += ihl;
			n -= (ssize_t)ihl;
		}
		if (n < 8 || icmp[0] != (v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY))
			continue;
		if (v6 ? memcmp(&((struct sockaddr_in6 *)&from)->sin6_addr,
				&((struct sockaddr_in6 *)&ss)->sin6_addr, 16)
		       : memcmp(&((struct sockaddr_in *)&from)->sin_addr,
				&((struct sockaddr_in *)&ss)->sin_addr, 4))
			continue;
		memcpy(&rid, icmp + 4, 2);
		memcpy(&rseq, icmp + 6, 2);
		/* Ping sockets rewrite the id: match the sequence only. */
		if ((raw && ntohs(rid) != id) || ntohs(rseq) != seq)
			continue;
		r.reply_len = n;
		break;
	}
out:
	r.elapsed_us = mono_us() - t0;
	close(fd);
	return report(&r);
}

/*
 * srcroute: UDP with an IPv4 loose source route (LSRR) whose first hop is
 * --via.  The socket names ADDR (what the sendmsg hook sees); the IP
 * destination on the wire is HOP.  For setsockopt the route lists the hops
 * and a last slot the kernel fills with the final destination.
 */
int do_srcroute(const char *addr, int port, const struct opts *o)
{
	struct result r = {.op = "srcroute",
			   .family = AF_INET,
			   .sockfamily = AF_INET,
			   .daddr = addr,
			   .dport = port,
			   .via = o->via,
			   .sent = 0,
			   .reply_len = -1};
	struct sockaddr_storage ss, hop;
	unsigned char opt[12];
	socklen_t len, hlen;
	int fd;

	if (!o->via) {
		fprintf(stderr, "%s: srcroute needs --via HOP\n", prog);
		return EXIT_USAGE;
	}
	if (parse_addr(addr, port, AF_INET, &ss, &len) ||
	    parse_addr(o->via, 0, AF_INET, &hop, &hlen))
		return EXIT_USAGE;
	opt[0] = IPOPT_NOP;
	opt[1] = IPOPT_LSRR;
	opt[2] = 11; /* type, len, ptr + two addresses */
	opt[3] = 4;  /* pointer to the first address */
	memcpy(opt + 4, &((struct sockaddr_in *)&hop)->sin_addr, 4);
	memcpy(opt + 8, &((struct sockaddr_in *)&ss)->sin_addr, 4);

	fd = udp_socket(AF_INET, &r);
	if (fd < 0)
		return report(&r);
	if (setsockopt(fd, IPPROTO_IP, IP_OPTIONS, opt, sizeof(opt)) < 0) {
		r.err = errno;
		r.stage = "setsockopt";
		close(fd);
		return report(&r);
	}
	return send_once(fd, &ss, len, o, &r);
}

/* Segment routing header (RFC 8754) with room for two segments. */
struct srh2 {
	uint8_t nexthdr;
	uint8_t hdrlen; /* 8-octet units, not counting the first 8 */
	uint8_t type;	/* 4 */
	uint8_t segments_left;
	uint8_t first_segment; /* index of the last entry = first hop */
	uint8_t flags;
	uint16_t tag;
	uint8_t segments[2][16];
};

/*
 * rthdr6: UDP over IPv6 with a type-4 segment routing header set as a sticky
 * option (setsockopt IPV6_RTHDR; seg6_validate_srh() checks it).  Segment
 * list is in reverse order: segments[1] = HOP is the first hop and becomes
 * the IP destination (segments_left = 1); the kernel writes the final
 * destination (the socket's ADDR) into segments[0] when it pushes the
 * header.
 */
int do_rthdr6(const char *addr, int port, const struct opts *o)
{
	struct result r = {.op = "rthdr6",
			   .family = AF_INET6,
			   .sockfamily = AF_INET6,
			   .daddr = addr,
			   .dport = port,
			   .via = o->via,
			   .sent = 0,
			   .reply_len = -1};
	struct sockaddr_storage ss, hop;
	struct srh2 srh;
	socklen_t len, hlen;
	int fd;

	_Static_assert(sizeof(struct srh2) == 40, "SRH layout");
	if (!o->via) {
		fprintf(stderr, "%s: rthdr6 needs --via HOP\n", prog);
		return EXIT_USAGE;
	}
	if (parse_addr(addr, port, 0, &ss, &len) || parse_addr(o->via, 0, 0, &hop, &hlen))
		return EXIT_USAGE;
	if (ss.ss_family != AF_INET6 || hop.ss_family != AF_INET6) {
		fprintf(stderr, "%s: rthdr6 needs IPv6 addresses\n", prog);
		return EXIT_USAGE;
	}
	memset(&srh, 0, sizeof(srh));
	srh.hdrlen = (sizeof(srh) >> 3) - 1;
	srh.type = 4;
	srh.segments_left = 1;
	srh.first_segment = 1;
	memcpy(srh.segments[0], &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	memcpy(srh.segments[1], &((struct sockaddr_in6 *)&hop)->sin6_addr, 16);

	fd = udp_socket(AF_INET6, &r);
	if (fd < 0)
		return report(&r);
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_RTHDR, &srh, sizeof(srh)) < 0) {
		r.err = errno;
		r.stage = "setsockopt";
		close(fd);
		return report(&r);
	}
	return send_once(fd, &ss, len, o, &r);
}
