// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Engine: the DNS redirect's user side (bpf/dns_redirect.h has the picture).  The
 * DNS proxy's sockets go into hush_dnssk and their ports, process and
 * network namespace into hush_cfg; the programs redirect port-53 traffic
 * of enforced cgroups there.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/engine_int.h"
#include "agent/log.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

static uint64_t netns_cookie(int fd)
{
	uint64_t c = 0;
	socklen_t len = sizeof(c);

	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &c, &len))
		return 0;
	return c;
}

static uint16_t sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

int engine_dns_register(struct engine *e, const int fds[HUSH_DNS_SLOTS])
{
	int mfd = bpf_map__fd(e->sa->maps.hush_dnssk);
	uint64_t ns = 0;

	engine_dns_unregister(e);
	for (uint32_t i = 0; i < HUSH_DNS_SLOTS; i++) {
		uint64_t v = (uint64_t)fds[i];

		if (fds[i] < 0)
			continue;
		if (bpf_map_update_elem(mfd, &i, &v, BPF_ANY)) {
			int ret = -errno;

			log_errno(ret, "cannot hand the DNS proxy's socket to the redirect (socket "
				       "map update; needs Linux >= 5.7 for UDP sockets)");
			return ret;
		}
		if (!ns)
			ns = netns_cookie(fds[i]);
	}
	if (!ns) {
		log_warnx("cannot read the DNS proxy's network namespace cookie (SO_NETNS_COOKIE "
			  "needs Linux >= 5.14): DNS stays denied");
		return -ENOTSUP;
	}
	e->cfg->dns_netns = ns;
	e->cfg->dns_tgid = (uint32_t)getpid();
	/* Ports last: they switch the redirect on. */
	for (int i = 0; i < HUSH_DNS_SLOTS; i++)
		__atomic_store_n(&e->cfg->dns_port[i], fds[i] >= 0 ? sock_port(fds[i]) : 0,
				 __ATOMIC_RELEASE);
	return 0;
}

void engine_dns_resolver(struct engine *e, int family, const uint8_t addr[16], uint16_t port)
{
	/* Port first: while it changes, the proxy's forwards may be refused,
	 * never let through somewhere else. */
	__atomic_store_n(&e->cfg->dns_resolver_port, 0, __ATOMIC_SEQ_CST);
	memset(e->cfg->dns_resolver, 0, 16);
	e->cfg->dns_resolver_family = 0;
	if (!family)
		return;
	memcpy(e->cfg->dns_resolver, addr, family == AF_INET ? 4 : 16);
	e->cfg->dns_resolver_family = family == AF_INET ? 2 : 10;
	__atomic_store_n(&e->cfg->dns_resolver_port, port, __ATOMIC_SEQ_CST);
}

void engine_dns_unregister(struct engine *e)
{
	int mfd = bpf_map__fd(e->sa->maps.hush_dnssk);

	for (int i = 0; i < HUSH_DNS_SLOTS; i++)
		__atomic_store_n(&e->cfg->dns_port[i], 0, __ATOMIC_SEQ_CST);
	e->cfg->dns_tgid = 0;
	for (uint32_t i = 0; i < HUSH_DNS_SLOTS; i++)
		bpf_map_delete_elem(mfd, &i);
}

int engine_dns_client(const struct engine *e, unsigned slot, uint16_t port,
		      struct hush_dns_client *out)
{
	struct hush_dns_pkey k = {.port = port, .slot = (uint8_t)slot};

	if (bpf_map_lookup_elem(bpf_map__fd(e->eg->maps.hush_dnscl), &k, out))
		return -ENOENT;
	return 0;
}
