/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the policy library's unit tests share (test_policy.c,
 * test_policy_judge.c, test_policy_diff.c): parse and compile a policy or
 * fail the case with every message, read the source tree's files, round
 * trips.  Files are found under $HUSH_SRC, else relative to the current
 * directory.
 */
#ifndef HUSH_TESTS_UNIT_POLICY_TC_H
#define HUSH_TESTS_UNIT_POLICY_TC_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/util.h"
#include "agent/fsutil.h"
#include "rules/policy.h"
#include "tests/unit/tc.h"

/* ---- helpers ---- */

static inline char *join_errs(const struct policy_errors *e)
{
	size_t i, len = 1;
	char *s;

	for (i = 0; i < e->n; i++)
		len += strlen(e->msg[i]) + 1;
	s = calloc(1, len);
	if (!s)
		abort();
	for (i = 0; i < e->n; i++) {
		if (i)
			strcat(s, "\n");
		strcat(s, e->msg[i]);
	}
	return s;
}

static inline struct policy *parse_ok(struct tc *t, const char *text)
{
	struct policy_errors e = {0};
	struct policy *p = NULL;
	int r = policy_parse("t.policy", text, strlen(text), &p, &e);

	if (r) {
		char *j = join_errs(&e);

		CHECK(t, false, "parse failed (%d): %s", r, j);
		free(j);
	}
	policy_errors_free(&e);
	return p;
}

static inline struct policy_compiled *compile_ok(struct tc *t, const struct policy *p)
{
	struct policy_errors e = {0};
	struct policy_compiled *c = NULL;
	int r = policy_compile(p, &c, &e);

	if (r) {
		char *j = join_errs(&e);

		CHECK(t, false, "compile failed (%d): %s", r, j);
		free(j);
	}
	policy_errors_free(&e);
	return c;
}

static inline char *read_all(const char *path, size_t *len)
{
	char *buf;
	size_t n;

	if (read_file(path, &buf, &n))
		return NULL;
	if (len)
		*len = n;
	return buf;
}

static inline const char *src_dir(void)
{
	const char *s = getenv("HUSH_SRC");
	static char buf[4096];

	if (s && *s) {
		snprintf(buf, sizeof(buf), "%s/tests/policy", s);
		if (!access(buf, R_OK))
			return s;
	}
	return ".";
}

static inline int cmp_str(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t lx = strlen(x), ly = strlen(y);

	/* numeric names sort numerically: 2.in before 10.in */
	if (lx != ly && strspn(x, "0123456789") && strspn(y, "0123456789"))
		return lx < ly ? -1 : 1;
	return strcmp(x, y);
}

/* Sorted names in dir ending in suffix; returns count, *names malloc'd. */
static inline size_t list_dir(const char *dir, const char *suffix, char ***names)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0, sl = strlen(suffix);
	char **v = NULL;

	*names = NULL;
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l <= sl || strcmp(de->d_name + l - sl, suffix))
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		if (!v)
			abort();
		v[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*names = v;
	return n;
}

static inline void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* print(parse(print(p))) == print(p); returns the first print. */
static inline char *round_trip(struct tc *t, const struct policy *p)
{
	struct policy_errors e = {0};
	struct policy *q = NULL;
	char *s1 = policy_to_string(p), *s2 = NULL;
	int r;

	if (!CHECK(t, s1 != NULL, "policy_to_string failed"))
		return NULL;
	r = policy_parse("printed", s1, strlen(s1), &q, &e);
	if (r) {
		char *j = join_errs(&e);

		CHECK(t, false, "re-parse of printed policy failed: %s", j);
		free(j);
	} else {
		s2 = policy_to_string(q);
		CHECK(t, s2 && !strcmp(s1, s2), "round trip differs:\n%s\n---\n%s", s1,
		      s2 ? s2 : "(null)");
	}
	free(s2);
	policy_free(q);
	policy_errors_free(&e);
	return s1;
}

#endif
