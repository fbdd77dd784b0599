/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * runner.c's child side (runner_child.c): what the command's process does
 * between clone3 and exec, and the name-service files it mounts.  Not for
 * use outside agent/runner*.c.
 */
#ifndef HUSH_AGENT_RUNNER_INT_H
#define HUSH_AGENT_RUNNER_INT_H

#include <signal.h>
#include <stddef.h>

#include "agent/contain.h"

struct runner_child {
	char *const *argv;
	char *const *envp;
	int errpipe; /* gets a struct runner_child_err if exec is not reached */
	const sigset_t *orig;
	int netns_fd;		       /* > 0: join it */
	const char *cgmnt;	       /* the cgroup2 mount point, mounted afresh there */
	const char *hide;	       /* the run's pin directory, hidden */
	const char *dns_dir;	       /* --dns-only files, or NULL */
	const struct contain *contain; /* may be NULL */
	cap_t caps;		       /* from contain_prepare() */
};

enum runner_step {
	RUNNER_STEP_NETNS = 1,
	RUNNER_STEP_MOUNTS,
	RUNNER_STEP_CONTAIN,
	RUNNER_STEP_EXEC,
};

struct runner_child_err {
	int step; /* enum runner_step */
	int err;  /* errno */
};

/* In the child of clone3 (already in the enforced cgroup and in a cgroup
 * namespace rooted there): never returns.  Exit 126, or 127 if the command
 * is not found. */
_Noreturn void runner_child_exec(const struct runner_child *c);
const char *runner_step_name(int step);

/* The files the child mounts for --dns-only, in a fresh directory dir:
 * nsswitch.conf with its hosts line "files dns", and resolv.conf when
 * given.  0 or -errno; dir is set when made (else ""). */
int runner_dns_files(const char *resolv_conf, char *dir, size_t len);
void runner_dns_cleanup(const char *dir);

#endif /* HUSH_AGENT_RUNNER_INT_H */
