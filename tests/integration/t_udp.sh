#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# UDP under hushd: unconnected sendto (cgroup/sendmsg4, sendmsg6), connected
# UDP (connect4, connect6), and the AF_INET6-socket-with-AF_INET-address path
# the kernel routes through the IPv4 hook.  Denied: EPERM at once, a deny
# event, nothing at the forbidden listener.  Allowed: the datagram arrives.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init udp
h_require_hush
h_netns_up
cg=$(h_cgroup_create enforced)
H_PROBE_CG=$cg

policy=$(h_policy udp.policy <<EOF
mode enforce
allow $H_INT4 udp 7000
allow $H_INT6 udp 7000
EOF
)

h_listen "$H_NS_INT" udp :: 7000
int_log=$H_LISTEN_OUT
h_listen "$H_NS_INT" udp :: 7001
int7001_log=$H_LISTEN_OUT
h_listen "$H_NS_FORB" udp :: 7000
forb_log=$H_LISTEN_OUT

h_hushd_start "$policy" "$cg" --log-allowed || h_done

# arrived NAME LOG PAYLOAD: the datagram with PAYLOAD reached the listener.
arrived() {
	if h_wait_json "$2" ".event == \"datagram\" and .payload == \"$3\"" 3 >/dev/null; then
		h_pass "$1: arrives"
	else
		h_fail "$1: arrives" "no datagram \"$3\" in $2"
	fi
}

# allowed
h_attempt "sendto v4 to int allowed" ok - allow sendmsg4 "$H_INT4" 7000 udp --where '.rule == 1' \
	-- sendto "$H_INT4" 7000 --payload ok-send4
arrived "sendto v4 to int allowed" "$int_log" ok-send4
h_attempt "sendto v6 to int allowed" ok - allow sendmsg6 "$H_INT6" 7000 udp --where '.rule == 2' \
	-- sendto "$H_INT6" 7000 --payload ok-send6
arrived "sendto v6 to int allowed" "$int_log" ok-send6
h_attempt "connected udp v4 to int allowed" ok - allow connect4 "$H_INT4" 7000 udp \
	-- udpconnect "$H_INT4" 7000 --payload ok-conn4
arrived "connected udp v4 to int allowed" "$int_log" ok-conn4
h_attempt "sendto6-v4 to int allowed" ok - allow sendmsg4 "$H_INT4" 7000 udp \
	-- sendto6-v4 "$H_INT4" 7000 --payload ok-6v4
arrived "sendto6-v4 to int allowed" "$int_log" ok-6v4

# denied
h_attempt "sendto v4 to forb denied" error EPERM deny sendmsg4 "$H_FORB4" 7000 udp \
	--where '.rule == 0 and .family == "ipv4"' \
	-- sendto "$H_FORB4" 7000 --payload bad-send4
h_attempt "sendto v6 to forb denied" error EPERM deny sendmsg6 "$H_FORB6" 7000 udp \
	--where '.family == "ipv6"' \
	-- sendto "$H_FORB6" 7000 --payload bad-send6
h_attempt "sendto v4 to int, port not allowed" error EPERM deny sendmsg4 "$H_INT4" 7001 udp \
	-- sendto "$H_INT4" 7001 --payload bad-port
h_attempt "sendto burst: first datagram denied" error EPERM deny sendmsg4 "$H_FORB4" 7000 udp \
	--where true -- sendto "$H_FORB4" 7000 --count 5 --payload bad-burst
h_assert_json "$H_PROBE" '.sent == 0' "sendto burst: nothing sent"
h_attempt "connected udp v4 to forb denied" error EPERM deny connect4 "$H_FORB4" 7000 udp \
	-- udpconnect "$H_FORB4" 7000 --payload bad-conn4
h_assert_json "$H_PROBE" '.stage == "connect"' "connected udp v4: denied at connect()"
h_attempt "connected udp v6 to forb denied" error EPERM deny connect6 "$H_FORB6" 7000 udp \
	-- udpconnect "$H_FORB6" 7000 --payload bad-conn6
h_attempt "sendto6-v4 to forb denied (IPv4 hook)" error EPERM deny sendmsg4 "$H_FORB4" 7000 udp \
	--where '.family == "ipv4"' \
	-- sendto6-v4 "$H_FORB4" 7000 --payload bad-6v4
# udpv6_sendmsg() hands a mapped destination to udp_sendmsg(): the IPv4 hook.
h_attempt "sendto mapped v6 to forb denied (IPv4 hook)" error EPERM deny sendmsg4 \
	"$H_FORB4|::ffff:$H_FORB4" 7000 udp \
	-- sendto "::ffff:$H_FORB4" 7000 --payload bad-mapped

# Allowed datagrams did arrive above; denied ones must not have.  A last
# allowed datagram flushes anything still in flight.
h_probe -- sendto "$H_INT4" 7000 --payload flush
h_wait_json "$int_log" '.payload == "flush"' 3 >/dev/null
if h_json_match "$forb_log" '.event == "datagram"' >/dev/null; then
	h_fail "nothing reached forb" "$(grep datagram "$forb_log" | head -n 3 | tr '\n' ' ')"
else
	h_pass "nothing reached forb"
fi
if h_json_match "$int7001_log" '.event == "datagram"' >/dev/null; then
	h_fail "nothing reached int:7001" "$(grep datagram "$int7001_log" | head -n 3 | tr '\n' ' ')"
else
	h_pass "nothing reached int:7001"
fi

h_done
