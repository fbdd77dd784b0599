/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the DNS parser's unit tests share (test_dns.c: queries, error
 * responses, TCP framing, name matching; test_dns_response.c: responses):
 * a case of one check, and a wire message builder (header, labels, EDNS
 * OPT, a whole query).
 */
#ifndef HUSH_TESTS_UNIT_DNS_TC_H
#define HUSH_TESTS_UNIT_DNS_TC_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/dns.h"

#define TC_PREFIX "dns: "
#include "tests/unit/tc.h"
/* A case of a single check. */
static inline void check_at(bool ok, const char *what, int line)
{
	struct tc t;

	tc_begin(&t, "%s", what);
	tc_check(&t, ok, line, "false");
	tc_end(&t);
}

#define check(ok, what) check_at((ok), (what), __LINE__)

/* A query builder: header, then raw bytes appended. */
struct msg {
	uint8_t b[4096];
	size_t n;
};

static inline void hdr(struct msg *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
		       uint16_t ns, uint16_t ar)
{
	uint16_t w[6] = {id, flags, qd, an, ns, ar};

	for (int i = 0; i < 6; i++) {
		m->b[2 * i] = (uint8_t)(w[i] >> 8);
		m->b[2 * i + 1] = (uint8_t)w[i];
	}
	m->n = 12;
}

static inline void raw(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static inline void u8(struct msg *m, uint8_t v)
{
	m->b[m->n++] = v;
}

static inline void u16(struct msg *m, uint16_t v)
{
	u8(m, (uint8_t)(v >> 8));
	u8(m, (uint8_t)v);
}

/* Dotted name to wire labels (no escapes; test helper only). */
static inline void name(struct msg *m, const char *s)
{
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);

		u8(m, (uint8_t)l);
		raw(m, s, l);
		s += l + (dot ? 1 : 0);
	}
	u8(m, 0);
}

static inline void opt(struct msg *m, uint16_t size, uint8_t version, bool dobit)
{
	u8(m, 0);
	u16(m, DNS_TYPE_OPT);
	u16(m, size);
	u8(m, 0);
	u8(m, version);
	u8(m, dobit ? 0x80 : 0);
	u8(m, 0);
	u16(m, 0);
}

static inline void query(struct msg *m, const char *qname, uint16_t qtype)
{
	hdr(m, 0x1234, DNS_FLAG_RD, 1, 0, 0, 0);
	name(m, qname);
	u16(m, qtype);
	u16(m, DNS_CLASS_IN);
}

static inline int parse(const struct msg *m, struct dns_query *q)
{
	return dns_parse_query(m->b, m->n, q);
}

#endif /* HUSH_TESTS_UNIT_DNS_TC_H */
