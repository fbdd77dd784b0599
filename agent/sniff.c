// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What a client says first on a TCP connection: the server name of a TLS
 * ClientHello, or an HTTP/1.x request line and Host.  The sinkhole's parsers
 * (see sniff.h); pure code over untrusted bytes, a libFuzzer target
 * (tests/fuzz/fuzz_sniff.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "agent/sniff.h"

/* Copy src[0..n) as printable ASCII into dst[0..cap): other bytes and '\\'
 * become "\xHH"; cut at the end of dst, never inside an escape. */
static void put_text(char *dst, size_t cap, const uint8_t *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!cap)
		return;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = src[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= cap)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= cap)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		}
	}
	dst[o] = 0;
}

/* ---- TLS ClientHello ---- */

/* A bounds-checked reader over p[0..n). */
struct rd {
	const uint8_t *p;
	size_t n;
};

static bool rd_skip(struct rd *r, size_t k)
{
	if (r->n < k)
		return false;
	r->p += k;
	r->n -= k;
	return true;
}

static bool rd_u8(struct rd *r, size_t *v)
{
	if (r->n < 1)
		return false;
	*v = r->p[0];
	return rd_skip(r, 1);
}

static bool rd_u16(struct rd *r, size_t *v)
{
	if (r->n < 2)
		return false;
	*v = (size_t)r->p[0] << 8 | r->p[1];
	return rd_skip(r, 2);
}

/* A sub-reader of the next k bytes. */
static bool rd_sub(struct rd *r, size_t k, struct rd *sub)
{
	if (r->n < k)
		return false;
	sub->p = r->p;
	sub->n = k;
	return rd_skip(r, k);
}

#define TLS_HS_CLIENTHELLO 1
#define TLS_REC_MAX	   (16384 + 2048) /* TLSCiphertext limit (RFC 8446 5.2) */
#define TLS_EXT_SNI	   0
#define TLS_SNI_HOSTNAME   0

/*
 * Walk a ClientHello body b[0..n) (maybe only the start of it: complete
 * says whether it is all there).  1 when decided, 0 when the bytes ran out
 * before it was (never when complete), -EINVAL when malformed.
 */
static int tls_hello(const uint8_t *b, size_t n, bool complete, char *sni, size_t snilen)
{
	struct rd r = {b, n}, skip, exts;
	size_t len;

	/* legacy_version, random, legacy_session_id (<= 32 bytes) */
	if (!rd_skip(&r, 2 + 32) || !rd_u8(&r, &len))
		goto short_;
	if (len > 32)
		return -EINVAL;
	if (!rd_skip(&r, len))
		goto short_;
	/* cipher_suites: a non-empty, even length */
	if (!rd_u16(&r, &len))
		goto short_;
	if (len < 2 || len % 2)
		return -EINVAL;
	if (!rd_sub(&r, len, &skip))
		goto short_;
	/* legacy_compression_methods: at least one */
	if (!rd_u8(&r, &len))
		goto short_;
	if (len < 1)
		return -EINVAL;
	if (!rd_sub(&r, len, &skip))
		goto short_;
	/* extensions: optional (a hello without them has no SNI) */
	if (r.n == 0)
		return complete ? 1 : 0;
	if (!rd_u16(&r, &len))
		goto short_;
	if (complete && len != r.n)
		return -EINVAL; /* the block must end the message */
	exts.p = r.p;
	exts.n = len < r.n ? len : r.n;
	while (exts.n) {
		size_t type, elen, v;
		struct rd ext, list;

		if (!rd_u16(&exts, &type) || !rd_u16(&exts, &elen))
			goto ext_short;
		if (!rd_sub(&exts, elen, &ext))
			goto ext_short;
		if (type != TLS_EXT_SNI)
			continue;
		/* ServerNameList: u16 length (the whole extension), then
		 * entries of u8 type, u16 length, name */
		if (!rd_u16(&ext, &v) || v != ext.n || v == 0 || !rd_sub(&ext, v, &list))
			return -EINVAL;
		while (list.n) {
			size_t nt, nlen;
			struct rd name;

			if (!rd_u8(&list, &nt) || !rd_u16(&list, &nlen) ||
			    !rd_sub(&list, nlen, &name))
				return -EINVAL;
			if (nt == TLS_SNI_HOSTNAME) {
				if (nlen == 0)
					return -EINVAL;
				put_text(sni, snilen, name.p, name.n);
				return 1;
			}
		}
		return 1; /* server_name without a host_name */
	}
	if (len > r.n)
		goto short_; /* block not all here yet */
	return 1;	     /* every extension walked: no server_name */
ext_short:
	/* An extension overruns the block: malformed if the block is all here. */
	if (len <= r.n)
		return -EINVAL;
short_:
	return complete ? -EINVAL : 0;
}

int sinkhole_tls_sni(const uint8_t *buf, size_t len, bool final, char *sni, size_t snilen)
{
	uint8_t hs[SINKHOLE_FIRST_MAX];
	size_t hlen = 0, off = 0, mlen = 0;
	bool whole = false;
	int ret;

	if (snilen)
		sni[0] = 0;
	/* Gather the handshake bytes of the leading handshake records. */
	while (off < len) {
		size_t avail = len - off, rlen, take;

		if (buf[off] != TLS_CT_HANDSHAKE)
			return -EINVAL;
		if (avail >= 2 && buf[off + 1] != 3)
			return -EINVAL; /* record version 3.x */
		if (avail >= 3 && buf[off + 2] > 4)
			return -EINVAL;
		if (avail < 5)
			break;
		rlen = (size_t)buf[off + 3] << 8 | buf[off + 4];
		if (rlen == 0 || rlen > TLS_REC_MAX)
			return -EINVAL;
		take = avail - 5 < rlen ? avail - 5 : rlen;
		if (take > sizeof(hs) - hlen)
			take = sizeof(hs) - hlen;
		memcpy(hs + hlen, buf + off + 5, take);
		hlen += take;
		off += 5 + take;
		if (take < rlen)
			break; /* record not all here */
		/* Stop once the ClientHello is whole: what follows is not ours. */
		if (hlen >= 4 && hlen >= 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3]))
			break;
	}
	/* Handshake header: ClientHello and its length. */
	if (hlen >= 1 && hs[0] != TLS_HS_CLIENTHELLO)
		return -EINVAL;
	if (hlen >= 4) {
		mlen = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];
		if (mlen < 2 + 32 + 1 + 2 + 2 + 1 + 1)
			return -EINVAL; /* smaller than the smallest ClientHello */
		whole = hlen >= 4 + mlen;
		ret = tls_hello(hs + 4, whole ? mlen : hlen - 4, whole, sni, snilen);
		if (ret)
			return ret;
	}
	/* Not decided yet: wait, or (final) it was TLS that said no name. */
	if (!final)
		return 0;
	return len >= 1 ? 1 : -EINVAL;
}

/* ---- HTTP/1.x request ---- */

static bool tchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* End of the line starting at p[0..n): index of its LF, or n when none. */
static size_t line_end(const uint8_t *p, size_t n)
{
	const uint8_t *lf = memchr(p, '\n', n);

	return lf ? (size_t)(lf - p) : n;
}

int sinkhole_http_req(const uint8_t *buf, size_t len, bool final, struct sinkhole_http *out)
{
	static const char ver[] = "HTTP/1.";
	size_t i = 0, m, t0, t1, eol, k;

	memset(out, 0, sizeof(*out));
	/* METHOD: 1..15 token characters, then one SP. */
	while (i < len && i < sizeof(out->method) && tchar(buf[i]))
		i++;
	if (i == len)
		return i < sizeof(out->method) && !final ? 0 : -EINVAL;
	if (i == 0 || i >= sizeof(out->method) || buf[i] != ' ')
		return -EINVAL;
	m = i++;
	/* request-target: visible characters up to one SP. */
	t0 = i;
	while (i < len && buf[i] > 0x20 && buf[i] != 0x7f)
		i++;
	if (i == len)
		return final ? -EINVAL : 0;
	if (i == t0 || buf[i] != ' ')
		return -EINVAL;
	t1 = i++;
	/* "HTTP/1." DIGIT, then CRLF or LF. */
	for (k = 0; k < sizeof(ver) - 1; k++, i++) {
		if (i == len)
			return final ? -EINVAL : 0;
		if (buf[i] != (uint8_t)ver[k])
			return -EINVAL;
	}
	if (i == len)
		return final ? -EINVAL : 0;
	if (buf[i] < '0' || buf[i] > '9')
		return -EINVAL;
	i++;
	if (i < len && buf[i] == '\r')
		i++;
	if (i == len)
		return final ? -EINVAL : 0;
	if (buf[i] != '\n')
		return -EINVAL;
	i++;
	put_text(out->method, sizeof(out->method), buf, m);
	put_text(out->path, sizeof(out->path), buf + t0, t1 - t0);
	/* Header lines up to the empty one; the first Host wins. */
	for (;;) {
		size_t n, c, v, e;

		eol = line_end(buf + i, len - i);
		if (i + eol == len)
			return final ? 1 : 0; /* line not complete */
		n = eol;
		if (n && buf[i + n - 1] == '\r')
			n--;
		if (n == 0)
			return 1; /* end of the headers */
		/* name ":" OWS value OWS */
		for (c = 0; c < n && tchar(buf[i + c]); c++)
			;
		if (c == 4 && c < n && buf[i + c] == ':' && !out->host[0] &&
		    strncasecmp((const char *)buf + i, "host", 4) == 0) {
			v = c + 1;
			e = n;
			while (v < e && (buf[i + v] == ' ' || buf[i + v] == '\t'))
				v++;
			while (e > v && (buf[i + e - 1] == ' ' || buf[i + e - 1] == '\t'))
				e--;
			put_text(out->host, sizeof(out->host), buf + i + v, e - v);
		}
		i += eol + 1;
	}
}
