// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The sinkhole's serving loops (see sinkhole.c): two threads with an epoll
 * loop each, the DNS loop (UDP sockets, TCP DNS listeners and their
 * connections) and the catcher loop (the catcher's listeners and their
 * connections).  A catcher connection is read into a SINKHOLE_FIRST_MAX
 * buffer until the TLS or HTTP parser decides, the client closes, the
 * buffer fills or SINKHOLE_FIRST_MS pass; then it is recorded, answered and
 * closed.  Connections are timed out by a scan at each wake-up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/dns.h"
#include "agent/sinkhole_int.h"
#include "agent/sniff.h"

static const char http_503[] = "HTTP/1.1 503 Service Unavailable\r\n"
			       "Content-Type: text/plain\r\n"
			       "Content-Length: 9\r\n"
			       "Connection: close\r\n"
			       "\r\n"
			       "sinkhole\n";
/* TLS 1.2 record: alert, fatal (2), handshake_failure (40). */
static const uint8_t tls_alert[] = {21, 3, 3, 0, 2, 2, 40};

static void conn_free(struct sink_loop *l, struct sink_conn *c)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->ep.fd, NULL);
	close(c->ep.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	l->nconns--;
	if (!c->dns)
		atomic_fetch_sub(&l->s->busy, 1);
	free(c->buf);
	free(c);
}

/* Address of a sockaddr into family/a[16]/port. */
static void sa_get(const struct sockaddr_storage *ss, int *family, uint8_t a[16], uint16_t *port)
{
	memset(a, 0, 16);
	*family = ss->ss_family;
	*port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		memcpy(a, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		memcpy(a, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
	}
}

/*
 * What the catcher has of connection c so far: decide if it can (or must:
 * final), record, answer and close.  Returns true when c was freed.
 */
static bool catch_decide(struct sink_loop *l, struct sink_conn *c, bool final)
{
	struct sinkhole_rec rec;
	struct sinkhole_http h;
	const void *reply = NULL;
	size_t rlen = 0;
	int ret;

	if (c->len >= c->cap)
		final = true;
	sink_rec_init(&rec, "tcp", "none", c->ep.family, c->daddr, c->dport);
	if (c->len == 0) {
		if (!final)
			return false;
	} else if (c->buf[0] == TLS_CT_HANDSHAKE) {
		ret = sinkhole_tls_sni(c->buf, c->len, final, rec.sni, sizeof(rec.sni));
		if (ret == 0)
			return false;
		put_str(rec.proto, sizeof(rec.proto), ret > 0 ? "tls" : "other");
		if (ret > 0) {
			reply = tls_alert;
			rlen = sizeof(tls_alert);
		}
	} else {
		ret = sinkhole_http_req(c->buf, c->len, final, &h);
		if (ret == 0)
			return false;
		put_str(rec.proto, sizeof(rec.proto), ret > 0 ? "http" : "other");
		if (ret > 0) {
			memcpy(rec.method, h.method, sizeof(rec.method));
			memcpy(rec.path, h.path, sizeof(rec.path));
			memcpy(rec.host, h.host, sizeof(rec.host));
			reply = http_503;
			rlen = sizeof(http_503) - 1;
		}
	}
	rec.first_bytes = (uint32_t)c->len;
	sink_rec_name(l->s, &rec);
	sink_rec_add(l->s, &rec);
	if (reply && send(c->ep.fd, reply, rlen, MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
		/* FIN after the answer; what the client sent on is read, so the
		 * close is not a reset that could beat the answer. */
		shutdown(c->ep.fd, SHUT_WR);
		while (recv(c->ep.fd, c->buf, c->cap, MSG_DONTWAIT) > 0)
			;
	}
	conn_free(l, c);
	return true;
}

/* Answer every complete query framed in a TCP DNS connection's buffer. */
static bool dns_tcp_serve(struct sink_loop *l, struct sink_conn *c)
{
	size_t off = 0, fl;

	while ((fl = dns_tcp_frame_len(c->buf + off, c->len - off)) && c->len - off >= fl) {
		struct sinkhole_rec rec;
		size_t olen;

		sink_rec_init(&rec, "dns", "tcp", c->ep.family, c->daddr, c->dport);
		olen = sink_dns_answer(l->s, c->buf + off + 2, fl - 2, l->out + 2,
				       sizeof(l->out) - 2, &rec);
		off += fl;
		if (olen == 0)
			continue;
		sink_rec_add(l->s, &rec);
		dns_tcp_frame_hdr(olen, l->out);
		if (send(c->ep.fd, l->out, olen + 2, MSG_DONTWAIT | MSG_NOSIGNAL) !=
		    (ssize_t)olen + 2) {
			conn_free(l, c);
			return true; /* the client does not read */
		}
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	c->deadline = now_ns(CLOCK_MONOTONIC) + (int64_t)SINK_DNS_IDLE_MS * 1000000;
	return false;
}

/* Bytes arrived (or the peer closed) on c. */
static void conn_read(struct sink_loop *l, struct sink_conn *c)
{
	bool eof = false;

	while (c->len < c->cap) {
		ssize_t n = recv(c->ep.fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);

		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			eof = true;
		if (n == 0 || errno != EINTR)
			break;
	}
	if (c->dns) {
		if (dns_tcp_serve(l, c))
			return;
		if (eof || c->len == c->cap)
			conn_free(l, c);
		return;
	}
	catch_decide(l, c, eof);
}

/* New connections on a listener. */
static void conn_accept(struct sink_loop *l, struct sink_ep *ep)
{
	bool dns = ep->type == EP_DNS_LISTEN;

	for (int i = 0; i < SINK_ACCEPT_BATCH; i++) {
		struct sockaddr_storage local;
		socklen_t slen = sizeof(local);
		struct sink_conn *c;
		struct epoll_event ev;
		int fd, fam;

		fd = accept4(ep->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (c)
			c->cap = dns ? 2 + 65535 : SINKHOLE_FIRST_MAX;
		if (c && !(c->buf = malloc(c->cap))) {
			free(c);
			c = NULL;
		}
		if (!c || getsockname(fd, (struct sockaddr *)&local, &slen) ||
		    l->nconns >= SINK_MAX_CONNS) {
			/* No room: still say someone came. */
			if (!dns) {
				struct sinkhole_rec rec;
				uint8_t da[16] = {0};
				uint16_t dp = 0;

				slen = sizeof(local);
				if (!getsockname(fd, (struct sockaddr *)&local, &slen))
					sa_get(&local, &fam, da, &dp);
				sink_rec_init(&rec, "tcp", "none", ep->family, da, dp);
				sink_rec_name(l->s, &rec);
				sink_rec_add(l->s, &rec);
			}
			if (c) {
				free(c->buf);
				free(c);
			}
			close(fd);
			continue;
		}
		c->ep.type = EP_CONN;
		c->ep.fd = fd;
		c->ep.family = ep->family;
		c->dns = dns;
		sa_get(&local, &fam, c->daddr, &c->dport);
		c->deadline = now_ns(CLOCK_MONOTONIC) +
			      (int64_t)(dns ? SINK_DNS_IDLE_MS : SINKHOLE_FIRST_MS) * 1000000;
		ev.events = EPOLLIN | EPOLLRDHUP;
		ev.data.ptr = &c->ep;
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			free(c->buf);
			free(c);
			close(fd);
			continue;
		}
		c->next = l->conns;
		if (l->conns)
			l->conns->prev = c;
		l->conns = c;
		l->nconns++;
		if (!dns)
			atomic_fetch_add(&l->s->busy, 1);
		/* Data may have come with the handshake's last ACK already. */
		conn_read(l, c);
	}
}

/* Time out connections past their deadline; the next deadline (ms) or -1. */
static int conn_expire(struct sink_loop *l)
{
	int64_t now = now_ns(CLOCK_MONOTONIC), next = -1;
	struct sink_conn *c = l->conns, *nx;

	for (; c; c = nx) {
		nx = c->next;
		if (c->deadline <= now) {
			if (c->dns)
				conn_free(l, c);
			else
				catch_decide(l, c, true);
			continue;
		}
		if (next < 0 || c->deadline < next)
			next = c->deadline;
	}
	if (next < 0)
		return -1;
	return (int)((next - now) / 1000000) + 1;
}

static void *loop_run(void *arg)
{
	struct sink_loop *l = arg;
	struct epoll_event ev[64];
	bool stop = false;

	while (!stop) {
		int timeout = conn_expire(l), n;

		n = epoll_wait(l->epfd, ev, 64, timeout);
		atomic_fetch_add(&l->s->busy, 1);
		for (int i = 0; i < n; i++) {
			struct sink_ep *ep = ev[i].data.ptr;

			switch (ep->type) {
			case EP_WAKE:
				stop = true;
				break;
			case EP_UDP:
				sink_dns_udp(l, ep);
				break;
			case EP_DNS_LISTEN:
			case EP_CATCH_LISTEN:
				conn_accept(l, ep);
				break;
			case EP_CONN:
				conn_read(l, (struct sink_conn *)ep);
				break;
			}
		}
		atomic_fetch_sub(&l->s->busy, 1);
	}
	/* Stopping: what the catcher holds is recorded as it is. */
	while (l->conns) {
		if (l->conns->dns)
			conn_free(l, l->conns);
		else
			catch_decide(l, l->conns, true);
	}
	return NULL;
}

int sink_loop_new(struct sinkhole *s, struct sink_loop **out, struct sink_ep *const *eps,
		  size_t neps)
{
	struct sink_loop *l = calloc(1, sizeof(*l));
	struct epoll_event ev;
	int e;

	if (!l)
		return -ENOMEM;
	l->s = s;
	l->wake.type = EP_WAKE;
	l->wake.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	*out = l;
	if (l->wake.fd < 0 || l->epfd < 0)
		return -errno;
	ev.events = EPOLLIN;
	ev.data.ptr = &l->wake;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wake.fd, &ev))
		return -errno;
	for (size_t i = 0; i < neps; i++) {
		if (eps[i]->fd < 0)
			continue;
		ev.events = EPOLLIN;
		ev.data.ptr = eps[i];
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, eps[i]->fd, &ev))
			return -errno;
	}
	e = sink_thread_start(&l->thr, loop_run, l);
	if (e)
		return e;
	l->running = true;
	return 0;
}

void sink_loop_stop(struct sink_loop *l)
{
	uint64_t one = 1;

	if (!l)
		return;
	if (l->running) {
		if (write(l->wake.fd, &one, sizeof(one)) != sizeof(one))
			pthread_cancel(l->thr); /* cannot happen with an eventfd */
		pthread_join(l->thr, NULL);
	}
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wake.fd >= 0)
		close(l->wake.fd);
	free(l);
}
