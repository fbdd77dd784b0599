#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# hush test --image / --compose against real engines (tests/lib/engines.sh:
# dockerd, rootful podman, docker-compose v1, all inside the harness's
# private network namespace; images imported, never pulled).  The engines
# start once for the file.  A container's attempts go to a listener on the
# engines' namespace (any address, port 18080): the test's programs deny
# them, so the listener must never see a connection.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=tests/lib/engines.sh
. "$(dirname "$0")/../lib/engines.sh"

h_init image
h_require_hush
h_require_netprobe
h_require_tools jq dnsmasq
e_docker_up
e_image_busybox bb docker || exit 1
tcg=$(h_cgroup_create tests)
h_listen "$E_NS" tcp 0.0.0.0 18080
LISTEN=$H_LISTEN_OUT
GW=$E_DOCKER_GW
# The Debian client (the one that matches this dockerd), first on PATH.
HPATH=/usr/bin:/bin:$PATH

# it TAG [HUSH TEST OPTIONS]: `hush test` (JSON into $H_TMP/TAG.json, JUnit
# into TAG.xml); IT_RC, IT_JSON, IT_OUT.
it() {
	local tag=$1
	shift
	h_cgroup_run "$H_CG_AUX" env PATH="$HPATH" "$HUSH" test --cgroup-parent "$tcg" \
		--json "$H_TMP/$tag.json" --junit "$H_TMP/$tag.xml" "$@" \
		>"$H_TMP/$tag.out" 2>"$H_TMP/$tag.err" </dev/null
	IT_RC=$?
	IT_JSON=$(cat "$H_TMP/$tag.json" 2>/dev/null)
	IT_OUT=$(cat "$H_TMP/$tag.out")
}

# rc NAME WANT TAG: the last `it` exited WANT.
rc() {
	if [ "$IT_RC" = "$2" ]; then
		h_pass "$1: exit $2"
	else
		h_fail "$1: exit $2" "exit $IT_RC; out: $IT_OUT; err: $(tail -n 5 "$H_TMP/$3.err" 2>/dev/null | tr '\n' ' ')"
	fi
}

# gone NAME: no container, no cgroup of the test left behind.
gone() {
	local left cgs
	left=$(e_docker ps -aq)
	cgs=$(find "$tcg" -mindepth 1 -type d 2>/dev/null)
	if [ -z "$left" ] && [ -z "$cgs" ]; then
		h_pass "$1: container and cgroups removed"
	else
		h_fail "$1: container and cgroups removed" "containers: $left; cgroups: $cgs"
	fi
}

# unreached NAME: the listener saw no connection.
unreached() {
	if ! grep -q '"event":"accept"' "$LISTEN"; then
		h_pass "$1: the listener was never reached"
	else
		h_fail "$1: the listener was never reached" "$(grep accept "$LISTEN" | head -n 3)"
	fi
}

# -- a silent image --
it silent --image bb -- true
rc "silent image" 0 silent
h_assert_json "$IT_JSON" '.result == "silent" and .engine == "docker" and .image.ref == "bb" and (.image.id | startswith("sha256:")) and (.containers | length) == 1 and (.containers[0].id | test("^[0-9a-f]{64}$")) and (.containers[0].name | startswith("hush-test.")) and .containers[0].exit_code == 0 and .attempts == [] and .command == ["true"] and .name == "image bb true"' \
	"silent image: JSON names image (id) and container (id, name)"
if printf '%s\n' "$IT_OUT" | grep -q '^hush test: SILENT (image bb true: ' &&
	printf '%s\n' "$IT_OUT" | grep -q '^  image bb: id sha256:' &&
	printf '%s\n' "$IT_OUT" | grep -q '^  container hush-test\.[^ ]*, id [0-9a-f]\{12\}, exit 0'; then
	h_pass "silent image: report names image and container"
else
	h_fail "silent image: report names image and container" "$IT_OUT"
fi
gone "silent image"

# -- an image that connects by address --
it connect --image bb -- sh -c "echo hi | nc -w 2 $GW 18080"
rc "connecting image" 1 connect
h_assert_json "$IT_JSON" ".result == \"noisy\" and (.attempts | length) >= 1 and (.attempts[0] | .hook == \"connect4\" and .daddr == \"$GW\" and .dport == 18080 and .verdict == \"deny\" and .comm == \"nc\") and .attempts[0].container_id == .containers[0].id and .attempts[0].container == .containers[0].name" \
	"connecting image: the attempt, with its container"
if printf '%s\n' "$IT_OUT" | grep -q "tcp $GW:18080: .*denied" &&
	printf '%s\n' "$IT_OUT" | grep -q '\[container hush-test\.'; then
	h_pass "connecting image: report lists the attempt with the container"
else
	h_fail "connecting image: report lists the attempt with the container" "$IT_OUT"
fi
unreached "connecting image"
gone "connecting image"

# -- a daemon whose child phones home after the parent exits --
it daemon --image bb -- sh -c "sh -c '(sleep 1; nc -w 1 $GW 18080 </dev/null) &'; sleep 3"
rc "daemon's orphan" 1 daemon
h_assert_json "$IT_JSON" ".result == \"noisy\" and .containers[0].exit_code == 0 and any(.attempts[]; .daddr == \"$GW\" and .container_id == \"$(h_json_get "$IT_JSON" '.containers[0].id' none)\")" \
	"daemon's orphan: its attempt, in the container"

# -- a service that phones home only on SIGTERM: caught in the grace --
it term --image bb --timeout 2s --grace 3s -- \
	sh -c "trap 'nc -w 1 $GW 18080 </dev/null; exit 0' TERM; while :; do sleep 0.2; done"
rc "phones home on SIGTERM" 1 term
h_assert_json "$IT_JSON" ".result == \"noisy\" and .timed_out == true and .stopped_by_hush == true and any(.attempts[]; .daddr == \"$GW\" and .dport == 18080)" \
	"phones home on SIGTERM: the engine's stop, the attempt in the grace"
gone "phones home on SIGTERM"

# -- --observe after --ready (the probe asks the container itself) --
# shellcheck disable=SC2016 # $HUSH_TEST_CONTAINER: the probe's shell expands it
it observe --image bb --timeout 30s --grace 1s --observe 1s \
	--ready 'docker exec "$HUSH_TEST_CONTAINER" test -e /tmp/up' -- \
	sh -c 'sleep 0.5; touch /tmp/up; exec sleep 60'
rc "--observe with --ready" 0 observe
h_assert_json "$IT_JSON" '.result == "silent" and .timed_out == false and .stopped_by_hush == true and (.ready_ms >= 400) and .observe_ms == 1000 and .duration_ms < 10000' \
	"--observe with --ready: ready, watched 1 s, stopped"
gone "--observe with --ready"

# -- names inside the container: an allowed and a denied one --
# The container has its own network namespace; the test's DNS proxy serves
# it too: allowed.test goes to the policy's resolver (dnsmasq on the bridge's
# gateway) and resolves, denied.test is REFUSED and reported by name, and
# never reaches a resolver.
h_bg --out "$H_TMP/img-dnsmasq.out" --err "$H_TMP/img-dnsmasq.err" --ns "$E_NS" -- \
	dnsmasq --keep-in-foreground --no-daemon --no-resolv --no-hosts --no-poll \
	--bind-interfaces --listen-address="$GW" --except-interface=lo --port=53 \
	--cache-size=0 --user=root --group=root --host-record="allowed.test,192.0.2.7" \
	--host-record="denied.test,192.0.2.8" --log-queries --log-facility=-
dnspol=$(h_policy image-dns.policy <<EOF
resolver $GW
allow dns allowed.test
EOF
)
it dns --policy "$dnspol" --image bb -- sh -c 'nslookup allowed.test; nslookup denied.test; true'
rc "names in a container" 1 dns
h_assert_json "$IT_JSON" '.result == "noisy" and any(.attempts[]; .qname == "denied.test" and .verdict == "deny" and (.container_id | type == "string")) and all(.attempts[]; .qname != "allowed.test")' \
	"names in a container: denied.test refused and reported by name, in the container"
if grep -q 'query\[A\] allowed.test' "$H_TMP/img-dnsmasq.out" "$H_TMP/img-dnsmasq.err" 2>/dev/null; then
	h_pass "names in a container: allowed.test reached the policy's resolver"
else
	h_fail "names in a container: allowed.test reached the policy's resolver" "$(tail -n 5 "$H_TMP/img-dnsmasq.err" "$H_TMP/dns.err" 2>/dev/null)"
fi
if ! grep -q 'denied.test' "$H_TMP/img-dnsmasq.out" "$H_TMP/img-dnsmasq.err" 2>/dev/null; then
	h_pass "names in a container: denied.test never reached a resolver"
else
	h_fail "names in a container: denied.test never reached a resolver" "$(grep denied.test "$H_TMP/img-dnsmasq.out" "$H_TMP/img-dnsmasq.err" | head -n 3)"
fi

# -- a failing image, one that cannot start, a missing one --
it fail --image bb -- sh -c 'exit 3'
rc "failing image" 2 fail
h_assert_json "$IT_JSON" '.result == "error" and .exit_code == 3 and (.error | test("container exited with status 3"))' \
	"failing image: error with its status"
it nostart --image bb -- /no/such/program
rc "container that cannot start" 2 nostart
h_assert_json "$IT_JSON" '.result == "error" and (.error | test("could not be (started|found|invoked)"))' \
	"container that cannot start: error"
gone "container that cannot start"
it missing --image no-such-image:1 -- true
rc "missing image" 2 missing
if grep -q 'hush never pulls' "$H_TMP/missing.out"; then
	h_pass "missing image: says what to do"
else
	h_fail "missing image: says what to do" "$IT_OUT $(cat "$H_TMP/missing.err")"
fi

# -- parallel image tests: unique names, each its own verdict --
pids=()
for i in 1 2 3; do
	# (the harness's EXIT trap is not the subshell's to run)
	(
		trap - EXIT INT TERM
		it "par$i" --image bb -- sh -c "sleep 1; [ $i != 2 ] || nc -w 1 $GW 18080 </dev/null; true"
	) &
	pids+=($!)
done
wait "${pids[@]}"
ok=1
names=
for i in 1 2 3; do
	want=0
	[ "$i" = 2 ] && want=1
	r=$(jq -r .result "$H_TMP/par$i.json" 2>/dev/null)
	names="$names $(jq -r '.containers[0].name' "$H_TMP/par$i.json" 2>/dev/null)"
	case $want:$r in 0:silent | 1:noisy) ;; *) ok= ;; esac
done
if [ -n "$ok" ] && [ "$(echo "$names" | tr ' ' '\n' | sort -u | grep -c .)" = 3 ]; then
	h_pass "parallel image tests: three names, one noisy, two silent"
else
	h_fail "parallel image tests: three names, one noisy, two silent" \
		"names:$names; $(cat "$H_TMP"/par*.out); stderr: $(cat "$H_TMP"/par*.err)"
fi
gone "parallel image tests"

# -- a compose stack with one noisy service --
if [ -x "$E_COMPOSE_BIN" ]; then
	dir=$(h_run_dir)
	cat >"$dir/docker-compose.yml" <<EOF
version: "2.4"
services:
  web:
    image: bb
    command: ["sh", "-c", "touch /tmp/up; exec sleep 60"]
  phone:
    image: bb
    command: ["sh", "-c", "sleep 1; nc -w 1 $GW 18080 </dev/null; exec sleep 60"]
EOF
	# shellcheck disable=SC2016 # $HUSH_TEST_CONTAINER: the probe's shell expands it
	it compose --compose "$dir/docker-compose.yml" --timeout 30s --grace 1s --observe 3s \
		--ready 'web=docker exec "$HUSH_TEST_CONTAINER" test -e /tmp/up'
	rc "compose stack" 1 compose
	h_assert_json "$IT_JSON" ".result == \"noisy\" and (.compose.project | startswith(\"hushtest\")) and (.containers | length) == 2 and ([.containers[].service] | sort) == [\"phone\", \"web\"] and all(.attempts[]; .service == \"phone\") and any(.attempts[]; .daddr == \"$GW\") and (.ready_ms | type == \"number\")" \
		"compose stack: attempts grouped by service (phone), both containers named"
	if printf '%s\n' "$IT_OUT" | grep -q '^  service phone:$'; then
		h_pass "compose stack: report groups by service"
	else
		h_fail "compose stack: report groups by service" "$IT_OUT"
	fi
	proj=$(jq -r .compose.project <<<"$IT_JSON")
	if [ -z "$(e_docker ps -aq)" ] && ! e_docker network inspect "${proj}_default" >/dev/null 2>&1; then
		h_pass "compose stack: torn down (containers, network)"
	else
		h_fail "compose stack: torn down (containers, network)" "$(e_docker ps -a; e_docker network ls)"
	fi
	unreached "compose stack"
else
	h_skip_or_fail "compose stack" "needs $E_COMPOSE_BIN"
fi

# -- podman, through its API service --
e_podman_up
e_image_busybox bb podman || exit 1
e_podman_service_up
h_cgroup_run "$H_CG_AUX" env PATH="$HPATH" CONTAINER_HOST="$E_PODMAN_HOST" \
	"$HUSH" test --cgroup-parent "$tcg" --json "$H_TMP/podman.json" --engine podman \
	--image bb -- sh -c "nc -w 2 $E_PODMAN_GW 18080 </dev/null" \
	>"$H_TMP/podman.out" 2>"$H_TMP/podman.err" </dev/null
IT_RC=$?
IT_JSON=$(cat "$H_TMP/podman.json" 2>/dev/null)
IT_OUT=$(cat "$H_TMP/podman.out")
rc "podman image" 1 podman
h_assert_json "$IT_JSON" ".result == \"noisy\" and .engine == \"podman\" and any(.attempts[]; .daddr == \"$E_PODMAN_GW\" and .container_id == \"$(h_json_get "$IT_JSON" '.containers[0].id' none)\")" \
	"podman image: the attempt, in the container"
unreached "podman image"
if [ -z "$(e_podman ps -aq)" ]; then
	h_pass "podman image: container removed"
else
	h_fail "podman image: container removed" "$(e_podman ps -a)"
fi
h_done
