#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Events name the process: exe and command line.  A process that connects
# and exits at once is still named, from the kernel's exec record: hushd is
# stopped while the process runs and dies, so /proc/PID is gone before hushd
# reads the event.  A process that started before hushd (no exec record) is
# named from /proc while it lives.  A process that exec'd another program
# after its attempt is never named after the new program.  The cgroup path
# gives container id and runtime, systemd unit and pod uid.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init attribution
h_require_hush
h_netns_up
cg=$(h_cgroup_create enforced)

policy=$(h_policy attribution.policy <<EOF
mode enforce
EOF
)

# Started before hushd: no exec record; it connects once told to.
# shellcheck disable=SC2016
h_bg --out "$H_TMP/early.out" --cg "$cg" -- bash -c '
	while [ ! -e "$1" ]; do sleep 0.05; done
	: 3<>"/dev/tcp/$2/7003" || echo denied  # not exec: a failed exec redirection ends the shell
	sleep 5 & wait  # not a plain last command: bash would exec it in place
' _ "$H_TMP/go-early" "$H_FORB4"
early_pid=$H_LAST_PID

h_hushd_start "$policy" "$cg" || h_done
netprobe=$(readlink -f "$NETPROBE")

# 1. Short-lived: connect, exit; hushd reads the event only afterwards.
kill -STOP "$H_HUSHD_PID"
# shellcheck disable=SC2016
h_cgroup_run "$cg" sh -c 'exec "$1" connect "$2" 7002 --timeout-ms 500 >"$3"' _ \
	"$NETPROBE" "$H_FORB4" "$H_TMP/short.json"
short_pid=$(jq -r .pid "$H_TMP/short.json")
if [ -e "/proc/$short_pid" ]; then
	h_fail "attribution: setup" "pid $short_pid still exists"
fi
kill -CONT "$H_HUSHD_PID"
h_expect_event "attribution: short-lived process named from the kernel's exec record" \
	"$H_HUSHD_OUT" ".tgid == $short_pid and .exe == \"$netprobe\" and \
.cmdline[1] == \"connect\" and .cmdline[2] == \"$H_FORB4\" and .dport == 7002"

# Its cgroup is named too (hushd runs with reduced capabilities by now).
h_expect_event "attribution: event names the cgroup path" "$H_HUSHD_OUT" \
	".tgid == $short_pid and (.cgroup | endswith(\"/enforced\")) and .container_id == null"

# A process in a docker-named child cgroup is attributed to that container.
id=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
mkdir "$cg/docker-$id.scope"
h_cgroup_run "$cg/docker-$id.scope" "$NETPROBE" connect "$H_FORB4" 7005 --timeout-ms 500 \
	>/dev/null
h_expect_event "attribution: container id, runtime and unit from the cgroup path" \
	"$H_HUSHD_OUT" ".dport == 7005 and .container_id == \"$id\" and \
.container_runtime == \"docker\" and .unit == \"docker-$id.scope\""

# 2. Started before hushd: named from /proc while it lives.
touch "$H_TMP/go-early"
h_expect_event "attribution: process older than hushd named from /proc" "$H_HUSHD_OUT" \
	".tgid == $early_pid and (.exe | test(\"/bash$\")) and .dport == 7003"

# 3. Connect, then exec another program before hushd reads the event: the
#    event must not name the new program (it may be unknown).
kill -STOP "$H_HUSHD_PID"
# shellcheck disable=SC2016
h_cgroup_run "$cg" bash -c 'echo $$ >"$1"; : 3<>"/dev/tcp/$2/7004"; exec sleep 0.2' _ \
	"$H_TMP/reexec.pid" "$H_FORB4" 2>/dev/null
reexec_pid=$(cat "$H_TMP/reexec.pid")
kill -CONT "$H_HUSHD_PID"
if h_wait_json "$H_HUSHD_OUT" ".tgid == $reexec_pid and .dport == 7004" 5 >/dev/null; then
	line=$(h_json_match "$H_HUSHD_OUT" ".tgid == $reexec_pid and .dport == 7004")
	if echo "$line" | jq -e '.exe == null or (.exe | test("/bash$"))' >/dev/null; then
		h_pass "attribution: a later exec is not blamed for the attempt"
	else
		h_fail "attribution: a later exec is not blamed for the attempt" "event: $line"
	fi
else
	h_fail "attribution: a later exec is not blamed for the attempt" "no event for pid $reexec_pid"
fi

# 4. The same attribution in the audit log's rows (hushd writes them from the
# same enrichment): short-lived process, container, and uid/gid/comm.
db=$H_RUN_DIR/hush.db
if command -v sqlite3 >/dev/null && [ -e "$db" ]; then
	deadline=$(($(h_now_ms) + 5000))
	while :; do
		row=$(sqlite3 -batch "file:$db?mode=ro" "SELECT exe, json_extract(cmdline, '\$[1]'),
			cgroup_path LIKE '%/enforced', uid, gid, comm FROM log WHERE tgid = $short_pid
			AND dport = 7002" 2>&1)
		crow=$(sqlite3 -batch "file:$db?mode=ro" "SELECT container, runtime, unit FROM log
			WHERE dport = 7005" 2>&1)
		[ -n "$row" ] && [ -n "$crow" ] && break
		[ "$(h_now_ms)" -ge "$deadline" ] && break
		sleep 0.1
	done
	if [ "$row" = "$netprobe|connect|1|0|0|netprobe" ]; then
		h_pass "attribution: the log row of the short-lived process names it"
	else
		h_fail "attribution: the log row of the short-lived process names it" "row '$row'"
	fi
	if [ "$crow" = "$id|docker|docker-$id.scope" ]; then
		h_pass "attribution: the log row names the container"
	else
		h_fail "attribution: the log row names the container" "row '$crow'"
	fi
else
	h_fail "attribution: log rows" "no sqlite3 or no database $db"
fi

h_done
