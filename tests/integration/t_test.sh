#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# hush test: the network silence test for CI gates.  Each case runs `hush
# test` in the harness's host namespace (every command it tests sends only
# to the harness's private int/forb hosts or loopback) and checks the exit
# code, the JSON and JUnit reports and the human summary.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init test
h_require_hush
h_require_netprobe
h_require_tools xmllint
DNSQ=$OUTPUT/tests/dnsq
XSD=$(cd "$(dirname "$0")" && pwd)/junit.xsd
h_netns_up
tcg=$(h_cgroup_create tests)
h_listen "$H_NS_INT" tcp :: 443

# ht TAG [HUSH TEST OPTIONS] -- CMD...: run `hush test` (JSON and JUnit into
# $H_TMP/TAG.json, .xml); HT_RC, HT_JSON, HT_OUT.
ht() {
	local tag=$1
	shift
	h_cgroup_run "$H_CG_AUX" "$HUSH" test --cgroup-parent "$tcg" --json "$H_TMP/$tag.json" \
		--junit "$H_TMP/$tag.xml" "$@" >"$H_TMP/$tag.out" 2>"$H_TMP/$tag.err" </dev/null
	HT_RC=$?
	HT_JSON=$(cat "$H_TMP/$tag.json" 2>/dev/null)
	HT_OUT=$(cat "$H_TMP/$tag.out")
}

# rc NAME WANT: the last ht exited WANT.
rc() {
	if [ "$HT_RC" = "$2" ]; then
		h_pass "$1: exit $2"
	else
		h_fail "$1: exit $2" "exit $HT_RC; out: $HT_OUT; err: $(tail -n 3 "$H_TMP/$3.err" 2>/dev/null | tr '\n' ' ')"
	fi
}

# junit NAME TAG: the JUnit report validates against the schema.
junit() {
	if xmllint --noout --schema "$XSD" "$H_TMP/$2.xml" 2>"$H_TMP/$2.xmllint"; then
		h_pass "$1: JUnit valid"
	else
		h_fail "$1: JUnit valid" "$(tr '\n' ' ' <"$H_TMP/$2.xmllint")"
	fi
}

# -- silent --
ht silent -- /bin/true
rc "silent command" 0 silent
h_assert_json "$HT_JSON" '.result == "silent" and .attempts == [] and .dropped_events == 0 and .command == ["/bin/true"] and (.duration_ms | type == "number") and .exit_code == 0' \
	"silent command: JSON"
junit "silent command" silent
if grep -q '<testcase classname="hush.test" name="/bin/true"' "$H_TMP/silent.xml" &&
	! grep -q '<failure' "$H_TMP/silent.xml"; then
	h_pass "silent command: one passing test case"
else
	h_fail "silent command: one passing test case" "$(cat "$H_TMP/silent.xml")"
fi
if printf '%s\n' "$HT_OUT" | grep -q '^hush test: SILENT (/bin/true: '; then
	h_pass "silent command: verdict line"
else
	h_fail "silent command: verdict line" "$HT_OUT"
fi

# -- a command that connects --
ht connect -- "$NETPROBE" connect "$H_FORB4" 443 --timeout-ms 500
rc "connecting command" 1 connect
h_assert_json "$HT_JSON" ".result == \"noisy\" and (.attempts | length) == 1 and (.attempts[0] | .hook == \"connect4\" and .proto == \"tcp\" and .daddr == \"$H_FORB4\" and .dport == 443 and .verdict == \"deny\" and .count == 1 and .qname == null and (.pid > 0) and .comm == \"netprobe\" and (.exe | endswith(\"netprobe\")) and .cmdline[1] == \"connect\" and (.ts | test(\"Z$\")))" \
	"connecting command: the attempt with process and destination"
junit "connecting command" connect
if grep -q '<failure message="noisy: 1 attempt outside the policy" type="noisy">' "$H_TMP/connect.xml" &&
	grep -q "tcp $H_FORB4:443 deny x1" "$H_TMP/connect.xml"; then
	h_pass "connecting command: JUnit failure lists the attempt"
else
	h_fail "connecting command: JUnit failure lists the attempt" "$(cat "$H_TMP/connect.xml")"
fi
if printf '%s\n' "$HT_OUT" | grep -q '^hush test: NOISY, 1 attempt outside the policy' &&
	printf '%s\n' "$HT_OUT" | grep -q "^  tcp $H_FORB4:443: 1 attempt, denied" &&
	printf '%s\n' "$HT_OUT" | grep -q 'pid [0-9]* netprobe .*netprobe: .*netprobe connect'; then
	h_pass "connecting command: human report grouped by destination"
else
	h_fail "connecting command: human report grouped by destination" "$HT_OUT"
fi

# -- a command that only resolves a name (default policy: no names) --
ht resolve -- "$DNSQ" "$H_INT4" models.example.test AAAA
rc "resolving command" 1 resolve
h_assert_json "$HT_JSON" ".result == \"noisy\" and (.attempts | length) == 1 and (.attempts[0] | .hook == \"dns\" and .qname == \"models.example.test\" and .qtype == \"AAAA\" and .daddr == \"$H_INT4\" and .dport == 53 and (.exe | endswith(\"dnsq\")))" \
	"resolving command: the name asked is the attempt"
h_assert_json "$(grep '^{' "$H_TMP/resolve.out")" ".rcode == 5 and .us < $H_AT_ONCE_US" \
	"resolving command: refused at once"

# -- a socket the policy gives no use but loopback (ping socket, raw ICMP) --
#    Raw sockets need CAP_NET_RAW, which the command keeps only on purpose.
ht rawdrop -- "$NETPROBE" ping 127.0.0.1
if grep -q '"stage":"socket".*"errno":"EPERM"\|"errno":"EPERM".*"stage":"socket"' "$H_TMP/rawdrop.out"; then
	h_pass "raw socket: refused without --keep-cap CAP_NET_RAW"
else
	h_fail "raw socket: refused without --keep-cap CAP_NET_RAW" "$(cat "$H_TMP/rawdrop.out")"
fi
ht sock --keep-cap CAP_NET_RAW -- "$NETPROBE" ping 127.0.0.1
rc "ping socket" 1 sock
h_assert_json "$HT_JSON" '(.attempts | length) == 1 and (.attempts[0] | .hook == "sock_create" and .proto == "icmp" and .daddr == null and .verdict == "audit" and (.exe | endswith("netprobe")))' \
	"ping socket: its creation is an attempt"
if grep -q '"result":"ok"' "$H_TMP/sock.out"; then
	h_pass "ping socket: loopback still answers"
else
	h_fail "ping socket: loopback still answers" "$(cat "$H_TMP/sock.out")"
fi
ipol=$(h_policy icmp.policy <<EOF
allow $H_INT4
EOF
)
ht sockok --keep-cap CAP_NET_RAW --policy "$ipol" -- "$NETPROBE" ping "$H_INT4"
rc "ping socket: a policy that allows ICMP somewhere" 0 sockok

# -- a grandchild that phones home after its parent exited --
ht grandchild -- sh -c "(sleep 0.5; exec $NETPROBE connect $H_FORB4 443 --timeout-ms 500 >/dev/null) & exit 0"
rc "grandchild after its parent exited" 1 grandchild
h_assert_json "$HT_JSON" ".attempts[0].daddr == \"$H_FORB4\" and .exit_code == 0 and .duration_ms >= 400" \
	"grandchild after its parent exited: caught"

# -- phones home only after 2 s --
ht late -- sh -c "sleep 2; exec $NETPROBE connect $H_FORB4 443 --timeout-ms 500"
rc "phones home after 2 s" 1 late
h_assert_json "$HT_JSON" '.attempts[0].hook == "connect4" and .duration_ms >= 2000' \
	"phones home after 2 s: caught"

# -- timeout --
ht timeout --timeout 1s -- sh -c "sleep 3; exec $NETPROBE connect $H_FORB4 443"
rc "timeout: stopped before its attempt" 0 timeout
h_assert_json "$HT_JSON" '.timed_out == true and .duration_ms >= 900 and .duration_ms < 2500 and .attempts == []' \
	"timeout: stopped at 1 s, everything killed"
ht timeout2 --timeout 0.5x -- /bin/true
rc "bad --timeout" 2 timeout2

# -- --ready --
ht ready --ready tcp:18080 --timeout 2s -- "$NETPROBE" listen-tcp 127.0.0.1 18080
rc "--ready tcp: a service that comes up" 0 ready
h_assert_json "$HT_JSON" '(.ready_ms | type == "number") and .timed_out == true' "--ready tcp: ready time reported"
ht notready --ready tcp:18081 --timeout 1s -- sleep 5
rc "--ready tcp: never ready" 2 notready
h_assert_json "$HT_JSON" '.result == "error" and .ready_ms == null and (.error | test("never became ready"))' \
	"--ready tcp: never ready is an error"
junit "--ready tcp: never ready" notready
ht readycmd --ready "test -e $H_TMP/ready.flag" --timeout 2s -- sh -c "sleep 0.5; touch $H_TMP/ready.flag; sleep 5"
rc "--ready CMD" 0 readycmd
h_assert_json "$HT_JSON" '.ready_ms >= 400' "--ready CMD: ready once the command succeeds"

# -- audit mode lets attempts through and records them --
ht audit --mode audit -- "$NETPROBE" connect "$H_INT4" 443 --timeout-ms 1000
rc "audit mode" 1 audit
h_assert_json "$HT_JSON" ".mode == \"audit\" and .attempts[0].verdict == \"audit\" and .attempts[0].daddr == \"$H_INT4\"" \
	"audit mode: recorded as audit"
if grep -q '"result":"ok"' "$H_TMP/audit.out"; then
	h_pass "audit mode: the connection went through"
else
	h_fail "audit mode: the connection went through" "$(cat "$H_TMP/audit.out")"
fi

# -- a policy: allowed destinations are not attempts --
pol=$(h_policy t.policy <<EOF
allow $H_INT4 tcp 443
EOF
)
ht policy --policy "$pol" -- sh -c "$NETPROBE connect $H_INT4 443 && $NETPROBE connect $H_FORB4 443 --timeout-ms 300; exit 0"
rc "policy: only what it does not allow" 1 policy
h_assert_json "$HT_JSON" "(.attempts | length) == 1 and .attempts[0].daddr == \"$H_FORB4\"" \
	"policy: the allowed connect is not an attempt"

# -- coalescing: repeats by one process to one destination are one attempt --
ht repeat -- "$NETPROBE" sendto "$H_FORB4" 9 --count 50
rc "repeats" 1 repeat
h_assert_json "$HT_JSON" '(.attempts | length) == 1 and .attempts[0].count >= 1 and .attempts_total == .attempts[0].count' \
	"repeats: coalesced with a count"

# -- inconclusive: events lost --
ht lost --ringbuf-size 4096 -- "$NETPROBE" storm "$H_FORB4" 9 --count 200000 --ports 1000
rc "events lost" 3 lost
h_assert_json "$HT_JSON" '.result == "inconclusive" and .dropped_events > 0' "events lost: inconclusive, dropped_events counted"
junit "events lost" lost

# -- usage --
ht usage --mode loud -- /bin/true
rc "usage error" 2 usage
ht noexec -- /nonexistent/cmd
rc "a command that cannot start" 2 noexec

# -- CI semantics: the command's own exit status --
ht exit7 -- sh -c 'exit 7'
rc "a command that exits 7 on its own" 2 exit7
h_assert_json "$HT_JSON" '.result == "error" and .exit_code == 7 and .exit_signal == null and .stopped_by_hush == false and (.error | test("status 7"))' \
	"exit 7: an error naming the status"
junit "exit 7" exit7
if grep -q '<error message="error: the command exited with status 7' "$H_TMP/exit7.xml"; then
	h_pass "exit 7: a JUnit error"
else
	h_fail "exit 7: a JUnit error" "$(cat "$H_TMP/exit7.xml")"
fi
ht exit7i --ignore-exit-status -- sh -c 'exit 7'
rc "--ignore-exit-status" 0 exit7i
h_assert_json "$HT_JSON" '.result == "silent" and .exit_code == 7 and .exit_status_ignored == true and .error == null' \
	"--ignore-exit-status: silent, the status still reported"
ht exit7n -- sh -c "$NETPROBE connect $H_FORB4 443 --timeout-ms 300; exit 7"
rc "exit 7 after an attempt: noisy wins" 1 exit7n
ht exitsig -- sh -c 'kill -USR1 $$'
rc "killed by a signal on its own" 2 exitsig
h_assert_json "$HT_JSON" '.exit_signal == 10 and (.error | test("signal 10"))' "killed by a signal: named"
ht stopped --timeout 0.5s -- sh -c 'sleep 5; exit 7'
rc "stopped by hush at the timeout: not failed on its own" 0 stopped
h_assert_json "$HT_JSON" '.timed_out == true and .stopped_by_hush == true and .exit_code != 0' \
	"stopped at the timeout: its status is hush's doing"

# -- graceful stop: SIGTERM to every process, --grace, then cgroup.kill --
ht grace --timeout 1s --grace 3s -- sh -c "trap '$NETPROBE connect $H_FORB4 443 --timeout-ms 300 >/dev/null; exit 0' TERM; sleep 30 & wait"
rc "an attempt during the grace counts" 1 grace
h_assert_json "$HT_JSON" ".timed_out == true and .attempts[0].daddr == \"$H_FORB4\" and .duration_ms < 2900" \
	"an attempt during the grace: caught, ended before the grace ran out"
ht graceig --timeout 0.5s --grace 1s -- sh -c "trap '' TERM; sleep 30"
rc "SIGTERM ignored: killed after the grace" 0 graceig
h_assert_json "$HT_JSON" '.timed_out == true and .duration_ms >= 1300 and .duration_ms < 3500' \
	"SIGTERM ignored: killed after --grace"
ht grace0 --grace 0.5x -- /bin/true
rc "bad --grace" 2 grace0

# -- --observe: a service that never exits is watched, then stopped --
ht observe --ready tcp:18082 --observe 1s --timeout 30s -- "$NETPROBE" listen-tcp 127.0.0.1 18082
rc "--observe: a service, silent" 0 observe
h_assert_json "$HT_JSON" '.result == "silent" and .timed_out == false and .stopped_by_hush == true and .observe_ms == 1000 and .duration_ms >= 1000 and .duration_ms < 10000 and (.ready_ms | type == "number")' \
	"--observe: stopped DUR after ready, not an error"
if grep -q 'stopped after --observe' "$H_TMP/observe.out"; then
	h_pass "--observe: the summary says why it stopped"
else
	h_fail "--observe: the summary says why it stopped" "$(cat "$H_TMP/observe.out")"
fi
ht observen --ready tcp:18083 --observe 2s --timeout 30s -- sh -c "$NETPROBE listen-tcp 127.0.0.1 18083 & sleep 1; $NETPROBE connect $H_FORB4 443 --timeout-ms 300; wait"
rc "--observe: an attempt while observed" 1 observen

# -- --name, the one-line default, --ready's output --
ht named --name "image gate: models" -- /bin/true
junit "--name" named
if grep -q '<testcase classname="hush.test" name="image gate: models"' "$H_TMP/named.xml"; then
	h_pass "--name: the JUnit test case"
else
	h_fail "--name: the JUnit test case" "$(cat "$H_TMP/named.xml")"
fi
h_assert_json "$HT_JSON" '.name == "image gate: models"' "--name: in the JSON report"
ht oneline -- sh -c 'true
	true'
if grep -q '<testcase classname="hush.test" name="sh -c true true"' "$H_TMP/oneline.xml"; then
	h_pass "the default name is the command on one line"
else
	h_fail "the default name is the command on one line" "$(cat "$H_TMP/oneline.xml")"
fi
ht readyout --ready "echo PROBE-SAYS; echo PROBE-ERR >&2" --timeout 5s -- sleep 0.5
rc "--ready CMD with output" 0 readyout
if grep -q PROBE- "$H_TMP/readyout.out" "$H_TMP/readyout.err"; then
	h_fail "--ready CMD: its output kept out of the report" "$(cat "$H_TMP/readyout.out")"
else
	h_pass "--ready CMD: its output kept out of the report"
fi

# -- the command's environment: its cgroup and the test's id --
# shellcheck disable=SC2016 # expands in the command
ht env -- sh -c 'echo "cg=$HUSH_TEST_CGROUP"; echo "id=$HUSH_TEST_ID"'
rc "environment: test ran" 0 env
ecg=$(sed -n 's/^cg=//p' "$H_TMP/env.out")
eid=$(sed -n 's/^id=//p' "$H_TMP/env.out")
if [[ -n $ecg && -n $eid && $ecg == */"$eid" && "$tcg/$eid" == *"$ecg" ]]; then
	h_pass "environment: HUSH_TEST_CGROUP below --cgroup-parent, HUSH_TEST_ID its name"
else
	h_fail "environment: HUSH_TEST_CGROUP below --cgroup-parent, HUSH_TEST_ID its name" "cg=$ecg id=$eid tcg=$tcg"
fi
h_assert_json "$HT_JSON" ".cgroup == \"$ecg\" and .test_id == \"$eid\"" "environment: the same in the JSON report"

# -- a container engine as the command: refused before anything starts --
mkdir -p "$H_TMP/bin"
printf '#!/bin/sh\ntouch %s/docker.ran\n' "$H_TMP" >"$H_TMP/bin/docker"
chmod +x "$H_TMP/bin/docker"
ht docker -- "$H_TMP/bin/docker" run --rm alpine wget example.com
rc "docker run: refused" 2 docker
# shellcheck disable=SC2016 # backquotes as the message has them
if grep -q '`docker run` would start its container outside this test.s cgroup.*--image' "$H_TMP/docker.err" &&
	[ ! -e "$H_TMP/docker.ran" ]; then
	h_pass "docker run: refused before it ran, naming --image"
else
	h_fail "docker run: refused before it ran, naming --image" "$(cat "$H_TMP/docker.err")"
fi
ht docker2 -- env FOO=1 "$H_TMP/bin/docker" -H unix:///x container run alpine
rc "env ... docker -H X container run: refused" 2 docker2
ht docker3 -- "$H_TMP/bin/docker" ps
rc "docker ps: runs" 0 docker3
if [ -e "$H_TMP/docker.ran" ]; then
	h_pass "docker ps: not refused"
else
	h_fail "docker ps: not refused" "$(cat "$H_TMP/docker3.err")"
fi

# -- a process moved out of the test's cgroup makes the run noisy --
mvcg=$(h_cgroup_create moved)
rm -f "$H_TMP/mv.pid"
ht moved --timeout 10s -- sh -c "sleep 5 & echo \$! >$H_TMP/mv.pid; wait" &
mvjob=$!
for _ in $(seq 50); do [ -s "$H_TMP/mv.pid" ] && break; sleep 0.1; done
cat "$H_TMP/mv.pid" >"$mvcg/cgroup.procs" 2>/dev/null
wait $mvjob
HT_RC=$(jq -r '.result' "$H_TMP/moved.json" 2>/dev/null)
if [ "$HT_RC" = noisy ] && jq -e '.attempts[] | select(.hook == "cgroup_move")' "$H_TMP/moved.json" >/dev/null; then
	h_pass "a process moved out of the cgroup: noisy"
else
	h_fail "a process moved out of the cgroup: noisy" "$(cat "$H_TMP/moved.json" "$H_TMP/moved.err" 2>/dev/null)"
fi
kill "$(cat "$H_TMP/mv.pid")" 2>/dev/null

# -- containment: capabilities, --user, --keep-cap in the report --
ht caps -- sh -c 'grep -E "^(CapEff|CapBnd|NoNewPrivs):" /proc/self/status; sed -n "s/^0:://p" /proc/self/cgroup'
rc "containment: test ran" 0 caps
eff=$(awk '$1 == "CapEff:" { print $2 }' "$H_TMP/caps.out")
bnd=$(awk '$1 == "CapBnd:" { print $2 }' "$H_TMP/caps.out")
if [ -n "$eff" ] && (((0x$eff & 0xc0002b3000) == 0 && (0x$bnd & 0xc0002b3000) == 0)) &&
	grep -q '^NoNewPrivs:.1' "$H_TMP/caps.out" && grep -qx / "$H_TMP/caps.out"; then
	h_pass "containment: no CAP_SYS_ADMIN, CAP_BPF, ... NoNewPrivs, own cgroup namespace"
else
	h_fail "containment: no CAP_SYS_ADMIN, CAP_BPF, ... NoNewPrivs, own cgroup namespace" "$(tr '\n' ' ' <"$H_TMP/caps.out")"
fi
h_assert_json "$HT_JSON" '.user == null and .kept_caps == [] and .inherited_sockets == [] and (.cgroup_nsdelegate | type == "boolean")' \
	"containment: JSON says nothing was kept"
ht keep --user nobody --keep-cap CAP_NET_RAW -- sh -c 'id -u; grep "^CapAmb:" /proc/self/status'
rc "--user nobody --keep-cap CAP_NET_RAW" 0 keep
h_assert_json "$HT_JSON" '(.user | startswith("nobody:")) and .kept_caps == ["CAP_NET_RAW"]' \
	"--user nobody --keep-cap CAP_NET_RAW: in the JSON report"
if [ "$(grep -v '^hush test' "$H_TMP/keep.out" | tr -s ' \t' ' ' | tr '\n' '|')" = "65534|CapAmb: 0000000000002000|" ]; then
	h_pass "--user nobody --keep-cap CAP_NET_RAW: runs as nobody with that one capability"
else
	h_fail "--user nobody --keep-cap CAP_NET_RAW: runs as nobody with that one capability" "$(cat "$H_TMP/keep.out")"
fi
ht baduser --user no-such-user-hush -- /bin/true
rc "--user no-such-user" 2 baduser

# -- an inet socket inherited on stdin: refused (exit 2), or named --
h_listen "$H_NS_HOST" tcp 127.0.0.1 18091
htsock() { # TAG [OPTIONS]: hush test -- /bin/true with fd 0 a TCP connection
	local tag=$1
	shift
	# shellcheck disable=SC2016
	h_cgroup_run "$H_CG_AUX" bash -c 'exec 0<>/dev/tcp/127.0.0.1/18091 && exec "$@"' _ \
		"$HUSH" test --cgroup-parent "$tcg" --json "$H_TMP/$tag.json" "$@" -- /bin/true \
		>"$H_TMP/$tag.out" 2>"$H_TMP/$tag.err"
	HT_RC=$?
	HT_JSON=$(cat "$H_TMP/$tag.json" 2>/dev/null)
	HT_OUT=$(cat "$H_TMP/$tag.out")
}
htsock sockin
rc "inherited inet socket: refused" 2 sockin
if grep -q 'fd 0: tcp 127.0.0.1:[0-9]* -> 127.0.0.1:18091.*refusing' "$H_TMP/sockin.err"; then
	h_pass "inherited inet socket: fd and peer named"
else
	h_fail "inherited inet socket: fd and peer named" "$(cat "$H_TMP/sockin.err")"
fi
htsock sockallow --allow-inherited-socket
rc "--allow-inherited-socket" 0 sockallow
h_assert_json "$HT_JSON" '.inherited_sockets | length == 1 and (.[0] | test("^fd 0: tcp 127.0.0.1:[0-9]+ -> 127.0.0.1:18091$"))' \
	"--allow-inherited-socket: named in the JSON report"

# -- two tests in parallel do not see each other's events --
h_cgroup_run "$H_CG_AUX" "$HUSH" test --cgroup-parent "$tcg" --json "$H_TMP/pa.json" -- \
	sh -c "sleep 0.3; $NETPROBE connect $H_FORB4 443 --timeout-ms 300; sleep 0.5" >/dev/null 2>&1 &
pa=$!
h_cgroup_run "$H_CG_AUX" "$HUSH" test --cgroup-parent "$tcg" --json "$H_TMP/pb.json" -- \
	sh -c "sleep 1" >/dev/null 2>&1 &
pb=$!
wait $pa
rca=$?
wait $pb
rcb=$?
if [ $rca = 1 ] && [ $rcb = 0 ] && jq -e '.attempts == []' "$H_TMP/pb.json" >/dev/null; then
	h_pass "two tests in parallel: each sees only its own attempts"
else
	h_fail "two tests in parallel: each sees only its own attempts" "rc $rca/$rcb: $(cat "$H_TMP/pb.json")"
fi

# -- the live line: on a terminal only, never in CI --
live() { # OUTFILE: hush test on a pseudo-terminal (script(1)), CI unset
	h_cgroup_run "$H_CG_AUX" env -u CI script -qec \
		"$HUSH test --cgroup-parent $tcg -- sleep 0.8" /dev/null >"$1" 2>&1 </dev/null
}
live "$H_TMP/live.tty"
if grep -q 'hush test: [0-9.]* s / 60 s, 0 attempts' "$H_TMP/live.tty"; then
	h_pass "live line on a terminal"
else
	h_fail "live line on a terminal" "$(tr '\r' '\n' <"$H_TMP/live.tty" | head -n 5)"
fi
h_cgroup_run "$H_CG_AUX" env CI=true script -qec "$HUSH test --cgroup-parent $tcg -- sleep 0.5" \
	/dev/null >"$H_TMP/live.ci" 2>&1 </dev/null
if grep -q ' s / 60 s' "$H_TMP/live.ci" || ! grep -q 'hush test: SILENT' "$H_TMP/live.ci"; then
	h_fail "no live line in CI" "$(tr '\r' '\n' <"$H_TMP/live.ci" | head -n 5)"
else
	h_pass "no live line in CI"
fi

# -- name lookups only through DNS: no resolver daemon's Unix socket --
made_nscd=
if [ ! -e /run/nscd ]; then
	mkdir /run/nscd && made_nscd=1 && touch /run/nscd/socket
fi
ht nss -- sh -c 'grep "^hosts:" /etc/nsswitch.conf; ls -A /run/nscd | wc -l'
rc "name service: test ran" 0 nss
if [ "$(grep -v '^hush test' "$H_TMP/nss.out" | tr -s ' ' | tr '\n' '|')" = "hosts: files dns|0|" ]; then
	h_pass "name service: hosts via files and DNS only, nscd's socket hidden"
else
	h_fail "name service: hosts via files and DNS only, nscd's socket hidden" "$(cat "$H_TMP/nss.out")"
fi
if [ -n "$made_nscd" ]; then
	rm -f /run/nscd/socket
	rmdir /run/nscd
fi

# -- --sinkhole: everything goes to a sealed sinkhole, which tells what the
#    command wanted (real TLS and HTTP clients) --
# shellcheck disable=SC2016
sinkcmd='A=$('"$DNSQ"' 10.0.0.53 huggingface.co | jq -r ".answers[0]")
curl -sk --max-time 3 --resolve huggingface.co:443:$A https://huggingface.co/api/models -o /dev/null
openssl s_client -connect "$A:8443" -servername cdn.example.org </dev/null >/dev/null 2>&1
curl -s --max-time 3 --resolve models.example.test:8080:$A http://models.example.test:8080/v1/weights -o /dev/null
exit 0'
ht sink --sinkhole --timeout 20s -- sh -c "$sinkcmd"
rc "sinkhole: noisy" 1 sink
h_assert_json "$HT_JSON" '.sinkhole == true and .mode == "audit" and (.attempts[] | select(.hook == "dns" and .qname == "huggingface.co" and .verdict == "audit"))' \
	"sinkhole: the name asked"
h_assert_json "$HT_JSON" '.attempts[] | select(.dport == 443 and .sinkhole.proto == "tls" and .sinkhole.sni == "huggingface.co" and .sinkhole.name == "huggingface.co" and (.exe | endswith("curl")))' \
	"sinkhole: curl's TLS SNI"
h_assert_json "$HT_JSON" '.attempts[] | select(.dport == 8443 and .sinkhole.sni == "cdn.example.org" and (.exe | endswith("openssl")))' \
	"sinkhole: openssl s_client's SNI"
h_assert_json "$HT_JSON" '.attempts[] | select(.dport == 8080 and .sinkhole.proto == "http" and .sinkhole.http_host == "models.example.test:8080" and .sinkhole.http_path == "/v1/weights" and .sinkhole.http_method == "GET")' \
	"sinkhole: HTTP Host and path"
if grep -q 'tcp 198\.19\.[0-9.]*:443, name huggingface.co, SNI huggingface.co: 1 attempt, let through' "$H_TMP/sink.out"; then
	h_pass "sinkhole: the report says tcp 443, SNI huggingface.co"
else
	h_fail "sinkhole: the report says tcp 443, SNI huggingface.co" "$(cat "$H_TMP/sink.out")"
fi
junit "sinkhole" sink

# -- --sinkhole: a UDP connect() is named for what it is, never given the
#    SNI of a TCP connection to the same address and port --
# shellcheck disable=SC2016
udpcmd='A=$('"$DNSQ"' 10.0.0.53 huggingface.co | jq -r ".answers[0]")
'"$NETPROBE"' udpconnect "$A" 443 >/dev/null
curl -sk --max-time 3 --resolve huggingface.co:443:$A https://huggingface.co/ -o /dev/null
exit 0'
ht sinkudp --sinkhole --timeout 20s -- sh -c "$udpcmd"
rc "sinkhole, UDP connect: noisy" 1 sinkudp
h_assert_json "$HT_JSON" '.attempts[] | select(.proto == "udp" and .dport == 443 and .udp_connect == true and .sinkhole.sni == null and (.note | test("sends nothing itself")))' \
	"sinkhole, UDP connect: no SNI, named a UDP connect"
h_assert_json "$HT_JSON" '.attempts[] | select(.proto == "tcp" and .dport == 443 and .udp_connect == false and .sinkhole.sni == "huggingface.co")' \
	"sinkhole, UDP connect: the TCP connection keeps its SNI"
if grep -q '^  udp 198\.19\.[0-9.]*:443, name huggingface.co: 1 attempt' "$H_TMP/sinkudp.out" &&
	! grep -q '^  udp.*SNI' "$H_TMP/sinkudp.out"; then
	h_pass "sinkhole, UDP connect: the report shows no SNI for it"
else
	h_fail "sinkhole, UDP connect: the report shows no SNI for it" "$(cat "$H_TMP/sinkudp.out")"
fi

# -- with hushd enforcing around it, both policies apply --
hpol=$(h_policy h.policy <<EOF
allow $H_FORB4 tcp 443
EOF
)
hcg=$(h_cgroup_create hd)
h_hushd_start "$hpol" "$hcg" || h_done
ht both --cgroup-parent "$hcg" -- "$NETPROBE" connect "$H_FORB4" 443 --timeout-ms 500
rc "hushd around: the test's policy still applies" 1 both
if grep -q '"errno":"EPERM"' "$H_TMP/both.out"; then
	h_pass "hushd around: denied by the test's policy though hushd allows it"
else
	h_fail "hushd around: denied by the test's policy though hushd allows it" "$(cat "$H_TMP/both.out")"
fi
h_done
