// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hush test --image: the two questions asked before a run (is the image
 * there, with which id and digests; does the engine use cgroupfs) go to
 * the engine's Docker-compatible API on its unix socket (docker, and
 * podman's service), asked with libcurl over the unix socket (as hushd's
 * engine watchers do): an engine client started twice would cost more than
 * the rest of the test's set-up.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "cli/test_int.h"

#define API_TIMEOUT_MS 10000L

struct api_body {
	char *p;
	size_t n, cap;
};

/* libcurl's write callback: the answer into the caller's buffer; one
 * larger than it fails the transfer (an engine's /info or image inspect is
 * some kilobytes). */
static size_t api_body_write(char *d, size_t sz, size_t nm, void *arg)
{
	struct api_body *b = arg;
	size_t n = sz * nm;

	if (n >= b->cap - b->n)
		return 0;
	memcpy(b->p + b->n, d, n);
	b->n += n;
	b->p[b->n] = 0;
	return n;
}

/* GET path from the API on sock (libcurl, HTTP over the unix socket): the
 * HTTP status and the body into body; -errno when the engine cannot be
 * asked or the answer does not fit. */
int ctr_api_get(const char *sock, const char *path, char *body, size_t len)
{
	struct api_body b = {.p = body, .cap = len};
	char url[1200];
	long st = 0, oserr = 0;
	CURLcode rc;
	CURL *h;

	if (!len)
		return -EINVAL;
	body[0] = 0;
	if (snprintf(url, sizeof(url), "http://engine%s", path) >= (int)sizeof(url))
		return -E2BIG;
	h = curl_easy_init();
	if (!h)
		return -ENOMEM;
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, API_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, api_body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
	curl_easy_cleanup(h);
	switch (rc) {
	case CURLE_OK:
		return (int)st;
	case CURLE_WRITE_ERROR:
		return -E2BIG;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		/* the connect's errno (ENOENT, ECONNREFUSED, EACCES) */
		return oserr > 0 ? -(int)oserr : -ECONNREFUSED;
	default:
		return -EIO;
	}
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
