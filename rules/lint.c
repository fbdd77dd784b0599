// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A policy must never look stronger (or weaker) than what the kernel and the
 * DNS proxy enforce: statements that cannot take effect as written are
 * called out.  The warnings are returned, not printed: the caller says
 * where they go.
 */
#include <errno.h>
#include <string.h>

#include "rules/dnsname.h"
#include "rules/policy.h"

bool policy_scope_within(const char *ancestor, const char *path)
{
	size_t n = strlen(ancestor);

	if (n && (policy_scope_is_selector(ancestor) || policy_scope_is_selector(path)))
		return !strcmp(ancestor, path);
	return !n || (strncmp(ancestor, path, n) == 0 && (path[n] == 0 || path[n] == '/'));
}

/* Is `name` resolvable in scope s (an `allow dns` of s or an ancestor)? */
static bool dns_allowed(const struct policy *p, size_t s, const char *name)
{
	for (size_t j = 0; j < p->nscopes; j++) {
		if (!policy_scope_within(p->scopes[j].path, p->scopes[s].path))
			continue;
		for (size_t k = 0; k < p->scopes[j].ndns; k++) {
			const struct policy_dns *d = &p->scopes[j].dns[k];
			char pat[POLICY_DNS_PATLEN];

			snprintf(pat, sizeof(pat), "%s%s", d->wildcard ? "*." : "", d->name);
			if (dns_name_match(pat, name))
				return true;
		}
	}
	return false;
}

int policy_lint(const struct policy *p, bool dns_proxy, struct policy_errors *warn)
{
	size_t ndns = 0, nhosts = 0;
	int n = 0, ret = 0;

	for (size_t i = 0; i < p->nscopes && !ret; i++) {
		const struct policy_scope *s = &p->scopes[i];

		ndns += s->ndns;
		nhosts += s->nhosts;
		for (size_t k = 0; dns_proxy && k < s->nhosts && !ret; k++) {
			const struct policy_host *h = &s->hosts[k];

			if (dns_allowed(p, i, h->name))
				continue;
			ret = policy_errors_add(
			    warn,
			    "%s:%u:%u: warning: \"allow host %s\" learns nothing: "
			    "no \"allow dns\" of its scope lets %s be resolved",
			    p->name, h->loc.line, h->loc.col, h->name, h->name);
			n++;
		}
	}
	if (!ret && !dns_proxy && (ndns || nhosts || p->has_resolver)) {
		ret = policy_errors_add(
		    warn,
		    "%s: warning: no DNS proxy (--no-dns-proxy): \"allow dns\", "
		    "\"allow host\" and \"resolver\" have no effect, and DNS from "
		    "enforced cgroups is denied",
		    p->name);
		n++;
	}
	if (!ret && dns_proxy && (ndns || nhosts) && !p->has_resolver) {
		ret =
		    policy_errors_add(warn,
				      "%s: warning: no \"resolver\": the DNS proxy answers allowed "
				      "names with SERVFAIL",
				      p->name);
		n++;
	}
	return ret ? ret : n;
}
