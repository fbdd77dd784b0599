#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# hushd as a container, against a real dockerd (tests/lib/engines.sh: in the
# test's private network and mount namespaces): the image is a minbase rootfs
# with the .deb, imported (no registry).  Run with hushd's capabilities
# (not --privileged: see below), unconfined seccomp, the host's PID
# and cgroup namespaces and network, the host's /sys/fs/bpf and cgroup2
# mount (as packaging/kubernetes/ does), it enforces on a test cgroup: a
# process there and a container started there get EPERM, a container
# elsewhere does not; the denials are in the container's log database;
# `hush disable` in it ends it (exit 3).
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=tests/lib/engines.sh
. "$(dirname "$0")/../lib/engines.sh"
# shellcheck source=tests/pkg/lib.sh
. "$(dirname "$0")/lib.sh"

p_init container
deb=$(p_deb)
h_require_hush
e_init
e_docker_up
cg=$(h_cgroup_create enforced)
H_PROBE_CG=$cg
h_pin_dir >/dev/null
e_image_hushd hushd "$deb" || h_done
e_image_busybox bb docker || h_done
h_pass "container: hushd image built from the .deb and imported"

policy=$(h_policy container.policy <<EOF2
mode enforce
allow $H_INT4 tcp 8080
EOF2
)
# Not --privileged: runc fails to grant every capability where the test
# machine has bounded some away.  The unit's set, with CAP_SYS_ADMIN for
# CAP_BPF and CAP_PERFMON, which Debian's Docker 20.10 does not know.
cid=$(e_docker run -d --name hushd --cap-drop ALL --cap-add SYS_ADMIN --cap-add NET_ADMIN \
	--cap-add SYS_PTRACE --cap-add DAC_READ_SEARCH --cap-add CHOWN \
	--security-opt seccomp=unconfined --security-opt apparmor=unconfined \
	--pid host --cgroupns host --network host \
	-e HUSH_FORBID_ROOT=1 -v /sys/fs/bpf:/sys/fs/bpf -v "$CG2:$CG2" \
	-v "$policy:/etc/hush/policy:ro" hushd \
	--policy /etc/hush/policy --cgroup "$cg" --pin-dir "$H_PIN_DIR" 2>&1) || {
	h_fail "container: docker run hushd" "$cid"
	h_done
}
deadline=$(($(h_now_ms) + 20000))
until e_docker logs hushd 2>&1 | grep -q '^hushd: ready:'; do
	if [ "$(h_now_ms)" -ge "$deadline" ] ||
		[ "$(e_docker inspect -f '{{.State.Running}}' hushd 2>&1)" != true ]; then
		h_fail "container: hushd ready" "$(e_docker logs hushd 2>&1 | tail -n 5 | tr '\n' ' ')"
		h_done
	fi
	sleep 0.2
done
h_pass "container: hushd runs in the container and enforces on $cg"

h_expect_probe "container: a process in the test cgroup: EPERM" error EPERM -- \
	connect "$H_FORB4" 8080 --timeout-ms 1000
h_expect_probe "container: a process in the test cgroup: allowed host reached" error ECONNREFUSED -- \
	connect "$H_INT4" 8080 --timeout-ms 2000
out=$(e_docker run --rm --cgroup-parent "$(e_cgroup_parent "$cg")" bb \
	nc -w 2 "$H_FORB4" 8080 2>&1 </dev/null)
if [[ $out == *"not permitted"* ]]; then
	h_pass "container: a container started in the test cgroup: EPERM"
else
	h_fail "container: a container started in the test cgroup: EPERM" "$out"
fi
out=$(e_docker run --rm bb nc -w 2 "$H_FORB4" 8080 2>&1 </dev/null)
if [[ $out != *"not permitted"* ]]; then
	h_pass "container: a container outside it is not judged ($out)"
else
	h_fail "container: a container outside it is not judged" "$out"
fi
sleep 1.5
rows=$(e_docker exec hushd hush log --denied --json 2>&1 | grep -c "$H_FORB4")
if [ "$rows" -ge 2 ]; then
	h_pass "container: both denials in hushd's audit log in the container ($rows rows)"
else
	h_fail "container: denials in the audit log" "$rows rows: $(e_docker exec hushd hush log 2>&1 | tail -n 3)"
fi
e_docker exec hushd hush --pin-dir "$H_PIN_DIR" disable >/dev/null 2>&1
code=$(e_docker wait hushd 2>&1)
if [ "$code" = 3 ] && [ ! -e "$H_PIN_DIR/links" ]; then
	h_pass "container: hush disable in the container: enforcement removed, hushd exit 3"
else
	h_fail "container: hush disable" "exit '$code', pins: $(find "$H_PIN_DIR" -maxdepth 1 2>&1 | tr '\n' ' ')"
fi
h_done
