/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The maps every BPF object of hush shares: the enforcing objects
 * (hush.bpf.h) and the cgmove tracepoints (cgmove.bpf.c) define them once,
 * here; the loader hands the one set of fds to all (libbpf reuses them).
 */
#ifndef HUSH_BPF_SHARED_MAPS_BPF_H
#define HUSH_BPF_SHARED_MAPS_BPF_H

#include "bpf/policy_maps.h"
#include "bpf/events.h"

/* ---- policy: the scopes of each generation ---- */

/* cgroup id -> scope (only cgroups named by the policy, plus the attach
 * cgroup as scope 0). */
struct hush_scopes_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct hush_scope_val);
};

/* generation -> its scope map. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, HUSH_NGEN);
	__type(key, __u32);
	__array(values, struct hush_scopes_inner);
} hush_scopes SEC(".maps");

/* [0]: policy sequence (active generation = seq & 1) and hash. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hush_cfg);
} hush_cfg SEC(".maps");

/* ---- observability ---- */

/* Events to user space (struct hush_event); size set by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} hush_events SEC(".maps");

/* Per-CPU counters, index HUSH_CTR_IDX(hook, verdict).  Counted before the
 * event is offered, so a full ring buffer loses no count. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HUSH_CTR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} hush_counters SEC(".maps");

/* Per-CPU event sequence numbers, same index (see events.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HUSH_CTR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} hush_evseq SEC(".maps");

#endif /* HUSH_BPF_SHARED_MAPS_BPF_H */
