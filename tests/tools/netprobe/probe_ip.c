// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* netprobe: TCP and UDP attempts (connect, sendto, storm, connected UDP). */
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

void set_v6only(int fd, int on)
{
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
}

/* --dev: bind the socket to a device (SO_BINDTODEVICE); -1 with r filled. */
int bind_dev(int fd, const struct opts *o, struct result *r)
{
	if (!o->dev || setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o->dev, strlen(o->dev)) == 0)
		return 0;
	r->err = errno;
	r->stage = "setsockopt";
	return -1;
}

/* Wait for `events` on fd until deadline (monotonic µs); -ETIMEDOUT on expiry. */
int wait_fd(int fd, short events, long long deadline)
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
int do_connect(const char *op, int want_family, const char *addr, int port, const struct opts *o)
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

const char *payload_of(const struct opts *o)
{
	return o->payload ? o->payload : "netprobe";
}

/* A UDP socket of family, or -1 with r saying why. */
int udp_socket(int family, struct result *r)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		r->err = errno;
		r->stage = "socket";
	}
	return fd;
}

/* One datagram of the payload to ss, timed into r; closes fd.  The
 * report's exit code. */
int send_once(int fd, const struct sockaddr_storage *ss, socklen_t len, const struct opts *o,
	      struct result *r)
{
	const char *pl = payload_of(o);
	long long t0 = mono_us();

	if (sendto(fd, pl, strlen(pl), 0, (const struct sockaddr *)ss, len) < 0) {
		r->err = errno;
		r->stage = "send";
	} else {
		r->sent = 1;
	}
	r->elapsed_us = mono_us() - t0;
	close(fd);
	return report(r);
}

/* A UDP socket for addr:port (ss, len; dual-stack when IPv6), families in
 * r: the fd, -1 with r saying why, or -2 for a bad address. */
static int udp_to(const char *addr, int port, struct result *r, struct sockaddr_storage *ss,
		  socklen_t *len)
{
	int fd;

	if (parse_addr(addr, port, 0, ss, len))
		return -2;
	r->sockfamily = ss->ss_family;
	r->family = is_mapped(ss) ? AF_INET : ss->ss_family;
	fd = udp_socket(ss->ss_family, r);
	if (fd >= 0 && ss->ss_family == AF_INET6)
		set_v6only(fd, 0);
	return fd;
}

/* sendto: unconnected UDP, --count datagrams; the first failure decides. */
int do_sendto(const char *addr, int port, const struct opts *o)
{
	struct result r = {
	    .op = "sendto", .daddr = addr, .dport = port, .sent = 0, .reply_len = -1};
	struct sockaddr_storage ss;
	const char *pl = payload_of(o);
	long long t0;
	socklen_t len;
	int fd;

	fd = udp_to(addr, port, &r, &ss, &len);
	if (fd < 0)
		return fd == -2 ? EXIT_USAGE : report(&r);
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
int do_storm(const char *addr, int port, const struct opts *o)
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
int do_sendto6_v4(const char *addr, int port, const struct opts *o)
{
	struct result r = {.op = "sendto6-v4",
			   .family = AF_INET,
			   .sockfamily = AF_INET6,
			   .daddr = addr,
			   .dport = port,
			   .sent = 0,
			   .reply_len = -1};
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (parse_addr(addr, port, AF_INET, &ss, &len))
		return EXIT_USAGE;
	fd = udp_socket(AF_INET6, &r);
	if (fd < 0)
		return report(&r);
	set_v6only(fd, 0);
	return send_once(fd, &ss, len, o, &r);
}

/* udpconnect: connect() a UDP socket, then send(). */
int do_udpconnect(const char *addr, int port, const struct opts *o)
{
	struct result r = {
	    .op = "udpconnect", .daddr = addr, .dport = port, .sent = 0, .reply_len = -1};
	struct sockaddr_storage ss;
	const char *pl = payload_of(o);
	long long t0;
	socklen_t len;
	int fd;

	fd = udp_to(addr, port, &r, &ss, &len);
	if (fd < 0)
		return fd == -2 ? EXIT_USAGE : report(&r);
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
