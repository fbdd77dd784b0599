// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The CRI client without a runtime: gRPC framing, protobuf-c encode/decode
 * round trips of agent/cri_api.proto, bytes as a CRI runtime sends them
 * (hand-made with the CRI's field numbers, unknown fields included), and the
 * container metadata a container's and its pod's status give.
 */
#include <stdlib.h>
#include <string.h>

#define TC_PREFIX "cri: "
#include "tests/unit/tc.h"

#include "agent/containers.h"
#include "agent/cri.h"

static void meta_free(struct ctr_meta *m)
{
	for (size_t i = 0; i < m->nlabels; i++) {
		free(m->lkey[i]);
		free(m->lval[i]);
	}
	m->nlabels = 0;
}

static const char *label(const struct ctr_meta *m, const char *k)
{
	for (size_t i = 0; i < m->nlabels; i++)
		if (!strcmp(m->lkey[i], k))
			return m->lval[i];
	return NULL;
}

static bool eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* A request as a runtime reads it: the exact bytes. */
static void t_request_bytes(void)
{
	struct tc t;
	Runtime__V1__ListContainersRequest req = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
	Runtime__V1__ContainerFilter f = RUNTIME__V1__CONTAINER_FILTER__INIT;
	Runtime__V1__ContainerStateValue sv = RUNTIME__V1__CONTAINER_STATE_VALUE__INIT;
	/* filter(1){ id(1)="x", state(2){ state(1)=RUNNING(1) } } */
	static const uint8_t want[] = {0,    0,	   0,	0,    9,    0x0a, 0x07,
				       0x0a, 0x01, 'x', 0x12, 0x02, 0x08, 0x01};
	size_t n = 0;
	uint8_t *b;

	tc_begin(&t, "ListContainersRequest{filter{id, state RUNNING}}: the CRI's bytes, framed");
	f.id = "x";
	sv.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
	f.state = &sv;
	req.filter = &f;
	b = cri_frame(&req.base, &n);
	CHECK(&t, b && n == sizeof(want), "frame of %zu bytes, want %zu", n, sizeof(want));
	CHECK(&t, b && n == sizeof(want) && !memcmp(b, want, n), "bytes differ");
	free(b);
	tc_end(&t);
}

/* A ContainerStatusResponse as containerd sends it, with fields hush's
 * .proto leaves out (resources 16, mounts 14) that must be skipped. */
static const uint8_t status_reply[] = {
    0,
    0,
    0,
    0,
    0x6c,
    /* status (1), 0x6a bytes */
    0x0a,
    0x6a,
    /* id (1) "c1" */
    0x0a,
    0x02,
    'c',
    '1',
    /* metadata (2) { name (1) "server", attempt (2) 3 } */
    0x12,
    0x0a,
    0x0a,
    0x06,
    's',
    'e',
    'r',
    'v',
    'e',
    'r',
    0x10,
    0x03,
    /* state (3) RUNNING */
    0x18,
    0x01,
    /* image (8) { image (1) "r/vllm:1" } */
    0x42,
    0x0a,
    0x0a,
    0x08,
    'r',
    '/',
    'v',
    'l',
    'l',
    'm',
    ':',
    '1',
    /* image_ref (9) "sha256:ab" */
    0x4a,
    0x09,
    's',
    'h',
    'a',
    '2',
    '5',
    '6',
    ':',
    'a',
    'b',
    /* labels (12) { "app": "vllm" } */
    0x62,
    0x0b,
    0x0a,
    0x03,
    'a',
    'p',
    'p',
    0x12,
    0x04,
    'v',
    'l',
    'l',
    'm',
    /* mounts (14): unknown here, skipped */
    0x72,
    0x04,
    0x0a,
    0x02,
    '/',
    'x',
    /* resources (16): unknown here, skipped (tag 0x82 0x01) */
    0x82,
    0x01,
    0x04,
    0x0a,
    0x02,
    0x08,
    0x01,
    /* labels (12) { "io.kubernetes.pod.namespace": "llm" } */
    0x62,
    0x22,
    0x0a,
    0x1b,
    'i',
    'o',
    '.',
    'k',
    'u',
    'b',
    'e',
    'r',
    'n',
    'e',
    't',
    'e',
    's',
    '.',
    'p',
    'o',
    'd',
    '.',
    'n',
    'a',
    'm',
    'e',
    's',
    'p',
    'a',
    'c',
    'e',
    0x12,
    0x03,
    'l',
    'l',
    'm',
    /* a field number hush has never heard of (99, varint) */
    0x98,
    0x06,
    0x07,
};

static void t_reply_bytes(void)
{
	struct tc t;
	char err[160] = "";
	Runtime__V1__ContainerStatusResponse *r;
	struct ctr_meta m;

	tc_begin(&t, "ContainerStatusResponse from a runtime's bytes (unknown fields skipped)");
	r = (Runtime__V1__ContainerStatusResponse *)cri_unframe(
	    &runtime__v1__container_status_response__descriptor, status_reply, sizeof(status_reply),
	    err, sizeof(err));
	if (CHECK(&t, r && r->status, "not decoded: %s", err)) {
		memset(&m, 0, sizeof(m));
		cri_meta_status(&m, r->status);
		CHECK(&t, eq(r->status->id, "c1"), "id %s", r->status->id);
		CHECK(&t, r->status->metadata && r->status->metadata->attempt == 3, "attempt");
		CHECK(&t, eq(m.name, "server"), "name %s", m.name);
		CHECK(&t, eq(m.image, "r/vllm:1"), "image %s", m.image);
		CHECK(&t, eq(m.image_id, "sha256:ab"), "image id %s", m.image_id);
		CHECK(&t, m.running, "running");
		CHECK(&t, m.nlabels == 2 && eq(label(&m, "app"), "vllm"), "labels %zu", m.nlabels);
		CHECK(&t, eq(m.pod_ns, "llm") && !m.pod_name[0],
		      "pod ns from the kubelet's label: %s", m.pod_ns);
		meta_free(&m);
		cri_free(r);
	}
	tc_end(&t);
}

static void t_round_trip(void)
{
	struct tc t;
	Runtime__V1__PodSandboxStatusResponse resp = RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT;
	Runtime__V1__PodSandboxStatus st = RUNTIME__V1__POD_SANDBOX_STATUS__INIT;
	Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	Runtime__V1__PodSandboxStatus__LabelsEntry
	    l1 = RUNTIME__V1__POD_SANDBOX_STATUS__LABELS_ENTRY__INIT,
	    l2 = RUNTIME__V1__POD_SANDBOX_STATUS__LABELS_ENTRY__INIT;
	Runtime__V1__PodSandboxStatus__LabelsEntry *lv[] = {&l1, &l2};
	Runtime__V1__PodSandboxStatusResponse *back;
	char err[160] = "";
	size_t n;
	uint8_t *b;

	tc_begin(&t, "PodSandboxStatusResponse: encode, frame, unframe, decode");
	md.name = "vllm-0";
	md.namespace_ = "llm";
	md.uid = "u-1";
	st.id = "p1";
	st.metadata = &md;
	st.state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
	l1.key = "app";
	l1.value = "vllm";
	l2.key = "tier";
	l2.value = "gpu";
	st.labels = lv;
	st.n_labels = 2;
	resp.status = &st;
	b = cri_frame(&resp.base, &n);
	back =
	    b ? (Runtime__V1__PodSandboxStatusResponse *)cri_unframe(
		    &runtime__v1__pod_sandbox_status_response__descriptor, b, n, err, sizeof(err))
	      : NULL;
	if (CHECK(&t, back && back->status && back->status->metadata, "round trip: %s", err)) {
		struct ctr_meta m;

		CHECK(&t,
		      eq(back->status->id, "p1") && back->status->n_labels == 2 &&
			  eq(back->status->labels[1]->value, "gpu") &&
			  eq(back->status->metadata->namespace_, "llm"),
		      "fields differ");
		/* a pod sandbox itself */
		memset(&m, 0, sizeof(m));
		cri_meta_pod(&m, back->status, true);
		CHECK(&t, eq(m.name, "POD") && m.running, "sandbox name %s", m.name);
		CHECK(&t, eq(m.pod_ns, "llm") && eq(m.pod_name, "vllm-0"), "pod %s/%s", m.pod_ns,
		      m.pod_name);
		CHECK(&t, eq(label(&m, "io.kubernetes.pod.uid"), "u-1"), "uid label");
		meta_free(&m);
		/* a container of the pod: its own label wins */
		memset(&m, 0, sizeof(m));
		snprintf(m.name, sizeof(m.name), "server");
		m.lkey[0] = strdup("tier");
		m.lval[0] = strdup("cpu");
		m.nlabels = 1;
		cri_meta_pod(&m, back->status, false);
		CHECK(&t, eq(m.name, "server"), "container name kept: %s", m.name);
		CHECK(&t, eq(label(&m, "tier"), "cpu") && eq(label(&m, "app"), "vllm"),
		      "labels: container's wins, pod's added");
		meta_free(&m);
		cri_free(back);
	}
	free(b);
	tc_end(&t);
}

static void t_bad_frames(void)
{
	static const struct {
		const char *name;
		uint8_t b[12];
		size_t n;
	} bad[] = {
	    {"empty body", {0}, 0},
	    {"4 bytes: no prefix", {0, 0, 0, 0}, 4},
	    {"compressed flag", {1, 0, 0, 0, 0}, 5},
	    {"length beyond the body", {0, 0, 0, 0, 9, 0x0a, 0x00}, 7},
	    {"length short of the body", {0, 0, 0, 0, 1, 0x0a, 0x00}, 7},
	    {"over 16 MiB", {0, 0x01, 0, 0, 1}, 5},
	    {"truncated field", {0, 0, 0, 0, 3, 0x0a, 0x05, 'x'}, 8},
	    {"wrong wire type for a message", {0, 0, 0, 0, 2, 0x08, 0x01}, 7},
	};
	struct tc t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[160] = "";
		ProtobufCMessage *m;

		tc_begin(&t, "bad reply refused: %s", bad[i].name);
		m = cri_unframe(&runtime__v1__container_status_response__descriptor, bad[i].b,
				bad[i].n, err, sizeof(err));
		CHECK(&t, !m, "decoded");
		CHECK(&t, err[0], "no reason given");
		if (m)
			cri_free(m);
		tc_end(&t);
	}
}

static void t_status_text(void)
{
	struct tc t;
	char s[] = "unknown service runtime.v1.RuntimeService%3A %zz 100%25";

	tc_begin(&t, "grpc-message percent-decoding and code names");
	cri_pct_decode(s);
	CHECK(&t, !strcmp(s, "unknown service runtime.v1.RuntimeService: %zz 100%"), "got %s", s);
	CHECK(&t,
	      !strcmp(cri_code_name(12), "UNIMPLEMENTED") && !strcmp(cri_code_name(5), "NOT_FOUND"),
	      "names");
	CHECK(&t, !strcmp(cri_code_name(77), "code 77"), "unknown code %s", cri_code_name(77));
	tc_end(&t);
}

int main(void)
{
	t_request_bytes();
	t_reply_bytes();
	t_round_trip();
	t_bad_frames();
	t_status_text();
	return nfail ? 1 : 0;
}
