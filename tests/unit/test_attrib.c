// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Attribution from cgroup paths: every runtime's naming, table-driven. */
#include <stdio.h>
#include <string.h>

#include "agent/attrib.h"

#define ID   "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID  "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"
#define UIDU "1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901"

static const struct {
	const char *name, *path, *id, *runtime, *unit, *pod;
} cases[] = {
    {"systemd service", "/system.slice/ollama.service", "", "", "ollama.service", ""},
    {"user session scope", "/user.slice/user-1000.slice/session-3.scope", "", "", "session-3.scope",
     ""},
    {"root cgroup", "/", "", "", "", ""},
    {"empty path", "", "", "", "", ""},
    {"docker, systemd driver", "/system.slice/docker-" ID ".scope", ID, "docker",
     "docker-" ID ".scope", ""},
    {"docker, cgroupfs driver", "/docker/" ID, ID, "docker", "", ""},
    {"containerd CRI, systemd driver",
     "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU
     ".slice/cri-containerd-" ID ".scope",
     ID, "containerd", "cri-containerd-" ID ".scope", UID},
    {"CRI-O, systemd driver", "/kubepods.slice/kubepods-pod" UIDU ".slice/crio-" ID ".scope", ID,
     "cri-o", "crio-" ID ".scope", UID},
    {"kubepods, cgroupfs driver", "/kubepods/burstable/pod" UID "/" ID, ID, "containerd", "", UID},
    {"pod slice without container", "/kubepods.slice/kubepods-pod" UIDU ".slice", "", "", "", UID},
    {"podman", "/machine.slice/libpod-" ID ".scope", ID, "podman", "libpod-" ID ".scope", ""},
    {"podman conmon is not a container", "/machine.slice/libpod-conmon-" ID ".scope", "", "",
     "libpod-conmon-" ID ".scope", ""},
    {"short id is not a container", "/system.slice/docker-0123abcd.scope", "", "",
     "docker-0123abcd.scope", ""},
    {"upper-case hex is not an id",
     "/docker/0123456789ABCDEF0123456789abcdef0123456789abcdef"
     "0123456789abcdef",
     "", "", "", ""},
    {"hush test cgroup", "/hush-test.abc/enforced", "", "", "", ""},
    {"absolute path under a hybrid mount",
     "/sys/fs/cgroup/unified/system.slice/docker-" ID ".scope", ID, "docker", "docker-" ID ".scope",
     ""},
    {"nested: innermost unit wins", "/system.slice/a.service/b.scope", "", "", "b.scope", ""},
    {"bad pod uid ignored", "/kubepods.slice/kubepods-podzzzz.slice", "", "", "", ""},
};

int main(void)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct attrib a;

		attrib_parse(cases[i].path, &a);
		if (strcmp(a.container_id, cases[i].id) || strcmp(a.runtime, cases[i].runtime) ||
		    strcmp(a.unit, cases[i].unit) || strcmp(a.pod_uid, cases[i].pod)) {
			printf("FAIL: attrib: %s: got id \"%s\" runtime \"%s\" unit \"%s\" pod "
			       "\"%s\"\n",
			       cases[i].name, a.container_id, a.runtime, a.unit, a.pod_uid);
			failed++;
		} else {
			printf("PASS: attrib: %s\n", cases[i].name);
		}
	}
	{
		struct attrib a;

		attrib_parse(NULL, &a);
		printf("%s: attrib: NULL path\n", a.unit[0] || a.container_id[0] ? "FAIL" : "PASS");
	}
	return failed ? 1 : 0;
}
