// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include "sockdiag.h"

#define TCP_LISTEN_ 10

struct sockrec {
	uint64_t cookie;
	uint16_t lport; /* host order */
	uint8_t state;
	uint8_t family;
	uint8_t laddr[16];
};

struct list {
	struct sockrec *v;
	size_t n, cap;
};

static int push(struct list *l, const struct sockrec *r)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct sockrec *nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = *r;
	return 0;
}

/* One dump of every TCP socket of a family. */
static int dump(int fd, uint8_t family, struct list *l)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
	    .nlh = {.nlmsg_len = sizeof(msg),
		    .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		    .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
	    .req = {.sdiag_family = family, .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0u},
	};
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	static char buf[32768];

	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct inet_diag_msg *m;
			struct sockrec r = {0};

			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error ? e->error : -EIO;
			}
			m = NLMSG_DATA(h);
			r.cookie = (uint64_t)m->id.idiag_cookie[0] | (uint64_t)m->id.idiag_cookie[1]
									 << 32;
			r.lport = ntohs(m->id.idiag_sport);
			r.state = m->idiag_state;
			r.family = m->idiag_family;
			memcpy(r.laddr, m->id.idiag_src, 16);
			if (push(l, &r))
				return -ENOMEM;
		}
	}
}

int sockdiag_inbound(int (*fn)(void *ctx, uint64_t cookie), void *ctx)
{
	uint8_t *listen_ports = NULL;
	struct list l = {0};
	int fd, ret, count = 0;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	ret = dump(fd, AF_INET, &l);
	if (!ret)
		ret = dump(fd, AF_INET6, &l);
	close(fd);
	if (ret)
		goto out;
	/* A non-listening socket on a port some listener holds was accepted:
	 * its packets are replies.  (Ports only: an outbound connection from a
	 * listener's port is practically never made.) */
	listen_ports = calloc(65536 / 8, 1);
	if (!listen_ports) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].state == TCP_LISTEN_)
			listen_ports[l.v[i].lport / 8] |= (uint8_t)(1u << (l.v[i].lport % 8));
	for (size_t i = 0; i < l.n; i++) {
		const struct sockrec *c = &l.v[i];

		if (c->state == TCP_LISTEN_ ||
		    !(listen_ports[c->lport / 8] & (1u << (c->lport % 8))))
			continue;
		ret = fn(ctx, c->cookie);
		if (ret)
			goto out;
		count++;
	}
	ret = count;
out:
	free(listen_ports);
	free(l.v);
	return ret;
}
