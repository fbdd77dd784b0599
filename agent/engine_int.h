/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The engine's insides, shared by its files and by nothing else (the API is
 * engine.h):
 *   engine.c        open/close: load the objects, attach or adopt, pin
 *   engine_apply.c  policy apply: generations, the installs in threads
 *   engine_exec.c   exec tracking (optional, attribution only)
 *   engine_cgmove.c moves out of the enforced cgroup (optional, reported)
 *   engine_events.c the event ring and the counters
 *   engine_dns.c    the DNS redirect's half in the kernel
 *   engine_pins.c   pinned state for the CLI (status, policy, disable)
 * engine.c has the lifecycle and the pin layout.
 */
#ifndef HUSH_AGENT_ENGINE_INT_H
#define HUSH_AGENT_ENGINE_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#include "agent/engine.h"
#include "sock_addr.skel.h"
#include "skb_egress.skel.h"
#include "exec.skel.h"
#include "cgmove.skel.h"

struct engine {
	struct sock_addr_bpf *sa;
	struct skb_egress_bpf *eg;
	struct exec_bpf *ex; /* exec tracking; NULL if unavailable */
	struct bpf_link *exec_link;
	char exec_why[160];    /* why exec tracking is off */
	struct cgmove_bpf *cm; /* moves out of the cgroup; NULL if unavailable */
	char cgmove_why[160];  /* why that is off */
	struct bpf_link *links[ENGINE_LINK_MAX];
	struct hush_cfg *cfg; /* mmap of hush_cfg[0] */
	struct ring_buffer *rb;
	engine_event_fn fn;
	void *fn_ctx;
	char cgroup[PATH_MAX];
	uint64_t cgroup_id;
	int cg_fd;
	char *pin_dir;
	int lock_fd;
	int instance_fd; /* flock on pin_dir/links for our lifetime */
	bool adopted;
	bool log_allowed;
	/* Scope cgroups as resolved by the last apply (id 0: missing). */
	size_t nscopes;
	char **scope_paths;
	uint64_t *scope_ids;
	/* Container cgroups bound to selector scopes (engine_bind.h). */
	size_t nbinds;
	struct engine_bind *binds;
	/* The DNS redirect's entries we made (engine_dns.c), so that clearing
	 * touches only those: per listener set, whether it has sockets in
	 * hush_dnssk and the ports it put in hush_dnsports.  dns_stale: the
	 * maps came from pins, holding what a predecessor put: clear all once. */
	bool dns_stale;
	bool dns_set_used[HUSH_DNS_NS_MAX];
	uint16_t dns_set_port[HUSH_DNS_NS_MAX][HUSH_DNS_SLOTS];
};

/* ---- engine.c: names, pins, locks ---- */

/* Maps both objects share, by name (identical definitions in hush.bpf.h). */
extern const char *const engine_shared_maps[];
extern const size_t engine_nshared;
/* Pin names of the links, by enum engine_link. */
extern const char *const engine_link_names[ENGINE_LINK_MAX];

/* dir/kind/name into buf: 0 or -ENAMETOOLONG. */
int engine_pin_path(char *buf, size_t len, const char *dir, const char *kind, const char *name);
/* Open the object pinned at dir/kind/name: an fd, or -errno (-ENOENT: none). */
int engine_pinned_get(const char *dir, const char *kind, const char *name);
/* flock(LOCK_EX) on a directory: the fd holding it, or -errno. */
int engine_lock_dir(const char *dir);
/* Check a pinned map against what this build expects. */
int engine_check_compat(const char *path, int fd, const struct bpf_map *m);
/* fd of one of the sock_addr object's maps, or -ENOENT. */
int engine_map_fd(struct engine *e, const char *name);
/* The cgroup (and program) of a cgroup bpf_link; -EINVAL for another kind. */
int engine_link_cgroup(int fd, uint64_t *cgid, __u32 *prog_id);

/* ---- engine_apply.c ---- */

/*
 * A policy goes into the idle generation in three steps: fresh inner maps,
 * filled completely (engine_apply_start); installed in the idle slots of
 * their outer maps; the flip (engine_apply_finish).  See engine_apply.c.
 */
struct engine_inner {
	int fd;
	const char *outer;
	int ofd;
	__u32 slot;
	int err;
	bool threaded; /* installed by thr, to be joined */
	pthread_t thr;
};

#define ENGINE_NINNER 6

/* A policy between engine_apply_start() and engine_apply_finish(). */
struct engine_apply {
	struct engine_inner in[ENGINE_NINNER];
	uint64_t nseq;
	uint8_t hash[32];
};

/* Create and fill the idle generation of the policy now at sequence seq,
 * then start installing it.  0: engine_apply_finish() must follow; else
 * nothing is left in flight. */
int engine_apply_start(struct engine *e, const struct policy_compiled *pc, const char *text,
		       uint64_t seq, struct engine_apply *a);
/* Wait for the installs; then, if commit and all went in, make the new
 * generation live.  Closes the inner maps (the outer ones hold them). */
int engine_apply_finish(struct engine *e, struct engine_apply *a, bool commit);
/* Create the generation arrays no pinned map provides, before the load. */
int engine_outer_create(struct engine *e);
/* The policy sequence before the first apply (a pinned hush_cfg's, else 0). */
int engine_start_seq(struct engine *e, uint64_t *seq);
/* Forget the scope cgroups of the last apply. */
void engine_scopes_forget(struct engine *e);

/* ---- engine_exec.c ---- */

/* Open the exec object and start loading it in a thread (*thr; true) or
 * not (false: engine_exec_load_end() loads it inline). */
bool engine_exec_load_begin(struct engine *e, pthread_t *thr);
/* Join the load thread, or load inline if there was none. */
void engine_exec_load_end(struct engine *e, pthread_t *thr, bool threaded);
/* Attach once enforcement is in place (and pin); on failure tracking is off. */
void engine_exec_attach(struct engine *e);

/* ---- engine_cgmove.c ---- */

/* Load, attach and seed once enforcement is in place; on failure it is off
 * (said on stderr, and by engine_cgmove_unavailable()). */
void engine_cgmove_open(struct engine *e);
void engine_cgmove_close(struct engine *e);

/* ---- engine_events.c ---- */

/* Sum the per-CPU counters of map fd. */
int engine_read_counters(int fd, uint64_t out[HUSH_CTR_MAX]);

#endif /* HUSH_AGENT_ENGINE_INT_H */
