#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Runs every test tier and prints the summary line CI reads: "N passed, N failed".
#
# A test is an executable that prints one line per case:
#   PASS: name            FAIL: name: why            SKIP: name: why
# A test that exits non-zero without printing FAIL counts as one failure.
# With CI=true a SKIP counts as a failure: a security tool's CI that never
# loads its programs proves nothing.
#
# TESTS="unit bpf integration" (default: all tiers) and FILTER=regex narrow the run.
set -u
OUTPUT=${OUTPUT:-$(pwd)/.output}
HUSH_SRC=$(pwd)
export OUTPUT HUSH_SRC
cd "$(dirname "$0")/.." || exit 2
TIERS=${TESTS:-"lint unit fuzz bpf integration bypass"}
FILTER=${FILTER:-.}
passed=0 failed=0 skipped=0
failures=()
logdir=$OUTPUT/test-logs
mkdir -p "$logdir"

# The test binaries in a directory (not the compiler's .d files beside them).
executables() {
	find "$1" -maxdepth 1 -name 'test_*' -type f -perm -u+x 2>/dev/null | sort
}

list_tier() {
	case $1 in
	lint) echo tests/lint.sh tests/analyze.sh ;;
	unit) executables "$OUTPUT"/unit ;;
	fuzz) echo tests/fuzz/smoke.sh ;;
	bpf) executables "$OUTPUT"/bpftest ;;
	integration) ls tests/integration/t_*.sh 2>/dev/null ;;
	bypass) echo tests/bypass/run.sh ;;
	pkg) ls tests/pkg/t_*.sh 2>/dev/null ;; # not in the default tiers: make pkg-check
	esac
}

# count_one NAME LOG RC MS: a finished test's cases into the totals.
count_one() {
	local name=$1 log=$2 rc=$3 ms=$4 line p=0 f=0 s=0
	while IFS= read -r line; do
		case $line in
		PASS:*) p=$((p + 1)) ;;
		FAIL:*) f=$((f + 1)); failures+=("$name: ${line#FAIL: }") ;;
		SKIP:*)
			if [ "${CI:-}" = true ]; then
				f=$((f + 1)); failures+=("$name: skipped in CI: ${line#SKIP: }")
			else
				s=$((s + 1))
			fi ;;
		esac
	done <"$log"
	if [ "$rc" -ne 0 ] && [ $f -eq 0 ]; then
		f=$((f + 1)); failures+=("$name: exited $rc without a FAIL line (see $log)")
	fi
	if [ "$rc" -eq 0 ] && [ $p -eq 0 ] && [ $f -eq 0 ] && [ $s -eq 0 ]; then
		f=$((f + 1)); failures+=("$name: ran no case (see $log)")
	fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	printf '%-40s %4d passed %3d failed %3d skipped  %5d ms\n' "$name" $p $f $s "$ms"
	if [ $f -ne 0 ]; then
		grep -E '^(FAIL|SKIP):' "$log" | sed 's/^/    /'
		tail -n 15 "$log" | sed 's/^/    | /'
	fi
}

run_one() {
	local t=$1 name log rc start
	name=$(basename "$t")
	log=$logdir/$name.log
	start=$(date +%s%N)
	timeout --kill-after=10 600 "$t" >"$log" 2>&1 </dev/null
	rc=$?
	count_one "$name" "$log" $rc $((($(date +%s%N) - start) / 1000000))
}

# Static analysis needs no kernel, root or network: when the integration
# tier runs too, it runs beside that tier at nice 19 (on the CPU the tier
# leaves idle while it waits for daemons and packets; beside the unit tier's
# ASan tests it slowed them as much as it saved) and is counted at the end,
# under its own name.
BESIDE=tests/analyze.sh
beside=() deferred=()
run_beside() {
	local t=$1 name
	name=$(basename "$t")
	rm -f "$logdir/$name.rc"
	(
		start=$(date +%s%N)
		nice -n 19 timeout --kill-after=10 900 "$t" >"$logdir/$name.log" 2>&1 </dev/null
		echo "$? $((($(date +%s%N) - start) / 1000000))" >"$logdir/$name.rc"
	) &
	beside+=("$t:$!")
}

case " $TIERS " in
*" integration "*) with_integration=true ;;
*) with_integration=false ;;
esac
for tier in $TIERS; do
	echo "== $tier"
	if [ "$tier" = integration ]; then
		for t in "${deferred[@]}"; do
			run_beside "$t"
		done
	fi
	for t in $(list_tier "$tier"); do
		echo "$t" | grep -Eq -- "$FILTER" || continue
		if [ "$t" = "$BESIDE" ] && [ "$tier" != integration ] && $with_integration; then
			echo "$(basename "$t"): runs beside the integration tier, counted at the end"
			deferred+=("$t")
		else
			run_one "$t"
		fi
	done
done
for b in "${beside[@]}"; do
	t=${b%:*}
	name=$(basename "$t")
	# (bash may have forgotten the child's status after thousands of
	# others: its own record says when it is done; timeout ends it by 910 s)
	wait "${b##*:}" 2>/dev/null
	for _ in $(seq 1 960); do
		[ -s "$logdir/$name.rc" ] && break
		sleep 1
	done
	echo "== $(basename "$t") (beside the tiers above)"
	read -r rc ms <"$logdir/$name.rc" 2>/dev/null || { rc=1 ms=0; }
	count_one "$name" "$logdir/$name.log" "$rc" "$ms"
done

if [ ${#failures[@]} -ne 0 ]; then
	echo "== failures"
	printf '  %s\n' "${failures[@]}"
fi
if [ $skipped -ne 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ]
