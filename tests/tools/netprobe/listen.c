// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* netprobe: the listeners (listen-tcp, listen-udp) and fds. */
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

void peer_str(const struct sockaddr_storage *ss, char *buf, size_t n, char *abuf, size_t an,
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

void print_peer_event(const char *event, const struct sockaddr_storage *from,
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

int listen_socket(int type, const char *addr, int port, const struct opts *o)
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
int do_listen_tcp(const char *addr, int port, const struct opts *o)
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
int do_listen_udp(const char *addr, int port, const struct opts *o)
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
int do_fds(void)
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
