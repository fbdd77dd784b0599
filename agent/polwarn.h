/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Warnings about policy statements that parse but are not enforced yet. */
#ifndef HUSH_AGENT_POLWARN_H
#define HUSH_AGENT_POLWARN_H

#include "../rules/policy.h"

/* Log one warning per statement this build validates but does not enforce
 * ("allow dns", "allow host", "resolver"); returns how many. */
int policy_warn_unenforced(const struct policy *p);

#endif /* HUSH_AGENT_POLWARN_H */
