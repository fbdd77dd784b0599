#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# `hush run`: one command in a fresh cgroup under a policy.  Enforcement is in
# place before the command's first syscall, its exit status passes through,
# events go to --events FILE (appended), the cgroup is removed afterwards
# (also when hush run gets SIGINT), and the command inherits no descriptor
# of hush's beyond stdio.
# shellcheck disable=SC2016 # sh -c scripts expand in the command, not here
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init run
h_require_hush
h_require_tools env
h_netns_up
cg=$(h_cgroup_create caller)

policy=$(h_policy run.policy <<EOF
mode enforce
allow $H_INT4 tcp 8080
EOF
)
h_listen "$H_NS_INT" tcp :: 8080
h_listen "$H_NS_FORB" tcp :: 8080
forb_log=$H_LISTEN_OUT
events=$H_TMP/run.events

# ---- denied at once, from the first syscall on ----
h_hush_run_capture deny "$cg" --policy "$policy" --events "$events" -- \
	"$NETPROBE" connect "$H_FORB4" 8080
if [ "$H_RUN_RC" = 1 ]; then
	h_pass "deny: exit status of the command (1) passes through"
else
	h_fail "deny: exit status of the command (1) passes through" "exit $H_RUN_RC: $H_RUN_OUT $H_RUN_ERR"
fi
h_assert_json "$H_RUN_OUT" '.result == "error" and .errno == "EPERM" and .elapsed_us < 50000' \
	"deny: connect to forb gets EPERM at once"
deny_pid=$(h_json_get "$H_RUN_OUT" .pid)
h_expect_event "deny: event in --events file" "$events" \
	"$(h_event_filter deny connect4 "$H_FORB4" 8080 tcp) and .tgid == $deny_pid and .comm == \"netprobe\"" 3

h_hush_run_capture deny6 "$cg" --policy "$policy" --events "$events" -- \
	"$NETPROBE" sendto "$H_FORB6" 7000
h_assert_json "$H_RUN_OUT" '.result == "error" and .errno == "EPERM"' "deny: udp6 to forb gets EPERM"
h_expect_event "deny: events are appended, not overwritten" "$events" \
	"$(h_event_filter deny sendmsg6 "$H_FORB6" 7000 udp) and .tgid == $(h_json_get "$H_RUN_OUT" .pid)" 3
h_expect_event "deny: the first run's event is still there" "$events" \
	"$(h_event_filter deny connect4 "$H_FORB4" 8080 tcp) and .tgid == $deny_pid" 1

# ---- allowed ----
h_hush_run_capture allow "$cg" --policy "$policy" --events "$events" -- \
	"$NETPROBE" connect "$H_INT4" 8080
h_assert_json "$H_RUN_OUT" '.result == "ok"' "allow: int reachable"
if [ "$H_RUN_RC" = 0 ]; then
	h_pass "allow: exit status 0"
else
	h_fail "allow: exit status 0" "exit $H_RUN_RC: $H_RUN_ERR"
fi

# ---- default policy: loopback only ----
h_hush_run_capture default "$cg" -- sh -c '"$1" connect "$2" 8080; "$1" connect 127.0.0.1 1; exit 0' \
	_ "$NETPROBE" "$H_INT4"
h_assert_json "$(printf '%s\n' "$H_RUN_OUT" | grep "\"$H_INT4\"")" '.errno == "EPERM"' \
	"default policy: int denied"
h_assert_json "$(printf '%s\n' "$H_RUN_OUT" | grep '"127.0.0.1"')" '.errno == "ECONNREFUSED"' \
	"default policy: loopback allowed"

# ---- exit status ----
h_hush_run_capture exit7 "$cg" --policy "$policy" -- sh -c 'exit 7'
if [ "$H_RUN_RC" = 7 ]; then
	h_pass "exit 7 -> 7"
else
	h_fail "exit 7 -> 7" "exit $H_RUN_RC: $H_RUN_ERR"
fi
h_hush_run_capture killed "$cg" --policy "$policy" -- sh -c 'kill -TERM $$'
if [ "$H_RUN_RC" = 143 ]; then
	h_pass "command killed by SIGTERM -> 143"
else
	h_fail "command killed by SIGTERM -> 143" "exit $H_RUN_RC: $H_RUN_ERR"
fi

# ---- its own cgroup, removed afterwards ----
h_hush_run_capture cgroup "$cg" --policy "$policy" -- \
	sh -c 'printf "{\"cgroup\":\"%s\"}\n" "$(sed -n "s/^0:://p" /proc/self/cgroup)"'
runcg=$(h_json_get "$H_RUN_OUT" .cgroup "")
if [ -n "$runcg" ] && [ "$runcg" != "${cg#"$CG2"}" ]; then
	h_pass "command runs in a fresh cgroup ($runcg)"
else
	h_fail "command runs in a fresh cgroup" "cgroup '$runcg', caller ${cg#"$CG2"}"
fi
if [ -n "$runcg" ] && [ ! -e "$CG2$runcg" ]; then
	h_pass "its cgroup is removed after exit"
else
	h_fail "its cgroup is removed after exit" "$CG2$runcg still there"
fi

# ---- no inherited descriptors ----
# The caller passes only stdio (every other fd closed), so anything more
# the command sees came from hush.
fds_run() (
	for fd in /proc/"$BASHPID"/fd/*; do
		fd=${fd##*/}
		[ "$fd" -gt 2 ] && eval "exec $fd>&-"
	done
	h_hush_run_capture fds "$cg" --policy "$policy" -- "$NETPROBE" fds
	printf '%s\n' "$H_RUN_OUT"
)
fds=$(fds_run)
h_assert_json "$fds" '[.fds[].fd] == [0, 1, 2]' "command inherits no fds beyond stdio"

# ---- SIGINT to hush run: command killed, cgroup removed ----
ready=$H_TMP/sigint.cgroup
h_bg --out "$H_TMP/sigint.out" --err "$H_TMP/sigint.err" --cg "$cg" -- \
	env --default-signal=INT "$HUSH" --pin-dir "$H_PIN_DIR" --run-dir "$H_RUN_DIR" run \
	--policy "$policy" -- sh -c 'sed -n "s/^0:://p" /proc/self/cgroup > "$1.tmp"
		echo $$ >> "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 30' _ "$ready"
hush_pid=$H_LAST_PID
if h_wait_for_file "$ready" 10; then
	sig_cg=$(sed -n 1p "$ready")
	sleep_pid=$(sed -n 2p "$ready")
	h_stop "$hush_pid" INT
	if ! h_alive "$hush_pid"; then
		h_pass "SIGINT: hush run exits (status $H_STOP_RC)"
	else
		h_fail "SIGINT: hush run exits" "still running 5 s after SIGINT"
	fi
	if ! h_alive "$sleep_pid"; then
		h_pass "SIGINT: the command is gone"
	else
		h_fail "SIGINT: the command is gone" "pid $sleep_pid still running"
	fi
	if [ -n "$sig_cg" ] && [ ! -e "$CG2$sig_cg" ]; then
		h_pass "SIGINT: its cgroup is removed"
	else
		h_fail "SIGINT: its cgroup is removed" "$CG2$sig_cg still there"
	fi
else
	h_fail "SIGINT: command started" "no $ready: $(tail -n 3 "$H_TMP/sigint.err" | tr '\n' ' ')"
fi

if h_json_match "$forb_log" '.event == "accept"' >/dev/null; then
	h_fail "nothing reached forb" "$(grep accept "$forb_log" | head -n 3 | tr '\n' ' ')"
else
	h_pass "nothing reached forb"
fi

h_done
