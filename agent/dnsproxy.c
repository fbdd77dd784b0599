// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hushd's DNS proxy; see dnsproxy.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/types.h>

#include "../bpf/dns.h"
#include "dnsproxy.h"
#include "engine.h"
#include "log.h"

#define MSG_MAX	  65535
#define NAMES_CAP 16384 /* address -> name memory (power of two) */
#define NAME_KEEP 256	/* bytes of a remembered name */

/* ---- the proxy's view of a policy ---- */

struct vpat {
	char pat[DNS_NAME_STRLEN]; /* "name" or "*.suffix" */
	uint32_t id;
};

struct vscope {
	char *path;
	uint8_t mode;
	size_t npats; /* effective: own and every ancestor's */
	struct vpat *pats;
};

struct view {
	size_t nscopes;
	struct vscope *sc;
	bool has_resolver;
	struct sockaddr_storage resolver;
	socklen_t rlen;
	int rfamily;
	uint8_t raddr[16];
	uint16_t rport;
};

/* ---- remembered names ---- */

struct nament {
	uint8_t used, family;
	uint8_t addr[16];
	int64_t seen;
	char name[NAME_KEEP];
};

/* ---- pending UDP queries, by the id sent upstream ---- */

struct pending {
	uint16_t cid; /* client's id */
	int slot;     /* HUSH_DNS_UDP4/6: the socket to answer on */
	struct sockaddr_storage peer;
	socklen_t plen;
	int64_t deadline;
	bool learn;				 /* allowed: learn from the answer */
	uint8_t qsec[DNS_MAX_WIRE_NAME + 4 + 1]; /* question section sent */
	size_t qseclen;
};

struct dnsproxy {
	struct dnsproxy_opts o;
	int fd[HUSH_DNS_SLOTS];
	int up4, up6; /* upstream UDP */
	int ep, stopfd;
	pthread_t thr;
	bool started;
	atomic_int ntcp;

	int tcpfd[DNSPROXY_TCP_MAX]; /* open client connections (-1: none), under mu */
	pthread_mutex_t mu;	     /* view, names, stats, tcpfd */
	struct view *v;
	struct nament *names;
	struct dnsproxy_stats st;

	struct pending *pend; /* 65536, UDP thread only */
	int64_t *pdl;	      /* their deadlines (0: slot free), scanned for timeouts */
	uint32_t npend;
	uint8_t buf[MSG_MAX + 2], out[MSG_MAX + 2];
	struct dns_query q;
	struct dns_response resp;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

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

struct who {
	struct hush_dns_client c;
	bool known;
};

/* Fill the report's event from who asked; verdict and rule by the caller. */
static void rep_init(struct dnsproxy_query *r, const struct who *w, uint8_t proto,
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

/* Who sent what arrived on slot from peer. */
static void who_of(struct dnsproxy *px, int slot, const struct sockaddr_storage *peer,
		   struct who *w)
{
	uint16_t port = peer->ss_family == AF_INET
			    ? ntohs(((const struct sockaddr_in *)peer)->sin_port)
			    : ntohs(((const struct sockaddr_in6 *)peer)->sin6_port);

	w->known = engine_dns_client(px->o.eng, (unsigned)slot, port, &w->c) == 0;
}

enum act { ACT_ANSWER, ACT_FORWARD, ACT_DROP };

/*
 * Judge one query msg[0..len): fills rep (verdict, rule, names, note) and
 * either an answer in out[0..*outlen) (ACT_ANSWER), or says forward.
 * *learn: an allowed forward whose answer may teach addresses.
 */
static enum act judge(struct dnsproxy *px, const uint8_t *msg, size_t len, const struct who *w,
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

static uint32_t addr_hash(int family, const uint8_t *a)
{
	uint32_t h = 2166136261u ^ (uint32_t)family;

	for (int i = 0; i < 16; i++)
		h = (h ^ a[i]) * 16777619u;
	return h;
}

static void name_remember(struct dnsproxy *px, int family, const uint8_t *a, const char *name,
			  int64_t now)
{
	uint32_t h = addr_hash(family, a), best = h & (NAMES_CAP - 1);

	for (uint32_t i = 0; i < 8; i++) {
		struct nament *n = &px->names[(h + i) & (NAMES_CAP - 1)];

		if (!n->used || (n->family == family && !memcmp(n->addr, a, 16))) {
			best = (h + i) & (NAMES_CAP - 1);
			break;
		}
		if (n->seen < px->names[best].seen)
			best = (h + i) & (NAMES_CAP - 1);
	}
	px->names[best].used = 1;
	px->names[best].family = (uint8_t)family;
	memcpy(px->names[best].addr, a, 16);
	px->names[best].seen = now;
	copy_str(px->names[best].name, NAME_KEEP, name);
}

int dnsproxy_name_of(void *ctx, int family, const uint8_t addr[16], char *name, size_t len)
{
	struct dnsproxy *px = ctx;
	uint32_t h;
	int ret = -1;

	family = family == 2 ? AF_INET : family == 10 ? AF_INET6 : family;
	h = addr_hash(family, addr);
	pthread_mutex_lock(&px->mu);
	for (uint32_t i = 0; i < 8; i++) {
		struct nament *n = &px->names[(h + i) & (NAMES_CAP - 1)];

		if (n->used && n->family == family && !memcmp(n->addr, addr, 16)) {
			copy_str(name, len, n->name);
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&px->mu);
	return ret;
}

/* Remember which name each address of an answer belongs to. */
static void names_remember(struct dnsproxy *px, const struct dns_response *r)
{
	int64_t now = mono_ns();

	pthread_mutex_lock(&px->mu);
	for (size_t a = 0; a < r->naddrs; a++)
		name_remember(px, r->addrs[a].family, r->addrs[a].addr, r->qname, now);
	pthread_mutex_unlock(&px->mu);
}

/* An allowed answer: remember its names, and report it to the learn
 * callback, which puts what it taught in force before the client sees it. */
static void answer_learn(struct dnsproxy *px, const uint8_t *msg, size_t len,
			 struct dns_response *r)
{
	if (dns_parse_response(msg, len, r) || r->rcode != DNS_RCODE_NOERROR || !r->naddrs)
		return;
	names_remember(px, r);
	if (px->o.learn) {
		int ret = px->o.learn(px->o.learn_ctx, r);

		if (ret)
			log_errno(ret,
				  "dns: addresses learned from %s not applied: they stay "
				  "denied",
				  r->qname);
	}
}

/* ---- UDP ---- */

static void report(struct dnsproxy *px, const struct dnsproxy_query *rep)
{
	if (px->o.report)
		px->o.report(px->o.report_ctx, rep);
}

static int slot_of_fd(const struct dnsproxy *px, int fd)
{
	for (int i = 0; i < HUSH_DNS_SLOTS; i++)
		if (px->fd[i] == fd)
			return i;
	return -1;
}

static uint16_t new_id(struct dnsproxy *px)
{
	uint16_t id;

	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)mono_ns();
	for (int i = 0; i < 65536 && px->pdl[id]; i++)
		id++;
	return id;
}

/* Send the query in px->buf[0..n) (parsed into px->q) to the resolver,
 * remembered under a fresh id.  Returns NULL, or why it was not sent. */
static const char *forward_udp(struct dnsproxy *px, int slot, size_t n,
			       const struct sockaddr_storage *peer, socklen_t plen, bool lrn)
{
	uint16_t id = new_id(px);
	struct pending *p = &px->pend[id];
	const char *why = NULL;
	int up;

	if (px->pdl[id])
		return "65536 queries in flight";
	p->cid = px->q.id;
	p->slot = slot;
	p->peer = *peer;
	p->plen = plen;
	p->learn = lrn;
	p->qseclen = px->q.qend - DNS_HDR_LEN;
	if (p->qseclen > sizeof(p->qsec))
		p->qseclen = sizeof(p->qsec);
	memcpy(p->qsec, px->buf + DNS_HDR_LEN, p->qseclen);
	dns_set_id(px->buf, n, id);
	pthread_mutex_lock(&px->mu);
	up = px->v->rfamily == AF_INET ? px->up4 : px->up6;
	if (up < 0)
		why = "no socket for the resolver's address family";
	else if (sendto(up, px->buf, n, MSG_DONTWAIT, (struct sockaddr *)&px->v->resolver,
			px->v->rlen) < 0)
		why = strerror(errno);
	pthread_mutex_unlock(&px->mu);
	if (!why) {
		px->pdl[id] = mono_ns() + (int64_t)DNSPROXY_TIMEOUT_MS * 1000000;
		px->npend++;
	}
	return why;
}

/* One datagram from a client; false when there was none. */
static bool udp_query(struct dnsproxy *px, int slot)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	struct dnsproxy_query rep;
	size_t outlen = 0;
	struct who w;
	bool lrn;
	ssize_t n;

	n = recvfrom(px->fd[slot], px->buf, MSG_MAX, MSG_DONTWAIT, (struct sockaddr *)&peer, &plen);
	if (n < 0)
		return errno != EAGAIN && errno != EWOULDBLOCK;
	who_of(px, slot, &peer, &w);
	rep_init(&rep, &w, IPPROTO_UDP, &peer);
	switch (judge(px, px->buf, (size_t)n, &w, &rep, px->out, &outlen, &lrn, &px->q)) {
	case ACT_ANSWER:
		sendto(px->fd[slot], px->out, outlen, MSG_DONTWAIT, (struct sockaddr *)&peer, plen);
		break;
	case ACT_DROP:
		break;
	case ACT_FORWARD: {
		const char *why = forward_udp(px, slot, (size_t)n, &peer, plen, lrn);

		if (!why)
			break;
		pthread_mutex_lock(&px->mu);
		px->st.upstream_errors++;
		pthread_mutex_unlock(&px->mu);
		snprintf(rep.note, sizeof(rep.note), "resolver not asked: %s: answered SERVFAIL",
			 why);
		if (!dns_build_error(px->buf, (size_t)n, &px->q, DNS_RCODE_SERVFAIL, px->out,
				     MSG_MAX, &outlen)) {
			dns_set_id(px->out, outlen, px->q.id);
			sendto(px->fd[slot], px->out, outlen, MSG_DONTWAIT,
			       (struct sockaddr *)&peer, plen);
		}
		break;
	}
	}
	report(px, &rep);
	return true;
}

/* One datagram from the resolver; false when there was none. */
static bool udp_answer(struct dnsproxy *px, int up)
{
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	struct pending *p;
	bool ok;
	ssize_t n;
	uint16_t id;

	n = recvfrom(up, px->buf, MSG_MAX, MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
	if (n < 0)
		return errno != EAGAIN && errno != EWOULDBLOCK;
	if (n < DNS_HDR_LEN)
		return true;
	pthread_mutex_lock(&px->mu);
	ok = px->v->has_resolver && flen == px->v->rlen &&
	     !memcmp(&from, &px->v->resolver,
		     px->v->rfamily == AF_INET ? sizeof(struct sockaddr_in)
					       : sizeof(struct sockaddr_in6));
	pthread_mutex_unlock(&px->mu);
	if (!ok)
		return true; /* not from the resolver: ignored */
	id = (uint16_t)(px->buf[0] << 8 | px->buf[1]);
	p = &px->pend[id];
	if (!px->pdl[id] || (size_t)n < DNS_HDR_LEN + p->qseclen ||
	    memcmp(px->buf + DNS_HDR_LEN, p->qsec, p->qseclen))
		return true; /* no such question outstanding: a late or forged answer */
	px->pdl[id] = 0;
	px->npend--;
	if (p->learn)
		answer_learn(px, px->buf, (size_t)n, &px->resp);
	dns_set_id(px->buf, (size_t)n, p->cid);
	sendto(px->fd[p->slot], px->buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&p->peer,
	       p->plen);
	return true;
}

/* Unanswered upstream: SERVFAIL, so no client waits out its own timeout. */
static void udp_expire(struct dnsproxy *px)
{
	int64_t now = mono_ns();
	uint8_t hdr[DNS_HDR_LEN];

	for (uint32_t id = 0; id < 65536 && px->npend; id++) {
		struct pending *p;

		if (!px->pdl[id] || px->pdl[id] > now)
			continue;
		p = &px->pend[id];
		px->pdl[id] = 0;
		px->npend--;
		pthread_mutex_lock(&px->mu);
		px->st.upstream_timeouts++;
		pthread_mutex_unlock(&px->mu);
		memset(hdr, 0, sizeof(hdr));
		hdr[0] = (uint8_t)(p->cid >> 8);
		hdr[1] = (uint8_t)p->cid;
		hdr[2] = 0x81; /* QR, RD */
		hdr[3] = 0x80 | DNS_RCODE_SERVFAIL;
		hdr[5] = 1; /* QDCOUNT 1: the question follows */
		memcpy(px->out, hdr, sizeof(hdr));
		memcpy(px->out + sizeof(hdr), p->qsec, p->qseclen);
		sendto(px->fd[p->slot], px->out, sizeof(hdr) + p->qseclen, MSG_DONTWAIT,
		       (struct sockaddr *)&p->peer, p->plen);
	}
}

/* ---- TCP: one thread per connection, blocking with timeouts ---- */

struct tcpconn {
	struct dnsproxy *px;
	int fd, slot, idx;
	struct sockaddr_storage peer;
};

static int read_full(int fd, uint8_t *b, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(fd, b + got, n - got, 0);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int write_frame(int fd, const uint8_t *msg, size_t len)
{
	uint8_t hdr[2];
	struct iovec iov[2] = {{hdr, 2}, {(void *)msg, len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

	if (dns_tcp_frame_hdr(len, hdr))
		return -1;
	return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)(len + 2) ? 0 : -1;
}

static int read_frame(int fd, uint8_t *buf, size_t *len)
{
	uint8_t hdr[2];

	if (read_full(fd, hdr, 2))
		return -1;
	*len = (size_t)hdr[0] << 8 | hdr[1];
	return read_full(fd, buf, *len);
}

static void set_timeout(int fd, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void *tcp_main(void *arg)
{
	struct tcpconn *tc = arg;
	struct dnsproxy *px = tc->px;
	uint8_t *in = malloc(MSG_MAX + 2), *out = malloc(MSG_MAX + 2);
	struct dns_response *resp = malloc(sizeof(*resp));
	struct dns_query *q = malloc(sizeof(*q));
	struct dnsproxy_query rep;
	int up = -1;
	struct who w;

	if (!in || !out || !resp || !q)
		goto done;
	/* The upstream connection is made from the proxy's namespace. */
	if (px->o.netns_fd > 0 && setns(px->o.netns_fd, CLONE_NEWNET))
		goto done;
	who_of(px, tc->slot, &tc->peer, &w);
	set_timeout(tc->fd, 10000);
	for (;;) {
		size_t len, outlen = 0;
		bool lrn;

		if (read_frame(tc->fd, in, &len))
			break;
		rep_init(&rep, &w, IPPROTO_TCP, &tc->peer);
		switch (judge(px, in, len, &w, &rep, out, &outlen, &lrn, q)) {
		case ACT_ANSWER:
			write_frame(tc->fd, out, outlen);
			break;
		case ACT_DROP:
			break;
		case ACT_FORWARD: {
			struct sockaddr_storage ra;
			socklen_t rl;
			int err = 0;

			pthread_mutex_lock(&px->mu);
			ra = px->v->resolver;
			rl = px->v->rlen;
			pthread_mutex_unlock(&px->mu);
			if (up < 0) {
				up = socket(ra.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
				if (up >= 0) {
					set_timeout(up, DNSPROXY_TIMEOUT_MS);
					if (connect(up, (struct sockaddr *)&ra, rl)) {
						err = errno;
						close(up);
						up = -1;
					}
				} else {
					err = errno;
				}
			}
			if (up < 0 || write_frame(up, in, len) || read_frame(up, out, &outlen)) {
				if (!err)
					err = errno ? errno : EPROTO;
				snprintf(rep.note, sizeof(rep.note),
					 "resolver failed over TCP: %s: answered SERVFAIL",
					 strerror(err));
				pthread_mutex_lock(&px->mu);
				px->st.upstream_errors++;
				pthread_mutex_unlock(&px->mu);
				if (up >= 0)
					close(up);
				up = -1;
				if (!dns_build_error(in, len, q, DNS_RCODE_SERVFAIL, out, MSG_MAX,
						     &outlen))
					write_frame(tc->fd, out, outlen);
				break;
			}
			if (lrn)
				answer_learn(px, out, outlen, resp);
			write_frame(tc->fd, out, outlen);
			break;
		}
		}
		report(px, &rep);
	}
done:
	if (up >= 0)
		close(up);
	pthread_mutex_lock(&px->mu);
	px->tcpfd[tc->idx] = -1;
	pthread_mutex_unlock(&px->mu);
	close(tc->fd);
	free(in);
	free(out);
	free(resp);
	free(q);
	free(tc);
	atomic_fetch_sub(&px->ntcp, 1);
	return NULL;
}

static void tcp_accept(struct dnsproxy *px, int slot)
{
	struct tcpconn *tc;
	pthread_attr_t at;
	pthread_t t;
	socklen_t pl;
	int fd;

	for (;;) {
		struct sockaddr_storage peer;

		pl = sizeof(peer);
		fd = accept4(px->fd[slot], (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (atomic_fetch_add(&px->ntcp, 1) >= DNSPROXY_TCP_MAX ||
		    !(tc = calloc(1, sizeof(*tc)))) {
			atomic_fetch_sub(&px->ntcp, 1);
			pthread_mutex_lock(&px->mu);
			px->st.tcp_refused++;
			pthread_mutex_unlock(&px->mu);
			close(fd); /* the client sees the connection close, not a hang */
			continue;
		}
		tc->px = px;
		tc->fd = fd;
		tc->slot = slot;
		tc->peer = peer;
		pthread_mutex_lock(&px->mu);
		for (tc->idx = 0; tc->idx < DNSPROXY_TCP_MAX - 1 && px->tcpfd[tc->idx] >= 0;
		     tc->idx++)
			; /* a free one exists: ntcp <= DNSPROXY_TCP_MAX */
		px->tcpfd[tc->idx] = fd;
		pthread_mutex_unlock(&px->mu);
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&at, 256 * 1024);
		if (pthread_create(&t, &at, tcp_main, tc)) {
			pthread_mutex_lock(&px->mu);
			px->tcpfd[tc->idx] = -1;
			pthread_mutex_unlock(&px->mu);
			atomic_fetch_sub(&px->ntcp, 1);
			close(fd);
			free(tc);
		}
		pthread_attr_destroy(&at);
	}
}

/* ---- the UDP thread ---- */

static void *udp_main(void *arg)
{
	struct dnsproxy *px = arg;
	struct epoll_event evs[16];
	int64_t next_expire = mono_ns() + 250000000;

	for (;;) {
		int n = epoll_wait(px->ep, evs, 16, 250);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, slot;

			if (fd == px->stopfd)
				return NULL;
			/* Up to 64 datagrams per wake-up, stopping when drained. */
			if (fd == px->up4 || fd == px->up6) {
				for (int k = 0; k < 64 && udp_answer(px, fd); k++)
					;
				continue;
			}
			slot = slot_of_fd(px, fd);
			if (slot == HUSH_DNS_TCP4 || slot == HUSH_DNS_TCP6)
				tcp_accept(px, slot);
			else if (slot >= 0)
				for (int k = 0; k < 64 && udp_query(px, slot); k++)
					;
		}
		if (mono_ns() >= next_expire) {
			udp_expire(px);
			next_expire = mono_ns() + 250000000;
		}
	}
}

/* ---- set-up ---- */

static int open_sock(int family, int type, bool listening)
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
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		if (listening)
			a->sin6_addr = in6addr_loopback;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
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

static int ep_add(int ep, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	return fd < 0 ? 0 : epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void close_all(struct dnsproxy *px)
{
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
		px->fd[i] = open_sock(fam[i], typ[i], true);
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
	px->up4 = open_sock(AF_INET, SOCK_DGRAM, false);
	px->up6 = open_sock(AF_INET6, SOCK_DGRAM, false);
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
	for (int i = 0; i < HUSH_DNS_SLOTS; i++)
		px->fd[i] = -1;
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
		ep_add(px->ep, px->fd[i]);
	ep_add(px->ep, px->up4);
	ep_add(px->ep, px->up6);
	ep_add(px->ep, px->stopfd);
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
	}
	ret = pthread_create(&px->thr, NULL, udp_main, px);
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
