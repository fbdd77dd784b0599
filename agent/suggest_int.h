/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What suggest.c (the table of observations, prefix joining) and
 * suggest_render.c (the policy text) share.  Not for use elsewhere.
 */
#ifndef HUSH_AGENT_SUGGEST_INT_H
#define HUSH_AGENT_SUGGEST_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/suggest.h"

#define WHO_MAX	 3
#define RES_MAX	 8
#define PROTO_TU 1 /* item: tcp and udp on the same ports ("any PORTS") */

struct ent {
	char *scope;
	enum suggest_kind kind;
	int family;
	uint8_t addr[16];
	uint8_t proto;
	char *name;
	bool by_host;
	uint16_t *ports;
	size_t nports, pcap;
	int64_t allow, audit, first, last;
	char *who[WHO_MAX];
	uint64_t hash;
	bool host; /* render: becomes an `allow host` rule */
};

struct resolver {
	int family;
	uint8_t addr[16];
	uint16_t port;
	int64_t count;
};

struct suggest {
	struct ent *v;
	size_t n, cap;
	uint32_t *idx; /* open addressing: 0 empty, else entry index + 1 */
	size_t idx_cap;
	int64_t skipped[SUGGEST_SKIP_MAX];
	struct resolver res[RES_MAX];
	size_t nres;
};

/* suggest.c */
size_t suggest_addr_len(int family);
uint64_t suggest_key_hash(const struct suggest_obs *o);
bool suggest_key_eq(const struct ent *e, const struct suggest_obs *o, uint64_t h);
int suggest_idx_rebuild(struct suggest *s, size_t cap);

#endif /* HUSH_AGENT_SUGGEST_INT_H */
