// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench_write: the audit log writer's row rate through db_append() (the
 * rows, the chain, the dimension tables; the rollups after), without hushd,
 * the kernel or the ring buffer in the way:
 *
 *   bench_write --db FILE [--rows N] [--batch N] [--rate R] [--pattern storm|sparse]
 *
 * storm: the rows of tests/bench/store.sh's storm that does not coalesce:
 * one process in one cgroup denied sending to one address, ports 2000 ..
 * 61999 round robin.  sparse: rows that differ in every dimension top
 * counts (a new destination, name, process, uid and comm for nearly every
 * row, as on dbfill's 10M-row log).  Time stamps advance by 1/R s per row
 * (R default 120000, the storm's offered rate).  Appends N rows (default
 * 200000) in transactions of --batch rows (default 4096) to FILE (created)
 * and prints one line: pattern, rows, seconds, rows/s; then the rollups'
 * catch-up over those rows (db_rollup_catchup in hushd's writer's chunks of
 * 4096 rows, which hushd runs when no batch waits): rows, seconds, rows/s,
 * and rows/s of the two together.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/db.h"
#include "agent/util.h"

#define NAMES 64

static double wall_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct names {
	char daddr[48], qname[64], comm[16], exe[64], cmdline[96];
};

static void row_at(struct db_row *r, struct names *nm, uint64_t i, int64_t ts, bool sparse)
{
	memset(r, 0, sizeof(*r));
	r->kind = "attempt";
	r->ts = r->first_ts = ts;
	r->count = 1;
	r->hook = "sendmsg4";
	r->verdict = "deny";
	r->rule_scope = "/";
	r->rule_text = "default deny";
	r->family = 4;
	r->proto = "udp";
	r->has_dest = true;
	r->flags = 0;
	r->has_proc_ids = true;
	r->pid = r->tgid = 4242;
	r->gid = 0;
	r->has_cgroup = true;
	r->cgid = 7001;
	r->cgroup_path = "/hush-bench/enforced";
	if (!sparse) {
		r->daddr = "198.18.2.2";
		r->dkey[10] = r->dkey[11] = 0xff;
		r->dkey[12] = 198, r->dkey[13] = 18, r->dkey[14] = 2, r->dkey[15] = 2;
		r->dport = 2000 + (int)(i % 60000);
		r->uid = 0;
		r->comm = "stormer";
		r->exe = "/opt/hush/stormer";
		r->cmdline = "[\"stormer\",\"send\"]";
		return;
	}
	snprintf(nm->daddr, sizeof(nm->daddr), "10.%u.%u.%u", (unsigned)(i >> 16) & 255,
		 (unsigned)(i >> 8) & 255, (unsigned)i & 255);
	r->daddr = nm->daddr;
	r->dkey[10] = r->dkey[11] = 0xff;
	r->dkey[12] = 10, r->dkey[13] = (uint8_t)(i >> 16), r->dkey[14] = (uint8_t)(i >> 8);
	r->dkey[15] = (uint8_t)i;
	r->dport = 443;
	snprintf(nm->qname, sizeof(nm->qname), "h%" PRIu64 ".example.com", i);
	r->qname = nm->qname;
	r->uid = (uint32_t)(i % 100000);
	snprintf(nm->comm, sizeof(nm->comm), "p%" PRIu64, i % 1000000);
	r->comm = nm->comm;
	snprintf(nm->exe, sizeof(nm->exe), "/usr/bin/p%" PRIu64, i % 5000);
	r->exe = nm->exe;
	snprintf(nm->cmdline, sizeof(nm->cmdline), "[\"p%" PRIu64 "\"]", i % 5000);
	r->cmdline = nm->cmdline;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},      {"rows", required_argument, NULL, 'n'},
	    {"batch", required_argument, NULL, 'b'},   {"rate", required_argument, NULL, 'r'},
	    {"pattern", required_argument, NULL, 'p'}, {NULL, 0, NULL, 0}};
	const char *path = NULL, *pattern = "storm";
	uint64_t rows = 200000, batch = 4096, rate = 120000, done = 0;
	struct db_row *rb;
	struct names *nm;
	struct db *db;
	char err[512];
	double t0, t;
	int64_t ts0;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			path = optarg;
			break;
		case 'n':
			rows = strtoull(optarg, NULL, 10);
			break;
		case 'b':
			batch = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			rate = strtoull(optarg, NULL, 10);
			break;
		case 'p':
			pattern = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!path || !batch || !rate ||
	    (strcmp(pattern, "storm") != 0 && strcmp(pattern, "sparse") != 0)) {
		fprintf(stderr, "usage: bench_write --db FILE [--rows N] [--batch N] [--rate R]"
				" [--pattern storm|sparse]\n");
		return 2;
	}
	if (db_open(path, DB_RDWR, &db, err, sizeof(err))) {
		fprintf(stderr, "bench_write: %s\n", err);
		return 1;
	}
	rb = calloc(batch, sizeof(*rb));
	nm = calloc(batch, sizeof(*nm));
	if (!rb || !nm) {
		fprintf(stderr, "bench_write: out of memory\n");
		return 1;
	}
	ts0 = real_ns();
	t0 = wall_s();
	while (done < rows) {
		size_t n = rows - done < batch ? (size_t)(rows - done) : (size_t)batch;

		for (size_t k = 0; k < n; k++) {
			uint64_t i = done + k;

			row_at(&rb[k], &nm[k], i, ts0 + (int64_t)(i * 1000000000ULL / rate),
			       pattern[1] == 'p');
		}
		if (db_append(db, rb, n, NULL, 0, err, sizeof(err))) {
			fprintf(stderr, "bench_write: %s\n", err);
			return 1;
		}
		done += n;
	}
	t = wall_s() - t0;
	printf("%s %" PRIu64 " rows %.2f s %.0f rows/s", pattern, rows, t, (double)rows / t);
	{
		int64_t cdone = 0, left = 1, all = 0;
		double c0 = wall_s(), ct;

		while (left) {
			if (db_rollup_catchup(db, 4096, &cdone, &left, err, sizeof(err))) {
				fprintf(stderr, "\nbench_write: %s\n", err);
				return 1;
			}
			all += cdone;
		}
		ct = wall_s() - c0;
		printf("; rollups %" PRId64 " rows %.2f s %.0f rows/s; together %.0f rows/s\n", all,
		       ct, (double)all / ct, (double)rows / (t + ct));
	}
	db_close(db);
	free(rb);
	free(nm);
	return 0;
}
