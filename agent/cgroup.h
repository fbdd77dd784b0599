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

/*
 * Only root may move processes below dir: walk from the cgroup2 root down to
 * dir (a resolved cgroup2 directory) and check that every directory and its
 * cgroup.procs and cgroup.threads are owned by root and not group- or
 * other-writable.  cgroup2 lets whoever may write an ancestor's cgroup.procs
 * move processes between its descendants, so a cgroup made below such a
 * directory can be left by its owner's processes.  0, or -EPERM with the
 * first offender ("PATH (owner uid U NAME, mode 0775)") in why.
 */
int cgroup_check_root_only(const char *dir, char *why, size_t len);
/* 1 if the cgroup2 hierarchy is mounted with nsdelegate (cgroup namespaces
 * are delegation boundaries: no move across one), else 0. */
int cgroup_nsdelegate(void);

/* Path of the cgroup with this id, relative to the cgroup2 mount ("/a/b"),
 * in O(1) through a kernfs file handle (needs CAP_DAC_READ_SEARCH). */
int cgroup_path_by_handle(uint64_t id, char *buf, size_t len);

/* "populated 1" in PATH/cgroup.events: 1, 0 (also: PATH gone), or -errno. */
int cgroup_populated(const char *path);

#endif /* HUSH_AGENT_CGROUP_H */
