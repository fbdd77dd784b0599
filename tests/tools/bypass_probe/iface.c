// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bypass_probe: AF_PACKET, AF_XDP, SO_BINDTODEVICE / *_UNICAST_IF and transparent sockets. */
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

int do_packet(const char *ifname, int type)
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
int do_xdp(const char *ifname)
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
int do_bindtodevice(const char *ifname, const char *a, const char *p, bool unicastif)
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
int do_transparent(const char *src, const char *a, const char *p, bool tcp)
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
