// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The shared helpers: the JSON writer byte for byte (both string policies,
 * nesting, commas, FILE and buffer output, misuse), FNV-1a against published
 * vectors and the values hush's tables always had, grow_array(), the clocks,
 * the cleanup attributes, mkdir_p(), read_file() and write_file_atomic().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TC_PREFIX "util: "
#include "tests/unit/tc.h"

#include "agent/fsutil.h"
#include "agent/json.h"
#include "agent/util.h"

/* What one string comes out as under flags. */
static char *jstr(unsigned flags, const char *s, size_t n)
{
	struct json_writer w;
	char *out;

	jsonw_init_buf(&w, flags);
	jsonw_obj_begin(&w);
	jsonw_key(&w, "k");
	jsonw_strn(&w, s, n);
	jsonw_obj_end(&w);
	if (jsonw_finish(&w))
		return NULL;
	out = w.buf;
	return out;
}

static void test_escape(void)
{
	static const struct {
		const char *name, *in;
		size_t n;
		unsigned flags;
		const char *want;
	} cases[] = {
	    {"plain", "abc", 3, 0, "{\"k\":\"abc\"}"},
	    {"quote and backslash", "a\"b\\c", 5, 0, "{\"k\":\"a\\\"b\\\\c\"}"},
	    {"controls as \\u00XX", "a\nb\tc\x01", 6, 0, "{\"k\":\"a\\u000ab\\u0009c\\u0001\"}"},
	    {"DEL and non-ASCII as Latin-1", "\x7f\xc3\xa9", 3, 0,
	     "{\"k\":\"\\u007f\\u00c3\\u00a9\"}"},
	    {"maxlen stops early", "abcdef", 3, 0, "{\"k\":\"abc\"}"},
	    {"NUL stops", "ab\0cd", 5, 0, "{\"k\":\"ab\"}"},
	    {"utf8: valid passes", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, JSON_UTF8,
	     "{\"k\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}"},
	    {"utf8: \\n \\t short, others \\u", "\n\t\r\x7f", 4, JSON_UTF8,
	     "{\"k\":\"\\n\\t\\u000d\\u007f\"}"},
	    {"utf8: invalid bytes as Latin-1", "\xff\xc3(", 3, JSON_UTF8,
	     "{\"k\":\"\\u00ff\\u00c3(\"}"},
	    {"utf8: overlong and surrogate refused", "\xc0\xaf\xed\xa0\x80", 5, JSON_UTF8,
	     "{\"k\":\"\\u00c0\\u00af\\u00ed\\u00a0\\u0080\"}"},
	    {"utf8: sequence cut by maxlen", "\xe2\x82\xac", 2, JSON_UTF8,
	     "{\"k\":\"\\u00e2\\u0082\"}"},
	};
	struct tc t;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got;

		tc_begin(&t, "json string: %s", cases[i].name);
		got = jstr(cases[i].flags, cases[i].in, cases[i].n);
		CHECK(&t, got && strcmp(got, cases[i].want) == 0, "got %s want %s",
		      got ? got : "(error)", cases[i].want);
		free(got);
		tc_end(&t);
	}
}

static void test_shapes(void)
{
	struct json_writer w;
	struct tc t;

	tc_begin(&t, "json: nesting, commas, scalars, JSON_LINES");
	jsonw_init_buf(&w, JSON_LINES);
	jsonw_obj_begin(&w);
	jsonw_int_field(&w, "i", -5);
	jsonw_uint_field(&w, "u", UINT64_MAX);
	jsonw_bool_field(&w, "t", true);
	jsonw_null_field(&w, "n");
	jsonw_key(&w, "a");
	jsonw_arr_begin(&w);
	jsonw_arr_end(&w);
	jsonw_key(&w, "b");
	jsonw_arr_begin(&w);
	jsonw_str(&w, "x");
	jsonw_str(&w, NULL);
	jsonw_str_or_null(&w, "");
	jsonw_obj_begin(&w);
	jsonw_obj_end(&w);
	jsonw_fmt(&w, "%.3f", 1.5);
	jsonw_arr_end(&w);
	jsonw_obj_end(&w);
	jsonw_arr_begin(&w);
	jsonw_uint(&w, 1);
	jsonw_arr_end(&w);
	CHECK(&t, jsonw_finish(&w) == 0, "finish %d", w.err);
	CHECK(&t,
	      w.buf && strcmp(w.buf, "{\"i\":-5,\"u\":18446744073709551615,\"t\":true,\"n\":null,"
				     "\"a\":[],\"b\":[\"x\",null,null,{},1.500]}\n[1]\n") == 0,
	      "got %s", w.buf ? w.buf : "(null)");
	jsonw_free(&w);
	tc_end(&t);

	tc_begin(&t, "json: a long formatted value");
	jsonw_init_buf(&w, 0);
	jsonw_fmt(&w, "\"%0300d\"", 7);
	CHECK(&t, jsonw_finish(&w) == 0 && w.len == 302 && w.buf[300] == '7', "len %zu", w.len);
	jsonw_free(&w);
	tc_end(&t);

	tc_begin(&t, "json: misuse is an error, not a crash");
	jsonw_init_buf(&w, 0);
	jsonw_key(&w, "top-level key");
	CHECK(&t, jsonw_finish(&w) == -EINVAL, "key at top: %d", w.err);
	jsonw_free(&w);
	jsonw_init_buf(&w, 0);
	jsonw_obj_begin(&w);
	CHECK(&t, jsonw_finish(&w) == -EINVAL, "unclosed: %d", w.err);
	jsonw_free(&w);
	jsonw_init_buf(&w, 0);
	jsonw_arr_end(&w);
	CHECK(&t, jsonw_finish(&w) == -EINVAL, "end without begin: %d", w.err);
	jsonw_free(&w);
	jsonw_init_buf(&w, 0);
	for (int i = 0; i < JSON_MAX_DEPTH + 2; i++)
		jsonw_arr_begin(&w);
	CHECK(&t, jsonw_finish(&w) == -EINVAL, "too deep: %d", w.err);
	jsonw_free(&w);
	tc_end(&t);
}

static void test_file(void)
{
	char buf[256] = "";
	struct json_writer w;
	struct tc t;
	FILE *f;

	tc_begin(&t, "json: FILE output, with and without JSON_LINES");
	f = fmemopen(buf, sizeof(buf), "w");
	CHECK(&t, f != NULL, "fmemopen");
	if (f) {
		jsonw_init_file(&w, f, JSON_LINES);
		jsonw_obj_begin(&w);
		jsonw_str_field(&w, "s", "\x01\xff");
		jsonw_obj_end(&w);
		CHECK(&t, jsonw_finish(&w) == 0, "finish %d", w.err);
		jsonw_init_file(&w, f, 0);
		jsonw_strn(&w, "q\"", 10);
		fclose(f);
		CHECK(&t, strcmp(buf, "{\"s\":\"\\u0001\\u00ff\"}\n\"q\\\"\"") == 0, "got %s", buf);
	}
	tc_end(&t);
}

static void test_fnv(void)
{
	struct tc t;

	tc_begin(&t, "fnv1a: published 32-bit vectors");
	CHECK(&t, fnv1a32(FNV32_INIT, "", 0) == 0x811c9dc5u, "empty");
	CHECK(&t, fnv1a32_str(FNV32_INIT, "a") == 0xe40c292cu, "a: %x",
	      fnv1a32_str(FNV32_INIT, "a"));
	CHECK(&t, fnv1a32_str(FNV32_INIT, "foobar") == 0xbf9cf968u, "foobar");
	CHECK(&t, fnv1a32(FNV32_INIT, "foobar", 6) == fnv1a32_str(FNV32_INIT, "foobar"),
	      "bytes == str");
	tc_end(&t);

	tc_begin(&t, "fnv1a: 64-bit, chained, from hush's basis");
	/* with the canonical basis: the published vector */
	CHECK(&t, fnv1a64_str(0xcbf29ce484222325ull, "a") == 0xaf63dc4c8601ec8cull, "a");
	CHECK(&t,
	      fnv1a64(fnv1a64(FNV64_INIT, "foo", 3), "bar", 3) == fnv1a64_str(FNV64_INIT, "foobar"),
	      "chaining");
	{
		/* the loop the copies ran */
		uint64_t h = 1469598103934665603ull;

		for (const char *s = "hush"; *s; s++)
			h = (h ^ (unsigned char)*s) * 1099511628211ull;
		CHECK(&t, fnv1a64_str(FNV64_INIT, "hush") == h, "same as the copies");
	}
	tc_end(&t);
}

struct pt {
	int x, y;
};

static void test_grow(void)
{
	struct pt *a = NULL;
	size_t cap = 0, n = 0;
	struct tc t;
	bool ok = true;

	tc_begin(&t, "grow_array: doubles from first, keeps contents");
	for (int i = 0; i < 1000; i++) {
		if (GROW(a, cap, n + 1, 64) < 0) {
			ok = false;
			break;
		}
		a[n++] = (struct pt){i, -i};
	}
	CHECK(&t, ok, "ENOMEM");
	CHECK(&t, cap == 1024, "cap %zu", cap);
	for (size_t i = 0; ok && i < n; i++)
		if (a[i].x != (int)i || a[i].y != -(int)i)
			ok = CHECK(&t, false, "element %zu", i);
	CHECK(&t, GROW(a, cap, 10, 64) == 0 && cap == 1024, "no shrink");
	CHECK(&t, GROW(a, cap, SIZE_MAX / 4, 64) == -ENOMEM && cap == 1024, "overflow refused");
	free(a);
	a = NULL;
	cap = 0;
	CHECK(&t, GROW(a, cap, 1, 0) == 0 && cap == 16, "first 0 means 16: %zu", cap);
	free(a);
	tc_end(&t);
}

static void test_clocks(void)
{
	struct tc t;
	int64_t m1, m2;

	tc_begin(&t, "clocks: monotonic, units agree");
	m1 = mono_ns();
	m2 = mono_ns();
	CHECK(&t, m1 > 0 && m2 >= m1, "mono %lld %lld", (long long)m1, (long long)m2);
	CHECK(&t, real_ns() > 1500000000LL * NSEC_PER_SEC, "realtime after 2017");
	CHECK(&t, real_ms() / 1000 - real_ns() / NSEC_PER_SEC <= 1, "real_ms");
	CHECK(&t, mono_us() >= m2 / 1000, "mono_us");
	CHECK(&t, boot_ns() >= m1, "boottime includes suspend: >= monotonic");
	CHECK(&t, now_s(CLOCK_MONOTONIC) >= (double)m2 / 1e9 - 1e-6, "now_s");
	tc_end(&t);
}

static int take_fd(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return TAKE_FD(fd);
}

static char *take_ptr(void)
{
	_cleanup_free_ char *a = strdup("kept");
	_cleanup_free_ char *b = strdup("freed at return (ASan would see a leak)");

	(void)b;
	return TAKE_PTR(a);
}

static void test_cleanup(void)
{
	struct tc t;
	char *p;
	int fd;

	tc_begin(&t, "cleanup: TAKE_PTR and TAKE_FD hand on, the rest is freed/closed");
	p = take_ptr();
	CHECK(&t, p && strcmp(p, "kept") == 0, "TAKE_PTR");
	free(p);
	fd = take_fd("/proc/self/stat");
	CHECK(&t, fd >= 0 && fcntl(fd, F_GETFD) >= 0, "TAKE_FD kept it open");
	if (fd >= 0)
		close(fd);
	{
		_cleanup_close_ int c = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);

		fd = c;
	}
	CHECK(&t, fcntl(fd, F_GETFD) < 0 && errno == EBADF, "_cleanup_close_ closed it");
	tc_end(&t);
}

static void test_fs(void)
{
	char dir[] = "/tmp/hush-test-util.XXXXXX", p[256], *buf = NULL;
	struct stat st;
	size_t len = 0;
	struct tc t;
	FILE *f;

	tc_begin(&t, "mkdir_p: parents, final mode, existing is fine");
	if (!CHECK(&t, mkdtemp(dir) != NULL, "mkdtemp")) {
		tc_end(&t);
		return;
	}
	snprintf(p, sizeof(p), "%s/a/b/c", dir);
	umask(022);
	CHECK(&t, mkdir_p(p, 0700) == 0, "mkdir_p");
	CHECK(&t, stat(p, &st) == 0 && (st.st_mode & 0777) == 0700, "mode %o", st.st_mode & 0777);
	snprintf(p, sizeof(p), "%s/a", dir);
	CHECK(&t, stat(p, &st) == 0 && (st.st_mode & 0777) == 0755, "parent mode %o",
	      st.st_mode & 0777);
	snprintf(p, sizeof(p), "%s/a/b/c", dir);
	CHECK(&t, mkdir_p(p, 0700) == 0, "again");
	CHECK(&t, mkdir_p("", 0700) == -ENAMETOOLONG, "empty");
	tc_end(&t);

	tc_begin(&t, "read_file: whole file, NUL after it, errors");
	snprintf(p, sizeof(p), "%s/f", dir);
	f = fopen(p, "w");
	if (f) {
		for (int i = 0; i < 5000; i++)
			fprintf(f, "line %d\n", i);
		fclose(f);
	}
	CHECK(&t, read_file(p, &buf, &len) == 0, "read");
	CHECK(&t,
	      buf && len == strlen(buf) && len > 30000 && strncmp(buf, "line 0\n", 7) == 0 &&
		  strcmp(buf + len - 10, "line 4999\n") == 0,
	      "contents, len %zu", len);
	free(buf);
	buf = NULL;
	snprintf(p, sizeof(p), "%s/e", dir);
	f = fopen(p, "w");
	if (f)
		fclose(f);
	CHECK(&t, read_file(p, &buf, &len) == 0 && len == 0 && buf && !buf[0], "empty file");
	free(buf);
	buf = NULL;
	snprintf(p, sizeof(p), "%s/missing", dir);
	CHECK(&t, read_file(p, &buf, &len) == -ENOENT && !buf, "missing");
	snprintf(p, sizeof(p), "%s/big", dir);
	f = fopen(p, "w");
	if (f) {
		CHECK(&t, ftruncate(fileno(f), (off_t)READ_FILE_MAX + 1) == 0, "ftruncate");
		fclose(f);
	}
	CHECK(&t, read_file(p, &buf, &len) == -EFBIG && !buf, "past READ_FILE_MAX");
	tc_end(&t);

	tc_begin(&t, "write_file_atomic: replaces whole, mode from the umask, no temporary left");
	snprintf(p, sizeof(p), "%s/w", dir);
	umask(027);
	CHECK(&t, write_file_atomic(p, "first\n", 6) == 0, "write");
	CHECK(&t, stat(p, &st) == 0 && (st.st_mode & 0777) == 0640, "mode %o", st.st_mode & 0777);
	CHECK(&t, write_file_atomic(p, "2\n", 2) == 0, "replace");
	CHECK(&t, read_file(p, &buf, &len) == 0 && len == 2 && !strcmp(buf, "2\n"), "contents");
	free(buf);
	buf = NULL;
	CHECK(&t, write_file_atomic(p, "", 0) == 0 && stat(p, &st) == 0 && st.st_size == 0,
	      "empty");
	snprintf(p, sizeof(p), "%s/w.tmp.%d", dir, (int)getpid());
	CHECK(&t, access(p, F_OK) < 0, "no %s left", p);
	snprintf(p, sizeof(p), "%s/nodir/w", dir);
	CHECK(&t, write_file_atomic(p, "x", 1) == -ENOENT, "missing directory: -ENOENT");
	umask(022);
	tc_end(&t);

	tc_begin(&t, "read_file_max: a limit of its own, \"-\" a file name, read errors");
	snprintf(p, sizeof(p), "%s/f", dir);
	CHECK(&t, read_file_max(p, 7, &buf, &len) == -EFBIG && !buf, "past the limit");
	f = fopen(p, "w");
	if (f) {
		fputs("1234567", f);
		fclose(f);
	}
	CHECK(&t, read_file_max(p, 7, &buf, &len) == 0 && len == 7 && !strcmp(buf, "1234567"),
	      "at the limit");
	free(buf);
	buf = NULL;
	CHECK(&t, read_file_max(dir, 7, &buf, &len) == -EISDIR && !buf, "a directory");
	{
		int home = open(".", O_RDONLY | O_DIRECTORY);

		snprintf(p, sizeof(p), "%s/-", dir);
		f = fopen(p, "w");
		if (f) {
			fputs("dash", f);
			fclose(f);
		}
		CHECK(&t, home >= 0 && chdir(dir) == 0, "chdir");
		CHECK(&t, read_file_max("-", 7, &buf, &len) == 0 && !strcmp(buf, "dash"),
		      "\"-\" is a file");
		free(buf);
		buf = NULL;
		CHECK(&t, home >= 0 && fchdir(home) == 0, "chdir back");
		if (home >= 0)
			close(home);
	}
	tc_end(&t);

	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	if (system(p) != 0)
		printf("util: could not remove %s\n", dir);
}

int main(void)
{
	test_escape();
	test_shapes();
	test_file();
	test_fnv();
	test_grow();
	test_clocks();
	test_cleanup();
	test_fs();
	return nfail ? 1 : 0;
}
