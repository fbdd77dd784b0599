// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * dnsq: one DNS query, the way the integration tests need to see it.
 *
 *   dnsq [--tcp | --connect] [--timeout-ms N] [--raw HEX] SERVER[:PORT] NAME [TYPE]
 *
 * UDP by default with sendto()/recvfrom() (unconnected, like dig and musl);
 * --connect uses connect()/send()/recvfrom() like glibc's resolver, and
 * reports getpeername(); --tcp uses TCP framing.  SERVER is an IPv4 or IPv6
 * address ([v6]:port with a port).  --raw sends HEX bytes instead of a built
 * query (malformed-query tests).
 *
 * Prints one JSON object: {"ok":..,"errno":..,"rcode":N,"answers":[...],
 * "from":"addr:port","peer":"addr:port","us":N}.  "from" is the source the
 * kernel reported for the reply (cgroup/recvmsg rewrites it), "us" the time
 * from send to answer (or to the error).  Exit 0 when an answer came.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/dns.h"
#include "agent/util.h"

static int parse_server(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *port = NULL;
	int p = 53;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *e = strchr(s, ']');

		if (!e || (size_t)(e - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, (size_t)(e - s - 1));
		host[e - s - 1] = 0;
		if (e[1] == ':')
			port = e + 2;
	} else {
		const char *c = strchr(s, ':');

		if (c && strchr(c + 1, ':'))
			c = NULL; /* bare v6 */
		snprintf(host, sizeof(host), "%.*s", c ? (int)(c - s) : (int)strlen(s), s);
		if (c)
			port = c + 1;
	}
	if (port)
		p = atoi(port);
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)p);
		*len = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)p);
		*len = sizeof(struct sockaddr_in6);
		return 0;
	}
	return -1;
}

static void fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(((const struct sockaddr_in *)ss)->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a,
			 ntohs(((const struct sockaddr_in6 *)ss)->sin6_port));
	} else {
		snprintf(buf, len, "-");
	}
}

static uint16_t qtype_of(const char *t)
{
	static const struct {
		const char *n;
		uint16_t v;
	} m[] = {{"A", 1},   {"NS", 2},	  {"CNAME", 5}, {"SOA", 6},  {"PTR", 12},
		 {"MX", 15}, {"TXT", 16}, {"AAAA", 28}, {"SRV", 33}, {"HTTPS", 65}};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (strcasecmp(t, m[i].n) == 0)
			return m[i].v;
	return (uint16_t)atoi(t);
}

/* A query: header, one question (name in dotted form, no escapes). */
static size_t build(uint8_t *b, const char *name, uint16_t qtype)
{
	size_t o = 12;
	uint16_t id;
	const char *p = name;

	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)mono_us();
	memset(b, 0, 12);
	b[0] = (uint8_t)(id >> 8);
	b[1] = (uint8_t)id;
	b[2] = 0x01; /* RD */
	b[5] = 1;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (l == 0 || l > 63 || o + l + 1 > 300)
			break;
		b[o++] = (uint8_t)l;
		memcpy(b + o, p, l);
		o += l;
		p += l + (dot ? 1 : 0);
	}
	b[o++] = 0;
	b[o++] = (uint8_t)(qtype >> 8);
	b[o++] = (uint8_t)qtype;
	b[o++] = 0;
	b[o++] = 1;
	return o;
}

int main(int argc, char **argv)
{
	static uint8_t q[70000], r[70000];
	static struct dns_response resp;
	int tcp = 0, conn = 0, timeout = 3000, fd, ai = 1, err = 0;
	const char *raw = NULL;
	struct sockaddr_storage srv, from = {0}, peer = {0};
	socklen_t slen, flen = sizeof(from), plen = sizeof(peer);
	char fs[80] = "-", ps[80] = "-";
	size_t qlen, rlen = 0;
	long long t0, us;
	ssize_t n = -1;

	for (; ai < argc && argv[ai][0] == '-' && argv[ai][1] == '-'; ai++) {
		if (!strcmp(argv[ai], "--tcp"))
			tcp = 1;
		else if (!strcmp(argv[ai], "--connect"))
			conn = 1;
		else if (!strcmp(argv[ai], "--timeout-ms") && ai + 1 < argc)
			timeout = atoi(argv[++ai]);
		else if (!strcmp(argv[ai], "--raw") && ai + 1 < argc)
			raw = argv[++ai];
		else
			break;
	}
	if (argc - ai < 2 || parse_server(argv[ai], &srv, &slen)) {
		fprintf(stderr, "usage: dnsq [--tcp|--connect] [--timeout-ms N] [--raw HEX] "
				"SERVER[:PORT] NAME [TYPE]\n");
		return 2;
	}
	if (raw) {
		qlen = 0;
		for (const char *h = raw; h[0] && h[1] && qlen < sizeof(q); h += 2) {
			unsigned v;

			if (sscanf(h, "%2x", &v) != 1)
				return 2;
			q[qlen++] = (uint8_t)v;
		}
	} else {
		qlen = build(q, argv[ai + 1], ai + 2 < argc ? qtype_of(argv[ai + 2]) : 1);
	}
	fd = socket(srv.ss_family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0) {
		printf("{\"ok\":false,\"errno\":%d,\"error\":\"socket\"}\n", errno);
		return 1;
	}
	{
		struct timeval tv = {timeout / 1000, (timeout % 1000) * 1000};

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	t0 = mono_us();
	if (tcp || conn) {
		if (connect(fd, (struct sockaddr *)&srv, slen)) {
			err = errno;
			goto out;
		}
		if (!getpeername(fd, (struct sockaddr *)&peer, &plen))
			fmt_addr(&peer, ps, sizeof(ps));
	}
	if (tcp) {
		uint8_t hdr[2] = {(uint8_t)(qlen >> 8), (uint8_t)qlen};
		size_t got = 0, want = 2;

		if (send(fd, hdr, 2, MSG_NOSIGNAL) != 2 || send(fd, q, qlen, MSG_NOSIGNAL) < 0) {
			err = errno;
			goto out;
		}
		while (got < want) {
			n = recv(fd, r + got, want - got, 0);
			if (n <= 0) {
				err = n < 0 ? errno : ECONNRESET;
				goto out;
			}
			got += (size_t)n;
			if (got == 2 && want == 2)
				want = 2 + ((size_t)r[0] << 8 | r[1]);
		}
		memmove(r, r + 2, got - 2);
		rlen = got - 2;
		memcpy(&from, &peer, sizeof(peer));
	} else {
		if (conn)
			n = send(fd, q, qlen, 0);
		else
			n = sendto(fd, q, qlen, 0, (struct sockaddr *)&srv, slen);
		if (n < 0) {
			err = errno;
			goto out;
		}
		n = recvfrom(fd, r, sizeof(r), 0, (struct sockaddr *)&from, &flen);
		if (n < 0) {
			err = errno;
			goto out;
		}
		rlen = (size_t)n;
	}
out:
	us = mono_us() - t0;
	fmt_addr(&from, fs, sizeof(fs));
	if (err) {
		printf("{\"ok\":false,\"errno\":%d,\"error\":\"%s\",\"peer\":\"%s\",\"us\":%lld}\n",
		       err, strerror(err), ps, us);
		return 1;
	}
	if (dns_parse_response(r, rlen, &resp)) {
		printf("{\"ok\":false,\"errno\":0,\"error\":\"unparsable answer\",\"rlen\":%zu,"
		       "\"rcode\":%d,\"from\":\"%s\",\"peer\":\"%s\",\"us\":%lld}\n",
		       rlen, rlen >= 4 ? r[3] & 0xf : -1, fs, ps, us);
		return rlen >= 4 ? 0 : 1;
	}
	printf("{\"ok\":true,\"errno\":0,\"rcode\":%d,\"id_ok\":%s,\"answers\":[", resp.rcode,
	       resp.id == (uint16_t)(q[0] << 8 | q[1]) ? "true" : "false");
	for (size_t i = 0; i < resp.naddrs; i++) {
		char a[INET6_ADDRSTRLEN];

		inet_ntop(resp.addrs[i].family, resp.addrs[i].addr, a, sizeof(a));
		printf("%s\"%s\"", i ? "," : "", a);
	}
	printf("],\"ttl\":%u,\"chain\":%zu,\"from\":\"%s\",\"peer\":\"%s\",\"us\":%lld}\n",
	       resp.naddrs ? resp.addrs[0].ttl : 0, resp.nchain, fs, ps, us);
	return 0;
}
