// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hushd's DNS proxy; see dnsproxy.h.  This file: the proxy's view of a
 * policy, judging a query, learning from answers, set-up and the API.  The
 * UDP side is dnsproxy_udp.c, TCP dnsproxy_tcp.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/dnsns.h"
#include "agent/dnsproxy_int.h"
#include "agent/engine.h"
#include "agent/log.h"
#include "agent/util.h"

/* Copy src into dst[0..cap), cut if need be. */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

/* ---- view ---- */

static void view_free(struct view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nscopes; i++) {
		free(v->sc[i].path);
		free(v->sc[i].pats);
	}
	free(v->sc);
	free(v);
}

static struct view *view_build(const struct policy *p)
{
	struct view *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->sc = calloc(p->nscopes, sizeof(*v->sc));
	if (!v->sc)
		goto fail;
	v->nscopes = p->nscopes;
	for (size_t i = 0; i < p->nscopes; i++) {
		const struct policy_scope *ps = &p->scopes[i];
		struct vscope *s = &v->sc[i];
		size_t n = 0;

		s->path = strdup(ps->path);
		if (!s->path)
			goto fail;
		/* Mode: own, else the nearest ancestor's (longest path). */
		s->mode = p->scopes[0].mode;
		for (size_t j = 0, best = 0; j < p->nscopes; j++)
			if (p->scopes[j].has_mode &&
			    policy_scope_within(p->scopes[j].path, ps->path) &&
			    strlen(p->scopes[j].path) >= best) {
				best = strlen(p->scopes[j].path);
				s->mode = p->scopes[j].mode;
			}
		for (size_t j = 0; j < p->nscopes; j++)
			if (policy_scope_within(p->scopes[j].path, ps->path))
				n += p->scopes[j].ndns;
		s->pats = calloc(n ? n : 1, sizeof(*s->pats));
		if (!s->pats)
			goto fail;
		for (size_t j = 0; j < p->nscopes; j++) {
			if (!policy_scope_within(p->scopes[j].path, ps->path))
				continue;
			for (size_t k = 0; k < p->scopes[j].ndns; k++) {
				const struct policy_dns *d = &p->scopes[j].dns[k];

				snprintf(s->pats[s->npats].pat, sizeof(s->pats[0].pat), "%s%s",
					 d->wildcard ? "*." : "", d->name);
				s->pats[s->npats++].id = d->id;
			}
		}
	}
	if (p->has_resolver) {
		v->has_resolver = true;
		v->rport = p->resolver_port;
		v->rfamily = p->resolver_family;
		memcpy(v->raddr, p->resolver, 16);
		if (p->resolver_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&v->resolver;

			a->sin_family = AF_INET;
			a->sin_port = htons(p->resolver_port);
			memcpy(&a->sin_addr, p->resolver, 4);
			v->rlen = sizeof(*a);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&v->resolver;

			a->sin6_family = AF_INET6;
			a->sin6_port = htons(p->resolver_port);
			memcpy(&a->sin6_addr, p->resolver, 16);
			v->rlen = sizeof(*a);
		}
	}
	return v;
fail:
	view_free(v);
	return NULL;
}

/* ---- judging ---- */

void dnsproxy_rep_init(struct dnsproxy_query *r, const struct who *w, uint8_t proto,
		       const struct sockaddr_storage *peer)
{
	struct hush_event *e = &r->ev;

	memset(e, 0, sizeof(*e));
	r->qname[0] = r->qtype[0] = r->note[0] = 0;
	e->hook = HUSH_HOOK_DNS;
	e->proto = proto;
	e->ts_ns = (uint64_t)boot_ns();
	if (w->known) {
		e->cookie = w->c.cookie;
		e->cgroup_id = w->c.cgroup_id;
		e->pid = w->c.pid;
		e->tgid = w->c.tgid;
		e->uid = w->c.uid;
		e->gid = w->c.gid;
		e->scope = w->c.scope;
		e->family = w->c.family;
		e->dport = w->c.oport;
		e->flags = w->c.flags & ~HUSH_EVF_DNS;
		memcpy(e->daddr, w->c.daddr, 16);
		memcpy(e->comm, w->c.comm, 16);
	} else {
		/* Not redirected: someone talking to the proxy's port itself. */
		e->flags = HUSH_EVF_NOPROC;
		e->scope = 0;
		if (peer->ss_family == AF_INET) {
			e->family = 2;
			memcpy(e->daddr, "\x7f\0\0\x01", 4);
		} else {
			e->family = 10;
			e->daddr[15] = 1;
		}
	}
}

void dnsproxy_who(struct dnsproxy *px, int slot, uint16_t pport, uint64_t netns,
		  const struct sockaddr_storage *peer, struct who *w)
{
	uint16_t port = peer->ss_family == AF_INET
			    ? ntohs(((const struct sockaddr_in *)peer)->sin_port)
			    : ntohs(((const struct sockaddr_in6 *)peer)->sin6_port);

	/* The record names the namespace the client asked from: another
	 * namespace's client never stands for this one. */
	w->known = engine_dns_client(px->o.eng, (unsigned)slot, pport, port, &w->c) == 0 &&
		   (!netns || w->c.netns == netns);
}

/*
 * Judge one query msg[0..len): fills rep (verdict, rule, names, note) and
 * either an answer in out[0..*outlen) (ACT_ANSWER), or says forward.
 * *learn: an allowed forward whose answer may teach addresses.
 */
enum act dnsproxy_judge(struct dnsproxy *px, const uint8_t *msg, size_t len, const struct who *w,
			struct dnsproxy_query *rep, uint8_t *out, size_t *outlen, bool *learn,
			struct dns_query *q)
{
	int ret = dns_parse_query(msg, len, q), rcode = 0;
	uint32_t scope = w->known ? w->c.scope : 0, rule = HUSH_RULE_DEFAULT;
	bool allowed = false;
	uint8_t mode;

	*learn = false;
	if (q->name[0] || q->qend)
		snprintf(rep->qname, sizeof(rep->qname), "%s", q->name[0] ? q->name : ".");
	if (q->qend)
		dns_qtype_name(q->qtype, rep->qtype, sizeof(rep->qtype));
	pthread_mutex_lock(&px->mu);
	px->st.queries++;
	if (!w->known)
		px->st.unattributed++;
	if (scope >= px->v->nscopes)
		scope = 0;
	/* Not redirected, so not judged by a scope: enforce whatever the top
	 * level's mode (it is the most restrictive set of names). */
	mode = w->known ? w->c.mode : HUSH_MODE_ENFORCE;
	if (ret == 0) {
		const struct vscope *s = &px->v->sc[scope];

		for (size_t i = 0; i < s->npats && !allowed; i++)
			if (dns_name_match(s->pats[i].pat, q->name)) {
				allowed = true;
				rule = s->pats[i].id;
			}
	}
	rep->ev.rule = rule;
	if (ret) {
		px->st.malformed++;
		rep->ev.verdict = HUSH_EV_DENY;
		rcode = -ret;
		snprintf(rep->note, sizeof(rep->note), "malformed query: answered %s",
			 rcode == DNS_RCODE_FORMERR  ? "FORMERR"
			 : rcode == DNS_RCODE_NOTIMP ? "NOTIMP"
						     : "BADVERS");
	} else if (allowed) {
		px->st.allowed++;
		rep->ev.verdict = HUSH_EV_ALLOW;
		*learn = true;
	} else if (mode == HUSH_MODE_AUDIT) {
		px->st.audited++;
		rep->ev.verdict = HUSH_EV_AUDIT;
	} else {
		px->st.denied++;
		rep->ev.verdict = HUSH_EV_DENY;
		rcode = px->o.deny_rcode;
	}
	if (!rcode && !px->v->has_resolver) {
		rcode = DNS_RCODE_SERVFAIL;
		snprintf(rep->note, sizeof(rep->note),
			 "no resolver in the policy: answered SERVFAIL");
		*learn = false;
	}
	pthread_mutex_unlock(&px->mu);
	if (!rcode)
		return ACT_FORWARD;
	if (len < 2 || dns_build_error(msg, len, q, rcode, out, MSG_MAX, outlen)) {
		snprintf(rep->note, sizeof(rep->note), "malformed query (%zu bytes): no answer",
			 len);
		return ACT_DROP;
	}
	return ACT_ANSWER;
}

/* ---- learning ---- */

/* Names are per cgroup: an address names the attempt of a cgroup that
 * asked for it, never that of one connecting to it by address. */
static uint32_t addr_hash(int family, const uint8_t *a, uint64_t cgid)
{
	return fnv1a32(fnv1a32(FNV32_INIT ^ (uint32_t)family, a, 16), &cgid, sizeof(cgid));
}

static void name_remember(struct dnsproxy *px, int family, const uint8_t *a, uint64_t cgid,
			  const char *name, int64_t now)
{
	uint32_t h = addr_hash(family, a, cgid), best = h & (NAMES_CAP - 1);

	for (uint32_t i = 0; i < 8; i++) {
		struct nament *n = &px->names[(h + i) & (NAMES_CAP - 1)];

		if (!n->used ||
		    (n->family == family && n->cgid == cgid && !memcmp(n->addr, a, 16))) {
			best = (h + i) & (NAMES_CAP - 1);
			break;
		}
		if (n->seen < px->names[best].seen)
			best = (h + i) & (NAMES_CAP - 1);
	}
	px->names[best].used = 1;
	px->names[best].family = (uint8_t)family;
	memcpy(px->names[best].addr, a, 16);
	px->names[best].cgid = cgid;
	px->names[best].seen = now;
	copy_str(px->names[best].name, NAME_KEEP, name);
}

int dnsproxy_name_of(void *ctx, int family, const uint8_t addr[16], uint64_t cgid, char *name,
		     size_t len)
{
	struct dnsproxy *px = ctx;
	uint32_t h;
	int ret = -1;

	family = family == 2 ? AF_INET : family == 10 ? AF_INET6 : family;
	h = addr_hash(family, addr, cgid);
	pthread_mutex_lock(&px->mu);
	for (uint32_t i = 0; i < 8; i++) {
		struct nament *n = &px->names[(h + i) & (NAMES_CAP - 1)];

		if (n->used && n->family == family && n->cgid == cgid &&
		    !memcmp(n->addr, addr, 16)) {
			copy_str(name, len, n->name);
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&px->mu);
	return ret;
}

/* Remember which name each address of an answer belongs to. */
static void names_remember(struct dnsproxy *px, const struct dns_response *r, uint64_t cgid)
{
	int64_t now = mono_ns();

	pthread_mutex_lock(&px->mu);
	for (size_t a = 0; a < r->naddrs; a++)
		name_remember(px, r->addrs[a].family, r->addrs[a].addr, cgid, r->qname, now);
	pthread_mutex_unlock(&px->mu);
}

void dnsproxy_answer_learn(struct dnsproxy *px, const uint8_t *msg, size_t len, uint64_t lcg,
			   struct dns_response *r, uint64_t cgid)
{
	if (dns_parse_response(msg, len, r) || r->rcode != DNS_RCODE_NOERROR || !r->naddrs)
		return;
	names_remember(px, r, cgid);
	if (px->o.learn) {
		int ret = px->o.learn(px->o.learn_ctx, lcg, r);

		if (ret)
			log_errno(ret,
				  "dns: addresses learned from %s (asked from cgroup %llu) not "
				  "applied: they stay denied",
				  r->qname, (unsigned long long)lcg);
	}
}

/* ---- set-up ---- */

int dnsproxy_open_sock(int family, int type, bool listening, uint16_t port)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd, one = 1, big = 4 << 20;

	fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(listening ? INADDR_LOOPBACK : INADDR_ANY);
		a->sin_port = htons(port);
		len = sizeof(*a);
		if (listening)
			setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		if (listening)
			a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(port);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (listening)
			setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
		len = sizeof(*a);
	}
	if (type == SOCK_DGRAM) {
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	}
	if (bind(fd, (struct sockaddr *)&ss, len) || (type == SOCK_STREAM && listen(fd, 128))) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

static int ep_add(int ep, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN};

	ev.data.u64 = tag;
	return fd < 0 ? 0 : epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void close_all(struct dnsproxy *px)
{
	dnsproxy_ns_reap(px, true);
	for (int i = 0; i < HUSH_DNS_SLOTS; i++)
		if (px->fd[i] >= 0)
			close(px->fd[i]);
	if (px->up4 >= 0)
		close(px->up4);
	if (px->up6 >= 0)
		close(px->up6);
	if (px->ep >= 0)
		close(px->ep);
	if (px->stopfd >= 0)
		close(px->stopfd);
}

/* The listening sockets (v4 required; without v6 loopback, v6 DNS fails
 * closed) and the upstream ones, in the current network namespace. */
static int open_socks(struct dnsproxy *px)
{
	static const int fam[HUSH_DNS_SLOTS] = {AF_INET, AF_INET, AF_INET6, AF_INET6};
	static const int typ[HUSH_DNS_SLOTS] = {SOCK_DGRAM, SOCK_STREAM, SOCK_DGRAM, SOCK_STREAM};

	for (int i = 0; i < HUSH_DNS_SLOTS; i++) {
		px->fd[i] = dnsproxy_open_sock(fam[i], typ[i], true, 0);
		px->st.port[i] = 0;
		if (px->fd[i] >= 0)
			continue;
		if (fam[i] == AF_INET) {
			int ret = px->fd[i];

			px->fd[i] = -1;
			log_errno(ret, "dns: cannot open the proxy's %s socket on 127.0.0.1",
				  typ[i] == SOCK_DGRAM ? "UDP" : "TCP");
			return ret;
		}
		log_warnx("dns: no %s socket on ::1 (%s): DNS over IPv6 is denied",
			  typ[i] == SOCK_DGRAM ? "UDP" : "TCP", strerror(-px->fd[i]));
		px->fd[i] = -1;
	}
	px->up4 = dnsproxy_open_sock(AF_INET, SOCK_DGRAM, false, 0);
	px->up6 = dnsproxy_open_sock(AF_INET6, SOCK_DGRAM, false, 0);
	if (px->up4 < 0)
		px->up4 = -1;
	if (px->up6 < 0)
		px->up6 = -1;
	return 0;
}

int dnsproxy_start(const struct dnsproxy_opts *o, const struct policy *p, struct dnsproxy **out)
{
	struct dnsproxy *px;
	int ret, home = -1;

	*out = NULL;
	px = calloc(1, sizeof(*px));
	if (!px)
		return -ENOMEM;
	px->o = *o;
	if (!px->o.deny_rcode)
		px->o.deny_rcode = DNS_RCODE_REFUSED;
	px->up4 = px->up6 = px->ep = px->stopfd = -1;
	px->nsfd = o->ns ? dnsns_fd(o->ns) : -1;
	for (uint32_t k = 0; k < HUSH_DNS_NS_MAX; k++)
		for (int i = 0; i < HUSH_DNS_SLOTS; i++)
			px->set[k].fd[i] = -1;
	px->fd = px->set[0].fd;
	px->set[0].used = true;
	px->nsets = 1;
	for (int i = 0; i < DNSPROXY_TCP_MAX; i++)
		px->tcpfd[i] = -1;
	pthread_mutex_init(&px->mu, NULL);
	px->pend = calloc(65536, sizeof(*px->pend));
	px->pdl = calloc(65536, sizeof(*px->pdl));
	px->names = calloc(NAMES_CAP, sizeof(*px->names));
	px->v = view_build(p);
	if (!px->pend || !px->pdl || !px->names || !px->v) {
		ret = -ENOMEM;
		goto fail;
	}
	if (o->netns_fd > 0) {
		/* Sockets keep the namespace they were made in. */
		home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (home < 0 || setns(o->netns_fd, CLONE_NEWNET)) {
			ret = -errno;
			log_errno(ret, "dns: cannot enter the command's network namespace");
			goto fail;
		}
	}
	ret = open_socks(px);
	if (ret)
		goto fail;
	if (home >= 0) {
		if (setns(home, CLONE_NEWNET)) {
			ret = -errno;
			log_errno(ret, "dns: cannot return to hush's network namespace");
			goto fail;
		}
		close(home);
		home = -1;
	}
	px->ep = epoll_create1(EPOLL_CLOEXEC);
	px->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (px->ep < 0 || px->stopfd < 0) {
		ret = -errno;
		log_errno(ret, "dns: cannot set up the proxy's event loop");
		goto fail;
	}
	for (int i = 0; i < HUSH_DNS_SLOTS; i++)
		ep_add(px->ep, px->fd[i], EP_LISTENER(0, i, px->fd[i]));
	ep_add(px->ep, px->up4, (uint32_t)px->up4);
	ep_add(px->ep, px->up6, (uint32_t)px->up6);
	ep_add(px->ep, px->stopfd, (uint32_t)px->stopfd);
	ep_add(px->ep, px->nsfd, (uint32_t)px->nsfd);
	engine_dns_resolver(o->eng, px->v->has_resolver ? px->v->rfamily : 0, px->v->raddr,
			    px->v->rport);
	ret = engine_dns_register(o->eng, px->fd);
	if (ret)
		goto fail;
	for (int i = 0; i < HUSH_DNS_SLOTS; i++) {
		struct sockaddr_storage ss;
		socklen_t l = sizeof(ss);

		if (px->fd[i] >= 0 && !getsockname(px->fd[i], (struct sockaddr *)&ss, &l))
			px->st.port[i] = ntohs(ss.ss_family == AF_INET
						   ? ((struct sockaddr_in *)&ss)->sin_port
						   : ((struct sockaddr_in6 *)&ss)->sin6_port);
		px->set[0].port[i] = px->st.port[i];
	}
	px->set[0].netns = engine_dns_home(o->eng);
	px->st.netns = 1;
	if (o->ns)
		dnsns_home_ports(o->ns, px->set[0].port);
	ret = pthread_create(&px->thr, NULL, dnsproxy_udp_main, px);
	if (ret) {
		ret = -ret;
		engine_dns_unregister(o->eng);
		goto fail;
	}
	px->started = true;
	*out = px;
	return 0;
fail:
	if (home >= 0) {
		if (setns(home, CLONE_NEWNET))
			log_warn("dns: cannot return to hush's network namespace");
		close(home);
	}
	close_all(px);
	view_free(px->v);
	free(px->pend);
	free(px->pdl);
	free(px->names);
	free(px);
	return ret;
}

int dnsproxy_set_policy(struct dnsproxy *px, const struct policy *p)
{
	struct view *v = view_build(p), *old;

	if (!v)
		return -ENOMEM;
	pthread_mutex_lock(&px->mu);
	old = px->v;
	px->v = v;
	engine_dns_resolver(px->o.eng, v->has_resolver ? v->rfamily : 0, v->raddr, v->rport);
	pthread_mutex_unlock(&px->mu);
	view_free(old);
	return 0;
}

void dnsproxy_stop(struct dnsproxy *px)
{
	uint64_t one = 1;

	if (!px)
		return;
	engine_dns_unregister(px->o.eng);
	if (px->started) {
		if (write(px->stopfd, &one, sizeof(one)) != sizeof(one))
			log_warn("dns: cannot stop the proxy thread");
		pthread_join(px->thr, NULL);
	}
	close_all(px);
	/* TCP threads hold px: end their connections and wait for them (an
	 * upstream exchange in progress ends within its timeout). */
	pthread_mutex_lock(&px->mu);
	for (int i = 0; i < DNSPROXY_TCP_MAX; i++)
		if (px->tcpfd[i] >= 0)
			shutdown(px->tcpfd[i], SHUT_RDWR);
	pthread_mutex_unlock(&px->mu);
	for (int i = 0; i < 200 && atomic_load(&px->ntcp) > 0; i++)
		usleep(25000);
	if (atomic_load(&px->ntcp) > 0) {
		log_warnx("dns: %d TCP clients still connected at exit", atomic_load(&px->ntcp));
		return; /* leak rather than free under them */
	}
	view_free(px->v);
	free(px->pend);
	free(px->pdl);
	free(px->names);
	pthread_mutex_destroy(&px->mu);
	free(px);
}

void dnsproxy_stats(struct dnsproxy *px, struct dnsproxy_stats *st)
{
	pthread_mutex_lock(&px->mu);
	*st = px->st;
	pthread_mutex_unlock(&px->mu);
}
