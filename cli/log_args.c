// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `hush log` options: the verbs, one table of options (which verbs take
 * each), and their values (times, durations, sizes, addresses, names).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/log.h"
#include "cli/log_cli.h"

#define VB_ROWS (VB_QUERY | VB_TOP)
#define VB_ALL	(VB_QUERY | VB_TOP | VB_VERIFY | VB_PRUNE)

void log_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: hush log [--db FILE] [FILTERS] [--json|--csv|--format F] [--limit N] "
	    "[--follow]\n"
	    "                [--after-id ID | --cursor FILE]\n"
	    "       hush log top --by KIND [FILTERS] [--limit N] [--json|--csv]\n"
	    "         KIND: dest, dns, process (an exe with its command line), exe, cmdline,\n"
	    "               comm, uid, container, image, unit, rule\n"
	    "       hush log verify [--head ID:HASHHEX|FILE]\n"
	    "       hush log prune --older-than DUR [--max-size SIZE]\n"
	    "\n"
	    "filters:\n"
	    "  --denied | --allowed | --audit | --verdict allow|deny|audit\n"
	    "  --since DUR|TIME     rows whose last attempt is at or after (10m, 2h, 7d, 1w,\n"
	    "                       2026-11-23, 2026-11-23T10:00[:SS[.frac]][Z|+01:00], @EPOCH)\n"
	    "  --until DUR|TIME     rows whose first attempt is at or before\n"
	    "  --pid N              process or thread id\n"
	    "  --uid N              user id\n"
	    "  --comm NAME          exact command name\n"
	    "  --cmdline GLOB       command line, arguments joined by spaces (\"curl *\")\n"
	    "  --exe PATH           exact executable, or a glob (* ? [...])\n"
	    "  --container ID|NAME  container id prefix (case-insensitive), or its name\n"
	    "                       as the engine says it (exact or glob)\n"
	    "  --image GLOB         container image (\"registry/vllm:*\") or image id glob\n"
	    "  --unit UNIT          systemd unit, exact or glob\n"
	    "  --dest CIDR          destination address or prefix (IPv4 or IPv6)\n"
	    "  --port N             destination port\n"
	    "  --dns NAME|GLOB      DNS name asked, or that led to the attempt (case-insensitive;\n"
	    "                       *.example.com: its subdomains)\n"
	    "  --hook HOOK          connect4|connect6|sendmsg4|sendmsg6|recvmsg4|recvmsg6|\n"
	    "                       egress|sock_create|dns\n"
	    "  --qtype TYPE         DNS query type of a query row (A, AAAA, TXT, TYPE65)\n"
	    "  --kind attempt|gap|note\n"
	    "\n"
	    "  --db FILE            the database (default " DB_DEFAULT_PATH ")\n"
	    "  --limit N            newest N rows (default %d, top: %d; 0: all)\n"
	    "  --follow             then print new rows as they are written (Ctrl-C ends)\n"
	    "  --after-id ID        rows after row ID, oldest first (all of them; no --limit)\n"
	    "  --cursor FILE        as --after-id, the ID kept in FILE (none: from the start);\n"
	    "                       rewritten (atomically) as rows go out: a shipper that\n"
	    "                       restarts goes on where it stopped\n"
	    "  --format F           table, json (NDJSON), csv, or syslog (RFC 5424)\n"
	    "  --facility NAME      syslog: the facility (default authpriv; local0..local7, ...)\n"
	    "  --sd-id NAME@PEN     syslog: the SD-ID (default hush@32473, the documentation PEN)\n"
	    "  --framing F          syslog: lf (a line each, default) or octet-counted (RFC 6587)\n"
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
	O_UID,
	O_PPID,
	O_HOOK,
	O_CMDLINE,
	O_COMM,
	O_EXE,
	O_CONTAINER,
	O_IMAGE,
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
	O_WIDE,
	O_AFTER,
	O_CURSOR,
	O_FORMAT,
	O_FACILITY,
	O_SDID,
	O_FRAMING,
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
    {"uid", O_UID, true, VB_ROWS},
    {"ppid", O_PPID, true, VB_ROWS},
    {"hook", O_HOOK, true, VB_ROWS},
    {"cmdline", O_CMDLINE, true, VB_ROWS},
    {"comm", O_COMM, true, VB_ROWS},
    {"exe", O_EXE, true, VB_ROWS},
    {"container", O_CONTAINER, true, VB_ROWS},
    {"image", O_IMAGE, true, VB_ROWS},
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
    {"wide", O_WIDE, false, VB_QUERY},
    {"after-id", O_AFTER, true, VB_QUERY},
    {"cursor", O_CURSOR, true, VB_QUERY},
    {"format", O_FORMAT, true, VB_ROWS},
    {"facility", O_FACILITY, true, VB_QUERY},
    {"sd-id", O_SDID, true, VB_QUERY},
    {"framing", O_FRAMING, true, VB_QUERY},
    {"by", O_BY, true, VB_TOP},
    {"head", O_HEAD, true, VB_VERIFY},
    {"older-than", O_OLDER, true, VB_PRUNE},
    {"max-size", O_MAXSIZE, true, VB_PRUNE},
};

static const char *verb_name(enum verb v)
{
	return v == VB_TOP ? "top" : v == VB_VERIFY ? "verify" : v == VB_PRUNE ? "prune" : "";
}

static int set_verdict(struct logq_filter *f, const char *v)
{
	if (f->verdict && strcmp(f->verdict, v) != 0)
		return usage_err("conflicting verdicts: %s and %s", f->verdict, v);
	f->verdict = v;
	return 0;
}

static const char *const hooks[] = {"connect4", "connect6", "sendmsg4",	   "sendmsg6", "recvmsg4",
				    "recvmsg6", "egress",   "sock_create", "dns"};

/* The value of a filter option (O_DENIED .. O_KIND). */
static int opt_filter(struct opts *o, const struct opt *op, const char *v, int64_t now)
{
	struct logq_filter *f = &o->f;
	int64_t x;

	switch (op->id) {
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
	case O_PPID:
		if (parse_int(v, 0, UINT32_MAX, &f->ppid))
			return usage_err("--ppid %s: not a process id", v);
		f->has_ppid = true;
		return 0;
	case O_UID:
		if (parse_int(v, 0, UINT32_MAX, &f->uid))
			return usage_err("--uid %s: not a user id (a number)", v);
		f->has_uid = true;
		return 0;
	case O_HOOK:
		for (size_t k = 0; k < sizeof(hooks) / sizeof(hooks[0]); k++)
			if (strcmp(v, hooks[k]) == 0) {
				f->hook = hooks[k];
				return 0;
			}
		return usage_err("--hook %s: use connect4, connect6, sendmsg4, sendmsg6, recvmsg4, "
				 "recvmsg6, egress, sock_create or dns",
				 v);
	case O_CMDLINE:
		if (!*v)
			return usage_err("--cmdline needs a value (a command line or a glob)");
		f->cmdline = v;
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
		if (logq_filter_container(f, v))
			return usage_err("--container \"%s\": give a container id (or a prefix "
					 "of it) or a name",
					 v);
		return 0;
	case O_IMAGE:
		if (!*v)
			return usage_err("--image needs a value (an image name or a glob)");
		f->image = v;
		return 0;
	case O_DEST:
		if (logq_filter_dest(f, v))
			return usage_err("--dest %s: not an address or CIDR (10.0.0.0/8, "
					 "198.18.2.2, fd00::/48)",
					 v);
		return 0;
	case O_PORT:
		if (parse_int(v, 0, 65535, &x))
			return usage_err("--port %s: not a port number (0-65535)", v);
		f->port = (int)x;
		return 0;
	case O_DNS:
		if (logq_filter_dns(f, v))
			return usage_err("--dns \"%s\": give a name (example.com) or a glob "
					 "(*.example.com)",
					 v);
		return 0;
	case O_QTYPE:
		if (logq_filter_qtype(f, v))
			return usage_err("--qtype \"%s\": give a query type (A, AAAA, TXT, TYPE65)",
					 v);
		return 0;
	case O_KIND:
		if (strcmp(v, "attempt") && strcmp(v, "gap") && strcmp(v, "note"))
			return usage_err("--kind %s: use attempt, gap or note", v);
		f->kind = v;
		return 0;
	default:
		return -EINVAL;
	}
}

#define BY_LIST "dest, dns, process, exe, cmdline, comm, uid, container, image, unit or rule"

static const struct {
	const char *name;
	enum logq_by by;
} by_names[] = {
    {"dest", LOGQ_BY_DEST},	  {"dns", LOGQ_BY_DNS},
    {"process", LOGQ_BY_PROCESS}, {"exe", LOGQ_BY_EXE},
    {"cmdline", LOGQ_BY_CMDLINE}, {"comm", LOGQ_BY_COMM},
    {"uid", LOGQ_BY_UID},	  {"container", LOGQ_BY_CONTAINER},
    {"image", LOGQ_BY_IMAGE},	  {"unit", LOGQ_BY_UNIT},
    {"rule", LOGQ_BY_RULE},
};

static const char *const fmt_names[] = {"table", "json", "csv", "syslog"};

static int set_fmt(struct opts *o, enum fmt f)
{
	if (o->fmt != FMT_TABLE && o->fmt != f)
		return usage_err("--json, --csv and --format %s exclude each other", fmt_names[f]);
	o->fmt = f;
	return 0;
}

/* The value of an option that is not a filter. */
static int opt_value(struct opts *o, const struct opt *op, const char *v, int64_t now)
{
	switch (op->id) {
	case O_DB:
		if (!*v)
			return usage_err("--db needs a file name");
		o->db = v;
		return 0;
	case O_JSON:
	case O_CSV:
		return set_fmt(o, op->id == O_JSON ? FMT_JSON : FMT_CSV);
	case O_FORMAT:
		for (size_t k = 0; k < sizeof(fmt_names) / sizeof(fmt_names[0]); k++)
			if (strcmp(v, fmt_names[k]) == 0)
				return set_fmt(o, (enum fmt)k);
		return usage_err("--format %s: use table, json, csv or syslog", v);
	case O_AFTER:
		if (parse_int(v, 0, INT64_MAX - 1, &o->after_id))
			return usage_err("--after-id %s: not a row id (0: from the first row)", v);
		o->has_after = true;
		return 0;
	case O_CURSOR:
		if (!*v)
			return usage_err("--cursor needs a file name");
		o->cursor = v;
		o->has_after = true;
		return 0;
	case O_FACILITY:
		o->so.facility = syslog_facility(v);
		if (o->so.facility < 0)
			return usage_err(
			    "--facility %s: use a syslog facility (authpriv, auth, daemon, "
			    "user, local0..local7, ...)",
			    v);
		return 0;
	case O_SDID:
		if (!syslog_sd_id_ok(v))
			return usage_err(
			    "--sd-id %s: give NAME@PEN (printable ASCII without = ] \" "
			    "or spaces, at most 32 characters; PEN: your IANA enterprise "
			    "number)",
			    v);
		o->so.sd_id = v;
		return 0;
	case O_FRAMING:
		if (strcmp(v, "lf") && strcmp(v, "octet-counted"))
			return usage_err("--framing %s: use lf or octet-counted", v);
		o->so.frame = strcmp(v, "lf") ? FRAME_OCTET : FRAME_LF;
		return 0;
	case O_LIMIT:
		if (parse_int(v, 0, INT64_MAX - 1, &o->limit))
			return usage_err("--limit %s: not a number of rows (0: all)", v);
		o->limit_set = true;
		return 0;
	case O_FOLLOW:
		o->follow = true;
		return 0;
	case O_WIDE:
		o->wide = true;
		return 0;
	case O_BY:
		for (size_t k = 0; k < sizeof(by_names) / sizeof(by_names[0]); k++)
			if (by_names[k].name && strcmp(v, by_names[k].name) == 0)
				o->by = by_names[k].by;
		if (o->by == LOGQ_BY_NONE)
			return usage_err("--by %s: use " BY_LIST, v);
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
	default:
		return opt_filter(o, op, v, now);
	}
}

/* Options that only make sense together. */
static int check_combos(struct opts *o, const struct opt *const *seen, size_t nseen)
{
	bool after = false, cursor = false;

	for (size_t k = 0; k < nseen; k++) {
		enum opt_id id = seen[k]->id;

		after |= id == O_AFTER;
		cursor |= id == O_CURSOR;
		if ((id == O_FACILITY || id == O_SDID || id == O_FRAMING) && o->fmt != FMT_SYSLOG)
			return usage_err("--%s needs --format syslog", seen[k]->name);
	}
	if (after && cursor)
		return usage_err("--after-id and --cursor exclude each other (the cursor holds "
				 "the id)");
	if (o->has_after && o->limit_set)
		return usage_err("--%s starts at a row id and hands every row after it: drop "
				 "--limit",
				 cursor ? "cursor" : "after-id");
	if (o->verb == VB_TOP && o->fmt == FMT_SYSLOG)
		return usage_err("top prints groups, not rows: use --json or --csv");
	return 0;
}

/* Returns 0, 1 for --help, or -EINVAL (message printed). */
int log_parse_args(struct opts *o, int argc, char **argv)
{
	const struct opt *seen[sizeof(optab) / sizeof(optab[0])];
	size_t nseen = 0;
	int64_t now = real_ns();

	memset(o, 0, sizeof(*o));
	o->db = DB_DEFAULT_PATH;
	o->verb = VB_QUERY;
	o->f.port = -1;
	o->so.facility = 10; /* authpriv: log_syslog.c says why */
	o->so.sd_id = "hush@32473";
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
	if (o->verb == VB_TOP && o->by == LOGQ_BY_NONE)
		return usage_err("top needs --by KIND: " BY_LIST);
	if (o->verb == VB_PRUNE && !o->has_older && !o->max_size)
		return usage_err("prune needs --older-than DUR (and optionally --max-size SIZE)");
	if (!o->limit_set)
		o->limit = o->verb == VB_TOP ? TOP_DEFAULT_LIMIT : LOG_DEFAULT_LIMIT;
	return check_combos(o, seen, nseen);
}
