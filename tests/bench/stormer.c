// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * stormer: the load and the meter of the audit-log storm benchmark
 * (tests/bench/store.sh, run by `make bench`).
 *
 *   stormer send ADDR PORT [--procs N] [--ports K] [--rate R] [--seconds S]
 *	N processes (fork; default 1) send 1-byte UDP datagrams with sendto()
 *	from one unconnected socket each to ADDR:PORT .. PORT+K-1 (round
 *	robin) for S seconds (default 10).  R: attempts per second offered by
 *	all N together (0, the default: as fast as they can), paced in bursts
 *	of at most 1 ms worth.  Every attempt is judged by the hook; a failure
 *	(EPERM when hush denies it) is counted and does not stop the storm.
 *	Prints one JSON line: {"procs","ports","rate","sent","eperm","other",
 *	"elapsed_us","attempts_per_s","pids":[...]}.  Run it inside the cgroup
 *	and the network namespace under test: the children inherit both.
 *
 *   stormer counters --pin-dir DIR [--db FILE] [--interval-ms MS] [--once]
 *	Every MS milliseconds (default 1000) until SIGTERM/SIGINT (--once: just
 *	now, then exit): one JSON
 *	line {"t_ms","t_real_ms","allow","deny","audit","lost","rows"} with hush's kernel
 *	counters (summed over hooks and CPUs, read from the pinned map) and,
 *	with --db, max(id) of the events table (rows written so far; read-only,
 *	a cheap B-tree lookup).  t_ms: CLOCK_MONOTONIC milliseconds, t_real_ms:
 *	CLOCK_REALTIME milliseconds.
 *
 *   stormer info
 *	{"event_bytes","record_bytes"}: the size of one ring buffer event and
 *	of its record in the ring (8-byte header, 8-byte aligned).
 *
 * Exit: 0 ok, 1 failure, 2 usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "agent/engine.h"
#include "agent/util.h"
#include "bpf/events.h"

#define MAX_PROCS 64

static void usage(void)
{
	fprintf(stderr, "usage: stormer send ADDR PORT [--procs N] [--ports K] [--rate R] "
			"[--seconds S]\n"
			"       stormer counters --pin-dir DIR [--db FILE] [--interval-ms MS] "
			"[--once]\n"
			"       stormer info\n");
}

static int parse_long(const char *s, long lo, long hi, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return errno || !*s || *end || *v < lo || *v > hi ? -1 : 0;
}

struct child_res {
	long long sent, eperm, other, elapsed_ns;
};

/* One sender: rate per second (0: flat out), until deadline. */
static void sender(const struct sockaddr_storage *dst, socklen_t len, int port, long ports,
		   double rate, double seconds, struct child_res *r)
{
	struct sockaddr_storage ss = *dst;
	int64_t t0, deadline, now;
	long long i = 0;
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(r, 0, sizeof(*r));
	if (fd < 0) {
		r->other = -1;
		return;
	}
	t0 = mono_ns();
	deadline = t0 + (int64_t)(seconds * 1e9);
	for (;;) {
		/* A burst: up to 1 ms worth at the target rate, 256 flat out. */
		long burst = 256;

		now = mono_ns();
		if (now >= deadline)
			break;
		if (rate > 0) {
			double due = rate * (double)(now - t0) / 1e9;

			if ((double)i >= due) {
				/* Ahead: sleep until the next send is due (at most 1 ms). */
				int64_t wait = (int64_t)(((double)i + 1 - due) / rate * 1e9);
				struct timespec ts;

				if (wait > 1000000)
					wait = 1000000;
				ts.tv_sec = 0;
				ts.tv_nsec = wait;
				nanosleep(&ts, NULL);
				continue;
			}
			burst = (long)(due - (double)i) + 1;
			if (burst > 4096)
				burst = 4096;
		}
		for (long k = 0; k < burst; k++, i++) {
			int p = port + (int)(i % ports);

			if (ss.ss_family == AF_INET)
				((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)p);
			else
				((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)p);
			if (sendto(fd, "s", 1, 0, (struct sockaddr *)&ss, len) < 0) {
				if (errno == EPERM)
					r->eperm++;
				else
					r->other++;
			} else {
				r->sent++;
			}
		}
	}
	r->elapsed_ns = mono_ns() - t0;
	close(fd);
}

static int cmd_send(int argc, char **argv)
{
	static const struct option lo[] = {{"procs", required_argument, NULL, 'n'},
					   {"ports", required_argument, NULL, 'k'},
					   {"rate", required_argument, NULL, 'r'},
					   {"seconds", required_argument, NULL, 's'},
					   {NULL, 0, NULL, 0}};
	long procs = 1, ports = 1, rate = 0, port, ms = 10000;
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct child_res tot = {0}, res[MAX_PROCS];
	pid_t pids[MAX_PROCS];
	int fds[MAX_PROCS], go[2], c, ret = 0;
	socklen_t len;
	double seconds;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		long v;

		switch (c) {
		case 'n':
			if (parse_long(optarg, 1, MAX_PROCS, &procs))
				goto bad;
			break;
		case 'k':
			if (parse_long(optarg, 1, 65535, &ports))
				goto bad;
			break;
		case 'r':
			if (parse_long(optarg, 0, 1000000000L, &rate))
				goto bad;
			break;
		case 's':
			if (parse_long(optarg, 1, 86400, &v))
				goto bad;
			ms = v * 1000;
			break;
		default:
			goto bad;
		}
	}
	if (argc - optind != 2 || parse_long(argv[optind + 1], 1, 65535, &port) ||
	    port + ports - 1 > 65535)
		goto bad;
	if (inet_pton(AF_INET, argv[optind], &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, argv[optind], &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		len = sizeof(*s6);
	} else {
		goto bad;
	}
	seconds = (double)ms / 1000.0;
	if (pipe(go)) {
		perror("stormer: pipe");
		return 1;
	}
	for (long n = 0; n < procs; n++) {
		int p[2];

		if (pipe(p)) {
			perror("stormer: pipe");
			return 1;
		}
		pids[n] = fork();
		if (pids[n] < 0) {
			perror("stormer: fork");
			return 1;
		}
		if (pids[n] == 0) {
			struct child_res r;
			char b;

			close(p[0]);
			close(go[1]);
			/* Start together: when the parent closes the go pipe. */
			if (read(go[0], &b, 1) < 0)
				_exit(1);
			sender(&ss, len, (int)port, ports, (double)rate / (double)procs, seconds,
			       &r);
			_exit(write(p[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
		}
		close(p[1]);
		fds[n] = p[0];
	}
	close(go[0]);
	close(go[1]);
	for (long n = 0; n < procs; n++) {
		int st;

		if (read(fds[n], &res[n], sizeof(res[n])) != (ssize_t)sizeof(res[n]) ||
		    res[n].other < 0) {
			fprintf(stderr, "stormer: sender %ld failed\n", n);
			memset(&res[n], 0, sizeof(res[n]));
			ret = 1;
		}
		close(fds[n]);
		waitpid(pids[n], &st, 0);
		tot.sent += res[n].sent;
		tot.eperm += res[n].eperm;
		tot.other += res[n].other;
		if (res[n].elapsed_ns > tot.elapsed_ns)
			tot.elapsed_ns = res[n].elapsed_ns;
	}
	printf("{\"procs\":%ld,\"ports\":%ld,\"rate\":%ld,\"sent\":%lld,\"eperm\":%lld,"
	       "\"other\":%lld,\"elapsed_us\":%lld,\"attempts_per_s\":%.0f,\"pids\":[",
	       procs, ports, rate, tot.sent, tot.eperm, tot.other, tot.elapsed_ns / 1000,
	       tot.elapsed_ns
		   ? (double)(tot.sent + tot.eperm + tot.other) * 1e9 / (double)tot.elapsed_ns
		   : 0.0);
	for (long n = 0; n < procs; n++)
		printf("%s%d", n ? "," : "", (int)pids[n]);
	printf("]}\n");
	return ret;
bad:
	usage();
	return 2;
}

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static int cmd_counters(int argc, char **argv)
{
	static const struct option lo[] = {{"pin-dir", required_argument, NULL, 'p'},
					   {"db", required_argument, NULL, 'd'},
					   {"interval-ms", required_argument, NULL, 'i'},
					   {"once", no_argument, NULL, 'o'},
					   {NULL, 0, NULL, 0}};
	const char *pin = NULL, *dbpath = NULL;
	bool once = false;
	long interval = 1000;
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	struct sigaction sa = {.sa_handler = on_stop};
	int64_t next;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			pin = optarg;
			break;
		case 'd':
			dbpath = optarg;
			break;
		case 'i':
			if (parse_long(optarg, 1, 60000, &interval))
				goto bad;
			break;
		case 'o':
			once = true;
			break;
		default:
			goto bad;
		}
	}
	if (!pin || optind != argc)
		goto bad;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	next = mono_ns();
	while (!stop) {
		struct engine_pinned ps;
		uint64_t v[HUSH_EV_MAX] = {0};
		long long rows = -1;
		int64_t now;

		if (engine_pinned_read(pin, &ps) == 0 && ps.present) {
			for (unsigned hk = 0; hk < HUSH_HOOK_MAX; hk++)
				for (unsigned e = 0; e < HUSH_EV_MAX; e++)
					v[e] += ps.counters[HUSH_CTR_IDX(hk, e)];
		}
		if (dbpath && !h &&
		    sqlite3_open_v2(dbpath, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
			sqlite3_close(h);
			h = NULL;
		}
		if (h && !st &&
		    sqlite3_prepare_v2(h, "SELECT max(id) FROM events", -1, &st, NULL) != SQLITE_OK)
			st = NULL;
		if (st) {
			sqlite3_busy_timeout(h, 200);
			if (sqlite3_step(st) == SQLITE_ROW)
				rows = sqlite3_column_int64(st, 0);
			sqlite3_reset(st);
		}
		now = mono_ns();
		printf("{\"t_ms\":%lld,\"t_real_ms\":%lld,\"allow\":%llu,\"deny\":%llu,\"audit\":%"
		       "llu,\"lost\":%llu,"
		       "\"rows\":%lld}\n",
		       (long long)(now / 1000000), (long long)real_ms(),
		       (unsigned long long)v[HUSH_EV_ALLOW], (unsigned long long)v[HUSH_EV_DENY],
		       (unsigned long long)v[HUSH_EV_AUDIT], (unsigned long long)v[HUSH_EV_LOST],
		       rows);
		if (once)
			break;
		next += interval * 1000000LL;
		now = mono_ns();
		if (next > now) {
			struct timespec ts = {.tv_sec = (next - now) / 1000000000LL,
					      .tv_nsec = (next - now) % 1000000000LL};

			nanosleep(&ts, NULL);
		} else {
			next = now;
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return 0;
bad:
	usage();
	return 2;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "send") == 0)
		return cmd_send(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "counters") == 0)
		return cmd_counters(argc - 1, argv + 1);
	if (argc == 2 && strcmp(argv[1], "info") == 0) {
		printf("{\"event_bytes\":%zu,\"record_bytes\":%zu}\n", sizeof(struct hush_event),
		       (sizeof(struct hush_event) + 8 + 7) / 8 * 8);
		return 0;
	}
	usage();
	return 2;
}
