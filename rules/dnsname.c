// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* DNS name patterns of the policy; see dnsname.h. */
#include <errno.h>
#include <string.h>

#include "rules/dnsname.h"

#define LABEL_MAX 63 /* bytes of one label (RFC 1035 2.3.4) */

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
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
			if (++label > LABEL_MAX)
				return -EINVAL;
		}
		out[i] = lower((char)c);
	}
	if (label == 0)
		return -EINVAL;
	out[n] = '\0';
	return 0;
}
