/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One test case at a time for the unit tests: tc_begin(), CHECK() (the first
 * failed check of a case is its reason), tc_end() prints
 * "PASS: <TC_PREFIX>name" or "FAIL: <TC_PREFIX>name: line N: why" and counts
 * failures in nfail.  Define TC_PREFIX ("db: ") before including to tag the
 * lines.
 */
#ifndef HUSH_TESTS_UNIT_TC_H
#define HUSH_TESTS_UNIT_TC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#ifndef TC_PREFIX
#define TC_PREFIX ""
#endif

static int nfail;

struct tc {
	char name[160];
	char why[1024];
	bool failed;
};

__attribute__((format(printf, 2, 3))) static void tc_begin(struct tc *t, const char *fmt, ...)
{
	va_list ap;

	memset(t, 0, sizeof(*t));
	va_start(ap, fmt);
	vsnprintf(t->name, sizeof(t->name), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 4, 5))) static bool tc_check(struct tc *t, bool ok, int line,
							   const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ok || t->failed)
		return ok;
	t->failed = true;
	n = snprintf(t->why, sizeof(t->why), "line %d: ", line);
	va_start(ap, fmt);
	vsnprintf(t->why + n, sizeof(t->why) - (size_t)n, fmt, ap);
	va_end(ap);
	/* keep the report on one line */
	for (char *p = t->why; *p; p++)
		if (*p == '\n')
			*p = '|';
	return ok;
}

#define CHECK(t, cond, ...) tc_check((t), (cond), __LINE__, __VA_ARGS__)

static void tc_end(struct tc *t)
{
	if (t->failed) {
		printf("FAIL: " TC_PREFIX "%s: %s\n", t->name, t->why);
		nfail++;
	} else {
		printf("PASS: " TC_PREFIX "%s\n", t->name);
	}
	fflush(stdout);
}

#endif /* HUSH_TESTS_UNIT_TC_H */
