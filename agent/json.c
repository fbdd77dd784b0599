// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The streaming JSON writer; the contract is in json.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "agent/json.h"
#include "agent/util.h"

void jsonw_init_file(struct json_writer *w, FILE *f, unsigned flags)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->flags = flags;
}

void jsonw_init_buf(struct json_writer *w, unsigned flags)
{
	memset(w, 0, sizeof(*w));
	w->flags = flags;
}

int jsonw_finish(struct json_writer *w)
{
	if (!w->err && w->depth)
		w->err = -EINVAL;
	if (!w->err && w->f && ferror(w->f))
		w->err = -EIO;
	return w->err;
}

void jsonw_free(struct json_writer *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

static void put(struct json_writer *w, const void *p, size_t n)
{
	if (w->err || !n)
		return;
	if (w->f) {
		if (fwrite(p, 1, n, w->f) != n)
			w->err = -EIO;
		return;
	}
	if (grow_array(&w->buf, &w->cap, w->len + n + 1, 1, 256) < 0) {
		w->err = -ENOMEM;
		return;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	w->buf[w->len] = 0;
}

static void puts_(struct json_writer *w, const char *s)
{
	put(w, s, strlen(s));
}

/* Before a key or a value: the comma, unless a key just went out. */
static void sep(struct json_writer *w)
{
	uint32_t bit = 1u << w->depth;

	if (w->key) {
		w->key = false;
		return;
	}
	if (w->depth && (w->nonempty & bit))
		put(w, ",", 1);
	w->nonempty |= bit;
}

/* After a complete value: the newline of a top-level one (JSON_LINES). */
static void done(struct json_writer *w)
{
	if (!w->depth && (w->flags & JSON_LINES))
		put(w, "\n", 1);
}

static void begin(struct json_writer *w, char c)
{
	sep(w);
	if (w->depth + 1 >= JSON_MAX_DEPTH) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	put(w, &c, 1);
	w->depth++;
	w->nonempty &= ~(1u << w->depth);
}

static void end(struct json_writer *w, char c)
{
	if (!w->depth || w->key) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	w->depth--;
	put(w, &c, 1);
	done(w);
}

void jsonw_obj_begin(struct json_writer *w)
{
	begin(w, '{');
}

void jsonw_obj_end(struct json_writer *w)
{
	end(w, '}');
}

void jsonw_arr_begin(struct json_writer *w)
{
	begin(w, '[');
}

void jsonw_arr_end(struct json_writer *w)
{
	end(w, ']');
}

/* Length of the valid UTF-8 sequence at s (at most n bytes there), 1 for
 * ASCII, 0 if invalid (overlong, surrogate, beyond U+10FFFF, cut short). */
static int utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	int len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if ((size_t)len > n)
		return 0;
	for (int i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* n bytes of s, quoted and escaped by the writer's policy; runs of bytes
 * that need no escape go out in one write. */
static void put_quoted(struct json_writer *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;
	bool utf8 = w->flags & JSON_UTF8;
	char esc[8];

	put(w, "\"", 1);
	while (p < end) {
		if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\') {
			p++;
			continue;
		}
		if (utf8 && *p >= 0x80) {
			int l = utf8_len(p, (size_t)(end - p));

			if (l > 1) {
				p += l;
				continue;
			}
		}
		put(w, run, (size_t)(p - run));
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put(w, esc, 2);
		} else if (utf8 && *p == '\n') {
			put(w, "\\n", 2);
		} else if (utf8 && *p == '\t') {
			put(w, "\\t", 2);
		} else {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			put(w, esc, 6);
		}
		run = ++p;
	}
	put(w, run, (size_t)(p - run));
	put(w, "\"", 1);
}

void jsonw_key(struct json_writer *w, const char *key)
{
	if (w->key || !w->depth) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	sep(w);
	put_quoted(w, key, strlen(key));
	put(w, ":", 1);
	w->key = true;
}

static void scalar(struct json_writer *w, const char *text)
{
	sep(w);
	puts_(w, text);
	done(w);
}

void jsonw_strn(struct json_writer *w, const char *s, size_t maxlen)
{
	if (!s) {
		jsonw_null(w);
		return;
	}
	sep(w);
	put_quoted(w, s, strnlen(s, maxlen));
	done(w);
}

void jsonw_str(struct json_writer *w, const char *s)
{
	jsonw_strn(w, s, SIZE_MAX);
}

void jsonw_str_or_null(struct json_writer *w, const char *s)
{
	jsonw_str(w, s && s[0] ? s : NULL);
}

void jsonw_int(struct json_writer *w, int64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRId64, v);
	scalar(w, b);
}

void jsonw_uint(struct json_writer *w, uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRIu64, v);
	scalar(w, b);
}

void jsonw_bool(struct json_writer *w, bool v)
{
	scalar(w, v ? "true" : "false");
}

void jsonw_null(struct json_writer *w)
{
	scalar(w, "null");
}

void jsonw_fmt(struct json_writer *w, const char *fmt, ...)
{
	_cleanup_free_ char *big = NULL;
	char b[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (n < 0) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	if ((size_t)n >= sizeof(b)) {
		va_start(ap, fmt);
		n = vasprintf(&big, fmt, ap);
		va_end(ap);
		if (n < 0) {
			big = NULL;
			w->err = w->err ? w->err : -ENOMEM;
			return;
		}
	}
	scalar(w, big ? big : b);
}
