// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
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
#include "agent/dnsns.h"
#include "agent/enforcer.h"
#include "agent/log.h"
#include "agent/runner.h"
#include "agent/runner_int.h"
#include "agent/runpins.h"
#include "agent/util.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int make_cgroup(const char *parent, const char *prefix, char *path, size_t len)
{
	char base[PATH_MAX], why[PATH_MAX + 96];
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
	ret = cgroup_check_root_only(base, why, sizeof(why));
	if (ret) {
		if (ret == -EPERM)
			log_warnx(
			    "refusing to make the command's cgroup under %s: %s may be written "
			    "by a user other than root, who could move the command out of its "
			    "enforced cgroup; pass --cgroup-parent with a cgroup only root may "
			    "write (e.g. mkdir /sys/fs/cgroup/hush)",
			    base, why);
		else
			log_errno(ret, "cannot check who may write %s", base);
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
static bool evfd_populated(int fd)
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
	struct dnsns *ns;    /* the proxy's namespace helper (dnsns.h), or NULL */
	sigset_t mask, orig; /* signals read from sfd; the mask before */
	int cgfd, pidfd, sfd, ep, evfd, errpipe[2];
	char dns_dir[64];	/* --dns-only files, "" when none */
	char pin_dir[PATH_MAX]; /* the engine's pins (runpins.h), "" when none */
	char cgmnt[PATH_MAX];	/* the cgroup2 mount point */
	cap_t caps;		/* the command's, from contain_prepare() */
	char **envp;		/* with env_prefix: environ and the two variables */
	char envs[2][PATH_MAX + 32];
	uint64_t start, deadline, kill_at, next_tick;
	bool exited, populated, stopping;
};

extern char **environ;

/* Signal sig to every process of cgroup path and of the cgroups below it
 * (depth levels at most). */
static void cgroup_signal(const char *path, int sig, int depth)
{
	char p[PATH_MAX];
	struct dirent *de;
	FILE *f;
	DIR *d;
	int pid;

	if (snprintf(p, sizeof(p), "%s/cgroup.procs", path) >= (int)sizeof(p))
		return;
	f = fopen(p, "re");
	if (f) {
		while (fscanf(f, "%d", &pid) == 1)
			if (pid > 0)
				kill(pid, sig);
		fclose(f);
	}
	if (depth <= 0)
		return;
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_type == DT_DIR && de->d_name[0] != '.' &&
		    snprintf(p, sizeof(p), "%s/%s", path, de->d_name) < (int)sizeof(p))
			cgroup_signal(p, sig, depth - 1);
	closedir(d);
}

/* The command's environment: environ without PREFIX_CGROUP and PREFIX_ID,
 * then those two for this run.  0 or -errno. */
static int run_env(struct run *u)
{
	const char *pre = u->o->env_prefix;
	size_t n = 0, k = 0, cut = strlen(u->cgmnt);
	const char *rel = u->cg + cut;
	const char *name = strrchr(u->cg, '/');

	if (strncmp(u->cg, u->cgmnt, cut) || (*rel && *rel != '/'))
		rel = u->cg; /* not below the mount found: say the path as it is */
	snprintf(u->r->cgroup, sizeof(u->r->cgroup), "%s", *rel ? rel : "/");
	if (!pre)
		return 0;
	snprintf(u->envs[0], sizeof(u->envs[0]), "%s_CGROUP=%s", pre, *rel ? rel : "/");
	snprintf(u->envs[1], sizeof(u->envs[1]), "%s_ID=%s", pre, name ? name + 1 : u->cg);
	while (environ && environ[n])
		n++;
	u->envp = calloc(n + 3, sizeof(*u->envp));
	if (!u->envp)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *e = environ[i];
		size_t pl = strlen(pre);

		if (!strncmp(e, pre, pl) &&
		    (!strncmp(e + pl, "_CGROUP=", 8) || !strncmp(e + pl, "_ID=", 4)))
			continue;
		u->envp[k++] = environ[i];
	}
	u->envp[k++] = u->envs[0];
	u->envp[k] = u->envs[1];
	return 0;
}

/* 1. A fresh cgroup, enforced (and its DNS judged) before anything runs in
 * it. */
static int run_enforce(struct run *u)
{
	const struct runner_opts *o = u->o;
	struct engine_opts eo = {
	    .log_allowed = o->log_allowed,
	    .ringbuf_bytes = o->ringbuf_bytes,
	    .cgroup = u->cg,
	    .pin_dir = u->pin_dir,
	};
	uint64_t id;
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
	/* Pinned: should hush die, the command stays enforced. */
	ret = cgroup_id_of(u->cg, &id);
	if (!ret)
		ret = runpins_path(id, u->pin_dir, sizeof(u->pin_dir));
	if (ret) {
		log_errno(ret, "cannot name the pin directory of %s", u->cg);
		return ret;
	}
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
	/* Every network namespace the command's processes use (containers,
	 * unshare -n) gets listeners too. */
	if (dnsns_start(u->cg, o->netns_fd, &u->ns))
		log_warnx("cannot start the DNS proxy's namespace helper: DNS outside the "
			  "command's network namespace fails closed");
	po.ns = u->ns;
	ret = dnsproxy_start(&po, o->policy->pol, &u->px);
	if (ret)
		log_errno(ret, "cannot start the DNS proxy for %s", u->cg);
	return ret;
}

/* An event for the caller; DNS failed closed in a network namespace the
 * proxy does not serve yet: have it looked for now. */
static int run_on_event(void *ctx, const struct hush_event *e)
{
	struct run *u = ctx;

	if (e->rule == HUSH_RULE_NOPROXY)
		dnsproxy_poke(u->px);
	return u->o->on_event ? u->o->on_event(u->o->ctx, e) : 0;
}

/* What supervision waits on: events, signals, the command's exit (and,
 * with wait_all, the cgroup emptying); the --dns-only files. */
static int run_prepare(struct run *u)
{
	const struct runner_opts *o = u->o;
	int rbfd, ret;

	rbfd = engine_events(u->eng, run_on_event, u);
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
	ret = cgroup_find_mount(u->cgmnt, sizeof(u->cgmnt));
	if (ret) {
		log_errno(ret, "cannot find the cgroup2 mount");
		return ret;
	}
	ret = run_env(u);
	if (ret) {
		log_errno(ret, "cannot make the command's environment");
		return ret;
	}
	u->caps = contain_prepare(o->contain);
	if (!u->caps) {
		ret = -errno;
		log_errno(ret, "cannot prepare the command's capabilities");
		return ret;
	}
	if (o->dns_only) {
		ret = runner_dns_files(o->resolv_conf, u->dns_dir, sizeof(u->dns_dir));
		if (ret) {
			log_errno(ret, "cannot prepare the command's name service files in /tmp");
			return ret;
		}
	}
	return 0;
}

/* 1b. Container engines: the command goes to a child cgroup (runner.h),
 * and the caller learns the run's cgroup before it starts. */
static int run_engine_hooks(struct run *u)
{
	const struct runner_opts *o = u->o;
	char p[PATH_MAX];
	int fd, ret;

	if (o->command_cgroup) {
		if (snprintf(p, sizeof(p), "%s/%s", u->cg, o->command_cgroup) >= (int)sizeof(p))
			return -ENAMETOOLONG;
		if (mkdir(p, 0755) && errno != EEXIST) {
			ret = -errno;
			log_errno(ret, "cannot create cgroup %s", p);
			return ret;
		}
		fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			ret = -errno;
			log_errno(ret, "cannot open cgroup %s", p);
			return ret;
		}
		close(u->cgfd);
		u->cgfd = fd;
	}
	return o->on_cgroup ? o->on_cgroup(o->ctx, u->r->cgroup, u->cg) : 0;
}

/* 2. clone3 straight into the cgroup, in a cgroup namespace rooted there
 *    (with CLONE_INTO_CGROUP the namespace's root is the target cgroup). */
static int run_start(struct run *u)
{
	const struct runner_opts *o = u->o;
	struct runner_child c = {
	    .argv = o->argv,
	    .envp = u->envp ? u->envp : environ,
	    .errpipe = u->errpipe[1],
	    .orig = &u->orig,
	    .netns_fd = o->netns_fd,
	    .cgmnt = u->cgmnt,
	    .hide = u->pin_dir,
	    .dns_dir = o->dns_only ? u->dns_dir : NULL,
	    .contain = o->contain,
	    .caps = u->caps,
	};
	struct clone_args ca = {
	    .flags = CLONE_INTO_CGROUP | CLONE_PIDFD | CLONE_NEWCGROUP,
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
		runner_child_exec(&c);
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
		if (!u->exited)
			u->r->stopped = true;
	}
}

static void run_on_exit(struct run *u)
{
	siginfo_t si = {0};

	if (waitid((idtype_t)P_PIDFD, (id_t)u->pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid) {
		u->exited = true;
		u->r->exit_code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
		u->r->exit_signal = si.si_code == CLD_EXITED ? 0 : si.si_status;
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

/* Stop the command: SIGTERM to every process of its cgroup and grace_ms
 * for them to end, or (no grace) cgroup.kill at once. */
static void run_stop(struct run *u, uint64_t t)
{
	const struct runner_opts *o = u->o;

	if (u->stopping)
		return;
	u->stopping = true;
	if (!u->exited)
		u->r->stopped = true;
	if (o->grace_ms <= 0) {
		u->kill_at = t;
		return;
	}
	if (o->on_stop)
		o->on_stop(o->ctx);
	else
		cgroup_signal(u->cg, SIGTERM, 8);
	u->kill_at = t + (uint64_t)o->grace_ms * 1000000ull;
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
				u->populated = evfd_populated(u->evfd);
			else if (evs[i].data.fd == u->pidfd)
				run_on_exit(u);
		}
		if (u->exited && o->wait_all && u->populated && u->evfd < 0)
			u->populated = false; /* cannot watch: stop with the command */
		engine_drain(u->eng);
		if (o->on_tick && o->on_tick(o->ctx, t - u->start) && !u->stopping) {
			u->r->stop_requested = true;
			run_stop(u, t);
		}
		run_tick(u, t);
		if ((!u->exited || u->populated) && u->deadline && t >= u->deadline &&
		    !u->stopping) {
			u->r->timed_out = true;
			run_stop(u, t);
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
	struct runner_child_err ce;
	int ret;

	if (read(u->errpipe[0], &ce, sizeof(ce)) == sizeof(ce)) {
		r->exec_failed = true;
		log_errno(-ce.err, "cannot run %s: %s", u->o->argv[0], runner_step_name(ce.step));
	}
	if (u->evfd >= 0 && evfd_populated(u->evfd))
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

/* The pins go once the cgroup is gone; while processes are left in it they
 * keep it enforced (and the next run removes them once it is empty). */
static void run_unpin(struct run *u)
{
	int ret;

	if (!u->pin_dir[0])
		return;
	if (u->cg_made) {
		log_warnx("%s could not be emptied: its enforcement stays pinned in %s (removed by "
			  "a later hush run, hush test or hushd once the cgroup is empty)",
			  u->cg, u->pin_dir);
		return;
	}
	ret = engine_disable(u->pin_dir);
	if (ret)
		log_errno(ret, "cannot remove the pins in %s", u->pin_dir);
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
	u->px = NULL;
	/* The namespace helper exits while the rest is torn down. */
	dnsns_hangup(u->ns);
	runner_dns_cleanup(u->dns_dir);
	enforcer_free(u->en);
	engine_close(u->eng);
	if (u->cg_made && cgroup_destroy(u->cg, 5000) == 0)
		u->cg_made = false;
	run_unpin(u);
	dnsns_stop(u->ns);
	u->ns = NULL;
	if (u->caps)
		cap_free(u->caps);
	free(u->envp);
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
	ret = contain_check_stdio(o->contain, r->inherited, &r->ninherited);
	if (ret)
		return ret;
	r->nsdelegate = cgroup_nsdelegate();
	runpins_sweep();
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
		ret = run_engine_hooks(&u);
	if (!ret)
		ret = run_start(&u);
	if (!ret) {
		run_supervise(&u);
		run_finish(&u);
	}
	run_close(&u);
	return ret;
}
