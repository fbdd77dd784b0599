# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# shellcheck shell=bash
# Helpers of the package tests (tests/pkg/t_*.sh), sourced after harness.sh.
#
# A fresh Debian 12 root per test (tests/lib/freshroot.sh), removed at exit.
# Every command in it runs with a bpffs of its own mounted on /sys/fs/bpf: a
# maintainer script there (prerm's `hush disable`) can never see the host's
# pins, only the test's.

SRC=${HUSH_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
FRESHROOT=$SRC/tests/lib/freshroot.sh
P_ROOT=

# p_init NAME: h_init, and the fresh root removed at exit too.
p_init() {
	h_init "$1"
	trap 'p_root_remove; h_cleanup' EXIT
	trap 'p_root_remove; h_cleanup; exit 130' INT
	trap 'p_root_remove; h_cleanup; exit 143' TERM
	command -v mmdebstrap >/dev/null || h_skip_or_fail "$H_NAME" "mmdebstrap is missing (make deps-test)"
}

# p_root_make: a fresh minbase root (from the machine's apt sources).
p_root_make() {
	P_ROOT=$(mktemp -d /var/tmp/hush-pkgtest.XXXXXX) && rmdir "$P_ROOT" || return 1
	"$FRESHROOT" make "$P_ROOT" >"$H_TMP/freshroot.log" 2>&1 || {
		h_fail "$H_NAME: fresh root" "$(tail -n 5 "$H_TMP/freshroot.log")"
		return 1
	}
}

p_root_remove() {
	[ -z "$P_ROOT" ] || "$FRESHROOT" remove "$P_ROOT" || true
	P_ROOT=
}

# p_run SCRIPT: shell commands (one string) run as root in the fresh root,
# with a private bpffs on /sys/fs/bpf.  Output as the commands print it.
p_run() {
	printf 'set -e\n%s\n' "$1" >"$P_ROOT/tmp/p_run.sh"
	"$FRESHROOT" run "$P_ROOT" /bin/sh -c 'mount -t bpf bpf /sys/fs/bpf && exec /bin/sh /tmp/p_run.sh'
}

# p_deb: the .deb `make deb` built (path), or fail.
p_deb() {
	local d
	d=$(find "$OUTPUT/deb" -maxdepth 1 -name 'hush_*.deb' 2>/dev/null | head -n 1)
	[ -n "$d" ] || h_skip_or_fail "$H_NAME" "no .deb in $OUTPUT/deb: run make deb first"
	echo "$d"
}

# ---- a root that boots systemd (t_systemd.sh) ----

SD_PID=
SD_CG=

# p_systemd_root: P_ROOT, a Debian 12 root with systemd, iproute2,
# dnsmasq-base and the .deb's dependencies, from a tarball cached in
# $HUSH_PKG_CACHE (default /var/cache/hush-test) for a week, keyed by the
# package list; made with freshroot.sh when missing.
p_systemd_root() {
	local cache=${HUSH_PKG_CACHE:-/var/cache/hush-test} pkgs key tar
	pkgs="systemd iproute2 dnsmasq-base $(dpkg-deb -f "$(p_deb)" Depends |
		tr ',' '\n' | sed 's/[(|].*//; s/[[:space:]]//g; /^\$/d' | sort -u | tr '\n' ' ')"
	key=$(echo "$pkgs" | sha1sum | cut -c1-12)
	tar=$cache/systemd-root-$key.tar
	mkdir -p "$cache" || return 1
	if [ -z "$(find "$tar" -mtime -7 2>/dev/null)" ]; then
		# shellcheck disable=SC2086 # one word per package
		if ! "$FRESHROOT" tar "$tar.tmp.tar" $pkgs >"$H_TMP/freshroot.log" 2>&1 ||
			! mv "$tar.tmp.tar" "$tar"; then
			rm -f "$tar.tmp.tar"
			h_fail "$H_NAME: the systemd root" "$(tail -n 5 "$H_TMP/freshroot.log")"
			return 1
		fi
	fi
	if ! P_ROOT=$(mktemp -d /var/tmp/hush-pkgtest.XXXXXX) || ! tar -xf "$tar" -C "$P_ROOT" ||
		! touch "$P_ROOT/.hush-freshroot"; then
		h_fail "$H_NAME: the systemd root" "cannot unpack $tar into $P_ROOT"
		return 1
	fi
}

# What PID 1 of the container runs first: P_ROOT ($1) becomes the root of
# the private mount namespace, with proc, a read-only sysfs (of the private
# network namespace), cgroup2 (the cgroup namespace's root: the test's
# cgroup), a bpffs of its own, a /dev of its own (nodes made here, never the
# host's bound: systemd chowns /dev/console to root:tty 0620, which done to
# a bound /dev/null broke the host's), tmpfs /run and /tmp; then
# systemd replaces it (container=hush-test: systemd knows it is in one).
# shellcheck disable=SC2016 # expanded by the inner shell
SD_INNER='set -e
r=$1
mount --bind "$r" "$r"
mount -t proc proc "$r/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$r/sys"
mount -t cgroup2 cgroup2 "$r/sys/fs/cgroup"
mount -t bpf bpf "$r/sys/fs/bpf"
mount -t tmpfs -o mode=0755,nosuid tmpfs "$r/dev"
mknod -m 0666 "$r/dev/null" c 1 3
mknod -m 0666 "$r/dev/zero" c 1 5
mknod -m 0666 "$r/dev/full" c 1 7
mknod -m 0666 "$r/dev/random" c 1 8
mknod -m 0666 "$r/dev/urandom" c 1 9
mknod -m 0666 "$r/dev/tty" c 5 0
: >"$r/dev/console"
mkdir -p "$r/dev/pts" "$r/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$r/dev/pts"
ln -s pts/ptmx "$r/dev/ptmx"
mount -t tmpfs -o mode=1777 tmpfs "$r/dev/shm"
mount -t tmpfs -o mode=0755 tmpfs "$r/run"
mount -t tmpfs -o mode=1777 tmpfs "$r/tmp"
cd "$r"
mkdir -p .old
pivot_root . .old
cd /
umount -l /.old
rmdir /.old
exec /usr/bin/env -i container=hush-test PATH=/usr/sbin:/usr/bin:/sbin:/bin /lib/systemd/systemd'

# sd_boot: systemd as PID 1 of fresh namespaces in the cgroup SD_CG (made
# here, with SD_CG/hushtest for the test's enforcement and SD_CG/admin for
# commands that must run in the container's cgroups), until booted.
# SD_PID: its pid here.  Its end: h_cleanup kills the test's cgroups.
sd_boot() {
	local u state
	if ! SD_CG=$(h_cgroup_create sd) || ! mkdir "$SD_CG/hushtest" "$SD_CG/admin"; then
		h_fail "$H_NAME: boot" "cannot create the container's cgroup"
		return 1
	fi
	# shellcheck disable=SC2016 # expanded by sh
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$SD_CG" \
		unshare --cgroup --pid --fork --mount --net --uts --ipc --propagation private \
		/bin/sh -c "$SD_INNER" _ "$P_ROOT" >"$H_TMP/boot.log" 2>&1 </dev/null &
	u=$!
	H_PIDS+=("$u")
	for _ in $(seq 1 100); do
		SD_PID=$(awk '{ print $1 }' "/proc/$u/task/$u/children" 2>/dev/null)
		[ -n "$SD_PID" ] && [ "$(cat "/proc/$SD_PID/comm" 2>/dev/null)" = systemd ] && break
		SD_PID=
		sleep 0.1
	done
	# (Its bus comes up a moment after it starts.)
	for _ in $(seq 1 100); do
		[ -n "$SD_PID" ] && [ -e "/proc/$SD_PID/root/run/systemd/private" ] && break
		sleep 0.1
	done
	state=$([ -n "$SD_PID" ] && timeout 120 nsenter -t "$SD_PID" -a systemctl is-system-running --wait 2>&1)
	case $state in
	running | degraded) return 0 ;;
	esac
	h_fail "$H_NAME: systemd boots as PID 1" "state '$state'; $(tail -n 5 "$H_TMP/boot.log")$([ -z "$SD_PID" ] || sd_journal "")"
	return 1
}

# sd CMD...: CMD in the container's namespaces (not in its cgroups).
SD_ENV=(/usr/bin/env -i LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
sd() {
	nsenter -t "$SD_PID" -a "${SD_ENV[@]}" "$@"
}

# sd_in CGROUP CMD...: the same, in the container's cgroup /sys/fs/cgroup/CGROUP
# (hushtest: enforced; admin: not).
sd_in() {
	local cg=$SD_CG/$1
	shift
	# shellcheck disable=SC2016 # expanded by sh
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$cg" \
		nsenter -t "$SD_PID" -a "${SD_ENV[@]}" "$@"
}

# sd_journal UNIT...: the last lines of the container's journal (of UNITs;
# "": all of it).
sd_journal() {
	local a=() u
	for u in "$@"; do [ -z "$u" ] || a+=(-u "$u"); done
	sd journalctl -q --no-pager -n 15 "${a[@]}" 2>&1 | tr '\n' '|'
}
