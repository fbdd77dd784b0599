#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Scopes: one hushd on a cgroup subtree, two `scope` blocks with different
# rules; each cgroup obeys its own scope (descendants inherit it, cgroups
# without a scope get the top-level rules).  A `hush run` started inside a
# scoped cgroup gets a child cgroup that obeys both policies.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init scopes
h_require_hush
h_netns_up
top=$(h_cgroup_create top)
cga=$(h_cgroup_create top/a)
cgb=$(h_cgroup_create top/b)
cgc=$(h_cgroup_create top/c)
cgdeep=$(h_cgroup_create top/a/deep)

# Rule ids: 1 (scope a), 2 (scope b).  The top level allows nothing but
# loopback.
policy=$(h_policy scopes.policy <<EOF
mode enforce
scope a {
	allow $H_INT4 tcp 8080,8082
}
scope b {
	allow $H_INT4 tcp 8081
}
EOF
)

for port in 8080 8081 8082; do
	h_listen "$H_NS_INT" tcp :: "$port"
done

h_hushd_start "$policy" "$top" || h_done

# scope a
h_attempt "scope a: 8080 allowed" ok - - - - - - --cg "$cga" -- connect "$H_INT4" 8080
h_attempt "scope a: 8081 denied" error EPERM deny connect4 "$H_INT4" 8081 tcp \
	--where '.scope == "a" and .rule == 0' --cg "$cga" -- connect "$H_INT4" 8081
h_attempt "scope a: forb denied" error EPERM deny connect4 "$H_FORB4" 8080 tcp \
	--where '.scope == "a"' --cg "$cga" -- connect "$H_FORB4" 8080
# scope b
h_attempt "scope b: 8081 allowed" ok - - - - - - --cg "$cgb" -- connect "$H_INT4" 8081
h_attempt "scope b: 8080 denied" error EPERM deny connect4 "$H_INT4" 8080 tcp \
	--where '.scope == "b"' --cg "$cgb" -- connect "$H_INT4" 8080
# a descendant of a inherits a
h_attempt "a/deep: 8082 allowed" ok - - - - - - --cg "$cgdeep" -- connect "$H_INT4" 8082
h_attempt "a/deep: 8081 denied, judged in scope a" error EPERM deny connect4 "$H_INT4" 8081 tcp \
	--where '.scope == "a"' --cg "$cgdeep" -- connect "$H_INT4" 8081
# no scope: the top-level rules
h_attempt "unscoped c: 8080 denied by the top level" error EPERM deny connect4 "$H_INT4" 8080 tcp \
	--where '.scope == ""' --cg "$cgc" -- connect "$H_INT4" 8080
h_attempt "top itself: 8081 denied" error EPERM deny connect4 "$H_INT4" 8081 tcp \
	--where '.scope == ""' --cg "$top" -- connect "$H_INT4" 8081

# ---- hush run inside scope a: both policies apply ----
#   port   hushd scope a   hush run   expected
#   8080   allow           deny       EPERM, event from hush run
#   8081   deny            allow      EPERM, event from hushd (scope a)
#   8082   allow           allow      ok
#   forb   deny            deny       EPERM
runpol=$(h_policy run.policy <<EOF
allow $H_INT4 tcp 8081,8082
EOF
)
events=$H_TMP/run.events
# shellcheck disable=SC2016
h_hush_run_capture nested "$cga" --policy "$runpol" --events "$events" -- sh -c '
	printf "{\"cgroup\":\"%s\"}\n" "$(sed -n "s/^0:://p" /proc/self/cgroup)"
	"$1" connect "$2" 8080; "$1" connect "$2" 8081; "$1" connect "$2" 8082
	"$1" connect "$3" 8080
	exit 0' _ "$NETPROBE" "$H_INT4" "$H_FORB4"
if [ "$H_RUN_RC" -eq 0 ]; then
	h_pass "nested: hush run exits 0"
else
	h_fail "nested: hush run exits 0" "exit $H_RUN_RC: $H_RUN_ERR"
fi
rel=${cga#"$CG2"}
# (Its own view is "/": hush run gives it a cgroup namespace; hush run's
# event names the cgroup as the host sees it.)
h_assert_json "$(h_wait_json "$events" "$(h_event_filter deny connect4 "$H_INT4" 8080 tcp)" 3)" \
	".cgroup | startswith(\"$rel/\")" "nested: command runs in a child cgroup of scope a"

# nested PORT DADDR: the probe line for that destination.
nested() {
	printf '%s\n' "$H_RUN_OUT" | jq -c "select(.op == \"connect\" and .daddr == \"$2\" and .dport == $1)"
}
p8080=$(nested 8080 "$H_INT4")
p8081=$(nested 8081 "$H_INT4")
p8082=$(nested 8082 "$H_INT4")
pforb=$(nested 8080 "$H_FORB4")
h_assert_json "$p8080" '.result == "error" and .errno == "EPERM" and .elapsed_us < 50000' \
	"nested: 8080 denied by hush run's policy"
h_expect_event "nested: 8080 event from hush run" "$events" \
	"$(h_event_filter deny connect4 "$H_INT4" 8080 tcp) and .tgid == $(h_json_get "$p8080" .pid)"
h_assert_json "$p8081" '.result == "error" and .errno == "EPERM" and .elapsed_us < 50000' \
	"nested: 8081 denied by hushd's scope a"
h_expect_event "nested: 8081 event from hushd, scope a" "$H_HUSHD_OUT" \
	"$(h_event_filter deny connect4 "$H_INT4" 8081 tcp) and .scope == \"a\" and .tgid == $(h_json_get "$p8081" .pid)"
h_assert_json "$p8082" '.result == "ok"' "nested: 8082 allowed by both"
h_assert_json "$pforb" '.result == "error" and .errno == "EPERM"' "nested: forb denied"
h_expect_event "nested: forb event from hush run" "$events" \
	"$(h_event_filter deny connect4 "$H_FORB4" 8080 tcp)"

h_done
