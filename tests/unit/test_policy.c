/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Unit tests of the policy library (rules/): parser errors (every message,
 * table-driven), normalization, golden files tests/policy/N.in -> N.ok,
 * round trips, the shipped examples, judged semantics, compiled-table
 * layout, a differential test of policy_judge() against
 * policy_compiled_judge() over random policies, and compile time at 100k
 * prefixes (printed, not asserted).
 *
 * Prints "PASS: name" or "FAIL: name: why" per case; exits 1 if any failed.
 * Files are found under $HUSH_SRC, else relative to the current directory.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/util.h"
#include "agent/fsutil.h"
#include "rules/policy.h"
#include "tests/unit/tc.h"

/* ---- helpers ---- */

static char *join_errs(const struct policy_errors *e)
{
	size_t i, len = 1;
	char *s;

	for (i = 0; i < e->n; i++)
		len += strlen(e->msg[i]) + 1;
	s = calloc(1, len);
	if (!s)
		abort();
	for (i = 0; i < e->n; i++) {
		if (i)
			strcat(s, "\n");
		strcat(s, e->msg[i]);
	}
	return s;
}

static struct policy *parse_ok(struct tc *t, const char *text)
{
	struct policy_errors e = {0};
	struct policy *p = NULL;
	int r = policy_parse("t.policy", text, strlen(text), &p, &e);

	if (r) {
		char *j = join_errs(&e);

		CHECK(t, false, "parse failed (%d): %s", r, j);
		free(j);
	}
	policy_errors_free(&e);
	return p;
}

static struct policy_compiled *compile_ok(struct tc *t, const struct policy *p)
{
	struct policy_errors e = {0};
	struct policy_compiled *c = NULL;
	int r = policy_compile(p, &c, &e);

	if (r) {
		char *j = join_errs(&e);

		CHECK(t, false, "compile failed (%d): %s", r, j);
		free(j);
	}
	policy_errors_free(&e);
	return c;
}

static char *read_all(const char *path, size_t *len)
{
	char *buf;
	size_t n;

	if (read_file(path, &buf, &n))
		return NULL;
	if (len)
		*len = n;
	return buf;
}

static const char *src_dir(void)
{
	const char *s = getenv("HUSH_SRC");
	static char buf[4096];

	if (s && *s) {
		snprintf(buf, sizeof(buf), "%s/tests/policy", s);
		if (!access(buf, R_OK))
			return s;
	}
	return ".";
}

static int cmp_str(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t lx = strlen(x), ly = strlen(y);

	/* numeric names sort numerically: 2.in before 10.in */
	if (lx != ly && strspn(x, "0123456789") && strspn(y, "0123456789"))
		return lx < ly ? -1 : 1;
	return strcmp(x, y);
}

/* Sorted names in dir ending in suffix; returns count, *names malloc'd. */
static size_t list_dir(const char *dir, const char *suffix, char ***names)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0, sl = strlen(suffix);
	char **v = NULL;

	*names = NULL;
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l <= sl || strcmp(de->d_name + l - sl, suffix))
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		if (!v)
			abort();
		v[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*names = v;
	return n;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* print(parse(print(p))) == print(p); returns the first print. */
static char *round_trip(struct tc *t, const struct policy *p)
{
	struct policy_errors e = {0};
	struct policy *q = NULL;
	char *s1 = policy_to_string(p), *s2 = NULL;
	int r;

	if (!CHECK(t, s1 != NULL, "policy_to_string failed"))
		return NULL;
	r = policy_parse("printed", s1, strlen(s1), &q, &e);
	if (r) {
		char *j = join_errs(&e);

		CHECK(t, false, "re-parse of printed policy failed: %s", j);
		free(j);
	} else {
		s2 = policy_to_string(q);
		CHECK(t, s2 && !strcmp(s1, s2), "round trip differs:\n%s\n---\n%s", s1,
		      s2 ? s2 : "(null)");
	}
	free(s2);
	policy_free(q);
	policy_errors_free(&e);
	return s1;
}

/* ---- parse errors: input -> every message ---- */

struct err_case {
	const char *name;
	const char *in;
	const char *out; /* messages joined with '\n' */
};

static const struct err_case err_cases[] = {
    {"unknown statement", "frobnicate 1\n",
     "t.policy:1:1: unknown statement \"frobnicate\" (allow, deny, inbound, mode, resolver or "
     "scope)"},
    {"statement typo", "  alow 10.0.0.1\n",
     "t.policy:1:3: unknown statement \"alow\" (did you mean allow?)"},
    {"statement case", "Deny 10.0.0.1\n",
     "t.policy:1:1: unknown statement \"Deny\" (did you mean deny?)"},
    {"statement transposed", "resolevr 10.0.0.1\n",
     "t.policy:1:1: unknown statement \"resolevr\" (did you mean resolver?)"},
    {"allow alone", "allow\n", "t.policy:1:6: allow needs an address, any, dns or host"},
    {"deny alone", "deny   # nothing\n", "t.policy:1:5: deny needs an address or any"},
    {"invalid address", "allow 10.0.0.256\n", "t.policy:1:7: invalid address \"10.0.0.256\""},
    {"short v4 address", "allow 10.1\n", "t.policy:1:7: invalid address \"10.1\""},
    {"leading zero v4", "allow 10.01.0.0/16\n", "t.policy:1:7: invalid address \"10.01.0.0/16\""},
    {"v6 zone id", "allow fe80::1%eth0\n", "t.policy:1:7: invalid address \"fe80::1%eth0\""},
    {"name as address", "allow example.com tcp 443\n",
     "t.policy:1:7: invalid address \"example.com\" (for a DNS name write: allow host "
     "example.com)"},
    {"keyword typo as address", "allow hots x.y\n",
     "t.policy:1:7: invalid address \"hots\" (did you mean host?)"},
    {"host bits v4", "allow 10.0.0.1/8\n",
     "t.policy:1:7: 10.0.0.1/8: host bits set; did you mean 10.0.0.0/8?"},
    {"host bits v6", "deny fd00:10::1/48 tcp\n",
     "t.policy:1:6: fd00:10::1/48: host bits set; did you mean fd00:10::/48?"},
    {"host bits mapped", "allow ::ffff:10.1.0.0/104\n",
     "t.policy:1:7: ::ffff:10.1.0.0/104: host bits set; did you mean ::ffff:a00:0/104?"},
    {"prefix too long v4", "allow 10.0.0.0/33\n",
     "t.policy:1:7: prefix length 33 out of range (0-32)"},
    {"prefix too long v6", "allow fd00::/129\n",
     "t.policy:1:7: prefix length 129 out of range (0-128)"},
    {"prefix huge", "allow fd00::/12345678901234\n",
     "t.policy:1:7: prefix length 12345678901234 out of range (0-128)"},
    {"prefix not a number", "allow 10.0.0.0/x\n",
     "t.policy:1:7: invalid prefix length in \"10.0.0.0/x\""},
    {"prefix empty", "allow 10.0.0.0/\n", "t.policy:1:7: invalid prefix length in \"10.0.0.0/\""},
    {"prefix signed", "allow 10.0.0.0/+8\n",
     "t.policy:1:7: invalid prefix length in \"10.0.0.0/+8\""},
    {"unspecified v4", "allow 0.0.0.0\n",
     "t.policy:1:7: 0.0.0.0 is never a destination (connecting to it reaches 127.0.0.1); "
     "write 127.0.0.1, or any for every address"},
    {"unspecified v6", "deny ::/128\n",
     "t.policy:1:6: :: is never a destination (connecting to it reaches ::1); write ::1, or "
     "any for every address"},
    {"unknown proto", "allow 10.0.0.0/8 tpc 443\n",
     "t.policy:1:18: unknown proto \"tpc\" (tcp, udp or any)"},
    {"proto upper case", "allow 10.0.0.0/8 TCP\n",
     "t.policy:1:18: unknown proto \"TCP\" (tcp, udp or any)"},
    {"proto icmp", "allow 10.0.0.0/8 icmp\n",
     "t.policy:1:18: unknown proto \"icmp\" (tcp, udp or any)"},
    {"ports without proto", "allow 10.0.0.0/8 443\n",
     "t.policy:1:18: ports need a protocol: write tcp 443"},
    {"port list without proto", "allow 10.0.0.0/8 80,443\n",
     "t.policy:1:18: ports need a protocol: write tcp 80,443"},
    {"port out of range", "allow 10.0.0.0/8 tcp 80,65536\n",
     "t.policy:1:25: port 65536 out of range (0-65535)"},
    {"port range hi out of range", "allow 10.0.0.0/8 udp 1-99999\n",
     "t.policy:1:24: port 99999 out of range (0-65535)"},
    {"port huge", "allow 10.0.0.0/8 udp 123456789012345678901234567890\n",
     "t.policy:1:22: port 1234567890123456 out of range (0-65535)"},
    {"port range reversed", "allow 10.0.0.0/8 tcp 8100-8000\n",
     "t.policy:1:22: port range 8100-8000 is reversed (write 8000-8100)"},
    {"port not a number", "allow 10.0.0.0/8 tcp http\n",
     "t.policy:1:22: invalid port \"http\" (a number 0-65535 or a range LO-HI)"},
    {"port negative", "allow 10.0.0.0/8 tcp -5\n",
     "t.policy:1:22: invalid port \"-5\" (a number 0-65535 or a range LO-HI)"},
    {"port open range", "allow 10.0.0.0/8 tcp 1000-\n",
     "t.policy:1:22: invalid port \"1000-\" (a number 0-65535 or a range LO-HI)"},
    {"port list with spaces", "allow 10.0.0.0/8 tcp 80, 443\n",
     "t.policy:1:25: empty item in port list \"80,\" (write lists without spaces: 80,443)"},
    {"port list double comma", "allow 10.0.0.0/8 tcp 80,,443\n",
     "t.policy:1:25: empty item in port list \"80,,443\" (write lists without spaces: "
     "80,443)"},
    {"port list leading comma", "allow 10.0.0.0/8 tcp ,443\n",
     "t.policy:1:22: empty item in port list \",443\" (write lists without spaces: 80,443)"},
    {"trailing token", "allow 10.0.0.0/8 tcp 443 always\n", "t.policy:1:26: unexpected \"always\""},
    {"too many tokens", "allow 1.2.3.4 tcp 1 a b c d e f\n", "t.policy:1:21: unexpected \"a\""},
    {"dns without name", "allow dns\n", "t.policy:1:7: allow dns needs a name (NAME or *.SUFFIX)"},
    {"dns two names", "allow dns a.example b.example\n",
     "t.policy:1:21: unexpected \"b.example\" (allow dns takes one name)"},
    {"dns with proto", "allow dns a.example tcp 53\n",
     "t.policy:1:21: unexpected \"tcp\" (allow dns takes one name)"},
    {"deny dns", "deny dns x.example\n",
     "t.policy:1:1: deny dns is not supported: names are refused unless an allow dns rule "
     "names them"},
    {"deny host", "deny host x.example\n",
     "t.policy:1:1: deny host is not supported: deny the host's addresses instead (deny "
     "ADDR)"},
    {"dns empty label", "allow dns a..example\n",
     "t.policy:1:11: invalid DNS name \"a..example\": empty label"},
    {"dns leading dot", "allow dns .example\n",
     "t.policy:1:11: invalid DNS name \".example\": empty label"},
    {"dns only dot", "allow dns .\n", "t.policy:1:11: invalid DNS name \".\": empty"},
    {"dns two trailing dots", "allow dns a.example..\n",
     "t.policy:1:11: invalid DNS name \"a.example..\": empty label"},
    {"dns bad char", "allow dns a!b.example\n",
     "t.policy:1:11: invalid DNS name \"a!b.example\": character '!' not allowed (letters, "
     "digits, - and _)"},
    {"dns non-ascii",
     "allow dns b\xc3\xbc"
     "cher.example\n",
     "t.policy:1:11: invalid DNS name \"b\\xc3\\xbccher.example\": not ASCII (write the "
     "xn-- form)"},
    {"dns star alone", "allow dns *\n",
     "t.policy:1:11: invalid DNS name \"*\": a wildcard needs a suffix (*.example.com)"},
    {"dns star dot", "allow dns *.\n",
     "t.policy:1:11: invalid DNS name \"*.\": a wildcard needs a suffix (*.example.com)"},
    {"dns star inside", "allow dns a.*.example\n",
     "t.policy:1:11: invalid DNS name \"a.*.example\": * only as the whole first label "
     "(*.example.com)"},
    {"dns star partial", "allow dns *foo.example\n",
     "t.policy:1:11: invalid DNS name \"*foo.example\": * only as the whole first label "
     "(*.example.com)"},
    {"dns double star", "allow dns *.*.example\n",
     "t.policy:1:11: invalid DNS name \"*.*.example\": * only as the whole first label "
     "(*.example.com)"},
    {"dns label too long",
     "allow dns "
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example\n",
     "t.policy:1:11: invalid DNS name "
     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\": label longer "
     "than 63 characters"},
    {"dns name too long",
     "allow dns "
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
     "t.policy:1:11: invalid DNS name "
     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa....\": longer than 253 "
     "characters"},
    {"dns name of 253 ok",
     "allow dns "
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n",
     ""},
    {"host without name", "allow host\n", "t.policy:1:7: allow host needs a name"},
    {"host wildcard", "allow host *.example tcp 443\n",
     "t.policy:1:12: allow host takes one exact name, not a wildcard (for *.SUFFIX use "
     "allow dns)"},
    {"host bad name", "allow host exa_mple!.com\n",
     "t.policy:1:12: invalid DNS name \"exa_mple!.com\": character '!' not allowed "
     "(letters, digits, - and _)"},
    {"host bad proto", "allow host a.example tls 443\n",
     "t.policy:1:22: unknown proto \"tls\" (tcp, udp or any)"},
    {"host ports without proto", "allow host a.example 443\n",
     "t.policy:1:22: ports need a protocol: write tcp 443"},
    {"mode alone", "mode\n", "t.policy:1:5: mode needs enforce or audit"},
    {"mode unknown", "mode enforcing\n",
     "t.policy:1:6: unknown mode \"enforcing\" (enforce or audit)"},
    {"mode extra", "mode audit now\n", "t.policy:1:12: unexpected \"now\""},
    {"mode twice", "mode audit\n\nmode enforce\n", "t.policy:3:1: mode already set at line 1"},
    {"mode twice in scope", "mode audit\nscope a {\n mode audit\n mode audit\n}\n",
     "t.policy:4:2: mode already set at line 3"},
    {"inbound alone", "inbound\n", "t.policy:1:8: inbound needs allow or deny"},
    {"inbound unknown", "inbound reject\n",
     "t.policy:1:9: unknown inbound \"reject\" (allow or deny)"},
    {"inbound extra", "inbound deny all\n", "t.policy:1:14: unexpected \"all\""},
    {"inbound twice", "inbound deny\ninbound allow\n",
     "t.policy:2:1: inbound already set in this policy"},
    {"inbound twice in scope", "scope a {\n inbound deny\n inbound deny\n}\n",
     "t.policy:3:2: inbound already set in this scope"},
    {"inbound misspelt", "inbond deny\n",
     "t.policy:1:1: unknown statement \"inbond\" (did you mean inbound?)"},
    {"resolver alone", "resolver\n", "t.policy:1:9: resolver needs an address"},
    {"resolver twice", "resolver 10.0.0.53\nresolver 10.0.0.54\n",
     "t.policy:2:1: resolver already set at line 1"},
    {"resolver in scope", "scope a {\n  resolver 10.0.0.53\n}\n",
     "t.policy:2:3: resolver is only allowed at the top level"},
    {"resolver prefix", "resolver 10.0.0.0/8\n",
     "t.policy:1:10: invalid resolver \"10.0.0.0/8\" (ADDR, ADDR:PORT, V6ADDR or "
     "[V6ADDR]:PORT)"},
    {"resolver name", "resolver dns.example\n",
     "t.policy:1:10: invalid resolver \"dns.example\" (ADDR, ADDR:PORT, V6ADDR or "
     "[V6ADDR]:PORT)"},
    {"resolver v6 with port unbracketed", "resolver fd00::53:53\n", ""},
    {"resolver bracket unclosed", "resolver [fd00::53:53\n",
     "t.policy:1:10: invalid resolver \"[fd00::53:53\" (ADDR, ADDR:PORT, V6ADDR or "
     "[V6ADDR]:PORT)"},
    {"resolver bracket v4", "resolver [10.0.0.53]:53\n",
     "t.policy:1:10: invalid resolver \"[10.0.0.53]:53\" (ADDR, ADDR:PORT, V6ADDR or "
     "[V6ADDR]:PORT)"},
    {"resolver bracket junk", "resolver [fd00::53]x53\n",
     "t.policy:1:10: invalid resolver \"[fd00::53]x53\" (ADDR, ADDR:PORT, V6ADDR or "
     "[V6ADDR]:PORT)"},
    {"resolver port 0", "resolver 10.0.0.53:0\n",
     "t.policy:1:20: invalid resolver port \"0\" (1-65535)"},
    {"resolver port big", "resolver [fd00::53]:65536\n",
     "t.policy:1:21: invalid resolver port \"65536\" (1-65535)"},
    {"resolver port empty", "resolver 10.0.0.53:\n",
     "t.policy:1:20: invalid resolver port \"\" (1-65535)"},
    {"resolver unspecified", "resolver ::\n",
     "t.policy:1:10: resolver cannot be the unspecified address \"::\""},
    {"resolver extra", "resolver 10.0.0.53 53\n", "t.policy:1:20: unexpected \"53\""},
    {"scope alone", "scope\n", "t.policy:1:6: scope needs a path"},
    {"scope without path", "scope {\n}\n", "t.policy:1:7: scope needs a path"},
    {"scope without brace", "scope a\n}\n", "t.policy:1:8: expected \"{\" after the scope path"},
    {"scope junk after brace", "scope a { allow 10.0.0.1 }\n}\n",
     "t.policy:1:11: unexpected \"allow\" after \"{\" (one statement per line)"},
    {"scope junk instead of brace", "scope a b {\n}\n",
     "t.policy:1:9: expected \"{\" after the scope path"},
    {"nested scope", "scope system.slice {\n  scope ollama.service {\n    allow 10.0.0.1\n  }\n}\n",
     "t.policy:2:3: nested scope: write scope system.slice/ollama.service"},
    {"selector: empty value", "scope container name= {\n}\n",
     "t.policy:1:17: selector \"name=\": empty value"},
    {"selector: unknown key", "scope pod image=x {\n}\n",
     "t.policy:1:11: pod selector \"image=x\": expected namespace=GLOB, name=GLOB or "
     "label=KEY=GLOB"},
    {"selector: bad id", "scope container id=XYZ {\n}\n",
     "t.policy:1:17: selector \"id=XYZ\": an id is 1 to 64 lower-case hex digits (a prefix)"},
    {"selector: label without key", "scope container label==x {\n}\n",
     "t.policy:1:17: selector \"label==x\": expected label=KEY=GLOB"},
    {"selector: no brace", "scope container name=x\n",
     "t.policy:1:23: expected \"{\" after the selector (at most 12 conditions)\n"
     "t.policy:1:1: scope \"?\" is not closed (missing \"}\")"},
    {"selector: twice", "scope container name=x {\n}\nscope container name=x {\n}\n",
     "t.policy:3:7: scope \"container name=x\" already defined at line 1"},
    {"scope dotdot", "scope a/../b {\n}\n",
     "t.policy:1:7: scope path \"a/../b\": \"..\" is not allowed"},
    {"scope root", "scope / {\n}\n",
     "t.policy:1:7: scope path \"/\": names the top level: write its rules outside any scope"},
    {"scope dot", "scope ./ {\n}\n",
     "t.policy:1:7: scope path \"./\": names the top level: write its rules outside any scope"},
    {"scope twice", "scope a/b {\n}\nscope /a//b/ {\n}\n",
     "t.policy:3:7: scope \"a/b\" already defined at line 1"},
    {"scope not closed", "allow 10.0.0.1\nscope a {\n  allow 10.0.0.2\n",
     "t.policy:2:1: scope \"a\" is not closed (missing \"}\")"},
    {"unmatched brace", "allow 10.0.0.1\n}\n", "t.policy:2:1: unmatched \"}\""},
    {"junk after close", "scope a {\n} allow 10.0.0.1\n",
     "t.policy:2:3: unexpected \"allow\" after \"}\" (one statement per line)"},
    {"stray open brace", "{\n",
     "t.policy:1:1: unknown statement \"{\" (allow, deny, inbound, mode, "
     "resolver or scope)"},
    {"NUL byte", "allow 10.0.0.1\nallow 10.0.0.2 \0tcp\n", "t.policy:2:16: NUL byte"},
    {"control char", "allow 10.0.0.1\x01\n", "t.policy:1:15: control character 0x01"},
    {"DEL char", "allow\x7f 10.0.0.1\n", "t.policy:1:6: control character 0x7f"},
    {"vertical tab", "allow\v10.0.0.1\n", "t.policy:1:6: control character 0x0b"},
    {"quoting in messages", "allow 10.0.0.1 \"t\\p\"\n",
     "t.policy:1:16: unknown proto \"\\\"t\\\\p\\\"\" (tcp, udp or any)"},
    {"every error reported",
     "mode enforce\n"
     "allow 10.0.0.1/8\n"
     "allow 10.0.0.0/8 tcp 443\n"
     "deny 10.0.0.0/8 udp 70000\n"
     "scope a {\n"
     "  allow fd00::/129\n"
     "  scope b {\n"
     "  }\n"
     "  allow host x tcp 1-\n"
     "}\n"
     "}\n"
     "allw any\n",
     "t.policy:2:7: 10.0.0.1/8: host bits set; did you mean 10.0.0.0/8?\n"
     "t.policy:4:21: port 70000 out of range (0-65535)\n"
     "t.policy:6:9: prefix length 129 out of range (0-128)\n"
     "t.policy:7:3: nested scope: write scope a/b\n"
     "t.policy:9:20: invalid port \"1-\" (a number 0-65535 or a range LO-HI)\n"
     "t.policy:11:1: unmatched \"}\"\n"
     "t.policy:12:1: unknown statement \"allw\" (did you mean allow?)"},
};

static void test_errors(void)
{
	struct tc t;
	size_t i;

	for (i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *ec = &err_cases[i];
		struct policy_errors e = {0};
		struct policy *p = (struct policy *)1;
		size_t len = strlen(ec->in);
		char *got;
		int r;

		if (!strcmp(ec->name, "NUL byte"))
			len = sizeof("allow 10.0.0.1\nallow 10.0.0.2 \0tcp\n") - 1;
		tc_begin(&t, "error: %s", ec->name);
		r = policy_parse("t.policy", ec->in, len, &p, &e);
		got = join_errs(&e);
		if (!*ec->out) {
			CHECK(&t, r == 0 && p, "expected success, got %d: %s", r, got);
		} else {
			CHECK(&t, r == -EINVAL, "returned %d, want -EINVAL", r);
			CHECK(&t, p == NULL, "*out not NULL on error");
			CHECK(&t, !strcmp(got, ec->out), "got\n%s\nwant\n%s", got, ec->out);
		}
		if (!r)
			policy_free(p);
		free(got);
		policy_errors_free(&e);
		tc_end(&t);
	}
}

/* Limits: line length, file size, rule count, error count, path/ports length. */
static void test_limits(void)
{
	struct policy_errors e = {0};
	struct policy *p;
	struct tc t;
	char *buf, *got;
	size_t n, i;
	int r;

	tc_begin(&t, "limit: line of 4096 bytes ok, 4097 rejected");
	buf = malloc(2 * 4200);
	if (!buf)
		abort();
	memset(buf, ' ', 8400);
	memcpy(buf, "allow 10.0.0.1", 14);
	buf[4096] = '\n';
	memcpy(buf + 4097, "allow 10.0.0.2", 14);
	buf[4097 + 4097] = '\n';
	r = policy_parse("t.policy", buf, 4097 + 4098, &p, &e);
	got = join_errs(&e);
	CHECK(&t,
	      r == -EINVAL && !strcmp(got, "t.policy:2:4097: line too long (more than 4096 "
					   "bytes)"),
	      "got %d: %s", r, got);
	free(got);
	policy_errors_free(&e);
	free(buf);
	tc_end(&t);

	tc_begin(&t, "limit: file larger than 16 MiB");
	n = POLICY_MAX_SIZE + 1;
	buf = malloc(n);
	if (!buf)
		abort();
	memset(buf, '\n', n);
	r = policy_parse("big.policy", buf, n, &p, &e);
	got = join_errs(&e);
	CHECK(&t,
	      r == -EINVAL && !strcmp(got, "big.policy:1:1: file too large (more than "
					   "16777216 bytes)"),
	      "got %d: %s", r, got);
	free(got);
	policy_errors_free(&e);
	r = policy_parse("big.policy", buf, n - 1, &p, &e);
	CHECK(&t, r == 0, "exactly 16 MiB of blank lines should parse, got %d", r);
	policy_free(p);
	policy_errors_free(&e);
	{
		char path[] = "/tmp/hush-test-big-XXXXXX";
		int fd = mkstemp(path);

		if (CHECK(&t, fd >= 0, "mkstemp")) {
			CHECK(&t, write(fd, buf, n) == (ssize_t)n && write(fd, "\n\n", 2) == 2,
			      "write");
			close(fd);
			r = policy_load_file(path, &p, &e);
			CHECK(&t,
			      r == -EINVAL && e.n == 1 && strstr(e.msg[0], ":1:1: file too large"),
			      "load_file: %d %s", r, e.n ? e.msg[0] : "");
			policy_errors_free(&e);
			unlink(path);
		}
	}
	free(buf);
	tc_end(&t);

	tc_begin(&t, "limit: 1000000 rules ok, one more rejected");
	n = (size_t)(POLICY_MAX_RULES + 2) * 15;
	buf = malloc(n + 1);
	if (!buf)
		abort();
	for (i = 0; i < (size_t)POLICY_MAX_RULES + 2; i++)
		memcpy(buf + i * 15, "allow 10.0.0.1\n", 15);
	r = policy_parse("many.policy", buf, (size_t)POLICY_MAX_RULES * 15, &p, &e);
	CHECK(&t, r == 0 && p && p->nids == POLICY_MAX_RULES, "1000000 rules: %d", r);
	policy_free(p);
	r = policy_parse("many.policy", buf, n, &p, &e);
	got = join_errs(&e);
	CHECK(&t,
	      r == -EINVAL && !strcmp(got, "many.policy:1000001:1: too many rules (at most "
					   "1000000)"),
	      "got %d: %s", r, got);
	free(got);
	policy_errors_free(&e);
	free(buf);
	tc_end(&t);

	tc_begin(&t, "limit: error count");
	n = 5000 * 4;
	buf = malloc(n);
	if (!buf)
		abort();
	for (i = 0; i < 5000; i++)
		memcpy(buf + i * 4, "xyz\n", 4);
	r = policy_parse("t.policy", buf, n, &p, &e);
	CHECK(&t, r == -EINVAL && e.n == POLICY_MAX_ERRS + 1, "%d errors", (int)e.n);
	CHECK(&t,
	      e.n && !strcmp(e.msg[e.n - 1], "t.policy:1001:1: too many errors (1000), giving up"),
	      "last: %s", e.n ? e.msg[e.n - 1] : "");
	policy_errors_free(&e);
	free(buf);
	tc_end(&t);

	tc_begin(&t, "limit: port list and scope path length");
	buf = malloc(4200);
	if (!buf)
		abort();
	strcpy(buf, "allow 10.0.0.0/8 tcp 1");
	for (i = 0; i < 1600; i++)
		strcat(buf, ",1");
	strcat(buf, "\n");
	r = policy_parse("t.policy", buf, strlen(buf), &p, &e);
	got = join_errs(&e);
	CHECK(&t,
	      r == -EINVAL && !strcmp(got, "t.policy:1:22: port list too long (at most 3072 "
					   "bytes)"),
	      "got %d: %s", r, got);
	free(got);
	policy_errors_free(&e);
	strcpy(buf, "scope ");
	for (i = 0; i < 1600; i++)
		strcat(buf, "a/");
	strcat(buf, " {\n}\n");
	r = policy_parse("t.policy", buf, strlen(buf), &p, &e);
	got = join_errs(&e);
	CHECK(&t,
	      r == -EINVAL && !strcmp(got, "t.policy:1:7: scope path too long (at most 3072 "
					   "bytes)"),
	      "got %d: %s", r, got);
	free(got);
	policy_errors_free(&e);
	free(buf);
	tc_end(&t);
}

/* ---- normalization ---- */

struct norm_case {
	const char *name, *in, *out;
};

static const struct norm_case norm_cases[] = {
    {"empty", "", "mode enforce\n"},
    {"comments and blanks", "# c\n\n   \t# x\n\r\n", "mode enforce\n"},
    {"CRLF and tabs", "mode audit\r\n\tallow\t10.0.0.1\t\r\n", "mode audit\nallow 10.0.0.1\n"},
    {"comment glued", "allow 10.0.0.1# c\n", "mode enforce\nallow 10.0.0.1\n"},
    {"no final newline", "deny 10.0.0.1", "mode enforce\ndeny 10.0.0.1\n"},
    {"host prefix", "allow 10.0.0.1/32\nallow fd00::1/128\n",
     "mode enforce\nallow 10.0.0.1\nallow fd00::1\n"},
    {"v6 canonical",
     "allow 2001:DB8:0:0:1:0:0:1\nallow 0:0:0:0:0:0:0:1\nallow 1:0:0:2::/64\n"
     "allow 1:0:0:2:0:0:3:4\nallow 1::2:3:4:5:6:7\nallow ::1.2.3.4\nallow fd00:0:0:0:0:0:0:0/8\n",
     "mode enforce\nallow 2001:db8::1:0:0:1\nallow ::1\nallow 1:0:0:2::/64\n"
     "allow 1::2:0:0:3:4\nallow 1:0:2:3:4:5:6:7\nallow ::102:304\nallow fd00::/8\n"},
    {"mapped to v4",
     "allow ::ffff:10.0.0.0/104 udp 53\nallow ::ffff:192.0.2.1\n"
     "allow ::ffff:0:0/96\n",
     "mode enforce\nallow 10.0.0.0/8 udp 53\nallow 192.0.2.1\nallow 0.0.0.0/0\n"},
    {"proto any dropped", "allow 10.0.0.0/8 any\n", "mode enforce\nallow 10.0.0.0/8\n"},
    {"ports sorted merged", "allow any tcp 443,80,81-90,85-100,101,0,65535,65534\n",
     "mode enforce\nallow any tcp 0,80-101,443,65534-65535\n"},
    {"ports duplicates", "deny 10.0.0.0/8 udp 53,53,53-53\n",
     "mode enforce\ndeny 10.0.0.0/8 udp 53\n"},
    {"ports leading zeros", "deny 10.0.0.0/8 udp 0053,00080-0090\n",
     "mode enforce\ndeny 10.0.0.0/8 udp 53,80-90\n"},
    {"prefix leading zero", "allow 10.0.0.0/08\n", "mode enforce\nallow 10.0.0.0/8\n"},
    {"dns case and dot",
     "allow dns WWW.Example.COM.\nallow dns *.Corp.Internal.\n"
     "allow dns _srv._tcp.x-y.example\n",
     "mode enforce\nallow dns www.example.com\nallow dns *.corp.internal\n"
     "allow dns _srv._tcp.x-y.example\n"},
    {"host case", "allow host API.Example. any 443\n",
     "mode enforce\nallow host api.example any 443\n"},
    {"resolver forms", "resolver ::ffff:10.0.0.53\n", "mode enforce\nresolver 10.0.0.53\n"},
    {"resolver v4 port", "resolver 10.0.0.53:5353\n", "mode enforce\nresolver 10.0.0.53:5353\n"},
    {"resolver v4 port 53", "resolver 10.0.0.53:53\n", "mode enforce\nresolver 10.0.0.53\n"},
    {"resolver v6", "resolver FD00::53\n", "mode enforce\nresolver fd00::53\n"},
    {"resolver v6 bracket", "resolver [fd00::53]\n", "mode enforce\nresolver fd00::53\n"},
    {"resolver v6 port", "resolver [fd00::53]:5353\n", "mode enforce\nresolver [fd00::53]:5353\n"},
    {"top level first",
     "scope b {\n allow 10.0.0.2\n}\nresolver 10.0.0.53\nallow 10.0.0.1\n"
     "mode audit\n",
     "mode audit\nresolver 10.0.0.53\nallow 10.0.0.1\n\nscope b {\n\tallow 10.0.0.2\n}\n"},
    {"statement order kept",
     "allow host h.example\nallow 10.0.0.1\nallow dns d.example\n"
     "deny any udp\n",
     "mode enforce\nallow host h.example\nallow 10.0.0.1\nallow dns d.example\ndeny any udp\n"},
    {"scope path normalized",
     "scope /system.slice//ollama.service/./ {\n mode audit\n}\n"
     "scope a{\n}\n",
     "mode enforce\n\nscope system.slice/ollama.service {\n\tmode audit\n}\n\nscope a {\n}\n"},
    {"scope odd names", "scope system.slice/docker-1a2b.scope/x\"y {\n}\n",
     "mode enforce\n\nscope system.slice/docker-1a2b.scope/x\"y {\n}\n"},
};

static void test_normalize(void)
{
	struct tc t;
	size_t i;

	for (i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
		const struct norm_case *nc = &norm_cases[i];
		struct policy *p;
		char *s;

		if (!nc->out)
			continue;
		tc_begin(&t, "normalize: %s", nc->name);
		p = parse_ok(&t, nc->in);
		if (p) {
			s = round_trip(&t, p);
			CHECK(&t, s && !strcmp(s, nc->out), "got\n%s\nwant\n%s", s ? s : "",
			      nc->out);
			free(s);
		}
		policy_free(p);
		tc_end(&t);
	}
}

/* Structure filled by the parser: ids, locations, fields. */
static void test_structure(void)
{
	static const char *in = "mode audit\n"
				"resolver [fd00::53]:5353\n"
				"allow 10.20.0.0/16 tcp 443,8443\n"
				"scope a/b {\n"
				"  deny  any\n"
				"  allow dns *.corp.internal\n"
				"}\n"
				"allow host Models.corp.internal udp 53\n"
				"scope c {\n"
				"\tmode enforce\n"
				"\tallow dns exact.example.\n"
				"}\n";
	struct policy *p;
	struct tc t;

	tc_begin(&t, "parse: fields, ids and locations");
	p = parse_ok(&t, in);
	if (p) {
		const struct policy_scope *s0 = &p->scopes[0], *s1 = &p->scopes[1],
					  *s2 = &p->scopes[2];

		CHECK(&t, !strcmp(p->name, "t.policy"), "name %s", p->name);
		CHECK(&t, p->nscopes == 3 && p->nids == 5, "nscopes %zu nids %u", p->nscopes,
		      p->nids);
		CHECK(&t,
		      p->has_resolver && p->resolver_family == AF_INET6 && p->resolver[0] == 0xfd &&
			  p->resolver[15] == 0x53 && p->resolver_port == 5353,
		      "resolver");
		CHECK(&t, !strcmp(s0->path, "") && s0->has_mode && s0->mode == HUSH_MODE_AUDIT,
		      "top scope");
		CHECK(&t,
		      s0->nrules == 1 && s0->rules[0].id == 1 && s0->rules[0].loc.line == 3 &&
			  s0->rules[0].loc.col == 1 && s0->rules[0].family == AF_INET &&
			  s0->rules[0].plen == 16 && s0->rules[0].proto == 6 &&
			  s0->rules[0].nports == 2 && s0->rules[0].ports[1].lo == 8443 &&
			  s0->rules[0].action == POLICY_ALLOW,
		      "rule 1");
		CHECK(&t,
		      s0->nhosts == 1 && s0->hosts[0].id == 4 &&
			  !strcmp(s0->hosts[0].name, "models.corp.internal") &&
			  s0->hosts[0].proto == 17 && s0->hosts[0].nports == 1 &&
			  s0->hosts[0].loc.line == 8,
		      "host rule");
		CHECK(&t,
		      !strcmp(s1->path, "a/b") && !s1->has_mode && s1->loc.line == 4 &&
			  s1->nrules == 1 && s1->rules[0].id == 2 &&
			  s1->rules[0].family == POLICY_FAMILY_ANY && s1->rules[0].plen == 0 &&
			  s1->rules[0].action == POLICY_DENY && s1->rules[0].loc.col == 3,
		      "scope a/b");
		CHECK(&t,
		      s1->ndns == 1 && s1->dns[0].wildcard && s1->dns[0].id == 3 &&
			  !strcmp(s1->dns[0].name, "corp.internal"),
		      "dns wildcard");
		CHECK(&t,
		      s2->has_mode && s2->mode == HUSH_MODE_ENFORCE && s2->ndns == 1 &&
			  !s2->dns[0].wildcard && s2->dns[0].id == 5 &&
			  !strcmp(s2->dns[0].name, "exact.example") && s2->dns[0].loc.col == 2,
		      "scope c");
	}
	policy_free(p);
	tc_end(&t);

	tc_begin(&t, "parse: policy_default");
	{
		struct policy *d = NULL;
		char *s;

		CHECK(&t, policy_default(&d) == 0 && d, "policy_default failed");
		if (d) {
			CHECK(&t,
			      d->nscopes == 1 && d->nids == 0 && !d->has_resolver &&
				  d->scopes[0].mode == HUSH_MODE_ENFORCE,
			      "not loopback-only enforce");
			s = policy_to_string(d);
			CHECK(&t, s && !strcmp(s, "mode enforce\n"), "printed %s", s ? s : "");
			free(s);
		}
		policy_free(d);
	}
	tc_end(&t);

	tc_begin(&t, "parse: load_file errors and success");
	{
		struct policy_errors e = {0};
		struct policy *q = (struct policy *)1;
		char path[] = "/tmp/hush-test-policy-XXXXXX", *got;
		int fd, r;

		r = policy_load_file("/nonexistent/hush.policy", &q, &e);
		got = join_errs(&e);
		CHECK(&t,
		      r == -ENOENT && !q &&
			  !strcmp(got, "/nonexistent/hush.policy: No such file or directory"),
		      "got %d: %s", r, got);
		free(got);
		policy_errors_free(&e);
		fd = mkstemp(path);
		if (CHECK(&t, fd >= 0, "mkstemp")) {
			CHECK(&t, write(fd, "allow 10.0.0.1\nallow x\n", 23) == 23, "write");
			close(fd);
			r = policy_load_file(path, &q, &e);
			CHECK(&t,
			      r == -EINVAL && e.n == 1 &&
				  strstr(e.msg[0], ":2:7: invalid address") &&
				  !strncmp(e.msg[0], path, strlen(path)),
			      "got %d: %s", r, e.n ? e.msg[0] : "");
			policy_errors_free(&e);
			fd = open(path, O_WRONLY | O_TRUNC);
			CHECK(&t, fd >= 0 && write(fd, "deny 10.0.0.1\n", 14) == 14, "rewrite");
			if (fd >= 0)
				close(fd);
			r = policy_load_file(path, &q, &e);
			CHECK(&t, r == 0 && q && q->scopes[0].nrules == 1, "load %d", r);
			if (!r)
				policy_free(q);
			unlink(path);
		}
	}
	tc_end(&t);

	tc_begin(&t, "errors: print with prefix");
	{
		struct policy_errors e = {0};
		char *buf = NULL;
		size_t len = 0;
		FILE *f;

		policy_errors_add(&e, "a:%d:%d: x", 1, 2);
		policy_errors_add(&e, "b");
		f = open_memstream(&buf, &len);
		policy_errors_print(&e, "hushd: policy: ", f);
		fclose(f);
		CHECK(&t, buf && !strcmp(buf, "hushd: policy: a:1:2: x\nhushd: policy: b\n"), "%s",
		      buf);
		free(buf);
		policy_errors_free(&e);
		CHECK(&t, e.n == 0 && !e.msg, "not reset");
		CHECK(&t, policy_errors_add(NULL, "x") == 0, "NULL errs");
	}
	tc_end(&t);
}

/* ---- golden files and examples ---- */

static void test_goldens(void)
{
	char dir[4096], path[4200];
	char **names;
	size_t n, i;
	struct tc t;

	snprintf(dir, sizeof(dir), "%s/tests/policy", src_dir());
	n = list_dir(dir, ".in", &names);
	tc_begin(&t, "golden: files present");
	CHECK(&t, n >= 15, "%zu golden inputs in %s", n, dir);
	tc_end(&t);
	for (i = 0; i < n; i++) {
		struct policy_errors e = {0};
		struct policy_compiled *c = NULL;
		struct policy *p = NULL;
		char *in, *want, *got;
		size_t len;
		int r;

		tc_begin(&t, "golden: %s", names[i]);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		in = read_all(path, &len);
		snprintf(path + strlen(path) - 3, 8, ".ok");
		want = read_all(path, NULL);
		CHECK(&t, in && want, "cannot read %s or its .ok", names[i]);
		if (in && want) {
			r = policy_parse(names[i], in, len, &p, &e);
			got = join_errs(&e);
			CHECK(&t, r == 0, "parse: %s", got);
			free(got);
			if (!r) {
				got = round_trip(&t, p);
				CHECK(&t, got && !strcmp(got, want), "got\n%s\nwant\n%s", got,
				      want);
				free(got);
				c = compile_ok(&t, p);
			}
		}
		policy_compiled_free(c);
		policy_free(p);
		policy_errors_free(&e);
		free(in);
		free(want);
		tc_end(&t);
	}
	free_names(names, n);
}

static void test_examples(void)
{
	char dir[4096], path[4200];
	char **names;
	size_t n, i;
	struct tc t;

	snprintf(dir, sizeof(dir), "%s/rules/examples", src_dir());
	n = list_dir(dir, ".policy", &names);
	tc_begin(&t, "examples: shipped");
	CHECK(&t, n >= 3, "%zu examples in %s", n, dir);
	tc_end(&t);
	for (i = 0; i < n; i++) {
		struct policy_errors e = {0};
		struct policy_compiled *c = NULL;
		struct policy *p = NULL;
		char *got;
		int r;

		tc_begin(&t, "example: %s parses, compiles, round-trips", names[i]);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		r = policy_load_file(path, &p, &e);
		got = join_errs(&e);
		CHECK(&t, r == 0, "load: %s", got);
		free(got);
		if (!r) {
			free(round_trip(&t, p));
			c = compile_ok(&t, p);
		}
		policy_compiled_free(c);
		policy_free(p);
		policy_errors_free(&e);
		tc_end(&t);
	}
	free_names(names, n);
}

/* ---- semantics ---- */

struct sem_case {
	const char *name;
	const char *policy;
	size_t scope;
	const char *addr;
	uint8_t proto;
	uint16_t port;
	uint8_t verdict;
	uint32_t rule;
};

#define A  HUSH_VERDICT_ALLOW
#define D  HUSH_VERDICT_DENY
#define LB HUSH_RULE_LOOPBACK
#define DF HUSH_RULE_DEFAULT

static const char design_policy[] = "mode enforce\n"
				    "resolver 10.0.0.53\n"
				    "allow 10.20.0.0/16 tcp 443,8443\n"
				    "allow fd00:10::/48\n"
				    "deny  10.20.0.99\n"
				    "allow dns *.corp.internal\n"
				    "allow host models.corp.internal tcp 443\n"
				    "scope system.slice/ollama.service {\n"
				    "  allow 127.0.0.1 tcp 11434\n"
				    "}\n";

static const char carve_policy[] = "allow 10.0.0.0/8\n"			   /* 1 */
				   "deny 10.1.0.0/16\n"			   /* 2 */
				   "allow 10.1.2.0/24 tcp 443\n"	   /* 3 */
				   "deny 10.1.2.3 tcp 443\n"		   /* 4 */
				   "allow 10.9.0.0/16 udp 53\n"		   /* 5 */
				   "deny 10.9.0.0/16 udp 53-54\n"	   /* 6 */
				   "allow 10.9.0.0/16 udp 53-60\n"	   /* 7 */
				   "allow 192.0.2.0/24 tcp 80,8000-8100\n" /* 8 */
				   "allow 192.0.2.1 tcp 443\n"		   /* 9 */
				   "allow 198.51.100.0/24 any 53\n"	   /* 10 */
				   "allow any tcp 22\n"			   /* 11 */
				   "deny 0.0.0.0/0 tcp 23\n";		   /* 12 */

static const char scope_policy[] = "mode audit\n"
				   "allow 10.0.0.0/8 tcp 443\n" /* 1 */
				   "scope a {\n"
				   "  allow 10.1.0.0/16\n" /* 2 */
				   "}\n"
				   "scope a/b {\n"
				   "  mode enforce\n"
				   "  deny 10.1.1.0/24\n" /* 3 */
				   "}\n"
				   "scope ab {\n"
				   "  allow any\n" /* 4 */
				   "}\n"
				   "scope a/b/c {\n"
				   "  allow 10.1.1.1 udp\n" /* 5 */
				   "}\n"
				   "scope x/y {\n"
				   "  deny 10.0.0.0/8 tcp 443\n" /* 6 */
				   "}\n";

static const struct sem_case sem_cases[] = {
    /* the DESIGN.md example */
    {"design: allowed https", design_policy, 0, "10.20.1.1", 6, 443, A, 1},
    {"design: allowed 8443", design_policy, 0, "10.20.1.1", 6, 8443, A, 1},
    {"design: other port denied", design_policy, 0, "10.20.1.1", 6, 80, D, DF},
    {"design: udp denied", design_policy, 0, "10.20.1.1", 17, 443, D, DF},
    {"design: carve-out", design_policy, 0, "10.20.0.99", 6, 443, D, 3},
    {"design: carve-out udp", design_policy, 0, "10.20.0.99", 17, 53, D, 3},
    {"design: v6 any proto", design_policy, 0, "fd00:10::1", 58, 0, A, 2},
    {"design: v6 outside", design_policy, 0, "fd00:11::1", 6, 443, D, DF},
    {"design: loopback implicit", design_policy, 0, "127.0.0.1", 6, 11434, A, LB},
    {"design: scope rule", design_policy, 1, "127.0.0.1", 6, 11434, A, 6},
    {"design: scope inherits top", design_policy, 1, "10.20.1.1", 6, 443, A, 1},
    {"design: scope loopback other port", design_policy, 1, "127.0.0.1", 6, 80, A, LB},
    {"design: v6 loopback", design_policy, 0, "::1", 6, 1, A, LB},
    {"design: outside v4", design_policy, 0, "203.0.113.8", 17, 53, D, DF},
    {"design: mapped v6 judged as v4", design_policy, 0, "::ffff:10.20.0.99", 6, 443, D, 3},
    {"design: mapped allowed", design_policy, 0, "::ffff:10.20.3.4", 6, 8443, A, 1},
    {"design: 0.0.0.0 is loopback", design_policy, 0, "0.0.0.0", 6, 80, A, LB},
    {"design: :: is loopback", design_policy, 0, "::", 17, 80, A, LB},
    {"design: mapped 0.0.0.0 is loopback", design_policy, 0, "::ffff:0.0.0.0", 6, 80, A, LB},
    {"design: other proto at tcp rule", design_policy, 0, "10.20.1.1", 1, 0, D, DF},
    /* carve-outs and precedence */
    {"carve: allow /8", carve_policy, 0, "10.2.0.1", 17, 9, A, 1},
    {"carve: deny /16", carve_policy, 0, "10.1.9.9", 6, 443, D, 2},
    {"carve: allow /24 port inside deny /16", carve_policy, 0, "10.1.2.7", 6, 443, A, 3},
    {"carve: /24 other port falls to /16 deny", carve_policy, 0, "10.1.2.7", 6, 80, D, 2},
    {"carve: /32 deny inside /24 allow", carve_policy, 0, "10.1.2.3", 6, 443, D, 4},
    {"carve: /32 other port from /16", carve_policy, 0, "10.1.2.3", 6, 444, D, 2},
    {"carve: deny beats allow same prefix", carve_policy, 0, "10.9.1.1", 17, 53, D, 6},
    {"carve: deny range end", carve_policy, 0, "10.9.1.1", 17, 54, D, 6},
    {"carve: allow past deny range", carve_policy, 0, "10.9.1.1", 17, 55, A, 7},
    {"carve: allow range end", carve_policy, 0, "10.9.1.1", 17, 60, A, 7},
    {"carve: beyond ranges -> /8", carve_policy, 0, "10.9.1.1", 17, 61, A, 1},
    {"carve: tcp at udp rules -> /8", carve_policy, 0, "10.9.1.1", 6, 53, A, 1},
    {"carve: list item", carve_policy, 0, "192.0.2.9", 6, 80, A, 8},
    {"carve: range lo", carve_policy, 0, "192.0.2.9", 6, 8000, A, 8},
    {"carve: range hi", carve_policy, 0, "192.0.2.9", 6, 8100, A, 8},
    {"carve: below range", carve_policy, 0, "192.0.2.9", 6, 7999, D, DF},
    {"carve: above range", carve_policy, 0, "192.0.2.9", 6, 8101, D, DF},
    {"carve: specific allow keeps less specific ports", carve_policy, 0, "192.0.2.1", 6, 8050, A,
     8},
    {"carve: specific allow own port", carve_policy, 0, "192.0.2.1", 6, 443, A, 9},
    {"carve: specific allow other port", carve_policy, 0, "192.0.2.1", 6, 444, D, DF},
    {"carve: any with ports tcp", carve_policy, 0, "198.51.100.7", 6, 53, A, 10},
    {"carve: any with ports udp", carve_policy, 0, "198.51.100.7", 17, 53, A, 10},
    {"carve: any with ports not icmp", carve_policy, 0, "198.51.100.7", 1, 0, D, DF},
    {"carve: any with ports other port", carve_policy, 0, "198.51.100.7", 17, 54, D, DF},
    {"carve: allow any tcp 22", carve_policy, 0, "203.0.113.1", 6, 22, A, 11},
    {"carve: allow any covers v6", carve_policy, 0, "2001:db8::1", 6, 22, A, 11},
    {"carve: deny 0/0 tcp 23", carve_policy, 0, "203.0.113.1", 6, 23, D, 12},
    {"carve: /0 deny loses to /8 allow", carve_policy, 0, "10.2.3.4", 6, 23, A, 1},
    {"carve: 0/0 is v4 only", carve_policy, 0, "2001:db8::1", 6, 23, D, DF},
    {"carve: icmp under allow /8", carve_policy, 0, "10.3.3.3", 1, 0, A, 1},
    {"carve: icmp under deny /16", carve_policy, 0, "10.1.3.3", 1, 0, D, 2},
    {"carve: icmp ignores tcp-only /24", carve_policy, 0, "10.1.2.3", 1, 0, D, 2},
    {"carve: port 0", carve_policy, 0, "10.2.3.4", 6, 0, A, 1},
    {"carve: port 65535", carve_policy, 0, "10.2.3.4", 17, 65535, A, 1},
    /* loopback */
    {"loopback: tcp", "", 0, "127.0.0.1", 6, 80, A, LB},
    {"loopback: whole /8", "", 0, "127.255.0.9", 17, 53, A, LB},
    {"loopback: icmp", "", 0, "127.0.0.1", 1, 0, A, LB},
    {"loopback: v6", "", 0, "::1", 6, 80, A, LB},
    {"loopback: mapped", "", 0, "::ffff:127.0.0.1", 6, 80, A, LB},
    {"loopback: not ::2", "", 0, "::2", 6, 80, D, DF},
    {"loopback: not 128.0.0.1", "", 0, "128.0.0.1", 6, 80, D, DF},
    {"loopback: deny /8 switches off", "deny 127.0.0.0/8\n", 0, "127.0.0.1", 6, 80, D, 1},
    {"loopback: deny /8 tcp keeps udp", "deny 127.0.0.0/8 tcp\n", 0, "127.0.0.1", 17, 53, A, LB},
    {"loopback: deny /8 tcp", "deny 127.0.0.0/8 tcp\n", 0, "127.0.0.1", 6, 53, D, 1},
    {"loopback: deny /8 via 0.0.0.0", "deny 127.0.0.0/8\n", 0, "0.0.0.0", 6, 80, D, 1},
    {"loopback: allow /8 port is explicit", "allow 127.0.0.0/8 tcp 80\n", 0, "127.0.0.1", 6, 80, A,
     1},
    {"loopback: deny /16 inside", "deny 127.1.0.0/16\n", 0, "127.1.0.1", 6, 80, D, 1},
    {"loopback: deny /16 outside", "deny 127.1.0.0/16\n", 0, "127.0.0.1", 6, 80, A, LB},
    {"loopback: deny /0 loses", "deny any\n", 0, "127.0.0.1", 6, 80, A, LB},
    {"loopback: deny ::1", "deny ::1\n", 0, "::1", 6, 80, D, 1},
    {"loopback: deny ::1 via ::", "deny ::1\n", 0, "::", 6, 80, D, 1},
    {"loopback: deny ::1 v4 still ok", "deny ::1\n", 0, "127.0.0.1", 6, 80, A, LB},
    {"loopback: deny mapped rule", "deny ::ffff:127.0.0.0/104\n", 0, "127.0.0.1", 6, 80, D, 1},
    {"loopback: deny ::/0 keeps ::1", "deny ::/0\n", 0, "::1", 6, 80, A, LB},
    /* mapped rules are IPv4 rules */
    {"mapped: rule matches v4", "allow ::ffff:192.0.2.0/120 tcp 443\n", 0, "192.0.2.5", 6, 443, A,
     1},
    {"mapped: rule matches mapped dest", "allow ::ffff:192.0.2.0/120 tcp 443\n", 0,
     "::ffff:192.0.2.5", 6, 443, A, 1},
    {"mapped: v6 rule does not match mapped", "allow ::/0\n", 0, "::ffff:192.0.2.5", 6, 443, D, DF},
    {"mapped: v6 /80 does not match mapped", "allow ::/80\n", 0, "::ffff:192.0.2.5", 6, 443, D, DF},
    /* scopes and inheritance */
    {"scope: top only", scope_policy, 0, "10.1.0.1", 6, 80, D, DF},
    {"scope: top rule", scope_policy, 0, "10.1.0.1", 6, 443, A, 1},
    {"scope: a own", scope_policy, 1, "10.1.0.1", 6, 80, A, 2},
    {"scope: a/b inherits a", scope_policy, 2, "10.1.2.1", 6, 80, A, 2},
    {"scope: a/b own deny", scope_policy, 2, "10.1.1.1", 6, 443, D, 3},
    {"scope: a/b/c own allow", scope_policy, 4, "10.1.1.1", 17, 5, A, 5},
    {"scope: a/b/c inherits a/b deny", scope_policy, 4, "10.1.1.2", 17, 5, D, 3},
    {"scope: ab is not under a", scope_policy, 3, "10.1.0.1", 1, 0, A, 4},
    {"scope: ab own any", scope_policy, 3, "192.0.2.1", 6, 9, A, 4},
    {"scope: a does not see ab", scope_policy, 1, "192.0.2.1", 6, 9, D, DF},
    {"scope: a does not see a/b", scope_policy, 1, "10.1.1.1", 6, 443, A, 2},
    {"scope: x/y deny equal prefix", scope_policy, 5, "10.5.5.5", 6, 443, D, 6},
    {"scope: bad scope index", scope_policy, 99, "10.1.0.1", 6, 443, D, DF},
};

static int parse_addr(const char *s, int *family, uint8_t *a)
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET, s, a) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

static void test_semantics(void)
{
	struct tc t;
	size_t i;

	for (i = 0; i < sizeof(sem_cases) / sizeof(sem_cases[0]); i++) {
		const struct sem_case *sc = &sem_cases[i];
		struct policy_compiled *c = NULL;
		struct policy_verdict v, w;
		struct policy *p;
		uint8_t a[16];
		int fam = AF_INET;

		tc_begin(&t, "semantics: %s", sc->name);
		p = parse_ok(&t, sc->policy);
		if (p)
			c = compile_ok(&t, p);
		if (p && c && CHECK(&t, !parse_addr(sc->addr, &fam, a), "bad test address")) {
			v = policy_judge(p, sc->scope, fam, a, sc->proto, sc->port);
			w = policy_compiled_judge(c, sc->scope, fam, a, sc->proto, sc->port);
			CHECK(&t, v.verdict == sc->verdict && v.rule == sc->rule,
			      "judge: verdict %u rule %u, want %u rule %u", v.verdict, v.rule,
			      sc->verdict, sc->rule);
			CHECK(&t, w.verdict == sc->verdict && w.rule == sc->rule,
			      "compiled: verdict %u rule %u, want %u rule %u", w.verdict, w.rule,
			      sc->verdict, sc->rule);
		}
		policy_compiled_free(c);
		policy_free(p);
		tc_end(&t);
	}
}

static void test_modes(void)
{
	static const char *in = "mode audit\n"
				"scope a {\n}\n"
				"scope a/b {\n mode enforce\n}\n"
				"scope a/b/c/d {\n}\n"
				"scope e {\n mode audit\n}\n"
				"scope a/x {\n}\n";
	struct policy_compiled *c = NULL;
	struct policy *p;
	struct tc t;

	tc_begin(&t, "compile: mode inheritance");
	p = parse_ok(&t, in);
	if (p)
		c = compile_ok(&t, p);
	if (c) {
		CHECK(&t, c->nscopes == 6, "nscopes %zu", c->nscopes);
		CHECK(&t, c->scopes[0].mode == HUSH_MODE_AUDIT && !strcmp(c->scopes[0].path, ""),
		      "top");
		CHECK(&t, c->scopes[1].mode == HUSH_MODE_AUDIT, "a inherits top");
		CHECK(&t, c->scopes[2].mode == HUSH_MODE_ENFORCE, "a/b own");
		CHECK(&t,
		      c->scopes[3].mode == HUSH_MODE_ENFORCE &&
			  !strcmp(c->scopes[3].path, "a/b/c/d"),
		      "a/b/c/d inherits a/b (not top)");
		CHECK(&t, c->scopes[4].mode == HUSH_MODE_AUDIT, "e own");
		CHECK(&t, c->scopes[5].mode == HUSH_MODE_AUDIT, "a/x inherits a -> top");
	}
	policy_compiled_free(c);
	policy_free(p);
	tc_end(&t);

	tc_begin(&t, "compile: default top mode enforce");
	p = parse_ok(&t, "scope a {\n}\n");
	c = p ? compile_ok(&t, p) : NULL;
	CHECK(&t,
	      c && c->scopes[0].mode == HUSH_MODE_ENFORCE && c->scopes[1].mode == HUSH_MODE_ENFORCE,
	      "modes");
	policy_compiled_free(c);
	policy_free(p);
	tc_end(&t);
}

/* Container and pod selector scopes: parse, print, inheritance, match. */
static void test_selectors(void)
{
	static const char *in = "mode audit\n"
				"allow 10.0.0.1\n"
				"scope container {\n}\n"
				"scope container name=web-* label=app=x* {\n mode enforce\n"
				" allow 10.0.0.2 tcp 80\n}\n"
				"scope container image=reg.corp/vllm:* {\n}\n"
				"scope container image=reg.corp {\n}\n"
				"scope pod namespace=llm name=vllm-* {\n}\n";
	static const char *const lk[] = {"app", "io.kubernetes.pod.namespace"};
	static const char *const lv[] = {"xyz", "llm"};
	struct policy_ctr web = {
	    .id = "3f2a", .name = "web-1", .image = "bb", .nlabels = 1, .lkey = lk, .lval = lv};
	struct policy_ctr vllm = {.name = "v", .image = "reg.corp/vllm:0.6"};
	struct policy_ctr pod = {.name = "c",
				 .pod_ns = "llm",
				 .pod_name = "vllm-0",
				 .nlabels = 2,
				 .lkey = lk,
				 .lval = lv};
	struct policy_compiled *c = NULL;
	struct policy *p;
	struct tc t;
	uint8_t a[16] = {10, 0, 0, 2};
	char *txt;

	tc_begin(&t, "selectors: parse, print, inheritance, match");
	p = parse_ok(&t, in);
	if (p)
		c = compile_ok(&t, p);
	if (c) {
		CHECK(&t, c->nscopes == 6, "nscopes %zu", c->nscopes);
		CHECK(&t, !policy_scope_is_selector(c->scopes[1].path), "bare container is a path");
		CHECK(&t, !strcmp(c->scopes[2].path, "container name=web-* label=app=x*"), "%s",
		      c->scopes[2].path);
		CHECK(&t, c->scopes[2].mode == HUSH_MODE_ENFORCE, "own mode");
		CHECK(&t, c->scopes[3].mode == HUSH_MODE_AUDIT, "mode from the top level");
		CHECK(&t,
		      policy_compiled_judge(c, 2, AF_INET, a, 6, 80).verdict == HUSH_VERDICT_ALLOW,
		      "own rule");
		a[3] = 1;
		CHECK(&t,
		      policy_compiled_judge(c, 2, AF_INET, a, 6, 80).verdict == HUSH_VERDICT_ALLOW,
		      "top-level rule");
		a[3] = 2;
		/* "container image=reg.corp" is no ancestor of "...reg.corp/vllm:*" */
		CHECK(&t,
		      policy_compiled_judge(c, 3, AF_INET, a, 6, 80).verdict == HUSH_VERDICT_DENY,
		      "no rule of another selector");
		CHECK(&t, policy_judge(p, 3, AF_INET, a, 6, 80).verdict == HUSH_VERDICT_DENY,
		      "reference judge agrees");
		CHECK(&t, policy_selector_match(c->scopes[2].path, &web), "web matches");
		CHECK(&t, !policy_selector_match(c->scopes[3].path, &web), "web is not vllm");
		CHECK(&t, policy_selector_match(c->scopes[3].path, &vllm), "vllm image glob");
		CHECK(&t, !policy_selector_match(c->scopes[4].path, &vllm), "image exact");
		CHECK(&t, policy_selector_match(c->scopes[5].path, &pod), "pod ns and name");
		CHECK(&t, !policy_selector_match(c->scopes[5].path, &web), "no pod: no match");
		CHECK(&t, !policy_selector_match(c->scopes[1].path, &web), "a path never matches");
		CHECK(&t, policy_selector_match("container id=3f", &web), "id prefix");
		CHECK(&t, !policy_selector_match("container id=3f2a9", &web), "id longer");
		CHECK(&t, !policy_selector_match("container label=app=y*", &web), "label value");
		CHECK(&t, !policy_selector_match("container label=nolabel=*", &web), "label key");
	}
	txt = p ? policy_to_string(p) : NULL;
	CHECK(&t, txt && strstr(txt, "\nscope container name=web-* label=app=x* {\n"), "print");
	free(txt);
	policy_compiled_free(c);
	policy_free(p);
	tc_end(&t);
}

/* Layout of the compiled tables: what the BPF maps receive. */
static void test_layout(void)
{
	struct policy_compiled *c = NULL;
	struct policy *p;
	struct tc t;
	size_t i, s;

	tc_begin(&t, "compile: keys, tables, padding, rule info");
	p = parse_ok(&t, design_policy);
	if (p)
		c = compile_ok(&t, p);
	if (c) {
		/* every scope has /0 and loopback keys in both families */
		for (s = 0; s < c->nscopes; s++) {
			bool z4 = false, z6 = false, l4 = false, l6 = false;

			for (i = 0; i < c->n4; i++) {
				if (c->k4[i].scope != s)
					continue;
				z4 |= c->k4[i].prefixlen == 32;
				l4 |= c->k4[i].prefixlen == 40 && c->k4[i].addr[0] == 127;
			}
			for (i = 0; i < c->n6; i++) {
				if (c->k6[i].scope != s)
					continue;
				z6 |= c->k6[i].prefixlen == 32;
				l6 |= c->k6[i].prefixlen == 160 && c->k6[i].addr[15] == 1;
			}
			CHECK(&t, z4 && z6 && l4 && l6, "scope %zu misses /0 or loopback keys", s);
		}
		/* scope 0: /0, 10.20/16, 10.20.0.99, 127/8; scope 1 adds 127.0.0.1 */
		CHECK(&t, c->n4 == 9 && c->n6 == 6, "n4 %zu n6 %zu", c->n4, c->n6);
		for (i = 0; i < c->n4; i++)
			CHECK(&t, c->v4[i].ptab < c->nptabs, "v4 value out of range");
		for (i = 0; i < c->n6; i++)
			CHECK(&t, c->v6[i].ptab < c->nptabs, "v6 value out of range");
		/* tables: sorted segments from 0, unused bytes zero, any_allow right */
		for (i = 0; i < c->nptabs; i++) {
			const struct hush_ptab *pt = &c->ptabs[i];
			int cl;

			CHECK(&t, !pt->pad[0] && !pt->pad[1], "ptab pad");
			CHECK(&t, pt->nseg[HUSH_L4_OTHER] == 1, "other class not single");
			for (cl = 0; cl < HUSH_L4_MAX; cl++) {
				bool any = false;
				unsigned k;

				CHECK(&t, pt->nseg[cl] >= 1 && pt->nseg[cl] <= HUSH_SEG_MAX,
				      "nseg");
				CHECK(&t, pt->seg[cl][0].lo == 0, "first lo");
				for (k = 0; k < HUSH_SEG_MAX; k++) {
					const struct hush_seg *sg = &pt->seg[cl][k];

					if (k >= pt->nseg[cl]) {
						CHECK(&t,
						      !sg->lo && !sg->verdict && !sg->pad &&
							  !sg->rule,
						      "unused segment not zero");
						continue;
					}
					CHECK(&t, !sg->pad, "seg pad");
					CHECK(&t, sg->verdict == A || sg->verdict == D, "verdict");
					if (k)
						CHECK(&t, sg->lo > pt->seg[cl][k - 1].lo,
						      "unsorted");
					if (k)
						CHECK(&t,
						      sg->verdict != pt->seg[cl][k - 1].verdict ||
							  sg->rule != pt->seg[cl][k - 1].rule,
						      "unmerged neighbours");
					any |= sg->verdict == A;
				}
				CHECK(&t, pt->any_allow[cl] == any, "any_allow");
			}
		}
		/* identical tables are shared */
		for (i = 0; i < c->nptabs; i++)
			for (s = i + 1; s < c->nptabs; s++)
				CHECK(&t, memcmp(&c->ptabs[i], &c->ptabs[s], sizeof(c->ptabs[i])),
				      "duplicate ptab %zu %zu", i, s);
		/* rule info */
		CHECK(&t, c->nrules == 6, "nrules %zu", c->nrules);
		for (i = 0; i < c->nrules; i++)
			CHECK(&t, c->rules[i].id == i + 1, "rule info order");
		CHECK(&t,
		      c->nrules == 6 &&
			  !strcmp(c->rules[0].text, "allow 10.20.0.0/16 tcp 443,8443") &&
			  !strcmp(c->rules[2].text, "deny 10.20.0.99") &&
			  !strcmp(c->rules[3].text, "allow dns *.corp.internal") &&
			  !strcmp(c->rules[4].text, "allow host models.corp.internal tcp 443") &&
			  !strcmp(c->rules[5].text, "allow 127.0.0.1 tcp 11434") &&
			  c->rules[5].loc.line == 9 && c->rules[5].loc.col == 3,
		      "rule texts");
		CHECK(&t, policy_compiled_rule(c, 3) == &c->rules[2], "lookup 3");
		CHECK(&t,
		      !policy_compiled_rule(c, 0) && !policy_compiled_rule(c, 7) &&
			  !policy_compiled_rule(c, HUSH_RULE_LOOPBACK),
		      "lookup of implicit ids");
	}
	policy_compiled_free(c);
	policy_free(p);
	tc_end(&t);

	tc_begin(&t, "compile: segments of one table");
	p = parse_ok(&t, "allow 10.0.0.0/8 tcp 80,443\ndeny 10.0.0.0/8 tcp 443-444\n");
	c = p ? compile_ok(&t, p) : NULL;
	if (c) {
		const struct hush_ptab *pt = NULL;
		const struct hush_lpm_val *lv = NULL;

		for (i = 0; i < c->n4; i++)
			if (c->k4[i].prefixlen == 40 && c->k4[i].addr[0] == 10) {
				lv = &c->v4[i];
				pt = &c->ptabs[c->v4[i].ptab];
			}
		if (CHECK(&t, pt != NULL, "no key for 10/8")) {
			const struct hush_seg *sg = pt->seg[HUSH_L4_TCP];

			/* Rules of this prefix are named through the LPM
			 * value's local slots, in order of appearance. */
			CHECK(&t, pt->nseg[HUSH_L4_TCP] == 5, "tcp nseg %u", pt->nseg[HUSH_L4_TCP]);
			CHECK(&t,
			      sg[0].lo == 0 && sg[0].verdict == D && sg[0].rule == DF &&
				  sg[1].lo == 80 && sg[1].verdict == A &&
				  sg[1].rule == HUSH_RULE_LOCAL0 && sg[2].lo == 81 &&
				  sg[2].verdict == D && sg[2].rule == DF && sg[3].lo == 443 &&
				  sg[3].verdict == D && sg[3].rule == HUSH_RULE_LOCAL0 + 1 &&
				  sg[4].lo == 445 && sg[4].verdict == D && sg[4].rule == DF &&
				  lv->rules[0] == 1 && lv->rules[1] == 2,
			      "tcp segments");
			CHECK(&t,
			      pt->nseg[HUSH_L4_UDP] == 1 && pt->seg[HUSH_L4_UDP][0].rule == DF &&
				  !pt->any_allow[HUSH_L4_UDP] && pt->any_allow[HUSH_L4_TCP],
			      "udp");
		}
	}
	policy_compiled_free(c);
	policy_free(p);
	tc_end(&t);
}

static void test_compile_errors(void)
{
	struct policy_errors e = {0};
	struct policy_compiled *c = (struct policy_compiled *)1;
	struct policy *p = NULL;
	char buf[1024], *got;
	struct tc t;
	int i, n, r;

	tc_begin(&t, "compile error: too many port ranges");
	/* 35 separate ports: 71 segments (0, then each port and the gap after it) */
	n = snprintf(buf, sizeof(buf), "allow 10.0.0.0/24 udp 1\nallow 10.0.0.0/8 tcp 1");
	for (i = 1; i < 35; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",%d", 10 * i);
	snprintf(buf + n, sizeof(buf) - (size_t)n, "\nscope a {\n}\n");
	p = parse_ok(&t, buf);
	if (p) {
		r = policy_compile(p, &c, &e);
		got = join_errs(&e);
		CHECK(&t, r == -EINVAL && c == NULL, "returned %d", r);
		/* reported once: not again for the /24 child, nor for scope a */
		CHECK(&t,
		      !strcmp(got, "t.policy:2:1: too many port ranges at 10.0.0.0/8 (tcp needs "
				   "71 segments, at most 64)"),
		      "got %s", got);
		free(got);
		policy_errors_free(&e);
	}
	policy_free(p);
	tc_end(&t);

	tc_begin(&t, "compile: 64 segments fit");
	/* 32 ports from 0: each port and the gap after it = 64 segments */
	n = snprintf(buf, sizeof(buf), "allow fd00::/16 udp 0");
	for (i = 1; i < 32; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",%d", 10 * i);
	snprintf(buf + n, sizeof(buf) - (size_t)n, "\n");
	p = parse_ok(&t, buf);
	c = p ? compile_ok(&t, p) : NULL;
	if (c) {
		uint8_t a[16] = {0xfd, 0, 1};
		struct policy_verdict v = policy_compiled_judge(c, 0, AF_INET6, a, 17, 310);

		CHECK(&t, v.verdict == A && v.rule == 1, "port 310");
		v = policy_compiled_judge(c, 0, AF_INET6, a, 17, 311);
		CHECK(&t, v.verdict == D && v.rule == DF, "port 311");
		v = policy_compiled_judge(c, 0, AF_INET6, a, 17, 65535);
		CHECK(&t, v.verdict == D && v.rule == DF, "port 65535");
	}
	policy_compiled_free(c);
	policy_free(p);
	tc_end(&t);

	tc_begin(&t, "compile: deny all at a prefix absorbs many ports");
	n = snprintf(buf, sizeof(buf), "deny 10.0.0.0/8\nallow 10.0.0.0/8 tcp 1");
	for (i = 1; i < 100; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",%d", 3 * i);
	snprintf(buf + n, sizeof(buf) - (size_t)n, "\n");
	p = parse_ok(&t, buf);
	c = p ? compile_ok(&t, p) : NULL;
	policy_compiled_free(c);
	policy_free(p);
	tc_end(&t);
}

/* ---- differential: judge == compiled judge over random policies ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n ? (uint32_t)(rng_state % n) : 0;
}

static const uint16_t port_pool[] = {0, 1, 22, 53, 80, 443, 1000, 2000, 8080, 65534, 65535};

static void rand_ports(char *o, size_t size)
{
	int n = 1 + (int)rnd(3), i;
	size_t len = 0;

	for (i = 0; i < n; i++) {
		uint16_t lo = port_pool[rnd(sizeof(port_pool) / sizeof(port_pool[0]))];

		if (rnd(3) == 0) {
			uint16_t hi = port_pool[rnd(sizeof(port_pool) / sizeof(port_pool[0]))];

			if (hi < lo) {
				uint16_t x = hi;

				hi = lo;
				lo = x;
			}
			len +=
			    (size_t)snprintf(o + len, size - len, "%s%u-%u", i ? "," : "", lo, hi);
		} else {
			len += (size_t)snprintf(o + len, size - len, "%s%u", i ? "," : "", lo);
		}
	}
}

/* A random prefix from a small universe so that prefixes nest and collide. */
static void rand_prefix(char *o, size_t size)
{
	uint8_t a[16] = {0};
	char txt[POLICY_ADDRSTRLEN];
	unsigned plen, k = rnd(10);

	if (k == 0) {
		snprintf(o, size, "any");
		return;
	}
	if (k <= 6) {
		static const unsigned pl[] = {0, 8, 16, 24, 25, 30, 32, 31, 12};

		a[0] = rnd(4) ? 10 : 127;
		a[1] = (uint8_t)rnd(3);
		a[2] = (uint8_t)rnd(3);
		a[3] = (uint8_t)(rnd(3) * 64 + rnd(3));
		plen = pl[rnd(9)];
		for (unsigned b = plen; b < 32; b++)
			a[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
		if (plen == 32 && !a[0] && !a[1] && !a[2] && !a[3])
			a[0] = 10;
		if (k == 6) { /* written as mapped IPv6 */
			snprintf(o, size, "::ffff:%u.%u.%u.%u/%u", a[0], a[1], a[2], a[3],
				 plen + 96);
			return;
		}
		policy_prefix_text(txt, AF_INET, a, plen, false);
	} else {
		static const unsigned pl[] = {0, 16, 32, 48, 64, 127, 128, 120};

		a[0] = 0xfd;
		a[1] = (uint8_t)rnd(2);
		a[5] = (uint8_t)rnd(3);
		a[15] = (uint8_t)rnd(3);
		if (rnd(5) == 0) {
			memset(a, 0, 16);
			a[15] = 1;
		}
		plen = pl[rnd(8)];
		for (unsigned b = plen; b < 128; b++)
			a[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
		if (plen == 128 && !memcmp(a, (uint8_t[16]){0}, 16))
			a[15] = 1;
		policy_prefix_text(txt, AF_INET6, a, plen, false);
	}
	snprintf(o, size, "%s", txt);
}

static char *rand_policy(void)
{
	static const char *paths[] = {"a", "a/b", "a/b/c", "ab", "x"};
	size_t cap = 1 << 16, len = 0;
	char *o = malloc(cap);
	int nscope = (int)rnd(4), s, i;
	bool used[5] = {0};

	if (!o)
		abort();
	for (s = -1; s < nscope; s++) {
		int nr = 1 + (int)rnd(s < 0 ? 12 : 5);
		const char *ind = "";

		if (s >= 0) {
			int pi = (int)rnd(5);

			if (used[pi])
				continue;
			used[pi] = true;
			len += (size_t)snprintf(o + len, cap - len, "scope %s {\n", paths[pi]);
			ind = "  ";
			if (rnd(3) == 0)
				len += (size_t)snprintf(o + len, cap - len, "%smode audit\n", ind);
		}
		for (i = 0; i < nr; i++) {
			char pfx[96], ports[96];
			static const char *protos[] = {"", " tcp", " udp", " any"};
			const char *proto = protos[rnd(4)];

			rand_prefix(pfx, sizeof(pfx));
			ports[0] = '\0';
			if (*proto && rnd(2)) {
				ports[0] = ' ';
				rand_ports(ports + 1, sizeof(ports) - 1);
			}
			len += (size_t)snprintf(o + len, cap - len, "%s%s %s%s%s\n", ind,
						rnd(3) ? "allow" : "deny", pfx, proto, ports);
		}
		if (s >= 0)
			len += (size_t)snprintf(o + len, cap - len, "}\n");
	}
	return o;
}

static void rand_dest(int *family, uint8_t *a)
{
	unsigned k = rnd(12);

	memset(a, 0, 16);
	if (k < 6) {
		*family = AF_INET;
		a[0] = k == 0 ? (uint8_t)rnd(256) : rnd(4) ? 10 : 127;
		a[1] = (uint8_t)rnd(3);
		a[2] = (uint8_t)rnd(3);
		a[3] = (uint8_t)(rnd(3) * 64 + rnd(3));
		if (k == 1)
			memset(a, 0, 4);
	} else if (k < 8) { /* mapped */
		*family = AF_INET6;
		a[10] = a[11] = 0xff;
		a[12] = rnd(4) ? 10 : 127;
		a[13] = (uint8_t)rnd(3);
		a[15] = (uint8_t)rnd(3);
		if (k == 7 && rnd(4) == 0)
			a[12] = 0;
	} else {
		*family = AF_INET6;
		a[0] = 0xfd;
		a[1] = (uint8_t)rnd(2);
		a[5] = (uint8_t)rnd(3);
		a[15] = (uint8_t)rnd(3);
		if (k == 11)
			memset(a, 0, 16), a[15] = (uint8_t)rnd(2);
		if (k == 10)
			a[0] = (uint8_t)rnd(256);
	}
}

static void test_differential(void)
{
	static const uint8_t protos[] = {6, 17, 1, 58, 132};
	long npol = 0, nq = 0, skipped = 0;
	int round;
	struct tc t;

	tc_begin(&t, "differential: policy_judge == policy_compiled_judge");
	for (round = 0; round < 400 && !t.failed; round++) {
		struct policy_errors e = {0};
		struct policy_compiled *c = NULL;
		struct policy *p = NULL;
		char *txt = rand_policy();
		int r, q;

		r = policy_parse("rand", txt, strlen(txt), &p, &e);
		if (r) {
			char *j = join_errs(&e);

			CHECK(&t, false, "random policy did not parse: %s\n%s", j, txt);
			free(j);
		} else if (policy_compile(p, &c, &e)) {
			skipped++; /* too many segments: legal outcome */
		} else {
			npol++;
			for (q = 0; q < 2000; q++) {
				size_t scope = rnd((uint32_t)p->nscopes);
				uint8_t a[16], proto = protos[rnd(5)];
				uint16_t port =
				    port_pool[rnd(sizeof(port_pool) / sizeof(port_pool[0]))];
				struct policy_verdict v, w;
				int fam = AF_INET;

				rand_dest(&fam, a);
				if (rnd(3) == 0)
					port = (uint16_t)(port + rnd(3) - 1);
				v = policy_judge(p, scope, fam, a, proto, port);
				w = policy_compiled_judge(c, scope, fam, a, proto, port);
				nq++;
				if (v.verdict != w.verdict || v.rule != w.rule) {
					char as[64];

					inet_ntop(fam, a, as, sizeof(as));
					CHECK(&t, false,
					      "scope %zu %s proto %u port %u: judge %u/%u compiled "
					      "%u/%u\n%s",
					      scope, as, proto, port, v.verdict, v.rule, w.verdict,
					      w.rule, txt);
					break;
				}
			}
		}
		policy_compiled_free(c);
		policy_free(p);
		policy_errors_free(&e);
		free(txt);
	}
	printf("# differential: %ld policies (%ld rejected by the compiler), %ld queries\n", npol,
	       skipped, nq);
	CHECK(&t, npol >= 300, "only %ld policies compiled", npol);
	tc_end(&t);
}

/* ---- scale ---- */

static void test_scale(void)
{
	const size_t n = 100000;
	struct policy_compiled *c = NULL;
	struct policy *p = NULL;
	size_t cap = n * 40 + 256, len = 0, i;
	char *txt = malloc(cap);
	double t0, t1, t2;
	struct tc t;

	if (!txt)
		abort();
	tc_begin(&t, "scale: 100k /32 prefixes under a /8 compile");
	len += (size_t)snprintf(txt + len, cap - len, "allow 10.0.0.0/8 tcp 443\nscope s {\n");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(
		    txt + len, cap - len, "  %s 10.%zu.%zu.%zu tcp 80,8000-8100\n",
		    i % 7 ? "allow" : "deny", (i >> 16) & 255, (i >> 8) & 255, i & 255);
	snprintf(txt + len, cap - len, "}\n");
	t0 = now_s(CLOCK_MONOTONIC);
	p = parse_ok(&t, txt);
	t1 = now_s(CLOCK_MONOTONIC);
	if (p)
		c = compile_ok(&t, p);
	t2 = now_s(CLOCK_MONOTONIC);
	if (c) {
		/* scope 0: /0, 10/8, 127/8; scope 1: those + 100k */
		CHECK(&t, c->n4 == n + 6 && c->n6 == 4, "n4 %zu n6 %zu", c->n4, c->n6);
		/* Same-shaped rules share a table (rule ids live in the
		 * LPM values): memory must not grow with the rule count. */
		CHECK(&t, c->nptabs <= 16, "%zu port tables for 100k same-shaped rules", c->nptabs);
		printf("# scale: parse %.3f s, compile %.3f s (%zu v4 keys, %zu tables)\n", t1 - t0,
		       t2 - t1, c->n4, c->nptabs);
	}
	policy_compiled_free(c);
	policy_free(p);
	free(txt);
	tc_end(&t);
}

/* Learned addresses (allow host): compiled as /32 or /128 allows of the
 * rule's scope with its id and ports, reaching the scope's subtree, never
 * over an explicit deny. */
static void test_learned(void)
{
	static const char *text = "deny 10.9.0.0/16\n"			    /* 1 */
				  "deny any tcp 22\n"			    /* 2 */
				  "allow dns *.corp.test\n"		    /* 3 */
				  "allow host web.corp.test tcp 443,8443\n" /* 4 */
				  "scope a {\n"
				  "  allow host db.corp.test\n" /* 5 */
				  "}\n"
				  "scope a/b {\n"
				  "}\n"
				  "scope c {\n"
				  "}\n";
	struct policy_compiled *c = NULL;
	struct policy_verdict v;
	struct policy *p;
	struct tc t;
	uint8_t web[16] = {10, 1, 2, 3}, db6[16] = {0xfd, 0, 0, 0x10, [15] = 7};
	uint8_t denied[16] = {10, 9, 1, 1}, other[16] = {10, 1, 2, 4};
	int r;

	tc_begin(&t, "learned: allow host addresses compile as exact allows");
	p = parse_ok(&t, text);
	if (!p) {
		tc_end(&t);
		return;
	}
	{
		struct policy_learned l[] = {
		    {0, &p->scopes[0].hosts[0], AF_INET, {0}, 0},
		    {1, &p->scopes[1].hosts[0], AF_INET6, {0}, 0},
		    {0, &p->scopes[0].hosts[0], AF_INET, {0}, 0},
		};

		memcpy(l[0].addr, web, 16);
		memcpy(l[1].addr, db6, 16);
		memcpy(l[2].addr, denied, 16);
		r = policy_compile_learned(p, l, 3, &c, NULL);
	}
	if (CHECK(&t, r == 0 && c, "policy_compile_learned: %d", r)) {
		v = policy_compiled_judge(c, 0, AF_INET, web, 6, 443);
		CHECK(&t, v.verdict == HUSH_VERDICT_ALLOW && v.rule == 4,
		      "web tcp 443 top level: %u rule %u", v.verdict, v.rule);
		v = policy_compiled_judge(c, 0, AF_INET, web, 6, 8443);
		CHECK(&t, v.verdict == HUSH_VERDICT_ALLOW, "web tcp 8443: %u", v.verdict);
		v = policy_compiled_judge(c, 0, AF_INET, web, 6, 80);
		CHECK(&t, v.verdict == HUSH_VERDICT_DENY, "web tcp 80 (not a host port): %u",
		      v.verdict);
		v = policy_compiled_judge(c, 0, AF_INET, web, 17, 443);
		CHECK(&t, v.verdict == HUSH_VERDICT_DENY, "web udp 443 (proto tcp only): %u",
		      v.verdict);
		v = policy_compiled_judge(c, 0, AF_INET, other, 6, 443);
		CHECK(&t, v.verdict == HUSH_VERDICT_DENY, "a neighbour address: %u", v.verdict);
		v = policy_compiled_judge(c, 3, AF_INET, web, 6, 443);
		CHECK(&t, v.verdict == HUSH_VERDICT_ALLOW, "top-level learned reaches scope c: %u",
		      v.verdict);
		v = policy_compiled_judge(c, 1, AF_INET6, db6, 6, 5432);
		CHECK(&t, v.verdict == HUSH_VERDICT_ALLOW && v.rule == 5,
		      "db in scope a, any port: %u rule %u", v.verdict, v.rule);
		v = policy_compiled_judge(c, 2, AF_INET6, db6, 17, 53);
		CHECK(&t, v.verdict == HUSH_VERDICT_ALLOW, "scope a's learned reaches a/b: %u",
		      v.verdict);
		v = policy_compiled_judge(c, 3, AF_INET6, db6, 6, 5432);
		CHECK(&t, v.verdict == HUSH_VERDICT_DENY, "scope a's learned not in scope c: %u",
		      v.verdict);
		v = policy_compiled_judge(c, 1, AF_INET6, db6, 6, 22);
		CHECK(&t, v.verdict == HUSH_VERDICT_ALLOW,
		      "deny any tcp 22 is /0: a learned /128 is more specific: %u", v.verdict);
		v = policy_compiled_judge(c, 0, AF_INET, denied, 6, 443);
		CHECK(&t, v.verdict == HUSH_VERDICT_DENY && v.rule == 1,
		      "an address under an explicit deny is not learned: %u rule %u", v.verdict,
		      v.rule);
		CHECK(&t,
		      policy_compiled_rule(c, 4) &&
			  !strcmp(policy_compiled_rule(c, 4)->text,
				  "allow host web.corp.test tcp 443,8443"),
		      "rule 4 keeps the host rule's text: %s",
		      policy_compiled_rule(c, 4) ? policy_compiled_rule(c, 4)->text : "(none)");
	}
	policy_compiled_free(c);
	c = NULL;
	r = policy_compile_learned(p, NULL, 0, &c, NULL);
	if (CHECK(&t, r == 0 && c, "no learned addresses: %d", r)) {
		v = policy_compiled_judge(c, 0, AF_INET, web, 6, 443);
		CHECK(&t, v.verdict == HUSH_VERDICT_DENY, "nothing learned: web denied: %u",
		      v.verdict);
	}
	policy_compiled_free(c);
	policy_free(p);
	tc_end(&t);
}

/* Learned addresses expire in the compiled tables: from the earliest expiry
 * of an address's entries on, its prefix judges as if nothing was learned
 * there (a less specific allow or deny, an explicit rule of the same prefix
 * still decide), and before it as learned. */
static void test_learned_expiry(void)
{
	static const char *text = "allow 10.1.0.0/16 tcp 80\n"	       /* 1 */
				  "deny any tcp 8443\n"		       /* 2 */
				  "allow 10.4.2.9 udp 53\n"	       /* 3 */
				  "allow host a.test tcp 443\n"	       /* 4 */
				  "allow host b.test tcp 8443,9000\n"; /* 5 */
	static const uint8_t protos[] = {6, 17, 1};
	static const uint16_t ports[] = {22, 53, 80, 443, 8443, 9000};
	uint8_t a1[16] = {10, 1, 2, 3}, a2[16] = {10, 4, 2, 9}, a3[16] = {10, 6, 0, 1};
	struct policy_compiled *c = NULL, *c0 = NULL;
	struct policy *p;
	struct tc t;
	int r, r0, bad = 0;

	tc_begin(&t, "learned: expiry in the compiled tables");
	p = parse_ok(&t, text);
	if (!p) {
		tc_end(&t);
		return;
	}
	{
		/* a1 (a, 100); a2 (a, 100 and b, 200: the earliest counts); a3 (b, never) */
		struct policy_learned l[] = {
		    {0, &p->scopes[0].hosts[0], AF_INET, {0}, 100},
		    {0, &p->scopes[0].hosts[0], AF_INET, {0}, 100},
		    {0, &p->scopes[0].hosts[1], AF_INET, {0}, 200},
		    {0, &p->scopes[0].hosts[1], AF_INET, {0}, 0},
		};

		memcpy(l[0].addr, a1, 16);
		memcpy(l[1].addr, a2, 16);
		memcpy(l[2].addr, a2, 16);
		memcpy(l[3].addr, a3, 16);
		r = policy_compile_learned(p, l, 4, &c, NULL);
	}
	r0 = policy_compile_learned(p, NULL, 0, &c0, NULL);
	if (CHECK(&t, r == 0 && c && r0 == 0 && c0, "compile: %d %d", r, r0)) {
		const uint8_t *addrs[] = {a1, a2, a3};
		const uint64_t nows[] = {0, 50, 99, 100, 150, 250};

		for (size_t ai = 0; ai < 3; ai++)
			for (size_t ni = 0; ni < 6; ni++)
				for (size_t pi = 0; pi < 3; pi++)
					for (size_t qi = 0; qi < 6; qi++) {
						uint64_t now = nows[ni];
						bool gone = ai < 2 && now >= 100;
						struct policy_verdict v, w;

						v = policy_compiled_judge_at(c, 0, AF_INET,
									     addrs[ai], protos[pi],
									     ports[qi], now);
						w = policy_compiled_judge_at(
						    gone ? c0 : c, 0, AF_INET, addrs[ai],
						    protos[pi], ports[qi], 0);
						if (v.verdict != w.verdict || v.rule != w.rule) {
							if (bad++ < 5)
								CHECK(&t, false,
								      "%u.%u.%u.%u proto %u port "
								      "%u at "
								      "%llu: %u rule %u, want %u "
								      "rule %u",
								      addrs[ai][0], addrs[ai][1],
								      addrs[ai][2], addrs[ai][3],
								      protos[pi], ports[qi],
								      (unsigned long long)now,
								      v.verdict, v.rule, w.verdict,
								      w.rule);
						}
					}
		CHECK(&t, bad == 0, "%d rulings differ from the expected tables", bad);
		/* spot checks of what that means */
		CHECK(&t,
		      policy_compiled_judge_at(c, 0, AF_INET, a1, 6, 443, 99).verdict ==
			  HUSH_VERDICT_ALLOW,
		      "a1 tcp 443 before expiry");
		CHECK(&t,
		      policy_compiled_judge_at(c, 0, AF_INET, a1, 6, 443, 100).verdict ==
			  HUSH_VERDICT_DENY,
		      "a1 tcp 443 at expiry");
		CHECK(&t, policy_compiled_judge_at(c, 0, AF_INET, a1, 6, 80, 100).rule == 1,
		      "a1 tcp 80 after expiry: the /16 allow still decides");
		CHECK(&t,
		      policy_compiled_judge_at(c, 0, AF_INET, a2, 6, 8443, 50).verdict ==
			  HUSH_VERDICT_ALLOW,
		      "a2 tcp 8443 (b) before the earliest expiry");
		{
			struct policy_verdict v =
			    policy_compiled_judge_at(c, 0, AF_INET, a2, 6, 8443, 150);

			CHECK(&t, v.verdict == HUSH_VERDICT_DENY && v.rule == 2,
			      "a2 tcp 8443 after: deny any tcp 8443 (/0) is not hidden: %u %u",
			      v.verdict, v.rule);
			v = policy_compiled_judge_at(c, 0, AF_INET, a2, 17, 53, 150);
			CHECK(&t, v.verdict == HUSH_VERDICT_ALLOW && v.rule == 3,
			      "a2 udp 53 after: its explicit rule of the same /32: %u %u",
			      v.verdict, v.rule);
		}
		CHECK(&t,
		      policy_compiled_judge_at(c, 0, AF_INET, a3, 6, 9000, 1ull << 62).verdict ==
			  HUSH_VERDICT_ALLOW,
		      "a3 (no expiry) stays");
		for (size_t i = 0; i < c->n4; i++)
			if (c->k4[i].prefixlen == 64 && !memcmp(c->k4[i].addr, a2, 4))
				CHECK(&t,
				      c->v4[i].expires == 100 && c->v4[i].fallback != c->v4[i].ptab,
				      "a2's LPM value: expires %llu",
				      (unsigned long long)c->v4[i].expires);
	}
	policy_compiled_free(c);
	policy_compiled_free(c0);
	policy_free(p);
	tc_end(&t);
}

/* HUSH_SCOPE_F_OTHER: some rule allows protocols without ports beyond
 * loopback, in the scope or an ancestor. */
static void test_scope_other(void)
{
	static const struct {
		const char *text;
		uint8_t want[3]; /* top level, scope a, scope b */
	} cases[] = {
	    {"scope a {\n}\nscope b {\n}\n", {0, 0, 0}},
	    {"allow 10.0.0.0/8\nscope a {\n}\nscope b {\n}\n", {1, 1, 1}},
	    {"allow 10.0.0.0/8 tcp 443\nscope a {\n}\nscope b {\n}\n", {0, 0, 0}},
	    {"allow 10.0.0.0/8 any 53\nscope a {\n}\nscope b {\n}\n", {0, 0, 0}},
	    {"allow 127.0.0.0/8\nallow ::1\nscope a {\n}\nscope b {\n}\n", {0, 0, 0}},
	    {"scope a {\n  allow fd00::/8\n}\nscope b {\n}\n", {0, 1, 0}},
	    {"deny 10.0.0.0/8\nscope a {\n}\nscope b {\n  allow any\n}\n", {0, 0, 1}},
	};
	struct tc t;

	tc_begin(&t, "scope flag: other protocols allowed beyond loopback");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy *p = parse_ok(&t, cases[i].text);
		struct policy_compiled *c = p ? compile_ok(&t, p) : NULL;

		for (size_t s = 0; c && s < 3; s++)
			CHECK(&t, (c->scopes[s].flags & HUSH_SCOPE_F_OTHER) == cases[i].want[s],
			      "case %zu scope %zu: flags %u", i, s, c->scopes[s].flags);
		policy_compiled_free(c);
		policy_free(p);
	}
	tc_end(&t);
}

/* HUSH_SCOPE_F_INBOUND_DENY: `inbound`, own or the nearest ancestor's,
 * default allow. */
static void test_scope_inbound(void)
{
	static const struct {
		const char *text;
		uint8_t want[3]; /* top level, scope a, scope a/b */
	} cases[] = {
	    {"scope a {\n}\nscope a/b {\n}\n", {0, 0, 0}},
	    {"inbound allow\nscope a {\n}\nscope a/b {\n}\n", {0, 0, 0}},
	    {"inbound deny\nscope a {\n}\nscope a/b {\n}\n", {1, 1, 1}},
	    {"scope a {\n  inbound deny\n}\nscope a/b {\n}\n", {0, 1, 1}},
	    {"inbound deny\nscope a {\n  inbound allow\n}\nscope a/b {\n}\n", {1, 0, 0}},
	    {"scope a {\n}\nscope a/b {\n  inbound deny\n}\n", {0, 0, 1}},
	};
	struct tc t;

	tc_begin(&t, "scope flag: inbound deny, inherited");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy *p = parse_ok(&t, cases[i].text);
		struct policy_compiled *c = p ? compile_ok(&t, p) : NULL;

		for (size_t s = 0; c && s < 3; s++)
			CHECK(&t,
			      !!(c->scopes[s].flags & HUSH_SCOPE_F_INBOUND_DENY) ==
				  cases[i].want[s],
			      "case %zu scope %zu: flags %u", i, s, c->scopes[s].flags);
		policy_compiled_free(c);
		policy_free(p);
	}
	tc_end(&t);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_errors();
	test_limits();
	test_normalize();
	test_structure();
	test_goldens();
	test_examples();
	test_semantics();
	test_modes();
	test_selectors();
	test_layout();
	test_compile_errors();
	test_differential();
	test_scale();
	test_learned();
	test_learned_expiry();
	test_scope_other();
	test_scope_inbound();
	return nfail ? 1 : 0;
}
