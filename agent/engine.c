// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Engine: see engine.h.  Lifecycle, in order (bcc / systemd habits):
 *   open skeletons -> size maps, set rodata -> reuse pinned maps -> create
 *   the generation arrays, fill the idle generation and start installing it
 *   -> load (exec tracking in a thread meanwhile) -> flip -> attach or adopt
 *   links -> pin.
 * The installs and the loads overlap because each install waits for an RCU
 * grace period in the kernel (see apply_start); a private instance is set up
 * in ~25-40 ms, most of it the verifier and libbpf's parse of kernel BTF.
 *
 * Pin layout under pin_dir:
 *   maps/<map name>     every map shared by the two program objects
 *   links/<hook name>   one bpf_link per hook (cgroup attachments)
 * Changes to a pin_dir are serialized with flock() on the directory
 * (xdp-tools' prog_lock_acquire idea).
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/magic.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <openssl/evp.h>

#include "cgroup.h"
#include "engine.h"
#include "log.h"
#include "sock_addr.skel.h"
#include "skb_egress.skel.h"
#include "exec.skel.h"

_Static_assert(sizeof(struct hush_event) == 104, "hush_event layout");
_Static_assert(sizeof(struct hush_ptab) == 8 + HUSH_L4_MAX * HUSH_SEG_MAX * 8, "ptab layout");
_Static_assert(sizeof(struct hush_lpm4_key) == 12, "lpm4 key layout");
_Static_assert(sizeof(struct hush_lpm6_key) == 24, "lpm6 key layout");
_Static_assert(sizeof(struct hush_scope_val) == 8, "scope value layout");
_Static_assert(sizeof(struct hush_cfg) == 88, "cfg layout");
_Static_assert(sizeof(struct hush_dns_client) == 104, "dns client layout");
_Static_assert(sizeof(struct hush_dkey) == 32, "dcache key layout");
_Static_assert(sizeof(struct hush_dval) == 12, "dcache value layout");

#define SCACHE_ENTRIES 16384

/* Maps both objects share, by name (identical definitions in hush.bpf.h). */
static const char *const shared_maps[] = {
    "hush_scopes", "hush_scache", "hush_lpm4",	   "hush_lpm6",	 "hush_ptabs",	"hush_ptext",
    "hush_cfg",	   "hush_events", "hush_counters", "hush_sk",	 "hush_dcache", "hush_last",
    "hush_evseq",  "hush_dnsck",  "hush_dnscl",	   "hush_dnssk",
};
#define NSHARED (sizeof(shared_maps) / sizeof(shared_maps[0]))

static const char *const link_names[ENGINE_LINK_MAX] = {
    [ENGINE_LINK_SOCK_CREATE] = "sock_create", [ENGINE_LINK_EGRESS] = "egress",
    [ENGINE_LINK_CONNECT4] = "connect4",       [ENGINE_LINK_CONNECT6] = "connect6",
    [ENGINE_LINK_SENDMSG4] = "sendmsg4",       [ENGINE_LINK_SENDMSG6] = "sendmsg6",
    [ENGINE_LINK_RECVMSG4] = "recvmsg4",       [ENGINE_LINK_RECVMSG6] = "recvmsg6",
    [ENGINE_LINK_GETPEER4] = "getpeername4",   [ENGINE_LINK_GETPEER6] = "getpeername6",
};

struct engine {
	struct sock_addr_bpf *sa;
	struct skb_egress_bpf *eg;
	struct exec_bpf *ex; /* exec tracking; NULL if unavailable */
	struct bpf_link *exec_link;
	char exec_why[160]; /* why exec tracking is off */
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
	return l < ENGINE_LINK_MAX ? link_names[l] : "?";
}

const char *engine_hook_name(unsigned hook)
{
	static const char *const n[HUSH_HOOK_MAX] = {"connect4", "connect6", "sendmsg4",
						     "sendmsg6", "egress",   "sock_create"};
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
	default:
		return NULL;
	}
}

static int pin_path(char *buf, size_t len, const char *dir, const char *kind, const char *name)
{
	if (snprintf(buf, len, "%s/%s/%s", dir, kind, name) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* Open the object pinned at dir/kind/name: an fd, or -errno (-ENOENT: none). */
static int pinned_get(const char *dir, const char *kind, const char *name)
{
	char p[PATH_MAX];
	int fd;

	if (pin_path(p, sizeof(p), dir, kind, name))
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

static int lock_dir(const char *dir)
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
static int check_compat(const char *path, int fd, const struct bpf_map *m)
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
		struct bpf_map *m = bpf_object__find_map_by_name(e->sa->obj, shared_maps[i]);
		int fd;

		if (!m)
			return -ENOENT;
		fd = pinned_get(e->pin_dir, "maps", shared_maps[i]);
		if (fd == -ENOENT)
			continue;
		if (fd < 0) {
			log_errno(fd, "cannot open pinned map %s/maps/%s", e->pin_dir,
				  shared_maps[i]);
			return fd;
		}
		ret = check_compat(shared_maps[i], fd, m);
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
		struct bpf_map *src = bpf_object__find_map_by_name(e->sa->obj, shared_maps[i]);
		struct bpf_map *dst = bpf_object__find_map_by_name(e->eg->obj, shared_maps[i]);
		int ret;

		if (!src || !dst)
			return -ENOENT;
		ret = bpf_map__reuse_fd(dst, bpf_map__fd(src));
		if (ret)
			return ret;
	}
	return 0;
}

static int map_fd(struct engine *e, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(e->sa->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

static int sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 32;

	return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

/* ---- policy apply ---- */

/*
 * A policy goes into the idle generation in three steps: fresh inner maps,
 * filled completely (apply_start); installed in the idle slots of their
 * outer maps; the flip (apply_finish).  The kernel makes every map-in-map
 * update wait for an RCU grace period (maybe_wait_bpf_programs(): ~8-25 ms
 * on this machine kind), so the six installs run in threads of their own:
 * their waits overlap, and engine_open() loads the remaining objects
 * meanwhile.  Nothing is live before the flip, which follows the last
 * install: a reload stays atomic.
 */
struct inner {
	int fd;
	const char *outer;
	int ofd;
	__u32 slot;
	int err;
	bool threaded; /* installed by thr, to be joined */
	pthread_t thr;
};

#define NINNER 6

/* The generation arrays, in struct apply order. */
static const char *const outer_maps[NINNER] = {"hush_scopes", "hush_scache", "hush_lpm4",
					       "hush_lpm6",   "hush_ptabs",  "hush_ptext"};

/* A policy between apply_start() and apply_finish(). */
struct apply {
	struct inner in[NINNER];
	uint64_t nseq;
	uint8_t hash[32];
};

static void *install_thread(void *arg)
{
	struct inner *in = arg;

	in->err = bpf_map_update_elem(in->ofd, &in->slot, &in->fd, BPF_ANY) ? -errno : 0;
	return NULL;
}

static int inner_create(enum bpf_map_type type, const char *name, __u32 ksz, __u32 vsz, __u32 max,
			__u32 flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
	int fd;

	fd = bpf_map_create(type, name, ksz, vsz, max ? max : 1, &o);
	if (fd < 0)
		return -errno;
	return fd;
}

static void scopes_forget(struct engine *e)
{
	for (size_t i = 0; i < e->nscopes; i++)
		free(e->scope_paths[i]);
	free(e->scope_paths);
	free(e->scope_ids);
	e->scope_paths = NULL;
	e->scope_ids = NULL;
	e->nscopes = 0;
}

/* Resolve compiled scope paths under the attach cgroup into cgroup ids. */
static int fill_scopes(struct engine *e, int fd, const struct policy_compiled *pc)
{
	scopes_forget(e);
	e->scope_paths = calloc(pc->nscopes ? pc->nscopes : 1, sizeof(*e->scope_paths));
	e->scope_ids = calloc(pc->nscopes ? pc->nscopes : 1, sizeof(*e->scope_ids));
	if (!e->scope_paths || !e->scope_ids)
		return -ENOMEM;
	e->nscopes = pc->nscopes;
	for (size_t i = 0; i < pc->nscopes; i++) {
		struct hush_scope_val v = {
		    .scope = (__u32)i, .mode = pc->scopes[i].mode, .flags = pc->scopes[i].flags};
		char p[PATH_MAX];
		uint64_t id;
		int ret;

		if (pc->scopes[i].path[0])
			ret = snprintf(p, sizeof(p), "%s/%s", e->cgroup, pc->scopes[i].path);
		else
			ret = snprintf(p, sizeof(p), "%s", e->cgroup);
		if (ret >= (int)sizeof(p))
			return -ENAMETOOLONG;
		e->scope_paths[i] = strdup(p);
		if (!e->scope_paths[i])
			return -ENOMEM;
		ret = cgroup_id_of(p, &id);
		if (ret) {
			log_errno(ret,
				  "policy scope \"%s\": cgroup %s (its rules apply as soon as "
				  "it exists; until then the enclosing scope's do)",
				  pc->scopes[i].path, p);
			continue;
		}
		e->scope_ids[i] = id;
		if (bpf_map_update_elem(fd, &id, &v, BPF_ANY))
			return -errno;
	}
	return 0;
}

static int apply_finish(struct engine *e, struct apply *a, bool commit);

/* Create and fill the idle generation of the policy now at sequence seq,
 * then start installing it.  0: apply_finish() must follow; else nothing is
 * left in flight. */
static int apply_start(struct engine *e, const struct policy_compiled *pc, const char *text,
		       uint64_t seq, struct apply *a)
{
	size_t tlen = text ? strlen(text) : 0;
	size_t nchunks = (tlen + HUSH_PTEXT_CHUNK - 1) / HUSH_PTEXT_CHUNK;
	struct inner *in = a->in;
	__u32 next;
	int ret = 0;

	memset(a, 0, sizeof(*a));
	for (int i = 0; i < NINNER; i++) {
		in[i].fd = -1;
		in[i].outer = outer_maps[i];
	}
	a->nseq = seq + 1;
	next = HUSH_GEN(a->nseq);
	ret = sha256(text ? text : "", tlen, a->hash);
	if (ret)
		goto fail;

	/* 1. Fresh inner maps for the idle generation, sized from the policy. */
	in[0].fd = inner_create(BPF_MAP_TYPE_HASH, "hush_scopes_i", 8,
				sizeof(struct hush_scope_val), (__u32)pc->nscopes, 0);
	in[1].fd = inner_create(BPF_MAP_TYPE_LRU_HASH, "hush_scache_i", 8,
				sizeof(struct hush_scope_val), SCACHE_ENTRIES, 0);
	in[2].fd = inner_create(BPF_MAP_TYPE_LPM_TRIE, "hush_lpm4_i", sizeof(struct hush_lpm4_key),
				sizeof(struct hush_lpm_val), (__u32)pc->n4, BPF_F_NO_PREALLOC);
	in[3].fd = inner_create(BPF_MAP_TYPE_LPM_TRIE, "hush_lpm6_i", sizeof(struct hush_lpm6_key),
				sizeof(struct hush_lpm_val), (__u32)pc->n6, BPF_F_NO_PREALLOC);
	in[4].fd = inner_create(BPF_MAP_TYPE_ARRAY, "hush_ptabs_i", 4, sizeof(struct hush_ptab),
				(__u32)pc->nptabs, BPF_F_INNER_MAP);
	in[5].fd = inner_create(BPF_MAP_TYPE_ARRAY, "hush_ptext_i", 4,
				sizeof(struct hush_ptext_chunk), (__u32)nchunks, BPF_F_INNER_MAP);
	for (int i = 0; i < NINNER; i++) {
		if (in[i].fd < 0) {
			ret = in[i].fd;
			log_errno(ret, "cannot create policy map %s", in[i].outer);
			goto fail;
		}
	}

	/* 2. Fill them completely. */
	ret = fill_scopes(e, in[0].fd, pc);
	if (ret) {
		log_errno(ret, "cannot fill policy scopes");
		goto fail;
	}
	for (int fam = 0; fam < 2; fam++) {
		size_t n = fam ? pc->n6 : pc->n4;
		const void *keys = fam ? (const void *)pc->k6 : (const void *)pc->k4;
		const void *vals = fam ? (const void *)pc->v6 : (const void *)pc->v4;
		size_t ksz = fam ? sizeof(struct hush_lpm6_key) : sizeof(struct hush_lpm4_key);
		size_t done = 0;

		while (done < n) {
			LIBBPF_OPTS(bpf_map_batch_opts, o);
			__u32 count = n - done > 65536 ? 65536 : (__u32)(n - done);

			if (bpf_map_update_batch(in[2 + fam].fd, (const char *)keys + done * ksz,
						 (const char *)vals +
						     done * sizeof(struct hush_lpm_val),
						 &count, &o)) {
				ret = -errno;
				log_errno(ret, "cannot fill %s (%zu prefixes)", in[2 + fam].outer,
					  n);
				goto fail;
			}
			done += count;
		}
	}
	for (__u32 i = 0; i < pc->nptabs; i++) {
		if (bpf_map_update_elem(in[4].fd, &i, &pc->ptabs[i], BPF_ANY)) {
			ret = -errno;
			log_errno(ret, "cannot fill port tables");
			goto fail;
		}
	}
	for (__u32 i = 0; i < nchunks; i++) {
		struct hush_ptext_chunk c = {};
		size_t off = (size_t)i * HUSH_PTEXT_CHUNK;

		c.len = (__u32)(tlen - off > HUSH_PTEXT_CHUNK ? HUSH_PTEXT_CHUNK : tlen - off);
		memcpy(c.data, text + off, c.len);
		if (bpf_map_update_elem(in[5].fd, &i, &c, BPF_ANY)) {
			ret = -errno;
			log_errno(ret, "cannot store policy text");
			goto fail;
		}
	}

	/* 3. Install them in the idle slots (no program looks there yet),
	 *    each in a thread of its own (inline if none can be made). */
	for (int i = 0; i < NINNER; i++) {
		in[i].slot = next;
		in[i].ofd = map_fd(e, in[i].outer);
		if (in[i].ofd < 0) {
			in[i].err = in[i].ofd;
			continue;
		}
		in[i].threaded = pthread_create(&in[i].thr, NULL, install_thread, &in[i]) == 0;
		if (!in[i].threaded)
			install_thread(&in[i]);
	}
	return 0;
fail:
	apply_finish(e, a, false);
	return ret;
}

/* Wait for the installs; then, if commit and all went in, make the new
 * generation live.  Closes the inner maps (the outer ones hold them). */
static int apply_finish(struct engine *e, struct apply *a, bool commit)
{
	int ret = 0;

	for (int i = 0; i < NINNER; i++) {
		struct inner *in = &a->in[i];

		if (in->threaded)
			pthread_join(in->thr, NULL);
		in->threaded = false;
		if (in->err && !ret) {
			ret = in->err;
			log_errno(ret, "cannot install %s generation %u", in->outer, in->slot);
		}
	}

	/* 4. Flip: one aligned 8-byte store makes the new generation live.
	 *    The old generation stays installed until the next apply, so a
	 *    program that read the old sequence still finds complete maps. */
	if (commit && !ret) {
		memcpy(e->cfg->policy_hash, a->hash, sizeof(a->hash));
		e->cfg->log_allowed = e->log_allowed;
		__atomic_store_n(&e->cfg->policy_seq, a->nseq, __ATOMIC_SEQ_CST);
	}
	for (int i = 0; i < NINNER; i++) {
		if (a->in[i].fd >= 0)
			close(a->in[i].fd);
		a->in[i].fd = -1;
	}
	return ret;
}

static int apply_locked(struct engine *e, const struct policy_compiled *pc, const char *text)
{
	struct apply a;
	int ret;

	ret = apply_start(e, pc, text, __atomic_load_n(&e->cfg->policy_seq, __ATOMIC_ACQUIRE), &a);
	if (ret)
		return ret;
	return apply_finish(e, &a, true);
}

int engine_apply(struct engine *e, const struct policy_compiled *pc, const char *policy_text)
{
	int lock = -1, ret;

	if (e->pin_dir) {
		lock = lock_dir(e->pin_dir);
		if (lock < 0)
			return lock;
	}
	ret = apply_locked(e, pc, policy_text);
	if (lock >= 0)
		close(lock);
	return ret;
}

/* ---- attach / adopt ---- */

static int link_cgroup(int fd, uint64_t *cgid, __u32 *prog_id)
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

		fd = pinned_get(e->pin_dir, "links", link_names[l]);
		if (fd == -ENOENT)
			continue;
		if (fd < 0) {
			log_errno(fd, "cannot open pinned link %s/links/%s", e->pin_dir,
				  link_names[l]);
			return fd;
		}
		ret = link_cgroup(fd, &cgid, NULL);
		close(fd);
		if (ret) {
			log_errno(ret, "pinned link %s/links/%s", e->pin_dir, link_names[l]);
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
			ret = pin_path(p, sizeof(p), e->pin_dir, "links", link_names[l]);
			if (ret)
				goto fail;
			if (access(p, F_OK) == 0)
				link = bpf_link__open(p);
		}
		if (link) {
			/* Adopt: swap our program into the pinned link. */
			uint64_t cgid;

			ret = link_cgroup(bpf_link__fd(link), &cgid, NULL);
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
				log_errno(ret, "cannot attach %s to %s", link_names[l], e->cgroup);
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
		struct bpf_map *m = bpf_object__find_map_by_name(e->sa->obj, shared_maps[i]);
		char p[PATH_MAX];
		int ret;

		ret = pin_path(p, sizeof(p), e->pin_dir, "maps", shared_maps[i]);
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

/*
 * Exec tracking (optional: attribution, not enforcement).  Pinned like the
 * rest for hushd: the map keeps filling between two hushds; a new link
 * replaces the pinned one (tracepoint links cannot be updated in place).
 */
static void exec_drop(struct engine *e)
{
	bpf_link__destroy(e->exec_link);
	e->exec_link = NULL;
	exec_bpf__destroy(e->ex);
	e->ex = NULL;
}

/* Load (engine_open runs this in a thread of its own while the enforcing
 * objects load); exec_attach() attaches once enforcement is in place. */
static void exec_load(struct engine *e)
{
	char mp[PATH_MAX];
	int ret, fd;

	if (e->pin_dir) {
		pin_path(mp, sizeof(mp), e->pin_dir, "maps", "hush_procs");
		fd = pinned_get(e->pin_dir, "maps", "hush_procs");
		if (fd >= 0) {
			if (check_compat(mp, fd, e->ex->maps.hush_procs) == 0)
				bpf_map__reuse_fd(e->ex->maps.hush_procs, fd);
			close(fd);
		}
	}
	ret = exec_bpf__load(e->ex);
	if (ret) {
		snprintf(e->exec_why, sizeof(e->exec_why), "cannot load: %s", strerror(-ret));
		exec_drop(e);
	}
}

static void exec_attach(struct engine *e)
{
	char mp[PATH_MAX] = "", lp[PATH_MAX] = "";

	if (!e->ex)
		return;
	if (e->pin_dir) {
		pin_path(mp, sizeof(mp), e->pin_dir, "maps", "hush_procs");
		pin_path(lp, sizeof(lp), e->pin_dir, "links", "exec");
	}
	e->exec_link = bpf_program__attach(e->ex->progs.hush_exec);
	if (!e->exec_link) {
		snprintf(e->exec_why, sizeof(e->exec_why),
			 "cannot attach to sched_process_exec: %s", strerror(errno));
		goto fail;
	}
	if (e->pin_dir) {
		unlink(lp); /* the previous hushd's link, if any, detaches */
		if (bpf_link__pin(e->exec_link, lp) ||
		    (access(mp, F_OK) != 0 && bpf_map__pin(e->ex->maps.hush_procs, mp))) {
			snprintf(e->exec_why, sizeof(e->exec_why), "cannot pin in %s: %s",
				 e->pin_dir, strerror(errno));
			goto fail;
		}
	}
	return;
fail:
	exec_drop(e);
}

const char *engine_exec_unavailable(const struct engine *e)
{
	return e->ex ? NULL : e->exec_why;
}

int engine_proc(const struct engine *e, uint32_t tgid, uint64_t ts_ns, struct hush_proc *out)
{
	if (!e->ex)
		return -ENOENT;
	if (bpf_map_lookup_elem(bpf_map__fd(e->ex->maps.hush_procs), &tgid, out))
		return -ENOENT;
	/* A later exec replaced the image that made the event. */
	if (out->exec_ns > ts_ns)
		return -ESTALE;
	return 0;
}

/*
 * Create the generation arrays that no pinned map provides, ahead of the
 * sock_addr object's load (libbpf creates maps only as part of loading a
 * whole object), so that the policy's installs - each an RCU grace period
 * in the kernel - wait while the programs are verified.  Same definitions
 * as libbpf would use: the map's own and its inner map template's.
 */
static int outer_create(struct engine *e)
{
	for (int i = 0; i < NINNER; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(e->sa->obj, outer_maps[i]);
		struct bpf_map *im = m ? bpf_map__inner_map(m) : NULL;
		LIBBPF_OPTS(bpf_map_create_opts, to);
		LIBBPF_OPTS(bpf_map_create_opts, oo);
		int tfd, fd, ret;

		if (!im)
			return -ENOENT;
		if (bpf_map__fd(m) >= 0)
			continue; /* reused from pin_dir */
		to.map_flags = bpf_map__map_flags(im);
		tfd = bpf_map_create(bpf_map__type(im), NULL, bpf_map__key_size(im),
				     bpf_map__value_size(im), bpf_map__max_entries(im), &to);
		if (tfd < 0)
			return -errno;
		oo.map_flags = bpf_map__map_flags(m);
		oo.inner_map_fd = (__u32)tfd;
		fd = bpf_map_create(bpf_map__type(m), outer_maps[i], bpf_map__key_size(m),
				    bpf_map__value_size(m), bpf_map__max_entries(m), &oo);
		ret = fd < 0 ? -errno : bpf_map__reuse_fd(m, fd);
		close(tfd);
		if (fd >= 0)
			close(fd);
		if (ret)
			return ret;
	}
	return 0;
}

/* The policy sequence before the first apply: a pinned hush_cfg's, else 0
 * (libbpf creates hush_cfg zeroed). */
static int start_seq(struct engine *e, uint64_t *seq)
{
	int fd = bpf_map__fd(e->sa->maps.hush_cfg);
	struct hush_cfg cfg;
	__u32 zero = 0;

	*seq = 0;
	if (fd < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &zero, &cfg))
		return -errno;
	*seq = cfg.policy_seq;
	return 0;
}

static void *exec_load_thread(void *arg)
{
	exec_load(arg);
	return NULL;
}

int engine_open(const struct engine_opts *o, const struct policy_compiled *pc,
		const char *policy_text, struct engine **out)
{
	uint32_t rb = o->ringbuf_bytes ? o->ringbuf_bytes : ENGINE_DEFAULT_RINGBUF;
	bool applying = false, exec_threaded = false;
	pthread_t exec_thr;
	struct engine *e;
	struct apply a;
	uint64_t seq;
	int ret, reused = 0;
	void *cfg;

	*out = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cg_fd = -1;
	e->lock_fd = -1;
	e->instance_fd = -1;
	e->log_allowed = o->log_allowed;

	/* 1. The cgroup: on cgroup2, and not the root if forbidden. */
	ret = cgroup_resolve(o->cgroup, e->cgroup, sizeof(e->cgroup));
	if (ret) {
		log_errno(ret, "cgroup %s", o->cgroup);
		if (ret == -EMEDIUMTYPE)
			log_warnx("%s is not on a cgroup2 file system (see the cgroup2 mount in "
				  "/proc/mounts)",
				  o->cgroup);
		goto fail;
	}
	if (o->forbid_root && cgroup_is_root(e->cgroup)) {
		log_warnx("refusing to attach to the cgroup2 root %s (HUSH_FORBID_ROOT is set)",
			  e->cgroup);
		ret = -EPERM;
		goto fail;
	}
	ret = cgroup_id_of(e->cgroup, &e->cgroup_id);
	if (ret)
		goto fail;
	e->cg_fd = open(e->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->cg_fd < 0) {
		ret = -errno;
		log_errno(ret, "cannot open cgroup %s", e->cgroup);
		goto fail;
	}

	/* 2. Pin directory, locked for the whole set-up. */
	if (o->pin_dir) {
		ret = engine_ensure_bpffs();
		if (ret) {
			log_errno(ret, "cannot mount bpffs at /sys/fs/bpf");
			goto fail;
		}
		e->pin_dir = strdup(o->pin_dir);
		if (!e->pin_dir) {
			ret = -ENOMEM;
			goto fail;
		}
		ret = mkdirs(e->pin_dir);
		if (ret) {
			log_errno(ret, "cannot create pin directory %s", e->pin_dir);
			goto fail;
		}
		e->lock_fd = lock_dir(e->pin_dir);
		if (e->lock_fd < 0) {
			ret = e->lock_fd;
			log_errno(ret, "cannot lock %s", e->pin_dir);
			goto fail;
		}
		/* One engine per pin directory at a time. */
		{
			char p[PATH_MAX];

			snprintf(p, sizeof(p), "%s/links", e->pin_dir);
			e->instance_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (e->instance_fd < 0 || flock(e->instance_fd, LOCK_EX | LOCK_NB) < 0) {
				ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
				log_errno(ret,
					  "%s is in use by another hushd (one hushd per pin "
					  "directory)",
					  e->pin_dir);
				goto fail;
			}
		}
	}

	/* 3. sock_addr object: size, reuse pinned maps, load. */
	e->sa = sock_addr_bpf__open();
	if (!e->sa) {
		ret = -errno;
		log_errno(ret, "cannot open BPF object sock_addr");
		goto fail;
	}
	e->sa->rodata->hush_wake_bytes = rb / 4;
	bpf_map__set_max_entries(e->sa->maps.hush_events, rb);
	if (e->pin_dir) {
		reused = reuse_pinned(e);
		if (reused < 0) {
			ret = reused;
			goto fail;
		}
	}

	/* 4. Policy first, then programs: nothing attaches to empty maps.
	 *    Pinned links of another cgroup are refused before any write.
	 *    The installs wait in threads (see apply_start) while the
	 *    programs load. */
	if (e->pin_dir) {
		ret = check_pinned_links(e);
		if (ret)
			goto fail;
	}
	ret = outer_create(e);
	if (ret) {
		log_errno(ret, "cannot create the policy maps");
		goto fail;
	}
	ret = start_seq(e, &seq);
	if (ret) {
		log_errno(ret, "cannot read pinned hush_cfg");
		goto fail;
	}
	ret = apply_start(e, pc, policy_text, seq, &a);
	if (ret)
		goto fail;
	applying = true;

	/* 5. Load sock_addr (its maps are shared from here on); exec tracking
	 *    loads in a thread of its own meanwhile (libbpf parses the kernel's
	 *    BTF for it; the objects share nothing). */
	e->ex = exec_bpf__open();
	if (!e->ex)
		snprintf(e->exec_why, sizeof(e->exec_why), "cannot open: %s", strerror(errno));
	else
		exec_threaded = pthread_create(&exec_thr, NULL, exec_load_thread, e) == 0;
	ret = sock_addr_bpf__load(e->sa);
	if (ret) {
		log_errno(ret,
			  "cannot load BPF object sock_addr (run with -v for the verifier log)");
		goto fail;
	}

	/* The config switch, mapped for single-store flips. */
	cfg = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED,
		   map_fd(e, "hush_cfg"), 0);
	if (cfg == MAP_FAILED) {
		ret = -errno;
		log_errno(ret, "cannot map hush_cfg");
		goto fail;
	}
	e->cfg = cfg;

	/* 6. skb_egress object shares every map of the first. */
	e->eg = skb_egress_bpf__open();
	if (!e->eg) {
		ret = -errno;
		log_errno(ret, "cannot open BPF object skb_egress");
		goto fail;
	}
	e->eg->rodata->hush_wake_bytes = rb / 4;
	ret = share_maps(e);
	if (!ret)
		ret = skb_egress_bpf__load(e->eg);
	if (ret) {
		log_errno(ret,
			  "cannot load BPF object skb_egress (run with -v for the verifier log)");
		goto fail;
	}
	if (exec_threaded)
		pthread_join(exec_thr, NULL);
	else if (e->ex)
		exec_load(e);
	exec_threaded = false;

	/* 7. The policy goes live (once its last install is in). */
	applying = false;
	ret = apply_finish(e, &a, true);
	if (ret)
		goto fail;

	/* 8. Attach, or take over pinned links; then pin what is new. */
	ret = attach_all(e);
	if (ret)
		goto fail;
	exec_attach(e);
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
		apply_finish(e, &a, false);
	engine_close(e);
	return ret;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct engine *e = ctx;

	if (size < sizeof(struct hush_event))
		return 0;
	return e->fn ? e->fn(e->fn_ctx, data) : 0;
}

int engine_events(struct engine *e, engine_event_fn fn, void *ctx)
{
	e->fn = fn;
	e->fn_ctx = ctx;
	if (!e->rb) {
		e->rb = ring_buffer__new(map_fd(e, "hush_events"), on_event, e, NULL);
		if (!e->rb)
			return -errno;
	}
	return ring_buffer__epoll_fd(e->rb);
}

int engine_poll(struct engine *e, int timeout_ms)
{
	int n;

	if (!e->rb)
		return -EINVAL;
	n = ring_buffer__poll(e->rb, timeout_ms);
	if (n < 0 && n != -EINTR)
		return n;
	/* Records submitted with BPF_RB_NO_WAKEUP are only found by a consume. */
	return ring_buffer__consume(e->rb);
}

int engine_drain(struct engine *e)
{
	return e->rb ? ring_buffer__consume(e->rb) : 0;
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
	scopes_forget(e);
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

static int read_counters(int fd, uint64_t out[HUSH_CTR_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (__u32 i = 0; i < HUSH_CTR_MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, v))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[i] += v[c];
	}
	free(v);
	return 0;
}

int engine_counters(const struct engine *e, uint64_t out[HUSH_CTR_MAX])
{
	return read_counters(bpf_map__fd(e->sa->maps.hush_counters), out);
}

int engine_evseq(const struct engine *e, uint64_t *out, int ncpu)
{
	int fd = bpf_map__fd(e->sa->maps.hush_evseq);

	if (ncpu != libbpf_num_possible_cpus())
		return -EINVAL;
	for (__u32 i = 0; i < HUSH_CTR_MAX; i++) {
		uint64_t *v = out + (size_t)i * (size_t)ncpu;

		if (bpf_map_lookup_elem(fd, &i, v))
			return -errno;
	}
	return 0;
}

uint32_t engine_evseq_id(const struct engine *e)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(bpf_map__fd(e->sa->maps.hush_evseq), &info, &len))
		return 0;
	return info.id;
}

/* ---- the DNS redirect ---- */

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

static uint64_t netns_cookie(int fd)
{
	uint64_t c = 0;
	socklen_t len = sizeof(c);

	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &c, &len))
		return 0;
	return c;
}

static uint16_t sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

int engine_dns_register(struct engine *e, const int fds[HUSH_DNS_SLOTS])
{
	int mfd = bpf_map__fd(e->sa->maps.hush_dnssk);
	uint64_t ns = 0;

	engine_dns_unregister(e);
	for (uint32_t i = 0; i < HUSH_DNS_SLOTS; i++) {
		uint64_t v = (uint64_t)fds[i];

		if (fds[i] < 0)
			continue;
		if (bpf_map_update_elem(mfd, &i, &v, BPF_ANY)) {
			int ret = -errno;

			log_errno(ret, "cannot hand the DNS proxy's socket to the redirect (socket "
				       "map update; needs Linux >= 5.7 for UDP sockets)");
			return ret;
		}
		if (!ns)
			ns = netns_cookie(fds[i]);
	}
	if (!ns) {
		log_warnx("cannot read the DNS proxy's network namespace cookie (SO_NETNS_COOKIE "
			  "needs Linux >= 5.14): DNS stays denied");
		return -ENOTSUP;
	}
	e->cfg->dns_netns = ns;
	e->cfg->dns_tgid = (uint32_t)getpid();
	/* Ports last: they switch the redirect on. */
	for (int i = 0; i < HUSH_DNS_SLOTS; i++)
		__atomic_store_n(&e->cfg->dns_port[i], fds[i] >= 0 ? sock_port(fds[i]) : 0,
				 __ATOMIC_RELEASE);
	return 0;
}

void engine_dns_resolver(struct engine *e, int family, const uint8_t addr[16], uint16_t port)
{
	/* Port first: while it changes, the proxy's forwards may be refused,
	 * never let through somewhere else. */
	__atomic_store_n(&e->cfg->dns_resolver_port, 0, __ATOMIC_SEQ_CST);
	memset(e->cfg->dns_resolver, 0, 16);
	e->cfg->dns_resolver_family = 0;
	if (!family)
		return;
	memcpy(e->cfg->dns_resolver, addr, family == AF_INET ? 4 : 16);
	e->cfg->dns_resolver_family = family == AF_INET ? 2 : 10;
	__atomic_store_n(&e->cfg->dns_resolver_port, port, __ATOMIC_SEQ_CST);
}

void engine_dns_unregister(struct engine *e)
{
	int mfd = bpf_map__fd(e->sa->maps.hush_dnssk);

	for (int i = 0; i < HUSH_DNS_SLOTS; i++)
		__atomic_store_n(&e->cfg->dns_port[i], 0, __ATOMIC_SEQ_CST);
	e->cfg->dns_tgid = 0;
	for (uint32_t i = 0; i < HUSH_DNS_SLOTS; i++)
		bpf_map_delete_elem(mfd, &i);
}

int engine_dns_client(const struct engine *e, unsigned slot, uint16_t port,
		      struct hush_dns_client *out)
{
	struct hush_dns_pkey k = {.port = port, .slot = (uint8_t)slot};

	if (bpf_map_lookup_elem(bpf_map__fd(e->eg->maps.hush_dnscl), &k, out))
		return -ENOENT;
	return 0;
}

/* ---- pinned state ---- */

int engine_pinned_read(const char *pin_dir, struct engine_pinned *st)
{
	struct hush_cfg cfg;
	__u32 zero = 0;
	int fd, ret;

	memset(st, 0, sizeof(*st));
	fd = pinned_get(pin_dir, "maps", "hush_cfg");
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	ret = bpf_map_lookup_elem(fd, &zero, &cfg) ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	st->present = true;
	{
		char p[PATH_MAX];

		st->exec_tracking =
		    pin_path(p, sizeof(p), pin_dir, "links", "exec") == 0 && access(p, F_OK) == 0;
	}
	st->policy_seq = cfg.policy_seq;
	st->log_allowed = cfg.log_allowed;
	memcpy(st->policy_hash, cfg.policy_hash, 32);
	memcpy(st->dns_port, cfg.dns_port, sizeof(st->dns_port));
	st->dns_tgid = cfg.dns_tgid;
	fd = pinned_get(pin_dir, "maps", "hush_dnssk");
	if (fd >= 0) {
		for (uint32_t i = 0; i < HUSH_DNS_SLOTS; i++) {
			uint64_t v;

			st->dns_open[i] = bpf_map_lookup_elem(fd, &i, &v) == 0;
		}
		close(fd);
	}

	fd = pinned_get(pin_dir, "maps", "hush_counters");
	if (fd >= 0) {
		read_counters(fd, st->counters);
		close(fd);
	}
	for (int l = 0; l < ENGINE_LINK_MAX; l++) {
		struct bpf_prog_info pi = {};
		__u32 len = sizeof(pi);
		int pfd;

		fd = pinned_get(pin_dir, "links", link_names[l]);
		if (fd < 0)
			continue;
		if (link_cgroup(fd, &st->links[l].cgroup_id, &st->links[l].prog_id) == 0) {
			st->links[l].present = true;
			pfd = bpf_prog_get_fd_by_id(st->links[l].prog_id);
			if (pfd >= 0) {
				if (bpf_obj_get_info_by_fd(pfd, &pi, &len) == 0)
					memcpy(st->links[l].prog_name, pi.name,
					       sizeof(st->links[l].prog_name));
				close(pfd);
			}
		}
		close(fd);
	}
	return 0;
}

int engine_pinned_policy(const char *pin_dir, char **text)
{
	struct hush_cfg cfg;
	size_t len = 0, cap = 0;
	__u32 zero = 0, gen;
	int cfd, ofd, ifd = -1, ret = 0;
	char *buf = NULL;

	*text = NULL;
	cfd = pinned_get(pin_dir, "maps", "hush_cfg");
	if (cfd < 0)
		return cfd;
	if (bpf_map_lookup_elem(cfd, &zero, &cfg)) {
		ret = -errno;
		goto out;
	}
	gen = HUSH_GEN(cfg.policy_seq);
	ofd = pinned_get(pin_dir, "maps", "hush_ptext");
	if (ofd < 0) {
		ret = ofd;
		goto out;
	}
	{
		__u32 inner_id;

		if (bpf_map_lookup_elem(ofd, &gen, &inner_id)) {
			ret = -errno;
			close(ofd);
			goto out;
		}
		close(ofd);
		ifd = bpf_map_get_fd_by_id(inner_id);
		if (ifd < 0) {
			ret = -errno;
			goto out;
		}
	}
	for (__u32 i = 0;; i++) {
		struct hush_ptext_chunk c;

		if (bpf_map_lookup_elem(ifd, &i, &c))
			break;
		if (len + c.len + 1 > cap) {
			char *nb;

			cap = (len + c.len + 1) * 2;
			nb = realloc(buf, cap);
			if (!nb) {
				ret = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		memcpy(buf + len, c.data, c.len);
		len += c.len;
		if (c.len < HUSH_PTEXT_CHUNK)
			break;
	}
	if (!buf) {
		buf = strdup("");
		if (!buf) {
			ret = -ENOMEM;
			goto out;
		}
	}
	buf[len] = 0;
	*text = buf;
	buf = NULL;
out:
	free(buf);
	if (ifd >= 0)
		close(ifd);
	close(cfd);
	return ret;
}

int engine_disable(const char *pin_dir)
{
	int lock, ret = 0;

	lock = lock_dir(pin_dir);
	if (lock < 0)
		return lock == -ENOENT ? 0 : lock;
	for (int l = 0; l < ENGINE_LINK_MAX; l++) {
		char p[PATH_MAX];
		int fd;

		if (pin_path(p, sizeof(p), pin_dir, "links", link_names[l]))
			continue;
		fd = bpf_obj_get(p);
		if (fd >= 0) {
			/* Detach even if a running hushd still holds the link. */
			if (bpf_link_detach(fd) && errno != ENOLINK) {
				ret = -errno;
				log_errno(ret, "cannot detach %s", p);
			}
			close(fd);
		}
		if (unlink(p) < 0 && errno != ENOENT && !ret)
			ret = -errno;
	}
	for (size_t i = 0; i <= NSHARED; i++) {
		const char *name = i < NSHARED ? shared_maps[i] : "hush_procs";
		char p[PATH_MAX];

		if (pin_path(p, sizeof(p), pin_dir, "maps", name))
			continue;
		if (unlink(p) < 0 && errno != ENOENT && !ret)
			ret = -errno;
	}
	{
		char p[PATH_MAX];

		if (pin_path(p, sizeof(p), pin_dir, "links", "exec") == 0 && unlink(p) < 0 &&
		    errno != ENOENT && !ret)
			ret = -errno;
	}
	{
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/links", pin_dir);
		rmdir(p);
		snprintf(p, sizeof(p), "%s/maps", pin_dir);
		rmdir(p);
	}
	close(lock);
	if (rmdir(pin_dir) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EBUSY && !ret)
		ret = -errno;
	return ret;
}
