// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Engine: what the programs report - the event ring buffer, the per-CPU
 * counters and the per-CPU event sequence numbers.
 */
#include <errno.h>
#include <stdlib.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/engine_int.h"

static int on_event(void *ctx, void *data, size_t size)
{
	struct engine *e = ctx;

	if (size < sizeof(struct hush_event))
		return 0;
	return e->fn ? e->fn(e->fn_ctx, data) : 0;
}

int engine_events(struct engine *e, engine_event_fn fn, void *ctx)
{
	e->fn = fn;
	e->fn_ctx = ctx;
	if (!e->rb) {
		e->rb = ring_buffer__new(engine_map_fd(e, "hush_events"), on_event, e, NULL);
		if (!e->rb)
			return -errno;
	}
	return ring_buffer__epoll_fd(e->rb);
}

int engine_poll(struct engine *e, int timeout_ms)
{
	int n;

	if (!e->rb)
		return -EINVAL;
	n = ring_buffer__poll(e->rb, timeout_ms);
	if (n < 0 && n != -EINTR)
		return n;
	/* Records submitted with BPF_RB_NO_WAKEUP are only found by a consume. */
	return ring_buffer__consume(e->rb);
}

int engine_drain(struct engine *e)
{
	return e->rb ? ring_buffer__consume(e->rb) : 0;
}

int engine_read_counters(int fd, uint64_t out[HUSH_CTR_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (__u32 i = 0; i < HUSH_CTR_MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, v))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[i] += v[c];
	}
	free(v);
	return 0;
}

int engine_counters(const struct engine *e, uint64_t out[HUSH_CTR_MAX])
{
	return engine_read_counters(bpf_map__fd(e->sa->maps.hush_counters), out);
}

int engine_evseq(const struct engine *e, uint64_t *out, int ncpu)
{
	int fd = bpf_map__fd(e->sa->maps.hush_evseq);

	if (ncpu != libbpf_num_possible_cpus())
		return -EINVAL;
	for (__u32 i = 0; i < HUSH_CTR_MAX; i++) {
		uint64_t *v = out + (size_t)i * (size_t)ncpu;

		if (bpf_map_lookup_elem(fd, &i, v))
			return -errno;
	}
	return 0;
}

uint32_t engine_evseq_id(const struct engine *e)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(bpf_map__fd(e->sa->maps.hush_evseq), &info, &len))
		return 0;
	return info.id;
}
