// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Engine: the DNS redirect's user side (bpf/dns_redirect.h has the picture).  The
 * DNS proxy's sockets go into hush_dnssk, a set per network namespace served
 * (hush_dnsns, their ports in hush_dnsports); the home set's ports and the
 * proxy's process into hush_cfg; the programs redirect port-53 traffic of
 * enforced cgroups to the set of the socket's namespace.
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

/* Ports of fds (0 where none), and the network namespace of the first. */
static int set_ports(const int fds[HUSH_DNS_SLOTS], uint16_t port[HUSH_DNS_SLOTS], uint64_t *ns)
{
	*ns = 0;
	for (int i = 0; i < HUSH_DNS_SLOTS; i++) {
		port[i] = fds[i] >= 0 ? sock_port(fds[i]) : 0;
		if (fds[i] >= 0 && !*ns)
			*ns = netns_cookie(fds[i]);
	}
	if (!*ns) {
		log_warnx("cannot read the DNS proxy's network namespace cookie (SO_NETNS_COOKIE "
			  "needs Linux >= 5.14): DNS stays denied there");
		return -ENOTSUP;
	}
	return 0;
}

int engine_dns_ns_add(struct engine *e, uint32_t set, const int fds[HUSH_DNS_SLOTS],
		      uint64_t *netns)
{
	int mfd = bpf_map__fd(e->sa->maps.hush_dnssk);
	int nfd = bpf_map__fd(e->sa->maps.hush_dnsns);
	int pfd = bpf_map__fd(e->sa->maps.hush_dnsports);
	struct hush_dns_ns v = {.set = set};
	uint8_t one = 1;
	int ret;

	if (set >= HUSH_DNS_NS_MAX)
		return -ENOSPC;
	ret = set_ports(fds, v.port, netns);
	if (ret)
		return ret;
	/* Noted before the maps change: unregister clears what is noted. */
	e->dns_set_used[set] = true;
	for (int i = 0; i < HUSH_DNS_SLOTS; i++)
		if (v.port[i])
			e->dns_set_port[set][i] = v.port[i];
	for (uint32_t i = 0; i < HUSH_DNS_SLOTS; i++) {
		uint32_t k = set * HUSH_DNS_SLOTS + i;
		uint64_t fd = (uint64_t)fds[i];

		if (fds[i] < 0)
			continue;
		if (bpf_map_update_elem(mfd, &k, &fd, BPF_ANY)) {
			ret = -errno;
			log_errno(ret, "cannot hand the DNS proxy's socket to the redirect (socket "
				       "map update; needs Linux >= 5.7 for UDP sockets)");
			return ret;
		}
	}
	for (int i = 0; i < HUSH_DNS_SLOTS; i++) {
		uint32_t k = v.port[i];

		if (k && bpf_map_update_elem(pfd, &k, &one, BPF_ANY))
			return -errno;
	}
	/* Last: the namespace entry switches the redirect on there. */
	if (bpf_map_update_elem(nfd, netns, &v, BPF_ANY)) {
		ret = -errno;
		log_errno(ret, "cannot add a network namespace to the DNS redirect");
		return ret;
	}
	return 0;
}

void engine_dns_ns_del(struct engine *e, uint32_t set, uint64_t netns,
		       const uint16_t port[HUSH_DNS_SLOTS])
{
	int mfd = bpf_map__fd(e->sa->maps.hush_dnssk);
	int nfd = bpf_map__fd(e->sa->maps.hush_dnsns);
	int pfd = bpf_map__fd(e->sa->maps.hush_dnsports);
	uint8_t zero = 0;

	/* First: from now that namespace fails closed. */
	bpf_map_delete_elem(nfd, &netns);
	for (uint32_t i = 0; i < HUSH_DNS_SLOTS && set < HUSH_DNS_NS_MAX; i++) {
		uint32_t k = set * HUSH_DNS_SLOTS + i, pk = port[i], nk = e->dns_set_port[set][i];

		bpf_map_delete_elem(mfd, &k);
		if (pk)
			bpf_map_update_elem(pfd, &pk, &zero, BPF_ANY);
		if (nk && nk != pk)
			bpf_map_update_elem(pfd, &nk, &zero, BPF_ANY);
		e->dns_set_port[set][i] = 0;
	}
	if (set < HUSH_DNS_NS_MAX)
		e->dns_set_used[set] = false;
}

int engine_dns_register(struct engine *e, const int fds[HUSH_DNS_SLOTS])
{
	uint64_t ns = 0;
	uint16_t port[HUSH_DNS_SLOTS];
	int ret;

	engine_dns_unregister(e);
	ret = engine_dns_ns_add(e, 0, fds, &ns);
	if (ret)
		return ret;
	set_ports(fds, port, &ns);
	e->cfg->dns_netns = ns;
	e->cfg->dns_tgid = (uint32_t)getpid();
	/* Ports last: they switch the redirect on. */
	for (int i = 0; i < HUSH_DNS_SLOTS; i++)
		__atomic_store_n(&e->cfg->dns_port[i], port[i], __ATOMIC_RELEASE);
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

/* hush_dnsports all zero, in one call (a stale entry would only send a
 * port's loopback packets down the egress program's slower path). */
static void clear_ports(int pfd)
{
	static uint32_t keys[65536];
	static uint8_t zeros[65536];
	uint32_t n = 65536;

	for (uint32_t i = 0; i < 65536; i++)
		keys[i] = i;
	if (bpf_map_update_batch(pfd, keys, zeros, &n, NULL))
		log_warn("cannot clear the DNS proxy's old ports (egress takes a slower path for "
			 "them)");
}

/* The listener sets' entries this engine made (see struct engine). */
static void clear_noted(const struct engine *e, int mfd, int pfd)
{
	uint8_t zero = 0;

	for (uint32_t s = 0; s < HUSH_DNS_NS_MAX; s++) {
		if (!e->dns_set_used[s])
			continue;
		for (uint32_t i = 0; i < HUSH_DNS_SLOTS; i++) {
			uint32_t k = s * HUSH_DNS_SLOTS + i, pk = e->dns_set_port[s][i];

			bpf_map_delete_elem(mfd, &k);
			if (pk)
				bpf_map_update_elem(pfd, &pk, &zero, BPF_ANY);
		}
	}
}

void engine_dns_unregister(struct engine *e)
{
	int mfd = bpf_map__fd(e->sa->maps.hush_dnssk);
	int nfd = bpf_map__fd(e->sa->maps.hush_dnsns);
	int pfd = bpf_map__fd(e->sa->maps.hush_dnsports);
	uint64_t key, next;

	for (int i = 0; i < HUSH_DNS_SLOTS; i++)
		__atomic_store_n(&e->cfg->dns_port[i], 0, __ATOMIC_SEQ_CST);
	e->cfg->dns_tgid = 0;
	/* Every namespace's entry (a hash: delete the first until empty). */
	while (bpf_map_get_next_key(nfd, NULL, &next) == 0) {
		key = next;
		if (bpf_map_delete_elem(nfd, &key))
			break;
	}
	if (e->dns_stale) {
		/* Maps from pins: whatever a predecessor left, all of it. */
		for (uint32_t i = 0; i < HUSH_DNS_NS_MAX * HUSH_DNS_SLOTS; i++)
			bpf_map_delete_elem(mfd, &i);
		clear_ports(pfd);
		e->dns_stale = false;
	} else {
		/* Ours only (1024 socket-map deletes and a 64 Ki-entry batch
		 * update cost tens of ms at every start and stop of a run). */
		clear_noted(e, mfd, pfd);
	}
	memset(e->dns_set_used, 0, sizeof(e->dns_set_used));
	memset(e->dns_set_port, 0, sizeof(e->dns_set_port));
}

int engine_dns_client(const struct engine *e, unsigned slot, uint16_t pport, uint16_t port,
		      struct hush_dns_client *out)
{
	struct hush_dns_pkey k = {.pport = pport, .port = port, .slot = (uint8_t)slot};

	if (bpf_map_lookup_elem(bpf_map__fd(e->eg->maps.hush_dnscl), &k, out))
		return -ENOENT;
	return 0;
}

uint64_t engine_dns_home(const struct engine *e)
{
	return e->cfg->dns_netns;
}
