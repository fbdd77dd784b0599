// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The sinkhole's DNS (see sinkhole_net.h for what it answers): the answer to a
 * query, and the UDP sockets, whose replies are sent from the address the
 * query went to (IP_PKTINFO, and IP_TRANSPARENT since that address is
 * local only through table 100, which the kernel's source check does not
 * consult).  TCP DNS connections are served by sinkhole_conn.c.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "agent/dns.h"
#include "agent/sinkhole_int.h"
#include "bpf/sinkhole.h"

static const char *rcode_name(int rc)
{
	switch (rc) {
	case DNS_RCODE_NOERROR:
		return "NOERROR";
	case DNS_RCODE_FORMERR:
		return "FORMERR";
	case DNS_RCODE_SERVFAIL:
		return "SERVFAIL";
	case DNS_RCODE_NXDOMAIN:
		return "NXDOMAIN";
	case DNS_RCODE_NOTIMP:
		return "NOTIMP";
	case DNS_RCODE_REFUSED:
		return "REFUSED";
	case DNS_RCODE_BADVERS:
		return "BADVERS";
	default:
		return "RCODE?";
	}
}

static size_t put16(uint8_t *o, size_t at, unsigned v)
{
	o[at] = (uint8_t)(v >> 8);
	o[at + 1] = (uint8_t)v;
	return at + 2;
}

/* One answer record: a pointer to the question name, type, IN, TTL, rdata. */
static size_t put_rr(uint8_t *o, size_t at, unsigned type, const uint8_t *rdata, size_t rdlen)
{
	at = put16(o, at, 0xc000 | DNS_HDR_LEN);
	at = put16(o, at, type);
	at = put16(o, at, DNS_CLASS_IN);
	at = put16(o, at, SINK_DNS_TTL >> 16);
	at = put16(o, at, SINK_DNS_TTL & 0xffff);
	at = put16(o, at, (unsigned)rdlen);
	memcpy(o + at, rdata, rdlen);
	return at + rdlen;
}

/*
 * The answer to query q[0..qlen) in out[0..cap) (cap >= 512); rec gets the
 * name, type and rcode.  Returns the answer's length, 0 to send nothing.
 */
size_t sink_dns_answer(struct sinkhole *s, const uint8_t *q, size_t qlen, uint8_t *out, size_t cap,
		       struct sinkhole_rec *rec)
{
	struct dns_query dq;
	bool want4 = false, want6 = false;
	unsigned idx = 0, flags;
	uint8_t a[16];
	size_t o, olen;
	int ret, rcode;

	/* Nothing to answer without an id; a response is never answered. */
	if (qlen < 2 || (qlen >= 3 && (q[2] & 0x80)))
		return 0;
	ret = dns_parse_query(q, qlen, &dq);
	if (dq.qend) {
		put_str(rec->qname, sizeof(rec->qname), dq.name);
		dns_qtype_name(dq.qtype, rec->qtype, sizeof(rec->qtype));
	}
	if (ret < 0) {
		rcode = -ret;
		goto error;
	}
	/* A and AAAA (and ANY) of class IN get a pool address. */
	if (dq.qclass == DNS_CLASS_IN && dq.name[0]) {
		want4 = dq.qtype == DNS_TYPE_A || dq.qtype == DNS_TYPE_ANY;
		want6 = s->have6 && (dq.qtype == DNS_TYPE_AAAA || dq.qtype == DNS_TYPE_ANY);
	}
	if (want4 || want6) {
		pthread_mutex_lock(&s->mu);
		idx = sink_pool_index(s, dq.name);
		pthread_mutex_unlock(&s->mu);
		if (!idx) {
			rcode = DNS_RCODE_SERVFAIL; /* the pool is full */
			goto error;
		}
	}
	if (cap < dq.qend + 2 * (12 + 16) + 11) {
		rcode = DNS_RCODE_SERVFAIL;
		goto error;
	}
	/* Header and question as asked; QR AA RA, RD and CD copied. */
	memcpy(out, q, dq.qend);
	flags = DNS_FLAG_QR | DNS_FLAG_AA | DNS_FLAG_RA | (dq.flags & (DNS_FLAG_RD | DNS_FLAG_CD));
	put16(out, 2, flags);
	put16(out, 4, 1);
	put16(out, 6, (unsigned)want4 + want6);
	put16(out, 8, 0);
	put16(out, 10, dq.edns.present ? 1 : 0);
	o = dq.qend;
	if (want4) {
		sink_pool_addr(idx, AF_INET, a);
		o = put_rr(out, o, DNS_TYPE_A, a, 4);
	}
	if (want6) {
		sink_pool_addr(idx, AF_INET6, a);
		o = put_rr(out, o, DNS_TYPE_AAAA, a, 16);
	}
	if (dq.edns.present) {
		/* OPT: root, our payload size, version 0, DO copied, no options */
		out[o++] = 0;
		o = put16(out, o, DNS_TYPE_OPT);
		o = put16(out, o, DNS_EDNS_UDP_SIZE);
		o = put16(out, o, 0);
		o = put16(out, o, dq.edns.do_bit ? 0x8000 : 0);
		o = put16(out, o, 0);
	}
	put_str(rec->rcode, sizeof(rec->rcode), rcode_name(DNS_RCODE_NOERROR));
	return o;
error:
	put_str(rec->rcode, sizeof(rec->rcode), rcode_name(rcode));
	if (dns_build_error(q, qlen, &dq, rcode, out, cap, &olen))
		return 0;
	return olen;
}

/* Queries waiting on one UDP socket: answer each from the address it was
 * sent to. */
void sink_dns_udp(struct sink_loop *l, struct sink_ep *ep)
{
	struct sinkhole *s = l->s;

	for (int i = 0; i < SINK_UDP_BATCH; i++) {
		union {
			struct cmsghdr h;
			uint8_t b[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
				  CMSG_SPACE(sizeof(struct in_pktinfo))];
		} cin, cout;
		struct sockaddr_storage from;
		struct iovec iov = {l->in, sizeof(l->in)};
		struct msghdr mh = {.msg_name = &from,
				    .msg_namelen = sizeof(from),
				    .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cin.b,
				    .msg_controllen = sizeof(cin.b)};
		uint8_t dst[16] = {0};
		int ifindex = 0;
		struct sinkhole_rec rec;
		struct cmsghdr *c;
		size_t olen;
		ssize_t n;

		n = recvmsg(ep->fd, &mh, MSG_DONTWAIT);
		if (n < 0)
			return; /* EAGAIN, or an error to read again at the next wake-up */
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;

				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				memcpy(dst, &pi.ipi_addr, 4);
				ifindex = pi.ipi_ifindex;
			} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
				struct in6_pktinfo pi;

				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				memcpy(dst, &pi.ipi6_addr, 16);
				ifindex = (int)pi.ipi6_ifindex;
			}
		}
		sink_rec_init(&rec, "dns", "udp", ep->family, dst, HUSH_SINK_DNS_PORT);
		olen = sink_dns_answer(s, l->in, (size_t)n, l->out, sizeof(l->out), &rec);
		if (olen == 0)
			continue;
		/* Reply from the address asked. */
		memset(&cout, 0, sizeof(cout));
		mh.msg_control = cout.b;
		if (ep->family == AF_INET) {
			struct in_pktinfo pi = {0};

			memcpy(&pi.ipi_spec_dst, dst, 4);
			mh.msg_controllen = CMSG_SPACE(sizeof(pi));
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		} else {
			struct in6_pktinfo pi = {0};

			memcpy(&pi.ipi6_addr, dst, 16);
			pi.ipi6_ifindex = (unsigned)ifindex;
			mh.msg_controllen = CMSG_SPACE(sizeof(pi));
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = IPPROTO_IPV6;
			c->cmsg_type = IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		}
		iov.iov_base = l->out;
		iov.iov_len = olen;
		mh.msg_flags = 0;
		sendmsg(ep->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		sink_rec_add(s, &rec);
	}
}
