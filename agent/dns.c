// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * DNS query parser, error-response builder, TCP framing and name matching.
 * The rules of what is accepted are in dns.h.  Every read is bounds-checked
 * against the message length; names are walked with a hop limit and
 * strictly-backward pointers, so no input can loop.
 */
#include <errno.h>
#include <string.h>

#include "agent/dns.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Append label byte c to out in presentation form (lower-cased or \DDD). */
static size_t put_label_byte(char *out, size_t o, uint8_t c)
{
	if (c <= 0x20 || c >= 0x7f || c == '.' || c == '\\') {
		out[o++] = '\\';
		out[o++] = (char)('0' + c / 100);
		out[o++] = (char)('0' + c / 10 % 10);
		out[o++] = (char)('0' + c % 10);
	} else {
		out[o++] = lower((char)c);
	}
	return o;
}

/*
 * Walk the name at *pos.  On success *pos is just past the name (past the
 * first pointer if there is one), *wire its uncompressed wire length, and
 * out (if not NULL, DNS_NAME_STRLEN bytes) its presentation form.
 */
static int name_parse(const uint8_t *msg, size_t len, size_t *pos, char *out, size_t *wire)
{
	size_t off = *pos, end = 0, w = 0, o = 0;
	unsigned int hops = 0;

	for (;;) {
		uint8_t c;

		if (off >= len)
			return DNS_E_FORMERR;
		c = msg[off];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (off + 1 >= len)
				return DNS_E_FORMERR;
			target = (size_t)(c & 0x3f) << 8 | msg[off + 1];
			if (target < DNS_HDR_LEN || target >= off || ++hops > DNS_MAX_HOPS)
				return DNS_E_FORMERR;
			if (!end)
				end = off + 2;
			off = target;
			continue;
		}
		if (c & 0xc0) /* 0x40 extended, 0x80 reserved label types */
			return DNS_E_FORMERR;
		if (c == 0) {
			w++;
			if (!end)
				end = off + 1;
			break;
		}
		/* this label plus at least the final root byte must fit in 255 */
		if (w + 1 + c + 1 > DNS_MAX_WIRE_NAME || c > len - off - 1)
			return DNS_E_FORMERR;
		if (out) {
			if (o)
				out[o++] = '.';
			for (size_t i = 0; i < c; i++)
				o = put_label_byte(out, o, msg[off + 1 + i]);
		}
		w += 1 + (size_t)c;
		off += 1 + (size_t)c;
	}
	if (out)
		out[o] = '\0';
	*pos = end;
	*wire = w;
	return 0;
}

/* Check an OPT record's option list: (code, length, data) filling rdlen. */
static int opt_options_check(const uint8_t *p, size_t rdlen)
{
	size_t i = 0;

	while (i < rdlen) {
		if (rdlen - i < 4)
			return DNS_E_FORMERR;
		size_t olen = get16(p + i + 2);
		if (olen > rdlen - i - 4)
			return DNS_E_FORMERR;
		i += 4 + olen;
	}
	return 0;
}

int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q)
{
	size_t pos = DNS_HDR_LEN, wire;
	uint16_t arcount;
	int r;

	q->id = 0;
	q->flags = 0;
	q->qtype = 0;
	q->qclass = 0;
	q->qend = 0;
	memset(&q->edns, 0, sizeof(q->edns));
	q->name[0] = '\0';

	if (len < DNS_HDR_LEN)
		return DNS_E_FORMERR;
	q->id = get16(msg);
	q->flags = get16(msg + 2);
	if (q->flags & DNS_FLAG_QR)
		return DNS_E_FORMERR;
	if (DNS_OPCODE(q->flags) != 0)
		return DNS_E_NOTIMP;
	if (get16(msg + 4) != 1 || get16(msg + 6) != 0 || get16(msg + 8) != 0)
		return DNS_E_FORMERR;
	arcount = get16(msg + 10);

	/* question */
	r = name_parse(msg, len, &pos, q->name, &wire);
	if (r < 0) {
		q->name[0] = '\0';
		return r;
	}
	if (len - pos < 4) {
		q->name[0] = '\0';
		return DNS_E_FORMERR;
	}
	q->qtype = get16(msg + pos);
	q->qclass = get16(msg + pos + 2);
	pos += 4;
	q->qend = pos;

	/* additional records: at most one OPT, the rest skipped */
	for (unsigned int i = 0; i < arcount; i++) {
		uint16_t type, class, rdlen;
		uint32_t ttl;

		r = name_parse(msg, len, &pos, NULL, &wire);
		if (r < 0)
			goto bad_edns;
		if (len - pos < 10) {
			r = DNS_E_FORMERR;
			goto bad_edns;
		}
		type = get16(msg + pos);
		class = get16(msg + pos + 2);
		ttl = (uint32_t)get16(msg + pos + 4) << 16 | get16(msg + pos + 6);
		rdlen = get16(msg + pos + 8);
		pos += 10;
		if (rdlen > len - pos) {
			r = DNS_E_FORMERR;
			goto bad_edns;
		}
		if (type == DNS_TYPE_OPT) {
			if (q->edns.present || wire != 1) {
				r = DNS_E_FORMERR;
				goto bad_edns;
			}
			r = opt_options_check(msg + pos, rdlen);
			if (r < 0)
				goto bad_edns;
			q->edns.present = true;
			q->edns.udp_size = class;
			q->edns.ext_rcode = (uint8_t)(ttl >> 24);
			q->edns.version = (uint8_t)(ttl >> 16);
			q->edns.do_bit = ttl & 0x8000;
		}
		pos += rdlen;
	}
	if (pos != len) {
		r = DNS_E_FORMERR;
		goto bad_edns;
	}
	if (q->edns.present && q->edns.version > 0)
		return DNS_E_BADVERS;
	return 0;

bad_edns:
	/* a FORMERR response to a query with a broken OPT carries no OPT */
	memset(&q->edns, 0, sizeof(q->edns));
	return r;
}

int dns_build_error(const uint8_t *query, size_t qlen, const struct dns_query *q, int rcode,
		    uint8_t *out, size_t outcap, size_t *outlen)
{
	bool edns = q && q->edns.present;
	size_t qsec = 0, n = DNS_HDR_LEN;

	if (rcode < 0 || rcode > 0xfff || (rcode > 0xf && !edns))
		return -EINVAL;
	if (q && q->qend > DNS_HDR_LEN && q->qend <= qlen)
		qsec = q->qend - DNS_HDR_LEN;
	if (outcap < DNS_HDR_LEN + qsec + (edns ? 11 : 0))
		return -ENOSPC;

	memset(out, 0, DNS_HDR_LEN);
	if (qlen >= 2)
		memcpy(out, query, 2);
	/* QR, opcode and RD from the query; AA, TC, RA, Z, AD, CD clear */
	out[2] = (uint8_t)(0x80 | (qlen >= 3 ? query[2] & 0x79 : 0));
	out[3] = (uint8_t)(rcode & 0xf);
	if (qsec) {
		put16(out + 4, 1);
		memcpy(out + n, query + DNS_HDR_LEN, qsec);
		n += qsec;
	}
	if (edns) {
		put16(out + 10, 1);
		out[n++] = 0; /* root owner */
		put16(out + n, DNS_TYPE_OPT);
		put16(out + n + 2, DNS_EDNS_UDP_SIZE);
		out[n + 4] = (uint8_t)(rcode >> 4); /* extended RCODE */
		out[n + 5] = 0;			    /* version */
		out[n + 6] = q->edns.do_bit ? 0x80 : 0;
		out[n + 7] = 0;
		put16(out + n + 8, 0); /* no options */
		n += 10;
	}
	*outlen = n;
	return 0;
}

size_t dns_tcp_frame_len(const uint8_t *buf, size_t have)
{
	if (have < 2)
		return 0;
	return 2 + (size_t)get16(buf);
}

int dns_tcp_frame_hdr(size_t msglen, uint8_t hdr[2])
{
	if (msglen > 0xffff)
		return -EMSGSIZE;
	put16(hdr, (uint16_t)msglen);
	return 0;
}

/* Length of s without one trailing unescaped dot. */
static size_t name_len(const char *s)
{
	size_t n = strlen(s), bs = 0;

	if (n == 0 || s[n - 1] != '.')
		return n;
	while (bs < n - 1 && s[n - 2 - bs] == '\\')
		bs++;
	return bs % 2 ? n : n - 1;
}

static bool eq_nocase(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

bool dns_name_match(const char *pattern, const char *name)
{
	size_t plen = name_len(pattern), nlen = name_len(name), bs = 0, cut;

	if (plen >= 1 && pattern[0] == '*' && (plen == 1 || pattern[1] == '.')) {
		/* "*" alone: any name but the root; "*.S": strictly below S */
		if (plen == 1)
			return nlen > 0;
		/* name = X ".S" with X not empty, the dot a real separator */
		if (nlen < plen || !eq_nocase(pattern + 1, name + nlen - (plen - 1), plen - 1))
			return false;
		cut = nlen - (plen - 1);
		if (cut == 0)
			return false;
		while (bs < cut && name[cut - 1 - bs] == '\\')
			bs++;
		return bs % 2 == 0;
	}
	return plen == nlen && eq_nocase(pattern, name, plen);
}

int dns_name_normalize(const char *in, char *out, size_t outlen)
{
	size_t n = name_len(in), label = 0;

	if (n == 0 || n > 253)
		return -EINVAL;
	if (outlen < n + 1)
		return -ENOSPC;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '.') {
			if (label == 0)
				return -EINVAL;
			label = 0;
		} else {
			if (c < 0x21 || c > 0x7e || c == '\\')
				return -EINVAL;
			if (c == '*' && (i != 0 || (n > 1 && in[1] != '.')))
				return -EINVAL;
			if (++label > DNS_MAX_LABEL)
				return -EINVAL;
		}
		out[i] = lower((char)c);
	}
	if (label == 0)
		return -EINVAL;
	out[n] = '\0';
	return 0;
}

const char *dns_qtype_name(uint16_t qtype, char *buf, size_t len)
{
	static const struct {
		uint16_t type;
		const char *name;
	} names[] = {
	    {DNS_TYPE_A, "A"},	     {DNS_TYPE_NS, "NS"},	{DNS_TYPE_CNAME, "CNAME"},
	    {DNS_TYPE_SOA, "SOA"},   {DNS_TYPE_PTR, "PTR"},	{DNS_TYPE_MX, "MX"},
	    {DNS_TYPE_TXT, "TXT"},   {DNS_TYPE_AAAA, "AAAA"},	{DNS_TYPE_SRV, "SRV"},
	    {DNS_TYPE_SVCB, "SVCB"}, {DNS_TYPE_HTTPS, "HTTPS"}, {DNS_TYPE_ANY, "ANY"},
	};
	char digits[6];
	size_t nd = 0, o = 0;
	const char *src = NULL;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].type == qtype)
			src = names[i].name;
	if (len == 0)
		return src ? src : "";
	if (src) {
		for (; src[o] && o + 1 < len; o++)
			buf[o] = src[o];
		buf[o] = '\0';
		return buf;
	}
	do {
		digits[nd++] = (char)('0' + qtype % 10);
		qtype /= 10;
	} while (qtype);
	for (const char *p = "TYPE"; *p && o + 1 < len; p++)
		buf[o++] = *p;
	while (nd && o + 1 < len)
		buf[o++] = digits[--nd];
	buf[o] = '\0';
	return buf;
}
