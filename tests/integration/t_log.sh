#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# hush log on real SQLite databases written through db_append() by
# tests/tools/dbfill (so the hash chain, the dimension tables and the head
# file are the real ones): every filter, order and limit, JSON/CSV/table
# output, gap and note rows, top --by each key, --follow, --db placement,
# usage errors, query plans (EXPLAIN QUERY PLAN of the SQL `hush -v log`
# prints), verify against edits, deletions, insertions, dimension edits and a
# truncated tail, and prune.
#
# Needs no network namespace, cgroup or root: only a temp dir, hush, dbfill,
# sqlite3 and jq.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

DBFILL=$OUTPUT/tests/dbfill

# The harness's h_init wants root and cgroups; this test wants neither, but
# the same reporting and cleanup (h_cleanup: our pids, then $H_TMP).
H_NAME=log
H_ID=log-$$
H_PIDS=()
H_TMP=$(mktemp -d "/tmp/hush-test.log.XXXXXX") || {
	echo "FAIL: log: setup: mktemp failed"
	exit 1
}
trap h_cleanup EXIT
trap 'h_cleanup; exit 130' INT
trap 'h_cleanup; exit 143' TERM
h_require_tools jq sqlite3 awk
[ -x "$HUSH" ] || h_skip_or_fail "$H_NAME" "$HUSH not built (make)"
[ -x "$DBFILL" ] || h_skip_or_fail "$H_NAME" "$DBFILL not built (make)"
export TZ=UTC

# ---- helpers ----

# check NAME WANT GOT
check() {
	if [ "$2" = "$3" ]; then
		h_pass "$1"
	else
		h_fail "$1" "want [$2] got [$3]"
	fi
}

# ids ARGS...: the ids `hush log --json ARGS` prints, space-separated.
ids() {
	"$HUSH" log --db "$DB" --json "$@" 2>"$H_TMP/ids.err" | jq -r .id | tr '\n' ' ' |
		sed 's/ $//'
}

# expect_ids NAME WANT ARGS...
expect_ids() {
	local name=$1 want=$2
	shift 2
	check "$name ($*)" "$want" "$(ids "$@")"
}

# expect_usage NAME REGEX ARGS...: exit 2 and a message matching REGEX.
expect_usage() {
	local name=$1 re=$2 rc
	shift 2
	"$HUSH" log --db "$DB" "$@" >"$H_TMP/u.out" 2>"$H_TMP/u.err"
	rc=$?
	if [ $rc = 2 ] && grep -Eq -- "$re" "$H_TMP/u.err" && [ ! -s "$H_TMP/u.out" ]; then
		h_pass "$name ($*)"
	else
		h_fail "$name ($*)" "rc $rc, stderr: $(head -c 300 "$H_TMP/u.err")"
	fi
}

# plan DB ARGS...: EXPLAIN QUERY PLAN of the last row query hush runs.
plan() {
	local db=$1 sql
	shift
	sql=$("$HUSH" -v log --db "$db" "$@" 2>&1 >/dev/null | sed -n 's/^hush: log: query: //p' |
		grep -v '^SELECT count' | tail -n 1)
	[ -n "$sql" ] && sqlite3 "$db" "EXPLAIN QUERY PLAN $sql"
}

# expect_plan NAME REGEX DB ARGS...
expect_plan() {
	local name=$1 re=$2 db=$3 p
	shift 3
	p=$(plan "$db" "$@" 2>&1)
	if grep -Eq -- "$re" <<<"$p"; then
		h_pass "$name"
	else
		h_fail "$name" "plan of hush log $*: $(tr '\n' ' ' <<<"$p")"
	fi
}

# fill DB <<EOF ... EOF: JSON lines through dbfill.
fill() {
	"$DBFILL" --db "$1" --jsonl - >"$H_TMP/fill.out" 2>&1 || {
		h_fail "$H_NAME: dbfill" "$(cat "$H_TMP/fill.out")"
		h_done
	}
}

S=1000000000
M=$((60 * S))
C1=aaaa1111bbbb2222cccc3333dddd4444eeee5555ffff6666aaaa7777bbbb8888
C2=bbbb22220000111122223333444455556666777788889999aaaabbbbccccdddd

# ---- database A: one row of each sort, times relative to now ----

DB=$H_TMP/a.db
now=$(date +%s%N)
fill "$DB" <<EOF
{"ts":$((now - 3 * 1440 * M)),"verdict":"deny","hook":"connect4","proto":"tcp","daddr":"10.1.2.3","dport":443,"pid":101,"tgid":101,"uid":1000,"gid":1000,"comm":"curl","exe":"/usr/bin/curl","cmdline":["curl","-s","https://a.example/"],"cgid":11,"cgroup_path":"/system.slice/docker-$C1.scope","container":"$C1","runtime":"docker","rule_scope":"/","rule_text":"default deny"}
{"ts":$((now - 120 * M)),"verdict":"deny","hook":"connect6","proto":"tcp","daddr":"fd00:2::2","dport":8443,"qname":"API.Corp.Internal.","pid":202,"tgid":200,"uid":33,"gid":33,"comm":"wget","exe":"/usr/local/bin/wget","cmdline":["wget","x"],"cgid":12,"cgroup_path":"/system.slice/nginx.service","unit":"nginx.service","rule_scope":"/","rule_text":"default deny"}
{"ts":$((now - 90 * M)),"first_ts":$((now - 100 * M)),"count":5,"verdict":"allow","hook":"sendmsg4","proto":"udp","daddr":"10.9.9.9","dport":53,"qname":"corp.internal","pid":303,"tgid":303,"uid":0,"gid":0,"comm":"dig","exe":"/usr/bin/dig","cmdline":["dig","corp.internal"],"cgid":13,"cgroup_path":"/kubepods.slice/cri-containerd-$C2.scope","container":"$C2","runtime":"containerd","pod":"0f0e0d0c-0000-1111-2222-333344445555","rule_scope":"/","rule_text":"allow 10.9.9.9 udp 53"}
{"ts":$((now - 30 * M)),"verdict":"audit","hook":"connect4","proto":"tcp","daddr":"192.168.1.10","dport":22,"pid":404,"tgid":404,"uid":0,"gid":0,"comm":"ssh\u001b]0;pwned\u0007","exe":"/usr/bin/ssh","cmdline":["ssh","host"],"cgid":14,"cgroup_path":"/system.slice/sshd.service","unit":"sshd.service"}
{"ts":$((now - 10 * M)),"first_ts":$((now - 20 * M)),"count":4,"verdict":"deny","hook":"connect4","proto":"tcp","daddr":"10.1.2.4","dport":443,"qname":"www.example.com","pid":505,"tgid":505,"uid":1000,"gid":1000,"comm":"curl","exe":"/usr/bin/curl","cmdline":["curl","https://www.example.com/"],"cgid":11,"cgroup_path":"/system.slice/docker-$C1.scope","container":"$C1","runtime":"docker","rule_scope":"/","rule_text":"default deny"}
{"ts":$((now - 8 * M)),"first_ts":$((now - 9 * M)),"count":6,"verdict":"deny","hook":"connect4","proto":"tcp","daddr":"10.1.2.4","dport":443,"pid":506,"tgid":506,"uid":1000,"gid":1000,"comm":"curl","exe":"/usr/bin/curl","cmdline":["curl","--retry","5","https://www.example.com/"],"cgid":11,"cgroup_path":"/system.slice/docker-$C1.scope","container":"$C1","runtime":"docker","rule_scope":"/","rule_text":"default deny"}
{"kind":"gap","ts":$((now - 5 * M)),"count":9,"hook":"connect4","verdict":"deny","note":"ring buffer full"}
{"kind":"note","ts":$((now - 1 * M)),"note":"hushd started, policy seq 3"}
{"ts":$((now - 30 * S)),"verdict":"deny","hook":"connect6","proto":"tcp","daddr":"::ffff:10.1.2.5","dport":80,"pid":909,"tgid":909,"uid":1000,"gid":1000,"comm":"nc"}
EOF
ALL="9 8 7 6 5 4 3 2 1"

# Relative times first, while "now" above is close.
expect_ids "since DUR" "9 8 7 6 5 4" --since 1h
expect_ids "since DUR, minutes" "9 8" --since 2m
expect_ids "until DUR: first attempt before" "3 2 1" --until 1h
expect_ids "since and until: the coalesced row spans the window" "3" --since 95m --until 80m
expect_ids "since 3h until 1h" "3 2" --since 3h --until 1h
expect_ids "since days" "$ALL" --since 4d
expect_ids "since weeks" "$ALL" --since 1w
expect_ids "since seconds" "9" --since 45s

expect_ids "all rows, newest first" "$ALL"
ts_sorted=$("$HUSH" log --db "$DB" --json | jq -s '[.[].ts_ns] == ([.[].ts_ns] | sort | reverse)')
check "json ts_ns strictly newest first" true "$ts_sorted"
expect_ids "verdict --denied (gap rows carry their verdict)" "9 7 6 5 2 1" --denied
expect_ids "verdict --allowed" "3" --allowed
expect_ids "verdict --audit" "4" --audit
expect_ids "verdict --verdict deny" "9 7 6 5 2 1" --verdict deny
expect_ids "kind gap" "7" --kind gap
expect_ids "kind note" "8" --kind note
expect_ids "pid matches tgid" "2" --pid 200
expect_ids "pid matches pid" "2" --pid 202
expect_ids "pid" "5" --pid 505
expect_ids "comm exact" "6 5 1" --comm curl
expect_ids "comm is not a prefix" "" --comm cur
expect_ids "exe exact" "6 5 1" --exe /usr/bin/curl
expect_ids "exe glob" "2" --exe '/usr/*/wget'
expect_ids "exe glob, several" "6 5 4 3 1" --exe '/usr/bin/*'
expect_ids "exe glob [..]" "3" --exe '/usr/bin/[d]ig'
expect_ids "container prefix, case-insensitive" "6 5 1" --container AAAA11
expect_ids "container full id" "3" --container "$C2"
expect_ids "container no match" "" --container ffff
expect_ids "container: LIKE wildcards are literal" "" --container 'a%'
expect_ids "unit exact" "2" --unit nginx.service
expect_ids "unit glob" "4 2" --unit '*.service'
expect_ids "dest IPv4 CIDR (v4-mapped IPv6 included)" "9 6 5 1" --dest 10.1.2.0/24
expect_ids "dest IPv4 /8" "9 6 5 3 1" --dest 10.0.0.0/8
expect_ids "dest bare IPv4 = /32" "1" --dest 10.1.2.3
expect_ids "dest IPv4 /32" "6 5" --dest 10.1.2.4/32
expect_ids "dest v4-mapped form of an IPv4 address" "6 5" --dest ::ffff:10.1.2.4
expect_ids "dest IPv6 CIDR" "2" --dest fd00::/16
expect_ids "dest bare IPv6 = /128" "2" --dest fd00:2::2
expect_ids "dest IPv6 no match" "" --dest fd00:2::3
expect_ids "dest ::/0 is every address" "9 6 5 4 3 2 1" --dest ::/0
expect_ids "port" "6 5 1" --port 443
expect_ids "port v6" "2" --port 8443
expect_ids "dns exact, case and trailing dot do not matter" "2" --dns api.corp.internal
expect_ids "dns upper case with trailing dot" "2" --dns API.CORP.INTERNAL.
expect_ids "dns *.suffix: subdomains only" "2" --dns '*.corp.internal'
expect_ids "dns exact apex" "3" --dns corp.internal
expect_ids "dns *.example.com" "5" --dns '*.EXAMPLE.com.'
expect_ids "dns is not a suffix match" "" --dns example.com
expect_ids "dns glob in the middle" "2" --dns 'api.*.internal'
expect_ids "dns glob, any case, ? and [..]" "3 2" --dns '*C[o]rp.inter?al'
expect_ids "dns glob *: every named row" "5 3 2" --dns '*'
expect_ids "uid" "2" --uid 33
expect_ids "uid 0" "4 3" --uid 0
expect_ids "uid with no row" "" --uid 4242
expect_ids "hook" "9 2" --hook connect6
expect_ids "hook with another filter" "6 5 1" --hook connect4 --uid 1000
expect_ids "cmdline glob over the joined arguments" "6 5 1" --cmdline 'curl *'
expect_ids "cmdline glob inside" "6" --cmdline '*--retry 5*'
expect_ids "cmdline exact" "2" --cmdline 'wget x'
expect_ids "cmdline is not a prefix" "" --cmdline 'wget'
expect_ids "filters combine" "6 5 1" --denied --dest 10.0.0.0/8 --port 443
expect_ids "filters combine: dimension and time" "6 5" --container aaaa --since 1h
expect_ids "limit" "9 8" --limit 2
expect_ids "limit 0 = all" "$ALL" --limit 0
expect_ids "--opt=value" "6 5 1" --comm=curl

# ---- absolute times (database B: fixed instants) ----

DBA=$H_TMP/b.db
t9=$(date -u -d 2026-11-23T09:00:00Z +%s)
fill "$DBA" <<EOF
{"ts":$((t9 * S)),"verdict":"deny","comm":"r9"}
{"ts":$(((t9 + 5400) * S)),"first_ts":$(((t9 + 1800) * S)),"count":2,"verdict":"deny","comm":"r930-1030"}
{"ts":$(((t9 + 3600) * S)),"verdict":"deny","comm":"r10"}
{"ts":$(((t9 + 7200) * S + 500000000)),"verdict":"deny","comm":"r11.5"}
EOF
DB=$DBA
expect_ids "since absolute UTC time (Z)" "4 2 3" --since 2026-11-23T10:00Z
expect_ids "since absolute with seconds and fraction" "4" --since "2026-11-23 11:00:00.4Z"
expect_ids "since absolute fraction excludes" "" --since "2026-11-23T11:00:00.500000001Z"
expect_ids "since absolute with offset" "4 2 3" --since 2026-11-23T11:00:00+01:00
expect_ids "since absolute, offset without colon" "4 2 3" --since 2026-11-23T05:00-0500
expect_ids "until absolute: first attempt counts" "2 3 1" --until 2026-11-23T10:00:00Z
expect_ids "until before the coalesced row's first attempt" "1" --until 2026-11-23T09:29Z
expect_ids "since a date (local midnight)" "4 2 3 1" --since 2026-11-23
expect_ids "until a date" "" --until 2026-11-23
expect_ids "since @epoch" "4 2 3" --since "@$((t9 + 3600))"
expect_ids "since @epoch.frac" "" --since "@$((t9 + 7200)).6"
got=$(TZ=XST-3 "$HUSH" log --db "$DBA" --json --since 2026-11-23T13:00 | jq -r .id | tr '\n' ' ')
check "since local time without zone (TZ=UTC+3)" "4 2 3 " "$got"
got=$(TZ=XST-3 "$HUSH" log --db "$DBA" --limit 1 | awk 'NR == 2 { print $1, $2 }')
check "table shows local time with ms (TZ=UTC+3)" "2026-11-23 14:00:00.500" "$got"

# ---- output formats ----

DB=$H_TMP/a.db
row3=$("$HUSH" log --db "$DB" --json --allowed)
got=$(jq -r '[.id, .kind, .verdict, .count, .hook, .proto, .daddr, .dport, .qname, .pid,
	.tgid, .uid, .comm, .exe, (.cmdline | type), (.cmdline | join(" ")), .container,
	.runtime, .pod, .cgid, .cgroup_path, .rule_scope, .rule_text, .family, .flags, .note,
	.unit] | map(tostring) | join("|")' <<<"$row3")
want="3|attempt|allow|5|sendmsg4|udp|10.9.9.9|53|corp.internal|303|303|0|dig|/usr/bin/dig|array|dig corp.internal|$C2|containerd|0f0e0d0c-0000-1111-2222-333344445555|13|/kubepods.slice/cri-containerd-$C2.scope|/|allow 10.9.9.9 udp 53|4|null|null|null"
check "json: every field of the row" "$want" "$got"
# jq reads numbers as doubles: ns times are strings, exact for every reader.
check "json: exact ns times (strings)" "$((now - 90 * M)) $((now - 100 * M))" \
	"$(jq -r '"\(.ts_ns) \(.first_ts_ns)"' <<<"$row3")"
got=$(jq -r '(.ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z$")) and
	(.first_ts | test("^[0-9-]{10}T[0-9:]{8}\\.[0-9]{9}Z$")) and (.ts_ns | type) == "string" and
	(.hash | test("^[0-9a-f]{64}$")) and .dkey == "00000000000000000000ffff0a090909"' <<<"$row3")
check "json: RFC 3339 ns times, ts_ns, hash and dkey as hex" true "$got"
keys=$("$HUSH" log --db "$DB" --json --limit 1 | jq -r 'keys_unsorted | join(",")')
check "json: keys in view order" "id,kind,ts,ts_ns,first_ts,first_ts_ns,count,hook,verdict,rule_scope,rule_text,family,proto,daddr,dkey,dport,qname,flags,pid,tgid,uid,gid,comm,exe,cmdline,cgid,cgroup_path,container,runtime,unit,pod,note,hash,qtype,name,image,image_id,pod_namespace,pod_name,ppid,ancestry,hostname,host_id" "$keys"
got=$("$HUSH" log --db "$DB" --json --audit | jq -r .comm)
check "json: control characters survive as JSON escapes" $'ssh\e]0;pwned\a' "$got"
n=$("$HUSH" log --db "$DB" --json | jq -s 'length')
check "json: one object per line, all parse" 9 "$n"

"$HUSH" log --db "$DB" --csv >"$H_TMP/a.csv"
hdr=$(head -n 1 "$H_TMP/a.csv")
check "csv: header" $'id,kind,ts,ts_ns,first_ts,first_ts_ns,count,hook,verdict,rule_scope,rule_text,family,proto,daddr,dkey,dport,qname,flags,pid,tgid,uid,gid,comm,exe,cmdline,cgid,cgroup_path,container,runtime,unit,pod,note,hash,qtype,name,image,image_id,pod_namespace,pod_name,ppid,ancestry,hostname,host_id\r' "$hdr"
check "csv: header and one record per row, CRLF" 10 "$(grep -c $'\r$' "$H_TMP/a.csv")"
check "csv: ids newest first" "$ALL" "$(tail -n +2 "$H_TMP/a.csv" | cut -d, -f1 | tr '\n' ' ' | sed 's/ $//')"
if grep -q ',"\[""curl"",""--retry"",""5"",""https://www.example.com/""\]",' "$H_TMP/a.csv"; then
	h_pass "csv: quoted field with doubled quotes (cmdline)"
else
	h_fail "csv: quoted field with doubled quotes (cmdline)" "$(grep -- --retry "$H_TMP/a.csv")"
fi
got=$("$HUSH" log --db "$DB" --csv --kind note | tail -n 1 | cut -d, -f1,2,7,8,9,14)
check "csv: NULL is an empty field" $'8,note,0,,,' "$got"

"$HUSH" log --db "$DB" >"$H_TMP/a.txt" 2>"$H_TMP/a.txt.err"
# Every attempt row starts its columns where the header's do.
got=$(awk 'NR == 1 { n = split("VERDICT COUNT HOOK PROTO DEST DNS PID COMM EXE CONTAINER UNIT RULE", c, " ")
		for (i = 1; i <= n; i++) { p[i] = index($0, c[i]); if (c[i] == "COUNT" || c[i] == "PID") p[i] += length(c[i]) - 1 }
		next }
	/ (LOST|NOTE) / { next }
	{ for (i = 1; i <= n; i++) {
		if (c[i] == "COUNT" || c[i] == "PID") {
			if (substr($0, p[i], 1) == " " || substr($0, p[i] + 1, 1) != " ") { print NR ":" c[i]; exit }
		} else if (substr($0, p[i] - 2, 2) != "  " || substr($0, p[i], 1) == " ") { print NR ":" c[i]; exit }
	} }' "$H_TMP/a.txt")
check "table: columns aligned with the header" "" "$got"
check "table: header and 9 rows" 10 "$(wc -l <"$H_TMP/a.txt")"
if grep -Eq '^[0-9-]+ [0-9:.]+ +LOST +9 +connect4 +ring buffer full' "$H_TMP/a.txt"; then
	h_pass "table: gap row shows LOST, its count and note"
else
	h_fail "table: gap row shows LOST, its count and note" "$(grep LOST "$H_TMP/a.txt")"
fi
if grep -Eq ' NOTE .*hushd started, policy seq 3$' "$H_TMP/a.txt"; then
	h_pass "table: note row shows its text"
else
	h_fail "table: note row shows its text" "$(grep NOTE "$H_TMP/a.txt")"
fi
if grep -q $'\e' "$H_TMP/a.txt" || ! grep -q 'ssh?]0;pwned?' "$H_TMP/a.txt"; then
	h_fail "table: control characters from comm are neutralized" "$(grep ssh "$H_TMP/a.txt" | od -c | head -3)"
else
	h_pass "table: control characters from comm are neutralized"
fi
if grep -q '10.1.2.4:443 ' "$H_TMP/a.txt" && grep -q '\[fd00:2::2\]:8443 ' "$H_TMP/a.txt" &&
	grep -q " aaaa1111bbbb  " "$H_TMP/a.txt" && ! grep -q "$C1" "$H_TMP/a.txt"; then
	h_pass "table: destinations as addr:port / [v6]:port, container id cut to 12"
else
	h_fail "table: destinations as addr:port / [v6]:port, container id cut to 12" "$(head -3 "$H_TMP/a.txt")"
fi
check "table: no limit note when nothing was cut" "" "$(cat "$H_TMP/a.txt.err")"

# ---- DNS query rows (hook dns, with their query type) ----

DB=$H_TMP/d.db
fill "$DB" <<EOF
{"ts":$((now - 4 * M)),"first_ts":$((now - 5 * M)),"count":3,"verdict":"deny","hook":"dns","proto":"udp","daddr":"10.0.0.53","dport":53,"qname":"x7f3a.exfil.example.com","qtype":"AAAA","pid":71,"tgid":71,"uid":1000,"gid":1000,"comm":"curl","exe":"/usr/bin/curl","rule_scope":"/","rule_text":"default deny"}
{"ts":$((now - 3 * M)),"verdict":"allow","hook":"dns","proto":"udp","daddr":"10.0.0.53","dport":53,"qname":"www.example.com","qtype":"A","pid":72,"tgid":72,"uid":1000,"gid":1000,"comm":"curl","rule_scope":"/","rule_text":"allow dns *.example.com"}
{"ts":$((now - 2 * M)),"verdict":"deny","hook":"dns","proto":"udp","daddr":"10.0.0.53","dport":53,"note":"malformed query: FORMERR","pid":73,"tgid":73,"uid":0,"gid":0,"comm":"nc"}
{"ts":$((now - 1 * M)),"verdict":"allow","hook":"connect4","proto":"tcp","daddr":"93.184.216.34","dport":443,"qname":"www.example.com","pid":72,"tgid":72,"uid":1000,"gid":1000,"comm":"curl"}
EOF
expect_ids "qtype, any case" "1" --qtype aaaa
expect_ids "qtype A is not AAAA" "2" --qtype A
expect_ids "dns matches query rows and named attempts" "4 2 1" --dns '*.example.com'
check "json: qtype of a query row, null elsewhere" "AAAA|null|null" \
	"$("$HUSH" log --db "$DB" --json --dns '*.exfil.example.com' | jq -r .qtype)|$("$HUSH" log --db "$DB" --json --kind attempt --limit 1 | jq -r .qtype)|$("$HUSH" log --db "$DB" --json --comm nc | jq -r .qtype)"
"$HUSH" log --db "$DB" >"$H_TMP/d.txt" 2>&1
if grep -Eq ' dns +udp +10\.0\.0\.53:53 +x7f3a\.exfil\.example\.com AAAA +71 ' "$H_TMP/d.txt" &&
	grep -Eq ' dns +udp +10\.0\.0\.53:53 +\(malformed query: FORMERR\) +73 ' "$H_TMP/d.txt" &&
	grep -Eq ' connect4 +tcp +93\.184\.216\.34:443 +www\.example\.com +72 ' "$H_TMP/d.txt"; then
	h_pass "table: a query row shows the resolver, then name and type (or its note)"
else
	h_fail "table: a query row shows the resolver, then name and type (or its note)" "$(cat "$H_TMP/d.txt")"
fi

# ---- the default limit, on a synthetic database ----

DBS=$H_TMP/s.db
"$DBFILL" --db "$DBS" --rows 150 --seed 7 --span 3600 >/dev/null 2>&1
"$HUSH" log --db "$DBS" >"$H_TMP/s.txt" 2>"$H_TMP/s.err"
check "default limit: 100 rows and a header" 101 "$(wc -l <"$H_TMP/s.txt")"
check "default limit: says so on stderr" "(showing the newest 100 rows; --limit 0 for all)" "$(cat "$H_TMP/s.err")"
"$HUSH" log --db "$DBS" --limit 100 >/dev/null 2>"$H_TMP/s.err"
check "explicit limit: no note" "" "$(cat "$H_TMP/s.err")"
check "json: default limit 100, no note" "100|" "$("$HUSH" log --db "$DBS" --json 2>&1 | grep -c '^{')|$("$HUSH" log --db "$DBS" --json 2>&1 >/dev/null)"
check "limit 0: all 150" 150 "$("$HUSH" log --db "$DBS" --json --limit 0 | wc -l)"
got=$("$HUSH" log --db "$DBS" --limit 0 --json | head -n 1 | jq -r .id; echo "rc=${PIPESTATUS[0]}")
check "a reader that goes away ends the output quietly" $'150\nrc=0' "$got"

# ---- top ----

DB=$H_TMP/a.db
top() {
	"$HUSH" log --db "$DB" top --json "$@" | jq -r "$TOPQ" | tr '\n' ' ' | sed 's/ $//'
}
# topl ARGS...: as top, the groups joined by ';' (they hold spaces)
topl() {
	"$HUSH" log --db "$DB" top --json "$@" | jq -r "$TOPQ" | paste -sd ';'
}
TOPQ='"\(.daddr):\(.dport)/\(.proto)=\(.attempts)/\(.rows)"'
check "top --by dest: sums, rows, order" \
	"10.1.2.4:443/tcp=10/2 10.9.9.9:53/udp=5/1 ::ffff:10.1.2.5:80/tcp=1/1 192.168.1.10:22/tcp=1/1 fd00:2::2:8443/tcp=1/1 10.1.2.3:443/tcp=1/1" \
	"$(top --by dest)"
check "top --by dest with a filter" "10.1.2.4:443/tcp=10/2 ::ffff:10.1.2.5:80/tcp=1/1 fd00:2::2:8443/tcp=1/1 10.1.2.3:443/tcp=1/1" \
	"$(top --by dest --denied)"
check "top --limit" "10.1.2.4:443/tcp=10/2" "$(top --by dest --limit 1)"
TOPQ='"\(.exe)/\(.comm)=\(.attempts)/\(.rows)"'
check "top --by exe: one exe over several cmdlines; comm when no exe" \
	"/usr/bin/curl/curl=11/3 /usr/bin/dig/dig=5/1 null/nc=1/1 /usr/bin/ssh/ssh\u001b]0;pwned\u0007=1/1 /usr/local/bin/wget/wget=1/1" \
	"$(top --by exe | sed 's/\x1b/\\u001b/; s/\x07/\\u0007/')"
TOPQ='"\(.exe)|\(.cmdline)=\(.attempts)/\(.rows)"'
check "top --by process: an exe with each command line apart" \
	"/usr/bin/curl|curl --retry 5 https://www.example.com/=6/1;/usr/bin/dig|dig corp.internal=5/1;/usr/bin/curl|curl https://www.example.com/=4/1;null|null=1/1;/usr/bin/ssh|ssh host=1/1;/usr/local/bin/wget|wget x=1/1;/usr/bin/curl|curl -s https://a.example/=1/1" \
	"$(topl --by process)"
TOPQ='"\(.cmdline)/\(.comm)=\(.attempts)"'
check "top --by cmdline (a command line whatever the exe)" \
	"curl --retry 5 https://www.example.com//curl=6;dig corp.internal/dig=5;curl https://www.example.com//curl=4;null/nc=1" \
	"$(topl --by cmdline --limit 4)"
TOPQ='"\(.comm)=\(.attempts)/\(.rows)"'
check "top --by comm" "curl=11/3 dig=5/1 nc=1/1" "$(top --by comm --limit 3)"
TOPQ='"\(.uid)=\(.attempts)/\(.rows)"'
check "top --by uid (numbers in JSON)" "1000=12/4 0=6/2 33=1/1" "$(top --by uid)"
check "top --by uid, filtered by hook (ties: the latest first)" "1000=1/1 33=1/1" "$(top --by uid --hook connect6)"
TOPQ='"\(.rule_scope)|\(.rule_text)=\(.attempts)/\(.rows)"'
check "top --by rule (null: no rule)" "/|default deny=12/4;/|allow 10.9.9.9 udp 53=5/1;null|null=2/2" \
	"$(topl --by rule)"
TOPQ='"\(.qname)=\(.attempts)/\(.rows)"'
check "top --by dns on attempts: the name that led to them" \
	"null=9/4 corp.internal=5/1 www.example.com=4/1 api.corp.internal=1/1" "$(top --by dns)"
check "top --by dns with --dns GLOB" "corp.internal=5/1 api.corp.internal=1/1" "$(top --by dns --dns '*corp.internal')"
check "top --cmdline filter" "/usr/bin/curl=11" "$(TOPQ='"\(.exe)=\(.attempts)"' top --by exe --cmdline 'curl *')"
TOPQ='"\(.container)/\(.runtime)=\(.attempts)/\(.rows)"'
check "top --by container (null: not in a container)" "$C1/docker=11/3 $C2/containerd=5/1 null/null=3/3" \
	"$(top --by container)"
TOPQ='"\(.unit)=\(.attempts)/\(.rows)"'
check "top --by unit" "null=17/5 sshd.service=1/1 nginx.service=1/1" "$(top --by unit)"
# (ns times are strings: jq reads numbers as doubles.)
check "top: first and last attempt" "\"first_ts_ns\":\"$((now - 20 * M))\" \"last_ts_ns\":\"$((now - 8 * M))\"" \
	"$("$HUSH" log --db "$DB" top --by dest --limit 1 --json | grep -Eo '"(first|last)_ts_ns":"[0-9]+"' | tr '\n' ' ' | sed 's/ $//')"
check "top --kind gap counts lost attempts" "null=9 \"last_ts_ns\":\"$((now - 5 * M))\"" \
	"$(TOPQ='"\(.daddr)=\(.attempts)"' top --by dest --kind gap) $("$HUSH" log --db "$DB" top --by dest --kind gap --json | grep -Eo '"last_ts_ns":"[0-9]+"')"
got=$("$HUSH" log --db "$DB" top --by dest --csv | head -n 2 | tr -d '\r')
check "top --csv" "daddr,dport,proto,attempts,rows,first_ts,first_ts_ns,last_ts,last_ts_ns
10.1.2.4,443,tcp,10,2,$(date -u -d @$(((now - 20 * M) / S)) +%Y-%m-%dT%H:%M:%S).$(printf %09d $(((now - 20 * M) % S)))Z,$((now - 20 * M)),$(date -u -d @$(((now - 8 * M) / S)) +%Y-%m-%dT%H:%M:%S).$(printf %09d $(((now - 8 * M) % S)))Z,$((now - 8 * M))" "$got"
got=$("$HUSH" log --db "$DB" top --by container | awk 'NR == 1 { print $1, $2, $3, $4 } NR == 2 { print $3, $4 }')
check "top table: header and sums" $'CONTAINER RUNTIME ATTEMPTS ROWS\n11 3' "$got"
got=$("$HUSH" log --db "$DB" top --by exe | awk 'NR == 4 { print $1 }')
check "top table: a process without exe shows [comm]" "[nc]" "$got"
got=$("$HUSH" log --db "$DB" top --by process --limit 1 | awk 'NR == 1 { print $1, $2, $3 } NR == 2 { print $1, $3, $4 }')
check "top --by process table: exe, comm, command line" $'PROCESS COMM CMDLINE\n/usr/bin/curl curl --retry' "$got"
# DNS query rows: the refused names, grouped.
DB=$H_TMP/d.db
TOPQ='"\(.qname)=\(.attempts)/\(.rows)"'
check "top --by dns --denied --hook dns: refused names" "x7f3a.exfil.example.com=3/1 null=1/1" \
	"$(top --by dns --denied --hook dns)"
check "top --by dns: a query and the attempt it led to, one name" "x7f3a.exfil.example.com=3/1 www.example.com=2/2 null=1/1" \
	"$(top --by dns)"
DB=$H_TMP/a.db

# ---- --db before and after the verb ----

check "--db before the filters" "6 5 1" "$("$HUSH" log --db "$DB" --json --comm curl | jq -r .id | tr '\n' ' ' | sed 's/ $//')"
check "--db after the filters" "6 5 1" "$("$HUSH" log --json --comm curl --db "$DB" | jq -r .id | tr '\n' ' ' | sed 's/ $//')"
check "--db before verify" "intact, 9 rows" "$("$HUSH" log --db "$DB" verify)"
check "--db after verify" "intact, 9 rows" "$("$HUSH" log verify --db "$DB")"
check "--db= before top" 17 "$("$HUSH" log --db="$DB" top --by unit --json --limit 1 | jq .attempts)"
check "--db after top" 17 "$("$HUSH" log top --by unit --json --limit 1 --db "$DB" | jq .attempts)"
check "hush --help lists log" 1 "$("$HUSH" help | grep -c '^  hush log \[--db FILE\]')"
"$HUSH" log --help >"$H_TMP/help" 2>&1
rc=$?
check "hush log --help: exit 0, usage" "0 1" "$rc $(grep -c '^usage: hush log' "$H_TMP/help")"

# ---- usage errors ----

expect_usage "unknown flag" "unknown option --bogus" --bogus
expect_usage "unknown short flag" "unknown option -x" -x
expect_usage "no prefixes of options" "unknown option --den" --den
expect_usage "stray argument" 'unexpected argument "nonsense"' nonsense
expect_usage "port out of range" "--port 70000: not a port" --port 70000
expect_usage "port not a number" "--port https" --port https
expect_usage "bad CIDR prefix" "--dest 10.0.0.0/33: not an address or CIDR" --dest 10.0.0.0/33
expect_usage "bad IPv6 CIDR" "--dest fd00::/129" --dest fd00::/129
expect_usage "bad address" "--dest 10.0.0.256" --dest 10.0.0.256
expect_usage "bad time" "--since yesterday: not a duration" --since yesterday
expect_usage "impossible date" "--until 2026-02-30" --until 2026-02-30
expect_usage "bad time zone" "--since 2026-11-23T10:00\+25:00" --since 2026-11-23T10:00+25:00
expect_usage "bad verdict" "--verdict maybe" --verdict maybe
expect_usage "conflicting verdicts" "conflicting verdicts" --denied --allowed
expect_usage "bad kind" "--kind attempts" --kind attempts
expect_usage "bad limit" "--limit -1" --limit -1
expect_usage "missing value" "--comm needs a value" --comm
expect_usage "json and csv" "exclude each other" --json --csv
expect_usage "dns name with a space" "--dns" --dns 'a b.com'
expect_usage "bad uid" "--uid x" --uid x
expect_usage "unknown hook" "--hook connect" --hook connect
expect_usage "empty cmdline" "--cmdline needs a value" --cmdline ''
expect_usage "bad query type" "--qtype" --qtype 'A A'
expect_usage "top needs --by" "top needs --by" top
expect_usage "bad --by" "--by pod" top --by pod
expect_usage "--by without top" "--by belongs to .hush log top." --by dest
expect_usage "--follow with top" "--follow does not apply" top --by dest --follow
expect_usage "filters with verify" "--denied does not apply" verify --denied
expect_usage "bad --head" "--head 5:xyz" verify --head 5:xyz
expect_usage "prune needs --older-than" "prune needs --older-than" prune
expect_usage "bad --older-than" "--older-than soon" prune --older-than soon
expect_usage "two verbs" "two verbs" verify prune

# ---- missing database ----

"$HUSH" log --db "$H_TMP/none.db" >"$H_TMP/m.out" 2>"$H_TMP/m.err"
rc=$?
if [ $rc = 1 ] && grep -q "cannot open $H_TMP/none.db: No such file or directory (is hushd running with --db? pass --db FILE)" "$H_TMP/m.err"; then
	h_pass "missing database: clear error, exit 1"
else
	h_fail "missing database: clear error, exit 1" "rc $rc: $(cat "$H_TMP/m.err")"
fi
"$HUSH" log prune --older-than 1d --db "$H_TMP/none.db" >/dev/null 2>&1
rc=$?
if [ $rc = 1 ] && [ ! -e "$H_TMP/none.db" ]; then
	h_pass "prune does not create a missing database"
else
	h_fail "prune does not create a missing database" "rc $rc, $(ls "$H_TMP"/none.db* 2>&1)"
fi
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && command -v su >/dev/null; then
	# A copy of the binary in $H_TMP: the checkout may be where nobody cannot
	# reach (a clone under /root, mode 0700).
	cp "$DB" "$H_TMP/private.db" && chmod 600 "$H_TMP/private.db" && chmod 755 "$H_TMP" &&
		install -m 0755 "$HUSH" "$H_TMP/hush-copy"
	err=$(su nobody -s /bin/sh -c "'$H_TMP/hush-copy' log --db '$H_TMP/private.db'" 2>&1)
	rc=$?
	chmod 700 "$H_TMP"
	if [ $rc = 1 ] && grep -q "need root or membership in group hush" <<<"$err"; then
		h_pass "unreadable database: says who may read it"
	else
		h_fail "unreadable database: says who may read it" "rc $rc: $err"
	fi
fi

# ---- group readers, whatever state the WAL files are in ----
# A non-root member of the database's group (a gid of the test's own, given
# with setpriv: the machine may have no group "hush") reads a 0750/0640
# database with -wal/-shm present, absent (the sqlite3 shell removed them on
# its checkpoint), and with only -wal left.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	G=4242
	GD=$H_TMP/gr
	mkdir -p "$GD/d" && chmod 755 "$H_TMP" "$GD"
	install -m 0755 "$HUSH" "$GD/hush"
	GDB=$GD/d/h.db
	"$DBFILL" --db "$GDB" --rows 40 --seed 3 >/dev/null 2>&1
	chgrp -R "$G" "$GD/d" && chmod 750 "$GD/d" && chmod 640 "$GDB"
	rm -f "$GDB-wal" "$GDB-shm"
	# The writer (db_open read-write, as hushd) makes -wal/-shm group-readable.
	"$DBFILL" --db "$GDB" --rows 10 --seed 4 >/dev/null 2>&1
	check "group readers: the writer leaves -wal and -shm, 0640, the database's group" \
		"640 $G 640 $G" "$(stat -c '%a %g' "$GDB-wal" "$GDB-shm" | tr '\n' ' ' | sed 's/ $//')"
	# as_member ARGS: hush as nobody with the group; prints "rows rc stderr".
	as_member() {
		local out rc
		out=$(setpriv --reuid=65534 --regid=65534 --groups="$G" "$GD/hush" log --db "$GDB" "$@" 2>"$GD/err")
		rc=$?
		printf '%s %s %s' "$(printf '%s\n' "$out" | grep -c .)" "$rc" "$(head -c 300 "$GD/err")"
	}
	check "group readers: -wal and -shm present" "50 0 " "$(as_member --json --limit 0)"
	check "group readers: verify with -wal and -shm present" "1 0 " "$(as_member verify)"
	sqlite3 "$GDB" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
	if [ -e "$GDB-wal" ] || [ -e "$GDB-shm" ]; then
		h_log "sqlite3 left $(cd "$GD/d" && echo *)"
	fi
	rm -f "$GDB-wal" "$GDB-shm"
	check "group readers: -wal and -shm absent (no 'readonly database')" "50 0 " "$(as_member --json --limit 0)"
	check "group readers: verify with them absent" "intact, 50 rows" \
		"$(setpriv --reuid=65534 --regid=65534 --groups="$G" "$GD/hush" log --db "$GDB" verify 2>&1)"
	check "group readers: the reader left nothing behind" "h.db h.db.head" "$(cd "$GD/d" && echo *)"
	"$DBFILL" --db "$GDB" --rows 5 --seed 5 >/dev/null 2>&1
	rm -f "$GDB-shm"
	got=$(as_member --json --limit 0)
	if [[ $got == "55 0 hush: $GDB-wal may hold rows not yet in"* ]]; then
		h_pass "group readers: -wal without -shm: rows read, and a notice says what may be missing"
	else
		h_fail "group readers: -wal without -shm: rows read, and a notice says what may be missing" "$got"
	fi
	chmod 700 "$H_TMP"
fi

# ---- query plans: the indexes are used ----

expect_plan "plan: no filter walks events(ts)" "USING (COVERING )?INDEX events_ts" "$DB"
expect_plan "plan: container uses events(cgroup, ts)" "USING COVERING INDEX events_cgroup_ts" "$DB" --container aaaa
expect_plan "plan: unit uses events(cgroup, ts)" "USING COVERING INDEX events_cgroup_ts" "$DB" --unit nginx.service
expect_plan "plan: dest uses events(dkey, ts)" "USING COVERING INDEX events_dkey_ts \(dkey>\? AND dkey<\?\)" "$DB" --dest 10.1.2.0/24
expect_plan "plan: verdict and time use events(verdict, ts)" "USING (COVERING )?INDEX events_verdict_ts \(verdict=\? AND ts>\?\)" "$DB" --denied --since 1h
expect_plan "plan: port and time use events(dport, ts)" "USING (COVERING )?INDEX events_dport_ts \(dport=\? AND ts>\?\)" "$DB" --since 1h --port 443
expect_plan "plan: a port alone uses events(dport, ts)" "USING (COVERING )?INDEX events_dport_ts \(dport=\?\)" "$DB" --port 6443
expect_plan "plan: joins only by primary key" "SEARCH c USING INTEGER PRIMARY KEY" "$DB" --exe /usr/bin/curl
expect_plan "plan: --cmdline uses events(proc, ts)" "INDEX events_proc_ts \(proc=\?\)" "$DB" --cmdline 'curl *'
expect_plan "plan: --exe uses events(proc, ts)" "INDEX events_proc_ts \(proc=\?\)" "$DB" --exe /usr/bin/curl
expect_plan "plan: --kind gap uses the partial events(kind, ts)" "INDEX events_kind_ts \(kind=\?\)" "$DB" --kind gap
expect_plan "plan: --kind note uses the partial events(kind, ts)" "INDEX events_kind_ts \(kind=\?\)" "$DB" --kind note
# (top reads whole minutes from the rollups, the rows before the first from events(ts))
expect_plan "plan: top with a time range uses events(ts)" "USING (COVERING )?INDEX events_ts \(ts>\?( AND ts<\?)?\)" "$DB" top --by dest --since 1h
# A /8 holding much of a big table is no index range worth walking with
# table lookups for --port: hush walks by time instead.
DBB=$H_TMP/big.db
"$DBFILL" --db "$DBB" --rows 70000 --seed 11 --span 86400 --batch 20000 >/dev/null 2>&1
expect_plan "plan: a broad CIDR with --port walks the port's index by time" "USING (COVERING )?INDEX events_dport_ts \(dport=\?\)" "$DBB" --dest 10.0.0.0/8 --port 443
expect_plan "plan: a narrow CIDR keeps its index" "USING (COVERING )?INDEX events_dkey_ts" "$DBB" --dest 10.0.1.0/24 --port 443
check "broad CIDR: same rows as without the index" \
	"$(sqlite3 "$DBB" "SELECT id FROM events WHERE dkey BETWEEN x'00000000000000000000ffff0a000000' AND x'00000000000000000000ffff0affffff' AND dport = 443 ORDER BY ts DESC, id DESC LIMIT 5" | tr '\n' ' ')" \
	"$("$HUSH" log --db "$DBB" --json --dest 10.0.0.0/8 --port 443 --limit 5 | jq -r .id | tr '\n' ' ')"
# The same for a process glob matching much of the table: by time, not by
# events(proc, ts) and a sort; a single program keeps the index.
expect_plan "plan: a broad --exe glob walks by time" "USING (COVERING )?INDEX events_ts" "$DBB" --exe '/usr/*'
expect_plan "plan: a narrow --exe keeps events(proc, ts)" "INDEX events_proc_ts \(proc=\?\)" "$DBB" --exe /usr/bin/prog53
check "broad --exe glob: same rows as sqlite3" \
	"$(sqlite3 "$DBB" "SELECT e.id FROM events e JOIN procs p ON p.id = e.proc WHERE p.exe GLOB '/usr/*' ORDER BY e.ts DESC, e.id DESC LIMIT 5" | tr '\n' ' ')" \
	"$("$HUSH" log --db "$DBB" --json --exe '/usr/*' --limit 5 | jq -r .id | tr '\n' ' ')"

# ---- --follow ----

DB=$H_TMP/f.db
fill "$DB" <<EOF
{"ts":$((now - 3 * M)),"verdict":"deny","comm":"old1","daddr":"10.0.0.1","dport":1}
{"ts":$((now - 2 * M)),"verdict":"allow","comm":"old2","daddr":"10.0.0.2","dport":2}
{"ts":$((now - 1 * M)),"verdict":"deny","comm":"old3","daddr":"10.0.0.3","dport":3}
EOF
"$HUSH" log --db "$DB" --follow --json --limit 2 >"$H_TMP/f1.out" 2>"$H_TMP/f1.err" &
f1=$!
H_PIDS+=("$f1")
"$HUSH" log --db "$DB" --follow --denied >"$H_TMP/f2.out" 2>"$H_TMP/f2.err" &
f2=$!
H_PIDS+=("$f2")
h_wait_for_line "$H_TMP/f1.out" old3 5
h_wait_for_line "$H_TMP/f2.out" old3 5
# Appended by another writer while the followers run.
(
	sleep 0.3
	printf '{"verdict":"deny","comm":"new4","daddr":"10.0.0.4","dport":4}\n' | "$DBFILL" --db "$DB" --jsonl -
	sleep 0.3
	printf '{"verdict":"allow","comm":"new5","daddr":"10.0.0.5","dport":5}\n{"verdict":"deny","comm":"new6","daddr":"10.0.0.6","dport":6}\n' |
		"$DBFILL" --db "$DB" --jsonl -
) >/dev/null 2>&1 &
H_PIDS+=("$!")
h_wait_for_line "$H_TMP/f1.out" new6 5
h_wait_for_line "$H_TMP/f2.out" new6 5
h_stop "$f1" INT
rc1=$H_STOP_RC
h_stop "$f2" TERM
rc2=$H_STOP_RC
check "follow: newest --limit rows oldest first, then new rows as they come" \
	"old2 old3 new4 new5 new6" "$(jq -r .comm "$H_TMP/f1.out" | tr '\n' ' ' | sed 's/ $//')"
check "follow: filters apply to new rows" "old1 old3 new4 new6" \
	"$(grep -Eo '(old|new)[0-9]' "$H_TMP/f2.out" | tr '\n' ' ' | sed 's/ $//')"
check "follow: SIGINT and SIGTERM end it with exit 0" "0 0" "$rc1 $rc2"
check "follow: one table header" 1 "$(grep -c '^TIME ' "$H_TMP/f2.out")"

# ---- verify ----

# fresh TAG: a new synthetic database, chain intact.
fresh() {
	DB=$H_TMP/v-$1.db
	"$DBFILL" --db "$DB" --rows 60 --seed 5 --span 7200 >/dev/null 2>&1
}

# expect_tamper NAME REGEX: verify exits 1 and prints REGEX.
expect_tamper() {
	local out rc
	out=$("$HUSH" log verify --db "$DB" "${@:3}" 2>&1)
	rc=$?
	if [ $rc = 1 ] && grep -Eq -- "$2" <<<"$out"; then
		h_pass "$1"
	else
		h_fail "$1" "rc $rc: $out"
	fi
}

fresh ok
check "verify: a fresh chain is intact" "intact, 60 rows" "$("$HUSH" log verify --db "$DB")"
check "verify: exit 0" 0 "$("$HUSH" log verify --db "$DB" >/dev/null; echo $?)"

fresh edit
sqlite3 "$DB" "UPDATE events SET dport = 9999 WHERE id = 17"
expect_tamper "verify: an edited row (dport) is named" "^row 17: edited"

fresh del
sqlite3 "$DB" "DELETE FROM events WHERE id = 23"
expect_tamper "verify: a deleted row is named" "^row 23: deleted"

fresh ins
sqlite3 "$DB" "INSERT INTO events(id, kind, ts, first_ts, count, verdict, hash) SELECT 61, 'attempt', ts + 1, ts + 1, 1, 'allow', hash FROM events WHERE id = 60"
expect_tamper "verify: a row inserted at the end is named" "^row 61: (edited or )?inserted"

fresh ins2
sqlite3 "$DB" "CREATE TEMP TABLE t AS SELECT * FROM events WHERE id >= 30;
	DELETE FROM events WHERE id >= 30;
	INSERT INTO events SELECT id + 1, kind, ts, first_ts, count, hook, verdict, rule, family, proto, daddr, dkey, dport, qname, flags, pid, tgid, uid, gid, comm, proc, cgroup, note, hash, qtype, ppid, lineage, host FROM t;
	INSERT INTO events(id, kind, ts, first_ts, count, verdict, hash) SELECT 30, 'attempt', ts, ts, 1, 'allow', hash FROM t WHERE id = 30;"
expect_tamper "verify: a row inserted in the middle is named" "^row 30: "

fresh dim
sqlite3 "$DB" "UPDATE procs SET exe = '/usr/bin/innocent' WHERE id = (SELECT proc FROM events WHERE id = 12)"
first=$(sqlite3 "$DB" "SELECT min(id) FROM events WHERE proc = (SELECT proc FROM events WHERE id = 12)")
expect_tamper "verify: an edited dimension row (exe) shows at the first row naming it" "^row $first: edited"

fresh cg
sqlite3 "$DB" "UPDATE cgroups SET container = NULL WHERE id = (SELECT cgroup FROM events WHERE id = 40)"
first=$(sqlite3 "$DB" "SELECT min(id) FROM events WHERE cgroup = (SELECT cgroup FROM events WHERE id = 40)")
expect_tamper "verify: an edited dimension row (container) is caught" "^row $first: edited"

fresh tail
head_line=$(cat "$DB.head")
sqlite3 "$DB" "DELETE FROM events WHERE id > 55"
expect_tamper "verify: a truncated tail, by the head file" "tail truncated: the chain head names row 60, the database ends at row 55"
rm -f "$DB.head"
check "verify: without the head file the truncation cannot show" 0 "$("$HUSH" log verify --db "$DB" >/dev/null; echo $?)"
expect_tamper "verify --head ID:HEX kept elsewhere" "tail truncated: the chain head names row 60" --head "${head_line/ /:}"
printf '%s\n' "$head_line" >"$H_TMP/kept.head"
expect_tamper "verify --head FILE" "tail truncated" --head "$H_TMP/kept.head"
fresh head
expect_tamper "verify --head with another hash: rows rewritten" "^row 60: does not match the chain head" \
	--head "60:$(printf '%064d' 0)"

# Every damage is listed, with the column where the log can tell it; a
# finding also goes to stderr (and syslog) and "<db>.verify" for hushd.
fresh multi
sqlite3 "$DB" "UPDATE events SET daddr = '10.9.9.9' WHERE id = 10 AND daddr IS NOT NULL;
	UPDATE events SET daddr = '10.9.9.9', dkey = NULL WHERE id = 10 AND daddr IS NULL;
	DELETE FROM events WHERE id = 20;
	UPDATE events SET count = 0 WHERE id = 30;
	UPDATE events SET dport = 4444 WHERE id = 35;
	DELETE FROM events WHERE id > 57;"
out=$("$HUSH" log verify --db "$DB" 2>"$H_TMP/multi.err")
rc=$?
check "verify: several damages: exit 1" 1 "$rc"
for want in "^row 10: edited" "^row 20: deleted" "^row 30: edited \(column count: 0 attempts\)" \
	"^row 35: edited" "^tail truncated: the chain head names row 60"; do
	if grep -Eq -- "$want" <<<"$out"; then
		h_pass "verify: every damage listed: $want"
	else
		h_fail "verify: every damage listed: $want" "$out"
	fi
done
check "verify: one line per damage, in row order" "10 20 30 35 tail" \
	"$(sed -E 's/^row ([0-9]+):.*/\1/; s/^tail truncated.*/tail/' <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
if grep -q "^hush: log: verify: TAMPER: $DB: 5 findings" "$H_TMP/multi.err"; then
	h_pass "verify: a finding also goes to stderr"
else
	h_fail "verify: a finding also goes to stderr" "$(cat "$H_TMP/multi.err")"
fi
check "verify: <db>.verify counts the findings for hushd's metrics" "5" \
	"$(awk '$1 > 0 { print $3 }' "$DB.verify")"
fresh dimfield
pid=$(sqlite3 "$DB" "SELECT proc FROM events WHERE proc IS NOT NULL GROUP BY proc ORDER BY count(*) DESC LIMIT 1")
sqlite3 "$DB" "UPDATE procs SET exe = '/usr/bin/innocent' WHERE id = $pid"
n=$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE proc = $pid")
out=$("$HUSH" log verify --db "$DB" 2>/dev/null)
if [ "$n" -ge 2 ] && grep -Eq "^procs row [0-9]+: edited: all $n rows naming it" <<<"$out"; then
	h_pass "verify: an edited process record is named as such ($n rows)"
else
	h_fail "verify: an edited process record is named as such ($n rows)" "$out"
fi
fresh dk
sqlite3 "$DB" "UPDATE events SET daddr = '10.1.2.3' WHERE id = (SELECT min(id) FROM events WHERE daddr LIKE '%.%')"
expect_tamper "verify: an edited daddr is named (it no longer matches dkey)" "edited \(column daddr or dkey: daddr 10.1.2.3 is not the address dkey holds\)"

# ---- prune ----

DB=$H_TMP/p.db
"$DBFILL" --db "$DB" --rows 400 --seed 9 --span $((4 * 86400)) >/dev/null 2>&1
old=$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE ts < $(date +%s%N) - 2 * 86400 * $S")
out=$("$HUSH" log prune --db "$DB" --older-than 2d)
rc=$?
if [ $rc = 0 ] && [[ $out == "pruned $old rows older than "* ]] && [ "$old" -gt 0 ]; then
	h_pass "prune: removes the rows older than the cutoff"
else
	h_fail "prune: removes the rows older than the cutoff" "rc $rc: $out (expected $old)"
fi
check "prune: nothing older is left" 0 "$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE ts < $(date +%s%N) - 2 * 86400 * $S - 60 * $S")"
check "prune: the chain stays intact" 0 "$("$HUSH" log verify --db "$DB" >/dev/null; echo $?)"
check "prune: a note row says what was removed" 1 "$("$HUSH" log --db "$DB" --kind note --json | jq -r .note | grep -c '^prune: removed rows 1\.\.')"
sqlite3 "$DB" "DELETE FROM events WHERE id = (SELECT min(id) FROM events)"
expect_tamper "prune: a deletion after a prune still shows" "deleted"
DB=$H_TMP/p2.db
"$DBFILL" --db "$DB" --rows 3000 --seed 9 --span 86400 >/dev/null 2>&1
out=$("$HUSH" log prune --db "$DB" --max-size 256k)
rows=$(sqlite3 "$DB" "SELECT count(*) FROM events")
if [[ $out == "pruned "*" beyond 262144 bytes" ]] && [ "$rows" -lt 3000 ] &&
	"$HUSH" log verify --db "$DB" >/dev/null; then
	h_pass "prune --max-size: fewer rows, chain intact"
else
	h_fail "prune --max-size: fewer rows, chain intact" "$out; $rows rows left"
fi

h_done
