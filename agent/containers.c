// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Container metadata: the cache and the Docker Engine API watchers (docker
 * and podman's compatible API).  See containers.h; containerd is in
 * containers_cri.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "agent/containers_int.h"
#include "agent/curl_load.h"
#include "agent/log.h"

/* ---- the cache ---- */

void ctr_meta_free(struct ctr_meta *m)
{
	for (size_t i = 0; i < m->nlabels; i++) {
		free(m->lkey[i]);
		free(m->lval[i]);
	}
	m->nlabels = 0;
}

static int meta_copy(struct ctr_meta *dst, const struct ctr_meta *src)
{
	*dst = *src;
	dst->nlabels = 0;
	for (size_t i = 0; i < src->nlabels; i++) {
		dst->lkey[i] = strdup(src->lkey[i]);
		dst->lval[i] = strdup(src->lval[i]);
		dst->nlabels = i + 1;
		if (!dst->lkey[i] || !dst->lval[i]) {
			ctr_meta_free(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

void ctr_meta_policy(const struct ctr_meta *m, struct policy_ctr *out)
{
	out->id = m->id;
	out->name = m->name;
	out->image = m->image;
	out->pod_ns = m->pod_ns[0] ? m->pod_ns : NULL;
	out->pod_name = m->pod_name[0] ? m->pod_name : NULL;
	out->nlabels = m->nlabels;
	out->lkey = (const char *const *)m->lkey;
	out->lval = (const char *const *)m->lval;
}

static struct ctr_meta *find_locked(struct containers *c, const char *id)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].id, id))
			return &c->v[i];
	return NULL;
}

/* Under c->mu. */
static void changed(struct containers *c)
{
	uint64_t one = 1;

	c->gen++;
	if (c->efd >= 0 && write(c->efd, &one, sizeof(one)) < 0) {
		/* (EAGAIN: the counter is full, so it is readable anyway) */
	}
}

int containers_fd(struct containers *c)
{
	return c ? c->efd : -1;
}

void ctrs_put(struct containers *c, struct ctr_meta *m)
{
	struct ctr_meta *old;

	pthread_mutex_lock(&c->mu);
	old = find_locked(c, m->id);
	if (!old && c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 16;
		struct ctr_meta *nv = realloc(c->v, nc * sizeof(*nv));

		if (!nv) {
			pthread_mutex_unlock(&c->mu);
			ctr_meta_free(m);
			return;
		}
		c->v = nv;
		c->cap = nc;
	}
	if (old)
		ctr_meta_free(old);
	else
		old = &c->v[c->n++];
	/* the labels move into the cache */
	*old = *m;
	changed(c);
	pthread_mutex_unlock(&c->mu);
}

void ctrs_drop(struct containers *c, const char *id)
{
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->v[i].id, id))
			continue;
		ctr_meta_free(&c->v[i]);
		c->v[i] = c->v[--c->n];
		changed(c);
		break;
	}
	pthread_mutex_unlock(&c->mu);
}

/* Drop the containers of engine `eng` whose ids are not in keep[0..n). */
void ctrs_sync(struct containers *c, const char *eng, char (*keep)[65], size_t n)
{
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->n;) {
		bool kept = strcmp(c->v[i].engine, eng) != 0;

		for (size_t k = 0; !kept && k < n; k++)
			kept = !strcmp(keep[k], c->v[i].id);
		if (kept) {
			i++;
			continue;
		}
		ctr_meta_free(&c->v[i]);
		c->v[i] = c->v[--c->n];
		changed(c);
	}
	pthread_mutex_unlock(&c->mu);
}

uint64_t containers_gen(struct containers *c)
{
	uint64_t g;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->mu);
	g = c->gen;
	pthread_mutex_unlock(&c->mu);
	return g;
}

int containers_lookup(struct containers *c, const char *id, struct ctr_meta *out)
{
	struct ctr_meta *m;
	int ret = -ENOENT;

	if (!c || !id || !id[0])
		return -ENOENT;
	pthread_mutex_lock(&c->mu);
	m = find_locked(c, id);
	if (m)
		ret = meta_copy(out, m);
	pthread_mutex_unlock(&c->mu);
	return ret;
}

int containers_lookup_cgroup(struct containers *c, const char *cgpath, struct ctr_meta *out)
{
	int ret = -ENOENT;

	if (!c || !cgpath || !cgpath[0])
		return -ENOENT;
	while (*cgpath == '/')
		cgpath++;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->n && ret == -ENOENT; i++) {
		const char *p = c->v[i].cgroup;

		while (*p == '/')
			p++;
		if (p[0] && !strcmp(p, cgpath))
			ret = meta_copy(out, &c->v[i]);
	}
	pthread_mutex_unlock(&c->mu);
	return ret;
}

int containers_list(struct containers *c, struct ctr_meta **out, size_t *n)
{
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!c)
		return 0;
	pthread_mutex_lock(&c->mu);
	if (c->n) {
		*out = calloc(c->n, sizeof(**out));
		if (!*out)
			ret = -ENOMEM;
	}
	for (size_t i = 0; !ret && i < c->n; i++) {
		ret = meta_copy(&(*out)[i], &c->v[i]);
		if (!ret)
			*n = i + 1;
	}
	pthread_mutex_unlock(&c->mu);
	return ret;
}

size_t containers_status(struct containers *c, struct containers_status *st, size_t max)
{
	size_t k = 0;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < CTR_NENGINES && k < max; i++) {
		struct ctr_engine *e = &c->eng[i];

		memset(&st[k], 0, sizeof(st[k]));
		st[k].engine = e->name;
		st[k].watched = e->sock[0] != 0;
		st[k].connected = e->connected;
		snprintf(st[k].error, sizeof(st[k].error), "%s", e->error);
		for (size_t j = 0; j < c->n; j++)
			st[k].containers += !strcmp(c->v[j].engine, e->name);
		k++;
	}
	pthread_mutex_unlock(&c->mu);
	return k;
}

void ctrs_engine_state(struct ctr_engine *e, bool connected, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&e->c->mu);
	if (connected && !e->connected && !e->c->quiet)
		log_info("%s: connected to %s", e->name, e->sock);
	e->connected = connected;
	if (fmt) {
		char msg[sizeof(e->error)];

		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		if (strcmp(msg, e->error) && !e->c->quiet)
			log_warnx("%s: %s (retrying with backoff; containers of this engine "
				  "keep the rules of their enclosing scope until it answers)",
				  e->name, msg);
		snprintf(e->error, sizeof(e->error), "%s", msg);
	} else {
		e->error[0] = 0;
	}
	pthread_mutex_unlock(&e->c->mu);
}

/* Sleep up to ms, waking early on stop; true if stopping. */
bool ctrs_sleep(struct containers *c, unsigned ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->mu);
	while (!c->stop && pthread_cond_timedwait(&c->cv, &c->mu, &ts) == 0)
		;
	stop = c->stop;
	pthread_mutex_unlock(&c->mu);
	return stop;
}

bool ctrs_stopping(struct containers *c)
{
	return __atomic_load_n(&c->stop, __ATOMIC_ACQUIRE);
}

/* ---- JSON helpers ---- */

const char *ctrs_jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Labels (a JSON object of strings) into m; pod namespace/name from
 * the kubelet's labels. */
void ctrs_labels(struct ctr_meta *m, struct json_object *labels)
{
	if (!labels || !json_object_is_type(labels, json_type_object))
		return;
	json_object_object_foreach(labels, k, v)
	{
		const char *s =
		    json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;

		if (!s || m->nlabels >= CTR_MAX_LABELS)
			continue;
		m->lkey[m->nlabels] = strdup(k);
		m->lval[m->nlabels] = strdup(s);
		if (!m->lkey[m->nlabels] || !m->lval[m->nlabels]) {
			free(m->lkey[m->nlabels]);
			free(m->lval[m->nlabels]);
			continue;
		}
		m->nlabels++;
		if (!strcmp(k, "io.kubernetes.pod.namespace"))
			snprintf(m->pod_ns, sizeof(m->pod_ns), "%s", s);
		else if (!strcmp(k, "io.kubernetes.pod.name"))
			snprintf(m->pod_name, sizeof(m->pod_name), "%s", s);
	}
}

/* ---- Docker Engine API ---- */

struct buf {
	char *p;
	size_t n;
};

#define BODY_MAX (8u << 20)

static size_t buf_write(char *d, size_t sz, size_t nm, void *arg)
{
	struct buf *b = arg;
	size_t n = sz * nm;
	char *np;

	if (b->n + n > BODY_MAX)
		return 0;
	np = realloc(b->p, b->n + n + 1);
	if (!np)
		return 0;
	memcpy(np + b->n, d, n);
	b->n += n;
	np[b->n] = 0;
	b->p = np;
	return n;
}

static int progress_stop(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	return ctrs_stopping(arg) ? 1 : 0;
}

static CURL *api_handle(struct ctr_engine *e, const char *path, char *url, size_t ulen)
{
	CURL *h = curl_easy_init();

	if (!h) {
		ctrs_engine_state(e, false, "%s",
				  hush_curl_error() ? hush_curl_error()
						    : "cannot make a curl handle");
		return NULL;
	}
	snprintf(url, ulen, "http://localhost%s", path);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, e->sock);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_stop);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, e->c);
	return h;
}

/* GET path -> parsed JSON (caller puts), or NULL with e->error set. */
static struct json_object *api_get(struct ctr_engine *e, const char *path, long *status)
{
	char url[512];
	struct buf b = {0};
	struct json_object *j = NULL;
	CURL *h = api_handle(e, path, url, sizeof(url));
	CURLcode rc;

	*status = 0;
	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buf_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (rc != CURLE_OK)
		ctrs_engine_state(e, false, "GET %s on %s: %s", path, e->sock,
				  curl_easy_strerror(rc));
	else if (*status == 200 && b.p)
		j = json_tokener_parse(b.p);
	curl_easy_cleanup(h);
	free(b.p);
	return j;
}

/* Inspect one container into the cache (or drop it when gone). */
static int inspect(struct ctr_engine *e, const char *id)
{
	char path[160];
	long status;
	struct json_object *j, *cfg = NULL, *st = NULL, *lab = NULL, *v;
	struct ctr_meta m;
	const char *s;

	snprintf(path, sizeof(path), "/containers/%.64s/json", id);
	j = api_get(e, path, &status);
	if (!j) {
		if (status == 404)
			ctrs_drop(e->c, id);
		return status == 404 ? 0 : -EIO;
	}
	memset(&m, 0, sizeof(m));
	snprintf(m.engine, sizeof(m.engine), "%s", e->name);
	snprintf(m.id, sizeof(m.id), "%s", (s = ctrs_jstr(j, "Id")) ? s : id);
	s = ctrs_jstr(j, "Name");
	snprintf(m.name, sizeof(m.name), "%s", s ? s + (s[0] == '/') : "");
	json_object_object_get_ex(j, "Config", &cfg);
	snprintf(m.image, sizeof(m.image), "%s", (s = ctrs_jstr(cfg, "Image")) ? s : "");
	if (!m.image[0] && (s = ctrs_jstr(j, "ImageName")))
		snprintf(m.image, sizeof(m.image), "%s", s);
	snprintf(m.image_id, sizeof(m.image_id), "%s", (s = ctrs_jstr(j, "Image")) ? s : "");
	if (json_object_object_get_ex(j, "State", &st) &&
	    json_object_object_get_ex(st, "Running", &v))
		m.running = json_object_get_boolean(v);
	if (cfg && json_object_object_get_ex(cfg, "Labels", &lab))
		ctrs_labels(&m, lab);
	json_object_put(j);
	ctrs_put(e->c, &m);
	return 0;
}

/* Full list and inspect; drops what is gone. */
static int resync(struct ctr_engine *e)
{
	long status;
	struct json_object *j = api_get(e, "/containers/json?all=1", &status);
	char(*keep)[65] = NULL;
	size_t n, k = 0;
	int ret = 0;

	if (!j || !json_object_is_type(j, json_type_array)) {
		if (j)
			json_object_put(j);
		else if (status)
			ctrs_engine_state(e, false, "GET /containers/json on %s: HTTP %ld", e->sock,
					  status);
		return -EIO;
	}
	n = json_object_array_length(j);
	keep = calloc(n ? n : 1, sizeof(*keep));
	for (size_t i = 0; keep && i < n && !ret; i++) {
		const char *id = ctrs_jstr(json_object_array_get_idx(j, i), "Id");

		if (!id)
			continue;
		snprintf(keep[k++], sizeof(*keep), "%s", id);
		ret = inspect(e, id);
	}
	if (keep && !ret)
		ctrs_sync(e->c, e->name, keep, k);
	free(keep);
	json_object_put(j);
	return keep ? ret : -ENOMEM;
}

/* The event stream: one JSON object per line. */
struct evstream {
	struct ctr_engine *e;
	struct buf line;
};

static void on_event(struct ctr_engine *e, const char *text)
{
	struct json_object *j = json_tokener_parse(text), *actor = NULL;
	const char *action, *id;

	if (!j)
		return;
	action = ctrs_jstr(j, "Action");
	if (!action)
		action = ctrs_jstr(j, "status");
	if (json_object_object_get_ex(j, "Actor", &actor))
		id = ctrs_jstr(actor, "ID");
	else
		id = ctrs_jstr(j, "id");
	if (action && id) {
		log_debug("%s: event %s %.12s", e->name, action, id);
		if (!strcmp(action, "destroy") || !strcmp(action, "remove"))
			ctrs_drop(e->c, id);
		else
			inspect(e, id);
	}
	json_object_put(j);
}

static size_t ev_write(char *d, size_t sz, size_t nm, void *arg)
{
	struct evstream *s = arg;
	size_t n = sz * nm;

	for (size_t i = 0; i < n; i++) {
		if (d[i] != '\n') {
			if (s->line.n < 65536 && !buf_write(d + i, 1, 1, &s->line))
				return 0;
			continue;
		}
		if (s->line.n)
			on_event(s->e, s->line.p);
		s->line.n = 0;
	}
	return n;
}

/* Stream events until the engine closes or we stop. */
static void events(struct ctr_engine *e)
{
	char url[512];
	struct evstream s = {.e = e};
	CURL *h =
	    api_handle(e,
		       "/events?filters=%7B%22type%22%3A%5B%22container%22%5D%2C%22event%22%3A"
		       "%5B%22create%22%2C%22start%22%2C%22die%22%2C%22destroy%22%2C%22"
		       "rename%22%2C%22remove%22%5D%7D",
		       url, sizeof(url));
	CURLcode rc;

	if (!h)
		return;
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ev_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	rc = curl_easy_perform(h);
	if (!ctrs_stopping(e->c))
		ctrs_engine_state(e, false, "event stream on %s ended: %s", e->sock,
				  rc == CURLE_OK ? "closed by the engine" : curl_easy_strerror(rc));
	curl_easy_cleanup(h);
	free(s.line.p);
}

static void *api_thread(void *arg)
{
	struct ctr_engine *e = arg;
	unsigned backoff = 500;

	while (!ctrs_stopping(e->c)) {
		if (access(e->sock, F_OK)) {
			ctrs_engine_state(e, false, "no socket %s", e->sock);
		} else if (resync(e) == 0) {
			ctrs_engine_state(e, true, NULL);
			backoff = 500;
			/* events since the list may be missed: resync after the stream too */
			events(e);
			continue;
		}
		if (ctrs_sleep(e->c, backoff))
			break;
		backoff = backoff * 2 > 10000 ? 10000 : backoff * 2;
	}
	return NULL;
}

/* ---- start, stop, options ---- */

void containers_default_opts(struct containers_opts *o)
{
	const char *dh = getenv("DOCKER_HOST");

	memset(o, 0, sizeof(*o));
	o->docker_sock = "/run/docker.sock";
	if (dh && !strncmp(dh, "unix://", 7))
		o->docker_sock = dh + 7;
	o->podman_sock = "/run/podman/podman.sock";
	o->containerd_sock = "/run/containerd/containerd.sock";
	o->containerd_state = "/run/containerd";
	o->ctr_bin = "ctr";
}

int containers_start(const struct containers_opts *o, struct containers **out)
{
	struct containers *c = calloc(1, sizeof(*c));
	const char *socks[CTR_NENGINES] = {o->docker_sock, o->podman_sock, o->containerd_sock};
	static const char *const names[CTR_NENGINES] = {"docker", "podman", "containerd"};

	if (!c)
		return -ENOMEM;
	curl_global_init(CURL_GLOBAL_NOTHING);
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	snprintf(c->cd_state, sizeof(c->cd_state), "%s",
		 o->containerd_state ? o->containerd_state : "/run/containerd");
	snprintf(c->ctr_bin, sizeof(c->ctr_bin), "%s", o->ctr_bin ? o->ctr_bin : "ctr");
	c->quiet = o->quiet;
	for (int i = 0; i < CTR_NENGINES; i++) {
		struct ctr_engine *e = &c->eng[i];

		e->c = c;
		e->name = names[i];
		snprintf(e->sock, sizeof(e->sock), "%s", socks[i] ? socks[i] : "");
		if (!e->sock[0])
			continue;
		e->started = pthread_create(&e->thr, NULL,
					    i == CTR_CONTAINERD ? cri_thread : api_thread, e) == 0;
		if (!e->started)
			log_warnx("%s: cannot start its watcher thread: container metadata of %s "
				  "is not known",
				  e->name, e->name);
	}
	*out = c;
	return 0;
}

void containers_stop(struct containers *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	__atomic_store_n(&c->stop, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	for (int i = 0; i < CTR_NENGINES; i++)
		if (c->eng[i].started)
			pthread_join(c->eng[i].thr, NULL);
	for (size_t i = 0; i < c->n; i++)
		ctr_meta_free(&c->v[i]);
	free(c->v);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	if (c->efd >= 0)
		close(c->efd);
	free(c);
}
