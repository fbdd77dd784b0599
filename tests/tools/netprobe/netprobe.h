/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * netprobe's pieces (tests/tools/netprobe.c: what it does, main and the
 * arguments): report.c prints a result as JSON, probe_ip.c the TCP and UDP
 * attempts, probe_raw.c ICMP and source-routed ones, listen.c the listeners.
 */
#ifndef HUSH_TESTS_NETPROBE_H
#define HUSH_TESTS_NETPROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "agent/json.h"

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

extern const char *prog;

/* netprobe.c: arguments */
int parse_long(const char *s, long lo, long hi, long *out);
int parse_port(const char *s, int *port);
int parse_addr(const char *s, int port, int want_family, struct sockaddr_storage *ss,
	       socklen_t *len);
bool is_mapped(const struct sockaddr_storage *ss);
int parse_opts(int argc, char **argv, struct opts *o);

/* report.c */
void json_bytes(struct json_writer *w, const unsigned char *b, size_t n);
const char *family_name(int family);
const char *errno_name(int err);
int report(const struct result *r);

/* probe_ip.c */
void set_v6only(int fd, int on);
int bind_dev(int fd, const struct opts *o, struct result *r);
int wait_fd(int fd, short events, long long deadline);
int do_connect(const char *op, int want_family, const char *addr, int port, const struct opts *o);
const char *payload_of(const struct opts *o);
int udp_socket(int family, struct result *r);
int send_once(int fd, const struct sockaddr_storage *ss, socklen_t len, const struct opts *o,
	      struct result *r);
int do_sendto(const char *addr, int port, const struct opts *o);
int do_storm(const char *addr, int port, const struct opts *o);
int do_sendto6_v4(const char *addr, int port, const struct opts *o);
int do_udpconnect(const char *addr, int port, const struct opts *o);

/* probe_raw.c */
uint16_t inet_csum(const void *data, size_t len);
int do_ping(const char *op, bool raw, const char *addr, const struct opts *o);
int do_srcroute(const char *addr, int port, const struct opts *o);
int do_rthdr6(const char *addr, int port, const struct opts *o);

/* listen.c */
void peer_str(const struct sockaddr_storage *ss, char *buf, size_t n, char *abuf, size_t an,
	      int *port);
void print_peer_event(const char *event, const struct sockaddr_storage *from,
		      const unsigned char *data, ssize_t len);
int listen_socket(int type, const char *addr, int port, const struct opts *o);
int do_listen_tcp(const char *addr, int port, const struct opts *o);
int do_listen_udp(const char *addr, int port, const struct opts *o);
int do_fds(void);

#endif /* HUSH_TESTS_NETPROBE_H */
