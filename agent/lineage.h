/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Lineage of the process behind an event (its parent and the exe chain up
 * to its container's, unit's or hush run's first process), and this host's
 * name and id, for every log row.
 *
 * The chain comes from the kernel's process table (bpf/exec.h: fork, exec
 * and exit feed it), so a parent that already exited still appears.  A pid
 * the table does not know (started before hushd, or evicted) is read from
 * /proc while it lives, and says so ("src":"proc"); one neither knows ends
 * the chain with what is known ("exe":null and a "note").
 */
#ifndef HUSH_AGENT_LINEAGE_H
#define HUSH_AGENT_LINEAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/events.h"

struct engine;

#define LINEAGE_DEPTH 16 /* ancestors at most; then {"note":"truncated"} */

/*
 * e's process: *ppid (its parent's pid at its last exec or its fork; *has_ppid
 * false when unknown) and its ancestry as a JSON array into json, one object
 * per process from e's own up: {"pid":N,"exe":"/bin/sh"} with "exited":true
 * when it had exited by the event, "src":"proc" when read from /proc, and a
 * last {"pid":N,"exe":null,"note":"unknown: ..."} where the chain is lost.
 * The chain stops after the first ancestor outside e's boundary
 * (attrib_boundary() of e's cgroup path), or at pid 1.  self_exe: e's
 * process's exe as already resolved (may be NULL).  Returns 0, or -ENOENT
 * (no process: json "" and *has_ppid false).
 */
int lineage_of(const struct engine *eng, const struct hush_event *e, const char *self_exe,
	       uint32_t *ppid, bool *has_ppid, char *json, size_t len);

/* pid's parent and start (boot clock, to the clock tick) from /proc/PID/stat. */
int lineage_proc_stat(uint32_t pid, uint32_t *ppid, uint64_t *start_ns);
/* Nanoseconds per clock tick (the resolution of /proc's start times). */
uint64_t lineage_tick_ns(void);

/*
 * This host: hostname (gethostname) and host id: /etc/machine-id, else a
 * random id kept in state_dir/host-id (created 0644 on first use; "" if it
 * cannot be).  *src: "machine-id" or "state".  Returns 0 or a negative errno
 * when no id could be had (host_id "").
 */
int lineage_host(const char *state_dir, char *hostname, size_t hlen, char *host_id, size_t ilen,
		 const char **src);

#endif /* HUSH_AGENT_LINEAGE_H */
