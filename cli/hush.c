// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hush: the command-line front end.  `hush <command> ...`, dispatched from
 * one table; exact command names only (no prefixes).  Global options
 * (--pin-dir, --run-dir, -v) may stand anywhere before "--".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

#include "agent/engine.h"
#include "agent/log.h"
#include "cli/cli.h"

static const struct cmd {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	const char *help;
} cmds[] = {
    {"status", do_status, "status [--json]                 what is enforced, where, counters"},
    {"policy", do_policy, "policy check FILE... | show | apply FILE | suggest [OPTIONS]"},
    {"run", do_run,
     "run [--policy FILE] [--mode enforce|audit] [--events FILE] [--quiet] [--log-allowed]\n"
     "           [--cgroup-parent DIR] -- CMD [ARGS...]   (exit: CMD's status; 125: hush failed)"},
    {"test", do_test,
     "test [--policy FILE] [--timeout DUR] [--grace DUR] [--ready CMD|tcp:PORT]\n"
     "           [--observe DUR] [--name NAME] [--ignore-exit-status] [--mode enforce|audit]\n"
     "           [--json FILE] [--junit FILE] [--cgroup-parent DIR] -- CMD [ARGS...]\n"
     "           (exit: 0 silent, 1 noisy, 2 usage/set-up error or CMD failed on its own,\n"
     "            3 inconclusive)"},
    {"disable", do_disable, "disable                         detach and unpin hushd's enforcement"},
    {"log", do_log,
     "log [--db FILE] [--denied|--allowed|--audit] [--since DUR|TIME] [--until DUR|TIME]\n"
     "           [--pid N] [--uid N] [--comm S] [--exe PATH] [--cmdline GLOB] [--container ID]\n"
     "           [--unit U] [--dest CIDR] [--hook H]\n"
     "           [--port N] [--dns NAME|GLOB] [--kind K] [--json|--csv] [--limit N] [--follow]\n"
     "  hush log top --by dest|dns|process|exe|cmdline|comm|uid|container|image|unit|rule\n"
     "                    [filters] [--limit N] [--json|--csv]\n"
     "  hush log verify [--head ID:HEX] | prune --older-than DUR [--max-size SIZE]"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: hush [--pin-dir DIR] [--run-dir DIR] [-v] COMMAND ...\n"
		   "       hush --version\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  hush %s\n", cmds[i].help);
	fprintf(f, "\n  --pin-dir DIR  pinned state of hushd (default " ENGINE_DEFAULT_PIN_DIR ")\n"
		   "  --run-dir DIR  hushd's control socket (default " ENGINE_DEFAULT_RUN_DIR ")\n"
		   "\nexit codes: 0 success, 1 failure or invalid policy, 2 usage error (hush run: "
		   "see above)\n");
}

int main(int argc, char **argv)
{
	struct cli c = {.pin_dir = ENGINE_DEFAULT_PIN_DIR, .run_dir = ENGINE_DEFAULT_RUN_DIR};
	char **av;
	int ac = 0, i;

	log_init("hush", LOG_LVL_INFO);
	av = calloc((size_t)argc + 1, sizeof(*av));
	if (!av)
		return EXIT_FAIL;
	/* Pull global options out of argv (up to "--"). */
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			for (; i < argc; i++)
				av[ac++] = argv[i];
			break;
		}
		if ((strcmp(a, "--pin-dir") == 0 || strcmp(a, "--run-dir") == 0) && i + 1 < argc) {
			if (a[2] == 'p')
				c.pin_dir = argv[++i];
			else
				c.run_dir = argv[++i];
		} else if (strncmp(a, "--pin-dir=", 10) == 0) {
			c.pin_dir = a + 10;
		} else if (strncmp(a, "--run-dir=", 10) == 0) {
			c.run_dir = a + 10;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			c.verbose = true;
			log_set_level(LOG_LVL_DEBUG);
		} else if ((strcmp(a, "--pin-dir") == 0 || strcmp(a, "--run-dir") == 0)) {
			log_warnx("%s needs a directory", a);
			free(av);
			return EXIT_USAGE;
		} else {
			av[ac++] = argv[i];
		}
	}
	log_libbpf_init();
	if (ac > 0 && (strcmp(av[0], "--version") == 0 || strcmp(av[0], "version") == 0)) {
		printf("hush %s\n", HUSH_VERSION);
		free(av);
		return EXIT_OK;
	}
	if (ac == 0 || strcmp(av[0], "help") == 0 || strcmp(av[0], "--help") == 0 ||
	    strcmp(av[0], "-h") == 0) {
		usage(ac == 0 ? stderr : stdout);
		free(av);
		return ac == 0 ? EXIT_USAGE : EXIT_OK;
	}
	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		if (strcmp(av[0], cmds[k].name) == 0) {
			int ret = cmds[k].fn(&c, ac, av);

			free(av);
			return ret;
		}
	}
	log_warnx("unknown command \"%s\" (see `hush help`)", av[0]);
	free(av);
	return EXIT_USAGE;
}
