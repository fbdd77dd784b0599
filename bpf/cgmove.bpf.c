// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgmove family: a process of the enforced cgroup that moves to a cgroup
 * outside it leaves every hook hush attached there, so the move itself is
 * reported (hook "cgroup_move", rule HUSH_RULE_CGMOVE; deny or audit by the
 * mode of the scope it left).  It cannot be stopped here: the tracepoints
 * fire after the fact, and only root (or the cgroup's delegate) can move.
 *
 *   tp_btf/cgroup_attach_task   fires after a move, when the source cgroup
 *                               is no longer known: hence hush_cgtrack, the
 *                               processes seen inside.  A move into the
 *                               subtree tracks; a tracked process's move
 *                               out of it is reported.
 *   tp_btf/sched_process_fork   a process born inside is tracked (a child
 *                               of one inside, or one cloned into it); a
 *                               child born outside to a parent inside
 *                               (clone3 CLONE_INTO_CGROUP) is a move.
 *   tp_btf/sched_process_exit   the exit of a process forgets it (pids are
 *                               reused).
 * User space seeds hush_cgtrack with the processes already inside once the
 * programs are attached.
 *
 * Events and counters go through the maps the enforcing objects share
 * (bpf/shared_maps.bpf.h; the loader hands over their fds).  Reads
 * kernel structs, so CO-RE.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpf/policy_maps.h"
#include "bpf/events.h"
#include "bpf/cgmove.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define HUSH_SCOPE_NONE ((__u32)-1)

/* The enforced (attach) cgroup: its id and level (the root is level 0). */
const volatile __u64 hush_cg_id;
const volatile __u32 hush_cg_level;

/* tgid -> struct hush_cgtrack: processes inside the enforced subtree. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HUSH_CGTRACK_MAX);
	__type(key, __u32);
	__type(value, struct hush_cgtrack);
} hush_cgtrack SEC(".maps");

/* ---- shared with the enforcing objects ---- */

/* Makes clang emit the inner map's value type (see hush.bpf.h). */
static struct hush_scope_val hush_btf_anchor_ __attribute__((used));

#include "bpf/shared_maps.bpf.h"

extern struct cgroup *bpf_cgroup_from_id(u64 cgid) __ksym __weak;
extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym __weak;

/* Id of cg's ancestor at level lvl (cg itself at its own level); 0 if none. */
static __always_inline __u64 hush_cg_ancestor(struct cgroup *cg, __u32 lvl)
{
	struct cgroup *a = NULL;
	void *slot;

	if (!cg || (__u32)BPF_CORE_READ(cg, level) < lvl)
		return 0;
	slot = (void *)cg + bpf_core_field_offset(struct cgroup, ancestors) + lvl * sizeof(a);
	if (bpf_probe_read_kernel(&a, sizeof(a), slot) || !a)
		return 0;
	return BPF_CORE_READ(a, kn, id);
}

/* Is cg the enforced cgroup or below it? */
static __always_inline int hush_cg_inside(struct cgroup *cg)
{
	return hush_cg_ancestor(cg, hush_cg_level) == hush_cg_id;
}

static __always_inline __u64 hush_cg_idof(struct cgroup *cg)
{
	return BPF_CORE_READ(cg, kn, id);
}

static __always_inline void hush_track(__u32 tgid, __u64 cgid)
{
	struct hush_cgtrack v = {.cgroup_id = cgid};

	bpf_map_update_elem(&hush_cgtrack, &tgid, &v, BPF_ANY);
}

/* The scope the process left: the deepest ancestor of its last cgroup
 * inside with a hush_scopes entry, if that cgroup still exists; else the
 * enforced cgroup's own (scope 0). */
static __noinline int hush_scope_left(__u64 src, struct hush_scope_val *sv)
{
	struct hush_scope_val *v;
	struct hush_cfg *cfg;
	struct cgroup *cg = NULL;
	__u32 zero = 0, gen, lvl = 0;
	void *scopes;
	__u64 id;

	if (!sv)
		return -1;
	cfg = bpf_map_lookup_elem(&hush_cfg, &zero);
	if (!cfg)
		return -1;
	gen = HUSH_GEN(*(volatile const __u64 *)&cfg->policy_seq);
	scopes = bpf_map_lookup_elem(&hush_scopes, &gen);
	if (!scopes)
		return -1;
	id = hush_cg_id;
	v = bpf_map_lookup_elem(scopes, &id);
	if (v)
		*sv = *v;
	if (bpf_cgroup_from_id) /* a weak kfunc: NULL where the kernel lacks it */
		cg = bpf_cgroup_from_id(src);
	if (!cg)
		return v ? 0 : -1;
	lvl = cg->level;
	for (__u32 i = 1; i < HUSH_MAX_CGROUP_DEPTH; i++) {
		if (hush_cg_level + i > lvl)
			break;
		id = hush_cg_ancestor(cg, hush_cg_level + i);
		v = id ? bpf_map_lookup_elem(scopes, &id) : NULL;
		if (v)
			*sv = *v;
	}
	bpf_cgroup_release(cg);
	return 0;
}

/* Count and report task's move to dst (from the cgroup src inside). */
static __noinline int hush_report(struct task_struct *task, __u64 dst, __u64 src)
{
	struct hush_scope_val sv = {.scope = HUSH_SCOPE_NONE, .mode = HUSH_MODE_ENFORCE};
	struct hush_event *e;
	__u64 seq = 0, *sp;
	__u32 idx;
	__u8 ev;

	if (!task)
		return 0;
	hush_scope_left(src, &sv);
	ev = sv.mode == HUSH_MODE_AUDIT ? HUSH_EV_AUDIT : HUSH_EV_DENY;
	idx = HUSH_CTR_IDX(HUSH_HOOK_CGMOVE, ev);
	sp = bpf_map_lookup_elem(&hush_counters, &idx);
	if (sp)
		*sp += 1;
	/* Number the event before offering it: a lost one leaves a hole. */
	sp = bpf_map_lookup_elem(&hush_evseq, &idx);
	if (sp)
		seq = __sync_fetch_and_add(sp, 1) + 1;
	e = bpf_ringbuf_reserve(&hush_events, sizeof(*e), 0);
	if (!e) {
		idx = HUSH_CTR_IDX(HUSH_HOOK_CGMOVE, HUSH_EV_LOST);
		sp = bpf_map_lookup_elem(&hush_counters, &idx);
		if (sp)
			*sp += 1;
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->seq = seq;
	e->cpu = bpf_get_smp_processor_id();
	e->cgroup_id = dst;
	e->pid = BPF_CORE_READ(task, pid);
	e->tgid = BPF_CORE_READ(task, tgid);
	e->uid = BPF_CORE_READ(task, cred, uid.val);
	e->gid = BPF_CORE_READ(task, cred, gid.val);
	e->rule = HUSH_RULE_CGMOVE;
	e->scope = sv.scope;
	e->hook = HUSH_HOOK_CGMOVE;
	e->verdict = ev;
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(hush_cgattach, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	struct hush_cgtrack *t;
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u64 src;

	/* 0. Moves in cgroup v1 hierarchies (a hybrid host, where runc also
	 *    joins the v1 controllers) are no part of the subtree's: only the
	 *    default hierarchy (id 0, as /proc/PID/cgroup's "0::") counts. */
	if (BPF_CORE_READ(dst, root, hierarchy_id) != 0)
		return 0;
	/* 1. Into (or within) the subtree: track. */
	if (hush_cg_inside(dst)) {
		hush_track(tgid, hush_cg_idof(dst));
		return 0;
	}
	/* 2. Out of it: report a tracked process; a whole process is gone. */
	t = bpf_map_lookup_elem(&hush_cgtrack, &tgid);
	if (!t)
		return 0;
	src = t->cgroup_id;
	if (threadgroup)
		bpf_map_delete_elem(&hush_cgtrack, &tgid);
	hush_report(task, hush_cg_idof(dst), src);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(hush_cgfork, struct task_struct *parent, struct task_struct *child)
{
	struct cgroup *pcg, *ccg;
	__u32 tgid;

	/* 1. A new process (a thread's process is tracked already). */
	tgid = BPF_CORE_READ(child, tgid);
	if (BPF_CORE_READ(child, pid) != tgid)
		return 0;
	/* 2. Born inside (a child of a process inside, or one put there by
	 *    clone3 CLONE_INTO_CGROUP, as hush run does): track. */
	ccg = BPF_CORE_READ(child, cgroups, dfl_cgrp);
	if (hush_cg_inside(ccg)) {
		hush_track(tgid, hush_cg_idof(ccg));
		return 0;
	}
	/* 3. Born outside to a parent inside (CLONE_INTO_CGROUP): a move. */
	pcg = BPF_CORE_READ(parent, cgroups, dfl_cgrp);
	if (hush_cg_inside(pcg))
		hush_report(child, hush_cg_idof(ccg), hush_cg_idof(pcg));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(hush_cgexit, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);

	/* The process ends with its leader (threads leave it tracked). */
	if (BPF_CORE_READ(task, pid) == tgid)
		bpf_map_delete_elem(&hush_cgtrack, &tgid);
	return 0;
}
