// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hush log: the incident responder's view of the audit log (agent/db.h).
 *
 *   hush log [filters] [--json|--csv] [--limit N] [--follow]   rows, newest first
 *   hush log top --by dest|process|container|unit [filters]   who tried most
 *   hush log verify [--head ID:HASHHEX]                        walk the hash chain
 *   hush log prune --older-than DUR [--max-size SIZE]          drop old rows
 *
 * Every form takes --db FILE, before or after the verb.
 *
 * Queries stay on the indexes: they run on the events table (alias e) with
 * plain predicates on its indexed columns (ts, verdict, cgroup, dkey), turn
 * filters on the dimension tables into `e.proc IN (SELECT id FROM procs
 * ...)` subqueries, order by e.ts DESC, e.id DESC with a LIMIT, and join
 * procs/cgroups/rules only to print.  Every user value is bound, never
 * pasted into SQL.  A destination filter is a range of the 16-byte dkey
 * (IPv4 as ::ffff:a.b.c.d), so a CIDR is one index range.
 *
 * Plans were checked with EXPLAIN QUERY PLAN (`hush -v log ...` prints each
 * statement; tests/integration/t_log.sh checks them):
 *  - With a limit, two steps: the ids of the newest matching rows, from a
 *    covering index where the filters allow (events(dkey, ts), (cgroup, ts),
 *    (verdict, ts) and (ts) all hold ts and the id), then the joins for
 *    those rows only.
 *  - SQLite has no statistics here, so it takes every index range as
 *    selective; probe_broad() counts a dest or cgroup filter's matches on
 *    its index and keeps a filter that matches much of the table off the
 *    index (walking by time finds the newest rows sooner).
 *  - top aggregates in a hash table over one filtered scan: SQLite's GROUP
 *    BY sorts every row first.
 *  - --follow polls every 200 ms for ids above the last one seen (WAL: the
 *    writer goes on beside us), each poll one short read transaction.
 *
 * Table, JSON and CSV are printed from the same fetched row; JSON and CSV
 * share one field list (the columns of the view "log", plus ts_ns and
 * first_ts_ns), so they cannot drift apart.  The table sizes its columns on
 * the first page of rows (capped), then keeps them: --limit 0 and --follow
 * stream.  Text from the kernel side (comm, exe, DNS names) is untrusted:
 * the table prints control characters and invalid UTF-8 as '?'.
 *
 * DNS queries hushd's proxy judged are attempt rows with hook "dns": DEST is
 * the resolver the client asked, as for any attempt, and the DNS column,
 * which names the destination of other attempts, holds the query
 * ("example.com AAAA", or the note of a malformed one).  The DNS column is
 * cut on the left, like paths: the domain and the type stay in view.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../agent/db.h"
#include "../agent/log.h"
#include "cli.h"

#define LOG_DEFAULT_LIMIT 100
#define TOP_DEFAULT_LIMIT 20
#define FOLLOW_POLL_MS	  200
#define TABLE_PAGE	  1000 /* rows that size the table's columns */

enum verb { VB_QUERY = 1, VB_TOP = 2, VB_VERIFY = 4, VB_PRUNE = 8 };
#define VB_ROWS (VB_QUERY | VB_TOP)
#define VB_ALL	(VB_QUERY | VB_TOP | VB_VERIFY | VB_PRUNE)

enum fmt { FMT_TABLE, FMT_JSON, FMT_CSV };
enum top_by { BY_NONE, BY_DEST, BY_PROCESS, BY_CONTAINER, BY_UNIT };

struct filters {
	const char *verdict, *kind;
	bool has_since, has_until;
	int64_t since, until; /* ns since the epoch */
	bool has_pid;
	int64_t pid;
	const char *comm, *exe, *unit;
	bool exe_glob, unit_glob;
	char container[160]; /* LIKE pattern: escaped prefix + '%' */
	bool has_dest;
	uint8_t dlo[16], dhi[16];
	int port;      /* -1: any */
	char dns[300]; /* lower case, no trailing dot; LIKE pattern if wild */
	bool has_dns, dns_wild;
	char qtype[20]; /* upper case; "" for any */
	/* The dest / cgroup filter matches much of the table: keep it off
	 * its index (see probe_broad). */
	bool dest_broad, cg_broad;
	/* Longest first_ts..ts span of any row (meta 'max_span'): bounds
	 * --until on the ts index.  -1: unknown. */
	int64_t max_span;
};

struct opts {
	const char *db;
	enum verb verb;
	enum fmt fmt;
	int64_t limit;
	bool limit_set, follow;
	enum top_by by;
	uint64_t head_id;
	uint8_t head_hash[DB_HASH_LEN];
	bool has_older;
	int64_t older_than, max_size;
	struct filters f;
};

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void log_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: hush log [--db FILE] [FILTERS] [--json|--csv] [--limit N] [--follow]\n"
	    "       hush log top --by dest|process|container|unit [FILTERS] [--limit N] "
	    "[--json|--csv]\n"
	    "       hush log verify [--head ID:HASHHEX|FILE]\n"
	    "       hush log prune --older-than DUR [--max-size SIZE]\n"
	    "\n"
	    "filters:\n"
	    "  --denied | --allowed | --audit | --verdict allow|deny|audit\n"
	    "  --since DUR|TIME     rows whose last attempt is at or after (10m, 2h, 7d, 1w,\n"
	    "                       2026-11-23, 2026-11-23T10:00[:SS[.frac]][Z|+01:00], @EPOCH)\n"
	    "  --until DUR|TIME     rows whose first attempt is at or before\n"
	    "  --pid N              process or thread id\n"
	    "  --comm NAME          exact command name\n"
	    "  --exe PATH           exact executable, or a glob (* ? [...])\n"
	    "  --container ID       container id prefix (case-insensitive)\n"
	    "  --unit UNIT          systemd unit, exact or glob\n"
	    "  --dest CIDR          destination address or prefix (IPv4 or IPv6)\n"
	    "  --port N             destination port\n"
	    "  --dns NAME           DNS name (case-insensitive; *.suffix: its subdomains)\n"
	    "  --qtype TYPE         DNS query type of a query row (A, AAAA, TXT, TYPE65)\n"
	    "  --kind attempt|gap|note\n"
	    "\n"
	    "  --db FILE            the database (default " DB_DEFAULT_PATH ")\n"
	    "  --limit N            newest N rows (default %d, top: %d; 0: all)\n"
	    "  --follow             then print new rows as they are written (Ctrl-C ends)\n"
	    "\n"
	    "exit codes: 0 ok, 1 failure or a broken chain (verify), 2 usage error\n",
	    LOG_DEFAULT_LIMIT, TOP_DEFAULT_LIMIT);
}

static int usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_err(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("log: %s (see `hush log --help`)", buf);
	return -EINVAL;
}

/* ---- option values ---- */

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *v)
{
	char *end;
	long long x;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return -EINVAL;
	*v = x;
	return 0;
}

/* n decimal digits at *p into *v; advances *p. */
static bool digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return true;
}

/* A fraction of a second at **p (its separator first): nanoseconds into
 * *frac (digits past the ninth are ignored); -EINVAL without a digit. */
static int frac_part(const char **p, int64_t *frac)
{
	int fd = 0;

	for ((*p)++; **p >= '0' && **p <= '9'; (*p)++, fd++)
		if (fd < 9)
			*frac = *frac * 10 + (**p - '0');
	if (!fd)
		return -EINVAL;
	for (; fd < 9; fd++)
		*frac *= 10;
	return 0;
}

/*
 * An absolute time: "@EPOCH[.frac]", or "YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|(+|-)HH[:]MM]"
 * (no zone: local time).
 */
static int parse_abs_time(const char *s, int64_t *ns)
{
	struct tm tm = {0};
	int64_t frac = 0, sec;
	int y, mo, d, h = 0, mi = 0, se = 0;
	bool zone = false;
	int off = 0;
	const char *p = s;

	if (*p == '@') {
		char *end;
		long long e;

		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		e = strtoll(p, &end, 10);
		if (errno || e > 9000000000LL)
			return -EINVAL;
		p = end;
		if (*p == '.' && frac_part(&p, &frac))
			return -EINVAL;
		if (*p)
			return -EINVAL;
		*ns = (int64_t)e * 1000000000LL + frac;
		return 0;
	}
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d))
		return -EINVAL;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return -EINVAL;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &se))
				return -EINVAL;
			if ((*p == '.' || *p == ',') && frac_part(&p, &frac))
				return -EINVAL;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		zone = true;
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om = 0;

		if (!digits(&p, 2, &oh))
			return -EINVAL;
		if (*p == ':')
			p++;
		if (*p && !digits(&p, 2, &om))
			return -EINVAL;
		if (oh > 23 || om > 59)
			return -EINVAL;
		zone = true;
		off = sign * (oh * 3600 + om * 60);
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	if (zone) {
		struct tm chk;
		time_t t = timegm(&tm);

		/* timegm normalizes Feb 30 into March: refuse that. */
		gmtime_r(&t, &chk);
		if (chk.tm_mday != d || chk.tm_mon != mo - 1)
			return -EINVAL;
		sec = (int64_t)t - off;
	} else {
		tm.tm_isdst = -1;
		time_t t = mktime(&tm);

		if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
			return -EINVAL;
		sec = (int64_t)t;
	}
	*ns = sec * 1000000000LL + frac;
	return 0;
}

/* DUR before now, or an absolute TIME, or "now". */
static int parse_when(const char *s, int64_t now, int64_t *ns)
{
	int64_t d;

	if (strcmp(s, "now") == 0) {
		*ns = now;
		return 0;
	}
	if (db_parse_duration(s, &d) == 0) {
		*ns = now - d;
		return 0;
	}
	return parse_abs_time(s, ns);
}

/* CIDR or bare address -> inclusive dkey range (IPv4 as ::ffff:a.b.c.d). */
static int parse_cidr(const char *s, uint8_t lo[16], uint8_t hi[16])
{
	char a[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	uint8_t key[16];
	int64_t plen, max;
	struct in_addr a4;

	if (n == 0 || n >= sizeof(a))
		return -EINVAL;
	memcpy(a, s, n);
	a[n] = 0;
	if (inet_pton(AF_INET, a, &a4) == 1) {
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &a4, 4);
		max = 32;
	} else if (inet_pton(AF_INET6, a, key) == 1) {
		max = 128;
	} else {
		return -EINVAL;
	}
	plen = max;
	if (slash && parse_int(slash + 1, 0, max, &plen))
		return -EINVAL;
	plen += 128 - max;
	for (int i = 0; i < 16; i++) {
		int bits = (int)plen - 8 * i;
		uint8_t m = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));

		lo[i] = key[i] & m;
		hi[i] = (uint8_t)(key[i] | (uint8_t)~m);
	}
	return 0;
}

/* Escape LIKE's wildcards (ESCAPE '\'). */
static int like_escape(char *out, size_t outlen, const char *prefix, const char *s,
		       const char *suffix)
{
	size_t o = 0;

	for (const char *p = prefix; *p; p++)
		if (o + 1 < outlen)
			out[o++] = *p;
	for (; *s; s++) {
		if (*s == '%' || *s == '_' || *s == '\\') {
			if (o + 1 < outlen)
				out[o++] = '\\';
		}
		if (o + 1 < outlen)
			out[o++] = *s;
	}
	for (const char *p = suffix; *p; p++)
		if (o + 1 < outlen)
			out[o++] = *p;
	out[o] = 0;
	return o + 1 < outlen ? 0 : -ENAMETOOLONG;
}

static int parse_dns(struct filters *f, const char *s)
{
	char name[256];
	size_t n;

	f->dns_wild = strncmp(s, "*.", 2) == 0;
	if (f->dns_wild)
		s += 2;
	n = strlen(s);
	while (n && s[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(name) || memchr(s, '*', n))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		name[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	name[n] = 0;
	f->has_dns = true;
	if (f->dns_wild)
		return like_escape(f->dns, sizeof(f->dns), "%.", name, "");
	snprintf(f->dns, sizeof(f->dns), "%s", name);
	return 0;
}

/* A query type as the proxy stores it: letters and digits (and '-'), upper case. */
static int parse_qtype(struct filters *f, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(f->qtype))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return -EINVAL;
		f->qtype[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
	}
	f->qtype[n] = 0;
	return 0;
}

/* "ID:HASHHEX" (or "ID HASHHEX", as in a head file), or a file holding that. */
static int parse_head(struct opts *o, const char *s)
{
	char line[256];
	const char *sep = strpbrk(s, ": ");
	int64_t id;

	if (!sep) {
		FILE *f = fopen(s, "re");

		if (!f)
			return -EINVAL;
		if (!fgets(line, sizeof(line), f)) {
			fclose(f);
			return -EINVAL;
		}
		fclose(f);
		line[strcspn(line, "\r\n")] = 0;
		s = line;
		sep = strpbrk(s, ": ");
		if (!sep)
			return -EINVAL;
	}
	{
		char idb[32];
		size_t n = (size_t)(sep - s);

		if (n == 0 || n >= sizeof(idb))
			return -EINVAL;
		memcpy(idb, s, n);
		idb[n] = 0;
		if (parse_int(idb, 1, INT64_MAX, &id))
			return -EINVAL;
	}
	if (db_unhex(sep + 1, strlen(sep + 1), o->head_hash, DB_HASH_LEN))
		return -EINVAL;
	o->head_id = (uint64_t)id;
	return 0;
}

static bool has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* ---- argument parsing ---- */

enum opt_id {
	O_DB,
	O_DENIED,
	O_ALLOWED,
	O_AUDIT,
	O_VERDICT,
	O_SINCE,
	O_UNTIL,
	O_PID,
	O_COMM,
	O_EXE,
	O_CONTAINER,
	O_UNIT,
	O_DEST,
	O_PORT,
	O_DNS,
	O_QTYPE,
	O_KIND,
	O_JSON,
	O_CSV,
	O_LIMIT,
	O_FOLLOW,
	O_BY,
	O_HEAD,
	O_OLDER,
	O_MAXSIZE,
};

static const struct opt {
	const char *name;
	enum opt_id id;
	bool arg;
	unsigned verbs;
} optab[] = {
    {"db", O_DB, true, VB_ALL},
    {"denied", O_DENIED, false, VB_ROWS},
    {"allowed", O_ALLOWED, false, VB_ROWS},
    {"audit", O_AUDIT, false, VB_ROWS},
    {"verdict", O_VERDICT, true, VB_ROWS},
    {"since", O_SINCE, true, VB_ROWS},
    {"until", O_UNTIL, true, VB_ROWS},
    {"pid", O_PID, true, VB_ROWS},
    {"comm", O_COMM, true, VB_ROWS},
    {"exe", O_EXE, true, VB_ROWS},
    {"container", O_CONTAINER, true, VB_ROWS},
    {"unit", O_UNIT, true, VB_ROWS},
    {"dest", O_DEST, true, VB_ROWS},
    {"port", O_PORT, true, VB_ROWS},
    {"dns", O_DNS, true, VB_ROWS},
    {"qtype", O_QTYPE, true, VB_ROWS},
    {"kind", O_KIND, true, VB_ROWS},
    {"json", O_JSON, false, VB_ROWS},
    {"csv", O_CSV, false, VB_ROWS},
    {"limit", O_LIMIT, true, VB_ROWS},
    {"follow", O_FOLLOW, false, VB_QUERY},
    {"by", O_BY, true, VB_TOP},
    {"head", O_HEAD, true, VB_VERIFY},
    {"older-than", O_OLDER, true, VB_PRUNE},
    {"max-size", O_MAXSIZE, true, VB_PRUNE},
};

static const char *verb_name(enum verb v)
{
	return v == VB_TOP ? "top" : v == VB_VERIFY ? "verify" : v == VB_PRUNE ? "prune" : "";
}

static int set_verdict(struct filters *f, const char *v)
{
	if (f->verdict && strcmp(f->verdict, v) != 0)
		return usage_err("conflicting verdicts: %s and %s", f->verdict, v);
	f->verdict = v;
	return 0;
}

static int opt_value(struct opts *o, const struct opt *op, const char *v, int64_t now)
{
	struct filters *f = &o->f;
	int64_t x;

	switch (op->id) {
	case O_DB:
		if (!*v)
			return usage_err("--db needs a file name");
		o->db = v;
		return 0;
	case O_DENIED:
		return set_verdict(f, "deny");
	case O_ALLOWED:
		return set_verdict(f, "allow");
	case O_AUDIT:
		return set_verdict(f, "audit");
	case O_VERDICT:
		if (strcmp(v, "allow") && strcmp(v, "deny") && strcmp(v, "audit"))
			return usage_err("--verdict %s: use allow, deny or audit", v);
		return set_verdict(f, v);
	case O_SINCE:
	case O_UNTIL:
		if (parse_when(v, now, &x))
			return usage_err("--%s %s: not a duration (30s, 10m, 2h, 7d, 1w) or a "
					 "time (2026-11-23, 2026-11-23T10:00:00[.frac][Z|+01:00], "
					 "@EPOCH)",
					 op->name, v);
		if (op->id == O_SINCE) {
			f->has_since = true;
			f->since = x;
		} else {
			f->has_until = true;
			f->until = x;
		}
		return 0;
	case O_PID:
		if (parse_int(v, 0, UINT32_MAX, &f->pid))
			return usage_err("--pid %s: not a process id", v);
		f->has_pid = true;
		return 0;
	case O_COMM:
		if (!*v || strlen(v) > 15)
			return usage_err("--comm \"%s\": a command name has 1 to 15 characters", v);
		f->comm = v;
		return 0;
	case O_EXE:
	case O_UNIT:
		if (!*v)
			return usage_err("--%s needs a value", op->name);
		if (op->id == O_EXE) {
			f->exe = v;
			f->exe_glob = has_glob(v);
		} else {
			f->unit = v;
			f->unit_glob = has_glob(v);
		}
		return 0;
	case O_CONTAINER:
		if (!*v || like_escape(f->container, sizeof(f->container), "", v, "%"))
			return usage_err("--container \"%s\": give a container id or a prefix of "
					 "it",
					 v);
		return 0;
	case O_DEST:
		if (parse_cidr(v, f->dlo, f->dhi))
			return usage_err("--dest %s: not an address or CIDR (10.0.0.0/8, "
					 "198.18.2.2, fd00::/48)",
					 v);
		f->has_dest = true;
		return 0;
	case O_PORT:
		if (parse_int(v, 0, 65535, &x))
			return usage_err("--port %s: not a port number (0-65535)", v);
		f->port = (int)x;
		return 0;
	case O_DNS:
		if (parse_dns(f, v))
			return usage_err("--dns \"%s\": give a name (example.com) or *.suffix", v);
		return 0;
	case O_QTYPE:
		if (parse_qtype(f, v))
			return usage_err("--qtype \"%s\": give a query type (A, AAAA, TXT, TYPE65)",
					 v);
		return 0;
	case O_KIND:
		if (strcmp(v, "attempt") && strcmp(v, "gap") && strcmp(v, "note"))
			return usage_err("--kind %s: use attempt, gap or note", v);
		f->kind = v;
		return 0;
	case O_JSON:
	case O_CSV:
		if (o->fmt != FMT_TABLE && o->fmt != (op->id == O_JSON ? FMT_JSON : FMT_CSV))
			return usage_err("--json and --csv exclude each other");
		o->fmt = op->id == O_JSON ? FMT_JSON : FMT_CSV;
		return 0;
	case O_LIMIT:
		if (parse_int(v, 0, INT64_MAX - 1, &o->limit))
			return usage_err("--limit %s: not a number of rows (0: all)", v);
		o->limit_set = true;
		return 0;
	case O_FOLLOW:
		o->follow = true;
		return 0;
	case O_BY:
		o->by = strcmp(v, "dest") == 0	      ? BY_DEST
			: strcmp(v, "process") == 0   ? BY_PROCESS
			: strcmp(v, "container") == 0 ? BY_CONTAINER
			: strcmp(v, "unit") == 0      ? BY_UNIT
						      : BY_NONE;
		if (o->by == BY_NONE)
			return usage_err("--by %s: use dest, process, container or unit", v);
		return 0;
	case O_HEAD:
		if (parse_head(o, v))
			return usage_err("--head %s: give ID:HASHHEX (64 hex digits), as in the "
					 "chain head file, or that file",
					 v);
		return 0;
	case O_OLDER:
		if (db_parse_duration(v, &o->older_than))
			return usage_err("--older-than %s: not a duration (90d, 12h, 2w)", v);
		o->has_older = true;
		return 0;
	case O_MAXSIZE:
		if (db_parse_size(v, &o->max_size) || o->max_size <= 0)
			return usage_err("--max-size %s: not a size (10G, 500M, 64k)", v);
		return 0;
	}
	return -EINVAL;
}

/* Returns 0, 1 for --help, or -EINVAL (message printed). */
static int parse_args(struct opts *o, int argc, char **argv)
{
	const struct opt *seen[sizeof(optab) / sizeof(optab[0])];
	size_t nseen = 0;
	int64_t now = now_ns();

	memset(o, 0, sizeof(*o));
	o->db = DB_DEFAULT_PATH;
	o->verb = VB_QUERY;
	o->f.port = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *v = NULL;
		const struct opt *op = NULL;
		size_t n;
		int ret;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return 1;
		if (a[0] != '-') {
			enum verb vb = strcmp(a, "top") == 0	  ? VB_TOP
				       : strcmp(a, "verify") == 0 ? VB_VERIFY
				       : strcmp(a, "prune") == 0  ? VB_PRUNE
								  : VB_QUERY;

			if (vb == VB_QUERY)
				return usage_err("unexpected argument \"%s\"", a);
			if (o->verb != VB_QUERY)
				return usage_err("two verbs: %s and %s", verb_name(o->verb), a);
			o->verb = vb;
			continue;
		}
		if (strncmp(a, "--", 2) != 0 || !a[2])
			return usage_err("unknown option %s", a);
		name = a + 2;
		eq = strchr(name, '=');
		n = eq ? (size_t)(eq - name) : strlen(name);
		for (size_t k = 0; k < sizeof(optab) / sizeof(optab[0]); k++) {
			if (strlen(optab[k].name) == n && strncmp(optab[k].name, name, n) == 0) {
				op = &optab[k];
				break;
			}
		}
		if (!op)
			return usage_err("unknown option %.*s", (int)(n + 2), a);
		if (op->arg) {
			v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
			if (!v)
				return usage_err("--%s needs a value", op->name);
		} else if (eq) {
			return usage_err("--%s takes no value", op->name);
		}
		ret = opt_value(o, op, v, now);
		if (ret)
			return ret;
		if (nseen < sizeof(seen) / sizeof(seen[0]))
			seen[nseen++] = op;
	}
	for (size_t k = 0; k < nseen; k++) {
		if (seen[k]->verbs & o->verb)
			continue;
		if (o->verb == VB_QUERY)
			return usage_err("--%s belongs to `hush log %s`", seen[k]->name,
					 seen[k]->verbs & VB_TOP      ? "top"
					 : seen[k]->verbs & VB_VERIFY ? "verify"
								      : "prune");
		return usage_err("--%s does not apply to `hush log %s`", seen[k]->name,
				 verb_name(o->verb));
	}
	if (o->verb == VB_TOP && o->by == BY_NONE)
		return usage_err("top needs --by dest|process|container|unit");
	if (o->verb == VB_PRUNE && !o->has_older && !o->max_size)
		return usage_err("prune needs --older-than DUR (and optionally --max-size SIZE)");
	if (!o->limit_set)
		o->limit = o->verb == VB_TOP ? TOP_DEFAULT_LIMIT : LOG_DEFAULT_LIMIT;
	return 0;
}

/* ---- SQL with bound values ---- */

struct sql {
	char s[4096];
	size_t len;
	struct {
		int type;
		int64_t i;
		const void *p;
		int n;
	} b[32];
	int nb;
	bool overflow;
};

static void sql_add(struct sql *q, const char *frag)
{
	size_t n = strlen(frag);

	if (q->len + n >= sizeof(q->s)) {
		q->overflow = true;
		return;
	}
	memcpy(q->s + q->len, frag, n + 1);
	q->len += n;
}

static void sql_bind(struct sql *q, int type, int64_t i, const void *p, int n)
{
	if (q->nb == (int)(sizeof(q->b) / sizeof(q->b[0]))) {
		q->overflow = true;
		return;
	}
	q->b[q->nb].type = type;
	q->b[q->nb].i = i;
	q->b[q->nb].p = p;
	q->b[q->nb].n = n;
	q->nb++;
}

static void sql_int(struct sql *q, int64_t v)
{
	sql_bind(q, SQLITE_INTEGER, v, NULL, 0);
}

static void sql_text(struct sql *q, const char *s)
{
	sql_bind(q, SQLITE_TEXT, 0, s, -1);
}

static void sql_blob(struct sql *q, const void *p, int n)
{
	sql_bind(q, SQLITE_BLOB, 0, p, n);
}

static int sql_prepare(sqlite3 *h, const struct sql *q, sqlite3_stmt **st)
{
	int rc;

	if (q->overflow) {
		log_warnx("log: internal error: query too long");
		return -E2BIG;
	}
	/* `hush -v log ...` shows it: EXPLAIN QUERY PLAN it in sqlite3(1). */
	log_debug("log: query: %s", q->s);
	rc = sqlite3_prepare_v2(h, q->s, -1, st, NULL);
	if (rc != SQLITE_OK) {
		log_warnx("log: cannot query the database: %s", sqlite3_errmsg(h));
		return -EIO;
	}
	for (int k = 0; k < q->nb; k++) {
		if (q->b[k].type == SQLITE_INTEGER)
			sqlite3_bind_int64(*st, k + 1, q->b[k].i);
		else if (q->b[k].type == SQLITE_TEXT)
			sqlite3_bind_text(*st, k + 1, q->b[k].p, q->b[k].n, SQLITE_STATIC);
		else
			sqlite3_bind_blob(*st, k + 1, q->b[k].p, q->b[k].n, SQLITE_STATIC);
	}
	return 0;
}

/* The filters on the events(cgroup, ts) and events(dkey, ts) indexes; a
 * unary + keeps SQLite off the index. */
static void sql_cgroup_filters(struct sql *q, const struct filters *f)
{
	const char *in = f->cg_broad ? " AND +e.cgroup IN" : " AND e.cgroup IN";

	if (f->container[0]) {
		sql_add(q, in);
		sql_add(q, " (SELECT id FROM cgroups WHERE container LIKE ? ESCAPE '\\')");
		sql_text(q, f->container);
	}
	if (f->unit) {
		sql_add(q, in);
		sql_add(q, f->unit_glob ? " (SELECT id FROM cgroups WHERE unit GLOB ?)"
					: " (SELECT id FROM cgroups WHERE unit = ?)");
		sql_text(q, f->unit);
	}
}

static void sql_dest_filter(struct sql *q, const struct filters *f)
{
	if (f->has_dest) {
		sql_add(q, f->dest_broad ? " AND +e.dkey BETWEEN ? AND ?"
					 : " AND e.dkey BETWEEN ? AND ?");
		sql_blob(q, f->dlo, 16);
		sql_blob(q, f->dhi, 16);
	}
}

/* " AND ..." for every filter, on events e. */
static void sql_filters(struct sql *q, const struct filters *f)
{
	if (f->verdict) {
		sql_add(q, " AND e.verdict = ?");
		sql_text(q, f->verdict);
	}
	if (f->kind) {
		sql_add(q, " AND e.kind = ?");
		sql_text(q, f->kind);
	}
	if (f->has_since) {
		sql_add(q, " AND e.ts >= ?");
		sql_int(q, f->since);
	}
	if (f->has_until) {
		sql_add(q, " AND e.first_ts <= ?");
		sql_int(q, f->until);
		/* No row spans more than max_span: the ts index bounds the scan. */
		if (f->max_span >= 0 && f->until <= INT64_MAX - f->max_span) {
			sql_add(q, " AND e.ts <= ?");
			sql_int(q, f->until + f->max_span);
		}
	}
	if (f->has_pid) {
		sql_add(q, " AND (e.pid = ? OR e.tgid = ?)");
		sql_int(q, f->pid);
		sql_int(q, f->pid);
	}
	if (f->comm) {
		sql_add(q, " AND e.comm = ?");
		sql_text(q, f->comm);
	}
	if (f->exe) {
		sql_add(q, f->exe_glob ? " AND e.proc IN (SELECT id FROM procs WHERE exe GLOB ?)"
				       : " AND e.proc IN (SELECT id FROM procs WHERE exe = ?)");
		sql_text(q, f->exe);
	}
	sql_cgroup_filters(q, f);
	sql_dest_filter(q, f);
	if (f->port >= 0) {
		/* With a narrow destination, its index beats the port's (a common
		 * port is much of the log): keep the port off its index. */
		sql_add(q,
			f->has_dest && !f->dest_broad ? " AND +e.dport = ?" : " AND e.dport = ?");
		sql_int(q, f->port);
	}
	if (f->has_dns) {
		sql_add(q, f->dns_wild ? " AND rtrim(e.qname, '.') LIKE ? ESCAPE '\\'"
				       : " AND rtrim(e.qname, '.') = ? COLLATE NOCASE");
		sql_text(q, f->dns);
	}
	if (f->qtype[0]) {
		sql_add(q, " AND e.qtype = ?");
		sql_text(q, f->qtype);
	}
}

/*
 * SQLite has no statistics here (the database is opened read-only, nobody
 * runs ANALYZE), so it takes any indexed range as selective.  A CIDR like
 * 10.0.0.0/8 or a busy container can match half the table; walking such an
 * index with a table lookup per row (for --port, say) is far slower than
 * walking by time and stopping at the limit.  Count the matches on the
 * covering index, up to a sixteenth of the rows, and mark a filter that
 * reaches it as broad.
 */
static bool probe_one(sqlite3 *h, const struct filters *f, bool dest, int64_t cap)
{
	struct sql q = {.len = 0};
	sqlite3_stmt *st;
	bool broad = false;

	sql_add(&q, "SELECT count(*) FROM (SELECT 1 FROM events e WHERE 1");
	if (dest)
		sql_dest_filter(&q, f);
	else
		sql_cgroup_filters(&q, f);
	sql_add(&q, " LIMIT ?)");
	sql_int(&q, cap);
	if (sql_prepare(h, &q, &st))
		return false;
	if (sqlite3_step(st) == SQLITE_ROW)
		broad = sqlite3_column_int64(st, 0) >= cap;
	sqlite3_finalize(st);
	return broad;
}

static void probe_broad(sqlite3 *h, struct filters *f)
{
	sqlite3_stmt *st;
	int64_t rows = 0;

	f->max_span = -1;
	if (f->has_until && sqlite3_prepare_v2(h, "SELECT value FROM meta WHERE key = 'max_span'",
					       -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
			f->max_span = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}

	if (!f->has_dest && !f->container[0] && !f->unit)
		return;
	if (sqlite3_prepare_v2(
		h, "SELECT (SELECT max(id) FROM events) - (SELECT min(id) FROM events) + 1", -1,
		&st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			rows = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	if (rows < 65536)
		return;
	if (f->has_dest)
		f->dest_broad = probe_one(h, f, true, rows / 16);
	if (f->container[0] || f->unit)
		f->cg_broad = probe_one(h, f, false, rows / 16);
}

/* The columns of the view "log" in its order (enum db_log_col), then the
 * command line as minified JSON if it is valid JSON. */
#define LOG_COLS                                                                                   \
	"SELECT e.id, e.kind, e.ts, e.first_ts, e.count, e.hook, e.verdict, r.scope, r.text,"      \
	" e.family, e.proto, e.daddr, e.dkey, e.dport, e.qname, e.flags, e.pid, e.tgid, e.uid,"    \
	" e.gid, e.comm, p.exe, p.cmdline, c.cgid, c.path, c.container, c.runtime, c.unit, c.pod," \
	" e.note, e.hash, e.qtype, CASE WHEN json_valid(p.cmdline) THEN json(p.cmdline) END"
#define LOG_JOINS                                                                                  \
	" LEFT JOIN rules r ON r.id = e.rule LEFT JOIN procs p ON p.id = e.proc"                   \
	" LEFT JOIN cgroups c ON c.id = e.cgroup"
#define LOG_SELECT	 LOG_COLS " FROM events e" LOG_JOINS
#define COL_CMDLINE_JSON DB_C_MAX

static const char *const log_names[DB_C_MAX] = {
    "id",	   "kind",	"ts",	   "first_ts", "count", "hook",	 "verdict", "rule_scope",
    "rule_text",   "family",	"proto",   "daddr",    "dkey",	"dport", "qname",   "flags",
    "pid",	   "tgid",	"uid",	   "gid",      "comm",	"exe",	 "cmdline", "cgid",
    "cgroup_path", "container", "runtime", "unit",     "pod",	"note",	 "hash",    "qtype"};

/* ---- text helpers ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0. */
static int utf8_len(const unsigned char *s)
{
	int n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Copy for a terminal: controls (C0, DEL, C1) and invalid UTF-8 become '?'. */
static void clean(char *dst, size_t dstlen, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0;

	while (*s && o + 5 < dstlen) {
		int n = utf8_len(s);

		if (n == 0 || (n == 1 && (*s < 0x20 || *s == 0x7f)) ||
		    (n == 2 && s[0] == 0xc2 && s[1] < 0xa0)) {
			dst[o++] = '?';
			s++;
			continue;
		}
		memcpy(dst + o, s, (size_t)n);
		o += (size_t)n;
		s += n;
	}
	dst[o] = 0;
}

/* Display width of clean text: code points. */
static int width(const char *s)
{
	int w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* Byte offset of code point k of s. */
static size_t cp_off(const char *s, int k)
{
	size_t i = 0;

	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (k == 0)
				return i;
			k--;
		}
	}
	return i;
}

/* Local time to the millisecond for the table, or RFC 3339 UTC to the
 * nanosecond for JSON and CSV. */
static void fmt_time(int64_t ns, bool utc, char *buf, size_t len)
{
	time_t sec = (time_t)(ns / 1000000000LL);
	int64_t rem = ns % 1000000000LL;
	struct tm tm;
	size_t n;

	if (rem < 0) {
		rem += 1000000000LL;
		sec--;
	}
	if (utc)
		gmtime_r(&sec, &tm);
	else
		localtime_r(&sec, &tm);
	n = strftime(buf, len, utc ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
	if (utc)
		snprintf(buf + n, len - n, ".%09lldZ", (long long)rem);
	else
		snprintf(buf + n, len - n, ".%03lld", (long long)(rem / 1000000));
}

static void fmt_local(int64_t ns, char *buf, size_t len)
{
	fmt_time(ns, false, buf, len);
}

static void fmt_utc(int64_t ns, char *buf, size_t len)
{
	fmt_time(ns, true, buf, len);
}

/* "198.18.2.2:443", "[fd00::1]:443"; no port for ICMP. */
static void fmt_dest(char *buf, size_t len, const char *addr, sqlite3_stmt *st, int port_col,
		     const char *proto)
{
	bool v6 = strchr(addr, ':') != NULL;
	bool port = sqlite3_column_type(st, port_col) != SQLITE_NULL &&
		    !(proto && !strncmp(proto, "icmp", 4));

	if (!port)
		snprintf(buf, len, "%s", addr);
	else
		snprintf(buf, len, "%s%s%s:%lld", v6 ? "[" : "", addr, v6 ? "]" : "",
			 (long long)sqlite3_column_int64(st, port_col));
}

static const char *col_text(sqlite3_stmt *st, int c)
{
	return (const char *)sqlite3_column_text(st, c);
}

/* ---- the table ---- */

#define TCOLS_MAX 16
#define T_RIGHT	  1u /* numbers: right-aligned, never cut */
#define T_LTRUNC  2u /* paths: cut on the left, the file name stays */

struct tcol {
	const char *name;
	int cap;
	unsigned flags;
};

struct trow {
	char *cell[TCOLS_MAX];
	int span; /* cells from here on are one unaligned text; ncols: none */
};

struct table {
	const struct tcol *cols;
	int ncols;
	int w[TCOLS_MAX];
	bool frozen;
	struct trow *rows;
	size_t nrows;
};

static void table_print_row(struct table *t, const char *const *cell, int span)
{
	for (int i = 0; i < t->ncols; i++) {
		const char *s = cell[i] ? cell[i] : "-";
		int w = width(s), cw = t->w[i];
		bool last = i == t->ncols - 1 || i == span;

		if (i)
			fputs("  ", stdout);
		if (i == span) {
			fputs(s, stdout);
			break;
		}
		if (w > cw && !(t->cols[i].flags & T_RIGHT)) {
			if (t->cols[i].flags & T_LTRUNC)
				printf("…%s", s + cp_off(s, w - cw + 1));
			else
				printf("%.*s…", (int)cp_off(s, cw - 1), s);
			w = cw;
		} else if (t->cols[i].flags & T_RIGHT) {
			printf("%*s%s", cw > w ? cw - w : 0, "", s);
			continue;
		} else {
			fputs(s, stdout);
		}
		if (!last)
			printf("%*s", cw > w ? cw - w : 0, "");
	}
	fputc('\n', stdout);
}

/* Size the columns on the rows so far, print the header and the rows. */
static void table_flush(struct table *t)
{
	if (!t->frozen) {
		const char *hdr[TCOLS_MAX];

		for (int i = 0; i < t->ncols; i++) {
			t->w[i] = width(t->cols[i].name);
			hdr[i] = t->cols[i].name;
		}
		for (size_t r = 0; r < t->nrows; r++) {
			for (int i = 0; i < t->ncols && i < t->rows[r].span; i++) {
				const char *s = t->rows[r].cell[i] ? t->rows[r].cell[i] : "-";
				int w = width(s);

				if (w > t->w[i])
					t->w[i] = w;
			}
		}
		for (int i = 0; i < t->ncols; i++)
			if (t->cols[i].cap && t->w[i] > t->cols[i].cap)
				t->w[i] = t->cols[i].cap;
		table_print_row(t, hdr, t->ncols);
		t->frozen = true;
	}
	for (size_t r = 0; r < t->nrows; r++) {
		table_print_row(t, (const char *const *)t->rows[r].cell, t->rows[r].span);
		for (int i = 0; i < t->ncols; i++)
			free(t->rows[r].cell[i]);
	}
	free(t->rows);
	t->rows = NULL;
	t->nrows = 0;
}

/* Add a row of clean cells (NULL: "-"). */
static int table_add(struct table *t, const char *const *cell, int span)
{
	struct trow *r;

	if (t->frozen) {
		table_print_row(t, cell, span);
		return 0;
	}
	if (!t->rows) {
		t->rows = calloc(TABLE_PAGE, sizeof(*t->rows));
		if (!t->rows)
			return -ENOMEM;
	}
	r = &t->rows[t->nrows++];
	r->span = span;
	for (int i = 0; i < t->ncols; i++) {
		if (cell[i] && !(r->cell[i] = strdup(cell[i])))
			return -ENOMEM;
	}
	if (t->nrows == TABLE_PAGE)
		table_flush(t);
	return 0;
}

static void table_free(struct table *t)
{
	for (size_t r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols; i++)
			free(t->rows[r].cell[i]);
	free(t->rows);
	t->rows = NULL;
	t->nrows = 0;
}

/* ---- JSON and CSV records ---- */

struct rec {
	enum fmt fmt;
	bool header; /* CSV: print the field names instead of values */
	int n;
};

static void rec_begin(struct rec *r)
{
	r->n = 0;
	if (r->fmt == FMT_JSON && !r->header)
		fputc('{', stdout);
}

static void rec_end(struct rec *r)
{
	if (r->fmt == FMT_JSON)
		fputs(r->header ? "" : "}\n", stdout);
	else
		fputs("\r\n", stdout);
}

static void json_string(const char *s, int len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len, *run = p;

	fputc('"', stdout);
	while (p < end) {
		int n;

		/* Runs of plain characters and valid UTF-8 go out in one write. */
		if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\') {
			p++;
			continue;
		}
		n = *p >= 0x80 ? utf8_len(p) : 0;
		if (n > 1 && p + n <= end) {
			p += n;
			continue;
		}
		fwrite(run, 1, (size_t)(p - run), stdout);
		if (*p == '"' || *p == '\\') {
			fputc('\\', stdout);
			fputc(*p, stdout);
		} else if (*p == '\n') {
			fputs("\\n", stdout);
		} else if (*p == '\t') {
			fputs("\\t", stdout);
		} else {
			/* controls; invalid UTF-8: the byte as Latin-1 */
			printf("\\u%04x", *p);
		}
		run = ++p;
	}
	fwrite(run, 1, (size_t)(p - run), stdout);
	fputc('"', stdout);
}

static void csv_field(const char *s, int len)
{
	if (!memchr(s, ',', (size_t)len) && !memchr(s, '"', (size_t)len) &&
	    !memchr(s, '\n', (size_t)len) && !memchr(s, '\r', (size_t)len)) {
		fwrite(s, 1, (size_t)len, stdout);
		return;
	}
	fputc('"', stdout);
	for (int i = 0; i < len; i++) {
		if (s[i] == '"')
			fputc('"', stdout);
		fputc(s[i], stdout);
	}
	fputc('"', stdout);
}

/* Start a field: "," and the key; false if only the header is wanted. */
static bool rec_key(struct rec *r, const char *name)
{
	if (r->n++)
		fputc(',', stdout);
	if (r->header) {
		csv_field(name, (int)strlen(name));
		return false;
	}
	if (r->fmt == FMT_JSON) {
		fputc('"', stdout);
		fputs(name, stdout);
		fputs("\":", stdout);
	}
	return true;
}

static void rec_null(struct rec *r, const char *name)
{
	if (rec_key(r, name) && r->fmt == FMT_JSON)
		fputs("null", stdout);
}

static void rec_int(struct rec *r, const char *name, int64_t v)
{
	char buf[24], *p = buf + sizeof(buf);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	if (!rec_key(r, name))
		return;
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	fwrite(p, 1, (size_t)(buf + sizeof(buf) - p), stdout);
}

static void rec_str(struct rec *r, const char *name, const char *s, int len)
{
	if (!rec_key(r, name))
		return;
	if (len < 0)
		len = (int)strlen(s);
	if (r->fmt == FMT_JSON)
		json_string(s, len);
	else
		csv_field(s, len);
}

/* Already valid JSON (JSON output: as is; CSV: as text). */
static void rec_raw(struct rec *r, const char *name, const char *s)
{
	if (!rec_key(r, name))
		return;
	if (r->fmt == FMT_JSON)
		fputs(s, stdout);
	else
		csv_field(s, (int)strlen(s));
}

static void rec_time(struct rec *r, const char *name, const char *name_ns, sqlite3_stmt *st, int c)
{
	char buf[64];

	if (!r->header && sqlite3_column_type(st, c) == SQLITE_NULL) {
		rec_null(r, name);
		rec_null(r, name_ns);
		return;
	}
	fmt_utc(r->header ? 0 : sqlite3_column_int64(st, c), buf, sizeof(buf));
	rec_str(r, name, buf, -1);
	rec_int(r, name_ns, r->header ? 0 : sqlite3_column_int64(st, c));
}

/* Column c of st under its type. */
static void rec_col(struct rec *r, const char *name, sqlite3_stmt *st, int c)
{
	switch (r->header ? SQLITE_NULL : sqlite3_column_type(st, c)) {
	case SQLITE_INTEGER:
		rec_int(r, name, sqlite3_column_int64(st, c));
		break;
	case SQLITE_FLOAT:
	case SQLITE_TEXT:
		rec_str(r, name, col_text(st, c), sqlite3_column_bytes(st, c));
		break;
	case SQLITE_BLOB: {
		const uint8_t *b = sqlite3_column_blob(st, c);
		int n = sqlite3_column_bytes(st, c);
		char hx[2 * 64 + 1];

		if (n > 64)
			n = 64;
		db_hex(b, (size_t)n, hx);
		rec_str(r, name, hx, 2 * (size_t)n);
		break;
	}
	default:
		rec_null(r, name);
	}
}

/* ---- output of log rows ---- */

struct out {
	enum fmt fmt;
	struct table t;
	uint64_t rows;
};

static const struct tcol log_cols[] = {
    {"TIME", 23, 0}, {"VERDICT", 7, 0},	    {"COUNT", 0, T_RIGHT}, {"HOOK", 9, 0},
    {"PROTO", 6, 0}, {"DEST", 47, 0},	    {"DNS", 40, T_LTRUNC}, {"PID", 0, T_RIGHT},
    {"COMM", 16, 0}, {"EXE", 32, T_LTRUNC}, {"CONTAINER", 12, 0},  {"UNIT", 32, 0},
    {"RULE", 40, 0},
};
enum {
	LC_TIME,
	LC_VERDICT,
	LC_COUNT,
	LC_HOOK,
	LC_PROTO,
	LC_DEST,
	LC_DNS,
	LC_PID,
	LC_COMM,
	LC_EXE,
	LC_CONTAINER,
	LC_UNIT,
	LC_RULE,
	LC_MAX
};
_Static_assert(sizeof(log_cols) / sizeof(log_cols[0]) == LC_MAX, "log_cols");

static void log_record(struct rec *r, sqlite3_stmt *st)
{
	rec_begin(r);
	for (int c = 0; c < DB_C_MAX; c++) {
		if (c == DB_C_TS)
			rec_time(r, "ts", "ts_ns", st, c);
		else if (c == DB_C_FIRST_TS)
			rec_time(r, "first_ts", "first_ts_ns", st, c);
		else if (c == DB_C_CMDLINE && !r->header &&
			 sqlite3_column_type(st, COL_CMDLINE_JSON) == SQLITE_TEXT)
			rec_raw(r, "cmdline", col_text(st, COL_CMDLINE_JSON));
		else
			rec_col(r, log_names[c], st, c);
	}
	rec_end(r);
}

/* Text of column c, cleaned into buf; NULL if the column is NULL or empty. */
static char *cell_text(sqlite3_stmt *st, int c, char *buf, size_t len)
{
	const char *s = col_text(st, c);

	if (!s || !*s)
		return NULL;
	clean(buf, len, s);
	return buf;
}

static int log_table_row(struct out *o, sqlite3_stmt *st)
{
	char b[LC_MAX][320], raw[320];
	const char *cell[LC_MAX] = {0};
	const char *kind = col_text(st, DB_C_KIND), *verdict = col_text(st, DB_C_VERDICT);
	const char *proto = col_text(st, DB_C_PROTO), *hook = col_text(st, DB_C_HOOK);
	int span = LC_MAX;

	fmt_local(sqlite3_column_int64(st, DB_C_TS), b[LC_TIME], sizeof(b[0]));
	cell[LC_TIME] = b[LC_TIME];
	snprintf(b[LC_COUNT], sizeof(b[0]), "%lld",
		 (long long)sqlite3_column_int64(st, DB_C_COUNT));
	cell[LC_COUNT] = b[LC_COUNT];
	cell[LC_HOOK] = cell_text(st, DB_C_HOOK, b[LC_HOOK], sizeof(b[0]));
	if (kind && strcmp(kind, "attempt") != 0) {
		/* gap / note: what happened, in one unaligned text */
		bool gap = strcmp(kind, "gap") == 0;
		const char *note = col_text(st, DB_C_NOTE);

		cell[LC_VERDICT] = gap ? "LOST" : strcmp(kind, "note") == 0 ? "NOTE" : kind;
		if (!gap)
			cell[LC_COUNT] = NULL;
		snprintf(raw, sizeof(raw), "%s%s%s%s",
			 note  ? note
			 : gap ? "events lost"
			       : "",
			 gap && verdict ? " (" : "", gap && verdict ? verdict : "",
			 gap && verdict ? ")" : "");
		clean(b[LC_PROTO], sizeof(b[0]), raw);
		cell[LC_PROTO] = b[LC_PROTO];
		span = LC_PROTO;
		return table_add(&o->t, cell, span);
	}
	cell[LC_VERDICT] = cell_text(st, DB_C_VERDICT, b[LC_VERDICT], sizeof(b[0]));
	cell[LC_PROTO] = cell_text(st, DB_C_PROTO, b[LC_PROTO], sizeof(b[0]));
	if (col_text(st, DB_C_DADDR)) {
		fmt_dest(raw, sizeof(raw), col_text(st, DB_C_DADDR), st, DB_C_DPORT, proto);
		clean(b[LC_DEST], sizeof(b[0]), raw);
		cell[LC_DEST] = b[LC_DEST];
	}
	if (hook && strcmp(hook, "dns") == 0) {
		/* a query: its name and type, and what was wrong with it; a
		 * long one keeps its tail (the cell is cut on the left) */
		const char *qn = col_text(st, DB_C_QNAME), *qt = col_text(st, DB_C_QTYPE);
		const char *note = col_text(st, DB_C_NOTE);
		char q[1400];
		size_t n;

		snprintf(q, sizeof(q), "%s%s%s%s%s%s%s", qn ? (*qn ? qn : ".") : "",
			 qn && qt ? " " : "", qt ? qt : "", (qn || qt) && note ? " " : "",
			 note ? "(" : "", note ? note : "", note ? ")" : "");
		n = strlen(q);
		if (n) {
			clean(b[LC_DNS], sizeof(b[0]), n > 256 ? q + n - 256 : q);
			cell[LC_DNS] = b[LC_DNS];
		}
	} else {
		cell[LC_DNS] = cell_text(st, DB_C_QNAME, b[LC_DNS], sizeof(b[0]));
	}
	if (sqlite3_column_type(st, DB_C_TGID) != SQLITE_NULL ||
	    sqlite3_column_type(st, DB_C_PID) != SQLITE_NULL) {
		int c = sqlite3_column_type(st, DB_C_TGID) != SQLITE_NULL &&
				sqlite3_column_int64(st, DB_C_TGID)
			    ? DB_C_TGID
			    : DB_C_PID;

		snprintf(b[LC_PID], sizeof(b[0]), "%lld", (long long)sqlite3_column_int64(st, c));
		cell[LC_PID] = b[LC_PID];
	}
	cell[LC_COMM] = cell_text(st, DB_C_COMM, b[LC_COMM], sizeof(b[0]));
	cell[LC_EXE] = cell_text(st, DB_C_EXE, b[LC_EXE], sizeof(b[0]));
	if ((cell[LC_CONTAINER] = cell_text(st, DB_C_CONTAINER, b[LC_CONTAINER], sizeof(b[0]))))
		b[LC_CONTAINER][cp_off(b[LC_CONTAINER], 12)] = 0;
	cell[LC_UNIT] = cell_text(st, DB_C_UNIT, b[LC_UNIT], sizeof(b[0]));
	cell[LC_RULE] = cell_text(st, DB_C_RULE_TEXT, b[LC_RULE], sizeof(b[0]));
	return table_add(&o->t, cell, span);
}

static int out_row(struct out *o, sqlite3_stmt *st)
{
	struct rec r = {.fmt = o->fmt};

	o->rows++;
	if (o->fmt == FMT_TABLE)
		return log_table_row(o, st);
	log_record(&r, st);
	return 0;
}

static void out_begin(struct out *o, enum fmt fmt, const struct tcol *cols, int ncols)
{
	memset(o, 0, sizeof(*o));
	o->fmt = fmt;
	o->t.cols = cols;
	o->t.ncols = ncols;
}

/* ---- stdout ---- */

static volatile sig_atomic_t broken_pipe;

static void on_sigpipe(int sig)
{
	(void)sig;
	broken_pipe = 1;
}

/* 0 while stdout takes data; 1 if the reader went away (quiet stop);
 * -EIO on another write error (reported). */
static int out_check(bool flush)
{
	if ((flush && fflush(stdout) == EOF) || ferror(stdout)) {
		if (broken_pipe)
			return 1;
		log_warn("log: cannot write to standard output");
		return -EIO;
	}
	return 0;
}

/* ---- open ---- */

static int open_db(const struct opts *o, enum db_mode mode, struct db **db)
{
	char err[1024];
	int ret = db_open(o->db, mode, db, err, sizeof(err));

	if (ret) {
		log_warnx("log: %s", err);
		return ret;
	}
	return 0;
}

static int step_err(sqlite3 *h, int rc)
{
	log_warnx("log: cannot read the database: %s%s", sqlite3_errmsg(h),
		  rc == SQLITE_BUSY ? " (the database is locked: retry)" : "");
	return -EIO;
}

/* ---- hush log [filters] ---- */

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	(void)sig;
	stop_signal = 1;
}

static int64_t max_id(sqlite3 *h)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	if (sqlite3_prepare_v2(h, "SELECT max(id) FROM events", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Step st to the end, printing each row; at most `max` rows (-1: all).
 * Returns rows seen (one past max if there were more) or negative. */
static int64_t print_rows(struct out *o, sqlite3 *h, sqlite3_stmt *st, int64_t max)
{
	int64_t n = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (max >= 0 && n == max)
			return n + 1;
		if (out_row(o, st))
			return -ENOMEM;
		n++;
		if ((n & 255) == 0 && (stop_signal || ferror(stdout)))
			return n;
	}
	if (rc != SQLITE_DONE)
		return step_err(h, rc);
	return n;
}

static int follow(struct out *o, sqlite3 *h, const struct filters *f, int64_t last)
{
	struct sql q = {.len = 0};
	sqlite3_stmt *st = NULL;
	int ret;

	/* New rows are a range of ids: no other index. */
	sql_add(&q,
		LOG_COLS " FROM events e NOT INDEXED" LOG_JOINS " WHERE e.id > ? AND e.id <= ?");
	sql_int(&q, 0);
	sql_int(&q, 0);
	sql_filters(&q, f);
	sql_add(&q, " ORDER BY e.id");
	ret = sql_prepare(h, &q, &st);
	if (ret)
		return ret;
	while (!stop_signal) {
		struct timespec ts = {0, FOLLOW_POLL_MS * 1000000L};
		int64_t top, n;

		nanosleep(&ts, NULL);
		if (stop_signal)
			break;
		sqlite3_exec(h, "BEGIN", NULL, NULL, NULL);
		top = max_id(h);
		if (top < last) /* the table was emptied: ids start again */
			last = top < 0 ? last : top;
		if (top > last) {
			sqlite3_bind_int64(st, 1, last);
			sqlite3_bind_int64(st, 2, top);
			n = print_rows(o, h, st, -1);
			sqlite3_reset(st);
			if (n < 0) {
				sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
				ret = (int)n;
				break;
			}
			last = top;
		}
		sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
		if (o->fmt == FMT_TABLE)
			table_flush(&o->t);
		ret = out_check(true);
		if (ret)
			break;
	}
	sqlite3_finalize(st);
	return ret < 0 ? ret : 0;
}

static int run_query(const struct opts *o, sqlite3 *h)
{
	struct sql q = {.len = 0};
	sqlite3_stmt *st = NULL;
	struct out out;
	int64_t n, last = 0, lim = o->limit ? o->limit : -1;
	struct filters f = o->f;
	int ret;

	out_begin(&out, o->fmt, log_cols, LC_MAX);
	if (o->follow) {
		/* Ctrl-C or SIGTERM end --follow normally (exit 0). */
		struct sigaction sa = {.sa_handler = on_stop};

		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	sqlite3_exec(h, "BEGIN", NULL, NULL, NULL);
	if (o->follow)
		last = max_id(h);
	probe_broad(h, &f);
	/*
	 * Two steps when there is a limit: the ids of the newest rows first,
	 * from the index alone where it covers the filters (dkey, cgroup, ts:
	 * each index holds ts and the id), then the joins for those rows only.
	 * --follow prints them oldest first.
	 */
	sql_add(&q, LOG_SELECT " WHERE ");
	if (lim >= 0)
		sql_add(&q, "e.id IN (SELECT e.id FROM events e WHERE 1");
	else
		sql_add(&q, "1");
	if (o->follow) {
		sql_add(&q, " AND e.id <= ?");
		sql_int(&q, last);
	}
	sql_filters(&q, &f);
	if (lim >= 0) {
		sql_add(&q, " ORDER BY e.ts DESC, e.id DESC LIMIT ?)");
		/* One more than asked: tells whether the default limit cut. */
		sql_int(&q, o->follow ? lim : lim + 1);
	}
	sql_add(&q, o->follow ? " ORDER BY e.ts, e.id" : " ORDER BY e.ts DESC, e.id DESC");
	ret = sql_prepare(h, &q, &st);
	if (ret) {
		sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
		return EXIT_FAIL;
	}
	if (o->fmt == FMT_CSV) {
		struct rec r = {.fmt = FMT_CSV, .header = true};

		log_record(&r, st);
	}
	n = print_rows(&out, h, st, lim);
	sqlite3_finalize(st);
	sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
	if (n < 0) {
		table_free(&out.t);
		return EXIT_FAIL;
	}
	if (o->fmt == FMT_TABLE)
		table_flush(&out.t);
	ret = out_check(true);
	if (ret)
		return ret < 0 ? EXIT_FAIL : EXIT_OK;
	if (!o->follow && o->fmt == FMT_TABLE && !o->limit_set && lim >= 0 && n > lim)
		fprintf(stderr, "(showing the newest %lld rows; --limit 0 for all)\n",
			(long long)lim);
	if (o->follow && !stop_signal && follow(&out, h, &f, last))
		return EXIT_FAIL;
	return EXIT_OK;
}

/* ---- hush log top ---- */

/*
 * SQLite groups by sorting every row; a hash table here needs one pass over
 * the filtered rows.  First by the event's own columns (dkey/port/proto,
 * proc id and comm, cgroup id), then, for processes and cgroups, once more
 * by the name the dimension row gives (several proc rows share an exe,
 * several cgroups a container or unit).
 */
struct agg {
	uint8_t *key; /* NULL: free slot */
	size_t klen;
	int64_t attempts, rows, first, last;
	int64_t id;	    /* proc or cgroup id (first pass) */
	char *name, *name2; /* shown: daddr|exe|container|unit, proto|comm|runtime */
	int64_t port;	    /* dest: -1 for none */
};

struct aggmap {
	struct agg *v;
	size_t cap, n;
};

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static void agg_free(struct aggmap *m)
{
	for (size_t i = 0; i < m->cap; i++) {
		free(m->v[i].key);
		free(m->v[i].name);
		free(m->v[i].name2);
	}
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* The entry for key (created zeroed if new), or NULL when out of memory. */
static struct agg *agg_get(struct aggmap *m, const void *key, size_t klen, bool *fresh)
{
	size_t i;

	if (m->n * 2 >= m->cap) {
		struct aggmap nm = {.cap = m->cap ? m->cap * 2 : 1024};

		nm.v = calloc(nm.cap, sizeof(*nm.v));
		if (!nm.v)
			return NULL;
		for (size_t k = 0; k < m->cap; k++) {
			if (!m->v[k].key)
				continue;
			for (i = hash_bytes(m->v[k].key, m->v[k].klen) & (nm.cap - 1); nm.v[i].key;
			     i = (i + 1) & (nm.cap - 1))
				;
			nm.v[i] = m->v[k];
		}
		nm.n = m->n;
		free(m->v);
		*m = nm;
	}
	for (i = hash_bytes(key, klen) & (m->cap - 1); m->v[i].key; i = (i + 1) & (m->cap - 1)) {
		if (m->v[i].klen == klen && memcmp(m->v[i].key, key, klen) == 0) {
			*fresh = false;
			return &m->v[i];
		}
	}
	m->v[i].key = malloc(klen ? klen : 1);
	if (!m->v[i].key)
		return NULL;
	memcpy(m->v[i].key, key, klen);
	m->v[i].klen = klen;
	m->v[i].port = -1;
	m->n++;
	*fresh = true;
	return &m->v[i];
}

static void agg_add(struct agg *a, bool fresh, int64_t attempts, int64_t rows, int64_t first,
		    int64_t last)
{
	if (fresh || first < a->first)
		a->first = first;
	if (fresh || last > a->last)
		a->last = last;
	a->attempts += attempts;
	a->rows += rows;
}

/* Keep the smaller of two names (a stable pick among equals). */
static int set_min(char **dst, const char *s)
{
	char *d;

	if (!s || (*dst && strcmp(*dst, s) <= 0))
		return 0;
	d = strdup(s);
	if (!d)
		return -ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

/* Key bytes: a tag per value ('n' NULL, 'i' integer, 't'/'b' text/blob + bytes). */
struct keyb {
	uint8_t b[512];
	size_t n;
};

static void key_col(struct keyb *k, sqlite3_stmt *st, int c)
{
	int t = sqlite3_column_type(st, c);

	if (k->n + 1 + 8 > sizeof(k->b))
		return;
	if (t == SQLITE_INTEGER) {
		int64_t v = sqlite3_column_int64(st, c);

		k->b[k->n++] = 'i';
		memcpy(k->b + k->n, &v, 8);
		k->n += 8;
	} else if (t == SQLITE_NULL) {
		k->b[k->n++] = 'n';
	} else {
		const void *p = t == SQLITE_BLOB ? sqlite3_column_blob(st, c)
						 : (const void *)sqlite3_column_text(st, c);
		size_t len = (size_t)sqlite3_column_bytes(st, c);
		uint16_t l16;

		if (len > sizeof(k->b) - k->n - 3)
			len = sizeof(k->b) - k->n - 3;
		l16 = (uint16_t)len;
		k->b[k->n++] = t == SQLITE_BLOB ? 'b' : 't';
		memcpy(k->b + k->n, &l16, 2);
		memcpy(k->b + k->n + 2, p, len);
		k->n += 2 + len;
	}
}

/* First pass: scan the filtered events, group by the event's columns.
 * Result columns: count, first_ts, ts, then the key columns. */
static int top_scan(const struct opts *o, sqlite3 *h, const struct filters *f, struct aggmap *m)
{
	struct sql q = {.len = 0};
	sqlite3_stmt *st = NULL;
	int rc, nk, ret = 0;

	sql_add(&q, "SELECT e.count, e.first_ts, e.ts, ");
	switch (o->by) {
	case BY_DEST:
		sql_add(&q, "e.dkey, e.dport, e.proto, e.daddr");
		nk = 3;
		break;
	case BY_PROCESS:
		sql_add(&q, "e.proc, CASE WHEN e.proc IS NULL THEN e.comm END, e.comm");
		nk = 2;
		break;
	default:
		sql_add(&q, "e.cgroup");
		nk = 1;
		break;
	}
	sql_add(&q, " FROM events e WHERE 1");
	sql_filters(&q, f);
	if (sql_prepare(h, &q, &st))
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct keyb k = {.n = 0};
		struct agg *a;
		bool fresh;

		for (int c = 0; c < nk; c++)
			key_col(&k, st, 3 + c);
		a = agg_get(m, k.b, k.n, &fresh);
		if (!a) {
			ret = -ENOMEM;
			break;
		}
		agg_add(a, fresh, sqlite3_column_int64(st, 0), 1, sqlite3_column_int64(st, 1),
			sqlite3_column_int64(st, 2));
		if (o->by == BY_DEST) {
			if (fresh) {
				if (sqlite3_column_type(st, 4) != SQLITE_NULL)
					a->port = sqlite3_column_int64(st, 4);
				ret = set_min(&a->name2, col_text(st, 5));
			}
			if (!ret)
				ret = set_min(&a->name, col_text(st, 6));
		} else if (o->by == BY_PROCESS) {
			if (fresh)
				a->id = sqlite3_column_int64(st, 3);
			ret = set_min(&a->name2, col_text(st, 5));
		} else if (fresh) {
			a->id = sqlite3_column_int64(st, 3);
		}
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = step_err(h, rc);
	sqlite3_finalize(st);
	if (ret == -ENOMEM)
		log_warnx("log: top: out of memory");
	return ret;
}

/* Second pass (process, container, unit): group the first pass's groups by
 * the dimension row's name. */
static int top_names(const struct opts *o, sqlite3 *h, struct aggmap *in, struct aggmap *out)
{
	sqlite3_stmt *st = NULL;
	const char *sql = o->by == BY_PROCESS ? "SELECT exe, NULL FROM procs WHERE id = ?"
			  : o->by == BY_CONTAINER
			      ? "SELECT container, runtime FROM cgroups WHERE id = ?"
			      : "SELECT unit, NULL FROM cgroups WHERE id = ?";
	int ret = 0;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("log: cannot query the database: %s", sqlite3_errmsg(h));
		return -EIO;
	}
	for (size_t i = 0; i < in->cap && !ret; i++) {
		struct agg *g = &in->v[i], *a;
		const char *name = NULL, *name2 = NULL;
		struct keyb k = {.n = 0};
		bool fresh;

		if (!g->key)
			continue;
		sqlite3_bind_int64(st, 1, g->id);
		if (g->id && sqlite3_step(st) == SQLITE_ROW) {
			name = col_text(st, 0);
			name2 = col_text(st, 1);
		}
		/* The key: the name, or for a process without an exe its comm. */
		k.b[k.n++] = name ? 'e' : 'c';
		if (!name && o->by == BY_PROCESS)
			name2 = g->name2;
		{
			const char *ks = name ? name : name2 ? name2 : "";
			size_t len = strlen(ks);

			if (len > sizeof(k.b) - 1)
				len = sizeof(k.b) - 1;
			memcpy(k.b + 1, ks, len);
			k.n += len;
		}
		a = agg_get(out, k.b, k.n, &fresh);
		if (!a) {
			ret = -ENOMEM;
		} else {
			agg_add(a, fresh, g->attempts, g->rows, g->first, g->last);
			ret = set_min(&a->name, name);
			if (!ret)
				ret = set_min(&a->name2, o->by == BY_PROCESS ? g->name2 : name2);
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (ret == -ENOMEM)
		log_warnx("log: top: out of memory");
	return ret;
}

static int agg_cmp(const void *pa, const void *pb)
{
	const struct agg *a = *(const struct agg *const *)pa, *b = *(const struct agg *const *)pb;
	size_t n = a->klen < b->klen ? a->klen : b->klen;
	int c;

	if (a->attempts != b->attempts)
		return a->attempts > b->attempts ? -1 : 1;
	if (a->last != b->last)
		return a->last > b->last ? -1 : 1;
	c = memcmp(a->key, b->key, n);
	return c ? c : a->klen < b->klen ? -1 : a->klen > b->klen;
}

/* Table columns: the key columns of each --by, then these. */
static const struct tcol top_key_cols[][2] = {
    [BY_DEST] = {{"DEST", 47, 0}, {"PROTO", 6, 0}},
    [BY_PROCESS] = {{"PROCESS", 64, T_LTRUNC}, {"COMM", 16, 0}},
    [BY_CONTAINER] = {{"CONTAINER", 64, 0}, {"RUNTIME", 12, 0}},
    [BY_UNIT] = {{"UNIT", 64, 0}, {NULL, 0, 0}},
};
static const struct tcol top_sum_cols[] = {
    {"ATTEMPTS", 0, T_RIGHT}, {"ROWS", 0, T_RIGHT}, {"FIRST", 23, 0}, {"LAST", 23, 0}};

static void rec_opt_str(struct rec *r, const char *name, const char *s)
{
	if (s)
		rec_str(r, name, s, -1);
	else
		rec_null(r, name);
}

static void rec_ns(struct rec *r, const char *name, const char *name_ns, int64_t ns)
{
	char buf[64];

	fmt_utc(ns, buf, sizeof(buf));
	rec_str(r, name, buf, -1);
	rec_int(r, name_ns, ns);
}

static void top_record(struct rec *r, const struct opts *o, const struct agg *a)
{
	rec_begin(r);
	switch (o->by) {
	case BY_DEST:
		rec_opt_str(r, "daddr", a->name);
		if (a->port >= 0)
			rec_int(r, "dport", a->port);
		else
			rec_null(r, "dport");
		rec_opt_str(r, "proto", a->name2);
		break;
	case BY_PROCESS:
		rec_opt_str(r, "exe", a->name);
		rec_opt_str(r, "comm", a->name2);
		break;
	case BY_CONTAINER:
		rec_opt_str(r, "container", a->name);
		rec_opt_str(r, "runtime", a->name2);
		break;
	default:
		rec_opt_str(r, "unit", a->name);
		break;
	}
	rec_int(r, "attempts", a->attempts);
	rec_int(r, "rows", a->rows);
	rec_ns(r, "first_ts", "first_ts_ns", a->first);
	rec_ns(r, "last_ts", "last_ts_ns", a->last);
	rec_end(r);
}

static int top_table_row(struct table *t, const struct opts *o, const struct agg *a)
{
	char b[TCOLS_MAX][320], raw[320];
	const char *cell[TCOLS_MAX] = {0};
	int k = 0;

	if (o->by == BY_DEST && a->name) {
		bool v6 = strchr(a->name, ':') != NULL;

		if (a->port < 0 || (a->name2 && !strncmp(a->name2, "icmp", 4)))
			snprintf(raw, sizeof(raw), "%s", a->name);
		else
			snprintf(raw, sizeof(raw), "%s%s%s:%lld", v6 ? "[" : "", a->name,
				 v6 ? "]" : "", (long long)a->port);
	} else if (o->by == BY_PROCESS && !a->name && a->name2) {
		/* No exe known (the process was gone): its command name. */
		snprintf(raw, sizeof(raw), "[%s]", a->name2);
	} else {
		snprintf(raw, sizeof(raw), "%s", a->name ? a->name : "");
	}
	if (raw[0]) {
		clean(b[k], sizeof(b[k]), raw);
		cell[k] = b[k];
	}
	k++;
	if (o->by != BY_UNIT) {
		if (a->name2) {
			clean(b[k], sizeof(b[k]), a->name2);
			cell[k] = b[k];
		}
		k++;
	}
	snprintf(b[k], sizeof(b[k]), "%lld", (long long)a->attempts);
	cell[k] = b[k];
	k++;
	snprintf(b[k], sizeof(b[k]), "%lld", (long long)a->rows);
	cell[k] = b[k];
	k++;
	fmt_local(a->first, b[k], sizeof(b[k]));
	cell[k] = b[k];
	k++;
	fmt_local(a->last, b[k], sizeof(b[k]));
	cell[k] = b[k];
	k++;
	return table_add(t, cell, k);
}

static int run_top(const struct opts *o, sqlite3 *h)
{
	struct filters f = o->f;
	struct aggmap m1 = {0}, m2 = {0}, *m = &m1;
	struct tcol cols[TCOLS_MAX];
	struct table t = {.cols = cols};
	struct agg **v = NULL;
	size_t n = 0, lim = o->limit ? (size_t)o->limit : SIZE_MAX;
	int ret = EXIT_FAIL, w;

	/* Attempts are what top counts, unless --kind says otherwise. */
	if (!f.kind)
		f.kind = "attempt";
	sqlite3_exec(h, "BEGIN", NULL, NULL, NULL);
	probe_broad(h, &f);
	w = top_scan(o, h, &f, &m1);
	if (!w && o->by != BY_DEST) {
		w = top_names(o, h, &m1, &m2);
		m = &m2;
	}
	sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
	if (w)
		goto out;
	v = calloc(m->n ? m->n : 1, sizeof(*v));
	if (!v) {
		log_warnx("log: top: out of memory");
		goto out;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->v[i].key)
			v[n++] = &m->v[i];
	qsort(v, n, sizeof(*v), agg_cmp);
	for (int i = 0; i < 2 && top_key_cols[o->by][i].name; i++)
		cols[t.ncols++] = top_key_cols[o->by][i];
	for (size_t i = 0; i < sizeof(top_sum_cols) / sizeof(top_sum_cols[0]); i++)
		cols[t.ncols++] = top_sum_cols[i];
	if (o->fmt == FMT_CSV) {
		struct rec r = {.fmt = FMT_CSV, .header = true};
		struct agg z = {.port = -1};

		top_record(&r, o, &z);
	}
	for (size_t i = 0; i < n && i < lim; i++) {
		if (o->fmt == FMT_TABLE) {
			if (top_table_row(&t, o, v[i])) {
				log_warnx("log: top: out of memory");
				table_free(&t);
				goto out;
			}
		} else {
			struct rec r = {.fmt = o->fmt};

			top_record(&r, o, v[i]);
		}
	}
	if (o->fmt == FMT_TABLE)
		table_flush(&t);
	w = out_check(true);
	if (w) {
		ret = w < 0 ? EXIT_FAIL : EXIT_OK;
		goto out;
	}
	if (o->fmt == FMT_TABLE && !o->limit_set && n > lim)
		fprintf(stderr, "(showing the top %zu of %zu; --limit 0 for all)\n", lim, n);
	ret = EXIT_OK;
out:
	free(v);
	agg_free(&m1);
	agg_free(&m2);
	return ret;
}

/* ---- verify, prune ---- */

static int run_verify(const struct opts *o, struct db *db)
{
	char msg[1024] = "";
	uint64_t rows = 0;
	int ret =
	    db_verify(db, o->head_id, o->head_id ? o->head_hash : NULL, &rows, msg, sizeof(msg));

	if (ret < 0) {
		log_warnx("log: verify: %s", msg);
		return EXIT_FAIL;
	}
	if (ret == 0 && !msg[0])
		snprintf(msg, sizeof(msg), "intact, %llu rows", (unsigned long long)rows);
	printf("%s\n", msg);
	if (out_check(true) < 0)
		return EXIT_FAIL;
	return ret == 0 ? EXIT_OK : EXIT_FAIL;
}

static int run_prune(const struct opts *o, struct db *db)
{
	char err[1024] = "", when[64] = "";
	int64_t cutoff = o->has_older ? now_ns() - o->older_than : 0;
	uint64_t removed = 0;

	if (db_prune(db, cutoff, o->max_size, &removed, err, sizeof(err))) {
		log_warnx("log: prune: %s", err);
		return EXIT_FAIL;
	}
	if (o->has_older) {
		time_t t = (time_t)(cutoff / 1000000000LL);
		struct tm tm;

		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
	}
	printf("pruned %llu row%s", (unsigned long long)removed, removed == 1 ? "" : "s");
	if (o->has_older)
		printf(" older than %s", when);
	if (o->max_size)
		printf("%s beyond %lld bytes", o->has_older ? " or" : "", (long long)o->max_size);
	printf("\n");
	return out_check(true) < 0 ? EXIT_FAIL : EXIT_OK;
}

int do_log(struct cli *c, int argc, char **argv)
{
	struct opts o;
	struct db *db = NULL;
	int ret;

	(void)c;
	ret = parse_args(&o, argc, argv);
	if (ret == 1) {
		log_usage(stdout);
		return EXIT_OK;
	}
	if (ret)
		return EXIT_USAGE;
	/* A reader that goes away (hush log | head) ends the output quietly:
	 * the write fails with EPIPE and out_check() sees the flag. */
	{
		struct sigaction sa = {.sa_handler = on_sigpipe};

		sigemptyset(&sa.sa_mask);
		sigaction(SIGPIPE, &sa, NULL);
	}
	/* One thread: no locking per character written. */
	__fsetlocking(stdout, FSETLOCKING_BYCALLER);
	if (o.verb == VB_PRUNE) {
		/* Refuse to create a database that is not there. */
		if (open_db(&o, DB_RDONLY, &db))
			return EXIT_FAIL;
		db_close(db);
		db = NULL;
	}
	if (open_db(&o, o.verb == VB_PRUNE ? DB_RDWR : DB_RDONLY, &db))
		return EXIT_FAIL;
	switch (o.verb) {
	case VB_VERIFY:
		ret = run_verify(&o, db);
		break;
	case VB_PRUNE:
		ret = run_prune(&o, db);
		break;
	case VB_TOP:
		ret = run_top(&o, db_handle(db));
		break;
	default:
		ret = run_query(&o, db_handle(db));
		break;
	}
	db_close(db);
	return ret;
}
