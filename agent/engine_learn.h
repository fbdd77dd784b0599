/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel's record of who learned which address (hush_learn, see
 * bpf/policy_maps.h): a learned address's table applies to a socket only if
 * its learning cgroup has an unexpired entry here.  The enforcer
 * (enforcer.h) is the only writer.
 */
#ifndef HUSH_AGENT_ENGINE_LEARN_H
#define HUSH_AGENT_ENGINE_LEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/learncg.h"

struct engine;

/* Allow learning cgroup lcg the address (AF_INET or AF_INET6, v4 in
 * addr[0..3]) until expires (CLOCK_BOOTTIME ns): in force on return.  0,
 * -E2BIG when the map is full (then it stays denied to lcg), or -errno. */
int engine_learn_put(struct engine *e, uint64_t lcg, int family, const uint8_t addr[16],
		     uint64_t expires);

/* Drop lcg's entry for the address (absent: 0). */
int engine_learn_del(struct engine *e, uint64_t lcg, int family, const uint8_t addr[16]);

/* Remove every entry (a new enforcer starts with none). */
int engine_learn_clear(struct engine *e);

/* Entries in the map now (all cgroups), or -errno. */
long engine_learn_count(struct engine *e);

/* What the pinned hush_learn holds now (read without hushd, for `hush
 * status`): unexpired entries, per learning cgroup, the most first. */
#define ENGINE_LEARNED_TOP 16
struct engine_learned {
	bool present; /* the map is pinned */
	size_t entries, cgroups;
	size_t ntop; /* of top */
	struct learncg_count top[ENGINE_LEARNED_TOP];
};
int engine_learn_pinned(const char *pin_dir, struct engine_learned *out);

#endif /* HUSH_AGENT_ENGINE_LEARN_H */
