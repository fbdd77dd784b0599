/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the synthetic audit log generators share (tests/tools/dbfill.c and
 * tests/bench/bench_query): the splitmix64 generator, hex ids, the 16-byte
 * address key, the dimension records (destination, cgroup, process) and the
 * part of a row that only copies them.  Each generator keeps its own
 * dimension values and row mix: what it writes for a seed must not change
 * (bench_query's cached database depends on its GEN_VERSION).
 */
#ifndef HUSH_TESTS_LIB_SYNTHLOG_H
#define HUSH_TESTS_LIB_SYNTHLOG_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/db.h"

/* The generator's state: set it to the seed. */
extern uint64_t synth_rng;

/* The next splitmix64 value, and one in [0, n). */
uint64_t synth_rnd(void);
unsigned synth_rndn(unsigned n);

/* nhex random lower-case hex digits and a NUL at out[nhex]. */
void synth_hexid(char *out, size_t nhex);

/* The 16-byte key of an address: IPv4 as ::ffff:a.b.c.d.  Returns the
 * family (4 or 6) or 0 if s is not an address. */
int synth_addr_key(const char *s, uint8_t key[16]);

struct synth_dest {
	char daddr[INET6_ADDRSTRLEN];
	uint8_t dkey[16];
	int family, dport;
	const char *proto;
	char qname[64]; /* "": none */
};

struct synth_cg {
	uint64_t cgid;
	char path[200], container[65], unit[48], pod[40]; /* "": none */
	const char *runtime;
};

struct synth_proc {
	char exe[64], comm[16], cmdline[160], ancestry[256];
	uint32_t pid, uid;
	int cg; /* bench_query: the index of its cgroup */
};

/* The destination, process and cgroup fields of an attempt row r (hook by
 * protocol and family, 1 in 50 "egress"; pid = tgid + 0..7): two draws. */
void synth_fill(struct db_row *r, const struct synth_dest *d, const struct synth_proc *p,
		const struct synth_cg *c);

#endif /* HUSH_TESTS_LIB_SYNTHLOG_H */
