#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# DNS through hushd's proxy, against dnsmasq as the internal resolver (in the
# int namespace).  Port-53 traffic of the enforced cgroup is redirected to the
# proxy whatever resolver it names; the proxy judges the name, forwards
# allowed ones to the policy's resolver and answers denied ones at once; the
# client sees the answer come from the resolver it asked (cgroup/recvmsg,
# getpeername).  FQDN rules: addresses learned from allowed answers are
# allowed for TTL + grace, then denied again.  Every query is in the log with
# qname, qtype, verdict and process.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init dns
h_require_hush
h_require_tools dnsmasq
DNSQ=$OUTPUT/tests/dnsq
[ -x "$DNSQ" ] || h_skip_or_fail "$H_NAME" "$DNSQ not built (make all)"
h_netns_up
# hushd enforces on enf/ (hushd itself, dnsmasq and listeners stay in aux).
cg=$(h_cgroup_create enf/enforced)
acg=$(h_cgroup_create enf/audited)
ecg=$H_CG_ROOT/enf
H_PROBE_CG=$cg
WEB4=$H_INT4_B # web.corp.test: the second int address
WEB6=$H_INT6_B
TTL=2
GRACE=1

# dnsmasq: authoritative-ish for the test names, nothing else (no upstream).
h_bg --out "$H_TMP/dnsmasq.out" --err "$H_TMP/dnsmasq.err" --ns "$H_NS_INT" -- \
	dnsmasq --keep-in-foreground --no-daemon --no-resolv --no-hosts --no-poll \
	--bind-interfaces --listen-address="$H_INT4" --listen-address="$H_INT6" \
	--except-interface=lo --port=53 --cache-size=0 --local-ttl=$TTL \
	--pid-file="$H_TMP/dnsmasq.pid" --user=root --group=root \
	--host-record="web.corp.test,$WEB4,$WEB6" \
	--host-record="app.corp.test,$WEB4,$WEB6" \
	--cname=alias.corp.test,app.corp.test \
	--cname=alias2.corp.test,alias.corp.test \
	--host-record="other.corp.test,$H_INT4" \
	--host-record="exact.test,$H_INT4" \
	--host-record="sub.exact.test,$H_INT4" \
	--host-record="denied.test,$H_FORB4" \
	--host-record="corp.test,$H_INT4" \
	--log-queries --log-facility=-
dnsmasq_pid=$H_LAST_PID
for _ in $(seq 1 100); do
	h_ns "$H_NS_HOST" "$DNSQ" --timeout-ms 200 "$H_INT4" exact.test >/dev/null 2>&1 && break
	sleep 0.05
done
# The aux cgroup is not enforced: it talks to dnsmasq directly.
if h_json_get "$(h_ns "$H_NS_HOST" "$DNSQ" "$H_INT4" exact.test)" '.rcode' x | grep -qx 0; then
	h_pass "dnsmasq answers in the int namespace"
else
	h_fail "dnsmasq answers in the int namespace" "$(tail -n 5 "$H_TMP/dnsmasq.err")"
	h_done
fi

policy=$(h_policy dns.policy <<EOF
mode enforce
resolver $H_INT4
allow dns *.corp.test
allow dns exact.test
allow dns Denied-Not.test
allow host app.corp.test tcp 8080
scope audited {
  mode audit
}
EOF
)
h_listen "$H_NS_INT" tcp :: 8080

h_hushd_start "$policy" "$ecg" --dns-grace $GRACE || h_done
OUT=$H_HUSHD_OUT

# dq NAME -- DNSQ_ARGS: run dnsq in the enforced cgroup; result in DQ.
dq() {
	DQ=$(h_cgroup_run "$cg" "$DNSQ" "$@" 2>/dev/null)
}

# expect_dns CASE JQ -- DNSQ_ARGS: the answer satisfies JQ (and came at once).
expect_dns() {
	local name=$1 want=$2
	shift 3
	dq "$@"
	if printf '%s\n' "$DQ" | jq -e "$want" >/dev/null 2>&1; then
		h_pass "$name"
	else
		h_fail "$name" "dnsq $*: $DQ (wanted $want)"
	fi
}

# query_event CASE VERDICT QNAME [QTYPE]: hushd reported the query.
query_event() {
	h_expect_event "$1: event" "$OUT" \
		".hook == \"dns\" and .verdict == \"$2\" and .qname == \"$3\" and .qtype == \"${4:-A}\""
}

# -- allowed and denied names, UDP --
expect_dns "allowed name resolves (udp)" \
	".ok and .rcode == 0 and .answers == [\"$WEB4\"] and .from == \"$H_INT4:53\" and .id_ok" \
	-- "$H_INT4" web.corp.test
query_event "allowed name resolves (udp)" allow web.corp.test
h_assert_json "$H_EVENT" ".proto == \"udp\" and .daddr == \"$H_INT4\" and .dport == 53 and .rule == 1 and (.pid > 0) and (.exe | endswith(\"dnsq\"))" \
	"allowed query event names the resolver asked, the rule and the process"
expect_dns "denied name refused at once" \
	".ok and .rcode == 5 and .answers == [] and .from == \"$H_INT4:53\" and .us < $H_AT_ONCE_US" \
	-- "$H_INT4" denied.test
query_event "denied name refused at once" deny denied.test
h_assert_json "$H_EVENT" '.rule == 0' "denied query event: default deny"
expect_dns "AAAA of an allowed name (v6 answer)" ".ok and .rcode == 0 and .answers == [\"$WEB6\"]" \
	-- "$H_INT4" web.corp.test AAAA
query_event "AAAA of an allowed name" allow web.corp.test AAAA

# -- wildcard vs exact, case --
expect_dns "*.corp.test allows a name below" ".rcode == 0 and .answers == [\"$H_INT4\"]" \
	-- "$H_INT4" other.corp.test
expect_dns "*.corp.test does not allow corp.test itself" ".rcode == 5" -- "$H_INT4" corp.test
expect_dns "exact.test allows exact.test" ".rcode == 0" -- "$H_INT4" exact.test
expect_dns "exact.test does not allow sub.exact.test" ".rcode == 5" -- "$H_INT4" sub.exact.test
expect_dns "case does not matter" ".rcode == 0 and .answers == [\"$WEB4\"]" \
	-- "$H_INT4" WEB.Corp.TEST
query_event "case does not matter" allow web.corp.test
expect_dns "a trailing dot does not matter" ".rcode == 0" -- "$H_INT4" exact.test.

# -- TCP, connected UDP, IPv6 transport --
expect_dns "allowed name over TCP" \
	".ok and .rcode == 0 and .answers == [\"$WEB4\"] and .peer == \"$H_INT4:53\"" \
	-- --tcp "$H_INT4" web.corp.test
h_expect_event "allowed name over TCP: event" "$OUT" \
	'.hook == "dns" and .proto == "tcp" and .verdict == "allow" and .qname == "web.corp.test"'
expect_dns "denied name over TCP refused at once" ".ok and .rcode == 5 and .us < $H_AT_ONCE_US" \
	-- --tcp "$H_INT4" denied.test
expect_dns "connected UDP (glibc style): answer and peer are the resolver" \
	".ok and .rcode == 0 and .from == \"$H_INT4:53\" and .peer == \"$H_INT4:53\"" \
	-- --connect "$H_INT4" web.corp.test
expect_dns "IPv6 resolver address: redirected, answered from it" \
	".ok and .rcode == 0 and .answers == [\"$WEB4\"] and .from == \"[$H_INT6]:53\"" \
	-- "$H_INT6" web.corp.test
expect_dns "IPv6 resolver over TCP" ".ok and .rcode == 0 and .peer == \"[$H_INT6]:53\"" \
	-- --tcp "$H_INT6" web.corp.test
expect_dns "v4-mapped resolver address" \
	".ok and .rcode == 0 and .from == \"[::ffff:$H_INT4]:53\"" -- "::ffff:$H_INT4" web.corp.test

# -- a resolver the policy does not name is judged by name, never reached --
h_listen "$H_NS_FORB" udp :: 53
forb53=$H_LISTEN_OUT
expect_dns "unlisted resolver: allowed name answered via the policy resolver" \
	".ok and .rcode == 0 and .answers == [\"$WEB4\"] and .from == \"$H_FORB4:53\"" \
	-- "$H_FORB4" web.corp.test
h_expect_event "unlisted resolver: the event names the resolver asked" "$OUT" \
	".hook == \"dns\" and .verdict == \"allow\" and .qname == \"web.corp.test\" and .daddr == \"$H_FORB4\""
expect_dns "unlisted resolver: denied name refused" ".rcode == 5 and .from == \"$H_FORB4:53\"" \
	-- "$H_FORB4" denied.test
sleep 0.3
if h_json_match "$forb53" '.event == "datagram"' >/dev/null; then
	h_fail "unlisted resolver: nothing reached it" "$(cat "$forb53")"
else
	h_pass "unlisted resolver: nothing reached it"
fi

# -- malformed queries: FORMERR and a log row, the proxy lives on --
expect_dns "bogus counts: FORMERR" ".rcode == 1" \
	-- --raw 1234010000020000000000000377777700000100010377777700000100 "$H_INT4" x
h_expect_event "bogus counts: event" "$OUT" '.hook == "dns" and .verdict == "deny" and (.note | test("FORMERR"))'
expect_dns "compression loop: FORMERR" ".rcode == 1" \
	-- --raw 12350100000100000000000003777777c00c00010001 "$H_INT4" x
expect_dns "proxy still answers after malformed queries" ".rcode == 0" -- "$H_INT4" exact.test

# -- audit scope: denied names are forwarded and reported as audit --
expect_audit() {
	local r
	r=$(h_cgroup_run "$acg" "$DNSQ" "$H_INT4" denied.test 2>/dev/null)
	h_assert_json "$r" ".ok and .rcode == 0 and .answers == [\"$H_FORB4\"]" \
		"audit scope: denied name still resolves"
	h_expect_event "audit scope: audit event" "$OUT" \
		'.hook == "dns" and .verdict == "audit" and .qname == "denied.test"'
}
expect_audit

# -- FQDN rule: learn -> allowed -> expiry -> denied --
h_attempt "FQDN: connect before resolution denied" error EPERM deny connect4 "$WEB4" 8080 tcp \
	-- connect "$WEB4" 8080
expect_dns "FQDN: resolve app.corp.test" ".rcode == 0 and .answers == [\"$WEB4\"]" \
	-- "$H_INT4" app.corp.test
h_expect_probe "FQDN: connect after resolution allowed" ok - -- connect "$WEB4" 8080
h_expect_probe "FQDN: other ports of the address stay denied" error EPERM -- connect "$WEB4" 8081
expect_dns "FQDN: resolve AAAA" ".rcode == 0 and .answers == [\"$WEB6\"]" -- "$H_INT4" app.corp.test AAAA
h_expect_probe "FQDN: v6 address learned from AAAA" ok - -- connect "$WEB6" 8080
sleep $((TTL + GRACE + 2))
h_attempt "FQDN: connect after TTL + grace denied" error EPERM deny connect4 "$WEB4" 8080 tcp \
	-- connect "$WEB4" 8080
h_expect_probe "FQDN: v6 address expired too" error EPERM -- connect "$WEB6" 8080
expect_dns "FQDN: CNAME chain resolves" ".rcode == 0 and .answers == [\"$WEB4\"] and .chain == 3" \
	-- "$H_INT4" alias2.corp.test
h_expect_probe "FQDN: address learned through a CNAME chain" ok - -- connect "$WEB4" 8080

# -- the log: every query with qname, qtype, verdict and process --
sleep 0.6
log=$(h_hush log --db "$H_RUN_DIR/hush.db" --dns denied.test --json 2>&1)
h_assert_json "$log" 'select(.verdict == "deny" and .qname == "denied.test" and .qtype == "A" and .hook == "dns" and (.exe | endswith("dnsq"))) | true' \
	"log: denied query with qname, qtype, verdict and exe"
log=$(h_hush log --db "$H_RUN_DIR/hush.db" --dest "$WEB4" --verdict deny --json 2>&1)
h_assert_json "$log" "select(.hook == \"connect4\" and (.qname | test(\"corp.test\"))) | true" \
	"log: a denied connect names the DNS name that once mapped to it"
st=$(h_hush status --json 2>&1)
h_assert_json "$st" '.dns.proxy == true and .dns.udp4 > 0 and .dns.tcp6 > 0' "hush status: DNS proxy up"

# -- talking to the proxy's port directly (not redirected): judged by the
#    top-level names in enforce mode, reported without a process --
pport=$(h_json_get "$st" '.dns.udp4' 0)
DQ=$(h_ns "$H_NS_HOST" "$DNSQ" "127.0.0.1:$pport" denied.test 2>/dev/null)
h_assert_json "$DQ" '.ok and .rcode == 5' "proxy port asked directly: denied name refused"
h_expect_event "proxy port asked directly: reported without a process" "$OUT" \
	'.hook == "dns" and .verdict == "deny" and .qname == "denied.test" and (.flags | index("noproc"))'
DQ=$(h_ns "$H_NS_HOST" "$DNSQ" "127.0.0.1:$pport" exact.test 2>/dev/null)
h_assert_json "$DQ" '.ok and .rcode == 0' "proxy port asked directly: allowed name answered"

# -- a socket of the enforced cgroup in another network namespace: the proxy
#    serves that namespace too (hushd's namespace helper opens listeners there
#    when it sees it).  A query that comes before the helper's scan is denied
#    at once and flagged (fail closed); the next one is answered through the
#    listener in that namespace, from the resolver asked (t_dnsns has more) --
# shellcheck disable=SC2016
inns() {
	nsenter "--net=/run/netns/$H_NS_INT" -- sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' \
		_ "$cg" "$DNSQ" "$H_INT4" web.corp.test 2>/dev/null
}
DQ=$(inns)
if printf "%s\n" "$DQ" | jq -e '.ok == true and .rcode == 0' >/dev/null 2>&1; then
	h_pass "another network namespace: answered at once (served before the first query)"
else
	h_assert_json "$DQ" ".ok == false and .error == \"Operation not permitted\" and .us < $H_AT_ONCE_US" \
		"another network namespace: a query before the helper's scan is denied at once"
	h_expect_event "another network namespace: event says no DNS proxy" "$OUT" \
		'.hook == "sendmsg4" and .verdict == "deny" and .dport == 53 and (.flags | index("no_dns_proxy"))'
fi
for _ in $(seq 1 20); do
	DQ=$(inns)
	printf "%s\n" "$DQ" | jq -e '.ok == true' >/dev/null 2>&1 && break
	sleep 0.1
done
h_assert_json "$DQ" ".ok == true and .rcode == 0 and .answers == [\"$WEB4\"] and .from == \"$H_INT4:53\"" \
	"another network namespace: answered through the proxy's listener there, from the resolver asked"

# -- hushd down: DNS fails closed at once (and hush status says so) --
h_stop "$H_HUSHD_PID" TERM
expect_dns "hushd stopped: DNS denied at once" ".ok == false and .error == \"Operation not permitted\" and .us < $H_AT_ONCE_US" \
	-- "$H_INT4" web.corp.test
expect_dns "hushd stopped: TCP DNS denied at once" ".ok == false and .error == \"Operation not permitted\"" \
	-- --tcp "$H_INT4" web.corp.test
st=$(h_hush status 2>&1)
if printf '%s\n' "$st" | grep -q '^dns: .*no proxy running.*fail closed'; then
	h_pass "hush status: DNS fails closed"
else
	h_fail "hush status: DNS fails closed" "$st"
fi

# This time hushd runs inside the enforced subtree: its forwards to the
# policy resolver pass (and only those), nothing else of it is redirected.
H_HUSHD_CG=$(h_cgroup_create enf/hushd)
h_hushd_start "$policy" "$ecg" --dns-deny nxdomain --metrics-file "$H_TMP/metrics.prom" || h_done
H_HUSHD_CG=
OUT=$H_HUSHD_OUT
expect_dns "hushd in an enforced cgroup: allowed name resolves (udp)" ".rcode == 0" \
	-- "$H_INT4" web.corp.test
expect_dns "hushd in an enforced cgroup: allowed name resolves (tcp)" ".rcode == 0" \
	-- --tcp "$H_INT4" web.corp.test
h_expect_no_event "hushd in an enforced cgroup: its forwards are not denied" "$OUT" \
	".verdict == \"deny\" and .tgid == $H_HUSHD_PID"
expect_dns "--dns-deny nxdomain" ".rcode == 3 and .us < $H_AT_ONCE_US" -- "$H_INT4" denied.test
sleep 1.5
if grep -q '^hush_dns_proxy_up 1$' "$H_TMP/metrics.prom" &&
	grep -q '^hush_dns_queries_total{verdict="deny"} 1$' "$H_TMP/metrics.prom" &&
	grep -q '^hush_dns_queries_total{verdict="allow"} 2$' "$H_TMP/metrics.prom"; then
	h_pass "metrics: proxy up, queries by verdict"
else
	h_fail "metrics: proxy up, queries by verdict" "$(grep hush_dns "$H_TMP/metrics.prom" | tr '\n' ' ')"
fi
h_stop "$H_HUSHD_PID" KILL
expect_dns "hushd SIGKILLed: DNS denied at once" ".ok == false and .error == \"Operation not permitted\"" \
	-- "$H_INT4" web.corp.test

# -- hush run: a DNS proxy of its own (no hushd needed) --
runcg=$(h_cgroup_create runs)
runpol=$(h_policy run.policy <<EOF
resolver $H_INT4
allow dns exact.test
allow host app.corp.test tcp 8080
allow dns app.corp.test
EOF
)
h_hush_run_capture run1 "$runcg" --policy "$runpol" --events "$H_TMP/run1.events" -- \
	"$DNSQ" "$H_INT4" exact.test
h_assert_json "$H_RUN_OUT" '.ok and .rcode == 0' "hush run: allowed name resolves through its proxy"
h_hush_run_capture run2 "$runcg" --policy "$runpol" --events "$H_TMP/run2.events" -- \
	"$DNSQ" "$H_INT4" denied.test
h_assert_json "$H_RUN_OUT" ".ok and .rcode == 5 and .us < $H_AT_ONCE_US" "hush run: denied name refused at once"
h_assert_json "$H_TMP/run2.events" '.hook == "dns" and .verdict == "deny" and .qname == "denied.test"' \
	"hush run: the denied query is an event"
h_hush_run_capture run3 "$runcg" --policy "$runpol" -- sh -c \
	"$DNSQ $H_INT4 app.corp.test >/dev/null && $NETPROBE connect $WEB4 8080"
h_assert_json "$H_RUN_OUT" '.result == "ok"' "hush run: allow host learned through its proxy"

# -- a resolver that does not answer: SERVFAIL from the proxy, before the
#    client's own timeout (nothing listens on the forbidden host's port 53) --
deadpol=$(h_policy dead.policy <<EOF
resolver $H_FORB4
allow dns exact.test
EOF
)
h_hush_run_capture run4 "$runcg" --policy "$deadpol" -- "$DNSQ" --timeout-ms 8000 "$H_INT4" exact.test
h_assert_json "$H_RUN_OUT" '.ok and .rcode == 2 and .us < 6000000' \
	"silent resolver: SERVFAIL after the proxy's upstream timeout"
: "$dnsmasq_pid"
h_done
