// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench_sockaddr: the checks made before measuring, that each configuration
 * is what it claims to be (the report lists them under "Sanity checks").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent/engine.h"
#include "tests/bench/sockaddr/bench_sockaddr.h"

/* ---- sanity checks: is each configuration what it claims to be? ---- */

int nchecks_failed;
struct buf checks;

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

const char *ename(int e)
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

/* The floor cgroup runs exactly the no-op programs, one per hook; the
 * no-program cgroup runs none, even with everything attached. */
static void check_floor(void)
{
	int fl = open(cg_path[CG_FLOOR], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int no = open(cg_path[CG_NONE], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int nnone = 0;
	struct buf hooks = {};

	if (fl < 0 || no < 0)
		die("open cgroup: %s", strerror(errno));
	for (int l = 0; l < ENGINE_LINK_MAX; l++) {
		uint32_t ids[8], cnt = 8, flags = 0;
		int r =
		    bpf_prog_query(fl, floor_hooks[l].at, BPF_F_QUERY_EFFECTIVE, &flags, ids, &cnt);

		check(r == 0 && cnt == 1 && ids[0] == floor_id[l] && floor_id[l],
		      "floor: effective programs on %s: %u, %s",
		      engine_link_name((enum engine_link)l), r ? 0 : cnt,
		      r == 0 && cnt == 1 && ids[0] == floor_id[l] ? "the no-op"
								  : "**not** the no-op");
		cnt = 8;
		r = bpf_prog_query(no, floor_hooks[l].at, BPF_F_QUERY_EFFECTIVE, &flags, ids, &cnt);
		if (r == 0 && cnt == 0)
			nnone++;
		bprintf(&hooks, "%s%s", l ? ", " : "", engine_link_name((enum engine_link)l));
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
static void check_h100k(const uint32_t *v4, const uint64_t *v6, size_t n4, size_t n6)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(443)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
	uint64_t outside6 = 0x20010db80000ull; /* 2001:db8::/48 */
	uint32_t pick = v4[n4 / 2 + 7];
	uint64_t p6 = v6[n6 / 3 + 5];
	char s[64];
	int e;

	cg_enter(CG_H100K);
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
		check(e == EPERM, "h100k: connect [2001:db8::9]:443 (not listed) -> %s", ename(e));
	}
}

void sanity(const uint32_t *v4, const uint64_t *v6, size_t n4, size_t n6)
{
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

	check_floor();
	check_h100k(v4, v6, n4, n6);

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
