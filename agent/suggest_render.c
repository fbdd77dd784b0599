// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `hush policy suggest`: the policy text from the table of observations
 * (suggest.c).  Per scope it builds the rule items (host rules, address
 * rules), joins tcp and udp with equal ports into `any`, then joins
 * addresses into prefixes where every address of the prefix was seen with
 * the same protocol and ports (suggest_aggregate), and writes each with a
 * comment of counts, times and processes.
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

/* One rule to write: an address rule (name NULL or the DNS name seen) or
 * a host rule (is_host). */
struct item {
	bool is_host;
	int family;
	uint8_t addr[16];
	uint8_t plen;
	uint8_t proto; /* IPPROTO_TCP, IPPROTO_UDP, PROTO_TU, SUGGEST_PROTO_OTHER */
	const char *name;
	uint16_t *ports; /* owned */
	size_t nports;
	int64_t allow, audit, first, last;
	uint32_t hosts;
	const struct ent *src; /* processes for the comment */
};

struct items {
	struct item *v;
	size_t n, cap;
};

static void items_free(struct items *it)
{
	for (size_t i = 0; i < it->n; i++)
		free(it->v[i].ports);
	free(it->v);
	memset(it, 0, sizeof(*it));
}

static void utc(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / NSEC_PER_SEC);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "@%lld", (long long)(ns / NSEC_PER_SEC));
}

/* A process's exe or comm is the process's to choose: in a comment, a
 * newline would start a policy statement.  Anything but printable ASCII
 * is written as \xNN. */
static void put_clean(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch >= 0x7f || ch == '\\')
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
}

static void comment(FILE *f, const char *ind, int64_t allow, int64_t audit, int64_t first,
		    int64_t last, const struct ent *src, const char *extra)
{
	char a[40], b[40];

	utc(first, a, sizeof(a));
	utc(last, b, sizeof(b));
	fprintf(f, "%s# %lld attempt%s (%lld allowed, %lld audited), %s .. %s", ind,
		(long long)(allow + audit), allow + audit == 1 ? "" : "s", (long long)allow,
		(long long)audit, a, b);
	for (int w = 0; src && w < WHO_MAX && src->who[w]; w++) {
		fputs(w ? ", " : "; ", f);
		put_clean(f, src->who[w]);
	}
	if (extra)
		fprintf(f, "; %s", extra);
	fputc('\n', f);
}

/* The DNS entry for (scope, name), through the index; NULL if none. */
static const struct ent *dns_ent(const struct suggest *s, const char *scope, const char *name)
{
	struct suggest_obs k = {.scope = scope, .kind = SUGGEST_DNS, .name = name};
	uint64_t h = suggest_key_hash(&k);

	if (!s->idx_cap)
		return NULL;
	for (size_t j = h & (s->idx_cap - 1); s->idx[j]; j = (j + 1) & (s->idx_cap - 1))
		if (suggest_key_eq(&s->v[s->idx[j] - 1], &k, h))
			return &s->v[s->idx[j] - 1];
	return NULL;
}

/* A connection is a host rule when the log ties it to its name. */
static void mark_hosts(struct suggest *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct ent *e = &s->v[i];
		const struct ent *d;

		if (e->kind != SUGGEST_ADDR || !e->name)
			continue;
		d = e->by_host ? NULL : dns_ent(s, e->scope, e->name);
		e->host = e->by_host || (d && d->first <= e->last);
	}
}

static int ports_union(struct item *it, const uint16_t *p, size_t n)
{
	uint16_t *m = malloc((it->nports + n) * sizeof(*m) + 1);
	size_t i = 0, j = 0, k = 0;

	if (!m)
		return -ENOMEM;
	while (i < it->nports || j < n) {
		uint16_t x =
		    j >= n || (i < it->nports && it->ports[i] <= p[j]) ? it->ports[i++] : p[j++];

		if (k == 0 || m[k - 1] != x)
			m[k++] = x;
	}
	free(it->ports);
	it->ports = m;
	it->nports = k;
	return 0;
}

static void item_counts(struct item *it, int64_t allow, int64_t audit, int64_t first, int64_t last)
{
	it->allow += allow;
	it->audit += audit;
	if (first < it->first)
		it->first = first;
	if (last > it->last)
		it->last = last;
}

/* Add e (entries come sorted by rule key, see cmp_ent) to the items:
 * merged into the last one if it has the same host name or address and
 * proto. */
static int item_add(struct items *its, const struct ent *e)
{
	struct item *it = its->n ? &its->v[its->n - 1] : NULL;
	bool host = e->host;

	if (it && (it->is_host != host || it->proto != e->proto ||
		   (host ? strcmp(it->name, e->name) != 0
			 : it->family != e->family ||
			       memcmp(it->addr, e->addr, suggest_addr_len(e->family)) != 0)))
		it = NULL;
	if (!it) {
		if (GROW(its->v, its->cap, its->n + 1, 16))
			return -ENOMEM;
		it = &its->v[its->n++];
		memset(it, 0, sizeof(*it));
		it->is_host = host;
		it->family = e->family;
		memcpy(it->addr, e->addr, suggest_addr_len(e->family));
		it->plen = e->family == AF_INET ? 32 : 128;
		it->proto = e->proto;
		it->name = e->name;
		it->hosts = 1;
		it->src = e;
		it->first = INT64_MAX;
		it->last = INT64_MIN;
	}
	if (!it->name)
		it->name = e->name;
	item_counts(it, e->allow, e->audit, e->first, e->last);
	return ports_union(it, e->ports, e->nports);
}

static bool same_ports(const struct item *a, const struct item *b)
{
	return a->nports == b->nports &&
	       (a->nports == 0 || memcmp(a->ports, b->ports, a->nports * sizeof(*a->ports)) == 0);
}

/* tcp and udp items with equal ports to one address (or host) -> one
 * PROTO_TU item.  Items are sorted by key, then proto: udp follows tcp. */
static void join_tcp_udp(struct items *its)
{
	size_t out = 0;

	for (size_t i = 0; i < its->n; i++) {
		struct item *a = &its->v[i], *b = i + 1 < its->n ? &its->v[i + 1] : NULL;

		if (b && a->proto == IPPROTO_TCP && b->proto == IPPROTO_UDP &&
		    b->is_host == a->is_host && same_ports(a, b) &&
		    (a->is_host ? strcmp(a->name, b->name) == 0
				: a->family == b->family &&
				      memcmp(a->addr, b->addr, suggest_addr_len(a->family)) == 0)) {
			a->proto = PROTO_TU;
			item_counts(a, b->allow, b->audit, b->first, b->last);
			free(b->ports);
			b->ports = NULL;
			its->v[out++] = *a;
			i++;
			continue;
		}
		its->v[out++] = *a;
	}
	its->n = out;
}

static int cmp_item(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	int c;

	if (a->is_host != b->is_host)
		return a->is_host ? -1 : 1;
	if (a->is_host) {
		c = strcasecmp(a->name, b->name);
		return c ? c : (int)a->proto - (int)b->proto;
	}
	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	if (a->proto != b->proto)
		return (int)a->proto - (int)b->proto;
	if (a->nports != b->nports)
		return a->nports < b->nports ? -1 : 1;
	c = a->nports ? memcmp(a->ports, b->ports, a->nports * sizeof(*a->ports)) : 0;
	if (c)
		return c;
	return memcmp(a->addr, b->addr, suggest_addr_len(a->family));
}

/* Display order: host rules by name, then addresses by family and value. */
static int cmp_show(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	int c;

	if (a->is_host != b->is_host)
		return a->is_host ? -1 : 1;
	if (a->is_host)
		c = strcasecmp(a->name, b->name);
	else if (a->family != b->family)
		c = a->family == AF_INET ? -1 : 1;
	else
		c = memcmp(a->addr, b->addr, suggest_addr_len(a->family));
	if (!c)
		c = a->plen != b->plen ? (int)a->plen - (int)b->plen
				       : (int)a->proto - (int)b->proto;
	return c;
}

/* Join address items of equal family, proto and ports into prefixes. */
static int aggregate_items(struct items *its)
{
	struct suggest_pfx *p;
	size_t out = 0;

	if (its->n)
		qsort(its->v, its->n, sizeof(*its->v), cmp_item);
	p = calloc(its->n + 1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < its->n;) {
		struct item base = its->v[i];
		size_t j = i + 1, m = 1;

		while (!base.is_host && j < its->n && !its->v[j].is_host &&
		       its->v[j].family == base.family && its->v[j].proto == base.proto &&
		       same_ports(&its->v[j], &base))
			j++;
		for (size_t k = i; k < j; k++) {
			const struct item *x = &its->v[k];

			p[k - i] = (struct suggest_pfx){.family = x->family,
							.plen = x->plen,
							.allow = x->allow,
							.audit = x->audit,
							.first = x->first,
							.last = x->last,
							.hosts = 1};
			memcpy(p[k - i].addr, x->addr, 16);
			if (k > i)
				free(x->ports); /* same as base's */
		}
		if (!base.is_host)
			m = suggest_aggregate(p, j - i);
		/* out <= i: the slots written are ones already read. */
		for (size_t k = 0; k < m; k++) {
			struct item it = base;

			if (k > 0) {
				it.ports = malloc(base.nports * sizeof(*it.ports) + 1);
				if (!it.ports) {
					/* (base's ports went with the first prefix) */
					for (size_t x = j; x < its->n; x++)
						free(its->v[x].ports);
					its->n = out;
					free(p);
					return -ENOMEM;
				}
				memcpy(it.ports, base.ports, base.nports * sizeof(*it.ports));
			}
			if (!base.is_host) {
				memcpy(it.addr, p[k].addr, 16);
				it.plen = p[k].plen;
				it.allow = p[k].allow;
				it.audit = p[k].audit;
				it.first = p[k].first;
				it.last = p[k].last;
				it.hosts = p[k].hosts;
				if (it.hosts > 1)
					it.name = NULL;
			}
			its->v[out++] = it;
		}
		i = j;
	}
	its->n = out;
	free(p);
	return 0;
}

/* "tcp 443,8443", "any 53", "" (every protocol). */
static void proto_ports(const struct item *it, char *buf, size_t len, const char **wider)
{
	const char *proto = it->proto == IPPROTO_TCP   ? "tcp"
			    : it->proto == IPPROTO_UDP ? "udp"
			    : it->proto == PROTO_TU    ? "any"
						       : NULL;
	char ports[6 * 1024];
	int segs;

	*wider = NULL;
	buf[0] = 0;
	if (!proto) {
		*wider = "not tcp/udp: the language has no rule for this protocol alone, so this "
			 "allows every protocol to the address";
		return;
	}
	segs = suggest_ports_text(it->ports, it->nports, ports, sizeof(ports));
	if (segs < 0 || segs > HUSH_SEG_MAX || it->nports == 0) {
		/* (port 0 or an unknown port: fragments) */
		*wider = "more port ranges than one rule holds: every port allowed";
		snprintf(buf, len, " %s", proto);
		return;
	}
	snprintf(buf, len, " %s %s", proto, ports);
}

static int render_item(FILE *f, const char *ind, const struct item *it)
{
	char a[POLICY_ADDRSTRLEN], pp[6 * 1024 + 16], extra[600];
	const char *wider;

	proto_ports(it, pp, sizeof(pp), &wider);
	extra[0] = 0;
	if (!it->is_host && it->hosts > 1)
		snprintf(extra, sizeof(extra), "%u addresses, every one seen", it->hosts);
	else if (!it->is_host && it->name)
		snprintf(extra, sizeof(extra), "DNS named it %s (no query for it in this scope)",
			 it->name);
	if (wider)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "%s%s",
			 extra[0] ? "; " : "", wider);
	comment(f, ind, it->allow, it->audit, it->first, it->last, it->src,
		extra[0] ? extra : NULL);
	if (it->is_host) {
		fprintf(f, "%sallow host %s%s\n", ind, it->name, pp);
	} else {
		policy_prefix_text(a, it->family, it->addr, it->plen, false);
		fprintf(f, "%sallow %s%s\n", ind, a, pp);
	}
	return 0;
}

/* The names a scope needs `allow dns` for: those asked, and those of its
 * host rules (an `allow host` learns only from answers the proxy let
 * through). */
/* DNS entries of the scope (v[0..n), sorted: DNS first), then the names
 * its host rules need that no query shows. */
static void render_dns(FILE *f, const char *ind, const struct suggest *s, const struct ent *v,
		       size_t n, const struct items *its)
{
	for (size_t i = 0; i < n && v[i].kind == SUGGEST_DNS; i++) {
		comment(f, ind, v[i].allow, v[i].audit, v[i].first, v[i].last, &v[i],
			"DNS queries");
		fprintf(f, "%sallow dns %s\n", ind, v[i].name);
	}
	for (size_t i = 0; i < its->n; i++) {
		const struct item *it = &its->v[i];

		if (!it->is_host || dns_ent(s, v[0].scope, it->name) ||
		    (i > 0 && its->v[i - 1].is_host && strcmp(its->v[i - 1].name, it->name) == 0))
			continue;
		fprintf(f,
			"%s# (no query logged; the allow host rule below needs it)\n"
			"%sallow dns %s\n",
			ind, ind, it->name);
	}
}

/* One scope: the entries v[0..n), all of that scope. */
static int render_scope(FILE *f, struct suggest *s, const struct ent *v, size_t n)
{
	const char *scope = n ? v[0].scope : "";
	const char *ind = *scope ? "\t" : "";
	struct items its = {0};
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++)
		if (v[i].kind == SUGGEST_ADDR)
			ret = item_add(&its, &v[i]);
	if (!ret) {
		join_tcp_udp(&its);
		ret = aggregate_items(&its);
	}
	if (!ret && its.n)
		qsort(its.v, its.n, sizeof(*its.v), cmp_show);
	if (ret) {
		items_free(&its);
		return ret;
	}
	if (*scope)
		fprintf(f, "\nscope %s {\n", scope);
	else
		fputc('\n', f);
	if (n)
		render_dns(f, ind, s, v, n, &its);
	for (size_t i = 0; i < its.n; i++)
		render_item(f, ind, &its.v[i]);
	if (*scope)
		fprintf(f, "}\n");
	items_free(&its);
	return 0;
}

/* Entry order for rendering: scope ("" first), DNS before addresses, host
 * rules by name, addresses by family and value, then proto (tcp before udp). */
static int cmp_ent(const void *pa, const void *pb)
{
	const struct ent *a = pa, *b = pb;
	int c = strcmp(a->scope, b->scope);

	if (c)
		return c;
	if (a->kind != b->kind)
		return a->kind == SUGGEST_DNS ? -1 : 1;
	if (a->kind == SUGGEST_DNS)
		return strcmp(a->name, b->name);
	if (a->host != b->host)
		return a->host ? -1 : 1;
	if (a->host)
		c = strcmp(a->name, b->name);
	else if (a->family != b->family)
		c = a->family == AF_INET ? -1 : 1;
	else
		c = memcmp(a->addr, b->addr, suggest_addr_len(a->family));
	return c ? c : (int)a->proto - (int)b->proto;
}

static void render_head(FILE *f, const struct suggest *s, const struct suggest_head *h)
{
	static const char *why[SUGGEST_SKIP_MAX] = {
	    [SUGGEST_SKIP_DENIED] = "denied",
	    [SUGGEST_SKIP_LOOPBACK] = "to loopback (allowed implicitly)",
	    [SUGGEST_SKIP_OUTSIDE] = "from cgroups outside the enforced one",
	    [SUGGEST_SKIP_OTHER] = "gap, note, sock_create and cgroup_move rows, rows with "
				   "no cgroup, or names the language cannot hold",
	};

	fprintf(f, "# Suggested by `hush policy suggest`%s%s.\n", h->source ? " " : "",
		h->source ? h->source : "");
	fprintf(f, "# It allows what the log saw allowed or audited, and nothing wider: each\n"
		   "# address is its own rule unless every address of a prefix was seen; ports\n"
		   "# are those seen.  Read it, widen by hand what should be wider, then apply.\n");
	for (int i = 0; i < SUGGEST_SKIP_MAX; i++)
		if (s->skipped[i])
			fprintf(f, "# Left out: %lld row%s %s.\n", (long long)s->skipped[i],
				s->skipped[i] == 1 ? "" : "s", why[i]);
	fprintf(f, "mode %s\n", h->mode ? h->mode : "enforce");
	if (h->resolver_note)
		fprintf(f, "# %s\n", h->resolver_note);
	if (h->resolver)
		fprintf(f, "resolver %s\n", h->resolver);
}

int suggest_render(struct suggest *s, const struct suggest_head *h, FILE *f)
{
	int ret = 0;

	/* Names first (through the index), then sort by scope and rule key
	 * (the index is rebuilt for the lookups while rendering). */
	mark_hosts(s);
	if (s->n) {
		qsort(s->v, s->n, sizeof(*s->v), cmp_ent);
		ret = suggest_idx_rebuild(s, s->idx_cap);
	}
	if (ret)
		return ret;
	render_head(f, s, h);
	if (!s->n || s->v[0].scope[0])
		ret = render_scope(f, s, NULL, 0); /* an empty top level */
	for (size_t i = 0; i < s->n && !ret;) {
		size_t j = i + 1;

		while (j < s->n && strcmp(s->v[j].scope, s->v[i].scope) == 0)
			j++;
		ret = render_scope(f, s, &s->v[i], j - i);
		i = j;
	}
	if (!ret && (fflush(f) || ferror(f)))
		ret = -EIO;
	return ret;
}
