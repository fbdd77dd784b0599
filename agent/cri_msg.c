// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The CRI client's parts without I/O (see cri.h): gRPC framing, status
 * names, and the container metadata of a CRI container and pod status.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/containers.h"
#include "agent/cri.h"

uint8_t *cri_frame(const ProtobufCMessage *msg, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *b;

	if (n > CRI_MSG_MAX)
		return NULL;
	b = malloc(5 + n);
	if (!b)
		return NULL;
	b[0] = 0; /* not compressed */
	b[1] = (uint8_t)(n >> 24);
	b[2] = (uint8_t)(n >> 16);
	b[3] = (uint8_t)(n >> 8);
	b[4] = (uint8_t)n;
	if (protobuf_c_message_pack(msg, b + 5) != n) {
		free(b);
		return NULL;
	}
	*len = 5 + n;
	return b;
}

ProtobufCMessage *cri_unframe(const ProtobufCMessageDescriptor *d, const uint8_t *body, size_t n,
			      char *err, size_t errlen)
{
	uint32_t len;
	ProtobufCMessage *m;

	if (n < 5) {
		snprintf(err, errlen, "reply of %zu bytes: no gRPC message", n);
		return NULL;
	}
	if (body[0] != 0) {
		snprintf(err, errlen, "reply is compressed (flag %u): not asked for", body[0]);
		return NULL;
	}
	len = (uint32_t)body[1] << 24 | (uint32_t)body[2] << 16 | (uint32_t)body[3] << 8 |
	      (uint32_t)body[4];
	if (len > CRI_MSG_MAX || len != n - 5) {
		snprintf(err, errlen, "reply frame says %u bytes, %zu came", len, n - 5);
		return NULL;
	}
	m = protobuf_c_message_unpack(d, NULL, len, body + 5);
	if (!m)
		snprintf(err, errlen, "reply is no valid %s message", d->name);
	return m;
}

const char *cri_code_name(int code)
{
	static const char *const names[] = {"OK",
					    "CANCELLED",
					    "UNKNOWN",
					    "INVALID_ARGUMENT",
					    "DEADLINE_EXCEEDED",
					    "NOT_FOUND",
					    "ALREADY_EXISTS",
					    "PERMISSION_DENIED",
					    "RESOURCE_EXHAUSTED",
					    "FAILED_PRECONDITION",
					    "ABORTED",
					    "OUT_OF_RANGE",
					    "UNIMPLEMENTED",
					    "INTERNAL",
					    "UNAVAILABLE",
					    "DATA_LOSS",
					    "UNAUTHENTICATED"};
	static __thread char buf[24];

	if (code >= 0 && (size_t)code < sizeof(names) / sizeof(names[0]))
		return names[code];
	snprintf(buf, sizeof(buf), "code %d", code);
	return buf;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

void cri_pct_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		int h, l;

		if (s[0] == '%' && (h = hexval((unsigned char)s[1])) >= 0 &&
		    (l = hexval((unsigned char)s[2])) >= 0) {
			*o++ = (char)(h << 4 | l);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

static bool has_label(const struct ctr_meta *m, const char *k)
{
	for (size_t i = 0; i < m->nlabels; i++)
		if (!strcmp(m->lkey[i], k))
			return true;
	return false;
}

static void add_label(struct ctr_meta *m, const char *k, const char *v)
{
	char *dk, *dv;

	if (!k || !v || m->nlabels >= CTR_MAX_LABELS || has_label(m, k))
		return;
	dk = strdup(k);
	dv = strdup(v);
	if (!dk || !dv) {
		free(dk);
		free(dv);
		return;
	}
	m->lkey[m->nlabels] = dk;
	m->lval[m->nlabels++] = dv;
}

/* Every map<string,string> entry type of protobuf-c has this layout; the
 * macro walks one without casting between the entry types. */
#define ADD_MAP(m, n, v)                                                                           \
	do {                                                                                       \
		for (size_t i_ = 0; i_ < (n); i_++)                                                \
			add_label((m), (v)[i_]->key, (v)[i_]->value);                              \
	} while (0)

static void set(char *dst, size_t len, const char *s)
{
	if (s && s[0])
		snprintf(dst, len, "%s", s);
}

/* The kubelet's labels on the container name its pod. */
static void pod_from_labels(struct ctr_meta *m)
{
	for (size_t i = 0; i < m->nlabels; i++) {
		if (!m->pod_ns[0] && !strcmp(m->lkey[i], "io.kubernetes.pod.namespace"))
			set(m->pod_ns, sizeof(m->pod_ns), m->lval[i]);
		else if (!m->pod_name[0] && !strcmp(m->lkey[i], "io.kubernetes.pod.name"))
			set(m->pod_name, sizeof(m->pod_name), m->lval[i]);
	}
}

/* image_id (CRI >= 1.29), else image_ref when it is an id ("sha256:..."),
 * not a digested reference. */
static void image_id(struct ctr_meta *m, const char *id, const char *ref)
{
	if (id && id[0])
		set(m->image_id, sizeof(m->image_id), id);
	else if (ref && !strncmp(ref, "sha256:", 7))
		set(m->image_id, sizeof(m->image_id), ref);
}

void cri_meta_container(struct ctr_meta *m, const Runtime__V1__Container *k)
{
	if (k->metadata)
		set(m->name, sizeof(m->name), k->metadata->name);
	if (k->image)
		set(m->image, sizeof(m->image), k->image->image);
	image_id(m, k->image_id, k->image_ref);
	ADD_MAP(m, k->n_labels, k->labels);
	m->running = k->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
	pod_from_labels(m);
}

void cri_meta_status(struct ctr_meta *m, const Runtime__V1__ContainerStatus *st)
{
	if (st->metadata)
		set(m->name, sizeof(m->name), st->metadata->name);
	if (st->image)
		set(m->image, sizeof(m->image), st->image->image);
	image_id(m, st->image_id, st->image_ref);
	ADD_MAP(m, st->n_labels, st->labels);
	m->running = st->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
	pod_from_labels(m);
}

void cri_meta_pod(struct ctr_meta *m, const Runtime__V1__PodSandboxStatus *pod, bool sandbox)
{
	if (sandbox) {
		snprintf(m->name, sizeof(m->name), "POD");
		m->running = pod->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
	}
	ADD_MAP(m, pod->n_labels, pod->labels);
	if (pod->metadata) {
		set(m->pod_ns, sizeof(m->pod_ns), pod->metadata->namespace_);
		set(m->pod_name, sizeof(m->pod_name), pod->metadata->name);
		if (pod->metadata->uid && pod->metadata->uid[0])
			add_label(m, "io.kubernetes.pod.uid", pod->metadata->uid);
	}
}
