// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libcurl loaded on first use (agent/curl_load.c): a library that is not
 * there, or is not libcurl, gives an error naming it and what to install,
 * and the functions fail as libcurl's own do; then the real library serves a
 * real request over a unix socket (a server thread here) with options of
 * every argument type (long, object, function, curl_off_t) and infos of
 * three (long, curl_off_t, string), each checked at the other end.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>

#define TC_PREFIX "curl_load: "
#include "tests/unit/tc.h"

#include "agent/curl_load.h"

static bool has(const char *s, const char *sub)
{
	return s && strstr(s, sub);
}

static void t_absent(void)
{
	struct tc t;
	const char *why;

	tc_begin(&t, "a library that is not there: named, with the package to install");
	why = hush_curl_load("libcurl-absent.so.9");
	CHECK(&t, has(why, "libcurl-absent.so.9"), "why: %s", why ? why : "(loaded)");
	CHECK(&t, has(why, "install the package libcurl4"), "why: %s", why ? why : "(loaded)");
	CHECK(&t, hush_curl_error() == why, "hush_curl_error() differs");
	tc_end(&t);

	tc_begin(&t, "a library that is not libcurl: the missing function named");
	why = hush_curl_load("libc.so.6");
	CHECK(&t, has(why, "libc.so.6 has no curl_global_init"), "why: %s", why ? why : "(loaded)");
	tc_end(&t);
}

struct server {
	int lfd;
	char req[4096];
	size_t reqlen;
};

/* One request: read to the end of the body the headers announce, answer. */
static void *serve(void *arg)
{
	static const char reply[] = "HTTP/1.1 201 Created\r\n"
				    "Content-Type: text/x-hush\r\n"
				    "Content-Length: 11\r\n"
				    "Connection: close\r\n\r\n"
				    "hello curl!";
	struct server *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	const char *cl, *end;

	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t n = read(fd, s->req + s->reqlen, sizeof(s->req) - 1 - s->reqlen);

		if (n <= 0)
			break;
		s->reqlen += (size_t)n;
		s->req[s->reqlen] = 0;
		end = strstr(s->req, "\r\n\r\n");
		cl = strcasestr(s->req, "Content-Length: ");
		if (end &&
		    (!cl || s->reqlen >= (size_t)(end + 4 - s->req) + strtoul(cl + 16, NULL, 10)))
			break;
	}
	if (write(fd, reply, sizeof(reply) - 1) < 0)
		perror("write");
	close(fd);
	return NULL;
}

struct sink {
	char buf[64];
	size_t n;
};

static size_t on_body(char *p, size_t sz, size_t nm, void *arg)
{
	struct sink *k = arg;
	size_t n = sz * nm;

	if (n > sizeof(k->buf) - 1 - k->n)
		return 0;
	memcpy(k->buf + k->n, p, n);
	k->n += n;
	return n;
}

static void t_request(void)
{
	char dir[] = "/tmp/hush-curl-load.XXXXXX";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct server s = {.lfd = -1};
	struct sink k = {0};
	struct curl_slist *hd = NULL;
	static const char body[] = "0123456789abcdef";
	pthread_t thr;
	bool started = false;
	char *ctype = NULL;
	long status = 0;
	curl_off_t got = 0;
	CURLcode rc = CURLE_FAILED_INIT;
	CURL *h = NULL;
	struct tc t;

	tc_begin(&t, "the real library: a POST over a unix socket, every option and info type");
	CHECK(&t, hush_curl_load(NULL) == NULL, "load: %s", hush_curl_error());
	CHECK(&t, hush_curl_error() == NULL, "an error stays after the load");
	CHECK(&t, curl_global_init(CURL_GLOBAL_NOTHING) == CURLE_OK, "curl_global_init");
	if (!mkdtemp(dir)) {
		CHECK(&t, false, "mkdtemp: %s", strerror(errno));
		goto out;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", dir);
	s.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!CHECK(&t,
		   s.lfd >= 0 && !bind(s.lfd, (struct sockaddr *)&sa, sizeof(sa)) &&
		       !listen(s.lfd, 1),
		   "listen on %s: %s", sa.sun_path, strerror(errno)))
		goto out;
	started = !pthread_create(&thr, NULL, serve, &s);
	h = curl_easy_init();
	if (!CHECK(&t, h != NULL, "curl_easy_init"))
		goto out;
	hd = curl_slist_append(hd, "X-Hush-Test: yes");
	CHECK(&t, hd != NULL, "curl_slist_append");
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sa.sun_path); /* object */
	curl_easy_setopt(h, CURLOPT_URL, "http://localhost/v1/echo");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* long */
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)10); /* off_t */
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);		  /* function */
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &k);
	rc = curl_easy_perform(h);
	CHECK(&t, rc == CURLE_OK, "perform: %s", curl_easy_strerror(rc));
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &got);
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
	CHECK(&t, status == 201, "status %ld", status);
	CHECK(&t, got == 11, "downloaded %lld bytes", (long long)got);
	CHECK(&t, ctype && !strcmp(ctype, "text/x-hush"), "content type %s", ctype ? ctype : "-");
	CHECK(&t, k.n == 11 && !memcmp(k.buf, "hello curl!", 11), "body \"%.*s\"", (int)k.n, k.buf);
	if (started) {
		pthread_join(thr, NULL);
		started = false;
	}
	CHECK(&t, has(s.req, "POST /v1/echo HTTP/1.1\r\n"), "request: %s", s.req);
	CHECK(&t, has(s.req, "X-Hush-Test: yes\r\n"), "header missing: %s", s.req);
	CHECK(&t, has(s.req, "Content-Length: 10\r\n"), "size (curl_off_t) lost: %s", s.req);
	CHECK(&t, has(s.req, "\r\n\r\n0123456789") && !has(s.req, "0123456789a"), "body: %s",
	      s.req);
	CHECK(&t, !strcmp(curl_easy_strerror(CURLE_COULDNT_CONNECT), "Couldn't connect to server"),
	      "strerror: %s", curl_easy_strerror(CURLE_COULDNT_CONNECT));
out:
	if (h)
		curl_easy_cleanup(h);
	curl_slist_free_all(hd);
	if (started) {
		shutdown(s.lfd, SHUT_RDWR);
		pthread_join(thr, NULL);
	}
	if (s.lfd >= 0)
		close(s.lfd);
	if (sa.sun_path[0])
		unlink(sa.sun_path);
	rmdir(dir);
	tc_end(&t);

	tc_begin(&t, "once loaded, a later call naming another library keeps it");
	CHECK(&t, hush_curl_load("libcurl-absent.so.9") == NULL, "load: %s", hush_curl_error());
	tc_end(&t);
}

int main(void)
{
	t_absent();
	t_request();
	return nfail ? 1 : 0;
}
