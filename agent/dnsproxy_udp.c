// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The DNS proxy's UDP side and its thread: queries judged and forwarded
 * under a fresh id, answers matched to the question sent, unanswered ones
 * turned into SERVFAIL.  One thread (dnsproxy_udp_main) does all of it, for
 * every network namespace's listener set, hands listening TCP sockets to
 * dnsproxy_tcp.c and the namespace helper's messages to dnsproxy_ns.c.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "agent/dnsproxy_int.h"
#include "agent/util.h"

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
static const char *forward_udp(struct dnsproxy *px, int fd, size_t n,
			       const struct sockaddr_storage *peer, socklen_t plen, bool lrn,
			       uint64_t lcg, uint64_t cgid)
{
	uint16_t id = new_id(px);
	struct pending *p = &px->pend[id];
	const char *why = NULL;
	int up;

	if (px->pdl[id])
		return "65536 queries in flight";
	p->cid = px->q.id;
	p->fd = fd;
	p->peer = *peer;
	p->plen = plen;
	p->learn = lrn;
	p->lcg = lcg;
	p->cgid = cgid;
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

/* One datagram from a client on listener set `set`; false when there was
 * none. */
static bool udp_query(struct dnsproxy *px, uint32_t set, int slot)
{
	const struct nset *ns = &px->set[set];
	int fd = ns->fd[slot];
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	struct dnsproxy_query rep;
	size_t outlen = 0;
	struct who w;
	bool lrn;
	ssize_t n;

	n = recvfrom(fd, px->buf, MSG_MAX, MSG_DONTWAIT, (struct sockaddr *)&peer, &plen);
	if (n < 0)
		return errno != EAGAIN && errno != EWOULDBLOCK;
	dnsproxy_who(px, slot, ns->port[slot], ns->netns, &peer, &w);
	dnsproxy_rep_init(&rep, &w, IPPROTO_UDP, &peer);
	switch (dnsproxy_judge(px, px->buf, (size_t)n, &w, &rep, px->out, &outlen, &lrn, &px->q)) {
	case ACT_ANSWER:
		sendto(fd, px->out, outlen, MSG_DONTWAIT, (struct sockaddr *)&peer, plen);
		break;
	case ACT_DROP:
		break;
	case ACT_FORWARD: {
		const char *why = forward_udp(px, fd, (size_t)n, &peer, plen, lrn,
					      w.known ? w.c.lcg : 0, rep.ev.cgroup_id);

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
			sendto(fd, px->out, outlen, MSG_DONTWAIT, (struct sockaddr *)&peer, plen);
		}
		break;
	}
	}
	dnsproxy_report(px, &rep);
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
		dnsproxy_answer_learn(px, px->buf, (size_t)n, p->lcg, &px->resp, p->cgid);
	dns_set_id(px->buf, (size_t)n, p->cid);
	sendto(p->fd, px->buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&p->peer, p->plen);
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
		sendto(p->fd, px->out, sizeof(hdr) + p->qseclen, MSG_DONTWAIT,
		       (struct sockaddr *)&p->peer, p->plen);
	}
}

/* ---- the UDP thread ---- */

void *dnsproxy_udp_main(void *arg)
{
	struct dnsproxy *px = arg;
	struct epoll_event evs[16];
	int64_t next_expire = mono_ns() + 250000000;

	for (;;) {
		int n = epoll_wait(px->ep, evs, 16, 250);

		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;
			int fd = (int)(uint32_t)tag;
			uint32_t set, slot;

			if (fd == px->stopfd && !(tag >> 32))
				return NULL;
			if (!(tag >> 32)) {
				/* Up to 64 datagrams per wake-up, stopping when drained. */
				if (fd == px->up4 || fd == px->up6)
					for (int k = 0; k < 64 && udp_answer(px, fd); k++)
						;
				else if (fd == px->nsfd)
					dnsproxy_ns_msg(px);
				continue;
			}
			set = (uint32_t)((tag >> 32) - 1) / HUSH_DNS_SLOTS;
			slot = (uint32_t)((tag >> 32) - 1) % HUSH_DNS_SLOTS;
			if (set >= HUSH_DNS_NS_MAX || !px->set[set].used || px->set[set].retiring ||
			    px->set[set].fd[slot] != fd)
				continue;
			if (slot == HUSH_DNS_TCP4 || slot == HUSH_DNS_TCP6)
				dnsproxy_tcp_accept(px, set, (int)slot);
			else
				for (int k = 0; k < 64 && udp_query(px, set, (int)slot); k++)
					;
		}
		if (mono_ns() >= next_expire) {
			udp_expire(px);
			dnsproxy_ns_reap(px, false);
			next_expire = mono_ns() + 250000000;
		}
	}
}
