/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * bypass_probe's pieces (tests/tools/bypass_probe.c: what it does, the
 * output line, main and the technique table): send.c UDP, TCP, raw and ping
 * sockets (and io_uring); iface.c AF_PACKET, AF_XDP, device binding and
 * transparent sockets; fds.c sockets handed in from elsewhere; escape.c
 * leaving the cgroup and switching hush off.
 */
#ifndef HUSH_TESTS_BYPASS_PROBE_H
#define HUSH_TESTS_BYPASS_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

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

/* What the output line says (bypass_probe.c). */
extern const char *op;
extern long sent;

/* bypass_probe.c: the output line, the usage text and shared helpers */
void usage(void);
int report(const char *stage, int err);
int parse_addr(const char *a, const char *p, struct sockaddr_storage *ss, socklen_t *len);
void sleep_ms(long ms);
int sendto_n(int fd, const struct sockaddr_storage *ss, socklen_t len, const char *stage);
int udp_sendto_n(const struct sockaddr_storage *ss, socklen_t len);
#define FAIL(stage) return report(stage, errno)

/* send.c */
int uring_sendmsg(int fd, struct msghdr *msg);
int do_udp(int proto, const char *a, const char *p, const char *method);
int do_ipopt(const char *a, const char *p);
int tcp_connect_send(int proto, const char *a, const char *p, bool fastopen);
int do_icmp(const char *a, bool raw);

/* iface.c */
int do_packet(const char *ifname, int type);
int do_xdp(const char *ifname);
int do_bindtodevice(const char *ifname, const char *a, const char *p, bool unicastif);
int do_transparent(const char *src, const char *a, const char *p, bool tcp);

/* fds.c */
int unix_at(const char *path, bool listen_);
int fd_server(const char *path);
int scm_rights(const char *path, const char *a, const char *p);
int fd_holder(const char *ready);
int pidfd_getfd_send(const char *pid, const char *tfd, const char *a, const char *p);
int with_socket(const char *n, const char *kind, char **argv);

/* escape.c */
int cgroup_move(const char *cg, const char *a, const char *p);
int kill_send(const char *pid, const char *a, const char *p);
uint64_t cg_id(const char *dir);
int detach_links(const char *within, const char *a, const char *p);
int setns_send(const char *ns, const char *a, const char *p);
int reuseport(const char *lport, const char *a, const char *p);
int lo_tcp_dev(const char *ifname, const char *src, const char *a, const char *p);
int serve_once(const char *port, const char *ready);

#endif /* HUSH_TESTS_BYPASS_PROBE_H */
