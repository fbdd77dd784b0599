// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The DNS proxy's listener sets, one per network namespace served (see
 * bpf/dns_redirect.h): set 0 is the proxy's home, the others come from the
 * namespace helper (dnsns.h) and go when it says their namespace has no
 * process of the enforced subtree left.  All on the UDP thread.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/dnsns.h"
#include "agent/dnsproxy_int.h"
#include "agent/engine.h"
#include "agent/log.h"
#include "agent/util.h"

static void reject(struct dnsproxy *px, const struct dnsns_msg *m)
{
	struct dnsns_msg r = {.op = DNSNS_REJECT, .dev = m->dev, .ino = m->ino};

	(void)!send(px->nsfd, &r, sizeof(r), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void close_fds(int fds[HUSH_DNS_SLOTS])
{
	for (int i = 0; i < HUSH_DNS_SLOTS; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

static void ns_add(struct dnsproxy *px, const struct dnsns_msg *m, const int *got, int ngot)
{
	int fds[HUSH_DNS_SLOTS] = {-1, -1, -1, -1}, k = 0, ret;
	uint32_t set;
	struct nset *ns;

	for (int i = 0; i < HUSH_DNS_SLOTS; i++)
		if ((m->mask & (1u << i)) && k < ngot)
			fds[i] = got[k++];
	for (set = 1; set < HUSH_DNS_NS_MAX && (px->set[set].used || px->set[set].retiring); set++)
		;
	if (set == HUSH_DNS_NS_MAX || fds[HUSH_DNS_UDP4] < 0) {
		log_warnx("dns: cannot serve network namespace net:[%llu] of pid %d (%s): %s; its "
			  "DNS fails closed",
			  (unsigned long long)m->ino, m->pid, m->comm,
			  fds[HUSH_DNS_UDP4] < 0 ? "no listener" : "too many namespaces served");
		close_fds(fds);
		reject(px, m);
		return;
	}
	ns = &px->set[set];
	memcpy(ns->fd, fds, sizeof(fds));
	memcpy(ns->port, m->port, sizeof(ns->port));
	ns->dev = m->dev;
	ns->ino = m->ino;
	ret = engine_dns_ns_add(px->o.eng, set, ns->fd, &ns->netns);
	for (int i = 0; !ret && i < HUSH_DNS_SLOTS; i++) {
		struct epoll_event ev = {.events = EPOLLIN};

		ev.data.u64 = EP_LISTENER(set, i, ns->fd[i]);
		if (ns->fd[i] >= 0 && epoll_ctl(px->ep, EPOLL_CTL_ADD, ns->fd[i], &ev))
			ret = -errno;
	}
	if (ret) {
		log_errno(ret,
			  "dns: cannot serve network namespace net:[%llu] of pid %d (%s): its "
			  "DNS fails closed",
			  (unsigned long long)m->ino, m->pid, m->comm);
		engine_dns_ns_del(px->o.eng, set, ns->netns, ns->port);
		close_fds(ns->fd);
		memset(ns->port, 0, sizeof(ns->port));
		reject(px, m);
		return;
	}
	ns->used = true;
	pthread_mutex_lock(&px->mu);
	px->nsets++;
	px->st.netns = px->nsets;
	px->st.netns_added++;
	pthread_mutex_unlock(&px->mu);
	log_info("dns: serving network namespace net:[%llu] (pid %d, %s) on 127.0.0.1 udp %u tcp "
		 "%u, ::1 udp %u tcp %u",
		 (unsigned long long)m->ino, m->pid, m->comm, ns->port[HUSH_DNS_UDP4],
		 ns->port[HUSH_DNS_TCP4], ns->port[HUSH_DNS_UDP6], ns->port[HUSH_DNS_TCP6]);
}

static void ns_gone(struct dnsproxy *px, const struct dnsns_msg *m)
{
	for (uint32_t set = 1; set < HUSH_DNS_NS_MAX; set++) {
		struct nset *ns = &px->set[set];

		if (!ns->used || ns->dev != m->dev || ns->ino != m->ino)
			continue;
		engine_dns_ns_del(px->o.eng, set, ns->netns, ns->port);
		for (int i = 0; i < HUSH_DNS_SLOTS; i++)
			if (ns->fd[i] >= 0)
				epoll_ctl(px->ep, EPOLL_CTL_DEL, ns->fd[i], NULL);
		/* Closed once no pending query can still answer through them. */
		ns->used = false;
		ns->retiring = true;
		ns->close_at = mono_ns() + (int64_t)(DNSPROXY_TIMEOUT_MS + 1000) * 1000000;
		pthread_mutex_lock(&px->mu);
		px->nsets--;
		px->st.netns = px->nsets;
		px->st.netns_removed++;
		pthread_mutex_unlock(&px->mu);
		log_info("dns: network namespace net:[%llu] has no enforced process left: its "
			 "listeners close",
			 (unsigned long long)m->ino);
		return;
	}
}

void dnsproxy_ns_msg(struct dnsproxy *px)
{
	for (int n = 0; n < 64 && px->nsfd >= 0; n++) {
		char cbuf[CMSG_SPACE(sizeof(int) * HUSH_DNS_SLOTS)];
		struct dnsns_msg m;
		struct iovec iov = {&m, sizeof(m)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf)};
		int got[HUSH_DNS_SLOTS], ngot = 0;
		ssize_t r = recvmsg(px->nsfd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			log_warnx(
			    "dns: the namespace helper is gone: network namespaces not served "
			    "yet fail closed");
			epoll_ctl(px->ep, EPOLL_CTL_DEL, px->nsfd, NULL);
			px->nsfd = -1;
			return;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

				for (size_t i = 0; i < k && ngot < HUSH_DNS_SLOTS; i++)
					memcpy(&got[ngot++], CMSG_DATA(c) + i * sizeof(int),
					       sizeof(int));
			}
		if (r == (ssize_t)sizeof(m) && m.op == DNSNS_ADD) {
			ns_add(px, &m, got, ngot);
			continue;
		}
		for (int i = 0; i < ngot; i++)
			close(got[i]);
		if (r == (ssize_t)sizeof(m) && m.op == DNSNS_GONE)
			ns_gone(px, &m);
	}
}

void dnsproxy_ns_reap(struct dnsproxy *px, bool all)
{
	int64_t now = mono_ns();

	for (uint32_t set = 1; set < HUSH_DNS_NS_MAX; set++) {
		struct nset *ns = &px->set[set];

		if (!(ns->retiring && (all || now >= ns->close_at)) && !(all && ns->used))
			continue;
		close_fds(ns->fd);
		memset(ns, 0, sizeof(*ns));
		for (int i = 0; i < HUSH_DNS_SLOTS; i++)
			ns->fd[i] = -1;
	}
}

void dnsproxy_poke(struct dnsproxy *px)
{
	if (px && px->o.ns)
		dnsns_poke(px->o.ns);
}
