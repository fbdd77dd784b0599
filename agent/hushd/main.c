// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hushd: keeps the policy enforced on a cgroup subtree and reports every
 * attempt it denies.
 *
 * Start-up (setup.c): load the policy (a bad policy never gets near the
 * kernel) -> engine_open (load, apply, attach or adopt pinned links, pin) and
 * the enforcer that owns the policy in force from then on -> control socket
 * -> drop capabilities -> "ready".  Then one loop (loop.c): ring buffer
 * events to stdout as JSON lines, SIGHUP / `hush policy apply` reloads,
 * SIGTERM exits.  Exiting, even by SIGKILL, leaves the pinned links
 * attached: enforcement fails closed; `hush disable` is the way out.
 *
 * Exit codes: 0 clean exit (enforcement stays pinned), 1 runtime or policy
 * error, 2 usage, 3 stopped by `hush disable` (enforcement removed; service
 * managers should not restart: RestartPreventExitStatus=3).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/db.h"
#include "agent/dns.h"
#include "agent/dnsns.h"
#include "agent/engine.h"
#include "agent/log.h"
#include "agent/hushd/hushd.h"
#include "version.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: hushd [--policy FILE] [--cgroup PATH] [--pin-dir DIR] [--run-dir DIR]\n"
	    "             [--foreground] [--log-allowed] [--ringbuf-size BYTES]\n"
	    "             [--metrics-file FILE] [--db FILE | --no-db] [--retain DUR]\n"
	    "             [--max-db-size SIZE] [--quiet] [--dns-deny refused|nxdomain]\n"
	    "             [--dns-grace SECONDS] [--no-dns-proxy] [-v] [--version]\n"
	    "             [--docker-socket PATH] [--podman-socket PATH] [--containerd-socket "
	    "PATH]\n"
	    "             [--containerd-state DIR] [--no-containers] [--dnsns-socket PATH]\n"
	    "       hushd --dnsns-helper | --dnsns-listen PATH\n"
	    "\n"
	    "  --policy FILE     policy to enforce (default " DEFAULT_POLICY ")\n"
	    "  --cgroup PATH     cgroup2 subtree to enforce on (default: the cgroup2 root)\n"
	    "  --pin-dir DIR     where programs, maps and links are pinned "
	    "(default " ENGINE_DEFAULT_PIN_DIR ")\n"
	    "  --run-dir DIR     control socket and pid file (default " ENGINE_DEFAULT_RUN_DIR ")\n"
	    "  --foreground      do not detach; events also go to stdout as JSON lines\n"
	    "  --db FILE         audit log database (default " DB_DEFAULT_PATH ")\n"
	    "  --no-db           no database: events only as JSON lines on stdout\n"
	    "  --retain DUR      delete log rows older than DUR (e.g. 90d; default: keep)\n"
	    "  --max-db-size N   delete the oldest rows beyond N bytes (e.g. 10G)\n"
	    "  --quiet           no JSON lines on stdout (the database still gets every event)\n"
	    "  --log-allowed     also report allowed attempts\n"
	    "  --ringbuf-size N  event ring buffer bytes, a power of two (default 4 MiB)\n"
	    "  --metrics-file F  Prometheus metrics (node_exporter textfile format), every 1 s\n"
	    "  --dns-deny RCODE  answer denied DNS names with refused (default) or nxdomain\n"
	    "  --dns-grace S     learned \"allow host\" addresses live TTL + S seconds (default "
	    "5)\n"
	    "  --no-dns-proxy    no DNS proxy: DNS from enforced cgroups is denied\n"
	    "  --docker-socket P Docker Engine API socket (default $DOCKER_HOST if unix://,\n"
	    "                    else /run/docker.sock; \"\" for none)\n"
	    "  --podman-socket P podman's API socket (default /run/podman/podman.sock)\n"
	    "  --containerd-socket P  containerd's socket: its CRI, else ctr (default\n"
	    "                    /run/containerd/containerd.sock)\n"
	    "  --containerd-state DIR containerd's state directory (default /run/containerd)\n"
	    "  --no-containers   ask no container engine (container scopes bind nothing)\n"
	    "  --dnsns-socket P  the DNS namespace helper listens on P (systemd's\n"
	    "                    hush-dnsns.socket); default: fork it (needs CAP_SYS_ADMIN)\n"
	    "  --dnsns-helper    be that helper on the connection on stdin (hush-dnsns@.service)\n"
	    "  --dnsns-listen P  listen on P, a helper for each connection (without systemd)\n"
	    "  -v, --verbose     debug messages, including libbpf's\n"
	    "  --version         print the version and exit\n");
}

static const struct option hushd_opts[] = {
    {"policy", required_argument, NULL, 'p'},
    {"cgroup", required_argument, NULL, 'c'},
    {"pin-dir", required_argument, NULL, 'P'},
    {"run-dir", required_argument, NULL, 'R'},
    {"foreground", no_argument, NULL, 'f'},
    {"log-allowed", no_argument, NULL, 'a'},
    {"ringbuf-size", required_argument, NULL, 'r'},
    {"verbose", no_argument, NULL, 'v'},
    {"metrics-file", required_argument, NULL, 'm'},
    {"db", required_argument, NULL, 'D'},
    {"no-db", no_argument, NULL, 'N'},
    {"retain", required_argument, NULL, 'T'},
    {"max-db-size", required_argument, NULL, 'S'},
    {"quiet", no_argument, NULL, 'q'},
    {"dns-deny", required_argument, NULL, 'Y'},
    {"dns-grace", required_argument, NULL, 'G'},
    {"no-dns-proxy", no_argument, NULL, 'X'},
    {"docker-socket", required_argument, NULL, 1001},
    {"podman-socket", required_argument, NULL, 1002},
    {"containerd-socket", required_argument, NULL, 1003},
    {"containerd-state", required_argument, NULL, 1004},
    {"no-containers", no_argument, NULL, 1005},
    {"dnsns-socket", required_argument, NULL, 1006},
    {"dnsns-helper", no_argument, NULL, 1007},
    {"dnsns-listen", required_argument, NULL, 1008},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {0},
};

/* An option with a value to check: 0, or 2 (usage) after saying why. */
static int parse_value(struct hushd *d, int c, const char *arg)
{
	char *end;
	unsigned long v;

	switch (c) {
	case 'r':
		return engine_parse_ringbuf("--ringbuf-size", arg, &d->ringbuf) ? 2 : 0;
	case 'T':
		if (db_parse_duration(arg, &d->retain_ns) || d->retain_ns <= 0) {
			log_warnx("--retain %s: need a duration such as 90d, 12h or 30m", arg);
			return 2;
		}
		return 0;
	case 'S':
		if (db_parse_size(arg, &d->max_db_bytes) || d->max_db_bytes < (1 << 20)) {
			log_warnx("--max-db-size %s: need a size of at least 1M, such as 10G or "
				  "500M",
				  arg);
			return 2;
		}
		return 0;
	case 'Y':
		if (strcmp(arg, "refused") == 0) {
			d->dns_rcode = DNS_RCODE_REFUSED;
		} else if (strcmp(arg, "nxdomain") == 0) {
			d->dns_rcode = DNS_RCODE_NXDOMAIN;
		} else {
			log_warnx("--dns-deny %s: need refused or nxdomain", arg);
			return 2;
		}
		return 0;
	default: /* 'G' */
		v = strtoul(arg, &end, 10);
		if (*end || !*arg || v < 1 || v > 3600) {
			log_warnx("--dns-grace %s: need whole seconds, 1 to 3600", arg);
			return 2;
		}
		d->dns_grace = (uint32_t)v;
		return 0;
	}
}

/* Options into d: -1 to go on, else the exit code (0 for --help and
 * --version, 2). */
static int parse_args(struct hushd *d, int argc, char **argv)
{
	int c;

	while ((c = getopt_long(argc, argv, "fvh", hushd_opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			d->policy_path = optarg;
			break;
		case 'c':
			snprintf(d->cgroup, sizeof(d->cgroup), "%s", optarg);
			d->cgroup_given = true;
			break;
		case 'P':
			d->pin_dir = optarg;
			break;
		case 'R':
			d->run_dir = optarg;
			break;
		case 'f':
			d->foreground = true;
			break;
		case 'a':
			d->log_allowed = true;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'm':
			d->metrics_file = optarg;
			break;
		case 'D':
			d->db_path = optarg;
			break;
		case 'N':
			d->db_path = NULL;
			break;
		case 'q':
			d->quiet = true;
			break;
		case 'X':
			d->no_dns = true;
			break;
		case 'r':
		case 'T':
		case 'S':
		case 'Y':
		case 'G':
			if (parse_value(d, c, optarg))
				return 2;
			break;
		case 1001:
		case 1002:
		case 1003:
		case 1004:
		case 1005:
			if (hushd_ctr_option(d, c, optarg))
				return 2;
			break;
		case 1006:
			d->dnsns_socket = optarg;
			break;
		case 1007: /* returns only if it cannot start */
			return dnsns_serve(STDIN_FILENO);
		case 1008: /* the same */
			return dnsns_listen(optarg);
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("hushd %s\n", HUSH_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		log_warnx("unexpected argument \"%s\"", argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct hushd d = {
	    .policy_path = DEFAULT_POLICY,
	    .pin_dir = ENGINE_DEFAULT_PIN_DIR,
	    .run_dir = ENGINE_DEFAULT_RUN_DIR,
	    .db_path = DB_DEFAULT_PATH,
	    .dns_rcode = DNS_RCODE_REFUSED,
	    .dq_mu = PTHREAD_MUTEX_INITIALIZER,
	    .pidfd = -1,
	    .lfd = -1,
	    .ctr_ifd = -1,
	};
	int ret, ready;

	log_init("hushd", LOG_LVL_INFO);
	containers_default_opts(&d.ctr_opts);
	ret = parse_args(&d, argc, argv);
	if (ret >= 0)
		return ret;
	log_libbpf_init();

	if (hushd_open(&d))
		return 1;
	ret = hushd_daemonize(&d, &ready);
	if (ret >= 0)
		return ret;
	hushd_start(&d, ready);
	ret = hushd_run(&d);
	hushd_close(&d);
	return ret ? 1 : d.disabled ? 3 : 0;
}
