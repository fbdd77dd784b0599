/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cgmove family: the processes of the enforced cgroup, tracked so that one
 * leaving it is reported (see cgmove.bpf.c).  Fixed-width types only.
 */
#ifndef HUSH_BPF_CGMOVE_H
#define HUSH_BPF_CGMOVE_H

#define HUSH_CGTRACK_MAX 65536

/* hush_cgtrack value (key: __u32 tgid): a process inside the enforced
 * cgroup's subtree. */
struct hush_cgtrack {
	__u64 cgroup_id; /* its cgroup when last seen inside (fork, move, seed) */
};

#endif /* HUSH_BPF_CGMOVE_H */
