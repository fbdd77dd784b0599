#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# hushd knows containers: one hushd enforcing on dockerd's cgroup parent,
# a policy with container scopes (by name, by label); each container reaches
# what its scope allows and nothing else (listeners in the internal and
# forbidden namespaces), a container no scope selects gets the top level.
# The log names the containers (name, image); `hush log --container NAME`
# and `--image` find them.  dockerd restarts (hushd's cache reconnects) and
# hushd restarts (it binds what runs at start; meanwhile the enclosing rules
# hold).  Containers use the host network of the test (--network host): the
# harness's namespace with routes to the listeners, nothing else.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=tests/lib/engines.sh
. "$(dirname "$0")/../lib/engines.sh"

h_init containers
h_require_hush
h_require_tools jq
e_docker_up
e_image_busybox bb docker || h_done

DB=$H_RUN_DIR/hush.db
policy=$(h_policy containers.policy <<EOF
mode enforce
scope container name=web-* {
	allow $H_INT4 tcp 8080
}
scope container label=hush.test/role=worker {
	allow $H_INT4 tcp 8081
}
scope pod namespace=llm label=app=vllm {
	allow $H_INT4 tcp 8082
}
EOF
)
for port in 8080 8081 8082; do
	h_listen "$H_NS_INT" tcp 0.0.0.0 "$port"
done
h_listen "$H_NS_FORB" tcp 0.0.0.0 8080

hushd_up() {
	h_hushd_start "$policy" "$E_DOCKER_CG" --docker-socket "$H_TMP/docker.sock" \
		--podman-socket "" --containerd-socket "" || h_done
}

# hushd_move CG ARGS: disable hushd, start one on CG with ARGS (engines).
hushd_move() {
	local cg=$1
	shift
	h_hush disable >"$H_TMP/disable.out" 2>&1 ||
		h_fail "hush disable" "$(tail -n 3 "$H_TMP/disable.out" | tr '\n' ' ')"
	h_stop "$H_HUSHD_PID"
	h_hushd_start "$policy" "$cg" "$@" || h_done
}
hushd_up

# run NAME [docker run options]: a long-running busybox container.
run() {
	local name=$1
	shift
	e_docker run -d --network host --name "$name" "$@" bb sleep 600 >/dev/null
}

# can NAME ADDR PORT: does a connect from inside the container succeed?
# (EXEC: the engine's exec command, default docker's.)
EXEC=(e_docker exec)
can() {
	"${EXEC[@]}" "$1" nc -w 2 "$2" "$3" </dev/null >/dev/null 2>&1
}

# bound NAME PORT: wait (5 s) until the container reaches $H_INT4:PORT.
bound() {
	local i
	for i in $(seq 1 50); do
		can "$1" "$H_INT4" "$2" && return 0
		sleep 0.1
	done
	: "$i"
	return 1
}

# expect NAME ADDR PORT ok|deny: one attempt, checked.
expect() {
	local name=$1 addr=$2 port=$3 want=$4 got=deny
	can "$name" "$addr" "$port" && got=ok
	if [ "$got" = "$want" ]; then
		h_pass "$name: $addr:$port $want"
	else
		h_fail "$name: $addr:$port $want" "got $got"
	fi
}

run web-a
run worker-b --label hush.test/role=worker
run other-c
bound web-a 8080 || h_log "web-a: not bound within 5 s: $(tail -n 5 "$H_HUSHD_ERR" | tr '\n' ' ')"
bound worker-b 8081 || h_log "worker-b: not bound within 5 s"

expect web-a "$H_INT4" 8080 ok
expect web-a "$H_INT4" 8081 deny
expect web-a "$H_FORB4" 8080 deny
expect worker-b "$H_INT4" 8081 ok
expect worker-b "$H_INT4" 8080 deny
expect worker-b "$H_FORB4" 8080 deny
expect other-c "$H_INT4" 8080 deny
expect other-c "$H_INT4" 8081 deny

# ---- the log ----

sleep 0.5 # (the store's flush interval: 200 ms)
hl() {
	"$HUSH" log --db "$DB" "$@"
}
h_same "log --container web-a: its denied rows, named web-a, image bb" \
	"$(hl --container web-a --denied --json | jq -r '"\(.name) \(.image) \(.daddr):\(.dport)"' | sort -u | tr '\n' ' ')" \
	"$(printf '%s\n' "web-a bb $H_FORB4:8080" "web-a bb $H_INT4:8081" | sort | tr '\n' ' ')"
cid=$(e_docker inspect -f '{{ .Id }}' worker-b)
h_same "log --container ID-PREFIX: the rows of worker-b" \
	"$(hl --container "${cid:0:10}" --json | jq -r '.name' | sort -u | tr '\n' ' ')" "worker-b "
h_same "log --container GLOB: web-* rows" \
	"$(hl --container 'web-*' --json | jq -r '.name' | sort -u | tr '\n' ' ')" "web-a "
h_same "log --image 'b*': rows of all three containers" \
	"$(hl --image 'b*' --json | jq -r '.name' | sort -u | tr '\n' ' ')" "other-c web-a worker-b "
h_same "log --image of another image: no rows" "$(hl --image 'nope*' --json | wc -l)" 0
h_same "other-c: judged by the top level (no container scope)" \
	"$(hl --json --container other-c | jq -r 'select(.verdict == "deny") | .rule_scope // "/"' | sort -u | tr '\n' ' ')" "/ "
h_same "web-a: judged in its scope 'container name=web-*'" \
	"$(hl --json --container web-a | jq -r 'select(.verdict == "deny") | .rule_scope // ""' | sort -u | tr '\n' ' ')" \
	"container name=web-* "
h_log "rows of cgroups no engine names: $(hl --json | jq -c 'select(.name == null and .kind == "attempt") | [.cgroup_path, .comm, .daddr]' | sort -u | tr '\n' ' ')"
h_same "top --by container: names" \
	"$(hl top --by container --json | jq -r '.name // empty' | sort | tr '\n' ' ')" "other-c web-a worker-b "
h_same "top --by image: bb" "$(hl top --by image --json | jq -r '.image // empty' | tr '\n' ' ')" "bb "
if out=$(hl verify 2>&1); then
	h_pass "log verify: intact with container names ($out)"
else
	h_fail "log verify: intact with container names" "$out"
fi
got=$(hl --container web-a | sed -n 2p)
if [[ "$got" == *web-a*bb* ]]; then
	h_pass "log table: CONTAINER and IMAGE columns name web-a and bb"
else
	h_fail "log table: CONTAINER and IMAGE columns name web-a and bb" "$got"
fi

# ---- hush policy check explains a selector that selects nothing now ----

extra=$(h_policy containers2.policy <<EOF
scope container name=web-* {
	allow $H_INT4 tcp 8080
}
scope container name=nothing-* {
}
EOF
)
out=$("$HUSH" policy check "$extra" 2>&1 >/dev/null)
if [[ "$out" == *':4:1: note: "scope container name=nothing-*" selects no running container now (docker: '*' containers'* ]] &&
	[[ "$out" != *'name=web-*'* ]]; then
	h_pass "policy check: notes the selector that selects nothing running, not the other"
else
	h_fail "policy check: notes the selector that selects nothing running, not the other" "$out"
fi

# ---- dockerd restarts: the cache reconnects ----

if e_dockerd_restart; then
	run web-late
	if bound web-late 8080; then
		h_pass "dockerd restarted: a new web-* container gets its scope"
	else
		h_fail "dockerd restarted: a new web-* container gets its scope" \
			"$(tail -n 5 "$H_HUSHD_ERR" | tr '\n' ' ')"
	fi
	expect web-late "$H_INT4" 8081 deny
else
	h_fail "dockerd restart" "$(tail -n 5 "$E_DIR/docker/dockerd.log" | tr '\n' ' ')"
fi

# ---- hushd restarts: the enclosing rules hold, then it binds at start ----

h_stop "$H_HUSHD_PID"
run web-while-down
expect web-while-down "$H_INT4" 8080 deny
expect web-while-down "$H_FORB4" 8080 deny
hushd_up
if bound web-while-down 8080; then
	h_pass "hushd restarted: the container started meanwhile gets its scope"
else
	h_fail "hushd restarted: the container started meanwhile gets its scope" \
		"$(tail -n 5 "$H_HUSHD_ERR" | tr '\n' ' ')"
fi
expect web-while-down "$H_FORB4" 8080 deny
expect web-late "$H_INT4" 8080 ok

# ---- a container whose first instruction connects ----

ok=0
bad=0
for i in 1 2 3; do
	e_docker run --rm --network host --name "web-early$i" bb nc -w 2 "$H_INT4" 8080 \
		</dev/null >/dev/null 2>&1 && ok=$((ok + 1))
	e_docker run --rm --network host --name "web-early-f$i" bb nc -w 2 "$H_FORB4" 8080 \
		</dev/null >/dev/null 2>&1 && bad=$((bad + 1))
done
h_same "first-instruction connects: never to the forbidden address" "$bad" 0
h_log "first-instruction connects allowed by the container's scope: $ok of 3 (the rest ran under the enclosing rules)"

# ---- podman, through its Docker-compatible API ----

e_podman_service_up
e_image_busybox bb podman || h_done
hushd_move "$E_PODMAN_CG" --docker-socket "" --podman-socket "$H_TMP/podman.sock" \
	--containerd-socket ""
EXEC=(e_podman exec)
e_podman run -d --network host --name web-pod-man bb sleep 600 >/dev/null
e_podman run -d --network host --name pm-worker --label hush.test/role=worker bb sleep 600 >/dev/null
bound web-pod-man 8080 || h_log "web-pod-man: not bound within 5 s: $(tail -n 5 "$H_HUSHD_ERR" | tr '\n' ' ')"
expect web-pod-man "$H_INT4" 8080 ok
expect web-pod-man "$H_INT4" 8081 deny
expect web-pod-man "$H_FORB4" 8080 deny
expect pm-worker "$H_INT4" 8081 ok
expect pm-worker "$H_INT4" 8080 deny
sleep 0.5
h_same "podman: the log names web-pod-man (image localhost/bb...)" \
	"$(hl --container web-pod-man --json | jq -r '"\(.name) \(.image | sub(":latest$"; ""))"' | sort -u)" \
	"web-pod-man localhost/bb"

# ---- containerd, with the labels the kubelet sets ----

CTRD=$E_DIR/docker
ctr_() {
	e_in ctr --address "$CTRD/containerd.sock" -n k8s.io "$@"
}
ctrd_cg=$(h_cgroup_create ctrd)
if ! out=$(e_docker save bb | ctr_ images import --base-name localhost/bb - 2>&1); then
	h_fail "containerd: image imported" "$out"
else
	img=$(ctr_ images ls -q | grep bb | head -n 1)
	hushd_move "$ctrd_cg" --docker-socket "" --podman-socket "" \
		--containerd-socket "$CTRD/containerd.sock" --containerd-state "$CTRD/containerd/state"
	# The pods' own process tries each target every 0.2 s and writes the
	# outcome to a file of ours (no `ctr tasks exec`: it takes the caller's
	# signals along).
	# shellcheck disable=SC2016 # expanded in the container
	probe='while :; do for t in "$0:8082" "$0:8080" "$1:8080"; do
		if nc -w 1 "${t%:*}" "${t#*:}" </dev/null >/dev/null 2>&1; then r=ok; else r=deny; fi
		echo "$r" >"/out/$t.new" && mv "/out/$t.new" "/out/$t"; done; sleep 0.2; done'
	ctr_run() {
		local id=$1
		shift
		mkdir -p "$H_TMP/ctrd-$id"
		ctr_ run -d --net-host --cgroup "$(e_cgroup_parent "$ctrd_cg")/$id" \
			--mount "type=bind,src=$H_TMP/ctrd-$id,dst=/out,options=rbind:rw" \
			--label io.kubernetes.pod.namespace=llm --label io.kubernetes.container.name=server \
			"$@" "$img" "$id" sh -c "$probe" "$H_INT4" "$H_FORB4" </dev/null >/dev/null
	}
	# pod_expect ID ADDR PORT ok|deny: the pod's latest outcome for the target.
	pod_expect() {
		local got
		rm -f "$H_TMP/ctrd-$1/$2:$3"
		h_wait_for_file "$H_TMP/ctrd-$1/$2:$3" 5
		got=$(cat "$H_TMP/ctrd-$1/$2:$3" 2>/dev/null)
		h_same "$1 (pod llm): $2:$3 $4" "$got" "$4"
	}
	ctr_run vllm-0 --label io.kubernetes.pod.name=vllm-0 --label app=vllm
	ctr_run webui-0 --label io.kubernetes.pod.name=webui-0 --label app=webui
	for i in $(seq 1 50); do
		[ "$(cat "$H_TMP/ctrd-vllm-0/$H_INT4:8082" 2>/dev/null)" = ok ] && break
		sleep 0.1
	done
	pod_expect vllm-0 "$H_INT4" 8082 ok
	pod_expect vllm-0 "$H_INT4" 8080 deny
	pod_expect vllm-0 "$H_FORB4" 8080 deny
	pod_expect webui-0 "$H_INT4" 8082 deny
	sleep 0.5
	h_same "containerd: the log names the pod (namespace, pod, container)" \
		"$(hl --json --dest "$H_INT4" --port 8080 | jq -r 'select(.pod_namespace != null) | "\(.pod_namespace)/\(.pod_name)/\(.name)"' | sort -u | tr '\n' ' ')" \
		"llm/vllm-0/server llm/webui-0/server "
	# busybox's sh runs nc by executing /proc/self/exe: the row names the file
	h_same "containerd: busybox applets run by sh show the real exe" \
		"$(hl --json | jq -r 'select(.pod_name == "vllm-0" and .kind == "attempt") | .exe' | sort -u | tr '\n' ' ')" \
		"/bin/busybox "
	# this containerd runs without its CRI plugin (disabled_plugins): hushd
	# says so once, and names the tasks from bundles and ctr (above)
	h_same "containerd without its CRI plugin: hushd says so once (UNIMPLEMENTED)" \
		"$(grep -c 'containerd: no CRI (Version on .*UNIMPLEMENTED' "$H_HUSHD_ERR")" 1
	h_log "$(grep -m 1 'containerd: no CRI' "$H_HUSHD_ERR")"
	for id in vllm-0 webui-0; do
		ctr_ tasks kill -s KILL "$id" >/dev/null 2>&1
		sleep 0.2
		ctr_ tasks delete "$id" >/dev/null 2>&1
		ctr_ containers delete "$id" >/dev/null 2>&1
	done
fi
if out=$(hl verify 2>&1); then
	h_pass "log verify: intact after three engines ($out)"
else
	h_fail "log verify: intact after three engines" "$out"
fi

h_done
