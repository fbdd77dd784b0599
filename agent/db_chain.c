// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The hash chain (see db.h): hashing a row, dimension rows and their
 * caches, appending rows in one transaction, the chain head file, marks and
 * running totals.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/db_int.h"

#define DIM_INIT 1024

/* ---- dimension caches ---- */

static uint64_t fnv(const char *s)
{
	return fnv1a64_str(FNV64_INIT, s);
}

void db_dim_clear(struct dim_cache *c)
{
	for (size_t i = 0; i < c->cap; i++)
		free(c->ents[i].key);
	free(c->ents);
	memset(c, 0, sizeof(*c));
}

static int64_t dim_get(const struct dim_cache *c, const char *key)
{
	if (!c->cap)
		return 0;
	for (size_t i = fnv(key) & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
		if (!c->ents[i].key)
			return 0;
		if (strcmp(c->ents[i].key, key) == 0)
			return c->ents[i].id;
	}
}

static void dim_put(struct dim_cache *c, const char *key, int64_t id)
{
	char *k;

	if (c->n * 2 >= c->cap) {
		struct dim_cache nc = {.cap = c->cap ? c->cap * 2 : DIM_INIT};

		/* Bound the cache: past 64k keys start again (rows stay right). */
		if (nc.cap > 65536) {
			db_dim_clear(c);
			nc.cap = DIM_INIT;
		}
		nc.ents = calloc(nc.cap, sizeof(*nc.ents));
		if (!nc.ents)
			return;
		for (size_t i = 0; i < c->cap; i++) {
			size_t j;

			if (!c->ents[i].key)
				continue;
			for (j = fnv(c->ents[i].key) & (nc.cap - 1); nc.ents[j].key;
			     j = (j + 1) & (nc.cap - 1))
				;
			nc.ents[j] = c->ents[i];
			nc.n++;
		}
		free(c->ents);
		*c = nc;
	}
	k = strdup(key);
	if (!k)
		return;
	size_t i = fnv(key) & (c->cap - 1);

	while (c->ents[i].key)
		i = (i + 1) & (c->cap - 1);
	c->ents[i].key = k;
	c->ents[i].id = id;
	c->n++;
}

/* ---- the chain ---- */

static void h_int(struct hval *v, int64_t i)
{
	v->type = SQLITE_INTEGER;
	v->i = i;
}

static void h_text(struct hval *v, const char *s)
{
	if (!s || !*s) {
		v->type = SQLITE_NULL;
		return;
	}
	v->type = SQLITE_TEXT;
	v->p = s;
	v->len = strlen(s);
}

/* The encoding of a row is gathered here and hashed in one update (a call
 * per value cost more than the hash of the few hundred bytes). */
struct hbuf {
	EVP_MD_CTX *md;
	uint8_t b[1024];
	size_t n;
};

static void hb_put(struct hbuf *h, const void *p, size_t len)
{
	if (h->n + len > sizeof(h->b)) {
		EVP_DigestUpdate(h->md, h->b, h->n);
		h->n = 0;
		if (len > sizeof(h->b)) {
			EVP_DigestUpdate(h->md, p, len);
			return;
		}
	}
	memcpy(h->b + h->n, p, len);
	h->n += len;
}

void db_hash_vals(EVP_MD_CTX *md, const uint8_t prev[DB_HASH_LEN], const struct hval *v, size_t n,
		  uint8_t out[DB_HASH_LEN])
{
	unsigned int olen = DB_HASH_LEN;
	struct hbuf h = {.md = md, .n = 0};

	/* After the first row the context keeps its fetched SHA-256: no
	 * implicit fetch per row. */
	if (EVP_MD_CTX_get0_md(md))
		EVP_DigestInit_ex2(md, NULL, NULL);
	else
		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	hb_put(&h, prev, DB_HASH_LEN);
	for (size_t k = 0; k < n; k++) {
		uint8_t b[9];

		switch (v[k].type) {
		case SQLITE_INTEGER:
			b[0] = 'i';
			for (int j = 0; j < 8; j++)
				b[1 + j] = (uint8_t)((uint64_t)v[k].i >> (56 - 8 * j));
			hb_put(&h, b, 9);
			break;
		case SQLITE_TEXT:
		case SQLITE_BLOB:
			b[0] = v[k].type == SQLITE_TEXT ? 't' : 'b';
			for (int j = 0; j < 4; j++)
				b[1 + j] = (uint8_t)((uint32_t)v[k].len >> (24 - 8 * j));
			hb_put(&h, b, 5);
			hb_put(&h, v[k].p, v[k].len);
			break;
		default:
			b[0] = 'n';
			hb_put(&h, b, 1);
			break;
		}
	}
	EVP_DigestUpdate(md, h.b, h.n);
	EVP_DigestFinal_ex(md, out, &olen);
}

void db_stmt_val(sqlite3_stmt *st, int c, struct hval *v)
{
	v->type = sqlite3_column_type(st, c);
	switch (v->type) {
	case SQLITE_INTEGER:
		v->i = sqlite3_column_int64(st, c);
		break;
	case SQLITE_TEXT:
		v->p = sqlite3_column_text(st, c);
		v->len = (size_t)sqlite3_column_bytes(st, c);
		break;
	case SQLITE_BLOB:
		v->p = sqlite3_column_blob(st, c);
		v->len = (size_t)sqlite3_column_bytes(st, c);
		break;
	case SQLITE_FLOAT: /* never written; hash its text so it cannot match */
		v->type = SQLITE_TEXT;
		v->p = sqlite3_column_text(st, c);
		v->len = (size_t)sqlite3_column_bytes(st, c);
		break;
	default:
		v->type = SQLITE_NULL;
	}
}

/* v at fixed places (qtype at HV_QTYPE, names from HV_CNAME) into the hashed
 * sequence, in place; returns how many. */
static size_t hv_pack(struct hval v[HV_MAX])
{
	size_t n = DB_C_HASH;
	bool names = false;

	/* (type 0: never set, as NULL) */
	if (v[HV_QTYPE].type && v[HV_QTYPE].type != SQLITE_NULL)
		v[n++] = v[HV_QTYPE];
	bool lin = false;

	for (int k = 0; k < 5; k++)
		names |= v[HV_CNAME + k].type && v[HV_CNAME + k].type != SQLITE_NULL;
	for (int k = 0; k < 4; k++)
		lin |= v[HV_LIN + k].type && v[HV_LIN + k].type != SQLITE_NULL;
	if (names) {
		v[n].type = SQLITE_TEXT;
		v[n].p = "container";
		v[n].len = 9;
		n++;
		for (int k = 0; k < 5; k++)
			v[n++] = v[HV_CNAME + k];
	}
	/* Since 6: the lineage, after its own marker (n < HV_LIN: no overlap). */
	if (lin) {
		v[n].type = SQLITE_TEXT;
		v[n].p = "lineage";
		v[n].len = 7;
		n++;
		for (int k = 0; k < 4; k++)
			v[n++] = v[HV_LIN + k];
	}
	return n;
}

/* The hashed values of the log row at st; returns how many. */
size_t db_stmt_vals(sqlite3_stmt *st, struct hval v[HV_MAX])
{
	int cols = sqlite3_column_count(st);

	memset(v, 0, sizeof(*v) * HV_MAX);
	for (int k = 0; k < DB_C_HASH; k++)
		db_stmt_val(st, k, &v[k]);
	if (cols > DB_C_QTYPE)
		db_stmt_val(st, DB_C_QTYPE, &v[HV_QTYPE]);
	for (int k = 0; k < 5 && cols > DB_C_CNAME + k; k++)
		db_stmt_val(st, DB_C_CNAME + k, &v[HV_CNAME + k]);
	for (int k = 0; k < 4 && cols > DB_C_PPID + k; k++)
		db_stmt_val(st, DB_C_PPID + k, &v[HV_LIN + k]);
	return hv_pack(v);
}

void db_row_hash_stmt(sqlite3_stmt *st, const uint8_t prev[DB_HASH_LEN], uint8_t out[DB_HASH_LEN])
{
	struct hval v[HV_MAX];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t n = db_stmt_vals(st, v);

	if (md) {
		db_hash_vals(md, prev, v, n, out);
		EVP_MD_CTX_free(md);
	} else {
		memset(out, 0, DB_HASH_LEN);
	}
}

/* The hashed values for a row about to be written (log columns in order,
 * then qtype if set); returns how many. */
static size_t row_vals(const struct db_row *r, int64_t id, struct hval v[HV_MAX])
{
	memset(v, 0, sizeof(*v) * HV_MAX);
	h_int(&v[DB_C_ID], id);
	h_text(&v[DB_C_KIND], r->kind);
	h_int(&v[DB_C_TS], r->ts);
	h_int(&v[DB_C_FIRST_TS], r->first_ts);
	h_int(&v[DB_C_COUNT], r->count);
	h_text(&v[DB_C_HOOK], r->hook);
	h_text(&v[DB_C_VERDICT], r->verdict);
	if (r->rule_scope && *r->rule_scope && r->rule_text && *r->rule_text) {
		h_text(&v[DB_C_RULE_SCOPE], r->rule_scope);
		h_text(&v[DB_C_RULE_TEXT], r->rule_text);
	}
	if (r->family)
		h_int(&v[DB_C_FAMILY], r->family);
	h_text(&v[DB_C_PROTO], r->proto);
	if (r->has_dest) {
		h_text(&v[DB_C_DADDR], r->daddr);
		v[DB_C_DKEY].type = SQLITE_BLOB;
		v[DB_C_DKEY].p = r->dkey;
		v[DB_C_DKEY].len = 16;
		h_int(&v[DB_C_DPORT], r->dport);
	}
	h_text(&v[DB_C_QNAME], r->qname);
	if (r->flags >= 0)
		h_int(&v[DB_C_FLAGS], r->flags);
	if (r->has_proc_ids) {
		h_int(&v[DB_C_PID], r->pid);
		h_int(&v[DB_C_TGID], r->tgid);
		h_int(&v[DB_C_UID], r->uid);
		h_int(&v[DB_C_GID], r->gid);
		h_text(&v[DB_C_COMM], r->comm);
	}
	if (r->exe && *r->exe) {
		h_text(&v[DB_C_EXE], r->exe);
		h_text(&v[DB_C_CMDLINE], r->cmdline && *r->cmdline ? r->cmdline : "[]");
		if (v[DB_C_CMDLINE].type == SQLITE_NULL)
			h_text(&v[DB_C_CMDLINE], "[]");
	}
	if (r->has_cgroup) {
		h_int(&v[DB_C_CGID], (int64_t)r->cgid);
		h_text(&v[DB_C_CGROUP_PATH],
		       r->cgroup_path && *r->cgroup_path ? r->cgroup_path : "?");
		h_text(&v[DB_C_CONTAINER], r->container);
		h_text(&v[DB_C_RUNTIME], r->runtime);
		h_text(&v[DB_C_UNIT], r->unit);
		h_text(&v[DB_C_POD], r->pod);
	}
	h_text(&v[DB_C_NOTE], r->note);
	h_text(&v[HV_QTYPE], r->qtype);
	if (r->has_cgroup) {
		h_text(&v[HV_CNAME], r->cname);
		h_text(&v[HV_CNAME + 1], r->image);
		h_text(&v[HV_CNAME + 2], r->image_id);
		h_text(&v[HV_CNAME + 3], r->pod_ns);
		h_text(&v[HV_CNAME + 4], r->pod_name);
	}
	if (r->has_ppid)
		h_int(&v[HV_LIN], r->ppid);
	h_text(&v[HV_LIN + 1], r->ancestry);
	h_text(&v[HV_LIN + 2], r->hostname);
	h_text(&v[HV_LIN + 3], r->host_id);
	return HV_MAX;
}

static void bind_val(sqlite3_stmt *st, int idx, const struct hval *v)
{
	switch (v->type) {
	case SQLITE_INTEGER:
		sqlite3_bind_int64(st, idx, v->i);
		break;
	case SQLITE_TEXT:
		sqlite3_bind_text(st, idx, v->p, (int)v->len, SQLITE_STATIC);
		break;
	case SQLITE_BLOB:
		sqlite3_bind_blob(st, idx, v->p, (int)v->len, SQLITE_STATIC);
		break;
	default:
		sqlite3_bind_null(st, idx);
	}
}

/* Run an insert-or-ignore then a select for a dimension row; cache the id. */
static int dim_id(struct db *db, struct dim_cache *c, sqlite3_stmt *ins, sqlite3_stmt *sel,
		  const struct hval *a, int na, int64_t *id)
{
	char key[2048];
	size_t off = 0;
	int rc;

	for (int k = 0; k < na && off < sizeof(key); k++) {
		if (a[k].type == SQLITE_INTEGER)
			off += (size_t)snprintf(key + off, sizeof(key) - off, "%lld\x1f",
						(long long)a[k].i);
		else if (a[k].type == SQLITE_TEXT)
			off += (size_t)snprintf(key + off, sizeof(key) - off, "%.*s\x1f",
						(int)a[k].len, (const char *)a[k].p);
		else
			off += (size_t)snprintf(key + off, sizeof(key) - off, "\x1e\x1f");
	}
	if (off >= sizeof(key))
		key[sizeof(key) - 1] = 0; /* long keys still work: the select decides */
	*id = off < sizeof(key) ? dim_get(c, key) : 0;
	if (*id)
		return SQLITE_OK;
	for (int k = 0; k < na; k++)
		bind_val(ins, k + 1, &a[k]);
	rc = sqlite3_step(ins);
	sqlite3_reset(ins);
	sqlite3_clear_bindings(ins);
	if (rc != SQLITE_DONE)
		return rc;
	/* The select names the unique key columns, the first of a[]. */
	for (int k = 0; k < na && k < sqlite3_bind_parameter_count(sel); k++)
		bind_val(sel, k + 1, &a[k]);
	rc = sqlite3_step(sel);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(sel, 0);
		rc = SQLITE_OK;
	}
	sqlite3_reset(sel);
	sqlite3_clear_bindings(sel);
	if (rc == SQLITE_OK && off < sizeof(key))
		dim_put(c, key, *id);
	return rc == SQLITE_OK ? SQLITE_OK : rc == SQLITE_DONE ? SQLITE_ERROR : rc;
}

void db_anchor_get(struct db *db, uint64_t *id, uint8_t hash[DB_HASH_LEN])
{
	sqlite3_stmt *st;

	*id = 1;
	memset(hash, 0, DB_HASH_LEN);
	if (sqlite3_prepare_v2(db->h,
			       "SELECT (SELECT value FROM meta WHERE key = 'anchor_id'),"
			       " (SELECT value FROM meta WHERE key = 'anchor_hash')",
			       -1, &st, NULL) != SQLITE_OK)
		return;
	if (sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) == SQLITE_INTEGER)
			*id = (uint64_t)sqlite3_column_int64(st, 0);
		if (sqlite3_column_type(st, 1) == SQLITE_BLOB &&
		    sqlite3_column_bytes(st, 1) == DB_HASH_LEN)
			memcpy(hash, sqlite3_column_blob(st, 1), DB_HASH_LEN);
	}
	sqlite3_finalize(st);
}

/* Chain tail inside the current transaction. */
int db_tail(struct db *db, uint64_t *last_id, uint8_t hash[DB_HASH_LEN])
{
	int rc = sqlite3_step(db->last_row);

	if (rc == SQLITE_ROW) {
		*last_id = (uint64_t)sqlite3_column_int64(db->last_row, 0);
		if (sqlite3_column_bytes(db->last_row, 1) == DB_HASH_LEN)
			memcpy(hash, sqlite3_column_blob(db->last_row, 1), DB_HASH_LEN);
		else
			memset(hash, 0, DB_HASH_LEN);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		uint64_t aid;

		db_anchor_get(db, &aid, hash);
		*last_id = aid - 1;
		rc = SQLITE_OK;
	}
	sqlite3_reset(db->last_row);
	return rc;
}

/* Insert rows inside an open transaction, extending the chain. */
static int insert_rows(struct db *db, const struct db_row *rows, size_t n, uint64_t *last_id,
		       uint8_t hash[DB_HASH_LEN]);

static uint64_t tamper_noted;

uint64_t db_tamper_noted(void)
{
	return __atomic_load_n(&tamper_noted, __ATOMIC_RELAXED);
}

/*
 * Before extending the chain: does the database still reach the head we
 * wrote last?  If rows were deleted from the tail (or the head row
 * rewritten) while we were not looking, appending would hide it, so the
 * finding goes into the chain first as a "TAMPER:" note that verify reports.
 */
static int check_head(struct db *db, uint64_t *last_id, uint8_t hash[DB_HASH_LEN])
{
	char note[PATH_MAX + 512], hx[2 * DB_HASH_LEN + 1];
	struct db_row r = {0};
	bool bad = false;

	if (!db->head_known || db->head_id == 0)
		return SQLITE_OK;
	db_hex(db->head_hash, DB_HASH_LEN, hx);
	if (db->head_id > *last_id) {
		snprintf(note, sizeof(note),
			 "TAMPER: rows %llu..%llu deleted: the database ended at row %llu, but the "
			 "chain head (%s.head) named row %llu, hash %s",
			 (unsigned long long)*last_id + 1, (unsigned long long)db->head_id,
			 (unsigned long long)*last_id, db->path, (unsigned long long)db->head_id,
			 hx);
		bad = true;
	} else {
		sqlite3_stmt *st;
		bool same = true, found = false;

		if (db->head_id == *last_id) {
			found = true;
			same = memcmp(hash, db->head_hash, DB_HASH_LEN) == 0;
		} else if (sqlite3_prepare_v2(db->h, "SELECT hash FROM events WHERE id = ?", -1,
					      &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, (int64_t)db->head_id);
			if (sqlite3_step(st) == SQLITE_ROW) {
				found = true;
				same = sqlite3_column_bytes(st, 0) == DB_HASH_LEN &&
				       memcmp(sqlite3_column_blob(st, 0), db->head_hash,
					      DB_HASH_LEN) == 0;
			}
			sqlite3_finalize(st);
		}
		/* Not found below the tail: pruned (verify checks the anchor). */
		if (found && !same) {
			snprintf(note, sizeof(note),
				 "TAMPER: row %llu rewritten: it no longer matches the chain head "
				 "(%s.head), hash %s",
				 (unsigned long long)db->head_id, db->path, hx);
			bad = true;
		}
	}
	if (!bad)
		return SQLITE_OK;
	/* Where an operator looks, too: stderr (the journal, for hushd),
	 * syslog, and hushd's metrics. */
	__atomic_add_fetch(&tamper_noted, 1, __ATOMIC_RELAXED);
	fprintf(stderr, "%s: log: %s\n", program_invocation_short_name, note);
	db_tamper_alarm(db->path, 1, note + 8);
	r.kind = "note";
	r.ts = r.first_ts = real_ns();
	r.flags = -1;
	r.note = note;
	return insert_rows(db, &r, 1, last_id, hash);
}

int db_append_locked(struct db *db, const struct db_row *rows, size_t n, uint64_t *last_id,
		     uint8_t hash[DB_HASH_LEN])
{
	int rc = db_tail(db, last_id, hash);

	if (rc == SQLITE_OK)
		rc = check_head(db, last_id, hash);
	return rc == SQLITE_OK ? insert_rows(db, rows, n, last_id, hash) : rc;
}

/* The rows only: the rollups follow them (db_rollup_catchup), off the
 * path every attempt takes to the disk. */
static int insert_rows(struct db *db, const struct db_row *rows, size_t n, uint64_t *last_id,
		       uint8_t hash[DB_HASH_LEN])
{
	int rc = SQLITE_OK;

	for (size_t k = 0; rc == SQLITE_OK && k < n; k++) {
		const struct db_row *r = &rows[k];
		struct hval v[HV_MAX], a[11], hv[HV_MAX];
		int64_t id = (int64_t)*last_id + 1, rule = 0, proc = 0, cg = 0, lin = 0, host = 0;
		uint8_t h[DB_HASH_LEN];
		sqlite3_stmt *st = db->ins_event;
		size_t nv;

		row_vals(r, id, v);
		memcpy(hv, v, sizeof(hv));
		nv = hv_pack(hv);

		if (v[DB_C_RULE_SCOPE].type == SQLITE_TEXT) {
			a[0] = v[DB_C_RULE_SCOPE];
			a[1] = v[DB_C_RULE_TEXT];
			rc = dim_id(db, &db->rules, db->ins_rule, db->sel_rule, a, 2, &rule);
		}
		if (rc == SQLITE_OK && v[DB_C_EXE].type == SQLITE_TEXT) {
			a[0] = v[DB_C_EXE];
			a[1] = v[DB_C_CMDLINE];
			rc = dim_id(db, &db->procs, db->ins_proc, db->sel_proc, a, 2, &proc);
		}
		if (rc == SQLITE_OK && v[DB_C_CGID].type == SQLITE_INTEGER) {
			memcpy(a, &v[DB_C_CGID], 6 * sizeof(a[0]));
			memcpy(a + 6, &v[HV_CNAME], 5 * sizeof(a[0]));
			rc = dim_id(db, &db->cgroups, db->ins_cg, db->sel_cg, a, 11, &cg);
		}
		if (rc == SQLITE_OK && v[HV_LIN + 1].type == SQLITE_TEXT)
			rc = dim_id(db, &db->lineages, db->ins_lin, db->sel_lin, &v[HV_LIN + 1], 1,
				    &lin);
		if (rc == SQLITE_OK &&
		    (v[HV_LIN + 2].type == SQLITE_TEXT || v[HV_LIN + 3].type == SQLITE_TEXT))
			rc = dim_id(db, &db->hosts, db->ins_host, db->sel_host, &v[HV_LIN + 2], 2,
				    &host);
		if (rc != SQLITE_OK)
			break;
		db_hash_vals(db->md, hash, hv, nv, h);
		sqlite3_bind_int64(st, 1, id);
		bind_val(st, 2, &v[DB_C_KIND]);
		bind_val(st, 3, &v[DB_C_TS]);
		bind_val(st, 4, &v[DB_C_FIRST_TS]);
		bind_val(st, 5, &v[DB_C_COUNT]);
		bind_val(st, 6, &v[DB_C_HOOK]);
		bind_val(st, 7, &v[DB_C_VERDICT]);
		if (rule)
			sqlite3_bind_int64(st, 8, rule);
		else
			sqlite3_bind_null(st, 8);
		bind_val(st, 9, &v[DB_C_FAMILY]);
		bind_val(st, 10, &v[DB_C_PROTO]);
		bind_val(st, 11, &v[DB_C_DADDR]);
		bind_val(st, 12, &v[DB_C_DKEY]);
		bind_val(st, 13, &v[DB_C_DPORT]);
		bind_val(st, 14, &v[DB_C_QNAME]);
		bind_val(st, 15, &v[DB_C_FLAGS]);
		bind_val(st, 16, &v[DB_C_PID]);
		bind_val(st, 17, &v[DB_C_TGID]);
		bind_val(st, 18, &v[DB_C_UID]);
		bind_val(st, 19, &v[DB_C_GID]);
		bind_val(st, 20, &v[DB_C_COMM]);
		if (proc)
			sqlite3_bind_int64(st, 21, proc);
		else
			sqlite3_bind_null(st, 21);
		if (cg)
			sqlite3_bind_int64(st, 22, cg);
		else
			sqlite3_bind_null(st, 22);
		bind_val(st, 23, &v[DB_C_NOTE]);
		sqlite3_bind_blob(st, 24, h, DB_HASH_LEN, SQLITE_STATIC);
		bind_val(st, 25, &v[HV_QTYPE]);
		bind_val(st, 26, &v[HV_LIN]);
		if (lin)
			sqlite3_bind_int64(st, 27, lin);
		else
			sqlite3_bind_null(st, 27);
		if (host)
			sqlite3_bind_int64(st, 28, host);
		else
			sqlite3_bind_null(st, 28);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_DONE)
			break;
		rc = SQLITE_OK;
		*last_id = (uint64_t)id;
		memcpy(hash, h, DB_HASH_LEN);
	}
	return rc;
}

void db_head_write(struct db *db, uint64_t id, const uint8_t h[DB_HASH_LEN])
{
	char p[PATH_MAX + 16], tmp[PATH_MAX + 32], hx[2 * DB_HASH_LEN + 1];
	FILE *f;

	db->head_known = true;
	db->head_id = id;
	memcpy(db->head_hash, h, DB_HASH_LEN);
	snprintf(p, sizeof(p), "%s.head", db->path);
	snprintf(tmp, sizeof(tmp), "%s.%d", p, (int)getpid());
	f = fopen(tmp, "we");
	if (!f)
		return;
	/* Readable as before whatever the umask (hushd's unit has UMask=0077);
	 * its directory (0750, group hush) keeps others out. */
	(void)!fchmod(fileno(f), 0644);
	db_hex(h, DB_HASH_LEN, hx);
	fprintf(f, "%llu %s\n", (unsigned long long)id, hx);
	if (fclose(f) != 0 || rename(tmp, p) < 0)
		unlink(tmp);
}

int db_head_read(const char *dbpath, uint64_t *id, uint8_t h[DB_HASH_LEN])
{
	char p[PATH_MAX + 16], line[256], hx[2 * DB_HASH_LEN + 2];
	unsigned long long v;
	FILE *f;
	int ok;

	snprintf(p, sizeof(p), "%s.head", dbpath);
	f = fopen(p, "re");
	if (!f)
		return -errno;
	ok = fgets(line, sizeof(line), f) && sscanf(line, "%llu %65s", &v, hx) == 2 &&
	     db_unhex(hx, strlen(hx), h, DB_HASH_LEN) == 0;
	fclose(f);
	if (!ok)
		return -EINVAL;
	*id = v;
	return 0;
}

static int store_marks(struct db *db, const struct db_mark *m, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		int rc;

		sqlite3_bind_int64(db->ins_mark, 1, m[k].cpu);
		sqlite3_bind_int64(db->ins_mark, 2, m[k].hook);
		sqlite3_bind_int64(db->ins_mark, 3, m[k].verdict);
		sqlite3_bind_int64(db->ins_mark, 4, (int64_t)m[k].seq);
		sqlite3_bind_int64(db->ins_mark, 5, (int64_t)m[k].max_seen);
		sqlite3_bind_int64(db->ins_mark, 6, (int64_t)m[k].above);
		rc = sqlite3_step(db->ins_mark);
		sqlite3_reset(db->ins_mark);
		if (rc != SQLITE_DONE)
			return rc;
	}
	return SQLITE_OK;
}

/* Running totals in meta ('attempts', 'lost'): they survive pruning. */
static int add_totals(struct db *db, const struct db_row *rows, size_t n)
{
	int64_t att = 0, lost = 0, span = 0;
	int rc = SQLITE_OK;

	for (size_t k = 0; k < n; k++) {
		if (rows[k].ts - rows[k].first_ts > span)
			span = rows[k].ts - rows[k].first_ts;
		if (strcmp(rows[k].kind, "attempt") == 0)
			att += rows[k].count;
		else if (strcmp(rows[k].kind, "gap") == 0)
			lost += rows[k].count;
	}
	for (int k = 0; k < 2 && rc == SQLITE_OK; k++) {
		if (!(k ? lost : att))
			continue;
		sqlite3_bind_text(db->add_meta, 1, k ? "lost" : "attempts", -1, SQLITE_STATIC);
		sqlite3_bind_int64(db->add_meta, 2, k ? lost : att);
		rc = sqlite3_step(db->add_meta);
		sqlite3_reset(db->add_meta);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	/* The longest span of a row: lets `hush log --until` bound its scan. */
	if (rc == SQLITE_OK) {
		sqlite3_stmt *st;

		rc = sqlite3_prepare_v2(db->h,
					"INSERT INTO meta VALUES('max_span', ?) ON CONFLICT(key)"
					" DO UPDATE SET value = max(value, excluded.value)",
					-1, &st, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, span);
			rc = sqlite3_step(st);
			sqlite3_finalize(st);
			rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		}
	}
	return rc;
}

void db_rollback(struct db *db)
{
	sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	/* Ids handed out inside the failed transaction no longer exist. */
	db_dim_clear(&db->procs);
	db_dim_clear(&db->cgroups);
	db_dim_clear(&db->rules);
	db_dim_clear(&db->lineages);
	db_dim_clear(&db->hosts);
}

int db_append(struct db *db, const struct db_row *rows, size_t n, const struct db_mark *marks,
	      size_t n_marks, char *err, size_t errlen)
{
	uint8_t h[DB_HASH_LEN];
	uint64_t last = 0;
	int rc;

	if (db->mode != DB_RDWR)
		return db_fail(err, errlen, -EROFS, "%s is open read-only", db->path);
	rc = sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, err, errlen, rc, "cannot write to");
	rc = db_append_locked(db, rows, n, &last, h);
	if (rc == SQLITE_OK)
		rc = store_marks(db, marks, n_marks);
	if (rc == SQLITE_OK)
		rc = add_totals(db, rows, n);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int r = db_sql_err(db, err, errlen, rc, "cannot write to");

		db_rollback(db);
		return r;
	}
	if (n)
		db_head_write(db, last, h);
	return 0;
}

int db_marks(struct db *db, struct db_mark **out, size_t *n)
{
	sqlite3_stmt *st;
	struct db_mark *m = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(db->h, "SELECT cpu, hook, verdict, seq, max_seen, above FROM marks",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (GROW(m, cap, *n + 1, 64) < 0) {
			free(m);
			sqlite3_finalize(st);
			return -ENOMEM;
		}
		m[*n].cpu = (uint32_t)sqlite3_column_int64(st, 0);
		m[*n].hook = (uint32_t)sqlite3_column_int64(st, 1);
		m[*n].verdict = (uint32_t)sqlite3_column_int64(st, 2);
		m[*n].seq = (uint64_t)sqlite3_column_int64(st, 3);
		m[*n].max_seen = (uint64_t)sqlite3_column_int64(st, 4);
		m[*n].above = (uint64_t)sqlite3_column_int64(st, 5);
		(*n)++;
	}
	sqlite3_finalize(st);
	*out = m;
	return 0;
}

int db_marks_reset(struct db *db)
{
	return sqlite3_exec(db->h, "DELETE FROM marks", NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}
