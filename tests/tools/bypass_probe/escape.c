// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bypass_probe: leaving the cgroup, switching hush off, other namespaces, SO_REUSEPORT, a loopback
 * source on a real device. */
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

#include "tests/tools/bypass_probe/bypass_probe.h"

int cgroup_move(const char *cg, const char *a, const char *p)
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

int kill_send(const char *pid, const char *a, const char *p)
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
uint64_t cg_id(const char *dir)
{
	struct stat st;

	return stat(dir, &st) ? 0 : (uint64_t)st.st_ino;
}

/* Detach every BPF link on this process's cgroup or an ancestor, up to and
 * including WITHIN, a cgroup of the test (never above it). */
int detach_links(const char *within, const char *a, const char *p)
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

int setns_send(const char *ns, const char *a, const char *p)
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
int reuseport(const char *lport, const char *a, const char *p)
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
int lo_tcp_dev(const char *ifname, const char *src, const char *a, const char *p)
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
int serve_once(const char *port, const char *ready)
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
