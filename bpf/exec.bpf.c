// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * exec family: tp_btf/sched_process_exec records every process's exe and
 * command line at exec, in the kernel, so a process that connects and exits
 * at once is still attributed when user space reads its event a moment
 * later (/proc/PID is gone by then).  The map keeps each process's latest
 * exec; user space only trusts an entry older than the event it explains.
 * tp_btf (a BTF raw tracepoint) needs no tracefs mount, unlike tp/.
 *
 * The same map is the process table lineage is read from: fork enters a new
 * process (its forker's image, its parent, its start time, its cgroup),
 * exec replaces the image, exit marks the entry (kept, so a short-lived
 * parent still names its children's ancestry).  All from the kernel's own
 * task at the moment it happens: nothing to race with /proc.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpf/exec.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* tgid -> struct hush_proc, least recently used evicted first. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HUSH_PROCS_MAX);
	__type(key, __u32);
	__type(value, struct hush_proc);
} hush_procs SEC(".maps");

/* A hush_proc is too big for the stack: build it in a per-CPU slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hush_proc);
} hush_procbuf SEC(".maps");

/* Scratch for a path put together from dentries (twice the length: a read
 * at any offset below HUSH_EXE_LEN stays inside). */
#define HUSH_PATH_DEPTH 10
struct hush_pathbuf {
	char b[2 * HUSH_EXE_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hush_pathbuf);
} hush_pathbuf SEC(".maps");

/* An exec through a name that stands for another file: busybox re-executes
 * itself as /proc/self/exe; fexecve() runs /dev/fd/N or /proc/self/fd/N. */
static __always_inline bool exe_alias(const char *e)
{
	return (e[0] == '/' && e[1] == 'p' && e[2] == 'r' && e[3] == 'o' && e[4] == 'c' &&
		e[5] == '/') ||
	       (e[0] == '/' && e[1] == 'd' && e[2] == 'e' && e[3] == 'v' && e[4] == '/' &&
		e[5] == 'f' && e[6] == 'd' && e[7] == '/');
}

/* v & (HUSH_EXE_LEN - 1), in a way the compiler cannot drop: the verifier
 * then knows the bound however the offset grew. */
static __always_inline __u64 exe_off(__u64 v)
{
	asm volatile("%[v] &= 255" : [v] "+r"(v));
	return v;
}

/* The executed file's path from its dentries, up to the root of its mount
 * (a container's overlay root: the path as the container sees it).  Deeper
 * than HUSH_PATH_DEPTH or too long: the alias stays. */
static __always_inline void exe_from_file(struct linux_binprm *bprm, struct hush_proc *p)
{
	const unsigned char *names[HUSH_PATH_DEPTH];
	struct dentry *d = BPF_CORE_READ(bprm, file, f_path.dentry), *parent;
	struct hush_pathbuf *pb;
	__u32 zero = 0, off = 0;
	int depth = 0;
	long n;

	pb = bpf_map_lookup_elem(&hush_pathbuf, &zero);
	if (!pb || !d)
		return;
#pragma unroll
	for (int i = 0; i < HUSH_PATH_DEPTH; i++) {
		parent = BPF_CORE_READ(d, d_parent);
		if (!parent || parent == d)
			break;
		names[i] = BPF_CORE_READ(d, d_name.name);
		depth = i + 1;
		d = parent;
	}
	parent = BPF_CORE_READ(d, d_parent);
	if (!depth || parent != d)
		return;
#pragma unroll
	for (int i = HUSH_PATH_DEPTH - 1; i >= 0; i--) {
		if (i >= depth)
			continue;
		if (off >= HUSH_EXE_LEN - 1)
			return;
		pb->b[exe_off(off)] = '/';
		off++;
		n = bpf_probe_read_kernel_str(&pb->b[exe_off(off)], HUSH_EXE_LEN, names[i]);
		if (n <= 1)
			return;
		off += (__u32)n - 1;
	}
	if (off >= HUSH_EXE_LEN)
		return;
	pb->b[exe_off(off)] = 0;
	bpf_probe_read_kernel(p->exe, HUSH_EXE_LEN, pb->b);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(hush_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	unsigned long start, end;
	struct hush_proc *p;
	__u32 zero = 0, tgid, len;
	long n;

	p = bpf_map_lookup_elem(&hush_procbuf, &zero);
	if (!p)
		return 0;
	/* 1. Who, when, whose child, where. */
	tgid = BPF_CORE_READ(task, tgid);
	p->tgid = tgid;
	p->exec_ns = bpf_ktime_get_boot_ns();
	p->start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	p->ppid = BPF_CORE_READ(task, real_parent, tgid);
	p->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	p->exit_ns = 0;
	p->flags = HUSH_PROCF_EXEC;

	/* 2. The executed file, as exec saw it. */
	bpf_probe_read_kernel_str(p->exe, sizeof(p->exe), BPF_CORE_READ(bprm, filename));
	if (exe_alias(p->exe))
		exe_from_file(bprm, p);

	/* 3. The arguments, from the new image's memory. */
	start = BPF_CORE_READ(task, mm, arg_start);
	end = BPF_CORE_READ(task, mm, arg_end);
	len = end > start ? (__u32)(end - start) : 0;
	if (len > HUSH_CMDLINE_LEN)
		len = HUSH_CMDLINE_LEN;
	p->cmdline_len = 0;
	if (len) {
		n = bpf_probe_read_user(
		    p->cmdline, len & (HUSH_CMDLINE_LEN - 1) ?: HUSH_CMDLINE_LEN, (void *)start);
		if (n == 0)
			p->cmdline_len = len;
	}
	bpf_map_update_elem(&hush_procs, &tgid, p, BPF_ANY);
	return 0;
}

/* A new process: its forker's image (exe, cmdline; none if the forker is not
 * in the table: user space then asks /proc), its own parent, start, cgroup. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(hush_fork, struct task_struct *parent, struct task_struct *child)
{
	struct hush_proc *p, *from;
	__u32 zero = 0, tgid, ptgid;

	tgid = BPF_CORE_READ(child, tgid);
	if (BPF_CORE_READ(child, pid) != tgid)
		return 0; /* a thread */
	p = bpf_map_lookup_elem(&hush_procbuf, &zero);
	if (!p)
		return 0;
	ptgid = BPF_CORE_READ(parent, tgid);
	from = bpf_map_lookup_elem(&hush_procs, &ptgid);
	if (from) {
		__builtin_memcpy(p, from, sizeof(*p));
	} else {
		p->cmdline_len = 0;
		p->exe[0] = 0;
	}
	p->tgid = tgid;
	p->start_ns = BPF_CORE_READ(child, start_boottime);
	p->exec_ns = p->start_ns;
	p->ppid = BPF_CORE_READ(child, real_parent, tgid);
	p->cgroup_id = BPF_CORE_READ(child, cgroups, dfl_cgrp, kn, id);
	p->exit_ns = 0;
	p->flags = 0;
	bpf_map_update_elem(&hush_procs, &tgid, p, BPF_ANY);
	return 0;
}

/* The process's last thread left: keep the entry, mark it. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(hush_exit, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct hush_proc *p;

	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0; /* other threads live on */
	p = bpf_map_lookup_elem(&hush_procs, &tgid);
	if (!p || p->start_ns != BPF_CORE_READ(task, group_leader, start_boottime))
		return 0;
	p->exit_ns = bpf_ktime_get_boot_ns();
	p->flags |= HUSH_PROCF_EXITED;
	return 0;
}
