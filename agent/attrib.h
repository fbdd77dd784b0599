/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Attribution from a cgroup path: container id and runtime (docker,
 * containerd/CRI, CRI-O, podman; systemd and cgroupfs drivers), systemd
 * unit, Kubernetes pod uid.  Pure string work: no I/O.
 */
#ifndef HUSH_AGENT_ATTRIB_H
#define HUSH_AGENT_ATTRIB_H

#include <stddef.h>

struct attrib {
	char container_id[65]; /* 64 hex digits, or "" */
	char runtime[16];      /* "docker", "containerd", "cri-o", "podman", or "" */
	char unit[256];	       /* innermost systemd unit (".service", ".scope"), or "" */
	char pod_uid[37];      /* Kubernetes pod uid (dashes), or "" */
};

/* path: as in /proc/PID/cgroup ("/system.slice/x.service"), or absolute. */
void attrib_parse(const char *path, struct attrib *out);

/*
 * The lineage boundary in a cgroup path: the length of its prefix that ends
 * with the innermost component that is a container's (its id, or a
 * runtime's .scope), a hush run or hush test cgroup ("hush-run.*",
 * "hush-test.*") or a systemd unit (".service", ".scope"); the whole path
 * when none is.  A process whose cgroup is that prefix or below it is inside.
 */
size_t attrib_boundary(const char *path);
/* Is cgroup path p inside the boundary path[0..blen) (attrib_boundary())? */
int attrib_inside(const char *path, size_t blen, const char *p);

#endif /* HUSH_AGENT_ATTRIB_H */
