// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The learned-address map (hush_learn); see engine_learn.h. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent/engine_int.h"
#include "agent/engine_learn.h"
#include "agent/util.h"
#include "bpf/policy_maps.h"

_Static_assert(sizeof(struct hush_learn_key) == 32, "learn key layout");
_Static_assert(sizeof(struct hush_learn_val) == 8, "learn value layout");

static void learn_key(struct hush_learn_key *k, uint64_t lcg, int family, const uint8_t addr[16])
{
	memset(k, 0, sizeof(*k));
	k->cgroup = lcg;
	k->family = family == AF_INET ? 2 : 10; /* HUSH_AF_INET / HUSH_AF_INET6 */
	memcpy(k->addr, addr, family == AF_INET ? 4 : 16);
}

int engine_learn_put(struct engine *e, uint64_t lcg, int family, const uint8_t addr[16],
		     uint64_t expires)
{
	int fd = engine_map_fd(e, "hush_learn");
	struct hush_learn_key k;
	struct hush_learn_val v = {.expires = expires};

	if (fd < 0)
		return fd;
	learn_key(&k, lcg, family, addr);
	return bpf_map_update_elem(fd, &k, &v, BPF_ANY) ? -errno : 0;
}

int engine_learn_del(struct engine *e, uint64_t lcg, int family, const uint8_t addr[16])
{
	int fd = engine_map_fd(e, "hush_learn");
	struct hush_learn_key k;

	if (fd < 0)
		return fd;
	learn_key(&k, lcg, family, addr);
	if (bpf_map_delete_elem(fd, &k) && errno != ENOENT)
		return -errno;
	return 0;
}

long engine_learn_count(struct engine *e)
{
	struct hush_learn_key k, next;
	int fd = engine_map_fd(e, "hush_learn");
	long n = 0;
	void *prev = NULL;

	if (fd < 0)
		return fd;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		n++;
		k = next;
		prev = &k;
	}
	return errno == ENOENT ? n : -errno;
}

int engine_learn_clear(struct engine *e)
{
	struct hush_learn_key k;
	int fd = engine_map_fd(e, "hush_learn");

	if (fd < 0)
		return fd;
	while (bpf_map_get_next_key(fd, NULL, &k) == 0)
		if (bpf_map_delete_elem(fd, &k))
			return -errno;
	return 0;
}

int engine_learn_pinned(const char *pin_dir, struct engine_learned *out)
{
	struct hush_learn_key k, next;
	struct hush_learn_val v;
	struct learncg t;
	const struct learncg_ent *x;
	int64_t now = boot_ns();
	void *prev = NULL;
	int fd, ret = 0;

	memset(out, 0, sizeof(*out));
	fd = engine_pinned_get(pin_dir, "maps", "hush_learn");
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	out->present = true;
	learncg_init(&t, HUSH_LEARN_ENTRIES);
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &v) || (int64_t)v.expires <= now)
			continue; /* gone meanwhile, or expired: the kernel ignores it */
		ret = learncg_put(&t, k.cgroup, k.family == 2 ? AF_INET : AF_INET6, k.addr,
				  (int64_t)v.expires, &x);
		if (ret < 0)
			break;
		ret = 0;
	}
	close(fd);
	out->entries = t.n;
	out->cgroups = learncg_by_cgroup(&t, out->top, ENGINE_LEARNED_TOP);
	out->ntop = out->cgroups < ENGINE_LEARNED_TOP ? out->cgroups : ENGINE_LEARNED_TOP;
	learncg_free(&t);
	return ret;
}
