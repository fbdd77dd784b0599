/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer target for the CRI client's decoding (agent/cri_msg.c and the
 * protobuf-c code generated from agent/cri_api.proto): what a CRI runtime
 * (or whatever listens on its socket) may answer hushd.
 *
 * For any input bytes, as a whole gRPC reply body and again behind a valid
 * 5-byte frame prefix, decoded as each reply hushd reads (Version,
 * ContainerStatus, ListContainers, PodSandboxStatus):
 *   - cri_unframe() returns a message or NULL with a reason;
 *   - a message re-encodes (cri_frame); when that decodes again, it
 *     re-encodes to the same bytes (pack(unpack(pack(x))) == pack(x));
 *   - the metadata it gives (cri_meta_status/container/pod) has
 *     NUL-terminated fields and at most CTR_MAX_LABELS labels, none NULL.
 * Any violation abort()s.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/containers.h"
#include "agent/cri.h"

static void check_meta(struct ctr_meta *m)
{
	if (memchr(m->name, 0, sizeof(m->name)) == NULL ||
	    memchr(m->image, 0, sizeof(m->image)) == NULL ||
	    memchr(m->image_id, 0, sizeof(m->image_id)) == NULL ||
	    memchr(m->pod_ns, 0, sizeof(m->pod_ns)) == NULL ||
	    memchr(m->pod_name, 0, sizeof(m->pod_name)) == NULL || m->nlabels > CTR_MAX_LABELS)
		abort();
	for (size_t i = 0; i < m->nlabels; i++) {
		if (!m->lkey[i] || !m->lval[i])
			abort();
		free(m->lkey[i]);
		free(m->lval[i]);
	}
}

static void meta_of(const ProtobufCMessageDescriptor *d, const ProtobufCMessage *msg)
{
	struct ctr_meta m;

	memset(&m, 0, sizeof(m));
	if (d == &runtime__v1__container_status_response__descriptor) {
		const Runtime__V1__ContainerStatusResponse *r = (const void *)msg;

		if (r->status)
			cri_meta_status(&m, r->status);
	} else if (d == &runtime__v1__list_containers_response__descriptor) {
		const Runtime__V1__ListContainersResponse *r = (const void *)msg;

		for (size_t i = 0; i < r->n_containers && i < 4; i++)
			cri_meta_container(&m, r->containers[i]);
	} else if (d == &runtime__v1__pod_sandbox_status_response__descriptor) {
		const Runtime__V1__PodSandboxStatusResponse *r = (const void *)msg;

		if (r->status) {
			cri_meta_pod(&m, r->status, false);
			cri_meta_pod(&m, r->status, true);
		}
	}
	check_meta(&m);
}

static void one(const ProtobufCMessageDescriptor *d, const uint8_t *body, size_t n)
{
	char err[160];
	ProtobufCMessage *msg = cri_unframe(d, body, n, err, sizeof(err)), *again;
	uint8_t *f1, *f2;
	size_t n1, n2;

	if (!msg) {
		if (!err[0])
			abort();
		return;
	}
	meta_of(d, msg);
	f1 = cri_frame(msg, &n1);
	if (!f1)
		abort();
	/* protobuf-c keeps unknown fields and packs them again as they came,
	 * field number 0 included, which its decoder then refuses: hush never
	 * re-encodes a reply, so only a decodable re-encoding is compared */
	again = cri_unframe(d, f1, n1, err, sizeof(err));
	if (!again) {
		free(f1);
		cri_free(msg);
		return;
	}
	f2 = cri_frame(again, &n2);
	if (!f2 || n1 != n2 || memcmp(f1, f2, n1))
		abort();
	free(f1);
	free(f2);
	cri_free(again);
	cri_free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const ProtobufCMessageDescriptor *const ds[] = {
	    &runtime__v1__version_response__descriptor,
	    &runtime__v1__container_status_response__descriptor,
	    &runtime__v1__list_containers_response__descriptor,
	    &runtime__v1__pod_sandbox_status_response__descriptor,
	};
	uint8_t *framed;

	if (size > 1 << 16)
		return 0;
	framed = malloc(size + 5);
	if (!framed)
		return 0;
	framed[0] = 0;
	framed[1] = (uint8_t)(size >> 24);
	framed[2] = (uint8_t)(size >> 16);
	framed[3] = (uint8_t)(size >> 8);
	framed[4] = (uint8_t)size;
	if (size)
		memcpy(framed + 5, data, size);
	for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
		one(ds[i], data, size);
		one(ds[i], framed, size + 5);
	}
	free(framed);
	return 0;
}
