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
 *
 * Here: main, the arguments and the output line; the probes are in
 * tests/tools/bypass_probe/: send.c (UDP, TCP, raw, ping, io_uring), iface.c
 * (AF_PACKET, AF_XDP, device binding, transparent), fds.c (sockets handed in),
 * escape.c (leaving the cgroup, switching hush off); bypass_probe.h ties them.
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

const char *op = "?";
long sent;

/* The one output line; returns the exit status. */
int report(const char *stage, int err)
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

void usage(void)
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
int parse_addr(const char *a, const char *p, struct sockaddr_storage *ss, socklen_t *len)
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

void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* NSEND datagrams with sendto on FD (connected or not). */
int sendto_n(int fd, const struct sockaddr_storage *ss, socklen_t len, const char *stage)
{
	for (int i = 0; i < NSEND; i++) {
		if (sendto(fd, PAYLOAD, sizeof(PAYLOAD), 0, (const struct sockaddr *)ss, len) < 0)
			FAIL(stage);
		sent++;
	}
	return report(stage, 0);
}

/* A fresh UDP socket, then NSEND datagrams to ss. */
int udp_sendto_n(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_DGRAM, 0);

	if (fd < 0)
		FAIL("socket");
	return sendto_n(fd, ss, len, "sendto");
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
