// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `hush log --format syslog`: each row as an RFC 5424 message.
 *
 *   <PRI>1 TIMESTAMP HOSTNAME hush PROCID MSGID [SD-ID f="v" ...] MSG
 *
 *  - PRI: facility * 8 + severity; severity from the verdict: deny 4
 *    (warning), audit 5 (notice), allow 6 (info); a gap (events lost) 3
 *    (err): the log is missing attempts; a note 5 (notice).  The facility
 *    defaults to authpriv (10): these are security and authorization
 *    events, and rows carry command lines that may hold secrets; Debian's
 *    rsyslog keeps authpriv in /var/log/auth.log, apart from the general
 *    syslog, and collectors already treat it as security.  local0..7 are
 *    site-assigned (--facility picks one where a site has a plan for them).
 *  - TIMESTAMP: the row's last attempt, UTC, microseconds (RFC 5424 allows 6
 *    fraction digits; the ns are in ts_ns).  HOSTNAME: the row's hostname
 *    column where the log has one, else this machine's name.  PROCID: the
 *    attempt's process id (tgid, else pid), or "-".  MSGID: the verdict, or
 *    the kind ("gap", "note") of a row without one.
 *  - One SD-ELEMENT holds every column that is not NULL, under its name in
 *    the JSON output (doc/log-schema.md), the value escaped per RFC 5424
 *    6.3.3 (", \ and ] get a backslash).  A control character or a byte
 *    that is not UTF-8 cannot stand in a line (or in PARAM-VALUE's UTF-8):
 *    it is written \xHH.  RFC 5424 makes a receiver keep a backslash before
 *    any other character, and a real backslash is \\, so this reads back
 *    unambiguously.
 *  - SD-ID: a private SD-ID needs an IANA Private Enterprise Number (RFC
 *    5424 7.2.2).  hush has none; the default, hush@32473, uses the number
 *    RFC 5612 reserves for documentation and examples.  --sd-id NAME@PEN
 *    sets a site's own number.
 *  - MSG: one readable sentence (no BOM: MSG-ANY), controls as '?'.
 *  - --framing octet-counted (RFC 6587 3.4.1) writes "LEN SP MSG" without a
 *    newline, for a TCP stream that must carry any byte.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/log_cli.h"

static const char *const facilities[24] = {
    "kern",   "user",	"mail",	    "daemon", "auth",	"syslog",   "lpr",     "news",
    "uucp",   "cron",	"authpriv", "ftp",    "ntp",	"security", "console", "solaris-cron",
    "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7"};

int syslog_facility(const char *name)
{
	for (int i = 0; i < 24; i++)
		if (strcmp(name, facilities[i]) == 0)
			return i;
	return -1;
}

bool syslog_sd_id_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s);

	if (!at || at == s || !at[1] || n > 32)
		return false;
	for (const char *p = s; *p; p++)
		if (*p <= 32 || *p >= 127 || *p == '=' || *p == ']' || *p == '"')
			return false;
	for (const char *p = at + 1; *p; p++)
		if ((*p < '0' || *p > '9') && *p != '.')
			return false;
	return true;
}

void syslog_value(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		const unsigned char *q = p;
		int n;

		/* a run of plain ASCII in one write */
		while (q < end && *q >= 0x20 && *q < 0x7f && *q != '"' && *q != '\\' && *q != ']')
			q++;
		if (q > p) {
			fwrite(p, 1, (size_t)(q - p), f);
			p = q;
			continue;
		}
		n = *p ? out_utf8_len(p) : 0;

		if (n > 1 && p + n > end)
			n = 0;
		if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
			fprintf(f, "\\x%02x", *p);
			p++;
			continue;
		}
		if (n == 1 && (*p == '"' || *p == '\\' || *p == ']'))
			fputc('\\', f);
		fwrite(p, 1, (size_t)n, f);
		p += n;
	}
}

static const char *text(const struct logq_row *row, int c)
{
	return c >= 0 && row->c[c].type == LOGQ_TEXT ? row->c[c].p : NULL;
}

/* printable ASCII, at most max bytes, or "-" (RFC 5424 header fields). */
static void header_field(FILE *f, const char *s, size_t max)
{
	size_t n = 0;

	for (; s && s[n] && n < max; n++)
		fputc(s[n] > 32 && s[n] < 127 ? s[n] : '_', f);
	if (!n)
		fputc('-', f);
}

static int severity(const char *kind, const char *verdict)
{
	if (kind && strcmp(kind, "gap") == 0)
		return 3;
	if (kind && strcmp(kind, "note") == 0)
		return 5;
	if (verdict && strcmp(verdict, "deny") == 0)
		return 4;
	if (verdict && strcmp(verdict, "audit") == 0)
		return 5;
	return 6;
}

void syslog_begin(struct rec *r, const struct logq_row *row)
{
	static char host[256];
	const char *kind = text(row, DB_C_KIND), *verdict = text(row, DB_C_VERDICT);
	static int host_col = -2;
	const char *h;
	int64_t us = row->c[DB_C_TS].i / 1000, rem = us % 1000000;
	time_t sec = (time_t)(us / 1000000);
	int pidc = row->c[DB_C_TGID].type == LOGQ_INT && row->c[DB_C_TGID].i ? DB_C_TGID : DB_C_PID;
	char ts[40];
	struct tm tm;

	if (host_col == -2)
		host_col = out_col_index("hostname"); /* a column some logs have */
	h = text(row, host_col);
	if (rem < 0) {
		rem += 1000000;
		sec--;
	}
	gmtime_r(&sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (!h) {
		if (!host[0] && gethostname(host, sizeof(host) - 1))
			host[0] = 0;
		h = host;
	}
	fprintf(r->f, "<%d>1 %s.%06lldZ ", r->so->facility * 8 + severity(kind, verdict), ts,
		(long long)rem);
	header_field(r->f, h, 255);
	fputs(" hush ", r->f);
	if (row->c[pidc].type == LOGQ_INT)
		fprintf(r->f, "%lld", (long long)row->c[pidc].i);
	else
		fputc('-', r->f);
	fputc(' ', r->f);
	header_field(r->f, kind && strcmp(kind, "attempt") != 0 ? kind : verdict, 32);
	fprintf(r->f, " [%s", r->so->sd_id);
}

/* The message text so far; appends stop quietly at the end. */
struct mbuf {
	char s[1400];
	size_t n;
};

static void app(struct mbuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void app(struct mbuf *m, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (m->n >= sizeof(m->s) - 1)
		return;
	va_start(ap, fmt);
	w = vsnprintf(m->s + m->n, sizeof(m->s) - m->n, fmt, ap);
	va_end(ap);
	if (w > 0)
		m->n = m->n + (size_t)w >= sizeof(m->s) ? sizeof(m->s) - 1 : m->n + (size_t)w;
}

/* The destination part of an attempt: "198.18.2.2:443 (example.com A) x3". */
static void message_dest(struct mbuf *m, const struct logq_row *row)
{
	const char *daddr = text(row, DB_C_DADDR), *qn = text(row, DB_C_QNAME);
	const char *qt = text(row, DB_C_QTYPE);

	if (daddr && row->c[DB_C_DPORT].type == LOGQ_INT)
		app(m, strchr(daddr, ':') ? " [%s]:%lld" : " %s:%lld", daddr,
		    (long long)row->c[DB_C_DPORT].i);
	else if (daddr)
		app(m, " %s", daddr);
	if (qn)
		app(m, " (%s%s%s)", qn, qt ? " " : "", qt ? qt : "");
	if (row->c[DB_C_COUNT].type == LOGQ_INT && row->c[DB_C_COUNT].i > 1)
		app(m, " x%lld", (long long)row->c[DB_C_COUNT].i);
}

/* "deny connect4 tcp 198.18.2.2:443 (example.com) pid 42 curl /usr/bin/curl
 * container web image nginx:1 unit x.service rule "deny all"". */
static void message(FILE *f, const struct logq_row *row)
{
	const char *kind = text(row, DB_C_KIND), *note = text(row, DB_C_NOTE);
	const char *cname = text(row, DB_C_CNAME), *cid = text(row, DB_C_CONTAINER);
	static const int head[] = {DB_C_VERDICT, DB_C_HOOK, DB_C_PROTO};
	static const struct {
		const char *pre;
		int c;
	} tail[] = {
	    {" ", DB_C_COMM}, {" ", DB_C_EXE}, {" image ", DB_C_IMAGE}, {" unit ", DB_C_UNIT}};
	struct mbuf m = {.n = 0};
	char clean[1400];

	m.s[0] = 0;
	if (kind && strcmp(kind, "gap") == 0) {
		app(&m, "events lost: %lld (%s)", (long long)row->c[DB_C_COUNT].i,
		    note ? note : "no reason");
	} else if (kind && strcmp(kind, "note") == 0) {
		app(&m, "note: %s", note ? note : "");
	} else {
		for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
			if (text(row, head[i]))
				app(&m, "%s%s", m.n ? " " : "", text(row, head[i]));
		message_dest(&m, row);
	}
	if (row->c[DB_C_PID].type == LOGQ_INT)
		app(&m, " pid %lld",
		    (long long)(row->c[DB_C_TGID].type == LOGQ_INT && row->c[DB_C_TGID].i
				    ? row->c[DB_C_TGID].i
				    : row->c[DB_C_PID].i));
	if (cname || cid)
		app(&m, " container %.*s", cname ? 255 : 12, cname ? cname : cid);
	for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
		if (text(row, tail[i].c))
			app(&m, "%s%s", tail[i].pre, text(row, tail[i].c));
	if (text(row, DB_C_RULE_TEXT))
		app(&m, " rule \"%s\"", text(row, DB_C_RULE_TEXT));
	out_clean(clean, sizeof(clean), m.s);
	fputs(clean, f);
}

void syslog_end(struct rec *r, const struct logq_row *row)
{
	fputs("] ", r->f);
	message(r->f, row);
}
