// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/attrib.h"
#include "agent/cgroup.h"
#include "agent/engine.h"
#include "agent/event.h"
#include "agent/json.h"
#include "agent/lineage.h"
#include "agent/util.h"

int64_t event_boot_to_real(void)
{
	int64_t b = boot_ns();

	return real_ns() - b;
}

const char *event_proto_name(uint8_t proto, char *buf, size_t len)
{
	switch (proto) {
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 1:
		return "icmp";
	case 58:
		return "icmpv6";
	case 255:
		return "raw";
	default:
		snprintf(buf, len, "%u", proto);
		return buf;
	}
}

const char *event_addr(const struct hush_event *e, char *buf, size_t len)
{
	if (!inet_ntop(e->family == 2 ? AF_INET : AF_INET6, e->daddr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

const char *event_rule_text(const struct policy_compiled *pc, uint32_t id)
{
	const struct compiled_rule_info *ri;

	if (id == HUSH_RULE_DEFAULT)
		return "default deny";
	if (id == HUSH_RULE_LOOPBACK)
		return "implicit allow loopback";
	if (id == HUSH_RULE_NOPROXY)
		return "DNS proxy unavailable: fail closed";
	if (id == HUSH_RULE_RESOLVER)
		return "hushd's DNS proxy to the policy resolver";
	if (id == HUSH_RULE_SOCK)
		return "no rule allows this protocol beyond loopback";
	if (id == HUSH_RULE_LOOPDEV)
		return "loopback address off the loopback device";
	if (id == HUSH_RULE_CGMOVE)
		return "left the enforced cgroup";
	if (!pc)
		return NULL;
	ri = policy_compiled_rule(pc, id);
	return ri ? ri->text : NULL;
}

/*
 * p: the table's entry of a process forked (no exec since) from a parent
 * the table never saw exec, so it has no image.  The parent has not exec'd
 * since hushd started (the table would know), so its image now is the one
 * it forked: from /proc while it lives, if that pid is still the parent
 * (born no later than p).
 */
static int proc_forked(const struct engine *eng, struct hush_proc *p)
{
	struct hush_proc par;
	char path[64];
	uint64_t st;
	uint32_t pp;
	ssize_t n;
	int fd;

	if (!p->ppid || lineage_proc_stat(p->ppid, &pp, &st) ||
	    st > p->start_ns + lineage_tick_ns())
		return -ENOENT;
	if (engine_proc(eng, p->ppid, UINT64_MAX, &par) == 0 && par.exec_ns > p->start_ns)
		return -ENOENT; /* it exec'd since the fork */
	snprintf(path, sizeof(path), "/proc/%u/exe", p->ppid);
	n = readlink(path, p->exe, sizeof(p->exe) - 1);
	if (n <= 0)
		return -ENOENT;
	p->exe[n] = 0;
	snprintf(path, sizeof(path), "/proc/%u/cmdline", p->ppid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	p->cmdline_len = 0;
	if (fd >= 0) {
		n = read(fd, p->cmdline, sizeof(p->cmdline));
		p->cmdline_len = n > 0 ? (uint32_t)n : 0;
		close(fd);
	}
	return 0;
}

int event_proc(const struct engine *eng, const struct hush_event *e, struct hush_proc *out)
{
	char p[64];
	ssize_t n;
	int fd;

	memset(out, 0, sizeof(*out));
	if (!e->tgid || (e->flags & HUSH_EVF_NOPROC))
		return -ENOENT;
	if (eng) {
		int r = engine_proc(eng, e->tgid, e->ts_ns, out);

		if (r == 0 && (out->exe[0] || proc_forked(eng, out) == 0))
			return 0;
		/* It exec'd since the event: /proc shows the new image, and
		 * naming that would be wrong.  Unknown is the honest answer. */
		if (r == -ESTALE) {
			memset(out, 0, sizeof(*out));
			return -ENOENT;
		}
	}
	/* Not seen exec'ing (it started before hush): ask /proc while it lives,
	 * if it still is the image that made the event (same comm). */
	memset(out, 0, sizeof(*out));
	{
		char comm[32] = "";

		snprintf(p, sizeof(p), "/proc/%u/comm", e->tgid);
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -ENOENT;
		n = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		comm[n > 0 ? n : 0] = 0;
		comm[strcspn(comm, "\n")] = 0;
		if (strncmp(comm, e->comm, sizeof(e->comm)) != 0)
			return -ENOENT;
	}
	snprintf(p, sizeof(p), "/proc/%u/exe", e->tgid);
	n = readlink(p, out->exe, sizeof(out->exe) - 1);
	if (n <= 0)
		return -ENOENT;
	out->exe[n] = 0;
	snprintf(p, sizeof(p), "/proc/%u/cmdline", e->tgid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, out->cmdline, sizeof(out->cmdline));
		out->cmdline_len = n > 0 ? (uint32_t)n : 0;
		close(fd);
	}
	out->tgid = e->tgid;
	return 0;
}

/* Cgroup id -> path, cached (event storms come from few cgroups, and a
 * cgroup removed since its event stays nameable while cached). */
#define CGCACHE 64
static struct {
	uint64_t id;
	char path[256];
} cgcache[CGCACHE];

const char *event_cgroup_name(uint64_t id)
{
	unsigned slot = (unsigned)((id * 0x9e3779b97f4a7c15ull) >> 58) % CGCACHE;

	if (!id)
		return NULL;
	if (cgcache[slot].id == id)
		return cgcache[slot].path;
	if (cgroup_path_by_handle(id, cgcache[slot].path, sizeof(cgcache[slot].path)))
		return NULL;
	cgcache[slot].id = id;
	return cgcache[slot].path;
}

/* The command line (NUL-separated arguments) as an array of strings. */
void event_put_cmdline(struct json_writer *w, const struct hush_proc *proc)
{
	uint32_t len = proc->cmdline_len;
	size_t i = 0;

	if (len > sizeof(proc->cmdline))
		len = sizeof(proc->cmdline);
	jsonw_arr_begin(w);
	while (i < len) {
		size_t n = strnlen(proc->cmdline + i, len - i);

		jsonw_strn(w, proc->cmdline + i, n);
		i += n + 1;
	}
	jsonw_arr_end(w);
}

size_t event_cmdline_json(const struct hush_proc *proc, char *buf, size_t len)
{
	struct json_writer w;
	size_t n = 0;

	jsonw_init_buf(&w, 0);
	event_put_cmdline(&w, proc);
	if (jsonw_finish(&w) == 0 && w.len < len) {
		memcpy(buf, w.buf, w.len + 1);
		n = w.len;
	} else {
		snprintf(buf, len, "[]");
		n = 2;
	}
	jsonw_free(&w);
	return n;
}

/* A DNS query's strings (any may be NULL). */
struct ev_dns {
	const char *qname, *qtype, *note;
};

/* "cgroup" and what its path tells: container, runtime, unit, pod. */
static void put_cgroup(struct json_writer *w, uint64_t cgroup_id)
{
	const char *cg = event_cgroup_name(cgroup_id);
	struct attrib a;

	attrib_parse(cg, &a);
	jsonw_key(w, "cgroup");
	jsonw_str_or_null(w, cg);
	jsonw_key(w, "container_id");
	jsonw_str_or_null(w, a.container_id);
	jsonw_key(w, "container_runtime");
	jsonw_str_or_null(w, a.runtime);
	jsonw_key(w, "unit");
	jsonw_str_or_null(w, a.unit);
	jsonw_key(w, "pod_uid");
	jsonw_str_or_null(w, a.pod_uid);
}

static void put_flags(struct json_writer *w, uint32_t flags)
{
	static const char *const names[] = {"mapped",	"anyaddr", "routed",
					    "fragment", "noproc",  "no_dns_proxy"};

	jsonw_key(w, "flags");
	jsonw_arr_begin(w);
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & (1u << i))
			jsonw_str(w, names[i]);
	jsonw_arr_end(w);
}

/* One JSON line.  A DNS event (hook HUSH_HOOK_DNS) gets "qname" and "qtype"
 * from dns (null when dns or they are NULL), and "note" when set. */
static int print_json(FILE *f, const struct hush_event *e, const struct ev_dns *dns,
		      const struct policy_compiled *pc, int64_t boot_to_real,
		      const struct hush_proc *proc)
{
	int64_t ns = (int64_t)e->ts_ns + boot_to_real;
	time_t sec = (time_t)(ns / 1000000000LL);
	char ts[64], tsf[80], addr[INET6_ADDRSTRLEN], pb[8], sc[16];
	const char *rt = event_rule_text(pc, e->rule);
	struct json_writer w;
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(tsf, sizeof(tsf), "%s.%06lldZ", ts, (long long)(ns % 1000000000LL) / 1000);
	jsonw_init_file(&w, f, JSON_LINES);
	jsonw_obj_begin(&w);
	jsonw_str_field(&w, "ts", tsf);
	jsonw_str_field(&w, "hook", engine_hook_name(e->hook));
	jsonw_str_field(&w, "verdict", engine_ev_name(e->verdict));
	jsonw_uint_field(&w, "rule", e->rule);
	jsonw_key(&w, "rule_text");
	jsonw_strn(&w, rt, 4096);
	jsonw_str_field(&w, "family", e->family == 2 ? "ipv4" : "ipv6");
	jsonw_str_field(&w, "proto", event_proto_name(e->proto, pb, sizeof(pb)));
	jsonw_str_field(&w, "daddr", event_addr(e, addr, sizeof(addr)));
	jsonw_uint_field(&w, "dport", e->dport);
	if (e->hook == HUSH_HOOK_DNS) {
		jsonw_key(&w, "qname");
		jsonw_str_or_null(&w, dns ? dns->qname : NULL);
		jsonw_key(&w, "qtype");
		jsonw_str_or_null(&w, dns ? dns->qtype : NULL);
		if (dns && dns->note && dns->note[0]) {
			jsonw_key(&w, "note");
			jsonw_strn(&w, dns->note, 4096);
		}
	}
	jsonw_uint_field(&w, "pid", e->pid);
	jsonw_uint_field(&w, "tgid", e->tgid);
	jsonw_uint_field(&w, "uid", e->uid);
	jsonw_uint_field(&w, "gid", e->gid);
	jsonw_key(&w, "comm");
	jsonw_strn(&w, e->comm, sizeof(e->comm));
	jsonw_key(&w, "exe");
	jsonw_strn(&w, proc && proc->exe[0] ? proc->exe : NULL, sizeof(proc->exe));
	jsonw_key(&w, "cmdline");
	if (proc && proc->cmdline_len)
		event_put_cmdline(&w, proc);
	else
		jsonw_null(&w);
	put_cgroup(&w, e->cgroup_id);
	jsonw_uint_field(&w, "cgroup_id", e->cgroup_id);
	jsonw_uint_field(&w, "cookie", e->cookie);
	jsonw_key(&w, "scope");
	if (pc && e->scope < pc->nscopes) {
		jsonw_strn(&w, pc->scopes[e->scope].path, 4096);
	} else if (e->scope == (uint32_t)-1) {
		jsonw_null(&w);
	} else {
		snprintf(sc, sizeof(sc), "#%u", e->scope);
		jsonw_str(&w, sc);
	}
	put_flags(&w, e->flags);
	jsonw_obj_end(&w);
	return jsonw_finish(&w) ? -1 : 0;
}

int event_print_json(FILE *f, const struct hush_event *e, const struct policy_compiled *pc,
		     int64_t boot_to_real, const struct hush_proc *proc)
{
	return print_json(f, e, NULL, pc, boot_to_real, proc);
}

int event_print_json_dns(FILE *f, const struct hush_event *e, const char *qname, const char *qtype,
			 const char *note, const struct policy_compiled *pc, int64_t boot_to_real,
			 const struct hush_proc *proc)
{
	const struct ev_dns d = {.qname = qname, .qtype = qtype, .note = note};
	struct hush_event q = *e;

	q.hook = HUSH_HOOK_DNS;
	return print_json(f, &q, &d, pc, boot_to_real, proc);
}

/* s (at most max bytes) for a terminal: control and non-ASCII bytes as '?'. */
static void put_clean(FILE *f, const char *s, size_t max)
{
	for (size_t i = 0; i < max && s[i]; i++)
		fputc((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i], f);
}

/* What was tried: "tcp 198.18.2.2:443", or a DNS query's "dns query
 * example.com AAAA" (dns may be NULL: the name is not known here). */
static void print_what(FILE *f, const struct hush_event *e, const struct ev_dns *dns)
{
	char addr[INET6_ADDRSTRLEN], pb[8];
	const char *cg;

	if (e->hook == HUSH_HOOK_CGMOVE) {
		cg = event_cgroup_name(e->cgroup_id);
		if (cg)
			fprintf(f, "move to cgroup %s", cg);
		else
			fprintf(f, "move to cgroup id %llu", (unsigned long long)e->cgroup_id);
		return;
	}
	if (e->hook != HUSH_HOOK_DNS) {
		fprintf(f, "%s %s%s%s:%u", event_proto_name(e->proto, pb, sizeof(pb)),
			e->family == 10 ? "[" : "", event_addr(e, addr, sizeof(addr)),
			e->family == 10 ? "]" : "", e->dport);
		return;
	}
	fputs("dns query ", f);
	if (dns && dns->qname) {
		/* the root is "" */
		if (dns->qname[0])
			put_clean(f, dns->qname, 1024);
		else
			fputc('.', f);
		if (dns->qtype && dns->qtype[0]) {
			fputc(' ', f);
			put_clean(f, dns->qtype, 16);
		}
	} else if (!dns || !dns->note || !dns->note[0]) {
		fputs("(name unknown)", f);
		return;
	}
	if (dns->note && dns->note[0]) {
		fputs(dns->qname ? " (" : "(", f);
		put_clean(f, dns->note, 256);
		fputc(')', f);
	}
}

static int print_text(FILE *f, const struct hush_event *e, const struct ev_dns *dns,
		      const struct policy_compiled *pc)
{
	char comm[17];
	const char *rt = event_rule_text(pc, e->rule);
	bool q = e->hook == HUSH_HOOK_DNS;
	const char *what = e->verdict == HUSH_EV_DENY	 ? (q ? "refused" : "denied")
			   : e->verdict == HUSH_EV_AUDIT ? (q ? "would refuse" : "would deny")
							 : "allowed";

	memcpy(comm, e->comm, 16);
	comm[16] = 0;
	for (char *c = comm; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	if (e->hook == HUSH_HOOK_CGMOVE) /* after the fact: nothing to deny */
		what = "reported";
	fprintf(f, "%s ", what);
	print_what(f, e, dns);
	if (e->flags & HUSH_EVF_NOPROC)
		fprintf(f, " (process unknown)");
	else
		fprintf(f, " by pid %u (%s)", e->tgid, comm);
	fprintf(f, " [%s: %s%s]\n", engine_hook_name(e->hook), rt ? rt : "rule ", rt ? "" : "?");
	return ferror(f) ? -1 : 0;
}

int event_print_text(FILE *f, const struct hush_event *e, const struct policy_compiled *pc)
{
	return print_text(f, e, NULL, pc);
}

int event_print_text_dns(FILE *f, const struct hush_event *e, const char *qname, const char *qtype,
			 const char *note, const struct policy_compiled *pc)
{
	const struct ev_dns d = {.qname = qname, .qtype = qtype, .note = note};
	struct hush_event q = *e;

	q.hook = HUSH_HOOK_DNS;
	return print_text(f, &q, &d, pc);
}
