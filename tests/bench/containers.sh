#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Container start with hushd enforcing by container scope (issue 13), run by
# tests/bench/run.sh (BENCH=containers): wall time of `docker run --rm bb
# true` against the test's own dockerd (tests/lib/engines.sh), with hushd
# enforcing on dockerd's cgroup parent a policy whose container scope selects
# every container started (so each start is bound: engine events, inotify,
# a live bind, a re-apply), and without hushd (enforcement removed by `hush
# disable`).  Phases alternate, each CTR_PER starts, CTR_ROUNDS rounds.
# Target: start rate with hushd ≥ 0.95 × without.  Prints a Markdown
# section on stdout.
#
# Safety: the containers have no network (--network none); everything runs
# in the harness's private namespaces, under the test's cgroups.
set -u
exec 3>&1 1>&2
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=tests/lib/engines.sh
. "$(dirname "$0")/../lib/engines.sh"

ROUNDS=${CTR_ROUNDS:-4}
PER=${CTR_PER:-8}
h_init bench-containers
h_require_hush
e_docker_up
e_image_busybox bb docker || exit 1
policy=$(h_policy bench.policy <<EOF
mode enforce
scope container name=bench-* {
	allow $H_INT4 tcp 8080
}
EOF
)
n=0
# one: wall time (us) of one container start and exit.
one() {
	local t0 t1
	n=$((n + 1))
	t0=$(date +%s%N)
	e_docker run --rm --network none --name "bench-$n" bb true >/dev/null 2>&1 ||
		echo "bench-containers: docker run failed" >&2
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}
on() {
	h_hushd_start "$policy" "$E_DOCKER_CG" --docker-socket "$H_TMP/docker.sock" \
		--podman-socket "" --containerd-socket "" --quiet || exit 1
}
off() {
	h_hush disable >/dev/null 2>&1
	h_stop "$H_HUSHD_PID"
}
: >"$H_TMP/t.off"
: >"$H_TMP/t.on"
one >/dev/null # warm caches
for r in $(seq 1 "$ROUNDS"); do
	for phase in $([ $((r % 2)) = 1 ] && echo "off on" || echo "on off"); do
		[ "$phase" = on ] && on
		for _ in $(seq 1 "$PER"); do
			one >>"$H_TMP/t.$phase"
		done
		[ "$phase" = on ] && off
	done
done
bound=$(grep -c 'cgroup(s) bound to container scopes' "$H_TMP"/hushd.*.err 2>/dev/null | awk -F: '{ s += $NF } END { print s + 0 }')

stats() {
	sort -n "$1" | awk '{ v[NR] = $1; s += $1 } END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
		printf "%d %d %d %d %d\n", m, s / NR, v[1], v[NR], NR }'
}
ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }
read -r fm fa fmin fmax fn < <(stats "$H_TMP/t.off")
read -r nm na nmin nmax nn < <(stats "$H_TMP/t.on")
ratio=$(awk -v a="$fm" -v b="$nm" 'BEGIN { printf "%.3f", a / b }')
ratio_mean=$(awk -v a="$fa" -v b="$na" 'BEGIN { printf "%.3f", a / b }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.95) ? "PASS" : "MISS" }')
{
	echo "## Containers (issue 13)"
	echo
	echo "Written by \`make bench\` (part \`BENCH=containers\`, tests/bench/containers.sh).  Target from the issue: container start (\`docker run --rm IMG true\`) with hushd enforcing by container scope at least 0.95 × the start rate without."
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg); source: ${HUSH_REV:-$(git describe --always --dirty 2>/dev/null)}"
	echo "- the test's own dockerd and containerd (tests/lib/engines.sh, cgroupfs driver), busybox-static image; $ROUNDS rounds of $PER starts per phase, phases alternating (and their order); hushd on dockerd's cgroup parent with \`scope container name=bench-*\` (every start is bound: $bound bind passes logged), \`--quiet\`; without: \`hush disable\`"
	echo
	echo "| phase | starts | median (ms) | mean (ms) | min–max (ms) |"
	echo "|---|---:|---:|---:|---|"
	echo "| without hushd | $fn | $(ms "$fm") | $(ms "$fa") | $(ms "$fmin")–$(ms "$fmax") |"
	echo "| hushd enforcing by container scope | $nn | $(ms "$nm") | $(ms "$na") | $(ms "$nmin")–$(ms "$nmax") |"
	echo
	echo "| goal | target | measured | result |"
	echo "|---|---|---:|---|"
	echo "| start rate with ÷ without (medians) | ≥ 0.95 | $ratio | **$verdict** |"
	echo "| start rate with ÷ without (means) | — | $ratio_mean | |"
} >&3
h_done >/dev/null
