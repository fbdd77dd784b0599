// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The sinkhole (see sinkhole.h for what it is and the addresses).
 *
 * Set-up runs in a short-lived thread of its own: it unshare()s into a new
 * network namespace (S), opens S's fd, sets S's sysctls and creates S's
 * sockets and a netlink socket there; then the same for T; everything after
 * that goes through those fds and sockets, which stay bound to their
 * namespace whatever thread uses them.  The caller's threads never change
 * namespace.  Links, addresses, rules and routes are made with
 * libnl-route-3; the sk_lookup program is attached to S's netns fd with a
 * bpf_link (gone when the skeleton is destroyed).
 *
 * Serving: two threads with an epoll loop each.  The DNS loop has the UDP
 * sockets (replies sent from the address the query went to: IP_PKTINFO,
 * and IP_TRANSPARENT since that address is local only through table 100,
 * which the kernel's source check does not consult) and the TCP DNS
 * listeners and their connections.  The catcher loop has the two catcher
 * listeners and their connections, each read into a SINKHOLE_FIRST_MAX
 * buffer until the TLS or HTTP parser decides, the client closes, the
 * buffer fills or SINKHOLE_FIRST_MS pass.  Connections are timed out by a
 * scan at each wake-up (at most SINK_MAX_CONNS per loop).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

#include "dns.h"
#include "log.h"
#include "sinkhole.h"
#include "sniff.h"
#include "bpf/sinkhole.h"
#include "sinkhole.skel.h"

/* ---- addresses (sinkhole.h has the picture) ---- */

#define SINK_IF_S     "hush-test" /* S's end of the veth (towards T) */
#define SINK_IF_T     "hush-sink" /* T's end (towards the sinkhole) */
#define SINK_TABLE    100	  /* S: "everything is local" for what comes from T */
#define SINK_RULE_PRI 100

static const uint8_t sink_s4[4] = {198, 19, 0, 1};
static const uint8_t sink_t4[4] = {198, 19, 0, 2};
#define SINK_LINK4_PLEN 30
static const uint8_t sink_s6[16] = {0xfd, 0x68, 0x75, 0x73, 0x68, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t sink_t6[16] = {0xfd, 0x68, 0x75, 0x73, 0x68, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2};
#define SINK_LINK6_PLEN 64

/* Pool: index i (1..SINK_POOL_MAX) is 198.19.128.0 + i and fd68:7573:6800:80::i. */
#define SINK_POOL4	0xc6138000u /* 198.19.128.0/17 */
#define SINK_POOL4_MASK 0xffff8000u
#define SINK_POOL_MAX	32766
static const uint8_t sink_pool6[12] = {0xfd, 0x68, 0x75, 0x73, 0x68, 0, 0, 0x80, 0, 0, 0, 0};
#define SINK_POOL_SLOTS 65536 /* open-addressing name table, > 2 * SINK_POOL_MAX */
#define SINK_REC_SLOTS	32768 /* open-addressing record table, >= 2 * SINKHOLE_MAX_RECS */

#define SINK_DNS_TTL	  60
#define SINK_DNS_IDLE_MS  10000 /* TCP DNS connection idle time */
#define SINK_MAX_CONNS	  1024	/* open connections per loop */
#define SINK_UDP_BATCH	  64	/* datagrams per wake-up and socket */
#define SINK_ACCEPT_BATCH 64

/* ---- state ---- */

enum sink_ep_type { EP_WAKE, EP_UDP, EP_DNS_LISTEN, EP_CATCH_LISTEN, EP_CONN };

struct sink_ep {
	enum sink_ep_type type;
	int fd;
	int family;
};

struct sink_conn {
	struct sink_ep ep; /* first: epoll data points here */
	bool dns;	   /* TCP DNS, else catcher */
	uint8_t daddr[16];
	uint16_t dport;
	int64_t deadline; /* CLOCK_MONOTONIC ns */
	size_t len, cap;
	uint8_t *buf;
	struct sink_conn *prev, *next;
};

struct sinkhole;

struct sink_loop {
	struct sinkhole *s;
	int epfd;
	struct sink_ep wake; /* eventfd: stop */
	pthread_t thr;
	bool running;
	struct sink_conn *conns;
	size_t nconns;
	uint8_t in[65536]; /* UDP query */
	uint8_t out[2 + 4096];
};

struct sinkhole {
	int ns_t, ns_s;
	bool have6;
	struct sink_ep udp[2], dnsl[2], catchl[2]; /* [0] v4, [1] v6; fd -1 when absent */
	struct sinkhole_bpf *skel;
	struct bpf_link *link;
	struct sink_loop *dnsloop, *catchloop;
	atomic_int busy; /* catcher connections + loops handling a wake-up (an idle
			  * TCP DNS connection is not work in progress) */

	pthread_mutex_t mu; /* everything below */
	struct sinkhole_rec *recs;
	size_t nrecs, caprecs;
	uint64_t lost;
	char **names;	  /* names[i - 1]: the name of pool index i */
	size_t nnames;	  /* indexes handed out */
	uint16_t *slots;  /* SINK_POOL_SLOTS: pool index of a name, 0 = empty */
	uint16_t *rslots; /* SINK_REC_SLOTS: 1 + index of a record in recs, 0 = empty */
};

/* ---- small helpers ---- */

static int64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, int ret,
						      const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		int n = snprintf(err, errlen, "sinkhole: ");

		va_start(ap, fmt);
		if (n > 0 && (size_t)n < errlen)
			vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return ret;
}

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

/* Copy a C string, cut to fit dst[0..cap) (cap > 0). */
static void put_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

/* ---- the pool and the records ---- */

static uint32_t name_hash(const char *n)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *n; n++)
		h = (h ^ (uint8_t)*n) * 16777619u;
	return h;
}

/* Pool index of name, handing out the next one for a new name; 0 when the
 * pool is full (or on ENOMEM).  Caller holds s->mu. */
static unsigned pool_index(struct sinkhole *s, const char *name)
{
	uint32_t h = name_hash(name);

	for (uint32_t i = 0; i < SINK_POOL_SLOTS; i++) {
		uint16_t *slot = &s->slots[(h + i) & (SINK_POOL_SLOTS - 1)];
		char *dup;

		if (*slot && strcmp(s->names[*slot - 1], name) == 0)
			return *slot;
		if (*slot)
			continue;
		if (s->nnames >= SINK_POOL_MAX || !(dup = strdup(name)))
			return 0;
		s->names[s->nnames++] = dup;
		*slot = (uint16_t)s->nnames;
		return *slot;
	}
	return 0;
}

static void pool_addr(unsigned idx, int family, uint8_t a[16])
{
	memset(a, 0, 16);
	if (family == AF_INET) {
		uint32_t v = htonl(SINK_POOL4 + idx);

		memcpy(a, &v, 4);
	} else {
		memcpy(a, sink_pool6, sizeof(sink_pool6));
		a[12] = (uint8_t)(idx >> 24);
		a[13] = (uint8_t)(idx >> 16);
		a[14] = (uint8_t)(idx >> 8);
		a[15] = (uint8_t)idx;
	}
}

/* The pool index of an address, 0 when it is not in the pool. */
static unsigned pool_of(int family, const uint8_t a[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	uint32_t v;

	if (family == AF_INET6 && memcmp(a, mapped, sizeof(mapped)) == 0) {
		family = AF_INET;
		a += 12;
	}
	if (family == AF_INET) {
		v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
		if ((v & SINK_POOL4_MASK) != SINK_POOL4)
			return 0;
		v &= ~SINK_POOL4_MASK;
	} else if (family == AF_INET6) {
		if (memcmp(a, sink_pool6, sizeof(sink_pool6)))
			return 0;
		v = (uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 | (uint32_t)a[14] << 8 | a[15];
	} else {
		return 0;
	}
	return v <= SINK_POOL_MAX ? v : 0;
}

/* The fields that make two records the same event: kind to path, compared
 * as bytes (rec_init() zeroes each record whole). */
#define REC_KEY_OFF offsetof(struct sinkhole_rec, kind)
#define REC_KEY_LEN                                                                                \
	(offsetof(struct sinkhole_rec, path) + sizeof(((struct sinkhole_rec *)0)->path) -          \
	 REC_KEY_OFF)
_Static_assert(offsetof(struct sinkhole_rec, family) == offsetof(struct sinkhole_rec, proto) + 8 &&
		   offsetof(struct sinkhole_rec, daddr) ==
		       offsetof(struct sinkhole_rec, family) + sizeof(int) &&
		   offsetof(struct sinkhole_rec, qname) == offsetof(struct sinkhole_rec, dport) + 2,
	       "no padding inside the record key");

static uint32_t hash_bytes(uint32_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* Hash of the key: the fixed fields, then each string up to its NUL (the
 * bytes after it are zero in every record, from rec_init()). */
static uint32_t rec_hash(const struct sinkhole_rec *r)
{
	const char *const strs[] = {r->kind, r->proto, r->qname,  r->qtype, r->rcode,
				    r->sni,  r->host,  r->method, r->path};
	uint32_t h = 2166136261u;

	h = hash_bytes(h, &r->family, sizeof(r->family));
	h = hash_bytes(h, r->daddr, sizeof(r->daddr));
	h = hash_bytes(h, &r->dport, sizeof(r->dport));
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		h = hash_bytes(h, strs[i], strlen(strs[i]) + 1);
	return h;
}

/* Keep r, or count it on the record of the same event. */
static void rec_add(struct sinkhole *s, struct sinkhole_rec *r)
{
	uint32_t h = rec_hash(r);
	uint16_t *slot = NULL;

	r->ts_ns = r->last_ns = now_ns(CLOCK_REALTIME);
	r->count = 1;
	pthread_mutex_lock(&s->mu);
	for (uint32_t i = 0; i < SINK_REC_SLOTS; i++) {
		struct sinkhole_rec *e;

		slot = &s->rslots[(h + i) & (SINK_REC_SLOTS - 1)];
		if (!*slot)
			break;
		e = &s->recs[*slot - 1];
		if (memcmp((const char *)e + REC_KEY_OFF, (const char *)r + REC_KEY_OFF,
			   REC_KEY_LEN) == 0) {
			e->count++;
			e->last_ns = r->ts_ns;
			pthread_mutex_unlock(&s->mu);
			return;
		}
	}
	if (s->nrecs == s->caprecs && s->nrecs < SINKHOLE_MAX_RECS) {
		size_t cap = s->caprecs ? s->caprecs * 2 : 64;
		struct sinkhole_rec *n;

		if (cap > SINKHOLE_MAX_RECS)
			cap = SINKHOLE_MAX_RECS;
		n = realloc(s->recs, cap * sizeof(*n));
		if (n) {
			s->recs = n;
			s->caprecs = cap;
		}
	}
	if (s->nrecs < s->caprecs && slot && !*slot) {
		s->recs[s->nrecs++] = *r;
		*slot = (uint16_t)s->nrecs;
	} else {
		s->lost++;
	}
	pthread_mutex_unlock(&s->mu);
}

/* A record for a connection or query to family/daddr/dport. */
static void rec_init(struct sinkhole_rec *r, const char *kind, const char *proto, int family,
		     const uint8_t daddr[16], uint16_t dport)
{
	memset(r, 0, sizeof(*r));
	put_str(r->kind, sizeof(r->kind), kind);
	put_str(r->proto, sizeof(r->proto), proto);
	r->family = family;
	memcpy(r->daddr, daddr, 16);
	r->dport = dport;
}

/* ---- DNS ---- */

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
static size_t dns_answer(struct sinkhole *s, const uint8_t *q, size_t qlen, uint8_t *out,
			 size_t cap, struct sinkhole_rec *rec)
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
		idx = pool_index(s, dq.name);
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
		pool_addr(idx, AF_INET, a);
		o = put_rr(out, o, DNS_TYPE_A, a, 4);
	}
	if (want6) {
		pool_addr(idx, AF_INET6, a);
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

/* Queries waiting on one UDP socket: answer each from the address it was
 * sent to. */
static void dns_udp(struct sink_loop *l, struct sink_ep *ep)
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
		rec_init(&rec, "dns", "udp", ep->family, dst, HUSH_SINK_DNS_PORT);
		olen = dns_answer(s, l->in, (size_t)n, l->out, sizeof(l->out), &rec);
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
		rec_add(s, &rec);
	}
}

/* ---- connections ---- */

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

/* Name of a pool address for a tcp record. */
static void rec_name(struct sinkhole *s, struct sinkhole_rec *r)
{
	unsigned idx = pool_of(r->family, r->daddr);

	pthread_mutex_lock(&s->mu);
	if (idx && idx <= s->nnames)
		put_str(r->qname, sizeof(r->qname), s->names[idx - 1]);
	pthread_mutex_unlock(&s->mu);
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
	rec_init(&rec, "tcp", "none", c->ep.family, c->daddr, c->dport);
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
	rec_name(l->s, &rec);
	rec_add(l->s, &rec);
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

		rec_init(&rec, "dns", "tcp", c->ep.family, c->daddr, c->dport);
		olen = dns_answer(l->s, c->buf + off + 2, fl - 2, l->out + 2, sizeof(l->out) - 2,
				  &rec);
		off += fl;
		if (olen == 0)
			continue;
		rec_add(l->s, &rec);
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
				rec_init(&rec, "tcp", "none", ep->family, da, dp);
				rec_name(l->s, &rec);
				rec_add(l->s, &rec);
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
				dns_udp(l, ep);
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

/* ---- set-up ---- */

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
		return fail(err, errlen, -e, "unshare(CLONE_NEWNET) for %s: %s%s", what,
			    strerror(e), log_perm_hint(e));
	}
	*fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		e = errno;
		return fail(err, errlen, -e, "open /proc/thread-self/ns/net (%s): %s", what,
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
		*ret = fail(err, errlen, -ENOMEM, "netlink socket for %s: out of memory", what);
		return NULL;
	}
	e = nl_connect(sk, NETLINK_ROUTE);
	if (e < 0) {
		nl_socket_free(sk);
		*ret = fail(err, errlen, -EIO, "netlink socket for %s: %s", what, nl_geterror(e));
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
	return fail(err, errlen, e == -NLE_PERM ? -EPERM : -EIO, "netlink: %s: %s%s", step,
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
			ret = fail(su->err, su->errlen, ret, "%s socket in S: %s%s", socks[i].what,
				   strerror(-ret), log_perm_hint(-ret));
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

/* Start a thread with every signal blocked (they are the program's). */
static int thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int e;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -e;
}

static int loop_new(struct sinkhole *s, struct sink_loop **out, struct sink_ep *const *eps,
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
	e = thread_start(&l->thr, loop_run, l);
	if (e)
		return e;
	l->running = true;
	return 0;
}

static void loop_stop(struct sink_loop *l)
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

/* ---- API ---- */

int sinkhole_start(struct sinkhole **out, char *err, size_t errlen)
{
	struct sinkhole *s;
	struct setup su = {.err = err, .errlen = errlen};
	pthread_t t;
	int ret, e, mfd;

	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return fail(err, errlen, -ENOMEM, "out of memory");
	s->ns_t = s->ns_s = -1;
	for (int i = 0; i < 2; i++)
		s->udp[i].fd = s->dnsl[i].fd = s->catchl[i].fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	s->names = calloc(SINK_POOL_MAX, sizeof(*s->names));
	s->slots = calloc(SINK_POOL_SLOTS, sizeof(*s->slots));
	s->rslots = calloc(SINK_REC_SLOTS, sizeof(*s->rslots));
	if (!s->names || !s->slots || !s->rslots) {
		ret = fail(err, errlen, -ENOMEM, "out of memory");
		goto err;
	}

	/* The BPF side first: if it cannot load, nothing else is made. */
	s->skel = sinkhole_bpf__open_and_load();
	if (!s->skel) {
		e = errno;
		ret = fail(err, errlen, -e, "load the sk_lookup program (bpf/sinkhole.bpf.c): %s%s",
			   strerror(e), log_perm_hint(e));
		goto err;
	}

	/* Namespaces, sockets, links, routes. */
	su.s = s;
	ret = thread_start(&t, setup_run, &su);
	if (ret) {
		fail(err, errlen, ret, "set-up thread: %s", strerror(-ret));
		goto err;
	}
	pthread_join(t, NULL);
	ret = su.ret;
	if (ret)
		goto err;

	/* The catcher's listeners into the SOCKMAP, then steer S's lookups. */
	mfd = bpf_map__fd(s->skel->maps.hush_sink_socks);
	for (uint32_t i = 0; i < 2; i++) {
		uint64_t fd = (uint64_t)s->catchl[i].fd;
		uint32_t key = i ? HUSH_SINK_CATCH6 : HUSH_SINK_CATCH4;

		if (s->catchl[i].fd < 0)
			continue;
		if (bpf_map_update_elem(mfd, &key, &fd, BPF_ANY)) {
			e = errno;
			ret = fail(err, errlen, -e, "catcher socket into hush_sink_socks: %s%s",
				   strerror(e), log_perm_hint(e));
			goto err;
		}
	}
	s->link = bpf_program__attach_netns(s->skel->progs.hush_sink_steer, s->ns_s);
	if (!s->link) {
		e = errno;
		ret = fail(err, errlen, -e, "attach sk_lookup to the sinkhole namespace: %s%s",
			   strerror(e),
			   e == EINVAL || e == EOPNOTSUPP
			       ? " (kernel without sk_lookup links: needs Linux >= 5.9)"
			       : log_perm_hint(e));
		s->link = NULL;
		goto err;
	}

	/* Serve. */
	{
		struct sink_ep *dns[] = {&s->udp[0], &s->udp[1], &s->dnsl[0], &s->dnsl[1]};
		struct sink_ep *catch[] = {&s->catchl[0], &s->catchl[1]};

		ret = loop_new(s, &s->dnsloop, dns, 4);
		if (!ret)
			ret = loop_new(s, &s->catchloop, catch, 2);
		if (ret) {
			fail(err, errlen, ret, "serving threads: %s", strerror(-ret));
			goto err;
		}
	}
	*out = s;
	return 0;
err:
	sinkhole_stop(s);
	return ret;
}

int sinkhole_netns_fd(const struct sinkhole *s)
{
	return s->ns_t;
}

void sinkhole_resolver(const struct sinkhole *s, int *family, uint8_t addr[16])
{
	(void)s;
	*family = AF_INET;
	memset(addr, 0, 16);
	memcpy(addr, sink_s4, sizeof(sink_s4));
}

bool sinkhole_has_ipv6(const struct sinkhole *s)
{
	return s->have6;
}

/* Anything waiting on S's sockets? */
static bool socks_pending(struct sinkhole *s)
{
	struct pollfd p[6];
	nfds_t n = 0;

	for (int i = 0; i < 2; i++) {
		const struct sink_ep *eps[] = {&s->udp[i], &s->dnsl[i], &s->catchl[i]};

		for (int j = 0; j < 3; j++)
			if (eps[j]->fd >= 0)
				p[n++] = (struct pollfd){.fd = eps[j]->fd, .events = POLLIN};
	}
	return poll(p, n, 0) > 0;
}

int sinkhole_settle(struct sinkhole *s, int timeout_ms)
{
	int64_t deadline = now_ns(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000;
	int quiet = 0;

	for (;;) {
		if (atomic_load(&s->busy) == 0 && !socks_pending(s))
			quiet++;
		else
			quiet = 0;
		if (quiet >= 2)
			return 0;
		if (now_ns(CLOCK_MONOTONIC) >= deadline)
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
	}
}

size_t sinkhole_records(struct sinkhole *s, struct sinkhole_rec **out)
{
	size_t n;

	*out = NULL;
	pthread_mutex_lock(&s->mu);
	n = s->nrecs;
	if (n) {
		*out = malloc(n * sizeof(**out));
		if (*out)
			memcpy(*out, s->recs, n * sizeof(**out));
		else
			n = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

uint64_t sinkhole_lost(struct sinkhole *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->mu);
	n = s->lost;
	pthread_mutex_unlock(&s->mu);
	return n;
}

int sinkhole_name_of(struct sinkhole *s, int family, const uint8_t addr[16], char *name, size_t len)
{
	unsigned idx = pool_of(family, addr);
	int ret = -ENOENT;

	pthread_mutex_lock(&s->mu);
	if (idx && idx <= s->nnames) {
		ret = 0;
		if (strlen(s->names[idx - 1]) >= len)
			ret = -ENOSPC;
		else
			memcpy(name, s->names[idx - 1], strlen(s->names[idx - 1]) + 1);
	}
	pthread_mutex_unlock(&s->mu);
	return ret;
}

void sinkhole_stop(struct sinkhole *s)
{
	if (!s)
		return;
	/* Threads first (the catcher records what it holds), then S's steering
	 * and sockets, then the namespaces. */
	loop_stop(s->dnsloop);
	loop_stop(s->catchloop);
	bpf_link__destroy(s->link);
	sinkhole_bpf__destroy(s->skel);
	for (int i = 0; i < 2; i++) {
		if (s->udp[i].fd >= 0)
			close(s->udp[i].fd);
		if (s->dnsl[i].fd >= 0)
			close(s->dnsl[i].fd);
		if (s->catchl[i].fd >= 0)
			close(s->catchl[i].fd);
	}
	if (s->ns_s >= 0)
		close(s->ns_s);
	if (s->ns_t >= 0)
		close(s->ns_t);
	if (s->names)
		for (size_t i = 0; i < s->nnames; i++)
			free(s->names[i]);
	free(s->names);
	free(s->slots);
	free(s->rslots);
	free(s->recs);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
