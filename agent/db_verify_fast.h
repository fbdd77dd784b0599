/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The fast half of `hush log verify` (db_verify_fast.c): read the table
 * events in id order, with the dimension rows it names (procs, cgroups,
 * rules, lineages, hosts) from small caches by id instead of a join per
 * row, encode each row as the chain hashes it (db.h) straight into a
 * buffer, and hash the rows in a second thread while the next ones are
 * read.  For every row, in id order, on the calling thread, it tells
 * whether the row links to the row before it (SHA-256 of that row's stored
 * hash and this row's encoding equals this row's stored hash).
 *
 * It decides nothing: db_verify.c takes a row that links, in a clean walk,
 * as intact, and walks every other row (and every row marked special) the
 * exact way, one row read through a join by id.  Not for use outside
 * agent/db*.c.
 */
#ifndef HUSH_AGENT_DB_VERIFY_FAST_H
#define HUSH_AGENT_DB_VERIFY_FAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/db.h"

struct vf_row {
	uint64_t id;
	/* The stored hash (zeros unless 32 bytes), which the next row was
	 * hashed after. */
	uint8_t stored[DB_HASH_LEN];
	/* SHA-256(stored hash of the row before, or the start hash for the
	 * first row || this row's encoding) == stored: the row links. */
	bool links;
	/* The exact walk must see the row: a note (TAMPER notes are findings),
	 * a kind or hash of an odd type, a row too large to buffer. */
	bool special;
};

/* Called for every row in id order; a negative value stops the walk (and
 * is returned, msg left to fn). */
typedef int (*vf_row_fn)(void *ctx, const struct vf_row *r);

/*
 * Read every row of events (inside the caller's read transaction), the
 * first hashed after start.  Returns 0 when every row was given to fn,
 * 1 if the tables lack a column the chain covers (no row was given: the
 * caller walks the view instead), negative on an error (msg says which)
 * or fn's value if it stopped.
 */
int db_verify_fast(struct db *db, const uint8_t start[DB_HASH_LEN], vf_row_fn fn, void *ctx,
		   char *msg, size_t msglen);

/* Rows the last fast walk of this process left to the exact walk (tests). */
uint64_t db_verify_exact_rows(void);

#endif
