// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Engine: pinned state, read (hush status, hush policy) and removed (hush
 * disable) from pin_dir alone - no running hushd, no engine needed.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/engine_int.h"
#include "agent/log.h"
#include "agent/util.h"

int engine_pinned_read(const char *pin_dir, struct engine_pinned *st)
{
	struct hush_cfg cfg;
	__u32 zero = 0;
	int fd, ret;

	memset(st, 0, sizeof(*st));
	fd = engine_pinned_get(pin_dir, "maps", "hush_cfg");
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

		st->exec_tracking = engine_pin_path(p, sizeof(p), pin_dir, "links", "exec") == 0 &&
				    access(p, F_OK) == 0;
	}
	st->policy_seq = cfg.policy_seq;
	st->log_allowed = cfg.log_allowed;
	memcpy(st->policy_hash, cfg.policy_hash, 32);
	memcpy(st->dns_port, cfg.dns_port, sizeof(st->dns_port));
	st->dns_tgid = cfg.dns_tgid;
	fd = engine_pinned_get(pin_dir, "maps", "hush_dnssk");
	if (fd >= 0) {
		for (uint32_t i = 0; i < HUSH_DNS_SLOTS; i++) {
			uint64_t v;

			st->dns_open[i] = bpf_map_lookup_elem(fd, &i, &v) == 0;
		}
		close(fd);
	}

	fd = engine_pinned_get(pin_dir, "maps", "hush_counters");
	if (fd >= 0) {
		engine_read_counters(fd, st->counters);
		close(fd);
	}
	fd = engine_pinned_get(pin_dir, "maps", "hush_evseq");
	if (fd >= 0) {
		engine_read_counters(fd, st->reported);
		close(fd);
	}
	for (int l = 0; l < ENGINE_LINK_MAX; l++) {
		struct bpf_prog_info pi = {};
		__u32 len = sizeof(pi);
		int pfd;

		fd = engine_pinned_get(pin_dir, "links", engine_link_names[l]);
		if (fd < 0)
			continue;
		if (engine_link_cgroup(fd, &st->links[l].cgroup_id, &st->links[l].prog_id) == 0) {
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
	cfd = engine_pinned_get(pin_dir, "maps", "hush_cfg");
	if (cfd < 0)
		return cfd;
	if (bpf_map_lookup_elem(cfd, &zero, &cfg)) {
		ret = -errno;
		goto out;
	}
	gen = HUSH_GEN(cfg.policy_seq);
	ofd = engine_pinned_get(pin_dir, "maps", "hush_ptext");
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
		if (GROW(buf, cap, len + c.len + 1, 2 * (HUSH_PTEXT_CHUNK + 1)) < 0) {
			ret = -ENOMEM;
			goto out;
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

	lock = engine_lock_dir(pin_dir);
	if (lock < 0)
		return lock == -ENOENT ? 0 : lock;
	for (int l = 0; l < ENGINE_LINK_MAX; l++) {
		char p[PATH_MAX];
		int fd;

		if (engine_pin_path(p, sizeof(p), pin_dir, "links", engine_link_names[l]))
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
	for (size_t i = 0; i <= engine_nshared; i++) {
		const char *name = i < engine_nshared ? engine_shared_maps[i] : "hush_procs";
		char p[PATH_MAX];

		if (engine_pin_path(p, sizeof(p), pin_dir, "maps", name))
			continue;
		if (unlink(p) < 0 && errno != ENOENT && !ret)
			ret = -errno;
	}
	{
		char p[PATH_MAX];

		if (engine_pin_path(p, sizeof(p), pin_dir, "links", "exec") == 0 && unlink(p) < 0 &&
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
