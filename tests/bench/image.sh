#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The cost of `hush test --image` (issue 12), run by tests/bench/run.sh
# (BENCH=image): wall time of `hush test --image bb -- true` against the
# engine's own `run --rm bb true`, for docker and for podman (through its
# API service, as hush drives it), measured side by side in rotating
# rounds.  Target: a ratio of at most 1.10, or at most 150 ms added.
# Prints a Markdown section on stdout.
#
# Safety: the engines are tests/lib/engines.sh's (private network and mount
# namespaces, state under the run's temp dir, stopped after); bb is
# busybox-static imported from this machine, nothing is pulled, `true`
# sends nothing; hush makes its cgroups under the harness's test cgroup.
#
# Knobs (environment): IMAGE_ROUNDS (10), HUSH_REV.
set -u
exec 3>&1 1>&2
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=tests/lib/engines.sh
. "$(dirname "$0")/../lib/engines.sh"

ROUNDS=${IMAGE_ROUNDS:-10}
h_init bench-image
h_require_hush
e_docker_up
e_podman_service_up
e_image_busybox bb docker podman >/dev/null || exit 1
tcg=$(h_cgroup_create runs)
# The Debian clients (matching these engines) first on PATH, for hush too.
PATH=/usr/bin:/bin:$PATH
export PATH

now_ns() { date +%s%N; }

# one KIND: wall time of one run in microseconds.
one() {
	local t0 t1 rc
	t0=$(now_ns)
	case $1 in
	docker) docker run --rm bb true ;;
	hush-docker) "$HUSH" test --cgroup-parent "$tcg" --image bb -- true >/dev/null ;;
	podman) podman --url "$E_PODMAN_HOST" run --rm bb true ;;
	hush-true) "$HUSH" test --cgroup-parent "$tcg" -- /bin/true >/dev/null ;;
	hush-podman) CONTAINER_HOST=$E_PODMAN_HOST "$HUSH" test --cgroup-parent "$tcg" \
		--engine podman --image bb -- true >/dev/null ;;
	esac
	rc=$?
	t1=$(now_ns)
	[ $rc = 0 ] || echo "bench-image: $1 exited $rc" >&2
	echo $(((t1 - t0) / 1000))
}

kinds="docker hush-docker podman hush-podman hush-true"
for k in $kinds; do
	: >"$H_TMP/t.$k"
	one "$k" >/dev/null # warm caches
done
for r in $(seq 1 "$ROUNDS"); do
	# shellcheck disable=SC2086 # $kinds is a word list, split on purpose
	set -- $kinds
	for _ in $(seq 1 $((r % 5))); do
		set -- "$@" "$1"
		shift
	done
	for k in "$@"; do
		one "$k" >>"$H_TMP/t.$k"
	done
done

# stats FILE: median p90 min max (us)
stats() {
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
		p = v[int(NR * 0.9 + 0.999)];
		printf "%d %d %d %d\n", m, p, v[1], v[NR] }'
}
ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
# verdict HUSH ENGINE: PASS when the ratio is <= 1.10 or <= 150 ms added.
verdict() {
	awk -v h="$1" -v e="$2" 'BEGIN { print (h / e <= 1.10 || h - e <= 150000) ? "PASS" : "MISS" }'
}

declare -A M P MIN MAX
for k in $kinds; do
	read -r "M[$k]" "P[$k]" "MIN[$k]" "MAX[$k]" < <(stats "$H_TMP/t.$k")
done

{
	echo "## hush test --image (issue 12)"
	echo
	echo "Written by \`make bench\` (part \`BENCH=image\`, tests/bench/image.sh).  Target from the issue: \`hush test --image IMG -- true\` against \`docker run --rm IMG true\` alone, ratio of wall time ≤ 1.10 (≤ 150 ms added); both engines."
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg); source: ${HUSH_REV:-$(git describe --always --dirty 2>/dev/null)}"
	echo "- engines from tests/lib/engines.sh (dockerd $(dockerd --version 2>/dev/null | awk '{ print $3 }' | tr -d ,), podman $(podman --version | awk '{ print $3 }') through its API service, runc, cgroupfs); image: busybox-static FROM scratch; each kind run $ROUNDS times, the order rotated every round"
	echo
	echo "| command | median (ms) | p90 (ms) | min–max (ms) |"
	echo "|---|---:|---:|---|"
	for k in $kinds; do
		# shellcheck disable=SC2016 # backquotes: Markdown, not expansions
		case $k in
		docker) c='`docker run --rm bb true`' ;;
		hush-docker) c='`hush test --image bb -- true` (docker)' ;;
		podman) c='`podman --url … run --rm bb true`' ;;
		hush-podman) c='`hush test --engine podman --image bb -- true`' ;;
		hush-true) c='`hush test -- /bin/true` (reference: hush'"'"'s own set-up, no engine)' ;;
		esac
		echo "| $c | $(ms "${M[$k]}") | $(ms "${P[$k]}") | $(ms "${MIN[$k]}")–$(ms "${MAX[$k]}") |"
	done
	echo
	echo "| goal | target | ratio (medians) | added (medians) | result |"
	echo "|---|---|---:|---:|---|"
	for e in docker podman; do
		echo "| hush test --image vs. $e run | ≤ 1.10 or ≤ 150 ms | $(ratio "${M[hush-$e]}" "${M[$e]}") | $(ms $((M[hush-$e] - M[$e]))) ms | **$(verdict "${M[hush-$e]}" "${M[$e]}")** |"
	done
} >&3
h_done >/dev/null
