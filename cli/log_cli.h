/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the files of `hush log` share: cmd_log.c (the verbs), log_args.c
 * (options and their values), log_output.c (table, JSON and CSV).  The rows
 * come from agent/logquery.h.
 */
#ifndef HUSH_CLI_LOG_CLI_H
#define HUSH_CLI_LOG_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/db.h"
#include "agent/json.h"
#include "agent/logquery.h"
#include "agent/util.h"

#define LOG_DEFAULT_LIMIT 100
#define TOP_DEFAULT_LIMIT 20

enum verb { VB_QUERY = 1, VB_TOP = 2, VB_VERIFY = 4, VB_PRUNE = 8 };

enum fmt { FMT_TABLE, FMT_JSON, FMT_CSV, FMT_SYSLOG };

/* --format syslog (log_syslog.c): RFC 5424 lines or RFC 6587 frames. */
enum framing { FRAME_LF, FRAME_OCTET };

struct syslog_opts {
	int facility;	    /* 0..23 (default 10, authpriv) */
	const char *sd_id;  /* SD-ID of the row's element (default "hush@32473") */
	enum framing frame; /* one message a line, or "LEN SP MSG" */
};

struct opts {
	const char *db;
	enum verb verb;
	enum fmt fmt;
	int64_t limit;
	bool limit_set, follow, wide;
	bool has_after; /* --after-id or --cursor: rows after an id, oldest first */
	int64_t after_id;
	const char *cursor; /* --cursor FILE: read at start, rewritten as rows go out */
	struct syslog_opts so;
	enum logq_by by;
	uint64_t head_id;
	uint8_t head_hash[DB_HASH_LEN];
	bool has_older;
	int64_t older_than, max_size;
	struct logq_filter f;
};

/* log_args.c */
void log_usage(FILE *f);
/* Returns 0, 1 for --help, or -EINVAL (message printed). */
int log_parse_args(struct opts *o, int argc, char **argv);

/* log_output.c: helpers log_top_out.c and log_syslog.c share */
/* Length of the valid UTF-8 sequence at s (1..4), or 0. */
int out_utf8_len(const unsigned char *s);
/* Copy for a terminal: controls (C0, DEL, C1) and invalid UTF-8 become '?'. */
void out_clean(char *dst, size_t dstlen, const char *src);
/* ns as local time (table) or RFC 3339 UTC with nanoseconds (records). */
void out_fmt_local(int64_t ns, char *buf, size_t len);
void out_fmt_utc(int64_t ns, char *buf, size_t len);

/* log_output.c: one record: a JSON object on a line (JSON_UTF8 strings), or a CSV line. */
struct rec {
	enum fmt fmt;
	bool header; /* CSV: print the field names instead of values */
	int n;
	FILE *f;		      /* where the fields go (stdout; syslog: the message) */
	struct json_writer w;	      /* JSON */
	const struct syslog_opts *so; /* syslog */
	char *msg;		      /* syslog: the message being built */
	size_t msglen;
};

void rec_begin(struct rec *r);
void rec_end(struct rec *r);
void rec_null(struct rec *r, const char *name);
void rec_int(struct rec *r, const char *name, int64_t v);
/* An integer that may exceed 2^53 (ns times): JSON gets a string (exact
 * for every reader; jq's numbers are doubles), CSV the number. */
void rec_bigint(struct rec *r, const char *name, int64_t v);
/* len < 0: strlen(s). */
void rec_str(struct rec *r, const char *name, const char *s, int len);

/* log_syslog.c */
/* A facility's name (auth, authpriv, daemon, local0..local7, ...): its
 * number, or -1. */
int syslog_facility(const char *name);
/* An SD-ID for the row's element: NAME@DIGITS, printable ASCII, <= 32. */
bool syslog_sd_id_ok(const char *s);
/* The header and the start of the row's SD-ELEMENT, to r->f. */
void syslog_begin(struct rec *r, const struct logq_row *row);
/* A PARAM-VALUE's text, escaped (RFC 5424 6.3.3: " \ ]). */
void syslog_value(FILE *f, const char *s, size_t len);
/* The end of the SD-ELEMENT and the readable MSG, to r->f. */
void syslog_end(struct rec *r, const struct logq_row *row);
/* Index of the column named name in the row, or -1 (log_output.c). */
int out_col_index(const char *name);

/* log_output.c: the table */
#define TCOLS_MAX 20
#define T_RIGHT	  1u /* numbers: right-aligned, never cut */
#define T_LTRUNC  2u /* paths: cut on the left, the file name stays */

struct tcol {
	const char *name;
	int cap;
	unsigned flags;
};

struct trow;

struct table {
	const struct tcol *cols;
	int ncols;
	int w[TCOLS_MAX];
	bool frozen;
	struct trow *rows;
	size_t nrows;
};

/* Size the columns on the rows so far (once), print the header and rows. */
void table_flush(struct table *t);
void table_free(struct table *t);
/* Add a row of clean cells (NULL: "-"); 0 or -ENOMEM. */
int table_add(struct table *t, const char *const *cell, int span);

/* log_output.c: log rows, in a table or as JSON / CSV records */
struct out {
	enum fmt fmt;
	const struct syslog_opts *so;
	bool stream; /* --follow, --after-id, --cursor: each row flushed */
	struct table t;
	uint64_t rows;
	bool header; /* CSV header printed */
};

/* wide: the table gets the PPID's ancestry and HOST columns too. */
void out_begin(struct out *o, enum fmt fmt, bool wide);
/* The CSV header (once). */
void out_header(struct out *o);
/* One row; 0 or -ENOMEM. */
int out_row(struct out *o, const struct logq_row *r);
/* log_top_out.c: the groups of `hush log top`; 0 or -ENOMEM (message printed). */
int out_top(const struct opts *o, const struct logq_top *t);

/* stdout: ignore SIGPIPE (out_check sees it) and lock stdout once. */
void out_init(void);
/* 0 while stdout takes data; 1 if the reader went away (quiet stop);
 * -EIO on another write error (reported). */
int out_check(bool flush);

#endif /* HUSH_CLI_LOG_CLI_H */
