#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Shipping the log, the README's fleet example for real: hushd enforces a
# test cgroup in the host namespace; the ExecStart line of
# packaging/fleet/hush-ship.service (`hush log --follow --format syslog
# --cursor FILE`) appends RFC 5424 lines to a file; a "host" rsyslogd with
# packaging/fleet/rsyslog-host.conf (imfile, omfwd TCP) forwards them over
# the veth to a "central" rsyslogd in the int namespace with
# packaging/fleet/rsyslog-central.conf (imtcp, a file per host).  Nothing
# leaves the test namespaces.
#
# Across a SIGTERM restart of the shipper (rows made while it is down), a
# prune and a hushd restart while it runs, a rotation of the file, every row arrives at the central
# log exactly once, byte for byte what `hush log --format syslog` prints
# (every field, escapes intact).  Also: NDJSON --cursor/--after-id, a bad
# cursor, a replaced database, octet-counted framing, SIGPIPE, the schema
# document against the columns, usage errors.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init ship
h_require_hush
h_require_tools rsyslogd grep sed sort comm
h_netns_up
cg=$(h_cgroup_create app)
H_PROBE_CG=$cg
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FLEET=$ROOT/packaging/fleet
PORT=10514

# check NAME WANT GOT
check() {
	if [ "$2" = "$3" ]; then
		h_pass "$1"
	else
		h_fail "$1" "want [$2] got [$3]"
	fi
}

# ---- the schema document names every field, and only those ----

# shellcheck disable=SC2016 # the backquotes are markdown's, not a shell's
schema=$(sed -n 's/^| `\([a-z0-9_]*\)` .*/\1/p' "$ROOT/doc/log-schema.md" | sort)

policy=$(h_policy ship.policy <<EOF
allow $H_INT4 tcp 8080
EOF
)
h_listen "$H_NS_INT" tcp :: 8080
h_hushd_start "$policy" "$cg" --log-allowed || h_done
DB=$H_RUN_DIR/hush.db

fields=$("$HUSH" log --db "$DB" --csv --limit 1 | head -n 1 | tr -d '\r' | tr ',' '\n' | sort)
check "schema: doc/log-schema.md describes every field of the JSON/CSV/syslog rows" \
	"$fields" "$schema"
bad=$(grep -Ev '^[a-z0-9_]{1,32}$' <<<"$fields")
check "schema: every field name is a valid RFC 5424 PARAM-NAME" "" "$bad"

# ---- the central rsyslogd (int namespace) and the host's (host namespace) ----

mkdir -p "$H_TMP/cw" "$H_TMP/hw" "$H_TMP/central"
sed -e "s|port=\"514\"|port=\"$PORT\"|" -e "s|/var/log/hush-fleet|$H_TMP/central|" \
	"$FLEET/rsyslog-central.conf" >"$H_TMP/central.d.conf"
cat >"$H_TMP/central.conf" <<EOF
global(workDirectory="$H_TMP/cw" maxMessageSize="64k")
include(file="$H_TMP/central.d.conf")
EOF
sed -e "s|logs.example.org|$H_INT4|" -e "s|port=\"514\"|port=\"$PORT\"|" \
	-e "s|/var/log/hush-ship/ship.log|$H_TMP/ship.log|" \
	"$FLEET/rsyslog-host.conf" >"$H_TMP/host.d.conf"
cat >"$H_TMP/host.conf" <<EOF
global(workDirectory="$H_TMP/hw" maxMessageSize="64k")
include(file="$H_TMP/host.d.conf")
EOF
for c in central host; do
	if rsyslogd -N1 -f "$H_TMP/$c.conf" >"$H_TMP/$c.check" 2>&1; then
		h_pass "rsyslog: the $c config is valid"
	else
		h_fail "rsyslog: the $c config is valid" "$(tail -n 3 "$H_TMP/$c.check")"
	fi
done
h_bg --ns "$H_NS_INT" --err "$H_TMP/central.err" -- \
	rsyslogd -n -f "$H_TMP/central.conf" -i "$H_TMP/central.pid"
CENTRAL_PID=$H_LAST_PID
for _ in $(seq 1 100); do
	h_ns "$H_NS_INT" grep -q ":$(printf '%04X' $PORT) 00000000:0000 0A" /proc/net/tcp 2>/dev/null &&
		break
	sleep 0.05
done
: >"$H_TMP/ship.log"
h_bg --err "$H_TMP/host.err" -- rsyslogd -n -f "$H_TMP/host.conf" -i "$H_TMP/host.pid"

# ---- the shipper: the unit's ExecStart, paths moved into the test ----

exec_line=$(sed -n "s/^ExecStart=.*'exec \(.*\) >>[^']*'\$/\1/p" "$FLEET/hush-ship.service")
read -r -a SHIP <<<"${exec_line/\/var\/lib\/hush-ship\/cursor/$H_TMP/ship.cursor}"
SHIP[0]=$HUSH
SHIP+=(--db "$DB")
out_file=$(sed -n "s/^ExecStart=.*'exec .* >>\([^']*\)'\$/\1/p" "$FLEET/hush-ship.service")
check "the unit appends to the file the host config reads" \
	"/var/log/hush-ship/ship.log" "$out_file"
ship_start() {
	# shellcheck disable=SC2016 # expanded by the inner sh
	h_bg --err "$H_TMP/ship.err" -- sh -c 'f=$1; shift; exec "$@" >>"$f"' _ \
		"$H_TMP/ship.log" "${SHIP[@]}"
	SHIP_PID=$H_LAST_PID
}

# attempts TAG N: N denied and N allowed connects from the enforced cgroup,
# then wait until hushd committed their rows (and whatever came with them).
attempts() {
	local i before
	before=$(max_id)
	for i in $(seq 1 "$2"); do
		h_cgroup_run "$cg" "$NETPROBE" connect "$H_FORB4" 8080 --send "$1-$i" >/dev/null 2>&1
		h_cgroup_run "$cg" "$NETPROBE" connect "$H_INT4" 8080 --send "$1-$i" >/dev/null 2>&1
	done
	wait_rows $((${before:-0} + 2 * $2)) || h_fail "attempts $1: rows logged" "max id $(max_id)"
	settle
}

# settle: the newest id stays the same for 0.6 s (the writer's batches are in).
settle() {
	local a b
	a=$(max_id)
	for _ in $(seq 1 30); do
		sleep 0.3
		b=$(max_id)
		[ "$a" = "$b" ] && sleep 0.3 && [ "$(max_id)" = "$b" ] && return 0
		a=$b
	done
}

# central_file: the central log of this host (one file per HOSTNAME).
central_ids() {
	cat "$H_TMP"/central/*.log 2>/dev/null | grep -o ' \[hush@32473 id="[0-9]*"' |
		grep -o '[0-9]*"$' | tr -d '"'
}
max_id() {
	sqlite3 "file:$DB?mode=ro" 'SELECT max(id) FROM events' 2>/dev/null
}

# wait_shipped NAME: the central log reaches the newest row id of the log.
wait_shipped() {
	local want got=0
	want=$(max_id)
	for _ in $(seq 1 150); do
		got=$(central_ids | sort -n | tail -n 1)
		[ "${got:-0}" -ge "$want" ] && break
		sleep 0.1
	done
	check "$1: rows up to id $want reach the central log" "$want" "${got:-0}"
}

# wait_rows N: hushd has committed at least N rows.
wait_rows() {
	for _ in $(seq 1 100); do
		[ "$(max_id)" -ge "$1" ] 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# A process whose command line and name need every escape: " \ ] and a
# newline in an argument, a " and ] in the command name.
weird=$H_TMP/'n"e]t\p'
ln -s "$NETPROBE" "$weird"
# shellcheck disable=SC2016 # expanded by the inner bash
h_cgroup_run "$cg" bash -c 'exec -a "$0" "$@"' 'a"b]c\d' "$weird" connect "$H_FORB4" 8080 \
	--send $'x\ny' >/dev/null 2>&1
attempts a 3
wjson=$("$HUSH" log --db "$DB" --json --comm 'n"e]t\p' --limit 1)

ship_start
wait_shipped "first start"

h_stop "$SHIP_PID" TERM
check "shipper: SIGTERM ends it with exit 0" 0 "$H_STOP_RC"
check "shipper: the cursor holds the last row written" "$(max_id)" "$(cat "$H_TMP/ship.cursor")"
attempts b 3 # while the shipper is down
ship_start
attempts c 2
wait_shipped "restarted shipper (rows made while it was down, and after)"

# A prune while the shipper runs (keeps the newest row: ids go on).
"$HUSH" log --db "$DB" prune --older-than 0s >"$H_TMP/prune.out" 2>&1 ||
	h_fail "prune" "$(cat "$H_TMP/prune.out")"
attempts d 2
wait_shipped "after a prune"

# hushd restarts while the shipper runs (same database).
h_stop "$H_HUSHD_PID" TERM
h_hushd_start "$policy" "$cg" --log-allowed || h_done
attempts e 2
wait_shipped "after a hushd restart"

# Rotation as packaging/fleet/hush-ship.logrotate does it: the file moved
# aside, the shipper restarted (a new file; the cursor goes on); rsyslog's
# imfile finishes the old file and follows the new one.
mv "$H_TMP/ship.log" "$H_TMP/ship.log.1"
h_stop "$SHIP_PID" TERM
attempts g 1
ship_start
attempts h 1
wait_shipped "after a rotation (move, restart)"

h_stop "$SHIP_PID" TERM
sleep 1 # rsyslog's queues drain (the central log already holds the ids)

# ---- exactly once, every field ----

dups=$(central_ids | sort -n | uniq -d | tr '\n' ' ')
check "central: no row twice" "" "$dups"
n=$(central_ids | sort -n | uniq | wc -l)
check "central: every id from 1 to the newest, once (pruned rows were shipped first)" \
	"$(max_id)" "$n"
check "central: ids contiguous" "$(seq 1 "$(max_id)" | tr '\n' ' ')" \
	"$(central_ids | sort -n | tr '\n' ' ')"
"$HUSH" log --db "$DB" --format syslog --after-id 0 | sort >"$H_TMP/local.sorted"
cat "$H_TMP"/central/*.log | sort >"$H_TMP/central.sorted"
missing=$(comm -23 "$H_TMP/local.sorted" "$H_TMP/central.sorted" | head -n 3)
check "central: each row still in the log arrived byte for byte as hush prints it" "" "$missing"
check "central: one file, named after this host" "$(hostname).log" \
	"$(cd "$H_TMP/central" && ls)"

# The escapes: the row of the odd process, decoded, equals its JSON.
sdval() { # sdval PARAM LINE: the PARAM-VALUE, escapes undone
	grep -oP " $1=\"\\K(\\\\.|[^\"\\\\])*" <<<"$2" | head -n 1 | sed -E 's/\\([]"\\])/\1/g'
}
wline=$(grep -F 'comm="n\"e\]t\\p"' "$H_TMP/central.sorted" | head -n 1)
check "escapes: cmdline (\" \\ ] and a newline) decodes to the JSON's" \
	"$(jq -c .cmdline <<<"$wjson")" "$(sdval cmdline "$wline" | jq -c .)"
check "escapes: comm decodes to the JSON's" "$(jq -r .comm <<<"$wjson")" "$(sdval comm "$wline")"
check "header: PRI authpriv.warning, APP-NAME hush, PROCID the pid, MSGID deny" \
	"<84>1 hush $(jq .tgid <<<"$wjson") deny" "$(awk '{ print $1, $4, $5, $6 }' <<<"$wline")"
aline=$(grep -m1 ' allow \[hush@32473' "$H_TMP/central.sorted")
check "header: an allowed row is authpriv.info" "<86>1" "${aline%% *}"

# ---- NDJSON streams ----

all=$("$HUSH" log --db "$DB" --json --after-id 0 | jq -r .id | tr '\n' ' ')
check "--after-id 0: every row, oldest first" "$(sqlite3 "$DB" 'SELECT id FROM events ORDER BY id' | tr '\n' ' ')" "$all"
k=$(max_id)
"$HUSH" log --db "$DB" --json --cursor "$H_TMP/j.cursor" >"$H_TMP/j1.out"
check "--cursor without a file: from the first row, cursor at the newest" "$k" "$(cat "$H_TMP/j.cursor")"
attempts f 1
wait_rows $((k + 2))
"$HUSH" log --db "$DB" --json --cursor "$H_TMP/j.cursor" >"$H_TMP/j2.out"
check "--cursor again: only the rows after it" "$((k + 1)) $((k + 2))" \
	"$(jq -r .id "$H_TMP/j2.out" | head -n 2 | tr '\n' ' ' | sed 's/ $//')"
check "--cursor: exact integers (ts_ns as written)" \
	"$(sqlite3 "$DB" "SELECT ts FROM events WHERE id = $((k + 1))")" \
	"$(grep -Eo '"ts_ns":"?[0-9]+' "$H_TMP/j2.out" | head -n 1 | cut -d: -f2 | tr -d '"')"
"$HUSH" log --db "$DB" --json --denied --after-id "$k" >"$H_TMP/j3.out"
check "--after-id with a filter" "deny" "$(jq -r .verdict "$H_TMP/j3.out" | sort -u | tr '\n' ' ' | sed 's/ $//')"

# SIGTERM while a write is blocked on a slow reader: the row being written
# goes out whole, the cursor holds it, the next run starts after it.
"$OUTPUT/tests/dbfill" --db "$H_TMP/big.db" --rows 3000 >/dev/null 2>&1
mkfifo "$H_TMP/big.fifo"
{
	sleep 1
	cat >"$H_TMP/big.1"
} <"$H_TMP/big.fifo" &
rdr=$!
"$HUSH" log --db "$H_TMP/big.db" --json --cursor "$H_TMP/big.cursor" >"$H_TMP/big.fifo" &
bpid=$!
H_PIDS+=("$rdr" "$bpid")
sleep 0.4
kill -TERM "$bpid"
wait "$bpid"
brc=$?
wait "$rdr"
bcur=$(cat "$H_TMP/big.cursor")
bn=$(jq -r .id "$H_TMP/big.1" 2>/dev/null | wc -l)
check "SIGTERM mid-write: exit 0, stopped early, every line whole, the cursor at the last" \
	"0 yes $bn $bcur" "$brc $([ "$bn" -lt 3000 ] && echo yes) $(wc -l <"$H_TMP/big.1") $(tail -n 1 "$H_TMP/big.1" | jq .id)"
"$HUSH" log --db "$H_TMP/big.db" --json --cursor "$H_TMP/big.cursor" >"$H_TMP/big.2"
check "SIGTERM mid-write: the next run hands the rest, every row once" \
	"3000 3000" "$(cat "$H_TMP/big.1" "$H_TMP/big.2" | jq .id | sort -un | wc -l) $(cat "$H_TMP/big.1" "$H_TMP/big.2" | wc -l)"

echo "12x" >"$H_TMP/bad.cursor"
"$HUSH" log --db "$DB" --json --cursor "$H_TMP/bad.cursor" >"$H_TMP/bad.out" 2>"$H_TMP/bad.err"
rc=$?
check "a bad cursor: exit 1, nothing printed, the file unchanged, a message" \
	"1 0 12x 1" "$rc $(wc -c <"$H_TMP/bad.out") $(cat "$H_TMP/bad.cursor") $(grep -c 'not a row id' "$H_TMP/bad.err")"

# --follow --json: one line per row as it comes; SIGPIPE ends it quietly.
timeout 10 "$HUSH" log --db "$DB" --follow --json --after-id 0 2>"$H_TMP/pipe.err" | head -n 1 >/dev/null
check "--follow | head -n 1: exit 0 at once, nothing on stderr" "0 0" \
	"${PIPESTATUS[0]} $(wc -c <"$H_TMP/pipe.err")"

# A database replaced under a follower: reopened, read from its first row.
cp "$DB" "$H_TMP/r.db"
"$HUSH" log --db "$H_TMP/r.db" --follow --json --cursor "$H_TMP/r.cursor" \
	>"$H_TMP/r.out" 2>"$H_TMP/r.err" &
rpid=$!
H_PIDS+=("$rpid")
for _ in $(seq 1 50); do
	[ -s "$H_TMP/r.cursor" ] && break
	sleep 0.1
done
"$OUTPUT/tests/dbfill" --db "$H_TMP/r2.db" --rows 3 >/dev/null 2>&1
rm -f "$H_TMP/r2.db-wal" "$H_TMP/r2.db-shm" "$H_TMP/r.db-wal" "$H_TMP/r.db-shm"
mv "$H_TMP/r2.db" "$H_TMP/r.db"
for _ in $(seq 1 50); do
	[ "$(cat "$H_TMP/r.cursor")" = 3 ] && break
	sleep 0.1
done
h_stop "$rpid" TERM
check "replaced database: followed from its first row, cursor 3, a warning" "3 1" \
	"$(cat "$H_TMP/r.cursor") $(grep -c 'was replaced' "$H_TMP/r.err")"

# A group reader that had to open the log without -wal/-shm (immutable: no
# new rows visible) reopens it once the writer has put them back.
if command -v setpriv >/dev/null; then
	G=4243
	GD=$H_TMP/gf
	mkdir -p "$GD/d" && chmod 755 "$H_TMP" "$GD"
	install -m 0755 "$HUSH" "$GD/hush"
	GDB=$GD/d/h.db
	"$OUTPUT/tests/dbfill" --db "$GDB" --rows 5 --seed 3 >/dev/null 2>&1
	chgrp -R "$G" "$GD/d" && chmod 750 "$GD/d" && chmod 640 "$GDB"
	sqlite3 "$GDB" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
	rm -f "$GDB-wal" "$GDB-shm"
	setpriv --reuid=65534 --regid=65534 --groups="$G" "$GD/hush" log --db "$GDB" --follow \
		--json --after-id 0 >"$GD/f.out" 2>"$GD/f.err" &
	fpid=$!
	H_PIDS+=("$fpid")
	for _ in $(seq 1 50); do
		[ "$(wc -l <"$GD/f.out")" -ge 5 ] && break
		sleep 0.1
	done
	"$OUTPUT/tests/dbfill" --db "$GDB" --rows 3 --seed 4 >/dev/null 2>&1
	for _ in $(seq 1 50); do
		[ "$(wc -l <"$GD/f.out")" -ge 8 ] && break
		sleep 0.1
	done
	h_stop "$fpid" TERM
	check "group reader without -shm: follows the rows written once the writer restored it" \
		"8 1..8" "$(wc -l <"$GD/f.out") $(jq -s -r '"\(.[0].id)..\(.[-1].id)"' "$GD/f.out")"
	chmod 700 "$H_TMP"
fi

# ---- framing, usage ----

first=$("$HUSH" log --db "$DB" --format syslog --after-id 0 | head -n 1)
oc=$("$HUSH" log --db "$DB" --format syslog --framing octet-counted --after-id 0 | head -c 8000)
len=${oc%% *}
check "octet-counted: LEN SP MSG, MSG the line without its newline" \
	"${#first} $first" "$len ${oc:${#len}+1:$len}"
fac=$("$HUSH" log --db "$DB" --format syslog --facility local3 --sd-id ex@1.2 --denied --limit 1)
check "--facility local3 --sd-id" "<156>1 [ex@1.2" "$(awk '{ print $1, $7 }' <<<"$fac")"

usage() { # usage NAME REGEX ARGS...
	local name=$1 re=$2
	shift 2
	"$HUSH" log --db "$DB" "$@" >/dev/null 2>"$H_TMP/u.err"
	check "$name" "2 1" "$? $(grep -Ec -- "$re" "$H_TMP/u.err")"
}
usage "usage: --facility needs syslog" "needs --format syslog" --facility local0
usage "usage: unknown facility" "--facility nope" --format syslog --facility nope
usage "usage: bad SD-ID" "--sd-id" --format syslog --sd-id 'x y@1'
usage "usage: --limit with --cursor" "drop --limit" --cursor "$H_TMP/c" --limit 5
usage "usage: --cursor and --after-id" "exclude each other" --cursor "$H_TMP/c" --after-id 1
usage "usage: top has no syslog" "top prints groups" top --by dest --format syslog
usage "usage: --format" "use table, json, csv or syslog" --format xml

: "$CENTRAL_PID"
h_done
