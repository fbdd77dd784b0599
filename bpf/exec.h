/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * exec family: what user space reads to name the process behind an event
 * after the process is gone.  Fixed-width types only.
 */
#ifndef HUSH_BPF_EXEC_H
#define HUSH_BPF_EXEC_H

#define HUSH_EXE_LEN	 256
#define HUSH_CMDLINE_LEN 256
#define HUSH_PROCS_MAX	 8192

/* hush_procs value (key: __u32 tgid): the process's latest exec. */
struct hush_proc {
	__u64 exec_ns; /* bpf_ktime_get_boot_ns() at exec (events use this clock) */
	__u32 tgid;
	__u32 cmdline_len; /* bytes of cmdline used (NUL-separated arguments) */
	char exe[HUSH_EXE_LEN];
	char cmdline[HUSH_CMDLINE_LEN];
};

#endif /* HUSH_BPF_EXEC_H */
