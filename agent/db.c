// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The audit log database: see db.h for the schema and the chain.
 *
 * Every write goes through one transaction helper that reads the chain tail
 * inside BEGIN IMMEDIATE, so hushd and `hush log prune` may both write: the
 * SQLite write lock orders them and each extends the chain from the row
 * the other committed.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "db.h"

#define DIM_INIT 1024

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
	struct dim_cache procs, cgroups, rules;
	EVP_MD_CTX *md;
	/* The chain head as last written (head file at open, then our commits):
	 * an append first checks the database still reaches it. */
	bool head_known;
	uint64_t head_id;
	uint8_t head_hash[DB_HASH_LEN];
};

/* ---- small helpers ---- */

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* What a failed SQLite call means for the operator. */
static const char *sql_hint(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return " (the disk is full: free space on the filesystem holding the database)";
	case SQLITE_READONLY:
		return " (the database or its filesystem is read-only: check mount options and "
		       "permissions)";
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return " (another process holds the database lock: retry)";
	case SQLITE_IOERR:
		return " (I/O error: check the disk and the kernel log)";
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return " (the file is damaged or not a hush database)";
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return " (need root or membership in group " DB_DEFAULT_GROUP ")";
	default:
		return "";
	}
}

static int sql_err(struct db *db, char *err, size_t errlen, int rc, const char *what)
{
	return fail(err, errlen, -EIO, "%s %s: %s%s", what, db->path, sqlite3_errmsg(db->h),
		    sql_hint(rc));
}

static int exec_sql(struct db *db, const char *sql, char *err, size_t errlen)
{
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sql_err(db, err, errlen, rc, "cannot write");
}

sqlite3 *db_handle(struct db *db)
{
	return db->h;
}

const char *db_path(const struct db *db)
{
	return db->path;
}

/* ---- dimension caches ---- */

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void dim_clear(struct dim_cache *c)
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
			dim_clear(c);
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

/* ---- open and migrate ---- */

/* The log view of schema version 3 (2 lacked its last column, qtype). */
#define VIEW_LOG                                                                                   \
	"CREATE VIEW log AS SELECT e.id AS id, e.kind AS kind, e.ts AS ts,"                        \
	" e.first_ts AS first_ts, e.count AS count, e.hook AS hook, e.verdict AS verdict,"         \
	" r.scope AS rule_scope, r.text AS rule_text, e.family AS family, e.proto AS proto,"       \
	" e.daddr AS daddr, e.dkey AS dkey, e.dport AS dport, e.qname AS qname,"                   \
	" e.flags AS flags, e.pid AS pid, e.tgid AS tgid, e.uid AS uid, e.gid AS gid,"             \
	" e.comm AS comm, p.exe AS exe, p.cmdline AS cmdline, c.cgid AS cgid,"                     \
	" c.path AS cgroup_path, c.container AS container, c.runtime AS runtime,"                  \
	" c.unit AS unit, c.pod AS pod, e.note AS note, e.hash AS hash,"                           \
	" e.qtype AS qtype"                                                                        \
	" FROM events e LEFT JOIN rules r ON r.id = e.rule LEFT JOIN procs p ON p.id = e.proc"     \
	" LEFT JOIN cgroups c ON c.id = e.cgroup;"

/* A new database gets the current schema at once.  events.qtype comes last,
 * where ALTER TABLE put it in a migrated database: both look the same. */
static const char schema[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE procs(id INTEGER PRIMARY KEY, exe TEXT NOT NULL, cmdline TEXT NOT NULL,"
    " UNIQUE(exe, cmdline));"
    "CREATE TABLE cgroups(id INTEGER PRIMARY KEY, cgid INTEGER NOT NULL, path TEXT NOT NULL,"
    " container TEXT, runtime TEXT, unit TEXT, pod TEXT, UNIQUE(cgid, path));"
    "CREATE TABLE rules(id INTEGER PRIMARY KEY, scope TEXT NOT NULL, text TEXT NOT NULL,"
    " UNIQUE(scope, text));"
    "CREATE TABLE marks(cpu INTEGER, hook INTEGER, verdict INTEGER, seq INTEGER NOT NULL,"
    " max_seen INTEGER NOT NULL, above INTEGER NOT NULL, PRIMARY KEY(cpu, hook, verdict))"
    " WITHOUT ROWID;"
    "CREATE TABLE events(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, ts INTEGER NOT NULL,"
    " first_ts INTEGER NOT NULL, count INTEGER NOT NULL, hook TEXT, verdict TEXT,"
    " rule INTEGER, family INTEGER, proto TEXT, daddr TEXT, dkey BLOB, dport INTEGER,"
    " qname TEXT, flags INTEGER, pid INTEGER, tgid INTEGER, uid INTEGER, gid INTEGER,"
    " comm TEXT, proc INTEGER, cgroup INTEGER, note TEXT, hash BLOB NOT NULL, qtype TEXT);"
    "CREATE INDEX events_ts ON events(ts);"
    "CREATE INDEX events_verdict_ts ON events(verdict, ts);"
    "CREATE INDEX events_cgroup_ts ON events(cgroup, ts);"
    "CREATE INDEX events_dkey_ts ON events(dkey, ts);"
    "CREATE INDEX events_dport_ts ON events(dport, ts);" VIEW_LOG;

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int user_version(struct db *db)
{
	sqlite3_stmt *st;
	int ver = -1;

	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		ver = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return ver;
}

/*
 * One step to version `to` in one transaction: a crash leaves the old
 * version.  The version is read again under the write lock, so a process
 * that migrated first (hushd and hush starting together) leaves nothing to
 * do rather than a failed second attempt.
 */
static int migrate_to(struct db *db, int to, const char *sql, char *err, size_t errlen)
{
	char tail[64];
	int ver;

	if (exec_sql(db, "BEGIN IMMEDIATE", err, errlen))
		return -EIO;
	ver = user_version(db);
	if (ver < 0) {
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		return sql_err(db, err, errlen, SQLITE_ERROR, "cannot read");
	}
	snprintf(tail, sizeof(tail), "PRAGMA user_version=%d", to);
	if (ver < to && (exec_sql(db, sql, err, errlen) || exec_sql(db, tail, err, errlen))) {
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	if (exec_sql(db, "COMMIT", err, errlen)) {
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	return 0;
}

static int migrate(struct db *db, char *err, size_t errlen)
{
	int ver = user_version(db);

	if (ver < 0)
		return sql_err(db, err, errlen, SQLITE_ERROR, "cannot read");
	if (ver > DB_SCHEMA_VERSION)
		return fail(
		    err, errlen, -EPROTO,
		    "%s has schema version %d, newer than this hush (%d): use the hush that "
		    "wrote it, or a newer one",
		    db->path, ver, DB_SCHEMA_VERSION);
	if (ver == DB_SCHEMA_VERSION)
		return 0;
	if (db->mode == DB_RDONLY)
		return fail(err, errlen, -EROFS,
			    "%s has schema version %d and needs migrating to %d: run hushd (or "
			    "any hush log command as root with write access) once",
			    db->path, ver, DB_SCHEMA_VERSION);
	if (ver == 0) {
		char sql[sizeof(schema) + 128];

		/* auto_vacuum must be set before the first table exists. */
		if (exec_sql(db, "PRAGMA auto_vacuum=INCREMENTAL", err, errlen))
			return -EIO;
		snprintf(sql, sizeof(sql), "%sINSERT INTO meta VALUES('created', %lld);", schema,
			 (long long)now_ns());
		return migrate_to(db, DB_SCHEMA_VERSION, sql, err, errlen);
	}
	/* 2: an index for port filters (a rare or absent port scanned the whole
	 * log: 2.9 s on 10M rows, 0.1 ms with it; inserts 9.6% slower). */
	if (ver < 2 &&
	    migrate_to(db, 2, "CREATE INDEX IF NOT EXISTS events_dport_ts ON events(dport, ts);",
		       err, errlen))
		return -EIO;
	/* 3: the DNS proxy's query type, and the view's new last column.  Old
	 * rows get NULL, which the chain hash leaves out: they still verify. */
	if (ver < 3) {
		sqlite3_stmt *st;
		bool have = false;

		/* (Only a hand-edited version 2 database has it already.) */
		if (sqlite3_prepare_v2(db->h,
				       "SELECT 1 FROM pragma_table_info('events') WHERE name = "
				       "'qtype'",
				       -1, &st, NULL) == SQLITE_OK) {
			have = sqlite3_step(st) == SQLITE_ROW;
			sqlite3_finalize(st);
		}
		if (migrate_to(db, 3,
			       have ? "DROP VIEW IF EXISTS log;" VIEW_LOG
				    : "ALTER TABLE events ADD COLUMN qtype TEXT;"
				      "DROP VIEW IF EXISTS log;" VIEW_LOG,
			       err, errlen))
			return -EIO;
	}
	/* Next: if (ver < 4) migrate_to(db, 4, ...). */
	return 0;
}

static int prepare(struct db *db, sqlite3_stmt **st, const char *sql, char *err, size_t errlen)
{
	int rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);

	return rc == SQLITE_OK ? 0 : sql_err(db, err, errlen, rc, "cannot prepare a statement on");
}

static int prepare_writer(struct db *db, char *err, size_t errlen)
{
	if (prepare(db, &db->ins_event,
		    "INSERT INTO events(id, kind, ts, first_ts, count, hook, verdict, rule, family,"
		    " proto, daddr, dkey, dport, qname, flags, pid, tgid, uid, gid, comm, proc,"
		    " cgroup, note, hash, qtype)"
		    " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		    err, errlen) ||
	    prepare(db, &db->last_row, "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1", err,
		    errlen) ||
	    prepare(
		db, &db->ins_mark,
		"INSERT INTO marks VALUES(?,?,?,?,?,?) ON CONFLICT(cpu, hook, verdict) DO UPDATE"
		" SET seq = excluded.seq, max_seen = excluded.max_seen, above = excluded.above",
		err, errlen) ||
	    prepare(db, &db->add_meta,
		    "INSERT INTO meta VALUES(?, ?) ON CONFLICT(key) DO UPDATE"
		    " SET value = value + excluded.value",
		    err, errlen) ||
	    prepare(db, &db->ins_proc,
		    "INSERT INTO procs(exe, cmdline) VALUES(?,?) ON CONFLICT DO NOTHING", err,
		    errlen) ||
	    prepare(db, &db->sel_proc, "SELECT id FROM procs WHERE exe = ? AND cmdline = ?", err,
		    errlen) ||
	    prepare(db, &db->ins_cg,
		    "INSERT INTO cgroups(cgid, path, container, runtime, unit, pod)"
		    " VALUES(?,?,?,?,?,?) ON CONFLICT DO NOTHING",
		    err, errlen) ||
	    prepare(db, &db->sel_cg, "SELECT id FROM cgroups WHERE cgid = ? AND path = ?", err,
		    errlen) ||
	    prepare(db, &db->ins_rule,
		    "INSERT INTO rules(scope, text) VALUES(?,?) ON CONFLICT DO NOTHING", err,
		    errlen) ||
	    prepare(db, &db->sel_rule, "SELECT id FROM rules WHERE scope = ? AND text = ?", err,
		    errlen))
		return -EIO;
	return 0;
}

/* Directory 0750 and file 0640, group "hush" when it exists. */
static int make_file(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct group *gr = getgrnam(DB_DEFAULT_GROUP);
	gid_t gid = gr ? gr->gr_gid : (gid_t)-1;
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		for (char *p = dir + 1; *p; p++) {
			if (*p != '/')
				continue;
			*p = 0;
			mkdir(dir, 0755);
			*p = '/';
		}
		/* Explicit modes: a service's UMask must not lock group hush out. */
		if (mkdir(dir, 0750) == 0 &&
		    (chmod(dir, 0750) < 0 || (gid != (gid_t)-1 && chown(dir, (uid_t)-1, gid) < 0)))
			return fail(err, errlen, -errno, "cannot give %s to group %s: %s", dir,
				    DB_DEFAULT_GROUP, strerror(errno));
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
		return fail(err, errlen, -errno,
			    "cannot write %s: %s (the database is read-only for hushd: make it "
			    "writable by root, mode 0640, or remount its filesystem read-write)",
			    path, strerror(errno));
	if (fd < 0) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd >= 0)
			(void)!fchmod(fd, 0640);
		else if (errno == EEXIST) /* created beside us */
			fd = open(path, O_RDWR | O_CLOEXEC);
	}
	if (fd < 0)
		return fail(err, errlen, -errno, "cannot create %s: %s%s", path, strerror(errno),
			    errno == EACCES || errno == EPERM ? " (need root)"
			    : errno == ENOENT		      ? " (create its directory)"
							      : "");
	if (gid != (gid_t)-1)
		(void)!fchown(fd, (uid_t)-1, gid);
	close(fd);
	return 0;
}

static int head_read(const char *dbpath, uint64_t *id, uint8_t h[DB_HASH_LEN]);

int db_open(const char *path, enum db_mode mode, struct db **out, char *err, size_t errlen)
{
	struct db *db;
	int rc, flags;

	*out = NULL;
	if (mode == DB_RDONLY && access(path, F_OK) < 0)
		return fail(err, errlen, -errno, "cannot open %s: %s%s", path, strerror(errno),
			    errno == ENOENT ? " (is hushd running with --db? pass --db FILE)"
			    : errno == EACCES
				? " (need root or membership in group " DB_DEFAULT_GROUP ")"
				: "");
	if (mode == DB_RDWR) {
		rc = make_file(path, err, errlen);
		if (rc)
			return rc;
	}
	db = calloc(1, sizeof(*db));
	if (!db)
		return fail(err, errlen, -ENOMEM, "out of memory");
	snprintf(db->path, sizeof(db->path), "%s", path);
	db->mode = mode;
	flags = (mode == DB_RDONLY ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
		SQLITE_OPEN_NOMUTEX;
	rc = sqlite3_open_v2(path, &db->h, flags, NULL);
	if (rc != SQLITE_OK) {
		int e = errno;

		fail(err, errlen, -EIO, "cannot open %s: %s%s", path,
		     db->h ? sqlite3_errmsg(db->h) : "out of memory",
		     e == EACCES ? " (need root or membership in group " DB_DEFAULT_GROUP ")"
				 : sql_hint(rc));
		db_close(db);
		return -EIO;
	}
	sqlite3_busy_timeout(db->h, 5000);
	sqlite3_extended_result_codes(db->h, 0);
	/* Reading the schema is the first real access: permissions show here.
	 * Before WAL: switching to WAL writes the first page, after which
	 * migrate() could no longer set auto_vacuum. */
	rc = migrate(db, err, errlen);
	if (rc) {
		db_close(db);
		return rc;
	}
	/* Keep -wal and -shm when the writer closes: a reader in group hush
	 * cannot create them in the 0750 directory. */
	if (mode == DB_RDWR) {
		int on = 1;

		sqlite3_file_control(db->h, "main", SQLITE_FCNTL_PERSIST_WAL, &on);
	}
	/* WAL: readers (hush log) never block the writer, nor it them. */
	if (mode == DB_RDWR && (exec_sql(db, "PRAGMA journal_mode=WAL", err, errlen) ||
				exec_sql(db, "PRAGMA synchronous=NORMAL", err, errlen))) {
		db_close(db);
		return -EIO;
	}
	if (mode == DB_RDWR) {
		db->head_known = head_read(db->path, &db->head_id, db->head_hash) == 0;
		rc = prepare_writer(db, err, errlen);
		db->md = EVP_MD_CTX_new();
		if (rc || !db->md) {
			db_close(db);
			return rc ? rc : fail(err, errlen, -ENOMEM, "out of memory");
		}
	}
	*out = db;
	return 0;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	sqlite3_stmt *sts[] = {db->add_meta, db->ins_event, db->last_row, db->ins_mark,
			       db->ins_proc, db->sel_proc,  db->ins_cg,	  db->sel_cg,
			       db->ins_rule, db->sel_rule};

	for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++)
		sqlite3_finalize(sts[i]);
	dim_clear(&db->procs);
	dim_clear(&db->cgroups);
	dim_clear(&db->rules);
	if (db->md)
		EVP_MD_CTX_free(db->md);
	sqlite3_close(db->h);
	free(db);
}

/* ---- the chain ---- */

struct hval {
	int type; /* SQLITE_NULL, SQLITE_INTEGER, SQLITE_TEXT, SQLITE_BLOB */
	int64_t i;
	const void *p;
	size_t len;
};

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

static void hash_vals(EVP_MD_CTX *md, const uint8_t prev[DB_HASH_LEN], const struct hval *v,
		      size_t n, uint8_t out[DB_HASH_LEN])
{
	unsigned int olen = DB_HASH_LEN;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, prev, DB_HASH_LEN);
	for (size_t k = 0; k < n; k++) {
		uint8_t b[9];

		switch (v[k].type) {
		case SQLITE_INTEGER:
			b[0] = 'i';
			for (int j = 0; j < 8; j++)
				b[1 + j] = (uint8_t)((uint64_t)v[k].i >> (56 - 8 * j));
			EVP_DigestUpdate(md, b, 9);
			break;
		case SQLITE_TEXT:
		case SQLITE_BLOB:
			b[0] = v[k].type == SQLITE_TEXT ? 't' : 'b';
			for (int j = 0; j < 4; j++)
				b[1 + j] = (uint8_t)((uint32_t)v[k].len >> (24 - 8 * j));
			EVP_DigestUpdate(md, b, 5);
			EVP_DigestUpdate(md, v[k].p, v[k].len);
			break;
		default:
			b[0] = 'n';
			EVP_DigestUpdate(md, b, 1);
			break;
		}
	}
	EVP_DigestFinal_ex(md, out, &olen);
}

/*
 * What the chain hashes of a row: the log columns before "hash", then qtype
 * when it is not NULL (schema 3: rows without one, all rows written before,
 * hash as they always did).  In the array of hashed values qtype sits at
 * index HV_QTYPE, the place "hash" has among the columns.
 */
#define HV_QTYPE DB_C_HASH
#define HV_MAX	 (DB_C_HASH + 1)

static void stmt_val(sqlite3_stmt *st, int c, struct hval *v)
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

/* The hashed values of the log row at st; returns how many. */
static size_t stmt_vals(sqlite3_stmt *st, struct hval v[HV_MAX])
{
	for (int k = 0; k < DB_C_HASH; k++)
		stmt_val(st, k, &v[k]);
	if (sqlite3_column_count(st) <= DB_C_QTYPE)
		return DB_C_HASH;
	stmt_val(st, DB_C_QTYPE, &v[HV_QTYPE]);
	return v[HV_QTYPE].type == SQLITE_NULL ? DB_C_HASH : HV_MAX;
}

void db_row_hash_stmt(sqlite3_stmt *st, const uint8_t prev[DB_HASH_LEN], uint8_t out[DB_HASH_LEN])
{
	struct hval v[HV_MAX];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t n = stmt_vals(st, v);

	if (md) {
		hash_vals(md, prev, v, n, out);
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
	return v[HV_QTYPE].type == SQLITE_NULL ? DB_C_HASH : HV_MAX;
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
	/* The select names only the unique key columns (the first two). */
	bind_val(sel, 1, &a[0]);
	bind_val(sel, 2, &a[1]);
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

static void anchor_get(struct db *db, uint64_t *id, uint8_t hash[DB_HASH_LEN])
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
static int tail(struct db *db, uint64_t *last_id, uint8_t hash[DB_HASH_LEN])
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

		anchor_get(db, &aid, hash);
		*last_id = aid - 1;
		rc = SQLITE_OK;
	}
	sqlite3_reset(db->last_row);
	return rc;
}

/* Insert rows inside an open transaction, extending the chain. */
static int insert_rows(struct db *db, const struct db_row *rows, size_t n, uint64_t *last_id,
		       uint8_t hash[DB_HASH_LEN]);

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
	r.kind = "note";
	r.ts = r.first_ts = now_ns();
	r.flags = -1;
	r.note = note;
	return insert_rows(db, &r, 1, last_id, hash);
}

static int append_locked(struct db *db, const struct db_row *rows, size_t n, uint64_t *last_id,
			 uint8_t hash[DB_HASH_LEN])
{
	int rc = tail(db, last_id, hash);

	if (rc == SQLITE_OK)
		rc = check_head(db, last_id, hash);
	return rc == SQLITE_OK ? insert_rows(db, rows, n, last_id, hash) : rc;
}

static int insert_rows(struct db *db, const struct db_row *rows, size_t n, uint64_t *last_id,
		       uint8_t hash[DB_HASH_LEN])
{
	int rc = SQLITE_OK;

	for (size_t k = 0; rc == SQLITE_OK && k < n; k++) {
		const struct db_row *r = &rows[k];
		struct hval v[HV_MAX], a[6];
		int64_t id = (int64_t)*last_id + 1, rule = 0, proc = 0, cg = 0;
		uint8_t h[DB_HASH_LEN];
		sqlite3_stmt *st = db->ins_event;
		size_t nv = row_vals(r, id, v);

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
			memcpy(a, &v[DB_C_CGID], sizeof(a));
			rc = dim_id(db, &db->cgroups, db->ins_cg, db->sel_cg, a, 6, &cg);
		}
		if (rc != SQLITE_OK)
			break;
		hash_vals(db->md, hash, v, nv, h);
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

void db_hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = 0;
}

int db_unhex(const char *s, size_t slen, uint8_t *out, size_t n)
{
	if (slen != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < 2 * n; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;

		if (v < 0)
			return -EINVAL;
		out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | v : v << 4);
	}
	return 0;
}

/* "<db>.head": "ID HASHHEX\n", replaced atomically. */
static void head_write(struct db *db, uint64_t id, const uint8_t h[DB_HASH_LEN])
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
	db_hex(h, DB_HASH_LEN, hx);
	fprintf(f, "%llu %s\n", (unsigned long long)id, hx);
	if (fclose(f) != 0 || rename(tmp, p) < 0)
		unlink(tmp);
}

static int head_read(const char *dbpath, uint64_t *id, uint8_t h[DB_HASH_LEN])
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

static void rollback(struct db *db)
{
	sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	/* Ids handed out inside the failed transaction no longer exist. */
	dim_clear(&db->procs);
	dim_clear(&db->cgroups);
	dim_clear(&db->rules);
}

int db_append(struct db *db, const struct db_row *rows, size_t n, const struct db_mark *marks,
	      size_t n_marks, char *err, size_t errlen)
{
	uint8_t h[DB_HASH_LEN];
	uint64_t last = 0;
	int rc;

	if (db->mode != DB_RDWR)
		return fail(err, errlen, -EROFS, "%s is open read-only", db->path);
	rc = sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sql_err(db, err, errlen, rc, "cannot write to");
	rc = append_locked(db, rows, n, &last, h);
	if (rc == SQLITE_OK)
		rc = store_marks(db, marks, n_marks);
	if (rc == SQLITE_OK)
		rc = add_totals(db, rows, n);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int r = sql_err(db, err, errlen, rc, "cannot write to");

		rollback(db);
		return r;
	}
	if (n)
		head_write(db, last, h);
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
		if (*n == cap) {
			struct db_mark *nm = realloc(m, (cap = cap ? cap * 2 : 64) * sizeof(*m));

			if (!nm) {
				free(m);
				sqlite3_finalize(st);
				return -ENOMEM;
			}
			m = nm;
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

int db_meta_get_int(struct db *db, const char *key, int64_t *v)
{
	sqlite3_stmt *st;
	int r = -ENOENT;

	if (sqlite3_prepare_v2(db->h, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
		*v = sqlite3_column_int64(st, 0);
		r = 0;
	}
	sqlite3_finalize(st);
	return r;
}

int db_meta_set_int(struct db *db, const char *key, int64_t v)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->h, "INSERT OR REPLACE INTO meta VALUES(?, ?)", -1, &st, NULL) !=
	    SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* ---- verification ---- */

/* Does the row at st link to prev? */
static bool links(sqlite3_stmt *st, const uint8_t prev[DB_HASH_LEN], EVP_MD_CTX *md)
{
	struct hval v[HV_MAX];
	uint8_t h[DB_HASH_LEN];
	size_t n = stmt_vals(st, v);

	hash_vals(md, prev, v, n, h);
	return sqlite3_column_bytes(st, DB_C_HASH) == DB_HASH_LEN &&
	       memcmp(h, sqlite3_column_blob(st, DB_C_HASH), DB_HASH_LEN) == 0;
}

int db_verify(struct db *db, uint64_t head_id, const uint8_t *head_hash, uint64_t *rows, char *msg,
	      size_t msglen)
{
	sqlite3_stmt *st = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t prev[DB_HASH_LEN], hh[DB_HASH_LEN], anchor[DB_HASH_LEN];
	uint64_t expect, n = 0, aid, last = 0;
	bool have_head = false, head_seen = false;
	int rc, ret = 0;
	char hx[2 * DB_HASH_LEN + 1];

	*rows = 0;
	if (!md)
		return fail(msg, msglen, -ENOMEM, "out of memory");
	/* The head file is rewritten after each commit: read it before the
	 * snapshot starts, so the snapshot holds the row it names. */
	if (head_id) {
		have_head = true;
		memcpy(hh, head_hash, DB_HASH_LEN);
	} else if (head_read(db->path, &head_id, hh) == 0) {
		have_head = true;
	}
	/* One read transaction: a consistent snapshot while hushd writes on. */
	sqlite3_exec(db->h, "BEGIN", NULL, NULL, NULL);
	anchor_get(db, &aid, anchor);
	memcpy(prev, anchor, DB_HASH_LEN);
	expect = aid;
	rc = sqlite3_prepare_v2(db->h, "SELECT " DB_LOG_COLUMNS " FROM log ORDER BY id", -1, &st,
				NULL);
	if (rc != SQLITE_OK) {
		ret = sql_err(db, msg, msglen, rc, "cannot read");
		goto out;
	}
	/* Rows are read one ahead, so a bad row can be told apart as edited
	 * (the next row links to its stored hash), inserted (the next row links
	 * to the row before it) or the start of a broken stretch. */
	rc = sqlite3_step(st);
	while (rc == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(st, DB_C_ID);
		uint8_t stored[DB_HASH_LEN] = {0};
		const char *kind = (const char *)sqlite3_column_text(st, DB_C_KIND);
		const char *note = (const char *)sqlite3_column_text(st, DB_C_NOTE);

		if (id != expect) {
			if (id > expect)
				ret = fail(
				    msg, msglen, 1,
				    id == expect + 1
					? "row %llu: deleted (the chain jumps from row %llu "
					  "to row %llu)"
					: "rows %llu..%llu: deleted (the chain jumps to row "
					  "%llu)",
				    (unsigned long long)expect,
				    (unsigned long long)(id == expect + 1 ? expect - 1 : id - 1),
				    (unsigned long long)id);
			else
				ret = fail(msg, msglen, 1, "row %llu: out of order",
					   (unsigned long long)id);
			goto out;
		}
		if (sqlite3_column_bytes(st, DB_C_HASH) == DB_HASH_LEN)
			memcpy(stored, sqlite3_column_blob(st, DB_C_HASH), DB_HASH_LEN);
		if (!links(st, prev, md)) {
			uint8_t before[DB_HASH_LEN];

			memcpy(before, prev, DB_HASH_LEN);
			rc = sqlite3_step(st);
			if (rc == SQLITE_ROW && links(st, before, md))
				ret = fail(msg, msglen, 1,
					   "row %llu: inserted (the next row links to row %llu)",
					   (unsigned long long)id, (unsigned long long)(id - 1));
			else if (rc == SQLITE_ROW && links(st, stored, md))
				ret = fail(msg, msglen, 1,
					   "row %llu: edited (its contents do not match its hash)",
					   (unsigned long long)id);
			else if (rc == SQLITE_ROW)
				ret =
				    fail(msg, msglen, 1,
					 "row %llu: chain broken (rows edited, inserted or deleted "
					 "from here on)",
					 (unsigned long long)id);
			else
				ret =
				    fail(msg, msglen, 1,
					 "row %llu: edited or inserted (its contents do not match "
					 "its hash)",
					 (unsigned long long)id);
			goto out;
		}
		if (kind && note && strcmp(kind, "note") == 0 && strncmp(note, "TAMPER:", 7) == 0) {
			ret = fail(msg, msglen, 1, "row %llu: hushd recorded: %s",
				   (unsigned long long)id, note + 7 + (note[7] == ' '));
			goto out;
		}
		if (have_head && id == head_id) {
			head_seen = true;
			if (memcmp(stored, hh, DB_HASH_LEN) != 0) {
				ret =
				    fail(msg, msglen, 1,
					 "row %llu: does not match the chain head kept outside the "
					 "database (rows rewritten)",
					 (unsigned long long)id);
				goto out;
			}
		}
		memcpy(prev, stored, DB_HASH_LEN);
		last = id;
		expect = id + 1;
		n++;
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE) {
		ret = sql_err(db, msg, msglen, rc, "cannot read");
		goto out;
	}
	if (have_head && !head_seen && head_id >= expect) {
		ret = fail(msg, msglen, 1,
			   "tail truncated: the chain head names row %llu, the database ends at "
			   "row %llu (rows %llu..%llu deleted)",
			   (unsigned long long)head_id, (unsigned long long)last,
			   (unsigned long long)last + 1, (unsigned long long)head_id);
		goto out;
	}
	/* A moved chain start must be the one a prune recorded (checked after
	 * the walk: a finding among the rows comes first). */
	if (aid > 1) {
		char want[128];
		sqlite3_stmt *q;
		bool found = false;

		db_hex(anchor, DB_HASH_LEN, hx);
		snprintf(want, sizeof(want), "%%chain now starts at row %llu after hash %s%%",
			 (unsigned long long)aid, hx);
		if (sqlite3_prepare_v2(db->h,
				       "SELECT 1 FROM events WHERE id >= ? AND kind = 'note' AND"
				       " note LIKE ? LIMIT 1",
				       -1, &q, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(q, 1, (int64_t)aid);
			sqlite3_bind_text(q, 2, want, -1, SQLITE_STATIC);
			found = sqlite3_step(q) == SQLITE_ROW;
			sqlite3_finalize(q);
		}
		if (!found) {
			ret = fail(msg, msglen, 1,
				   "rows before %llu deleted: the chain start was moved without a "
				   "prune record",
				   (unsigned long long)aid);
			goto out;
		}
	}
	*rows = n;
	if (have_head)
		fail(msg, msglen, 0, "intact, %llu rows", (unsigned long long)n);
	else
		fail(msg, msglen, 0,
		     "intact, %llu rows (no chain head file %s.head: a truncated tail would not "
		     "show; keep `hush log verify` heads off the host)",
		     (unsigned long long)n, db->path);
out:
	sqlite3_finalize(st);
	sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	EVP_MD_CTX_free(md);
	return ret;
}

/* ---- pruning ---- */

int64_t db_file_bytes(const struct db *db)
{
	char p[PATH_MAX + 8];
	struct stat s;
	int64_t t = 0;

	if (stat(db->path, &s) == 0)
		t += s.st_size;
	snprintf(p, sizeof(p), "%s-wal", db->path);
	if (stat(p, &s) == 0)
		t += s.st_size;
	return t;
}

/* Live bytes: pages in use (the file may keep free pages until vacuumed). */
static int64_t used_bytes(struct db *db)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	if (sqlite3_prepare_v2(db->h,
			       "SELECT (SELECT page_count FROM pragma_page_count) -"
			       " (SELECT freelist_count FROM pragma_freelist_count),"
			       " (SELECT page_size FROM pragma_page_size)",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0) * sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	return v;
}

static int64_t q_int(struct db *db, const char *sql, int64_t a, int64_t dflt)
{
	sqlite3_stmt *st;
	int64_t v = dflt;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		return dflt;
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_int64(st, 1, a);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Delete rows below id `upto` (exclusive) and record it in the chain. */
static int prune_below(struct db *db, int64_t upto, const char *why, uint64_t *removed, char *err,
		       size_t errlen)
{
	int64_t first = q_int(db, "SELECT min(id) FROM events", 0, 0);
	uint8_t ah[DB_HASH_LEN], h[DB_HASH_LEN];
	char hx[2 * DB_HASH_LEN + 1], note[512];
	struct db_row r = {0};
	sqlite3_stmt *st;
	uint64_t last;
	int rc;

	if (!first || upto <= first)
		return 0;
	/* The new anchor: the stored hash of the last row removed. */
	rc = sqlite3_prepare_v2(db->h, "SELECT hash FROM events WHERE id = ?", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(db, err, errlen, rc, "cannot read");
	sqlite3_bind_int64(st, 1, upto - 1);
	memset(ah, 0, sizeof(ah));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == DB_HASH_LEN)
		memcpy(ah, sqlite3_column_blob(st, 0), DB_HASH_LEN);
	sqlite3_finalize(st);
	rc = sqlite3_prepare_v2(db->h, "DELETE FROM events WHERE id < ?", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(db, err, errlen, rc, "cannot prune");
	sqlite3_bind_int64(st, 1, upto);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sql_err(db, err, errlen, rc, "cannot prune");
	*removed += (uint64_t)(upto - first);
	rc = sqlite3_prepare_v2(db->h,
				"INSERT OR REPLACE INTO meta VALUES('anchor_id', ?),"
				" ('anchor_hash', ?)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(db, err, errlen, rc, "cannot prune");
	sqlite3_bind_int64(st, 1, upto);
	sqlite3_bind_blob(st, 2, ah, DB_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sql_err(db, err, errlen, rc, "cannot prune");
	db_hex(ah, DB_HASH_LEN, hx);
	snprintf(note, sizeof(note),
		 "prune: removed rows %lld..%lld (%s); chain now starts at row %lld after hash %s",
		 (long long)first, (long long)upto - 1, why, (long long)upto, hx);
	r.kind = "note";
	r.ts = r.first_ts = now_ns();
	r.flags = -1;
	r.note = note;
	rc = append_locked(db, &r, 1, &last, h);
	return rc == SQLITE_OK ? 0 : sql_err(db, err, errlen, rc, "cannot prune");
}

int db_prune(struct db *db, int64_t cutoff_ns, int64_t max_bytes, uint64_t *removed, char *err,
	     size_t errlen)
{
	int rc;
	char why[128];

	*removed = 0;
	if (db->mode != DB_RDWR)
		return fail(err, errlen, -EROFS, "%s is open read-only", db->path);
	rc = sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sql_err(db, err, errlen, rc, "cannot prune");
	if (cutoff_ns > 0) {
		/* A prefix of the chain: everything before the first row at or
		 * after the cutoff. */
		int64_t upto = q_int(db, "SELECT min(id) FROM events WHERE ts >= ?", cutoff_ns,
				     q_int(db, "SELECT max(id) + 1 FROM events", 0, 0));
		time_t t = (time_t)(cutoff_ns / 1000000000LL);
		struct tm tm;
		char tb[64];

		gmtime_r(&t, &tm);
		strftime(tb, sizeof(tb), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(why, sizeof(why), "older than %s", tb);
		/* Keep the last row: the chain head stays verifiable. */
		int64_t maxid = q_int(db, "SELECT max(id) FROM events", 0, 0);

		if (upto > maxid)
			upto = maxid;
		rc = prune_below(db, upto, why, removed, err, errlen);
		if (rc)
			goto fail;
	}
	if (max_bytes > 0) {
		for (int round = 0; round < 32 && used_bytes(db) > max_bytes; round++) {
			int64_t lo = q_int(db, "SELECT min(id) FROM events", 0, 0);
			int64_t hi = q_int(db, "SELECT max(id) FROM events", 0, 0);
			int64_t used = used_bytes(db), cut;

			if (hi - lo < 2)
				break;
			/* Remove the share over the limit plus 10%, at least 1%. */
			cut = (int64_t)((double)(hi - lo) *
					((double)(used - max_bytes) / (double)used + 0.1));
			if (cut < (hi - lo) / 100 + 1)
				cut = (hi - lo) / 100 + 1;
			if (lo + cut > hi)
				cut = hi - lo;
			snprintf(why, sizeof(why), "database over %lld bytes",
				 (long long)max_bytes);
			rc = prune_below(db, lo + cut, why, removed, err, errlen);
			if (rc)
				goto fail;
		}
	}
	rc = sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		rc = sql_err(db, err, errlen, rc, "cannot prune");
		goto fail;
	}
	if (*removed) {
		uint64_t id = 0;
		uint8_t h[DB_HASH_LEN];

		sqlite3_exec(db->h, "PRAGMA incremental_vacuum", NULL, NULL, NULL);
		sqlite3_exec(db->h, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
		sqlite3_exec(db->h, "BEGIN", NULL, NULL, NULL);
		if (tail(db, &id, h) == SQLITE_OK)
			head_write(db, id, h);
		sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	}
	return 0;
fail:
	rollback(db);
	*removed = 0;
	return rc;
}

/* ---- figures ---- */

int db_stats(struct db *db, struct db_stats *s)
{
	int64_t lo, hi;

	memset(s, 0, sizeof(*s));
	sqlite3_exec(db->h, "BEGIN", NULL, NULL, NULL);
	lo = q_int(db, "SELECT min(id) FROM events", 0, 0);
	hi = q_int(db, "SELECT max(id) FROM events", 0, 0);
	/* Ids are contiguous (only a prefix is ever pruned). */
	s->rows = hi ? (uint64_t)(hi - lo + 1) : 0;
	s->last_id = (uint64_t)hi;
	s->oldest_ts = q_int(db, "SELECT min(ts) FROM events", 0, 0);
	s->newest_ts = q_int(db, "SELECT max(ts) FROM events", 0, 0);
	s->attempts = (uint64_t)q_int(db, "SELECT value FROM meta WHERE key = 'attempts'", 0, 0);
	s->lost = (uint64_t)q_int(db, "SELECT value FROM meta WHERE key = 'lost'", 0, 0);
	sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	s->file_bytes = db_file_bytes(db);
	return 0;
}

/* ---- option values ---- */

int db_parse_duration(const char *s, int64_t *ns)
{
	char *end;
	double v;
	int64_t unit;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v >= 0)) /* NaN too */
		return -EINVAL;
	if (strcmp(end, "s") == 0)
		unit = 1000000000LL;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		unit = 60LL * 1000000000LL;
	else if (strcmp(end, "h") == 0)
		unit = 3600LL * 1000000000LL;
	else if (strcmp(end, "d") == 0)
		unit = 86400LL * 1000000000LL;
	else if (strcmp(end, "w") == 0)
		unit = 7 * 86400LL * 1000000000LL;
	else if (strcmp(end, "ms") == 0)
		unit = 1000000LL;
	else
		return -EINVAL;
	if (v * (double)unit > 9.2e18)
		return -EINVAL;
	*ns = (int64_t)(v * (double)unit);
	return 0;
}

int db_parse_size(const char *s, int64_t *bytes)
{
	char *end;
	double v;
	int64_t unit = 1;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v >= 0)) /* NaN too */
		return -EINVAL;
	switch (*end) {
	case 0:
		break;
	case 'k':
	case 'K':
		unit = 1LL << 10;
		break;
	case 'm':
	case 'M':
		unit = 1LL << 20;
		break;
	case 'g':
	case 'G':
		unit = 1LL << 30;
		break;
	case 't':
	case 'T':
		unit = 1LL << 40;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] && strcmp(end + 1, "B") != 0 && strcmp(end + 1, "iB") != 0)
		return -EINVAL;
	if (v * (double)unit > 9.2e18)
		return -EINVAL;
	*bytes = (int64_t)(v * (double)unit);
	return 0;
}
