// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Engine: policy apply (see engine_int.h for the engine's files).
 *
 * A policy goes into the idle generation in three steps: fresh inner maps,
 * filled completely (engine_apply_start); installed in the idle slots of
 * their outer maps; the flip (engine_apply_finish).  The kernel makes every
 * map-in-map update wait for an RCU grace period (maybe_wait_bpf_programs():
 * ~8-25 ms on this machine kind), so the six installs run in threads of
 * their own: their waits overlap, and engine_open() loads the remaining
 * objects meanwhile.  Nothing is live before the flip, which follows the
 * last install: a reload stays atomic.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <openssl/evp.h>

#include "agent/cgroup.h"
#include "agent/engine_bind.h"
#include "agent/engine_int.h"
#include "agent/log.h"

#define SCACHE_ENTRIES 16384

/* The generation arrays, in struct engine_apply order. */
static const char *const outer_maps[ENGINE_NINNER] = {"hush_scopes", "hush_scache", "hush_lpm4",
						      "hush_lpm6",   "hush_ptabs",  "hush_ptext"};

static int sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 32;

	return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

static void *install_thread(void *arg)
{
	struct engine_inner *in = arg;

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

void engine_scopes_forget(struct engine *e)
{
	for (size_t i = 0; i < e->nscopes; i++)
		free(e->scope_paths[i]);
	free(e->scope_paths);
	free(e->scope_ids);
	e->scope_paths = NULL;
	e->scope_ids = NULL;
	e->nscopes = 0;
}

/* e->binds: set on hushd's main thread, read by applies on any thread. */
static pthread_mutex_t binds_mu = PTHREAD_MUTEX_INITIALIZER;

int engine_set_binds(struct engine *e, const struct engine_bind *b, size_t n)
{
	struct engine_bind *nb = n ? calloc(n, sizeof(*nb)) : NULL;
	struct engine_bind *old;
	size_t nold;

	if (n && !nb)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		nb[i].cgid = b[i].cgid;
		nb[i].sel = strdup(b[i].sel);
		if (!nb[i].sel) {
			while (i--)
				free(nb[i].sel);
			free(nb);
			return -ENOMEM;
		}
	}
	pthread_mutex_lock(&binds_mu);
	old = e->binds;
	nold = e->nbinds;
	e->binds = nb;
	e->nbinds = n;
	pthread_mutex_unlock(&binds_mu);
	for (size_t i = 0; i < nold; i++)
		free(old[i].sel);
	free(old);
	return 0;
}

/* The inner map of outer map `name` in the live generation: fd or -errno. */
static int live_inner(struct engine *e, const char *name)
{
	__u32 slot = HUSH_GEN(__atomic_load_n(&e->cfg->policy_seq, __ATOMIC_ACQUIRE)), id = 0;
	int ofd = engine_map_fd(e, name), fd;

	if (ofd < 0)
		return ofd;
	if (bpf_map_lookup_elem(ofd, &slot, &id))
		return -errno;
	fd = bpf_map_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

int engine_bind_live(struct engine *e, uint64_t cgid, uint32_t scope, uint8_t mode, uint8_t flags)
{
	struct hush_scope_val v = {.scope = scope, .mode = mode, .flags = flags};
	int fd = live_inner(e, "hush_scopes"), ret = 0;

	if (fd < 0)
		return fd;
	if (bpf_map_update_elem(fd, &cgid, &v, BPF_ANY))
		ret = -errno; /* (E2BIG: the map is full; the apply makes room) */
	close(fd);
	fd = live_inner(e, "hush_scache");
	if (fd >= 0) {
		(void)bpf_map_delete_elem(fd, &cgid);
		close(fd);
	}
	return ret;
}

/* The binds into the scope map: each container cgroup gets the scope whose
 * path is its selector (the policy's scopes, so a reload re-resolves). */
static int fill_binds(struct engine *e, int fd, const struct policy_compiled *pc)
{
	int ret = 0;

	pthread_mutex_lock(&binds_mu);
	for (size_t b = 0; b < e->nbinds && !ret; b++) {
		for (size_t i = 1; i < pc->nscopes; i++) {
			struct hush_scope_val v = {.scope = (__u32)i,
						   .mode = pc->scopes[i].mode,
						   .flags = pc->scopes[i].flags};

			if (strcmp(pc->scopes[i].path, e->binds[b].sel))
				continue;
			/* (E2BIG: more binds than room, they wait for the next apply) */
			if (bpf_map_update_elem(fd, &e->binds[b].cgid, &v, BPF_ANY) &&
			    errno != E2BIG)
				ret = -errno;
			break;
		}
	}
	pthread_mutex_unlock(&binds_mu);
	return ret;
}

static size_t nbinds(struct engine *e)
{
	size_t n;

	pthread_mutex_lock(&binds_mu);
	n = e->nbinds;
	pthread_mutex_unlock(&binds_mu);
	return n;
}

/* Resolve compiled scope paths under the attach cgroup into cgroup ids. */
static int fill_scopes(struct engine *e, int fd, const struct policy_compiled *pc)
{
	engine_scopes_forget(e);
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

		if (policy_scope_is_selector(pc->scopes[i].path))
			continue; /* bound per container: fill_binds() */
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
	return fill_binds(e, fd, pc);
}

/* The inner maps of a generation, sized from the policy. */
static int inners_create(struct engine_apply *a, const struct policy_compiled *pc, size_t nchunks,
			 size_t extra)
{
	struct engine_inner *in = a->in;

	in[0].fd = inner_create(BPF_MAP_TYPE_HASH, "hush_scopes_i", 8,
				sizeof(struct hush_scope_val), (__u32)(pc->nscopes + extra), 0);
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
	for (int i = 0; i < ENGINE_NINNER; i++) {
		if (in[i].fd < 0) {
			log_errno(in[i].fd, "cannot create policy map %s", in[i].outer);
			return in[i].fd;
		}
	}
	return 0;
}

/* The prefixes of both families, in batches. */
static int fill_lpm(struct engine_inner *in, const struct policy_compiled *pc)
{
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
				int ret = -errno;

				log_errno(ret, "cannot fill %s (%zu prefixes)", in[2 + fam].outer,
					  n);
				return ret;
			}
			done += count;
		}
	}
	return 0;
}

static int fill_ptabs(int fd, const struct policy_compiled *pc)
{
	for (__u32 i = 0; i < pc->nptabs; i++) {
		if (bpf_map_update_elem(fd, &i, &pc->ptabs[i], BPF_ANY)) {
			int ret = -errno;

			log_errno(ret, "cannot fill port tables");
			return ret;
		}
	}
	return 0;
}

/* The policy text, in chunks (hush status shows it from the pinned maps). */
static int fill_ptext(int fd, const char *text, size_t tlen, size_t nchunks)
{
	for (__u32 i = 0; i < nchunks; i++) {
		struct hush_ptext_chunk c = {};
		size_t off = (size_t)i * HUSH_PTEXT_CHUNK;

		c.len = (__u32)(tlen - off > HUSH_PTEXT_CHUNK ? HUSH_PTEXT_CHUNK : tlen - off);
		memcpy(c.data, text + off, c.len);
		if (bpf_map_update_elem(fd, &i, &c, BPF_ANY)) {
			int ret = -errno;

			log_errno(ret, "cannot store policy text");
			return ret;
		}
	}
	return 0;
}

/* Each inner map into its idle slot, in a thread of its own (inline if none
 * can be made). */
static void installs_start(struct engine *e, struct engine_apply *a, __u32 next)
{
	struct engine_inner *in = a->in;

	for (int i = 0; i < ENGINE_NINNER; i++) {
		in[i].slot = next;
		in[i].ofd = engine_map_fd(e, in[i].outer);
		if (in[i].ofd < 0) {
			in[i].err = in[i].ofd;
			continue;
		}
		in[i].threaded = pthread_create(&in[i].thr, NULL, install_thread, &in[i]) == 0;
		if (!in[i].threaded)
			install_thread(&in[i]);
	}
}

int engine_apply_start(struct engine *e, const struct policy_compiled *pc, const char *text,
		       uint64_t seq, struct engine_apply *a)
{
	size_t tlen = text ? strlen(text) : 0;
	size_t nchunks = (tlen + HUSH_PTEXT_CHUNK - 1) / HUSH_PTEXT_CHUNK;
	struct engine_inner *in = a->in;
	int ret = 0;

	memset(a, 0, sizeof(*a));
	for (int i = 0; i < ENGINE_NINNER; i++) {
		in[i].fd = -1;
		in[i].outer = outer_maps[i];
	}
	a->nseq = seq + 1;
	ret = sha256(text ? text : "", tlen, a->hash);
	if (ret)
		goto fail;

	/* 1. Fresh inner maps for the idle generation, sized from the policy. */
	/* (binds set meanwhile wait for the next apply: room for 64 more) */
	ret = inners_create(a, pc, nchunks, nbinds(e) + 64);
	if (ret)
		goto fail;

	/* 2. Fill them completely. */
	ret = fill_scopes(e, in[0].fd, pc);
	if (ret) {
		log_errno(ret, "cannot fill policy scopes");
		goto fail;
	}
	ret = fill_lpm(in, pc);
	if (!ret)
		ret = fill_ptabs(in[4].fd, pc);
	if (!ret)
		ret = fill_ptext(in[5].fd, text, tlen, nchunks);
	if (ret)
		goto fail;

	/* 3. Install them in the idle slots (no program looks there yet). */
	installs_start(e, a, HUSH_GEN(a->nseq));
	return 0;
fail:
	engine_apply_finish(e, a, false);
	return ret;
}

int engine_apply_finish(struct engine *e, struct engine_apply *a, bool commit)
{
	int ret = 0;

	for (int i = 0; i < ENGINE_NINNER; i++) {
		struct engine_inner *in = &a->in[i];

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
	for (int i = 0; i < ENGINE_NINNER; i++) {
		if (a->in[i].fd >= 0)
			close(a->in[i].fd);
		a->in[i].fd = -1;
	}
	return ret;
}

static int apply_locked(struct engine *e, const struct policy_compiled *pc, const char *text)
{
	struct engine_apply a;
	int ret;

	ret = engine_apply_start(e, pc, text,
				 __atomic_load_n(&e->cfg->policy_seq, __ATOMIC_ACQUIRE), &a);
	if (ret)
		return ret;
	return engine_apply_finish(e, &a, true);
}

int engine_apply(struct engine *e, const struct policy_compiled *pc, const char *policy_text)
{
	int lock = -1, ret;

	if (e->pin_dir) {
		lock = engine_lock_dir(e->pin_dir);
		if (lock < 0)
			return lock;
	}
	ret = apply_locked(e, pc, policy_text);
	if (lock >= 0)
		close(lock);
	return ret;
}

/*
 * Create the generation arrays that no pinned map provides, ahead of the
 * sock_addr object's load (libbpf creates maps only as part of loading a
 * whole object), so that the policy's installs - each an RCU grace period
 * in the kernel - wait while the programs are verified.  Same definitions
 * as libbpf would use: the map's own and its inner map template's.
 */
int engine_outer_create(struct engine *e)
{
	for (int i = 0; i < ENGINE_NINNER; i++) {
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
int engine_start_seq(struct engine *e, uint64_t *seq)
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
