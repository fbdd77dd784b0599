/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Unit tests of the policy parser (rules/): parser errors (every message,
 * table-driven), limits, normalization, structure, golden files
 * tests/policy/N.in -> N.ok, round trips and the shipped examples.  Judged
 * semantics and table layout: test_policy_judge.c; the differential test,
 * scale and learned addresses: test_policy_diff.c.
 *
 * Prints "PASS: name" or "FAIL: name: why" per case; exits 1 if any failed.
 */
#include "tests/unit/policy_tc.h"

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

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_errors();
	test_limits();
	test_normalize();
	test_structure();
	test_goldens();
	test_examples();
	return nfail ? 1 : 0;
}
