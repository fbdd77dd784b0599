// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A policy must never look stronger (or weaker) than what the kernel and the
 * DNS proxy enforce: statements that cannot take effect as written are
 * called out.
 */
#include "../agent/dns.h"
#include "log.h"
#include "polwarn.h"

#include <string.h>

/* Is `name` resolvable in scope s (an `allow dns` of s or an ancestor)? */
static bool dns_allowed(const struct policy *p, size_t s, const char *name)
{
	const char *path = p->scopes[s].path;

	for (size_t j = 0; j < p->nscopes; j++) {
		const char *pj = p->scopes[j].path;
		size_t n = strlen(pj);

		if (n && (strncmp(pj, path, n) || (path[n] && path[n] != '/')))
			continue;
		for (size_t k = 0; k < p->scopes[j].ndns; k++) {
			const struct policy_dns *d = &p->scopes[j].dns[k];
			char pat[DNS_NAME_STRLEN];

			snprintf(pat, sizeof(pat), "%s%s", d->wildcard ? "*." : "", d->name);
			if (dns_name_match(pat, name))
				return true;
		}
	}
	return false;
}

int policy_warn_unenforced(const struct policy *p, bool dns_proxy)
{
	size_t ndns = 0, nhosts = 0;
	int n = 0;

	for (size_t i = 0; i < p->nscopes; i++) {
		const struct policy_scope *s = &p->scopes[i];

		ndns += s->ndns;
		nhosts += s->nhosts;
		for (size_t k = 0; dns_proxy && k < s->nhosts; k++) {
			if (dns_allowed(p, i, s->hosts[k].name))
				continue;
			log_warnx("policy: %s:%u:%u: warning: \"allow host %s\" learns nothing: no "
				  "\"allow dns\" of its scope lets %s be resolved",
				  p->name, s->hosts[k].loc.line, s->hosts[k].loc.col,
				  s->hosts[k].name, s->hosts[k].name);
			n++;
		}
	}
	if (!dns_proxy && (ndns || nhosts || p->has_resolver)) {
		log_warnx("policy: %s: warning: no DNS proxy (--no-dns-proxy): \"allow dns\", "
			  "\"allow host\" and \"resolver\" have no effect, and DNS from enforced "
			  "cgroups is denied",
			  p->name);
		n++;
	}
	if (dns_proxy && (ndns || nhosts) && !p->has_resolver) {
		log_warnx("policy: %s: warning: no \"resolver\": the DNS proxy answers allowed "
			  "names with SERVFAIL",
			  p->name);
		n++;
	}
	return n;
}
