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
 *
 * Here: main and the arguments; the rest is in tests/tools/netprobe/:
 * report.c (the JSON line), probe_ip.c (TCP, UDP), probe_raw.c (ICMP,
 * source routes), listen.c (listeners); netprobe.h ties them.
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
#include "tests/tools/netprobe/netprobe.h"

const char *prog = "netprobe";

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

/* ---- arguments ---- */

int parse_long(const char *s, long lo, long hi, long *out)
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

int parse_port(const char *s, int *port)
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
int parse_addr(const char *s, int port, int want_family, struct sockaddr_storage *ss,
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

bool is_mapped(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	return ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr);
}

/* Options after the positional arguments; all optional. */
int parse_opts(int argc, char **argv, struct opts *o)
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
