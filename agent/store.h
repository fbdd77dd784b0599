/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hushd's path from the ring buffer to the database.
 *
 * The drain thread (hushd's loop) calls store_event() per event: it
 * coalesces repeats into the open batch (exact count, first and last time)
 * and enriches only the first of each kind (process, cgroup, rule).  Every
 * flush interval the batch goes to the writer thread, which commits it in one
 * transaction, so the drain never waits for the disk.
 *
 * Nothing is uncounted.  Each event carries a per-CPU sequence number from
 * the kernel; numbers never received (ring buffer full, events drained by a
 * hushd that died before writing them) become gap rows with their count.
 * Marks of what is accounted for are committed with the rows, so a restart
 * resumes exactly.  When the database cannot be written (disk full,
 * read-only, missing) the writer keeps counting the rows it could not write
 * and records them as gap rows once it can write again.
 */
#ifndef HUSH_AGENT_STORE_H
#define HUSH_AGENT_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "../bpf/events.h"
#include "../rules/policy.h"

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
	uint64_t attempts_queued; /* attempts handed to the store */
	uint64_t gap_events;	  /* attempts recorded as lost by this hushd */
	uint64_t late_events;	  /* events that arrived after their gap was recorded */
	uint64_t pending_rows;	  /* rows waiting for the writer */
	double lag_s;		  /* last commit: commit time - oldest attempt in the batch */
	int64_t last_commit_ns;	  /* realtime */
};
void store_status(struct store *s, struct store_status *st);

#endif /* HUSH_AGENT_STORE_H */
