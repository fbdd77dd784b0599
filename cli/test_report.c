// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hush test: reporting a run as text (standard output), JSON (--json, one
 * object on one line, through the JSON writer) and JUnit XML (--junit).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/engine.h"
#include "agent/json.h"
#include "agent/log.h"
#include "agent/util.h"
#include "cli/test_int.h"

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

void test_cmdline(const struct test *t, char *buf, size_t len)
{
	size_t o = 0;

	if (test_ctr_on(t)) {
		test_ctr_what(t, buf, len);
		o = strlen(buf);
	}
	for (size_t i = 0; t->argv[i] && o + 1 < len; i++) {
		if (o && buf[o - 1] != ' ')
			buf[o++] = ' ';
		for (const char *c = t->argv[i]; *c && o + 1 < len; c++) {
			bool sp = (unsigned char)*c <= ' ' || *c == 0x7f;

			if (!sp || (o && buf[o - 1] != ' '))
				buf[o++] = sp ? ' ' : *c; /* runs of white space are one */
		}
	}
	while (o && buf[o - 1] == ' ')
		o--;
	buf[o] = 0;
}

/* "stopped at the timeout", "stopped after --observe", "" */
static const char *stopped_how(const struct test *t)
{
	return t->res.timed_out	       ? ", stopped at the timeout"
	       : t->res.stop_requested ? ", stopped after --observe"
				       : "";
}

/* A UDP connect() sends nothing by itself, and a datagram sent on the
 * connected socket passes no hook hush has: neither is seen.  (glibc's
 * getaddrinfo makes such connects to sort the addresses it returns.) */
static bool udp_connect(const struct attempt *a)
{
	return a->ev.proto == 17 &&
	       (a->ev.hook == HUSH_HOOK_CONNECT4 || a->ev.hook == HUSH_HOOK_CONNECT6);
}

#define UDP_CONNECT_NOTE                                                                           \
	"UDP connect(): sends nothing itself, datagrams on it not seen; getaddrinfo makes these "  \
	"to sort addresses"

/* The name of the run's container id, or "?" (not one of the run's). */
static const char *ctr_name(const struct test *t, const char *id)
{
	for (int i = 0; i < t->ctr.nsvc; i++)
		if (!strcmp(t->ctr.svc[i].id, id))
			return t->ctr.svc[i].cname;
	return "?";
}

/* --image/--compose: what ran. */
static void print_ctr(const struct test *t)
{
	const struct test_ctr *c = &t->ctr;

	if (!test_ctr_on(t))
		return;
	if (c->image)
		printf("  image %s: id %s%s%s\n", c->image, c->image_id[0] ? c->image_id : "?",
		       c->digests[0] ? ", digest " : "", c->digests);
	else
		printf("  compose %s: project %s\n", c->compose, c->name);
	for (int i = 0; i < c->nsvc; i++)
		printf("  %s%s%scontainer %s, id %.12s, exit %d\n",
		       c->svc[i].name[0] ? "service " : "", c->svc[i].name,
		       c->svc[i].name[0] ? ": " : "", c->svc[i].cname, c->svc[i].id,
		       c->svc[i].exit_code);
	if (!c->nsvc && c->name[0] && c->image)
		printf("  container %s (never created)\n", c->name);
}

void test_print_human(struct test *t, int code, const char *why)
{
	char cmd[512];

	test_cmdline(t, cmd, sizeof(cmd));
	printf("hush test: %s", code == EXIT_SILENT  ? "SILENT"
				: code == EXIT_NOISY ? "NOISY"
				: code == EXIT_SETUP ? "ERROR"
						     : "INCONCLUSIVE");
	if (t->total)
		printf(", %llu attempt%s outside the policy", (unsigned long long)t->total,
		       t->total == 1 ? "" : "s");
	printf(" (%s: %.2f s, exit %d%s)\n", cmd, (double)t->res.duration_ns / 1e9,
	       t->res.exit_code, stopped_how(t));
	if (why)
		printf("  %s\n", why);
	print_ctr(t);
	for (int i = 0; i < t->res.ninherited; i++)
		printf("  inherited %s: not judged (--allow-inherited-socket)\n",
		       t->res.inherited[i].desc);
	/* Grouped by destination (or name), with the processes behind each. */
	for (size_t i = 0; i < t->nat; i++) {
		const struct attempt *a = &t->at[i];
		char dest[DNS_NAME_STRLEN + 96], cl[300], intent[1400];

		if (t->ctr.compose && (!i || strcmp(a->service, t->at[i - 1].service)))
			printf("  service %s:\n",
			       a->service[0] ? a->service : "(none: not a container)");
		if (!i || !same_dest(a, &t->at[i - 1]) ||
		    strcmp(a->service, t->at[i - 1].service)) {
			uint64_t n = 0;

			for (size_t k = i; k < t->nat && same_dest(&t->at[k], a) &&
					   !strcmp(t->at[k].service, a->service);
			     k++)
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
		if (a->container[0])
			printf(" [container %s %.12s]", ctr_name(t, a->container), a->container);
		if (a->note[0])
			printf(" (%s)", a->note);
		if (udp_connect(a) && t->sinkhole)
			printf(" (" UDP_CONNECT_NOTE ")");
		putchar('\n');
	}
	if (t->dropped)
		printf("  (%llu more attempts not listed: more than %d distinct)\n",
		       (unsigned long long)t->dropped, ATTEMPTS_MAX);
}

static void json_sinkhole(struct json_writer *w, const struct attempt *a)
{
	jsonw_key(w, "sinkhole");
	jsonw_obj_begin(w);
	jsonw_str_or_null_field(w, "name", a->sname);
	jsonw_str_or_null_field(w, "proto", a->sproto);
	jsonw_str_or_null_field(w, "sni", a->sni);
	jsonw_str_or_null_field(w, "http_host", a->shost);
	jsonw_str_or_null_field(w, "http_method", a->smethod);
	jsonw_str_or_null_field(w, "http_path", a->spath);
	jsonw_obj_end(w);
}

static void json_attempt(struct json_writer *w, const struct test *t, const struct attempt *a)
{
	char ts[48], fts[48], addr[INET6_ADDRSTRLEN], pb[8];

	fmt_ts(a->last_ns, ts, sizeof(ts));
	fmt_ts(a->first_ns, fts, sizeof(fts));
	jsonw_obj_begin(w);
	jsonw_str_field(w, "ts", ts);
	jsonw_str_field(w, "first_ts", fts);
	jsonw_uint_field(w, "pid", a->ev.tgid);
	jsonw_uint_field(w, "tid", a->ev.pid);
	jsonw_key(w, "comm");
	jsonw_strn(w, a->ev.comm, sizeof(a->ev.comm));
	jsonw_key(w, "exe");
	if (a->has_proc)
		jsonw_strn(w, a->proc.exe, sizeof(a->proc.exe));
	else
		jsonw_null(w);
	jsonw_key(w, "cmdline");
	if (a->has_proc)
		event_put_cmdline(w, &a->proc);
	else
		jsonw_null(w);
	jsonw_str_field(w, "hook", engine_hook_name(a->ev.hook));
	jsonw_str_field(w, "proto", event_proto_name(a->ev.proto, pb, sizeof(pb)));
	if (a->ev.hook == HUSH_HOOK_SOCK) { /* a socket made: no destination yet */
		jsonw_null_field(w, "daddr");
		jsonw_null_field(w, "dport");
	} else {
		jsonw_str_field(w, "daddr", event_addr(&a->ev, addr, sizeof(addr)));
		jsonw_uint_field(w, "dport", a->ev.dport);
	}
	jsonw_str_or_null_field(w, "qname", a->qname);
	jsonw_str_or_null_field(w, "qtype", a->qtype);
	jsonw_str_field(w, "verdict", engine_ev_name(a->ev.verdict));
	jsonw_uint_field(w, "count", a->count);
	if (t->sinkhole && a->ev.hook != HUSH_HOOK_DNS)
		json_sinkhole(w, a);
	if (a->note[0])
		jsonw_str_field(w, "note", a->note);
	else if (udp_connect(a) && t->sinkhole)
		jsonw_str_field(w, "note", UDP_CONNECT_NOTE);
	if (t->sinkhole && a->ev.hook != HUSH_HOOK_DNS)
		jsonw_bool_field(w, "udp_connect", udp_connect(a));
	if (test_ctr_on(t)) {
		jsonw_str_or_null_field(w, "container_id", a->container);
		jsonw_key(w, "container");
		jsonw_str_or_null(w, a->container[0] ? ctr_name(t, a->container) : "");
		if (t->ctr.compose)
			jsonw_str_or_null_field(w, "service", a->service);
	}
	jsonw_obj_end(w);
}

/* "image"/"compose" and "containers": what ran. */
static void json_ctr(struct json_writer *w, const struct test *t)
{
	const struct test_ctr *c = &t->ctr;
	char d[sizeof(c->digests)];

	if (!test_ctr_on(t))
		return;
	jsonw_str_field(w, "engine", c->kind == TEST_ENGINE_PODMAN ? "podman" : "docker");
	jsonw_str_field(w, "engine_host", c->host);
	if (c->image) {
		jsonw_key(w, "image");
		jsonw_obj_begin(w);
		jsonw_str_field(w, "ref", c->image);
		jsonw_str_or_null_field(w, "id", c->image_id);
		jsonw_key(w, "digests");
		jsonw_arr_begin(w);
		snprintf(d, sizeof(d), "%s", c->digests);
		for (char *sv, *x = strtok_r(d, ",", &sv); x; x = strtok_r(NULL, ",", &sv))
			jsonw_str(w, x);
		jsonw_arr_end(w);
		jsonw_obj_end(w);
	} else {
		jsonw_key(w, "compose");
		jsonw_obj_begin(w);
		jsonw_str_field(w, "file", c->compose);
		jsonw_str_or_null_field(w, "project", c->name);
		jsonw_obj_end(w);
	}
	jsonw_key(w, "containers");
	jsonw_arr_begin(w);
	for (int i = 0; i < c->nsvc; i++) {
		jsonw_obj_begin(w);
		jsonw_str_field(w, "id", c->svc[i].id);
		jsonw_str_field(w, "name", c->svc[i].cname);
		if (c->compose)
			jsonw_str_field(w, "service", c->svc[i].name);
		jsonw_int_field(w, "exit_code", c->svc[i].exit_code);
		jsonw_obj_end(w);
	}
	jsonw_arr_end(w);
}

/* What the command kept on purpose, and how it was contained. */
static void json_contain(struct json_writer *w, const struct test *t)
{
	const struct contain *c = &t->contain;
	char n[64];

	jsonw_key(w, "user");
	jsonw_strn(w, c->has_user ? c->user : NULL, sizeof(c->user));
	jsonw_key(w, "kept_caps");
	jsonw_arr_begin(w);
	for (int i = 0; i < c->nkeep; i++) {
		contain_cap_name(c, i, n, sizeof(n));
		jsonw_str(w, n);
	}
	jsonw_arr_end(w);
	jsonw_key(w, "inherited_sockets");
	jsonw_arr_begin(w);
	for (int i = 0; i < t->res.ninherited; i++)
		jsonw_str(w, t->res.inherited[i].desc);
	jsonw_arr_end(w);
	jsonw_bool_field(w, "cgroup_nsdelegate", t->res.nsdelegate);
}

void test_write_json(FILE *f, struct test *t, int code, const char *why)
{
	struct json_writer w;
	char cmd[1024];
	const char *id = strrchr(t->res.cgroup, '/');

	jsonw_init_file(&w, f, JSON_LINES);
	jsonw_obj_begin(&w);
	jsonw_str_field(&w, "result", result_name(code));
	jsonw_key(&w, "command");
	jsonw_arr_begin(&w);
	for (size_t i = 0; t->argv[i]; i++)
		jsonw_strn(&w, t->argv[i], 4096);
	jsonw_arr_end(&w);
	test_cmdline(t, cmd, sizeof(cmd));
	jsonw_str_field(&w, "name", t->name ? t->name : cmd);
	jsonw_key(&w, "test_id");
	jsonw_str_or_null(&w, id ? id + 1 : "");
	jsonw_key(&w, "cgroup");
	jsonw_str_or_null(&w, t->res.cgroup);
	jsonw_uint_field(&w, "duration_ms", t->res.duration_ns / 1000000);
	jsonw_uint_field(&w, "dropped_events", t->res.lost + t->dropped);
	jsonw_int_field(&w, "exit_code", t->res.exit_code);
	if (t->res.exit_signal)
		jsonw_int_field(&w, "exit_signal", t->res.exit_signal);
	else
		jsonw_null_field(&w, "exit_signal");
	jsonw_bool_field(&w, "exit_status_ignored", t->ignore_exit);
	jsonw_bool_field(&w, "timed_out", t->res.timed_out);
	jsonw_bool_field(&w, "stopped_by_hush", t->res.stopped);
	if (t->observe_ns)
		jsonw_int_field(&w, "observe_ms", t->observe_ns / 1000000);
	jsonw_str_field(&w, "mode", t->mode ? t->mode : "enforce");
	jsonw_key(&w, "policy");
	jsonw_strn(&w, t->policy_path, 4096); /* NULL: null */
	if (t->ready && t->ready_ns < 0)
		jsonw_null_field(&w, "ready_ms");
	else if (t->ready)
		jsonw_int_field(&w, "ready_ms", t->ready_ns / 1000000);
	jsonw_key(&w, "error");
	jsonw_strn(&w, why, 1024);
	json_contain(&w, t);
	json_ctr(&w, t);
	jsonw_bool_field(&w, "sinkhole", t->sinkhole);
	if (t->sinkhole)
		jsonw_uint_field(&w, "sinkhole_lost", t->sink_lost);
	jsonw_uint_field(&w, "attempts_total", t->total);
	jsonw_key(&w, "attempts");
	jsonw_arr_begin(&w);
	for (size_t i = 0; i < t->nat; i++)
		json_attempt(&w, t, &t->at[i]);
	jsonw_arr_end(&w);
	jsonw_obj_end(&w);
	jsonw_finish(&w); /* a write error shows at fclose (test_write_file) */
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

void test_write_junit(FILE *f, struct test *t, int code, const char *why)
{
	char cmd[1024] = "", ts[48], host[256] = "localhost";
	double secs = (double)t->res.duration_ns / 1e9;
	int failures = code == EXIT_NOISY, errors = code == EXIT_SETUP || code == EXIT_INCONCLUSIVE;

	fmt_ts(real_ns() / NSEC_PER_SEC * NSEC_PER_SEC, ts, sizeof(ts));
	ts[19] = 0; /* xs:dateTime without the fraction and zone */
	gethostname(host, sizeof(host) - 1);
	if (t->name)
		snprintf(cmd, sizeof(cmd), "%s", t->name);
	else
		test_cmdline(t, cmd, sizeof(cmd));
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
			if (snprintf(line, sizeof(line), "%s%s %s x%llu by pid %u %s%s%s%s\n", dest,
				     intent, engine_ev_name(a->ev.verdict),
				     (unsigned long long)a->count, a->ev.tgid,
				     a->has_proc ? a->proc.exe : "", cl[0] ? ": " : "", cl,
				     udp_connect(a) && t->sinkhole ? " (" UDP_CONNECT_NOTE ")"
								   : "") >= (int)sizeof(line))
				memcpy(line + sizeof(line) - 5, "...\n", 5); /* says it was cut */
			xml_str(f, line);
		}
		if (why) {
			xml_str(f, why);
			fputc('\n', f);
		}
		fprintf(f, "</%s>\n", code == EXIT_NOISY ? "failure" : "error");
	}
	fprintf(f, "      <system-out>result %s, command exit %d, %.3f s%s", result_name(code),
		t->res.exit_code, secs, stopped_how(t));
	if (t->ctr.image) {
		fputs("; image ", f);
		xml_str(f, t->ctr.image);
		fprintf(f, " %s", t->ctr.image_id);
	}
	for (int i = 0; i < t->ctr.nsvc; i++) {
		fprintf(f, "; %s%scontainer ", t->ctr.svc[i].name,
			t->ctr.svc[i].name[0] ? " " : "");
		xml_str(f, t->ctr.svc[i].cname);
		fprintf(f, " %.12s exit %d", t->ctr.svc[i].id, t->ctr.svc[i].exit_code);
	}
	fputs("</system-out>\n", f);
	fputs("    </testcase>\n  </testsuite>\n</testsuites>\n", f);
}

int test_write_file(const char *path, test_report_fn fn, struct test *t, int code, const char *why)
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
