// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * netprobe: one network attempt per invocation, for the integration tests.
 *
 * Every probe prints exactly one JSON line on stdout and exits 0 if the
 * attempt worked, 1 if it failed, 2 on a usage error (message on stderr):
 *
 *   {"op":"connect","family":"ipv4","daddr":"198.18.2.2","dport":80,
 *    "result":"error","errno":"EPERM","errno_num":1,"elapsed_us":12,...}
 *
 * elapsed_us is measured around the syscall(s) that decide the result (for
 * a connect: connect() plus the poll() that waits for the handshake), so a
 * test can prove that a cgroup hook said EPERM "at once" rather than after a
 * timeout.  Extra keys: "stage" (which step failed: socket, setsockopt,
 * connect, send, recv), "pid" (to find the attempt in hushd's events),
 * "sockfamily" (the socket's own family).
 *
 * The listeners (listen-tcp, listen-udp) print one JSON line per event and
 * flush each, then run until killed (or --count is reached).
 *
 * Nothing here decides where packets go: the tests run netprobe inside
 * private network namespaces only.
 */
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

#define EXIT_OK	   0
#define EXIT_ERROR 1
#define EXIT_USAGE 2

#define DEFAULT_TIMEOUT_MS 3000
#define MAX_CONNS	   64
#define PAYLOAD_SHOWN	   128

struct opts {
	int timeout_ms;
	const char *send;    /* connect: send this, then read a reply */
	long count;	     /* sendto: datagrams; listeners: events before exit */
	const char *payload; /* datagram payload */
	const char *via;     /* srcroute / rthdr6: first hop */
	const char *ready_file;
	const char *dev; /* connect, sendto: SO_BINDTODEVICE first */
	bool echo;	 /* listeners: send data back */
	long ports;	 /* storm: spread over PORT .. PORT+ports-1 */
};

/* One attempt's outcome, printed by report(). */
struct result {
	const char *op;
	int family;	/* AF_INET / AF_INET6: the destination judged */
	int sockfamily; /* family of the socket used */
	const char *daddr;
	int dport; /* -1: none (ping) */
	const char *via;
	int err; /* 0: ok, else errno */
	const char *stage;
	long long elapsed_us;
	long long sent;	     /* datagrams/bytes sent, -1: not reported */
	long long reply_len; /* -1: not reported */
};

static const char *prog = "netprobe";

static void usage(void)
{
	fprintf(stderr,
		"usage: %s connect ADDR PORT [--timeout-ms N] [--send STR] [--dev IFNAME]\n"
		"       %s connect6 ADDR PORT [--timeout-ms N] [--send STR]\n"
		"       %s sendto ADDR PORT [--count N] [--payload S] [--dev IFNAME]\n"
		"       %s sendto6-v4 ADDR4 PORT [--payload S]\n"
		"       %s udpconnect ADDR PORT [--payload S]\n"
		"       %s ping|pingdgram ADDR [--timeout-ms N]\n"
		"       %s srcroute ADDR4 PORT --via HOP4 [--payload S]\n"
		"       %s rthdr6 ADDR6 PORT --via HOP6 [--payload S]\n"
		"       %s listen-tcp ADDR PORT [--count N] [--ready-file F]\n"
		"       %s listen-udp ADDR PORT [--count N] [--echo] [--ready-file F]\n"
		"       %s storm ADDR PORT --count N [--ports K]   (every failure counted, none "
		"stops it)\n"
		"       %s fds\n",
		prog, prog, prog, prog, prog, prog, prog, prog, prog, prog, prog, prog);
}

/* ---- JSON output ---- */

/* Bytes (not NUL-terminated) as a JSON string, at most PAYLOAD_SHOWN. */
static void json_bytes(struct json_writer *w, const unsigned char *b, size_t n)
{
	char buf[PAYLOAD_SHOWN + 1];

	if (n > PAYLOAD_SHOWN)
		n = PAYLOAD_SHOWN;
	for (size_t i = 0; i < n; i++)
		buf[i] = b[i] ? (char)b[i] : '.';
	buf[n] = '\0';
	jsonw_str(w, buf);
}

static const char *family_name(int family)
{
	return family == AF_INET6 ? "ipv6" : "ipv4";
}

static const char *errno_name(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "EUNKNOWN";
}

static int report(const struct result *r)
{
	FILE *f = stdout;
	struct json_writer w;

	jsonw_init_file(&w, f, JSON_LINES);
	jsonw_obj_begin(&w);
	jsonw_str_field(&w, "op", r->op);
	jsonw_str_field(&w, "family", family_name(r->family));
	jsonw_str_field(&w, "sockfamily", family_name(r->sockfamily));
	jsonw_str_field(&w, "daddr", r->daddr);
	if (r->dport >= 0)
		jsonw_int_field(&w, "dport", r->dport);
	if (r->via)
		jsonw_str_field(&w, "via", r->via);
	if (r->err) {
		jsonw_str_field(&w, "result", "error");
		jsonw_str_field(&w, "errno", errno_name(r->err));
		jsonw_int_field(&w, "errno_num", r->err);
		jsonw_str_field(&w, "stage", r->stage);
	} else {
		jsonw_str_field(&w, "result", "ok");
		jsonw_null_field(&w, "errno");
		jsonw_int_field(&w, "errno_num", 0);
	}
	jsonw_int_field(&w, "elapsed_us", r->elapsed_us);
	if (r->sent >= 0)
		jsonw_int_field(&w, "sent", r->sent);
	if (r->reply_len >= 0)
		jsonw_int_field(&w, "reply_len", r->reply_len);
	jsonw_int_field(&w, "pid", getpid());
	jsonw_obj_end(&w);
	fflush(f);
	return r->err ? EXIT_ERROR : EXIT_OK;
}

/* ---- arguments ---- */

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_port(const char *s, int *port)
{
	long v;

	if (parse_long(s, 0, 65535, &v))
		return -EINVAL;
	*port = (int)v;
	return 0;
}

/*
 * ADDR (IPv4 or IPv6 literal) and port into a sockaddr.  want_family
 * AF_INET6 turns a plain IPv4 address into its mapped form (::ffff:a.b.c.d);
 * AF_INET rejects IPv6; 0 takes the address's own family.
 */
static int parse_addr(const char *s, int port, int want_family, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct in_addr a4;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4) == 1) {
		if (want_family == AF_INET6) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons((uint16_t)port);
			sin6->sin6_addr.s6_addr[10] = 0xff;
			sin6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&sin6->sin6_addr.s6_addr[12], &a4, 4);
			*len = sizeof(*sin6);
			return 0;
		}
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr = a4;
		*len = sizeof(*sin);
		return 0;
	}
	if (want_family != AF_INET && inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	fprintf(stderr, "%s: bad %saddress: %s\n", prog, want_family == AF_INET ? "IPv4 " : "", s);
	return -EINVAL;
}

static bool is_mapped(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	return ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr);
}

/* Options after the positional arguments; all optional. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	long v;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		bool has_val = i + 1 < argc;

		if (!strcmp(a, "--echo")) {
			o->echo = true;
			continue;
		}
		if (!has_val) {
			fprintf(stderr, "%s: %s: missing value or unknown option\n", prog, a);
			return -EINVAL;
		}
		if (!strcmp(a, "--timeout-ms")) {
			if (parse_long(argv[++i], 0, INT_MAX, &v))
				goto bad;
			o->timeout_ms = (int)v;
		} else if (!strcmp(a, "--count")) {
			if (parse_long(argv[++i], 1, LONG_MAX, &v))
				goto bad;
			o->count = v;
		} else if (!strcmp(a, "--ports")) {
			if (parse_long(argv[++i], 1, 65535, &v))
				goto bad;
			o->ports = v;
		} else if (!strcmp(a, "--send")) {
			o->send = argv[++i];
		} else if (!strcmp(a, "--payload")) {
			o->payload = argv[++i];
		} else if (!strcmp(a, "--via")) {
			o->via = argv[++i];
		} else if (!strcmp(a, "--dev")) {
			o->dev = argv[++i];
		} else if (!strcmp(a, "--ready-file")) {
			o->ready_file = argv[++i];
		} else {
			fprintf(stderr, "%s: unknown option %s\n", prog, a);
			return -EINVAL;
		}
		continue;
	bad:
		fprintf(stderr, "%s: bad value for %s: %s\n", prog, a, argv[i]);
		return -EINVAL;
	}
	return 0;
}

/* ---- probes ---- */

static void set_v6only(int fd, int on)
{
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
}

/* --dev: bind the socket to a device (SO_BINDTODEVICE); -1 with r filled. */
static int bind_dev(int fd, const struct opts *o, struct result *r)
{
	if (!o->dev || setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o->dev, strlen(o->dev)) == 0)
		return 0;
	r->err = errno;
	r->stage = "setsockopt";
	return -1;
}

/* Wait for `events` on fd until deadline (monotonic µs); -ETIMEDOUT on expiry. */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	for (;;) {
		long long left = deadline - mono_us();
		int rc;

		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&pfd, 1, (int)((left + 999) / 1000));
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

/* connect / connect6: TCP, non-blocking connect + poll. */
static int do_connect(const char *op, int want_family, const char *addr, int port,
		      const struct opts *o)
{
	struct result r = {.op = op, .daddr = addr, .dport = port, .sent = -1, .reply_len = -1};
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	struct sockaddr_storage ss;
	socklen_t len, elen;
	long long t0, deadline;
	int fd, rc, soerr = 0;

	if (parse_addr(addr, port, want_family, &ss, &len))
		return EXIT_USAGE;
	r.sockfamily = ss.ss_family;
	r.family = is_mapped(&ss) ? AF_INET : ss.ss_family;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r.err = errno;
		r.stage = "socket";
		return report(&r);
	}
	if (ss.ss_family == AF_INET6)
		set_v6only(fd, 0);
	/* RST on close: loops of probes must not exhaust ports in TIME_WAIT. */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (bind_dev(fd, o, &r)) {
		close(fd);
		return report(&r);
	}

	t0 = mono_us();
	deadline = t0 + (long long)o->timeout_ms * 1000;
	rc = connect(fd, (struct sockaddr *)&ss, len);
	if (rc < 0 && errno == EINPROGRESS) {
		rc = wait_fd(fd, POLLOUT, deadline);
		if (rc == 0) {
			elen = sizeof(soerr);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen);
			r.err = soerr;
		} else {
			r.err = -rc;
		}
	} else if (rc < 0) {
		r.err = errno;
	}
	r.elapsed_us = mono_us() - t0;
	if (r.err) {
		r.stage = "connect";
		goto out;
	}

	if (o->send) {
		char buf[4096];
		ssize_t n;

		n = send(fd, o->send, strlen(o->send), MSG_NOSIGNAL);
		if (n < 0) {
			r.err = errno;
			r.stage = "send";
			goto out;
		}
		r.sent = n;
		rc = wait_fd(fd, POLLIN, mono_us() + (long long)o->timeout_ms * 1000);
		if (rc) {
			r.err = -rc;
			r.stage = "recv";
			goto out;
		}
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			r.err = errno;
			r.stage = "recv";
		} else if (n == 0) {
			r.err = ENODATA; /* closed without a reply */
			r.stage = "recv";
		} else {
			r.reply_len = n;
		}
	}
out:
	close(fd);
	return report(&r);
}

static const char *payload_of(const struct opts *o)
{
	return o->payload ? o->payload : "netprobe";
}

/* sendto: unconnected UDP, --count datagrams; the first failure decides. */
static int do_sendto(const char *addr, int port, const struct opts *o)
{
	struct result r = {
	    .op = "sendto", .daddr = addr, .dport = port, .sent = 0, .reply_len = -1};
	struct sockaddr_storage ss;
	const char *pl = payload_of(o);
	long long t0;
	socklen_t len;
	int fd;

	if (parse_addr(addr, port, 0, &ss, &len))
		return EXIT_USAGE;
	r.sockfamily = ss.ss_family;
	r.family = is_mapped(&ss) ? AF_INET : ss.ss_family;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r.err = errno;
		r.stage = "socket";
		return report(&r);
	}
	if (ss.ss_family == AF_INET6)
		set_v6only(fd, 0);
	if (bind_dev(fd, o, &r)) {
		close(fd);
		return report(&r);
	}
	t0 = mono_us();
	for (long i = 0; i < o->count; i++) {
		if (sendto(fd, pl, strlen(pl), 0, (struct sockaddr *)&ss, len) < 0) {
			r.err = errno;
			r.stage = "send";
			break;
		}
		r.sent++;
	}
	r.elapsed_us = mono_us() - t0;
	close(fd);
	return report(&r);
}

/* storm: --count unconnected UDP sends, each one judged; failures are
 * counted (by errno) and do not stop the storm.  One JSON line at the end. */
static int do_storm(const char *addr, int port, const struct opts *o)
{
	struct sockaddr_storage ss;
	long long t0, el;
	long sent = 0, eperm = 0, other = 0, ports = o->ports ? o->ports : 1;
	socklen_t len;
	int fd;

	if (parse_addr(addr, port, 0, &ss, &len))
		return EXIT_USAGE;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
		return EXIT_ERROR;
	}
	t0 = mono_us();
	for (long i = 0; i < o->count; i++) {
		int p = port + (int)(i % ports);

		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)p);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)p);
		if (sendto(fd, "s", 1, 0, (struct sockaddr *)&ss, len) < 0) {
			if (errno == EPERM)
				eperm++;
			else
				other++;
		} else {
			sent++;
		}
	}
	el = mono_us() - t0;
	close(fd);
	printf("{\"op\":\"storm\",\"daddr\":\"%s\",\"dport\":%d,\"ports\":%ld,\"count\":%ld,"
	       "\"sent\":%ld,\"eperm\":%ld,\"other\":%ld,\"elapsed_us\":%lld,\"pid\":%d}\n",
	       addr, port, ports, o->count, sent, eperm, other, el, (int)getpid());
	return other ? EXIT_ERROR : EXIT_OK;
}

/* sendto6-v4: AF_INET6 socket, AF_INET destination: the kernel hands this to
 * udp_sendmsg(), i.e. the IPv4 sendmsg hook. */
static int do_sendto6_v4(const char *addr, int port, const struct opts *o)
{
	struct result r = {.op = "sendto6-v4",
			   .family = AF_INET,
			   .sockfamily = AF_INET6,
			   .daddr = addr,
			   .dport = port,
			   .sent = 0,
			   .reply_len = -1};
	struct sockaddr_storage ss;
	const char *pl = payload_of(o);
	long long t0;
	socklen_t len;
	int fd;

	if (parse_addr(addr, port, AF_INET, &ss, &len))
		return EXIT_USAGE;
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r.err = errno;
		r.stage = "socket";
		return report(&r);
	}
	set_v6only(fd, 0);
	t0 = mono_us();
	if (sendto(fd, pl, strlen(pl), 0, (struct sockaddr *)&ss, len) < 0) {
		r.err = errno;
		r.stage = "send";
	} else {
		r.sent = 1;
	}
	r.elapsed_us = mono_us() - t0;
	close(fd);
	return report(&r);
}

/* udpconnect: connect() a UDP socket, then send(). */
static int do_udpconnect(const char *addr, int port, const struct opts *o)
{
	struct result r = {
	    .op = "udpconnect", .daddr = addr, .dport = port, .sent = 0, .reply_len = -1};
	struct sockaddr_storage ss;
	const char *pl = payload_of(o);
	long long t0;
	socklen_t len;
	int fd;

	if (parse_addr(addr, port, 0, &ss, &len))
		return EXIT_USAGE;
	r.sockfamily = ss.ss_family;
	r.family = is_mapped(&ss) ? AF_INET : ss.ss_family;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r.err = errno;
		r.stage = "socket";
		return report(&r);
	}
	if (ss.ss_family == AF_INET6)
		set_v6only(fd, 0);
	t0 = mono_us();
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		r.err = errno;
		r.stage = "connect";
	} else if (send(fd, pl, strlen(pl), 0) < 0) {
		r.err = errno;
		r.stage = "send";
	} else {
		r.sent = 1;
	}
	r.elapsed_us = mono_us() - t0;
	close(fd);
	return report(&r);
}

static uint16_t inet_csum(const void *data, size_t len)
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
static int do_ping(const char *op, bool raw, const char *addr, const struct opts *o)
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
static int do_srcroute(const char *addr, int port, const struct opts *o)
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
	const char *pl = payload_of(o);
	unsigned char opt[12];
	socklen_t len, hlen;
	long long t0;
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

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r.err = errno;
		r.stage = "socket";
		return report(&r);
	}
	if (setsockopt(fd, IPPROTO_IP, IP_OPTIONS, opt, sizeof(opt)) < 0) {
		r.err = errno;
		r.stage = "setsockopt";
		goto out;
	}
	t0 = mono_us();
	if (sendto(fd, pl, strlen(pl), 0, (struct sockaddr *)&ss, len) < 0) {
		r.err = errno;
		r.stage = "send";
	} else {
		r.sent = 1;
	}
	r.elapsed_us = mono_us() - t0;
out:
	close(fd);
	return report(&r);
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
static int do_rthdr6(const char *addr, int port, const struct opts *o)
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
	const char *pl = payload_of(o);
	struct srh2 srh;
	socklen_t len, hlen;
	long long t0;
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

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r.err = errno;
		r.stage = "socket";
		return report(&r);
	}
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_RTHDR, &srh, sizeof(srh)) < 0) {
		r.err = errno;
		r.stage = "setsockopt";
		goto out;
	}
	t0 = mono_us();
	if (sendto(fd, pl, strlen(pl), 0, (struct sockaddr *)&ss, len) < 0) {
		r.err = errno;
		r.stage = "send";
	} else {
		r.sent = 1;
	}
	r.elapsed_us = mono_us() - t0;
out:
	close(fd);
	return report(&r);
}

/* ---- listeners ---- */

static void peer_str(const struct sockaddr_storage *ss, char *buf, size_t n, char *abuf, size_t an,
		     int *port)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, abuf, (socklen_t)an);
		*port = ntohs(s6->sin6_port);
		snprintf(buf, n, "[%s]:%d", abuf, *port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, abuf, (socklen_t)an);
		*port = ntohs(s4->sin_port);
		snprintf(buf, n, "%s:%d", abuf, *port);
	}
}

static void print_peer_event(const char *event, const struct sockaddr_storage *from,
			     const unsigned char *data, ssize_t len)
{
	char peer[INET6_ADDRSTRLEN + 16], addr[INET6_ADDRSTRLEN];
	struct json_writer w;
	int port;

	peer_str(from, peer, sizeof(peer), addr, sizeof(addr), &port);
	jsonw_init_file(&w, stdout, JSON_LINES);
	jsonw_obj_begin(&w);
	jsonw_str_field(&w, "event", event);
	jsonw_str_field(&w, "peer", peer);
	jsonw_str_field(&w, "peer_addr", addr);
	jsonw_int_field(&w, "peer_port", port);
	if (len >= 0) {
		jsonw_int_field(&w, "len", len);
		jsonw_key(&w, "payload");
		json_bytes(&w, data, (size_t)len);
	}
	jsonw_obj_end(&w);
	fflush(stdout);
}

static int listen_socket(int type, const char *addr, int port, const struct opts *o)
{
	struct sockaddr_storage ss;
	struct json_writer w;
	socklen_t len;
	int fd, one = 1;

	if (parse_addr(addr, port, 0, &ss, &len))
		return -EINVAL;
	fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6) /* "::" takes IPv4 too */
		set_v6only(
		    fd, IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr) ? 0 : 1);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, 128) < 0)
		goto fail;
	jsonw_init_file(&w, stdout, JSON_LINES);
	jsonw_obj_begin(&w);
	jsonw_str_field(&w, "event", "listening");
	jsonw_str_field(&w, "addr", addr);
	jsonw_int_field(&w, "port", port);
	jsonw_int_field(&w, "pid", getpid());
	jsonw_obj_end(&w);
	fflush(stdout);
	if (o->ready_file) {
		int rf = open(o->ready_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (rf < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, o->ready_file, strerror(errno));
			close(fd);
			return -EIO;
		}
		close(rf);
	}
	return fd;
fail:
	fprintf(stderr, "%s: listen %s port %d: %s\n", prog, addr, port, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -EIO;
}

/* listen-tcp: accept, print, echo whatever arrives; --count N accepts then
 * serve open connections until they close (at most 2 s more) and exit. */
static int do_listen_tcp(const char *addr, int port, const struct opts *o)
{
	struct pollfd pfd[MAX_CONNS + 1];
	struct sockaddr_storage peers[MAX_CONNS + 1];
	long accepted = 0;
	long long stop_at = 0;
	int nconn = 0, lfd;

	lfd = listen_socket(SOCK_STREAM, addr, port, o);
	if (lfd < 0)
		return EXIT_ERROR;
	pfd[0].fd = lfd;
	pfd[0].events = POLLIN;
	for (;;) {
		int rc;

		if (stop_at && (nconn == 0 || mono_us() > stop_at))
			return EXIT_OK;
		rc = poll(pfd, (nfds_t)nconn + 1, stop_at ? 100 : -1);
		if (rc < 0 && errno != EINTR) {
			fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
			return EXIT_ERROR;
		}
		if (rc <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);
			int cfd = accept4(lfd, (struct sockaddr *)&from, &flen, SOCK_CLOEXEC);

			if (cfd >= 0) {
				print_peer_event("accept", &from, NULL, -1);
				if (nconn < MAX_CONNS) {
					nconn++;
					pfd[nconn].fd = cfd;
					pfd[nconn].events = POLLIN;
					pfd[nconn].revents = 0;
					peers[nconn] = from;
				} else {
					close(cfd);
				}
				if (o->count && ++accepted >= o->count) {
					pfd[0].fd = -1; /* stop accepting */
					stop_at = mono_us() + 2000000;
				}
			}
		}
		for (int i = 1; i <= nconn; i++) {
			unsigned char buf[4096];
			ssize_t n;

			if (!pfd[i].revents)
				continue;
			n = recv(pfd[i].fd, buf, sizeof(buf), 0);
			if (n > 0) {
				print_peer_event("data", &peers[i], buf, n);
				send(pfd[i].fd, buf, (size_t)n, MSG_NOSIGNAL); /* echo */
				continue;
			}
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			close(pfd[i].fd);
			pfd[i] = pfd[nconn];
			peers[i] = peers[nconn];
			nconn--;
			i--;
		}
	}
}

/* listen-udp: one line per datagram; --echo sends it back. */
static int do_listen_udp(const char *addr, int port, const struct opts *o)
{
	long got = 0;
	int fd;

	fd = listen_socket(SOCK_DGRAM, addr, port, o);
	if (fd < 0)
		return EXIT_ERROR;
	for (;;) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		unsigned char buf[65536];
		ssize_t n;

		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: recvfrom: %s\n", prog, strerror(errno));
			return EXIT_ERROR;
		}
		print_peer_event("datagram", &from, buf, n);
		if (o->echo)
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, flen);
		if (o->count && ++got >= o->count)
			return EXIT_OK;
	}
}

/* fds: the descriptors this process was started with (for "CMD inherits no
 * fds beyond stdio"); the probe itself opens none before looking. */
static int do_fds(void)
{
	struct json_writer w;

	jsonw_init_file(&w, stdout, JSON_LINES);
	jsonw_obj_begin(&w);
	jsonw_str_field(&w, "op", "fds");
	jsonw_key(&w, "fds");
	jsonw_arr_begin(&w);
	for (int fd = 0; fd < 1024; fd++) {
		char path[64], target[PATH_MAX];
		ssize_t n;

		if (fcntl(fd, F_GETFD) < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		jsonw_obj_begin(&w);
		jsonw_int_field(&w, "fd", fd);
		jsonw_str_field(&w, "target", target);
		jsonw_obj_end(&w);
	}
	jsonw_arr_end(&w);
	jsonw_str_field(&w, "result", "ok");
	jsonw_int_field(&w, "pid", getpid());
	jsonw_obj_end(&w);
	fflush(stdout);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct opts o = {.timeout_ms = DEFAULT_TIMEOUT_MS, .count = 0};
	const char *cmd;
	int port = 0, npos;

	if (argc < 2) {
		usage();
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage();
		return EXIT_OK;
	}
	signal(SIGPIPE, SIG_IGN);

	/* Positional arguments per subcommand. */
	if (!strcmp(cmd, "fds"))
		npos = 0;
	else if (!strcmp(cmd, "ping") || !strcmp(cmd, "pingdgram"))
		npos = 1;
	else
		npos = 2;
	if (argc < 2 + npos) {
		usage();
		return EXIT_USAGE;
	}
	if (npos == 2 && parse_port(argv[3], &port)) {
		fprintf(stderr, "%s: bad port: %s\n", prog, argv[3]);
		return EXIT_USAGE;
	}
	if (parse_opts(argc - 2 - npos, argv + 2 + npos, &o))
		return EXIT_USAGE;
	if (!o.count && (!strcmp(cmd, "sendto") || !strcmp(cmd, "storm")))
		o.count = 1;

	if (!strcmp(cmd, "connect"))
		return do_connect(cmd, 0, argv[2], port, &o);
	if (!strcmp(cmd, "connect6"))
		return do_connect(cmd, AF_INET6, argv[2], port, &o);
	if (!strcmp(cmd, "sendto"))
		return do_sendto(argv[2], port, &o);
	if (!strcmp(cmd, "storm"))
		return do_storm(argv[2], port, &o);
	if (!strcmp(cmd, "sendto6-v4"))
		return do_sendto6_v4(argv[2], port, &o);
	if (!strcmp(cmd, "udpconnect"))
		return do_udpconnect(argv[2], port, &o);
	if (!strcmp(cmd, "ping"))
		return do_ping(cmd, true, argv[2], &o);
	if (!strcmp(cmd, "pingdgram"))
		return do_ping(cmd, false, argv[2], &o);
	if (!strcmp(cmd, "srcroute"))
		return do_srcroute(argv[2], port, &o);
	if (!strcmp(cmd, "rthdr6"))
		return do_rthdr6(argv[2], port, &o);
	if (!strcmp(cmd, "listen-tcp"))
		return do_listen_tcp(argv[2], port, &o);
	if (!strcmp(cmd, "listen-udp"))
		return do_listen_udp(argv[2], port, &o);
	if (!strcmp(cmd, "fds"))
		return do_fds();
	fprintf(stderr, "%s: unknown subcommand %s\n", prog, cmd);
	usage();
	return EXIT_USAGE;
}
