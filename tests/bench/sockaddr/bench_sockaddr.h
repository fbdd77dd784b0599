/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * bench_sockaddr's pieces, built into one binary (main.c: what it measures
 * and how, the options, the measured loops and main): env.c the cgroups,
 * policies, engines and their event reader, the floor programs, the
 * nftables peer and the server process; sanity.c the checks made before
 * measuring; report.c the cells, rounds, statistics and the Markdown report.
 */
#ifndef HUSH_TESTS_BENCH_SOCKADDR_H
#define HUSH_TESTS_BENCH_SOCKADDR_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <bpf/bpf.h>

#include "agent/engine.h"
#include "rules/policy.h"

/* ---- main.c: options, helpers, the measured loops ---- */

struct bench_opts {
	const char *cgroup;
	int rounds;
	int ms, warm_ms;
	int prefixes;
	int small;
	uid_t uid;
	int nft; /* -1 auto, 0 off, 1 on */
	int cpu, aux_cpu;
	const char *tcp_server; /* "batch", "spin" or "inline" */
	const char *udp_sink;	/* "batch", "spin", "inline" or "drop" */
	int batch_ms;
	bool verbose;	   /* every cell's rate on stderr */
	const char *cells; /* profiling: run only these cells, print raw rates */
};

extern struct bench_opts opt;

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double wall_s(void);
void pin_cpu(int cpu);
void thread_euid(uid_t u);

enum path { P_TCP4, P_UDP4, P_TCP6, P_UDP6, P_DENY4, P_UNR4, P_MAX };
extern const char *const path_names[P_MAX];

const struct sockaddr_in *denied4(void);

/* ---- env.c: cgroups (children of --cgroup only) ---- */

/* CG_H10..CG_ENG_LAST get a hush engine; CG_FLOOR gets the no-op programs. */
enum cgi { CG_NONE, CG_H10, CG_H100K, CG_FLOOR, CG_MAX };
#define CG_ENG_LAST CG_H100K
extern const char *const cg_names[CG_MAX];
extern char cg_path[CG_MAX][4096];
extern bool cg_made[CG_MAX];

void cg_enter_path(const char *dir);
void cg_enter(int i);

/* ---- env.c: policies ---- */

struct buf {
	char *p;
	size_t len, cap;
};

struct pol {
	struct policy_compiled *pc;
	char *text;
	size_t n4, n6;
	double parse_s, compile_s, open_s;
};

extern struct pol pols[CG_MAX];

int cmp_u64(const void *a, const void *b);
/* n distinct v4 addresses (host order) / v6 /48 prefixes, sorted, from a
 * fixed seed: the same lists every run. */
uint32_t *gen_v4(size_t n);
uint64_t *gen_v6(size_t n);
void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void v4_text(char *s, size_t len, uint32_t a);
void make_policy(struct pol *out, const uint32_t *v4, size_t n4, const uint64_t *v6, size_t n6);

/* ---- env.c: engines, the event reader, the floor, other jobs' programs ---- */

struct floor_hook {
	enum bpf_prog_type type;
	enum bpf_attach_type at;
	const char *name;
};

extern const struct floor_hook floor_hooks[ENGINE_LINK_MAX];
extern uint32_t floor_id[ENGINE_LINK_MAX];
extern atomic_ullong ev_seen, reader_wakes, reader_polls;
extern int n_opens;

struct foreign {
	int ncg;	 /* loaded cgroup-type programs */
	uint32_t maxid;	 /* highest program id present */
	uint32_t nabove; /* programs present with an id above `since` */
};

extern double foreign_wait_s;	      /* spent waiting for other jobs' programs */
extern int foreign_redo, foreign_bad; /* cells measured again / left spoiled */

void engines_open(void);
void engines_close(void);
struct foreign foreign_scan(uint32_t since);
struct foreign foreign_wait(void);
void counters_now(int i, uint64_t out[HUSH_CTR_MAX]);

/* ---- env.c: nftables peer ---- */

extern char tmpdir[256];
extern bool nft_on; /* nft peer in the run */
extern const char *nft_why;
extern double nft_load_s;

bool have_nft(void);
void nft_setup(const uint32_t *v4, size_t n4);
void nft_chain_set(bool on);

/* ---- env.c: the server process, listener and sink ---- */

enum smode { S_IDLE, S_TCP4, S_TCP6, S_UDP4, S_UDP6, S_EXIT };

extern int lis4, lis6, sink4, sink6;
extern struct sockaddr_in lis4_sa, sink4_sa;
extern struct sockaddr_in6 lis6_sa, sink6_sa;

void server_set(enum smode m);
void drain_fd(int fd, bool tcp);
void open_servers(void);

/* Undoes everything above (called by die() too); runs once. */
void cleanup(void);

/* ---- sanity.c ---- */

extern int nchecks_failed;
extern struct buf checks;

const char *ename(int e);
void sanity(const uint32_t *v4, const uint64_t *v6, size_t n4, size_t n6);

/* ---- report.c: cells, rounds, statistics, the report ---- */

/* Table order within a path. */
enum conf { C_NONE, C_FLOOR, C_H10, C_H100K, C_BYST, C_NFT, C_STORM, C_MAX };

struct cell {
	enum conf c;
	enum path p;
	int cg;
	bool on; /* runs while the hush engines are attached */
};

#define MAX_CELLS  32
#define MAX_ROUNDS 64

extern struct cell cells[MAX_CELLS];
extern int ncells;
extern double rate[MAX_ROUNDS][MAX_CELLS];  /* ops per second of thread CPU time */
extern double wrate[MAX_ROUNDS][MAX_CELLS]; /* ops per second of wall clock */
extern double share[MAX_ROUNDS][MAX_CELLS]; /* thread CPU time / wall clock */
extern bool spoiled[MAX_ROUNDS][MAX_CELLS]; /* ran while others' cgroup programs were loaded */
extern uint64_t errs_total[MAX_CELLS];
extern int first_err[MAX_CELLS];
extern uint64_t attempts[CG_MAX][P_MAX]; /* warm-up + timed, per cgroup */
extern const char *const conf_keys[C_MAX];
extern const char *const path_keys[P_MAX];

struct netc {
	unsigned long long udp_rcvbuf, udp6_rcvbuf, listen_ovf, listen_drops;
};

/* What main() measured around the rounds, for the report. */
struct totals {
	double t_start; /* wall_s() at start */
	char ksoft_name[32];
	pid_t ksoft_pid;
	double ksoft0, ksoft1, cpu_total;
	struct netc nc0, nc1;
	/* counters of the hush 10 (c10) and 100k (ck) engines before/after */
	uint64_t c10a[HUSH_CTR_MAX], c10b[HUSH_CTR_MAX], cka[HUSH_CTR_MAX], ckb[HUSH_CTR_MAX];
};

void add_cell(enum conf c, enum path p, int cg);
void round_order(int rd, int *order);
void netc_read(struct netc *n);
pid_t find_kthread(const char *comm);
double kthread_cpu_s(pid_t pid);
void print_raw(void);
void print_report(const struct totals *t);

#endif
