#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Static analysis, run by `make analyze` and in the lint tier of `make check`:
#   - cppcheck (warning, portability, performance) over the user-space C code;
#   - shellcheck over every tracked shell script.
# Clean, or each finding suppressed at its line with a reason
# (`// cppcheck-suppress ID: why`, `# shellcheck disable=SCNNNN # why`).
# One PASS/FAIL line per tool (tests/run.sh reads them).
set -u
cd "$(dirname "$0")/.." || exit 2
OUTPUT=${OUTPUT:-$(pwd)/.output}
rc=0

missing=
for t in cppcheck shellcheck; do
	command -v "$t" >/dev/null || missing="$missing $t"
done
if [ -n "$missing" ]; then
	echo "SKIP: analyze: not installed:$missing (make deps-test installs them)"
	exit 0
fi

# cppcheck does not read libbpf's headers (system includes are not followed):
# tell it what LIBBPF_OPTS declares, and protobuf-c's version (the generated
# headers in $OUTPUT check it with #error).
pbc=$(sed -n 's/^#define PROTOBUF_C_VERSION_NUMBER[[:space:]]*//p' /usr/include/protobuf-c/protobuf-c.h 2>/dev/null)
crc=0
out=$(cppcheck -q --std=c11 --enable=warning,portability,performance --inline-suppr \
	--error-exitcode=1 -j"$(nproc)" -D_GNU_SOURCE -D__x86_64__ \
	'-DLIBBPF_OPTS(TYPE,NAME,...)=struct TYPE NAME = {0}' \
	"-DPROTOBUF_C_VERSION_NUMBER=${pbc:-1004001}" -DPROTOBUF_C_MIN_COMPILER_VERSION=1000000 \
	--suppress=missingIncludeSystem -I. -I"$OUTPUT" \
	agent rules cli tests/tools tests/lib tests/unit tests/bpf tests/bench tests/fuzz 2>&1) || crc=$?
if [ $crc -eq 0 ] && [ -z "$out" ]; then
	echo "PASS: cppcheck: no findings"
else
	echo "FAIL: cppcheck: findings (fix, or suppress at the line with a reason)"
	printf '%s\n' "$out" | sed 's/^/    /'
	rc=1
fi

mapfile -t scripts < <(git ls-files '*.sh' .ci/run 2>/dev/null)
[ ${#scripts[@]} -gt 0 ] || mapfile -t scripts < <(find tests .ci -name '*.sh' -o -name run)
if out=$(shellcheck -x "${scripts[@]}" 2>&1); then
	echo "PASS: shellcheck: ${#scripts[@]} scripts clean"
else
	echo "FAIL: shellcheck: findings (fix, or disable at the line with a reason)"
	printf '%s\n' "$out" | sed 's/^/    /'
	rc=1
fi
exit $rc
