// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bypass_probe: sockets handed in from outside the policy (SCM_RIGHTS, pidfd_getfd, inherited fds).
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

#include "tests/tools/bypass_probe/bypass_probe.h"

int unix_at(const char *path, bool listen_)
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
int fd_server(const char *path)
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
int scm_rights(const char *path, const char *a, const char *p)
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
int fd_holder(const char *ready)
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

int pidfd_getfd_send(const char *pid, const char *tfd, const char *a, const char *p)
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
int with_socket(const char *n, const char *kind, char **argv)
{
	int s = socket(!strcmp(kind, "udp6") ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);

	if (s < 0)
		FAIL("socket");
	if (s != atoi(n) && dup2(s, atoi(n)) < 0)
		FAIL("dup2");
	execvp(argv[0], argv);
	FAIL("exec");
}
