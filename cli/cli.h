/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* hush command handlers, dispatched from one table in hush.c. */
#ifndef HUSH_CLI_CLI_H
#define HUSH_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/fsutil.h"

/* Exit codes shared by every command. */
#define EXIT_OK	   0
#define EXIT_FAIL  1 /* the operation failed, or the policy is invalid */
#define EXIT_USAGE 2

struct cli {
	const char *pin_dir;
	const char *run_dir;
	const char *db_path; /* hush status --db (NULL: the one hushd reports, else the default) */
	bool verbose;
};

int do_status(struct cli *c, int argc, char **argv);
int do_policy(struct cli *c, int argc, char **argv);
int do_disable(struct cli *c, int argc, char **argv);
int do_run(struct cli *c, int argc, char **argv);
int do_test(struct cli *c, int argc, char **argv);
int do_log(struct cli *c, int argc, char **argv);

struct policy;
/* policy_ctr.c: notes on container scopes that select nothing running now. */
void cli_policy_containers(const struct policy *p);

/* Read a whole file ("-": standard input; policy files are at most 16 MiB). */
static inline int cli_read_file(const char *path, char **buf, size_t *len)
{
	return read_file(path, buf, len);
}

#endif /* HUSH_CLI_CLI_H */
