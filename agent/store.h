/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hushd's path from the ring buffer to the database.
 *
 * The drain thread (hushd's loop) calls store_event() per event, and
 * store_dns() per query the DNS proxy judged: it coalesces repeats into the
 * open batch (exact count, first and last time) and enriches only the first
 * of each kind (process, cgroup, rule; the name a DNS answer gave the
 * destination).  Every flush interval the batch goes to the writer thread,
 * which commits it in one transaction, so the drain never waits for the disk.
 *
 * Nothing is uncounted.  Each event carries a per-CPU sequence number from
 * the kernel; numbers never received (ring buffer full, events drained by a
 * hushd that died before writing them) become gap rows with their count.
 * Marks of what is accounted for are committed with the rows, so a restart
 * resumes exactly.  When the database cannot be written (disk full,
 * read-only, missing) the writer keeps counting the rows it could not write
 * and records them as gap rows once it can write again.  DNS queries have no
 * kernel sequence: they are counted from the proxy's calls only, and what
 * could not be written becomes gap rows with hook "dns".
 */
#ifndef HUSH_AGENT_STORE_H
#define HUSH_AGENT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/events.h"
#include "rules/policy.h"

struct engine;
struct store;

struct store_opts {
	const char *path;
	int64_t retain_ns; /* 0: keep forever */
	int64_t max_bytes; /* 0: no size limit */
	bool log_allowed;  /* allowed attempts produce events */
	int64_t flush_ns;  /* batch interval (default 200 ms) */
};

/* Opens the database in the writer thread; a database that cannot be opened
 * is retried each second (enforcement never waits for it). */
int store_open(const struct store_opts *o, struct engine *eng, struct store **out);
/* Flush everything pending, stop the writer, close. */
void store_close(struct store *s);

/* Drain thread only. */
void store_event(struct store *s, const struct hush_event *e, const struct policy_compiled *pc,
		 int64_t boot_to_real);
/*
 * A DNS query the proxy judged (drain thread only).  e: hook HUSH_HOOK_DNS,
 * verdict HUSH_EV_ALLOW/DENY/AUDIT, rule (the deciding "allow dns" statement
 * id, or HUSH_RULE_DEFAULT), scope, family/daddr/dport = the resolver the
 * client asked, proto IPPROTO_UDP/TCP, pid/tgid/uid/gid/comm/cgroup_id/cookie
 * of the asking socket (HUSH_EVF_NOPROC in flags when unknown), ts_ns on
 * CLOCK_BOOTTIME, seq 0 (hook and seq are forced so: a query never touches
 * the kernel's sequence accounting).  qname: presentation form, may be NULL
 * (malformed query); qtype: "A", "AAAA", "TYPE65", may be NULL; note: NULL or
 * a short text stored in the row's note column ("malformed query: FORMERR").
 * Rows coalesce like attempts, with (qname, qtype, note) part of the
 * identity, and are enriched alike (process, cgroup, container, rule text).
 * Every query handed over is stored, allowed ones too (log_allowed is about
 * the kernel's events): the proxy decides what to hand over.
 */
void store_dns(struct store *s, const struct hush_event *e, const char *qname, const char *qtype,
	       const char *note, const struct policy_compiled *pc, int64_t boot_to_real);

/*
 * Names for addresses: a new row for an attempt (not a DNS row) whose
 * destination a DNS answer once mapped to a name gets that name as qname.
 * fn is called from the drain thread on the first event of each row only
 * (so at most once per distinct attempt per flush interval); family is
 * AF_INET (addr: 4 bytes, network order, at the start) or AF_INET6.  It
 * returns 0 and fills name (NUL-terminated, at most len bytes), or -1.
 * fn NULL: no names.  Call from the drain thread, or before it runs.
 */
typedef int (*store_namer_fn)(void *ctx, int family, const uint8_t addr[16], uint64_t cgid,
			      char *name, size_t len);
void store_set_namer(struct store *s, store_namer_fn fn, void *ctx);

/*
 * Containers: the first event of each new row whose cgroup names a container
 * (attrib's id, else fn matches the cgroup path) gets the engine's name,
 * image, image id and pod.  fn (drain thread) returns 0 and fills out, or -1
 * when the container is unknown.  NULL: no names.
 */
struct store_ctr {
	char id[65];
	char name[128];
	char image[256];
	char image_id[80];
	char pod_ns[64];
	char pod_name[128];
};
typedef int (*store_ctr_fn)(void *ctx, const char *container_id, const char *cgpath,
			    struct store_ctr *out);
void store_set_ctr(struct store *s, store_ctr_fn fn, void *ctx);

/* Call after each drain: hands batches over when due and reconciles the
 * kernel's sequence numbers once a second. */
void store_tick(struct store *s);
/* A note row ("hushd started", "policy applied"), in order with the events. */
void store_note(struct store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct store_status {
	bool open;	       /* database open and writable */
	char error[512];       /* last write error, "" if the last write worked */
	uint64_t rows_written; /* rows committed by this hushd */
	uint64_t commits;
	uint64_t attempts_queued; /* attempts (and DNS queries) handed to the store */
	uint64_t gap_events;	  /* attempts recorded as lost by this hushd */
	uint64_t late_events;	  /* events that arrived after their gap was recorded */
	uint64_t pending_rows;	  /* rows waiting for the writer */
	double lag_s;		  /* last commit: commit time - oldest attempt in the batch */
	uint64_t rollup_behind;	  /* rows the rollups have still to add (db_rollup_catchup) */
	int64_t last_commit_ns;	  /* realtime */
};
void store_status(struct store *s, struct store_status *st);

#endif /* HUSH_AGENT_STORE_H */
