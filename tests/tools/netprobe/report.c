// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* netprobe: a result as one JSON line. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "agent/json.h"
#include "agent/util.h"
#include "tests/tools/netprobe/netprobe.h"

/* Bytes (not NUL-terminated) as a JSON string, at most PAYLOAD_SHOWN. */
void json_bytes(struct json_writer *w, const unsigned char *b, size_t n)
{
	char buf[PAYLOAD_SHOWN + 1];

	if (n > PAYLOAD_SHOWN)
		n = PAYLOAD_SHOWN;
	for (size_t i = 0; i < n; i++)
		buf[i] = b[i] ? (char)b[i] : '.';
	buf[n] = '\0';
	jsonw_str(w, buf);
}

const char *family_name(int family)
{
	return family == AF_INET6 ? "ipv6" : "ipv4";
}

const char *errno_name(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "EUNKNOWN";
}

int report(const struct result *r)
{
	FILE *f = stdout;
	struct json_writer w;

	jsonw_init_file(&w, f, JSON_LINES);
	jsonw_obj_begin(&w);
	jsonw_str_field(&w, "op", r->op);
	jsonw_str_field(&w, "family", family_name(r->family));
	jsonw_str_field(&w, "sockfamily", family_name(r->sockfamily));
	jsonw_str_field(&w, "daddr", r->daddr);
	if (r->dport >= 0)
		jsonw_int_field(&w, "dport", r->dport);
	if (r->via)
		jsonw_str_field(&w, "via", r->via);
	if (r->err) {
		jsonw_str_field(&w, "result", "error");
		jsonw_str_field(&w, "errno", errno_name(r->err));
		jsonw_int_field(&w, "errno_num", r->err);
		jsonw_str_field(&w, "stage", r->stage);
	} else {
		jsonw_str_field(&w, "result", "ok");
		jsonw_null_field(&w, "errno");
		jsonw_int_field(&w, "errno_num", 0);
	}
	jsonw_int_field(&w, "elapsed_us", r->elapsed_us);
	if (r->sent >= 0)
		jsonw_int_field(&w, "sent", r->sent);
	if (r->reply_len >= 0)
		jsonw_int_field(&w, "reply_len", r->reply_len);
	jsonw_int_field(&w, "pid", getpid());
	jsonw_obj_end(&w);
	fflush(f);
	return r->err ? EXIT_ERROR : EXIT_OK;
}
