#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# A TCP connection to loopback that later leaves on another device.  The
# connect hooks keep no socket storage for an allowed connect() to loopback
# on a socket bound to no device (it cost ~4% of a loopback connect), so the
# backstop must tell from the socket itself that such a connection is no
# reply: here the socket's local port is one a listener holds (SO_REUSEPORT),
# which passes an unmarked connection for a reply, and SO_BINDTODEVICE after
# the connect sends its segments for 127.0.0.1 out of v-forb (host has a
# static neighbour for 127.0.0.1 there, so they really leave: the control
# shows it).  Under hushd they are dropped: forb's ingress counter stays put
# and an egress deny names the rule "loopback address off the loopback
# device".
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init lodev
h_require_hush
h_require_tools nft jq
PROBE=$OUTPUT/tests/bypass_probe
[ -x "$PROBE" ] || h_skip_or_fail "$H_NAME" "$PROBE not built (make all)"
h_netns_up
cg=$(h_cgroup_create enforced)

forb_mac=$(ip -n "$H_NS_FORB" -j link show v-host | jq -r '.[0].address')
if ! { ip -n "$H_NS_HOST" neigh replace 127.0.0.1 lladdr "$forb_mac" dev v-forb nud permanent &&
	h_ns "$H_NS_FORB" nft -f - <<EOF
table netdev hush_lodev {
	chain in {
		type filter hook ingress device "v-host" priority 0;
		ip daddr 127.0.0.0/8 tcp dport 9191 counter name ctl
		ip daddr 127.0.0.0/8 tcp dport 9192 counter name enf
	}
	counter ctl { }
	counter enf { }
}
EOF
}; then
	h_fail "setup" "cannot set the neighbour on v-forb or the counter in forb"
	h_done
fi

# forb_count ctl|enf: segments for 127.0.0.1 port 9191 (control) or 9192.
forb_count() {
	h_ns "$H_NS_FORB" nft -j list counter netdev hush_lodev "$1" |
		jq -r '.nftables[] | select(.counter) | .counter.packets'
}

# probe CG PORT: the connection, bound to v-forb after the connect, in CG.
probe() {
	# shellcheck disable=SC2016 # $$ and $1 are the child's
	nsenter "--net=/run/netns/$H_NS_HOST" -- sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' \
		_ "$1" "$PROBE" lo-tcp-dev v-forb "$H_HOST4_F" 127.0.0.1 "$2" 2>"$H_TMP/probe.err"
}

# ---- control, no hush: the segments reach forb ----
before=$(forb_count ctl)
out=$(probe "$H_CG_AUX" 9191)
sleep 0.2
after=$(forb_count ctl)
if printf '%s\n' "$out" | jq -e '.result == "ok"' >/dev/null 2>&1 && [ "$after" -gt "$before" ]; then
	h_pass "control: tcp to 127.0.0.1, bound to v-forb after connect, reaches forb ($before -> $after)"
else
	h_fail "control: tcp to 127.0.0.1 bound to v-forb after connect reaches forb" \
		"probe: $out $(cat "$H_TMP/probe.err"); forb's counter $before -> $after"
fi

policy=$(h_policy lodev.policy <<EOF
mode enforce
allow $H_INT4 tcp 8080
EOF
)
h_hushd_start "$policy" "$cg" || h_done

# ---- under hushd: connected to loopback (no socket storage), then off lo ----
before=$(forb_count enf)
out=$(probe "$cg" 9192)
sleep 1
after=$(forb_count enf)
if printf '%s\n' "$out" | jq -e '.stage != "connect"' >/dev/null 2>&1; then
	h_pass "hushd: the connect to 127.0.0.1 is allowed ($out)"
else
	h_fail "hushd: the connect to 127.0.0.1 is allowed" "probe: $out $(cat "$H_TMP/probe.err")"
fi
if [ "$after" = "$before" ]; then
	h_pass "hushd: nothing reached forb (not taken for a reply)"
else
	h_fail "hushd: nothing reached forb" "forb's counter $before -> $after"
fi
h_expect_event "hushd: an egress deny, loopback off the loopback device" "$H_HUSHD_OUT" \
	'.hook == "egress" and .verdict == "deny" and .daddr == "127.0.0.1" and .dport == 9192 and .rule_text == "loopback address off the loopback device"'
h_expect_probe "hushd: loopback itself still works" ok - --cg "$cg" -- sendto 127.0.0.1 9 --payload lo

h_done
