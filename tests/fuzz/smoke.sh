#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Fuzz smoke test: runs every libFuzzer target (tests/fuzz/fuzz_NAME.c, built
# at $OUTPUT/fuzz/fuzz_NAME by `make unit`) for FUZZ_SMOKE_TIME seconds
# (default 15) over its seed corpus tests/fuzz/corpus/NAME (plus, for the
# policy target, the golden inputs and the shipped examples), as many targets
# at once as there are CPUs.  New inputs go to a scratch corpus that is thrown
# away; a crash leaves its reproducer in $OUTPUT/fuzz/ and is reported.
# `make fuzz` is the long run.
#
# Prints "PASS: fuzz_NAME smoke (N execs)" or "FAIL: fuzz_NAME smoke: why".
set -u
OUTPUT=${OUTPUT:-$(pwd)/.output}
cd "$(dirname "$0")/../.." || exit 2
TIME=${FUZZ_SMOKE_TIME:-15}
rc=0

# Keywords and shapes of the policy language, so the fuzzer gets past the
# tokenizer quickly.
policy_dict() {
	cat <<'DICT'
"allow "
"deny "
"mode "
"enforce"
"audit"
"resolver "
"scope "
" {\x0a"
"}\x0a"
"\x0a"
" dns "
" host "
" any"
" tcp "
" udp "
"*."
"::ffff:"
"127.0.0.0/8"
"::1"
"10.0.0.0/8"
"fd00::/8"
"0.0.0.0/0"
"/24"
"/128"
"80,443"
"1000-2000"
"65535"
"#"
"[fd00::53]:53"
DICT
}

# fuzz_one NAME WORK: one target for $TIME seconds; its line in WORK/result.
fuzz_one() {
	local name=$1 work=$2 short=${1#fuzz_} bin=$OUTPUT/fuzz/$1 seeds=() extra=() r execs
	[ -d "tests/fuzz/corpus/$short" ] && seeds+=("tests/fuzz/corpus/$short")
	if [ "$short" = policy ]; then
		[ -d tests/policy ] && seeds+=(tests/policy)
		[ -d rules/examples ] && seeds+=(rules/examples)
		policy_dict >"$work/dict"
		extra+=("-dict=$work/dict")
	fi
	mkdir -p "$work/corpus"
	"$bin" -max_total_time="$TIME" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
		-print_final_stats=1 -artifact_prefix="$OUTPUT/fuzz/$name-" "${extra[@]}" \
		"$work/corpus" "${seeds[@]}" >"$work/log" 2>&1
	r=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$work/log" | tail -n 1)
	if [ $r -eq 0 ] && [ -n "$execs" ]; then
		echo "PASS: $name smoke ($execs execs)" >"$work/result"
	else
		{
			echo "FAIL: $name smoke: exit $r after ${execs:-?} execs (reproducer in $OUTPUT/fuzz/$name-*)"
			grep -v '^#' "$work/log" | tail -n 40
		} >"$work/result"
	fi
}

# The targets side by side, one per CPU (each is single-threaded): the
# tier takes TIME per CPU's share of targets, not TIME per target.
jobs=$(nproc 2>/dev/null || echo 1)
works=()
for src in tests/fuzz/fuzz_*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c)
	if [ ! -x "$OUTPUT/fuzz/$name" ]; then
		echo "FAIL: $name smoke: $OUTPUT/fuzz/$name not built (make unit)"
		rc=1
		continue
	fi
	work=$(mktemp -d "${TMPDIR:-/tmp}/hush-fuzz.XXXXXX") || exit 2
	works+=("$work")
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	fuzz_one "$name" "$work" &
done
wait
for work in "${works[@]}"; do
	if [ -s "$work/result" ]; then
		cat "$work/result"
		grep -q '^FAIL:' "$work/result" && rc=1
	else
		echo "FAIL: $(basename "$work") smoke: no result"
		rc=1
	fi
	rm -rf "$work"
done
exit $rc
