// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hush test --image: the two questions asked before a run (is the image
 * there, with which id and digests; does the engine use cgroupfs) go to
 * the engine's Docker-compatible API on its unix socket (docker, and
 * podman's service), over HTTP/1.0 (the answer ends with the connection):
 * an engine client started twice would cost more than the rest of the
 * test's set-up.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/test_int.h"

#define API_TIMEOUT_S 10

/* GET path from the API on sock: the status (0 if the answer has none) and
 * the body into body; -errno when the engine cannot be asked. */
int ctr_api_get(const char *sock, const char *path, char *body, size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = API_TIMEOUT_S};
	char req[1024], *b;
	size_t o = 0;
	int fd, st = 0, ret;
	ssize_t n;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock) >= (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if (snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: engine\r\n\r\n", path) >=
	    (int)sizeof(req))
		return -E2BIG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	while (o + 1 < len && (n = read(fd, body + o, len - 1 - o)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			close(fd);
			return ret;
		}
		o += (size_t)n;
	}
	close(fd);
	body[o] = 0;
	if (sscanf(body, "HTTP/%*s %d", &st) != 1)
		st = 0;
	b = strstr(body, "\r\n\r\n");
	if (b)
		memmove(body, b + 4, strlen(b + 4) + 1);
	return st;
}

/* The string member "key" of the top-level object of json (a Docker API
 * answer) into out; "" when it is missing or not a string. */
void ctr_json_str(const char *json, const char *key, char *out, size_t len)
{
	struct json_object *j = json_tokener_parse(json), *v;

	out[0] = 0;
	if (j && json_object_object_get_ex(j, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(out, len, "%s", json_object_get_string(v));
	json_object_put(j);
}

/* The strings of the top-level array "key" (["a","b"]) into out,
 * comma-separated; "" when it is missing. */
void ctr_json_strs(const char *json, const char *key, char *out, size_t len)
{
	struct json_object *j = json_tokener_parse(json), *v;
	size_t o = 0;

	out[0] = 0;
	if (j && json_object_object_get_ex(j, key, &v) && json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v) && o < len; i++) {
			struct json_object *e = json_object_array_get_idx(v, i);
			int n;

			if (!json_object_is_type(e, json_type_string))
				continue;
			n = snprintf(out + o, len - o, "%s%s", o ? "," : "",
				     json_object_get_string(e));
			if (n < 0 || (size_t)n >= len - o) {
				out[o] = 0; /* whole entries only */
				break;
			}
			o += (size_t)n;
		}
	}
	json_object_put(j);
}

/* name for a URL path: what is not unreserved (or '/', ':', '@') as %XX. */
void ctr_url_escape(const char *name, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *name && o + 4 < len; name++) {
		unsigned char c = (unsigned char)*name;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~/:@", c)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = 0;
}
