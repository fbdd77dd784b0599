#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# hushd --metrics-file: Prometheus metrics in the node_exporter textfile
# format (up and heartbeat, attempts by hook and verdict from the kernel
# counters, lost events, policy generation, last reload result), rewritten
# atomically.  t_liveness.sh: the heartbeat after SIGKILL, hush_up 0.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init metrics
h_require_hush
h_netns_up
cg=$(h_cgroup_create enforced)
H_PROBE_CG=$cg
prom=$H_TMP/hush.prom

policy=$(h_policy metrics.policy <<EOF
allow $H_INT4 tcp 8080
EOF
)
# The unit runs hushd with UMask=0077: files meant for readers keep their
# modes anyway.
umask 077
h_hushd_start "$policy" "$cg" --metrics-file "$prom" || h_done
umask 022

# metric NAME{LABELS} -> value ("" if absent)
metric() {
	awk -v m="$1" '$1 == m { print $2 }' "$prom" 2>/dev/null
}

# wait_metric NAME{LABELS} AWK-CONDITION-ON-v SECONDS
wait_metric() {
	local deadline=$(($(h_now_ms) + $3 * 1000)) v
	while :; do
		v=$(metric "$1")
		[ -n "$v" ] && awk -v v="$v" "BEGIN { exit !($2) }" && return 0
		[ "$(h_now_ms)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

for i in 1 2 3; do
	h_probe -- connect "$H_FORB4" 8080 --timeout-ms 500
done
if wait_metric 'hush_attempts_total{hook="connect4",verdict="deny"}' 'v == 3' 5; then
	h_pass "metrics: denied attempts counted by hook and verdict"
else
	h_fail "metrics: denied attempts counted by hook and verdict" \
		"got '$(metric 'hush_attempts_total{hook="connect4",verdict="deny"}')'"
fi
if wait_metric hush_db_rows_written_total 'v >= 1' 5 &&
	[ "$(metric hush_db_writable)" = 1 ] && [ "$(metric hush_db_pending_rows)" = 0 ] &&
	awk -v v="$(metric hush_db_writer_lag_seconds)" 'BEGIN { exit !(v >= 0 && v < 5) }'; then
	h_pass "metrics: database writer: rows written, writable, pending rows, lag"
else
	h_fail "metrics: database writer: rows written, writable, pending rows, lag" "$(grep hush_db "$prom" | tr '\n' '|')"
fi
if [ "$(metric hush_up)" = 1 ] &&
	awk -v v="$(metric hush_heartbeat_timestamp_seconds)" -v now="$(date +%s)" \
		'BEGIN { exit !(v > 0 && now - v < 10) }'; then
	h_pass "metrics: hush_up 1, a fresh heartbeat"
else
	h_fail "metrics: hush_up 1, a fresh heartbeat" "$(grep -E '^hush_(up|heartbeat)' "$prom" | tr '\n' '|')"
fi
if grep -q '^# TYPE hush_attempts_total counter$' "$prom" &&
	grep -q '^hush_events_lost_total{hook="egress"} 0$' "$prom" &&
	[ "$(metric hush_policy_generation)" = 1 ]; then
	h_pass "metrics: types, lost events and policy generation"
else
	h_fail "metrics: types, lost events and policy generation" "$(tr '\n' '|' <"$prom")"
fi

# hushd's own rejection (hush policy apply would refuse a bad file before
# reaching hushd): break the policy file and send SIGHUP.
cp "$policy" "$H_TMP/good.policy"
printf 'allow 198.18.1.0/24 tpc 80\n' >"$policy"
kill -HUP "$H_HUSHD_PID"
if wait_metric hush_policy_last_reload_success 'v == 0' 3 &&
	[ "$(metric hush_policy_generation)" = 1 ]; then
	h_pass "metrics: a rejected reload shows as failed, generation unchanged"
else
	h_fail "metrics: a rejected reload shows as failed, generation unchanged" \
		"$(tr '\n' '|' <"$prom")"
fi

cp "$H_TMP/good.policy" "$policy"
h_hush policy apply "$policy" >/dev/null 2>&1
if wait_metric hush_policy_last_reload_success 'v == 1' 3 &&
	wait_metric hush_policy_generation 'v == 2' 3; then
	h_pass "metrics: a good reload shows as applied, generation bumped"
else
	h_fail "metrics: a good reload shows as applied, generation bumped" \
		"$(tr '\n' '|' <"$prom")"
fi
want_ver=$("$HUSHD" --version | awk '{ print $2 }')
bi=$(grep '^hush_build_info{' "$prom")
if [ "${bi%%,*}" = "hush_build_info{version=\"$want_ver\"" ] &&
	printf '%s\n' "${bi#*,}" | grep -Eq '^libbpf="v?[0-9][0-9.]*",sqlite="3\.[0-9.]+"\} 1$' &&
	grep -q '^# TYPE hush_build_info gauge$' "$prom"; then
	h_pass "metrics: hush_build_info names hushd's version, libbpf and SQLite"
else
	h_fail "metrics: hush_build_info names hushd's version, libbpf and SQLite" \
		"want version $want_ver: $(grep build_info "$prom")"
fi
# (mode and the chain head file: written under umask 077)
if [ "$(stat -c %a "$prom")" = 644 ] && [ "$(stat -c %a "$H_RUN_DIR/hush.db.head")" = 644 ]; then
	h_pass "metrics: metrics file and chain head 0644 under umask 077"
else
	h_fail "metrics: metrics file and chain head 0644 under umask 077" \
		"$(stat -c '%a %n' "$prom" "$H_RUN_DIR/hush.db.head" 2>&1 | tr '\n' ' ')"
fi
if ls "$prom".tmp.* >/dev/null 2>&1; then
	h_fail "metrics: no temporary files left" "$(ls "$prom".tmp.*)"
else
	h_pass "metrics: no temporary files left"
fi

h_done
