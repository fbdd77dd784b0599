// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench_query's database: the synthetic log (dimension values and rows, the
 * same for every build of this GEN_VERSION), the build through db_append(),
 * and the cache (FILE.info: reused while it matches this build).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent/util.h"
#include "tests/bench/bench_query/bq.h"

struct synth_dest dests[N_DEST];
struct synth_cg cgs[N_CG];
struct synth_proc procs[N_PROC];

/* Dimension values: the same for every build of this GEN_VERSION. */
void make_dims(void)
{
	/* Port of a destination, by weight (per mille). */
	static const struct {
		int port, w;
	} ports[] = {{443, 400},  {80, 150},  {53, 150},  {8443, 80}, {22, 60},
		     {11434, 50}, {5432, 40}, {6379, 30}, {9000, 20}, {123, 20}};

	synth_rng = 0x68757368; /* "hush" */
	for (int i = 0; i < N_DEST; i++) {
		struct synth_dest *d = &dests[i];
		unsigned w = synth_rndn(1000), acc = 0;

		if (i < 750) /* 75 /24s of 10 hosts each */
			snprintf(d->daddr, sizeof(d->daddr), "10.%u.%u.%u", 20 + (unsigned)i / 250,
				 (unsigned)(i / 10) % 25 * 10, 10 + (unsigned)(i % 10) * 20);
		else
			snprintf(d->daddr, sizeof(d->daddr), "fd00:10:%x::%x", (unsigned)i % 13,
				 (unsigned)i);
		d->family = synth_addr_key(d->daddr, d->dkey);
		d->dport = 443;
		for (size_t k = 0; k < sizeof(ports) / sizeof(ports[0]); k++) {
			acc += (unsigned)ports[k].w;
			if (w < acc) {
				d->dport = ports[k].port;
				break;
			}
		}
		if (i == 123)
			d->dport = RARE_PORT;
		d->proto = d->dport == 53 || d->dport == 123 ? "udp" : "tcp";
		if (i % 3 == 0)
			snprintf(d->qname, sizeof(d->qname), "host%d.%s", i,
				 i % 2 ? "corp.internal" : "example.com");
	}
	for (int i = 0; i < N_CG; i++) {
		struct synth_cg *c = &cgs[i];

		c->cgid = 7000 + (uint64_t)i * 13;
		if (i < 40) {
			synth_hexid(c->container, 64);
			c->runtime = i % 3 ? "docker" : "containerd";
			if (i % 3) {
				snprintf(c->path, sizeof(c->path), "/system.slice/docker-%s.scope",
					 c->container);
			} else {
				synth_hexid(c->pod, 32);
				snprintf(
				    c->path, sizeof(c->path),
				    "/kubepods.slice/kubepods-pod%s.slice/cri-containerd-%s.scope",
				    c->pod, c->container);
			}
		} else {
			snprintf(c->unit, sizeof(c->unit), "svc%d.service", i - 40);
			snprintf(c->path, sizeof(c->path), "/system.slice/%s", c->unit);
		}
	}
	for (int i = 0; i < N_PROC; i++) {
		struct synth_proc *p = &procs[i];

		snprintf(p->comm, sizeof(p->comm), "worker%d", i);
		snprintf(p->exe, sizeof(p->exe), "/usr/%s/worker%d", i % 2 ? "bin" : "local/bin",
			 i);
		snprintf(p->cmdline, sizeof(p->cmdline), "[\"%s\",\"--id\",\"%d\",\"--serve\"]",
			 p->exe, i);
		p->pid = 1000 + (uint32_t)i * 97;
		p->uid = i % 4 ? 1000 + (uint32_t)i % 7 : 0;
		p->cg = i % N_CG;
	}
}

static const char *const rule_texts[] = {"default deny", "allow 10.20.0.0/16 tcp 443,8443",
					 "allow fd00:10::/48", "deny 10.20.0.99"};

static void synth_row(struct db_row *r, int64_t ts, uint64_t i)
{
	const struct synth_dest *d = &dests[synth_rndn(N_DEST)];
	const struct synth_proc *p = &procs[synth_rndn(N_PROC)];
	const struct synth_cg *c = &cgs[p->cg];
	unsigned v = synth_rndn(100);

	memset(r, 0, sizeof(*r));
	r->flags = -1;
	r->ts = ts;
	if (i % 1000003 == 999999) {
		r->kind = "note";
		r->first_ts = ts;
		r->note = "hushd started (policy seq 1, 6 hooks)";
		return;
	}
	if (i % 100003 == 50000) {
		r->kind = "gap";
		r->count = 1 + synth_rndn(5000);
		r->first_ts = ts - 1000000000LL;
		r->hook = "sendmsg4";
		r->verdict = "deny";
		r->note = "ring buffer full: counted by the kernel, not reported";
		return;
	}
	r->kind = "attempt";
	r->count = synth_rndn(10) ? 1 : 2 + synth_rndn(49);
	r->first_ts = ts - (r->count - 1) * (int64_t)synth_rndn(4) * 1000000LL;
	r->verdict = v < 85 ? "deny" : v < 95 ? "allow" : "audit";
	r->rule_scope = "/";
	r->rule_text = r->verdict[0] == 'a' && r->verdict[1] == 'l' ? rule_texts[1 + synth_rndn(2)]
		       : synth_rndn(20)				    ? rule_texts[0]
								    : rule_texts[3];
	synth_fill(r, d, p, c);
	/* 5 rows in 10M with rare values: the hard case of the filters. */
	if (i % RARE_EVERY == RARE_AT) {
		r->comm = RARE_COMM;
		r->uid = RARE_UID;
		r->pid = r->tgid = RARE_PID;
		r->qname = RARE_DNS;
		r->hook = RARE_HOOK;
	}
}

/*
 * Append rows 0..n-1 (time stamps over the SPAN_NS before end_ns).  extra:
 * SQL run after the schema exists and before the first row (a candidate
 * index).  Rows depend only on the seed, so two builds hold the same rows.
 */
int build(const char *path, uint64_t n, int64_t end_ns, const char *extra, struct build_res *res)
{
	struct db_row *rb = calloc(TXN_ROWS, sizeof(*rb));
	int64_t t0, tseg = 0, cu_done, cu_left, start = end_ns - SPAN_NS,
		    step = SPAN_NS / (int64_t)n;
	uint64_t done = 0, seg = n / 10 ? n / 10 : 1;
	struct db *db = NULL;
	char err[512];
	int ret = 1;

	memset(res, 0, sizeof(*res));
	if (!rb)
		return 1;
	make_dims();
	if (db_open(path, DB_RDWR, &db, err, sizeof(err))) {
		fprintf(stderr, "bench_query: %s\n", err);
		goto out;
	}
	if (extra) {
		char *msg = NULL;

		if (sqlite3_exec(db_handle(db), extra, NULL, NULL, &msg) != SQLITE_OK) {
			fprintf(stderr, "bench_query: %s: %s\n", extra, msg);
			sqlite3_free(msg);
			goto out;
		}
	}
	synth_rng = 0x6c6f67; /* "log" */
	t0 = tseg = mono_ns();
	while (done < n) {
		size_t k, m = n - done < TXN_ROWS ? (size_t)(n - done) : TXN_ROWS;

		for (k = 0; k < m; k++) {
			uint64_t i = done + k;

			synth_row(&rb[k],
				  start + (int64_t)i * step +
				      (int64_t)(synth_rnd() % (uint64_t)(step / 2 + 1)),
				  i);
		}
		if (db_append(db, rb, m, NULL, 0, err, sizeof(err))) {
			fprintf(stderr, "bench_query: append: %s\n", err);
			goto out;
		}
		/* The rollups follow each transaction, as an idle hushd has them. */
		if (db_rollup_catchup(db, INT64_MAX, &cu_done, &cu_left, err, sizeof(err))) {
			fprintf(stderr, "bench_query: rollups: %s\n", err);
			goto out;
		}
		done += m;
		if (done % seg == 0 || done == n) {
			int64_t now = mono_ns();
			double r = (double)seg / ((double)(now - tseg) / 1e9);

			if (done == seg)
				res->first_rate = r;
			res->last_rate = r;
			tseg = now;
			if (n >= 1000000)
				fprintf(stderr, "bench_query: %" PRIu64 " rows, %.0f rows/s\n",
					done, r);
		}
	}
	res->secs = (double)(mono_ns() - t0) / 1e9;
	res->rate = (double)n / res->secs;
	res->end_ns = start + (int64_t)(n - 1) * step + step / 2;
	ret = 0;
out:
	db_close(db);
	free(rb);
	return ret;
}

/* ---- cache: FILE.info ---- */

static void sha_hex(const char *s, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;

	EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* SHA-256 of the schema (every CREATE statement, by name) and user_version. */
static int schema_of(sqlite3 *h, char out[65], int *uv)
{
	sqlite3_stmt *st;
	char *acc = NULL;
	size_t len = 0;

	*uv = -1;
	if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		*uv = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(h,
			       "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM "
			       "sqlite_master ORDER BY type, name",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		size_t n = strlen(t);
		char *na = realloc(acc, len + n + 2);

		if (!na) {
			free(acc);
			sqlite3_finalize(st);
			return -1;
		}
		acc = na;
		memcpy(acc + len, t, n);
		acc[len + n] = '\n';
		len += n + 1;
		acc[len] = 0;
	}
	sqlite3_finalize(st);
	sha_hex(acc ? acc : "", out);
	free(acc);
	return 0;
}

/* The schema this build creates: a fresh database through db_open(). */
static int fresh_schema(const char *near, char out[65], int *uv)
{
	char path[4096];
	struct db *db;
	char err[512];
	int r;

	snprintf(path, sizeof(path), "%s.schema-probe", near);
	unlink(path);
	if (db_open(path, DB_RDWR, &db, err, sizeof(err))) {
		fprintf(stderr, "bench_query: %s\n", err);
		return -1;
	}
	r = schema_of(db_handle(db), out, uv);
	db_close(db);
	for (const char *suf = ""; suf; suf = !*suf		     ? "-wal"
					      : !strcmp(suf, "-wal") ? "-shm"
					      : !strcmp(suf, "-shm") ? ".head"
								     : NULL) {
		char p[4200];

		snprintf(p, sizeof(p), "%s%s", path, suf);
		unlink(p);
	}
	return r;
}

static int info_read(const char *db, struct info *in)
{
	char p[4200];
	FILE *f;
	int n;

	snprintf(p, sizeof(p), "%s.info", db);
	f = fopen(p, "re");
	if (!f)
		return -1;
	memset(in, 0, sizeof(*in));
	n = fscanf(f,
		   "gen %d\nrows %" SCNu64 "\nuser_version %d\nschema %64s\nsecs %lf\nrate %lf\n"
		   "first_rate %lf\nlast_rate %lf\nend_ns %" SCNd64 "\nbuilt_ns %" SCNd64 "\n",
		   &in->gen, &in->rows, &in->user_version, in->schema, &in->secs, &in->rate,
		   &in->first_rate, &in->last_rate, &in->end_ns, &in->built_ns);
	fclose(f);
	return n == 10 ? 0 : -1;
}

static int info_write(const char *db, const struct info *in)
{
	char p[4200];
	FILE *f;

	snprintf(p, sizeof(p), "%s.info", db);
	f = fopen(p, "we");
	if (!f)
		return -1;
	fprintf(f,
		"gen %d\nrows %" PRIu64 "\nuser_version %d\nschema %s\nsecs %.3f\nrate %.1f\n"
		"first_rate %.1f\nlast_rate %.1f\nend_ns %" PRId64 "\nbuilt_ns %" PRId64 "\n",
		in->gen, in->rows, in->user_version, in->schema, in->secs, in->rate, in->first_rate,
		in->last_rate, in->end_ns, in->built_ns);
	return fclose(f);
}

void remove_db(const char *path)
{
	static const char *const sufs[] = {"", "-wal", "-shm", ".head", ".info"};

	for (size_t i = 0; i < sizeof(sufs) / sizeof(sufs[0]); i++) {
		char p[4200];

		snprintf(p, sizeof(p), "%s%s", path, sufs[i]);
		unlink(p);
	}
}

/* The cached database if it matches this build, else a new one. */
int ensure_db(const char *path, uint64_t rows, bool rebuild, struct info *in, bool *cached)
{
	char want[65], have[65] = "";
	int want_uv, have_uv = -1;
	struct build_res br;

	*cached = false;
	if (fresh_schema(path, want, &want_uv))
		return -1;
	if (!rebuild && info_read(path, in) == 0 && in->gen == GEN_VERSION && in->rows == rows &&
	    access(path, R_OK) == 0) {
		sqlite3 *h = NULL;

		if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
			schema_of(h, have, &have_uv);
		sqlite3_close(h);
		if (have_uv == want_uv && have_uv == DB_SCHEMA_VERSION && !strcmp(have, want) &&
		    !strcmp(in->schema, want)) {
			*cached = true;
			fprintf(stderr, "bench_query: using the cached %s (%" PRIu64 " rows)\n",
				path, rows);
			return 0;
		}
		fprintf(stderr,
			"bench_query: %s: schema changed (user_version %d -> %d), rebuilding\n",
			path, have_uv, want_uv);
	}
	remove_db(path);
	fprintf(stderr, "bench_query: building %s: %" PRIu64 " rows through db_append()\n", path,
		rows);
	if (build(path, rows, real_ns(), NULL, &br))
		return -1;
	memset(in, 0, sizeof(*in));
	in->gen = GEN_VERSION;
	in->rows = rows;
	in->user_version = want_uv;
	snprintf(in->schema, sizeof(in->schema), "%s", want);
	in->secs = br.secs;
	in->rate = br.rate;
	in->first_rate = br.first_rate;
	in->last_rate = br.last_rate;
	in->end_ns = br.end_ns;
	in->built_ns = real_ns();
	if (info_write(path, in))
		fprintf(stderr, "bench_query: cannot write %s.info\n", path);
	return 0;
}
