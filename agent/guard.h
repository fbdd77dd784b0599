/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Containment (issue 11): a process under a policy must not switch the
 * policy off or loosen it.  hushd asks this before it applies a policy or
 * stops for `hush disable` (the peer of its control socket), and `hush
 * disable` asks it of itself before it unpins anything.
 *
 * "Inside" means: the process's cgroup (the "0::" line of /proc/PID/cgroup,
 * below the cgroup2 mount of /proc/mounts) is the enforced cgroup or a
 * descendant of it, compared by cgroup id walking up to the mount.  When the
 * enforced cgroup is the cgroup2 root (hushd host-wide), every process is
 * inside; then only the policy's `scope` cgroups count: a change is refused
 * from a process in a scope's cgroup or below it, and accepted from anywhere
 * else (an administrator's shell is in no scope).
 *
 * Reads /proc and cgroupfs only; no BPF.  A process with CAP_BPF or
 * CAP_SYS_ADMIN can still detach links with raw bpf() calls: this guards the
 * tools' own ways out, not the kernel's (README, Known limitations).
 */
#ifndef HUSH_AGENT_GUARD_H
#define HUSH_AGENT_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct policy;

/* The cgroup2 path of process pid (0: this process) relative to the mount:
 * "/" or "/a/b".  0, or -errno (-ENOENT: no "0::" line). */
int guard_cgroup_of(pid_t pid, char *rel, size_t len);

/*
 * Is process pid (0: this process) inside enforcement on the cgroup with id
 * enforced_id?  pol: the policy in force (its scopes count when enforced_id
 * is the cgroup2 root; may be NULL).  pidfd: the process's pidfd, or -1;
 * with one, a process that exited (its pid perhaps reused) while it was
 * looked at is not taken for another.
 *
 * Returns 1 (inside: why says so, as "the asking process (pid N) runs
 * inside the enforced cgroup /sys/fs/cgroup/x"), 0 (outside), or -errno
 * when it cannot tell (why says why): callers refuse then too.
 */
int guard_check(pid_t pid, int pidfd, uint64_t enforced_id, const struct policy *pol, char *why,
		size_t len);

#endif /* HUSH_AGENT_GUARD_H */
