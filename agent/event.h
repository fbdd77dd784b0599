/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Rendering of struct hush_event: one JSON object per line, or one human line. */
#ifndef HUSH_AGENT_EVENT_H
#define HUSH_AGENT_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/types.h>

#include "bpf/events.h"
#include "bpf/exec.h"
#include "rules/policy.h"

/* Nanoseconds to add to a CLOCK_BOOTTIME stamp to get CLOCK_REALTIME. */
int64_t event_boot_to_real(void);

/* Names: "tcp", "udp", "icmp", "icmpv6", else the number. */
const char *event_proto_name(uint8_t proto, char *buf, size_t len);
/* "198.18.2.2" or "fd00:2::2". */
const char *event_addr(const struct hush_event *e, char *buf, size_t len);

struct engine;
struct json_writer;

/* The process behind an event: the kernel's exec record if it predates the
 * event, else /proc while the process lives.  Returns 0 or -ENOENT. */
int event_proc(const struct engine *eng, const struct hush_event *e, struct hush_proc *out);

/* Write one JSON object and a newline.  pc (may be NULL) names rules and
 * scopes; proc (may be NULL) adds "exe" and "cmdline". */
int event_print_json(FILE *f, const struct hush_event *e, const struct policy_compiled *pc,
		     int64_t boot_to_real, const struct hush_proc *proc);
/* The same for a query hushd's DNS proxy judged (e as for store_dns(); the
 * hook is taken as HUSH_HOOK_DNS: "hook":"dns"; daddr/dport the resolver), with
 * "qname" and "qtype" (null when NULL) after "dport", and "note" when set.
 * (event_print_json() of a DNS event prints both as null.) */
int event_print_json_dns(FILE *f, const struct hush_event *e, const char *qname, const char *qtype,
			 const char *note, const struct policy_compiled *pc, int64_t boot_to_real,
			 const struct hush_proc *proc);
/* "denied tcp 198.18.2.2:443 by pid 123 (curl) [connect4: default deny]" */
int event_print_text(FILE *f, const struct hush_event *e, const struct policy_compiled *pc);
/* "refused dns query example.com AAAA by pid 123 (curl) [dns: default deny]";
 * "would refuse" (audit), "allowed"; a note follows in parentheses and
 * stands for a NULL qname ("refused dns query (malformed query: FORMERR) by
 * ..."), else that reads "(name unknown)", as event_print_text() of a DNS
 * event does. */
int event_print_text_dns(FILE *f, const struct hush_event *e, const char *qname, const char *qtype,
			 const char *note, const struct policy_compiled *pc);

/* Rule text for a rule id ("default deny", "allow tcp 10.0.0.0/8 port 443"), or NULL. */
const char *event_rule_text(const struct policy_compiled *pc, uint32_t id);
/* Cgroup path (relative to the cgroup2 mount) for an id, cached; NULL if unknown. */
const char *event_cgroup_name(uint64_t id);
/* proc's command line as a JSON array of strings into buf; returns its length. */
size_t event_cmdline_json(const struct hush_proc *proc, char *buf, size_t len);
/* proc's command line as a JSON array of strings, the next value of w. */
void event_put_cmdline(struct json_writer *w, const struct hush_proc *proc);

#endif /* HUSH_AGENT_EVENT_H */
