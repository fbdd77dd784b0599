#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Lint tier: every tracked C file is clang-formatted (.clang-format: kernel
# style, column limit 100); every shell script parses.
set -u
cd "$(dirname "$0")/.." || exit 2
if ! command -v clang-format >/dev/null; then
	echo "SKIP: clang-format: not installed (apt-get install clang-format)"
	exit 0
fi
files=$(git ls-files '*.c' '*.h' 2>/dev/null)
[ -n "$files" ] || files=$(find bpf agent cli rules tests -name '*.[ch]')
bad=
for f in $files; do
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
done
if [ -z "$bad" ]; then
	echo "PASS: clang-format: $(echo "$files" | wc -w) C files formatted"
else
	echo "FAIL: clang-format: not formatted (run make format):$bad"
fi
sbad=
for f in $(git ls-files '*.sh' .ci/run 2>/dev/null); do
	bash -n "$f" 2>/dev/null || sbad="$sbad $f"
done
if [ -z "$sbad" ]; then
	echo "PASS: shell scripts parse"
else
	echo "FAIL: shell syntax errors in:$sbad"
fi
[ -z "$bad$sbad" ]
