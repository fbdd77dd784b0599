// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Who learned which address; see learncg.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "agent/learncg.h"
#include "agent/util.h"

void learncg_init(struct learncg *t, size_t max)
{
	memset(t, 0, sizeof(*t));
	t->max = max;
}

void learncg_free(struct learncg *t)
{
	free(t->e);
	memset(t, 0, sizeof(*t));
}

static bool same(const struct learncg_ent *x, uint64_t lcg, int family, const uint8_t addr[16])
{
	return x->lcg == lcg && x->family == family && !memcmp(x->addr, addr, 16);
}

int learncg_put(struct learncg *t, uint64_t lcg, int family, const uint8_t addr[16], int64_t exp,
		const struct learncg_ent **ent)
{
	struct learncg_ent *x;

	*ent = NULL;
	for (size_t i = 0; i < t->n; i++) {
		x = &t->e[i];
		if (!same(x, lcg, family, addr))
			continue;
		if (exp <= x->expires)
			return 0;
		x->expires = exp;
		*ent = x;
		return 2;
	}
	if (t->n >= t->max) {
		t->refused++;
		return -E2BIG;
	}
	if (GROW(t->e, t->cap, t->n + 1, 64) < 0)
		return -ENOMEM;
	x = &t->e[t->n++];
	memset(x, 0, sizeof(*x));
	x->lcg = lcg;
	x->family = family;
	memcpy(x->addr, addr, 16);
	x->expires = exp;
	*ent = x;
	return 1;
}

void learncg_unput(struct learncg *t)
{
	if (t->n)
		t->n--;
}

static int cmp_lcg(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The distinct cgroups of t, sorted, in *ids (malloc'd); their number. */
static size_t distinct(const struct learncg *t, uint64_t **ids)
{
	size_t k = 0;

	*ids = malloc((t->n ? t->n : 1) * sizeof(**ids));
	if (!*ids)
		return 0;
	for (size_t i = 0; i < t->n; i++)
		(*ids)[i] = t->e[i].lcg;
	qsort(*ids, t->n, sizeof(**ids), cmp_lcg);
	for (size_t i = 0; i < t->n; i++)
		if (!k || (*ids)[k - 1] != (*ids)[i])
			(*ids)[k++] = (*ids)[i];
	return k;
}

size_t learncg_sweep(struct learncg *t, int64_t now, int (*gone)(void *ctx, uint64_t lcg),
		     void (*drop)(void *ctx, const struct learncg_ent *e), void *ctx)
{
	uint64_t *ids = NULL, *dead = NULL;
	size_t j = 0, n = 0, nids = 0, ndead = 0;

	/* one question per cgroup, not per entry */
	if (gone && t->n) {
		nids = distinct(t, &ids);
		for (size_t i = 0; i < nids; i++)
			if (gone(ctx, ids[i]))
				ids[ndead++] = ids[i];
		dead = ids;
	}
	for (size_t i = 0; i < t->n; i++) {
		struct learncg_ent *x = &t->e[i];

		if (x->expires <= now ||
		    (ndead && bsearch(&x->lcg, dead, ndead, sizeof(*dead), cmp_lcg))) {
			if (drop)
				drop(ctx, x);
			n++;
			continue;
		}
		t->e[j++] = *x;
	}
	t->n = j;
	free(ids);
	return n;
}

static int cmp_count(const void *a, const void *b)
{
	const struct learncg_count *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return x->lcg < y->lcg ? -1 : x->lcg > y->lcg;
}

size_t learncg_by_cgroup(const struct learncg *t, struct learncg_count *out, size_t max)
{
	uint64_t *ids = malloc((t->n ? t->n : 1) * sizeof(*ids));
	struct learncg_count *all;
	size_t k = 0;

	if (!ids)
		return 0;
	for (size_t i = 0; i < t->n; i++)
		ids[i] = t->e[i].lcg;
	qsort(ids, t->n, sizeof(*ids), cmp_lcg);
	all = calloc(t->n ? t->n : 1, sizeof(*all));
	if (!all) {
		free(ids);
		return 0;
	}
	for (size_t i = 0; i < t->n; i++) {
		if (k && all[k - 1].lcg == ids[i]) {
			all[k - 1].n++;
			continue;
		}
		all[k].lcg = ids[i];
		all[k++].n = 1;
	}
	qsort(all, k, sizeof(*all), cmp_count);
	if (out && max)
		memcpy(out, all, (k < max ? k : max) * sizeof(*out));
	free(all);
	free(ids);
	return k;
}
