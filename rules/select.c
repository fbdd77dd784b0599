// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Container and pod scope selectors: the parser's check of
 * "scope container|pod KEY=VALUE... {" and the match against what the
 * container engines say of a container (see policy.h).
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "rules/parse_int.h"
#include "rules/select_int.h"

bool policy_scope_is_selector(const char *path)
{
	return path && strchr(path, ' ') != NULL;
}

static const char *const ctr_keys[] = {"name", "image", "id", "label", NULL};
static const char *const pod_keys[] = {"namespace", "name", "label", NULL};

/* The key of "key=value" in t, checked against keys; NULL if unknown. */
static const char *sel_key(const struct tok *t, const char *const *keys, size_t *klen)
{
	const char *eq = memchr(t->s, '=', t->len);

	if (!eq)
		return NULL;
	*klen = (size_t)(eq - t->s);
	for (size_t i = 0; keys[i]; i++)
		if (strlen(keys[i]) == *klen && !memcmp(keys[i], t->s, *klen))
			return keys[i];
	return NULL;
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return n > 0;
}

/* One condition toks[i] of a selector; 0 or an error (reported). */
static int sel_cond(struct parser *ps, const struct tok *t, bool pod)
{
	const char *const *keys = pod ? pod_keys : ctr_keys;
	size_t klen = 0;
	const char *key = sel_key(t, keys, &klen);
	const char *v;
	size_t vlen;

	if (!key)
		return lex_err(ps, t->col, "%s selector %s: expected %s", pod ? "pod" : "container",
			       Q(t),
			       pod ? "namespace=GLOB, name=GLOB or label=KEY=GLOB"
				   : "name=GLOB, image=GLOB, id=HEX or label=KEY=GLOB");
	v = t->s + klen + 1;
	vlen = t->len - klen - 1;
	if (!vlen)
		return lex_err(ps, t->col, "selector %s: empty value", Q(t));
	if (!strcmp(key, "id") && (!is_hex(v, vlen) || vlen > 64))
		return lex_err(ps, t->col,
			       "selector %s: an id is 1 to 64 lower-case hex digits (a prefix)",
			       Q(t));
	if (!strcmp(key, "label")) {
		const char *eq = memchr(v, '=', vlen);

		if (!eq || eq == v)
			return lex_err(ps, t->col, "selector %s: expected label=KEY=GLOB", Q(t));
	}
	return 0;
}

int sel_parse(struct parser *ps, const struct tok *toks, size_t ntok, char **path, size_t *brace)
{
	bool pod = lex_is(&toks[1], "pod");
	size_t i, len = 0;
	int e = 0;
	char *o;

	*path = NULL;
	for (i = 2; i < ntok && !lex_is(&toks[i], "{"); i++) {
		if (!e)
			e = sel_cond(ps, &toks[i], pod);
		len += toks[i].len + 1;
	}
	*brace = i;
	if (e)
		return e;
	len += toks[1].len + 1;
	if (len > PATH_MAX_LEN)
		return lex_err(ps, toks[1].col, "selector too long (at most %d bytes)",
			       PATH_MAX_LEN);
	o = malloc(len);
	if (!o) {
		ps->fatal = -ENOMEM;
		return -ENOMEM;
	}
	memcpy(o, toks[1].s, toks[1].len);
	len = toks[1].len;
	for (i = 2; i < *brace; i++) {
		o[len++] = ' ';
		memcpy(o + len, toks[i].s, toks[i].len);
		len += toks[i].len;
	}
	o[len] = 0;
	*path = o;
	return 0;
}

static bool glob(const char *pat, size_t plen, const char *s)
{
	char p[PATH_MAX_LEN + 1];

	if (!s || plen > PATH_MAX_LEN)
		return false;
	memcpy(p, pat, plen);
	p[plen] = 0;
	return fnmatch(p, s, 0) == 0;
}

static bool label_match(const char *kv, size_t n, const struct policy_ctr *c)
{
	const char *eq = memchr(kv, '=', n);

	if (!eq)
		return false;
	for (size_t i = 0; i < c->nlabels; i++) {
		if (strlen(c->lkey[i]) == (size_t)(eq - kv) &&
		    !memcmp(c->lkey[i], kv, (size_t)(eq - kv)))
			return glob(eq + 1, n - (size_t)(eq - kv) - 1, c->lval[i]);
	}
	return false;
}

/* One "key=value" condition of n bytes at s. */
static bool cond_match(const char *s, size_t n, bool pod, const struct policy_ctr *c)
{
	const char *eq = memchr(s, '=', n);
	size_t k = eq ? (size_t)(eq - s) : n;
	const char *v = s + k + 1;
	size_t vn = eq ? n - k - 1 : 0;

	if (!eq)
		return false;
	if (k == 5 && !memcmp(s, "label", 5))
		return label_match(v, vn, c);
	if (k == 4 && !memcmp(s, "name", 4))
		return glob(v, vn, pod ? c->pod_name : c->name);
	if (!pod && k == 5 && !memcmp(s, "image", 5))
		return glob(v, vn, c->image);
	if (!pod && k == 2 && !memcmp(s, "id", 2))
		return c->id && strlen(c->id) >= vn && !memcmp(c->id, v, vn);
	if (pod && k == 9 && !memcmp(s, "namespace", 9))
		return glob(v, vn, c->pod_ns);
	return false;
}

bool policy_selector_match(const char *path, const struct policy_ctr *c)
{
	bool pod;
	const char *s;

	if (!policy_scope_is_selector(path))
		return false;
	pod = !strncmp(path, "pod ", 4);
	if (!pod && strncmp(path, "container ", 10))
		return false;
	/* a pod selector needs a pod: a container without pod labels never matches */
	if (pod && !c->pod_ns && !c->pod_name)
		return false;
	s = strchr(path, ' ') + 1;
	while (*s) {
		const char *e = strchr(s, ' ');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (!cond_match(s, n, pod, c))
			return false;
		s += n;
		while (*s == ' ')
			s++;
	}
	return true;
}
