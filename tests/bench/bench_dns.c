// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench_dns: a UDP DNS load generator and latency meter for the DNS proxy
 * benchmark (tests/bench/dns.sh, run by `make bench`, BENCH=dns).
 *
 *   bench_dns --server ADDR[:PORT] (--names FILE | --name-pattern PAT)
 *             [--name-count K] [--count N] [--warmup N] [--window W]
 *             [--sockets S] [--qtype A|AAAA|NUM] [--edns] [--timeout-ms T]
 *             [--expect-rcode NAME|NUM|any] [--expect-addr ADDR]
 *             [--unconnected] [--json]
 *
 * ADDR is IPv4 or IPv6 ("[fd00:1::2]:53" with a port); the port defaults
 * to 53.  Query i asks for name i mod K: line i mod K of FILE (K: its
 * lines), or PAT with its "%u", if any, replaced by i mod K (K from
 * --name-count, default 1000).  Each query is a real one: a random 16-bit
 * id (unique among the socket's queries in flight), RD set, one question of
 * class IN, with --edns an OPT record (EDNS0, UDP payload 1232, no
 * options).
 *
 * W queries are kept in flight (window 1: one at a time, the latency mode;
 * a large window: the throughput mode), spread round robin over S UDP
 * sockets, non-blocking, sent with sendmmsg() and read with recvmmsg() after
 * poll().  The sockets are connected to the server (as glibc's stub resolver
 * does) unless --unconnected (sendto()/recvfrom(), and a reply must come
 * from the server's address).  A reply belongs to a query when it arrives on
 * the query's socket with the query's id, QR set, opcode QUERY, one
 * question, and the same question (name compared without regard to ASCII
 * case, type and class exactly); anything else is counted as a mismatch and
 * the query keeps waiting.  A query's latency is CLOCK_MONOTONIC from just
 * before its sendmmsg() to just after the recvmmsg() that read its reply.
 * A query with no reply after T ms (default 1000, at most 4000) is a
 * timeout; there are no retransmissions.
 *
 * An answered query fails when its RCODE is not the expected one (default
 * NOERROR; "any" accepts every RCODE), when TC is set, or, when NOERROR is
 * expected, when it has no answer record of the query's type (with
 * --expect-addr: none whose address is ADDR).
 *
 * --warmup N runs N queries the same way first and forgets them.
 *
 * Output: a summary on stdout (--json: one JSON line with "queries",
 * "answered", "timeouts", "mismatches", "failed", "send_errors",
 * "rcodes" {NAME: n}, "elapsed_us", "qps" (answered queries per second from
 * the first send to the last reply or timeout), "lat_us" {min, p50, p90,
 * p99, p999, max, mean} over answered queries, nearest-rank percentiles).
 *
 * Exit: 0 every query answered as expected; 1 a query timed out or failed, a
 * mismatch or a send or socket error occurred; 2 usage or set-up error.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/util.h"

#define MAX_SOCKETS  64
#define MAX_WINDOW   16384
#define MAX_COUNT    50000000L
#define BATCH	     64
#define QBUF	     320 /* header 12 + name 255 + 4 + OPT 11, rounded up */
#define RBUF	     4096
#define NAME_MAX_LEN 253
#define EDNS_SIZE    1232

#define F_QR	0x8000
#define F_TC	0x0200
#define F_RD	0x0100
#define T_OPT	41
#define C_IN	1
#define RC_NONE (-1)

static const char *const rcode_names[16] = {
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE",  "RCODE11",  "RCODE12", "RCODE13", "RCODE14",  "RCODE15",
};

struct opts {
	struct sockaddr_storage server;
	socklen_t server_len;
	const char *server_str;
	const char *names_file;
	const char *pattern;
	long name_count;
	long count;
	long warmup;
	long window;
	long sockets;
	uint16_t qtype;
	bool edns;
	long timeout_ms;
	int expect_rcode; /* RC_NONE: any */
	bool have_addr;
	uint8_t addr[16];
	size_t addr_len;
	bool unconnected;
	bool json;
};

/* One query in flight; slots are linked in send order (oldest first). */
struct slot {
	int64_t t_send;
	int32_t prev, next;
	uint16_t id;
	uint16_t sock;
	uint16_t qlen;
	uint16_t qsec; /* bytes of the question section (name + type + class) */
	uint8_t q[QBUF];
};

struct stats {
	long sent, answered, timeouts, mismatches, failed, send_errors, sock_errors;
	long truncated, bad_rcode, bad_answer;
	long rcodes[16];
	uint32_t *lat; /* ns per answered query */
	long nlat;
	int64_t t_first, t_last;
};

struct run {
	const struct opts *o;
	int fds[MAX_SOCKETS];
	struct slot *slots;
	int32_t *free_stack;
	long nfree;
	int32_t head, tail; /* in-flight list */
	long inflight;
	int32_t *idmap; /* [sock][id] -> slot + 1, 0: free */
	char **names;	/* --names: the lines of FILE */
	long nnames;
	uint64_t rng;
	long next_name;
	int next_sock;
	struct stats st;
};

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64* */
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_dns --server ADDR[:PORT] (--names FILE | --name-pattern PAT)\n"
		"                 [--name-count K] [--count N] [--warmup N] [--window W]\n"
		"                 [--sockets S] [--qtype A|AAAA|NUM] [--edns] [--timeout-ms T]\n"
		"                 [--expect-rcode NAME|NUM|any] [--expect-addr ADDR]\n"
		"                 [--unconnected] [--json]\n");
}

static int parse_long(const char *s, long lo, long hi, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return errno || !*s || *end || *v < lo || *v > hi ? -1 : 0;
}

/* "1.2.3.4", "1.2.3.4:53", "fd00::1", "[fd00::1]:53". */
static int parse_server(const char *s, struct opts *o)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL;
	long p = 53;
	size_t n;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&o->server;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&o->server;

	if (s[0] == '[') {
		const char *e = strchr(s, ']');

		if (!e || (size_t)(e - s - 1) >= sizeof(host))
			return -1;
		n = (size_t)(e - s - 1);
		memcpy(host, s + 1, n);
		host[n] = 0;
		if (e[1] == ':')
			port = e + 2;
		else if (e[1])
			return -1;
	} else {
		const char *c = strchr(s, ':');

		if (c && strchr(c + 1, ':'))
			c = NULL; /* a bare IPv6 address */
		n = c ? (size_t)(c - s) : strlen(s);
		if (n >= sizeof(host))
			return -1;
		memcpy(host, s, n);
		host[n] = 0;
		if (c)
			port = c + 1;
	}
	if (port && parse_long(port, 1, 65535, &p))
		return -1;
	memset(&o->server, 0, sizeof(o->server));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		o->server_len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		o->server_len = sizeof(*s6);
	} else {
		return -1;
	}
	return 0;
}

static int parse_rcode(const char *s, int *rc)
{
	long v;
	int i;

	if (!strcasecmp(s, "any")) {
		*rc = RC_NONE;
		return 0;
	}
	for (i = 0; i < 16; i++) {
		if (!strcasecmp(s, rcode_names[i])) {
			*rc = i;
			return 0;
		}
	}
	if (parse_long(s, 0, 15, &v))
		return -1;
	*rc = (int)v;
	return 0;
}

/* Presentation name -> wire form; returns the wire length or -1. */
static int encode_name(const char *name, uint8_t *out, size_t cap)
{
	size_t o = 0;
	const char *p = name;

	if (!*name || !strcmp(name, ".")) {
		if (cap < 1)
			return -1;
		out[0] = 0;
		return 1;
	}
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		if (len == 0 || len > 63 || o + 1 + len + 1 > cap || o + 1 + len + 1 > 255)
			return -1;
		out[o++] = (uint8_t)len;
		memcpy(out + o, p, len);
		o += len;
		p += len;
		if (*p == '.') {
			p++;
			if (!*p)
				break; /* trailing dot */
		}
	}
	out[o++] = 0;
	return (int)o;
}

/* The name of query i: line i mod K of FILE or PAT with "%u" = i mod K. */
static int name_of(struct run *r, long i, char *buf, size_t cap)
{
	const struct opts *o = r->o;
	const char *pc;
	int n;

	if (r->names) {
		n = snprintf(buf, cap, "%s", r->names[i % r->nnames]);
		return n < 0 || (size_t)n >= cap ? -1 : 0;
	}
	pc = strstr(o->pattern, "%u");
	if (!pc) {
		n = snprintf(buf, cap, "%s", o->pattern);
		return n < 0 || (size_t)n >= cap ? -1 : 0;
	}
	n = snprintf(buf, cap, "%.*s%lu%s", (int)(pc - o->pattern), o->pattern,
		     (unsigned long)(i % o->name_count), pc + 2);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Build query i into slot s (id already chosen); -1 if the name is bad. */
static int build_query(struct run *r, long i, struct slot *s)
{
	char name[NAME_MAX_LEN + 8];
	uint8_t *q = s->q;
	int nl;
	size_t o = 12;

	if (name_of(r, i, name, sizeof(name)))
		return -1;
	memset(q, 0, 12);
	put16(q, s->id);
	put16(q + 2, F_RD);
	put16(q + 4, 1);
	put16(q + 10, r->o->edns ? 1 : 0);
	nl = encode_name(name, q + o, QBUF - o - 4 - 11);
	if (nl < 0)
		return -1;
	o += (size_t)nl;
	put16(q + o, r->o->qtype);
	put16(q + o + 2, C_IN);
	o += 4;
	s->qsec = (uint16_t)(o - 12);
	if (r->o->edns) {
		q[o] = 0; /* root owner */
		put16(q + o + 1, T_OPT);
		put16(q + o + 3, EDNS_SIZE);
		memset(q + o + 5, 0, 6); /* ext. RCODE, version, flags, RDLEN */
		o += 11;
	}
	s->qlen = (uint16_t)o;
	return 0;
}

/* Skip a (possibly compressed) name at off; returns the offset after it. */
static long skip_name(const uint8_t *m, size_t len, size_t off)
{
	while (off < len) {
		uint8_t b = m[off];

		if (b == 0)
			return (long)off + 1;
		if ((b & 0xc0) == 0xc0)
			return off + 2 <= len ? (long)off + 2 : -1;
		if (b & 0xc0)
			return -1;
		off += 1 + (size_t)b;
	}
	return -1;
}

/* An answer record of the query's type (with the expected address). */
static bool answer_ok(const struct run *r, const uint8_t *m, size_t len, size_t off)
{
	uint16_t an = get16(m + 6), k;

	for (k = 0; k < an; k++) {
		long e = skip_name(m, len, off);
		uint16_t type, rdlen;

		if (e < 0 || (size_t)e + 10 > len)
			return false;
		type = get16(m + e);
		rdlen = get16(m + e + 8);
		off = (size_t)e + 10;
		if (off + rdlen > len)
			return false;
		if (type == r->o->qtype &&
		    (!r->o->have_addr ||
		     (rdlen == r->o->addr_len && !memcmp(m + off, r->o->addr, rdlen))))
			return true;
		off += rdlen;
	}
	return false;
}

static void list_del(struct run *r, int32_t k)
{
	struct slot *s = &r->slots[k];

	if (s->prev >= 0)
		r->slots[s->prev].next = s->next;
	else
		r->head = s->next;
	if (s->next >= 0)
		r->slots[s->next].prev = s->prev;
	else
		r->tail = s->prev;
	r->idmap[(size_t)s->sock * 65536 + s->id] = 0;
	r->free_stack[r->nfree++] = k;
	r->inflight--;
}

static void list_add(struct run *r, int32_t k)
{
	struct slot *s = &r->slots[k];

	s->next = -1;
	s->prev = r->tail;
	if (r->tail >= 0)
		r->slots[r->tail].next = k;
	else
		r->head = k;
	r->tail = k;
	r->idmap[(size_t)s->sock * 65536 + s->id] = k + 1;
	r->inflight++;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

	return x->sin6_port == y->sin6_port &&
	       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
}

/* One datagram read from socket sock at time now. */
static void on_reply(struct run *r, int sock, const uint8_t *m, size_t len, int64_t now)
{
	const struct opts *o = r->o;
	struct stats *st = &r->st;
	struct slot *s;
	uint16_t flags;
	int32_t k;
	size_t i;
	int rc;
	bool bad = false;

	if (len < 12) {
		st->mismatches++;
		return;
	}
	k = r->idmap[(size_t)sock * 65536 + get16(m)] - 1;
	if (k < 0) {
		st->mismatches++; /* unknown id: late, duplicate or stray */
		return;
	}
	s = &r->slots[k];
	flags = get16(m + 2);
	if (!(flags & F_QR) || ((flags >> 11) & 0xf) != 0 || get16(m + 4) != 1 ||
	    len < 12 + (size_t)s->qsec) {
		st->mismatches++;
		return;
	}
	for (i = 12; i < 12 + (size_t)s->qsec; i++) {
		if (tolower(m[i]) != tolower(s->q[i])) {
			st->mismatches++;
			return;
		}
	}
	/* Type and class (the last 4 bytes) exactly. */
	if (memcmp(m + 12 + s->qsec - 4, s->q + 12 + s->qsec - 4, 4)) {
		st->mismatches++;
		return;
	}
	st->lat[st->nlat++] = (uint32_t)(now - s->t_send);
	st->answered++;
	st->t_last = now;
	rc = flags & 0xf;
	st->rcodes[rc]++;
	if (flags & F_TC) {
		st->truncated++;
		bad = true;
	}
	if (o->expect_rcode != RC_NONE && rc != o->expect_rcode) {
		st->bad_rcode++;
		bad = true;
	} else if (o->expect_rcode == 0 && !answer_ok(r, m, len, 12 + s->qsec)) {
		st->bad_answer++;
		bad = true;
	}
	if (bad)
		st->failed++;
	list_del(r, k);
}

/* Read every datagram waiting on socket sock. */
static void read_socket(struct run *r, int sock, uint8_t (*bufs)[RBUF])
{
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage from[BATCH];
	int64_t now;
	int n, j;

	for (;;) {
		memset(mm, 0, sizeof(mm));
		for (j = 0; j < BATCH; j++) {
			iov[j].iov_base = bufs[j];
			iov[j].iov_len = RBUF;
			mm[j].msg_hdr.msg_iov = &iov[j];
			mm[j].msg_hdr.msg_iovlen = 1;
			mm[j].msg_hdr.msg_name = &from[j];
			mm[j].msg_hdr.msg_namelen = sizeof(from[j]);
		}
		n = recvmmsg(r->fds[sock], mm, BATCH, MSG_DONTWAIT, NULL);
		now = mono_ns();
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			/* ECONNREFUSED (an ICMP error for an earlier query) and the like. */
			r->st.sock_errors++;
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)
				continue;
			return;
		}
		for (j = 0; j < n; j++) {
			if (r->o->unconnected && !same_addr(&from[j], &r->o->server)) {
				r->st.mismatches++;
				continue;
			}
			on_reply(r, sock, bufs[j], mm[j].msg_len, now);
		}
		if (n < BATCH)
			return;
	}
}

/* Fill the window up to target queries sent; false if a socket was full. */
static bool send_some(struct run *r, long target)
{
	const struct opts *o = r->o;
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	int32_t ks[BATCH];
	int tries;

	for (tries = 0; tries < (int)o->sockets; tries++) {
		int sock = r->next_sock, cnt = 0, n, j;
		int64_t t;

		if (r->inflight >= o->window || r->st.sent >= target)
			return true;
		r->next_sock = (r->next_sock + 1) % (int)o->sockets;
		memset(mm, 0, sizeof(mm));
		while (cnt < BATCH && r->inflight < o->window && r->st.sent + cnt < target) {
			int32_t k = r->free_stack[--r->nfree];
			struct slot *s = &r->slots[k];
			uint16_t id;

			do
				id = (uint16_t)(rng_next(&r->rng) >> 48);
			while (r->idmap[(size_t)sock * 65536 + id]);
			s->id = id;
			s->sock = (uint16_t)sock;
			if (build_query(r, r->next_name + cnt, s)) {
				/* Names are checked up front; cannot happen. */
				fprintf(stderr, "bench_dns: cannot build query %ld\n",
					r->next_name + cnt);
				exit(2);
			}
			list_add(r, k);
			ks[cnt] = k;
			iov[cnt].iov_base = s->q;
			iov[cnt].iov_len = s->qlen;
			mm[cnt].msg_hdr.msg_iov = &iov[cnt];
			mm[cnt].msg_hdr.msg_iovlen = 1;
			if (o->unconnected) {
				mm[cnt].msg_hdr.msg_name = (void *)&o->server;
				mm[cnt].msg_hdr.msg_namelen = o->server_len;
			}
			cnt++;
		}
		if (!cnt)
			return true;
		t = mono_ns();
		for (j = 0; j < cnt; j++)
			r->slots[ks[j]].t_send = t;
		if (!r->st.t_first)
			r->st.t_first = t;
		n = sendmmsg(r->fds[sock], mm, (unsigned)cnt, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ||
			    errno == EINTR) {
				for (j = cnt - 1; j >= 0; j--)
					list_del(r, ks[j]);
				return false;
			}
			/* The first query could not be sent: it is done, and failed. */
			if (!r->st.send_errors)
				fprintf(stderr, "bench_dns: send to %s: %s\n", o->server_str,
					strerror(errno));
			r->st.send_errors++;
			r->st.sent++;
			r->next_name++;
			list_del(r, ks[0]);
			for (j = cnt - 1; j >= 1; j--)
				list_del(r, ks[j]);
			continue;
		}
		for (j = cnt - 1; j >= n; j--)
			list_del(r, ks[j]);
		r->st.sent += n;
		r->next_name += n;
		if (n < cnt)
			return false;
	}
	return true;
}

static void expire(struct run *r, int64_t now)
{
	int64_t tmo = r->o->timeout_ms * 1000000LL;

	while (r->head >= 0 && now - r->slots[r->head].t_send >= tmo) {
		r->st.timeouts++;
		r->st.t_last = now;
		list_del(r, r->head);
	}
}

/* Run n queries to completion (answered, timed out or not sent). */
static void run_phase(struct run *r, long n, uint8_t (*bufs)[RBUF])
{
	struct pollfd pfd[MAX_SOCKETS];
	int i;

	for (i = 0; i < (int)r->o->sockets; i++) {
		pfd[i].fd = r->fds[i];
		pfd[i].events = POLLIN;
	}
	while (r->st.sent < n || r->inflight > 0) {
		bool room = send_some(r, n);
		int64_t now = mono_ns();
		int tmo_ms = 0, k;

		expire(r, now);
		if (r->inflight > 0) {
			int64_t left =
			    r->slots[r->head].t_send + r->o->timeout_ms * 1000000LL - now;

			tmo_ms = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
		}
		if (!room && tmo_ms > 1)
			tmo_ms = 1; /* a socket buffer was full: try again soon */
		if (r->inflight == 0 && r->st.sent >= n)
			break;
		k = poll(pfd, (nfds_t)r->o->sockets, tmo_ms);
		if (k < 0 && errno != EINTR) {
			fprintf(stderr, "bench_dns: poll: %s\n", strerror(errno));
			exit(2);
		}
		for (i = 0; k > 0 && i < (int)r->o->sockets; i++) {
			if (pfd[i].revents)
				read_socket(r, i, bufs);
		}
		expire(r, mono_ns());
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the sorted latencies, in microseconds. */
static double pct_us(const struct stats *st, double p)
{
	long i;

	if (st->nlat == 0)
		return 0;
	i = (long)ceil(p / 100.0 * (double)st->nlat) - 1;
	if (i < 0)
		i = 0;
	if (i >= st->nlat)
		i = st->nlat - 1;
	return st->lat[i] / 1000.0;
}

static void report(const struct run *r)
{
	const struct opts *o = r->o;
	const struct stats *st = &r->st;
	double el = st->t_last > st->t_first ? (double)(st->t_last - st->t_first) / 1e9 : 0;
	double qps = el > 0 ? (double)st->answered / el : 0, sum = 0;
	char qt[16];
	bool first = true;
	long i;

	for (i = 0; i < st->nlat; i++)
		sum += st->lat[i];
	if (o->qtype == 1)
		snprintf(qt, sizeof(qt), "A");
	else if (o->qtype == 28)
		snprintf(qt, sizeof(qt), "AAAA");
	else
		snprintf(qt, sizeof(qt), "%u", o->qtype);
	if (o->json) {
		printf("{\"server\":\"%s\",\"qtype\":\"%s\",\"window\":%ld,\"sockets\":%ld,"
		       "\"edns\":%s,\"connected\":%s,\"queries\":%ld,\"sent\":%ld,\"answered\":%ld,"
		       "\"timeouts\":%ld,\"mismatches\":%ld,\"failed\":%ld,\"truncated\":%ld,"
		       "\"bad_rcode\":%ld,\"bad_answer\":%ld,\"send_errors\":%ld,"
		       "\"socket_errors\":%ld,\"rcodes\":{",
		       o->server_str, qt, o->window, o->sockets, o->edns ? "true" : "false",
		       o->unconnected ? "false" : "true", o->count, st->sent, st->answered,
		       st->timeouts, st->mismatches, st->failed, st->truncated, st->bad_rcode,
		       st->bad_answer, st->send_errors, st->sock_errors);
		for (i = 0; i < 16; i++) {
			if (!st->rcodes[i])
				continue;
			printf("%s\"%s\":%ld", first ? "" : ",", rcode_names[i], st->rcodes[i]);
			first = false;
		}
		printf("},\"elapsed_us\":%.0f,\"qps\":%.0f,\"lat_us\":{\"min\":%.1f,\"p50\":%.1f,"
		       "\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"mean\":%.1f}}\n",
		       el * 1e6, qps, pct_us(st, 0), pct_us(st, 50), pct_us(st, 90), pct_us(st, 99),
		       pct_us(st, 99.9), pct_us(st, 100),
		       st->nlat ? sum / (double)st->nlat / 1000.0 : 0);
		return;
	}
	printf("bench_dns: server %s, qtype %s, window %ld, %ld socket(s), %s, EDNS %s\n",
	       o->server_str, qt, o->window, o->sockets,
	       o->unconnected ? "unconnected" : "connected", o->edns ? "on" : "off");
	printf("queries %ld: answered %ld (", o->count, st->answered);
	for (i = 0; i < 16; i++) {
		if (!st->rcodes[i])
			continue;
		printf("%s%s %ld", first ? "" : ", ", rcode_names[i], st->rcodes[i]);
		first = false;
	}
	printf("%s), timeouts %ld, mismatches %ld, failed %ld (rcode %ld, answer %ld, TC %ld), "
	       "send errors %ld, socket errors %ld\n",
	       first ? "none" : "", st->timeouts, st->mismatches, st->failed, st->bad_rcode,
	       st->bad_answer, st->truncated, st->send_errors, st->sock_errors);
	printf("latency (us): min %.1f  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean "
	       "%.1f\n",
	       pct_us(st, 0), pct_us(st, 50), pct_us(st, 90), pct_us(st, 99), pct_us(st, 99.9),
	       pct_us(st, 100), st->nlat ? sum / (double)st->nlat / 1000.0 : 0);
	printf("rate: %.0f answered queries/s over %.3f s\n", qps, el);
}

/* --names FILE: one name a line; blank lines and '#' comments skipped. */
static int load_names(struct run *r, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	size_t cap = 0;
	int ret = -1;

	if (!f) {
		fprintf(stderr, "bench_dns: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *e;
		uint8_t w[256];

		while (isspace((unsigned char)*p))
			p++;
		e = p + strlen(p);
		while (e > p && isspace((unsigned char)e[-1]))
			*--e = 0;
		if (!*p || *p == '#')
			continue;
		if (encode_name(p, w, sizeof(w)) < 0) {
			fprintf(stderr, "bench_dns: %s: invalid name \"%s\"\n", path, p);
			goto out;
		}
		if (GROW(r->names, cap, (size_t)r->nnames + 1, 1024) < 0)
			goto out;
		r->names[r->nnames] = strdup(p);
		if (!r->names[r->nnames])
			goto out;
		r->nnames++;
	}
	if (!r->nnames) {
		fprintf(stderr, "bench_dns: %s: no names\n", path);
		goto out;
	}
	ret = 0;
out:
	fclose(f);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"server", required_argument, NULL, 's'},
	    {"names", required_argument, NULL, 'f'},
	    {"name-pattern", required_argument, NULL, 'p'},
	    {"name-count", required_argument, NULL, 'K'},
	    {"count", required_argument, NULL, 'n'},
	    {"warmup", required_argument, NULL, 'u'},
	    {"window", required_argument, NULL, 'w'},
	    {"sockets", required_argument, NULL, 'S'},
	    {"qtype", required_argument, NULL, 'q'},
	    {"edns", no_argument, NULL, 'e'},
	    {"timeout-ms", required_argument, NULL, 't'},
	    {"expect-rcode", required_argument, NULL, 'r'},
	    {"expect-addr", required_argument, NULL, 'a'},
	    {"unconnected", no_argument, NULL, 'U'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = {
	    .name_count = 1000,
	    .count = 10000,
	    .window = 1,
	    .sockets = 1,
	    .qtype = 1,
	    .timeout_ms = 1000,
	    .expect_rcode = 0,
	};
	struct run r;
	const char *addr_str = NULL;
	uint8_t(*bufs)[RBUF] = NULL;
	uint64_t seed = 0;
	long v, i;
	int c, bad = 0;

	memset(&r, 0, sizeof(r));
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o.server_str = optarg;
			if (parse_server(optarg, &o)) {
				fprintf(stderr, "bench_dns: invalid --server %s\n", optarg);
				bad = 1;
			}
			break;
		case 'f':
			o.names_file = optarg;
			break;
		case 'p':
			o.pattern = optarg;
			break;
		case 'K':
			bad |= parse_long(optarg, 1, 1000000000L, &o.name_count) ? 1 : 0;
			break;
		case 'n':
			bad |= parse_long(optarg, 1, MAX_COUNT, &o.count) ? 1 : 0;
			break;
		case 'u':
			bad |= parse_long(optarg, 0, MAX_COUNT, &o.warmup) ? 1 : 0;
			break;
		case 'w':
			bad |= parse_long(optarg, 1, MAX_WINDOW, &o.window) ? 1 : 0;
			break;
		case 'S':
			bad |= parse_long(optarg, 1, MAX_SOCKETS, &o.sockets) ? 1 : 0;
			break;
		case 'q':
			if (!strcasecmp(optarg, "A"))
				o.qtype = 1;
			else if (!strcasecmp(optarg, "AAAA"))
				o.qtype = 28;
			else if (!parse_long(optarg, 1, 65535, &v) && v != T_OPT)
				o.qtype = (uint16_t)v;
			else
				bad = 1;
			break;
		case 'e':
			o.edns = true;
			break;
		case 't':
			bad |= parse_long(optarg, 1, 4000, &o.timeout_ms) ? 1 : 0;
			break;
		case 'r':
			bad |= parse_rcode(optarg, &o.expect_rcode) ? 1 : 0;
			break;
		case 'a':
			addr_str = optarg;
			break;
		case 'U':
			o.unconnected = true;
			break;
		case 'j':
			o.json = true;
			break;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (bad || optind != argc || !o.server_str || !o.names_file == !o.pattern) {
		usage();
		return 2;
	}
	if (o.pattern) {
		const char *pc = strstr(o.pattern, "%u");
		char name[NAME_MAX_LEN + 8];
		uint8_t w[256];

		r.o = &o;
		if ((pc && strstr(pc + 2, "%u")) ||
		    name_of(&r, o.name_count - 1, name, sizeof(name)) ||
		    encode_name(name, w, sizeof(w)) < 0) {
			fprintf(
			    stderr,
			    "bench_dns: --name-pattern takes at most one %%u and must make valid "
			    "names\n");
			return 2;
		}
	}
	if (addr_str) {
		o.addr_len = o.qtype == 1 ? 4 : o.qtype == 28 ? 16 : 0;
		if (!o.addr_len ||
		    inet_pton(o.qtype == 1 ? AF_INET : AF_INET6, addr_str, o.addr) != 1) {
			fprintf(stderr,
				"bench_dns: --expect-addr %s: not an address of the qtype\n",
				addr_str);
			return 2;
		}
		o.have_addr = true;
	}
	r.o = &o;
	if (o.names_file && load_names(&r, o.names_file))
		return 2;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)mono_ns() ^ ((uint64_t)getpid() << 32);
	r.rng = seed | 1;
	r.head = r.tail = -1;
	r.slots = calloc((size_t)o.window, sizeof(*r.slots));
	r.free_stack = calloc((size_t)o.window, sizeof(*r.free_stack));
	r.idmap = calloc((size_t)o.sockets * 65536, sizeof(*r.idmap));
	r.st.lat = calloc((size_t)(o.count > o.warmup ? o.count : o.warmup), sizeof(uint32_t));
	bufs = calloc(BATCH, sizeof(*bufs));
	if (!r.slots || !r.free_stack || !r.idmap || !r.st.lat || !bufs) {
		fprintf(stderr, "bench_dns: out of memory\n");
		return 2;
	}
	for (i = o.window - 1; i >= 0; i--)
		r.free_stack[r.nfree++] = (int32_t)i;
	for (i = 0; i < o.sockets; i++) {
		int fd = socket(o.server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		int sz = 1 << 20;

		if (fd < 0) {
			fprintf(stderr, "bench_dns: socket: %s\n", strerror(errno));
			return 2;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
			(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		if (!o.unconnected &&
		    connect(fd, (const struct sockaddr *)&o.server, o.server_len)) {
			fprintf(stderr, "bench_dns: connect %s: %s\n", o.server_str,
				strerror(errno));
			return 2;
		}
		r.fds[i] = fd;
	}
	if (o.warmup) {
		uint32_t *lat = r.st.lat;

		run_phase(&r, o.warmup, bufs);
		memset(&r.st, 0, sizeof(r.st));
		r.st.lat = lat;
	}
	run_phase(&r, o.count, bufs);
	qsort(r.st.lat, (size_t)r.st.nlat, sizeof(*r.st.lat), cmp_u32);
	report(&r);
	return r.st.timeouts || r.st.failed || r.st.mismatches || r.st.send_errors ||
		       r.st.sock_errors || r.st.answered != o.count
		   ? 1
		   : 0;
}
