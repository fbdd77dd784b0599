/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The DNS proxy's namespace helper: a small process that finds the network
 * namespaces used by the processes of a cgroup subtree and opens the
 * proxy's listeners inside each one (setns(2) needs CAP_SYS_ADMIN, which
 * the proxy's process does not keep).  It sends the sockets over a unix
 * SOCK_SEQPACKET connection (SCM_RIGHTS) and keeps no copy: only the proxy
 * holds them, so when the proxy dies every namespace fails closed at once.
 *
 * Two ways to start it, one protocol (the proxy's first message is a
 * DNSNS_HELLO: the subtree's path, and the proxy's network namespace as an
 * fd, where the helper returns after each setns):
 *   - dnsns_start(): forked while the caller still has CAP_SYS_ADMIN, over
 *     a socket pair (hushd by hand, `hush run`, `hush test`);
 *   - dnsns_connect(): a helper systemd starts for each connection to a
 *     socket (packaging/hush-dnsns.socket, Accept=yes, `hushd
 *     --dnsns-helper` on the connection, dnsns_serve()), so that hushd's
 *     own unit needs neither CAP_SYS_ADMIN nor any namespace type; or
 *     `hushd --dnsns-listen PATH` (dnsns_listen(): a fork per connection)
 *     where there is no systemd, such as a pod's second container.
 * Each end checks the other's SO_PEERCRED: root (or, forked, its own uid).
 *
 *   - scans the subtree at once when a cgroup appears in it or one gets
 *     its first process or loses its last (inotify on the directories and
 *     their cgroup.events: a container's init sits in its namespace and
 *     cgroup before its entrypoint runs, so the container is served before
 *     its first query), when the proxy asks (its redirect failed a query
 *     closed in a namespace not served: a process that entered a new
 *     namespace without changing cgroup, `unshare -n` in place), and every
 *     DNSNS_SCAN_MS as a backstop;
 *   - a namespace with no process of the subtree for two scans in a row is
 *     reported gone; the proxy closes its listeners there;
 *   - the proxy's home namespace is never reported (its own listeners).
 *
 * Listener ports: any the kernel picks, but never one of another set's
 * (home included), so a (proxy port, client port) pair names one client
 * across namespaces (see bpf/dns_redirect.h).
 */
#ifndef HUSH_AGENT_DNSNS_H
#define HUSH_AGENT_DNSNS_H

#include <stdint.h>

#include <linux/types.h>

#include "bpf/dns_redirect.h"

#define DNSNS_SCAN_MS 2000 /* the backstop rescan */
#define DNSNS_GONE_MS 250  /* unseen this long (and two scans): gone */
#define DNSNS_GAP_MS  5	   /* least time between two scans */
#define DNSNS_BURST   20   /* scans DNSNS_GAP_MS * 2 apart after a cgroup change */

enum {
	DNSNS_HELLO = 0, /* proxy -> helper, first: struct dnsns_hello, home netns fd */
	DNSNS_PORTS = 1, /* proxy -> helper: the home set's ports; scanning starts */
	DNSNS_SCAN,	 /* proxy -> helper: scan now */
	DNSNS_REJECT,	 /* proxy -> helper: could not serve dev/ino; forget it */
	DNSNS_ADD,	 /* helper -> proxy: serve dev/ino, fds (mask) attached */
	DNSNS_GONE,	 /* helper -> proxy: dev/ino has no process of the subtree */
};

struct dnsns_msg {
	uint8_t op;
	uint8_t mask; /* ADD: slots whose fds follow, in slot order */
	uint16_t port[HUSH_DNS_SLOTS];
	int32_t pid; /* ADD: a process of the subtree in the namespace */
	uint64_t dev, ino;
	char comm[16];
};

#define DNSNS_MAGIC "hush-dnsns/1"

struct dnsns_hello {
	uint8_t op; /* DNSNS_HELLO */
	char magic[15];
	char cgroup[4096]; /* the subtree, absolute, NUL-terminated */
};

struct dnsns;

/* Fork the helper for the cgroup subtree at `cgroup`.  home_netns_fd > 0:
 * the proxy's home namespace (else the caller's).  0 or -errno. */
int dnsns_start(const char *cgroup, int home_netns_fd, struct dnsns **out);
/* Connect to a helper listening on the unix socket at `path` (systemd's
 * hush-dnsns.socket), for the subtree at `cgroup`, the caller's network
 * namespace as home.  0 or -errno. */
int dnsns_connect(const char *path, const char *cgroup, struct dnsns **out);
/* The helper itself on connection `fd` (socket activation: stdin).  Only
 * returns on a bad start: the exit code. */
int dnsns_serve(int fd);
/* Listen on a unix socket at `path` (mode 0600) and serve each connection
 * with a helper of its own, forked: the socket activation of systemd for
 * where there is none (a pod's helper container, packaging/kubernetes/).
 * Only returns on an error: the exit code. */
int dnsns_listen(const char *path);
/* The proxy's end of the connection. */
int dnsns_fd(const struct dnsns *h);
void dnsns_home_ports(struct dnsns *h, const uint16_t port[HUSH_DNS_SLOTS]);
/* Scan now (any thread; never blocks). */
void dnsns_poke(struct dnsns *h);
/* Close the socket pair: the helper exits (once the proxy no longer reads
 * it); dnsns_stop() reaps it later, its exit overlapping other teardown. */
void dnsns_hangup(struct dnsns *h);
/* Close the socket pair (the helper exits) and reap it if it is ours. */
void dnsns_stop(struct dnsns *h);

#endif /* HUSH_AGENT_DNSNS_H */
