// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * BPF tier: the real cgroup_skb/egress program in the real kernel, driven
 * with bpf_prog_test_run_opts() on crafted packets (selftests style).
 *
 * The test moves itself into a cgroup it creates, loads a private engine
 * attached there (nothing of the machine's is touched, and no packet is
 * sent: test_run executes the program on a buffer), and asserts both the
 * program's return (1 pass, 0 drop) and the event it emits.  A differential
 * case compares the kernel's verdict and deciding rule with the reference
 * semantics (policy_judge) on thousands of random destinations.
 *
 * Prints PASS:/FAIL:/SKIP: lines for tests/run.sh.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/cgroup.h"
#include "agent/engine.h"
#include "agent/log.h"
#include "rules/policy.h"

static int failures;
static char test_cg[PATH_MAX], orig_cg[PATH_MAX - 64];

#define CHECK(cond, name, ...)                                                                     \
	do {                                                                                       \
		if (cond) {                                                                        \
			printf("PASS: %s\n", name);                                                \
		} else {                                                                           \
			printf("FAIL: %s: ", name);                                                \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

/* ---- events ---- */

#define MAXEV 8192
static struct hush_event evs[MAXEV];
static int nev;

static int on_event(void *ctx, const struct hush_event *e)
{
	(void)ctx;
	if (nev < MAXEV)
		evs[nev++] = *e;
	return 0;
}

/* ---- packets ---- */

struct pkt {
	unsigned char b[512];
	size_t len;
};

static void eth(struct pkt *p, uint16_t type)
{
	memset(p->b, 0, 12);
	p->b[12] = type >> 8;
	p->b[13] = type & 0xff;
	p->len = 14;
}

/* IPv4 header with `optlen` bytes of options copied from opt. */
static void ip4(struct pkt *p, const char *dst, uint8_t proto, const unsigned char *opt,
		size_t optlen, uint16_t frag)
{
	unsigned char *h = p->b + p->len;
	size_t hl = 20 + optlen;

	eth(p, 0x0800);
	h = p->b + 14;
	memset(h, 0, hl);
	h[0] = 0x40 | (uint8_t)(hl / 4);
	h[8] = 64;
	h[9] = proto;
	h[6] = frag >> 8;
	h[7] = frag & 0xff;
	inet_pton(AF_INET, "198.18.1.1", h + 12);
	inet_pton(AF_INET, dst, h + 16);
	if (optlen)
		memcpy(h + 20, opt, optlen);
	p->len = 14 + hl;
}

static void ip6(struct pkt *p, const char *dst, uint8_t nexthdr)
{
	unsigned char *h;

	eth(p, 0x86dd);
	h = p->b + 14;
	memset(h, 0, 40);
	h[0] = 0x60;
	h[6] = nexthdr;
	h[7] = 64;
	inet_pton(AF_INET6, "fd00:1::1", h + 8);
	inet_pton(AF_INET6, dst, h + 24);
	p->len = 14 + 40;
}

static void l4(struct pkt *p, uint16_t dport)
{
	unsigned char *h = p->b + p->len;

	memset(h, 0, 20);
	h[0] = 0x30;
	h[1] = 0x39;
	h[2] = dport >> 8;
	h[3] = dport & 0xff;
	h[12] = 0x50;
	p->len += 20;
}

static void set_len(struct pkt *p)
{
	size_t n = p->len - 14;

	if (p->b[12] == 0x08) {
		p->b[14 + 2] = n >> 8;
		p->b[14 + 3] = n & 0xff;
	} else {
		n -= 40;
		p->b[14 + 4] = n >> 8;
		p->b[14 + 5] = n & 0xff;
	}
}

/* Device the packet leaves on (__sk_buff.ifindex); 0: none given, and the
 * kernel runs it on the loopback device. */
static int run_ifindex;

static int run(int fd, struct pkt *p, int *retval)
{
	struct __sk_buff skb = {.ifindex = (__u32)run_ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->b, .data_size_in = (__u32)p->len,
		    .repeat = 1);
	int ret;

	if (run_ifindex) {
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
	}
	set_len(p);
	ret = bpf_prog_test_run_opts(fd, &o);
	if (ret)
		return -errno;
	*retval = (int)o.retval;
	return 0;
}

/* ---- set-up ---- */

static void cleanup(void)
{
	char p[PATH_MAX + 32];
	int fd;

	if (!test_cg[0])
		return;
	snprintf(p, sizeof(p), "%s/cgroup.procs", orig_cg);
	fd = open(p, O_WRONLY);
	if (fd >= 0) {
		dprintf(fd, "%d\n", (int)getpid());
		close(fd);
	}
	cgroup_destroy(test_cg, 2000);
	test_cg[0] = 0;
}

static int enter_cgroup(const char *path)
{
	char p[PATH_MAX + 32];
	int fd, ret = 0;

	snprintf(p, sizeof(p), "%s/cgroup.procs", path);
	fd = open(p, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (dprintf(fd, "%d\n", (int)getpid()) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static struct engine *load(const char *text, struct policy **polp, struct policy_compiled **pcp,
			   bool log_allowed)
{
	struct engine_opts eo = {
	    .cgroup = test_cg, .log_allowed = log_allowed, .forbid_root = true};
	struct policy_errors errs = {0};
	struct policy_compiled *pc = NULL;
	struct policy *pol = NULL;
	struct engine *e = NULL;
	char *norm;

	if (policy_parse("test", text, strlen(text), &pol, &errs) ||
	    policy_compile(pol, &pc, &errs)) {
		policy_errors_print(&errs, "test: ", stdout);
		policy_errors_free(&errs);
		policy_free(pol);
		return NULL;
	}
	policy_errors_free(&errs);
	norm = policy_to_string(pol);
	if (engine_open(&eo, pc, norm, &e)) {
		free(norm);
		policy_compiled_free(pc);
		policy_free(pol);
		return NULL;
	}
	free(norm);
	engine_events(e, on_event, NULL);
	*polp = pol;
	*pcp = pc;
	return e;
}

/* Run p, drain events; expect ret and (if ev_verdict >= 0) one event. */
static void expect(struct engine *e, const char *name, struct pkt *p, int want_ret, int want_ev,
		   uint32_t want_rule, const char *want_addr, uint8_t want_flags)
{
	char buf[INET6_ADDRSTRLEN] = "";
	int rv = -1, ret;

	nev = 0;
	ret = run(engine_prog_fd(e, ENGINE_LINK_EGRESS), p, &rv);
	engine_drain(e);
	if (ret) {
		CHECK(0, name, "bpf_prog_test_run: %s", strerror(-ret));
		return;
	}
	if (rv != want_ret) {
		CHECK(0, name, "program returned %d, want %d", rv, want_ret);
		return;
	}
	if (want_ev < 0) {
		CHECK(nev == 0, name, "%d unexpected events", nev);
		return;
	}
	if (nev != 1) {
		CHECK(0, name, "%d events, want 1", nev);
		return;
	}
	inet_ntop(evs[0].family == 2 ? AF_INET : AF_INET6, evs[0].daddr, buf, sizeof(buf));
	CHECK(evs[0].verdict == want_ev && evs[0].rule == want_rule &&
		  evs[0].hook == HUSH_HOOK_EGRESS && strcmp(buf, want_addr) == 0 &&
		  (evs[0].flags & want_flags) == want_flags,
	      name, "event verdict %u rule %u addr %s flags %#x; want %d %u %s %#x", evs[0].verdict,
	      evs[0].rule, buf, evs[0].flags, want_ev, want_rule, want_addr, want_flags);
}

static const char *policy1 = "mode enforce\n"
			     "allow 198.18.1.0/24 tcp 80,443,8000-8100\n" /* rule 1 */
			     "deny 198.18.1.99\n"			  /* rule 2 */
			     "allow 198.18.3.0/24\n"			  /* rule 3 */
			     "allow fd00:1::/64 udp 53\n"		  /* rule 4 */
			     "allow fd00:3::/64\n";			  /* rule 5 */

static void test_basic(void)
{
	struct policy_compiled *pc;
	struct policy *pol;
	struct engine *e = load(policy1, &pol, &pc, false);
	unsigned char lsrr_bad[8] = {1, 131, 7, 4, 198, 18, 2, 2}; /* NOP, LSRR via forb */
	unsigned char lsrr_ok[8] = {1, 131, 7, 4, 198, 18, 3, 3};  /* NOP, LSRR via allowed */
	struct pkt p;

	if (!e) {
		CHECK(0, "egress: load policy1", "engine_open failed");
		return;
	}
	ip4(&p, "198.18.1.2", 6, NULL, 0, 0);
	l4(&p, 443);
	expect(e, "egress: v4 tcp allowed port passes", &p, 1, -1, 0, "", 0);
	ip4(&p, "198.18.1.2", 6, NULL, 0, 0);
	l4(&p, 8050);
	expect(e, "egress: v4 tcp port range passes", &p, 1, -1, 0, "", 0);
	ip4(&p, "198.18.1.2", 6, NULL, 0, 0);
	l4(&p, 22);
	expect(e, "egress: v4 tcp other port dropped", &p, 0, HUSH_EV_DENY, HUSH_RULE_DEFAULT,
	       "198.18.1.2", 0);
	ip4(&p, "198.18.1.99", 6, NULL, 0, 0);
	l4(&p, 443);
	expect(e, "egress: carve-out deny inside allowed CIDR", &p, 0, HUSH_EV_DENY, 2,
	       "198.18.1.99", 0);
	ip4(&p, "198.18.2.2", 17, NULL, 0, 0);
	l4(&p, 53);
	expect(e, "egress: v4 udp to forbidden host dropped", &p, 0, HUSH_EV_DENY,
	       HUSH_RULE_DEFAULT, "198.18.2.2", 0);
	ip4(&p, "198.18.1.2", 1, NULL, 0, 0);
	l4(&p, 0);
	expect(e, "egress: icmp where only tcp is allowed dropped", &p, 0, HUSH_EV_DENY,
	       HUSH_RULE_DEFAULT, "198.18.1.2", 0);
	ip4(&p, "198.18.3.7", 1, NULL, 0, 0);
	l4(&p, 0);
	expect(e, "egress: icmp allowed by proto-any rule", &p, 1, -1, 0, "", 0);
	ip4(&p, "127.0.0.1", 6, NULL, 0, 0);
	l4(&p, 9);
	expect(e, "egress: loopback allowed implicitly", &p, 1, -1, 0, "", 0);
	ip4(&p, "198.18.1.2", 6, lsrr_bad, sizeof(lsrr_bad), 0);
	l4(&p, 443);
	expect(e, "egress: v4 loose source route via forbidden hop dropped", &p, 0, HUSH_EV_DENY,
	       HUSH_RULE_DEFAULT, "198.18.2.2", HUSH_EVF_ROUTED);
	ip4(&p, "198.18.3.2", 17, lsrr_ok, sizeof(lsrr_ok), 0);
	l4(&p, 443);
	expect(e, "egress: v4 source route through allowed hops passes", &p, 1, -1, 0, "", 0);
	ip4(&p, "198.18.1.2", 6, NULL, 0, 0x0010); /* offset 16*8: non-first fragment */
	l4(&p, 0);
	expect(e, "egress: non-first fragment where tcp allowed passes", &p, 1, -1, 0, "", 0);
	ip4(&p, "198.18.2.2", 6, NULL, 0, 0x0010);
	l4(&p, 0);
	expect(e, "egress: non-first fragment to forbidden host dropped", &p, 0, HUSH_EV_DENY,
	       HUSH_RULE_DEFAULT, "198.18.2.2", HUSH_EVF_FRAG);
	ip4(&p, "198.18.1.2", 6, NULL, 0, 0);
	p.b[14] = 0x4f; /* claims 40 bytes of options the packet does not have */
	expect(e, "egress: truncated IPv4 options dropped", &p, 0, HUSH_EV_DENY, HUSH_RULE_DEFAULT,
	       "198.18.1.2", 0);

	/* IPv6 */
	ip6(&p, "fd00:1::2", 17);
	l4(&p, 53);
	expect(e, "egress: v6 udp allowed port passes", &p, 1, -1, 0, "", 0);
	ip6(&p, "fd00:1::2", 6);
	l4(&p, 53);
	expect(e, "egress: v6 tcp where only udp allowed dropped", &p, 0, HUSH_EV_DENY,
	       HUSH_RULE_DEFAULT, "fd00:1::2", 0);
	ip6(&p, "fd00:2::2", 58);
	l4(&p, 0);
	expect(e, "egress: v6 icmpv6 to forbidden host dropped", &p, 0, HUSH_EV_DENY,
	       HUSH_RULE_DEFAULT, "fd00:2::2", 0);
	ip6(&p, "::1", 6);
	l4(&p, 1);
	expect(e, "egress: v6 loopback allowed implicitly", &p, 1, -1, 0, "", 0);
	{
		/* Hop-by-hop options (8 bytes, PadN), then UDP 53: allowed. */
		ip6(&p, "fd00:1::2", 0);
		memcpy(p.b + p.len, (unsigned char[8]){17, 0, 1, 4, 0, 0, 0, 0}, 8);
		p.len += 8;
		l4(&p, 53);
		expect(e, "egress: v6 hop-by-hop then allowed udp passes", &p, 1, -1, 0, "", 0);
	}
	{
		/* Segment routing header: first hop fd00:3::3 (allowed) then
		 * the forbidden fd00:2::2 in the segment list. */
		unsigned char srh[8 + 32] = {17, 4, 4, 1, 1, 0, 0, 0};

		ip6(&p, "fd00:3::3", 43);
		inet_pton(AF_INET6, "fd00:2::2", srh + 8);
		inet_pton(AF_INET6, "fd00:3::3", srh + 24);
		memcpy(p.b + p.len, srh, sizeof(srh));
		p.len += sizeof(srh);
		l4(&p, 53);
		expect(e, "egress: v6 routing header via forbidden segment dropped", &p, 0,
		       HUSH_EV_DENY, HUSH_RULE_DEFAULT, "fd00:2::2", HUSH_EVF_ROUTED);
	}
	{
		/* Nine extension headers: more than walked, so denied. */
		ip6(&p, "fd00:3::3", 60);
		for (int i = 0; i < 9; i++) {
			memcpy(p.b + p.len,
			       (unsigned char[8]){i == 8 ? 17 : 60, 0, 1, 4, 0, 0, 0, 0}, 8);
			p.len += 8;
		}
		l4(&p, 53);
		expect(e, "egress: v6 with too many extension headers dropped", &p, 0, HUSH_EV_DENY,
		       HUSH_RULE_DEFAULT, "fd00:3::3", 0);
	}
	engine_close(e);
	policy_compiled_free(pc);
	policy_free(pol);
}

static void test_audit_and_loopback_off(void)
{
	struct policy_compiled *pc;
	struct policy *pol;
	struct engine *e = load("mode audit\nallow 198.18.1.0/24\n", &pol, &pc, false);
	struct pkt p;

	if (!e) {
		CHECK(0, "egress: load audit policy", "engine_open failed");
		return;
	}
	ip4(&p, "198.18.2.2", 6, NULL, 0, 0);
	l4(&p, 443);
	expect(e, "egress: audit mode passes and reports would-deny", &p, 1, HUSH_EV_AUDIT,
	       HUSH_RULE_DEFAULT, "198.18.2.2", 0);
	engine_close(e);
	policy_compiled_free(pc);
	policy_free(pol);

	e = load("deny 127.0.0.0/8\nallow 127.0.0.1 tcp 11434\n", &pol, &pc, false);
	if (!e) {
		CHECK(0, "egress: load loopback-off policy", "engine_open failed");
		return;
	}
	ip4(&p, "127.0.0.1", 6, NULL, 0, 0);
	l4(&p, 11434);
	expect(e, "egress: explicit loopback port allowed", &p, 1, -1, 0, "", 0);
	ip4(&p, "127.0.0.1", 6, NULL, 0, 0);
	l4(&p, 22);
	expect(e, "egress: deny 127.0.0.0/8 switches implicit loopback off", &p, 0, HUSH_EV_DENY, 1,
	       "127.0.0.1", 0);
	engine_close(e);
	policy_compiled_free(pc);
	policy_free(pol);
}

/*
 * Loopback only on the loopback device: a packet to 127.0.0.0/8 or ::1
 * leaving on another device (a socket bound to it) is judged without the
 * implicit loopback allow, and a cached "loopback allowed" does not decide
 * it.  The device is a veth pair in a network namespace of the test's own
 * (test_run only names it; nothing is sent).
 */
static void loopdev_cases(struct engine *e, int dev)
{
	struct pkt p;

	run_ifindex = 1;
	ip4(&p, "127.0.0.1", 6, NULL, 0, 0);
	l4(&p, 9);
	expect(e, "loopdev: loopback on lo passes (and is cached)", &p, 1, -1, 0, "", 0);
	run_ifindex = dev;
	ip4(&p, "127.0.0.1", 6, NULL, 0, 0);
	l4(&p, 9);
	expect(e, "loopdev: 127.0.0.1 leaving on a veth dropped despite the cache", &p, 0,
	       HUSH_EV_DENY, HUSH_RULE_LOOPDEV, "127.0.0.1", 0);
	ip4(&p, "127.3.2.1", 17, NULL, 0, 0);
	l4(&p, 53);
	expect(e, "loopdev: 127/8 udp 53 leaving on a veth dropped", &p, 0, HUSH_EV_DENY,
	       HUSH_RULE_LOOPDEV, "127.3.2.1", 0);
	ip6(&p, "::1", 17);
	l4(&p, 53);
	expect(e, "loopdev: ::1 leaving on a veth dropped", &p, 0, HUSH_EV_DENY, HUSH_RULE_LOOPDEV,
	       "::1", 0);
	ip4(&p, "127.0.0.1", 6, NULL, 0, 0);
	l4(&p, 5432);
	expect(e, "loopdev: an explicit rule for the address still decides", &p, 1, -1, 0, "", 0);
	ip4(&p, "198.18.1.2", 6, NULL, 0, 0);
	l4(&p, 443);
	expect(e, "loopdev: an allowed address on the veth passes", &p, 1, -1, 0, "", 0);
	run_ifindex = 1;
	ip6(&p, "::1", 17);
	l4(&p, 53);
	expect(e, "loopdev: ::1 on lo still passes", &p, 1, -1, 0, "", 0);
	run_ifindex = 0;
}

static void test_loopback_device(void)
{
	const char *text = "allow 198.18.1.0/24\nallow 127.0.0.1 tcp 5432\n";
	struct policy_compiled *pc;
	struct policy *pol;
	struct engine *e;
	int netns, dev;
	struct pkt p;

	netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (netns < 0 || unshare(CLONE_NEWNET) < 0) {
		CHECK(0, "loopdev: private network namespace", "%s", strerror(errno));
		if (netns >= 0)
			close(netns);
		return;
	}
	if (system("ip link add hush-bt0 type veth peer name hush-bt1") != 0 ||
	    (dev = (int)if_nametoindex("hush-bt0")) <= 1) {
		CHECK(0, "loopdev: veth in the private namespace", "ip link add failed");
		goto out;
	}
	e = load(text, &pol, &pc, false);
	if (!e) {
		CHECK(0, "loopdev: load policy", "engine_open failed");
		goto out;
	}
	loopdev_cases(e, dev);
	engine_close(e);
	policy_compiled_free(pc);
	policy_free(pol);

	e = load("mode audit\nallow 198.18.1.0/24\n", &pol, &pc, false);
	if (!e) {
		CHECK(0, "loopdev: load audit policy", "engine_open failed");
		goto out;
	}
	run_ifindex = dev;
	ip4(&p, "127.0.0.1", 17, NULL, 0, 0);
	l4(&p, 53);
	expect(e, "loopdev: audit mode passes and reports it", &p, 1, HUSH_EV_AUDIT,
	       HUSH_RULE_LOOPDEV, "127.0.0.1", 0);
	run_ifindex = 0;
	engine_close(e);
	policy_compiled_free(pc);
	policy_free(pol);
out:
	if (setns(netns, CLONE_NEWNET) < 0)
		CHECK(0, "loopdev: back to the original network namespace", "%s", strerror(errno));
	close(netns); /* the private namespace goes with its veth pair */
}

static void test_scopes(void)
{
	const char *text = "allow 198.18.1.0/24\n"
			   "scope a {\n  allow 198.18.2.0/24 tcp 443\n}\n"
			   "scope b {\n  mode audit\n  deny 198.18.1.7\n}\n";
	char a[PATH_MAX + 8], b[PATH_MAX + 8];
	struct policy_compiled *pc;
	struct policy *pol;
	struct engine *e;
	struct pkt p;

	snprintf(a, sizeof(a), "%s/a", test_cg);
	snprintf(b, sizeof(b), "%s/b", test_cg);
	if (mkdir(a, 0755) || mkdir(b, 0755)) {
		CHECK(0, "egress: scopes set-up", "mkdir: %s", strerror(errno));
		return;
	}
	e = load(text, &pol, &pc, false);
	if (!e) {
		CHECK(0, "egress: load scoped policy", "engine_open failed");
		return;
	}
	ip4(&p, "198.18.2.2", 6, NULL, 0, 0);
	l4(&p, 443);
	expect(e, "egress: top level denies what scope a allows", &p, 0, HUSH_EV_DENY,
	       HUSH_RULE_DEFAULT, "198.18.2.2", 0);
	enter_cgroup(a);
	ip4(&p, "198.18.2.2", 6, NULL, 0, 0);
	l4(&p, 443);
	expect(e, "egress: scope a allows its own rule", &p, 1, -1, 0, "", 0);
	ip4(&p, "198.18.1.7", 6, NULL, 0, 0);
	l4(&p, 443);
	expect(e, "egress: scope a inherits top-level allow", &p, 1, -1, 0, "", 0);
	enter_cgroup(b);
	ip4(&p, "198.18.1.7", 6, NULL, 0, 0);
	l4(&p, 443);
	expect(e, "egress: scope b (audit) reports its carve-out", &p, 1, HUSH_EV_AUDIT, 3,
	       "198.18.1.7", 0);
	enter_cgroup(test_cg);
	engine_close(e);
	policy_compiled_free(pc);
	policy_free(pol);
}

/* Random policies vs. the reference: kernel verdict and rule must agree. */
static void test_differential(void)
{
	int mismatches = 0, checked = 0;
	char first[256] = "";

	srand(12345);
	for (int round = 0; round < 4; round++) {
		struct policy_compiled *pc;
		struct policy *pol;
		struct engine *e;
		char *text = NULL;
		size_t tl = 0;
		FILE *f = open_memstream(&text, &tl);

		for (int i = 0; i < 40; i++) {
			const char *proto[] = {"", " tcp", " udp", " any"};
			int pr = rand() % 4, plen = 8 + rand() % 25;
			uint32_t a = (198u << 24) | (18u << 16) | (uint32_t)(rand() % 4) << 8 |
				     (uint32_t)(rand() % 256);

			a &= plen ? ~0u << (32 - plen) : 0;
			fprintf(f, "%s %u.%u.%u.%u/%d%s", rand() % 3 ? "allow" : "deny", a >> 24,
				(a >> 16) & 255, (a >> 8) & 255, a & 255, plen, proto[pr]);
			if (pr && rand() % 2) {
				int lo = rand() % 1000;

				fprintf(f, " %d,%d-%d", 1000 + rand() % 100, lo, lo + rand() % 50);
			}
			fputc('\n', f);
		}
		fclose(f);
		e = load(text, &pol, &pc, true);
		free(text);
		if (!e) {
			CHECK(0, "egress: differential load", "engine_open failed");
			return;
		}
		for (int i = 0; i < 500; i++) {
			uint8_t addr[16] = {198, 18, (uint8_t)(rand() % 4),
					    (uint8_t)(rand() % 256)};
			uint8_t protos[] = {6, 17, 1};
			uint8_t proto = protos[rand() % 3];
			uint16_t port = (uint16_t)(rand() % 2 ? rand() % 1200 : rand() % 65536);
			struct policy_verdict want;
			char dst[32];
			struct pkt p;
			int rv = -1;

			if (proto == 1)
				port = 0;
			snprintf(dst, sizeof(dst), "%u.%u.%u.%u", addr[0], addr[1], addr[2],
				 addr[3]);
			want = policy_judge(pol, 0, AF_INET, addr, proto, port);
			ip4(&p, dst, proto, NULL, 0, 0);
			l4(&p, port);
			nev = 0;
			run(engine_prog_fd(e, ENGINE_LINK_EGRESS), &p, &rv);
			engine_drain(e);
			checked++;
			if (rv != (want.verdict == HUSH_VERDICT_ALLOW) || nev != 1 ||
			    evs[0].rule != want.rule) {
				if (!mismatches++)
					snprintf(
					    first, sizeof(first),
					    "%s proto %u port %u: kernel %d rule %u, reference "
					    "%u rule %u",
					    dst, proto, port, rv, nev ? evs[0].rule : 0,
					    want.verdict, want.rule);
			}
		}
		engine_close(e);
		policy_compiled_free(pc);
		policy_free(pol);
	}
	CHECK(mismatches == 0, "egress: kernel agrees with reference semantics (2000 random)",
	      "%d of %d differ; first: %s", mismatches, checked, first);
}

/*
 * Reload atomicity under traffic: a thread runs the real program on an
 * allowed and a denied destination without pause while the policy flips
 * between two differently shaped policies (both allow the one, deny the
 * other).  Any wrong verdict would be a half-visible policy.
 */
struct flipper {
	int fd;
	atomic_int stop;
	long runs, wrong;
	char first[128];
};

static void *hammer(void *arg)
{
	struct flipper *f = arg;
	struct pkt ok, bad;

	ip4(&ok, "198.18.1.7", 6, NULL, 0, 0);
	l4(&ok, 443);
	ip4(&bad, "10.9.9.9", 6, NULL, 0, 0);
	l4(&bad, 443);
	while (!atomic_load(&f->stop)) {
		int r1 = -1, r2 = -1;

		run(f->fd, &ok, &r1);
		run(f->fd, &bad, &r2);
		f->runs += 2;
		if (r1 != 1 || r2 != 0) {
			if (!f->wrong)
				snprintf(f->first, sizeof(f->first),
					 "after %ld runs: allowed returned %d, denied %d", f->runs,
					 r1, r2);
			f->wrong++;
		}
	}
	return NULL;
}

static char *make_policy(int variant, struct policy **pol, struct policy_compiled **pc)
{
	struct policy_errors errs = {0};
	char *text = NULL, *norm;
	size_t tl = 0;
	FILE *f = open_memstream(&text, &tl);

	if (variant == 0) {
		fprintf(f, "allow 198.18.1.0/24 tcp 443\n");
		for (int i = 0; i < 500; i++)
			fprintf(f, "deny 172.16.%d.%d\n", i / 256, i % 256);
	} else {
		fprintf(f, "allow 198.18.1.7 tcp 80,443\nallow 198.18.0.0/16 tcp 443\n");
		for (int i = 0; i < 3000; i++)
			fprintf(f, "allow 172.17.%d.%d udp 53\n", i / 256, i % 256);
		fprintf(f, "scope x {\n  allow 10.9.9.9\n}\n");
	}
	fclose(f);
	if (policy_parse("flip", text, tl, pol, &errs) || policy_compile(*pol, pc, &errs)) {
		policy_errors_free(&errs);
		free(text);
		return NULL;
	}
	policy_errors_free(&errs);
	free(text);
	norm = policy_to_string(*pol);
	return norm;
}

static void test_atomic_reload(void)
{
	struct policy_compiled *pc[2] = {0};
	struct policy *pol[2] = {0};
	char *text[2], xdir[PATH_MAX + 8];
	struct flipper f = {0};
	struct engine *e;
	pthread_t th;
	int applied = 0, failed = 0;

	snprintf(xdir, sizeof(xdir), "%s/x", test_cg);
	mkdir(xdir, 0755); /* scope x exists: variant 1 binds it */
	text[0] = make_policy(0, &pol[0], &pc[0]);
	text[1] = make_policy(1, &pol[1], &pc[1]);
	if (!text[0] || !text[1]) {
		CHECK(0, "egress: atomic reload set-up", "policies did not compile");
		goto out;
	}
	{
		struct engine_opts eo = {.cgroup = test_cg, .forbid_root = true};

		if (engine_open(&eo, pc[0], text[0], &e)) {
			CHECK(0, "egress: atomic reload set-up", "engine_open failed");
			goto out;
		}
	}
	f.fd = engine_prog_fd(e, ENGINE_LINK_EGRESS);
	pthread_create(&th, NULL, hammer, &f);
	for (int i = 1; i <= 200; i++) {
		if (engine_apply(e, pc[i % 2], text[i % 2]))
			failed++;
		else
			applied++;
	}
	atomic_store(&f.stop, 1);
	pthread_join(th, NULL);
	CHECK(failed == 0 && f.wrong == 0 && f.runs > 1000,
	      "egress: 200 policy flips under traffic, no wrong verdict",
	      "%d applies failed, %ld of %ld runs wrong (%s)", failed, f.wrong, f.runs, f.first);
	printf("# atomic reload: %d applies, %ld program runs during them\n", applied, f.runs);
	engine_close(e);
out:
	for (int i = 0; i < 2; i++) {
		free(text[i]);
		policy_compiled_free(pc[i]);
		policy_free(pol[i]);
	}
}

int main(void)
{
	char mnt[PATH_MAX - 64];
	int ret;

	log_init("test_egress", LOG_LVL_ERR);
	log_libbpf_init();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("SKIP: test_egress: needs root (CAP_BPF, CAP_NET_ADMIN, cgroup writes)\n");
		return 0;
	}
	if (cgroup_find_mount(mnt, sizeof(mnt)) || cgroup_self_path(orig_cg, sizeof(orig_cg))) {
		printf("FAIL: test_egress: no cgroup2 mount in /proc/mounts\n");
		return 1;
	}
	snprintf(test_cg, sizeof(test_cg), "%s/hush-bpftest.%d", mnt, (int)getpid());
	if (mkdir(test_cg, 0755) < 0) {
		printf("FAIL: test_egress: mkdir %s: %s\n", test_cg, strerror(errno));
		return 1;
	}
	atexit(cleanup);
	ret = enter_cgroup(test_cg);
	if (ret) {
		printf("FAIL: test_egress: cannot enter %s: %s\n", test_cg, strerror(-ret));
		return 1;
	}
	test_basic();
	test_audit_and_loopback_off();
	test_scopes();
	test_loopback_device();
	test_differential();
	test_atomic_reload();
	cleanup();
	return failures ? 1 : 0;
}
