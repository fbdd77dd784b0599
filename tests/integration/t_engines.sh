#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The container engines library (tests/lib/engines.sh) itself, without any
# hush binary: dockerd, podman and docker-compose run real containers inside
# the harness's private network namespace, with every piece of state under
# the test's temp dir; containers' cgroups are below cgroups of ours (also
# with --cgroup-parent, what `hush test --image` uses); afterwards no
# process, cgroup (v2 or v1), mount, namespace or root-namespace firewall
# rule of the run is left.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=tests/lib/engines.sh
. "$(dirname "$0")/../lib/engines.sh"

h_init engines
h_require_netprobe
h_require_tools iptables

# What the root namespace and the host's engine state look like before.
root_state() {
	iptables -S
	iptables -t nat -S
	command -v nft >/dev/null && nft list ruleset
	ip -o link show | awk -F': ' '{ print $2 }' | sort
	for f in /run/containerd /run/docker /run/docker.sock /var/lib/docker \
		/var/lib/containerd /var/lib/cni /etc/docker/key.json /opt/containerd \
		/dev/shm/libpod_lock /run/libpod /run/containers; do
		[ -e "$f" ] && echo "exists: $f"
	done
	return 0
}
root_before=$(root_state 2>&1)

# ---- the run, in a subshell with its own test id; it records what it made ----

# in_cg DIR PARENT: DIR is strictly below PARENT.
below() {
	[[ "$1" == "$2"/* ]]
}

docker_cases() {
	local ns_ino d_ino cid out cg want listen img_cg
	e_docker_up
	ns_ino=$(stat -L -c %i "/run/netns/$E_NS")
	d_ino=$(stat -L -c %i "/proc/$E_DOCKERD_PID/ns/net")
	if [ "$ns_ino" = "$d_ino" ] && ip -n "$E_NS" link show docker0 >/dev/null 2>&1 &&
		! ip link show docker0 >/dev/null 2>&1; then
		h_pass "docker: dockerd runs in the private netns, docker0 is there only"
	else
		h_fail "docker: dockerd runs in the private netns, docker0 is there only" \
			"netns inode $ns_ino, dockerd's $d_ino; docker0: $(ip -br link show docker0 2>&1)"
	fi
	e_image_busybox bb docker || return
	if out=$(e_docker run --rm bb true 2>&1); then
		h_pass "docker: busybox container runs true"
	else
		h_fail "docker: busybox container runs true" "$out"
	fi

	cid=$(e_docker run -d bb sh -c 'cat /proc/self/cgroup; exec sleep 60' 2>&1)
	want=$E_DOCKER_CG/$cid
	E_WAIT_S=10 e_wait sh -c "$E_DOCKER_BIN logs $cid | grep -q '^0::'"
	out=$(e_docker logs "$cid" 2>&1 | awk -F: '$1 == "0" { print $3 }')
	cg=$(e_docker_cgroup "$cid")
	if [ "$CG2$out" = "$want" ] && [ "$cg" = "$want" ] && [ -d "$want" ] &&
		below "$want" "$H_CG_ROOT"; then
		h_pass "docker: container's cgroup2 is <ours>/docker/<id> (inside and out)"
	else
		h_fail "docker: container's cgroup2 is <ours>/docker/<id> (inside and out)" \
			"want $want; /proc/self/cgroup says $out; e_docker_cgroup says $cg"
	fi

	h_listen "$E_NS" tcp "$E_DOCKER_GW" 18080
	listen=$H_LISTEN_OUT
	if out=$(e_docker exec "$cid" sh -c "echo hi | nc -w 3 $E_DOCKER_GW 18080" 2>&1) &&
		h_wait_json "$listen" '.event == "accept" and (.peer_addr | startswith("172."))' 5 \
			>/dev/null; then
		h_pass "docker: container reaches a listener on the bridge gateway $E_DOCKER_GW"
	else
		h_fail "docker: container reaches a listener on the bridge gateway $E_DOCKER_GW" \
			"nc: $out; listener: $(tr '\n' ' ' <"$listen")"
	fi

	out=$(e_docker rm -f "$cid" 2>&1)
	if [ -z "$(e_docker ps -aq)" ] && [ ! -e "$want" ]; then
		h_pass "docker: container removed, its cgroup too"
	else
		h_fail "docker: container removed, its cgroup too" "$out; ps: $(e_docker ps -a)"
	fi

	img_cg=$(h_cgroup_create image/docker)
	cid=$(e_docker run -d --cgroup-parent "$(e_cgroup_parent "$img_cg")" bb sleep 60 2>&1)
	cg=$(e_docker_cgroup "$cid")
	if [ -n "$cg" ] && below "$cg" "$img_cg"; then
		h_pass "docker: --cgroup-parent puts the container below a cgroup of ours"
	else
		h_fail "docker: --cgroup-parent puts the container below a cgroup of ours" \
			"cgroup ${cg:-none} not below $img_cg ($cid)"
	fi
}

debian_cases() {
	local out
	e_image_debian deb docker || return
	out=$(e_docker run --rm deb python3 -c 'print(1)' 2>&1)
	if [ "$out" = 1 ]; then
		h_pass "debian: python3 runs"
	else
		h_fail "debian: python3 runs" "$out"
	fi
	out=$(e_docker run --rm deb curl --version 2>&1)
	if [[ "$out" == curl\ * ]]; then
		h_pass "debian: curl runs"
	else
		h_fail "debian: curl runs" "$out"
	fi
}

compose_cases() {
	local dir out n
	e_require_compose
	dir=$(h_run_dir)
	cat >"$dir/docker-compose.yml" <<'EOF'
version: "2.4"
services:
  server:
    image: bb
    command: ["sh", "-c", "while true; do echo pong | nc -l -p 8080; done"]
  client:
    image: bb
    command: ["sleep", "600"]
EOF
	if ! out=$(e_compose -f "$dir/docker-compose.yml" up -d 2>&1); then
		h_fail "compose: two services up" "$out"
		return
	fi
	n=$(e_docker ps -q --filter "label=com.docker.compose.project=e$H_ID" | wc -l)
	if [ "$n" = 2 ]; then
		h_pass "compose: two services up"
	else
		h_fail "compose: two services up" "$n running: $(e_docker ps -a)"
	fi
	out=$(e_compose -f "$dir/docker-compose.yml" exec -T client \
		sh -c 'echo ping | nc -w 3 server 8080' 2>&1)
	if [ "$out" = pong ]; then
		h_pass "compose: one service reaches the other by name"
	else
		h_fail "compose: one service reaches the other by name" "$out"
	fi
	out=$(e_compose -f "$dir/docker-compose.yml" down -t 1 2>&1)
	n=$(e_docker ps -aq --filter "label=com.docker.compose.project=e$H_ID" | wc -l)
	if [ "$n" = 0 ] && ! e_docker network inspect "e${H_ID}_default" >/dev/null 2>&1; then
		h_pass "compose: down removes containers and network"
	else
		h_fail "compose: down removes containers and network" "$n left: $out"
	fi
}

podman_cases() {
	local out cid cg img_cg rt
	e_podman_up
	e_image_busybox bb podman || return
	if out=$(e_podman run --rm bb true 2>&1); then
		h_pass "podman: busybox container runs true"
	else
		h_fail "podman: busybox container runs true" "$out"
	fi
	img_cg=$(h_cgroup_create image/podman)
	cid=$(e_podman run -d --cgroup-parent "$(e_cgroup_parent "$img_cg")" bb sleep 60 2>&1)
	cg=$(e_podman_cgroup "$cid")
	rt=$(e_podman inspect -f '{{ .OCIRuntime }}' "$cid" 2>&1)
	if [ -n "$cg" ] && below "$cg" "$img_cg" && [ "$rt" = "$E_RUNC_BIN" ]; then
		h_pass "podman: runc container below a cgroup of ours (--cgroup-parent)"
	else
		h_fail "podman: runc container below a cgroup of ours (--cgroup-parent)" \
			"cgroup ${cg:-none} (want below $img_cg), runtime $rt: $cid"
	fi
	# Left running on purpose: the cleanup must end it.
	cid=$(e_podman run -d bb sleep 60 2>&1)
	cg=$(e_podman_cgroup "$cid")
	if [ -n "$cg" ] && below "$cg" "$E_PODMAN_CG"; then
		h_pass "podman: default cgroup parent is ours"
	else
		h_fail "podman: default cgroup parent is ours" "cgroup ${cg:-none}: $cid"
	fi
	e_podman_service_up
	out=$("$E_DOCKER_BIN" -H "$E_PODMAN_HOST" ps -q --no-trunc 2>&1)
	if [[ "$out" == *"$cid"* ]]; then
		h_pass "podman: system service answers the Docker API on \$H_TMP/podman.sock"
	else
		h_fail "podman: system service answers the Docker API on \$H_TMP/podman.sock" "$out"
	fi
}

sub_run() (
	local st=$1 t0
	h_init engines-run
	e_init
	printf '%s\n' "id $H_ID" "tmp $H_TMP" "cg $H_CG_ROOT" "mntpid $E_MNT_PID" >>"$st"
	for ns in "${H_NETNS[@]}"; do echo "ns $ns" >>"$st"; done
	t0=$(h_now_ms)
	docker_cases
	printf '%s\n' "pid $E_DOCKERD_PID" "pid $E_CONTAINERD_PID" >>"$st"
	h_log "docker: $(($(h_now_ms) - t0)) ms"
	t0=$(h_now_ms)
	compose_cases
	h_log "compose: $(($(h_now_ms) - t0)) ms"
	t0=$(h_now_ms)
	podman_cases
	h_log "podman: $(($(h_now_ms) - t0)) ms"
	t0=$(h_now_ms)
	debian_cases
	h_log "debian: $(($(h_now_ms) - t0)) ms"
	# Leave everything running: the cleanup (trap) must stop it.
	pgrep -f "$H_TMP" | sed 's/^/pid /' >>"$st"
	[ "$H_NFAIL" -eq 0 ]
)

# A run killed with SIGTERM while containers of both engines run.
term_run() (
	local st=$1
	h_init engines-term
	e_docker_up
	e_podman_up
	printf '%s\n' "id $H_ID" "tmp $H_TMP" "mntpid $E_MNT_PID" "pid $E_DOCKERD_PID" \
		"pid $E_CONTAINERD_PID" >>"$st"
	for ns in "${H_NETNS[@]}"; do echo "ns $ns" >>"$st"; done
	e_image_busybox bb docker podman >/dev/null
	e_docker run -d bb sleep 60 >/dev/null
	e_podman run -d bb sleep 60 >/dev/null
	pgrep -f "$H_TMP" | sed 's/^/pid /' >>"$st"
	kill -TERM "$BASHPID"
	sleep 5
)

# ---- nothing left ----

# check_left WHAT STATEFILE: PASS lines for a run's leftovers.
check_left() {
	local what=$1 st=$2 sub_id sub_tmp left zombies=0 f p v
	sub_id=$(awk '$1 == "id" { print $2 }' "$st" 2>/dev/null)
	sub_tmp=$(awk '$1 == "tmp" { print $2 }' "$st" 2>/dev/null)
	if [ -z "$sub_id" ] || [ -z "$sub_tmp" ]; then
		h_fail "$what" "the run recorded nothing"
		return
	fi

	# (a process killed a moment ago may still be exiting: looked at again
	# for up to 5 s; one that lives on is a leak)
	for _ in $(seq 1 10); do
		left=
		zombies=0
		while read -r f v; do
			case $f in
			pid | mntpid) h_alive "$v" && left="$left pid:$v($(tr '\0' ' ' <"/proc/$v/cmdline" 2>/dev/null), cgroup $(sed -n 's/^0:://p' "/proc/$v/cgroup" 2>/dev/null))" ;;
			ns) [ -e "/run/netns/$v" ] && left="$left netns:$v" ;;
			esac
		done <"$st"
		# Any live process still in one of the run's cgroups (zombies that
		# PID 1 has not reaped yet are not running; they are counted in the
		# log only).
		for f in /proc/[0-9]*/cgroup; do
			grep -q "hush-test\.$sub_id" "$f" 2>/dev/null || continue
			p=${f#/proc/}
			p=${p%/cgroup}
			if h_alive "$p"; then
				left="$left pid:$p"
			else
				zombies=$((zombies + 1))
			fi
		done
		[ -z "$left" ] && break
		sleep 0.5
	done
	[ "$zombies" -gt 0 ] && h_log "$what: $zombies zombies left for PID 1 to reap"
	if [ -z "$left" ]; then
		h_pass "$what: no process is left"
	else
		h_fail "$what: no process is left" "left:$left"
	fi

	left=$(awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/mounts | while read -r m; do
		[ -e "$m/hush-test.$sub_id" ] && echo "$m/hush-test.$sub_id"
	done)
	if [ -z "$left" ]; then
		h_pass "$what: no cgroup (v2 or v1) is left"
	else
		h_fail "$what: no cgroup (v2 or v1) is left" "left: $left"
	fi

	left=$(grep -F -e "$sub_tmp" -e engines- /proc/mounts)
	if [ -z "$left" ] && [ ! -e "$sub_tmp" ]; then
		h_pass "$what: no mount under its temp dir, temp dir removed"
	else
		h_fail "$what: no mount under its temp dir, temp dir removed" \
			"mounts: $left; $(ls -d "$sub_tmp" 2>&1)"
	fi
}

t0=$(h_now_ms)
sub_run "$H_TMP/run.state"
sub_rc=$?
h_log "run and cleanup: $(($(h_now_ms) - t0)) ms"
check_left "engines: after the run" "$H_TMP/run.state"

t0=$(h_now_ms)
term_run "$H_TMP/term.state" >"$H_TMP/term.log" 2>&1
h_log "run killed by SIGTERM and cleanup: $(($(h_now_ms) - t0)) ms"
grep -E '^(FAIL|SKIP):' "$H_TMP/term.log"
check_left "engines: after SIGTERM" "$H_TMP/term.state"

root_after=$(root_state 2>&1)
if [ "$root_before" = "$root_after" ]; then
	h_pass "engines: root namespace's iptables, nftables, links and engine state unchanged"
else
	h_fail "engines: root namespace's iptables, nftables, links and engine state unchanged" \
		"$(diff <(echo "$root_before") <(echo "$root_after") | grep '^[<>]' | head -n 10)"
fi
[ "$sub_rc" -eq 0 ] || h_log "the run had failures (above)"
h_done
