// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The sinkhole (see sinkhole_net.h for what it is and the addresses).
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
 *
 * sinkhole_int.h lists the files: this one has the API, the name pool and
 * the records.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/log.h"
#include "agent/sinkhole_int.h"
#include "bpf/sinkhole.h"
#include "sinkhole.skel.h"

/* ---- small helpers ---- */

int sink_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
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

/* Start a thread with every signal blocked (they are the program's). */
int sink_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int e;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -e;
}

/* ---- the pool and the records ---- */

/* Pool index of name, handing out the next one for a new name; 0 when the
 * pool is full (or on ENOMEM).  Caller holds s->mu. */
unsigned sink_pool_index(struct sinkhole *s, const char *name)
{
	uint32_t h = fnv1a32_str(FNV32_INIT, name);

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

void sink_pool_addr(unsigned idx, int family, uint8_t a[16])
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
 * as bytes (sink_rec_init() zeroes each record whole). */
#define REC_KEY_OFF offsetof(struct sinkhole_rec, kind)
#define REC_KEY_LEN                                                                                \
	(offsetof(struct sinkhole_rec, path) + sizeof(((struct sinkhole_rec *)0)->path) -          \
	 REC_KEY_OFF)
_Static_assert(offsetof(struct sinkhole_rec, family) == offsetof(struct sinkhole_rec, proto) + 8 &&
		   offsetof(struct sinkhole_rec, daddr) ==
		       offsetof(struct sinkhole_rec, family) + sizeof(int) &&
		   offsetof(struct sinkhole_rec, qname) == offsetof(struct sinkhole_rec, dport) + 2,
	       "no padding inside the record key");

/* Hash of the key: the fixed fields, then each string up to its NUL (the
 * bytes after it are zero in every record, from sink_rec_init()). */
static uint32_t rec_hash(const struct sinkhole_rec *r)
{
	const char *const strs[] = {r->kind, r->proto, r->qname,  r->qtype, r->rcode,
				    r->sni,  r->host,  r->method, r->path};
	uint32_t h = FNV32_INIT;

	h = fnv1a32(h, &r->family, sizeof(r->family));
	h = fnv1a32(h, r->daddr, sizeof(r->daddr));
	h = fnv1a32(h, &r->dport, sizeof(r->dport));
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		h = fnv1a32(h, strs[i], strlen(strs[i]) + 1);
	return h;
}

/* Doubling from 64 stops exactly at the cap. */
_Static_assert(SINKHOLE_MAX_RECS >= 64 && (SINKHOLE_MAX_RECS & (SINKHOLE_MAX_RECS - 1)) == 0,
	       "SINKHOLE_MAX_RECS is 64 doubled");

/* Keep r, or count it on the record of the same event. */
void sink_rec_add(struct sinkhole *s, struct sinkhole_rec *r)
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
	/* On ENOMEM caprecs stays and the record is counted as lost below. */
	if (s->nrecs < SINKHOLE_MAX_RECS)
		(void)GROW(s->recs, s->caprecs, s->nrecs + 1, 64);
	if (s->nrecs < s->caprecs && slot && !*slot) {
		s->recs[s->nrecs++] = *r;
		*slot = (uint16_t)s->nrecs;
	} else {
		s->lost++;
	}
	pthread_mutex_unlock(&s->mu);
}

/* A record for a connection or query to family/daddr/dport. */
void sink_rec_init(struct sinkhole_rec *r, const char *kind, const char *proto, int family,
		   const uint8_t daddr[16], uint16_t dport)
{
	memset(r, 0, sizeof(*r));
	put_str(r->kind, sizeof(r->kind), kind);
	put_str(r->proto, sizeof(r->proto), proto);
	r->family = family;
	memcpy(r->daddr, daddr, 16);
	r->dport = dport;
}

/* Name of a pool address for a tcp record. */
void sink_rec_name(struct sinkhole *s, struct sinkhole_rec *r)
{
	unsigned idx = pool_of(r->family, r->daddr);

	pthread_mutex_lock(&s->mu);
	if (idx && idx <= s->nnames)
		put_str(r->qname, sizeof(r->qname), s->names[idx - 1]);
	pthread_mutex_unlock(&s->mu);
}

/* ---- API ---- */

/* The catcher's listeners into the SOCKMAP, then steer S's lookups. */
static int steer(struct sinkhole *s, char *err, size_t errlen)
{
	int e, mfd;

	mfd = bpf_map__fd(s->skel->maps.hush_sink_socks);
	for (uint32_t i = 0; i < 2; i++) {
		uint64_t fd = (uint64_t)s->catchl[i].fd;
		uint32_t key = i ? HUSH_SINK_CATCH6 : HUSH_SINK_CATCH4;

		if (s->catchl[i].fd < 0)
			continue;
		if (bpf_map_update_elem(mfd, &key, &fd, BPF_ANY)) {
			e = errno;
			return sink_fail(err, errlen, -e,
					 "catcher socket into hush_sink_socks: %s%s", strerror(e),
					 log_perm_hint(e));
		}
	}
	s->link = bpf_program__attach_netns(s->skel->progs.hush_sink_steer, s->ns_s);
	if (!s->link) {
		e = errno;
		s->link = NULL;
		return sink_fail(err, errlen, -e,
				 "attach sk_lookup to the sinkhole namespace: %s%s", strerror(e),
				 e == EINVAL || e == EOPNOTSUPP
				     ? " (kernel without sk_lookup links: needs Linux >= 5.9)"
				     : log_perm_hint(e));
	}
	return 0;
}

int sinkhole_start(struct sinkhole **out, char *err, size_t errlen)
{
	struct sinkhole *s;
	int ret, e;

	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return sink_fail(err, errlen, -ENOMEM, "out of memory");
	s->ns_t = s->ns_s = -1;
	for (int i = 0; i < 2; i++)
		s->udp[i].fd = s->dnsl[i].fd = s->catchl[i].fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	s->names = calloc(SINK_POOL_MAX, sizeof(*s->names));
	s->slots = calloc(SINK_POOL_SLOTS, sizeof(*s->slots));
	s->rslots = calloc(SINK_REC_SLOTS, sizeof(*s->rslots));
	if (!s->names || !s->slots || !s->rslots) {
		ret = sink_fail(err, errlen, -ENOMEM, "out of memory");
		goto err;
	}

	/* The BPF side first: if it cannot load, nothing else is made. */
	s->skel = sinkhole_bpf__open_and_load();
	if (!s->skel) {
		e = errno;
		ret = sink_fail(err, errlen, -e,
				"load the sk_lookup program (bpf/sinkhole.bpf.c): %s%s",
				strerror(e), log_perm_hint(e));
		goto err;
	}

	/* Namespaces, sockets, links, routes. */
	ret = sink_setup(s, err, errlen);
	if (ret)
		goto err;

	/* The catcher's listeners into the SOCKMAP, then steer S's lookups. */
	ret = steer(s, err, errlen);
	if (ret)
		goto err;

	/* Serve. */
	{
		struct sink_ep *dns[] = {&s->udp[0], &s->udp[1], &s->dnsl[0], &s->dnsl[1]};
		struct sink_ep *catch[] = {&s->catchl[0], &s->catchl[1]};

		ret = sink_loop_new(s, &s->dnsloop, dns, 4);
		if (!ret)
			ret = sink_loop_new(s, &s->catchloop, catch, 2);
		if (ret) {
			sink_fail(err, errlen, ret, "serving threads: %s", strerror(-ret));
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
	sink_loop_stop(s->dnsloop);
	sink_loop_stop(s->catchloop);
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
