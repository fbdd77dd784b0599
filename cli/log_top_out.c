// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `hush log top` output: the groups as a table, JSON or CSV records (the
 * helpers are log_output.c's).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agent/log.h"
#include "cli/log_cli.h"

/* Table columns: the key columns of each --by, then these. */
static const struct tcol top_key_cols[LOGQ_BY_MAX][3] = {
    [LOGQ_BY_DEST] = {{"DEST", 47, 0}, {"PROTO", 6, 0}},
    [LOGQ_BY_PROCESS] = {{"PROCESS", 48, T_LTRUNC}, {"COMM", 16, 0}, {"CMDLINE", 64, 0}},
    [LOGQ_BY_EXE] = {{"EXE", 64, T_LTRUNC}, {"COMM", 16, 0}},
    [LOGQ_BY_CMDLINE] = {{"CMDLINE", 80, 0}, {"COMM", 16, 0}},
    [LOGQ_BY_DNS] = {{"NAME", 64, T_LTRUNC}},
    [LOGQ_BY_COMM] = {{"COMM", 16, 0}},
    [LOGQ_BY_UID] = {{"UID", 10, T_RIGHT}},
    [LOGQ_BY_RULE] = {{"RULE", 64, 0}, {"SCOPE", 32, T_LTRUNC}},
    [LOGQ_BY_CONTAINER] = {{"CONTAINER", 64, 0}, {"RUNTIME", 12, 0}},
    [LOGQ_BY_UNIT] = {{"UNIT", 64, 0}, {NULL, 0, 0}},
    [LOGQ_BY_IMAGE] = {{"IMAGE", 64, T_LTRUNC}, {"IMAGE ID", 19, 0}},
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

	out_fmt_utc(ns, buf, sizeof(buf));
	rec_str(r, name, buf, -1);
	rec_bigint(r, name_ns, ns);
}

static void top_record(struct rec *r, const struct opts *o, const struct logq_group *a)
{
	rec_begin(r);
	switch (o->by) {
	case LOGQ_BY_DEST:
		rec_opt_str(r, "daddr", a->name);
		if (a->port >= 0)
			rec_int(r, "dport", a->port);
		else
			rec_null(r, "dport");
		rec_opt_str(r, "proto", a->name2);
		break;
	case LOGQ_BY_PROCESS:
		rec_opt_str(r, "exe", a->name);
		rec_opt_str(r, "comm", a->name2);
		rec_opt_str(r, "cmdline", a->cmdline);
		break;
	case LOGQ_BY_EXE:
		rec_opt_str(r, "exe", a->name);
		rec_opt_str(r, "comm", a->name2);
		break;
	case LOGQ_BY_CMDLINE:
		rec_opt_str(r, "cmdline", a->name);
		rec_opt_str(r, "comm", a->name2);
		break;
	case LOGQ_BY_DNS:
		rec_opt_str(r, "qname", a->name);
		break;
	case LOGQ_BY_COMM:
		rec_opt_str(r, "comm", a->name);
		break;
	case LOGQ_BY_UID:
		if (a->name)
			rec_int(r, "uid", a->id);
		else
			rec_null(r, "uid");
		break;
	case LOGQ_BY_RULE:
		rec_opt_str(r, "rule_text", a->name);
		rec_opt_str(r, "rule_scope", a->name2);
		break;
	case LOGQ_BY_CONTAINER:
		rec_opt_str(r, "container", a->name);
		rec_opt_str(r, "runtime", a->name2);
		rec_opt_str(r, "name", a->cname);
		rec_opt_str(r, "image", a->image);
		break;
	case LOGQ_BY_IMAGE:
		rec_opt_str(r, "image", a->name);
		rec_opt_str(r, "image_id", a->name2);
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

static bool by_proc(enum logq_by by)
{
	return by == LOGQ_BY_PROCESS || by == LOGQ_BY_EXE || by == LOGQ_BY_CMDLINE;
}

static int top_table_row(struct table *t, const struct opts *o, const struct logq_group *a)
{
	char b[TCOLS_MAX][320], raw[320];
	const char *cell[TCOLS_MAX] = {0};
	int k = 0;

	if (o->by == LOGQ_BY_DEST && a->name) {
		bool v6 = strchr(a->name, ':') != NULL;

		if (a->port < 0 || (a->name2 && !strncmp(a->name2, "icmp", 4)))
			snprintf(raw, sizeof(raw), "%s", a->name);
		else
			snprintf(raw, sizeof(raw), "%s%s%s:%lld", v6 ? "[" : "", a->name,
				 v6 ? "]" : "", (long long)a->port);
	} else if (by_proc(o->by) && !a->name && a->name2) {
		/* No exe known (the process was gone): its command name. */
		snprintf(raw, sizeof(raw), "[%s]", a->name2);
	} else if (o->by == LOGQ_BY_CONTAINER && a->cname) {
		/* the engine's name, then the id it stands for */
		snprintf(raw, sizeof(raw), "%s (%.12s)", a->cname, a->name ? a->name : "?");
	} else if (o->by == LOGQ_BY_DNS && !a->name) {
		snprintf(raw, sizeof(raw), "(no name)");
	} else if (o->by == LOGQ_BY_RULE && !a->name) {
		snprintf(raw, sizeof(raw), "(no rule)");
	} else {
		snprintf(raw, sizeof(raw), "%s", a->name ? a->name : "");
	}
	if (raw[0]) {
		out_clean(b[k], sizeof(b[k]), raw);
		cell[k] = b[k];
	}
	k++;
	/* The further key columns: name2, then (process) the command line. */
	for (int c = 1; c < 3 && top_key_cols[o->by][c].name; c++) {
		const char *v = c == 1 ? a->name2 : a->cmdline;

		if (v) {
			out_clean(b[k], sizeof(b[k]), v);
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
	out_fmt_local(a->first, b[k], sizeof(b[k]));
	cell[k] = b[k];
	k++;
	out_fmt_local(a->last, b[k], sizeof(b[k]));
	cell[k] = b[k];
	k++;
	return table_add(t, cell, k);
}

/* The top groups in the chosen format. */
int out_top(const struct opts *o, const struct logq_top *top)
{
	size_t lim = o->limit ? (size_t)o->limit : SIZE_MAX;
	struct tcol cols[TCOLS_MAX];
	struct table t = {.cols = cols};

	for (int i = 0; i < 3 && top_key_cols[o->by][i].name; i++)
		cols[t.ncols++] = top_key_cols[o->by][i];
	for (size_t i = 0; i < sizeof(top_sum_cols) / sizeof(top_sum_cols[0]); i++)
		cols[t.ncols++] = top_sum_cols[i];
	if (o->fmt == FMT_CSV) {
		struct rec r = {.fmt = FMT_CSV, .header = true};
		struct logq_group z = {.port = -1};

		top_record(&r, o, &z);
	}
	for (size_t i = 0; i < top->n && i < lim; i++) {
		if (o->fmt == FMT_TABLE) {
			if (top_table_row(&t, o, top->v[i])) {
				log_warnx("log: top: out of memory");
				table_free(&t);
				return -ENOMEM;
			}
		} else {
			struct rec r = {.fmt = o->fmt};

			top_record(&r, o, top->v[i]);
		}
	}
	if (o->fmt == FMT_TABLE)
		table_flush(&t);
	return 0;
}
