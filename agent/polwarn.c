// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A policy must never look stronger than what the kernel enforces: the DNS
 * statements are parsed and validated now, enforced once the DNS proxy
 * lands; until then every use is called out.
 */
#include "log.h"
#include "polwarn.h"

int policy_warn_unenforced(const struct policy *p)
{
	int n = 0;

	for (size_t i = 0; i < p->nscopes; i++) {
		const struct policy_scope *s = &p->scopes[i];

		for (size_t k = 0; k < s->ndns; k++, n++)
			log_warnx("policy: %s:%u:%u: warning: \"allow dns\" is not enforced yet "
				  "(no DNS proxy in this build): DNS is judged like any UDP/TCP "
				  "traffic to port 53",
				  p->name, s->dns[k].loc.line, s->dns[k].loc.col);
		for (size_t k = 0; k < s->nhosts; k++, n++)
			log_warnx("policy: %s:%u:%u: warning: \"allow host\" is not enforced yet "
				  "(no DNS proxy in this build): it allows nothing",
				  p->name, s->hosts[k].loc.line, s->hosts[k].loc.col);
	}
	if (p->has_resolver) {
		log_warnx("policy: %s: warning: \"resolver\" is not used yet (no DNS proxy in "
			  "this build): allow the resolver's port 53 with an ordinary rule",
			  p->name);
		n++;
	}
	return n;
}
