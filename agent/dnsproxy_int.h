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
	uint64_t cgid; /* the cgroup whose query the answer was for */
	int64_t seen;
	char name[NAME_KEEP];
};

/* ---- listener sets: one per network namespace served (set 0: home) ---- */

struct nset {
	bool used;
	bool retiring;		       /* out of the redirect; fds closed at close_at */
	uint64_t netns;		       /* cookie */
	uint64_t dev, ino;	       /* of /proc/PID/ns/net (the helper's name for it) */
	int fd[HUSH_DNS_SLOTS];	       /* -1: none */
	uint16_t port[HUSH_DNS_SLOTS]; /* 0: none */
	int64_t close_at;
};

/* epoll data of a listener: set * HUSH_DNS_SLOTS + slot + 1 above the fd. */
#define EP_LISTENER(set, slot, fd)                                                                 \
	((uint64_t)((set)*HUSH_DNS_SLOTS + (slot) + 1) << 32 | (uint32_t)(fd))

/* ---- pending UDP queries, by the id sent upstream ---- */

struct pending {
	uint16_t cid; /* client's id */
	int fd;	      /* the listener (UDP) to answer on */
	struct sockaddr_storage peer;
	socklen_t plen;
	int64_t deadline;
	bool learn;				 /* allowed: learn from the answer */
	uint64_t lcg;				 /* for this learning cgroup (0: unknown) */
	uint64_t cgid;				 /* the asking socket's cgroup (0: unknown) */
	uint8_t qsec[DNS_MAX_WIRE_NAME + 4 + 1]; /* question section sent */
	size_t qseclen;
};

struct dnsproxy {
	struct dnsproxy_opts o;
	int *fd;			  /* = set[0].fd: the home listeners */
	struct nset set[HUSH_DNS_NS_MAX]; /* UDP thread only, but for tcpfd-like reads under mu */
	uint32_t nsets;			  /* in use, home included */
	int nsfd;			  /* the namespace helper's socket (dnsns.h), -1: none */
	int up4, up6;			  /* upstream UDP */
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
/* Who sent what arrived on slot (proxy port pport, in namespace netns)
 * from peer. */
void dnsproxy_who(struct dnsproxy *px, int slot, uint16_t pport, uint64_t netns,
		  const struct sockaddr_storage *peer, struct who *w);
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
void dnsproxy_answer_learn(struct dnsproxy *px, const uint8_t *msg, size_t len, uint64_t lcg,
			   struct dns_response *r, uint64_t cgid);

static inline void dnsproxy_report(struct dnsproxy *px, const struct dnsproxy_query *rep)
{
	if (px->o.report)
		px->o.report(px->o.report_ctx, rep);
}

/* ---- the threads ---- */

/* The proxy's thread: UDP queries and answers, TCP accepts, the namespace
 * helper's messages (arg: px). */
void *dnsproxy_udp_main(void *arg);
/* Accept the connections waiting on listener set `set`, slot, a thread each. */
void dnsproxy_tcp_accept(struct dnsproxy *px, uint32_t set, int slot);

/* ---- sets (dnsproxy_ns.c) ---- */

/* A socket of the proxy: listening on loopback (freebind: also where
 * loopback is still down) at port (0: any), or for forwarding.  fd or
 * -errno. */
int dnsproxy_open_sock(int family, int type, bool listening, uint16_t port);
/* A message from the namespace helper (UDP thread). */
void dnsproxy_ns_msg(struct dnsproxy *px);
/* Close retired sets whose time has come (UDP thread). */
void dnsproxy_ns_reap(struct dnsproxy *px, bool all);

#endif /* HUSH_AGENT_DNSPROXY_INT_H */
