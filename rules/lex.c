/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The policy parser's words: error messages (struct policy_errors and the
 * parser's "file:line:col: message"), small helpers (did-you-mean, growing
 * arrays), and the tokens that stand for values: addresses and prefixes,
 * port lists, protocols, DNS names.  See parse.c for the language.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/util.h"
#include "rules/parse_int.h"

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
const char *lex_quote(char *buf, size_t size, const char *s, size_t len)
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

int lex_err(struct parser *ps, unsigned col, const char *fmt, ...)
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

bool lex_is(const struct tok *t, const char *w)
{
	return t->len == strlen(w) && !memcmp(t->s, w, t->len);
}

/* Grow an array holding n elements so that one more fits: its capacity is
 * implied by n (0 if n == 0, else max(4, next power of two)), so the public
 * structs need store no capacity next to their counts. */
int lex_grow(void *pp, size_t n, size_t elem)
{
	size_t cap = 0;

	if (n)
		for (cap = 4; cap < n; cap *= 2)
			;
	return grow_array(pp, &cap, n + 1, elem, 4);
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
const char *lex_suggest(const struct tok *t, const char *const *words)
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

bool lex_is_mapped(const uint8_t *a)
{
	static const uint8_t pre[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return !memcmp(a, pre, 12);
}

/* ---- tokens ---- */

/* Parse a decimal number of at most `maxdig` digits into *v; digits only. */
bool lex_num(const char *s, size_t len, size_t maxdig, unsigned long *v)
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
int lex_target(struct parser *ps, const struct tok *t, bool is_allow, int *family, uint8_t *addr,
	       uint8_t *plen)
{
	char buf[POLICY_MAX_LINE + 1], canon[POLICY_ADDRSTRLEN];
	const char *slash;
	unsigned long l;
	uint8_t a[16], m[16];
	int fam;
	unsigned maxlen;
	size_t alen;
	static const char *const kw[] = {"any", "dns", "host", NULL};

	if (lex_is(t, "any")) {
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
		const char *s = lex_suggest(t, kw);
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
			return lex_err(ps, t->col, "invalid address %s (did you mean %s?)", Q(t),
				       s);
		if (letter && ldh && dot && is_allow && t->len <= QUOTE_MAX)
			return lex_err(ps, t->col,
				       "invalid address %s (for a DNS name write: allow host %.*s)",
				       Q(t), (int)t->len, t->s);
		return lex_err(ps, t->col, "invalid address %s", Q(t));
	}
	l = maxlen;
	if (slash) {
		const char *ls = slash + 1;
		size_t ll = t->len - alen - 1;

		if (!lex_num(ls, ll, 9, &l)) {
			if (all_digits(ls, ll))
				return lex_err(ps, t->col, "prefix length %.*s out of range (0-%u)",
					       (int)(ll > 16 ? 16 : ll), ls, maxlen);
			return lex_err(ps, t->col, "invalid prefix length in %s", Q(t));
		}
		if (l > maxlen)
			return lex_err(ps, t->col, "prefix length %lu out of range (0-%u)", l,
				       maxlen);
	}
	memcpy(m, a, 16);
	mask_prefix(m, (unsigned)l, fam == AF_INET ? 4 : 16);
	if (memcmp(m, a, 16)) {
		policy_prefix_text(canon, fam, m, (unsigned)l, true);
		return lex_err(ps, t->col, "%.*s: host bits set; did you mean %s?", (int)t->len,
			       t->s, canon);
	}
	if (fam == AF_INET6 && l >= 96 && lex_is_mapped(a)) {
		/* ::ffff:a.b.c.d/96+n is the IPv4 rule a.b.c.d/n */
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
		fam = AF_INET;
		l -= 96;
	}
	if (fam == AF_INET && l == 32 && !a[0] && !a[1] && !a[2] && !a[3])
		return lex_err(
		    ps, t->col,
		    "0.0.0.0 is never a destination (connecting to it reaches 127.0.0.1); "
		    "write 127.0.0.1, or any for every address");
	if (fam == AF_INET6 && l == 128 && !memcmp(a, (uint8_t[16]){0}, 16))
		return lex_err(ps, t->col,
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
		return lex_err(ps, t->col, "port list too long (at most %d bytes)", PORTS_MAX);
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
			lex_err(ps, col,
				"empty item in port list %s (write lists without spaces: 80,443)",
				Q(t));
			goto fail;
		}
		dash = memchr(s, '-', len);
		dl = dash ? (size_t)(dash - s) : len;
		if (!all_digits(s, dl) || (dash && !all_digits(dash + 1, len - dl - 1))) {
			struct tok it = {s, len, col};

			lex_err(ps, col, "invalid port %s (a number 0-65535 or a range LO-HI)",
				Q(&it));
			goto fail;
		}
		if (!lex_num(s, dl, 5, &lo) || lo > 65535) {
			lex_err(ps, col, "port %.*s out of range (0-65535)",
				(int)(dl > 16 ? 16 : dl), s);
			goto fail;
		}
		hi = lo;
		if (dash) {
			const char *h = dash + 1;
			size_t hl = len - dl - 1;

			if (!lex_num(h, hl, 5, &hi) || hi > 65535) {
				lex_err(ps, col + (unsigned)dl + 1,
					"port %.*s out of range (0-65535)",
					(int)(hl > 16 ? 16 : hl), h);
				goto fail;
			}
			if (lo > hi) {
				lex_err(ps, col, "port range %lu-%lu is reversed (write %lu-%lu)",
					lo, hi, hi, lo);
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
int lex_tail(struct parser *ps, const struct tok *toks, size_t ntok, size_t i, uint8_t *proto,
	     struct policy_portrange **ports, size_t *nports)
{
	const struct tok *t = &toks[i];
	int r;

	*proto = POLICY_PROTO_ANY;
	*ports = NULL;
	*nports = 0;
	if (i >= ntok)
		return 0;
	if (lex_is(t, "tcp")) {
		*proto = 6;
	} else if (lex_is(t, "udp")) {
		*proto = 17;
	} else if (lex_is(t, "any")) {
		*proto = POLICY_PROTO_ANY;
	} else if (t->len <= QUOTE_MAX && t->len == strspn_n(t->s, t->len, "0123456789,-")) {
		return lex_err(ps, t->col, "ports need a protocol: write tcp %.*s", (int)t->len,
			       t->s);
	} else {
		return lex_err(ps, t->col, "unknown proto %s (tcp, udp or any)", Q(t));
	}
	if (++i >= ntok)
		return 0;
	r = parse_ports(ps, &toks[i], ports, nports);
	if (r < 0)
		return r;
	if (++i < ntok) {
		free(*ports);
		*ports = NULL;
		return lex_err(ps, toks[i].col, "unexpected %s", Q(&toks[i]));
	}
	return 0;
}

/*
 * Validate a DNS name; on success *out is the lower-case name without the
 * trailing dot and without a leading "*." (then *wild is set).
 */
int lex_dnsname(struct parser *ps, const struct tok *t, bool allow_wild, char **out, bool *wild)
{
	const char *s = t->s;
	size_t len = t->len, i, lab = 0;
	char *n;

	*wild = false;
	if (len && s[len - 1] == '.')
		len--;
	if (!len)
		return lex_err(ps, t->col, "invalid DNS name %s: empty", Q(t));
	if (len > DNS_MAX)
		return lex_err(ps, t->col, "invalid DNS name %s: longer than %d characters", Q(t),
			       DNS_MAX);
	if (s[0] == '*') {
		if (!allow_wild)
			return lex_err(ps, t->col,
				       "allow host takes one exact name, not a wildcard "
				       "(for *.SUFFIX use allow dns)");
		if (len == 1)
			return lex_err(
			    ps, t->col,
			    "invalid DNS name %s: a wildcard needs a suffix (*.example.com)", Q(t));
		if (s[1] != '.')
			return lex_err(ps, t->col,
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
				return lex_err(ps, t->col, "invalid DNS name %s: empty label",
					       Q(t));
			if (lab > LABEL_MAX)
				return lex_err(
				    ps, t->col,
				    "invalid DNS name %s: label longer than %d characters", Q(t),
				    LABEL_MAX);
			lab = 0;
			continue;
		}
		lab++;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_')
			continue;
		if (c == '*')
			return lex_err(ps, t->col,
				       "invalid DNS name %s: * only as the whole first label "
				       "(*.example.com)",
				       Q(t));
		if (c >= 0x80)
			return lex_err(ps, t->col,
				       "invalid DNS name %s: not ASCII (write the xn-- form)",
				       Q(t));
		return lex_err(ps, t->col,
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
