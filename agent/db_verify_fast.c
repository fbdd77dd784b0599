// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The fast half of verify (db_verify_fast.h): one pass over the table
 * events, the rows encoded into batches that a second thread hashes.
 *
 * Where the time went before: the view "log" joins five tables per row and
 * hands every column over through sqlite3_column_*(); that cost about five
 * times the hash.  Here a row is one B-tree cell of events whose values
 * reach a function the query calls (SQLite's registers, as they are), its
 * dimension rows come from caches by id, already encoded (a 10M-row log
 * names a few hundred processes and cgroups), and the values go in one
 * pass into the bytes the chain hashes.
 *
 * Exactness: a row's bytes are built as db_stmt_vals() and db_hash_vals()
 * build them from the view (each value by its stored type, a REAL as its
 * text, the container names and host fields NULL when '', a dimension row
 * that does not exist as NULLs, as the LEFT JOIN gives; qtype, the names
 * and the lineage only when set, db.h).  A row is only ever taken as
 * intact when these bytes hash to its stored hash; anything else goes to
 * the exact walk, which reads the row through the join again.  The unit
 * tests (test_db_verify.c) compare both walks on random logs with every
 * kind of damage.
 *
 * Consistency: one connection in one read transaction (the caller's) reads
 * everything; the hashing thread sees only the buffers, never SQLite.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "agent/db_int.h"
#include "agent/db_verify_fast.h"

#define VF_BATCH   1024		 /* rows per batch */
#define VF_RING	   4		 /* batches in flight */
#define VF_ARENA   (1024 * 1024) /* a batch ends when its encodings pass this */
#define VF_ROW_MAX (64 * 1024)	 /* a larger row goes to the exact walk */
#define DC_SLOTS   4096		 /* cached dimension rows per table */
#define DC_COLS	   11

/* The columns of events, in this order. */
#define EV_SQL                                                                                     \
	"SELECT hush_verify_row(id, kind, ts, first_ts, count, hook, verdict, rule, family, "      \
	"proto, daddr, dkey,"                                                                      \
	" dport, qname, flags, pid, tgid, uid, gid, comm, proc, cgroup, note, hash, qtype, ppid,"  \
	" lineage, host) FROM events ORDER BY id"
enum {
	E_ID,
	E_KIND,
	E_TS,
	E_FIRST_TS,
	E_COUNT,
	E_HOOK,
	E_VERDICT,
	E_RULE,
	E_FAMILY,
	E_PROTO,
	E_DADDR,
	E_DKEY,
	E_DPORT,
	E_QNAME,
	E_FLAGS,
	E_PID,
	E_TGID,
	E_UID,
	E_GID,
	E_COMM,
	E_PROC,
	E_CGROUP,
	E_NOTE,
	E_HASH,
	E_QTYPE,
	E_PPID,
	E_LINEAGE,
	E_HOST,
	E_MAX
};

/* The log columns before "hash" (db.h), in chain order: a column of
 * events, or (negative) dimension d's first columns, as -1 - d. */
#define DIM(d) (-1 - (d))
enum { D_RULE, D_PROC, D_CGROUP, D_LINEAGE, D_HOST, D_MAX };
static const signed char seq[] = {
    E_ID,     E_KIND,  E_TS,	E_FIRST_TS, E_COUNT,	 E_HOOK,	E_VERDICT, DIM(D_RULE),
    E_FAMILY, E_PROTO, E_DADDR, E_DKEY,	    E_DPORT,	 E_QNAME,	E_FLAGS,   E_PID,
    E_TGID,   E_UID,   E_GID,	E_COMM,	    DIM(D_PROC), DIM(D_CGROUP), E_NOTE,
};

/*
 * The dimension tables as the view joins them (the same expressions).  The
 * first nmain values go among the log columns; the rest into a block after
 * them that the chain has only when one of its values is set: the
 * container names (after "container"), or with ppid the lineage (after
 * "lineage").
 */
static const struct {
	int col;	 /* the events column naming the row */
	const char *sql; /* its values by id */
	int n, nmain;
} dims[D_MAX] = {
    [D_RULE] = {E_RULE, "SELECT scope, text FROM rules WHERE id = ?", 2, 2},
    [D_PROC] = {E_PROC, "SELECT exe, cmdline FROM procs WHERE id = ?", 2, 2},
    [D_CGROUP] = {E_CGROUP,
		  "SELECT cgid, path, container, runtime, unit, pod, NULLIF(cname, ''),"
		  " NULLIF(image, ''), NULLIF(image_id, ''), NULLIF(pod_ns, ''),"
		  " NULLIF(pod_name, '') FROM cgroups WHERE id = ?",
		  11, 6},
    [D_LINEAGE] = {E_LINEAGE, "SELECT ancestry FROM lineages WHERE id = ?", 1, 0},
    [D_HOST] = {E_HOST, "SELECT NULLIF(hostname, ''), NULLIF(host_id, '') FROM hosts WHERE id = ?",
		2, 0},
};

/* A dimension row, encoded: its first nmain values (mlen bytes), then the
 * rest (xlen bytes; for cgroups the whole names block with its marker, or
 * nothing); set: one of the rest is not NULL. */
struct dc_ent {
	bool used, set;
	int64_t id;
	uint8_t *enc;
	size_t mlen, xlen;
};

struct dcache {
	sqlite3_stmt *q;
	struct dc_ent *ents;  /* DC_SLOTS, direct-mapped by id */
	struct dc_ent absent; /* no such row: NULLs, as the LEFT JOIN gives */
};

struct batch {
	size_t n;
	struct vf_row rows[VF_BATCH];
	uint32_t off[VF_BATCH], len[VF_BATCH]; /* in arena: prev hash || encoding; len 0: none */
	uint8_t *arena;			       /* VF_ARENA + VF_ROW_MAX */
	size_t used;
};

struct vf {
	struct db *db;
	sqlite3_stmt *ev;
	struct dcache dc[D_MAX];
	uint8_t prev[DB_HASH_LEN];
	bool eof;
	struct batch *cur; /* being filled by row_fn() */
	int rc;		   /* row_fn()'s */
	struct batch b[VF_RING];
	/* The hashing thread: batches submitted and hashed so far. */
	pthread_t th;
	bool threaded;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t submitted, hashed;
	bool quit, sync, fn;
	EVP_MD *sha;
	EVP_MD_CTX *md; /* the hashing thread's (or ours without one) */
};

/* A value as db_stmt_vals() takes a column (a REAL hashed as its text, so
 * it cannot match a row hush wrote). */
static void val(sqlite3_value *x, struct hval *v)
{
	v->type = sqlite3_value_type(x);
	switch (v->type) {
	case SQLITE_INTEGER:
		v->i = sqlite3_value_int64(x);
		break;
	case SQLITE_TEXT:
	case SQLITE_FLOAT:
		v->type = SQLITE_TEXT;
		v->p = sqlite3_value_text(x);
		v->len = (size_t)sqlite3_value_bytes(x);
		break;
	case SQLITE_BLOB:
		v->p = sqlite3_value_blob(x);
		v->len = (size_t)sqlite3_value_bytes(x);
		break;
	default:
		v->type = SQLITE_NULL;
	}
}

/* ---- dimension rows by id ---- */

/* ---- encoding: the bytes db_hash_vals() hashes ---- */

static size_t enc_len(const struct hval *v)
{
	return v->type == SQLITE_INTEGER			  ? 9
	       : v->type == SQLITE_TEXT || v->type == SQLITE_BLOB ? 5 + v->len
								  : 1;
}

static uint8_t *enc(uint8_t *o, const struct hval *v)
{
	switch (v->type) {
	case SQLITE_INTEGER:
		*o++ = 'i';
		for (int j = 0; j < 8; j++)
			*o++ = (uint8_t)((uint64_t)v->i >> (56 - 8 * j));
		return o;
	case SQLITE_TEXT:
	case SQLITE_BLOB:
		*o++ = v->type == SQLITE_TEXT ? 't' : 'b';
		for (int j = 0; j < 4; j++)
			*o++ = (uint8_t)((uint32_t)v->len >> (24 - 8 * j));
		if (v->len)
			memcpy(o, v->p, v->len);
		return o + v->len;
	default:
		*o++ = 'n';
		return o;
	}
}

static const struct hval mark_names = {.type = SQLITE_TEXT, .p = "container", .len = 9};
static const struct hval mark_lineage = {.type = SQLITE_TEXT, .p = "lineage", .len = 7};

/* ---- dimension rows by id ---- */

/* e: dimension d's row with values v (all NULL: no such row). */
static int dc_fill(int d, struct dc_ent *e, const struct hval *v)
{
	size_t len = 0;
	uint8_t *o;

	e->set = false;
	for (int k = 0; k < dims[d].n; k++) {
		len += enc_len(&v[k]);
		e->set |= k >= dims[d].nmain && v[k].type != SQLITE_NULL;
	}
	if (d == D_CGROUP && e->set)
		len += enc_len(&mark_names);
	free(e->enc);
	e->enc = o = malloc(len ? len : 1);
	if (!o)
		return SQLITE_NOMEM;
	for (int k = 0; k < dims[d].n; k++) {
		if (k == dims[d].nmain) {
			e->mlen = (size_t)(o - e->enc);
			if (d == D_CGROUP && !e->set)
				break; /* no names: no block */
			if (d == D_CGROUP)
				o = enc(o, &mark_names);
		}
		o = enc(o, &v[k]);
	}
	if (dims[d].nmain == dims[d].n)
		e->mlen = (size_t)(o - e->enc);
	e->xlen = (size_t)(o - e->enc) - e->mlen;
	return SQLITE_OK;
}

/* Fill e with dimension d's row id.  SQLite code on errors. */
static int dc_load(struct vf *f, int d, struct dc_ent *e, int64_t id)
{
	struct hval v[DC_COLS];
	sqlite3_stmt *q = f->dc[d].q;
	int rc;

	for (int k = 0; k < DC_COLS; k++)
		v[k].type = SQLITE_NULL;
	e->used = false;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		for (int k = 0; k < dims[d].n; k++)
			val(sqlite3_column_value(q, k), &v[k]);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		rc = dc_fill(d, e, v);
	sqlite3_reset(q);
	if (rc != SQLITE_OK)
		return rc;
	e->used = true;
	e->id = id;
	return SQLITE_OK;
}

/* The dimension row the event names (NULL on errors). */
static const struct dc_ent *dc_get(struct vf *f, sqlite3_value **ev, int d, int *rc)
{
	struct dc_ent *e;
	int64_t id;

	/* The join's "x.id = e.col" matches an INTEGER only: else NULLs. */
	if (sqlite3_value_type(ev[dims[d].col]) != SQLITE_INTEGER)
		return &f->dc[d].absent;
	id = sqlite3_value_int64(ev[dims[d].col]);
	e = &f->dc[d].ents[(uint64_t)id % DC_SLOTS];
	if (e->used && e->id == id)
		return e;
	*rc = dc_load(f, d, e, id);
	return *rc == SQLITE_OK ? e : NULL;
}

/* ---- a row ---- */

/* Value x encoded at o, if it fits before end (else NULL). */
static uint8_t *put(uint8_t *o, const uint8_t *end, sqlite3_value *x)
{
	const void *p;
	size_t n;

	switch (sqlite3_value_type(x)) {
	case SQLITE_INTEGER: {
		uint64_t i = (uint64_t)sqlite3_value_int64(x);

		if (end - o < 9)
			return NULL;
		*o++ = 'i';
		for (int j = 0; j < 8; j++)
			*o++ = (uint8_t)(i >> (56 - 8 * j));
		return o;
	}
	case SQLITE_TEXT:
	case SQLITE_FLOAT: /* (as its text, as db_stmt_vals() takes it) */
		p = sqlite3_value_text(x);
		n = (size_t)sqlite3_value_bytes(x);
		*o = 't';
		break;
	case SQLITE_BLOB:
		p = sqlite3_value_blob(x);
		n = (size_t)sqlite3_value_bytes(x);
		*o = 'b';
		break;
	default:
		if (end - o < 1)
			return NULL;
		*o++ = 'n';
		return o;
	}
	if ((size_t)(end - o) < 5 + n)
		return NULL;
	o++;
	for (int j = 0; j < 4; j++)
		*o++ = (uint8_t)((uint32_t)n >> (24 - 8 * j));
	if (n)
		memcpy(o, p, n);
	return o + n;
}

/* n bytes at o, if they fit before end (else NULL). */
static uint8_t *put_bytes(uint8_t *o, const uint8_t *end, const uint8_t *p, size_t n)
{
	if ((size_t)(end - o) < n)
		return NULL;
	if (n)
		memcpy(o, p, n);
	return o + n;
}

/*
 * The bytes the chain hashes of the row of events ev (its dimension rows
 * e) after the previous hash, in one pass from SQLite's values to o: the
 * log columns, qtype when set (3), the container names when set (4), the
 * lineage when set (6).  NULL if they do not fit before end.
 */
static uint8_t *enc_row(uint8_t *o, const uint8_t *end, sqlite3_value **ev,
			const struct dc_ent *const *e)
{
	for (size_t k = 0; o && k < sizeof(seq); k++) {
		if (seq[k] >= 0) {
			o = put(o, end, ev[seq[k]]);
		} else {
			const struct dc_ent *x = e[-1 - seq[k]];

			o = put_bytes(o, end, x->enc, x->mlen);
		}
	}
	if (o && sqlite3_value_type(ev[E_QTYPE]) != SQLITE_NULL)
		o = put(o, end, ev[E_QTYPE]);
	if (o)
		o = put_bytes(o, end, e[D_CGROUP]->enc + e[D_CGROUP]->mlen, e[D_CGROUP]->xlen);
	if (o && (sqlite3_value_type(ev[E_PPID]) != SQLITE_NULL || e[D_LINEAGE]->set ||
		  e[D_HOST]->set)) {
		if (end - o >= 12) {
			o = enc(o, &mark_lineage);
			o = put(o, end, ev[E_PPID]);
		} else {
			o = NULL;
		}
		if (o)
			o = put_bytes(o, end, e[D_LINEAGE]->enc, e[D_LINEAGE]->xlen);
		if (o)
			o = put_bytes(o, end, e[D_HOST]->enc, e[D_HOST]->xlen);
	}
	return o;
}

/* The row of events ev (its columns in E_ order) into batch b: special,
 * or prev hash || encoding in its arena.  SQLite code on errors. */
static int read_row(struct vf *f, sqlite3_value **ev, struct batch *b)
{
	struct vf_row *r = &b->rows[b->n];
	const struct dc_ent *e[D_MAX];
	uint8_t *o, *start;
	const char *kind;
	int rc = SQLITE_OK;
	/* Types first: a conversion (text of a number) leaves them undefined. */
	bool blob = sqlite3_value_type(ev[E_HASH]) == SQLITE_BLOB,
	     text = sqlite3_value_type(ev[E_KIND]) == SQLITE_TEXT;

	memset(r, 0, sizeof(*r));
	r->id = (uint64_t)sqlite3_value_int64(ev[E_ID]);
	/* As the exact walk takes it: any 32 bytes, else zeros. */
	if (sqlite3_value_bytes(ev[E_HASH]) == DB_HASH_LEN)
		memcpy(r->stored, sqlite3_value_blob(ev[E_HASH]), DB_HASH_LEN);
	kind = (const char *)sqlite3_value_text(ev[E_KIND]);
	r->special = !blob || sqlite3_value_bytes(ev[E_HASH]) != DB_HASH_LEN || !text || !kind ||
		     strcmp(kind, "note") == 0;
	b->len[b->n] = 0;
	if (r->special)
		goto out;
	for (int d = 0; d < D_MAX; d++) {
		e[d] = dc_get(f, ev, d, &rc);
		if (!e[d])
			return rc;
	}
	/* The arena has VF_ROW_MAX bytes free past VF_ARENA; a larger row
	 * goes to the exact walk. */
	start = b->arena + b->used;
	memcpy(start, f->prev, DB_HASH_LEN);
	o = enc_row(start + DB_HASH_LEN, start + VF_ROW_MAX, ev, e);
	if (!o) {
		r->special = true;
		goto out;
	}
	b->off[b->n] = (uint32_t)b->used;
	b->len[b->n] = (uint32_t)(o - start);
	b->used += (size_t)(o - start);
out:
	memcpy(f->prev, r->stored, DB_HASH_LEN);
	b->n++;
	return SQLITE_OK;
}

/*
 * The rows reach us as the arguments of a function the query calls: SQLite
 * hands over its registers as they are, where a column at a time through
 * sqlite3_column_*() cost more than reading the row.
 */
static void row_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	struct vf *f = sqlite3_user_data(cx);

	f->rc = argc == E_MAX ? read_row(f, argv, f->cur) : SQLITE_MISUSE;
	if (f->rc != SQLITE_OK)
		sqlite3_result_error_code(cx, f->rc);
}

/* The next batch of rows (n 0: none left).  SQLite code on errors. */
static int fill(struct vf *f, struct batch *b)
{
	int rc = SQLITE_OK;

	b->n = 0;
	b->used = 0;
	/* (A statement stepped after its end would start again.) */
	while (!f->eof && b->n < VF_BATCH && b->used < VF_ARENA) {
		f->cur = b;
		f->rc = SQLITE_OK;
		rc = sqlite3_step(f->ev);
		f->eof = rc != SQLITE_ROW;
		if (f->rc != SQLITE_OK)
			return f->rc;
		if (rc != SQLITE_ROW)
			return rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	return SQLITE_OK;
}

/* ---- hashing ---- */

static void hash_batch(struct vf *f, struct batch *b)
{
	uint8_t h[DB_HASH_LEN];
	unsigned int hl;

	for (size_t i = 0; i < b->n; i++) {
		if (!b->len[i])
			continue;
		hl = DB_HASH_LEN;
		b->rows[i].links = EVP_DigestInit_ex2(f->md, f->sha, NULL) &&
				   EVP_DigestUpdate(f->md, b->arena + b->off[i], b->len[i]) &&
				   EVP_DigestFinal_ex(f->md, h, &hl) &&
				   memcmp(h, b->rows[i].stored, DB_HASH_LEN) == 0;
	}
}

static void *hasher(void *arg)
{
	struct vf *f = arg;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (!f->quit && f->hashed == f->submitted)
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->hashed == f->submitted)
			break; /* quit, nothing left */
		struct batch *b = &f->b[f->hashed % VF_RING];

		pthread_mutex_unlock(&f->mu);
		hash_batch(f, b);
		pthread_mutex_lock(&f->mu);
		f->hashed++;
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static void submit(struct vf *f, uint64_t i)
{
	if (!f->threaded) {
		hash_batch(f, &f->b[i % VF_RING]);
		f->submitted = f->hashed = i + 1;
		return;
	}
	pthread_mutex_lock(&f->mu);
	f->submitted = i + 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

/* Batch i, once hashed, to fn in order. */
static int consume(struct vf *f, uint64_t i, vf_row_fn fn, void *ctx)
{
	struct batch *b = &f->b[i % VF_RING];

	if (f->threaded) {
		pthread_mutex_lock(&f->mu);
		while (f->hashed <= i)
			pthread_cond_wait(&f->cv, &f->mu);
		pthread_mutex_unlock(&f->mu);
	}
	for (size_t k = 0; k < b->n; k++) {
		int ret = fn(ctx, &b->rows[k]);

		if (ret)
			return ret;
	}
	return 0;
}

/* ---- the walk ---- */

static int vf_open(struct vf *f, struct db *db, const uint8_t start[DB_HASH_LEN])
{
	struct hval nulls[DC_COLS];

	for (int k = 0; k < DC_COLS; k++)
		nulls[k].type = SQLITE_NULL;
	f->db = db;
	memcpy(f->prev, start, DB_HASH_LEN);
	if (sqlite3_create_function_v2(db->h, "hush_verify_row", E_MAX,
				       SQLITE_UTF8 | SQLITE_DIRECTONLY, f, row_fn, NULL, NULL,
				       NULL) != SQLITE_OK)
		return -ENOMEM;
	f->fn = true;
	if (sqlite3_prepare_v2(db->h, EV_SQL, -1, &f->ev, NULL) != SQLITE_OK)
		return 1;
	for (int d = 0; d < D_MAX; d++) {
		if (sqlite3_prepare_v2(db->h, dims[d].sql, -1, &f->dc[d].q, NULL) != SQLITE_OK)
			return 1;
		f->dc[d].ents = calloc(DC_SLOTS, sizeof(*f->dc[d].ents));
		if (!f->dc[d].ents || dc_fill(d, &f->dc[d].absent, nulls) != SQLITE_OK)
			return -ENOMEM;
	}
	for (int i = 0; i < VF_RING; i++) {
		f->b[i].arena = malloc(VF_ARENA + VF_ROW_MAX);
		if (!f->b[i].arena)
			return -ENOMEM;
	}
	f->sha = EVP_MD_fetch(NULL, "SHA256", NULL);
	f->md = EVP_MD_CTX_new();
	if (!f->sha || !f->md)
		return -ENOMEM;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->sync = true;
	/* Without a second thread the rows are hashed as they are read. */
	f->threaded = pthread_create(&f->th, NULL, hasher, f) == 0;
	return 0;
}

static void vf_close(struct vf *f)
{
	if (f->threaded) {
		pthread_mutex_lock(&f->mu);
		f->quit = true;
		pthread_cond_broadcast(&f->cv);
		pthread_mutex_unlock(&f->mu);
		pthread_join(f->th, NULL);
	}
	if (f->sync) {
		pthread_mutex_destroy(&f->mu);
		pthread_cond_destroy(&f->cv);
	}
	for (int d = 0; d < D_MAX; d++) {
		for (size_t k = 0; f->dc[d].ents && k < DC_SLOTS; k++)
			free(f->dc[d].ents[k].enc);
		free(f->dc[d].absent.enc);
		free(f->dc[d].ents);
		sqlite3_finalize(f->dc[d].q);
	}
	for (int i = 0; i < VF_RING; i++)
		free(f->b[i].arena);
	sqlite3_finalize(f->ev);
	if (f->fn)
		sqlite3_create_function_v2(f->db->h, "hush_verify_row", E_MAX, SQLITE_UTF8, NULL,
					   NULL, NULL, NULL, NULL);
	EVP_MD_CTX_free(f->md);
	EVP_MD_free(f->sha);
}

int db_verify_fast(struct db *db, const uint8_t start[DB_HASH_LEN], vf_row_fn fn, void *ctx,
		   char *msg, size_t msglen)
{
	struct vf *f = calloc(1, sizeof(*f));
	uint64_t i = 0, c = 0;
	int ret, rc = SQLITE_OK;

	if (!f)
		return db_fail(msg, msglen, -ENOMEM, "out of memory");
	ret = vf_open(f, db, start);
	if (ret < 0)
		ret = db_fail(msg, msglen, ret, "out of memory");
	/* Read batch i while batch i-1 is hashed; hand batch i-VF_RING+1
	 * on before its place is filled again. */
	while (!ret) {
		if (i >= VF_RING - 1) {
			ret = consume(f, c++, fn, ctx);
			if (ret)
				break;
		}
		rc = fill(f, &f->b[i % VF_RING]);
		if (rc != SQLITE_OK || f->b[i % VF_RING].n == 0)
			break;
		submit(f, i++);
	}
	while (!ret && rc == SQLITE_OK && c < i)
		ret = consume(f, c++, fn, ctx);
	if (!ret && rc != SQLITE_OK)
		ret = rc == SQLITE_NOMEM ? db_fail(msg, msglen, -ENOMEM, "out of memory")
					 : db_sql_err(db, msg, msglen, rc, "cannot read");
	vf_close(f);
	free(f);
	return ret;
}
