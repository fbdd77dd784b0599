/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer target for the DNS library (agent/dns.c).
 *
 * For any input bytes, as a DNS query and as a DNS response (and both again
 * after a TCP length prefix):
 *   - dns_parse_query() returns 0, FORMERR, NOTIMP or BADVERS, and the name
 *     it fills is NUL-terminated and never contains an unescaped byte
 *     outside printable ASCII;
 *   - dns_build_error() for every RCODE gives a response of at least 12
 *     bytes with the query's id, QR set, the RCODE, and (when the question
 *     parsed) the question bytes equal to the query's; it never writes past
 *     a buffer of exactly the needed size, and reports -ENOSPC one byte
 *     short;
 *   - the response does not parse as a query (QR is set), but parses as a
 *     response with the RCODE asked for (extended bits in its OPT) and the
 *     question echoed, or is FORMERR there when it has no question;
 *   - dns_parse_response() returns 0 or FORMERR, fills the header fields it
 *     reports from the header bytes, and on success gives a CNAME chain that
 *     starts at the question name, has at most DNS_CHAIN_MAX distinct names
 *     in presentation form, and at most DNS_ADDRS_MAX addresses, each v4
 *     with zero padding or v6; on failure no chain and no addresses;
 *     dns_set_id() changes the id it reports and nothing else;
 *   - no input is both a valid query and a valid response.
 * The input is also split at its first NUL into a pattern and a name for
 * dns_name_match() and dns_name_normalize(): a normalized pattern must match
 * itself, and "*.P" must match "x.P".  Any violation abort()s.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/dns.h"

static void die(const char *what)
{
	fprintf(stderr, "fuzz_dns: %s\n", what);
	abort();
}

static void check_name(const char *name)
{
	size_t n = strnlen(name, DNS_NAME_STRLEN);

	if (n >= DNS_NAME_STRLEN)
		die("name not terminated");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x21 || c > 0x7e || (c >= 'A' && c <= 'Z'))
			die("raw byte in presentation name");
	}
}

static struct dns_response res, res2; /* ~19 KiB each */

static void check_response(const uint8_t *msg, size_t len, const struct dns_query *q, int rcode)
{
	size_t need = 0, n = 0;
	uint8_t *out;
	struct dns_query rq;
	int r;

	/* size it first with a big buffer, then again with exactly that much */
	out = malloc(len + 64);
	if (!out)
		abort();
	r = dns_build_error(msg, len, q, rcode, out, len + 64, &need);
	free(out);
	if (rcode > 15 && !(q && q->edns.present)) {
		if (r != -EINVAL)
			die("extended rcode without EDNS accepted");
		return;
	}
	if (r != 0)
		die("build failed with room to spare");
	out = malloc(need);
	if (!out)
		abort();
	if (dns_build_error(msg, len, q, rcode, out, need - 1, &n) != -ENOSPC)
		die("no ENOSPC one byte short");
	if (dns_build_error(msg, len, q, rcode, out, need, &n) != 0 || n != need)
		die("exact-size build failed");
	if (n < 12)
		die("response shorter than a header");
	if (len >= 2 && memcmp(out, msg, 2))
		die("id not copied");
	if (!(out[2] & 0x80) || (out[3] & 0xf) != (rcode & 0xf) || (out[3] & 0x80))
		die("bad response flags");
	if (q && q->qend) {
		if (q->qend > len || out[4] != 0 || out[5] != 1 ||
		    memcmp(out + 12, msg + 12, q->qend - 12))
			die("question not echoed");
	} else if (out[4] || out[5]) {
		die("QDCOUNT without a question");
	}
	if (dns_parse_query(out, n, &rq) != DNS_E_FORMERR)
		die("response parsed as a query");
	r = dns_parse_response(out, n, &res);
	if (q && q->qend) {
		if (r != 0 || res.rcode != rcode || res.qend != q->qend ||
		    strcmp(res.qname, q->name) || res.nchain != 1 || res.naddrs != 0)
			die("built response does not parse back");
	} else if (r != DNS_E_FORMERR) {
		die("response without a question parsed");
	}
	free(out);
}

static void one_query(const uint8_t *data, size_t size)
{
	static const int rcodes[] = {DNS_RCODE_FORMERR, DNS_RCODE_SERVFAIL, DNS_RCODE_NXDOMAIN,
				     DNS_RCODE_NOTIMP,	DNS_RCODE_REFUSED,  DNS_RCODE_BADVERS};
	struct dns_query q;
	uint8_t *copy;
	int r;

	/* exact-size copy so ASan catches any over-read */
	copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	r = dns_parse_query(copy, size, &q);
	if (r != 0 && r != DNS_E_FORMERR && r != DNS_E_NOTIMP && r != DNS_E_BADVERS)
		die("unexpected parse result");
	check_name(q.name);
	if (q.qend && (q.qend < 17 || q.qend > size))
		die("qend out of range");
	if (r == 0 && !q.qend)
		die("parsed without a question");
	for (size_t i = 0; i < sizeof(rcodes) / sizeof(rcodes[0]); i++)
		check_response(copy, size, &q, rcodes[i]);
	check_response(copy, size, NULL, DNS_RCODE_FORMERR);
	if (r == 0) {
		char buf[DNS_QTYPE_STRLEN];

		if (!*dns_qtype_name(q.qtype, buf, sizeof(buf)))
			die("empty qtype name");
		if (!dns_name_match(q.name, q.name))
			die("name does not match itself");
	}
	free(copy);
}

static void check_parsed_response(const uint8_t *msg, size_t size, int r)
{
	if (r != 0 && r != DNS_E_FORMERR)
		die("unexpected response parse result");
	check_name(res.qname);
	if (size >= 12) {
		if (res.id != (msg[0] << 8 | msg[1]) || res.flags != (msg[2] << 8 | msg[3]) ||
		    res.truncated != !!(msg[2] & 0x02))
			die("header fields not as sent");
	} else if (res.id || res.flags || res.truncated) {
		die("header fields without a header");
	}
	if (res.qend && (res.qend < 17 || res.qend > size))
		die("response qend out of range");
	if (r != 0) {
		if (res.nchain || res.naddrs || res.edns.present)
			die("chain, addresses or OPT from a bad response");
		return;
	}
	if (!res.qend || !(res.flags & DNS_FLAG_QR))
		die("response parsed without a question or QR");
	if ((res.rcode & 0xf) != (res.flags & 0xf) ||
	    res.rcode >> 4 != (res.edns.present ? res.edns.ext_rcode : 0))
		die("rcode not from flags and OPT");
	if (res.nchain < 1 || res.nchain > DNS_CHAIN_MAX || strcmp(res.chain[0], res.qname))
		die("chain does not start at the question name");
	if (res.chain_truncated && res.nchain != DNS_CHAIN_MAX)
		die("chain truncated short of the maximum");
	for (size_t i = 0; i < res.nchain; i++) {
		check_name(res.chain[i]);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(res.chain[i], res.chain[j]))
				die("name twice in the chain");
	}
	if (res.naddrs > DNS_ADDRS_MAX || (res.addrs_truncated && res.naddrs != DNS_ADDRS_MAX))
		die("address count");
	for (size_t i = 0; i < res.naddrs; i++) {
		static const uint8_t zero[12];
		const struct dns_addr *a = &res.addrs[i];

		if (a->family == AF_INET ? memcmp(a->addr + 4, zero, 12) != 0
					 : a->family != AF_INET6)
			die("bad address");
		if (a->ttl & 0x80000000u)
			die("TTL with the top bit set");
	}
}

static void one_response(const uint8_t *data, size_t size)
{
	struct dns_query q;
	uint8_t *copy;
	int r, r2;

	/* exact-size copy so ASan catches any over-read */
	copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	r = dns_parse_response(copy, size, &res);
	check_parsed_response(copy, size, r);
	if (r == 0 && dns_parse_query(copy, size, &q) == 0)
		die("both a query and a response");
	if (size >= 2) {
		uint16_t id = (uint16_t)~res.id;

		dns_set_id(copy, size, id);
		r2 = dns_parse_response(copy, size, &res2);
		if (r2 != r || (size >= 12 && res2.id != id) || res2.nchain != res.nchain ||
		    res2.naddrs != res.naddrs || res2.rcode != res.rcode ||
		    memcmp(res2.addrs, res.addrs, res.naddrs * sizeof(res.addrs[0])) ||
		    memcmp(copy + 2, data + 2, size - 2))
			die("dns_set_id changed more than the id");
	}
	free(copy);
}

static void names(const uint8_t *data, size_t size)
{
	char *pat, *name, norm[300], wild[310];
	const uint8_t *nul = memchr(data, 0, size);
	size_t plen = nul ? (size_t)(nul - data) : size;

	if (plen > 1000)
		return;
	pat = malloc(plen + 1);
	name = malloc(size - plen + 1);
	if (!pat || !name)
		abort();
	memcpy(pat, data, plen);
	pat[plen] = '\0';
	memcpy(name, data + plen, size - plen);
	name[size - plen] = '\0';
	if (nul) /* skip the separator, keeping name NUL-terminated */
		memmove(name, name + 1, size - plen);
	(void)dns_name_match(pat, name);
	(void)dns_name_match(name, pat);
	if (dns_name_normalize(pat, norm, sizeof(norm)) == 0) {
		if (!dns_name_match(norm, norm) || !dns_name_match(pat, norm))
			die("normalized pattern does not match itself");
		if (norm[0] != '*') {
			snprintf(wild, sizeof(wild), "*.%s", norm);
			if (dns_name_match(wild, norm))
				die("wildcard matches its apex");
			snprintf(wild, sizeof(wild), "x.%s", norm);
			if (!dns_name_match("*", wild) || dns_name_match(norm, wild))
				die("subdomain confusion");
		}
	}
	free(pat);
	free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t flen;

	one_query(data, size);
	one_response(data, size);
	/* TCP: a length-prefixed message inside the input */
	flen = dns_tcp_frame_len(data, size);
	if (flen && flen <= size) {
		one_query(data + 2, flen - 2);
		one_response(data + 2, flen - 2);
	}
	names(data, size);
	return 0;
}
