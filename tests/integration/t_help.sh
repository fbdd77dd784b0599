#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# --help (and -h) on hushd, hush and every hush subcommand: the usage on
# stdout, nothing on stderr, exit 0, and nothing done (no hushd contacted, no
# file read).  A wrong option still gets the usage on stderr and exit 2 (125
# for hush run: its own status space).
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init help
h_require_hush

# check_help WHAT EXPECT-IN-FIRST-LINE CMD...
check_help() {
	local what=$1 want=$2 out err rc
	shift 2
	out=$H_TMP/help.out err=$H_TMP/help.err
	"$@" >"$out" 2>"$err" </dev/null
	rc=$?
	if [ "$rc" = 0 ] && [ ! -s "$err" ] && head -n 1 "$out" | grep -qF -- "$want"; then
		h_pass "help: $what: usage on stdout, exit 0"
	else
		h_fail "help: $what: usage on stdout, exit 0" \
			"exit $rc, stdout '$(head -n 2 "$out")', stderr '$(head -n 2 "$err")'"
	fi
}

check_help "hushd --help" "usage: hushd" "$HUSHD" --help
check_help "hushd -h" "usage: hushd" "$HUSHD" -h
check_help "hush --help" "usage: hush" "$HUSH" --help
check_help "hush help" "usage: hush" "$HUSH" help
for cmd in status run test disable log "log top" "log verify" "log prune" policy \
	"policy check" "policy show" "policy apply"; do
	first=${cmd%% *}
	# shellcheck disable=SC2086 # word splitting: "log top" is two words
	check_help "hush $cmd --help" "usage: hush $first" h_hush $cmd --help
	# shellcheck disable=SC2086
	check_help "hush $cmd -h" "usage: hush $first" h_hush $cmd -h
done
# --help after other options, and no command run.
check_help "hush run --policy FILE --help" "usage: hush run" \
	h_hush run --policy /nonexistent --help -- touch "$H_TMP/ran"
check_help "hush test --timeout 1s --help" "usage: hush test" \
	h_hush test --timeout 1s --help -- touch "$H_TMP/ran"
if [ -e "$H_TMP/ran" ]; then
	h_fail "help: --help runs no command" "the command ran"
else
	h_pass "help: --help runs no command"
fi

# A wrong option: the usage (or where to find it) on stderr, usage exit status.
for cmd in run test status disable log policy; do
	want=2
	[ "$cmd" = run ] && want=125
	h_hush "$cmd" --no-such-option >"$H_TMP/o" 2>"$H_TMP/e" </dev/null
	rc=$?
	if [ "$rc" = "$want" ] && grep -Eq "usage: hush $cmd|see .hush $cmd --help" "$H_TMP/e" && [ ! -s "$H_TMP/o" ]; then
		h_pass "help: hush $cmd --no-such-option: usage on stderr, exit $want"
	else
		h_fail "help: hush $cmd --no-such-option: usage on stderr, exit $want" \
			"exit $rc, stderr '$(head -n 2 "$H_TMP/e")'"
	fi
done
h_done
