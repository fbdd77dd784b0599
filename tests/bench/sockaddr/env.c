// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench_sockaddr: what the cells run in and against.  The child cgroups of
 * --cgroup, the generated policies, the hush engines (attached only while
 * hush cells run) and the reader draining their events, the floor's no-op
 * programs, other jobs' cgroup programs, the nftables peer, and the server
 * process that empties the listeners and sinks outside the measured
 * cgroups; cleanup() undoes all of it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <pthread.h>
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
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent/engine.h"
#include "agent/util.h"
#include "rules/policy.h"
#include "tests/bench/sockaddr/bench_sockaddr.h"

extern char **environ;

/* ---- cgroups (children of --cgroup only) ---- */

const char *const cg_names[CG_MAX] = {"none", "h10", "h100k", "floor"};
char cg_path[CG_MAX][4096];
bool cg_made[CG_MAX];
static int cg_cur = -1;

void cg_enter_path(const char *dir)
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

void cg_enter(int i)
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

int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* n distinct values of `size` bytes, each from draw() (false: rejected, draw
 * again), sorted by cmp: draws until n distinct ones are in, the duplicates
 * of each pass replaced by new draws. */
static void *gen_distinct(size_t n, size_t size, bool (*draw)(void *out),
			  int (*cmp)(const void *, const void *))
{
	char *a = calloc(n, size);
	size_t have = 0;

	if (!a)
		die("out of memory");
	while (have < n) {
		for (size_t m = have; m < n;)
			if (draw(a + m * size))
				m++;
		qsort(a, n, size, cmp);
		have = 0;
		for (size_t i = 0; i < n; i++)
			if (i == 0 || cmp(a + i * size, a + (i - 1) * size))
				memmove(a + have++ * size, a + i * size, size);
	}
	return a;
}

/* A host-order v4 address, unicast, outside 0/8, 127/8, 198.18/15 (the
 * denied storm destination) and 224/3. */
static bool draw_v4(void *out)
{
	uint32_t x = (uint32_t)(rng() >> 32);
	uint32_t o = x >> 24;

	if (o == 0 || o == 127 || o >= 224 || (x >> 17) == (0xc612u >> 1))
		return false;
	memcpy(out, &x, sizeof(x));
	return true;
}

/* A 48-bit v6 prefix, uniformly random, not holding ::1 or IPv4-mapped
 * addresses (first 48 bits all zero). */
static bool draw_v6(void *out)
{
	uint64_t x = rng() >> 16;

	if (x == 0)
		return false;
	memcpy(out, &x, sizeof(x));
	return true;
}

uint32_t *gen_v4(size_t n)
{
	return gen_distinct(n, sizeof(uint32_t), draw_v4, cmp_u32);
}

uint64_t *gen_v6(size_t n)
{
	return gen_distinct(n, sizeof(uint64_t), draw_v6, cmp_u64);
}

void bprintf(struct buf *b, const char *fmt, ...)
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

void v4_text(char *s, size_t len, uint32_t a)
{
	snprintf(s, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static void v6_text(char *s, size_t len, uint64_t p48)
{
	snprintf(s, len, "%x:%x:%x::", (unsigned)(p48 >> 32) & 0xffff,
		 (unsigned)(p48 >> 16) & 0xffff, (unsigned)p48 & 0xffff);
}

void make_policy(struct pol *out, const uint32_t *v4, size_t n4, const uint64_t *v6, size_t n6)
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
struct pol pols[CG_MAX];

atomic_ullong ev_seen;
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
atomic_ullong reader_wakes, reader_polls;

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
const struct floor_hook floor_hooks[ENGINE_LINK_MAX] = {
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
uint32_t floor_id[ENGINE_LINK_MAX]; /* program ids while attached */

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
int n_opens;

void engines_open(void)
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

void engines_close(void)
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
struct foreign foreign_scan(uint32_t since)
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

double foreign_wait_s;
int foreign_redo, foreign_bad;

/* Wait (within a budget for the whole run) until no foreign cgroup program
 * is loaded.  Returns the scan it ended with. */
struct foreign foreign_wait(void)
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
void counters_now(int i, uint64_t out[HUSH_CTR_MAX])
{
	uint64_t c[HUSH_CTR_MAX];

	memcpy(out, ctr_cum[i], sizeof(ctr_cum[i]));
	if (eng[i] && engine_counters(eng[i], c) == 0)
		for (int j = 0; j < HUSH_CTR_MAX; j++)
			out[j] += c[j];
}

/* ---- nftables peer ---- */

char tmpdir[256];
bool nft_on;
static bool nft_loaded; /* table exists */
static bool nft_chain;	/* output chain exists */
const char *nft_why = "";
double nft_load_s;

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

bool have_nft(void)
{
	char *argv[] = {"nft", "--version", NULL};

	return run_cmd(argv, true) == 0;
}

void nft_setup(const uint32_t *v4, size_t n4)
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

void nft_chain_set(bool on)
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

struct shared {
	_Atomic int mode;
	_Atomic int acked; /* mode the server has switched to */
	_Atomic unsigned long long accepted, received;
};

static struct shared *sh;
static pid_t server_pid;
int lis4, lis6, sink4, sink6;
struct sockaddr_in lis4_sa, sink4_sa;
struct sockaddr_in6 lis6_sa, sink6_sa;

static long futex(_Atomic int *uaddr, int op, int val)
{
	return syscall(SYS_futex, (int *)uaddr, op, val, NULL, NULL, 0);
}

void server_set(enum smode m)
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

void drain_fd(int fd, bool tcp)
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

void open_servers(void)
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

/* ---- cleanup: the engines, the server, the nft table, the cgroups ---- */

void cleanup(void)
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
