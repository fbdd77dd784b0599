// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The synthetic audit log generators' shared pieces: see synthlog.h. */
#include <string.h>

#include "tests/lib/synthlog.h"

uint64_t synth_rng;

uint64_t synth_rnd(void)
{
	/* splitmix64 */
	uint64_t z = (synth_rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

unsigned synth_rndn(unsigned n)
{
	return (unsigned)(synth_rnd() % n);
}

void synth_hexid(char *out, size_t nhex)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < nhex; i++)
		out[i] = d[synth_rnd() & 15];
	out[nhex] = 0;
}

int synth_addr_key(const char *s, uint8_t key[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &a4, 4);
		return 4;
	}
	return inet_pton(AF_INET6, s, key) == 1 ? 6 : 0;
}

void synth_fill(struct db_row *r, const struct synth_dest *d, const struct synth_proc *p,
		const struct synth_cg *c)
{
	r->family = d->family;
	r->proto = d->proto;
	if (synth_rndn(50) == 0)
		r->hook = "egress";
	else if (d->proto[0] == 'u')
		r->hook = d->family == 4 ? "sendmsg4" : "sendmsg6";
	else
		r->hook = d->family == 4 ? "connect4" : "connect6";
	r->has_dest = true;
	r->daddr = d->daddr;
	memcpy(r->dkey, d->dkey, 16);
	r->dport = d->dport;
	r->qname = d->qname[0] ? d->qname : NULL;
	r->flags = 0;
	r->has_proc_ids = true;
	r->pid = p->pid + synth_rndn(8);
	r->tgid = p->pid;
	r->uid = p->uid;
	r->gid = p->uid;
	r->comm = p->comm;
	r->exe = p->exe;
	r->cmdline = p->cmdline;
	r->has_cgroup = true;
	r->cgid = c->cgid;
	r->cgroup_path = c->path;
	r->container = c->container[0] ? c->container : NULL;
	r->runtime = c->container[0] ? c->runtime : NULL;
	r->unit = c->unit[0] ? c->unit : NULL;
	r->pod = c->pod[0] ? c->pod : NULL;
}
