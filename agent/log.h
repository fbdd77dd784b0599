/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One logging interface for hushd, hush and the engine (OpenBSD log.c
 * style): messages go to stderr prefixed with the program name; *_warn
 * variants append strerror(errno) (or of an explicit -errno).  Data never
 * goes through here: it goes to stdout.
 */
#ifndef HUSH_AGENT_LOG_H
#define HUSH_AGENT_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);

/* message + ": " + strerror(errno) */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* message only */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* message + ": " + strerror(-err) */
void log_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Route libbpf's own messages here (warnings as warnings, the rest at debug). */
void log_libbpf_init(void);

/* A hint for common errno values from privileged operations, or "". */
const char *log_perm_hint(int err);

#endif /* HUSH_AGENT_LOG_H */
