/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel feature probes, run at start-up and by `hush status`: each says
 * whether a layer could work here and, if not, why (libbpf-tools habit:
 * probe, fall back, report).
 */
#ifndef HUSH_AGENT_PROBE_H
#define HUSH_AGENT_PROBE_H

#include <stdbool.h>
#include <stddef.h>

/* Can a BPF LSM program be loaded?  why gets a one-line reason. */
bool probe_bpf_lsm(char *why, size_t len);

#endif /* HUSH_AGENT_PROBE_H */
