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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/fsutil.h"
#include "agent/util.h"
#include "rules/parse_int.h"
#include "rules/select_int.h"

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
			return lex_err(ps, t->col, "too many rules (at most %d)", POLICY_MAX_RULES);
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

	e = lex_target(ps, &toks[1], allow, &r.family, r.addr, &r.plen);
	if (e < 0)
		return e;
	e = lex_tail(ps, toks, ntok, 2, &r.proto, &r.ports, &r.nports);
	if (e < 0)
		return e;
	r.action = allow ? POLICY_ALLOW : POLICY_DENY;
	r.loc.line = ps->line;
	r.loc.col = toks[0].col;
	if (new_id(ps, &toks[0], &r.id) < 0 || lex_grow(&sc->rules, sc->nrules, sizeof(r)) < 0) {
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
		return lex_err(ps, toks[1].col, "allow dns needs a name (NAME or *.SUFFIX)");
	if (ntok > 3)
		return lex_err(ps, toks[3].col, "unexpected %s (allow dns takes one name)",
			       Q(&toks[3]));
	e = lex_dnsname(ps, &toks[2], true, &d.name, &d.wildcard);
	if (e < 0)
		return e;
	d.loc.line = ps->line;
	d.loc.col = toks[0].col;
	if (new_id(ps, &toks[0], &d.id) < 0 || lex_grow(&sc->dns, sc->ndns, sizeof(d)) < 0) {
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
		return lex_err(ps, toks[1].col, "allow host needs a name");
	e = lex_dnsname(ps, &toks[2], false, &h.name, &wild);
	if (e < 0)
		return e;
	e = lex_tail(ps, toks, ntok, 3, &h.proto, &h.ports, &h.nports);
	if (e < 0) {
		free(h.name);
		return e;
	}
	h.loc.line = ps->line;
	h.loc.col = toks[0].col;
	if (new_id(ps, &toks[0], &h.id) < 0 || lex_grow(&sc->hosts, sc->nhosts, sizeof(h)) < 0) {
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
		return lex_err(ps, toks[0].col + (unsigned)toks[0].len,
			       allow ? "allow needs an address, any, dns or host"
				     : "deny needs an address or any");
	if (lex_is(&toks[1], "dns")) {
		if (!allow)
			return lex_err(
			    ps, toks[0].col,
			    "deny dns is not supported: names are refused unless an allow "
			    "dns rule names them");
		return stmt_dns(ps, toks, ntok);
	}
	if (lex_is(&toks[1], "host")) {
		if (!allow)
			return lex_err(
			    ps, toks[0].col,
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
		return lex_err(ps, toks[0].col + (unsigned)toks[0].len,
			       "mode needs enforce or audit");
	if (lex_is(&toks[1], "enforce"))
		mode = HUSH_MODE_ENFORCE;
	else if (lex_is(&toks[1], "audit"))
		mode = HUSH_MODE_AUDIT;
	else
		return lex_err(ps, toks[1].col, "unknown mode %s (enforce or audit)", Q(&toks[1]));
	if (ntok > 2)
		return lex_err(ps, toks[2].col, "unexpected %s", Q(&toks[2]));
	if (ps->mode_line[ps->cur])
		return lex_err(ps, toks[0].col, "mode already set at line %u",
			       ps->mode_line[ps->cur]);
	ps->mode_line[ps->cur] = ps->line;
	sc->has_mode = true;
	sc->mode = mode;
	return 0;
}

/* inbound allow|deny: are packets of accepted connections replies? */
static int stmt_inbound(struct parser *ps, const struct tok *toks, size_t ntok)
{
	struct policy_scope *sc = cur_scope(ps);
	bool deny;

	if (ntok < 2)
		return lex_err(ps, toks[0].col + (unsigned)toks[0].len,
			       "inbound needs allow or deny");
	if (lex_is(&toks[1], "allow"))
		deny = false;
	else if (lex_is(&toks[1], "deny"))
		deny = true;
	else
		return lex_err(ps, toks[1].col, "unknown inbound %s (allow or deny)", Q(&toks[1]));
	if (ntok > 2)
		return lex_err(ps, toks[2].col, "unexpected %s", Q(&toks[2]));
	if (sc->has_inbound)
		return lex_err(ps, toks[0].col, "inbound already set in this %s",
			       ps->depth ? "scope" : "policy");
	sc->has_inbound = true;
	sc->inbound_deny = deny;
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
		return lex_err(ps, toks[0].col, "resolver is only allowed at the top level");
	if (ntok < 2)
		return lex_err(ps, toks[0].col + (unsigned)toks[0].len,
			       "resolver needs an address");
	if (ntok > 2)
		return lex_err(ps, toks[2].col, "unexpected %s", Q(&toks[2]));
	if (ps->resolver_line)
		return lex_err(ps, toks[0].col, "resolver already set at line %u",
			       ps->resolver_line);
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
	if (port && (!lex_num(port, plen, 5, &pv) || pv < 1 || pv > 65535)) {
		struct tok pt = {port, plen, t->col + (unsigned)(port - t->s)};

		return lex_err(ps, pt.col, "invalid resolver port %s (1-65535)", Q(&pt));
	}
	if (fam == AF_INET6 && lex_is_mapped(a)) {
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
		fam = AF_INET;
	}
	if (!memcmp(a, (uint8_t[16]){0}, 16))
		return lex_err(ps, t->col, "resolver cannot be the unspecified address %s", Q(t));
	ps->resolver_line = ps->line;
	ps->p->has_resolver = true;
	ps->p->resolver_family = fam;
	memcpy(ps->p->resolver, a, 16);
	ps->p->resolver_port = (uint16_t)pv;
	return 0;
bad:
	return lex_err(ps, t->col, "invalid resolver %s (ADDR, ADDR:PORT, V6ADDR or [V6ADDR]:PORT)",
		       Q(t));
}

static uint64_t hash_str(const char *s)
{
	return fnv1a64_str(FNV64_INIT, s);
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
		return lex_err(ps, toks[0].col + (unsigned)toks[0].len, "scope needs a path");
	if (ps->depth) {
		/* keep counting braces so the block's "}" closes it */
		const char *outer = cur_scope(ps)->path;

		ps->depth++;
		path = norm_path(&toks[1], &perrmsg);
		e = lex_err(ps, toks[0].col, "nested scope: write scope %s/%s", outer,
			    path ? path : "...");
		free(path);
		return e;
	}
	if (ntok >= 3 && (lex_is(&toks[1], "container") || lex_is(&toks[1], "pod")) &&
	    !lex_is(&toks[2], "{")) {
		/* a selector: "scope container name=x {" ("scope container {" is a path) */
		size_t brace;

		e = sel_parse(ps, toks, ntok, &path, &brace);
		if (ps->fatal)
			return ps->fatal;
		if (!e && brace >= ntok)
			e = lex_err(ps, toks[ntok - 1].col + (unsigned)toks[ntok - 1].len,
				    "expected \"{\" after the selector (at most %d conditions)",
				    MAX_TOKS - 4);
		else if (!e && brace + 1 < ntok)
			e = lex_err(ps, toks[brace + 1].col,
				    "unexpected %s after \"{\" (one statement per line)",
				    Q(&toks[brace + 1]));
		if (e) {
			free(path);
			path = NULL;
		}
	} else if (lex_is(&toks[1], "{")) {
		e = lex_err(ps, toks[1].col, "scope needs a path");
	} else if (toks[1].len > PATH_MAX_LEN) {
		e = lex_err(ps, toks[1].col, "scope path too long (at most %d bytes)",
			    PATH_MAX_LEN);
	} else {
		path = norm_path(&toks[1], &perrmsg);
		if (!path && !perrmsg) {
			ps->fatal = -ENOMEM;
			return -ENOMEM;
		}
		if (!path)
			e = lex_err(ps, toks[1].col, "scope path %s: %s", Q(&toks[1]), perrmsg);
	}
	if (e || policy_scope_is_selector(path)) {
		/* (a selector's "{" was checked above) */
	} else if (ntok < 3 || !lex_is(&toks[2], "{")) {
		e = lex_err(ps, ntok < 3 ? toks[1].col + (unsigned)toks[1].len : toks[2].col,
			    "expected \"{\" after the scope path");
	} else if (ntok > 3) {
		e = lex_err(ps, toks[3].col, "unexpected %s after \"{\" (one statement per line)",
			    Q(&toks[3]));
	}
	/* open a block even after an error, so its statements are checked */
	if (lex_grow(&p->scopes, p->nscopes, sizeof(*p->scopes)) < 0) {
		free(path);
		ps->fatal = -ENOMEM;
		return -ENOMEM;
	}
	if (lex_grow(&ps->mode_line, p->nscopes, sizeof(*ps->mode_line)) < 0) {
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
		return lex_err(ps, toks[1].col, "scope \"%s\" already defined at line %u", path,
			       found);
	return 0;
}

static int stmt_close(struct parser *ps, const struct tok *toks, size_t ntok)
{
	if (!ps->depth)
		return lex_err(ps, toks[0].col, "unmatched \"}\"");
	if (--ps->depth == 0)
		ps->cur = 0;
	if (ntok > 1)
		return lex_err(ps, toks[1].col,
			       "unexpected %s after \"}\" (one statement per line)", Q(&toks[1]));
	return 0;
}

static void parse_line(struct parser *ps, const char *s, size_t len)
{
	static const char *const kw[] = {"allow",    "deny",  "inbound", "mode",
					 "resolver", "scope", NULL};
	struct tok toks[MAX_TOKS];
	size_t ntok = 0, i = 0;
	const char *nul;
	const char *sg;

	if (len > POLICY_MAX_LINE) {
		lex_err(ps, POLICY_MAX_LINE + 1, "line too long (more than %d bytes)",
			POLICY_MAX_LINE);
		return;
	}
	nul = memchr(s, '\0', len);
	if (nul) {
		lex_err(ps, (unsigned)(nul - s) + 1, "NUL byte");
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
			lex_err(ps, (unsigned)i + 1, "control character 0x%02x", c);
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
	if (lex_is(&toks[0], "allow"))
		stmt_allow_deny(ps, toks, ntok, true);
	else if (lex_is(&toks[0], "deny"))
		stmt_allow_deny(ps, toks, ntok, false);
	else if (lex_is(&toks[0], "mode"))
		stmt_mode(ps, toks, ntok);
	else if (lex_is(&toks[0], "inbound"))
		stmt_inbound(ps, toks, ntok);
	else if (lex_is(&toks[0], "resolver"))
		stmt_resolver(ps, toks, ntok);
	else if (lex_is(&toks[0], "scope"))
		stmt_scope(ps, toks, ntok);
	else if (lex_is(&toks[0], "}"))
		stmt_close(ps, toks, ntok);
	else if ((sg = lex_suggest(&toks[0], kw)))
		lex_err(ps, toks[0].col, "unknown statement %s (did you mean %s?)", Q(&toks[0]),
			sg);
	else
		lex_err(ps, toks[0].col,
			"unknown statement %s (allow, deny, inbound, mode, resolver or scope)",
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
		lex_err(&ps, 1, TOO_LARGE, POLICY_MAX_SIZE);
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
		lex_err(&ps, ps.open_col, "scope \"%s\" is not closed (missing \"}\")",
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
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	ret = read_file_max(path, POLICY_MAX_SIZE, &buf, &len);
	if (ret == -EFBIG) /* what policy_parse() says of text this long */
		return policy_errors_add(errs, "%s:1:1: " TOO_LARGE, path, POLICY_MAX_SIZE) < 0
			   ? -ENOMEM
			   : -EINVAL;
	if (ret) {
		if (policy_errors_add(errs, "%s: %s", path, strerror(-ret)) < 0)
			ret = -ENOMEM;
		return ret;
	}
	return policy_parse(path, buf, len, out, errs);
}
