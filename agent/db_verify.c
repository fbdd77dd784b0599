// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Verification: walk the chain in one read transaction and report every
 * damage, not just the first: rows edited, inserted or deleted, a broken
 * stretch, tamper notes hushd recorded, a row that no longer matches the
 * chain head kept outside, a truncated tail, a moved chain start without
 * a prune record.
 *
 * The walk resynchronizes after each finding: an edited row's successor
 * links to its stored hash, an inserted row's successor to the row before
 * it, and after deleted rows (or a broken stretch) the chain goes on from
 * the next row's stored hash.  So one edit is one finding, and the rest of
 * the log is still checked.
 *
 * Which column was edited: the chain hashes a row as a whole, so the hash
 * alone cannot say.  What can be told is told: columns the log holds twice
 * (daddr and dkey, family and dkey), values that contradict each other
 * (first_ts after ts, a count below 1, a verdict against its rule's
 * action, a qtype on a row that is no DNS query, unknown kind or verdict),
 * and a dimension row (a process's exe and command line, a cgroup's path
 * and container, a rule) edited under every row that names it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "agent/db_int.h"
#include "agent/db_verify_fast.h"

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

/* A finding, kept until the walk ends (then sorted by row). */
struct finding {
	uint64_t id; /* row it concerns (UINT64_MAX: after the rows) */
	char *text;
};

#define NDIM 5

/* A row whose contents do not match its hash. */
struct edited {
	uint64_t id;
	int64_t dim[NDIM]; /* proc, cgroup, rule, lineage, host (0: none) */
	char why[256];	   /* what the row's own columns say, or "" */
	bool by_dim;	   /* explained by a dimension row */
	bool quiet;	   /* ... and told on the dimension's line */
	int open;	   /* 1: the next row did not link either; 2: the last row */
};

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
	/* A bad row waiting for its successor to tell what happened. */
	bool pending;
	uint64_t pend_id;
	uint8_t pend_stored[DB_HASH_LEN], pend_before[DB_HASH_LEN];
	struct finding *f;
	size_t nf, fcap;
	struct edited *ed;
	size_t ned, edcap;
	sqlite3_stmt *dims;	     /* proc, cgroup, rule, lineage, host of a row */
	sqlite3_stmt *one;	     /* one row of the log by id, for the exact walk */
	uint8_t before[DB_HASH_LEN]; /* stored hash of the row the last seen */
	bool oom;
};

__attribute__((format(printf, 3, 4))) static void add(struct walk *w, uint64_t id, const char *fmt,
						      ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s || GROW(w->f, w->fcap, w->nf + 1, 16)) {
		free(s);
		w->oom = true;
		return;
	}
	w->f[w->nf++] = (struct finding){.id = id, .text = s};
}

static const char *txt(sqlite3_stmt *st, int c)
{
	return (const char *)sqlite3_column_text(st, c);
}

/* What the row's own columns give away about an edit (why: "" if nothing). */
static void suspect(sqlite3_stmt *st, char *why, size_t len)
{
	const char *kind = txt(st, DB_C_KIND), *verdict = txt(st, DB_C_VERDICT);
	const char *daddr = txt(st, DB_C_DADDR), *rule = txt(st, DB_C_RULE_TEXT);
	const char *hook = txt(st, DB_C_HOOK);
	int64_t ts = sqlite3_column_int64(st, DB_C_TS),
		fts = sqlite3_column_int64(st, DB_C_FIRST_TS);
	const uint8_t *dkey = sqlite3_column_blob(st, DB_C_DKEY);
	bool v4 = false;
	uint8_t k[16] = {0};

	why[0] = 0;
	if (!kind || (strcmp(kind, "attempt") && strcmp(kind, "gap") && strcmp(kind, "note"))) {
		snprintf(why, len, "column kind: \"%s\" is no kind hush writes", kind ? kind : "");
		return;
	}
	if (verdict && strcmp(verdict, "allow") && strcmp(verdict, "deny") &&
	    strcmp(verdict, "audit")) {
		snprintf(why, len, "column verdict: \"%s\" is no verdict hush writes", verdict);
		return;
	}
	if (fts > ts) {
		snprintf(why, len, "column ts or first_ts: the first attempt is after the last");
		return;
	}
	if (strcmp(kind, "attempt") == 0 && sqlite3_column_int64(st, DB_C_COUNT) < 1) {
		snprintf(why, len, "column count: %lld attempts",
			 (long long)sqlite3_column_int64(st, DB_C_COUNT));
		return;
	}
	if (daddr && dkey && sqlite3_column_bytes(st, DB_C_DKEY) == 16) {
		if (inet_pton(AF_INET, daddr, k + 12) == 1) {
			k[10] = k[11] = 0xff;
			v4 = true;
		} else if (inet_pton(AF_INET6, daddr, k) != 1) {
			snprintf(why, len, "column daddr: \"%s\" is no address", daddr);
			return;
		}
		if (memcmp(k, dkey, 16) != 0) {
			snprintf(why, len,
				 "column daddr or dkey: daddr %s is not the address dkey holds",
				 daddr);
			return;
		}
		if (sqlite3_column_type(st, DB_C_FAMILY) == SQLITE_INTEGER &&
		    sqlite3_column_int(st, DB_C_FAMILY) != (v4 ? 4 : 6)) {
			snprintf(why, len, "column family: %d for %s",
				 sqlite3_column_int(st, DB_C_FAMILY), daddr);
			return;
		}
	}
	if (verdict && rule &&
	    ((strcmp(verdict, "allow") == 0 && strncmp(rule, "deny", 4) == 0) ||
	     (strcmp(verdict, "deny") == 0 && strncmp(rule, "allow", 5) == 0))) {
		snprintf(why, len, "column verdict or the rule: %s by \"%s\"", verdict, rule);
		return;
	}
	if (sqlite3_column_type(st, DB_C_QTYPE) != SQLITE_NULL && hook && strcmp(hook, "dns")) {
		snprintf(why, len, "column qtype: set on a %s row (only DNS queries have one)",
			 hook);
		return;
	}
}

/* The row at st does not link: remember it (and what its columns say)
 * until its successor shows whether it was edited or inserted. */
static void hold(struct walk *w, sqlite3_stmt *st, uint64_t id, const uint8_t stored[DB_HASH_LEN])
{
	struct edited *e;
	sqlite3_stmt *q;

	w->pending = true;
	w->pend_id = id;
	memcpy(w->pend_stored, stored, DB_HASH_LEN);
	memcpy(w->pend_before, w->prev, DB_HASH_LEN);
	if (GROW(w->ed, w->edcap, w->ned + 1, 16)) {
		w->oom = true;
		return;
	}
	e = &w->ed[w->ned++];
	memset(e, 0, sizeof(*e));
	e->id = id;
	suspect(st, e->why, sizeof(e->why));
	if (!w->dims &&
	    sqlite3_prepare_v2(w->db->h,
			       "SELECT proc, cgroup, rule, lineage, host FROM events WHERE id = ?",
			       -1, &w->dims, NULL) != SQLITE_OK)
		return;
	q = w->dims;
	sqlite3_bind_int64(q, 1, (int64_t)id);
	if (sqlite3_step(q) == SQLITE_ROW)
		for (int i = 0; i < NDIM; i++)
			e->dim[i] = sqlite3_column_int64(q, i);
	sqlite3_reset(q);
}

static struct edited *edited_row(struct walk *w, uint64_t id)
{
	for (size_t i = w->ned; i-- > 0;)
		if (w->ed[i].id == id)
			return &w->ed[i];
	return NULL;
}

/*
 * The pending row's fate, told by the row at st (NULL: there is none, or
 * ids jump after it).  Sets prev for the row at st.
 */
static void settle(struct walk *w, sqlite3_stmt *st)
{
	struct edited *e = edited_row(w, w->pend_id);

	w->pending = false;
	if (st && links(st, w->pend_before, w->md)) {
		add(w, w->pend_id, "row %llu: inserted (the next row links to row %llu)",
		    (unsigned long long)w->pend_id, (unsigned long long)w->pend_id - 1);
		if (e)
			e->id = 0; /* not an edit */
		memcpy(w->prev, w->pend_before, DB_HASH_LEN);
		return;
	}
	memcpy(w->prev, w->pend_stored, DB_HASH_LEN);
	if (st && links(st, w->pend_stored, w->md))
		return; /* edited: written with the dimension analysis */
	/* The next row does not link either (edited too, or a broken
	 * stretch), or there is none: told with the dimension analysis,
	 * which may explain both. */
	if (e)
		e->open = st ? 1 : 2;
}

/* Ids jump from w->expect to id: rows deleted (or out of order). */
static void bad_id(struct walk *w, uint64_t id)
{
	uint64_t expect = w->expect;

	if (id < expect)
		add(w, id, "row %llu: out of order", (unsigned long long)id);
	else if (id == expect + 1)
		add(w, expect, "row %llu: deleted (the chain jumps from row %llu to row %llu)",
		    (unsigned long long)expect, (unsigned long long)expect - 1,
		    (unsigned long long)id);
	else
		add(w, expect, "rows %llu..%llu: deleted (the chain jumps to row %llu)",
		    (unsigned long long)expect, (unsigned long long)id - 1, (unsigned long long)id);
}

/* One row of the walk. */
static void check_row(struct walk *w, sqlite3_stmt *st)
{
	uint64_t id = (uint64_t)sqlite3_column_int64(st, DB_C_ID);
	uint8_t stored[DB_HASH_LEN] = {0};
	const char *kind = txt(st, DB_C_KIND), *note = txt(st, DB_C_NOTE);

	if (sqlite3_column_bytes(st, DB_C_HASH) == DB_HASH_LEN)
		memcpy(stored, sqlite3_column_blob(st, DB_C_HASH), DB_HASH_LEN);
	if (w->pending)
		settle(w, id == w->pend_id + 1 ? st : NULL);
	bool check = true;

	if (id != w->expect) {
		bad_id(w, id);
		/* Its predecessor is gone: its link cannot be checked; the
		 * walk goes on from its stored hash. */
		check = links(st, w->prev, w->md);
	}
	w->expect = id + 1;
	w->last = id;
	if (check && !links(st, w->prev, w->md)) {
		hold(w, st, id, stored);
		return;
	}
	if (kind && note && strcmp(kind, "note") == 0 && strncmp(note, "TAMPER:", 7) == 0)
		add(w, id, "row %llu: hushd recorded: %s", (unsigned long long)id,
		    note + 7 + (note[7] == ' '));
	if (w->have_head && id == w->head_id) {
		w->head_seen = true;
		if (memcmp(stored, w->hh, DB_HASH_LEN) != 0)
			add(w, id,
			    "row %llu: does not match the chain head kept outside the database "
			    "(rows rewritten)",
			    (unsigned long long)id);
	}
	memcpy(w->prev, stored, DB_HASH_LEN);
	w->n++;
}

/* The log's columns (DB_LOG_COLUMNS) of one row, read from the tables as
 * the view "log" joins them (db.c), not through the view: what verify
 * checks does not depend on a view that can be redefined. */
#define ONE_ROW_SQL                                                                                \
	"SELECT e.id, e.kind, e.ts, e.first_ts, e.count, e.hook, e.verdict, r.scope, r.text,"      \
	" e.family, e.proto, e.daddr, e.dkey, e.dport, e.qname, e.flags, e.pid, e.tgid, e.uid,"    \
	" e.gid, e.comm, p.exe, p.cmdline, c.cgid, c.path, c.container, c.runtime, c.unit, c.pod," \
	" e.note, e.hash, e.qtype, NULLIF(c.cname, ''), NULLIF(c.image, ''),"                      \
	" NULLIF(c.image_id, ''), NULLIF(c.pod_ns, ''), NULLIF(c.pod_name, ''), e.ppid,"           \
	" l.ancestry, NULLIF(h.hostname, ''), NULLIF(h.host_id, '')"                               \
	" FROM events e LEFT JOIN rules r ON r.id = e.rule LEFT JOIN procs p ON p.id = e.proc"     \
	" LEFT JOIN cgroups c ON c.id = e.cgroup LEFT JOIN lineages l ON l.id = e.lineage"         \
	" LEFT JOIN hosts h ON h.id = e.host WHERE e.id = ?"

static uint64_t exact_rows;

uint64_t db_verify_exact_rows(void)
{
	return exact_rows;
}

/* Row id the exact way: read through the join, checked by check_row(). */
static int exact_row(struct walk *w, uint64_t id)
{
	int rc;

	exact_rows++;

	if (!w->one) {
		rc = sqlite3_prepare_v2(w->db->h, ONE_ROW_SQL, -1, &w->one, NULL);
		if (rc != SQLITE_OK)
			return db_sql_err(w->db, w->msg, w->msglen, rc, "cannot read");
	}
	sqlite3_bind_int64(w->one, 1, (int64_t)id);
	rc = sqlite3_step(w->one);
	if (rc == SQLITE_ROW)
		check_row(w, w->one);
	sqlite3_reset(w->one);
	if (rc == SQLITE_DONE)
		rc = SQLITE_CORRUPT; /* in events, but not in the same snapshot? */
	if (rc != SQLITE_ROW)
		return db_sql_err(w->db, w->msg, w->msglen, rc, "cannot read");
	return w->oom ? db_fail(w->msg, w->msglen, -ENOMEM, "out of memory") : 0;
}

/*
 * A row from the fast reader.  check_row() on a row that links, with no
 * row pending, the id expected, the walk's hash the one it was hashed
 * after, no note and not the head row, does only this: the walk goes on
 * from its stored hash.  Every other row gets check_row() itself.
 */
static int fast_row(void *ctx, const struct vf_row *r)
{
	struct walk *w = ctx;
	int ret = 0;

	if (r->links && !r->special && !w->pending && r->id == w->expect &&
	    !(w->have_head && r->id == w->head_id) &&
	    memcmp(w->prev, w->before, DB_HASH_LEN) == 0) {
		w->expect = r->id + 1;
		w->last = r->id;
		memcpy(w->prev, r->stored, DB_HASH_LEN);
		w->n++;
	} else {
		ret = exact_row(w, r->id);
	}
	memcpy(w->before, r->stored, DB_HASH_LEN);
	return ret;
}

/* Every row through the view, each hashed as it is read (HUSH_VERIFY_VIEW=1,
 * or tables without a column the chain covers): as verify walked before
 * the fast reader, which the unit tests compare it with. */
static int walk_view(struct walk *w)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = 0;

	rc = sqlite3_prepare_v2(w->db->h, "SELECT " DB_LOG_COLUMNS " FROM log ORDER BY id", -1, &st,
				NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(w->db, w->msg, w->msglen, rc, "cannot read");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !w->oom)
		check_row(w, st);
	if (rc != SQLITE_DONE && !w->oom)
		ret = db_sql_err(w->db, w->msg, w->msglen, rc, "cannot read");
	sqlite3_finalize(st);
	return ret;
}

static int walk_rows(struct walk *w)
{
	const char *view = getenv("HUSH_VERIFY_VIEW");
	int ret = 1;

	exact_rows = 0;
	if (!view || strcmp(view, "1") != 0) {
		memcpy(w->before, w->prev, DB_HASH_LEN);
		ret = db_verify_fast(w->db, w->prev, fast_row, w, w->msg, w->msglen);
	}
	if (ret == 1)
		ret = walk_view(w);
	if (!ret && w->pending)
		settle(w, NULL);
	return ret;
}

static const char *const dim_table[NDIM] = {"procs", "cgroups", "rules", "lineages", "hosts"};
static const char *const dim_col[NDIM] = {"proc", "cgroup", "rule", "lineage", "host"};
static const char *const dim_what[NDIM] = {
    "its process record (exe, command line)",
    "its cgroup record (path, container, runtime, unit, pod)",
    "its rule record (scope, text)",
    "its lineage record (ancestry)",
    "its host record (hostname, host id)",
};

/* Rows in events naming dimension d's row id. */
static int64_t dim_rows(struct walk *w, int d, int64_t id)
{
	char sql[96];
	sqlite3_stmt *q;
	int64_t n = -1;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM events WHERE %s = ?", dim_col[d]);
	if (sqlite3_prepare_v2(w->db->h, sql, -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, id);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

struct dimref {
	int64_t key;
	uint64_t id;
	size_t i;
};

static int cmp_dimref(const void *a, const void *b)
{
	const struct dimref *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* One group of edited rows naming dimension row g[0].key: if they are all
 * the rows naming it, the dimension row was edited; one line says so (the
 * rows listed), and the rows but the first need no line of their own. */
static void dim_group(struct walk *w, int d, const struct dimref *g, size_t n)
{
	char rows[160] = "";
	size_t off = 0;
	int64_t all;

	if (n < 2 || (all = dim_rows(w, d, g[0].key)) != (int64_t)n)
		return;
	for (size_t k = 0; k < n && k < 8; k++)
		off += (size_t)snprintf(rows + off, sizeof(rows) - off, "%s%llu", k ? ", " : "",
					(unsigned long long)g[k].id);
	add(w, g[0].id,
	    "%s row %lld: edited: all %lld rows naming it fail to match their hashes (rows "
	    "%s%s)",
	    dim_table[d], (long long)g[0].key, (long long)all, rows, n > 8 ? ", ..." : "");
	for (size_t k = 0; k < n; k++) {
		struct edited *e = &w->ed[g[k].i];

		if (e->why[0] && !e->by_dim)
			continue; /* its own columns say more */
		e->by_dim = true;
		e->quiet = k > 0;
		snprintf(e->why, sizeof(e->why), "%s", dim_what[d]);
	}
}

/* Edited rows that share a dimension row, and are all the rows naming it:
 * the dimension row was edited.  Sorted by the dimension's id, so a
 * dimension under a million rows costs a sort, not a million scans. */
static void dimensions(struct walk *w)
{
	struct dimref *r = calloc(w->ned + 1, sizeof(*r));

	if (!r) {
		w->oom = true;
		return;
	}
	for (int d = 0; d < NDIM; d++) {
		size_t n = 0;

		for (size_t i = 0; i < w->ned; i++)
			if (w->ed[i].id && w->ed[i].dim[d] && !w->ed[i].by_dim)
				r[n++] = (struct dimref){w->ed[i].dim[d], w->ed[i].id, i};
		if (n)
			qsort(r, n, sizeof(*r), cmp_dimref);
		for (size_t i = 0; i < n;) {
			size_t j = i + 1;

			while (j < n && r[j].key == r[i].key)
				j++;
			dim_group(w, d, &r[i], j - i);
			i = j;
		}
	}
	free(r);
	for (size_t i = 0; i < w->ned; i++) {
		const struct edited *e = &w->ed[i];

		if (!e->id || e->quiet)
			continue;
		if (e->why[0])
			add(w, e->id, "row %llu: edited (%s%s)", (unsigned long long)e->id,
			    e->by_dim ? "the change is in " : "", e->why);
		else if (e->open)
			add(w, e->id,
			    e->open == 1
				? "row %llu: chain broken (the next row links neither to "
				  "it nor to the row before it: rows edited, inserted or "
				  "deleted here)"
				: "row %llu: edited or inserted (its contents do not match "
				  "its hash)",
			    (unsigned long long)e->id);
		else
			add(w, e->id,
			    "row %llu: edited (its contents do not match its hash, or rows "
			    "before it were deleted and the ids renumbered; the chain hashes a "
			    "row whole, and none of its columns contradicts another)",
			    (unsigned long long)e->id);
	}
}

/* A moved chain start must be the one a prune recorded. */
static void check_anchor(struct walk *w)
{
	char want[128], hx[2 * DB_HASH_LEN + 1];
	sqlite3_stmt *q;
	bool found = false;

	if (w->aid <= 1)
		return;
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
	if (!found)
		add(w, 0,
		    "rows before %llu deleted: the chain start was moved without a prune "
		    "record",
		    (unsigned long long)w->aid);
}

static int cmp_finding(const void *a, const void *b)
{
	const struct finding *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static void walk_free(struct walk *w)
{
	for (size_t i = 0; i < w->nf; i++)
		free(w->f[i].text);
	free(w->f);
	free(w->ed);
	sqlite3_finalize(w->dims);
	sqlite3_finalize(w->one);
	EVP_MD_CTX_free(w->md);
}

int db_verify_each(struct db *db, uint64_t head_id, const uint8_t *head_hash, uint64_t *rows,
		   uint64_t *findings, db_finding_fn fn, void *ctx, char *msg, size_t msglen)
{
	struct walk w = {.db = db, .msg = msg, .msglen = msglen};
	int ret;

	*rows = 0;
	*findings = 0;
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
	dimensions(&w);
	if (w.have_head && !w.head_seen && w.head_id >= w.expect)
		add(&w, UINT64_MAX,
		    "tail truncated: the chain head names row %llu, the database ends at row %llu "
		    "(rows %llu..%llu deleted)",
		    (unsigned long long)w.head_id, (unsigned long long)w.last,
		    (unsigned long long)w.last + 1, (unsigned long long)w.head_id);
	check_anchor(&w);
	if (w.oom) {
		ret = db_fail(msg, msglen, -ENOMEM, "out of memory");
		goto out;
	}
	if (w.nf)
		qsort(w.f, w.nf, sizeof(*w.f), cmp_finding);
	for (size_t i = 0; i < w.nf; i++)
		fn(ctx, w.f[i].text);
	*rows = w.n;
	*findings = w.nf;
	if (w.nf)
		ret = db_fail(msg, msglen, 1, "%zu finding%s in %llu rows", w.nf,
			      w.nf == 1 ? "" : "s", (unsigned long long)w.last);
	else if (w.have_head)
		db_fail(msg, msglen, 0, "intact, %llu rows", (unsigned long long)w.n);
	else
		db_fail(msg, msglen, 0,
			"intact, %llu rows (no chain head file %s.head: a truncated tail would not "
			"show; keep `hush log verify` heads off the host)",
			(unsigned long long)w.n, db->path);
out:
	sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	walk_free(&w);
	return ret;
}

/* db_verify: the findings, one per line, into msg. */
struct joined {
	char *msg;
	size_t len, off;
	size_t dropped;
};

static void join_finding(void *ctx, const char *f)
{
	struct joined *j = ctx;
	size_t n = strlen(f);

	if (j->off + n + 2 + 32 > j->len) {
		j->dropped++;
		return;
	}
	j->off += (size_t)snprintf(j->msg + j->off, j->len - j->off, "%s%s", j->off ? "\n" : "", f);
}

int db_verify(struct db *db, uint64_t head_id, const uint8_t *head_hash, uint64_t *rows, char *msg,
	      size_t msglen)
{
	char sum[256];
	struct joined j = {.msg = msg, .len = msglen};
	uint64_t nf;
	int ret;

	if (msglen)
		msg[0] = 0;
	ret = db_verify_each(db, head_id, head_hash, rows, &nf, join_finding, &j, sum, sizeof(sum));
	if (ret <= 0 || !msglen) {
		if (msglen && (ret < 0 || nf == 0))
			snprintf(msg, msglen, "%s", sum);
		return ret;
	}
	if (j.dropped)
		snprintf(msg + j.off, msglen - j.off, "\n... and %zu more", j.dropped);
	return ret;
}

void db_tamper_alarm(const char *path, uint64_t findings, const char *first)
{
	openlog("hush", LOG_PID, LOG_AUTHPRIV);
	syslog(LOG_ALERT, "TAMPER: %s: %llu finding%s, the first: %s", path,
	       (unsigned long long)findings, findings == 1 ? "" : "s", first ? first : "?");
	closelog();
}

/* "<db>.verify": "TIME_NS ROWS FINDINGS\n", replaced atomically. */
int db_verify_status_write(const char *dbpath, uint64_t rows, uint64_t findings)
{
	char path[PATH_MAX], tmp[PATH_MAX + 16];
	FILE *f;
	int ret = 0;

	if (snprintf(path, sizeof(path), "%s.verify", dbpath) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%lld %llu %llu\n", (long long)real_ns(), (unsigned long long)rows,
		(unsigned long long)findings);
	if (fflush(f) || fchmod(fileno(f), 0640))
		ret = -errno;
	if (fclose(f) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int db_verify_status_read(const char *dbpath, int64_t *ts, uint64_t *rows, uint64_t *findings)
{
	char path[PATH_MAX];
	long long t;
	unsigned long long r, n;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s.verify", dbpath);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	ok = fscanf(f, "%lld %llu %llu", &t, &r, &n) == 3;
	fclose(f);
	if (!ok)
		return -EINVAL;
	*ts = t;
	*rows = r;
	*findings = n;
	return 0;
}
