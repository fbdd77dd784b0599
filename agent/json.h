/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One streaming JSON writer for every JSON hush prints (bpftool's
 * json_writer): begin/end objects and arrays, keys, values; the writer puts
 * the commas.  Output is compact, one line, to a FILE * or to a growable
 * buffer.  With JSON_LINES a newline follows each top-level value.
 *
 *	struct json_writer w;
 *
 *	jsonw_init_file(&w, stdout, JSON_LINES);
 *	jsonw_obj_begin(&w);
 *	jsonw_str_field(&w, "hook", "connect4");
 *	jsonw_uint_field(&w, "dport", 443);
 *	jsonw_obj_end(&w);          -> {"hook":"connect4","dport":443}\n
 *	ret = jsonw_finish(&w);
 *
 * Strings are escaped by one of two policies, chosen per writer:
 *   default (ASCII)  '"' and '\' with a backslash; every byte below 0x20 or
 *                    from 0x7f up as \u00XX (the byte read as Latin-1), so
 *                    the output is plain ASCII whatever the input (event
 *                    lines, status, hush test).
 *   JSON_UTF8        valid UTF-8 passes through; \n and \t short; other
 *                    controls, DEL and bytes of invalid UTF-8 as \u00XX
 *                    (hush log).
 * A NULL string is written as null.
 */
#ifndef HUSH_AGENT_JSON_H
#define HUSH_AGENT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
	JSON_LINES = 1 << 0, /* newline after each top-level value */
	JSON_UTF8 = 1 << 1,  /* string policy: UTF-8 passes (see above) */
};

#define JSON_MAX_DEPTH 32

struct json_writer {
	FILE *f;   /* output; NULL: buf */
	char *buf; /* growable output (NUL-terminated), owned */
	size_t len, cap;
	unsigned flags;
	unsigned depth;
	uint32_t nonempty; /* bit d: something written at depth d (a comma is due) */
	bool key;	   /* a key was written: the value follows without a comma */
	int err;	   /* first error: -ENOMEM, -EIO, -EINVAL (misuse) */
};

void jsonw_init_file(struct json_writer *w, FILE *f, unsigned flags);
void jsonw_init_buf(struct json_writer *w, unsigned flags);
/* 0 or the first error (a FILE's ferror() is -EIO).  Does not free buf. */
int jsonw_finish(struct json_writer *w);
/* Free buf (buffer writers). */
void jsonw_free(struct json_writer *w);

void jsonw_obj_begin(struct json_writer *w);
void jsonw_obj_end(struct json_writer *w);
void jsonw_arr_begin(struct json_writer *w);
void jsonw_arr_end(struct json_writer *w);
void jsonw_key(struct json_writer *w, const char *key);

void jsonw_str(struct json_writer *w, const char *s);
/* At most maxlen bytes of s (stops at a NUL). */
void jsonw_strn(struct json_writer *w, const char *s, size_t maxlen);
/* null for NULL and for "" */
void jsonw_str_or_null(struct json_writer *w, const char *s);
void jsonw_int(struct json_writer *w, int64_t v);
void jsonw_uint(struct json_writer *w, uint64_t v);
void jsonw_bool(struct json_writer *w, bool v);
void jsonw_null(struct json_writer *w);
/* A value printed with fmt, written as is ("%.3f", a pre-escaped string). */
void jsonw_fmt(struct json_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void jsonw_str_field(struct json_writer *w, const char *k, const char *v)
{
	jsonw_key(w, k);
	jsonw_str(w, v);
}

/* "k": "v", or "k": null for a NULL or empty v. */
static inline void jsonw_str_or_null_field(struct json_writer *w, const char *k, const char *v)
{
	jsonw_key(w, k);
	jsonw_str_or_null(w, v);
}

static inline void jsonw_int_field(struct json_writer *w, const char *k, int64_t v)
{
	jsonw_key(w, k);
	jsonw_int(w, v);
}

static inline void jsonw_uint_field(struct json_writer *w, const char *k, uint64_t v)
{
	jsonw_key(w, k);
	jsonw_uint(w, v);
}

static inline void jsonw_bool_field(struct json_writer *w, const char *k, bool v)
{
	jsonw_key(w, k);
	jsonw_bool(w, v);
}

static inline void jsonw_null_field(struct json_writer *w, const char *k)
{
	jsonw_key(w, k);
	jsonw_null(w);
}

#endif /* HUSH_AGENT_JSON_H */
