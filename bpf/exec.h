/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * exec family: what user space reads to name the process behind an event
 * after the process is gone.  Fixed-width types only.
 */
#ifndef HUSH_BPF_EXEC_H
#define HUSH_BPF_EXEC_H

#define HUSH_EXE_LEN	 256
#define HUSH_CMDLINE_LEN 256
#define HUSH_PROCS_MAX	 16384

/* hush_proc.flags */
#define HUSH_PROCF_EXEC	  0x1 /* exe/cmdline from this process's own exec */
#define HUSH_PROCF_EXITED 0x2 /* its last thread exited (exit_ns set) */

/*
 * hush_procs value (key: __u32 tgid): the process table.  Fed by fork (a new
 * process inherits its forker's image), exec (its own image) and exit (kept,
 * marked: a parent that exited still names its children's ancestry until
 * the entry is evicted or its pid is reused; start_ns tells a reuse apart).
 */
struct hush_proc {
	__u64 exec_ns;	 /* bpf_ktime_get_boot_ns() at exec or fork (events use this clock) */
	__u64 start_ns;	 /* the process's start (task->start_boottime, same clock) */
	__u64 cgroup_id; /* its cgroup v2 id at that exec or fork */
	__u64 exit_ns;	 /* when its last thread exited (HUSH_PROCF_EXITED), else 0 */
	__u32 tgid;
	__u32 ppid;	   /* real parent's tgid at that exec or fork */
	__u32 cmdline_len; /* bytes of cmdline used (NUL-separated arguments) */
	__u32 flags;	   /* HUSH_PROCF_* */
	char exe[HUSH_EXE_LEN];
	char cmdline[HUSH_CMDLINE_LEN];
};

#endif /* HUSH_BPF_EXEC_H */
