#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# hushd and Kubernetes pods through containerd's CRI plugin (Debian's
# containerd, its CRI plugin enabled, state under the test's directory).
# Pods are made the way the kubelet makes them, by our own CRI client
# (tests/tools/cri_pod: RunPodSandbox with the kubelet's labels, host
# network = the harness's private namespace, a cgroup parent of ours;
# CreateContainer; StartContainer).  hushd with `scope pod namespace=llm
# label=app=vllm` gives the vllm pod its rules (one allowed connect, the rest
# denied) and not the webui pod; app=vllm is a pod label, which only the CRI
# has (`ctr containers info` on the container does not), so the scope
# matching at all says the metadata came from the CRI.  The log names pod
# namespace/name, container name, image and image id.  Pods are stopped and
# removed; containerd restarts (running pods keep their scope, new pods get
# theirs); hushd restarts; hushd starts while containerd is down (said once,
# retried with backoff, the pods read again when the CRI is back).  A task
# made with `ctr run` in k8s.io, unknown to the CRI, is still named from its
# bundle and ctr's labels.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=tests/lib/engines.sh
. "$(dirname "$0")/../lib/engines.sh"

h_init cri
h_require_hush
h_require_tools jq
e_cri_up

DB=$H_RUN_DIR/hush.db
policy=$(h_policy cri.policy <<EOF
mode enforce
scope pod namespace=llm label=app=vllm {
	allow $H_INT4 tcp 8082
}
EOF
)
for port in 8080 8082; do
	h_listen "$H_NS_INT" tcp 0.0.0.0 "$port"
done
h_listen "$H_NS_FORB" tcp 0.0.0.0 8080

hushd_up() {
	h_hushd_start "$policy" "$E_CRI_CG" --docker-socket "" --podman-socket "" \
		--containerd-socket "$E_CRI_SOCK" --containerd-state "$E_DIR/cri/state" || h_done
}
hushd_up

hl() {
	"$HUSH" log --db "$DB" "$@"
}

# The pod's own process tries each target every 0.2 s and writes the
# outcome to a file of ours.
# shellcheck disable=SC2016 # expanded in the container
probe='while :; do for t in "$0:8082" "$0:8080" "$1:8080"; do
	if nc -w 1 "${t%:*}" "${t#*:}" </dev/null >/dev/null 2>&1; then r=ok; else r=deny; fi
	echo "$r" >"/out/$t.new" && mv "/out/$t.new" "/out/$t"; done; sleep 0.2; done'

# pod NAME APP [SCRIPT]: a pod of namespace llm, label app=APP, container
# "server" running sh -c SCRIPT (default $probe) INT4 FORB4; POD_<NAME> is
# its sandbox id.
pod() {
	local name=$1 app=$2 script=${3:-$probe} ids
	mkdir -p "$H_TMP/out-$name" "$E_DIR/cri/pods/llm_$name"
	if ! ids=$(e_cri up --namespace llm --pod "$name" --uid "uid-$name" \
		--cgroup-parent "$(e_cgroup_parent "$E_CRI_CG")" --pod-label "app=$app" \
		--log-dir "$E_DIR/cri/pods/llm_$name" --container server --image "$E_CRI_IMAGE" \
		--label "hush.test/pod=$name" --mount "$H_TMP/out-$name:/out" -- \
		sh -c "$script" "$H_INT4" "$H_FORB4" 2>"$H_TMP/cri-$name.err"); then
		h_fail "pod $name: RunPodSandbox, CreateContainer, StartContainer" \
			"$(cat "$H_TMP/cri-$name.err") $(tail -n 3 "$E_DIR/cri/containerd.log" | tr '\n' ' ')"
		return 1
	fi
	h_pass "pod $name: RunPodSandbox, CreateContainer, StartContainer (our CRI client)"
	printf -v "POD_${name//-/_}" '%s' "${ids%% *}"
}

# outcome NAME ADDR PORT: the pod's latest outcome (a fresh one, 5 s at most).
outcome() {
	rm -f "$H_TMP/out-$1/$2:$3"
	h_wait_for_file "$H_TMP/out-$1/$2:$3" 5
	cat "$H_TMP/out-$1/$2:$3" 2>/dev/null
}

# settled NAME: wait (SETTLE_S, 30 s: under CI load a bind once took over
# 10 s) until the pod reaches the address its
# scope allows.
settled() {
	local i
	for i in $(seq 1 $((${SETTLE_S:-30} * 10))); do
		[ "$(cat "$H_TMP/out-$1/$H_INT4:8082" 2>/dev/null)" = ok ] && return 0
		sleep 0.1
	done
	: "$i"
	return 1
}

# expect_vllm NAME: the scope's one allowed connect, and denials.
expect_vllm() {
	settled "$1" || h_log "$1: not bound within ${SETTLE_S:-30} s: $(tail -n 5 "$H_HUSHD_ERR" | tr '\n' ' ')"
	local got
	got=$(outcome "$1" "$H_INT4" 8082)
	if [ "$got" = ok ]; then
		h_pass "$1 (pod llm, app=vllm): $H_INT4:8082 allowed by its scope"
	else
		h_fail "$1 (pod llm, app=vllm): $H_INT4:8082 allowed by its scope" \
			"got '$got'; hushd: $(grep -E 'containerd|bound' "$H_HUSHD_ERR" | tail -n 6 | tr '\n' ' ')"
	fi
	h_same "$1 (pod llm, app=vllm): $H_INT4:8080 denied" "$(outcome "$1" "$H_INT4" 8080)" deny
	h_same "$1 (pod llm, app=vllm): $H_FORB4:8080 denied" "$(outcome "$1" "$H_FORB4" 8080)" deny
}

if grep -q 'containerd: CRI containerd .* (API v1)' "$H_HUSHD_ERR"; then
	h_pass "hushd: speaks CRI v1 to containerd ($(grep -o 'CRI containerd [^ ]* (API v1)' "$H_HUSHD_ERR" | head -n 1))"
else
	h_fail "hushd: speaks CRI v1 to containerd" "$(tail -n 5 "$H_HUSHD_ERR" | tr '\n' ' ')"
fi

pod vllm-0 vllm || h_done
pod webui-0 webui || h_done
expect_vllm vllm-0
sleep 1 # (webui-0: bound or not, its scope is the top level's)
h_same "webui-0 (pod llm, app=webui): $H_INT4:8082 denied (no scope selects it)" \
	"$(outcome webui-0 "$H_INT4" 8082)" deny

# ---- the log ----

sleep 0.5 # (the store's flush interval: 200 ms)
h_same "log: pod namespace/name, container name and image from the CRI" \
	"$(hl --json --dest "$H_INT4" | jq -r 'select(.pod_namespace != null) | "\(.pod_namespace)/\(.pod_name)/\(.name) \(.image)"' | sort -u | tr '\n' ' ')" \
	"llm/vllm-0/server $E_CRI_IMAGE llm/webui-0/server $E_CRI_IMAGE "
iid=$(e_cri_ctr images ls | awk -v n="$E_CRI_IMAGE" '$1 == n { print $3 }')
img_id=$(e_cri status "$(e_cri list | awk '$1 == "ctr" && $4 == "server" { print $2; exit }')" | jq -r .image_id)
h_same "log: the image id, as the CRI says it (ContainerStatus image_ref)" \
	"$(hl --json --dest "$H_INT4" | jq -r 'select(.pod_name == "vllm-0") | .image_id' | sort -u)" \
	"$img_id"
h_log "image $E_CRI_IMAGE: manifest $iid, image id (config) $img_id"
h_same "log --container server: rows of both pods' containers" \
	"$(hl --container server --json | jq -r '.pod_name' | sort -u | tr '\n' ' ')" \
	"vllm-0 webui-0 "

# ---- stop and remove a pod; a new one gets its scope ----

# shellcheck disable=SC2154 # POD_webui_0: set by pod() through printf -v
if e_cri down "$POD_webui_0" 2>"$H_TMP/down.err"; then
	h_pass "pod webui-0: StopPodSandbox, RemovePodSandbox"
else
	h_fail "pod webui-0: StopPodSandbox, RemovePodSandbox" "$(cat "$H_TMP/down.err")"
fi
h_same "pod webui-0: gone from the CRI" "$(e_cri list | grep -c webui-0)" 0
pod vllm-1 vllm && expect_vllm vllm-1

# ---- containerd restarts: running pods keep their scope, new pods get theirs ----

if e_cri_restart; then
	h_pass "containerd restarted (CRI answers again)"
else
	h_fail "containerd restarted" "$(tail -n 5 "$E_DIR/cri/containerd.log" | tr '\n' ' ')"
fi
h_same "vllm-0 across containerd's restart: $H_INT4:8082 still allowed" "$(outcome vllm-0 "$H_INT4" 8082)" ok
h_same "vllm-0 across containerd's restart: $H_FORB4:8080 still denied" "$(outcome vllm-0 "$H_FORB4" 8080)" deny
pod vllm-2 vllm && expect_vllm vllm-2

# ---- hushd restarts: it reads the running pods through the CRI ----

h_stop "$H_HUSHD_PID"
t_restart=$(date +%s)
hushd_up
expect_vllm vllm-0
sleep 0.5
h_same "hushd restarted: the log names vllm-0 again" \
	"$(hl --json --since "@$t_restart" --dest "$H_FORB4" --port 8080 | jq -r 'select(.pod_name == "vllm-0") | "\(.pod_namespace)/\(.pod_name)/\(.name)"' | sort -u)" \
	"llm/vllm-0/server"

# ---- hushd starts while containerd is down; containerd comes back ----

h_stop "$H_HUSHD_PID"
e_stop "$E_CRI_PID" 10
hushd_up
sleep 3.5 # (Version tried at 0, 1 and 3 s: the backoff)
h_same "CRI unreachable: hushd says so once, not at each retry" \
	"$(grep -c 'containerd: the CRI does not answer' "$H_HUSHD_ERR")" 1
h_log "$(grep -m 1 'containerd: the CRI does not answer' "$H_HUSHD_ERR")"
# meanwhile vllm-0 is named from its bundle: no pod labels, so no pod scope
h_same "CRI unreachable: vllm-0 keeps the enclosing rules ($H_INT4:8082 denied)" \
	"$(outcome vllm-0 "$H_INT4" 8082)" deny
if e_cri_start; then
	h_pass "containerd started again"
else
	h_fail "containerd started again" "$(tail -n 5 "$E_DIR/cri/containerd.log" | tr '\n' ' ')"
fi
SETTLE_S=40 expect_vllm vllm-0
if grep -q 'containerd: CRI containerd .* (API v1)' "$H_HUSHD_ERR"; then
	h_pass "CRI back: hushd reconnected with backoff and read the pods again"
else
	h_fail "CRI back: hushd reconnected" "$(tail -n 5 "$H_HUSHD_ERR" | tr '\n' ' ')"
fi

# ---- pods whose first instruction connects ----

# shellcheck disable=SC2016 # expanded in the container
first='if nc -w 2 "$0" 8082 </dev/null >/dev/null 2>&1; then echo ok; else echo deny; fi >/out/first
if nc -w 2 "$1" 8080 </dev/null >/dev/null 2>&1; then echo ok; else echo deny; fi >/out/forb'
ok=0
bad=0
for i in 1 2 3; do
	pod "early-$i" vllm "$first" || continue
	h_wait_for_file "$H_TMP/out-early-$i/forb" 10
	[ "$(cat "$H_TMP/out-early-$i/first" 2>/dev/null)" = ok ] && ok=$((ok + 1))
	[ "$(cat "$H_TMP/out-early-$i/forb" 2>/dev/null)" = ok ] && bad=$((bad + 1))
	e_cri down "$(eval echo "\$POD_early_$i")" >/dev/null 2>&1
done
h_same "first-instruction connects of pods: never to the forbidden address" "$bad" 0
h_log "pods whose first instruction connects, allowed by their own scope: $ok of 3 (the rest ran under the enclosing rules)"

# ---- a task in k8s.io the CRI does not know: bundle and ctr labels ----

ctrd_id=ctr-made-0
mkdir -p "$H_TMP/out-$ctrd_id"
if out=$(e_cri_ctr run -d --net-host --cgroup "$(e_cgroup_parent "$E_CRI_CG")/$ctrd_id" \
	--mount "type=bind,src=$H_TMP/out-$ctrd_id,dst=/out,options=rbind:rw" \
	--label io.kubernetes.pod.namespace=llm --label io.kubernetes.pod.name=byhand \
	--label app=vllm "$E_CRI_IMAGE" "$ctrd_id" sh -c "$probe" "$H_INT4" "$H_FORB4" </dev/null 2>&1); then
	expect_vllm "$ctrd_id"
else
	h_fail "ctr run in k8s.io" "$out"
fi

# ---- a task the CRI made (by its bundle) but does not know: after the
#      wait it keeps its bundle's names, and hushd asks again later ----

late_id=ctr-late-0
mkdir -p "$H_TMP/out-$late_id"
if out=$(e_cri_ctr run -d --net-host --cgroup "$(e_cgroup_parent "$E_CRI_CG")/$late_id" \
	--mount "type=bind,src=$H_TMP/out-$late_id,dst=/out,options=rbind:rw" \
	--annotation io.kubernetes.cri.container-type=container \
	--annotation io.kubernetes.cri.container-name=late \
	--annotation io.kubernetes.cri.sandbox-namespace=llm \
	--annotation io.kubernetes.cri.sandbox-name=ghost \
	"$E_CRI_IMAGE" "$late_id" sh -c "$probe" "$H_INT4" "$H_FORB4" </dev/null 2>&1); then
	sleep 7 # (CRI_WAIT_MS, 5 s, then named from the bundle)
	t_late=$(date +%s)
	outcome "$late_id" "$H_FORB4" 8080 >/dev/null
	sleep 0.5
	h_same "a CRI-made task the CRI does not know: named from its bundle after the wait" \
		"$(hl --json --since "@$t_late" --dest "$H_FORB4" --port 8080 | jq -r 'select(.name == "late" or .pod_name == "ghost") | "\(.pod_namespace)/\(.pod_name)/\(.name)"' | sort -u)" \
		"llm/ghost/late"
	h_same "a CRI-made task the CRI does not know: asked again, hushd still answers" \
		"$(h_hush status >/dev/null 2>&1 && echo up)" up
else
	h_fail "ctr run in k8s.io with CRI annotations" "$out"
fi

if out=$(hl verify 2>&1); then
	h_pass "log verify: intact ($out)"
else
	h_fail "log verify: intact" "$out"
fi

h_done
