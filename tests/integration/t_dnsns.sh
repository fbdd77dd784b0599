#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The DNS proxy in every network namespace used by enforced processes: a
# process in its own namespace (`unshare -n`) and docker containers (default
# bridge, and a user-defined network with Docker's 127.0.0.11 resolver) under
# hushd, and `unshare -n` under `hush run`.  Allowed names resolve through
# the policy's resolver (dnsmasq), denied ones get REFUSED and are logged by
# name with the process; the client sees the answer come from the resolver
# it asked.  A namespace with no enforced process left loses its listeners;
# with hushd dead, DNS in such a namespace fails closed.  The helper started
# the systemd way (a socket, one helper per connection: hush-dnsns.socket)
# serves a hushd that has no CAP_SYS_ADMIN, and refuses a peer not root.
# shellcheck disable=SC2016 # the sh -c scripts expand in the namespace
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=tests/lib/engines.sh
. "$(dirname "$0")/../lib/engines.sh"

h_init dnsns
h_require_hush
h_require_tools dnsmasq unshare
DNSQ=$OUTPUT/tests/dnsq
NETPROBE=$OUTPUT/tests/netprobe
[ -x "$DNSQ" ] || h_skip_or_fail "$H_NAME" "$DNSQ not built (make all)"
h_netns_up
cg=$(h_cgroup_create enf/enforced)
acg=$(h_cgroup_create enf/a)
bcg=$(h_cgroup_create enf/b)
ecg=$H_CG_ROOT/enf
WEB4=$H_INT4_B

h_bg --out "$H_TMP/dnsmasq.out" --err "$H_TMP/dnsmasq.err" --ns "$H_NS_INT" -- \
	dnsmasq --keep-in-foreground --no-daemon --no-resolv --no-hosts --no-poll \
	--bind-interfaces --listen-address="$H_INT4" --except-interface=lo --port=53 \
	--cache-size=0 --pid-file="$H_TMP/dnsmasq.pid" --user=root --group=root \
	--host-record="web.corp.test,$WEB4" --host-record="denied.test,$H_FORB4" \
	--log-queries --log-facility=-
for _ in $(seq 1 100); do
	h_ns "$H_NS_HOST" "$DNSQ" --timeout-ms 200 "$H_INT4" web.corp.test >/dev/null 2>&1 && break
	sleep 0.05
done

policy=$(h_policy dnsns.policy <<EOF
mode enforce
resolver $H_INT4
allow dns *.corp.test
scope a {
  allow host web.corp.test tcp 8080
}
scope b {
}
EOF
)
h_listen "$H_NS_INT" tcp :: 8080

# nsq TAG RESOLVER NAME: dnsq in a fresh network namespace (lo up) of the
# enforced cgroup; the first query may meet the namespace before the proxy
# serves it (fails closed), so it asks until answered (3 s).  JSON in NSQ.
nsq_script='ip link set lo up; for i in $(seq 1 30); do
	out=$("$1" --timeout-ms 300 "$2" "$3" 2>/dev/null) && case $out in *\"rcode\"*) echo "$out"; exit 0 ;; esac
	sleep 0.1; done; echo "$out"; exit 1'
nsq() {
	NSQ=$(h_cgroup_run "$cg" unshare -n sh -c "$nsq_script" _ "$DNSQ" "$2" "$3" 2>&1 | tail -n 1)
}

h_hushd_start "$policy" "$ecg" || h_done
OUT=$H_HUSHD_OUT

# ---- unshare -n under hushd ----
nsq allow "$H_INT4" web.corp.test
h_assert_json "$NSQ" ".ok and .rcode == 0 and .answers == [\"$WEB4\"] and .from == \"$H_INT4:53\"" \
	"unshare -n: allowed name resolves through hushd's resolver, answer from the resolver asked"
nsq deny "$H_INT4" denied.test
h_assert_json "$NSQ" '.ok and .rcode == 5' "unshare -n: denied name gets REFUSED"
h_expect_event "unshare -n: denied query logged by name with the process" "$OUT" \
	'.hook == "dns" and .verdict == "deny" and .qname == "denied.test" and .pid > 0 and .comm == "dnsq"'
if grep -q 'dns: serving network namespace net:\[' "$H_HUSHD_ERR"; then
	h_pass "unshare -n: hushd says which namespace it serves"
else
	h_fail "unshare -n: hushd says which namespace it serves" "$(tail -n 5 "$H_HUSHD_ERR")"
fi
# A query that met the namespace before the proxy served it failed closed;
# the log says which namespace and process, once.
if h_json_match "$OUT" '.rule_text == "DNS proxy unavailable: fail closed" and .comm == "dnsq"' >/dev/null; then
	notes=""
	for _ in $(seq 1 20); do
		notes=$(h_hush log --db "$H_RUN_DIR/hush.db" --kind note --json 2>&1 | grep -F 'failed closed: the proxy had no listener')
		[ -n "$notes" ] && break
		sleep 0.1
	done
	# (dnsq exits at once: by the time hushd reads the event its
	# namespace may no longer be nameable, and the note says so.)
	if [[ "$notes" == *"DNS from pid "*"(dnsq)"* &&
		("$notes" == *"in network namespace net:["* || "$notes" == *"process was gone"*) ]]; then
		h_pass "a query before the namespace was served: a log note names the pid (and namespace)"
	else
		h_fail "a query before the namespace was served: a log note names the pid (and namespace)" \
			"$(h_hush log --db "$H_RUN_DIR/hush.db" --kind note --json 2>&1 | tail -n 3)"
	fi
else
	h_pass "a query before the namespace was served: none this run (the scan was first)"
fi

# `allow host`: what a name answered in a namespace teaches stays with the
# scope whose rule names it.
NSQ=$(h_cgroup_run "$acg" unshare -n sh -c "$nsq_script" _ "$DNSQ" "$H_INT4" web.corp.test 2>&1 | tail -n 1)
h_assert_json "$NSQ" ".rcode == 0 and .answers == [\"$WEB4\"]" "allow host: scope a resolves in its own namespace"
h_assert_json "$(h_cgroup_run "$acg" "$NETPROBE" connect "$WEB4" 8080)" '.result == "ok"' \
	"allow host: scope a may then connect to the address learned"
h_assert_json "$(h_cgroup_run "$bcg" "$NETPROBE" connect "$WEB4" 8080)" '.result == "error" and .errno == "EPERM"' \
	"allow host: scope b (no such rule) is still denied that address"

# Its namespace is gone with its processes: the listeners close.
for _ in $(seq 1 40); do
	grep -q 'has no enforced process left' "$H_HUSHD_ERR" && break
	sleep 0.1
done
if grep -q 'has no enforced process left' "$H_HUSHD_ERR"; then
	h_pass "a namespace without enforced processes loses its listeners"
else
	h_fail "a namespace without enforced processes loses its listeners" "$(tail -n 5 "$H_HUSHD_ERR")"
fi

# ---- docker containers below the enforced cgroup ----
docker_cases() {
	local out cgp
	e_docker_up
	e_image_debian deb docker || return
	cgp=$(e_cgroup_parent "$cg")
	# The container's namespace is served before its entrypoint runs (its
	# init waits in the new cgroup first): the very first query answers.
	out=$(e_docker run --rm --cgroup-parent "$cgp" --dns "$H_INT4" deb getent hosts web.corp.test 2>&1)
	if [[ "$out" == *"$WEB4"*web.corp.test* ]]; then
		h_pass "docker: the first query of the entrypoint is answered (no retry)"
	else
		h_fail "docker: the first query of the entrypoint is answered (no retry)" "$out"
	fi
	h_expect_event "docker: its query logged" "$OUT" \
		'.hook == "dns" and .qname == "web.corp.test" and .comm == "getent"'
	h_expect_no_event "docker: no query failed closed for want of a listener" "$OUT" \
		'.rule_text == "DNS proxy unavailable: fail closed" and .comm == "getent"'
	# Default bridge: the container asks the resolver of its resolv.conf
	# (here --dns: the private namespace has no resolver to copy).
	out=$(e_docker run --rm --cgroup-parent "$cgp" --dns "$H_INT4" deb sh -c \
		'for i in $(seq 1 30); do getent hosts web.corp.test && exit 0; sleep 0.1; done; exit 1' 2>&1)
	if [[ "$out" == *"$WEB4"*web.corp.test* ]]; then
		h_pass "docker (bridge): allowed name resolves in the container (getent hosts)"
	else
		h_fail "docker (bridge): allowed name resolves in the container (getent hosts)" "$out"
	fi
	out=$(e_docker run --rm --cgroup-parent "$cgp" --dns "$H_INT4" deb sh -c \
		'sleep 0.5; getent hosts denied.test; echo "rc=$?"' 2>&1)
	if [[ "$out" == *rc=2* ]]; then
		h_pass "docker (bridge): denied name does not resolve"
	else
		h_fail "docker (bridge): denied name does not resolve" "$out"
	fi
	h_expect_event "docker (bridge): denied query logged by name" "$OUT" \
		'.hook == "dns" and .verdict == "deny" and .qname == "denied.test" and .comm == "getent"'
	# User-defined network: Docker's embedded resolver, 127.0.0.11.  The
	# answer must look like it came from there.
	e_docker network create "dnsns$H_ID" >/dev/null 2>&1
	out=$(e_docker run --rm --cgroup-parent "$cgp" --network "dnsns$H_ID" deb python3 -c '
import socket, struct, sys, time
def ask(name):
    q = struct.pack(">HHHHHH", 0x1234, 0x100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0\0\1\0\1"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    for i in range(30):
        try:
            s.sendto(q, ("127.0.0.11", 53))
            a, src = s.recvfrom(2048)
            return a[3] & 15, src
        except OSError:
            time.sleep(0.1)
    return None, None
print(open("/etc/resolv.conf").read().split("nameserver")[1].split()[0])
for n in ("web.corp.test", "denied.test"):
    rc, src = ask(n)
    print(n, rc, src)
' 2>&1)
	h_log "user-defined network: $out"
	if [[ "$out" == 127.0.0.11* && "$out" == *"web.corp.test 0 ('127.0.0.11', 53)"* ]]; then
		h_pass "docker (user-defined network): allowed name answered from 127.0.0.11:53"
	else
		h_fail "docker (user-defined network): allowed name answered from 127.0.0.11:53" "$out"
	fi
	if [[ "$out" == *"denied.test 5 ('127.0.0.11', 53)"* ]]; then
		h_pass "docker (user-defined network): denied name REFUSED, from 127.0.0.11:53"
	else
		h_fail "docker (user-defined network): denied name REFUSED, from 127.0.0.11:53" "$out"
	fi
	h_expect_event "docker (user-defined network): query logged with the resolver asked" "$OUT" \
		'.hook == "dns" and .verdict == "allow" and .qname == "web.corp.test" and .daddr == "127.0.0.11" and .comm == "python3"'
	e_docker network rm "dnsns$H_ID" >/dev/null 2>&1
}
docker_cases

# ---- hushd dead: DNS in another namespace fails closed ----
helper=$(cat "/proc/$H_HUSHD_PID/task/"*/children 2>/dev/null | tr ' ' '\n' | grep -v '^$' | head -n 1)
h_stop "$H_HUSHD_PID" KILL
NSQ=$(h_cgroup_run "$cg" unshare -n sh -c 'ip link set lo up; "$1" --timeout-ms 300 "$2" web.corp.test' _ "$DNSQ" "$H_INT4" 2>&1 | tail -n 1)
h_assert_json "$NSQ" '(.ok | not) and (.rcode == null)' "hushd dead: a query from another namespace gets no answer (fails closed)"
sleep 0.3
if [ -n "$helper" ] && ! h_alive "$helper"; then
	h_pass "hushd dead: its namespace helper is gone too (no listener outlives it)"
else
	h_fail "hushd dead: its namespace helper is gone too (no listener outlives it)" "helper pid '$helper'"
fi

# ---- hush run: the command's processes in another namespace ----
# (hush run leaves the command no CAP_SYS_ADMIN: a user namespace too.)
# (Outside enf/: hushd's pinned enforcement stays there after its death.)
rcg=$(h_cgroup_create run)
events=$H_TMP/run.events
h_hush_run_capture run "$rcg" --policy "$policy" --events "$events" -- \
	unshare -rn sh -c 'ip link set lo up; for i in $(seq 1 30); do
	"$1" --timeout-ms 300 "$2" web.corp.test 2>/dev/null | grep -q "\"rcode\"" && break; sleep 0.1; done
	"$1" --timeout-ms 300 "$2" web.corp.test; "$1" --timeout-ms 300 "$2" denied.test; sleep 0.3' \
	_ "$DNSQ" "$H_INT4" 
[ -n "$H_RUN_OUT" ] || H_RUN_OUT='{"ran":false}'
h_assert_json "$(printf '%s\n' "$H_RUN_OUT" | head -n 1)" ".ok and .rcode == 0 and .answers == [\"$WEB4\"]" \
	"hush run: allowed name resolves in an unshare -n namespace"
h_assert_json "$(printf '%s\n' "$H_RUN_OUT" | tail -n 1)" '.ok and .rcode == 5' \
	"hush run: denied name REFUSED in an unshare -n namespace"
h_log "hush run: $H_RUN_ERR"
h_expect_event "hush run: denied query in the events by name" "$events" \
	'.hook == "dns" and .verdict == "deny" and .qname == "denied.test"'

# ---- hush test: the same, judged as a gate ----
tcg=$(h_cgroup_create test)
h_cgroup_run "$H_CG_AUX" "$HUSH" test --cgroup-parent "$tcg" --policy "$policy" \
	--json "$H_TMP/test.json" -- unshare -rn sh -c 'ip link set lo up; for i in $(seq 1 30); do
	"$1" --timeout-ms 300 "$2" web.corp.test 2>/dev/null | grep -q "\"rcode\":0" && break; sleep 0.1; done
	"$1" --timeout-ms 300 "$2" web.corp.test; "$1" --timeout-ms 300 "$2" denied.test' \
	_ "$DNSQ" "$H_INT4" >"$H_TMP/test.out" 2>"$H_TMP/test.err" </dev/null
ht_rc=$?
ht_json=$(cat "$H_TMP/test.json" 2>/dev/null || echo '{}')
h_assert_json "$(grep '^{' "$H_TMP/test.out" | head -n 1)" ".ok and .rcode == 0 and .answers == [\"$WEB4\"]" \
	"hush test: allowed name resolves in an unshare -n namespace"
h_assert_json "$(grep '^{' "$H_TMP/test.out" | tail -n 1)" '.ok and .rcode == 5' \
	"hush test: denied name REFUSED in an unshare -n namespace"
h_assert_json "$ht_json" '.result == "noisy" and ([.attempts[] | select(.hook == "dns" and .qname == "denied.test" and .verdict == "deny" and .comm == "dnsq")] | length) == 1 and ([.attempts[] | select(.hook == "dns" and .qname == "web.corp.test")] | length) == 0' \
	"hush test: NOISY, the denied name is an attempt by name (the allowed one is not)"
if [ "$ht_rc" = 1 ]; then
	h_pass "hush test: exit 1"
else
	h_fail "hush test: exit 1" "exit $ht_rc: $(tail -n 3 "$H_TMP/test.err")"
fi

# ---- the helper started for a socket connection (what hush-dnsns.socket
# does under systemd), hushd without CAP_SYS_ADMIN ----
command -v systemd-socket-activate >/dev/null ||
	h_skip_or_fail "$H_NAME" "systemd-socket-activate is missing (package systemd: make deps)"
sock=$H_TMP/dnsns.sock
h_bg --out "$H_TMP/sa.out" --err "$H_TMP/sa.err" -- \
	systemd-socket-activate --seqpacket --accept --inetd -l "$sock" "$HUSHD" --dnsns-helper
sa_pid=$H_LAST_PID
h_wait_for_file "$sock" 5 || h_fail "socket activation: the helper's socket" "$(cat "$H_TMP/sa.err")"
real_hushd=$HUSHD
HUSHD=$H_TMP/hushd-nosysadmin
printf '#!/bin/sh\nexec setpriv --bounding-set -sys_admin --inh-caps -all -- "%s" "$@"\n' "$real_hushd" >"$HUSHD"
chmod +x "$HUSHD"
if h_hushd_start "$policy" "$ecg" --dnsns-socket "$sock"; then
	nsq sa "$H_INT4" web.corp.test
	eff=$(awk '/^CapEff/ { print $2 }' "/proc/$H_HUSHD_PID/status")
	helper=$(awk '{ print $1 }' "/proc/$sa_pid/task/$sa_pid/children" 2>/dev/null)
	if h_json_match <(echo "$NSQ") ".rcode == 0 and .answers == [\"$WEB4\"]" >/dev/null &&
		[ $((0x$eff & (1 << 21))) = 0 ] && [ "$(cat "/proc/${helper:-0}/comm" 2>/dev/null)" = hush-dnsns ]; then
		h_pass "socket activation: hushd without CAP_SYS_ADMIN, the helper started for its connection serves unshare -n"
	else
		h_fail "socket activation: the helper started for hushd's connection serves unshare -n" \
			"NSQ '$NSQ', hushd CapEff $eff, helper '$helper'; $(tail -n 3 "$H_HUSHD_ERR" "$H_TMP/sa.err" | tr '\n' ' ')"
	fi
	# A client that is not root is refused by the helper (SO_PEERCRED).  (An
	# abstract socket: no file mode stands in the way, as none would if
	# hush-dnsns.socket's 0600 were loosened.)
	h_bg --out "$H_TMP/sa2.out" --err "$H_TMP/sa2.err" -- systemd-socket-activate \
		--seqpacket --accept --inetd -l "@hush-dnsns-$H_ID" "$real_hushd" --dnsns-helper
	sleep 0.3
	nsenter "--net=/run/netns/$H_NS_HOST" python3 - "@hush-dnsns-$H_ID" >"$H_TMP/peer.out" 2>&1 <<'PY'
import os, socket, sys
os.setgid(65534); os.setuid(65534)
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect("\0" + sys.argv[1][1:])
s.settimeout(3)
print("closed" if s.recv(64) == b"" else "answered")
PY
	for _ in $(seq 1 20); do
		grep -q 'not root: refused' "$H_TMP/sa2.err" && break
		sleep 0.1
	done
	if [ "$(cat "$H_TMP/peer.out")" = closed ] && grep -q 'uid 65534 .*not root: refused' "$H_TMP/sa2.err"; then
		h_pass "socket activation: the helper refuses a peer that is not root"
	else
		h_fail "socket activation: the helper refuses a peer that is not root" "$(cat "$H_TMP/peer.out") $(tail -n 2 "$H_TMP/sa2.err")"
	fi
	h_stop "$H_HUSHD_PID"
	# Without systemd: `hushd --dnsns-listen` forks a helper per connection
	# (the DaemonSet's second container).
	lsock=$H_TMP/listen.sock
	h_bg --out "$H_TMP/listen.out" --err "$H_TMP/listen.err" -- "$real_hushd" --dnsns-listen "$lsock"
	h_wait_for_file "$lsock" 5
	if h_hushd_start "$policy" "$ecg" --dnsns-socket "$lsock"; then
		nsq listen "$H_INT4" web.corp.test
		h_assert_json "$NSQ" ".rcode == 0 and .answers == [\"$WEB4\"]" \
			"hushd --dnsns-listen: its helper serves a hushd without CAP_SYS_ADMIN (unshare -n)"
		h_stop "$H_HUSHD_PID"
	fi
fi
HUSHD=$real_hushd

e_cleanup
h_done
