/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS wire format for hushd's DNS proxy: parse one query, build an error
 * response to it, parse the upstream resolver's response (to match it to
 * the query and learn the addresses of names), TCP length framing, and the
 * name matching used by `allow dns` entries.  Pure code: no I/O, no
 * allocation, caller-provided buffers only, so the whole file is a
 * libFuzzer target (tests/fuzz/fuzz_dns.c).
 *
 * Names are handled in presentation form: labels joined by '.', no trailing
 * dot, the root is "".  Letters are lower-cased (ASCII only).  Any label byte
 * that is not printable ASCII (0x21..0x7e), and '.', '\\', is written as a
 * three-digit decimal escape "\DDD", so the label "a.b" becomes "a\046b" and
 * can never be mistaken for the two labels "a" and "b".
 *
 * What dns_parse_query() accepts (anything else is FORMERR unless noted):
 *   - a 12-byte header with QR=0; an OPCODE other than QUERY is NOTIMP
 *     (checked before anything past the header is looked at);
 *   - QDCOUNT exactly 1, ANCOUNT and NSCOUNT 0 (a query carries no answers);
 *   - a question name of at most 255 wire bytes (253 presentation
 *     characters without escapes), labels of at most 63 bytes, no 0x40/0x80
 *     label types; compression pointers are allowed but must point strictly
 *     backwards and past the header (offset >= 12), the name they lead to
 *     must lie wholly before the pointer, and at most DNS_MAX_HOPS of them
 *     per name.  As the question always starts at offset 12, its bytes
 *     [12, qend) are then self-contained and are echoed verbatim (with the
 *     client's letter case, for 0x20 randomization) in responses;
 *   - ARCOUNT records, each well formed (names as above); at most one OPT
 *     (EDNS0) record, with the root as owner name and a well-formed option
 *     list; other additional records (e.g. TSIG) are skipped, not checked;
 *   - no bytes after the last record (trailing garbage is FORMERR);
 *   - an OPT with VERSION > 0 parses fully but returns DNS_E_BADVERS.
 * QCLASS and QTYPE are not judged here (AXFR, ANY, CHAOS... are the caller's
 * business).
 */
#ifndef HUSH_AGENT_DNS_H
#define HUSH_AGENT_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/dnsname.h"

/* RCODEs (RFC 1035, 6891).  BADVERS only travels in an OPT record. */
#define DNS_RCODE_NOERROR  0
#define DNS_RCODE_FORMERR  1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP   4
#define DNS_RCODE_REFUSED  5
#define DNS_RCODE_BADVERS  16

/* dns_parse_query() errors: minus the RCODE to answer with. */
#define DNS_E_FORMERR (-DNS_RCODE_FORMERR)
#define DNS_E_NOTIMP  (-DNS_RCODE_NOTIMP)
#define DNS_E_BADVERS (-DNS_RCODE_BADVERS)

/* Header flag bits (second 16-bit word of the header). */
#define DNS_FLAG_QR	  0x8000
#define DNS_FLAG_AA	  0x0400
#define DNS_FLAG_TC	  0x0200
#define DNS_FLAG_RD	  0x0100
#define DNS_FLAG_RA	  0x0080
#define DNS_FLAG_AD	  0x0020
#define DNS_FLAG_CD	  0x0010
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xf)

#define DNS_HDR_LEN	  12
#define DNS_MAX_WIRE_NAME 255
#define DNS_MAX_LABEL	  63
#define DNS_MAX_HOPS	  64   /* compression pointers followed per name */
#define DNS_EDNS_UDP_SIZE 1232 /* payload size advertised in our OPT records */
/* Presentation buffer: 254 data bytes at 4 characters each, dots, NUL. */
#define DNS_NAME_STRLEN	 1024
#define DNS_QTYPE_STRLEN 16

#define DNS_TYPE_A     1
#define DNS_TYPE_NS    2
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_SOA   6
#define DNS_TYPE_PTR   12
#define DNS_TYPE_MX    15
#define DNS_TYPE_TXT   16
#define DNS_TYPE_AAAA  28
#define DNS_TYPE_SRV   33
#define DNS_TYPE_OPT   41
#define DNS_TYPE_SVCB  64
#define DNS_TYPE_HTTPS 65
#define DNS_TYPE_ANY   255
#define DNS_CLASS_IN   1

struct dns_edns {
	bool present;	   /* the query carried an OPT record */
	bool do_bit;	   /* DNSSEC OK */
	uint8_t version;   /* EDNS version (0; > 0 gives DNS_E_BADVERS) */
	uint8_t ext_rcode; /* upper RCODE bits as sent (0 in a sane query) */
	uint16_t udp_size; /* requestor's UDP payload size as sent (< 512 means 512) */
};

struct dns_query {
	uint16_t id;
	uint16_t flags; /* header flags word as received (DNS_FLAG_*, opcode) */
	uint16_t qtype;
	uint16_t qclass;
	/* End of the question section (offset into the message), or 0 when the
	 * question was not (validly) parsed.  Set as soon as the question is
	 * valid, so a FORMERR for a later section can still echo it. */
	size_t qend;
	struct dns_edns edns;	    /* valid only when dns_parse_query() returns 0 or BADVERS */
	char name[DNS_NAME_STRLEN]; /* QNAME, presentation form, "" when not parsed */
};

/*
 * Parse the query msg[0..len).  Returns 0, DNS_E_FORMERR, DNS_E_NOTIMP or
 * DNS_E_BADVERS (so -ret is the RCODE to answer with).  Never reads outside
 * msg.  On error q is filled as far as parsing got (see qend).
 */
int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q);

/*
 * Build an error response to query[0..qlen) in out[0..outcap): same id and
 * opcode, QR=1, RD copied, RA=0, RCODE rcode (0..4095; above 15 only with
 * EDNS, the upper bits going into the OPT).  When q is not NULL and its
 * question was parsed (q->qend != 0), the question section is copied byte
 * for byte with QDCOUNT=1; otherwise the response is the header alone with
 * QDCOUNT=0 (the id is copied if the query has at least 2 bytes, the opcode
 * and RD if it has 3).  When q->edns.present, an OPT record is appended
 * (payload DNS_EDNS_UDP_SIZE, version 0, DO copied, no options).
 * NXDOMAIN and REFUSED carry no SOA record: negative caching of hushd's
 * denials is not wanted, a denied name must not be cached as non-existent
 * upstream of a policy change.
 * Returns 0 with *outlen set, -ENOSPC if out is too small, -EINVAL for a bad
 * rcode.
 */
int dns_build_error(const uint8_t *query, size_t qlen, const struct dns_query *q, int rcode,
		    uint8_t *out, size_t outcap, size_t *outlen);

#define DNS_CHAIN_MAX 16 /* names in a CNAME chain, qname included */
#define DNS_ADDRS_MAX 64 /* addresses reported per response */

struct dns_addr {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order, v4 in addr[0..3], rest zero */
	uint32_t ttl;	  /* min(TTL of this A/AAAA record, TTLs of the CNAMEs leading to it) */
};

struct dns_response {
	uint16_t id;
	uint16_t flags; /* header flags word as received (DNS_FLAG_*, opcode, low RCODE bits) */
	uint16_t qtype;
	uint16_t qclass;
	int rcode;	/* flags & 0xf, with the OPT's extended RCODE bits above when present */
	bool truncated; /* TC bit */
	size_t qend;	/* end of the question section, 0 when it was not (validly) parsed */
	struct dns_edns edns;	     /* the response's OPT record, if any (valid when 0 returned) */
	char qname[DNS_NAME_STRLEN]; /* question name, same form as dns_query.name */
	/* The CNAME chain starting at qname: chain[0] is qname, chain[i + 1]
	 * the target of chain[i]'s CNAME.  The walk stops at a CNAME whose
	 * target is already in the chain (chain_loop) or that would make it
	 * longer than DNS_CHAIN_MAX names (chain_truncated). */
	size_t nchain;
	char chain[DNS_CHAIN_MAX][DNS_NAME_STRLEN];
	bool chain_loop;
	bool chain_truncated;
	/* A/AAAA records of the answer section owned by a name of the chain,
	 * in message order; past DNS_ADDRS_MAX the rest is dropped and
	 * addrs_truncated set. */
	size_t naddrs;
	struct dns_addr addrs[DNS_ADDRS_MAX];
	bool addrs_truncated;
};

/*
 * Parse the response msg[0..len) from an upstream resolver.  Returns 0 or
 * DNS_E_FORMERR; never reads outside msg.  Accepted:
 *   - a 12-byte header with QR=1 and QDCOUNT exactly 1 (a response without
 *     its question, such as some FORMERR/NOTIMP answers, cannot be matched
 *     to a query and is FORMERR here); the opcode is not judged;
 *   - the question, with names as in dns_parse_query();
 *   - ANCOUNT + NSCOUNT + ARCOUNT records, every one well formed: owner
 *     name, fixed part, RDLENGTH within the message.  Class IN A records
 *     must have RDLENGTH 4 and AAAA 16, a CNAME's RDATA must be exactly one
 *     valid name, in any section; at most one OPT in the additional
 *     section, with the root as owner and a well-formed option list (its
 *     VERSION is reported, not judged); other RDATA is not looked into;
 *   - no bytes after the last record.
 * Counts larger than the packet holds make the last record truncated, so
 * FORMERR.  A response with TC set must be just as well formed (RFC 2181
 * 9: truncation drops whole records and lowers the counts).
 *
 * Then the answer section alone is walked: the CNAME chain is followed from
 * the question name (class IN records only; names compare
 * case-insensitively, which their lower-case form makes plain strcmp();
 * records in any order; the first CNAME of an owner wins), and the class
 * IN A and AAAA records owned by a chain name are reported in addrs.  The
 * synthesized CNAME of a DNAME answer is followed like any other.  Records
 * of other types or classes, or of owners outside the chain, are skipped;
 * so is everything in the authority and additional sections (glue is not
 * learned).  A TTL with the top bit set counts as 0 (RFC 2181 8).  The
 * upstream resolver is trusted: no bailiwick check is made.
 *
 * To check that a response answers a query hushd sent (RFC 5452 9.1): the
 * id equals the one sent, and msg[DNS_HDR_LEN..qend) equals the sent
 * query's question bytes [DNS_HDR_LEN..dns_query.qend) byte for byte,
 * which also checks the letter case of a 0x20-randomized name.
 *
 * On error out is filled as far as parsing got: id, flags, rcode (without
 * OPT bits) and truncated once the header is there, the question fields and
 * qend once the question parsed; edns, the chain and the addresses are
 * left empty (nchain and naddrs 0).  struct dns_response is about 19 KiB:
 * keep one per thread, not on a small stack.
 */
int dns_parse_response(const uint8_t *msg, size_t len, struct dns_response *out);

/* Overwrite the 16-bit message id of msg[0..len) in place; nothing if len < 2. */
void dns_set_id(uint8_t *msg, size_t len, uint16_t id);

/*
 * DNS over TCP (RFC 1035 4.2.2, 7766): each message is preceded by its
 * length as 2 bytes big-endian.  dns_tcp_frame_len() returns the size of
 * the whole frame (2 + message length) starting at buf, or 0 when fewer than
 * 2 bytes are there; the message is complete once have >= that size.
 * dns_tcp_frame_hdr() writes the prefix for a message of msglen bytes;
 * returns 0, or -EMSGSIZE above 65535.
 */
size_t dns_tcp_frame_len(const uint8_t *buf, size_t have);
int dns_tcp_frame_hdr(size_t msglen, uint8_t hdr[2]);

/* dns_name_match() and dns_name_normalize(): rules/dnsname.h (included above). */

/* "A", "AAAA", ..., or "TYPE<n>" (RFC 3597) written into buf; returns the name. */
const char *dns_qtype_name(uint16_t qtype, char *buf, size_t len);

#endif /* HUSH_AGENT_DNS_H */
