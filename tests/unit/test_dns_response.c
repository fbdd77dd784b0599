// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * DNS response parser: addresses, CNAME chains, compression, other record
 * types, malformed responses, and hushd's error responses parsed back.
 */
#include "tests/unit/dns_tc.h"

/*
 * Responses.  The builders below append to a struct msg: resp() writes the
 * header (QR, RD, RA, id 0xbeef) and the question, the rr_*() helpers one
 * class IN record each with the owner as a dotted name.
 */
static struct dns_response res; /* ~19 KiB: not on the stack */

static void u32(struct msg *m, uint32_t v)
{
	u16(m, (uint16_t)(v >> 16));
	u16(m, (uint16_t)v);
}

/* Compression pointer to offset off. */
static void ptr(struct msg *m, size_t off)
{
	u8(m, (uint8_t)(0xc0 | off >> 8));
	u8(m, (uint8_t)off);
}

static void resp(struct msg *m, uint16_t flags, const char *qname, uint16_t qtype, uint16_t an,
		 uint16_t ns, uint16_t ar)
{
	hdr(m, 0xbeef, DNS_FLAG_QR | DNS_FLAG_RD | DNS_FLAG_RA | flags, 1, an, ns, ar);
	name(m, qname);
	u16(m, qtype);
	u16(m, DNS_CLASS_IN);
}

/* Fixed part of a record after its owner: type, class, TTL, RDLENGTH. */
static void fixed(struct msg *m, uint16_t type, uint16_t class, uint32_t ttl, uint16_t rdlen)
{
	u16(m, type);
	u16(m, class);
	u32(m, ttl);
	u16(m, rdlen);
}

static void rr_a(struct msg *m, const char *owner, uint32_t ttl, const char *v4)
{
	uint8_t a[4];

	if (inet_pton(AF_INET, v4, a) != 1)
		abort();
	name(m, owner);
	fixed(m, DNS_TYPE_A, DNS_CLASS_IN, ttl, 4);
	raw(m, a, 4);
}

static void rr_aaaa(struct msg *m, const char *owner, uint32_t ttl, const char *v6)
{
	uint8_t a[16];

	if (inet_pton(AF_INET6, v6, a) != 1)
		abort();
	name(m, owner);
	fixed(m, DNS_TYPE_AAAA, DNS_CLASS_IN, ttl, 16);
	raw(m, a, 16);
}

/* Set the RDLENGTH of the record whose RDATA started at rdata to run up to the end of m. */
static void rdlen_fix(struct msg *m, size_t rdata)
{
	m->b[rdata - 2] = (uint8_t)((m->n - rdata) >> 8);
	m->b[rdata - 1] = (uint8_t)(m->n - rdata);
}

static void rr_cname(struct msg *m, const char *owner, uint32_t ttl, const char *target)
{
	name(m, owner);
	fixed(m, DNS_TYPE_CNAME, DNS_CLASS_IN, ttl, 0);
	name(m, target);
	rdlen_fix(m, m->n - strlen(target) - 2);
}

static int rparse(const struct msg *m)
{
	return dns_parse_response(m->b, m->n, &res);
}

/* Is address i of res family af, equal to text, with TTL ttl? */
static bool addr_is(size_t i, int af, const char *text, uint32_t ttl)
{
	uint8_t a[16] = {0};

	if (inet_pton(af, text, a) != 1)
		abort();
	return i < res.naddrs && res.addrs[i].family == af && !memcmp(res.addrs[i].addr, a, 16) &&
	       res.addrs[i].ttl == ttl;
}

static void test_response_addrs(void)
{
	struct tc t;
	struct msg m;
	int r;

	tc_begin(&t, "response: one A");
	resp(&m, 0, "example.com", DNS_TYPE_A, 1, 0, 0);
	rr_a(&m, "example.com", 300, "192.0.2.1");
	r = rparse(&m);
	CHECK(&t, r == 0, "r %d", r);
	CHECK(&t, res.id == 0xbeef && (res.flags & DNS_FLAG_QR) && res.rcode == 0 && !res.truncated,
	      "header id %#x flags %#x rcode %d", res.id, res.flags, res.rcode);
	CHECK(&t,
	      !strcmp(res.qname, "example.com") && res.qtype == DNS_TYPE_A &&
		  res.qclass == DNS_CLASS_IN && res.qend == 12 + 13 + 4,
	      "question \"%s\" %u %u qend %zu", res.qname, res.qtype, res.qclass, res.qend);
	CHECK(&t,
	      res.nchain == 1 && !strcmp(res.chain[0], "example.com") && !res.chain_loop &&
		  !res.chain_truncated,
	      "nchain %zu", res.nchain);
	CHECK(&t, res.naddrs == 1 && !res.addrs_truncated, "naddrs %zu", res.naddrs);
	CHECK(&t, addr_is(0, AF_INET, "192.0.2.1", 300), "address 0");
	CHECK(&t, !res.edns.present, "edns");
	tc_end(&t);

	tc_begin(&t, "response: one AAAA");
	resp(&m, 0, "v6.example.org", DNS_TYPE_AAAA, 1, 0, 0);
	rr_aaaa(&m, "v6.example.org", 86400, "2001:db8::1");
	r = rparse(&m);
	CHECK(&t, r == 0 && res.naddrs == 1, "r %d naddrs %zu", r, res.naddrs);
	CHECK(&t, addr_is(0, AF_INET6, "2001:db8::1", 86400), "address 0");
	CHECK(&t, res.qtype == DNS_TYPE_AAAA, "qtype %u", res.qtype);
	tc_end(&t);

	tc_begin(&t, "response: several A and AAAA, message order");
	resp(&m, 0, "multi.test", DNS_TYPE_A, 5, 0, 0);
	rr_a(&m, "multi.test", 30, "192.0.2.1");
	rr_aaaa(&m, "multi.test", 40, "2001:db8::a");
	rr_a(&m, "multi.test", 50, "192.0.2.2");
	rr_a(&m, "multi.test", 60, "198.51.100.255");
	rr_aaaa(&m, "multi.test", 70, "2001:db8:ffff::ffff");
	r = rparse(&m);
	CHECK(&t, r == 0 && res.naddrs == 5 && !res.addrs_truncated, "r %d naddrs %zu", r,
	      res.naddrs);
	CHECK(&t, addr_is(0, AF_INET, "192.0.2.1", 30), "address 0");
	CHECK(&t, addr_is(1, AF_INET6, "2001:db8::a", 40), "address 1");
	CHECK(&t, addr_is(2, AF_INET, "192.0.2.2", 50), "address 2");
	CHECK(&t, addr_is(3, AF_INET, "198.51.100.255", 60), "address 3");
	CHECK(&t, addr_is(4, AF_INET6, "2001:db8:ffff::ffff", 70), "address 4");
	tc_end(&t);

	tc_begin(&t, "response: more than DNS_ADDRS_MAX addresses keeps the first");
	resp(&m, 0, "many.test", DNS_TYPE_A, DNS_ADDRS_MAX + 6, 0, 0);
	for (int i = 0; i < DNS_ADDRS_MAX + 6; i++) {
		/* owner compressed to the question name */
		ptr(&m, 12);
		fixed(&m, DNS_TYPE_A, DNS_CLASS_IN, (uint32_t)i, 4);
		raw(&m, "\12\0\0", 3); /* 10.0.0.i */
		u8(&m, (uint8_t)i);
	}
	r = rparse(&m);
	CHECK(&t, r == 0 && res.naddrs == DNS_ADDRS_MAX && res.addrs_truncated,
	      "r %d naddrs %zu truncated %d", r, res.naddrs, res.addrs_truncated);
	CHECK(&t, addr_is(0, AF_INET, "10.0.0.0", 0), "first");
	CHECK(&t, addr_is(DNS_ADDRS_MAX - 1, AF_INET, "10.0.0.63", 63), "64th");
	/* exactly DNS_ADDRS_MAX: not truncated */
	m.b[7] = DNS_ADDRS_MAX;
	m.n = res.qend + DNS_ADDRS_MAX * 16;
	r = rparse(&m);
	CHECK(&t, r == 0 && res.naddrs == DNS_ADDRS_MAX && !res.addrs_truncated,
	      "exactly max: r %d naddrs %zu truncated %d", r, res.naddrs, res.addrs_truncated);
	tc_end(&t);

	tc_begin(&t, "response: TTL with the top bit set counts as 0");
	resp(&m, 0, "example.com", DNS_TYPE_A, 2, 0, 0);
	rr_a(&m, "example.com", 0x80000001u, "192.0.2.1");
	rr_a(&m, "example.com", 0x7fffffffu, "192.0.2.2");
	r = rparse(&m);
	CHECK(&t,
	      r == 0 && addr_is(0, AF_INET, "192.0.2.1", 0) &&
		  addr_is(1, AF_INET, "192.0.2.2", 0x7fffffff),
	      "r %d", r);
	tc_end(&t);

	tc_begin(&t, "response: unrelated owners, other classes and sections ignored");
	resp(&m, 0, "example.com", DNS_TYPE_A, 4, 1, 1);
	rr_a(&m, "other.example", 60, "192.0.2.9");
	rr_a(&m, "www.example.com", 60, "192.0.2.8"); /* a child is not the name */
	rr_a(&m, "example.com", 60, "192.0.2.1");
	name(&m, "example.com"); /* CHAOS-class "A": any RDATA */
	fixed(&m, DNS_TYPE_A, 3, 60, 6);
	raw(&m, "\1x\0\0\1\2", 6);
	name(&m, "example.com"); /* authority */
	fixed(&m, DNS_TYPE_NS, DNS_CLASS_IN, 60, 0);
	name(&m, "ns.example.com");
	rdlen_fix(&m, m.n - 16);
	rr_a(&m, "example.com", 60, "192.0.2.7"); /* additional */
	r = rparse(&m);
	CHECK(&t, r == 0 && res.naddrs == 1 && addr_is(0, AF_INET, "192.0.2.1", 60),
	      "r %d naddrs %zu", r, res.naddrs);
	CHECK(&t, res.nchain == 1, "nchain %zu", res.nchain);
	tc_end(&t);
}

static void test_response_chain(void)
{
	char owner[32], target[32];
	struct tc t;
	struct msg m;
	int r;

	tc_begin(&t, "response: CNAME chain in order, TTL the minimum along it");
	resp(&m, 0, "www.example.com", DNS_TYPE_A, 4, 0, 0);
	rr_cname(&m, "www.example.com", 600, "a.cdn.net");
	rr_cname(&m, "a.cdn.net", 60, "b.cdn.net");
	rr_a(&m, "b.cdn.net", 300, "192.0.2.1");
	rr_a(&m, "b.cdn.net", 20, "192.0.2.2");
	r = rparse(&m);
	CHECK(&t, r == 0 && res.nchain == 3, "r %d nchain %zu", r, res.nchain);
	CHECK(&t,
	      !strcmp(res.chain[0], "www.example.com") && !strcmp(res.chain[1], "a.cdn.net") &&
		  !strcmp(res.chain[2], "b.cdn.net"),
	      "chain %s %s %s", res.chain[0], res.chain[1], res.chain[2]);
	CHECK(&t, !res.chain_loop && !res.chain_truncated, "flags");
	CHECK(&t,
	      res.naddrs == 2 && addr_is(0, AF_INET, "192.0.2.1", 60) &&
		  addr_is(1, AF_INET, "192.0.2.2", 20),
	      "naddrs %zu ttl %u %u", res.naddrs, res.addrs[0].ttl, res.addrs[1].ttl);
	tc_end(&t);

	tc_begin(&t, "response: CNAME chain out of order");
	resp(&m, 0, "www.example.com", DNS_TYPE_AAAA, 5, 0, 0);
	rr_aaaa(&m, "c.cdn.net", 3600, "2001:db8::c");
	rr_cname(&m, "b.cdn.net", 100, "c.cdn.net");
	rr_cname(&m, "a.cdn.net", 200, "b.cdn.net");
	rr_cname(&m, "www.example.com", 50, "a.cdn.net");
	rr_aaaa(&m, "c.cdn.net", 10, "2001:db8::d");
	r = rparse(&m);
	CHECK(&t, r == 0 && res.nchain == 4, "r %d nchain %zu", r, res.nchain);
	CHECK(&t,
	      !strcmp(res.chain[1], "a.cdn.net") && !strcmp(res.chain[2], "b.cdn.net") &&
		  !strcmp(res.chain[3], "c.cdn.net"),
	      "chain");
	CHECK(&t,
	      res.naddrs == 2 && addr_is(0, AF_INET6, "2001:db8::c", 50) &&
		  addr_is(1, AF_INET6, "2001:db8::d", 10),
	      "naddrs %zu", res.naddrs);
	tc_end(&t);

	tc_begin(&t, "response: CNAME loop stops the walk");
	resp(&m, 0, "q.test", DNS_TYPE_A, 5, 0, 0);
	rr_cname(&m, "q.test", 60, "a.test");
	rr_cname(&m, "a.test", 60, "b.test");
	rr_cname(&m, "b.test", 60, "a.test");
	rr_cname(&m, "b.test", 60, "c.test"); /* a second CNAME of b.test: not followed */
	rr_a(&m, "b.test", 60, "192.0.2.1");
	r = rparse(&m);
	CHECK(&t, r == 0 && res.nchain == 3 && res.chain_loop && !res.chain_truncated,
	      "r %d nchain %zu loop %d", r, res.nchain, res.chain_loop);
	CHECK(&t, res.naddrs == 1, "an address of a chain name is still learned");
	resp(&m, 0, "q.test", DNS_TYPE_A, 1, 0, 0);
	rr_cname(&m, "Q.test", 60, "q.TEST");
	r = rparse(&m);
	CHECK(&t, r == 0 && res.nchain == 1 && res.chain_loop, "self loop: nchain %zu", res.nchain);
	tc_end(&t);

	tc_begin(&t, "response: chain of DNS_CHAIN_MAX names is whole");
	resp(&m, 0, "n0.test", DNS_TYPE_A, DNS_CHAIN_MAX, 0, 0);
	for (int i = 0; i + 1 < DNS_CHAIN_MAX; i++) {
		snprintf(owner, sizeof(owner), "n%d.test", i);
		snprintf(target, sizeof(target), "n%d.test", i + 1);
		rr_cname(&m, owner, (uint32_t)(1000 - i), target);
	}
	snprintf(owner, sizeof(owner), "n%d.test", DNS_CHAIN_MAX - 1);
	rr_a(&m, owner, 5000, "192.0.2.1");
	r = rparse(&m);
	CHECK(&t, r == 0 && res.nchain == DNS_CHAIN_MAX && !res.chain_truncated && !res.chain_loop,
	      "r %d nchain %zu", r, res.nchain);
	CHECK(&t, !strcmp(res.chain[DNS_CHAIN_MAX - 1], owner), "last %s",
	      res.chain[DNS_CHAIN_MAX - 1]);
	CHECK(&t, res.naddrs == 1 && res.addrs[0].ttl == 1000 - (DNS_CHAIN_MAX - 2),
	      "naddrs %zu ttl %u", res.naddrs, res.addrs[0].ttl);
	tc_end(&t);

	tc_begin(&t, "response: chain longer than DNS_CHAIN_MAX stops the walk");
	resp(&m, 0, "n0.test", DNS_TYPE_A, DNS_CHAIN_MAX + 5, 0, 0);
	for (int i = 0; i < DNS_CHAIN_MAX + 4; i++) {
		snprintf(owner, sizeof(owner), "n%d.test", i);
		snprintf(target, sizeof(target), "n%d.test", i + 1);
		rr_cname(&m, owner, 60, target);
	}
	rr_a(&m, target, 60, "192.0.2.1");
	r = rparse(&m);
	CHECK(&t, r == 0 && res.nchain == DNS_CHAIN_MAX && res.chain_truncated && !res.chain_loop,
	      "r %d nchain %zu truncated %d", r, res.nchain, res.chain_truncated);
	CHECK(&t, res.naddrs == 0, "address past the cut learned: naddrs %zu", res.naddrs);
	tc_end(&t);

	tc_begin(&t, "response: mixed-case owners and targets");
	resp(&m, 0, "WwW.Example.COM", DNS_TYPE_A, 3, 0, 0);
	rr_cname(&m, "www.EXAMPLE.com", 60, "CDN.Example.NET");
	rr_a(&m, "cdn.example.net", 60, "192.0.2.1");
	rr_a(&m, "CDN.EXAMPLE.NET", 60, "192.0.2.2");
	r = rparse(&m);
	CHECK(&t,
	      r == 0 && !strcmp(res.qname, "www.example.com") && res.nchain == 2 &&
		  !strcmp(res.chain[1], "cdn.example.net") && res.naddrs == 2,
	      "r %d qname %s nchain %zu naddrs %zu", r, res.qname, res.nchain, res.naddrs);
	/* the raw question keeps the letter case (0x20 check by the caller) */
	CHECK(&t, !memcmp(m.b + 12, "\3WwW\7Example\3COM", 16), "question bytes");
	tc_end(&t);

	tc_begin(&t, "response: first CNAME of an owner wins, non-IN CNAME not followed");
	resp(&m, 0, "q.test", DNS_TYPE_A, 5, 0, 0);
	name(&m, "q.test"); /* CHAOS CNAME first: not followed */
	fixed(&m, DNS_TYPE_CNAME, 3, 60, 0);
	name(&m, "chaos.test");
	rdlen_fix(&m, m.n - 12);
	rr_cname(&m, "q.test", 60, "one.test");
	rr_cname(&m, "q.test", 60, "two.test");
	rr_a(&m, "two.test", 60, "192.0.2.2");
	rr_a(&m, "one.test", 60, "192.0.2.1");
	r = rparse(&m);
	CHECK(&t, r == 0 && res.nchain == 2 && !strcmp(res.chain[1], "one.test"),
	      "r %d nchain %zu chain[1] %s", r, res.nchain, res.nchain > 1 ? res.chain[1] : "");
	CHECK(&t, res.naddrs == 1 && addr_is(0, AF_INET, "192.0.2.1", 60), "naddrs %zu",
	      res.naddrs);
	tc_end(&t);

	tc_begin(&t, "response: CNAME without addresses (e.g. answer to a CNAME query)");
	resp(&m, 0, "alias.test", DNS_TYPE_CNAME, 1, 0, 0);
	rr_cname(&m, "alias.test", 60, "target.test");
	r = rparse(&m);
	CHECK(&t, r == 0 && res.nchain == 2 && res.naddrs == 0, "r %d nchain %zu naddrs %zu", r,
	      res.nchain, res.naddrs);
	tc_end(&t);
}

static void test_response_compression(void)
{
	size_t cname_target;
	struct tc t;
	struct msg m;
	int r;

	tc_begin(&t, "response: compression pointers in answers");
	resp(&m, 0, "www.example.com", DNS_TYPE_A, 3, 0, 0);
	/* www.example.com CNAME cdn.<example.com> */
	ptr(&m, 12);
	fixed(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 300, 6);
	cname_target = m.n;
	raw(&m, "\3cdn", 4);
	ptr(&m, 16);
	/* <cdn.example.com> A, <cdn.example.com> AAAA */
	ptr(&m, cname_target);
	fixed(&m, DNS_TYPE_A, DNS_CLASS_IN, 100, 4);
	raw(&m, "\xc0\x00\x02\x01", 4);
	ptr(&m, cname_target);
	fixed(&m, DNS_TYPE_AAAA, DNS_CLASS_IN, 500, 16);
	raw(&m, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	r = rparse(&m);
	CHECK(&t, r == 0 && res.nchain == 2 && !strcmp(res.chain[1], "cdn.example.com"),
	      "r %d nchain %zu", r, res.nchain);
	CHECK(&t,
	      res.naddrs == 2 && addr_is(0, AF_INET, "192.0.2.1", 100) &&
		  addr_is(1, AF_INET6, "2001:db8::1", 300),
	      "naddrs %zu", res.naddrs);

	/* a forward pointer in an answer owner */
	resp(&m, 0, "example.com", DNS_TYPE_A, 1, 0, 0);
	ptr(&m, m.n + 2);
	fixed(&m, DNS_TYPE_A, DNS_CLASS_IN, 60, 4);
	raw(&m, "\1\2\3\4", 4);
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "forward pointer accepted");
	/* a pointer into the header */
	m.b[res.qend] = 0xc0;
	m.b[res.qend + 1] = 4;
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "pointer into the header accepted");
	/* an owner pointing back into itself and reading on past the pointer */
	resp(&m, 0, "example.com", DNS_TYPE_A, 1, 0, 0);
	u8(&m, 1);
	u8(&m, 4);
	ptr(&m, m.n - 1);
	fixed(&m, DNS_TYPE_A, DNS_CLASS_IN, 60, 4);
	raw(&m, "\1\2\3\4", 4);
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "name running past its pointer accepted");
	/* a pointer to itself in a CNAME target */
	resp(&m, 0, "example.com", DNS_TYPE_A, 1, 0, 0);
	ptr(&m, 12);
	fixed(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 60, 2);
	ptr(&m, m.n);
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "self pointer in CNAME accepted");
	tc_end(&t);
}

static void test_response_other(void)
{
	struct tc t;
	struct msg m;
	size_t rd;
	int r;

	tc_begin(&t, "response: NXDOMAIN with SOA in authority");
	resp(&m, DNS_RCODE_NXDOMAIN, "nope.example.com", DNS_TYPE_A, 0, 1, 0);
	ptr(&m, 12 + 5); /* example.com */
	fixed(&m, DNS_TYPE_SOA, DNS_CLASS_IN, 900, 0);
	rd = m.n;
	name(&m, "ns1.example.com");
	name(&m, "hostmaster.example.com");
	u32(&m, 2024010101);
	u32(&m, 7200);
	u32(&m, 3600);
	u32(&m, 1209600);
	u32(&m, 300);
	rdlen_fix(&m, rd);
	r = rparse(&m);
	CHECK(&t, r == 0 && res.rcode == DNS_RCODE_NXDOMAIN, "r %d rcode %d", r, res.rcode);
	CHECK(&t, res.nchain == 1 && res.naddrs == 0 && !strcmp(res.qname, "nope.example.com"),
	      "nchain %zu naddrs %zu", res.nchain, res.naddrs);
	tc_end(&t);

	tc_begin(&t, "response: extended RCODE from OPT");
	resp(&m, 0, "example.com", DNS_TYPE_A, 0, 0, 1);
	opt(&m, 1232, 0, true);
	m.b[m.n - 6] = 1; /* extended RCODE 1: 16 = BADVERS with low bits 0 */
	r = rparse(&m);
	CHECK(&t, r == 0 && res.rcode == DNS_RCODE_BADVERS, "r %d rcode %d", r, res.rcode);
	CHECK(&t,
	      res.edns.present && res.edns.udp_size == 1232 && res.edns.do_bit &&
		  res.edns.ext_rcode == 1 && res.edns.version == 0,
	      "edns");
	m.b[3] |= 2; /* low bits 2: 18 */
	r = rparse(&m);
	CHECK(&t, r == 0 && res.rcode == 18, "r %d rcode %d", r, res.rcode);
	m.b[m.n - 6] = 0xff; /* largest: 4095 */
	m.b[3] |= 0xf;
	r = rparse(&m);
	CHECK(&t, r == 0 && res.rcode == 4095, "r %d rcode %d", r, res.rcode);
	resp(&m, DNS_RCODE_SERVFAIL, "example.com", DNS_TYPE_A, 0, 0, 0);
	r = rparse(&m);
	CHECK(&t, r == 0 && res.rcode == DNS_RCODE_SERVFAIL && !res.edns.present,
	      "no OPT: r %d rcode %d", r, res.rcode);
	/* an OPT outside the additional section is an ordinary record: skipped */
	resp(&m, 0, "example.com", DNS_TYPE_A, 1, 0, 0);
	opt(&m, 1232, 0, false);
	m.b[m.n - 6] = 1;
	r = rparse(&m);
	CHECK(&t, r == 0 && res.rcode == 0 && !res.edns.present, "OPT in answers: r %d rcode %d", r,
	      res.rcode);
	/* EDNS version 1 is reported, not judged */
	resp(&m, 0, "example.com", DNS_TYPE_A, 0, 0, 1);
	opt(&m, 512, 1, false);
	r = rparse(&m);
	CHECK(&t, r == 0 && res.edns.version == 1, "OPT version 1: r %d", r);
	tc_end(&t);

	tc_begin(&t, "response: TC bit");
	resp(&m, DNS_FLAG_TC, "big.example.com", DNS_TYPE_TXT, 0, 0, 0);
	r = rparse(&m);
	CHECK(&t, r == 0 && res.truncated && (res.flags & DNS_FLAG_TC), "r %d truncated %d", r,
	      res.truncated);
	resp(&m, 0, "big.example.com", DNS_TYPE_TXT, 0, 0, 0);
	r = rparse(&m);
	CHECK(&t, r == 0 && !res.truncated, "clear: r %d truncated %d", r, res.truncated);
	tc_end(&t);

	tc_begin(&t, "dns_set_id");
	resp(&m, 0, "example.com", DNS_TYPE_A, 1, 0, 0);
	rr_a(&m, "example.com", 60, "192.0.2.1");
	dns_set_id(m.b, m.n, 0x1234);
	CHECK(&t, m.b[0] == 0x12 && m.b[1] == 0x34, "bytes %02x %02x", m.b[0], m.b[1]);
	r = rparse(&m);
	CHECK(&t, r == 0 && res.id == 0x1234 && res.naddrs == 1, "r %d id %#x", r, res.id);
	dns_set_id(m.b, 2, 0xfffe);
	CHECK(&t, m.b[0] == 0xff && m.b[1] == 0xfe, "len 2");
	dns_set_id(m.b, 1, 0);
	dns_set_id(m.b, 0, 0);
	CHECK(&t, m.b[0] == 0xff && m.b[1] == 0xfe, "len < 2 written");
	tc_end(&t);
}

static void test_response_bad(void)
{
	struct msg m, good;
	struct tc t;
	size_t n, bad;
	int r;

	resp(&good, 0, "www.example.com", DNS_TYPE_A, 2, 1, 1);
	rr_cname(&good, "www.example.com", 60, "cdn.example.net");
	rr_a(&good, "cdn.example.net", 60, "192.0.2.1");
	rr_a(&good, "ns.example.net", 60, "192.0.2.53");
	opt(&good, 1232, 0, false);

	tc_begin(&t, "response: cut at every offset -> FORMERR");
	r = dns_parse_response(good.b, good.n, &res);
	CHECK(&t, r == 0 && res.naddrs == 1, "whole: r %d", r);
	bad = 0;
	for (n = 0; n < good.n; n++) {
		/* an exact-size heap copy, so ASan sees any read past the cut */
		uint8_t *tight = malloc(n ? n : 1);

		if (!tight)
			abort();
		memcpy(tight, good.b, n);
		r = dns_parse_response(tight, n, &res);
		if (r != DNS_E_FORMERR || res.nchain || res.naddrs)
			bad++;
		free(tight);
	}
	CHECK(&t, bad == 0, "%zu cuts parsed", bad);
	tc_end(&t);

	tc_begin(&t, "response: counts and framing");
	m = good;
	m.b[7]++;
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "ANCOUNT past the end");
	m = good;
	m.b[9]++;
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "NSCOUNT past the end");
	m = good;
	m.b[11]++;
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "ARCOUNT past the end");
	m = good;
	m.b[6] = 0xff;
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "ANCOUNT 65282");
	m = good;
	u8(&m, 0);
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "trailing byte");
	m = good;
	m.b[11] = 0;
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "count too small leaves trailing bytes");
	m = good;
	m.b[2] &= 0x7f;
	r = rparse(&m);
	CHECK(&t, r == DNS_E_FORMERR && res.id == 0xbeef && res.qend == 0, "QR clear: r %d", r);
	m = good;
	m.b[5] = 0;
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "QDCOUNT 0");
	m.b[5] = 2;
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "QDCOUNT 2");
	CHECK(&t, dns_parse_response(good.b, 0, &res) == DNS_E_FORMERR && res.id == 0,
	      "empty message");
	CHECK(&t, dns_parse_response(good.b, 11, &res) == DNS_E_FORMERR, "11 bytes");
	tc_end(&t);

	tc_begin(&t, "response: bad RDLENGTH for A/AAAA");
	resp(&m, 0, "example.com", DNS_TYPE_A, 1, 0, 0);
	name(&m, "example.com");
	fixed(&m, DNS_TYPE_A, DNS_CLASS_IN, 60, 5);
	raw(&m, "\1\2\3\4\5", 5);
	r = rparse(&m);
	CHECK(&t, r == DNS_E_FORMERR, "A rdlength 5: r %d", r);
	/* the question parsed, so it is still reported */
	CHECK(&t,
	      res.qend == 12 + 13 + 4 && !strcmp(res.qname, "example.com") && res.nchain == 0 &&
		  res.naddrs == 0,
	      "partial fill: qend %zu", res.qend);
	m.b[m.n - 6] = 3;
	m.n -= 2;
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "A rdlength 3");
	resp(&m, 0, "example.com", DNS_TYPE_AAAA, 1, 0, 0);
	name(&m, "example.com");
	fixed(&m, DNS_TYPE_AAAA, DNS_CLASS_IN, 60, 4);
	raw(&m, "\1\2\3\4", 4);
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "AAAA rdlength 4");
	/* also for owners outside the chain and in other sections */
	resp(&m, 0, "example.com", DNS_TYPE_A, 0, 0, 1);
	name(&m, "glue.example.com");
	fixed(&m, DNS_TYPE_A, DNS_CLASS_IN, 60, 0);
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "A rdlength 0 in additional");
	tc_end(&t);

	tc_begin(&t, "response: bad CNAME RDATA");
	resp(&m, 0, "example.com", DNS_TYPE_A, 1, 0, 0);
	rr_cname(&m, "example.com", 60, "x.test");
	CHECK(&t, rparse(&m) == 0, "good");
	m.b[m.n - 1] = 1; /* RDLENGTH one more than the name, a byte after it */
	m.b[m.n - 10]++;
	u8(&m, 0);
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "byte after the name");
	resp(&m, 0, "example.com", DNS_TYPE_A, 1, 0, 0);
	rr_cname(&m, "example.com", 60, "x.test");
	m.b[m.n - 9]--; /* RDLENGTH one short of the name */
	m.n--;
	m.b[11] = 0;
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "name longer than RDLENGTH");
	resp(&m, 0, "example.com", DNS_TYPE_A, 1, 0, 0);
	name(&m, "example.com");
	fixed(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 60, 2);
	raw(&m, "\x41\0", 2);
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "label type 0x40 in target");
	tc_end(&t);

	tc_begin(&t, "response: bad OPT");
	resp(&m, 0, "example.com", DNS_TYPE_A, 0, 0, 2);
	opt(&m, 1232, 0, false);
	opt(&m, 1232, 0, false);
	r = rparse(&m);
	CHECK(&t, r == DNS_E_FORMERR && !res.edns.present, "two OPT: r %d", r);
	resp(&m, 0, "example.com", DNS_TYPE_A, 0, 0, 1);
	u8(&m, 1);
	u8(&m, 'x');
	opt(&m, 1232, 0, false);
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "OPT with non-root owner");
	resp(&m, 0, "example.com", DNS_TYPE_A, 0, 0, 1);
	opt(&m, 1232, 0, false);
	m.b[m.n - 1] = 4;
	raw(&m, "\0\12\0\1", 4); /* option of length 1 with no data */
	CHECK(&t, rparse(&m) == DNS_E_FORMERR, "OPT option overruns RDATA");
	tc_end(&t);
}

/* Error responses hushd builds parse as responses, with their RCODE. */
static void test_response_roundtrip(void)
{
	struct dns_query q;
	struct tc t;
	struct msg m;
	uint8_t out[600];
	size_t n = 0;
	int r;

	tc_begin(&t, "response: dns_build_error output parses back");
	query(&m, "Example.COM", DNS_TYPE_AAAA);
	m.b[11] = 1;
	opt(&m, 4096, 0, true);
	r = parse(&m, &q);
	CHECK(&t, r == 0, "query: r %d", r);
	r = dns_build_error(m.b, m.n, &q, DNS_RCODE_REFUSED, out, sizeof(out), &n);
	CHECK(&t, r == 0, "build: r %d", r);
	r = dns_parse_response(out, n, &res);
	CHECK(&t,
	      r == 0 && res.rcode == DNS_RCODE_REFUSED && res.id == 0x1234 &&
		  res.qtype == DNS_TYPE_AAAA && !strcmp(res.qname, "example.com") &&
		  res.qend == q.qend && res.edns.present && res.nchain == 1 && res.naddrs == 0,
	      "parse: r %d rcode %d", r, res.rcode);
	/* matching as dns.h describes it: id and the question bytes */
	CHECK(&t,
	      res.qend == q.qend &&
		  !memcmp(out + DNS_HDR_LEN, m.b + DNS_HDR_LEN, q.qend - DNS_HDR_LEN),
	      "question bytes differ");
	r = dns_build_error(m.b, m.n, &q, DNS_RCODE_BADVERS, out, sizeof(out), &n);
	r = r ? r : dns_parse_response(out, n, &res);
	CHECK(&t, r == 0 && res.rcode == DNS_RCODE_BADVERS, "BADVERS: r %d rcode %d", r, res.rcode);
	/* without a question (QDCOUNT 0) a response cannot be matched */
	r = dns_build_error(m.b, 5, NULL, DNS_RCODE_FORMERR, out, sizeof(out), &n);
	CHECK(&t, r == 0 && dns_parse_response(out, n, &res) == DNS_E_FORMERR,
	      "header-only response accepted");
	/* and a query is not a response */
	CHECK(&t, dns_parse_response(m.b, m.n, &res) == DNS_E_FORMERR, "query accepted");
	tc_end(&t);
}

int main(void)
{
	test_response_addrs();
	test_response_chain();
	test_response_compression();
	test_response_other();
	test_response_bad();
	test_response_roundtrip();
	return nfail ? 1 : 0;
}
