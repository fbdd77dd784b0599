/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared by containers.c (cache, Docker API) and containers_cri.c. */
#ifndef HUSH_AGENT_CONTAINERS_INT_H
#define HUSH_AGENT_CONTAINERS_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>

#include "agent/containers.h"

struct json_object;

enum { CTR_DOCKER, CTR_PODMAN, CTR_CONTAINERD, CTR_NENGINES };

struct ctr_engine {
	struct containers *c;
	const char *name;
	char sock[PATH_MAX];
	pthread_t thr;
	bool started;
	bool connected; /* under c->mu */
	char error[160];
};

struct containers {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	uint64_t gen;
	struct ctr_meta *v;
	size_t n, cap;
	struct ctr_engine eng[CTR_NENGINES];
	char cd_state[PATH_MAX];
	char ctr_bin[PATH_MAX];
	bool quiet;
	int efd; /* eventfd: a change */
};

/* m's labels move into the cache. */
void ctrs_put(struct containers *c, struct ctr_meta *m);
void ctrs_drop(struct containers *c, const char *id);
void ctrs_sync(struct containers *c, const char *eng, char (*keep)[65], size_t n);
void ctrs_engine_state(struct ctr_engine *e, bool connected, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool ctrs_sleep(struct containers *c, unsigned ms);
bool ctrs_stopping(struct containers *c);
const char *ctrs_jstr(struct json_object *o, const char *key);
void ctrs_labels(struct ctr_meta *m, struct json_object *labels);

void *cri_thread(void *arg);

#endif /* HUSH_AGENT_CONTAINERS_INT_H */
