#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The audit log database under stress: attribution and coalescing in real
# rows; SIGKILL of hushd during a storm of denied attempts (integrity, no row
# lost or duplicated, DB counts + gaps == kernel counters); a full disk and a
# read-only database (hushd keeps enforcing, says what is wrong, records the
# gap once it can write again); retention.  Real BPF, real SQLite files.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init store
h_require_hush
h_require_tools sqlite3
h_netns_up
cg=$(h_cgroup_create enforced)
H_PROBE_CG=$cg
db=$H_TMP/db/hush.db
mnt=
cleanup_mnt() {
	if [ -n "$mnt" ] && mountpoint -q "$mnt"; then
		umount -l "$mnt" 2>/dev/null
	fi
}
trap 'cleanup_mnt; h_cleanup' EXIT

policy=$(h_policy store.policy <<EOF
allow $H_INT4 tcp 8080
EOF
)

q() { sqlite3 -batch -noheader "file:$db?mode=ro" "$1" 2>&1; }

# Kernel: denied attempts counted (all hooks), from hushd's pinned counters.
kdeny() {
	h_hush status --json 2>/dev/null |
		jq '[.counters[] | .deny] | add // 0'
}
# Database: attempts recorded + attempts lost (gap rows), deny verdict.  (hushd
# runs without its DNS proxy here: storms over every port reach port 53, and
# the kernel is to deny and count those too.)
dbdeny() {
	q "SELECT coalesce(sum(count), 0) FROM events WHERE verdict = 'deny' AND kind IN ('attempt', 'gap')"
}
# wait_reconciled SECONDS: DB deny total reaches the kernel's (gaps are
# declared once the kernel counters stood still for a second).
wait_reconciled() {
	local deadline=$(($(h_now_ms) + $1 * 1000)) k d
	while :; do
		k=$(kdeny)
		d=$(dbdeny)
		[ -n "$k" ] && [ "$k" = "$d" ] && [ "$k" != 0 ] && return 0
		[ "$(h_now_ms)" -ge "$deadline" ] && {
			RECON="kernel $k, database $d"
			return 1
		}
		sleep 0.2
	done
}
check_reconciled() {
	if wait_reconciled "$2"; then
		h_pass "$1"
	else
		h_fail "$1" "$RECON; $(q "SELECT kind, verdict, sum(count), count(*) FROM events GROUP BY 1, 2" | tr '\n' ' ')"
	fi
}

# ---- 1. rows: attribution and exact coalescing ----
h_hushd_start "$policy" "$cg" --no-dns-proxy --db "$db" --quiet || h_done
h_expect_probe "denied connect" error EPERM -- connect "$H_FORB4" 443 --timeout-ms 500
pid1=$H_PROBE_PID
h_probe -- storm "$H_FORB4" 5353 --count 20000
storm_pid=$H_PROBE_PID
check_reconciled "rows: every denied attempt is in the database" 10
row=$(q "SELECT hook, verdict, proto, daddr, dport, exe, cgroup_path, rule_text, count FROM log WHERE tgid = $pid1")
if [[ "$row" == "connect4|deny|tcp|$H_FORB4|443|$NETPROBE|/hush-test.$H_ID/enforced|default deny|1" ]]; then
	h_pass "rows: a denied connect with process, cgroup and rule"
else
	h_fail "rows: a denied connect with process, cgroup and rule" "got '$row'"
fi
n=$(q "SELECT sum(count) || ' ' || count(*) || ' ' || (min(first_ts) <= max(ts)) FROM events WHERE tgid = $storm_pid AND kind = 'attempt'")
# shellcheck disable=SC2086 # three numbers, split on purpose
set -- $n
if [ "${1:-0}" = 20000 ] && [ "${2:-0}" -ge 1 ] && [ "${2:-0}" -le 200 ] && [ "${3:-0}" = 1 ]; then
	h_pass "rows: 20000 repeats coalesced into $2 rows with exact count"
else
	h_fail "rows: 20000 repeats coalesced with exact count" "sum/rows/order: $n"
fi
if [ "$(q "SELECT count(*) FROM events WHERE kind = 'note' AND note LIKE 'hushd started%'")" -ge 1 ]; then
	h_pass "rows: hushd's start is a note row in the chain"
else
	h_fail "rows: hushd's start is a note row in the chain" "$(q "SELECT note FROM events WHERE kind='note'")"
fi
mode=$(stat -c %a "$db")
if [ "$mode" = 640 ] && [ "$(stat -c %a "$(dirname "$db")")" = 750 ]; then
	h_pass "rows: database 0640 in a 0750 directory"
else
	h_fail "rows: database 0640 in a 0750 directory" "file $mode dir $(stat -c %a "$(dirname "$db")")"
fi
st=$(h_hush status --json)
if printf '%s' "$st" | jq -e --arg db "$db" '.db.path == $db and .db.readable and
	.db.rows > 0 and .db.attempts == 20001 and .db.lost == 0 and
	(.db.oldest | test("^20")) and .db.writer.ok and .db.writer.pending_rows == 0 and
	.db.writer.lag_s >= 0' >/dev/null; then
	h_pass "status: database path, rows, attempts, lost, oldest/newest, writer"
else
	h_fail "status: database path, rows, attempts, lost, oldest/newest, writer" "$(printf '%s' "$st" | jq -c .db)"
fi
if h_hush status | grep -q "^writer:      ok, lag"; then
	h_pass "status: table shows the writer"
else
	h_fail "status: table shows the writer" "$(h_hush status | tail -n 4)"
fi
# (the version this build writes, from its source)
schema=$(awk '$2 == "DB_SCHEMA_VERSION" { print $3 }' "$(dirname "$0")/../../agent/db.h")
if [ "$(q 'PRAGMA journal_mode')" = wal ] && [ "$(q 'PRAGMA user_version')" = "$schema" ]; then
	h_pass "rows: WAL mode, schema version $schema"
else
	h_fail "rows: WAL mode, schema version $schema" "$(q 'PRAGMA journal_mode') $(q 'PRAGMA user_version')"
fi

# ---- 2. SIGKILL during a storm, with a small ring buffer ----
h_stop "$H_HUSHD_PID"
h_hushd_start "$policy" "$cg" --no-dns-proxy --db "$db" --quiet --ringbuf-size 65536 || h_done
spids=()
for p in 6000 7000; do
	# shellcheck disable=SC2016 # the inner shell expands $$ and $1
	nsenter "--net=/run/netns/$H_NS_HOST" -- sh -c \
		'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' _ "$cg" \
		"$NETPROBE" storm "$H_FORB4" "$p" --count 1500000 --ports 40 \
		>"$H_TMP/storm.$p" 2>&1 &
	spids+=($!)
	H_PIDS+=($!)
done
sleep 1.5
before=$(q "SELECT max(id) || ' ' || hex(hash) FROM events WHERE id = (SELECT max(id) FROM events)")
kill -KILL "$H_HUSHD_PID"
wait "$H_HUSHD_PID" 2>/dev/null
sleep 0.5
h_hushd_start "$policy" "$cg" --no-dns-proxy --db "$db" --quiet --ringbuf-size 65536 || h_done
for p in "${spids[@]}"; do wait "$p"; done
if jq -e '.eperm == 1500000' "$H_TMP/storm.6000" "$H_TMP/storm.7000" >/dev/null; then
	h_pass "kill: the storm was denied throughout (3M EPERM)"
else
	h_fail "kill: the storm was denied throughout (3M EPERM)" "$(cat "$H_TMP"/storm.*)"
fi
check_reconciled "kill: database counts + gap rows equal the kernel counters" 20
# shellcheck disable=SC2086 # id and hash, split on purpose
set -- $before
if [ "$(q "SELECT hex(hash) FROM events WHERE id = ${1:-0}")" = "${2:-x}" ]; then
	h_pass "kill: the last row committed before SIGKILL is still there, unchanged"
else
	h_fail "kill: the last row committed before SIGKILL is still there, unchanged" "before: $before"
fi
if [ "$(q 'PRAGMA integrity_check')" = ok ]; then
	h_pass "kill: PRAGMA integrity_check ok"
else
	h_fail "kill: PRAGMA integrity_check ok" "$(q 'PRAGMA integrity_check' | head -3)"
fi
ids=$(q "SELECT count(*) = max(id) - min(id) + 1 FROM events")
if [ "$ids" = 1 ]; then
	h_pass "kill: row ids contiguous (no row lost or duplicated)"
else
	h_fail "kill: row ids contiguous (no row lost or duplicated)" "$(q 'SELECT count(*), min(id), max(id) FROM events')"
fi
gaps=$(q "SELECT coalesce(sum(count), 0) FROM events WHERE kind = 'gap'")
lost=$(h_hush status --json | jq '[.counters[] | .lost] | add')
if [ "${gaps:-0}" -gt 0 ]; then
	h_pass "kill: lost events recorded as gap rows ($gaps attempts; kernel ring-full count $lost)"
else
	h_fail "kill: lost events recorded as gap rows" "no gap rows; kernel lost $lost"
fi
if "$HUSH" log verify --db "$db" >"$H_TMP/verify.out" 2>&1; then
	h_pass "kill: hush log verify: $(cat "$H_TMP/verify.out")"
else
	h_fail "kill: hush log verify" "$(cat "$H_TMP/verify.out")"
fi
h_stop "$H_HUSHD_PID"

# ---- 2b. the writer falls behind: rows that cannot coalesce ----
# Every attempt a distinct destination: more rows than SQLite takes, so the
# writer's queue fills, the open batch stays open (and is handed over again
# and again), and past its row limit attempts are counted as gap rows.
db2=$H_TMP/behind/hush.db
h_hushd_start "$policy" "$cg" --no-dns-proxy --db "$db2" --quiet || h_done
spids=()
for p in 1 2; do
	# shellcheck disable=SC2016 # the inner shell expands $$ and $1
	nsenter "--net=/run/netns/$H_NS_HOST" -- sh -c \
		'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' _ "$cg" \
		"$NETPROBE" storm "$H_FORB4" 1 --count 2500000 --ports 60000 \
		>"$H_TMP/behind.$p" 2>&1 &
	spids+=($!)
	H_PIDS+=($!)
done
for p in "${spids[@]}"; do wait "$p"; done
db_saved=$db
db=$db2
check_reconciled "behind: with the writer behind, rows + gaps still equal the kernel counters" 90
if h_alive "$H_HUSHD_PID"; then
	h_pass "behind: hushd survived a writer that fell behind"
else
	h_fail "behind: hushd survived a writer that fell behind" "$(tail -n 3 "$H_HUSHD_ERR" | tr '\n' ' ')"
fi
n=$(q "SELECT count(*) FROM events WHERE kind = 'attempt'")
if [ "${n:-0}" -gt 100000 ]; then
	h_pass "behind: $n distinct rows written in detail"
else
	h_fail "behind: distinct rows written in detail" "only ${n:-0}"
fi
# The rollups (hush log top) follow the rows when the writer has no batch to
# write (db_rollup_catchup): while they catch up, top from them and the rows
# after them = top by the scan; then they hold every row, each dimension and
# level summing to the attempt rows.
behind() { q "SELECT (SELECT max(id) FROM events) - (SELECT value FROM meta WHERE key = 'rollup_id')"; }
top_same() {
	local a b
	a=$("$HUSH" log --db "$db" top --by "$2" --limit 0 --json 2>&1)
	b=$(HUSH_TOP_SCAN=1 "$HUSH" log --db "$db" top --by "$2" --limit 0 --json 2>&1)
	if [ -n "$a" ] && [ "$a" = "$b" ]; then
		h_pass "$1"
	else
		h_fail "$1" "rollups [$(printf %s "$a" | head -c 200)] scan [$(printf %s "$b" | head -c 200)]"
	fi
}
b0=$(behind)
st=$(h_hush status --json | jq -c '.db.writer.rollup_behind')
if [ "$st" -ge 0 ] 2>/dev/null; then
	h_pass "behind: hush status --json says how far the rollups are behind ($st rows)"
else
	h_fail "behind: hush status --json says how far the rollups are behind" "rollup_behind: $st"
fi
top_same "behind: top --by dest while $b0 rows wait for the rollups = the scan" dest
top_same "behind: top --by process while the rollups catch up = the scan" process
deadline=$(($(h_now_ms) + 300000))
while [ "$(behind)" != 0 ] && [ "$(h_now_ms)" -lt "$deadline" ]; do sleep 0.5; done
sums=$(q "SELECT count(*) FROM (SELECT dim, lvl FROM rollup GROUP BY dim, lvl
	HAVING dim < 7 AND sum(attempts) = (SELECT sum(count) FROM events WHERE kind = 'attempt')
	AND sum(rows) = (SELECT count(*) FROM events WHERE kind = 'attempt'))")
if [ "$(behind)" = 0 ] && [ "$sums" = 21 ]; then
	h_pass "behind: the rollups caught up with the $b0 rows while hushd ran; the 21 dimension-levels of top sum to the rows"
else
	h_fail "behind: the rollups caught up while hushd ran" "$(behind) rows still after them (of $b0); $sums of 21 dimension-levels sum to the rows"
fi
top_same "behind: caught up: top --by dest = the scan" dest
st=$(h_hush status --json | jq -c '.db.writer.rollup_behind')
if [ "$st" = 0 ] && h_hush status | grep -q "^writer:      ok, lag [0-9.]* s, [0-9]* rows pending$"; then
	h_pass "behind: caught up: hush status says 0 rows behind, and the table no backlog"
else
	h_fail "behind: caught up: hush status says 0 rows behind" "rollup_behind: $st; $(h_hush status | grep '^writer')"
fi
h_stop "$H_HUSHD_PID"
if "$HUSH" log verify --db "$db" >"$H_TMP/verify.out" 2>&1; then
	h_pass "behind: hush log verify: $(cat "$H_TMP/verify.out")"
else
	h_fail "behind: hush log verify" "$(cat "$H_TMP/verify.out")"
fi
db=$db_saved

# ---- 3. disk full ----
mnt=$H_TMP/small
mkdir -p "$mnt"
if mount -t tmpfs -o size=4m,mode=0750 hush-test "$mnt"; then
	db=$mnt/hush.db
	h_hushd_start "$policy" "$cg" --no-dns-proxy --db "$db" --quiet || h_done
	h_probe -- storm "$H_FORB4" 100 --count 200 --ports 200
	check_reconciled "full: rows written before the disk fills" 10
	dd if=/dev/zero of="$mnt/filler" bs=64k >/dev/null 2>&1
	# Distinct destinations: rows that cannot coalesce and must hit the disk.
	h_probe -- storm "$H_FORB4" 1000 --count 30000 --ports 30000
	sleep 1.5
	h_expect_probe "full: hushd still denies" error EPERM -- connect "$H_FORB4" 443 --timeout-ms 500
	if h_alive "$H_HUSHD_PID" && grep -q "disk is full" "$H_HUSHD_ERR"; then
		h_pass "full: hushd runs on and says the disk is full"
	else
		h_fail "full: hushd runs on and says the disk is full" "$(tail -n 3 "$H_HUSHD_ERR" | tr '\n' ' ')"
	fi
	rm -f "$mnt/filler"
	h_probe -- storm "$H_FORB4" 100 --count 10
	check_reconciled "full: after space returns, counts + gap equal the kernel counters" 15
	if [ "$(q "SELECT count(*) FROM events WHERE kind = 'gap' AND note LIKE 'not written:%full%'")" -ge 1 ]; then
		h_pass "full: a gap row says what could not be written, and why"
	else
		h_fail "full: a gap row says what could not be written, and why" "$(q "SELECT kind, count, note FROM events WHERE kind != 'attempt'" | tail -n 5)"
	fi
	if grep -q "writable again" "$H_HUSHD_ERR"; then
		h_pass "full: hushd says when writing works again"
	else
		h_fail "full: hushd says when writing works again" "$(tail -n 3 "$H_HUSHD_ERR" | tr '\n' ' ')"
	fi
	h_stop "$H_HUSHD_PID"

	# ---- 4. read-only database (hushd holds no CAP_DAC_OVERRIDE) ----
	chmod 0440 "$db" "$db-wal" "$db-shm" 2>/dev/null
	h_hushd_start "$policy" "$cg" --no-dns-proxy --db "$db" --quiet || h_done
	h_expect_probe "read-only: hushd still denies" error EPERM -- connect "$H_FORB4" 443 --timeout-ms 500
	h_probe -- storm "$H_FORB4" 200 --count 500 --ports 5
	sleep 1.5
	if h_alive "$H_HUSHD_PID" && grep -q "read-only\|readonly" "$H_HUSHD_ERR"; then
		h_pass "read-only: hushd runs on and says the database is read-only"
	else
		h_fail "read-only: hushd runs on and says the database is read-only" "$(tail -n 3 "$H_HUSHD_ERR" | tr '\n' ' ')"
	fi
	chmod 0640 "$db" "$db-wal" "$db-shm" 2>/dev/null
	check_reconciled "read-only: once writable, counts + gap equal the kernel counters" 15
	h_stop "$H_HUSHD_PID"
	if "$HUSH" log verify --db "$db" >"$H_TMP/verify.out" 2>&1; then
		h_pass "full/read-only: hush log verify: $(cat "$H_TMP/verify.out")"
	else
		h_fail "full/read-only: hush log verify" "$(cat "$H_TMP/verify.out")"
	fi
	cleanup_mnt
else
	h_fail "full: setup" "cannot mount a tmpfs on $mnt"
fi

# ---- 5. retention by size ----
db=$H_TMP/ret/hush.db
h_hushd_start "$policy" "$cg" --no-dns-proxy --db "$db" --quiet --max-db-size 1M || h_done
h_probe -- storm "$H_FORB4" 1 --count 60000 --ports 60000
deadline=$(($(h_now_ms) + 90000))
until [ "$(q "SELECT count(*) FROM events WHERE kind = 'note' AND note LIKE 'prune:%'")" -ge 1 ]; do
	[ "$(h_now_ms)" -ge "$deadline" ] && break
	sleep 0.5
done
if [ "$(q "SELECT count(*) FROM events WHERE kind = 'note' AND note LIKE 'prune:%'")" -ge 1 ] &&
	[ "$(q "SELECT min(id) > 1 FROM events")" = 1 ]; then
	h_pass "retention: --max-db-size prunes the oldest rows and says so in the chain"
else
	h_fail "retention: --max-db-size prunes the oldest rows" "$(q 'SELECT count(*), min(id), max(id) FROM events')"
fi
h_stop "$H_HUSHD_PID"
if "$HUSH" log verify --db "$db" >"$H_TMP/verify.out" 2>&1; then
	h_pass "retention: chain intact after pruning: $(cat "$H_TMP/verify.out")"
else
	h_fail "retention: chain intact after pruning" "$(cat "$H_TMP/verify.out")"
fi

# ---- 6. a tail truncated while hushd was down stays visible ----
last=$(q "SELECT max(id) FROM events")
sqlite3 "$db" "DELETE FROM events WHERE id > $last - 2"
h_hushd_start "$policy" "$cg" --no-dns-proxy --db "$db" --quiet || h_done
h_probe -- storm "$H_FORB4" 9 --count 5
# Pruned and deleted rows took their counts along: compare the running totals.
deadline=$(($(h_now_ms) + 10000))
until [ "$(q "SELECT sum(value) FROM meta WHERE key IN ('attempts', 'lost')")" = "$(kdeny)" ]; do
	[ "$(h_now_ms)" -ge "$deadline" ] && break
	sleep 0.2
done
if [ "$(q "SELECT sum(value) FROM meta WHERE key IN ('attempts', 'lost')")" = "$(kdeny)" ]; then
	h_pass "truncated: hushd goes on recording; running totals equal the kernel counters"
else
	h_fail "truncated: hushd goes on recording" "totals $(q "SELECT sum(value) FROM meta WHERE key IN ('attempts', 'lost')"), kernel $(kdeny)"
fi
h_stop "$H_HUSHD_PID"
if ! "$HUSH" log verify --db "$db" >"$H_TMP/verify.out" 2>&1 &&
	grep -q "rows $((last - 1))..$last deleted" "$H_TMP/verify.out"; then
	h_pass "truncated: hushd appended after a truncated tail, verify still names it: $(cat "$H_TMP/verify.out")"
else
	h_fail "truncated: verify names the rows deleted while hushd was down" "$(cat "$H_TMP/verify.out")"
fi
h_done
