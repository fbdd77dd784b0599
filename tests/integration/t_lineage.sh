#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Log rows carry the parent and the ancestry (the exe chain up to the
# boundary of the container, unit or hush run cgroup), the hostname and the
# host id, from hushd's process table (fork/exec/exit in the kernel): a
# parent that exited before the attempt still appears.  hush log --ppid,
# --wide, and JSON with exact integers.  A connect by literal address shows
# no DNS name; --log-allowed egress rows carry the pid.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init lineage
h_require_hush
h_require_tools python3 sqlite3 jq dnsmasq
DNSQ=$OUTPUT/tests/dnsq
[ -x "$DNSQ" ] || h_skip_or_fail "$H_NAME" "$DNSQ not built (make all)"
h_netns_up
# hushd enforces on enf/: the processes run in enf/a (cg), enf/b (other).
cg=$(h_cgroup_create enf/a)
other=$(h_cgroup_create enf/b)
WEB4=$H_INT4_B

h_bg --out "$H_TMP/dnsmasq.out" --err "$H_TMP/dnsmasq.err" --ns "$H_NS_INT" -- \
	dnsmasq --keep-in-foreground --no-daemon --no-resolv --no-hosts --no-poll \
	--bind-interfaces --listen-address="$H_INT4" --except-interface=lo --port=53 \
	--cache-size=0 --local-ttl=60 --user=root --group=root \
	--host-record="app.test,$WEB4" --log-facility=-
for _ in $(seq 1 100); do
	h_ns "$H_NS_HOST" "$DNSQ" --timeout-ms 200 "$H_INT4" app.test >/dev/null 2>&1 && break
	sleep 0.05
done
h_listen "$H_NS_INT" tcp :: 7020
h_listen "$H_NS_INT" tcp :: 8080

policy=$(h_policy lineage.policy <<EOF
mode enforce
resolver $H_INT4
allow $H_INT4 tcp 7020
allow dns app.test
allow host app.test tcp 8080
EOF
)
# Started before hushd (not in its process table): when told, a subshell
# (a fork, no exec) connects.
# shellcheck disable=SC2016
h_bg --cg "$cg" -- bash -c '
	while [ ! -e "$1" ]; do sleep 0.05; done
	( : 3<>"/dev/tcp/$2/7040" ) 2>/dev/null
	sleep 5 & wait
' _ "$H_TMP/go-early" "$H_FORB4"
early=$H_LAST_PID
h_hushd_start "$policy" "$H_CG_ROOT/enf" --log-allowed || h_done
db=$H_RUN_DIR/hush.db
hush_exe=$(readlink -f "$HUSH")

# rows JQ [SECONDS]: wait until `hush log --json` has a row matching JQ;
# prints the first.
rows() {
	local deadline=$(($(h_now_ms) + ${2:-5} * 1000)) out
	while :; do
		out=$("$HUSH" log --db "$db" --limit 0 --json 2>/dev/null | jq -c "select($1)" | head -n 1)
		[ -n "$out" ] && { echo "$out"; return 0; }
		[ "$(h_now_ms)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# check NAME WANT GOT
check() {
	if [ "$2" = "$3" ]; then h_pass "lineage: $1"; else h_fail "lineage: $1" "want '$2', got '$3'"; fi
}

py='import socket,sys,time
time.sleep(float(sys.argv[3]))
try: socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.5)
except OSError: pass'

# 1. sh -> python3 under hush run (nested in hushd's cgroup): the chain ends
#    with hush, the first process outside the run's cgroup.
runpol=$(h_policy run.policy <<EOF
mode enforce
EOF
)
# shellcheck disable=SC2016
h_hush_run_capture run "$cg" --policy "$runpol" -- /bin/sh -c \
	'echo $$ >"$1"; /usr/bin/python3 -c "$2" "$3" 7011 0; true' _ "$H_TMP/sh.pid" "$py" "$H_FORB4"
shpid=$(cat "$H_TMP/sh.pid" 2>/dev/null)
if row=$(rows ".dport == 7011 and .kind == \"attempt\""); then
	check "hush run: ancestry python3 <- sh <- hush" \
		"/usr/bin/python3 /bin/sh $hush_exe" \
		"$(jq -r '[.ancestry[].exe] | join(" ")' <<<"$row")"
	check "hush run: ppid is the shell, ancestry[1] its pid" "$shpid $shpid" \
		"$(jq -r '"\(.ppid) \(.ancestry[1].pid)"' <<<"$row")"
	check "hush run: ancestry[0] is the process itself" "$(jq -r .tgid <<<"$row")" \
		"$(jq -r '.ancestry[0].pid' <<<"$row")"
	check "hush run: from the table, not /proc" "null" \
		"$(jq -c '[.ancestry[] | select(.src)] | first' <<<"$row")"
else
	h_fail "lineage: hush run: a row" "no row for port 7011 ($H_RUN_ERR)"
fi

# 2. The parent exited before the attempt: still in the ancestry, marked.
# shellcheck disable=SC2016
h_cgroup_run "$cg" /bin/sh -c 'echo $$ >"$1"; /usr/bin/python3 -c "$2" "$3" 7012 1 & sleep 0.3; exit 0' \
	_ "$H_TMP/sh2.pid" "$py" "$H_FORB4" >/dev/null 2>&1
sh2=$(cat "$H_TMP/sh2.pid")
if row=$(rows ".dport == 7012 and .kind == \"attempt\"" 8); then
	check "exited parent: ppid and ancestry[1] name it, marked exited" "$sh2 $sh2 /bin/sh true" \
		"$(jq -r '"\(.ppid) \(.ancestry[1].pid) \(.ancestry[1].exe) \(.ancestry[1].exited)"' <<<"$row")"
else
	h_fail "lineage: exited parent: a row" "no row for port 7012"
fi

# 2b. A subshell of a process older than hushd: its exe and its parent from
#     /proc, marked so.
touch "$H_TMP/go-early"
if row=$(rows ".dport == 7040 and .kind == \"attempt\""); then
	check "older than hushd: exe, parent from /proc (marked)" "/usr/bin/bash $early $early proc" \
		"$(jq -r '"\(.exe) \(.ppid) \(.ancestry[1].pid) \(.ancestry[1].src)"' <<<"$row" |
			sed 's|^/bin/bash|/usr/bin/bash|')"
else
	h_fail "lineage: older than hushd: a row" "no row for port 7040"
fi

# 3. Hostname and host id on every row, in the hash chain.
if row=$(rows ".dport == 7012"); then
	want_id=$(cat /etc/machine-id 2>/dev/null)
	[ -n "$want_id" ] || want_id=$(cat "$H_RUN_DIR/host-id")
	check "hostname and host id" "$(hostname) $want_id" \
		"$(jq -r '"\(.hostname) \(.host_id)"' <<<"$row")"
fi
check "every row has a host id" 0 \
	"$("$HUSH" log --db "$db" --limit 0 --json | jq -s '[.[] | select(.host_id == null)] | length')"

# 4. --ppid filters by the parent; the table shows PPID; --wide the ancestry.
check "--ppid" "7012" \
	"$("$HUSH" log --db "$db" --ppid "$sh2" --json | jq -r '.dport' | sort -u | tr '\n' ' ' | sed 's/ $//')"
tbl=$("$HUSH" log --db "$db" --ppid "$sh2" --wide)
if grep -q PPID <<<"$tbl" && grep -q "/usr/bin/python3 <- /bin/sh (exited)" <<<"$tbl"; then
	h_pass "lineage: table PPID and --wide ancestry"
else
	h_fail "lineage: table PPID and --wide ancestry" "$tbl"
fi
if ! "$HUSH" log --db "$db" --ppid x >/dev/null 2>&1; then
	h_pass "lineage: --ppid x is a usage error"
else
	h_fail "lineage: --ppid x is a usage error" "accepted"
fi

# 5. JSON keeps exact integers: ns times are strings (and RFC 3339 with ns).
if row=$(rows ".dport == 7012"); then
	got=$(jq -r '(.ts_ns | type) + " " + (.first_ts_ns | type)' <<<"$row")
	check "json ts_ns and first_ts_ns are strings" "string string" "$got"
	ts_text=$("$HUSH" log --db "$db" --ppid "$sh2" --json --limit 1 | grep -o '"ts_ns":"[0-9]*"' | tr -dc 0-9)
	ts_db=$(sqlite3 "file:$db?mode=ro" "SELECT ts FROM log WHERE ppid = $sh2 ORDER BY id DESC LIMIT 1")
	check "json ts_ns exact" "$ts_db" "$ts_text"
fi

# 6. Names only where this cgroup resolved the address: a resolves app.test
#    and connects; b connects to the same address by literal address.
h_cgroup_run "$cg" "$DNSQ" "$H_INT4" app.test >"$H_TMP/dq.json" 2>/dev/null
if jq -e ".answers == [\"$WEB4\"]" "$H_TMP/dq.json" >/dev/null; then
	h_cgroup_run "$cg" "$NETPROBE" connect "$WEB4" 8080 --timeout-ms 500 >/dev/null
	h_cgroup_run "$other" "$NETPROBE" connect "$WEB4" 8080 --timeout-ms 500 >"$H_TMP/b.json"
	bpid=$(jq -r .pid "$H_TMP/b.json")
	if row=$(rows ".dport == 8080 and .hook == \"connect4\" and (.cgroup_path | endswith(\"/enf/a\"))"); then
		check "resolved by the cgroup: the name and the allow host rule" \
			"app.test allow host app.test tcp 8080" "$(jq -r '"\(.qname) \(.rule_text)"' <<<"$row")"
	else
		h_fail "lineage: resolved by the cgroup: a row" "none"
	fi
	if row=$(rows ".dport == 8080 and .hook == \"connect4\" and .tgid == $bpid"); then
		got=$(jq -r '"\(.qname) \(.rule_text | startswith("allow host"))"' <<<"$row")
		check "connect by address from another cgroup: no name, no allow host rule" \
			"null false" "$got"
	else
		h_fail "lineage: connect by address: a row" "none for pid $bpid"
	fi
else
	h_fail "lineage: dns setup" "$(cat "$H_TMP/dq.json")"
fi

# 7. --log-allowed: egress rows name the socket's process; none is blank.
h_cgroup_run "$cg" "$NETPROBE" connect "$H_INT4" 7020 --timeout-ms 500 >"$H_TMP/c.json"
cpid=$(jq -r .pid "$H_TMP/c.json")
if row=$(rows ".hook == \"egress\" and .verdict == \"allow\" and .dport == 7020"); then
	check "allowed egress row names the process" "$cpid" "$(jq -r .tgid <<<"$row")"
else
	h_fail "lineage: allowed egress row" "none for port 7020"
fi
check "no row without a process says nothing" 0 \
	"$("$HUSH" log --db "$db" --limit 0 --json | jq -s '[.[] | select(.kind == "attempt" and .tgid == null and .note == null)] | length')"

# 8. The chain covers the new columns: verify intact, then an edited
#    ancestry and an edited ppid are found.
h_stop "$H_HUSHD_PID"
out=$("$HUSH" log --db "$db" verify 2>&1)
check "verify intact with lineage" 0 "$?"
cp "$db" "$H_TMP/t.db"
rid=$(sqlite3 "$H_TMP/t.db" "SELECT id FROM events WHERE ppid = $sh2 LIMIT 1")
sqlite3 "$H_TMP/t.db" "UPDATE events SET ppid = 1 WHERE id = $rid"
out=$("$HUSH" log --db "$H_TMP/t.db" verify 2>&1)
if grep -q "row $rid: edited" <<<"$out"; then
	h_pass "lineage: verify finds an edited ppid"
else
	h_fail "lineage: verify finds an edited ppid" "$out"
fi

[ -n "${LINEAGE_DEBUG:-}" ] && { "$HUSH" log --db "$db" --json --limit 5 >&2; sleep 1000; }
h_done
