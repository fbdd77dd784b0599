// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `hush policy suggest`, the log half: read the matching rows of the audit
 * log through logquery (the filters of `hush log`), and hand each allowed
 * or audited attempt and DNS query to suggest.c as an observation in the
 * scope its cgroup has below the enforced cgroup.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/cgroup.h"
#include "agent/suggest_log.h"
#include "rules/dnsname.h"

struct ctx {
	struct suggest *s;
	const struct suggest_src *src;
	size_t rootlen;
	int64_t rows, attempts, first, last;
	int err;
};

static const char *text(const struct logq_row *r, int c)
{
	return r->c[c].type == LOGQ_TEXT ? r->c[c].p : NULL;
}

static int64_t num(const struct logq_row *r, int c, int64_t dflt)
{
	return r->c[c].type == LOGQ_INT ? r->c[c].i : dflt;
}

static bool streq(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

/* The row's scope (relative to the root) into buf; false: outside it. */
static bool scope_of(const struct ctx *c, const char *cg, char *buf, size_t len)
{
	const char *root = c->src->root;
	size_t rl = c->rootlen;
	const char *rest;

	if (cg[0] != '/')
		return false;
	if (rl == 1) /* root "/" */
		rest = cg + 1;
	else if (strncmp(cg, root, rl) == 0 && (cg[rl] == 0 || cg[rl] == '/'))
		rest = cg + rl + (cg[rl] == '/');
	else
		return false;
	if (strlen(rest) >= len)
		return false;
	snprintf(buf, len, "%s", rest);
	/* The policy lexer splits on blanks, '#', '{' and '}': such a
	 * cgroup cannot be a scope (nor can control characters). */
	for (const char *p = buf; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr("#{}", *p))
			return false;
	return true;
}

/* dkey (16 bytes, IPv4 as ::ffff:a.b.c.d) -> family and address. */
static int dest_of(const struct logq_row *r, int *family, uint8_t addr[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	const struct logq_val *k = &r->c[DB_C_DKEY];

	if (k->type != LOGQ_BLOB || k->len != 16)
		return -EINVAL;
	memset(addr, 0, 16);
	if (memcmp(k->p, mapped, 12) == 0) {
		*family = AF_INET;
		memcpy(addr, (const uint8_t *)k->p + 12, 4);
	} else {
		*family = AF_INET6;
		memcpy(addr, k->p, 16);
	}
	return 0;
}

static bool loopback(int family, const uint8_t *a)
{
	static const uint8_t one6[16] = {[15] = 1};

	return family == AF_INET ? a[0] == 127 : memcmp(a, one6, 16) == 0;
}

/* The name as the policy writes it (dns_name_normalize: lower case, no
 * trailing dot, label and name lengths), and only letters, digits, '-',
 * '_' and '.': no escapes, no wildcard. */
static bool clean_name(const char *in, char *out, size_t len)
{
	if (!in || !*in ||
	    strspn(in, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		       "0123456789-_.") != strlen(in))
		return false;
	return dns_name_normalize(in, out, len) == 0;
}

static int row_obs(struct ctx *c, const struct logq_row *r, struct suggest_obs *o, char *scope,
		   size_t slen, char *name, size_t nlen)
{
	const char *hook = text(r, DB_C_HOOK), *proto = text(r, DB_C_PROTO);
	const char *rule = text(r, DB_C_RULE_TEXT);

	if (!text(r, DB_C_CGROUP_PATH))
		return SUGGEST_SKIP_OTHER; /* no cgroup known: no scope to give it */
	if (!scope_of(c, text(r, DB_C_CGROUP_PATH), scope, slen))
		return SUGGEST_SKIP_OUTSIDE;
	if (c->src->cgroup && fnmatch(c->src->cgroup, scope, 0) != 0 &&
	    !(strncmp(scope, c->src->cgroup, strlen(c->src->cgroup)) == 0 &&
	      scope[strlen(c->src->cgroup)] == '/'))
		return -1; /* not asked for: not counted */
	o->scope = scope;
	if (streq(hook, "dns")) {
		if (!clean_name(text(r, DB_C_QNAME), name, nlen))
			return SUGGEST_SKIP_OTHER;
		o->kind = SUGGEST_DNS;
		o->name = name;
		if (dest_of(r, &o->family, o->addr) == 0)
			suggest_note_resolver(c->s, o->family, o->addr,
					      (uint16_t)num(r, DB_C_DPORT, 53),
					      num(r, DB_C_COUNT, 1));
		return 0;
	}
	if (!hook || streq(hook, "sock_create") || streq(hook, "cgroup_move") ||
	    dest_of(r, &o->family, o->addr))
		return SUGGEST_SKIP_OTHER;
	if (loopback(o->family, o->addr))
		return SUGGEST_SKIP_LOOPBACK;
	o->kind = SUGGEST_ADDR;
	o->proto = streq(proto, "tcp")	 ? IPPROTO_TCP
		   : streq(proto, "udp") ? IPPROTO_UDP
					 : SUGGEST_PROTO_OTHER;
	o->port = (uint16_t)num(r, DB_C_DPORT, 0);
	if (clean_name(text(r, DB_C_QNAME), name, nlen))
		o->name = name;
	o->by_host = rule && strncmp(rule, "allow host ", 11) == 0;
	return 0;
}

static int on_row(void *vc, const struct logq_row *r)
{
	struct ctx *c = vc;
	const char *kind = text(r, DB_C_KIND), *verdict = text(r, DB_C_VERDICT);
	const char *exe = text(r, DB_C_EXE), *comm = text(r, DB_C_COMM);
	struct suggest_obs o = {0};
	char scope[4096], name[256], who[64];
	int ret;

	c->rows++;
	if (!streq(kind, "attempt")) {
		suggest_skip(c->s, SUGGEST_SKIP_OTHER, 1);
		return 0;
	}
	if (!streq(verdict, "allow") && !streq(verdict, "audit")) {
		suggest_skip(c->s, SUGGEST_SKIP_DENIED, 1);
		return 0;
	}
	ret = row_obs(c, r, &o, scope, sizeof(scope), name, sizeof(name));
	if (ret < 0)
		return 0;
	if (ret > 0) {
		suggest_skip(c->s, (enum suggest_skip)ret, 1);
		return 0;
	}
	o.audit = streq(verdict, "audit");
	o.count = num(r, DB_C_COUNT, 1);
	o.last = num(r, DB_C_TS, 0);
	o.first = num(r, DB_C_FIRST_TS, o.last);
	if (!exe && comm)
		snprintf(who, sizeof(who), "[%s]", comm);
	o.who = exe ? exe : comm ? who : NULL;
	ret = suggest_add(c->s, &o);
	if (ret == -EINVAL) {
		suggest_skip(c->s, SUGGEST_SKIP_OTHER, 1);
		return 0;
	}
	if (ret)
		return ret;
	c->attempts += o.count;
	if (!c->first || o.first < c->first)
		c->first = o.first;
	if (o.last > c->last)
		c->last = o.last;
	return 0;
}

int suggest_from_log(struct db *db, const struct suggest_src *src, struct suggest *s,
		     struct suggest_stats *st, char *err, size_t errlen)
{
	struct ctx c = {.s = s, .src = src, .rootlen = strlen(src->root)};
	struct logq *q;
	bool more;
	int ret;

	ret = logq_new(db, &src->f, &q);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		return ret;
	}
	ret = logq_rows(q, -1, false, on_row, &c, &more, err, errlen);
	logq_free(q);
	if (ret > 0)
		ret = 0;
	st->rows = c.rows;
	st->attempts = c.attempts;
	st->first = c.first;
	st->last = c.last;
	return ret;
}

struct root_note {
	char path[4096];
	bool found;
};

/* "hushd started (pid N, version V) enforcing|adopting on CGROUP: policy
 * ...": the newest names the cgroup (rows come newest first). */
static int note_root(void *vr, const struct logq_row *row)
{
	struct root_note *r = vr;
	const char *note = text(row, DB_C_NOTE), *on, *end;

	if (!note || strncmp(note, "hushd started (", 15) != 0)
		return 0;
	if ((on = strstr(note, ") enforcing on ")))
		on += strlen(") enforcing on ");
	else if ((on = strstr(note, ") adopting on ")))
		on += strlen(") adopting on ");
	end = on ? strstr(on, ": policy ") : NULL;
	if (!end || end == on || (size_t)(end - on) >= sizeof(r->path))
		return 0;
	memcpy(r->path, on, (size_t)(end - on));
	r->path[end - on] = 0;
	r->found = true;
	return 1;
}

int suggest_log_root(struct db *db, char *buf, size_t len)
{
	struct logq_filter f = {.kind = "note", .port = -1};
	char mnt[4096] = "", err[256];
	struct logq *q;
	struct root_note r = {.found = false};
	bool more;
	int ret;

	if (logq_new(db, &f, &q))
		return -ENOMEM;
	ret = logq_rows(q, -1, false, note_root, &r, &more, err, sizeof(err));
	logq_free(q);
	if (ret < 0 || !r.found)
		return -ENOENT;
	if (cgroup_find_mount(mnt, sizeof(mnt)) == 0 && mnt[0] &&
	    strncmp(r.path, mnt, strlen(mnt)) == 0) {
		const char *rest = r.path + strlen(mnt);

		snprintf(buf, len, "%s", *rest ? rest : "/");
	} else {
		snprintf(buf, len, "%s", r.path);
	}
	return 0;
}
