/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Container cgroups bound to selector scopes ("scope container name=x {").
 * A path scope is bound by the apply itself; a selector scope names no
 * cgroup, so hushd says which cgroups it binds (from the container engines'
 * metadata) and re-applies.  Each apply puts the binds into the new
 * generation's scope map with the scope of the policy whose path equals
 * `sel` (a bind whose selector the policy lacks is left out).
 */
#ifndef HUSH_AGENT_ENGINE_BIND_H
#define HUSH_AGENT_ENGINE_BIND_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

struct engine;

struct engine_bind {
	uint64_t cgid;
	char *sel; /* the selector scope's path */
};

/* Replace the binds (copied); takes effect at the next apply.  0, -ENOMEM. */
int engine_set_binds(struct engine *e, const struct engine_bind *b, size_t n);

/*
 * At once, before the next apply: put cgid -> (scope, mode, flags) into the
 * live generation's scope map and drop the cgroup's cached scope, so the
 * next hook of a cgroup that made no attempt yet resolves to the new scope.
 * Rulings already cached for the cgroup (it made attempts) stay until the
 * apply that must follow.  0 or -errno.
 */
int engine_bind_live(struct engine *e, uint64_t cgid, uint32_t scope, uint8_t mode, uint8_t flags);

#endif /* HUSH_AGENT_ENGINE_BIND_H */
