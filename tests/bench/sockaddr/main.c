// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench_sockaddr: what hush costs on the connect() and sendto() paths.
 *
 * Run by tests/bench/run.sh, which makes a private network namespace (lo
 * only, no route anywhere) and a cgroup of its own, starts this program in
 * both, and turns the Markdown this program prints into RESULTS.md.  This
 * program never touches the cgroup2 root and only ever sends to loopback;
 * the denied destination (198.18.9.9) is refused by hush before routing, and
 * there is no route for it anyway.
 *
 * Configurations, each in a child cgroup of --cgroup made here:
 *   none        no program attached
 *   floor       a no-op program (r0 = 1; exit) on each hook hush attaches,
 *               through bpf_links: the kernel's hook machinery alone
 *   hush 10     private engine, 10 v4 + 10 v6 prefixes (+ implicit loopback)
 *   hush 100k   private engine, 100k v4 /32 + 100k v6 /48 prefixes, uniformly
 *               random over the address space, so a loopback lookup walks as
 *               deep into the tries as a lookup of any other address
 *   nft set     no hush; an nftables inet output chain, scoped by uid
 *               (meta skuid), dropping v4 destinations not in an interval set
 *               of the same 100k v4 prefixes (+ 127.0.0.1)
 *   storm       hush 10 cgroup: sendto() to a denied address, every attempt
 *               an event, a reader thread draining the ring like hushd
 *   unroutable  no program: sendto() to the same address, failing at route
 *               lookup (what a denied, logged attempt is compared with)
 *   bystander   the no-program cgroup while the engines are attached to the
 *               others: what hush costs processes it does not police
 *
 * No program of this benchmark is attached while the no-program, unroutable
 * and nft cells run (see engines_open()).
 * Paths: TCP connect()+close() (SO_LINGER {1,0}: RST, no TIME_WAIT) to a
 * listener on 127.0.0.1 / [::1]; UDP sendto() of 64 bytes to a sink socket on
 * 127.0.0.1 / [::1].  Listener and sink sockets are made before this process
 * enters a measured cgroup, so their own traffic (SYN-ACK) is not judged;
 * a server process on the other CPU, outside the measured cgroups, empties
 * the accept queue (accept, close) or the sink every --batch-ms (no wake-up
 * per packet, little cache-line sharing with the sender).
 *
 * Every cell (configuration x path) runs --ms milliseconds after --warm-ms of
 * warm-up, once per round (see round_order() for the order).  A rate is
 * operations per second of the measuring thread's CPU time (the machine is
 * shared; without IRQ time accounting that time includes the softirq work the
 * loop causes in its own context).  A per-round ratio is the cell's rate over
 * the no-program rate of the same path in the same round; reported: medians
 * and min-max of rates and ratios, and the wall-clock ratio for comparison.
 *
 * The measuring thread runs with effective uid --uid (raw setresuid: this
 * thread only) in every configuration, so the nft rule can match by uid.
 *
 * This file: the options, the measured loops and main(); env.c the cgroups,
 * policies, engines, floor, nftables peer and server process; sanity.c the
 * checks before measuring; report.c cells, rounds, statistics and the
 * report (tests/bench/sockaddr/bench_sockaddr.h joins them).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "agent/util.h"
#include "tests/bench/sockaddr/bench_sockaddr.h"

/* ---- options ---- */

struct bench_opts opt = {
    .rounds = 15,
    .ms = 350,
    .warm_ms = 50,
    .prefixes = 100000,
    .small = 10,
    .uid = 4242,
    .nft = -1,
    .cpu = 0,
    .aux_cpu = 1,
    .tcp_server = "batch",
    .udp_sink = "batch",
    .batch_ms = 10,
};

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench_sockaddr: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	cleanup();
	exit(1);
}

void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "# ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* CPU time of the calling thread.  This kernel has no IRQ time accounting,
 * so it includes the softirq work (loopback receive, ACKs) done while the
 * thread runs, and excludes time other jobs on the CPU take from us. */
static double cpu_s(void)
{
	return now_s(CLOCK_THREAD_CPUTIME_ID);
}

double wall_s(void)
{
	return now_s(CLOCK_MONOTONIC);
}

void pin_cpu(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof(s), &s) < 0)
		note("cannot pin to CPU %d: %s", cpu, strerror(errno));
}

/* Effective uid of the calling thread only (glibc's setresuid would change
 * every thread).  Saved uid stays 0, so the way back is open. */
void thread_euid(uid_t u)
{
	if (syscall(SYS_setresuid, (uid_t)-1, u, (uid_t)-1) < 0)
		die("setresuid(-1, %u, -1): %s", (unsigned)u, strerror(errno));
}

/* ---- the measured loops ---- */

const char *const path_names[P_MAX] = {
    "connect v4", "sendto v4",	      "connect v6",
    "sendto v6",  "denied sendto v4", "sendto v4, unroutable",
};

struct run {
	uint64_t ops, errs;
	int first_err;
	double secs, cpu; /* wall clock, thread CPU time */
};

static void note_err(struct run *r, int e)
{
	if (!r->errs++)
		r->first_err = e;
}

static int inline_drain_fd = -1;

static void loop_tcp(int fam, const void *sa, socklen_t len, int lfd, double secs, struct run *r)
{
	const struct linger lg = {.l_onoff = 1, .l_linger = 0};
	double c0 = cpu_s(), t0 = wall_s(), t;

	do {
		for (int i = 0; i < 8; i++) {
			int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);

			if (fd < 0) {
				note_err(r, errno);
				continue;
			}
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			if (connect(fd, sa, len) < 0)
				note_err(r, errno);
			else
				r->ops++;
			if (lfd >= 0) {
				int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

				if (c >= 0)
					close(c);
			}
			close(fd);
		}
		t = wall_s();
	} while (t - t0 < secs);
	r->secs = t - t0;
	r->cpu = cpu_s() - c0;
}

/* expect: 0 (must be sent) or the errno every attempt must fail with. */
static void loop_udp(int fd, const void *sa, socklen_t len, double secs, int expect, struct run *r)
{
	static const char payload[64] = "hush bench";
	double c0 = cpu_s(), t0 = wall_s(), t;

	do {
		for (int i = 0; i < 32; i++) {
			if (sendto(fd, payload, sizeof(payload), 0, sa, len) < 0) {
				if (expect && errno == expect)
					r->ops++;
				else
					note_err(r, errno);
			} else if (expect) {
				note_err(r, 0);
			} else {
				r->ops++;
			}
		}
		if (inline_drain_fd >= 0)
			drain_fd(inline_drain_fd, false);
		t = wall_s();
	} while (t - t0 < secs);
	r->secs = t - t0;
	r->cpu = cpu_s() - c0;
}

const struct sockaddr_in *denied4(void)
{
	static struct sockaddr_in a;

	a.sin_family = AF_INET;
	a.sin_port = htons(9);
	a.sin_addr.s_addr = htonl(0xc6120909); /* 198.18.9.9, denied, unroutable */
	return &a;
}

/* One measurement of path `p` in the current cgroup: warm-up, then timed. */
static void measure(enum path p, struct run *warm, struct run *r)
{
	bool inl_tcp = !strcmp(opt.tcp_server, "inline");
	bool spin_udp = !strcmp(opt.udp_sink, "spin") || !strcmp(opt.udp_sink, "batch");
	bool inl_udp = !strcmp(opt.udp_sink, "inline");
	bool used_server = false;

	memset(warm, 0, sizeof(*warm));
	memset(r, 0, sizeof(*r));
	if (p == P_TCP4 || p == P_TCP6) {
		bool v6 = p == P_TCP6;
		const void *sa = v6 ? (const void *)&lis6_sa : (const void *)&lis4_sa;
		socklen_t len = v6 ? sizeof(lis6_sa) : sizeof(lis4_sa);
		int fam = v6 ? AF_INET6 : AF_INET;
		int lfd = inl_tcp ? (v6 ? lis6 : lis4) : -1;

		if (!inl_tcp) {
			server_set(v6 ? S_TCP6 : S_TCP4);
			used_server = true;
		}
		thread_euid(opt.uid);
		loop_tcp(fam, sa, len, lfd, opt.warm_ms / 1e3, warm);
		loop_tcp(fam, sa, len, lfd, opt.ms / 1e3, r);
		thread_euid(0);
	} else {
		bool v6 = p == P_UDP6, deny = p == P_DENY4 || p == P_UNR4;
		int expect = p == P_DENY4 ? EPERM : p == P_UNR4 ? ENETUNREACH : 0;
		const void *sa = deny ? (const void *)denied4()
				 : v6 ? (const void *)&sink6_sa
				      : (const void *)&sink4_sa;
		socklen_t len = v6 ? sizeof(sink6_sa) : sizeof(sink4_sa);
		int fd;

		if (!deny && spin_udp) {
			server_set(v6 ? S_UDP6 : S_UDP4);
			used_server = true;
		}
		inline_drain_fd = (!deny && inl_udp) ? (v6 ? sink6 : sink4) : -1;
		thread_euid(opt.uid);
		/* Made here: a socket belongs to the cgroup it was created in. */
		fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket: %s", strerror(errno));
		loop_udp(fd, sa, len, opt.warm_ms / 1e3, expect, warm);
		loop_udp(fd, sa, len, opt.ms / 1e3, expect, r);
		close(fd);
		thread_euid(0);
		inline_drain_fd = -1;
	}
	if (used_server)
		server_set(S_IDLE);
}

static void on_signal(int sig)
{
	(void)sig;
	/* run.sh's trap kills our cgroup; engines die with the process. */
	_exit(130);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_sockaddr --cgroup DIR [--rounds N] [--ms N] [--warm-ms N]\n"
		"       [--prefixes N] [--uid N] [--nft auto|yes|no] [--cpu N] [--aux-cpu N]\n"
		"       [--tcp-server batch|spin|inline] [--udp-sink batch|spin|inline|drop]\n"
		"       [--batch-ms N] [--cells CONF.PATH,...] [--verbose]\n"
		"Runs inside a private network namespace, as root, in cgroup DIR (made by\n"
		"tests/bench/run.sh); prints a Markdown report on stdout.\n");
	exit(2);
}

static bool is_cgroup2_root(const char *dir)
{
	FILE *f = fopen("/proc/mounts", "r");
	char dev[256], mnt[4096], type[64];
	char real[4096];
	bool root = false;

	if (!realpath(dir, real))
		die("%s: %s", dir, strerror(errno));
	if (!f)
		die("/proc/mounts: %s", strerror(errno));
	while (fscanf(f, "%255s %4095s %63s %*[^\n]", dev, mnt, type) == 3)
		if (!strcmp(type, "cgroup2") && !strcmp(mnt, real))
			root = true;
	fclose(f);
	return root;
}

/* The options into opt; usage() (exit 2) for a bad one. */
static void parse_opts(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"cgroup", required_argument, 0, 'c'},
	    {"rounds", required_argument, 0, 'r'},
	    {"ms", required_argument, 0, 'm'},
	    {"warm-ms", required_argument, 0, 'w'},
	    {"prefixes", required_argument, 0, 'p'},
	    {"uid", required_argument, 0, 'u'},
	    {"nft", required_argument, 0, 'n'},
	    {"cpu", required_argument, 0, 'C'},
	    {"aux-cpu", required_argument, 0, 'A'},
	    {"tcp-server", required_argument, 0, 'T'},
	    {"udp-sink", required_argument, 0, 'U'},
	    {"batch-ms", required_argument, 0, 'B'},
	    {"cells", required_argument, 0, 'K'},
	    {"verbose", no_argument, 0, 'v'},
	    {0, 0, 0, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'c':
			opt.cgroup = optarg;
			break;
		case 'r':
			opt.rounds = atoi(optarg);
			break;
		case 'm':
			opt.ms = atoi(optarg);
			break;
		case 'w':
			opt.warm_ms = atoi(optarg);
			break;
		case 'p':
			opt.prefixes = atoi(optarg);
			break;
		case 'u':
			opt.uid = (uid_t)atoi(optarg);
			break;
		case 'n':
			opt.nft = !strcmp(optarg, "yes") ? 1 : !strcmp(optarg, "no") ? 0 : -1;
			break;
		case 'C':
			opt.cpu = atoi(optarg);
			break;
		case 'A':
			opt.aux_cpu = atoi(optarg);
			break;
		case 'T':
			opt.tcp_server = optarg;
			break;
		case 'U':
			opt.udp_sink = optarg;
			break;
		case 'B':
			opt.batch_ms = atoi(optarg);
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'K':
			opt.cells = optarg;
			break;
		default:
			usage();
		}
	}
	if (!opt.cgroup || opt.rounds < 1 || opt.rounds > MAX_ROUNDS || opt.ms < 10 ||
	    opt.prefixes < opt.small || opt.uid == 0)
		usage();
}

/* The cgroups, the servers, the policies and engines, the nft set, the
 * sanity checks, and the cells to measure. */
static void prepare(void)
{
	uint32_t *v4;
	uint64_t *v6;
	double t0;

	/* Everything below runs in --cgroup (no program) until a cell moves us. */
	cg_enter_path(opt.cgroup);
	open_servers();
	for (int i = 0; i < CG_MAX; i++) {
		snprintf(cg_path[i], sizeof(cg_path[i]), "%s/%s", opt.cgroup, cg_names[i]);
		if (mkdir(cg_path[i], 0755) < 0)
			die("mkdir %s: %s", cg_path[i], strerror(errno));
		cg_made[i] = true;
	}

	/* Policies. */
	t0 = wall_s();
	v4 = gen_v4((size_t)opt.prefixes);
	v6 = gen_v6((size_t)opt.prefixes);
	note("generated %d+%d prefixes in %.2f s", opt.prefixes, opt.prefixes, wall_s() - t0);
	make_policy(&pols[CG_H10], v4, (size_t)opt.small, v6, (size_t)opt.small);
	make_policy(&pols[CG_H100K], v4, (size_t)opt.prefixes, v6, (size_t)opt.prefixes);
	note("100k policy: parse %.2f s, compile %.2f s (%zu v4 + %zu v6 LPM entries)",
	     pols[CG_H100K].parse_s, pols[CG_H100K].compile_s, pols[CG_H100K].pc->n4,
	     pols[CG_H100K].pc->n6);
	engines_open();
	note("engines attached in %.2f s (10) and %.2f s (100k)", pols[CG_H10].open_s,
	     pols[CG_H100K].open_s);

	nft_on = opt.nft == 1 || (opt.nft == -1 && have_nft());
	if (!nft_on)
		nft_why = opt.nft == 0 ? "nft: not run (--nft no)" : "nft: not installed";
	if (opt.nft == 1 && !have_nft())
		die("--nft yes, but nft is not installed");
	if (nft_on) {
		nft_setup(v4, (size_t)opt.prefixes);
		if (nft_on)
			note("nft set of %d v4 prefixes loaded in %.2f s", opt.prefixes,
			     nft_load_s);
	}

	sanity(v4, v6, (size_t)opt.prefixes, (size_t)opt.prefixes);
	if (nchecks_failed)
		die("%d sanity checks failed; not measuring", nchecks_failed);

	/* Cells. */
	for (int p = P_TCP4; p <= P_UDP6; p++)
		add_cell(C_NONE, (enum path)p, CG_NONE);
	for (int p = P_TCP4; p <= P_UDP6; p++)
		add_cell(C_FLOOR, (enum path)p, CG_FLOOR);
	for (int p = P_TCP4; p <= P_UDP6; p++)
		add_cell(C_H10, (enum path)p, CG_H10);
	for (int p = P_TCP4; p <= P_UDP6; p++)
		add_cell(C_H100K, (enum path)p, CG_H100K);
	if (nft_on) {
		add_cell(C_NFT, P_TCP4, CG_NONE);
		add_cell(C_NFT, P_UDP4, CG_NONE);
	}
	add_cell(C_STORM, P_DENY4, CG_H10);
	add_cell(C_NONE, P_UNR4, CG_NONE);
	add_cell(C_BYST, P_TCP4, CG_NONE);
	add_cell(C_BYST, P_UDP4, CG_NONE);
	add_cell(C_BYST, P_UNR4, CG_NONE);

	if (!ncells)
		die("--cells selects no cell");
}

/* One cell of round rd: engines attached or not, its cgroup and nft chain,
 * then measured.  Returns the thread CPU time it took (warm-up + timed). */
static double run_cell(int rd, int i)
{
	struct cell *c = &cells[i];
	struct run warm, r;

	if (c->on)
		engines_open();
	else
		engines_close();
	cg_enter(c->cg);
	if (nft_on)
		nft_chain_set(c->c == C_NFT);
	if (c->on) {
		measure(c->p, &warm, &r);
	} else {
		/* A no-program cell counts only if no other job had
		 * a cgroup program loaded before, during or after it
		 * (a program that came and went shows as a missing
		 * id); measured again up to 3 times. */
		for (int t = 0;; t++) {
			struct foreign f0 = foreign_wait(), f1;
			bool clean;

			measure(c->p, &warm, &r);
			f1 = foreign_scan(f0.maxid);
			clean = !f0.ncg && !f1.ncg &&
				f1.nabove == f1.maxid - (f1.maxid > f0.maxid ? f0.maxid : f1.maxid);
			if (clean)
				break;
			if (t == 3) {
				spoiled[rd][i] = true;
				foreign_bad++;
				break;
			}
			foreign_redo++;
		}
	}
	rate[rd][i] = (double)r.ops / r.cpu;
	wrate[rd][i] = (double)r.ops / r.secs;
	share[rd][i] = r.cpu / r.secs;
	attempts[c->cg][c->p] += warm.ops + warm.errs + r.ops + r.errs;
	if (r.errs + warm.errs && !errs_total[i])
		first_err[i] = r.errs ? r.first_err : warm.first_err;
	errs_total[i] += r.errs + warm.errs;
	return r.cpu + warm.cpu;
}

/* The rounds, with what the report needs read around them. */
static void run_rounds(struct totals *t)
{
	snprintf(t->ksoft_name, sizeof(t->ksoft_name), "ksoftirqd/%d", opt.cpu);
	t->ksoft_pid = find_kthread(t->ksoft_name);
	t->ksoft0 = kthread_cpu_s(t->ksoft_pid);
	netc_read(&t->nc0);
	counters_now(CG_H10, t->c10a);
	counters_now(CG_H100K, t->cka);
	note("%d rounds x %d cells x (%d + %d) ms", opt.rounds, ncells, opt.warm_ms, opt.ms);
	for (int rd = 0; rd < opt.rounds; rd++) {
		int order[MAX_CELLS];

		round_order(rd, order);
		for (int k = 0; k < ncells; k++) {
			int i = order[k];

			t->cpu_total += run_cell(rd, i);
		}
		if (nft_on)
			nft_chain_set(false);
		note("round %d/%d done (%.0f s)", rd + 1, opt.rounds, wall_s() - t->t_start);
		for (int k = 0; opt.verbose && k < ncells; k++) {
			int i = order[k];

			fprintf(stderr, "#   %2d %s.%s %.0f/s cpu %.0f%%\n", k,
				conf_keys[cells[i].c], path_keys[cells[i].p], rate[rd][i],
				share[rd][i] * 100);
		}
	}
	t->ksoft1 = kthread_cpu_s(t->ksoft_pid);
	netc_read(&t->nc1);
	engines_close();
	counters_now(CG_H100K, t->ckb);
	counters_now(CG_H10, t->c10b);
	cg_enter(CG_NONE);
}

int main(int argc, char **argv)
{
	struct totals t = {.t_start = wall_s()};

	parse_opts(argc, argv);
	if (geteuid() != 0)
		die("needs root");
	if (is_cgroup2_root(opt.cgroup))
		die("%s is the cgroup2 root: refusing (give a cgroup made for the benchmark)",
		    opt.cgroup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	pin_cpu(opt.cpu);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hush-bench.XXXXXX");
	if (!mkdtemp(tmpdir))
		die("mkdtemp: %s", strerror(errno));

	prepare();
	run_rounds(&t);
	if (opt.cells)
		print_raw();
	else
		print_report(&t);
	fflush(stdout);
	cleanup();
	return nchecks_failed ? 1 : 0;
}
