// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the sinkhole's parsers of untrusted first bytes
 * (agent/sniff.c): a TLS ClientHello's server name and an HTTP/1.x request.
 * Each input goes to both parsers whole (final and not), and in every
 * prefix the fuzzer's byte picks, as a stream arrives.  Checked: results in
 * {-EINVAL, 0, 1}; a decided parse stays decided as bytes come; outputs are
 * NUL-terminated printable ASCII.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/sniff.h"

static void printable(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		abort(); /* not terminated */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			abort();
}

static int tls(const uint8_t *d, size_t n, bool final)
{
	char sni[256];
	int r;

	memset(sni, 'x', sizeof(sni));
	sni[0] = 0;
	r = sinkhole_tls_sni(d, n, final, sni, sizeof(sni));
	if (r != -EINVAL && r != 0 && r != 1)
		abort();
	printable(sni, sizeof(sni));
	return r;
}

static int http(const uint8_t *d, size_t n, bool final)
{
	struct sinkhole_http h;
	int r;

	memset(&h, 0, sizeof(h));
	r = sinkhole_http_req(d, n, final, &h);
	if (r != -EINVAL && r != 0 && r != 1)
		abort();
	printable(h.method, sizeof(h.method));
	printable(h.path, sizeof(h.path));
	printable(h.host, sizeof(h.host));
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cut;
	uint8_t *copy;
	int whole;

	if (!size)
		return 0;
	/* Exact-size heap copy: ASan sees any read past the end. */
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	tls(copy, size, true);
	http(copy, size, true);
	whole = tls(copy, size, false);
	/* A prefix never contradicts the whole: once a prefix is bad, so is
	 * the whole stream. */
	cut = data[0] % size;
	if (tls(copy, cut, false) == -EINVAL && whole != -EINVAL)
		abort();
	whole = http(copy, size, false);
	if (http(copy, cut, false) == -EINVAL && whole != -EINVAL)
		abort();
	free(copy);
	return 0;
}
