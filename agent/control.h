/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hushd's control socket: <run-dir>/hushd.sock, a Unix stream socket, mode
 * 0600 in a 0700 directory, peers checked with SO_PEERCRED (root or hushd's
 * own uid).  One request per connection:
 *
 *   request : "<verb> [arg]\n" [body]        (client then shuts down writing)
 *   reply   : "ok [detail]\n" [text] | "error\n" text
 *
 * Verbs: "apply NAME" (body: policy text), "status", "stop".  hushd refuses
 * "apply" and "stop" from a process inside the cgroups it enforces
 * (contain.h): "error\nrefused: <why>\n".
 */
#ifndef HUSH_AGENT_CONTROL_H
#define HUSH_AGENT_CONTROL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/fsutil.h"

#define CONTROL_SOCK_NAME "hushd.sock"
/* Beside it: the absolute path of hushd's audit log, one line, written at
 * start (absent with --no-db) and left behind when hushd dies, so that
 * `hush disable` can log a removal hushd is not there to log. */
#define CONTROL_DB_NAME	 "hushd.db-path"
#define CONTROL_MAX_BODY (16u << 20)

struct control_req {
	char verb[16];
	char arg[1024];
	char *body; /* NUL-terminated, malloc'd (may be empty) */
	size_t body_len;
	pid_t peer_pid; /* SO_PEERCRED (0: not visible in our pid namespace) */
	int peer_pidfd; /* SO_PEERPIDFD, or -1 (older kernels) */
};

/* mkdir -p: the run directory (mode) and any missing parents (0755).  The
 * old name of fsutil's mkdir_p(), kept for hushd. */
static inline int control_mkdir_p(const char *dir, mode_t mode)
{
	return mkdir_p(dir, mode);
}

/* Server. */
int control_listen(const char *run_dir);
/* Accept one client and read its request; returns the client fd. */
int control_accept(int lfd, struct control_req *req);
int control_reply(int cfd, int ok, const char *detail, const char *text);
void control_req_free(struct control_req *req);

/* Client: send a request, collect the reply (malloc'd, the text after the
 * status line).  Returns 1 for "ok", 0 for "error", negative errno when
 * hushd cannot be reached. */
int control_call(const char *run_dir, const char *verb, const char *arg, const char *body,
		 size_t body_len, char **detail, char **text);
/* The same, waiting at most timeout_s seconds for the reply (control_call:
 * 30 s, for a large policy). */
int control_call_tmo(const char *run_dir, const char *verb, const char *arg, const char *body,
		     size_t body_len, int timeout_s, char **detail, char **text);

/* The fields of hushd's "status" reply (JSON) that `hush status` shows. */
struct control_status {
	int pid;     /* -1: the reply names none */
	bool writer; /* hushd writes the audit log ("db" is not null) */
	char db_path[PATH_MAX];
	bool db_open;
	char db_error[512]; /* "" if the last write worked */
	double lag_s;
	int64_t pending_rows, gap_events, late_events;
	int64_t rollup_behind; /* rows the rollups have still to add; -1: not said */
};

/* Parse a status reply (with SQLite's JSON functions).  Returns 0, or
 * -EINVAL if it is not JSON (pid still read from its leading {"pid":N}). */
int control_status_parse(const char *reply, struct control_status *st);

#endif /* HUSH_AGENT_CONTROL_H */
