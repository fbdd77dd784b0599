// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The DNS proxy's namespace helper; see dnsns.h.  The helper process (the
 * hello, scan, open, send; the per-connection listener), then the proxy's
 * side (fork or connect, poke, stop).
 */

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/dnsns.h"
#include "agent/dnsproxy_int.h"
#include "agent/log.h"
#include "agent/util.h"

struct dnsns {
	pid_t pid;
	int fd;
};

/* ---- the helper process ---- */

struct hns {
	bool used;
	uint64_t dev, ino;
	uint16_t port[HUSH_DNS_SLOTS];
	uint32_t seen;	 /* scan number that last saw it */
	int64_t seen_ns; /* and when */
};

static struct {
	int sock, home, inot;
	uint64_t hdev, hino;
	bool ready;
	uint16_t hport[HUSH_DNS_SLOTS];
	struct hns ns[HUSH_DNS_NS_MAX];
	uint32_t scan;
	char path[PATH_MAX];
} H;

static bool port_taken(uint16_t port)
{
	for (int i = 0; i < HUSH_DNS_SLOTS; i++)
		if (H.hport[i] == port)
			return true;
	for (int k = 0; k < HUSH_DNS_NS_MAX; k++)
		for (int i = 0; H.ns[k].used && i < HUSH_DNS_SLOTS; i++)
			if (H.ns[k].port[i] == port)
				return true;
	return false;
}

static uint16_t fd_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &l))
		return 0;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* A listener in the current namespace on a port no other set has. */
static int open_unique(int family, int type)
{
	for (int t = 0; t < 16; t++) {
		int fd = dnsproxy_open_sock(family, type, true, 0);

		if (fd < 0 || !port_taken(fd_port(fd)))
			return fd;
		close(fd);
	}
	return -EADDRINUSE;
}

static void send_add(struct dnsns_msg *m, const int fds[HUSH_DNS_SLOTS])
{
	char cbuf[CMSG_SPACE(sizeof(int) * HUSH_DNS_SLOTS)] = {0};
	struct iovec iov = {m, sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;
	int n = 0, pass[HUSH_DNS_SLOTS] = {-1, -1, -1, -1};

	for (int i = 0; i < HUSH_DNS_SLOTS; i++)
		if (fds[i] >= 0)
			pass[n++] = fds[i];
	mh.msg_control = cbuf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
	memcpy(CMSG_DATA(c), pass, sizeof(int) * (size_t)n);
	if (sendmsg(H.sock, &mh, MSG_NOSIGNAL) < 0)
		_exit(0); /* the proxy is gone */
}

/* Open a set in pid's namespace (dev, ino) and hand it to the proxy. */
static void open_set(int pid, uint64_t dev, uint64_t ino)
{
	static const int fam[HUSH_DNS_SLOTS] = {AF_INET, AF_INET, AF_INET6, AF_INET6};
	static const int typ[HUSH_DNS_SLOTS] = {SOCK_DGRAM, SOCK_STREAM, SOCK_DGRAM, SOCK_STREAM};
	struct dnsns_msg m = {.op = DNSNS_ADD, .pid = pid, .dev = dev, .ino = ino};
	int fds[HUSH_DNS_SLOTS], nsfd, k;
	char p[64];

	for (k = 0; k < HUSH_DNS_NS_MAX && H.ns[k].used; k++)
		;
	if (k == HUSH_DNS_NS_MAX)
		return; /* full: the proxy says so when the redirect asks */
	snprintf(p, sizeof(p), "/proc/%d/ns/net", pid);
	nsfd = open(p, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return; /* gone already */
	if (setns(nsfd, CLONE_NEWNET)) {
		log_warn("dns: cannot enter the network namespace of pid %d (net:[%llu]): its DNS "
			 "fails closed",
			 pid, (unsigned long long)ino);
		close(nsfd);
		return;
	}
	close(nsfd);
	for (int i = 0; i < HUSH_DNS_SLOTS; i++) {
		fds[i] = open_unique(fam[i], typ[i]);
		if (fds[i] < 0)
			fds[i] = -1;
		else
			m.mask |= (uint8_t)(1u << i);
		m.port[i] = fds[i] >= 0 ? fd_port(fds[i]) : 0;
	}
	if (setns(H.home, CLONE_NEWNET))
		_exit(1); /* never open anything in the wrong namespace */
	snprintf(p, sizeof(p), "/proc/%d/comm", pid);
	nsfd = open(p, O_RDONLY | O_CLOEXEC);
	if (nsfd >= 0) {
		ssize_t n = read(nsfd, m.comm, sizeof(m.comm) - 1);

		if (n > 0 && m.comm[n - 1] == '\n')
			m.comm[n - 1] = 0;
		close(nsfd);
	}
	if (fds[HUSH_DNS_UDP4] >= 0) {
		send_add(&m, fds);
		H.ns[k] = (struct hns){
		    .used = true, .dev = dev, .ino = ino, .seen = H.scan, .seen_ns = mono_ns()};
		memcpy(H.ns[k].port, m.port, sizeof(m.port));
	} else {
		log_warnx("dns: cannot listen on 127.0.0.1 in the network namespace of pid %d "
			  "(net:[%llu]): its DNS fails closed",
			  pid, (unsigned long long)ino);
	}
	for (int i = 0; i < HUSH_DNS_SLOTS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void saw_pid(int pid)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/%d/ns/net", pid);
	if (stat(p, &st))
		return;
	if ((uint64_t)st.st_dev == H.hdev && (uint64_t)st.st_ino == H.hino)
		return;
	for (int k = 0; k < HUSH_DNS_NS_MAX; k++)
		if (H.ns[k].used && H.ns[k].dev == (uint64_t)st.st_dev &&
		    H.ns[k].ino == (uint64_t)st.st_ino) {
			H.ns[k].seen = H.scan;
			H.ns[k].seen_ns = mono_ns();
			return;
		}
	open_set(pid, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
}

/* Every process of the cgroup at H.path (len bytes used) and below. */
static void walk(size_t len, int depth)
{
	DIR *d;
	FILE *f;
	struct dirent *de;
	int pid;

	if (depth > HUSH_MAX_CGROUP_DEPTH ||
	    snprintf(H.path + len, sizeof(H.path) - len, "/cgroup.procs") >=
		(int)(sizeof(H.path) - len))
		return;
	/* A new cgroup below, or this one's first process (cgroup.events
	 * changes: "populated"), makes the helper look at once: a container's
	 * init waits in its namespace before the entrypoint runs. */
	if (H.inot >= 0) {
		memcpy(H.path + len, "/cgroup.events", sizeof("/cgroup.events"));
		inotify_add_watch(H.inot, H.path, IN_MODIFY);
		H.path[len] = 0;
		inotify_add_watch(H.inot, H.path, IN_CREATE | IN_ONLYDIR);
		memcpy(H.path + len, "/cgroup.procs", sizeof("/cgroup.procs"));
	}
	f = fopen(H.path, "re");
	H.path[len] = 0;
	if (f) {
		while (fscanf(f, "%d", &pid) == 1)
			saw_pid(pid);
		fclose(f);
	}
	d = opendir(H.path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t n;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		n = strlen(de->d_name);
		if (len + 1 + n + 16 >= sizeof(H.path))
			continue;
		H.path[len] = '/';
		memcpy(H.path + len + 1, de->d_name, n + 1);
		walk(len + 1 + n, depth + 1);
		H.path[len] = 0;
	}
	closedir(d);
}

/* A scan; returns when the next must come at the latest for a namespace
 * unseen now to be reported gone on time (INT64_MAX: none such). */
static int64_t scan(size_t len)
{
	int64_t due = INT64_MAX, now;

	H.scan++;
	walk(len, 0);
	now = mono_ns();
	for (int k = 0; k < HUSH_DNS_NS_MAX; k++) {
		struct dnsns_msg m = {.op = DNSNS_GONE};
		int64_t at = H.ns[k].seen_ns + (int64_t)DNSNS_GONE_MS * 1000000;

		/* Unseen for two scans and DNSNS_GONE_MS: gone (scans come
		 * faster than that when cgroups change: a runtime's processes
		 * in passage are not taken for an empty namespace). */
		if (H.ns[k].used && H.ns[k].seen != H.scan && now < at && at < due)
			due = at;
		if (!H.ns[k].used || H.scan - H.ns[k].seen < 2 || now < at)
			continue;
		m.dev = H.ns[k].dev;
		m.ino = H.ns[k].ino;
		if (send(H.sock, &m, sizeof(m), MSG_NOSIGNAL) < 0)
			_exit(0);
		H.ns[k].used = false;
	}
	return due;
}

/* Requests from the proxy; false once it is gone. */
static bool serve(bool *now)
{
	struct dnsns_msg m;
	ssize_t n;

	while ((n = recv(H.sock, &m, sizeof(m), MSG_DONTWAIT)) == (ssize_t)sizeof(m)) {
		if (m.op == DNSNS_PORTS) {
			memcpy(H.hport, m.port, sizeof(H.hport));
			H.ready = *now = true;
		} else if (m.op == DNSNS_SCAN) {
			*now = true;
		} else if (m.op == DNSNS_REJECT) {
			for (int k = 0; k < HUSH_DNS_NS_MAX; k++)
				if (H.ns[k].used && H.ns[k].dev == m.dev && H.ns[k].ino == m.ino)
					H.ns[k].used = false;
		}
	}
	return !(n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK));
}

/* Keep only what the helper needs (of what it has: a service manager may
 * have bounded some away): entering namespaces, reading other users'
 * /proc/PID/ns and cgroup files. */
static void helper_caps(void)
{
	static const cap_value_t want[] = {CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH};
	cap_value_t keep[3];
	cap_t caps = cap_get_proc();
	cap_flag_value_t v;
	bool extra = false;
	int n = 0;

	if (!caps)
		return;
	for (int i = 0; i < 3; i++)
		if (cap_get_flag(caps, want[i], CAP_PERMITTED, &v) == 0 && v == CAP_SET)
			keep[n++] = want[i];
	/* Nothing else (systemd gave just these): no capset(2), which
	 * hush-dnsns@.service's system call filter does not allow. */
	for (cap_value_t c = 0; c <= CAP_LAST_CAP && !extra; c++)
		extra = cap_get_flag(caps, c, CAP_PERMITTED, &v) == 0 && v == CAP_SET &&
			c != CAP_SYS_ADMIN && c != CAP_SYS_PTRACE && c != CAP_DAC_READ_SEARCH;
	if (!extra) {
		cap_free(caps);
		return;
	}
	if (cap_clear(caps) ||
	    (n && (cap_set_flag(caps, CAP_PERMITTED, n, keep, CAP_SET) ||
		   cap_set_flag(caps, CAP_EFFECTIVE, n, keep, CAP_SET))) ||
	    cap_set_proc(caps))
		log_warn("dns: namespace helper keeps its capabilities");
	cap_free(caps);
}

/* The other end may be root, or ourselves (forked: the same uid). */
static int peer_ok(int fd, const char *who)
{
	struct ucred uc;
	socklen_t l = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l))
		return -errno;
	if (uc.uid == 0 || uc.uid == getuid())
		return 0;
	log_warnx("dns: %s is uid %u (pid %d), not root: refused", who, (unsigned)uc.uid,
		  (int)uc.pid);
	return -EPERM;
}

/* The proxy's first message: the subtree, and its network namespace (fd),
 * the helper's home.  Both ways of starting the helper send it. */
static int send_hello(int fd, const char *cgroup, int home_netns_fd)
{
	struct dnsns_hello m = {.op = DNSNS_HELLO};
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {&m, sizeof(m)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	int home = home_netns_fd > 0 ? home_netns_fd
				     : open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int ret = 0;

	if (home < 0)
		return -errno;
	memcpy(m.magic, DNSNS_MAGIC, sizeof(DNSNS_MAGIC));
	if (snprintf(m.cgroup, sizeof(m.cgroup), "%s", cgroup) >= (int)sizeof(m.cgroup))
		ret = -ENAMETOOLONG;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &home, sizeof(int));
	if (!ret && sendmsg(fd, &mh, MSG_NOSIGNAL) != (ssize_t)sizeof(m))
		ret = -errno;
	if (home != home_netns_fd)
		close(home);
	return ret;
}

/* The helper's side of the hello: H.path, H.home, H.hdev/H.hino set;
 * the path's length, or 0 after saying why not. */
static size_t recv_hello(void)
{
	static struct dnsns_hello m;
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = {&m, sizeof(m)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	struct stat st;
	ssize_t r = recvmsg(H.sock, &mh, MSG_CMSG_CLOEXEC);
	size_t len;

	H.home = -1;
	for (c = CMSG_FIRSTHDR(&mh); r > 0 && c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && H.home < 0 &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(&H.home, CMSG_DATA(c), sizeof(int));
	len = r == (ssize_t)sizeof(m) ? strnlen(m.cgroup, sizeof(m.cgroup)) : 0;
	if (r != (ssize_t)sizeof(m) || m.op != DNSNS_HELLO ||
	    memcmp(m.magic, DNSNS_MAGIC, sizeof(DNSNS_MAGIC)) || H.home < 0 ||
	    len >= sizeof(H.path) - 32 || m.cgroup[0] != '/' || strstr(m.cgroup, "/..")) {
		log_warnx("dns: namespace helper: the first message is not a hello of this version "
			  "(%s %s): is hushd of the same package?",
			  DNSNS_MAGIC, r < 0 ? strerror(errno) : "");
		return 0;
	}
	/* Home: where the proxy's own listeners are, where the helper opens
	 * nothing and to where it returns after each setns. */
	if (setns(H.home, CLONE_NEWNET) || fstat(H.home, &st)) {
		log_warn("dns: namespace helper: cannot enter the proxy's network namespace");
		return 0;
	}
	H.hdev = (uint64_t)st.st_dev;
	H.hino = (uint64_t)st.st_ino;
	memcpy(H.path, m.cgroup, len + 1);
	while (len > 1 && H.path[len - 1] == '/')
		H.path[--len] = 0;
	return len;
}

/* Wait for inotify, the proxy, or the next scan; scan. */
static void helper_loop(size_t len)
{
	int64_t next = 0, last = 0;
	int burst = 0;

	for (;;) {
		struct pollfd pf[2] = {{.fd = H.sock, .events = POLLIN},
				       {.fd = H.ready ? H.inot : -1, .events = POLLIN}};
		int64_t now = mono_ns();
		bool scan_now = false;
		int wait = next > now ? (int)((next - now) / 1000000) + 1 : 0;

		if (poll(pf, 2, H.ready ? wait : -1) < 0 && errno != EINTR)
			_exit(1);
		if ((pf[0].revents & (POLLIN | POLLHUP | POLLERR)) && !serve(&scan_now))
			_exit(0);
		if (pf[1].revents & POLLIN) {
			char ev[4096];

			while (read(H.inot, ev, sizeof(ev)) > 0)
				;
			/* At most one scan per DNSNS_GAP_MS for a storm of them;
			 * then a few more: a runtime moves its first process into
			 * the cgroup before the one that enters the container's
			 * namespace exists. */
			if (mono_ns() - last >= (int64_t)DNSNS_GAP_MS * 1000000)
				scan_now = true;
			else if (next > last + (int64_t)DNSNS_GAP_MS * 1000000)
				next = last + (int64_t)DNSNS_GAP_MS * 1000000;
			burst = DNSNS_BURST;
		}
		if (H.ready && (scan_now || mono_ns() >= next)) {
			int64_t due = scan(len);

			last = mono_ns();
			next = last +
			       (int64_t)(burst > 0 ? DNSNS_GAP_MS * 2 : DNSNS_SCAN_MS) * 1000000;
			if (due < next)
				next = due;
			if (burst > 0)
				burst--;
		}
	}
}

static void helper_main(int sock)
{
	size_t len;

	if (sock != 3 && dup2(sock, 3) < 0)
		_exit(1);
	/* Nothing of the parent's (least of all a proxy socket) stays open;
	 * stdin was the connection under systemd. */
	closefrom(4);
	if (sock == 0) {
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (nul < 0 || dup2(nul, 0) < 0)
			close(0);
		if (nul > 0)
			close(nul);
	}
	H.sock = 3;
	prctl(PR_SET_NAME, "hush-dnsns");
	signal(SIGPIPE, SIG_IGN);
	if (peer_ok(H.sock, "the proxy"))
		_exit(1);
	len = recv_hello();
	if (!len)
		_exit(1);
	H.inot = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	helper_caps();
	helper_loop(len);
}

/* ---- the proxy's side ---- */

static int proxy_end(struct dnsns *h, int fd, const char *cgroup, int home_netns_fd)
{
	int ret;

	h->fd = fd;
	ret = send_hello(fd, cgroup, home_netns_fd);
	if (!ret && fcntl(h->fd, F_SETFL, O_NONBLOCK))
		ret = -errno;
	return ret;
}

int dnsns_start(const char *cgroup, int home_netns_fd, struct dnsns **out)
{
	struct dnsns *h;
	int sv[2], ret;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		ret = -errno;
		free(h);
		return ret;
	}
	h->pid = fork();
	if (h->pid < 0) {
		ret = -errno;
		close(sv[0]);
		close(sv[1]);
		free(h);
		return ret;
	}
	if (h->pid == 0) {
		close(sv[0]);
		helper_main(sv[1]);
		_exit(0);
	}
	close(sv[1]);
	ret = proxy_end(h, sv[0], cgroup, home_netns_fd);
	if (ret) {
		dnsns_stop(h);
		return ret;
	}
	*out = h;
	return 0;
}

int dnsns_connect(const char *path, const char *cgroup, struct dnsns **out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct dnsns *h;
	int fd, ret;

	*out = NULL;
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >= (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fd = -1;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		free(h);
		return ret;
	}
	/* Who listens there must be root (systemd): else a listener someone
	 * else made could be handed our namespace. */
	ret = peer_ok(fd, "the namespace helper's socket");
	if (ret)
		h->fd = fd;
	else
		ret = proxy_end(h, fd, cgroup, -1);
	if (ret) {
		dnsns_stop(h);
		return ret;
	}
	*out = h;
	return 0;
}

int dnsns_serve(int fd)
{
	helper_main(fd);
	return 1;
}

int dnsns_listen(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >= (int)sizeof(sa.sun_path)) {
		log_warnx("dns: namespace helper: socket path %s is too long", path);
		return 2;
	}
	/* A socket left by an earlier one goes; anything else stays. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	umask(0077);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 8)) {
		log_warn("dns: namespace helper: cannot listen on %s", path);
		return 1;
	}
	signal(SIGCHLD, SIG_IGN); /* its helpers reap themselves */
	log_info("dns: namespace helper listening on %s (one helper per connection)", path);
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		pid_t pid;

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			log_warn("dns: namespace helper: accept on %s", path);
			return 1;
		}
		pid = fork();
		if (pid == 0) {
			close(fd);
			helper_main(c);
			_exit(1);
		}
		if (pid < 0)
			log_warn("dns: namespace helper: cannot fork for a connection");
		close(c);
	}
}

int dnsns_fd(const struct dnsns *h)
{
	return h ? h->fd : -1;
}

void dnsns_home_ports(struct dnsns *h, const uint16_t port[HUSH_DNS_SLOTS])
{
	struct dnsns_msg m = {.op = DNSNS_PORTS};

	if (!h)
		return;
	memcpy(m.port, port, sizeof(m.port));
	if (send(h->fd, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_warn("dns: cannot reach the namespace helper: only the proxy's own network "
			 "namespace is served");
}

void dnsns_poke(struct dnsns *h)
{
	struct dnsns_msg m = {.op = DNSNS_SCAN};

	if (h)
		(void)!send(h->fd, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
}

void dnsns_hangup(struct dnsns *h)
{
	if (h && h->fd >= 0) {
		close(h->fd);
		h->fd = -1;
	}
}

void dnsns_stop(struct dnsns *h)
{
	struct pollfd pfd;

	if (!h)
		return;
	dnsns_hangup(h);
	if (h->pid <= 0) { /* connected: systemd's to reap */
		free(h);
		return;
	}
	/* It exits at the socket's end: woken by its exit (a pidfd), not by
	 * a 10 ms poll, which added up to 20 ms to every run's end. */
	pfd.fd = (int)syscall(SYS_pidfd_open, h->pid, 0);
	if (pfd.fd >= 0) {
		pfd.events = POLLIN;
		(void)!poll(&pfd, 1, 1000);
		close(pfd.fd);
	}
	/* Ours unless hushd forked into the background since: then init
	 * reaps it (it exits at the socket's end). */
	for (int i = 0; i < 100; i++) {
		pid_t r = waitpid(h->pid, NULL, WNOHANG);

		if (r == h->pid || (r < 0 && errno == ECHILD))
			break;
		usleep(10000);
		if (i == 99 && waitpid(h->pid, NULL, WNOHANG) == 0) {
			kill(h->pid, SIGKILL);
			waitpid(h->pid, NULL, 0);
		}
	}
	free(h);
}
