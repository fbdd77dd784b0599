// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * dbfill: write audit log rows through db_append(), so the hash chain, the
 * dimension tables and the head file are the real ones.  For tests and
 * benchmarks of `hush log`.
 *
 *   dbfill --db FILE [--rows N] [--seed S] [--span SEC] [--batch N]
 *	N synthetic attempt rows (default 1000): mostly denied, ~1000
 *	destinations (IPv4 and IPv6), 50 cgroups (40 containers, 10 units),
 *	200 processes, time stamps increasing over the last SEC seconds
 *	(default 86400), appended in transactions of N rows (default 10000).
 *	The dimension values are built once; rows only point into them.
 *
 *   dbfill --db FILE --jsonl FILE|-
 *	One JSON object per line, with the field names of struct db_row:
 *	kind, ts, first_ts, count, hook, verdict, rule_scope, rule_text,
 *	family, proto, daddr, dport, qname, flags, pid, tgid, uid, gid, comm,
 *	exe, cmdline (array), cgid, cgroup_path, container, runtime, unit, pod,
 *	note, qtype.  Defaults: kind "attempt", ts now (ns), first_ts = ts, count 1
 *	(0 for notes).  dkey and family follow from daddr; pid/tgid/uid/gid/
 *	comm are stored if any of them is given, the cgroup if cgid or
 *	cgroup_path is.  Lines are parsed with SQLite's JSON functions on an
 *	in-memory connection.  Unknown keys are an error (typos in tests).
 *
 * Exit: 0 ok, 1 failure, 2 usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "agent/db.h"
#include "agent/util.h"
#include "tests/lib/synthlog.h"

#define N_DEST	1000
#define N_CG	50
#define N_PROC	200
#define N_RULES 4

/* The rollups follow the rows at once, as an idle hushd's writer has them
 * (db_rollup_catchup). */
static int catch_up(struct db *db, char *err, size_t errlen)
{
	int64_t done, left;

	return db_rollup_catchup(db, INT64_MAX, &done, &left, err, errlen);
}
static void usage(void)
{
	fprintf(stderr, "usage: dbfill --db FILE [--rows N] [--seed S] [--span SEC] [--batch N]"
			" [--lineage 0|1]\n"
			"       dbfill --db FILE --jsonl FILE|- [--batch N]\n");
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

/* ---- synthetic rows ---- */

/* Rows carry ppid, ancestry, hostname and host id (schema 6) unless
 * --lineage 0 (to measure what they cost). */
static uint64_t with_lineage = 1;

static struct synth_dest dests[N_DEST];
static struct synth_cg cgs[N_CG];
static struct synth_proc procs[N_PROC];
static const char *const rule_texts[N_RULES] = {"default deny", "allow 10.20.0.0/16 tcp 443,8443",
						"allow fd00:10::/48", "deny 10.20.0.99"};

static void make_dims(void)
{
	static const int ports[] = {443, 80, 53, 8443, 22, 11434, 5432, 6379, 9000, 123};

	for (int i = 0; i < N_DEST; i++) {
		struct synth_dest *d = &dests[i];
		unsigned p = synth_rndn(sizeof(ports) / sizeof(ports[0]));

		if (i % 4 == 3)
			snprintf(d->daddr, sizeof(d->daddr), "fd00:%x:%x::%x", i % 7, i / 7,
				 1 + synth_rndn(0xfffe));
		else if (i % 4 == 2)
			snprintf(d->daddr, sizeof(d->daddr), "198.18.%u.%u", (unsigned)i % 256,
				 1 + synth_rndn(254));
		else
			snprintf(d->daddr, sizeof(d->daddr), "10.%u.%u.%u", (unsigned)i % 32,
				 (unsigned)i / 32, 1 + synth_rndn(254));
		d->family = synth_addr_key(d->daddr, d->dkey);
		d->dport = ports[p];
		d->proto = d->dport == 53 || d->dport == 123 ? "udp" : "tcp";
		if (i % 3 == 0)
			snprintf(d->qname, sizeof(d->qname), "host%d.%s", i,
				 i % 2 ? "corp.internal" : "example.com");
	}
	for (int i = 0; i < N_CG; i++) {
		struct synth_cg *c = &cgs[i];
		char id[65], pod[33];

		c->cgid = 4000 + (uint64_t)i;
		if (i < 40) {
			/* (local copies: gcc -Wrestrict cannot tell the fields apart) */
			synth_hexid(id, 64);
			memcpy(c->container, id, sizeof(id));
			c->runtime = i % 3 ? "docker" : "containerd";
			if (i % 3) {
				snprintf(c->path, sizeof(c->path), "/system.slice/docker-%s.scope",
					 id);
			} else {
				synth_hexid(pod, 32);
				memcpy(c->pod, pod, sizeof(pod));
				snprintf(
				    c->path, sizeof(c->path),
				    "/kubepods.slice/kubepods-pod%s.slice/cri-containerd-%s.scope",
				    pod, id);
			}
		} else {
			snprintf(c->unit, sizeof(c->unit), "svc%d.service", i - 40);
			snprintf(c->path, sizeof(c->path), "/system.slice/svc%d.service", i - 40);
		}
	}
	for (int i = 0; i < N_PROC; i++) {
		struct synth_proc *p = &procs[i];

		snprintf(p->comm, sizeof(p->comm), "prog%d", i);
		snprintf(p->exe, sizeof(p->exe), "/usr/%s/prog%d", i % 2 ? "bin" : "local/bin", i);
		snprintf(p->cmdline, sizeof(p->cmdline), "[\"/usr/%s/prog%d\",\"--id\",\"%d\"]",
			 i % 2 ? "bin" : "local/bin", i, i);
		p->pid = 1000 + (uint32_t)i * 97;
		p->uid = i % 4 ? 1000 : 0;
		snprintf(
		    p->ancestry, sizeof(p->ancestry),
		    "[{\"pid\":%u,\"exe\":\"/usr/%s/prog%d\"},{\"pid\":%u,\"exe\":\"/bin/sh\"},"
		    "{\"pid\":1,\"exe\":\"/usr/lib/systemd/systemd\"}]",
		    p->pid, i % 2 ? "bin" : "local/bin", i, p->pid - 1);
	}
}

static void synth_row(struct db_row *r, int64_t ts)
{
	const struct synth_dest *d = &dests[synth_rndn(N_DEST)];
	const struct synth_cg *c = &cgs[synth_rndn(N_CG)];
	const struct synth_proc *p = &procs[synth_rndn(N_PROC)];
	unsigned v = synth_rndn(100);

	memset(r, 0, sizeof(*r));
	r->kind = "attempt";
	r->ts = ts;
	r->count = synth_rndn(10) ? 1 : 2 + synth_rndn(49);
	r->first_ts = ts - (r->count - 1) * (int64_t)synth_rndn(1000) * 1000000LL;
	r->verdict = v < 85 ? "deny" : v < 95 ? "allow" : "audit";
	r->rule_scope = v < 95 || synth_rndn(2) ? "/" : "system.slice/svc1.service";
	r->rule_text = r->verdict[0] == 'a' && r->verdict[1] == 'l' ? rule_texts[1 + synth_rndn(2)]
		       : synth_rndn(20)				    ? rule_texts[0]
								    : rule_texts[3];
	synth_fill(r, d, p, c);
	if (with_lineage) {
		r->has_ppid = true;
		r->ppid = p->pid - 1;
		r->ancestry = p->ancestry;
		r->hostname = "bench-host";
		r->host_id = "0123456789abcdef0123456789abcdef";
	}
}

static int fill_synthetic(struct db *db, uint64_t rows, uint64_t seed, uint64_t span, size_t batch)
{
	struct db_row *rb = calloc(batch, sizeof(*rb));
	int64_t t0 = real_ns(), start, step;
	char err[512];
	uint64_t done = 0;
	double secs;

	if (!rb) {
		fprintf(stderr, "dbfill: out of memory\n");
		return 1;
	}
	synth_rng = seed;
	make_dims();
	start = t0 - (int64_t)span * 1000000000LL;
	step = rows ? (int64_t)(span * 1000000000ULL / rows) : 0;
	while (done < rows) {
		size_t n = rows - done < batch ? (size_t)(rows - done) : batch;

		for (size_t k = 0; k < n; k++) {
			uint64_t i = done + k;
			int64_t jitter = step > 1 ? (int64_t)(synth_rnd() % (uint64_t)step) : 0;

			synth_row(&rb[k], start + (int64_t)i * step + jitter);
		}
		if (db_append(db, rb, n, NULL, 0, err, sizeof(err)) ||
		    catch_up(db, err, sizeof(err))) {
			fprintf(stderr, "dbfill: %s\n", err);
			free(rb);
			return 1;
		}
		done += n;
	}
	free(rb);
	secs = (double)(real_ns() - t0) / 1e9;
	fprintf(stderr, "dbfill: %" PRIu64 " rows in %.2f s (%.0f rows/s)\n", rows, secs,
		secs > 0 ? (double)rows / secs : 0.0);
	return 0;
}

/* ---- JSON lines ---- */

static const char *const jfields[] = {
    "kind",    "ts",	"first_ts", "count", "hook",	"verdict", "rule_scope",  "rule_text",
    "family",  "proto", "daddr",    "dport", "qname",	"flags",   "pid",	  "tgid",
    "uid",     "gid",	"comm",	    "exe",   "cmdline", "cgid",	   "cgroup_path", "container",
    "runtime", "unit",	"pod",	    "note",  "qtype"};
enum {
	J_KIND,
	J_TS,
	J_FIRST_TS,
	J_COUNT,
	J_HOOK,
	J_VERDICT,
	J_RULE_SCOPE,
	J_RULE_TEXT,
	J_FAMILY,
	J_PROTO,
	J_DADDR,
	J_DPORT,
	J_QNAME,
	J_FLAGS,
	J_PID,
	J_TGID,
	J_UID,
	J_GID,
	J_COMM,
	J_EXE,
	J_CMDLINE,
	J_CGID,
	J_CGROUP_PATH,
	J_CONTAINER,
	J_RUNTIME,
	J_UNIT,
	J_POD,
	J_NOTE,
	J_QTYPE,
	J_MAX
};
_Static_assert(sizeof(jfields) / sizeof(jfields[0]) == J_MAX, "jfields");

/* One parsed line: the row plus the strings it points to. */
struct jrow {
	struct db_row r;
	char *s[J_MAX];
};

static void jrow_free(struct jrow *j)
{
	for (int k = 0; k < J_MAX; k++)
		free(j->s[k]);
	memset(j, 0, sizeof(*j));
}

/* Parse one line with `st` (binds ?1 = the line; columns: json_valid, the
 * first unknown key, then json_type and json_extract of every field). */
static int parse_line(sqlite3_stmt *st, const char *line, long lineno, struct jrow *j)
{
	struct db_row *r = &j->r;
	bool has[J_MAX] = {0};
	int64_t iv[J_MAX] = {0};
	int ret = -EINVAL;

	memset(j, 0, sizeof(*j));
	sqlite3_bind_text(st, 1, line, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		fprintf(stderr, "dbfill: line %ld: %s\n", lineno,
			sqlite3_errmsg(sqlite3_db_handle(st)));
		goto out;
	}
	if (!sqlite3_column_int(st, 0)) {
		fprintf(stderr, "dbfill: line %ld: not a JSON object\n", lineno);
		goto out;
	}
	if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
		fprintf(stderr, "dbfill: line %ld: unknown key \"%s\"\n", lineno,
			sqlite3_column_text(st, 1));
		goto out;
	}
	for (int k = 0; k < J_MAX; k++) {
		const char *type = (const char *)sqlite3_column_text(st, 2 + 2 * k);
		int c = 3 + 2 * k;

		if (!type || strcmp(type, "null") == 0)
			continue;
		has[k] = true;
		if (strcmp(type, "integer") == 0) {
			iv[k] = sqlite3_column_int64(st, c);
		} else if (strcmp(type, "text") == 0 || strcmp(type, "array") == 0) {
			j->s[k] = strdup((const char *)sqlite3_column_text(st, c));
			if (!j->s[k]) {
				fprintf(stderr, "dbfill: out of memory\n");
				goto out;
			}
		} else {
			fprintf(stderr, "dbfill: line %ld: \"%s\" has type %s\n", lineno,
				jfields[k], type);
			goto out;
		}
	}
	r->kind = j->s[J_KIND] ? j->s[J_KIND] : "attempt";
	r->ts = has[J_TS] ? iv[J_TS] : 0;
	if (!has[J_TS])
		r->ts = real_ns();
	r->first_ts = has[J_FIRST_TS] ? iv[J_FIRST_TS] : r->ts;
	r->count = has[J_COUNT] ? iv[J_COUNT] : strcmp(r->kind, "note") == 0 ? 0 : 1;
	r->hook = j->s[J_HOOK];
	r->verdict = j->s[J_VERDICT];
	r->rule_scope = j->s[J_RULE_SCOPE];
	r->rule_text = j->s[J_RULE_TEXT];
	r->proto = j->s[J_PROTO];
	r->qname = j->s[J_QNAME];
	r->qtype = j->s[J_QTYPE];
	r->flags = has[J_FLAGS] ? iv[J_FLAGS] : -1;
	if (j->s[J_DADDR]) {
		int fam = synth_addr_key(j->s[J_DADDR], r->dkey);

		if (!fam) {
			fprintf(stderr, "dbfill: line %ld: daddr \"%s\" is not an address\n",
				lineno, j->s[J_DADDR]);
			goto out;
		}
		r->has_dest = true;
		r->daddr = j->s[J_DADDR];
		r->dport = (int)iv[J_DPORT];
		r->family = fam;
	}
	if (has[J_FAMILY])
		r->family = (int)iv[J_FAMILY];
	if (has[J_PID] || has[J_TGID] || has[J_UID] || has[J_GID] || has[J_COMM]) {
		r->has_proc_ids = true;
		r->pid = (uint32_t)iv[J_PID];
		r->tgid = has[J_TGID] ? (uint32_t)iv[J_TGID] : r->pid;
		r->uid = (uint32_t)iv[J_UID];
		r->gid = (uint32_t)iv[J_GID];
		r->comm = j->s[J_COMM];
	}
	r->exe = j->s[J_EXE];
	r->cmdline = j->s[J_CMDLINE];
	if (has[J_CGID] || has[J_CGROUP_PATH]) {
		r->has_cgroup = true;
		r->cgid = (uint64_t)iv[J_CGID];
		r->cgroup_path = j->s[J_CGROUP_PATH];
		r->container = j->s[J_CONTAINER];
		r->runtime = j->s[J_RUNTIME];
		r->unit = j->s[J_UNIT];
		r->pod = j->s[J_POD];
	}
	r->note = j->s[J_NOTE];
	ret = 0;
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (ret)
		jrow_free(j);
	return ret;
}

static int append_batch(struct db *db, struct jrow *jb, struct db_row *rb, size_t n)
{
	char err[512];
	int ret = 0;

	for (size_t k = 0; k < n; k++)
		rb[k] = jb[k].r;
	if (n &&
	    (db_append(db, rb, n, NULL, 0, err, sizeof(err)) || catch_up(db, err, sizeof(err)))) {
		fprintf(stderr, "dbfill: %s\n", err);
		ret = 1;
	}
	for (size_t k = 0; k < n; k++)
		jrow_free(&jb[k]);
	return ret;
}

static int fill_jsonl(struct db *db, const char *path, size_t batch)
{
	char sql[4096], *line = NULL;
	size_t off, cap = 0, n = 0;
	struct jrow *jb = calloc(batch, sizeof(*jb));
	struct db_row *rb = calloc(batch, sizeof(*rb));
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	sqlite3 *mem = NULL;
	sqlite3_stmt *st = NULL;
	long lineno = 0;
	ssize_t len;
	int ret = 1;

	if (!f) {
		fprintf(stderr, "dbfill: cannot open %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (!jb || !rb) {
		fprintf(stderr, "dbfill: out of memory\n");
		goto out;
	}
	off = (size_t)snprintf(sql, sizeof(sql),
			       "SELECT json_valid(?1) AND json_type(?1) = 'object',"
			       " (SELECT key FROM json_each(?1) WHERE key NOT IN (");
	for (int k = 0; k < J_MAX; k++)
		off += (size_t)snprintf(sql + off, sizeof(sql) - off, "%s'%s'", k ? "," : "",
					jfields[k]);
	off += (size_t)snprintf(sql + off, sizeof(sql) - off, ") LIMIT 1)");
	for (int k = 0; k < J_MAX; k++)
		off += (size_t)snprintf(sql + off, sizeof(sql) - off,
					", json_type(?1, '$.%s'), json_extract(?1, '$.%s')",
					jfields[k], jfields[k]);
	if (sqlite3_open(":memory:", &mem) != SQLITE_OK ||
	    sqlite3_prepare_v2(mem, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "dbfill: sqlite: %s\n", mem ? sqlite3_errmsg(mem) : "no memory");
		goto out;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (len == 0 || line[0] == '#')
			continue;
		if (parse_line(st, line, lineno, &jb[n]))
			goto out;
		if (++n == batch) {
			if (append_batch(db, jb, rb, n))
				goto out;
			n = 0;
		}
	}
	if (append_batch(db, jb, rb, n))
		goto out;
	n = 0;
	ret = 0;
out:
	for (size_t k = 0; k < n && jb; k++)
		jrow_free(&jb[k]);
	free(line);
	free(jb);
	free(rb);
	sqlite3_finalize(st);
	sqlite3_close(mem);
	if (f && f != stdin)
		fclose(f);
	return ret;
}

int main(int argc, char **argv)
{
	const char *dbpath = NULL, *jsonl = NULL;
	uint64_t rows = 1000, seed = 1, span = 86400, batch = 10000;
	struct db *db = NULL;
	char err[512];
	int ret;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage();
			return 0;
		}
		if (!v) {
			fprintf(stderr, "dbfill: %s: unknown option or missing value\n", a);
			usage();
			return 2;
		}
		if (strcmp(a, "--db") == 0)
			dbpath = v;
		else if (strcmp(a, "--jsonl") == 0)
			jsonl = v;
		else if (strcmp(a, "--rows") == 0)
			bad = parse_u64(v, &rows);
		else if (strcmp(a, "--seed") == 0)
			bad = parse_u64(v, &seed);
		else if (strcmp(a, "--span") == 0)
			bad = parse_u64(v, &span) || span == 0 || span > (1ULL << 32);
		else if (strcmp(a, "--lineage") == 0)
			bad = parse_u64(v, &with_lineage) || with_lineage > 1;
		else if (strcmp(a, "--batch") == 0)
			bad = parse_u64(v, &batch) || batch == 0 || batch > 10000000;
		else
			bad = -1;
		if (bad) {
			fprintf(stderr, "dbfill: %s %s: %s\n", a, v,
				bad < 0 ? "unknown option" : "bad value");
			usage();
			return 2;
		}
		i++;
	}
	if (!dbpath) {
		usage();
		return 2;
	}
	if (db_open(dbpath, DB_RDWR, &db, err, sizeof(err))) {
		fprintf(stderr, "dbfill: %s\n", err);
		return 1;
	}
	if (jsonl)
		ret = fill_jsonl(db, jsonl, (size_t)batch);
	else
		ret = fill_synthetic(db, rows, seed, span, (size_t)batch);
	db_close(db);
	return ret;
}
