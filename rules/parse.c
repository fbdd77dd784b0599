/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Policy parser.
 *
 * Line oriented: every line is one statement (or blank, or a comment).  A
 * line is cut into tokens at spaces, tabs and CRs; '#' ends the line; '{' and
 * '}' are tokens of their own.  Each statement is checked completely before
 * anything is stored, and the first problem of a line becomes one message
 * "file:line:col: message" (col: 1-based byte column of the offending token).
 * Parsing goes on with the next line, so a file yields all of its errors
 * (up to POLICY_MAX_ERRS); any error at all rejects the whole policy.
 *
 * Limits (each is an error, never a truncation): POLICY_MAX_SIZE bytes of
 * text, POLICY_MAX_LINE bytes per line, POLICY_MAX_RULES statements with an
 * id, PORTS_MAX / PATH_MAX_LEN bytes for a port list or scope path.  The last
 * two keep every normalized line far below POLICY_MAX_LINE, so printing and
 * parsing again always works.
 *
 * Arrays grow by doubling when their count reaches a power of two, so no
 * capacity needs storing next to the counts of the public structs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "policy.h"

#define MAX_TOKS     8	  /* the longest statement has 5 tokens */
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

/* ---- errors ---- */

int policy_errors_add(struct policy_errors *errs, const char *fmt, ...)
{
	va_list ap;
	char *m = NULL, **nm;
	int r;

	if (!errs)
		return 0;
	va_start(ap, fmt);
	r = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	nm = realloc(errs->msg, (errs->n + 1) * sizeof(*nm));
	if (!nm) {
		free(m);
		return -ENOMEM;
	}
	nm[errs->n++] = m;
	errs->msg = nm;
	return 0;
}

void policy_errors_free(struct policy_errors *errs)
{
	size_t i;

	if (!errs)
		return;
	for (i = 0; i < errs->n; i++)
		free(errs->msg[i]);
	free(errs->msg);
	errs->msg = NULL;
	errs->n = 0;
}

void policy_errors_print(const struct policy_errors *errs, const char *prefix, FILE *f)
{
	size_t i;

	if (!errs)
		return;
	for (i = 0; i < errs->n; i++)
		fprintf(f, "%s%s\n", prefix ? prefix : "", errs->msg[i]);
}

/* `"text"` with non-printable bytes, quotes and backslashes escaped, cut at
 * QUOTE_MAX bytes ("..." appended). */
static const char *quote(char *buf, size_t size, const char *s, size_t len)
{
	size_t i, o = 0;

	buf[o++] = '"';
	for (i = 0; i < len && i < QUOTE_MAX && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		} else {
			buf[o++] = (char)c;
		}
	}
	if (i < len && o + 5 < size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

#define QBUF (QUOTE_MAX * 4 + 16)
#define Q(t) quote((char[QBUF]){0}, QBUF, (t)->s, (t)->len)

__attribute__((format(printf, 3, 4))) static int perr(struct parser *ps, unsigned col,
						      const char *fmt, ...)
{
	char *m = NULL;
	va_list ap;
	int r;

	if (ps->fatal)
		return -EINVAL;
	if (ps->nerr >= POLICY_MAX_ERRS) {
		if (policy_errors_add(ps->errs, "%s:%u:%u: too many errors (%u), giving up",
				      ps->name, ps->line, col, POLICY_MAX_ERRS) < 0)
			ps->fatal = -ENOMEM;
		else
			ps->fatal = -E2BIG;
		return -EINVAL;
	}
	va_start(ap, fmt);
	r = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (r < 0) {
		ps->fatal = -ENOMEM;
		return -EINVAL;
	}
	ps->nerr++;
	if (policy_errors_add(ps->errs, "%s:%u:%u: %s", ps->name, ps->line, col, m) < 0)
		ps->fatal = -ENOMEM;
	free(m);
	return -EINVAL;
}

/* ---- small helpers ---- */

static bool tok_is(const struct tok *t, const char *w)
{
	return t->len == strlen(w) && !memcmp(t->s, w, t->len);
}

/* Grow an array holding n elements so that one more fits. */
static int grow(void *pp, size_t n, size_t elem)
{
	void *old, *np;
	size_t cap;

	/* capacity for n elements: 0 if n == 0, else max(4, next power of two) */
	if (n && ((n & (n - 1)) || n < 4))
		return 0;
	cap = n ? n * 2 : 4;
	/* pp points to some T *: copy the pointer, do not alias it as void * */
	memcpy(&old, pp, sizeof(old));
	np = realloc(old, cap * elem);
	if (!np)
		return -ENOMEM;
	memcpy(pp, &np, sizeof(np));
	return 0;
}

/* Optimal string alignment distance (Damerau-Levenshtein, no substring edited
 * twice), for "did you mean".  Short words only. */
static unsigned edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	unsigned d[17][17];
	size_t i, j;

	if (la > 16 || lb > 16)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			unsigned c = a[i - 1] == b[j - 1] ? 0 : 1, v = d[i - 1][j - 1] + c;

			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* The word of `words` closest to t (ignoring case), if close enough. */
static const char *suggest(const struct tok *t, const char *const *words)
{
	const char *best = NULL;
	unsigned bd = 3;
	char low[17];
	size_t i;

	if (t->len > 16)
		return NULL;
	for (i = 0; i < t->len; i++)
		low[i] = (char)(t->s[i] >= 'A' && t->s[i] <= 'Z' ? t->s[i] + 32 : t->s[i]);
	for (; *words; words++) {
		size_t wl = strlen(*words);
		unsigned d = edit_distance(low, t->len, *words, wl);

		/* one edit for short words, two for longer ones */
		if (d < bd && (d <= 1 || (wl >= 5 && t->len >= 4))) {
			bd = d;
			best = *words;
		}
	}
	return best;
}

static void mask_prefix(uint8_t *a, unsigned plen, unsigned bytes)
{
	unsigned i;

	for (i = 0; i < bytes; i++) {
		if (plen >= 8 * (i + 1))
			continue;
		if (plen <= 8 * i)
			a[i] = 0;
		else
			a[i] &= (uint8_t)(0xff << (8 - (plen - 8 * i)));
	}
}

static bool is_mapped(const uint8_t *a)
{
	static const uint8_t pre[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return !memcmp(a, pre, 12);
}

/* ---- tokens ---- */

/* Parse a decimal number of at most `maxdig` digits into *v; digits only. */
static bool parse_num(const char *s, size_t len, size_t maxdig, unsigned long *v)
{
	size_t i;

	if (!len || len > maxdig)
		return false;
	*v = 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned long)(s[i] - '0');
	}
	return true;
}

/* Length of the prefix of s[0..len) made of bytes in `set`. */
static size_t strspn_n(const char *s, size_t len, const char *set)
{
	size_t i;

	for (i = 0; i < len && s[i] && strchr(set, s[i]); i++)
		;
	return i;
}

static bool all_digits(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return len > 0;
}

/*
 * ADDR or ADDR/LEN (or ANY) into family/addr/plen.  Reports its own errors.
 */
static int parse_target(struct parser *ps, const struct tok *t, bool is_allow, int *family,
			uint8_t *addr, uint8_t *plen)
{
	char buf[POLICY_MAX_LINE + 1], canon[POLICY_ADDRSTRLEN];
	const char *slash;
	unsigned long l;
	uint8_t a[16], m[16];
	int fam;
	unsigned maxlen;
	size_t alen;
	static const char *const kw[] = {"any", "dns", "host", NULL};

	if (tok_is(t, "any")) {
		*family = POLICY_FAMILY_ANY;
		memset(addr, 0, 16);
		*plen = 0;
		return 0;
	}
	slash = memchr(t->s, '/', t->len);
	alen = slash ? (size_t)(slash - t->s) : t->len;
	memcpy(buf, t->s, alen);
	buf[alen] = '\0';
	memset(a, 0, sizeof(a));
	if (inet_pton(AF_INET, buf, a) == 1) {
		fam = AF_INET;
		maxlen = 32;
	} else if (inet_pton(AF_INET6, buf, a) == 1) {
		fam = AF_INET6;
		maxlen = 128;
	} else {
		const char *s = suggest(t, kw);
		bool dot = memchr(t->s, '.', t->len), colon = memchr(t->s, ':', t->len);
		bool letter = false, ldh = true;
		size_t i;

		/* looks like a host name: letters, digits, "-", "_" and dots */
		for (i = 0; i < t->len; i++) {
			char ch = t->s[i];

			if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
				letter = true;
			else if (!(ch >= '0' && ch <= '9') && ch != '-' && ch != '_' && ch != '.')
				ldh = false;
		}
		if (s && !dot && !colon)
			return perr(ps, t->col, "invalid address %s (did you mean %s?)", Q(t), s);
		if (letter && ldh && dot && is_allow && t->len <= QUOTE_MAX)
			return perr(ps, t->col,
				    "invalid address %s (for a DNS name write: allow host %.*s)",
				    Q(t), (int)t->len, t->s);
		return perr(ps, t->col, "invalid address %s", Q(t));
	}
	l = maxlen;
	if (slash) {
		const char *ls = slash + 1;
		size_t ll = t->len - alen - 1;

		if (!parse_num(ls, ll, 9, &l)) {
			if (all_digits(ls, ll))
				return perr(ps, t->col, "prefix length %.*s out of range (0-%u)",
					    (int)(ll > 16 ? 16 : ll), ls, maxlen);
			return perr(ps, t->col, "invalid prefix length in %s", Q(t));
		}
		if (l > maxlen)
			return perr(ps, t->col, "prefix length %lu out of range (0-%u)", l, maxlen);
	}
	memcpy(m, a, 16);
	mask_prefix(m, (unsigned)l, fam == AF_INET ? 4 : 16);
	if (memcmp(m, a, 16)) {
		policy_prefix_text(canon, fam, m, (unsigned)l, true);
		return perr(ps, t->col, "%.*s: host bits set; did you mean %s?", (int)t->len, t->s,
			    canon);
	}
	if (fam == AF_INET6 && l >= 96 && is_mapped(a)) {
		/* ::ffff:a.b.c.d/96+n is the IPv4 rule a.b.c.d/n */
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
		fam = AF_INET;
		l -= 96;
	}
	if (fam == AF_INET && l == 32 && !a[0] && !a[1] && !a[2] && !a[3])
		return perr(ps, t->col,
			    "0.0.0.0 is never a destination (connecting to it reaches 127.0.0.1); "
			    "write 127.0.0.1, or any for every address");
	if (fam == AF_INET6 && l == 128 && !memcmp(a, (uint8_t[16]){0}, 16))
		return perr(ps, t->col,
			    ":: is never a destination (connecting to it reaches ::1); "
			    "write ::1, or any for every address");
	*family = fam;
	memcpy(addr, a, 16);
	*plen = (uint8_t)l;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct policy_portrange *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

/* "80,443,8000-8100": sorted and merged into *out. */
static int parse_ports(struct parser *ps, const struct tok *t, struct policy_portrange **out,
		       size_t *nout)
{
	struct policy_portrange *r;
	size_t n = 1, i, k = 0, pos = 0;

	if (t->len > PORTS_MAX)
		return perr(ps, t->col, "port list too long (at most %d bytes)", PORTS_MAX);
	for (i = 0; i < t->len; i++)
		n += t->s[i] == ',';
	r = calloc(n, sizeof(*r));
	if (!r) {
		ps->fatal = -ENOMEM;
		return -ENOMEM;
	}
	while (pos <= t->len) {
		const char *s = t->s + pos, *comma = memchr(s, ',', t->len - pos), *dash;
		size_t len = comma ? (size_t)(comma - s) : t->len - pos, dl;
		unsigned col = t->col + (unsigned)pos;
		unsigned long lo, hi;

		if (!len) {
			perr(ps, col,
			     "empty item in port list %s (write lists without spaces: 80,443)",
			     Q(t));
			goto fail;
		}
		dash = memchr(s, '-', len);
		dl = dash ? (size_t)(dash - s) : len;
		if (!all_digits(s, dl) || (dash && !all_digits(dash + 1, len - dl - 1))) {
			struct tok it = {s, len, col};

			perr(ps, col, "invalid port %s (a number 0-65535 or a range LO-HI)",
			     Q(&it));
			goto fail;
		}
		if (!parse_num(s, dl, 5, &lo) || lo > 65535) {
			perr(ps, col, "port %.*s out of range (0-65535)", (int)(dl > 16 ? 16 : dl),
			     s);
			goto fail;
		}
		hi = lo;
		if (dash) {
			const char *h = dash + 1;
			size_t hl = len - dl - 1;

			if (!parse_num(h, hl, 5, &hi) || hi > 65535) {
				perr(ps, col + (unsigned)dl + 1, "port %.*s out of range (0-65535)",
				     (int)(hl > 16 ? 16 : hl), h);
				goto fail;
			}
			if (lo > hi) {
				perr(ps, col, "port range %lu-%lu is reversed (write %lu-%lu)", lo,
				     hi, hi, lo);
				goto fail;
			}
		}
		r[k].lo = (uint16_t)lo;
		r[k].hi = (uint16_t)hi;
		k++;
		pos += len + 1;
	}
	qsort(r, k, sizeof(*r), cmp_range);
	n = 0;
	for (i = 0; i < k; i++) {
		if (n && (uint32_t)r[i].lo <= (uint32_t)r[n - 1].hi + 1) {
			if (r[i].hi > r[n - 1].hi)
				r[n - 1].hi = r[i].hi;
		} else {
			r[n++] = r[i];
		}
	}
	*out = r;
	*nout = n;
	return 0;
fail:
	free(r);
	return -EINVAL;
}

/* [PROTO [PORTS]] from toks[i], nothing after it. */
static int parse_tail(struct parser *ps, const struct tok *toks, size_t ntok, size_t i,
		      uint8_t *proto, struct policy_portrange **ports, size_t *nports)
{
	const struct tok *t = &toks[i];
	int r;

	*proto = POLICY_PROTO_ANY;
	*ports = NULL;
	*nports = 0;
	if (i >= ntok)
		return 0;
	if (tok_is(t, "tcp")) {
		*proto = 6;
	} else if (tok_is(t, "udp")) {
		*proto = 17;
	} else if (tok_is(t, "any")) {
		*proto = POLICY_PROTO_ANY;
	} else if (t->len <= QUOTE_MAX && t->len == strspn_n(t->s, t->len, "0123456789,-")) {
		return perr(ps, t->col, "ports need a protocol: write tcp %.*s", (int)t->len, t->s);
	} else {
		return perr(ps, t->col, "unknown proto %s (tcp, udp or any)", Q(t));
	}
	if (++i >= ntok)
		return 0;
	r = parse_ports(ps, &toks[i], ports, nports);
	if (r < 0)
		return r;
	if (++i < ntok) {
		free(*ports);
		*ports = NULL;
		return perr(ps, toks[i].col, "unexpected %s", Q(&toks[i]));
	}
	return 0;
}

/*
 * Validate a DNS name; on success *out is the lower-case name without the
 * trailing dot and without a leading "*." (then *wild is set).
 */
static int parse_dnsname(struct parser *ps, const struct tok *t, bool allow_wild, char **out,
			 bool *wild)
{
	const char *s = t->s;
	size_t len = t->len, i, lab = 0;
	char *n;

	*wild = false;
	if (len && s[len - 1] == '.')
		len--;
	if (!len)
		return perr(ps, t->col, "invalid DNS name %s: empty", Q(t));
	if (len > DNS_MAX)
		return perr(ps, t->col, "invalid DNS name %s: longer than %d characters", Q(t),
			    DNS_MAX);
	if (s[0] == '*') {
		if (!allow_wild)
			return perr(ps, t->col,
				    "allow host takes one exact name, not a wildcard "
				    "(for *.SUFFIX use allow dns)");
		if (len == 1)
			return perr(
			    ps, t->col,
			    "invalid DNS name %s: a wildcard needs a suffix (*.example.com)", Q(t));
		if (s[1] != '.')
			return perr(ps, t->col,
				    "invalid DNS name %s: * only as the whole first label "
				    "(*.example.com)",
				    Q(t));
		*wild = true;
		s += 2;
		len -= 2;
	}
	for (i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)s[i] : '.';

		if (c == '.') {
			if (!lab)
				return perr(ps, t->col, "invalid DNS name %s: empty label", Q(t));
			if (lab > LABEL_MAX)
				return perr(ps, t->col,
					    "invalid DNS name %s: label longer than %d characters",
					    Q(t), LABEL_MAX);
			lab = 0;
			continue;
		}
		lab++;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_')
			continue;
		if (c == '*')
			return perr(ps, t->col,
				    "invalid DNS name %s: * only as the whole first label "
				    "(*.example.com)",
				    Q(t));
		if (c >= 0x80)
			return perr(ps, t->col,
				    "invalid DNS name %s: not ASCII (write the xn-- form)", Q(t));
		return perr(ps, t->col,
			    "invalid DNS name %s: character '%c' not allowed "
			    "(letters, digits, - and _)",
			    Q(t), c);
	}
	n = malloc(len + 1);
	if (!n) {
		ps->fatal = -ENOMEM;
		return -ENOMEM;
	}
	for (i = 0; i < len; i++)
		n[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	n[len] = '\0';
	*out = n;
	return 0;
}

/* ---- statements ---- */

static struct policy_scope *cur_scope(struct parser *ps)
{
	return &ps->p->scopes[ps->cur];
}

/* An id for a new rule, or an error if there are too many. */
static int new_id(struct parser *ps, const struct tok *t, uint32_t *id)
{
	if (ps->p->nids >= POLICY_MAX_RULES) {
		if (!ps->too_many) {
			ps->too_many = true;
			return perr(ps, t->col, "too many rules (at most %d)", POLICY_MAX_RULES);
		}
		return -EINVAL;
	}
	*id = ++ps->p->nids;
	return 0;
}

static int stmt_rule(struct parser *ps, const struct tok *toks, size_t ntok, bool allow)
{
	struct policy_scope *sc = cur_scope(ps);
	struct policy_rule r = {0};
	int e;

	e = parse_target(ps, &toks[1], allow, &r.family, r.addr, &r.plen);
	if (e < 0)
		return e;
	e = parse_tail(ps, toks, ntok, 2, &r.proto, &r.ports, &r.nports);
	if (e < 0)
		return e;
	r.action = allow ? POLICY_ALLOW : POLICY_DENY;
	r.loc.line = ps->line;
	r.loc.col = toks[0].col;
	if (new_id(ps, &toks[0], &r.id) < 0 || grow(&sc->rules, sc->nrules, sizeof(r)) < 0) {
		if (!ps->too_many)
			ps->fatal = -ENOMEM;
		free(r.ports);
		return -EINVAL;
	}
	sc->rules[sc->nrules++] = r;
	return 0;
}

static int stmt_dns(struct parser *ps, const struct tok *toks, size_t ntok)
{
	struct policy_scope *sc = cur_scope(ps);
	struct policy_dns d = {0};
	int e;

	if (ntok < 3)
		return perr(ps, toks[1].col, "allow dns needs a name (NAME or *.SUFFIX)");
	if (ntok > 3)
		return perr(ps, toks[3].col, "unexpected %s (allow dns takes one name)",
			    Q(&toks[3]));
	e = parse_dnsname(ps, &toks[2], true, &d.name, &d.wildcard);
	if (e < 0)
		return e;
	d.loc.line = ps->line;
	d.loc.col = toks[0].col;
	if (new_id(ps, &toks[0], &d.id) < 0 || grow(&sc->dns, sc->ndns, sizeof(d)) < 0) {
		if (!ps->too_many)
			ps->fatal = -ENOMEM;
		free(d.name);
		return -EINVAL;
	}
	sc->dns[sc->ndns++] = d;
	return 0;
}

static int stmt_host(struct parser *ps, const struct tok *toks, size_t ntok)
{
	struct policy_scope *sc = cur_scope(ps);
	struct policy_host h = {0};
	bool wild;
	int e;

	if (ntok < 3)
		return perr(ps, toks[1].col, "allow host needs a name");
	e = parse_dnsname(ps, &toks[2], false, &h.name, &wild);
	if (e < 0)
		return e;
	e = parse_tail(ps, toks, ntok, 3, &h.proto, &h.ports, &h.nports);
	if (e < 0) {
		free(h.name);
		return e;
	}
	h.loc.line = ps->line;
	h.loc.col = toks[0].col;
	if (new_id(ps, &toks[0], &h.id) < 0 || grow(&sc->hosts, sc->nhosts, sizeof(h)) < 0) {
		if (!ps->too_many)
			ps->fatal = -ENOMEM;
		free(h.name);
		free(h.ports);
		return -EINVAL;
	}
	sc->hosts[sc->nhosts++] = h;
	return 0;
}

static int stmt_allow_deny(struct parser *ps, const struct tok *toks, size_t ntok, bool allow)
{
	if (ntok < 2)
		return perr(ps, toks[0].col + (unsigned)toks[0].len,
			    allow ? "allow needs an address, any, dns or host"
				  : "deny needs an address or any");
	if (tok_is(&toks[1], "dns")) {
		if (!allow)
			return perr(ps, toks[0].col,
				    "deny dns is not supported: names are refused unless an allow "
				    "dns rule names them");
		return stmt_dns(ps, toks, ntok);
	}
	if (tok_is(&toks[1], "host")) {
		if (!allow)
			return perr(ps, toks[0].col,
				    "deny host is not supported: deny the host's addresses instead "
				    "(deny ADDR)");
		return stmt_host(ps, toks, ntok);
	}
	return stmt_rule(ps, toks, ntok, allow);
}

static int stmt_mode(struct parser *ps, const struct tok *toks, size_t ntok)
{
	struct policy_scope *sc = cur_scope(ps);
	uint8_t mode;

	if (ntok < 2)
		return perr(ps, toks[0].col + (unsigned)toks[0].len, "mode needs enforce or audit");
	if (tok_is(&toks[1], "enforce"))
		mode = HUSH_MODE_ENFORCE;
	else if (tok_is(&toks[1], "audit"))
		mode = HUSH_MODE_AUDIT;
	else
		return perr(ps, toks[1].col, "unknown mode %s (enforce or audit)", Q(&toks[1]));
	if (ntok > 2)
		return perr(ps, toks[2].col, "unexpected %s", Q(&toks[2]));
	if (ps->mode_line[ps->cur])
		return perr(ps, toks[0].col, "mode already set at line %u", ps->mode_line[ps->cur]);
	ps->mode_line[ps->cur] = ps->line;
	sc->has_mode = true;
	sc->mode = mode;
	return 0;
}

static int stmt_resolver(struct parser *ps, const struct tok *toks, size_t ntok)
{
	char buf[POLICY_MAX_LINE + 1];
	const struct tok *t = &toks[1];
	const char *port = NULL, *colon;
	size_t plen = 0, alen;
	unsigned long pv = 53;
	uint8_t a[16] = {0};
	int fam;

	if (ps->depth)
		return perr(ps, toks[0].col, "resolver is only allowed at the top level");
	if (ntok < 2)
		return perr(ps, toks[0].col + (unsigned)toks[0].len, "resolver needs an address");
	if (ntok > 2)
		return perr(ps, toks[2].col, "unexpected %s", Q(&toks[2]));
	if (ps->resolver_line)
		return perr(ps, toks[0].col, "resolver already set at line %u", ps->resolver_line);
	if (t->s[0] == '[') {
		const char *rb = memchr(t->s, ']', t->len);

		if (!rb)
			goto bad;
		alen = (size_t)(rb - t->s) - 1;
		memcpy(buf, t->s + 1, alen);
		buf[alen] = '\0';
		if (rb + 1 < t->s + t->len) {
			if (rb[1] != ':')
				goto bad;
			port = rb + 2;
			plen = (size_t)(t->s + t->len - port);
		}
		if (inet_pton(AF_INET6, buf, a) != 1)
			goto bad;
		fam = AF_INET6;
	} else {
		colon = memchr(t->s, ':', t->len);
		if (colon && !memchr(colon + 1, ':', t->len - (size_t)(colon + 1 - t->s))) {
			alen = (size_t)(colon - t->s);
			port = colon + 1;
			plen = t->len - alen - 1;
		} else {
			alen = t->len;
		}
		memcpy(buf, t->s, alen);
		buf[alen] = '\0';
		if (inet_pton(AF_INET, buf, a) == 1)
			fam = AF_INET;
		else if (!port && inet_pton(AF_INET6, buf, a) == 1)
			fam = AF_INET6;
		else
			goto bad;
	}
	if (port && (!parse_num(port, plen, 5, &pv) || pv < 1 || pv > 65535)) {
		struct tok pt = {port, plen, t->col + (unsigned)(port - t->s)};

		return perr(ps, pt.col, "invalid resolver port %s (1-65535)", Q(&pt));
	}
	if (fam == AF_INET6 && is_mapped(a)) {
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
		fam = AF_INET;
	}
	if (!memcmp(a, (uint8_t[16]){0}, 16))
		return perr(ps, t->col, "resolver cannot be the unspecified address %s", Q(t));
	ps->resolver_line = ps->line;
	ps->p->has_resolver = true;
	ps->p->resolver_family = fam;
	memcpy(ps->p->resolver, a, 16);
	ps->p->resolver_port = (uint16_t)pv;
	return 0;
bad:
	return perr(ps, t->col, "invalid resolver %s (ADDR, ADDR:PORT, V6ADDR or [V6ADDR]:PORT)",
		    Q(t));
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Line where `path` was defined, or 0; with line != 0, insert it. */
static int pathset_find(struct pathset *ps, const char *path, unsigned line, unsigned *found)
{
	size_t i, m;

	*found = 0;
	if (ps->n * 2 >= ps->cap) {
		size_t nc = ps->cap ? ps->cap * 2 : 16;
		const char **np = calloc(nc, sizeof(*np));
		unsigned *nl = calloc(nc, sizeof(*nl));

		if (!np || !nl) {
			free(np);
			free(nl);
			return -ENOMEM;
		}
		for (i = 0; i < ps->cap; i++) {
			if (!ps->path[i])
				continue;
			m = hash_str(ps->path[i]) & (nc - 1);
			while (np[m])
				m = (m + 1) & (nc - 1);
			np[m] = ps->path[i];
			nl[m] = ps->line[i];
		}
		free(ps->path);
		free(ps->line);
		ps->path = np;
		ps->line = nl;
		ps->cap = nc;
	}
	m = hash_str(path) & (ps->cap - 1);
	while (ps->path[m]) {
		if (!strcmp(ps->path[m], path)) {
			*found = ps->line[m];
			return 0;
		}
		m = (m + 1) & (ps->cap - 1);
	}
	ps->path[m] = path;
	ps->line[m] = line;
	ps->n++;
	return 0;
}

/* Normalize "a//b/./c/" to "a/b/c"; NULL with *err set on a bad path. */
static char *norm_path(const struct tok *t, const char **err)
{
	char *o = malloc(t->len + 1);
	size_t i = 0, n = 0;

	*err = NULL;
	if (!o)
		return NULL;
	while (i < t->len) {
		size_t j = i;

		while (j < t->len && t->s[j] != '/')
			j++;
		if (j - i == 2 && t->s[i] == '.' && t->s[i + 1] == '.') {
			*err = "\"..\" is not allowed";
			free(o);
			return NULL;
		}
		if (j > i && !(j - i == 1 && t->s[i] == '.')) {
			if (n)
				o[n++] = '/';
			memcpy(o + n, t->s + i, j - i);
			n += j - i;
		}
		i = j + 1;
	}
	o[n] = '\0';
	if (!n) {
		*err = "names the top level: write its rules outside any scope";
		free(o);
		return NULL;
	}
	return o;
}

static int stmt_scope(struct parser *ps, const struct tok *toks, size_t ntok)
{
	struct policy *p = ps->p;
	struct policy_scope *sc;
	const char *perrmsg;
	char *path = NULL;
	unsigned found = 0;
	int e = 0;

	if (ntok < 2)
		return perr(ps, toks[0].col + (unsigned)toks[0].len, "scope needs a path");
	if (ps->depth) {
		/* keep counting braces so the block's "}" closes it */
		const char *outer = cur_scope(ps)->path;

		ps->depth++;
		path = norm_path(&toks[1], &perrmsg);
		e = perr(ps, toks[0].col, "nested scope: write scope %s/%s", outer,
			 path ? path : "...");
		free(path);
		return e;
	}
	if (tok_is(&toks[1], "{")) {
		e = perr(ps, toks[1].col, "scope needs a path");
	} else if (toks[1].len > PATH_MAX_LEN) {
		e = perr(ps, toks[1].col, "scope path too long (at most %d bytes)", PATH_MAX_LEN);
	} else {
		path = norm_path(&toks[1], &perrmsg);
		if (!path && !perrmsg) {
			ps->fatal = -ENOMEM;
			return -ENOMEM;
		}
		if (!path)
			e = perr(ps, toks[1].col, "scope path %s: %s", Q(&toks[1]), perrmsg);
	}
	if (!e && (ntok < 3 || !tok_is(&toks[2], "{")))
		e = perr(ps, ntok < 3 ? toks[1].col + (unsigned)toks[1].len : toks[2].col,
			 "expected \"{\" after the scope path");
	else if (!e && ntok > 3)
		e = perr(ps, toks[3].col, "unexpected %s after \"{\" (one statement per line)",
			 Q(&toks[3]));
	/* open a block even after an error, so its statements are checked */
	if (grow(&p->scopes, p->nscopes, sizeof(*p->scopes)) < 0) {
		free(path);
		ps->fatal = -ENOMEM;
		return -ENOMEM;
	}
	if (grow(&ps->mode_line, p->nscopes, sizeof(*ps->mode_line)) < 0) {
		free(path);
		ps->fatal = -ENOMEM;
		return -ENOMEM;
	}
	ps->mode_line[p->nscopes] = 0;
	if (!path)
		path = strdup("?");
	if (!path) {
		ps->fatal = -ENOMEM;
		return -ENOMEM;
	}
	sc = &p->scopes[p->nscopes];
	memset(sc, 0, sizeof(*sc));
	sc->path = path;
	sc->loc.line = ps->line;
	sc->loc.col = toks[0].col;
	ps->cur = p->nscopes++;
	ps->depth = 1;
	ps->open_line = ps->line;
	ps->open_col = toks[0].col;
	if (e)
		return e;
	if (pathset_find(&ps->paths, path, ps->line, &found) < 0) {
		ps->fatal = -ENOMEM;
		return -ENOMEM;
	}
	if (found)
		return perr(ps, toks[1].col, "scope \"%s\" already defined at line %u", path,
			    found);
	return 0;
}

static int stmt_close(struct parser *ps, const struct tok *toks, size_t ntok)
{
	if (!ps->depth)
		return perr(ps, toks[0].col, "unmatched \"}\"");
	if (--ps->depth == 0)
		ps->cur = 0;
	if (ntok > 1)
		return perr(ps, toks[1].col, "unexpected %s after \"}\" (one statement per line)",
			    Q(&toks[1]));
	return 0;
}

static void parse_line(struct parser *ps, const char *s, size_t len)
{
	static const char *const kw[] = {"allow", "deny", "mode", "resolver", "scope", NULL};
	struct tok toks[MAX_TOKS];
	size_t ntok = 0, i = 0;
	const char *nul;
	const char *sg;

	if (len > POLICY_MAX_LINE) {
		perr(ps, POLICY_MAX_LINE + 1, "line too long (more than %d bytes)",
		     POLICY_MAX_LINE);
		return;
	}
	nul = memchr(s, '\0', len);
	if (nul) {
		perr(ps, (unsigned)(nul - s) + 1, "NUL byte");
		return;
	}
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t st = i;

		if (c == ' ' || c == '\t' || c == '\r') {
			i++;
			continue;
		}
		if (c == '#')
			break;
		if (c < 0x20 || c == 0x7f) {
			perr(ps, (unsigned)i + 1, "control character 0x%02x", c);
			return;
		}
		if (c == '{' || c == '}') {
			i++;
		} else {
			while (i < len) {
				c = (unsigned char)s[i];
				if (c == ' ' || c == '\t' || c == '\r' || c == '#' || c == '{' ||
				    c == '}' || c < 0x20 || c == 0x7f)
					break;
				i++;
			}
		}
		if (ntok < MAX_TOKS)
			toks[ntok] = (struct tok){s + st, i - st, (unsigned)st + 1};
		ntok++;
	}
	if (!ntok)
		return;
	if (ntok > MAX_TOKS)
		ntok = MAX_TOKS; /* more than any statement takes: "unexpected" below */
	if (tok_is(&toks[0], "allow"))
		stmt_allow_deny(ps, toks, ntok, true);
	else if (tok_is(&toks[0], "deny"))
		stmt_allow_deny(ps, toks, ntok, false);
	else if (tok_is(&toks[0], "mode"))
		stmt_mode(ps, toks, ntok);
	else if (tok_is(&toks[0], "resolver"))
		stmt_resolver(ps, toks, ntok);
	else if (tok_is(&toks[0], "scope"))
		stmt_scope(ps, toks, ntok);
	else if (tok_is(&toks[0], "}"))
		stmt_close(ps, toks, ntok);
	else if ((sg = suggest(&toks[0], kw)))
		perr(ps, toks[0].col, "unknown statement %s (did you mean %s?)", Q(&toks[0]), sg);
	else
		perr(ps, toks[0].col, "unknown statement %s (allow, deny, mode, resolver or scope)",
		     Q(&toks[0]));
}

/* ---- policy objects ---- */

static void free_ports_rules(struct policy_scope *sc)
{
	size_t i;

	for (i = 0; i < sc->nrules; i++)
		free(sc->rules[i].ports);
	for (i = 0; i < sc->ndns; i++)
		free(sc->dns[i].name);
	for (i = 0; i < sc->nhosts; i++) {
		free(sc->hosts[i].name);
		free(sc->hosts[i].ports);
	}
	free(sc->rules);
	free(sc->dns);
	free(sc->hosts);
	free(sc->path);
}

void policy_free(struct policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nscopes; i++)
		free_ports_rules(&p->scopes[i]);
	free(p->scopes);
	free(p->name);
	free(p);
}

static struct policy *policy_new(const char *name)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->name = strdup(name);
	p->scopes = calloc(4, sizeof(*p->scopes));
	if (!p->name || !p->scopes)
		goto fail;
	p->nscopes = 1;
	p->scopes[0].path = strdup("");
	if (!p->scopes[0].path)
		goto fail;
	p->scopes[0].has_mode = true;
	p->scopes[0].mode = HUSH_MODE_ENFORCE;
	p->scopes[0].loc.line = 1;
	p->scopes[0].loc.col = 1;
	p->resolver_port = 53;
	return p;
fail:
	policy_free(p);
	return NULL;
}

int policy_default(struct policy **out)
{
	*out = policy_new("<default>");
	return *out ? 0 : -ENOMEM;
}

int policy_parse(const char *name, const char *text, size_t len, struct policy **out,
		 struct policy_errors *errs)
{
	struct parser ps = {0};
	size_t pos = 0;
	int ret;

	*out = NULL;
	if (!name)
		name = "<policy>";
	if (!text && len)
		return -EINVAL;
	ps.name = name;
	ps.errs = errs;
	ps.p = policy_new(name);
	ps.mode_line = calloc(4, sizeof(*ps.mode_line)); /* grows with p->scopes */
	if (!ps.p || !ps.mode_line) {
		ret = -ENOMEM;
		goto out;
	}
	if (len > POLICY_MAX_SIZE) {
		ps.line = 1;
		perr(&ps, 1, "file too large (more than %u bytes)", POLICY_MAX_SIZE);
	}
	/* after an error, keep going to report the others */
	while (len <= POLICY_MAX_SIZE && pos < len && !ps.fatal) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;

		ps.line++;
		parse_line(&ps, text + pos, end - pos);
		pos = end + 1;
	}
	if (ps.depth && !ps.fatal) {
		unsigned l = ps.line;

		ps.line = ps.open_line;
		perr(&ps, ps.open_col, "scope \"%s\" is not closed (missing \"}\")",
		     ps.p->scopes[ps.cur].path);
		ps.line = l;
	}
	if (ps.fatal == -ENOMEM)
		ret = -ENOMEM;
	else if (ps.nerr || ps.fatal)
		ret = -EINVAL;
	else
		ret = 0;
out:
	free(ps.mode_line);
	free(ps.paths.path);
	free(ps.paths.line);
	if (ret) {
		policy_free(ps.p);
		return ret;
	}
	*out = ps.p;
	return 0;
}

int policy_load_file(const char *path, struct policy **out, struct policy_errors *errs)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = NULL;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto io;
	}
	buf = malloc(cap);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	/* one byte more than allowed is enough for policy_parse to refuse it */
	while (len <= POLICY_MAX_SIZE) {
		size_t want;
		ssize_t n;

		if (len == cap) {
			char *nb;

			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				ret = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		want = cap - len;
		if (want > POLICY_MAX_SIZE + 1 - len)
			want = POLICY_MAX_SIZE + 1 - len;
		n = read(fd, buf + len, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto io;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	ret = policy_parse(path, buf, len, out, errs);
	goto out;
io:
	if (policy_errors_add(errs, "%s: %s", path, strerror(-ret)) < 0)
		ret = -ENOMEM;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}
