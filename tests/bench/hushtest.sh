#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The cost of `hush test` (issue 5), run by tests/bench/run.sh (BENCH=test):
# wall time of `hush test -- /bin/true` against `/bin/true` alone and
# `unshare -n /bin/true` (a fresh network namespace, what a sandbox without
# hush would cost), measured side by side in alternating rounds.  Target:
# at most 100 ms of overhead.  Prints a Markdown section on stdout.
#
# Safety: /bin/true sends nothing; hush test makes its cgroup under the
# harness's test cgroup (never the cgroup2 root) and removes it.
#
# Knobs (environment): TEST_ROUNDS (30), HUSH_REV.
set -u
exec 3>&1 1>&2
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

ROUNDS=${TEST_ROUNDS:-30}
h_init bench-test
h_require_hush
tcg=$(h_cgroup_create runs)

now_ns() { date +%s%N; }

# one KIND: wall time of one run in microseconds (run from this shell, so
# each includes the same fork+exec of the command itself).
one() {
	local t0 t1 rc
	t0=$(now_ns)
	case $1 in
	true) /bin/true ;;
	unshare) unshare -n /bin/true ;;
	test) "$HUSH" test --cgroup-parent "$tcg" -- /bin/true >/dev/null ;;
	run) "$HUSH" run --quiet --cgroup-parent "$tcg" -- /bin/true ;;
	esac
	rc=$?
	t1=$(now_ns)
	[ $rc = 0 ] || echo "bench-test: $1 exited $rc" >&2
	echo $(((t1 - t0) / 1000))
}

kinds="true unshare test run"
for k in $kinds; do
	: >"$H_TMP/t.$k"
	one "$k" >/dev/null # warm caches
done
for r in $(seq 1 "$ROUNDS"); do
	# Rotate the order every round.
	# shellcheck disable=SC2086 # $kinds is a word list, split on purpose
	set -- $kinds
	for _ in $(seq 1 $((r % 4))); do
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

read -r tm tp tmin tmax < <(stats "$H_TMP/t.true")
read -r um up umin umax < <(stats "$H_TMP/t.unshare")
read -r hm hp hmin hmax < <(stats "$H_TMP/t.test")
read -r rm rp rmin rmax < <(stats "$H_TMP/t.run")
over=$((hm - tm))
overu=$((hm - um))
verdict=$([ $over -le 100000 ] && echo PASS || echo MISS)

{
	echo "## hush test (issue 5)"
	echo
	echo "Written by \`make bench\` (part \`BENCH=test\`, tests/bench/hushtest.sh).  Target from the issue: \`hush test -- /bin/true\` at most 100 ms slower than \`/bin/true\` alone."
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg); source: ${HUSH_REV:-$(git describe --always --dirty 2>/dev/null)}"
	echo "- each kind run $ROUNDS times, the order rotated every round, wall time from the benchmark's shell (fork, exec, wait: the same for every kind); \`hush test\` with the default policy (loopback only) and its cgroup under a test cgroup"
	echo
	echo "| command | median (ms) | p90 (ms) | min–max (ms) |"
	echo "|---|---:|---:|---|"
	echo "| \`/bin/true\` | $(ms "$tm") | $(ms "$tp") | $(ms "$tmin")–$(ms "$tmax") |"
	echo "| \`unshare -n /bin/true\` | $(ms "$um") | $(ms "$up") | $(ms "$umin")–$(ms "$umax") |"
	echo "| \`hush test -- /bin/true\` | $(ms "$hm") | $(ms "$hp") | $(ms "$hmin")–$(ms "$hmax") |"
	echo "| \`hush run -- /bin/true\` (reference) | $(ms "$rm") | $(ms "$rp") | $(ms "$rmin")–$(ms "$rmax") |"
	echo
	echo "| goal | target | measured | result |"
	echo "|---|---|---:|---|"
	echo "| \`hush test -- /bin/true\` − \`/bin/true\` (medians) | ≤ 100 ms | $(ms "$over") ms | **$verdict** |"
	echo "| \`hush test -- /bin/true\` − \`unshare -n /bin/true\` (medians) | — | $(ms "$overu") ms | |"
} >&3
h_done >/dev/null
