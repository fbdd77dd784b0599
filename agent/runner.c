// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"
#include "runner.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sockets of resolver daemons a C library may ask instead of DNS. */
static const char *const resolver_dirs[] = {"/run/nscd", "/var/run/nscd", "/run/systemd/resolve",
					    "/var/run/systemd/resolve"};

/*
 * Child: a private mount namespace where lookups go through DNS only
 * (nsswitch.conf and resolv.conf replaced by the files in dir, resolver
 * daemons' socket directories hidden under an empty tmpfs).  0 or -errno.
 */
static int child_dns_only(const char *dir)
{
	char p[PATH_MAX];

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL))
		return -errno;
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
 * Parent: the files child_dns_only() mounts, in a fresh directory: the
 * host's nsswitch.conf with its hosts line made "files dns", and resolv.conf
 * when given.  Returns 0 or -errno; *dir is set when made.
 */
static int dns_only_files(const char *resolv_conf, char *dir, size_t len)
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

static void dns_only_cleanup(const char *dir)
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

/* Child side of clone3: runs in the enforced cgroup already. */
static void child_exec(char *const *argv, int errpipe, const sigset_t *orig, int netns_fd,
		       const char *dns_dir)
{
	int err;

	sigprocmask(SIG_SETMASK, orig, NULL);
	if ((netns_fd > 0 && setns(netns_fd, CLONE_NEWNET)) ||
	    (dns_dir && (errno = -child_dns_only(dns_dir)))) {
		err = errno;
		if (write(errpipe, &err, sizeof(err)) < 0)
			_exit(126);
		_exit(126);
	}
	/* Nothing but stdio crosses: a socket keeps the cgroup it was made in. */
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	execvp(argv[0], argv);
	err = errno;
	if (write(errpipe, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(err == ENOENT ? 127 : 126);
}

static int make_cgroup(const char *parent, const char *prefix, char *path, size_t len)
{
	char base[PATH_MAX];
	int ret;

	if (parent)
		ret = cgroup_resolve(parent, base, sizeof(base));
	else
		ret = cgroup_self_path(base, sizeof(base));
	if (ret) {
		log_errno(ret, "cannot find a parent cgroup%s%s", parent ? " " : "",
			  parent ? parent : "");
		return ret;
	}
	for (int i = 0; i < 100; i++) {
		if (snprintf(path, len, "%s/%s.%d.%d", base, prefix, (int)getpid(), i) >= (int)len)
			return -ENAMETOOLONG;
		if (mkdir(path, 0755) == 0)
			return 0;
		if (errno != EEXIST) {
			ret = -errno;
			log_errno(ret, "cannot create cgroup %s", path);
			return ret;
		}
	}
	return -EEXIST;
}

/* "populated 1" in cgroup.events (fd kept open, read from the start). */
static bool cgroup_populated(int fd)
{
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return false;
	buf[n] = 0;
	return strstr(buf, "populated 1") != NULL;
}

/* The run's DNS proxy learned or forgot addresses: apply again. */
struct learn_ctx {
	pthread_mutex_t mu;
	struct engine *eng;
	struct dnsproxy *px;
	const struct runner_opts *o;
};

static int run_learn(void *arg)
{
	struct learn_ctx *lc = arg;
	int ret;

	pthread_mutex_lock(&lc->mu);
	ret = dnsproxy_apply(lc->px, lc->eng, lc->o->pol, lc->o->pc, lc->o->policy_text);
	pthread_mutex_unlock(&lc->mu);
	return ret;
}

int runner_run(const struct runner_opts *o, struct runner_result *r)
{
	struct learn_ctx lc = {.mu = PTHREAD_MUTEX_INITIALIZER, .o = o};
	uint64_t next_tick = 0;
	struct engine_opts eo = {.log_allowed = o->log_allowed, .ringbuf_bytes = o->ringbuf_bytes};
	struct epoll_event ev, evs[4];
	struct engine *eng = NULL;
	char cg[PATH_MAX];
	sigset_t mask, orig;
	int cgfd = -1, pidfd = -1, sfd = -1, ep = -1, rbfd, ret, errpipe[2] = {-1, -1};
	uint64_t start, deadline = 0, kill_at = 0;
	bool exited = false, cg_made = false, populated = true;
	char dns_dir[64] = "";
	int evfd = -1;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigprocmask(SIG_BLOCK, &mask, &orig);

	/* 1. A fresh cgroup, enforced before anything runs in it. */
	ret = make_cgroup(o->parent, o->cgroup_prefix ? o->cgroup_prefix : "hush-run", cg,
			  sizeof(cg));
	if (ret)
		goto out;
	cg_made = true;
	eo.cgroup = cg;
	ret = engine_open(&eo, o->pc, o->policy_text, &eng);
	if (ret) {
		log_errno(ret, "cannot enforce the policy on %s", cg);
		goto out;
	}
	if (o->engp)
		*o->engp = eng;
	lc.eng = eng;
	if (o->pol) {
		struct dnsproxy_opts po = {
		    .eng = eng,
		    .deny_rcode = o->dns_deny_rcode,
		    .report = o->on_dns,
		    .report_ctx = o->ctx,
		    .learn = run_learn,
		    .learn_ctx = &lc,
		    .netns_fd = o->netns_fd,
		};

		ret = dnsproxy_start(&po, o->pol, &lc.px);
		if (ret) {
			log_errno(ret, "cannot start the DNS proxy for %s", cg);
			goto out;
		}
	}
	rbfd = engine_events(eng, o->on_event, o->ctx);
	cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (rbfd < 0 || cgfd < 0 || sfd < 0 || ep < 0 || pipe2(errpipe, O_CLOEXEC) < 0) {
		ret = -errno;
		log_errno(ret, "cannot set up the command's supervision");
		goto out;
	}

	if (o->dns_only) {
		ret = dns_only_files(o->resolv_conf, dns_dir, sizeof(dns_dir));
		if (ret) {
			log_errno(ret, "cannot prepare the command's name service files in /tmp");
			goto out;
		}
	}

	/* 2. clone3 straight into the cgroup. */
	{
		struct clone_args ca = {
		    .flags = CLONE_INTO_CGROUP | CLONE_PIDFD,
		    .pidfd = (uint64_t)(uintptr_t)&pidfd,
		    .exit_signal = SIGCHLD,
		    .cgroup = (uint64_t)cgfd,
		};

		start = now_ns();
		pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
		if (pid < 0) {
			ret = -errno;
			log_errno(ret, "cannot start %s in cgroup %s (clone3)", o->argv[0], cg);
			goto out;
		}
		if (pid == 0)
			child_exec(o->argv, errpipe[1], &orig, o->netns_fd,
				   o->dns_only ? dns_dir : NULL);
	}
	close(errpipe[1]);
	errpipe[1] = -1;
	if (o->timeout_ms > 0)
		deadline = start + (uint64_t)o->timeout_ms * 1000000ull;

	ev.events = EPOLLIN;
	ev.data.fd = pidfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, pidfd, &ev);
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = rbfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, rbfd, &ev);
	if (o->wait_all) {
		/* cgroup.events signals "populated 0" (EPOLLPRI) once the last
		 * process of the cgroup is gone. */
		char p[PATH_MAX];

		if (snprintf(p, sizeof(p), "%s/cgroup.events", cg) < (int)sizeof(p))
			evfd = open(p, O_RDONLY | O_CLOEXEC);
		if (evfd >= 0) {
			ev.events = EPOLLPRI;
			ev.data.fd = evfd;
			epoll_ctl(ep, EPOLL_CTL_ADD, evfd, &ev);
		}
	}

	/* 3. Supervise: events, signals, exit, timeout. */
	while (!exited || (o->wait_all && populated)) {
		int n = epoll_wait(ep, evs, 4, 100);
		uint64_t t = now_ns();

		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == sfd) {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					/* A terminal's ^C reached the command already. */
					if (si.ssi_code != SI_KERNEL)
						syscall(SYS_pidfd_send_signal, pidfd, si.ssi_signo,
							NULL, 0);
					if (r->interrupted)
						kill_at = t; /* second signal: now */
					else
						kill_at = t + 5000000000ull;
					r->interrupted = (int)si.ssi_signo;
				}
			} else if (evs[i].data.fd == evfd) {
				populated = cgroup_populated(evfd);
			} else if (evs[i].data.fd == pidfd) {
				siginfo_t si = {0};

				if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si,
					   WEXITED | WNOHANG) == 0 &&
				    si.si_pid) {
					exited = true;
					r->exit_code = si.si_code == CLD_EXITED
							   ? si.si_status
							   : 128 + si.si_status;
				}
			}
		}
		if (exited && o->wait_all && populated && evfd < 0)
			populated = false; /* cannot watch: stop with the command */
		engine_drain(eng);
		if (o->on_tick)
			o->on_tick(o->ctx, t - start);
		if (lc.px && t >= next_tick) {
			if (dnsproxy_tick(lc.px))
				run_learn(&lc);
			next_tick = t + 1000000000ull;
		}
		if ((!exited || populated) && deadline && t >= deadline && !r->timed_out) {
			r->timed_out = true;
			kill_at = t;
		}
		if ((!exited || (o->wait_all && populated)) && kill_at && t >= kill_at) {
			/* Everything in the cgroup, grandchildren included. */
			cgroup_destroy(cg, 0);
			kill_at = t + 1000000000ull;
		}
	}
	r->duration_ns = now_ns() - start;
	{
		int err = 0;

		if (read(errpipe[0], &err, sizeof(err)) == sizeof(err)) {
			r->exec_failed = true;
			log_errno(-err, "cannot run %s", o->argv[0]);
		}
	}

	/* 4. Leftovers die with the cgroup; collect their last events. */
	if (evfd >= 0 && cgroup_populated(evfd))
		r->others_left = true;
	ret = cgroup_destroy(cg, 5000);
	if (ret)
		log_errno(ret, "cannot remove cgroup %s", cg);
	else
		cg_made = false;
	engine_drain(eng);
	engine_counters(eng, r->counters);
	for (unsigned h = 0; h < HUSH_HOOK_MAX; h++)
		r->lost += r->counters[HUSH_CTR_IDX(h, HUSH_EV_LOST)];
	ret = 0;
out:
	if (ep >= 0)
		close(ep);
	if (sfd >= 0)
		close(sfd);
	if (pidfd >= 0)
		close(pidfd);
	if (cgfd >= 0)
		close(cgfd);
	if (evfd >= 0)
		close(evfd);
	if (errpipe[0] >= 0)
		close(errpipe[0]);
	if (errpipe[1] >= 0)
		close(errpipe[1]);
	if (o->engp)
		*o->engp = NULL;
	dnsproxy_stop(lc.px);
	dns_only_cleanup(dns_dir);
	engine_close(eng);
	if (cg_made)
		cgroup_destroy(cg, 5000);
	sigprocmask(SIG_SETMASK, &orig, NULL);
	return ret;
}
