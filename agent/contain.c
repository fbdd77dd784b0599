// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Containment of a command run under a policy: see contain.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/contain.h"
#include "agent/log.h"

/* What would let the command switch its programs off, attach its own, move
 * itself, or reach around the socket hooks. */
static const cap_value_t drop_default[] = {
    CAP_SYS_ADMIN, CAP_BPF,	   CAP_PERFMON,	   CAP_NET_ADMIN,
    CAP_NET_RAW,   CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_SYS_RAWIO,
};
#define NDROP (sizeof(drop_default) / sizeof(drop_default[0]))

static bool kept(const struct contain *c, cap_value_t v)
{
	for (int i = 0; c && i < c->nkeep; i++)
		if (c->keep[i] == v)
			return true;
	return false;
}

/* A name, or a number of at most 10 digits. */
static bool numeric(const char *s, unsigned long *out)
{
	char *end;

	if (!*s || strlen(s) > 10 || !isdigit((unsigned char)*s))
		return false;
	*out = strtoul(s, &end, 10);
	return !*end && *out < (unsigned long)UINT_MAX;
}

int contain_parse_user(struct contain *c, const char *spec)
{
	char u[128], *g;
	struct passwd *pw;
	struct group *gr;
	unsigned long n;

	if (snprintf(u, sizeof(u), "%s", spec) >= (int)sizeof(u) || !u[0] || u[0] == ':') {
		log_warnx("--user %s: need USER[:GROUP]", spec);
		return -EINVAL;
	}
	g = strchr(u, ':');
	if (g)
		*g++ = 0;
	pw = getpwnam(u);
	if (!pw && numeric(u, &n))
		pw = getpwuid((uid_t)n);
	if (pw) {
		c->uid = pw->pw_uid;
		c->gid = pw->pw_gid;
	} else if (numeric(u, &n)) {
		c->uid = (uid_t)n;
		c->gid = (gid_t)n;
	} else {
		log_warnx("--user %s: no user %s", spec, u);
		return -EINVAL;
	}
	if (g && *g) {
		gr = getgrnam(g);
		if (!gr && numeric(g, &n))
			gr = getgrgid((gid_t)n);
		if (gr)
			c->gid = gr->gr_gid;
		else if (numeric(g, &n))
			c->gid = (gid_t)n;
		else {
			log_warnx("--user %s: no group %s", spec, g);
			return -EINVAL;
		}
	}
	/* Supplementary groups: the user's own unless a group was given. */
	c->ngroups = 1;
	c->groups[0] = c->gid;
	if (pw && !(g && *g)) {
		c->ngroups = CONTAIN_GROUPS_MAX;
		if (getgrouplist(pw->pw_name, c->gid, c->groups, &c->ngroups) < 0) {
			log_warnx("--user %s: more than %d groups", spec, CONTAIN_GROUPS_MAX);
			return -EINVAL;
		}
	}
	gr = getgrgid(c->gid);
	if (pw && gr)
		snprintf(c->user, sizeof(c->user), "%s:%s", pw->pw_name, gr->gr_name);
	else
		snprintf(c->user, sizeof(c->user), "%u:%u", (unsigned)c->uid, (unsigned)c->gid);
	c->has_user = true;
	return 0;
}

int contain_parse_cap(struct contain *c, const char *name)
{
	char low[64], full[sizeof(low) + 4];
	cap_value_t v = -1;
	size_t i;

	for (i = 0; name[i] && i + 1 < sizeof(low); i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[i] = 0;
	snprintf(full, sizeof(full), "cap_%s", low);
	if (name[i] || (cap_from_name(low, &v) && cap_from_name(full, &v)))
		v = -1;
	if (v < 0 || v > CAP_LAST_CAP) {
		log_warnx("--keep-cap %s: no such capability (see capabilities(7))", name);
		return -EINVAL;
	}
	if (kept(c, v))
		return 0;
	if (c->nkeep >= CONTAIN_KEEP_MAX) {
		log_warnx("--keep-cap %s: at most %d", name, CONTAIN_KEEP_MAX);
		return -EINVAL;
	}
	c->keep[c->nkeep++] = v;
	return 0;
}

void contain_cap_name(const struct contain *c, int i, char *buf, size_t len)
{
	char *n = cap_to_name(c->keep[i]);
	size_t k;

	snprintf(buf, len, "%s", n ? n : "?");
	cap_free(n);
	for (k = 0; buf[k]; k++)
		buf[k] = (char)toupper((unsigned char)buf[k]);
}

/* ---- inherited sockets ---- */

static void addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s->sin6_port));
	} else {
		snprintf(buf, len, "(family %d)", ss->ss_family);
	}
}

/* fd is an inet or packet socket: 1 and a description, else 0. */
static int describe_socket(int fd, char *buf, size_t len)
{
	struct sockaddr_storage local = {0}, peer = {0};
	socklen_t sl = sizeof(int), al;
	int dom = 0, type = 0;
	char ls[80], ps[80];
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &sl) < 0)
		return 0;
	if (dom != AF_INET && dom != AF_INET6 && dom != AF_PACKET)
		return 0; /* Unix sockets and the like stay on this host */
	sl = sizeof(type);
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl);
	if (dom == AF_PACKET) {
		snprintf(buf, len, "fd %d: a packet socket", fd);
		return 1;
	}
	al = sizeof(local);
	if (getsockname(fd, (struct sockaddr *)&local, &al) < 0)
		local.ss_family = (sa_family_t)dom;
	addr_str(&local, ls, sizeof(ls));
	al = sizeof(peer);
	if (getpeername(fd, (struct sockaddr *)&peer, &al) == 0)
		addr_str(&peer, ps, sizeof(ps));
	else
		snprintf(ps, sizeof(ps), "no peer");
	snprintf(buf, len, "fd %d: %s%s %s -> %s", fd,
		 type == SOCK_STREAM  ? "tcp"
		 : type == SOCK_DGRAM ? "udp"
				      : "raw",
		 dom == AF_INET6 ? "6" : "", ls, ps);
	return 1;
}

int contain_check_stdio(const struct contain *c, struct contain_socket out[3], int *n)
{
	int ret = 0;

	*n = 0;
	for (int fd = 0; fd <= 2; fd++) {
		struct contain_socket *s = &out[*n];

		if (!describe_socket(fd, s->desc, sizeof(s->desc)))
			continue;
		s->fd = fd;
		(*n)++;
		if (c && c->allow_inherited_socket) {
			log_warnx(
			    "%s: inherited by the command (--allow-inherited-socket); what is "
			    "sent on it is not judged by the policy",
			    s->desc);
			continue;
		}
		log_warnx(
		    "%s: a socket made outside the command's cgroup, so what is sent on it "
		    "is not judged by the policy; refusing to start (--allow-inherited-socket "
		    "lets it through and names it in the report)",
		    s->desc);
		ret = -EPERM;
	}
	return ret;
}

/* ---- capabilities ---- */

cap_t contain_prepare(const struct contain *c)
{
	bool root = !c || !c->has_user || c->uid == 0;
	cap_value_t drop[NDROP];
	int nd = 0;
	cap_t caps;

	for (size_t i = 0; i < NDROP; i++)
		if (!kept(c, drop_default[i]))
			drop[nd++] = drop_default[i];
	if (root) {
		/* Root keeps what it has but the dropped ones. */
		caps = cap_get_proc();
		if (caps && nd &&
		    (cap_set_flag(caps, CAP_PERMITTED, nd, drop, CAP_CLEAR) ||
		     cap_set_flag(caps, CAP_EFFECTIVE, nd, drop, CAP_CLEAR) ||
		     cap_set_flag(caps, CAP_INHERITABLE, nd, drop, CAP_CLEAR))) {
			cap_free(caps);
			return NULL;
		}
		return caps;
	}
	/* Another user gets only what is kept (ambient: it survives exec). */
	caps = cap_init();
	if (caps && c->nkeep &&
	    (cap_set_flag(caps, CAP_PERMITTED, c->nkeep, c->keep, CAP_SET) ||
	     cap_set_flag(caps, CAP_EFFECTIVE, c->nkeep, c->keep, CAP_SET) ||
	     cap_set_flag(caps, CAP_INHERITABLE, c->nkeep, c->keep, CAP_SET))) {
		cap_free(caps);
		return NULL;
	}
	return caps;
}

int contain_apply(const struct contain *c, cap_t caps)
{
	bool other = c && c->has_user && c->uid != 0;

	/* 1. Out of the bounding set: no exec (a setuid-root one neither)
	 *    brings them back. */
	for (size_t i = 0; i < NDROP; i++)
		if (!kept(c, drop_default[i]) && cap_drop_bound(drop_default[i]) && errno != EINVAL)
			return -errno;
	/* Another user: nothing but what is kept, the bounding set too. */
	for (cap_value_t v = 0; other && v < (cap_value_t)cap_max_bits(); v++)
		if (!kept(c, v) && cap_drop_bound(v) && errno != EINVAL)
			return -errno;
	/* 2. The user, keeping the permitted set across setuid for step 3.
	 *    System calls, not glibc's setuid() and friends: those signal every
	 *    thread of the parent (which are not here) and wait for them. */
	if (c && c->has_user &&
	    (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) ||
	     syscall(SYS_setgroups, (size_t)c->ngroups, c->groups) ||
	     syscall(SYS_setresgid, c->gid, c->gid, c->gid) ||
	     syscall(SYS_setresuid, c->uid, c->uid, c->uid)))
		return -errno;
	/* 3. Permitted, effective, inheritable; then ambient: none for root,
	 *    the kept ones for another user. */
	if (cap_set_proc(caps))
		return -errno;
	if (cap_reset_ambient() && errno != EINVAL)
		return -errno;
	for (int i = 0; other && i < c->nkeep; i++)
		if (cap_set_ambient(c->keep[i], CAP_SET))
			return -errno;
	/* 4. Nothing executed later gains privileges. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}
