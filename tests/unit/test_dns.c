// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * DNS query parser, error responses, TCP framing and name matching:
 * hand-built wire messages.  Responses: test_dns_response.c.
 */
#include "tests/unit/dns_tc.h"

static void test_parse_ok(void)
{
	struct dns_query q;
	struct msg m;
	int r;

	query(&m, "example.com", DNS_TYPE_A);
	r = parse(&m, &q);
	check(r == 0 && !strcmp(q.name, "example.com") && q.qtype == DNS_TYPE_A &&
		  q.qclass == DNS_CLASS_IN && q.id == 0x1234 && (q.flags & DNS_FLAG_RD) &&
		  q.qend == m.n && !q.edns.present,
	      "A query");

	query(&m, "ipv6.example.org", DNS_TYPE_AAAA);
	check(parse(&m, &q) == 0 && q.qtype == DNS_TYPE_AAAA && !strcmp(q.name, "ipv6.example.org"),
	      "AAAA query");

	query(&m, "x.test", DNS_TYPE_ANY);
	check(parse(&m, &q) == 0 && q.qtype == DNS_TYPE_ANY, "ANY query");

	query(&m, "WwW.ExAmPlE.CoM", DNS_TYPE_A);
	check(parse(&m, &q) == 0 && !strcmp(q.name, "www.example.com"), "mixed case lowered");

	hdr(&m, 1, 0, 1, 0, 0, 0);
	u8(&m, 0);
	u16(&m, DNS_TYPE_NS);
	u16(&m, DNS_CLASS_IN);
	check(parse(&m, &q) == 0 && !strcmp(q.name, "") && q.qend == 17, "root name is \"\"");

	/* label "a.b" then "c": must not read as a.b.c */
	hdr(&m, 1, 0, 1, 0, 0, 0);
	raw(&m, "\3a.b\1c\0", 7);
	u16(&m, DNS_TYPE_A);
	u16(&m, DNS_CLASS_IN);
	r = parse(&m, &q);
	check(r == 0 && !strcmp(q.name, "a\\046b.c"), "dot inside a label escaped");
	check(!dns_name_match("a.b.c", q.name) && dns_name_match("*.c", q.name) &&
		  dns_name_match("a\\046b.c", q.name),
	      "escaped label matches only itself");

	hdr(&m, 1, 0, 1, 0, 0, 0);
	raw(&m, "\4a\\ \xff\0", 6);
	u16(&m, DNS_TYPE_A);
	u16(&m, DNS_CLASS_IN);
	check(parse(&m, &q) == 0 && !strcmp(q.name, "a\\092\\032\\255"),
	      "backslash, space, 0xff escaped");

	/* EDNS0 */
	query(&m, "example.com", DNS_TYPE_AAAA);
	m.b[11] = 1;
	opt(&m, 4096, 0, true);
	r = parse(&m, &q);
	check(r == 0 && q.edns.present && q.edns.udp_size == 4096 && q.edns.version == 0 &&
		  q.edns.do_bit && q.qend == m.n - 11,
	      "EDNS0 OPT parsed");

	/* OPT with a cookie option */
	query(&m, "example.com", DNS_TYPE_A);
	m.b[11] = 1;
	opt(&m, 1232, 0, false);
	m.b[m.n - 1] = 12;
	u16(&m, 10);
	u16(&m, 8);
	raw(&m, "12345678", 8);
	r = parse(&m, &q);
	check(r == 0 && q.edns.present && !q.edns.do_bit && q.edns.udp_size == 1232,
	      "OPT with an option");
	m.b[m.n - 9] = 9; /* option length past rdata */
	check(parse(&m, &q) == DNS_E_FORMERR, "OPT option overruns rdata -> FORMERR");

	query(&m, "example.com", DNS_TYPE_A);
	m.b[11] = 1;
	opt(&m, 1232, 1, false);
	r = parse(&m, &q);
	check(r == DNS_E_BADVERS && q.edns.present && q.edns.version == 1,
	      "EDNS version 1 -> BADVERS");

	/* a non-OPT additional record (e.g. TSIG-like) is skipped */
	query(&m, "example.com", DNS_TYPE_A);
	m.b[11] = 2;
	u8(&m, 0xc0);
	u8(&m, 12);
	u16(&m, 250);
	u16(&m, 255);
	raw(&m, "\0\0\0\0\0\2xy", 8);
	opt(&m, 512, 0, false);
	check(parse(&m, &q) == 0 && q.edns.present, "other additional record skipped");
}

static void test_compression(void)
{
	struct dns_query q;
	struct msg m;

	/* "x\0" label then pointer back to the 0 byte inside it: name "x\000" */
	hdr(&m, 1, 0, 1, 0, 0, 0);
	raw(&m, "\2x\0\xc0\x0e", 5);
	u16(&m, DNS_TYPE_A);
	u16(&m, DNS_CLASS_IN);
	check(parse(&m, &q) == 0 && !strcmp(q.name, "x\\000") && q.qend == m.n,
	      "backward pointer in question");

	hdr(&m, 1, 0, 1, 0, 0, 0);
	raw(&m, "\xc0\x10\0\0", 4);
	u16(&m, DNS_TYPE_A);
	u16(&m, DNS_CLASS_IN);
	check(parse(&m, &q) == DNS_E_FORMERR, "forward pointer -> FORMERR");

	hdr(&m, 1, 0, 1, 0, 0, 0);
	raw(&m, "\xc0\x0c", 2);
	u16(&m, DNS_TYPE_A);
	u16(&m, DNS_CLASS_IN);
	check(parse(&m, &q) == DNS_E_FORMERR, "self pointer -> FORMERR");

	hdr(&m, 1, 0, 1, 0, 0, 0);
	raw(&m, "\1a\xc0\x0c", 4);
	u16(&m, DNS_TYPE_A);
	u16(&m, DNS_CLASS_IN);
	check(parse(&m, &q) == DNS_E_FORMERR, "pointer loop -> FORMERR");

	hdr(&m, 1, 0, 1, 0, 0, 0);
	raw(&m, "\xc0\x02", 2);
	u16(&m, DNS_TYPE_A);
	u16(&m, DNS_CLASS_IN);
	check(parse(&m, &q) == DNS_E_FORMERR, "pointer into header -> FORMERR");

	/* label "\4", then a pointer to that 4, read as a length running on past the
	 * pointer into QTYPE: the question would not be self-contained */
	hdr(&m, 1, 0, 1, 0, 0, 0);
	raw(&m, "\1\4\xc0\x0d", 4);
	u16(&m, DNS_TYPE_A);
	u16(&m, DNS_CLASS_IN);
	check(parse(&m, &q) == DNS_E_FORMERR && q.qend == 0,
	      "pointer to a name running past the pointer -> FORMERR");

	/* compressed name in an additional record pointing at the question */
	query(&m, "example.com", DNS_TYPE_A);
	m.b[11] = 1;
	raw(&m, "\3www\xc0\x0c", 6);
	u16(&m, DNS_TYPE_A);
	u16(&m, DNS_CLASS_IN);
	raw(&m, "\0\0\0\0\0\0", 6);
	check(parse(&m, &q) == 0 && !q.edns.present, "pointer in additional record");

	hdr(&m, 1, 0, 1, 0, 0, 0);
	raw(&m, "\x40\0", 2);
	u16(&m, DNS_TYPE_A);
	u16(&m, DNS_CLASS_IN);
	check(parse(&m, &q) == DNS_E_FORMERR, "label type 0x40 -> FORMERR");
	m.b[12] = 0x80;
	check(parse(&m, &q) == DNS_E_FORMERR, "label type 0x80 -> FORMERR");
}

static void test_parse_bad(void)
{
	struct dns_query q;
	struct msg m, e;
	char big[300];
	int bad = 0;

	query(&m, "www.example.com", DNS_TYPE_AAAA);
	m.b[11] = 1;
	opt(&m, 1232, 0, true);
	for (size_t n = 0; n < m.n; n++)
		if (dns_parse_query(m.b, n, &q) != DNS_E_FORMERR)
			bad++;
	check(bad == 0, "truncated at every offset -> FORMERR");
	bad = 0;
	for (size_t n = 0; n < m.n; n++) {
		/* an exact-size heap copy, so ASan sees any read past the cut */
		uint8_t *tight = malloc(n ? n : 1);

		if (!tight)
			abort();
		memcpy(tight, m.b, n);
		if (dns_parse_query(tight, n, &q) != DNS_E_FORMERR)
			bad++;
		free(tight);
	}
	check(bad == 0, "truncated, buffer ending at the cut");

	query(&m, "example.com", DNS_TYPE_A);
	u8(&m, 0);
	check(parse(&m, &q) == DNS_E_FORMERR && q.qend != 0, "trailing garbage -> FORMERR");

	query(&m, "example.com", DNS_TYPE_A);
	m.b[5] = 0;
	check(parse(&m, &q) == DNS_E_FORMERR, "QDCOUNT 0 -> FORMERR");
	m.b[5] = 2;
	check(parse(&m, &q) == DNS_E_FORMERR, "QDCOUNT 2 -> FORMERR");
	m.b[5] = 1;
	m.b[7] = 1;
	check(parse(&m, &q) == DNS_E_FORMERR, "ANCOUNT 1 -> FORMERR");
	m.b[7] = 0;
	m.b[9] = 1;
	check(parse(&m, &q) == DNS_E_FORMERR, "NSCOUNT 1 -> FORMERR");
	m.b[9] = 0;
	m.b[11] = 1;
	check(parse(&m, &q) == DNS_E_FORMERR, "ARCOUNT past the end -> FORMERR");
	m.b[11] = 0;
	m.b[2] |= 0x80;
	check(parse(&m, &q) == DNS_E_FORMERR, "QR=1 -> FORMERR");
	m.b[2] = 2 << 3;
	check(parse(&m, &q) == DNS_E_NOTIMP, "opcode 2 -> NOTIMP");
	m.b[2] = 5 << 3;
	check(parse(&m, &q) == DNS_E_NOTIMP, "opcode 5 (UPDATE) -> NOTIMP");

	/* label lengths */
	memset(big, 'a', sizeof(big));
	hdr(&m, 1, 0, 1, 0, 0, 0);
	u8(&m, 63);
	raw(&m, big, 63);
	u8(&m, 0);
	u16(&m, 1);
	u16(&m, 1);
	check(parse(&m, &q) == 0 && strlen(q.name) == 63, "63-byte label ok");
	hdr(&m, 1, 0, 1, 0, 0, 0);
	u8(&m, 64);
	raw(&m, big, 64);
	u8(&m, 0);
	u16(&m, 1);
	u16(&m, 1);
	check(parse(&m, &q) == DNS_E_FORMERR, "64-byte label -> FORMERR");

	/* 255-byte wire name: 3 x 63 + 61 (+ 4 length bytes + root) */
	hdr(&m, 1, 0, 1, 0, 0, 0);
	for (int i = 0; i < 3; i++) {
		u8(&m, 63);
		raw(&m, big, 63);
	}
	u8(&m, 61);
	raw(&m, big, 61);
	u8(&m, 0);
	u16(&m, 1);
	u16(&m, 1);
	check(parse(&m, &q) == 0 && strlen(q.name) == 253, "255-byte wire name ok");
	hdr(&m, 1, 0, 1, 0, 0, 0);
	for (int i = 0; i < 3; i++) {
		u8(&m, 63);
		raw(&m, big, 63);
	}
	u8(&m, 62);
	raw(&m, big, 62);
	u8(&m, 0);
	u16(&m, 1);
	u16(&m, 1);
	check(parse(&m, &q) == DNS_E_FORMERR, "256-byte wire name -> FORMERR");
	/* compression: 193-byte question name + a 62-byte prefix in an additional record */
	hdr(&m, 1, 0, 1, 0, 0, 1);
	for (int i = 0; i < 3; i++) {
		u8(&m, 63);
		raw(&m, big, 63);
	}
	u8(&m, 0);
	u16(&m, 1);
	u16(&m, 1);
	e = m;
	u8(&m, 61);
	raw(&m, big, 61);
	raw(&m, "\xc0\x0c\0\1\0\1\0\0\0\0\0\0", 12);
	check(parse(&m, &q) == 0, "255 bytes through a pointer ok");
	m = e;
	u8(&m, 62);
	raw(&m, big, 62);
	raw(&m, "\xc0\x0c\0\1\0\1\0\0\0\0\0\0", 12);
	check(parse(&m, &q) == DNS_E_FORMERR, "256 bytes through a pointer -> FORMERR");

	/* two OPT records */
	query(&m, "example.com", DNS_TYPE_A);
	m.b[11] = 2;
	opt(&m, 1232, 0, false);
	opt(&m, 1232, 0, false);
	check(parse(&m, &q) == DNS_E_FORMERR && !q.edns.present, "two OPT -> FORMERR");

	query(&m, "example.com", DNS_TYPE_A);
	m.b[11] = 1;
	u8(&m, 1);
	u8(&m, 'x');
	opt(&m, 1232, 0, false);
	check(parse(&m, &q) == DNS_E_FORMERR, "OPT with non-root name -> FORMERR");

	query(&m, "example.com", DNS_TYPE_A);
	m.b[11] = 1;
	opt(&m, 1232, 0, false);
	m.b[m.n - 1] = 1;
	check(parse(&m, &q) == DNS_E_FORMERR, "OPT rdlen past end -> FORMERR");

	check(dns_parse_query(m.b, 0, &q) == DNS_E_FORMERR, "empty message -> FORMERR");
}

static void test_build(void)
{
	struct dns_query q;
	struct msg m;
	uint8_t out[600];
	size_t n = 0;
	int r;
	static const int rcodes[] = {DNS_RCODE_REFUSED, DNS_RCODE_NXDOMAIN, DNS_RCODE_FORMERR,
				     DNS_RCODE_NOTIMP, DNS_RCODE_SERVFAIL};

	query(&m, "Example.COM", DNS_TYPE_AAAA);
	r = parse(&m, &q);
	for (size_t i = 0; i < sizeof(rcodes) / sizeof(rcodes[0]); i++) {
		char what[64];

		r = dns_build_error(m.b, m.n, &q, rcodes[i], out, sizeof(out), &n);
		snprintf(what, sizeof(what), "response rcode %d", rcodes[i]);
		check(r == 0 && n == m.n && out[0] == 0x12 && out[1] == 0x34 && out[2] == 0x81 &&
			  out[3] == rcodes[i] && out[4] == 0 && out[5] == 1 && out[7] == 0 &&
			  out[9] == 0 && out[11] == 0 && !memcmp(out + 12, m.b + 12, m.n - 12),
		      what);
	}

	query(&m, "example.com", DNS_TYPE_A);
	m.b[2] = 0; /* RD clear */
	m.b[11] = 1;
	opt(&m, 4096, 0, true);
	r = parse(&m, &q);
	if (r == 0)
		r = dns_build_error(m.b, m.n, &q, DNS_RCODE_REFUSED, out, sizeof(out), &n);
	check(r == 0 && n == m.n && out[2] == 0x80 && out[3] == 5 && out[11] == 1 &&
		  !memcmp(out + 12, m.b + 12, q.qend - 12) &&
		  !memcmp(out + q.qend, "\0\0\x29\x04\xd0\0\0\x80\0\0\0", 11),
	      "OPT echoed (1232, v0, DO)");

	query(&m, "example.com", DNS_TYPE_A);
	m.b[11] = 1;
	opt(&m, 4096, 3, false);
	r = parse(&m, &q);
	r = r == DNS_E_BADVERS ? dns_build_error(m.b, m.n, &q, -r, out, sizeof(out), &n) : -1;
	check(r == 0 && out[3] == 0 && out[q.qend + 5] == 1 && out[q.qend + 6] == 0,
	      "BADVERS in the OPT");
	q.edns.present = false;
	check(dns_build_error(m.b, m.n, &q, 16, out, sizeof(out), &n) == -EINVAL,
	      "extended rcode without EDNS -> EINVAL");

	r = dns_build_error((const uint8_t *)"\xab\xcd\x01", 3, NULL, DNS_RCODE_FORMERR, out,
			    sizeof(out), &n);
	check(r == 0 && n == 12 && out[0] == 0xab && out[1] == 0xcd && out[2] == 0x81 &&
		  out[3] == 1 && out[5] == 0,
	      "FORMERR for garbage: header only, id copied");
	r = dns_build_error((const uint8_t *)"\xab", 1, NULL, DNS_RCODE_FORMERR, out, sizeof(out),
			    &n);
	check(r == 0 && n == 12 && out[0] == 0 && out[1] == 0 && out[2] == 0x80,
	      "FORMERR for 1 byte: id 0");

	/* FORMERR after a valid question still echoes it */
	query(&m, "example.com", DNS_TYPE_A);
	u8(&m, 7);
	r = parse(&m, &q);
	r = r == DNS_E_FORMERR ? dns_build_error(m.b, m.n, &q, 1, out, sizeof(out), &n) : -1;
	check(r == 0 && n == m.n - 1 && out[5] == 1, "FORMERR echoes a valid question");

	query(&m, "example.com", DNS_TYPE_A);
	m.b[2] = 2 << 3 | 1;
	r = parse(&m, &q);
	r = r == DNS_E_NOTIMP ? dns_build_error(m.b, m.n, &q, 4, out, sizeof(out), &n) : -1;
	check(r == 0 && n == 12 && out[2] == (0x80 | 2 << 3 | 1) && out[3] == 4,
	      "NOTIMP keeps opcode, no question");

	query(&m, "example.com", DNS_TYPE_A);
	parse(&m, &q);
	check(dns_build_error(m.b, m.n, &q, 5, out, m.n - 1, &n) == -ENOSPC &&
		  dns_build_error(m.b, m.n, &q, 5, out, 11, &n) == -ENOSPC &&
		  dns_build_error(m.b, m.n, &q, 5, out, m.n, &n) == 0,
	      "out buffer too small -> ENOSPC");
	check(dns_build_error(m.b, m.n, &q, -1, out, sizeof(out), &n) == -EINVAL &&
		  dns_build_error(m.b, m.n, &q, 4096, out, sizeof(out), &n) == -EINVAL,
	      "bad rcode -> EINVAL");
	/* a response to our response is FORMERR (QR set) */
	dns_build_error(m.b, m.n, &q, 5, out, sizeof(out), &n);
	check(dns_parse_query(out, n, &q) == DNS_E_FORMERR, "own response does not parse as query");
}

static void test_tcp(void)
{
	uint8_t h[2];

	check(dns_tcp_frame_len((const uint8_t *)"", 0) == 0 &&
		  dns_tcp_frame_len((const uint8_t *)"\x01", 1) == 0,
	      "tcp frame: need 2 bytes");
	check(dns_tcp_frame_len((const uint8_t *)"\x00\x1d", 2) == 31 &&
		  dns_tcp_frame_len((const uint8_t *)"\x01\x02xyz", 5) == 260 &&
		  dns_tcp_frame_len((const uint8_t *)"\xff\xff", 2) == 65537 &&
		  dns_tcp_frame_len((const uint8_t *)"\0\0", 2) == 2,
	      "tcp frame length big-endian");
	check(dns_tcp_frame_hdr(300, h) == 0 && h[0] == 1 && h[1] == 44 &&
		  dns_tcp_frame_hdr(65535, h) == 0 && h[0] == 0xff &&
		  dns_tcp_frame_hdr(65536, h) == -EMSGSIZE,
	      "tcp frame header");
}

static void test_match(void)
{
	static const struct {
		const char *pattern, *name;
		bool match;
	} t[] = {
	    {"example.com", "example.com", true},
	    {"example.com", "www.example.com", false},
	    {"example.com", "xexample.com", false},
	    {"example.com", "example.co", false},
	    {"*.example.com", "www.example.com", true},
	    {"*.example.com", "a.b.example.com", true},
	    {"*.example.com", "example.com", false},
	    {"*.example.com", "xexample.com", false},
	    {"*.example.com", ".example.com", false},
	    {"*.example.com", "example.com.evil", false},
	    {"*.example.com", "www.example.com.evil", false},
	    {"*.example.com", "WWW.Example.COM", true},
	    {"*.EXAMPLE.com", "www.example.com", true},
	    {"Example.Com", "example.COM", true},
	    {"example.com.", "example.com", true},
	    {"example.com", "example.com.", true},
	    {"*.example.com.", "a.example.com.", true},
	    {"example.com..", "example.com", false},
	    {"*.example.com", "a\\.example.com", false},
	    {"*.example.com", "a\\\\.example.com", true},
	    {"*", "anything.at.all", true},
	    {"*", "", false},
	    {"", "", true},
	    {"", "example.com", false},
	    {"example.com", "", false},
	    {"*.example.com", "", false},
	    {"*x.example.com", "ax.example.com", false},
	    {"*x.example.com", "*x.example.com", true},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char what[160];

		snprintf(what, sizeof(what), "match \"%s\" \"%s\" -> %s", t[i].pattern, t[i].name,
			 t[i].match ? "yes" : "no");
		check(dns_name_match(t[i].pattern, t[i].name) == t[i].match, what);
	}
}

static void test_normalize(void)
{
	static const struct {
		const char *in, *out; /* out NULL: rejected */
	} t[] = {
	    {"Example.COM", "example.com"},
	    {"example.com.", "example.com"},
	    {"*.Corp.Internal.", "*.corp.internal"},
	    {"*", "*"},
	    {"_sip._tcp.example.com", "_sip._tcp.example.com"},
	    {"", NULL},
	    {".", NULL},
	    {"example.com..", NULL},
	    {".example.com", NULL},
	    {"a..b", NULL},
	    {"a.*.b", NULL},
	    {"*a.b", NULL},
	    {"a*.b", NULL},
	    {"**.b", NULL},
	    {"*.b.*", NULL},
	    {"a b.com", NULL},
	    {"a\\046b.com", NULL},
	    {"caf\xc3\xa9.com", NULL},
	};
	char out[300], lab[80], longname[300];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char what[128];
		int r = dns_name_normalize(t[i].in, out, sizeof(out));

		snprintf(what, sizeof(what), "normalize \"%s\"", t[i].in);
		check(t[i].out ? r == 0 && !strcmp(out, t[i].out) : r == -EINVAL, what);
	}
	memset(lab, 'a', 64);
	lab[63] = '\0';
	check(dns_name_normalize(lab, out, sizeof(out)) == 0, "normalize 63-byte label");
	lab[63] = 'a';
	lab[64] = '\0';
	check(dns_name_normalize(lab, out, sizeof(out)) == -EINVAL, "normalize 64-byte label");
	/* 253 characters ok, 254 not */
	memset(longname, 'a', sizeof(longname));
	for (int i = 63; i < 253; i += 64)
		longname[i] = '.';
	longname[253] = '\0';
	check(dns_name_normalize(longname, out, sizeof(out)) == 0, "normalize 253 characters");
	longname[253] = 'a';
	longname[254] = '\0';
	check(dns_name_normalize(longname, out, sizeof(out)) == -EINVAL,
	      "normalize 254 characters");
	check(dns_name_normalize("example.com", out, 11) == -ENOSPC &&
		  dns_name_normalize("example.com", out, 12) == 0,
	      "normalize out too small -> ENOSPC");
}

static void test_qtype(void)
{
	char buf[DNS_QTYPE_STRLEN], small[4];

	check(!strcmp(dns_qtype_name(1, buf, sizeof(buf)), "A") &&
		  !strcmp(dns_qtype_name(28, buf, sizeof(buf)), "AAAA") &&
		  !strcmp(dns_qtype_name(5, buf, sizeof(buf)), "CNAME") &&
		  !strcmp(dns_qtype_name(15, buf, sizeof(buf)), "MX") &&
		  !strcmp(dns_qtype_name(16, buf, sizeof(buf)), "TXT") &&
		  !strcmp(dns_qtype_name(12, buf, sizeof(buf)), "PTR") &&
		  !strcmp(dns_qtype_name(33, buf, sizeof(buf)), "SRV") &&
		  !strcmp(dns_qtype_name(2, buf, sizeof(buf)), "NS") &&
		  !strcmp(dns_qtype_name(6, buf, sizeof(buf)), "SOA") &&
		  !strcmp(dns_qtype_name(65, buf, sizeof(buf)), "HTTPS") &&
		  !strcmp(dns_qtype_name(64, buf, sizeof(buf)), "SVCB") &&
		  !strcmp(dns_qtype_name(255, buf, sizeof(buf)), "ANY"),
	      "qtype names");
	check(!strcmp(dns_qtype_name(123, buf, sizeof(buf)), "TYPE123") &&
		  !strcmp(dns_qtype_name(0, buf, sizeof(buf)), "TYPE0") &&
		  !strcmp(dns_qtype_name(65535, buf, sizeof(buf)), "TYPE65535"),
	      "qtype TYPEn");
	check(!strcmp(dns_qtype_name(123, small, sizeof(small)), "TYP"), "qtype truncated");
}

int main(void)
{
	test_parse_ok();
	test_compression();
	test_parse_bad();
	test_build();
	test_tcp();
	test_match();
	test_normalize();
	test_qtype();
	return nfail ? 1 : 0;
}
