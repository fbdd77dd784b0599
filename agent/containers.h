/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the container engines say of their containers: name, image (and its
 * id), labels, Kubernetes pod namespace and name, kept current from the
 * engines' own API sockets.
 *
 *   docker   Docker Engine API on a unix socket (libcurl): GET
 *            /containers/json?all=1 and /containers/{id}/json once per
 *            connection, then the streaming GET /events (type container:
 *            create, start, die, destroy, rename), each event followed by
 *            an inspect of its container.
 *   podman   the same endpoints on podman's Docker-compatible API socket
 *            (`podman system service`).
 *   containerd  new tasks from their OCI bundles under containerd's state
 *            directory (<state>/io.containerd.runtime.v2.task/<ns>/<id>/
 *            config.json, linux.cgroupsPath names the cgroup), scanned once a
 *            second; a task of namespace k8s.io is named by the CRI on the
 *            same socket (agent/cri.h: ContainerStatus, ListContainers,
 *            PodSandboxStatus, gRPC), else by the bundle's io.kubernetes.cri.*
 *            annotations and `ctr --address SOCK -n NS containers info ID`
 *            (JSON: labels, image).  See containers_cri.c.
 *
 * Each engine has a thread of its own; a socket that is absent, refuses,
 * stalls (5 s per request) or closes is retried with backoff (0.5 s doubling
 * to 10 s), and resynchronized in full on reconnect.  Nothing here ever
 * blocks the caller: lookups take a mutex held only for copying.
 */
#ifndef HUSH_AGENT_CONTAINERS_H
#define HUSH_AGENT_CONTAINERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/policy.h"

#define CTR_MAX_LABELS 64

struct ctr_meta {
	char id[65];	    /* engine's id (64 hex for docker/podman/CRI) */
	char engine[12];    /* "docker", "podman", "containerd" */
	char name[128];	    /* without docker's leading '/' */
	char image[256];    /* as the container was created from ("busybox:latest") */
	char image_id[80];  /* "sha256:..." */
	char pod_ns[64];    /* Kubernetes namespace, or "" */
	char pod_name[128]; /* Kubernetes pod name, or "" */
	char cgroup[512];   /* cgroup path when the engine says it ("" else) */
	bool running;
	size_t nlabels;
	char *lkey[CTR_MAX_LABELS], *lval[CTR_MAX_LABELS];
};

struct containers_opts {
	const char *docker_sock;      /* NULL or "": not watched */
	const char *podman_sock;      /* NULL or "": not watched */
	const char *containerd_sock;  /* NULL or "": not watched */
	const char *containerd_state; /* default /run/containerd */
	const char *ctr_bin;	      /* default "ctr" (PATH) */
	bool quiet;		      /* no log lines about the engines */
};

struct containers;

/* Start the watcher threads (never fails for an absent engine). */
int containers_start(const struct containers_opts *o, struct containers **out);
void containers_stop(struct containers *c);

/* Bumped on every change of the cache (a cheap "anything new?"). */
uint64_t containers_gen(struct containers *c);
/* An eventfd that becomes readable on every change (read it to rearm), or -1. */
int containers_fd(struct containers *c);

/* Copy what is known of container `id` (full id, or a cgroup path when
 * by_cgroup) into out (labels strdup'd: ctr_meta_free). 0, or -ENOENT. */
int containers_lookup(struct containers *c, const char *id, struct ctr_meta *out);
int containers_lookup_cgroup(struct containers *c, const char *cgpath, struct ctr_meta *out);
void ctr_meta_free(struct ctr_meta *m);

/* The selector view of m (pointers into m). */
void ctr_meta_policy(const struct ctr_meta *m, struct policy_ctr *out);

/* Every container known now, running or not (caller frees each with
 * ctr_meta_free, then the array). */
int containers_list(struct containers *c, struct ctr_meta **out, size_t *n);

struct containers_status {
	const char *engine;
	bool watched, connected;
	char error[160];
	size_t containers;
};
/* Up to 3 engines; returns how many. */
size_t containers_status(struct containers *c, struct containers_status *st, size_t max);

/* Engine sockets from the environment and defaults: DOCKER_HOST
 * (unix:// only) else /run/docker.sock; /run/podman/podman.sock;
 * /run/containerd/containerd.sock. */
void containers_default_opts(struct containers_opts *o);

#endif /* HUSH_AGENT_CONTAINERS_H */
