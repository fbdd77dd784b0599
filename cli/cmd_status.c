// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hush status [--json], hush disable.
 *
 * Status reads the pinned state directly (it must work while hushd is down:
 * that is exactly when an operator needs to know enforcement still holds),
 * then asks hushd, if reachable, for its pid.  Table and JSON come from the
 * same collected struct.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../agent/cgroup.h"
#include "../agent/control.h"
#include "../agent/engine.h"
#include "../agent/event.h"
#include "../agent/log.h"
#include "../agent/probe.h"
#include "../rules/policy.h"
#include "cli.h"

struct status {
	struct engine_pinned st;
	char cgroup[PATH_MAX];
	uint64_t cgroup_id;
	const char *mode;
	size_t nscopes;
	int hushd_pid; /* 0: not reachable */
	char lsm[256];
	bool lsm_ok;
};

static void collect(struct cli *c, struct status *s)
{
	char *detail = NULL, *reply = NULL, *text = NULL;

	memset(s, 0, sizeof(*s));
	s->mode = "unknown";
	engine_pinned_read(c->pin_dir, &s->st);
	for (int l = 0; l < ENGINE_LINK_MAX; l++) {
		if (s->st.links[l].present) {
			s->cgroup_id = s->st.links[l].cgroup_id;
			char mnt[PATH_MAX - 256] = "", rel[256];

			if (cgroup_find_mount(mnt, sizeof(mnt)) == 0 &&
			    cgroup_path_by_handle(s->cgroup_id, rel, sizeof(rel)) == 0)
				snprintf(s->cgroup, sizeof(s->cgroup), "%s%s", mnt,
					 strcmp(rel, "/") ? rel : "");
			else
				snprintf(s->cgroup, sizeof(s->cgroup), "(cgroup id %llu, removed?)",
					 (unsigned long long)s->cgroup_id);
			break;
		}
	}
	if (s->st.present && engine_pinned_policy(c->pin_dir, &text) == 0) {
		struct policy_errors errs = {0};
		struct policy *p = NULL;

		if (policy_parse("(kernel)", text, strlen(text), &p, &errs) == 0) {
			s->mode = p->scopes[0].mode == HUSH_MODE_AUDIT ? "audit" : "enforce";
			s->nscopes = p->nscopes - 1;
		}
		policy_free(p);
		policy_errors_free(&errs);
		free(text);
	}
	if (control_call(c->run_dir, "status", NULL, NULL, 0, &detail, &reply) == 1) {
		const char *p = strstr(reply, "\"pid\":");

		s->hushd_pid = p ? atoi(p + 6) : -1;
	}
	free(detail);
	free(reply);
	s->lsm_ok = probe_bpf_lsm(s->lsm, sizeof(s->lsm));
}

static bool active(const struct status *s)
{
	for (int l = 0; l < ENGINE_LINK_MAX; l++)
		if (!s->st.links[l].present)
			return false;
	return s->st.present;
}

static const char *lsm_reason(const struct status *s)
{
	static char buf[512];

	if (s->lsm_ok)
		return "unavailable: the kernel would load BPF LSM programs, but this hush does "
		       "not build them yet (AF_PACKET and other non-IP families are not judged)";
	snprintf(buf, sizeof(buf), "unavailable: %s", s->lsm);
	return buf;
}

static void print_json(const struct status *s, const struct cli *c)
{
	printf("{\"enforced\":%s,\"pin_dir\":", active(s) ? "true" : "false");
	json_str(stdout, c->pin_dir, PATH_MAX);
	printf(",\"cgroup\":");
	if (s->cgroup_id)
		json_str(stdout, s->cgroup, PATH_MAX);
	else
		printf("null");
	printf(",\"cgroup_id\":%llu,\"hushd\":{\"running\":%s,\"pid\":%d},",
	       (unsigned long long)s->cgroup_id, s->hushd_pid ? "true" : "false", s->hushd_pid);
	printf("\"policy\":{\"seq\":%llu,\"sha256\":\"", (unsigned long long)s->st.policy_seq);
	for (int i = 0; i < 32; i++)
		printf("%02x", s->st.policy_hash[i]);
	printf("\",\"mode\":\"%s\",\"scopes\":%zu},\"layers\":[", s->mode, s->nscopes);
	for (int l = 0; l < ENGINE_LINK_MAX; l++)
		printf("%s{\"name\":\"%s\",\"active\":%s,\"prog_id\":%u}", l ? "," : "",
		       engine_link_name(l), s->st.links[l].present ? "true" : "false",
		       s->st.links[l].prog_id);
	printf(",{\"name\":\"exec\",\"active\":%s}", s->st.exec_tracking ? "true" : "false");
	printf(",{\"name\":\"lsm\",\"active\":false,\"reason\":");
	json_str(stdout, lsm_reason(s), 512);
	printf("}],\"counters\":{");
	for (unsigned h = 0; h < HUSH_HOOK_MAX; h++) {
		printf("%s\"%s\":{", h ? "," : "", engine_hook_name(h));
		for (unsigned v = 0; v < HUSH_EV_MAX; v++)
			printf("%s\"%s\":%llu", v ? "," : "", engine_ev_name(v),
			       (unsigned long long)s->st.counters[HUSH_CTR_IDX(h, v)]);
		printf("}");
	}
	printf("}}\n");
}

static void print_table(const struct status *s, const struct cli *c)
{
	if (!s->st.present) {
		printf("enforcement: none (nothing pinned in %s)\n", c->pin_dir);
		printf("hushd:       %s\n", s->hushd_pid ? "running" : "not running");
		return;
	}
	printf("enforcement: %s (pinned in %s)\n",
	       active(s) ? "active" : "INCOMPLETE (some hooks are not attached)", c->pin_dir);
	printf("cgroup:      %s (id %llu)\n", s->cgroup_id ? s->cgroup : "(none)",
	       (unsigned long long)s->cgroup_id);
	if (s->hushd_pid)
		printf("hushd:       running (pid %d)\n", s->hushd_pid);
	else
		printf("hushd:       not running (enforcement stays in place: fail closed; events "
		       "wait in the pinned ring buffer for the next hushd, overflow is counted)\n");
	printf("policy:      mode %s, %zu scope%s, seq %llu, sha256 ", s->mode, s->nscopes,
	       s->nscopes == 1 ? "" : "s", (unsigned long long)s->st.policy_seq);
	for (int i = 0; i < 32; i++)
		printf("%02x", s->st.policy_hash[i]);
	printf("\nlayers:\n");
	for (int l = 0; l < ENGINE_LINK_MAX; l++) {
		if (s->st.links[l].present)
			printf("  %-12s active (prog %s, id %u)\n", engine_link_name(l),
			       s->st.links[l].prog_name, s->st.links[l].prog_id);
		else
			printf("  %-12s NOT ATTACHED\n", engine_link_name(l));
	}
	printf("  %-12s %s\n", "exec",
	       s->st.exec_tracking ? "active (exe and command line of every process, for events)"
				   : "off: events name processes from /proc while they live");
	printf("  %-12s %s\n", "lsm", lsm_reason(s));
	printf("counters:    %-10s %12s %12s %12s %12s\n", "hook", "allow", "deny", "audit",
	       "lost");
	for (unsigned h = 0; h < HUSH_HOOK_MAX; h++) {
		printf("             %-10s", engine_hook_name(h));
		for (unsigned v = 0; v < HUSH_EV_MAX; v++)
			printf(" %12llu", (unsigned long long)s->st.counters[HUSH_CTR_IDX(h, v)]);
		printf("\n");
	}
}

int do_status(struct cli *c, int argc, char **argv)
{
	struct status s;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else {
			fprintf(stderr, "usage: hush status [--json]\n");
			return EXIT_USAGE;
		}
	}
	collect(c, &s);
	if (json)
		print_json(&s, c);
	else
		print_table(&s, c);
	return active(&s) ? EXIT_OK : EXIT_FAIL;
}

int do_disable(struct cli *c, int argc, char **argv)
{
	char *detail = NULL, *reply = NULL;
	struct engine_pinned st;
	int ret;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: hush disable\n");
		return EXIT_USAGE;
	}
	engine_pinned_read(c->pin_dir, &st);
	ret = engine_disable(c->pin_dir);
	if (ret) {
		log_errno(ret, "cannot disable enforcement pinned in %s", c->pin_dir);
		return EXIT_FAIL;
	}
	/* A running hushd has nothing left to enforce: ask it to exit. */
	if (control_call(c->run_dir, "stop", NULL, NULL, 0, &detail, &reply) == 1)
		printf("hushd stopped\n");
	free(detail);
	free(reply);
	printf(st.present ? "enforcement removed (%s unpinned)\n" : "nothing was enforced (%s)\n",
	       c->pin_dir);
	return EXIT_OK;
}
