// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `hush policy suggest`, the pure half: observations in (this file: the
 * table of them, prefix joining, port lists), policy text out
 * (suggest_render.c).  The rules it follows are in suggest.h.
 *
 * Observations are kept per key (scope, kind, family, address, protocol,
 * name) with the set of ports seen, counts by verdict, first and last seen
 * and up to three processes.  Rendering builds, per scope, the rule items
 * (host rules, address rules), joins tcp and udp with equal ports into
 * `any`, then joins addresses into prefixes where every address of the
 * prefix was seen with the same protocol and ports.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "agent/suggest_int.h"
#include "agent/util.h"
#include "rules/policy.h"

int suggest_new(struct suggest **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void suggest_free(struct suggest *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].scope);
		free(s->v[i].name);
		free(s->v[i].ports);
		for (int w = 0; w < WHO_MAX; w++)
			free(s->v[i].who[w]);
	}
	free(s->v);
	free(s->idx);
	free(s);
}

void suggest_skip(struct suggest *s, enum suggest_skip why, int64_t rows)
{
	if (why < SUGGEST_SKIP_MAX)
		s->skipped[why] += rows;
}

/* ---- the table of observations ---- */

size_t suggest_addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

uint64_t suggest_key_hash(const struct suggest_obs *o)
{
	uint64_t h = fnv1a64_str(FNV64_INIT, o->scope);
	uint8_t k[4] = {(uint8_t)o->kind, (uint8_t)o->family, o->proto, 0};

	h = fnv1a64(h, k, sizeof(k));
	h = fnv1a64(h, o->addr, suggest_addr_len(o->family));
	return o->name ? fnv1a64_str(h ^ 1, o->name) : h;
}

bool suggest_key_eq(const struct ent *e, const struct suggest_obs *o, uint64_t h)
{
	size_t al = suggest_addr_len(o->family);

	return e->hash == h && e->kind == o->kind && e->family == o->family &&
	       e->proto == o->proto && strcmp(e->scope, o->scope) == 0 &&
	       (al == 0 || memcmp(e->addr, o->addr, al) == 0) && !e->name == !o->name &&
	       (!o->name || strcmp(e->name, o->name) == 0);
}

int suggest_idx_rebuild(struct suggest *s, size_t cap)
{
	uint32_t *idx = calloc(cap, sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		size_t j = s->v[i].hash & (cap - 1);

		while (idx[j])
			j = (j + 1) & (cap - 1);
		idx[j] = (uint32_t)i + 1;
	}
	free(s->idx);
	s->idx = idx;
	s->idx_cap = cap;
	return 0;
}

/* The entry for o's key, made if new; NULL on ENOMEM. */
static struct ent *ent_get(struct suggest *s, const struct suggest_obs *o)
{
	uint64_t h = suggest_key_hash(o);
	struct ent *e;
	size_t j;

	if ((s->n + 1) * 2 > s->idx_cap && suggest_idx_rebuild(s, s->idx_cap ? s->idx_cap * 2 : 64))
		return NULL;
	for (j = h & (s->idx_cap - 1); s->idx[j]; j = (j + 1) & (s->idx_cap - 1))
		if (suggest_key_eq(&s->v[s->idx[j] - 1], o, h))
			return &s->v[s->idx[j] - 1];
	if (s->n >= UINT32_MAX - 1 || GROW(s->v, s->cap, s->n + 1, 64))
		return NULL;
	e = &s->v[s->n];
	memset(e, 0, sizeof(*e));
	e->scope = strdup(o->scope);
	e->name = o->name ? strdup(o->name) : NULL;
	if (!e->scope || (o->name && !e->name)) {
		free(e->scope);
		free(e->name);
		return NULL;
	}
	e->kind = o->kind;
	e->family = o->family;
	memcpy(e->addr, o->addr, suggest_addr_len(o->family));
	e->proto = o->proto;
	e->hash = h;
	e->first = INT64_MAX;
	e->last = INT64_MIN;
	s->idx[j] = (uint32_t)++s->n;
	return e;
}

/* Insert port p into the sorted set. */
static int port_add(struct ent *e, uint16_t p)
{
	size_t lo = 0, hi = e->nports;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (e->ports[mid] == p)
			return 0;
		if (e->ports[mid] < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (GROW(e->ports, e->pcap, e->nports + 1, 4))
		return -ENOMEM;
	memmove(e->ports + lo + 1, e->ports + lo, (e->nports - lo) * sizeof(*e->ports));
	e->ports[lo] = p;
	e->nports++;
	return 0;
}

static int who_add(struct ent *e, const char *who)
{
	if (!who || !*who)
		return 0;
	for (int w = 0; w < WHO_MAX; w++) {
		if (e->who[w] && strcmp(e->who[w], who) == 0)
			return 0;
		if (!e->who[w])
			return (e->who[w] = strdup(who)) ? 0 : -ENOMEM;
	}
	return 0;
}

int suggest_add(struct suggest *s, const struct suggest_obs *o)
{
	struct ent *e;

	struct suggest_obs dns;

	if (!o->scope || (o->kind == SUGGEST_ADDR && !suggest_addr_len(o->family)) ||
	    (o->kind == SUGGEST_DNS && (!o->name || !*o->name)) || o->count < 0)
		return -EINVAL;
	if (o->kind == SUGGEST_DNS) { /* a name is one entry, whichever resolver */
		dns = *o;
		dns.family = 0;
		dns.proto = 0;
		memset(dns.addr, 0, sizeof(dns.addr));
		o = &dns;
	}
	e = ent_get(s, o);
	if (!e)
		return -ENOMEM;
	if (o->kind == SUGGEST_ADDR && o->proto != SUGGEST_PROTO_OTHER && port_add(e, o->port))
		return -ENOMEM;
	if (o->audit)
		e->audit += o->count;
	else
		e->allow += o->count;
	if (o->first < e->first)
		e->first = o->first;
	if (o->last > e->last)
		e->last = o->last;
	e->by_host |= o->by_host;
	return who_add(e, o->who);
}

void suggest_note_resolver(struct suggest *s, int family, const uint8_t addr[16], uint16_t port,
			   int64_t count)
{
	size_t al = suggest_addr_len(family);

	if (!al)
		return;
	for (size_t i = 0; i < s->nres; i++) {
		if (s->res[i].family == family && s->res[i].port == port &&
		    memcmp(s->res[i].addr, addr, al) == 0) {
			s->res[i].count += count;
			return;
		}
	}
	if (s->nres == RES_MAX)
		return;
	s->res[s->nres] = (struct resolver){.family = family, .port = port, .count = count};
	memcpy(s->res[s->nres].addr, addr, al);
	s->nres++;
}

bool suggest_resolver(const struct suggest *s, char *buf, size_t len, int64_t *count)
{
	const struct resolver *best = NULL;
	char a[POLICY_ADDRSTRLEN];

	for (size_t i = 0; i < s->nres; i++)
		if (!best || s->res[i].count > best->count)
			best = &s->res[i];
	if (!best)
		return false;
	policy_prefix_text(a, best->family, best->addr, best->family == AF_INET ? 32 : 128, false);
	if (best->port == 53)
		snprintf(buf, len, "%s", a);
	else if (best->family == AF_INET)
		snprintf(buf, len, "%s:%u", a, best->port);
	else
		snprintf(buf, len, "[%s]:%u", a, best->port);
	if (count)
		*count = best->count;
	return true;
}

bool suggest_needs_resolver(const struct suggest *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].kind == SUGGEST_DNS)
			return true;
	return false;
}

/* ---- pieces ---- */

static bool bit(const uint8_t *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

/* Is b the upper buddy of a (both /n, equal in the first n-1 bits, bit
 * n-1 of a clear and of b set)? */
static bool buddies(const struct suggest_pfx *a, const struct suggest_pfx *b)
{
	unsigned n = a->plen;

	if (n == 0 || b->plen != n || a->family != b->family || bit(a->addr, n - 1) ||
	    !bit(b->addr, n - 1))
		return false;
	for (unsigned i = 0; i + 1 < n; i++)
		if (bit(a->addr, i) != bit(b->addr, i))
			return false;
	return true;
}

static bool same_pfx(const struct suggest_pfx *a, const struct suggest_pfx *b)
{
	return a->family == b->family && a->plen == b->plen &&
	       memcmp(a->addr, b->addr, suggest_addr_len(a->family)) == 0;
}

static void pfx_merge(struct suggest_pfx *into, const struct suggest_pfx *o, bool buddy)
{
	into->allow += o->allow;
	into->audit += o->audit;
	if (buddy) /* (an equal prefix stands for the same hosts) */
		into->hosts += o->hosts;
	if (o->first < into->first)
		into->first = o->first;
	if (o->last > into->last)
		into->last = o->last;
	if (buddy)
		into->plen--;
}

size_t suggest_aggregate(struct suggest_pfx *v, size_t n)
{
	size_t top = 0; /* v[0..top) is the stack */

	for (size_t i = 0; i < n; i++) {
		v[top++] = v[i];
		while (top >= 2) {
			struct suggest_pfx *a = &v[top - 2], *b = &v[top - 1];

			if (same_pfx(a, b))
				pfx_merge(a, b, false);
			else if (buddies(a, b))
				pfx_merge(a, b, true);
			else
				break;
			top--;
		}
	}
	return top;
}

int suggest_ports_text(const uint16_t *p, size_t n, char *buf, size_t len)
{
	size_t off = 0;
	int segs = 0;

	if (len)
		buf[0] = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		int w;

		while (j + 1 < n && p[j + 1] == p[j] + 1)
			j++;
		w = j > i ? snprintf(buf + off, len - off, "%s%u-%u", segs ? "," : "", p[i], p[j])
			  : snprintf(buf + off, len - off, "%s%u", segs ? "," : "", p[i]);
		if (w < 0 || (size_t)w >= len - off)
			return -ENOSPC;
		off += (size_t)w;
		segs++;
		i = j + 1;
	}
	return segs;
}
