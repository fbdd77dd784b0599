#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Containment and liveness (issue 11):
#   - `hush policy apply` and `hush disable` from a process inside the
#     enforced cgroup (or below it) are refused, and still work from outside;
#     hushd refuses "stop" from inside too, and logs each refusal;
#   - `hush status` exits 0 with hushd running, 3 with enforcement pinned but
#     no hushd (SIGKILL, SIGTERM), 1 once disabled;
#   - the metrics say hush_up 1 with a moving heartbeat while hushd runs, keep
#     a frozen heartbeat after SIGKILL, and hush_up 0 after a clean exit;
#   - `hush disable` with hushd dead writes its own note row in the log
#     hushd named in its run dir.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init liveness
h_require_hush
h_netns_up
cg=$(h_cgroup_create enforced)
inner=$(h_cgroup_create enforced/inner)
H_PROBE_CG=$cg
prom=$H_TMP/hush.prom
db=$H_RUN_DIR/hush.db

policy=$(h_policy liveness.policy <<EOF
mode enforce
allow $H_INT4 tcp 8080
EOF
)
open=$(h_policy open.policy <<EOF
mode enforce
allow 0.0.0.0/0
allow ::/0
EOF
)
h_listen "$H_NS_FORB" tcp :: 8080

# metric NAME -> value ("" if absent)
metric() {
	awk -v m="$1" '$1 == m { print $2 }' "$prom" 2>/dev/null
}

# status_rc: the exit status of `hush status` (output in $H_TMP/status.txt).
status_rc() {
	h_hush status >"$H_TMP/status.txt" 2>&1
	echo $?
}

# expect_status NAME RC: `hush status` exits RC.
expect_status() {
	local rc
	rc=$(status_rc)
	if [ "$rc" = "$2" ]; then
		h_pass "$1: hush status exits $2"
	else
		h_fail "$1: hush status exits $2" "exit $rc: $(grep -E '^(enforcement|hushd):' "$H_TMP/status.txt" | tr '\n' ' ')"
	fi
}

# inside CG TAG ARGS...: the CLI run in cgroup CG; exit status in IN_RC,
# stderr in $H_TMP/TAG.err.
inside() {
	local c=$1 tag=$2
	shift 2
	h_cgroup_run "$c" "$HUSH" "$@" >"$H_TMP/$tag.out" 2>"$H_TMP/$tag.err" </dev/null
	IN_RC=$?
}

h_hushd_start "$policy" "$cg" --metrics-file "$prom" || h_done
first=$H_HUSHD_PID
expect_status "hushd running" 0

# ---- metrics: up, and a heartbeat that moves ----
h_wait_for_file "$prom" 5
hb1=$(metric hush_heartbeat_timestamp_seconds)
sleep 2.2
hb2=$(metric hush_heartbeat_timestamp_seconds)
if [ "$(metric hush_up)" = 1 ] &&
	awk -v a="$hb1" -v b="$hb2" -v now="$(date +%s)" \
		'BEGIN { exit !(a > 0 && b > a && now - b < 10) }'; then
	h_pass "metrics: hush_up 1, heartbeat moves ($hb1 -> $hb2)"
else
	h_fail "metrics: hush_up 1, heartbeat moves" "up '$(metric hush_up)', heartbeat '$hb1' -> '$hb2'"
fi
if grep -q '^# TYPE hush_heartbeat_timestamp_seconds gauge$' "$prom" &&
	grep -q '^# TYPE hush_up gauge$' "$prom"; then
	h_pass "metrics: hush_up and the heartbeat are gauges"
else
	h_fail "metrics: hush_up and the heartbeat are gauges" "$(grep -E 'hush_up|heartbeat' "$prom" | tr '\n' '|')"
fi

# ---- containment: no change from inside ----
seq0=$(h_hush status --json 2>/dev/null | jq -r .policy.seq)
for where in "$cg" "$inner"; do
	w=${where#"$H_CG_ROOT"/}
	inside "$where" apply --pin-dir "$H_PIN_DIR" --run-dir "$H_RUN_DIR" policy apply "$open"
	if [ "$IN_RC" = 1 ] &&
		grep -q "refused: the asking process (pid [0-9]*) runs inside the enforced cgroup $cg;" \
			"$H_TMP/apply.err"; then
		h_pass "apply from $w: refused, and says why"
	else
		h_fail "apply from $w: refused, and says why" "exit $IN_RC: $(tr '\n' ' ' <"$H_TMP/apply.err")"
	fi
	inside "$where" disable --pin-dir "$H_PIN_DIR" --run-dir "$H_RUN_DIR" disable
	if [ "$IN_RC" = 1 ] &&
		grep -q "disable refused: this process (pid [0-9]*) runs inside the enforced cgroup $cg;" \
			"$H_TMP/disable.err"; then
		h_pass "disable from $w: refused, and says why"
	else
		h_fail "disable from $w: refused, and says why" "exit $IN_RC: $(tr '\n' ' ' <"$H_TMP/disable.err")"
	fi
done
# hushd's own check of "stop": a pin dir with nothing in it gets past the
# CLI's check, the request reaches hushd.
inside "$cg" stop --pin-dir "$H_TMP/nopins" --run-dir "$H_RUN_DIR" disable
if [ "$IN_RC" = 1 ] && grep -q "refused: the asking process" "$H_TMP/stop.err" &&
	h_alive "$first"; then
	h_pass "stop from inside: hushd refuses and runs on"
else
	h_fail "stop from inside: hushd refuses and runs on" "exit $IN_RC: $(tr '\n' ' ' <"$H_TMP/stop.err")"
fi
seq1=$(h_hush status --json 2>/dev/null | jq -r .policy.seq)
if [ "$seq1" = "$seq0" ] && h_alive "$first"; then
	h_pass "after the refusals: same policy (seq $seq1), hushd running"
else
	h_fail "after the refusals: same policy, hushd running" "seq $seq0 -> $seq1"
fi
h_expect_probe "after the refusals: forb still denied" error EPERM -- connect "$H_FORB4" 8080
if h_wait_for_line "$H_HUSHD_ERR" 'control: "apply" refused: the asking process' 3 &&
	h_wait_for_line "$H_HUSHD_ERR" 'control: "stop" refused' 3; then
	h_pass "hushd says what it refused"
else
	h_fail "hushd says what it refused" "$(tail -n 5 "$H_HUSHD_ERR" | tr '\n' ' ')"
fi

# refused_rows: note rows in the log for refused requests.
refused_rows() {
	"$HUSH" log --db "$db" --kind note --json 2>/dev/null | jq -r .note |
		grep -c '^control request "\(apply\|stop\)" refused: the asking process'
}
deadline=$(($(h_now_ms) + 5000))
until [ "$(refused_rows)" -ge 3 ] || [ "$(h_now_ms)" -ge "$deadline" ]; do
	sleep 0.1
done
if [ "$(refused_rows)" = 3 ]; then
	h_pass "the refusals are note rows in the log (3)"
else
	h_fail "the refusals are note rows in the log" "$(refused_rows) rows"
fi

# ---- from outside, both still work ----
if h_hush policy apply "$policy" >"$H_TMP/apply2.out" 2>&1; then
	h_pass "apply from outside: applied"
else
	h_fail "apply from outside: applied" "$(tr '\n' ' ' <"$H_TMP/apply2.out")"
fi
expect_status "after apply from outside" 0

# ---- SIGKILL: enforcement holds, status says hushd is gone ----
h_stop "$first" KILL
expect_status "hushd killed (SIGKILL)" 3
running=$(h_hush status --json 2>/dev/null | jq -r .hushd.running)
if [ "$running" = false ]; then
	h_pass "hushd killed: status --json says not running"
else
	h_fail "hushd killed: status --json says not running" "hushd.running: $running"
fi
if grep -q '^hushd:       not running' "$H_TMP/status.txt"; then
	h_pass "hushd killed: the table says not running"
else
	h_fail "hushd killed: the table says not running" "$(tr '\n' ' ' <"$H_TMP/status.txt")"
fi
hb1=$(metric hush_heartbeat_timestamp_seconds)
sleep 1.5
hb2=$(metric hush_heartbeat_timestamp_seconds)
if [ -n "$hb1" ] && [ "$hb1" = "$hb2" ]; then
	h_pass "hushd killed: the heartbeat stops ($hb1)"
else
	h_fail "hushd killed: the heartbeat stops" "'$hb1' -> '$hb2'"
fi
h_expect_probe "hushd killed: forb still denied" error EPERM -- connect "$H_FORB4" 8080

# ---- a new hushd adopts; SIGTERM: hush_up 0, status 3 ----
h_hushd_start "$policy" "$cg" --metrics-file "$prom" || h_done
second=$H_HUSHD_PID
expect_status "hushd 2 running" 0
h_stop "$second" TERM
if [ "$(metric hush_up)" = 0 ]; then
	h_pass "hushd 2 exited cleanly: hush_up 0"
else
	h_fail "hushd 2 exited cleanly: hush_up 0" "$(grep -E 'hush_up|heartbeat' "$prom" | tr '\n' '|')"
fi
expect_status "hushd 2 stopped (SIGTERM)" 3

# ---- disable with no hushd: the note row ----
if h_hush disable >"$H_TMP/disable2.out" 2>&1; then
	h_pass "disable with hushd dead exits 0"
else
	h_fail "disable with hushd dead exits 0" "$(tr '\n' ' ' <"$H_TMP/disable2.out")"
fi
expect_status "disabled" 1
# shellcheck disable=SC2016 # backquotes of the note text, not a command
note=$("$HUSH" log --db "$db" --kind note --json 2>/dev/null | jq -r .note |
	grep 'enforcement removed by `hush disable`' | tail -n 1)
if [[ "$note" == *"(pid "*", uid 0) from $cg, policy seq "*"; hushd was not running" ]]; then
	h_pass "disable with hushd dead: note row in the log"
else
	h_fail "disable with hushd dead: note row in the log" "got '$note'"
fi
if out=$("$HUSH" log verify --db "$db" 2>&1); then
	h_pass "the chain is intact after the CLI's note ($out)"
else
	h_fail "the chain is intact after the CLI's note" "$out"
fi
h_expect_probe "disabled: forb reachable" ok - -- connect "$H_FORB4" 8080

h_done
