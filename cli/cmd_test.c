// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hush test [--policy FILE] [--timeout DUR] [--ready CMD|tcp:PORT] [--mode enforce|audit]
 *           [--json FILE] [--junit FILE] [--cgroup-parent DIR] -- CMD [ARGS...]
 *
 * The network silence test: CMD runs in a fresh cgroup with its own program
 * instance and DNS proxy (agent/runner.c), started there by clone3 so it
 * never runs unenforced, until every process of the cgroup has exited or the
 * timeout; then the rest is killed and everything removed.  Every attempt
 * outside the policy (denied connects and sends, DNS names asked for, socket
 * creations the policy forbids) is collected, coalesced by process,
 * destination and name, and reported.
 *
 * Exit: 0 silent, 1 noisy, 2 usage or set-up error (also: CMD could not be
 * started, or never became ready), 3 inconclusive (an event was lost: a
 * test never passes on missing data).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../agent/db.h"
#include "../agent/event.h"
#include "../agent/log.h"
#include "../agent/runner.h"
#include "../agent/sinkhole.h"
#include "cli.h"

#define EXIT_SILENT	  0
#define EXIT_NOISY	  1
#define EXIT_SETUP	  2
#define EXIT_INCONCLUSIVE 3

#define ATTEMPTS_MAX	65536 /* distinct attempts kept; more are counted as dropped */
#define DEFAULT_TIMEOUT "60s"
#define READY_EVERY_NS	100000000ull

extern char **environ;

struct attempt {
	struct hush_event ev; /* the first one */
	uint64_t count;
	int64_t first_ns, last_ns; /* realtime */
	char qname[DNS_NAME_STRLEN];
	char qtype[DNS_QTYPE_STRLEN];
	char note[160];
	bool has_proc;
	struct hush_proc proc;
	/* --sinkhole: what the connection revealed */
	char sname[256];  /* the name the sinkhole's DNS gave this address for */
	char sproto[8];	  /* "tls", "http", "other", "none" */
	char sni[256];	  /* TLS server_name */
	char shost[256];  /* HTTP Host */
	char smethod[16]; /* HTTP method and path */
	char spath[512];
};

struct test {
	/* options */
	const char *policy_path, *mode, *json_path, *junit_path, *ready;
	int64_t timeout_ns;
	char **argv;
	/* run */
	struct engine *eng;
	const struct policy_compiled *pc;
	int64_t boot_to_real;
	pthread_mutex_t mu; /* attempts: the DNS proxy reports from its threads */
	struct attempt *at;
	size_t nat, atcap;
	uint32_t *idx;	  /* open addressing over at[]: index + 1, 0 empty */
	size_t idxcap;	  /* power of two, > 2 * nat */
	uint64_t dropped; /* attempts not kept in detail (ATTEMPTS_MAX) */
	uint64_t total;	  /* attempts, counting repeats */
	/* readiness */
	int ready_port;	     /* tcp:PORT */
	pid_t ready_pid;     /* probe command running */
	uint64_t ready_next; /* elapsed ns of the next probe */
	int64_t ready_ns;    /* -1: not (yet) ready */
	/* live line */
	bool live;
	uint64_t live_next;
	struct runner_result res;
	/* --sinkhole */
	bool sinkhole;
	struct sinkhole *sk;
	uint64_t sink_lost;
	char whybuf[640]; /* why the test failed to run, when it says so */
};

/* ---- collecting ---- */

static bool same_attempt(const struct attempt *a, const struct hush_event *e, const char *qname)
{
	return a->ev.tgid == e->tgid && a->ev.proto == e->proto && a->ev.family == e->family &&
	       a->ev.dport == e->dport && a->ev.verdict == e->verdict &&
	       !memcmp(a->ev.daddr, e->daddr, 16) && !strcmp(a->qname, qname ? qname : "");
}

/* FNV-1a over what makes an attempt the same one. */
static uint64_t attempt_hash(const struct hush_event *e, const char *qname)
{
	uint64_t h = 1469598103934665603ull;
	uint8_t k[28];

	memcpy(k, &e->tgid, 4);
	memcpy(k + 4, e->daddr, 16);
	memcpy(k + 20, &e->dport, 2);
	k[22] = e->proto;
	k[23] = e->family;
	k[24] = e->verdict;
	k[25] = k[26] = k[27] = 0;
	for (size_t i = 0; i < sizeof(k); i++)
		h = (h ^ k[i]) * 1099511628211ull;
	for (const char *c = qname ? qname : ""; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ull;
	return h;
}

/* Room for one more attempt in at[] and its index; false if none. */
static bool grow(struct test *t)
{
	if (t->nat == t->atcap) {
		size_t nc = t->atcap ? t->atcap * 2 : 16;
		struct attempt *n = nc <= ATTEMPTS_MAX ? realloc(t->at, nc * sizeof(*n)) : NULL;

		if (!n)
			return false;
		t->at = n;
		t->atcap = nc;
	}
	if ((t->nat + 1) * 2 > t->idxcap) {
		size_t nc = t->idxcap ? t->idxcap * 2 : 64;
		uint32_t *n = calloc(nc, sizeof(*n));

		if (!n)
			return false;
		for (size_t i = 0; i < t->nat; i++) {
			size_t j = attempt_hash(&t->at[i].ev, t->at[i].qname) & (nc - 1);

			while (n[j])
				j = (j + 1) & (nc - 1);
			n[j] = (uint32_t)i + 1;
		}
		free(t->idx);
		t->idx = n;
		t->idxcap = nc;
	}
	return true;
}

static void collect(struct test *t, const struct hush_event *e, const char *qname,
		    const char *qtype, const char *note)
{
	int64_t ts = (int64_t)e->ts_ns + t->boot_to_real;
	struct attempt *a = NULL;
	size_t j = 0;

	pthread_mutex_lock(&t->mu);
	t->total++;
	if (t->idxcap)
		for (j = attempt_hash(e, qname) & (t->idxcap - 1); t->idx[j];
		     j = (j + 1) & (t->idxcap - 1))
			if (same_attempt(&t->at[t->idx[j] - 1], e, qname)) {
				a = &t->at[t->idx[j] - 1];
				break;
			}
	if (a) {
		a->count++;
		if (ts > a->last_ns)
			a->last_ns = ts;
		pthread_mutex_unlock(&t->mu);
		return;
	}
	if (!grow(t)) {
		t->dropped++;
		pthread_mutex_unlock(&t->mu);
		return;
	}
	for (j = attempt_hash(e, qname) & (t->idxcap - 1); t->idx[j]; j = (j + 1) & (t->idxcap - 1))
		;
	t->idx[j] = (uint32_t)t->nat + 1;
	a = &t->at[t->nat++];
	memset(a, 0, sizeof(*a));
	a->ev = *e;
	a->count = 1;
	a->first_ns = a->last_ns = ts;
	snprintf(a->qname, sizeof(a->qname), "%s", qname ? qname : "");
	snprintf(a->qtype, sizeof(a->qtype), "%s", qtype ? qtype : "");
	snprintf(a->note, sizeof(a->note), "%s", note ? note : "");
	/* The process now, while its exec record is fresh. */
	a->has_proc = t->eng && event_proc(t->eng, e, &a->proc) == 0;
	pthread_mutex_unlock(&t->mu);
}

static int on_event(void *ctx, const struct hush_event *e)
{
	if (e->verdict == HUSH_EV_DENY || e->verdict == HUSH_EV_AUDIT)
		collect(ctx, e, NULL, NULL, NULL);
	return 0;
}

/* DNS: a name outside the policy is an attempt; allowed names are not. */
static void on_dns(void *ctx, const struct dnsproxy_query *q)
{
	if (q->ev.verdict != HUSH_EV_ALLOW)
		collect(ctx, &q->ev, q->qname[0] ? q->qname : NULL, q->qtype[0] ? q->qtype : NULL,
			q->note[0] ? q->note : NULL);
}

/* ---- readiness and the live line ---- */

static bool tcp_ready(int port)
{
	static const int fam[2] = {AF_INET, AF_INET6};

	for (int i = 0; i < 2; i++) {
		struct sockaddr_storage ss = {0};
		struct pollfd pfd;
		socklen_t len;
		int fd, err = 0;

		if (fam[i] == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			a->sin_family = AF_INET;
			a->sin_port = htons((uint16_t)port);
			a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			len = sizeof(*a);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			a->sin6_family = AF_INET6;
			a->sin6_port = htons((uint16_t)port);
			a->sin6_addr = in6addr_loopback;
			len = sizeof(*a);
		}
		fd = socket(fam[i], SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, (struct sockaddr *)&ss, len) && errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, 50) == 1) {
				len = sizeof(err);
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			} else {
				err = ETIMEDOUT;
			}
		} else if (errno) {
			err = errno;
		}
		close(fd);
		if (!err)
			return true;
		errno = 0;
	}
	return false;
}

static bool probe_ready(struct test *t, uint64_t elapsed)
{
	if (t->ready_port)
		return tcp_ready(t->ready_port);
	if (t->ready_pid > 0) {
		int st;
		pid_t p = waitpid(t->ready_pid, &st, WNOHANG);

		if (p == 0)
			return false;
		t->ready_pid = 0;
		if (p > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			return true;
	}
	if (elapsed >= t->ready_next) {
		char *args[] = {"sh", "-c", (char *)t->ready, NULL};

		if (posix_spawn(&t->ready_pid, "/bin/sh", NULL, NULL, args, environ))
			t->ready_pid = 0;
		t->ready_next = elapsed + READY_EVERY_NS;
	}
	return false;
}

static void on_tick(void *ctx, uint64_t elapsed)
{
	struct test *t = ctx;

	if (t->ready && t->ready_ns < 0 && (t->ready_port ? elapsed >= t->ready_next : 1)) {
		if (probe_ready(t, elapsed))
			t->ready_ns = (int64_t)elapsed;
		if (t->ready_port)
			t->ready_next = elapsed + READY_EVERY_NS;
	}
	if (t->live && elapsed >= t->live_next) {
		uint64_t n;

		pthread_mutex_lock(&t->mu);
		n = t->total;
		pthread_mutex_unlock(&t->mu);
		fprintf(stderr, "\r\033[Khush test: %.1f s", (double)elapsed / 1e9);
		if (t->timeout_ns)
			fprintf(stderr, " / %.0f s", (double)t->timeout_ns / 1e9);
		fprintf(stderr, ", %llu attempt%s%s", (unsigned long long)n, n == 1 ? "" : "s",
			t->ready ? (t->ready_ns >= 0 ? ", ready" : ", not ready yet") : "");
		t->live_next = elapsed + 250000000ull;
	}
}

/* ---- reporting ---- */

static const char *result_name(int code)
{
	return code == EXIT_SILENT  ? "silent"
	       : code == EXIT_NOISY ? "noisy"
	       : code == EXIT_SETUP ? "error"
				    : "inconclusive";
}

static void fmt_ts(int64_t ns, char *buf, size_t len)
{
	time_t sec = (time_t)(ns / 1000000000LL);
	struct tm tm;
	char b[32];

	gmtime_r(&sec, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09lldZ", b, (long long)(ns % 1000000000LL));
}

/* "tcp 198.18.2.2:443", "dns example.com A", "icmp 198.18.2.2" */
static void fmt_dest(const struct attempt *a, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN], pb[8];
	const char *proto = event_proto_name(a->ev.proto, pb, sizeof(pb));

	event_addr(&a->ev, addr, sizeof(addr));
	if (a->ev.hook == HUSH_HOOK_SOCK)
		snprintf(buf, len, "%s socket (IPv%d): the policy allows it nothing but loopback",
			 proto, a->ev.family == 2 ? 4 : 6);
	else if (a->ev.hook == HUSH_HOOK_CGMOVE)
		snprintf(buf, len, "move out of the cgroup to %s",
			 event_cgroup_name(a->ev.cgroup_id) ?: "a cgroup now gone");
	else if (a->ev.hook == HUSH_HOOK_DNS)
		snprintf(buf, len, "dns %s %s (asked %s%s%s)", a->qname[0] ? a->qname : "?",
			 a->qtype, a->ev.family == 10 ? "[" : "", addr,
			 a->ev.family == 10 ? "]" : "");
	else if (a->ev.proto == 6 || a->ev.proto == 17)
		snprintf(buf, len, "%s %s%s%s:%u", proto, a->ev.family == 10 ? "[" : "", addr,
			 a->ev.family == 10 ? "]" : "", a->ev.dport);
	else
		snprintf(buf, len, "%s %s", proto, addr);
}

static void cmdline_text(const struct attempt *a, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	if (!a->has_proc)
		return;
	for (uint32_t i = 0; i < a->proc.cmdline_len && i < sizeof(a->proc.cmdline) && o + 1 < len;
	     i++)
		buf[o++] = a->proc.cmdline[i] ? a->proc.cmdline[i] : ' ';
	while (o && buf[o - 1] == ' ')
		o--;
	buf[o] = 0;
}

static int cmp_dest(const void *x, const void *y)
{
	const struct attempt *a = x, *b = y;
	int d;

	if (a->ev.hook == HUSH_HOOK_DNS || b->ev.hook == HUSH_HOOK_DNS) {
		if ((a->ev.hook == HUSH_HOOK_DNS) != (b->ev.hook == HUSH_HOOK_DNS))
			return a->ev.hook == HUSH_HOOK_DNS ? -1 : 1;
		d = strcmp(a->qname, b->qname);
		if (d)
			return d;
	}
	d = memcmp(a->ev.daddr, b->ev.daddr, 16);
	if (d)
		return d;
	if (a->ev.dport != b->ev.dport)
		return a->ev.dport < b->ev.dport ? -1 : 1;
	if (a->ev.proto != b->ev.proto)
		return a->ev.proto < b->ev.proto ? -1 : 1;
	return a->first_ns < b->first_ns ? -1 : a->first_ns > b->first_ns;
}

/* --sinkhole: name each attempt's address and add what its connection
 * revealed (TLS SNI, HTTP request). */
static void sinkhole_merge(struct test *t)
{
	struct sinkhole_rec *rec = NULL;
	size_t n;

	sinkhole_settle(t->sk, SINKHOLE_FIRST_MS + 1000);
	n = sinkhole_records(t->sk, &rec);
	t->sink_lost = sinkhole_lost(t->sk);
	for (size_t i = 0; i < t->nat; i++) {
		struct attempt *a = &t->at[i];
		int fam = a->ev.family == 2 ? AF_INET : AF_INET6;

		if (a->ev.hook == HUSH_HOOK_DNS)
			continue;
		sinkhole_name_of(t->sk, fam, a->ev.daddr, a->sname, sizeof(a->sname));
		for (size_t k = 0; k < n; k++) {
			const struct sinkhole_rec *r = &rec[k];

			if (strcmp(r->kind, "tcp") || r->family != fam || r->dport != a->ev.dport ||
			    memcmp(r->daddr, a->ev.daddr, fam == AF_INET ? 4 : 16))
				continue;
			snprintf(a->sproto, sizeof(a->sproto), "%s", r->proto);
			snprintf(a->sni, sizeof(a->sni), "%s", r->sni);
			snprintf(a->shost, sizeof(a->shost), "%s", r->host);
			snprintf(a->smethod, sizeof(a->smethod), "%s", r->method);
			snprintf(a->spath, sizeof(a->spath), "%s", r->path);
			if (r->sni[0] || r->host[0])
				break; /* the most telling record */
		}
	}
	free(rec);
}

/* ", SNI huggingface.co" / ", HTTP GET models.x /v1" / "" */
static void fmt_intent(const struct attempt *a, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	if (a->sname[0])
		o += (size_t)snprintf(buf + o, len - o, ", name %s", a->sname);
	if (o < len && a->sni[0])
		o += (size_t)snprintf(buf + o, len - o, ", SNI %s", a->sni);
	if (o < len && (a->smethod[0] || a->shost[0]))
		snprintf(buf + o, len - o, ", HTTP %s http://%s%s", a->smethod, a->shost, a->spath);
}

/* Same destination: the same name (DNS), or the same address, port and
 * protocol. */
static bool same_dest(const struct attempt *a, const struct attempt *b)
{
	return (a->ev.hook == HUSH_HOOK_DNS) == (b->ev.hook == HUSH_HOOK_DNS) &&
	       !strcmp(a->qname, b->qname) && !memcmp(a->ev.daddr, b->ev.daddr, 16) &&
	       a->ev.dport == b->ev.dport && a->ev.proto == b->ev.proto;
}

static void print_human(struct test *t, int code, const char *why)
{
	char cmd[512] = "";

	for (size_t i = 0, o = 0; t->argv[i] && o + 2 < sizeof(cmd); i++)
		o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, "%s%s", i ? " " : "", t->argv[i]);
	printf("hush test: %s", code == EXIT_SILENT  ? "SILENT"
				: code == EXIT_NOISY ? "NOISY"
				: code == EXIT_SETUP ? "ERROR"
						     : "INCONCLUSIVE");
	if (t->total)
		printf(", %llu attempt%s outside the policy", (unsigned long long)t->total,
		       t->total == 1 ? "" : "s");
	printf(" (%s: %.2f s, exit %d%s)\n", cmd, (double)t->res.duration_ns / 1e9,
	       t->res.exit_code, t->res.timed_out ? ", stopped at the timeout" : "");
	if (why)
		printf("  %s\n", why);
	/* Grouped by destination (or name), with the processes behind each. */
	for (size_t i = 0; i < t->nat; i++) {
		const struct attempt *a = &t->at[i];
		char dest[DNS_NAME_STRLEN + 96], cl[300], intent[1400];

		if (!i || !same_dest(a, &t->at[i - 1])) {
			uint64_t n = 0;

			for (size_t k = i; k < t->nat && same_dest(&t->at[k], a); k++)
				n += t->at[k].count;
			fmt_dest(a, dest, sizeof(dest));
			fmt_intent(a, intent, sizeof(intent));
			printf("  %s%s: %llu attempt%s, %s\n", dest, intent, (unsigned long long)n,
			       n == 1 ? "" : "s",
			       a->ev.hook == HUSH_HOOK_SOCK	? "created (reported)"
			       : a->ev.hook == HUSH_HOOK_CGMOVE ? "moved (reported)"
			       : a->ev.verdict == HUSH_EV_AUDIT ? "let through (audit)"
			       : a->ev.hook == HUSH_HOOK_DNS	? "refused"
								: "denied");
		}
		cmdline_text(a, cl, sizeof(cl));
		printf("    %llux pid %u %.16s", (unsigned long long)a->count, a->ev.tgid,
		       a->ev.comm);
		if (a->has_proc)
			printf(" %s%s%s", a->proc.exe, cl[0] ? ": " : "", cl);
		if (a->note[0])
			printf(" (%s)", a->note);
		putchar('\n');
	}
	if (t->dropped)
		printf("  (%llu more attempts not listed: more than %d distinct)\n",
		       (unsigned long long)t->dropped, ATTEMPTS_MAX);
}

static void json_str_or_null(FILE *f, const char *s)
{
	if (s[0])
		json_str(f, s, 4096);
	else
		fputs("null", f);
}

static void json_cmdline(FILE *f, const struct attempt *a)
{
	uint32_t i = 0, n = a->proc.cmdline_len;

	fputc('[', f);
	if (n > sizeof(a->proc.cmdline))
		n = sizeof(a->proc.cmdline);
	for (bool first = true; i < n; first = false) {
		size_t l = strnlen(a->proc.cmdline + i, n - i);

		fputs(first ? "" : ",", f);
		json_str(f, a->proc.cmdline + i, l);
		i += (uint32_t)l + 1;
	}
	fputc(']', f);
}

static void write_json(FILE *f, struct test *t, int code, const char *why)
{
	fprintf(f, "{\"result\":\"%s\",\"command\":[", result_name(code));
	for (size_t i = 0; t->argv[i]; i++) {
		fputs(i ? "," : "", f);
		json_str(f, t->argv[i], 4096);
	}
	fprintf(f,
		"],\"duration_ms\":%llu,\"dropped_events\":%llu,\"exit_code\":%d,\"timed_out\":%s,"
		"\"mode\":\"%s\",\"policy\":",
		(unsigned long long)(t->res.duration_ns / 1000000),
		(unsigned long long)(t->res.lost + t->dropped), t->res.exit_code,
		t->res.timed_out ? "true" : "false", t->mode ? t->mode : "enforce");
	if (t->policy_path)
		json_str(f, t->policy_path, 4096);
	else
		fputs("null", f);
	if (t->ready && t->ready_ns < 0)
		fputs(",\"ready_ms\":null", f);
	else if (t->ready)
		fprintf(f, ",\"ready_ms\":%lld", (long long)(t->ready_ns / 1000000));
	fputs(",\"error\":", f);
	if (why)
		json_str(f, why, 1024);
	else
		fputs("null", f);
	fprintf(f, ",\"sinkhole\":%s", t->sinkhole ? "true" : "false");
	if (t->sinkhole)
		fprintf(f, ",\"sinkhole_lost\":%llu", (unsigned long long)t->sink_lost);
	fprintf(f, ",\"attempts_total\":%llu,\"attempts\":[", (unsigned long long)t->total);
	for (size_t i = 0; i < t->nat; i++) {
		const struct attempt *a = &t->at[i];
		char ts[48], fts[48], addr[INET6_ADDRSTRLEN], pb[8], comm[17];

		fmt_ts(a->last_ns, ts, sizeof(ts));
		fmt_ts(a->first_ns, fts, sizeof(fts));
		memcpy(comm, a->ev.comm, 16);
		comm[16] = 0;
		fprintf(f, "%s{\"ts\":\"%s\",\"first_ts\":\"%s\",\"pid\":%u,\"tid\":%u,\"comm\":",
			i ? "," : "", ts, fts, a->ev.tgid, a->ev.pid);
		json_str(f, comm, 16);
		fputs(",\"exe\":", f);
		if (a->has_proc)
			json_str(f, a->proc.exe, sizeof(a->proc.exe));
		else
			fputs("null", f);
		fputs(",\"cmdline\":", f);
		if (a->has_proc)
			json_cmdline(f, a);
		else
			fputs("null", f);
		fprintf(f, ",\"hook\":\"%s\",\"proto\":\"%s\",", engine_hook_name(a->ev.hook),
			event_proto_name(a->ev.proto, pb, sizeof(pb)));
		if (a->ev.hook == HUSH_HOOK_SOCK) /* a socket made: no destination yet */
			fputs("\"daddr\":null,\"dport\":null,\"qname\":", f);
		else
			fprintf(f, "\"daddr\":\"%s\",\"dport\":%u,\"qname\":",
				event_addr(&a->ev, addr, sizeof(addr)), a->ev.dport);
		if (a->qname[0])
			json_str(f, a->qname, sizeof(a->qname));
		else
			fputs("null", f);
		fputs(",\"qtype\":", f);
		if (a->qtype[0])
			json_str(f, a->qtype, sizeof(a->qtype));
		else
			fputs("null", f);
		fprintf(f, ",\"verdict\":\"%s\",\"count\":%llu", engine_ev_name(a->ev.verdict),
			(unsigned long long)a->count);
		if (t->sinkhole && a->ev.hook != HUSH_HOOK_DNS) {
			fputs(",\"sinkhole\":{\"name\":", f);
			json_str_or_null(f, a->sname);
			fputs(",\"proto\":", f);
			json_str_or_null(f, a->sproto);
			fputs(",\"sni\":", f);
			json_str_or_null(f, a->sni);
			fputs(",\"http_host\":", f);
			json_str_or_null(f, a->shost);
			fputs(",\"http_method\":", f);
			json_str_or_null(f, a->smethod);
			fputs(",\"http_path\":", f);
			json_str_or_null(f, a->spath);
			fputc('}', f);
		}
		if (a->note[0]) {
			fputs(",\"note\":", f);
			json_str(f, a->note, sizeof(a->note));
		}
		fputc('}', f);
	}
	fputs("]}\n", f);
}

static void xml_str(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '<')
			fputs("&lt;", f);
		else if (c == '>')
			fputs("&gt;", f);
		else if (c == '&')
			fputs("&amp;", f);
		else if (c == '"')
			fputs("&quot;", f);
		else if (c < 0x20 && c != '\n' && c != '\t')
			fputc('?', f); /* not representable in XML 1.0 */
		else
			fputc(c, f);
	}
}

static void write_junit(FILE *f, struct test *t, int code, const char *why)
{
	char cmd[1024] = "", ts[48], host[256] = "localhost";
	double secs = (double)t->res.duration_ns / 1e9;
	int failures = code == EXIT_NOISY, errors = code == EXIT_SETUP || code == EXIT_INCONCLUSIVE;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	fmt_ts((int64_t)now.tv_sec * 1000000000LL, ts, sizeof(ts));
	ts[19] = 0; /* xs:dateTime without the fraction and zone */
	gethostname(host, sizeof(host) - 1);
	for (size_t i = 0, o = 0; t->argv[i] && o + 2 < sizeof(cmd); i++)
		o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, "%s%s", i ? " " : "", t->argv[i]);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f,
		"<testsuites name=\"hush test\" tests=\"1\" failures=\"%d\" errors=\"%d\" "
		"time=\"%.3f\">\n",
		failures, errors, secs);
	fprintf(f,
		"  <testsuite name=\"network silence\" tests=\"1\" failures=\"%d\" errors=\"%d\" "
		"skipped=\"0\" time=\"%.3f\" timestamp=\"%s\" hostname=\"",
		failures, errors, secs, ts);
	xml_str(f, host);
	fputs("\">\n    <testcase classname=\"hush.test\" name=\"", f);
	xml_str(f, cmd);
	fprintf(f, "\" time=\"%.3f\">\n", secs);
	if (code != EXIT_SILENT) {
		char msg[700];

		if (code == EXIT_NOISY)
			snprintf(msg, sizeof(msg), "noisy: %llu attempt%s outside the policy",
				 (unsigned long long)t->total, t->total == 1 ? "" : "s");
		else if (code == EXIT_INCONCLUSIVE)
			snprintf(msg, sizeof(msg), "inconclusive: %llu events lost",
				 (unsigned long long)(t->res.lost + t->dropped));
		else
			snprintf(msg, sizeof(msg), "error: %s", why ? why : "set-up failed");
		fprintf(f, "      <%s message=\"", code == EXIT_NOISY ? "failure" : "error");
		xml_str(f, msg);
		fprintf(f, "\" type=\"%s\">", result_name(code));
		for (size_t i = 0; i < t->nat; i++) {
			const struct attempt *a = &t->at[i];
			char dest[DNS_NAME_STRLEN + 96], line[DNS_NAME_STRLEN + 2100], cl[300],
			    intent[1400];

			fmt_dest(a, dest, sizeof(dest));
			cmdline_text(a, cl, sizeof(cl));
			fmt_intent(a, intent, sizeof(intent));
			snprintf(line, sizeof(line), "%s%s %s x%llu by pid %u %s%s%s\n", dest,
				 intent, engine_ev_name(a->ev.verdict),
				 (unsigned long long)a->count, a->ev.tgid,
				 a->has_proc ? a->proc.exe : "", cl[0] ? ": " : "", cl);
			xml_str(f, line);
		}
		if (why) {
			xml_str(f, why);
			fputc('\n', f);
		}
		fprintf(f, "</%s>\n", code == EXIT_NOISY ? "failure" : "error");
	}
	fprintf(f, "      <system-out>result %s, command exit %d, %.3f s%s</system-out>\n",
		result_name(code), t->res.exit_code, secs,
		t->res.timed_out ? ", stopped at the timeout" : "");
	fputs("    </testcase>\n  </testsuite>\n</testsuites>\n", f);
}

static int write_file(const char *path, void (*fn)(FILE *, struct test *, int, const char *),
		      struct test *t, int code, const char *why)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;

	if (!f) {
		log_warn("cannot write %s", path);
		return -1;
	}
	fn(f, t, code, why);
	if (f != stdout && fclose(f)) {
		log_warn("cannot write %s", path);
		return -1;
	}
	return 0;
}

/* ---- the command ---- */

static int test_usage(void)
{
	fprintf(stderr,
		"usage: hush test [--policy FILE] [--timeout DUR] [--ready CMD|tcp:PORT]\n"
		"                 [--mode enforce|audit] [--json FILE] [--junit FILE]\n"
		"                 [--cgroup-parent DIR] [--ringbuf-size BYTES] [--sinkhole]\n"
		"                 -- CMD [ARGS...]\n"
		"exit: 0 silent, 1 noisy, 2 usage or set-up error, 3 inconclusive (events lost)\n");
	return EXIT_SETUP;
}

/* Options into t and ro: 0, or the usage exit code after saying why. */
static int test_args(struct test *t, struct runner_opts *ro, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"policy", required_argument, NULL, 'p'},
	    {"timeout", required_argument, NULL, 't'},
	    {"ready", required_argument, NULL, 'r'},
	    {"mode", required_argument, NULL, 'm'},
	    {"json", required_argument, NULL, 'j'},
	    {"junit", required_argument, NULL, 'u'},
	    {"cgroup-parent", required_argument, NULL, 'g'},
	    {"ringbuf-size", required_argument, NULL, 'b'},
	    {"sinkhole", no_argument, NULL, 's'},
	    {0},
	};
	const char *timeout = DEFAULT_TIMEOUT;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			t->policy_path = optarg;
			break;
		case 't':
			timeout = optarg;
			break;
		case 'r':
			t->ready = optarg;
			break;
		case 'm':
			t->mode = optarg;
			break;
		case 'j':
			t->json_path = optarg;
			break;
		case 'u':
			t->junit_path = optarg;
			break;
		case 'g':
			ro->parent = optarg;
			break;
		case 's':
			t->sinkhole = true;
			break;
		case 'b':
			if (engine_parse_ringbuf("--ringbuf-size", optarg, &ro->ringbuf_bytes))
				return test_usage();
			break;
		default:
			return test_usage();
		}
	}
	if (optind >= argc)
		return test_usage();
	t->argv = argv + optind;
	if (t->mode && strcmp(t->mode, "enforce") && strcmp(t->mode, "audit")) {
		log_warnx("--mode %s: use enforce or audit", t->mode);
		return test_usage();
	}
	if (strcmp(timeout, "0") &&
	    (db_parse_duration(timeout, &t->timeout_ns) || t->timeout_ns <= 0)) {
		log_warnx("--timeout %s: need a duration such as 30s, 5m or 1h (0: none)", timeout);
		return test_usage();
	}
	if (t->ready && !strncmp(t->ready, "tcp:", 4)) {
		char *end;
		long p = strtol(t->ready + 4, &end, 10);

		if (*end || p < 1 || p > 65535) {
			log_warnx("--ready %s: need tcp:PORT (1-65535) or a command", t->ready);
			return test_usage();
		}
		t->ready_port = (int)p;
	}
	if (t->sinkhole && t->mode && strcmp(t->mode, "audit")) {
		log_warnx("--sinkhole lets every attempt through to the sinkhole: it cannot be "
			  "combined with --mode %s",
			  t->mode);
		return test_usage();
	}
	return 0;
}

/* --sinkhole, between parse and compile: everything goes to the sinkhole
 * and is let through (audit), names too: it answers them all. */
static int sinkhole_adjust(struct policy *p, void *ctx)
{
	struct test *t = ctx;
	char err[512];
	int fam, ret;

	ret = sinkhole_start(&t->sk, err, sizeof(err));
	if (ret) {
		snprintf(t->whybuf, sizeof(t->whybuf), "cannot set up the sinkhole: %s", err);
		return ret;
	}
	for (size_t i = 0; i < p->nscopes; i++) {
		p->scopes[i].mode = HUSH_MODE_AUDIT;
		p->scopes[i].has_mode = true;
	}
	sinkhole_resolver(t->sk, &fam, p->resolver);
	p->has_resolver = true;
	p->resolver_family = fam;
	p->resolver_port = 53;
	t->mode = "audit";
	return 0;
}

/* The policy: given, or loopback only (no DNS names).  NULL, or why not. */
static const char *test_policy(struct test *t, struct runner_opts *ro, struct policy_loaded **out)
{
	struct policy_load_opts o = {
	    .name = t->policy_path,
	    .dns_proxy = true,
	    .set_mode = t->mode != NULL,
	    .mode = t->mode && strcmp(t->mode, "audit") == 0 ? HUSH_MODE_AUDIT : HUSH_MODE_ENFORCE,
	    .adjust = t->sinkhole ? sinkhole_adjust : NULL,
	    .ctx = t,
	    .diag = stderr,
	    .prefix = "hush: policy: ",
	};

	if (policy_loaded_load(&o, out, NULL)) {
		if (!t->whybuf[0])
			snprintf(t->whybuf, sizeof(t->whybuf), "policy %s rejected",
				 t->policy_path ? t->policy_path : "(default)");
		return t->whybuf;
	}
	if (t->sk)
		ro->netns_fd = sinkhole_netns_fd(t->sk);
	return NULL;
}

/* Run the command under l until every process of its cgroup is gone (or
 * the timeout).  NULL, or why it could not run. */
static const char *test_run(struct test *t, struct runner_opts *ro, const struct policy_loaded *l)
{
	const char *ci = getenv("CI");
	int ret;

	t->pc = l->pc;
	t->boot_to_real = event_boot_to_real();
	t->live = isatty(STDERR_FILENO) && (!ci || !*ci || !strcmp(ci, "false"));
	ro->policy = l;
	ro->dns_proxy = true;
	ro->argv = t->argv;
	ro->on_event = on_event;
	ro->on_dns = on_dns;
	ro->on_tick = on_tick;
	ro->ctx = t;
	ro->engp = &t->eng;
	ro->timeout_ms = t->timeout_ns ? (int)(t->timeout_ns / 1000000) : 0;
	ro->wait_all = true;
	ro->dns_only = true; /* no lookups around the DNS proxy (nscd, resolved) */
	ro->cgroup_prefix = "hush-test";
	ret = runner_run(ro, &t->res);
	if (t->live)
		fputs("\r\033[K", stderr);
	if (t->ready_pid > 0) {
		kill(t->ready_pid, SIGKILL);
		waitpid(t->ready_pid, NULL, 0);
	}
	if (!ret)
		return NULL;
	snprintf(t->whybuf, sizeof(t->whybuf), "cannot set up the test: %s (see above)",
		 strerror(-ret));
	return t->whybuf;
}

/* The verdict on a run: any event lost makes it inconclusive (its attempts
 * are still listed); then attempts make it noisy.  Sets *why when it says
 * more than the code. */
static int test_verdict(struct test *t, const char **why)
{
	int code;

	if (t->res.lost || t->dropped)
		code = EXIT_INCONCLUSIVE;
	else if (t->total)
		code = EXIT_NOISY;
	else if (t->res.exec_failed)
		code = EXIT_SETUP, *why = "the command could not be started";
	else if (t->ready && t->ready_ns < 0)
		code = EXIT_SETUP, *why = "the command never became ready (--ready)";
	else
		code = EXIT_SILENT;
	if (code == EXIT_INCONCLUSIVE) {
		snprintf(t->whybuf, sizeof(t->whybuf),
			 "%llu events were lost (%s): the attempts below are not all there were",
			 (unsigned long long)(t->res.lost + t->dropped),
			 t->res.lost ? "ring buffer full; --ringbuf-size holds more"
				     : "too many distinct attempts to keep");
		*why = t->whybuf;
	}
	if (t->res.interrupted && code != EXIT_NOISY) {
		code = EXIT_INCONCLUSIVE;
		*why = "interrupted before the command finished";
	}
	if (t->sk)
		sinkhole_merge(t);
	qsort(t->at, t->nat, sizeof(*t->at), cmp_dest);
	return code;
}

int do_test(struct cli *c, int argc, char **argv)
{
	struct test t = {.mu = PTHREAD_MUTEX_INITIALIZER, .ready_ns = -1};
	struct runner_opts ro = {0};
	struct policy_loaded *l = NULL;
	const char *why;
	int code = EXIT_SETUP, ret;

	(void)c;
	ret = test_args(&t, &ro, argc, argv);
	if (ret)
		return ret;
	why = test_policy(&t, &ro, &l);
	if (!why)
		why = test_run(&t, &ro, l);
	if (!why)
		code = test_verdict(&t, &why);
	print_human(&t, code, why);
	fflush(stdout);
	if (t.json_path && write_file(t.json_path, write_json, &t, code, why) &&
	    code == EXIT_SILENT)
		code = EXIT_SETUP;
	if (t.junit_path && write_file(t.junit_path, write_junit, &t, code, why) &&
	    code == EXIT_SILENT)
		code = EXIT_SETUP;
	sinkhole_stop(t.sk);
	free(t.at);
	free(t.idx);
	policy_loaded_free(l);
	return code;
}
