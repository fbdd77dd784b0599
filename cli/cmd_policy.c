// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* hush policy check FILE | show | apply FILE */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/control.h"
#include "agent/engine.h"
#include "agent/log.h"
#include "rules/loaded.h"
#include "cli/cli.h"

static int policy_usage_to(FILE *f)
{
	fprintf(f, "usage: hush policy check FILE... | show | apply FILE\n"
		   "  check FILE...  parse and lint each policy (\"-\": standard input)\n"
		   "  show           the policy hushd enforces now\n"
		   "  apply FILE     check FILE, then have the running hushd enforce it\n"
		   "exit codes: 0 success, 1 invalid policy or failure, 2 usage error\n");
	return EXIT_USAGE;
}

static int policy_usage(void)
{
	return policy_usage_to(stderr);
}

/* Read FILE ("-": stdin) into *text and load it; errors and warnings are
 * printed as "hush: policy: file:l:c: msg". */
static int check(const char *path, char **text, size_t *len, struct policy_loaded **out)
{
	struct policy_errors errs = {0};
	struct policy_load_opts o = {
	    .name = strcmp(path, "-") == 0 ? "(stdin)" : path,
	    .dns_proxy = true,
	    .diag = stderr,
	    .prefix = "hush: policy: ",
	};
	int ret;

	*out = NULL;
	ret = cli_read_file(path, text, len);
	if (ret) {
		log_errno(ret, "policy: %s", path);
		return ret;
	}
	o.text = *text ? *text : "";
	o.len = *len;
	ret = policy_loaded_load(&o, out, &errs);
	if (ret)
		fprintf(stderr, "hush: policy: %s rejected (%zu error%s); nothing was changed\n",
			path, errs.n, errs.n == 1 ? "" : "s");
	policy_errors_free(&errs);
	return ret;
}

/* Validate each FILE; print the normalized policy (with a "# FILE" header
 * when there are several).  Exit 1 if any is invalid. */
static int do_check(int n, char **paths)
{
	int bad = 0;

	for (int i = 0; i < n; i++) {
		struct policy_loaded *l;
		char *text = NULL;
		size_t len;

		if (check(paths[i], &text, &len, &l)) {
			bad++;
		} else {
			if (n > 1)
				printf("%s# %s\n", i ? "\n" : "", paths[i]);
			policy_print(l->pol, stdout);
			cli_policy_containers(l->pol);
			policy_loaded_free(l);
		}
		free(text);
	}
	return bad ? EXIT_FAIL : EXIT_OK;
}

static int do_show(struct cli *c)
{
	struct engine_pinned st;
	char *text = NULL;
	int ret;

	ret = engine_pinned_read(c->pin_dir, &st);
	if (ret || !st.present) {
		if (ret)
			log_errno(ret, "cannot read pinned state in %s", c->pin_dir);
		else
			log_warnx("no policy is enforced (nothing pinned in %s)", c->pin_dir);
		return EXIT_FAIL;
	}
	ret = engine_pinned_policy(c->pin_dir, &text);
	if (ret) {
		log_errno(ret, "cannot read the policy text from %s", c->pin_dir);
		return EXIT_FAIL;
	}
	printf("# policy held by the kernel: seq %llu, sha256 ", (unsigned long long)st.policy_seq);
	for (int i = 0; i < 32; i++)
		printf("%02x", st.policy_hash[i]);
	printf("\n%s", text);
	free(text);
	return EXIT_OK;
}

static int do_apply(struct cli *c, const char *path)
{
	char *text = NULL, *detail = NULL, *reply = NULL, name[PATH_MAX];
	struct policy_loaded *l;
	size_t len;
	int ret;

	/* Validate here first: errors come back even if hushd is down.  hushd
	 * loads the text sent once more, as its own. */
	ret = check(path, &text, &len, &l);
	if (ret) {
		free(text);
		return EXIT_FAIL;
	}
	policy_loaded_free(l);
	if (!realpath(path, name))
		snprintf(name, sizeof(name), "%s", path);
	ret = control_call(c->run_dir, "apply", name, text, len, &detail, &reply);
	free(text);
	if (ret < 0) {
		log_errno(ret,
			  "cannot reach hushd at %s/%s (is hushd running? the pinned "
			  "policy stays in force until hushd applies a new one)",
			  c->run_dir, CONTROL_SOCK_NAME);
		return EXIT_FAIL;
	}
	if (ret == 0 && strncmp(reply, "refused:", 8) == 0) {
		/* Asked from inside the enforced cgroups (control.h). */
		fprintf(stderr, "hush: hushd: %s", reply);
		log_warnx("hushd refused to apply %s; the running policy stays", path);
	} else if (ret == 0) {
		fprintf(stderr, "%s", reply);
		log_warnx("hushd rejected %s; the running policy stays", path);
	} else {
		printf("applied %s: %s\n", path, detail);
	}
	free(detail);
	free(reply);
	return ret == 1 ? EXIT_OK : EXIT_FAIL;
}

int do_policy(struct cli *c, int argc, char **argv)
{
	if (argc < 2)
		return policy_usage();
	for (int i = 1; i < argc && i < 3; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			policy_usage_to(stdout);
			return EXIT_OK;
		}
	}
	if (strcmp(argv[1], "check") == 0 && argc >= 3)
		return do_check(argc - 2, argv + 2);
	if (strcmp(argv[1], "show") == 0 && argc == 2)
		return do_show(c);
	if (strcmp(argv[1], "apply") == 0 && argc == 3)
		return do_apply(c, argv[2]);
	return policy_usage();
}
