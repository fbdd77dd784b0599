/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Warnings about policy statements that cannot take effect as written. */
#ifndef HUSH_AGENT_POLWARN_H
#define HUSH_AGENT_POLWARN_H

#include "../rules/policy.h"

#include <stdbool.h>

/* Log a warning per statement that cannot take effect: "allow host" names
 * no "allow dns" lets resolve; DNS statements without a "resolver"; any DNS
 * statement when no DNS proxy runs (dns_proxy false).  Returns how many. */
int policy_warn_unenforced(const struct policy *p, bool dns_proxy);

#endif /* HUSH_AGENT_POLWARN_H */
