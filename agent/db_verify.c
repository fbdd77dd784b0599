// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Verification: walk the chain in one read transaction and name the first
 * row that does not link (edited, inserted, deleted), a tamper note hushd
 * recorded, a truncated tail (the head file) or a moved chain start without
 * a prune record.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/db_int.h"

/* Does the row at st link to prev? */
static bool links(sqlite3_stmt *st, const uint8_t prev[DB_HASH_LEN], EVP_MD_CTX *md)
{
	struct hval v[HV_MAX];
	uint8_t h[DB_HASH_LEN];
	size_t n = db_stmt_vals(st, v);

	db_hash_vals(md, prev, v, n, h);
	return sqlite3_column_bytes(st, DB_C_HASH) == DB_HASH_LEN &&
	       memcmp(h, sqlite3_column_blob(st, DB_C_HASH), DB_HASH_LEN) == 0;
}

/* One walk of the chain. */
struct walk {
	struct db *db;
	EVP_MD_CTX *md;
	char *msg;
	size_t msglen;
	uint8_t prev[DB_HASH_LEN], anchor[DB_HASH_LEN];
	uint64_t expect, n, aid, last;
	/* A chain head kept outside the database (head file or --head). */
	bool have_head, head_seen;
	uint64_t head_id;
	uint8_t hh[DB_HASH_LEN];
};

/* Row id where w->expect was due: rows deleted, or out of order. */
static int bad_id(struct walk *w, uint64_t id)
{
	uint64_t expect = w->expect;

	if (id < expect)
		return db_fail(w->msg, w->msglen, 1, "row %llu: out of order",
			       (unsigned long long)id);
	return db_fail(w->msg, w->msglen, 1,
		       id == expect + 1 ? "row %llu: deleted (the chain jumps from row %llu "
					  "to row %llu)"
					: "rows %llu..%llu: deleted (the chain jumps to row "
					  "%llu)",
		       (unsigned long long)expect,
		       (unsigned long long)(id == expect + 1 ? expect - 1 : id - 1),
		       (unsigned long long)id);
}

/* Row id (stored hash `stored`) does not link: the next row tells whether
 * it was edited, inserted, or starts a broken stretch.  Steps st. */
static int bad_link(struct walk *w, sqlite3_stmt *st, uint64_t id,
		    const uint8_t stored[DB_HASH_LEN])
{
	uint8_t before[DB_HASH_LEN];
	int rc;

	memcpy(before, w->prev, DB_HASH_LEN);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && links(st, before, w->md))
		return db_fail(w->msg, w->msglen, 1,
			       "row %llu: inserted (the next row links to row %llu)",
			       (unsigned long long)id, (unsigned long long)(id - 1));
	if (rc == SQLITE_ROW && links(st, stored, w->md))
		return db_fail(w->msg, w->msglen, 1,
			       "row %llu: edited (its contents do not match its hash)",
			       (unsigned long long)id);
	if (rc == SQLITE_ROW)
		return db_fail(w->msg, w->msglen, 1,
			       "row %llu: chain broken (rows edited, inserted or deleted "
			       "from here on)",
			       (unsigned long long)id);
	return db_fail(w->msg, w->msglen, 1,
		       "row %llu: edited or inserted (its contents do not match its hash)",
		       (unsigned long long)id);
}

/* The row at st: 0 if it links and is clean, else 1 with msg filled. */
static int check_row(struct walk *w, sqlite3_stmt *st)
{
	uint64_t id = (uint64_t)sqlite3_column_int64(st, DB_C_ID);
	uint8_t stored[DB_HASH_LEN] = {0};
	const char *kind = (const char *)sqlite3_column_text(st, DB_C_KIND);
	const char *note = (const char *)sqlite3_column_text(st, DB_C_NOTE);

	if (id != w->expect)
		return bad_id(w, id);
	if (sqlite3_column_bytes(st, DB_C_HASH) == DB_HASH_LEN)
		memcpy(stored, sqlite3_column_blob(st, DB_C_HASH), DB_HASH_LEN);
	if (!links(st, w->prev, w->md))
		return bad_link(w, st, id, stored);
	if (kind && note && strcmp(kind, "note") == 0 && strncmp(note, "TAMPER:", 7) == 0)
		return db_fail(w->msg, w->msglen, 1, "row %llu: hushd recorded: %s",
			       (unsigned long long)id, note + 7 + (note[7] == ' '));
	if (w->have_head && id == w->head_id) {
		w->head_seen = true;
		if (memcmp(stored, w->hh, DB_HASH_LEN) != 0)
			return db_fail(w->msg, w->msglen, 1,
				       "row %llu: does not match the chain head kept outside the "
				       "database (rows rewritten)",
				       (unsigned long long)id);
	}
	memcpy(w->prev, stored, DB_HASH_LEN);
	w->last = id;
	w->expect = id + 1;
	w->n++;
	return 0;
}

/*
 * Walk the rows.  They are read one ahead, so a bad row can be told apart
 * as edited (the next row links to its stored hash), inserted (the next row
 * links to the row before it) or the start of a broken stretch.
 */
static int walk_rows(struct walk *w)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = 0;

	rc = sqlite3_prepare_v2(w->db->h, "SELECT " DB_LOG_COLUMNS " FROM log ORDER BY id", -1, &st,
				NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(w->db, w->msg, w->msglen, rc, "cannot read");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = check_row(w, st);
		if (ret)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = db_sql_err(w->db, w->msg, w->msglen, rc, "cannot read");
out:
	sqlite3_finalize(st);
	return ret;
}

/* A moved chain start must be the one a prune recorded. */
static int check_anchor(struct walk *w)
{
	char want[128], hx[2 * DB_HASH_LEN + 1];
	sqlite3_stmt *q;
	bool found = false;

	if (w->aid <= 1)
		return 0;
	db_hex(w->anchor, DB_HASH_LEN, hx);
	snprintf(want, sizeof(want), "%%chain now starts at row %llu after hash %s%%",
		 (unsigned long long)w->aid, hx);
	if (sqlite3_prepare_v2(w->db->h,
			       "SELECT 1 FROM events WHERE id >= ? AND kind = 'note' AND"
			       " note LIKE ? LIMIT 1",
			       -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (int64_t)w->aid);
		sqlite3_bind_text(q, 2, want, -1, SQLITE_STATIC);
		found = sqlite3_step(q) == SQLITE_ROW;
		sqlite3_finalize(q);
	}
	if (found)
		return 0;
	return db_fail(w->msg, w->msglen, 1,
		       "rows before %llu deleted: the chain start was moved without a prune "
		       "record",
		       (unsigned long long)w->aid);
}

int db_verify(struct db *db, uint64_t head_id, const uint8_t *head_hash, uint64_t *rows, char *msg,
	      size_t msglen)
{
	struct walk w = {.db = db, .msg = msg, .msglen = msglen};
	int ret;

	*rows = 0;
	w.md = EVP_MD_CTX_new();
	if (!w.md)
		return db_fail(msg, msglen, -ENOMEM, "out of memory");
	/* The head file is rewritten after each commit: read it before the
	 * snapshot starts, so the snapshot holds the row it names. */
	if (head_id) {
		w.have_head = true;
		w.head_id = head_id;
		memcpy(w.hh, head_hash, DB_HASH_LEN);
	} else if (db_head_read(db->path, &w.head_id, w.hh) == 0) {
		w.have_head = true;
	}
	/* One read transaction: a consistent snapshot while hushd writes on. */
	sqlite3_exec(db->h, "BEGIN", NULL, NULL, NULL);
	db_anchor_get(db, &w.aid, w.anchor);
	memcpy(w.prev, w.anchor, DB_HASH_LEN);
	w.expect = w.aid;
	ret = walk_rows(&w);
	if (ret)
		goto out;
	if (w.have_head && !w.head_seen && w.head_id >= w.expect) {
		ret = db_fail(msg, msglen, 1,
			      "tail truncated: the chain head names row %llu, the database ends at "
			      "row %llu (rows %llu..%llu deleted)",
			      (unsigned long long)w.head_id, (unsigned long long)w.last,
			      (unsigned long long)w.last + 1, (unsigned long long)w.head_id);
		goto out;
	}
	/* Checked after the walk: a finding among the rows comes first. */
	ret = check_anchor(&w);
	if (ret)
		goto out;
	*rows = w.n;
	if (w.have_head)
		db_fail(msg, msglen, 0, "intact, %llu rows", (unsigned long long)w.n);
	else
		db_fail(msg, msglen, 0,
			"intact, %llu rows (no chain head file %s.head: a truncated tail would not "
			"show; keep `hush log verify` heads off the host)",
			(unsigned long long)w.n, db->path);
out:
	sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	EVP_MD_CTX_free(w.md);
	return ret;
}
