// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench_sockaddr: the cells (configuration x path) and the order of a
 * round, what is read around the rounds (network counters, ksoftirqd's
 * time), the statistics over rounds, and the Markdown report on stdout.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "agent/engine.h"
#include "tests/bench/sockaddr/bench_sockaddr.h"

/* ---- cells, rounds, statistics ---- */

struct cell cells[MAX_CELLS];
int ncells;
double rate[MAX_ROUNDS][MAX_CELLS];
double wrate[MAX_ROUNDS][MAX_CELLS];
double share[MAX_ROUNDS][MAX_CELLS];
bool spoiled[MAX_ROUNDS][MAX_CELLS];
uint64_t errs_total[MAX_CELLS];
int first_err[MAX_CELLS];
uint64_t attempts[CG_MAX][P_MAX];

static int cell_of(enum conf c, enum path p)
{
	for (int i = 0; i < ncells; i++)
		if (cells[i].c == c && cells[i].p == p)
			return i;
	return -1;
}

const char *const conf_keys[C_MAX] = {"none", "floor", "h10", "h100k", "byst", "nft", "storm"};
const char *const path_keys[P_MAX] = {"tcp4", "udp4", "tcp6", "udp6", "deny4", "unr4"};

void add_cell(enum conf c, enum path p, int cg)
{
	if (opt.cells) {
		char key[32];
		const char *s = opt.cells;
		size_t kl;
		bool found = false;

		snprintf(key, sizeof(key), "%s.%s", conf_keys[c], path_keys[p]);
		kl = strlen(key);
		while (s && *s) {
			if (!strncmp(s, key, kl) && (s[kl] == ',' || s[kl] == 0))
				found = true;
			s = strchr(s, ',');
			if (s)
				s++;
		}
		if (!found)
			return;
	}
	cells[ncells++] = (struct cell){
	    c, p, cg, c == C_FLOOR || c == C_H10 || c == C_H100K || c == C_BYST || c == C_STORM};
}

/*
 * The order of a round: two phases, engines detached (no program, nft,
 * unroutable) and engines attached (floor, hush 10, hush 100k, storm,
 * bystander).  The phase
 * order alternates, so the engines are opened or closed once per round, and
 * the cells inside a phase rotate from round to round.
 */
void round_order(int rd, int *order)
{
	int n = 0;

	for (int ph = 0; ph < 2; ph++) {
		bool on = (ph + rd) % 2 == 1;
		int members[MAX_CELLS], m = 0;

		for (int i = 0; i < ncells; i++)
			if (cells[i].on == on)
				members[m++] = i;
		for (int k = 0; k < m; k++)
			order[n++] = members[(k + rd) % m];
	}
	if (n != ncells)
		die("internal error: round order covers %d of %d cells", n, ncells);
}

/* A counter of this network namespace from /proc/net/{snmp,netstat} (pairs
 * of "Proto: names" / "Proto: values" lines) or /proc/net/snmp6 ("name
 * value" lines); 0 if absent. */
static unsigned long long net_stat(const char *file, const char *proto, const char *name)
{
	char hdr[4096], val[4096], path[64];
	unsigned long long v = 0;
	size_t pl = strlen(proto);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/net/%s", file);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!strcmp(file, "snmp6")) {
		char n[128];
		unsigned long long x;

		while (fscanf(f, "%127s %llu", n, &x) == 2)
			if (!strcmp(n, name))
				v = x;
		fclose(f);
		return v;
	}
	while (fgets(hdr, sizeof(hdr), f) && fgets(val, sizeof(val), f)) {
		char *hs, *vs, *h, *w;

		if (strncmp(hdr, proto, pl) || hdr[pl] != ':')
			continue;
		h = strtok_r(hdr + pl + 1, " \n", &hs);
		w = strtok_r(val + pl + 1, " \n", &vs);
		while (h && w) {
			if (!strcmp(h, name))
				v = strtoull(w, NULL, 10);
			h = strtok_r(NULL, " \n", &hs);
			w = strtok_r(NULL, " \n", &vs);
		}
	}
	fclose(f);
	return v;
}

void netc_read(struct netc *n)
{
	n->udp_rcvbuf = net_stat("snmp", "Udp", "RcvbufErrors");
	n->udp6_rcvbuf = net_stat("snmp6", "", "Udp6RcvbufErrors");
	n->listen_ovf = net_stat("netstat", "TcpExt", "ListenOverflows");
	n->listen_drops = net_stat("netstat", "TcpExt", "ListenDrops");
}

/* Run time of a kernel thread (ns), from /proc/PID/schedstat; 0 if none. */
pid_t find_kthread(const char *comm)
{
	char p[64], buf[64];

	for (pid_t pid = 2; pid < 4096; pid++) {
		FILE *f;

		snprintf(p, sizeof(p), "/proc/%d/comm", (int)pid);
		f = fopen(p, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			buf[strcspn(buf, "\n")] = 0;
			if (!strcmp(buf, comm)) {
				fclose(f);
				return pid;
			}
		}
		fclose(f);
	}
	return 0;
}

double kthread_cpu_s(pid_t pid)
{
	char p[64];
	unsigned long long ns = 0;
	FILE *f;

	if (!pid)
		return 0;
	snprintf(p, sizeof(p), "/proc/%d/schedstat", (int)pid);
	f = fopen(p, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return (double)ns * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stat3 {
	double med, min, max;
};

static struct stat3 stats(const double *v, int n)
{
	double s[MAX_ROUNDS];
	struct stat3 r = {0};

	if (n <= 0)
		return r;
	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_d);
	r.min = s[0];
	r.max = s[n - 1];
	r.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	return r;
}

static const char *kfmt(char *b, size_t len, double v)
{
	if (v >= 1e6)
		snprintf(b, len, "%.2fM", v / 1e6);
	else
		snprintf(b, len, "%.1fk", v / 1e3);
	return b;
}

static const char *conf_name(enum conf c)
{
	static char b[C_MAX][64];

	switch (c) {
	case C_NONE:
		return "no program";
	case C_FLOOR:
		return "no-op programs on hush's hooks (floor)";
	case C_H10:
		snprintf(b[c], sizeof(b[c]), "hush, %d+%d prefixes", opt.small, opt.small);
		return b[c];
	case C_H100K:
		snprintf(b[c], sizeof(b[c]), "hush, %dk+%dk prefixes", opt.prefixes / 1000,
			 opt.prefixes / 1000);
		return b[c];
	case C_BYST:
		return "no program here, hush attached to another cgroup";
	case C_NFT:
		snprintf(b[c], sizeof(b[c]), "nftables interval set, %dk v4 (peer)",
			 opt.prefixes / 1000);
		return b[c];
	case C_STORM:
		return "hush 10+10, all denied, reader draining";
	default:
		return "?";
	}
}

/* Goal for a cell, 0 if none. */
static double goal_of(const struct cell *c)
{
	if (c->c == C_H100K && (c->p == P_TCP4 || c->p == P_TCP6))
		return 0.95;
	if (c->c == C_H100K && (c->p == P_UDP4 || c->p == P_UDP6))
		return 0.92;
	if (c->c == C_STORM)
		return 0.80;
	return 0;
}

static int npass, nmiss;

static double per_round_ratio(double (*v)[MAX_CELLS], int rd, int i, int base)
{
	return v[rd][i] / v[rd][base];
}

static void print_table(int rounds)
{
	char a[32], b[32], c[32];

	printf("| path | configuration | rate, median (ops/s) | rate min–max | "
	       "ratio to no program, median | ratio min–max | goal | result | "
	       "wall-clock ratio, median |\n");
	printf("|---|---|---:|---:|---:|---:|---|---|---:|\n");
	for (int p = 0; p < P_MAX; p++) {
		for (int ci = 0; ci < C_MAX; ci++) {
			int i = cell_of((enum conf)ci, (enum path)p), base;
			double rv[MAX_ROUNDS], ratio[MAX_ROUNDS], wratio[MAX_ROUNDS];
			struct stat3 rs, qs, ws;
			int n, nr;
			double g;
			const char *res = "";

			if (i < 0)
				continue;
			base = cell_of(C_NONE, p == P_DENY4 ? P_UDP4 : (enum path)p);
			n = nr = 0;
			for (int r = 0; r < rounds; r++) {
				if (!spoiled[r][i])
					rv[n++] = rate[r][i];
				if (spoiled[r][i] || spoiled[r][base])
					continue;
				ratio[nr] = per_round_ratio(rate, r, i, base);
				wratio[nr++] = per_round_ratio(wrate, r, i, base);
			}
			if (!n || !nr) {
				printf("| %s | %s | no clean round | | | | | | |\n", path_names[p],
				       conf_name(cells[i].c));
				if (goal_of(&cells[i]) > 0)
					nmiss++;
				continue;
			}
			rs = stats(rv, n);
			qs = stats(ratio, nr);
			ws = stats(wratio, nr);
			g = goal_of(&cells[i]);
			if (g > 0) {
				res = qs.med >= g ? "PASS" : "MISS";
				if (qs.med >= g)
					npass++;
				else
					nmiss++;
			}
			if (errs_total[i])
				res = "ERRORS";
			printf("| %s | %s | %s | %s–%s | ", path_names[p], conf_name(cells[i].c),
			       kfmt(a, sizeof(a), rs.med), kfmt(b, sizeof(b), rs.min),
			       kfmt(c, sizeof(c), rs.max));
			if (i == base)
				printf("1 | — | | | 1 |\n");
			else if (g > 0)
				printf("**%.3f** | %.3f–%.3f | ≥ %.2f | **%s** | %.3f |\n", qs.med,
				       qs.min, qs.max, g, res, ws.med);
			else
				printf("%.3f | %.3f–%.3f | %s | %s | %.3f |\n", qs.med, qs.min,
				       qs.max, cells[i].c == C_NFT ? "peer" : "—", res, ws.med);
		}
		if (p == P_UDP4 && !nft_on)
			printf("| connect v4, sendto v4 | nftables set (peer) | %s | | | | | | |\n",
			       nft_why);
	}
}

/* Median over rounds of rate[a]/rate[b] and of the time per operation a
 * adds over b (ns); rounds where either cell is spoiled are left out. */
static bool rel(int a, int b, int rounds, struct stat3 *q, struct stat3 *ns)
{
	double x[MAX_ROUNDS], y[MAX_ROUNDS];
	int n = 0;

	for (int r = 0; r < rounds; r++) {
		if (spoiled[r][a] || spoiled[r][b])
			continue;
		x[n] = rate[r][a] / rate[r][b];
		y[n++] = (1 / rate[r][a] - 1 / rate[r][b]) * 1e9;
	}
	if (!n)
		return false;
	*q = stats(x, n);
	*ns = stats(y, n);
	return true;
}

/* The floor against no program (the hook machinery) and hush against the
 * floor (hush's programs on top of it), per path. */
static void print_floor(int rounds)
{
	static const enum path ps[] = {P_TCP4, P_UDP4, P_TCP6, P_UDP6};
	struct stat3 q, d, q10, d10;
	bool first = true;

	printf("\n**Floor vs hush** (medians of per-round values): the kernel's hook machinery "
	       "alone (a no-op program on each of hush's six hooks) costs");
	for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
		int f = cell_of(C_FLOOR, ps[k]), n = cell_of(C_NONE, ps[k]);

		if (f < 0 || n < 0 || !rel(f, n, rounds, &q, &d))
			continue;
		printf("%s %s %.3f%s (%+.0f ns%s)", first ? "" : ",", path_names[ps[k]], q.med,
		       first ? " of the no-program rate" : "", d.med,
		       first ? " per operation" : "");
		first = false;
	}
	printf("; hush's own programs add on top of that floor (hush ratio ÷ floor ratio, "
	       "100k+100k / 10+10 prefixes)");
	first = true;
	for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
		int f = cell_of(C_FLOOR, ps[k]), h = cell_of(C_H100K, ps[k]),
		    h10 = cell_of(C_H10, ps[k]);

		if (f < 0 || h < 0 || h10 < 0 || !rel(h, f, rounds, &q, &d) ||
		    !rel(h10, f, rounds, &q10, &d10))
			continue;
		printf("%s %s %.3f / %.3f (%+.0f / %+.0f ns)", first ? "" : ",", path_names[ps[k]],
		       q.med, q10.med, d.med, d10.med);
		first = false;
	}
	printf(".\n");
}

/* The storm against a no-program sendto() that fails at route lookup (same
 * destination): what a denied, logged attempt costs. */
static void print_storm_cost(int rounds)
{
	int s = cell_of(C_STORM, P_DENY4), u = cell_of(C_NONE, P_UNR4);
	double ratio[MAX_ROUNDS], ns[MAX_ROUNDS];
	struct stat3 q, d;
	int n = 0;

	if (s < 0 || u < 0)
		return;
	for (int r = 0; r < rounds; r++) {
		if (spoiled[r][u])
			continue;
		ratio[n] = rate[r][s] / rate[r][u];
		ns[n++] = (1 / rate[r][s] - 1 / rate[r][u]) * 1e9;
	}
	if (!n)
		return;
	q = stats(ratio, n);
	d = stats(ns, n);
	printf("\nDenied storm against a no-program `sendto()` to the same address, which "
	       "fails at route lookup (ENETUNREACH): ratio %.3f (%.3f–%.3f), i.e. a denied, "
	       "counted and logged attempt costs %.0f ns (%.0f–%.0f) more.  The reader's "
	       "`engine_poll(eng, 100)` returned %llu times over the whole run, %llu of them "
	       "before its timeout, for %llu events (%.0f events per early return): no "
	       "wake-up per event.\n",
	       q.med, q.min, q.max, d.med, d.min, d.max,
	       (unsigned long long)atomic_load(&reader_polls),
	       (unsigned long long)atomic_load(&reader_wakes),
	       (unsigned long long)atomic_load(&ev_seen),
	       (double)atomic_load(&ev_seen) /
		   (double)(atomic_load(&reader_wakes) ? atomic_load(&reader_wakes) : 1));
}

static void print_share(int rounds)
{
	double v[MAX_ROUNDS * MAX_CELLS];
	struct stat3 st;
	int n = 0;

	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < ncells; i++)
			v[n++] = share[r][i];
	if (n == 0)
		return;
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	st.min = v[0];
	st.med = v[n / 2];
	st.max = v[n - 1];
	printf("\nThe measuring thread had its CPU for %.0f%% of the wall time "
	       "(median over cells; min %.0f%%, max %.0f%%): the rest went to other jobs on "
	       "this machine.\n",
	       st.med * 100, st.min * 100, st.max * 100);
}

/* --cells: raw rates, and per-round ratios to the path's no-program cell. */
void print_raw(void)
{
	for (int i = 0; i < ncells; i++) {
		double v[MAX_ROUNDS];
		struct stat3 st;

		for (int rd = 0; rd < opt.rounds; rd++)
			v[rd] = rate[rd][i];
		st = stats(v, opt.rounds);
		printf("%s.%s: median %.0f ops/s of CPU (%.0f-%.0f), %.1f ns/op",
		       conf_keys[cells[i].c], path_keys[cells[i].p], st.med, st.min, st.max,
		       1e9 / st.med);
		/* With the path's no-program cell: the median of per-round ratios. */
		for (int j = 0; j < ncells; j++) {
			if (j == i || cells[j].c != C_NONE || cells[j].p != cells[i].p)
				continue;
			for (int rd = 0; rd < opt.rounds; rd++)
				v[rd] = rate[rd][i] / rate[rd][j];
			st = stats(v, opt.rounds);
			printf(", ratio to none %.3f (%.3f-%.3f); per round", st.med, st.min,
			       st.max);
			for (int rd = 0; rd < opt.rounds; rd++)
				printf(" %.3f", rate[rd][i] / rate[rd][j]);
		}
		printf("\n");
	}
}

/* The denied storm: every attempt made is a deny counted by the kernel, and
 * every event counted was received by the reader or lost for a full ring. */
static void print_storm_account(const struct totals *t)
{
	uint64_t deny = 0, audit = 0, lost = 0, seen = atomic_load(&ev_seen);
	uint64_t storm = attempts[CG_H10][P_DENY4];
	uint64_t sd = t->c10b[HUSH_CTR_IDX(HUSH_HOOK_SENDMSG4, HUSH_EV_DENY)] -
		      t->c10a[HUSH_CTR_IDX(HUSH_HOOK_SENDMSG4, HUSH_EV_DENY)];

	for (int h = 0; h < HUSH_HOOK_MAX; h++) {
		deny += t->c10b[HUSH_CTR_IDX(h, HUSH_EV_DENY)];
		audit += t->c10b[HUSH_CTR_IDX(h, HUSH_EV_AUDIT)];
		lost += t->c10b[HUSH_CTR_IDX(h, HUSH_EV_LOST)];
	}
	printf("\n### Denied storm: every attempt accounted for\n\n");
	printf("| denied sendto() made (storm, incl. warm-up) | kernel sendmsg4 deny "
	       "counter (same interval) | events received by the reader (whole run) | "
	       "kernel deny+audit counters (whole run) | lost (ring full) | "
	       "received + lost = counted |\n|---:|---:|---:|---:|---:|---|\n");
	printf("| %llu | %llu | %llu | %llu | %llu | %s |\n", (unsigned long long)storm,
	       (unsigned long long)sd, (unsigned long long)seen, (unsigned long long)(deny + audit),
	       (unsigned long long)lost,
	       seen + lost == deny + audit && sd == storm ? "yes" : "**NO**");
}

/* The engines were in the path: their allow counters against the attempts. */
static void print_allow_counters(const struct totals *t)
{
	printf("\n### hush was in the path: kernel allow counters vs attempts made\n\n");
	printf("| engine | hook | attempts made (timed + warm-up) | kernel allow "
	       "counter delta |\n|---|---|---:|---:|\n");
	for (int e = CG_H10; e <= CG_ENG_LAST; e++) {
		const uint64_t *a = e == CG_H10 ? t->c10a : t->cka,
			       *b = e == CG_H10 ? t->c10b : t->ckb;
		static const struct {
			int hook;
			enum path p;
		} m[] = {{HUSH_HOOK_CONNECT4, P_TCP4},
			 {HUSH_HOOK_CONNECT6, P_TCP6},
			 {HUSH_HOOK_SENDMSG4, P_UDP4},
			 {HUSH_HOOK_SENDMSG6, P_UDP6}};

		for (size_t j = 0; j < sizeof(m) / sizeof(m[0]); j++) {
			int idx = HUSH_CTR_IDX(m[j].hook, HUSH_EV_ALLOW);

			printf("| %s | %s | %llu | %llu |\n", cg_names[e],
			       engine_hook_name((unsigned)m[j].hook),
			       (unsigned long long)attempts[e][m[j].p],
			       (unsigned long long)(b[idx] - a[idx]));
		}
		{
			int idx = HUSH_CTR_IDX(HUSH_HOOK_EGRESS, HUSH_EV_ALLOW);

			printf("| %s | egress (packets allowed) | — | %llu |\n", cg_names[e],
			       (unsigned long long)(b[idx] - a[idx]));
		}
	}
}

/* The sanity checks made before measuring, and how the run was set up. */
static void print_setup(const struct totals *t)
{
	printf("\n### Sanity checks (before measuring)\n\n%s", checks.p ? checks.p : "");
	printf("\n### Set-up\n\n");
	printf("- policies: %d+%d prefixes (hush 10) and %d v4 /32 `tcp 443` + %d v6 /48 "
	       "(hush 100k); LPM entries %zu v4 + %zu v6; 100k policy parse %.2f s, compile "
	       "%.2f s, engine_open %.2f s; the engines and the floor programs were attached %d "
	       "times (detached while no-program and nft cells ran)\n",
	       opt.small, opt.small, opt.prefixes, opt.prefixes, pols[CG_H100K].pc->n4,
	       pols[CG_H100K].pc->n6, pols[CG_H100K].parse_s, pols[CG_H100K].compile_s,
	       pols[CG_H100K].open_s, n_opens);
	printf("- hooks the engine attaches:");
	for (int l = 0; l < ENGINE_LINK_MAX; l++)
		printf("%s %s", l ? "," : "", engine_link_name((enum engine_link)l));
	printf("; the floor attaches the same hooks (bpf_link_create on its cgroup), "
	       "each a 2-instruction program `r0 = 1; exit`:");
	for (int l = 0; l < ENGINE_LINK_MAX; l++)
		printf("%s %s", l ? "," : "", floor_hooks[l].name);
	printf("\n");
	if (nft_on)
		printf("- nft set (%d v4 prefixes + 127.0.0.1) loaded in %.2f s\n", opt.prefixes,
		       nft_load_s);
	printf("- rounds %d, cells per round %d, %d ms warm-up + %d ms timed each; "
	       "tcp server: %s, udp sink: %s (batch: empties its queue every %d ms); measuring "
	       "CPU %d, server/reader CPU %d\n",
	       opt.rounds, ncells, opt.warm_ms, opt.ms, opt.tcp_server, opt.udp_sink, opt.batch_ms,
	       opt.cpu, opt.aux_cpu);
	printf("- benchmark wall time %.0f s\n", wall_s() - t->t_start);
}

void print_report(const struct totals *t)
{
	printf("## Results\n\n");
	print_table(opt.rounds);
	print_floor(opt.rounds);
	print_storm_cost(opt.rounds);
	print_share(opt.rounds);
	printf("\nOther jobs' cgroup programs: the benchmark waited %.1f s for them to go "
	       "before no-program and nft cells, measured %d such cells again because one "
	       "appeared during the cell, and left %d cells spoiled (excluded from rates and "
	       "ratios).\n",
	       foreign_wait_s, foreign_redo, foreign_bad);
	{
		unsigned long long ud = t->nc1.udp_rcvbuf - t->nc0.udp_rcvbuf,
				   ud6 = t->nc1.udp6_rcvbuf - t->nc0.udp6_rcvbuf,
				   lovf = t->nc1.listen_ovf - t->nc0.listen_ovf,
				   ld = t->nc1.listen_drops - t->nc0.listen_drops;

		printf("\nDuring the rounds the sinks dropped %llu v4 and %llu v6 datagrams for a "
		       "full receive buffer%s, and the listeners overflowed %llu times (%llu "
		       "drops)%s.\n",
		       ud, ud6,
		       ud + ud6 ? " (**the sink did not keep up: the sendto rates of those "
				  "cells took the cheaper drop path**)"
				: "",
		       lovf, ld,
		       lovf + ld ? " (a dropped SYN costs that connect() a 1 s retransmit "
				   "timeout of wall time, not CPU time: the rates stand)"
				 : "");
	}
	if (t->ksoft_pid)
		printf("\n%s ran %.3f s during the rounds, %.2f%% of the measuring thread's "
		       "%.1f s of CPU time: the softirq work of the loops is done in the measuring "
		       "thread's own context, where its CPU time counts it.\n",
		       t->ksoft_name, t->ksoft1 - t->ksoft0,
		       100 * (t->ksoft1 - t->ksoft0) / t->cpu_total, t->cpu_total);
	printf("\nGoals: %d PASS, %d MISS (a goal is met when the median of the per-round "
	       "ratios reaches it).\n",
	       npass, nmiss);
	for (int i = 0; i < ncells; i++)
		if (errs_total[i])
			printf("\n**%s / %s: %llu failed attempts (first: %s) — rate counts "
			       "successes only.**\n",
			       path_names[cells[i].p], conf_name(cells[i].c),
			       (unsigned long long)errs_total[i], ename(first_err[i]));

	print_storm_account(t);
	print_allow_counters(t);
	print_setup(t);
}
