// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Cgroup naming conventions, from the runtimes' own code paths:
 *   systemd driver  .../docker-<id>.scope, cri-containerd-<id>.scope,
 *                   crio-<id>.scope, libpod-<id>.scope (podman),
 *                   kubepods[-<qos>]-pod<uid with '_'>.slice
 *   cgroupfs driver /docker/<id>, /kubepods[/<qos>]/pod<uid>/<id>,
 *                   /machine.slice/libpod-<id>.scope, /libpod_parent/libpod-<id>
 * The innermost match wins; "conmon" and other helper scopes are not
 * containers.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agent/attrib.h"

static bool is_hex64(const char *s, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

static bool ends_with(const char *s, size_t n, const char *suf)
{
	size_t k = strlen(suf);

	return n >= k && memcmp(s + n - k, suf, k) == 0;
}

/* One path component c[0..n), its parent component p[0..pn). */
static void component(const char *c, size_t n, const char *p, size_t pn, struct attrib *a)
{
	static const struct {
		const char *prefix, *runtime;
	} scopes[] = {
	    {"docker-", "docker"},
	    {"cri-containerd-", "containerd"},
	    {"crio-", "cri-o"},
	    {"libpod-", "podman"},
	};
	size_t base = n;

	/* systemd units */
	if (ends_with(c, n, ".service") || ends_with(c, n, ".scope")) {
		if (n < sizeof(a->unit)) {
			memcpy(a->unit, c, n);
			a->unit[n] = 0;
		}
		base = ends_with(c, n, ".scope") ? n - 6 : n;
	}
	/* container scopes: <prefix><64 hex>[.scope] */
	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		size_t k = strlen(scopes[i].prefix);

		if (base > k && memcmp(c, scopes[i].prefix, k) == 0 && is_hex64(c + k, base - k)) {
			memcpy(a->container_id, c + k, 64);
			a->container_id[64] = 0;
			snprintf(a->runtime, sizeof(a->runtime), "%s", scopes[i].runtime);
			return;
		}
	}
	/* cgroupfs drivers: a bare id under docker/ or a kubepods pod */
	if (is_hex64(c, n) && pn) {
		const char *rt = NULL;

		if (pn == 6 && memcmp(p, "docker", 6) == 0)
			rt = "docker";
		else if (pn > 3 && memcmp(p, "pod", 3) == 0)
			rt = "containerd";
		if (rt) {
			memcpy(a->container_id, c, 64);
			a->container_id[64] = 0;
			snprintf(a->runtime, sizeof(a->runtime), "%s", rt);
			return;
		}
	}
	/* Kubernetes pods: ...-pod<uid>.slice (uid with '_') or pod<uid> */
	{
		const char *q = NULL;
		size_t qn = 0;

		if (ends_with(c, n, ".slice")) {
			const char *m = NULL;

			for (size_t i = 0; i + 4 <= n; i++)
				if (memcmp(c + i, "-pod", 4) == 0)
					m = c + i + 4;
			if (m) {
				q = m;
				qn = (size_t)(c + n - 6 - m);
			}
		} else if (n > 3 && memcmp(c, "pod", 3) == 0) {
			q = c + 3;
			qn = n - 3;
		}
		if (q && qn == 36) {
			for (size_t i = 0; i < 36; i++) {
				char ch = q[i] == '_' ? '-' : q[i];

				if (!(isxdigit((unsigned char)ch) || ch == '-'))
					return;
				a->pod_uid[i] = ch;
			}
			a->pod_uid[36] = 0;
		}
	}
}

void attrib_parse(const char *path, struct attrib *out)
{
	const char *p = path, *prev = NULL;
	size_t prevn = 0;

	memset(out, 0, sizeof(*out));
	if (!path)
		return;
	while (*p) {
		const char *c;
		size_t n;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		c = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - c);
		component(c, n, prev, prevn, out);
		prev = c;
		prevn = n;
	}
}

size_t attrib_boundary(const char *path)
{
	struct attrib a;
	size_t end = 0, len;

	if (!path)
		return 0;
	attrib_parse(path, &a);
	len = strlen(path);
	for (size_t i = 0; i < len;) {
		const char *c = path + i + (path[i] == '/');
		size_t n = strcspn(c, "/");

		if (n && ((a.container_id[0] && n >= 64 && memmem(c, n, a.container_id, 64)) ||
			  (n > 9 && !strncmp(c, "hush-run.", 9)) ||
			  (n > 10 && !strncmp(c, "hush-test.", 10)) ||
			  ends_with(c, n, ".service") || ends_with(c, n, ".scope")))
			end = (size_t)(c - path) + n;
		i = (size_t)(c - path) + n;
	}
	return end ? end : len;
}

int attrib_inside(const char *path, size_t blen, const char *p)
{
	if (!path || !p)
		return 0;
	if (blen == 1 && path[0] == '/')
		return strcmp(p, "/") == 0;
	return strncmp(p, path, blen) == 0 && (p[blen] == 0 || p[blen] == '/');
}
