// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `hush log` output: table, JSON and CSV from the same fetched row.
 *
 * JSON, CSV and syslog (log_syslog.c) share one field list, log_names (the
 * columns of the view "log", plus ts_ns and first_ts_ns), walked by
 * log_record: a column added there appears in all three with no more code,
 * and doc/log-schema.md must describe it (t_ship.sh checks).  The table sizes its
 * columns on the first page of rows (capped), then keeps them: --limit 0
 * and --follow stream.  Text from the kernel side (comm, exe, DNS names) is
 * untrusted: the table prints control characters and invalid UTF-8 as '?'.
 *
 * DNS queries hushd's proxy judged are attempt rows with hook "dns": DEST is
 * the resolver the client asked, as for any attempt, and the DNS column,
 * which names the destination of other attempts, holds the query
 * ("example.com AAAA", or the note of a malformed one).  The DNS column is
 * cut on the left, like paths: the domain and the type stay in view.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "agent/json.h"
#include "agent/log.h"
#include "cli/log_cli.h"

#define TABLE_PAGE 1000 /* rows that size the table's columns */

static const char *const log_names[DB_C_MAX] = {
    "id",	   "kind",	 "ts",	      "first_ts", "count",    "hook",
    "verdict",	   "rule_scope", "rule_text", "family",	  "proto",    "daddr",
    "dkey",	   "dport",	 "qname",     "flags",	  "pid",      "tgid",
    "uid",	   "gid",	 "comm",      "exe",	  "cmdline",  "cgid",
    "cgroup_path", "container",	 "runtime",   "unit",	  "pod",      "note",
    "hash",	   "qtype",	 "name",      "image",	  "image_id", "pod_namespace",
    "pod_name",	   "ppid",	 "ancestry",  "hostname", "host_id"};

/* ---- text helpers ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0. */
int out_utf8_len(const unsigned char *s)
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
void out_clean(char *dst, size_t dstlen, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0;

	while (*s && o + 5 < dstlen) {
		int n = out_utf8_len(s);

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

void out_fmt_local(int64_t ns, char *buf, size_t len)
{
	fmt_time(ns, false, buf, len);
}

void out_fmt_utc(int64_t ns, char *buf, size_t len)
{
	fmt_time(ns, true, buf, len);
}

/* "198.18.2.2:443", "[fd00::1]:443"; no port for ICMP. */
static void fmt_dest(char *buf, size_t len, const char *addr, const struct logq_row *row,
		     int port_col, const char *proto)
{
	bool v6 = strchr(addr, ':') != NULL;
	bool port = row->c[port_col].type != LOGQ_NULL && !(proto && !strncmp(proto, "icmp", 4));

	if (!port)
		snprintf(buf, len, "%s", addr);
	else
		snprintf(buf, len, "%s%s%s:%lld", v6 ? "[" : "", addr, v6 ? "]" : "",
			 (long long)row->c[port_col].i);
}

/* Text of column c; NULL if it is not text. */
static const char *col_text(const struct logq_row *row, int c)
{
	return row->c[c].type == LOGQ_TEXT ? row->c[c].p : NULL;
}

struct trow {
	char *cell[TCOLS_MAX];
	int span; /* cells from here on are one unaligned text; ncols: none */
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
void table_flush(struct table *t)
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
int table_add(struct table *t, const char *const *cell, int span)
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

void table_free(struct table *t)
{
	for (size_t r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols; i++)
			free(t->rows[r].cell[i]);
	free(t->rows);
	t->rows = NULL;
	t->nrows = 0;
}

/* ---- JSON and CSV records ---- */

void rec_begin(struct rec *r)
{
	r->n = 0;
	if (!r->f)
		r->f = stdout;
	if (r->fmt == FMT_JSON && !r->header) {
		jsonw_init_file(&r->w, r->f, JSON_LINES | JSON_UTF8);
		jsonw_obj_begin(&r->w);
	}
}

void rec_end(struct rec *r)
{
	if (r->fmt == FMT_JSON) {
		if (!r->header)
			jsonw_obj_end(&r->w);
	} else if (r->fmt == FMT_CSV) {
		fputs("\r\n", r->f);
	}
}

/*
 * len bytes of s as a JSON string.  The writer stops at a NUL; text from a
 * forged database may hold some, shown as \u0000: the pieces between are
 * escaped by the writer, then joined.
 */
static void json_text(struct json_writer *w, const char *s, size_t len)
{
	struct json_writer b;
	const char *end = s + len;

	if (!memchr(s, 0, len)) {
		jsonw_strn(w, s, len);
		return;
	}
	jsonw_init_buf(&b, JSON_UTF8);
	for (const char *p = s; p <= end;) {
		const char *nul = memchr(p, 0, (size_t)(end - p));
		size_t n = nul ? (size_t)(nul - p) : (size_t)(end - p);
		struct json_writer piece;

		jsonw_init_buf(&piece, JSON_UTF8);
		jsonw_strn(&piece, p, n);
		if (jsonw_finish(&piece) == 0) {
			/* without its quotes */
			jsonw_fmt(&b, "%s%.*s", p == s ? "" : "\\u0000", (int)(piece.len - 2),
				  piece.buf + 1);
		}
		jsonw_free(&piece);
		if (!nul)
			break;
		p = nul + 1;
	}
	if (jsonw_finish(&b) == 0)
		jsonw_fmt(w, "\"%s\"", b.buf ? b.buf : "");
	jsonw_free(&b);
}

static void csv_field(FILE *f, const char *s, int len)
{
	if (!memchr(s, ',', (size_t)len) && !memchr(s, '"', (size_t)len) &&
	    !memchr(s, '\n', (size_t)len) && !memchr(s, '\r', (size_t)len)) {
		fwrite(s, 1, (size_t)len, f);
		return;
	}
	fputc('"', f);
	for (int i = 0; i < len; i++) {
		if (s[i] == '"')
			fputc('"', f);
		fputc(s[i], f);
	}
	fputc('"', f);
}

/* Start a field: "," and the key (syslog: ` name="`); false if only the
 * header is wanted. */
static bool rec_key(struct rec *r, const char *name)
{
	if (r->fmt == FMT_SYSLOG) {
		fprintf(r->f, " %s=\"", name);
		return true;
	}
	if (r->n++ && r->fmt != FMT_JSON) /* the writer puts JSON's */
		fputc(',', r->f);
	if (r->header) {
		csv_field(r->f, name, (int)strlen(name));
		return false;
	}
	if (r->fmt == FMT_JSON)
		jsonw_key(&r->w, name);
	return true;
}

/* End a field's value (syslog: the closing quote). */
static void rec_close(struct rec *r)
{
	if (r->fmt == FMT_SYSLOG)
		fputc('"', r->f);
}

/* syslog leaves a NULL out: no SD-PARAM. */
void rec_null(struct rec *r, const char *name)
{
	if (r->fmt != FMT_SYSLOG && rec_key(r, name) && r->fmt == FMT_JSON)
		jsonw_null(&r->w);
}

void rec_int(struct rec *r, const char *name, int64_t v)
{
	char buf[24], *p = buf + sizeof(buf);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	if (!rec_key(r, name))
		return;
	if (r->fmt == FMT_JSON) {
		jsonw_int(&r->w, v);
		return;
	}
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	fwrite(p, 1, (size_t)(buf + sizeof(buf) - p), r->f);
	rec_close(r);
}

/* Beyond this a JSON reader that keeps numbers as doubles (jq) rounds. */
#define JSON_EXACT_MAX (1LL << 53)

void rec_bigint(struct rec *r, const char *name, int64_t v)
{
	char buf[24];

	if (r->fmt != FMT_JSON) {
		rec_int(r, name, v);
		return;
	}
	if (!rec_key(r, name))
		return;
	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	jsonw_str(&r->w, buf);
}

void rec_str(struct rec *r, const char *name, const char *s, int len)
{
	if (!rec_key(r, name))
		return;
	if (len < 0)
		len = (int)strlen(s);
	if (r->fmt == FMT_JSON)
		json_text(&r->w, s, (size_t)len);
	else if (r->fmt == FMT_SYSLOG)
		syslog_value(r->f, s, (size_t)len);
	else
		csv_field(r->f, s, len);
	rec_close(r);
}

/* Already valid JSON (JSON output: as is; CSV: as text). */
static void rec_raw(struct rec *r, const char *name, const char *s)
{
	if (!rec_key(r, name))
		return;
	if (r->fmt == FMT_JSON)
		jsonw_fmt(&r->w, "%s", s);
	else if (r->fmt == FMT_SYSLOG)
		syslog_value(r->f, s, strlen(s));
	else
		csv_field(r->f, s, (int)strlen(s));
	rec_close(r);
}

static void rec_time(struct rec *r, const char *name, const char *name_ns,
		     const struct logq_row *row, int c)
{
	char buf[64];

	if (!r->header && row->c[c].type == LOGQ_NULL) {
		rec_null(r, name);
		rec_null(r, name_ns);
		return;
	}
	out_fmt_utc(r->header ? 0 : row->c[c].i, buf, sizeof(buf));
	rec_str(r, name, buf, -1);
	rec_bigint(r, name_ns, r->header ? 0 : row->c[c].i);
}

/* Column c of row under its type. */
static void rec_col(struct rec *r, const char *name, const struct logq_row *row, int c)
{
	const struct logq_val *v = r->header ? NULL : &row->c[c];

	switch (v ? v->type : LOGQ_NULL) {
	case LOGQ_INT:
		/* exact for every reader: beyond 2^53 (never an id in practice) a string */
		if (v->i > JSON_EXACT_MAX || v->i < -JSON_EXACT_MAX)
			rec_bigint(r, name, v->i);
		else
			rec_int(r, name, v->i);
		break;
	case LOGQ_TEXT:
		rec_str(r, name, v->p, v->len);
		break;
	case LOGQ_BLOB: {
		int n = v->len > 64 ? 64 : v->len;
		char hx[2 * 64 + 1];

		db_hex(v->p, (size_t)n, hx);
		rec_str(r, name, hx, 2 * n);
		break;
	}
	default:
		rec_null(r, name);
	}
}

/* ---- output of log rows ---- */

/* The last LC_WIDE columns only with --wide. */
static const struct tcol log_cols[] = {
    {"TIME", 23, 0},	     {"VERDICT", 7, 0}, {"COUNT", 0, T_RIGHT}, {"HOOK", 9, 0},
    {"PROTO", 6, 0},	     {"DEST", 47, 0},	{"DNS", 40, T_LTRUNC}, {"PID", 0, T_RIGHT},
    {"PPID", 0, T_RIGHT},    {"COMM", 16, 0},	{"EXE", 32, T_LTRUNC}, {"CONTAINER", 32, 0},
    {"IMAGE", 32, T_LTRUNC}, {"UNIT", 32, 0},	{"RULE", 40, 0},       {"HOST", 24, 0},
    {"ANCESTRY", 0, 0},
};
#define LC_WIDE 2
enum {
	LC_TIME,
	LC_VERDICT,
	LC_COUNT,
	LC_HOOK,
	LC_PROTO,
	LC_DEST,
	LC_DNS,
	LC_PID,
	LC_PPID,
	LC_COMM,
	LC_EXE,
	LC_CONTAINER,
	LC_IMAGE,
	LC_UNIT,
	LC_RULE,
	LC_HOST,
	LC_ANCESTRY,
	LC_MAX
};
_Static_assert(sizeof(log_cols) / sizeof(log_cols[0]) == LC_MAX, "log_cols");

int out_col_index(const char *name)
{
	for (int c = 0; c < DB_C_MAX; c++)
		if (strcmp(log_names[c], name) == 0)
			return c;
	return -1;
}

/* An octet-counted syslog message is built in memory (its length goes
 * first); a line goes straight to stdout. */
static int syslog_record_out(struct rec *r)
{
	int ret = 0;

	if (r->so->frame == FRAME_LF) {
		fputc('\n', r->f);
		return 0;
	}
	if (fclose(r->f) != 0) {
		ret = -ENOMEM;
	} else {
		printf("%zu ", r->msglen);
		fwrite(r->msg, 1, r->msglen, stdout);
	}
	free(r->msg);
	r->msg = NULL;
	r->f = NULL;
	return ret;
}

static int log_record(struct rec *r, const struct logq_row *row)
{
	if (r->fmt == FMT_SYSLOG) {
		r->f = r->so->frame == FRAME_LF ? stdout : open_memstream(&r->msg, &r->msglen);
		if (!r->f)
			return -ENOMEM;
		syslog_begin(r, row);
	} else {
		rec_begin(r);
	}
	for (int c = 0; c < DB_C_MAX; c++) {
		if (c == DB_C_TS)
			rec_time(r, "ts", "ts_ns", row, c);
		else if (c == DB_C_FIRST_TS)
			rec_time(r, "first_ts", "first_ts_ns", row, c);
		else if (c == DB_C_CMDLINE && !r->header && row->cmdline_json)
			rec_raw(r, "cmdline", row->cmdline_json);
		else if (c == DB_C_ANCESTRY && !r->header && row->ancestry_json)
			rec_raw(r, "ancestry", row->ancestry_json);
		else
			rec_col(r, log_names[c], row, c);
	}
	if (r->fmt == FMT_SYSLOG) {
		syslog_end(r, row);
		return syslog_record_out(r);
	}
	rec_end(r);
	return 0;
}

/* Text of column c, cleaned into buf; NULL if the column is NULL or empty. */
static char *cell_text(const struct logq_row *row, int c, char *buf, size_t len)
{
	const char *s = col_text(row, c);

	if (!s || !*s)
		return NULL;
	out_clean(buf, len, s);
	return buf;
}

/* "/usr/bin/python3 <- /bin/sh (exited) <- /usr/bin/containerd-shim-runc-v2";
 * a process the chain lost is "?", a cut chain ends in "…". */
static char *ancestry_text(const char *json, char *buf, size_t len)
{
	struct json_object *a = json ? json_tokener_parse(json) : NULL;
	char raw[2048];
	size_t off = 0;

	raw[0] = 0;
	if (!a || !json_object_is_type(a, json_type_array)) {
		json_object_put(a);
		return NULL;
	}
	for (size_t i = 0; i < json_object_array_length(a) && off < sizeof(raw); i++) {
		struct json_object *n = json_object_array_get_idx(a, i), *v;
		const char *exe = NULL, *note = NULL;
		bool exited = false;

		if (json_object_object_get_ex(n, "exe", &v) &&
		    json_object_is_type(v, json_type_string))
			exe = json_object_get_string(v);
		if (json_object_object_get_ex(n, "note", &v) &&
		    json_object_is_type(v, json_type_string))
			note = json_object_get_string(v);
		if (json_object_object_get_ex(n, "exited", &v))
			exited = json_object_get_boolean(v);
		off += (size_t)snprintf(raw + off, sizeof(raw) - off, "%s%s%s", i ? " <- " : "",
					exe				     ? exe
					: note && !strcmp(note, "truncated") ? "…"
									     : "?",
					exited ? " (exited)" : "");
	}
	json_object_put(a);
	out_clean(buf, len, raw);
	return buf[0] ? buf : NULL;
}

static int log_table_row(struct out *o, const struct logq_row *row)
{
	char b[LC_MAX][320], raw[320], anc[1024];
	const char *cell[LC_MAX] = {0};
	const char *kind = col_text(row, DB_C_KIND), *verdict = col_text(row, DB_C_VERDICT);
	const char *proto = col_text(row, DB_C_PROTO), *hook = col_text(row, DB_C_HOOK);
	int span = LC_MAX;

	out_fmt_local(row->c[DB_C_TS].i, b[LC_TIME], sizeof(b[0]));
	cell[LC_TIME] = b[LC_TIME];
	snprintf(b[LC_COUNT], sizeof(b[0]), "%lld", (long long)row->c[DB_C_COUNT].i);
	cell[LC_COUNT] = b[LC_COUNT];
	cell[LC_HOOK] = cell_text(row, DB_C_HOOK, b[LC_HOOK], sizeof(b[0]));
	if (kind && strcmp(kind, "attempt") != 0) {
		/* gap / note: what happened, in one unaligned text */
		bool gap = strcmp(kind, "gap") == 0;
		const char *note = col_text(row, DB_C_NOTE);

		cell[LC_VERDICT] = gap ? "LOST" : strcmp(kind, "note") == 0 ? "NOTE" : kind;
		if (!gap)
			cell[LC_COUNT] = NULL;
		snprintf(raw, sizeof(raw), "%s%s%s%s",
			 note  ? note
			 : gap ? "events lost"
			       : "",
			 gap && verdict ? " (" : "", gap && verdict ? verdict : "",
			 gap && verdict ? ")" : "");
		out_clean(b[LC_PROTO], sizeof(b[0]), raw);
		cell[LC_PROTO] = b[LC_PROTO];
		span = LC_PROTO;
		return table_add(&o->t, cell, span);
	}
	cell[LC_VERDICT] = cell_text(row, DB_C_VERDICT, b[LC_VERDICT], sizeof(b[0]));
	cell[LC_PROTO] = cell_text(row, DB_C_PROTO, b[LC_PROTO], sizeof(b[0]));
	if (col_text(row, DB_C_DADDR)) {
		fmt_dest(raw, sizeof(raw), col_text(row, DB_C_DADDR), row, DB_C_DPORT, proto);
		out_clean(b[LC_DEST], sizeof(b[0]), raw);
		cell[LC_DEST] = b[LC_DEST];
	}
	if (hook && strcmp(hook, "dns") == 0) {
		/* a query: its name and type, and what was wrong with it; a
		 * long one keeps its tail (the cell is cut on the left) */
		const char *qn = col_text(row, DB_C_QNAME), *qt = col_text(row, DB_C_QTYPE);
		const char *note = col_text(row, DB_C_NOTE);
		char q[1400];
		size_t n;

		snprintf(q, sizeof(q), "%s%s%s%s%s%s%s", qn ? (*qn ? qn : ".") : "",
			 qn && qt ? " " : "", qt ? qt : "", (qn || qt) && note ? " " : "",
			 note ? "(" : "", note ? note : "", note ? ")" : "");
		n = strlen(q);
		if (n) {
			out_clean(b[LC_DNS], sizeof(b[0]), n > 256 ? q + n - 256 : q);
			cell[LC_DNS] = b[LC_DNS];
		}
	} else {
		cell[LC_DNS] = cell_text(row, DB_C_QNAME, b[LC_DNS], sizeof(b[0]));
	}
	if (row->c[DB_C_TGID].type != LOGQ_NULL || row->c[DB_C_PID].type != LOGQ_NULL) {
		int c = row->c[DB_C_TGID].type != LOGQ_NULL && row->c[DB_C_TGID].i ? DB_C_TGID
										   : DB_C_PID;

		snprintf(b[LC_PID], sizeof(b[0]), "%lld", (long long)row->c[c].i);
		cell[LC_PID] = b[LC_PID];
	}
	if (row->c[DB_C_PPID].type == LOGQ_INT) {
		snprintf(b[LC_PPID], sizeof(b[0]), "%lld", (long long)row->c[DB_C_PPID].i);
		cell[LC_PPID] = b[LC_PPID];
	}
	if (o->t.ncols == LC_MAX) {
		cell[LC_HOST] = cell_text(row, DB_C_HOSTNAME, b[LC_HOST], sizeof(b[0]));
		cell[LC_ANCESTRY] = ancestry_text(row->ancestry_json, anc, sizeof(anc));
	}
	cell[LC_COMM] = cell_text(row, DB_C_COMM, b[LC_COMM], sizeof(b[0]));
	cell[LC_EXE] = cell_text(row, DB_C_EXE, b[LC_EXE], sizeof(b[0]));
	if (col_text(row, DB_C_CNAME)) {
		/* the engine's name (pods: namespace/pod/container) */
		const char *ns = col_text(row, DB_C_POD_NS), *pn = col_text(row, DB_C_POD_NAME);

		snprintf(raw, sizeof(raw), "%s%s%s%s%s", ns ? ns : "", ns ? "/" : "", pn ? pn : "",
			 pn ? "/" : "", col_text(row, DB_C_CNAME));
		out_clean(b[LC_CONTAINER], sizeof(b[0]), raw);
		cell[LC_CONTAINER] = b[LC_CONTAINER];
	} else if ((cell[LC_CONTAINER] =
			cell_text(row, DB_C_CONTAINER, b[LC_CONTAINER], sizeof(b[0])))) {
		b[LC_CONTAINER][cp_off(b[LC_CONTAINER], 12)] = 0;
	}
	cell[LC_IMAGE] = cell_text(row, DB_C_IMAGE, b[LC_IMAGE], sizeof(b[0]));
	cell[LC_UNIT] = cell_text(row, DB_C_UNIT, b[LC_UNIT], sizeof(b[0]));
	cell[LC_RULE] = cell_text(row, DB_C_RULE_TEXT, b[LC_RULE], sizeof(b[0]));
	return table_add(&o->t, cell, span);
}

int out_row(struct out *o, const struct logq_row *row)
{
	struct rec r = {.fmt = o->fmt, .so = o->so};

	o->rows++;
	if (o->fmt == FMT_TABLE)
		return log_table_row(o, row);
	return log_record(&r, row);
}

void out_begin(struct out *o, enum fmt fmt, bool wide)
{
	memset(o, 0, sizeof(*o));
	o->fmt = fmt;
	o->t.cols = log_cols;
	o->t.ncols = wide ? LC_MAX : LC_MAX - LC_WIDE;
}

void out_header(struct out *o)
{
	struct rec r = {.fmt = FMT_CSV, .header = true};

	if (o->fmt != FMT_CSV || o->header)
		return;
	(void)log_record(&r, NULL);
	o->header = true;
}

/* ---- stdout ---- */

static volatile sig_atomic_t broken_pipe;

static void on_sigpipe(int sig)
{
	(void)sig;
	broken_pipe = 1;
}

void out_init(void)
{
	/* A reader that goes away (hush log | head) ends the output quietly:
	 * the write fails with EPIPE and out_check() sees the flag. */
	struct sigaction sa = {.sa_handler = on_sigpipe};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
	/* One thread: no locking per character written. */
	__fsetlocking(stdout, FSETLOCKING_BYCALLER);
}

int out_check(bool flush)
{
	if ((flush && fflush(stdout) == EOF) || ferror(stdout)) {
		if (broken_pipe)
			return 1;
		log_warn("log: cannot write to standard output");
		return -EIO;
	}
	return 0;
}
