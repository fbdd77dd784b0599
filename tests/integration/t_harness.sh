#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The harness itself, without any hush binary: namespaces come up isolated,
# the host reaches int and forb over IPv4 and IPv6 (TCP, UDP, ICMP, source
# routes), nothing routes out, and cleanup leaves nothing behind, also when
# the test is killed.  Every probe here is the control for a case the hush
# tests expect to be denied.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init harness
h_require_netprobe

# ---- cleanup, checked on a run in a subshell (normal exit, then SIGTERM) ----

# sub_run MODE STATEFILE: set everything up, record it, exit or be killed.
sub_run() (
	h_init "harness-sub"
	h_netns_up
	cg=$(h_cgroup_create "a/b")
	pin=$(h_pin_dir)
	h_bg --cg "$cg" -- sleep 60
	printf '%s\n' "$H_NS_HOST $H_NS_INT $H_NS_FORB" "$H_CG_ROOT" "$pin" "$H_LAST_PID" \
		"$H_TMP" >"$2"
	[ "$1" = term ] && kill -TERM "$BASHPID"
	exit 0
)

check_clean() {
	local mode=$1 st=$H_TMP/sub.$1 left=
	sub_run "$mode" "$st" >"$st.log" 2>&1
	if [ ! -s "$st" ]; then
		h_fail "cleanup $mode: setup" "sub-run made nothing: $(tr '\n' ' ' <"$st.log")"
		return
	fi
	{
		read -r ns1 ns2 ns3
		read -r cgroot
		read -r pin
		read -r pid
		read -r tmp
	} <"$st"
	for ns in $ns1 $ns2 $ns3; do
		[ -e "/run/netns/$ns" ] && left="$left netns:$ns"
	done
	[ -e "$cgroot" ] && left="$left cgroup:$cgroot"
	[ -e "$pin" ] && left="$left pin:$pin"
	kill -0 "$pid" 2>/dev/null && left="$left pid:$pid"
	[ -e "$tmp" ] && left="$left tmp:$tmp"
	if [ -z "$left" ]; then
		h_pass "cleanup after $mode leaves nothing behind"
	else
		h_fail "cleanup after $mode leaves nothing behind" "left:$left"
	fi
}

check_clean exit
check_clean term

# ---- namespaces ----

root_links_before=$(ip -o link show | awk -F': ' '{ print $2 }' | sort | tr '\n' ' ')
h_netns_up
root_links_after=$(ip -o link show | awk -F': ' '{ print $2 }' | sort | tr '\n' ' ')

if [ "$root_links_before" = "$root_links_after" ]; then
	h_pass "root namespace gains no interface"
else
	h_fail "root namespace gains no interface" "before: $root_links_before after: $root_links_after"
fi

for ns in "$H_NS_HOST" "$H_NS_INT" "$H_NS_FORB"; do
	if [ -n "$(ip -n "$ns" route show default)$(ip -n "$ns" -6 route show default)" ]; then
		h_fail "no default route in $ns" "$(ip -n "$ns" route show default) $(ip -n "$ns" -6 route show default)"
	else
		h_pass "no default route in ${ns%%-*}"
	fi
done

# The host namespace knows exactly the two test links (and lo).
links=$(ip -n "$H_NS_HOST" -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort | tr '\n' ' ')
if [ "$links" = "lo v-forb v-int " ]; then
	h_pass "host namespace has lo, v-int, v-forb only"
else
	h_fail "host namespace has lo, v-int, v-forb only" "links: $links"
fi

# A destination outside the test networks has no route at all.
if ip -n "$H_NS_HOST" route get 192.0.2.1 >/dev/null 2>&1 ||
	ip -n "$H_NS_HOST" -6 route get 2001:db8::1 >/dev/null 2>&1; then
	h_fail "outside addresses unroutable" "$(ip -n "$H_NS_HOST" route get 192.0.2.1 2>&1)"
else
	h_pass "outside addresses unroutable"
fi

# ---- reachability (no hush): TCP, UDP ----

for ns in "$H_NS_INT" "$H_NS_FORB"; do
	h_listen "$ns" tcp 0.0.0.0 8080
	h_listen "$ns" tcp :: 8086
	h_listen "$ns" udp 0.0.0.0 7000
	h_listen "$ns" udp :: 7006
done

tcp_case() { # NAME NS ADDR PORT PEER [connect|connect6]
	local op=${6:-connect}
	h_expect_probe "$1 probe" ok - -- "$op" "$3" "$4" --send "hello-$1" &&
		h_assert_json "$H_PROBE" '.reply_len == (("hello-'"$1"'") | length)' "$1 echo"
	h_assert_json "$(h_listen_file "$2" tcp "${7:-0.0.0.0}" "$4")" \
		'.event == "data" and .peer_addr == "'"$5"'" and .payload == "hello-'"$1"'"' \
		"$1 arrives"
}
tcp_case "tcp4 int" "$H_NS_INT" "$H_INT4" 8080 "$H_HOST4_I"
tcp_case "tcp4 forb" "$H_NS_FORB" "$H_FORB4" 8080 "$H_HOST4_F"
tcp_case "tcp6 int" "$H_NS_INT" "$H_INT6" 8086 "$H_HOST6_I" connect ::
tcp_case "tcp6 forb" "$H_NS_FORB" "$H_FORB6" 8086 "$H_HOST6_F" connect ::
tcp_case "tcp mapped int" "$H_NS_INT" "::ffff:$H_INT4" 8080 "$H_HOST4_I" connect6
tcp_case "tcp mapped forb" "$H_NS_FORB" "::ffff:$H_FORB4" 8080 "$H_HOST4_F" connect6

# Unenforced, a closed port is refused by the peer: not EPERM.
h_expect_probe "tcp4 forb closed port is refused" error ECONNREFUSED -- connect "$H_FORB4" 8081
h_expect_probe "tcp6 forb closed port is refused" error ECONNREFUSED -- connect "$H_FORB6" 8081

udp_case() { # NAME NS LISTEN_ADDR PORT PEER NETPROBE_ARGS...
	local name=$1 ns=$2 laddr=$3 port=$4 peer=$5
	shift 5
	h_expect_probe "$name probe" ok - -- "$@" --payload "p-$name"
	if h_wait_json "$(h_listen_file "$ns" udp "$laddr" "$port")" \
		'.event == "datagram" and .peer_addr == "'"$peer"'" and .payload == "p-'"$name"'"' 3 \
		>/dev/null; then
		h_pass "$name arrives"
	else
		h_fail "$name arrives" "no datagram p-$name from $peer in $ns"
	fi
}
udp_case "udp4 sendto int" "$H_NS_INT" 0.0.0.0 7000 "$H_HOST4_I" sendto "$H_INT4" 7000
udp_case "udp4 sendto forb" "$H_NS_FORB" 0.0.0.0 7000 "$H_HOST4_F" sendto "$H_FORB4" 7000
udp_case "udp6 sendto int" "$H_NS_INT" :: 7006 "$H_HOST6_I" sendto "$H_INT6" 7006
udp_case "udp6 sendto forb" "$H_NS_FORB" :: 7006 "$H_HOST6_F" sendto "$H_FORB6" 7006
udp_case "udp4 connected forb" "$H_NS_FORB" 0.0.0.0 7000 "$H_HOST4_F" udpconnect "$H_FORB4" 7000
udp_case "udp6 connected forb" "$H_NS_FORB" :: 7006 "$H_HOST6_F" udpconnect "$H_FORB6" 7006
udp_case "udp sendto6-v4 forb" "$H_NS_FORB" 0.0.0.0 7000 "$H_HOST4_F" sendto6-v4 "$H_FORB4" 7000

# ---- ICMP echo: raw and ping sockets ----

for op in ping pingdgram; do
	h_expect_probe "$op int4" ok - -- "$op" "$H_INT4" --timeout-ms 2000
	h_expect_probe "$op forb4" ok - -- "$op" "$H_FORB4" --timeout-ms 2000
	h_expect_probe "$op int6" ok - -- "$op" "$H_INT6" --timeout-ms 2000
	h_expect_probe "$op forb6" ok - -- "$op" "$H_FORB6" --timeout-ms 2000
done
# A ping of an address nobody has times out: the probe really waits for a reply.
h_expect_probe "ping unanswered times out" error ETIMEDOUT -- ping 198.18.2.99 --timeout-ms 300

# ---- source routes through forb reach int ----

if h_enable_routing; then
	h_pass "routing through forb enabled"
else
	h_fail "routing through forb enabled" "sysctl/route failed"
fi

fwd4_before=$(h_snmp "$H_NS_FORB" Ip ForwDatagrams)
udp_case "lsrr via forb" "$H_NS_INT" 0.0.0.0 7000 "$H_HOST4_F" \
	srcroute "$H_INT4" 7000 --via "$H_FORB4"
fwd4_after=$(h_snmp "$H_NS_FORB" Ip ForwDatagrams)
if [ "${fwd4_after:-0}" -gt "${fwd4_before:-0}" ]; then
	h_pass "lsrr packet went through forb"
else
	h_fail "lsrr packet went through forb" "forb ForwDatagrams $fwd4_before -> $fwd4_after"
fi

fwd6_before=$(h_snmp "$H_NS_FORB" - Ip6OutForwDatagrams)
udp_case "srh via forb" "$H_NS_INT" :: 7006 "$H_HOST6_F" \
	rthdr6 "$H_INT6" 7006 --via "$H_FORB6"
fwd6_after=$(h_snmp "$H_NS_FORB" - Ip6OutForwDatagrams)
if [ "${fwd6_after:-0}" -gt "${fwd6_before:-0}" ]; then
	h_pass "srh packet went through forb"
else
	h_fail "srh packet went through forb" "forb Ip6OutForwDatagrams $fwd6_before -> $fwd6_after"
fi

# ---- probes run in the cgroup they were given ----

cg=$(h_cgroup_create probe)
out=$(h_cgroup_run "$cg" sh -c 'cat /proc/self/cgroup; readlink /proc/self/ns/net')
if printf '%s\n' "$out" | grep -qx "0::${cg#"$CG2"}" &&
	[ "$(printf '%s\n' "$out" | tail -n 1)" = "$(h_ns "$H_NS_HOST" readlink /proc/self/ns/net)" ]; then
	h_pass "h_cgroup_run: cgroup and host namespace"
else
	h_fail "h_cgroup_run: cgroup and host namespace" "got: $(echo "$out" | tr '\n' ' ')"
fi

h_done
