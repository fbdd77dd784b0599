# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# shellcheck shell=bash disable=SC2034
# (SC2034: the E_* results set here are read by the tests that source this.)
#
# Real container engines for the integration tests, sourced after harness.sh
# (h_init first):
#
#   e_docker_up            containerd + dockerd (Debian docker.io); exports
#                          DOCKER_HOST=unix://$H_TMP/docker.sock, DOCKER_CONFIG
#   e_docker ARGS          the Debian docker client (never /usr/local/bin/docker)
#   e_compose ARGS         docker-compose v1 against that dockerd, project e<id>
#   e_podman_up            rootful podman, runc, cgroupfs, all state in $H_TMP
#   e_podman ARGS          that podman (run/create get a --cgroup-parent of ours)
#   e_podman_service_up    `podman system service` on $H_TMP/podman.sock
#   e_image_busybox NAME [docker|podman]...   busybox-static FROM scratch
#   e_image_debian NAME [docker|podman]...    Debian 12 minbase + curl, python3
#   e_docker_cgroup ID / e_podman_cgroup ID   a running container's cgroup2
#                          directory (absolute, under $CG2)
#   e_cgroup_of_pid PID    the cgroup2 directory of a process
#   e_cgroup_parent CG     the --cgroup-parent value for a cgroup of ours
#
# Safety, by construction:
#   - Every engine process runs in the test's private network namespace
#     (E_NS, default $H_NS_HOST, made by h_netns_up) and in a private mount
#     namespace held by one process of ours ($E_MNT_PID).  There, tmpfs hides
#     /run (so /run/containerd, /run/docker*, shim sockets, netns files and
#     iptables' lock are private), /dev/shm (podman's locks), /var/lib (the
#     CNI cache, /var/lib/cni, has no other setting) and whichever of
#     /etc/docker, /etc/containerd, /etc/cni, /opt/containerd exist.  Every engine's state is under $E_DIR
#     ($H_TMP/engines); the mounts engines make exist only in that namespace,
#     which dies with its processes: nothing is ever mounted in the root
#     namespace.
#   - dockerd and containerd run with their own configuration files (nothing
#     read from /etc/docker or /etc/containerd); dockerd's iptables rules and
#     bridge live in the private network namespace.  Images are imported,
#     never pulled, and the namespace has no route out.
#   - Containers' cgroups are below $H_CG_ROOT (dockerd's --cgroup-parent,
#     podman's per container): the harness kills and removes them.  On a
#     hybrid host runc also makes the matching cgroup v1 directories,
#     hush-test.<id>/... in each v1 hierarchy; e_cleanup removes those.
#   - Processes are started with h_bg (pids remembered) and stopped by pid:
#     containers first, then dockerd, then containerd; the harness's
#     cgroup.kill of $H_CG_ROOT ends whatever is left (shims, conmon).
#
# A missing or failing engine is h_skip_or_fail: SKIP on a laptop, FAIL with
# CI=true.

E_DOCKER_BIN=/usr/bin/docker
E_DOCKERD_BIN=/usr/sbin/dockerd
E_CONTAINERD_BIN=/usr/bin/containerd
E_RUNC_BIN=/usr/sbin/runc
E_PODMAN_BIN=/usr/bin/podman
E_CONMON_BIN=/usr/bin/conmon
E_COMPOSE_BIN=/usr/bin/docker-compose
E_BUSYBOX_BIN=/bin/busybox
E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

E_INIT_ID=
E_DIR=
E_NS=
E_MNT_PID=
E_DOCKERD_PID=
E_CONTAINERD_PID=
E_PODMAN_SERVICE_PID=
E_DOCKER_UP=
E_PODMAN_UP=

# Cache of the Debian rootfs tarball (survives test runs; `make clean` drops it).
E_IMAGE_CACHE=${E_IMAGE_CACHE:-$OUTPUT/images}
E_DEBIAN_PKGS=curl,python3,ca-certificates

# e_require_bins PATH...: each must be executable, else SKIP/FAIL the test.
e_require_bins() {
	local b
	for b in "$@"; do
		[ -x "$b" ] || h_skip_or_fail "$H_NAME" "needs $b (make deps-test)"
	done
}

# e_wait CMD...: retry CMD every 0.1 s for E_WAIT_S seconds (default 30).
e_wait() {
	local deadline=$(($(h_now_ms) + ${E_WAIT_S:-30} * 1000))
	until "$@" >/dev/null 2>&1; do
		[ "$(h_now_ms)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# e_forget: no engine is up (state of a previous test's shell is not ours).
e_forget() {
	E_DOCKER_UP=''
	E_PODMAN_UP=''
	E_MNT_PID=''
	E_DOCKERD_PID=''
	E_CONTAINERD_PID=''
	E_PODMAN_SERVICE_PID=''
}

# e_init: once per test (after h_init): the network namespace (h_netns_up
# unless E_NS names one that exists), $E_DIR, the private mount namespace,
# and traps that stop the engines before the harness cleans up.
e_init() {
	[ "$E_INIT_ID" = "$H_ID" ] && return 0
	if [ -z "${H_ID:-}" ] || [ -z "${H_TMP:-}" ]; then
		echo "engines.sh: call h_init first" >&2
		exit 2
	fi
	E_INIT_ID=$H_ID
	e_forget
	h_require_tools unshare nsenter tar flock
	trap e_cleanup EXIT
	trap 'e_cleanup; exit 130' INT
	trap 'e_cleanup; exit 143' TERM
	E_NS=${E_NS:-$H_NS_HOST}
	[ -e "/run/netns/$E_NS" ] || h_netns_up
	E_DIR=$H_TMP/engines
	mkdir -p "$E_DIR"
	e_mntns_up
}

# e_mntns_up: one process holds a private mount namespace (in E_NS) in which
# the host's engine state is hidden under tmpfs; engines run inside it.
e_mntns_up() {
	local ready=$E_DIR/mntns.ready
	# shellcheck disable=SC2016 # expanded by the inner shell
	h_bg --err "$E_DIR/mntns.err" --ns "$E_NS" -- unshare --mount --propagation private -- \
		sh -c '
		set -e
		mount -t tmpfs -o mode=0755 engines-run /run
		mkdir -p /run/netns /run/lock
		mount -t tmpfs -o mode=1777 engines-shm /dev/shm
		mount -t tmpfs -o mode=0755 engines-varlib /var/lib
		for d in /etc/docker /etc/containerd /etc/cni /opt/containerd; do
			[ -d "$d" ] && mount -t tmpfs -o mode=0700 engines-hide "$d"
		done
		echo ok >"$1"
		exec sleep infinity' _ "$ready"
	E_MNT_PID=$H_LAST_PID
	h_wait_for_file "$ready" 10 ||
		h_skip_or_fail "$H_NAME" "private mount namespace did not come up: $(cat "$E_DIR/mntns.err")"
}

# e_in CMD...: run CMD in the engines' network and mount namespaces, in the
# harness's aux cgroup (what it starts stays below $H_CG_ROOT).  Entering a
# mount namespace resets the root to the namespace's: --root keeps the
# holder's, so a run in a chroot (CI's fresh root) stays in it.
e_in() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	nsenter "--net=/run/netns/$E_NS" "--mount=/proc/$E_MNT_PID/ns/mnt" "--root=/proc/$E_MNT_PID/root" "--wd=$PWD" -- \
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$H_CG_AUX" "$@"
}

# e_bg [h_bg options] -- CMD...: h_bg, inside the engines' mount namespace.
e_bg() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	h_bg "${opts[@]}" --ns "$E_NS" -- nsenter "--mount=/proc/$E_MNT_PID/ns/mnt" "--root=/proc/$E_MNT_PID/root" "--wd=$PWD" -- "$@"
}

# e_cgroup_parent CG: the --cgroup-parent (cgroupfs driver) for a cgroup of
# ours given as an absolute path under $CG2.
e_cgroup_parent() {
	echo "${1#"$CG2"}"
}

# e_cgroup_of_pid PID: the absolute cgroup2 directory of PID.
e_cgroup_of_pid() {
	local p
	p=$(awk -F: '$1 == "0" { print $3; exit }' "/proc/$1/cgroup" 2>/dev/null)
	[ -n "$p" ] || return 1
	echo "$CG2$p"
}

# ---- docker ----

e_docker() {
	"$E_DOCKER_BIN" "$@"
}

# e_docker_up: containerd and dockerd, both ours (see the header).
e_docker_up() {
	local d cgp
	e_require_bins "$E_DOCKER_BIN" "$E_DOCKERD_BIN" "$E_CONTAINERD_BIN" "$E_RUNC_BIN" \
		/usr/bin/containerd-shim-runc-v2
	h_require_tools iptables
	e_init
	[ -n "$E_DOCKER_UP" ] && return 0
	d=$E_DIR/docker
	mkdir -p "$d/data" "$d/exec" "$d/containerd/root" "$d/containerd/state" "$d/cli"
	cat >"$d/containerd.toml" <<EOF
version = 2
root = "$d/containerd/root"
state = "$d/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/containerd/opt"
EOF
	echo '{}' >"$d/daemon.json"
	echo '{}' >"$d/cli/config.json"
	e_bg --err "$d/containerd.log" -- "$E_CONTAINERD_BIN" --config "$d/containerd.toml" \
		--log-level warn
	E_CONTAINERD_PID=$H_LAST_PID
	E_WAIT_S=20 e_wait test -S "$d/containerd.sock" ||
		h_skip_or_fail "$H_NAME" "containerd did not start: $(tail -n 5 "$d/containerd.log" | tr '\n' ' ')"
	cgp=$(e_cgroup_parent "$(h_cgroup_create docker)")
	E_DOCKER_CG=$CG2$cgp
	e_bg --err "$d/dockerd.log" -- "$E_DOCKERD_BIN" \
		--config-file "$d/daemon.json" --data-root "$d/data" --exec-root "$d/exec" \
		--pidfile "$d/dockerd.pid" -H "unix://$H_TMP/docker.sock" \
		--containerd "$d/containerd.sock" --exec-opt native.cgroupdriver=cgroupfs \
		--cgroup-parent "$cgp" --default-cgroupns-mode host --storage-driver overlay2 \
		--log-level warn
	E_DOCKERD_PID=$H_LAST_PID
	DOCKER_HOST=unix://$H_TMP/docker.sock
	DOCKER_CONFIG=$d/cli
	export DOCKER_HOST DOCKER_CONFIG
	e_wait e_docker version ||
		h_skip_or_fail "$H_NAME" "dockerd did not answer on $DOCKER_HOST: $(tail -n 5 "$d/dockerd.log" | tr '\n' ' ')"
	E_DOCKER_UP=1
	# The default bridge's gateway (docker0's address; the network's IPAM
	# config leaves it empty).
	E_DOCKER_GW=$(ip -n "$E_NS" -4 -o addr show dev docker0 | awk '{ sub("/.*", "", $4); print $4; exit }')
	h_log "dockerd pid $E_DOCKERD_PID, containerd pid $E_CONTAINERD_PID, netns $E_NS, bridge gateway $E_DOCKER_GW, containers under $E_DOCKER_CG"
}

# e_docker_cgroup ID: cgroup2 directory of a running docker container.
e_docker_cgroup() {
	local pid
	pid=$(e_docker inspect -f '{{ .State.Pid }}' "$1" 2>/dev/null) || return 1
	[ "${pid:-0}" -gt 0 ] || return 1
	e_cgroup_of_pid "$pid"
}

# e_compose ARGS: docker-compose (v1) against our dockerd, project e<id>.
e_compose() {
	COMPOSE_PROJECT_NAME=e$H_ID DOCKER_HOST=$DOCKER_HOST "$E_COMPOSE_BIN" "$@"
}

e_require_compose() {
	e_require_bins "$E_COMPOSE_BIN"
}

# ---- podman ----

# e_ulimit n|u [MAX]: "soft:hard" of this shell's limit, at most MAX.
# Rootful podman raises nofile and nproc to its own defaults (1048576), and
# its conmon runs with nproc 32768: without CAP_SYS_RESOURCE (this VM's root
# lacks it) runc then fails with "error setting rlimit type 6/7: operation
# not permitted".  Containers get limits that conmon can hand down instead.
e_ulimit() {
	local s h m=${2:-2147483647}
	s=$(ulimit -S"$1")
	h=$(ulimit -H"$1")
	[ "$s" = unlimited ] && s=$m
	[ "$h" = unlimited ] && h=$m
	[ "$s" -gt "$m" ] && s=$m
	[ "$h" -gt "$m" ] && h=$m
	echo "$s:$h"
}

# e_podman_up: rootful podman with runc and cgroupfs; storage, run state,
# locks, events and CNI networks (config, IPAM, cache) all under $E_DIR.
e_podman_up() {
	local p
	e_require_bins "$E_PODMAN_BIN" "$E_RUNC_BIN" "$E_CONMON_BIN"
	e_init
	[ -n "$E_PODMAN_UP" ] && return 0
	p=$E_DIR/podman
	mkdir -p "$p/root" "$p/run" "$p/tmp" "$p/net" "$p/cni"
	E_PODMAN_CG=$(h_cgroup_create podman)
	cat >"$p/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$p/root"
runroot = "$p/run"
EOF
	cat >"$p/containers.conf" <<EOF
[containers]
netns = "bridge"
default_ulimits = ["nofile=$(e_ulimit n)", "nproc=$(e_ulimit u 32768)"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$p/tmp/events.log"
runtime = "runc"
tmp_dir = "$p/tmp"
static_dir = "$p/root/libpod"
volume_path = "$p/root/volumes"
[engine.runtimes]
runc = ["$E_RUNC_BIN"]
[network]
network_backend = "cni"
network_config_dir = "$p/net"
cni_plugin_dirs = ["/usr/lib/cni"]
EOF
	# The default network, with its IPAM state here instead of /var/lib/cni.
	cat >"$p/net/87-podman.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "podman",
  "plugins": [
    { "type": "bridge", "bridge": "cni-podman0", "isGateway": true, "ipMasq": true,
      "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$p/cni/ipam",
                "routes": [ { "dst": "0.0.0.0/0" } ],
                "ranges": [ [ { "subnet": "10.88.0.0/16", "gateway": "10.88.0.1" } ] ] } },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "firewall" },
    { "type": "tuning" }
  ]
}
EOF
	E_PODMAN_ARGS=(--root "$p/root" --runroot "$p/run" --tmpdir "$p/tmp"
		--runtime "$E_RUNC_BIN" --cgroup-manager cgroupfs --events-backend file
		--network-config-dir "$p/net" --storage-driver overlay)
	E_PODMAN_DIR=$p
	local out
	out=$(e_podman info --format '{{ .Host.OCIRuntime.Path }} {{ .Host.CgroupManager }}' 2>&1) ||
		h_skip_or_fail "$H_NAME" "podman does not run: $out"
	E_PODMAN_UP=1
	E_PODMAN_GW=10.88.0.1
	h_log "podman: $out, netns $E_NS, containers under $E_PODMAN_CG"
}

# e_podman_argv ARGS: E_ARGV is the command line of our podman with ARGS.
# `run` and `create` without --cgroup-parent get $E_PODMAN_CG (podman's
# default, /libpod_parent, is outside ours).
e_podman_argv() {
	local args=("$@")
	if [ $# -gt 0 ] && { [ "$1" = run ] || [ "$1" = create ]; } &&
		! [[ " $* " == *" --cgroup-parent"* ]]; then
		args=("$1" --cgroup-parent "$(e_cgroup_parent "$E_PODMAN_CG")" "${@:2}")
	fi
	# shellcheck disable=SC2016 # expanded by the inner shell
	E_ARGV=(env -u DOCKER_HOST -u DOCKER_CONFIG "CONTAINERS_CONF=$E_PODMAN_DIR/containers.conf"
		"CONTAINERS_STORAGE_CONF=$E_PODMAN_DIR/storage.conf"
		nsenter "--net=/run/netns/$E_NS" "--mount=/proc/$E_MNT_PID/ns/mnt" "--root=/proc/$E_MNT_PID/root" "--wd=$PWD" --
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$H_CG_AUX"
		"$E_PODMAN_BIN" "${E_PODMAN_ARGS[@]}" "${args[@]}")
}

# e_podman ARGS: our podman (see e_podman_argv).
e_podman() {
	e_podman_argv "$@"
	"${E_ARGV[@]}"
}

# e_podman_cgroup ID: cgroup2 directory of a running podman container.
e_podman_cgroup() {
	local pid
	pid=$(e_podman inspect -f '{{ .State.Pid }}' "$1" 2>/dev/null) || return 1
	[ "${pid:-0}" -gt 0 ] || return 1
	e_cgroup_of_pid "$pid"
}

# e_podman_service_up: the Docker-compatible API on $H_TMP/podman.sock
# (E_PODMAN_HOST is its unix:// address).
e_podman_service_up() {
	e_podman_up
	E_PODMAN_HOST=unix://$H_TMP/podman.sock
	e_bg --err "$E_PODMAN_DIR/service.log" -- env -u DOCKER_HOST -u DOCKER_CONFIG \
		"CONTAINERS_CONF=$E_PODMAN_DIR/containers.conf" \
		"CONTAINERS_STORAGE_CONF=$E_PODMAN_DIR/storage.conf" \
		"$E_PODMAN_BIN" "${E_PODMAN_ARGS[@]}" system service --time 0 "$E_PODMAN_HOST"
	E_PODMAN_SERVICE_PID=$H_LAST_PID
	e_wait env DOCKER_HOST="$E_PODMAN_HOST" "$E_DOCKER_BIN" version ||
		h_skip_or_fail "$H_NAME" "podman system service did not answer: $(tail -n 5 "$E_PODMAN_DIR/service.log" | tr '\n' ' ')"
}

# ---- images (offline: imported, never pulled) ----

# e_import TAR NAME ENGINE...: import a rootfs tarball as image NAME.
e_import() {
	local tar=$1 name=$2 eng out
	shift 2
	[ $# -gt 0 ] || set -- docker
	for eng in "$@"; do
		case $eng in
		docker) out=$(e_docker import -c 'CMD ["/bin/sh"]' - "$name" <"$tar" 2>&1) ;;
		podman) out=$(e_podman import -c 'CMD ["/bin/sh"]' - "$name" <"$tar" 2>&1) ;;
		*) out="unknown engine $eng" && false ;;
		esac || {
			h_fail "$H_NAME: image $name" "$eng import failed: $out"
			return 1
		}
	done
}

# e_image_busybox NAME [ENGINE...]: busybox-static FROM scratch (applets as
# symlinks, /etc/passwd and /etc/group for root and nobody).
e_image_busybox() {
	local name=$1 r=$E_DIR/busybox-root tar=$E_DIR/busybox.tar a
	shift
	e_require_bins "$E_BUSYBOX_BIN"
	if [ ! -s "$tar" ]; then
		rm -rf "$r"
		mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/proc" "$r/sys" "$r/dev" "$r/root"
		chmod 1777 "$r/tmp"
		cp "$E_BUSYBOX_BIN" "$r/bin/busybox"
		for a in $("$E_BUSYBOX_BIN" --list); do
			[ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
		done
		printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
			>"$r/etc/passwd"
		printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
		if ! tar -C "$r" --numeric-owner -cf "$tar.tmp" . || ! mv "$tar.tmp" "$tar"; then
			h_fail "$H_NAME: image $name" "cannot build $tar"
			return 1
		fi
	fi
	e_import "$tar" "$name" "$@"
}

# e_debian_tar: the cached Debian 12 rootfs tarball (mmdebstrap minbase with
# $E_DEBIAN_PKGS from this machine's apt sources), built when missing; one
# builder at a time (flock).  Prints its path.
e_debian_tar() {
	local tar=$E_IMAGE_CACHE/debian-bookworm-minbase-${E_DEBIAN_PKGS//,/-}.tar
	mkdir -p "$E_IMAGE_CACHE" || return 1
	(
		flock 9
		[ -s "$tar" ] && exit 0
		rm -f "$tar.tmp.tar"
		# shellcheck disable=SC2086 # E_DEBIAN_PKGS: a list, split on commas
		"$E_LIB_DIR/freshroot.sh" tar "$tar.tmp.tar" ${E_DEBIAN_PKGS//,/ } >&2 &&
			mv "$tar.tmp.tar" "$tar"
	) 9>"$E_IMAGE_CACHE/.lock" || return 1
	echo "$tar"
}

# e_image_debian NAME [ENGINE...]: Debian 12 with curl, python3 and
# ca-certificates (minbase), from the cache under $E_IMAGE_CACHE.
e_image_debian() {
	local name=$1 tar
	shift
	tar=$(e_debian_tar 2>"$E_DIR/mmdebstrap.log") || {
		h_skip_or_fail "$H_NAME" "cannot build the Debian image: $(tail -n 5 "$E_DIR/mmdebstrap.log" | tr '\n' ' ')"
	}
	e_import "$tar" "$name" "$@"
}

# ---- cleanup ----

# e_stop PID [TIMEOUT_S]: TERM a process of ours, KILL it after the timeout.
e_stop() {
	local pid=$1 deadline=$(($(h_now_ms) + ${2:-10} * 1000))
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	while h_alive "$pid"; do
		if [ "$(h_now_ms)" -ge "$deadline" ]; then
			kill -KILL "$pid" 2>/dev/null
			break
		fi
		sleep 0.05
	done
	wait "$pid" 2>/dev/null
	return 0
}

# e_cleanup: containers, then daemons (by pid), then the harness's cleanup
# (cgroup.kill of $H_CG_ROOT, netns, files), then our cgroup v1 directories.
# Idempotent.
e_cleanup() {
	local ids m t0
	set +e
	t0=$(h_now_ms)
	if [ -n "$E_INIT_ID" ] && [ "$E_INIT_ID" = "${H_ID:-}" ]; then
		if [ -n "$E_PODMAN_UP" ] && [ -n "$E_MNT_PID" ] && h_alive "$E_MNT_PID"; then
			e_podman_argv rm -af -t 0
			timeout 30 "${E_ARGV[@]}" >/dev/null 2>&1
		fi
		e_stop "$E_PODMAN_SERVICE_PID" 10
		if [ -n "$E_DOCKER_UP" ] && h_alive "$E_DOCKERD_PID"; then
			ids=$(timeout 10 "$E_DOCKER_BIN" ps -aq 2>/dev/null)
			# shellcheck disable=SC2086 # one id per word
			[ -n "$ids" ] && timeout 30 "$E_DOCKER_BIN" rm -f $ids >/dev/null 2>&1
		fi
		e_stop "$E_DOCKERD_PID" 20
		e_stop "$E_CONTAINERD_PID" 10
		e_stop "$E_MNT_PID" 5
		e_forget
		h_log "engines: stopped in $(($(h_now_ms) - t0)) ms"
	fi
	h_cleanup
	# runc's cgroup v1 directories (hybrid hosts): only hush-test.<id> trees.
	if [ -n "${H_ID:-}" ]; then
		while read -r m; do
			[ -d "$m/hush-test.$H_ID" ] &&
				find "$m/hush-test.$H_ID" -depth -type d -exec rmdir {} \; 2>/dev/null
		done < <(awk '$3 == "cgroup" { print $2 }' /proc/mounts)
	fi
	return 0
}

# ---- restarts (t_containers) ----

# e_dockerd_restart: stop our dockerd (its containers first) and start it
# again with the same state and options; containerd keeps running.
e_dockerd_restart() {
	local d=$E_DIR/docker ids
	[ -n "$E_DOCKER_UP" ] || return 1
	ids=$(timeout 10 "$E_DOCKER_BIN" ps -aq 2>/dev/null)
	# shellcheck disable=SC2086 # one id per word
	[ -n "$ids" ] && timeout 30 "$E_DOCKER_BIN" rm -f $ids >/dev/null 2>&1
	e_stop "$E_DOCKERD_PID" 20
	e_bg --err "$d/dockerd.log" -- "$E_DOCKERD_BIN" \
		--config-file "$d/daemon.json" --data-root "$d/data" --exec-root "$d/exec" \
		--pidfile "$d/dockerd.pid" -H "unix://$H_TMP/docker.sock" \
		--containerd "$d/containerd.sock" --exec-opt native.cgroupdriver=cgroupfs \
		--cgroup-parent "$(e_cgroup_parent "$E_DOCKER_CG")" --default-cgroupns-mode host \
		--storage-driver overlay2 --log-level warn
	E_DOCKERD_PID=$H_LAST_PID
	e_wait e_docker version
}

# ---- the hushd image (tests/pkg/t_container.sh) ----

# e_image_hushd NAME DEB [ENGINE...]: the image `make image` builds: a minbase
# Debian 12 rootfs with DEB installed (packaging/container/build-rootfs.sh),
# imported with hushd --foreground as its entry point.
e_image_hushd() {
	local name=$1 deb=$2 tar=$E_DIR/hushd-rootfs.tar out
	shift 2
	if [ ! -s "$tar" ]; then
		"$E_LIB_DIR/../../packaging/container/build-rootfs.sh" "$deb" "$tar" >"$E_DIR/hushd-rootfs.log" 2>&1 || {
			h_fail "$H_NAME: image $name" "build-rootfs.sh: $(tail -n 5 "$E_DIR/hushd-rootfs.log" | tr '\n' ' ')"
			return 1
		}
	fi
	out=$(e_docker import -c 'ENTRYPOINT ["/usr/sbin/hushd", "--foreground"]' \
		-c 'CMD ["--policy", "/etc/hush/policy"]' - "$name" <"$tar" 2>&1) || {
		h_fail "$H_NAME: image $name" "docker import failed: $out"
		return 1
	}
}

# ---- containerd with its CRI plugin (t_cri) ----
#
#   e_cri_up               a second containerd, ours, with the CRI plugin
#                          (io.containerd.grpc.v1.cri) enabled: state under
#                          $E_DIR/cri, socket $E_CRI_SOCK, in E_NS and the
#                          private mount namespace like the others.  No CNI:
#                          pods use the host network (hostNetwork: true), which
#                          is the test's private namespace.  The sandbox
#                          ("pause") image is $E_CRI_PAUSE, imported from a
#                          busybox-static OCI layout whose entry point sleeps;
#                          $E_CRI_IMAGE is the same rootfs with sh as CMD.
#                          Nothing is pulled: the registry has no mirror and
#                          the namespace no route out.
#   e_cri ARGS             tests/tools/cri_pod on that socket (our CRI client)
#   e_cri_ctr ARGS         ctr -n k8s.io on that socket
#   e_cri_restart          stop containerd (TERM; its shims and containers
#                          keep running, as on a real node) and start it again
E_CRI_PAUSE=localhost/hush-pause:1
E_CRI_IMAGE=localhost/hush-bb:1
E_CRI_SOCK=
E_CRI_PID=
E_CRI_CG=

# e_oci_busybox TAR: an OCI image layout (tar) of the busybox-static rootfs
# with two images: $E_CRI_PAUSE (entry point: sleep) and $E_CRI_IMAGE (CMD sh).
e_oci_busybox() {
	local tar=$1 o=$E_DIR/oci r=$E_DIR/busybox-root arch layer lsum lsize i name ep
	local msums=() msizes=()
	arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
	# the rootfs (e_image_busybox's, built without an engine)
	if [ ! -d "$r/bin" ]; then
		mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/proc" "$r/sys" "$r/dev" "$r/root" || return 1
		chmod 1777 "$r/tmp"
		cp "$E_BUSYBOX_BIN" "$r/bin/busybox" || return 1
		for i in $("$E_BUSYBOX_BIN" --list); do
			[ "$i" = busybox ] || ln -s busybox "$r/bin/$i"
		done
		printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
		printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
	fi
	rm -rf "$o"
	mkdir -p "$o/blobs/sha256" || return 1
	layer=$o/layer.tar
	tar -C "$r" --numeric-owner --sort=name --mtime=@0 -cf "$layer" . || return 1
	lsum=$(sha256sum "$layer" | cut -d' ' -f1)
	lsize=$(stat -c %s "$layer")
	mv "$layer" "$o/blobs/sha256/$lsum"
	for i in 0 1; do
		if [ "$i" = 0 ]; then
			name=$E_CRI_PAUSE ep='"Entrypoint":["/bin/sleep","2147483647"]'
		else
			name=$E_CRI_IMAGE ep='"Cmd":["/bin/sh"]'
		fi
		printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/bin"],%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
			"$arch" "$ep" "$lsum" >"$o/c.json"
		local csum csize
		csum=$(sha256sum "$o/c.json" | cut -d' ' -f1)
		csize=$(stat -c %s "$o/c.json")
		mv "$o/c.json" "$o/blobs/sha256/$csum"
		printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
			"$csum" "$csize" "$lsum" "$lsize" >"$o/m.json"
		msums[i]=$(sha256sum "$o/m.json" | cut -d' ' -f1)
		msizes[i]=$(stat -c %s "$o/m.json")
		mv "$o/m.json" "$o/blobs/sha256/${msums[i]}"
	done
	printf '{"imageLayoutVersion":"1.0.0"}' >"$o/oci-layout"
	printf '{"schemaVersion":2,"manifests":[' >"$o/index.json"
	for i in 0 1; do
		if [ "$i" = 0 ]; then name=$E_CRI_PAUSE; else name=$E_CRI_IMAGE; fi
		[ "$i" = 1 ] && printf ',' >>"$o/index.json"
		printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}' \
			"${msums[i]}" "${msizes[i]}" "$arch" "$name" "${name##*:}" >>"$o/index.json"
	done
	printf ']}' >>"$o/index.json"
	tar -C "$o" -cf "$tar" oci-layout index.json blobs
}

e_cri() {
	"$OUTPUT/tests/cri_pod" "$E_CRI_SOCK" "$@"
}

e_cri_ctr() {
	e_in ctr --address "$E_CRI_SOCK" -n k8s.io "$@"
}

# e_cri_start: containerd with $E_DIR/cri/containerd.toml; wait for the CRI.
e_cri_start() {
	local d=$E_DIR/cri
	e_bg --err "$d/containerd.log" -- "$E_CONTAINERD_BIN" --config "$d/containerd.toml" \
		--log-level warn
	E_CRI_PID=$H_LAST_PID
	E_WAIT_S=20 e_wait test -S "$E_CRI_SOCK" &&
		E_WAIT_S=20 e_wait e_cri version
}

e_cri_up() {
	local d
	e_require_bins "$E_CONTAINERD_BIN" "$E_RUNC_BIN" /usr/bin/containerd-shim-runc-v2 \
		"$E_BUSYBOX_BIN" "$OUTPUT/tests/cri_pod"
	e_init
	[ -n "$E_CRI_PID" ] && h_alive "$E_CRI_PID" && return 0
	trap 'e_cri_cleanup; e_cleanup' EXIT
	trap 'e_cri_cleanup; e_cleanup; exit 130' INT
	trap 'e_cri_cleanup; e_cleanup; exit 143' TERM
	d=$E_DIR/cri
	mkdir -p "$d/root" "$d/state" "$d/opt" "$d/cni/bin" "$d/cni/conf" "$d/pods"
	E_CRI_SOCK=$d/containerd.sock
	E_CRI_CG=$(h_cgroup_create cri)
	# apparmor off: its profile would need apparmor_parser and the host's
	# policy; no CNI (bin and conf directories of ours, empty).
	cat >"$d/containerd.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
[grpc]
  address = "$E_CRI_SOCK"
[ttrpc]
  address = "$E_CRI_SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$E_CRI_PAUSE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$d/cni/bin"
    conf_dir = "$d/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$E_RUNC_BIN"
        SystemdCgroup = false
EOF
	e_cri_start || h_skip_or_fail "$H_NAME" "containerd with CRI did not answer CRI Version: $(e_cri version 2>&1) $(tail -n 5 "$d/containerd.log" | tr '\n' ' ')"
	e_oci_busybox "$d/busybox-oci.tar" ||
		h_skip_or_fail "$H_NAME" "cannot build the busybox OCI layout"
	local out
	out=$(e_cri_ctr images import "$d/busybox-oci.tar" 2>&1) ||
		h_skip_or_fail "$H_NAME" "ctr images import: $out"
	h_log "containerd+CRI pid $E_CRI_PID: $(e_cri version), images: $(e_cri_ctr images ls -q | tr '\n' ' ')"
}

e_cri_restart() {
	e_stop "$E_CRI_PID" 10
	e_cri_start
}

# e_cri_cleanup: the pods (their shims are below $H_CG_ROOT, killed with it
# anyway), then containerd.  The tests call it before e_cleanup runs.
e_cri_cleanup() {
	local id
	if [ -n "$E_CRI_PID" ] && h_alive "$E_CRI_PID"; then
		for id in $(e_cri list 2>/dev/null | awk '$1 == "pod" { print $2 }'); do
			timeout 30 "$OUTPUT/tests/cri_pod" "$E_CRI_SOCK" down "$id" >/dev/null 2>&1
		done
	fi
	e_stop "$E_CRI_PID" 10
	E_CRI_PID=
}
