// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hushd's start-up steps and its shut-down.  Everything here that fails
 * before "ready" ends hushd with exit code 1 (main.c); what fails after it
 * (database writer, DNS proxy) is reported and hushd goes on without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/file.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "agent/control.h"
#include "agent/db.h"
#include "agent/dnsns.h"
#include "agent/enforcer.h"
#include "agent/engine.h"
#include "agent/event.h"
#include "agent/fsutil.h"
#include "agent/log.h"
#include "agent/probe.h"
#include "agent/runpins.h"
#include "agent/store.h"
#include "agent/util.h"
#include "agent/hushd/hushd.h"
#include "version.h"

/*
 * Keep only what the running daemon needs: CAP_BPF to create policy maps on
 * reload, CAP_NET_ADMIN for the cgroup attachments it owns, CAP_SYS_PTRACE to
 * read /proc/PID/exe of processes that predate exec tracking (a ptrace-mode
 * read: the target's capabilities may exceed ours), CAP_DAC_READ_SEARCH to
 * name an event's cgroup from its id (open_by_handle_at), CAP_CHOWN to give
 * the database files (and SQLite's -wal/-shm, created later) to group hush.
 */
static int drop_caps(void)
{
	static const cap_value_t want[] = {CAP_BPF, CAP_NET_ADMIN, CAP_SYS_PTRACE,
					   CAP_DAC_READ_SEARCH, CAP_CHOWN};
	cap_value_t keep[sizeof(want) / sizeof(want[0]) + 1];
	cap_t caps = cap_get_proc();
	cap_flag_value_t v;
	int ret = 0, n = 0;

	if (!caps)
		return -errno;
	/* Of these, what we have: a service manager may have bounded some away
	 * (hushd.service has no CAP_CHOWN; its log directory is setgid hush). */
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (cap_get_flag(caps, want[i], CAP_PERMITTED, &v) == 0 && v == CAP_SET)
			keep[n++] = want[i];
	/* A runtime that cannot grant CAP_BPF (Docker 20.10) gives CAP_SYS_ADMIN
	 * for it: keep that, or reloads could not create their maps. */
	if (cap_get_flag(caps, CAP_BPF, CAP_PERMITTED, &v) == 0 && v != CAP_SET &&
	    cap_get_flag(caps, CAP_SYS_ADMIN, CAP_PERMITTED, &v) == 0 && v == CAP_SET)
		keep[n++] = CAP_SYS_ADMIN;
	if (cap_clear(caps) ||
	    (n && (cap_set_flag(caps, CAP_PERMITTED, n, keep, CAP_SET) ||
		   cap_set_flag(caps, CAP_EFFECTIVE, n, keep, CAP_SET))) ||
	    cap_set_proc(caps))
		ret = -errno;
	cap_free(caps);
	return ret;
}

/* One hushd per run dir: the pid file, locked (0, -EEXIST after saying
 * who holds it, or -errno). */
static int pidfile_lock(const char *run_dir, int *fd_out)
{
	char p[PATH_MAX], buf[32];
	_cleanup_close_ int fd = -1;
	int ret;

	ret = mkdir_p(run_dir, 0700);
	if (ret)
		return ret;
	snprintf(p, sizeof(p), "%s/hushd.pid", run_dir);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		buf[n > 0 ? n : 0] = 0;
		buf[strcspn(buf, "\n")] = 0;
		log_warnx("another hushd is running (pid %s, lock %s)", buf[0] ? buf : "?", p);
		return -EEXIST;
	}
	*fd_out = TAKE_FD(fd);
	return 0;
}

static void pidfile_write(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) < 0)
		log_warn("cannot write pid file");
}

/*
 * Only root may move processes out of the enforced subtree: every directory
 * above --cgroup (and its cgroup.procs) must be root's and not group- or
 * other-writable, or whoever may write it can move processes between its
 * descendants, out of --cgroup too.  0, or -EPERM after saying why.
 */
static int check_cgroup_parent(const char *cgroup)
{
	char real[PATH_MAX], why[PATH_MAX + 96], *slash;
	int ret;

	if (cgroup_resolve(cgroup, real, sizeof(real)) || cgroup_is_root(real))
		return 0; /* engine_open says what is wrong with it */
	slash = strrchr(real, '/');
	if (!slash || slash == real)
		return 0;
	*slash = 0;
	ret = cgroup_check_root_only(real, why, sizeof(why));
	if (ret == -EPERM)
		log_warnx(
		    "refusing to enforce on %s: %s may be written by a user other than root, "
		    "who could move processes out of it; use a --cgroup whose parents only root "
		    "may write",
		    cgroup, why);
	else if (ret)
		log_errno(ret, "cannot check who may write the parents of %s", cgroup);
	return ret;
}

/* Load, apply, attach or adopt, pin; then the enforcer owns the policy. */
static int enforce(struct hushd *d)
{
	struct engine_opts eo = {
	    .cgroup = d->cgroup,
	    .pin_dir = d->pin_dir,
	    .ringbuf_bytes = d->ringbuf,
	    .log_allowed = d->log_allowed,
	    .forbid_root =
		getenv("HUSH_FORBID_ROOT") && strcmp(getenv("HUSH_FORBID_ROOT"), "1") == 0,
	};
	int ret;

	ret = engine_open(&eo, d->loaded->pc, d->loaded->text, &d->eng);
	if (ret) {
		log_errno(ret, "cannot enforce on %s", d->cgroup);
		return ret;
	}
	ret = enforcer_new(d->eng, d->loaded, d->dns_grace, &d->en);
	if (ret)
		log_errno(ret, "cannot enforce on %s", d->cgroup);
	return ret;
}

/* Layers that are off, said once at start. */
static void report_layers(struct hushd *d)
{
	char why[256];

	if (!probe_bpf_lsm(why, sizeof(why)))
		log_info("layer lsm: unavailable: %s", why);
	if (engine_exec_unavailable(d->eng))
		log_warnx("exec tracking unavailable (%s): events name processes from /proc while "
			  "they live",
			  engine_exec_unavailable(d->eng));
}

/* Create (and migrate) the database while we may still chown it. */
static void db_create(struct hushd *d)
{
	struct db *db;
	char err[512];

	if (!d->db_path)
		return;
	if (db_open(d->db_path, DB_RDWR, &db, err, sizeof(err)))
		log_warnx("%s (enforcement continues; hushd retries each second)", err);
	db_close(db);
}

/* Where the audit log is, for a `hush disable` that finds no hushd
 * (control.h): written beside the control socket, atomically. */
static void record_db_path(struct hushd *d)
{
	char p[PATH_MAX], tmp[PATH_MAX + 16], abs[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", d->run_dir, CONTROL_DB_NAME);
	if (!d->db_path || !realpath(d->db_path, abs)) {
		unlink(p);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	f = fopen(tmp, "we");
	if (!f || fprintf(f, "%s\n", abs) < 0 || fclose(f) != 0 || rename(tmp, p) < 0) {
		log_warn("cannot record the audit log's path in %s", p);
		unlink(tmp);
	}
}

/*
 * Unless --foreground: fork; the parent waits for the child's "ready" and
 * exits.  Returns -1 in the process that goes on (with *ready the pipe to
 * write "ready" to, or -1), else the parent's exit code.
 */
int hushd_daemonize(struct hushd *d, int *ready)
{
	_cleanup_close_ int rd = -1, wr = -1;
	int p[2], nfd;
	pid_t pid;
	char b;

	*ready = -1;
	if (d->foreground)
		return -1;
	if (pipe(p) < 0) {
		log_warn("pipe");
		return 1;
	}
	rd = p[0];
	wr = p[1];
	pid = fork();
	if (pid < 0) {
		log_warn("fork");
		return 1;
	}
	if (pid > 0) {
		close(TAKE_FD(wr));
		/* Exit once the child has taken over. */
		return read(rd, &b, 1) == 1 ? 0 : 1;
	}
	setsid();
	nfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nfd >= 0) {
		dup2(nfd, STDIN_FILENO);
		close(nfd);
	}
	*ready = TAKE_FD(wr);
	return -1;
}

/* The database writer thread (after the fork: threads do not survive it). */
static void start_store(struct hushd *d)
{
	struct store_opts so = {
	    .path = d->db_path,
	    .retain_ns = d->retain_ns,
	    .max_bytes = d->max_db_bytes,
	    .log_allowed = d->log_allowed,
	};
	char hex[2 * POLICY_HASH_LEN + 1];
	int ret;

	if (!d->db_path)
		return;
	ret = store_open(&so, d->eng, &d->store);
	if (ret) {
		log_errno(ret, "cannot start the database writer for %s (events go to stdout only)",
			  d->db_path);
		return;
	}
	db_hex(d->loaded->hash, POLICY_HASH_LEN, hex);
	store_note(d->store,
		   "hushd started (pid %d, version %s) %s on %s: policy %s seq %llu sha256 %s",
		   (int)getpid(), HUSH_VERSION, engine_adopted(d->eng) ? "adopting" : "enforcing",
		   d->cgroup, d->policy_path, (unsigned long long)engine_policy_seq(d->eng), hex);
}

/* The DNS proxy: after the fork (threads), before "ready".  It reports
 * queries to the drain loop and allowed answers to the enforcer. */
static void start_dns(struct hushd *d)
{
	struct dnsproxy_opts po = {
	    .eng = d->eng,
	    .deny_rcode = d->dns_rcode,
	    .report = hushd_on_query,
	    .report_ctx = d,
	    .learn = enforcer_learn,
	    .learn_ctx = d->en,
	    .ns = d->dnsns,
	};
	struct dnsproxy_stats ps;
	int ret;

	if (d->no_dns) {
		log_info("no DNS proxy (--no-dns-proxy): DNS from enforced cgroups is denied");
		return;
	}
	ret = dnsproxy_start(&po, d->loaded->pol, &d->dns);
	if (ret) {
		log_errno(ret, "cannot start the DNS proxy: DNS from enforced cgroups is denied");
		return;
	}
	dnsproxy_stats(d->dns, &ps);
	log_info("dns proxy on 127.0.0.1 udp %u tcp %u, ::1 udp %u tcp %u; denied names get %s",
		 ps.port[HUSH_DNS_UDP4], ps.port[HUSH_DNS_TCP4], ps.port[HUSH_DNS_UDP6],
		 ps.port[HUSH_DNS_TCP6],
		 d->dns_rcode == DNS_RCODE_NXDOMAIN ? "NXDOMAIN" : "REFUSED");
	if (d->store)
		store_set_namer(d->store, dnsproxy_name_of, d->dns);
}

/*
 * Start-up steps 1-5, in this order: the policy (a bad one never reaches the
 * kernel), where to enforce, one hushd per run dir, enforcement (load, apply,
 * attach or adopt, pin), the control socket; then give up what we no longer
 * need.  0, or -errno after saying why.
 */
int hushd_open(struct hushd *d)
{
	sigset_t mask;
	int ret;

	ret = hushd_load_policy(d, d->policy_path, NULL, 0, NULL, &d->loaded);
	if (ret)
		return ret;
	if (!d->cgroup_given) {
		ret = cgroup_find_mount(d->cgroup, sizeof(d->cgroup));
		if (ret) {
			log_errno(ret, "cannot find the cgroup2 mount in /proc/mounts (mount "
				       "cgroup2, or pass --cgroup)");
			return ret;
		}
	}
	ret = check_cgroup_parent(d->cgroup);
	if (ret)
		return ret;
	ret = pidfile_lock(d->run_dir, &d->pidfd);
	if (ret) {
		if (ret != -EEXIST)
			log_errno(ret, "cannot lock %s/hushd.pid", d->run_dir);
		return ret;
	}

	/* Block the signals the loop reads from a signalfd; from here on a
	 * SIGTERM during set-up is handled once the loop starts. */
	hushd_loop_signals(&mask);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	/* Pins of hush runs that died and whose commands are gone. */
	runpins_sweep();
	ret = enforce(d);
	if (ret)
		return ret;
	d->boot_to_real = event_boot_to_real();

	d->lfd = control_listen(d->run_dir);
	if (d->lfd < 0) {
		ret = d->lfd;
		log_errno(ret, "cannot create control socket in %s", d->run_dir);
		engine_close(d->eng);
		d->eng = NULL;
		return ret;
	}
	report_layers(d);
	db_create(d);
	record_db_path(d);
	hushd_dnsns_start(d);
	ret = drop_caps();
	if (ret)
		log_errno(ret, "cannot drop capabilities (continuing with all of them)");
	return 0;
}

/* Step 6, in the process that goes on: the pid, the threads (database
 * writer, DNS proxy), then "ready". */
void hushd_start(struct hushd *d, int ready)
{
	pidfile_write(d->pidfd);
	start_store(d);
	start_dns(d);
	hushd_ctr_start(d);
	log_info("ready: %s %s on %s (cgroup id %llu), policy %s seq %llu, pinned in %s",
		 engine_adopted(d->eng) ? "adopted enforcement" : "enforcing",
		 d->loaded->pol->scopes[0].mode == HUSH_MODE_AUDIT ? "(audit mode)"
								   : "(enforce mode)",
		 d->cgroup, (unsigned long long)engine_cgroup_id(d->eng), d->policy_path,
		 (unsigned long long)engine_policy_seq(d->eng), d->pin_dir);
	if (ready >= 0) {
		if (write(ready, "r", 1) < 0)
			log_warn("cannot signal readiness");
		close(ready);
	}
}

/* After the loop: DNS fails closed first (the redirect is switched off),
 * the metrics say hushd is down, then the rest; the pinned enforcement
 * stays. */
void hushd_close(struct hushd *d)
{
	char p[PATH_MAX];

	hushd_ctr_stop(d);
	if (d->store)
		store_set_namer(d->store, NULL, NULL);
	dnsproxy_stop(d->dns);
	d->dns = NULL;
	dnsns_stop(d->dnsns);
	d->dnsns = NULL;
	hushd_dns_flush(d);
	d->exiting = true;
	hushd_metrics_write(d);
	free(d->dq);
	store_close(d->store);
	close(d->lfd);
	snprintf(p, sizeof(p), "%s/%s", d->run_dir, CONTROL_SOCK_NAME);
	unlink(p);
	enforcer_free(d->en);
	engine_close(d->eng);
	policy_loaded_free(d->loaded);
}
