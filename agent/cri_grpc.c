// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gRPC unary calls to a CRI runtime over its unix socket with libcurl's
 * HTTP/2 (see cri.h).  One curl handle per client, one connection per call
 * (see perform()), so a runtime's restart costs nothing but the calls it
 * fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "agent/cri.h"
#include "agent/curl_load.h"

struct cri_client {
	CURL *h;
	char *path;
	long timeout_ms;
	int (*stop)(void *);
	void *stop_arg;
};

struct reply {
	uint8_t *body;
	size_t n;
	bool too_big;
	int status; /* grpc-status, -1: none yet */
	char message[256];
	char ctype[64];
};

struct cri_client *cri_open(const char *path)
{
	struct cri_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->path = strdup(path);
	c->timeout_ms = 5000;
	if (!c->path) {
		free(c);
		return NULL;
	}
	curl_global_init(CURL_GLOBAL_NOTHING);
	return c;
}

void cri_close(struct cri_client *c)
{
	if (!c)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	free(c->path);
	free(c);
}

void cri_set_timeout(struct cri_client *c, long ms)
{
	c->timeout_ms = ms > 0 ? ms : 5000;
}

void cri_set_stop(struct cri_client *c, int (*stop)(void *), void *arg)
{
	c->stop = stop;
	c->stop_arg = arg;
}

static size_t on_body(char *d, size_t sz, size_t nm, void *arg)
{
	struct reply *r = arg;
	size_t n = sz * nm;
	uint8_t *nb;

	if (r->n + n > CRI_MSG_MAX + 5) {
		r->too_big = true;
		return 0;
	}
	nb = realloc(r->body, r->n + n);
	if (!nb)
		return 0;
	memcpy(nb + r->n, d, n);
	r->body = nb;
	r->n += n;
	return n;
}

/* "name: value\r\n" of a header or trailer line into v (trimmed), or false. */
static bool header_is(const char *line, size_t n, const char *name, char *v, size_t vlen)
{
	size_t k = strlen(name), e = n;

	if (n <= k || strncasecmp(line, name, k) || line[k] != ':')
		return false;
	line += k + 1;
	e -= k + 1;
	while (e && (*line == ' ' || *line == '\t')) {
		line++;
		e--;
	}
	while (e && (line[e - 1] == '\r' || line[e - 1] == '\n' || line[e - 1] == ' '))
		e--;
	snprintf(v, vlen, "%.*s", (int)e, line);
	return true;
}

/* Headers and (HTTP/2) trailers both come here. */
static size_t on_header(char *d, size_t sz, size_t nm, void *arg)
{
	struct reply *r = arg;
	size_t n = sz * nm;
	char v[256];

	if (header_is(d, n, "grpc-status", v, sizeof(v))) {
		char *end;
		long s = strtol(v, &end, 10);

		r->status = (*end || s < 0 || s > 1000) ? 2 : (int)s;
	} else if (header_is(d, n, "grpc-message", v, sizeof(v))) {
		cri_pct_decode(v);
		snprintf(r->message, sizeof(r->message), "%s", v);
	} else if (header_is(d, n, "content-type", v, sizeof(v))) {
		snprintf(r->ctype, sizeof(r->ctype), "%.63s", v);
	}
	return n;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct cri_client *cl = arg;

	return cl->stop && cl->stop(cl->stop_arg) ? 1 : 0;
}

static CURL *handle(struct cri_client *c)
{
	if (!c->h)
		c->h = curl_easy_init();
	return c->h;
}

/* The transport's failure as a negative errno. */
static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	default:
		return -EIO;
	}
}

static int perform(struct cri_client *c, const char *method, const uint8_t *req, size_t reqlen,
		   struct reply *r, char *err, size_t errlen)
{
	char url[256];
	struct curl_slist *hd = NULL;
	CURL *h = handle(c);
	CURLcode rc;
	long http = 0;

	if (!h) {
		snprintf(err, errlen, "%s",
			 hush_curl_error() ? hush_curl_error() : "cannot make a curl handle");
		return -ENOMEM;
	}
	snprintf(url, sizeof(url), "http://localhost/runtime.v1.RuntimeService/%s", method);
	hd = curl_slist_append(hd, "Content-Type: application/grpc");
	hd = curl_slist_append(hd, "TE: trailers");
	hd = curl_slist_append(hd, "User-Agent: hush-cri/1");
	hd = curl_slist_append(hd, "Expect:");
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, req);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)reqlen);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 c->timeout_ms < 2000 ? c->timeout_ms : 2000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
	/* A connection per call: Debian 12's libcurl (7.88) fails a second
	 * HTTP/2 request on a reused connection to containerd with "Error in
	 * the HTTP2 framing layer" before sending it.  A unix socket connect
	 * and the HTTP/2 preface cost well under a millisecond. */
	curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
	curl_slist_free_all(hd);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s on %s: %s%s", method, c->path, curl_easy_strerror(rc),
			 r->too_big ? " (reply over 16 MiB)" : "");
		return curl_errno(rc);
	}
	if (http != 200 || strncasecmp(r->ctype, "application/grpc", 16)) {
		snprintf(err, errlen,
			 "%s on %s: HTTP %ld, content-type \"%s\": no gRPC server on this socket",
			 method, c->path, http, r->ctype);
		return -EPROTO;
	}
	return 0;
}

int cri_call(struct cri_client *c, const char *method, const ProtobufCMessage *req,
	     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, char *err,
	     size_t errlen)
{
	struct reply r = {.status = -1};
	size_t len;
	uint8_t *frame = cri_frame(req, &len);
	char why[160];
	int ret;

	*resp = NULL;
	if (!frame) {
		snprintf(err, errlen, "%s: cannot encode the request", method);
		return -ENOMEM;
	}
	ret = perform(c, method, frame, len, &r, err, errlen);
	free(frame);
	if (ret)
		goto out;
	if (r.status < 0) {
		snprintf(err, errlen, "%s on %s: no grpc-status in the reply", method, c->path);
		ret = -EPROTO;
	} else if (r.status) {
		snprintf(err, errlen, "%s on %s: %s: %s", method, c->path, cri_code_name(r.status),
			 r.message[0] ? r.message : "(no message)");
		ret = r.status;
	} else if (!(*resp = cri_unframe(resp_desc, r.body, r.n, why, sizeof(why)))) {
		snprintf(err, errlen, "%s on %s: %s", method, c->path, why);
		ret = -EPROTO;
	}
out:
	free(r.body);
	return ret;
}

int cri_version(struct cri_client *c, Runtime__V1__VersionResponse **out, char *err, size_t errlen)
{
	Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;

	req.version = "v1";
	return cri_call(c, "Version", &req.base, &runtime__v1__version_response__descriptor,
			(ProtobufCMessage **)out, err, errlen);
}

int cri_container_status(struct cri_client *c, const char *id,
			 Runtime__V1__ContainerStatusResponse **out, char *err, size_t errlen)
{
	Runtime__V1__ContainerStatusRequest req = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;

	req.container_id = (char *)id;
	return cri_call(c, "ContainerStatus", &req.base,
			&runtime__v1__container_status_response__descriptor,
			(ProtobufCMessage **)out, err, errlen);
}

int cri_pod_status(struct cri_client *c, const char *id,
		   Runtime__V1__PodSandboxStatusResponse **out, char *err, size_t errlen)
{
	Runtime__V1__PodSandboxStatusRequest req = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;

	req.pod_sandbox_id = (char *)id;
	return cri_call(c, "PodSandboxStatus", &req.base,
			&runtime__v1__pod_sandbox_status_response__descriptor,
			(ProtobufCMessage **)out, err, errlen);
}

int cri_list_containers(struct cri_client *c, const char *id, int state,
			Runtime__V1__ListContainersResponse **out, char *err, size_t errlen)
{
	Runtime__V1__ListContainersRequest req = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
	Runtime__V1__ContainerFilter f = RUNTIME__V1__CONTAINER_FILTER__INIT;
	Runtime__V1__ContainerStateValue sv = RUNTIME__V1__CONTAINER_STATE_VALUE__INIT;

	if (id) {
		f.id = (char *)id;
		req.filter = &f;
	}
	if (state >= 0) {
		sv.state = (Runtime__V1__ContainerState)state;
		f.state = &sv;
		req.filter = &f;
	}
	return cri_call(c, "ListContainers", &req.base,
			&runtime__v1__list_containers_response__descriptor,
			(ProtobufCMessage **)out, err, errlen);
}

int cri_list_pods(struct cri_client *c, Runtime__V1__ListPodSandboxResponse **out, char *err,
		  size_t errlen)
{
	Runtime__V1__ListPodSandboxRequest req = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;

	return cri_call(c, "ListPodSandbox", &req.base,
			&runtime__v1__list_pod_sandbox_response__descriptor,
			(ProtobufCMessage **)out, err, errlen);
}
