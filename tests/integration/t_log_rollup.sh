#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# hush log top from the rollups and the filters that use them, end to end:
# on a log written through db_append() by tests/tools/dbfill (3 days of
# rows), `hush log top --by KIND` for every kind over several windows (the
# whole log, minute-aligned and not, across days, with a verdict) prints
# exactly what the scan of the rows prints (HUSH_TOP_SCAN=1); so do the
# --comm/--uid filters; after `hush log prune` too; the rollup table the
# writer keeps is the one the migration builds from the same rows, column for
# column; the query plan reads the rollup table; and a version-6 database
# gets its rollups when opened.
#
# Needs no network namespace, cgroup or root: a temp dir, hush, dbfill, sqlite3.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

DBFILL=$OUTPUT/tests/dbfill
H_NAME=log_rollup
H_ID=log_rollup-$$
H_PIDS=()
H_TMP=$(mktemp -d "/tmp/hush-test.log_rollup.XXXXXX") || {
	echo "FAIL: log_rollup: setup: mktemp failed"
	exit 1
}
trap h_cleanup EXIT
trap 'h_cleanup; exit 130' INT
trap 'h_cleanup; exit 143' TERM
h_require_tools sqlite3
[ -x "$HUSH" ] || h_skip_or_fail "$H_NAME" "$HUSH not built (make)"
[ -x "$DBFILL" ] || h_skip_or_fail "$H_NAME" "$DBFILL not built (make)"

DB=$H_TMP/r.db
"$DBFILL" --db "$DB" --rows 20000 --seed 11 --span 259200 --batch 500 >/dev/null 2>&1 ||
	h_fail "setup" "dbfill failed"
end=$(sqlite3 "$DB" "SELECT max(ts) / 1000000000 FROM events")

# same NAME ARGS...: top (or rows) from the rollups = by the scan.
same() {
	local name=$1 a b
	shift
	a=$("$HUSH" log --db "$DB" "$@" --json 2>&1)
	b=$(HUSH_TOP_SCAN=1 "$HUSH" log --db "$DB" "$@" --json 2>&1)
	if [ -n "$a" ] && [ "$a" = "$b" ]; then
		h_pass "$name ($*)"
	else
		h_fail "$name ($*)" "rollups [$(printf %s "$a" | head -c 300)] scan [$(printf %s "$b" | head -c 300)]"
	fi
}

windows() {
	local k
	for k in dest dns process exe cmdline comm uid rule container image unit; do
		same "top = scan" top --by "$k" --limit 0
		same "top = scan, last 30 h" top --by "$k" --since "@$((end - 108000)).5" --limit 0
		same "top = scan, a window off the minutes" top --by "$k" --since "@$((end - 200000)).123" \
			--until "@$((end - 50017)).987654321" --limit 0
		same "top = scan, minute-aligned, denied" top --by "$k" --denied --since "@$((end / 60 * 60 - 86400))" \
			--until "@$((end / 60 * 60 - 3600 - 1)).999999999" --limit 0
	done
}
# built NAME: the rollup table as the writer keeps it (summed in memory per
# transaction) = the one the migration builds by SQL from the same rows, on a
# copy whose rollups are dropped: every column of every row.
built() {
	local c=$H_TMP/copy.db a b n
	rm -f "$c" "$c-wal" "$c-shm" "$c.head"
	if ! { sqlite3 "$DB" ".backup '$c'" &&
		sqlite3 "$c" "DROP TABLE rollup; PRAGMA user_version = 6" &&
		"$DBFILL" --db "$c" --rows 0 >"$H_TMP/built.out" 2>&1; }; then
		h_fail "$1" "copy and migrate: $(head -c 300 "$H_TMP/built.out")"
		return
	fi
	a=$(sqlite3 "$DB" "ATTACH '$c' AS b; SELECT count(*) FROM (SELECT * FROM main.rollup EXCEPT SELECT * FROM b.rollup)")
	b=$(sqlite3 "$DB" "ATTACH '$c' AS b; SELECT count(*) FROM (SELECT * FROM b.rollup EXCEPT SELECT * FROM main.rollup)")
	n=$(sqlite3 "$DB" "SELECT count(*) FROM rollup")
	if [ "$a" = 0 ] && [ "$b" = 0 ] && [ "${n:-0}" -gt 1000 ]; then
		h_pass "$1 ($n rollup rows)"
	else
		h_fail "$1" "$n rollup rows, $a not as SQL builds them, $b built rows missing"
	fi
}
built "the writer's rollups = those SQL builds from the rows"
windows
comm=$(sqlite3 "$DB" "SELECT comm FROM events WHERE comm IS NOT NULL ORDER BY id LIMIT 1")
uid=$(sqlite3 "$DB" "SELECT uid FROM events WHERE uid IS NOT NULL ORDER BY id LIMIT 1")
same "--comm = walk" --comm "$comm" --limit 37
same "--uid = walk" --uid "$uid" --limit 100

plan=$("$HUSH" -v log --db "$DB" top --by dest --since 2d 2>&1 >/dev/null | grep -c 'FROM rollup')
if [ "$plan" -ge 1 ]; then
	h_pass "top reads the rollup table (hush -v)"
else
	h_fail "top reads the rollup table (hush -v)" "no rollup query in: $("$HUSH" -v log --db "$DB" top --by dest --since 2d 2>&1 >/dev/null | head -c 400)"
fi

"$HUSH" log --db "$DB" prune --older-than "$(((($(date +%s) - end) + 100000) / 3600))h" >/dev/null 2>&1 ||
	h_fail "prune" "hush log prune failed"
left=$(sqlite3 "$DB" "SELECT count(*) FROM events")
if [ "$left" -gt 1000 ] && [ "$left" -lt 20000 ]; then
	h_pass "prune removed part of the log ($left rows left)"
else
	h_fail "prune removed part of the log" "$left rows left"
fi
built "after prune: the rollups = those SQL builds from the rows"
for k in dest process container uid; do
	same "after prune: top = scan" top --by "$k" --limit 0
	same "after prune: top = scan, last 30 h" top --by "$k" --since "@$((end - 108000)).5" --limit 0
done

# A version-6 database (no rollups) gets them when opened read-write (here
# by dbfill appending one more row).
sqlite3 "$DB" "DROP TABLE rollup; PRAGMA user_version = 6"
"$DBFILL" --db "$DB" --rows 1 --seed 3 --span 60 >"$H_TMP/mig.out" 2>&1
v=$(sqlite3 "$DB" "PRAGMA user_version")
if [ "$v" -ge 7 ]; then
	h_pass "a version-6 database is migrated ($v)"
else
	h_fail "a version-6 database is migrated" "user_version $v: $(head -c 300 "$H_TMP/mig.out")"
fi
same "migrated: top = scan" top --by dest --limit 0
same "migrated: top = scan, last 30 h" top --by comm --since "@$((end - 108000)).5" --limit 0
h_done
