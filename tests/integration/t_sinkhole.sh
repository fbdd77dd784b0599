#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# (SC2016: the sh -c scripts below expand their $variables inside the sinkhole.)
# shellcheck disable=SC2016
#
# The sinkhole (agent/sinkhole.c) with real clients, through
# tests/tools/sinkcheck: its DNS hands out a distinct pool address per name
# (UDP and TCP, any resolver address, malformed queries answered FORMERR,
# responses never answered), and its catcher records what clients send
# first: HTTP method, path and Host from curl, TLS SNI from openssl s_client
# and curl, connections that say nothing, connections to literal addresses.
# Names are mapped back from the address connected to.  The C library's own
# resolver goes through it too (--resolv).  Two sinkholes run at once in one
# process and in two processes, each seeing only its own clients.  Nothing
# lingers: no namespace, link, rule or temporary file, and the test
# namespace itself is gone once sinkcheck exits.
#
# Safety: the sinkhole makes its own two anonymous namespaces joined by one
# veth; the clients run in the test one, whose only route leads into the
# sinkhole one, which has no route anywhere.  The harness namespaces are not
# needed.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init sinkhole
h_require_tools curl openssl stat getent
SINKCHECK=$OUTPUT/tests/sinkcheck
DNSQ=$OUTPUT/tests/dnsq
[ -x "$SINKCHECK" ] || h_skip_or_fail "$H_NAME" "$SINKCHECK not built (make all)"
[ -x "$DNSQ" ] || h_skip_or_fail "$H_NAME" "$DNSQ not built (make all)"
export DNSQ

# What the host namespace looks like before, to compare at the end: link and
# netns names (only additions count: other tests may come and go meanwhile),
# rules, resolver files and the sysctls the sinkhole sets in its own
# namespaces.
host_names() {
	ip -o link | awk -F': ' '{ print "link " $2 }' | sed 's/@.*//'
	ip netns list 2>/dev/null | awk '{ print "netns " $1 }'
}
host_state() {
	ip rule
	ip -6 rule
	sha1sum /etc/resolv.conf /etc/nsswitch.conf
	sysctl net.ipv4.conf.all.rp_filter net.ipv4.conf.default.rp_filter \
		net.ipv6.conf.default.accept_dad net.ipv6.conf.default.accept_ra \
		net.ipv6.conf.all.accept_ra net.ipv6.conf.default.disable_ipv6 2>/dev/null
}
host_names | sort >"$H_TMP/names.before"
host_state >"$H_TMP/host.before"

# recs FILE FILTER: records of a sinkcheck run matching FILTER (jq).
recs() {
	jq -c "select(.event == \"record\") | select($2)" "$1" 2>/dev/null
}

# expect_rec NAME FILE FILTER: PASS if some record matches.
expect_rec() {
	local name=$1 file=$2 filter=$3
	if [ -n "$(recs "$file" "$filter")" ]; then
		h_pass "$name"
	else
		h_fail "$name" "no record with $filter in $(grep -c '"record"' "$file") records: $(grep '"record"' "$file" | tail -n 4 | tr '\n' ' ')"
	fi
}

# ---- the parsers alone ----

if out=$("$SINKCHECK" --selftest --fuzz 100000 2>&1); then
	h_pass "TLS and HTTP parsers: crafted, every prefix, 100000 mutations ($out)"
else
	h_fail "TLS and HTTP parsers" "$out"
fi

# ---- one sinkhole, real clients ----

D=$H_TMP/main
mkdir -p "$D"
cat >"$H_TMP/client.sh" <<'EOF'
# Runs in the sinkhole's test namespace: ask the sinkhole's DNS, then talk
# to what it handed out.  $1: where to put the results.
d=$1
R=$SINKHOLE_RESOLVER
stat -L -c %i /proc/self/ns/net >"$d/netns.ino"
ip -o link >"$d/t.links"
ip route >"$d/t.routes"
ip -6 route >>"$d/t.routes"
# A connection that never says anything (overlaps the rest).
timeout 5 bash -c 'exec 3<>/dev/tcp/198.19.0.1/2200 && sleep 2.5' &
silent=$!
"$DNSQ" "$R" models.example.test >"$d/q.models.json"
"$DNSQ" "$R" huggingface.co >"$d/q.hf.json"
"$DNSQ" "$R" MODELS.example.TEST >"$d/q.models2.json"
"$DNSQ" "$R" models.example.test AAAA >"$d/q.models6.json"
"$DNSQ" "$R" models.example.test TXT >"$d/q.txt.json"
"$DNSQ" --tcp "$R" tcp.example.test >"$d/q.tcp.json"
"$DNSQ" 192.0.2.53 any-resolver.example.test >"$d/q.google.json"
"$DNSQ" --raw 0102030405 "$R" x >"$d/q.garbage.json"
"$DNSQ" --timeout-ms 300 --raw 123481800001000000000000037777770000010001 "$R" x \
	>"$d/q.response.json"
"$DNSQ" "$R" after-garbage.example.test >"$d/q.after.json"
m=$(jq -r '.answers[0]' "$d/q.models.json")
h=$(jq -r '.answers[0]' "$d/q.hf.json")
curl -s --max-time 3 -o "$d/http.body" -w '%{http_code}' \
	--resolve "models.example.test:8080:$m" http://models.example.test:8080/v1/weights \
	>"$d/http.code"
openssl s_client -connect "$h:443" -servername huggingface.co </dev/null >"$d/openssl.out" 2>&1
curl -sk --max-time 3 --resolve "huggingface.co:443:$h" https://huggingface.co/ \
	>"$d/curl-tls.out" 2>&1
curl -s --max-time 3 -o /dev/null -w '%{http_code}' http://203.0.113.9/literal >"$d/literal.code"
wait "$silent"
exit 0
EOF

timeout 60 "$SINKCHECK" -- sh "$H_TMP/client.sh" "$D" >"$D/out.jsonl" 2>"$D/err"
rc=$?
if [ "$rc" = 0 ] && grep -q '"event":"done"' "$D/out.jsonl"; then
	h_pass "sinkcheck ran the clients (exit 0)"
else
	h_fail "sinkcheck ran the clients" "exit $rc: $(tail -n 5 "$D/err" | tr '\n' ' ')"
	h_done
fi

# The test namespace: lo and the veth, default routes into the sinkhole.
if [ "$(awk -F': ' '{ print $2 }' "$D/t.links" | sed 's/@.*//' | sort | tr '\n' ' ')" = "hush-sink lo " ] &&
	grep -q '^default via 198.19.0.1 dev hush-sink' "$D/t.routes" &&
	grep -q '^default via fd68:7573:6800:1::1 dev hush-sink' "$D/t.routes" &&
	[ "$(grep -c '^default' "$D/t.routes")" = 2 ]; then
	h_pass "test namespace: only lo and hush-sink, default routes via the sinkhole"
else
	h_fail "test namespace" "links: $(tr '\n' ' ' <"$D/t.links"); routes: $(tr '\n' ' ' <"$D/t.routes")"
fi

# DNS: pool addresses, distinct per name, stable, case-insensitive.
m=$(h_json_get "$(cat "$D/q.models.json")" '.answers[0]' none)
hf=$(h_json_get "$(cat "$D/q.hf.json")" '.answers[0]' none)
m2=$(h_json_get "$(cat "$D/q.models2.json")" '.answers[0]' none)
m6=$(h_json_get "$(cat "$D/q.models6.json")" '.answers[0]' none)
if [[ $m == 198.19.1[2-9][0-9].* || $m == 198.19.2[0-5][0-9].* ]] &&
	[[ $hf == 198.19.1[2-9][0-9].* || $hf == 198.19.2[0-5][0-9].* ]] && [ "$m" != "$hf" ]; then
	h_pass "DNS A: pool addresses, distinct per name ($m, $hf)"
else
	h_fail "DNS A: pool addresses, distinct per name" "models $m, huggingface.co $hf"
fi
if [ "$m2" = "$m" ]; then
	h_pass "DNS: the same name (any case) gets the same address"
else
	h_fail "DNS: the same name (any case) gets the same address" "$m2 != $m"
fi
if [[ $m6 == fd68:7573:6800:80::* ]]; then
	h_pass "DNS AAAA: pool address $m6"
else
	h_fail "DNS AAAA: pool address" "$m6"
fi
h_assert_json "$(cat "$D/q.txt.json")" '.rcode == 0 and (.answers | length) == 0' \
	"DNS TXT: NOERROR, no answer"
h_assert_json "$(cat "$D/q.tcp.json")" '.rcode == 0 and (.answers[0] | startswith("198.19."))' \
	"DNS over TCP"
h_assert_json "$(cat "$D/q.google.json")" \
	'.rcode == 0 and (.answers[0] | startswith("198.19.")) and .from == "192.0.2.53:53"' \
	"DNS to any resolver address (192.0.2.53) is answered by the sinkhole, from that address"
h_assert_json "$(cat "$D/q.garbage.json")" '.rcode == 1' "DNS: garbage query gets FORMERR"
h_assert_json "$(cat "$D/q.response.json")" '.ok == false and .errno == 11' \
	"DNS: a response is never answered"
h_assert_json "$(cat "$D/q.after.json")" '.rcode == 0 and (.answers | length) == 1' \
	"DNS: still answering after malformed input"
expect_rec "record: dns models.example.test A, both queries (any case) in one record" \
	"$D/out.jsonl" \
	'.kind == "dns" and .proto == "udp" and .qname == "models.example.test" and .qtype == "A" and .rcode == "NOERROR" and .daddr == "198.19.0.1" and .dport == 53 and .count == 2 and .last_ns > .ts_ns'
expect_rec "record: dns over tcp" "$D/out.jsonl" \
	'.kind == "dns" and .proto == "tcp" and .qname == "tcp.example.test"'
expect_rec "record: dns FORMERR" "$D/out.jsonl" '.kind == "dns" and .rcode == "FORMERR"'

# HTTP: method, path, Host; the client got a 503; the name behind the address.
code=$(cat "$D/http.code" 2>/dev/null)
if [ "$code" = 503 ]; then
	h_pass "curl http: answered 503"
else
	h_fail "curl http: answered 503" "got '$code'"
fi
expect_rec "record: http GET /v1/weights Host models.example.test:8080, qname from the address" \
	"$D/out.jsonl" \
	".kind == \"tcp\" and .proto == \"http\" and .method == \"GET\" and .path == \"/v1/weights\" and .host == \"models.example.test:8080\" and .daddr == \"$m\" and .dport == 8080 and .qname == \"models.example.test\""

# TLS: SNI from openssl s_client and from curl.
n=$(recs "$D/out.jsonl" ".kind == \"tcp\" and .proto == \"tls\" and .sni == \"huggingface.co\" and .daddr == \"$hf\" and .dport == 443 and .qname == \"huggingface.co\"" |
	jq -s 'map(.count) | add // 0')
if [ "$n" -ge 2 ]; then
	h_pass "record: tls SNI huggingface.co from openssl and curl (count $n)"
else
	h_fail "record: tls SNI huggingface.co from openssl and curl" "count $n: $(recs "$D/out.jsonl" '.proto == "tls"' | tr '\n' ' ')"
fi
if grep -qi 'alert handshake failure' "$D/openssl.out"; then
	h_pass "openssl: the sinkhole ended the handshake with an alert"
else
	h_fail "openssl: handshake alert" "$(tail -n 3 "$D/openssl.out" | tr '\n' ' ')"
fi

# Any address: a literal one nobody resolved.
expect_rec "record: http to a literal address (203.0.113.9:80), no name" "$D/out.jsonl" \
	'.kind == "tcp" and .proto == "http" and .daddr == "203.0.113.9" and .dport == 80 and .path == "/literal" and .qname == ""'
# Silence: connected, said nothing, timed out.
expect_rec "record: a connection that says nothing" "$D/out.jsonl" \
	'.kind == "tcp" and .proto == "none" and .daddr == "198.19.0.1" and .dport == 2200 and .first_bytes == 0'

# The test namespace is gone: no process and no fd holds it.
ino=$(cat "$D/netns.ino" 2>/dev/null)
if [ -n "$ino" ] &&
	! find /proc/[0-9]*/ns/net /proc/[0-9]*/fd -maxdepth 1 -lname "net:\[$ino\]" 2>/dev/null | grep -q .; then
	h_pass "the test namespace (net:[$ino]) is gone after sinkcheck exits"
else
	h_fail "the test namespace is gone" "inode '$ino' still held: $(find /proc/[0-9]*/ns/net /proc/[0-9]*/fd -maxdepth 1 -lname "net:\[$ino\]" 2>/dev/null | head -n 3 | tr '\n' ' ')"
fi

# ---- the C library's resolver, through the sinkhole only ----

D=$H_TMP/resolv
mkdir -p "$D"
TMPDIR=$D timeout 60 "$SINKCHECK" --resolv -- sh -c '
	getent ahostsv4 api.example.test >"$1/getent" 2>&1
	curl -s --max-time 3 -o /dev/null -w "%{http_code}" http://api.example.test:8080/p >"$1/code"
' _ "$D" >"$D/out.jsonl" 2>"$D/err"
rc=$?
a=$(awk 'NR == 1 { print $1 }' "$D/getent" 2>/dev/null)
if [ "$rc" = 0 ] && [[ $a == 198.19.* ]] && [ "$(cat "$D/code" 2>/dev/null)" = 503 ]; then
	h_pass "--resolv: getaddrinfo resolves api.example.test to $a, curl gets 503"
else
	h_fail "--resolv: getaddrinfo through the sinkhole" "rc $rc, getent '$(head -c 200 "$D/getent" 2>/dev/null)', code '$(cat "$D/code" 2>/dev/null)': $(tail -n 3 "$D/err" | tr '\n' ' ')"
fi
if [ -z "$(find "$D" -name 'sinkcheck.*')" ]; then
	h_pass "--resolv: its temporary resolv.conf and nsswitch.conf are removed"
else
	h_fail "--resolv: temporary files removed" "$(find "$D" -name 'sinkcheck.*' | tr '\n' ' ')"
fi
expect_rec "--resolv: record dns api.example.test" "$D/out.jsonl" \
	'.kind == "dns" and .qname == "api.example.test"'
expect_rec "--resolv: record http Host api.example.test:8080 with its name" "$D/out.jsonl" \
	'.kind == "tcp" and .host == "api.example.test:8080" and .path == "/p" and .qname == "api.example.test"'

# ---- two sinkholes at once ----

# In one process: each sees only its own client.
D=$H_TMP/inst
mkdir -p "$D"
timeout 60 "$SINKCHECK" --instances 2 -- sh -c '
	a=$("$DNSQ" "$SINKHOLE_RESOLVER" "inst$SINKHOLE_INSTANCE.example.test" | jq -r ".answers[0]")
	curl -s --max-time 3 -o /dev/null --resolve "inst$SINKHOLE_INSTANCE.example.test:80:$a" \
		"http://inst$SINKHOLE_INSTANCE.example.test/"
' >"$D/out.jsonl" 2>"$D/err"
rc=$?
ok=1
for i in 0 1; do
	o=$((1 - i))
	[ -n "$(recs "$D/out.jsonl" ".instance == $i and .kind == \"tcp\" and .host == \"inst$i.example.test\" and .qname == \"inst$i.example.test\"")" ] || ok=0
	[ -z "$(recs "$D/out.jsonl" ".instance == $i and ((.qname | contains(\"inst$o\")) or (.host | contains(\"inst$o\")))")" ] || ok=0
done
if [ "$rc" = 0 ] && [ "$ok" = 1 ]; then
	h_pass "two sinkholes in one process, each sees only its own client"
else
	h_fail "two sinkholes in one process" "rc $rc: $(grep -E '"record"|"done"' "$D/out.jsonl" | tr '\n' ' ') $(tail -n 3 "$D/err" | tr '\n' ' ')"
fi

# In two processes at once.
D=$H_TMP/par
mkdir -p "$D"
pids=()
for i in 1 2; do
	timeout 60 "$SINKCHECK" -- sh -c '
		a=$("$DNSQ" "$SINKHOLE_RESOLVER" "par$1.example.test" | jq -r ".answers[0]")
		curl -s --max-time 3 -o /dev/null --resolve "par$1.example.test:80:$a" \
			"http://par$1.example.test/p$1"
	' _ "$i" >"$D/out.$i.jsonl" 2>"$D/err.$i" &
	pids+=($!)
	H_PIDS+=($!)
done
ok=1
why=
for i in 1 2; do
	wait "${pids[$((i - 1))]}" || {
		ok=0
		why="$why sinkcheck $i failed: $(tail -n 2 "$D/err.$i" | tr '\n' ' ');"
	}
	o=$((3 - i))
	[ -n "$(recs "$D/out.$i.jsonl" ".kind == \"tcp\" and .host == \"par$i.example.test\" and .path == \"/p$i\" and .qname == \"par$i.example.test\"")" ] ||
		{ ok=0; why="$why no record in run $i;"; }
	[ -z "$(recs "$D/out.$i.jsonl" "(.qname | contains(\"par$o\")) or (.host | contains(\"par$o\"))")" ] ||
		{ ok=0; why="$why run $i saw run $o;"; }
done
if [ "$ok" = 1 ]; then
	h_pass "two sinkcheck processes at once, each sees only its own client"
else
	h_fail "two sinkcheck processes at once" "$why"
fi

# Start and stop in a loop: no fd or thread is left behind in the process.
out=$(timeout 60 "$SINKCHECK" --cycles 20 -- true 2>&1 | grep '"cycles"')
h_assert_json "$out" '.fds_before == .fds_after and .threads_before == .threads_after' \
	"20 sinkholes started and stopped: no fd or thread left in the process"

# ---- nothing lingers ----

host_state >"$H_TMP/host.after"
host_names | sort >"$H_TMP/names.after"
# Other tests' namespaces (harness hh-/hi-/hf-, benchmarks hush-bench-) may
# appear meanwhile; the sinkhole's are anonymous and never listed.
added=$(comm -13 "$H_TMP/names.before" "$H_TMP/names.after" | grep -Ev '^netns (h[hif]-|hush-bench-)')
if [ -z "$added" ] && cmp -s "$H_TMP/host.before" "$H_TMP/host.after"; then
	h_pass "host namespace unchanged: no new link or netns; rules, resolv.conf, nsswitch.conf, sysctls"
else
	h_fail "host namespace unchanged" "added: $(echo "$added" | tr '\n' ' '); $(diff "$H_TMP/host.before" "$H_TMP/host.after" | tr '\n' ' ')"
fi

h_done
