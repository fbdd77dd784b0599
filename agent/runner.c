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

#include "agent/cgroup.h"
#include "agent/enforcer.h"
#include "agent/log.h"
#include "agent/runner.h"
#include "agent/util.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

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

static void ep_watch(int ep, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};

	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
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

/* One run's state, from the cgroup made to the last event collected. */
struct run {
	const struct runner_opts *o;
	struct runner_result *r;
	char cg[PATH_MAX];
	bool cg_made;
	struct engine *eng;
	struct enforcer *en; /* the policy and what the DNS proxy taught it */
	struct dnsproxy *px;
	sigset_t mask, orig; /* signals read from sfd; the mask before */
	int cgfd, pidfd, sfd, ep, evfd, errpipe[2];
	char dns_dir[64]; /* --dns-only files, "" when none */
	uint64_t start, deadline, kill_at, next_tick;
	bool exited, populated;
};

/* 1. A fresh cgroup, enforced (and its DNS judged) before anything runs in
 * it. */
static int run_enforce(struct run *u)
{
	const struct runner_opts *o = u->o;
	struct engine_opts eo = {
	    .log_allowed = o->log_allowed,
	    .ringbuf_bytes = o->ringbuf_bytes,
	    .cgroup = u->cg,
	};
	struct dnsproxy_opts po = {
	    .deny_rcode = o->dns_deny_rcode,
	    .report = o->on_dns,
	    .report_ctx = o->ctx,
	    .learn = enforcer_learn,
	    .netns_fd = o->netns_fd,
	};
	int ret;

	ret = make_cgroup(o->parent, o->cgroup_prefix ? o->cgroup_prefix : "hush-run", u->cg,
			  sizeof(u->cg));
	if (ret)
		return ret;
	u->cg_made = true;
	ret = engine_open(&eo, o->policy->pc, o->policy->text, &u->eng);
	if (!ret)
		ret = enforcer_new(u->eng, o->policy, 0, &u->en);
	if (ret) {
		log_errno(ret, "cannot enforce the policy on %s", u->cg);
		return ret;
	}
	if (o->engp)
		*o->engp = u->eng;
	if (!o->dns_proxy)
		return 0;
	po.eng = u->eng;
	po.learn_ctx = u->en;
	ret = dnsproxy_start(&po, o->policy->pol, &u->px);
	if (ret)
		log_errno(ret, "cannot start the DNS proxy for %s", u->cg);
	return ret;
}

/* What supervision waits on: events, signals, the command's exit (and,
 * with wait_all, the cgroup emptying); the --dns-only files. */
static int run_prepare(struct run *u)
{
	const struct runner_opts *o = u->o;
	int rbfd, ret;

	rbfd = engine_events(u->eng, o->on_event, o->ctx);
	u->cgfd = open(u->cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	u->sfd = signalfd(-1, &u->mask, SFD_CLOEXEC | SFD_NONBLOCK);
	u->ep = epoll_create1(EPOLL_CLOEXEC);
	if (rbfd < 0 || u->cgfd < 0 || u->sfd < 0 || u->ep < 0 ||
	    pipe2(u->errpipe, O_CLOEXEC) < 0) {
		ret = -errno;
		log_errno(ret, "cannot set up the command's supervision");
		return ret;
	}
	ep_watch(u->ep, u->sfd, EPOLLIN);
	ep_watch(u->ep, rbfd, EPOLLIN);
	if (o->wait_all) {
		/* cgroup.events signals "populated 0" (EPOLLPRI) once the last
		 * process of the cgroup is gone. */
		char p[PATH_MAX];

		if (snprintf(p, sizeof(p), "%s/cgroup.events", u->cg) < (int)sizeof(p))
			u->evfd = open(p, O_RDONLY | O_CLOEXEC);
		if (u->evfd >= 0)
			ep_watch(u->ep, u->evfd, EPOLLPRI);
	}
	if (o->dns_only) {
		ret = dns_only_files(o->resolv_conf, u->dns_dir, sizeof(u->dns_dir));
		if (ret) {
			log_errno(ret, "cannot prepare the command's name service files in /tmp");
			return ret;
		}
	}
	return 0;
}

/* 2. clone3 straight into the cgroup. */
static int run_start(struct run *u)
{
	const struct runner_opts *o = u->o;
	struct clone_args ca = {
	    .flags = CLONE_INTO_CGROUP | CLONE_PIDFD,
	    .pidfd = (uint64_t)(uintptr_t)&u->pidfd,
	    .exit_signal = SIGCHLD,
	    .cgroup = (uint64_t)u->cgfd,
	};
	pid_t pid;
	int ret;

	u->start = (uint64_t)mono_ns();
	pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0) {
		ret = -errno;
		log_errno(ret, "cannot start %s in cgroup %s (clone3)", o->argv[0], u->cg);
		return ret;
	}
	if (pid == 0)
		child_exec(o->argv, u->errpipe[1], &u->orig, o->netns_fd,
			   o->dns_only ? u->dns_dir : NULL);
	close(u->errpipe[1]);
	u->errpipe[1] = -1;
	if (o->timeout_ms > 0)
		u->deadline = u->start + (uint64_t)o->timeout_ms * 1000000ull;
	ep_watch(u->ep, u->pidfd, EPOLLIN);
	return 0;
}

/* Signals to us are passed on to the command, which then has 5 s to end
 * (a second signal: none). */
static void run_on_signals(struct run *u, uint64_t t)
{
	struct signalfd_siginfo si;

	while (read(u->sfd, &si, sizeof(si)) == sizeof(si)) {
		/* A terminal's ^C reached the command already. */
		if (si.ssi_code != SI_KERNEL)
			syscall(SYS_pidfd_send_signal, u->pidfd, si.ssi_signo, NULL, 0);
		u->kill_at = u->r->interrupted ? t : t + 5000000000ull;
		u->r->interrupted = (int)si.ssi_signo;
	}
}

static void run_on_exit(struct run *u)
{
	siginfo_t si = {0};

	if (waitid((idtype_t)P_PIDFD, (id_t)u->pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid) {
		u->exited = true;
		u->r->exit_code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	}
}

/* Once a second: learned addresses that expired leave the policy. */
static void run_tick(struct run *u, uint64_t t)
{
	if (!u->px || t < u->next_tick)
		return;
	if (enforcer_expire(u->en))
		enforcer_reapply(u->en);
	u->next_tick = t + 1000000000ull;
}

/* 3. Supervise: events, signals, exit, timeout. */
static void run_supervise(struct run *u)
{
	const struct runner_opts *o = u->o;
	struct epoll_event evs[4];

	while (!u->exited || (o->wait_all && u->populated)) {
		int n = epoll_wait(u->ep, evs, 4, 100);
		uint64_t t = (uint64_t)mono_ns();

		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == u->sfd)
				run_on_signals(u, t);
			else if (evs[i].data.fd == u->evfd)
				u->populated = cgroup_populated(u->evfd);
			else if (evs[i].data.fd == u->pidfd)
				run_on_exit(u);
		}
		if (u->exited && o->wait_all && u->populated && u->evfd < 0)
			u->populated = false; /* cannot watch: stop with the command */
		engine_drain(u->eng);
		if (o->on_tick)
			o->on_tick(o->ctx, t - u->start);
		run_tick(u, t);
		if ((!u->exited || u->populated) && u->deadline && t >= u->deadline &&
		    !u->r->timed_out) {
			u->r->timed_out = true;
			u->kill_at = t;
		}
		if ((!u->exited || (o->wait_all && u->populated)) && u->kill_at &&
		    t >= u->kill_at) {
			/* Everything in the cgroup, grandchildren included. */
			cgroup_destroy(u->cg, 0);
			u->kill_at = t + 1000000000ull;
		}
	}
	u->r->duration_ns = (uint64_t)mono_ns() - u->start;
}

/* 4. Leftovers die with the cgroup; collect their last events. */
static void run_finish(struct run *u)
{
	struct runner_result *r = u->r;
	int err = 0, ret;

	if (read(u->errpipe[0], &err, sizeof(err)) == sizeof(err)) {
		r->exec_failed = true;
		log_errno(-err, "cannot run %s", u->o->argv[0]);
	}
	if (u->evfd >= 0 && cgroup_populated(u->evfd))
		r->others_left = true;
	ret = cgroup_destroy(u->cg, 5000);
	if (ret)
		log_errno(ret, "cannot remove cgroup %s", u->cg);
	else
		u->cg_made = false;
	engine_drain(u->eng);
	engine_counters(u->eng, r->counters);
	for (unsigned h = 0; h < HUSH_HOOK_MAX; h++)
		r->lost += r->counters[HUSH_CTR_IDX(h, HUSH_EV_LOST)];
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* Everything a run made, whatever step it reached. */
static void run_close(struct run *u)
{
	close_fd(u->ep);
	close_fd(u->sfd);
	close_fd(u->pidfd);
	close_fd(u->cgfd);
	close_fd(u->evfd);
	close_fd(u->errpipe[0]);
	close_fd(u->errpipe[1]);
	if (u->o->engp)
		*u->o->engp = NULL;
	dnsproxy_stop(u->px);
	dns_only_cleanup(u->dns_dir);
	enforcer_free(u->en);
	engine_close(u->eng);
	if (u->cg_made)
		cgroup_destroy(u->cg, 5000);
	sigprocmask(SIG_SETMASK, &u->orig, NULL);
}

int runner_run(const struct runner_opts *o, struct runner_result *r)
{
	struct run u = {
	    .o = o,
	    .r = r,
	    .cgfd = -1,
	    .pidfd = -1,
	    .sfd = -1,
	    .ep = -1,
	    .evfd = -1,
	    .errpipe = {-1, -1},
	    .populated = true,
	};
	int ret;

	memset(r, 0, sizeof(*r));
	sigemptyset(&u.mask);
	sigaddset(&u.mask, SIGINT);
	sigaddset(&u.mask, SIGTERM);
	sigaddset(&u.mask, SIGHUP);
	sigaddset(&u.mask, SIGQUIT);
	sigprocmask(SIG_BLOCK, &u.mask, &u.orig);

	ret = run_enforce(&u);
	if (!ret)
		ret = run_prepare(&u);
	if (!ret)
		ret = run_start(&u);
	if (!ret) {
		run_supervise(&u);
		run_finish(&u);
	}
	run_close(&u);
	return ret;
}
