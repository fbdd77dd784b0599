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

#include "agent/db_int.h"
#include "agent/fsutil.h"

/* ---- small helpers ---- */

int db_fail(char *err, size_t errlen, int code, const char *fmt, ...)
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

int db_sql_err(struct db *db, char *err, size_t errlen, int rc, const char *what)
{
	return db_fail(err, errlen, -EIO, "%s %s: %s%s", what, db->path, sqlite3_errmsg(db->h),
		       sql_hint(rc));
}

int db_exec(struct db *db, const char *sql, char *err, size_t errlen)
{
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_sql_err(db, err, errlen, rc, "cannot write");
}

sqlite3 *db_handle(struct db *db)
{
	return db->h;
}

const char *db_path(const struct db *db)
{
	return db->path;
}

/* ---- open and migrate ---- */

/* The log view: version 3's columns (2 lacked its last one, qtype), then
 * version 4's container engines' names ('' in the table is NULL). */
#define VIEW_LOG_HEAD                                                                              \
	"CREATE VIEW log AS SELECT e.id AS id, e.kind AS kind, e.ts AS ts,"                        \
	" e.first_ts AS first_ts, e.count AS count, e.hook AS hook, e.verdict AS verdict,"         \
	" r.scope AS rule_scope, r.text AS rule_text, e.family AS family, e.proto AS proto,"       \
	" e.daddr AS daddr, e.dkey AS dkey, e.dport AS dport, e.qname AS qname,"                   \
	" e.flags AS flags, e.pid AS pid, e.tgid AS tgid, e.uid AS uid, e.gid AS gid,"             \
	" e.comm AS comm, p.exe AS exe, p.cmdline AS cmdline, c.cgid AS cgid,"                     \
	" c.path AS cgroup_path, c.container AS container, c.runtime AS runtime,"                  \
	" c.unit AS unit, c.pod AS pod, e.note AS note, e.hash AS hash,"                           \
	" e.qtype AS qtype"
#define VIEW_LOG_FROM                                                                              \
	" FROM events e LEFT JOIN rules r ON r.id = e.rule LEFT JOIN procs p ON p.id = e.proc"     \
	" LEFT JOIN cgroups c ON c.id = e.cgroup;"
#define VIEW_LOG3 VIEW_LOG_HEAD VIEW_LOG_FROM
#define VIEW_LOG_NAMES                                                                             \
	", NULLIF(c.cname, '') AS cname, NULLIF(c.image, '') AS image,"                            \
	" NULLIF(c.image_id, '') AS image_id, NULLIF(c.pod_ns, '') AS pod_ns,"                     \
	" NULLIF(c.pod_name, '') AS pod_name"
#define VIEW_LOG VIEW_LOG_HEAD VIEW_LOG_NAMES VIEW_LOG_FROM

/* The cgroups table of version 4 (named t). */
#define CGROUPS4(t)                                                                                \
	"CREATE TABLE " t "(id INTEGER PRIMARY KEY, cgid INTEGER NOT NULL, path TEXT NOT NULL,"    \
	" container TEXT, runtime TEXT, unit TEXT, pod TEXT, cname TEXT NOT NULL DEFAULT '',"      \
	" image TEXT NOT NULL DEFAULT '', image_id TEXT NOT NULL DEFAULT '',"                      \
	" pod_ns TEXT NOT NULL DEFAULT '', pod_name TEXT NOT NULL DEFAULT '',"                     \
	" UNIQUE(cgid, path, cname, image, image_id, pod_ns, pod_name));"

/* Version 11: the cgroups table's unique key holds every column.  Version
 * 4's left out container, runtime, unit and pod: a cgroup seen again with
 * the same path and names but another of those (a hush that reads a path
 * differently, say) got the first row's id, and its rows then failed
 * verify, which hashes what was written.  UNIQUE holds NULLs distinct: the
 * key is an index with each NULL as an empty blob (never a name).  The
 * table is rebuilt keeping every id, as in version 4. */
#define CGROUPS11_KEY                                                                              \
	"CREATE UNIQUE INDEX cgroups_key ON cgroups(cgid, path, ifnull(container, x''),"           \
	" ifnull(runtime, x''), ifnull(unit, x''), ifnull(pod, x''), cname, image, image_id,"      \
	" pod_ns, pod_name);"
#define CGROUPS11                                                                                  \
	"DROP VIEW IF EXISTS log; DROP TABLE IF EXISTS cgroups11;"                                 \
	"CREATE TABLE cgroups11(id INTEGER PRIMARY KEY, cgid INTEGER NOT NULL,"                    \
	" path TEXT NOT NULL, container TEXT, runtime TEXT, unit TEXT, pod TEXT,"                  \
	" cname TEXT NOT NULL DEFAULT '', image TEXT NOT NULL DEFAULT '',"                         \
	" image_id TEXT NOT NULL DEFAULT '', pod_ns TEXT NOT NULL DEFAULT '',"                     \
	" pod_name TEXT NOT NULL DEFAULT '');"                                                     \
	"INSERT INTO cgroups11 SELECT id, cgid, path, container, runtime, unit, pod, cname, "      \
	"image,"                                                                                   \
	" image_id, pod_ns, pod_name FROM cgroups;"                                                \
	"DROP TABLE cgroups; ALTER TABLE cgroups11 RENAME TO cgroups;" CGROUPS11_KEY LINEAGE_VIEW

/* Version 5: an index for the process filters (--exe, --cmdline), which
 * scanned the table when they matched few rows.  (--uid and --hook would
 * want theirs too, but three more indexes cost about a third of the write
 * rate: they walk by time.) */
#define INDEXES5 "CREATE INDEX IF NOT EXISTS events_proc_ts ON events(proc, ts);"

/* A new database gets the current schema at once.  events.qtype comes last,
 * where ALTER TABLE put it in a migrated database: both look the same. */
static const char schema[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE procs(id INTEGER PRIMARY KEY, exe TEXT NOT NULL, cmdline TEXT NOT NULL,"
    " UNIQUE(exe, cmdline));" CGROUPS4(
	"cgroups") "CREATE TABLE rules(id INTEGER PRIMARY KEY, scope TEXT NOT NULL, text TEXT NOT "
		   "NULL,"
		   " UNIQUE(scope, text));"
		   "CREATE TABLE marks(cpu INTEGER, hook INTEGER, verdict INTEGER, seq INTEGER NOT "
		   "NULL,"
		   " max_seen INTEGER NOT NULL, above INTEGER NOT NULL, PRIMARY KEY(cpu, hook, "
		   "verdict))"
		   " WITHOUT ROWID;"
		   "CREATE TABLE events(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, ts INTEGER NOT "
		   "NULL,"
		   " first_ts INTEGER NOT NULL, count INTEGER NOT NULL, hook TEXT, verdict TEXT,"
		   " rule INTEGER, family INTEGER, proto TEXT, daddr TEXT, dkey BLOB, dport "
		   "INTEGER,"
		   " qname TEXT, flags INTEGER, pid INTEGER, tgid INTEGER, uid INTEGER, gid "
		   "INTEGER,"
		   " comm TEXT, proc INTEGER, cgroup INTEGER, note TEXT, hash BLOB NOT NULL, qtype "
		   "TEXT);"
		   "CREATE INDEX events_ts ON events(ts);"
		   "CREATE INDEX events_verdict_ts ON events(verdict, ts);"
		   "CREATE INDEX events_cgroup_ts ON events(cgroup, ts);"
		   "CREATE INDEX events_dkey_ts ON events(dkey, ts);"
		   "CREATE INDEX events_dport_ts ON events(dport, ts);" INDEXES5 VIEW_LOG;

/* Version 8: the rare kinds (gap, note) by time; DB_KIND_RARE_SQL (db.h)
 * is its WHERE, which a query repeats to use it. */
#define INDEX_KIND8                                                                                \
	"CREATE INDEX IF NOT EXISTS events_kind_ts ON events(kind, ts)"                            \
	" WHERE " DB_KIND_RARE_SQL ";"

/* db_rollup_build_sql's text fits in this. */
#define ROLLUP_SQL_MAX 32768
/* 9: the rollups follow the rows (db_rollup_catchup): the id of the last
 * row they hold.  Before 9 they were written with the rows: all of them. */
#define ROLLUP_ID9                                                                                 \
	"INSERT OR REPLACE INTO meta VALUES('rollup_id', (SELECT coalesce(max(id), 0) FROM "       \
	"events));"

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

	if (db_exec(db, "BEGIN IMMEDIATE", err, errlen))
		return -EIO;
	ver = user_version(db);
	if (ver < 0) {
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		return db_sql_err(db, err, errlen, SQLITE_ERROR, "cannot read");
	}
	snprintf(tail, sizeof(tail), "PRAGMA user_version=%d", to);
	if (ver < to && (db_exec(db, sql, err, errlen) || db_exec(db, tail, err, errlen))) {
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	if (db_exec(db, "COMMIT", err, errlen)) {
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	return 0;
}

/* ---- version 6: lineage (one self-contained step; renumber here) ----
 * Rows carry the parent pid, the ancestry (lineage.h; deduplicated in
 * lineages) and the host's name and id (hosts: one row per naming).  Old
 * rows get NULL, which the chain leaves out (db.h): they still verify.  The
 * view gets the four as its last columns. */
#define LINEAGE_VERSION 6
#define LINEAGE_VIEW                                                                               \
	VIEW_LOG_HEAD VIEW_LOG_NAMES ", e.ppid AS ppid, l.ancestry AS ancestry,"                   \
				     " NULLIF(h.hostname, '') AS hostname,"                        \
				     " NULLIF(h.host_id, '') AS host_id"                           \
				     " FROM events e LEFT JOIN rules r ON r.id = e.rule"           \
				     " LEFT JOIN procs p ON p.id = e.proc"                         \
				     " LEFT JOIN cgroups c ON c.id = e.cgroup"                     \
				     " LEFT JOIN lineages l ON l.id = e.lineage"                   \
				     " LEFT JOIN hosts h ON h.id = e.host;"
#define LINEAGE_TABLES                                                                             \
	"CREATE TABLE IF NOT EXISTS lineages(id INTEGER PRIMARY KEY,"                              \
	" ancestry TEXT NOT NULL UNIQUE);"                                                         \
	"CREATE TABLE IF NOT EXISTS hosts(id INTEGER PRIMARY KEY, hostname TEXT NOT NULL,"         \
	" host_id TEXT NOT NULL, UNIQUE(hostname, host_id));"
#define LINEAGE_COLUMNS                                                                            \
	"ALTER TABLE events ADD COLUMN ppid INTEGER;"                                              \
	"ALTER TABLE events ADD COLUMN lineage INTEGER;"                                           \
	"ALTER TABLE events ADD COLUMN host INTEGER;"
#define LINEAGE_SQL LINEAGE_TABLES LINEAGE_COLUMNS "DROP VIEW IF EXISTS log;" LINEAGE_VIEW

/* (A hand-edited older version may have the columns already.) */
static int lineage_migrate(struct db *db, int ver, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	bool have = false;

	if (ver >= LINEAGE_VERSION)
		return 0;
	if (sqlite3_prepare_v2(db->h,
			       "SELECT 1 FROM pragma_table_info('events') WHERE name = 'ppid'", -1,
			       &st, NULL) == SQLITE_OK) {
		have = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
	}
	return migrate_to(db, LINEAGE_VERSION,
			  have ? LINEAGE_TABLES "DROP VIEW IF EXISTS log;" LINEAGE_VIEW
			       : LINEAGE_SQL,
			  err, errlen);
}
#define LINEAGE_PREPARE(db, err, errlen)                                                           \
	(prepare(db, &(db)->ins_lin,                                                               \
		 "INSERT INTO lineages(ancestry) VALUES(?) ON CONFLICT DO NOTHING", err,           \
		 errlen) ||                                                                        \
	 prepare(db, &(db)->sel_lin, "SELECT id FROM lineages WHERE ancestry = ?", err, errlen) || \
	 prepare(db, &(db)->ins_host,                                                              \
		 "INSERT INTO hosts(hostname, host_id) VALUES(coalesce(?,''),coalesce(?,''))"      \
		 " ON CONFLICT DO NOTHING",                                                        \
		 err, errlen) ||                                                                   \
	 prepare(db, &(db)->sel_host,                                                              \
		 "SELECT id FROM hosts WHERE hostname = coalesce(?1,'') AND host_id = "            \
		 "coalesce(?2,'')",                                                                \
		 err, errlen))
/* ---- end of version 6 ---- */

static int migrate(struct db *db, char *err, size_t errlen)
{
	int ver = user_version(db);

	if (ver < 0)
		return db_sql_err(db, err, errlen, SQLITE_ERROR, "cannot read");
	if (ver > DB_SCHEMA_VERSION)
		return db_fail(
		    err, errlen, -EPROTO,
		    "%s has schema version %d, newer than this hush (%d): use the hush that "
		    "wrote it, or a newer one",
		    db->path, ver, DB_SCHEMA_VERSION);
	if (ver == DB_SCHEMA_VERSION)
		return 0;
	if (db->mode == DB_RDONLY)
		return db_fail(err, errlen, -EROFS,
			       "%s has schema version %d and needs migrating to %d: start hushd "
			       "(it migrates the log it opens), or run `hush log prune "
			       "--older-than DUR` once as root",
			       db->path, ver, DB_SCHEMA_VERSION);
	if (ver == 0) {
		char sql[sizeof(schema) + sizeof(LINEAGE_SQL) + sizeof(INDEX_KIND8) +
			 sizeof(CGROUPS11) + sizeof(ROLLUP_ID9) + 128 + ROLLUP_SQL_MAX];
		int n, m;

		/* auto_vacuum must be set before the first table exists. */
		if (db_exec(db, "PRAGMA auto_vacuum=INCREMENTAL", err, errlen))
			return -EIO;
		/* Version 5's schema, then each later step's. */
		n = snprintf(sql, sizeof(sql),
			     "%s" LINEAGE_SQL INDEX_KIND8 CGROUPS11
			     "INSERT INTO meta VALUES('created', %lld);",
			     schema, (long long)real_ns());
		m = db_rollup_build_sql(sql + n, sizeof(sql) - (size_t)n - sizeof(ROLLUP_ID9));
		if (m < 0)
			return db_fail(err, errlen, -E2BIG, "internal error: schema too long");
		memcpy(sql + n + m, ROLLUP_ID9, sizeof(ROLLUP_ID9));
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
			       have ? "DROP VIEW IF EXISTS log;" VIEW_LOG3
				    : "ALTER TABLE events ADD COLUMN qtype TEXT;"
				      "DROP VIEW IF EXISTS log;" VIEW_LOG3,
			       err, errlen))
			return -EIO;
	}
	/* 4: cgroups get the container engines' names.  The table is rebuilt
	 * (its UNIQUE(cgid, path) becomes one over the names too) keeping every
	 * id, so events still point at their rows; old rows have no names and
	 * hash as before. */
	if (ver < 4 &&
	    migrate_to(db, 4,
		       "DROP VIEW IF EXISTS log;" CGROUPS4(
			   "cgroups4") "INSERT INTO cgroups4(id, cgid, path, container, runtime, "
				       "unit, pod)"
				       " SELECT id, cgid, path, container, runtime, unit, pod FROM "
				       "cgroups;"
				       "DROP TABLE cgroups;"
				       "ALTER TABLE cgroups4 RENAME TO cgroups;" VIEW_LOG,
		       err, errlen))
		return -EIO;
	/* 5: an index for --exe/--cmdline (proc): a rare or absent process
	 * scanned the whole log (1M rows: 0.4-0.6 s; 12-14 ms with it). */
	if (ver < 5 && migrate_to(db, 5, INDEXES5, err, errlen))
		return -EIO;
	if (lineage_migrate(db, ver, err, errlen))
		return -EIO;
	/* 7 (speed): rollups of the attempt rows per minute, hour and day for
	 * `hush log top` (db_rollup.h), built here from the rows there are:
	 * top over 10M rows scanned them all (~5 s). */
	if (ver < 7) {
		char sql[ROLLUP_SQL_MAX];

		if (db_rollup_build_sql(sql, sizeof(sql)) < 0)
			return db_fail(err, errlen, -E2BIG, "internal error: schema too long");
		if (migrate_to(db, 7, sql, err, errlen))
			return -EIO;
	}
	/* 8 (speed): --kind gap|note walked the whole log (10M rows: ~2 s for
	 * an absent kind).  A partial index holds only those rows, so the
	 * attempt rows the writer adds cost nothing more.  logquery.c repeats
	 * its WHERE literally (SQLite uses a partial index only then). */
	if (ver < 8 && migrate_to(db, 8, INDEX_KIND8, err, errlen))
		return -EIO;
	if (ver < 9 && migrate_to(db, 9, ROLLUP_ID9, err, errlen))
		return -EIO;
	/* 10 (speed): --hook, --qtype, --ppid and --pid walked the whole log for
	 * a rare value (10M rows: 3-7 s); the rollups get a dimension each
	 * (rows with a value only), which the filters locate it by. */
	if (ver < 10) {
		char sql[ROLLUP_SQL_MAX];

		if (db_rollup_locate_sql(sql, sizeof(sql)) < 0)
			return db_fail(err, errlen, -E2BIG, "internal error: schema too long");
		if (migrate_to(db, 10, sql, err, errlen))
			return -EIO;
	}
	/* 11 (integrity): cgroups keyed by every column (see CGROUPS11). */
	if (ver < 11 && migrate_to(db, 11, CGROUPS11, err, errlen))
		return -EIO;
	/* Next: if (ver < 12) migrate_to(db, 12, ...). */
	return 0;
}

static int prepare(struct db *db, sqlite3_stmt **st, const char *sql, char *err, size_t errlen)
{
	int rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);

	return rc == SQLITE_OK ? 0
			       : db_sql_err(db, err, errlen, rc, "cannot prepare a statement on");
}

static int prepare_writer(struct db *db, char *err, size_t errlen)
{
	int rc;

	if (prepare(db, &db->ins_event,
		    "INSERT INTO events(id, kind, ts, first_ts, count, hook, verdict, rule, family,"
		    " proto, daddr, dkey, dport, qname, flags, pid, tgid, uid, gid, comm, proc,"
		    " cgroup, note, hash, qtype, ppid, lineage, host)"
		    " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
		    "INSERT INTO cgroups(cgid, path, container, runtime, unit, pod, cname, image,"
		    " image_id, pod_ns, pod_name) VALUES(?,?,?,?,?,?,coalesce(?,''),"
		    "coalesce(?,''),coalesce(?,''),coalesce(?,''),coalesce(?,'')) ON CONFLICT DO "
		    "NOTHING",
		    err, errlen) ||
	    prepare(db, &db->sel_cg,
		    "SELECT id FROM cgroups WHERE cgid = ?1 AND path = ?2 AND container IS ?3"
		    " AND runtime IS ?4 AND unit IS ?5 AND pod IS ?6"
		    " AND cname = coalesce(?7,'') AND image = coalesce(?8,'')"
		    " AND image_id = coalesce(?9,'') AND pod_ns = coalesce(?10,'')"
		    " AND pod_name = coalesce(?11,'')",
		    err, errlen) ||
	    prepare(db, &db->ins_rule,
		    "INSERT INTO rules(scope, text) VALUES(?,?) ON CONFLICT DO NOTHING", err,
		    errlen) ||
	    prepare(db, &db->sel_rule, "SELECT id FROM rules WHERE scope = ? AND text = ?", err,
		    errlen) ||
	    LINEAGE_PREPARE(db, err, errlen))
		return -EIO;
	rc = db_rollup_prepare(db);
	return rc == SQLITE_OK ? 0
			       : db_sql_err(db, err, errlen, rc, "cannot prepare a statement on");
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
		char *up;

		*slash = 0;
		/* Its parents 0755, errors ignored: the mkdir or open below says. */
		up = strrchr(dir, '/');
		if (up && up != dir) {
			*up = 0;
			(void)mkdir_p(dir, 0755);
			*up = '/';
		}
		/* Explicit modes: a service's UMask must not lock group hush out. */
		if (mkdir(dir, 0750) == 0 &&
		    (chmod(dir, 0750) < 0 || (gid != (gid_t)-1 && chown(dir, (uid_t)-1, gid) < 0)))
			return db_fail(err, errlen, -errno, "cannot give %s to group %s: %s", dir,
				       DB_DEFAULT_GROUP, strerror(errno));
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
		return db_fail(err, errlen, -errno,
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
		return db_fail(err, errlen, -errno, "cannot create %s: %s%s", path, strerror(errno),
			       errno == EACCES || errno == EPERM ? " (need root)"
			       : errno == ENOENT		 ? " (create its directory)"
								 : "");
	if (gid != (gid_t)-1)
		(void)!fchown(fd, (uid_t)-1, gid);
	close(fd);
	return 0;
}

/*
 * A reader (group hush) needs "<db>-wal" and "<db>-shm" to exist and be
 * readable, or a directory it may create them in (the 0750 directory is
 * not): without them SQLite fails with "attempt to write a readonly
 * database".  hushd keeps both (persistent WAL) and group-readable, but
 * the sqlite3 shell, a restore of the file alone or a cleanup removes
 * them.  Then the reader opens the file immutable (no locks, no -shm, the
 * WAL ignored): complete when there is no WAL or an empty one, which is
 * the case whenever no writer has the database open.  A non-empty WAL
 * without its -shm would be skipped: say so.
 */
static bool ro_needs_immutable(const char *path, bool *wal_data)
{
	char wal[PATH_MAX + 8], shm[PATH_MAX + 8], dir[PATH_MAX], *slash;
	struct stat st;

	*wal_data = false;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	if (access(wal, R_OK) == 0 && access(shm, R_OK) == 0)
		return false;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = 0;
	else if (slash)
		*slash = 0;
	else
		snprintf(dir, sizeof(dir), ".");
	if (access(dir, W_OK) == 0)
		return false; /* SQLite makes them */
	*wal_data = stat(wal, &st) == 0 && st.st_size > 0;
	return true;
}

/* "file:PATH?immutable=1" with PATH percent-encoded where URIs need it. */
static void immutable_uri(const char *path, char *out, size_t len)
{
	size_t o = (size_t)snprintf(out, len, "file:");

	for (const char *p = path; *p && o + 4 < len; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '%' || ch == '?' || ch == '#' || ch <= ' ' || ch >= 0x7f)
			o += (size_t)snprintf(out + o, len - o, "%%%02X", ch);
		else
			out[o++] = (char)ch;
	}
	snprintf(out + o, len - o, "?immutable=1");
}

/* hushd's files beside the database: group-readable like it (0640). */
static void wal_files_group(const char *path)
{
	char f[PATH_MAX + 8];
	struct stat st;

	if (stat(path, &st) < 0)
		return;
	for (int i = 0; i < 2; i++) {
		snprintf(f, sizeof(f), "%s%s", path, i ? "-shm" : "-wal");
		if (chmod(f, 0640) == 0)
			(void)!chown(f, (uid_t)-1, st.st_gid);
	}
}

int db_open(const char *path, enum db_mode mode, struct db **out, char *err, size_t errlen)
{
	char uri[3 * PATH_MAX + 32];
	bool immutable = false, wal_data = false;
	struct db *db;
	int rc, flags;

	*out = NULL;
	if (mode == DB_RDONLY && access(path, F_OK) < 0)
		return db_fail(err, errlen, -errno, "cannot open %s: %s%s", path, strerror(errno),
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
		return db_fail(err, errlen, -ENOMEM, "out of memory");
	snprintf(db->path, sizeof(db->path), "%s", path);
	db->mode = mode;
	flags = (mode == DB_RDONLY ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
		SQLITE_OPEN_NOMUTEX;
	if (mode == DB_RDONLY)
		immutable = ro_needs_immutable(path, &wal_data);
	if (immutable) {
		immutable_uri(path, uri, sizeof(uri));
		flags |= SQLITE_OPEN_URI;
		if (wal_data)
			fprintf(stderr,
				"hush: %s-wal may hold rows not yet in %s, and %s-shm, needed to "
				"read them, is missing (and this user may not create it): the "
				"newest rows may not be shown; any `hush log` run as root once "
				"restores it\n",
				path, path, path);
	}
	rc = sqlite3_open_v2(immutable ? uri : path, &db->h, flags, NULL);
	if (rc != SQLITE_OK) {
		int e = errno;

		db_fail(err, errlen, -EIO, "cannot open %s: %s%s", path,
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
	/* WAL: readers (hush log) never block the writer, nor it them.  Once
	 * in WAL mode both files exist (a first read maps -shm): give them
	 * the database's group, so readers find them whatever the umask. */
	if (mode == DB_RDWR && (db_exec(db, "PRAGMA journal_mode=WAL", err, errlen) ||
				db_exec(db, "PRAGMA synchronous=NORMAL", err, errlen) ||
				db_exec(db, "PRAGMA cache_size=-32768", err, errlen) ||
				db_exec(db, "SELECT count(*) FROM meta", err, errlen))) {
		db_close(db);
		return -EIO;
	}
	if (mode == DB_RDWR)
		wal_files_group(path);
	if (mode == DB_RDWR) {
		db->head_known = db_head_read(db->path, &db->head_id, db->head_hash) == 0;
		rc = prepare_writer(db, err, errlen);
		db->md = EVP_MD_CTX_new();
		if (rc || !db->md) {
			db_close(db);
			return rc ? rc : db_fail(err, errlen, -ENOMEM, "out of memory");
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
			       db->ins_rule, db->sel_rule,  db->ins_lin,  db->sel_lin,
			       db->ins_host, db->sel_host};

	/* The rollups of the rows written last (a writer that stops leaves
	 * none behind, unless a storm's backlog takes longer: the next writer
	 * goes on with it). */
	if (db->mode == DB_RDWR && db->roll && db->roll_up) {
		int64_t until = mono_ns() + 1000000000LL, done, left = 1;
		char err[256];

		while (left && mono_ns() < until &&
		       db_rollup_catchup(db, 16384, &done, &left, err, sizeof(err)) == 0)
			;
	}
	for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++)
		sqlite3_finalize(sts[i]);
	db_rollup_finalize(db);
	db_dim_clear(&db->procs);
	db_dim_clear(&db->cgroups);
	db_dim_clear(&db->rules);
	db_dim_clear(&db->lineages);
	db_dim_clear(&db->hosts);
	if (db->md)
		EVP_MD_CTX_free(db->md);
	sqlite3_close(db->h);
	free(db);
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

int db_meta_set_text(struct db *db, const char *key, const char *v)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->h, "INSERT OR REPLACE INTO meta VALUES(?, ?)", -1, &st, NULL) !=
	    SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}
