/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the files of the audit log database share (db.c: open, schema,
 * migrations, meta; db_chain.c: the hash chain and appends; db_verify.c;
 * db_prune.c: pruning, figures, option values).  Not for use outside
 * agent/db*.c: everyone else goes through db.h.
 */
#ifndef HUSH_AGENT_DB_INT_H
#define HUSH_AGENT_DB_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "agent/db.h"
#include "agent/db_rollup.h"
#include "agent/util.h"

struct dim_ent {
	char *key; /* NULL: free slot */
	int64_t id;
};

/* String -> row id caches for the dimension tables (cleared on rollback). */
struct dim_cache {
	struct dim_ent *ents;
	size_t cap, n;
};

struct db {
	sqlite3 *h;
	char path[PATH_MAX];
	enum db_mode mode;
	sqlite3_stmt *ins_event, *last_row, *ins_mark, *add_meta;
	sqlite3_stmt *ins_proc, *sel_proc, *ins_cg, *sel_cg, *ins_rule, *sel_rule;
	sqlite3_stmt *ins_lin, *sel_lin, *ins_host, *sel_host; /* since 6 */
	struct dim_cache procs, cgroups, rules, lineages, hosts;
	/* db_rollup.c, since 7: the transaction's rollup rows and their upsert */
	struct db_rollmem *roll;
	sqlite3_stmt *roll_up;
	EVP_MD_CTX *md;
	/* The chain head as last written (head file at open, then our commits):
	 * an append first checks the database still reaches it. */
	bool head_known;
	uint64_t head_id;
	uint8_t head_hash[DB_HASH_LEN];
};

/* One hashed value of a row. */
struct hval {
	int type; /* SQLITE_NULL, SQLITE_INTEGER, SQLITE_TEXT, SQLITE_BLOB */
	int64_t i;
	const void *p;
	size_t len;
};

/*
 * What the chain hashes of a row: the log columns before "hash", then qtype
 * when it is not NULL (schema 3: rows without one, all rows written before,
 * hash as they always did).  In the array of hashed values qtype sits at
 * index HV_QTYPE, the place "hash" has among the columns.
 */
#define HV_QTYPE DB_C_HASH
/* Since 4: the container names, after a marker, when any is set (db.h). */
#define HV_CMARK (HV_QTYPE + 1)
#define HV_CNAME (HV_CMARK + 1) /* then image, image_id, pod_ns, pod_name */
/* Since 6: ppid, ancestry, hostname, host_id after a marker, when any is set. */
#define HV_LMARK (HV_CNAME + 5)
#define HV_LIN	 (HV_LMARK + 1)
#define HV_MAX	 (HV_LIN + 4)

/* db.c: fill err (may be NULL) and return code. */
int db_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "<what> <path>: <sqlite message> (<hint for the operator>)"; returns -EIO. */
int db_sql_err(struct db *db, char *err, size_t errlen, int rc, const char *what);
int db_exec(struct db *db, const char *sql, char *err, size_t errlen);

/* db_chain.c */
void db_dim_clear(struct dim_cache *c);
void db_hash_vals(EVP_MD_CTX *md, const uint8_t prev[DB_HASH_LEN], const struct hval *v, size_t n,
		  uint8_t out[DB_HASH_LEN]);
/* Column c of the row at st (its bytes stay SQLite's until the next step). */
void db_stmt_val(sqlite3_stmt *st, int c, struct hval *v);
/* The hashed values of the log row at st; returns how many. */
size_t db_stmt_vals(sqlite3_stmt *st, struct hval v[HV_MAX]);
/* Where the chain starts: meta anchor_id/anchor_hash (1 and zeros before a prune). */
void db_anchor_get(struct db *db, uint64_t *id, uint8_t hash[DB_HASH_LEN]);
/* Chain tail inside the current transaction (SQLITE_OK or an SQLite code). */
int db_tail(struct db *db, uint64_t *last_id, uint8_t hash[DB_HASH_LEN]);
/* Append inside an open write transaction (SQLITE_OK or an SQLite code). */
int db_append_locked(struct db *db, const struct db_row *rows, size_t n, uint64_t *last_id,
		     uint8_t hash[DB_HASH_LEN]);
/* ROLLBACK, and forget the dimension ids handed out inside it. */
void db_rollback(struct db *db);
/* "<db>.head": "ID HASHHEX\n". */
void db_head_write(struct db *db, uint64_t id, const uint8_t h[DB_HASH_LEN]);
int db_head_read(const char *dbpath, uint64_t *id, uint8_t h[DB_HASH_LEN]);

/* db_rollup.c (SQLite codes): prepare the writer's statement and memory;
 * add a row (its values indexed by enum db_log_col, as read from events,
 * and the ids of its rules, procs and cgroups rows, 0 for none: only
 * attempt rows count); write the sums of the rows added since the last flush (or
 * discard them); rebuild every bucket meeting [ts_lo, ts_hi] from the rows
 * there now.  Inside the caller's transaction. */
int db_rollup_prepare(struct db *db);
void db_rollup_finalize(struct db *db);
int db_rollup_row(struct db *db, const struct hval *v, int64_t rule, int64_t proc, int64_t cg);
int db_rollup_flush(struct db *db);
void db_rollup_discard(struct db *db);
int db_rollup_rebuild(struct db *db, int64_t ts_lo, int64_t ts_hi);
/* meta 'rollup_id': the id of the last row the rollups hold (SQLITE_CORRUPT:
 * missing); add up to max_rows rows after it (*done of them) and move it,
 * inside the caller's transaction. */
int db_rollup_id(struct db *db, int64_t *id);
int db_rollup_catchup_locked(struct db *db, int64_t max_rows, int64_t *done);

#endif /* HUSH_AGENT_DB_INT_H */
