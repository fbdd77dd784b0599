// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The sinkhole's set-up (see sinkhole_net.h for the picture).  It runs in a
 * short-lived thread of its own: it unshare()s into a new network namespace
 * (S), opens S's fd, sets S's sysctls and creates S's sockets and a netlink
 * socket there; then the same for T; everything after that goes through
 * those fds and sockets, which stay bound to their namespace whatever
 * thread uses them.  The caller's threads never change namespace.  Links,
 * addresses, rules and routes are made with libnl-route-3.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

#include "agent/log.h"
#include "agent/sinkhole_int.h"
#include "bpf/sinkhole.h"

static int sysctl_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* A socket in the current thread's namespace, bound to the wildcard address
 * and port, listening if a stream.  Returns the fd or -errno. */
static int sock_make(int family, int type, uint16_t port, bool pktinfo)
{
	struct sockaddr_storage ss = {0};
	socklen_t slen;
	int fd, one = 1, e;

	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		slen = sizeof(*in);
		/* Send from addresses that are local only by table 100. */
		if (setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one)) ||
		    (pktinfo && setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one))))
			goto err;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		slen = sizeof(*in6);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) ||
		    (pktinfo && setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one))))
			goto err;
	}
	if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto err;
	if (bind(fd, (struct sockaddr *)&ss, slen))
		goto err;
	if (type == SOCK_STREAM && listen(fd, 1024))
		goto err;
	return fd;
err:
	e = errno;
	close(fd);
	return -e;
}

/* unshare() the calling thread into a new network namespace; *fd its fd. */
static int ns_new(const char *what, int *fd, char *err, size_t errlen)
{
	int e;

	if (unshare(CLONE_NEWNET)) {
		e = errno;
		return sink_fail(err, errlen, -e, "unshare(CLONE_NEWNET) for %s: %s%s", what,
				 strerror(e), log_perm_hint(e));
	}
	*fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		e = errno;
		return sink_fail(err, errlen, -e, "open /proc/thread-self/ns/net (%s): %s", what,
				 strerror(e));
	}
	return 0;
}

/* Sysctls of the namespace the thread is in (best effort: defaults are fine
 * but for DAD, which would delay IPv6 by a second). */
static void ns_sysctls(bool have6)
{
	static const char *const v4[] = {"/proc/sys/net/ipv4/conf/all/rp_filter",
					 "/proc/sys/net/ipv4/conf/default/rp_filter"};
	static const char *const v6[][2] = {
	    {"/proc/sys/net/ipv6/conf/all/disable_ipv6", "0"},
	    {"/proc/sys/net/ipv6/conf/default/disable_ipv6", "0"},
	    {"/proc/sys/net/ipv6/conf/all/accept_dad", "0"},
	    {"/proc/sys/net/ipv6/conf/default/accept_dad", "0"},
	    {"/proc/sys/net/ipv6/conf/all/accept_ra", "0"},
	    {"/proc/sys/net/ipv6/conf/default/accept_ra", "0"},
	};

	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
		sysctl_write(v4[i], "0");
	for (size_t i = 0; have6 && i < sizeof(v6) / sizeof(v6[0]); i++)
		sysctl_write(v6[i][0], v6[i][1]);
}

static struct nl_sock *nl_open(const char *what, char *err, size_t errlen, int *ret)
{
	struct nl_sock *sk = nl_socket_alloc();
	int e;

	if (!sk) {
		*ret =
		    sink_fail(err, errlen, -ENOMEM, "netlink socket for %s: out of memory", what);
		return NULL;
	}
	e = nl_connect(sk, NETLINK_ROUTE);
	if (e < 0) {
		nl_socket_free(sk);
		*ret =
		    sink_fail(err, errlen, -EIO, "netlink socket for %s: %s", what, nl_geterror(e));
		return NULL;
	}
	return sk;
}

static struct nl_addr *mkaddr(int family, const uint8_t *a, int plen)
{
	static const uint8_t zero[16];
	struct nl_addr *x = nl_addr_build(family, a ? a : zero, family == AF_INET ? 4 : 16);

	if (x)
		nl_addr_set_prefixlen(x, plen);
	return x;
}

/* Bring link `name` up; *ifindex its index. */
static int nl_link_up(struct nl_sock *sk, const char *name, int *ifindex)
{
	struct rtnl_link *link = NULL, *chg;
	int e;

	e = rtnl_link_get_kernel(sk, 0, name, &link);
	if (e < 0)
		return e;
	*ifindex = rtnl_link_get_ifindex(link);
	chg = rtnl_link_alloc();
	if (!chg) {
		rtnl_link_put(link);
		return -NLE_NOMEM;
	}
	rtnl_link_set_flags(chg, IFF_UP);
	e = rtnl_link_change(sk, link, chg, 0);
	rtnl_link_put(chg);
	rtnl_link_put(link);
	return e;
}

static int nl_addr_add(struct nl_sock *sk, int ifindex, int family, const uint8_t *a, int plen)
{
	struct rtnl_addr *ad = rtnl_addr_alloc();
	struct nl_addr *local = mkaddr(family, a, plen);
	int e = -NLE_NOMEM;

	if (!ad || !local)
		goto out;
	rtnl_addr_set_ifindex(ad, ifindex);
	rtnl_addr_set_family(ad, family);
	e = rtnl_addr_set_local(ad, local);
	if (e < 0)
		goto out;
	if (family == AF_INET6)
		rtnl_addr_set_flags(ad, IFA_F_NODAD);
	e = rtnl_addr_add(sk, ad, 0);
out:
	nl_addr_put(local);
	rtnl_addr_put(ad);
	return e;
}

/* A default route: type RTN_LOCAL via ifindex (lo) in table, or unicast via
 * gateway gw on ifindex in the main table. */
static int nl_default_route(struct nl_sock *sk, int family, int type, uint32_t table, int ifindex,
			    const uint8_t *gw)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst = mkaddr(family, NULL, 0), *via = NULL;
	int e = -NLE_NOMEM;

	if (!rt || !nh || !dst || (gw && !(via = mkaddr(family, gw, family == AF_INET ? 32 : 128))))
		goto out;
	rtnl_route_set_family(rt, (uint8_t)family);
	e = rtnl_route_set_dst(rt, dst);
	if (e < 0)
		goto out;
	rtnl_route_set_type(rt, (uint8_t)type);
	rtnl_route_set_table(rt, table);
	rtnl_route_set_scope(rt, type == RTN_LOCAL ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE);
	rtnl_route_set_protocol(rt, RTPROT_STATIC);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	if (via)
		rtnl_route_nh_set_gateway(nh, via);
	rtnl_route_add_nexthop(rt, nh);
	nh = NULL; /* the route owns it */
	e = rtnl_route_add(sk, rt, NLM_F_CREATE | NLM_F_EXCL);
out:
	if (nh)
		rtnl_route_nh_free(nh);
	nl_addr_put(via);
	nl_addr_put(dst);
	rtnl_route_put(rt);
	return e;
}

/* S: what arrives on the veth looks up SINK_TABLE first. */
static int nl_rule_add(struct nl_sock *sk, int family)
{
	struct rtnl_rule *r = rtnl_rule_alloc();
	int e = -NLE_NOMEM;

	if (!r)
		return e;
	rtnl_rule_set_family(r, family);
	rtnl_rule_set_prio(r, SINK_RULE_PRI);
	rtnl_rule_set_table(r, SINK_TABLE);
	rtnl_rule_set_action(r, FR_ACT_TO_TBL);
	e = rtnl_rule_set_iif(r, SINK_IF_S);
	if (e >= 0)
		e = rtnl_rule_add(sk, r, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_rule_put(r);
	return e;
}

/* Links, addresses, rules and routes of S (nls) and T (nlt). */
static int net_config(struct sinkhole *s, struct nl_sock *nls, struct nl_sock *nlt, char *err,
		      size_t errlen)
{
	struct rtnl_link *veth, *peer;
	int e, lo_s, lo_t, if_s, if_t, fam;
	const char *step;

	step = "lo up in S";
	if ((e = nl_link_up(nls, "lo", &lo_s)) < 0)
		goto nlerr;
	step = "lo up in T";
	if ((e = nl_link_up(nlt, "lo", &lo_t)) < 0)
		goto nlerr;
	/* The veth is born in S with its peer put straight into T. */
	step = "add veth " SINK_IF_S " (S) / " SINK_IF_T " (T)";
	veth = rtnl_link_veth_alloc();
	if (!veth) {
		e = -NLE_NOMEM;
		goto nlerr;
	}
	rtnl_link_set_name(veth, SINK_IF_S);
	peer = rtnl_link_veth_get_peer(veth);
	rtnl_link_set_name(peer, SINK_IF_T);
	rtnl_link_set_ns_fd(peer, s->ns_t);
	e = rtnl_link_add(nls, veth, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(peer);
	rtnl_link_put(veth);
	if (e < 0)
		goto nlerr;
	step = "address on " SINK_IF_S " (S)";
	if ((e = nl_link_up(nls, SINK_IF_S, &if_s)) < 0 ||
	    (e = nl_addr_add(nls, if_s, AF_INET, sink_s4, SINK_LINK4_PLEN)) < 0 ||
	    (s->have6 && (e = nl_addr_add(nls, if_s, AF_INET6, sink_s6, SINK_LINK6_PLEN)) < 0))
		goto nlerr;
	step = "address on " SINK_IF_T " (T)";
	if ((e = nl_link_up(nlt, SINK_IF_T, &if_t)) < 0 ||
	    (e = nl_addr_add(nlt, if_t, AF_INET, sink_t4, SINK_LINK4_PLEN)) < 0 ||
	    (s->have6 && (e = nl_addr_add(nlt, if_t, AF_INET6, sink_t6, SINK_LINK6_PLEN)) < 0))
		goto nlerr;
	for (fam = AF_INET; fam != -1; fam = fam == AF_INET && s->have6 ? AF_INET6 : -1) {
		step = fam == AF_INET ? "S: rule and local 0.0.0.0/0" : "S: rule and local ::/0";
		if ((e = nl_rule_add(nls, fam)) < 0 ||
		    (e = nl_default_route(nls, fam, RTN_LOCAL, SINK_TABLE, lo_s, NULL)) < 0)
			goto nlerr;
		step = fam == AF_INET ? "T: default route" : "T: IPv6 default route";
		if ((e = nl_default_route(nlt, fam, RTN_UNICAST, RT_TABLE_MAIN, if_t,
					  fam == AF_INET ? sink_s4 : sink_s6)) < 0)
			goto nlerr;
	}
	return 0;
nlerr:
	return sink_fail(err, errlen, e == -NLE_PERM ? -EPERM : -EIO, "netlink: %s: %s%s", step,
			 nl_geterror(e), e == -NLE_PERM ? log_perm_hint(EPERM) : "");
}

struct setup {
	struct sinkhole *s;
	char *err;
	size_t errlen;
	int ret;
};

/* Runs in a thread of its own, which ends in T (its namespace changes are
 * its own: no other thread moves). */
static void *setup_run(void *arg)
{
	struct setup *su = arg;
	struct sinkhole *s = su->s;
	struct nl_sock *nls = NULL, *nlt = NULL;
	struct {
		struct sink_ep *ep;
		enum sink_ep_type type;
		int family, stype;
		uint16_t port;
		const char *what;
	} socks[] = {
	    {&s->udp[0], EP_UDP, AF_INET, SOCK_DGRAM, HUSH_SINK_DNS_PORT, "DNS UDP"},
	    {&s->udp[1], EP_UDP, AF_INET6, SOCK_DGRAM, HUSH_SINK_DNS_PORT, "DNS UDP6"},
	    {&s->dnsl[0], EP_DNS_LISTEN, AF_INET, SOCK_STREAM, HUSH_SINK_DNS_PORT, "DNS TCP"},
	    {&s->dnsl[1], EP_DNS_LISTEN, AF_INET6, SOCK_STREAM, HUSH_SINK_DNS_PORT, "DNS TCP6"},
	    {&s->catchl[0], EP_CATCH_LISTEN, AF_INET, SOCK_STREAM, 0, "catcher"},
	    {&s->catchl[1], EP_CATCH_LISTEN, AF_INET6, SOCK_STREAM, 0, "catcher6"},
	};
	int ret;

	/* S, its sockets and a netlink socket there. */
	ret = ns_new("the sinkhole namespace", &s->ns_s, su->err, su->errlen);
	if (ret)
		goto out;
	s->have6 = access("/proc/sys/net/ipv6/conf/all/disable_ipv6", F_OK) == 0;
	ns_sysctls(s->have6);
	for (size_t i = 0; i < sizeof(socks) / sizeof(socks[0]); i++) {
		socks[i].ep->type = socks[i].type;
		socks[i].ep->family = socks[i].family;
		if (socks[i].family == AF_INET6 && !s->have6)
			continue;
		ret = sock_make(socks[i].family, socks[i].stype, socks[i].port,
				socks[i].type == EP_UDP);
		if (ret < 0) {
			ret = sink_fail(su->err, su->errlen, ret, "%s socket in S: %s%s",
					socks[i].what, strerror(-ret), log_perm_hint(-ret));
			goto out;
		}
		socks[i].ep->fd = ret;
	}
	if (!(nls = nl_open("S", su->err, su->errlen, &ret)))
		goto out;
	/* T and a netlink socket there. */
	ret = ns_new("the test namespace", &s->ns_t, su->err, su->errlen);
	if (ret)
		goto out;
	ns_sysctls(s->have6);
	if (!(nlt = nl_open("T", su->err, su->errlen, &ret)))
		goto out;
	ret = net_config(s, nls, nlt, su->err, su->errlen);
out:
	if (nls)
		nl_socket_free(nls);
	if (nlt)
		nl_socket_free(nlt);
	su->ret = ret;
	return NULL;
}

int sink_setup(struct sinkhole *s, char *err, size_t errlen)
{
	struct setup su = {.s = s, .err = err, .errlen = errlen};
	pthread_t t;
	int ret;

	ret = sink_thread_start(&t, setup_run, &su);
	if (ret)
		return sink_fail(err, errlen, ret, "set-up thread: %s", strerror(-ret));
	pthread_join(t, NULL);
	return su.ret;
}
