#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Learned `allow host` addresses stay with the cgroup that asked (issue 13),
# in the kernel, with hushd down too.  One scope (`scope llm`) holds two
# cgroups, llm/a and llm/b; dnsmasq in the harness's internal namespace
# answers models.corp.test:
#   - a resolves and connects: allowed; b connects to the same address
#     without resolving: EPERM at once and a deny row naming b; b resolves:
#     allowed.  The allowed row of a's connect names a (the cgroup that
#     asked);
#   - `hush status --json` lists the learning cgroups with their counts;
#   - each cgroup's entry ends at its own TTL + grace in the kernel, hushd
#     killed: a (resolved first) is denied while b (resolved later) still
#     passes, then b is denied too;
#   - a removed cgroup's entries are dropped by hushd before they expire;
#   - docker: two containers of one `scope container image=...` behave as
#     a and b (resolving inside the container, busybox nslookup and nc).
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=tests/lib/engines.sh
. "$(dirname "$0")/../lib/engines.sh"

h_init learned_cg
h_require_hush
h_require_tools dnsmasq jq
DNSQ=$OUTPUT/tests/dnsq
[ -x "$DNSQ" ] || h_skip_or_fail "$H_NAME" "$DNSQ not built (make all)"
h_netns_up
top=$(h_cgroup_create top)
cga=$(h_cgroup_create top/llm/a)
cgb=$(h_cgroup_create top/llm/b)
cgc=$(h_cgroup_create top/llm/c)
APP4=$H_INT4_B
NAME=models.corp.test
TTL=6
GRACE=1

h_bg --out "$H_TMP/dnsmasq.out" --err "$H_TMP/dnsmasq.err" --ns "$H_NS_INT" -- \
	dnsmasq --keep-in-foreground --no-daemon --no-resolv --no-hosts --no-poll \
	--bind-interfaces --listen-address="$H_INT4" --except-interface=lo --port=53 \
	--cache-size=0 --local-ttl=$TTL --pid-file="$H_TMP/dnsmasq.pid" --user=root \
	--group=root --host-record="$NAME,$APP4" --log-queries --log-facility=-
for _ in $(seq 1 100); do
	h_ns "$H_NS_HOST" "$DNSQ" --timeout-ms 200 "$H_INT4" "$NAME" >/dev/null 2>&1 && break
	sleep 0.05
done

policy=$(h_policy learned_cg.policy <<EOF
mode enforce
resolver $H_INT4
allow dns *.corp.test
scope llm {
	allow host $NAME tcp 8080
}
EOF
)
h_listen "$H_NS_INT" tcp 0.0.0.0 8080

# learned_of CG: entries `hush status --json` lists for cgroup CG (0: none).
learned_of() {
	local id
	id=$(stat -c %i "$1")
	h_hush status --json 2>/dev/null |
		jq -r --argjson id "$id" '[.learned.cgroups[]? | select(.id == $id) | .entries] | add // 0'
}

h_hushd_start "$policy" "$top" --dns-grace $GRACE --log-allowed || h_done
ida=$(stat -c %i "$cga")
idb=$(stat -c %i "$cgb")

# ---- one scope, two cgroups ----
h_expect_probe "a, before resolving: denied" error EPERM --cg "$cga" -- connect "$APP4" 8080
h_resolve "a resolves $NAME" "$cga" "$H_INT4" "$NAME" "$APP4"
h_attempt "a, after resolving: allowed, the row names a" ok - allow connect4 "$APP4" 8080 tcp \
	--where ".cgroup_id == $ida" --cg "$cga" -- connect "$APP4" 8080
h_attempt "b, same address, not resolved: denied, the row names b" error EPERM deny connect4 \
	"$APP4" 8080 tcp --where ".cgroup_id == $idb" --cg "$cgb" -- connect "$APP4" 8080
h_expect_probe "b, again (nothing memoized): denied" error EPERM --cg "$cgb" -- \
	connect "$APP4" 8080
h_same "status: a holds 1 learned entry" "$(learned_of "$cga")" 1
h_same "status: b holds none" "$(learned_of "$cgb")" 0
h_expect_event "the DNS row of a's query names a" "$H_HUSHD_OUT" \
	".hook == \"dns\" and .qname == \"$NAME\" and .cgroup_id == $ida"
h_resolve "b resolves $NAME" "$cgb" "$H_INT4" "$NAME" "$APP4"
h_expect_probe "b, after resolving: allowed" ok - --cg "$cgb" -- connect "$APP4" 8080
h_same "status: b holds 1 learned entry" "$(learned_of "$cgb")" 1
h_expect_probe "c (same scope, never resolved): denied" error EPERM --cg "$cgc" -- \
	connect "$APP4" 8080

# ---- each cgroup's own expiry, in the kernel, hushd killed ----
# a's answer ends at t1 + 7 s, b's at t1 + 9 s; by t1 + 5 s hushd has put
# the scope's later expiry in force (it refreshes 3 s before the old one).
h_resolve "a resolves again" "$cga" "$H_INT4" "$NAME" "$APP4"
t1=$H_RESOLVED_MS
h_until_ms $((t1 + 2000))
h_resolve "b resolves again, 2 s later" "$cgb" "$H_INT4" "$NAME" "$APP4"
h_until_ms $((t1 + 5000))
h_stop "$H_HUSHD_PID" KILL
h_expect_probe "hushd dead, a before its expiry: allowed" ok - --cg "$cga" -- connect "$APP4" 8080
h_until_ms $((t1 + (TTL + GRACE) * 1000 + 700))
h_expect_probe "hushd dead, past a's TTL + grace: a denied" error EPERM --cg "$cga" -- \
	connect "$APP4" 8080
h_expect_probe "hushd dead, b's answer still runs: b allowed" ok - --cg "$cgb" -- \
	connect "$APP4" 8080
h_until_ms $((t1 + 2000 + (TTL + GRACE) * 1000 + 700))
h_expect_probe "hushd dead, past b's TTL + grace: b denied" error EPERM --cg "$cgb" -- \
	connect "$APP4" 8080

# ---- a removed cgroup's entries go before they expire ----
h_hushd_start "$policy" "$top" --dns-grace 60 || h_done
h_resolve "c resolves (answers live 66 s)" "$cgc" "$H_INT4" "$NAME" "$APP4"
h_expect_probe "c, after resolving: allowed" ok - --cg "$cgc" -- connect "$APP4" 8080
h_same "status: c holds 1 learned entry" "$(learned_of "$cgc")" 1
idc=$(stat -c %i "$cgc")
rmdir "$cgc"
gone=no
for _ in $(seq 1 100); do
	if h_hush status --json 2>/dev/null |
		jq -e --argjson id "$idc" '[.learned.cgroups[]? | select(.id == $id)] | length == 0' \
			>/dev/null; then
		gone=yes
		break
	fi
	sleep 0.1
done
h_same "c removed: its entry is dropped within 10 s (before its expiry)" "$gone" yes

# ---- docker: two containers of one container scope ----
docker_cases() {
	local dpolicy
	e_docker_up
	e_image_busybox bb docker || return
	dpolicy=$(h_policy learned_cg_docker.policy <<EOF
mode enforce
resolver $H_INT4
allow dns *.corp.test
scope container image=bb {
	allow host $NAME tcp 8080
}
EOF
)
	h_hush disable >"$H_TMP/disable.out" 2>&1 ||
		h_fail "hush disable" "$(tail -n 3 "$H_TMP/disable.out" | tr '\n' ' ')"
	h_stop "$H_HUSHD_PID"
	h_hushd_start "$dpolicy" "$E_DOCKER_CG" --docker-socket "$H_TMP/docker.sock" \
		--podman-socket "" --containerd-socket "" --dns-grace 30 || return
	e_docker run -d --network host --name ctr-x bb sleep 600 >/dev/null
	e_docker run -d --network host --name ctr-y bb sleep 600 >/dev/null
	# can NAME: a connect from inside the container to the learned address
	can() { e_docker exec "$1" nc -w 2 "$APP4" 8080 </dev/null >/dev/null 2>&1; }
	look() { e_docker exec "$1" nslookup "$NAME" "$H_INT4" 2>&1; }
	expect() {
		local got=deny
		can "$1" && got=ok
		h_same "docker $1: $2" "$got" "$3"
	}
	local out i
	for i in $(seq 1 50); do
		out=$(look ctr-x)
		[[ "$out" == *"$APP4"* ]] && break
		sleep 0.1
	done
	: "$i"
	if [[ "$out" == *"$APP4"* ]]; then
		h_pass "docker ctr-x: $NAME resolves in the container"
	else
		h_fail "docker ctr-x: $NAME resolves in the container" "$out"
	fi
	expect ctr-x "connect after resolving" ok
	expect ctr-y "connect without resolving (ctr-x did)" deny
	out=$(look ctr-y)
	[[ "$out" == *"$APP4"* ]] || h_log "ctr-y nslookup: $out"
	expect ctr-y "connect after resolving itself" ok
}
docker_cases

h_done
