#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Audit mode: what enforce mode would deny gets through, and is logged with
# verdict "audit" (hushd with `mode audit`, and `hush run --mode audit`).
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init audit
h_require_hush
h_netns_up
cg=$(h_cgroup_create audited)
H_PROBE_CG=$cg

policy=$(h_policy audit.policy <<EOF
mode audit
allow $H_INT4 tcp 8080
allow $H_INT6 tcp 8080
EOF
)

h_listen "$H_NS_INT" tcp :: 8080
h_listen "$H_NS_FORB" tcp :: 8080
forb_tcp=$H_LISTEN_OUT
h_listen "$H_NS_FORB" udp :: 7000
forb_udp=$H_LISTEN_OUT

h_hushd_start "$policy" "$cg" || h_done

# reached NAME LOG FILTER: the forbidden host did get it.
reached() {
	if h_wait_json "$2" "$3" 3 >/dev/null; then
		h_pass "$1: reaches forb"
	else
		h_fail "$1: reaches forb" "nothing matching $3 in $2"
	fi
}

h_attempt "tcp4 to forb audited" ok - audit connect4 "$H_FORB4" 8080 tcp \
	--where '.rule == 0' -- connect "$H_FORB4" 8080 --send audit-tcp4
reached "tcp4 to forb audited" "$forb_tcp" '.event == "data" and .payload == "audit-tcp4"'
h_attempt "tcp6 to forb audited" ok - audit connect6 "$H_FORB6" 8080 tcp \
	-- connect "$H_FORB6" 8080 --send audit-tcp6
reached "tcp6 to forb audited" "$forb_tcp" '.event == "data" and .payload == "audit-tcp6"'
h_attempt "udp4 sendto forb audited" ok - audit sendmsg4 "$H_FORB4" 7000 udp \
	-- sendto "$H_FORB4" 7000 --payload audit-udp4
reached "udp4 sendto forb audited" "$forb_udp" '.payload == "audit-udp4"'
h_attempt "udp6 connected to forb audited" ok - audit connect6 "$H_FORB6" 7000 udp \
	-- udpconnect "$H_FORB6" 7000 --payload audit-udp6
reached "udp6 connected to forb audited" "$forb_udp" '.payload == "audit-udp6"'
h_attempt "raw ping forb4 audited by the backstop" ok - audit egress "$H_FORB4" - icmp \
	-- ping "$H_FORB4" --timeout-ms 2000

# Allowed traffic is not an audit event.
h_attempt "tcp4 to int allowed" ok - - - - - - -- connect "$H_INT4" 8080
int_pid=$H_PROBE_PID
h_expect_no_event "allowed attempt is not audited" "$H_HUSHD_OUT" \
	".tgid == $int_pid and .verdict != \"allow\""
h_expect_no_event "audit mode never denies" "$H_HUSHD_OUT" '.verdict == "deny"'

# ---- hush run --mode audit ----
runcg=$(h_cgroup_create run)
runpol=$(h_policy run.policy <<EOF
allow $H_INT4 tcp 8080
EOF
)
events=$H_TMP/run-audit.events
h_hush_run_capture run-audit "$runcg" --policy "$runpol" --mode audit --events "$events" -- \
	"$NETPROBE" connect "$H_FORB4" 8080 --send run-audit
if [ "$H_RUN_RC" -eq 0 ]; then
	h_pass "hush run --mode audit: command succeeds"
else
	h_fail "hush run --mode audit: command succeeds" "exit $H_RUN_RC: $H_RUN_OUT $H_RUN_ERR"
fi
h_assert_json "$H_RUN_OUT" '.result == "ok"' "hush run --mode audit: connect to forb gets through"
reached "hush run --mode audit" "$forb_tcp" '.event == "data" and .payload == "run-audit"'
h_expect_event "hush run --mode audit: audit event" "$events" \
	"$(h_event_filter audit connect4 "$H_FORB4" 8080 tcp) and .tgid == $(h_json_get "$H_RUN_OUT" .pid)" 3

h_done
