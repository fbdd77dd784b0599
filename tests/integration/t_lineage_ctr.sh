#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Lineage in a container (real dockerd): the ancestry of a process inside
# runs from it up to the container's first process and the first process
# outside the container's cgroup (the runtime's shim), exe paths as the
# container sees them; a parent that exited before the attempt is still
# named.  The same chain for `docker exec`.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=tests/lib/engines.sh
. "$(dirname "$0")/../lib/engines.sh"

h_init lineage_ctr
h_require_hush
h_require_tools jq
e_docker_up
e_image_busybox bb docker || h_done

db=$H_RUN_DIR/hush.db
policy=$(h_policy lineage.policy <<EOF
mode enforce
EOF
)
h_hushd_start "$policy" "$E_DOCKER_CG" --docker-socket "$H_TMP/docker.sock" \
	--podman-socket "" --containerd-socket "" || h_done

# row JQ: the first `hush log --json` row matching JQ (5 s).
row() {
	local deadline=$(($(h_now_ms) + 5000)) out
	while :; do
		out=$("$HUSH" log --db "$db" --limit 0 --json 2>/dev/null | jq -c "select($1)" | head -n 1)
		[ -n "$out" ] && { echo "$out"; return 0; }
		[ "$(h_now_ms)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# 1. sh -> nc as the container's command: nc <- sh <- the shim.
e_docker run --rm --network host --name lin1 bb sh -c "nc -w 1 $H_FORB4 7031; true" \
	>/dev/null 2>&1
if r=$(row '.dport == 7031 and .kind == "attempt"'); then
	h_log "ancestry: $(jq -c .ancestry <<<"$r")"
	# (busybox's sh runs its applets through /proc/self/exe: nc is /bin/busybox)
	if jq -e '.ancestry[0].exe == .exe and .ancestry[0].pid == .tgid and
		(.ancestry[1].exe | test("^/bin/(sh|busybox)$")) and (.ancestry | length) == 3 and
		(.ancestry[2].exe | test("containerd-shim")) and .ppid == .ancestry[1].pid' \
		<<<"$r" >/dev/null; then
		h_pass "lineage_ctr: nc <- sh <- the runtime's shim, paths as the container sees them"
	else
		h_fail "lineage_ctr: nc <- sh <- the runtime's shim" "$(jq -c '{ppid, ancestry}' <<<"$r")"
	fi
else
	h_fail "lineage_ctr: a row for the container" "none for port 7031"
fi

# 2. A parent exits before its descendant connects: still named, marked.
#    (The subshell starts sh and exits; sh connects a second later.)
e_docker run --rm --network host --name lin2 bb sh -c \
	"(sh -c 'sleep 1; nc -w 1 $H_FORB4 7032; true' & sleep 0.3); sleep 2" >/dev/null 2>&1
if r=$(row '.dport == 7032 and .kind == "attempt"'); then
	h_log "ancestry: $(jq -c .ancestry <<<"$r")"
	if jq -e '.ancestry[0].exe == .exe and ([.ancestry[] | select(.exited)] | length) >= 1
		and (.ancestry[-1].exe | test("containerd-shim"))' <<<"$r" >/dev/null; then
		h_pass "lineage_ctr: an exited parent inside the container is still named"
	else
		h_fail "lineage_ctr: an exited parent inside the container" "$(jq -c .ancestry <<<"$r")"
	fi
else
	h_fail "lineage_ctr: a row for the exited-parent case" "none for port 7032"
fi

# 3. docker exec: the exec'd process's chain ends outside the container too.
e_docker run -d --network host --name lin3 bb sleep 60 >/dev/null
e_docker exec lin3 sh -c "nc -w 1 $H_FORB4 7033; true" >/dev/null 2>&1
if r=$(row '.dport == 7033 and .kind == "attempt"'); then
	h_log "ancestry: $(jq -c .ancestry <<<"$r")"
	# runc exec's process: its parent is runc, which exited after starting it
	if jq -e '.ancestry[0].exe == .exe and (.ancestry[1].exe | test("^/bin/(sh|busybox)$"))
		and (.ancestry | length) == 3 and (.ancestry[2].exe | test("runc|containerd-shim"))' \
		<<<"$r" >/dev/null; then
		h_pass "lineage_ctr: docker exec: nc <- sh <- runc (outside the container)"
	else
		h_fail "lineage_ctr: docker exec chain" "$(jq -c .ancestry <<<"$r")"
	fi
else
	h_fail "lineage_ctr: a row for docker exec" "none for port 7033"
fi
e_docker rm -f lin3 >/dev/null 2>&1

h_done
