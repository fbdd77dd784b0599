/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS names as the policy writes them (`allow dns`, `allow host`) and as the
 * DNS proxy judges them: the one place a name is matched against a pattern,
 * used by the policy lint and by the proxy alike.  Pure string work, no I/O.
 *
 * Names are in presentation form (dns.h: labels joined by '.', bytes other
 * than letters, digits, '-' and '_' escaped as \DDD).
 */
#ifndef HUSH_RULES_DNSNAME_H
#define HUSH_RULES_DNSNAME_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Does name match an `allow dns` pattern?  Both in presentation form (as
 * above); letters compare case-insensitively, one trailing dot on either is
 * ignored.  A pattern "*.SUFFIX" matches every name strictly below SUFFIX
 * (any number of labels), not SUFFIX itself; the pattern "*" matches every
 * name but the root.  Any other pattern matches only the name equal to it.
 * There is no search-domain logic: a client that appends a search suffix
 * asks for that longer name, and it is judged as such.
 */
bool dns_name_match(const char *pattern, const char *name);

/*
 * Normalize a pattern from the policy into out[0..outlen): lower-case, one
 * trailing dot stripped.  Rejected (-EINVAL): the empty name or root, empty
 * labels ("a..b", ".a"), labels over 63 bytes, more than 253 characters,
 * bytes outside printable ASCII, '\\' (patterns have no escapes), and '*'
 * anywhere but as the whole first label.  -ENOSPC if out is too small.
 */
int dns_name_normalize(const char *in, char *out, size_t outlen);

#endif /* HUSH_RULES_DNSNAME_H */
