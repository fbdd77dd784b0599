/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a command run under a policy (hush run, hush test) keeps of root's
 * powers and what it brings along, so that it can neither switch its policy
 * off nor leave it:
 *   - capabilities: by default none of CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON,
 *     CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_MODULE, CAP_SYS_PTRACE and
 *     CAP_SYS_RAWIO in any set (bounding, permitted, effective,
 *     inheritable, ambient); --keep-cap keeps one on purpose; then
 *     PR_SET_NO_NEW_PRIVS (no setuid or file-capability gains).
 *   - --user USER[:GROUP]: the command runs as that user (resolved in the
 *     parent: the child may see other name-service files).
 *   - stdio: a socket of the internet families (or AF_PACKET) made outside
 *     the command's cgroup is not judged by its programs; such an fd 0-2 is
 *     refused unless allowed, and then named.
 * Parent side: parse, check stdio, contain_prepare(); child side (after
 * clone3, before exec; no allocation there): contain_apply().
 */
#ifndef HUSH_AGENT_CONTAIN_H
#define HUSH_AGENT_CONTAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/capability.h>
#include <sys/types.h>

#define CONTAIN_KEEP_MAX   16
#define CONTAIN_GROUPS_MAX 64

struct contain {
	/* --user */
	bool has_user;
	uid_t uid;
	gid_t gid;
	gid_t groups[CONTAIN_GROUPS_MAX];
	int ngroups;
	char user[160]; /* "name:group" as resolved, for reports */
	/* --keep-cap */
	cap_value_t keep[CONTAIN_KEEP_MAX];
	int nkeep;
	/* --allow-inherited-socket */
	bool allow_inherited_socket;
};

/* An inherited socket of fds 0-2, described: "fd 0: tcp 127.0.0.1:5000 ->
 * 127.0.0.1:40000". */
struct contain_socket {
	int fd;
	char desc[200];
};

/* --user USER[:GROUP] (names or numbers).  0, or -EINVAL after saying why. */
int contain_parse_user(struct contain *c, const char *spec);
/* --keep-cap CAP ("CAP_NET_RAW", "net_raw" or a number).  0, or -EINVAL. */
int contain_parse_cap(struct contain *c, const char *name);
/* "CAP_NET_RAW" for the i-th kept capability. */
void contain_cap_name(const struct contain *c, int i, char *buf, size_t len);

/* Inet and packet sockets among fds 0-2 into out (*n of them): 0, or -EPERM
 * after naming them when c does not allow them. */
int contain_check_stdio(const struct contain *c, struct contain_socket out[3], int *n);

/* The child's capability state, computed in the parent (c may be NULL: the
 * defaults).  cap_free() it. */
cap_t contain_prepare(const struct contain *c);
/* Child, before exec: drop, switch user, set caps, no new privileges.
 * Async-signal-safe (system calls only).  0 or -errno. */
int contain_apply(const struct contain *c, cap_t caps);

#endif /* HUSH_AGENT_CONTAIN_H */
