/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A client of the Kubernetes CRI v1 API (runtime.v1.RuntimeService) over a
 * runtime's gRPC unix socket: containerd's (with its CRI plugin) or CRI-O's.
 *
 * gRPC, unary calls only, done by hand on libcurl's HTTP/2 (nghttp2):
 * prior knowledge (no upgrade, no TLS) over CURLOPT_UNIX_SOCKET_PATH, a POST
 * to /runtime.v1.RuntimeService/<Method> with content-type
 * application/grpc and te: trailers; the body is one length-prefixed message
 * (1 byte "compressed" = 0, 4 bytes big-endian length, the protobuf bytes),
 * encoded and decoded by protobuf-c from agent/cri_api.proto (a subset of
 * the CRI's api.proto with its field numbers).  The call's outcome is the
 * grpc-status trailer (or header, for a trailers-only answer): 0 OK, else a
 * gRPC code with grpc-message.
 *
 * cri_msg.c has the parts without I/O (framing, status, the metadata a
 * container's and its pod's status give): unit-tested without a runtime.
 */
#ifndef HUSH_AGENT_CRI_H
#define HUSH_AGENT_CRI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "agent/cri_api.pb-c.h"

struct ctr_meta;

/* gRPC status codes hush tells apart. */
enum {
	CRI_OK = 0,
	CRI_NOT_FOUND = 5,
	CRI_UNIMPLEMENTED = 12,
	CRI_UNAVAILABLE = 14,
};

/* The largest reply accepted (containerd's own limit is 16 MiB). */
#define CRI_MSG_MAX (16u << 20)

/* ---- cri_msg.c: no I/O ---- */

/* The gRPC frame of msg (malloc'd, *len bytes), or NULL. */
uint8_t *cri_frame(const ProtobufCMessage *msg, size_t *len);
/* The message of a reply body (one frame), or NULL with why in err. */
ProtobufCMessage *cri_unframe(const ProtobufCMessageDescriptor *d, const uint8_t *body, size_t n,
			      char *err, size_t errlen);
/* The name of a gRPC status code ("NOT_FOUND"), or "code N". */
const char *cri_code_name(int code);
/* grpc-message is percent-encoded: decoded in place. */
void cri_pct_decode(char *s);

/* What the CRI says of a container, into m (labels strdup'd: ctr_meta_free):
 * name, image and image id, labels, running; pod namespace and name from the
 * kubelet's labels io.kubernetes.pod.*.  From ListContainers' entry or from
 * ContainerStatus (whose image is the tag the runtime resolved). */
void cri_meta_container(struct ctr_meta *m, const Runtime__V1__Container *k);
void cri_meta_status(struct ctr_meta *m, const Runtime__V1__ContainerStatus *st);
/* The pod's part: its labels after the container's (a key the container has
 * wins), namespace, name, and uid as label io.kubernetes.pod.uid.  For a pod
 * sandbox itself (sandbox true) the name is "POD", as the kubelet's
 * dockershim named it, and running means ready. */
void cri_meta_pod(struct ctr_meta *m, const Runtime__V1__PodSandboxStatus *pod, bool sandbox);

/* ---- cri_grpc.c: calls ---- */

struct cri_client;

/* A client for the socket at path (no I/O yet), or NULL (ENOMEM). */
struct cri_client *cri_open(const char *path);
void cri_close(struct cri_client *c);
/* Per call, in ms (default 5000). */
void cri_set_timeout(struct cri_client *c, long ms);
/* Abort a call in flight when stop() returns true (checked ~ every second). */
void cri_set_stop(struct cri_client *c, int (*stop)(void *), void *arg);

/* Call runtime.v1.RuntimeService/<method> with req.  0 and *resp (free it
 * with protobuf_c_message_free_unpacked), a gRPC code > 0, or a negative
 * errno when no gRPC answer came (socket absent, refused, not HTTP/2,
 * timeout); err says what failed in every case but 0. */
int cri_call(struct cri_client *c, const char *method, const ProtobufCMessage *req,
	     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, char *err,
	     size_t errlen);

/* Typed calls (same results as cri_call). */
int cri_version(struct cri_client *c, Runtime__V1__VersionResponse **out, char *err, size_t errlen);
int cri_container_status(struct cri_client *c, const char *id,
			 Runtime__V1__ContainerStatusResponse **out, char *err, size_t errlen);
int cri_pod_status(struct cri_client *c, const char *id,
		   Runtime__V1__PodSandboxStatusResponse **out, char *err, size_t errlen);
/* id NULL: every container; state < 0: any state. */
int cri_list_containers(struct cri_client *c, const char *id, int state,
			Runtime__V1__ListContainersResponse **out, char *err, size_t errlen);
int cri_list_pods(struct cri_client *c, Runtime__V1__ListPodSandboxResponse **out, char *err,
		  size_t errlen);

#define cri_free(m) protobuf_c_message_free_unpacked((ProtobufCMessage *)(m), NULL)

#endif /* HUSH_AGENT_CRI_H */
