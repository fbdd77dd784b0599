// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The command's process between clone3 and exec (see runner.h): network
 * namespace, a private mount namespace (a fresh cgroup2 that shows its own
 * subtree only, the run's pins hidden, the --dns-only name-service files),
 * no fd beyond stdio, then contain_apply() and exec.  The parent has
 * threads and clone3 is no fork(): only system calls here, no allocation.
 */
#include <errno.h>
#include <limits.h>
#include <linux/sched.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/runner_int.h"

/* Sockets of resolver daemons a C library may ask instead of DNS. */
static const char *const resolver_dirs[] = {"/run/nscd", "/var/run/nscd", "/run/systemd/resolve",
					    "/var/run/systemd/resolve"};

/* --dns-only: nsswitch.conf and resolv.conf replaced by the files in dir,
 * resolver daemons' socket directories hidden under an empty tmpfs. */
static int dns_only(const char *dir)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/nsswitch.conf", dir);
	if (access(p, F_OK) == 0 && mount(p, "/etc/nsswitch.conf", NULL, MS_BIND, NULL))
		return -errno;
	snprintf(p, sizeof(p), "%s/resolv.conf", dir);
	if (access(p, F_OK) == 0 && mount(p, "/etc/resolv.conf", NULL, MS_BIND, NULL))
		return -errno;
	for (size_t i = 0; i < sizeof(resolver_dirs) / sizeof(resolver_dirs[0]); i++) {
		struct stat st;

		if (lstat(resolver_dirs[i], &st) == 0 && S_ISDIR(st.st_mode) &&
		    mount("tmpfs", resolver_dirs[i], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "size=4k,mode=0755"))
			return -errno;
	}
	return 0;
}

/*
 * A private mount namespace.  cgroup2 is mounted afresh from inside the new
 * cgroup namespace, so its root is the command's cgroup and no cgroup.procs
 * outside it is there to write to.  (Mounted from the initial cgroup
 * namespace, a cgroup2 mount would reset the hierarchy's flags, nsdelegate
 * among them, for the whole machine: here it cannot.)  0 or -errno.
 */
static int child_mounts(const struct runner_child *c)
{
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL))
		return -errno;
	/* The same superblock on the same mount point is refused (EBUSY): the
	 * host's mount goes first (MNT_DETACH: only in this namespace). */
	if (c->cgmnt &&
	    (umount2(c->cgmnt, MNT_DETACH) ||
	     mount("cgroup2", c->cgmnt, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)))
		return -errno;
	if (c->hide && mount("tmpfs", c->hide, "tmpfs",
			     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0500"))
		return -errno;
	return c->dns_dir ? dns_only(c->dns_dir) : 0;
}

static _Noreturn void child_fail(const struct runner_child *c, int step, int err)
{
	struct runner_child_err e = {.step = step, .err = err};

	if (write(c->errpipe, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(step == RUNNER_STEP_EXEC && err == ENOENT ? 127 : 126);
}

_Noreturn void runner_child_exec(const struct runner_child *c)
{
	int ret;

	sigprocmask(SIG_SETMASK, c->orig, NULL);
	if (c->netns_fd > 0 && setns(c->netns_fd, CLONE_NEWNET))
		child_fail(c, RUNNER_STEP_NETNS, errno);
	ret = child_mounts(c);
	if (ret)
		child_fail(c, RUNNER_STEP_MOUNTS, -ret);
	/* Nothing but stdio crosses: a socket keeps the cgroup it was made in. */
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	ret = contain_apply(c->contain, c->caps);
	if (ret)
		child_fail(c, RUNNER_STEP_CONTAIN, -ret);
	execvpe(c->argv[0], c->argv, c->envp);
	child_fail(c, RUNNER_STEP_EXEC, errno);
}

const char *runner_step_name(int step)
{
	switch (step) {
	case RUNNER_STEP_NETNS:
		return "cannot join the network namespace";
	case RUNNER_STEP_MOUNTS:
		return "cannot set up its mount namespace";
	case RUNNER_STEP_CONTAIN:
		return "cannot drop capabilities or switch user";
	default:
		return "cannot execute it";
	}
}

int runner_dns_files(const char *resolv_conf, char *dir, size_t len)
{
	FILE *in, *out;
	char p[PATH_MAX], line[1024];
	int ret = 0;

	snprintf(dir, len, "/tmp/hush-dns.XXXXXX");
	if (!mkdtemp(dir)) {
		dir[0] = 0;
		return -errno;
	}
	snprintf(p, sizeof(p), "%s/nsswitch.conf", dir);
	out = fopen(p, "w");
	if (!out)
		return -errno;
	in = fopen("/etc/nsswitch.conf", "r");
	while (in && fgets(line, sizeof(line), in))
		if (strncmp(line, "hosts:", 6) != 0)
			fputs(line, out);
	if (in)
		fclose(in);
	fputs("hosts: files dns\n", out);
	if (fclose(out))
		return -errno;
	if (resolv_conf) {
		snprintf(p, sizeof(p), "%s/resolv.conf", dir);
		out = fopen(p, "w");
		if (!out)
			return -errno;
		fputs(resolv_conf, out);
		if (fclose(out))
			ret = -errno;
	}
	return ret;
}

void runner_dns_cleanup(const char *dir)
{
	char p[PATH_MAX];

	if (!dir[0])
		return;
	snprintf(p, sizeof(p), "%s/nsswitch.conf", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/resolv.conf", dir);
	unlink(p);
	rmdir(dir);
}
