// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "agent/log.h"

static const char *prog = "hush";
static enum log_level cur = LOG_LVL_INFO;

void log_init(const char *progname, enum log_level level)
{
	prog = progname;
	cur = level;
}

void log_set_level(enum log_level level)
{
	cur = level;
}

static void vlog(enum log_level lvl, int err, const char *fmt, va_list ap)
{
	char buf[2048];

	if (lvl > cur)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (err)
		fprintf(stderr, "%s: %s: %s%s\n", prog, buf, strerror(err), log_perm_hint(err));
	else
		fprintf(stderr, "%s: %s\n", prog, buf);
}

void log_warn(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, err ? err : EIO, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, 0, fmt, ap);
	va_end(ap);
}

void log_errno(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, err < 0 ? -err : err, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_INFO, 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_DEBUG, 0, fmt, ap);
	va_end(ap);
}

const char *log_perm_hint(int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return " (need root: CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN)";
	default:
		return "";
	}
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN && cur < LOG_LVL_DEBUG)
		return 0;
	/* Verifier logs run to megabytes: print them whole, never truncated. */
	fprintf(stderr, "%s: ", prog); /* libbpf says "libbpf: " itself */
	vfprintf(stderr, fmt, ap);
	return 0;
}

void log_libbpf_init(void)
{
	libbpf_set_print(libbpf_print);
}
