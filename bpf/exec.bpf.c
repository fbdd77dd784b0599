// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * exec family: tp_btf/sched_process_exec records every process's exe and
 * command line at exec, in the kernel, so a process that connects and exits
 * at once is still attributed when user space reads its event a moment
 * later (/proc/PID is gone by then).  The map keeps each process's latest
 * exec; user space only trusts an entry older than the event it explains.
 * tp_btf (a BTF raw tracepoint) needs no tracefs mount, unlike tp/.
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
	/* 1. Who and when. */
	tgid = BPF_CORE_READ(task, tgid);
	p->tgid = tgid;
	p->exec_ns = bpf_ktime_get_boot_ns();

	/* 2. The executed file, as exec saw it. */
	bpf_probe_read_kernel_str(p->exe, sizeof(p->exe), BPF_CORE_READ(bprm, filename));

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
