// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Rollups for `hush log top` (see db_rollup.h): written with the rows,
 * rebuilt where a prune removed rows, built once by the migration.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/db_int.h"
#include "agent/db_rollup.h"

/* The key expressions are logtop.c's scan columns: keep them the same. */
const struct db_rollup_dim db_rollup_dims[DB_RD_MAX] = {
    [DB_RD_DEST] = {"dest", {"e.dkey", "e.dport", "e.proto"}, "e.daddr"},
    [DB_RD_PROC] = {"proc",
		    {"e.proc", "CASE WHEN e.proc IS NULL THEN e.comm END", "NULL"},
		    "e.comm"},
    [DB_RD_DNS] = {"dns", {"lower(rtrim(e.qname, '.'))", "NULL", "NULL"}, "NULL"},
    [DB_RD_COMM] = {"comm", {"e.comm", "NULL", "NULL"}, "NULL"},
    [DB_RD_UID] = {"uid", {"e.uid", "NULL", "NULL"}, "NULL"},
    [DB_RD_RULE] = {"rule", {"e.rule", "NULL", "NULL"}, "NULL"},
    [DB_RD_CGROUP] = {"cgroup", {"e.cgroup", "NULL", "NULL"}, "NULL"},
    [DB_RD_HOOK] = {"hook", {"e.hook", "NULL", "NULL"}, "NULL"},
    [DB_RD_QTYPE] = {"qtype", {"e.qtype", "NULL", "NULL"}, "NULL"},
    [DB_RD_PPID] = {"ppid", {"e.ppid", "NULL", "NULL"}, "NULL"},
    [DB_RD_TGID] = {"tgid", {"e.tgid", "NULL", "NULL"}, "NULL"},
    [DB_RD_TID] = {"tid", {"CASE WHEN e.pid != e.tgid THEN e.pid END", "NULL", "NULL"}, "NULL"},
};

const int64_t db_rollup_width[DB_ROLLUP_LEVELS] = {60000000000LL, 3600000000000LL,
						   86400000000000LL};

#define ROLLUP_TABLE                                                                               \
	"DROP TABLE IF EXISTS rollup; CREATE TABLE rollup(dim INTEGER NOT NULL, lvl INTEGER NOT "  \
	"NULL,"                                                                                    \
	" bucket INTEGER NOT NULL, verdict TEXT NOT NULL, k TEXT NOT NULL, c1, c2, c3, name,"      \
	" attempts INTEGER NOT NULL, rows INTEGER NOT NULL, first INTEGER NOT NULL,"               \
	" last INTEGER NOT NULL, PRIMARY KEY(dim, lvl, bucket, verdict, k)) WITHOUT ROWID;"        \
	"CREATE INDEX rollup_day_k ON rollup(dim, k, bucket) WHERE lvl = 2;"

#define UPSERT                                                                                     \
	" ON CONFLICT(dim, lvl, bucket, verdict, k) DO UPDATE SET"                                 \
	" attempts = attempts + excluded.attempts, rows = rows + excluded.rows,"                   \
	" first = min(first, excluded.first), last = max(last, excluded.last),"                    \
	" name = CASE WHEN name IS NULL OR excluded.name < name THEN excluded.name ELSE name END"

/* Append to buf at *o; false when it does not fit. */
static bool put(char *buf, size_t len, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool put(char *buf, size_t len, size_t *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*o >= len)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + *o, len - *o, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *o)
		return false;
	*o += (size_t)n;
	return true;
}

/* The rows of dim at level lvl from the attempt rows matching `where`. */
static bool from_events(char *buf, size_t len, size_t *o, int dim, int lvl, const char *where,
			bool upsert)
{
	const struct db_rollup_dim *d = &db_rollup_dims[dim];

	return put(buf, len, o,
		   "INSERT INTO rollup SELECT %d, %d, e.ts / %" PRId64 ", coalesce(e.verdict, ''),"
		   " quote(%s) || ',' || quote(%s) || ',' || quote(%s), %s, %s, %s, min(%s),"
		   " sum(e.count), count(*), min(e.first_ts), max(e.ts) FROM events e"
		   " WHERE (%s%s%s) AND (%s) GROUP BY 3, 4, 5%s;",
		   dim, lvl, db_rollup_width[lvl], d->c[0], d->c[1], d->c[2], d->c[0], d->c[1],
		   d->c[2], d->name, dim < DB_RD_LOCATE ? "e.kind = 'attempt'" : d->c[0],
		   dim < DB_RD_LOCATE ? "" : ") IS NOT NULL AND (1", "", where,
		   upsert ? UPSERT : "");
}

/* The rows of dim at level lvl (>= 1) from those of the level below in `where`. */
static bool from_below(char *buf, size_t len, size_t *o, int dim, int lvl, const char *where)
{
	int64_t f = db_rollup_width[lvl] / db_rollup_width[lvl - 1];

	return put(buf, len, o,
		   "INSERT INTO rollup SELECT dim, %d, bucket / %" PRId64
		   ", verdict, k, c1, c2, c3,"
		   " min(name), sum(attempts), sum(rows), min(first), max(last) FROM rollup"
		   " WHERE dim = %d AND lvl = %d AND (%s) GROUP BY 3, 4, 5;",
		   lvl, f, dim, lvl - 1, where);
}

int db_rollup_build_sql(char *buf, size_t len)
{
	size_t o = 0;

	if (!put(buf, len, &o, "%s", ROLLUP_TABLE))
		return -1;
	for (int d = 0; d < DB_RD_MAX; d++) {
		if (!from_events(buf, len, &o, d, 0, "1", false))
			return -1;
		for (int l = 1; l < DB_ROLLUP_LEVELS; l++)
			if (!from_below(buf, len, &o, d, l, "1"))
				return -1;
	}
	return (int)o;
}

int db_rollup_locate_sql(char *buf, size_t len)
{
	const char *upto = "e.id <= (SELECT value FROM meta WHERE key = 'rollup_id')";
	size_t o = 0;

	if (!put(buf, len, &o, "DELETE FROM rollup WHERE dim >= %d;", DB_RD_LOCATE))
		return -1;
	for (int d = DB_RD_LOCATE; d < DB_RD_MAX; d++) {
		if (!from_events(buf, len, &o, d, 0, upto, false))
			return -1;
		for (int l = 1; l < DB_ROLLUP_LEVELS; l++)
			if (!from_below(buf, len, &o, d, l, "1"))
				return -1;
	}
	return (int)o;
}

/* ---- a transaction's rollup rows, summed in memory ----
 *
 * The writer adds each attempt row it inserts (db_rollup_row) and upserts
 * the sums once per (dim, lvl, bucket, verdict, k) before the commit
 * (db_rollup_flush): one B-tree write per distinct group instead of 21
 * INSERT ... SELECT ... GROUP BY over the batch.  The keys and values are
 * those from_events computes in SQL from the stored row (the same bytes:
 * test_rollup compares the table with one built by SQL).
 */

struct rent {
	uint64_t hash;
	int64_t bucket, attempts, rows, first, last;
	int dim, lvl;
	struct hval verdict, k, c[3], name; /* text/blob bytes in the arena */
};

struct rblk {
	struct rblk *next;
	size_t used, cap;
	char data[];
};

struct db_rollmem {
	struct rent *e;
	size_t n, cap;
	uint32_t *slot; /* entry index + 1; 0: free */
	size_t nslot;
	struct rblk *blk;
	char *kb; /* the key being looked up */
	size_t kcap;
	char *qb; /* the DNS name being looked up */
	size_t qcap;
	/* Per dimension, the groups of the row before (rows in a row often
	 * share a rule, cgroup, uid...): their entries on each level. */
	struct {
		bool ok;
		uint32_t idx[DB_ROLLUP_LEVELS];
	} memo[DB_RD_MAX];
};

#define RBLK_SIZE (64u * 1024)
/* Groups held before they are written (inside the transaction all the
 * same): ~300 bytes each, so a batch of 65536 rows new in five keys
 * (983040 groups) takes ~30 MiB, not ~300. */
#define RM_MAX_GROUPS 100000

static void *rm_alloc(struct db_rollmem *m, size_t len)
{
	struct rblk *b = m->blk;

	if (!b || b->cap - b->used < len) {
		size_t cap = len > RBLK_SIZE ? len : RBLK_SIZE;

		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = m->blk;
		b->used = 0;
		b->cap = cap;
		m->blk = b;
	}
	b->used += len;
	return b->data + b->used - len;
}

/* A copy of v whose bytes live in the arena. */
static bool rm_keep(struct db_rollmem *m, struct hval *dst, const struct hval *v)
{
	*dst = *v;
	if (v->type != SQLITE_TEXT && v->type != SQLITE_BLOB)
		return true;
	dst->p = v->len ? rm_alloc(m, v->len) : "";
	if (!dst->p)
		return false;
	memcpy((void *)dst->p, v->p, v->len);
	return true;
}

/* SQLite's BINARY order of two texts. */
static int text_cmp(const struct hval *a, const struct hval *b)
{
	int c = memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);

	return c ? c : a->len < b->len ? -1 : a->len > b->len;
}

/* quote(v) appended to the key buffer at *o (room made by the caller). */
static void quote_into(char *kb, size_t *o, const struct hval *v)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = v->p;

	switch (v->type) {
	case SQLITE_INTEGER:
		*o += (size_t)sprintf(kb + *o, "%" PRId64, v->i);
		break;
	case SQLITE_TEXT:
		kb[(*o)++] = '\'';
		for (size_t i = 0; i < v->len; i++) {
			if (p[i] == '\'')
				kb[(*o)++] = '\'';
			kb[(*o)++] = (char)p[i];
		}
		kb[(*o)++] = '\'';
		break;
	case SQLITE_BLOB:
		kb[(*o)++] = 'X';
		kb[(*o)++] = '\'';
		for (size_t i = 0; i < v->len; i++) {
			kb[(*o)++] = hex[p[i] >> 4];
			kb[(*o)++] = hex[p[i] & 15];
		}
		kb[(*o)++] = '\'';
		break;
	default:
		memcpy(kb + *o, "NULL", 4);
		*o += 4;
	}
}

/* k = quote(c1) || ',' || quote(c2) || ',' || quote(c3) into m->kb. */
static bool rm_key(struct db_rollmem *m, const struct hval c[3], size_t *klen)
{
	size_t need = 8, o = 0;

	for (int i = 0; i < 3; i++)
		need += c[i].type == SQLITE_INTEGER ? 24 : 2 * c[i].len + 8;
	if (GROW(m->kb, m->kcap, need, 256) < 0)
		return false;
	for (int i = 0; i < 3; i++) {
		if (i)
			m->kb[o++] = ',';
		quote_into(m->kb, &o, &c[i]);
	}
	*klen = o;
	return true;
}

/* MurmurHash3's finalizer: every bit of x moves every bit of the result. */
static uint64_t fmix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* The hash of a group: of its verdict and key (kh, the same on every
 * level), its dimension, level and bucket. */
static uint64_t rm_khash(const struct hval *verdict, const char *k, size_t klen)
{
	uint64_t h = fnv1a64(FNV64_INIT, verdict->p, verdict->len);

	h = (h ^ 0xff) * FNV64_PRIME; /* (verdict and key apart) */
	return fnv1a64(h, k, klen);
}

static uint64_t rm_hash(uint64_t kh, int dim, int lvl, int64_t bucket)
{
	return fmix64(kh ^
		      fmix64((uint64_t)bucket ^ ((uint64_t)dim << 56) ^ ((uint64_t)lvl << 48)));
}

static bool rm_rehash(struct db_rollmem *m, size_t nslot)
{
	uint32_t *s = calloc(nslot, sizeof(*s));

	if (!s)
		return false;
	for (size_t i = 0; i < m->n; i++) {
		size_t j = m->e[i].hash & (nslot - 1);

		while (s[j])
			j = (j + 1) & (nslot - 1);
		s[j] = (uint32_t)i + 1;
	}
	free(m->slot);
	m->slot = s;
	m->nslot = nslot;
	return true;
}

/* The entry for (dim, lvl, bucket, verdict, key in m->kb); NULL: no memory. */
static struct rent *rm_get(struct db_rollmem *m, int dim, int lvl, int64_t bucket,
			   const struct hval *verdict, size_t klen, uint64_t kh,
			   const struct rent *like, const struct hval c[3])
{
	uint64_t h = rm_hash(kh, dim, lvl, bucket);
	struct rent *e;
	size_t j;

	if ((m->n + 1) * 2 > m->nslot && !rm_rehash(m, m->nslot ? m->nslot * 2 : 1024))
		return NULL;
	for (j = h & (m->nslot - 1); m->slot[j]; j = (j + 1) & (m->nslot - 1)) {
		e = &m->e[m->slot[j] - 1];
		if (e->hash == h && e->bucket == bucket && e->dim == dim && e->lvl == lvl &&
		    e->k.len == klen && text_cmp(&e->verdict, verdict) == 0 &&
		    memcmp(e->k.p, m->kb, klen) == 0)
			return e;
	}
	if (m->n >= UINT32_MAX - 1 || GROW(m->e, m->cap, m->n + 1, 1024) < 0)
		return NULL;
	e = &m->e[m->n];
	memset(e, 0, sizeof(*e));
	e->hash = h;
	e->dim = dim;
	e->lvl = lvl;
	e->bucket = bucket;
	e->first = INT64_MAX;
	e->last = INT64_MIN;
	if (like) { /* the same group one level down: share its bytes */
		e->verdict = like->verdict;
		e->k = like->k;
		memcpy(e->c, like->c, sizeof(e->c));
	} else {
		struct hval kv = {.type = SQLITE_TEXT, .p = m->kb, .len = klen};

		if (!rm_keep(m, &e->verdict, verdict) || !rm_keep(m, &e->k, &kv))
			return NULL;
		for (int i = 0; i < 3; i++)
			if (!rm_keep(m, &e->c[i], &c[i]))
				return NULL;
	}
	m->slot[j] = (uint32_t)++m->n;
	return e;
}

struct rrow {
	const struct hval *verdict, *name;
	int64_t ts, first, count;
};

static bool hval_eq(const struct hval *a, const struct hval *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == SQLITE_INTEGER)
		return a->i == b->i;
	if (a->type == SQLITE_TEXT || a->type == SQLITE_BLOB)
		return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
	return true;
}

/* Row r into group e. */
static bool rm_sum(struct db_rollmem *m, struct rent *e, const struct rrow *r)
{
	e->attempts += r->count;
	e->rows++;
	if (r->first < e->first)
		e->first = r->first;
	if (r->ts > e->last)
		e->last = r->ts;
	if (r->name->type == SQLITE_TEXT &&
	    (e->name.type != SQLITE_TEXT || text_cmp(r->name, &e->name) < 0))
		return rm_keep(m, &e->name, r->name);
	return true;
}

/* Whether r belongs to the groups of the row before on dim (then added). */
static bool rm_memo(struct db_rollmem *m, int dim, const struct hval c[3], const struct rrow *r,
		    bool *ok)
{
	const struct rent *e0;

	if (!m->memo[dim].ok)
		return false;
	e0 = &m->e[m->memo[dim].idx[0]];
	if (!hval_eq(&c[0], &e0->c[0]) || !hval_eq(&c[1], &e0->c[1]) ||
	    !hval_eq(&c[2], &e0->c[2]) || !hval_eq(r->verdict, &e0->verdict))
		return false;
	for (int l = 0; l < DB_ROLLUP_LEVELS; l++)
		if (m->e[m->memo[dim].idx[l]].bucket != r->ts / db_rollup_width[l])
			return false;
	*ok = true;
	for (int l = 0; l < DB_ROLLUP_LEVELS && *ok; l++)
		*ok = rm_sum(m, &m->e[m->memo[dim].idx[l]], r);
	return true;
}

/* One row into dim's groups of every level. */
static bool rm_add(struct db_rollmem *m, int dim, const struct hval c[3], const struct rrow *r)
{
	struct rent like;
	bool have = false, ok;
	uint64_t kh;
	size_t klen;

	if (rm_memo(m, dim, c, r, &ok))
		return ok;
	m->memo[dim].ok = false;
	if (!rm_key(m, c, &klen))
		return false;
	kh = rm_khash(r->verdict, m->kb, klen);
	for (int l = 0; l < DB_ROLLUP_LEVELS; l++) {
		struct rent *e = rm_get(m, dim, l, r->ts / db_rollup_width[l], r->verdict, klen, kh,
					have ? &like : NULL, c);

		if (!e || !rm_sum(m, e, r))
			return false;
		m->memo[dim].idx[l] = (uint32_t)(e - m->e);
		like = *e; /* (a copy: m->e moves as it grows) */
		have = true;
	}
	m->memo[dim].ok = true;
	return true;
}

static const struct hval hnull = {.type = SQLITE_NULL};

static struct hval hid(int64_t id)
{
	return id ? (struct hval){.type = SQLITE_INTEGER, .i = id} : hnull;
}

/* lower(rtrim(q, '.')) as SQLite computes it (ASCII letters only), in m->qb. */
static struct hval dns_key(struct db_rollmem *m, const struct hval *q)
{
	struct hval v = *q;

	if (q->type != SQLITE_TEXT)
		return hnull;
	while (v.len && ((const char *)v.p)[v.len - 1] == '.')
		v.len--;
	if (GROW(m->qb, m->qcap, v.len + 1, 256) < 0)
		return (struct hval){.type = -1};
	for (size_t i = 0; i < v.len; i++) {
		char ch = ((const char *)q->p)[i];

		m->qb[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
	}
	v.p = m->qb;
	return v;
}

int db_rollup_row(struct db *db, const struct hval *v, int64_t rule, int64_t proc, int64_t cg)
{
	struct db_rollmem *m = db->roll;
	struct hval c[DB_RD_MAX][3], verdict = v[DB_C_VERDICT];
	struct rrow r = {.verdict = &verdict, .name = &hnull};
	static const struct hval empty = {.type = SQLITE_TEXT, .p = "", .len = 0};

	bool attempt;

	if (!m)
		return SQLITE_MISUSE;
	/* top's dimensions: the attempt rows; the filters': every row with a
	 * value (gap rows have a hook and a verdict too). */
	attempt = v[DB_C_KIND].type == SQLITE_TEXT && v[DB_C_KIND].len == 7 &&
		  memcmp(v[DB_C_KIND].p, "attempt", 7) == 0;
	if (m->n >= RM_MAX_GROUPS) {
		int rc = db_rollup_flush(db);

		if (rc != SQLITE_OK)
			return rc;
	}
	if (verdict.type != SQLITE_TEXT)
		verdict = empty;
	r.ts = v[DB_C_TS].i;
	r.first = v[DB_C_FIRST_TS].i;
	r.count = v[DB_C_COUNT].i;
	for (int d = 0; d < DB_RD_MAX; d++)
		c[d][0] = c[d][1] = c[d][2] = hnull;
	memcpy(c[DB_RD_DEST], &v[DB_C_DKEY], sizeof(c[0][0]));
	c[DB_RD_DEST][1] = v[DB_C_DPORT];
	c[DB_RD_DEST][2] = v[DB_C_PROTO];
	c[DB_RD_PROC][0] = hid(proc);
	if (!proc)
		c[DB_RD_PROC][1] = v[DB_C_COMM];
	c[DB_RD_DNS][0] = dns_key(m, &v[DB_C_QNAME]);
	if (c[DB_RD_DNS][0].type < 0)
		return SQLITE_NOMEM;
	c[DB_RD_COMM][0] = v[DB_C_COMM];
	c[DB_RD_UID][0] = v[DB_C_UID];
	c[DB_RD_RULE][0] = hid(rule);
	c[DB_RD_CGROUP][0] = hid(cg);
	c[DB_RD_HOOK][0] = v[DB_C_HOOK];
	c[DB_RD_QTYPE][0] = v[DB_C_QTYPE];
	c[DB_RD_PPID][0] = v[DB_C_PPID];
	c[DB_RD_TGID][0] = v[DB_C_TGID];
	if (v[DB_C_PID].type == SQLITE_INTEGER && v[DB_C_TGID].type == SQLITE_INTEGER &&
	    v[DB_C_PID].i != v[DB_C_TGID].i)
		c[DB_RD_TID][0] = v[DB_C_PID];
	for (int d = 0; d < DB_RD_MAX; d++) {
		r.name = d == DB_RD_DEST   ? &v[DB_C_DADDR]
			 : d == DB_RD_PROC ? &v[DB_C_COMM]
					   : &hnull;
		if (d < DB_RD_LOCATE ? !attempt : c[d][0].type == SQLITE_NULL || c[d][0].type == 0)
			continue;
		if (!rm_add(m, d, c[d], &r))
			return SQLITE_NOMEM;
	}
	return SQLITE_OK;
}

void db_rollup_discard(struct db *db)
{
	struct db_rollmem *m = db->roll;
	struct rblk *b, *next;

	if (!m)
		return;
	m->n = 0;
	memset(m->memo, 0, sizeof(m->memo));
	if (m->slot)
		memset(m->slot, 0, m->nslot * sizeof(*m->slot));
	/* Keep one block for the next transaction. */
	for (b = m->blk ? m->blk->next : NULL; b; b = next) {
		next = b->next;
		free(b);
	}
	if (m->blk) {
		m->blk->next = NULL;
		m->blk->used = 0;
	}
}

/* The rollup's primary key order: B-tree pages in order, each written once. */
static int rent_cmp(const void *a, const void *b)
{
	const struct rent *x = a, *y = b;
	int c;

	if (x->dim != y->dim)
		return x->dim < y->dim ? -1 : 1;
	if (x->lvl != y->lvl)
		return x->lvl < y->lvl ? -1 : 1;
	if (x->bucket != y->bucket)
		return x->bucket < y->bucket ? -1 : 1;
	c = text_cmp(&x->verdict, &y->verdict);
	return c ? c : text_cmp(&x->k, &y->k);
}

static void bind_hval(sqlite3_stmt *st, int i, const struct hval *v)
{
	if (v->type == SQLITE_INTEGER)
		sqlite3_bind_int64(st, i, v->i);
	else if (v->type == SQLITE_TEXT)
		sqlite3_bind_text(st, i, v->p, (int)v->len, SQLITE_STATIC);
	else if (v->type == SQLITE_BLOB)
		sqlite3_bind_blob(st, i, v->p, (int)v->len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int db_rollup_flush(struct db *db)
{
	struct db_rollmem *m = db->roll;
	sqlite3_stmt *st = db->roll_up;
	int rc = SQLITE_OK;

	if (!m || !st)
		return SQLITE_MISUSE;
	if (!m->n)
		return SQLITE_OK;
	/* (The hash slots are cleared below: the entries may move.) */
	qsort(m->e, m->n, sizeof(*m->e), rent_cmp);
	for (size_t i = 0; i < m->n && rc == SQLITE_OK; i++) {
		const struct rent *e = &m->e[i];

		sqlite3_bind_int64(st, 1, e->dim);
		sqlite3_bind_int64(st, 2, e->lvl);
		sqlite3_bind_int64(st, 3, e->bucket);
		bind_hval(st, 4, &e->verdict);
		bind_hval(st, 5, &e->k);
		for (int c = 0; c < 3; c++)
			bind_hval(st, 6 + c, &e->c[c]);
		bind_hval(st, 9, &e->name);
		sqlite3_bind_int64(st, 10, e->attempts);
		sqlite3_bind_int64(st, 11, e->rows);
		sqlite3_bind_int64(st, 12, e->first);
		sqlite3_bind_int64(st, 13, e->last);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_clear_bindings(st);
	db_rollup_discard(db);
	return rc;
}

int db_rollup_prepare(struct db *db)
{
	db->roll = calloc(1, sizeof(*db->roll));
	if (!db->roll)
		return SQLITE_NOMEM;
	return sqlite3_prepare_v3(
	    db->h,
	    "INSERT INTO rollup(dim, lvl, bucket, verdict, k, c1, c2, c3, name,"
	    " attempts, rows, first, last)"
	    " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" UPSERT,
	    -1, SQLITE_PREPARE_PERSISTENT, &db->roll_up, NULL);
}

void db_rollup_finalize(struct db *db)
{
	struct db_rollmem *m = db->roll;

	sqlite3_finalize(db->roll_up);
	db->roll_up = NULL;
	if (!m)
		return;
	db_rollup_discard(db);
	free(m->blk);
	free(m->e);
	free(m->slot);
	free(m->kb);
	free(m->qb);
	free(m);
	db->roll = NULL;
}

/*
 * Every bucket of every level that meets [ts_lo, ts_hi] again from the rows
 * there now: the minutes from the events (on the ts index), the hours from
 * the minutes, the days from the hours.
 */
int db_rollup_rebuild(struct db *db, int64_t ts_lo, int64_t ts_hi)
{
	char sql[4096], where[200];
	int64_t blo[DB_ROLLUP_LEVELS], bhi[DB_ROLLUP_LEVELS], w;
	int rc;

	if (ts_hi < ts_lo || ts_lo < 0)
		return SQLITE_OK;
	/* The rows the rollups hold: those after rollup_id come by the catch-up. */
	rc = db_rollup_id(db, &w);
	if (rc != SQLITE_OK)
		return rc;
	for (int l = 0; l < DB_ROLLUP_LEVELS; l++) {
		blo[l] = ts_lo / db_rollup_width[l];
		bhi[l] = ts_hi / db_rollup_width[l];
	}
	for (int d = 0; d < DB_RD_MAX; d++) {
		size_t o = 0;
		bool ok = true;

		for (int l = 0; l < DB_ROLLUP_LEVELS && ok; l++)
			ok =
			    put(sql, sizeof(sql), &o,
				"DELETE FROM rollup WHERE dim = %d AND lvl = %d AND bucket BETWEEN "
				"%" PRId64 " AND %" PRId64 ";",
				d, l, blo[l], bhi[l]);
		snprintf(where, sizeof(where),
			 "e.ts >= %" PRId64 " AND e.ts < %" PRId64 " AND e.id <= %" PRId64,
			 blo[0] * db_rollup_width[0], (bhi[0] + 1) * db_rollup_width[0], w);
		ok = ok && from_events(sql, sizeof(sql), &o, d, 0, where, false);
		for (int l = 1; l < DB_ROLLUP_LEVELS && ok; l++) {
			int64_t f = db_rollup_width[l] / db_rollup_width[l - 1];

			snprintf(where, sizeof(where), "bucket BETWEEN %" PRId64 " AND %" PRId64,
				 blo[l] * f, (bhi[l] + 1) * f - 1);
			ok = from_below(sql, sizeof(sql), &o, d, l, where);
		}
		if (!ok)
			return SQLITE_TOOBIG;
		rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

/* ---- catching up: the rows after meta 'rollup_id' (since 9) ----
 *
 * db_append writes the rows only; the rollups follow from the table, in
 * id order, summed in memory as above, and meta 'rollup_id' (the id of the
 * last row they hold) moves in the same transaction.  The rows are read
 * back as stored, the values from_events reads.
 */

int db_rollup_id(struct db *db, int64_t *id)
{
	return db_meta_get_int(db, "rollup_id", id) == 0 ? SQLITE_OK : SQLITE_CORRUPT;
}

int db_rollup_catchup_locked(struct db *db, int64_t max_rows, int64_t *done)
{
	sqlite3_stmt *st;
	int64_t w, n = 0, last;
	int rc = db_rollup_id(db, &w);

	*done = 0;
	if (rc != SQLITE_OK)
		return rc;
	rc =
	    sqlite3_prepare_v2(db->h,
			       "SELECT id, kind, ts, first_ts, count, verdict, dkey, dport, proto,"
			       " daddr, qname, comm, uid, hook, qtype, ppid, pid, tgid, rule, proc,"
			       " cgroup FROM events WHERE id > ? ORDER BY id LIMIT ?",
			       -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, w);
	sqlite3_bind_int64(st, 2, max_rows);
	last = w;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		static const int col[] = {
		    DB_C_ID,   DB_C_KIND,  DB_C_TS,    DB_C_FIRST_TS, DB_C_COUNT, DB_C_VERDICT,
		    DB_C_DKEY, DB_C_DPORT, DB_C_PROTO, DB_C_DADDR,    DB_C_QNAME, DB_C_COMM,
		    DB_C_UID,  DB_C_HOOK,  DB_C_QTYPE, DB_C_PPID,     DB_C_PID,	  DB_C_TGID};
		struct hval v[HV_MAX]; /* by enum db_log_col */
		int64_t ids[3];

		_Static_assert(DB_C_PPID < HV_MAX, "the row's values by column fit");
		for (int i = 0; i < HV_MAX; i++)
			v[i] = hnull;
		for (size_t i = 0; i < sizeof(col) / sizeof(col[0]); i++)
			db_stmt_val(st, (int)i, &v[col[i]]);
		for (int i = 0; i < 3; i++)
			ids[i] = sqlite3_column_int64(st, 18 + i); /* NULL: 0 */
		rc = db_rollup_row(db, v, ids[0], ids[1], ids[2]);
		if (rc != SQLITE_OK)
			break;
		last = v[DB_C_ID].i;
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_OK) {
		db_rollup_discard(db);
		return rc;
	}
	rc = db_rollup_flush(db);
	if (rc == SQLITE_OK && last != w)
		rc = db_meta_set_int(db, "rollup_id", last) == 0 ? SQLITE_OK : SQLITE_IOERR;
	if (rc == SQLITE_OK)
		*done = n;
	return rc;
}

int db_rollup_catchup(struct db *db, int64_t max_rows, int64_t *done, int64_t *left, char *err,
		      size_t errlen)
{
	int64_t w = 0, max = 0;
	sqlite3_stmt *st;
	int rc;

	*done = *left = 0;
	if (db->mode != DB_RDWR || !db->roll)
		return db_fail(err, errlen, -EROFS, "%s is open read-only", db->path);
	rc = sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = db_rollup_catchup_locked(db, max_rows, done);
	if (rc == SQLITE_OK)
		rc = db_rollup_id(db, &w);
	if (rc == SQLITE_OK) {
		rc = sqlite3_prepare_v2(db->h, "SELECT coalesce(max(id), 0) FROM events", -1, &st,
					NULL);
		if (rc == SQLITE_OK) {
			if (sqlite3_step(st) == SQLITE_ROW)
				max = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
		}
	}
	if (rc == SQLITE_OK && *done)
		rc = sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	else if (rc == SQLITE_OK)
		rc = sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int r =
		    rc == SQLITE_CORRUPT
			? db_fail(err, errlen, -EIO,
				  "%s: meta 'rollup_id' is missing or not an integer: the "
				  "rollups cannot be caught up (`hush log verify` checks the log)",
				  db->path)
			: db_sql_err(db, err, errlen, rc, "cannot write the rollups of");

		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		*done = 0;
		return r;
	}
	*left = max > w ? max - w : 0;
	return 0;
}
