#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The audit -> suggest -> enforce workflow, end to end: hushd audits a test
# cgroup (and a child cgroup, which becomes a scope block), traffic runs,
# `hush policy suggest` writes a policy from the log, `hush policy check`
# accepts it, `hush policy apply` puts it in force with mode enforce; the
# same traffic replayed passes, and a destination, port or scope the log
# never saw gets EPERM at once.  On the way: `hush status` reconciles its
# counters with the log, and tampering reaches hushd's metrics (rows cut from
# the tail: hush_log_tamper_total; `hush log verify`: hush_log_verify_*).
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init suggest
h_require_hush
h_require_tools dnsmasq
DNSQ=$OUTPUT/tests/dnsq
[ -x "$DNSQ" ] || h_skip_or_fail "$H_NAME" "$DNSQ not built (make all)"
h_netns_up
cg=$(h_cgroup_create app)
web=$(h_cgroup_create app/web)
H_PROBE_CG=$cg

WEB4=$H_INT4_B # web.test, reached by name

# dnsmasq in int: the resolver of the audit policy (no upstream).
h_bg --out "$H_TMP/dnsmasq.out" --err "$H_TMP/dnsmasq.err" --ns "$H_NS_INT" -- \
	dnsmasq --keep-in-foreground --no-daemon --no-resolv --no-hosts --no-poll \
	--bind-interfaces --listen-address="$H_INT4" --except-interface=lo --port=53 \
	--cache-size=0 --local-ttl=30 --pid-file="$H_TMP/dnsmasq.pid" --user=root --group=root \
	--host-record="web.test,$WEB4" --host-record="other.test,$H_FORB4"
for _ in $(seq 1 100); do
	h_ns "$H_NS_HOST" "$DNSQ" --timeout-ms 200 "$H_INT4" web.test >/dev/null 2>&1 && break
	sleep 0.05
done

# The audit policy: every name of the zone allowed (so the proxy ties answers' addresses
# to names, and connections to them carry the name), nothing else; hushd
# logs allowed attempts too (--log-allowed) so the queries are in the log.
policy=$(h_policy audit.policy <<EOF
mode audit
resolver $H_INT4
allow dns *.test
EOF
)

# expect_dns NAME JQ DNSQ_ARGS...: dnsq in cgroup app answers so.
expect_dns() {
	local out
	out=$(h_cgroup_run "$cg" "$DNSQ" "${@:3}" 2>/dev/null)
	if printf '%s\n' "$out" | jq -e "$2" >/dev/null 2>&1; then
		h_pass "$1"
	else
		h_fail "$1" "dnsq ${*:3}: $out (wanted $2)"
	fi
}

h_listen "$H_NS_FORB" tcp :: 8080
h_listen "$H_NS_FORB" udp :: 7000
h_listen "$H_NS_INT" tcp :: 8080
h_listen "$H_NS_INT" tcp :: 8443

h_hushd_start "$policy" "$cg" --log-allowed || h_done
DB=$H_RUN_DIR/hush.db

# ---- audit: the traffic the service makes ----
h_expect_probe "audit: tcp4 forb:8080 passes" ok - -- connect "$H_FORB4" 8080
h_expect_probe "audit: tcp4 forb:8080 again" ok - -- connect "$H_FORB4" 8080
h_expect_probe "audit: udp4 forb:7000 passes" ok - -- sendto "$H_FORB4" 7000 --payload x
h_expect_probe "audit: tcp6 forb:8080 passes" ok - -- connect "$H_FORB6" 8080
h_expect_probe "audit: tcp4 int:8080 from app/web" ok - --cg "$web" -- connect "$H_INT4" 8080
h_expect_probe "audit: tcp4 int:8443 from app/web" ok - --cg "$web" -- connect "$H_INT4" 8443
expect_dns "audit: web.test resolves" ".rcode == 0 and .answers == [\"$WEB4\"]" "$H_INT4" web.test
h_expect_probe "audit: tcp4 web.test:8080 by name passes" ok - -- connect "$WEB4" 8080

# The writer commits in batches: wait for the last attempt's row.
rows=0
for _ in $(seq 1 50); do
	rows=$("$HUSH" log --db "$DB" --audit --dest "$WEB4" --json 2>/dev/null | wc -l)
	[ "$rows" -ge 1 ] && break
	sleep 0.1
done
if [ "$rows" -ge 1 ]; then h_pass "audit rows logged"; else h_fail "audit rows logged" "no row for $WEB4"; fi

# ---- hush status reconciles its counters with the log ----
recon=""
for _ in $(seq 1 30); do
	recon=$(h_hush status --json 2>/dev/null | jq -c '.reconcile')
	jq -e '.audit.not_yet == 0 and .deny.not_yet == 0 and .allow.not_yet == 0' \
		<<<"$recon" >/dev/null 2>&1 && break
	sleep 0.1
done
if jq -e '.audit.reported >= 6 and .audit.in_log == .audit.reported and .audit.not_yet == 0 and
	.audit.why == "reconciled" and .audit.counted >= .audit.reported and
	.allow.in_log == .allow.reported and .deny.counted == 0' <<<"$recon" >/dev/null 2>&1; then
	h_pass "status: kernel counters reconcile with the log ($recon)"
else
	h_fail "status: kernel counters reconcile with the log" "$recon"
fi
if h_hush status 2>/dev/null | grep -Eq '^reconcile: +verdict +counted +reported +in log +not yet$'; then
	h_pass "status: the text shows the reconciliation"
else
	h_fail "status: the text shows the reconciliation" "$(h_hush status 2>&1 | tail -n 12)"
fi

# ---- suggest ----
sug=$H_TMP/suggested.policy
if "$HUSH" --pin-dir "$H_PIN_DIR" --run-dir "$H_RUN_DIR" policy suggest --db "$DB" \
	--mode enforce --out "$sug" 2>"$H_TMP/sug.err"; then
	h_pass "suggest: exit 0"
else
	h_fail "suggest: exit 0" "$(cat "$H_TMP/sug.err")"
fi
h_log "suggested policy:"
sed 's/^/    /' "$sug" >&2
if "$HUSH" policy check "$sug" >"$H_TMP/check.out" 2>&1; then
	h_pass "suggest: hush policy check accepts it"
else
	h_fail "suggest: hush policy check accepts it" "$(cat "$H_TMP/check.out")"
fi
# expect_line NAME REGEX: the suggested policy has a line matching.
expect_line() {
	if grep -Eq -- "$2" "$sug"; then h_pass "$1"; else h_fail "$1" "no line matching $2"; fi
}
expect_line "suggest: mode enforce (--mode)" "^mode enforce$"
expect_line "suggest: tcp4 forb rule" "^allow $H_FORB4 tcp 8080$"
expect_line "suggest: udp4 forb rule" "^allow $H_FORB4 udp 7000$"
expect_line "suggest: tcp6 forb rule" "^allow $H_FORB6 tcp 8080$"
expect_line "suggest: a scope block for app/web" "^scope web \\{$"
expect_line "suggest: ports of one address in one rule" "^	allow $H_INT4 tcp 8080,8443$"
expect_line "suggest: counts in comments" "^# 2 attempts \\(0 allowed, 2 audited\\)"
expect_line "suggest: the resolver kept from the policy in force" "^resolver $H_INT4$"
expect_line "suggest: the name asked" "^allow dns web.test$"
expect_line "suggest: a connection after the query is an allow host rule" "^allow host web.test tcp 8080$"
if grep -q "^allow $WEB4" "$sug"; then
	h_fail "suggest: no address rule for the named destination" "$(grep "^allow $WEB4" "$sug")"
else
	h_pass "suggest: no address rule for the named destination"
fi
if grep -q "^allow $H_INT4" "$sug"; then
	h_fail "suggest: app/web's destination stays in its scope" "top-level rule for $H_INT4"
else
	h_pass "suggest: app/web's destination stays in its scope"
fi
# The same with --cgroup web: only that scope.
"$HUSH" --pin-dir "$H_PIN_DIR" policy suggest --db "$DB" --cgroup web >"$H_TMP/web.policy" 2>&1
if grep -q "^scope web {" "$H_TMP/web.policy" && ! grep -q "^allow $H_FORB4" "$H_TMP/web.policy"; then
	h_pass "suggest --cgroup web: only that scope"
else
	h_fail "suggest --cgroup web: only that scope" "$(cat "$H_TMP/web.policy")"
fi
# --root given as the cgroup's directory or as the log writes it: the same.
"$HUSH" --pin-dir "$H_PIN_DIR" policy suggest --db "$DB" --mode enforce --root "$cg/" \
	2>/dev/null | grep -v '^# Suggested' >"$H_TMP/r1.policy"
"$HUSH" --pin-dir "$H_PIN_DIR" policy suggest --db "$DB" --mode enforce \
	--root "${cg#"$CG2"}" 2>/dev/null | grep -v '^# Suggested' >"$H_TMP/r2.policy"
if [ -s "$H_TMP/r1.policy" ] && cmp -s "$H_TMP/r1.policy" "$H_TMP/r2.policy" &&
	grep -q "^scope web {" "$H_TMP/r1.policy"; then
	h_pass "suggest --root: a directory or a log path"
else
	h_fail "suggest --root: a directory or a log path" "$(diff "$H_TMP/r1.policy" "$H_TMP/r2.policy" | head -5)"
fi
expect_usage() {
	local out rc
	out=$("$HUSH" policy suggest --db "$DB" "${@:3}" 2>&1)
	rc=$?
	if [ $rc = 2 ] && grep -Eq -- "$2" <<<"$out"; then h_pass "$1"; else h_fail "$1" "rc $rc: $out"; fi
}
expect_usage "suggest --denied is refused" "allowed or audited" --denied
expect_usage "suggest --json is refused" "not its verbs" --json
expect_usage "suggest --mode bad is refused" "use enforce or audit" --mode strict

# ---- enforce the suggested policy ----
if h_hush policy apply "$sug" >"$H_TMP/apply.out" 2>&1; then
	h_pass "enforce: hush policy apply takes it"
else
	h_fail "enforce: hush policy apply takes it" "$(cat "$H_TMP/apply.out")"
fi
h_expect_probe "replay: tcp4 forb:8080 passes" ok - -- connect "$H_FORB4" 8080
h_expect_probe "replay: udp4 forb:7000 passes" ok - -- sendto "$H_FORB4" 7000 --payload x
h_expect_probe "replay: tcp6 forb:8080 passes" ok - -- connect "$H_FORB6" 8080
h_expect_probe "replay: app/web int:8080 passes" ok - --cg "$web" -- connect "$H_INT4" 8080
h_expect_probe "replay: app/web int:8443 passes" ok - --cg "$web" -- connect "$H_INT4" 8443
h_expect_probe "fresh: int:8080 from app (not its scope) is EPERM" error EPERM -- connect "$H_INT4" 8080
h_expect_probe "fresh: another port on forb is EPERM" error EPERM -- connect "$H_FORB4" 8081
h_expect_probe "fresh: udp to forb:8080 is EPERM" error EPERM -- sendto "$H_FORB4" 8080 --payload x
expect_dns "replay: web.test resolves" ".rcode == 0 and .answers == [\"$WEB4\"]" "$H_INT4" web.test
h_expect_probe "replay: web.test:8080 by name passes" ok - -- connect "$WEB4" 8080
h_expect_probe "fresh: web.test on another port is EPERM" error EPERM -- connect "$WEB4" 8081
expect_dns "fresh: a name never asked is refused" ".rcode == 5" "$H_INT4" other.test

# ---- tamper alarms reach hushd's metrics ----
# hushd again (it adopts the pins), with a metrics file; a verify leaves
# <db>.verify, hushd exports it; rows cut from the tail are found by hushd
# before its next append (a TAMPER note, stderr, hush_log_tamper_total).
h_stop "$H_HUSHD_PID"
prom=$H_TMP/hush.prom
h_hushd_start "$sug" "$cg" --metrics-file "$prom" || h_done
"$HUSH" log verify --db "$DB" >/dev/null 2>&1
if h_wait_for_line "$prom" '^hush_log_verify_findings 0$' 5 &&
	grep -q '^hush_log_tamper_total 0$' "$prom"; then
	h_pass "metrics: a clean verify and no tampering"
else
	h_fail "metrics: a clean verify and no tampering" "$(grep -E 'tamper|verify' "$prom")"
fi
h_expect_probe "tamper: a denied attempt is logged" error EPERM -- connect "$H_FORB4" 8081
for _ in $(seq 1 50); do
	"$HUSH" log --db "$DB" --denied --port 8081 --json 2>/dev/null | grep -q . && break
	sleep 0.1
done
last=$(sqlite3 "$DB" "SELECT max(id) FROM events")
sqlite3 "$DB" "DELETE FROM events WHERE id >= $((last - 1))"
h_expect_probe "tamper: another denied attempt makes hushd append" error EPERM -- connect "$H_FORB4" 8082
if h_wait_for_line "$prom" '^hush_log_tamper_total 1$' 5 &&
	grep -q "log: TAMPER: rows $((last - 1))\.\.$last deleted" "$H_HUSHD_ERR"; then
	h_pass "tamper: hushd finds the cut tail: hush_log_tamper_total and stderr"
else
	h_fail "tamper: hushd finds the cut tail: hush_log_tamper_total and stderr" \
		"$(grep tamper "$prom"); $(grep TAMPER "$H_HUSHD_ERR")"
fi
"$HUSH" log verify --db "$DB" >"$H_TMP/v.out" 2>"$H_TMP/v.err"
if h_wait_for_line "$prom" '^hush_log_verify_findings [1-9]' 5 &&
	grep -q "hushd recorded: rows $((last - 1))\.\.$last deleted" "$H_TMP/v.out" &&
	grep -q "^hush: log: verify: TAMPER: " "$H_TMP/v.err"; then
	h_pass "tamper: verify lists it, says so on stderr, hush_log_verify_findings"
else
	h_fail "tamper: verify lists it, says so on stderr, hush_log_verify_findings" \
		"$(cat "$H_TMP/v.out" "$H_TMP/v.err"); $(grep verify "$prom")"
fi

h_done
