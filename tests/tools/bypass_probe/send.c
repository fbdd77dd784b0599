// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bypass_probe: UDP (every send call, io_uring), UDP-Lite, IP options, TCP (fastopen, MPTCP), raw
 * and ping sockets. */
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

#include "tests/tools/bypass_probe/bypass_probe.h"

int uring_sendmsg(int fd, struct msghdr *msg)
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

/* udp ADDR PORT METHOD: unconnected sends name the address in each call;
 * write/writev/send/splice connect first. */
int do_udp(int proto, const char *a, const char *p, const char *method)
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
int do_ipopt(const char *a, const char *p)
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

int tcp_connect_send(int proto, const char *a, const char *p, bool fastopen)
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

int do_icmp(const char *a, bool raw)
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
