// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hush test: collecting attempts.  Events and DNS reports arrive from the
 * runner's and the DNS proxy's threads; each attempt outside the policy is
 * coalesced with the same process, destination, verdict and name in an
 * open-addressing index over t->at[] (see test_int.h).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/sinkhole_net.h"
#include "agent/util.h"
#include "cli/test_int.h"

static bool same_attempt(const struct attempt *a, const struct hush_event *e, const char *qname)
{
	return a->ev.tgid == e->tgid && a->ev.proto == e->proto && a->ev.family == e->family &&
	       a->ev.dport == e->dport && a->ev.verdict == e->verdict &&
	       !memcmp(a->ev.daddr, e->daddr, 16) && !strcmp(a->qname, qname ? qname : "");
}

/* FNV-1a over what makes an attempt the same one. */
static uint64_t attempt_hash(const struct hush_event *e, const char *qname)
{
	uint8_t k[28];

	memcpy(k, &e->tgid, 4);
	memcpy(k + 4, e->daddr, 16);
	memcpy(k + 20, &e->dport, 2);
	k[22] = e->proto;
	k[23] = e->family;
	k[24] = e->verdict;
	k[25] = k[26] = k[27] = 0;
	return fnv1a64_str(fnv1a64(FNV64_INIT, k, sizeof(k)), qname ? qname : "");
}

/* Room for one more attempt in at[] and its index; false if none. */
static bool grow(struct test *t)
{
	if (t->nat >= ATTEMPTS_MAX || GROW(t->at, t->atcap, t->nat + 1, 16))
		return false;
	if ((t->nat + 1) * 2 > t->idxcap) {
		size_t nc = t->idxcap ? t->idxcap * 2 : 64;
		uint32_t *n = calloc(nc, sizeof(*n));

		if (!n)
			return false;
		for (size_t i = 0; i < t->nat; i++) {
			size_t j = attempt_hash(&t->at[i].ev, t->at[i].qname) & (nc - 1);

			while (n[j])
				j = (j + 1) & (nc - 1);
			n[j] = (uint32_t)i + 1;
		}
		free(t->idx);
		t->idx = n;
		t->idxcap = nc;
	}
	return true;
}

static void collect(struct test *t, const struct hush_event *e, const char *qname,
		    const char *qtype, const char *note)
{
	int64_t ts = (int64_t)e->ts_ns + t->boot_to_real;
	struct attempt *a = NULL;
	size_t j = 0;

	pthread_mutex_lock(&t->mu);
	t->total++;
	if (t->idxcap)
		for (j = attempt_hash(e, qname) & (t->idxcap - 1); t->idx[j];
		     j = (j + 1) & (t->idxcap - 1))
			if (same_attempt(&t->at[t->idx[j] - 1], e, qname)) {
				a = &t->at[t->idx[j] - 1];
				break;
			}
	if (a) {
		a->count++;
		if (ts > a->last_ns)
			a->last_ns = ts;
		pthread_mutex_unlock(&t->mu);
		return;
	}
	if (!grow(t)) {
		t->dropped++;
		pthread_mutex_unlock(&t->mu);
		return;
	}
	for (j = attempt_hash(e, qname) & (t->idxcap - 1); t->idx[j]; j = (j + 1) & (t->idxcap - 1))
		;
	t->idx[j] = (uint32_t)t->nat + 1;
	a = &t->at[t->nat++];
	memset(a, 0, sizeof(*a));
	a->ev = *e;
	a->count = 1;
	a->first_ns = a->last_ns = ts;
	snprintf(a->qname, sizeof(a->qname), "%s", qname ? qname : "");
	snprintf(a->qtype, sizeof(a->qtype), "%s", qtype ? qtype : "");
	snprintf(a->note, sizeof(a->note), "%s", note ? note : "");
	/* The process now, while its exec record is fresh. */
	a->has_proc = t->eng && event_proc(t->eng, e, &a->proc) == 0;
	test_ctr_attrib(t, a);
	pthread_mutex_unlock(&t->mu);
}

int test_on_event(void *ctx, const struct hush_event *e)
{
	if (e->verdict == HUSH_EV_DENY || e->verdict == HUSH_EV_AUDIT)
		collect(ctx, e, NULL, NULL, NULL);
	return 0;
}

/* DNS: a name outside the policy is an attempt; allowed names are not. */
void test_on_dns(void *ctx, const struct dnsproxy_query *q)
{
	if (q->ev.verdict != HUSH_EV_ALLOW)
		collect(ctx, &q->ev, q->qname[0] ? q->qname : NULL, q->qtype[0] ? q->qtype : NULL,
			q->note[0] ? q->note : NULL);
}

static int cmp_dest(const void *x, const void *y)
{
	const struct attempt *a = x, *b = y;
	int d = strcmp(a->service, b->service); /* --compose: by service first */

	if (d)
		return d;
	if (a->ev.hook == HUSH_HOOK_DNS || b->ev.hook == HUSH_HOOK_DNS) {
		if ((a->ev.hook == HUSH_HOOK_DNS) != (b->ev.hook == HUSH_HOOK_DNS))
			return a->ev.hook == HUSH_HOOK_DNS ? -1 : 1;
		d = strcmp(a->qname, b->qname);
		if (d)
			return d;
	}
	d = memcmp(a->ev.daddr, b->ev.daddr, 16);
	if (d)
		return d;
	if (a->ev.dport != b->ev.dport)
		return a->ev.dport < b->ev.dport ? -1 : 1;
	if (a->ev.proto != b->ev.proto)
		return a->ev.proto < b->ev.proto ? -1 : 1;
	return a->first_ns < b->first_ns ? -1 : a->first_ns > b->first_ns;
}

void test_sinkhole_merge(struct test *t)
{
	struct sinkhole_rec *rec = NULL;
	size_t n;

	sinkhole_settle(t->sk, SINKHOLE_FIRST_MS + 1000);
	n = sinkhole_records(t->sk, &rec);
	t->sink_lost = sinkhole_lost(t->sk);
	for (size_t i = 0; i < t->nat; i++) {
		struct attempt *a = &t->at[i];
		int fam = a->ev.family == 2 ? AF_INET : AF_INET6;

		if (a->ev.hook == HUSH_HOOK_DNS)
			continue;
		sinkhole_name_of(t->sk, fam, a->ev.daddr, a->sname, sizeof(a->sname));
		if (a->ev.proto != 6)
			continue; /* its records are TCP connections': no SNI for UDP */
		for (size_t k = 0; k < n; k++) {
			const struct sinkhole_rec *r = &rec[k];

			if (strcmp(r->kind, "tcp") || r->family != fam || r->dport != a->ev.dport ||
			    memcmp(r->daddr, a->ev.daddr, fam == AF_INET ? 4 : 16))
				continue;
			snprintf(a->sproto, sizeof(a->sproto), "%s", r->proto);
			snprintf(a->sni, sizeof(a->sni), "%s", r->sni);
			snprintf(a->shost, sizeof(a->shost), "%s", r->host);
			snprintf(a->smethod, sizeof(a->smethod), "%s", r->method);
			snprintf(a->spath, sizeof(a->spath), "%s", r->path);
			if (r->sni[0] || r->host[0])
				break; /* the most telling record */
		}
	}
	free(rec);
}

void test_sort(struct test *t)
{
	qsort(t->at, t->nat, sizeof(*t->at), cmp_dest);
}
