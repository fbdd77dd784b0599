/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The audit log database (SQLite, WAL): schema, migrations, the hash chain,
 * appending rows, verification, pruning and summary figures.  Shared by
 * hushd (the writer) and hush (log, status).
 *
 * Schema, version 6 (PRAGMA user_version; 1 -> 2 added events(dport, ts);
 * 2 -> 3 added events.qtype and the view's last column; 3 -> 4 rebuilt
 * cgroups with the container engines' names, and the view's last five;
 * 4 -> 5 events(proc, ts); 5 -> 6 lineage: ppid, ancestry, hostname, host_id):
 *
 *   meta(key TEXT PRIMARY KEY, value)                 'created' (ns), 'counters_id',
 *                                                     'anchor_id', 'anchor_hash' (hex):
 *                                                     where the chain starts after a prune;
 *                                                     'hush_version': the hushd that
 *                                                     opened it last
 *   procs(id, exe TEXT, cmdline TEXT)                 cmdline: JSON array of strings
 *   cgroups(id, cgid INTEGER, path TEXT, container TEXT, runtime TEXT, unit TEXT, pod TEXT,
 *           cname, image, image_id, pod_ns, pod_name TEXT NOT NULL ('' = unknown; the
 *           view says NULL))                         one row per cgroup and naming:
 *                                                     a container named later gets a
 *                                                     row of its own (rows never change)
 *   rules(id, scope TEXT, text TEXT)
 *   marks(cpu, hook, verdict, seq, max_seen, above)   kernel event sequences accounted for:
 *                                                     all <= seq, and `above` more up to max_seen
 *   events(
 *     id INTEGER PRIMARY KEY,                         chain order
 *     kind TEXT NOT NULL,                             'attempt' | 'gap' | 'note'
 *     ts INTEGER NOT NULL,                            last attempt, ns since the epoch
 *     first_ts INTEGER NOT NULL,                      first attempt coalesced into the row
 *     count INTEGER NOT NULL,                         attempts (gap: attempts lost; note: 0)
 *     hook TEXT, verdict TEXT,                        'connect4'..'egress', 'dns' (a query
 *                                                     hushd's DNS proxy judged);
 *                                                     'allow'|'deny'|'audit'
 *     rule INTEGER -> rules.id,
 *     family INTEGER, proto TEXT,                     4 | 6; 'tcp', 'udp', 'icmp', ...
 *     daddr TEXT, dkey BLOB, dport INTEGER,           dkey: 16 bytes, IPv4 as ::ffff:a.b.c.d;
 *                                                     dns: the resolver the client asked
 *     qname TEXT, flags INTEGER,                      dns: the name asked (presentation form);
 *                                                     attempt: the name a DNS answer gave
 *                                                     the destination
 *     pid, tgid, uid, gid INTEGER, comm TEXT,
 *     proc INTEGER -> procs.id, cgroup INTEGER -> cgroups.id,
 *     note TEXT,                                      gap reason; note text; dns: what was
 *                                                     wrong with the query
 *     hash BLOB NOT NULL,                             SHA-256 chain link
 *     qtype TEXT)                                     dns: 'A', 'AAAA', 'TYPE65' (since 3)
 *   since 6 (lineage): events.ppid INTEGER, events.lineage INTEGER -> lineages.id,
 *     events.host INTEGER -> hosts.id;
 *   lineages(id, ancestry TEXT UNIQUE)               JSON array, lineage.h
 *   hosts(id, hostname TEXT, host_id TEXT)           ('' = unknown; the view says NULL)
 *   indexes: events(ts), events(verdict, ts), events(cgroup, ts), events(dkey, ts),
 *            events(dport, ts); since 5 events(proc, ts)
 *   since 7: rollup(...) and its index rollup_day_k: the attempt rows summed per
 *            minute, hour and day for `hush log top` (agent/db_rollup.h);
 *   since 8: events(kind, ts) WHERE kind != 'attempt' (gap and note rows);
 *   since 9: meta 'rollup_id': the last row the rollups hold (they follow the
 *            rows: db_rollup_catchup);
 *   since 10: rollup dimensions hook, qtype, ppid, tgid, tid for the filters
 *   view log: events joined with procs, cgroups and rules, the columns of
 *     DB_LOG_COLUMNS; the hash of row N is
 *     SHA-256(hash of row N-1 || encoding of row N's log columns before
 *     "hash" || encoding of qtype if qtype is not NULL),
 *     each value encoded by type: NULL 'n'; integer 'i' + 8 bytes big-endian;
 *     text 't' + 4-byte big-endian length + bytes; blob 'b' + length + bytes.
 *     A NULL qtype adds nothing, so rows written before version 3 (and every
 *     row that is not a DNS query) hash as they always did; setting or
 *     clearing a qtype changes the input, and the values are self-delimiting,
 *     so it cannot be mistaken for another row.  Since version 4, when any
 *     of cname, image, image_id, pod_ns, pod_name is set, the text
 *     "container" and those five follow (NULL 'n'): rows without them hash
 *     as before, and the value count (31, 32, 37 or 38) tells the forms apart.
 *     Since version 6 (lineage), when any of ppid, ancestry, hostname,
 *     host_id is set, the text "lineage" and those four follow (after the
 *     container names, if any): rows without them hash as before.
 *     Row 1 (or the first row after a prune) links to the anchor (32 zero
 *     bytes before any prune).  Dimension rows are covered through the rows
 *     that name them: editing an exe edits every row that points to it.
 *
 * Chain head file: "<db>.head" beside the database holds "id hash-hex" of the
 * last committed row, rewritten (rename) after each commit; verify checks
 * that the database still reaches it, so a truncated tail shows.
 */
#ifndef HUSH_AGENT_DB_H
#define HUSH_AGENT_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#define DB_DEFAULT_PATH	  "/var/lib/hush/hush.db"
#define DB_SCHEMA_VERSION 11
#define DB_HASH_LEN	  32
#define DB_DEFAULT_GROUP  "hush"
/* The WHERE of the partial index events(kind, ts) (schema 8): the rows
 * other than attempts.  A query uses the index only if its WHERE has this
 * term literally (over events aliased e or not). */
#define DB_KIND_RARE_SQL "kind <> 'attempt'"

/* Columns of the view "log", in chain order (the hash covers all but "hash";
 * qtype, added in version 3, only when it is not NULL). */
#define DB_LOG_COLUMNS                                                                             \
	"id, kind, ts, first_ts, count, hook, verdict, rule_scope, rule_text, family, proto, "     \
	"daddr, dkey, dport, qname, flags, pid, tgid, uid, gid, comm, exe, cmdline, cgid, "        \
	"cgroup_path, container, runtime, unit, pod, note, hash, qtype, cname, image, image_id, "  \
	"pod_ns, pod_name, ppid, ancestry, hostname, host_id"

enum db_log_col {
	DB_C_ID,
	DB_C_KIND,
	DB_C_TS,
	DB_C_FIRST_TS,
	DB_C_COUNT,
	DB_C_HOOK,
	DB_C_VERDICT,
	DB_C_RULE_SCOPE,
	DB_C_RULE_TEXT,
	DB_C_FAMILY,
	DB_C_PROTO,
	DB_C_DADDR,
	DB_C_DKEY,
	DB_C_DPORT,
	DB_C_QNAME,
	DB_C_FLAGS,
	DB_C_PID,
	DB_C_TGID,
	DB_C_UID,
	DB_C_GID,
	DB_C_COMM,
	DB_C_EXE,
	DB_C_CMDLINE,
	DB_C_CGID,
	DB_C_CGROUP_PATH,
	DB_C_CONTAINER,
	DB_C_RUNTIME,
	DB_C_UNIT,
	DB_C_POD,
	DB_C_NOTE,
	DB_C_HASH,
	DB_C_QTYPE,
	DB_C_CNAME,
	DB_C_IMAGE,
	DB_C_IMAGE_ID,
	DB_C_POD_NS,
	DB_C_POD_NAME,
	DB_C_PPID,     /* since 6 (lineage) */
	DB_C_ANCESTRY, /* JSON array, lineage.h */
	DB_C_HOSTNAME,
	DB_C_HOST_ID,
	DB_C_MAX
};

/* One row to append.  Strings may be NULL (stored as NULL); "has_*" mark
 * the optional integers. */
struct db_row {
	const char *kind; /* "attempt", "gap", "note" */
	int64_t ts, first_ts;
	int64_t count;
	const char *hook, *verdict;
	const char *rule_scope, *rule_text;
	int family; /* 0: NULL */
	const char *proto;
	const char *daddr;
	uint8_t dkey[16];
	bool has_dest; /* daddr, dkey, dport set */
	int dport;
	const char *qname;
	bool has_proc_ids; /* pid, tgid, uid, gid, comm set */
	int64_t flags;	   /* < 0: NULL */
	uint32_t pid, tgid, uid, gid;
	const char *comm;
	const char *exe, *cmdline; /* cmdline: JSON array text */
	bool has_cgroup;	   /* cgid and path set */
	uint64_t cgid;
	const char *cgroup_path, *container, *runtime, *unit, *pod;
	const char *note;
	const char *qtype; /* DNS query type ("AAAA"); NULL for every other row */
	/* the container engines' names (with has_cgroup; NULL: unknown) */
	const char *cname, *image, *image_id, *pod_ns, *pod_name;
	/* lineage (since 6): the parent (has_ppid), the ancestry (JSON array
	 * text), this host's name and id (NULL/"": unknown) */
	bool has_ppid;
	uint32_t ppid;
	const char *ancestry, *hostname, *host_id;
};

struct db;

enum db_mode { DB_RDONLY, DB_RDWR };

/*
 * Open (creating the file and its directory for DB_RDWR: directory 0750,
 * file 0640, group "hush" when that group exists) and migrate to the current
 * schema.  A database newer than this build is refused.  On failure returns
 * a negative errno-ish code and fills err with what failed and what to do.
 */
int db_open(const char *path, enum db_mode mode, struct db **out, char *err, size_t errlen);
void db_close(struct db *db);
sqlite3 *db_handle(struct db *db);
const char *db_path(const struct db *db);

/*
 * Append rows in one transaction, extending the chain from the last row in
 * the database (read inside the transaction, so several writers chain
 * correctly).  marks (may be NULL, n_marks entries of cpu/hook/verdict/seq)
 * are stored in the same transaction.  Writes the head file after the commit.
 * Returns 0, or a negative code with err filled ("database or disk is full").
 * On failure nothing is written.
 */
struct db_mark {
	uint32_t cpu, hook, verdict;
	uint64_t seq;	   /* every event numbered <= seq is accounted for */
	uint64_t max_seen; /* highest number received (>= seq) */
	uint64_t above;	   /* numbers in (seq, max_seen] received */
};
int db_append(struct db *db, const struct db_row *rows, size_t n, const struct db_mark *marks,
	      size_t n_marks, char *err, size_t errlen);

/*
 * The rollups (db_rollup.h) follow the rows: db_append writes the rows
 * only, off their path to the disk.  This adds up to max_rows of the rows
 * after meta 'rollup_id' to the rollups in one transaction (*done of them;
 * *left rows are still after it).  hushd's writer calls it whenever it has
 * no batch to write, db_close of a writer for up to a second; readers
 * (`hush log top`, the filters located through the rollups) read the rows
 * not yet rolled up from the table, so their answers never lag.  Returns 0,
 * or a negative code with err filled.
 */
int db_rollup_catchup(struct db *db, int64_t max_rows, int64_t *done, int64_t *left, char *err,
		      size_t errlen);

/* All stored marks (caller frees *out). */
int db_marks(struct db *db, struct db_mark **out, size_t *n);
/* Forget all marks (the kernel counters were re-created). */
int db_marks_reset(struct db *db);
/* meta values (integers) */
int db_meta_get_int(struct db *db, const char *key, int64_t *v);
int db_meta_set_int(struct db *db, const char *key, int64_t v);
/* meta values (text) */
int db_meta_set_text(struct db *db, const char *key, const char *v);

/* Hash one row of the view "log" (stmt positioned on it, its columns those
 * of DB_LOG_COLUMNS; a statement without the qtype column hashes as if it
 * were NULL) given prev. */
void db_row_hash_stmt(sqlite3_stmt *st, const uint8_t prev[DB_HASH_LEN], uint8_t out[DB_HASH_LEN]);

/*
 * Walk the chain.  Result: intact (return 0, *rows set, msg "intact, N
 * rows"), or every damage found, one per line in msg in row order ("row
 * 123: edited (...)", "row 124: deleted (...)", "tail truncated: the chain
 * head file names row 900, the database ends at 850"; what does not fit
 * is counted in a last line "... and N more").  Return 1 for tampering
 * found, negative for errors.  head_id/head_hash: an externally kept head
 * to check against (head_id 0: use the head file).
 */
int db_verify(struct db *db, uint64_t head_id, const uint8_t *head_hash, uint64_t *rows, char *msg,
	      size_t msglen);

/*
 * Every damage, not just the first: fn gets one finding per line of text,
 * in row order ("row 17: edited (column daddr or dkey: ...)", "rows 23..25:
 * deleted ...", "procs row 7: edited: all 3 rows naming it ...", "row 9:
 * hushd recorded: ...", "tail truncated: ..."); the walk goes on after
 * each.  *findings counts them; msg gets "intact, N rows" or "N findings in
 * M rows".  Returns 0 intact, 1 tampering found, negative on errors.
 * db_verify() is this with the findings one per line in msg.
 */
typedef void (*db_finding_fn)(void *ctx, const char *finding);
int db_verify_each(struct db *db, uint64_t head_id, const uint8_t *head_hash, uint64_t *rows,
		   uint64_t *findings, db_finding_fn fn, void *ctx, char *msg, size_t msglen);

/* Say a tamper finding where an operator looks: syslog (LOG_AUTHPRIV,
 * LOG_ALERT), which the journal keeps. */
void db_tamper_alarm(const char *path, uint64_t findings, const char *first);
/* TAMPER notes this process wrote to the chain (hushd: hush_log_tamper_total). */
uint64_t db_tamper_noted(void);
/* The last `hush log verify` beside the database, "<db>.verify" ("TIME_NS
 * ROWS FINDINGS"), for hushd's metrics (hush_log_verify_*): written by a
 * verify that may write there (root), read each second by hushd. */
int db_verify_status_write(const char *dbpath, uint64_t rows, uint64_t findings);
int db_verify_status_read(const char *dbpath, int64_t *ts, uint64_t *rows, uint64_t *findings);

/*
 * Delete attempt/gap rows older than cutoff_ns (realtime ns), and, if
 * max_bytes > 0, the oldest rows until the file fits.  Records a note row
 * in the chain saying what was removed and moves the anchor.  *removed gets
 * the number of rows removed.
 */
int db_prune(struct db *db, int64_t cutoff_ns, int64_t max_bytes, uint64_t *removed, char *err,
	     size_t errlen);

struct db_stats {
	uint64_t rows;	   /* rows in events */
	uint64_t attempts; /* sum(count) of attempt rows */
	uint64_t lost;	   /* sum(count) of gap rows */
	int64_t oldest_ts; /* 0 if empty */
	int64_t newest_ts;
	uint64_t last_id;
	int64_t file_bytes; /* database + WAL */
};
int db_stats(struct db *db, struct db_stats *st);
/* Bytes on disk: the database file plus its WAL (a stat each, no query). */
int64_t db_file_bytes(const struct db *db);

/* Lower-case hex of n bytes into out (2n + 1 bytes); and back: exactly 2n
 * hex digits, either case (else -EINVAL). */
void db_hex(const uint8_t *b, size_t n, char *out);
int db_unhex(const char *s, size_t slen, uint8_t *out, size_t n);

/* "90d", "12h", "30m", "45s", "2w" -> ns.  Returns 0 or -EINVAL. */
int db_parse_duration(const char *s, int64_t *ns);
/* "10G", "500M", "64k", plain bytes -> bytes.  Returns 0 or -EINVAL. */
int db_parse_size(const char *s, int64_t *bytes);

#endif /* HUSH_AGENT_DB_H */
