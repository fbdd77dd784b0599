/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The policy parser's insides, shared by parse.c (statements, policy
 * objects) and lex.c (error messages, small helpers, and the tokens that
 * stand for values: addresses, ports, protocols, DNS names).  See parse.c
 * for the language and its limits.  Not for use outside rules/parse.c and
 * rules/lex.c.
 */
#ifndef HUSH_RULES_PARSE_INT_H
#define HUSH_RULES_PARSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/policy.h"

#define MAX_TOKS     16	  /* the longest statement: a scope selector of 12 conditions */
#define PORTS_MAX    3072 /* bytes of one port list */
#define PATH_MAX_LEN 3072 /* bytes of one scope path */
#define QUOTE_MAX    64	  /* token bytes quoted in a message */
#define DNS_MAX	     253
#define LABEL_MAX    63

struct tok {
	const char *s;
	size_t len;
	unsigned col;
};

/* Scope paths already defined, for "already defined at line N". */
struct pathset {
	const char **path;
	unsigned *line;
	size_t n, cap; /* cap: power of two or 0 */
};

struct parser {
	const char *name;
	struct policy *p;
	struct policy_errors *errs;
	size_t nerr;
	int fatal; /* -ENOMEM, or -E2BIG after too many errors */
	unsigned line;
	size_t cur;	    /* scope receiving statements (0 = top level) */
	unsigned depth;	    /* open blocks, including nested (erroneous) ones */
	unsigned open_line; /* where the outermost open block started */
	unsigned open_col;
	unsigned *mode_line; /* per scope: line of its `mode`, 0 if none */
	unsigned resolver_line;
	bool too_many; /* "too many rules" reported */
	struct pathset paths;
};

/* What policy_parse() says of text longer than POLICY_MAX_SIZE (arg: it). */
#define TOO_LARGE "file too large (more than %u bytes)"

/* ---- errors (lex.c) ---- */

/* `"text"` with non-printable bytes, quotes and backslashes escaped, cut at
 * QUOTE_MAX bytes ("..." appended). */
const char *lex_quote(char *buf, size_t size, const char *s, size_t len);

#define QBUF (QUOTE_MAX * 4 + 16)
#define Q(t) lex_quote((char[QBUF]){0}, QBUF, (t)->s, (t)->len)

/* Report "file:line:col: message" for the current line; always -EINVAL
 * (out of memory, or too many errors, set ps->fatal). */
__attribute__((format(printf, 3, 4))) int lex_err(struct parser *ps, unsigned col, const char *fmt,
						  ...);

/* ---- small helpers (lex.c) ---- */

bool lex_is(const struct tok *t, const char *w);
/* Grow an array holding n elements so that one more fits (capacity: 0 for
 * no elements, else the next power of two, at least 4). */
int lex_grow(void *pp, size_t n, size_t elem);
/* The word of `words` closest to t (ignoring case), if close enough. */
const char *lex_suggest(const struct tok *t, const char *const *words);
/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d)? */
bool lex_is_mapped(const uint8_t *a);

/* ---- tokens (lex.c): each reports its own errors ---- */

/* A decimal number of at most `maxdig` digits into *v; digits only. */
bool lex_num(const char *s, size_t len, size_t maxdig, unsigned long *v);
/* ADDR or ADDR/LEN (or ANY) into family/addr/plen. */
int lex_target(struct parser *ps, const struct tok *t, bool is_allow, int *family, uint8_t *addr,
	       uint8_t *plen);
/* [PROTO [PORTS]] from toks[i], nothing after it. */
int lex_tail(struct parser *ps, const struct tok *toks, size_t ntok, size_t i, uint8_t *proto,
	     struct policy_portrange **ports, size_t *nports);
/*
 * Validate a DNS name; on success *out is the lower-case name without the
 * trailing dot and without a leading "*." (then *wild is set).
 */
int lex_dnsname(struct parser *ps, const struct tok *t, bool allow_wild, char **out, bool *wild);

#endif /* HUSH_RULES_PARSE_INT_H */
