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

# ---- its own cgroup, removed afterwards (seen from outside: the command has
#      a cgroup namespace of its own, where its cgroup is "/") ----
h_hush_run_capture cgroup "$cg" --policy "$policy" --events "$events" -- \
	sh -c 'printf "{\"cgroup\":\"%s\"}\n" "$(sed -n "s/^0:://p" /proc/self/cgroup)"
		exec "$1" connect "$2" 8080' _ "$NETPROBE" "$H_FORB4"
inside=$(h_json_get "$(printf '%s\n' "$H_RUN_OUT" | grep '"cgroup"')" .cgroup "")
if [ "$inside" = / ]; then
	h_pass "cgroup namespace: the command sees its cgroup as /"
else
	h_fail "cgroup namespace: the command sees its cgroup as /" "it sees '$inside'"
fi
cg_pid=$(h_json_get "$(printf '%s\n' "$H_RUN_OUT" | grep '"op"')" .pid)
runev=$(h_wait_json "$events" "$(h_event_filter deny connect4 "$H_FORB4" 8080 tcp) and .tgid == $cg_pid" 3)
runcg=$(h_json_get "$runev" .cgroup "")
runcgid=$(h_json_get "$runev" .cgroup_id "")
if [ -n "$runcg" ] && [[ "$runcg" == "${cg#"$CG2"}"/hush-run.* ]]; then
	h_pass "command runs in a fresh cgroup ($runcg)"
else
	h_fail "command runs in a fresh cgroup" "cgroup '$runcg', caller ${cg#"$CG2"}"
fi
if [ -n "$runcg" ] && [ ! -e "$CG2$runcg" ]; then
	h_pass "its cgroup is removed after exit"
else
	h_fail "its cgroup is removed after exit" "$CG2$runcg still there"
fi
# Its own pins only: other runs on the machine may be live.
if [ -n "$runcgid" ] && [ "$runcgid" != 0 ] && [ ! -e "/sys/fs/bpf/hush-run-$runcgid" ]; then
	h_pass "its pins are removed after exit"
else
	h_fail "its pins are removed after exit" "cgroup id '$runcgid': $(ls -d /sys/fs/bpf/hush-run-* 2>&1)"
fi

# ---- capabilities: none that could switch enforcement off or reach around it ----
# CAP_NET_ADMIN 12, NET_RAW 13, SYS_MODULE 16, SYS_RAWIO 17, SYS_PTRACE 19,
# SYS_ADMIN 21, PERFMON 38, BPF 39.
CAPS_DROPPED=$((0xc0002b3000))
# caps_ok NAME TAG MASK_SET MASK_CLEAR UID: /proc/self/status of the command
# (printed by it in TAG.out): the MASK_CLEAR bits clear in every set, the
# MASK_SET bits set in CapEff and CapBnd, NoNewPrivs 1, the uid.
caps_ok() {
	local name=$1 f=$H_TMP/$2.out set=$3 clear=$4 uid=$5 k v bad=
	for k in CapInh CapPrm CapEff CapBnd CapAmb; do
		v=$(awk -v k="$k:" '$1 == k { print $2 }' "$f")
		[ -n "$v" ] || { bad="$bad no $k;"; continue; }
		(((0x$v & clear) == 0)) || bad="$bad $k=$v;"
	done
	for k in CapEff CapBnd; do
		v=$(awk -v k="$k:" '$1 == k { print $2 }' "$f")
		(((0x${v:-0} & set) == set)) || bad="$bad $k=$v lacks kept;"
	done
	[ "$(awk '$1 == "NoNewPrivs:" { print $2 }' "$f")" = 1 ] || bad="$bad NoNewPrivs not 1;"
	[ "$(awk '$1 == "Uid:" { print $2 }' "$f")" = "$uid" ] || bad="$bad uid not $uid;"
	if [ -z "$bad" ]; then
		h_pass "$name"
	else
		h_fail "$name" "$bad $(grep -E '^(Cap|NoNew|Uid)' "$f" | tr '\n' ' ')"
	fi
}
h_hush_run_capture caps "$cg" -- cat /proc/self/status
caps_ok "capabilities: none of the eight in any set, NoNewPrivs" caps 0 "$CAPS_DROPPED" 0
h_hush_run_capture keepcap "$cg" --keep-cap CAP_NET_RAW -- cat /proc/self/status
caps_ok "--keep-cap CAP_NET_RAW: kept, the others dropped" keepcap $((1 << 13)) \
	$((CAPS_DROPPED & ~(1 << 13))) 0
h_hush_run_capture user "$cg" --user nobody -- sh -c 'cat /proc/self/status; id -u; id -g'
caps_ok "--user nobody: no capabilities at all" user 0 $(((1 << 41) - 1)) 65534
if [ "$(tail -n 2 "$H_TMP/user.out" | tr '\n' ' ')" = "65534 65534 " ]; then
	h_pass "--user nobody: uid and gid"
else
	h_fail "--user nobody: uid and gid" "$(tail -n 2 "$H_TMP/user.out" | tr '\n' ' ') $H_RUN_ERR"
fi
h_hush_run_capture userkeep "$cg" --user 65534:65534 --keep-cap net_bind_service -- \
	cat /proc/self/status
caps_ok "--user 65534:65534 --keep-cap net_bind_service: that one, ambient" userkeep \
	$((1 << 10)) "$CAPS_DROPPED" 65534
if [ "$(awk '$1 == "CapAmb:" { print $2 }' "$H_TMP/userkeep.out")" = 0000000000000400 ]; then
	h_pass "--keep-cap for another user: in the ambient set"
else
	h_fail "--keep-cap for another user: in the ambient set" "$(grep Cap "$H_TMP/userkeep.out" | tr '\n' ' ')"
fi
h_hush_run_capture badcap "$cg" --keep-cap CAP_NOPE -- true
if [ "$H_RUN_RC" = 125 ]; then
	h_pass "--keep-cap CAP_NOPE: usage error 125"
else
	h_fail "--keep-cap CAP_NOPE: usage error 125" "exit $H_RUN_RC: $H_RUN_ERR"
fi

# ---- it cannot leave its cgroup ----
sib=$(h_cgroup_create sibling)
# shellcheck disable=SC2016
h_hush_run_capture escape "$cg" -- sh -c '
	echo $$ > "$1/cgroup.procs" 2>/dev/null && echo moved-sibling
	nsenter -t 1 -C -m sh -c "echo $$ > \"$1/cgroup.procs\"" 2>/dev/null && echo moved-nsenter
	mount -t cgroup2 cgroup2 /tmp 2>/dev/null && echo mounted
	sed -n "s/^0:://p" /proc/self/cgroup
	ls "$2" | grep -c "^hush-test\." ; exit 0' _ "$sib" "$CG2"
if ! grep -qE 'moved|mounted' "$H_TMP/escape.out" && [ ! -s "$sib/cgroup.procs" ] &&
	[ "$(tail -n 2 "$H_TMP/escape.out" | head -n 1)" = / ]; then
	h_pass "root command cannot move itself to a sibling cgroup (nor via the host's namespaces)"
else
	h_fail "root command cannot move itself to a sibling cgroup" "$(tr '\n' ' ' <"$H_TMP/escape.out") procs: $(cat "$sib/cgroup.procs")"
fi
if [ "$(grep -v moved "$H_TMP/escape.out" | tail -n 1)" = 0 ]; then
	h_pass "through its cgroup namespace it sees only its own subtree"
else
	h_fail "through its cgroup namespace it sees only its own subtree" "$(tr '\n' ' ' <"$H_TMP/escape.out")"
fi

# ---- a parent cgroup someone else may write is refused ----
evil=$(h_cgroup_create evil)
mkdir -p "$evil/below"
chown 65534 "$evil"
h_hush_run_capture evil "$cg" --cgroup-parent "$evil/below" -- true
if [ "$H_RUN_RC" = 125 ] && grep -q "refusing.*$evil (owner uid 65534" "$H_TMP/evil.err"; then
	h_pass "--cgroup-parent below a cgroup owned by uid 65534: refused (125), the owner named"
else
	h_fail "--cgroup-parent below a cgroup owned by uid 65534: refused" "exit $H_RUN_RC: $H_RUN_ERR"
fi
chown 0 "$evil"
chmod g+w "$evil/below/cgroup.procs"
h_hush_run_capture evil2 "$cg" --cgroup-parent "$evil/below" -- true
if [ "$H_RUN_RC" = 125 ] && grep -q "below/cgroup.procs (owner uid 0.*mode 0664" "$H_TMP/evil2.err"; then
	h_pass "--cgroup-parent whose cgroup.procs is group-writable: refused"
else
	h_fail "--cgroup-parent whose cgroup.procs is group-writable: refused" "exit $H_RUN_RC: $H_RUN_ERR"
fi
chmod g-w "$evil/below/cgroup.procs"
chown 65534 "$evil"
h_pin_dir >/dev/null
if timeout 20 "$HUSHD" --policy "$policy" --cgroup "$evil/below" --pin-dir "$H_PIN_DIR" \
	--run-dir "$H_RUN_DIR" --foreground >/dev/null 2>"$H_TMP/hushd-evil.err"; then
	h_fail "hushd --cgroup below a cgroup owned by uid 65534: refused" "it ran"
elif grep -q "refusing to enforce on $evil/below" "$H_TMP/hushd-evil.err"; then
	h_pass "hushd --cgroup below a cgroup owned by uid 65534: refused"
else
	h_fail "hushd --cgroup below a cgroup owned by uid 65534: refused" "$(tail -n 3 "$H_TMP/hushd-evil.err" | tr '\n' ' ')"
fi
chown 0 "$evil"

# ---- an inet socket inherited on stdin: refused, or let through and named ----
h_listen "$H_NS_HOST" tcp 127.0.0.1 18090
# shellcheck disable=SC2016
sockin() { # TAG HUSH-RUN-ARGS...: hush run with fd 0 a TCP connection to 127.0.0.1:18090
	local tag=$1
	shift
	h_cgroup_run "$cg" bash -c 'exec 0<>/dev/tcp/127.0.0.1/18090 && exec "$@"' _ \
		"$HUSH" --pin-dir "$H_PIN_DIR" --run-dir "$H_RUN_DIR" run "$@" \
		>"$H_TMP/$tag.out" 2>"$H_TMP/$tag.err"
	H_RUN_RC=$?
}
sockin sockin -- true
if [ "$H_RUN_RC" = 125 ] && grep -q 'fd 0: tcp 127.0.0.1:[0-9]* -> 127.0.0.1:18090.*refusing' "$H_TMP/sockin.err"; then
	h_pass "inherited inet socket on stdin: refused (125), its peer named"
else
	h_fail "inherited inet socket on stdin: refused" "exit $H_RUN_RC: $(tr '\n' ' ' <"$H_TMP/sockin.err")"
fi
sockin sockok --allow-inherited-socket -- true
if [ "$H_RUN_RC" = 0 ] && grep -q 'fd 0: tcp .*18090: inherited by the command' "$H_TMP/sockok.err"; then
	h_pass "--allow-inherited-socket: runs, and says so"
else
	h_fail "--allow-inherited-socket: runs, and says so" "exit $H_RUN_RC: $(tr '\n' ' ' <"$H_TMP/sockok.err")"
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
	sleep_pid=$(sed -n 2p "$ready")
	sig_cg=$(sed -n 's/^0:://p' "/proc/$sleep_pid/cgroup")
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

# ---- SIGKILL to hush run: the command stays enforced (pinned links); a later
#      run removes the pins once the command is gone ----
killdir=$H_TMP/sigkill
mkdir -p "$killdir"
# shellcheck disable=SC2016
h_bg --out "$killdir/out" --err "$killdir/err" --cg "$cg" -- \
	"$HUSH" --pin-dir "$H_PIN_DIR" --run-dir "$H_RUN_DIR" run --policy "$policy" -- \
	sh -c 'echo $$ > "$1/pid.tmp"; mv "$1/pid.tmp" "$1/pid"
		until [ -e "$1/go" ]; do sleep 0.05; done
		"$2" connect "$3" 8080; "$2" connect "$4" 8080; exit 0' _ "$killdir" "$NETPROBE" "$H_FORB4" "$H_INT4"
hush_pid=$H_LAST_PID
if h_wait_for_file "$killdir/pid" 10; then
	kcmd=$(cat "$killdir/pid")
	kcg=$CG2$(sed -n 's/^0:://p' "/proc/$kcmd/cgroup")
	kpins=/sys/fs/bpf/hush-run-$(stat -c %i "$kcg")
	h_stop "$hush_pid" KILL
	if ! h_alive "$hush_pid" && h_alive "$kcmd"; then
		h_pass "SIGKILL: hush run is gone, the command lives on"
	else
		h_fail "SIGKILL: hush run is gone, the command lives on" "hush $hush_pid, command $kcmd"
	fi
	if [ -d "$kpins/links" ]; then
		h_pass "SIGKILL: the links stay pinned ($kpins)"
	else
		h_fail "SIGKILL: the links stay pinned" "no $kpins/links"
	fi
	touch "$killdir/go"
	for _ in $(seq 1 100); do
		[ "$(grep -c '"op"' "$killdir/out" 2>/dev/null)" -ge 2 ] && break
		sleep 0.05
	done
	h_assert_json "$(grep "\"$H_FORB4\"" "$killdir/out")" '.result == "error" and .errno == "EPERM"' \
		"SIGKILL: the command's connect to forb is still denied"
	h_assert_json "$(grep "\"$H_INT4\"" "$killdir/out")" '.result == "ok"' \
		"SIGKILL: and its allowed connect still works"
	for _ in $(seq 1 100); do
		grep -q '^populated 0' "$kcg/cgroup.events" 2>/dev/null && break
		sleep 0.05
	done
	h_hush_run_capture sweep "$cg" -- true
	if [ ! -e "$kpins" ] && [ ! -e "$kcg" ]; then
		h_pass "a later hush run removes the stale pins and the empty cgroup"
	else
		h_fail "a later hush run removes the stale pins and the empty cgroup" "$(for p in "$kpins" "$kcg"; do [ -e "$p" ] && printf '%s still there; ' "$p"; done) $H_RUN_ERR"
	fi
else
	h_fail "SIGKILL: command started" "no $killdir/pid: $(tail -n 3 "$killdir/err" | tr '\n' ' ')"
fi

# ---- a run starting up (its cgroup made, its pins not yet locked, its
#      command not yet in) is not taken for a dead one by another run's
#      sweep; once the hush that made it has ended, it is ----
h_bg -- sleep 300
owner=$H_LAST_PID
scg=$cg/hush-run.$owner.7
if mkdir "$scg" 2>/dev/null; then
	spins=/sys/fs/bpf/hush-run-$(stat -c %i "$scg")
	mkdir -p "$spins/links" "$spins/maps"
	h_hush_run_capture sweep1 "$cg" -- true
	if [ -d "$spins/links" ] && [ -d "$scg" ]; then
		h_pass "a starting run's pins and cgroup stay while the hush that made them lives"
	else
		h_fail "a starting run's pins and cgroup stay while the hush that made them lives" \
			"gone: $spins or $scg; $H_RUN_ERR"
	fi
	h_stop "$owner" KILL
	h_hush_run_capture sweep2 "$cg" -- true
	if [ ! -e "$spins" ] && [ ! -e "$scg" ]; then
		h_pass "once it has ended, its pins and empty cgroup are swept"
	else
		h_fail "once it has ended, its pins and empty cgroup are swept" "$H_RUN_ERR"
		rm -rf "$spins"
		rmdir "$scg" 2>/dev/null
	fi
else
	h_fail "a starting run's pins stay" "cannot make $scg"
fi

if h_json_match "$forb_log" '.event == "accept"' >/dev/null; then
	h_fail "nothing reached forb" "$(grep accept "$forb_log" | head -n 3 | tr '\n' ' ')"
else
	h_pass "nothing reached forb"
fi

h_done
