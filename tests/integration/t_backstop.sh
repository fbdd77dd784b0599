#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The cgroup_skb/egress backstop: traffic the socket hooks never see.
#   - raw ICMP/ICMPv6 echo and ping sockets (no sock_addr hook on sendto)
#   - UDP with an IPv4 loose source route and UDP with an IPv6 segment
#     routing header: the socket names an allowed host (int), but the packet
#     goes via forb first.
# Each case is first run without hush as a control (the packet does reach
# forb / goes through forb), then under hushd: the sender sees an error, the
# packet never reaches forb, and hushd logs an "egress" deny.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init backstop
h_require_hush
h_netns_up
h_enable_routing || {
	h_fail "setup" "cannot enable routing through forb"
	h_done
}
cg=$(h_cgroup_create enforced)
H_PROBE_CG=$cg

policy=$(h_policy backstop.policy <<EOF
mode enforce
allow 198.18.1.0/24
allow fd00:1::/64
EOF
)

h_listen "$H_NS_INT" udp :: 7000
int_log=$H_LISTEN_OUT

# echoes NS v4|v6: echo requests forb's stack has answered so far.
echoes() {
	if [ "$2" = v4 ]; then
		h_snmp "$1" Icmp InEchos
	else
		h_snmp "$1" - Icmp6InEchos
	fi
}
fwd() {
	if [ "$1" = v4 ]; then
		h_snmp "$H_NS_FORB" Ip ForwDatagrams
	else
		h_snmp "$H_NS_FORB" - Ip6OutForwDatagrams
	fi
}

# ---- controls, no hush ----
h_expect_probe "control: raw ping forb4" ok - -- ping "$H_FORB4" --timeout-ms 2000
h_expect_probe "control: ping socket forb6" ok - -- pingdgram "$H_FORB6" --timeout-ms 2000
before=$(fwd v4)
h_expect_probe "control: lsrr via forb sent" ok - -- \
	srcroute "$H_INT4" 7000 --via "$H_FORB4" --payload ctl-lsrr
if h_wait_json "$int_log" '.payload == "ctl-lsrr"' 3 >/dev/null && [ "$(fwd v4)" -gt "$before" ]; then
	h_pass "control: lsrr via forb reaches int through forb"
else
	h_fail "control: lsrr via forb reaches int through forb" "not received or not forwarded"
fi
before=$(fwd v6)
h_expect_probe "control: srh via forb sent" ok - -- \
	rthdr6 "$H_INT6" 7000 --via "$H_FORB6" --payload ctl-srh
if h_wait_json "$int_log" '.payload == "ctl-srh"' 3 >/dev/null && [ "$(fwd v6)" -gt "$before" ]; then
	h_pass "control: srh via forb reaches int through forb"
else
	h_fail "control: srh via forb reaches int through forb" "not received or not forwarded"
fi

h_hushd_start "$policy" "$cg" || h_done

# ---- allowed: the backstop lets allowed traffic through ----
h_attempt "raw ping int4 allowed" ok - - - - - - -- ping "$H_INT4" --timeout-ms 2000
h_attempt "raw ping int6 allowed" ok - - - - - - -- ping "$H_INT6" --timeout-ms 2000
h_attempt "ping socket int4 allowed" ok - - - - - - -- pingdgram "$H_INT4" --timeout-ms 2000
h_attempt "plain udp to int allowed" ok - - - - - - -- sendto "$H_INT4" 7000 --payload plain
h_assert_json "$(h_wait_json "$int_log" '.payload == "plain"' 3)" '.event == "datagram"' \
	"plain udp to int arrives"

# ---- denied by the backstop ----
# ping_case NAME OP ADDR v4|v6 PROTO
ping_case() {
	local before after
	before=$(echoes "$H_NS_FORB" "$4")
	h_attempt "$1" error "EPERM|ETIMEDOUT" deny egress "$3" - "$5" \
		-- "$2" "$3" --timeout-ms 500
	after=$(echoes "$H_NS_FORB" "$4")
	if [ "$after" = "$before" ]; then
		h_pass "$1: forb saw no echo request"
	else
		h_fail "$1: forb saw no echo request" "forb echo requests $before -> $after"
	fi
}
ping_case "raw ping forb4 dropped" ping "$H_FORB4" v4 icmp
ping_case "raw ping forb6 dropped" ping "$H_FORB6" v6 icmpv6
ping_case "ping socket forb4 dropped" pingdgram "$H_FORB4" v4 icmp
ping_case "ping socket forb6 dropped" pingdgram "$H_FORB6" v6 icmpv6

# route_case NAME OP DST VIA v4|v6 PAYLOAD
route_case() {
	local before after
	before=$(fwd "$5")
	h_attempt "$1" error EPERM deny egress "$4|$3" - udp \
		-- "$2" "$3" 7000 --via "$4" --payload "$6"
	h_probe -- sendto "$3" 7000 --payload "flush-$6"
	h_wait_json "$int_log" ".payload == \"flush-$6\"" 3 >/dev/null
	after=$(fwd "$5")
	if [ "$after" = "$before" ] && ! h_json_match "$int_log" ".payload == \"$6\"" >/dev/null; then
		h_pass "$1: nothing went through forb"
	else
		h_fail "$1: nothing went through forb" "forb forwarded $before -> $after"
	fi
}
route_case "lsrr via forb dropped" srcroute "$H_INT4" "$H_FORB4" v4 bad-lsrr
route_case "srh via forb dropped" rthdr6 "$H_INT6" "$H_FORB6" v6 bad-srh

# The socket hooks saw those sockets (sendmsg judged int, allowed): the
# backstop's events name the process that sent.
for via in "$H_FORB4" "$H_FORB6"; do
	h_expect_event "routed via $via: the egress event names the process" "$H_HUSHD_OUT" \
		'.hook == "egress" and .verdict == "deny" and .daddr == "'"$via"'" and .comm == "netprobe" and .pid > 0 and (.flags | any(. == "noproc") | not)'
done

h_done
