#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# shellcheck disable=SC2016 # (the sh -c scripts expand $$ and $1 in the child)
#
# Containment: nothing under a policy leaves it.
#   - Loopback only on the loopback device: a socket bound to host's v-forb
#     (SO_BINDTODEVICE) that sends to 127.0.0.1 would put the packet on the
#     wire to forb (host has a static neighbour for 127.0.0.1 on v-forb, so
#     it really leaves; the control proves it).  Under hushd and `hush run`
#     the backstop drops it: forb's netdev ingress counter stays put and an
#     egress event names the attempt.  Likewise a DNS query, which the
#     socket hooks redirect to hushd's proxy on 127.0.0.1.
#   - A process that moves out of the enforced cgroup is an event (hook
#     cgroup_move) under hushd, and makes `hush test` noisy.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init containment
h_require_hush
h_require_netprobe
h_require_tools nft
h_netns_up
cg=$(h_cgroup_create enforced)
other=$(h_cgroup_create elsewhere)
tcg=$(h_cgroup_create tests)
runcg=$(h_cgroup_create runs)
H_PROBE_CG=$cg

# forb counts, at its device's ingress (before any martian check), what
# arrives for loopback and for port 53.
forb_mac=$(ip -n "$H_NS_FORB" -j link show v-host | jq -r '.[0].address')
# ::1 needs a route out of v-forb (a default route, inside the test network).
if ! { ip -n "$H_NS_HOST" neigh replace 127.0.0.1 lladdr "$forb_mac" dev v-forb nud permanent &&
	ip -n "$H_NS_HOST" -6 route add default via "$H_FORB6" dev v-forb &&
	h_ns "$H_NS_FORB" nft -f - <<EOF
table netdev hush_containment {
	chain in {
		type filter hook ingress device "v-host" priority 0;
		ip daddr 127.0.0.0/8 counter name lo4
		ip6 daddr ::1 counter name lo6
		udp dport 53 counter name dns
	}
	counter lo4 { }
	counter lo6 { }
	counter dns { }
}
EOF
}; then
	h_fail "setup" "cannot set the neighbour on v-forb or the counters in forb"
	h_done
fi

# forb_count lo4|lo6|dns: packets forb received of that kind so far.
forb_count() {
	h_ns "$H_NS_FORB" nft -j list counter netdev hush_containment "$1" |
		jq -r '.nftables[] | select(.counter) | .counter.packets'
}

# nothing_left NAME KIND BEFORE: forb's KIND counter is still BEFORE.
nothing_left() {
	local now
	sleep 0.2
	now=$(forb_count "$2")
	if [ "$now" = "$3" ]; then
		h_pass "$1: nothing reached forb"
	else
		h_fail "$1: nothing reached forb" "forb's $2 counter $3 -> $now"
	fi
}

# ---- control, no hush: the packet really leaves on v-forb ----
before=$(forb_count lo4)
h_expect_probe "control: udp to 127.0.0.1 bound to v-forb sent" ok - -- \
	sendto 127.0.0.1 9 --dev v-forb --payload ctl
sleep 0.2
if [ "$(forb_count lo4)" -gt "$before" ]; then
	h_pass "control: it reaches forb on the wire"
else
	h_fail "control: it reaches forb on the wire" "forb's counter stayed at $before"
fi

before=$(forb_count lo6)
h_expect_probe "control: udp to ::1 bound to v-forb sent" ok - -- \
	sendto ::1 9 --dev v-forb --payload ctl6
sleep 0.2
if [ "$(forb_count lo6)" -gt "$before" ]; then
	h_pass "control: ::1 reaches forb on the wire"
else
	h_fail "control: ::1 reaches forb on the wire" "forb's counter stayed at $before"
fi

policy=$(h_policy containment.policy <<EOF
mode enforce
allow 198.18.1.0/24
EOF
)

# ---- under hushd ----
h_hushd_start "$policy" "$cg" || h_done
lodev='.rule_text == "loopback address off the loopback device"'

before=$(forb_count lo4)
h_attempt "hushd: udp 127.0.0.1 bound to v-forb" error EPERM deny egress 127.0.0.1 9 udp \
	--where "$lodev" -- sendto 127.0.0.1 9 --dev v-forb --payload bound
nothing_left "hushd: udp 127.0.0.1 bound to v-forb" lo4 "$before"

before=$(forb_count lo4)
h_attempt "hushd: tcp 127.0.0.1 bound to v-forb" error "EPERM|ETIMEDOUT" deny egress 127.0.0.1 9 \
	tcp --where "$lodev" -- connect 127.0.0.1 9 --dev v-forb --timeout-ms 500
nothing_left "hushd: tcp 127.0.0.1 bound to v-forb" lo4 "$before"

before=$(forb_count lo6)
h_attempt "hushd: udp ::1 bound to v-forb" error EPERM deny egress ::1 9 udp \
	--where "$lodev" -- sendto ::1 9 --dev v-forb --payload bound6
nothing_left "hushd: udp ::1 bound to v-forb" lo6 "$before"

# DNS: the sendmsg hook redirects the query to the proxy on 127.0.0.1, which
# the socket bound to v-forb would send out of v-forb.
before=$(forb_count lo4)
before_dns=$(forb_count dns)
h_attempt "hushd: dns query bound to v-forb" error EPERM deny egress 127.0.0.1 - udp \
	--where "$lodev" -- sendto "$H_FORB4" 53 --dev v-forb --payload query
nothing_left "hushd: dns query bound to v-forb" lo4 "$before"
nothing_left "hushd: dns query bound to v-forb (port 53)" dns "$before_dns"

h_expect_probe "hushd: loopback itself still works" ok - -- sendto 127.0.0.1 9 --payload lo

# A process of the enforced cgroup moves itself to another cgroup.
out=$(h_cgroup_run "$cg" sh -c 'echo $$; echo $$ > "$1/cgroup.procs"' _ "$other")
mover=$(echo "$out" | head -n 1)
h_expect_event "hushd: a move out of the enforced cgroup is an event" "$H_HUSHD_OUT" \
	".hook == \"cgroup_move\" and .verdict == \"deny\" and .tgid == ${mover:-0} and .comm == \"sh\" and (.cgroup | endswith(\"/elsewhere\")) and .rule_text == \"left the enforced cgroup\""
out=$(h_cgroup_run "$cg" sh -c 'mkdir -p "$1/sub" && echo $$ > "$1/sub/cgroup.procs" && echo $$' _ "$cg")
inside=$(echo "$out" | tail -n 1)
sleep 0.3
h_expect_no_event "hushd: a move within the enforced cgroup is not" "$H_HUSHD_OUT" \
	".hook == \"cgroup_move\" and .tgid == ${inside:-0}"
sleep 0.6
h_hush log --db "$H_RUN_DIR/hush.db" --json >"$H_TMP/log.json" 2>"$H_TMP/log.err"
h_assert_json "$H_TMP/log.json" ".hook == \"cgroup_move\" and .tgid == ${mover:-0} and (.cgroup_path | endswith(\"/elsewhere\"))" \
	"hushd: the move is in the audit log"
h_assert_json "$H_TMP/log.json" ".hook == \"egress\" and .daddr == \"127.0.0.1\" and .verdict == \"deny\" and $lodev" \
	"hushd: the loopback packet off lo is in the audit log"
h_stop "$H_HUSHD_PID"

# ---- under hush run ----
events=$H_TMP/run.events
before=$(forb_count lo4)
h_hush_run_capture run-udp "$runcg" --policy "$policy" --events "$events" -- \
	"$NETPROBE" sendto 127.0.0.1 9 --dev v-forb --payload run
h_assert_json "$H_RUN_OUT" '.result == "error" and .errno == "EPERM"' \
	"hush run: udp 127.0.0.1 bound to v-forb fails"
h_expect_event "hush run: udp 127.0.0.1 bound to v-forb: event" "$events" \
	"$(h_event_filter deny egress 127.0.0.1 9 udp) and $lodev"
nothing_left "hush run: udp 127.0.0.1 bound to v-forb" lo4 "$before"

before=$(forb_count lo6)
h_hush_run_capture run-udp6 "$runcg" --policy "$policy" --events "$events" -- \
	"$NETPROBE" sendto ::1 9 --dev v-forb --payload run6
h_assert_json "$H_RUN_OUT" '.result == "error" and .errno == "EPERM"' \
	"hush run: udp ::1 bound to v-forb fails"
nothing_left "hush run: udp ::1 bound to v-forb" lo6 "$before"

before=$(forb_count lo4)
h_hush_run_capture run-tcp "$runcg" --policy "$policy" --events "$events" -- \
	"$NETPROBE" connect 127.0.0.1 9 --dev v-forb --timeout-ms 500
h_assert_json "$H_RUN_OUT" '.result == "error"' "hush run: tcp 127.0.0.1 bound to v-forb fails"
h_expect_event "hush run: tcp 127.0.0.1 bound to v-forb: event" "$events" \
	"$(h_event_filter deny egress 127.0.0.1 9 tcp) and $lodev"
nothing_left "hush run: tcp 127.0.0.1 bound to v-forb" lo4 "$before"

before=$(forb_count lo4)
before_dns=$(forb_count dns)
h_hush_run_capture run-dns "$runcg" --policy "$policy" --events "$events" -- \
	"$NETPROBE" sendto "$H_FORB4" 53 --dev v-forb --payload query
h_assert_json "$H_RUN_OUT" '.result == "error" and .errno == "EPERM"' \
	"hush run: dns query bound to v-forb fails"
nothing_left "hush run: dns query bound to v-forb" lo4 "$before"
nothing_left "hush run: dns query bound to v-forb (port 53)" dns "$before_dns"

# ---- hush test: a move out of its cgroup ----
# By default the command cannot move: its cgroup namespace shows only its own
# subtree, and CAP_SYS_ADMIN is gone (t_run, t_test: containment).
# shellcheck disable=SC2016 # the inner shell expands $$ and $1
h_cgroup_run "$H_CG_AUX" "$HUSH" test --cgroup-parent "$tcg" \
	-- sh -c 'echo $$ > "$1/cgroup.procs"' _ "$other" >"$H_TMP/nomove.out" 2>"$H_TMP/nomove.err" </dev/null
if [ ! -s "$other/cgroup.procs" ] && grep -q "nonexistent\|No such file" "$H_TMP/nomove.err"; then
	h_pass "hush test: the command cannot see, let alone enter, a cgroup outside its own"
else
	h_fail "hush test: the command cannot see, let alone enter, a cgroup outside its own" \
		"procs: $(cat "$other/cgroup.procs"); $(tail -n 3 "$H_TMP/nomove.err")"
fi
# A process of the test moved out from outside (by root, or a command that
# kept CAP_SYS_ADMIN on purpose): the run is noisy.
h_cgroup_run "$H_CG_AUX" "$HUSH" test --cgroup-parent "$tcg" --json "$H_TMP/move.json" \
	-- sh -c 'echo $$ > "$1"; sleep 1' _ "$H_TMP/move.pid" \
	>"$H_TMP/move.out" 2>"$H_TMP/move.err" </dev/null &
tpid=$!
h_wait_for_line "$H_TMP/move.pid" '^[0-9]+$' 5 && cat "$H_TMP/move.pid" >"$other/cgroup.procs"
wait "$tpid"
rc=$?
if [ "$rc" = 1 ]; then
	h_pass "hush test: a process moved out of the cgroup: exit 1 (noisy)"
else
	h_fail "hush test: a process moved out of the cgroup: exit 1 (noisy)" \
		"exit $rc: $(cat "$H_TMP/move.out") $(tail -n 3 "$H_TMP/move.err")"
fi
h_assert_json "$(cat "$H_TMP/move.json" 2>/dev/null)" \
	'.result == "noisy" and (.attempts | length) == 1 and (.attempts[0] | .hook == "cgroup_move" and .comm == "sh")' \
	"hush test: the JSON report has the move"
if grep -q "move out of the cgroup to .*/elsewhere" "$H_TMP/move.out"; then
	h_pass "hush test: the report names the move"
else
	h_fail "hush test: the report names the move" "$(cat "$H_TMP/move.out")"
fi

h_done
