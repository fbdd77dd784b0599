// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Engine: see engine.h.  Lifecycle, in order (bcc / systemd habits):
 *   open skeletons -> size maps, set rodata -> reuse pinned maps -> create
 *   the generation arrays, fill the idle generation and start installing it
 *   -> load (exec tracking in a thread meanwhile) -> flip -> attach or adopt
 *   links -> pin.
 * The installs and the loads overlap because each install waits for an RCU
 * grace period in the kernel (see engine_apply.c); a private instance is set up
 * in ~25-40 ms, most of it the verifier and libbpf's parse of kernel BTF.
 *
 * Pin layout under pin_dir:
 *   maps/<map name>     every map shared by the two program objects
 *   links/<hook name>   one bpf_link per hook (cgroup attachments)
 *   links/exec          exec tracking's tracepoint link (engine_exec.c)
 * Changes to a pin_dir are serialized with flock() on the directory
 * (xdp-tools' prog_lock_acquire idea).  engine_int.h lists the engine's
 * other files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/cgroup.h"
#include "agent/engine_bind.h"
#include "agent/engine_int.h"
#include "agent/log.h"

_Static_assert(sizeof(struct hush_event) == 104, "hush_event layout");
_Static_assert(sizeof(struct hush_ptab) == 8 + HUSH_L4_MAX * HUSH_SEG_MAX * 8, "ptab layout");
_Static_assert(sizeof(struct hush_lpm4_key) == 12, "lpm4 key layout");
_Static_assert(sizeof(struct hush_lpm6_key) == 24, "lpm6 key layout");
_Static_assert(sizeof(struct hush_scope_val) == 16, "scope value layout");
_Static_assert(sizeof(struct hush_cfg) == 88, "cfg layout");
_Static_assert(sizeof(struct hush_dns_client) == 120, "dns client layout");
_Static_assert(sizeof(struct hush_dkey) == 32, "dcache key layout");
_Static_assert(sizeof(struct hush_dval) == 24, "dcache value layout");

const char *const engine_shared_maps[] = {
    "hush_scopes", "hush_scache", "hush_lpm4",	   "hush_lpm6",	    "hush_ptabs",
    "hush_ptext",  "hush_cfg",	  "hush_events",   "hush_counters", "hush_sk",
    "hush_dcache", "hush_last",	  "hush_evseq",	   "hush_dnsck",    "hush_dnscl",
    "hush_dnssk",  "hush_dnsns",  "hush_dnsports", "hush_learn",
};
#define NSHARED (sizeof(engine_shared_maps) / sizeof(engine_shared_maps[0]))
const size_t engine_nshared = NSHARED;

const char *const engine_link_names[ENGINE_LINK_MAX] = {
    [ENGINE_LINK_SOCK_CREATE] = "sock_create", [ENGINE_LINK_EGRESS] = "egress",
    [ENGINE_LINK_CONNECT4] = "connect4",       [ENGINE_LINK_CONNECT6] = "connect6",
    [ENGINE_LINK_SENDMSG4] = "sendmsg4",       [ENGINE_LINK_SENDMSG6] = "sendmsg6",
    [ENGINE_LINK_RECVMSG4] = "recvmsg4",       [ENGINE_LINK_RECVMSG6] = "recvmsg6",
    [ENGINE_LINK_GETPEER4] = "getpeername4",   [ENGINE_LINK_GETPEER6] = "getpeername6",
    [ENGINE_LINK_SOCKOPS] = "sockops",
};

int engine_parse_ringbuf(const char *opt, const char *arg, uint32_t *out)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 0);

	if (*end || !*arg || v < 4096 || (v & (v - 1)) || v > (1ul << 30)) {
		log_warnx("%s %s: need a power of two between 4096 and 1 GiB", opt, arg);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

const char *engine_link_name(enum engine_link l)
{
	return l < ENGINE_LINK_MAX ? engine_link_names[l] : "?";
}

const char *engine_hook_name(unsigned hook)
{
	static const char *const n[HUSH_HOOK_MAX] = {
	    "connect4", "connect6", "sendmsg4", "sendmsg6", "egress", "sock_create", "cgroup_move"};
	if (hook == HUSH_HOOK_DNS)
		return "dns";
	return hook < HUSH_HOOK_MAX ? n[hook] : "unknown";
}

const char *engine_ev_name(unsigned ev)
{
	static const char *const n[HUSH_EV_MAX] = {"allow", "deny", "audit", "lost"};
	return ev < HUSH_EV_MAX ? n[ev] : "unknown";
}

static struct bpf_program *link_prog(struct engine *e, enum engine_link l)
{
	switch (l) {
	case ENGINE_LINK_SOCK_CREATE:
		return e->eg->progs.hush_sock_create;
	case ENGINE_LINK_EGRESS:
		return e->eg->progs.hush_egress;
	case ENGINE_LINK_CONNECT4:
		return e->sa->progs.hush_connect4;
	case ENGINE_LINK_CONNECT6:
		return e->sa->progs.hush_connect6;
	case ENGINE_LINK_SENDMSG4:
		return e->sa->progs.hush_sendmsg4;
	case ENGINE_LINK_SENDMSG6:
		return e->sa->progs.hush_sendmsg6;
	case ENGINE_LINK_RECVMSG4:
		return e->sa->progs.hush_recvmsg4;
	case ENGINE_LINK_RECVMSG6:
		return e->sa->progs.hush_recvmsg6;
	case ENGINE_LINK_GETPEER4:
		return e->sa->progs.hush_getpeer4;
	case ENGINE_LINK_GETPEER6:
		return e->sa->progs.hush_getpeer6;
	case ENGINE_LINK_SOCKOPS:
		return e->eg->progs.hush_sockops;
	default:
		return NULL;
	}
}

int engine_pin_path(char *buf, size_t len, const char *dir, const char *kind, const char *name)
{
	if (snprintf(buf, len, "%s/%s/%s", dir, kind, name) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* Open the object pinned at dir/kind/name: an fd, or -errno (-ENOENT: none). */
int engine_pinned_get(const char *dir, const char *kind, const char *name)
{
	char p[PATH_MAX];
	int fd;

	if (engine_pin_path(p, sizeof(p), dir, kind, name))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(p);
	return fd < 0 ? -errno : fd;
}

int engine_ensure_bpffs(void)
{
	struct statfs sf;

	if (statfs("/sys/fs/bpf", &sf) == 0 && sf.f_type == BPF_FS_MAGIC)
		return 0;
	if (mkdir("/sys/fs/bpf", 0700) < 0 && errno != EEXIST)
		return -errno;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0)
		return -errno;
	return 0;
}

int engine_lock_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int mkdirs(const char *dir)
{
	char p[PATH_MAX];

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(p, sizeof(p), "%s/maps", dir);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(p, sizeof(p), "%s/links", dir);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Check a pinned map against what this build expects. */
int engine_check_compat(const char *path, int fd, const struct bpf_map *m)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != bpf_map__type(m) || info.key_size != bpf_map__key_size(m) ||
	    info.value_size != bpf_map__value_size(m)) {
		log_warnx("pinned map %s does not match this build (type %u/%u, key %u/%u, "
			  "value %u/%u): it was made by another hush version; run `hush disable "
			  "--pin-dir ...` first",
			  path, info.type, bpf_map__type(m), info.key_size, bpf_map__key_size(m),
			  info.value_size, bpf_map__value_size(m));
		return -EINVAL;
	}
	return 0;
}

/* Reuse pinned maps for the sock_addr object.  Returns the number reused. */
static int reuse_pinned(struct engine *e)
{
	int n = 0, ret;

	for (size_t i = 0; i < NSHARED; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(e->sa->obj, engine_shared_maps[i]);
		int fd;

		if (!m)
			return -ENOENT;
		fd = engine_pinned_get(e->pin_dir, "maps", engine_shared_maps[i]);
		if (fd == -ENOENT)
			continue;
		if (fd < 0) {
			log_errno(fd, "cannot open pinned map %s/maps/%s", e->pin_dir,
				  engine_shared_maps[i]);
			return fd;
		}
		ret = engine_check_compat(engine_shared_maps[i], fd, m);
		if (!ret)
			ret = bpf_map__reuse_fd(m, fd);
		close(fd);
		if (ret)
			return ret;
		n++;
	}
	/* Fewer than all: pinned by an older hush (or an interrupted start).
	 * Keep what is there - it holds the live policy - and create the
	 * rest; pin_maps() pins them once attached. */
	if (n != 0 && n != (int)NSHARED)
		log_info("%s holds %d of %zu hush maps (an older hush pinned them); adopting "
			 "them and adding the missing ones",
			 e->pin_dir, n, NSHARED);
	return n;
}

static int share_maps(struct engine *e)
{
	for (size_t i = 0; i < NSHARED; i++) {
		struct bpf_map *src =
		    bpf_object__find_map_by_name(e->sa->obj, engine_shared_maps[i]);
		struct bpf_map *dst =
		    bpf_object__find_map_by_name(e->eg->obj, engine_shared_maps[i]);
		int ret;

		if (!src || !dst)
			return -ENOENT;
		ret = bpf_map__reuse_fd(dst, bpf_map__fd(src));
		if (ret)
			return ret;
	}
	return 0;
}

int engine_map_fd(struct engine *e, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(e->sa->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

int engine_link_cgroup(int fd, uint64_t *cgid, __u32 *prog_id)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != BPF_LINK_TYPE_CGROUP)
		return -EINVAL;
	*cgid = info.cgroup.cgroup_id;
	if (prog_id)
		*prog_id = info.prog_id;
	return 0;
}

/*
 * Before anything is written: pinned links must belong to the cgroup we were
 * asked to enforce on, or we would rewrite (and re-scope) the live policy of
 * another attachment.
 */
static int check_pinned_links(struct engine *e)
{
	for (int l = 0; l < ENGINE_LINK_MAX; l++) {
		uint64_t cgid;
		int fd, ret;

		fd = engine_pinned_get(e->pin_dir, "links", engine_link_names[l]);
		if (fd == -ENOENT)
			continue;
		if (fd < 0) {
			log_errno(fd, "cannot open pinned link %s/links/%s", e->pin_dir,
				  engine_link_names[l]);
			return fd;
		}
		ret = engine_link_cgroup(fd, &cgid, NULL);
		close(fd);
		if (ret) {
			log_errno(ret, "pinned link %s/links/%s", e->pin_dir, engine_link_names[l]);
			return ret;
		}
		if (cgid != e->cgroup_id) {
			char other[PATH_MAX];

			if (cgroup_path_by_handle(cgid, other, sizeof(other)))
				snprintf(other, sizeof(other), "cgroup id %llu",
					 (unsigned long long)cgid);
			log_warnx(
			    "%s enforces on %s, not on %s: nothing was changed (use the same "
			    "--cgroup, another --pin-dir, or `hush disable --pin-dir %s` first)",
			    e->pin_dir, other, e->cgroup, e->pin_dir);
			return -EEXIST;
		}
	}
	return 0;
}

static int attach_all(struct engine *e)
{
	int ret = 0;

	for (int l = 0; l < ENGINE_LINK_MAX; l++) {
		struct bpf_program *prog = link_prog(e, l);
		char p[PATH_MAX] = "";
		struct bpf_link *link = NULL;

		if (e->pin_dir) {
			ret = engine_pin_path(p, sizeof(p), e->pin_dir, "links",
					      engine_link_names[l]);
			if (ret)
				goto fail;
			if (access(p, F_OK) == 0)
				link = bpf_link__open(p);
		}
		if (link) {
			/* Adopt: swap our program into the pinned link. */
			uint64_t cgid;

			ret = engine_link_cgroup(bpf_link__fd(link), &cgid, NULL);
			if (!ret && cgid != e->cgroup_id) {
				log_warnx(
				    "pinned link %s is attached to cgroup id %llu, not %s (id "
				    "%llu): run `hush disable` first or use the same --cgroup",
				    p, (unsigned long long)cgid, e->cgroup,
				    (unsigned long long)e->cgroup_id);
				ret = -EEXIST;
			}
			if (!ret)
				ret = bpf_link__update_program(link, prog);
			if (ret) {
				log_errno(ret, "cannot take over pinned link %s", p);
				bpf_link__destroy(link);
				goto fail;
			}
			e->adopted = true;
		} else {
			link = bpf_program__attach_cgroup(prog, e->cg_fd);
			if (!link) {
				ret = -errno;
				log_errno(ret, "cannot attach %s to %s", engine_link_names[l],
					  e->cgroup);
				goto fail;
			}
			if (e->pin_dir) {
				ret = bpf_link__pin(link, p);
				if (ret) {
					log_errno(ret, "cannot pin link %s", p);
					bpf_link__destroy(link);
					goto fail;
				}
			}
		}
		e->links[l] = link;
	}
	return 0;
fail:
	return ret;
}

static int pin_maps(struct engine *e)
{
	for (size_t i = 0; i < NSHARED; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(e->sa->obj, engine_shared_maps[i]);
		char p[PATH_MAX];
		int ret;

		ret = engine_pin_path(p, sizeof(p), e->pin_dir, "maps", engine_shared_maps[i]);
		if (ret)
			return ret;
		if (access(p, F_OK) == 0)
			continue;
		if (bpf_obj_pin(bpf_map__fd(m), p)) {
			ret = -errno;
			log_errno(ret, "cannot pin map %s", p);
			return ret;
		}
	}
	return 0;
}

/* 1. The cgroup: on cgroup2, and not the root if forbidden. */
static int open_cgroup(struct engine *e, const struct engine_opts *o)
{
	int ret;

	ret = cgroup_resolve(o->cgroup, e->cgroup, sizeof(e->cgroup));
	if (ret) {
		log_errno(ret, "cgroup %s", o->cgroup);
		if (ret == -EMEDIUMTYPE)
			log_warnx("%s is not on a cgroup2 file system (see the cgroup2 mount in "
				  "/proc/mounts)",
				  o->cgroup);
		return ret;
	}
	if (o->forbid_root && cgroup_is_root(e->cgroup)) {
		log_warnx("refusing to attach to the cgroup2 root %s (HUSH_FORBID_ROOT is set)",
			  e->cgroup);
		return -EPERM;
	}
	ret = cgroup_id_of(e->cgroup, &e->cgroup_id);
	if (ret)
		return ret;
	e->cg_fd = open(e->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->cg_fd < 0) {
		ret = -errno;
		log_errno(ret, "cannot open cgroup %s", e->cgroup);
		return ret;
	}
	return 0;
}

/* 2. The pin directory, locked for the whole set-up, and held by this
 *    engine for its lifetime: one engine per pin directory at a time. */
static int open_pin_dir(struct engine *e, const char *pin_dir)
{
	char p[PATH_MAX];
	int ret;

	ret = engine_ensure_bpffs();
	if (ret) {
		log_errno(ret, "cannot mount bpffs at /sys/fs/bpf");
		return ret;
	}
	e->pin_dir = strdup(pin_dir);
	if (!e->pin_dir)
		return -ENOMEM;
	ret = mkdirs(e->pin_dir);
	if (ret) {
		log_errno(ret, "cannot create pin directory %s", e->pin_dir);
		return ret;
	}
	e->lock_fd = engine_lock_dir(e->pin_dir);
	if (e->lock_fd < 0) {
		ret = e->lock_fd;
		log_errno(ret, "cannot lock %s", e->pin_dir);
		return ret;
	}
	snprintf(p, sizeof(p), "%s/links", e->pin_dir);
	e->instance_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->instance_fd < 0 || flock(e->instance_fd, LOCK_EX | LOCK_NB) < 0) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		log_errno(ret, "%s is in use by another hushd (one hushd per pin directory)",
			  e->pin_dir);
		return ret;
	}
	return 0;
}

/* 3. The sock_addr object, sized, with the pinned maps it reuses. */
static int open_sock_addr(struct engine *e, uint32_t rb)
{
	int ret, reused;

	e->sa = sock_addr_bpf__open();
	if (!e->sa) {
		ret = -errno;
		log_errno(ret, "cannot open BPF object sock_addr");
		return ret;
	}
	e->sa->rodata->hush_wake_bytes = rb / 4;
	bpf_map__set_max_entries(e->sa->maps.hush_events, rb);
	if (e->pin_dir) {
		reused = reuse_pinned(e);
		if (reused < 0)
			return reused;
		e->dns_stale = reused > 0; /* the DNS maps may hold a predecessor's */
	}
	return 0;
}

/* 4. The policy into the idle generation (see engine_apply.c); pinned links
 *    of another cgroup are refused before any write. */
static int start_policy(struct engine *e, const struct policy_compiled *pc, const char *policy_text,
			struct engine_apply *a)
{
	uint64_t seq;
	int ret;

	if (e->pin_dir) {
		ret = check_pinned_links(e);
		if (ret)
			return ret;
	}
	ret = engine_outer_create(e);
	if (ret) {
		log_errno(ret, "cannot create the policy maps");
		return ret;
	}
	ret = engine_start_seq(e, &seq);
	if (ret) {
		log_errno(ret, "cannot read pinned hush_cfg");
		return ret;
	}
	return engine_apply_start(e, pc, policy_text, seq, a);
}

/* 5. Load sock_addr (its maps are shared from here on) and map the config
 *    switch for single-store flips. */
static int load_sock_addr(struct engine *e)
{
	void *cfg;
	int ret;

	ret = sock_addr_bpf__load(e->sa);
	if (ret) {
		log_errno(ret,
			  "cannot load BPF object sock_addr (run with -v for the verifier log)");
		return ret;
	}
	cfg = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED,
		   engine_map_fd(e, "hush_cfg"), 0);
	if (cfg == MAP_FAILED) {
		ret = -errno;
		log_errno(ret, "cannot map hush_cfg");
		return ret;
	}
	e->cfg = cfg;
	return 0;
}

/* 6. The skb_egress object, sharing every map of the first. */
static int load_skb_egress(struct engine *e, uint32_t rb)
{
	int ret;

	e->eg = skb_egress_bpf__open();
	if (!e->eg) {
		ret = -errno;
		log_errno(ret, "cannot open BPF object skb_egress");
		return ret;
	}
	e->eg->rodata->hush_wake_bytes = rb / 4;
	ret = share_maps(e);
	if (!ret)
		ret = skb_egress_bpf__load(e->eg);
	if (ret) {
		log_errno(ret,
			  "cannot load BPF object skb_egress (run with -v for the verifier log)");
		return ret;
	}
	return 0;
}

int engine_open(const struct engine_opts *o, const struct policy_compiled *pc,
		const char *policy_text, struct engine **out)
{
	uint32_t rb = o->ringbuf_bytes ? o->ringbuf_bytes : ENGINE_DEFAULT_RINGBUF;
	bool applying = false, exec_threaded = false;
	pthread_t exec_thr;
	struct engine *e;
	struct engine_apply a;
	int ret;

	*out = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cg_fd = -1;
	e->lock_fd = -1;
	e->instance_fd = -1;
	e->log_allowed = o->log_allowed;

	/* 1. The cgroup: on cgroup2, and not the root if forbidden. */
	ret = open_cgroup(e, o);
	if (ret)
		goto fail;

	/* 2. Pin directory, locked for the whole set-up. */
	if (o->pin_dir) {
		ret = open_pin_dir(e, o->pin_dir);
		if (ret)
			goto fail;
	}

	/* 3. sock_addr object: size, reuse pinned maps, load. */
	ret = open_sock_addr(e, rb);
	if (ret)
		goto fail;

	/* 4. Policy first, then programs: nothing attaches to empty maps.
	 *    Pinned links of another cgroup are refused before any write.
	 *    The installs wait in threads (see engine_apply.c) while the
	 *    programs load. */
	ret = start_policy(e, pc, policy_text, &a);
	if (ret)
		goto fail;
	applying = true;

	/* 5. Load sock_addr (its maps are shared from here on); exec tracking
	 *    loads in a thread of its own meanwhile (libbpf parses the kernel's
	 *    BTF for it; the objects share nothing). */
	exec_threaded = engine_exec_load_begin(e, &exec_thr);
	ret = load_sock_addr(e);
	if (ret)
		goto fail;

	/* 6. skb_egress object shares every map of the first. */
	ret = load_skb_egress(e, rb);
	if (ret)
		goto fail;
	engine_exec_load_end(e, &exec_thr, exec_threaded);
	exec_threaded = false;

	/* 7. The policy goes live (once its last install is in). */
	applying = false;
	ret = engine_apply_finish(e, &a, true);
	if (ret)
		goto fail;

	/* 8. Attach, or take over pinned links; then pin what is new. */
	ret = attach_all(e);
	if (ret)
		goto fail;
	engine_exec_attach(e);
	engine_cgmove_open(e);
	if (e->pin_dir) {
		ret = pin_maps(e);
		if (ret)
			goto fail;
		close(e->lock_fd);
		e->lock_fd = -1;
	}
	*out = e;
	return 0;
fail:
	if (exec_threaded)
		pthread_join(exec_thr, NULL);
	if (applying)
		engine_apply_finish(e, &a, false);
	engine_close(e);
	return ret;
}

void engine_close(struct engine *e)
{
	if (!e)
		return;
	ring_buffer__free(e->rb);
	for (int l = ENGINE_LINK_MAX - 1; l >= 0; l--)
		bpf_link__destroy(e->links[l]); /* pinned links stay attached */
	bpf_link__destroy(e->exec_link);
	exec_bpf__destroy(e->ex);
	engine_cgmove_close(e);
	if (e->cfg)
		munmap(e->cfg, sysconf(_SC_PAGESIZE));
	skb_egress_bpf__destroy(e->eg);
	sock_addr_bpf__destroy(e->sa);
	if (e->cg_fd >= 0)
		close(e->cg_fd);
	if (e->lock_fd >= 0)
		close(e->lock_fd);
	if (e->instance_fd >= 0)
		close(e->instance_fd);
	engine_scopes_forget(e);
	engine_set_binds(e, NULL, 0); /* frees the container binds */
	free(e->pin_dir);
	free(e);
}

int engine_prog_fd(const struct engine *e, enum engine_link l)
{
	struct bpf_program *p = link_prog((struct engine *)e, l);

	return p ? bpf_program__fd(p) : -EINVAL;
}

bool engine_scopes_stale(const struct engine *e)
{
	for (size_t i = 0; i < e->nscopes; i++) {
		uint64_t id = 0;

		if (!e->scope_paths[i])
			continue;
		if (cgroup_id_of(e->scope_paths[i], &id))
			id = 0;
		if (id != e->scope_ids[i])
			return true;
	}
	return false;
}

bool engine_adopted(const struct engine *e)
{
	return e->adopted;
}

uint64_t engine_cgroup_id(const struct engine *e)
{
	return e->cgroup_id;
}

uint64_t engine_policy_seq(const struct engine *e)
{
	return __atomic_load_n(&e->cfg->policy_seq, __ATOMIC_ACQUIRE);
}
