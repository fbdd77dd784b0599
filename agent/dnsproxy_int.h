/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The DNS proxy's insides, shared by its three files: dnsproxy.c (the view
 * of a policy, judging, learning, set-up and the API), dnsproxy_udp.c (UDP
 * queries and the proxy's thread) and dnsproxy_tcp.c (a thread per TCP
 * connection).  Not for use outside agent/dnsproxy*.c.
 */
#ifndef HUSH_AGENT_DNSPROXY_INT_H
#define HUSH_AGENT_DNSPROXY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <linux/types.h>

#include "bpf/dns_redirect.h"
#include "agent/dnsproxy.h"

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

/* ---- judging ---- */

struct who {
	struct hush_dns_client c;
	bool known;
};

enum act { ACT_ANSWER, ACT_FORWARD, ACT_DROP };

/* Fill the report's event from who asked; verdict and rule by the caller. */
void dnsproxy_rep_init(struct dnsproxy_query *r, const struct who *w, uint8_t proto,
		       const struct sockaddr_storage *peer);
/* Who sent what arrived on slot from peer. */
void dnsproxy_who(struct dnsproxy *px, int slot, const struct sockaddr_storage *peer,
		  struct who *w);
/*
 * Judge one query msg[0..len): fills rep (verdict, rule, names, note) and
 * either an answer in out[0..*outlen) (ACT_ANSWER), or says forward.
 * *learn: an allowed forward whose answer may teach addresses.
 */
enum act dnsproxy_judge(struct dnsproxy *px, const uint8_t *msg, size_t len, const struct who *w,
			struct dnsproxy_query *rep, uint8_t *out, size_t *outlen, bool *learn,
			struct dns_query *q);
/* An allowed answer: remember its names, and report it to the learn
 * callback, which puts what it taught in force before the client sees it. */
void dnsproxy_answer_learn(struct dnsproxy *px, const uint8_t *msg, size_t len,
			   struct dns_response *r);

static inline void dnsproxy_report(struct dnsproxy *px, const struct dnsproxy_query *rep)
{
	if (px->o.report)
		px->o.report(px->o.report_ctx, rep);
}

/* ---- the threads ---- */

/* The proxy's thread: UDP queries and answers, TCP accepts (arg: px). */
void *dnsproxy_udp_main(void *arg);
/* Accept the connections waiting on slot, a thread each. */
void dnsproxy_tcp_accept(struct dnsproxy *px, int slot);

#endif /* HUSH_AGENT_DNSPROXY_INT_H */
