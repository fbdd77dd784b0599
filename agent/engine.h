/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The enforcement engine: loads the BPF programs, owns the policy maps,
 * attaches to one cgroup through bpf_links, applies compiled policies
 * atomically and drains the event ring buffer.
 *
 * Two kinds of instance:
 *   pinned  (hushd): maps and links pinned under pin_dir.  A later instance
 *           adopts them: it reuses the maps (the policy stays in force) and
 *           swaps its freshly loaded programs into the pinned links with
 *           BPF_LINK_UPDATE, so enforcement never lapses.
 *   private (benchmarks, tests): nothing pinned; closing the engine
 *           detaches everything.  hush run and hush test pin theirs in a
 *           directory of their own (runpins.h) and remove it at the end.
 */
#ifndef HUSH_AGENT_ENGINE_H
#define HUSH_AGENT_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/types.h>

#include "bpf/cgmove.h"
#include "bpf/dns_redirect.h"
#include "bpf/events.h"
#include "bpf/exec.h"
#include "bpf/policy_maps.h"
#include "rules/policy.h"

#define ENGINE_DEFAULT_PIN_DIR "/sys/fs/bpf/hush"
#define ENGINE_DEFAULT_RUN_DIR "/run/hush"
#define ENGINE_DEFAULT_RINGBUF (4u << 20)

/* The hooks an engine attaches, in attach order. */
enum engine_link {
	ENGINE_LINK_SOCK_CREATE,
	ENGINE_LINK_EGRESS,
	ENGINE_LINK_CONNECT4,
	ENGINE_LINK_CONNECT6,
	ENGINE_LINK_SENDMSG4,
	ENGINE_LINK_SENDMSG6,
	ENGINE_LINK_RECVMSG4, /* the DNS redirect's reply and peer rewrites */
	ENGINE_LINK_RECVMSG6,
	ENGINE_LINK_GETPEER4,
	ENGINE_LINK_GETPEER6,
	ENGINE_LINK_SOCKOPS, /* marks accepted TCP connections for the backstop */
	ENGINE_LINK_MAX,
};

struct engine;

struct engine_opts {
	const char *cgroup;	/* cgroup2 directory to attach to */
	const char *pin_dir;	/* NULL: private instance */
	uint32_t ringbuf_bytes; /* 0: ENGINE_DEFAULT_RINGBUF (power of 2) */
	bool log_allowed;	/* emit events for allowed attempts too */
	bool forbid_root;	/* refuse the cgroup2 root (test suites) */
};

typedef int (*engine_event_fn)(void *ctx, const struct hush_event *e);

/*
 * Load, apply `pc` (with its normalized text), attach (or adopt pinned
 * links), pin.  The policy is in the maps before any program is attached.
 */
int engine_open(const struct engine_opts *o, const struct policy_compiled *pc,
		const char *policy_text, struct engine **out);
/* Replace the policy atomically (fill the idle generation, flip). */
int engine_apply(struct engine *e, const struct policy_compiled *pc, const char *policy_text);
/* Deliver events to fn; returns the fd to wait on (epoll fd of the ring). */
int engine_events(struct engine *e, engine_event_fn fn, void *ctx);
/* Wait up to timeout_ms for events, then drain whatever is there (records
 * submitted without wakeup are collected here too).  Returns events handled. */
int engine_poll(struct engine *e, int timeout_ms);
/* Drain without waiting. */
int engine_drain(struct engine *e);
void engine_close(struct engine *e);

bool engine_adopted(const struct engine *e);
/* A scope cgroup appeared, vanished or was recreated (new cgroup id) since
 * the last apply: apply again to bind the scope to the cgroup now there. */
bool engine_scopes_stale(const struct engine *e);
/* Program fd of a hook (tests drive programs with bpf_prog_test_run). */
int engine_prog_fd(const struct engine *e, enum engine_link l);
uint64_t engine_cgroup_id(const struct engine *e);
uint64_t engine_policy_seq(const struct engine *e);
/* Exec tracking: NULL if on, else why it is off (it is optional). */
const char *engine_exec_unavailable(const struct engine *e);
/* Reporting moves out of the cgroup (hook cgroup_move): NULL if on, else why
 * it is off (it is optional). */
const char *engine_cgmove_unavailable(const struct engine *e);
/* The exec that made process tgid's event at ts_ns (boot clock): 0, or
 * -ENOENT (not seen), -ESTALE (the process has exec'd since). */
int engine_proc(const struct engine *e, uint32_t tgid, uint64_t ts_ns, struct hush_proc *out);

/* Summed per-CPU counters, index HUSH_CTR_IDX(hook, ev). */
int engine_counters(const struct engine *e, uint64_t out[HUSH_CTR_MAX]);
/* Per-CPU event sequence numbers: out[idx * ncpu + cpu], idx =
 * HUSH_CTR_IDX(hook, ev); ncpu must be libbpf_num_possible_cpus(). */
int engine_evseq(const struct engine *e, uint64_t *out, int ncpu);
/* Kernel id of the sequence map: changes when enforcement is re-created
 * (sequences restart at 0). */
uint32_t engine_evseq_id(const struct engine *e);

/* ---- the DNS redirect (bpf/dns_redirect.h) ---- */

/*
 * Hand the proxy's home sockets (an fd per HUSH_DNS_* slot, -1: none) to the
 * redirect as listener set 0, with their ports, the calling process and its
 * network namespace.  From then on port-53 traffic of enforced cgroups in
 * that network namespace goes to them; once they are closed it is denied.
 */
int engine_dns_register(struct engine *e, const int fds[HUSH_DNS_SLOTS]);
/* Serve one more network namespace (that of fds) with listener set `set`
 * (1..HUSH_DNS_NS_MAX-1; its ports unused by any other set).  *netns gets
 * the namespace's cookie.  0 or -errno. */
int engine_dns_ns_add(struct engine *e, uint32_t set, const int fds[HUSH_DNS_SLOTS],
		      uint64_t *netns);
/* The home set's network namespace cookie (0: none registered). */
uint64_t engine_dns_home(const struct engine *e);
/* Stop serving a namespace: its DNS fails closed from now. */
void engine_dns_ns_del(struct engine *e, uint32_t set, uint64_t netns,
		       const uint16_t port[HUSH_DNS_SLOTS]);
/* Where the proxy forwards (its own sockets may reach only that); family 0:
 * nowhere. */
void engine_dns_resolver(struct engine *e, int family, const uint8_t addr[16], uint16_t port);
/* Stop redirecting: port-53 traffic of enforced cgroups is denied from now,
 * in every namespace. */
void engine_dns_unregister(struct engine *e);
/* Who sent what the proxy received on `slot` (proxy port pport) from local
 * port `port`: 0, or -ENOENT (not a redirected client). */
int engine_dns_client(const struct engine *e, unsigned slot, uint16_t pport, uint16_t port,
		      struct hush_dns_client *out);

/* ---- pinned state, for the CLI (no running hushd needed) ---- */

struct engine_link_info {
	bool present;
	uint32_t prog_id;
	uint64_t cgroup_id;
	char prog_name[16];
};

struct engine_pinned {
	bool present; /* pin_dir holds hush maps */
	uint64_t policy_seq;
	uint8_t policy_hash[32];
	uint32_t log_allowed;
	uint64_t counters[HUSH_CTR_MAX];
	uint64_t reported[HUSH_CTR_MAX]; /* of those, offered to hushd (hush_evseq) */
	struct engine_link_info links[ENGINE_LINK_MAX];
	bool exec_tracking;		   /* links/exec pinned: exe/cmdline for events */
	uint16_t dns_port[HUSH_DNS_SLOTS]; /* the DNS proxy's ports (0: none) */
	bool dns_open[HUSH_DNS_SLOTS];	   /* its socket is open */
	uint32_t dns_tgid;
};

int engine_pinned_read(const char *pin_dir, struct engine_pinned *st);
/* The normalized policy text of the active generation (malloc'd). */
int engine_pinned_policy(const char *pin_dir, char **text);
/* Detach every pinned link (BPF_LINK_DETACH, even while hushd holds it)
 * and unpin everything.  Idempotent. */
int engine_disable(const char *pin_dir);

const char *engine_link_name(enum engine_link l);
const char *engine_hook_name(unsigned hook);
const char *engine_ev_name(unsigned ev);

/* A --ringbuf-size argument: a power of two from 4096 to 1 GiB.  0, or
 * -EINVAL after saying what is wrong (as "OPT ARG: ..."). */
int engine_parse_ringbuf(const char *opt, const char *arg, uint32_t *out);

/* Mount bpffs at /sys/fs/bpf if nothing is mounted there. */
int engine_ensure_bpffs(void);

#endif /* HUSH_AGENT_ENGINE_H */
