/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The sinkhole's insides, shared by its files and by nothing else (the API
 * is sinkhole.h; sinkhole.c says how it works):
 *   sinkhole.c        the API, the name pool and the records
 *   sinkhole_setup.c  namespaces, sockets, links, routes (netlink)
 *   sinkhole_dns.c    the DNS answers, UDP
 *   sinkhole_conn.c   the serving loops and their TCP connections (catcher,
 *                     TCP DNS)
 */
#ifndef HUSH_AGENT_SINKHOLE_INT_H
#define HUSH_AGENT_SINKHOLE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "agent/sinkhole_net.h"
#include "agent/util.h"

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

/* ---- small helpers (sinkhole.c) ---- */

/* Copy a C string, cut to fit dst[0..cap) (cap > 0). */
static inline void put_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

/* "sinkhole: " and the message into err[0..errlen); returns ret. */
__attribute__((format(printf, 4, 5))) int sink_fail(char *err, size_t errlen, int ret,
						    const char *fmt, ...);
/* Start a thread with every signal blocked (they are the program's). */
int sink_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* ---- the pool and the records (sinkhole.c) ---- */

/* Pool index of name, handing out the next one for a new name; 0 when the
 * pool is full (or on ENOMEM).  Caller holds s->mu. */
unsigned sink_pool_index(struct sinkhole *s, const char *name);
void sink_pool_addr(unsigned idx, int family, uint8_t a[16]);
/* A record for a connection or query to family/daddr/dport. */
void sink_rec_init(struct sinkhole_rec *r, const char *kind, const char *proto, int family,
		   const uint8_t daddr[16], uint16_t dport);
/* Name of a pool address for a tcp record. */
void sink_rec_name(struct sinkhole *s, struct sinkhole_rec *r);
/* Keep r, or count it on the record of the same event. */
void sink_rec_add(struct sinkhole *s, struct sinkhole_rec *r);

/* ---- sinkhole_dns.c ---- */

/* The answer to query q[0..qlen) in out[0..cap) (cap >= 512); rec gets the
 * name, type and rcode.  Returns the answer's length, 0 to send nothing. */
size_t sink_dns_answer(struct sinkhole *s, const uint8_t *q, size_t qlen, uint8_t *out, size_t cap,
		       struct sinkhole_rec *rec);
/* Queries waiting on one UDP socket: answer each from the address it was
 * sent to. */
void sink_dns_udp(struct sink_loop *l, struct sink_ep *ep);

/* ---- sinkhole_conn.c ---- */

/* A serving loop over eps (those with fd >= 0), in a thread of its own. */
int sink_loop_new(struct sinkhole *s, struct sink_loop **out, struct sink_ep *const *eps,
		  size_t neps);
/* Stop and free it; NULL is ignored. */
void sink_loop_stop(struct sink_loop *l);

/* ---- sinkhole_setup.c ---- */

/* Create S and T with their sockets, links, addresses, rules and routes
 * (in a thread of its own, which ends in T). */
int sink_setup(struct sinkhole *s, char *err, size_t errlen);

#endif /* HUSH_AGENT_SINKHOLE_INT_H */
