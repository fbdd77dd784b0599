#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Inbound connections are not egress.  A service in an enforced cgroup that
# accepts a connection must be able to answer on it, whether the connection
# was accepted after hushd attached or before it (the backstop finds the
# listener holding the local port): otherwise starting hushd host-wide would
# cut every open SSH session.  An OUTBOUND connection opened before hushd started
# to a forbidden host is cut by the egress backstop, with an event.  With
# `inbound deny`, replies are judged like any packet: a connection from a
# forbidden host gets nothing back.
#
# The policy allows nothing but loopback: only the inbound logic can let the
# replies through.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init inbound
h_require_hush
h_netns_up
cg=$(h_cgroup_create enforced)

policy=$(h_policy inbound.policy <<EOF
mode enforce
EOF
)

# The service: an echo server in the enforced cgroup, on the host namespace.
h_bg --out "$H_TMP/server.out" --err "$H_TMP/server.err" --cg "$cg" -- \
	"$NETPROBE" listen-tcp 0.0.0.0 7000
h_wait_for_line "$H_TMP/server.out" '"event":"listening"' 5 ||
	{ h_fail "inbound: setup" "server did not start"; h_done; }
h_listen "$H_NS_FORB" tcp 0.0.0.0 7001

# A client on the internal host connects BEFORE hushd starts and keeps the
# connection open until told to talk (bash /dev/tcp; the client is not in
# the enforced cgroup).
# shellcheck disable=SC2016
h_bg --out "$H_TMP/pre.out" --err "$H_TMP/pre.err" --ns "$H_NS_INT" -- bash -c '
	exec 3<>"/dev/tcp/$1/7000" || exit 1
	echo connected
	while [ ! -e "$2" ]; do sleep 0.05; done
	echo before-hushd >&3
	if read -r -t 3 line <&3; then echo "reply:$line"; else echo "no-reply"; fi
' _ "$H_HOST4_I" "$H_TMP/go-pre"

# A process in the enforced cgroup opens an OUTBOUND connection to the
# forbidden host before hushd starts.
# shellcheck disable=SC2016
h_bg --out "$H_TMP/out.out" --err "$H_TMP/out.err" --cg "$cg" -- bash -c '
	exec 3<>"/dev/tcp/$1/7001" || exit 1
	echo connected
	while [ ! -e "$2" ]; do sleep 0.05; done
	echo after-hushd >&3
	if read -r -t 2 line <&3; then echo "reply:$line"; else echo "no-reply"; fi
' _ "$H_FORB4" "$H_TMP/go-out"

if ! h_wait_for_line "$H_TMP/pre.out" '^connected' 5 ||
	! h_wait_for_line "$H_TMP/out.out" '^connected' 5; then
	h_fail "inbound: setup" "clients did not connect"
	h_done
fi

h_hushd_start "$policy" "$cg" || h_done

# 1. Accepted before hushd: the reply still reaches the client.
touch "$H_TMP/go-pre"
if h_wait_for_line "$H_TMP/pre.out" '^reply:before-hushd' 5; then
	h_pass "inbound: connection accepted before hushd keeps working"
else
	h_fail "inbound: connection accepted before hushd keeps working" \
		"client got: $(tail -n 1 "$H_TMP/pre.out")"
fi

# 2. Accepted after hushd: the echo comes back.
r=$(nsenter "--net=/run/netns/$H_NS_INT" "$NETPROBE" connect "$H_HOST4_I" 7000 \
	--send after-hushd --timeout-ms 3000)
if echo "$r" | jq -e '.result == "ok" and .reply_len > 0' >/dev/null; then
	h_pass "inbound: connection accepted after hushd gets its replies"
else
	h_fail "inbound: connection accepted after hushd gets its replies" "netprobe: $r"
fi
h_expect_no_event "inbound: no egress event for replies" "$H_HUSHD_OUT" \
	'.hook == "egress" and .daddr == "'"$H_INT4"'"' 1

# 3. Outbound before hushd, to a forbidden host: cut by the backstop.
touch "$H_TMP/go-out"
if h_wait_for_line "$H_TMP/out.out" '^no-reply' 6; then
	h_pass "inbound: outbound connection opened before hushd is cut"
else
	h_fail "inbound: outbound connection opened before hushd is cut" \
		"client got: $(tail -n 1 "$H_TMP/out.out")"
fi
h_expect_event "inbound: backstop reports the cut connection" "$H_HUSHD_OUT" \
	'.hook == "egress" and .verdict == "deny" and .daddr == "'"$H_FORB4"'" and .dport == 7001'

# 4. `inbound deny`: replies are judged like any packet.  A connection
#    accepted now gets nothing back (the SYN-ACK to int is dropped, and
#    reported).
deny_policy=$(h_policy inbound-deny.policy <<EOF
mode enforce
inbound deny
EOF
)
if h_hush policy apply "$deny_policy" >"$H_TMP/apply.out" 2>&1; then
	h_pass "inbound deny: policy applied"
else
	h_fail "inbound deny: policy applied" "$(tail -n 2 "$H_TMP/apply.out")"
fi
r=$(nsenter "--net=/run/netns/$H_NS_INT" "$NETPROBE" connect "$H_HOST4_I" 7000 \
	--send denied --timeout-ms 1500)
if echo "$r" | jq -e '.result != "ok" or .reply_len == 0' >/dev/null; then
	h_pass "inbound deny: a connection from a forbidden host gets no reply"
else
	h_fail "inbound deny: a connection from a forbidden host gets no reply" "netprobe: $r"
fi
h_expect_event "inbound deny: the backstop reports the dropped reply" "$H_HUSHD_OUT" \
	'.hook == "egress" and .verdict == "deny" and .daddr == "'"$H_INT4"'"'

# 5. Back to the default: accepted connections get their replies again.
if h_hush policy apply "$policy" >"$H_TMP/apply.out" 2>&1; then
	r=$(nsenter "--net=/run/netns/$H_NS_INT" "$NETPROBE" connect "$H_HOST4_I" 7000 \
		--send allowed-again --timeout-ms 3000)
	if echo "$r" | jq -e '.result == "ok" and .reply_len > 0' >/dev/null; then
		h_pass "inbound allow (default) again: replies pass"
	else
		h_fail "inbound allow (default) again: replies pass" "netprobe: $r"
	fi
else
	h_fail "inbound allow (default) again: replies pass" "$(tail -n 2 "$H_TMP/apply.out")"
fi

h_done
