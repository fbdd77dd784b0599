// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Lineage (schema 6): the migration from version 5 keeps every row and its
 * hash; rows with ppid, ancestry, hostname and host id verify, and an edit
 * of any of them (in the row or in its lineages/hosts record) is found.
 * The lineage boundary in cgroup paths (attrib_boundary/attrib_inside).
 */
#define TC_PREFIX "lineage: "
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/attrib.h"
#include "agent/db.h"
#include "agent/util.h"
#include "tests/unit/tc.h"

static char tmpdir[] = "/tmp/hush-test-lineage.XXXXXX";

static const char *tpath(char *buf, const char *name)
{
	snprintf(buf, PATH_MAX, "%s/%s", tmpdir, name);
	return buf;
}

static struct db_row row(int i, bool lineage)
{
	struct db_row r = {0};
	static const char *const anc[] = {
	    "[{\"pid\":101,\"exe\":\"/usr/bin/python3\"},{\"pid\":100,\"exe\":\"/bin/sh\"}]",
	    "[{\"pid\":201,\"exe\":\"/usr/bin/curl\"},{\"pid\":200,\"exe\":\"/bin/sh\","
	    "\"exited\":true},{\"pid\":9,\"exe\":\"/usr/bin/containerd-shim-runc-v2\"}]",
	};

	r.kind = "attempt";
	r.ts = 1700000000000000000LL + i;
	r.first_ts = r.ts;
	r.count = 1;
	r.hook = "connect4";
	r.verdict = "deny";
	r.rule_scope = "/";
	r.rule_text = "default deny";
	r.family = 4;
	r.proto = "tcp";
	r.has_dest = true;
	r.daddr = "10.1.2.3";
	r.dkey[10] = r.dkey[11] = 0xff;
	r.dkey[12] = 10;
	r.dkey[15] = 3;
	r.dport = 443;
	r.flags = 0;
	r.has_proc_ids = true;
	r.pid = r.tgid = 100 + (uint32_t)i;
	r.comm = "python3";
	r.exe = "/usr/bin/python3";
	r.cmdline = "[\"python3\"]";
	if (lineage) {
		r.has_ppid = true;
		r.ppid = 100;
		r.ancestry = anc[i % 2];
		r.hostname = "host-a";
		r.host_id = "0123456789abcdef0123456789abcdef";
	}
	return r;
}

static bool append(struct tc *t, struct db *db, int from, int n, bool lineage)
{
	char err[512] = "";

	for (int i = from; i < from + n; i++) {
		struct db_row r = row(i, lineage);

		if (!CHECK(t, db_append(db, &r, 1, NULL, 0, err, sizeof(err)) == 0, "append: %s",
			   err))
			return false;
	}
	return true;
}

static int verify(struct db *db, uint64_t *rows, char *msg, size_t len)
{
	return db_verify(db, 0, NULL, rows, msg, len);
}

static bool sql(struct tc *t, const char *path, const char *q)
{
	sqlite3 *h;
	char *e = NULL;
	bool ok;

	if (sqlite3_open(path, &h) != SQLITE_OK)
		return CHECK(t, false, "sqlite3_open %s", path);
	ok = sqlite3_exec(h, q, NULL, NULL, &e) == SQLITE_OK;
	CHECK(t, ok, "%s: %s", q, e ? e : "?");
	sqlite3_free(e);
	sqlite3_close(h);
	return ok;
}

/* Version 5's view (db.c's VIEW_LOG before the lineage step). */
#define VIEW_LOG5                                                                                  \
	"CREATE VIEW log AS SELECT e.id AS id, e.kind AS kind, e.ts AS ts,"                        \
	" e.first_ts AS first_ts, e.count AS count, e.hook AS hook, e.verdict AS verdict,"         \
	" r.scope AS rule_scope, r.text AS rule_text, e.family AS family, e.proto AS proto,"       \
	" e.daddr AS daddr, e.dkey AS dkey, e.dport AS dport, e.qname AS qname,"                   \
	" e.flags AS flags, e.pid AS pid, e.tgid AS tgid, e.uid AS uid, e.gid AS gid,"             \
	" e.comm AS comm, p.exe AS exe, p.cmdline AS cmdline, c.cgid AS cgid,"                     \
	" c.path AS cgroup_path, c.container AS container, c.runtime AS runtime,"                  \
	" c.unit AS unit, c.pod AS pod, e.note AS note, e.hash AS hash,"                           \
	" e.qtype AS qtype, NULLIF(c.cname, '') AS cname, NULLIF(c.image, '') AS image,"           \
	" NULLIF(c.image_id, '') AS image_id, NULLIF(c.pod_ns, '') AS pod_ns,"                     \
	" NULLIF(c.pod_name, '') AS pod_name"                                                      \
	" FROM events e LEFT JOIN rules r ON r.id = e.rule LEFT JOIN procs p ON p.id = e.proc"     \
	" LEFT JOIN cgroups c ON c.id = e.cgroup;"

static void test_migrate(void)
{
	char p[PATH_MAX], err[512], msg[2048];
	struct db *db = NULL;
	uint64_t rows = 0;
	struct tc t;
	int r;

	tc_begin(&t, "a version 5 database migrates to 6, rows kept, chain intact, new rows too");
	tpath(p, "v5.db");
	if (CHECK(&t, db_open(p, DB_RDWR, &db, err, sizeof(err)) == 0, "open: %s", err) &&
	    append(&t, db, 0, 4, false)) {
		db_close(db);
		db = NULL;
		/* what hush 5 left: no lineage tables, columns or view columns */
		sql(&t, p,
		    "DROP VIEW log; DROP TABLE lineages; DROP TABLE hosts;"
		    " ALTER TABLE events DROP COLUMN ppid; ALTER TABLE events DROP COLUMN lineage;"
		    " ALTER TABLE events DROP COLUMN host; " VIEW_LOG5 " PRAGMA user_version = 5;");
		r = db_open(p, DB_RDONLY, &db, err, sizeof(err));
		CHECK(&t, r < 0 && !db && strstr(err, "version 5") && strstr(err, "migrat"),
		      "read-only open of v5: %d: %s", r, err);
		db = NULL;
		if (CHECK(&t, db_open(p, DB_RDWR, &db, err, sizeof(err)) == 0, "reopen: %s", err)) {
			r = verify(db, &rows, msg, sizeof(msg));
			CHECK(&t, r == 0 && rows == 4, "after migration: %d, %llu rows: %s", r,
			      (unsigned long long)rows, msg);
			append(&t, db, 4, 4, true);
			r = verify(db, &rows, msg, sizeof(msg));
			CHECK(&t, r == 0 && rows == 8, "with lineage rows: %d, %llu rows: %s", r,
			      (unsigned long long)rows, msg);
			db_close(db);
		}
	}
	tc_end(&t);
}

static void test_tamper(void)
{
	static const struct {
		const char *name, *sql, *want;
	} ed[] = {
	    {"a ppid edited", "UPDATE events SET ppid = 1 WHERE id = 3", "row 3: edited"},
	    {"a ppid removed", "UPDATE events SET ppid = NULL WHERE id = 3", "row 3: edited"},
	    {"a ppid added to an old row", "UPDATE events SET ppid = 7 WHERE id = 1",
	     "row 1: edited"},
	    {"a row pointed at another ancestry",
	     "UPDATE events SET lineage = (SELECT max(id) FROM lineages) WHERE id = 3",
	     "row 3: edited"},
	    {"an ancestry record edited (all rows naming it)",
	     "UPDATE lineages SET ancestry = '[]' WHERE id = 1", "lineages row 1: edited"},
	    {"a hostname edited", "UPDATE hosts SET hostname = 'evil'", "hosts row 1: edited"},
	    {"a host dropped from a row", "UPDATE events SET host = NULL WHERE id = 4",
	     "row 4: edited"},
	};
	char p[PATH_MAX], q[PATH_MAX], err[512], msg[4096];
	struct db *db = NULL;
	uint64_t rows;
	struct tc t;

	tpath(p, "tamper.db");
	if (db_open(p, DB_RDWR, &db, err, sizeof(err)) != 0)
		return;
	/* rows 1-2 without lineage (as before version 6), 3-8 with */
	tc_begin(&t, "setup");
	append(&t, db, 0, 2, false);
	append(&t, db, 2, 6, true);
	db_close(db);
	tc_end(&t);
	for (size_t k = 0; k < sizeof(ed) / sizeof(ed[0]); k++) {
		char cmd[2 * PATH_MAX + 16];

		tc_begin(&t, "tamper: %s", ed[k].name);
		tpath(q, "tamper-copy.db");
		snprintf(cmd, sizeof(cmd), "cp %s %s", p, q);
		if (CHECK(&t, system(cmd) == 0, "cp") && sql(&t, q, ed[k].sql)) {
			db = NULL;
			if (CHECK(&t, db_open(q, DB_RDONLY, &db, err, sizeof(err)) == 0, "open: %s",
				  err)) {
				int r = verify(db, &rows, msg, sizeof(msg));

				CHECK(&t, r == 1 && strstr(msg, ed[k].want),
				      "verify = %d (want 1 with \"%s\"): %s", r, ed[k].want, msg);
				db_close(db);
			}
		}
		unlink(q);
		tc_end(&t);
	}
}

static void test_boundary(void)
{
	static const struct {
		const char *path, *bound;
	} c[] = {
	    {"/system.slice/nginx.service", "/system.slice/nginx.service"},
	    {"/system.slice/nginx.service/worker", "/system.slice/nginx.service"},
	    {"/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	     ".scope",
	     "/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	     ".scope"},
	    {"/docker/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	     "/docker/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
	    {"/hush-test.1/docker/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	     "/hush-test.1/docker/"
	     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
	    {"/user.slice/user-1000.slice/session-3.scope/hush-run.77.0",
	     "/user.slice/user-1000.slice/session-3.scope/hush-run.77.0"},
	    {"/system.slice/a.service/hush-run.5.1/engine", "/system.slice/a.service/hush-run.5.1"},
	    {"/hush-test.12.0", "/hush-test.12.0"},
	    {"/mygroup/sub", "/mygroup/sub"},
	    {"/", "/"},
	    {"/hush-run", "/hush-run"}, /* not a run cgroup: the whole path */
	};
	struct tc t;

	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		size_t n = attrib_boundary(c[k].path);

		tc_begin(&t, "boundary of %s", c[k].path);
		CHECK(&t, n == strlen(c[k].bound) && !strncmp(c[k].path, c[k].bound, n),
		      "got %.*s, want %s", (int)n, c[k].path, c[k].bound);
		tc_end(&t);
	}
	tc_begin(&t, "inside the boundary: the cgroup and below, not a sibling or the parent");
	{
		const char *b = "/system.slice/a.service/x";
		size_t n = strlen("/system.slice/a.service");

		CHECK(&t, attrib_inside(b, n, "/system.slice/a.service"), "itself");
		CHECK(&t, attrib_inside(b, n, "/system.slice/a.service/y"), "a child");
		CHECK(&t, !attrib_inside(b, n, "/system.slice/a.services"), "a prefix name");
		CHECK(&t, !attrib_inside(b, n, "/system.slice"), "the parent");
		CHECK(&t, attrib_inside("/", 1, "/") && !attrib_inside("/", 1, "/x"), "the root");
	}
	tc_end(&t);
}

int main(void)
{
	char cmd[64];

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_boundary();
	test_migrate();
	test_tamper();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return nfail ? 1 : 0;
}
