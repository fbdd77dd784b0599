// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The DNS proxy's TCP side: one detached thread per client connection,
 * blocking with timeouts, with its own upstream connection made from the
 * proxy's network namespace.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent/dnsproxy_int.h"

/* ---- TCP: one thread per connection, blocking with timeouts ---- */

struct tcpconn {
	struct dnsproxy *px;
	int fd, slot, idx;
	uint16_t pport;
	uint64_t netns;
	uint64_t lcg; /* the client's learning cgroup (0: unknown) */
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

/* Ask the resolver over TCP (connecting *up first if need be) and answer
 * the client in[0..len), or answer SERVFAIL and note why. */
static void tcp_forward(struct tcpconn *tc, int *up, const uint8_t *in, size_t len, uint8_t *out,
			struct dns_query *q, struct dns_response *resp, bool lrn,
			struct dnsproxy_query *rep)
{
	struct dnsproxy *px = tc->px;
	struct sockaddr_storage ra;
	size_t outlen = 0;
	socklen_t rl;
	int err = 0;

	pthread_mutex_lock(&px->mu);
	ra = px->v->resolver;
	rl = px->v->rlen;
	pthread_mutex_unlock(&px->mu);
	if (*up < 0) {
		*up = socket(ra.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (*up >= 0) {
			set_timeout(*up, DNSPROXY_TIMEOUT_MS);
			if (connect(*up, (struct sockaddr *)&ra, rl)) {
				err = errno;
				close(*up);
				*up = -1;
			}
		} else {
			err = errno;
		}
	}
	if (*up < 0 || write_frame(*up, in, len) || read_frame(*up, out, &outlen)) {
		if (!err)
			err = errno ? errno : EPROTO;
		snprintf(rep->note, sizeof(rep->note),
			 "resolver failed over TCP: %s: answered SERVFAIL", strerror(err));
		pthread_mutex_lock(&px->mu);
		px->st.upstream_errors++;
		pthread_mutex_unlock(&px->mu);
		if (*up >= 0)
			close(*up);
		*up = -1;
		if (!dns_build_error(in, len, q, DNS_RCODE_SERVFAIL, out, MSG_MAX, &outlen))
			write_frame(tc->fd, out, outlen);
		return;
	}
	if (lrn)
		dnsproxy_answer_learn(px, out, outlen, tc->lcg, resp, rep->ev.cgroup_id);
	write_frame(tc->fd, out, outlen);
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
	dnsproxy_who(px, tc->slot, tc->pport, tc->netns, &tc->peer, &w);
	tc->lcg = w.known ? w.c.lcg : 0;
	set_timeout(tc->fd, 10000);
	for (;;) {
		size_t len, outlen = 0;
		bool lrn;

		if (read_frame(tc->fd, in, &len))
			break;
		dnsproxy_rep_init(&rep, &w, IPPROTO_TCP, &tc->peer);
		switch (dnsproxy_judge(px, in, len, &w, &rep, out, &outlen, &lrn, q)) {
		case ACT_ANSWER:
			write_frame(tc->fd, out, outlen);
			break;
		case ACT_DROP:
			break;
		case ACT_FORWARD:
			tcp_forward(tc, &up, in, len, out, q, resp, lrn, &rep);
			break;
		}
		dnsproxy_report(px, &rep);
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

void dnsproxy_tcp_accept(struct dnsproxy *px, uint32_t set, int slot)
{
	struct tcpconn *tc;
	pthread_attr_t at;
	pthread_t t;
	socklen_t pl;
	int fd;

	for (;;) {
		struct sockaddr_storage peer;

		pl = sizeof(peer);
		fd = accept4(px->set[set].fd[slot], (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
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
		tc->pport = px->set[set].port[slot];
		tc->netns = px->set[set].netns;
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
