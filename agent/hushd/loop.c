// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hushd's one loop, on the main thread: ring buffer events and the DNS
 * queries the proxy threads queue go to the audit log and stdout; the
 * control socket and signals are served; once a second learned addresses
 * expire, scope cgroups are checked and the metrics rewritten.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent/enforcer.h"
#include "agent/engine.h"
#include "agent/event.h"
#include "agent/log.h"
#include "agent/store.h"
#include "agent/util.h"
#include "agent/hushd/hushd.h"

/* A query the proxy judged (its threads): queued for the drain loop. */
void hushd_on_query(void *ctx, const struct dnsproxy_query *q)
{
	struct hushd *d = ctx;

	pthread_mutex_lock(&d->dq_mu);
	/* Doubling from 64 reaches DQ_MAX exactly: the queue never holds more. */
	if (d->ndq < DQ_MAX && GROW(d->dq, d->dqcap, d->ndq + 1, 64) == 0)
		d->dq[d->ndq++] = *q;
	else
		d->dq_overflow++;
	pthread_mutex_unlock(&d->dq_mu);
}

/* Queries reported since the last call: to the store and stdout. */
void hushd_dns_flush(struct hushd *d)
{
	struct dnsproxy_query *q;
	size_t n, cap;
	uint64_t over;

	pthread_mutex_lock(&d->dq_mu);
	q = d->dq;
	n = d->ndq;
	cap = d->dqcap;
	over = d->dq_overflow;
	d->dq = NULL;
	d->ndq = d->dqcap = 0;
	d->dq_overflow = 0;
	pthread_mutex_unlock(&d->dq_mu);
	for (size_t i = 0; i < n; i++) {
		const struct dnsproxy_query *e = &q[i];
		struct hush_proc proc;

		d->events++;
		if (d->store)
			store_dns(d->store, &e->ev, e->qname[0] ? e->qname : NULL,
				  e->qtype[0] ? e->qtype : NULL, e->note[0] ? e->note : NULL,
				  d->loaded->pc, d->boot_to_real);
		if (!d->quiet)
			event_print_json_dns(stdout, &e->ev, e->qname[0] ? e->qname : NULL,
					     e->qtype[0] ? e->qtype : NULL,
					     e->note[0] ? e->note : NULL, d->loaded->pc,
					     d->boot_to_real,
					     event_proc(d->eng, &e->ev, &proc) == 0 ? &proc : NULL);
	}
	if (over) {
		log_warnx("dns: %llu queries answered but not logged in detail (drain loop behind)",
			  (unsigned long long)over);
		if (d->store)
			store_note(d->store,
				   "%llu DNS queries were judged and answered but not logged in "
				   "detail: the drain loop fell behind",
				   (unsigned long long)over);
	}
	/* Keep the buffer for the next round unless someone refilled it. */
	pthread_mutex_lock(&d->dq_mu);
	if (!d->dq) {
		d->dq = q;
		d->dqcap = cap;
		q = NULL;
	}
	pthread_mutex_unlock(&d->dq_mu);
	free(q);
}

static int on_event(void *ctx, const struct hush_event *e)
{
	struct hushd *d = ctx;

	struct hush_proc proc;

	d->events++;
	if (e->rule == HUSH_RULE_NOPROXY)
		hushd_dnsns_unserved(d, e);
	if (d->store)
		store_event(d->store, e, d->loaded->pc, d->boot_to_real);
	if (!d->quiet)
		event_print_json(stdout, e, d->loaded->pc, d->boot_to_real,
				 event_proc(d->eng, e, &proc) == 0 ? &proc : NULL);
	return 0;
}

static void check_lost(struct hushd *d)
{
	uint64_t c[HUSH_CTR_MAX], lost = 0;

	if (engine_counters(d->eng, c))
		return;
	for (unsigned h = 0; h < HUSH_HOOK_MAX; h++)
		lost += c[HUSH_CTR_IDX(h, HUSH_EV_LOST)];
	if (lost > d->lost_seen) {
		log_warnx("%llu events lost in the last second (ring buffer full): counted by "
			  "the kernel%s; a larger --ringbuf-size holds longer bursts",
			  (unsigned long long)(lost - d->lost_seen),
			  d->store ? " and recorded as gap rows in the log"
				   : ", see `hush status`");
		d->lost_seen = lost;
	}
}

/* True once a second (CLOCK_MONOTONIC), whatever the event rate; *next_ns
 * is when the next one is due (0: now). */
static bool tick_due(int64_t *next_ns)
{
	int64_t now = mono_ns();

	if (now < *next_ns)
		return false;
	*next_ns = now + NSEC_PER_SEC;
	return true;
}

/* The signals the loop reads from a signalfd. */
void hushd_loop_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
}

/* SIGHUP reloads the policy file; SIGTERM and SIGINT end the loop. */
static void on_signals(struct hushd *d, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			char msg[1024];

			if (hushd_reload(d, d->policy_path, NULL, 0, NULL, msg, sizeof(msg)))
				log_warnx("SIGHUP: %s", msg);
			else
				log_info("SIGHUP: %s", msg);
			hushd_metrics_write(d);
		} else {
			log_info("signal %d: exiting; enforcement stays pinned in %s (`hush "
				 "disable` removes it)",
				 (int)si.ssi_signo, d->pin_dir);
			d->stop = true;
		}
	}
}

/* Once a second: learned addresses expire, and scope cgroups come and go
 * (a restarted service gets a new cgroup id): re-apply for either. */
static void on_tick(struct hushd *d)
{
	size_t expired = enforcer_expire(d->en);
	bool stale = engine_scopes_stale(d->eng);

	check_lost(d);
	if (stale || expired) {
		int r = enforcer_reapply(d->en);

		if (r)
			log_errno(r, "cannot re-apply the policy (%s)",
				  stale ? "scope cgroups changed" : "learned addresses expired");
		else if (stale)
			log_info("scope cgroups changed: policy re-applied (seq %llu)",
				 (unsigned long long)engine_policy_seq(d->eng));
	}
	hushd_metrics_write(d);
}

/* The loop, until SIGTERM, SIGINT or `hush disable`: 0, or -errno if it
 * could not be set up. */
int hushd_run(struct hushd *d)
{
	struct epoll_event ev, evs[4];
	int64_t next_check = 0;
	sigset_t mask;
	_cleanup_close_ int ep = -1, sfd = -1;
	int rbfd, lfd = d->lfd;

	hushd_loop_signals(&mask);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	rbfd = engine_events(d->eng, on_event, d);
	if (sfd < 0 || ep < 0 || rbfd < 0) {
		log_warn("cannot set up the event loop");
		return errno ? -errno : -EINVAL;
	}
	ev.events = EPOLLIN;
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.fd = rbfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, rbfd, &ev);
	if (d->ctr_ifd >= 0) { /* container cgroups appearing: bind at once */
		ev.data.fd = d->ctr_ifd;
		epoll_ctl(ep, EPOLL_CTL_ADD, d->ctr_ifd, &ev);
	}
	if (containers_fd(d->ctrs) >= 0) { /* and news from the engines */
		ev.data.fd = containers_fd(d->ctrs);
		epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	}

	while (!d->stop) {
		int n = epoll_wait(ep, evs, 4, 100);

		if (n < 0 && errno != EINTR) {
			log_warn("epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == sfd) {
				on_signals(d, sfd);
			} else if (evs[i].data.fd == lfd) {
				hushd_control(d);
				hushd_metrics_write(d);
			}
		}
		if (tick_due(&next_check)) {
			on_tick(d);
			hushd_ctr_tick(d, true);
		} else {
			hushd_ctr_tick(d, false);
		}
		/* Ready records and those submitted without a wakeup alike. */
		engine_drain(d->eng);
		hushd_dns_flush(d);
		if (d->store)
			store_tick(d->store);
		fflush(stdout);
	}
	engine_drain(d->eng);
	hushd_dns_flush(d);
	fflush(stdout);
	if (d->store)
		store_note(d->store, "hushd stopped (pid %d)%s", (int)getpid(),
			   d->disabled ? ": enforcement removed by `hush disable`"
				       : "; enforcement stays pinned");
	return 0;
}
