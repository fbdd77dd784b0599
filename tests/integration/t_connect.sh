#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# TCP connect() under hushd (cgroup/connect4, connect6): allowed destinations
# connect, denied ones get EPERM at once; IPv4-mapped IPv6 is judged by the
# IPv4 rules; port lists and ranges; a deny carve-out inside an allowed CIDR.
# Every case checks the socket result and hushd's event for it (hushd runs
# with --log-allowed, so allowed attempts have events too).
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init connect
h_require_hush
h_netns_up
cg=$(h_cgroup_create enforced)
H_PROBE_CG=$cg

# Rule ids are 1-based in file order.
policy=$(h_policy connect.policy <<EOF
mode enforce
allow 198.18.1.0/24 tcp 8080,9000-9002
allow fd00:1::/64 tcp 8080
deny $H_INT4_B
deny $H_INT6_B
EOF
)

# Listeners on every port a case uses, dual-stack ("::"), so a "denied" case
# would connect if the deny were missing.
for port in 8080 8081 8999 9000 9001 9002 9003; do
	h_listen "$H_NS_INT" tcp :: "$port"
done
h_listen "$H_NS_FORB" tcp :: 8080
forb_log=$H_LISTEN_OUT

h_hushd_start "$policy" "$cg" --log-allowed || h_done

# allowed and denied, both families
h_attempt "tcp4 to int allowed" ok - allow connect4 "$H_INT4" 8080 tcp --where '.rule == 1' \
	-- connect "$H_INT4" 8080
h_attempt "tcp4 to forb denied" error EPERM deny connect4 "$H_FORB4" 8080 tcp \
	--where '.rule == 0 and .family == "ipv4" and .comm == "netprobe"' \
	-- connect "$H_FORB4" 8080
h_attempt "tcp6 to int allowed" ok - allow connect6 "$H_INT6" 8080 tcp --where '.rule == 2' \
	-- connect "$H_INT6" 8080
h_attempt "tcp6 to forb denied" error EPERM deny connect6 "$H_FORB6" 8080 tcp \
	--where '.rule == 0 and .family == "ipv6"' \
	-- connect "$H_FORB6" 8080

# v4-mapped destinations from an AF_INET6 socket: the IPv4 rules decide
h_attempt "mapped to int allowed by v4 rule" ok - allow connect6 \
	"$H_INT4|::ffff:$H_INT4" 8080 tcp --where '.rule == 1' \
	-- connect6 "::ffff:$H_INT4" 8080
h_attempt "mapped to forb denied by v4 rules" error EPERM deny connect6 \
	"$H_FORB4|::ffff:$H_FORB4" 8080 tcp --where '.rule == 0' \
	-- connect6 "::ffff:$H_FORB4" 8080
h_attempt "mapped to int port outside v4 list denied" error EPERM deny connect6 \
	"$H_INT4|::ffff:$H_INT4" 9003 tcp \
	-- connect6 "::ffff:$H_INT4" 9003

# port list and range (8080,9000-9002)
h_attempt "range low edge 9000 allowed" ok - allow connect4 "$H_INT4" 9000 tcp \
	-- connect "$H_INT4" 9000
h_attempt "range middle 9001 allowed" ok - allow connect4 "$H_INT4" 9001 tcp \
	-- connect "$H_INT4" 9001
h_attempt "range high edge 9002 allowed" ok - allow connect4 "$H_INT4" 9002 tcp \
	-- connect "$H_INT4" 9002
h_attempt "below range 8999 denied" error EPERM deny connect4 "$H_INT4" 8999 tcp \
	-- connect "$H_INT4" 8999
h_attempt "above range 9003 denied" error EPERM deny connect4 "$H_INT4" 9003 tcp \
	-- connect "$H_INT4" 9003
h_attempt "next to list 8081 denied" error EPERM deny connect4 "$H_INT4" 8081 tcp \
	-- connect "$H_INT4" 8081
h_attempt "v6 rule has 8080 only: 9000 denied" error EPERM deny connect6 "$H_INT6" 9000 tcp \
	-- connect "$H_INT6" 9000

# carve-outs: a /32 (/128) deny inside the allowed /24 (/64)
h_attempt "carve-out v4 denied" error EPERM deny connect4 "$H_INT4_B" 8080 tcp \
	--where ".rule == 3 and (.rule_text // \"\" | test(\"deny\"))" \
	-- connect "$H_INT4_B" 8080
h_attempt "carve-out v6 denied" error EPERM deny connect6 "$H_INT6_B" 8080 tcp \
	--where '.rule == 4' \
	-- connect "$H_INT6_B" 8080
h_attempt "carve-out leaves the rest of the /24" ok - allow connect4 "$H_INT4" 8080 tcp \
	-- connect "$H_INT4" 8080

# loopback is allowed implicitly: a closed port is refused, not EPERM
h_attempt "loopback allowed implicitly" error ECONNREFUSED - - - - - \
	-- connect 127.0.0.1 1

# Nothing reached forb, and events carry the full record.
if h_json_match "$forb_log" '.event == "accept"' >/dev/null; then
	h_fail "nothing reached forb" "$(grep accept "$forb_log" | head -n 3 | tr '\n' ' ')"
else
	h_pass "nothing reached forb"
fi
h_assert_json "$H_HUSHD_OUT" '.verdict == "deny" and (.ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")) and (.pid | type) == "number" and (.uid == 0) and (.cgroup_id | type) == "number" and (.cookie | type) == "number" and .scope == "" and (.rule_text | type) == "string"' \
	"events carry ts, pid, uid, cgroup_id, cookie, scope, rule_text"
cgid=$(stat -c %i "$cg")
h_assert_json "$H_HUSHD_OUT" ".verdict == \"deny\" and .cgroup_id == $cgid" \
	"event cgroup_id is the enforced cgroup's"

h_done
