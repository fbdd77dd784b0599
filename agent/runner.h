/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Run one command under a policy in a cgroup of its own (hush run, and
 * later hush test): create the cgroup, load a private engine instance and
 * attach it there, then clone3(CLONE_INTO_CGROUP) the command straight into
 * the enforced cgroup: there is no instant at which it runs unenforced.
 * Afterwards every process left in the cgroup is killed (cgroup.kill) and
 * everything is removed, also after SIGINT/SIGTERM.
 *
 * Containment: the command cannot leave its policy, switch it off, or
 * outlive it unnoticed.
 *   - The cgroup is made only below directories no one but root may write
 *     (a user who may write an ancestor's cgroup.procs could move it out).
 *   - The command starts in a cgroup namespace rooted at its cgroup, with a
 *     fresh cgroup2 mounted in a private mount namespace: it sees its own
 *     subtree only, and no cgroup.procs outside it.
 *   - Capabilities and user as contain.h says; fds above 2 are closed;
 *     an inherited inet socket on fds 0-2 is refused or named.
 *   - The engine's links are pinned (runpins.h): if hush dies the command
 *     stays enforced.
 */
#ifndef HUSH_AGENT_RUNNER_H
#define HUSH_AGENT_RUNNER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "rules/loaded.h"
#include "agent/contain.h"
#include "agent/dnsproxy.h"
#include "agent/engine.h"

struct runner_opts {
	const struct policy_loaded *policy; /* kept alive by the caller until the run ends */
	char *const *argv;		    /* command and arguments */
	engine_event_fn on_event;	    /* may be NULL */
	void *ctx;
	struct engine **engp; /* if set, gets the engine while it runs */
	bool log_allowed;
	int timeout_ms;	    /* 0: none */
	const char *parent; /* parent cgroup; NULL: this process's own cgroup */
	/* DNS: with dns_proxy set, a DNS proxy of the run's own judges the
	 * command's port-53 traffic and reports each query to on_dns (on the
	 * proxy's threads); without, that traffic is denied. */
	bool dns_proxy;
	dnsproxy_report_fn on_dns;
	int dns_deny_rcode; /* 0: REFUSED */
	/* Run until every process of the cgroup has exited (a daemon's
	 * grandchildren too), not only the command; then, or at the timeout,
	 * the rest is killed. */
	bool wait_all;
	/* > 0: the command (and the DNS proxy's sockets) live in this network
	 * namespace. */
	int netns_fd;
	/* Called about every 100 ms while the command runs (elapsed time);
	 * may be NULL.  Returning true stops the command as the timeout does
	 * (hush test --observe). */
	bool (*on_tick)(void *ctx, uint64_t elapsed_ns);
	/* Stopping at the timeout (or at on_tick's request): 0 kills every
	 * process of the cgroup at once (cgroup.kill); > 0 sends each SIGTERM
	 * first and kills what is left after grace_ms.  Events keep being
	 * collected meanwhile. */
	int grace_ms;
	/* If set, the command's environment gets PREFIX_CGROUP (its cgroup's
	 * path below the cgroup2 root, as the host's /proc/PID/cgroup shows
	 * it) and PREFIX_ID (that cgroup's name, unique while it runs). */
	const char *env_prefix;
	const char *cgroup_prefix; /* name of the cgroup made: PREFIX.PID.N (default hush-run) */
	uint32_t ringbuf_bytes;	   /* 0: the engine's default */
	/* Name lookups only through DNS, which the proxy judges: the command
	 * gets a private mount namespace where nsswitch.conf's hosts line is
	 * "files dns" and the sockets of host resolver daemons (nscd,
	 * systemd-resolved) are hidden, so no lookup reaches the host's network
	 * over a Unix socket.  resolv_conf (may be NULL): the resolv.conf it
	 * sees instead of the host's. */
	bool dns_only;
	const char *resolv_conf;
	const struct contain *contain; /* --user, --keep-cap, ...; NULL: defaults */
	/* Container engines (hush test --image/--compose).  command_cgroup: the
	 * command starts in this child of the run's cgroup, not in the run's
	 * cgroup itself, which then holds no process and may get children with
	 * controllers (cgroup v2's no-internal-process rule; runc enables
	 * controllers in a container's ancestors).  on_cgroup (may be NULL):
	 * called once the run's cgroup (path below the cgroup2 root, and
	 * absolute) is enforced, before the command starts; non-zero stops the
	 * run (set-up failure, said already).  on_stop (may be NULL): stopping
	 * with a grace asks it (an engine's stop) instead of sending SIGTERM to
	 * every process of the cgroup; cgroup.kill still follows after grace_ms. */
	const char *command_cgroup;
	int (*on_cgroup)(void *ctx, const char *rel, const char *abs);
	void (*on_stop)(void *ctx);
};

struct runner_result {
	int exit_code;	  /* as a shell reports it: status, or 128 + signal */
	int exit_signal;  /* the signal that ended it, or 0 */
	bool exec_failed; /* the command could not be started (exit 126/127) */
	bool timed_out;
	bool stop_requested; /* on_tick asked to stop it (before the timeout) */
	/* Hush stopped the command (timeout, on_tick, a signal) before its
	 * main process exited: exit_code is then not the command's own verdict. */
	bool stopped;
	int interrupted; /* signal that made us stop the command, or 0 */
	uint64_t counters[HUSH_CTR_MAX];
	uint64_t lost; /* events the ring buffer could not take */
	uint64_t duration_ns;
	bool others_left; /* processes of the cgroup outlived the command (killed) */
	/* Sockets of fds 0-2 the command was let to inherit. */
	struct contain_socket inherited[3];
	int ninherited;
	bool nsdelegate;       /* cgroup2 mounted with nsdelegate */
	char cgroup[PATH_MAX]; /* the command's cgroup below the cgroup2 root */
};

/* Returns 0 when the command ran (whatever its exit status), negative errno
 * on a set-up failure (already reported). */
int runner_run(const struct runner_opts *o, struct runner_result *r);

#endif /* HUSH_AGENT_RUNNER_H */
