// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * DNS query and response parsers, error-response builder, TCP framing and
 * name matching.  The rules of what is accepted are in dns.h.  Every read is
 * bounds-checked against the message length; names are walked with a hop
 * limit and strictly-backward pointers, so no input can loop.
 *
 * A response is read in passes over the same bytes rather than into a
 * record table (no allocation): one pass checks every record of every
 * section, then the answer section is walked again to follow the CNAME
 * chain (once per name added, as records may come in any order) and once
 * more to collect the addresses.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/dns.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
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
 *
 * What a pointer leads to must lie wholly before the pointer (limit): a
 * compressor points at an earlier, complete name, so this costs nothing real,
 * and it makes every name self-contained in the bytes from its start to its
 * end (*pos).  Without it a question name could jump back and read on past
 * its own end into QTYPE and the records after it, and the question bytes
 * echoed in a response would decode to another name, or to none.
 */
static int name_parse(const uint8_t *msg, size_t len, size_t *pos, char *out, size_t *wire)
{
	size_t off = *pos, end = 0, w = 0, o = 0, limit = len;
	unsigned int hops = 0;

	for (;;) {
		uint8_t c;

		if (off >= limit)
			return DNS_E_FORMERR;
		c = msg[off];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (off + 1 >= limit)
				return DNS_E_FORMERR;
			target = (size_t)(c & 0x3f) << 8 | msg[off + 1];
			if (target < DNS_HDR_LEN || target >= off || ++hops > DNS_MAX_HOPS)
				return DNS_E_FORMERR;
			if (!end)
				end = off + 2;
			limit = off;
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
		if (w + 1 + c + 1 > DNS_MAX_WIRE_NAME || c > limit - off - 1)
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

/* A resource record as rr_next() finds it: offsets into the message. */
struct rr {
	size_t owner;	   /* the owner name */
	size_t owner_wire; /* its uncompressed wire length */
	size_t rdata;	   /* the RDATA, rdlen bytes */
	uint16_t type, class, rdlen;
	uint32_t ttl;
};

/* Read the record at *pos: owner name, fixed part, RDATA within len; *pos is then past it. */
static int rr_next(const uint8_t *msg, size_t len, size_t *pos, struct rr *rr)
{
	size_t p = *pos;
	int r;

	rr->owner = p;
	r = name_parse(msg, len, &p, NULL, &rr->owner_wire);
	if (r < 0)
		return r;
	if (len - p < 10)
		return DNS_E_FORMERR;
	rr->type = get16(msg + p);
	rr->class = get16(msg + p + 2);
	rr->ttl = get32(msg + p + 4);
	rr->rdlen = get16(msg + p + 8);
	p += 10;
	if (rr->rdlen > len - p)
		return DNS_E_FORMERR;
	rr->rdata = p;
	*pos = p + rr->rdlen;
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

/* An OPT record (RFC 6891 6.1): the only one, root owner, well-formed options. */
static int opt_parse(const uint8_t *msg, const struct rr *rr, struct dns_edns *e)
{
	int r;

	if (e->present || rr->owner_wire != 1)
		return DNS_E_FORMERR;
	r = opt_options_check(msg + rr->rdata, rr->rdlen);
	if (r < 0)
		return r;
	e->present = true;
	e->udp_size = rr->class;
	e->ext_rcode = (uint8_t)(rr->ttl >> 24);
	e->version = (uint8_t)(rr->ttl >> 16);
	e->do_bit = rr->ttl & 0x8000;
	return 0;
}

/* The question at *pos: name (into name, "" on failure), type and class;
 * *pos moves past it.  Returns 0 or a name_parse() error / DNS_E_FORMERR. */
static int question_parse(const uint8_t *msg, size_t len, size_t *pos, char *name, uint16_t *qtype,
			  uint16_t *qclass)
{
	size_t wire;
	int r = name_parse(msg, len, pos, name, &wire);

	if (r == 0 && len - *pos < 4)
		r = DNS_E_FORMERR;
	if (r < 0) {
		name[0] = '\0';
		return r;
	}
	*qtype = get16(msg + *pos);
	*qclass = get16(msg + *pos + 2);
	*pos += 4;
	return 0;
}

int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q)
{
	size_t pos = DNS_HDR_LEN;
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

	r = question_parse(msg, len, &pos, q->name, &q->qtype, &q->qclass);
	if (r < 0)
		return r;
	q->qend = pos;

	/* additional records: at most one OPT, the rest skipped */
	for (unsigned int i = 0; i < arcount; i++) {
		struct rr rr;

		r = rr_next(msg, len, &pos, &rr);
		if (r < 0)
			goto bad_edns;
		if (rr.type == DNS_TYPE_OPT) {
			r = opt_parse(msg, &rr, &q->edns);
			if (r < 0)
				goto bad_edns;
		}
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

/* RDATA that must have a shape: A/AAAA of class IN a fixed size, CNAME one name exactly. */
static int rr_check(const uint8_t *msg, size_t len, const struct rr *rr)
{
	size_t p = rr->rdata, wire;

	if (rr->class == DNS_CLASS_IN && ((rr->type == DNS_TYPE_A && rr->rdlen != 4) ||
					  (rr->type == DNS_TYPE_AAAA && rr->rdlen != 16)))
		return DNS_E_FORMERR;
	if (rr->type == DNS_TYPE_CNAME &&
	    (name_parse(msg, len, &p, NULL, &wire) < 0 || p != rr->rdata + rr->rdlen))
		return DNS_E_FORMERR;
	return 0;
}

/* RFC 2181 8: a TTL with the most significant bit set is taken as zero. */
static uint32_t ttl_value(uint32_t ttl)
{
	return ttl & 0x80000000u ? 0 : ttl;
}

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Index of name in out->chain, or -1. */
static int chain_find(const struct dns_response *out, const char *name)
{
	for (size_t i = 0; i < out->nchain; i++)
		if (!strcmp(out->chain[i], name))
			return (int)i;
	return -1;
}

/*
 * Follow the CNAME chain from chain[0] through the an answer records at
 * out->qend (already checked by dns_parse_response(), so the re-reads
 * cannot fail).  A pass over the answers takes every link it meets in
 * order, so an in-order chain needs one pass; another pass is made only
 * while the last one added a name.  ttl[i] is the smallest TTL of the
 * CNAMEs from chain[0] to chain[i].
 */
static void chain_walk(const uint8_t *msg, size_t len, unsigned int an, struct dns_response *out,
		       uint32_t ttl[DNS_CHAIN_MAX])
{
	char owner[DNS_NAME_STRLEN], target[DNS_NAME_STRLEN];
	bool grew = true;

	while (grew) {
		size_t pos = out->qend;

		grew = false;
		for (unsigned int i = 0; i < an; i++) {
			size_t p, wire;
			struct rr rr;

			if (rr_next(msg, len, &pos, &rr) < 0)
				return;
			if (rr.type != DNS_TYPE_CNAME || rr.class != DNS_CLASS_IN)
				continue;
			p = rr.owner;
			if (name_parse(msg, len, &p, owner, &wire) < 0)
				return;
			if (strcmp(owner, out->chain[out->nchain - 1]))
				continue;
			p = rr.rdata;
			if (name_parse(msg, len, &p, target, &wire) < 0)
				return;
			if (chain_find(out, target) >= 0) {
				out->chain_loop = true;
				return;
			}
			if (out->nchain == DNS_CHAIN_MAX) {
				out->chain_truncated = true;
				return;
			}
			memcpy(out->chain[out->nchain], target, strlen(target) + 1);
			ttl[out->nchain] = min32(ttl[out->nchain - 1], ttl_value(rr.ttl));
			out->nchain++;
			grew = true;
		}
	}
}

/* Collect the class IN A/AAAA answers owned by a chain name (records as in chain_walk()). */
static void addrs_collect(const uint8_t *msg, size_t len, unsigned int an, struct dns_response *out,
			  const uint32_t ttl[DNS_CHAIN_MAX])
{
	char owner[DNS_NAME_STRLEN];
	size_t pos = out->qend;

	for (unsigned int i = 0; i < an; i++) {
		struct dns_addr *a;
		size_t p, wire;
		struct rr rr;
		int k;

		if (rr_next(msg, len, &pos, &rr) < 0)
			return;
		if ((rr.type != DNS_TYPE_A && rr.type != DNS_TYPE_AAAA) || rr.class != DNS_CLASS_IN)
			continue;
		p = rr.owner;
		if (name_parse(msg, len, &p, owner, &wire) < 0)
			return;
		k = chain_find(out, owner);
		if (k < 0)
			continue;
		if (out->naddrs == DNS_ADDRS_MAX) {
			out->addrs_truncated = true;
			return;
		}
		a = &out->addrs[out->naddrs++];
		a->family = rr.type == DNS_TYPE_A ? AF_INET : AF_INET6;
		memset(a->addr, 0, sizeof(a->addr));
		memcpy(a->addr, msg + rr.rdata, rr.rdlen); /* 4 or 16, as rr_check() made sure */
		a->ttl = min32(ttl_value(rr.ttl), ttl[k]);
	}
}

int dns_parse_response(const uint8_t *msg, size_t len, struct dns_response *out)
{
	uint32_t ttl[DNS_CHAIN_MAX];
	size_t pos = DNS_HDR_LEN;
	unsigned int an, ar0, nrr; /* answers [0, an), additional [ar0, nrr) */
	int r;

	out->id = 0;
	out->flags = 0;
	out->qtype = 0;
	out->qclass = 0;
	out->rcode = 0;
	out->truncated = false;
	out->qend = 0;
	memset(&out->edns, 0, sizeof(out->edns));
	out->qname[0] = '\0';
	out->nchain = 0;
	out->chain_loop = false;
	out->chain_truncated = false;
	out->naddrs = 0;
	out->addrs_truncated = false;

	if (len < DNS_HDR_LEN)
		return DNS_E_FORMERR;
	out->id = get16(msg);
	out->flags = get16(msg + 2);
	out->rcode = out->flags & 0xf;
	out->truncated = out->flags & DNS_FLAG_TC;
	if (!(out->flags & DNS_FLAG_QR) || get16(msg + 4) != 1)
		return DNS_E_FORMERR;
	an = get16(msg + 6);
	ar0 = an + get16(msg + 8);
	nrr = ar0 + get16(msg + 10);

	r = question_parse(msg, len, &pos, out->qname, &out->qtype, &out->qclass);
	if (r < 0)
		return DNS_E_FORMERR;
	out->qend = pos;

	/* every record of every section well formed; the OPT read */
	for (unsigned int i = 0; i < nrr; i++) {
		struct rr rr;

		r = rr_next(msg, len, &pos, &rr);
		if (r == 0)
			r = rr_check(msg, len, &rr);
		if (r == 0 && i >= ar0 && rr.type == DNS_TYPE_OPT)
			r = opt_parse(msg, &rr, &out->edns);
		if (r < 0)
			goto bad;
	}
	if (pos != len) {
		r = DNS_E_FORMERR;
		goto bad;
	}
	if (out->edns.present)
		out->rcode |= out->edns.ext_rcode << 4;

	/* the CNAME chain from the question name, then its addresses */
	memcpy(out->chain[0], out->qname, strlen(out->qname) + 1);
	out->nchain = 1;
	ttl[0] = UINT32_MAX;
	chain_walk(msg, len, an, out, ttl);
	addrs_collect(msg, len, an, out, ttl);
	return 0;

bad:
	memset(&out->edns, 0, sizeof(out->edns));
	return r;
}

void dns_set_id(uint8_t *msg, size_t len, uint16_t id)
{
	if (len >= 2)
		put16(msg, id);
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
