// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sinkcheck: run commands inside a sinkhole (agent/sinkhole.h) and print
 * what it saw.
 *
 *   sinkcheck [--instances N] [--resolv] [--settle-ms MS] [--cycles N]
 *             -- CMD [ARGS...] [-- CMD ...]
 *   sinkcheck --selftest [--fuzz N]
 *
 * Starts N sinkholes (default 1) in this process, then runs each command in
 * turn, in each sinkhole's test namespace at once (one child per sinkhole,
 * forked, setns() into T, exec), and waits for them.  The children inherit
 * stdout and stderr and get SINKHOLE_RESOLVER (the sinkhole's DNS address)
 * and SINKHOLE_INSTANCE (0..N-1) in their environment.  --resolv gives each
 * child a private mount namespace in which /etc/resolv.conf names the
 * sinkhole, /etc/nsswitch.conf says "hosts: files dns", and nscd's and
 * systemd-resolved's socket directories are empty, so the C library
 * resolves through the sinkhole and through nothing else (the two files are
 * made in $TMPDIR, default /tmp, and removed at the end).
 *
 * Prints JSON lines on stdout: {"event":"ready",...} per sinkhole, then
 * {"event":"exit",...} per command and sinkhole, then (after the sinkhole
 * settled) {"event":"record",...} per record and {"event":"done",...} per
 * sinkhole.  Exit 0 when every sinkhole started and stopped (the commands'
 * statuses are in the "exit" lines), 2 on a usage or set-up error.
 *
 * --cycles N first starts and stops a sinkhole N times (after one to warm
 * up) and prints {"event":"cycles",...} with this process's fd and thread
 * counts before and after: exit 2 if they differ (a leak).
 *
 * --selftest runs the catcher's TLS and HTTP parsers on crafted inputs,
 * every prefix of them and N (default 200000) random mutations; exit 1 on a
 * wrong answer.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/json.h"
#include "agent/sinkhole_net.h"
#include "agent/sniff.h"

#define MAX_INST 8

extern char **environ;

/* Strings as sinkhole keeps them: valid UTF-8 as is, the rest escaped. */
static void print_rec(int inst, const struct sinkhole_rec *r)
{
	const struct {
		const char *key, *val;
	} strs[] = {{"qname", r->qname}, {"qtype", r->qtype}, {"rcode", r->rcode},
		    {"sni", r->sni},	 {"host", r->host},   {"method", r->method},
		    {"path", r->path}};
	char a[INET6_ADDRSTRLEN] = "";
	struct json_writer w;

	inet_ntop(r->family, r->daddr, a, sizeof(a));
	jsonw_init_file(&w, stdout, JSON_LINES | JSON_UTF8);
	jsonw_obj_begin(&w);
	jsonw_str_field(&w, "event", "record");
	jsonw_int_field(&w, "instance", inst);
	jsonw_int_field(&w, "ts_ns", r->ts_ns);
	jsonw_str_field(&w, "kind", r->kind);
	jsonw_str_field(&w, "proto", r->proto);
	jsonw_int_field(&w, "family", r->family == AF_INET6 ? 6 : 4);
	jsonw_str_field(&w, "daddr", a);
	jsonw_uint_field(&w, "dport", r->dport);
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		jsonw_str_field(&w, strs[i].key, strs[i].val);
	jsonw_uint_field(&w, "first_bytes", r->first_bytes);
	jsonw_uint_field(&w, "count", r->count);
	jsonw_int_field(&w, "last_ns", r->last_ns);
	jsonw_obj_end(&w);
}

/* ---- --resolv ---- */

static char resolv_file[PATH_MAX], nss_file[PATH_MAX], resolv_target[PATH_MAX];
static const char *const hide_dirs[] = {"/run/nscd", "/var/run/nscd", "/run/systemd/resolve"};

static int write_tmp(char *path, size_t len, const char *text)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, len, "%s/sinkcheck.XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fchmod(fd, 0644)) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* In the child: a private mount namespace that resolves through the sinkhole
 * only.  Any failure is fatal (the command must not run half-sealed). */
static int enter_resolv(void)
{
	struct stat st;
	int fd;

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return -1;
	for (size_t i = 0; i < sizeof(hide_dirs) / sizeof(hide_dirs[0]); i++) {
		if (lstat(hide_dirs[i], &st) == 0 && S_ISDIR(st.st_mode) &&
		    mount("tmpfs", hide_dirs[i], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "size=16k,mode=0755"))
			return -1;
	}
	/* resolv.conf may be a symlink into a directory just hidden. */
	if (access(resolv_target, F_OK)) {
		fd = open(resolv_target, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			return -1;
		close(fd);
	}
	if (mount(resolv_file, resolv_target, NULL, MS_BIND, NULL))
		return -1;
	if (access("/etc/nsswitch.conf", F_OK) == 0 &&
	    mount(nss_file, "/etc/nsswitch.conf", NULL, MS_BIND, NULL))
		return -1;
	return 0;
}

/* ---- selftest ---- */

static int nfail, ncases;

static void check(bool ok, const char *what)
{
	ncases++;
	if (!ok) {
		nfail++;
		fprintf(stderr, "sinkcheck: selftest: %s\n", what);
	}
}

/* A ClientHello record for sni (NULL: no server_name), with a few other
 * extensions around it; returns its length. */
static size_t make_hello(uint8_t *b, const char *sni, bool sni_first)
{
	uint8_t body[1024];
	size_t o = 0, ext0, n;

	body[o++] = 3;
	body[o++] = 3;
	memset(body + o, 0xab, 32);
	o += 32;
	body[o++] = 32; /* session id */
	memset(body + o, 0x11, 32);
	o += 32;
	body[o++] = 0;
	body[o++] = 4; /* two suites */
	body[o++] = 0x13;
	body[o++] = 0x01;
	body[o++] = 0x13;
	body[o++] = 0x02;
	body[o++] = 1;
	body[o++] = 0;
	ext0 = o;
	o += 2;
	if (!sni_first) {
		/* supported_versions */
		const uint8_t sv[] = {0, 43, 0, 3, 2, 3, 4};

		memcpy(body + o, sv, sizeof(sv));
		o += sizeof(sv);
	}
	if (sni) {
		n = strlen(sni);
		body[o++] = 0;
		body[o++] = 0;
		body[o++] = (uint8_t)((n + 5) >> 8);
		body[o++] = (uint8_t)(n + 5);
		body[o++] = (uint8_t)((n + 3) >> 8);
		body[o++] = (uint8_t)(n + 3);
		body[o++] = 0;
		body[o++] = (uint8_t)(n >> 8);
		body[o++] = (uint8_t)n;
		memcpy(body + o, sni, n);
		o += n;
	}
	{
		/* padding, 5 bytes */
		const uint8_t pad[] = {0, 21, 0, 5, 0, 0, 0, 0, 0};

		memcpy(body + o, pad, sizeof(pad));
		o += sizeof(pad);
	}
	body[ext0] = (uint8_t)((o - ext0 - 2) >> 8);
	body[ext0 + 1] = (uint8_t)(o - ext0 - 2);
	/* record + handshake headers */
	b[0] = 22;
	b[1] = 3;
	b[2] = 1;
	b[3] = (uint8_t)((o + 4) >> 8);
	b[4] = (uint8_t)(o + 4);
	b[5] = 1;
	b[6] = 0;
	b[7] = (uint8_t)(o >> 8);
	b[8] = (uint8_t)o;
	memcpy(b + 9, body, o);
	return o + 9;
}

static int selftest(long fuzz)
{
	static const char *const http_ok[] = {
	    "GET /v1/weights HTTP/1.1\r\nHost: models.example.test:8080\r\nAccept: */*\r\n\r\n",
	    "POST /x?y=1 HTTP/1.0\nUser-Agent: a\nhOsT:   models.example.test:8080 \t\n\nbody",
	};
	uint8_t b[4096], m[4096];
	char sni[256];
	struct sinkhole_http h;
	size_t n;
	int r;

	/* TLS: whole hellos, SNI first or after another extension, and none. */
	for (int first = 0; first < 2; first++) {
		n = make_hello(b, "huggingface.co", first);
		r = sinkhole_tls_sni(b, n, false, sni, sizeof(sni));
		check(r == 1 && strcmp(sni, "huggingface.co") == 0, "tls: sni");
		/* Every strict prefix: undecided (or, SNI first, already found). */
		for (size_t k = 0; k < n; k++) {
			r = sinkhole_tls_sni(b, k, false, sni, sizeof(sni));
			check(r == 0 || (r == 1 && strcmp(sni, "huggingface.co") == 0),
			      "tls: prefix");
			r = sinkhole_tls_sni(b, k, true, sni, sizeof(sni));
			check(k == 0 ? r < 0 : r == 1, "tls: final prefix");
		}
	}
	n = make_hello(b, NULL, false);
	r = sinkhole_tls_sni(b, n, false, sni, sizeof(sni));
	check(r == 1 && sni[0] == 0, "tls: no sni");
	/* Split over two records. */
	n = make_hello(b, "split.example", false);
	{
		size_t cut = 40, body = n - 5;

		memcpy(m, b, 5 + cut);
		m[3] = (uint8_t)(cut >> 8);
		m[4] = (uint8_t)cut;
		m[5 + cut] = 22;
		m[6 + cut] = 3;
		m[7 + cut] = 3;
		m[8 + cut] = (uint8_t)((body - cut) >> 8);
		m[9 + cut] = (uint8_t)(body - cut);
		memcpy(m + 10 + cut, b + 5 + cut, body - cut);
		r = sinkhole_tls_sni(m, n + 5, false, sni, sizeof(sni));
		check(r == 1 && strcmp(sni, "split.example") == 0, "tls: two records");
	}
	/* Not TLS; a wrong handshake type; a lying length. */
	check(sinkhole_tls_sni((const uint8_t *)"GET /", 5, false, sni, sizeof(sni)) < 0,
	      "tls: not tls");
	n = make_hello(b, "x.example", false);
	b[5] = 2;
	check(sinkhole_tls_sni(b, n, false, sni, sizeof(sni)) < 0, "tls: server hello");
	n = make_hello(b, "x.example", false);
	b[n - 9 - 1 - 5] ^= 0x40; /* inside the server_name: corrupt a length */
	r = sinkhole_tls_sni(b, n, false, sni, sizeof(sni));
	check(r != 0, "tls: corrupt decided");

	/* HTTP. */
	r = sinkhole_http_req((const uint8_t *)http_ok[0], strlen(http_ok[0]), false, &h);
	check(r == 1 && !strcmp(h.method, "GET") && !strcmp(h.path, "/v1/weights") &&
		  !strcmp(h.host, "models.example.test:8080"),
	      "http: get");
	r = sinkhole_http_req((const uint8_t *)http_ok[1], strlen(http_ok[1]), false, &h);
	check(r == 1 && !strcmp(h.method, "POST") && !strcmp(h.path, "/x?y=1") &&
		  !strcmp(h.host, "models.example.test:8080"),
	      "http: post, LF, case");
	for (size_t k = 0; k < strlen(http_ok[0]) - 1; k++) {
		r = sinkhole_http_req((const uint8_t *)http_ok[0], k, false, &h);
		check(r == 0, "http: prefix");
	}
	r = sinkhole_http_req((const uint8_t *)"GET /a HTTP/1.1\r\nX: y\r\n", 23, true, &h);
	check(r == 1 && !strcmp(h.path, "/a") && !h.host[0], "http: final without blank line");
	check(sinkhole_http_req((const uint8_t *)"SSH-2.0-x\r\n", 11, false, &h) < 0, "http: ssh");
	check(sinkhole_http_req((const uint8_t *)"GET / HTTP/2.0\r\n", 16, false, &h) < 0,
	      "http: version");
	r = sinkhole_http_req((const uint8_t *)"GET /\x01\xff HTTP/1.1\r\n\r\n", 20, false, &h);
	check(r < 0, "http: control byte in target");
	r = sinkhole_http_req((const uint8_t *)"GET /\\q HTTP/1.1\r\nHost: a\"b\r\n\r\n", 31, false,
			      &h);
	check(r == 1 && !strcmp(h.path, "/\\x5cq") && !strcmp(h.host, "a\"b"), "http: escapes");

	/* Mutations: flip, cut, splice; the parsers must only ever answer. */
	srandom(1);
	for (long i = 0; i < fuzz; i++) {
		const uint8_t *src;
		size_t len;

		if (i % 2) {
			len = make_hello(m, i % 3 ? "a.example" : NULL, i % 5 == 0);
			src = m;
		} else {
			src = (const uint8_t *)http_ok[i % 4 / 2];
			len = strlen((const char *)src);
		}
		memcpy(b, src, len);
		for (int k = random() % 4; k >= 0; k--) {
			size_t at = (size_t)random() % len;

			switch (random() % 3) {
			case 0:
				b[at] ^= (uint8_t)(1u << (random() % 8));
				break;
			case 1:
				b[at] = (uint8_t)random();
				break;
			default:
				len = at + 1;
				break;
			}
		}
		r = sinkhole_tls_sni(b, len, i % 7 == 0, sni, sizeof(sni));
		check(r >= -EINVAL && r <= 1 && strlen(sni) < sizeof(sni), "fuzz: tls");
		r = sinkhole_http_req(b, len, i % 7 == 0, &h);
		check(r >= -EINVAL && r <= 1 && strlen(h.path) < sizeof(h.path), "fuzz: http");
	}
	printf("{\"event\":\"selftest\",\"cases\":%d,\"failed\":%d}\n", ncases, nfail);
	return nfail ? 1 : 0;
}

/* ---- --cycles ---- */

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Start and stop a sinkhole n + 1 times: fds and threads must not grow. */
static int cycles(int n)
{
	int fd0 = 0, th0 = 0, fd1, th1;

	for (int i = 0; i <= n; i++) {
		struct sinkhole *s;
		char err[512];

		if (sinkhole_start(&s, err, sizeof(err))) {
			fprintf(stderr, "sinkcheck: %s\n", err);
			return 2;
		}
		sinkhole_stop(s);
		if (i == 0) {
			fd0 = count_dir("/proc/self/fd");
			th0 = count_dir("/proc/self/task");
		}
	}
	fd1 = count_dir("/proc/self/fd");
	th1 = count_dir("/proc/self/task");
	printf("{\"event\":\"cycles\",\"n\":%d,\"fds_before\":%d,\"fds_after\":%d,"
	       "\"threads_before\":%d,\"threads_after\":%d}\n",
	       n, fd0, fd1, th0, th1);
	return fd0 == fd1 && th0 == th1 ? 0 : 2;
}

/* ---- main ---- */

static int usage(void)
{
	fprintf(stderr, "usage: sinkcheck [--instances N] [--resolv] [--settle-ms MS] [--cycles N] "
			"-- CMD [ARGS...] [-- CMD ...]\n       sinkcheck --selftest [--fuzz N]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sinkhole *sh[MAX_INST] = {0};
	char *envs[MAX_INST][2] = {{0}};
	char **envp[MAX_INST] = {0};
	int ninst = 1, settle = 5000, ai = 1, rc = 0, resolv = 0, ncycles = 0;
	long fuzz = 200000;
	bool self = false;
	size_t nenv = 0;

	for (; ai < argc; ai++) {
		if (!strcmp(argv[ai], "--instances") && ai + 1 < argc)
			ninst = atoi(argv[++ai]);
		else if (!strcmp(argv[ai], "--settle-ms") && ai + 1 < argc)
			settle = atoi(argv[++ai]);
		else if (!strcmp(argv[ai], "--cycles") && ai + 1 < argc)
			ncycles = atoi(argv[++ai]);
		else if (!strcmp(argv[ai], "--resolv"))
			resolv = 1;
		else if (!strcmp(argv[ai], "--selftest"))
			self = true;
		else if (!strcmp(argv[ai], "--fuzz") && ai + 1 < argc)
			fuzz = atol(argv[++ai]);
		else
			break;
	}
	if (self)
		return selftest(fuzz);
	if (ai >= argc || strcmp(argv[ai], "--") || ai + 1 >= argc || ninst < 1 || ninst > MAX_INST)
		return usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (ncycles > 0 && cycles(ncycles))
		return 2;

	while (environ[nenv])
		nenv++;
	for (int i = 0; i < ninst; i++) {
		char err[512], a[INET6_ADDRSTRLEN];
		uint8_t addr[16];
		int fam;

		if (sinkhole_start(&sh[i], err, sizeof(err))) {
			fprintf(stderr, "sinkcheck: %s\n", err);
			rc = 2;
			goto out;
		}
		sinkhole_resolver(sh[i], &fam, addr);
		inet_ntop(fam, addr, a, sizeof(a));
		printf("{\"event\":\"ready\",\"instance\":%d,\"resolver\":\"%s\",\"ipv6\":%s}\n", i,
		       a, sinkhole_has_ipv6(sh[i]) ? "true" : "false");
		/* The children's environment, made before any fork. */
		envp[i] = calloc(nenv + 3, sizeof(char *));
		if (!envp[i] || asprintf(&envs[i][0], "SINKHOLE_RESOLVER=%s", a) < 0 ||
		    asprintf(&envs[i][1], "SINKHOLE_INSTANCE=%d", i) < 0) {
			rc = 2;
			goto out;
		}
		memcpy(envp[i], environ, nenv * sizeof(char *));
		envp[i][nenv] = envs[i][0];
		envp[i][nenv + 1] = envs[i][1];
		if (resolv && i == 0) {
			char text[128];

			snprintf(text, sizeof(text),
				 "nameserver %s\noptions timeout:1 attempts:2\n", a);
			if (!realpath("/etc/resolv.conf", resolv_target))
				snprintf(resolv_target, sizeof(resolv_target), "/etc/resolv.conf");
			if (write_tmp(resolv_file, sizeof(resolv_file), text) ||
			    write_tmp(nss_file, sizeof(nss_file),
				      "passwd: files\ngroup: files\nshadow: files\n"
				      "hosts: files dns\nnetworks: files\nprotocols: files\n"
				      "services: files\nethers: files\nrpc: files\n")) {
				fprintf(stderr, "sinkcheck: temporary file: %s\n", strerror(errno));
				rc = 2;
				goto out;
			}
		}
	}

	/* Each command in turn, in every sinkhole at once. */
	for (int cmd = 0; ai < argc; cmd++) {
		char **cargv = &argv[ai + 1];
		pid_t pids[MAX_INST];
		int end = ai + 1;

		while (end < argc && strcmp(argv[end], "--"))
			end++;
		argv[end < argc ? end : argc] = NULL; /* argv[argc] is NULL already */
		if (!cargv[0]) {
			rc = usage();
			goto out;
		}
		for (int i = 0; i < ninst; i++) {
			pids[i] = fork();
			if (pids[i] < 0) {
				fprintf(stderr, "sinkcheck: fork: %s\n", strerror(errno));
				rc = 2;
				goto out;
			}
			if (pids[i] == 0) {
				if (setns(sinkhole_netns_fd(sh[i]), CLONE_NEWNET) ||
				    (resolv && enter_resolv()))
					_exit(126);
				execvpe(cargv[0], cargv, envp[i]);
				_exit(127);
			}
		}
		for (int i = 0; i < ninst; i++) {
			struct json_writer w;
			int st = 0;

			while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
				;
			jsonw_init_file(&w, stdout, JSON_LINES | JSON_UTF8);
			jsonw_obj_begin(&w);
			jsonw_str_field(&w, "event", "exit");
			jsonw_int_field(&w, "instance", i);
			jsonw_int_field(&w, "cmd", cmd);
			jsonw_str_field(&w, "argv0", cargv[0]);
			jsonw_int_field(&w, "status",
					WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			jsonw_obj_end(&w);
		}
		ai = end;
	}

	for (int i = 0; i < ninst; i++) {
		struct sinkhole_rec *recs;
		size_t n;

		if (sinkhole_settle(sh[i], settle))
			fprintf(stderr, "sinkcheck: sinkhole %d did not settle in %d ms\n", i,
				settle);
		n = sinkhole_records(sh[i], &recs);
		for (size_t k = 0; k < n; k++)
			print_rec(i, &recs[k]);
		printf("{\"event\":\"done\",\"instance\":%d,\"records\":%zu,\"lost\":%llu}\n", i, n,
		       (unsigned long long)sinkhole_lost(sh[i]));
		free(recs);
	}
out:
	for (int i = 0; i < ninst; i++) {
		sinkhole_stop(sh[i]);
		free(envs[i][0]);
		free(envs[i][1]);
		free(envp[i]);
	}
	if (resolv_file[0])
		unlink(resolv_file);
	if (nss_file[0])
		unlink(nss_file);
	return rc;
}
