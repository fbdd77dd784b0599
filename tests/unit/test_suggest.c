// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of `hush policy suggest`'s pure half (agent/suggest.c): prefix
 * joining (only where every address was seen), port lists and ranges, and
 * the rendered policy: it parses, the reference judge (policy_judge) allows
 * every observation and denies its neighbours (another address, port,
 * protocol or scope), names become `allow host`/`allow dns` only where the
 * log ties them, comments carry counts and times.
 *
 * Prints "PASS: suggest: name" or "FAIL: ..."; exits 1 if any failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/suggest.h"
#include "rules/policy.h"
#define TC_PREFIX "suggest: "
#include "tests/unit/tc.h"

#define T0 1764867600000000000LL /* 2025-12-04T17:00:00Z */

static struct suggest_pfx pfx(const char *a)
{
	struct suggest_pfx p = {.allow = 1, .hosts = 1, .first = T0, .last = T0};

	if (inet_pton(AF_INET, a, p.addr) == 1) {
		p.family = AF_INET;
		p.plen = 32;
	} else {
		inet_pton(AF_INET6, a, p.addr);
		p.family = AF_INET6;
		p.plen = 128;
	}
	return p;
}

/* Aggregate the addresses (sorted) and print the result "a/n a/n ...". */
static void agg(const char *const *addrs, size_t n, char *out, size_t len)
{
	struct suggest_pfx v[300];
	size_t m, off = 0;

	for (size_t i = 0; i < n; i++)
		v[i] = pfx(addrs[i]);
	m = suggest_aggregate(v, n);
	out[0] = 0;
	for (size_t i = 0; i < m; i++) {
		char a[POLICY_ADDRSTRLEN];

		policy_prefix_text(a, v[i].family, v[i].addr, v[i].plen, true);
		off +=
		    (size_t)snprintf(out + off, len - off, "%s%s(%u)", i ? " " : "", a, v[i].hosts);
	}
}

static void test_aggregate(void)
{
	static const char *const pair[] = {"10.0.0.0", "10.0.0.1"};
	static const char *const four[] = {"10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7"};
	static const char *const three[] = {"10.0.0.0", "10.0.0.1", "10.0.0.2"};
	static const char *const notbud[] = {"10.0.0.1", "10.0.0.2"};
	static const char *const dup[] = {"10.0.0.9", "10.0.0.9"};
	static const char *const v6[] = {"fd00::", "fd00::1", "fd00::3"};
	char out[8192], want[64];
	struct tc t;

	tc_begin(&t, "aggregate: two buddies make a /31");
	agg(pair, 2, out, sizeof(out));
	CHECK(&t, strcmp(out, "10.0.0.0/31(2)") == 0, "got %s", out);
	tc_end(&t);

	tc_begin(&t, "aggregate: four make a /30");
	agg(four, 4, out, sizeof(out));
	CHECK(&t, strcmp(out, "10.0.0.4/30(4)") == 0, "got %s", out);
	tc_end(&t);

	tc_begin(&t, "aggregate: three of four stay a /31 and a /32 (never wider than seen)");
	agg(three, 3, out, sizeof(out));
	CHECK(&t, strcmp(out, "10.0.0.0/31(2) 10.0.0.2/32(1)") == 0, "got %s", out);
	tc_end(&t);

	tc_begin(&t, "aggregate: neighbours that are not buddies stay apart");
	agg(notbud, 2, out, sizeof(out));
	CHECK(&t, strcmp(out, "10.0.0.1/32(1) 10.0.0.2/32(1)") == 0, "got %s", out);
	tc_end(&t);

	tc_begin(&t, "aggregate: the same address twice is one");
	agg(dup, 2, out, sizeof(out));
	CHECK(&t, strcmp(out, "10.0.0.9/32(1)") == 0, "got %s", out);
	tc_end(&t);

	tc_begin(&t, "aggregate: IPv6");
	agg(v6, 3, out, sizeof(out));
	CHECK(&t, strcmp(out, "fd00::/127(2) fd00::3/128(1)") == 0, "got %s", out);
	tc_end(&t);

	tc_begin(&t, "aggregate: all 256 of a /24 make the /24, 255 do not");
	{
		char names[256][20];
		const char *p[256];

		for (int i = 0; i < 256; i++) {
			snprintf(names[i], sizeof(names[i]), "192.0.2.%d", i);
			p[i] = names[i];
		}
		agg(p, 256, out, sizeof(out));
		CHECK(&t, strcmp(out, "192.0.2.0/24(256)") == 0, "got %s", out);
		agg(p, 255, out, sizeof(out));
		snprintf(want, sizeof(want), "192.0.2.0/25(128) 192.0.2.128/26(64)");
		CHECK(&t, strncmp(out, want, strlen(want)) == 0 && strstr(out, "192.0.2.254/32(1)"),
		      "got %s", out);
	}
	tc_end(&t);
}

static void test_ports(void)
{
	static const uint16_t p[] = {80, 443, 8000, 8001, 8002, 9000};
	char buf[64];
	struct tc t;
	int n;

	tc_begin(&t, "ports: a list with a range");
	n = suggest_ports_text(p, 6, buf, sizeof(buf));
	CHECK(&t, n == 4 && strcmp(buf, "80,443,8000-8002,9000") == 0, "got %d %s", n, buf);
	tc_end(&t);

	tc_begin(&t, "ports: too small a buffer is -ENOSPC");
	n = suggest_ports_text(p, 6, buf, 8);
	CHECK(&t, n == -ENOSPC, "got %d", n);
	tc_end(&t);
}

/* ---- rendering ---- */

static void add(struct tc *t, struct suggest *s, const char *scope, const char *addr, int proto,
		int port, const char *name, bool audit, int64_t count)
{
	struct suggest_obs o = {.scope = scope,
				.kind = SUGGEST_ADDR,
				.proto = (uint8_t)proto,
				.port = (uint16_t)port,
				.name = name,
				.audit = audit,
				.count = count,
				.first = T0,
				.last = T0 + count,
				.who = "/usr/bin/curl"};

	if (inet_pton(AF_INET, addr, o.addr) == 1)
		o.family = AF_INET;
	else if (inet_pton(AF_INET6, addr, o.addr) == 1)
		o.family = AF_INET6;
	CHECK(t, suggest_add(s, &o) == 0, "add %s", addr);
}

static void add_dns(struct tc *t, struct suggest *s, const char *scope, const char *name)
{
	struct suggest_obs o = {.scope = scope,
				.kind = SUGGEST_DNS,
				.name = name,
				.count = 1,
				.first = T0 - 5,
				.last = T0 - 5};
	uint8_t res[16] = {10, 0, 0, 53};

	CHECK(t, suggest_add(s, &o) == 0, "add dns %s", name);
	suggest_note_resolver(s, AF_INET, res, 53, 1);
}

static size_t scope_idx(const struct policy *p, const char *path)
{
	for (size_t i = 0; i < p->nscopes; i++)
		if (strcmp(p->scopes[i].path, path) == 0)
			return i;
	return 0;
}

/* Does the policy allow addr proto port in scope path? */
static bool allows(const struct policy *p, const char *path, const char *addr, int proto, int port)
{
	uint8_t a[16] = {0};
	int fam = inet_pton(AF_INET, addr, a) == 1 ? AF_INET : AF_INET6;

	if (fam == AF_INET6)
		inet_pton(AF_INET6, addr, a);
	return policy_judge(p, scope_idx(p, path), fam, a, (uint8_t)proto, (uint16_t)port)
		   .verdict == HUSH_VERDICT_ALLOW;
}

static void test_render(void)
{
	struct suggest_head h = {.source = "from a test", .mode = "enforce"};
	struct policy_errors errs = {0};
	struct policy *p = NULL;
	struct suggest *s;
	char *text = NULL, res[64];
	size_t len = 0;
	FILE *m;
	struct tc t;

	tc_begin(&t, "render: the policy parses and allows exactly what was seen");
	if (suggest_new(&s)) {
		CHECK(&t, false, "suggest_new");
		tc_end(&t);
		return;
	}
	add(&t, s, "", "198.18.2.0", IPPROTO_TCP, 443, NULL, false, 2);
	add(&t, s, "", "198.18.2.1", IPPROTO_TCP, 443, NULL, true, 3);
	add(&t, s, "", "198.18.2.3", IPPROTO_TCP, 443, NULL, true, 1);
	add(&t, s, "", "198.18.2.3", IPPROTO_TCP, 8001, NULL, true, 1);
	add(&t, s, "", "198.18.2.3", IPPROTO_TCP, 8000, NULL, true, 1);
	add(&t, s, "", "198.18.2.9", IPPROTO_TCP, 53, NULL, true, 1);
	add(&t, s, "", "198.18.2.9", IPPROTO_UDP, 53, NULL, true, 1);
	add(&t, s, "", "198.18.2.7", SUGGEST_PROTO_OTHER, 0, NULL, true, 4);
	add(&t, s, "", "fd00:2::2", IPPROTO_UDP, 7000, NULL, true, 1);
	add(&t, s, "", "198.18.2.20", IPPROTO_TCP, 80, "only.named.example", true, 1);
	add_dns(&t, s, "app/web", "models.corp.internal");
	add(&t, s, "app/web", "198.18.2.50", IPPROTO_TCP, 443, "models.corp.internal", true, 1);
	add(&t, s, "app/web", "198.18.2.51", IPPROTO_TCP, 443, "models.corp.internal", true, 1);
	add(&t, s, "app/web", "198.18.2.60", IPPROTO_UDP, 123, NULL, false, 1);
	{ /* a process named to inject a statement into the comment */
		struct suggest_obs o = {.scope = "",
					.kind = SUGGEST_ADDR,
					.family = AF_INET,
					.addr = {198, 18, 2, 70},
					.proto = IPPROTO_TCP,
					.port = 1,
					.count = 1,
					.first = T0,
					.last = T0,
					.who = "/tmp/x\nallow any\n"};

		CHECK(&t, suggest_add(s, &o) == 0, "add evil");
	}
	suggest_skip(s, SUGGEST_SKIP_DENIED, 7);
	CHECK(&t, suggest_needs_resolver(s), "needs a resolver");
	CHECK(&t, suggest_resolver(s, res, sizeof(res), NULL) && strcmp(res, "10.0.0.53") == 0,
	      "resolver %s", res);
	h.resolver = res;
	m = open_memstream(&text, &len);
	CHECK(&t, m && suggest_render(s, &h, m) == 0, "render");
	if (m)
		fclose(m);
	CHECK(&t, text && policy_parse("(suggested)", text, len, &p, &errs) == 0, "parse: %s",
	      errs.n ? errs.msg[0] : "");
	if (p) {
		CHECK(&t, allows(p, "", "198.18.2.0", IPPROTO_TCP, 443), "198.18.2.0 tcp 443");
		CHECK(&t, allows(p, "", "198.18.2.1", IPPROTO_TCP, 443), "198.18.2.1 tcp 443");
		CHECK(&t, !allows(p, "", "198.18.2.2", IPPROTO_TCP, 443), "198.18.2.2 never seen");
		CHECK(&t, allows(p, "", "198.18.2.3", IPPROTO_TCP, 8001), "8001");
		CHECK(&t, !allows(p, "", "198.18.2.3", IPPROTO_TCP, 8002), "8002 never seen");
		CHECK(&t, !allows(p, "", "198.18.2.3", IPPROTO_UDP, 443), "udp never seen");
		CHECK(&t, allows(p, "", "198.18.2.9", IPPROTO_UDP, 53), "tcp+udp 53");
		CHECK(&t, allows(p, "", "198.18.2.7", IPPROTO_ICMP, 0), "icmp");
		CHECK(&t, allows(p, "", "fd00:2::2", IPPROTO_UDP, 7000), "v6");
		CHECK(&t, !allows(p, "", "fd00:2::3", IPPROTO_UDP, 7000), "v6 neighbour");
		CHECK(&t, allows(p, "", "198.18.2.20", IPPROTO_TCP, 80), "named, no query: addr");
		CHECK(&t, allows(p, "app/web", "198.18.2.60", IPPROTO_UDP, 123), "scope rule");
		CHECK(&t, !allows(p, "", "198.18.2.60", IPPROTO_UDP, 123), "scope rule outside");
		CHECK(&t, !allows(p, "app/web", "198.18.2.50", IPPROTO_TCP, 443),
		      "host rule: not an address rule");
	}
	CHECK(&t, text && strstr(text, "allow 198.18.2.0/31 tcp 443\n"), "a /31: %s", text);
	CHECK(&t, text && strstr(text, "allow 198.18.2.3 tcp 443,8000-8001\n"), "ports: %s", text);
	CHECK(&t, text && strstr(text, "allow 198.18.2.9 any 53\n"), "any: %s", text);
	CHECK(&t, text && strstr(text, "allow 198.18.2.7\n") && strstr(text, "every protocol"),
	      "icmp wider, said: %s", text);
	CHECK(&t, text && strstr(text, "scope app/web {\n"), "scope block: %s", text);
	CHECK(&t, text && strstr(text, "\tallow host models.corp.internal tcp 443\n"),
	      "host rule: %s", text);
	CHECK(&t, text && strstr(text, "\tallow dns models.corp.internal\n"), "dns: %s", text);
	CHECK(&t, text && !strstr(text, "allow host only.named.example"),
	      "no host rule without a query: %s", text);
	CHECK(&t, text && strstr(text, "# 5 attempts (2 allowed, 3 audited), 2025-12-04T17:00:00Z"),
	      "counts and times: %s", text);
	CHECK(&t, text && strstr(text, "# Left out: 7 rows denied."), "skips: %s", text);
	CHECK(&t, text && !strstr(text, "\nallow any") && strstr(text, "/tmp/x\\x0aallow any\\x0a"),
	      "a process name cannot inject a statement: %s", text);
	CHECK(&t, text && strstr(text, "mode enforce\nresolver 10.0.0.53\n"), "head: %s", text);
	tc_end(&t);
	policy_free(p);
	policy_errors_free(&errs);
	free(text);

	tc_begin(&t, "render: bad observations are refused");
	{
		struct suggest_obs o = {.scope = "", .kind = SUGGEST_DNS, .name = NULL};

		CHECK(&t, suggest_add(s, &o) == -EINVAL, "dns without a name");
		o.kind = SUGGEST_ADDR;
		o.family = 99;
		CHECK(&t, suggest_add(s, &o) == -EINVAL, "unknown family");
	}
	tc_end(&t);
	suggest_free(s);
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; p && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* The same name asked of two resolvers is one `allow dns`; host rules
 * merge ports and join tcp and udp; a name asked after the connection's
 * last attempt does not make a host rule. */
static void test_names(void)
{
	struct suggest_head h = {.mode = "audit", .resolver = "10.0.0.53"};
	struct suggest_obs d = {.scope = "",
				.kind = SUGGEST_DNS,
				.name = "a.example",
				.count = 1,
				.first = T0 - 10,
				.last = T0 - 10};
	uint8_t r1[16] = {10, 0, 0, 53}, r2[16] = {10, 0, 0, 54};
	struct suggest *s;
	char *text = NULL;
	size_t len = 0;
	FILE *m;
	struct tc t;

	tc_begin(&t, "names: one allow dns per name, host rules merged, order respected");
	if (suggest_new(&s)) {
		CHECK(&t, false, "suggest_new");
		tc_end(&t);
		return;
	}
	CHECK(&t, suggest_add(s, &d) == 0, "dns 1");
	suggest_note_resolver(s, AF_INET, r1, 53, 1);
	d.first = d.last = T0 - 9;
	CHECK(&t, suggest_add(s, &d) == 0, "dns 2");
	suggest_note_resolver(s, AF_INET, r2, 53, 1);
	add(&t, s, "", "192.0.2.1", IPPROTO_TCP, 443, "a.example", true, 1);
	add(&t, s, "", "192.0.2.2", IPPROTO_TCP, 443, "a.example", true, 1);
	add(&t, s, "", "192.0.2.2", IPPROTO_UDP, 443, "a.example", true, 1);
	add(&t, s, "", "192.0.2.1", IPPROTO_UDP, 443, "a.example", true, 1);
	/* b.example asked only after the connection: an address rule */
	d.name = "b.example";
	d.first = d.last = T0 + 100;
	CHECK(&t, suggest_add(s, &d) == 0, "dns b");
	add(&t, s, "", "192.0.2.9", IPPROTO_TCP, 80, "b.example", true, 1);
	m = open_memstream(&text, &len);
	CHECK(&t, m && suggest_render(s, &h, m) == 0, "render");
	if (m)
		fclose(m);
	CHECK(&t, count_of(text, "allow dns a.example\n") == 1, "one allow dns: %s", text);
	CHECK(&t, text && strstr(text, "allow host a.example any 443\n"), "host any: %s", text);
	CHECK(&t, text && !strstr(text, "allow 192.0.2.1"), "no address rule for a host: %s", text);
	CHECK(&t,
	      text && strstr(text, "allow 192.0.2.9 tcp 80\n") &&
		  !strstr(text, "allow host b.example"),
	      "asked after: address rule: %s", text);
	CHECK(&t, text && strstr(text, "mode audit\n"), "mode kept: %s", text);
	tc_end(&t);
	free(text);
	suggest_free(s);
}

int main(void)
{
	test_aggregate();
	test_ports();
	test_render();
	test_names();
	return nfail ? 1 : 0;
}
