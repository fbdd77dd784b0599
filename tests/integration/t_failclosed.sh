#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Fail closed: enforcement lives in pinned links, not in hushd.
#   SIGKILL hushd -> still denied -> a new hushd adopts the pins -> still
#   denied, allowed still works, and the attempt made while no hushd ran is
#   reported (the pinned ring buffer kept it) -> SIGTERM hushd -> still
#   denied -> `hush disable` -> enforcement gone.  `hush status` exits 0
#   with hushd running, 3 with none, 1 once disabled.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init failclosed
h_require_hush
h_netns_up
cg=$(h_cgroup_create enforced)
H_PROBE_CG=$cg

policy=$(h_policy failclosed.policy <<EOF
mode enforce
allow $H_INT4 tcp 8080
EOF
)
h_listen "$H_NS_INT" tcp :: 8080
h_listen "$H_NS_FORB" tcp :: 8080
forb_log=$H_LISTEN_OUT

# attached: how many programs bpftool lists on the cgroup (-1: no bpftool).
attached() {
	command -v bpftool >/dev/null || {
		echo -1
		return
	}
	bpftool cgroup show "$cg" 2>/dev/null | awk 'NR > 1 && NF' | wc -l
}

h_hushd_start "$policy" "$cg" || h_done
first=$H_HUSHD_PID
h_attempt "hushd 1: forb denied" error EPERM deny connect4 "$H_FORB4" 8080 tcp \
	-- connect "$H_FORB4" 8080
h_attempt "hushd 1: int allowed" ok - - - - - - -- connect "$H_INT4" 8080

# ---- SIGKILL: nothing opens ----
if h_stop "$first" KILL; then
	h_pass "hushd 1 killed with SIGKILL"
else
	h_fail "hushd 1 killed with SIGKILL" "still running"
fi
h_expect_probe "no hushd: forb still denied" error EPERM -- connect "$H_FORB4" 8080
dead_pid=$H_PROBE_PID
h_expect_probe "no hushd: udp to forb still denied" error EPERM -- sendto "$H_FORB4" 7000
h_expect_probe "no hushd: int still allowed" ok - -- connect "$H_INT4" 8080
h_hush status >"$H_TMP/status-dead.txt" 2>&1
rc=$?
if [ "$rc" = 3 ]; then
	h_pass "no hushd: hush status exits 3 (enforced, hushd not running)"
else
	h_fail "no hushd: hush status exits 3" "exit $rc: $(grep '^hushd:' "$H_TMP/status-dead.txt")"
fi
n=$(attached)
if [ "$n" != 0 ]; then
	h_pass "no hushd: programs still attached ($n)"
else
	h_fail "no hushd: programs still attached" "bpftool lists nothing on $cg"
fi

# ---- a new hushd adopts ----
h_hushd_start "$policy" "$cg" || h_done
second=$H_HUSHD_PID
h_expect_event "hushd 2: reports the attempt made while no hushd ran" "$H_HUSHD_OUT" \
	"$(h_event_filter deny connect4 "$H_FORB4" 8080 tcp) and .tgid == $dead_pid"
h_attempt "hushd 2: forb denied" error EPERM deny connect4 "$H_FORB4" 8080 tcp \
	-- connect "$H_FORB4" 8080
h_attempt "hushd 2: forb6 denied" error EPERM deny connect6 "$H_FORB6" 8080 tcp \
	-- connect "$H_FORB6" 8080
h_attempt "hushd 2: int allowed" ok - - - - - - -- connect "$H_INT4" 8080
n2=$(attached)
if [ "$n2" = "$n" ]; then
	h_pass "hushd 2: adopted, no second set of programs ($n2)"
else
	h_fail "hushd 2: adopted, no second set of programs" "attached before $n, now $n2"
fi
if h_hush status >"$H_TMP/status.txt" 2>&1; then
	h_pass "hush status with hushd 2 running"
else
	h_fail "hush status with hushd 2 running" "$(tail -n 3 "$H_TMP/status.txt" | tr '\n' ' ')"
fi
if h_hush status --json >"$H_TMP/status.json" 2>"$H_TMP/status.err" &&
	jq -e . "$H_TMP/status.json" >/dev/null 2>&1; then
	h_pass "hush status --json is JSON"
else
	h_fail "hush status --json is JSON" "$(head -c 300 "$H_TMP/status.json") $(tail -n 2 "$H_TMP/status.err")"
fi
# The cgroup2 mount and its nsdelegate option, as /proc/mounts has them.
read -r cg2_mnt cg2_nsd < <(awk '$3 == "cgroup2" {
	print $2, ($4 ~ /(^|,)nsdelegate(,|$)/ ? "true" : "false"); exit }' /proc/mounts)
h_assert_json "$(cat "$H_TMP/status.json")" \
	".cgroup2.mount == \"$cg2_mnt\" and .cgroup2.nsdelegate == $cg2_nsd" \
	"hush status --json: cgroup2 mount and nsdelegate ($cg2_nsd)"

# ---- SIGTERM: exits, enforcement stays ----
if h_stop "$second" TERM && [ "$H_STOP_RC" = 0 ]; then
	h_pass "hushd 2 exits 0 on SIGTERM"
else
	h_fail "hushd 2 exits 0 on SIGTERM" "running or exit status ${H_STOP_RC:-?}"
fi
h_expect_probe "after SIGTERM: forb still denied" error EPERM -- connect "$H_FORB4" 8080

# ---- hush disable: the explicit way out ----
if h_hush disable >"$H_TMP/disable.out" 2>&1; then
	h_pass "hush disable exits 0"
else
	h_fail "hush disable exits 0" "$(tail -n 3 "$H_TMP/disable.out" | tr '\n' ' ')"
fi
h_expect_probe "after disable: forb reachable" ok - -- connect "$H_FORB4" 8080 --send after-disable
h_assert_json "$forb_log" '.event == "data" and .payload == "after-disable"' \
	"after disable: forb got the connection"
h_expect_probe "after disable: int reachable" ok - -- connect "$H_INT4" 8080
n3=$(attached)
if [ "$n3" = 0 ] || [ "$n3" = -1 ]; then
	h_pass "after disable: nothing attached to the cgroup"
else
	h_fail "after disable: nothing attached to the cgroup" "$(bpftool cgroup show "$cg" 2>&1 | tr '\n' ' ')"
fi
left=$(find "$H_PIN_DIR" -mindepth 1 \( -type f -o -type l \) 2>/dev/null | head -n 5)
if [ -z "$left" ]; then
	h_pass "after disable: nothing pinned"
else
	h_fail "after disable: nothing pinned" "left: $(echo "$left" | tr '\n' ' ')"
fi
h_hush status >/dev/null 2>&1
rc=$?
if [ "$rc" = 1 ]; then
	h_pass "after disable: hush status exits 1"
else
	h_fail "after disable: hush status exits 1" "exit $rc"
fi
if h_hush disable >/dev/null 2>&1; then
	h_pass "hush disable is idempotent"
else
	h_fail "hush disable is idempotent" "second disable failed"
fi

h_done
