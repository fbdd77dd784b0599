/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* cgroup v2 helpers: find the mount, ids, create/kill/remove. */
#ifndef HUSH_AGENT_CGROUP_H
#define HUSH_AGENT_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The cgroup2 mount point from /proc/mounts (hybrid systems mount it at
 * .../unified).  Returns 0 and fills buf, or -ENOENT. */
int cgroup_find_mount(char *buf, size_t len);
/* cgroup id (kernfs inode number) of a cgroup directory. */
int cgroup_id_of(const char *path, uint64_t *id);
/* Absolute path of this process's cgroup2 cgroup. */
int cgroup_self_path(char *buf, size_t len);
/* 1 if path is the root of the cgroup2 hierarchy. */
int cgroup_is_root(const char *path);
/* Kill every process in the cgroup (cgroup.kill), wait until it is empty
 * (up to timeout_ms), then remove it and every empty child below it. */
int cgroup_destroy(const char *path, int timeout_ms);
/* Realpath of a cgroup2 directory, checked to be on cgroup2. */
int cgroup_resolve(const char *in, char *out, size_t len);

/* Path of the cgroup with this id, relative to the cgroup2 mount ("/a/b"),
 * in O(1) through a kernfs file handle (needs CAP_DAC_READ_SEARCH). */
int cgroup_path_by_handle(uint64_t id, char *buf, size_t len);

#endif /* HUSH_AGENT_CGROUP_H */
