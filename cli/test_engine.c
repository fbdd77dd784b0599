// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hush test: refusing a container engine as the command.  `docker run`
 * asks a daemon (or, with podman, conmon under systemd) to start the
 * container, in a cgroup of its own outside the test's: hush would watch
 * the client and pass the test while the container phones home.  So the
 * command's argv[0] (or that of a leading `env`) is looked at before
 * anything starts; deeper wrapping (sh -c, sudo) is not, but a process that
 * moves out of the test's cgroup makes the run noisy (cgroup_move).
 */
#include <stdio.h>
#include <string.h>

#include "agent/log.h"
#include "cli/test_int.h"

static const char *const engines[] = {"docker", "podman", "nerdctl", "docker-compose",
				      "podman-compose"};
/* Subcommands that start (or enter) a container. */
static const char *const starting[] = {"run", "create", "start", "restart", "compose",
				       "up",  "exec",	"build", "buildx"};
/* Global options of the engines that take a value as the next word. */
static const char *const valued[] = {"-H",
				     "--host",
				     "-c",
				     "--context",
				     "--config",
				     "-l",
				     "--log-level",
				     "--url",
				     "--connection",
				     "--root",
				     "--runroot",
				     "--namespace",
				     "-n",
				     "--address",
				     "-a",
				     "-f",
				     "--file",
				     "-p",
				     "--project-name",
				     "--profile",
				     "--env-file",
				     "--project-directory"};

static bool in(const char *w, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(w, set[i]))
			return true;
	return false;
}

#define IN(w, set) in(w, set, sizeof(set) / sizeof(set[0]))

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* Skip `env [-i] [-u NAME] [NAME=VALUE]... ` in front of the command. */
static char **after_env(char **argv)
{
	if (!argv[0] || strcmp(base(argv[0]), "env"))
		return argv;
	for (argv++; *argv; argv++) {
		if (!strcmp(*argv, "-u") || !strcmp(*argv, "--unset") || !strcmp(*argv, "-C") ||
		    !strcmp(*argv, "--chdir")) {
			if (!*++argv)
				break;
		} else if (**argv != '-' && !strchr(*argv, '=')) {
			break;
		}
	}
	return argv;
}

int test_refuse_engine(char **argv)
{
	char **a = after_env(argv);
	const char *eng, *sub = NULL;
	char said[160];

	if (!a[0] || !IN(base(a[0]), engines))
		return 0;
	eng = base(a[0]);
	/* The first word that is no option; `container`, `compose`, `image`
	 * and the like go one level deeper. */
	for (char **w = a + 1; *w; w++) {
		if (!strcmp(*w, "--"))
			continue;
		if (**w == '-') {
			if (IN(*w, valued) && w[1])
				w++;
			continue;
		}
		if (IN(*w, starting)) {
			sub = *w;
			break;
		}
		if (strcmp(*w, "container") && strcmp(*w, "compose") && strcmp(*w, "stack") &&
		    strcmp(*w, "image") && strcmp(*w, "pod"))
			return 0;
	}
	if (!sub)
		return 0;
	snprintf(said, sizeof(said), "%s %s", eng, sub);
	log_warnx("test: `%s` would start its container outside this test's cgroup (the engine's "
		  "daemon or conmon starts it), where hush cannot watch it: the test could pass "
		  "while the container phones home.  Refusing before anything runs.  Gate the "
		  "image with `hush test --image IMAGE [-- ARGS]` (or a stack with `hush test "
		  "--compose FILE`): hush starts the container itself, inside the test",
		  said);
	return -1;
}
