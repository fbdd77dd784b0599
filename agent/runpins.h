/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Pins of the private engines of hush run and hush test, so that a command
 * never outlives its enforcement: a run pins its links (and maps) under
 * /sys/fs/bpf/hush-run-<cgroup id>/ and removes them at its normal end.  If
 * hush is killed (SIGKILL), the links stay attached and the command stays
 * enforced (DNS then fails closed: the proxy's sockets are gone).  A live
 * run holds an flock on its links/ directory; the next hush run, hush test
 * or hushd removes the pins of a dead run once its cgroup is gone or empty
 * and the hush that made it (its pid is in the cgroup's name) has ended
 * (and an empty run cgroup with them).
 */
#ifndef HUSH_AGENT_RUNPINS_H
#define HUSH_AGENT_RUNPINS_H

#include <stddef.h>
#include <stdint.h>

#define RUNPINS_DIR    "/sys/fs/bpf"
#define RUNPINS_PREFIX "hush-run-" /* bpffs refuses names with a '.' */

/* The pin directory of the run whose cgroup has this id. */
int runpins_path(uint64_t cgroup_id, char *buf, size_t len);
/* Remove the pins of dead runs whose cgroup is gone or empty.  Returns how
 * many were removed; never fails (what it cannot do it says). */
int runpins_sweep(void);

#endif /* HUSH_AGENT_RUNPINS_H */
