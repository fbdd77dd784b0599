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
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/futex.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent/engine.h"
#include "agent/util.h"
#include "rules/policy.h"

extern char **environ;

/* ---- options ---- */

static struct {
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
} opt = {
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

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void cleanup(void);

static void die(const char *fmt, ...)
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

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
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

static double wall_s(void)
{
	return now_s(CLOCK_MONOTONIC);
}

static void pin_cpu(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof(s), &s) < 0)
		note("cannot pin to CPU %d: %s", cpu, strerror(errno));
}

/* Effective uid of the calling thread only (glibc's setresuid would change
 * every thread).  Saved uid stays 0, so the way back is open. */
static void thread_euid(uid_t u)
{
	if (syscall(SYS_setresuid, (uid_t)-1, u, (uid_t)-1) < 0)
		die("setresuid(-1, %u, -1): %s", (unsigned)u, strerror(errno));
}

/* ---- cgroups (children of --cgroup only) ---- */

/* CG_H10..CG_ENG_LAST get a hush engine; CG_FLOOR gets the no-op programs. */
enum cgi { CG_NONE, CG_H10, CG_H100K, CG_FLOOR, CG_MAX };
#define CG_ENG_LAST CG_H100K
static const char *const cg_names[CG_MAX] = {"none", "h10", "h100k", "floor"};
static char cg_path[CG_MAX][4096];
static bool cg_made[CG_MAX];
static int cg_cur = -1;

static void cg_enter_path(const char *dir)
{
	char p[4200], buf[32];
	int fd, n;

	snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %s", p, strerror(errno));
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)n) != n)
		die("write %s: %s", p, strerror(errno));
	close(fd);
}

static void cg_enter(int i)
{
	if (cg_cur == i)
		return;
	cg_enter_path(cg_path[i]);
	cg_cur = i;
}

/* ---- policies ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* n distinct host-order v4 addresses, unicast, outside 0/8, 127/8,
 * 198.18/15 (the denied storm destination) and 224/3. */
static uint32_t *gen_v4(size_t n)
{
	uint32_t *a = calloc(n, sizeof(*a));
	size_t have = 0;

	if (!a)
		die("out of memory");
	while (have < n) {
		size_t m = have;

		while (m < n) {
			uint32_t x = (uint32_t)(rng() >> 32);
			uint32_t o = x >> 24;

			if (o == 0 || o == 127 || o >= 224 || (x >> 17) == (0xc612u >> 1))
				continue;
			a[m++] = x;
		}
		qsort(a, n, sizeof(*a), cmp_u32);
		have = 0;
		for (size_t i = 0; i < n; i++)
			if (i == 0 || a[i] != a[i - 1])
				a[have++] = a[i];
	}
	return a;
}

/* n distinct 48-bit v6 prefixes, uniformly random, none holding ::1 or
 * IPv4-mapped addresses (first 48 bits all zero). */
static uint64_t *gen_v6(size_t n)
{
	uint64_t *a = calloc(n, sizeof(*a));
	size_t have = 0;

	if (!a)
		die("out of memory");
	while (have < n) {
		size_t m = have;

		while (m < n) {
			uint64_t x = rng() >> 16;

			if (x == 0)
				continue;
			a[m++] = x;
		}
		qsort(a, n, sizeof(*a), cmp_u64);
		have = 0;
		for (size_t i = 0; i < n; i++)
			if (i == 0 || a[i] != a[i - 1])
				a[have++] = a[i];
	}
	return a;
}

struct buf {
	char *p;
	size_t len, cap;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			die("vsnprintf failed");
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		if (GROW(b->p, b->cap, b->len + (size_t)n + 1, 256) < 0)
			die("out of memory");
	}
}

static void v4_text(char *s, size_t len, uint32_t a)
{
	snprintf(s, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static void v6_text(char *s, size_t len, uint64_t p48)
{
	snprintf(s, len, "%x:%x:%x::", (unsigned)(p48 >> 32) & 0xffff,
		 (unsigned)(p48 >> 16) & 0xffff, (unsigned)p48 & 0xffff);
}

struct pol {
	struct policy_compiled *pc;
	char *text;
	size_t n4, n6;
	double parse_s, compile_s, open_s;
};

static void make_policy(struct pol *out, const uint32_t *v4, size_t n4, const uint64_t *v6,
			size_t n6)
{
	struct policy_errors errs = {};
	struct policy *p = NULL;
	struct buf b = {};
	char s[64];
	double t0;

	bprintf(&b, "mode enforce\n");
	for (size_t i = 0; i < n4; i++) {
		v4_text(s, sizeof(s), v4[i]);
		bprintf(&b, "allow %s/32 tcp 443\n", s);
	}
	for (size_t i = 0; i < n6; i++) {
		v6_text(s, sizeof(s), v6[i]);
		bprintf(&b, "allow %s/48\n", s);
	}
	t0 = wall_s();
	if (policy_parse("bench", b.p, b.len, &p, &errs)) {
		policy_errors_print(&errs, "bench_sockaddr: ", stderr);
		die("generated policy does not parse");
	}
	out->parse_s = wall_s() - t0;
	t0 = wall_s();
	if (policy_compile(p, &out->pc, &errs)) {
		policy_errors_print(&errs, "bench_sockaddr: ", stderr);
		die("generated policy does not compile");
	}
	out->compile_s = wall_s() - t0;
	out->text = policy_to_string(p);
	if (!out->text)
		die("policy_to_string failed");
	out->n4 = n4;
	out->n6 = n6;
	policy_free(p);
	free(b.p);
}

/* ---- engines and the event reader ---- */

static struct engine *eng[CG_MAX];
static struct pol pols[CG_MAX];

static atomic_ullong ev_seen;
static atomic_int reader_stop;
static pthread_t reader_tid;
static bool reader_running;

static int on_event(void *ctx, const struct hush_event *e)
{
	(void)ctx;
	(void)e;
	atomic_fetch_add_explicit(&ev_seen, 1, memory_order_relaxed);
	return 0;
}

/* Reader: hushd's loop.  A poll that returns well before its 100 ms
 * timeout was woken (or found the ring readable at once); counted to show
 * the storm does not cost a wake-up per event. */
static atomic_ullong reader_wakes, reader_polls;

static void *reader_main(void *arg)
{
	struct engine *e = arg;

	pin_cpu(opt.aux_cpu);
	while (!atomic_load(&reader_stop)) {
		double t0 = wall_s();
		int n = engine_poll(e, 100);

		atomic_fetch_add(&reader_polls, 1);
		if (n >= 0 && wall_s() - t0 < 0.090)
			atomic_fetch_add(&reader_wakes, 1);
	}
	engine_drain(e);
	return NULL;
}

/*
 * The floor: a no-op program (r0 = 1; exit: allow) on each hook hush
 * attaches, through bpf_links on the floor cgroup, as the engine attaches
 * its own.  What the floor cells cost over no program is the kernel's hook
 * machinery alone (the static key, the effective-program array, building
 * the context, running a program); what hush costs over the floor is its
 * programs' own work.
 */
static const struct {
	enum bpf_prog_type type;
	enum bpf_attach_type at;
	const char *name;
} floor_hooks[ENGINE_LINK_MAX] = {
    [ENGINE_LINK_SOCK_CREATE] = {BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE,
				 "floor_sock"},
    [ENGINE_LINK_EGRESS] = {BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS, "floor_egress"},
    [ENGINE_LINK_CONNECT4] = {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT,
			      "floor_connect4"},
    [ENGINE_LINK_CONNECT6] = {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_CONNECT,
			      "floor_connect6"},
    [ENGINE_LINK_SENDMSG4] = {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_SENDMSG,
			      "floor_sendmsg4"},
    [ENGINE_LINK_SENDMSG6] = {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP6_SENDMSG,
			      "floor_sendmsg6"},
    [ENGINE_LINK_RECVMSG4] = {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_RECVMSG,
			      "floor_recvmsg4"},
    [ENGINE_LINK_RECVMSG6] = {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP6_RECVMSG,
			      "floor_recvmsg6"},
    [ENGINE_LINK_GETPEER4] = {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_GETPEERNAME,
			      "floor_getpeer4"},
    [ENGINE_LINK_GETPEER6] = {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_GETPEERNAME,
			      "floor_getpeer6"},
    [ENGINE_LINK_SOCKOPS] = {BPF_PROG_TYPE_SOCK_OPS, BPF_CGROUP_SOCK_OPS, "floor_sockops"},
};
_Static_assert(ENGINE_LINK_MAX == 11, "the floor mirrors hush's eleven hooks");

static int floor_prog[ENGINE_LINK_MAX] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
static int floor_link[ENGINE_LINK_MAX] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
static uint32_t floor_id[ENGINE_LINK_MAX]; /* program ids while attached */

static void floor_close(void)
{
	/* Links first (detaches), then the programs (unloads them: while the
	 * engines are closed, any cgroup program loaded is someone else's). */
	for (int l = 0; l < ENGINE_LINK_MAX; l++) {
		if (floor_link[l] >= 0)
			close(floor_link[l]);
		floor_link[l] = -1;
	}
	for (int l = 0; l < ENGINE_LINK_MAX; l++) {
		if (floor_prog[l] >= 0)
			close(floor_prog[l]);
		floor_prog[l] = -1;
		floor_id[l] = 0;
	}
}

static void floor_open(void)
{
	static const struct bpf_insn allow[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	const char *dir = cg_path[CG_FLOOR];
	size_t pl = strlen(opt.cgroup);
	int cg;

	if (floor_link[0] >= 0)
		return;
	/* Only ever the benchmark's own floor cgroup, a child of --cgroup
	 * (which main() has checked is not the cgroup2 root). */
	if (!cg_made[CG_FLOOR] || strncmp(dir, opt.cgroup, pl) || dir[pl] != '/')
		die("internal error: floor cgroup %s is not a child of %s", dir, opt.cgroup);
	cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0)
		die("open %s: %s", dir, strerror(errno));
	for (int l = 0; l < ENGINE_LINK_MAX; l++) {
		LIBBPF_OPTS(bpf_prog_load_opts, po, .expected_attach_type = floor_hooks[l].at);
		struct bpf_prog_info info = {};
		uint32_t len = sizeof(info);
		int fd;

		fd = bpf_prog_load(floor_hooks[l].type, floor_hooks[l].name, "GPL", allow, 2, &po);
		if (fd < 0)
			die("bpf_prog_load %s: %s", floor_hooks[l].name, strerror(errno));
		floor_prog[l] = fd;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
			floor_id[l] = info.id;
		fd = bpf_link_create(fd, cg, floor_hooks[l].at, NULL);
		if (fd < 0)
			die("bpf_link_create %s on %s: %s", floor_hooks[l].name, dir,
			    strerror(errno));
		floor_link[l] = fd;
	}
	close(cg);
}

/*
 * The engines are attached only while hush cells run: cgroup BPF hooks
 * cost something (static keys, empty program arrays) in every cgroup once
 * any program of their type is attached anywhere, and the no-program
 * baseline must not pay that.  The floor's no-op programs come and go with
 * them.  Counters of closed instances are summed.
 */
static uint64_t ctr_cum[CG_MAX][HUSH_CTR_MAX];
static int n_opens;

static void engines_open(void)
{
	if (eng[CG_H10])
		return;
	for (int i = CG_H10; i <= CG_ENG_LAST; i++) {
		double t0 = wall_s();
		int ret;

		ret = engine_open(&(struct engine_opts){.cgroup = cg_path[i], .forbid_root = true},
				  pols[i].pc, pols[i].text, &eng[i]);
		if (ret)
			die("engine_open %s: %s", cg_path[i], strerror(-ret));
		if (!n_opens)
			pols[i].open_s = wall_s() - t0;
	}
	floor_open();
	n_opens++;
	if (engine_events(eng[CG_H10], on_event, NULL) < 0)
		die("engine_events failed");
	atomic_store(&reader_stop, 0);
	if (pthread_create(&reader_tid, NULL, reader_main, eng[CG_H10]))
		die("pthread_create failed");
	reader_running = true;
}

static void engines_close(void)
{
	bool closed = false;

	if (reader_running) {
		atomic_store(&reader_stop, 1);
		pthread_join(reader_tid, NULL); /* it drains before it returns */
		reader_running = false;
	}
	closed = floor_link[0] >= 0;
	floor_close();
	for (int i = CG_H10; i <= CG_ENG_LAST; i++) {
		uint64_t c[HUSH_CTR_MAX];

		if (!eng[i])
			continue;
		if (engine_counters(eng[i], c) == 0)
			for (int j = 0; j < HUSH_CTR_MAX; j++)
				ctr_cum[i][j] += c[j];
		engine_close(eng[i]);
		eng[i] = NULL;
		closed = true;
	}
	/* Let deferred frees (a 100k-entry trie goes to a kworker) finish
	 * before the next cell runs. */
	if (closed)
		usleep(300 * 1000);
}

/*
 * Other jobs on the machine (integration tests, hushd) attach cgroup
 * programs of their own, which makes every cgroup pay the hook machinery and
 * spoils a no-program baseline.  While our engines are closed, any loaded
 * program of a cgroup type is someone else's.
 */
struct foreign {
	int ncg;	 /* loaded cgroup-type programs */
	uint32_t maxid;	 /* highest program id present */
	uint32_t nabove; /* programs present with an id above `since` */
};

static struct foreign foreign_scan(uint32_t since)
{
	struct foreign f = {0};
	uint32_t id = 0;

	while (bpf_prog_get_next_id(id, &id) == 0) {
		struct bpf_prog_info info = {};
		uint32_t len = sizeof(info);
		int fd;

		if (id > f.maxid)
			f.maxid = id;
		if (id > since)
			f.nabove++;
		fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
			switch (info.type) {
			case BPF_PROG_TYPE_CGROUP_SKB:
			case BPF_PROG_TYPE_CGROUP_SOCK:
			case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
			case BPF_PROG_TYPE_SOCK_OPS:
			case BPF_PROG_TYPE_CGROUP_SOCKOPT:
				f.ncg++;
				break;
			default:
				break;
			}
		close(fd);
	}
	return f;
}

static double foreign_wait_s;	      /* spent waiting for other jobs' programs */
static int foreign_redo, foreign_bad; /* cells measured again / left spoiled */

/* Wait (within a budget for the whole run) until no foreign cgroup program
 * is loaded.  Returns the scan it ended with. */
static struct foreign foreign_wait(void)
{
	struct foreign f = foreign_scan(0);

	while (f.ncg && foreign_wait_s < 60) {
		usleep(100 * 1000);
		foreign_wait_s += 0.1;
		f = foreign_scan(0);
	}
	return f;
}

/* Counters of engine `i` over every instance so far. */
static void counters_now(int i, uint64_t out[HUSH_CTR_MAX])
{
	uint64_t c[HUSH_CTR_MAX];

	memcpy(out, ctr_cum[i], sizeof(ctr_cum[i]));
	if (eng[i] && engine_counters(eng[i], c) == 0)
		for (int j = 0; j < HUSH_CTR_MAX; j++)
			out[j] += c[j];
}

/* ---- nftables peer ---- */

static char tmpdir[256];
static bool nft_on;	/* nft peer in the run */
static bool nft_loaded; /* table exists */
static bool nft_chain;	/* output chain exists */
static const char *nft_why = "";
static double nft_load_s;

static int run_cmd(char *const argv[], bool quiet)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, ret;

	posix_spawn_file_actions_init(&fa);
	if (quiet)
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	ret = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret)
		return -ret;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int nft_file(const char *name, const char *content)
{
	char path[512];
	char *argv[] = {"nft", "-f", path, NULL};
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (content) {
		f = fopen(path, "w");
		if (!f)
			return -errno;
		fputs(content, f);
		fclose(f);
	}
	return run_cmd(argv, false);
}

static bool have_nft(void)
{
	char *argv[] = {"nft", "--version", NULL};

	return run_cmd(argv, true) == 0;
}

static void nft_setup(const uint32_t *v4, size_t n4)
{
	struct buf b = {};
	char s[32];
	double t0;
	int r;

	bprintf(&b, "add table inet hushbench\n"
		    "add set inet hushbench s { type ipv4_addr; flags interval; }\n");
	for (size_t i = 0; i < n4; i++) {
		if (i % 10000 == 0)
			bprintf(&b, "%sadd element inet hushbench s { 127.0.0.1", i ? " }\n" : "");
		v4_text(s, sizeof(s), v4[i]);
		bprintf(&b, ", %s", s);
	}
	bprintf(&b, " }\n");
	t0 = wall_s();
	r = nft_file("set.nft", b.p);
	free(b.p);
	if (r) {
		nft_on = false;
		nft_why = "nft: could not load the set (see stderr)";
		return;
	}
	nft_loaded = true;
	nft_load_s = wall_s() - t0;
}

static void nft_chain_set(bool on)
{
	char txt[512];
	int r;

	if (on == nft_chain)
		return;
	if (on)
		snprintf(txt, sizeof(txt),
			 "add chain inet hushbench out { type filter hook output priority 0; "
			 "policy accept; }\n"
			 "add rule inet hushbench out meta skuid %u ip daddr != @s drop\n",
			 (unsigned)opt.uid);
	else
		snprintf(txt, sizeof(txt), "delete chain inet hushbench out\n");
	r = nft_file(on ? "chain-on.nft" : "chain-off.nft", txt);
	if (r)
		die("nft %s chain failed (%d)", on ? "add" : "delete", r);
	nft_chain = on;
}

/* ---- the server process: listener and sink, outside measured cgroups ---- */

enum smode { S_IDLE, S_TCP4, S_TCP6, S_UDP4, S_UDP6, S_EXIT };

struct shared {
	_Atomic int mode;
	_Atomic int acked; /* mode the server has switched to */
	_Atomic unsigned long long accepted, received;
};

static struct shared *sh;
static pid_t server_pid;
static int lis4, lis6, sink4, sink6;
static struct sockaddr_in lis4_sa, sink4_sa;
static struct sockaddr_in6 lis6_sa, sink6_sa;

static long futex(_Atomic int *uaddr, int op, int val)
{
	return syscall(SYS_futex, (int *)uaddr, op, val, NULL, NULL, 0);
}

static void server_set(enum smode m)
{
	atomic_store(&sh->mode, (int)m);
	futex(&sh->mode, FUTEX_WAKE, 1);
	/* Wait until the server has drained and switched. */
	for (int i = 0; atomic_load(&sh->acked) != (int)m; i++) {
		if (i > 200000)
			die("server process does not answer");
		if (i > 1000)
			usleep(10);
	}
}

static void drain_fd(int fd, bool tcp)
{
	if (tcp) {
		int c;

		while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
			close(c);
			atomic_fetch_add_explicit(&sh->accepted, 1, memory_order_relaxed);
		}
	} else {
		static char bufs[64][128];
		static struct mmsghdr mm[64];
		static struct iovec iov[64];
		int n;

		for (int i = 0; i < 64; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		while ((n = recvmmsg(fd, mm, 64, MSG_DONTWAIT, NULL)) > 0)
			atomic_fetch_add_explicit(&sh->received, (unsigned)n, memory_order_relaxed);
	}
}

static void server_main(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pin_cpu(opt.aux_cpu);
	for (;;) {
		int m = atomic_load(&sh->mode);

		if (m != atomic_load(&sh->acked)) {
			drain_fd(lis4, true);
			drain_fd(lis6, true);
			drain_fd(sink4, false);
			drain_fd(sink6, false);
			atomic_store(&sh->acked, m);
		}
		switch (m) {
		case S_IDLE:
			futex(&sh->mode, FUTEX_WAIT, S_IDLE);
			break;
		case S_TCP4:
			drain_fd(lis4, true);
			break;
		case S_TCP6:
			drain_fd(lis6, true);
			break;
		case S_UDP4:
			drain_fd(sink4, false);
			break;
		case S_UDP6:
			drain_fd(sink6, false);
			break;
		default:
			_exit(0);
		}
		/* Batch mode: empty the queue, then leave it alone for a while,
		 * so the sender rarely shares a cache line with the server. */
		if (m != S_IDLE &&
		    !strcmp(m == S_TCP4 || m == S_TCP6 ? opt.tcp_server : opt.udp_sink, "batch"))
			usleep((useconds_t)opt.batch_ms * 1000);
	}
}

static void open_servers(void)
{
	socklen_t l;
	int one = 1, big = 32 << 20;

	lis4 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	lis6 = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	sink4 = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	sink6 = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lis4 < 0 || lis6 < 0 || sink4 < 0 || sink6 < 0)
		die("socket: %s", strerror(errno));
	setsockopt(lis6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	setsockopt(sink6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	lis4_sa =
	    (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	sink4_sa = lis4_sa;
	lis6_sa = (struct sockaddr_in6){.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
	sink6_sa = lis6_sa;
	if (bind(lis4, (void *)&lis4_sa, sizeof(lis4_sa)) ||
	    bind(lis6, (void *)&lis6_sa, sizeof(lis6_sa)) ||
	    bind(sink4, (void *)&sink4_sa, sizeof(sink4_sa)) ||
	    bind(sink6, (void *)&sink6_sa, sizeof(sink6_sa)))
		die("bind on loopback: %s", strerror(errno));
	if (listen(lis4, 65535) || listen(lis6, 65535))
		die("listen: %s", strerror(errno));
	if (!strcmp(opt.udp_sink, "drop"))
		big = 64 << 10;
	if (setsockopt(sink4, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) ||
	    setsockopt(sink6, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
		note("SO_RCVBUFFORCE: %s", strerror(errno));
	l = sizeof(lis4_sa);
	getsockname(lis4, (void *)&lis4_sa, &l);
	l = sizeof(sink4_sa);
	getsockname(sink4, (void *)&sink4_sa, &l);
	l = sizeof(lis6_sa);
	getsockname(lis6, (void *)&lis6_sa, &l);
	l = sizeof(sink6_sa);
	getsockname(sink6, (void *)&sink6_sa, &l);

	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	server_pid = fork();
	if (server_pid < 0)
		die("fork: %s", strerror(errno));
	if (server_pid == 0)
		server_main();
}

/* ---- the measured loops ---- */

enum path { P_TCP4, P_UDP4, P_TCP6, P_UDP6, P_DENY4, P_UNR4, P_MAX };
static const char *const path_names[P_MAX] = {
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

static const struct sockaddr_in *denied4(void)
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

/* ---- sanity checks: is each configuration what it claims to be? ---- */

static int nchecks_failed;
static struct buf checks;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	bprintf(&checks, "- %s: %s\n", ok ? "ok" : "**FAILED**", msg);
	if (!ok) {
		nchecks_failed++;
		note("check FAILED: %s", msg);
	}
}

/* errno of one attempt (0: it worked), made as the bench uid from a socket
 * created in the current cgroup. */
static int try_once(int fam, int type, const void *sa, socklen_t len)
{
	static const char payload[8] = "check";
	struct timeval tv = {.tv_sec = 1};
	int fd, ret = 0;

	thread_euid(opt.uid);
	fd = socket(fam, type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = errno;
		thread_euid(0);
		return ret;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (type == SOCK_STREAM) {
		if (connect(fd, sa, len) < 0)
			ret = errno;
	} else if (sendto(fd, payload, sizeof(payload), 0, sa, len) < 0) {
		ret = errno;
	}
	close(fd);
	thread_euid(0);
	return ret;
}

static const char *ename(int e)
{
	switch (e) {
	case 0:
		return "ok";
	case EPERM:
		return "EPERM";
	case ENETUNREACH:
		return "ENETUNREACH";
	case ECONNREFUSED:
		return "ECONNREFUSED";
	default:
		return strerror(e);
	}
}

static bool in_v6(const uint64_t *set, size_t n, uint64_t p48)
{
	return bsearch(&p48, set, n, sizeof(*set), cmp_u64) != NULL;
}

static void sanity(const uint32_t *v4, const uint64_t *v6, size_t n4, size_t n6)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(443)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
	uint64_t outside6 = 0x20010db80000ull; /* 2001:db8::/48 */
	int e;

	server_set(S_TCP4);
	for (int c = 0; c < CG_MAX; c++) {
		cg_enter(c);
		e = try_once(AF_INET, SOCK_STREAM, &lis4_sa, sizeof(lis4_sa));
		check(e == 0, "%s: connect 127.0.0.1 -> %s", cg_names[c], ename(e));
		e = try_once(AF_INET, SOCK_DGRAM, &sink4_sa, sizeof(sink4_sa));
		check(e == 0, "%s: sendto 127.0.0.1 -> %s", cg_names[c], ename(e));
		e = try_once(AF_INET, SOCK_DGRAM, denied4(), sizeof(*denied4()));
		if (c == CG_NONE || c == CG_FLOOR)
			check(e == ENETUNREACH,
			      "%s: sendto 198.18.9.9 -> %s (%sno route: nothing can leave)",
			      cg_names[c], ename(e),
			      c == CG_FLOOR ? "the no-op program allows it; " : "");
		else
			check(e == EPERM, "%s: sendto 198.18.9.9 -> %s (denied by hush)",
			      cg_names[c], ename(e));
	}
	server_set(S_IDLE);

	/* The floor cgroup runs exactly the no-op programs, one per hook; the
	 * no-program cgroup runs none, even with everything attached. */
	{
		int fl = open(cg_path[CG_FLOOR], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int no = open(cg_path[CG_NONE], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int nnone = 0;
		struct buf hooks = {};

		if (fl < 0 || no < 0)
			die("open cgroup: %s", strerror(errno));
		for (int l = 0; l < ENGINE_LINK_MAX; l++) {
			uint32_t ids[8], cnt = 8, flags = 0;
			int r = bpf_prog_query(fl, floor_hooks[l].at, BPF_F_QUERY_EFFECTIVE, &flags,
					       ids, &cnt);

			check(r == 0 && cnt == 1 && ids[0] == floor_id[l] && floor_id[l],
			      "floor: effective programs on %s: %u, %s",
			      engine_link_name((enum engine_link)l), r ? 0 : cnt,
			      r == 0 && cnt == 1 && ids[0] == floor_id[l] ? "the no-op"
									  : "**not** the no-op");
			cnt = 8;
			r = bpf_prog_query(no, floor_hooks[l].at, BPF_F_QUERY_EFFECTIVE, &flags,
					   ids, &cnt);
			if (r == 0 && cnt == 0)
				nnone++;
			bprintf(&hooks, "%s%s", l ? ", " : "",
				engine_link_name((enum engine_link)l));
		}
		check(nnone == ENGINE_LINK_MAX,
		      "none: no effective program on %d of %d hooks (%s) while hush and the "
		      "floor are attached to their cgroups",
		      nnone, ENGINE_LINK_MAX, hooks.p);
		free(hooks.p);
		close(fl);
		close(no);
	}

	/* The big policy is live deep in the tries: a listed prefix is allowed
	 * (then the kernel finds no route), an unlisted one is denied. */
	cg_enter(CG_H100K);
	{
		uint32_t pick = v4[n4 / 2 + 7];
		uint64_t p6 = v6[n6 / 3 + 5];
		char s[64];

		a4.sin_addr.s_addr = htonl(pick);
		v4_text(s, sizeof(s), pick);
		e = try_once(AF_INET, SOCK_STREAM, &a4, sizeof(a4));
		check(e == ENETUNREACH, "h100k: connect %s:443 (listed) -> %s", s, ename(e));
		a4.sin_port = htons(444);
		e = try_once(AF_INET, SOCK_STREAM, &a4, sizeof(a4));
		check(e == EPERM, "h100k: connect %s:444 (port not listed) -> %s", s, ename(e));
		for (int i = 0; i < 6; i++) {
			a6.sin6_addr.s6_addr[i] = (uint8_t)(p6 >> (40 - 8 * i));
		}
		a6.sin6_addr.s6_addr[15] = 9;
		inet_ntop(AF_INET6, &a6.sin6_addr, s, sizeof(s));
		e = try_once(AF_INET6, SOCK_STREAM, &a6, sizeof(a6));
		check(e == ENETUNREACH, "h100k: connect [%s]:443 (listed) -> %s", s, ename(e));
		if (!in_v6(v6, n6, outside6)) {
			memset(&a6.sin6_addr, 0, sizeof(a6.sin6_addr));
			a6.sin6_addr.s6_addr[0] = 0x20;
			a6.sin6_addr.s6_addr[1] = 0x01;
			a6.sin6_addr.s6_addr[2] = 0x0d;
			a6.sin6_addr.s6_addr[3] = 0xb8;
			a6.sin6_addr.s6_addr[15] = 9;
			e = try_once(AF_INET6, SOCK_STREAM, &a6, sizeof(a6));
			check(e == EPERM, "h100k: connect [2001:db8::9]:443 (not listed) -> %s",
			      ename(e));
		}
	}

	if (nft_on) {
		struct sockaddr_in lo2 = sink4_sa;

		lo2.sin_addr.s_addr = htonl(0x7f000002);
		cg_enter(CG_NONE);
		nft_chain_set(true);
		e = try_once(AF_INET, SOCK_DGRAM, &sink4_sa, sizeof(sink4_sa));
		check(e == 0, "nft: sendto 127.0.0.1 (in the set) -> %s", ename(e));
		e = try_once(AF_INET, SOCK_DGRAM, &lo2, sizeof(lo2));
		check(e == EPERM, "nft: sendto 127.0.0.2 (not in the set) -> %s (dropped by nft)",
		      ename(e));
		nft_chain_set(false);
		e = try_once(AF_INET, SOCK_DGRAM, &lo2, sizeof(lo2));
		check(e == 0, "nft chain removed: sendto 127.0.0.2 -> %s", ename(e));
	}
}

/* ---- cells, rounds, statistics ---- */

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

static struct cell cells[MAX_CELLS];
static int ncells;
static double rate[MAX_ROUNDS][MAX_CELLS];  /* ops per second of thread CPU time */
static double wrate[MAX_ROUNDS][MAX_CELLS]; /* ops per second of wall clock */
static double share[MAX_ROUNDS][MAX_CELLS]; /* thread CPU time / wall clock */
static bool spoiled[MAX_ROUNDS][MAX_CELLS]; /* ran while others' cgroup programs were loaded */
static uint64_t errs_total[MAX_CELLS];
static int first_err[MAX_CELLS];
static uint64_t attempts[CG_MAX][P_MAX]; /* warm-up + timed, per cgroup */

static int cell_of(enum conf c, enum path p)
{
	for (int i = 0; i < ncells; i++)
		if (cells[i].c == c && cells[i].p == p)
			return i;
	return -1;
}

static const char *const conf_keys[C_MAX] = {"none", "floor", "h10",  "h100k",
					     "byst", "nft",   "storm"};
static const char *const path_keys[P_MAX] = {"tcp4", "udp4", "tcp6", "udp6", "deny4", "unr4"};

static void add_cell(enum conf c, enum path p, int cg)
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
static void round_order(int rd, int *order)
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

struct netc {
	unsigned long long udp_rcvbuf, udp6_rcvbuf, listen_ovf, listen_drops;
};

static void netc_read(struct netc *n)
{
	n->udp_rcvbuf = net_stat("snmp", "Udp", "RcvbufErrors");
	n->udp6_rcvbuf = net_stat("snmp6", "", "Udp6RcvbufErrors");
	n->listen_ovf = net_stat("netstat", "TcpExt", "ListenOverflows");
	n->listen_drops = net_stat("netstat", "TcpExt", "ListenDrops");
}

/* Run time of a kernel thread (ns), from /proc/PID/schedstat; 0 if none. */
static pid_t find_kthread(const char *comm)
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

static double kthread_cpu_s(pid_t pid)
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

/* ---- main ---- */

static void cleanup(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	engines_close();
	if (sh && server_pid > 0) {
		atomic_store(&sh->mode, S_EXIT);
		futex(&sh->mode, FUTEX_WAKE, 1);
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
	if (nft_loaded) {
		char *argv[] = {"nft", "delete", "table", "inet", "hushbench", NULL};

		run_cmd(argv, false);
		nft_loaded = false;
	}
	if (opt.cgroup && cg_cur >= 0) {
		cg_enter_path(opt.cgroup);
		cg_cur = -1;
	}
	for (int i = 0; i < CG_MAX; i++)
		if (cg_made[i] && rmdir(cg_path[i]) < 0)
			note("rmdir %s: %s", cg_path[i], strerror(errno));
	if (tmpdir[0]) {
		char p[600];

		snprintf(p, sizeof(p), "%s/set.nft", tmpdir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/chain-on.nft", tmpdir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/chain-off.nft", tmpdir);
		unlink(p);
		rmdir(tmpdir);
	}
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

int main(int argc, char **argv)
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
	char ksoft_name[32];
	pid_t ksoft_pid;
	double ksoft0, ksoft1, cpu_total = 0;
	struct netc nc0, nc1;
	uint64_t c10a[HUSH_CTR_MAX], c10b[HUSH_CTR_MAX], cka[HUSH_CTR_MAX], ckb[HUSH_CTR_MAX];
	struct run warm, r;
	uint32_t *v4;
	uint64_t *v6;
	double t_start = wall_s(), t0;
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
	snprintf(ksoft_name, sizeof(ksoft_name), "ksoftirqd/%d", opt.cpu);
	ksoft_pid = find_kthread(ksoft_name);
	ksoft0 = kthread_cpu_s(ksoft_pid);
	netc_read(&nc0);
	counters_now(CG_H10, c10a);
	counters_now(CG_H100K, cka);
	note("%d rounds x %d cells x (%d + %d) ms", opt.rounds, ncells, opt.warm_ms, opt.ms);
	for (int rd = 0; rd < opt.rounds; rd++) {
		int order[MAX_CELLS];

		round_order(rd, order);
		for (int k = 0; k < ncells; k++) {
			int i = order[k];
			struct cell *c = &cells[i];

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
						f1.nabove ==
						    f1.maxid -
							(f1.maxid > f0.maxid ? f0.maxid : f1.maxid);
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
			cpu_total += r.cpu + warm.cpu;
		}
		if (nft_on)
			nft_chain_set(false);
		note("round %d/%d done (%.0f s)", rd + 1, opt.rounds, wall_s() - t_start);
		for (int k = 0; opt.verbose && k < ncells; k++) {
			int i = order[k];

			fprintf(stderr, "#   %2d %s.%s %.0f/s cpu %.0f%%\n", k,
				conf_keys[cells[i].c], path_keys[cells[i].p], rate[rd][i],
				share[rd][i] * 100);
		}
	}
	ksoft1 = kthread_cpu_s(ksoft_pid);
	netc_read(&nc1);
	engines_close();
	counters_now(CG_H100K, ckb);
	counters_now(CG_H10, c10b);
	cg_enter(CG_NONE);

	/* Report. */
	if (opt.cells) {
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
				printf(", ratio to none %.3f (%.3f-%.3f); per round", st.med,
				       st.min, st.max);
				for (int rd = 0; rd < opt.rounds; rd++)
					printf(" %.3f", rate[rd][i] / rate[rd][j]);
			}
			printf("\n");
		}
		fflush(stdout);
		cleanup();
		return 0;
	}
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
		unsigned long long ud = nc1.udp_rcvbuf - nc0.udp_rcvbuf,
				   ud6 = nc1.udp6_rcvbuf - nc0.udp6_rcvbuf,
				   lovf = nc1.listen_ovf - nc0.listen_ovf,
				   ld = nc1.listen_drops - nc0.listen_drops;

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
	if (ksoft_pid)
		printf("\n%s ran %.3f s during the rounds, %.2f%% of the measuring thread's "
		       "%.1f s of CPU time: the softirq work of the loops is done in the measuring "
		       "thread's own context, where its CPU time counts it.\n",
		       ksoft_name, ksoft1 - ksoft0, 100 * (ksoft1 - ksoft0) / cpu_total, cpu_total);
	printf("\nGoals: %d PASS, %d MISS (a goal is met when the median of the per-round "
	       "ratios reaches it).\n",
	       npass, nmiss);
	for (int i = 0; i < ncells; i++)
		if (errs_total[i])
			printf("\n**%s / %s: %llu failed attempts (first: %s) — rate counts "
			       "successes only.**\n",
			       path_names[cells[i].p], conf_name(cells[i].c),
			       (unsigned long long)errs_total[i], ename(first_err[i]));

	{
		uint64_t deny = 0, audit = 0, lost = 0, seen = atomic_load(&ev_seen);
		uint64_t storm = attempts[CG_H10][P_DENY4];
		uint64_t sd = c10b[HUSH_CTR_IDX(HUSH_HOOK_SENDMSG4, HUSH_EV_DENY)] -
			      c10a[HUSH_CTR_IDX(HUSH_HOOK_SENDMSG4, HUSH_EV_DENY)];

		for (int h = 0; h < HUSH_HOOK_MAX; h++) {
			deny += c10b[HUSH_CTR_IDX(h, HUSH_EV_DENY)];
			audit += c10b[HUSH_CTR_IDX(h, HUSH_EV_AUDIT)];
			lost += c10b[HUSH_CTR_IDX(h, HUSH_EV_LOST)];
		}
		printf("\n### Denied storm: every attempt accounted for\n\n");
		printf("| denied sendto() made (storm, incl. warm-up) | kernel sendmsg4 deny "
		       "counter (same interval) | events received by the reader (whole run) | "
		       "kernel deny+audit counters (whole run) | lost (ring full) | "
		       "received + lost = counted |\n|---:|---:|---:|---:|---:|---|\n");
		printf("| %llu | %llu | %llu | %llu | %llu | %s |\n", (unsigned long long)storm,
		       (unsigned long long)sd, (unsigned long long)seen,
		       (unsigned long long)(deny + audit), (unsigned long long)lost,
		       seen + lost == deny + audit && sd == storm ? "yes" : "**NO**");
	}
	{
		printf("\n### hush was in the path: kernel allow counters vs attempts made\n\n");
		printf("| engine | hook | attempts made (timed + warm-up) | kernel allow "
		       "counter delta |\n|---|---|---:|---:|\n");
		for (int e = CG_H10; e <= CG_ENG_LAST; e++) {
			uint64_t *a = e == CG_H10 ? c10a : cka, *b = e == CG_H10 ? c10b : ckb;
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

				printf("| %s | egress (packets allowed) | — | %llu |\n",
				       cg_names[e], (unsigned long long)(b[idx] - a[idx]));
			}
		}
	}
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
	printf("- benchmark wall time %.0f s\n", wall_s() - t_start);
	fflush(stdout);
	cleanup();
	return nchecks_failed ? 1 : 0;
}
