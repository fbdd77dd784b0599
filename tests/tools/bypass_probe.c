// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bypass_probe: one way out of a policy per invocation, for tests/bypass/.
 *
 *   bypass_probe TECHNIQUE ARGS...
 *
 * Each technique tries to get something to ADDR (the forbidden host of the
 * test network) and prints one JSON line on stdout:
 *
 *   {"op":"udp","result":"error","stage":"sendto","errno":"EPERM","sent":0}
 *
 * and exits 0 if every step worked, 1 if one failed, 2 on a usage error.
 * The line is only what the process saw: the suite's ground truth is what the
 * forbidden host's namespace received (nft counters there).
 *
 * Helpers run outside the policy (fd-server, fd-holder, with-socket) and hand
 * a socket in.  Nothing here picks an address: the suite passes the test
 * network's addresses and runs this only inside its private namespaces.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>
#include <linux/io_uring.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef IP_UNICAST_IF
#define IP_UNICAST_IF 50
#endif
#ifndef IPV6_UNICAST_IF
#define IPV6_UNICAST_IF 76
#endif
#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif

#define EXIT_OK	   0
#define EXIT_ERROR 1
#define EXIT_USAGE 2

/* An ethertype for local experiments (IEEE 802): what the AF_PACKET and
 * AF_XDP frames carry, counted at the forbidden host's ingress. */
#define ETH_P_BYPASS 0x88b5
#define PAYLOAD	     "hush-bypass-probe"
#define NSEND	     3

static const char *op = "?";
static long sent;

/* The one output line; returns the exit status. */
static int report(const char *stage, int err)
{
	if (err)
		printf("{\"op\":\"%s\",\"result\":\"error\",\"stage\":\"%s\",\"errno\":\"%s\","
		       "\"sent\":%ld}\n",
		       op, stage, strerrorname_np(err) ? strerrorname_np(err) : "?", sent);
	else
		printf("{\"op\":\"%s\",\"result\":\"ok\",\"sent\":%ld}\n", op, sent);
	fflush(stdout);
	return err ? EXIT_ERROR : EXIT_OK;
}

#define FAIL(stage) return report(stage, errno)

static void usage(void)
{
	fprintf(stderr,
		"usage: bypass_probe udp ADDR PORT [sendto|sendmsg|sendmmsg|write|writev|send|"
		"splice|io_uring]\n"
		"       bypass_probe udplite|tcp|fastopen|mptcp|ipopt|ip6ext ADDR PORT\n"
		"       bypass_probe raw|ping ADDR\n"
		"       bypass_probe packet-raw|packet-dgram|xdp IFNAME\n"
		"       bypass_probe bindtodevice|unicastif IFNAME LOOPBACK PORT\n"
		"       bypass_probe lo-tcp-dev IFNAME SRC LOOPBACK PORT\n"
		"       bypass_probe transparent SRC ADDR PORT [udp|tcp]\n"
		"       bypass_probe scm-rights UNIXPATH ADDR PORT\n"
		"       bypass_probe pidfd-getfd PID FD ADDR PORT\n"
		"       bypass_probe use-fd FD ADDR PORT\n"
		"       bypass_probe cgroup-move CGDIR ADDR PORT\n"
		"       bypass_probe kill-send PID|ppid ADDR PORT\n"
		"       bypass_probe detach-links WITHIN_CGDIR ADDR PORT\n"
		"       bypass_probe setns NSPATH ADDR PORT\n"
		"       bypass_probe reuseport LPORT ADDR PORT\n"
		"       bypass_probe serve-once PORT READYFILE\n"
		"helpers (outside the policy):\n"
		"       bypass_probe fd-server UNIXPATH\n"
		"       bypass_probe fd-holder READYFILE\n"
		"       bypass_probe with-socket FD udp4|udp6 -- CMD...\n");
}

/* ADDR PORT: IPv4, IPv6 or v4-mapped (an AF_INET6 socket for the latter). */
static int parse_addr(const char *a, const char *p, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	int port = p ? atoi(p) : 0;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return 0;
	}
	fprintf(stderr, "bypass_probe: not an address: %s\n", a);
	return -1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* NSEND datagrams with sendto on FD (connected or not). */
static int sendto_n(int fd, const struct sockaddr_storage *ss, socklen_t len, const char *stage)
{
	for (int i = 0; i < NSEND; i++) {
		if (sendto(fd, PAYLOAD, sizeof(PAYLOAD), 0, (const struct sockaddr *)ss, len) < 0)
			FAIL(stage);
		sent++;
	}
	return report(stage, 0);
}

/* A fresh UDP socket, then NSEND datagrams to ss. */
static int udp_sendto_n(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_DGRAM, 0);

	if (fd < 0)
		FAIL("socket");
	return sendto_n(fd, ss, len, "sendto");
}

/* ---- io_uring, raw syscalls ---- */

static int uring_sendmsg(int fd, struct msghdr *msg)
{
	struct io_uring_params p = {0};
	int ring = (int)syscall(__NR_io_uring_setup, 4, &p);
	void *sq, *cq;
	struct io_uring_sqe *sqes;
	unsigned *sq_tail, *sq_array, *cq_head, *cq_tail, sq_mask, cq_mask;
	struct io_uring_cqe *cqes;
	size_t sq_sz, cq_sz;

	if (ring < 0)
		FAIL("io_uring_setup");
	sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	sq = mmap(NULL, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
		  IORING_OFF_SQ_RING);
	cq = mmap(NULL, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
		  IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		FAIL("io_uring_mmap");
	sq_tail = (unsigned *)((char *)sq + p.sq_off.tail);
	sq_array = (unsigned *)((char *)sq + p.sq_off.array);
	sq_mask = *(unsigned *)((char *)sq + p.sq_off.ring_mask);
	cq_head = (unsigned *)((char *)cq + p.cq_off.head);
	cq_tail = (unsigned *)((char *)cq + p.cq_off.tail);
	cq_mask = *(unsigned *)((char *)cq + p.cq_off.ring_mask);
	cqes = (struct io_uring_cqe *)((char *)cq + p.cq_off.cqes);
	for (int i = 0; i < NSEND; i++) {
		unsigned t = *sq_tail, h;
		struct io_uring_sqe *e = &sqes[t & sq_mask];
		int res;

		memset(e, 0, sizeof(*e));
		e->opcode = IORING_OP_SENDMSG;
		e->fd = fd;
		e->addr = (uint64_t)(uintptr_t)msg;
		e->len = 1;
		sq_array[t & sq_mask] = t & sq_mask;
		__atomic_store_n(sq_tail, t + 1, __ATOMIC_RELEASE);
		if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
			FAIL("io_uring_enter");
		h = *cq_head;
		if (h == __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE)) {
			errno = EIO;
			FAIL("io_uring_cqe");
		}
		res = cqes[h & cq_mask].res;
		__atomic_store_n(cq_head, h + 1, __ATOMIC_RELEASE);
		if (res < 0) {
			errno = -res;
			FAIL("io_uring_sendmsg");
		}
		sent++;
	}
	return report("io_uring_sendmsg", 0);
}

/* ---- UDP and friends ---- */

/* udp ADDR PORT METHOD: unconnected sends name the address in each call;
 * write/writev/send/splice connect first. */
static int do_udp(int proto, const char *a, const char *p, const char *method)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[] = PAYLOAD;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	int fd;

	if (parse_addr(a, p, &ss, &len))
		return EXIT_USAGE;
	fd = socket(ss.ss_family, SOCK_DGRAM, proto);
	if (fd < 0)
		FAIL("socket");
	msg.msg_name = &ss;
	msg.msg_namelen = len;
	if (!strcmp(method, "sendto"))
		return sendto_n(fd, &ss, len, "sendto");
	if (!strcmp(method, "sendmsg")) {
		for (int i = 0; i < NSEND; i++, sent++)
			if (sendmsg(fd, &msg, 0) < 0)
				FAIL("sendmsg");
		return report("sendmsg", 0);
	}
	if (!strcmp(method, "sendmmsg")) {
		struct mmsghdr mm[NSEND];
		int n;

		for (int i = 0; i < NSEND; i++)
			mm[i] = (struct mmsghdr){.msg_hdr = msg};
		n = sendmmsg(fd, mm, NSEND, 0);
		if (n < 0)
			FAIL("sendmmsg");
		sent = n;
		return report("sendmmsg", 0);
	}
	if (!strcmp(method, "io_uring"))
		return uring_sendmsg(fd, &msg);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0)
		FAIL("connect");
	for (int i = 0; i < NSEND; i++) {
		ssize_t n;

		if (!strcmp(method, "write")) {
			n = write(fd, buf, sizeof(buf));
		} else if (!strcmp(method, "writev")) {
			n = writev(fd, &iov, 1);
		} else if (!strcmp(method, "send")) {
			n = send(fd, buf, sizeof(buf), 0);
		} else if (!strcmp(method, "splice")) {
			int pfd[2];

			if (pipe(pfd) < 0 || write(pfd[1], buf, sizeof(buf)) < 0)
				FAIL("pipe");
			n = splice(pfd[0], NULL, fd, NULL, sizeof(buf), 0);
			close(pfd[0]);
			close(pfd[1]);
		} else {
			usage();
			return EXIT_USAGE;
		}
		if (n < 0)
			FAIL(method);
		sent++;
	}
	return report(method, 0);
}

/* IPv4 with a record-route option, IPv6 with hop-by-hop and destination
 * options headers (PadN only): not source routes, just extra headers. */
static int do_ipopt(const char *a, const char *p)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (parse_addr(a, p, &ss, &len))
		return EXIT_USAGE;
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0)
		FAIL("socket");
	if (ss.ss_family == AF_INET) {
		/* RR: type 7, length 11, pointer 4, two empty slots; then EOL. */
		unsigned char opt[12] = {IPOPT_RR, 11, 4};

		if (setsockopt(fd, IPPROTO_IP, IP_OPTIONS, opt, sizeof(opt)) < 0)
			FAIL("setsockopt");
	} else {
		/* Next header (kernel fills), length 0 (8 bytes), PadN of 4. */
		unsigned char ext[8] = {0, 0, 1, 4, 0, 0, 0, 0};

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_HOPOPTS, ext, sizeof(ext)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_DSTOPTS, ext, sizeof(ext)) < 0)
			FAIL("setsockopt");
	}
	return sendto_n(fd, &ss, len, "sendto");
}

/* ---- TCP ---- */

static int tcp_connect_send(int proto, const char *a, const char *p, bool fastopen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	struct pollfd pfd;
	int fd, err = 0;
	socklen_t el = sizeof(err);

	if (parse_addr(a, p, &ss, &len))
		return EXIT_USAGE;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, proto);
	if (fd < 0)
		FAIL("socket");
	/* A reset on close: nothing of this attempt trickles into the next. */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (fastopen) {
		if (sendto(fd, PAYLOAD, sizeof(PAYLOAD), MSG_FASTOPEN, (struct sockaddr *)&ss,
			   len) < 0 &&
		    errno != EINPROGRESS)
			FAIL("sendto_fastopen");
	} else if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
		FAIL("connect");
	}
	pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
	if (poll(&pfd, 1, 1000) <= 0) {
		errno = ETIMEDOUT;
		FAIL("connect");
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err) {
		errno = err;
		FAIL("connect");
	}
	if (write(fd, PAYLOAD, sizeof(PAYLOAD)) < 0)
		FAIL("write");
	sent++;
	sleep_ms(100);
	return report("write", 0);
}

/* ---- raw, ping ---- */

static int do_icmp(const char *a, bool raw)
{
	struct sockaddr_storage ss;
	socklen_t len;
	unsigned char pkt[64] = {0};
	int fd, proto;

	if (parse_addr(a, NULL, &ss, &len))
		return EXIT_USAGE;
	proto = ss.ss_family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	fd = socket(ss.ss_family, raw ? SOCK_RAW : SOCK_DGRAM, proto);
	if (fd < 0)
		FAIL("socket");
	pkt[0] = ss.ss_family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
	if (ss.ss_family == AF_INET && raw) {
		/* The kernel does not checksum raw ICMPv4; an echo with a wrong
		 * sum still reaches the host, this one is right all the same. */
		uint32_t sum = 0;

		pkt[4] = 0x12;
		for (size_t i = 0; i < sizeof(pkt); i += 2)
			sum += (uint32_t)(pkt[i] << 8 | pkt[i + 1]);
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		pkt[2] = (unsigned char)(~sum >> 8);
		pkt[3] = (unsigned char)~sum;
	}
	for (int i = 0; i < NSEND; i++, sent++)
		if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&ss, len) < 0)
			FAIL("sendto");
	return report("sendto", 0);
}

/* ---- AF_PACKET, AF_XDP ---- */

static int do_packet(const char *ifname, int type)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_halen = ETH_ALEN};
	unsigned char frame[64] = {0};
	size_t off = 0;
	int fd;

	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll.sll_ifindex)
		FAIL("if_nametoindex");
	sll.sll_protocol = htons(ETH_P_BYPASS);
	memset(sll.sll_addr, 0xff, ETH_ALEN);
	fd = socket(AF_PACKET, type, htons(ETH_P_BYPASS));
	if (fd < 0)
		FAIL("socket");
	if (type == SOCK_RAW) {
		memset(frame, 0xff, ETH_ALEN); /* dst broadcast, src left 0 */
		frame[12] = ETH_P_BYPASS >> 8;
		frame[13] = ETH_P_BYPASS & 0xff;
		off = ETH_HLEN;
	}
	memcpy(frame + off, PAYLOAD, sizeof(PAYLOAD));
	for (int i = 0; i < NSEND; i++, sent++)
		if (sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&sll, sizeof(sll)) < 0)
			FAIL("sendto");
	return report("sendto", 0);
}

/* AF_XDP in copy mode on IFNAME's queue 0: a UMEM, the rings, bind, then
 * NSEND frames through the TX ring. */
static int do_xdp(const char *ifname)
{
	enum { NFRAMES = 8, FSIZE = 4096, NDESC = 8 };
	struct xdp_umem_reg reg = {.len = NFRAMES * FSIZE, .chunk_size = FSIZE};
	struct sockaddr_xdp sx = {.sxdp_family = AF_XDP, .sxdp_flags = XDP_COPY};
	struct xdp_mmap_offsets mo;
	socklen_t ol = sizeof(mo);
	int fd, n = NDESC;
	unsigned char *umem, *tx;
	unsigned *prod;
	struct xdp_desc *descs;

	sx.sxdp_ifindex = if_nametoindex(ifname);
	if (!sx.sxdp_ifindex)
		FAIL("if_nametoindex");
	fd = socket(AF_XDP, SOCK_RAW, 0);
	if (fd < 0)
		FAIL("socket");
	umem = mmap(NULL, reg.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (umem == MAP_FAILED)
		FAIL("mmap_umem");
	reg.addr = (uint64_t)(uintptr_t)umem;
	if (setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) < 0)
		FAIL("umem_reg");
	if (setsockopt(fd, SOL_XDP, XDP_UMEM_FILL_RING, &n, sizeof(n)) < 0 ||
	    setsockopt(fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &n, sizeof(n)) < 0 ||
	    setsockopt(fd, SOL_XDP, XDP_TX_RING, &n, sizeof(n)) < 0)
		FAIL("rings");
	if (getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, &mo, &ol) < 0)
		FAIL("mmap_offsets");
	tx = mmap(NULL, mo.tx.desc + NDESC * sizeof(struct xdp_desc), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, fd, XDP_PGOFF_TX_RING);
	if (tx == MAP_FAILED)
		FAIL("mmap_tx");
	if (bind(fd, (struct sockaddr *)&sx, sizeof(sx)) < 0)
		FAIL("bind");
	prod = (unsigned *)(tx + mo.tx.producer);
	descs = (struct xdp_desc *)(tx + mo.tx.desc);
	for (int i = 0; i < NSEND; i++) {
		unsigned char *f = umem + (size_t)i * FSIZE;

		memset(f, 0xff, ETH_ALEN);
		memset(f + ETH_ALEN, 0x02, ETH_ALEN);
		f[12] = ETH_P_BYPASS >> 8;
		f[13] = ETH_P_BYPASS & 0xff;
		memcpy(f + ETH_HLEN, PAYLOAD, sizeof(PAYLOAD));
		descs[i] = (struct xdp_desc){.addr = (uint64_t)i * FSIZE, .len = 64};
	}
	__atomic_store_n(prod, *prod + NSEND, __ATOMIC_RELEASE);
	if (sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0)
		FAIL("sendto");
	sent = NSEND;
	sleep_ms(50);
	return report("sendto", 0);
}

/* SO_BINDTODEVICE (or IP_UNICAST_IF) to a real device, then a datagram to
 * a loopback address. */
static int do_bindtodevice(const char *ifname, const char *a, const char *p, bool unicastif)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, idx = (int)if_nametoindex(ifname), r;

	if (parse_addr(a, p, &ss, &len))
		return EXIT_USAGE;
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0)
		FAIL("socket");
	if (!unicastif) {
		r = setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname));
	} else if (ss.ss_family == AF_INET) {
		uint32_t nidx = htonl((uint32_t)idx); /* IPv4 takes it in network order */

		r = setsockopt(fd, IPPROTO_IP, IP_UNICAST_IF, &nidx, sizeof(nidx));
	} else {
		r = setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_IF, &idx, sizeof(idx));
	}
	if (r < 0)
		FAIL("setsockopt");
	return sendto_n(fd, &ss, len, "sendto");
}

/* IP_TRANSPARENT (CAP_NET_ADMIN): bound to SRC, an address not of this
 * host (a forged source), then datagrams or a connect to ADDR. */
static int do_transparent(const char *src, const char *a, const char *p, bool tcp)
{
	struct sockaddr_storage ss, bs;
	socklen_t len, bl;
	int fd, one = 1, r;

	if (parse_addr(a, p, &ss, &len) || parse_addr(src, NULL, &bs, &bl))
		return EXIT_USAGE;
	if (bs.ss_family != ss.ss_family) {
		fprintf(stderr, "bypass_probe: %s and %s are of different families\n", src, a);
		return EXIT_USAGE;
	}
	fd = socket(ss.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK, 0);
	if (fd < 0)
		FAIL("socket");
	if (ss.ss_family == AF_INET)
		r = setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one));
	else
		r = setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one, sizeof(one));
	if (r < 0)
		FAIL("setsockopt");
	if (bind(fd, (struct sockaddr *)&bs, bl) < 0)
		FAIL("bind");
	if (!tcp)
		return sendto_n(fd, &ss, len, "sendto");
	/* The SYN is what counts: the answer goes to SRC, not here. */
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS)
		FAIL("connect");
	sent++;
	sleep_ms(300);
	return report("connect", 0);
}

/* ---- sockets from elsewhere ---- */

static int unix_at(const char *path, bool listen_)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || strlen(path) >= sizeof(un.sun_path))
		return -1;
	strcpy(un.sun_path, path);
	if (!listen_)
		return connect(fd, (struct sockaddr *)&un, sizeof(un)) < 0 ? -1 : fd;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0 || chmod(path, 0777) < 0 ||
	    listen(fd, 8) < 0)
		return -1;
	return fd;
}

/* Helper: every client gets a fresh unconnected UDP socket of each family
 * over SCM_RIGHTS (IPv4 first, then IPv6). */
static int fd_server(const char *path)
{
	int l = unix_at(path, true);

	if (l < 0)
		FAIL("listen");
	report("listen", 0);
	for (;;) {
		int c = accept(l, NULL, NULL), s[2];
		char cbuf[CMSG_SPACE(sizeof(s))], x = 'x';
		struct iovec iov = {.iov_base = &x, .iov_len = 1};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = cbuf,
				   .msg_controllen = sizeof(cbuf)};
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

		if (c < 0)
			continue;
		s[0] = socket(AF_INET, SOCK_DGRAM, 0);
		s[1] = socket(AF_INET6, SOCK_DGRAM, 0);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(s));
		memcpy(CMSG_DATA(cm), s, sizeof(s));
		if (sendmsg(c, &m, 0) < 0)
			perror("bypass_probe: fd-server: sendmsg");
		close(s[0]);
		close(s[1]);
		close(c);
	}
}

/* The received socket of ADDR's family. */
static int scm_rights(const char *path, const char *a, const char *p)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int c, s[2];
	char cbuf[CMSG_SPACE(sizeof(s))], x;
	struct iovec iov = {.iov_base = &x, .iov_len = 1};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;

	if (parse_addr(a, p, &ss, &len))
		return EXIT_USAGE;
	c = unix_at(path, false);
	if (c < 0)
		FAIL("connect_unix");
	if (recvmsg(c, &m, 0) <= 0)
		FAIL("recvmsg");
	cm = CMSG_FIRSTHDR(&m);
	if (!cm || cm->cmsg_type != SCM_RIGHTS) {
		errno = EBADMSG;
		FAIL("recvmsg");
	}
	memcpy(s, CMSG_DATA(cm), sizeof(s));
	return sendto_n(s[ss.ss_family == AF_INET6], &ss, len, "sendto");
}

/* Helper: holds an unconnected UDP socket; READYFILE gets "PID FD". */
static int fd_holder(const char *ready)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	char tmp[4096];
	FILE *f;

	if (s < 0)
		FAIL("socket");
	snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
	f = fopen(tmp, "w");
	if (!f)
		FAIL("ready");
	fprintf(f, "%d %d\n", (int)getpid(), s);
	fclose(f);
	chmod(tmp, 0644);
	if (rename(tmp, ready) < 0)
		FAIL("ready");
	for (;;)
		pause();
}

static int pidfd_getfd_send(const char *pid, const char *tfd, const char *a, const char *p)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int pfd, fd;

	if (parse_addr(a, p, &ss, &len))
		return EXIT_USAGE;
	pfd = (int)syscall(SYS_pidfd_open, atoi(pid), 0);
	if (pfd < 0)
		FAIL("pidfd_open");
	fd = (int)syscall(SYS_pidfd_getfd, pfd, atoi(tfd), 0);
	if (fd < 0)
		FAIL("pidfd_getfd");
	return sendto_n(fd, &ss, len, "sendto");
}

/* Helper: a UDP socket as fd N (made here, outside the policy), then exec. */
static int with_socket(const char *n, const char *kind, char **argv)
{
	int s = socket(!strcmp(kind, "udp6") ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);

	if (s < 0)
		FAIL("socket");
	if (s != atoi(n) && dup2(s, atoi(n)) < 0)
		FAIL("dup2");
	execvp(argv[0], argv);
	FAIL("exec");
}

/* ---- leaving the cgroup, switching hush off ---- */

static int cgroup_move(const char *cg, const char *a, const char *p)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char path[4096];
	int fd;

	if (parse_addr(a, p, &ss, &len))
		return EXIT_USAGE;
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	fd = open(path, O_WRONLY);
	if (fd < 0 || dprintf(fd, "%d\n", (int)getpid()) < 0)
		FAIL("cgroup.procs");
	close(fd);
	return udp_sendto_n(&ss, len);
}

static int kill_send(const char *pid, const char *a, const char *p)
{
	struct sockaddr_storage ss;
	socklen_t len;
	pid_t t = strcmp(pid, "ppid") ? atoi(pid) : getppid();

	if (parse_addr(a, p, &ss, &len))
		return EXIT_USAGE;
	if (t <= 1) {
		errno = EINVAL;
		FAIL("kill");
	}
	if (kill(t, SIGKILL) < 0)
		FAIL("kill");
	sleep_ms(300);
	return udp_sendto_n(&ss, len);
}

/* The cgroup id of a cgroup directory (its inode number). */
static uint64_t cg_id(const char *dir)
{
	struct stat st;

	return stat(dir, &st) ? 0 : (uint64_t)st.st_ino;
}

/* Detach every BPF link on this process's cgroup or an ancestor, up to and
 * including WITHIN, a cgroup of the test (never above it). */
static int detach_links(const char *within, const char *a, const char *p)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char self[4096] = "", dir[8192];
	const char *rel, *top = strstr(within, "/hush-test.");
	uint64_t ids[64];
	int nids = 0;
	size_t wl = strlen(within);
	__u32 id = 0;
	FILE *f;

	if (parse_addr(a, p, &ss, &len))
		return EXIT_USAGE;
	f = fopen("/proc/self/cgroup", "r");
	if (!f)
		FAIL("proc_cgroup");
	/* The cgroup2 line, "0::/path" (hybrid hosts list v1 ones first). */
	while (fgets(self, sizeof(self), f) && strncmp(self, "0::", 3))
		;
	fclose(f);
	self[strcspn(self, "\n")] = 0;
	rel = strstr(self, "::");
	if (!top || !rel) {
		errno = EINVAL;
		FAIL("within");
	}
	/* "0::/hush-test.X/..." below the mount WITHIN starts with. */
	snprintf(dir, sizeof(dir), "%.*s%s", (int)(top - within), within, rel + 2);
	while (nids < 64 && strlen(dir) >= wl && !strncmp(dir, within, wl)) {
		char *slash = strrchr(dir, '/');

		ids[nids++] = cg_id(dir);
		if (strlen(dir) == wl || !slash)
			break;
		*slash = 0;
	}
	while (!bpf_link_get_next_id(id, &id)) {
		struct bpf_link_info info = {0};
		__u32 il = sizeof(info);
		int lfd = bpf_link_get_fd_by_id(id);

		if (lfd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(lfd, &info, &il) && info.type == BPF_LINK_TYPE_CGROUP)
			for (int i = 0; i < nids; i++)
				if (ids[i] && info.cgroup.cgroup_id == ids[i] &&
				    !bpf_link_detach(lfd))
					sent++;
		close(lfd);
	}
	fprintf(stderr, "bypass_probe: detached %ld links\n", sent);
	sent = 0;
	return udp_sendto_n(&ss, len);
}

static int setns_send(const char *ns, const char *a, const char *p)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int nfd;

	if (parse_addr(a, p, &ss, &len))
		return EXIT_USAGE;
	nfd = open(ns, O_RDONLY);
	if (nfd < 0)
		FAIL("open_ns");
	if (setns(nfd, CLONE_NEWNET) < 0)
		FAIL("setns");
	return udp_sendto_n(&ss, len);
}

/* A listener on LPORT, then a second socket on the same port (SO_REUSEPORT)
 * connects to ADDR: its packets look like a listener's replies. */
static int reuseport(const char *lport, const char *a, const char *p)
{
	struct sockaddr_storage ss, ls;
	socklen_t len, ll;
	int one = 1, l, fd;

	if (parse_addr(a, p, &ss, &len) ||
	    parse_addr(ss.ss_family == AF_INET ? "0.0.0.0" : "::", lport, &ls, &ll))
		return EXIT_USAGE;
	l = socket(ss.ss_family, SOCK_STREAM, 0);
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (l < 0 || fd < 0)
		FAIL("socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&ls, ll) < 0 || listen(l, 4) < 0)
		FAIL("listen");
	if (bind(fd, (struct sockaddr *)&ls, ll) < 0)
		FAIL("bind");
	if (connect(fd, (struct sockaddr *)&ss, len) < 0)
		FAIL("connect");
	if (write(fd, PAYLOAD, sizeof(PAYLOAD)) < 0)
		FAIL("write");
	sent++;
	sleep_ms(100);
	return report("write", 0);
}

/* A TCP connection from SRC:PORT (an address of IFNAME) to LOOPBACK:PORT,
 * accepted by a listener of this process on the wildcard address of PORT;
 * then SO_BINDTODEVICE to IFNAME and a write: its segments would leave on
 * IFNAME for the loopback address, from a local port a listener holds. */
static int lo_tcp_dev(const char *ifname, const char *src, const char *a, const char *p)
{
	struct sockaddr_storage ss, bs, ls;
	socklen_t len, bl, ll;
	int one = 1, l, fd, c;

	if (parse_addr(a, p, &ss, &len) || parse_addr(src, p, &bs, &bl) ||
	    parse_addr(ss.ss_family == AF_INET ? "0.0.0.0" : "::", p, &ls, &ll))
		return EXIT_USAGE;
	l = socket(ss.ss_family, SOCK_STREAM, 0);
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (l < 0 || fd < 0)
		FAIL("socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&ls, ll) < 0 || listen(l, 4) < 0)
		FAIL("listen");
	if (bind(fd, (struct sockaddr *)&bs, bl) < 0)
		FAIL("bind");
	if (connect(fd, (struct sockaddr *)&ss, len) < 0)
		FAIL("connect");
	c = accept(l, NULL, NULL);
	if (c < 0)
		FAIL("accept");
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0)
		FAIL("setsockopt");
	if (write(fd, PAYLOAD, sizeof(PAYLOAD)) < 0)
		FAIL("write");
	sent++;
	sleep_ms(300); /* a retransmission or two */
	close(c);
	return report("write", 0);
}

/* A server in the policy: accept one connection, send on it. */
static int serve_once(const char *port, const char *ready)
{
	struct sockaddr_storage ls;
	socklen_t ll;
	int one = 1, l, c;
	FILE *f;

	if (parse_addr("::", port, &ls, &ll))
		return EXIT_USAGE;
	l = socket(AF_INET6, SOCK_STREAM, 0);
	if (l < 0)
		FAIL("socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&ls, ll) < 0 || listen(l, 4) < 0)
		FAIL("listen");
	f = fopen(ready, "w");
	if (f)
		fclose(f);
	c = accept(l, NULL, NULL);
	if (c < 0)
		FAIL("accept");
	for (int i = 0; i < NSEND; i++, sent++)
		if (write(c, PAYLOAD, sizeof(PAYLOAD)) < 0)
			FAIL("write");
	sleep_ms(100);
	return report("write", 0);
}

/* ---- the command line ---- */

/* What runs each technique: argv its arguments (at least the table's nargs
 * of them), op its name, for the entries that run several variants. */
static int run_udp(int argc, char **argv)
{
	return do_udp(0, argv[0], argv[1], argc > 2 ? argv[2] : "sendto");
}

static int run_udplite(int argc, char **argv)
{
	return do_udp(IPPROTO_UDPLITE, argv[0], argv[1], "sendto");
}

static int run_ipopt(int argc, char **argv)
{
	return do_ipopt(argv[0], argv[1]);
}

static int run_tcp(int argc, char **argv)
{
	return tcp_connect_send(!strcmp(op, "mptcp") ? IPPROTO_MPTCP : 0, argv[0], argv[1],
				!strcmp(op, "fastopen"));
}

static int run_icmp(int argc, char **argv)
{
	return do_icmp(argv[0], !strcmp(op, "raw"));
}

static int run_packet(int argc, char **argv)
{
	return do_packet(argv[0], !strcmp(op, "packet-raw") ? SOCK_RAW : SOCK_DGRAM);
}

static int run_xdp(int argc, char **argv)
{
	return do_xdp(argv[0]);
}

static int run_bindtodevice(int argc, char **argv)
{
	return do_bindtodevice(argv[0], argv[1], argv[2], !strcmp(op, "unicastif"));
}

static int run_transparent(int argc, char **argv)
{
	return do_transparent(argv[0], argv[1], argv[2], argc > 3 && !strcmp(argv[3], "tcp"));
}

static int run_scm_rights(int argc, char **argv)
{
	return scm_rights(argv[0], argv[1], argv[2]);
}

static int run_pidfd_getfd(int argc, char **argv)
{
	return pidfd_getfd_send(argv[0], argv[1], argv[2], argv[3]);
}

static int run_use_fd(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (parse_addr(argv[1], argv[2], &ss, &len))
		return EXIT_USAGE;
	return sendto_n(atoi(argv[0]), &ss, len, "sendto");
}

static int run_cgroup_move(int argc, char **argv)
{
	return cgroup_move(argv[0], argv[1], argv[2]);
}

static int run_kill_send(int argc, char **argv)
{
	return kill_send(argv[0], argv[1], argv[2]);
}

static int run_detach_links(int argc, char **argv)
{
	return detach_links(argv[0], argv[1], argv[2]);
}

static int run_setns(int argc, char **argv)
{
	return setns_send(argv[0], argv[1], argv[2]);
}

static int run_reuseport(int argc, char **argv)
{
	return reuseport(argv[0], argv[1], argv[2]);
}

static int run_lo_tcp_dev(int argc, char **argv)
{
	return lo_tcp_dev(argv[0], argv[1], argv[2], argv[3]);
}

static int run_serve_once(int argc, char **argv)
{
	return serve_once(argv[0], argv[1]);
}

static int run_fd_server(int argc, char **argv)
{
	return fd_server(argv[0]);
}

static int run_fd_holder(int argc, char **argv)
{
	return fd_holder(argv[0]);
}

static int run_with_socket(int argc, char **argv)
{
	if (strcmp(argv[2], "--")) {
		usage();
		return EXIT_USAGE;
	}
	return with_socket(argv[0], argv[1], argv + 3);
}

/* TECHNIQUE -> the arguments it needs at least, and what runs it. */
static const struct technique {
	const char *name;
	int nargs;
	int (*run)(int argc, char **argv);
} techniques[] = {
    {"udp", 2, run_udp},
    {"udplite", 2, run_udplite},
    {"ipopt", 2, run_ipopt},
    {"ip6ext", 2, run_ipopt},
    {"tcp", 2, run_tcp},
    {"fastopen", 2, run_tcp},
    {"mptcp", 2, run_tcp},
    {"raw", 1, run_icmp},
    {"ping", 1, run_icmp},
    {"packet-raw", 1, run_packet},
    {"packet-dgram", 1, run_packet},
    {"xdp", 1, run_xdp},
    {"bindtodevice", 3, run_bindtodevice},
    {"unicastif", 3, run_bindtodevice},
    {"transparent", 3, run_transparent},
    {"scm-rights", 3, run_scm_rights},
    {"pidfd-getfd", 4, run_pidfd_getfd},
    {"use-fd", 3, run_use_fd},
    {"cgroup-move", 3, run_cgroup_move},
    {"kill-send", 3, run_kill_send},
    {"detach-links", 3, run_detach_links},
    {"setns", 3, run_setns},
    {"reuseport", 3, run_reuseport},
    {"lo-tcp-dev", 4, run_lo_tcp_dev},
    {"serve-once", 2, run_serve_once},
    {"fd-server", 1, run_fd_server},
    {"fd-holder", 1, run_fd_holder},
    {"with-socket", 4, run_with_socket},
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage();
		return EXIT_USAGE;
	}
	op = argv[1];
	for (size_t i = 0; i < sizeof(techniques) / sizeof(techniques[0]); i++) {
		const struct technique *t = &techniques[i];

		if (strcmp(op, t->name))
			continue;
		if (argc - 2 < t->nargs)
			break;
		return t->run(argc - 2, argv + 2);
	}
	usage();
	return EXIT_USAGE;
}
