#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The audit log under a storm of denied attempts (issue 3), run by
# tests/bench/run.sh (BENCH=store).  Prints a Markdown section on stdout;
# progress and the harness's lines go to stderr.
#
# What runs: hushd (--db FILE --quiet, default 4 MiB ring buffer unless a
# case says otherwise) enforcing a policy on a cgroup made here, and
# `stormer send` (tests/bench/stormer.c) in that cgroup sending UDP
# datagrams to a forbidden address: every one is judged by the sendmsg4
# hook, denied (EPERM) and becomes an event.  `stormer counters` samples
# hush's kernel counters and the database's max(id) every second.
#   - the storm: STORM_PROCS processes flat out to one port (repeats
#     coalesce) for STORM_SECONDS; attempts/s, rows, detail vs gap rows, and
#     database attempts + gap attempts == the kernel's deny counter;
#   - calibration: 1, 2, 4, 8 processes flat out;
#   - loss onset: the offered rate paced in steps (STORM_RAMP) against the
#     default ring buffer; the kernel's lost counter per step; then the same
#     with one process and with a 16 MiB ring (what the onset depends on);
#   - attempts that do not coalesce (--ports 60000): flat out, then paced
#     (STORM_NC_RATES): the row rate SQLite sustains and where detail turns
#     into gap rows.
#
# Safety, by construction (tests/lib/harness.sh): the processes run in the
# harness's private host namespace, whose only links are veth pairs to two
# other private namespaces, with no default route (checked below); the
# forbidden address 198.18.2.2 is one of those namespaces, and hush refuses
# every datagram before it is routed (checked: a case in which any datagram
# was sent stops the benchmark).  hush is attached only to the cgroup made
# here (HUSH_FORBID_ROOT=1); pins, cgroups, namespaces and processes go in
# the harness's cleanup.
#
# Knobs: STORM_SECONDS (60), STORM_PROCS (4), STORM_STEP_SECONDS (6),
# STORM_RAMP ("200000 300000 400000 500000 600000 800000 1000000 1200000 0",
# attempts/s, 0 = flat out), STORM_NC_SECONDS (20), STORM_NC_RATES ("60000
# 120000 180000 240000"), STORM_NC_STEP_SECONDS (15), STORM_DIAG (1: the
# one-process and 16 MiB ramps), STORM_CALIB (1), STORM_HUSHD (the hushd to
# measure, default $OUTPUT/hushd: e.g. a build with a candidate fix).
set -u
exec 3>&1 1>&2
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
STORMER=$OUTPUT/bench/stormer
S_MAIN=${STORM_SECONDS:-60}
PROCS=${STORM_PROCS:-4}
STEP=${STORM_STEP_SECONDS:-6}
RAMP=${STORM_RAMP:-200000 300000 400000 500000 600000 800000 1000000 1200000 0}
NC_S=${STORM_NC_SECONDS:-20}
NC_RATES=${STORM_NC_RATES:-60000 120000 180000 240000}
NC_STEP=${STORM_NC_STEP_SECONDS:-15}
DIAG=${STORM_DIAG:-1}
CALIB=${STORM_CALIB:-1}
PORT=5000    # coalescing storms: one port
NC_PORT=2000 # non-coalescing: 2000 .. 61999

md() { printf '%s\n' "$*" >&3; }
note() { echo "# store: $*" >&2; }
die() {
	echo "store.sh: $*" >&2
	md "### Storm of denied attempts into SQLite"
	md ""
	md "**Not run**: $*"
	exit 1
}

[ -n "${STORM_HUSHD:-}" ] && HUSHD=$STORM_HUSHD
h_init bench-store
h_require_hush
h_require_tools sqlite3 jq
[ -x "$STORMER" ] || die "$STORMER not built (make $STORMER)"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t_begin=$(date +%s)
h_netns_up
cg=$(h_cgroup_create enforced) || die "cannot create a cgroup"
policy=$(h_policy store.policy <<EOF
allow $H_INT4 tcp 8080
EOF
)
[ -z "$(ip -n "$H_NS_HOST" -4 route show default)$(ip -n "$H_NS_HOST" -6 route show default)" ] ||
	die "namespace $H_NS_HOST has a default route"
links=$(ip -n "$H_NS_HOST" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort | tr '\n' ' ')
[ "$links" = "lo v-forb v-int " ] || die "namespace $H_NS_HOST has unexpected links: $links"
rec=$("$STORMER" info | jq .record_bytes)

# ---- helpers ----

DB=
hushd_up() { # NAME [hushd args]
	DB=$H_TMP/$1.db
	shift
	rm -f "$DB" "$DB-wal" "$DB-shm" "$DB.head"
	# No DNS proxy: a storm over every port hits port 53 too, and the
	# kernel is to deny (and count) every attempt, as without one.
	if "$HUSHD" --help 2>&1 | grep -q -- --no-dns-proxy; then
		set -- --no-dns-proxy "$@"
	fi
	h_hushd_start "$policy" "$cg" --quiet --db "$DB" "$@" || die "hushd did not start: $(tail -n 3 "$H_HUSHD_ERR" | tr '\n' ' ')"
}
hushd_down() {
	h_stop "$H_HUSHD_PID"
	h_hush disable >/dev/null 2>&1
}
q() { sqlite3 -batch -noheader "file:$DB?mode=ro" "$1" 2>/dev/null; }
qn() { # SQL DEFAULT: q, or DEFAULT when it prints nothing (no database)
	local v
	v=$(q "$1")
	echo "${v:-$2}"
}
kern() { "$STORMER" counters --pin-dir "$H_PIN_DIR" --once; }
# storm OUTFILE PROCS PORT PORTS RATE SECONDS: stormer in the enforced cgroup.
storm() {
	local out=$1
	shift
	h_cgroup_run "$cg" "$STORMER" send "$H_FORB4" "$2" --procs "$1" --ports "$3" \
		--rate "$4" --seconds "$5" >"$out" 2>>"$H_TMP/stormer.err" </dev/null
	# Every attempt must have been refused by hush (nothing sent, no other error).
	if [ "$(jq '.sent + .other' "$out" 2>/dev/null)" != 0 ]; then
		die "a storm was not refused in full: $(cat "$out") $(tail -n 2 "$H_TMP/stormer.err")"
	fi
}
dbtot() {
	q "SELECT coalesce(sum(count), 0) FROM events WHERE verdict = 'deny' AND kind IN ('attempt', 'gap')"
}
# wait_reconciled TIMEOUT_S: database attempts + gaps == kernel deny.
# Sets RECON (ms waited, or "no: kernel K, database D" / "hushd died").
wait_reconciled() {
	local t0 deadline k d
	t0=$(h_now_ms)
	deadline=$((t0 + $1 * 1000))
	while :; do
		k=$(kern | jq .deny)
		d=$(dbtot)
		if [ -n "$k" ] && [ "$k" = "$d" ]; then
			RECON=$(($(h_now_ms) - t0))
			return 0
		fi
		if ! h_alive "$H_HUSHD_PID"; then
			RECON="hushd died"
			return 2
		fi
		if [ "$(h_now_ms)" -ge "$deadline" ]; then
			RECON="no: kernel $k, database $d"
			return 1
		fi
		sleep 0.5
	done
}
hushd_death() {
	grep -v -e '^hushd: [0-9]* events lost' -e '^hushd: ready:' "$H_HUSHD_ERR" | tail -n 1 |
		tr '\n' ' ' | sed 's/|/\\|/g; s/ *$//'
}

# Per-second figures of a sampler file between two realtime instants (ms):
# rates of full 1-s intervals inside the storm.  Prints
# "min median mean_rows_per_s n".
intervals() {
	jq -rs --argjson a "$2" --argjson b "$3" '
		[range(1; length) as $i | select(.[$i-1].t_real_ms >= $a and .[$i].t_real_ms <= $b)
		 | {dt: (.[$i].t_ms - .[$i-1].t_ms), dd: (.[$i].deny - .[$i-1].deny),
		    dr: (.[$i].rows - .[$i-1].rows)}] as $v
		| ($v | map(.dd * 1000 / .dt) | sort) as $r
		| if ($v | length) == 0 then "0 0 0 0" else
		  "\($r[0] | floor) \($r[($r | length) / 2 | floor] | floor) \((($v | map(.dr) | add) * 1000 / ($v | map(.dt) | add)) | floor) \($v | length)"
		  end' "$1"
}

# Rows/s the writer kept up from its first commit of attempts to its last:
# from the last sample before rows appeared to the first with the final count.
write_rate() {
	jq -rs '(map(.rows) | max) as $f |
		([.[] | select(.rows <= 1)] | last) as $a |
		([.[] | select(.rows == $f)] | first) as $b |
		if $a == null or $b == null or $b.t_ms <= $a.t_ms then 0
		else (($f - $a.rows) * 1000 / ($b.t_ms - $a.t_ms) | floor) end' "$1"
}

# ---- one storm with a hushd and a database of its own ----
# run_case NAME PROCS PORT PORTS RATE SECONDS RECON_TIMEOUT [hushd args]
# Appends a JSON line with every figure to $H_TMP/cases.jsonl.
run_case() {
	local name=$1 procs=$2 port=$3 ports=$4 rate=$5 secs=$6 tmo=$7 spid ta tb k st alive=true why=""
	shift 7
	note "$name: $procs processes, $ports port(s), rate ${rate:-0} (0: flat out), ${secs} s"
	hushd_up "$name" "$@"
	h_bg --out "$H_TMP/$name.ctr" -- "$STORMER" counters --pin-dir "$H_PIN_DIR" --db "$DB"
	spid=$H_LAST_PID
	sleep 1.2
	ta=$(h_now_ms)
	storm "$H_TMP/$name.send" "$procs" "$port" "$ports" "$rate" "$secs"
	tb=$(h_now_ms)
	wait_reconciled "$tmo"
	st=$?
	sleep 1.2
	h_stop "$spid"
	if [ $st = 2 ] || ! h_alive "$H_HUSHD_PID"; then
		alive=false
		why=$(hushd_death)
	fi
	k=$(kern)
	read -r rmin rmed rrows nint <<<"$(intervals "$H_TMP/$name.ctr" "$ta" "$tb")"
	# Rows in the database when the storm ended (last sample before tb).
	rows_at_end=$(jq -s --argjson b "$tb" '[.[] | select(.t_real_ms <= $b) | .rows] | last // 0' "$H_TMP/$name.ctr")
	jq -cn --arg name "$name" --argjson procs "$procs" --argjson ports "$ports" \
		--argjson rate "$rate" --argjson secs "$secs" --slurpfile send "$H_TMP/$name.send" \
		--argjson k "$k" --arg recon "$RECON" --argjson recon_ok "$([ $st = 0 ] && echo true || echo false)" \
		--argjson alive "$alive" --arg why "$why" \
		--argjson rmin "$rmin" --argjson rmed "$rmed" --argjson rrows "$rrows" --argjson nint "$nint" \
		--argjson rows_at_end "$rows_at_end" --argjson wrate "$(write_rate "$H_TMP/$name.ctr")" \
		--argjson rows "$(qn 'SELECT count(*) FROM events' 0)" \
		--argjson det "$(qn "SELECT json_array(count(*), coalesce(sum(count), 0)) FROM events WHERE kind = 'attempt'" '[0,0]')" \
		--argjson gring "$(qn "SELECT json_array(count(*), coalesce(sum(count), 0)) FROM events WHERE kind = 'gap' AND (note LIKE 'ring buffer full%' OR note LIKE 'not reported%')" '[0,0]')" \
		--argjson gwr "$(qn "SELECT json_array(count(*), coalesce(sum(count), 0)) FROM events WHERE kind = 'gap' AND note LIKE 'not recorded in detail%'" '[0,0]')" \
		--argjson gall "$(qn "SELECT json_array(count(*), coalesce(sum(count), 0)) FROM events WHERE kind = 'gap'" '[0,0]')" \
		--argjson dbtot "$(qn "SELECT coalesce(sum(count), 0) FROM events WHERE verdict = 'deny' AND kind IN ('attempt', 'gap')" 0)" \
		--argjson wall "$((tb - ta))" \
		'{name: $name, procs: $procs, ports: $ports, rate: $rate, secs: $secs,
		  send: $send[0], kdeny: $k.deny, klost: $k.lost, recon: $recon, recon_ok: $recon_ok,
		  alive: $alive, why: $why, rmin: $rmin, rmed: $rmed, rows_per_s: $rrows, nint: $nint,
		  rows_at_end: $rows_at_end, wrate: $wrate, rows: $rows, det: $det, gring: $gring, gwr: $gwr,
		  gall: $gall, dbtot: $dbtot, wall_ms: $wall}' >>"$H_TMP/cases.jsonl"
	hushd_down
}

# ---- shared-hushd steps: kernel deltas only ----
# step_series NAME PROCS "RATES" [hushd args]: one hushd, one step per rate;
# appends {"name","procs","rate","att","aps","lost"} lines to steps.jsonl.
step_series() {
	local name=$1 procs=$2 rates=$3 r c0 c1
	shift 3
	hushd_up "$name" "$@"
	for r in $rates; do
		note "$name: $procs processes at ${r} attempts/s (0: flat out), ${STEP} s"
		c0=$(kern)
		storm "$H_TMP/$name.$r.send" "$procs" "$PORT" 1 "$r" "$STEP"
		sleep 0.3
		c1=$(kern)
		jq -cn --arg name "$name" --argjson procs "$procs" --argjson rate "$r" \
			--argjson c0 "$c0" --argjson c1 "$c1" --slurpfile s "$H_TMP/$name.$r.send" \
			'{name: $name, procs: $procs, rate: $rate, att: ($c1.deny - $c0.deny),
			  aps: $s[0].attempts_per_s, lost: ($c1.lost - $c0.lost)}' >>"$H_TMP/steps.jsonl"
		sleep 1
	done
	wait_reconciled 30
	SERIES_RECON=$RECON
	k=$(kern)
	jq -cn --arg name "$name" --argjson k "$k" --argjson db "$(qn "SELECT coalesce(sum(count), 0) FROM events WHERE verdict = 'deny' AND kind IN ('attempt', 'gap')" 0)" \
		--arg recon "$SERIES_RECON" '{series: $name, kdeny: $k.deny, klost: $k.lost, db: $db, recon: $recon}' \
		>>"$H_TMP/series.jsonl"
	hushd_down
}
series_line() { # NAME LABEL
	jq -r --arg n "$1" --arg l "$2" 'select(.series == $n) | $l + ": " +
		if .kdeny == .db then "every attempt accounted for: database attempts + gap attempts = kernel deny counter = \(.kdeny) (\(.klost) of them lost in the ring and recorded as gaps)"
		else "**NOT reconciled**: kernel deny \(.kdeny), database \(.db) (\(.recon))" end' "$H_TMP/series.jsonl"
}

: >"$H_TMP/cases.jsonl"
: >"$H_TMP/steps.jsonl"
: >"$H_TMP/series.jsonl"

# ---- run ----
run_case storm "$PROCS" "$PORT" 1 0 "$S_MAIN" 60
[ "$CALIB" = 1 ] && step_series calib-1 1 0 && step_series calib-2 2 0 &&
	step_series calib-4 4 0 && step_series calib-8 8 0
step_series ramp "$PROCS" "$RAMP"
if [ "$DIAG" = 1 ]; then
	step_series diag-1proc 1 "400000 600000 800000"
	step_series diag-16m "$PROCS" "400000 800000 1200000" --ringbuf-size 16777216
fi
run_case nc-flat "$PROCS" "$NC_PORT" 60000 0 "$NC_S" 240
for r in $NC_RATES; do
	run_case "nc-$r" "$PROCS" "$NC_PORT" 60000 "$r" "$NC_STEP" 240
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(($(date +%s) - t_begin))

# ---- report ----
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
md "### Storm of denied attempts into SQLite"
md ""
md "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); CPU: $cpu, $(nproc) CPUs; load average before / after: $load0 / $load1; run time ${elapsed} s; source: ${HUSH_REV:-$(git describe --always --dirty 2>/dev/null || echo unknown)}"
md "- hushd \`--db FILE --quiet\` (ring buffer 4 MiB unless a row says otherwise; one ring record is $rec bytes, so 4 MiB holds $((4194304 / rec)) events), enforcing \`allow $H_INT4 tcp 8080\` on a cgroup made for the run, inside the test harness's private network namespaces; a fresh hushd, database and set of kernel counters for every run and series below"
md "- load: \`stormer send\` (tests/bench/stormer.c): N processes in the enforced cgroup, each \`sendto()\` of 1 byte from one UDP socket to $H_FORB4 (a private namespace) as fast as it can or paced to a rate (bursts of at most 1 ms worth); every attempt is judged by the sendmsg4 hook and refused (EPERM: the run stops if a single datagram is sent); ports: one (repeats coalesce into a few rows per 200 ms batch) or 60000 (PORT .. PORT+59999 round robin, so nearly every attempt is a row of its own)"
md "- figures: attempts = the kernel's deny counter (hush's pinned per-CPU counters, summed); \`stormer counters\` samples them and the database's max(id) every second: **1-s rate** = deny counter delta over each full second inside the storm; **rows/s** = max(id) delta over the storm's seconds; database figures by \`sqlite3\` after the run: detail rows (kind 'attempt', sum of count), gap rows (kind 'gap') split by their note into *ring full* (events the kernel counted but could not put in the ring buffer) and *batch full* (events hushd received after the open batch already had its 65536 distinct rows — in 200 ms, or longer while the writer's queue of 16 batches is full — counted, not detailed; hushd's note says \"the database writer fell behind\")"
md "- **zero uncounted** = database attempts + gap attempts equal the kernel deny counter once the storm is over (gaps are declared ~1–2 s after the counters stop); \"reconciled after\" = time from the storm's end until they are equal (the writer's backlog, then the gap declaration)"
md ""

# 1. the storm
md "#### ${S_MAIN}-second storm, repeats coalescing"
md ""
md "| processes | duration | attempts (kernel) | attempts/s, mean | 1-s rate min / median | lost in the ring (kernel) | database rows | detail rows (attempts) | gap rows: ring full (attempts) | gap rows: batch full (attempts) | database + gaps = kernel | reconciled after | target | result |"
md "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|"
storm_json=$(jq -c 'select(.name == "storm")' "$H_TMP/cases.jsonl")
res=$(printf '%s\n' "$storm_json" | jq -r '
	(.send.elapsed_us / 1e6) as $s | (.kdeny / $s) as $aps |
	(if .alive and .recon_ok and .kdeny == .dbtot and $aps >= 200000 and .rmin >= 200000 and .nint >= (.secs - 2) then "PASS" else "MISS" end) as $r |
	"\(.procs) | \($s * 10 | round / 10) s | \(.kdeny) | \($aps | floor) | \(.rmin) / \(.rmed) | \(.klost) (\(if .kdeny > 0 then (1000 * .klost / .kdeny | round / 10) else 0 end)%) | \(.rows) | \(.det[0]) (\(.det[1])) | \(.gring[0]) (\(.gring[1])) | \(.gwr[0]) (\(.gwr[1])) | \(if .kdeny == .dbtot then "yes: \(.dbtot)" else "**no**: database \(.dbtot)" end) | \(if .recon_ok then "\(.recon | tonumber / 1000) s" else .recon end) | ≥ 200k/s for \(.secs) s, zero uncounted | **\($r)** |"')
md "| $res"
storm_pass=$(printf '%s' "$res" | grep -c 'PASS')
md ""
printf '%s\n' "$storm_json" | jq -r '
	(.send.elapsed_us / 1e6) as $s |
	"\(.procs) processes offered \(.send.attempts_per_s | floor) attempts/s (stormer'"'"'s own count: \(.send.eperm) refused, \(.send.sent) sent); the kernel counted \(.kdeny) denied attempts in \($s * 10 | round / 10) s, \(.nint) full seconds measured, the slowest at \(.rmin)/s.  hushd wrote \(.rows) rows (\(.rows_per_s) rows/s during the storm: repeats coalesce, one row per process and 200 ms batch); \(.klost) attempts (\(if .kdeny > 0 then (1000 * .klost / .kdeny | round / 10) else 0 end)%) did not fit in the ring buffer and are in \(.gring[0]) gap rows." + (if .alive then "" else "  **hushd died**: \(.why)" end)' >&3
md ""

# 2. calibration
if [ "$CALIB" = 1 ]; then
	md "#### Processes (why $PROCS)"
	md ""
	md "Each flat out for ${STEP} s against one hushd (default ring):"
	md ""
	md "| processes | attempts/s (kernel) | lost in the ring |"
	md "|---:|---:|---:|"
	jq -r 'select(.name | startswith("calib-")) |
		"| \(.procs) | \(.att / '"$STEP"' | floor) | \(.lost) (\(if .att > 0 then (1000 * .lost / .att | round / 10) else 0 end)%) |"' "$H_TMP/steps.jsonl" >&3
	md ""
	md "One process is bound by its own CPU (hushd has the other one to itself); with more, the senders and hushd share both CPUs.  The storm above uses $PROCS (two per CPU), which keeps both CPUs busy with senders and does not depend on one process's speed."
	md ""
fi

# 3. loss onset
md "#### Where the ring buffer starts to lose (default 4 MiB)"
md ""
md "$PROCS processes paced to a total rate, ${STEP} s per step, one hushd for the series; lost = the kernel's lost counter (ring buffer full) over the step:"
md ""
md "| series | offered attempts/s | achieved attempts/s | attempts (kernel) | lost in the ring | lost % |"
md "|---|---:|---:|---:|---:|---:|"
jq -r 'select(.name == "ramp" or (.name | startswith("diag-"))) |
	"| \(if .name == "ramp" then "'"$PROCS"' processes, 4 MiB" elif .name == "diag-1proc" then "1 process, 4 MiB" else "'"$PROCS"' processes, 16 MiB" end) | \(if .rate == 0 then "flat out" else .rate end) | \(.aps | floor) | \(.att) | \(.lost) | \(if .att > 0 then (10000 * .lost / .att | round / 100) else 0 end)% |"' "$H_TMP/steps.jsonl" >&3
md ""
onset=$(jq -rs '[.[] | select(.name == "ramp")] as $r |
	([$r[] | select(.lost > 0)] | first) as $f |
	if $f == null then "none: no step lost an event (up to \($r | map(.aps) | max | floor) attempts/s)"
	else ([$r[] | select(.aps < $f.aps and .lost == 0)] | last) as $p |
	"between \(if $p == null then "0" else ($p.aps | floor | tostring) end) and \($f.aps | floor) attempts/s (first step that lost: \($f.lost) of \($f.att))" end' "$H_TMP/steps.jsonl")
md "**Loss starts**: $onset offered by $PROCS paced processes with the default 4 MiB ring buffer.  $(series_line ramp "The ramp")."
md ""
if [ "$DIAG" = 1 ]; then
	# shellcheck disable=SC2017 # events per ring first, then per second: the order is meant
	md "What the onset depends on: a 4 MiB ring holds $((4194304 / rec)) events, so between two of hushd's timed polls (every 100 ms) it absorbs up to $((4194304 / rec * 10)) attempts/s without any wakeup; faster, hushd must be woken.  Records are submitted without a wakeup except in windows of fill level above hush_wake_bytes (bpf/hush.bpf.h, hush_emit), and producers reserving concurrently on several CPUs can jump over a window, so no record wakes hushd until its timed poll.  The other two series isolate that: one producer (no concurrent reservations) and a 16 MiB ring (lasts longer than the poll interval at these rates).  $(series_line diag-1proc "One process").  $(series_line diag-16m "16 MiB")."
	md ""
fi

# 4. non-coalescing
md "#### Attempts that do not coalesce (--ports 60000)"
md ""
md "$PROCS processes, ports $NC_PORT..$((NC_PORT + 59999)) round robin: each attempt is a distinct row of its 200 ms batch (a port comes back after 60000 of a process's attempts).  Flat out for ${NC_S} s, then paced, ${NC_STEP} s per run; a fresh hushd and database per run:"
md ""
md "| offered | attempts (kernel) | attempts/s | rows/s written: during the storm / first to last commit | database rows | detail rows (attempts) | gap rows: batch full (attempts) | gap rows: ring full (attempts) | database + gaps = kernel | reconciled after | hushd |"
md "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|"
jq -r 'select(.name | startswith("nc-")) |
	(.send.elapsed_us / 1e6) as $s |
	"| \(if .rate == 0 then "flat out, \(.secs) s" else "\(.rate)/s, \(.secs) s" end) | \(.kdeny) | \(.kdeny / $s | floor) | \(.rows_per_s) / \(.wrate) | \(.rows) | \(.det[0]) (\(.det[1])) | \(.gwr[0]) (\(.gwr[1]), \(if .kdeny > 0 then (1000 * .gwr[1] / .kdeny | round / 10) else 0 end)%) | \(.gring[0]) (\(.gring[1]), \(if .kdeny > 0 then (1000 * .gring[1] / .kdeny | round / 10) else 0 end)%) | \(if .kdeny == .dbtot then "yes" else "**no**: database \(.dbtot)" end) | \(if .recon_ok then "\(.recon | tonumber / 1000) s" else .recon end) | \(if .alive then "ran on" else "**died**: \(.why)" end) |"' "$H_TMP/cases.jsonl" >&3
md ""
nc_line=$(jq -rs '[.[] | select(.name | startswith("nc-"))] as $c |
	($c | map(select(.rate == 0)) | first) as $f |
	([$c[] | select(.rate > 0 and .gwr[1] > 0 and .alive)] | sort_by(.rate) | first) as $g |
	([$c[] | select(.rate > 0 and .gwr[1] == 0 and .alive and .recon_ok)] | sort_by(.rate) | last) as $ok |
	(if $f != null and $f.alive then "Flat out, SQLite took \($f.rows_per_s) rows/s while the storm ran and \($f.wrate) rows/s from the first commit to the last (\($f.rows) rows in all, the backlog written within \(if $f.recon_ok then "\($f.recon | tonumber / 1000) s" else "— (\($f.recon))" end) of the end)." else "Flat out: hushd did not survive (see the table)." end) + "  " +
	(if $g == null and $ok == null then "No paced run completed."
	 elif $g == null then "Every paced run that completed, up to \($ok.rate) distinct rows/s, was recorded in detail (no batch-full gap)."
	 else "Detail turns into gap rows between \(if $ok == null then "—" else ($ok.rate | tostring) end) and \($g.rate) distinct rows/s offered: up to the first, every attempt is a row; at the second, \((1000 * $g.gwr[1] / $g.kdeny | round / 10))% of the attempts are counted in batch-full gap rows (the writer'"'"'s queue holds 16 batches, ~3 s of input, so a shorter burst above the rate is still detailed)." end)' "$H_TMP/cases.jsonl")
md "$nc_line"
died=$(jq -r 'select(.alive == false) | .name' "$H_TMP/cases.jsonl" | tr '\n' ' ')
if [ -n "$died" ]; then
	md ""
	md "**hushd died** in: ${died}— the accounting of those runs is incomplete (a FAIL, whatever the rates)."
fi
md ""
nfail=$(jq -s '[.[] | select(.alive == false or .recon_ok == false)] | length' "$H_TMP/cases.jsonl")
md "Storm goals: $([ "$storm_pass" = 1 ] && echo "1 PASS (≥ 200k attempts/s sustained for ${S_MAIN} s with zero uncounted)" || echo "1 MISS (≥ 200k attempts/s sustained for ${S_MAIN} s with zero uncounted)"); runs in which hushd died or the counts did not reconcile: $nfail."
h_done >/dev/null
