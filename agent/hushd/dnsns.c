// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hushd: the DNS proxy in every network namespace used by processes of the
 * enforced subtree (agent/dnsns.h).  The helper is forked before hushd gives
 * up CAP_SYS_ADMIN, or (--dnsns-socket, hushd.service) a helper systemd
 * starts for hushd's connection does that part, hushd never having it; a DNS query the redirect
 * failed closed for want of a listener in its namespace makes it look at once, and is noted in the
 * log once per namespace.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/dnsns.h"
#include "agent/log.h"
#include "agent/store.h"
#include "agent/hushd/hushd.h"

void hushd_dnsns_start(struct hushd *d)
{
	int ret;

	if (d->no_dns)
		return;
	if (d->dnsns_socket) {
		/* A helper started beside hushd (a pod's other container) may
		 * not listen yet: up to 10 s.  (systemd's socket is there first.) */
		for (int i = 0; i < 100; i++) {
			ret = dnsns_connect(d->dnsns_socket, d->cgroup, &d->dnsns);
			if (ret != -ENOENT && ret != -ECONNREFUSED)
				break;
			usleep(100000);
		}
		if (ret)
			log_errno(ret,
				  "cannot reach the DNS proxy's namespace helper at %s (is "
				  "hush-dnsns.socket active?): only hushd's own network namespace "
				  "is served, DNS elsewhere fails closed",
				  d->dnsns_socket);
		return;
	}
	ret = dnsns_start(d->cgroup, -1, &d->dnsns);
	if (ret)
		log_errno(ret, "cannot start the DNS proxy's namespace helper: only hushd's own "
			       "network namespace is served, DNS elsewhere fails closed");
}

void hushd_dnsns_unserved(struct hushd *d, const struct hush_event *e)
{
	static char seen[64][32];
	static unsigned next;
	char p[64], ns[32] = "", self[32] = "";
	ssize_t n;

	if (!d->dns || !e->tgid)
		return;
	snprintf(p, sizeof(p), "/proc/%u/ns/net", e->tgid);
	n = readlink(p, ns, sizeof(ns) - 1);
	if (n > 0)
		ns[n] = 0;
	n = readlink("/proc/self/ns/net", self, sizeof(self) - 1);
	if (n > 0)
		self[n] = 0;
	if (ns[0] && !strcmp(ns, self))
		return; /* hushd's own: the proxy itself is down, nothing to find */
	dnsproxy_poke(d->dns);
	if (!ns[0]) {
		/* Gone already: say so once per process. */
		snprintf(ns, sizeof(ns), "pid:%u", e->tgid);
	}
	for (unsigned i = 0; i < 64; i++)
		if (!strcmp(seen[i], ns))
			return;
	snprintf(seen[next++ % 64], sizeof(seen[0]), "%s", ns);
	if (!d->store)
		return;
	if (!strncmp(ns, "pid:", 4))
		store_note(
		    d->store,
		    "DNS from pid %u (%.16s) failed closed: the proxy had no listener in its "
		    "network namespace yet (the process was gone before the namespace could "
		    "be named); the proxy looks for it now",
		    e->tgid, e->comm);
	else
		store_note(d->store,
			   "DNS from pid %u (%.16s) in network namespace %s failed closed: the "
			   "proxy had no listener there yet; it is opening one",
			   e->tgid, e->comm, ns);
}
